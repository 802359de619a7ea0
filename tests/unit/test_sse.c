/*
 * SSE parser tests: each stream is parsed whole, split in two at every
 * offset, and fed one byte at a time; every way must give the same events
 * (fields and raw bytes) as the table says, and the raw bytes of all
 * events followed by the pending bytes must be the input, byte for byte.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "../tap.h"
#include "xmalloc.h"

#define MAXEV	16

struct rec {
	char	*raw, *event, *data, *id;
	size_t	 raw_len, event_len, data_len, id_len;
};

struct recs {
	struct rec	 ev[64];
	size_t		 n;
	int		 stop_after;	/* callback says stop after n events */
};

struct want {
	const char	*raw;
	const char	*event;
	const char	*data;
	const char	*id;
};

#define S(s)	s, sizeof (s) - 1

struct stream {
	const char	*name;
	const char	*in;
	size_t		 len;
	const char	*pending;
	struct want	 want[MAXEV];
};

#define CHUNK1	"{\"id\":\"chatcmpl-9x\"," \
		"\"object\":\"chat.completion.chunk\"," \
		"\"created\":1730000000,\"model\":\"gpt-4o-mini\"," \
		"\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"," \
		"\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}"
#define CHUNK2	"{\"id\":\"chatcmpl-9x\"," \
		"\"object\":\"chat.completion.chunk\"," \
		"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}," \
		"\"finish_reason\":null}],\"usage\":null}"
#define CHUNK3	"{\"id\":\"chatcmpl-9x\"," \
		"\"object\":\"chat.completion.chunk\"," \
		"\"choices\":[],\"usage\":{\"prompt_tokens\":9," \
		"\"completion_tokens\":2,\"total_tokens\":11}}"

#define AMSGSTART "{\"type\":\"message_start\"," \
		"\"message\":{\"id\":\"msg_1\"," \
		"\"type\":\"message\",\"role\":\"assistant\",\"content\":[]," \
		"\"model\":\"claude-haiku-4-5\"," \
		"\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}"
#define ADELTA	"{\"type\":\"content_block_delta\",\"index\":0," \
		"\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}"
#define AMSGDELTA "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":" \
		"\"end_turn\"},\"usage\":{\"output_tokens\":15}}"

