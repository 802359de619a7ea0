/*
 * The serving process.
 *
 * The main thread loads the configuration, opens the ledger, binds every
 * listening socket (so that a bad address fails at start-up, not in a
 * thread) and starts one worker thread per CPU (or "workers").  Each worker
 * has its own event_base, its own SO_REUSEPORT sockets bound to the same
 * addresses (the kernel spreads connections), its own HTTP server
 * (http_server.c) and its own upstream pool; workers share nothing on the request path but the
 * configuration generation (immutable, reference counted) and the ledger
 * queue.
 *
 * The main thread then only handles signals: SIGHUP loads a new generation
 * and swaps it in when valid; SIGTERM and SIGINT start a drain: every worker
 * stops accepting, finishes the requests in flight (streams included),
 * waits until their answers have left and exits its loop; requests still running after the drain timeout are ended
 * with an error and billed.  Last, the ledger commits what is queued.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "admin.h"
#include "budget.h"
#include "budget_local.h"
#include "budget_redis.h"
#include "cfg.h"
#include "http_server.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "server.h"
#include "upstream.h"
#include "util.h"
#include "xmalloc.h"

static struct {
	pthread_mutex_t		 lock;		/* guards cfg */
	struct cfg		*cfg;
	char			*cfgpath;
	struct ledger		*ledger;
	unsigned char		*pepper;
	size_t			 pepperlen;
	SSL_CTX			*tls;
	struct event_base	*base;		/* main thread */
	struct worker		*workers;
	int			 nworkers;
	int			 stopping;
	char			**addrs;	/* listen then tls_listen, with
						   port 0 replaced by the port
						   the first worker got */
	size_t			 naddrs;
	const struct budget_store_ops *bops;	/* the counter store */
	void			*bstore;
	const struct budget_store_ops *fbops;	/* fallback, or NULL */
	void			*fbstore;
	struct admin		*admin;
	char			*admin_addr;	/* bound address, for the log */
	uint64_t		 reloads_ok;
	uint64_t		 reloads_failed;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct cfg *
server_cfg(void)
{
	struct cfg	*cfg;

	pthread_mutex_lock(&srv.lock);
	cfg = cfg_ref(srv.cfg);
	pthread_mutex_unlock(&srv.lock);
	return (cfg);
}

struct ledger *
server_ledger(void)
{
	return (srv.ledger);
}

const unsigned char *
server_pepper(size_t *len)
{
	*len = srv.pepperlen;
	return (srv.pepper);
}

const struct budget_store_ops *
server_budget(const struct budget_store_ops **fallback)
{
	*fallback = srv.fbops;
	return (srv.bops);
}

static void
seed_cb(const char *key, int64_t end_ms, const struct budget_amount *used,
    void *arg)
{
	budget_local_seed(arg, key, end_ms, used);
}

/*
 * The counter store.  The local store starts from the ledger, so a
 * restart forgets nothing that was settled.
 */
static void
store_init(const struct cfg *cfg)
{
	const char	*ledgers[1];
	char		*cause = NULL;
	void		*local;

	local = budget_local_new();
	ledgers[0] = cfg->ledger_path;
	if (budget_ledger_sums(ledgers, 1, util_now_ms(), seed_cb, local,
	    &cause) == -1)
		fatalx("counters: rebuilding from the ledger: %s", cause);
	if (cfg->store == STORE_LOCAL) {
		srv.bops = &budget_local_ops;
		srv.bstore = local;
		return;
	}
	srv.bops = &budget_redis_ops;
	if ((srv.bstore = budget_redis_new(cfg->redis_url,
	    cfg->redis_timeout_ms, &cause)) == NULL)
		fatalx("counters: %s", cause);
	if (cfg->redis_on_error_allow) {
		/* While Redis is away: this replica's own view. */
		srv.fbops = &budget_local_ops;
		srv.fbstore = local;
	} else
		budget_local_free(local);
}

