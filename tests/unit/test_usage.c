/*
 * Usage extraction tests: real-shaped OpenAI and Anthropic answers and
 * stream events against the counts they must give, and malformed input
 * (not JSON, wrong types, negative or huge numbers) that must be refused
 * or ignored without touching what was counted before.
 *
 * Then the extraction is held to the one it replaced (usage_dom.c, which
 * parsed everything into a jansson tree): every case here, every answer
 * and stream in tests/fixtures, thousands of mutations of them and every
 * key and string of them written with an escape must give exactly the
 * same return value, usage and stream flags through both.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fixture.h"
#include "../tap.h"
#include "sse.h"
#include "../../src/usage.c"
#include "usage_dom.c"

#define NOUSE	-1	/* rv -1: *u must stay as it was */

struct json_case {
	const char	*name;
	const char	*body;
	int		 rv;
	int64_t		 in, cached, cw, out, reas;
};

static const struct json_case openai_json[] = {
	{ "chat completion",
	  "{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\","
	  "\"object\":\"chat.completion\",\"created\":1741569952,"
	  "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
	  "\"message\":{\"role\":\"assistant\",\"content\":\"Hello!\","
	  "\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
	  "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":19,"
	  "\"completion_tokens\":10,\"total_tokens\":29,"
	  "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":0,"
	  "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
	  "\"rejected_prediction_tokens\":0}},\"service_tier\":\"default\","
	  "\"system_fingerprint\":\"fp_06737a9306\"}",
	  0, 19, 0, 0, 10, 0 },
	{ "chat completion, cached and reasoning",
	  "{\"object\":\"chat.completion\",\"model\":\"o3-mini\","
	  "\"choices\":[],"
	  "\"usage\":{\"prompt_tokens\":1200,\"completion_tokens\":500,"
	  "\"total_tokens\":1700,\"prompt_tokens_details\":"
	  "{\"cached_tokens\":1024},\"completion_tokens_details\":"
	  "{\"reasoning_tokens\":320}}}",
	  0, 1200, 1024, 0, 500, 320 },
	{ "legacy completion",
	  "{\"id\":\"cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7\",\"object\":"
	  "\"text_completion\",\"created\":1589478378,\"model\":"
	  "\"gpt-3.5-turbo-instruct\",\"choices\":[{\"text\":\"\\n\\nThis is"
	  " indeed a test\",\"index\":0,\"logprobs\":null,\"finish_reason\":"
	  "\"length\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,"
	  "\"total_tokens\":12}}",
	  0, 5, 0, 0, 7, 0 },
	{ "embeddings",
	  "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
	  "\"index\":0,"
	  "\"embedding\":[0.0023064255,-0.009327292,-0.0028842222]}],"
	  "\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":8,"
	  "\"total_tokens\":8}}",
	  0, 8, 0, 0, 0, 0 },
	{ "responses API object",
	  "{\"id\":\"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b\","
	  "\"object\":\"response\",\"created_at\":1741476542,\"status\":"
	  "\"completed\",\"error\":null,\"model\":\"gpt-4.1-2025-04-14\","
	  "\"output\":[{\"type\":\"message\",\"id\":\"msg_1\",\"status\":"
	  "\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
	  "\"output_text\",\"text\":\"In a peaceful grove...\","
	  "\"annotations\":[]}]}],\"usage\":{\"input_tokens\":36,"
	  "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":87,"
	  "\"output_tokens_details\":{\"reasoning_tokens\":0},"
	  "\"total_tokens\":123}}",
	  0, 36, 0, 0, 87, 0 },
	{ "responses API, cached and reasoning",
	  "{\"object\":\"response\",\"usage\":{\"input_tokens\":4000,"
	  "\"input_tokens_details\":{\"cached_tokens\":3072},"
	  "\"output_tokens\":900,\"output_tokens_details\":"
	  "{\"reasoning_tokens\":640},\"total_tokens\":4900}}",
	  0, 4000, 3072, 0, 900, 640 },
	{ "details null are 0",
	  "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
	  "\"prompt_tokens_details\":null,\"completion_tokens_details\":null}}",
	  0, 3, 0, 0, 4, 0 },
	{ "broken details are ignored",
	  "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
	  "\"prompt_tokens_details\":{\"cached_tokens\":\"2\"},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":-1}}}",
	  0, 3, 0, 0, 4, 0 },
	{ "cached above input is clamped",
	  "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
	  "\"prompt_tokens_details\":{\"cached_tokens\":9},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":5}}}",
	  0, 3, 3, 0, 4, 4 },
	{ "largest believed count",
	  "{\"usage\":{\"prompt_tokens\":1000000000000000,"
	  "\"completion_tokens\":0}}",
	  0, INT64_C(1000000000000000), 0, 0, 0, 0 },
	{ "not JSON", "<html>502 Bad Gateway</html>", NOUSE, 0, 0, 0, 0, 0 },
	{ "empty body", "", NOUSE, 0, 0, 0, 0, 0 },
	{ "truncated", "{\"usage\":{\"prompt_tokens\":19,", NOUSE, 0, 0, 0, 0,
	  0 },
	{ "array", "[{\"usage\":{\"prompt_tokens\":1}}]", NOUSE, 0, 0, 0, 0,
	  0 },
	{ "no usage", "{\"object\":\"chat.completion\"}", NOUSE, 0, 0, 0, 0,
	  0 },
	{ "usage null", "{\"usage\":null}", NOUSE, 0, 0, 0, 0, 0 },
	{ "usage a string", "{\"usage\":\"19\"}", NOUSE, 0, 0, 0, 0, 0 },
	{ "usage empty", "{\"usage\":{}}", NOUSE, 0, 0, 0, 0, 0 },
	{ "prompt_tokens a string",
	  "{\"usage\":{\"prompt_tokens\":\"19\",\"completion_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "prompt_tokens a real",
	  "{\"usage\":{\"prompt_tokens\":19.5,\"completion_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "prompt_tokens null",
	  "{\"usage\":{\"prompt_tokens\":null,\"completion_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "negative prompt_tokens",
	  "{\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "negative completion_tokens",
	  "{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":-1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "completion_tokens a bool",
	  "{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":true}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "count above the cap",
	  "{\"usage\":{\"prompt_tokens\":1000000000000001,"
	  "\"completion_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "INT64_MAX",
	  "{\"usage\":{\"prompt_tokens\":9223372036854775807,"
	  "\"completion_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "beyond int64",
	  "{\"usage\":{\"prompt_tokens\":99999999999999999999999,"
	  "\"completion_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "huge real",
	  "{\"usage\":{\"prompt_tokens\":1e300,\"completion_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "responses: output_tokens a string",
	  "{\"usage\":{\"input_tokens\":5,\"output_tokens\":\"7\"}}",
	  NOUSE, 0, 0, 0, 0, 0 },
};

