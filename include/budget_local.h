/*
 * The local counter store: counters and leases in this process, under one
 * lock.  At start it is seeded from the ledger (budget_local_seed), so a
 * restart forgets nothing that was settled; leases do not survive a
 * restart, which is right: their requests died with the process.
 */
#ifndef BUDGET_LOCAL_H
#define BUDGET_LOCAL_H

#include "budget.h"

extern const struct budget_store_ops budget_local_ops;

/* A new, empty store (caller frees with budget_local_free()). */
void	*budget_local_new(void);
void	 budget_local_free(void *store);

/* Add settled usage to the counter named key (window ends at end_ms). */
void	 budget_local_seed(void *store, const char *key, int64_t end_ms,
	    const struct budget_amount *used);

#endif
