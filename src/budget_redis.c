/*
 * The Redis counter store (see budget_redis.h for the keys).
 *
 * Every step is one Lua script, so that a check and the lease it leads to
 * are one atomic operation however many tollgate processes share the
 * Redis.  The scripts are loaded with SCRIPT LOAD when a connection comes
 * up and run with EVALSHA; a NOSCRIPT answer (SCRIPT FLUSH, a failover to
 * a replica that never saw the load) resends the same step with EVAL.
 *
 * Each worker has its own hiredis async connection attached to its event
 * loop.  hiredis 0.14 has no command timeout, so every reserve and peek
 * carries its own evtimer: when it fires the caller hears
 * BUDGET_UNAVAILABLE and the request is marked done, and the late reply
 * (hiredis still owns the request as privdata) only frees it.  A timeout
 * with nothing at all heard from Redis during the request's life drops the
 * connection, so a half-open TCP connection does not hang every step.
 * After a disconnect the worker reconnects with a doubling backoff
 * (100 ms .. 5 s); steps issued meanwhile fail at once.  Settles are fire
 * and forget and idempotent per lease id, so one that lost its connection
 * is queued (bounded) and sent again once the next connection is up.
 * The settles of one loop turn leave together, before any later step, as
 * one script (settlen) that adds their amounts up per counter: a few
 * commands per settle instead of some sixty.  It runs only when each of
 * them would take its lease off whole; otherwise they go one by one.
 * The reserves of a loop turn leave together too, after its settles, as
 * one reserve script that decides them in the order made, each against
 * the counters as the ones before it left them: it reads every counter
 * once and raises it once, and writes per reserve only its lease.
 * Renewals are fire and forget too but never queued: the proxy renews
 * every few seconds, and a late one could only find its lease lapsed.
 *
 * Amounts cross the Lua boundary as decimal strings: HINCRBY gets the
 * client's own digits and the states come back as Redis' digits, so no
 * amount is ever formatted by Lua (which would print 1e+14).  Only the
 * limit test itself is done on Lua numbers (doubles): exact below 2^53,
 * i.e. about 9 million USD in nano-USD.
 */
#include "config.h"

#include <sys/queue.h>

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "budget.h"
#include "budget_redis.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define BR_STORE_MAGIC		0x62727374U
#define BR_WCTX_MAGIC		0x62727763U
#define BR_REQ_MAGIC		0x62727271U

#define BR_DAY_MS		((int64_t)86400000)
#define BR_PURGE_MAX		200	/* leases dropped per step */
#define BR_BACKOFF_MIN_MS	100
#define BR_BACKOFF_MAX_MS	5000
#define BR_HANDSHAKE_MIN_MS	1000
#define BR_SETTLE_QUEUE_MAX	65536
#define BR_BATCH_MAX		64	/* settles sent as one script */
#define BR_RECONCILE_BATCH	128
#define BR_MAXARGS		(3 + BUDGET_NCOUNTERS + 8 + \
				    BUDGET_NCOUNTERS + 3 * BUDGET_MAX_CHECKS)

enum br_script {
	BR_RESERVE = 0,
	BR_SETTLE,
	BR_PEEK,
	BR_PURGE,
	BR_RENEW,
	BR_SETTLEN,
	BR_NSCRIPTS
};

/* Why renewals failed, each logged once per connection. */
enum br_renew_fail {
	BR_RENEW_UNSENT = 0,	/* no connection, or it went away */
	BR_RENEW_REFUSED,	/* Redis answered an error */
	BR_RENEW_MALFORMED,	/* not what the script returns */
	BR_RENEW_LAPSED,	/* the lease had stopped counting */
	BR_RENEW_NFAIL
};

/*
 * Shared by all scripts.  A lease hash holds n (its counter count), k1..kn
 * (the counters' Redis keys), r0 r1 r2 (the reserve, the same on every
 * counter) and d (the deadline).  unlease() takes a lease's reserve off the
 * leased amounts of the counters it names that still exist (a counter that
 * expired is not brought back without a TTL) and deletes it.  purge()
 * drops at most 200 (BR_PURGE_MAX) leases per step.
 */
#define BR_LUA_COMMON							\
	"local function neg(s)\n"					\
	"  if not s or s == '0' then return nil end\n"			\
	"  if string.sub(s, 1, 1) == '-' then\n"			\
	"    return string.sub(s, 2)\n"					\
	"  end\n"							\
	"  return '-' .. s\n"						\
	"end\n"								\
	"local function unlease(lk)\n"					\
	"  local h = redis.call('HMGET', lk, 'n', 'r0', 'r1', 'r2')\n"	\
	"  if not h[1] then return 0 end\n"				\
	"  for i = 1, tonumber(h[1]) or 0 do\n"			\
	"    local k = redis.call('HGET', lk, 'k' .. i)\n"		\
	"    if k and redis.call('EXISTS', k) == 1 then\n"		\
	"      for j = 0, 2 do\n"					\
	"        local d = neg(h[j + 2])\n"				\
	"        if d then redis.call('HINCRBY', k, 'l' .. j, d) end\n"	\
	"      end\n"							\
	"    end\n"							\
	"  end\n"							\
	"  redis.call('DEL', lk)\n"					\
	"  return 1\n"							\
	"end\n"								\
	"local function purge(now)\n"					\
	"  local ids = redis.call('ZRANGEBYSCORE', 'tg:leases',\n"	\
	"      '-inf', now, 'LIMIT', '0', '200')\n"			\
	"  for _, id in ipairs(ids) do\n"				\
	"    unlease('tg:lease:' .. id)\n"				\
	"    redis.call('ZREM', 'tg:leases', id)\n"			\
	"  end\n"							\
	"  return #ids\n"						\
	"end\n"								\
	"local function states(ret)\n"					\
	"  for i = 1, #KEYS do\n"					\
	"    local v = redis.call('HMGET', KEYS[i],\n"			\
	"        'u0', 'u1', 'u2', 'l0', 'l1', 'l2')\n"			\
	"    for j = 1, 6 do ret[#ret + 1] = v[j] or '0' end\n"		\
	"  end\n"							\
	"  return ret\n"						\
	"end\n"

/*
 * reserve: the reserves of one worker's loop turn as one step, each
 * decided in turn exactly as if it ran alone.  KEYS: the counters they
 * read.  ARGV: now, nr, then per counter its expiry and what the reserves
 * that lease on it hold together (t0 t1 t2), then per reserve its lease
 * id, deadline, lease hash expiry, r0 r1 r2, its counter count n, check
 * count, its n counters (indexes into KEYS), and per check (place among
 * its n counters, unit, limit).  Returns one status per reserve (0
 * leased, else 1 + the failing check), then u0 u1 u2 l0 l1 l2 per counter
 * as they were before the first of these leases; the caller adds the
 * reserves leased before each one.  A lease id reserved again replaces its
 * lease rather than stacking a second one that could never be settled.
 * The leased amounts go up once per counter by the t the client summed
 * when every reserve on it was leased, else by each leased one's r: Lua
 * never formats an amount.
 */
static const char br_lua_reserve[] = BR_LUA_COMMON
	"local kf = {'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9',\n"
	"    'k10'}\n"
	"local lf = {'l0', 'l1', 'l2'}\n"
	"local nk, nr = #KEYS, tonumber(ARGV[2])\n"
	"purge(ARGV[1])\n"
	"local rs, a = {}, 3 + 4 * nk\n"
	"for s = 1, nr do\n"
	"  local x = {id = ARGV[a], n = tonumber(ARGV[a + 6]),\n"
	"      nchk = tonumber(ARGV[a + 7]), a = a, k = {}}\n"
	"  for q = 1, x.n do x.k[q] = tonumber(ARGV[a + 7 + q]) end\n"
	"  x.c = a + 8 + x.n\n"
	"  a = x.c + 3 * x.nchk\n"
	"  if unlease('tg:lease:' .. x.id) == 1 then\n"
	"    redis.call('ZREM', 'tg:leases', x.id)\n"
	"  end\n"
	"  rs[s] = x\n"
	"end\n"
	"local ret, num, whole, hit = {}, {}, {}, {}\n"
	"for i = 1, nk do\n"
	"  local v = redis.call('HMGET', KEYS[i],\n"
	"      'u0', 'u1', 'u2', 'l0', 'l1', 'l2')\n"
	"  local t = {}\n"
	"  for j = 1, 6 do\n"
	"    v[j] = v[j] or '0'\n"
	"    t[j] = tonumber(v[j])\n"
	"  end\n"
	"  ret[nr + 6 * i - 5], ret[nr + 6 * i - 4], ret[nr + 6 * i - 3],\n"
	"      ret[nr + 6 * i - 2], ret[nr + 6 * i - 1], ret[nr + 6 * i] =\n"
	"      v[1], v[2], v[3], v[4], v[5], v[6]\n"
	"  num[i], whole[i] = t, true\n"
	"end\n"
	"for s = 1, nr do\n"
	"  local x = rs[s]\n"
	"  local b = x.a\n"
	"  local r = {tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]),\n"
	"      tonumber(ARGV[b + 5])}\n"
	"  local st = 0\n"
	"  for c = 0, x.nchk - 1 do\n"
	"    local e = x.c + 3 * c\n"
	"    local t = num[x.k[tonumber(ARGV[e]) + 1]]\n"
	"    local j = tonumber(ARGV[e + 1])\n"
	"    if t[j + 1] + t[j + 4] + r[j + 1] > tonumber(ARGV[e + 2]) then\n"
	"      st = c + 1\n"
	"      break\n"
	"    end\n"
	"  end\n"
	"  ret[s] = st\n"
	"  if st == 0 then\n"
	"    local lk = 'tg:lease:' .. x.id\n"
	"    local f = {'n', ARGV[b + 6], 'd', ARGV[b + 1],\n"
	"        'r0', ARGV[b + 3], 'r1', ARGV[b + 4], 'r2', ARGV[b + 5]}\n"
	"    for q, i in ipairs(x.k) do\n"
	"      local t = num[i]\n"
	"      t[4], t[5], t[6] = t[4] + r[1], t[5] + r[2], t[6] + r[3]\n"
	"      hit[i] = true\n"
	"      f[#f + 1] = kf[q]\n"
	"      f[#f + 1] = KEYS[i]\n"
	"    end\n"
	"    redis.call('HSET', lk, unpack(f))\n"
	"    redis.call('PEXPIREAT', lk, ARGV[b + 2])\n"
	"    redis.call('ZADD', 'tg:leases', ARGV[b + 1], x.id)\n"
	"  else\n"
	"    for _, i in ipairs(x.k) do whole[i] = false end\n"
	"  end\n"
	"end\n"
	"for i = 1, nk do\n"
	"  if hit[i] then\n"
	"    local b = 3 + 4 * (i - 1)\n"
	"    for j = 0, 2 do\n"
	"      if whole[i] then\n"
	"        if ARGV[b + 1 + j] ~= '0' then\n"
	"          redis.call('HINCRBY', KEYS[i], lf[j + 1], ARGV[b + 1 + j])\n"
	"        end\n"
	"      else\n"
	"        for s = 1, nr do\n"
	"          local x = rs[s]\n"
	"          local v = ARGV[x.a + 3 + j]\n"
	"          if ret[s] == 0 and v ~= '0' then\n"
	"            for _, q in ipairs(x.k) do\n"
	"              if q == i then\n"
	"                redis.call('HINCRBY', KEYS[i], lf[j + 1], v)\n"
	"              end\n"
	"            end\n"
	"          end\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"    redis.call('PEXPIREAT', KEYS[i], ARGV[b])\n"
	"  end\n"
	"end\n"
	"return ret\n";