static const struct json_case anthropic_json[] = {
	{ "message with cache read",
	  "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\","
	  "\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":"
	  "[{\"type\":\"text\",\"text\":\"Hi!\"}],\"stop_reason\":\"end_turn\","
	  "\"stop_sequence\":null,\"usage\":{\"input_tokens\":2095,"
	  "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":1800,"
	  "\"output_tokens\":503,\"service_tier\":\"standard\"}}",
	  0, 3895, 1800, 0, 503, 0 },
	{ "message with cache write",
	  "{\"type\":\"message\",\"usage\":{\"input_tokens\":21,"
	  "\"cache_creation_input_tokens\":188086,"
	  "\"cache_read_input_tokens\":0,\"output_tokens\":393,"
	  "\"cache_creation\":{\"ephemeral_5m_input_tokens\":188086,"
	  "\"ephemeral_1h_input_tokens\":0}}}",
	  0, 188107, 0, 188086, 393, 0 },
	{ "message without cache fields",
	  "{\"type\":\"message\",\"usage\":{\"input_tokens\":10,"
	  "\"output_tokens\":25}}",
	  0, 10, 0, 0, 25, 0 },
	{ "cache fields null",
	  "{\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":null,"
	  "\"cache_creation_input_tokens\":null,\"output_tokens\":1}}",
	  0, 10, 0, 0, 1, 0 },
	{ "negative cache read is ignored",
	  "{\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":-4,"
	  "\"output_tokens\":1}}",
	  0, 10, 0, 0, 1, 0 },
	{ "error body",
	  "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	  "\"message\":\"Overloaded\"}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "input_tokens missing",
	  "{\"usage\":{\"output_tokens\":1}}", NOUSE, 0, 0, 0, 0, 0 },
	{ "input_tokens a string",
	  "{\"usage\":{\"input_tokens\":\"10\",\"output_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "negative output",
	  "{\"usage\":{\"input_tokens\":10,\"output_tokens\":-1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "beyond int64",
	  "{\"usage\":{\"input_tokens\":18446744073709551616,"
	  "\"output_tokens\":1}}",
	  NOUSE, 0, 0, 0, 0, 0 },
	{ "not JSON", "upstream connect error", NOUSE, 0, 0, 0, 0, 0 },
};

static void
check_json(const char *what, const struct json_case *c, size_t n,
    int (*fn)(const char *, size_t, struct usage *))
{
	struct usage	 u;
	size_t		 i;
	int		 rv;

	for (i = 0; i < n; i++, c++) {
		memset(&u, 0, sizeof u);
		u.input = 77;		/* must survive a refusal */
		u.output = 88;
		rv = fn(c->body, strlen(c->body), &u);
		is_int(rv, c->rv, "%s: %s: rv", what, c->name);
		if (c->rv != 0) {
			ok(u.input == 77 && u.output == 88 &&
			    u.source == USAGE_NONE,
			    "%s: %s: usage untouched", what, c->name);
			continue;
		}
		is_int(u.input, c->in, "%s: %s: input", what, c->name);
		is_int(u.cached_input, c->cached, "%s: %s: cached_input",
		    what, c->name);
		is_int(u.cache_write, c->cw, "%s: %s: cache_write", what,
		    c->name);
		is_int(u.output, c->out, "%s: %s: output", what, c->name);
		is_int(u.reasoning, c->reas, "%s: %s: reasoning", what,
		    c->name);
		is_int(u.source, USAGE_PROVIDER, "%s: %s: source", what,
		    c->name);
	}
}

/*
 * One stream event.  Usage is carried from one step to the next within a
 * table, so the final counts are what a whole stream gives.
 */
struct sse_case {
	const char	*name;
	const char	*event;		/* Anthropic only */
	const char	*data;
	int		 rv;
	int		 has_usage, usage_only, done;
	int64_t		 delta;
	int64_t		 in, cached, cw, out, reas;	/* u after */
};