/* A draining worker stops once no request is in flight and every
 * answer has left (its HTTP server has no connection left). */
static void
worker_maybe_exit(struct worker *w)
{
	if (w->draining && w->active == 0 && w->http_idle)
		event_base_loopexit(w->base, NULL);
}

void
server_request_done(struct worker *w)
{
	w->active--;
	worker_maybe_exit(w);
}

static void
worker_http_idle_cb(void *arg)
{
	struct worker	*w = arg;

	w->http_idle = 1;
	worker_maybe_exit(w);
}

/* evutil_parse_sockaddr_port(), but port 0 (any free port) is allowed. */
static int
listen_addr(const char *addr, struct sockaddr_storage *ss, int *len)
{
	char	*tmp;
	size_t	 n = strlen(addr);
	int	 rc;

	if (n < 2 || strcmp(addr + n - 2, ":0") != 0)
		return (evutil_parse_sockaddr_port(addr,
		    (struct sockaddr *)ss, len));
	xasprintf(&tmp, "%.*s:1", (int)(n - 2), addr);
	rc = evutil_parse_sockaddr_port(tmp, (struct sockaddr *)ss, len);
	free(tmp);
	if (rc == 0) {
		if (ss->ss_family == AF_INET6)
			((struct sockaddr_in6 *)ss)->sin6_port = 0;
		else
			((struct sockaddr_in *)ss)->sin_port = 0;
	}
	return (rc);
}

static void
worker_bind(struct worker *w, SSL_CTX *tls, size_t ai)
{
	struct sockaddr_storage	 ss;
	struct evconnlistener	*lev;
	const char		*addr = srv.addrs[ai];
	char			 host[INET6_ADDRSTRLEN], *real;
	socklen_t		 slen = sizeof ss;
	int			 len = sizeof ss, port;

	if (listen_addr(addr, &ss, &len) == -1)
		fatalx("listen: bad address %s", addr);
	lev = evconnlistener_new_bind(w->base, NULL, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, 1024, (struct sockaddr *)&ss, len);
	if (lev == NULL)
		fatalx("listen on %s: %s", addr, strerror(errno));
	/* Port 0: every later worker binds the port the kernel chose. */
	if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss,
	    &slen) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
			port = ntohs(s6->sin6_port);
			xasprintf(&real, "[%s]:%d", host, port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
			port = ntohs(s4->sin_port);
			xasprintf(&real, "%s:%d", host, port);
		}
		free(srv.addrs[ai]);
		srv.addrs[ai] = real;
	}
	http_server_listen(w->http, lev, tls);
}

int
server_bind(struct event_base *base, struct evhttp *http, const char *addr,
    char **cause)
{
	struct sockaddr_storage	 ss;
	struct evconnlistener	*lev;
	char			 host[INET6_ADDRSTRLEN];
	socklen_t		 slen = sizeof ss;
	int			 len = sizeof ss;

	if (listen_addr(addr, &ss, &len) == -1) {
		xasprintf(cause, "bad listen address %s", addr);
		return (-1);
	}
	lev = evconnlistener_new_bind(base, NULL, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, len);
	if (lev == NULL) {
		xasprintf(cause, "listen on %s: %s", addr, strerror(errno));
		return (-1);
	}
	if (evhttp_bind_listener(http, lev) == NULL) {
		evconnlistener_free(lev);
		xasprintf(cause, "listen on %s: evhttp_bind_listener failed",
		    addr);
		return (-1);
	}
	free(srv.admin_addr);
	srv.admin_addr = NULL;
	if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss,
	    &slen) == 0) {
		if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, host, sizeof host);
			xasprintf(&srv.admin_addr, "http://[%s]:%d", host,
			    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
		} else {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, host, sizeof host);
			xasprintf(&srv.admin_addr, "http://%s:%d", host,
			    ntohs(((struct sockaddr_in *)&ss)->sin_port));
		}
	}
	return (0);
}

