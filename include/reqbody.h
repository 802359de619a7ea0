/*
 * Request-body inspection: the JSON body of a proxied call, parsed and
 * checked once before policy looks at it.  The body must be a JSON object
 * (duplicate keys refused at any depth, arrays and objects nested at most
 * REQBODY_MAX_DEPTH deep, valid UTF-8), "model" a non-empty string of at
 * most REQBODY_MAX_MODEL bytes, "stream" a boolean or null, and each output
 * cap (max_tokens, max_completion_tokens, max_output_tokens) a
 * non-negative integer or null.  Pure: no I/O.
 */
#ifndef REQBODY_H
#define REQBODY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Arrays and objects nested deeper than this are refused.  Real requests
 * stay far below it (OpenAI allows 10 levels in a structured-output
 * schema, about 30 JSON levels with its envelope); jansson's own parser
 * stops at 2048, and every recursive walk of the body (json_dumps,
 * json_decref) stays shallow.
 */
#define REQBODY_MAX_DEPTH	128
#define REQBODY_MAX_MODEL	256

struct reqbody {
	json_t	*json;		/* the body (new); NULL when refused */
	char	*model;		/* "model" (newly allocated); NULL: none yet */
	int	 stream;	/* "stream": true, never on embeddings */
	int64_t	 max_tokens;	/* output caps; -1 when absent or null */
	int64_t	 max_completion_tokens;
	int64_t	 max_output_tokens;
};

/*
 * Parse and check buf[0..len) (no NUL needed; buf may be NULL when len is
 * 0); embeddings: the route cannot stream.  Returns 0 with *out filled;
 * the caller owns out->json and out->model.  Returns -1 with *cause set
 * (newly allocated, the message for the client) when the body is refused;
 * out->json is then NULL, but out->model and out->stream keep what was
 * read before the refusal, so that it can be recorded with them.  Either
 * way reqbody_clear() frees what the caller did not take.
 */
int	 reqbody_parse(const char *buf, size_t len, int embeddings,
	    struct reqbody *out, char **cause);

/* Frees out->json and out->model and zeroes *out. */
void	 reqbody_clear(struct reqbody *out);

/*
 * Output cap body.name (body borrowed): 0 with *out set when present, 1
 * when absent or null, -1 when it is not a non-negative integer.
 */
int	 reqbody_int(json_t *body, const char *name, int64_t *out);

#endif
