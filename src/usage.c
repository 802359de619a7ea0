/*
 * Token usage extraction (see usage.h).
 *
 * Counts are read with one rule everywhere: a count is a JSON integer in
 * [0, USAGE_MAX_TOKENS].  A main count (prompt/input, completion/output)
 * of another type, negative or absurdly large makes the whole usage object
 * unusable, so the caller falls back to its estimate instead of billing
 * garbage; a detail count (cached, reasoning, cache reads and writes) that
 * is broken is taken as 0.  The parts never exceed their whole: cached
 * input is clamped to input, reasoning to output.
 *
 * Answers and events are read with jscan: one pass checks the text (it
 * says "not JSON" exactly when jansson does), then only the values needed
 * are visited; no tree is built.  jansson still decides the rare text
 * jscan cannot (JSCAN_UNSURE), which is then read from jansson's compact
 * re-encoding.
 *
 * OpenAI SSE events the memmem() test below finds nothing in (no usage
 * object, no text, no terminal event) are passed over unparsed, as they
 * always were: such an event counts nothing and never fails, even when it
 * is not JSON.  What jscan finds in an event is always found by that test
 * too, unless a key or the event type is written with \u escapes; only
 * then is the test run on valid JSON, so that both agree.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jscan.h"
#include "usage.h"

/* A token count above this is not believed (a thousand trillion). */
#define USAGE_MAX_TOKENS	INT64_C(1000000000000000)

const char *
usage_source_name(enum usage_source s)
{
	switch (s) {
	case USAGE_PROVIDER:
		return ("provider");
	case USAGE_ESTIMATED:
		return ("estimated");
	case USAGE_PARTIAL:
		return ("partial");
	case USAGE_NONE:
		break;
	}
	return ("none");
}

int64_t
usage_estimate_tokens(size_t len)
{
	return ((int64_t)(len / 4) + (len % 4 != 0));
}


/*
 * The count v (type JSCAN_NONE when absent): 0 with *out set; 1 when
 * absent or null (*out = 0); -1 when it is no count.
 */
static int
usage_count(const struct jscan_val *v, int64_t *out)
{
	int64_t	 n;

	*out = 0;
	if (v->type == JSCAN_NONE || v->type == JSCAN_NULL)
		return (1);
	if (jscan_int(v, &n) == -1 || n < 0 || n > USAGE_MAX_TOKENS)
		return (-1);
	*out = n;
	return (0);
}

/* A detail count: broken or absent is 0. */
static int64_t
usage_detail(const struct jscan_val *v)
{
	int64_t	 n;

	if (usage_count(v, &n) != 0)
		return (0);
	return (n);
}

/* The detail count obj.key (obj may be anything). */
static int64_t
usage_detail_in(const struct jscan_val *obj, const char *key)
{
	struct jscan_val	v;

	(void)jscan_get(obj, key, &v);
	return (usage_detail(&v));
}

static void
usage_clamp(struct usage *u)
{
	if (u->cached_input > u->input)
		u->cached_input = u->input;
	if (u->cache_write > u->input - u->cached_input)
		u->cache_write = u->input - u->cached_input;
	if (u->reasoning > u->output)
		u->reasoning = u->output;
}

/*
 * An OpenAI usage object: chat completions, completions and embeddings say
 * prompt_tokens/completion_tokens, the Responses API says
 * input_tokens/output_tokens.  Fills *u only on success.
 */
static int
usage_from_openai(const struct jscan_val *usage, struct usage *u)
{
	static const struct jscan_key keys[] = {
		JSCAN_KEY("prompt_tokens"), JSCAN_KEY("completion_tokens"),
		JSCAN_KEY("prompt_tokens_details"),
		JSCAN_KEY("completion_tokens_details"),
		JSCAN_KEY("input_tokens"), JSCAN_KEY("output_tokens"),
		JSCAN_KEY("input_tokens_details"),
		JSCAN_KEY("output_tokens_details")
	};
	struct jscan_val	 v[8];
	const struct jscan_val	*f;	/* in, out, in details, out details */
	struct usage		 n;

	if (usage->type != JSCAN_OBJECT)
		return (-1);
	(void)jscan_getn(usage, keys, 8, v);
	if (v[0].type != JSCAN_NONE)
		f = &v[0];
	else if (v[4].type != JSCAN_NONE)
		f = &v[4];
	else
		return (-1);

	memset(&n, 0, sizeof n);
	if (usage_count(&f[0], &n.input) != 0)
		return (-1);
	/* Absent for embeddings: they have no output. */
	if (usage_count(&f[1], &n.output) == -1)
		return (-1);
	n.cached_input = usage_detail_in(&f[2], "cached_tokens");
	n.reasoning = usage_detail_in(&f[3], "reasoning_tokens");
	usage_clamp(&n);
	n.source = USAGE_PROVIDER;
	*u = n;
	return (0);
}

