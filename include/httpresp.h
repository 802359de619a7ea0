/*
 * Incremental HTTP/1.1 message parser (RFC 9112) with no I/O: responses
 * for the upstream client and, made with httpresp_new_request(), requests
 * for the listener.  Bytes are fed as they arrive, split at any offset.  The
 * status line and headers are copied into the parser (at most
 * max_header_bytes); body bytes are handed to on_body() as pointers into
 * the caller's buffer, with chunked framing removed (zero copy).
 *
 * Interim 1xx responses are skipped.  The parser is strict where a lax
 * reading could let a response be framed two ways (response splitting):
 * both Content-Length and Transfer-Encoding, differing Content-Length
 * values, a final coding other than chunked, obs-fold, control characters
 * in the head and bad chunk framing are all errors.
 */
#ifndef HTTPRESP_H
#define HTTPRESP_H

#include <stddef.h>
#include <stdint.h>

struct httpresp;

/*
 * Callbacks; any may be NULL.  arg is the caller's, passed through.
 * Return 0 to go on, -1 to abort (the feed then returns HTTPRESP_ERROR).
 */
struct httpresp_cbs {
	/* Final status and headers parsed; query them through the parser. */
	int	(*on_headers)(struct httpresp *, void *arg);
	/* Decoded body bytes; buf borrows the caller's feed buffer. */
	int	(*on_body)(const char *buf, size_t len, void *arg);
	/* The message is complete. */
	int	(*on_done)(void *arg);
};

enum httpresp_state {
	HTTPRESP_MORE = 0,	/* need more bytes */
	HTTPRESP_DONE = 1,	/* one response complete */
	HTTPRESP_ERROR = -1	/* malformed, or a callback aborted */
};

/*
 * New parser (caller frees with httpresp_free()); a response head (status
 * line, headers and the blank line) longer than max_header_bytes is an
 * error.  Ready for a response to a non-HEAD request.
 */
struct httpresp	*httpresp_new(size_t max_header_bytes);

/*
 * A parser for requests (caller frees).  Stricter still than for
 * responses: every line ends in CRLF, the target is a path, exactly one
 * Host (HTTP/1.1), at most one Content-Length with one value, no coding
 * but chunked, at most 100 headers; a request without framing headers has
 * no body, and a decoded body over max_body_bytes is an error.
 */
struct httpresp	*httpresp_new_request(size_t max_header_bytes,
		    uint64_t max_body_bytes);

/* Frees the parser and every header it holds; accepts NULL. */
void		 httpresp_free(struct httpresp *);

/*
 * Ready for the next response on a keep-alive connection.  head_request:
 * the request was HEAD, so the response has no body whatever its headers
 * say.  Strings previously returned by the parser become invalid.
 */
void		 httpresp_reset(struct httpresp *, int head_request);

/*
 * Feed len bytes of buf (no NUL needed; buf stays the caller's).  Sets
 * *consumed to the bytes used: all of len while HTTPRESP_MORE, less only
 * when the response completed (DONE: the rest belongs to the next
 * response) or on HTTPRESP_ERROR.  Once DONE or ERROR, further feeds
 * consume nothing and return the same state until httpresp_reset().
 * cbs may be NULL.
 */
enum httpresp_state httpresp_feed(struct httpresp *, const char *buf,
		    size_t len, size_t *consumed, const struct httpresp_cbs *,
		    void *arg);

/*
 * The peer closed the connection: completes a read-until-close body (calls
 * on_done, returns DONE); DONE if the response was already complete;
 * otherwise ERROR (truncated response).
 */
enum httpresp_state httpresp_eof(struct httpresp *,
		    const struct httpresp_cbs *, void *arg);

/* Status code of the final response; 0 before its headers are parsed. */
int		 httpresp_status(const struct httpresp *);

/*
 * Value of the first header named name (case-insensitive), without
 * surrounding whitespace; NUL-terminated and borrowed from the parser until
 * the next reset or free.  NULL if absent or the headers are not parsed.
 */
const char	*httpresp_header(const struct httpresp *, const char *name);

/* Number of headers of the final response, in the order received. */
size_t		 httpresp_nheaders(const struct httpresp *);

/*
 * Name and value of header i (< httpresp_nheaders()); both borrowed like
 * httpresp_header().  Either pointer may be NULL when not wanted.
 */
void		 httpresp_header_at(const struct httpresp *, size_t i,
		    const char **name, const char **value);

/*
 * 1 when the connection may carry another request after this response:
 * HTTP/1.1 without "Connection: close" or HTTP/1.0 with
 * "Connection: keep-alive", and the body is not read until close.
 * Meaningful once the headers are parsed.
 */
int		 httpresp_keepalive(const struct httpresp *);

/* Requests: method and target (borrowed like headers); NULL before. */
const char	*httpresp_method(const struct httpresp *);
const char	*httpresp_target(const struct httpresp *);

/* The x of HTTP/1.x. */
int		 httpresp_minor(const struct httpresp *);

/*
 * Requests: the status an error calls for (431 for a head over the limit
 * or too many headers, 413 for a body over the limit, else 400); 0 when
 * there is no error.
 */
int		 httpresp_error_status(const struct httpresp *);

/* Static text describing the error; NULL when there was none. */
const char	*httpresp_error(const struct httpresp *);

#endif
