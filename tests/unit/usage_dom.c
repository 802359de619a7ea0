/*
 * The usage extraction tollgate had before jscan: every answer and event
 * parsed into a jansson tree.  Kept verbatim (but for the names) as the
 * reference that test_usage.c holds the jscan-based src/usage.c to,
 * answer for answer and event for event.  The helpers that did not change
 * are the ones both share (the memmem() test that passes over SSE events,
 * usage_clamp(), usage_event_is()).  #included by test_usage.c after
 * src/usage.c.
 */
#include <jansson.h>

/* A token count above this is not believed (a thousand trillion). */
#define DOM_MAX_TOKENS	INT64_C(1000000000000000)

/*
 * Read the count at obj.key (obj borrowed, may be NULL).  Returns 0 with
 * *out set; 1 when absent or null (*out = 0); -1 when it is no count.
 */
static int
dom_count(json_t *obj, const char *key, int64_t *out)
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
	if (n < 0 || n > DOM_MAX_TOKENS)
		return (-1);
	*out = n;
	return (0);
}

/* A detail count: broken or absent is 0. */
static int64_t
dom_detail(json_t *obj, const char *key)
{
	int64_t	 n;

	if (dom_count(obj, key, &n) != 0)
		return (0);
	return (n);
}

/*
 * An OpenAI usage object (borrowed): chat completions, completions and
 * embeddings say prompt_tokens/completion_tokens, the Responses API says
 * input_tokens/output_tokens.  Fills *u only on success.
 */
static int
dom_from_openai(json_t *usage, struct usage *u)
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
	if (dom_count(usage, in, &n.input) != 0)
		return (-1);
	/* Absent for embeddings: they have no output. */
	if (dom_count(usage, out, &n.output) == -1)
		return (-1);
	n.cached_input = dom_detail(json_object_get(usage, indet),
	    "cached_tokens");
	n.reasoning = dom_detail(json_object_get(usage, outdet),
	    "reasoning_tokens");
	usage_clamp(&n);
	n.source = USAGE_PROVIDER;
	*u = n;
	return (0);
}

