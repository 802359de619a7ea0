/*
 * The client-facing HTTP/1.1 server: accepts on the worker's listeners
 * (plain or TLS), reads requests with the strict parser of httpresp.h,
 * enforces the limits (head and body size, one deadline for a whole
 * request, keep-alive idle time, a process-wide connection cap) and writes
 * answers, whole or streamed.  One event loop, no locks.
 *
 * A request is handed to the request callback once it is complete, or
 * once it is known to be bad: then http_req_error() says what to answer,
 * and the connection closes after that answer.  Clients that never finish
 * a request (slowloris, a stalled body) are disconnected at the deadline
 * without an answer.
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct event_base;
struct evbuffer;
struct evconnlistener;
struct http_server;
struct http_req;

struct http_limits {
	size_t		max_header_bytes;
	uint64_t	max_body_bytes;
	int		header_timeout_s;	/* to send a whole request */
	int		keepalive_timeout_s;	/* idle between requests */
};

typedef void	(*http_request_cb)(struct http_req *, void *arg);
typedef void	(*http_req_cb)(struct http_req *, void *arg);

/* A server on base; request_cb(req, arg) gets every request. */
struct http_server *http_server_new(struct event_base *,
		    const struct http_limits *, http_request_cb, void *arg);

/* Accept on lev (taken over: freed with the server); tls may be NULL. */
void		 http_server_listen(struct http_server *,
		    struct evconnlistener *lev, SSL_CTX *tls);

/*
 * Serve the connected socket fd (taken over) as if accepted; tls may be
 * NULL.  For tests and fuzzers.
 */
void		 http_server_adopt(struct http_server *, int fd, SSL_CTX *tls);

/*
 * Stop accepting and close idle connections; the others close once their
 * answer has left.  idle_cb(arg) runs when the last connection is gone
 * (at once when there is none).
 */
void		 http_server_stop(struct http_server *,
		    void (*idle_cb)(void *), void *arg);

/* Close everything (requests in flight get their close callbacks). */
void		 http_server_free(struct http_server *);

/* At most n client connections in the whole process (0: no cap). */
void		 http_server_max_connections(int n);

/* Open client connections in the whole process. */
int		 http_server_connections(void);

/*
 * The request.  Strings are borrowed from the request and live until it
 * ends (its answer is complete or its close callback ran).
 */
const char	*http_req_method(const struct http_req *);
const char	*http_req_path(const struct http_req *);	/* no query */
const char	*http_req_header(const struct http_req *, const char *name);
int		 http_req_header_count(const struct http_req *,
		    const char *name);
struct evbuffer	*http_req_body(struct http_req *);	/* borrowed */

/*
 * The status the server wants this request refused with (400, 413, 431),
 * with a static reason in *why; 0 for a good request.  Method, path and
 * headers may be NULL/absent for a refused request.
 */
int		 http_req_error(const struct http_req *, const char **why);

/*
 * cb(req, arg) runs once if the client goes away (or the write timeout
 * passes) before the answer is complete; req is freed when it returns.
 */
void		 http_req_set_close_cb(struct http_req *, http_req_cb,
		    void *arg);

/* Answer headers; names and values are copied. */
void		 http_req_add_header(struct http_req *, const char *name,
		    const char *value);
void		 http_req_remove_header(struct http_req *, const char *name);

/* Close the connection after this answer. */
void		 http_req_close_after(struct http_req *);

/*
 * While answering: the client must take bytes at least every seconds, or
 * it counts as gone.
 */
void		 http_req_set_write_timeout(struct http_req *, int seconds);

/*
 * A whole answer; body (may be NULL) is drained.  The request is over for
 * the caller: req must not be used again.
 */
void		 http_req_reply(struct http_req *, int status,
		    struct evbuffer *body);

/* A streamed answer: start, chunks (data is drained), end. */
void		 http_req_reply_start(struct http_req *, int status);
void		 http_req_reply_chunk(struct http_req *, struct evbuffer *data);
/* Ends the answer; req must not be used again. */
void		 http_req_reply_end(struct http_req *);

/* Bytes queued for the client and not yet written. */
size_t		 http_req_pending(const struct http_req *);

/* cb(req, arg) runs when the queued bytes have all been written. */
void		 http_req_set_drain_cb(struct http_req *, http_req_cb,
		    void *arg);

#endif
