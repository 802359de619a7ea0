/*
 * Incremental HTTP/1.1 message parser (see httpresp.h): responses for the
 * upstream client, requests for the listener.
 *
 * The head is copied line by line into one buffer, so a feed split at any
 * offset costs nothing extra; when the blank line arrives the whole block
 * is parsed in place (line ends and colons become NULs) and the headers
 * point into it.  The body is a small state machine over the caller's
 * bytes: a Content-Length count, chunk-size line / data / CRLF / trailers,
 * or everything until the peer closes.  No state ever needs more than the
 * byte at hand, except the head, which is bounded by max_header_bytes.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpresp.h"
#include "util.h"
#include "xmalloc.h"

#define HR_MAX_INTERIM	32	/* 1xx responses skipped per response */
#define HR_MAX_HEADERS	100	/* request headers */

enum hr_phase {
	HR_HEAD,		/* status line and headers */
	HR_LENGTH,		/* Content-Length body */
	HR_CLOSE,		/* body until the peer closes */
	HR_CSIZE,		/* chunk-size hex digits */
	HR_CEXT,		/* rest of the chunk-size line */
	HR_CSIZE_LF,		/* CR ended the chunk-size line: need LF */
	HR_CDATA,		/* chunk data */
	HR_CDATA_CR,		/* CRLF after chunk data */
	HR_CDATA_LF,
	HR_TRAILER,		/* trailer lines after the last chunk */
	HR_DONE,
	HR_ERROR
};

struct hr_header {
	char	*name;
	char	*value;
};

struct httpresp {
	size_t			 max_head;
	int			 head_request;
	int			 request;	/* parsing requests */
	uint64_t		 max_body;	/* requests: decoded body cap */
	uint64_t		 body_bytes;
	enum hr_phase		 phase;
	const char		*error;
	int			 errstatus;	/* requests: 400, 413, 431 */

	char			*head;		/* parsed in place */
	size_t			 headlen;
	size_t			 headcap;
	size_t			 linestart;	/* current line in head */
	size_t			 skipped;	/* blank lines before it */
	unsigned int		 ninterim;	/* 1xx responses skipped */

	int			 status;
	int			 minor;		/* HTTP/1.minor */
	char			*method;	/* requests, in head */
	char			*target;
	int			 keepalive;
	struct hr_header	*hdrs;
	size_t			 nhdrs;
	size_t			 hdrcap;

	uint64_t		 remaining;	/* body or chunk bytes left */
	int			 sawdigit;	/* chunk size has a digit */
	int			 sawcr;		/* trailer line: CR seen */
	size_t			 linelen;	/* chunk or trailer line */
	size_t			 trailer_bytes;
};

static enum httpresp_state hr_fail(struct httpresp *, const char *);
static int	hr_finish(struct httpresp *, const struct httpresp_cbs *,
		    void *);
static int	hr_is_tchar(unsigned char);
static int	hr_list_next(const char **, const char **, size_t *);
static int	hr_list_has(const char *, const char *);
static int	hr_parse_status(struct httpresp *, char *, size_t);
static int	hr_parse_header(struct httpresp *, char *, size_t);
static int	hr_framing(struct httpresp *);
static int	hr_head_done(struct httpresp *, const struct httpresp_cbs *,
		    void *);
static size_t	hr_head(struct httpresp *, const char *, size_t,
		    const struct httpresp_cbs *, void *);
static size_t	hr_chunk_line(struct httpresp *, const char *, size_t);
static size_t	hr_trailer(struct httpresp *, const char *, size_t,
		    const struct httpresp_cbs *, void *);
static size_t	hr_data(struct httpresp *, const char *, size_t,
		    const struct httpresp_cbs *, void *);

struct httpresp *
httpresp_new(size_t max_header_bytes)
{
	struct httpresp	*hr;

	hr = xcalloc(1, sizeof *hr);
	hr->max_head = max_header_bytes;
	httpresp_reset(hr, 0);
	return (hr);
}

struct httpresp *
httpresp_new_request(size_t max_header_bytes, uint64_t max_body_bytes)
{
	struct httpresp	*hr;

	hr = httpresp_new(max_header_bytes);
	hr->request = 1;
	hr->max_body = max_body_bytes;
	return (hr);
}

void
httpresp_free(struct httpresp *hr)
{
	if (hr == NULL)
		return;
	free(hr->head);
	free(hr->hdrs);
	free(hr);
}

