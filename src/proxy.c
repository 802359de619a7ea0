/*
 * The proxy request path.
 *
 * proxy_request_cb() runs when the listener has read a whole client
 * request (or refused one: then it answers the listener's error).  It
 * routes, authenticates, inspects the JSON body (model, stream, output
 * caps), resolves the model through policy and the price table, and sends
 * the request upstream with the client's credentials replaced by the
 * provider key.  The answer comes back through the upstream callbacks:
 * non-streaming bodies are collected (bounded) and metered as a whole;
 * event streams go through the SSE parser event by event, each event's raw
 * bytes forwarded unchanged (or dropped: the usage chunk tollgate asked for
 * itself), with backpressure: while the client's socket has more than
 * PROXY_HIGH_WATER bytes queued, the upstream read is paused until the
 * queue drains.
 *
 * Every request, refused or served, ends in proxy_finish(), which writes
 * exactly one ledger row and one access log line.  The client may vanish at
 * any time (the listener frees its request); the close callback marks
 * that and proxy_finish() then bills what the provider produced.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "alert.h"
#include "auth.h"
#include "budget.h"
#include "cfg.h"
#include "health.h"
#include "http_server.h"
#include "httpresp.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "price.h"
#include "proxy.h"
#include "reqbody.h"
#include "server.h"
#include "sse.h"
#include "upstream.h"
#include "usage.h"
#include "util.h"
#include "xmalloc.h"

#define PREQ_MAGIC		0x70726571U
#define PROXY_HIGH_WATER	(256 * 1024)
#define PROXY_MAX_ANSWER	(128 * 1024 * 1024)
#define PROXY_MAX_EVENT		(4 * 1024 * 1024)
#define DEFAULT_OUTPUT_CAP	4096	/* when neither body nor policy caps */
#define MIN_USEFUL_OUTPUT	256	/* a lowered cap below this refuses */
#define CUT_MARGIN		16	/* tokens of slack before a stream cut */
#define RENEW_MAX_MS		60000	/* lease renewals at least this often */

enum proxy_errcode {
#define TG_ERROR(e, st, code, ot, at)	ERR_##e,
#include "tbl/errors.h"
#undef TG_ERROR
	ERR_MAX
};

static const struct {
	int		 status;
	const char	*code;
	const char	*openai_type;
	const char	*anthropic_type;
} proxy_errors[] = {
#define TG_ERROR(e, st, code, ot, at)	{ st, code, ot, at },
#include "tbl/errors.h"
#undef TG_ERROR
};

enum route_kind {
	ROUTE_CHAT = 0,
	ROUTE_COMPLETIONS,
	ROUTE_EMBEDDINGS,
	ROUTE_RESPONSES,
	ROUTE_MESSAGES,
	ROUTE_MODELS
};

struct route {
	const char		*path;
	const char		*method;
	enum cfg_api		 api;
	enum route_kind		 kind;
};

static const struct route routes[] = {
	{ "/v1/chat/completions", "POST", API_OPENAI, ROUTE_CHAT },
	{ "/v1/completions", "POST", API_OPENAI, ROUTE_COMPLETIONS },
	{ "/v1/embeddings", "POST", API_OPENAI, ROUTE_EMBEDDINGS },
	{ "/v1/responses", "POST", API_OPENAI, ROUTE_RESPONSES },
	{ "/v1/messages", "POST", API_ANTHROPIC, ROUTE_MESSAGES },
	{ "/v1/models", "GET", API_OPENAI, ROUTE_MODELS },
};

struct proxy_req {
	uint32_t		 magic;
	struct worker		*w;
	struct proxy_req	*next;		/* w->reqs list */
	struct proxy_req	**prevp;
	struct cfg		*cfg;		/* reference */
	struct http_req		*req;		/* NULL once answered or gone */
	char			 id[33];
	char			 traceparent[56];	/* W3C, passed upstream */
	char			 path[64];	/* route path for the ledger */
	const struct route	*route;
	enum cfg_api		 api;		/* error shape */
	int64_t			 ts_start;	/* unix ms */
	int64_t			 mono_start;	/* monotonic ms */
	int64_t			 ttft_ms;

	const struct cfg_app	*app;
	const struct cfg_key	*key;
	const char		*model_requested;	/* in rb */
	const struct cfg_model	*model;
	int			 stream;
	int			 strip_usage;	/* drop the usage-only chunk */
	size_t			 body_len;
	struct reqbody		 rb;		/* what the body says, where */
	const char		*body_model;	/* "model" to send, or NULL */
	const char		*cap_name;	/* body field capping output */
	int64_t			 cap;		/* output cap reserved for */
	int			 inject_cap;	/* write cap into the body */
	int64_t			 body_cap;	/* the body's own cap, or -1 */
	int			 capped;	/* lowered to fit the budget */

	struct budget_plan	*plan;		/* NULL: the app has no limits */
	int			 reserving;	/* a store step is under way */
	int			 leased;	/* settle at the end */
	int			 fallback;	/* leased on the fallback store */

	const struct cfg_endpoint *ep;
	size_t			 epi;		/* ep's index in its provider */
	uint32_t		 tried;		/* endpoints tried, a bit each */
	const struct cfg_model	*primary;	/* the model before fallbacks */
	size_t			 next_fallback;	/* in primary->fallback */
	int			 falling_back;	/* reserving for a fallback */
	const char		*model_reason;	/* why the model failed */
	const char		*first_reason;	/* the first failure, for the */
	enum upstream_error	 first_err;	/* metrics and the client */
	int			 first_status;
	struct evbuffer		*first_answer;
	struct upstream_req	*up;
	int			 attempts;
	int			 status;	/* sent to the client */
	int			 upstream_status;
	int			 reply_started;
	int			 paused;
	int			 stream_done;	/* saw [DONE] / message_stop */
	int			 cut;		/* output passed the lease */
	const char		*errcode;	/* tollgate's refusal, if any */

	struct evbuffer		*answer;	/* non-stream body */
	struct evbuffer		*out;		/* events to send */
	struct sse_parser	*sse;
	struct usage		 usage;
	int64_t			 est_output;	/* from streamed deltas */
	enum ledger_outcome	 outcome;
};

static void	proxy_finish(struct proxy_req *, enum ledger_outcome);
static void	stream_cut(struct proxy_req *);
static void	attempt_failed(struct proxy_req *, enum upstream_error,
		    const char *);
static void	give_up(struct proxy_req *, enum upstream_error);
static void	release(struct proxy_req *);
static void	admit_reserve(struct proxy_req *);
static void	renew_arm(struct worker *, int64_t);
static void	proxy_send(struct proxy_req *);
static void	count_budget(const struct proxy_req *);

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
proxy_new_id(struct worker *w, char out[33])
{
	static const char	hex[] = "0123456789abcdef";
	uint64_t		hi = w->rid_hi, lo = ++w->rid_seq;
	int			i;

	for (i = 15; i >= 0; i--, hi >>= 4)
		out[i] = hex[hi & 0xf];
	for (i = 31; i >= 16; i--, lo >>= 4)
		out[i] = hex[lo & 0xf];
	out[32] = '\0';
}

/* The client's connection went away while we were working for it. */
static void
client_close_cb(struct http_req *req, void *arg)
{
	struct proxy_req	*p = arg;

	if (p->magic != PREQ_MAGIC)
		fatalx("proxy: bad request magic in close callback");
	p->req = NULL;
	if (p->reserving)
		return;		/* the store's callback finishes it */
	if (p->up != NULL) {
		upstream_cancel(p->up);
		p->up = NULL;
	}
	proxy_finish(p, OUTCOME_CLIENT_ABORTED);
}

