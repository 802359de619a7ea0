/*
 * JSON values without a tree (see jscan.h).
 *
 * Providers' answers are read for a handful of numbers and string lengths;
 * parsing a whole answer into a jansson tree to read them cost more than
 * everything else tollgate does with a request.  jscan checks the text in
 * one pass that builds nothing and then walks to the few values wanted.
 *
 * The check accepts exactly what jansson's json_loadb(text, len, 0, NULL)
 * accepts (jansson 2.14, load.c), because callers must answer "not JSON"
 * in the same cases as before: an object or array at the top, RFC 8259
 * grammar and escapes, UTF-8 as jansson's utf8_check_full() takes it, no
 * \u0000 (jansson refuses it in strings and keys), a lone surrogate
 * escape refused, integers within long long (strtoll(3) range), reals
 * refused when strtod(3) overflows, at most JSON_PARSER_MAX_DEPTH (2048)
 * values nested, and one quirk: a NUL byte right after a number or a
 * literal is ignored.  Whether a real overflows is decided from its
 * digits, except for reals between 1e308 and 1e309, which strtod(3)
 * decides from a copy, or, when such a number is longer than any number a
 * provider writes, the caller (JSCAN_UNSURE).
 *
 * The walkers trust the check: they find a string's end by searching
 * eight bytes at a time for its quote (util_find2()) and a container's
 * end by counting brackets outside strings.  jscan_check_getn() picks up
 * the root's members on its way, so that reading a provider's answer is
 * one pass over it plus walks of the small objects wanted.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "util.h"
#include "xmalloc.h"

#define JSCAN_MAX_DEPTH	2048		/* jansson's JSON_PARSER_MAX_DEPTH */
#define JSCAN_EXP_MAX	(INT64_C(1) << 59)	/* beyond any text length */

/* Byte classes. */
#define JSCAN_CWS	0x1	/* whitespace */
#define JSCAN_CEND	0x2	/* ends a number or a literal */
#define JSCAN_CSKIP	0x4	/* a container's skip stops at it: " [ ] { } */
#define JSCAN_CGAP	0x8	/* walkers step over it: whitespace, NUL */
#define JSCAN_CREAL	0x10	/* makes a number a real: . e E */

static const unsigned char jscan_cls[256] = {
	['\0'] = JSCAN_CEND | JSCAN_CGAP,
	['\t'] = JSCAN_CWS | JSCAN_CEND | JSCAN_CGAP,
	['\n'] = JSCAN_CWS | JSCAN_CEND | JSCAN_CGAP,
	['\r'] = JSCAN_CWS | JSCAN_CEND | JSCAN_CGAP,
	[' '] = JSCAN_CWS | JSCAN_CEND | JSCAN_CGAP,
	[','] = JSCAN_CEND,
	[']'] = JSCAN_CEND | JSCAN_CSKIP,
	['}'] = JSCAN_CEND | JSCAN_CSKIP,
	['"'] = JSCAN_CSKIP,
	['['] = JSCAN_CSKIP,
	['{'] = JSCAN_CSKIP,
	['.'] = JSCAN_CREAL,
	['e'] = JSCAN_CREAL,
	['E'] = JSCAN_CREAL,
};

#define jscan_is(c, cls)	(jscan_cls[(unsigned char)(c)] & (cls))
#define jscan_digit(c)		((c) >= '0' && (c) <= '9')

static int	jscan_strat(const struct jscan_val *, size_t, const char *,
		    size_t, int);

static const char *
jscan_ws(const char *p, const char *end)
{
	while (p < end && jscan_is(*p, JSCAN_CWS))
		p++;
	return (p);
}

/* Whitespace, or the NUL jscan_check() lets a scalar end with. */
static const char *
jscan_gap(const char *p, const char *end)
{
	while (p < end && jscan_is(*p, JSCAN_CGAP))
		p++;
	return (p);
}

