/*
 * Ledger writer: rows from several threads end up in the SQLite file once
 * each, with the contract's columns, in WAL mode.  Checks read the file
 * back with a separate connection, as finance's tools would.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "../tap.h"

#define NTHREADS	4
#define PER_THREAD	5000

struct writer_arg {
	struct ledger	*l;
	int		 id;
	int		 n;
};

static struct ledger_row *
make_row(const char *rid, int i)
{
	struct ledger_row	*r;

	r = ledger_row_new();
	r->request_id = xstrdup(rid);
	r->ts_start = 1700000000000LL + i;
	r->ts_end = r->ts_start + 250;
	r->app = xstrdup("invoice-bot");
	r->team = xstrdup("fraud-analytics");
	r->cost_center = xstrdup("CC-4410");
	r->tier = xstrdup("pilot");
	r->key_id = xstrdup("k7Qm2x");
	r->provider = xstrdup("openai");
	r->route = xstrdup("/v1/chat/completions");
	r->upstream = xstrdup("https://api.openai.com");
	r->attempts = 1;
	r->model_requested = xstrdup("default");
	r->model = xstrdup("gpt-4o-mini");
	r->stream = i % 2;
	r->status = 200;
	r->outcome = OUTCOME_OK;
	r->input_tokens = 10;
	r->cached_input_tokens = 2;
	r->cache_write_tokens = 1;
	r->output_tokens = 7;
	r->reasoning_tokens = 3;
	r->usage_source = xstrdup("provider");
	r->cost_nusd = 1234;
	r->price_version = xstrdup("2026-11-01");
	r->latency_ms = 250;
	r->ttft_ms = i % 3 == 0 ? -1 : 40;
	return (r);
}

static void *
writer_cb(void *arg)
{
	struct writer_arg	*wa = arg;
	char			 rid[64];
	int			 i;

	for (i = 0; i < wa->n; i++) {
		snprintf(rid, sizeof rid, "req-%d-%d", wa->id, i);
		ledger_enqueue(wa->l, make_row(rid, i));
	}
	return (NULL);
}

static int64_t
q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("# prepare %s: %s\n", sql, sqlite3_errmsg(db));
		return (-1);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (v);
}

static char *
q_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt		*st;
	const unsigned char	*s;
	char			*v = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("# prepare %s: %s\n", sql, sqlite3_errmsg(db));
		return (NULL);
	}
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (s = sqlite3_column_text(st, 0)) != NULL)
		v = xstrdup((const char *)s);
	sqlite3_finalize(st);
	return (v);
}

/* The contract's column list, in order. */
static const char *columns[] = {
	"request_id", "ts_start", "ts_end", "app", "team", "cost_center",
	"tier", "key_id", "provider", "route", "upstream", "attempts",
	"model_requested", "model", "stream", "status", "outcome",
	"input_tokens", "cached_input_tokens", "cache_write_tokens",
	"output_tokens", "reasoning_tokens", "usage_source", "cost_nusd",
	"price_version", "latency_ms", "ttft_ms"
};

static void
test_columns(sqlite3 *db)
{
	sqlite3_stmt	*st;
	size_t		 i = 0;
	int		 same = 1;

	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info("
	    "'usage') ORDER BY cid", -1, &st, NULL) != SQLITE_OK) {
		ok(0, "table_info");
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (i >= nitems(columns) || strcmp(columns[i],
		    (const char *)sqlite3_column_text(st, 0)) != 0) {
			printf("# column %zu: %s\n", i,
			    (const char *)sqlite3_column_text(st, 0));
			same = 0;
		}
		i++;
	}
	sqlite3_finalize(st);
	ok(same && i == nitems(columns), "usage has the contract columns "
	    "in order");
}

