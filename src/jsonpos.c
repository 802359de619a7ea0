/*
 * Positions of values and keys in JSON text.
 *
 * jansson keeps no source positions, yet every configuration error must
 * name file:line:col.  jsonpos_new() walks the text once with a small
 * recursive-descent parser that follows RFC 8259 exactly, and records for
 * every value its JSON Pointer path (RFC 6901: '~' is written "~0" and '/'
 * "~1"), the position of the value and, for object members, the position
 * of the key's opening quote.  The entries are then sorted by path so a
 * lookup is a binary search.
 *
 * Lines and columns are 1-based; a column counts characters, not bytes (a
 * UTF-8 sequence is one column), as jansson's own error columns do.  A
 * duplicate key (which jansson refuses before we get here) keeps the
 * position of its first occurrence.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"
#include "util.h"
#include "xmalloc.h"

#define JSONPOS_MAX_DEPTH	2048

struct jsonpos_ent {
	char		*path;
	size_t		 seq;		/* order in the text */
	int		 kline;		/* key, or the value itself */
	int		 kcol;
	int		 vline;
	int		 vcol;
};

struct jsonpos {
	struct jsonpos_ent	*ents;
	size_t			 nents;
	size_t			 cap;
};

struct jsonpos_scan {
	const char	*p;
	const char	*end;
	int		 line;
	int		 col;
	int		 depth;
	struct jsonpos	*jp;
	char		*path;		/* current pointer, NUL-terminated */
	size_t		 pathlen;
	size_t		 pathcap;
	char		*key;		/* last decoded key */
	size_t		 keylen;
	size_t		 keycap;
};

static int	jsonpos_value(struct jsonpos_scan *, int, int);

/* Consume one byte, keeping line and (character) column. */
static void
jsonpos_adv(struct jsonpos_scan *s)
{
	unsigned char	c = (unsigned char)*s->p++;

	if (c == '\n') {
		s->line++;
		s->col = 1;
	} else if ((c & 0xc0) != 0x80)
		s->col++;
}

static void
jsonpos_ws(struct jsonpos_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		jsonpos_adv(s);
}

static void
jsonpos_grow(char **buf, size_t *cap, size_t need)
{
	size_t	ncap;

	if (need <= *cap)
		return;
	ncap = *cap == 0 ? 64 : *cap;
	while (ncap < need)
		ncap *= 2;
	*buf = xreallocarray(*buf, ncap, 1);
	*cap = ncap;
}

static void
jsonpos_keych(struct jsonpos_scan *s, char c)
{
	jsonpos_grow(&s->key, &s->keycap, s->keylen + 2);
	s->key[s->keylen++] = c;
	s->key[s->keylen] = '\0';
}

static void
jsonpos_record(struct jsonpos_scan *s, int kline, int kcol)
{
	struct jsonpos		*jp = s->jp;
	struct jsonpos_ent	*e;

	if (jp->nents == jp->cap) {
		jp->cap = jp->cap == 0 ? 64 : jp->cap * 2;
		jp->ents = xreallocarray(jp->ents, jp->cap, sizeof *jp->ents);
	}
	e = &jp->ents[jp->nents];
	e->path = xstrdup(s->path);
	e->seq = jp->nents;
	e->kline = kline;
	e->kcol = kcol;
	e->vline = s->line;
	e->vcol = s->col;
	jp->nents++;
}

/* Append "/" and the escaped segment seg[0..len) to the current path. */
static void
jsonpos_push(struct jsonpos_scan *s, const char *seg, size_t len)
{
	size_t	i;

	jsonpos_grow(&s->path, &s->pathcap, s->pathlen + 2 * len + 2);
	s->path[s->pathlen++] = '/';
	for (i = 0; i < len; i++) {
		if (seg[i] == '~') {
			s->path[s->pathlen++] = '~';
			s->path[s->pathlen++] = '0';
		} else if (seg[i] == '/') {
			s->path[s->pathlen++] = '~';
			s->path[s->pathlen++] = '1';
		} else
			s->path[s->pathlen++] = seg[i];
	}
	s->path[s->pathlen] = '\0';
}

static void
jsonpos_pop(struct jsonpos_scan *s, size_t len)
{
	s->pathlen = len;
	s->path[len] = '\0';
}

static int
jsonpos_hex4(struct jsonpos_scan *s, unsigned int *out)
{
	unsigned int	v = 0;
	int		i;
	char		c;

	for (i = 0; i < 4; i++) {
		if (s->p >= s->end)
			return (-1);
		c = *s->p;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return (-1);
		jsonpos_adv(s);
	}
	*out = v;
	return (0);
}

