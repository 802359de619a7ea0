/* Helpers with no I/O: numbers, hex, UTF-8, time zones, calendar days. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <openssl/crypto.h>

#include "util.h"
#include "xmalloc.h"

int
util_strtoll(const char *s, size_t len, long long min, long long max,
    long long *out)
{
	unsigned long long	v = 0;
	size_t			i = 0;
	int			neg = 0;

	if (len == 0)
		return (-1);
	if (s[0] == '-') {
		if (min >= 0 || len == 1)
			return (-1);
		neg = 1;
		i = 1;
	}
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		if (v > (ULLONG_MAX - 9) / 10)
			return (-1);
		v = v * 10 + (unsigned long long)(s[i] - '0');
		if (v > (unsigned long long)LLONG_MAX + 1)
			return (-1);
	}
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return (-1);
		if (v == (unsigned long long)LLONG_MAX + 1)
			*out = LLONG_MIN;
		else
			*out = -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return (-1);
		*out = (long long)v;
	}
	if (*out < min || *out > max)
		return (-1);
	return (0);
}

void
util_hex(const unsigned char *in, size_t len, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int64_t
util_now_ms(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return ((int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

static volatile unsigned int	util_tzgen;

unsigned int
util_tz_generation(void)
{
	return (util_tzgen);
}

int
util_set_timezone(const char *tz, char **cause)
{
	struct stat	 sb;
	char		*path;
	int		 ok;

	if (strcmp(tz, "UTC") != 0 && strcmp(tz, "Etc/UTC") != 0) {
		if (tz[0] == '\0' || tz[0] == '/' || strstr(tz, "..") != NULL) {
			xasprintf(cause, "unknown time zone \"%s\"", tz);
			return (-1);
		}
		xasprintf(&path, "/usr/share/zoneinfo/%s", tz);
		ok = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
		free(path);
		if (!ok) {
			xasprintf(cause, "unknown time zone \"%s\" (no "
			    "/usr/share/zoneinfo/%s; is tzdata installed?)",
			    tz, tz);
			return (-1);
		}
	}
	if (setenv("TZ", tz, 1) == -1) {
		xasprintf(cause, "setenv TZ: %s", strerror(errno));
		return (-1);
	}
	tzset();
	util_tzgen++;
	return (0);
}

int
util_parse_date(const char *s, int *y, int *m, int *d)
{
	static const int	mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
				    31, 30, 31 };
	long long		yy, mm, dd;
	int			leap, max;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return (-1);
	if (util_strtoll(s, 4, 1970, 9999, &yy) == -1 ||
	    util_strtoll(s + 5, 2, 1, 12, &mm) == -1 ||
	    util_strtoll(s + 8, 2, 1, 31, &dd) == -1)
		return (-1);
	leap = (yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0;
	max = mdays[mm - 1] + (mm == 2 && leap);
	if (dd > max)
		return (-1);
	*y = (int)yy;
	*m = (int)mm;
	*d = (int)dd;
	return (0);
}

int64_t
util_local_midnight_ms(int y, int m, int d)
{
	struct tm	tm;
	time_t		t;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	return ((int64_t)t * 1000);
}

static void
util_localtime(int64_t ms, struct tm *tm)
{
	time_t	t;

	t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	localtime_r(&t, tm);
}

void
util_local_day(int64_t ms, char out[11])
{
	struct tm	tm;

	util_localtime(ms, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

void
util_local_month(int64_t ms, char out[8])
{
	struct tm	tm;

	util_localtime(ms, &tm);
	strftime(out, 8, "%Y-%m", &tm);
}

void
util_rfc3339(int64_t ms, char out[32])
{
	struct tm	tm;
	time_t		t;

	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

size_t
util_utf8_len(const char *s, size_t avail)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned int		 cp;
	size_t			 n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return (0);
	if (avail < n)
		return (0);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return (0);
	return (n);
}

size_t
util_utf8_put(unsigned int cp, char buf[4])
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return (1);
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | cp >> 6);
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return (2);
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | cp >> 12);
		buf[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		return (3);
	}
	buf[0] = (char)(0xf0 | cp >> 18);
	buf[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	buf[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	buf[3] = (char)(0x80 | (cp & 0x3f));
	return (4);
}

int
util_hex4(const char *s, unsigned int *out)
{
	unsigned int	v = 0;
	int		i;
	char		c;

	for (i = 0; i < 4; i++) {
		c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return (-1);
	}
	*out = v;
	return (0);
}

/*
 * Bytes are searched eight at a time where a word holds them little-endian:
 * a byte of interest sets its high bit in a mask, and the lowest bit set
 * is exact (a false one only ever follows a true one).
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define UTIL_SWAR
#endif
#define UTIL_ONES		UINT64_C(0x0101010101010101)
#define UTIL_HIGHS		UINT64_C(0x8080808080808080)
#define util_below(w, n)	(((w) - UTIL_ONES * (n)) & ~(w) & UTIL_HIGHS)
#define util_has(w, c)		util_below((w) ^ (UTIL_ONES * (uint8_t)(c)), 1)

size_t
util_json_plain(const char *s, size_t len)
{
	size_t		i = 0;
	unsigned char	c;
#ifdef UTIL_SWAR
	uint64_t	w, m;

	for (; len - i >= 8; i += 8) {
		memcpy(&w, s + i, 8);
		if ((m = util_has(w, '"') | util_has(w, '\\') |
		    util_below(w, 0x20) | (w & UTIL_HIGHS)) != 0)
			return (i + (size_t)__builtin_ctzll(m) / 8);
	}
#endif
	for (; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			break;
	}
	return (i);
}

size_t
util_lltoa(long long v, char out[21])
{
	char			 buf[20], *p = buf + sizeof buf;
	unsigned long long	 u;
	size_t			 n;

	u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	n = (size_t)(buf + sizeof buf - p);
	if (v < 0)
		*out++ = '-';
	memcpy(out, p, n);
	out[n] = '\0';
	return (n + (v < 0));
}

size_t
util_find2(const char *s, size_t len, char a, char b)
{
	size_t		i = 0;
#ifdef UTIL_SWAR
	uint64_t	w, m;

	for (; len - i >= 8; i += 8) {
		memcpy(&w, s + i, 8);
		if ((m = util_has(w, a) | util_has(w, b)) != 0)
			return (i + (size_t)__builtin_ctzll(m) / 8);
	}
#endif
	while (i < len && s[i] != a && s[i] != b)
		i++;
	return (i);
}

int
util_ct_equal(const void *a, const void *b, size_t len)
{
	return (CRYPTO_memcmp(a, b, len) == 0);
}

void
util_printable(char *s)
{
	unsigned char	*p = (unsigned char *)s, *end = p + strlen(s);
	size_t		 n;

	while (p < end) {
		if (*p < 0x20 || *p == 0x7f)
			*p++ = '?';
		else if (*p < 0x80)
			p++;
		else if ((n = util_utf8_len((const char *)p,
		    (size_t)(end - p))) != 0)
			p += n;
		else
			*p++ = '?';
	}
}