/*
 * settle.  KEYS: the counters.  ARGV: lease id, a0 a1 a2 (actual), then
 * one expiry per counter.  Returns 0 when already settled, 1 when the lease
 * had already been purged (only used grows), 2 when it was taken off.
 */
static const char br_lua_settle[] = BR_LUA_COMMON
	"local id = ARGV[1]\n"
	"local sk = 'tg:settled:' .. id\n"
	"if redis.call('EXISTS', sk) == 1 then return 0 end\n"
	"local had = unlease('tg:lease:' .. id)\n"
	"redis.call('ZREM', 'tg:leases', id)\n"
	"for i = 1, #KEYS do\n"
	"  for j = 0, 2 do\n"
	"    local a = ARGV[2 + j]\n"
	"    if a ~= '0' then redis.call('HINCRBY', KEYS[i], 'u' .. j, a) end\n"
	"  end\n"
	"  redis.call('PEXPIREAT', KEYS[i], ARGV[4 + i])\n"
	"end\n"
	"redis.call('SET', sk, '1', 'PX', '86400000')\n"
	"return 1 + had\n";

/* peek.  KEYS: the counters.  ARGV: now.  Returns {0, 0, states}. */
static const char br_lua_peek[] = BR_LUA_COMMON
	"purge(ARGV[1])\n"
	"return states({0, 0})\n";

/* purge.  ARGV: now.  Returns how many leases it dropped. */
static const char br_lua_purge[] = BR_LUA_COMMON
	"return purge(ARGV[1])\n";

/*
 * renew.  No KEYS.  ARGV: now, lease id, new deadline, lease hash expiry.
 * Returns 1 when the lease was live (exists, not settled, deadline not
 * passed) and now ends at the new deadline, else 0 and changes nothing:
 * a lease that stopped counting is not brought back.
 */
static const char br_lua_renew[] =
	"local id = ARGV[2]\n"
	"local lk = 'tg:lease:' .. id\n"
	"if redis.call('EXISTS', 'tg:settled:' .. id) == 1 then return 0 end\n"
	"local d = redis.call('HGET', lk, 'd')\n"
	"if not d or tonumber(d) <= tonumber(ARGV[1]) then return 0 end\n"
	"redis.call('HSET', lk, 'd', ARGV[3])\n"
	"redis.call('PEXPIREAT', lk, ARGV[4])\n"
	"redis.call('ZADD', 'tg:leases', ARGV[3], id)\n"
	"return 1\n";

/*
 * settlen: the settles of one worker's loop turn as one step.  KEYS: the
 * counters they name.  ARGV: ns, then per settle its lease id and the
 * n r0 r1 r2 its lease must hold, then per counter its expiry, what to
 * add to u0 u1 u2 (the settles' actual amounts, summed) and to l0 l1 l2
 * (their reserves, summed and negated, on the counters their leases are
 * on).  Exactly the settles one by one, but only when each of them would
 * take its lease off whole: no settle already done, every lease there as
 * sent, every counter whose leased amount goes down still there.  Else
 * it changes nothing and returns 0, and the caller sends them one by one.
 * Returns 1 when done.
 */
static const char br_lua_settlen[] =
	"local uf, lf = {'u0', 'u1', 'u2'}, {'l0', 'l1', 'l2'}\n"
	"local ns = tonumber(ARGV[1])\n"
	"for s = 0, ns - 1 do\n"
	"  local b = 2 + 5 * s\n"
	"  local id = ARGV[b]\n"
	"  if redis.call('EXISTS', 'tg:settled:' .. id) == 1 then\n"
	"    return 0\n"
	"  end\n"
	"  local h = redis.call('HMGET', 'tg:lease:' .. id,\n"
	"      'n', 'r0', 'r1', 'r2')\n"
	"  for j = 1, 4 do\n"
	"    if h[j] ~= ARGV[b + j] then return 0 end\n"
	"  end\n"
	"end\n"
	"local o = 2 + 5 * ns\n"
	"for i = 1, #KEYS do\n"
	"  local b = o + 7 * (i - 1)\n"
	"  if (ARGV[b + 4] ~= '0' or ARGV[b + 5] ~= '0' or\n"
	"      ARGV[b + 6] ~= '0') and redis.call('EXISTS', KEYS[i]) == 0 then\n"
	"    return 0\n"
	"  end\n"
	"end\n"
	"for s = 0, ns - 1 do\n"
	"  local id = ARGV[2 + 5 * s]\n"
	"  redis.call('DEL', 'tg:lease:' .. id)\n"
	"  redis.call('ZREM', 'tg:leases', id)\n"
	"  redis.call('SET', 'tg:settled:' .. id, '1', 'PX', '86400000')\n"
	"end\n"
	"for i = 1, #KEYS do\n"
	"  local b = o + 7 * (i - 1)\n"
	"  for j = 0, 2 do\n"
	"    if ARGV[b + 1 + j] ~= '0' then\n"
	"      redis.call('HINCRBY', KEYS[i], uf[j + 1], ARGV[b + 1 + j])\n"
	"    end\n"
	"    if ARGV[b + 4 + j] ~= '0' then\n"
	"      redis.call('HINCRBY', KEYS[i], lf[j + 1], ARGV[b + 4 + j])\n"
	"    end\n"
	"  end\n"
	"  redis.call('PEXPIREAT', KEYS[i], ARGV[b])\n"
	"end\n"
	"return 1\n";

static const struct {
	const char	*name;
	const char	*body;
	size_t		 len;
} br_scripts[BR_NSCRIPTS] = {
	{ "reserve", br_lua_reserve, sizeof br_lua_reserve - 1 },
	{ "settle", br_lua_settle, sizeof br_lua_settle - 1 },
	{ "peek", br_lua_peek, sizeof br_lua_peek - 1 },
	{ "purge", br_lua_purge, sizeof br_lua_purge - 1 },
	{ "renew", br_lua_renew, sizeof br_lua_renew - 1 },
	{ "settlen", br_lua_settlen, sizeof br_lua_settlen - 1 },
};

static const char *const br_renew_why[BR_RENEW_NFAIL] = {
	"no connection to Redis",
	"Redis refused it",
	"malformed reply",
	"too late, the lease had already stopped counting",
};

struct br_store {
	uint32_t	 magic;
	char		*host;
	int		 port;
	char		*password;	/* NULL: no AUTH */
	int		 db;
	int		 timeout_ms;
	char		 sha[BR_NSCRIPTS][41];
	unsigned long	 errors;	/* __atomic */
};

/* A step's arguments after the command and script: packed in one buffer. */
struct br_args {
	int		 argc;
	char		*buf;
	size_t		 len;
	size_t		 size;
	size_t		 off[BR_MAXARGS];
	size_t		 alen[BR_MAXARGS];
};

struct br_wctx;

struct br_req {
	uint32_t		 magic;
	struct br_wctx		*w;
	enum br_script		 script;
	int			 eval;		/* resent with EVAL */
	int			 done;		/* caller has its answer */
	struct budget_plan	*plan;		/* NULL for settle */
	budget_done_cb		 cb;
	void			*arg;
	struct event		*timer;
	int64_t			 sent_ms;	/* monotonic */
	char			 lease_id[33];	/* for logs */
	struct br_args		 args;
	TAILQ_ENTRY(br_req)	 entry;		/* settle retry queue, batch */

	/* For a batch: see br_settles_send() and br_reserves_send(). */
	size_t			 nkeys;		/* args[1 .. nkeys]: counters */
	unsigned char		 leased[BUDGET_NCOUNTERS]; /* lease on it */
	size_t			 nleased;
	struct budget_amount	 reserve;	/* what the lease holds */
	struct budget_amount	 actual;
	size_t			 nchecks;
	size_t			 kidx[BUDGET_NCOUNTERS]; /* batch KEYS */
};
TAILQ_HEAD(br_reqs, br_req);

struct br_wctx {
	uint32_t		 magic;
	struct br_store		*store;
	struct event_base	*base;
	redisAsyncContext	*ac;		/* NULL: not connected */
	int			 ready;		/* handshake done */
	int			 hs_pending;	/* handshake replies due */
	int			 freeing;
	int			 backoff_ms;
	int			 down_logged;
	int64_t			 last_reply_ms;	/* monotonic */
	struct event		*reconnect;
	struct event		*hs_timer;
	struct br_reqs		 settles;	/* waiting for a connection */
	size_t			 nsettles;
	struct br_reqs		 batch;		/* settles of this loop turn */
	size_t			 nbatch;
	struct br_reqs		 rbatch;	/* reserves of this loop turn */
	size_t			 nrbatch;
	struct event		*batch_ev;	/* sends both */
	unsigned		 renew_logged;	/* bit per br_renew_fail */
};

static int64_t	(*br_clock)(void) = util_now_ms;	/* tests set it */

