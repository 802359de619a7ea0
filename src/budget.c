/*
 * Budget plans: calendar windows, the counters and checks a request
 * touches, and the arithmetic on what a store reports.  No I/O; the
 * stores (budget_local.c, budget_redis.c) do the atomic steps.
 *
 * Windows are calendar windows in the process time zone (util_set_timezone).
 * Minute and hour windows follow the local UTC offset (so a +05:30 zone's
 * hours start at :30 UTC); day, week (ISO, Monday) and month windows start
 * at the first instant of their local date, so a 23- or 25-hour day around
 * a DST change is one window.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "cfg.h"
#include "ledger.h"
#include "log.h"
#include "util.h"

static int64_t
floor_div(int64_t a, int64_t b)
{
	return (a >= 0 ? a / b : -((-a + b - 1) / b));
}

/* The local date of t as a number that orders dates. */
static long
local_date(time_t t)
{
	struct tm	tm;

	localtime_r(&t, &tm);
	return ((long)tm.tm_year * 366 + tm.tm_yday);
}

/*
 * The first instant (unix ms) of the local date of now moved by mdays days
 * and mons months, after going to the 1st of the month when first is set.
 *
 * That is mktime(3)'s answer for 00:00 but where the clocks skip or repeat
 * midnight (America/Havana, America/Santiago): there glibc may answer the
 * second midnight or an instant of the day before, depending on its
 * earlier calls, so the answer is checked and, if need be, moved to where
 * the date begins: a day's window always holds the whole day.
 */
static int64_t
local_midnight(const struct tm *now, int first, int mdays, int mons)
{
	struct tm	d = *now, tm;
	time_t		t, lo, hi, mid;
	long		want;

	d.tm_sec = d.tm_min = 0;
	d.tm_hour = 12;
	if (first)
		d.tm_mday = 1;
	d.tm_mday += mdays;
	d.tm_mon += mons;
	(void)timegm(&d);		/* the date, normalised */
	want = (long)d.tm_year * 366 + d.tm_yday;

	tm = d;
	tm.tm_hour = 0;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (local_date(t) == want && local_date(t - 1) < want)
		return ((int64_t)t * 1000);
	/* Clocks move by at most two hours. */
	lo = t - 3 * 3600;
	hi = t + 3 * 3600;
	if (local_date(lo) >= want || local_date(hi) < want)
		return ((int64_t)t * 1000);
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (local_date(mid) < want)
			lo = mid;
		else
			hi = mid;
	}
	return ((int64_t)hi * 1000);
}

/*
 * The day, week and month windows of the local date budget_windows() saw
 * last, per thread.  mktime(3) reads TZ and searches the zone's rules each
 * time, twice per window, and these windows only change with the date (or
 * the zone), so they are worked out once a day.
 */
static __thread struct {
	int		 valid;
	unsigned int	 tzgen;
	int		 year, yday;
	int64_t		 start[BUDGET_NPER], end[BUDGET_NPER];
} budget_days;

/*
 * The windows of every period containing now_ms: [start[per], end[per]).
 * Minute and hour windows follow the UTC offset at now; day, week (from
 * Monday) and month windows are bounded by local midnights.
 */
static void
budget_windows(int64_t now_ms, int64_t start[BUDGET_NPER],
    int64_t end[BUDGET_NPER])
{
	struct tm	tm;
	time_t		t = (time_t)floor_div(now_ms, 1000);
	int64_t		off, len;
	int		per, back;

	localtime_r(&t, &tm);
	off = (int64_t)tm.tm_gmtoff * 1000;
	for (per = PER_MINUTE; per <= PER_HOUR; per++) {
		len = per == PER_MINUTE ? 60000 : 3600000;
		start[per] = floor_div(now_ms + off, len) * len - off;
		end[per] = start[per] + len;
	}
	if (!budget_days.valid || budget_days.year != tm.tm_year ||
	    budget_days.yday != tm.tm_yday ||
	    budget_days.tzgen != util_tz_generation()) {
		back = (tm.tm_wday + 6) % 7;		/* days since Monday */
		budget_days.start[PER_DAY] = local_midnight(&tm, 0, 0, 0);
		budget_days.end[PER_DAY] = local_midnight(&tm, 0, 1, 0);
		budget_days.start[PER_WEEK] = local_midnight(&tm, 0, -back, 0);
		budget_days.end[PER_WEEK] = local_midnight(&tm, 0, 7 - back, 0);
		budget_days.start[PER_MONTH] = local_midnight(&tm, 1, 0, 0);
		budget_days.end[PER_MONTH] = local_midnight(&tm, 1, 0, 1);
		budget_days.year = tm.tm_year;
		budget_days.yday = tm.tm_yday;
		budget_days.tzgen = util_tz_generation();
		budget_days.valid = 1;
	}
	for (per = PER_DAY; per <= PER_MONTH; per++) {
		start[per] = budget_days.start[per];
		end[per] = budget_days.end[per];
	}
}