#define OAI_HEAD "{\"id\":\"chatcmpl-AbC\"," \
		"\"object\":\"chat.completion.chunk\"," \
		"\"created\":1741569952,\"model\":\"gpt-4o-mini\"," \
		"\"system_fingerprint\":\"fp_0\","

static const struct sse_case openai_sse[] = {
	{ "role chunk", NULL, OAI_HEAD "\"choices\":[{\"index\":0,\"delta\":"
	  "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
	  "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "content chunk", NULL, OAI_HEAD "\"choices\":[{\"index\":0,"
	  "\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,"
	  "\"finish_reason\":null}],\"usage\":null}",
	  0, 0, 0, 0, 2, 0, 0, 0, 0, 0 },
	{ "spaces around the colon", NULL, "{\"choices\": [{\"delta\": "
	  "{\"content\" : \"Hi there!\"}}]}",
	  0, 0, 0, 0, 3, 0, 0, 0, 0, 0 },
	{ "escaped UTF-8 counts decoded bytes", NULL, "{\"choices\":"
	  "[{\"delta\":{\"content\":\"h\\u00e9llo\"}}]}",
	  0, 0, 0, 0, 2, 0, 0, 0, 0, 0 },
	{ "raw UTF-8", NULL, "{\"choices\":[{\"delta\":{\"content\":"
	  "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}}]}",
	  0, 0, 0, 0, 3, 0, 0, 0, 0, 0 },
	{ "tool call arguments", NULL, "{\"choices\":[{\"index\":0,\"delta\":"
	  "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
	  "\"{\\\"location\\\":\"}}]},\"finish_reason\":null}]}",
	  0, 0, 0, 0, 3, 0, 0, 0, 0, 0 },
	{ "tool call start (name, empty args)", NULL,
	  "{\"choices\":[{\"delta\":"
	  "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":"
	  "0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	  "\"get_weather\",\"arguments\":\"\"}}]}}]}",
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "legacy completion chunk", NULL, "{\"id\":\"cmpl-1\",\"object\":"
	  "\"text_completion\",\"choices\":[{\"text\":\" world\",\"index\":0,"
	  "\"logprobs\":null,\"finish_reason\":null}],\"model\":"
	  "\"gpt-3.5-turbo-instruct\"}",
	  0, 0, 0, 0, 2, 0, 0, 0, 0, 0 },
	{ "finish chunk", NULL, OAI_HEAD "\"choices\":[{\"index\":0,\"delta\":"
	  "{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}",
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "usage chunk (include_usage)", NULL, OAI_HEAD "\"choices\":[],"
	  "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12,"
	  "\"total_tokens\":21,\"prompt_tokens_details\":{\"cached_tokens\":"
	  "0,\"audio_tokens\":0},\"completion_tokens_details\":"
	  "{\"reasoning_tokens\":0,\"audio_tokens\":0}}}",
	  0, 1, 1, 0, 0, 9, 0, 0, 12, 0 },
	{ "[DONE]", NULL, "[DONE]", 0, 0, 0, 1, 0, 9, 0, 0, 12, 0 },
	{ "usage with content (not usage-only)", NULL, "{\"choices\":[{"
	  "\"delta\":{\"content\":\"ok\"}}],\"usage\":{\"prompt_tokens\":30,"
	  "\"completion_tokens\":40,\"prompt_tokens_details\":"
	  "{\"cached_tokens\":16},\"completion_tokens_details\":"
	  "{\"reasoning_tokens\":8}}}",
	  0, 1, 0, 0, 1, 30, 16, 0, 40, 8 },
	{ "broken usage in a chunk is ignored", NULL, "{\"choices\":[],"
	  "\"usage\":{\"prompt_tokens\":\"9\",\"completion_tokens\":1}}",
	  0, 0, 0, 0, 0, 30, 16, 0, 40, 8 },
	{ "negative usage in a chunk is ignored", NULL, "{\"choices\":[],"
	  "\"usage\":{\"prompt_tokens\":-9,\"completion_tokens\":1}}",
	  0, 0, 0, 0, 0, 30, 16, 0, 40, 8 },
	{ "wrong shapes everywhere", NULL, "{\"choices\":{\"delta\":1},"
	  "\"usage\":[1,2]}", 0, 0, 0, 0, 0, 30, 16, 0, 40, 8 },
	{ "delta a string, tool_calls not an array", NULL, "{\"choices\":["
	  "{\"delta\":\"content\"},{\"delta\":{\"tool_calls\":\"x\","
	  "\"content\":7}},3,null]}", 0, 0, 0, 0, 0, 30, 16, 0, 40, 8 },
	{ "not JSON", NULL, "data: oops", -1, 0, 0, 0, 0, 30, 16, 0, 40, 8 },
	{ "truncated chunk with content", NULL, "{\"choices\":[{\"delta\":"
	  "{\"content\":\"Hel", -1, 0, 0, 0, 0, 30, 16, 0, 40, 8 },
	{ "huge integer", NULL, "{\"usage\":{\"prompt_tokens\":"
	  "123456789012345678901234567890}}", -1, 0, 0, 0, 0, 30, 16, 0, 40,
	  8 },
	{ "empty data", NULL, "", -1, 0, 0, 0, 0, 30, 16, 0, 40, 8 },
	{ "error object mid-stream", NULL, "{\"error\":{\"message\":"
	  "\"The server had an error\",\"type\":\"server_error\"}}",
	  0, 0, 0, 0, 0, 30, 16, 0, 40, 8 },
};