static void	br_connect(struct br_wctx *);
static void	br_batch_cb(evutil_socket_t, short, void *);
static void	br_flush(struct br_wctx *);
static void	br_reply_cb(redisAsyncContext *, void *, void *);

/* Monotonic milliseconds, for timeouts only. */
static int64_t
br_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
br_error(struct br_store *s)
{
	__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
}

unsigned long
budget_redis_errors(void *store)
{
	struct br_store	*s = store;

	if (s == NULL)
		return (0);
	return (__atomic_load_n(&s->errors, __ATOMIC_RELAXED));
}

/* Decode %XX escapes of s[0..len) into a new string; NULL if malformed. */
static char *
br_unescape(const char *s, size_t len)
{
	char		*out, *p;
	size_t		 i;
	int		 hi, lo;

	out = p = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			*p++ = s[i];
			continue;
		}
		if (i + 2 >= len)
			goto bad;
		hi = OPENSSL_hexchar2int((unsigned char)s[i + 1]);
		lo = OPENSSL_hexchar2int((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0)
			goto bad;
		*p++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*p = '\0';
	return (out);
bad:
	free(out);
	return (NULL);
}

/* Parse redis://[:password@]host[:port][/db] into s. */
static int
br_parse_url(struct br_store *s, const char *url, char **cause)
{
	const char	*p, *auth_end, *host, *host_end, *port, *end;
	long long	 v;
	size_t		 hostlen;

	if (strncmp(url, "rediss://", 9) == 0) {
		xasprintf(cause, "redis url: TLS (rediss://) is not supported");
		return (-1);
	}
	if (strncmp(url, "redis://", 8) != 0) {
		xasprintf(cause, "redis url: must start with redis://");
		return (-1);
	}
	p = url + 8;
	if (strpbrk(p, "?#") != NULL) {
		xasprintf(cause, "redis url: query or fragment not supported");
		return (-1);
	}

	/* The password may hold '/' or '@' only %-escaped. */
	auth_end = strchr(p, '@');
	if (auth_end != NULL) {
		if (*p != ':') {
			xasprintf(cause, "redis url: user names are not "
			    "supported (use redis://:password@host)");
			return (-1);
		}
		if (memchr(p, '/', (size_t)(auth_end - p)) != NULL ||
		    strchr(auth_end + 1, '@') != NULL) {
			xasprintf(cause, "redis url: '/' and '@' in the "
			    "password must be written %%2F and %%40");
			return (-1);
		}
		if (auth_end == p + 1) {
			xasprintf(cause, "redis url: empty password");
			return (-1);
		}
		s->password = br_unescape(p + 1, (size_t)(auth_end - p - 1));
		if (s->password == NULL) {
			xasprintf(cause, "redis url: bad %%-escape in the "
			    "password");
			return (-1);
		}
		p = auth_end + 1;
	}

	end = strchr(p, '/');
	if (end == NULL)
		end = p + strlen(p);
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL) {
			xasprintf(cause, "redis url: missing ']'");
			return (-1);
		}
		port = host_end + 1;
		if (port != end && *port != ':') {
			xasprintf(cause, "redis url: junk after ']'");
			return (-1);
		}
	} else {
		host = p;
		host_end = memchr(p, ':', (size_t)(end - p));
		if (host_end == NULL)
			host_end = end;
		port = host_end;
	}
	hostlen = (size_t)(host_end - host);
	if (hostlen == 0) {
		xasprintf(cause, "redis url: no host");
		return (-1);
	}
	s->host = xstrndup(host, hostlen);

	s->port = 6379;
	if (port != end) {
		port++;		/* ':' */
		if (util_strtoll(port, (size_t)(end - port), 1, 65535,
		    &v) != 0) {
			xasprintf(cause, "redis url: bad port \"%.*s\"",
			    (int)(end - port), port);
			return (-1);
		}
		s->port = (int)v;
	}

	s->db = 0;
	if (*end == '/' && end[1] != '\0') {
		if (util_strtoll(end + 1, strlen(end + 1), 0, INT_MAX,
		    &v) != 0) {
			xasprintf(cause, "redis url: bad database \"%s\"",
			    end + 1);
			return (-1);
		}
		s->db = (int)v;
	}
	return (0);
}

