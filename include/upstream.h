/*
 * The upstream client: HTTP/1.1 over plain TCP or TLS to a provider
 * endpoint, with a keep-alive connection pool per worker thread.  Built on
 * raw bufferevents (not evhttp's client) so the proxy controls everything a
 * metering proxy must: no retries once a request byte was written, no
 * redirects, certificate and host name verification, connect / first-byte
 * (until the answer's head is complete) / idle timeouts, and backpressure
 * (upstream_pause() stops reading from the provider while the client is
 * slow).
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>

struct event_base;
struct evbuffer;
struct cfg_provider;
struct cfg_endpoint;
struct httpresp;

enum upstream_error {
	UPSTREAM_OK = 0,
	UPSTREAM_ECONNECT,	/* TCP connect or TLS handshake failed:
				   nothing reached the provider */
	UPSTREAM_ETIMEOUT_CONNECT,
	UPSTREAM_ETIMEOUT_FIRSTBYTE,
	UPSTREAM_ETIMEOUT_IDLE,
	UPSTREAM_EPROTO,	/* the answer was not valid HTTP */
	UPSTREAM_ERESET,	/* the connection broke mid-answer */
	UPSTREAM_ETOOBIG,	/* answer larger than the proxy accepts */
	UPSTREAM_EREDIRECT	/* a 3xx: never followed (the proxy's
				   verdict on a complete answer) */
};

const char	*upstream_error_text(enum upstream_error);

struct upstream_req;

struct upstream_cbs {
	/* Status and headers are in; return -1 to abort (then on_done is
	   not called). */
	int	(*on_headers)(struct upstream_req *, struct httpresp *,
		    void *arg);
	/* Decoded body bytes; return -1 to abort. */
	int	(*on_body)(struct upstream_req *, const char *, size_t,
		    void *arg);
	/* The answer is complete (UPSTREAM_OK) or failed.  The request is
	   freed right after this returns. */
	void	(*on_done)(struct upstream_req *, enum upstream_error,
		    void *arg);
};

struct upstream_pool;

/* One pool per worker event loop. */
struct upstream_pool	*upstream_pool_new(struct event_base *);
/* Close every connection; requests still running get no callback. */
void			 upstream_pool_free(struct upstream_pool *);

/*
 * Send a request: head is the request line and headers (CRLF-terminated,
 * blank line included), body its bytes; both are drained (moved) into the
 * connection.  Returns the request, owned by the pool until on_done or
 * upstream_cancel().
 */
struct upstream_req	*upstream_send(struct upstream_pool *,
			    const struct cfg_provider *,
			    const struct cfg_endpoint *, struct evbuffer *head,
			    struct evbuffer *body, const struct upstream_cbs *,
			    void *arg);

/* Stop / restart reading the answer (backpressure from a slow client). */
void	 upstream_pause(struct upstream_req *);
void	 upstream_resume(struct upstream_req *);

/* Abandon the request: no more callbacks; its connection is closed. */
void	 upstream_cancel(struct upstream_req *);

/* Idle connections kept in the pool (for tests and metrics). */
size_t	 upstream_pool_idle(const struct upstream_pool *);

#endif