void
httpresp_reset(struct httpresp *hr, int head_request)
{
	hr->head_request = head_request != 0;
	hr->phase = HR_HEAD;
	hr->error = NULL;
	hr->errstatus = 0;
	hr->body_bytes = 0;
	hr->method = hr->target = NULL;
	hr->headlen = hr->linestart = hr->skipped = 0;
	hr->ninterim = 0;
	hr->status = hr->minor = hr->keepalive = 0;
	hr->nhdrs = 0;
	hr->remaining = 0;
	hr->sawdigit = hr->sawcr = 0;
	hr->linelen = hr->trailer_bytes = 0;
}

/* Enter the error state with a static reason. */
static enum httpresp_state
hr_fail(struct httpresp *hr, const char *why)
{
	hr->phase = HR_ERROR;
	hr->error = why;
	if (hr->errstatus == 0)
		hr->errstatus = 400;
	return (HTTPRESP_ERROR);
}

/* The message is complete: tell the caller.  Returns -1 if it aborted. */
static int
hr_finish(struct httpresp *hr, const struct httpresp_cbs *cbs, void *arg)
{
	hr->phase = HR_DONE;
	if (cbs != NULL && cbs->on_done != NULL && cbs->on_done(arg) == -1) {
		hr_fail(hr, "aborted by the done callback");
		return (-1);
	}
	return (0);
}

/* RFC 9110 tchar: the characters of a header name. */
static int
hr_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Next non-empty element of the comma list at *sp, without surrounding
 * whitespace.  Returns 0 when there is none left.
 */
static int
hr_list_next(const char **sp, const char **elem, size_t *elen)
{
	const char	*s = *sp, *e;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '\0') {
			*sp = s;
			return (0);
		}
		e = s;
		while (*e != '\0' && *e != ',')
			e++;
		*sp = e;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*elem = s;
		*elen = (size_t)(e - s);
		return (1);
	}
}

/* Whether the comma list value holds token (case-insensitive). */
static int
hr_list_has(const char *value, const char *token)
{
	const char	*elem;
	size_t		 elen, tlen = strlen(token);

	while (hr_list_next(&value, &elem, &elen))
		if (elen == tlen && strncasecmp(elem, token, tlen) == 0)
			return (1);
	return (0);
}

/* "HTTP/1.x NNN reason" (the reason may be empty or missing). */
static int
hr_parse_status(struct httpresp *hr, char *line, size_t len)
{
	const char	*p = line;

	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    p[7] < '0' || p[7] > '9' || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9' || (len > 12 && p[12] != ' ')) {
		hr_fail(hr, "invalid status line");
		return (-1);
	}
	hr->minor = p[7] - '0';
	hr->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	return (0);
}

/*
 * "METHOD SP origin-form SP HTTP/1.x", single spaces.  Only origin-form
 * targets: tollgate is not a forward proxy, and an absolute-form target
 * could name a host that disagrees with Host.
 */
static int
hr_parse_request(struct httpresp *hr, char *line, size_t len)
{
	char	*sp1, *sp2, *e = line + len;
	char	*p;

	if ((sp1 = memchr(line, ' ', len)) == NULL || sp1 == line)
		goto bad;
	for (p = line; p < sp1; p++)
		if (!hr_is_tchar((unsigned char)*p))
			goto bad;
	if ((sp2 = memchr(sp1 + 1, ' ', (size_t)(e - sp1 - 1))) == NULL ||
	    sp2 == sp1 + 1)
		goto bad;
	if (e - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    sp2[8] < '0' || sp2[8] > '9')
		goto bad;
	if (sp1[1] != '/') {
		hr_fail(hr, "the request target must be a path");
		return (-1);
	}
	*sp1 = '\0';
	*sp2 = '\0';
	hr->method = line;
	hr->target = sp1 + 1;
	hr->minor = sp2[8] - '0';
	return (0);
bad:
	hr_fail(hr, "invalid request line");
	return (-1);
}