/*
 * Settle r, what jscan_check_getn(text, len, root, keys, n, vals) said:
 * returns 0 with *root and vals set, or -1 when jansson would not parse
 * text.  When jscan could not tell, jansson parses text, and *copy (which
 * the caller frees; NULL otherwise) holds its compact re-encoding, into
 * which *root and vals then point.
 */
static int
usage_load(const char *text, size_t len, enum jscan_result r,
    const struct jscan_key *keys, size_t n, struct jscan_val *root,
    struct jscan_val *vals, char **copy)
{
	json_t	*j;	/* new */

	*copy = NULL;
	if (r == JSCAN_OK)
		return (0);
	if (r != JSCAN_UNSURE || (j = json_loadb(text, len, 0, NULL)) == NULL)
		return (-1);
	*copy = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (*copy != NULL && jscan_check_getn(*copy, strlen(*copy), root,
	    keys, n, vals) == JSCAN_OK)
		return (0);
	free(*copy);
	*copy = NULL;
	return (-1);
}

/* Read a JSON answer's top-level "usage" with from(). */
static int
usage_json(const char *body, size_t len, struct usage *u,
    int (*from)(const struct jscan_val *, struct usage *))
{
	static const struct jscan_key	 key = JSCAN_KEY("usage");
	struct jscan_val		 root, usage;
	char				*copy;
	int				 rv = -1;

	if (usage_load(body, len, jscan_check_getn(body, len, &root, &key, 1,
	    &usage), &key, 1, &root, &usage, &copy) == -1)
		return (-1);
	if (usage.type != JSCAN_NONE)
		rv = from(&usage, u);
	free(copy);
	return (rv);
}

int
usage_openai_json(const char *body, size_t len, struct usage *u)
{
	return (usage_json(body, len, u, usage_from_openai));
}

/*
 * Does data hold key (quoted) followed by a colon and then c, or when c is
 * '"', by a string that is not empty?  Whitespace may sit around the colon.
 */
static int
usage_has(const char *data, size_t len, const char *key, char c)
{
	const char	*p, *end = data + len;
	size_t		 klen = strlen(key);

	p = data;
	while (p < end &&
	    (p = memmem(p, end - p, key, klen)) != NULL) {
		p += klen;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
		    *p == '\r'))
			p++;
		if (p == end || *p != ':')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
		    *p == '\r'))
			p++;
		if (p == end || *p != c)
			continue;
		if (c != '"' || (p + 1 < end && p[1] != '"'))
			return (1);
	}
	return (0);
}

/*
 * Can this OpenAI event be skipped without a parse?  Only a JSON object
 * (judged by its first and last bytes) that has no usage object, no
 * non-empty text a stream event could count and is not a Responses API
 * terminal event.  A key can only hide from
 * memmem() by being written with \u escapes, which no provider does.
 */
static int
usage_openai_skip(const char *data, size_t len)
{
	static const char *const texts[] = {
		"\"content\"", "\"text\"", "\"arguments\"", "\"delta\"",
		"\"refusal\"", "\"reasoning_content\""
	};
	static const char *const ends[] = {
		"\"response.completed\"", "\"response.incomplete\"",
		"\"response.failed\""
	};
	size_t	 i;

	if (len < 2 || data[0] != '{' || data[len - 1] != '}')
		return (0);
	for (i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		if (memmem(data, len, ends[i], strlen(ends[i])) != NULL)
			return (0);
	}
	if (usage_has(data, len, "\"usage\"", '{'))
		return (0);
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		if (usage_has(data, len, texts[i], '"'))
			return (0);
	}
	return (1);
}

