/*
 * Budget threshold alerts (alert_at): once per window and threshold, a
 * JSON log event and, when alerts.webhook is set, a JSON POST to it.  The
 * check runs when a request settles, on settled usage plus that request:
 * an alert can come late (requests in flight are not counted) but never
 * early.  With several replicas each may alert once.
 */
#ifndef ALERT_H
#define ALERT_H

#include <stdint.h>

struct cfg;
struct cfg_app;
struct budget_plan;
struct upstream_pool;

/* Check plan (its state is from the reserve, actual is set) for app. */
void	 alert_check(const struct cfg *, const struct cfg_app *,
	    const struct budget_plan *, struct upstream_pool *);

/* Alerts fired so far (for metrics and tests). */
uint64_t alert_count(void);

#endif