/* Send the whole answer; the request is the listener's again. */
static void
reply_send(struct proxy_req *p, int status, struct evbuffer *body)
{
	if (p->req == NULL)
		return;
	p->status = status;
	http_req_set_close_cb(p->req, NULL, NULL);
	http_req_reply(p->req, status, body);
	p->req = NULL;
}

/* End a streamed answer. */
static void
reply_end(struct proxy_req *p)
{
	if (p->req == NULL)
		return;
	http_req_set_close_cb(p->req, NULL, NULL);
	http_req_set_drain_cb(p->req, NULL, NULL);
	http_req_reply_end(p->req);
	p->req = NULL;
}

/*
 * An error in the shape of the API the client called.  extra (stolen, may
 * be NULL) adds fields to the error object.
 */
static void
proxy_error(struct proxy_req *p, enum proxy_errcode e, const char *msg,
    json_t *extra)
{
	struct evbuffer		*body;
	json_t			*root, *err;		/* new */
	char			*s;

	if (p->req == NULL) {
		json_decref(extra);
		return;
	}
	p->errcode = proxy_errors[e].code;
	err = json_object();
	if (p->api == API_ANTHROPIC) {
		root = json_pack("{s:s, s:o}", "type", "error", "error", err);
		json_object_set_new(err, "type",
		    json_string(proxy_errors[e].anthropic_type));
		json_object_set_new(err, "message", json_string(msg));
		json_object_set_new(err, "code",
		    json_string(proxy_errors[e].code));
	} else {
		root = json_pack("{s:o}", "error", err);
		json_object_set_new(err, "message", json_string(msg));
		json_object_set_new(err, "type",
		    json_string(proxy_errors[e].openai_type));
		json_object_set_new(err, "code",
		    json_string(proxy_errors[e].code));
		json_object_set_new(err, "param", json_null());
	}
	if (extra != NULL) {
		json_object_update(err, extra);
		json_decref(extra);
	}
	s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(12));
	json_decref(root);
	body = evbuffer_new();
	if (s != NULL) {
		evbuffer_add(body, s, strlen(s));
		free(s);
	}
	http_req_remove_header(p->req, "Content-Type");
	http_req_add_header(p->req, "Content-Type", "application/json");
	reply_send(p, proxy_errors[e].status, body);
	evbuffer_free(body);
}

/* Refuse before anything was forwarded: error, ledger row, done. */
static void
proxy_deny(struct proxy_req *p, enum proxy_errcode e, const char *msg)
{
	proxy_error(p, e, msg, NULL);
	proxy_finish(p, OUTCOME_DENIED);
}

static const struct route *
route_find(const char *path, size_t len, int *path_known)
{
	size_t	i;

	*path_known = 0;
	for (i = 0; i < nitems(routes); i++) {
		if (strlen(routes[i].path) == len &&
		    memcmp(routes[i].path, path, len) == 0) {
			*path_known = 1;
			return (&routes[i]);
		}
	}
	return (NULL);
}

static void
models_list(struct proxy_req *p)
{
	const char	**names;
	struct evbuffer	 *body;
	json_t		 *root, *data;		/* new */
	char		 *s;
	size_t		  n, i;

	names = policy_allowed_models(p->cfg, p->app, &n);
	data = json_array();
	for (i = 0; i < n; i++) {
		const struct cfg_model	*m = cfg_find_model(p->cfg, names[i]);

		json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}",
		    "id", names[i], "object", "model", "created", 0,
		    "owned_by", m != NULL ? m->provider->name : "tollgate"));
	}
	free(names);
	root = json_pack("{s:s, s:o}", "object", "list", "data", data);
	s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(12));
	json_decref(root);
	body = evbuffer_new();
	evbuffer_add(body, s, strlen(s));
	free(s);
	http_req_add_header(p->req, "Content-Type", "application/json");
	reply_send(p, 200, body);
	evbuffer_free(body);
	proxy_finish(p, OUTCOME_OK);
}

/*
 * The W3C trace context: the client's traceparent when it is well formed
 * (version 00: 2-32-16-2 lowercase hex), else a new one whose trace id is
 * the request id.
 */
static void
trace_context(struct proxy_req *p, const char *tp)
{
	static const int	 dash[] = { 2, 35, 52 };
	size_t			 i;
	int			 okay = tp != NULL && strlen(tp) == 55;

	for (i = 0; okay && i < 55; i++) {
		if (i == (size_t)dash[0] || i == (size_t)dash[1] ||
		    i == (size_t)dash[2])
			okay = tp[i] == '-';
		else
			okay = (tp[i] >= '0' && tp[i] <= '9') ||
			    (tp[i] >= 'a' && tp[i] <= 'f');
	}
	if (okay && strncmp(tp, "00-", 3) == 0 &&
	    strncmp(tp + 3, "00000000000000000000000000000000", 32) != 0) {
		memcpy(p->traceparent, tp, 55);
		p->traceparent[55] = '\0';
		return;
	}
	memcpy(p->traceparent, "00-", 3);
	memcpy(p->traceparent + 3, p->id, 32);
	p->traceparent[35] = '-';
	memcpy(p->traceparent + 36, p->id + 16, 16);
	memcpy(p->traceparent + 52, "-01", 4);
}

/* A header value safe to copy into the upstream request. */
static int
header_value_ok(const char *v)
{
	for (; *v != '\0'; v++) {
		if ((unsigned char)*v < 0x20 && *v != '\t')
			return (0);
		if (*v == 0x7f)
			return (0);
	}
	return (1);
}

/* Client headers forwarded as they are; everything else is dropped. */
static const char *pass_headers[] = {
	"anthropic-version", "anthropic-beta", "openai-beta", "tracestate",
	"user-agent"
};

/* Append the NULL-terminated list of strings to the upstream head. */
static void
head_str(struct evbuffer *head, const char *s, ...)
{
	va_list	ap;

	va_start(ap, s);
	for (; s != NULL; s = va_arg(ap, const char *))
		evbuffer_add(head, s, strlen(s));
	va_end(ap);
}

static void
build_head(struct proxy_req *p, struct evbuffer *head, size_t body_len)
{
	const struct cfg_endpoint	*ep = p->ep;
	const struct cfg_provider	*prov = p->model->provider;
	const char			*v;
	char				 len[32];
	size_t				 i;

	head_str(head, "POST ", ep->path_prefix, p->route->path,
	    " HTTP/1.1\r\nHost: ", ep->authority, "\r\n"
	    "Content-Type: application/json\r\nContent-Length: ", NULL);
	util_lltoa((long long)body_len, len);
	head_str(head, len, "\r\nAccept: ", p->stream ? "text/event-stream" :
	    "application/json", "\r\n", NULL);
	if (prov->api == API_ANTHROPIC) {
		head_str(head, "x-api-key: ", prov->key, "\r\n", NULL);
		if (http_req_header(p->req, "anthropic-version") == NULL)
			head_str(head, "anthropic-version: 2023-06-01\r\n",
			    NULL);
	} else
		head_str(head, "Authorization: Bearer ", prov->key, "\r\n",
		    NULL);
	for (i = 0; i < nitems(pass_headers); i++) {
		v = http_req_header(p->req, pass_headers[i]);
		if (v != NULL && header_value_ok(v) && strlen(v) < 1024)
			head_str(head, pass_headers[i], ": ", v, "\r\n",
			    NULL);
	}
	head_str(head, "traceparent: ", p->traceparent, "\r\nX-Request-Id: ",
	    p->id, "\r\n\r\n", NULL);
}