void *
budget_redis_new(const char *url, int timeout_ms, char **cause)
{
	struct br_store	*s = NULL, *ret = NULL;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	size_t		 i;

	if (timeout_ms <= 0) {
		xasprintf(cause, "redis: timeout_ms must be positive");
		goto out;
	}
	s = xcalloc(1, sizeof *s);
	s->magic = BR_STORE_MAGIC;
	s->timeout_ms = timeout_ms;
	if (br_parse_url(s, url, cause) != 0)
		goto out;
	for (i = 0; i < BR_NSCRIPTS; i++) {
		if (EVP_Digest(br_scripts[i].body, br_scripts[i].len, md,
		    &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
			fatalx("redis: SHA1 failed");
		util_hex(md, mdlen, s->sha[i]);
	}
	ret = s;
	s = NULL;
out:
	budget_redis_free(s);
	return (ret);
}

void
budget_redis_free(void *store)
{
	struct br_store	*s = store;

	if (s == NULL)
		return;
	if (s->magic != BR_STORE_MAGIC)
		fatalx("budget_redis_free: bad magic");
	free(s->host);
	if (s->password != NULL) {
		OPENSSL_cleanse(s->password, strlen(s->password));
		free(s->password);
	}
	s->magic = 0;
	free(s);
}

/* Append one printf-formatted argument. */
static void __attribute__((format(printf, 2, 3)))
br_args_add(struct br_args *a, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (a->argc >= BR_MAXARGS)
		fatalx("redis: too many arguments");
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(a->buf == NULL ? NULL : a->buf + a->len,
		    a->size - a->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatalx("redis: vsnprintf failed");
		if ((size_t)n < a->size - a->len)
			break;
		a->size = a->size * 2 + (size_t)n + 64;
		a->buf = xreallocarray(a->buf, 1, a->size);
	}
	a->off[a->argc] = a->len;
	a->alen[a->argc] = (size_t)n;
	a->argc++;
	a->len += (size_t)n + 1;
}

static void
br_args_clear(struct br_args *a)
{
	free(a->buf);
	memset(a, 0, sizeof *a);
}

/*
 * When the lease hash may go: a day after both its deadline and its
 * counters' windows (a settle that late still finds what it names).
 */
static int64_t
br_lease_expiry(const struct budget_plan *plan)
{
	int64_t	 lexp = plan->deadline_ms + BR_DAY_MS;
	size_t	 i;

	for (i = 0; i < plan->ncounters; i++) {
		if (plan->counters[i].end_ms + BR_DAY_MS > lexp)
			lexp = plan->counters[i].end_ms + BR_DAY_MS;
	}
	return (lexp);
}

/*
 * The counters some check reads, in plan order: idx[] their plan
 * indexes, pos[] (for those) their place in that list.  Reserve and peek
 * send only these: a lease holds its reserve on them alone, so a request
 * costs Redis a third of the writes it would on all ten (settle still
 * adds what was used to all ten, so that a limit a reload adds counts
 * from the start of its window).
 */
static size_t
br_checked(const struct budget_plan *plan, size_t idx[BUDGET_NCOUNTERS],
    size_t pos[BUDGET_NCOUNTERS])
{
	unsigned char	read[BUDGET_NCOUNTERS];
	size_t		i, n = 0;

	memset(read, 0, sizeof read);
	for (i = 0; i < plan->nchecks; i++)
		read[plan->checks[i].counter] = 1;
	for (i = 0; i < plan->ncounters; i++) {
		if (read[i]) {
			pos[i] = n;
			idx[n++] = i;
		}
	}
	return (n);
}

/* Counter keys (none for renew), then the step's ARGV: see the scripts. */
static void
br_args_plan(struct br_args *a, enum br_script script,
    const struct budget_plan *plan, int64_t now_ms)
{
	size_t	 idx[BUDGET_NCOUNTERS], pos[BUDGET_NCOUNTERS], i, nkeys;

	switch (script) {
	case BR_RESERVE:
	case BR_PEEK:
		nkeys = br_checked(plan, idx, pos);
		break;
	case BR_RENEW:
		nkeys = 0;
		break;
	default:
		for (nkeys = 0; nkeys < plan->ncounters; nkeys++)
			idx[nkeys] = nkeys;
		break;
	}
	br_args_add(a, "%zu", nkeys);
	for (i = 0; i < nkeys; i++)
		br_args_add(a, "tg:c:%s", plan->counters[idx[i]].key);

	switch (script) {
	case BR_RESERVE:
		br_args_add(a, "%" PRId64, now_ms);
		br_args_add(a, "%s", plan->lease_id);
		br_args_add(a, "%" PRId64, plan->deadline_ms);
		for (i = 0; i < BUDGET_NUNITS; i++)
			br_args_add(a, "%" PRId64, plan->reserve.v[i]);
		br_args_add(a, "%" PRId64, br_lease_expiry(plan));
		br_args_add(a, "%zu", plan->nchecks);
		for (i = 0; i < nkeys; i++) {
			br_args_add(a, "%" PRId64,
			    plan->counters[idx[i]].end_ms + BR_DAY_MS);
		}
		for (i = 0; i < plan->nchecks; i++) {
			br_args_add(a, "%zu", pos[plan->checks[i].counter]);
			br_args_add(a, "%d", (int)plan->checks[i].unit);
			br_args_add(a, "%" PRId64, plan->checks[i].limit);
		}
		break;
	case BR_SETTLE:
		br_args_add(a, "%s", plan->lease_id);
		for (i = 0; i < BUDGET_NUNITS; i++)
			br_args_add(a, "%" PRId64, plan->actual.v[i]);
		for (i = 0; i < plan->ncounters; i++) {
			br_args_add(a, "%" PRId64,
			    plan->counters[i].end_ms + BR_DAY_MS);
		}
		break;
	case BR_PEEK:
	case BR_PURGE:
		br_args_add(a, "%" PRId64, now_ms);
		break;
	case BR_RENEW:
		br_args_add(a, "%" PRId64, now_ms);
		br_args_add(a, "%s", plan->lease_id);
		br_args_add(a, "%" PRId64, plan->deadline_ms);
		br_args_add(a, "%" PRId64, br_lease_expiry(plan));
		break;
	case BR_SETTLEN:	/* built by br_settles_send() */
	case BR_NSCRIPTS:
		fatalx("redis: bad script");
	}
}

/*
 * Is the plan something the scripts can index safely?  Leases need an id:
 * an empty one would make every later settle a no-op for a day.
 */
static int
br_plan_valid(enum br_script script, const struct budget_plan *plan,
    const char **why)
{
	size_t	i;

	if (plan->ncounters > BUDGET_NCOUNTERS) {
		*why = "too many counters";
		return (0);
	}
	if (plan->nchecks > BUDGET_MAX_CHECKS) {
		*why = "too many checks";
		return (0);
	}
	if (memchr(plan->lease_id, '\0', sizeof plan->lease_id) == NULL) {
		*why = "lease id not terminated";
		return (0);
	}
	if (script != BR_PEEK && plan->lease_id[0] == '\0') {
		*why = "no lease id";
		return (0);
	}
	for (i = 0; i < plan->ncounters; i++) {
		if (memchr(plan->counters[i].key, '\0',
		    sizeof plan->counters[i].key) == NULL) {
			*why = "counter key not terminated";
			return (0);
		}
	}
	for (i = 0; i < plan->nchecks; i++) {
		if (plan->checks[i].counter >= plan->ncounters ||
		    (unsigned)plan->checks[i].unit >= BUDGET_NUNITS) {
			*why = "check out of range";
			return (0);
		}
	}
	return (1);
}

/* Queue a step on the connection.  Returns -1 when it cannot be sent. */
static int
br_send(struct br_req *req)
{
	struct br_wctx	*w = req->w;
	struct br_store	*s = w->store;
	const char	*argv[2 + BR_MAXARGS];
	size_t		 argvlen[2 + BR_MAXARGS];
	int		 i;

	if (w->ac == NULL)
		return (-1);
	if (req->eval) {
		argv[0] = "EVAL";
		argv[1] = br_scripts[req->script].body;
		argvlen[1] = br_scripts[req->script].len;
	} else {
		argv[0] = "EVALSHA";
		argv[1] = s->sha[req->script];
		argvlen[1] = 40;
	}
	argvlen[0] = strlen(argv[0]);
	for (i = 0; i < req->args.argc; i++) {
		argv[2 + i] = req->args.buf + req->args.off[i];
		argvlen[2 + i] = req->args.alen[i];
	}
	if (redisAsyncCommandArgv(w->ac, br_reply_cb, req,
	    2 + req->args.argc, argv, argvlen) != REDIS_OK)
		return (-1);
	return (0);
}

static void
br_req_free(struct br_req *req)
{
	if (req == NULL)
		return;
	if (req->magic != BR_REQ_MAGIC)
		fatalx("redis: bad request magic");
	if (req->timer != NULL)
		event_free(req->timer);
	br_args_clear(&req->args);
	req->magic = 0;
	free(req);
}

/*
 * Give the caller its answer, once.  The request stays with hiredis when
 * a reply is still due (keep set), else it is freed first, so the
 * callback may start new steps or free the plan.
 */
static void
br_finish(struct br_req *req, enum budget_result res, int keep)
{
	budget_done_cb		 cb = req->cb;
	struct budget_plan	*plan = req->plan;
	void			*arg = req->arg;

	if (req->done)
		fatalx("redis: step answered twice");
	req->done = 1;
	if (req->timer != NULL)
		evtimer_del(req->timer);
	if (res == BUDGET_UNAVAILABLE)
		br_error(req->w->store);
	if (!keep)
		br_req_free(req);
	cb(res, plan, arg);
}

/* Settles that could not be sent wait here for the next connection. */
static void
br_settle_enqueue(struct br_wctx *w, struct br_req *req)
{
	struct br_req	*old;

	if (w->nsettles >= BR_SETTLE_QUEUE_MAX) {
		old = TAILQ_FIRST(&w->settles);
		TAILQ_REMOVE(&w->settles, old, entry);
		w->nsettles--;
		br_error(w->store);
		log_warn("redis: settle queue full, dropped a settle");
		br_req_free(old);
	}
	req->eval = 0;
	TAILQ_INSERT_TAIL(&w->settles, req, entry);
	w->nsettles++;
}

/* Send settles one by one (each is idempotent); unsent ones wait. */
static void
br_settle_each(struct br_wctx *w, struct br_reqs *q)
{
	struct br_req	*req;

	while ((req = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, req, entry);
		if (br_send(req) != 0)
			br_settle_enqueue(w, req);
	}
}

static void
br_settle_flush(struct br_wctx *w)
{
	struct br_reqs	 q;

	TAILQ_INIT(&q);
	TAILQ_CONCAT(&q, &w->settles, entry);
	w->nsettles = 0;
	br_settle_each(w, &q);
}

/*
 * Parse {status, check, u0 u1 u2 l0 l1 l2 per counter sent} into the plan
 * (the counters no check reads were not sent, and read 0).  Returns -1
 * with *why set when the reply is not what the script returns.
 */
static int
br_parse_states(const redisReply *r, struct budget_plan *plan,
    enum budget_result *res, const char **why)
{
	struct budget_state	 st[BUDGET_NCOUNTERS];
	const redisReply	*e;
	long long		 v;
	size_t			 idx[BUDGET_NCOUNTERS], pos[BUDGET_NCOUNTERS];
	size_t			 i, j, n;

	if (r->type != REDIS_REPLY_ARRAY) {
		*why = "reply is not an array";
		return (-1);
	}
	n = br_checked(plan, idx, pos);
	if (r->elements != 2 + 6 * n) {
		*why = "reply has the wrong length";
		return (-1);
	}
	for (i = 0; i < 2; i++) {
		if (r->element[i] == NULL ||
		    r->element[i]->type != REDIS_REPLY_INTEGER) {
			*why = "status is not an integer";
			return (-1);
		}
	}
	if (r->element[0]->integer == 0)
		*res = BUDGET_OK;
	else if (r->element[0]->integer == 1) {
		if (r->element[1]->integer < 0 ||
		    (unsigned long long)r->element[1]->integer >=
		    plan->nchecks) {
			*why = "denied check out of range";
			return (-1);
		}
		*res = BUDGET_DENIED;
	} else {
		*why = "unknown status";
		return (-1);
	}
	memset(st, 0, sizeof st);
	for (i = 0; i < n; i++) {
		for (j = 0; j < 6; j++) {
			e = r->element[2 + 6 * i + j];
			if (e == NULL || e->type != REDIS_REPLY_STRING ||
			    util_strtoll(e->str, e->len, LLONG_MIN,
			    LLONG_MAX, &v) != 0) {
				*why = "amount is not an integer";
				return (-1);
			}
			if (j < 3)
				st[idx[i]].used.v[j] = v;
			else
				st[idx[i]].leased.v[j - 3] = v;
		}
	}
	/* Only a reply that parsed whole touches the plan. */
	memcpy(plan->state, st, plan->ncounters * sizeof st[0]);
	if (*res == BUDGET_DENIED)
		plan->denied = (size_t)r->element[1]->integer;
	return (0);
}

/* What happens to a settle when its connection went away, or Redis said no. */
static void
br_settle_reply(struct br_req *req, const redisReply *r)
{
	struct br_wctx	*w = req->w;

	if (r == NULL) {
		if (w->freeing) {
			br_error(w->store);
			log_warn("redis: no answer to the settle of lease %s "
			    "before shutdown: it may not have been counted "
			    "(tollgate reconcile recounts from the ledger)",
			    req->lease_id);
			br_req_free(req);
		} else
			br_settle_enqueue(w, req);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		br_error(w->store);
		log_warn("redis: settle of lease %s failed: %s", req->lease_id,
		    r->str);
	} else if (r->type != REDIS_REPLY_INTEGER) {
		br_error(w->store);
		log_error("redis: settle of lease %s: malformed reply (type "
		    "%d)", req->lease_id, r->type);
	}
	br_req_free(req);
}

/*
 * Count a failed renewal (a lapsed lease is no store failure) and say why,
 * once per kind until the next connection: renewals come every few
 * seconds for every request in flight.
 */
static void
br_renew_failed(struct br_wctx *w, enum br_renew_fail why, const char *id,
    const char *detail)
{
	if (why != BR_RENEW_LAPSED)
		br_error(w->store);
	if (w->renew_logged & (1U << why))
		return;
	w->renew_logged |= 1U << why;
	log_warn("redis: lease %s not renewed: %s%s%s; the next such failure "
	    "is logged after Redis reconnects", id, br_renew_why[why],
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

/* A renewal's reply: 1 renewed, 0 the lease no longer counted. */
static void
br_renew_reply(struct br_req *req, const redisReply *r)
{
	struct br_wctx	*w = req->w;

	if (r == NULL) {
		if (!w->freeing)
			br_renew_failed(w, BR_RENEW_UNSENT, req->lease_id,
			    NULL);
	} else if (r->type == REDIS_REPLY_ERROR)
		br_renew_failed(w, BR_RENEW_REFUSED, req->lease_id, r->str);
	else if (r->type != REDIS_REPLY_INTEGER ||
	    (r->integer != 0 && r->integer != 1))
		br_renew_failed(w, BR_RENEW_MALFORMED, req->lease_id, NULL);
	else if (r->integer == 0)
		br_renew_failed(w, BR_RENEW_LAPSED, req->lease_id, NULL);
	br_req_free(req);
}

/* A step's reply; NULL when the connection went away first. */
static void
br_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct br_req		*req = privdata;
	const redisReply	*r = reply;
	struct br_wctx		*w;
	enum budget_result	 res;
	const char		*why;

	(void)ac;
	if (req == NULL || req->magic != BR_REQ_MAGIC)
		fatalx("redis: bad request in reply");
	w = req->w;
	if (r != NULL) {
		w->last_reply_ms = br_mono_ms();
		if (r->type == REDIS_REPLY_ERROR && !req->eval &&
		    !req->done && r->str != NULL &&
		    strncmp(r->str, "NOSCRIPT", 8) == 0) {
			log_debug("redis: %s script not loaded, using EVAL",
			    br_scripts[req->script].name);
			req->eval = 1;
			if (br_send(req) == 0)
				return;
			r = NULL;	/* the connection is going away */
		}
	}

	if (req->script == BR_RENEW) {
		br_renew_reply(req, r);
		return;
	}
	if (req->plan == NULL) {
		br_settle_reply(req, r);
		return;
	}
	if (req->done) {
		/* Timed out: the caller has its answer already. */
		br_req_free(req);
		return;
	}
	if (r == NULL) {
		log_debug("redis: %s of lease %s: connection lost",
		    br_scripts[req->script].name, req->lease_id);
		br_finish(req, BUDGET_UNAVAILABLE, 0);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		log_warn("redis: %s of lease %s failed: %s",
		    br_scripts[req->script].name, req->lease_id,
		    r->str != NULL ? r->str : "?");
		br_finish(req, BUDGET_UNAVAILABLE, 0);
		return;
	}
	if (br_parse_states(r, req->plan, &res, &why) != 0) {
		log_error("redis: %s of lease %s: malformed reply: %s",
		    br_scripts[req->script].name, req->lease_id, why);
		br_finish(req, BUDGET_UNAVAILABLE, 0);
		return;
	}
	w->down_logged = 0;
	br_finish(req, res, 0);
}

static void
br_down(struct br_wctx *w, const char *why)
{
	if (w->down_logged)
		return;
	w->down_logged = 1;
	log_warn("redis %s:%d: %s", w->store->host, w->store->port, why);
}

static void
br_schedule(struct br_wctx *w)
{
	struct timeval	tv;

	if (w->freeing)
		return;
	tv.tv_sec = w->backoff_ms / 1000;
	tv.tv_usec = (w->backoff_ms % 1000) * 1000;
	evtimer_add(w->reconnect, &tv);
	w->backoff_ms *= 2;
	if (w->backoff_ms > BR_BACKOFF_MAX_MS)
		w->backoff_ms = BR_BACKOFF_MAX_MS;
}

/*
 * Drop the connection and try again later.  Every step still on it hears
 * a NULL reply now (or, from inside a hiredis callback, when it returns).
 */
static void
br_drop(struct br_wctx *w)
{
	redisAsyncContext	*ac = w->ac;

	if (ac == NULL)
		return;
	w->ac = NULL;
	w->ready = 0;
	evtimer_del(w->hs_timer);
	redisAsyncFree(ac);
	br_schedule(w);
}

/* A step got no answer in time. */
static void
br_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct br_req	*req = arg;
	struct br_wctx	*w;
	int		 stuck;
	char		 why[128];

	(void)fd;
	(void)events;
	if (req->magic != BR_REQ_MAGIC)
		fatalx("redis: bad request in timeout");
	w = req->w;
	/* Nothing at all heard while it waited: the connection is dead. */
	stuck = w->ac != NULL && w->ready && w->last_reply_ms <= req->sent_ms;
	snprintf(why, sizeof why, "no answer within %d ms%s",
	    w->store->timeout_ms, stuck ? ", reconnecting" : "");
	br_down(w, why);
	br_finish(req, BUDGET_UNAVAILABLE, 1);
	if (stuck)
		br_drop(w);	/* may free req */
}

static void
br_ready(struct br_wctx *w)
{
	w->ready = 1;
	w->backoff_ms = BR_BACKOFF_MIN_MS;
	w->renew_logged = 0;
	evtimer_del(w->hs_timer);
	if (w->down_logged)
		log_info("redis %s:%d: connected", w->store->host,
		    w->store->port);
	w->down_logged = 0;
}

/* AUTH, SELECT and SCRIPT LOAD replies. */
static void
br_hs_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct br_wctx		*w = privdata;
	const redisReply	*r = reply;
	size_t			 i;
	char			 why[256];

	if (w->magic != BR_WCTX_MAGIC)
		fatalx("redis: bad worker in handshake");
	if (r == NULL || ac != w->ac)
		return;
	w->last_reply_ms = br_mono_ms();
	if (r->type == REDIS_REPLY_ERROR) {
		br_error(w->store);
		snprintf(why, sizeof why, "connection setup failed: %s",
		    r->str != NULL ? r->str : "?");
		w->down_logged = 0;	/* always say why */
		br_down(w, why);
		br_drop(w);
		return;
	}
	if (r->type == REDIS_REPLY_STRING && r->len == 40) {
		for (i = 0; i < BR_NSCRIPTS; i++) {
			if (memcmp(r->str, w->store->sha[i], 40) == 0)
				break;
		}
		if (i == BR_NSCRIPTS)
			log_warn("redis: SCRIPT LOAD returned sha %.40s",
			    r->str);
	}
	if (--w->hs_pending == 0)
		br_ready(w);
}

static void
br_connect_cb(const redisAsyncContext *ac, int status)
{
	struct br_wctx	*w = ac->data;

	if (status == REDIS_OK || w->ac != ac)
		return;
	/* hiredis frees ac after this returns. */
	w->ac = NULL;
	w->ready = 0;
	evtimer_del(w->hs_timer);
	br_down(w, ac->errstr[0] != '\0' ? ac->errstr : "cannot connect");
	br_schedule(w);
}

static void
br_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct br_wctx	*w = ac->data;

	(void)status;
	if (w->ac != ac)
		return;		/* we dropped it ourselves */
	w->ac = NULL;
	w->ready = 0;
	evtimer_del(w->hs_timer);
	br_down(w, ac->errstr[0] != '\0' ? ac->errstr : "disconnected");
	br_schedule(w);
}

