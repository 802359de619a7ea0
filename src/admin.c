/*
 * The admin listener: a separate evhttp server on the main thread's event
 * loop (loopback by default).  Every route but /healthz wants
 * "Authorization: Bearer <token>", the token read from the environment
 * variable admin.token_env names; without that variable the protected
 * routes answer 403.
 *
 *	GET  /healthz			the process runs
 *	GET  /readyz			the ledger commits and the counters answer
 *	GET  /metrics			Prometheus text
 *	GET  /admin/usage		as `tollgate export` (from, to, group_by,
 *					format=csv|json|focus query parameters)
 *	GET  /admin/apps/<app>/budget	every limit's window: limit, used,
 *					leased, resets_at
 *	POST /admin/reload		as SIGHUP; says what was wrong
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "admin.h"
#include "budget.h"
#include "cfg.h"
#include "export.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "price.h"
#include "server.h"
#include "util.h"
#include "xmalloc.h"

#define ADMIN_MAGIC	0x61646d6eU

struct admin {
	struct evhttp		*http;
	void			*bctx;		/* counter store handle */
	const struct budget_store_ops *bops;
};

/* One pending store step for /readyz or a budget view. */
struct admin_req {
	uint32_t		 magic;
	struct evhttp_request	*req;
	const struct cfg_app	*app;
	struct cfg		*cfg;
	struct budget_plan	 plan;
	int			 ready;		/* /readyz, not a budget */
};

static void
reply_json(struct evhttp_request *req, int status, json_t *o)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(12));
	if (s != NULL) {
		evbuffer_add_printf(b, "%s\n", s);
		free(s);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, status, NULL, b);
	evbuffer_free(b);
	json_decref(o);
}

static void
reply_error(struct evhttp_request *req, int status, const char *code,
    const char *msg)
{
	reply_json(req, status, json_pack("{s:{s:s, s:s}}", "error", "code",
	    code, "message", msg));
}

/* Bearer token check in constant time; the token is never logged. */
static int
admin_authorized(struct evhttp_request *req, const struct cfg *cfg)
{
	const char	*want, *got;
	size_t		 wl, gl;

	want = getenv(cfg->admin_token_env);
	if (want == NULL || *want == '\0') {
		reply_error(req, 403, "admin_disabled", "the admin token is "
		    "not configured");
		return (0);
	}
	got = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	wl = strlen(want);
	if (got == NULL || strncasecmp(got, "Bearer ", 7) != 0 ||
	    (gl = strlen(got + 7)) != wl ||
	    !util_ct_equal(got + 7, want, wl)) {
		reply_error(req, 401, "unauthorized", "admin token required");
		return (0);
	}
	return (1);
}

static void
admin_metrics(struct evhttp_request *req)
{
	struct evbuffer	*b = evbuffer_new();

	metrics_render(b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
admin_usage(struct evhttp_request *req, const struct cfg *cfg)
{
	struct evkeyvalq	 q;
	struct export_opts	 opts;
	struct evbuffer		*b;
	const char		*fmt, *ledgers[1];
	char			*buf = NULL, *cause = NULL;
	size_t			 len = 0;
	FILE			*f;

	memset(&opts, 0, sizeof opts);
	TAILQ_INIT(&q);
	evhttp_parse_query_str(evhttp_uri_get_query(
	    evhttp_request_get_evhttp_uri(req)) != NULL ?
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)) : "", &q);
	opts.from = evhttp_find_header(&q, "from");
	opts.to = evhttp_find_header(&q, "to");
	fmt = evhttp_find_header(&q, "format");
	if (opts.from == NULL || opts.to == NULL) {
		reply_error(req, 400, "invalid_request",
		    "from and to (YYYY-MM-DD) are required");
		goto out;
	}
	if (fmt == NULL || strcmp(fmt, "csv") == 0)
		opts.format = EXPORT_CSV;
	else if (strcmp(fmt, "json") == 0)
		opts.format = EXPORT_JSON;
	else if (strcmp(fmt, "focus") == 0)
		opts.format = EXPORT_FOCUS;
	else {
		reply_error(req, 400, "invalid_request",
		    "format is csv, json or focus");
		goto out;
	}
	if (export_parse_fields(evhttp_find_header(&q, "group_by"), &opts,
	    &cause) == -1) {
		reply_error(req, 400, "invalid_request", cause);
		goto out;
	}
	ledgers[0] = cfg->ledger_path;
	opts.ledgers = ledgers;
	opts.nledgers = 1;
	if ((f = open_memstream(&buf, &len)) == NULL) {
		reply_error(req, 500, "internal", "out of memory");
		goto out;
	}
	if (export_run(&opts, f, &cause) == -1) {
		fclose(f);
		reply_error(req, 400, "invalid_request", cause);
		goto out;
	}
	fclose(f);
	b = evbuffer_new();
	evbuffer_add(b, buf, len);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", opts.format == EXPORT_JSON ? "application/json" :
	    "text/csv");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
out:
	free(buf);
	free(cause);
	evhttp_clear_headers(&q);
}

static json_t *
amount_json(enum cfg_unit unit, int64_t v)
{
	return (unit == UNIT_USD ? price_usd_json(v) :
	    json_integer(v));
}

