/*
 * Model policy.
 *
 * An app inherits its tier's model rules and narrows them with its own:
 *
 *	allowed(name) = (tier has no allow list  or  a tier glob matches)
 *		    and (app has no allow list   or  an app glob matches)
 *		    and no tier or app deny glob matches
 *
 * Aliases are looked up in the app's table, then the tier's, one level
 * only (an alias never resolves to another alias).  A name that is not in
 * models.json is refused before allow/deny is looked at: tollgate never
 * meters a call at $0 because its price is unknown.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "policy.h"
#include "xmalloc.h"

int
policy_glob(const char *pattern, const char *name)
{
	return (fnmatch(pattern, name, 0) == 0);
}

static int
policy_any(char *const *globs, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (policy_glob(globs[i], name))
			return (1);
	}
	return (0);
}

static const char *
policy_alias(const struct cfg_model_rules *r, const char *name)
{
	size_t	i;

	for (i = 0; i < r->nalias; i++) {
		if (strcmp(r->alias[i].from, name) == 0)
			return (r->alias[i].to);
	}
	return (NULL);
}

int
policy_allowed(const struct cfg_app *app, const char *name)
{
	const struct cfg_model_rules	*t = NULL, *a = &app->models;

	if (app->tier != NULL)
		t = &app->tier->models;
	if (t != NULL && t->nallow > 0 && !policy_any(t->allow, t->nallow,
	    name))
		return (0);
	if (a->nallow > 0 && !policy_any(a->allow, a->nallow, name))
		return (0);
	if (t != NULL && policy_any(t->deny, t->ndeny, name))
		return (0);
	if (policy_any(a->deny, a->ndeny, name))
		return (0);
	return (1);
}

enum policy_result
policy_resolve(const struct cfg *cfg, const struct cfg_app *app,
    const char *requested, const char **resolved,
    const struct cfg_model **model)
{
	const struct cfg_model	*m;
	const char		*name;

	*model = NULL;
	name = policy_alias(&app->models, requested);
	if (name == NULL && app->tier != NULL)
		name = policy_alias(&app->tier->models, requested);
	if (name == NULL)
		name = requested;
	*resolved = name;

	if ((m = cfg_find_model(cfg, name)) == NULL)
		return (POLICY_UNKNOWN_MODEL);
	if (!policy_allowed(app, name))
		return (POLICY_DENIED);
	*model = m;
	return (POLICY_OK);
}

int64_t
policy_max_output_tokens(const struct cfg_app *app)
{
	if (app->models.max_output_tokens > 0)
		return (app->models.max_output_tokens);
	if (app->tier != NULL)
		return (app->tier->models.max_output_tokens);
	return (0);
}

const char *
policy_downgrade(const struct cfg_app *app, const char *name,
    double used_ratio)
{
	const struct cfg_model_rules	*r[2];
	const struct cfg_downgrade	*d, *best;
	size_t				 i, j;

	r[0] = &app->models;
	r[1] = app->tier != NULL ? &app->tier->models : NULL;
	for (i = 0; i < 2; i++) {
		if (r[i] == NULL)
			continue;
		best = NULL;
		for (j = 0; j < r[i]->ndowngrade; j++) {
			d = &r[i]->downgrade[j];
			if (strcmp(d->from, name) != 0 ||
			    used_ratio < d->when_used)
				continue;
			if (best == NULL || d->when_used > best->when_used)
				best = d;
		}
		if (best != NULL)
			return (best->to);
	}
	return (NULL);
}

const char **
policy_allowed_models(const struct cfg *cfg, const struct cfg_app *app,
    size_t *n)
{
	const char	**out;
	size_t		  i;

	*n = 0;
	out = xcalloc(cfg->nmodels + 1, sizeof *out);
	for (i = 0; i < cfg->nmodels; i++) {	/* cfg->models is sorted */
		if (policy_allowed(app, cfg->models[i].name))
			out[(*n)++] = cfg->models[i].name;
	}
	return (out);
}
