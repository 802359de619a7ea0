/*
 * Usage export: two replica ledgers written through the ledger writer, one
 * request present in both, rows on both sides of local midnight in
 * America/New_York, a denied and an estimated row.  The checks compare the
 * exact bytes finance would get.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "export.h"
#include "ledger.h"
#include "log.h"
#include "price.h"
#include "util.h"
#include "xmalloc.h"
#include "../tap.h"

/* UTC instants; New York is UTC-5 in January. */
#define JAN10_LOCAL_MIDNIGHT	1768021200000LL	/* 2026-01-10T05:00Z */
#define JAN11_LOCAL_MIDNIGHT	1768107600000LL	/* 2026-01-11T05:00Z */
#define JAN12_LOCAL_MIDNIGHT	1768194000000LL	/* 2026-01-12T05:00Z */
#define JAN11_NOON_LOCAL	1768150800000LL	/* 2026-01-11T17:00Z */
#define JAN11_10AM_LOCAL	1768143600000LL	/* 2026-01-11T15:00Z */

struct seed {
	int		 ledger;	/* 0: a.db, 1: b.db, 2: both */
	const char	*rid;
	int64_t		 ts;
	const char	*app;
	const char	*team;
	const char	*cost_center;
	const char	*tier;
	const char	*provider;
	const char	*model;
	enum ledger_outcome outcome;
	int64_t		 in, cached, cwrite, out, reasoning;
	const char	*source;
	int64_t		 cost;
};

#define FRAUD	"fraud, \"core\""
#define SUPPORT_CC "CC-1\r\n2"

static const struct seed seeds[] = {
	/* The first instant of the range. */
	{ 0, "a1", JAN10_LOCAL_MIDNIGHT, "invoice-bot", FRAUD, "CC-4410",
	  "pilot", "openai", "gpt-4o-mini", OUTCOME_OK,
	  100, 20, 0, 50, 10, "provider", 1234567 },
	/* One ms before the range: the 9th in New York. */
	{ 0, "a2", JAN10_LOCAL_MIDNIGHT - 1, "invoice-bot", FRAUD, "CC-4410",
	  "pilot", "openai", "gpt-4o-mini", OUTCOME_OK,
	  7000, 0, 0, 7000, 0, "provider", 7000000 },
	/* Still the 10th in New York, already the 11th in UTC. */
	{ 0, "a3", JAN11_LOCAL_MIDNIGHT - 1, "invoice-bot", FRAUD, "CC-4410",
	  "pilot", "openai", "gpt-4o-mini", OUTCOME_OK,
	  200, 0, 0, 100, 0, "estimated", 2000000 },
	/* Denied: no model, no tokens. */
	{ 0, "a4", JAN11_NOON_LOCAL, "invoice-bot", FRAUD, "CC-4410",
	  "pilot", "openai", NULL, OUTCOME_DENIED,
	  0, 0, 0, 0, 0, NULL, 0 },
	/* The first instant after the range. */
	{ 0, "a5", JAN12_LOCAL_MIDNIGHT, "invoice-bot", FRAUD, "CC-4410",
	  "pilot", "openai", "gpt-4o-mini", OUTCOME_OK,
	  9000, 0, 0, 9000, 0, "provider", 9000000 },
	/* In both replicas' ledgers: counted once. */
	{ 2, "shared-1", JAN11_10AM_LOCAL, "chat-helper", "support",
	  SUPPORT_CC, "production", "anthropic", "claude-haiku-4-5",
	  OUTCOME_OK, 1000, 800, 100, 200, 0, "provider", 500 },
	{ 1, "b1", JAN11_LOCAL_MIDNIGHT, "chat-helper", "support",
	  SUPPORT_CC, "production", "anthropic", "claude-haiku-4-5",
	  OUTCOME_OK, 10, 0, 0, 5, 0, "provider", 999 },
	{ 1, "b2", JAN12_LOCAL_MIDNIGHT - 1, "chat-helper", "support",
	  SUPPORT_CC, "production", "anthropic", "claude-haiku-4-5",
	  OUTCOME_OK, 1, 0, 0, 1, 0, "partial", 1 },
};