static double
gauge_ledger_queue(void)
{
	return ((double)ledger_queue_depth(srv.ledger));
}

static double
gauge_ledger_errors(void)
{
	return ((double)ledger_errors(srv.ledger));
}

static double
gauge_store_errors(void)
{
	return (srv.bops == &budget_redis_ops ?
	    (double)budget_redis_errors(srv.bstore) : 0);
}

static void
worker_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	struct timeval	 grace = { 1, 0 };

	log_warn("drain timeout: ending %d request(s) still in flight",
	    w->active);
	proxy_abort_all(w);
	/* Their last bytes get a moment to leave; then the loop ends. */
	event_base_loopexit(w->base, &grace);
}

/* Runs in the worker: stop accepting, let requests in flight finish. */
static void
worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	struct cfg	*cfg = server_cfg();
	struct timeval	 tv = { cfg->drain_timeout_s, 0 };

	cfg_unref(cfg);

	if (w->magic != WORKER_MAGIC)
		fatalx("bad worker magic");
	w->draining = 1;
	w->ev_deadline = evtimer_new(w->base, worker_deadline_cb, w);
	evtimer_add(w->ev_deadline, &tv);
	http_server_stop(w->http, worker_http_idle_cb, w);
	worker_maybe_exit(w);
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	event_base_dispatch(w->base);
	return (NULL);
}

static void
worker_init(struct worker *w, int id, const struct cfg *cfg)
{
	struct http_limits	lim;
	size_t			i;

	memset(w, 0, sizeof *w);
	w->magic = WORKER_MAGIC;
	w->id = id;
	if ((w->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (RAND_bytes((unsigned char *)&w->rid_hi, sizeof w->rid_hi) != 1)
		fatalx("RAND_bytes failed");
	w->pool = upstream_pool_new(w->base);
	w->bctx = srv.bops->worker_init(srv.bstore, w->base);
	if (srv.fbops != NULL)
		w->fallback_bctx = srv.fbops->worker_init(srv.fbstore, w->base);
	lim.max_header_bytes = cfg->max_header_bytes;
	lim.max_body_bytes = cfg->max_body_bytes;
	lim.header_timeout_s = cfg->header_timeout_s;
	lim.keepalive_timeout_s = KEEPALIVE_TIMEOUT_S;
	w->http = http_server_new(w->base, &lim, proxy_request_cb, w);
	for (i = 0; i < cfg->nlisten; i++)
		worker_bind(w, NULL, i);
	for (i = 0; i < cfg->ntls_listen; i++)
		worker_bind(w, srv.tls, cfg->nlisten + i);
	w->ev_stop = event_new(w->base, -1, 0, worker_stop_cb, w);
	proxy_renew_init(w);
}

static void
worker_free(struct worker *w)
{
	http_server_free(w->http);
	upstream_pool_free(w->pool);
	srv.bops->worker_free(w->bctx);
	if (srv.fbops != NULL)
		srv.fbops->worker_free(w->fallback_bctx);
	if (w->ev_stop != NULL)
		event_free(w->ev_stop);
	if (w->ev_deadline != NULL)
		event_free(w->ev_deadline);
	if (w->ev_renew != NULL)
		event_free(w->ev_renew);
	event_base_free(w->base);
	w->magic = 0;
}

static SSL_CTX *
tls_server_ctx(const struct cfg *cfg)
{
	SSL_CTX		*ctx;
	unsigned long	 e;
	char		 buf[256];

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatalx("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_get_error();
		ERR_error_string_n(e, buf, sizeof buf);
		fatalx("tls: cannot use %s / %s: %s", cfg->tls_cert,
		    cfg->tls_key, buf);
	}
	return (ctx);
}

/*
 * Each client connection may need a second descriptor upstream: raise the
 * soft limit toward what max_connections needs (as far as the hard limit
 * allows) and say so when it falls short.
 */
static void
fd_limit(int max_connections)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)max_connections * 2 + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >
		    want ? want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (max_connections > 0 && rl.rlim_cur < want)
		log_warn("open file limit %llu is below what %d connections "
		    "need (%llu); raise it (ulimit -n, LimitNOFILE)",
		    (unsigned long long)rl.rlim_cur, max_connections,
		    (unsigned long long)want);
}

