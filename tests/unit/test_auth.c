/* auth: key extraction, parsing, HMAC, lookup, expiry, key generation. */
#include "config.h"

#include <sys/stat.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "cfg.h"
#include "tap.h"
#include "util.h"
#include "xmalloc.h"

#define PEPPER		"test-pepper"
#define GOOD_SECRET	"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
#define GOOD_KEY	"tg_goodkey1_" GOOD_SECRET
#define EXPIRED_KEY	"tg_expired1_ExpiredSecret0123456789abcdefghijklmn"
#define FUTURE_KEY	"tg_future1_FutureSecret0123456789abcdefghijklmnop"

#define LONG_SECRET	"0123456789012345678901234567890123456789" \
			"0123456789012345678901234567890123456789"

static const struct {
	const char		*name;
	const char		*authorization;
	const char		*x_api_key;
	enum auth_result	 want;
	const char		*key;	/* on AUTH_OK */
} extract[] = {
	{ "nothing", NULL, NULL, AUTH_MISSING, NULL },
	{ "bearer", "Bearer tg_a", NULL, AUTH_OK, "tg_a" },
	{ "scheme any case", "bEaReR tg_a", NULL, AUTH_OK, "tg_a" },
	{ "spaces around", "  Bearer   tg_a \t", NULL, AUTH_OK, "tg_a" },
	{ "tab after scheme", "Bearer\ttg_a", NULL, AUTH_OK, "tg_a" },
	{ "x-api-key", NULL, "tg_b", AUTH_OK, "tg_b" },
	{ "x-api-key trimmed", NULL, " tg_b ", AUTH_OK, "tg_b" },
	{ "both equal", "Bearer tg_c", "tg_c", AUTH_OK, "tg_c" },
	{ "both equal after trim", "Bearer tg_c ", " tg_c", AUTH_OK, "tg_c" },
	{ "both different", "Bearer tg_c", "tg_d", AUTH_MALFORMED, NULL },
	{ "basic scheme", "Basic dXNlcjpwYXNz", NULL, AUTH_MALFORMED, NULL },
	{ "scheme only", "Bearer", NULL, AUTH_MALFORMED, NULL },
	{ "scheme and spaces", "Bearer   ", NULL, AUTH_MALFORMED, NULL },
	{ "no space after scheme", "Bearertg_a", NULL, AUTH_MALFORMED, NULL },
	{ "two tokens", "Bearer tg_a tg_b", NULL, AUTH_MALFORMED, NULL },
	{ "empty authorization", "", NULL, AUTH_MALFORMED, NULL },
	{ "empty x-api-key", NULL, "", AUTH_MALFORMED, NULL },
	{ "space in x-api-key", NULL, "tg_a b", AUTH_MALFORMED, NULL },
	{ "bad bearer, good x-api-key", "Token x", "tg_a", AUTH_MALFORMED,
	    NULL },
	{ "overlong", NULL, "tg_abcd_" LONG_SECRET LONG_SECRET LONG_SECRET
	    LONG_SECRET, AUTH_MALFORMED, NULL },
};