static char *
dup_or_null(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

static struct ledger_row *
seed_row(const struct seed *s)
{
	struct ledger_row	*r;

	r = ledger_row_new();
	r->request_id = xstrdup(s->rid);
	r->ts_start = s->ts;
	r->ts_end = s->ts + 100;
	r->app = dup_or_null(s->app);
	r->team = dup_or_null(s->team);
	r->cost_center = dup_or_null(s->cost_center);
	r->tier = dup_or_null(s->tier);
	r->provider = dup_or_null(s->provider);
	r->route = xstrdup("/v1/chat/completions");
	r->model_requested = dup_or_null(s->model);
	r->model = dup_or_null(s->model);
	r->attempts = 1;
	r->status = s->outcome == OUTCOME_DENIED ? 429 : 200;
	r->outcome = s->outcome;
	r->input_tokens = s->in;
	r->cached_input_tokens = s->cached;
	r->cache_write_tokens = s->cwrite;
	r->output_tokens = s->out;
	r->reasoning_tokens = s->reasoning;
	r->usage_source = dup_or_null(s->source);
	r->cost_nusd = s->cost;
	r->price_version = xstrdup("2026-11-01");
	return (r);
}

static int
build_ledger(const char *path, int which)
{
	struct ledger	*l;
	char		*cause = NULL;
	size_t		 i;

	if ((l = ledger_open(path, &cause)) == NULL) {
		printf("# %s\n", cause);
		free(cause);
		return (-1);
	}
	for (i = 0; i < nitems(seeds); i++) {
		if (seeds[i].ledger == which || seeds[i].ledger == 2)
			ledger_enqueue(l, seed_row(&seeds[i]));
	}
	return (ledger_close(l));
}

/* Run an export into a string; returns NULL and sets *cause on error. */
static char *
run(const char * const *ledgers, size_t n, const char *from, const char *to,
    const char *fields, enum export_format format, char **cause)
{
	struct export_opts	 opts;
	FILE			*f;
	char			*buf = NULL;
	size_t			 len = 0;
	int			 rc;

	memset(&opts, 0, sizeof opts);
	opts.ledgers = ledgers;
	opts.nledgers = n;
	opts.from = from;
	opts.to = to;
	opts.format = format;
	if (export_parse_fields(fields, &opts, cause) != 0)
		return (NULL);
	if ((f = open_memstream(&buf, &len)) == NULL) {
		xasprintf(cause, "open_memstream failed");
		return (NULL);
	}
	rc = export_run(&opts, f, cause);
	fclose(f);
	if (rc != 0) {
		free(buf);
		return (NULL);
	}
	return (buf);
}

static void
test_fields(void)
{
	static const struct {
		const char	*name;
		const char	*list;
		int		 rc;
		size_t		 n;
		enum export_field first, last;
	} cases[] = {
		{ "default", NULL, 0, 3, FIELD_DAY, FIELD_MODEL },
		{ "one field", "team", 0, 1, FIELD_TEAM, FIELD_TEAM },
		{ "all fields", "model,provider,tier,app,cost_center,team,"
		  "month,day", 0, 8, FIELD_MODEL, FIELD_DAY },
		{ "repeated field", "day,app,day", -1, 0, 0, 0 },
		{ "unknown field", "day,user", -1, 0, 0, 0 },
		{ "empty list", "", -1, 0, 0, 0 },
		{ "trailing comma", "day,", -1, 0, 0, 0 },
		{ "empty item", "day,,app", -1, 0, 0, 0 },
		{ "space", "day, app", -1, 0, 0, 0 },
		{ "prefix of a name", "da", -1, 0, 0, 0 },
		{ "case matters", "Day", -1, 0, 0, 0 },
	};
	struct export_opts	 opts;
	char			*cause;
	size_t			 i;
	int			 rc;

	for (i = 0; i < nitems(cases); i++) {
		memset(&opts, 0, sizeof opts);
		cause = NULL;
		rc = export_parse_fields(cases[i].list, &opts, &cause);
		is_int(rc, cases[i].rc, "parse_fields %s", cases[i].name);
		if (rc == 0) {
			ok(opts.nfields == cases[i].n &&
			    opts.fields[0] == cases[i].first &&
			    opts.fields[opts.nfields - 1] == cases[i].last,
			    "parse_fields %s: fields", cases[i].name);
		} else
			ok(cause != NULL, "parse_fields %s: cause",
			    cases[i].name);
		free(cause);
	}
}

#define HDR_TAIL "requests,denied_requests,input_tokens," \
	"cached_input_tokens,cache_write_tokens,output_tokens," \
	"reasoning_tokens,cost_usd,estimated_requests\r\n"

static void
test_csv(const char * const *ab)
{
	static const struct {
		const char	*name;
		const char	*fields;
		const char	*from, *to;
		const char	*want;
	} cases[] = {
		{ "default grouping", NULL, "2026-01-10", "2026-01-11",
		  "day,app,model," HDR_TAIL
		  "2026-01-10,invoice-bot,gpt-4o-mini,"
		  "2,0,300,20,0,150,10,0.003235,1\r\n"
		  "2026-01-11,chat-helper,claude-haiku-4-5,"
		  "3,0,1011,800,100,206,0,0.000002,0\r\n"
		  "2026-01-11,invoice-bot,,1,1,0,0,0,0,0,0.000000,0\r\n" },
		{ "quoting", "team,cost_center", "2026-01-10", "2026-01-11",
		  "team,cost_center," HDR_TAIL
		  "\"fraud, \"\"core\"\"\",CC-4410,"
		  "3,1,300,20,0,150,10,0.003235,1\r\n"
		  "support,\"CC-1\r\n2\","
		  "3,0,1011,800,100,206,0,0.000002,0\r\n" },
		{ "month provider tier", "month,provider,tier", "2026-01-10",
		  "2026-01-11",
		  "month,provider,tier," HDR_TAIL
		  "2026-01,anthropic,production,"
		  "3,0,1011,800,100,206,0,0.000002,0\r\n"
		  "2026-01,openai,pilot,3,1,300,20,0,150,10,0.003235,1\r\n" },
		{ "one local day", "day", "2026-01-11", "2026-01-11",
		  "day," HDR_TAIL
		  "2026-01-11,4,1,1011,800,100,206,0,0.000002,0\r\n" },
		{ "day before the range start", "day,app", "2026-01-09",
		  "2026-01-09",
		  "day,app," HDR_TAIL
		  "2026-01-09,invoice-bot,1,0,7000,0,0,7000,0,0.007000,0\r\n" },
		{ "day after the range end", "day", "2026-01-12", "2026-01-12",
		  "day," HDR_TAIL
		  "2026-01-12,1,0,9000,0,0,9000,0,0.009000,0\r\n" },
		{ "empty range", "day", "2025-06-01", "2025-06-30",
		  "day," HDR_TAIL },
		{ "whole range", "app", "2026-01-01", "2026-01-31",
		  "app," HDR_TAIL
		  "chat-helper,3,0,1011,800,100,206,0,0.000002,0\r\n"
		  "invoice-bot,5,1,16300,20,0,16150,10,0.019235,1\r\n" },
	};
	char	*got, *cause;
	size_t	 i;

	for (i = 0; i < nitems(cases); i++) {
		cause = NULL;
		got = run(ab, 2, cases[i].from, cases[i].to, cases[i].fields,
		    EXPORT_CSV, &cause);
		if (got == NULL)
			printf("# %s\n", cause);
		is_str(got, cases[i].want, "csv %s", cases[i].name);
		free(got);
		free(cause);
	}

	/* The same ledger twice is the same as once. */
	{
		const char	*twice[] = { ab[0], ab[0] };
		char		*once;

		cause = NULL;
		once = run(ab, 1, "2026-01-01", "2026-01-31", "app",
		    EXPORT_CSV, &cause);
		got = run(twice, 2, "2026-01-01", "2026-01-31", "app",
		    EXPORT_CSV, &cause);
		is_str(got, once, "csv same ledger twice counts once");
		free(once);
		free(got);
		free(cause);
	}
}

static void
test_json(const char * const *ab)
{
	json_t		*arr, *o;
	json_error_t	 jerr;
	char		*got, *cause = NULL;

	got = run(ab, 2, "2026-01-10", "2026-01-11", NULL, EXPORT_JSON,
	    &cause);
	ok(got != NULL, "json export runs");
	if (got == NULL) {
		printf("# %s\n", cause);
		free(cause);
		return;
	}
	arr = json_loads(got, 0, &jerr);			/* new */
	ok(json_is_array(arr), "json export is an array");
	is_int(json_array_size(arr), 3, "json export has 3 groups");

	o = json_array_get(arr, 0);				/* borrowed */
	is_str(json_string_value(json_object_get(o, "day")), "2026-01-10",
	    "json day");
	is_str(json_string_value(json_object_get(o, "app")), "invoice-bot",
	    "json app");
	is_str(json_string_value(json_object_get(o, "model")), "gpt-4o-mini",
	    "json model");
	ok(json_is_integer(json_object_get(o, "requests")) &&
	    json_integer_value(json_object_get(o, "requests")) == 2,
	    "json requests is an integer");
	is_int(json_integer_value(json_object_get(o, "input_tokens")), 300,
	    "json input_tokens");
	is_int(json_integer_value(json_object_get(o, "cached_input_tokens")),
	    20, "json cached_input_tokens");
	is_int(json_integer_value(json_object_get(o, "reasoning_tokens")), 10,
	    "json reasoning_tokens");
	is_int(json_integer_value(json_object_get(o, "estimated_requests")),
	    1, "json estimated_requests");
	is_str(json_string_value(json_object_get(o, "cost_usd")), "0.003235",
	    "json cost_usd is a string");
	is_int(json_object_size(o), 3 + 9, "json object has every key");

	o = json_array_get(arr, 1);
	is_int(json_integer_value(json_object_get(o, "cache_write_tokens")),
	    100, "json merged group cache_write_tokens");
	is_int(json_integer_value(json_object_get(o, "requests")), 3,
	    "json merged group counts the shared request once");

	o = json_array_get(arr, 2);
	ok(json_is_null(json_object_get(o, "model")), "json NULL model is "
	    "null");
	is_int(json_integer_value(json_object_get(o, "denied_requests")), 1,
	    "json denied_requests");
	json_decref(arr);
	free(got);

	got = run(ab, 2, "2025-06-01", "2025-06-30", NULL, EXPORT_JSON,
	    &cause);
	arr = got != NULL ? json_loads(got, 0, &jerr) : NULL;	/* new */
	ok(json_is_array(arr) && json_array_size(arr) == 0,
	    "json empty range is []");
	json_decref(arr);
	free(got);
	free(cause);
}

#define FOCUS_HDR "BilledCost,BillingCurrency,BillingPeriodStart," \
	"BillingPeriodEnd,ChargeCategory,ChargeClass,ChargeDescription," \
	"ChargeFrequency,ChargePeriodStart,ChargePeriodEnd,ConsumedQuantity," \
	"ConsumedUnit,ContractedCost,EffectiveCost,InvoiceIssuerName," \
	"ListCost,PricingCategory,PricingQuantity,PricingUnit,ProviderName," \
	"PublisherName,ResourceId,ResourceName,ServiceCategory,ServiceName," \
	"SkuId,Tags,x_Requests,x_DeniedRequests,x_EstimatedRequests," \
	"x_InputTokens,x_CachedInputTokens,x_CacheWriteTokens," \
	"x_OutputTokens,x_ReasoningTokens\r\n"

/* January in New York: local midnights are 05:00 UTC. */
#define JAN_BILLING "2026-01-01T05:00:00Z,2026-02-01T05:00:00Z"

/* The Tags JSON {"team":"fraud, \"core\"",...} quoted per RFC 4180. */
#define FRAUD_TAGS "\"{\"\"team\"\":\"\"fraud, \\\"\"core\\\"\"\"\"," \
	"\"\"cost_center\"\":\"\"CC-4410\"\",\"\"app\"\":\"\"invoice-bot\"\"," \
	"\"\"tier\"\":\"\"pilot\"\"}\""
#define SUPPORT_TAGS "\"{\"\"team\"\":\"\"support\"\"," \
	"\"\"cost_center\"\":\"\"CC-1\\r\\n2\"\"," \
	"\"\"app\"\":\"\"chat-helper\"\",\"\"tier\"\":\"\"production\"\"}\""

/* Sum a column of decimal USD strings (no sign) as integer nano-USD. */
static int64_t
focus_sum_nusd(const char *csv)
{
	const char	*p;
	int64_t		 sum = 0, whole, frac;
	int		 digits;

	p = strchr(csv, '\n');				/* skip the header */
	while (p != NULL && p[1] != '\0') {
		p++;
		for (whole = 0; *p >= '0' && *p <= '9'; p++)
			whole = whole * 10 + (*p - '0');
		frac = 0;
		digits = 0;
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9'; p++, digits++)
				frac = frac * 10 + (*p - '0');
		}
		for (; digits < 9; digits++)
			frac *= 10;
		sum += whole * 1000000000 + frac;
		p = strchr(p, '\n');
	}
	return (sum);
}

