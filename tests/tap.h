/*
 * Minimal TAP producer for the unit tests (automake's tap-driver.sh reads
 * it).  Each check is one test point; the plan is printed at the end.
 *
 *	ok(cond, "name %d", i);
 *	is_int(got, want, "name");
 *	is_str(got, want, "name");
 *	return (tap_done());
 */
#ifndef TAP_H
#define TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int	tap_n;
static int	tap_failed;

static void __attribute__((format(printf, 2, 3), unused))
ok(int cond, const char *fmt, ...)
{
	va_list	ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define is_int(got, want, ...) do {					\
	int64_t	 tap_g_ = (int64_t)(got), tap_w_ = (int64_t)(want);	\
	ok(tap_g_ == tap_w_, __VA_ARGS__);				\
	if (tap_g_ != tap_w_)						\
		printf("# got %" PRId64 ", want %" PRId64 "\n",		\
		    tap_g_, tap_w_);					\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *tap_g_ = (got), *tap_w_ = (want);			\
	int	 tap_e_ = (tap_g_ == NULL && tap_w_ == NULL) ||		\
	    (tap_g_ != NULL && tap_w_ != NULL &&			\
	    strcmp(tap_g_, tap_w_) == 0);				\
	ok(tap_e_, __VA_ARGS__);					\
	if (!tap_e_)							\
		printf("# got \"%s\", want \"%s\"\n",			\
		    tap_g_ ? tap_g_ : "(null)",				\
		    tap_w_ ? tap_w_ : "(null)");			\
} while (0)

static int __attribute__((unused))
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return (tap_failed ? 1 : 0);
}

#endif
