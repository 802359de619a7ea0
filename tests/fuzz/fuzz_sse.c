/*
 * Fuzz target: the SSE parser (src/sse.c).
 *
 * Input: byte 0 picks max_event (high bit clear: no limit), bytes 1-4 are
 * feed sizes used in turn (0-32 bytes; 0 is an empty feed), the rest is the
 * stream.  The stream is parsed three ways: whole, cut at the sizes the
 * input chose, and one byte at a time.  All three must report the same
 * events (raw bytes, event, data, id), fail or not alike, and leave the
 * same pending bytes; the raw bytes of the events followed by the pending
 * bytes must be the stream itself.  Each event is checked on its own too:
 * its fields lie in its raw bytes, none holds a line end, and the raw
 * bytes end with one.  Without a limit, the events and pending bytes must
 * also be what a plain second reading of the spec finds (reference()).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse.h"

#define HDR	5

/* What one way of feeding saw. */
struct seen {
	struct fuzz_buf	 events;	/* every event serialised, in order */
	struct fuzz_buf	 raw;		/* the raw bytes of all events */
	struct fuzz_buf	 pending;
	int		 failed;
};

/* A field: present or not, its length, its bytes. */
static void
seen_field(struct seen *s, const char *p, size_t len)
{
	char	present = p != NULL;

	fuzz_buf_add(&s->events, &present, 1);
	fuzz_buf_add(&s->events, &len, sizeof len);
	if (p != NULL)
		fuzz_buf_add(&s->events, p, len);
}

static void	seen_event(struct seen *, const char *, size_t, const char *,
		    size_t, const char *, size_t, const char *, size_t);

/* Does p[0..len) lie inside ev's raw bytes? */
static int
in_raw(const struct sse_event *ev, const char *p, size_t len)
{
	return (p >= ev->raw && len <= ev->raw_len &&
	    p - ev->raw <= (ptrdiff_t)(ev->raw_len - len));
}

static int
event_cb(const struct sse_event *ev, void *arg)
{
	struct seen	*s = arg;
	char		 last;

	FUZZ_ASSERT(ev->raw != NULL && ev->raw_len > 0);
	last = ev->raw[ev->raw_len - 1];
	FUZZ_ASSERT(last == '\n' || last == '\r');
	if (ev->event != NULL) {
		FUZZ_ASSERT(in_raw(ev, ev->event, ev->event_len));
		FUZZ_ASSERT(memchr(ev->event, '\n', ev->event_len) == NULL);
		FUZZ_ASSERT(memchr(ev->event, '\r', ev->event_len) == NULL);
	}
	if (ev->id != NULL) {
		FUZZ_ASSERT(in_raw(ev, ev->id, ev->id_len));
		FUZZ_ASSERT(memchr(ev->id, '\n', ev->id_len) == NULL);
		FUZZ_ASSERT(memchr(ev->id, '\r', ev->id_len) == NULL);
		FUZZ_ASSERT(memchr(ev->id, '\0', ev->id_len) == NULL);
	}
	if (ev->data != NULL)
		FUZZ_ASSERT(memchr(ev->data, '\r', ev->data_len) == NULL);

	seen_event(s, ev->raw, ev->raw_len, ev->event, ev->event_len,
	    ev->data, ev->data_len, ev->id, ev->id_len);
	return (0);
}

/* Record one event as event_cb() does. */
static void
seen_event(struct seen *s, const char *raw, size_t rawlen, const char *ev,
    size_t evlen, const char *data, size_t datalen, const char *id,
    size_t idlen)
{
	seen_field(s, raw, rawlen);
	seen_field(s, ev, evlen);
	seen_field(s, data, datalen);
	seen_field(s, id, idlen);
	fuzz_buf_add(&s->raw, raw, rawlen);
}

/*
 * A second reading of the whole stream, line by line as WHATWG's "event
 * stream interpretation" puts it: a blank line ends an event (every
 * blank line, as sse.h reports comment-only and empty blocks too); a
 * line starting with ':' is a comment; "data" lines are joined with LF,
 * the last "event" and the last "id" without NUL win; one space after the
 * colon goes; a BOM before the first line is skipped.  A CR that is the
 * last byte may be half of a CRLF, so the line it ends stays pending.
 */