static void
test_focus(const char * const *ab)
{
	static const char want[] = FOCUS_HDR
	    /* a1 and a3: the 10th in New York, a3 already the 11th in UTC. */
	    "0.003234567,USD," JAN_BILLING ",Usage,,"
	    "gpt-4o-mini via openai for app invoice-bot,Usage-Based,"
	    "2026-01-10T05:00:00Z,2026-01-11T05:00:00Z,450,Tokens,"
	    "0.003234567,0.003234567,tollgate,0.003234567,Standard,450,"
	    "Tokens,openai,openai,app/invoice-bot/model/gpt-4o-mini,"
	    "invoice-bot,AI and Machine Learning,openai,gpt-4o-mini,"
	    FRAUD_TAGS ",2,0,1,300,20,0,150,10\r\n"
	    /* a4: denied, no model, no cost. */
	    "0.000000000,USD," JAN_BILLING ",Usage,,"
	    "requests without a model via openai for app invoice-bot,"
	    "Usage-Based,2026-01-11T05:00:00Z,2026-01-12T05:00:00Z,0,Tokens,"
	    "0.000000000,0.000000000,tollgate,0.000000000,Standard,0,Tokens,"
	    "openai,openai,app/invoice-bot,invoice-bot,"
	    "AI and Machine Learning,openai,," FRAUD_TAGS ",1,1,0,0,0,0,0,0\r\n"
	    /* shared-1 once, b1, b2. */
	    "0.000001500,USD," JAN_BILLING ",Usage,,"
	    "claude-haiku-4-5 via anthropic for app chat-helper,Usage-Based,"
	    "2026-01-11T05:00:00Z,2026-01-12T05:00:00Z,1217,Tokens,"
	    "0.000001500,0.000001500,tollgate,0.000001500,Standard,1217,"
	    "Tokens,anthropic,anthropic,app/chat-helper/model/"
	    "claude-haiku-4-5,chat-helper,AI and Machine Learning,anthropic,"
	    "claude-haiku-4-5," SUPPORT_TAGS ",3,0,0,1011,800,100,206,0\r\n";
	static const struct {
		const char	*from, *to;
		int64_t		 nusd;
	} sums[] = {
		{ "2026-01-10", "2026-01-11", 1234567 + 2000000 + 500 + 999 +
		  1 },
		{ "2026-01-01", "2026-01-31", 7000000 + 1234567 + 2000000 +
		  9000000 + 500 + 999 + 1 },
		{ "2026-01-12", "2026-01-12", 9000000 },
	};
	char	*got, *csv, *cause = NULL, total[32], *p;
	size_t	 i;
	int	 n;

	/* --group-by does not change a FOCUS export. */
	got = run(ab, 2, "2026-01-10", "2026-01-11", "app", EXPORT_FOCUS,
	    &cause);
	if (got == NULL)
		printf("# %s\n", cause);
	is_str(got, want, "focus rows");
	free(got);

	got = run(ab, 2, "2025-06-01", "2025-06-30", NULL, EXPORT_FOCUS,
	    &cause);
	is_str(got, FOCUS_HDR, "focus empty range is the header alone");
	free(got);

	/* BilledCost adds up to the ledger, and to the CSV's cost_usd. */
	for (i = 0; i < nitems(sums); i++) {
		got = run(ab, 2, sums[i].from, sums[i].to, NULL,
		    EXPORT_FOCUS, &cause);
		csv = run(ab, 2, sums[i].from, sums[i].to, "month",
		    EXPORT_CSV, &cause);
		if (got == NULL || csv == NULL) {
			ok(0, "focus sum %s..%s: %s", sums[i].from,
			    sums[i].to, cause);
			ok(0, "focus sum %s..%s equals the CSV total",
			    sums[i].from, sums[i].to);
		} else {
			is_int(focus_sum_nusd(got), sums[i].nusd,
			    "focus BilledCost %s..%s adds up to the ledger",
			    sums[i].from, sums[i].to);
			/*
			 * One month, so the CSV has one row:
			 * month,<7 counts>,cost_usd,estimated_requests.
			 */
			price_format_usd(focus_sum_nusd(got), 6, total);
			p = strstr(csv, "\r\n");
			for (n = 0; p != NULL && n < 8; n++)
				p = strchr(p + 1, ',');
			ok(p != NULL && strncmp(p + 1, total,
			    strlen(total)) == 0 && p[1 + strlen(total)] == ',',
			    "focus BilledCost %s..%s equals the CSV cost_usd "
			    "%s", sums[i].from, sums[i].to, total);
		}
		free(got);
		free(csv);
	}
	free(cause);
}