/* Queue the pending SSE bytes to the client; pause upstream if slow. */
static void send_out(struct proxy_req *);

static void
client_drained_cb(struct http_req *req, void *arg)
{
	struct proxy_req	*p = arg;

	if (p->magic != PREQ_MAGIC)
		return;
	if (p->paused && p->up != NULL) {
		p->paused = 0;
		upstream_resume(p->up);
	}
}

static void
send_out(struct proxy_req *p)
{
	if (p->req == NULL || evbuffer_get_length(p->out) == 0)
		return;
	if (p->ttft_ms < 0)
		p->ttft_ms = mono_ms() - p->mono_start;
	http_req_reply_chunk(p->req, p->out);
	if (p->up != NULL && !p->paused &&
	    http_req_pending(p->req) > PROXY_HIGH_WATER) {
		p->paused = 1;
		upstream_pause(p->up);
	}
}

static int
relay_event_cb(const struct sse_event *ev, void *arg)
{
	struct proxy_req	*p = arg;
	struct usage_sse	 u;
	int			 rc = 0;

	memset(&u, 0, sizeof u);
	if (ev->data != NULL) {
		if (p->route->api == API_ANTHROPIC)
			rc = usage_anthropic_sse(ev->event, ev->event_len,
			    ev->data, ev->data_len, &p->usage, &u);
		else
			rc = usage_openai_sse(ev->data, ev->data_len,
			    &p->usage, &u);
	}
	(void)rc;
	p->est_output += u.output_delta;
	if (u.done)
		p->stream_done = 1;
	/*
	 * A provider that streams past the cap the lease pays for is cut:
	 * the lease bounds what the request may cost.  The running count is
	 * an estimate from the deltas, so it gets a margin.
	 */
	if (p->plan != NULL && p->cap > 0 && !p->stream_done &&
	    (p->est_output > p->cap + p->cap / 4 + CUT_MARGIN ||
	    p->usage.output > p->cap + CUT_MARGIN)) {
		p->cut = 1;
		return (-1);
	}
	if (p->strip_usage && u.usage_only)
		return (0);
	evbuffer_add(p->out, ev->raw, ev->raw_len);
	return (0);
}

/* Provider headers relayed with an error answer. */
static const char *retry_headers[] = {
	"retry-after", "retry-after-ms", "x-should-retry"
};

static int
up_headers_cb(struct upstream_req *up, struct httpresp *r, void *arg)
{
	struct proxy_req	*p = arg;
	struct http_req		*req = p->req;
	const char		*ct, *rid, *v;
	size_t			 i;

	if (p->magic != PREQ_MAGIC || req == NULL)
		return (-1);
	p->upstream_status = httpresp_status(r);
	ct = httpresp_header(r, "Content-Type");
	http_req_remove_header(req, "x-upstream-request-id");
	http_req_remove_header(req, "Content-Type");
	http_req_remove_header(req, "x-tollgate-model");
	http_req_add_header(req, "x-tollgate-model", p->model->name);
	if ((rid = httpresp_header(r, "x-request-id")) != NULL &&
	    header_value_ok(rid) && strlen(rid) < 256)
		http_req_add_header(req, "x-upstream-request-id", rid);
	/* The provider's retry advice goes with its refusal (SDKs use it). */
	for (i = 0; i < nitems(retry_headers); i++) {
		http_req_remove_header(req, retry_headers[i]);
		if (p->upstream_status >= 400 && (v = httpresp_header(r,
		    retry_headers[i])) != NULL && header_value_ok(v) &&
		    strlen(v) < 64)
			http_req_add_header(req, retry_headers[i], v);
	}
	if (p->stream && p->upstream_status == 200 && ct != NULL &&
	    strncasecmp(ct, "text/event-stream", 17) == 0) {
		http_req_add_header(req, "Content-Type", ct);
		http_req_add_header(req, "Cache-Control", "no-cache");
		p->sse = sse_parser_new(PROXY_MAX_EVENT);
		p->out = evbuffer_new();
		p->status = 200;
		p->reply_started = 1;
		http_req_set_drain_cb(req, client_drained_cb, p);
		http_req_reply_start(req, 200);
		metrics_add(M_ACTIVE_STREAMS, 1, NULL, NULL, NULL);
		return (0);
	}
	/* An error or a plain answer: collect it. */
	if (ct != NULL && header_value_ok(ct))
		http_req_add_header(req, "Content-Type", ct);
	if (p->answer != NULL)
		evbuffer_free(p->answer);
	p->answer = evbuffer_new();
	return (0);
}

static int
up_body_cb(struct upstream_req *up, const char *buf, size_t len, void *arg)
{
	struct proxy_req	*p = arg;

	if (p->magic != PREQ_MAGIC)
		return (-1);
	if (p->sse != NULL) {
		if (sse_parser_feed(p->sse, buf, len, relay_event_cb, p) == -1) {
			if (p->cut) {
				stream_cut(p);
				return (-1);
			}
			log_warn("request %s: event stream from the provider "
			    "is malformed", p->id);
			return (-1);
		}
		send_out(p);
		return (0);
	}
	if (evbuffer_get_length(p->answer) + len > PROXY_MAX_ANSWER)
		return (-1);
	evbuffer_add(p->answer, buf, len);
	return (0);
}

/* End a started stream with an error event in the API's own protocol. */
static void
stream_error(struct proxy_req *p, const char *msg)
{
	json_t	*ev;		/* new */
	char	*s;

	if (p->route->api == API_ANTHROPIC)
		ev = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error",
		    "type", "api_error", "message", msg);
	else
		ev = json_pack("{s:{s:s, s:s, s:s, s:n}}", "error", "message",
		    msg, "type", "api_error", "code", "upstream_error",
		    "param");
	s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(ev);
	if (p->route->api == API_ANTHROPIC)
		evbuffer_add_printf(p->out, "event: error\ndata: %s\n\n", s);
	else
		evbuffer_add_printf(p->out, "data: %s\n\n", s);
	free(s);
	send_out(p);
}

/* The stream ran past its lease: end it for the client, bill it, done. */
static void
stream_cut(struct proxy_req *p)
{
	log_warn("request %s: output passed the %lld tokens its lease pays "
	    "for; stream cut", p->id, (long long)p->cap);
	upstream_cancel(p->up);
	p->up = NULL;
	send_out(p);
	stream_error(p, "the answer exceeded the output this request's "
	    "budget pays for; stream cut");
	reply_end(p);
	proxy_finish(p, OUTCOME_CUT_AT_BUDGET);
}

/*
 * No other attempt: the client gets the first failure, the provider's own
 * answer when it gave one (429, 5xx), else tollgate's 502 or 504.
 */
static void
give_up(struct proxy_req *p, enum upstream_error err)
{
	char	msg[64];
	int	timeout;

	if (p->first_answer != NULL || p->answer != NULL) {
		struct evbuffer	*b = p->first_answer != NULL ?
		    p->first_answer : p->answer;
		int		 st = p->first_answer != NULL ?
		    p->first_status : p->upstream_status;
		json_t		*j;		/* new */

		/* An error page that is not JSON is no answer for an SDK. */
		j = json_loadb((const char *)evbuffer_pullup(b, -1),
		    evbuffer_get_length(b), 0, NULL);
		if (!json_is_object(j)) {
			json_decref(j);
			snprintf(msg, sizeof msg, "the provider answered %d "
			    "without a JSON body", st);
			proxy_error(p, ERR_UPSTREAM_ERROR, msg, NULL);
			proxy_finish(p, OUTCOME_UPSTREAM_ERROR);
			return;
		}
		json_decref(j);
		if (p->req != NULL) {
			http_req_remove_header(p->req, "Content-Type");
			http_req_add_header(p->req, "Content-Type",
			    "application/json");
		}
		reply_send(p, st, b);
		proxy_finish(p, OUTCOME_UPSTREAM_ERROR);
		return;
	}
	if (p->first_err != UPSTREAM_OK)
		err = p->first_err;
	timeout = err == UPSTREAM_ETIMEOUT_CONNECT ||
	    err == UPSTREAM_ETIMEOUT_FIRSTBYTE || err == UPSTREAM_ETIMEOUT_IDLE;
	proxy_error(p, timeout ? ERR_UPSTREAM_TIMEOUT : ERR_UPSTREAM_ERROR,
	    upstream_error_text(err), NULL);
	proxy_finish(p, timeout ? OUTCOME_TIMEOUT : OUTCOME_UPSTREAM_ERROR);
}