static void
test_concurrent(const char *dir)
{
	struct writer_arg	 wa[NTHREADS];
	pthread_t		 th[NTHREADS];
	struct ledger		*l;
	struct ledger_row	*r;
	sqlite3			*db;
	char			*path, *cause = NULL, *s;
	int64_t			 t0, dt, n;
	int			 i;

	/* The parent directory does not exist yet: ledger_open makes it. */
	xasprintf(&path, "%s/var/tollgate.db", dir);
	l = ledger_open(path, &cause);
	ok(l != NULL, "ledger_open creates the directory and the file");
	if (l == NULL) {
		printf("# %s\n", cause);
		free(cause);
		free(path);
		return;
	}

	t0 = util_now_ms();
	for (i = 0; i < NTHREADS; i++) {
		wa[i].l = l;
		wa[i].id = i;
		wa[i].n = PER_THREAD;
		pthread_create(&th[i], NULL, writer_cb, &wa[i]);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);

	/* The same request twice: one row. */
	r = make_row("dup-1", 0);
	r->input_tokens = 1000;
	ledger_enqueue(l, r);
	r = make_row("dup-1", 0);
	r->input_tokens = 5000;
	ledger_enqueue(l, r);

	/* A denied row with NULL text columns. */
	r = ledger_row_new();
	r->request_id = xstrdup("denied-1");
	r->ts_start = r->ts_end = 1700000000000LL;
	r->status = 401;
	r->outcome = OUTCOME_DENIED;
	ledger_enqueue(l, r);

	is_int(ledger_close(l), 0, "ledger_close commits everything");
	dt = util_now_ms() - t0;
	n = NTHREADS * PER_THREAD + 2;
	printf("# %lld rows in %lld ms (%lld rows/s)\n", (long long)n,
	    (long long)dt, dt > 0 ? (long long)(n * 1000 / dt) : 0LL);

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		ok(0, "reopen ledger: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		free(path);
		return;
	}
	test_columns(db);
	is_int(q_int(db, "SELECT count(*) FROM usage"),
	    NTHREADS * PER_THREAD + 2, "every row committed");
	is_int(q_int(db, "SELECT count(DISTINCT request_id) FROM usage"),
	    NTHREADS * PER_THREAD + 2, "no duplicate request_id");
	is_int(q_int(db, "SELECT sum(output_tokens) FROM usage"),
	    (NTHREADS * PER_THREAD + 1) * 7, "sum of output_tokens");
	is_int(q_int(db, "SELECT sum(input_tokens) FROM usage WHERE "
	    "request_id LIKE 'req-%'"), NTHREADS * PER_THREAD * 10,
	    "sum of input_tokens");
	is_int(q_int(db, "SELECT count(*) FROM usage WHERE "
	    "request_id = 'dup-1'"), 1, "duplicate request_id stays one row");
	is_int(q_int(db, "SELECT input_tokens FROM usage WHERE "
	    "request_id = 'dup-1'"), 1000, "first copy of a duplicate wins");
	is_int(q_int(db, "SELECT count(*) FROM usage WHERE "
	    "request_id = 'req-2-4999'"), 1, "last row of a thread is there");
	is_int(q_int(db, "SELECT count(*) FROM usage WHERE ttft_ms IS NULL "
	    "AND request_id = 'req-1-3'"), 1, "ttft_ms -1 is stored as NULL");
	is_int(q_int(db, "SELECT ttft_ms FROM usage WHERE "
	    "request_id = 'req-1-4'"), 40, "ttft_ms stored");
	is_int(q_int(db, "SELECT count(*) FROM usage WHERE ttft_ms IS NULL"),
	    NTHREADS * ((PER_THREAD + 2) / 3) + 2, "NULL ttft count");
	s = q_text(db, "PRAGMA journal_mode");
	is_str(s, "wal", "journal_mode is wal");
	free(s);
	s = q_text(db, "SELECT outcome || '|' || status || '|' || "
	    "coalesce(app, 'NULL') || '|' || coalesce(ttft_ms, 'NULL') "
	    "FROM usage WHERE request_id = 'denied-1'");
	is_str(s, "denied|401|NULL|NULL", "denied row with NULL columns");
	free(s);
	s = q_text(db, "SELECT request_id || '|' || ts_start || '|' || "
	    "ts_end || '|' || app || '|' || team || '|' || cost_center || "
	    "'|' || tier || '|' || key_id || '|' || provider || '|' || "
	    "route || '|' || upstream || '|' || attempts || '|' || "
	    "model_requested || '|' || model || '|' || stream || '|' || "
	    "status || '|' || outcome || '|' || input_tokens || '|' || "
	    "cached_input_tokens || '|' || cache_write_tokens || '|' || "
	    "output_tokens || '|' || reasoning_tokens || '|' || "
	    "usage_source || '|' || cost_nusd || '|' || price_version || "
	    "'|' || latency_ms || '|' || ttft_ms FROM usage "
	    "WHERE request_id = 'req-0-7'");
	is_str(s, "req-0-7|1700000000007|1700000000257|invoice-bot|"
	    "fraud-analytics|CC-4410|pilot|k7Qm2x|openai|"
	    "/v1/chat/completions|https://api.openai.com|1|default|"
	    "gpt-4o-mini|1|200|ok|10|2|1|7|3|provider|1234|2026-11-01|250|40",
	    "every column of a row round-trips");
	free(s);
	is_int(q_int(db, "PRAGMA user_version"), 1, "schema version 1");
	is_int(q_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'index' AND tbl_name = 'usage' AND sql LIKE "
	    "'%ts_start%'"), 1, "index on ts_start");
	s = q_text(db, "SELECT value FROM meta WHERE key = "
	    "'schema_version'");
	is_str(s, "1", "meta schema_version");
	free(s);
	sqlite3_close(db);

	/* Reopen: the schema is kept, rows survive, new rows add. */
	l = ledger_open(path, &cause);
	ok(l != NULL, "ledger_open on an existing ledger");
	if (l != NULL) {
		ledger_enqueue(l, make_row("after-reopen", 1));
		ledger_enqueue(l, make_row("dup-1", 1));
		is_int(ledger_errors(l), 0, "no commit errors");
		is_int(ledger_close(l), 0, "second close");
	} else {
		printf("# %s\n", cause);
		free(cause);
		cause = NULL;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK) {
		is_int(q_int(db, "SELECT count(*) FROM usage"),
		    NTHREADS * PER_THREAD + 3, "rows after reopen");
	} else
		ok(0, "reopen ledger");
	sqlite3_close(db);
	free(path);
}