static void
test_errors(const char * const *ab, const char *dir)
{
	static const struct {
		const char	*name;
		int		 missing;	/* 1 none, 2 text, 3 no usage */
		const char	*from, *to;
		enum export_format format;
		const char	*cause_prefix;
	} cases[] = {
		{ "missing ledger", 1, "2026-01-10", "2026-01-11", EXPORT_CSV,
		  "cannot open ledger " },
		{ "not a database", 2, "2026-01-10", "2026-01-11", EXPORT_CSV,
		  "cannot open ledger " },
		{ "no usage table", 3, "2026-01-10", "2026-01-11", EXPORT_CSV,
		  "cannot read ledger " },
		{ "from after to", 0, "2026-01-12", "2026-01-11", EXPORT_CSV,
		  "from date 2026-01-12 is after to date 2026-01-11" },
		{ "bad from", 0, "2026-02-30", "2026-03-01", EXPORT_CSV,
		  "bad from date \"2026-02-30\"" },
		{ "bad to", 0, "2026-01-01", "2026-1-2", EXPORT_CSV,
		  "bad to date \"2026-1-2\"" },
		{ "no from", 0, NULL, "2026-01-02", EXPORT_CSV,
		  "bad from date" },
		{ "focus from after to", 0, "2026-01-12", "2026-01-11",
		  EXPORT_FOCUS, "from date 2026-01-12 is after to date" },
		{ "focus missing ledger", 1, "2026-01-10", "2026-01-11",
		  EXPORT_FOCUS, "cannot open ledger " },
	};
	const char	*ledgers[2], *bad[4];
	char		*missing, *text, *empty, *got, *cause;
	FILE		*f;
	sqlite3		*db;
	size_t		 i;

	xasprintf(&missing, "%s/nope.db", dir);
	xasprintf(&text, "%s/text.db", dir);
	xasprintf(&empty, "%s/empty.db", dir);
	if ((f = fopen(text, "w")) != NULL) {
		fputs("this is not a database, it is a text file that is "
		    "long enough to have a header\n", f);
		fclose(f);
	}
	if (sqlite3_open(empty, &db) == SQLITE_OK)
		sqlite3_exec(db, "CREATE TABLE other (x)", NULL, NULL, NULL);
	sqlite3_close(db);
	bad[0] = ab[1];
	bad[1] = missing;
	bad[2] = text;
	bad[3] = empty;
	for (i = 0; i < nitems(cases); i++) {
		cause = NULL;
		ledgers[0] = ab[0];
		ledgers[1] = bad[cases[i].missing];
		got = run(ledgers, 2, cases[i].from, cases[i].to, "day",
		    cases[i].format, &cause);
		ok(got == NULL && cause != NULL && strncmp(cause,
		    cases[i].cause_prefix, strlen(cases[i].cause_prefix)) == 0,
		    "error %s", cases[i].name);
		if (cause != NULL)
			printf("# %s\n", cause);
		if (cases[i].missing)
			ok(cause != NULL && strstr(cause,
			    bad[cases[i].missing]) != NULL,
			    "error %s names the path", cases[i].name);
		free(got);
		free(cause);
	}
	ok(access(missing, F_OK) == -1, "a missing ledger is not created");
	free(missing);
	free(text);
	free(empty);
}