static const struct stream streams[] = {
	{ "openai chat chunks and [DONE]",
	  S("data: " CHUNK1 "\n\n"
	    "data: " CHUNK2 "\n\n"
	    "data: " CHUNK3 "\n\n"
	    "data: [DONE]\n\n"), "",
	  { { "data: " CHUNK1 "\n\n", NULL, CHUNK1, NULL },
	    { "data: " CHUNK2 "\n\n", NULL, CHUNK2, NULL },
	    { "data: " CHUNK3 "\n\n", NULL, CHUNK3, NULL },
	    { "data: [DONE]\n\n", NULL, "[DONE]", NULL } } },
	{ "keep-alive comments",
	  S(": keep-alive\n\ndata: a\n\n:ping\n: twice\n\n"), "",
	  { { ": keep-alive\n\n", NULL, NULL, NULL },
	    { "data: a\n\n", NULL, "a", NULL },
	    { ":ping\n: twice\n\n", NULL, NULL, NULL } } },
	{ "CRLF",
	  S("event: x\r\ndata: 1\r\n\r\ndata: 2\r\nid: 7\r\n\r\n"), "",
	  { { "event: x\r\ndata: 1\r\n\r\n", "x", "1", NULL },
	    { "data: 2\r\nid: 7\r\n\r\n", NULL, "2", "7" } } },
	{ "CR only",
	  S("data: a\r\rdata: b\rdata: c\r\rdata: d"), "data: d",
	  { { "data: a\r\r", NULL, "a", NULL },
	    { "data: b\rdata: c\r\r", NULL, "b\nc", NULL } } },
	{ "multi-line data",
	  S("data: line1\ndata: line2\ndata:\ndata:  two\ndata:x\n\n"), "",
	  { { "data: line1\ndata: line2\ndata:\ndata:  two\ndata:x\n\n",
	      NULL, "line1\nline2\n\n two\nx", NULL } } },
	{ "multi-byte UTF-8",
	  S("data: {\"content\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"}"
	    "\n\ndata: \xe6\x97\xa5\xe6\x9c\xac\n\n"), "",
	  { { "data: {\"content\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"
	      "\"}\n\n", NULL,
	      "{\"content\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"}",
	      NULL },
	    { "data: \xe6\x97\xa5\xe6\x9c\xac\n\n", NULL,
	      "\xe6\x97\xa5\xe6\x9c\xac", NULL } } },
	{ "anthropic named events",
	  S("event: message_start\ndata: " AMSGSTART "\n\n"
	    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	    "event: content_block_delta\ndata: " ADELTA "\n\n"
	    "event: message_delta\ndata: " AMSGDELTA "\n\n"
	    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "",
	  { { "event: message_start\ndata: " AMSGSTART "\n\n",
	      "message_start", AMSGSTART, NULL },
	    { "event: ping\ndata: {\"type\": \"ping\"}\n\n",
	      "ping", "{\"type\": \"ping\"}", NULL },
	    { "event: content_block_delta\ndata: " ADELTA "\n\n",
	      "content_block_delta", ADELTA, NULL },
	    { "event: message_delta\ndata: " AMSGDELTA "\n\n",
	      "message_delta", AMSGDELTA, NULL },
	    { "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	      "message_stop", "{\"type\":\"message_stop\"}", NULL } } },
	{ "UTF-8 BOM at start stays in raw",
	  S("\xef\xbb\xbf" "data: x\n\n\xef\xbb\xbf" "data: y\n\n"), "",
	  { { "\xef\xbb\xbf" "data: x\n\n", NULL, "x", NULL },
	    { "\xef\xbb\xbf" "data: y\n\n", NULL, NULL, NULL } } },
	{ "mixed line ends, incomplete tail",
	  S("data: a\r\n\ndata: b\n\rdata: tail"), "data: tail",
	  { { "data: a\r\n\n", NULL, "a", NULL },
	    { "data: b\n\r", NULL, "b", NULL } } },
	{ "final CR waits for a possible LF",
	  S("data: y\n\ndata: z\n\r"), "data: z\n\r",
	  { { "data: y\n\n", NULL, "y", NULL } } },
	{ "field edge cases",
	  S("data\nevent\nid: 9\nretry: 10\nfoo: bar\n:c\nid:  sp\n\n"),
	  "",
	  { { "data\nevent\nid: 9\nretry: 10\nfoo: bar\n:c\nid:  sp\n\n",
	      "", "", " sp" } } },
	{ "event without data, empty lines",
	  S("\n\r\n\revent: e\nid: 1\n\n"), "",
	  { { "\n", NULL, NULL, NULL },
	    { "\r\n", NULL, NULL, NULL },
	    { "\r", NULL, NULL, NULL },
	    { "event: e\nid: 1\n\n", "e", NULL, "1" } } },
	{ "no blank line at all",
	  S("data: never ends\ndata: more"), "data: never ends\ndata: more",
	  { { NULL, NULL, NULL, NULL } } },
};

static char *
dupmem(const char *p, size_t len)
{
	char	*q;

	q = xmalloc(len + 1);
	if (len != 0)
		memcpy(q, p, len);
	q[len] = '\0';
	return (q);
}

static int
record_cb(const struct sse_event *ev, void *arg)
{
	struct recs	*r = arg;
	struct rec	*e;

	if (r->n == sizeof r->ev / sizeof r->ev[0])
		return (-1);
	e = &r->ev[r->n++];
	memset(e, 0, sizeof *e);
	e->raw = dupmem(ev->raw, ev->raw_len);
	e->raw_len = ev->raw_len;
	if (ev->event != NULL) {
		e->event = dupmem(ev->event, ev->event_len);
		e->event_len = ev->event_len;
	}
	if (ev->data != NULL) {
		e->data = dupmem(ev->data, ev->data_len);
		e->data_len = ev->data_len;
	}
	if (ev->id != NULL) {
		e->id = dupmem(ev->id, ev->id_len);
		e->id_len = ev->id_len;
	}
	if (r->stop_after != 0 && r->n == (size_t)r->stop_after)
		return (-1);
	return (0);
}

static void
recs_clear(struct recs *r)
{
	size_t	 i;

	for (i = 0; i < r->n; i++) {
		free(r->ev[i].raw);
		free(r->ev[i].event);
		free(r->ev[i].data);
		free(r->ev[i].id);
	}
	memset(r, 0, sizeof *r);
}

static int
field_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (alen == blen && memcmp(a, b, alen) == 0);
}