/*
 * Before any byte reached the client, an attempt failed in a way that
 * proves the provider produced nothing (connect failure, 429, 5xx): try
 * the provider's next endpoint, then the primary model's fallbacks (same
 * API, allowed for the app, affordable: the lease moves to the fallback's
 * price first).  Else the first failure goes to the client.
 */
static void
attempt_failed(struct proxy_req *p, enum upstream_error err,
    const char *reason)
{
	const struct cfg_provider	*prov = p->model->provider;
	const struct cfg_model		*m;
	const char			*name;

	/*
	 * Why the model is left: what its provider answered (429, 5xx)
	 * rather than an endpoint that did not connect.
	 */
	if (p->model_reason == NULL || strcmp(p->model_reason, "connect") == 0)
		p->model_reason = reason;
	/*
	 * Keep the first failure for the client: the first answer a provider
	 * gave (429, 5xx), else the first transport error.
	 */
	if (p->first_reason == NULL) {
		p->first_reason = reason;
		p->first_err = err;
	}
	if (p->first_answer == NULL && p->answer != NULL) {
		p->first_status = p->upstream_status;
		p->first_answer = p->answer;
		p->answer = NULL;
	}
	if (p->answer != NULL) {
		evbuffer_free(p->answer);
		p->answer = NULL;
	}
	p->upstream_status = 0;
	if (health_pick(prov, p->tried, util_now_ms()) < prov->nendpoints) {
		proxy_send(p);
		return;
	}
	while (p->next_fallback < p->primary->nfallback) {
		name = p->primary->fallback[p->next_fallback++];
		if ((m = cfg_find_model(p->cfg, name)) == NULL ||
		    m->provider->api != p->route->api ||
		    m->provider->key == NULL || !policy_allowed(p->app, name))
			continue;
		log_info("request %s: %s failed (%s); falling back to %s",
		    p->id, p->model->name, p->model_reason, m->name);
		metrics_add(M_FALLBACKS, 1, p->model->name, m->name,
		    p->model_reason);
		p->model_reason = NULL;
		p->model = m;
		p->tried = 0;
		p->body_model = m->name;
		if (p->plan == NULL) {
			proxy_send(p);
			return;
		}
		/* Move the lease: release it, then reserve at m's price. */
		if (p->leased)
			release(p);
		p->plan->lease_id[0] = "ghijklmnopqrstuv"[p->next_fallback %
		    16];
		p->falling_back = 1;
		admit_reserve(p);
		return;
	}
	give_up(p, err);
}

static void
up_done_cb(struct upstream_req *up, enum upstream_error err, void *arg)
{
	struct proxy_req	*p = arg;
	const char		*pend;
	size_t			 plen;
	int			 rc;

	if (p->magic != PREQ_MAGIC)
		fatalx("proxy: bad request magic in upstream callback");
	p->up = NULL;
	if (p->req == NULL) {
		proxy_finish(p, OUTCOME_CLIENT_ABORTED);
		return;
	}
	if (p->reply_started) {
		/* A stream: end it, cleanly or with an error event. */
		if (err == UPSTREAM_OK) {
			pend = sse_parser_pending(p->sse, &plen);
			if (plen > 0)
				evbuffer_add(p->out, pend, plen);
			send_out(p);
		} else
			stream_error(p, upstream_error_text(err));
		reply_end(p);
		proxy_finish(p, err == UPSTREAM_OK ? OUTCOME_OK :
		    err == UPSTREAM_ETIMEOUT_IDLE ? OUTCOME_TIMEOUT :
		    OUTCOME_UPSTREAM_ERROR);
		return;
	}
	if (err != UPSTREAM_OK) {
		log_warn("request %s: provider %s (%s): %s", p->id,
		    p->model->provider->name, p->ep->url,
		    upstream_error_text(err));
		health_report(p->model->provider, p->epi, 0, util_now_ms());
		/*
		 * Only a failed connect proves the provider never saw the
		 * request; anything later may have produced (and cost)
		 * output, so it is never tried again.
		 */
		if (err == UPSTREAM_ECONNECT || err == UPSTREAM_ETIMEOUT_CONNECT)
			attempt_failed(p, err, "connect");
		else
			give_up(p, err);
		return;
	}
	if (p->upstream_status >= 300 && p->upstream_status < 400) {
		log_warn("request %s: provider %s (%s) answered %d; redirects "
		    "are never followed", p->id, p->model->provider->name,
		    p->ep->url, p->upstream_status);
		/* No usable answer: nothing produced, nothing billed. */
		evbuffer_free(p->answer);
		p->answer = NULL;
		p->upstream_status = 0;
		give_up(p, UPSTREAM_EREDIRECT);
		return;
	}
	if (p->upstream_status >= 500 || p->upstream_status == 429) {
		if (p->upstream_status >= 500)
			health_report(p->model->provider, p->epi, 0,
			    util_now_ms());
		attempt_failed(p, UPSTREAM_OK, p->upstream_status == 429 ?
		    "429" : "5xx");
		return;
	}
	health_report(p->model->provider, p->epi, 1, util_now_ms());
	/* A whole answer: meter it, then relay it as it came. */
	if (p->upstream_status >= 200 && p->upstream_status < 300) {
		const char	*b = (const char *)evbuffer_pullup(p->answer,
		    -1);
		size_t		 blen = evbuffer_get_length(p->answer);

		if (p->route->api == API_ANTHROPIC)
			rc = usage_anthropic_json(b, blen, &p->usage);
		else
			rc = usage_openai_json(b, blen, &p->usage);
		if (rc == -1)
			p->est_output = usage_estimate_tokens(blen);
	}
	if (p->ttft_ms < 0)
		p->ttft_ms = mono_ms() - p->mono_start;
	reply_send(p, p->upstream_status, p->answer);
	proxy_finish(p, p->upstream_status < 400 ? OUTCOME_OK :
	    OUTCOME_UPSTREAM_ERROR);
}

static const struct upstream_cbs proxy_up_cbs = {
	up_headers_cb, up_body_cb, up_done_cb
};

/* The body field that caps output on this route (NULL: no output). */
static const char *
cap_field(const struct proxy_req *p)
{
	int64_t	v;

	switch (p->route->kind) {
	case ROUTE_CHAT:
		return (reqbody_cap(&p->rb, "max_tokens", &v) ?
		    "max_tokens" : "max_completion_tokens");
	case ROUTE_COMPLETIONS:
	case ROUTE_MESSAGES:
		return ("max_tokens");
	case ROUTE_RESPONSES:
		return ("max_output_tokens");
	default:
		return (NULL);
	}
}

/* Worst case of the request at output cap out (see DESIGN.md 8.1). */
static void
reserve_amount(const struct proxy_req *p, int64_t out,
    struct budget_amount *a)
{
	struct usage	u;