int
server_reload(char ***errors, size_t *nerrors)
{
	struct cfg	*cfg, *old;
	size_t		 i;

	*errors = NULL;
	*nerrors = 0;
	cfg = cfg_load(srv.cfgpath, errors, nerrors);
	if (cfg == NULL) {
		for (i = 0; i < *nerrors; i++)
			log_error("reload: %s", (*errors)[i]);
		srv.reloads_failed++;
		metrics_add(M_RELOADS, 1, "failed", NULL, NULL);
		log_error("reload failed: %zu error(s); still serving the "
		    "previous configuration", *nerrors);
		return (-1);
	}
	if (log_set_level(cfg->log_level) == -1)
		log_warn("reload: unknown log level %s", cfg->log_level);
	cfg_local_expiry(cfg);
	http_server_max_connections(cfg->max_connections);
	pthread_mutex_lock(&srv.lock);
	old = srv.cfg;
	srv.cfg = cfg;
	pthread_mutex_unlock(&srv.lock);
	cfg_unref(old);
	srv.reloads_ok++;
	metrics_add(M_RELOADS, 1, "ok", NULL, NULL);
	log_info("reloaded %s (listeners, workers, TLS files and the counter "
	    "store take effect at the next restart)", srv.cfgpath);
	return (0);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	int	i;

	if (sig == SIGHUP) {
		char	**errors;
		size_t	  n;

		if (server_reload(&errors, &n) == -1)
			cfg_errors_free(errors, n);
		return;
	}
	if (srv.stopping)
		return;
	srv.stopping = 1;
	log_info("signal %d: draining (up to %d s)", (int)sig,
	    srv.cfg->drain_timeout_s);
	for (i = 0; i < srv.nworkers; i++)
		event_active(srv.workers[i].ev_stop, 0, 0);
	event_base_loopexit(srv.base, NULL);
}

