/*
 * Fuzz target: the upstream HTTP/1.1 response parser (src/httpresp.c), as
 * a hostile provider would drive it.
 *
 * Input: byte 0 holds the request kind (bit 0: HEAD) and the head limit
 * (bits 1-2: 16, 128, 1024 or 65536 bytes), bytes 1-4 are feed sizes used
 * in turn (0-32 bytes), the rest is what the provider sent on one
 * keep-alive connection, then it closed.  Responses are read one after
 * the other (reset after each), three ways: whole, cut at the input's
 * sizes, and a byte at a time.  All three must see the same responses
 * (status, headers, keep-alive, decoded body) and end alike (complete,
 * error or truncated).
 *
 * Invariants on the way: a feed consumes all it was given while it wants
 * more, and nothing once done or failed; the final status is 200-599;
 * header names are tokens, values hold no control byte but HTAB and no
 * surrounding whitespace, httpresp_header() finds the first of a name;
 * body bytes point into the piece being fed; no body follows a HEAD, 204
 * or 304; a plain Content-Length body has exactly that length.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "httpresp.h"

#define HDR		5
#define MAXRESP		16

struct seen {
	struct fuzz_buf	 out;		/* responses, serialised */
	struct fuzz_buf	 body;		/* the current response's body */
	int		 head_request;
	int		 nobody;	/* no body may come */
	long long	 length;	/* plain Content-Length, or -1 */
	int		 headers;	/* on_headers ran */
	const char	*piece;		/* the bytes being fed */
	size_t		 piece_len;
};

static void
append_str(struct seen *s, const char *str)
{
	fuzz_buf_add(&s->out, str, strlen(str) + 1);
}

/* A Content-Length made of digits only, or -1. */
static long long
plain_length(const char *v)
{
	long long	n = 0;

	if (v == NULL || *v == '\0' || strlen(v) > 15)
		return (-1);
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return (-1);
		n = n * 10 + (*v - '0');
	}
	return (n);
}

static int
tchar(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL));
}

static int
headers_cb(struct httpresp *hr, void *arg)
{
	struct seen	*s = arg;
	const char	*name, *value, *n2, *v2, *p;
	size_t		 i, j, vlen;
	int		 status = httpresp_status(hr);
	char		 num[32];

	FUZZ_ASSERT(!s->headers);
	FUZZ_ASSERT(status >= 200 && status <= 599);
	s->headers = 1;
	snprintf(num, sizeof num, "%d %zu %d", status, httpresp_nheaders(hr),
	    httpresp_keepalive(hr));
	append_str(s, num);
	for (i = 0; i < httpresp_nheaders(hr); i++) {
		httpresp_header_at(hr, i, &name, &value);
		FUZZ_ASSERT(name != NULL && value != NULL && *name != '\0');
		for (p = name; *p != '\0'; p++)
			FUZZ_ASSERT(tchar((unsigned char)*p));
		vlen = strlen(value);
		for (p = value; *p != '\0'; p++)
			FUZZ_ASSERT(((unsigned char)*p >= 0x20 || *p == '\t') &&
			    (unsigned char)*p != 0x7f);
		FUZZ_ASSERT(vlen == 0 || (value[0] != ' ' &&
		    value[0] != '\t' && value[vlen - 1] != ' ' &&
		    value[vlen - 1] != '\t'));
		for (j = 0; j < i; j++) {
			httpresp_header_at(hr, j, &n2, &v2);
			if (strcasecmp(n2, name) == 0)
				break;
		}
		if (j == i)
			FUZZ_ASSERT(httpresp_header(hr, name) == value);
		append_str(s, name);
		append_str(s, value);
	}
	httpresp_header_at(hr, i, &name, &value);
	FUZZ_ASSERT(name == NULL && value == NULL);

	s->nobody = s->head_request || status == 204 || status == 304;
	s->length = -1;
	if (httpresp_header(hr, "transfer-encoding") == NULL)
		s->length = plain_length(httpresp_header(hr,
		    "content-length"));
	return (0);
}