static const struct sse_case responses_sse[] = {
	{ "response.created", NULL, "{\"type\":\"response.created\","
	  "\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":"
	  "\"response\",\"status\":\"in_progress\",\"output\":[],"
	  "\"usage\":null}}", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "output_item.added", NULL, "{\"type\":"
	  "\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":"
	  "\"msg_1\",\"status\":\"in_progress\",\"type\":\"message\","
	  "\"role\":\"assistant\",\"content\":[]},\"sequence_number\":2}",
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "output_text.delta", NULL, "{\"type\":\"response.output_text.delta\","
	  "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
	  "\"delta\":\"Hello world\",\"sequence_number\":4}",
	  0, 0, 0, 0, 3, 0, 0, 0, 0, 0 },
	{ "function_call_arguments.delta", NULL, "{\"type\":"
	  "\"response.function_call_arguments.delta\",\"item_id\":\"fc_1\","
	  "\"output_index\":1,\"delta\":\"{\\\"city\\\"\",\"sequence_number\":"
	  "5}", 0, 0, 0, 0, 2, 0, 0, 0, 0, 0 },
	{ "audio delta is not text", NULL, "{\"type\":\"response.audio.delta\","
	  "\"delta\":\"UklGRiQAAABXQVZFZm10IBAAAAABAAEA\"}",
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "output_text.done is not counted again", NULL, "{\"type\":"
	  "\"response.output_text.done\",\"item_id\":\"msg_1\",\"text\":"
	  "\"Hello world\",\"sequence_number\":6}",
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "response.completed", NULL, "{\"type\":\"response.completed\","
	  "\"sequence_number\":9,\"response\":{\"id\":\"resp_1\",\"object\":"
	  "\"response\",\"status\":\"completed\",\"output\":[{\"type\":"
	  "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
	  "\"Hello world\"}]}],\"usage\":{\"input_tokens\":37,"
	  "\"input_tokens_details\":{\"cached_tokens\":12},\"output_tokens\":"
	  "11,\"output_tokens_details\":{\"reasoning_tokens\":4},"
	  "\"total_tokens\":48}}}", 0, 1, 0, 1, 0, 37, 12, 0, 11, 4 },
	{ "response.incomplete", NULL, "{\"type\":\"response.incomplete\","
	  "\"response\":{\"status\":\"incomplete\",\"usage\":{\"input_tokens\":"
	  "50,\"output_tokens\":64}}}", 0, 1, 0, 1, 0, 50, 0, 0, 64, 0 },
	{ "response.failed without usage", NULL, "{\"type\":"
	  "\"response.failed\",\"response\":{\"status\":\"failed\","
	  "\"usage\":null}}", 0, 0, 0, 1, 0, 50, 0, 0, 64, 0 },
};

static const struct sse_case anthropic_sse[] = {
	{ "message_start", "message_start", "{\"type\":\"message_start\","
	  "\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\","
	  "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
	  "\"model\":\"claude-haiku-4-5\",\"stop_reason\":null,"
	  "\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,"
	  "\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":"
	  "2000,\"output_tokens\":2}}}", 0, 1, 0, 0, 0, 2572, 2000, 100, 2,
	  0 },
	{ "content_block_start", "content_block_start", "{\"type\":"
	  "\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
	  "\"text\",\"text\":\"\"}}", 0, 0, 0, 0, 0, 2572, 2000, 100, 2, 0 },
	{ "ping", "ping", "{\"type\": \"ping\"}", 0, 0, 0, 0, 0, 2572, 2000,
	  100, 2, 0 },
	{ "text_delta", "content_block_delta", "{\"type\":"
	  "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	  "\"text_delta\",\"text\":\"Hello, world\"}}", 0, 0, 0, 0, 3, 2572,
	  2000, 100, 2, 0 },
	{ "input_json_delta", "content_block_delta", "{\"type\":"
	  "\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
	  "\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": "
	  "\\\"San Fra\"}}", 0, 0, 0, 0, 6, 2572, 2000, 100, 2, 0 },
	{ "thinking_delta", "content_block_delta", "{\"type\":"
	  "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	  "\"thinking_delta\",\"thinking\":\"Let me solve\"}}", 0, 0, 0, 0, 3,
	  2572, 2000, 100, 2, 0 },
	{ "signature_delta", "content_block_delta", "{\"type\":"
	  "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	  "\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3h"
	  "GgxBdjrkzLoky3dl1pkiMOYds\"}}", 0, 0, 0, 0, 0, 2572, 2000, 100, 2,
	  0 },
	{ "content_block_stop", "content_block_stop", "{\"type\":"
	  "\"content_block_stop\",\"index\":0}", 0, 0, 0, 0, 0, 2572, 2000,
	  100, 2, 0 },
	{ "message_delta (cumulative output)", "message_delta", "{\"type\":"
	  "\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
	  "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}",
	  0, 1, 0, 0, 0, 2572, 2000, 100, 15, 0 },
	{ "message_delta with input counts", "message_delta", "{\"type\":"
	  "\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},"
	  "\"usage\":{\"input_tokens\":900,\"cache_creation_input_tokens\":"
	  "100,\"cache_read_input_tokens\":2000,\"output_tokens\":40,"
	  "\"server_tool_use\":{\"web_search_requests\":1}}}",
	  0, 1, 0, 0, 0, 3000, 2000, 100, 40, 0 },
	{ "message_delta: cumulative never goes down", "message_delta",
	  "{\"type\":\"message_delta\",\"usage\":{\"input_tokens\":0,"
	  "\"output_tokens\":39}}", 0, 1, 0, 0, 0, 3000, 2000, 100, 40, 0 },
	{ "message_delta: broken output is ignored", "message_delta",
	  "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":\"99\"}}",
	  0, 0, 0, 0, 0, 3000, 2000, 100, 40, 0 },
	{ "message_delta: negative output is ignored", "message_delta",
	  "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":-5}}",
	  0, 0, 0, 0, 0, 3000, 2000, 100, 40, 0 },
	{ "error event", "error", "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"overloaded_error\",\"message\":\"Overloaded\"}}", 0, 0, 0, 0, 0,
	  3000, 2000, 100, 40, 0 },
	{ "not JSON", "message_delta", "{\"type\":", -1, 0, 0, 0, 0, 3000,
	  2000, 100, 40, 0 },
	{ "message_stop without event name", NULL, "{\"type\":"
	  "\"message_stop\"}", 0, 0, 0, 1, 0, 3000, 2000, 100, 40, 0 },
};