static int
recs_eq(const struct recs *a, const struct recs *b)
{
	size_t	 i;

	if (a->n != b->n)
		return (0);
	for (i = 0; i < a->n; i++) {
		if (!field_eq(a->ev[i].raw, a->ev[i].raw_len,
		    b->ev[i].raw, b->ev[i].raw_len) ||
		    !field_eq(a->ev[i].event, a->ev[i].event_len,
		    b->ev[i].event, b->ev[i].event_len) ||
		    !field_eq(a->ev[i].data, a->ev[i].data_len,
		    b->ev[i].data, b->ev[i].data_len) ||
		    !field_eq(a->ev[i].id, a->ev[i].id_len,
		    b->ev[i].id, b->ev[i].id_len))
			return (0);
	}
	return (1);
}

/*
 * Parse in[0..len) fed in the pieces cuts[] says (offsets, ascending).
 * Returns the feed result; *pend gets a copy of the pending bytes.
 */
static int
parse_cuts(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    size_t max, struct recs *r, char **pend, size_t *pendlen)
{
	struct sse_parser	*p;
	const char		*pb;
	size_t			 i, from = 0, to;
	int			 rv = 0;

	p = sse_parser_new(max);
	for (i = 0; i <= ncuts && rv == 0; i++) {
		to = i < ncuts ? cuts[i] : len;
		rv = sse_parser_feed(p, in + from, to - from, record_cb, r);
		from = to;
	}
	pb = sse_parser_pending(p, pendlen);
	*pend = dupmem(pb, *pendlen);
	sse_parser_free(p);
	return (rv);
}

/* Raw bytes of all events, then the pending bytes, must be the input. */
static int
concat_is_input(const struct recs *r, const char *pend, size_t pendlen,
    const char *in, size_t len)
{
	size_t	 i, off = 0;

	for (i = 0; i < r->n; i++) {
		if (off + r->ev[i].raw_len > len ||
		    memcmp(in + off, r->ev[i].raw, r->ev[i].raw_len) != 0)
			return (0);
		off += r->ev[i].raw_len;
	}
	return (off + pendlen == len && memcmp(in + off, pend, pendlen) == 0);
}

static size_t
want_len(const char *s)
{
	return (s == NULL ? 0 : strlen(s));
}