static void
br_hs_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct br_wctx	*w = arg;

	(void)fd;
	(void)events;
	if (w->ac == NULL || w->ready)
		return;
	br_down(w, "connection setup timed out");
	br_drop(w);
}

static void
br_reconnect_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	br_connect(arg);
}

/*
 * Open the connection and queue its setup (AUTH, SELECT, SCRIPT LOAD) and
 * any settles that wait; steps issued from now on queue behind them.
 */
static void
br_connect(struct br_wctx *w)
{
	struct br_store		*s = w->store;
	redisAsyncContext	*ac;
	struct timeval		 tv;
	const char		*argv[3];
	size_t			 argvlen[3];
	char			 db[16];
	int			 ms;
	size_t			 i;

	ac = redisAsyncConnect(s->host, s->port);
	if (ac == NULL)
		fatalx("redis: out of memory");
	if (ac->err != 0) {
		br_down(w, ac->errstr);
		redisAsyncFree(ac);
		br_schedule(w);
		return;
	}
	ac->data = w;
	if (redisLibeventAttach(ac, w->base) != REDIS_OK)
		fatalx("redis: cannot attach to the event loop");
	redisAsyncSetConnectCallback(ac, br_connect_cb);
	redisAsyncSetDisconnectCallback(ac, br_disconnect_cb);
	w->ac = ac;
	w->ready = 0;
	w->hs_pending = 0;
	w->last_reply_ms = br_mono_ms();

	if (s->password != NULL) {
		argv[0] = "AUTH";
		argv[1] = s->password;
		argvlen[0] = 4;
		argvlen[1] = strlen(s->password);
		if (redisAsyncCommandArgv(ac, br_hs_cb, w, 2, argv,
		    argvlen) != REDIS_OK)
			goto fail;
		w->hs_pending++;
	}
	if (s->db != 0) {
		snprintf(db, sizeof db, "%d", s->db);
		argv[0] = "SELECT";
		argv[1] = db;
		argvlen[0] = 6;
		argvlen[1] = strlen(db);
		if (redisAsyncCommandArgv(ac, br_hs_cb, w, 2, argv,
		    argvlen) != REDIS_OK)
			goto fail;
		w->hs_pending++;
	}
	for (i = 0; i < BR_NSCRIPTS; i++) {
		argv[0] = "SCRIPT";
		argv[1] = "LOAD";
		argv[2] = br_scripts[i].body;
		argvlen[0] = 6;
		argvlen[1] = 4;
		argvlen[2] = br_scripts[i].len;
		if (redisAsyncCommandArgv(ac, br_hs_cb, w, 3, argv,
		    argvlen) != REDIS_OK)
			goto fail;
		w->hs_pending++;
	}
	ms = 2 * s->timeout_ms;
	if (ms < BR_HANDSHAKE_MIN_MS)
		ms = BR_HANDSHAKE_MIN_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->hs_timer, &tv);
	br_settle_flush(w);
	return;
fail:
	br_down(w, "cannot queue connection setup");
	br_drop(w);
}

static void *
br_worker_init(void *store, struct event_base *base)
{
	struct br_store	*s = store;
	struct br_wctx	*w;

	if (s == NULL || s->magic != BR_STORE_MAGIC)
		fatalx("redis: bad store");
	w = xcalloc(1, sizeof *w);
	w->magic = BR_WCTX_MAGIC;
	w->store = s;
	w->base = base;
	w->backoff_ms = BR_BACKOFF_MIN_MS;
	TAILQ_INIT(&w->settles);
	TAILQ_INIT(&w->batch);
	TAILQ_INIT(&w->rbatch);
	w->reconnect = evtimer_new(base, br_reconnect_cb, w);
	w->hs_timer = evtimer_new(base, br_hs_timeout_cb, w);
	w->batch_ev = evtimer_new(base, br_batch_cb, w);
	if (w->reconnect == NULL || w->hs_timer == NULL || w->batch_ev == NULL)
		fatalx("redis: evtimer_new failed");
	br_connect(w);
	return (w);
}

/* Steps still in flight hear BUDGET_UNAVAILABLE; queued settles are lost. */
static void
br_worker_free(void *wctx)
{
	struct br_wctx		*w = wctx;
	struct br_req		*req;
	redisAsyncContext	*ac;
	size_t			 lost = 0;

	if (w == NULL)
		return;
	if (w->magic != BR_WCTX_MAGIC)
		fatalx("redis: bad worker");
	w->freeing = 1;
	event_free(w->reconnect);
	event_free(w->hs_timer);
	event_free(w->batch_ev);
	w->reconnect = w->hs_timer = w->batch_ev = NULL;
	br_flush(w);
	if ((ac = w->ac) != NULL) {
		w->ac = NULL;
		redisAsyncFree(ac);
	}
	while ((req = TAILQ_FIRST(&w->settles)) != NULL) {
		TAILQ_REMOVE(&w->settles, req, entry);
		br_error(w->store);
		br_req_free(req);
		lost++;
	}
	if (lost != 0)
		log_warn("redis: %zu settles lost at shutdown", lost);
	w->magic = 0;
	free(w);
}

