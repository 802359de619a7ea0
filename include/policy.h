/*
 * Model policy: which models an app may call, with tier rules inherited and
 * narrowed by the app's own (an app's allow list narrows its tier's; deny
 * lists add up; the app's aliases and max_output_tokens override the
 * tier's).  Pure logic over a config generation.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct cfg_app;
struct cfg_model;

enum policy_result {
	POLICY_OK = 0,
	POLICY_UNKNOWN_MODEL,	/* not in models.json */
	POLICY_DENIED		/* an allow/deny rule refuses it */
};

/* Glob match with '*' and '?' (fnmatch(3) without flags). */
int	 policy_glob(const char *pattern, const char *name);

/*
 * Resolve the requested model name for app: alias first (app's, then
 * tier's), then the price table, then allow/deny.  On POLICY_OK sets *model
 * (borrowed).  *resolved always points to the name after aliasing
 * (borrowed, from requested or from cfg).
 */
enum policy_result policy_resolve(const struct cfg *, const struct cfg_app *,
		    const char *requested, const char **resolved,
		    const struct cfg_model **model);

/* May app use model name (allow/deny only)? */
int	 policy_allowed(const struct cfg_app *, const char *name);

/* Output-token cap for app: app's, else tier's; 0 when none. */
int64_t	 policy_max_output_tokens(const struct cfg_app *);

/*
 * Downgrade rule for model name when the app's budget is used_ratio spent
 * (e.g. 0.85): among the rules whose "from" is name and whose when_used is
 * at most used_ratio, the one with the highest when_used wins; the app's
 * rules first, then its tier's.  Returns its "to" (borrowed) or NULL.
 */
const char *policy_downgrade(const struct cfg_app *, const char *name,
		    double used_ratio);

/*
 * Names of the priced models app may use, sorted (for GET /v1/models and
 * for the 403 message).  Returns a newly allocated array of borrowed
 * strings; caller frees the array only.
 */
const char **policy_allowed_models(const struct cfg *, const struct cfg_app *,
		    size_t *n);

#endif