/* A message_start whose usage is broken leaves *u as it was. */
static const struct sse_case anthropic_bad_start[] = {
	{ "message_start, input a string", "message_start", "{\"type\":"
	  "\"message_start\",\"message\":{\"usage\":{\"input_tokens\":\"5\","
	  "\"output_tokens\":1}}}", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "message_start without message", "message_start", "{\"type\":"
	  "\"message_start\",\"message\":3}", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "message_delta alone", "message_delta", "{\"type\":"
	  "\"message_delta\",\"usage\":{\"output_tokens\":7}}", 0, 1, 0, 0, 0,
	  0, 0, 0, 7, 0 },
	{ "array data", "message_start", "[1]", -1, 0, 0, 0, 0, 0, 0, 0, 7,
	  0 },
};

static void
check_sse(const char *what, const struct sse_case *c, size_t n,
    int anthropic)
{
	struct usage		 u;
	struct usage_sse	 out;
	size_t			 i;
	int			 rv;

	memset(&u, 0, sizeof u);
	for (i = 0; i < n; i++, c++) {
		memset(&out, 0xa5, sizeof out);
		if (anthropic)
			rv = usage_anthropic_sse(c->event,
			    c->event == NULL ? 0 : strlen(c->event), c->data,
			    strlen(c->data), &u, &out);
		else
			rv = usage_openai_sse(c->data, strlen(c->data), &u,
			    &out);
		is_int(rv, c->rv, "%s: %s: rv", what, c->name);
		is_int(out.has_usage, c->has_usage, "%s: %s: has_usage", what,
		    c->name);
		is_int(out.usage_only, c->usage_only, "%s: %s: usage_only",
		    what, c->name);
		is_int(out.done, c->done, "%s: %s: done", what, c->name);
		is_int(out.output_delta, c->delta, "%s: %s: output_delta",
		    what, c->name);
		ok(u.input == c->in && u.cached_input == c->cached &&
		    u.cache_write == c->cw && u.output == c->out &&
		    u.reasoning == c->reas, "%s: %s: usage after", what,
		    c->name);
		if (!(u.input == c->in && u.cached_input == c->cached &&
		    u.cache_write == c->cw && u.output == c->out &&
		    u.reasoning == c->reas))
			printf("# got %lld/%lld/%lld/%lld/%lld\n",
			    (long long)u.input, (long long)u.cached_input,
			    (long long)u.cache_write, (long long)u.output,
			    (long long)u.reasoning);
	}
}

/* Data that is not NUL-terminated, and the skip path's edges. */
static void
check_bounds(void)
{
	struct usage		 u;
	struct usage_sse	 out;
	char			 buf[64];
	const char		*d =
	    "{\"choices\":[{\"delta\":{\"content\":\"ab\"}}]}";

	memset(&u, 0, sizeof u);
	memset(buf, '}', sizeof buf);
	memcpy(buf, d, strlen(d));
	is_int(usage_openai_sse(buf, strlen(d), &u, &out), 0,
	    "data without NUL: parsed by length");
	is_int(out.output_delta, 1, "data without NUL: delta");
	is_int(usage_openai_sse("[DONE]", 5, &u, &out), -1,
	    "\"[DONE\" is not [DONE]");
	is_int(usage_openai_sse(" [DONE]\r\n", 9, &u, &out), 0,
	    "[DONE] with whitespace");
	is_int(out.done, 1, "[DONE] with whitespace: done");
	is_int(usage_openai_sse("{\"content\":\"", 12, &u, &out), -1,
	    "key at the very end does not overrun");
	is_int(usage_openai_sse("{\"usage\"", 8, &u, &out), -1,
	    "usage key at the very end does not overrun");
	is_int(usage_anthropic_sse("ping", 4, "{\"type\":\"ping\"}", 15, &u,
	    &out), 0, "anthropic ping");
	is_int(usage_anthropic_sse(NULL, 0, "", 0, &u, &out), -1,
	    "anthropic empty data");
}

