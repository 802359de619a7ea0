/*
 * The serving process: worker threads, each with its own event loop, its
 * own listening sockets (SO_REUSEPORT), its own HTTP server and its own
 * upstream pool; the current configuration generation; the ledger; signal
 * handling and graceful drain.
 */
#ifndef SERVER_H
#define SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct cfg;
struct ledger;
struct evhttp;
struct http_server;
struct event;
struct event_base;
struct upstream_pool;
struct proxy_req;

#define WORKER_MAGIC	0x776b7231U

struct worker {
	uint32_t		 magic;
	int			 id;
	pthread_t		 thread;
	struct event_base	*base;
	struct http_server	*http;		/* plain and TLS listeners */
	struct upstream_pool	*pool;
	void			*bctx;		/* counter store, this thread */
	void			*fallback_bctx;	/* in-process fallback */
	struct event		*ev_stop;	/* activated by the main thread */
	struct event		*ev_deadline;	/* drain timeout */
	struct event		*ev_renew;	/* lease renewal (proxy.c) */
	uint64_t		 rid_hi;	/* request id: random prefix */
	uint64_t		 rid_seq;	/* and a counter */
	struct proxy_req	*reqs;		/* in flight (proxy.c list) */
	int			 active;	/* requests in flight */
	int			 draining;
	int			 http_idle;	/* draining: no connection */
};

/* Idle time allowed between two requests on a client connection. */
#define KEEPALIVE_TIMEOUT_S	75

/* Run the proxy until SIGTERM/SIGINT and a drain.  Returns exit status. */
int		 server_run(const char *cfgpath);

/* A new reference to the current configuration generation. */
struct cfg	*server_cfg(void);

/* The ledger (borrowed; lives as long as the server). */
struct ledger	*server_ledger(void);

/* The key pepper (borrowed). */
const unsigned char *server_pepper(size_t *len);

/*
 * The counter store (shared) for worker w: *ops and w->bctx.  With Redis
 * and on_error "allow", fallback names the in-process store used while
 * Redis is unreachable (else NULL).
 */
struct budget_store_ops;
const struct budget_store_ops *server_budget(const struct budget_store_ops
		    **fallback);

/*
 * Load the configuration again and swap it in when valid (SIGHUP, POST
 * /admin/reload).  Returns 0, or -1 with the errors (free them with
 * cfg_errors_free()) when the running generation stays.
 */
int		 server_reload(char ***errors, size_t *nerrors);

/*
 * Bind an evhttp server to "host:port" (port 0: any; the bound address is
 * then logged as ready).  Returns 0, or -1 with *cause set.
 */
int		 server_bind(struct event_base *, struct evhttp *, const char *addr,
		    char **cause);

/* A request finished on w: lets a draining worker exit. */
void		 server_request_done(struct worker *w);

#endif
