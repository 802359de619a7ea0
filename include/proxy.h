/*
 * The proxy request path: route, authenticate, inspect the body, apply
 * model policy, forward to the provider, relay the answer (SSE streamed
 * with backpressure), meter the tokens and write the ledger row and the
 * access log line.  One struct proxy_req per client request; it has one
 * finish path (proxy_finish) that takes the outcome.
 */
#ifndef PROXY_H
#define PROXY_H

struct http_req;

/* The listener's request callback; arg is the struct worker. */
void	proxy_request_cb(struct http_req *, void *arg);

/*
 * The drain timeout expired: end every request still in flight on w (streams
 * get an error event), each with its ledger row.
 */
struct worker;
void	proxy_abort_all(struct worker *);

/*
 * Create w's lease renewal timer (w->ev_renew, freed by the caller).  It
 * runs while w has requests with leases, so that they keep their hold on
 * the budget however long they run.
 */
void	proxy_renew_init(struct worker *);

#endif
