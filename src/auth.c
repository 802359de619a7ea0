/*
 * App keys.
 *
 * A key is "tg_<id>_<secret>".  The id is public: it indexes the key entry
 * in the budget files and may be logged.  The secret never leaves the
 * client: the budget file holds hex(HMAC-SHA256(pepper, secret)), where the
 * pepper is the value of the environment variable named by key_pepper_env.
 * A leaked budget file therefore reveals no usable key, and a leaked pepper
 * alone reveals none either.
 *
 * Every failure is one of four reasons so that callers can count them, but
 * the client only ever learns "401".  The HMAC comparison is constant-time.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "auth.h"
#include "cfg.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define AUTH_PREFIX		"tg_"
#define AUTH_PREFIX_LEN		3
#define AUTH_ID_MIN		4
#define AUTH_ID_MAX		32
#define AUTH_SECRET_MIN		32
#define AUTH_KEY_MAX		256
#define AUTH_NEW_ID_LEN		8
#define AUTH_NEW_SECRET_LEN	43	/* 43 * log2(62) > 256 bits */

static const char auth_base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int
auth_isalnum(char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z'));
}

static int
auth_isspace(char c)
{
	return (c == ' ' || c == '\t');
}

/* Trim SP/HTAB around s[0..len); refuse empty or inner whitespace. */
static int
auth_token(const char *s, size_t len, const char **tok, size_t *toklen)
{
	size_t	i;

	while (len > 0 && auth_isspace(*s)) {
		s++;
		len--;
	}
	while (len > 0 && auth_isspace(s[len - 1]))
		len--;
	if (len == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] == 0x7f)
			return (-1);
	}
	*tok = s;
	*toklen = len;
	return (0);
}

enum auth_result
auth_extract(const char *authorization, const char *x_api_key,
    const char **key, size_t *keylen)
{
	const char	*a = NULL, *x = NULL, *s;
	size_t		 alen = 0, xlen = 0, len;

	*key = NULL;
	*keylen = 0;
	if (authorization == NULL && x_api_key == NULL)
		return (AUTH_MISSING);

	if (authorization != NULL) {
		s = authorization;
		len = strlen(s);
		while (len > 0 && auth_isspace(*s)) {
			s++;
			len--;
		}
		if (len < 7 || strncasecmp(s, "Bearer", 6) != 0 ||
		    !auth_isspace(s[6]))
			return (AUTH_MALFORMED);
		if (auth_token(s + 7, len - 7, &a, &alen) == -1)
			return (AUTH_MALFORMED);
	}
	if (x_api_key != NULL &&
	    auth_token(x_api_key, strlen(x_api_key), &x, &xlen) == -1)
		return (AUTH_MALFORMED);

	if (a != NULL && x != NULL) {
		if (alen != xlen || memcmp(a, x, alen) != 0)
			return (AUTH_MALFORMED);
	}
	if (a == NULL) {
		a = x;
		alen = xlen;
	}
	if (alen > AUTH_KEY_MAX)
		return (AUTH_MALFORMED);
	*key = a;
	*keylen = alen;
	return (AUTH_OK);
}

int
auth_parse(const char *key, size_t keylen, const char **id, size_t *idlen,
    const char **secret, size_t *secretlen)
{
	size_t	i, n;

	if (keylen > AUTH_KEY_MAX || keylen < AUTH_PREFIX_LEN ||
	    memcmp(key, AUTH_PREFIX, AUTH_PREFIX_LEN) != 0)
		return (-1);
	for (i = AUTH_PREFIX_LEN; i < keylen && auth_isalnum(key[i]); i++)
		;
	n = i - AUTH_PREFIX_LEN;
	if (i == keylen || key[i] != '_' || n < AUTH_ID_MIN ||
	    n > AUTH_ID_MAX)
		return (-1);
	*id = key + AUTH_PREFIX_LEN;
	*idlen = n;
	for (i++, n = 0; i < keylen; i++, n++) {
		if (!auth_isalnum(key[i]))
			return (-1);
	}
	if (n < AUTH_SECRET_MIN)
		return (-1);
	*secret = key + keylen - n;
	*secretlen = n;
	return (0);
}

/*
 * A thread's HMAC-SHA256 keyed with the pepper.  HMAC() looks the
 * algorithm up by name and hashes the key into its inner and outer pads
 * on every call; the pepper never changes, so each thread keeps a context
 * with the key set and starts each MAC from it.  The context and the copy
 * of the pepper it is checked against are wiped when the thread ends.
 */
struct auth_mac {
	EVP_MAC_CTX	*ctx;
	unsigned char	*pepper;
	size_t		 pepperlen;
};

static EVP_MAC		*auth_hmac_alg;		/* fetched once */
static pthread_key_t	 auth_mac_key;
static pthread_once_t	 auth_mac_once = PTHREAD_ONCE_INIT;
static __thread struct auth_mac	*auth_mac_tls;

static void
auth_mac_free(void *arg)
{
	struct auth_mac	*m = arg;

	if (m == NULL)
		return;
	EVP_MAC_CTX_free(m->ctx);		/* wipes the key */
	if (m->pepper != NULL) {
		OPENSSL_cleanse(m->pepper, m->pepperlen);
		free(m->pepper);
	}
	free(m);
}

static void
auth_mac_init(void)
{
	auth_hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (pthread_key_create(&auth_mac_key, auth_mac_free) != 0)
		fatalx("auth: pthread_key_create failed");
}

