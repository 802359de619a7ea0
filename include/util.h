/*
 * Small helpers with no I/O: checked number parsing, hex, time zones and
 * calendar arithmetic.  Numbers from input never go through atoi().
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define nitems(a)	(sizeof (a) / sizeof ((a)[0]))

/*
 * Parse a decimal integer from s[0..len) (no NUL needed, no sign unless min
 * is negative, no spaces).  Returns 0 and sets *out, or -1.
 */
int	 util_strtoll(const char *s, size_t len, long long min, long long max,
	    long long *out);

/* Lowercase hex of in[0..len) into out, which has room for 2*len+1. */
void	 util_hex(const unsigned char *in, size_t len, char *out);

/* Wall clock in unix milliseconds. */
int64_t	 util_now_ms(void);

/*
 * Make tz the process time zone (setenv TZ, tzset).  Call before threads
 * start.  Returns -1 and sets *cause (caller frees) when tz is unknown.
 */
int	 util_set_timezone(const char *tz, char **cause);

/*
 * Changes each time util_set_timezone() succeeds: what was worked out in
 * the old zone is stale.
 */
unsigned int	 util_tz_generation(void);

/* Parse "YYYY-MM-DD"; returns -1 when not a real date. */
int	 util_parse_date(const char *s, int *y, int *m, int *d);

/* Unix ms of local midnight starting y-m-d in the process time zone. */
int64_t	 util_local_midnight_ms(int y, int m, int d);

/* Local calendar date of a unix ms time: "YYYY-MM-DD" / "YYYY-MM" into out. */
void	 util_local_day(int64_t ms, char out[11]);
void	 util_local_month(int64_t ms, char out[8]);

/* RFC 3339 UTC timestamp of a unix ms time into out ("...Z"). */
void	 util_rfc3339(int64_t ms, char out[32]);

/*
 * Length of the UTF-8 sequence at s[0..avail) whose first byte is >= 0x80,
 * or 0 when it is not valid UTF-8 (RFC 3629: overlong forms, surrogates
 * and code points above U+10FFFF are not; jansson agrees).
 */
size_t	 util_utf8_len(const char *s, size_t avail);

/* UTF-8 of code point cp (at most U+10FFFF) into buf; returns its length. */
size_t	 util_utf8_put(unsigned int cp, char buf[4]);

/* Four hex digits at s (which has four bytes) into *out; -1 if not hex. */
int	 util_hex4(const char *s, unsigned int *out);

/*
 * Length of the longest prefix of s[0..len) that a JSON string holds as
 * it is: printable ASCII (0x20-0x7f) but '"' and '\\'.
 */
size_t	 util_json_plain(const char *s, size_t len);

/* v in decimal into out, NUL-terminated; returns its length. */
size_t	 util_lltoa(long long v, char out[21]);

/* Index of the first byte a or b in s[0..len), or len. */
size_t	 util_find2(const char *s, size_t len, char a, char b);

/* Constant-time equality of two buffers of the same length. */
int	 util_ct_equal(const void *, const void *, size_t);

/*
 * Make the C string s one printable line of valid UTF-8, in place: control
 * characters and bytes outside a valid UTF-8 sequence become '?'.  For
 * messages that quote input (a JSON parser's error, a name from a file).
 */
void	 util_printable(char *s);

#endif