static void
reference(struct seen *s, const char *in, size_t len)
{
	struct fuzz_buf	 data;
	const char	*line, *colon, *value, *ev = NULL, *id = NULL;
	size_t		 pos = 0, start = 0, eol, n, nlen, vlen;
	size_t		 evlen = 0, idlen = 0, ndata = 0;

	memset(s, 0, sizeof *s);
	memset(&data, 0, sizeof data);
	while (pos < len) {
		for (eol = pos; eol < len && in[eol] != '\r' &&
		    in[eol] != '\n'; eol++)
			;
		if (eol == len || (in[eol] == '\r' && eol + 1 == len))
			break;
		line = in + pos;
		n = eol - pos;
		if (pos == 0 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
			line += 3;
			n -= 3;
		}
		pos = eol + (in[eol] == '\r' && in[eol + 1] == '\n' ? 2 : 1);
		if (n == 0) {
			seen_event(s, in + start, pos - start, ev, evlen,
			    ndata == 0 ? NULL : data.len == 0 ? "" : data.p,
			    data.len, id, idlen);
			ev = id = NULL;
			evlen = idlen = ndata = data.len = 0;
			start = pos;
			continue;
		}
		if (line[0] == ':')
			continue;
		colon = memchr(line, ':', n);
		nlen = colon != NULL ? (size_t)(colon - line) : n;
		value = colon != NULL ? colon + 1 : line + n;
		vlen = n - (size_t)(value - line);
		if (vlen > 0 && value[0] == ' ') {
			value++;
			vlen--;
		}
		if (nlen == 4 && memcmp(line, "data", 4) == 0) {
			if (ndata++ > 0)
				fuzz_buf_add(&data, "\n", 1);
			fuzz_buf_add(&data, value, vlen);
		} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
			ev = value;
			evlen = vlen;
		} else if (nlen == 2 && memcmp(line, "id", 2) == 0 &&
		    memchr(value, '\0', vlen) == NULL) {
			id = value;
			idlen = vlen;
		}
	}
	fuzz_buf_add(&s->pending, in + start, len - start);
	fuzz_buf_free(&data);
}

/* Feed in[0..len) in pieces of the sizes in cuts (nil: whole). */
static void
parse(struct seen *s, size_t max_event, const char *in, size_t len,
    const uint8_t *cuts, size_t ncuts)
{
	struct sse_parser	*p;
	const char		*pend;
	size_t			 off = 0, n, k = 0, plen;

	memset(s, 0, sizeof *s);
	p = sse_parser_new(max_event);
	do {
		n = ncuts == 0 ? len : cuts[k++ % ncuts];
		if (n > len - off)
			n = len - off;
		if (sse_parser_feed(p, in + off, n, event_cb, s) != 0) {
			s->failed = 1;
			break;
		}
		off += n;
	} while (off < len);
	if (!s->failed) {
		pend = sse_parser_pending(p, &plen);
		FUZZ_ASSERT(pend != NULL);
		fuzz_buf_add(&s->pending, pend, plen);
	}
	sse_parser_free(p);
}

static void
seen_free(struct seen *s)
{
	fuzz_buf_free(&s->events);
	fuzz_buf_free(&s->raw);
	fuzz_buf_free(&s->pending);
}

static void
same(const struct seen *a, const struct seen *b)
{
	FUZZ_ASSERT(a->failed == b->failed);
	FUZZ_ASSERT(fuzz_buf_equal(&a->events, &b->events));
	FUZZ_ASSERT(fuzz_buf_equal(&a->pending, &b->pending));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen	 whole, cut, bytes, ref;
	const char	*in;
	uint8_t		 cuts[HDR - 1], one = 1;
	size_t		 len, max_event, i, any = 0;

	if (size < HDR)
		return (0);
	max_event = data[0] & 0x80 ? (size_t)(data[0] & 0x7f) * 8 + 1 : 0;
	for (i = 0; i < HDR - 1; i++) {
		cuts[i] = data[1 + i] % 33;
		any |= cuts[i];
	}
	in = (const char *)data + HDR;
	len = size - HDR;

	parse(&whole, max_event, in, len, NULL, 0);
	parse(&cut, max_event, in, len, cuts, any ? HDR - 1 : 0);
	parse(&bytes, max_event, in, len, &one, 1);
	same(&whole, &cut);
	same(&whole, &bytes);
	if (max_event == 0) {
		reference(&ref, in, len);
		same(&whole, &ref);
		seen_free(&ref);
	}

	/* Nothing lost, nothing added: events then pending are the input. */
	if (!whole.failed) {
		fuzz_buf_add(&whole.raw, whole.pending.p, whole.pending.len);
		FUZZ_ASSERT(whole.raw.len == len);
		FUZZ_ASSERT(len == 0 || memcmp(whole.raw.p, in, len) == 0);
	}

	seen_free(&whole);
	seen_free(&cut);
	seen_free(&bytes);
	return (0);
}
