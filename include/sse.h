/*
 * Incremental Server-Sent Events parser (WHATWG HTML, "event stream
 * interpretation").  Bytes are fed as they arrive from the network, split at
 * any offset; for every complete event (a block ended by a blank line) the
 * callback gets the parsed fields and the event's exact raw bytes, so the
 * proxy can forward an event unchanged or drop it.  Comment-only blocks
 * (": keep-alive") are events with no data and are reported too.
 * Line ends may be CRLF, LF or CR, also split across feeds.
 */
#ifndef SSE_H
#define SSE_H

#include <stddef.h>

struct sse_event {
	const char	*raw;		/* the event's bytes, blank line incl. */
	size_t		 raw_len;
	const char	*event;		/* "event:" value; NULL if none */
	size_t		 event_len;
	const char	*data;		/* "data:" lines joined by '\n';
					   NULL if the block had no data */
	size_t		 data_len;
	const char	*id;		/* "id:" value; NULL if none */
	size_t		 id_len;
};

/*
 * Called once per complete event; the pointers are valid only during the
 * call.  Return 0 to go on, -1 to stop (sse_parser_feed() then returns -1).
 */
typedef int (*sse_event_cb)(const struct sse_event *, void *arg);

struct sse_parser;

/* New parser (caller frees); an event longer than max_event is an error. */
struct sse_parser	*sse_parser_new(size_t max_event);
void			 sse_parser_free(struct sse_parser *);

/*
 * Feed bytes.  Returns 0, or -1 when an event exceeded max_event or the
 * callback said stop.
 */
int	 sse_parser_feed(struct sse_parser *, const char *buf, size_t len,
	    sse_event_cb cb, void *arg);

/*
 * Bytes buffered that do not (yet) form a complete event: at the end of a
 * stream the proxy forwards them as they are.  Borrowed; valid until the
 * next feed.
 */
const char	*sse_parser_pending(const struct sse_parser *, size_t *len);

#endif
