/*
 * mock-upstream: a fake OpenAI and Anthropic provider for the e2e tests and
 * the quickstart, on libevent's evhttp.
 *
 *	mock-upstream [--port N] [--port-file F] [--tls-cert C --tls-key K]
 *	    [--expect-key KEY] [--chunks N] [--delay-ms N] [--split N]
 *	    [--fixtures DIR]
 *
 * It binds 127.0.0.1 (port 0: any free port), writes "N\n" to the port
 * file and prints "port N" on stdout.  Routes: POST /v1/chat/completions,
 * /v1/completions, /v1/embeddings, /v1/responses (OpenAI shapes) and
 * /v1/messages (Anthropic shape), streamed as SSE over chunked encoding
 * when the body says "stream": true, else one JSON body with
 * Content-Length.  With --expect-key, OpenAI routes want
 * "Authorization: Bearer KEY" and /v1/messages "x-api-key: KEY", else 401.
 * GET /mock/stats reports what was asked and answered; POST /mock/reset
 * zeroes it; POST /mock/config sets new defaults from a control object
 * (e.g. {"status": 503} to fail everything, {"status": 0} to stop).  /mock/ requests are not counted.
 * GET /mock/completed lists the answers handed over in full, as text lines
 * "UNIX-MS X-REQUEST-ID" in order (the crash tests compare it with the
 * ledger); POST /mock/reset empties it too.
 *
 * Tokens are deterministic: input = ceil(request body bytes / 4); output =
 * 2 per content delta ("tok0 ", "tok1 ", ...), plus reasoning; cached,
 * cache_write and reasoning 0.  "input" is all input, cache included (as
 * the ledger counts it): Anthropic reports input_tokens = input - cached -
 * cache_write.  OpenAI has no cache_write and Anthropic no reasoning field;
 * those are reported (and recorded in the stats) as 0.
 *
 * A request body may carry a top-level "mock" object (tollgate forwards
 * bodies unchanged); each member overrides the command-line default:
 *	"chunks": N		content deltas (default --chunks, 3)
 *	"delay_ms": N		wait before each content delta
 *	"split": N		write the body in pieces of N bytes, 2 ms apart,
 *				so the peer sees them as separate reads
 *	"status": N		answer N with a provider-shaped error body
 *	"stall_ms": N		wait N ms before sending the headers
 *	"stall_after": N	after N deltas stop sending, keep the connection
 *	"reset_after": N	after N deltas reset the connection (RST)
 *				(non-stream answers: both cut the body in half)
 *	"no_usage": true	omit usage everywhere
 *	"usage": {"input", "cached_input", "cache_write", "output",
 *	    "reasoning"}	report these numbers instead
 *	"garbage": true		non-JSON body, or one broken SSE event after
 *				the first delta
 *	"status_models": [..]	"status" applies only to these models
 *	"fixed_id": true	id and timestamp the same for every answer,
 *				so two answers can be compared byte by byte
 *	"fixture": "D/NAME"	answer with the bytes of the recorded answer
 *				DIR/D/NAME.sse (text/event-stream) or
 *				DIR/D/NAME.json (application/json with
 *				Content-Length), DIR from --fixtures
 *	"hostile": MODE		bytes no provider should send (see
 *				hostile_start()); "redirect": URL a 3xx
 *
 * A fixture is replayed exactly, whatever the request says; "split",
 * "delay_ms", "status", "stall_ms", "stall_after" and "reset_after" still
 * apply ("chunks", "usage", "no_usage", "garbage" and "fixed_id" do not).
 * Without delay_ms, stall_after and reset_after a stream is one piece, so
 * "split" cuts it at offsets that ignore event boundaries; with them, each
 * event (up to and including its blank line) counts as a content delta.
 * The sidecar DIR/D/NAME.expect holds one line "route input cached_input
 * cache_write output reasoning": the route the fixture answers (another
 * path is refused) and the counts the stats record for it.  A name is two
 * components of [A-Za-z0-9._-] that do not start with a dot, so it cannot
 * leave DIR; an unknown or bad name is answered 400 in the route's shape.
 *
 * Stats: {"requests", "by_path": {path: n}, "completed" (answers handed
 * over in full, errors included), "last": {"method", "path", "headers"
 * (names lower-cased), "body"}, "usage": [{"path", "stream", "reported",
 * "input", "cached_input", "cache_write", "output", "reasoning"}, ...],
 * "hostile": {"mode", "bytes", "end"} (the last hostile answer),
 * "connections" (accepted, less those that asked /mock/), "keys":
 * {"provider", "other", "none"} (requests by credential)}
 * with one usage entry per completed 200 answer, in order.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define MOCK_MAX_CHUNKS	100000
#define MOCK_MAX_MS	3600000
#define MOCK_PIECE_MS	2
#define MOCK_MAX_FIXTURE (1 << 20)

enum api { API_CHAT, API_COMPLETIONS, API_EMBEDDINGS, API_RESPONSES,
    API_MESSAGES };

static const struct route {
	const char	*path;
	enum api	 api;
} routes[] = {
	{ "/v1/chat/completions", API_CHAT },
	{ "/v1/completions", API_COMPLETIONS },
	{ "/v1/embeddings", API_EMBEDDINGS },
	{ "/v1/responses", API_RESPONSES },
	{ "/v1/messages", API_MESSAGES },
};

enum { U_IN, U_CACHED, U_WRITE, U_OUT, U_REASON, U_N };
static const char *const ukeys[U_N] = { "input", "cached_input",
    "cache_write", "output", "reasoning" };

/* Per-request behaviour: command-line defaults, then the "mock" object. */
struct ctl {
	long long	chunks, delay_ms, split, status, stall_ms;
	long long	stall_after, reset_after;	/* -1: off */
	int		no_usage, garbage, fixed_id;
	long long	u[U_N];				/* -1: computed */
};

/* A recorded answer loaded from the fixtures directory. */
struct fixture {
	char		*body;
	size_t		 len;
	int		 loaded;
	int		 sse;		/* .sse, else .json */
	long long	 u[U_N];	/* from the .expect sidecar */
};

/* One answer in progress: the pieces to write and where we are. */
struct answer {
	struct evhttp_request		*req;
	struct evhttp_connection	*evcon;
	struct event			*timer;
	enum api			 api;
	const char			*path;		/* static */
	struct ctl			 ctl;
	long long			 u[U_N];	/* what we report */
	int				 stream, include_usage;
	char				*model;
	char				 id[48];
	long long			 created, seq;
	long long			 ninputs;	/* embeddings */
	int				 garbage_pending;
	struct fixture			 fx;		/* replayed if loaded */

	char				**ev;		/* bytes to write */
	size_t				*evlen;
	int				*content;	/* a content delta */
	size_t				 nev, evcap;
	size_t				 i, off;	/* next byte to write */
	size_t				 cut;		/* stall/reset here */
	int				 cut_reset;
	int				 resetting;	/* ticks waited */
	int				 started;
};

static struct event_base	*base;
static SSL_CTX			*ssl_ctx;
static struct ctl		 defaults = { 3, 0, 0, 0, 0, -1, -1, 0, 0, 0,
				    { -1, -1, -1, -1, -1 } };
static const char		*opt_expect_key;
static const char		*opt_fixtures;
static unsigned long		 id_counter;

static long long		 st_requests, st_completed;
static json_t			*st_by_path, *st_last, *st_usage;
static json_t			*st_hostile;	/* hostile_start() */
static long long		 st_connections, st_admin;
static long long		 st_keys[3];	/* see keys_record() */

static void	answer_step(struct answer *);

/*
 * GET /mock/completed: one line "UNIX-MS X-REQUEST-ID" per answer handed
 * over in full (error answers included) whose request carried a plain
 * X-Request-Id.  The time is taken when the last bytes are queued, a
 * moment before they leave: a crash test that measures how long after
 * this a row may still be missing errs on the strict side.
 */
static struct evbuffer		*st_done;

static void
done_reset(void)
{
	if (st_done != NULL)
		evbuffer_free(st_done);
	if ((st_done = evbuffer_new()) == NULL)
		abort();
}

