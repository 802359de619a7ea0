/*
 * Endpoint health: a small table keyed by provider and endpoint URL under
 * one mutex (attempts are rare next to the work of a request).  Ejection
 * and recovery are logged as JSON events and shown as the gauge
 * tollgate_upstream_health{provider,endpoint} (1 up, 0 ejected).
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cfg.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

struct ep_health {
	struct ep_health	*next;
	char			*provider;
	char			*url;
	int			 failures;	/* in a row */
	int			 ejected;
	int64_t			 until_ms;	/* ejected until */
};

static pthread_mutex_t	 h_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ep_health	*h_list;

/* The entry for endpoint i of prov, created on first use; h_lock held. */
static struct ep_health *
entry(const struct cfg_provider *prov, size_t i)
{
	struct ep_health	*h;
	const char		*url = prov->endpoints[i].url;

	for (h = h_list; h != NULL; h = h->next) {
		if (strcmp(h->url, url) == 0 &&
		    strcmp(h->provider, prov->name) == 0)
			return (h);
	}
	h = xcalloc(1, sizeof *h);
	h->provider = xstrdup(prov->name);
	h->url = xstrdup(url);
	h->next = h_list;
	h_list = h;
	metrics_set(M_UPSTREAM_HEALTH, 1, prov->name, url, NULL);
	return (h);
}

size_t
health_pick(const struct cfg_provider *prov, uint32_t tried, int64_t now_ms)
{
	size_t	i, first = prov->nendpoints;

	pthread_mutex_lock(&h_lock);
	for (i = 0; i < prov->nendpoints && i < 32; i++) {
		if (tried & (1U << i))
			continue;
		if (first == prov->nendpoints)
			first = i;
		if (!entry(prov, i)->ejected || entry(prov, i)->until_ms <=
		    now_ms)
			break;
	}
	pthread_mutex_unlock(&h_lock);
	return (i < prov->nendpoints && i < 32 ? i : first);
}

static void
health_event(const char *msg, const struct ep_health *h)
{
	json_t	*o = json_pack("{s:s, s:s, s:i}", "provider", h->provider,
	    "endpoint", h->url, "failures", h->failures);	/* new */

	log_event(LOG_LVL_WARN, msg, o);
	json_decref(o);
}

void
health_report(const struct cfg_provider *prov, size_t i, int ok,
    int64_t now_ms)
{
	struct ep_health	*h;

	pthread_mutex_lock(&h_lock);
	h = entry(prov, i);
	if (ok) {
		if (h->ejected) {
			h->ejected = 0;
			metrics_set(M_UPSTREAM_HEALTH, 1, h->provider, h->url,
			    NULL);
			health_event("endpoint recovered", h);
		}
		h->failures = 0;
	} else {
		h->failures++;
		if (h->failures >= prov->eject_after &&
		    (!h->ejected || h->until_ms <= now_ms)) {
			h->ejected = 1;
			h->until_ms = now_ms + prov->eject_ms;
			metrics_set(M_UPSTREAM_HEALTH, 0, h->provider, h->url,
			    NULL);
			health_event("endpoint ejected", h);
		}
	}
	pthread_mutex_unlock(&h_lock);
}
