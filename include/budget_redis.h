/*
 * The Redis counter store: the same semantics as the local store, shared
 * by any number of tollgate processes.  Each step (reserve, settle, peek,
 * renew) is one Lua script run with EVALSHA (EVAL when Redis answers
 * NOSCRIPT), on a hiredis async connection attached to the worker's event
 * loop; the reserves, and the settles, a worker makes in one loop turn
 * leave together as one script, each decided as if alone.  A reserve or
 * peek that gets no answer within timeout_ms reports
 * BUDGET_UNAVAILABLE; the proxy then denies (503) or, with on_error
 * "allow", uses its in-process fallback store.
 *
 * Keys (one Redis, or a Sentinel-managed primary; not Redis Cluster):
 *   tg:c:<counter key>   hash u0 u1 u2 (used nusd, tokens, requests) and
 *                        l0 l1 l2 (leased); expires a day after its window
 *   tg:lease:<lease id>  hash: the lease's counters, reserve and deadline
 *   tg:leases            sorted set of lease ids by deadline (ms); a renew
 *                        moves both deadlines
 *   tg:settled:<id>      marks a settled lease for a day (idempotency)
 */
#ifndef BUDGET_REDIS_H
#define BUDGET_REDIS_H

#include <stddef.h>

#include "budget.h"

extern const struct budget_store_ops budget_redis_ops;

/*
 * A store for url ("redis://host:port/db", optional password as
 * "redis://:password@host:port/db").  Returns NULL and sets *cause
 * (caller frees) when url is malformed; connecting happens per worker.
 */
void	*budget_redis_new(const char *url, int timeout_ms, char **cause);
void	 budget_redis_free(void *store);

/* Number of steps that failed (timeout, connection, script) so far. */
unsigned long	budget_redis_errors(void *store);

/*
 * Blocking, for `tollgate reconcile`: replace the used amounts of each
 * named counter by used[i] and drop leases whose deadline passed.
 * Returns 0, or -1 with *cause set.
 */
int	 budget_redis_reconcile(void *store, const char * const *keys,
	    const int64_t *end_ms, const struct budget_amount *used, size_t n,
	    int64_t now_ms, char **cause);

#endif