/* The first '"' or '\\' in p[0..end), or end. */
static const char *
jscan_quote(const char *p, const char *end)
{
	return (p + util_find2(p, (size_t)(end - p), '"', '\\'));
}

/*
 * Check the string whose opening quote is p[-1].  Returns the byte after
 * its closing quote, or NULL.  Sets *esc when it holds an escape.
 */
static const char *
jscan_check_string(const char *p, const char *end, int *esc)
{
	unsigned int	cp, lo;
	size_t		n;

	for (;;) {
		if ((p += util_json_plain(p, (size_t)(end - p))) == end)
			return (NULL);
		if (*p == '"')
			return (p + 1);
		if (*p != '\\') {
			/* A control character, or a UTF-8 sequence. */
			if ((unsigned char)*p < 0x80 ||
			    (n = util_utf8_len(p, (size_t)(end - p))) == 0)
				return (NULL);
			p += n;
			continue;
		}
		*esc = 1;
		if (end - p < 2)
			return (NULL);
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			return (NULL);
		}
		if (end - p < 6 || util_hex4(p + 2, &cp) == -1)
			return (NULL);
		p += 6;
		if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
			return (NULL);
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    util_hex4(p + 2, &lo) == -1 || lo < 0xdc00 ||
			    lo > 0xdfff)
				return (NULL);
			p += 6;
		}
	}
}

/*
 * Is the unsigned decimal digits[0..n) (no leading zero) within long long,
 * negated when neg?
 */
static int
jscan_int_fits(const char *digits, size_t n, int neg)
{
	if (n < 19)
		return (1);
	if (n > 19)
		return (0);
	return (memcmp(digits, neg ? "9223372036854775808" :
	    "9223372036854775807", 19) <= 0);
}

/*
 * Does the real s[0..len), whose first significant digit stands for
 * 10^mag, overflow a double?  1 yes, 0 no, -1 cannot tell cheaply.
 */
static int
jscan_real_overflows(const char *s, size_t len, int64_t mag)
{
	char	buf[64];
	double	d;

	if (mag < 308)
		return (0);		/* below 1e308 < DBL_MAX */
	if (mag > 308)
		return (1);		/* at least 1e309 */
	if (len >= sizeof buf)
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	d = strtod(buf, NULL);
	return ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE);
}

/*
 * Check the number at p.  Returns the byte after it, or NULL.  Sets *type;
 * sets *unsure when only the caller can tell whether it overflows.
 */