	memset(&u, 0, sizeof u);
	/*
	 * A token is at least one byte of the body, so the body's length
	 * bounds the input tokens from above whatever the tokenizer.
	 */
	u.input = (int64_t)p->body_len;
	u.output = out;
	a->v[UNIT_USD] = price_cost_nusd(&p->model->price, &u);
	a->v[UNIT_TOKENS] = u.input + u.output;
	a->v[UNIT_REQUESTS] = 1;
}

/* Dollars for people: "100.00", "12.50", "0.00093" (at most 9 places). */
static void
usd_text(int64_t nusd, char out[32])
{
	size_t	len;

	price_format_usd(nusd, 9, out);
	len = strlen(out);
	while (len > 0 && out[len - 1] == '0' && strchr(out, '.') != NULL &&
	    len - (size_t)(strchr(out, '.') - out) > 3)
		out[--len] = '\0';
}

/* Refuse with the limit that said no (DESIGN.md section 7). */
static void
deny_budget(struct proxy_req *p)
{
	const struct budget_plan	*plan = p->plan;
	const struct budget_check	*k = &plan->checks[plan->denied];
	const struct budget_counter	*c = &plan->counters[k->counter];
	const struct budget_state	*st = &plan->state[k->counter];
	json_t				*extra;		/* new */
	int64_t				 used, wait_s;
	char				 resets[32], msg[256], lim[32], us[32];
	char				 ra[32];
	int				 rate = c->per == PER_MINUTE;

	used = st->used.v[k->unit] + st->leased.v[k->unit];
	util_rfc3339(c->end_ms, resets);
	wait_s = (c->end_ms - util_now_ms() + 999) / 1000;
	if (wait_s < 1)
		wait_s = 1;
	extra = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}",
	    "scope", c->scope == SCOPE_APP ? "app" : "team",
	    "unit", cfg_unit_name(k->unit), "per", cfg_per_name(c->per),
	    "limit", k->unit == UNIT_USD ? price_usd_json(k->limit) :
	    json_integer(k->limit),
	    "used", k->unit == UNIT_USD ? price_usd_json(used) :
	    json_integer(used), "resets_at", resets);
	if (k->unit == UNIT_USD) {
		usd_text(k->limit, lim);
		usd_text(used, us);
		snprintf(msg, sizeof msg, "%s %s exceeded: $%s per %s, $%s "
		    "used or reserved; resets at %s",
		    c->scope == SCOPE_APP ? "app" : "team",
		    rate ? "rate limit" : "budget", lim, cfg_per_name(c->per),
		    us, resets);
	} else
		snprintf(msg, sizeof msg, "%s %s exceeded: %lld %s per %s, "
		    "%lld used or reserved; resets at %s",
		    c->scope == SCOPE_APP ? "app" : "team",
		    rate ? "rate limit" : "budget", (long long)k->limit,
		    cfg_unit_name(k->unit), cfg_per_name(c->per),
		    (long long)used, resets);
	snprintf(ra, sizeof ra, "%lld", (long long)wait_s);
	if (p->req != NULL) {
		http_req_add_header(p->req, "retry-after", ra);
		if (!rate)
			http_req_add_header(p->req, "x-should-retry", "false");
	}
	proxy_error(p, rate ? ERR_RATE_LIMITED : ERR_BUDGET_EXCEEDED, msg,
	    extra);
	proxy_finish(p, OUTCOME_DENIED);
}

static void
reserve_cb(enum budget_result res, struct budget_plan *plan, void *arg)
{
	struct proxy_req		*p = arg;
	const struct budget_check	*k;
	const struct budget_store_ops	*fb;
	struct budget_amount		 base, per;
	int64_t				 afford, useful;

	if (p->magic != PREQ_MAGIC)
		fatalx("proxy: bad request magic in reserve callback");
	p->reserving = 0;
	if (res == BUDGET_OK)
		p->leased = 1;
	if (p->req == NULL) {
		/* The client left while the store was asked. */
		proxy_finish(p, OUTCOME_CLIENT_ABORTED);
		return;
	}
	switch (res) {
	case BUDGET_OK:
		count_budget(p);
		proxy_send(p);
		return;
	case BUDGET_UNAVAILABLE:
		if (server_budget(&fb) != NULL && fb != NULL &&
		    !p->fallback) {
			log_warn("request %s: counter store unreachable; "
			    "admitting against the in-process fallback", p->id);
			p->fallback = 1;
			admit_reserve(p);
			return;
		}
		proxy_deny(p, ERR_COUNTERS_UNAVAILABLE,
		    "budget counters are unavailable; try again shortly");
		return;
	case BUDGET_DENIED:
		if (p->falling_back) {
			/* Not affordable: the next fallback, not an endpoint. */
			p->tried = UINT32_MAX;
			attempt_failed(p, UPSTREAM_OK, "budget");
			return;
		}
		break;
	}
	/*
	 * Money or tokens short: when what is left still pays a useful part
	 * of the output cap, lower the cap instead of refusing (once).
	 */
	k = &plan->checks[plan->denied];
	useful = p->cap < MIN_USEFUL_OUTPUT ? p->cap : MIN_USEFUL_OUTPUT;
	if (!p->capped && p->cap_name != NULL && p->cap > 0 &&
	    k->unit != UNIT_REQUESTS) {
		reserve_amount(p, 0, &base);
		memset(&per, 0, sizeof per);
		per.v[UNIT_USD] = (price_rate(&p->model->price, PRICE_OUTPUT) +
		    999999) / 1000000;
		per.v[UNIT_TOKENS] = 1;
		afford = budget_affordable_output(plan, &base, &per);
		if (afford >= useful && afford > 0 && afford < p->cap) {
			p->cap = afford;
			p->capped = 1;
			p->inject_cap = 1;
			admit_reserve(p);
			return;
		}
	}
	deny_budget(p);
}

/* Reserve the worst case on every counter, then send. */
static void
admit_reserve(struct proxy_req *p)
{
	const struct budget_store_ops	*ops, *fb;
	struct worker			*w = p->w;

	ops = server_budget(&fb);
	reserve_amount(p, p->cap, &p->plan->reserve);
	p->plan->deadline_ms = util_now_ms() +
	    (int64_t)p->cfg->lease_ttl_s * 1000;
	renew_arm(w, (int64_t)p->cfg->lease_ttl_s * 1000);
	p->reserving = 1;
	if (p->fallback)
		fb->reserve(w->fallback_bctx, p->plan, reserve_cb, p);
	else
		ops->reserve(w->bctx, p->plan, reserve_cb, p);
}

/* Downgrade rules look at how full the windows are before reserving. */
static void
peek_cb(enum budget_result res, struct budget_plan *plan, void *arg)
{
	struct proxy_req	*p = arg;
	const struct cfg_model	*m;
	const char		*to;

	if (p->magic != PREQ_MAGIC)
		fatalx("proxy: bad request magic in peek callback");
	p->reserving = 0;
	if (p->req == NULL) {
		proxy_finish(p, OUTCOME_CLIENT_ABORTED);
		return;
	}
	if (res == BUDGET_OK &&
	    (to = policy_downgrade(p->app, p->model->name,
	    budget_used_ratio(plan))) != NULL &&
	    (m = cfg_find_model(p->cfg, to)) != NULL &&
	    m->provider->api == p->route->api &&
	    policy_allowed(p->app, m->name)) {
		log_info("request %s: downgrading %s to %s (budget %.0f%% used)",
		    p->id, p->model->name, m->name,
		    100 * budget_used_ratio(plan));
		p->model = m;
		p->body_model = m->name;
	}
	admit_reserve(p);
}

