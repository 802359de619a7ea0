/*
 * Token usage extraction from provider answers, JSON bodies and SSE events.
 * Provider-neutral counts, as the ledger stores them:
 *   input        all input the provider processed, cache reads and writes
 *                included (OpenAI prompt_tokens / input_tokens; Anthropic
 *                input_tokens + cache_read + cache_creation)
 *   cached_input part of input read from cache
 *   cache_write  part of input written to cache
 *   output       all output, reasoning included
 *   reasoning    part of output spent on reasoning
 * Pure functions: no I/O, no allocation that outlives a call.
 */
#ifndef USAGE_H
#define USAGE_H

#include <stddef.h>
#include <stdint.h>

enum usage_source {
	USAGE_NONE = 0,		/* nothing seen yet */
	USAGE_PROVIDER,		/* the provider reported it */
	USAGE_ESTIMATED,	/* no report: estimated */
	USAGE_PARTIAL		/* stream ended early: counted what was seen */
};

struct usage {
	int64_t			input;
	int64_t			cached_input;
	int64_t			cache_write;
	int64_t			output;
	int64_t			reasoning;
	enum usage_source	source;
};

const char	*usage_source_name(enum usage_source);

/*
 * OpenAI-API JSON answer (chat completion, completion, embedding, response):
 * read its "usage" object.  Returns 0 and fills *u (source PROVIDER) when
 * the body has usage, -1 when it has none or is not JSON.
 */
int	 usage_openai_json(const char *body, size_t len, struct usage *u);

/* Result of looking at one SSE event's data (OpenAI or Anthropic). */
struct usage_sse {
	int	has_usage;	/* the event carried a non-null usage */
	int	usage_only;	/* a chat chunk with "choices": [] and usage:
				   the extra chunk include_usage adds */
	int	done;		/* data was "[DONE]", or the stream's last
				   event: Responses API response.completed /
				   .incomplete / .failed, Anthropic
				   message_stop */
	int64_t	output_delta;	/* rough count of output tokens in this
				   event's content deltas (for estimates) */
};

/*
 * One OpenAI SSE event's data field (chat.completion.chunk, completion
 * chunk, or a Responses API event).  Updates *u when it carries usage.
 * Returns 0, or -1 when data is not JSON (and not "[DONE]").  An object
 * with no usage and no text to count is passed over without a full parse
 * (it returns 0 even when it is not valid JSON).
 */
int	 usage_openai_sse(const char *data, size_t len, struct usage *u,
	    struct usage_sse *out);

/*
 * Anthropic Messages API JSON answer: read its "usage" object.  input is
 * input_tokens + cache_read_input_tokens + cache_creation_input_tokens,
 * cached_input the cache reads, cache_write the cache creation.  Returns 0
 * and fills *u (source PROVIDER), or -1 when there is no usable usage.
 */
int	 usage_anthropic_json(const char *body, size_t len, struct usage *u);

/*
 * One Anthropic SSE event: its "event:" name (may be NULL) and data.
 * message_start sets *u from message.usage; message_delta updates it with
 * its cumulative counts (output_tokens, and the input counts when
 * present); message_stop sets done; content_block_delta (text, tool input
 * JSON, thinking) gives output_delta.  *u must start zeroed and be kept
 * across the events of one stream.  Returns 0, or -1 when data is not JSON.
 */
int	 usage_anthropic_sse(const char *event, size_t event_len,
	    const char *data, size_t len, struct usage *u,
	    struct usage_sse *out);

/*
 * Estimate tokens from bytes of text when a provider reports nothing:
 * ceil(bytes / 4), the documented rule of thumb for English text with
 * OpenAI and Anthropic tokenizers.  Never returns 0 for len > 0.
 */
int64_t	 usage_estimate_tokens(size_t len);

#endif
