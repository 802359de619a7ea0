/*
 * The usage ledger writer.
 *
 * Workers call ledger_enqueue() with finished rows; the rows go into a
 * bounded ring of pointers guarded by one mutex.  One writer thread owns
 * the SQLite connection: it waits for the first row, lets the batch fill
 * up to LEDGER_BATCH_MAX rows until the oldest row has waited
 * LEDGER_LINGER_MS, moves the batch out of the ring (pointer copies only,
 * under the lock) and then, without the lock, runs BEGIN IMMEDIATE, one
 * prepared INSERT OR IGNORE per row, COMMIT.  Under load the ring refills
 * while a batch commits, so the batches grow by themselves and each fsync
 * (synchronous=FULL) carries up to LEDGER_BATCH_MAX rows.
 *
 * A batch is freed only after its COMMIT succeeded.  On failure (disk
 * full, I/O error, read-only file, a lock held too long) the writer rolls
 * back, counts the error, sleeps with exponential backoff up to
 * LEDGER_BACKOFF_MAX_MS and retries the same batch, forever: when the disk
 * comes back the held rows commit and ledger_healthy() turns true again.
 * While it is false the proxy refuses new paid requests (503
 * ledger_unavailable) instead of serving them unrecorded; requests already
 * running finish and their rows wait in the ring.  The same happens when
 * the disk merely falls behind: at LEDGER_ADMIT_MAX rows held, new paid
 * requests are refused and refusals (cost 0) are no longer kept: each one
 * dropped is logged with its request id and counted
 * (tollgate_ledger_dropped_total).  Billed rows are never dropped: should
 * the ring fill up completely, their enqueuers wait for room, which stalls
 * that worker, and the log says so.
 *
 * At close the writer drains the ring; if the disk still refuses after
 * LEDGER_CLOSE_TRIES attempts the request ids of the lost rows are logged
 * and ledger_close() returns -1.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "xmalloc.h"

#define LEDGER_SCHEMA_VERSION	1
#define LEDGER_QUEUE_MAX	65536	/* ring size; billed rows wait above */
#define LEDGER_ADMIT_MAX	(LEDGER_QUEUE_MAX / 2)	/* rows held: refuse */
#define LEDGER_BATCH_MAX	500	/* rows per transaction */
#define LEDGER_LINGER_MS	50	/* oldest row waits at most this long */
#define LEDGER_BACKOFF_MIN_MS	100
#define LEDGER_BACKOFF_MAX_MS	1000	/* a returning disk is seen this soon */
#define LEDGER_REPORT_MS	60000	/* "still failing" log interval */
#define LEDGER_CLOSE_TRIES	5	/* commit attempts per batch at close */
#define LEDGER_BUSY_TIMEOUT_MS	5000

struct ledger {
	char			*path;
	sqlite3			*db;
	sqlite3_stmt		*st_begin;
	sqlite3_stmt		*st_insert;
	sqlite3_stmt		*st_commit;
	sqlite3_stmt		*st_rollback;

	pthread_t		 thread;
	int			 started;

	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv_work;	/* writer: rows or closing */
	pthread_cond_t		 cv_space;	/* enqueuers: room in ring */
	struct ledger_row	**ring;
	int64_t			*ring_ms;	/* when each row came (mono) */
	size_t			 head;		/* next to take */
	size_t			 count;		/* rows in ring */
	size_t			 inflight;	/* rows in the writer's batch */
	int			 closing;
	int			 writer_idle;	/* waiting for the first row */
	unsigned int		 space_waiters;
	uint64_t		 errors;
	uint64_t		 dropped;	/* refusals not kept */
	int			 failing;	/* the last commit failed */
	int64_t			 fail_since;	/* mono ms, this outage */
	int			 lost;		/* rows given up at close */
};

static const char *ledger_outcome_names[] = {
#define TG_OUTCOME(e, s)	s,
#include "tbl/outcome.h"
#undef TG_OUTCOME
};

const char *
ledger_outcome_name(enum ledger_outcome o)
{
	if ((unsigned int)o >= nitems(ledger_outcome_names))
		return ("unknown");
	return (ledger_outcome_names[o]);
}

struct ledger_row *
ledger_row_new(void)
{
	struct ledger_row	*row;

	row = xcalloc(1, sizeof *row);
	row->ttft_ms = -1;
	return (row);
}

