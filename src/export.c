/*
 * Usage export.
 *
 * An in-memory SQLite database does the work: each ledger is attached in
 * turn, read-only, and the rows of the date range are copied with INSERT OR
 * IGNORE into one table keyed by request_id, so a request that two replica
 * ledgers both hold (or a ledger given twice) counts once.  Ledgers are
 * attached one at a time, so their number is not bounded by
 * SQLITE_MAX_ATTACHED.  The grouping query then runs over that table; day and
 * month come from two C functions that use the process time zone, the same
 * one the date range was converted with.
 *
 * --format focus writes a FinOps FOCUS 1.x cost-and-usage CSV instead: one
 * row per (local day, team, cost_center, app, tier, provider, model), the
 * --group-by list is not used.  Costs are the same nano-USD sums printed
 * with 9 decimals, so the BilledCost column adds up to the ledger exactly.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sqlite3.h>

#include "export.h"
#include "log.h"
#include "price.h"
#include "util.h"
#include "xmalloc.h"

/* Names on the command line and in the header row; SQL over table u. */
static const struct {
	const char	*name;
	const char	*expr;
} export_fields[FIELD_MAX] = {
	[FIELD_DAY] =		{ "day",		"tg_day(ts_start)" },
	[FIELD_MONTH] =		{ "month",		"tg_month(ts_start)" },
	[FIELD_TEAM] =		{ "team",		"team" },
	[FIELD_COST_CENTER] =	{ "cost_center",	"cost_center" },
	[FIELD_APP] =		{ "app",		"app" },
	[FIELD_TIER] =		{ "tier",		"tier" },
	[FIELD_PROVIDER] =	{ "provider",		"provider" },
	[FIELD_MODEL] =		{ "model",		"model" },
};

/* The measures after the group fields, in output order. */
enum export_measure {
	M_REQUESTS = 0,
	M_DENIED,
	M_INPUT,
	M_CACHED_INPUT,
	M_CACHE_WRITE,
	M_OUTPUT,
	M_REASONING,
	M_COST,
	M_ESTIMATED,
	M_MAX
};

static const struct {
	const char	*name;
	const char	*expr;
} export_measures[M_MAX] = {
	[M_REQUESTS] =	   { "requests",	    "count(*)" },
	[M_DENIED] =	   { "denied_requests",
			     "coalesce(sum(outcome = 'denied'), 0)" },
	[M_INPUT] =	   { "input_tokens",
			     "coalesce(sum(input_tokens), 0)" },
	[M_CACHED_INPUT] = { "cached_input_tokens",
			     "coalesce(sum(cached_input_tokens), 0)" },
	[M_CACHE_WRITE] =  { "cache_write_tokens",
			     "coalesce(sum(cache_write_tokens), 0)" },
	[M_OUTPUT] =	   { "output_tokens",
			     "coalesce(sum(output_tokens), 0)" },
	[M_REASONING] =	   { "reasoning_tokens",
			     "coalesce(sum(reasoning_tokens), 0)" },
	[M_COST] =	   { "cost_usd",	"coalesce(sum(cost_nusd), 0)" },
	[M_ESTIMATED] =	   { "estimated_requests",
			     "coalesce(sum(usage_source = 'estimated'), 0)" },
};

static const char export_create_sql[] =
	"CREATE TABLE u ("
	" request_id TEXT PRIMARY KEY NOT NULL,"
	" ts_start INTEGER NOT NULL,"
	" app TEXT, team TEXT, cost_center TEXT, tier TEXT, provider TEXT,"
	" model TEXT, outcome TEXT,"
	" input_tokens INTEGER, cached_input_tokens INTEGER,"
	" cache_write_tokens INTEGER, output_tokens INTEGER,"
	" reasoning_tokens INTEGER, usage_source TEXT, cost_nusd INTEGER)";

static const char export_copy_sql[] =
	"INSERT OR IGNORE INTO u SELECT request_id, ts_start, app, team,"
	" cost_center, tier, provider, model, outcome, input_tokens,"
	" cached_input_tokens, cache_write_tokens, output_tokens,"
	" reasoning_tokens, usage_source, cost_nusd"
	" FROM l0.usage WHERE ts_start >= ?1 AND ts_start < ?2";