static void
check_stream(const struct stream *st)
{
	struct recs	 whole, other;
	char		*pw, *po;
	size_t		 plw, plo, i, nwant, cut, *cuts;
	int		 rv, bad;
	const struct want *w;

	memset(&whole, 0, sizeof whole);
	memset(&other, 0, sizeof other);

	rv = parse_cuts(st->in, st->len, NULL, 0, 1 << 20, &whole, &pw,
	    &plw);
	is_int(rv, 0, "%s: whole feed returns 0", st->name);
	for (nwant = 0; nwant < MAXEV && st->want[nwant].raw != NULL; nwant++)
		;
	is_int(whole.n, nwant, "%s: %zu events", st->name, nwant);
	for (i = 0; i < nwant && i < whole.n; i++) {
		w = &st->want[i];
		ok(field_eq(whole.ev[i].raw, whole.ev[i].raw_len, w->raw,
		    want_len(w->raw)),
		    "%s: event %zu raw", st->name, i);
		ok(field_eq(whole.ev[i].event, whole.ev[i].event_len, w->event,
		    want_len(w->event)), "%s: event %zu event", st->name,
		    i);
		ok(field_eq(whole.ev[i].data, whole.ev[i].data_len, w->data,
		    want_len(w->data)), "%s: event %zu data", st->name, i);
		ok(field_eq(whole.ev[i].id, whole.ev[i].id_len, w->id,
		    want_len(w->id)), "%s: event %zu id", st->name, i);
	}
	ok(field_eq(pw, plw, st->pending, strlen(st->pending)),
	    "%s: pending bytes", st->name);
	ok(concat_is_input(&whole, pw, plw, st->in, st->len),
	    "%s: whole: raw + pending == input", st->name);

	/* Two pieces, split at every offset. */
	bad = -1;
	for (cut = 0; cut <= st->len && bad == -1; cut++) {
		rv = parse_cuts(st->in, st->len, &cut, 1, 1 << 20, &other,
		    &po, &plo);
		if (rv != 0 || !recs_eq(&whole, &other) ||
		    !field_eq(pw, plw, po, plo) ||
		    !concat_is_input(&other, po, plo, st->in, st->len))
			bad = (int)cut;
		free(po);
		recs_clear(&other);
	}
	ok(bad == -1, "%s: split at every offset == whole", st->name);
	if (bad != -1)
		printf("# first bad split at %d\n", bad);

	/* One byte at a time. */
	cuts = xcalloc(st->len + 1, sizeof *cuts);
	for (i = 0; i < st->len; i++)
		cuts[i] = i + 1;
	rv = parse_cuts(st->in, st->len, cuts, st->len, 1 << 20, &other, &po,
	    &plo);
	ok(rv == 0 && recs_eq(&whole, &other) && field_eq(pw, plw, po, plo),
	    "%s: byte by byte == whole", st->name);
	ok(concat_is_input(&other, po, plo, st->in, st->len),
	    "%s: byte by byte: raw + pending == input", st->name);
	free(cuts);
	free(po);
	recs_clear(&other);

	free(pw);
	recs_clear(&whole);
}

static void
check_limits(void)
{
	static const char	 in[] = "data: 0123456789\n\ndata: x\n\n";
	struct recs		 r;
	char			*pend;
	size_t			 plen, cut;
	int			 rv, allbad;

	/* The first event is 18 bytes. */
	memset(&r, 0, sizeof r);
	rv = parse_cuts(in, sizeof in - 1, NULL, 0, 18, &r, &pend, &plen);
	is_int(rv, 0, "max_event 18 allows an 18-byte event");
	is_int(r.n, 2, "max_event 18: both events");
	free(pend);
	recs_clear(&r);

	rv = parse_cuts(in, sizeof in - 1, NULL, 0, 17, &r, &pend, &plen);
	is_int(rv, -1, "max_event 17 refuses an 18-byte event (whole)");
	is_int(r.n, 0, "max_event 17: no event delivered");
	free(pend);
	recs_clear(&r);

	allbad = 1;
	for (cut = 0; cut <= sizeof in - 1; cut++) {
		rv = parse_cuts(in, sizeof in - 1, &cut, 1, 17, &r, &pend,
		    &plen);
		if (rv != -1 || r.n != 0)
			allbad = 0;
		free(pend);
		recs_clear(&r);
	}
	ok(allbad, "max_event 17 refuses it at every split");

	/* A long partial line is refused before its line end arrives. */
	{
		struct sse_parser	*p;
		char			 big[64];

		memset(big, 'a', sizeof big);
		p = sse_parser_new(32);
		is_int(sse_parser_feed(p, "data: ", 6, record_cb, &r), 0,
		    "partial line under the limit");
		is_int(sse_parser_feed(p, big, sizeof big, record_cb, &r), -1,
		    "partial line over the limit is refused");
		is_int(sse_parser_feed(p, "\n\n", 2, record_cb, &r), -1,
		    "parser stays failed");
		sse_parser_free(p);
		recs_clear(&r);
	}

	/* The callback can stop the parser. */
	r.stop_after = 1;
	rv = parse_cuts(in, sizeof in - 1, NULL, 0, 1024, &r, &pend, &plen);
	is_int(rv, -1, "callback -1 stops the feed");
	is_int(r.n, 1, "no event after the stop");
	free(pend);
	recs_clear(&r);
}

