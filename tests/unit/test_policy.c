/*
 * policy: globs, allow/deny with tier narrowing, aliases, output caps,
 * downgrades, the allowed-model list.  Uses tests/fixtures/cfg/basic:
 *
 *	tier sandbox: allow *-mini *haiku*, deny *-preview,
 *		      alias default=gpt-4o-mini fast=claude-haiku-4-5, cap 1000
 *	tier pilot:   deny o?-*, alias default=gpt-4o smart=claude-sonnet-4-5
 *	app sandboxed (sandbox): allow gpt-* claude-*, deny claude-*
 *	app piloted (pilot):     deny claude-sonnet-*, alias default=o4-mini
 *	app prod (production):   cap 2048, downgrades for gpt-4o
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "policy.h"
#include "tap.h"
#include "util.h"
#include "xmalloc.h"

static const struct {
	const char	*pattern;
	const char	*name;
	int		 match;
} globs[] = {
	{ "*", "gpt-4o", 1 },
	{ "*", "", 1 },
	{ "gpt-*", "gpt-4o", 1 },
	{ "gpt-*", "gpt-", 1 },
	{ "gpt-*", "gpt", 0 },
	{ "gpt-?o", "gpt-4o", 1 },
	{ "gpt-?o", "gpt-40o", 0 },
	{ "*-mini", "gpt-4o-mini", 1 },
	{ "*-mini", "gpt-4o-mini-preview", 0 },
	{ "*haiku*", "claude-haiku-4-5", 1 },
	{ "a*b*c", "aXXbYYc", 1 },
	{ "a*b*c", "aXXbYY", 0 },
	{ "gpt-4o", "gpt-4o", 1 },
	{ "gpt-4o", "gpt-4o-mini", 0 },
	{ "gpt-4o", "GPT-4o", 0 },
	{ "*", "org/model", 1 },
	{ "[go]*", "o4-mini", 1 },
	{ "", "x", 0 },
};

static const struct {
	const char		*app;
	const char		*requested;
	enum policy_result	 want;
	const char		*resolved;
} resolve[] = {
	{ "sandboxed", "gpt-4o-mini", POLICY_OK, "gpt-4o-mini" },
	{ "sandboxed", "gpt-4o", POLICY_DENIED, "gpt-4o" },
	{ "sandboxed", "gpt-4o-mini-preview", POLICY_DENIED,
	    "gpt-4o-mini-preview" },
	{ "sandboxed", "o4-mini", POLICY_DENIED, "o4-mini" },
	{ "sandboxed", "claude-haiku-4-5", POLICY_DENIED, "claude-haiku-4-5" },
	{ "sandboxed", "default", POLICY_OK, "gpt-4o-mini" },
	{ "sandboxed", "fast", POLICY_DENIED, "claude-haiku-4-5" },
	{ "sandboxed", "gpt-5-mini", POLICY_UNKNOWN_MODEL, "gpt-5-mini" },
	{ "piloted", "gpt-4o", POLICY_OK, "gpt-4o" },
	{ "piloted", "claude-haiku-4-5", POLICY_OK, "claude-haiku-4-5" },
	{ "piloted", "claude-sonnet-4-5", POLICY_DENIED, "claude-sonnet-4-5" },
	{ "piloted", "o4-mini", POLICY_DENIED, "o4-mini" },
	{ "piloted", "default", POLICY_DENIED, "o4-mini" },
	{ "piloted", "smart", POLICY_DENIED, "claude-sonnet-4-5" },
	{ "piloted", "gpt-5", POLICY_UNKNOWN_MODEL, "gpt-5" },
	{ "prod", "o4-mini", POLICY_OK, "o4-mini" },
	{ "prod", "claude-sonnet-4-5", POLICY_OK, "claude-sonnet-4-5" },
	{ "prod", "default", POLICY_UNKNOWN_MODEL, "default" },
	{ "prod", "", POLICY_UNKNOWN_MODEL, "" },
};

static const struct {
	const char	*app;
	const char	*list;
} allowed[] = {
	{ "sandboxed", "gpt-4o-mini" },
	{ "piloted", "claude-haiku-4-5 gpt-4o gpt-4o-mini gpt-4o-mini-preview "
	    "text-embedding-3-small" },
	{ "prod", "claude-haiku-4-5 claude-sonnet-4-5 gpt-4o gpt-4o-mini "
	    "gpt-4o-mini-preview o4-mini text-embedding-3-small" },
};

static const struct {
	const char	*name;
	double		 used;
	const char	*to;
} downgrade[] = {
	{ "gpt-4o", 0.0, NULL },
	{ "gpt-4o", 0.79, NULL },
	{ "gpt-4o", 0.8, "gpt-4o-mini" },
	{ "gpt-4o", 0.9, "gpt-4o-mini" },
	{ "gpt-4o", 0.95, "text-embedding-3-small" },
	{ "gpt-4o", 1.5, "text-embedding-3-small" },
	{ "gpt-4o-mini", 0.99, NULL },
};

int
main(void)
{
	const struct cfg_model	*model;
	struct cfg_app		*app;
	struct cfg		*cfg;
	const char		*top, *resolved, **names;
	char			*path, **errors, buf[512];
	size_t			 nerrors, i, j, n, off;
	enum policy_result	 r;

	for (i = 0; i < nitems(globs); i++)
		is_int(policy_glob(globs[i].pattern, globs[i].name),
		    globs[i].match, "glob \"%s\" ~ \"%s\"", globs[i].pattern,
		    globs[i].name);

	if ((top = getenv("top_srcdir")) == NULL)
		top = ".";
	xasprintf(&path, "%s/tests/fixtures/cfg/basic/tollgate.json", top);
	cfg = cfg_load(path, &errors, &nerrors);
	free(path);
	for (i = 0; i < nerrors; i++)
		printf("# %s\n", errors[i]);
	cfg_errors_free(errors, nerrors);
	ok(cfg != NULL, "fixture config loads");
	if (cfg == NULL)
		return (tap_done());

	for (i = 0; i < nitems(resolve); i++) {
		app = cfg_find_app(cfg, resolve[i].app);
		model = (const struct cfg_model *)1;
		resolved = NULL;
		r = policy_resolve(cfg, app, resolve[i].requested, &resolved,
		    &model);
		is_int(r, resolve[i].want, "resolve %s %s", resolve[i].app,
		    resolve[i].requested);
		is_str(resolved, resolve[i].resolved, "resolve %s %s: name",
		    resolve[i].app, resolve[i].requested);
		if (r == POLICY_OK)
			ok(model != NULL && strcmp(model->name, resolved) == 0,
			    "resolve %s %s: model", resolve[i].app,
			    resolve[i].requested);
		else
			ok(model == NULL, "resolve %s %s: no model",
			    resolve[i].app, resolve[i].requested);
	}

	for (i = 0; i < nitems(allowed); i++) {
		app = cfg_find_app(cfg, allowed[i].app);
		names = policy_allowed_models(cfg, app, &n);
		buf[0] = '\0';
		for (j = 0, off = 0; j < n && off < sizeof buf; j++)
			off += (size_t)snprintf(buf + off, sizeof buf - off,
			    "%s%s", j > 0 ? " " : "", names[j]);
		is_str(buf, allowed[i].list, "allowed models of %s",
		    allowed[i].app);
		free(names);
	}

	is_int(policy_max_output_tokens(cfg_find_app(cfg, "sandboxed")), 1000,
	    "max_output_tokens from the tier");
	is_int(policy_max_output_tokens(cfg_find_app(cfg, "piloted")), 0,
	    "no max_output_tokens");
	is_int(policy_max_output_tokens(cfg_find_app(cfg, "prod")), 2048,
	    "max_output_tokens of the app");

	app = cfg_find_app(cfg, "prod");
	for (i = 0; i < nitems(downgrade); i++)
		is_str(policy_downgrade(app, downgrade[i].name,
		    downgrade[i].used), downgrade[i].to, "downgrade %s at %.2f",
		    downgrade[i].name, downgrade[i].used);
	is_str(policy_downgrade(cfg_find_app(cfg, "piloted"), "gpt-4o", 1.0),
	    NULL, "no downgrade rules");

	/* An app's allow list narrows, it cannot widen the tier's. */
	app = cfg_find_app(cfg, "sandboxed");
	ok(!policy_allowed(app, "gpt-4o"), "app allow gpt-* does not widen "
	    "tier allow *-mini");

	cfg_unref(cfg);
	return (tap_done());
}