static struct br_req *
br_req_new(struct br_wctx *w, enum br_script script,
    const struct budget_plan *plan)
{
	struct br_req	*req;

	req = xcalloc(1, sizeof *req);
	req->magic = BR_REQ_MAGIC;
	req->w = w;
	req->script = script;
	snprintf(req->lease_id, sizeof req->lease_id, "%s", plan->lease_id);
	br_args_plan(&req->args, script, plan, br_clock());
	return (req);
}

/*
 * Can a reserve or a peek go to Redis?  When not, the caller hears
 * BUDGET_UNAVAILABLE at once and 0 is returned.
 */
static int
br_step_ok(struct br_wctx *w, enum br_script script, struct budget_plan *plan,
    budget_done_cb cb, void *arg)
{
	const char	*why;

	if (w == NULL || w->magic != BR_WCTX_MAGIC)
		fatalx("redis: bad worker");
	if (!br_plan_valid(script, plan, &why)) {
		log_error("redis: %s: bad plan: %s", br_scripts[script].name,
		    why);
		br_error(w->store);
		cb(BUDGET_UNAVAILABLE, plan, arg);
		return (0);
	}
	if (w->ac == NULL) {
		br_error(w->store);
		cb(BUDGET_UNAVAILABLE, plan, arg);
		return (0);
	}
	return (1);
}

/* A reserve or a peek, with its timer running. */
static struct br_req *
br_step_new(struct br_wctx *w, enum br_script script, struct budget_plan *plan,
    budget_done_cb cb, void *arg)
{
	struct br_req	*req;
	struct timeval	 tv;

	req = br_req_new(w, script, plan);
	req->plan = plan;
	req->cb = cb;
	req->arg = arg;
	if ((req->timer = evtimer_new(w->base, br_timeout_cb, req)) == NULL)
		fatalx("redis: evtimer_new failed");
	req->sent_ms = br_mono_ms();
	tv.tv_sec = w->store->timeout_ms / 1000;
	tv.tv_usec = (w->store->timeout_ms % 1000) * 1000;
	evtimer_add(req->timer, &tv);
	return (req);
}

/* Have the steps of this loop turn sent at its end. */
static void
br_batch_later(struct br_wctx *w)
{
	static const struct timeval	now = { 0, 0 };

	if (!evtimer_pending(w->batch_ev, NULL))
		evtimer_add(w->batch_ev, &now);
}

/*
 * A reserve waits for the end of the loop turn, and leaves with the
 * others of that turn as one step: see br_reserves_send().
 */
static void
br_reserve(void *wctx, struct budget_plan *plan, budget_done_cb cb, void *arg)
{
	struct br_wctx	*w = wctx;
	struct br_req	*req, *q;
	size_t		 idx[BUDGET_NCOUNTERS], pos[BUDGET_NCOUNTERS];

	if (!br_step_ok(w, BR_RESERVE, plan, cb, arg))
		return;
	/* One reserve per lease in a batch: its lease replaces the last. */
	TAILQ_FOREACH(q, &w->rbatch, entry) {
		if (strcmp(q->lease_id, plan->lease_id) == 0) {
			br_flush(w);
			break;
		}
	}
	req = br_step_new(w, BR_RESERVE, plan, cb, arg);
	req->nkeys = br_checked(plan, idx, pos);
	req->nchecks = plan->nchecks;
	req->reserve = plan->reserve;
	TAILQ_INSERT_TAIL(&w->rbatch, req, entry);
	if (++w->nrbatch >= BR_BATCH_MAX)
		br_flush(w);
	else
		br_batch_later(w);
}

static void
br_peek(void *wctx, struct budget_plan *plan, budget_done_cb cb, void *arg)
{
	struct br_wctx	*w = wctx;
	struct br_req	*req;

	if (!br_step_ok(w, BR_PEEK, plan, cb, arg))
		return;
	br_flush(w);	/* steps reach Redis in the order made */
	req = br_step_new(w, BR_PEEK, plan, cb, arg);
	if (br_send(req) != 0) {
		br_req_free(req);
		br_error(w->store);
		cb(BUDGET_UNAVAILABLE, plan, arg);
	}
}

/* A fire-and-forget step (settle, renew); NULL when the plan is bad. */
static struct br_req *
br_fire(void *wctx, enum br_script script, const struct budget_plan *plan)
{
	struct br_wctx	*w = wctx;
	const char	*why;

	if (w == NULL || w->magic != BR_WCTX_MAGIC)
		fatalx("redis: bad worker");
	if (!br_plan_valid(script, plan, &why)) {
		log_error("redis: %s: bad plan: %s", br_scripts[script].name,
		    why);
		br_error(w->store);
		return (NULL);
	}
	return (br_req_new(w, script, plan));
}

/* The settles or reserves of one settlen or reserve step, until its reply. */
struct br_batch {
	uint32_t	 magic;
#define BR_BATCH_MAGIC	0x62726274U
	struct br_wctx	*w;
	enum br_script	 script;	/* BR_SETTLEN or BR_RESERVE */
	struct br_reqs	 reqs;
	size_t		 nreqs;
	size_t		 nkeys;		/* KEYS sent */
	int		 eval;
};

/*
 * A counter of a batch: its key (in a step's args) and what the step adds
 * to it (settlen: u0 u1 u2 l0 l1 l2; reserve: the reserves on it, summed).
 */
struct br_bkey {
	const char	*key;		/* NULL: free slot */
	size_t		 len;
	const char	*exp;
	size_t		 explen;
	size_t		 idx;		/* in KEYS */
	int64_t		 add[6];
};

/* A batch's counters: open addressing, at most half full. */
struct br_ktab {
	struct br_bkey	 *slot;
	size_t		  size;
	struct br_bkey	**order;	/* as first named: KEYS */
	size_t		  n;
};

/* A step's command line, with the numbers it formats. */
struct br_argv {
	const char	**v;
	size_t		 *len;
	char		(*num)[21];
	size_t		  n;
	size_t		  max;
};

static void
br_ktab_init(struct br_ktab *kt, size_t max)
{
	for (kt->size = 64; kt->size < 2 * max; kt->size *= 2)
		;
	kt->slot = xcalloc(kt->size, sizeof *kt->slot);
	kt->order = xreallocarray(NULL, max, sizeof *kt->order);
	kt->n = 0;
}

/* key's entry; a new one takes exp. */
static struct br_bkey *
br_ktab_get(struct br_ktab *kt, const char *key, size_t len, const char *exp,
    size_t explen)
{
	struct br_bkey	*k;
	size_t		 h, j;

	for (h = 2166136261U, j = 0; j < len; j++)
		h = (h ^ (unsigned char)key[j]) * 16777619U;
	for (h &= kt->size - 1; (k = &kt->slot[h])->key != NULL;
	    h = (h + 1) & (kt->size - 1)) {
		if (k->len == len && memcmp(k->key, key, len) == 0)
			return (k);
	}
	k->key = key;
	k->len = len;
	k->exp = exp;
	k->explen = explen;
	k->idx = kt->n;
	kt->order[kt->n++] = k;
	return (k);
}

static void
br_ktab_free(struct br_ktab *kt)
{
	free(kt->slot);
	free(kt->order);
}

/* Room for max arguments, the first two EVALSHA sha (or EVAL body). */
static void
br_argv_init(struct br_argv *a, size_t max, const struct br_batch *b)
{
	a->v = xreallocarray(NULL, max, sizeof *a->v);
	a->len = xreallocarray(NULL, max, sizeof *a->len);
	a->num = xreallocarray(NULL, max, sizeof *a->num);
	a->max = max;
	a->v[0] = b->eval ? "EVAL" : "EVALSHA";
	a->len[0] = strlen(a->v[0]);
	a->v[1] = b->eval ? br_scripts[b->script].body :
	    b->w->store->sha[b->script];
	a->len[1] = b->eval ? br_scripts[b->script].len : 40;
	a->n = 2;
}

static void
br_argv_str(struct br_argv *a, const char *s, size_t len)
{
	if (a->n >= a->max)
		fatalx("redis: too many arguments");
	a->v[a->n] = s;
	a->len[a->n++] = len;
}

/* An argument of a step's own args. */
static void
br_argv_arg(struct br_argv *a, const struct br_req *req, size_t i)
{
	br_argv_str(a, req->args.buf + req->args.off[i], req->args.alen[i]);
}

static void
br_argv_num(struct br_argv *a, long long v)
{
	if (a->n >= a->max)
		fatalx("redis: too many arguments");
	a->len[a->n] = util_lltoa(v, a->num[a->n]);
	a->v[a->n] = a->num[a->n];
	a->n++;
}

/* Send it; 0 when hiredis took it. */
static int
br_argv_send(struct br_argv *a, struct br_batch *b,
    redisCallbackFn *fn)
{
	int	rc = -1;

	if (b->w->ac != NULL && redisAsyncCommandArgv(b->w->ac, fn, b,
	    (int)a->n, a->v, a->len) == REDIS_OK)
		rc = 0;
	free(a->v);
	free(a->len);
	free(a->num);
	return (rc);
}

static struct br_batch *
br_batch_new(struct br_wctx *w, enum br_script script, struct br_reqs *q,
    size_t n)
{
	struct br_batch	*b;

	b = xcalloc(1, sizeof *b);
	b->magic = BR_BATCH_MAGIC;
	b->w = w;
	b->script = script;
	TAILQ_INIT(&b->reqs);
	TAILQ_CONCAT(&b->reqs, q, entry);
	b->nreqs = n;
	return (b);
}

static void
br_batch_free(struct br_batch *b)
{
	struct br_req	*req;

	while ((req = TAILQ_FIRST(&b->reqs)) != NULL) {
		TAILQ_REMOVE(&b->reqs, req, entry);
		br_req_free(req);
	}
	b->magic = 0;
	free(b);
}

/*
 * A batch's reply is a NOSCRIPT error when its script was not loaded:
 * then it goes again by EVAL (which loads it for the next ones) and 1 is
 * returned.
 */
static int
br_batch_noscript(struct br_batch *b, const redisReply *r,
    void (*send)(struct br_batch *))
{
	if (r->type != REDIS_REPLY_ERROR || b->eval || r->str == NULL ||
	    strncmp(r->str, "NOSCRIPT", 8) != 0)
		return (0);
	log_debug("redis: %s script not loaded, using EVAL",
	    br_scripts[b->script].name);
	b->eval = 1;
	send(b);
	return (1);
}

