/*
 * Budget threshold alerts.  A process-wide table remembers which
 * (counter window, threshold) pairs fired, so each fires once; entries
 * go when their window has been closed for a day.  The webhook POST goes
 * through the worker's upstream pool like a provider call, with short
 * timeouts; its answer is only logged.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include <jansson.h>

#include "alert.h"
#include "budget.h"
#include "cfg.h"
#include "httpresp.h"
#include "log.h"
#include "metrics.h"
#include "price.h"
#include "upstream.h"
#include "util.h"
#include "xmalloc.h"

#define KEEP_MS		86400000

struct fired {
	struct fired	*next;
	char		*key;		/* counter key, unit, threshold */
	int64_t		 end_ms;
};

static pthread_mutex_t	 alert_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fired	*alert_fired;
static uint64_t		 alert_n;

uint64_t
alert_count(void)
{
	uint64_t	n;

	pthread_mutex_lock(&alert_lock);
	n = alert_n;
	pthread_mutex_unlock(&alert_lock);
	return (n);
}

/* First time for key in its window?  Also forgets long closed windows. */
static int
alert_first(const char *key, int64_t end_ms, int64_t now)
{
	struct fired	**fp, *f;
	int		  first = 1;

	pthread_mutex_lock(&alert_lock);
	for (fp = &alert_fired; (f = *fp) != NULL;) {
		if (f->end_ms + KEEP_MS < now) {
			*fp = f->next;
			free(f->key);
			free(f);
			continue;
		}
		if (strcmp(f->key, key) == 0)
			first = 0;
		fp = &f->next;
	}
	if (first) {
		f = xcalloc(1, sizeof *f);
		f->key = xstrdup(key);
		f->end_ms = end_ms;
		f->next = alert_fired;
		alert_fired = f;
		alert_n++;
	}
	pthread_mutex_unlock(&alert_lock);
	return (first);
}

static int
hook_headers_cb(struct upstream_req *up, struct httpresp *r, void *arg)
{
	if (httpresp_status(r) >= 300)
		log_warn("alert webhook answered %d", httpresp_status(r));
	return (0);
}

static int
hook_body_cb(struct upstream_req *up, const char *b, size_t n, void *arg)
{
	return (0);
}

static void
hook_done_cb(struct upstream_req *up, enum upstream_error e, void *arg)
{
	if (e != UPSTREAM_OK)
		log_warn("alert webhook: %s", upstream_error_text(e));
}

static const struct upstream_cbs hook_cbs = {
	hook_headers_cb, hook_body_cb, hook_done_cb
};

static void
alert_post(const struct cfg *cfg, json_t *ev, struct upstream_pool *pool)
{
	static struct cfg_provider	 hook = {
		.name = "alerts", .connect_timeout_ms = 5000,
		.first_byte_timeout_ms = 10000, .idle_timeout_ms = 10000
	};
	struct evbuffer			*head, *body;
	char				*s;

	if ((s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(12))) == NULL)
		return;
	head = evbuffer_new();
	body = evbuffer_new();
	evbuffer_add(body, s, strlen(s));
	evbuffer_add_printf(head, "POST %s HTTP/1.1\r\nHost: %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "User-Agent: tollgate/" PACKAGE_VERSION "\r\n\r\n",
	    cfg->alerts_target, cfg->alerts_ep->authority, strlen(s));
	if (upstream_send(pool, &hook, cfg->alerts_ep, head, body, &hook_cbs,
	    NULL) == NULL)
		log_warn("alert webhook: cannot connect");
	evbuffer_free(head);
	evbuffer_free(body);
	free(s);
}

void
alert_check(const struct cfg *cfg, const struct cfg_app *app,
    const struct budget_plan *plan, struct upstream_pool *pool)
{
	const struct budget_check	*k;
	const struct budget_counter	*c;
	json_t				*ev;		/* new */
	int64_t				 used, now = util_now_ms();
	size_t				 i, j;
	double				 ratio;
	char				 key[256], ws[32], we[32];

	for (i = 0; i < plan->nchecks; i++) {
		k = &plan->checks[i];
		c = &plan->counters[k->counter];
		if (k->lim == NULL || k->lim->nalert == 0 || k->limit <= 0)
			continue;
		used = plan->state[k->counter].used.v[k->unit] +
		    plan->actual.v[k->unit];
		ratio = (double)used / (double)k->limit;
		for (j = 0; j < k->lim->nalert; j++) {
			if (ratio < k->lim->alert_at[j])
				continue;
			snprintf(key, sizeof key, "%s/%s/%g", c->key,
			    cfg_unit_name(k->unit), k->lim->alert_at[j]);
			if (!alert_first(key, c->end_ms, now))
				continue;
			util_rfc3339(c->start_ms, ws);
			util_rfc3339(c->end_ms, we);
			ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:o, "
			    "s:o, s:s, s:s}", "event", "budget_alert",
			    "app", app->name, "team", app->team->name,
			    "scope", c->scope == SCOPE_APP ? "app" : "team",
			    "unit", cfg_unit_name(k->unit),
			    "per", cfg_per_name(c->per),
			    "threshold", k->lim->alert_at[j],
			    "limit", k->unit == UNIT_USD ?
			    price_usd_json(k->limit) :
			    json_integer(k->limit),
			    "used", k->unit == UNIT_USD ?
			    price_usd_json(used) : json_integer(used),
			    "window_start", ws, "window_end", we);
			log_event(LOG_LVL_WARN, "budget alert", ev);
			metrics_add(M_ALERTS, 1, app->name, NULL, NULL);
			if (cfg->alerts_ep != NULL && pool != NULL)
				alert_post(cfg, ev, pool);
			json_decref(ev);
		}
	}
}