static void
check_misc(void)
{
	static const struct {
		size_t	 len;
		int64_t	 want;
	} est[] = {
		{ 0, 0 }, { 1, 1 }, { 3, 1 }, { 4, 1 }, { 5, 2 }, { 8, 2 },
		{ 4000, 1000 }, { 4001, 1001 },
		{ SIZE_MAX, (int64_t)(SIZE_MAX / 4) + 1 },
	};
	size_t	 i;

	for (i = 0; i < sizeof est / sizeof est[0]; i++)
		is_int(usage_estimate_tokens(est[i].len), est[i].want,
		    "estimate %zu bytes", est[i].len);
	is_str(usage_source_name(USAGE_NONE), "none", "source none");
	is_str(usage_source_name(USAGE_PROVIDER), "provider",
	    "source provider");
	is_str(usage_source_name(USAGE_ESTIMATED), "estimated",
	    "source estimated");
	is_str(usage_source_name(USAGE_PARTIAL), "partial", "source partial");
	is_str(usage_source_name((enum usage_source)42), "none",
	    "unknown source");
}

#define N(a)	(sizeof (a) / sizeof (a)[0])

/*
 * Where the two ways of reading an event meet: valid JSON whose keys are
 * escaped (the memmem() test skips it, as it always did), and a number
 * only jansson can judge.
 */
static const struct sse_case edge_sse[] = {
	{ "escaped content key is not seen", NULL, "{\"choices\":[{\"delta\":"
	  "{\"cont\\u0065nt\":\"Hello there\"}}]}",
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "escaped content key beside a plain one", NULL, "{\"choices\":[{"
	  "\"delta\":{\"cont\\u0065nt\":\"Hello there\",\"refusal\":\"no\"}}]}",
	  0, 0, 0, 0, 4, 0, 0, 0, 0, 0 },
	{ "escaped terminal type with usage", NULL, "{\"type\":"
	  "\"response.c\\u006fmpleted\",\"response\":{\"usage\":{"
	  "\"input_tokens\":5,\"output_tokens\":6}}}",
	  0, 1, 0, 1, 0, 5, 0, 0, 6, 0 },
	{ "escaped terminal type without usage", NULL, "{\"type\":"
	  "\"response.c\\u006fmpleted\",\"response\":{\"usage\":null}}",
	  0, 0, 0, 0, 0, 5, 0, 0, 6, 0 },
	{ "escaped usage key", NULL, "{\"choices\":[],\"us\\u0061ge\":{"
	  "\"prompt_tokens\":7,\"completion_tokens\":8}}",
	  0, 0, 0, 0, 0, 5, 0, 0, 6, 0 },
	{ "a real only strtod can judge", NULL, "{\"choices\":[],\"usage\":{"
	  "\"prompt_tokens\":7,\"completion_tokens\":8},\"x\":1.000000000000"
	  "0000000000000000000000000000000000000000000000000000000000e308}",
	  0, 1, 1, 0, 0, 7, 0, 0, 8, 0 },
	{ "a real only strtod can judge, overflowing", NULL, "{\"choices\":[],"
	  "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":9},\"x\":"
	  "1.8000000000000000000000000000000000000000000000000000000000000000"
	  "00e308}", -1, 0, 0, 0, 0, 7, 0, 0, 8, 0 },
	{ "skipped though not JSON", NULL, "{\"id\":\"x\",}", 0, 0, 0, 0, 0,
	  7, 0, 0, 8, 0 },
};

static const struct json_case edge_json[] = {
	{ "a real only strtod can judge",
	  "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4},\"x\":"
	  "-1.000000000000000000000000000000000000000000000000000000000000000"
	  "0e308}", 0, 3, 0, 0, 4, 0 },
	{ "a real only strtod can judge, overflowing",
	  "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4},\"x\":"
	  "-1.800000000000000000000000000000000000000000000000000000000000000"
	  "0e308}", NOUSE, 0, 0, 0, 0, 0 },
	{ "escaped usage key",
	  "{\"\\u0075sage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
	  0, 3, 0, 0, 4, 0 },
	{ "the last of two usage keys wins",
	  "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4},"
	  "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}",
	  0, 5, 0, 0, 6, 0 },
	{ "the last of two usage keys wins, even null",
	  "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4},"
	  "\"usage\":null}", NOUSE, 0, 0, 0, 0, 0 },
	{ "usage in a nested object is not the top's", "{\"a\":"
	  "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}}", NOUSE,
	  0, 0, 0, 0, 0 },
};

static int
same_usage(const struct usage *a, const struct usage *b)
{
	return (a->input == b->input && a->cached_input == b->cached_input &&
	    a->cache_write == b->cache_write && a->output == b->output &&
	    a->reasoning == b->reasoning && a->source == b->source);
}

static void
print_diff(const char *what, int ra, int rb, const struct usage *a,
    const struct usage *b, const char *text, size_t len)
{
	printf("# %s: rv %d/%d, usage %lld/%lld/%lld/%lld/%lld/%d vs "
	    "%lld/%lld/%lld/%lld/%lld/%d\n", what, ra, rb,
	    (long long)a->input, (long long)a->cached_input,
	    (long long)a->cache_write, (long long)a->output,
	    (long long)a->reasoning, (int)a->source, (long long)b->input,
	    (long long)b->cached_input, (long long)b->cache_write,
	    (long long)b->output, (long long)b->reasoning, (int)b->source);
	fixture_print(text, len);
}

