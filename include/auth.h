/*
 * App keys: "tg_<id>_<secret>", id 4-32 of [A-Za-z0-9] (public, indexes the
 * key entry), secret >= 32 of [A-Za-z0-9] (>= 128 random bits, never
 * stored).  The budget file stores hmac = hex(HMAC-SHA256(pepper, secret)).
 * Pure logic but for auth_key_new(), which reads the OpenSSL RNG.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct cfg_key;

enum auth_result {
	AUTH_OK = 0,
	AUTH_MISSING,		/* no key header */
	AUTH_MALFORMED,		/* not tg_<id>_<secret>, or two headers */
	AUTH_UNKNOWN,		/* no such id, or the secret does not match */
	AUTH_EXPIRED
};

/*
 * Pick the key out of the request's header values (either may be NULL):
 * "Authorization: Bearer <key>" or "x-api-key: <key>".  When both are given
 * they must be equal.  On success points *key and *keylen into one of them,
 * otherwise sets them to NULL and 0.
 */
enum auth_result auth_extract(const char *authorization, const char *x_api_key,
		    const char **key, size_t *keylen);

/*
 * Check a key against the generation: parse, look up the id, compare
 * HMAC-SHA256(pepper, secret) in constant time, check expiry against now_ms.
 * On AUTH_OK sets *entry (borrowed from cfg).
 */
enum auth_result auth_check(const struct cfg *, const unsigned char *pepper,
		    size_t pepperlen, const char *key, size_t keylen,
		    int64_t now_ms, const struct cfg_key **entry);

/* Parse "tg_<id>_<secret>"; returns -1 when malformed. */
int	 auth_parse(const char *key, size_t keylen, const char **id,
	    size_t *idlen, const char **secret, size_t *secretlen);

/* hex(HMAC-SHA256(pepper, secret)) into out (65 bytes). */
void	 auth_hmac_hex(const unsigned char *pepper, size_t pepperlen,
	    const char *secret, size_t secretlen, char out[65]);

/*
 * Make a new key: 8-character id, 43-character secret (256 bits drawn from
 * the OpenSSL RNG, base62).  Fills key (newly allocated, caller wipes and
 * frees), id (newly allocated) and the hmac hex.  Returns -1 when the RNG
 * fails.
 */
int	 auth_key_new(const unsigned char *pepper, size_t pepperlen,
	    char **key, char **id, char hmac[65]);

#endif