/*
 * Admission: output cap from the body and the policy, then, for an app
 * with limits, the lease.
 */
static void
admit(struct proxy_req *p)
{
	const struct budget_store_ops	*ops, *fb;
	int64_t				 pcap, v;
	int				 limited;

	/* A paid request is served only if its row can be recorded. */
	if (!ledger_healthy(server_ledger())) {
		proxy_deny(p, ERR_LEDGER_UNAVAILABLE, "the usage ledger cannot "
		    "record requests right now; try again shortly");
		return;
	}
	p->cap_name = cap_field(p);
	p->body_cap = -1;
	pcap = policy_max_output_tokens(p->app);
	if (p->cap_name != NULL) {
		if (reqbody_cap(&p->rb, p->cap_name, &v) && v != -1) {
			p->cap = p->body_cap = v;
			if (pcap > 0 && v > pcap) {
				p->cap = pcap;
				p->inject_cap = 1;
			}
		} else {
			p->cap = pcap > 0 ? pcap : DEFAULT_OUTPUT_CAP;
			if (pcap > 0)
				p->inject_cap = 1;
		}
	}
	p->plan = xmalloc(sizeof *p->plan);
	budget_plan_init(p->plan, p->app, p->ts_start);
	limited = budget_plan_limited(p->plan);
	if (!limited) {
		free(p->plan);
		p->plan = NULL;
		proxy_send(p);
		return;
	}
	/* A budget must bound the answer: ask for the cap it pays for. */
	if (p->cap_name != NULL)
		p->inject_cap = 1;
	memcpy(p->plan->lease_id, p->id, sizeof p->plan->lease_id);
	if (policy_downgrade(p->app, p->model->name, 1.0) != NULL) {
		ops = server_budget(&fb);
		p->reserving = 1;
		ops->peek(p->w->bctx, p->plan, peek_cb, p);
		return;
	}
	admit_reserve(p);
}

static void
proxy_forward(struct proxy_req *p)
{
	struct evbuffer		*in;
	const char		*resolved;
	const struct cfg_model	*model;
	enum policy_result	 pr;
	char			 buf[512], *cause;
	int			 rv;

	in = http_req_body(p->req);
	p->body_len = evbuffer_get_length(in);
	rv = reqbody_parse((const char *)evbuffer_pullup(in, -1), p->body_len,
	    p->route->kind == ROUTE_EMBEDDINGS, &p->rb, &cause);
	p->model_requested = p->rb.model;
	p->stream = p->rb.stream;
	if (rv == -1) {
		proxy_deny(p, ERR_INVALID_REQUEST, cause);
		free(cause);
		return;
	}

	pr = policy_resolve(p->cfg, p->app, p->model_requested, &resolved,
	    &model);
	if (pr != POLICY_OK) {
		const char	**names;
		size_t		  n, i, off;

		names = policy_allowed_models(p->cfg, p->app, &n);
		off = (size_t)snprintf(buf, sizeof buf, "model \"%.100s\" %s; "
		    "allowed: ", resolved, pr == POLICY_UNKNOWN_MODEL ?
		    "is not in the price table" : "is not allowed for this app");
		for (i = 0; i < n && off < sizeof buf - 1; i++)
			off += (size_t)snprintf(buf + off, sizeof buf - off,
			    "%s%s", i ? ", " : "", names[i]);
		if (n == 0)
			snprintf(buf + off, sizeof buf - off, "none");
		free(names);
		proxy_deny(p, ERR_MODEL_NOT_ALLOWED, buf);
		return;
	}
	p->model = model;
	p->primary = model;
	if (model->provider->api != p->route->api) {
		proxy_deny(p, ERR_INVALID_REQUEST, p->route->api == API_ANTHROPIC ?
		    "this model is not served through the Anthropic Messages "
		    "API" : "this model is not served through the OpenAI API");
		return;
	}
	if (model->provider->key == NULL) {
		log_error("provider %s has no key: %s is not set",
		    model->provider->name, model->provider->key_env);
		proxy_deny(p, ERR_UPSTREAM_ERROR,
		    "the provider for this model is not configured");
		return;
	}
	if (strcmp(resolved, p->model_requested) != 0)
		p->body_model = resolved;
	/*
	 * Streams must report usage: ask for it when the client did not, and
	 * drop the extra chunk before the client sees it.
	 */
	if (p->stream && (p->route->kind == ROUTE_CHAT ||
	    p->route->kind == ROUTE_COMPLETIONS) && !p->rb.include_usage)
		p->strip_usage = 1;
	admit(p);
}

/* Forward the (possibly rewritten) request to the provider. */
static void
proxy_send(struct proxy_req *p)
{
	struct evbuffer		*in, *head, *body;
	const struct cfg_provider *prov;
	struct reqbody_edit	 e;
	int64_t			 left;
	char			*s, buf[64];
	size_t			 len;
	int			 wait_s;

	/* The model, the cap when it changes, the ask for stream usage. */
	e.model = p->body_model;
	e.cap_name = p->inject_cap && p->cap != p->body_cap ? p->cap_name :
	    NULL;
	e.cap = p->cap;
	e.include_usage = p->strip_usage;
	if (p->capped) {
		util_lltoa(p->cap, buf);
		http_req_add_header(p->req, "x-tollgate-output-capped", buf);
	}
	if (p->plan != NULL && (left = budget_remaining_nusd(p->plan)) >= 0) {
		price_format_usd(left, 6, buf);
		http_req_add_header(p->req, "x-tollgate-budget-remaining-usd",
		    buf);
	}
	/* A copy: another attempt may need the client's bytes again. */
	body = evbuffer_new();
	in = http_req_body(p->req);
	len = evbuffer_get_length(in);
	if (e.model != NULL || e.cap_name != NULL || e.include_usage) {
		len = reqbody_write(&p->rb, (const char *)evbuffer_pullup(in,
		    -1), len, &e, &s);
		evbuffer_add(body, s, len);
		free(s);
	} else
		evbuffer_add(body, evbuffer_pullup(in, -1), len);
	/*
	 * The client connection's timeout was the header timeout; an answer
	 * may take as long as the provider's timeouts allow, and a stream may
	 * pause between events as long as the idle timeout does.
	 */
	prov = p->model->provider;
	wait_s = (prov->first_byte_timeout_ms > prov->idle_timeout_ms ?
	    prov->first_byte_timeout_ms : prov->idle_timeout_ms) / 1000 + 30;
	if (p->req != NULL)
		http_req_set_write_timeout(p->req, wait_s);
	p->epi = health_pick(prov, p->tried, util_now_ms());
	if (p->epi >= prov->nendpoints)
		p->epi = 0;
	p->tried |= 1U << (p->epi < 32 ? p->epi : 31);
	p->ep = &prov->endpoints[p->epi];
	head = evbuffer_new();
	build_head(p, head, evbuffer_get_length(body));
	p->attempts++;
	p->up = upstream_send(p->w->pool, p->model->provider, p->ep, head,
	    body, &proxy_up_cbs, p);
	evbuffer_free(head);
	evbuffer_free(body);
	if (p->up == NULL) {
		proxy_error(p, ERR_UPSTREAM_ERROR,
		    "could not start a connection to the provider", NULL);
		proxy_finish(p, OUTCOME_UPSTREAM_ERROR);
	}
}