void
budget_window(enum cfg_per per, int64_t now_ms, int64_t *start_ms,
    int64_t *end_ms)
{
	int64_t	start[BUDGET_NPER], end[BUDGET_NPER];

	if ((int)per < PER_MINUTE || (int)per > PER_MONTH)
		fatalx("budget_window: bad window %d", (int)per);
	budget_windows(now_ms, start, end);
	*start_ms = start[per];
	*end_ms = end[per];
}

/* Add a check, or narrow an existing one on the same counter and unit. */
static void
plan_check(struct budget_plan *plan, size_t counter,
    const struct cfg_limit *lim)
{
	struct budget_check	*c;
	size_t			 i;

	for (i = 0; i < plan->nchecks; i++) {
		c = &plan->checks[i];
		if (c->counter == counter && c->unit == lim->unit) {
			if (lim->amount < c->limit) {
				c->limit = lim->amount;
				c->lim = lim;
			}
			return;
		}
	}
	if (plan->nchecks == BUDGET_MAX_CHECKS) {
		log_warn("budget: more than %d limits on one request; "
		    "ignoring the rest", BUDGET_MAX_CHECKS);
		return;
	}
	c = &plan->checks[plan->nchecks++];
	c->counter = counter;
	c->unit = lim->unit;
	c->limit = lim->amount;
	c->lim = lim;
}

static void
plan_checks(struct budget_plan *plan, enum budget_scope scope,
    const struct cfg_limit *limits, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		plan_check(plan, (size_t)scope * BUDGET_NPER + limits[i].per,
		    &limits[i]);
}

/* Append s to the NUL-terminated key (size bytes), as snprintf cuts. */
static size_t
key_add(char *key, size_t size, size_t len, const char *s)
{
	size_t	n = strlen(s);

	if (n > size - 1 - len)
		n = size - 1 - len;
	memcpy(key + len, s, n);
	key[len + n] = '\0';
	return (len + n);
}

/* "app/<name>/month/<start>" into key (size bytes), as snprintf would. */
static void
counter_key(char *key, size_t size, const char *scope, const char *name,
    enum cfg_per per, int64_t start_ms)
{
	char			 num[24], *p = num + sizeof num;
	unsigned long long	 u;
	size_t			 len;

	u = start_ms < 0 ? 0 - (unsigned long long)start_ms :
	    (unsigned long long)start_ms;
	*--p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (start_ms < 0)
		*--p = '-';
	len = key_add(key, size, 0, scope);
	len = key_add(key, size, len, "/");
	len = key_add(key, size, len, name);
	len = key_add(key, size, len, "/");
	len = key_add(key, size, len, cfg_per_name(per));
	len = key_add(key, size, len, "/");
	(void)key_add(key, size, len, p);
}

void
budget_plan_init(struct budget_plan *plan, const struct cfg_app *app,
    int64_t now_ms)
{
	struct budget_counter	*c;
	int64_t			 start[BUDGET_NPER], end[BUDGET_NPER];
	int			 s, per;

	memset(plan, 0, sizeof *plan);
	budget_windows(now_ms, start, end);
	for (s = SCOPE_APP; s <= SCOPE_TEAM; s++) {
		for (per = PER_MINUTE; per <= PER_MONTH; per++) {
			c = &plan->counters[plan->ncounters++];
			c->scope = (enum budget_scope)s;
			c->per = (enum cfg_per)per;
			c->start_ms = start[per];
			c->end_ms = end[per];
			counter_key(c->key, sizeof c->key,
			    s == SCOPE_APP ? "app" : "team",
			    s == SCOPE_APP ? app->name : app->team->name,
			    c->per, c->start_ms);
		}
	}
	plan_checks(plan, SCOPE_APP, app->tier->limits, app->tier->nlimits);
	plan_checks(plan, SCOPE_APP, app->limits, app->nlimits);
	plan_checks(plan, SCOPE_TEAM, app->team->limits, app->team->nlimits);
}

int
budget_plan_limited(const struct budget_plan *plan)
{
	return (plan->nchecks > 0);
}

