/*
 * fuzz_http: raw bytes into the client listener (src/http_server.c), in
 * process.  Each input is one client connection: a socketpair whose one
 * end the server adopts; the input is written to the other end, which is
 * then shut for writing, and the event loop runs until the server has
 * closed the connection.  A small handler answers what the server hands
 * over, whole, streamed or later (so that the client's end of file can
 * land while an answer is owed): path "/s" streams, "/d" answers from a
 * timer, anything else echoes the body.
 *
 * Invariants: the server closes every connection once the client has
 * gone (no connection outlives its client by more than a few loop turns
 * past its timers); everything it writes is a sequence of HTTP/1.1
 * answers; a refused request is answered 400, 413 or 431; every request
 * handed over is complete or refused; nothing leaks (ASan).
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "fuzz.h"
#include "http_server.h"

#define FUZZ_MAX_INPUT	(48 * 1024)	/* fits a socketpair's buffer */

struct pending {
	struct http_req	*req;
	struct event	*ev;
};

static struct event_base	*base;
static struct http_server	*srv;
static int			 nhanded;
static struct pending		 later;

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evbuffer	*b = evbuffer_new();

	evbuffer_add(b, "later", 5);
	http_req_set_close_cb(later.req, NULL, NULL);
	http_req_reply(later.req, 200, b);
	evbuffer_free(b);
	later.req = NULL;
}

static void
gone_cb(struct http_req *req, void *arg)
{
	FUZZ_ASSERT(req == later.req);
	event_del(later.ev);
	later.req = NULL;
}

static void
request_cb(struct http_req *req, void *arg)
{
	struct evbuffer	*b;
	const char	*path, *why;
	int		 st;

	nhanded++;
	if ((st = http_req_error(req, &why)) != 0) {
		FUZZ_ASSERT(st == 400 || st == 413 || st == 431);
		FUZZ_ASSERT(why != NULL);
		http_req_reply(req, st, NULL);
		return;
	}
	path = http_req_path(req);
	FUZZ_ASSERT(path != NULL && path[0] == '/');
	FUZZ_ASSERT(http_req_method(req) != NULL);
	(void)http_req_header(req, "host");
	(void)http_req_header_count(req, "content-length");
	b = evbuffer_new();
	if (strcmp(path, "/s") == 0) {
		http_req_add_header(req, "Content-Type", "text/event-stream");
		http_req_reply_start(req, 200);
		evbuffer_add(b, "data: 1\n\n", 9);
		http_req_reply_chunk(req, b);
		evbuffer_add(b, "data: 2\n\n", 9);
		http_req_reply_chunk(req, b);
		http_req_reply_end(req);
	} else if (strcmp(path, "/d") == 0 && later.req == NULL) {
		struct timeval	tv = { 0, 1000 };

		later.req = req;
		http_req_set_close_cb(req, gone_cb, NULL);
		evtimer_add(later.ev, &tv);
	} else {
		evbuffer_add_buffer(b, http_req_body(req));
		http_req_remove_header(req, "x-none");
		http_req_reply(req, 200, b);
	}
	evbuffer_free(b);
}

static void
setup(void)
{
	struct http_limits	lim = { 4096, 65536, 1, 1 };

	base = event_base_new();
	srv = http_server_new(base, &lim, request_cb, NULL);
	later.ev = evtimer_new(base, later_cb, NULL);
}

/* Every answer in out starts with an HTTP/1.1 status line. */
static void
check_output(const char *out, size_t len)
{
	FUZZ_ASSERT(len == 0 || (len >= 9 && memcmp(out, "HTTP/1.1 ", 9) == 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 out[1 << 20];
	size_t		 outlen = 0;
	ssize_t		 n;
	int		 sv[2], turns;

	if (base == NULL)
		setup();
	if (size > FUZZ_MAX_INPUT)
		size = FUZZ_MAX_INPUT;
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	FUZZ_ASSERT(write(sv[1], data, size) == (ssize_t)size || size == 0);
	shutdown(sv[1], SHUT_WR);
	evutil_make_socket_nonblocking(sv[1]);
	nhanded = 0;
	http_server_adopt(srv, sv[0], NULL);
	/*
	 * The client is gone (end of file): the connection must close
	 * within a bounded number of turns; the header timer (1 s) is the
	 * longest wait the server may add.
	 */
	for (turns = 0; http_server_connections() > 0 && turns < 2000;
	    turns++) {
		event_base_loop(base, EVLOOP_ONCE);
		while (outlen < sizeof out && (n = read(sv[1], out + outlen,
		    sizeof out - outlen)) > 0)
			outlen += (size_t)n;
	}
	FUZZ_ASSERT(http_server_connections() == 0);
	FUZZ_ASSERT(later.req == NULL);
	while (outlen < sizeof out && (n = read(sv[1], out + outlen,
	    sizeof out - outlen)) > 0)
		outlen += (size_t)n;
	check_output(out, outlen);
	close(sv[1]);
	return (0);
}