/* One answer through both extractions: do they agree? */
static int
diff_json(int anthropic, const char *body, size_t len)
{
	struct usage	a, b;
	int		ra, rb;

	memset(&a, 0, sizeof a);
	a.input = 77;
	a.output = 88;
	b = a;
	ra = (anthropic ? usage_anthropic_json : usage_openai_json)(body, len,
	    &a);
	rb = (anthropic ? dom_anthropic_json : dom_openai_json)(body, len, &b);
	if (ra == rb && same_usage(&a, &b))
		return (1);
	print_diff(anthropic ? "anthropic json" : "openai json", ra, rb, &a,
	    &b, body, len);
	return (0);
}

/*
 * One stream event through both, each from usage *u; *u becomes what the
 * new extraction made of it.  Do they agree?
 */
static int
diff_event(int anthropic, const char *event, size_t elen, const char *data,
    size_t len, struct usage *u)
{
	struct usage		a = *u, b = *u;
	struct usage_sse	oa, ob;
	int			ra, rb;

	memset(&oa, 0xa5, sizeof oa);
	memset(&ob, 0x5a, sizeof ob);
	if (anthropic) {
		ra = usage_anthropic_sse(event, elen, data, len, &a, &oa);
		rb = dom_anthropic_sse(event, elen, data, len, &b, &ob);
	} else {
		ra = usage_openai_sse(data, len, &a, &oa);
		rb = dom_openai_sse(data, len, &b, &ob);
	}
	*u = a;
	if (ra == rb && same_usage(&a, &b) && oa.has_usage == ob.has_usage &&
	    oa.usage_only == ob.usage_only && oa.done == ob.done &&
	    oa.output_delta == ob.output_delta)
		return (1);
	print_diff(anthropic ? "anthropic sse" : "openai sse", ra, rb, &a, &b,
	    data, len);
	printf("# flags %d/%d/%d/%lld vs %d/%d/%d/%lld\n", oa.has_usage,
	    oa.usage_only, oa.done, (long long)oa.output_delta, ob.has_usage,
	    ob.usage_only, ob.done, (long long)ob.output_delta);
	return (0);
}

static void
diff_cases(void)
{
	static const struct {
		const char		*what;
		const struct json_case	*c;
		size_t			 n;
		int			 anthropic;
	} jt[] = {
		{ "openai", openai_json, N(openai_json), 0 },
		{ "anthropic", anthropic_json, N(anthropic_json), 1 },
		{ "edge", edge_json, N(edge_json), 0 },
	};
	static const struct {
		const char		*what;
		const struct sse_case	*c;
		size_t			 n;
		int			 anthropic;
	} st[] = {
		{ "openai sse", openai_sse, N(openai_sse), 0 },
		{ "responses sse", responses_sse, N(responses_sse), 0 },
		{ "anthropic sse", anthropic_sse, N(anthropic_sse), 1 },
		{ "anthropic sse, bad start", anthropic_bad_start,
		  N(anthropic_bad_start), 1 },
		{ "edge sse", edge_sse, N(edge_sse), 0 },
	};
	const struct sse_case	*c;
	struct usage		 u;
	size_t			 i, k, agree;

	for (i = 0; i < N(jt); i++) {
		for (k = agree = 0; k < jt[i].n; k++)
			agree += diff_json(jt[i].anthropic, jt[i].c[k].body,
			    strlen(jt[i].c[k].body));
		is_int(agree, jt[i].n, "%s cases: same as the tree",
		    jt[i].what);
	}
	for (i = 0; i < N(st); i++) {
		memset(&u, 0, sizeof u);
		for (k = agree = 0; k < st[i].n; k++) {
			c = &st[i].c[k];
			agree += diff_event(st[i].anthropic, c->event,
			    c->event == NULL ? 0 : strlen(c->event), c->data,
			    strlen(c->data), &u);
		}
		is_int(agree, st[i].n, "%s cases: same as the tree",
		    st[i].what);
	}
}

/* An SSE stream's events, copied out of the parser. */
struct events {
	char	**event;	/* NULL: no "event:" line */
	char	**data;
	size_t	 *len;
	size_t	  n;
};

static int
events_cb(const struct sse_event *ev, void *arg)
{
	struct events	*e = arg;

	if (ev->data == NULL)
		return (0);
	e->event = xreallocarray(e->event, e->n + 1, sizeof *e->event);
	e->data = xreallocarray(e->data, e->n + 1, sizeof *e->data);
	e->len = xreallocarray(e->len, e->n + 1, sizeof *e->len);
	e->event[e->n] = ev->event == NULL ? NULL :
	    xstrndup(ev->event, ev->event_len);
	e->data[e->n] = xmalloc(ev->data_len + 1);
	memcpy(e->data[e->n], ev->data, ev->data_len);
	e->len[e->n++] = ev->data_len;
	return (0);
}

static void
events_free(struct events *e)
{
	size_t	i;

	for (i = 0; i < e->n; i++) {
		free(e->event[i]);
		free(e->data[i]);
	}
	free(e->event);
	free(e->data);
	free(e->len);
}

