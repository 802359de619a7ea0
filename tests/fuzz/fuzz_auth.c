/*
 * Fuzz target: app key extraction, parsing and checking (src/auth.c).
 *
 * Input: byte 0 says which headers are present (bit 0 Authorization,
 * bit 1 x-api-key) and the clock (bit 2: before the test key's expiry),
 * the rest is the Authorization value, a NUL, the x-api-key value (header
 * values are C strings).  The extracted key, or the Authorization value
 * when extraction fails, goes through auth_parse() and auth_check()
 * against a generation built here with two keys, one of them expired.
 *
 * Invariants: an extracted key lies inside a header value, has no
 * whitespace or control byte, and is the same token in both headers when
 * both are there; auth_parse() accepts exactly
 * tg_[A-Za-z0-9]{4,32}_[A-Za-z0-9]{32,} of at most 256 bytes (checked by
 * an independent reading) and returns the parts of it; auth_check()
 * admits only the exact bytes of a configured key, says expired only for
 * the expired key past its day, and malformed exactly when the key does
 * not parse.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cfg.h"
#include "fuzz.h"

#define PEPPER		"fuzz-pepper"
#define GOOD_KEY	"tg_goodkey1_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
#define EXPIRED_KEY	"tg_expired1_ExpiredSecret0123456789abcdefghijklmn"
#define EXPIRES_MS	INT64_C(1580515200000)	/* 2020-02-01T00:00Z */

static struct cfg	 cfg;
static struct cfg_key	 keys[2];
static struct cfg_key	*keyp[2];

static int
nibble(char c)
{
	return (c >= 'a' ? c - 'a' + 10 : c - '0');
}

/* A key entry for key (well-formed) as a budget file would give it. */
static void
make_key(struct cfg_key *k, const char *key, int64_t expires_ms)
{
	const char	*id, *secret;
	size_t		 idlen, secretlen, i;
	char		 hex[65];

	FUZZ_ASSERT(auth_parse(key, strlen(key), &id, &idlen, &secret,
	    &secretlen) == 0);
	k->id = strndup(id, idlen);
	FUZZ_ASSERT(k->id != NULL);
	auth_hmac_hex((const unsigned char *)PEPPER, strlen(PEPPER), secret,
	    secretlen, hex);
	for (i = 0; i < 32; i++)
		k->hmac[i] = (unsigned char)(nibble(hex[2 * i]) << 4 |
		    nibble(hex[2 * i + 1]));
	k->expires_ms = expires_ms;
}

static void
setup(void)
{
	/* Sorted by id, as cfg_load() leaves them. */
	make_key(&keys[0], EXPIRED_KEY, EXPIRES_MS);
	make_key(&keys[1], GOOD_KEY, 0);
	keyp[0] = &keys[0];
	keyp[1] = &keys[1];
	cfg.keys = keyp;
	cfg.nkeys = 2;
}

static int
alnum(char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z'));
}

/* tg_<4-32 alnum>_<32+ alnum>, at most 256 bytes, read another way. */
static int
well_formed(const char *k, size_t len)
{
	const char	*us;
	size_t		 i, idlen;

	if (len > 256 || len < 3 || memcmp(k, "tg_", 3) != 0)
		return (0);
	if ((us = memchr(k + 3, '_', len - 3)) == NULL)
		return (0);
	idlen = (size_t)(us - (k + 3));
	if (idlen < 4 || idlen > 32 || len - idlen - 4 < 32)
		return (0);
	for (i = 3; i < len; i++) {
		if (i != 3 + idlen && !alnum(k[i]))
			return (0);
	}
	return (1);
}

/* Does p[0..len) lie inside the C string s? */
static int
inside(const char *p, size_t len, const char *s)
{
	return (s != NULL && p >= s && p + len <= s + strlen(s));
}

