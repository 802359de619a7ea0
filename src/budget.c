/*
 * Budget plans: calendar windows, the counters and checks a request
 * touches, and the arithmetic on what a store reports.  No I/O; the
 * stores (budget_local.c, budget_redis.c) do the atomic steps.
 *
 * Windows are calendar windows in the process time zone (util_set_timezone).
 * Minute and hour windows follow the local UTC offset (so a +05:30 zone's
 * hours start at :30 UTC); day, week (ISO, Monday) and month windows start
 * at local midnight as mktime(3) resolves it, so a 23- or 25-hour day
 * around a DST change is one window.
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

static int64_t
floor_div(int64_t a, int64_t b)
{
	return (a >= 0 ? a / b : -((-a + b - 1) / b));
}

static int64_t
local_ms(struct tm *tm)
{
	tm->tm_isdst = -1;
	return ((int64_t)mktime(tm) * 1000);
}

void
budget_window(enum cfg_per per, int64_t now_ms, int64_t *start_ms,
    int64_t *end_ms)
{
	struct tm	tm;
	time_t		t = (time_t)floor_div(now_ms, 1000);
	int64_t		local, len;
	int		back;

	localtime_r(&t, &tm);
	switch (per) {
	case PER_MINUTE:
	case PER_HOUR:
		len = per == PER_MINUTE ? 60000 : 3600000;
		local = now_ms + (int64_t)tm.tm_gmtoff * 1000;
		*start_ms = floor_div(local, len) * len -
		    (int64_t)tm.tm_gmtoff * 1000;
		*end_ms = *start_ms + len;
		return;
	case PER_DAY:
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		*start_ms = local_ms(&tm);
		localtime_r(&t, &tm);
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday++;
		*end_ms = local_ms(&tm);
		return;
	case PER_WEEK:
		back = (tm.tm_wday + 6) % 7;		/* days since Monday */
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday -= back;
		*start_ms = local_ms(&tm);
		localtime_r(&t, &tm);
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday += 7 - back;
		*end_ms = local_ms(&tm);
		return;
	case PER_MONTH:
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday = 1;
		*start_ms = local_ms(&tm);
		localtime_r(&t, &tm);
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday = 1;
		tm.tm_mon++;
		*end_ms = local_ms(&tm);
		return;
	}
	fatalx("budget_window: bad window %d", (int)per);
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

void
budget_plan_init(struct budget_plan *plan, const struct cfg_app *app,
    int64_t now_ms)
{
	struct budget_counter	*c;
	int			 s, per;

	memset(plan, 0, sizeof *plan);
	for (s = SCOPE_APP; s <= SCOPE_TEAM; s++) {
		for (per = PER_MINUTE; per <= PER_MONTH; per++) {
			c = &plan->counters[plan->ncounters++];
			c->scope = (enum budget_scope)s;
			c->per = (enum cfg_per)per;
			budget_window(c->per, now_ms, &c->start_ms,
			    &c->end_ms);
			snprintf(c->key, sizeof c->key, "%s/%s/%s/%lld",
			    s == SCOPE_APP ? "app" : "team",
			    s == SCOPE_APP ? app->name : app->team->name,
			    cfg_per_name(c->per), (long long)c->start_ms);
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