static const struct {
	const char	*name;
	const char	*key;
	int		 ok;
	const char	*id;
	const char	*secret;
} parse[] = {
	{ "good", GOOD_KEY, 1, "goodkey1", GOOD_SECRET },
	{ "4-char id", "tg_abcd_" GOOD_SECRET, 1, "abcd", GOOD_SECRET },
	{ "32-char id", "tg_abcdefghijklmnopqrstuvwxyz012345_" GOOD_SECRET, 1,
	    "abcdefghijklmnopqrstuvwxyz012345", GOOD_SECRET },
	{ "32-char secret", "tg_abcd_0123456789abcdefghijABCDEFGHIJ01", 1,
	    "abcd", "0123456789abcdefghijABCDEFGHIJ01" },
	{ "3-char id", "tg_abc_" GOOD_SECRET, 0, NULL, NULL },
	{ "33-char id", "tg_abcdefghijklmnopqrstuvwxyz0123456_" GOOD_SECRET,
	    0, NULL, NULL },
	{ "31-char secret", "tg_abcd_0123456789abcdefghijABCDEFGHIJ0", 0,
	    NULL, NULL },
	{ "wrong prefix", "sk_goodkey1_" GOOD_SECRET, 0, NULL, NULL },
	{ "prefix case", "TG_goodkey1_" GOOD_SECRET, 0, NULL, NULL },
	{ "no secret", "tg_goodkey1", 0, NULL, NULL },
	{ "empty secret", "tg_goodkey1_", 0, NULL, NULL },
	{ "dash in id", "tg_good-key_" GOOD_SECRET, 0, NULL, NULL },
	{ "underscore in secret", "tg_goodkey1_AbCdEfGhIjKlMnOp_rStUvWxYz0123"
	    "456789", 0, NULL, NULL },
	{ "non-ascii secret", "tg_goodkey1_AbCdEfGhIjKlMnOpQrStUvWxYz012345678"
	    "\xc3\xa9", 0, NULL, NULL },
	{ "empty", "", 0, NULL, NULL },
	{ "prefix only", "tg_", 0, NULL, NULL },
	{ "256-char key", "tg_abcd_" LONG_SECRET LONG_SECRET LONG_SECRET
	    "01234567", 1, "abcd", NULL },
	{ "257-char key", "tg_abcd_" LONG_SECRET LONG_SECRET LONG_SECRET
	    "012345678", 0, NULL, NULL },
};

static const struct {
	const char		*name;
	const char		*key;
	const char		*pepper;
	int64_t			 now_ms;
	enum auth_result	 want;
	const char		*app;
} check[] = {
	{ "good key", GOOD_KEY, PEPPER, 1700000000000LL, AUTH_OK, "prod" },
	{ "wrong pepper", GOOD_KEY, "other-pepper", 1700000000000LL,
	    AUTH_UNKNOWN, NULL },
	{ "empty pepper", GOOD_KEY, "", 1700000000000LL, AUTH_UNKNOWN, NULL },
	{ "wrong secret", "tg_goodkey1_AbCdEfGhIjKlMnOpQrStUvWxYz0123456788",
	    PEPPER, 1700000000000LL, AUTH_UNKNOWN, NULL },
	{ "unknown id", "tg_nokey1_" GOOD_SECRET, PEPPER, 1700000000000LL,
	    AUTH_UNKNOWN, NULL },
	{ "id prefix of a real id", "tg_goodkey_" GOOD_SECRET, PEPPER,
	    1700000000000LL, AUTH_UNKNOWN, NULL },
	{ "id case matters", "tg_GOODKEY1_" GOOD_SECRET, PEPPER,
	    1700000000000LL, AUTH_UNKNOWN, NULL },
	{ "malformed", "tg_goodkey1_short", PEPPER, 1700000000000LL,
	    AUTH_MALFORMED, NULL },
	{ "empty", "", PEPPER, 1700000000000LL, AUTH_MISSING, NULL },
	/* expires 2020-01-31: valid through that day, 2020-02-01 is not */
	{ "expired key, day before", EXPIRED_KEY, PEPPER, 1580428800000LL,
	    AUTH_OK, "piloted" },
	{ "expired key, last ms", EXPIRED_KEY, PEPPER, 1580515199999LL,
	    AUTH_OK, "piloted" },
	{ "expired key, first ms after", EXPIRED_KEY, PEPPER,
	    1580515200000LL, AUTH_EXPIRED, NULL },
	{ "expired key, later", EXPIRED_KEY, PEPPER, 1700000000000LL,
	    AUTH_EXPIRED, NULL },
	{ "expired key, wrong secret", "tg_expired1_" GOOD_SECRET, PEPPER,
	    1700000000000LL, AUTH_UNKNOWN, NULL },
	{ "future expiry", FUTURE_KEY, PEPPER, 1700000000000LL, AUTH_OK,
	    "piloted" },
};