void
ledger_row_free(struct ledger_row *row)
{
	if (row == NULL)
		return;
	free(row->request_id);
	free(row->app);
	free(row->team);
	free(row->cost_center);
	free(row->tier);
	free(row->key_id);
	free(row->provider);
	free(row->route);
	free(row->upstream);
	free(row->model_requested);
	free(row->model);
	free(row->usage_source);
	free(row->price_version);
	free(row);
}

/*
 * The schema.  Columns and their order are the contract (DESIGN.md section
 * 9); text columns that a denied or unauthenticated request cannot fill
 * stay nullable.
 */
static const char ledger_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS usage ("
	" request_id TEXT PRIMARY KEY NOT NULL,"
	" ts_start INTEGER NOT NULL,"
	" ts_end INTEGER NOT NULL,"
	" app TEXT,"
	" team TEXT,"
	" cost_center TEXT,"
	" tier TEXT,"
	" key_id TEXT,"
	" provider TEXT,"
	" route TEXT,"
	" upstream TEXT,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" model_requested TEXT,"
	" model TEXT,"
	" stream INTEGER NOT NULL DEFAULT 0,"
	" status INTEGER NOT NULL,"
	" outcome TEXT NOT NULL,"
	" input_tokens INTEGER NOT NULL DEFAULT 0,"
	" cached_input_tokens INTEGER NOT NULL DEFAULT 0,"
	" cache_write_tokens INTEGER NOT NULL DEFAULT 0,"
	" output_tokens INTEGER NOT NULL DEFAULT 0,"
	" reasoning_tokens INTEGER NOT NULL DEFAULT 0,"
	" usage_source TEXT,"
	" cost_nusd INTEGER NOT NULL DEFAULT 0,"
	" price_version TEXT,"
	" latency_ms INTEGER NOT NULL DEFAULT 0,"
	" ttft_ms INTEGER"
	");"
	"CREATE INDEX IF NOT EXISTS usage_ts_start ON usage (ts_start);"
	"CREATE TABLE IF NOT EXISTS meta ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" value TEXT NOT NULL"
	");"
	"INSERT OR IGNORE INTO meta (key, value)"
	" VALUES ('schema_version', '1');"
	"PRAGMA user_version = 1;";

static const char ledger_insert_sql[] =
	"INSERT OR IGNORE INTO usage (request_id, ts_start, ts_end, app,"
	" team, cost_center, tier, key_id, provider, route, upstream,"
	" attempts, model_requested, model, stream, status, outcome,"
	" input_tokens, cached_input_tokens, cache_write_tokens,"
	" output_tokens, reasoning_tokens, usage_source, cost_nusd,"
	" price_version, latency_ms, ttft_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	" ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26,"
	" ?27)";

/* Read PRAGMA user_version. */
static int
ledger_user_version(sqlite3 *db, int *version, char **cause)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		xasprintf(cause, "user_version: %s", sqlite3_errmsg(db));
		return (-1);
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		xasprintf(cause, "user_version: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return (-1);
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return (0);
}

int
ledger_schema(struct sqlite3 *db, char **cause)
{
	char	*err = NULL;
	int	 version;

	if (ledger_user_version(db, &version, cause) != 0)
		return (-1);
	if (version > LEDGER_SCHEMA_VERSION) {
		xasprintf(cause, "ledger schema version %d is newer than this "
		    "tollgate understands (%d)", version,
		    LEDGER_SCHEMA_VERSION);
		return (-1);
	}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) !=
	    SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db, ledger_schema_sql, NULL, NULL, &err) !=
	    SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	return (0);

fail:
	xasprintf(cause, "ledger schema: %s",
	    err != NULL ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return (-1);
}

/* Create the ledger's directory (one level) when it does not exist. */
static int
ledger_mkdir(const char *path, char **cause)
{
	struct stat	 sb;
	const char	*slash;
	char		*dir;
	int		 rv = 0;

	slash = strrchr(path, '/');
	if (slash == NULL || slash == path)
		return (0);
	dir = xstrndup(path, (size_t)(slash - path));
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			xasprintf(cause, "%s: not a directory", dir);
			rv = -1;
		}
	} else if (errno != ENOENT) {
		xasprintf(cause, "%s: %s", dir, strerror(errno));
		rv = -1;
	} else if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		xasprintf(cause, "mkdir %s: %s", dir, strerror(errno));
		rv = -1;
	}
	free(dir);
	return (rv);
}