int64_t
budget_room(const struct budget_plan *plan, size_t i)
{
	const struct budget_check	*c = &plan->checks[i];
	const struct budget_state	*st = &plan->state[c->counter];
	int64_t				 room;

	room = c->limit - st->used.v[c->unit] - st->leased.v[c->unit];
	return (room > 0 ? room : 0);
}

int64_t
budget_affordable_output(const struct budget_plan *plan,
    const struct budget_amount *base, const struct budget_amount *per_token)
{
	int64_t	best = INT64_MAX, room, n;
	size_t	i;
	int	u;

	for (i = 0; i < plan->nchecks; i++) {
		u = plan->checks[i].unit;
		room = budget_room(plan, i) - base->v[u];
		if (room < 0)
			return (0);
		if (per_token->v[u] <= 0)
			continue;
		n = room / per_token->v[u];
		if (n < best)
			best = n;
	}
	return (best);
}

int64_t
budget_remaining_nusd(const struct budget_plan *plan)
{
	int64_t	best = -1, room;
	size_t	i;

	for (i = 0; i < plan->nchecks; i++) {
		if (plan->checks[i].unit != UNIT_USD)
			continue;
		room = budget_room(plan, i) - plan->reserve.v[UNIT_USD];
		if (room < 0)
			room = 0;
		if (best == -1 || room < best)
			best = room;
	}
	return (best);
}

double
budget_used_ratio(const struct budget_plan *plan)
{
	const struct budget_check	*c;
	const struct budget_state	*st;
	double				 r, best = 0;
	size_t				 i;

	for (i = 0; i < plan->nchecks; i++) {
		c = &plan->checks[i];
		st = &plan->state[c->counter];
		if (c->limit <= 0)
			continue;
		r = (double)(st->used.v[c->unit] + st->leased.v[c->unit]) /
		    (double)c->limit;
		if (r > best)
			best = r;
	}
	return (best);
}

struct seed_ctx {
	enum cfg_per	 per;
	int64_t		 start_ms;
	int64_t		 end_ms;
	budget_seed_cb	 cb;
	void		*arg;
};

static void
seed_sum_cb(const char *app, const char *team, int64_t nusd, int64_t tokens,
    int64_t requests, void *arg)
{
	struct seed_ctx		*sc = arg;
	struct budget_amount	 a;
	char			 key[192];

	a.v[UNIT_USD] = nusd;
	a.v[UNIT_TOKENS] = tokens;
	a.v[UNIT_REQUESTS] = requests;
	snprintf(key, sizeof key, "app/%s/%s/%lld", app, cfg_per_name(sc->per),
	    (long long)sc->start_ms);
	sc->cb(key, sc->end_ms, &a, sc->arg);
	if (team != NULL) {
		snprintf(key, sizeof key, "team/%s/%s/%lld", team,
		    cfg_per_name(sc->per), (long long)sc->start_ms);
		sc->cb(key, sc->end_ms, &a, sc->arg);
	}
}

/* sc for the open window of per at now_ms. */
static void
seed_window(struct seed_ctx *sc, int per, int64_t now_ms, budget_seed_cb cb,
    void *arg)
{
	sc->per = (enum cfg_per)per;
	budget_window(sc->per, now_ms, &sc->start_ms, &sc->end_ms);
	sc->cb = cb;
	sc->arg = arg;
}

int
budget_ledger_sums(const char * const *ledgers, size_t n, int64_t now_ms,
    budget_seed_cb cb, void *arg, char **cause)
{
	struct seed_ctx	sc;
	size_t		i;
	int		per;

	for (per = PER_MINUTE; per <= PER_MONTH; per++) {
		seed_window(&sc, per, now_ms, cb, arg);
		for (i = 0; i < n; i++) {
			if (ledger_sums(ledgers[i], sc.start_ms, sc.end_ms,
			    seed_sum_cb, &sc, cause) == -1)
				return (-1);
		}
	}
	return (0);
}

void
budget_open_counters(const struct cfg *cfg, int64_t now_ms,
    budget_seed_cb cb, void *arg)
{
	const struct cfg_team	*t;
	struct seed_ctx		 sc;
	size_t			 i, j;
	int			 per;

	for (per = PER_MINUTE; per <= PER_MONTH; per++) {
		seed_window(&sc, per, now_ms, cb, arg);
		for (i = 0; i < cfg->nteams; i++) {
			t = &cfg->teams[i];
			for (j = 0; j < t->napps; j++)
				seed_sum_cb(t->apps[j].name, j == 0 ? t->name :
				    NULL, 0, 0, 0, &sc);
		}
	}
}
