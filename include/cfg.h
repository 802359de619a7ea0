/*
 * Configuration: tollgate.json, models.json and budgets/<team>.json parsed
 * into one immutable, reference-counted generation.  Parsing collects every
 * error as "file:line:col: message" and refuses the whole generation when
 * there is any (tmux cfg.c, sshd -t).  Lookups are binary searches over
 * arrays sorted at load time; nothing here changes after cfg_load() returns,
 * so worker threads read a generation without locks.
 */
#ifndef CFG_H
#define CFG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "price.h"

enum cfg_per {
	PER_MINUTE = 0,
	PER_HOUR,
	PER_DAY,
	PER_WEEK,
	PER_MONTH
};

enum cfg_unit {
	UNIT_USD = 0,
	UNIT_TOKENS,
	UNIT_REQUESTS
};

#define CFG_MAX_ALERTS	8

/* One budget or rate limit: {"usd"|"tokens"|"requests": N, "per": ...}. */
struct cfg_limit {
	enum cfg_unit	 unit;
	int64_t		 amount;	/* nano-USD, tokens or requests */
	enum cfg_per	 per;
	double		 alert_at[CFG_MAX_ALERTS];	/* ratios in (0, 1] */
	size_t		 nalert;
};

struct cfg_alias {
	char		*from;
	char		*to;
};

struct cfg_downgrade {
	double		 when_used;	/* ratio in (0, 1] */
	char		*from;
	char		*to;
};

/* "models" block of a tier or an app. */
struct cfg_model_rules {
	char		**allow;	/* globs; NULL/0 means "any" */
	size_t		  nallow;
	char		**deny;		/* globs */
	size_t		  ndeny;
	struct cfg_alias *alias;
	size_t		  nalias;
	struct cfg_downgrade *downgrade;
	size_t		  ndowngrade;
	int64_t		  max_output_tokens;	/* 0: no cap */
};

struct cfg_tier {
	char			*name;
	struct cfg_limit	*limits;
	size_t			 nlimits;
	struct cfg_model_rules	 models;
};

struct cfg_team;

struct cfg_key {
	char		*id;		/* public part of tg_<id>_<secret> */
	unsigned char	 hmac[32];	/* HMAC-SHA256(pepper, secret) */
	int64_t		 expires_ms;	/* first ms no longer valid; 0: never */
	struct cfg_app	*app;		/* back pointer */
	int		 expires_y;	/* "expires" date, valid through */
	int		 expires_m;	/* that day inclusive; 0: never */
	int		 expires_d;
};

struct cfg_app {
	char			*name;
	struct cfg_team		*team;		/* back pointer */
	struct cfg_tier		*tier;		/* never NULL */
	char			*owner;		/* may be NULL */
	struct cfg_key		*keys;
	size_t			 nkeys;
	struct cfg_limit	*limits;	/* the app's own limits */
	size_t			 nlimits;
	struct cfg_model_rules	 models;	/* the app's own rules */
};

struct cfg_team {
	char			*name;
	char			*cost_center;	/* may be NULL */
	char			*owner;		/* may be NULL */
	char			*file;		/* budget file path */
	struct cfg_limit	*limits;
	size_t			 nlimits;
	struct cfg_app		*apps;
	size_t			 napps;
};

enum cfg_api {
	API_OPENAI = 0,
	API_ANTHROPIC
};

struct cfg_endpoint {
	char		*url;		/* as written, e.g. https://h:443/base */
	int		 tls;		/* https */
	char		*host;		/* for connect, SNI and Host: */
	int		 port;
	char		*path_prefix;	/* "" or "/base" (no trailing slash) */
	char		*authority;	/* Host: value: host, "[v6]" and
					   ":port" unless the default */
	char		*pool_key;	/* connections to it that a request
					   may reuse: scheme, host, port
					   and the provider's ca_file */
};

struct cfg_provider {
	char			*name;
	enum cfg_api		 api;
	struct cfg_endpoint	*endpoints;	/* base_url is endpoints[0] */
	size_t			 nendpoints;
	char			*key_env;
	char			*key;		/* value of $key_env; NULL: unset */
	char			*ca_file;	/* absolute; NULL: system store */
	int			 connect_timeout_ms;
	int			 first_byte_timeout_ms;
	int			 idle_timeout_ms;
	int			 eject_after;	/* consecutive failures that
						   eject an endpoint */
	int			 eject_ms;	/* and for how long */
};

