/*
 * util: checked integer parsing, dates, hex, UTF-8, byte searches, time
 * zones and calendar days (across daylight saving changes), RFC 3339,
 * printable messages.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"
#include "xmalloc.h"
#include "../tap.h"

static void
test_strtoll(void)
{
	static const struct {
		const char	*name;
		const char	*s;
		size_t		 len;	/* 0: strlen(s) */
		long long	 min, max;
		int		 rc;
		long long	 want;
	} cases[] = {
		{ "zero", "0", 0, 0, 10, 0, 0 },
		{ "plain", "12345", 0, 0, LLONG_MAX, 0, 12345 },
		{ "leading zeros", "007", 0, 0, 10, 0, 7 },
		{ "max", "9223372036854775807", 0, 0, LLONG_MAX, 0, LLONG_MAX },
		{ "max + 1", "9223372036854775808", 0, 0, LLONG_MAX, -1, 0 },
		{ "far overflow", "99999999999999999999999", 0, 0, LLONG_MAX,
		  -1, 0 },
		{ "min", "-9223372036854775808", 0, LLONG_MIN, LLONG_MAX, 0,
		  LLONG_MIN },
		{ "min - 1", "-9223372036854775809", 0, LLONG_MIN, LLONG_MAX,
		  -1, 0 },
		{ "negative allowed", "-5", 0, -10, 10, 0, -5 },
		{ "negative refused", "-5", 0, 0, 10, -1, 0 },
		{ "minus zero", "-0", 0, -1, 1, 0, 0 },
		{ "lone minus", "-", 0, -10, 10, -1, 0 },
		{ "plus sign", "+5", 0, 0, 10, -1, 0 },
		{ "empty", "", 0, 0, 10, -1, 0 },
		{ "space before", " 5", 0, 0, 10, -1, 0 },
		{ "space after", "5 ", 0, 0, 10, -1, 0 },
		{ "letter", "12a", 0, 0, 100, -1, 0 },
		{ "hex", "0x10", 0, 0, 100, -1, 0 },
		{ "above max", "11", 0, 0, 10, -1, 0 },
		{ "below min", "4", 0, 5, 10, -1, 0 },
		{ "at min", "5", 0, 5, 10, 0, 5 },
		{ "length bounds the digits", "123456", 3, 0, 1000, 0, 123 },
		{ "no NUL needed", "42xyz", 2, 0, 100, 0, 42 },
	};
	long long	out;
	size_t		i, len;
	int		rc;

	for (i = 0; i < nitems(cases); i++) {
		out = -777;
		len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].s);
		rc = util_strtoll(cases[i].s, len, cases[i].min, cases[i].max,
		    &out);
		is_int(rc, cases[i].rc, "strtoll %s: rc", cases[i].name);
		if (cases[i].rc == 0)
			ok(out == cases[i].want, "strtoll %s: value",
			    cases[i].name);
	}
	/* Zero length with a non-empty buffer. */
	is_int(util_strtoll("5", 0, 0, 10, &out), -1, "strtoll length 0");
}

static void
test_parse_date(void)
{
	static const struct {
		const char	*s;
		int		 rc;
		int		 y, m, d;
	} cases[] = {
		{ "2026-01-31", 0, 2026, 1, 31 },
		{ "2024-02-29", 0, 2024, 2, 29 },	/* leap */
		{ "2023-02-29", -1, 0, 0, 0 },		/* not leap */
		{ "2000-02-29", 0, 2000, 2, 29 },	/* 400 rule */
		{ "2100-02-29", -1, 0, 0, 0 },		/* 100 rule */
		{ "2023-02-28", 0, 2023, 2, 28 },
		{ "2026-04-31", -1, 0, 0, 0 },
		{ "2026-04-30", 0, 2026, 4, 30 },
		{ "2026-12-31", 0, 2026, 12, 31 },
		{ "2026-13-01", -1, 0, 0, 0 },
		{ "2026-00-10", -1, 0, 0, 0 },
		{ "2026-01-00", -1, 0, 0, 0 },
		{ "2026-01-32", -1, 0, 0, 0 },
		{ "2026-1-01", -1, 0, 0, 0 },
		{ "2026-01-1", -1, 0, 0, 0 },
		{ "2026/01/01", -1, 0, 0, 0 },
		{ "2026-01-01x", -1, 0, 0, 0 },
		{ "2026-01-01 ", -1, 0, 0, 0 },
		{ "20260101", -1, 0, 0, 0 },
		{ "", -1, 0, 0, 0 },
		{ "abcd-ef-gh", -1, 0, 0, 0 },
		{ "2026--1-01", -1, 0, 0, 0 },
		{ "2026-+1-01", -1, 0, 0, 0 },
		{ "1969-12-31", -1, 0, 0, 0 },
	};
	size_t	i;
	int	y, m, d, rc;

	for (i = 0; i < nitems(cases); i++) {
		y = m = d = 0;
		rc = util_parse_date(cases[i].s, &y, &m, &d);
		is_int(rc, cases[i].rc, "parse_date \"%s\"", cases[i].s);
		if (cases[i].rc == 0)
			ok(y == cases[i].y && m == cases[i].m &&
			    d == cases[i].d, "parse_date \"%s\": fields",
			    cases[i].s);
	}
}