static void	br_settles_send(struct br_batch *);

/*
 * settlen's reply.  Done: the settles are.  Anything else but a lost
 * connection: nothing changed, so they go one by one, each deciding for
 * itself.  Lost: each may or may not have been done, so each goes again
 * on the next connection, where one already done changes nothing.
 */
static void
br_settles_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct br_batch		*b = privdata;
	const redisReply	*r = reply;
	struct br_wctx		*w;
	struct br_req		*req;

	(void)ac;
	if (b == NULL || b->magic != BR_BATCH_MAGIC)
		fatalx("redis: bad batch in reply");
	w = b->w;
	if (r == NULL) {
		while ((req = TAILQ_FIRST(&b->reqs)) != NULL) {
			TAILQ_REMOVE(&b->reqs, req, entry);
			br_settle_reply(req, NULL);
		}
		br_batch_free(b);
		return;
	}
	w->last_reply_ms = br_mono_ms();
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		br_batch_free(b);
		return;
	}
	if (br_batch_noscript(b, r, br_settles_send))
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		br_error(w->store);
		log_warn("redis: batched settle failed: %s; settling one by "
		    "one", r->str != NULL ? r->str : "?");
	} else if (r->type != REDIS_REPLY_INTEGER || r->integer != 0) {
		br_error(w->store);
		log_error("redis: batched settle: malformed reply (type %d); "
		    "settling one by one", r->type);
	}
	br_settle_each(w, &b->reqs);
	br_batch_free(b);
}

/* Add v to *sum; -1 when it would overflow. */
static int
br_add(int64_t *sum, int64_t v)
{
	return (__builtin_add_overflow(*sum, v, sum) ? -1 : 0);
}

/*
 * Send b's settles as one settlen step; on any trouble building or
 * sending it, one by one instead.
 */
static void
br_settles_send(struct br_batch *b)
{
	struct br_wctx	*w = b->w;
	struct br_req	*req;
	struct br_ktab	 kt;
	struct br_argv	 a;
	struct br_bkey	*k;
	size_t		 i, j, e;
	int		 ok = 1;

	br_ktab_init(&kt, b->nreqs * BUDGET_NCOUNTERS);
	TAILQ_FOREACH(req, &b->reqs, entry) {
		for (i = 0; i < req->nkeys && ok; i++) {
			e = 1 + req->nkeys + 4 + i;
			k = br_ktab_get(&kt, req->args.buf +
			    req->args.off[1 + i], req->args.alen[1 + i],
			    req->args.buf + req->args.off[e],
			    req->args.alen[e]);
			for (j = 0; j < 3 && ok; j++) {
				if (br_add(&k->add[j], req->actual.v[j]) != 0 ||
				    (req->leased[i] && br_add(&k->add[3 + j],
				    -req->reserve.v[j]) != 0))
					ok = 0;
			}
		}
	}
	if (ok) {
		br_argv_init(&a, 4 + 5 * b->nreqs + 8 * kt.n, b);
		br_argv_num(&a, (long long)kt.n);
		for (i = 0; i < kt.n; i++)
			br_argv_str(&a, kt.order[i]->key, kt.order[i]->len);
		br_argv_num(&a, (long long)b->nreqs);
		TAILQ_FOREACH(req, &b->reqs, entry) {
			br_argv_str(&a, req->lease_id, strlen(req->lease_id));
			br_argv_num(&a, (long long)req->nleased);
			for (j = 0; j < 3; j++)
				br_argv_num(&a, req->reserve.v[j]);
		}
		for (i = 0; i < kt.n; i++) {
			k = kt.order[i];
			br_argv_str(&a, k->exp, k->explen);
			for (j = 0; j < 6; j++)
				br_argv_num(&a, k->add[j]);
		}
		ok = br_argv_send(&a, b, br_settles_reply) == 0;
	}
	br_ktab_free(&kt);
	if (!ok) {
		br_settle_each(w, &b->reqs);
		br_batch_free(b);
	}
}

/* Every reserve of b not answered yet hears res. */
static void
br_reserves_fail(struct br_batch *b, enum budget_result res)
{
	struct br_req	*req;

	while ((req = TAILQ_FIRST(&b->reqs)) != NULL) {
		TAILQ_REMOVE(&b->reqs, req, entry);
		if (req->done)
			br_req_free(req);
		else
			br_finish(req, res, 0);
	}
	br_batch_free(b);
}

/*
 * Is r what the reserve script returns for b: a status per reserve, then
 * six amounts per counter (into st)?  -1 with *why set if not.
 */
static int
br_reserves_parse(const struct br_batch *b, const redisReply *r, int64_t *st,
    const char **why)
{
	const redisReply	*e;
	const struct br_req	*req;
	long long		 v;
	size_t			 i = 0;

	if (r->type != REDIS_REPLY_ARRAY) {
		*why = "reply is not an array";
		return (-1);
	}
	if (r->elements != b->nreqs + 6 * b->nkeys) {
		*why = "reply has the wrong length";
		return (-1);
	}
	TAILQ_FOREACH(req, &b->reqs, entry) {
		e = r->element[i++];
		if (e == NULL || e->type != REDIS_REPLY_INTEGER) {
			*why = "status is not an integer";
			return (-1);
		}
		if (e->integer < 0 ||
		    (unsigned long long)e->integer > req->nchecks) {
			*why = "denied check out of range";
			return (-1);
		}
	}
	for (i = 0; i < 6 * b->nkeys; i++) {
		e = r->element[b->nreqs + i];
		if (e == NULL || e->type != REDIS_REPLY_STRING ||
		    util_strtoll(e->str, e->len, LLONG_MIN, LLONG_MAX,
		    &v) != 0) {
			*why = "amount is not an integer";
			return (-1);
		}
		st[i] = v;
	}
	return (0);
}

static void	br_reserves_send(struct br_batch *);

/*
 * The reserve step's reply.  Each reserve's states are its counters as
 * Redis had them before the step plus what the reserves before it in
 * the step leased on them: as if it had run alone.
 */
static void
br_reserves_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct br_batch		*b = privdata;
	const redisReply	*r = reply;
	struct br_wctx		*w;
	struct br_req		*req;
	struct budget_plan	*plan;
	enum budget_result	 res;
	int64_t			*st, *v;
	long long		 status;
	size_t			 idx[BUDGET_NCOUNTERS], pos[BUDGET_NCOUNTERS];
	size_t			 i, j, s = 0;
	const char		*why;

	(void)ac;
	if (b == NULL || b->magic != BR_BATCH_MAGIC)
		fatalx("redis: bad batch in reply");
	w = b->w;
	if (r == NULL) {
		log_debug("redis: reserve of %zu leases: connection lost",
		    b->nreqs);
		br_reserves_fail(b, BUDGET_UNAVAILABLE);
		return;
	}
	w->last_reply_ms = br_mono_ms();
	if (br_batch_noscript(b, r, br_reserves_send))
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		log_warn("redis: reserve of %zu leases failed: %s", b->nreqs,
		    r->str != NULL ? r->str : "?");
		br_reserves_fail(b, BUDGET_UNAVAILABLE);
		return;
	}
	st = xreallocarray(NULL, 6 * b->nkeys + 1, sizeof *st);
	if (br_reserves_parse(b, r, st, &why) != 0) {
		log_error("redis: reserve of %zu leases: malformed reply: %s",
		    b->nreqs, why);
		free(st);
		br_reserves_fail(b, BUDGET_UNAVAILABLE);
		return;
	}
	w->down_logged = 0;
	while ((req = TAILQ_FIRST(&b->reqs)) != NULL) {
		TAILQ_REMOVE(&b->reqs, req, entry);
		status = r->element[s++]->integer;
		res = status == 0 ? BUDGET_OK : BUDGET_DENIED;
		if (!req->done) {
			plan = req->plan;
			br_checked(plan, idx, pos);
			memset(plan->state, 0,
			    plan->ncounters * sizeof plan->state[0]);
			for (i = 0; i < req->nkeys; i++) {
				v = &st[6 * req->kidx[i]];
				for (j = 0; j < 3; j++) {
					plan->state[idx[i]].used.v[j] = v[j];
					plan->state[idx[i]].leased.v[j] =
					    v[3 + j];
				}
			}
			if (status != 0)
				plan->denied = (size_t)status - 1;
		}
		/* What it leased, the next ones saw. */
		for (i = 0; i < req->nkeys && status == 0; i++) {
			v = &st[6 * req->kidx[i]];
			for (j = 0; j < 3; j++) {
				if (br_add(&v[3 + j], req->reserve.v[j]) != 0)
					v[3 + j] = INT64_MAX;
			}
		}
		if (req->done)
			br_req_free(req);
		else
			br_finish(req, res, 0);
	}
	free(st);
	br_batch_free(b);
}

/*
 * Send b's reserves as one reserve step.  Those whose caller already
 * heard (timed out) are left out.  When the reserves on a counter do not
 * add up in 64 bits, each goes alone.
 */