static void
done_record(struct evhttp_request *req)
{
	struct timespec	 ts;
	const char	*rid, *c;

	rid = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Request-Id");
	if (rid == NULL || *rid == '\0' || strlen(rid) > 64)
		return;
	for (c = rid; *c != '\0'; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return;
	clock_gettime(CLOCK_REALTIME, &ts);
	evbuffer_add_printf(st_done, "%lld %s\n", (long long)ts.tv_sec * 1000 +
	    ts.tv_nsec / 1000000, rid);
}

/* A copy: evhttp_send_reply() drains the buffer it is given. */
static void
done_send(struct evhttp_request *req)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL)
		abort();
	evbuffer_add(b, evbuffer_pullup(st_done, -1),
	    evbuffer_get_length(st_done));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_send_reply(req, 200, NULL, b);
	evbuffer_free(b);
}

static void
stats_reset(void)
{
	done_reset();
	json_decref(st_by_path);
	json_decref(st_last);
	json_decref(st_usage);
	json_decref(st_hostile);
	st_requests = st_completed = 0;
	st_hostile = json_null();
	st_connections = st_admin = 0;
	memset(st_keys, 0, sizeof st_keys);
	st_by_path = json_object();	/* new */
	st_last = json_null();
	st_usage = json_array();	/* new */
}

/* A JSON string from bytes that may not be UTF-8 (new reference). */
static json_t *
json_bytes(const char *p, size_t len)
{
	json_t	*s;
	char	*copy;
	size_t	 i;

	if ((s = json_stringn(p, len)) != NULL)
		return (s);
	if ((copy = malloc(len + 1)) == NULL)
		abort();
	for (i = 0; i < len; i++)
		copy[i] = (unsigned char)p[i] < 0x80 ? p[i] : '?';
	s = json_stringn(copy, len);
	free(copy);
	return (s);
}

/* Send a JSON body with Content-Length; steals body. */
static void
send_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer	*buf;
	char		*s;

	if ((buf = evbuffer_new()) == NULL)
		abort();
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s != NULL)
		evbuffer_add(buf, s, strlen(s));
	free(s);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
}

/* An error in the shape of the API the path belongs to (counted). */
static void
send_error(struct evhttp_request *req, enum api api, int code,
    const char *msg)
{
	static const struct {
		int		 code;
		const char	*otype, *ocode, *atype;
	} kinds[] = {
		{ 400, "invalid_request_error", "invalid_request",
		    "invalid_request_error" },
		{ 401, "invalid_request_error", "invalid_api_key",
		    "authentication_error" },
		{ 404, "invalid_request_error", "not_found",
		    "not_found_error" },
		{ 405, "invalid_request_error", "not_found",
		    "not_found_error" },
		{ 429, "requests", "rate_limit_exceeded", "rate_limit_error" },
		{ 503, "server_error", "overloaded", "overloaded_error" },
		{ 529, "server_error", "overloaded", "overloaded_error" },
		{ 0, "server_error", "server_error", "api_error" },
	};
	size_t	k;

	for (k = 0; kinds[k].code != 0 && kinds[k].code != code; k++)
		continue;
	if (code == 429 || code == 503 || code == 529)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "retry-after", "1");
	st_completed++;
	done_record(req);
	if (api == API_MESSAGES)
		send_json(req, code, json_pack("{s:s, s:{s:s, s:s}}",
		    "type", "error", "error", "type", kinds[k].atype, "message",
		    msg));
	else
		send_json(req, code, json_pack("{s:{s:s, s:s, s:n, s:s}}",
		    "error", "message", msg, "type", kinds[k].otype, "param",
		    "code", kinds[k].ocode));
}

/* Queue bytes to write; content marks a content delta.  Steals s. */
static void
answer_add(struct answer *a, char *s, size_t len, int content)
{
	if (a->nev == a->evcap) {
		a->evcap = a->evcap ? a->evcap * 2 : 16;
		a->ev = realloc(a->ev, a->evcap * sizeof *a->ev);
		a->evlen = realloc(a->evlen, a->evcap * sizeof *a->evlen);
		a->content = realloc(a->content, a->evcap *
		    sizeof *a->content);
		if (a->ev == NULL || a->evlen == NULL || a->content == NULL)
			abort();
	}
	a->ev[a->nev] = s;
	a->evlen[a->nev] = len;
	a->content[a->nev] = content;
	a->nev++;
}

/*
 * Queue one SSE event: "event: name\n" (when named) and "data: JSON\n\n";
 * steals data.  With "garbage", a broken event follows the first delta.
 */
static void
sse(struct answer *a, const char *name, json_t *data, int content)
{
	char	*js, *s;
	int	 n;

	js = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (name != NULL)
		n = asprintf(&s, "event: %s\ndata: %s\n\n", name,
		    js != NULL ? js : "{}");
	else
		n = asprintf(&s, "data: %s\n\n", js != NULL ? js : "{}");
	free(js);
	if (n == -1)
		abort();
	answer_add(a, s, (size_t)n, content);
	if (content && a->garbage_pending) {
		a->garbage_pending = 0;
		n = asprintf(&s, "%s%s%sdata: {\"type\": \"broken\", \"x\n\n",
		    name != NULL ? "event: " : "", name != NULL ? name : "",
		    name != NULL ? "\n" : "");
		if (n == -1)
			abort();
		answer_add(a, s, (size_t)n, 0);
	}
}

/* The whole non-stream body; steals o. */
static void
body(struct answer *a, json_t *o)
{
	char	*s;

	if (a->ctl.garbage) {
		json_decref(o);
		s = strdup("this is not JSON {\"usage\": {\"prompt_tok");
	} else {
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	if (s == NULL)
		abort();
	answer_add(a, s, strlen(s), 0);
}

/* Content delta i and the whole text: "tok0 tok1 ...", 2 tokens each. */
static json_t *
delta_text(long long i)
{
	char	buf[32];

	snprintf(buf, sizeof buf, "tok%lld ", i);
	return (json_string(buf));
}

static char *
full_text(const struct answer *a)
{
	char		*s;
	size_t		 len = 0;
	long long	 i;

	if ((s = malloc((size_t)a->ctl.chunks * 24 + 1)) == NULL)
		abort();
	s[0] = '\0';
	for (i = 0; i < a->ctl.chunks; i++)
		len += (size_t)snprintf(s + len, 24, "tok%lld ", i);
	return (s);
}

/* OpenAI chat and completions usage object (new reference). */
static json_t *
openai_usage(const struct answer *a)
{
	const long long	*u = a->u;

	return (json_pack("{s:I, s:I, s:I, s:{s:I, s:i}, s:{s:I, s:i, s:i, "
	    "s:i}}", "prompt_tokens", u[U_IN], "completion_tokens", u[U_OUT],
	    "total_tokens", u[U_IN] + u[U_OUT], "prompt_tokens_details",
	    "cached_tokens", u[U_CACHED], "audio_tokens", 0,
	    "completion_tokens_details", "reasoning_tokens", u[U_REASON],
	    "audio_tokens", 0, "accepted_prediction_tokens", 0,
	    "rejected_prediction_tokens", 0));
}

/* A chat.completion.chunk or streamed text_completion; steals choice. */
static void
openai_chunk(struct answer *a, json_t *choice, int content)
{
	json_t	*o;

	o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[]}", "id", a->id,
	    "object", a->api == API_CHAT ? "chat.completion.chunk" :
	    "text_completion", "created", a->created, "model", a->model,
	    "system_fingerprint", "fp_mock", "choices");
	if (choice != NULL)
		json_array_append_new(json_object_get(o, "choices"), choice);
	if (a->include_usage && !a->ctl.no_usage)
		json_object_set_new(o, "usage", choice == NULL ?
		    openai_usage(a) : json_null());
	sse(a, NULL, o, content);
}

