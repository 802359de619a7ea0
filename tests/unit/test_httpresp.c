/*
 * httpresp: every response (and request) is fed whole, split in two at
 * every offset and byte by byte, each piece in its own heap buffer (so ASan sees any read
 * past a piece); all three must give the same transcript of status,
 * keep-alive, headers, body and completion, and body pointers must lie in
 * the piece being fed (zero copy).  Every refusal must end in ERROR,
 * with the status a listener answers it with, however the bytes are
 * split.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "httpresp.h"
#include "tap.h"
#include "xmalloc.h"

/* Response cases leave the request fields out: zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S(lit)	(lit), sizeof (lit) - 1
#define BAD(name, lit)		{ name, S(lit), 0, 0, 0, NULL }
#define BAD_EOF(name, lit)	{ name, S(lit), 0, 1, 0, NULL }
#define BAD_MAX(name, lit, max)	{ name, S(lit), 0, 0, max, NULL }
#define REQ(name, lit, want)	{ name, S(lit), 0, 0, 0, want, 1, 1000 }
#define REQ_BAD(name, lit, st)	{ name, S(lit), 0, 0, 0, NULL, 1, 1000, st }
#define REQ_BAD_MAX(name, lit, max, st) \
	{ name, S(lit), 0, 0, max, NULL, 1, 1000, st }

struct tcase {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 head_request;
	int		 eof;		/* the peer closes after the bytes */
	size_t		 max_head;	/* 0: 8192 */
	const char	*want;		/* transcript; NULL: ends in "E...\n" */
	int		 request;	/* parse a request */
	size_t		 max_body;	/* requests */
	int		 estatus;	/* refused with; 0: 400 */
};

struct run {
	char		 out[8192];
	size_t		 outlen;
	const char	*base;		/* piece being fed */
	size_t		 baselen;
	int		 outside;	/* a body pointer left the piece */
	int		 abort_headers;
	int		 abort_body;
	int		 abort_done;
};