void
proxy_request_cb(struct http_req *req, void *arg)
{
	struct worker		*w = arg;
	struct proxy_req	*p;
	const char		*path, *key, *why, *method;
	const struct cfg_key	*entry;
	const unsigned char	*pepper;
	size_t			 plen, keylen, pepperlen;
	enum auth_result	 ar;
	int			 known, bad;

	if (w->magic != WORKER_MAGIC)
		fatalx("proxy: bad worker magic");
	p = xcalloc(1, sizeof *p);
	p->magic = PREQ_MAGIC;
	p->w = w;
	p->req = req;
	p->cfg = server_cfg();
	p->ts_start = util_now_ms();
	p->mono_start = mono_ms();
	p->ttft_ms = -1;
	p->api = API_OPENAI;
	proxy_new_id(w, p->id);
	w->active++;
	if ((p->next = w->reqs) != NULL)
		p->next->prevp = &p->next;
	w->reqs = p;
	p->prevp = &w->reqs;

	http_req_add_header(req, "x-request-id", p->id);
	http_req_set_close_cb(req, client_close_cb, p);
	trace_context(p, http_req_header(req, "traceparent"));

	if ((path = http_req_path(req)) == NULL)
		path = "/";
	plen = strlen(path);
	p->route = route_find(path, plen, &known);
	snprintf(p->path, sizeof p->path, "%s", p->route != NULL ?
	    p->route->path : "other");
	if (plen >= 12 && strncmp(path, "/v1/messages", 12) == 0)
		p->api = API_ANTHROPIC;

	/*
	 * The listener refused it (a malformed or oversized request, or
	 * ambiguous framing): answer why; the connection then closes.
	 */
	if ((bad = http_req_error(req, &why)) != 0) {
		proxy_deny(p, bad == 413 ? ERR_BODY_TOO_LARGE : bad == 431 ?
		    ERR_HEADERS_TOO_LARGE : ERR_INVALID_REQUEST, why);
		return;
	}
	if (p->route == NULL) {
		proxy_deny(p, ERR_NOT_FOUND, "no such route");
		return;
	}
	method = http_req_method(req);
	if (method == NULL || strcmp(method, p->route->method) != 0) {
		proxy_deny(p, ERR_METHOD_NOT_ALLOWED, "method not allowed "
		    "on this route");
		return;
	}
	if (w->draining) {
		http_req_close_after(req);
		proxy_deny(p, ERR_SHUTTING_DOWN, "tollgate is shutting down");
		return;
	}

	if (http_req_header_count(req, "Authorization") > 1 ||
	    http_req_header_count(req, "x-api-key") > 1)
		ar = AUTH_MALFORMED;
	else
		ar = auth_extract(http_req_header(req, "Authorization"),
		    http_req_header(req, "x-api-key"), &key, &keylen);
	if (ar == AUTH_OK) {
		pepper = server_pepper(&pepperlen);
		ar = auth_check(p->cfg, pepper, pepperlen, key, keylen,
		    p->ts_start, &entry);
	}
	if (ar != AUTH_OK) {
		proxy_deny(p, ERR_INVALID_API_KEY, "invalid API key");
		return;
	}
	p->key = entry;
	p->app = entry->app;

	if (p->route->kind == ROUTE_MODELS) {
		models_list(p);
		return;
	}
	proxy_forward(p);
}

/* Fill usage for a request the provider did not (fully) report. */
static void
usage_settle(struct proxy_req *p, enum ledger_outcome outcome)
{
	struct usage	*u = &p->usage;

	if (p->model == NULL || outcome == OUTCOME_DENIED)
		return;
	if (u->source == USAGE_PROVIDER && (p->stream_done || !p->stream ||
	    outcome == OUTCOME_OK))
		return;
	if (outcome != OUTCOME_OK && p->upstream_status == 0 &&
	    u->source == USAGE_NONE)
		return;		/* the provider never answered */
	if (p->upstream_status >= 400)
		return;		/* the provider refused: no tokens */
	if (u->source == USAGE_NONE || u->input == 0) {
		int64_t	in = usage_estimate_tokens(p->body_len);

		if (in > u->input)
			u->input = in;
	}
	if (p->est_output > u->output)
		u->output = p->est_output;
	u->source = u->source == USAGE_NONE && outcome == OUTCOME_OK ?
	    USAGE_ESTIMATED : u->source == USAGE_NONE ? USAGE_ESTIMATED :
	    USAGE_PARTIAL;
}

static void
access_log(struct proxy_req *p, struct ledger_row *row)
{
	struct log_line	l;
	char		usd[32];

	if (log_line_begin(&l, LOG_LVL_INFO, "access") == -1)
		return;
	price_format_usd(row->cost_nusd, 6, usd);
	log_line_str(&l, "request_id", row->request_id);
	log_line_str(&l, "app", row->app);
	log_line_str(&l, "team", row->team);
	log_line_str(&l, "owner", p->app != NULL ? p->app->owner : NULL);
	log_line_str(&l, "key_id", row->key_id);
	log_line_str(&l, "route", row->route);
	log_line_str(&l, "model", row->model);
	log_line_int(&l, "status", row->status);
	log_line_str(&l, "outcome", ledger_outcome_name(row->outcome));
	log_line_int(&l, "input_tokens", row->input_tokens);
	log_line_int(&l, "output_tokens", row->output_tokens);
	log_line_str(&l, "cost_usd", usd);
	log_line_int(&l, "latency_ms", row->latency_ms);
	if (row->ttft_ms >= 0)
		log_line_int(&l, "ttft_ms", row->ttft_ms);
	else
		log_line_str(&l, "ttft_ms", NULL);
	log_line_str(&l, "traceparent", p->traceparent);
	log_line_end(&l);
}

/* Metrics of a finished request; labels come from the configuration. */
static void
count(const struct proxy_req *p, const struct ledger_row *row)
{
	const char	*app = row->app != NULL ? row->app : "none";
	const char	*model = row->model != NULL ? row->model : "none";
	char		 code[21];

	util_lltoa(row->status, code);
	metrics_add(M_REQUESTS, 1, app, model, code);
	if (row->outcome == OUTCOME_DENIED)
		metrics_add(M_DENIED, 1, app, p->errcode != NULL ? p->errcode :
		    "denied", NULL);
	if (row->input_tokens > 0) {
		metrics_add(M_TOKENS, (double)row->input_tokens, app, model,
		    "input");
		metrics_add(M_TOKENS, (double)row->cached_input_tokens, app,
		    model, "cached_input");
		metrics_add(M_TOKENS, (double)row->cache_write_tokens, app,
		    model, "cache_write");
	}
	if (row->output_tokens > 0) {
		metrics_add(M_TOKENS, (double)row->output_tokens, app, model,
		    "output");
		metrics_add(M_TOKENS, (double)row->reasoning_tokens, app,
		    model, "reasoning");
	}
	if (row->cost_nusd > 0)
		metrics_add(M_COST, (double)row->cost_nusd / 1e9, app, model,
		    NULL);
	metrics_observe(M_DURATION, (double)row->latency_ms / 1000);
	if (row->ttft_ms >= 0)
		metrics_observe(M_TTFT, (double)row->ttft_ms / 1000);
	if (p->reply_started)
		metrics_add(M_ACTIVE_STREAMS, -1, NULL, NULL, NULL);
}

/* How full each limit is, as the store saw it at admission. */
static void
count_budget(const struct proxy_req *p)
{
	const struct budget_check	*k;
	const struct budget_state	*st;
	char				 label[64];
	size_t				 i;

	for (i = 0; i < p->plan->nchecks; i++) {
		k = &p->plan->checks[i];
		st = &p->plan->state[k->counter];
		snprintf(label, sizeof label, "%s:%s/%s",
		    p->plan->counters[k->counter].scope == SCOPE_APP ? "app" :
		    "team", cfg_unit_name(k->unit),
		    cfg_per_name(p->plan->counters[k->counter].per));
		metrics_set(M_BUDGET_RATIO, (double)(st->used.v[k->unit] +
		    st->leased.v[k->unit] + p->plan->reserve.v[k->unit]) /
		    (double)k->limit, p->app->name, label, NULL);
	}
}