static const char *
jscan_check_number(const char *p, const char *end, enum jscan_type *type,
    int *unsure)
{
	const char	*start = p, *digits, *frac, *q;
	int64_t		 mag = INT64_MIN, exp = 0;
	size_t		 nint;
	int		 neg = 0;

	if (*p == '-')
		p++;
	if (p == end || !jscan_digit(*p))
		return (NULL);
	digits = p;
	if (*p == '0') {
		if (++p < end && jscan_digit(*p))
			return (NULL);
	} else {
		while (p < end && jscan_digit(*p))
			p++;
	}
	nint = (size_t)(p - digits);
	if (p == end || (*p != '.' && *p != 'e' && *p != 'E')) {
		*type = JSCAN_INTEGER;
		return (jscan_int_fits(digits, nint, *start == '-') ? p :
		    NULL);
	}

	*type = JSCAN_REAL;
	/* mag: the power of ten of the first digit that is not 0. */
	for (q = digits; q < p && *q == '0'; q++)
		;
	if (q < p)
		mag = p - q - 1;
	if (*p == '.') {
		if (++p == end || !jscan_digit(*p))
			return (NULL);
		frac = p;
		while (p < end && jscan_digit(*p))
			p++;
		if (mag == INT64_MIN) {
			for (q = frac; q < p && *q == '0'; q++)
				;
			if (q < p)
				mag = -(q - frac) - 1;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			neg = *p++ == '-';
		if (p == end || !jscan_digit(*p))
			return (NULL);
		for (; p < end && jscan_digit(*p); p++) {
			if (exp < JSCAN_EXP_MAX)
				exp = exp * 10 + (*p - '0');
		}
	}
	if (mag == INT64_MIN)
		return (p);		/* zero */
	switch (jscan_real_overflows(start, (size_t)(p - start),
	    mag + (neg ? -exp : exp))) {
	case 1:
		return (NULL);
	case -1:
		*unsure = 1;
		break;
	}
	return (p);
}

/* A bit per open container: set for an object. */
#define jscan_bit(b, i)		((b)[(i) / 8] & (1 << ((i) % 8)))
#define jscan_bit_set(b, i)	((b)[(i) / 8] |= (unsigned char)(1 << (i) % 8))
#define jscan_bit_clr(b, i)	((b)[(i) / 8] &= (unsigned char)~(1 << (i) % 8))

/*
 * Is the string key (checked; escaped says it may hold escapes) the key
 * k?  Escapes make a key longer than it reads.
 */
static inline int
jscan_key_is(const struct jscan_val *key, const struct jscan_key *k,
    int escaped)
{
	size_t	len = key->len - 2;

	if (len == k->len)
		return (len == 0 || (key->p[1] == k->s[0] &&
		    memcmp(key->p + 1, k->s, len) == 0));
	return (len > k->len && escaped && jscan_strat(key, 0, k->s, k->len,
	    1));
}

/* The type of the checked value at p; ntype if it is a number. */
static enum jscan_type
jscan_type_at(const char *p, enum jscan_type ntype)
{
	switch (*p) {
	case '{':
		return (JSCAN_OBJECT);
	case '[':
		return (JSCAN_ARRAY);
	case '"':
		return (JSCAN_STRING);
	case 't':
		return (JSCAN_TRUE);
	case 'f':
		return (JSCAN_FALSE);
	case 'n':
		return (JSCAN_NULL);
	}
	return (ntype);
}

enum jscan_result
jscan_check(const char *text, size_t len, struct jscan_val *root)
{
	return (jscan_check_getn(text, len, root, NULL, 0, NULL));
}

enum jscan_result
jscan_check_getn(const char *text, size_t len, struct jscan_val *root,
    const struct jscan_key *keys, size_t n, struct jscan_val *vals)
{
	unsigned char		 objs[JSCAN_MAX_DEPTH / 8];	/* 1: object */
	const char		*p, *end = text + len, *start, *vstart = NULL;
	struct jscan_val	 key;
	enum jscan_type		 ntype = JSCAN_INTEGER;
	size_t			 depth = 0, i;	/* depth: containers open */
	uint32_t		 want = 0;	/* keys[] being read */
	int			 unsure = 0, kesc = 0, esc;

	if (n > JSCAN_CHECK_KEYS)
		n = JSCAN_CHECK_KEYS;
	for (i = 0; i < n; i++) {
		memset(&vals[i], 0, sizeof vals[i]);
		vals[i].type = JSCAN_NONE;
	}
	p = jscan_ws(text, end);
	if (p == end || (*p != '{' && *p != '['))
		return (JSCAN_INVALID);
	start = p;

value:	/* p < end, at a value nested depth + 1 deep */
	if (depth >= JSCAN_MAX_DEPTH)
		return (JSCAN_INVALID);
	switch (*p) {
	case '{':
		jscan_bit_set(objs, depth);
		depth++;
		p = jscan_ws(p + 1, end);
		if (p < end && *p == '}') {
			p++;
			depth--;
			goto after;
		}
		goto member;
	case '[':
		jscan_bit_clr(objs, depth);
		depth++;
		p = jscan_ws(p + 1, end);
		if (p == end)
			return (JSCAN_INVALID);
		if (*p == ']') {
			p++;
			depth--;
			goto after;
		}
		goto value;
	case '"':
		esc = 0;
		if ((p = jscan_check_string(p + 1, end, &esc)) == NULL)
			return (JSCAN_INVALID);
		goto after;
	case 't':
		if (end - p < 4 || memcmp(p, "true", 4) != 0)
			return (JSCAN_INVALID);
		p += 4;
		goto scalar;
	case 'f':
		if (end - p < 5 || memcmp(p, "false", 5) != 0)
			return (JSCAN_INVALID);
		p += 5;
		goto scalar;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4) != 0)
			return (JSCAN_INVALID);
		p += 4;
		goto scalar;
	default:
		if ((p = jscan_check_number(p, end, &ntype, &unsure)) == NULL)
			return (JSCAN_INVALID);
		goto scalar;
	}