/* Run a pragma that answers one text row; return it in buf. */
static int
ledger_pragma(sqlite3 *db, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*s;
	int			 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		return (-1);
	}
	buf[0] = '\0';
	if (rc == SQLITE_ROW && (s = sqlite3_column_text(st, 0)) != NULL)
		snprintf(buf, size, "%s", (const char *)s);
	sqlite3_finalize(st);
	return (0);
}

static int
ledger_prepare(struct ledger *l, const char *sql, sqlite3_stmt **st,
    char **cause)
{
	if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: prepare: %s", l->path,
		    sqlite3_errmsg(l->db));
		return (-1);
	}
	return (0);
}

static void
ledger_free(struct ledger *l)
{
	if (l == NULL)
		return;
	sqlite3_finalize(l->st_begin);
	sqlite3_finalize(l->st_insert);
	sqlite3_finalize(l->st_commit);
	sqlite3_finalize(l->st_rollback);
	if (l->db != NULL)
		sqlite3_close(l->db);
	pthread_mutex_destroy(&l->mtx);
	pthread_cond_destroy(&l->cv_work);
	pthread_cond_destroy(&l->cv_space);
	free(l->ring);
	free(l->ring_ms);
	free(l->path);
	free(l);
}

/* Bind text or NULL; the row outlives the binding (cleared after step). */
static int
ledger_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return (sqlite3_bind_null(st, i));
	return (sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC));
}

static int
ledger_bind_row(sqlite3_stmt *st, const struct ledger_row *r)
{
	int	rc = SQLITE_OK, i = 1;

#define B_TEXT(v)	if (rc == SQLITE_OK) rc = ledger_bind_text(st, i++, (v))
#define B_INT(v)	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, i++, \
			    (sqlite3_int64)(v))
	B_TEXT(r->request_id);
	B_INT(r->ts_start);
	B_INT(r->ts_end);
	B_TEXT(r->app);
	B_TEXT(r->team);
	B_TEXT(r->cost_center);
	B_TEXT(r->tier);
	B_TEXT(r->key_id);
	B_TEXT(r->provider);
	B_TEXT(r->route);
	B_TEXT(r->upstream);
	B_INT(r->attempts);
	B_TEXT(r->model_requested);
	B_TEXT(r->model);
	B_INT(r->stream ? 1 : 0);
	B_INT(r->status);
	B_TEXT(ledger_outcome_name(r->outcome));
	B_INT(r->input_tokens);
	B_INT(r->cached_input_tokens);
	B_INT(r->cache_write_tokens);
	B_INT(r->output_tokens);
	B_INT(r->reasoning_tokens);
	B_TEXT(r->usage_source);
	B_INT(r->cost_nusd);
	B_TEXT(r->price_version);
	B_INT(r->latency_ms);
	if (rc == SQLITE_OK) {
		if (r->ttft_ms < 0)
			rc = sqlite3_bind_null(st, i++);
		else
			rc = sqlite3_bind_int64(st, i++,
			    (sqlite3_int64)r->ttft_ms);
	}
#undef B_TEXT
#undef B_INT
	return (rc);
}

/* Step a statement that answers no row, then reset it. */
static int
ledger_step(sqlite3_stmt *st)
{
	int	rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return (rc == SQLITE_DONE ? SQLITE_OK : rc);
}

/*
 * Insert and commit one batch.  Returns 0 when committed; otherwise rolls
 * back and returns -1 with *cause (caller frees) naming the step, the
 * failing row's request id (if any) and SQLite's message.
 */
static int
ledger_commit_batch(struct ledger *l, struct ledger_row **batch, size_t n,
    char **cause)
{
	const char	*what = "BEGIN";
	const char	*rid = NULL;
	size_t		 i;
	int		 rc;

	if ((rc = ledger_step(l->st_begin)) != SQLITE_OK)
		goto fail;
	what = "INSERT";
	for (i = 0; i < n; i++) {
		rc = ledger_bind_row(l->st_insert, batch[i]);
		if (rc == SQLITE_OK)
			rc = ledger_step(l->st_insert);
		sqlite3_clear_bindings(l->st_insert);
		if (rc != SQLITE_OK) {
			rid = batch[i]->request_id;
			goto fail;
		}
	}
	what = "COMMIT";
	if ((rc = ledger_step(l->st_commit)) != SQLITE_OK)
		goto fail;
	return (0);

fail:
	xasprintf(cause, "%s of %zu rows failed%s%s: %s (%d)", what, n,
	    rid != NULL ? " at request " : "", rid != NULL ? rid : "",
	    sqlite3_errmsg(l->db), rc);
	if (!sqlite3_get_autocommit(l->db))
		ledger_step(l->st_rollback);
	return (-1);
}