static void
br_reserves_send(struct br_batch *b)
{
	struct br_req	*req, *next;
	struct br_reqs	 one;
	struct br_ktab	 kt;
	struct br_argv	 a;
	struct br_bkey	*k;
	size_t		 i, j, e, nchk, max = 5;
	int		 ok = 1;

	for (req = TAILQ_FIRST(&b->reqs); req != NULL; req = next) {
		next = TAILQ_NEXT(req, entry);
		if (req->done) {
			TAILQ_REMOVE(&b->reqs, req, entry);
			b->nreqs--;
			br_req_free(req);
		}
	}
	if (b->nreqs == 0) {
		br_batch_free(b);
		return;
	}
	br_ktab_init(&kt, b->nreqs * BUDGET_NCOUNTERS);
	TAILQ_FOREACH(req, &b->reqs, entry) {
		for (i = 0; i < req->nkeys; i++) {
			e = 1 + req->nkeys + 8 + i;
			k = br_ktab_get(&kt, req->args.buf +
			    req->args.off[1 + i], req->args.alen[1 + i],
			    req->args.buf + req->args.off[e],
			    req->args.alen[e]);
			req->kidx[i] = k->idx;
			for (j = 0; j < 3; j++) {
				if (br_add(&k->add[j], req->reserve.v[j]) != 0)
					ok = 0;
			}
		}
		max += 8 + req->nkeys + 3 * req->nchecks;
	}
	if (!ok && b->nreqs > 1) {
		br_ktab_free(&kt);
		while ((req = TAILQ_FIRST(&b->reqs)) != NULL) {
			TAILQ_REMOVE(&b->reqs, req, entry);
			TAILQ_INIT(&one);
			TAILQ_INSERT_TAIL(&one, req, entry);
			br_reserves_send(br_batch_new(b->w, BR_RESERVE, &one,
			    1));
		}
		br_batch_free(b);
		return;
	}
	b->nkeys = kt.n;
	br_argv_init(&a, max + 5 * kt.n, b);
	br_argv_num(&a, (long long)kt.n);
	for (i = 0; i < kt.n; i++)
		br_argv_str(&a, kt.order[i]->key, kt.order[i]->len);
	req = TAILQ_LAST(&b->reqs, br_reqs);
	br_argv_arg(&a, req, 1 + req->nkeys);		/* now */
	br_argv_num(&a, (long long)b->nreqs);
	for (i = 0; i < kt.n; i++) {
		k = kt.order[i];
		br_argv_str(&a, k->exp, k->explen);
		for (j = 0; j < 3; j++)
			br_argv_num(&a, k->add[j]);
	}
	TAILQ_FOREACH(req, &b->reqs, entry) {
		e = 1 + req->nkeys;	/* now, id, deadline, r0 r1 r2, ... */
		br_argv_arg(&a, req, e + 1);
		br_argv_arg(&a, req, e + 2);
		br_argv_arg(&a, req, e + 6);
		for (j = 0; j < 3; j++)
			br_argv_arg(&a, req, e + 3 + j);
		br_argv_num(&a, (long long)req->nkeys);
		br_argv_arg(&a, req, e + 7);
		for (i = 0; i < req->nkeys; i++)
			br_argv_num(&a, (long long)req->kidx[i] + 1);
		nchk = 3 * req->nchecks;
		for (i = 0; i < nchk; i++)
			br_argv_arg(&a, req, e + 8 + req->nkeys + i);
	}
	br_ktab_free(&kt);
	if (br_argv_send(&a, b, br_reserves_reply) != 0)
		br_reserves_fail(b, BUDGET_UNAVAILABLE);
}

/*
 * Send the steps this loop turn made, settles first: one settle alone as
 * it is, more as one settlen step, which costs Redis a few commands per
 * settle plus one increment per counter and unit for all of them
 * together; the reserves as one reserve step, which reads each counter
 * once and raises it once.
 */
static void
br_flush(struct br_wctx *w)
{
	size_t	n;

	if ((n = w->nbatch) != 0) {
		w->nbatch = 0;
		if (n == 1 || w->ac == NULL)
			br_settle_each(w, &w->batch);
		else
			br_settles_send(br_batch_new(w, BR_SETTLEN, &w->batch,
			    n));
	}
	if ((n = w->nrbatch) != 0) {
		w->nrbatch = 0;
		br_reserves_send(br_batch_new(w, BR_RESERVE, &w->rbatch, n));
	}
}

static void
br_batch_cb(evutil_socket_t fd, short events, void *arg)
{
	struct br_wctx	*w = arg;

	(void)fd;
	(void)events;
	if (w->magic != BR_WCTX_MAGIC)
		fatalx("redis: bad worker in batch timer");
	br_flush(w);
}

static void
br_settle(void *wctx, const struct budget_plan *plan)
{
	struct br_wctx	*w;
	struct br_req	*req, *q;
	size_t		 idx[BUDGET_NCOUNTERS];
	size_t		 pos[BUDGET_NCOUNTERS], i, n;

	if ((req = br_fire(wctx, BR_SETTLE, plan)) == NULL)
		return;
	w = req->w;
	req->nkeys = plan->ncounters;
	n = br_checked(plan, idx, pos);
	for (i = 0; i < n; i++)
		req->leased[idx[i]] = 1;
	req->nleased = n;
	req->reserve = plan->reserve;
	req->actual = plan->actual;
	/* One settle per lease in a batch: the script checks them first. */
	TAILQ_FOREACH(q, &w->batch, entry) {
		if (strcmp(q->lease_id, req->lease_id) == 0) {
			br_flush(w);
			break;
		}
	}
	TAILQ_INSERT_TAIL(&w->batch, req, entry);
	if (++w->nbatch >= BR_BATCH_MAX)
		br_flush(w);
	else
		br_batch_later(w);
}

/* Not queued while Redis is away: the next tick renews again. */
static void
br_renew(void *wctx, const struct budget_plan *plan)
{
	struct br_req	*req;

	if ((req = br_fire(wctx, BR_RENEW, plan)) != NULL)
		br_flush(req->w);
	if (req != NULL && br_send(req) != 0) {
		br_renew_failed(req->w, BR_RENEW_UNSENT, req->lease_id, NULL);
		br_req_free(req);
	}
}

const struct budget_store_ops budget_redis_ops = {
	.name = "redis",
	.worker_init = br_worker_init,
	.worker_free = br_worker_free,
	.reserve = br_reserve,
	.settle = br_settle,
	.peek = br_peek,
	.renew = br_renew,
};

/* Check a reply of the blocking connection; -1 and *cause if bad. */
static int
br_sync_check(redisContext *c, redisReply *r, const char *what, char **cause)
{
	if (r == NULL) {
		xasprintf(cause, "redis: %s: %s", what,
		    c->errstr[0] != '\0' ? c->errstr : "no reply");
		return (-1);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		xasprintf(cause, "redis: %s: %s", what, r->str);
		return (-1);
	}
	return (0);
}

int
budget_redis_reconcile(void *store, const char * const *keys,
    const int64_t *end_ms, const struct budget_amount *used, size_t n,
    int64_t now_ms, char **cause)
{
	struct br_store	*s = store;
	redisContext	*c = NULL;
	redisReply	*r = NULL;
	struct timeval	 tv;
	const char	*argv[8];
	size_t		 argvlen[8], i, j, batch, rounds;
	char		*key = NULL, num[4][32];
	int		 ret = -1, ms, k;
	void		*rp;

	if (s == NULL || s->magic != BR_STORE_MAGIC)
		fatalx("redis: bad store");
	ms = s->timeout_ms < 5000 ? 5000 : s->timeout_ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	c = redisConnectWithTimeout(s->host, s->port, tv);
	if (c == NULL || c->err != 0) {
		xasprintf(cause, "redis %s:%d: %s", s->host, s->port,
		    c != NULL ? c->errstr : "out of memory");
		goto out;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		xasprintf(cause, "redis: cannot set a timeout");
		goto out;
	}
	if (s->password != NULL) {
		argv[0] = "AUTH";
		argv[1] = s->password;
		argvlen[0] = 4;
		argvlen[1] = strlen(s->password);
		r = redisCommandArgv(c, 2, argv, argvlen);
		if (br_sync_check(c, r, "AUTH", cause) != 0)
			goto out;
		freeReplyObject(r);
		r = NULL;
	}
	if (s->db != 0) {
		r = redisCommand(c, "SELECT %d", s->db);
		if (br_sync_check(c, r, "SELECT", cause) != 0)
			goto out;
		freeReplyObject(r);
		r = NULL;
	}

	/* Pipelined, a batch at a time: HSET u0 u1 u2, PEXPIREAT. */
	for (i = 0; i < n; i += batch) {
		batch = n - i < BR_RECONCILE_BATCH ? n - i : BR_RECONCILE_BATCH;
		for (j = i; j < i + batch; j++) {
			xasprintf(&key, "tg:c:%s", keys[j]);
			argv[0] = "HSET";
			argv[1] = key;
			argv[2] = "u0";
			argv[4] = "u1";
			argv[6] = "u2";
			for (k = 0; k < BUDGET_NUNITS; k++) {
				snprintf(num[k], sizeof num[k], "%" PRId64,
				    used[j].v[k]);
				argv[3 + 2 * k] = num[k];
			}
			for (k = 0; k < 8; k++)
				argvlen[k] = strlen(argv[k]);
			if (redisAppendCommandArgv(c, 8, argv, argvlen) !=
			    REDIS_OK) {
				xasprintf(cause, "redis: %s", c->errstr);
				goto out;
			}
			snprintf(num[3], sizeof num[3], "%" PRId64,
			    end_ms[j] + BR_DAY_MS);
			argv[0] = "PEXPIREAT";
			argv[2] = num[3];
			for (k = 0; k < 3; k++)
				argvlen[k] = strlen(argv[k]);
			if (redisAppendCommandArgv(c, 3, argv, argvlen) !=
			    REDIS_OK) {
				xasprintf(cause, "redis: %s", c->errstr);
				goto out;
			}
			free(key);
			key = NULL;
		}
		for (j = 0; j < 2 * batch; j++) {
			rp = NULL;
			if (redisGetReply(c, &rp) != REDIS_OK)
				rp = NULL;
			r = rp;
			if (br_sync_check(c, r, keys[i + j / 2], cause) != 0)
				goto out;
			freeReplyObject(r);
			r = NULL;
		}
	}

	/* Drop leases whose deadline passed, BR_PURGE_MAX per call. */
	snprintf(num[0], sizeof num[0], "%" PRId64, now_ms);
	argv[0] = "EVAL";
	argv[1] = br_lua_purge;
	argv[2] = "0";
	argv[3] = num[0];
	argvlen[0] = 4;
	argvlen[1] = sizeof br_lua_purge - 1;
	argvlen[2] = 1;
	argvlen[3] = strlen(num[0]);
	for (rounds = 0; rounds < 100000; rounds++) {
		r = redisCommandArgv(c, 4, argv, argvlen);
		if (br_sync_check(c, r, "purge", cause) != 0)
			goto out;
		if (r->type != REDIS_REPLY_INTEGER) {
			xasprintf(cause, "redis: purge: malformed reply");
			goto out;
		}
		if (r->integer < BR_PURGE_MAX)
			break;
		freeReplyObject(r);
		r = NULL;
	}
	ret = 0;
out:
	free(key);
	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return (ret);
}