static void
test_hex(void)
{
	static const struct {
		const char		*name;
		const unsigned char	*in;
		size_t			 len;
		const char		*want;
	} cases[] = {
		{ "empty", (const unsigned char *)"", 0, "" },
		{ "ascii", (const unsigned char *)"abc", 3, "616263" },
		{ "all nibbles", (const unsigned char *)
		  "\x01\x23\x45\x67\x89\xab\xcd\xef", 8, "0123456789abcdef" },
		{ "zero and ff", (const unsigned char *)"\x00\xff", 2, "00ff" },
	};
	char	out[64];
	size_t	i;

	for (i = 0; i < nitems(cases); i++) {
		memset(out, 'X', sizeof out);
		util_hex(cases[i].in, cases[i].len, out);
		is_str(out, cases[i].want, "hex %s", cases[i].name);
	}
}

/* UTF-8 sequences as jansson takes them, and their encoding. */
static void
test_utf8(void)
{
	static const struct {
		const char	*name;
		const char	*s;
		size_t		 avail;
		size_t		 want;
	} cases[] = {
		{ "2 bytes", "\xc3\xa9", 2, 2 },
		{ "3 bytes", "\xe2\x82\xac", 3, 3 },
		{ "4 bytes", "\xf0\x9f\x98\x80", 4, 4 },
		{ "U+10FFFF", "\xf4\x8f\xbf\xbf", 4, 4 },
		{ "cut short", "\xe2\x82\xac", 2, 0 },
		{ "continuation first", "\x80", 1, 0 },
		{ "overlong 2", "\xc1\xbf", 2, 0 },
		{ "overlong 3", "\xe0\x9f\xbf", 3, 0 },
		{ "overlong 4", "\xf0\x8f\xbf\xbf", 4, 0 },
		{ "surrogate", "\xed\xa0\x80", 3, 0 },
		{ "above U+10FFFF", "\xf4\x90\x80\x80", 4, 0 },
		{ "lead 0xf8", "\xf8\x88\x80\x80", 4, 0 },
		{ "bad continuation", "\xe2\x28\xa1", 3, 0 },
	};
	static const unsigned int	 cps[] = {
		0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0xffff, 0x10000,
		0x10ffff
	};
	unsigned int			 cp;
	size_t				 i, n;
	char				 buf[4];

	for (i = 0; i < nitems(cases); i++)
		is_int(util_utf8_len(cases[i].s, cases[i].avail),
		    cases[i].want, "utf8 %s", cases[i].name);
	for (i = 0; i < nitems(cps); i++) {
		n = util_utf8_put(cps[i], buf);
		ok(n == (cps[i] < 0x80 ? 1 : cps[i] < 0x800 ? 2 :
		    cps[i] < 0x10000 ? 3 : 4) && (n == 1 ||
		    util_utf8_len(buf, n) == n), "utf8 of U+%04X", cps[i]);
	}
	ok(util_hex4("00e9", &cp) == 0 && cp == 0xe9, "hex4 lower");
	ok(util_hex4("D83D", &cp) == 0 && cp == 0xd83d, "hex4 upper");
	ok(util_hex4("12g4", &cp) == -1, "hex4 refuses g");
}

