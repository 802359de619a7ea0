/*
 * Budgets, rate limits and leases.
 *
 * Every request touches ten counters: its app and its team, each in the
 * current minute, hour, day, ISO week and month (calendar windows in the
 * process time zone).  A counter holds, per unit (nano-USD, tokens,
 * requests), what was used (settled) and what is leased (reserved by
 * requests in flight).  Limits are checks on those counters: the app's own
 * limits, its tier's (applied to each app on its own) and its team's.
 *
 * Admission builds a plan (budget_plan_init): the counters, the checks and
 * the request's worst case.  The store then, in one atomic step, checks
 * used + leased + reserve <= limit for every check and, only if all pass,
 * adds the reserve to the leased amounts of every counter and records a
 * lease with a deadline.  Settle (once per lease id) takes the reserve off
 * and adds the actual amounts to used.  A lease whose deadline passed
 * stops counting by itself, so the reserve of a crashed process comes
 * back; a live process renews the leases of its requests still running
 * before their deadline.
 *
 * Two stores with the same semantics: local (in-process, one lock; rebuilt
 * from the ledger at start) and Redis (one Lua script per step, shared by
 * any number of tollgate processes).  To spare Redis, its leases are held
 * only on the counters some check reads (leased is what admission adds
 * up, and only checked counters are added up); used still goes to all
 * ten, so that a limit a reload adds counts from the start of its window.
 */
#ifndef BUDGET_H
#define BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define BUDGET_NPER		5	/* minute .. month */
#define BUDGET_NCOUNTERS	(2 * BUDGET_NPER)
#define BUDGET_MAX_CHECKS	48
#define BUDGET_NUNITS		3	/* enum cfg_unit */

enum budget_scope {
	SCOPE_APP = 0,
	SCOPE_TEAM
};

/* Amounts in each unit, indexed by enum cfg_unit. */
struct budget_amount {
	int64_t		v[BUDGET_NUNITS];
};

struct budget_counter {
	enum budget_scope	 scope;
	enum cfg_per		 per;
	int64_t			 start_ms;	/* window [start, end) */
	int64_t			 end_ms;
	char			 key[192];	/* "app/<name>/month/<start>" */
};

/* One limit to enforce on one counter. */
struct budget_check {
	size_t			 counter;	/* index into plan->counters */
	enum cfg_unit		 unit;
	int64_t			 limit;
	const struct cfg_limit	*lim;		/* borrowed: alert_at */
};

/* The state of one counter as the store saw it during a step. */
struct budget_state {
	struct budget_amount	used;
	struct budget_amount	leased;
};

struct budget_plan {
	struct budget_counter	 counters[BUDGET_NCOUNTERS];
	size_t			 ncounters;
	struct budget_check	 checks[BUDGET_MAX_CHECKS];
	size_t			 nchecks;
	struct budget_amount	 reserve;	/* worst case, set by caller */
	struct budget_amount	 actual;	/* set before settle */
	char			 lease_id[33];
	int64_t			 deadline_ms;	/* lease stops counting then */
	/* Filled by reserve: each counter before this request's lease. */
	struct budget_state	 state[BUDGET_NCOUNTERS];
	size_t			 denied;	/* index of the failing check */
};

/* The calendar window of per containing now_ms (process time zone). */
void	 budget_window(enum cfg_per, int64_t now_ms, int64_t *start_ms,
	    int64_t *end_ms);

/*
 * Fill plan's counters and checks for app at now_ms.  Limits of the same
 * scope, unit and window are merged to the smallest.  reserve, actual and
 * lease_id are left for the caller.
 */
void	 budget_plan_init(struct budget_plan *, const struct cfg_app *,
	    int64_t now_ms);

/* Does any check exist (is reserving worth a store round trip)? */
int	 budget_plan_limited(const struct budget_plan *);

/*
 * Room left on check i given state (limit - used - leased, at least 0),
 * in the check's unit.
 */
int64_t	 budget_room(const struct budget_plan *, size_t i);

/*
 * Largest output-token cap that every check can still pay, given the
 * reserve computed with a zero output cap (base) and the price of one
 * output token per unit (per_token).  INT64_MAX when nothing limits it.
 */
int64_t	 budget_affordable_output(const struct budget_plan *,
	    const struct budget_amount *base, const struct budget_amount
	    *per_token);

/*
 * The tightest money window for the x-tollgate-budget-remaining-usd
 * header: the smallest room among usd checks; -1 when there is none.
 */
int64_t	 budget_remaining_nusd(const struct budget_plan *);

/* Used ratio (used + leased) / limit of the fullest check, 0 if none. */
double	 budget_used_ratio(const struct budget_plan *);

/*
 * Settled usage of the open windows (now_ms) from the ledgers, summed per
 * counter key: cb(key, window end, used, arg), possibly several times per
 * key (once per ledger; callers add).  For seeding the local store at
 * start and for `tollgate reconcile`.  This is the one function here that
 * reads files (the ledgers, read-only).
 */
typedef void (*budget_seed_cb)(const char *key, int64_t end_ms,
    const struct budget_amount *used, void *arg);
int	 budget_ledger_sums(const char * const *ledgers, size_t n,
	    int64_t now_ms, budget_seed_cb cb, void *arg, char **cause);

/*
 * Every app's and team's counter of the open windows at zero, through the
 * same cb: `tollgate reconcile` adds the ledgers' sums to these, so that a
 * counter the ledgers have no row for is reset too (a settle whose row a
 * crash lost must not stay counted).
 */
void	 budget_open_counters(const struct cfg *, int64_t now_ms,
	    budget_seed_cb cb, void *arg);

enum budget_result {
	BUDGET_OK = 0,
	BUDGET_DENIED,		/* plan->denied names the check */
	BUDGET_UNAVAILABLE	/* the store cannot be reached */
};

typedef void (*budget_done_cb)(enum budget_result, struct budget_plan *,
    void *arg);

struct event_base;

/*
 * A counter store.  Each worker thread has its own handle (wctx) from
 * worker_init, used on that thread only; the store itself is shared.
 */
struct budget_store_ops {
	const char	*name;
	void	*(*worker_init)(void *store, struct event_base *);
	void	 (*worker_free)(void *wctx);
	/*
	 * The atomic reserve step.  Fills plan->state and, on
	 * BUDGET_DENIED, plan->denied.  May call cb before returning (local)
	 * or later from the worker's event loop (Redis); cb is called
	 * exactly once.
	 */
	void	 (*reserve)(void *wctx, struct budget_plan *, budget_done_cb,
		    void *arg);
	/*
	 * Settle the lease once: leased -= reserve and used += actual on
	 * every counter.  Idempotent per lease id.  Fire and forget.
	 */
	void	 (*settle)(void *wctx, const struct budget_plan *);
	/* Read counters into plan->state, without leasing; like reserve. */
	void	 (*peek)(void *wctx, struct budget_plan *, budget_done_cb,
		    void *arg);
	/*
	 * Move the deadline of a live lease (reserved, not settled, its
	 * deadline not yet passed) to plan->deadline_ms, so that a request
	 * still running keeps its hold on the budget.  A lease that already
	 * stopped counting stays stopped.  Fire and forget.
	 */
	void	 (*renew)(void *wctx, const struct budget_plan *);
};

#endif