static void
ledger_sleep_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int64_t
ledger_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Wait for work and move up to LEDGER_BATCH_MAX rows into batch.  Returns
 * the number taken; 0 means closing with an empty ring.
 */
static size_t
ledger_take(struct ledger *l, struct ledger_row **batch)
{
	struct timespec	deadline;
	int64_t		due;
	size_t		n, i;

	pthread_mutex_lock(&l->mtx);
	while (l->count == 0 && !l->closing) {
		l->writer_idle = 1;
		pthread_cond_wait(&l->cv_work, &l->mtx);
		l->writer_idle = 0;
	}
	if (l->count > 0 && l->count < LEDGER_BATCH_MAX && !l->closing) {
		/*
		 * Let the batch fill, but never hold a row past the linger,
		 * counted from when the oldest row came: rows that arrived
		 * while the last batch committed are due already.
		 */
		due = l->ring_ms[l->head] + LEDGER_LINGER_MS;
		deadline.tv_sec = due / 1000;
		deadline.tv_nsec = (due % 1000) * 1000000L;
		while (l->count < LEDGER_BATCH_MAX && !l->closing &&
		    ledger_mono_ms() < due) {
			if (pthread_cond_timedwait(&l->cv_work, &l->mtx,
			    &deadline) == ETIMEDOUT)
				break;
		}
	}
	n = l->count < LEDGER_BATCH_MAX ? l->count : LEDGER_BATCH_MAX;
	for (i = 0; i < n; i++) {
		batch[i] = l->ring[l->head];
		l->ring[l->head] = NULL;
		l->head = (l->head + 1) % LEDGER_QUEUE_MAX;
	}
	l->count -= n;
	l->inflight = n;
	if (n > 0 && l->space_waiters > 0)
		pthread_cond_broadcast(&l->cv_space);
	pthread_mutex_unlock(&l->mtx);
	return (n);
}

/*
 * A commit failed: count it, mark the ledger failing and say so, once when
 * the outage starts and then every LEDGER_REPORT_MS.  Returns 1 when the
 * batch is to be given up (closing, the disk still refuses), else 0.
 */
static int
ledger_failed(struct ledger *l, struct ledger_row **batch, size_t n,
    int tries, const char *cause, int64_t *reported)
{
	int64_t		now = ledger_mono_ms(), since;
	size_t		held, i;
	int		first, closing, lost;

	pthread_mutex_lock(&l->mtx);
	l->errors++;
	if ((first = !l->failing)) {
		l->failing = 1;
		l->fail_since = now;
	}
	since = now - l->fail_since;
	held = l->count + l->inflight;
	closing = l->closing;
	lost = l->lost;
	pthread_mutex_unlock(&l->mtx);

	if (first || now - *reported >= LEDGER_REPORT_MS) {
		*reported = now;
		log_error("ledger %s: %s; %zu rows held in memory until it "
		    "commits again (failing for %lld s); new paid requests are "
		    "refused", l->path, cause, held, (long long)since / 1000);
	}
	/*
	 * Closing: the process is about to exit, so stop retrying at some
	 * point; once one batch was given up, try each remaining one only
	 * once.
	 */
	if (!closing || tries < (lost ? 1 : LEDGER_CLOSE_TRIES))
		return (0);
	for (i = 0; i < n; i++)
		log_error("ledger %s: row not committed: request %s", l->path,
		    batch[i]->request_id);
	pthread_mutex_lock(&l->mtx);
	l->lost = 1;
	pthread_mutex_unlock(&l->mtx);
	return (1);
}