static void
jsonpos_utf8(struct jsonpos_scan *s, unsigned int cp)
{
	if (cp < 0x80)
		jsonpos_keych(s, (char)cp);
	else if (cp < 0x800) {
		jsonpos_keych(s, (char)(0xc0 | (cp >> 6)));
		jsonpos_keych(s, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		jsonpos_keych(s, (char)(0xe0 | (cp >> 12)));
		jsonpos_keych(s, (char)(0x80 | ((cp >> 6) & 0x3f)));
		jsonpos_keych(s, (char)(0x80 | (cp & 0x3f)));
	} else {
		jsonpos_keych(s, (char)(0xf0 | (cp >> 18)));
		jsonpos_keych(s, (char)(0x80 | ((cp >> 12) & 0x3f)));
		jsonpos_keych(s, (char)(0x80 | ((cp >> 6) & 0x3f)));
		jsonpos_keych(s, (char)(0x80 | (cp & 0x3f)));
	}
}

/*
 * Scan a string starting at its opening quote.  When iskey is set, decode
 * it into s->key.  A key may not contain U+0000 (it could not be a
 * C-string path segment; jansson refuses it too).
 */
static int
jsonpos_string(struct jsonpos_scan *s, int iskey)
{
	unsigned int	 cp, lo;
	unsigned char	 c;
	size_t		 n, i;

	s->keylen = 0;
	jsonpos_adv(s);		/* '"' */
	for (;;) {
		if (s->p >= s->end)
			return (-1);
		c = (unsigned char)*s->p;
		if (c == '"') {
			jsonpos_adv(s);
			return (0);
		}
		if (c < 0x20)
			return (-1);
		if (c >= 0x80) {
			n = util_utf8_len((const unsigned char *)s->p,
			    (size_t)(s->end - s->p));
			if (n == 0)
				return (-1);
			for (i = 0; i < n; i++) {
				if (iskey)
					jsonpos_keych(s, *s->p);
				jsonpos_adv(s);
			}
			continue;
		}
		if (c != '\\') {
			if (iskey)
				jsonpos_keych(s, (char)c);
			jsonpos_adv(s);
			continue;
		}
		jsonpos_adv(s);
		if (s->p >= s->end)
			return (-1);
		c = (unsigned char)*s->p;
		jsonpos_adv(s);
		switch (c) {
		case '"':
		case '\\':
		case '/':
			cp = c;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (jsonpos_hex4(s, &cp) == -1)
				return (-1);
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return (-1);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (s->end - s->p < 2 || s->p[0] != '\\' ||
				    s->p[1] != 'u')
					return (-1);
				jsonpos_adv(s);
				jsonpos_adv(s);
				if (jsonpos_hex4(s, &lo) == -1 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return (-1);
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			if (cp == 0 && iskey)
				return (-1);
			break;
		default:
			return (-1);
		}
		if (iskey)
			jsonpos_utf8(s, cp);
	}
}

static int
jsonpos_digits(struct jsonpos_scan *s)
{
	int	n = 0;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		jsonpos_adv(s);
		n++;
	}
	return (n == 0 ? -1 : 0);
}

static int
jsonpos_number(struct jsonpos_scan *s)
{
	if (*s->p == '-')
		jsonpos_adv(s);
	if (s->p >= s->end)
		return (-1);
	if (*s->p == '0')
		jsonpos_adv(s);
	else if (jsonpos_digits(s) == -1)
		return (-1);
	if (s->p < s->end && *s->p == '.') {
		jsonpos_adv(s);
		if (jsonpos_digits(s) == -1)
			return (-1);
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		jsonpos_adv(s);
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			jsonpos_adv(s);
		if (jsonpos_digits(s) == -1)
			return (-1);
	}
	return (0);
}

static int
jsonpos_literal(struct jsonpos_scan *s, const char *lit)
{
	size_t	len = strlen(lit);

	if ((size_t)(s->end - s->p) < len || memcmp(s->p, lit, len) != 0)
		return (-1);
	while (len-- > 0)
		jsonpos_adv(s);
	return (0);
}

static int
jsonpos_object(struct jsonpos_scan *s)
{
	size_t	base = s->pathlen;
	int	kline, kcol;

	jsonpos_adv(s);		/* '{' */
	jsonpos_ws(s);
	if (s->p < s->end && *s->p == '}') {
		jsonpos_adv(s);
		return (0);
	}
	for (;;) {
		if (s->p >= s->end || *s->p != '"')
			return (-1);
		kline = s->line;
		kcol = s->col;
		if (jsonpos_string(s, 1) == -1)
			return (-1);
		jsonpos_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return (-1);
		jsonpos_adv(s);
		jsonpos_push(s, s->key, s->keylen);
		if (jsonpos_value(s, kline, kcol) == -1)
			return (-1);
		jsonpos_pop(s, base);
		jsonpos_ws(s);
		if (s->p >= s->end)
			return (-1);
		if (*s->p == '}') {
			jsonpos_adv(s);
			return (0);
		}
		if (*s->p != ',')
			return (-1);
		jsonpos_adv(s);
		jsonpos_ws(s);
	}
}

static int
jsonpos_array(struct jsonpos_scan *s)
{
	size_t	base = s->pathlen, i;
	char	idx[32];
	int	n;

	jsonpos_adv(s);		/* '[' */
	jsonpos_ws(s);
	if (s->p < s->end && *s->p == ']') {
		jsonpos_adv(s);
		return (0);
	}
	for (i = 0;; i++) {
		n = snprintf(idx, sizeof idx, "%zu", i);
		jsonpos_push(s, idx, (size_t)n);
		jsonpos_ws(s);
		if (jsonpos_value(s, 0, 0) == -1)
			return (-1);
		jsonpos_pop(s, base);
		jsonpos_ws(s);
		if (s->p >= s->end)
			return (-1);
		if (*s->p == ']') {
			jsonpos_adv(s);
			return (0);
		}
		if (*s->p != ',')
			return (-1);
		jsonpos_adv(s);
	}
}

/*
 * Scan one value at s->p (whitespace before it skipped here).  kline/kcol
 * give the member's key position, or 0 for array elements and the root.
 */
static int
jsonpos_value(struct jsonpos_scan *s, int kline, int kcol)
{
	int	rv;

	jsonpos_ws(s);
	if (s->p >= s->end)
		return (-1);
	if (kline == 0) {
		kline = s->line;
		kcol = s->col;
	}
	jsonpos_record(s, kline, kcol);
	switch (*s->p) {
	case '{':
	case '[':
		if (++s->depth > JSONPOS_MAX_DEPTH)
			return (-1);
		if (*s->p == '{')
			rv = jsonpos_object(s);
		else
			rv = jsonpos_array(s);
		s->depth--;
		return (rv);
	case '"':
		return (jsonpos_string(s, 0));
	case 't':
		return (jsonpos_literal(s, "true"));
	case 'f':
		return (jsonpos_literal(s, "false"));
	case 'n':
		return (jsonpos_literal(s, "null"));
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return (jsonpos_number(s));
		return (-1);
	}
}

static int
jsonpos_cmp(const void *a, const void *b)
{
	const struct jsonpos_ent	*ea = a, *eb = b;
	int				 c;

	if ((c = strcmp(ea->path, eb->path)) != 0)
		return (c);
	return (ea->seq < eb->seq ? -1 : ea->seq > eb->seq);
}

struct jsonpos *
jsonpos_new(const char *text, size_t len)
{
	struct jsonpos_scan	 s;
	struct jsonpos		*jp = NULL, *ret = NULL;

	memset(&s, 0, sizeof s);
	jp = xcalloc(1, sizeof *jp);
	s.p = text;
	s.end = text + len;
	s.line = 1;
	s.col = 1;
	s.jp = jp;
	jsonpos_grow(&s.path, &s.pathcap, 1);
	s.path[0] = '\0';

	if (jsonpos_value(&s, 0, 0) == -1)
		goto out;
	jsonpos_ws(&s);
	if (s.p != s.end)
		goto out;
	qsort(jp->ents, jp->nents, sizeof *jp->ents, jsonpos_cmp);
	ret = jp;
	jp = NULL;
out:
	free(s.path);
	free(s.key);
	jsonpos_free(jp);
	return (ret);
}

void
jsonpos_free(struct jsonpos *jp)
{
	size_t	i;

	if (jp == NULL)
		return;
	for (i = 0; i < jp->nents; i++)
		free(jp->ents[i].path);
	free(jp->ents);
	free(jp);
}

int
jsonpos_find(const struct jsonpos *jp, const char *path, int key, int *line,
    int *col)
{
	const struct jsonpos_ent	*e;
	size_t				 lo, hi, mid;
	int				 c;

	*line = *col = 1;
	if (jp == NULL)
		return (-1);
	lo = 0;
	hi = jp->nents;
	while (lo < hi) {		/* first entry >= path */
		mid = lo + (hi - lo) / 2;
		c = strcmp(jp->ents[mid].path, path);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == jp->nents || strcmp(jp->ents[lo].path, path) != 0)
		return (-1);
	e = &jp->ents[lo];
	*line = key ? e->kline : e->vline;
	*col = key ? e->kcol : e->vcol;
	return (0);
}
