/*
 * Pricing tests.  Every expected cost below is worked out by hand from
 * cost_nusd = round_half_up(sum(tokens * nusd_per_mtok) / 1e6).
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "price.h"
#include "../tap.h"
#include "usage.h"

#define N(a)	(sizeof (a) / sizeof (a)[0])

static void
check_from_usd(void)
{
	static const struct {
		const char	*name;
		double		 usd;
		int		 rv;
		int64_t		 want;
	} c[] = {
		{ "0.15", 0.15, 0, 150000000 },
		{ "0.075", 0.075, 0, 75000000 },
		{ "0.60", 0.60, 0, 600000000 },
		{ "1.25", 1.25, 0, 1250000000 },
		{ "0.02", 0.02, 0, 20000000 },
		{ "15", 15, 0, INT64_C(15000000000) },
		{ "0.123456789", 0.123456789, 0, 123456789 },
		{ "123.456789", 123.456789, 0, INT64_C(123456789000) },
		{ "3e-7", 3e-7, 0, 300 },
		{ "1e-9 (one nano-dollar)", 1e-9, 0, 1 },
		{ "zero", 0.0, 0, 0 },
		{ "negative zero", -0.0, 0, 0 },
		{ "the maximum", 1e6, 0, INT64_C(1000000000000000) },
		{ "above the maximum", 1e6 + 0.01, -1, 0 },
		{ "negative", -0.01, -1, 0 },
		{ "NaN", NAN, -1, 0 },
		{ "infinity", INFINITY, -1, 0 },
		{ "-infinity", -INFINITY, -1, 0 },
		{ "finer than a nano-dollar", 1e-10, -1, 0 },
		{ "1.5 nano-dollars", 1.5e-9, -1, 0 },
		{ "2.5 nano-dollars", 2.5e-9, -1, 0 },
		{ "1e300", 1e300, -1, 0 },
	};
	size_t	 i;
	int64_t	 v;
	int	 rv;

	for (i = 0; i < N(c); i++) {
		v = -42;
		rv = price_from_usd_per_mtok(c[i].usd, &v);
		is_int(rv, c[i].rv, "from_usd %s: rv", c[i].name);
		if (c[i].rv == 0)
			is_int(v, c[i].want, "from_usd %s: value", c[i].name);
		else
			is_int(v, -42, "from_usd %s: output untouched",
			    c[i].name);
	}
}

/* Rates in nano-USD per Mtok; -1 means the class is not set. */
struct rates {
	int64_t	 in, cached, cw, out;
};

static void
make_price(struct price *p, const struct rates *r)
{
	int64_t	 v[PRICE_NCLASS];
	int	 i;

	v[PRICE_INPUT] = r->in;
	v[PRICE_CACHED_INPUT] = r->cached;
	v[PRICE_CACHE_WRITE] = r->cw;
	v[PRICE_OUTPUT] = r->out;
	memset(p, 0, sizeof *p);
	for (i = 0; i < PRICE_NCLASS; i++) {
		if (v[i] != -1) {
			p->nusd_per_mtok[i] = v[i];
			p->set[i] = 1;
		}
	}
}

static const struct rates gpt4omini = { 150000000, 75000000, -1, 600000000 };
static const struct rates haiku = { 1000000000, 100000000, 1250000000,
    5000000000 };
static const struct rates embed = { 20000000, -1, -1, -1 };
static const struct rates onenano = { 1, -1, -1, 1 };
static const struct rates inonly = { 1000000000, -1, -1, -1 };
static const struct rates million = { 1000000, -1, -1, -1 };