/* POST /v1/chat/completions and /v1/completions. */
static void
answer_openai(struct answer *a)
{
	json_t		*o, *choice;
	char		*text;
	long long	 i;
	int		 chat = a->api == API_CHAT;

	if (!a->stream) {
		text = full_text(a);
		if (chat)
			choice = json_pack("{s:i, s:{s:s, s:s, s:n}, s:n, "
			    "s:s}", "index", 0, "message", "role", "assistant",
			    "content", text, "refusal", "logprobs",
			    "finish_reason", "stop");
		else
			choice = json_pack("{s:s, s:i, s:n, s:s}", "text", text,
			    "index", 0, "logprobs", "finish_reason", "stop");
		free(text);
		o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[o]}", "id", a->id,
		    "object", chat ? "chat.completion" : "text_completion",
		    "created", a->created, "model", a->model,
		    "system_fingerprint", "fp_mock", "choices", choice);
		if (!a->ctl.no_usage)
			json_object_set_new(o, "usage", openai_usage(a));
		body(a, o);
		return;
	}
	if (chat)
		openai_chunk(a, json_pack("{s:i, s:{s:s, s:s, s:n}, s:n, s:n}",
		    "index", 0, "delta", "role", "assistant", "content", "",
		    "refusal", "logprobs", "finish_reason"), 0);
	for (i = 0; i < a->ctl.chunks; i++) {
		if (chat)
			choice = json_pack("{s:i, s:{s:o}, s:n, s:n}", "index",
			    0, "delta", "content", delta_text(i), "logprobs",
			    "finish_reason");
		else
			choice = json_pack("{s:o, s:i, s:n, s:n}", "text",
			    delta_text(i), "index", 0, "logprobs",
			    "finish_reason");
		openai_chunk(a, choice, 1);
	}
	if (chat)
		choice = json_pack("{s:i, s:{}, s:n, s:s}", "index", 0,
		    "delta", "logprobs", "finish_reason", "stop");
	else
		choice = json_pack("{s:s, s:i, s:n, s:s}", "text", "", "index",
		    0, "logprobs", "finish_reason", "stop");
	openai_chunk(a, choice, 0);
	if (a->include_usage && !a->ctl.no_usage)
		openai_chunk(a, NULL, 0);
	answer_add(a, strdup("data: [DONE]\n\n"), 14, 0);
}

/* POST /v1/embeddings: one 8-dimension vector per input; never streams. */
static void
answer_embeddings(struct answer *a)
{
	json_t		*o, *data, *vec;
	long long	 i, j;

	data = json_array();
	for (i = 0; i < a->ninputs; i++) {
		vec = json_array();
		for (j = 0; j < 8; j++)
			json_array_append_new(vec, json_real(
			    (double)((i * 7 + j * 3) % 8) / 8.0 - 0.4375));
		json_array_append_new(data, json_pack("{s:s, s:I, s:o}",
		    "object", "embedding", "index", i, "embedding", vec));
	}
	o = json_pack("{s:s, s:o, s:s}", "object", "list", "data", data,
	    "model", a->model);
	if (!a->ctl.no_usage)
		json_object_set_new(o, "usage", json_pack("{s:I, s:I}",
		    "prompt_tokens", a->u[U_IN], "total_tokens", a->u[U_IN]));
	body(a, o);
}

/* A Responses API response object; steals output (new reference). */
static json_t *
responses_object(const struct answer *a, const char *status, json_t *output)
{
	const long long	*u = a->u;
	json_t		*o;

	o = json_pack("{s:s, s:s, s:I, s:s, s:n, s:n, s:n, s:n, s:s, s:o, "
	    "s:b, s:n, s:{s:n, s:n}, s:b, s:f, s:{s:{s:s}}, s:s, s:[], "
	    "s:f, s:s, s:n, s:{}}", "id", a->id, "object", "response",
	    "created_at", a->created, "status", status, "error",
	    "incomplete_details", "instructions", "max_output_tokens",
	    "model", a->model, "output", output, "parallel_tool_calls", 1,
	    "previous_response_id", "reasoning", "effort", "summary", "store",
	    1, "temperature", 1.0, "text", "format", "type", "text",
	    "tool_choice", "auto", "tools", "top_p", 1.0, "truncation",
	    "disabled", "user", "metadata");
	if (a->ctl.no_usage)
		return (o);
	if (strcmp(status, "completed") != 0)
		json_object_set_new(o, "usage", json_null());
	else
		json_object_set_new(o, "usage", json_pack("{s:I, s:{s:I}, s:I, "
		    "s:{s:I}, s:I}", "input_tokens", u[U_IN],
		    "input_tokens_details", "cached_tokens", u[U_CACHED],
		    "output_tokens", u[U_OUT], "output_tokens_details",
		    "reasoning_tokens", u[U_REASON], "total_tokens",
		    u[U_IN] + u[U_OUT]));
	return (o);
}

/* The assistant message item of a Responses answer (new reference). */
static json_t *
responses_item(const struct answer *a, const char *status, const char *text)
{
	json_t	*content = json_array();

	if (text != NULL)
		json_array_append_new(content, json_pack("{s:s, s:s, s:[]}",
		    "type", "output_text", "text", text, "annotations"));
	return (json_pack("{s:s+, s:s, s:s, s:s, s:o}", "id", "msg_",
	    a->id + 5, "type", "message", "status", status, "role",
	    "assistant", "content", content));
}

/* Queue one Responses stream event: {"type", "sequence_number", ...}. */
static void
responses_event(struct answer *a, const char *type, json_t *o, int content)
{
	json_t	*e;

	e = json_pack("{s:s, s:I}", "type", type, "sequence_number", a->seq++);
	json_object_update(e, o);
	json_decref(o);
	sse(a, type, e, content);
}

/* POST /v1/responses. */
static void
answer_responses(struct answer *a)
{
	char		*text = full_text(a), item_id[64];
	long long	 i;

	if (!a->stream) {
		body(a, responses_object(a, "completed", json_pack("[o]",
		    responses_item(a, "completed", text))));
		free(text);
		return;
	}
	snprintf(item_id, sizeof item_id, "msg_%s", a->id + 5);
	responses_event(a, "response.created", json_pack("{s:o}", "response",
	    responses_object(a, "in_progress", json_array())), 0);
	responses_event(a, "response.in_progress", json_pack("{s:o}",
	    "response", responses_object(a, "in_progress", json_array())), 0);
	responses_event(a, "response.output_item.added", json_pack("{s:i, "
	    "s:o}", "output_index", 0, "item", responses_item(a, "in_progress",
	    NULL)), 0);
	responses_event(a, "response.content_part.added", json_pack("{s:s, "
	    "s:i, s:i, s:{s:s, s:s, s:[]}}", "item_id", item_id,
	    "output_index", 0, "content_index", 0, "part", "type",
	    "output_text", "text", "", "annotations"), 0);
	for (i = 0; i < a->ctl.chunks; i++)
		responses_event(a, "response.output_text.delta", json_pack(
		    "{s:s, s:i, s:i, s:o, s:[]}", "item_id", item_id,
		    "output_index", 0, "content_index", 0, "delta",
		    delta_text(i), "logprobs"), 1);
	responses_event(a, "response.output_text.done", json_pack("{s:s, s:i, "
	    "s:i, s:s, s:[]}", "item_id", item_id, "output_index", 0,
	    "content_index", 0, "text", text, "logprobs"), 0);
	responses_event(a, "response.content_part.done", json_pack("{s:s, "
	    "s:i, s:i, s:{s:s, s:s, s:[]}}", "item_id", item_id,
	    "output_index", 0, "content_index", 0, "part", "type",
	    "output_text", "text", text, "annotations"), 0);
	responses_event(a, "response.output_item.done", json_pack("{s:i, s:o}",
	    "output_index", 0, "item", responses_item(a, "completed", text)),
	    0);
	responses_event(a, "response.completed", json_pack("{s:o}",
	    "response", responses_object(a, "completed", json_pack("[o]",
	    responses_item(a, "completed", text)))), 0);
	free(text);
}