/* The byte searches, at every offset around the eight-byte steps. */
static void
test_search(void)
{
	char	buf[40];
	size_t	i, n, bad = 0;

	for (n = 0; n <= 24; n++) {
		for (i = 0; i <= n; i++) {
			memset(buf, 'a', sizeof buf);
			buf[i] = '"';
			if (util_json_plain(buf, n) != i ||
			    util_find2(buf, n, '\\', '"') != i)
				bad++;
			buf[i] = i % 3 == 0 ? '\x1f' : i % 3 == 1 ? '\x80' :
			    '\\';
			if (util_json_plain(buf, n) != i)
				bad++;
		}
	}
	is_int(bad, 0, "searches stop at the first byte of interest");
	ok(util_json_plain(" ~\x7f!", 4) == 4, "printable ASCII and DEL are "
	    "plain");
	ok(util_find2("abcdefghijklmnop", 16, 'x', 'y') == 16,
	    "find2: neither");
}

static void
test_ct_equal(void)
{
	ok(util_ct_equal("abcdef", "abcdef", 6), "ct_equal same");
	ok(!util_ct_equal("abcdef", "abcdeg", 6), "ct_equal last differs");
	ok(!util_ct_equal("xbcdef", "abcdef", 6), "ct_equal first differs");
	ok(util_ct_equal("a", "b", 0), "ct_equal zero length");
}

static void
test_printable(void)
{
	static const struct {
		const char	*name;
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "plain", "tollgate.json:1:2: x", "tollgate.json:1:2: x" },
		{ "line ends", "a\nb\r\nc", "a?b??c" },
		{ "tab, escape, DEL", "\t\x1b[31m\x7f", "??[31m?" },
		{ "UTF-8 kept", "caf\xc3\xa9 \xe6\xbc\xa2 \xf0\x9f\x99\x82",
		  "caf\xc3\xa9 \xe6\xbc\xa2 \xf0\x9f\x99\x82" },
		{ "stray continuation", "a\x80" "b", "a?b" },
		{ "truncated sequence", "\xe6\xbc", "??" },
		{ "truncated, then ASCII", "\xe6\xbcx", "??x" },
		{ "overlong", "\xc0\xaf\xe0\x80\xaf", "?????" },
		{ "surrogate", "\xed\xa0\x80", "???" },
		{ "past U+10FFFF", "\xf4\x90\x80\x80", "????" },
		{ "last code point", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },
		{ "0xff", "\xff", "?" },
	};
	char	*s;
	size_t	 i;

	for (i = 0; i < nitems(cases); i++) {
		s = xstrdup(cases[i].in);
		util_printable(s);
		is_str(s, cases[i].want, "printable %s", cases[i].name);
		free(s);
	}
}

static void
test_rfc3339(void)
{
	static const struct {
		int64_t		 ms;
		const char	*want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 999, "1970-01-01T00:00:00Z" },
		{ 1700000000123LL, "2023-11-14T22:13:20Z" },
		{ 1709208000000LL, "2024-02-29T12:00:00Z" },
		{ 1767225599999LL, "2025-12-31T23:59:59Z" },
		{ 1767225600000LL, "2026-01-01T00:00:00Z" },
	};
	char	out[32];
	size_t	i;

	for (i = 0; i < nitems(cases); i++) {
		util_rfc3339(cases[i].ms, out);
		is_str(out, cases[i].want, "rfc3339 %lld",
		    (long long)cases[i].ms);
	}
}

