/*
 * The usage ledger: one SQLite row per request in table "usage" (see
 * DESIGN.md section 9 for the columns).  Workers hand finished rows to
 * ledger_enqueue(); one writer thread inserts them in batched transactions
 * (commit every <= 50 ms or <= 500 rows) with WAL and synchronous=FULL.  A
 * batch leaves memory only after its COMMIT succeeded; on failure (disk
 * full, I/O error, ...) the batch is kept and retried with backoff until
 * the disk comes back, so nothing already accepted is lost while the
 * process lives; meanwhile ledger_healthy() is false and the proxy refuses
 * new paid requests.  request_id is the primary key and inserts are
 * INSERT OR IGNORE, so replaying a row never counts it twice.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include <stddef.h>
#include <stdint.h>

enum ledger_outcome {
#define TG_OUTCOME(e, s)	OUTCOME_##e,
#include "tbl/outcome.h"
#undef TG_OUTCOME
	OUTCOME_MAX
};

const char	*ledger_outcome_name(enum ledger_outcome);

/* One row.  Strings are owned by the row (ledger_row_free() frees them). */
struct ledger_row {
	char		*request_id;
	int64_t		 ts_start;	/* unix ms */
	int64_t		 ts_end;
	char		*app;		/* NULL when auth failed */
	char		*team;
	char		*cost_center;
	char		*tier;
	char		*key_id;
	char		*provider;
	char		*route;
	char		*upstream;	/* endpoint URL that answered */
	int		 attempts;
	char		*model_requested;
	char		*model;
	int		 stream;
	int		 status;
	enum ledger_outcome outcome;
	int64_t		 input_tokens;
	int64_t		 cached_input_tokens;
	int64_t		 cache_write_tokens;
	int64_t		 output_tokens;
	int64_t		 reasoning_tokens;
	char		*usage_source;	/* provider|estimated|partial */
	int64_t		 cost_nusd;
	char		*price_version;
	int64_t		 latency_ms;
	int64_t		 ttft_ms;	/* -1: no byte reached the client */
};

struct ledger_row	*ledger_row_new(void);	/* zeroed, ttft_ms = -1 */
void			 ledger_row_free(struct ledger_row *);

struct ledger;

/*
 * Open (creating the file, its directory's WAL files and the schema if
 * needed) and start the writer thread.  Ignores SIGXFSZ process-wide, so
 * that a file size limit fails writes instead of killing the process.
 * Returns NULL and sets *cause (caller frees) on failure.
 */
struct ledger	*ledger_open(const char *path, char **cause);

/*
 * Hand a row to the writer (takes ownership of row).  Thread-safe.  When
 * the disk has fallen far behind (half the queue held), a refusal's row
 * (outcome denied) is dropped, logged and counted instead; a billed row
 * is always kept and blocks only when the whole queue is full.
 */
void		 ledger_enqueue(struct ledger *, struct ledger_row *row);

/* Rows waiting to be committed (for metrics). */
size_t		 ledger_queue_depth(struct ledger *);

/*
 * May a new paid request start?  False while commits fail or while half
 * the queue is held; the proxy then answers 503 ledger_unavailable and
 * /readyz 503.
 */
int		 ledger_healthy(struct ledger *);

/* Commits that failed so far (for metrics). */
uint64_t	 ledger_errors(struct ledger *);

/* Refusals' rows dropped because the queue was half full (for tests). */
uint64_t	 ledger_dropped(struct ledger *);

/*
 * Commit everything queued, stop the writer thread and close.  Accepts
 * NULL.  Returns -1 if rows could not be committed (they are logged).
 */
int		 ledger_close(struct ledger *);

/*
 * Settled usage per app and team for requests started in [from, to)
 * (denied requests excluded): cb(app, team, nano-USD, tokens, requests,
 * arg) once per group.  Opens path read-only; safe while the writer runs.
 * Returns 0, or -1 with *cause set.
 */
typedef void (*ledger_sum_cb)(const char *app, const char *team,
    int64_t nusd, int64_t tokens, int64_t requests, void *arg);
int		 ledger_sums(const char *path, int64_t from_ms, int64_t to_ms,
		    ledger_sum_cb cb, void *arg, char **cause);

/*
 * Create the schema on an open sqlite3 handle (used by ledger_open() and by
 * tests).  Returns 0 or -1 with *cause set.
 */
struct sqlite3;
int		 ledger_schema(struct sqlite3 *, char **cause);

#endif