/* "name: value", NUL-terminated in place and appended to the headers. */
static int
hr_parse_header(struct httpresp *hr, char *line, size_t len)
{
	char	*colon, *v, *e = line + len;
	size_t	 i;

	if (line[0] == ' ' || line[0] == '\t') {
		hr_fail(hr, "obsolete header line folding");
		return (-1);
	}
	if ((colon = memchr(line, ':', len)) == NULL || colon == line) {
		hr_fail(hr, "header line without a name");
		return (-1);
	}
	for (i = 0; line + i < colon; i++) {
		if (!hr_is_tchar((unsigned char)line[i])) {
			hr_fail(hr, "invalid character in header name");
			return (-1);
		}
	}
	*colon = '\0';
	v = colon + 1;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';

	if (hr->request && hr->nhdrs == HR_MAX_HEADERS) {
		hr->errstatus = 431;
		hr_fail(hr, "too many header fields");
		return (-1);
	}
	if (hr->nhdrs == hr->hdrcap) {
		hr->hdrcap = hr->hdrcap == 0 ? 16 : hr->hdrcap * 2;
		hr->hdrs = xreallocarray(hr->hdrs, hr->hdrcap,
		    sizeof *hr->hdrs);
	}
	hr->hdrs[hr->nhdrs].name = line;
	hr->hdrs[hr->nhdrs].value = v;
	hr->nhdrs++;
	return (0);
}

/*
 * Decide how the body is delimited and whether the connection can be
 * reused, refusing any head that could be read two ways.
 */
static int
hr_framing(struct httpresp *hr)
{
	const char	*name, *value, *elem;
	size_t		 i, elen, ncodings = 0;
	long long	 v, cl = -1;
	int		 chunked = 0, te = 0, cclose = 0, ka = 0, nhost = 0;
	int		 ncl = 0;

	for (i = 0; i < hr->nhdrs; i++) {
		name = hr->hdrs[i].name;
		value = hr->hdrs[i].value;
		if (strcasecmp(name, "transfer-encoding") == 0) {
			te = 1;
			while (hr_list_next(&value, &elem, &elen)) {
				/* A coding after chunked, or chunked twice. */
				if (chunked)
					goto bad_te;
				ncodings++;
				if (elen >= 7 &&
				    strncasecmp(elem, "chunked", 7) == 0 &&
				    (elen == 7 || elem[7] == ';' ||
				    elem[7] == ' ' || elem[7] == '\t'))
					chunked = 1;
			}
		} else if (strcasecmp(name, "content-length") == 0) {
			/* Requests: one value, once (no smuggling). */
			if (hr->request && (ncl++ > 0 ||
			    strchr(value, ',') != NULL)) {
				hr_fail(hr, "more than one Content-Length");
				return (-1);
			}
			if (!hr_list_next(&value, &elem, &elen))
				goto bad_cl;
			do {
				if (util_strtoll(elem, elen, 0, LLONG_MAX,
				    &v) == -1)
					goto bad_cl;
				if (cl != -1 && v != cl) {
					hr_fail(hr, "differing Content-Length "
					    "values");
					return (-1);
				}
				cl = v;
			} while (hr_list_next(&value, &elem, &elen));
		} else if (strcasecmp(name, "connection") == 0) {
			if (hr_list_has(value, "close"))
				cclose = 1;
			if (hr_list_has(value, "keep-alive"))
				ka = 1;
		} else if (strcasecmp(name, "host") == 0)
			nhost++;
	}
	if (te && cl != -1) {
		hr_fail(hr, "both Content-Length and Transfer-Encoding");
		return (-1);
	}
	if (te && (ncodings == 0 || !chunked))
		goto bad_te;
	if (hr->request) {
		/* RFC 9112 3.2: one Host; 6.1: no codings but chunked. */
		if (nhost > 1 || (nhost == 0 && hr->minor >= 1)) {
			hr_fail(hr, "a request needs exactly one Host header");
			return (-1);
		}
		if (te && (ncodings != 1 || hr->minor == 0))
			goto bad_te;
		if (cl != -1 && (uint64_t)cl > hr->max_body) {
			hr->errstatus = 413;
			hr_fail(hr, "request body too large");
			return (-1);
		}
	}

	if (hr->minor >= 1)
		hr->keepalive = !cclose;
	else
		hr->keepalive = ka && !cclose && !te;

	if (hr->head_request || hr->status == 204 || hr->status == 304 ||
	    (hr->request && !te && cl == -1))
		hr->phase = HR_DONE;
	else if (te) {
		hr->phase = HR_CSIZE;
		hr->remaining = 0;
		hr->sawdigit = 0;
		hr->linelen = 0;
	} else if (cl != -1) {
		hr->remaining = (uint64_t)cl;
		hr->phase = cl == 0 ? HR_DONE : HR_LENGTH;
	} else {
		hr->phase = HR_CLOSE;
		hr->keepalive = 0;
	}
	return (0);

bad_te:
	hr_fail(hr, "unsupported Transfer-Encoding");
	return (-1);
bad_cl:
	hr_fail(hr, "invalid Content-Length");
	return (-1);
}