/* ledger_close drains rows even when it is called right after enqueue. */
static void
test_drain(const char *dir)
{
	struct ledger	*l;
	sqlite3		*db;
	char		*path, *cause = NULL, rid[32];
	int		 i;

	xasprintf(&path, "%s/drain.db", dir);
	l = ledger_open(path, &cause);
	if (l == NULL) {
		ok(0, "ledger_open drain: %s", cause);
		free(cause);
		free(path);
		return;
	}
	for (i = 0; i < 1234; i++) {
		snprintf(rid, sizeof rid, "d-%d", i);
		ledger_enqueue(l, make_row(rid, i));
	}
	ok(ledger_queue_depth(l) <= 1234, "queue depth is bounded by rows");
	is_int(ledger_close(l), 0, "close right after enqueue");
	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	is_int(q_int(db, "SELECT count(*) FROM usage"), 1234,
	    "close drained the queue");
	sqlite3_close(db);
	free(path);
}

/*
 * A batch whose commit fails is kept and retried: another connection holds
 * the write lock past the busy timeout, so the writer's BEGIN fails; once
 * the lock is released the same rows are committed.
 */
static void
test_retry(const char *dir)
{
	struct ledger	*l;
	sqlite3		*blocker = NULL, *db;
	char		*path, *cause = NULL, rid[32];
	int		 i;

	xasprintf(&path, "%s/retry.db", dir);
	if ((l = ledger_open(path, &cause)) == NULL) {
		ok(0, "ledger_open retry: %s", cause);
		free(cause);
		free(path);
		return;
	}
	sqlite3_open(path, &blocker);
	ok(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK, "another connection takes the write lock");
	for (i = 0; i < 10; i++) {
		snprintf(rid, sizeof rid, "r-%d", i);
		ledger_enqueue(l, make_row(rid, i));
	}
	for (i = 0; i < 300 && ledger_errors(l) == 0; i++)
		usleep(100000);
	ok(ledger_errors(l) >= 1, "a failed commit is counted");
	is_int(ledger_queue_depth(l), 10, "the failed batch is kept");
	ok(!ledger_healthy(l), "not healthy while commits fail");
	sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(blocker);
	for (i = 0; i < 300 && ledger_queue_depth(l) > 0; i++)
		usleep(10000);
	is_int(ledger_queue_depth(l), 0, "the batch is committed on retry");
	ok(ledger_healthy(l), "healthy again after the retry committed");
	is_int(ledger_close(l), 0, "close after a retry");
	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	is_int(q_int(db, "SELECT count(*) FROM usage"), 10,
	    "every row of the retried batch is there once");
	sqlite3_close(db);
	free(path);
}

/*
 * A disk that falls far behind: at half the queue held the ledger stops
 * taking new paid requests and a refusal's row is dropped (counted), while
 * a billed row is still kept; every kept row commits once the disk moves.
 */