/* Settle the lease at plan->actual on the store that holds it. */
static void
lease_settle(struct proxy_req *p)
{
	const struct budget_store_ops	*ops, *fb;

	ops = server_budget(&fb);
	if (p->fallback)
		fb->settle(p->w->fallback_bctx, p->plan);
	else
		ops->settle(p->w->bctx, p->plan);
	p->leased = 0;
}

/* Give the lease back unused (the attempt it paid for never ran). */
static void
release(struct proxy_req *p)
{
	memset(&p->plan->actual, 0, sizeof p->plan->actual);
	lease_settle(p);
}

/* Replace the lease by what the request actually cost (once). */
static void
settle(struct proxy_req *p, const struct ledger_row *row)
{
	p->plan->actual.v[UNIT_USD] = row->cost_nusd;
	p->plan->actual.v[UNIT_TOKENS] = row->input_tokens +
	    row->output_tokens;
	p->plan->actual.v[UNIT_REQUESTS] = 1;
	lease_settle(p);
	alert_check(p->cfg, p->app, p->plan, p->w->pool);
}

static char *
dup_or_null(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

/*
 * The one end of every request: settle usage, price it, write the ledger
 * row and the access line, free.  Called exactly once per request.
 */
static void
proxy_finish(struct proxy_req *p, enum ledger_outcome outcome)
{
	struct ledger_row	*row;
	struct worker		*w = p->w;

	if (p->magic != PREQ_MAGIC)
		fatalx("proxy: finishing a request twice");
	if (p->up != NULL) {
		upstream_cancel(p->up);
		p->up = NULL;
	}
	if (p->req != NULL) {
		/* Never leave a client without an answer. */
		if (p->reply_started)
			reply_end(p);
		else {
			http_req_close_after(p->req);
			reply_send(p, 500, NULL);
		}
	}
	usage_settle(p, outcome);

	row = ledger_row_new();
	row->request_id = xstrdup(p->id);
	row->ts_start = p->ts_start;
	row->latency_ms = mono_ms() - p->mono_start;
	row->ts_end = p->ts_start + row->latency_ms;
	if (p->app != NULL) {
		row->app = xstrdup(p->app->name);
		row->team = xstrdup(p->app->team->name);
		row->cost_center = dup_or_null(p->app->team->cost_center);
		row->tier = xstrdup(p->app->tier->name);
	}
	if (p->key != NULL)
		row->key_id = xstrdup(p->key->id);
	row->route = xstrdup(p->path);
	if (p->model != NULL) {
		row->provider = xstrdup(p->model->provider->name);
		row->model = xstrdup(p->model->name);
	}
	if (p->ep != NULL && p->attempts > 0)
		row->upstream = xstrdup(p->ep->url);
	row->attempts = p->attempts;
	row->model_requested = dup_or_null(p->model_requested);
	row->stream = p->stream;
	row->status = p->status;
	row->outcome = outcome;
	row->input_tokens = p->usage.input;
	row->cached_input_tokens = p->usage.cached_input;
	row->cache_write_tokens = p->usage.cache_write;
	row->output_tokens = p->usage.output;
	row->reasoning_tokens = p->usage.reasoning;
	row->usage_source = xstrdup(usage_source_name(p->usage.source ==
	    USAGE_NONE ? USAGE_PROVIDER : p->usage.source));
	if (p->model != NULL)
		row->cost_nusd = price_cost_nusd(&p->model->price, &p->usage);
	row->price_version = xstrdup(p->cfg->price_version);
	row->ttft_ms = p->ttft_ms;
	if (p->leased)
		settle(p, row);
	if (p->cfg->log_access)
		access_log(p, row);
	count(p, row);
	ledger_enqueue(server_ledger(), row);

	sse_parser_free(p->sse);
	free(p->plan);
	reqbody_clear(&p->rb);
	if (p->answer != NULL)
		evbuffer_free(p->answer);
	if (p->first_answer != NULL)
		evbuffer_free(p->first_answer);
	if (p->out != NULL)
		evbuffer_free(p->out);
	cfg_unref(p->cfg);
	if (p->next != NULL)
		p->next->prevp = p->prevp;
	*p->prevp = p->next;
	p->magic = 0;
	server_request_done(w);
	free(p);
}

/*
 * Have the renewal timer fire within a third of ttl_ms from now, at most
 * RENEW_MAX_MS.  A third leaves two more tries when one renewal is lost
 * (Redis restarting); the cap keeps retrying often under a long TTL.
 */
static void
renew_arm(struct worker *w, int64_t ttl_ms)
{
	struct timeval	tv, due, now;
	int64_t		ms = ttl_ms / 3;

	if (ms > RENEW_MAX_MS)
		ms = RENEW_MAX_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_pending(w->ev_renew, &due)) {
		event_base_gettimeofday_cached(w->base, &now);
		evutil_timeradd(&now, &tv, &now);
		if (evutil_timercmp(&due, &now, <=))
			return;
	}
	evtimer_add(w->ev_renew, &tv);
}

/*
 * Renew the lease of every request of w still running, to now + its own
 * generation's lease_ttl_s, on the store that holds it; then again after
 * a third of the shortest TTL in play, while there is any.  Only this live
 * process renews: a crashed one's leases lapse.
 */
static void
renew_cb(evutil_socket_t fd, short events, void *arg)
{
	const struct budget_store_ops	*ops, *fb;
	struct worker			*w = arg;
	struct proxy_req		*p;
	int64_t				 now, ttl_ms, next_ms = 0;

	if (w->magic != WORKER_MAGIC)
		fatalx("proxy: bad worker magic in renew");
	ops = server_budget(&fb);
	now = util_now_ms();
	for (p = w->reqs; p != NULL; p = p->next) {
		if (p->plan == NULL)
			continue;
		ttl_ms = (int64_t)p->cfg->lease_ttl_s * 1000;
		if (next_ms == 0 || ttl_ms < next_ms)
			next_ms = ttl_ms;
		if (!p->leased || p->reserving)
			continue;	/* a reserve will set the deadline */
		p->plan->deadline_ms = now + ttl_ms;
		if (p->fallback)
			fb->renew(w->fallback_bctx, p->plan);
		else
			ops->renew(w->bctx, p->plan);
	}
	if (next_ms > 0)
		renew_arm(w, next_ms);
}

void
proxy_renew_init(struct worker *w)
{
	if ((w->ev_renew = evtimer_new(w->base, renew_cb, w)) == NULL)
		fatalx("proxy: evtimer_new failed");
}

void
proxy_abort_all(struct worker *w)
{
	struct proxy_req	*p, *next;

	for (p = w->reqs; p != NULL; p = next) {
		next = p->next;
		if (p->reserving) {
			/* Answer now; the store's callback finishes it. */
			proxy_error(p, ERR_SHUTTING_DOWN,
			    "tollgate is shutting down", NULL);
			continue;
		}
		if (p->reply_started && p->req != NULL) {
			stream_error(p, "tollgate is shutting down");
			reply_end(p);
		} else
			proxy_error(p, ERR_SHUTTING_DOWN,
			    "tollgate is shutting down", NULL);
		proxy_finish(p, OUTCOME_TIMEOUT);
	}
}