/*
 * Variants of text[0..len) into buf (room for len + FIXTURE_GROWTH): the
 * k-th is text with its k-th quoted letter (of a key or a string) written
 * as a \u escape.  Returns 0 with *blen set, or -1 when there is no k-th.
 */
static int
escape_variant(const char *text, size_t len, size_t k, char *buf,
    size_t *blen)
{
	size_t	i, seen = 0;

	for (i = 0; i + 1 < len; i++) {
		if (text[i] != '"' || !((text[i + 1] >= 'a' &&
		    text[i + 1] <= 'z') || (text[i + 1] >= 'A' &&
		    text[i + 1] <= 'Z')) || seen++ != k)
			continue;
		memcpy(buf, text, i + 1);
		snprintf(buf + i + 1, 7, "\\u%04x", (unsigned)text[i + 1]);
		memcpy(buf + i + 7, text + i + 2, len - i - 2);
		*blen = len + 5;
		return (0);
	}
	return (-1);
}

/*
 * A text through both extractions as it is, with each quoted letter
 * escaped in turn, and mutated (nmut times): *nok counts the agreements,
 * *n the tries.  For events, u is the usage before the event (left as it
 * is).
 */
static void
diff_variants(int anthropic, int json, const char *event, const char *text,
    size_t len, const struct usage *u, size_t nmut, size_t *nok, size_t *n)
{
	struct usage	 v;
	char		*buf;
	size_t		 blen, k, e, edits, esc = 0;

	buf = xmalloc(len + 4 * FIXTURE_GROWTH);
	for (k = 0; k <= nmut; k++) {
		memcpy(buf, text, len);
		blen = len;
		edits = 1 + fixture_rnd() % 4;
		for (e = 0; k > 0 && e < edits; e++)
			fixture_mutate(buf, &blen);
		do {
			v = *u;
			(*n)++;
			*nok += json ? diff_json(anthropic, buf, blen) :
			    diff_event(anthropic, event, event == NULL ? 0 :
			    strlen(event), buf, blen, &v);
		} while (k == 0 && escape_variant(text, len, esc++, buf,
		    &blen) == 0);
	}
	free(buf);
}

static void
diff_fixtures(void)
{
	static const char *const json[] = {
		"anthropic-messages", "openai-chat", "openai-embeddings",
		"openai-responses"
	};
	static const char *const sse[] = {
		"anthropic-text", "anthropic-tool-use", "openai-chat-text",
		"openai-chat-tools", "openai-completions", "openai-responses"
	};
	struct sse_parser	*sp;
	struct events		 ev;
	struct usage		 u;
	char			 name[64], *text;
	size_t			 i, k, len, nok, n;
	int			 anthropic;

	for (i = 0; i < N(json); i++) {
		snprintf(name, sizeof name, "json/%s.json", json[i]);
		anthropic = strncmp(json[i], "anthropic", 9) == 0;
		if ((text = fixture_read(name, &len)) == NULL) {
			ok(0, "read %s", name);
			continue;
		}
		memset(&u, 0, sizeof u);
		nok = n = 0;
		diff_variants(anthropic, 1, NULL, text, len, &u, 3000, &nok,
		    &n);
		is_int(nok, n, "%s, %zu variants: same as the tree", name, n);
		free(text);
	}
	for (i = 0; i < N(sse); i++) {
		snprintf(name, sizeof name, "sse/%s.sse", sse[i]);
		anthropic = strncmp(sse[i], "anthropic", 9) == 0;
		if ((text = fixture_read(name, &len)) == NULL) {
			ok(0, "read %s", name);
			continue;
		}
		memset(&ev, 0, sizeof ev);
		sp = sse_parser_new(1 << 20);
		k = sse_parser_feed(sp, text, len, events_cb, &ev) == 0;
		ok(k && ev.n > 3, "%s: %zu events", name, ev.n);
		sse_parser_free(sp);
		memset(&u, 0, sizeof u);
		nok = n = 0;
		for (k = 0; k < ev.n; k++) {
			diff_variants(anthropic, 0, ev.event[k], ev.data[k],
			    ev.len[k], &u, 200, &nok, &n);
			n++;
			nok += diff_event(anthropic, ev.event[k], ev.event[k] ==
			    NULL ? 0 : strlen(ev.event[k]), ev.data[k],
			    ev.len[k], &u);
		}
		is_int(nok, n, "%s, %zu variants: same as the tree", name, n);
		ok(u.source == USAGE_PROVIDER, "%s: the stream reports usage",
		    name);
		events_free(&ev);
		free(text);
	}
}

int
main(void)
{
	check_json("openai", openai_json, N(openai_json), usage_openai_json);
	check_json("anthropic", anthropic_json, N(anthropic_json),
	    usage_anthropic_json);
	check_sse("openai sse", openai_sse, N(openai_sse), 0);
	check_sse("responses sse", responses_sse, N(responses_sse), 0);
	check_sse("anthropic sse", anthropic_sse, N(anthropic_sse), 1);
	check_sse("anthropic sse, bad start", anthropic_bad_start,
	    N(anthropic_bad_start), 1);
	check_sse("edges", edge_sse, N(edge_sse), 0);
	check_json("edges", edge_json, N(edge_json), usage_openai_json);
	check_bounds();
	check_misc();
	diff_cases();
	diff_fixtures();
	return (tap_done());
}
