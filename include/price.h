/*
 * Pricing in integer arithmetic.  Prices are held as nano-USD per million
 * tokens (so $0.15/Mtok is 150000000); a request's cost is computed in
 * nano-USD from its token classes, each token priced once at its class's
 * rate.  No floating point touches a cost: the only double is the one
 * jansson hands over when models.json is read, converted once by
 * price_from_usd_per_mtok().
 */
#ifndef PRICE_H
#define PRICE_H

#include <stdint.h>

struct usage;

enum price_class {
	PRICE_INPUT = 0,	/* uncached input */
	PRICE_CACHED_INPUT,	/* input read from cache ("cached_input",
				   "cache_read") */
	PRICE_CACHE_WRITE,	/* input written to cache */
	PRICE_OUTPUT,		/* output, reasoning included */
	PRICE_NCLASS
};

struct price {
	int64_t	nusd_per_mtok[PRICE_NCLASS];
	int	set[PRICE_NCLASS];	/* given in models.json */
};

/*
 * Convert a USD-per-million-tokens number as read from JSON into nano-USD
 * per million tokens.  Returns -1 if negative, not finite, above
 * $1,000,000/Mtok or finer than 1e-9 USD/Mtok can say.
 */
int	 price_from_usd_per_mtok(double usd, int64_t *nusd_per_mtok);

/*
 * Rate actually used for a class: an unset cached_input or cache_write rate
 * falls back to the input rate (never to zero); an unset output rate is 0
 * only for models that have no output (embeddings).
 */
int64_t	 price_rate(const struct price *, enum price_class);

/*
 * Cost of a request in nano-USD, rounded half up once over the sum of all
 * classes.  Uncached input is input - cached - cache_write (clamped at 0).
 * Saturates at INT64_MAX instead of overflowing.
 */
int64_t	 price_cost_nusd(const struct price *, const struct usage *);

/*
 * Format nano-USD as a decimal USD string with the given number of decimals
 * (rounded half up), e.g. 1234567 with 6 -> "0.001235".  out needs 32 bytes.
 */
void	 price_format_usd(int64_t nusd, int decimals, char out[32]);

/*
 * USD as a JSON number (new reference): an integer when whole ("limit":
 * 100), else a real (12.5).  For error bodies and admin views only; stored
 * costs stay integers.
 */
struct json_t;
struct json_t	*price_usd_json(int64_t nusd);

#endif