static const struct tcase goodcases[] = {
	{ "content-length",
	  S("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: 11\r\n\r\nhello world"), 0, 0, 0,
	  "S200 ka1\nContent-Type: application/json\nContent-Length: 11\n"
	  "[hello world]D\n" },
	{ "chunked with extensions and trailers",
	  S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;name=val\r\nhello\r\n6 ; x=\"a;b\"\r\n world\r\n"
	    "a\r\n0123456789\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	    "0;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n"), 0, 0, 0,
	  "S200 ka1\nTransfer-Encoding: chunked\n"
	  "[hello world0123456789abcdefghijklmnopqrstuvwxyz]D\n" },
	{ "chunked, no trailers, leading zeros",
	  S("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "0003\r\nabc\r\n000\r\n\r\n"), 0, 0, 0,
	  "S200 ka1\nTransfer-Encoding: Chunked\n[abc]D\n" },
	{ "gzip then chunked passes the coded bytes",
	  S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n"),
	  0, 0, 0,
	  "S200 ka1\nTransfer-Encoding: gzip\nTransfer-Encoding: chunked\n"
	  "[\x1f\x8b]D\n" },
	{ "read until close",
	  S("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
	    "all of this until close\r\n\r\nHTTP/1.1 200 OK\r\n"), 0, 1, 0,
	  "S200 ka0\nContent-Type: text/plain\n[all of this until close"
	  "\r\n\r\nHTTP/1.1 200 OK\r\n]D\n" },
	{ "read until close, empty body",
	  S("HTTP/1.0 200 OK\r\n\r\n"), 0, 1, 0, "S200 ka0\n[]D\n" },
	{ "100 continue and 103 skipped",
	  S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
	    "Link: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "\r\nok"), 0, 0, 0, "S200 ka1\nContent-Length: 2\n[ok]D\n" },
	{ "204 has no body",
	  S("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), 0, 0, 0,
	  "S204 ka1\nContent-Length: 10\n[]D\n"
	  "S200 ka1\nContent-Length: 1\n[x]D\n" },
	{ "304 has no body",
	  S("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n"), 0, 0, 0,
	  "S304 ka1\nTransfer-Encoding: chunked\n[]D\n" },
	{ "HEAD response has no body",
	  S("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 99\r\n\r\n"), 1, 0, 0,
	  "S200 ka1\nContent-Length: 1234\n[]D\n"
	  "S404 ka1\nContent-Length: 99\n[]D\n" },
	{ "HTTP/1.1 Connection: close",
	  S("HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\n"
	    "Content-Length: 0\r\n\r\n"), 0, 0, 0,
	  "S200 ka0\nConnection: upgrade, Close\nContent-Length: 0\n[]D\n" },
	{ "HTTP/1.0 keep-alive",
	  S("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
	    "Content-Length: 1\r\n\r\na"), 0, 0, 0,
	  "S200 ka1\nConnection: Keep-Alive\nContent-Length: 1\n[a]D\n" },
	{ "HTTP/1.0 without keep-alive",
	  S("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na"), 0, 0, 0,
	  "S200 ka0\nContent-Length: 1\n[a]D\n" },
	{ "HTTP/1.0 chunked is not reused",
	  S("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"), 0, 0, 0,
	  "S200 ka0\nConnection: keep-alive\nTransfer-Encoding: chunked\n"
	  "[a]D\n" },
	{ "three responses back to back",
	  S("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
	    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nxyz\r\n0\r\n\r\n"
	    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n"), 0, 0, 0,
	  "S200 ka1\nContent-Length: 3\n[abc]D\n"
	  "S201 ka1\nTransfer-Encoding: chunked\n[xyz]D\n"
	  "S500 ka0\nContent-Length: 0\nConnection: close\n[]D\n" },
	{ "bare LF line ends, empty value, trimming",
	  S("HTTP/1.1 200\nX-Empty:\nX-Pad:  \t two words \t\n"
	    "Content-Length: 2\n\nhi"), 0, 0, 0,
	  "S200 ka1\nX-Empty: \nX-Pad: two words\nContent-Length: 2\n"
	  "[hi]D\n" },
	{ "repeated equal Content-Length",
	  S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Length: 5, 5\r\n\r\n12345"), 0, 0, 0,
	  "S200 ka1\nContent-Length: 5\nContent-Length: 5, 5\n[12345]D\n" },
	{ "obs-text and a stray blank line first",
	  S("\r\nHTTP/1.1 429 Too Many\r\nX-U: caf\xc3\xa9\r\n"
	    "Content-Length: 3\r\n\r\n\x01\xff\n"), 0, 0, 0,
	  "S429 ka1\nX-U: caf\xc3\xa9\nContent-Length: 3\n[\x01\xff\n]D\n" },
	{ "head exactly at the limit",
	  S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0, 0, 38,
	  "S200 ka1\nContent-Length: 0\n[]D\n" },
};

static const struct tcase badcases[] = {
	BAD("Content-Length and Transfer-Encoding",
	  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
	BAD("differing Content-Length headers",
	  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
	    "\r\nabcd"),
	BAD("differing Content-Length list",
	  "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd"),
	BAD("Content-Length not digits",
	  "HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\nabc"),
	BAD("Content-Length with sign",
	  "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc"),
	BAD("Content-Length negative",
	  "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
	BAD("Content-Length empty",
	  "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"),
	BAD("Content-Length overflow",
	  "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n"
	    "\r\n"),
	BAD("Transfer-Encoding gzip only",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"),
	BAD("Transfer-Encoding chunked then gzip",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
	    "0\r\n\r\n"),
	BAD("Transfer-Encoding chunked twice",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	BAD("Transfer-Encoding empty",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n"),
	BAD("Transfer-Encoding chunkedx",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\n"),
	BAD("obs-fold",
	  "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n"),
	BAD("obs-fold with tab",
	  "HTTP/1.1 200 OK\r\nX-A: b\r\n\tc\r\nContent-Length: 0\r\n\r\n"),
	BAD("NUL in a header",
	  "HTTP/1.1 200 OK\r\nX-A: b\0c\r\nContent-Length: 0\r\n\r\n"),
	BAD("control character in a header",
	  "HTTP/1.1 200 OK\r\nX-A: b\x01\r\nContent-Length: 0\r\n\r\n"),
	BAD("DEL in a header",
	  "HTTP/1.1 200 OK\r\nX-A: \x7f\r\nContent-Length: 0\r\n\r\n"),
	BAD("bare CR inside a header",
	  "HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n"),
	BAD("control character in the status line",
	  "HTTP/1.1 200 O\x1bK\r\nContent-Length: 0\r\n\r\n"),
	BAD("space before the colon",
	  "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"),
	BAD("header without a colon",
	  "HTTP/1.1 200 OK\r\nnot a header\r\n\r\n"),
	BAD("header with an empty name",
	  "HTTP/1.1 200 OK\r\n: x\r\n\r\n"),
	BAD_MAX("head over the limit",
	  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 37),
	BAD_MAX("head over the limit, no line end",
	  "HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64),
	BAD("HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n"),
	BAD("two-digit status", "HTTP/1.1 20 OK\r\n\r\n"),
	BAD("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n"),
	BAD("status out of range", "HTTP/1.1 600 Odd\r\n\r\n"),
	BAD("status below 100", "HTTP/1.1 099 Odd\r\n\r\n"),
	BAD("no space after the status", "HTTP/1.1 200OK\r\n\r\n"),
	BAD("two spaces before the status", "HTTP/1.1  200 OK\r\n\r\n"),
	BAD("lower-case protocol", "http/1.1 200 OK\r\n\r\n"),
	BAD("not HTTP at all", "ICY 200 OK\r\n\r\n"),
	BAD("101 switching protocols",
	  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
	BAD("missing CRLF after chunk data",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhelloX\r\n0\r\n\r\n"),
	BAD("bare LF after chunk data",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\n0\r\n\r\n"),
	BAD("chunk longer than its size",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4\r\nhello\r\n0\r\n\r\n"),
	BAD("chunk size not hex",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\n"),
	BAD("chunk size empty",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "\r\nabc\r\n"),
	BAD("chunk size extension without size",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    ";ext\r\n"),
	BAD("chunk size overflow",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "10000000000000000\r\n"),
	BAD("CR without LF in the chunk-size line",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\rhello\r\n"),
	BAD("control character in a trailer",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX-T: a\x01\r\n\r\n"),
	BAD("bare CR inside a trailer",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX-T: a\rb\r\n\r\n"),
	BAD_MAX("trailers over the limit",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX-T: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
	    "\r\n", 48),
	BAD_MAX("chunk extension over the limit",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
	    "a\r\n0\r\n\r\n", 48),
	BAD_EOF("truncated Content-Length body",
	  "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
	BAD_EOF("truncated chunked body",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n"),
	BAD_EOF("truncated trailers",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX-T: 1\r\n"),
	BAD_EOF("truncated head",
	  "HTTP/1.1 200 OK\r\nContent-Len"),
	BAD_EOF("closed after an interim response",
	  "HTTP/1.1 100 Continue\r\n\r\n"),
	BAD_EOF("closed before any byte", ""),
};

static void
put(struct run *r, const char *p, size_t len)
{
	if (len > sizeof r->out - r->outlen)
		len = sizeof r->out - r->outlen;
	memcpy(r->out + r->outlen, p, len);
	r->outlen += len;
}

static void
puts_(struct run *r, const char *s)
{
	put(r, s, strlen(s));
}

static int
on_headers(struct httpresp *hr, void *arg)
{
	struct run	*r = arg;
	char		 line[64];
	const char	*name, *value;
	size_t		 i;

	if (httpresp_method(hr) != NULL) {
		snprintf(line, sizeof line, "R %s ", httpresp_method(hr));
		puts_(r, line);
		puts_(r, httpresp_target(hr));
		snprintf(line, sizeof line, " %d ka%d\n", httpresp_minor(hr),
		    httpresp_keepalive(hr));
	} else
		snprintf(line, sizeof line, "S%d ka%d\n", httpresp_status(hr),
		    httpresp_keepalive(hr));
	puts_(r, line);
	for (i = 0; i < httpresp_nheaders(hr); i++) {
		httpresp_header_at(hr, i, &name, &value);
		puts_(r, name);
		puts_(r, ": ");
		puts_(r, value);
		puts_(r, "\n");
	}
	puts_(r, "[");
	return (r->abort_headers ? -1 : 0);
}

static int
on_body(const char *buf, size_t len, void *arg)
{
	struct run	*r = arg;

	if (len == 0 || buf < r->base || buf + len > r->base + r->baselen)
		r->outside = 1;
	put(r, buf, len);
	return (r->abort_body ? -1 : 0);
}

static int
on_done(void *arg)
{
	struct run	*r = arg;

	puts_(r, "]D\n");
	return (r->abort_done ? -1 : 0);
}

static const struct httpresp_cbs cbs = { on_headers, on_body, on_done };

/*
 * Feed tc->in in pieces: cut at split (whole when split is len), or one
 * byte at a time.  Completed responses are followed by a reset, as the
 * upstream client does on a kept-alive connection.  Returns -1 when the
 * parser broke its contract on consumed.
 */
static int
drive(const struct tcase *tc, size_t split, int bytewise, struct run *r)
{
	struct httpresp		*hr;
	enum httpresp_state	 st = HTTPRESP_MORE;
	size_t			 pos = 0, n, off, used;
	char			*piece;
	int			 inmsg = 0, ndone = 0, rc = 0;
	char			 estr[16];

	if (tc->request)
		hr = httpresp_new_request(tc->max_head != 0 ? tc->max_head :
		    8192, tc->max_body);
	else
		hr = httpresp_new(tc->max_head != 0 ? tc->max_head : 8192);
	httpresp_reset(hr, tc->head_request);
	while (pos < tc->len || (pos == 0 && split == 0)) {
		if (bytewise)
			n = 1;
		else
			n = pos < split ? split - pos : tc->len - pos;
		if (n > tc->len - pos)
			n = tc->len - pos;
		piece = xmalloc(n != 0 ? n : 1);
		memcpy(piece, tc->in + pos, n);
		r->base = piece;
		r->baselen = n;
		off = 0;
		do {
			st = httpresp_feed(hr, piece + off, n - off, &used,
			    &cbs, r);
			if (used > n - off ||
			    (st == HTTPRESP_MORE && used != n - off) ||
			    (st == HTTPRESP_DONE && used == 0))
				rc = -1;
			off += used;
			if (used > 0)
				inmsg = 1;
			if (st == HTTPRESP_DONE) {
				ndone++;
				inmsg = 0;
				httpresp_reset(hr, tc->head_request);
			}
		} while (rc == 0 && st == HTTPRESP_DONE && off < n);
		free(piece);
		pos += n;
		if (rc == -1 || st == HTTPRESP_ERROR)
			break;
		if (n == 0)
			break;
	}
	if (rc == 0 && st != HTTPRESP_ERROR && tc->eof &&
	    (inmsg || ndone == 0))
		st = httpresp_eof(hr, &cbs, r);
	if (st == HTTPRESP_ERROR) {
		if (httpresp_error(hr) == NULL)
			rc = -1;
		/* Stays in error, consuming nothing. */
		if (httpresp_feed(hr, "x", 1, &used, &cbs, r) !=
		    HTTPRESP_ERROR || used != 0)
			rc = -1;
		snprintf(estr, sizeof estr, "E%d\n", httpresp_error_status(hr));
		puts_(r, estr);
	}
	put(r, "", 1);
	httpresp_free(hr);
	return (rc);
}

static const struct tcase reqcases[] = {
	REQ("post with a body",
	    "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 5\r\n\r\nhello",
	    "R POST /v1/chat/completions 1 ka1\nHost: a\nContent-Length: 5\n"
	    "[hello]D\n"),
	REQ("get without a body; pipelined",
	    "GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
	    "R GET /v1/models?x=1 1 ka1\nHost: a\n[]D\n"
	    "R GET / 1 ka0\nHost: b\nConnection: close\n[]D\n"),
	REQ("chunked body",
	    "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
	    "R POST /p 1 ka1\nHost: a\nTransfer-Encoding: chunked\n"
	    "[abcde]D\n"),
	REQ("HTTP/1.0 without Host",
	    "POST /p HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
	    "R POST /p 0 ka0\nContent-Length: 2\n[hi]D\n"),
	REQ("a leading blank line is ignored",
	    "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	    "R GET / 1 ka1\nHost: a\n[]D\n"),
	REQ_BAD("CL and TE", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\n\r\n", 400),
	REQ_BAD("TE and CL", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", 400),
	REQ_BAD("two equal Content-Length", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
	REQ_BAD("a Content-Length list", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 3, 3\r\n\r\nabc", 400),
	REQ_BAD("signed Content-Length", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: +3\r\n\r\nabc", 400),
	REQ_BAD("gzip, chunked", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400),
	REQ_BAD("chunked in HTTP/1.0", "POST /p HTTP/1.0\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
	REQ_BAD("bad chunk size", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
	    400),
	REQ_BAD("chunk size overflow", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "fffffffffffffffffff\r\n", 400),
	REQ_BAD("bare LF ends a header", "POST /p HTTP/1.1\r\nHost: a\n"
	    "Content-Length: 0\r\n\r\n", 400),
	REQ_BAD("bare LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n",
	    400),
	REQ_BAD("NUL in a header", "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-A: b\0c\r\n\r\n", 400),
	REQ_BAD("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n"
	    " c\r\n\r\n", 400),
	REQ_BAD("space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n"
	    "\r\n", 400),
	REQ_BAD("absolute-form target", "GET http://evil.example/v1/models "
	    "HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	REQ_BAD("asterisk target", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	    400),
	REQ_BAD("no Host", "GET / HTTP/1.1\r\n\r\n", 400),
	REQ_BAD("two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	    400),
	REQ_BAD("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
	REQ_BAD("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	REQ_BAD("not HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n", 400),
	REQ_BAD("body over the limit by Content-Length",
	    "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n",
	    413),
	REQ_BAD("chunked body over the limit",
	    "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n3e9\r\n", 413),
	REQ_BAD_MAX("head over the limit",
	    "GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 64, 431),
};

/* A chunked request body over the limit is refused once announced. */
static void
check_body_limit(void)
{
	static const char	head[] = "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	struct httpresp		*hr;
	char			 data[512];
	size_t			 used;

	hr = httpresp_new_request(8192, 1000);
	memset(data, 'x', sizeof data);
	is_int(httpresp_feed(hr, head, sizeof head - 1, &used, NULL, NULL),
	    HTTPRESP_MORE, "body limit: head read");
	httpresp_feed(hr, "200\r\n", 5, &used, NULL, NULL);
	httpresp_feed(hr, data, 512, &used, NULL, NULL);
	httpresp_feed(hr, "\r\n1e8\r\n", 7, &used, NULL, NULL);
	httpresp_feed(hr, data, 488, &used, NULL, NULL);
	is_int(httpresp_feed(hr, "\r\n", 2, &used, NULL, NULL),
	    HTTPRESP_MORE, "body limit: 1000 bytes read");
	is_int(httpresp_error_status(hr), 0, "body limit: no error at 1000");
	is_int(httpresp_feed(hr, "1\r\n", 3, &used, NULL, NULL),
	    HTTPRESP_ERROR, "body limit: one more byte announced");
	is_int(httpresp_error_status(hr), 413, "body limit: 413");
	httpresp_free(hr);
}

/* Run one case every way; 0 when every run matched want (or errored). */
static void
check_case(const struct tcase *tc)
{
	struct run	 whole, r;
	size_t		 split, bad = 0, badat = 0;
	const char	*want = tc->want;

	memset(&whole, 0, sizeof whole);
	ok(drive(tc, tc->len, 0, &whole) == 0 && !whole.outside,
	    "%s: whole: contract kept", tc->name);
	if (want != NULL)
		is_str(whole.out, want, "%s: whole", tc->name);
	else {
		char	estr[16];
		size_t	elen;

		elen = (size_t)snprintf(estr, sizeof estr, "E%d\n",
		    tc->estatus != 0 ? tc->estatus : 400);
		ok(whole.outlen >= elen + 1 && strcmp(whole.out +
		    whole.outlen - 1 - elen, estr) == 0,
		    "%s: whole: refused with %d", tc->name,
		    tc->estatus != 0 ? tc->estatus : 400);
		want = whole.out;
	}

	for (split = 0; split <= tc->len; split++) {
		memset(&r, 0, sizeof r);
		if (drive(tc, split, 0, &r) == -1 || r.outside ||
		    strcmp(r.out, want) != 0) {
			if (bad++ == 0)
				badat = split;
		}
	}
	ok(bad == 0, "%s: split at every offset", tc->name);
	if (bad != 0)
		printf("# %zu bad splits, first at %zu\n", bad, badat);

	memset(&r, 0, sizeof r);
	ok(drive(tc, 0, 1, &r) == 0 && !r.outside, "%s: bytewise: contract "
	    "kept", tc->name);
	is_str(r.out, want, "%s: bytewise", tc->name);
}

/* The lookups and the states around DONE, on one response. */
static void
check_api(void)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nX-Request-Id: abc\r\n"
	    "content-type: text/event-stream\r\nX-Request-Id: def\r\n"
	    "Content-Length: 2\r\n\r\nokHTTP/1.1";
	struct httpresp		*hr;
	struct run		 r;
	size_t			 used;
	const char		*name, *value;

	memset(&r, 0, sizeof r);
	r.base = in;
	r.baselen = sizeof in - 1;
	hr = httpresp_new(8192);
	is_int(httpresp_status(hr), 0, "api: no status before the head");
	ok(httpresp_header(hr, "x-request-id") == NULL,
	    "api: no header before the head");
	is_int(httpresp_feed(hr, in, sizeof in - 1, &used, &cbs, &r),
	    HTTPRESP_DONE, "api: done");
	is_int(used, sizeof in - 1 - 8, "api: consumed stops at the end");
	is_int(httpresp_status(hr), 200, "api: status");
	is_str(httpresp_header(hr, "X-REQUEST-ID"), "abc",
	    "api: case-insensitive, first match");
	is_str(httpresp_header(hr, "Content-Type"), "text/event-stream",
	    "api: lower-case name found");
	ok(httpresp_header(hr, "x-missing") == NULL, "api: absent header");
	is_int(httpresp_nheaders(hr), 4, "api: header count");
	httpresp_header_at(hr, 2, &name, &value);
	is_str(name, "X-Request-Id", "api: header_at name");
	is_str(value, "def", "api: header_at value");
	httpresp_header_at(hr, 4, &name, &value);
	ok(name == NULL && value == NULL, "api: header_at out of range");
	ok(httpresp_error(hr) == NULL, "api: no error");
	is_int(httpresp_feed(hr, in, 4, &used, &cbs, &r), HTTPRESP_DONE,
	    "api: feed after done stays done");
	is_int(used, 0, "api: and consumes nothing");
	is_int(httpresp_eof(hr, &cbs, &r), HTTPRESP_DONE,
	    "api: eof after done");
	httpresp_reset(hr, 0);
	is_int(httpresp_nheaders(hr), 0, "api: reset drops the headers");
	is_int(httpresp_feed(hr, in, 0, &used, &cbs, &r), HTTPRESP_MORE,
	    "api: empty feed");
	is_int(httpresp_feed(hr, in, 5, &used, NULL, NULL), HTTPRESP_MORE,
	    "api: NULL callbacks");
	is_int(httpresp_eof(hr, NULL, NULL), HTTPRESP_ERROR,
	    "api: eof in the head");
	ok(httpresp_error(hr) != NULL, "api: error text");
	httpresp_free(hr);
	httpresp_free(NULL);
}

/* A callback returning -1 stops the parser with ERROR. */
static void
check_aborts(void)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "\r\nok";
	struct httpresp		*hr;
	struct run		 r;
	size_t			 used;
	int			 which;

	for (which = 0; which < 3; which++) {
		memset(&r, 0, sizeof r);
		r.base = in;
		r.baselen = sizeof in - 1;
		r.abort_headers = which == 0;
		r.abort_body = which == 1;
		r.abort_done = which == 2;
		hr = httpresp_new(8192);
		is_int(httpresp_feed(hr, in, sizeof in - 1, &used, &cbs, &r),
		    HTTPRESP_ERROR, "abort in callback %d", which);
		ok(httpresp_error(hr) != NULL, "abort %d: error text", which);
		ok(!httpresp_keepalive(hr), "abort %d: not reusable", which);
		httpresp_free(hr);
	}
}

int
main(void)
{
	size_t	i;

	for (i = 0; i < sizeof goodcases / sizeof goodcases[0]; i++)
		check_case(&goodcases[i]);
	for (i = 0; i < sizeof badcases / sizeof badcases[0]; i++)
		check_case(&badcases[i]);
	for (i = 0; i < sizeof reqcases / sizeof reqcases[0]; i++)
		check_case(&reqcases[i]);
	check_body_limit();
	check_api();
	check_aborts();
	return (tap_done());
}
