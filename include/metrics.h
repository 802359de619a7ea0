/*
 * Prometheus metrics.  Families are declared once (include/tbl/metrics.h);
 * series are created on first use from label values that come from the
 * configuration (app and model names, fixed reasons and kinds), never from
 * raw request input, so their number stays bounded.  Updates take one
 * mutex; rendering walks the series in a stable order.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>

struct evbuffer;

enum metric_id {
#define TG_METRIC(e, name, type, help, labels)	M_##e,
#include "tbl/metrics.h"
#undef TG_METRIC
	M_MAX
};

/* Add v to the counter or set the gauge; labels are values in order. */
void	 metrics_add(enum metric_id, double v, const char *l1, const char *l2,
	    const char *l3);
void	 metrics_set(enum metric_id, double v, const char *l1, const char *l2,
	    const char *l3);
/* Observe v (seconds) in a histogram without labels. */
void	 metrics_observe(enum metric_id, double v);

/*
 * Gauges read when rendering (queue depth, error totals kept elsewhere).
 * fn returns the current value.
 */
void	 metrics_gauge_fn(enum metric_id, double (*fn)(void));

/* Prometheus text exposition format 0.0.4 into out. */
void	 metrics_render(struct evbuffer *out);

/* Forget every series (tests). */
void	 metrics_reset(void);

#endif