/* hex(HMAC-SHA256(pepper, secret)) the one-shot way: the reference. */
static void
ref_hmac_hex(const char *pepper, size_t plen, const char *secret,
    size_t slen, char out[65])
{
	unsigned char	md[32];
	unsigned int	mdlen = sizeof md;

	HMAC(EVP_sha256(), pepper, (int)plen, (const unsigned char *)secret,
	    slen, md, &mdlen);
	util_hex(md, sizeof md, out);
}

/*
 * The MAC each thread keeps keyed with the pepper: the same answer as a
 * one-shot HMAC for secrets of every length around SHA-256's 64-byte
 * block, peppers changing between calls (and back), and peppers longer
 * than a block (hashed first).  Returns how many answers differed.
 */
static int
hmac_rounds(unsigned int seed)
{
	static const char *const peppers[] = {
		PEPPER, "other-pepper", "x",
		"a pepper longer than the sixty-four bytes of a SHA-256 block, "
		"which HMAC hashes first"
	};
	char		 secret[200], got[65], want[65];
	size_t		 i, p, slen;
	int		 bad = 0;

	for (i = 0; i < sizeof secret; i++)
		secret[i] = (char)('A' + (i * 7 + seed) % 26);
	for (i = 0; i < 400; i++) {
		p = (i / 3 + seed) % nitems(peppers);
		slen = (i * 13 + seed) % sizeof secret;
		auth_hmac_hex((const unsigned char *)peppers[p],
		    strlen(peppers[p]), secret, slen, got);
		ref_hmac_hex(peppers[p], strlen(peppers[p]), secret, slen,
		    want);
		if (strcmp(got, want) != 0)
			bad++;
	}
	return (bad);
}

struct hmac_run {
	pthread_t	 t;
	unsigned int	 seed;
	int		 bad;
};

static void *
hmac_thread(void *arg)
{
	struct hmac_run	*r = arg;

	r->bad = hmac_rounds(r->seed);
	return (NULL);
}