struct cfg_model {
	char			*name;
	struct cfg_provider	*provider;
	struct price		 price;
	char			**fallback;
	size_t			 nfallback;
};

enum cfg_store {
	STORE_LOCAL = 0,
	STORE_REDIS
};

struct cfg {
	int			 refs;		/* atomic; see cfg_ref() */

	char			*path;		/* tollgate.json as given */
	char			*dir;		/* its directory */

	char			**listen;	/* "host:port" */
	size_t			 nlisten;
	char			**tls_listen;	/* NULL/0: no TLS listener */
	size_t			 ntls_listen;
	char			*tls_cert;	/* absolute paths */
	char			*tls_key;

	char			*admin_listen;
	char			*admin_token_env;

	int			 workers;	/* 0: one per CPU */
	char			*timezone;
	char			*key_pepper_env;

	struct cfg_provider	*providers;	/* sorted by name */
	size_t			 nproviders;

	char			*models_path;	/* absolute */
	char			*price_version;	/* models.json "version" */
	struct cfg_model	*models;	/* sorted by name */
	size_t			 nmodels;

	char			*budgets_path;	/* absolute directory */
	struct cfg_tier		*tiers;		/* sorted by name */
	size_t			 ntiers;
	struct cfg_team		*teams;		/* sorted by name */
	size_t			 nteams;
	struct cfg_key		**keys;		/* all keys, sorted by id */
	size_t			 nkeys;
	struct cfg_app		**apps;		/* all apps, sorted by name */
	size_t			 napps;

	enum cfg_store		 store;
	char			*redis_url;
	int			 redis_timeout_ms;
	int			 redis_on_error_allow;	/* "allow" */
	int			 lease_ttl_s;	/* a lease stops counting after
						   this long (crashed proxy) */

	char			*ledger_path;	/* absolute */
	char			*alerts_webhook;	/* NULL: none */
	struct cfg_endpoint	*alerts_ep;		/* parsed webhook */
	char			*alerts_target;		/* its path?query */

	size_t			 max_header_bytes;
	size_t			 max_body_bytes;
	int			 header_timeout_s;
	int			 max_connections;
	int			 drain_timeout_s;	/* SIGTERM: finish requests
							   in flight for this long */

	char			*log_level;
	int			 log_access;
};

/*
 * Load path (tollgate.json) and every file it names.  On success returns a
 * new generation with one reference.  On failure returns NULL and fills
 * *errors with a newly allocated array of *nerrors newly allocated
 * "file:line:col: message" strings (free with cfg_errors_free()).
 * Environment variables (provider keys) are read here; a missing provider key
 * is not an error.
 */
struct cfg	*cfg_load(const char *path, char ***errors, size_t *nerrors);
void		 cfg_errors_free(char **errors, size_t nerrors);

/* Reference counting; the last cfg_unref() frees.  Both accept NULL. */
struct cfg	*cfg_ref(struct cfg *);
void		 cfg_unref(struct cfg *);

/* Lookups; return borrowed pointers into the generation or NULL. */
struct cfg_model	*cfg_find_model(const struct cfg *, const char *name);
struct cfg_provider	*cfg_find_provider(const struct cfg *, const char *);
struct cfg_key		*cfg_find_key(const struct cfg *, const char *id,
			    size_t idlen);
struct cfg_app		*cfg_find_app(const struct cfg *, const char *name);
struct cfg_tier		*cfg_find_tier(const struct cfg *, const char *name);

/*
 * cfg_load() computes a key's expires_ms as the UTC midnight that ends its
 * "expires" day, because it must not change the process time zone.  After
 * util_set_timezone(cfg->timezone), and before the generation is shared
 * with other threads, call this to move every expiry to the local midnight
 * of the configured time zone.
 */
void		 cfg_local_expiry(struct cfg *);

const char	*cfg_per_name(enum cfg_per);
const char	*cfg_unit_name(enum cfg_unit);

#endif