/* This thread's context for pepper (pepperlen > 0), or NULL. */
static struct auth_mac *
auth_mac_get(const unsigned char *pepper, size_t pepperlen)
{
	struct auth_mac	*m = auth_mac_tls;
	OSSL_PARAM	 params[2];

	if (m != NULL && m->pepperlen == pepperlen &&
	    CRYPTO_memcmp(m->pepper, pepper, pepperlen) == 0)
		return (m);
	(void)pthread_once(&auth_mac_once, auth_mac_init);
	if (auth_hmac_alg == NULL)
		return (NULL);
	auth_mac_free(m);
	auth_mac_tls = NULL;
	(void)pthread_setspecific(auth_mac_key, NULL);

	m = xcalloc(1, sizeof *m);
	m->pepper = xmalloc(pepperlen);
	memcpy(m->pepper, pepper, pepperlen);
	m->pepperlen = pepperlen;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((m->ctx = EVP_MAC_CTX_new(auth_hmac_alg)) == NULL ||
	    !EVP_MAC_init(m->ctx, pepper, pepperlen, params)) {
		auth_mac_free(m);
		return (NULL);
	}
	auth_mac_tls = m;
	(void)pthread_setspecific(auth_mac_key, m);
	return (m);
}

/* HMAC-SHA256(pepper, secret) into md. */
static void
auth_hmac(const unsigned char *pepper, size_t pepperlen, const char *secret,
    size_t secretlen, unsigned char md[32])
{
	static const unsigned char	 empty[1];
	struct auth_mac			*m = NULL;
	unsigned int			 mdlen = 32;
	size_t				 len = 0;
	int				 done;

	if (pepper == NULL || pepperlen == 0) {
		pepper = empty;
		pepperlen = 0;
	} else
		m = auth_mac_get(pepper, pepperlen);
	if (m != NULL) {
		/* A NULL key starts over from the key already set. */
		done = EVP_MAC_init(m->ctx, NULL, 0, NULL) &&
		    EVP_MAC_update(m->ctx, (const unsigned char *)secret,
		    secretlen) && EVP_MAC_final(m->ctx, md, &len, 32) &&
		    len == 32;
	} else
		done = HMAC(EVP_sha256(), pepper, (int)pepperlen,
		    (const unsigned char *)secret, secretlen, md,
		    &mdlen) != NULL && mdlen == 32;
	if (done)
		return;
	/* Cannot happen with SHA-256; never let it match. */
	memset(md, 0, 32);
	md[0] = 1;
	md[31] = 2;
}

void
auth_hmac_hex(const unsigned char *pepper, size_t pepperlen,
    const char *secret, size_t secretlen, char out[65])
{
	unsigned char	md[32];

	auth_hmac(pepper, pepperlen, secret, secretlen, md);
	util_hex(md, sizeof md, out);
	OPENSSL_cleanse(md, sizeof md);
}

enum auth_result
auth_check(const struct cfg *cfg, const unsigned char *pepper,
    size_t pepperlen, const char *key, size_t keylen, int64_t now_ms,
    const struct cfg_key **entry)
{
	const struct cfg_key	*k;
	const char		*id, *secret;
	size_t			 idlen, secretlen;
	unsigned char		 md[32];
	int			 match;

	*entry = NULL;
	if (key == NULL || keylen == 0)
		return (AUTH_MISSING);
	if (auth_parse(key, keylen, &id, &idlen, &secret, &secretlen) == -1)
		return (AUTH_MALFORMED);
	k = cfg_find_key(cfg, id, idlen);

	/* Compute the HMAC whether or not the id exists: same work. */
	auth_hmac(pepper, pepperlen, secret, secretlen, md);
	match = k != NULL && CRYPTO_memcmp(md, k->hmac, sizeof md) == 0;
	OPENSSL_cleanse(md, sizeof md);
	if (!match)
		return (AUTH_UNKNOWN);
	if (k->expires_ms != 0 && now_ms >= k->expires_ms)
		return (AUTH_EXPIRED);
	*entry = k;
	return (AUTH_OK);
}

/*
 * Fill out[0..len) with uniform base62 characters.  A random byte is used
 * only when below 248 (= 4 * 62), so that "% 62" has no bias.
 */
static int
auth_random_base62(char *out, size_t len)
{
	unsigned char	buf[64];
	size_t		n = 0, i;

	while (n < len) {
		if (RAND_bytes(buf, sizeof buf) != 1) {
			OPENSSL_cleanse(buf, sizeof buf);
			return (-1);
		}
		for (i = 0; i < sizeof buf && n < len; i++) {
			if (buf[i] < 248)
				out[n++] = auth_base62[buf[i] % 62];
		}
	}
	OPENSSL_cleanse(buf, sizeof buf);
	return (0);
}

int
auth_key_new(const unsigned char *pepper, size_t pepperlen, char **key,
    char **id, char hmac[65])
{
	char	idbuf[AUTH_NEW_ID_LEN + 1];
	char	secret[AUTH_NEW_SECRET_LEN + 1];
	int	rv = -1;

	*key = NULL;
	*id = NULL;
	if (auth_random_base62(idbuf, AUTH_NEW_ID_LEN) == -1 ||
	    auth_random_base62(secret, AUTH_NEW_SECRET_LEN) == -1)
		goto out;
	idbuf[AUTH_NEW_ID_LEN] = '\0';
	secret[AUTH_NEW_SECRET_LEN] = '\0';
	auth_hmac_hex(pepper, pepperlen, secret, AUTH_NEW_SECRET_LEN, hmac);
	xasprintf(key, "%s%s_%s", AUTH_PREFIX, idbuf, secret);
	*id = xstrdup(idbuf);
	rv = 0;
out:
	OPENSSL_cleanse(secret, sizeof secret);
	return (rv);
}
