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
 * SSE events are looked at before they are parsed: most OpenAI chunks of a
 * stream carry neither a usage object nor any text (role chunk, finish
 * chunk, "usage": null with include_usage), and a few memmem() calls
 * tell them apart from the ones worth a JSON parse.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <jansson.h>

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
 * Read the count at obj.key (obj borrowed, may be NULL).  Returns 0 with
 * *out set; 1 when absent or null (*out = 0); -1 when it is no count.
 */
static int
usage_count(json_t *obj, const char *key, int64_t *out)
{
	json_t		*v;	/* borrowed */
	json_int_t	 n;

	*out = 0;
	if (!json_is_object(obj))
		return (1);
	v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return (1);
	if (!json_is_integer(v))
		return (-1);
	n = json_integer_value(v);
	if (n < 0 || n > USAGE_MAX_TOKENS)
		return (-1);
	*out = n;
	return (0);
}

/* A detail count: broken or absent is 0. */
static int64_t
usage_detail(json_t *obj, const char *key)
{
	int64_t	 n;

	if (usage_count(obj, key, &n) != 0)
		return (0);
	return (n);
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
 * An OpenAI usage object (borrowed): chat completions, completions and
 * embeddings say prompt_tokens/completion_tokens, the Responses API says
 * input_tokens/output_tokens.  Fills *u only on success.
 */
static int
usage_from_openai(json_t *usage, struct usage *u)
{
	struct usage	 n;
	const char	*in, *out, *indet, *outdet;

	if (!json_is_object(usage))
		return (-1);
	if (json_object_get(usage, "prompt_tokens") != NULL) {
		in = "prompt_tokens";
		out = "completion_tokens";
		indet = "prompt_tokens_details";
		outdet = "completion_tokens_details";
	} else if (json_object_get(usage, "input_tokens") != NULL) {
		in = "input_tokens";
		out = "output_tokens";
		indet = "input_tokens_details";
		outdet = "output_tokens_details";
	} else
		return (-1);

	memset(&n, 0, sizeof n);
	if (usage_count(usage, in, &n.input) != 0)
		return (-1);
	/* Absent for embeddings: they have no output. */
	if (usage_count(usage, out, &n.output) == -1)
		return (-1);
	n.cached_input = usage_detail(json_object_get(usage, indet),
	    "cached_tokens");
	n.reasoning = usage_detail(json_object_get(usage, outdet),
	    "reasoning_tokens");
	usage_clamp(&n);
	n.source = USAGE_PROVIDER;
	*u = n;
	return (0);
}

/* Parse a JSON answer and read its top-level "usage" with from(). */
static int
usage_json(const char *body, size_t len, struct usage *u,
    int (*from)(json_t *, struct usage *))
{
	json_t	*root;	/* new */
	int	 rv;

	if ((root = json_loadb(body, len, 0, NULL)) == NULL)
		return (-1);
	rv = -1;
	if (json_is_object(root))
		rv = from(json_object_get(root, "usage"), u);
	json_decref(root);
	return (rv);
}

int
usage_openai_json(const char *body, size_t len, struct usage *u)
{
	return (usage_json(body, len, u, usage_from_openai));
}

/* Bytes of the string at obj.key (obj borrowed, may be NULL), else 0. */
static size_t
usage_strlen(json_t *obj, const char *key)
{
	json_t	*v;	/* borrowed */

	if (!json_is_object(obj))
		return (0);
	v = json_object_get(obj, key);
	if (!json_is_string(v))
		return (0);
	return (json_string_length(v));
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

/* A chat.completion.chunk or text_completion chunk (root borrowed). */
static void
usage_chat_chunk(json_t *root, struct usage *u, struct usage_sse *out)
{
	json_t	*choices, *choice, *delta, *calls, *call;	/* borrowed */
	size_t	 i, j, bytes = 0;

	choices = json_object_get(root, "choices");
	if (usage_from_openai(json_object_get(root, "usage"), u) == 0) {
		out->has_usage = 1;
		if (json_is_array(choices) && json_array_size(choices) == 0)
			out->usage_only = 1;
	}
	if (!json_is_array(choices))
		return;
	json_array_foreach(choices, i, choice) {
		bytes += usage_strlen(choice, "text");
		delta = json_object_get(choice, "delta");
		if (!json_is_object(delta))
			continue;
		bytes += usage_strlen(delta, "content");
		bytes += usage_strlen(delta, "refusal");
		bytes += usage_strlen(delta, "reasoning_content");
		bytes += usage_strlen(json_object_get(delta, "function_call"),
		    "arguments");
		calls = json_object_get(delta, "tool_calls");
		if (!json_is_array(calls))
			continue;
		json_array_foreach(calls, j, call) {
			bytes += usage_strlen(json_object_get(call,
			    "function"), "arguments");
		}
	}
	out->output_delta = usage_estimate_tokens(bytes);
}

/*
 * A Responses API stream event (root borrowed).  The terminal events
 * (completed, incomplete, failed) carry the response with its usage and
 * end the stream; "*.delta" events carry text in "delta", except audio,
 * whose delta is base64 audio.
 */
static void
usage_responses_event(json_t *root, const char *type, struct usage *u,
    struct usage_sse *out)
{
	json_t	*resp;	/* borrowed */
	size_t	 tlen = strlen(type);

	if (strcmp(type, "response.completed") == 0 ||
	    strcmp(type, "response.incomplete") == 0 ||
	    strcmp(type, "response.failed") == 0) {
		resp = json_object_get(root, "response");
		if (json_is_object(resp) &&
		    usage_from_openai(json_object_get(resp, "usage"), u) == 0)
			out->has_usage = 1;
		out->done = 1;
		return;
	}
	if (tlen > 6 && strcmp(type + tlen - 6, ".delta") == 0 &&
	    strcmp(type, "response.audio.delta") != 0)
		out->output_delta =
		    usage_estimate_tokens(usage_strlen(root, "delta"));
}

/* An SSE event's data parsed as a JSON object (new reference), or NULL. */
static json_t *
usage_load_object(const char *data, size_t len)
{
	json_t	*root;		/* new */

	if ((root = json_loadb(data, len, 0, NULL)) != NULL &&
	    !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	return (root);
}

int
usage_openai_sse(const char *data, size_t len, struct usage *u,
    struct usage_sse *out)
{
	json_t		*root;	/* new */
	const char	*type;

	memset(out, 0, sizeof *out);
	while (len > 0 && (data[0] == ' ' || data[0] == '\t' ||
	    data[0] == '\n' || data[0] == '\r')) {
		data++;
		len--;
	}
	while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '\t' ||
	    data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		out->done = 1;
		return (0);
	}
	if (usage_openai_skip(data, len))
		return (0);

	if ((root = usage_load_object(data, len)) == NULL)
		return (-1);
	type = json_string_value(json_object_get(root, "type"));
	if (type != NULL && strncmp(type, "response.", 9) == 0)
		usage_responses_event(root, type, u, out);
	else
		usage_chat_chunk(root, u, out);
	json_decref(root);
	return (0);
}

/*
 * An Anthropic usage object (borrowed) as a whole: a Messages API answer
 * or message_start.  input_tokens excludes the cache, so it is added up.
 */
static int
usage_from_anthropic(json_t *usage, struct usage *u)
{
	struct usage	 n;
	int64_t		 in;

	if (!json_is_object(usage))
		return (-1);
	memset(&n, 0, sizeof n);
	if (usage_count(usage, "input_tokens", &in) != 0)
		return (-1);
	if (usage_count(usage, "output_tokens", &n.output) == -1)
		return (-1);
	n.cached_input = usage_detail(usage, "cache_read_input_tokens");
	n.cache_write = usage_detail(usage, "cache_creation_input_tokens");
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
 * message_delta's usage (borrowed): cumulative counts.  output_tokens is
 * always there; newer API versions repeat the input counts.  A count
 * that is cumulative never goes down, so a smaller value (a gateway that
 * sends 0 for "unknown") does not lower what message_start said.
 */
static int
usage_anthropic_delta(json_t *usage, struct usage *u)
{
	int64_t	 out, in, cr, cw, v;

	if (!json_is_object(usage) ||
	    usage_count(usage, "output_tokens", &out) != 0)
		return (-1);
	cr = u->cached_input;
	cw = u->cache_write;
	if ((in = u->input - cr - cw) < 0)
		in = 0;
	if (usage_count(usage, "input_tokens", &v) == 0 && v > in)
		in = v;
	if (usage_count(usage, "cache_read_input_tokens", &v) == 0 && v > cr)
		cr = v;
	if (usage_count(usage, "cache_creation_input_tokens", &v) == 0 &&
	    v > cw)
		cw = v;
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

int
usage_anthropic_sse(const char *event, size_t event_len, const char *data,
    size_t len, struct usage *u, struct usage_sse *out)
{
	json_t		*root, *delta;	/* new, borrowed */
	const char	*type, *dtype;
	size_t		 bytes = 0;

	memset(out, 0, sizeof *out);
	/* Nothing to count in these, and they are most of a stream. */
	if (usage_event_is(event, event_len, "ping") ||
	    usage_event_is(event, event_len, "content_block_stop"))
		return (0);

	if ((root = usage_load_object(data, len)) == NULL)
		return (-1);
	type = json_string_value(json_object_get(root, "type"));
	if (type == NULL)
		type = "";

	if (strcmp(type, "message_start") == 0) {
		if (usage_from_anthropic(json_object_get(json_object_get(root,
		    "message"), "usage"), u) == 0)
			out->has_usage = 1;
	} else if (strcmp(type, "message_delta") == 0) {
		if (usage_anthropic_delta(json_object_get(root, "usage"),
		    u) == 0)
			out->has_usage = 1;
	} else if (strcmp(type, "message_stop") == 0)
		out->done = 1;
	else if (strcmp(type, "content_block_delta") == 0) {
		delta = json_object_get(root, "delta");
		dtype = json_string_value(json_object_get(delta, "type"));
		if (dtype == NULL)
			dtype = "";
		if (strcmp(dtype, "text_delta") == 0)
			bytes = usage_strlen(delta, "text");
		else if (strcmp(dtype, "input_json_delta") == 0)
			bytes = usage_strlen(delta, "partial_json");
		else if (strcmp(dtype, "thinking_delta") == 0)
			bytes = usage_strlen(delta, "thinking");
		out->output_delta = usage_estimate_tokens(bytes);
	}
	/* ping, error, content_block_start/stop: nothing to count. */
	json_decref(root);
	return (0);
}