static void *
ledger_writer(void *arg)
{
	struct ledger		 *l = arg;
	struct ledger_row	**batch;
	int64_t			  reported = 0, since;
	size_t			  n, i, held;
	long			  backoff;
	char			 *cause;
	int			  tries, recovered;

	batch = xreallocarray(NULL, LEDGER_BATCH_MAX, sizeof *batch);
	while ((n = ledger_take(l, batch)) > 0) {
		backoff = LEDGER_BACKOFF_MIN_MS;
		tries = 0;
		cause = NULL;
		while (ledger_commit_batch(l, batch, n, &cause) != 0) {
			if (ledger_failed(l, batch, n, ++tries, cause,
			    &reported))
				break;
			free(cause);
			cause = NULL;
			ledger_sleep_ms(backoff);
			backoff *= 2;
			if (backoff > LEDGER_BACKOFF_MAX_MS)
				backoff = LEDGER_BACKOFF_MAX_MS;
		}
		for (i = 0; i < n; i++)
			ledger_row_free(batch[i]);
		pthread_mutex_lock(&l->mtx);
		/* Committed: the ledger works again (unless rows were lost). */
		recovered = cause == NULL && l->failing && !l->lost;
		if (recovered)
			l->failing = 0;
		since = ledger_mono_ms() - l->fail_since;
		held = l->count;
		l->inflight = 0;
		pthread_mutex_unlock(&l->mtx);
		if (recovered)
			log_warn("ledger %s: committing again after %lld ms; "
			    "%zu rows still held are being written", l->path,
			    (long long)since, held);
		free(cause);
	}
	free(batch);
	return (NULL);
}

