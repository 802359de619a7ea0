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

/* Parse "YYYY-MM-DD"; returns -1 when not a real date. */
int	 util_parse_date(const char *s, int *y, int *m, int *d);

/* Unix ms of local midnight starting y-m-d in the process time zone. */
int64_t	 util_local_midnight_ms(int y, int m, int d);

/* Local calendar date of a unix ms time: "YYYY-MM-DD" / "YYYY-MM" into out. */
void	 util_local_day(int64_t ms, char out[11]);
void	 util_local_month(int64_t ms, char out[8]);

/* RFC 3339 UTC timestamp of a unix ms time into out ("...Z"). */
void	 util_rfc3339(int64_t ms, char out[32]);

/* Constant-time equality of two buffers of the same length. */
int	 util_ct_equal(const void *, const void *, size_t);

/*
 * Length of the valid UTF-8 sequence at p (lead byte >= 0x80, avail bytes
 * readable): 2 to 4, no overlong form, no surrogate, nothing past
 * U+10FFFF; 0 when there is none.
 */
size_t	 util_utf8_len(const unsigned char *p, size_t avail);

/*
 * Make the C string s one printable line of valid UTF-8, in place: control
 * characters and bytes outside a valid UTF-8 sequence become '?'.  For
 * messages that quote input (a JSON parser's error, a name from a file).
 */
void	 util_printable(char *s);

#endif
