/*
 * Upstream client: HTTP/1.1 to provider endpoints over bufferevents.
 *
 * Each worker owns one pool.  A connection (struct upconn) is either busy
 * with exactly one request or idle in the pool, keyed by scheme, host, port
 * and CA file.  An idle connection keeps reading so that a close or stray
 * bytes from the provider retire it at once, and it is retired after the
 * provider's idle timeout.  Requests are never retried here: once
 * upstream_send() has queued the bytes, any failure goes to on_done and the
 * proxy decides (it only falls back on failures that prove the provider
 * produced nothing).
 *
 * Timers: while connecting (TCP and TLS handshake) the connect timeout;
 * then until the answer's head (status line and headers) is complete the
 * first-byte timeout; from the first byte on, the bufferevent read timeout
 * as the idle timeout between reads.
 *
 * Callbacks into the proxy may cancel the request (client went away); the
 * connection then only sets a flag and is freed when control returns here
 * (conn->in_cb).
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cfg.h"
#include "httpresp.h"
#include "log.h"
#include "upstream.h"
#include "util.h"
#include "xmalloc.h"

#define UPCONN_MAGIC	0x75706331U
#define UPREQ_MAGIC	0x75707271U
#define UP_MAX_HEADER	(64 * 1024)
#define UP_READ_HIGH	(256 * 1024)

struct upconn;

struct upstream_req {
	uint32_t		 magic;
	struct upconn		*conn;
	const struct upstream_cbs *cbs;
	void			*arg;
	int			 first_byte_ms;
	int			 idle_ms;
	int			 got_byte;
	int			 paused;
	int			 cancelled;
};

struct upconn {
	uint32_t		 magic;
	struct upstream_pool	*pool;
	char			*key;
	struct bufferevent	*bev;
	struct event		*timer;
	struct httpresp		*parser;
	struct upstream_req	*req;		/* NULL when idle */
	int			 connected;
	int			 in_cb;		/* inside conn_read() */
	int			 dead;		/* free when in_cb drops */
	int			 idle_ms;	/* lifetime when idle */
	TAILQ_ENTRY(upconn)	 entry;		/* pool->idle */
};
TAILQ_HEAD(upconn_list, upconn);

struct sslctx {
	char		*ca_file;	/* NULL: system store */
	SSL_CTX		*ctx;
};