/* A ledger whose writer is still running (a live replica) can be read. */
static void
test_live(const char *dir)
{
	struct ledger		*l;
	struct ledger_row	*r;
	const char		*ledgers[1];
	char			*path, *got, *cause = NULL;
	int			 i;

	xasprintf(&path, "%s/live.db", dir);
	if ((l = ledger_open(path, &cause)) == NULL) {
		ok(0, "live ledger: %s", cause);
		free(cause);
		free(path);
		return;
	}
	r = seed_row(&seeds[0]);
	free(r->app);
	r->app = xstrdup("live-app");
	ledger_enqueue(l, r);
	for (i = 0; i < 200 && ledger_queue_depth(l) > 0; i++)
		usleep(10000);
	ledgers[0] = path;
	got = run(ledgers, 1, "2026-01-10", "2026-01-10", "app", EXPORT_CSV,
	    &cause);
	if (got == NULL)
		printf("# %s\n", cause);
	is_str(got, "app," HDR_TAIL
	    "live-app,1,0,100,20,0,50,10,0.001235,0\r\n",
	    "export reads a ledger that is open for writing");
	free(got);
	free(cause);
	ledger_close(l);
	free(path);
}

static void
rm_dir(const char *dir)
{
	static const char	*files[] = { "a.db", "b.db", "live.db",
				    "live.db-wal", "live.db-shm", "a.db-wal",
				    "a.db-shm", "b.db-wal", "b.db-shm",
				    "text.db", "empty.db" };
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
	char		 tmpl[] = "/tmp/test_export.XXXXXX";
	char		*dir, *a, *b, *cause = NULL;
	const char	*ab[2];
	struct stat	 sb;

	log_set_level_num(LOG_LVL_ERROR);
	if (stat("/usr/share/zoneinfo/America/New_York", &sb) != 0) {
		printf("1..0 # SKIP no tzdata (apt-get install tzdata)\n");
		return (0);
	}
	if (util_set_timezone("America/New_York", &cause) != 0) {
		ok(0, "set time zone: %s", cause);
		free(cause);
		return (tap_done());
	}
	if ((dir = mkdtemp(tmpl)) == NULL) {
		ok(0, "mkdtemp");
		return (tap_done());
	}
	xasprintf(&a, "%s/a.db", dir);
	xasprintf(&b, "%s/b.db", dir);
	is_int(build_ledger(a, 0), 0, "build ledger a");
	is_int(build_ledger(b, 1), 0, "build ledger b");
	ab[0] = a;
	ab[1] = b;

	test_fields();
	test_csv(ab);
	test_json(ab);
	test_focus(ab);
	test_errors(ab, dir);
	test_live(dir);

	rm_dir(dir);
	free(a);
	free(b);
	return (tap_done());
}