int
export_parse_fields(const char *list, struct export_opts *opts, char **cause)
{
	const char	*p, *end;
	size_t		 len, i, j, n = 0;
	enum export_field fields[FIELD_MAX];

	if (list == NULL)
		list = "day,app,model";
	p = list;
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < FIELD_MAX; i++) {
			if (strlen(export_fields[i].name) == len &&
			    strncmp(export_fields[i].name, p, len) == 0)
				break;
		}
		if (i == FIELD_MAX) {
			xasprintf(cause, "unknown group-by field \"%.*s\" "
			    "(want day, month, team, cost_center, app, tier, "
			    "provider or model)", (int)len, p);
			return (-1);
		}
		for (j = 0; j < n; j++) {
			if (fields[j] == (enum export_field)i) {
				xasprintf(cause, "group-by field \"%s\" given "
				    "twice", export_fields[i].name);
				return (-1);
			}
		}
		fields[n++] = (enum export_field)i;
		if (end == NULL)
			break;
		p = end + 1;
	}
	memcpy(opts->fields, fields, n * sizeof fields[0]);
	opts->nfields = n;
	return (0);
}

/* tg_day(ms) / tg_month(ms): local calendar day / month, NULL for NULL. */
static void
export_day_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char	buf[11];

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	util_local_day(sqlite3_value_int64(argv[0]), buf);
	sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static void
export_month_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char	buf[8];

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	util_local_month(sqlite3_value_int64(argv[0]), buf);
	sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

/*
 * A read-only URI for a path: "file:" plus the path with everything but
 * unreserved characters and '/' percent-encoded, so '?', '#' and '%' in a
 * file name stay part of it.
 */
static char *
export_uri(const char *path)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			*uri, *q;
	size_t			 len;

	len = strlen(path);
	uri = xmalloc(sizeof "file:" - 1 + 3 * len + sizeof "?mode=ro");
	q = uri;
	memcpy(q, "file:", 5);
	q += 5;
	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '/' || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~')
			*q++ = (char)*p;
		else {
			*q++ = '%';
			*q++ = hex[*p >> 4];
			*q++ = hex[*p & 0xf];
		}
	}
	memcpy(q, "?mode=ro", sizeof "?mode=ro");
	return (uri);
}

/* Copy the rows of [from_ms, to_ms) of one ledger into table u. */
static int
export_load(sqlite3 *db, sqlite3_stmt *st_attach, sqlite3_stmt *st_detach,
    const char *path, int64_t from_ms, int64_t to_ms, char **cause)
{
	sqlite3_stmt	*st_copy = NULL;
	struct stat	 sb;
	char		*uri;
	int		 rc, rv = -1;

	/* SQLite's message for a missing file would only show the URI. */
	if (stat(path, &sb) != 0) {
		xasprintf(cause, "cannot open ledger %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (!S_ISREG(sb.st_mode)) {
		xasprintf(cause, "cannot open ledger %s: not a regular file",
		    path);
		return (-1);
	}
	uri = export_uri(path);
	sqlite3_bind_text(st_attach, 1, uri, -1, SQLITE_STATIC);
	rc = sqlite3_step(st_attach);
	sqlite3_reset(st_attach);
	sqlite3_clear_bindings(st_attach);
	free(uri);
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "cannot open ledger %s: %s", path,
		    sqlite3_errmsg(db));
		return (-1);
	}

	/* Prepared per ledger: the attached schema is a different one. */
	if (sqlite3_prepare_v2(db, export_copy_sql, -1, &st_copy, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "cannot read ledger %s: %s", path,
		    sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st_copy, 1, from_ms);
	sqlite3_bind_int64(st_copy, 2, to_ms);
	if ((rc = sqlite3_step(st_copy)) != SQLITE_DONE) {
		xasprintf(cause, "cannot read ledger %s: %s", path,
		    sqlite3_errmsg(db));
		goto out;
	}
	rv = 0;

out:
	sqlite3_finalize(st_copy);
	rc = sqlite3_step(st_detach);
	sqlite3_reset(st_detach);
	if (rc != SQLITE_DONE && rv == 0) {
		xasprintf(cause, "detach ledger %s: %s", path,
		    sqlite3_errmsg(db));
		rv = -1;
	}
	return (rv);
}