static void
check_rate(void)
{
	struct price	 p;

	make_price(&p, &gpt4omini);
	is_int(price_rate(&p, PRICE_INPUT), 150000000, "rate: input");
	is_int(price_rate(&p, PRICE_CACHED_INPUT), 75000000,
	    "rate: cached_input as set");
	is_int(price_rate(&p, PRICE_CACHE_WRITE), 150000000,
	    "rate: unset cache_write falls back to input");
	is_int(price_rate(&p, PRICE_OUTPUT), 600000000, "rate: output");
	make_price(&p, &embed);
	is_int(price_rate(&p, PRICE_CACHED_INPUT), 20000000,
	    "rate: unset cached_input falls back to input, never 0");
	is_int(price_rate(&p, PRICE_OUTPUT), 0, "rate: unset output is 0");
	is_int(price_rate(&p, PRICE_NCLASS), 0, "rate: out of range is 0");
	make_price(&p, &haiku);
	is_int(price_rate(&p, PRICE_CACHE_WRITE), 1250000000,
	    "rate: cache_write as set");
}

static void
check_cost(void)
{
	static const struct {
		const char		*name;
		const struct rates	*r;
		struct usage		 u;	/* in, cached, cw, out, reas */
		int64_t			 want;
	} c[] = {
		/* 1000 * 150e6 / 1e6 = 150000 nano-USD = $0.00015. */
		{ "gpt-4o-mini: 1000 input", &gpt4omini,
		  { 1000, 0, 0, 0, 0, USAGE_PROVIDER }, 150000 },
		/* 1000 * 600e6 / 1e6 */
		{ "gpt-4o-mini: 1000 output", &gpt4omini,
		  { 0, 0, 0, 1000, 0, USAGE_PROVIDER }, 600000 },
		/*
		 * 600 uncached * 150e6 = 9e10, 400 cached * 75e6 = 3e10,
		 * 200 output * 600e6 = 1.2e11 (its 50 reasoning included,
		 * not again): 2.4e11 / 1e6.
		 */
		{ "gpt-4o-mini: cached once, reasoning once", &gpt4omini,
		  { 1000, 400, 0, 200, 50, USAGE_PROVIDER }, 240000 },
		/* All cached: 1000 * 75e6 / 1e6. */
		{ "gpt-4o-mini: all input cached", &gpt4omini,
		  { 1000, 1000, 0, 0, 0, USAGE_PROVIDER }, 75000 },
		/* Inconsistent: more cached than input; no negative input. */
		{ "cached above input", &gpt4omini,
		  { 100, 150, 0, 0, 0, USAGE_PROVIDER }, 11250 },
		/*
		 * 2095 uncached * 1e9 = 2.095e12, 1800 cache reads * 1e8 =
		 * 1.8e11, 503 output * 5e9 = 2.515e12: 4.79e12 / 1e6.
		 */
		{ "haiku: cache read", &haiku,
		  { 3895, 1800, 0, 503, 0, USAGE_PROVIDER }, 4790000 },
		/*
		 * 21 * 1e9 = 2.1e10, 188086 * 1.25e9 = 2.351075e14,
		 * 393 * 5e9 = 1.965e12: 2.370935e14 / 1e6.
		 */
		{ "haiku: cache write", &haiku,
		  { 188107, 0, 188086, 393, 0, USAGE_PROVIDER }, 237093500 },
		/* 8 * 2e7 / 1e6; output has no rate. */
		{ "embedding", &embed,
		  { 8, 0, 0, 0, 0, USAGE_PROVIDER }, 160 },
		{ "embedding: stray output is free", &embed,
		  { 8, 0, 0, 5, 0, USAGE_PROVIDER }, 160 },
		/* Unset cached rate: cached at the input rate, 10 * 1e9. */
		{ "cached without a cached rate", &inonly,
		  { 10, 10, 0, 0, 0, USAGE_PROVIDER }, 10000 },
		{ "nothing used", &haiku,
		  { 0, 0, 0, 0, 0, USAGE_NONE }, 0 },
		/* Rounding half up, once over the sum. */
		{ "499999 at 1/Mtok rounds down", &onenano,
		  { 499999, 0, 0, 0, 0, USAGE_PROVIDER }, 0 },
		{ "500000 at 1/Mtok rounds up", &onenano,
		  { 500000, 0, 0, 0, 0, USAGE_PROVIDER }, 1 },
		{ "1499999 at 1/Mtok", &onenano,
		  { 1499999, 0, 0, 0, 0, USAGE_PROVIDER }, 1 },
		{ "1500000 at 1/Mtok", &onenano,
		  { 1500000, 0, 0, 0, 0, USAGE_PROVIDER }, 2 },
		{ "rounded once over the sum, not per class", &onenano,
		  { 400000, 0, 0, 400000, 0, USAGE_PROVIDER }, 1 },
		{ "negative counts are 0", &haiku,
		  { -5, -1, -1, -7, 0, USAGE_PROVIDER }, 0 },
		/* INT64_MAX * 1e9 / 1e6 is far above INT64_MAX. */
		{ "overflow saturates", &haiku,
		  { INT64_MAX, 0, 0, INT64_MAX, 0, USAGE_PROVIDER },
		  INT64_MAX },
		/* Just below: 9223372036854 * 1e6 / 1e6 fits. */
		{ "large but representable", &million,
		  { INT64_C(9223372036854), 0, 0, 0, 0, USAGE_PROVIDER },
		  INT64_C(9223372036854) },
	};
	struct price	 p;
	size_t		 i;

	for (i = 0; i < N(c); i++) {
		make_price(&p, c[i].r);
		is_int(price_cost_nusd(&p, &c[i].u), c[i].want, "cost: %s",
		    c[i].name);
	}

	/* Every class at INT64_MAX: the 128-bit sum must not wrap. */
	memset(&p, 0, sizeof p);
	for (i = 0; i < PRICE_NCLASS; i++) {
		p.nusd_per_mtok[i] = INT64_MAX;
		p.set[i] = 1;
	}
	{
		struct usage	 u = { INT64_MAX, INT64_MAX / 3,
		    INT64_MAX / 3, INT64_MAX, 0, USAGE_PROVIDER };

		is_int(price_cost_nusd(&p, &u), INT64_MAX,
		    "cost: every class at INT64_MAX saturates");
	}
	p.nusd_per_mtok[PRICE_INPUT] = -1000;
	{
		struct usage	 u = { 1000000, 0, 0, 0, 0, USAGE_PROVIDER };

		is_int(price_cost_nusd(&p, &u), 0, "cost: negative rate is 0");
	}
}

