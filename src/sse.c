/*
 * Incremental Server-Sent Events parser (see sse.h).
 *
 * The parser works line by line.  An event that begins and ends inside one
 * feed is parsed in place, straight from the caller's buffer, and handed to
 * the callback without a copy.  Only an event still incomplete when a feed
 * ends is copied into the parser's raw buffer; the following feeds append
 * to it line by line until its blank line arrives.  All field positions are
 * kept as offsets from the event's first byte, so they stay valid when the
 * event moves from the caller's buffer to ours.
 *
 * Line ends are found with memchr() for CR and for LF separately; each
 * search result is cached until the scan passes it, so every byte is looked
 * at a bounded number of times whatever the feed sizes: O(n) in total.
 *
 * A CR that is the last byte of a feed ends its line, but the next feed may
 * start with the LF of the same CRLF.  That LF belongs to the line just
 * ended, so when the line was the blank line that ends an event, dispatch
 * waits for the next byte: this way an event's raw bytes never depend on
 * where the stream was split.  (A stream that ends right after such a CR
 * leaves that event in the pending bytes.)
 *
 * A UTF-8 BOM at the start of the stream is skipped while parsing the first
 * line but stays in that event's raw bytes.  The "retry" field is parsed as
 * any other field and ignored: the proxy never reconnects on its own.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "xmalloc.h"

struct sse_parser {
	size_t	 max_event;

	char	*raw;		/* buffered bytes of an incomplete event */
	size_t	 raw_len;
	size_t	 raw_size;

	char	*data;		/* joined data lines when there are >1 */
	size_t	 data_len;
	size_t	 data_size;

	/* The current event: offsets from its first byte. */
	size_t	 line_start;	/* start of the line being read */
	size_t	 event_off;
	size_t	 event_len;
	size_t	 id_off;
	size_t	 id_len;
	size_t	 data_off;	/* first data line's value */
	size_t	 data1_len;
	size_t	 ndata;
	int	 has_event;
	int	 has_id;

	int	 first_line;	/* the next line is the stream's first */
	int	 skip_lf;	/* last feed ended in CR: eat one LF */
	int	 dispatch_pending; /* ... and that CR ended a blank line */
	int	 failed;
};

static const char sse_bom[] = "\xef\xbb\xbf";

struct sse_parser *
sse_parser_new(size_t max_event)
{
	struct sse_parser	*p;

	p = xcalloc(1, sizeof *p);
	p->max_event = max_event == 0 ? SIZE_MAX : max_event;
	p->first_line = 1;
	return (p);
}

void
sse_parser_free(struct sse_parser *p)
{
	if (p == NULL)
		return;
	free(p->raw);
	free(p->data);
	free(p);
}

const char *
sse_parser_pending(const struct sse_parser *p, size_t *len)
{
	*len = p->raw_len;
	return (p->raw_len == 0 ? "" : p->raw);
}

/* Grow *buf to hold need bytes (doubling, so appends are amortised O(1)). */
static void
sse_grow(char **buf, size_t *size, size_t need)
{
	size_t	 n;

	if (need <= *size)
		return;
	n = *size < 256 ? 256 : *size;
	while (n < need) {
		if (n > SIZE_MAX / 2) {
			n = need;
			break;
		}
		n *= 2;
	}
	*buf = xreallocarray(*buf, n, 1);
	*size = n;
}

/* Append to the raw buffer; -1 when the event would exceed max_event. */
static int
sse_raw_append(struct sse_parser *p, const char *buf, size_t len)
{
	if (len > p->max_event || p->raw_len > p->max_event - len)
		return (-1);
	if (len == 0)
		return (0);
	sse_grow(&p->raw, &p->raw_size, p->raw_len + len);
	memcpy(p->raw + p->raw_len, buf, len);
	p->raw_len += len;
	return (0);
}

static void
sse_data_append(struct sse_parser *p, const char *buf, size_t len)
{
	if (len == 0)
		return;
	sse_grow(&p->data, &p->data_size, p->data_len + len);
	memcpy(p->data + p->data_len, buf, len);
	p->data_len += len;
}

static void
sse_reset_event(struct sse_parser *p)
{
	p->line_start = 0;
	p->has_event = p->has_id = 0;
	p->ndata = 0;
	p->data_len = 0;
}

/*
 * Interpret one complete line, base[off..off+len) without its line end,
 * base being the event's first byte.  Returns 1 for a blank line.
 */
