/*
 * Pricing in integer nano-USD (see price.h).
 *
 * A rate is nano-USD per million tokens, so a class costs
 * tokens * rate / 1e6 nano-USD.  The products of all classes are summed
 * first, in 128 bits where nothing can overflow ((2^63)^2 * 4 < 2^128),
 * and divided once with half-up rounding, so a request is never billed a
 * rounding error per class.  The result saturates at INT64_MAX.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "price.h"
#include "usage.h"

/* $1,000,000 per million tokens: no real price comes near it. */
#define PRICE_MAX_USD	1e6

int
price_from_usd_per_mtok(double usd, int64_t *nusd_per_mtok)
{
	double		 scaled;
	long long	 v;

	if (!isfinite(usd) || usd < 0 || usd > PRICE_MAX_USD)
		return (-1);
	scaled = usd * 1e9;
	v = llround(scaled);
	/*
	 * A double read from JSON is rarely exact ("0.15" is
	 * 0.1499999999999999944...), so allow for that, but refuse a price
	 * finer than a nano-dollar per Mtok: rounding it would change it.
	 */
	if (fabs((double)v - scaled) > 1e-6 * scaled)
		return (-1);
	*nusd_per_mtok = v;
	return (0);
}

int64_t
price_rate(const struct price *p, enum price_class c)
{
	switch (c) {
	case PRICE_INPUT:
	case PRICE_OUTPUT:
		return (p->set[c] ? p->nusd_per_mtok[c] : 0);
	case PRICE_CACHED_INPUT:
	case PRICE_CACHE_WRITE:
		if (p->set[c])
			return (p->nusd_per_mtok[c]);
		return (price_rate(p, PRICE_INPUT));
	case PRICE_NCLASS:
		break;
	}
	return (0);
}

/* tokens * rate, both taken as 0 when negative. */
static unsigned __int128
price_term(int64_t tokens, int64_t rate)
{
	if (tokens <= 0 || rate <= 0)
		return (0);
	return ((unsigned __int128)(uint64_t)tokens * (uint64_t)rate);
}

int64_t
price_cost_nusd(const struct price *p, const struct usage *u)
{
	unsigned __int128	 num, cost;
	int64_t			 cached, cw, uncached;

	cached = u->cached_input > 0 ? u->cached_input : 0;
	cw = u->cache_write > 0 ? u->cache_write : 0;
	uncached = u->input > 0 ? u->input : 0;
	if (cached >= uncached)
		uncached = 0;
	else
		uncached -= cached;
	if (cw >= uncached)
		uncached = 0;
	else
		uncached -= cw;

	num = price_term(uncached, price_rate(p, PRICE_INPUT));
	num += price_term(cached, price_rate(p, PRICE_CACHED_INPUT));
	num += price_term(cw, price_rate(p, PRICE_CACHE_WRITE));
	num += price_term(u->output, price_rate(p, PRICE_OUTPUT));

	cost = (num + 500000) / 1000000;
	if (cost > (unsigned __int128)INT64_MAX)
		return (INT64_MAX);
	return ((int64_t)cost);
}

void
price_format_usd(int64_t nusd, int decimals, char out[32])
{
	char		 buf[32], *p;
	uint64_t	 mag, div = 1, q;
	int		 i, neg;

	if (decimals < 0)
		decimals = 0;
	if (decimals > 9)
		decimals = 9;
	for (i = decimals; i < 9; i++)
		div *= 10;

	/* Round the magnitude half up (away from zero for negatives). */
	neg = nusd < 0;
	mag = neg ? -(uint64_t)nusd : (uint64_t)nusd;
	q = mag / div;
	if (div > 1 && mag % div >= div / 2)
		q++;
	if (q == 0)
		neg = 0;

	/* Digits from the right: at most 1 + 11 + 1 + 9 + NUL bytes. */
	p = buf + sizeof buf;
	*--p = '\0';
	for (i = 0; i < decimals; i++) {
		*--p = '0' + q % 10;
		q /= 10;
	}
	if (decimals > 0)
		*--p = '.';
	do {
		*--p = '0' + q % 10;
		q /= 10;
	} while (q != 0);
	if (neg)
		*--p = '-';
	memcpy(out, p, buf + sizeof buf - p);
}

json_t *
price_usd_json(int64_t nusd)
{
	if (nusd % 1000000000 == 0)
		return (json_integer(nusd / 1000000000));
	return (json_real((double)nusd / 1e9));
}