static int
body_cb(const char *buf, size_t len, void *arg)
{
	struct seen	*s = arg;

	FUZZ_ASSERT(s->headers && !s->nobody);
	/* Zero copy: the body is a part of the piece being fed. */
	FUZZ_ASSERT(len > 0 && buf >= s->piece &&
	    (size_t)(buf - s->piece) <= s->piece_len &&
	    len <= s->piece_len - (size_t)(buf - s->piece));
	fuzz_buf_add(&s->body, buf, len);
	return (0);
}

/* The response is over: record its body and how it ended. */
static void
end(struct seen *s, const char *how)
{
	append_str(s, "body");
	fuzz_buf_add(&s->out, &s->body.len, sizeof s->body.len);
	fuzz_buf_add(&s->out, s->body.p, s->body.len);
	append_str(s, how);
	fuzz_buf_free(&s->body);
	s->headers = 0;
}

static int
done_cb(void *arg)
{
	struct seen	*s = arg;

	FUZZ_ASSERT(s->headers);
	if (s->nobody)
		FUZZ_ASSERT(s->body.len == 0);
	else if (s->length >= 0)
		FUZZ_ASSERT(s->body.len == (size_t)s->length);
	return (0);
}

static const struct httpresp_cbs cbs = { headers_cb, body_cb, done_cb };

/* Read in[0..len) as a connection, fed in pieces of the sizes in cuts. */
static void
parse(struct seen *s, int head_request, size_t max_head, const char *in,
    size_t len, const uint8_t *cuts, size_t ncuts)
{
	struct httpresp		*hr;
	enum httpresp_state	 st = HTTPRESP_MORE, again;
	size_t			 off = 0, n, k = 0, used, used2;
	int			 nresp = 0;

	memset(s, 0, sizeof *s);
	s->head_request = head_request;
	hr = httpresp_new(max_head);
	httpresp_reset(hr, head_request);
	while (off < len) {
		n = ncuts == 0 ? len - off : cuts[k++ % ncuts];
		if (n > len - off)
			n = len - off;
		s->piece = in + off;
		s->piece_len = n;
		st = httpresp_feed(hr, in + off, n, &used, &cbs, s);
		FUZZ_ASSERT(used <= n);
		if (st == HTTPRESP_MORE)
			FUZZ_ASSERT(used == n);
		off += used;
		if (st == HTTPRESP_MORE)
			continue;
		/* Done or failed: it stays so and takes nothing more. */
		again = httpresp_feed(hr, in + off, len - off, &used2, &cbs, s);
		FUZZ_ASSERT(again == st && used2 == 0);
		if (st == HTTPRESP_ERROR) {
			FUZZ_ASSERT(httpresp_error(hr) != NULL);
			FUZZ_ASSERT(!httpresp_keepalive(hr));
			end(s, "error");
			break;
		}
		end(s, "done");
		if (++nresp == MAXRESP)
			break;
		httpresp_reset(hr, head_request);
		st = HTTPRESP_MORE;
	}
	if (st == HTTPRESP_MORE && nresp < MAXRESP) {
		st = httpresp_eof(hr, &cbs, s);
		FUZZ_ASSERT(st != HTTPRESP_MORE);
		end(s, st == HTTPRESP_DONE ? "eof" : "truncated");
	}
	httpresp_free(hr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 limits[] = { 16, 128, 1024, 65536 };
	struct seen		 whole, cut, bytes;
	const char		*in;
	uint8_t			 cuts[HDR - 1], one = 1;
	size_t			 len, max_head, i, any = 0;
	int			 head_request;

	if (size < HDR)
		return (0);
	head_request = data[0] & 1;
	max_head = limits[(data[0] >> 1) & 3];
	for (i = 0; i < HDR - 1; i++) {
		cuts[i] = data[1 + i] % 33;
		any |= cuts[i];
	}
	in = (const char *)data + HDR;
	len = size - HDR;

	parse(&whole, head_request, max_head, in, len, NULL, 0);
	parse(&cut, head_request, max_head, in, len, cuts,
	    any ? HDR - 1 : 0);
	parse(&bytes, head_request, max_head, in, len, &one, 1);
	FUZZ_ASSERT(fuzz_buf_equal(&whole.out, &cut.out));
	FUZZ_ASSERT(fuzz_buf_equal(&whole.out, &bytes.out));
	fuzz_buf_free(&whole.out);
	fuzz_buf_free(&cut.out);
	fuzz_buf_free(&bytes.out);
	return (0);
}