/* Write one CSV field with RFC 4180 quoting; NULL is an empty field. */
static void
export_csv_field(FILE *out, const char *s)
{
	const char	*p;

	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

static char *
export_query(const struct export_opts *opts)
{
	char	*sql, *cols = NULL, *group = NULL, *tmp;
	size_t	 i;

	cols = xstrdup("");
	group = xstrdup("");
	for (i = 0; i < opts->nfields; i++) {
		xasprintf(&tmp, "%s%s, ", cols,
		    export_fields[opts->fields[i]].expr);
		free(cols);
		cols = tmp;
		xasprintf(&tmp, "%s%s%zu", group, i > 0 ? ", " : "", i + 1);
		free(group);
		group = tmp;
	}
	for (i = 0; i < M_MAX; i++) {
		xasprintf(&tmp, "%s%s%s", cols, export_measures[i].expr,
		    i + 1 < M_MAX ? ", " : "");
		free(cols);
		cols = tmp;
	}
	if (opts->nfields > 0) {
		xasprintf(&sql, "SELECT %s FROM u GROUP BY %s ORDER BY %s",
		    cols, group, group);
	} else
		xasprintf(&sql, "SELECT %s FROM u", cols);
	free(cols);
	free(group);
	return (sql);
}

/* Run the grouping query and write its rows as CSV or JSON. */
static int
export_write(sqlite3 *db, const struct export_opts *opts, FILE *out,
    char **cause)
{
	sqlite3_stmt	*st = NULL;
	json_t		*arr = NULL, *obj;
	const char	*s;
	char		*sql, cost[32];
	size_t		 i;
	int		 rc, rv = -1, col;

	sql = export_query(opts);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		xasprintf(cause, "export query: %s", sqlite3_errmsg(db));
		goto out;
	}

	if (opts->format == EXPORT_JSON)
		arr = json_array();			/* new */
	else {
		for (i = 0; i < opts->nfields; i++) {
			fputs(export_fields[opts->fields[i]].name, out);
			fputc(',', out);
		}
		for (i = 0; i < M_MAX; i++) {
			fputs(export_measures[i].name, out);
			fputs(i + 1 < M_MAX ? "," : "\r\n", out);
		}
	}

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* Without group fields, an empty range gives no total row. */
		if (opts->nfields == 0 &&
		    sqlite3_column_int64(st, M_REQUESTS) == 0)
			continue;
		col = (int)opts->nfields + M_COST;
		price_format_usd(sqlite3_column_int64(st, col), 6, cost);
		if (arr != NULL) {
			obj = json_object();		/* new, stolen below */
			for (i = 0; i < opts->nfields; i++) {
				s = (const char *)sqlite3_column_text(st,
				    (int)i);
				json_object_set_new(obj,
				    export_fields[opts->fields[i]].name,
				    s != NULL ? json_string(s) : json_null());
			}
			for (i = 0; i < M_MAX; i++) {
				col = (int)(opts->nfields + i);
				json_object_set_new(obj,
				    export_measures[i].name, i == M_COST ?
				    json_string(cost) : json_integer(
				    sqlite3_column_int64(st, col)));
			}
			json_array_append_new(arr, obj);
			continue;
		}
		for (i = 0; i < opts->nfields; i++) {
			export_csv_field(out,
			    (const char *)sqlite3_column_text(st, (int)i));
			fputc(',', out);
		}
		for (i = 0; i < M_MAX; i++) {
			col = (int)(opts->nfields + i);
			if (i == M_COST)
				fputs(cost, out);
			else
				fprintf(out, "%lld", (long long)
				    sqlite3_column_int64(st, col));
			fputs(i + 1 < M_MAX ? "," : "\r\n", out);
		}
	}
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "export query: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (arr != NULL) {
		if (json_dumpf(arr, out, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER) != 0) {
			xasprintf(cause, "write: %s", strerror(errno));
			goto out;
		}
		fputc('\n', out);
	}
	if (fflush(out) != 0 || ferror(out)) {
		xasprintf(cause, "write: %s", strerror(errno));
		goto out;
	}
	rv = 0;