/* Anthropic usage: input_tokens excludes the cache reads and writes. */
static json_t *
anthropic_usage(const struct answer *a, long long output)
{
	const long long	*u = a->u;

	return (json_pack("{s:I, s:I, s:I, s:I}", "input_tokens",
	    u[U_IN] - u[U_CACHED] - u[U_WRITE], "cache_creation_input_tokens",
	    u[U_WRITE], "cache_read_input_tokens", u[U_CACHED],
	    "output_tokens", output));
}

/* POST /v1/messages. */
static void
answer_messages(struct answer *a)
{
	json_t		*o;
	char		*text;
	long long	 i;

	if (!a->stream) {
		text = full_text(a);
		o = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:s, s:n}",
		    "id", a->id, "type", "message", "role", "assistant",
		    "model", a->model, "content", "type", "text", "text", text,
		    "stop_reason", "end_turn", "stop_sequence");
		free(text);
		if (!a->ctl.no_usage)
			json_object_set_new(o, "usage", anthropic_usage(a,
			    a->u[U_OUT]));
		body(a, o);
		return;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:[], s:n, s:n}", "id", a->id,
	    "type", "message", "role", "assistant", "model", a->model,
	    "content", "stop_reason", "stop_sequence");
	if (!a->ctl.no_usage)
		json_object_set_new(o, "usage", anthropic_usage(a,
		    a->u[U_OUT] < 1 ? a->u[U_OUT] : 1));
	sse(a, "message_start", json_pack("{s:s, s:o}", "type",
	    "message_start", "message", o), 0);
	sse(a, "content_block_start", json_pack("{s:s, s:i, s:{s:s, s:s}}",
	    "type", "content_block_start", "index", 0, "content_block",
	    "type", "text", "text", ""), 0);
	sse(a, "ping", json_pack("{s:s}", "type", "ping"), 0);
	for (i = 0; i < a->ctl.chunks; i++)
		sse(a, "content_block_delta", json_pack("{s:s, s:i, "
		    "s:{s:s, s:o}}", "type", "content_block_delta", "index", 0,
		    "delta", "type", "text_delta", "text", delta_text(i)), 1);
	sse(a, "content_block_stop", json_pack("{s:s, s:i}", "type",
	    "content_block_stop", "index", 0), 0);
	o = json_pack("{s:s, s:{s:s, s:n}}", "type", "message_delta",
	    "delta", "stop_reason", "end_turn", "stop_sequence");
	if (!a->ctl.no_usage)
		json_object_set_new(o, "usage", json_pack("{s:I}",
		    "output_tokens", a->u[U_OUT]));
	sse(a, "message_delta", o, 0);
	sse(a, "message_stop", json_pack("{s:s}", "type", "message_stop"), 0);
}

/* A copy of len bytes at p, NUL-terminated like every queued piece. */
static char *
memdup(const char *p, size_t len)
{
	char	*s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, p, len);
	s[len] = '\0';
	return (s);
}

/*
 * A fixture's bytes, as they are.  Paced streams go out one event at a
 * time, each event a content delta: an event ends after its blank line,
 * whatever the line ends (LF, CRLF or CR), and comments and stray blank
 * lines make events of their own.  Otherwise the whole file is one piece.
 */
static void
answer_fixture(struct answer *a)
{
	const char	*p = a->fx.body;
	size_t		 len = a->fx.len, i = 0, start = 0, line = 0, next;

	if (!a->fx.sse || (a->ctl.delay_ms == 0 && a->ctl.stall_after < 0 &&
	    a->ctl.reset_after < 0)) {
		answer_add(a, a->fx.body, a->fx.len, 0);
		a->fx.body = NULL;
		return;
	}
	while (i < len) {
		if (p[i] != '\r' && p[i] != '\n') {
			i++;
			continue;
		}
		next = i + 1;
		if (p[i] == '\r' && next < len && p[next] == '\n')
			next++;
		if (i == line) {	/* a blank line ends the event */
			answer_add(a, memdup(p + start, next - start),
			    next - start, 1);
			start = next;
		}
		line = i = next;
	}
	if (start < len)
		answer_add(a, memdup(p + start, len - start), len - start, 1);
}

static void
answer_free(struct answer *a)
{
	size_t	i;

	if (a == NULL)
		return;
	if (a->timer != NULL)
		event_free(a->timer);
	free(a->fx.body);
	for (i = 0; i < a->nev; i++)
		free(a->ev[i]);
	free(a->ev);
	free(a->evlen);
	free(a->content);
	free(a->model);
	free(a);
}

/* The peer went away while we were answering. */
static void
conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct answer	*a = arg;

	/* A request libevent detached from its connection is ours to free. */
	if (evhttp_request_get_connection(a->req) == NULL)
		evhttp_request_free(a->req);
	answer_free(a);
}

/*
 * Abort the connection with RST once what was written has left (and the
 * peer had a moment to read it): SO_LINGER 0, then the socket is closed by
 * dup2()ing a fresh one over its descriptor, because libevent's own
 * shutdown() before close() would send a FIN first.
 */
static void
answer_reset(struct answer *a)
{
	struct evhttp_connection	*evcon = a->evcon;
	struct bufferevent		*bev;
	struct linger			 l = { 1, 0 };
	struct timeval			 tv = { 0, 10000 };
	evutil_socket_t			 fd, s;

	bev = evhttp_connection_get_bufferevent(evcon);
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0 ||
	    a->resetting++ < 5) {
		evtimer_add(a->timer, &tv);
		return;
	}
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if ((fd = bufferevent_getfd(bev)) != -1) {
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		if ((s = socket(AF_INET, SOCK_STREAM, 0)) != -1) {
			(void)dup2(s, fd);
			close(s);
		}
	}
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	answer_free(a);
	evhttp_connection_free(evcon);
}

/* Everything was written: end the reply and record what we reported. */
static void
answer_finish(struct answer *a)
{
	int	reported;

	reported = a->fx.loaded || (!a->ctl.no_usage && (!a->stream ||
	    a->include_usage || (a->api != API_CHAT &&
	    a->api != API_COMPLETIONS)));
	json_array_append_new(st_usage, json_pack("{s:s, s:b, s:b, s:I, "
	    "s:I, s:I, s:I, s:I}", "path", a->path, "stream", a->stream,
	    "reported", reported, ukeys[U_IN], a->u[U_IN], ukeys[U_CACHED],
	    a->u[U_CACHED], ukeys[U_WRITE], a->u[U_WRITE], ukeys[U_OUT],
	    a->u[U_OUT], ukeys[U_REASON], a->u[U_REASON]));
	st_completed++;
	done_record(a->req);
	evhttp_connection_set_closecb(a->evcon, NULL, NULL);
	evhttp_send_reply_end(a->req);
	answer_free(a);
}