static void
check_extract(const char *a, const char *x, const char **key,
    size_t *keylen)
{
	enum auth_result	 r, r2;
	const char		*k2;
	size_t			 i, k2len;

	r = auth_extract(a, x, key, keylen);
	if (a == NULL && x == NULL)
		FUZZ_ASSERT(r == AUTH_MISSING);
	else
		FUZZ_ASSERT(r == AUTH_OK || r == AUTH_MALFORMED);
	if (r != AUTH_OK) {
		FUZZ_ASSERT(*key == NULL && *keylen == 0);
		return;
	}
	FUZZ_ASSERT(*keylen >= 1 && *keylen <= 256);
	FUZZ_ASSERT(inside(*key, *keylen, a) || inside(*key, *keylen, x));
	for (i = 0; i < *keylen; i++)
		FUZZ_ASSERT((unsigned char)(*key)[i] > ' ' &&
		    (unsigned char)(*key)[i] != 0x7f);
	if (a != NULL && x != NULL) {
		/* Each header alone gives the same token. */
		r2 = auth_extract(NULL, x, &k2, &k2len);
		FUZZ_ASSERT(r2 == AUTH_OK && k2len == *keylen &&
		    memcmp(k2, *key, k2len) == 0);
		r2 = auth_extract(a, NULL, &k2, &k2len);
		FUZZ_ASSERT(r2 == AUTH_OK && k2len == *keylen &&
		    memcmp(k2, *key, k2len) == 0);
	}
}

static void
check_key(const char *key, size_t keylen, int64_t now_ms)
{
	const struct cfg_key	*entry;
	enum auth_result	 r;
	const char		*id, *secret;
	size_t			 idlen, secretlen;
	int			 wf, good, expired;

	wf = well_formed(key, keylen);
	if (auth_parse(key, keylen, &id, &idlen, &secret, &secretlen) == 0) {
		FUZZ_ASSERT(wf);
		FUZZ_ASSERT(id == key + 3 && idlen >= 4 && idlen <= 32);
		FUZZ_ASSERT(secret == key + 4 + idlen);
		FUZZ_ASSERT(secretlen == keylen - 4 - idlen);
	} else
		FUZZ_ASSERT(!wf);

	good = keylen == strlen(GOOD_KEY) && memcmp(key, GOOD_KEY,
	    keylen) == 0;
	expired = keylen == strlen(EXPIRED_KEY) && memcmp(key, EXPIRED_KEY,
	    keylen) == 0;
	r = auth_check(&cfg, (const unsigned char *)PEPPER, strlen(PEPPER),
	    key, keylen, now_ms, &entry);
	FUZZ_ASSERT((r == AUTH_OK) == (entry != NULL));
	if (keylen == 0)
		FUZZ_ASSERT(r == AUTH_MISSING);
	else if (!wf)
		FUZZ_ASSERT(r == AUTH_MALFORMED);
	else if (good)
		FUZZ_ASSERT(r == AUTH_OK && entry == &keys[1]);
	else if (expired)
		FUZZ_ASSERT(now_ms >= EXPIRES_MS ? r == AUTH_EXPIRED :
		    r == AUTH_OK && entry == &keys[0]);
	else
		FUZZ_ASSERT(r == AUTH_UNKNOWN);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 ready;
	const char	*a = NULL, *x = NULL, *key;
	char		*buf, *nul;
	size_t		 len, keylen;
	int64_t		 now_ms;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return (0);
	now_ms = data[0] & 4 ? EXPIRES_MS - 1 : EXPIRES_MS;

	/* Two C strings: the bytes, NUL-terminated, cut at the first NUL. */
	len = size - 1;
	buf = malloc(len + 2);
	FUZZ_ASSERT(buf != NULL);
	memcpy(buf, data + 1, len);
	buf[len] = buf[len + 1] = '\0';
	nul = buf + strlen(buf);
	if (data[0] & 1)
		a = buf;
	if (data[0] & 2)
		x = nul < buf + len ? nul + 1 : nul;

	check_extract(a, x, &key, &keylen);
	if (key == NULL) {
		/* Parse and check the raw value all the same. */
		key = buf;
		keylen = strlen(buf);
	}
	check_key(key, keylen, now_ms);
	free(buf);
	return (0);
}
