/*
 * Endpoint health, Envoy outlier-detection style: an endpoint that fails
 * eject_after times in a row (connect or TLS failure, 5xx, first-byte
 * timeout) is ejected for eject_ms; after that it gets live traffic again
 * (half-open), and one more failure ejects it again while one success
 * brings it back.  State is per process, shared by the worker threads.
 */
#ifndef HEALTH_H
#define HEALTH_H

#include <stddef.h>
#include <stdint.h>

struct cfg_provider;

/*
 * The endpoint to try next: the first, in configured order, that is not in
 * tried (a bit per endpoint) and not ejected; when every untried one is
 * ejected, the first untried.  Returns prov->nendpoints when all were tried.
 */
size_t	 health_pick(const struct cfg_provider *, uint32_t tried,
	    int64_t now_ms);

/* The outcome of one attempt on endpoint i. */
void	 health_report(const struct cfg_provider *, size_t i, int ok,
	    int64_t now_ms);

#endif
