/*
 * Fuzz target: usage extraction (src/usage.c), for every API.
 *
 * Input: byte 0 picks the function (mod 4): usage_openai_json,
 * usage_anthropic_json on the rest as a body; usage_openai_sse,
 * usage_anthropic_sse on each event of the rest read as an SSE stream, as
 * the proxy calls them, with one struct usage kept across the stream.
 *
 * Invariants after every call: counts are in [0, 10^15] (input up to
 * three of them: Anthropic adds its three input counts), the parts never
 * exceed their whole (cached + cache writes <= input, reasoning <=
 * output), *u changes only when the call says it read usage (or, for the
 * JSON bodies, succeeded), the flags are 0 or 1, usage_only implies
 * has_usage, and an Anthropic stream's output count never goes down but
 * at a message_start.  An OpenAI event that usage_openai_sse() passes over
 * unparsed must be one the full parse finds nothing in (unless a key is
 * hidden by a \u escape, which the skip documents).  usage.c is included
 * to reach that static skip test.
 */
#include "config.h"

#include <string.h>

#include "../../src/usage.c"

#include <stdlib.h>

#include "fuzz.h"
#include "sse.h"

struct stream {
	int		 anthropic;
	struct usage	 u;
};

static void
check_usage(const struct usage *u)
{
	FUZZ_ASSERT(u->input >= 0 && u->input <= 3 * USAGE_MAX_TOKENS);
	FUZZ_ASSERT(u->output >= 0 && u->output <= USAGE_MAX_TOKENS);
	FUZZ_ASSERT(u->cached_input >= 0 && u->cache_write >= 0);
	FUZZ_ASSERT(u->cached_input + u->cache_write <= u->input);
	FUZZ_ASSERT(u->reasoning >= 0 && u->reasoning <= u->output);
}

static void
check_sse_out(const struct usage_sse *o)
{
	FUZZ_ASSERT(o->has_usage == 0 || o->has_usage == 1);
	FUZZ_ASSERT(o->usage_only == 0 || o->usage_only == 1);
	FUZZ_ASSERT(o->done == 0 || o->done == 1);
	FUZZ_ASSERT(!o->usage_only || o->has_usage);
	FUZZ_ASSERT(o->output_delta >= 0);
}

/* An event skipped unparsed must hold nothing the full parse would use. */
static void
check_skip(const char *data, size_t len)
{
	static const struct jscan_key keys[] = {	/* as usage_openai_sse */
		JSCAN_KEY("type"), JSCAN_KEY("choices"), JSCAN_KEY("usage"),
		JSCAN_KEY("response"), JSCAN_KEY("delta")
	};
	struct usage		 u, before;
	struct usage_sse	 o;
	struct jscan_val	 root, v[5];
	enum jscan_result	 r;
	char			*copy;

	data = usage_trim(data, &len);
	if (!usage_openai_skip(data, len) ||
	    memmem(data, len, "\\u", 2) != NULL)
		return;
	r = jscan_check_getn(data, len, &root, keys, 5, v);
	if (usage_load(data, len, r, keys, 5, &root, v, &copy) == -1)
		return;
	memset(&u, 0x5a, sizeof u);
	before = u;
	memset(&o, 0, sizeof o);
	if (root.type == JSCAN_OBJECT) {
		if (jscan_strprefix(&v[0], "response."))
			usage_responses_event(&v[0], &v[3], &v[4], &u, &o);
		else
			usage_chat_chunk(&v[1], &v[2], &u, &o);
	}
	free(copy);
	FUZZ_ASSERT(o.has_usage == 0 && o.done == 0 && o.output_delta == 0);
	FUZZ_ASSERT(memcmp(&u, &before, sizeof u) == 0);
}

static int
event_cb(const struct sse_event *ev, void *arg)
{
	struct stream		*s = arg;
	struct usage		 before = s->u;
	struct usage_sse	 o;
	const char		*data = ev->data != NULL ? ev->data : "";
	int			 rv;

	memset(&o, 0x5a, sizeof o);
	if (s->anthropic)
		rv = usage_anthropic_sse(ev->event, ev->event_len, data,
		    ev->data_len, &s->u, &o);
	else {
		rv = usage_openai_sse(data, ev->data_len, &s->u, &o);
		check_skip(data, ev->data_len);
	}
	FUZZ_ASSERT(rv == 0 || rv == -1);
	check_sse_out(&o);
	if (rv == -1)
		FUZZ_ASSERT(o.has_usage == 0 && o.done == 0);
	if (!o.has_usage)
		FUZZ_ASSERT(memcmp(&s->u, &before, sizeof s->u) == 0);
	else
		FUZZ_ASSERT(s->u.source == USAGE_PROVIDER);
	check_usage(&s->u);
	if (s->anthropic && s->u.output < before.output)
		FUZZ_ASSERT(memmem(data, ev->data_len, "message_start",
		    13) != NULL);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream		 s;
	struct sse_parser	*p;
	struct usage		 u, before;
	const char		*in;
	size_t			 len;
	int			 rv;

	if (size < 1)
		return (0);
	in = (const char *)data + 1;
	len = size - 1;
	switch (data[0] % 4) {
	case 0:
	case 1:
		memset(&u, 0x5a, sizeof u);
		before = u;
		if (data[0] % 4 == 0)
			rv = usage_openai_json(in, len, &u);
		else
			rv = usage_anthropic_json(in, len, &u);
		FUZZ_ASSERT(rv == 0 || rv == -1);
		if (rv == -1) {
			FUZZ_ASSERT(memcmp(&u, &before, sizeof u) == 0);
			break;
		}
		FUZZ_ASSERT(u.source == USAGE_PROVIDER);
		check_usage(&u);
		break;
	default:
		memset(&s, 0, sizeof s);
		s.anthropic = data[0] % 4 == 3;
		p = sse_parser_new(0);
		sse_parser_feed(p, in, len, event_cb, &s);
		sse_parser_free(p);
		break;
	}
	return (0);
}