/* A chat.completion.chunk or text_completion chunk. */
static void
usage_chat_chunk(const struct jscan_val *choices,
    const struct jscan_val *usage, struct usage *u, struct usage_sse *out)
{
	static const struct jscan_key ckeys[] = {
		JSCAN_KEY("text"), JSCAN_KEY("delta")
	};
	static const struct jscan_key dkeys[] = {
		JSCAN_KEY("content"), JSCAN_KEY("refusal"),
		JSCAN_KEY("reasoning_content"), JSCAN_KEY("function_call"),
		JSCAN_KEY("tool_calls")
	};
	struct jscan_val	 choice, cv[2], dv[5], call, fn, args;
	const char		*cpos = NULL, *tpos;
	size_t			 bytes = 0;

	if (usage_from_openai(usage, u) == 0) {
		out->has_usage = 1;
		if (jscan_empty(choices))
			out->usage_only = 1;
	}
	while (jscan_next(choices, &cpos, &choice) == 0) {
		(void)jscan_getn(&choice, ckeys, 2, cv);
		bytes += jscan_strlen(&cv[0]);
		if (cv[1].type != JSCAN_OBJECT)
			continue;
		(void)jscan_getn(&cv[1], dkeys, 5, dv);
		bytes += jscan_strlen(&dv[0]) + jscan_strlen(&dv[1]) +
		    jscan_strlen(&dv[2]);
		(void)jscan_get(&dv[3], "arguments", &args);
		bytes += jscan_strlen(&args);
		for (tpos = NULL; jscan_next(&dv[4], &tpos, &call) == 0;) {
			(void)jscan_get(&call, "function", &fn);
			(void)jscan_get(&fn, "arguments", &args);
			bytes += jscan_strlen(&args);
		}
	}
	out->output_delta = usage_estimate_tokens(bytes);
}

/*
 * A Responses API stream event of type type.  The terminal events
 * (completed, incomplete, failed) carry the response with its usage and
 * end the stream; "*.delta" events carry text in "delta", except audio,
 * whose delta is base64 audio.
 */
static void
usage_responses_event(const struct jscan_val *type,
    const struct jscan_val *resp, const struct jscan_val *delta,
    struct usage *u, struct usage_sse *out)
{
	struct jscan_val	usage;

	if (jscan_streq(type, "response.completed") ||
	    jscan_streq(type, "response.incomplete") ||
	    jscan_streq(type, "response.failed")) {
		if (jscan_get(resp, "usage", &usage) == 0 &&
		    usage_from_openai(&usage, u) == 0)
			out->has_usage = 1;
		out->done = 1;
		return;
	}
	if (jscan_strlen(type) > 6 && jscan_strsuffix(type, ".delta") &&
	    !jscan_streq(type, "response.audio.delta"))
		out->output_delta = usage_estimate_tokens(jscan_strlen(delta));
}

/* Trim JSON whitespace around data[0..*len). */
static const char *
usage_trim(const char *data, size_t *len)
{
	while (*len > 0 && (data[0] == ' ' || data[0] == '\t' ||
	    data[0] == '\n' || data[0] == '\r')) {
		data++;
		(*len)--;
	}
	while (*len > 0 && (data[*len - 1] == ' ' || data[*len - 1] == '\t' ||
	    data[*len - 1] == '\n' || data[*len - 1] == '\r'))
		(*len)--;
	return (data);
}

int
usage_openai_sse(const char *data, size_t len, struct usage *u,
    struct usage_sse *out)
{
	static const struct jscan_key keys[] = {
		JSCAN_KEY("type"), JSCAN_KEY("choices"), JSCAN_KEY("usage"),
		JSCAN_KEY("response"), JSCAN_KEY("delta")
	};
	struct jscan_val	 root, v[5];
	enum jscan_result	 r;
	struct usage		 n = *u;
	char			*copy;
	int			 escaped;

	memset(out, 0, sizeof *out);
	data = usage_trim(data, &len);
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		out->done = 1;
		return (0);
	}
	r = jscan_check_getn(data, len, &root, keys, 5, v);
	if (r != JSCAN_OK && usage_openai_skip(data, len))
		return (0);
	if (usage_load(data, len, r, keys, 5, &root, v, &copy) == -1)
		return (-1);
	if (root.type != JSCAN_OBJECT) {
		free(copy);
		return (-1);
	}

	if (jscan_strprefix(&v[0], "response."))
		usage_responses_event(&v[0], &v[3], &v[4], &n, out);
	else
		usage_chat_chunk(&v[1], &v[2], &n, out);
	escaped = (root.flags & JSCAN_KEYESC) || jscan_strescaped(&v[0]);
	free(copy);

	/* Found behind an escaped key or type: would the test skip it? */
	if ((out->has_usage || out->done || out->output_delta != 0) &&
	    r == JSCAN_OK && escaped && usage_openai_skip(data, len)) {
		memset(out, 0, sizeof *out);
		return (0);
	}
	*u = n;
	return (0);
}

/*
 * An Anthropic usage object as a whole: a Messages API answer or
 * message_start.  input_tokens excludes the cache, so it is added up.
 */
static const struct jscan_key usage_anthropic_keys[] = {
	JSCAN_KEY("input_tokens"), JSCAN_KEY("output_tokens"),
	JSCAN_KEY("cache_read_input_tokens"),
	JSCAN_KEY("cache_creation_input_tokens")
};