static void
peek_cb(enum budget_result res, struct budget_plan *plan, void *arg)
{
	struct admin_req		*ar = arg;
	const struct budget_check	*k;
	const struct budget_counter	*c;
	json_t				*w;		/* new */
	size_t				 i;
	char				 resets[32];

	if (ar->magic != ADMIN_MAGIC)
		fatalx("admin: bad request magic");
	if (ar->ready) {
		if (res != BUDGET_OK)
			reply_error(ar->req, 503, "counters_unavailable",
			    "the counter store does not answer");
		else if (!ledger_healthy(server_ledger()))
			reply_error(ar->req, 503, "ledger_unavailable",
			    "the ledger cannot record new requests");
		else
			reply_json(ar->req, 200, json_pack("{s:s}", "status",
			    "ready"));
		goto out;
	}
	if (res != BUDGET_OK) {
		reply_error(ar->req, 503, "counters_unavailable",
		    "the counter store does not answer");
		goto out;
	}
	w = json_array();
	for (i = 0; i < plan->nchecks; i++) {
		k = &plan->checks[i];
		c = &plan->counters[k->counter];
		util_rfc3339(c->end_ms, resets);
		json_array_append_new(w, json_pack("{s:s, s:s, s:s, s:o, s:o, "
		    "s:o, s:s}", "scope", c->scope == SCOPE_APP ? "app" : "team",
		    "unit", cfg_unit_name(k->unit), "per", cfg_per_name(c->per),
		    "limit", amount_json(k->unit, k->limit),
		    "used", amount_json(k->unit,
		    plan->state[k->counter].used.v[k->unit]),
		    "leased", amount_json(k->unit,
		    plan->state[k->counter].leased.v[k->unit]),
		    "resets_at", resets));
	}
	reply_json(ar->req, 200, json_pack("{s:s, s:s, s:o}", "app",
	    ar->app->name, "team", ar->app->team->name, "windows", w));
out:
	cfg_unref(ar->cfg);
	ar->magic = 0;
	free(ar);
}

static void
admin_peek(struct admin *a, struct evhttp_request *req, struct cfg *cfg,
    const struct cfg_app *app, int ready)
{
	struct admin_req	*ar;

	ar = xcalloc(1, sizeof *ar);
	ar->magic = ADMIN_MAGIC;
	ar->req = req;
	ar->cfg = cfg_ref(cfg);
	ar->ready = ready;
	ar->app = app;
	if (app != NULL)
		budget_plan_init(&ar->plan, app, util_now_ms());
	a->bops->peek(a->bctx, &ar->plan, peek_cb, ar);
}

static void
admin_reload(struct evhttp_request *req)
{
	char	**errors = NULL;
	size_t	  n = 0, i;
	json_t	 *list;		/* new */

	if (server_reload(&errors, &n) == 0) {
		reply_json(req, 200, json_pack("{s:s}", "result", "ok"));
		return;
	}
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, json_string(errors[i]));
	cfg_errors_free(errors, n);
	reply_json(req, 400, json_pack("{s:s, s:o}", "result", "failed",
	    "errors", list));
}

static void
admin_cb(struct evhttp_request *req, void *arg)
{
	struct admin		*a = arg;
	struct cfg		*cfg;
	const struct cfg_app	*app;
	const char		*path;
	char			 name[256];
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	size_t			 len;

	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL)
		path = "/";
	if (strcmp(path, "/healthz") == 0) {
		reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	cfg = server_cfg();
	if (!admin_authorized(req, cfg))
		goto out;
	if (strcmp(path, "/metrics") == 0 && cmd == EVHTTP_REQ_GET)
		admin_metrics(req);
	else if (strcmp(path, "/readyz") == 0 && cmd == EVHTTP_REQ_GET)
		admin_peek(a, req, cfg, NULL, 1);
	else if (strcmp(path, "/admin/usage") == 0 && cmd == EVHTTP_REQ_GET)
		admin_usage(req, cfg);
	else if (strcmp(path, "/admin/reload") == 0 &&
	    cmd == EVHTTP_REQ_POST)
		admin_reload(req);
	else if (strncmp(path, "/admin/apps/", 12) == 0 &&
	    (len = strlen(path)) > 12 + 7 &&
	    strcmp(path + len - 7, "/budget") == 0 &&
	    len - 12 - 7 < sizeof name && cmd == EVHTTP_REQ_GET) {
		memcpy(name, path + 12, len - 12 - 7);
		name[len - 12 - 7] = '\0';
		if ((app = cfg_find_app(cfg, name)) == NULL)
			reply_error(req, 404, "not_found", "no such app");
		else
			admin_peek(a, req, cfg, app, 0);
	} else
		reply_error(req, 404, "not_found", "no such admin route");
out:
	cfg_unref(cfg);
}

struct admin *
admin_start(struct event_base *base, const struct cfg *cfg,
    const struct budget_store_ops *ops, void *store, char **cause)
{
	struct admin	*a;

	a = xcalloc(1, sizeof *a);
	if ((a->http = evhttp_new(base)) == NULL) {
		xasprintf(cause, "evhttp_new failed");
		free(a);
		return (NULL);
	}
	evhttp_set_max_headers_size(a->http, cfg->max_header_bytes);
	evhttp_set_max_body_size(a->http, 1024 * 1024);
	evhttp_set_timeout(a->http, cfg->header_timeout_s);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(a->http, admin_cb, a);
	if (server_bind(base, a->http, cfg->admin_listen, cause) == -1) {
		evhttp_free(a->http);
		free(a);
		return (NULL);
	}
	a->bops = ops;
	a->bctx = ops->worker_init(store, base);
	return (a);
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	evhttp_free(a->http);
	a->bops->worker_free(a->bctx);
	free(a);
}