out:
	json_decref(arr);
	sqlite3_finalize(st);
	return (rv);
}

/*
 * FOCUS (FinOps Open Cost and Usage Specification) export.  Column names
 * and values follow FOCUS 1.x; custom columns carry the x_ prefix the
 * specification reserves for them.  tollgate prices every token at one
 * list price with no discounts or commitments, so BilledCost, EffectiveCost,
 * ListCost and ContractedCost are the same amount.  Date/times are UTC
 * (RFC 3339); a charge period is one calendar day in the configured time
 * zone, the billing period its calendar month.
 */
enum focus_column {
	FC_BILLED_COST = 0,
	FC_BILLING_CURRENCY,
	FC_BILLING_PERIOD_START,
	FC_BILLING_PERIOD_END,
	FC_CHARGE_CATEGORY,
	FC_CHARGE_CLASS,
	FC_CHARGE_DESCRIPTION,
	FC_CHARGE_FREQUENCY,
	FC_CHARGE_PERIOD_START,
	FC_CHARGE_PERIOD_END,
	FC_CONSUMED_QUANTITY,
	FC_CONSUMED_UNIT,
	FC_CONTRACTED_COST,
	FC_EFFECTIVE_COST,
	FC_INVOICE_ISSUER_NAME,
	FC_LIST_COST,
	FC_PRICING_CATEGORY,
	FC_PRICING_QUANTITY,
	FC_PRICING_UNIT,
	FC_PROVIDER_NAME,
	FC_PUBLISHER_NAME,
	FC_RESOURCE_ID,
	FC_RESOURCE_NAME,
	FC_SERVICE_CATEGORY,
	FC_SERVICE_NAME,
	FC_SKU_ID,
	FC_TAGS,
	FC_X_REQUESTS,
	FC_X_DENIED_REQUESTS,
	FC_X_ESTIMATED_REQUESTS,
	FC_X_INPUT_TOKENS,
	FC_X_CACHED_INPUT_TOKENS,
	FC_X_CACHE_WRITE_TOKENS,
	FC_X_OUTPUT_TOKENS,
	FC_X_REASONING_TOKENS,
	FC_MAX
};

/* Header names; a fixed value where every row has the same one. */
static const struct {
	const char	*name;
	const char	*fixed;
} focus_columns[FC_MAX] = {
	[FC_BILLED_COST] =		{ "BilledCost", NULL },
	[FC_BILLING_CURRENCY] =		{ "BillingCurrency", "USD" },
	[FC_BILLING_PERIOD_START] =	{ "BillingPeriodStart", NULL },
	[FC_BILLING_PERIOD_END] =	{ "BillingPeriodEnd", NULL },
	[FC_CHARGE_CATEGORY] =		{ "ChargeCategory", "Usage" },
	[FC_CHARGE_CLASS] =		{ "ChargeClass", NULL },  /* null */
	[FC_CHARGE_DESCRIPTION] =	{ "ChargeDescription", NULL },
	[FC_CHARGE_FREQUENCY] =		{ "ChargeFrequency", "Usage-Based" },
	[FC_CHARGE_PERIOD_START] =	{ "ChargePeriodStart", NULL },
	[FC_CHARGE_PERIOD_END] =	{ "ChargePeriodEnd", NULL },
	[FC_CONSUMED_QUANTITY] =	{ "ConsumedQuantity", NULL },
	[FC_CONSUMED_UNIT] =		{ "ConsumedUnit", "Tokens" },
	[FC_CONTRACTED_COST] =		{ "ContractedCost", NULL },
	[FC_EFFECTIVE_COST] =		{ "EffectiveCost", NULL },
	[FC_INVOICE_ISSUER_NAME] =	{ "InvoiceIssuerName", "tollgate" },
	[FC_LIST_COST] =		{ "ListCost", NULL },
	[FC_PRICING_CATEGORY] =		{ "PricingCategory", "Standard" },
	[FC_PRICING_QUANTITY] =		{ "PricingQuantity", NULL },
	[FC_PRICING_UNIT] =		{ "PricingUnit", "Tokens" },
	[FC_PROVIDER_NAME] =		{ "ProviderName", NULL },
	[FC_PUBLISHER_NAME] =		{ "PublisherName", NULL },
	[FC_RESOURCE_ID] =		{ "ResourceId", NULL },
	[FC_RESOURCE_NAME] =		{ "ResourceName", NULL },
	[FC_SERVICE_CATEGORY] =		{ "ServiceCategory",
					  "AI and Machine Learning" },
	[FC_SERVICE_NAME] =		{ "ServiceName", NULL },
	[FC_SKU_ID] =			{ "SkuId", NULL },
	[FC_TAGS] =			{ "Tags", NULL },
	[FC_X_REQUESTS] =		{ "x_Requests", NULL },
	[FC_X_DENIED_REQUESTS] =	{ "x_DeniedRequests", NULL },
	[FC_X_ESTIMATED_REQUESTS] =	{ "x_EstimatedRequests", NULL },
	[FC_X_INPUT_TOKENS] =		{ "x_InputTokens", NULL },
	[FC_X_CACHED_INPUT_TOKENS] =	{ "x_CachedInputTokens", NULL },
	[FC_X_CACHE_WRITE_TOKENS] =	{ "x_CacheWriteTokens", NULL },
	[FC_X_OUTPUT_TOKENS] =		{ "x_OutputTokens", NULL },
	[FC_X_REASONING_TOKENS] =	{ "x_ReasoningTokens", NULL },
};