static void
test_backlog(const char *dir)
{
	struct ledger		*l;
	struct ledger_row	*r;
	sqlite3			*blocker = NULL, *db;
	char			*path, *cause = NULL, rid[32];
	int			 i, half = 65536 / 2;

	xasprintf(&path, "%s/backlog.db", dir);
	if ((l = ledger_open(path, &cause)) == NULL) {
		ok(0, "ledger_open backlog: %s", cause);
		free(cause);
		free(path);
		return;
	}
	sqlite3_open(path, &blocker);
	ok(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK, "the disk stalls: another connection holds the lock");
	for (i = 0; i < half - 1; i++) {
		snprintf(rid, sizeof rid, "b-%d", i);
		ledger_enqueue(l, make_row(rid, i));
	}
	ok(ledger_healthy(l), "healthy below half the queue");
	ledger_enqueue(l, make_row("b-last", 0));
	ok(!ledger_healthy(l), "not healthy at half the queue");
	r = ledger_row_new();
	r->request_id = xstrdup("refused-1");
	r->status = 503;
	r->outcome = OUTCOME_DENIED;
	ledger_enqueue(l, r);
	is_int(ledger_dropped(l), 1, "a refusal's row is dropped and counted");
	ledger_enqueue(l, make_row("billed-1", 1));
	is_int(ledger_dropped(l), 1, "a billed row is kept");
	is_int(ledger_queue_depth(l), half + 1, "every billed row is held");
	sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(blocker);
	for (i = 0; i < 3000 && ledger_queue_depth(l) > 0; i++)
		usleep(10000);
	is_int(ledger_queue_depth(l), 0, "the backlog commits once the disk "
	    "moves");
	ok(ledger_healthy(l), "healthy again");
	is_int(ledger_close(l), 0, "close after the backlog");
	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	is_int(q_int(db, "SELECT count(*) FROM usage"), half + 1,
	    "every billed row is there, the dropped refusal is not");
	is_int(q_int(db, "SELECT count(*) FROM usage WHERE request_id = "
	    "'billed-1'"), 1, "the billed row past half the queue is there");
	sqlite3_close(db);
	free(path);
}

/* Open failures are reported, not fatal. */
static void
test_open_errors(const char *dir)
{
	static const struct {
		const char	*name;
		const char	*sub;
	} cases[] = {
		{ "two missing directory levels", "/a/b/c.db" },
		{ "directory in place of the file", "" },
	};
	struct ledger	*l;
	char		*path, *cause;
	size_t		 i;

	for (i = 0; i < nitems(cases); i++) {
		cause = NULL;
		xasprintf(&path, "%s%s", dir, cases[i].sub);
		l = ledger_open(path, &cause);
		ok(l == NULL && cause != NULL, "ledger_open fails: %s",
		    cases[i].name);
		if (l != NULL)
			ledger_close(l);
		free(cause);
		free(path);
	}
	is_int(ledger_close(NULL), 0, "ledger_close(NULL)");
}

static void
test_outcome_names(void)
{
	static const struct {
		enum ledger_outcome	 o;
		const char		*name;
	} cases[] = {
		{ OUTCOME_OK,			"ok" },
		{ OUTCOME_DENIED,		"denied" },
		{ OUTCOME_CLIENT_ABORTED,	"client_aborted" },
		{ OUTCOME_UPSTREAM_ERROR,	"upstream_error" },
		{ OUTCOME_CUT_AT_BUDGET,	"cut_at_budget" },
		{ OUTCOME_TIMEOUT,		"timeout" },
	};
	const char	*got;
	size_t		 i;

	for (i = 0; i < nitems(cases); i++) {
		got = ledger_outcome_name(cases[i].o);
		ok(strcmp(got, cases[i].name) == 0, "outcome name %s: %s",
		    cases[i].name, got);
	}
	ok(strcmp(ledger_outcome_name(OUTCOME_MAX), "unknown") == 0,
	    "outcome name out of range");
}

static void
rm_rf(const char *dir)
{
	static const char	*files[] = {
		"var/tollgate.db", "var/tollgate.db-wal", "var/tollgate.db-shm",
		"drain.db", "drain.db-wal", "drain.db-shm", "retry.db",
		"retry.db-wal", "retry.db-shm", "backlog.db", "backlog.db-wal",
		"backlog.db-shm", "var"
	};
	char			*p;
	size_t			 i;

	for (i = 0; i < nitems(files); i++) {
		xasprintf(&p, "%s/%s", dir, files[i]);
		remove(p);
		free(p);
	}
	rmdir(dir);
}

int
main(void)
{
	char	tmpl[] = "/tmp/test_ledger.XXXXXX";
	char	*dir;

	log_set_level_num(LOG_LVL_ERROR);
	if ((dir = mkdtemp(tmpl)) == NULL) {
		ok(0, "mkdtemp");
		return (tap_done());
	}
	test_outcome_names();
	test_concurrent(dir);
	test_drain(dir);
	test_retry(dir);
	test_backlog(dir);
	test_open_errors(dir);
	rm_rf(dir);
	return (tap_done());
}