/* Write as much as needed until a delay, a cut or the end. */
static void
answer_step(struct answer *a)
{
	struct evbuffer	*b;
	struct timeval	 tv;
	size_t		 n;
	long long	 ms = 0;

	while (ms == 0) {
		if (a->i == a->cut && a->off == 0) {
			if (a->cut_reset)
				answer_reset(a);
			return;		/* stalled: wait for the peer */
		}
		if (a->i == a->nev) {
			answer_finish(a);
			return;
		}
		n = a->evlen[a->i] - a->off;
		if (a->ctl.split > 0 && n > (size_t)a->ctl.split)
			n = (size_t)a->ctl.split;
		if ((b = evbuffer_new()) == NULL)
			abort();
		evbuffer_add(b, a->ev[a->i] + a->off, n);
		evhttp_send_reply_chunk(a->req, b);
		evbuffer_free(b);
		a->off += n;
		if (a->off == a->evlen[a->i]) {
			a->off = 0;
			a->i++;
			if (a->i < a->nev && a->content[a->i])
				ms = a->ctl.delay_ms;
		}
		if (ms == 0 && a->ctl.split > 0)
			ms = MOCK_PIECE_MS;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(a->timer, &tv);
}

/* Headers go out (after stall_ms): an injected error, or the answer. */
static void
answer_begin(struct answer *a)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(a->req);
	char			 len[32], *half;
	long long		 n = -1;
	size_t			 i, cnt = 0, total = 0;

	a->started = 1;
	if (a->ctl.status != 0) {
		evhttp_connection_set_closecb(a->evcon, NULL, NULL);
		send_error(a->req, a->api, (int)a->ctl.status,
		    "mock: injected error status");
		answer_free(a);
		return;
	}
	if (a->fx.loaded)
		answer_fixture(a);
	else {
		switch (a->api) {
		case API_CHAT:
		case API_COMPLETIONS:
			answer_openai(a);
			break;
		case API_EMBEDDINGS:
			answer_embeddings(a);
			break;
		case API_RESPONSES:
			answer_responses(a);
			break;
		case API_MESSAGES:
			answer_messages(a);
			break;
		}
	}

	/* Where to stall or reset: before delta N+1. */
	if (a->ctl.reset_after >= 0) {
		n = a->ctl.reset_after;
		a->cut_reset = 1;
	}
	if (a->ctl.stall_after >= 0 && (n == -1 || a->ctl.stall_after < n)) {
		n = a->ctl.stall_after;
		a->cut_reset = 0;
	}
	a->cut = SIZE_MAX;
	if (n >= 0 && !a->stream) {
		/* A body is cut in half, whatever N. */
		total = a->evlen[0];
		if ((half = strdup(a->ev[0] + total / 2)) == NULL)
			abort();
		a->evlen[0] = total / 2;
		answer_add(a, half, total - total / 2, 0);
		a->cut = 1;
	} else if (n >= 0) {
		a->cut = a->nev;
		for (i = 0; i < a->nev; i++) {
			if (cnt == (size_t)n) {
				a->cut = i;
				break;
			}
			cnt += a->content[i];
		}
	}

	if (a->stream) {
		evhttp_add_header(oh, "Content-Type", "text/event-stream");
		evhttp_add_header(oh, "Cache-Control", "no-cache");
	} else {
		for (i = 0, total = 0; i < a->nev; i++)
			total += a->evlen[i];
		snprintf(len, sizeof len, "%zu", total);
		evhttp_add_header(oh, "Content-Type", "application/json");
		evhttp_add_header(oh, "Content-Length", len);
	}
	if (a->api == API_MESSAGES)
		evhttp_add_header(oh, "request-id", a->id);
	else
		evhttp_add_header(oh, "x-request-id", a->id);
	evhttp_send_reply_start(a->req, 200, "OK");
	answer_step(a);
}

static void
answer_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct answer	*a = arg;

	if (!a->started)
		answer_begin(a);
	else if (a->resetting)
		answer_reset(a);
	else
		answer_step(a);
}

/* The "mock" object: every known member overrides the default. */
static void
ctl_parse(json_t *m, struct ctl *c)
{
	static const struct {
		const char	*name;
		size_t		 off;
		long long	 max;
	} ints[] = {
		{ "chunks", offsetof(struct ctl, chunks), MOCK_MAX_CHUNKS },
		{ "delay_ms", offsetof(struct ctl, delay_ms), MOCK_MAX_MS },
		{ "split", offsetof(struct ctl, split), 1 << 20 },
		{ "status", offsetof(struct ctl, status), 599 },
		{ "stall_ms", offsetof(struct ctl, stall_ms), MOCK_MAX_MS },
		{ "stall_after", offsetof(struct ctl, stall_after),
		    MOCK_MAX_CHUNKS },
		{ "reset_after", offsetof(struct ctl, reset_after),
		    MOCK_MAX_CHUNKS },
	};
	json_t		*v, *u;		/* borrowed */
	long long	 x;
	size_t		 i;

	if (!json_is_object(m))
		return;
	for (i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		v = json_object_get(m, ints[i].name);
		if (!json_is_integer(v))
			continue;
		x = json_integer_value(v);
		if (x < 0)
			x = 0;
		if (x > ints[i].max)
			x = ints[i].max;
		*(long long *)((char *)c + ints[i].off) = x;
	}
	if (c->status != 0 && (c->status < 200 || c->status == 200))
		c->status = 0;
	c->no_usage = json_is_true(json_object_get(m, "no_usage"));
	c->garbage = json_is_true(json_object_get(m, "garbage"));
	c->fixed_id = json_is_true(json_object_get(m, "fixed_id"));
	u = json_object_get(m, "usage");
	for (i = 0; i < U_N; i++) {
		v = json_object_get(u, ukeys[i]);
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			c->u[i] = json_integer_value(v);
	}
}

/* The token numbers this answer reports, made consistent per API. */
static void
answer_usage(struct answer *a, size_t bodylen)
{
	long long	*u = a->u;
	int		 i;

	u[U_IN] = (long long)((bodylen + 3) / 4);
	u[U_CACHED] = u[U_WRITE] = u[U_REASON] = 0;
	for (i = 0; i < U_N; i++)
		if (a->ctl.u[i] >= 0)
			u[i] = a->ctl.u[i];
	if (a->ctl.u[U_OUT] < 0)
		u[U_OUT] = 2 * a->ctl.chunks + u[U_REASON];
	if (a->api == API_EMBEDDINGS)
		u[U_CACHED] = u[U_OUT] = u[U_REASON] = 0;
	if (a->api == API_MESSAGES) {
		u[U_REASON] = 0;
		if (u[U_IN] < u[U_CACHED] + u[U_WRITE])
			u[U_IN] = u[U_CACHED] + u[U_WRITE];
	} else {
		u[U_WRITE] = 0;
		if (u[U_CACHED] > u[U_IN])
			u[U_CACHED] = u[U_IN];
	}
}

/*
 * Which credential the request carried, for the stats' "keys": the
 * provider key (--expect-key) in the header its API uses, something else
 * in Authorization or x-api-key, or none.  Only counted, never stored.
 */
static void
keys_record(struct evhttp_request *req)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	const char		*a, *x;
	int			 provider = 0;

	a = evhttp_find_header(h, "Authorization");
	x = evhttp_find_header(h, "x-api-key");
	if (opt_expect_key != NULL)
		provider = (a != NULL && x == NULL &&
		    strncmp(a, "Bearer ", 7) == 0 &&
		    strcmp(a + 7, opt_expect_key) == 0) ||
		    (x != NULL && a == NULL && strcmp(x, opt_expect_key) == 0);
	st_keys[provider ? 0 : a != NULL || x != NULL ? 1 : 2]++;
}

/* Remember the request for /mock/stats. */
static void
stats_record(struct evhttp_request *req, const char *path, const char *p,
    size_t len)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	struct evkeyval		*kv;
	json_t			*hdrs, *n;
	char			*name;
	size_t			 i;

	st_requests++;
	keys_record(req);
	n = json_object_get(st_by_path, path);
	json_object_set_new(st_by_path, path, json_integer(
	    json_integer_value(n) + 1));
	hdrs = json_object();
	for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		if ((name = strdup(kv->key)) == NULL)
			abort();
		for (i = 0; name[i] != '\0'; i++)
			name[i] = (char)tolower((unsigned char)name[i]);
		json_object_set_new(hdrs, name, json_bytes(kv->value,
		    strlen(kv->value)));
		free(name);
	}
	json_decref(st_last);
	st_last = json_pack("{s:s, s:s, s:o, s:o}", "method",
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" :
	    evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" :
	    "OTHER", "path", path, "headers", hdrs, "body", json_bytes(p,
	    len));
}