/* The FOCUS grouping, in query column order. */
static const enum export_field focus_fields[] = {
	FIELD_DAY, FIELD_TEAM, FIELD_COST_CENTER, FIELD_APP, FIELD_TIER,
	FIELD_PROVIDER, FIELD_MODEL
};
enum { FK_DAY = 0, FK_TEAM, FK_COST_CENTER, FK_APP, FK_TIER, FK_PROVIDER,
    FK_MODEL, FK_MAX };

/* The integer measures copied to x_ columns. */
static const struct {
	enum focus_column	col;
	enum export_measure	measure;
} focus_counts[] = {
	{ FC_X_REQUESTS,		M_REQUESTS },
	{ FC_X_DENIED_REQUESTS,		M_DENIED },
	{ FC_X_ESTIMATED_REQUESTS,	M_ESTIMATED },
	{ FC_X_INPUT_TOKENS,		M_INPUT },
	{ FC_X_CACHED_INPUT_TOKENS,	M_CACHED_INPUT },
	{ FC_X_CACHE_WRITE_TOKENS,	M_CACHE_WRITE },
	{ FC_X_OUTPUT_TOKENS,		M_OUTPUT },
	{ FC_X_REASONING_TOKENS,	M_REASONING },
};

/* Tags: {"team":..,"cost_center":..,"app":..,"tier":..}, NULLs left out. */
static char *
export_focus_tags(const char *key[FK_MAX])
{
	static const struct {
		const char	*name;
		int		 key;
	} tags[] = {
		{ "team", FK_TEAM }, { "cost_center", FK_COST_CENTER },
		{ "app", FK_APP }, { "tier", FK_TIER },
	};
	json_t	*obj;
	char	*s;
	size_t	 i;

	obj = json_object();				/* new */
	for (i = 0; i < nitems(tags); i++) {
		if (key[tags[i].key] != NULL)
			json_object_set_new(obj, tags[i].name,
			    json_string(key[tags[i].key]));
	}
	s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (s == NULL)
		fatalx("out of memory");
	return (s);
}