static void
check_format(void)
{
	static const struct {
		int64_t		 nusd;
		int		 decimals;
		const char	*want;
	} c[] = {
		{ 150000, 6, "0.000150" },
		{ INT64_C(12345678900), 6, "12.345679" },
		{ 1234567, 6, "0.001235" },
		{ 237093500, 6, "0.237094" },
		{ 0, 6, "0.000000" },
		{ 500, 6, "0.000001" },
		{ 499, 6, "0.000000" },
		{ 1000000000, 6, "1.000000" },
		{ 999999500, 6, "1.000000" },
		{ 999999499, 6, "0.999999" },
		{ -1234567, 6, "-0.001235" },
		{ -500, 6, "-0.000001" },
		{ -499, 6, "0.000000" },
		{ INT64_MAX, 6, "9223372036.854776" },
		{ INT64_MIN, 6, "-9223372036.854776" },
		{ INT64_MAX, 9, "9223372036.854775807" },
		{ INT64_MIN, 9, "-9223372036.854775808" },
		{ 1, 9, "0.000000001" },
		{ 1500000000, 0, "2" },
		{ 1499999999, 0, "1" },
		{ -1500000000, 0, "-2" },
		{ 4990000, 2, "0.00" },
		{ 5000000, 2, "0.01" },
		{ 123456789, 12, "0.123456789" },
		{ 2500000000, -1, "3" },
	};
	char	 out[32];
	size_t	 i;

	for (i = 0; i < N(c); i++) {
		memset(out, 'x', sizeof out);
		price_format_usd(c[i].nusd, c[i].decimals, out);
		is_str(out, c[i].want, "format %" PRId64 " with %d decimals",
		    c[i].nusd, c[i].decimals);
	}
}

int
main(void)
{
	check_from_usd();
	check_rate();
	check_cost();
	check_format();
	return (tap_done());
}