/* GET /mock/stats, POST /mock/reset. */
static void
mock_admin(struct evhttp_request *req, const char *path)
{
	st_admin++;
	if (strcmp(path, "/mock/stats") == 0)
		send_json(req, 200, json_pack("{s:I, s:O, s:I, s:O, s:O, s:O, "
		    "s:I, s:{s:I, s:I, s:I}}", "requests", st_requests,
		    "by_path", st_by_path, "completed", st_completed, "last",
		    st_last, "usage", st_usage, "hostile", st_hostile,
		    "connections", st_connections - st_admin, "keys",
		    "provider", st_keys[0], "other", st_keys[1], "none",
		    st_keys[2]));
	else if (strcmp(path, "/mock/completed") == 0)
		done_send(req);
	else if (strcmp(path, "/mock/reset") == 0 &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		stats_reset();
		send_json(req, 200, json_pack("{s:b}", "ok", 1));
	} else if (strcmp(path, "/mock/config") == 0 &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		struct evbuffer	*in = evhttp_request_get_input_buffer(req);
		json_t		*cfg;		/* new */

		/* New defaults for every later request, e.g. a fault. */
		cfg = json_loadb((const char *)evbuffer_pullup(in, -1),
		    evbuffer_get_length(in), 0, NULL);
		if (cfg != NULL && json_is_integer(json_object_get(cfg,
		    "status")))
			defaults.status = json_integer_value(json_object_get(
			    cfg, "status"));
		ctl_parse(cfg, &defaults);
		json_decref(cfg);
		send_json(req, 200, json_pack("{s:b}", "ok", 1));
	} else
		send_json(req, 404, json_pack("{s:s}", "error", "not found"));
}

/* Whether the request carries the key --expect-key asks for. */
static int
key_ok(struct evhttp_request *req, enum api api)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	const char		*v;

	if (opt_expect_key == NULL)
		return (1);
	if (api == API_MESSAGES) {
		v = evhttp_find_header(h, "x-api-key");
		return (v != NULL && strcmp(v, opt_expect_key) == 0);
	}
	v = evhttp_find_header(h, "Authorization");
	return (v != NULL && strncmp(v, "Bearer ", 7) == 0 &&
	    strcmp(v + 7, opt_expect_key) == 0);
}

/*
 * Is name "DIR/FILE", both of [A-Za-z0-9._-] and not starting with a dot?
 * Then it cannot be absolute, climb out with "..", or name a hidden file.
 */
static int
fixture_name_ok(const char *name)
{
	const char	*p;
	int		 parts = 1, start = 1;

	if (strlen(name) > 200)
		return (0);
	for (p = name; *p != '\0'; p++) {
		if (*p == '/') {
			if (start || ++parts > 2)
				return (0);
			start = 1;
			continue;
		}
		if (start && *p == '.')
			return (0);
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			return (0);
		start = 0;
	}
	return (parts == 2 && !start);
}

/*
 * Read a whole file into *bufp, NUL-terminated (answer_begin() cuts a
 * body in half with strdup()); -1 with errno set.
 */
static int
read_whole(const char *path, char **bufp, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;
	int	 saved;

	if ((f = fopen(path, "rb")) == NULL)
		return (-1);
	for (;;) {
		if (cap - len < 4096) {
			cap += 65536;
			if ((buf = realloc(buf, cap + 1)) == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0 || len > MOCK_MAX_FIXTURE)
			break;
	}
	saved = ferror(f) ? EIO : len > MOCK_MAX_FIXTURE ? EFBIG : 0;
	fclose(f);
	if (saved != 0) {
		free(buf);
		errno = saved;
		return (-1);
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return (0);
}

/* The .expect line: "route input cached_input cache_write output reasoning". */
static int
expect_parse(const char *s, const char *route, long long *u)
{
	const char	*p = s;
	char		*end;
	size_t		 n, i;

	n = strcspn(p, " \t\r\n");
	if (n != strlen(route) || strncmp(p, route, n) != 0)
		return (-1);
	p += n;
	for (i = 0; i < U_N; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!isdigit((unsigned char)*p))
			return (-1);
		errno = 0;
		u[i] = strtoll(p, &end, 10);
		if (errno != 0 || u[i] < 0)
			return (-1);
		p = end;
	}
	p += strspn(p, " \t\r\n");
	return (*p == '\0' ? 0 : -1);
}

/*
 * Load fixture name for the request on route into fx.  On failure, -1
 * and *cause (to free) says why, for the 400 answer.
 */
static int
fixture_load(const char *name, const char *route, struct fixture *fx,
    char **cause)
{
	char	*path = NULL, *expect = NULL;
	size_t	 len;
	int	 rv = -1;

	memset(fx, 0, sizeof *fx);
	*cause = NULL;
	if (opt_fixtures == NULL) {
		if ((*cause = strdup("mock: no --fixtures directory")) == NULL)
			abort();
		goto out;
	}
	if (!fixture_name_ok(name)) {
		if (asprintf(cause, "mock: bad fixture name \"%s\"", name) ==
		    -1)
			abort();
		goto out;
	}
	if (asprintf(&path, "%s/%s.sse", opt_fixtures, name) == -1)
		abort();
	fx->sse = 1;
	if (read_whole(path, &fx->body, &fx->len) == -1 && errno == ENOENT) {
		free(path);
		if (asprintf(&path, "%s/%s.json", opt_fixtures, name) == -1)
			abort();
		fx->sse = 0;
		(void)read_whole(path, &fx->body, &fx->len);
	}
	if (fx->body == NULL) {
		if (asprintf(cause, "mock: unknown fixture \"%s\"", name) ==
		    -1)
			abort();
		goto out;
	}
	free(path);
	if (asprintf(&path, "%s/%s.expect", opt_fixtures, name) == -1)
		abort();
	if (read_whole(path, &expect, &len) == -1 ||
	    expect_parse(expect, route, fx->u) == -1) {
		if (asprintf(cause, "mock: fixture \"%s\" has no .expect "
		    "line for %s", name, route) == -1)
			abort();
		goto out;
	}
	fx->loaded = 1;
	rv = 0;
out:
	if (rv == -1) {
		free(fx->body);
		memset(fx, 0, sizeof *fx);
	}
	free(path);
	free(expect);
	return (rv);
}

/*
 * Hostile answers ("hostile": MODE): bytes no real provider sends, written
 * straight to the connection's bufferevent past evhttp, for the tests of
 * what tollgate does with them.  A head, then a unit repeated
 * "hostile_units" times ("hostile_ms" apart), then a tail; then the
 * connection stays open until the peer closes it.  What was handed to the
 * socket by then is reported in the stats ("hostile").
 *	bad_status	a status line that is not HTTP/1.x NNN
 *	not_http	an answer that is not HTTP at all
 *	html_error	a 503 whose body is an HTML page, not JSON
 *	endless_head	a header block that never ends: one header line
 *			per unit, never the blank line
 *	endless_event	an SSE answer whose second event never ends: one
 *			"data:" line per unit, never the blank line
 *	big_event	an SSE answer with one event of hostile_units * 4 KiB
 *			in a single data line, then [DONE] and a close
 * "redirect": URL answers "redirect_status" (default 307) with Location.
 */
#define HOSTILE_UNIT	4096
#define HOSTILE_FILL	(64 * 1024)

struct hostile {
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct event			*timer;
	char				*mode;
	char				*head, *unit, *tail;
	size_t				 headlen, unitlen, taillen;
	long long			 units_left, ms;
	size_t				 added;	/* to the output */
	int				 head_sent, tail_sent;
	int				 close_after;	/* the tail */
};

/* Record what a hostile answer wrote, and drop the connection. */
static void
hostile_end(struct hostile *h, const char *how)
{
	struct evbuffer	*out = bufferevent_get_output(h->bev);
	size_t		 left = evbuffer_get_length(out);

	json_decref(st_hostile);
	st_hostile = json_pack("{s:s, s:I, s:s}", "mode", h->mode, "bytes",
	    (json_int_t)(h->added - left), "end", how);
	event_free(h->timer);
	free(h->mode);
	free(h->head);
	free(h->unit);
	free(h->tail);
	evhttp_connection_free(h->evcon);
	free(h);
}

/* Keep up to HOSTILE_FILL bytes queued; one unit per tick when paced. */
static void
hostile_fill(struct hostile *h)
{
	struct evbuffer	*out = bufferevent_get_output(h->bev);
	struct timeval	 tv;

	while (evbuffer_get_length(out) < HOSTILE_FILL) {
		if (!h->head_sent) {
			evbuffer_add(out, h->head, h->headlen);
			h->added += h->headlen;
			h->head_sent = 1;
		} else if (h->units_left > 0) {
			evbuffer_add(out, h->unit, h->unitlen);
			h->added += h->unitlen;
			h->units_left--;
			if (h->ms > 0) {
				tv.tv_sec = h->ms / 1000;
				tv.tv_usec = (h->ms % 1000) * 1000;
				evtimer_add(h->timer, &tv);
				return;
			}
		} else if (!h->tail_sent) {
			evbuffer_add(out, h->tail, h->taillen);
			h->added += h->taillen;
			h->tail_sent = 1;
		} else
			return;		/* all out: wait for the peer */
	}
}

static void
hostile_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	hostile_fill(arg);
}