struct ledger *
ledger_open(const char *path, char **cause)
{
	struct ledger		*l;
	pthread_condattr_t	 ca;
	char			 mode[32];
	int			 rc;

	mode[0] = '\0';
	l = xcalloc(1, sizeof *l);
	l->path = xstrdup(path);
	pthread_mutex_init(&l->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv_work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&l->cv_space, NULL);
	l->ring = xcalloc(LEDGER_QUEUE_MAX, sizeof *l->ring);
	l->ring_ms = xcalloc(LEDGER_QUEUE_MAX, sizeof *l->ring_ms);
	/*
	 * A file size limit (RLIMIT_FSIZE) must make the ledger's writes fail
	 * with EFBIG, which is retried like a full disk, not kill the process
	 * with SIGXFSZ and lose the rows held in memory.
	 */
	signal(SIGXFSZ, SIG_IGN);
	metrics_add(M_LEDGER_DROPPED, 0, NULL, NULL, NULL);

	if (ledger_mkdir(path, cause) != 0)
		goto fail;
	rc = sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		xasprintf(cause, "cannot open ledger %s: %s", path,
		    l->db != NULL ? sqlite3_errmsg(l->db) :
		    sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(l->db, 1);
	sqlite3_busy_timeout(l->db, LEDGER_BUSY_TIMEOUT_MS);
	if (ledger_pragma(l->db, "PRAGMA journal_mode=WAL", mode,
	    sizeof mode) != 0 || strcmp(mode, "wal") != 0) {
		xasprintf(cause, "ledger %s: cannot use WAL journal: %s", path,
		    mode[0] != '\0' ? mode : sqlite3_errmsg(l->db));
		goto fail;
	}
	if (sqlite3_exec(l->db, "PRAGMA synchronous=FULL", NULL, NULL,
	    NULL) != SQLITE_OK) {
		xasprintf(cause, "ledger %s: synchronous: %s", path,
		    sqlite3_errmsg(l->db));
		goto fail;
	}
	if (ledger_schema(l->db, cause) != 0)
		goto fail;
	if (ledger_prepare(l, "BEGIN IMMEDIATE", &l->st_begin, cause) != 0 ||
	    ledger_prepare(l, ledger_insert_sql, &l->st_insert, cause) != 0 ||
	    ledger_prepare(l, "COMMIT", &l->st_commit, cause) != 0 ||
	    ledger_prepare(l, "ROLLBACK", &l->st_rollback, cause) != 0)
		goto fail;

	if ((rc = pthread_create(&l->thread, NULL, ledger_writer, l)) != 0) {
		xasprintf(cause, "ledger writer thread: %s", strerror(rc));
		goto fail;
	}
	l->started = 1;
	return (l);

fail:
	ledger_free(l);
	return (NULL);
}

void
ledger_enqueue(struct ledger *l, struct ledger_row *row)
{
	size_t	held;
	int	full = 0;

	if (row == NULL)
		return;
	if (row->request_id == NULL) {
		/* A broken caller; the row could never be keyed. */
		log_error("ledger: row without request_id refused");
		ledger_row_free(row);
		return;
	}
	pthread_mutex_lock(&l->mtx);
	held = l->count + l->inflight;
	if (row->outcome == OUTCOME_DENIED && held >= LEDGER_ADMIT_MAX &&
	    !l->closing) {
		/* A refusal costs nothing; the room is for billed rows. */
		l->dropped++;
		pthread_mutex_unlock(&l->mtx);
		metrics_add(M_LEDGER_DROPPED, 1, NULL, NULL, NULL);
		log_error("ledger %s: %zu rows held, refusal not recorded: "
		    "request %s (status %d)", l->path, held, row->request_id,
		    row->status);
		ledger_row_free(row);
		return;
	}
	while (l->count == LEDGER_QUEUE_MAX && !l->closing) {
		if (!full) {
			/* Unlocked below: logging may block. */
			full = 1;
			pthread_mutex_unlock(&l->mtx);
			log_error("ledger %s: %d rows held, the queue is full: "
			    "request %s waits for the disk", l->path,
			    LEDGER_QUEUE_MAX, row->request_id);
			pthread_mutex_lock(&l->mtx);
			continue;
		}
		l->space_waiters++;
		pthread_cond_wait(&l->cv_space, &l->mtx);
		l->space_waiters--;
	}
	if (l->closing) {
		pthread_mutex_unlock(&l->mtx);
		log_error("ledger %s: closed, row not written: request %s",
		    l->path, row->request_id);
		ledger_row_free(row);
		return;
	}
	l->ring[(l->head + l->count) % LEDGER_QUEUE_MAX] = row;
	l->ring_ms[(l->head + l->count) % LEDGER_QUEUE_MAX] = ledger_mono_ms();
	l->count++;
	/* Wake the writer for its first row or for a full batch. */
	if ((l->writer_idle && l->count == 1) ||
	    l->count == LEDGER_BATCH_MAX)
		pthread_cond_signal(&l->cv_work);
	pthread_mutex_unlock(&l->mtx);
}

size_t
ledger_queue_depth(struct ledger *l)
{
	size_t	n;

	pthread_mutex_lock(&l->mtx);
	n = l->count + l->inflight;
	pthread_mutex_unlock(&l->mtx);
	return (n);
}

/* Read a counter the writer and the enqueuers update. */
static uint64_t
ledger_counter(struct ledger *l, const uint64_t *v)
{
	uint64_t	n;

	pthread_mutex_lock(&l->mtx);
	n = *v;
	pthread_mutex_unlock(&l->mtx);
	return (n);
}

uint64_t
ledger_errors(struct ledger *l)
{
	return (ledger_counter(l, &l->errors));
}

uint64_t
ledger_dropped(struct ledger *l)
{
	return (ledger_counter(l, &l->dropped));
}

int
ledger_close(struct ledger *l)
{
	int	rv;

	if (l == NULL)
		return (0);
	pthread_mutex_lock(&l->mtx);
	l->closing = 1;
	pthread_cond_broadcast(&l->cv_work);
	pthread_cond_broadcast(&l->cv_space);
	pthread_mutex_unlock(&l->mtx);
	if (l->started)
		pthread_join(l->thread, NULL);
	rv = l->lost ? -1 : 0;
	ledger_free(l);
	return (rv);
}

static const char ledger_sums_sql[] =
    "SELECT app, team, coalesce(sum(cost_nusd), 0),"
    " coalesce(sum(input_tokens + output_tokens), 0), count(*)"
    " FROM usage WHERE ts_start >= ?1 AND ts_start < ?2"
    " AND outcome != 'denied' AND app IS NOT NULL"
    " GROUP BY app, team";

int
ledger_sums(const char *path, int64_t from_ms, int64_t to_ms,
    ledger_sum_cb cb, void *arg, char **cause)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	int		 rc, ret = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "cannot open ledger %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, ledger_sums_sql, -1, &st, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "ledger %s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cb((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
		    sqlite3_column_int64(st, 4), arg);
	}
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "ledger %s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (ret);
}

int
ledger_healthy(struct ledger *l)
{
	int	ok;

	pthread_mutex_lock(&l->mtx);
	ok = !l->failing && l->count + l->inflight < LEDGER_ADMIT_MAX;
	pthread_mutex_unlock(&l->mtx);
	return (ok);
}