static void
test_hmac_kept(void)
{
	struct hmac_run	r[4];
	int		i, all = 0;

	is_int(hmac_rounds(0), 0, "hmac: kept context agrees with one-shot "
	    "HMAC, peppers changing");
	for (i = 0; i < 4; i++) {
		r[i].seed = (unsigned int)i + 1;
		pthread_create(&r[i].t, NULL, hmac_thread, &r[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(r[i].t, NULL);
		all += r[i].bad;
	}
	is_int(all, 0, "hmac: four threads, each its own context");
	is_int(hmac_rounds(5), 0, "hmac: and this thread's again");
}

static struct cfg *
load(void)
{
	const char	*top;
	char		*path, **errors;
	size_t		 nerrors, i;
	struct cfg	*cfg;

	if ((top = getenv("top_srcdir")) == NULL)
		top = ".";
	xasprintf(&path, "%s/tests/fixtures/cfg/basic/tollgate.json", top);
	cfg = cfg_load(path, &errors, &nerrors);
	for (i = 0; i < nerrors; i++)
		printf("# %s\n", errors[i]);
	cfg_errors_free(errors, nerrors);
	free(path);
	return (cfg);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char	*path;
	FILE	*f;

	xasprintf(&path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	free(path);
}

/* A config in a temporary directory whose one app has key id/hmac. */
static struct cfg *
load_with_key(const char *id, const char *hmac)
{
	struct cfg	*cfg;
	char		 dir[] = "/tmp/test_auth.XXXXXX", *path, *budget;
	char		**errors;
	size_t		 nerrors, i;
	static const char *const files[] = {
		"tollgate.json", "models.json", "b/team.json", "b"
	};

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	write_file(dir, "tollgate.json", "{\"listen\": \"127.0.0.1:1\", "
	    "\"providers\": {\"p\": {\"api\": \"openai\", \"base_url\": "
	    "\"http://127.0.0.1:2\", \"key_env\": \"P_KEY\"}}, \"models\": "
	    "\"models.json\", \"budgets\": \"b\", \"ledger\": {\"path\": "
	    "\"l.db\"}}");
	write_file(dir, "models.json", "{\"version\": \"1\", \"models\": "
	    "{\"m\": {\"provider\": \"p\", \"usd_per_mtok\": "
	    "{\"input\": 1}}}}");
	xasprintf(&budget, "{\"team\": \"gen\", \"apps\": {\"gen-app\": "
	    "{\"keys\": [{\"id\": \"%s\", \"hmac\": \"%s\"}]}}}", id, hmac);
	xasprintf(&path, "%s/b", dir);
	mkdir(path, 0700);
	free(path);
	write_file(dir, "b/team.json", budget);
	free(budget);
	xasprintf(&path, "%s/tollgate.json", dir);
	cfg = cfg_load(path, &errors, &nerrors);
	for (i = 0; i < nerrors; i++)
		printf("# %s\n", errors[i]);
	cfg_errors_free(errors, nerrors);
	free(path);

	for (i = 0; i < nitems(files); i++) {
		xasprintf(&path, "%s/%s", dir, files[i]);
		if (files[i][0] == 'b' && files[i][1] == '\0')
			rmdir(path);
		else
			unlink(path);
		free(path);
	}
	rmdir(dir);
	return (cfg);
}

int
main(void)
{
	const struct cfg_key	*entry;
	struct cfg		*cfg, *cfg2;
	const char		*key, *id, *secret;
	char			 hex[65], hmac[65], *nkey, *nid;
	size_t			 keylen, idlen, secretlen, i;
	enum auth_result	 r;
	int			 rv, good;

	for (i = 0; i < nitems(extract); i++) {
		r = auth_extract(extract[i].authorization, extract[i].x_api_key,
		    &key, &keylen);
		is_int(r, extract[i].want, "extract: %s", extract[i].name);
		if (extract[i].want == AUTH_OK)
			ok(keylen == strlen(extract[i].key) &&
			    memcmp(key, extract[i].key, keylen) == 0,
			    "extract: %s: key", extract[i].name);
		else
			ok(key == NULL && keylen == 0, "extract: %s: no key",
			    extract[i].name);
	}

	for (i = 0; i < nitems(parse); i++) {
		rv = auth_parse(parse[i].key, strlen(parse[i].key), &id, &idlen,
		    &secret, &secretlen);
		is_int(rv, parse[i].ok ? 0 : -1, "parse: %s", parse[i].name);
		if (rv == 0 && parse[i].id != NULL)
			ok(idlen == strlen(parse[i].id) &&
			    memcmp(id, parse[i].id, idlen) == 0,
			    "parse: %s: id", parse[i].name);
		if (rv == 0 && parse[i].secret != NULL)
			ok(secretlen == strlen(parse[i].secret) &&
			    memcmp(secret, parse[i].secret, secretlen) == 0,
			    "parse: %s: secret", parse[i].name);
	}
	/* The key is not NUL-terminated where the header value goes on. */
	rv = auth_parse(GOOD_KEY "XYZ", strlen(GOOD_KEY), &id, &idlen, &secret,
	    &secretlen);
	ok(rv == 0 && secretlen == strlen(GOOD_SECRET), "parse: bounded by "
	    "keylen");

	/* RFC 4231 test case 2, and openssl dgst -sha256 -hmac. */
	auth_hmac_hex((const unsigned char *)"Jefe", 4,
	    "what do ya want for nothing?", 28, hex);
	is_str(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b"
	    "964ec3843", "hmac: RFC 4231 case 2");
	auth_hmac_hex((const unsigned char *)PEPPER, strlen(PEPPER),
	    GOOD_SECRET, strlen(GOOD_SECRET), hex);
	is_str(hex, "263e055705de9f646ac435d8b7a1b78b7139216b6c979ff5578ac40"
	    "9e9dbb9df", "hmac: openssl dgst vector");
	auth_hmac_hex((const unsigned char *)"tollgate-quickstart-demo-pepper",
	    31, "DemoSecretForTheQuickstartOnly0123456789abcd", 44, hex);
	is_str(hex, "c6ce8e570d6e5e3ea67f98cb57d387ae626d94bf30610bbcd82d023"
	    "210243bd4", "hmac: documented quick-start key");
	test_hmac_kept();

	if ((cfg = load()) == NULL) {
		ok(0, "fixture config loads");
		return (tap_done());
	}
	for (i = 0; i < nitems(check); i++) {
		entry = (const struct cfg_key *)1;
		r = auth_check(cfg, (const unsigned char *)check[i].pepper,
		    strlen(check[i].pepper), check[i].key,
		    strlen(check[i].key), check[i].now_ms, &entry);
		is_int(r, check[i].want, "check: %s", check[i].name);
		if (check[i].app != NULL)
			ok(entry != NULL && entry->app != NULL &&
			    strcmp(entry->app->name, check[i].app) == 0,
			    "check: %s: app %s", check[i].name, check[i].app);
		else
			ok(entry == NULL, "check: %s: no entry",
			    check[i].name);
	}

	/* Generated keys: shape, uniqueness, and they verify. */
	good = 1;
	for (i = 0; i < 50; i++) {
		rv = auth_key_new((const unsigned char *)PEPPER,
		    strlen(PEPPER), &nkey, &nid, hmac);
		if (rv != 0) {
			good = 0;
			break;
		}
		if (strlen(nkey) != 3 + 8 + 1 + 43 || strlen(nid) != 8 ||
		    strncmp(nkey + 3, nid, 8) != 0 ||
		    auth_parse(nkey, strlen(nkey), &id, &idlen, &secret,
		    &secretlen) != 0 || secretlen != 43)
			good = 0;
		auth_hmac_hex((const unsigned char *)PEPPER, strlen(PEPPER),
		    secret, secretlen, hex);
		if (strcmp(hex, hmac) != 0)
			good = 0;
		OPENSSL_cleanse(nkey, strlen(nkey));
		free(nkey);
		free(nid);
	}
	ok(good, "auth_key_new: 50 keys well formed, hmac matches");

	/*
	 * Round trip as an operator does it: "keys new" prints the key and
	 * the entry, the entry goes into a budget file, the config loads,
	 * and the key is accepted; one changed character is not.
	 */
	rv = auth_key_new((const unsigned char *)PEPPER, strlen(PEPPER), &nkey,
	    &nid, hmac);
	ok(rv == 0, "auth_key_new");
	cfg2 = load_with_key(nid, hmac);
	ok(cfg2 != NULL, "round trip: budget with the new key loads");
	if (cfg2 != NULL) {
		r = auth_check(cfg2, (const unsigned char *)PEPPER,
		    strlen(PEPPER), nkey, strlen(nkey), util_now_ms(), &entry);
		ok(r == AUTH_OK && entry != NULL &&
		    strcmp(entry->app->name, "gen-app") == 0,
		    "round trip: new key accepted");
		nkey[strlen(nkey) - 1] = nkey[strlen(nkey) - 1] == 'a' ?
		    'b' : 'a';
		r = auth_check(cfg2, (const unsigned char *)PEPPER,
		    strlen(PEPPER), nkey, strlen(nkey), util_now_ms(), &entry);
		is_int(r, AUTH_UNKNOWN, "round trip: altered key refused");
		cfg_unref(cfg2);
	}
	OPENSSL_cleanse(nkey, strlen(nkey));
	free(nkey);
	free(nid);

	cfg_unref(cfg);
	return (tap_done());
}