struct upstream_pool {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct upconn_list	 idle;
	size_t			 nidle;
	struct upconn_list	 busy;
	struct sslctx		*ctxs;
	size_t			 nctxs;
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static void	conn_process(struct upconn *);

const char *
upstream_error_text(enum upstream_error e)
{
	switch (e) {
	case UPSTREAM_OK:
		return ("ok");
	case UPSTREAM_ECONNECT:
		return ("could not connect to the provider");
	case UPSTREAM_ETIMEOUT_CONNECT:
		return ("timed out connecting to the provider");
	case UPSTREAM_ETIMEOUT_FIRSTBYTE:
		return ("the provider did not answer in time");
	case UPSTREAM_ETIMEOUT_IDLE:
		return ("the provider stopped sending");
	case UPSTREAM_EPROTO:
		return ("the provider sent an invalid answer");
	case UPSTREAM_ERESET:
		return ("the provider closed the connection");
	case UPSTREAM_ETOOBIG:
		return ("the provider's answer is too large");
	case UPSTREAM_EREDIRECT:
		return ("the provider answered with a redirect, which "
		    "tollgate does not follow");
	}
	return ("unknown upstream error");
}

struct upstream_pool *
upstream_pool_new(struct event_base *base)
{
	struct upstream_pool	*pool;

	pool = xcalloc(1, sizeof *pool);
	pool->base = base;
	pool->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (pool->dns == NULL) {
		/* No resolv.conf: still usable for IP literals. */
		pool->dns = evdns_base_new(base, 0);
	}
	TAILQ_INIT(&pool->idle);
	TAILQ_INIT(&pool->busy);
	return (pool);
}

static void
conn_free(struct upconn *conn)
{
	struct upstream_pool	*pool = conn->pool;

	if (conn->in_cb) {
		conn->dead = 1;
		return;
	}
	if (conn->req == NULL) {
		TAILQ_REMOVE(&pool->idle, conn, entry);
		pool->nidle--;
	} else {
		TAILQ_REMOVE(&pool->busy, conn, entry);
		conn->req->conn = NULL;
	}
	if (conn->bev != NULL)
		bufferevent_free(conn->bev);
	if (conn->timer != NULL)
		event_free(conn->timer);
	httpresp_free(conn->parser);
	free(conn->key);
	conn->magic = 0;
	free(conn);
}

void
upstream_pool_free(struct upstream_pool *pool)
{
	struct upconn	*conn;
	size_t		 i;

	if (pool == NULL)
		return;
	while ((conn = TAILQ_FIRST(&pool->idle)) != NULL)
		conn_free(conn);
	while ((conn = TAILQ_FIRST(&pool->busy)) != NULL) {
		conn->req->magic = 0;
		free(conn->req);
		conn->req = NULL;
		TAILQ_REMOVE(&pool->busy, conn, entry);
		TAILQ_INSERT_HEAD(&pool->idle, conn, entry);
		pool->nidle++;
		conn_free(conn);
	}
	for (i = 0; i < pool->nctxs; i++) {
		SSL_CTX_free(pool->ctxs[i].ctx);
		free(pool->ctxs[i].ca_file);
	}
	free(pool->ctxs);
	if (pool->dns != NULL)
		evdns_base_free(pool->dns, 0);
	free(pool);
}

size_t
upstream_pool_idle(const struct upstream_pool *pool)
{
	return (pool->nidle);
}

/* A client TLS context per CA file, built on first use. */
static SSL_CTX *
pool_sslctx(struct upstream_pool *pool, const char *ca_file)
{
	struct sslctx	*s;
	SSL_CTX		*ctx;
	size_t		 i;

	for (i = 0; i < pool->nctxs; i++) {
		s = &pool->ctxs[i];
		if ((s->ca_file == NULL && ca_file == NULL) ||
		    (s->ca_file != NULL && ca_file != NULL &&
		    strcmp(s->ca_file, ca_file) == 0))
			return (s->ctx);
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return (NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			log_error("cannot load ca_file %s", ca_file);
			SSL_CTX_free(ctx);
			return (NULL);
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		SSL_CTX_free(ctx);
		return (NULL);
	}
	pool->ctxs = xreallocarray(pool->ctxs, pool->nctxs + 1,
	    sizeof *pool->ctxs);
	s = &pool->ctxs[pool->nctxs++];
	s->ca_file = ca_file != NULL ? xstrdup(ca_file) : NULL;
	s->ctx = ctx;
	return (ctx);
}

static int
is_ip_literal(const char *host)
{
	struct sockaddr_storage	ss;
	int			len = sizeof ss;
	char			buf[300];

	snprintf(buf, sizeof buf, "%s%s%s:1", strchr(host, ':') ? "[" : "",
	    host, strchr(host, ':') ? "]" : "");
	return (evutil_parse_sockaddr_port(buf, (struct sockaddr *)&ss,
	    &len) == 0);
}

static void
conn_timer_set(struct upconn *conn, int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(conn->timer, &tv);
}

static struct upconn *
conn_new(struct upstream_pool *pool, const struct cfg_provider *prov,
    const struct cfg_endpoint *ep, const char *key)
{
	struct upconn	*conn;
	SSL_CTX		*ctx;
	SSL		*ssl;

	conn = xcalloc(1, sizeof *conn);
	conn->magic = UPCONN_MAGIC;
	conn->pool = pool;
	conn->key = xstrdup(key);
	conn->idle_ms = prov->idle_timeout_ms;
	conn->parser = httpresp_new(UP_MAX_HEADER);
	conn->timer = evtimer_new(pool->base, conn_timer_cb, conn);
	if (ep->tls) {
		if ((ctx = pool_sslctx(pool, prov->ca_file)) == NULL ||
		    (ssl = SSL_new(ctx)) == NULL)
			goto fail;
		if (!is_ip_literal(ep->host))
			SSL_set_tlsext_host_name(ssl, ep->host);
		if (SSL_set1_host(ssl, ep->host) != 1) {
			SSL_free(ssl);
			goto fail;
		}
		conn->bev = bufferevent_openssl_socket_new(pool->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (conn->bev == NULL) {
			SSL_free(ssl);
			goto fail;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
	} else {
		conn->bev = bufferevent_socket_new(pool->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (conn->bev == NULL)
			goto fail;
	}
	bufferevent_setcb(conn->bev, conn_read_cb, NULL, conn_event_cb, conn);
	bufferevent_setwatermark(conn->bev, EV_READ, 0, UP_READ_HIGH);
	if (bufferevent_socket_connect_hostname(conn->bev, pool->dns,
	    AF_UNSPEC, ep->host, ep->port) == -1)
		goto fail;
	conn_timer_set(conn, prov->connect_timeout_ms);
	return (conn);
fail:
	if (conn->bev != NULL)
		bufferevent_free(conn->bev);
	event_free(conn->timer);
	httpresp_free(conn->parser);
	free(conn->key);
	free(conn);
	return (NULL);
}

/* Hand the request its result and detach it from the connection. */
static void
req_finish(struct upconn *conn, enum upstream_error err)
{
	struct upstream_req	*req = conn->req;

	if (req == NULL)
		return;
	TAILQ_REMOVE(&conn->pool->busy, conn, entry);
	conn->req = NULL;
	req->conn = NULL;
	TAILQ_INSERT_TAIL(&conn->pool->idle, conn, entry);
	conn->pool->nidle++;
	evtimer_del(conn->timer);
	bufferevent_set_timeouts(conn->bev, NULL, NULL);
	if (!req->cancelled)
		req->cbs->on_done(req, err, req->arg);
	req->magic = 0;
	free(req);
}

static void
conn_fail(struct upconn *conn, enum upstream_error err)
{
	req_finish(conn, err);
	conn_free(conn);
}

/* The connection is free again: keep it for the next request. */
static void
conn_idle(struct upconn *conn)
{
	conn_timer_set(conn, conn->idle_ms);
	bufferevent_enable(conn->bev, EV_READ);
}

static int
resp_headers_cb(struct httpresp *p, void *arg)
{
	struct upconn		*conn = arg;
	struct upstream_req	*req = conn->req;

	if (req == NULL || req->cancelled)
		return (-1);
	evtimer_del(conn->timer);
	return (req->cbs->on_headers(req, p, req->arg));
}

static int
resp_body_cb(const char *buf, size_t len, void *arg)
{
	struct upconn		*conn = arg;
	struct upstream_req	*req = conn->req;

	if (req == NULL || req->cancelled)
		return (-1);
	return (req->cbs->on_body(req, buf, len, req->arg));
}

static int
resp_done_cb(void *arg)
{
	return (0);
}

static const struct httpresp_cbs resp_cbs = {
	resp_headers_cb, resp_body_cb, resp_done_cb
};

/*
 * Feed what the provider sent to the parser (unless paused; force ignores
 * the pause, for the bytes left when the provider closed).  Never frees the
 * connection: conn_settle() does that.
 */
static enum httpresp_state
conn_feed(struct upconn *conn, int force)
{
	struct evbuffer		*in = bufferevent_get_input(conn->bev);
	struct evbuffer_iovec	 v;
	struct upstream_req	*req;
	enum httpresp_state	 st = HTTPRESP_MORE;
	size_t			 used;

	conn->in_cb = 1;
	while ((req = conn->req) != NULL && (force || !req->paused) &&
	    !req->cancelled && !conn->dead &&
	    evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if (!req->got_byte) {
			struct timeval	tv;

			/*
			 * The first-byte timer runs on until the head is
			 * complete (resp_headers_cb()): a head that trickles
			 * in is cut as one that never starts.
			 */
			req->got_byte = 1;
			if (req->idle_ms > 0) {
				tv.tv_sec = req->idle_ms / 1000;
				tv.tv_usec = (req->idle_ms % 1000) * 1000;
				bufferevent_set_timeouts(conn->bev, &tv, NULL);
			}
		}
		st = httpresp_feed(conn->parser, v.iov_base, v.iov_len, &used,
		    &resp_cbs, conn);
		evbuffer_drain(in, used);
		if (st != HTTPRESP_MORE)
			break;
	}
	conn->in_cb = 0;
	return (st);
}

/* Act on the parser's state after a feed: finish, fail or go on. */
static void
conn_settle(struct upconn *conn, enum httpresp_state st)
{
	struct upstream_req	*req = conn->req;
	int			 reuse;

	if (conn->dead || (req != NULL && req->cancelled)) {
		conn_fail(conn, UPSTREAM_ERESET);
		return;
	}
	if (st == HTTPRESP_ERROR) {
		log_warn("upstream %s: %s", conn->key,
		    httpresp_error(conn->parser));
		conn_fail(conn, UPSTREAM_EPROTO);
		return;
	}
	if (st != HTTPRESP_DONE)
		return;
	reuse = httpresp_keepalive(conn->parser) &&
	    evbuffer_get_length(bufferevent_get_input(conn->bev)) == 0;
	conn->in_cb = 1;
	req_finish(conn, UPSTREAM_OK);
	conn->in_cb = 0;
	if (!reuse || conn->dead)
		conn_free(conn);
	else
		conn_idle(conn);
}

static void
conn_process(struct upconn *conn)
{
	conn_settle(conn, conn_feed(conn, 0));
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct upconn	*conn = arg;

	if (conn->magic != UPCONN_MAGIC)
		fatalx("upstream: bad connection magic");
	if (conn->req == NULL) {
		/* Idle connection: a provider does not speak first. */
		conn_free(conn);
		return;
	}
	conn_process(conn);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upconn		*conn = arg;
	struct upstream_req	*req = conn->req;
	enum httpresp_state	 st;
	unsigned long		 e;

	if (conn->magic != UPCONN_MAGIC)
		fatalx("upstream: bad connection magic");
	if (what & BEV_EVENT_CONNECTED) {
		conn->connected = 1;
		evtimer_del(conn->timer);
		if (req != NULL)
			conn_timer_set(conn, req->first_byte_ms);
		{
			int	one = 1;

			setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
			    TCP_NODELAY, &one, sizeof one);
		}
		return;
	}
	if (req == NULL) {
		conn_free(conn);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		conn_fail(conn, UPSTREAM_ETIMEOUT_IDLE);
		return;
	}
	if (!conn->connected) {
		while ((e = bufferevent_get_openssl_error(bev)) != 0) {
			char	buf[256];

			ERR_error_string_n(e, buf, sizeof buf);
			log_warn("upstream %s: TLS: %s", conn->key, buf);
		}
		conn_fail(conn, UPSTREAM_ECONNECT);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Bytes may still sit in the input buffer; parse them. */
		st = conn_feed(conn, 1);
		if (st == HTTPRESP_MORE && !conn->dead && conn->req != NULL &&
		    !conn->req->cancelled) {
			conn->in_cb = 1;
			st = httpresp_eof(conn->parser, &resp_cbs, conn);
			conn->in_cb = 0;
			if (st == HTTPRESP_MORE)
				st = HTTPRESP_ERROR;
		}
		if (st == HTTPRESP_DONE) {
			/* Read-until-close answer: complete, not reusable. */
			conn->in_cb = 1;
			req_finish(conn, UPSTREAM_OK);
			conn->in_cb = 0;
			conn_free(conn);
			return;
		}
		conn_fail(conn, UPSTREAM_ERESET);
		return;
	}
	conn_fail(conn, UPSTREAM_ERESET);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upconn	*conn = arg;

	if (conn->magic != UPCONN_MAGIC)
		fatalx("upstream: bad connection magic");
	if (conn->req == NULL)
		conn_free(conn);
	else if (!conn->connected)
		conn_fail(conn, UPSTREAM_ETIMEOUT_CONNECT);
	else
		conn_fail(conn, UPSTREAM_ETIMEOUT_FIRSTBYTE);
}

struct upstream_req *
upstream_send(struct upstream_pool *pool, const struct cfg_provider *prov,
    const struct cfg_endpoint *ep, struct evbuffer *head,
    struct evbuffer *body, const struct upstream_cbs *cbs, void *arg)
{
	struct upstream_req	*req;
	struct upconn		*conn;

	TAILQ_FOREACH(conn, &pool->idle, entry) {
		if (strcmp(conn->key, ep->pool_key) == 0)
			break;
	}
	if (conn != NULL) {
		TAILQ_REMOVE(&pool->idle, conn, entry);
		pool->nidle--;
		evtimer_del(conn->timer);
	} else if ((conn = conn_new(pool, prov, ep, ep->pool_key)) == NULL)
		return (NULL);

	req = xcalloc(1, sizeof *req);
	req->magic = UPREQ_MAGIC;
	req->conn = conn;
	req->cbs = cbs;
	req->arg = arg;
	req->first_byte_ms = prov->first_byte_timeout_ms;
	req->idle_ms = prov->idle_timeout_ms;
	conn->req = req;
	conn->idle_ms = prov->idle_timeout_ms;
	TAILQ_INSERT_TAIL(&pool->busy, conn, entry);
	httpresp_reset(conn->parser, 0);
	if (conn->connected)
		conn_timer_set(conn, req->first_byte_ms);

	bufferevent_write_buffer(conn->bev, head);
	if (body != NULL)
		bufferevent_write_buffer(conn->bev, body);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	return (req);
}

void
upstream_pause(struct upstream_req *req)
{
	if (req->magic != UPREQ_MAGIC || req->conn == NULL)
		return;
	req->paused = 1;
	bufferevent_disable(req->conn->bev, EV_READ);
}

void
upstream_resume(struct upstream_req *req)
{
	struct upconn	*conn;

	if (req->magic != UPREQ_MAGIC || (conn = req->conn) == NULL ||
	    !req->paused)
		return;
	req->paused = 0;
	bufferevent_enable(conn->bev, EV_READ);
	if (!conn->in_cb &&
	    evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0)
		conn_process(conn);
}

void
upstream_cancel(struct upstream_req *req)
{
	struct upconn	*conn;

	if (req->magic != UPREQ_MAGIC)
		return;
	req->cancelled = 1;
	if ((conn = req->conn) == NULL)
		return;
	if (conn->in_cb)
		return;		/* conn_process() frees it */
	conn_fail(conn, UPSTREAM_ERESET);
}
