/*
 * The local counter store: counters and leases in two hash tables under
 * one mutex, so a reserve (check every limit, then lease on every counter)
 * is one atomic step for all worker threads of the process.
 *
 * Leases are kept until they are settled.  Once a second a sweep takes the
 * reserve of every lease past its deadline off its counters (the lease
 * "stops counting by itself"; a later settle then only adds what was used)
 * and drops counters whose window ended a day ago.  A renew moves the
 * deadline of a lease that still counts; one that stopped stays stopped.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "budget_local.h"
#include "util.h"
#include "xmalloc.h"

#define NBUCKETS	4096
#define SWEEP_MS	1000
#define KEEP_MS		86400000

struct lcounter {
	struct lcounter		*next;
	char			*key;
	int64_t			 end_ms;
	struct budget_state	 st;
};

struct llease {
	struct llease		*next;
	char			 id[33];
	int64_t			 deadline_ms;
	int			 expired;	/* reserve already taken off */
	size_t			 n;
	struct lcounter		*c[BUDGET_NCOUNTERS];
	struct budget_amount	 reserve;
};

struct lstore {
	pthread_mutex_t		 lock;
	struct lcounter		*counters[NBUCKETS];
	struct llease		*leases[NBUCKETS];
	int64_t			 next_sweep;
};

static uint32_t
hash(const char *s)
{
	uint32_t	h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return (h % NBUCKETS);
}

void *
budget_local_new(void)
{
	struct lstore	*ls;

	ls = xcalloc(1, sizeof *ls);
	pthread_mutex_init(&ls->lock, NULL);
	return (ls);
}

void
budget_local_free(void *store)
{
	struct lstore	*ls = store;
	struct lcounter	*c;
	struct llease	*l;
	size_t		 i;

	if (ls == NULL)
		return;
	for (i = 0; i < NBUCKETS; i++) {
		while ((c = ls->counters[i]) != NULL) {
			ls->counters[i] = c->next;
			free(c->key);
			free(c);
		}
		while ((l = ls->leases[i]) != NULL) {
			ls->leases[i] = l->next;
			free(l);
		}
	}
	pthread_mutex_destroy(&ls->lock);
	free(ls);
}

static struct lcounter *
counter_get(struct lstore *ls, const char *key, int64_t end_ms, int create)
{
	struct lcounter	*c;
	uint32_t	 h = hash(key);

	for (c = ls->counters[h]; c != NULL; c = c->next) {
		if (strcmp(c->key, key) == 0)
			return (c);
	}
	if (!create)
		return (NULL);
	c = xcalloc(1, sizeof *c);
	c->key = xstrdup(key);
	c->end_ms = end_ms;
	c->next = ls->counters[h];
	ls->counters[h] = c;
	return (c);
}

static void
lease_unreserve(struct llease *l)
{
	size_t	i;
	int	u;

	for (i = 0; i < l->n; i++) {
		for (u = 0; u < BUDGET_NUNITS; u++)
			l->c[i]->st.leased.v[u] -= l->reserve.v[u];
	}
	l->expired = 1;
}

/*
 * Expired leases stop counting; old expired leases and counters of long
 * closed windows go.  A lease holds pointers to its counters, so a counter
 * is only dropped when no lease can still name it (KEEP_MS after both).
 */
static void
sweep(struct lstore *ls, int64_t now)
{
	struct lcounter	**cp, *c;
	struct llease	**lp, *l;
	size_t		 i;

	if (now < ls->next_sweep)
		return;
	ls->next_sweep = now + SWEEP_MS;
	for (i = 0; i < NBUCKETS; i++) {
		for (lp = &ls->leases[i]; (l = *lp) != NULL;) {
			if (!l->expired && l->deadline_ms <= now)
				lease_unreserve(l);
			if (l->expired && l->deadline_ms + KEEP_MS <= now) {
				*lp = l->next;
				free(l);
			} else
				lp = &l->next;
		}
	}
	for (i = 0; i < NBUCKETS; i++) {
		for (cp = &ls->counters[i]; (c = *cp) != NULL;) {
			if (c->end_ms + 2 * KEEP_MS <= now) {
				*cp = c->next;
				free(c->key);
				free(c);
			} else
				cp = &c->next;
		}
	}
}

void
budget_local_seed(void *store, const char *key, int64_t end_ms,
    const struct budget_amount *used)
{
	struct lstore	*ls = store;
	struct lcounter	*c;
	int		 u;

	pthread_mutex_lock(&ls->lock);
	c = counter_get(ls, key, end_ms, 1);
	for (u = 0; u < BUDGET_NUNITS; u++)
		c->st.used.v[u] += used->v[u];
	pthread_mutex_unlock(&ls->lock);
}

