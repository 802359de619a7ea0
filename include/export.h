/*
 * Usage export: reads one or more ledger files (one per replica), merges
 * them with each request_id counted once, groups by the chosen fields and
 * writes CSV (RFC 4180) or JSON.  Dates are calendar days in the process
 * time zone (util_set_timezone()); the range is inclusive.
 */
#ifndef EXPORT_H
#define EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sqlite3;

enum export_format {
	EXPORT_CSV = 0,
	EXPORT_JSON,
	EXPORT_FOCUS
};

enum export_field {
	FIELD_DAY = 0,
	FIELD_MONTH,
	FIELD_TEAM,
	FIELD_COST_CENTER,
	FIELD_APP,
	FIELD_TIER,
	FIELD_PROVIDER,
	FIELD_MODEL,
	FIELD_MAX
};

struct export_opts {
	const char * const	*ledgers;	/* borrowed paths */
	size_t			 nledgers;
	const char		*from;		/* YYYY-MM-DD */
	const char		*to;		/* YYYY-MM-DD, inclusive */
	enum export_field	 fields[FIELD_MAX];
	size_t			 nfields;
	enum export_format	 format;
};

/*
 * Parse a --group-by list ("day,app,model") into opts->fields.  Returns -1
 * and sets *cause (caller frees) on an unknown or repeated field.
 */
int	 export_parse_fields(const char *list, struct export_opts *opts,
	    char **cause);

/*
 * A new in-memory database (caller closes with sqlite3_close()) holding
 * table u: the ledger columns the reports need (request_id, ts_start, app,
 * team, cost_center, tier, provider, model, outcome, the token columns,
 * usage_source, cost_nusd) of every row with from_ms <= ts_start < to_ms of
 * every ledger, each request_id once, and the SQL functions tg_day(ms) and
 * tg_month(ms) (local dates in the process time zone).  Returns NULL with
 * *cause set.
 */
struct sqlite3	*export_open(const char * const *ledgers, size_t nledgers,
		    int64_t from_ms, int64_t to_ms, char **cause);

/* Write the export to out.  Returns 0, or -1 with *cause set. */
int	 export_run(const struct export_opts *opts, FILE *out, char **cause);

#endif