/* Write one FOCUS row from a row of the grouping query. */
static int
export_focus_row(FILE *out, sqlite3_stmt *st, char **cause)
{
	const char	*key[FK_MAX], *v[FC_MAX];
	char		 cost[32], qty[24], cnt[nitems(focus_counts)][24];
	char		 cps[32], cpe[32], bps[32], bpe[32];
	char		*desc, *rid, *tags;
	const char	*app, *model, *provider;	/* borrowed */
	int64_t		 m[M_MAX];
	size_t		 i;
	int		 y, mo, d;

	for (i = 0; i < FK_MAX; i++)
		key[i] = (const char *)sqlite3_column_text(st, (int)i);
	for (i = 0; i < M_MAX; i++)
		m[i] = sqlite3_column_int64(st, (int)(FK_MAX + i));
	if (key[FK_DAY] == NULL || util_parse_date(key[FK_DAY], &y, &mo,
	    &d) != 0) {
		xasprintf(cause, "focus export: bad day \"%s\"",
		    key[FK_DAY] != NULL ? key[FK_DAY] : "");
		return (-1);
	}
	util_rfc3339(util_local_midnight_ms(y, mo, d), cps);
	util_rfc3339(util_local_midnight_ms(y, mo, d + 1), cpe);
	util_rfc3339(util_local_midnight_ms(y, mo, 1), bps);
	util_rfc3339(util_local_midnight_ms(y, mo + 1, 1), bpe);
	price_format_usd(m[M_COST], 9, cost);
	snprintf(qty, sizeof qty, "%lld", (long long)(m[M_INPUT] +
	    m[M_OUTPUT]));
	for (i = 0; i < nitems(focus_counts); i++)
		snprintf(cnt[i], sizeof cnt[i], "%lld",
		    (long long)m[focus_counts[i].measure]);

	app = key[FK_APP] != NULL ? key[FK_APP] : "";
	provider = key[FK_PROVIDER];
	model = key[FK_MODEL];
	xasprintf(&desc, "%s%s%s for app %s", model != NULL ? model :
	    "requests without a model", provider != NULL ? " via " : "",
	    provider != NULL ? provider : "", app);
	if (model != NULL)
		xasprintf(&rid, "app/%s/model/%s", app, model);
	else
		xasprintf(&rid, "app/%s", app);
	tags = export_focus_tags(key);

	for (i = 0; i < FC_MAX; i++)
		v[i] = focus_columns[i].fixed;
	v[FC_BILLED_COST] = v[FC_EFFECTIVE_COST] = cost;
	v[FC_LIST_COST] = v[FC_CONTRACTED_COST] = cost;
	v[FC_BILLING_PERIOD_START] = bps;
	v[FC_BILLING_PERIOD_END] = bpe;
	v[FC_CHARGE_PERIOD_START] = cps;
	v[FC_CHARGE_PERIOD_END] = cpe;
	v[FC_CHARGE_DESCRIPTION] = desc;
	v[FC_CONSUMED_QUANTITY] = v[FC_PRICING_QUANTITY] = qty;
	v[FC_PROVIDER_NAME] = v[FC_PUBLISHER_NAME] = key[FK_PROVIDER];
	v[FC_SERVICE_NAME] = key[FK_PROVIDER];
	v[FC_RESOURCE_ID] = rid;
	v[FC_RESOURCE_NAME] = key[FK_APP];
	v[FC_SKU_ID] = model;
	v[FC_TAGS] = tags;
	for (i = 0; i < nitems(focus_counts); i++)
		v[focus_counts[i].col] = cnt[i];

	for (i = 0; i < FC_MAX; i++) {
		if (i > 0)
			fputc(',', out);
		export_csv_field(out, v[i]);
	}
	fputs("\r\n", out);
	free(desc);
	free(rid);
	free(tags);
	return (0);
}

/* Run the fixed FOCUS grouping and write it as FOCUS CSV. */
static int
export_write_focus(sqlite3 *db, FILE *out, char **cause)
{
	struct export_opts	 fopts;
	sqlite3_stmt		*st = NULL;
	char			*sql;
	size_t			 i;
	int			 rc, rv = -1;

	memset(&fopts, 0, sizeof fopts);
	memcpy(fopts.fields, focus_fields, sizeof focus_fields);
	fopts.nfields = nitems(focus_fields);
	sql = export_query(&fopts);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		xasprintf(cause, "export query: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (i = 0; i < FC_MAX; i++) {
		fputs(focus_columns[i].name, out);
		fputs(i + 1 < FC_MAX ? "," : "\r\n", out);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (export_focus_row(out, st, cause) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "export query: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (fflush(out) != 0 || ferror(out)) {
		xasprintf(cause, "write: %s", strerror(errno));
		goto out;
	}
	rv = 0;

out:
	sqlite3_finalize(st);
	return (rv);
}

static int
export_exec(sqlite3 *db, const char *sql, char **cause)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		xasprintf(cause, "export: %s", sqlite3_errmsg(db));
		return (-1);
	}
	return (0);
}