static void
hostile_write_cb(struct bufferevent *bev, void *arg)
{
	struct hostile	*h = arg;

	if (evtimer_pending(h->timer, NULL))
		return;
	hostile_fill(h);
	if (h->close_after && h->tail_sent && h->units_left == 0 &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		hostile_end(h, "done");
}

static void
hostile_read_cb(struct bufferevent *bev, void *arg)
{
	evbuffer_drain(bufferevent_get_input(bev),
	    evbuffer_get_length(bufferevent_get_input(bev)));
}

static void
hostile_event_cb(struct bufferevent *bev, short what, void *arg)
{
	hostile_end(arg, "peer closed");
}

/* A malloc'd copy of s repeated to fill n bytes, ending in end. */
static char *
hostile_repeat(const char *s, size_t n, const char *end)
{
	size_t	 i, slen = strlen(s), elen = strlen(end);
	char	*b;

	if ((b = malloc(n + 1)) == NULL)
		abort();
	for (i = 0; i + elen < n; i++)
		b[i] = s[i % slen];
	memcpy(b + n - elen, end, elen);
	b[n] = '\0';
	return (b);
}

/* The head of an SSE answer and its first content event, per API. */
static char *
hostile_sse_head(enum api api, const char *model)
{
	json_t	*ev;		/* new */
	char	*js, *s;

	if (api == API_MESSAGES)
		ev = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:{s:i, "
		    "s:i}}}", "type", "message_start", "message", "id",
		    "msg_hostile", "type", "message", "role", "assistant",
		    "model", model, "content", "usage", "input_tokens", 7,
		    "output_tokens", 1);
	else
		ev = json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:s}, s:n}]}",
		    "id", "chatcmpl-hostile", "object",
		    "chat.completion.chunk", "created", 1, "model", model,
		    "choices", "index", 0, "delta", "content", "tok0 ",
		    "finish_reason");
	js = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (asprintf(&s, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
	    "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n%s"
	    "data: %s\n\n", api == API_MESSAGES ? "event: message_start\n" :
	    "", js) == -1)
		abort();
	free(js);
	return (s);
}

/*
 * Answer the request with the hostile answer m asks for.  Returns 0 when
 * it did (the connection is ours now), -1 when m asks for none.
 */
static int
hostile_start(struct evhttp_request *req, enum api api, const char *model,
    json_t *m)
{
	struct hostile	*h;
	json_t		*v;		/* borrowed */
	const char	*mode;

	if ((v = json_object_get(m, "redirect")) != NULL &&
	    json_is_string(v)) {
		json_t	*rs = json_object_get(m, "redirect_status");

		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Location", json_string_value(v));
		st_completed++;
		send_json(req, json_is_integer(rs) ? (int)json_integer_value(
		    rs) : 307, json_pack("{s:s}", "moved",
		    json_string_value(v)));
		return (0);
	}
	if ((v = json_object_get(m, "hostile")) == NULL || !json_is_string(v))
		return (-1);
	mode = json_string_value(v);
	if ((h = calloc(1, sizeof *h)) == NULL ||
	    (h->mode = strdup(mode)) == NULL)
		abort();
	h->units_left = 16384;
	if (json_is_integer(json_object_get(m, "hostile_units")))
		h->units_left = json_integer_value(json_object_get(m,
		    "hostile_units"));
	if (json_is_integer(json_object_get(m, "hostile_ms")))
		h->ms = json_integer_value(json_object_get(m, "hostile_ms"));
	if (strcmp(mode, "bad_status") == 0) {
		h->head = strdup("HTTP/1.1 2OO OK\r\nContent-Type: "
		    "application/json\r\nContent-Length: 2\r\n\r\n{}");
		h->units_left = 0;
	} else if (strcmp(mode, "not_http") == 0) {
		h->head = strdup("SSH-2.0-OpenSSH_9.6\r\n");
		h->units_left = 0;
	} else if (strcmp(mode, "html_error") == 0) {
		h->head = strdup("HTTP/1.1 503 Service Unavailable\r\n"
		    "Content-Type: text/html\r\nContent-Length: 45\r\n"
		    "Connection: close\r\n\r\n"
		    "<html><h1>503 Service Unavailable</h1></html>");
		h->units_left = 0;
	} else if (strcmp(mode, "endless_head") == 0) {
		h->head = strdup("HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/json\r\n");
		h->unit = hostile_repeat("x-hostile-pad: 0123456789abcdef", 64,
		    "\r\n");
	} else if (strcmp(mode, "endless_event") == 0) {
		h->head = hostile_sse_head(api, model);
		h->unit = hostile_repeat("data: xxxxxxxxxxxxxxxx", HOSTILE_UNIT,
		    "\n");
	} else if (strcmp(mode, "big_event") == 0) {
		h->head = hostile_sse_head(api, model);
		if ((h->head = realloc(h->head, strlen(h->head) + 7)) == NULL)
			abort();
		strcat(h->head, "data: ");
		h->unit = hostile_repeat("x", HOSTILE_UNIT, "");
		h->tail = strdup("\n\ndata: [DONE]\n\n");
		h->close_after = 1;	/* ends a read-until-close body */
	} else {
		free(h->mode);
		free(h);
		send_error(req, api, 400, "mock: unknown hostile mode");
		return (0);
	}
	if (h->head == NULL || (h->unit == NULL && h->units_left > 0))
		abort();
	h->headlen = strlen(h->head);
	h->unitlen = h->unit != NULL ? strlen(h->unit) : 0;
	h->taillen = h->tail != NULL ? strlen(h->tail) : 0;
	h->tail_sent = h->tail == NULL;
	h->evcon = evhttp_request_get_connection(req);
	h->bev = evhttp_connection_get_bufferevent(h->evcon);
	if ((h->timer = evtimer_new(base, hostile_timer_cb, h)) == NULL)
		abort();
	bufferevent_setcb(h->bev, hostile_read_cb, hostile_write_cb,
	    hostile_event_cb, h);
	bufferevent_enable(h->bev, EV_READ | EV_WRITE);
	hostile_fill(h);
	return (0);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection	*evcon;
	struct evbuffer			*in;
	struct answer			*a;
	struct timeval			 tv;
	const struct route		*r = NULL;
	const char			*path, *p;
	json_t				*root, *model, *input, *fxname;
	struct fixture			 fx;
	char				*cause;
	size_t				 i, len;
	int				 one = 1;
	evutil_socket_t			 fd;

	evcon = evhttp_request_get_connection(req);
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd != -1)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof one);
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || *path == '\0')
		path = "/";
	if (strncmp(path, "/mock/", 6) == 0) {
		mock_admin(req, path);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if ((p = (const char *)evbuffer_pullup(in, -1)) == NULL)
		p = "";
	stats_record(req, path, p, len);

	for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (strcmp(path, routes[i].path) == 0)
			r = &routes[i];
	if (r == NULL) {
		send_error(req, API_CHAT, 404, "mock: unknown path");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		send_error(req, r->api, 405, "mock: use POST");
		return;
	}
	if (!key_ok(req, r->api)) {
		send_error(req, r->api, 401, "mock: invalid API key");
		return;
	}
	root = json_loadb(p, len, 0, NULL);	/* new */
	model = json_object_get(root, "model");	/* borrowed */
	if (!json_is_object(root) || !json_is_string(model)) {
		send_error(req, r->api, 400, root == NULL ?
		    "mock: could not parse the JSON body" :
		    "mock: model is required");
		json_decref(root);
		return;
	}
	memset(&fx, 0, sizeof fx);
	fxname = json_object_get(json_object_get(root, "mock"), "fixture");
	if (fxname != NULL && (!json_is_string(fxname) ||
	    fixture_load(json_string_value(fxname), r->path, &fx,
	    &cause) == -1)) {
		send_error(req, r->api, 400, json_is_string(fxname) ? cause :
		    "mock: fixture must be a string");
		if (json_is_string(fxname))
			free(cause);
		json_decref(root);
		return;
	}

	if (hostile_start(req, r->api, json_string_value(model),
	    json_object_get(root, "mock")) == 0) {
		json_decref(root);
		return;
	}

	if ((a = calloc(1, sizeof *a)) == NULL)
		abort();
	a->req = req;
	a->evcon = evcon;
	a->api = r->api;
	a->path = r->path;
	a->ctl = defaults;
	ctl_parse(json_object_get(root, "mock"), &a->ctl);
	/* "status_models": the status applies to those models only. */
	{
		json_t	*sm = json_object_get(json_object_get(root, "mock"),
		    "status_models");			/* borrowed */
		size_t	 k;
		int	 hit = 0;

		if (json_is_array(sm)) {
			for (k = 0; k < json_array_size(sm); k++)
				hit |= json_is_string(json_array_get(sm, k)) &&
				    json_is_string(model) &&
				    strcmp(json_string_value(json_array_get(sm,
				    k)), json_string_value(model)) == 0;
			if (!hit)
				a->ctl.status = 0;
		}
	}
	a->stream = a->api != API_EMBEDDINGS &&
	    json_is_true(json_object_get(root, "stream"));
	a->include_usage = json_is_true(json_object_get(json_object_get(root,
	    "stream_options"), "include_usage"));
	a->garbage_pending = a->ctl.garbage;
	if ((a->model = strdup(json_string_value(model))) == NULL)
		abort();
	input = json_object_get(root, "input");
	a->ninputs = json_is_array(input) ? (long long)json_array_size(input) :
	    1;
	if (a->ninputs > 2048)
		a->ninputs = 2048;
	a->created = a->ctl.fixed_id ? 1700000000 : (long long)time(NULL);
	id_counter++;
	snprintf(a->id, sizeof a->id, "%s%lu",
	    a->api == API_CHAT ? "chatcmpl-mock" :
	    a->api == API_COMPLETIONS ? "cmpl-mock" :
	    a->api == API_RESPONSES ? "resp_mock" :
	    a->api == API_MESSAGES ? "msg_mock" : "emb-mock",
	    a->ctl.fixed_id ? 0UL : id_counter);
	answer_usage(a, len);
	if (fx.loaded) {
		a->fx = fx;
		a->stream = fx.sse;
		memcpy(a->u, fx.u, sizeof a->u);
	}
	json_decref(root);

	if ((a->timer = evtimer_new(base, answer_timer_cb, a)) == NULL)
		abort();
	evhttp_connection_set_closecb(evcon, conn_close_cb, a);
	if (a->ctl.stall_ms > 0) {
		tv.tv_sec = a->ctl.stall_ms / 1000;
		tv.tv_usec = (a->ctl.stall_ms % 1000) * 1000;
		evtimer_add(a->timer, &tv);
	} else
		answer_begin(a);
}