static int
sse_line(struct sse_parser *p, const char *base, size_t off, size_t len)
{
	const char	*line, *colon, *value;
	size_t		 nlen, vlen, voff;

	if (p->first_line) {
		p->first_line = 0;
		if (len >= 3 && memcmp(base + off, sse_bom, 3) == 0) {
			off += 3;
			len -= 3;
		}
	}
	if (len == 0)
		return (1);
	line = base + off;
	if (line[0] == ':')
		return (0);		/* comment */

	if ((colon = memchr(line, ':', len)) != NULL) {
		nlen = colon - line;
		value = colon + 1;
		vlen = len - nlen - 1;
		if (vlen > 0 && *value == ' ') {
			value++;
			vlen--;
		}
	} else {
		nlen = len;
		value = line + len;
		vlen = 0;
	}
	voff = value - base;

	if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		if (++p->ndata == 1) {
			p->data_off = voff;
			p->data1_len = vlen;
			return (0);
		}
		if (p->ndata == 2) {
			p->data_len = 0;
			sse_data_append(p, base + p->data_off, p->data1_len);
		}
		sse_data_append(p, "\n", 1);
		sse_data_append(p, value, vlen);
	} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		p->has_event = 1;
		p->event_off = voff;
		p->event_len = vlen;
	} else if (nlen == 2 && memcmp(line, "id", 2) == 0) {
		/* The spec ignores an id that contains NUL. */
		if (memchr(value, '\0', vlen) == NULL) {
			p->has_id = 1;
			p->id_off = voff;
			p->id_len = vlen;
		}
	}
	/* "retry" and unknown fields are ignored. */
	return (0);
}

/* Hand the finished event at base[0..len) to the callback and reset. */
static int
sse_dispatch(struct sse_parser *p, const char *base, size_t len,
    sse_event_cb cb, void *arg)
{
	struct sse_event	 ev;

	memset(&ev, 0, sizeof ev);
	ev.raw = base;
	ev.raw_len = len;
	if (p->has_event) {
		ev.event = base + p->event_off;
		ev.event_len = p->event_len;
	}
	if (p->has_id) {
		ev.id = base + p->id_off;
		ev.id_len = p->id_len;
	}
	if (p->ndata == 1) {
		ev.data = base + p->data_off;
		ev.data_len = p->data1_len;
	} else if (p->ndata > 1) {
		ev.data = p->data;
		ev.data_len = p->data_len;
	}
	sse_reset_event(p);
	if (cb(&ev, arg) != 0)
		return (-1);
	return (0);
}

/* Position of the next c in buf[from..len), or len. */
static size_t
sse_find(const char *buf, size_t from, size_t len, int c)
{
	const char	*q;

	if ((q = memchr(buf + from, c, len - from)) == NULL)
		return (len);
	return (q - buf);
}

int
sse_parser_feed(struct sse_parser *p, const char *buf, size_t len,
    sse_event_cb cb, void *arg)
{
	const char	*base;
	size_t		 pos = 0, evstart, cr = 0, lf = 0, e, next, tl;
	size_t		 evlen, loff, llen;
	int		 buffered, blank, cr_at_end;

	if (p->failed)
		return (-1);
	if (len == 0)
		return (0);

	if (p->skip_lf) {
		/* The raw buffer holds the event; the CR is its last byte. */
		p->skip_lf = 0;
		if (buf[0] == '\n') {
			if (sse_raw_append(p, buf, 1) != 0)
				goto fail;
			pos = 1;
		}
		p->line_start = p->raw_len;
		if (p->dispatch_pending) {
			p->dispatch_pending = 0;
			p->raw_len = 0;	/* the bytes stay valid for the cb */
			if (sse_dispatch(p, p->raw, p->line_start, cb,
			    arg) != 0)
				goto fail;
		}
	}

	buffered = p->raw_len != 0;
	evstart = pos;
	cr = lf = pos;
	if (pos < len) {
		cr = sse_find(buf, pos, len, '\r');
		lf = sse_find(buf, pos, len, '\n');
	}
	while (pos < len) {
		if (cr < pos)
			cr = sse_find(buf, pos, len, '\r');
		if (lf < pos)
			lf = sse_find(buf, pos, len, '\n');
		e = cr < lf ? cr : lf;
		if (e == len)
			break;		/* no complete line left */

		tl = 1;
		cr_at_end = 0;
		if (buf[e] == '\r') {
			if (e + 1 == len)
				cr_at_end = 1;
			else if (buf[e + 1] == '\n')
				tl = 2;
		}
		next = e + tl;

		if (buffered) {
			if (sse_raw_append(p, buf + pos, next - pos) != 0)
				goto fail;
			base = p->raw;
			evlen = p->raw_len;
		} else {
			base = buf + evstart;
			evlen = next - evstart;
			if (evlen > p->max_event)
				goto fail;
		}
		loff = p->line_start;
		llen = evlen - tl - loff;
		blank = sse_line(p, base, loff, llen);
		pos = next;

		if (cr_at_end) {
			/* Wait for the next byte: it may be this CR's LF. */
			p->skip_lf = 1;
			p->dispatch_pending = blank;
			p->line_start = evlen;
			break;
		}
		if (!blank) {
			p->line_start = evlen;
			continue;
		}
		if (buffered) {
			p->raw_len = 0;
			buffered = 0;
		}
		if (sse_dispatch(p, base, evlen, cb, arg) != 0)
			goto fail;
		evstart = pos;
	}

	/* Keep what is left of the incomplete event. */
	if (buffered) {
		if (sse_raw_append(p, buf + pos, len - pos) != 0)
			goto fail;
	} else if (evstart < len) {
		if (sse_raw_append(p, buf + evstart, len - evstart) != 0)
			goto fail;
	}
	return (0);

fail:
	p->failed = 1;
	return (-1);
}
