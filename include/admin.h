/*
 * The admin listener (DESIGN.md section 10): metrics, health, readiness,
 * usage, budget state per app and reload, on its own loopback socket,
 * served by the main thread.
 */
#ifndef ADMIN_H
#define ADMIN_H

struct event_base;
struct cfg;
struct budget_store_ops;
struct admin;

/*
 * Listen on cfg->admin_listen with a handle on the counter store.  Returns
 * NULL and sets *cause (caller frees) when the address cannot be bound.
 */
struct admin	*admin_start(struct event_base *, const struct cfg *,
		    const struct budget_store_ops *, void *store,
		    char **cause);
void		 admin_free(struct admin *);

#endif