/*
 * The blank line ending a head arrived: parse the block in place.  A 1xx
 * head is dropped and the parser waits for the next one; a final head
 * sets the framing and goes to on_headers.
 */
static int
hr_head_done(struct httpresp *hr, const struct httpresp_cbs *cbs, void *arg)
{
	char		*p = hr->head, *end = hr->head + hr->headlen;
	char		*nl;
	size_t		 len, i;
	unsigned char	 c;
	int		 first = 1;

	hr->nhdrs = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		else if (hr->request) {
			hr_fail(hr, "bare LF in the request head");
			return (-1);
		}
		if (len == 0)
			break;			/* the blank line */
		for (i = 0; i < len; i++) {
			c = (unsigned char)p[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				hr_fail(hr, "control character in head");
				return (-1);
			}
		}
		p[len] = '\0';
		if (first) {
			if ((hr->request ? hr_parse_request(hr, p, len) :
			    hr_parse_status(hr, p, len)) == -1)
				return (-1);
			first = 0;
		} else if (hr_parse_header(hr, p, len) == -1)
			return (-1);
		p = nl + 1;
	}

	if (!hr->request && hr->status < 200) {
		if (hr->status == 101) {
			hr_fail(hr, "unexpected 101 Switching Protocols");
			return (-1);
		}
		if (++hr->ninterim > HR_MAX_INTERIM) {
			hr_fail(hr, "too many 1xx responses");
			return (-1);
		}
		hr->status = 0;
		hr->nhdrs = 0;
		hr->headlen = hr->linestart = hr->skipped = 0;
		return (0);
	}

	if (hr_framing(hr) == -1)
		return (-1);
	if (cbs != NULL && cbs->on_headers != NULL &&
	    cbs->on_headers(hr, arg) == -1) {
		hr_fail(hr, "aborted by the headers callback");
		return (-1);
	}
	if (hr->phase == HR_DONE)
		return (hr_finish(hr, cbs, arg));
	return (0);
}

/* Copy head bytes up to the next line end and look at the line. */
static size_t
hr_head(struct httpresp *hr, const char *buf, size_t len,
    const struct httpresp_cbs *cbs, void *arg)
{
	const char	*nl;
	char		*line;
	size_t		 n, linelen, cap;

	nl = memchr(buf, '\n', len);
	n = nl != NULL ? (size_t)(nl - buf) + 1 : len;
	if (n > hr->max_head || hr->headlen + hr->skipped > hr->max_head - n) {
		if (hr->request)
			hr->errstatus = 431;
		hr_fail(hr, hr->request ? "request head too large" :
		    "response head too large");
		return (n);
	}
	if (hr->headlen + n > hr->headcap) {
		cap = hr->headcap == 0 ? 512 : hr->headcap;
		while (cap < hr->headlen + n)
			cap *= 2;
		hr->head = xreallocarray(hr->head, cap, 1);
		hr->headcap = cap;
	}
	memcpy(hr->head + hr->headlen, buf, n);
	hr->headlen += n;

	/* Fail early on something that is not HTTP at all. */
	if (hr->request && hr->linestart == 0 && hr->head[0] != '\r' &&
	    hr->head[0] != '\n' && !hr_is_tchar((unsigned char)hr->head[0])) {
		hr_fail(hr, "invalid request line");
		return (n);
	}
	if (!hr->request && hr->linestart == 0 && hr->head[0] != '\r' &&
	    hr->head[0] != '\n' &&
	    memcmp(hr->head, "HTTP/", hr->headlen < 5 ? hr->headlen : 5) != 0) {
		hr_fail(hr, "invalid status line");
		return (n);
	}
	if (nl == NULL)
		return (n);

	line = hr->head + hr->linestart;
	linelen = hr->headlen - hr->linestart;
	if (linelen == 1 || (linelen == 2 && line[0] == '\r')) {
		if (hr->request && linelen == 1) {
			hr_fail(hr, "bare LF in the request head");
			return (n);
		}
		if (hr->linestart == 0) {
			/* Tolerate stray blank lines before the status. */
			hr->skipped += linelen;
			hr->headlen = 0;
			return (n);
		}
		hr_head_done(hr, cbs, arg);
		return (n);
	}
	hr->linestart = hr->headlen;
	return (n);
}