struct sqlite3 *
export_open(const char * const *ledgers, size_t nledgers, int64_t from_ms,
    int64_t to_ms, char **cause)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st_attach = NULL, *st_detach = NULL;
	size_t		 i;
	int		 ok = 0;

	if (nledgers == 0) {
		xasprintf(cause, "no ledger to read");
		return (NULL);
	}
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		xasprintf(cause, "export: %s", db != NULL ?
		    sqlite3_errmsg(db) : "cannot open memory database");
		goto out;
	}
	if (sqlite3_create_function(db, "tg_day", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, export_day_fn, NULL, NULL) !=
	    SQLITE_OK ||
	    sqlite3_create_function(db, "tg_month", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, export_month_fn, NULL, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "export: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (export_exec(db, export_create_sql, cause) != 0)
		goto out;
	if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS l0", -1,
	    &st_attach, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DETACH DATABASE l0", -1, &st_detach,
	    NULL) != SQLITE_OK) {
		xasprintf(cause, "export: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (i = 0; i < nledgers; i++) {
		if (export_load(db, st_attach, st_detach, ledgers[i],
		    from_ms, to_ms, cause) != 0)
			goto out;
	}
	ok = 1;

out:
	sqlite3_finalize(st_attach);
	sqlite3_finalize(st_detach);
	if (!ok) {
		sqlite3_close(db);
		db = NULL;
	}
	return (db);
}

int
export_run(const struct export_opts *opts, FILE *out, char **cause)
{
	sqlite3		*db;
	int64_t		 from_ms, to_ms;
	int		 fy, fm, fd, ty, tm, td, rv;
	size_t		 i;

	if (opts->format != EXPORT_CSV && opts->format != EXPORT_JSON &&
	    opts->format != EXPORT_FOCUS) {
		xasprintf(cause, "unknown export format");
		return (-1);
	}
	if (opts->nfields > FIELD_MAX) {
		xasprintf(cause, "too many group-by fields");
		return (-1);
	}
	for (i = 0; i < opts->nfields; i++) {
		if ((unsigned int)opts->fields[i] >= FIELD_MAX) {
			xasprintf(cause, "unknown group-by field");
			return (-1);
		}
	}
	if (opts->nledgers == 0) {
		xasprintf(cause, "no ledger to export");
		return (-1);
	}
	if (opts->from == NULL || util_parse_date(opts->from, &fy, &fm,
	    &fd) != 0) {
		xasprintf(cause, "bad from date \"%s\" (want YYYY-MM-DD)",
		    opts->from != NULL ? opts->from : "");
		return (-1);
	}
	if (opts->to == NULL || util_parse_date(opts->to, &ty, &tm,
	    &td) != 0) {
		xasprintf(cause, "bad to date \"%s\" (want YYYY-MM-DD)",
		    opts->to != NULL ? opts->to : "");
		return (-1);
	}
	/* Both are YYYY-MM-DD, so text order is date order. */
	if (strcmp(opts->from, opts->to) > 0) {
		xasprintf(cause, "from date %s is after to date %s",
		    opts->from, opts->to);
		return (-1);
	}
	from_ms = util_local_midnight_ms(fy, fm, fd);
	to_ms = util_local_midnight_ms(ty, tm, td + 1);	/* mktime rolls */

	if ((db = export_open(opts->ledgers, opts->nledgers, from_ms, to_ms,
	    cause)) == NULL)
		return (-1);
	if (opts->format == EXPORT_FOCUS)
		rv = export_write_focus(db, out, cause);
	else
		rv = export_write(db, opts, out, cause);
	sqlite3_close(db);
	return (rv);
}
