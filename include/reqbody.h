/*
 * Request-body inspection: the JSON body of a proxied call, checked once
 * before policy looks at it, and written back out with tollgate's changes
 * spliced in.  The body must be a JSON object (duplicate keys refused at
 * any depth, arrays and objects nested at most REQBODY_MAX_DEPTH deep,
 * valid UTF-8), "model" a non-empty string of at most REQBODY_MAX_MODEL
 * bytes, "stream" a boolean or null, and each output cap (max_tokens,
 * max_completion_tokens, max_output_tokens) a non-negative integer or
 * null.  No tree is built: the body's bytes stay the client's, and
 * reqbody remembers where the members it may change are.  Pure: no I/O.
 */
#ifndef REQBODY_H
#define REQBODY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Arrays and objects nested deeper than this are refused.  Real requests
 * stay far below it (OpenAI allows 10 levels in a structured-output
 * schema, about 30 JSON levels with its envelope).
 */
#define REQBODY_MAX_DEPTH	128
#define REQBODY_MAX_MODEL	256

/* Where a member's value lies in the body; len 0: the member is absent. */
struct reqbody_at {
	size_t	off;
	size_t	len;
};

struct reqbody {
	char	*model;		/* "model" (newly allocated); NULL: none yet */
	int	 stream;	/* "stream": true, never on embeddings */
	int64_t	 max_tokens;	/* output caps; -1 when absent or null */
	int64_t	 max_completion_tokens;
	int64_t	 max_output_tokens;
	int	 include_usage;	/* stream_options.include_usage is true */

	/* For reqbody_write(): offsets into the body. */
	size_t			 close;		/* the root's closing brace */
	struct reqbody_at	 model_at;
	struct reqbody_at	 cap_at[3];	/* the caps, in the order above */
	struct reqbody_at	 so_at;		/* "stream_options" */
	struct reqbody_at	 iu_at;		/* its "include_usage" */
	int			 so_object;	/* so_at is an object */
	int			 so_empty;	/* ... without members */
};

/*
 * Check buf[0..len) (no NUL needed; buf may be NULL when len is 0);
 * embeddings: the route cannot stream.  Returns 0 with *out filled; the
 * caller owns out->model.  Returns -1 with *cause set (newly allocated,
 * the message for the client) when the body is refused; out->model and
 * out->stream then keep what was read before the refusal, so that it can
 * be recorded with them.  Either way reqbody_clear() frees what the
 * caller did not take.
 */
int	 reqbody_parse(const char *buf, size_t len, int embeddings,
	    struct reqbody *out, char **cause);

/* Frees out->model and zeroes *out. */
void	 reqbody_clear(struct reqbody *out);

/*
 * Output cap name ("max_tokens", "max_completion_tokens" or
 * "max_output_tokens") of a parsed body: 1 when the member is present
 * (null counts), with *out its value or -1 when null; 0 when absent or
 * name is none of the three.
 */
int	 reqbody_cap(const struct reqbody *rb, const char *name, int64_t *out);

/* What reqbody_write() changes. */
struct reqbody_edit {
	const char	*model;		/* a new "model"; NULL: as it is */
	const char	*cap_name;	/* an output cap to set; NULL: none */
	int64_t		 cap;		/* ... to this (non-negative) */
	int		 include_usage;	/* stream_options.include_usage: true */
};

/*
 * The body buf[0..len) that reqbody_parse() read into *rb, with the edits
 * in *e made, into *out (newly allocated, not NUL-terminated); returns its
 * length.  A member that is there gets its value replaced, one that is not
 * is added at the end of its object; every other byte stays as the client
 * wrote it.
 */
size_t	 reqbody_write(const struct reqbody *rb, const char *buf, size_t len,
	    const struct reqbody_edit *e, char **out);

#endif