int
server_run(const char *cfgpath)
{
	struct cfg	*cfg;
	struct event	*ev_term, *ev_int, *ev_hup;
	char		**errors = NULL, *cause = NULL;
	const char	*pepper;
	size_t		 nerrors = 0, i;
	long		 ncpu;
	int		 n, rc = 0;

	if (evthread_use_pthreads() == -1)
		fatalx("evthread_use_pthreads failed");
	signal(SIGPIPE, SIG_IGN);
	srv.cfgpath = xstrdup(cfgpath);
	if ((cfg = cfg_load(cfgpath, &errors, &nerrors)) == NULL) {
		for (i = 0; i < nerrors; i++)
			fprintf(stderr, "%s\n", errors[i]);
		cfg_errors_free(errors, nerrors);
		fprintf(stderr, "tollgate: %zu error(s) in the configuration; "
		    "not starting\n", nerrors);
		return (1);
	}
	srv.cfg = cfg;
	if (log_set_level(cfg->log_level) == -1)
		fatalx("unknown log level %s", cfg->log_level);
	if (util_set_timezone(cfg->timezone, &cause) == -1)
		fatalx("%s", cause);
	cfg_local_expiry(cfg);
	pepper = getenv(cfg->key_pepper_env);
	if (pepper == NULL || *pepper == '\0')
		fatalx("%s is not set: app keys cannot be checked without "
		    "the key pepper", cfg->key_pepper_env);
	srv.pepperlen = strlen(pepper);
	srv.pepper = (unsigned char *)xstrdup(pepper);
	if ((srv.ledger = ledger_open(cfg->ledger_path, &cause)) == NULL)
		fatalx("ledger: %s", cause);
	if (cfg->ntls_listen > 0)
		srv.tls = tls_server_ctx(cfg);
	store_init(cfg);
	fd_limit(cfg->max_connections);
	http_server_max_connections(cfg->max_connections);

	n = cfg->workers;
	if (n == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		n = ncpu > 0 ? (int)ncpu : 1;
	}
	srv.naddrs = cfg->nlisten + cfg->ntls_listen;
	srv.addrs = xcalloc(srv.naddrs, sizeof *srv.addrs);
	for (i = 0; i < cfg->nlisten; i++)
		srv.addrs[i] = xstrdup(cfg->listen[i]);
	for (i = 0; i < cfg->ntls_listen; i++)
		srv.addrs[cfg->nlisten + i] = xstrdup(cfg->tls_listen[i]);
	srv.nworkers = n;
	srv.workers = xcalloc((size_t)n, sizeof *srv.workers);
	for (i = 0; i < (size_t)n; i++)
		worker_init(&srv.workers[i], (int)i, cfg);

	if ((srv.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	ev_term = evsignal_new(srv.base, SIGTERM, signal_cb, NULL);
	ev_int = evsignal_new(srv.base, SIGINT, signal_cb, NULL);
	ev_hup = evsignal_new(srv.base, SIGHUP, signal_cb, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);

	metrics_gauge_fn(M_LEDGER_QUEUE, gauge_ledger_queue);
	metrics_gauge_fn(M_LEDGER_ERRORS, gauge_ledger_errors);
	metrics_gauge_fn(M_STORE_ERRORS, gauge_store_errors);
	if ((srv.admin = admin_start(srv.base, cfg, srv.bops, srv.bstore,
	    &cause)) == NULL)
		fatalx("admin: %s", cause);

	for (i = 0; i < (size_t)n; i++) {
		if (pthread_create(&srv.workers[i].thread, NULL, worker_main,
		    &srv.workers[i]) != 0)
			fatalx("pthread_create failed");
	}
	{
		json_t	*o = json_pack("{s:i, s:s}", "workers", n,
		    "ledger", cfg->ledger_path);	/* new */
		json_t	*l = json_array();		/* new */

		for (i = 0; i < srv.naddrs; i++) {
			char	*s;

			xasprintf(&s, "%s://%s", i < cfg->nlisten ? "http" :
			    "https", srv.addrs[i]);
			json_array_append_new(l, json_string(s));
			free(s);
		}
		json_object_set_new(o, "listen", l);
		if (srv.admin_addr != NULL)
			json_object_set_new(o, "admin",
			    json_string(srv.admin_addr));
		log_event(LOG_LVL_INFO, "tollgate " PACKAGE_VERSION " ready", o);
		json_decref(o);
	}

	event_base_dispatch(srv.base);

	for (i = 0; i < (size_t)n; i++)
		pthread_join(srv.workers[i].thread, NULL);
	admin_free(srv.admin);
	free(srv.admin_addr);
	for (i = 0; i < (size_t)n; i++)
		worker_free(&srv.workers[i]);
	free(srv.workers);
	if (ledger_close(srv.ledger) == -1)
		rc = 1;
	if (srv.bops == &budget_local_ops)
		budget_local_free(srv.bstore);
	else {
		budget_redis_free(srv.bstore);
		budget_local_free(srv.fbstore);
	}
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_base_free(srv.base);
	if (srv.tls != NULL)
		SSL_CTX_free(srv.tls);
	OPENSSL_cleanse(srv.pepper, srv.pepperlen);
	free(srv.pepper);
	cfg_unref(srv.cfg);
	free(srv.cfgpath);
	for (i = 0; i < srv.naddrs; i++)
		free(srv.addrs[i]);
	free(srv.addrs);
	log_info("stopped");
	return (rc);
}