/* Copy the counters' state into the plan; create them on reserve. */
static void
read_state(struct lstore *ls, struct budget_plan *plan,
    struct lcounter **cs, int create)
{
	size_t	i;

	for (i = 0; i < plan->ncounters; i++) {
		cs[i] = counter_get(ls, plan->counters[i].key,
		    plan->counters[i].end_ms, create);
		if (cs[i] != NULL)
			plan->state[i] = cs[i]->st;
		else
			memset(&plan->state[i], 0, sizeof plan->state[i]);
	}
}

static void *
local_worker_init(void *store, struct event_base *base)
{
	return (store);
}

static void
local_worker_free(void *wctx)
{
}

static void
local_reserve(void *wctx, struct budget_plan *plan, budget_done_cb cb,
    void *arg)
{
	struct lstore			*ls = wctx;
	struct lcounter			*cs[BUDGET_NCOUNTERS];
	const struct budget_check	*k;
	const struct budget_state	*st;
	struct llease			*l;
	enum budget_result		 res = BUDGET_OK;
	size_t				 i;
	uint32_t			 h;
	int				 u;

	pthread_mutex_lock(&ls->lock);
	sweep(ls, util_now_ms());
	read_state(ls, plan, cs, 1);
	for (i = 0; i < plan->nchecks; i++) {
		k = &plan->checks[i];
		st = &plan->state[k->counter];
		if (st->used.v[k->unit] + st->leased.v[k->unit] +
		    plan->reserve.v[k->unit] > k->limit) {
			plan->denied = i;
			res = BUDGET_DENIED;
			break;
		}
	}
	if (res == BUDGET_OK) {
		l = xcalloc(1, sizeof *l);
		memcpy(l->id, plan->lease_id, sizeof l->id);
		l->deadline_ms = plan->deadline_ms;
		l->reserve = plan->reserve;
		l->n = plan->ncounters;
		for (i = 0; i < plan->ncounters; i++) {
			l->c[i] = cs[i];
			for (u = 0; u < BUDGET_NUNITS; u++)
				cs[i]->st.leased.v[u] += plan->reserve.v[u];
		}
		h = hash(l->id);
		l->next = ls->leases[h];
		ls->leases[h] = l;
	}
	pthread_mutex_unlock(&ls->lock);
	cb(res, plan, arg);
}

/* The link to the lease named id (*result NULL when there is none). */
static struct llease **
lease_find(struct lstore *ls, const char *id)
{
	struct llease	**lp;

	for (lp = &ls->leases[hash(id)]; *lp != NULL; lp = &(*lp)->next) {
		if (strcmp((*lp)->id, id) == 0)
			break;
	}
	return (lp);
}

static void
local_settle(void *wctx, const struct budget_plan *plan)
{
	struct lstore	*ls = wctx;
	struct llease	**lp, *l;
	size_t		 i;
	int		 u;

	pthread_mutex_lock(&ls->lock);
	lp = lease_find(ls, plan->lease_id);
	if ((l = *lp) != NULL) {
		/* Settled once: the lease record goes with it. */
		*lp = l->next;
		if (!l->expired)
			lease_unreserve(l);
		for (i = 0; i < l->n; i++) {
			for (u = 0; u < BUDGET_NUNITS; u++)
				l->c[i]->st.used.v[u] += plan->actual.v[u];
		}
		free(l);
	}
	pthread_mutex_unlock(&ls->lock);
}

static void
local_peek(void *wctx, struct budget_plan *plan, budget_done_cb cb,
    void *arg)
{
	struct lstore	*ls = wctx;
	struct lcounter	*cs[BUDGET_NCOUNTERS];

	pthread_mutex_lock(&ls->lock);
	sweep(ls, util_now_ms());
	read_state(ls, plan, cs, 0);
	pthread_mutex_unlock(&ls->lock);
	cb(BUDGET_OK, plan, arg);
}

/*
 * A lease past its deadline is not renewed even before a sweep saw it:
 * the same answer as the Redis store, whose reserve purges first.
 */
static void
local_renew(void *wctx, const struct budget_plan *plan)
{
	struct lstore	*ls = wctx;
	struct llease	*l;

	pthread_mutex_lock(&ls->lock);
	l = *lease_find(ls, plan->lease_id);
	if (l != NULL && !l->expired && l->deadline_ms > util_now_ms())
		l->deadline_ms = plan->deadline_ms;
	pthread_mutex_unlock(&ls->lock);
}

const struct budget_store_ops budget_local_ops = {
	.name = "local",
	.worker_init = local_worker_init,
	.worker_free = local_worker_free,
	.reserve = local_reserve,
	.settle = local_settle,
	.peek = local_peek,
	.renew = local_renew,
};