static int
usage_from_anthropic(const struct jscan_val *usage, struct usage *u)
{
	struct jscan_val	v[4];
	struct usage		n;
	int64_t			in;

	if (usage->type != JSCAN_OBJECT)
		return (-1);
	(void)jscan_getn(usage, usage_anthropic_keys, 4, v);
	memset(&n, 0, sizeof n);
	if (usage_count(&v[0], &in) != 0)
		return (-1);
	if (usage_count(&v[1], &n.output) == -1)
		return (-1);
	n.cached_input = usage_detail(&v[2]);
	n.cache_write = usage_detail(&v[3]);
	n.input = in + n.cached_input + n.cache_write;
	n.source = USAGE_PROVIDER;
	*u = n;
	return (0);
}

int
usage_anthropic_json(const char *body, size_t len, struct usage *u)
{
	return (usage_json(body, len, u, usage_from_anthropic));
}

/*
 * message_delta's usage: cumulative counts.  output_tokens is always
 * there; newer API versions repeat the input counts.  A count that is
 * cumulative never goes down, so a smaller value (a gateway that sends 0
 * for "unknown") does not lower what message_start said.
 */
static int
usage_anthropic_delta(const struct jscan_val *usage, struct usage *u)
{
	struct jscan_val	v[4];
	int64_t			out, in, cr, cw, x;

	(void)jscan_getn(usage, usage_anthropic_keys, 4, v);
	if (usage->type != JSCAN_OBJECT || usage_count(&v[1], &out) != 0)
		return (-1);
	cr = u->cached_input;
	cw = u->cache_write;
	if ((in = u->input - cr - cw) < 0)
		in = 0;
	if (usage_count(&v[0], &x) == 0 && x > in)
		in = x;
	if (usage_count(&v[2], &x) == 0 && x > cr)
		cr = x;
	if (usage_count(&v[3], &x) == 0 && x > cw)
		cw = x;
	u->input = in + cr + cw;
	u->cached_input = cr;
	u->cache_write = cw;
	if (out > u->output)
		u->output = out;
	u->source = USAGE_PROVIDER;
	return (0);
}

static int
usage_event_is(const char *event, size_t event_len, const char *name)
{
	return (event != NULL && event_len == strlen(name) &&
	    memcmp(event, name, event_len) == 0);
}

/* A content_block_delta's delta: the bytes of its text. */
static size_t
usage_anthropic_text(const struct jscan_val *delta)
{
	static const struct jscan_key keys[] = {
		JSCAN_KEY("type"), JSCAN_KEY("text"), JSCAN_KEY("partial_json"),
		JSCAN_KEY("thinking")
	};
	struct jscan_val	v[4];

	(void)jscan_getn(delta, keys, 4, v);
	if (jscan_streq(&v[0], "text_delta"))
		return (jscan_strlen(&v[1]));
	if (jscan_streq(&v[0], "input_json_delta"))
		return (jscan_strlen(&v[2]));
	if (jscan_streq(&v[0], "thinking_delta"))
		return (jscan_strlen(&v[3]));
	return (0);
}

int
usage_anthropic_sse(const char *event, size_t event_len, const char *data,
    size_t len, struct usage *u, struct usage_sse *out)
{
	static const struct jscan_key keys[] = {
		JSCAN_KEY("type"), JSCAN_KEY("message"), JSCAN_KEY("usage"),
		JSCAN_KEY("delta")
	};
	struct jscan_val	 root, v[4], usage;
	char			*copy;

	memset(out, 0, sizeof *out);
	/* Nothing to count in these, and they are most of a stream. */
	if (usage_event_is(event, event_len, "ping") ||
	    usage_event_is(event, event_len, "content_block_stop"))
		return (0);

	if (usage_load(data, len, jscan_check_getn(data, len, &root, keys, 4,
	    v), keys, 4, &root, v, &copy) == -1)
		return (-1);
	if (root.type != JSCAN_OBJECT) {
		free(copy);
		return (-1);
	}
	if (jscan_streq(&v[0], "message_start")) {
		(void)jscan_get(&v[1], "usage", &usage);
		if (usage_from_anthropic(&usage, u) == 0)
			out->has_usage = 1;
	} else if (jscan_streq(&v[0], "message_delta")) {
		if (usage_anthropic_delta(&v[2], u) == 0)
			out->has_usage = 1;
	} else if (jscan_streq(&v[0], "message_stop"))
		out->done = 1;
	else if (jscan_streq(&v[0], "content_block_delta"))
		out->output_delta =
		    usage_estimate_tokens(usage_anthropic_text(&v[3]));
	/* ping, error, content_block_start/stop: nothing to count. */
	free(copy);
	return (0);
}