/* Calendar days in UTC and in New York across both DST changes of 2024. */
static void
test_days(void)
{
	static const struct {
		const char	*name;
		const char	*tz;
		int64_t		 ms;
		const char	*day;
		const char	*month;
	} days[] = {
		{ "utc epoch", "UTC", 0, "1970-01-01", "1970-01" },
		{ "utc before midnight", "UTC", 1767225599999LL, "2025-12-31",
		  "2025-12" },
		{ "utc midnight", "UTC", 1767225600000LL, "2026-01-01",
		  "2026-01" },
		/* 2026-01-01T04:59:59.999Z is still New Year's Eve there. */
		{ "ny new year's eve", "America/New_York", 1767243599999LL,
		  "2025-12-31", "2025-12" },
		{ "ny new year", "America/New_York", 1767243600000LL,
		  "2026-01-01", "2026-01" },
		/* Spring forward: 2024-03-10 is 23 hours long. */
		{ "ny mar 10 start", "America/New_York", 1710046800000LL,
		  "2024-03-10", "2024-03" },
		{ "ny mar 10 last ms", "America/New_York", 1710129599999LL,
		  "2024-03-10", "2024-03" },
		{ "ny mar 11 start", "America/New_York", 1710129600000LL,
		  "2024-03-11", "2024-03" },
		/* Fall back: 2024-11-03 is 25 hours long. */
		{ "ny nov 3 start", "America/New_York", 1730606400000LL,
		  "2024-11-03", "2024-11" },
		{ "ny nov 3 24h later", "America/New_York", 1730692800000LL,
		  "2024-11-03", "2024-11" },
		{ "ny nov 3 last ms", "America/New_York", 1730696399999LL,
		  "2024-11-03", "2024-11" },
		{ "ny nov 4 start", "America/New_York", 1730696400000LL,
		  "2024-11-04", "2024-11" },
	};
	static const struct {
		const char	*name;
		const char	*tz;
		int		 y, m, d;
		int64_t		 want;
	} midnights[] = {
		{ "utc", "UTC", 2026, 1, 1, 1767225600000LL },
		{ "utc leap day", "UTC", 2024, 2, 29, 1709164800000LL },
		{ "utc day 32 rolls over", "UTC", 2026, 1, 32,
		  1769904000000LL },
		{ "ny", "America/New_York", 2026, 1, 1, 1767243600000LL },
		{ "ny dst start day", "America/New_York", 2024, 3, 10,
		  1710046800000LL },
		{ "ny after dst start", "America/New_York", 2024, 3, 11,
		  1710129600000LL },
		{ "ny dst end day", "America/New_York", 2024, 11, 3,
		  1730606400000LL },
		{ "ny after dst end", "America/New_York", 2024, 11, 4,
		  1730696400000LL },
	};
	char	*cause, day[11], month[8];
	size_t	 i;

	for (i = 0; i < nitems(days); i++) {
		cause = NULL;
		if (util_set_timezone(days[i].tz, &cause) != 0) {
			ok(0, "set tz %s: %s", days[i].tz, cause);
			free(cause);
			continue;
		}
		util_local_day(days[i].ms, day);
		util_local_month(days[i].ms, month);
		is_str(day, days[i].day, "local_day %s", days[i].name);
		is_str(month, days[i].month, "local_month %s", days[i].name);
	}
	for (i = 0; i < nitems(midnights); i++) {
		cause = NULL;
		if (util_set_timezone(midnights[i].tz, &cause) != 0) {
			ok(0, "set tz %s: %s", midnights[i].tz, cause);
			free(cause);
			continue;
		}
		is_int(util_local_midnight_ms(midnights[i].y, midnights[i].m,
		    midnights[i].d), midnights[i].want, "local_midnight %s",
		    midnights[i].name);
	}
	util_set_timezone("UTC", &cause);
}

static void
test_timezone(void)
{
	static const struct {
		const char	*tz;
		int		 rc;
	} cases[] = {
		{ "UTC", 0 },
		{ "Etc/UTC", 0 },
		{ "America/New_York", 0 },
		{ "Europe/Berlin", 0 },
		{ "Nowhere/Atlantis", -1 },
		{ "", -1 },
		{ "../../etc/passwd", -1 },
		{ "/etc/localtime", -1 },
		{ "America", -1 },	/* a directory, not a zone */
	};
	char	*cause;
	size_t	 i;
	int	 rc;

	for (i = 0; i < nitems(cases); i++) {
		cause = NULL;
		rc = util_set_timezone(cases[i].tz, &cause);
		is_int(rc, cases[i].rc, "set_timezone \"%s\"", cases[i].tz);
		if (rc != 0)
			ok(cause != NULL, "set_timezone \"%s\" says why",
			    cases[i].tz);
		free(cause);
	}
	util_set_timezone("UTC", &cause);
}

static void
test_now(void)
{
	int64_t	a, b;

	a = util_now_ms();
	b = util_now_ms();
	ok(a > 1700000000000LL && b >= a, "now_ms is a plausible clock");
}

int
main(void)
{
	struct stat	sb;
	int		tzdata;

	tzdata = stat("/usr/share/zoneinfo/America/New_York", &sb) == 0;
	test_strtoll();
	test_parse_date();
	test_hex();
	test_utf8();
	test_search();
	test_ct_equal();
	test_printable();
	test_rfc3339();
	test_now();
	if (tzdata) {
		test_days();
		test_timezone();
	} else
		printf("# SKIP time zone cases: no tzdata\n");
	return (tap_done());
}
