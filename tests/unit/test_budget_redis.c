/*
 * The Redis counter store against a real redis-server on a free loopback
 * port, driven through budget_redis_ops on a real event_base.  The store's
 * .c is included so that the test can set its clock (lease deadlines are
 * tested by moving now_ms, not by sleeping) and reach the reply parser.
 */
#include "config.h"

#include "../../src/budget_redis.c"

#include <sys/socket.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "tap.h"

#define HOUR_MS		3600000
#define LEASE_MS	60000

static struct event_base	*base;
static struct event		*tick;
static redisContext		*adm;		/* blocking, for checks */
static void			*store;		/* timeout 2000 ms */
static void			*w;		/* its worker */
static int			 port;
static pid_t			 redis_pid = -1;
static int64_t			 t0;		/* real now at start */
static int64_t			 fake_now;

static int64_t
fake_clock(void)
{
	return (fake_now);
}

static int
free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd, p;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return (-1);
	}
	p = ntohs(sin.sin_port);
	close(fd);
	return (p);
}

/* A blocking connection that answers PING, or NULL after ms. */
static redisContext *
redis_wait(int ms)
{
	struct timeval	 tv = { 0, 200000 };
	redisContext	*c;
	redisReply	*r;
	int64_t		 end = br_mono_ms() + ms;

	do {
		c = redisConnectWithTimeout("127.0.0.1", port, tv);
		if (c != NULL && c->err == 0) {
			r = redisCommand(c, "PING");
			if (r != NULL && r->type == REDIS_REPLY_STATUS) {
				freeReplyObject(r);
				return (c);
			}
			if (r != NULL)
				freeReplyObject(r);
		}
		if (c != NULL)
			redisFree(c);
		usleep(20000);
	} while (br_mono_ms() < end);
	return (NULL);
}