/*
 * Every accepted connection is counted (for "connections" in the stats);
 * with TLS it gets its own SSL in server mode.
 */
static struct bufferevent *
tls_bev_cb(struct event_base *b, void *arg)
{
	SSL	*ssl;

	st_connections++;
	if (ssl_ctx == NULL)
		return (bufferevent_socket_new(b, -1, BEV_OPT_CLOSE_ON_FREE));
	if ((ssl = SSL_new(ssl_ctx)) == NULL)
		return (NULL);
	return (bufferevent_openssl_socket_new(b, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE));
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(base, NULL);
}

static long long
number(const char *s, const char *what, long long max)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) {
		fprintf(stderr, "mock-upstream: bad %s: %s\n", what, s);
		exit(2);
	}
	return (v);
}

static void
usage(void)
{
	fprintf(stderr, "usage: mock-upstream [--port N] [--port-file F] "
	    "[--tls-cert C --tls-key K]\n\t[--expect-key KEY] [--chunks N] "
	    "[--delay-ms N] [--split N]\n\t[--fixtures DIR]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "expect-key", required_argument, NULL, 'e' },
		{ "chunks", required_argument, NULL, 'n' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "split", required_argument, NULL, 's' },
		{ "fixtures", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 }
	};
	struct evhttp_bound_socket	*bound;
	struct event_config		*evcfg;
	struct evhttp			*http;
	struct event			*sigint, *sigterm;
	struct sockaddr_in		 sin;
	socklen_t			 slen = sizeof sin;
	const char			*port_file = NULL, *cert = NULL;
	const char			*key = NULL;
	long long			 port = 0;
	FILE				*f;
	int				 ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			port = number(optarg, "port", 65535);
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'e':
			opt_expect_key = optarg;
			break;
		case 'n':
			defaults.chunks = number(optarg, "chunks",
			    MOCK_MAX_CHUNKS);
			break;
		case 'd':
			defaults.delay_ms = number(optarg, "delay-ms",
			    MOCK_MAX_MS);
			break;
		case 's':
			defaults.split = number(optarg, "split", 1 << 20);
			break;
		case 'x':
			opt_fixtures = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (cert == NULL) != (key == NULL))
		usage();

	signal(SIGPIPE, SIG_IGN);
	stats_reset();
	/*
	 * A precise clock: libevent's default coarse one ticks every few ms,
	 * which would stretch the 2 ms between split pieces to twice that.
	 */
	if ((evcfg = event_config_new()) == NULL ||
	    event_config_set_flag(evcfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0 ||
	    (base = event_base_new_with_config(evcfg)) == NULL ||
	    (http = evhttp_new(base)) == NULL) {
		fprintf(stderr, "mock-upstream: libevent setup failed\n");
		return (1);
	}
	event_config_free(evcfg);
	evhttp_set_max_headers_size(http, 65536);
	evhttp_set_max_body_size(http, 64 << 20);
	evhttp_set_timeout(http, 600);
	evhttp_set_gencb(http, request_cb, NULL);
	if (cert != NULL) {
		if ((ssl_ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
		    SSL_CTX_use_certificate_chain_file(ssl_ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ssl_ctx, key,
		    SSL_FILETYPE_PEM) != 1) {
			fprintf(stderr, "mock-upstream: cannot load %s / %s\n",
			    cert, key);
			ERR_print_errors_fp(stderr);
			return (1);
		}
	}
	evhttp_set_bevcb(http, tls_bev_cb, NULL);
	if ((bound = evhttp_bind_socket_with_handle(http, "127.0.0.1",
	    (unsigned short)port)) == NULL) {
		fprintf(stderr, "mock-upstream: cannot bind 127.0.0.1:%lld: "
		    "%s\n", port, strerror(errno));
		return (1);
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&sin, &slen) == 0)
		port = ntohs(sin.sin_port);
	if (port_file != NULL) {
		if ((f = fopen(port_file, "w")) == NULL ||
		    fprintf(f, "%lld\n", port) < 0 || fclose(f) != 0) {
			fprintf(stderr, "mock-upstream: %s: %s\n", port_file,
			    strerror(errno));
			return (1);
		}
	}
	printf("port %lld\n", port);
	fflush(stdout);

	sigint = evsignal_new(base, SIGINT, signal_cb, NULL);
	sigterm = evsignal_new(base, SIGTERM, signal_cb, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	event_base_dispatch(base);

	event_free(sigint);
	event_free(sigterm);
	evhttp_free(http);
	event_base_free(base);
	SSL_CTX_free(ssl_ctx);
	json_decref(st_by_path);
	json_decref(st_last);
	json_decref(st_usage);
	json_decref(st_hostile);
	evbuffer_free(st_done);
	return (0);
}
