/*
 * The client-facing HTTP/1.1 server (see http_server.h).
 *
 * A connection is a bufferevent, a request parser and at most one request.
 * It is in one of three phases:
 *
 *   IDLE     waiting for the first byte of a request; the keep-alive timer
 *            runs (the header timer on a new connection);
 *   READING  a request has begun: one deadline, header_timeout_s, covers
 *            its head and body, so a client trickling bytes (slowloris, a
 *            slow body) is cut off whatever its pace;
 *   ANSWER   the request callback owns the request until its answer ends.
 *            Bytes of a pipelined next request wait in the input buffer
 *            (bounded by a read high-water mark), and end of file still
 *            tells us when the client leaves.
 *
 * After an answer that closes the connection, the write side is shut and
 * what the client still sends is read and dropped for a moment (nginx's
 * lingering close): closing with unread input would reset the connection
 * and could destroy the answer before the client reads it.
 *
 * Each connection has one close path, conn_close(), which fires the
 * request's close callback if an answer was still owed.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "http_server.h"
#include "httpresp.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define HCONN_MAGIC	0x68636f6eU
#define HREQ_MAGIC	0x68726571U
#define LINGER_S	2		/* lingering close */
#define LINGER_BYTES	(1024 * 1024)

enum conn_phase {
	PHASE_IDLE,
	PHASE_READING,
	PHASE_ANSWER,
	PHASE_CLOSING,		/* flushing the last answer */
	PHASE_LINGER		/* sent; reading what the client still sends */
};

struct http_hdr {
	char	*name;
	char	*value;
};

struct http_conn;

struct http_req {
	uint32_t		 magic;
	struct http_conn	*conn;
	struct evbuffer		*body;
	char			*path;
	int			 errstatus;
	const char		*errwhy;
	int			 minor;
	int			 started;	/* status line sent */
	int			 chunked;	/* streamed with chunked coding */
	int			 close;		/* Connection: close */
	struct http_hdr		*hdrs;
	size_t			 nhdrs;
	http_req_cb		 close_cb;
	void			*close_arg;
	http_req_cb		 drain_cb;
	void			*drain_arg;
};

struct http_listener {
	struct evconnlistener	*lev;
	SSL_CTX			*tls;
	struct http_server	*srv;
};

struct http_conn {
	uint32_t		 magic;
	struct http_server	*srv;
	struct bufferevent	*bev;
	struct httpresp		*parser;
	struct http_req		*req;
	struct event		*timer;
	enum conn_phase		 phase;
	int			 tls;
	size_t			 lingered;	/* bytes dropped */
	TAILQ_ENTRY(http_conn)	 entry;
};

struct http_server {
	struct event_base	*base;
	struct http_limits	 lim;
	http_request_cb		 cb;
	void			*arg;
	struct http_listener	*ls;
	size_t			 nls;
	TAILQ_HEAD(, http_conn)	 conns;
	int			 stopping;
	void			(*idle_cb)(void *);
	void			*idle_arg;
};

static int	max_conns;
static int	nconns;			/* __atomic */

static void	conn_close(struct http_conn *);
static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_process(struct http_conn *);
static void	conn_new(struct http_server *, evutil_socket_t, SSL_CTX *);

void
http_server_max_connections(int n)
{
	__atomic_store_n(&max_conns, n, __ATOMIC_RELAXED);
}

int
http_server_connections(void)
{
	return (__atomic_load_n(&nconns, __ATOMIC_RELAXED));
}

struct http_server *
http_server_new(struct event_base *base, const struct http_limits *lim,
    http_request_cb cb, void *arg)
{
	struct http_server	*srv;

	srv = xcalloc(1, sizeof *srv);
	srv->base = base;
	srv->lim = *lim;
	srv->cb = cb;
	srv->arg = arg;
	TAILQ_INIT(&srv->conns);
	return (srv);
}

static void
timer_arm(struct http_conn *conn, int seconds)
{
	struct timeval	tv = { seconds, 0 };

	evtimer_add(conn->timer, &tv);
}

static void
req_free(struct http_req *req)
{
	size_t	i;

	if (req == NULL)
		return;
	for (i = 0; i < req->nhdrs; i++) {
		free(req->hdrs[i].name);
		free(req->hdrs[i].value);
	}
	free(req->hdrs);
	free(req->path);
	evbuffer_free(req->body);
	req->magic = 0;
	free(req);
}