scalar:	/*
	 * jansson reads one byte past a number or literal and puts it back;
	 * a NUL put back reads as an empty buffer, so jansson drops it.
	 */
	if (p < end && *p == '\0')
		p++;
	goto after;

member:	/* a key must start at p */
	if (p == end || *p != '"')
		return (JSCAN_INVALID);
	key.p = p;
	esc = 0;
	if ((p = jscan_check_string(p + 1, end, &esc)) == NULL)
		return (JSCAN_INVALID);
	kesc |= esc;
	if (depth == 1) {
		key.len = (size_t)(p - key.p);
		key.type = JSCAN_STRING;
		for (i = 0; i < n; i++) {
			if (jscan_key_is(&key, &keys[i], esc))
				want |= UINT32_C(1) << i;
		}
	}
	p = jscan_ws(p, end);
	if (p == end || *p != ':')
		return (JSCAN_INVALID);
	p = jscan_ws(p + 1, end);
	if (p == end)
		return (JSCAN_INVALID);
	if (depth == 1)
		vstart = p;
	goto value;

after:	/* p right after a value */
	if (depth == 1 && want != 0) {
		/* A value of the root the caller wants (the last wins). */
		for (i = 0; i < n; i++) {
			if (!(want & UINT32_C(1) << i))
				continue;
			vals[i].p = vstart;
			vals[i].len = (size_t)(p - vstart) - (p[-1] == '\0');
			vals[i].type = jscan_type_at(vstart, ntype);
		}
		want = 0;
	}
	if (depth == 0) {
		root->p = start;
		root->len = (size_t)(p - start);
		root->type = *start == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
		root->flags = kesc ? JSCAN_KEYESC : 0;
		for (i = 0; i < n; i++) {
			if (vals[i].type != JSCAN_NONE)
				vals[i].flags = root->flags;
		}
		if (jscan_ws(p, end) != end)
			return (JSCAN_INVALID);
		return (unsure ? JSCAN_UNSURE : JSCAN_OK);
	}
	p = jscan_ws(p, end);
	if (p == end)
		return (JSCAN_INVALID);
	if (*p == ',') {
		p = jscan_ws(p + 1, end);
		if (p == end)
			return (JSCAN_INVALID);
		if (jscan_bit(objs, depth - 1))
			goto member;
		goto value;
	}
	if (*p != (jscan_bit(objs, depth - 1) ? '}' : ']'))
		return (JSCAN_INVALID);
	p++;
	depth--;
	goto after;
}

/* The byte after the checked string whose opening quote is at p. */
static const char *
jscan_skip_string(const char *p, const char *end)
{
	for (p++; (p = jscan_quote(p, end)) < end; p += 2) {
		if (*p == '"')
			return (p + 1);
	}
	return (end);
}

/* Fill *v with the checked value at p; returns the byte after it. */
static const char *
jscan_value(const char *p, const char *end, struct jscan_val *v)
{
	const char	*q = p;
	int		 depth = 0, real;

	v->p = p;
	switch (*p) {
	case '"':
		v->type = JSCAN_STRING;
		q = jscan_skip_string(p, end);
		break;
	case '{':
	case '[':
		v->type = *p == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
		while (q < end) {
			if (*q == '"') {
				q = jscan_skip_string(q, end);
			} else {
				if (*q == '{' || *q == '[')
					depth++;
				else if (--depth == 0) {
					q++;
					break;
				}
				q++;
			}
			while (q < end && !jscan_is(*q, JSCAN_CSKIP))
				q++;
		}
		break;
	default:
		for (real = 0; q < end && !jscan_is(*q, JSCAN_CEND); q++)
			real |= jscan_is(*q, JSCAN_CREAL);
		if (*p == 't')
			v->type = JSCAN_TRUE;
		else if (*p == 'f')
			v->type = JSCAN_FALSE;
		else if (*p == 'n')
			v->type = JSCAN_NULL;
		else
			v->type = real ? JSCAN_REAL : JSCAN_INTEGER;
		break;
	}
	v->len = (size_t)(q - p);
	return (q);
}