static void
check_pending(void)
{
	struct sse_parser	*p;
	struct recs		 r;
	const char		*pb;
	size_t			 plen;

	memset(&r, 0, sizeof r);
	p = sse_parser_new(0);
	pb = sse_parser_pending(p, &plen);
	is_int(plen, 0, "new parser: nothing pending");
	is_int(sse_parser_feed(p, "data: a\n\ndata: b", 16, record_cb, &r), 0,
	    "feed with a tail");
	pb = sse_parser_pending(p, &plen);
	ok(plen == 7 && memcmp(pb, "data: b", 7) == 0, "pending is the tail");
	is_int(sse_parser_feed(p, "\n", 1, record_cb, &r), 0, "feed LF");
	pb = sse_parser_pending(p, &plen);
	ok(plen == 8 && memcmp(pb, "data: b\n", 8) == 0,
	    "pending grows with the line");
	is_int(sse_parser_feed(p, "\n", 1, record_cb, &r), 0, "feed blank");
	pb = sse_parser_pending(p, &plen);
	is_int(plen, 0, "nothing pending after the blank line");
	is_int(r.n, 2, "two events");
	is_str(r.n == 2 ? r.ev[1].raw : NULL, "data: b\n\n",
	    "buffered event raw");
	is_int(sse_parser_feed(p, "", 0, record_cb, &r), 0, "empty feed");
	sse_parser_free(p);
	recs_clear(&r);
	sse_parser_free(NULL);
}

/* An id that holds a NUL is ignored (WHATWG); the event keeps its bytes. */
static void
check_nul_id(void)
{
	static const char	 in[] = "id: 1\nid: a\0b\ndata: x\n\n";
	struct recs		 r;
	char			*pend;
	size_t			 plen;

	memset(&r, 0, sizeof r);
	is_int(parse_cuts(in, sizeof in - 1, NULL, 0, 0, &r, &pend, &plen), 0,
	    "NUL id: parsed");
	is_int(r.n, 1, "NUL id: one event");
	if (r.n == 1) {
		is_str(r.ev[0].id, "1", "NUL id: the earlier id stays");
		is_int(r.ev[0].raw_len, sizeof in - 1, "NUL id: raw length");
	}
	free(pend);
	recs_clear(&r);
}

/* Many events in one large feed, and the same byte by byte. */
static void
check_large(void)
{
	struct sse_parser	*p;
	struct recs		 r;
	char			*in;
	size_t			 n = 20000, i, len = 0, plen;
	size_t			 count = 0;

	in = xmalloc(n * 16);
	for (i = 0; i < n; i++) {
		memcpy(in + len, "data: 0123456\n\n", 15);
		len += 15;
	}
	memset(&r, 0, sizeof r);
	r.stop_after = 0;
	p = sse_parser_new(64);
	for (i = 0; i < len; i += 7) {
		if (sse_parser_feed(p, in + i, len - i < 7 ? len - i : 7,
		    record_cb, &r) != 0)
			break;
		count += r.n;
		recs_clear(&r);
	}
	sse_parser_pending(p, &plen);
	is_int(count, n, "20000 events fed in 7-byte pieces");
	is_int(plen, 0, "nothing pending");
	sse_parser_free(p);
	free(in);
}

int
main(void)
{
	size_t	 i;

	for (i = 0; i < sizeof streams / sizeof streams[0]; i++)
		check_stream(&streams[i]);
	check_limits();
	check_pending();
	check_nul_id();
	check_large();
	return (tap_done());
}