static int
redis_start(void)
{
	char	p[16];
	int	fd;

	snprintf(p, sizeof p, "%d", port);
	if ((redis_pid = fork()) == -1)
		return (-1);
	if (redis_pid == 0) {
#ifdef __linux__
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlive us */
#endif
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("redis-server", "redis-server", "--port", p,
		    "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		    "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	if (adm != NULL)
		redisFree(adm);
	if ((adm = redis_wait(5000)) == NULL)
		return (-1);
	return (0);
}

static void
redis_kill(void)
{
	if (redis_pid <= 0)
		return;
	kill(redis_pid, SIGCONT);
	kill(redis_pid, SIGKILL);
	waitpid(redis_pid, NULL, 0);
	redis_pid = -1;
}

static void
tick_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
}

/* Run the loop until *n reaches want or ms pass. */
static void
run_until(const int *n, int want, int ms)
{
	int64_t	end = br_mono_ms() + ms;

	while ((n == NULL || *n < want) && br_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
}

static void
run_for(int ms)
{
	run_until(NULL, 0, ms);
}

struct tally {
	int			n;
	int			res[3];
	enum budget_result	last;
	int64_t			at_ms;		/* monotonic, of the last */
};

static void
done_cb(enum budget_result res, struct budget_plan *plan, void *arg)
{
	struct tally	*t = arg;

	(void)plan;
	t->n++;
	t->res[res]++;
	t->last = res;
	t->at_ms = br_mono_ms();
}

/* Ten counters "<tag>/<i>" whose windows end an hour from now. */
static void
mkplan(struct budget_plan *p, const char *tag, const char *lease)
{
	size_t	i;

	memset(p, 0, sizeof *p);
	p->ncounters = BUDGET_NCOUNTERS;
	for (i = 0; i < BUDGET_NCOUNTERS; i++) {
		p->counters[i].scope = i < BUDGET_NPER ? SCOPE_APP : SCOPE_TEAM;
		p->counters[i].per = (enum cfg_per)(i % BUDGET_NPER);
		p->counters[i].start_ms = t0 - HOUR_MS;
		p->counters[i].end_ms = t0 + HOUR_MS + (int64_t)i;
		snprintf(p->counters[i].key, sizeof p->counters[i].key,
		    "%s/%zu", tag, i);
	}
	snprintf(p->lease_id, sizeof p->lease_id, "%s", lease);
	p->deadline_ms = fake_now + LEASE_MS;
}

static void
add_check(struct budget_plan *p, size_t counter, enum cfg_unit unit,
    int64_t limit)
{
	p->checks[p->nchecks].counter = counter;
	p->checks[p->nchecks].unit = unit;
	p->checks[p->nchecks].limit = limit;
	p->nchecks++;
}

static void
set_amount(struct budget_amount *a, int64_t usd, int64_t tok, int64_t req)
{
	a->v[UNIT_USD] = usd;
	a->v[UNIT_TOKENS] = tok;
	a->v[UNIT_REQUESTS] = req;
}

/* One step, waited for; BUDGET_UNAVAILABLE + 10 when it never answered. */
static int
step(void *wctx, int peek, struct budget_plan *p)
{
	struct tally	t = { 0 };

	if (peek)
		budget_redis_ops.peek(wctx, p, done_cb, &t);
	else
		budget_redis_ops.reserve(wctx, p, done_cb, &t);
	run_until(&t.n, 1, 5000);
	if (t.n != 1)
		return (BUDGET_UNAVAILABLE + 10);
	return ((int)t.last);
}

/*
 * Wait until a peek queued behind earlier steps on wctx ran (settles
 * waiting for their loop turn are sent before it).
 */
static void
barrier(void *wctx)
{
	struct budget_plan	q;

	mkplan(&q, "barrier", "barrier");
	step(wctx, 1, &q);
}

static void
settle_wait(void *wctx, const struct budget_plan *p)
{
	budget_redis_ops.settle(wctx, p);
	barrier(wctx);
}

/* Renew p's lease to deadline, and wait until Redis ran it. */
static void
renew_wait(void *wctx, struct budget_plan *p, int64_t deadline)
{
	p->deadline_ms = deadline;
	budget_redis_ops.renew(wctx, p);
	barrier(wctx);
}

static long long
cmd_int(const char *fmt, ...)
{
	redisReply	*r;
	va_list		 ap;
	long long	 v = -999;

	va_start(ap, fmt);
	r = redisvCommand(adm, fmt, ap);
	va_end(ap);
	if (r == NULL)
		return (v);
	if (r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	else if (r->type == REDIS_REPLY_STRING)
		v = strtoll(r->str, NULL, 10);
	else if (r->type == REDIS_REPLY_NIL)
		v = 0;
	freeReplyObject(r);
	return (v);
}

static void
cmd(const char *fmt, ...)
{
	redisReply	*r;
	va_list		 ap;

	va_start(ap, fmt);
	r = redisvCommand(adm, fmt, ap);
	va_end(ap);
	if (r != NULL)
		freeReplyObject(r);
}

/* Field f of counter i of plan p, as stored. */
static long long
field(const struct budget_plan *p, size_t i, const char *f)
{
	return (cmd_int("HGET tg:c:%s %s", p->counters[i].key, f));
}

/* Sum of field f over all of p's counters. */
static long long
field_sum(const struct budget_plan *p, const char *f)
{
	long long	sum = 0;
	size_t		i;

	for (i = 0; i < p->ncounters; i++)
		sum += field(p, i, f);
	return (sum);
}

/* Calls of command name ("eval", "evalsha") so far. */
static long long
calls(const char *name)
{
	redisReply	*r;
	const char	*s;
	char		 pat[64];
	long long	 v = -1;

	snprintf(pat, sizeof pat, "cmdstat_%s:calls=", name);
	r = redisCommand(adm, "INFO commandstats");
	if (r != NULL && r->type == REDIS_REPLY_STRING &&
	    (s = strstr(r->str, pat)) != NULL)
		v = strtoll(s + strlen(pat), NULL, 10);
	else if (r != NULL && r->type == REDIS_REPLY_STRING)
		v = 0;
	if (r != NULL)
		freeReplyObject(r);
	return (v);
}

static void
test_urls(void)
{
	static const struct {
		const char	*name;
		const char	*url;
		int		 timeout_ms;
		const char	*host;	/* NULL: rejected */
		int		 port;
		const char	*password;
		int		 db;
	} cases[] = {
		{ "plain", "redis://127.0.0.1", 250, "127.0.0.1", 6379,
		    NULL, 0 },
		{ "port and db", "redis://h.example:6380/3", 250, "h.example",
		    6380, NULL, 3 },
		{ "trailing slash", "redis://h/", 250, "h", 6379, NULL, 0 },
		{ "password", "redis://:s3cret@h:1/15", 250, "h", 1,
		    "s3cret", 15 },
		{ "escaped password", "redis://:a%2Fb%40c%3a@h", 250, "h",
		    6379, "a/b@c:", 0 },
		{ "ipv6", "redis://[::1]:7000/2", 250, "::1", 7000, NULL, 2 },
		{ "empty", "", 250, NULL, 0, NULL, 0 },
		{ "http", "http://h:6379", 250, NULL, 0, NULL, 0 },
		{ "tls", "rediss://h:6379", 250, NULL, 0, NULL, 0 },
		{ "no host", "redis://", 250, NULL, 0, NULL, 0 },
		{ "no host, port", "redis://:6379", 250, NULL, 0, NULL, 0 },
		{ "port 0", "redis://h:0", 250, NULL, 0, NULL, 0 },
		{ "port too big", "redis://h:65536", 250, NULL, 0, NULL, 0 },
		{ "port not a number", "redis://h:ab", 250, NULL, 0, NULL, 0 },
		{ "empty port", "redis://h:", 250, NULL, 0, NULL, 0 },
		{ "db not a number", "redis://h/x", 250, NULL, 0, NULL, 0 },
		{ "negative db", "redis://h/-1", 250, NULL, 0, NULL, 0 },
		{ "db with path", "redis://h/1/2", 250, NULL, 0, NULL, 0 },
		{ "user name", "redis://u:p@h", 250, NULL, 0, NULL, 0 },
		{ "empty password", "redis://:@h", 250, NULL, 0, NULL, 0 },
		{ "bad escape", "redis://:a%zz@h", 250, NULL, 0, NULL, 0 },
		{ "short escape", "redis://:a%2@h", 250, NULL, 0, NULL, 0 },
		{ "two @", "redis://:a@b@h", 250, NULL, 0, NULL, 0 },
		{ "query", "redis://h/0?x=1", 250, NULL, 0, NULL, 0 },
		{ "unclosed ipv6", "redis://[::1:6379", 250, NULL, 0, NULL,
		    0 },
		{ "junk after ipv6", "redis://[::1]x", 250, NULL, 0, NULL, 0 },
		{ "zero timeout", "redis://h", 0, NULL, 0, NULL, 0 },
	};
	struct br_store	*s;
	char		*cause;
	size_t		 i;

	for (i = 0; i < nitems(cases); i++) {
		cause = NULL;
		s = budget_redis_new(cases[i].url, cases[i].timeout_ms,
		    &cause);
		if (cases[i].host == NULL) {
			ok(s == NULL && cause != NULL && cause[0] != '\0',
			    "url %s: rejected (%s)", cases[i].name,
			    cause != NULL ? cause : "no cause");
		} else {
			ok(s != NULL && cause == NULL &&
			    strcmp(s->host, cases[i].host) == 0 &&
			    s->port == cases[i].port &&
			    s->db == cases[i].db &&
			    (cases[i].password == NULL ?
			    s->password == NULL : s->password != NULL &&
			    strcmp(s->password, cases[i].password) == 0),
			    "url %s: parsed", cases[i].name);
		}
		free(cause);
		budget_redis_free(s);
	}
}

/* The reply parser on replies the script never sends. */
static void
test_parse(void)
{
	static const struct {
		const char	*name;
		int		 type;		/* of the reply */
		int		 len_delta;	/* elements vs expected */
		int		 status_type;
		long long	 status;
		long long	 index;
		int		 amount_type;
		const char	*amount;
		int		 want;		/* 0: parses */
		enum budget_result res;
	} cases[] = {
		{ "ok", REDIS_REPLY_ARRAY, 0, REDIS_REPLY_INTEGER, 0, 0,
		    REDIS_REPLY_STRING, "42", 0, BUDGET_OK },
		{ "denied", REDIS_REPLY_ARRAY, 0, REDIS_REPLY_INTEGER, 1, 1,
		    REDIS_REPLY_STRING, "-7", 0, BUDGET_DENIED },
		{ "not an array", REDIS_REPLY_INTEGER, 0, REDIS_REPLY_INTEGER,
		    0, 0, REDIS_REPLY_STRING, "1", -1, BUDGET_OK },
		{ "short", REDIS_REPLY_ARRAY, -1, REDIS_REPLY_INTEGER, 0, 0,
		    REDIS_REPLY_STRING, "1", -1, BUDGET_OK },
		{ "long", REDIS_REPLY_ARRAY, 1, REDIS_REPLY_INTEGER, 0, 0,
		    REDIS_REPLY_STRING, "1", -1, BUDGET_OK },
		{ "status string", REDIS_REPLY_ARRAY, 0, REDIS_REPLY_STRING,
		    0, 0, REDIS_REPLY_STRING, "1", -1, BUDGET_OK },
		{ "unknown status", REDIS_REPLY_ARRAY, 0, REDIS_REPLY_INTEGER,
		    7, 0, REDIS_REPLY_STRING, "1", -1, BUDGET_OK },
		{ "denied index past checks", REDIS_REPLY_ARRAY, 0,
		    REDIS_REPLY_INTEGER, 1, 2, REDIS_REPLY_STRING, "1", -1,
		    BUDGET_OK },
		{ "negative index", REDIS_REPLY_ARRAY, 0, REDIS_REPLY_INTEGER,
		    1, -1, REDIS_REPLY_STRING, "1", -1, BUDGET_OK },
		{ "amount not a number", REDIS_REPLY_ARRAY, 0,
		    REDIS_REPLY_INTEGER, 0, 0, REDIS_REPLY_STRING, "1.5", -1,
		    BUDGET_OK },
		{ "amount empty", REDIS_REPLY_ARRAY, 0, REDIS_REPLY_INTEGER,
		    0, 0, REDIS_REPLY_STRING, "", -1, BUDGET_OK },
		{ "amount overflows", REDIS_REPLY_ARRAY, 0,
		    REDIS_REPLY_INTEGER, 0, 0, REDIS_REPLY_STRING,
		    "99999999999999999999", -1, BUDGET_OK },
		{ "amount nil", REDIS_REPLY_ARRAY, 0, REDIS_REPLY_INTEGER, 0,
		    0, REDIS_REPLY_NIL, NULL, -1, BUDGET_OK },
	};
	struct budget_plan	 plan;
	redisReply		 top, el[2 + 6 * 2 + 1], *elp[2 + 6 * 2 + 1];
	enum budget_result	 res;
	const char		*why;
	size_t			 i, j, n;
	int			 rc;

	for (i = 0; i < nitems(cases); i++) {
		mkplan(&plan, "parse", "parse");
		plan.ncounters = 2;
		add_check(&plan, 0, UNIT_USD, 1);
		add_check(&plan, 1, UNIT_USD, 1);
		plan.denied = 99;
		n = (size_t)((int)(2 + 6 * plan.ncounters) +
		    cases[i].len_delta);
		memset(&top, 0, sizeof top);
		memset(el, 0, sizeof el);
		top.type = cases[i].type;
		top.elements = cases[i].type == REDIS_REPLY_ARRAY ? n : 0;
		top.element = elp;
		for (j = 0; j < n; j++) {
			elp[j] = &el[j];
			if (j < 2) {
				el[j].type = cases[i].status_type;
				el[j].integer = j == 0 ? cases[i].status :
				    cases[i].index;
				el[j].str = (char *)"0";
				el[j].len = 1;
			} else {
				el[j].type = cases[i].amount_type;
				el[j].str = (char *)cases[i].amount;
				el[j].len = cases[i].amount == NULL ? 0 :
				    strlen(cases[i].amount);
			}
		}
		res = BUDGET_UNAVAILABLE;
		why = NULL;
		rc = br_parse_states(&top, &plan, &res, &why);
		if (cases[i].want == 0) {
			ok(rc == 0 && res == cases[i].res &&
			    plan.state[1].leased.v[2] ==
			    strtoll(cases[i].amount, NULL, 10) &&
			    (res != BUDGET_DENIED ||
			    plan.denied == (size_t)cases[i].index),
			    "parse %s", cases[i].name);
		} else {
			ok(rc == -1 && why != NULL &&
			    plan.state[0].used.v[0] == 0 && plan.denied == 99,
			    "parse %s: rejected (%s), plan untouched",
			    cases[i].name, why != NULL ? why : "?");
		}
	}
}

static void
case_reserve_ok(void)
{
	struct budget_plan	p, q;
	size_t			i;
	int			all;

	mkplan(&p, "rok", "lease-rok-1");
	cmd("HSET tg:c:%s u0 100 u1 5", p.counters[0].key);
	add_check(&p, 0, UNIT_USD, 1000000);
	set_amount(&p.reserve, 1000, 50, 1);
	is_int(step(w, 0, &p), BUDGET_OK, "reserve: OK");
	ok(p.state[0].used.v[0] == 100 && p.state[0].used.v[1] == 5 &&
	    p.state[0].used.v[2] == 0 && p.state[0].leased.v[0] == 0 &&
	    p.state[9].used.v[0] == 0, "reserve: state before the lease");
	ok(field(&p, 0, "l0") == 1000 && field(&p, 0, "l1") == 50 &&
	    field(&p, 0, "l2") == 1,
	    "reserve: leased on the counter its check reads, every unit");
	all = 1;
	for (i = 1; i < p.ncounters; i++) {
		if (cmd_int("EXISTS tg:c:%s", p.counters[i].key) != 0)
			all = 0;
	}
	ok(all, "reserve: the counters no check reads are not written");
	is_int(cmd_int("PEXPIRETIME tg:c:%s", p.counters[0].key),
	    p.counters[0].end_ms + BR_DAY_MS,
	    "reserve: counter expires a day after its window");
	is_int(cmd_int("HGET tg:lease:lease-rok-1 n"), 1,
	    "reserve: lease names its counters");
	is_int(cmd_int("ZSCORE tg:leases lease-rok-1"), p.deadline_ms,
	    "reserve: lease indexed by its deadline");

	q = p;
	snprintf(q.lease_id, sizeof q.lease_id, "lease-rok-2");
	is_int(step(w, 0, &q), BUDGET_OK, "reserve again: OK");
	ok(q.state[0].leased.v[0] == 1000 && q.state[0].leased.v[1] == 50 &&
	    q.state[0].used.v[0] == 100 && q.state[3].leased.v[0] == 0,
	    "reserve again: sees the first lease");

	/* The same lease id again replaces, never stacks. */
	is_int(step(w, 0, &q), BUDGET_OK, "same lease id again: OK");
	is_int(field(&p, 0, "l0"), 2000, "same lease id again: not stacked");
}

static void
case_denied(void)
{
	static const struct {
		const char	*name;
		int64_t		 limit;	/* tokens on counter 3 */
		int		 want;
	} cases[] = {
		{ "one over", 90 + 50 - 1, BUDGET_DENIED },
		{ "exactly at the limit", 90 + 50, BUDGET_OK },
	};
	struct budget_plan	p;
	size_t			i;

	for (i = 0; i < nitems(cases); i++) {
		cmd("FLUSHALL");
		mkplan(&p, "den", "lease-den");
		cmd("HSET tg:c:%s u1 90", p.counters[3].key);
		add_check(&p, 0, UNIT_USD, 1000000000);
		add_check(&p, 3, UNIT_TOKENS, cases[i].limit);
		add_check(&p, 7, UNIT_REQUESTS, 0);	/* would fail too */
		set_amount(&p.reserve, 1000, 50, 0);
		is_int(step(w, 0, &p), cases[i].want, "limit %s: result",
		    cases[i].name);
		if (cases[i].want == BUDGET_DENIED) {
			is_int(p.denied, 1, "limit %s: the failing check",
			    cases[i].name);
			ok(field_sum(&p, "l0") == 0 &&
			    field_sum(&p, "l1") == 0 &&
			    cmd_int("EXISTS tg:lease:lease-den") == 0 &&
			    cmd_int("ZCARD tg:leases") == 0,
			    "limit %s: nothing leased", cases[i].name);
		}
		is_int(p.state[3].used.v[1], 90, "limit %s: state",
		    cases[i].name);
	}

	/* Leased amounts count against the limit. */
	cmd("FLUSHALL");
	mkplan(&p, "den2", "lease-den2-a");
	cmd("HSET tg:c:%s u1 90", p.counters[0].key);
	add_check(&p, 0, UNIT_TOKENS, 200);
	set_amount(&p.reserve, 0, 50, 1);
	is_int(step(w, 0, &p), BUDGET_OK, "used 90 + 0 + 50 <= 200");
	snprintf(p.lease_id, sizeof p.lease_id, "lease-den2-b");
	is_int(step(w, 0, &p), BUDGET_OK, "used 90 + 50 + 50 <= 200");
	snprintf(p.lease_id, sizeof p.lease_id, "lease-den2-c");
	is_int(step(w, 0, &p), BUDGET_DENIED, "used 90 + 100 + 50 > 200");
	is_int(p.state[0].leased.v[1], 100, "denied: state shows leased");
}

static void
case_settle(void)
{
	struct budget_plan	p;

	mkplan(&p, "set", "lease-set");
	add_check(&p, 0, UNIT_USD, 1000000);
	set_amount(&p.reserve, 1000, 50, 1);
	is_int(step(w, 0, &p), BUDGET_OK, "settle: reserve");
	set_amount(&p.actual, 700, 40, 1);
	settle_wait(w, &p);
	ok(field_sum(&p, "l0") == 0 && field_sum(&p, "l1") == 0 &&
	    field_sum(&p, "l2") == 0, "settle: lease taken off everywhere");
	ok(field_sum(&p, "u0") == 7000 && field_sum(&p, "u1") == 400 &&
	    field_sum(&p, "u2") == 10, "settle: actual added everywhere");
	ok(cmd_int("EXISTS tg:lease:lease-set") == 0 &&
	    cmd_int("ZCARD tg:leases") == 0, "settle: lease gone");
	settle_wait(w, &p);
	ok(field(&p, 0, "u0") == 700 && field(&p, 0, "l0") == 0,
	    "settle twice: counted once");
	ok(cmd_int("PTTL tg:settled:lease-set") > 0,
	    "settle: marked for a day");
}

/*
 * Settles of one loop turn go as one settlen step and count exactly as
 * one by one; when one of them could not take its lease off whole (done
 * already, lease gone), or the script is not loaded, they still do.
 */
static void
case_settle_batch(void)
{
	static const char *const why[] = {
		"all fresh", "one settled already", "one lease purged",
		"after SCRIPT FLUSH"
	};
	struct budget_plan	p[3];
	size_t			i, k;
	long long		ev, evsha, u0, l0, u0off, u2off;

	for (k = 0; k < nitems(why); k++) {
		cmd("FLUSHALL");
		for (i = 0; i < 3; i++) {
			mkplan(&p[i], "bat", "");
			snprintf(p[i].lease_id, sizeof p[i].lease_id,
			    "lease-bat-%zu", i);
			add_check(&p[i], 0, UNIT_USD, 1000000);
			add_check(&p[i], 7, UNIT_TOKENS, 1000000);
			set_amount(&p[i].reserve, 1000, 50, 1);
			is_int(step(w, 0, &p[i]), BUDGET_OK, "batch %s: "
			    "reserve %zu", why[k], i);
			set_amount(&p[i].actual, 100 * (int64_t)(i + 1), 7, 1);
		}
		if (k == 1)
			settle_wait(w, &p[1]);
		if (k == 2)
			cmd("DEL tg:lease:lease-bat-2");	/* as a purge */
		if (k == 3)
			cmd("SCRIPT FLUSH");
		ev = calls("eval");
		evsha = calls("evalsha");
		for (i = 0; i < 3; i++)
			budget_redis_ops.settle(w, &p[i]);
		barrier(w);
		if (k == 0)
			ok(calls("evalsha") - evsha == 2, "batch %s: one step "
			    "for three settles (and the barrier)", why[k]);
		if (k == 3)
			ok(calls("eval") - ev == 2, "batch %s: by EVAL (and "
			    "the barrier)", why[k]);
		barrier(w);	/* settles sent one by one on the reply */
		u0 = field(&p[0], 0, "u0");
		l0 = field(&p[0], 0, "l0");
		u0off = field(&p[0], 9, "u0");
		u2off = field(&p[0], 4, "u2");
		ok(u0 == 600 && u0off == 600 && u2off == 3 &&
		    field(&p[0], 7, "u1") == 21,
		    "batch %s: used added once each, on every counter "
		    "(u0 %lld, off-check %lld, u2 %lld)", why[k], u0, u0off,
		    u2off);
		ok(l0 == (k == 2 ? 1000 : 0) && field(&p[0], 7, "l1") ==
		    (k == 2 ? 50 : 0) && field(&p[0], 9, "l0") == 0,
		    "batch %s: leases taken off where they were (l0 %lld)",
		    why[k], l0);
		ok(cmd_int("ZCARD tg:leases") == 0 &&
		    cmd_int("EXISTS tg:settled:lease-bat-0") == 1 &&
		    cmd_int("EXISTS tg:settled:lease-bat-2") == 1,
		    "batch %s: leases gone, settles marked", why[k]);
	}
}

/*
 * The reserves of one loop turn are one step, each decided in turn as if
 * alone: those past the limit are denied, the states each sees include
 * the leases before it, and the counters rise by the leased ones only.
 */
static void
case_reserve_batch(void)
{
	struct budget_plan	p[8];
	struct tally		t = { 0 };
	size_t			i, n = 8;
	long long		evsha, ev;
	int			seen;

	cmd("FLUSHALL");
	for (i = 0; i < n; i++) {
		char	id[33];

		snprintf(id, sizeof id, "lease-rb-%zu", i);
		mkplan(&p[i], i < 6 ? "rb" : "rc", id);
		add_check(&p[i], 0, UNIT_REQUESTS, 6);
		add_check(&p[i], 5, UNIT_USD, 1000000);
		set_amount(&p[i].reserve, 1000, 10, 1);
	}
	/* A reserve elsewhere first, so that the script is loaded. */
	mkplan(&p[0], "rz", "lease-rz");
	add_check(&p[0], 0, UNIT_REQUESTS, 6);
	is_int(step(w, 0, &p[0]), BUDGET_OK, "reserve batch: first alone");
	mkplan(&p[0], "rb", "lease-rb-0");
	add_check(&p[0], 0, UNIT_REQUESTS, 6);
	add_check(&p[0], 5, UNIT_USD, 1000000);
	set_amount(&p[0].reserve, 1000, 10, 1);
	cmd("HSET tg:c:%s u2 3", p[0].counters[0].key);
	evsha = calls("evalsha");
	for (i = 0; i < n; i++)
		budget_redis_ops.reserve(w, &p[i], done_cb, &t);
	run_until(&t.n, (int)n, 5000);
	is_int(t.n, n, "reserve batch: every reserve answered");
	is_int(calls("evalsha") - evsha, 1, "reserve batch: one step");
	is_int(t.res[BUDGET_OK], 5, "reserve batch: 3 + 2 admitted");
	is_int(t.res[BUDGET_DENIED], 3, "reserve batch: 3 denied");
	seen = 1;
	for (i = 0; i < 6; i++) {
		if (p[i].state[0].used.v[UNIT_REQUESTS] != 3 ||
		    p[i].state[0].leased.v[UNIT_REQUESTS] !=
		    (int64_t)(i < 3 ? i : 3) ||
		    p[i].state[5].leased.v[UNIT_USD] !=
		    1000 * (int64_t)(i < 3 ? i : 3) ||
		    (i >= 3 && p[i].denied != 0))
			seen = 0;
	}
	ok(seen, "reserve batch: each saw the leases before it, the "
	    "denied ones their failing check");
	ok(p[7].state[0].leased.v[UNIT_TOKENS] == 10 &&
	    p[7].state[0].used.v[UNIT_REQUESTS] == 0,
	    "reserve batch: another app's counters apart");
	ok(field(&p[0], 0, "l2") == 3 && field(&p[0], 0, "l1") == 30 &&
	    field(&p[0], 5, "l0") == 3000,
	    "reserve batch: a counter with denials rises by the leased ones");
	ok(field(&p[7], 0, "l2") == 2 && field(&p[7], 5, "l0") == 2000,
	    "reserve batch: a counter without denials by their sum");
	ok(cmd_int("EXISTS tg:lease:lease-rb-2") == 1 &&
	    cmd_int("EXISTS tg:lease:lease-rb-3") == 0 &&
	    cmd_int("ZCARD tg:leases") == 6,
	    "reserve batch: a lease per admitted reserve (5, and the first)");
	is_int(cmd_int("PEXPIRETIME tg:c:%s", p[7].counters[5].key),
	    p[7].counters[5].end_ms + BR_DAY_MS,
	    "reserve batch: counter expires a day after its window");

	/* The same lease twice in a turn: two steps, the second replaces. */
	memset(&t, 0, sizeof t);
	evsha = calls("evalsha");
	budget_redis_ops.reserve(w, &p[6], done_cb, &t);
	budget_redis_ops.reserve(w, &p[6], done_cb, &t);
	run_until(&t.n, 2, 5000);
	is_int(t.res[BUDGET_OK], 2, "same lease twice in a turn: OK");
	is_int(calls("evalsha") - evsha, 2, "same lease twice in a turn: "
	    "two steps");
	is_int(field(&p[7], 0, "l2"), 2, "same lease twice in a turn: "
	    "replaced, not stacked");

	/* Not loaded: by EVAL, still one step. */
	cmd("SCRIPT FLUSH");
	memset(&t, 0, sizeof t);
	ev = calls("eval");
	for (i = 6; i < n; i++)
		budget_redis_ops.reserve(w, &p[i], done_cb, &t);
	run_until(&t.n, 2, 5000);
	is_int(t.res[BUDGET_OK], 2, "reserve batch after SCRIPT FLUSH: OK");
	is_int(calls("eval") - ev, 1, "reserve batch after SCRIPT FLUSH: "
	    "one EVAL");
	is_int(field(&p[7], 0, "l2"), 2, "reserve batch after SCRIPT FLUSH: "
	    "the leases replaced");
}

static void
case_expiry(void)
{
	struct budget_plan	a, b, c;
	int64_t			start = fake_now;

	mkplan(&a, "exp", "lease-exp-a");
	add_check(&a, 2, UNIT_REQUESTS, 1);
	set_amount(&a.reserve, 10, 10, 1);
	a.deadline_ms = start + 1000;
	is_int(step(w, 0, &a), BUDGET_OK, "expiry: lease a");

	b = a;
	snprintf(b.lease_id, sizeof b.lease_id, "lease-exp-b");
	b.deadline_ms = start + 60000;
	fake_now = start + 999;
	is_int(step(w, 0, &b), BUDGET_DENIED, "expiry: a still counts");
	fake_now = start + 1000;
	is_int(step(w, 0, &b), BUDGET_OK, "expiry: a stopped counting");
	ok(b.state[2].leased.v[2] == 0 && field(&a, 2, "l2") == 1 &&
	    field(&a, 2, "l0") == 10, "expiry: only b is leased");
	ok(cmd_int("EXISTS tg:lease:lease-exp-a") == 0 &&
	    cmd_int("ZSCORE tg:leases lease-exp-a") == 0,
	    "expiry: a purged");

	/* Settling the purged lease adds used, leaves b's lease alone. */
	set_amount(&a.actual, 7, 3, 1);
	settle_wait(w, &a);
	ok(field(&a, 2, "u2") == 1 && field(&a, 2, "u0") == 7 &&
	    field(&a, 2, "l2") == 1 && field(&a, 2, "l0") == 10,
	    "settle after expiry: used only");
	settle_wait(w, &a);
	is_int(field(&a, 9, "u0"), 7, "settle after expiry twice: once");

	/* Peek purges too, and leases nothing. */
	mkplan(&c, "exp", "peek");
	add_check(&c, 2, UNIT_REQUESTS, 1000);
	fake_now = start + 60000;
	is_int(step(w, 1, &c), BUDGET_OK, "peek: OK");
	ok(c.state[2].leased.v[2] == 0 && c.state[2].used.v[2] == 1 &&
	    c.state[2].used.v[0] == 7, "peek: b purged, used kept");
	ok(cmd_int("EXISTS tg:lease:peek") == 0 &&
	    cmd_int("ZCARD tg:leases") == 0 && field(&c, 2, "l2") == 0,
	    "peek: leased nothing");
	fake_now = start;
}

/*
 * A renewed lease counts past its first deadline, up to the new one; one
 * not renewed stops at its own; a lease that stopped counting (purged,
 * past its deadline, settled) is never brought back.
 */
static void
case_renew(void)
{
	struct budget_plan	a, b, c, x;
	int64_t			start = fake_now;
	unsigned long		errs;
	long long		before;

	mkplan(&a, "ren", "lease-ren-a");
	add_check(&a, 2, UNIT_REQUESTS, 1);
	set_amount(&a.reserve, 10, 10, 1);
	a.deadline_ms = start + 1000;
	is_int(step(w, 0, &a), BUDGET_OK, "renew: lease a until +1 s");
	mkplan(&b, "ren2", "lease-ren-b");
	add_check(&b, 2, UNIT_REQUESTS, 1);
	set_amount(&b.reserve, 10, 10, 1);
	b.deadline_ms = start + 1000;
	is_int(step(w, 0, &b), BUDGET_OK, "renew: lease b until +1 s");

	errs = budget_redis_errors(store);
	fake_now = start + 500;
	renew_wait(w, &a, start + 5000);
	is_int(cmd_int("ZSCORE tg:leases lease-ren-a"), start + 5000,
	    "renew: a's score in tg:leases moved to +5 s");
	is_int(cmd_int("HGET tg:lease:lease-ren-a d"), start + 5000,
	    "renew: a's deadline field moved to +5 s");

	x = a;
	snprintf(x.lease_id, sizeof x.lease_id, "lease-ren-x");
	x.deadline_ms = start + 60000;
	fake_now = start + 1000;
	is_int(step(w, 0, &x), BUDGET_DENIED,
	    "renew: at +1 s the renewed a still holds the budget");
	snprintf(x.lease_id, sizeof x.lease_id, "lease-ren-y");
	x.counters[2] = b.counters[2];
	is_int(step(w, 0, &x), BUDGET_OK,
	    "renew: at +1 s b, not renewed, stopped counting");
	snprintf(x.lease_id, sizeof x.lease_id, "lease-ren-z");
	x.counters[2] = a.counters[2];
	fake_now = start + 4999;
	is_int(step(w, 0, &x), BUDGET_DENIED, "renew: a counts until +5 s");
	fake_now = start + 5000;
	is_int(step(w, 0, &x), BUDGET_OK, "renew: and stops at +5 s");
	ok(field(&a, 2, "l2") == 1 && cmd_int("EXISTS tg:lease:lease-ren-a")
	    == 0, "renew: a purged, only z leased");

	/* b was purged: renewing it brings nothing back. */
	renew_wait(w, &b, start + 60000);
	ok(cmd_int("EXISTS tg:lease:lease-ren-b") == 0 &&
	    cmd_int("ZSCORE tg:leases lease-ren-b") == 0 &&
	    field(&b, 2, "l2") == 1, "renew: a purged lease stays purged");

	/*
	 * At its deadline but not purged yet: not renewed either, so the
	 * barrier's peek right behind the renewal purges it.
	 */
	mkplan(&c, "ren3", "lease-ren-c");
	c.deadline_ms = start + 6000;
	is_int(step(w, 0, &c), BUDGET_OK, "renew: lease c until +6 s");
	fake_now = start + 6000;
	renew_wait(w, &c, start + 60000);
	ok(cmd_int("EXISTS tg:lease:lease-ren-c") == 0 &&
	    cmd_int("ZSCORE tg:leases lease-ren-c") == 0,
	    "renew: a lease at its deadline is not renewed");

	/* Settled: not brought back. */
	c.deadline_ms = start + 60000;
	snprintf(c.lease_id, sizeof c.lease_id, "lease-ren-d");
	is_int(step(w, 0, &c), BUDGET_OK, "renew: lease d");
	settle_wait(w, &c);
	renew_wait(w, &c, start + 90000);
	ok(cmd_int("EXISTS tg:lease:lease-ren-d") == 0 &&
	    cmd_int("ZSCORE tg:leases lease-ren-d") == 0,
	    "renew: a settled lease stays settled");
	is_int(budget_redis_errors(store), errs,
	    "renew: renewals and lapsed leases are no store errors");

	/*
	 * After SCRIPT FLUSH a renewal goes through EVAL.  Its deadline
	 * past the counters' windows, the lease hash is kept a day after it.
	 */
	snprintf(c.lease_id, sizeof c.lease_id, "lease-ren-e");
	is_int(step(w, 0, &c), BUDGET_OK, "renew: lease e");
	cmd("SCRIPT FLUSH");
	before = calls("eval");
	renew_wait(w, &c, start + 3 * HOUR_MS);
	is_int(cmd_int("ZSCORE tg:leases lease-ren-e"), start + 3 * HOUR_MS,
	    "renew: after SCRIPT FLUSH, renewed");
	is_int(cmd_int("PEXPIRETIME tg:lease:lease-ren-e"),
	    start + 3 * HOUR_MS + BR_DAY_MS,
	    "renew: the lease hash is kept a day past the new deadline");
	is_int(calls("eval"), before + 2,
	    "renew: with EVAL (and the barrier's peek too)");

	/* A plan without a lease id is refused and counted. */
	snprintf(c.lease_id, sizeof c.lease_id, "%s", "");
	budget_redis_ops.renew(w, &c);
	is_int(budget_redis_errors(store), errs + 1,
	    "renew: without a lease id refused, counted as an error");
	fake_now = start;
}

/* n reserves of 1 request against a limit of 10, spread over workers. */
static void
race(void **wctxs, size_t nw, const char *name)
{
	struct budget_plan	*p;
	struct tally		 t = { 0 };
	size_t			 i, n = 200;
	char			 id[33];

	cmd("FLUSHALL");
	p = xcalloc(n, sizeof *p);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "race-%zu", i);
		mkplan(&p[i], "race", id);
		add_check(&p[i], 5, UNIT_REQUESTS, 10);
		add_check(&p[i], 0, UNIT_USD, INT64_C(1000000000000));
		set_amount(&p[i].reserve, 1000, 100, 1);
	}
	for (i = 0; i < n; i++)
		budget_redis_ops.reserve(wctxs[i % nw], &p[i], done_cb, &t);
	run_until(&t.n, (int)n, 5000);
	is_int(t.n, n, "%s: every reserve answered", name);
	is_int(t.res[BUDGET_OK], 10, "%s: exactly 10 admitted", name);
	is_int(t.res[BUDGET_DENIED], 190, "%s: the rest denied", name);
	is_int(field(&p[0], 5, "l2"), 10, "%s: 10 leased", name);
	free(p);
}

static void
case_atomic(void)
{
	void	*ws[2];

	ws[0] = w;
	race(ws, 1, "200 on one connection");
	ws[1] = budget_redis_ops.worker_init(store, base);
	race(ws, 2, "200 on two connections");
	budget_redis_ops.worker_free(ws[1]);
}

static void
case_noscript(void)
{
	struct budget_plan	p;
	long long		before;

	mkplan(&p, "nos", "lease-nos");
	add_check(&p, 0, UNIT_USD, 1000000);
	set_amount(&p.reserve, 1, 1, 1);
	cmd("SCRIPT FLUSH");
	before = calls("eval");
	is_int(step(w, 0, &p), BUDGET_OK, "after SCRIPT FLUSH: reserve OK");
	ok(calls("eval") == before + 1, "after SCRIPT FLUSH: fell back to EVAL");
	is_int(field(&p, 0, "l0"), 1, "after SCRIPT FLUSH: leased");
	set_amount(&p.actual, 1, 1, 1);
	cmd("SCRIPT FLUSH");
	settle_wait(w, &p);
	is_int(field(&p, 0, "u0"), 1, "after SCRIPT FLUSH: settle OK");
}

static void
case_inflight_free(void)
{
	struct budget_plan	 p;
	struct tally		 t = { 0 };
	void			*w2;

	w2 = budget_redis_ops.worker_init(store, base);
	mkplan(&p, "free", "lease-free");
	budget_redis_ops.reserve(w2, &p, done_cb, &t);
	budget_redis_ops.worker_free(w2);
	ok(t.n == 1 && t.last == BUDGET_UNAVAILABLE,
	    "worker_free: a step in flight hears UNAVAILABLE once");
	run_for(50);
	is_int(t.n, 1, "worker_free: and never again");
}

static void
case_timeout(void)
{
	struct budget_plan	 p;
	struct tally		 t = { 0 };
	void			*ts, *tw;
	unsigned long		 errs;
	int64_t			 start, elapsed, end;
	int			 got = -1, n;
	char			*cause = NULL, url[64];

	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	ts = budget_redis_new(url, 200, &cause);
	tw = budget_redis_ops.worker_init(ts, base);
	mkplan(&p, "tmo", "lease-tmo");
	is_int(step(tw, 0, &p), BUDGET_OK, "timeout: works before");
	errs = budget_redis_errors(ts);

	kill(redis_pid, SIGSTOP);
	start = br_mono_ms();
	budget_redis_ops.reserve(tw, &p, done_cb, &t);
	run_until(&t.n, 1, 3000);
	elapsed = t.at_ms - start;
	ok(t.n == 1 && t.last == BUDGET_UNAVAILABLE,
	    "timeout: stopped redis -> UNAVAILABLE");
	ok(elapsed >= 150 && elapsed <= 700,
	    "timeout: after about 200 ms (%lld ms)", (long long)elapsed);
	ok(budget_redis_errors(ts) > errs, "timeout: counted as an error");
	run_for(100);
	is_int(t.n, 1, "timeout: answered once");
	kill(redis_pid, SIGCONT);

	end = br_mono_ms() + 3000;
	for (n = 0; br_mono_ms() < end; n++) {
		if ((got = step(tw, 0, &p)) == BUDGET_OK)
			break;
		run_for(50);
	}
	is_int(got, BUDGET_OK, "timeout: works again after SIGCONT");
	budget_redis_ops.worker_free(tw);
	budget_redis_free(ts);
}

static void
case_reconnect(void)
{
	struct budget_plan	p, s;
	unsigned long		errs;
	int64_t			end;
	int			got = -1;

	redis_kill();
	run_for(100);
	mkplan(&p, "rec", "lease-rec");
	add_check(&p, 0, UNIT_REQUESTS, 5);
	set_amount(&p.reserve, 0, 0, 1);
	is_int(step(w, 0, &p), BUDGET_UNAVAILABLE,
	    "redis down: UNAVAILABLE");
	errs = budget_redis_errors(store);
	budget_redis_ops.renew(w, &p);
	budget_redis_ops.renew(w, &p);
	is_int(budget_redis_errors(store), errs + 2,
	    "redis down: each renewal counted as a store error");
	ok(((struct br_wctx *)w)->renew_logged & (1U << BR_RENEW_UNSENT),
	    "redis down: the failing renewals logged (once)");

	/* A settle while down waits for the next connection. */
	mkplan(&s, "rec", "lease-rec-settle");
	set_amount(&s.actual, 5, 6, 1);
	budget_redis_ops.settle(w, &s);

	ok(redis_start() == 0, "redis restarted on port %d", port);
	end = br_mono_ms() + 5000;
	while (br_mono_ms() < end) {
		if ((got = step(w, 0, &p)) == BUDGET_OK)
			break;
		run_for(50);
	}
	is_int(got, BUDGET_OK, "reconnected: reserve OK");
	is_int(((struct br_wctx *)w)->renew_logged, 0,
	    "reconnected: renewal failures will be logged again");
	ok(field(&s, 0, "u0") == 5 && field(&s, 9, "u1") == 6 &&
	    cmd_int("EXISTS tg:settled:lease-rec-settle") == 1,
	    "reconnected: the queued settle landed");
}

static void
case_reconcile(void)
{
	struct budget_plan	 p;
	struct budget_amount	 used[2];
	struct tally		 t = { 0 };
	const char		*keys[2];
	int64_t			 ends[2];
	char			*cause = NULL, url[64], id[33];
	void			*bad;
	size_t			 i;
	int			 dead;

	cmd("FLUSHALL");
	/* 250 leases past their deadline, more than one purge call. */
	for (i = 0; i < 250; i++) {
		snprintf(id, sizeof id, "rcl-%zu", i);
		mkplan(&p, "rcl", id);
		set_amount(&p.reserve, 3, 2, 1);
		p.deadline_ms = fake_now + 10;
		budget_redis_ops.reserve(w, &p, done_cb, &t);
	}
	run_until(&t.n, 250, 5000);
	is_int(t.res[BUDGET_OK], 250, "reconcile: 250 leases");
	cmd("HSET tg:c:%s u0 999 u1 999 u2 999", p.counters[0].key);

	keys[0] = p.counters[0].key;
	keys[1] = "rcl/other";
	ends[0] = p.counters[0].end_ms;
	ends[1] = t0 + 2 * HOUR_MS;
	set_amount(&used[0], 11, 12, 13);
	set_amount(&used[1], 21, 22, 23);
	is_int(budget_redis_reconcile(store, keys, ends, used, 2,
	    fake_now + 10, &cause), 0, "reconcile: OK (%s)",
	    cause != NULL ? cause : "");
	free(cause);
	cause = NULL;
	ok(field(&p, 0, "u0") == 11 && field(&p, 0, "u1") == 12 &&
	    field(&p, 0, "u2") == 13 && cmd_int("HGET tg:c:rcl/other u2") ==
	    23, "reconcile: used replaced");
	is_int(cmd_int("PEXPIRETIME tg:c:rcl/other"), ends[1] + BR_DAY_MS,
	    "reconcile: expiry set");
	ok(cmd_int("ZCARD tg:leases") == 0 && field_sum(&p, "l0") == 0 &&
	    field_sum(&p, "l2") == 0, "reconcile: all 250 stale leases gone");

	dead = free_port();
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", dead);
	bad = budget_redis_new(url, 200, &cause);
	ok(budget_redis_reconcile(bad, keys, ends, used, 2, fake_now,
	    &cause) == -1 && cause != NULL,
	    "reconcile: unreachable -> -1 (%s)", cause != NULL ? cause : "");
	free(cause);
	budget_redis_free(bad);
}

/* AUTH and SELECT, on the async connections and in reconcile. */
static void
case_auth_db(void)
{
	struct budget_plan	 p;
	struct budget_amount	 used;
	const char		*keys[1];
	int64_t			 ends[1];
	char			*cause = NULL, url[96];
	void			*s, *sw;

	cmd("CONFIG SET requirepass s3cr/t");
	cmd("AUTH s3cr/t");
	snprintf(url, sizeof url, "redis://:s3cr%%2Ft@127.0.0.1:%d/5", port);
	s = budget_redis_new(url, 1000, &cause);
	sw = budget_redis_ops.worker_init(s, base);
	mkplan(&p, "adb", "lease-adb");
	add_check(&p, 0, UNIT_USD, 1000);
	set_amount(&p.reserve, 4, 0, 0);
	is_int(step(sw, 0, &p), BUDGET_OK, "password and db 5: reserve OK");
	keys[0] = "adb/x";
	ends[0] = t0 + HOUR_MS;
	set_amount(&used, 8, 0, 0);
	is_int(budget_redis_reconcile(s, keys, ends, &used, 1, fake_now,
	    &cause), 0, "password and db 5: reconcile OK");
	free(cause);
	cause = NULL;
	cmd("SELECT 5");
	ok(field(&p, 0, "l0") == 4 && cmd_int("HGET tg:c:adb/x u0") == 8,
	    "password and db 5: keys in db 5");
	cmd("SELECT 0");
	is_int(cmd_int("EXISTS tg:c:%s", p.counters[0].key), 0,
	    "password and db 5: not in db 0");
	budget_redis_ops.worker_free(sw);
	budget_redis_free(s);

	snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", port);
	s = budget_redis_new(url, 1000, &cause);
	sw = budget_redis_ops.worker_init(s, base);
	is_int(step(sw, 0, &p), BUDGET_UNAVAILABLE,
	    "wrong password: UNAVAILABLE");
	ok(budget_redis_reconcile(s, keys, ends, &used, 1, fake_now,
	    &cause) == -1 && cause != NULL && strstr(cause, "AUTH") != NULL,
	    "wrong password: reconcile fails (%s)",
	    cause != NULL ? cause : "");
	free(cause);
	budget_redis_ops.worker_free(sw);
	budget_redis_free(s);
	cmd("CONFIG SET requirepass %s", "");
}

static void
case_bad_plan(void)
{
	struct budget_plan	p;

	mkplan(&p, "bad", "lease-bad");
	add_check(&p, 10, UNIT_USD, 1);
	is_int(step(w, 0, &p), BUDGET_UNAVAILABLE,
	    "bad plan: check past the counters refused");
	ok(cmd_int("EXISTS tg:lease:lease-bad") == 0, "bad plan: no lease");
	mkplan(&p, "bad", "");
	is_int(step(w, 0, &p), BUDGET_UNAVAILABLE,
	    "bad plan: reserve without a lease id refused");
	is_int(step(w, 1, &p), BUDGET_OK, "bad plan: peek needs no lease id");
	ok(cmd_int("EXISTS tg:lease:") == 0 && cmd_int("ZCARD tg:leases") == 0,
	    "bad plan: still no lease");
}

int
main(void)
{
	static const struct {
		const char	*name;
		void		(*fn)(void);
	} cases[] = {
		{ "reserve ok", case_reserve_ok },
		{ "denied", case_denied },
		{ "settle", case_settle },
		{ "expiry", case_expiry },
		{ "renew", case_renew },
		{ "atomic", case_atomic },
		{ "noscript", case_noscript },
		/* after it: a NOSCRIPT resend may pass a later step */
		{ "settle batch", case_settle_batch },
		{ "reserve batch", case_reserve_batch },
		{ "bad plan", case_bad_plan },
		{ "password and db", case_auth_db },
		{ "in-flight free", case_inflight_free },
		{ "reconcile", case_reconcile },
		{ "timeout", case_timeout },
		{ "reconnect", case_reconnect },
	};
	struct timeval	 tv = { 0, 10000 };
	char		*cause = NULL, url[64];
	size_t		 i;

	signal(SIGPIPE, SIG_IGN);
	atexit(redis_kill);
	log_set_level_num(getenv("TEST_VERBOSE") != NULL ?
	    LOG_LVL_DEBUG : LOG_LVL_ERROR);
	t0 = fake_now = util_now_ms();
	br_clock = fake_clock;

	test_urls();
	test_parse();

	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		printf("Bail out! redis-server not installed\n");
		return (1);
	}
	if ((port = free_port()) == -1 || redis_start() != 0) {
		printf("Bail out! cannot start redis-server\n");
		redis_kill();
		return (1);
	}
	base = event_base_new();
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
	store = budget_redis_new(url, 2000, &cause);
	ok(store != NULL, "store for %s", url);
	w = budget_redis_ops.worker_init(store, base);

	for (i = 0; i < nitems(cases); i++) {
		printf("# %s\n", cases[i].name);
		cmd("FLUSHALL");
		cases[i].fn();
	}

	budget_redis_ops.worker_free(w);
	budget_redis_free(store);
	event_free(tick);
	event_base_free(base);
	redis_kill();
	if (adm != NULL)
		redisFree(adm);
	return (tap_done());
}