int
jscan_member(const struct jscan_val *obj, const char **pos,
    struct jscan_val *key, struct jscan_val *val)
{
	const char	*p = *pos, *end;

	if (obj->type != JSCAN_OBJECT)
		return (-1);
	end = obj->p + obj->len;
	p = jscan_gap(p == NULL ? obj->p + 1 : p, end);
	if (p < end && *p == ',')
		p = jscan_gap(p + 1, end);
	if (p >= end || *p != '"')
		return (-1);
	p = jscan_gap(jscan_value(p, end, key), end);
	p = jscan_gap(p + 1, end);		/* the colon */
	if (p >= end)
		return (-1);
	*pos = jscan_value(p, end, val);
	key->flags = val->flags = obj->flags;
	return (0);
}

int
jscan_next(const struct jscan_val *arr, const char **pos,
    struct jscan_val *elem)
{
	const char	*p = *pos, *end;

	if (arr->type != JSCAN_ARRAY)
		return (-1);	/* JSCAN_NONE has no bytes: p is NULL */
	end = arr->p + arr->len;
	p = jscan_gap(p == NULL ? arr->p + 1 : p, end);
	if (p < end && *p == ',')
		p = jscan_gap(p + 1, end);
	if (p >= end || *p == ']')
		return (-1);
	*pos = jscan_value(p, end, elem);
	elem->flags = arr->flags;
	return (0);
}

int
jscan_empty(const struct jscan_val *v)
{
	const char	*pos = NULL;
	struct jscan_val elem;

	return (v->type == JSCAN_ARRAY && jscan_next(v, &pos, &elem) == -1);
}

/*
 * The unescaped bytes of the (checked) string unit at p, a byte or an
 * escape, into buf: returns how many bytes of text it took, sets *n.
 */
static size_t
jscan_unit(const char *p, char buf[4], size_t *n)
{
	unsigned int	cp, lo;

	*n = 1;
	if (*p != '\\') {
		buf[0] = *p;
		return (1);
	}
	switch (p[1]) {
	case 'b':
		buf[0] = '\b';
		return (2);
	case 'f':
		buf[0] = '\f';
		return (2);
	case 'n':
		buf[0] = '\n';
		return (2);
	case 'r':
		buf[0] = '\r';
		return (2);
	case 't':
		buf[0] = '\t';
		return (2);
	case 'u':
		break;
	default:
		buf[0] = p[1];		/* " \ / */
		return (2);
	}
	(void)util_hex4(p + 2, &cp);
	if (cp < 0xd800 || cp > 0xdbff) {
		*n = util_utf8_put(cp, buf);
		return (6);
	}
	(void)util_hex4(p + 8, &lo);
	*n = util_utf8_put(0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00),
	    buf);
	return (12);
}

size_t
jscan_strlen(const struct jscan_val *v)
{
	const char	*p, *end, *q;
	char		 buf[4];
	size_t		 len = 0, n;

	if (v->type != JSCAN_STRING)
		return (0);
	p = v->p + 1;
	end = v->p + v->len - 1;
	while ((q = jscan_quote(p, end)) < end) {
		len += (size_t)(q - p);
		p = q + jscan_unit(q, buf, &n);
		len += n;
	}
	return (len + (size_t)(end - p));
}