/* The chunk-size line: hex size, then extensions (ignored), then CRLF. */
static size_t
hr_chunk_line(struct httpresp *hr, const char *buf, size_t len)
{
	size_t		i;
	unsigned char	c;
	int		d;

	for (i = 0; i < len; i++) {
		c = (unsigned char)buf[i];
		if (++hr->linelen > hr->max_head) {
			hr_fail(hr, "chunk-size line too long");
			return (i + 1);
		}
		if (hr->phase == HR_CSIZE_LF) {
			if (c != '\n') {
				hr_fail(hr, "bad chunk-size line end");
				return (i + 1);
			}
			goto line_done;
		}
		if (c == '\r') {
			hr->phase = HR_CSIZE_LF;
			continue;
		}
		if (c == '\n')
			goto line_done;
		if (hr->phase == HR_CEXT) {
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				hr_fail(hr, "control character in chunk "
				    "extension");
				return (i + 1);
			}
			continue;
		}
		/* HR_CSIZE */
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else if (hr->sawdigit && (c == ';' || c == ' ' || c == '\t')) {
			hr->phase = HR_CEXT;
			continue;
		} else {
			hr_fail(hr, "invalid chunk size");
			return (i + 1);
		}
		if (hr->remaining > (UINT64_MAX >> 4)) {
			hr_fail(hr, "chunk size overflow");
			return (i + 1);
		}
		hr->remaining = (hr->remaining << 4) | (uint64_t)d;
		hr->sawdigit = 1;
	}
	return (len);

line_done:
	if (!hr->sawdigit) {
		hr_fail(hr, "invalid chunk size");
		return (i + 1);
	}
	hr->linelen = 0;
	if (hr->request && hr->remaining > hr->max_body - hr->body_bytes) {
		hr->errstatus = 413;
		hr_fail(hr, "request body too large");
		return (i + 1);
	}
	if (hr->remaining == 0) {
		hr->phase = HR_TRAILER;
		hr->sawcr = 0;
		hr->trailer_bytes = 0;
	} else
		hr->phase = HR_CDATA;
	return (i + 1);
}

/* Trailer lines after the last chunk: checked, counted and dropped. */
static size_t
hr_trailer(struct httpresp *hr, const char *buf, size_t len,
    const struct httpresp_cbs *cbs, void *arg)
{
	size_t		i;
	unsigned char	c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)buf[i];
		if (++hr->trailer_bytes > hr->max_head) {
			hr_fail(hr, "trailer section too large");
			return (i + 1);
		}
		if (c == '\n') {
			if (hr->linelen == 0) {
				hr_finish(hr, cbs, arg);
				return (i + 1);
			}
			hr->linelen = 0;
			hr->sawcr = 0;
			continue;
		}
		if (hr->sawcr || (c < 0x20 && c != '\t' && c != '\r') ||
		    c == 0x7f) {
			hr_fail(hr, "control character in trailer");
			return (i + 1);
		}
		if (c == '\r')
			hr->sawcr = 1;
		else
			hr->linelen++;
	}
	return (len);
}

/* Body bytes of a Content-Length, chunk or read-until-close body. */
static size_t
hr_data(struct httpresp *hr, const char *buf, size_t len,
    const struct httpresp_cbs *cbs, void *arg)
{
	size_t	n = len;

	if (hr->phase != HR_CLOSE && hr->remaining < n)
		n = (size_t)hr->remaining;
	if (hr->request && (hr->body_bytes += n) > hr->max_body) {
		hr->errstatus = 413;
		hr_fail(hr, "request body too large");
		return (n);
	}
	if (cbs != NULL && cbs->on_body != NULL && cbs->on_body(buf, n,
	    arg) == -1) {
		hr_fail(hr, "aborted by the body callback");
		return (n);
	}
	if (hr->phase == HR_CLOSE)
		return (n);
	hr->remaining -= n;
	if (hr->remaining == 0) {
		if (hr->phase == HR_CDATA)
			hr->phase = HR_CDATA_CR;
		else
			hr_finish(hr, cbs, arg);
	}
	return (n);
}