/* Parse a JSON answer and read its top-level "usage" with from(). */
static int
dom_json(const char *body, size_t len, struct usage *u,
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

static int
dom_openai_json(const char *body, size_t len, struct usage *u)
{
	return (dom_json(body, len, u, dom_from_openai));
}

/* Bytes of the string at obj.key (obj borrowed, may be NULL), else 0. */
static size_t
dom_strlen(json_t *obj, const char *key)
{
	json_t	*v;	/* borrowed */

	if (!json_is_object(obj))
		return (0);
	v = json_object_get(obj, key);
	if (!json_is_string(v))
		return (0);
	return (json_string_length(v));
}

/* A chat.completion.chunk or text_completion chunk (root borrowed). */
static void
dom_chat_chunk(json_t *root, struct usage *u, struct usage_sse *out)
{
	json_t	*choices, *choice, *delta, *calls, *call;	/* borrowed */
	size_t	 i, j, bytes = 0;

	choices = json_object_get(root, "choices");
	if (dom_from_openai(json_object_get(root, "usage"), u) == 0) {
		out->has_usage = 1;
		if (json_is_array(choices) && json_array_size(choices) == 0)
			out->usage_only = 1;
	}
	if (!json_is_array(choices))
		return;
	json_array_foreach(choices, i, choice) {
		bytes += dom_strlen(choice, "text");
		delta = json_object_get(choice, "delta");
		if (!json_is_object(delta))
			continue;
		bytes += dom_strlen(delta, "content");
		bytes += dom_strlen(delta, "refusal");
		bytes += dom_strlen(delta, "reasoning_content");
		bytes += dom_strlen(json_object_get(delta, "function_call"),
		    "arguments");
		calls = json_object_get(delta, "tool_calls");
		if (!json_is_array(calls))
			continue;
		json_array_foreach(calls, j, call) {
			bytes += dom_strlen(json_object_get(call,
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
dom_responses_event(json_t *root, const char *type, struct usage *u,
    struct usage_sse *out)
{
	json_t	*resp;	/* borrowed */
	size_t	 tlen = strlen(type);

	if (strcmp(type, "response.completed") == 0 ||
	    strcmp(type, "response.incomplete") == 0 ||
	    strcmp(type, "response.failed") == 0) {
		resp = json_object_get(root, "response");
		if (json_is_object(resp) &&
		    dom_from_openai(json_object_get(resp, "usage"), u) == 0)
			out->has_usage = 1;
		out->done = 1;
		return;
	}
	if (tlen > 6 && strcmp(type + tlen - 6, ".delta") == 0 &&
	    strcmp(type, "response.audio.delta") != 0)
		out->output_delta =
		    usage_estimate_tokens(dom_strlen(root, "delta"));
}

/* An SSE event's data parsed as a JSON object (new reference), or NULL. */
static json_t *
dom_load_object(const char *data, size_t len)
{
	json_t	*root;		/* new */

	if ((root = json_loadb(data, len, 0, NULL)) != NULL &&
	    !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	return (root);
}

static int
dom_openai_sse(const char *data, size_t len, struct usage *u,
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

	if ((root = dom_load_object(data, len)) == NULL)
		return (-1);
	type = json_string_value(json_object_get(root, "type"));
	if (type != NULL && strncmp(type, "response.", 9) == 0)
		dom_responses_event(root, type, u, out);
	else
		dom_chat_chunk(root, u, out);
	json_decref(root);
	return (0);
}

/*
 * An Anthropic usage object (borrowed) as a whole: a Messages API answer
 * or message_start.  input_tokens excludes the cache, so it is added up.
 */
static int
dom_from_anthropic(json_t *usage, struct usage *u)
{
	struct usage	 n;
	int64_t		 in;

	if (!json_is_object(usage))
		return (-1);
	memset(&n, 0, sizeof n);
	if (dom_count(usage, "input_tokens", &in) != 0)
		return (-1);
	if (dom_count(usage, "output_tokens", &n.output) == -1)
		return (-1);
	n.cached_input = dom_detail(usage, "cache_read_input_tokens");
	n.cache_write = dom_detail(usage, "cache_creation_input_tokens");
	n.input = in + n.cached_input + n.cache_write;
	n.source = USAGE_PROVIDER;
	*u = n;
	return (0);
}

static int
dom_anthropic_json(const char *body, size_t len, struct usage *u)
{
	return (dom_json(body, len, u, dom_from_anthropic));
}

/*
 * message_delta's usage (borrowed): cumulative counts.  output_tokens is
 * always there; newer API versions repeat the input counts.  A count
 * that is cumulative never goes down, so a smaller value (a gateway that
 * sends 0 for "unknown") does not lower what message_start said.
 */
static int
dom_anthropic_delta(json_t *usage, struct usage *u)
{
	int64_t	 out, in, cr, cw, v;

	if (!json_is_object(usage) ||
	    dom_count(usage, "output_tokens", &out) != 0)
		return (-1);
	cr = u->cached_input;
	cw = u->cache_write;
	if ((in = u->input - cr - cw) < 0)
		in = 0;
	if (dom_count(usage, "input_tokens", &v) == 0 && v > in)
		in = v;
	if (dom_count(usage, "cache_read_input_tokens", &v) == 0 && v > cr)
		cr = v;
	if (dom_count(usage, "cache_creation_input_tokens", &v) == 0 &&
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
dom_anthropic_sse(const char *event, size_t event_len, const char *data,
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

	if ((root = dom_load_object(data, len)) == NULL)
		return (-1);
	type = json_string_value(json_object_get(root, "type"));
	if (type == NULL)
		type = "";

	if (strcmp(type, "message_start") == 0) {
		if (dom_from_anthropic(json_object_get(json_object_get(root,
		    "message"), "usage"), u) == 0)
			out->has_usage = 1;
	} else if (strcmp(type, "message_delta") == 0) {
		if (dom_anthropic_delta(json_object_get(root, "usage"),
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
			bytes = dom_strlen(delta, "text");
		else if (strcmp(dtype, "input_json_delta") == 0)
			bytes = dom_strlen(delta, "partial_json");
		else if (strcmp(dtype, "thinking_delta") == 0)
			bytes = dom_strlen(delta, "thinking");
		out->output_delta = usage_estimate_tokens(bytes);
	}
	/* ping, error, content_block_start/stop: nothing to count. */
	json_decref(root);
	return (0);
}