char *
jscan_strdup(const struct jscan_val *v)
{
	const char	*p, *end, *q;
	char		*s, *o;
	size_t		 n;

	if (v->type != JSCAN_STRING)
		return (NULL);
	o = s = xmalloc(v->len - 1);	/* unescaping never lengthens */
	p = v->p + 1;
	end = v->p + v->len - 1;
	while ((q = jscan_quote(p, end)) < end) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		p = q + jscan_unit(q, o, &n);
		o += n;
	}
	memcpy(o, p, (size_t)(end - p));
	o[end - p] = '\0';
	return (s);
}

int
jscan_strescaped(const struct jscan_val *v)
{
	return (v->type == JSCAN_STRING &&
	    jscan_quote(v->p + 1, v->p + v->len - 1) < v->p + v->len - 1);
}

/*
 * Does the unescaped string v hold s[0..slen) at byte off, and end there
 * when whole is set?
 */
static int
jscan_strat(const struct jscan_val *v, size_t off, const char *s,
    size_t slen, int whole)
{
	const char	*p, *end;
	char		 buf[4];
	size_t		 at = 0, n, i;

	if (v->type != JSCAN_STRING)
		return (0);
	p = v->p + 1;
	end = v->p + v->len - 1;
	if (!jscan_strescaped(v)) {
		if ((size_t)(end - p) < off + slen ||
		    (whole && (size_t)(end - p) != off + slen))
			return (0);
		return (memcmp(p + off, s, slen) == 0);
	}
	while (p < end) {
		p += jscan_unit(p, buf, &n);
		for (i = 0; i < n; i++, at++) {
			if (at >= off + slen)
				return (!whole);
			if (at >= off && buf[i] != s[at - off])
				return (0);
		}
	}
	return (at == off + slen);
}

int
jscan_streq(const struct jscan_val *v, const char *s)
{
	return (jscan_strat(v, 0, s, strlen(s), 1));
}

int
jscan_strprefix(const struct jscan_val *v, const char *prefix)
{
	return (jscan_strat(v, 0, prefix, strlen(prefix), 0));
}

int
jscan_strsuffix(const struct jscan_val *v, const char *suffix)
{
	size_t	len = jscan_strlen(v), slen = strlen(suffix);

	return (len >= slen && jscan_strat(v, len - slen, suffix, slen, 1));
}

size_t
jscan_getn(const struct jscan_val *obj, const struct jscan_key *keys,
    size_t n, struct jscan_val *vals)
{
	struct jscan_val	 key, val;
	const char		*pos = NULL;
	size_t			 i, found = 0;

	for (i = 0; i < n; i++) {
		memset(&vals[i], 0, sizeof vals[i]);
		vals[i].type = JSCAN_NONE;
	}
	if (obj->type != JSCAN_OBJECT)
		return (0);
	while (jscan_member(obj, &pos, &key, &val) == 0) {
		for (i = 0; i < n; i++) {
			if (!jscan_key_is(&key, &keys[i],
			    obj->flags & JSCAN_KEYESC))
				continue;
			if (vals[i].type == JSCAN_NONE)
				found++;
			vals[i] = val;
		}
	}
	return (found);
}

int
jscan_get(const struct jscan_val *obj, const char *key,
    struct jscan_val *val)
{
	struct jscan_key	k;

	k.s = key;
	k.len = strlen(key);
	return (jscan_getn(obj, &k, 1, val) == 1 ? 0 : -1);
}

int
jscan_int(const struct jscan_val *v, int64_t *out)
{
	const char	*p = v->p, *end = v->p + v->len;
	uint64_t	 n = 0;
	int		 neg;

	if (v->type != JSCAN_INTEGER)
		return (-1);
	if ((neg = *p == '-'))
		p++;
	for (; p < end; p++)
		n = n * 10 + (uint64_t)(*p - '0');
	/* Checked to fit: -n of INT64_MIN wraps to itself. */
	*out = neg ? (int64_t)(0 - n) : (int64_t)n;
	return (0);
}