enum httpresp_state
httpresp_feed(struct httpresp *hr, const char *buf, size_t len,
    size_t *consumed, const struct httpresp_cbs *cbs, void *arg)
{
	size_t	off = 0;

	while (off < len && hr->phase != HR_DONE && hr->phase != HR_ERROR) {
		switch (hr->phase) {
		case HR_HEAD:
			off += hr_head(hr, buf + off, len - off, cbs, arg);
			break;
		case HR_LENGTH:
		case HR_CLOSE:
		case HR_CDATA:
			off += hr_data(hr, buf + off, len - off, cbs, arg);
			break;
		case HR_CSIZE:
		case HR_CEXT:
		case HR_CSIZE_LF:
			off += hr_chunk_line(hr, buf + off, len - off);
			break;
		case HR_CDATA_CR:
		case HR_CDATA_LF:
			if (buf[off] != (hr->phase == HR_CDATA_CR ?
			    '\r' : '\n')) {
				hr_fail(hr, "missing CRLF after chunk data");
				break;
			}
			off++;
			if (hr->phase == HR_CDATA_CR)
				hr->phase = HR_CDATA_LF;
			else {
				hr->phase = HR_CSIZE;
				hr->remaining = 0;
				hr->sawdigit = 0;
				hr->linelen = 0;
			}
			break;
		case HR_TRAILER:
			off += hr_trailer(hr, buf + off, len - off, cbs, arg);
			break;
		case HR_DONE:
		case HR_ERROR:
			break;
		}
	}
	*consumed = off;
	if (hr->phase == HR_DONE)
		return (HTTPRESP_DONE);
	if (hr->phase == HR_ERROR)
		return (HTTPRESP_ERROR);
	return (HTTPRESP_MORE);
}

enum httpresp_state
httpresp_eof(struct httpresp *hr, const struct httpresp_cbs *cbs, void *arg)
{
	switch (hr->phase) {
	case HR_DONE:
		return (HTTPRESP_DONE);
	case HR_ERROR:
		return (HTTPRESP_ERROR);
	case HR_CLOSE:
		if (hr_finish(hr, cbs, arg) == -1)
			return (HTTPRESP_ERROR);
		return (HTTPRESP_DONE);
	case HR_HEAD:
		if (hr->headlen == 0 && hr->skipped == 0 &&
		    hr->ninterim == 0)
			return (hr_fail(hr, "connection closed before a "
			    "response"));
		return (hr_fail(hr, "connection closed in the response "
		    "head"));
	default:
		return (hr_fail(hr, "connection closed in the response "
		    "body"));
	}
}

int
httpresp_status(const struct httpresp *hr)
{
	return (hr->status);
}

const char *
httpresp_header(const struct httpresp *hr, const char *name)
{
	size_t	i;

	for (i = 0; i < hr->nhdrs; i++)
		if (strcasecmp(hr->hdrs[i].name, name) == 0)
			return (hr->hdrs[i].value);
	return (NULL);
}

size_t
httpresp_nheaders(const struct httpresp *hr)
{
	return (hr->nhdrs);
}

void
httpresp_header_at(const struct httpresp *hr, size_t i, const char **name,
    const char **value)
{
	if (i >= hr->nhdrs) {
		if (name != NULL)
			*name = NULL;
		if (value != NULL)
			*value = NULL;
		return;
	}
	if (name != NULL)
		*name = hr->hdrs[i].name;
	if (value != NULL)
		*value = hr->hdrs[i].value;
}

int
httpresp_keepalive(const struct httpresp *hr)
{
	return (hr->phase == HR_ERROR ? 0 : hr->keepalive);
}

const char *
httpresp_error(const struct httpresp *hr)
{
	return (hr->error);
}

const char *
httpresp_method(const struct httpresp *hr)
{
	return (hr->method);
}

const char *
httpresp_target(const struct httpresp *hr)
{
	return (hr->target);
}

int
httpresp_minor(const struct httpresp *hr)
{
	return (hr->minor);
}

int
httpresp_error_status(const struct httpresp *hr)
{
	return (hr->phase == HR_ERROR ? hr->errstatus : 0);
}