static struct http_req *
req_new(struct http_conn *conn)
{
	struct http_req	*req;

	req = xcalloc(1, sizeof *req);
	req->magic = HREQ_MAGIC;
	req->conn = conn;
	req->minor = 1;
	if ((req->body = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	return (req);
}

/* The one way a connection ends. */
static void
conn_close(struct http_conn *conn)
{
	struct http_server	*srv = conn->srv;
	struct http_req		*req = conn->req;

	conn->req = NULL;
	if (req != NULL) {
		if (req->close_cb != NULL && conn->phase == PHASE_ANSWER)
			req->close_cb(req, req->close_arg);
		req_free(req);
	}
	TAILQ_REMOVE(&srv->conns, conn, entry);
	event_free(conn->timer);
	bufferevent_free(conn->bev);
	httpresp_free(conn->parser);
	conn->magic = 0;
	free(conn);
	__atomic_sub_fetch(&nconns, 1, __ATOMIC_RELAXED);
	if (srv->stopping && TAILQ_EMPTY(&srv->conns) && srv->idle_cb != NULL)
		srv->idle_cb(srv->idle_arg);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*conn = arg;

	if (conn->magic != HCONN_MAGIC)
		fatalx("http: bad connection magic");
	/* An answer in progress has its own (write) timeout. */
	if (conn->phase == PHASE_ANSWER)
		return;
	/* A pipelined request waiting since the last answer ended. */
	if (conn->phase == PHASE_IDLE && evbuffer_get_length(
	    bufferevent_get_input(conn->bev)) > 0) {
		timer_arm(conn, conn->srv->lim.keepalive_timeout_s);
		conn_process(conn);
		return;
	}
	conn_close(conn);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn	*conn = arg;

	if (conn->magic != HCONN_MAGIC)
		fatalx("http: bad connection magic");
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_close(conn);
}

/* The last answer has left: shut the write side, drain, then close. */
static void
conn_linger(struct http_conn *conn)
{
	if (conn->tls || shutdown(bufferevent_getfd(conn->bev),
	    SHUT_WR) == -1) {
		conn_close(conn);
		return;
	}
	conn->phase = PHASE_LINGER;
	evbuffer_drain(bufferevent_get_input(conn->bev), (size_t)-1);
	bufferevent_setwatermark(conn->bev, EV_READ, 0, 0);
	bufferevent_enable(conn->bev, EV_READ);
	timer_arm(conn, LINGER_S);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_req		*req = conn->req;

	if (conn->magic != HCONN_MAGIC)
		fatalx("http: bad connection magic");
	if (conn->phase == PHASE_CLOSING) {
		conn_linger(conn);
		return;
	}
	if (conn->phase == PHASE_ANSWER && req != NULL &&
	    req->drain_cb != NULL)
		req->drain_cb(req, req->drain_arg);
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct http_listener	*l = arg;

	conn_new(l->srv, fd, l->tls);	/* already non-blocking */
}

void
http_server_adopt(struct http_server *srv, int fd, SSL_CTX *tls)
{
	evutil_make_socket_nonblocking(fd);
	conn_new(srv, fd, tls);
}

/* A connection on the accepted socket fd. */
static void
conn_new(struct http_server *srv, evutil_socket_t fd, SSL_CTX *tls)
{
	struct http_conn	*conn;
	struct bufferevent	*bev;
	SSL			*ssl;
	int			 max = __atomic_load_n(&max_conns,
				    __ATOMIC_RELAXED);

	if (srv->stopping ||
	    (max > 0 && __atomic_load_n(&nconns, __ATOMIC_RELAXED) >= max)) {
		close(fd);
		return;
	}
	if (tls != NULL) {
		if ((ssl = SSL_new(tls)) == NULL) {
			close(fd);
			return;
		}
		bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	} else
		bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	__atomic_add_fetch(&nconns, 1, __ATOMIC_RELAXED);
	conn = xcalloc(1, sizeof *conn);
	conn->magic = HCONN_MAGIC;
	conn->srv = srv;
	conn->bev = bev;
	conn->parser = httpresp_new_request(srv->lim.max_header_bytes,
	    srv->lim.max_body_bytes);
	conn->phase = PHASE_IDLE;
	conn->tls = tls != NULL;
	conn->timer = evtimer_new(srv->base, conn_timer_cb, conn);
	TAILQ_INSERT_TAIL(&srv->conns, conn, entry);
	/* Pipelined bytes wait in at most this much input. */
	bufferevent_setwatermark(bev, EV_READ, 0,
	    srv->lim.max_header_bytes + 65536);
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    conn);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	timer_arm(conn, srv->lim.header_timeout_s);
}

void
http_server_listen(struct http_server *srv, struct evconnlistener *lev,
    SSL_CTX *tls)
{
	struct http_listener	*l;

	srv->ls = xreallocarray(srv->ls, srv->nls + 1, sizeof *srv->ls);
	/* The array moved: point every listener at its new slot. */
	srv->ls[srv->nls].lev = lev;
	srv->ls[srv->nls].tls = tls;
	srv->ls[srv->nls].srv = srv;
	srv->nls++;
	for (l = srv->ls; l < srv->ls + srv->nls; l++)
		evconnlistener_set_cb(l->lev, accept_cb, l);
}

static int
body_cb(const char *buf, size_t len, void *arg)
{
	struct http_conn	*conn = arg;

	return (evbuffer_add(conn->req->body, buf, len));
}

/* The request's path (the target without its query) and version. */
static void
headers_path(struct http_req *req, struct httpresp *hr)
{
	const char	*target = httpresp_target(hr), *q;

	q = strchr(target, '?');
	req->path = q != NULL ? xstrndup(target, (size_t)(q - target)) :
	    xstrdup(target);
	req->minor = httpresp_minor(hr);
}

static int
headers_cb(struct httpresp *hr, void *arg)
{
	struct http_conn	*conn = arg;
	const char		*expect;

	headers_path(conn->req, hr);
	if ((expect = httpresp_header(hr, "expect")) != NULL) {
		if (strcasecmp(expect, "100-continue") != 0)
			return (-1);
		if (conn->req->minor >= 1)
			bufferevent_write(conn->bev,
			    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	return (0);
}

static const struct httpresp_cbs parse_cbs = {
	headers_cb, body_cb, NULL
};

/* Feed buffered input to the parser; hand over a finished request. */
static void
conn_process(struct http_conn *conn)
{
	struct http_server	*srv = conn->srv;
	struct evbuffer		*in = bufferevent_get_input(conn->bev);
	struct evbuffer_iovec	 v;
	enum httpresp_state	 st = HTTPRESP_MORE;
	size_t			 used;

	while (conn->phase == PHASE_IDLE || conn->phase == PHASE_READING) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return;
		if (conn->phase == PHASE_IDLE) {
			if (srv->stopping) {
				conn_close(conn);
				return;
			}
			conn->phase = PHASE_READING;
			conn->req = req_new(conn);
			timer_arm(conn, srv->lim.header_timeout_s);
		}
		st = httpresp_feed(conn->parser, v.iov_base, v.iov_len, &used,
		    &parse_cbs, conn);
		evbuffer_drain(in, used);
		if (st == HTTPRESP_MORE)
			continue;
		if (st == HTTPRESP_ERROR) {
			/* The route, if the request line got that far. */
			if (conn->req->path == NULL &&
			    httpresp_target(conn->parser) != NULL)
				headers_path(conn->req, conn->parser);
			conn->req->errstatus =
			    httpresp_error_status(conn->parser);
			conn->req->errwhy = httpresp_error(conn->parser);
			if (conn->req->errstatus == 0) {
				/* A callback refused: only Expect does. */
				conn->req->errstatus = 400;
				conn->req->errwhy = "unsupported Expect";
			}
			conn->req->close = 1;
		} else if (!httpresp_keepalive(conn->parser) || srv->stopping)
			conn->req->close = 1;
		evtimer_del(conn->timer);
		conn->phase = PHASE_ANSWER;
		srv->cb(conn->req, srv->arg);
		return;
	}
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*conn = arg;

	if (conn->magic != HCONN_MAGIC)
		fatalx("http: bad connection magic");
	if (conn->phase == PHASE_LINGER) {
		struct evbuffer	*in = bufferevent_get_input(bev);

		conn->lingered += evbuffer_get_length(in);
		evbuffer_drain(in, (size_t)-1);
		if (conn->lingered > LINGER_BYTES)
			conn_close(conn);
		return;
	}
	conn_process(conn);
}

/* The answer is complete: next request, or close once flushed. */
static void
req_done(struct http_req *req)
{
	struct http_conn	*conn = req->conn;
	struct http_server	*srv = conn->srv;

	conn->req = NULL;
	if (req->close || srv->stopping) {
		req_free(req);
		conn->phase = PHASE_CLOSING;
		bufferevent_disable(conn->bev, EV_READ);
		bufferevent_set_timeouts(conn->bev, NULL, NULL);
		timer_arm(conn, srv->lim.header_timeout_s);
		if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
			conn_linger(conn);
		return;
	}
	req_free(req);
	bufferevent_set_timeouts(conn->bev, NULL, NULL);
	httpresp_reset(conn->parser, 0);
	conn->phase = PHASE_IDLE;
	/*
	 * A pipelined request already buffered is taken from the loop, not
	 * from here: the answer may have been given from inside the request
	 * callback, and recursing could go as deep as a client pipelines.
	 */
	timer_arm(conn, evbuffer_get_length(bufferevent_get_input(conn->bev)) >
	    0 ? 0 : srv->lim.keepalive_timeout_s);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return ("OK");
	case 400: return ("Bad Request");
	case 401: return ("Unauthorized");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 413: return ("Content Too Large");
	case 429: return ("Too Many Requests");
	case 431: return ("Request Header Fields Too Large");
	case 500: return ("Internal Server Error");
	case 502: return ("Bad Gateway");
	case 503: return ("Service Unavailable");
	case 504: return ("Gateway Timeout");
	default:
		if (status < 300)
			return ("OK");
		if (status < 500)
			return ("Client Error");
		return ("Server Error");
	}
}

/* The Date header's value, formatted once a second per thread. */
static const char *
http_date(void)
{
	static __thread time_t	last;
	static __thread char	buf[40];
	time_t			now = time(NULL);
	struct tm		tm;

	if (now != last) {
		gmtime_r(&now, &tm);
		strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return (buf);
}

/* Append len bytes to the head being built in h (or to out, if full). */
struct head_buf {
	char		 buf[2048];
	size_t		 len;
	struct evbuffer	*out;
};

static void
head_add(struct head_buf *h, const char *s, size_t len)
{
	if (h->len + len > sizeof h->buf) {
		evbuffer_add(h->out, h->buf, h->len);
		h->len = 0;
		if (len > sizeof h->buf) {
			evbuffer_add(h->out, s, len);
			return;
		}
	}
	memcpy(h->buf + h->len, s, len);
	h->len += len;
}

static void
head_str(struct head_buf *h, const char *s)
{
	head_add(h, s, strlen(s));
}

/* Status line and headers; length -1: streamed. */
static void
write_head(struct http_req *req, int status, long long length)
{
	struct http_conn	*conn = req->conn;
	struct head_buf		 h;
	char			 num[32];
	size_t			 i;

	h.len = 0;
	h.out = bufferevent_get_output(conn->bev);
	if (conn->srv->stopping)
		req->close = 1;
	if (status < 100 || status > 999)
		status = 500;
	num[0] = '0' + status / 100;
	num[1] = '0' + status / 10 % 10;
	num[2] = '0' + status % 10;
	num[3] = ' ';
	head_add(&h, "HTTP/1.1 ", 9);
	head_add(&h, num, 4);
	head_str(&h, status_text(status));
	head_add(&h, "\r\nDate: ", 8);
	head_str(&h, http_date());
	head_add(&h, "\r\n", 2);
	for (i = 0; i < req->nhdrs; i++) {
		head_str(&h, req->hdrs[i].name);
		head_add(&h, ": ", 2);
		head_str(&h, req->hdrs[i].value);
		head_add(&h, "\r\n", 2);
	}
	if (length >= 0) {
		head_add(&h, "Content-Length: ", 16);
		head_add(&h, num, util_lltoa(length, num));
		head_add(&h, "\r\n", 2);
	} else if (req->minor >= 1) {
		req->chunked = 1;
		head_add(&h, "Transfer-Encoding: chunked\r\n", 28);
	} else
		req->close = 1;		/* HTTP/1.0: the close ends it */
	if (req->close)
		head_add(&h, "Connection: close\r\n\r\n", 21);
	else if (req->minor == 0)
		head_add(&h, "Connection: keep-alive\r\n\r\n", 26);
	else
		head_add(&h, "\r\n", 2);
	evbuffer_add(h.out, h.buf, h.len);
	req->started = 1;
}

void
http_req_reply(struct http_req *req, int status, struct evbuffer *body)
{
	struct evbuffer	*out = bufferevent_get_output(req->conn->bev);

	write_head(req, status, body != NULL ?
	    (long long)evbuffer_get_length(body) : 0);
	if (body != NULL)
		evbuffer_add_buffer(out, body);
	req_done(req);
}

void
http_req_reply_start(struct http_req *req, int status)
{
	write_head(req, status, -1);
}

void
http_req_reply_chunk(struct http_req *req, struct evbuffer *data)
{
	struct evbuffer	*out = bufferevent_get_output(req->conn->bev);
	size_t		 len = evbuffer_get_length(data);

	if (len == 0)
		return;
	if (req->chunked) {
		evbuffer_add_printf(out, "%zx\r\n", len);
		evbuffer_add_buffer(out, data);
		evbuffer_add(out, "\r\n", 2);
	} else
		evbuffer_add_buffer(out, data);
}

void
http_req_reply_end(struct http_req *req)
{
	if (req->chunked)
		evbuffer_add(bufferevent_get_output(req->conn->bev),
		    "0\r\n\r\n", 5);
	req_done(req);
}

size_t
http_req_pending(const struct http_req *req)
{
	return (evbuffer_get_length(bufferevent_get_output(req->conn->bev)));
}

void
http_req_set_drain_cb(struct http_req *req, http_req_cb cb, void *arg)
{
	req->drain_cb = cb;
	req->drain_arg = arg;
}

void
http_req_set_close_cb(struct http_req *req, http_req_cb cb, void *arg)
{
	req->close_cb = cb;
	req->close_arg = arg;
}

void
http_req_set_write_timeout(struct http_req *req, int seconds)
{
	struct timeval	tv = { seconds, 0 };

	bufferevent_set_timeouts(req->conn->bev, NULL, &tv);
}

void
http_req_close_after(struct http_req *req)
{
	req->close = 1;
}

void
http_req_add_header(struct http_req *req, const char *name,
    const char *value)
{
	req->hdrs = xreallocarray(req->hdrs, req->nhdrs + 1,
	    sizeof *req->hdrs);
	req->hdrs[req->nhdrs].name = xstrdup(name);
	req->hdrs[req->nhdrs].value = xstrdup(value);
	req->nhdrs++;
}

void
http_req_remove_header(struct http_req *req, const char *name)
{
	size_t	i = 0;

	while (i < req->nhdrs) {
		if (strcasecmp(req->hdrs[i].name, name) != 0) {
			i++;
			continue;
		}
		free(req->hdrs[i].name);
		free(req->hdrs[i].value);
		req->hdrs[i] = req->hdrs[--req->nhdrs];
	}
}

const char *
http_req_method(const struct http_req *req)
{
	return (httpresp_method(req->conn->parser));
}

const char *
http_req_path(const struct http_req *req)
{
	return (req->path);
}

const char *
http_req_header(const struct http_req *req, const char *name)
{
	if (req->errstatus != 0)
		return (NULL);
	return (httpresp_header(req->conn->parser, name));
}

int
http_req_header_count(const struct http_req *req, const char *name)
{
	const char	*n;
	size_t		 i, nh;
	int		 count = 0;

	if (req->errstatus != 0)
		return (0);
	nh = httpresp_nheaders(req->conn->parser);
	for (i = 0; i < nh; i++) {
		httpresp_header_at(req->conn->parser, i, &n, NULL);
		if (strcasecmp(n, name) == 0)
			count++;
	}
	return (count);
}

struct evbuffer *
http_req_body(struct http_req *req)
{
	return (req->body);
}

int
http_req_error(const struct http_req *req, const char **why)
{
	if (why != NULL)
		*why = req->errwhy;
	return (req->errstatus);
}

void
http_server_stop(struct http_server *srv, void (*idle_cb)(void *),
    void *arg)
{
	struct http_conn	*conn, *next;
	size_t			 i;

	srv->stopping = 1;
	for (i = 0; i < srv->nls; i++)
		evconnlistener_disable(srv->ls[i].lev);
	for (conn = TAILQ_FIRST(&srv->conns); conn != NULL; conn = next) {
		next = TAILQ_NEXT(conn, entry);
		if (conn->phase == PHASE_IDLE)
			conn_close(conn);
	}
	srv->idle_cb = idle_cb;
	srv->idle_arg = arg;
	if (TAILQ_EMPTY(&srv->conns) && idle_cb != NULL)
		idle_cb(arg);
}

void
http_server_free(struct http_server *srv)
{
	size_t	i;

	if (srv == NULL)
		return;
	srv->idle_cb = NULL;
	while (!TAILQ_EMPTY(&srv->conns))
		conn_close(TAILQ_FIRST(&srv->conns));
	for (i = 0; i < srv->nls; i++)
		evconnlistener_free(srv->ls[i].lev);
	free(srv->ls);
	free(srv);
}
