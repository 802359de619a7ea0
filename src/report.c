/*
 * Monthly showback report.
 *
 * The ledgers are merged into an in-memory table by export_open(), loading
 * every row that started before the end of the month: the month's rows make
 * the sums, and the older ones only tell when each app was last seen.  A
 * handful of grouping queries fill arrays of sums (struct rrows); the HTML
 * is then written from them in one pass.  Amounts are nano-USD integers
 * printed with price_format_usd(); percentages are integer tenths.  Doubles
 * only place bars, columns and lines inside the SVG charts.  Every string
 * from the ledger or the configuration goes through report_esc().
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cfg.h"
#include "export.h"
#include "price.h"
#include "report.h"
#include "util.h"
#include "xmalloc.h"

#define DAY_MS		(24LL * 3600 * 1000)
#define IDLE_DAYS	30
#define TOP_APPS	10

/* One group's sums; key and key2 are the group's names (may be NULL). */
struct rrow {
	char	*key;
	char	*key2;
	int64_t	 requests;
	int64_t	 denied;
	int64_t	 input;
	int64_t	 output;
	int64_t	 cost;		/* nano-USD */
	int64_t	 estimated;
	int64_t	 est_cost;	/* nano-USD of the estimated rows */
};

struct rrows {
	struct rrow	*v;
	size_t		 n;
};

struct report {
	const struct cfg *cfg;
	FILE		*out;
	sqlite3		*db;
	int64_t		 from_ms;
	int64_t		 to_ms;
	int64_t		 now_ms;
	int		 y, m, ndays;
	int		 days_shown;	/* days of the month already begun */
	char		 month[8];
};

/* The measures after the two key columns, in struct rrow order. */
#define R_MEASURES \
	"count(*), coalesce(sum(outcome = 'denied'), 0)," \
	" coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0)," \
	" coalesce(sum(cost_nusd), 0)," \
	" coalesce(sum(usage_source = 'estimated'), 0)," \
	" coalesce(sum(CASE WHEN usage_source = 'estimated'" \
	" THEN cost_nusd ELSE 0 END), 0)"
#define R_MONTH		" FROM u WHERE ts_start >= ?1 "

static const char *const report_palette[] = {
	"#2563eb", "#0d9488", "#d97706", "#7c3aed", "#db2777", "#16a34a",
	"#0891b2", "#dc2626", "#4f46e5", "#65a30d"
};

enum rfmt {
	RFMT_USD = 0,
	RFMT_INT
};

static void
report_rows_free(struct rrows *rs)
{
	size_t	i;

	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].key);
		free(rs->v[i].key2);
	}
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

static char *
report_col(sqlite3_stmt *st, int col)
{
	const unsigned char	*s;

	s = sqlite3_column_text(st, col);
	return (s != NULL ? xstrdup((const char *)s) : NULL);
}

/* Run a grouping query (key, key2, R_MEASURES) over the month into rs. */
static int
report_query(struct report *r, const char *sql, struct rrows *rs,
    char **cause)
{
	sqlite3_stmt	*st = NULL;
	struct rrow	*w;
	int		 rc;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		xasprintf(cause, "report query: %s", sqlite3_errmsg(r->db));
		return (-1);
	}
	sqlite3_bind_int64(st, 1, r->from_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rs->v = xreallocarray(rs->v, rs->n + 1, sizeof *rs->v);
		w = &rs->v[rs->n++];
		w->key = report_col(st, 0);
		w->key2 = report_col(st, 1);
		w->requests = sqlite3_column_int64(st, 2);
		w->denied = sqlite3_column_int64(st, 3);
		w->input = sqlite3_column_int64(st, 4);
		w->output = sqlite3_column_int64(st, 5);
		w->cost = sqlite3_column_int64(st, 6);
		w->estimated = sqlite3_column_int64(st, 7);
		w->est_cost = sqlite3_column_int64(st, 8);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "report query: %s", sqlite3_errmsg(r->db));
		return (-1);
	}
	return (0);
}

/* Write s HTML-escaped (text and attribute values); NULL is "(none)". */
static void
report_esc(FILE *out, const char *s)
{
	const char	*p;

	if (s == NULL)
		s = "(none)";
	for (p = s; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*p, out);
		}
	}
}

/* Escaped, cut to about max bytes at a UTF-8 boundary, for chart labels. */
static void
report_esc_short(FILE *out, const char *s, size_t max)
{
	char	*t;
	size_t	 len;

	if (s == NULL || strlen(s) <= max) {
		report_esc(out, s);
		return;
	}
	len = max;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	t = xmalloc(len + 1);
	memcpy(t, s, len);
	t[len] = '\0';
	report_esc(out, t);
	fputs("\xe2\x80\xa6", out);	/* ellipsis */
	free(t);
}

/*
 * Digits of s (at most 31 bytes) with thousands separators into out, which
 * has room for 48.
 */
static void
report_group(const char *s, char *out)
{
	const char	*dot;
	size_t		 ilen, i, o = 0;

	if (*s == '-')
		out[o++] = *s++;
	dot = strchr(s, '.');
	ilen = dot != NULL ? (size_t)(dot - s) : strlen(s);
	for (i = 0; i < ilen; i++) {
		if (i > 0 && (ilen - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = s[i];
	}
	if (dot != NULL) {
		memcpy(out + o, dot, strlen(dot));
		o += strlen(dot);
	}
	out[o] = '\0';
}

/* "$1,234.567890" (exact to the micro-dollar, as the export prints). */
static void
report_usd(int64_t nusd, int decimals, char out[64])
{
	char	raw[32];

	price_format_usd(nusd, decimals, raw);
	out[0] = '$';
	report_group(raw, out + 1);
}

static void
report_int(int64_t v, char out[64])
{
	char	raw[32];

	snprintf(raw, sizeof raw, "%lld", (long long)v);
	report_group(raw, out);
}

/* part/whole as a percentage with one decimal, in integers ("12.5%"). */
static void
report_pct(int64_t part, int64_t whole, char out[32])
{
	__int128	t;

	if (whole <= 0) {
		snprintf(out, 32, "\xe2\x80\x94");	/* em dash */
		return;
	}
	t = ((__int128)part * 1000 + whole / 2) / whole;
	snprintf(out, 32, "%lld.%lld%%", (long long)(t / 10),
	    (long long)(t % 10));
}

/* A money cell: the exact amount, and data-usd for tools. */
static void
report_td_usd(FILE *out, int64_t nusd)
{
	char	raw[32], pretty[64];

	price_format_usd(nusd, 6, raw);
	report_usd(nusd, 6, pretty);
	fprintf(out, "<td class=\"n\" data-usd=\"%s\">%s</td>", raw, pretty);
}

static void
report_td_int(FILE *out, int64_t v)
{
	char	buf[64];

	report_int(v, buf);
	fprintf(out, "<td class=\"n\">%s</td>", buf);
}

/*
 * A round top for a chart axis at or above max nano-USD: 1, 1.2, 1.6, 2,
 * 4, 6, 8 or 10 times a power of ten, so that its quarters are round too.
 */
static int64_t
report_nice_top(int64_t max)
{
	static const int	 mult[] = { 10, 12, 16, 20, 40, 60, 80, 100 };
	int64_t			 p = 1000;	/* a micro-dollar */
	size_t			 i;

	if (max <= 0)
		return (1000000000LL);		/* $1 */
	while (p <= INT64_MAX / 100 && p * 10 <= max)
		p *= 10;
	for (i = 0; i < nitems(mult); i++)
		if (p / 10 <= INT64_MAX / mult[i] && p / 10 * mult[i] >= max)
			return (p / 10 * mult[i]);
	return (max);
}

/* The fewest decimals (0, 2 to 6) that print step nano-USD exactly. */
static int
report_axis_decimals(int64_t step)
{
	static const int	 dec[] = { 0, 2, 3, 4, 5 };
	int64_t			 unit;
	size_t			 i;
	int			 k;

	for (i = 0; i < nitems(dec); i++) {
		unit = 1;
		for (k = dec[i]; k < 9; k++)
			unit *= 10;
		if (step % unit == 0)
			return (dec[i]);
	}
	return (6);
}

static void
report_value(int64_t v, enum rfmt fmt, char out[64])
{
	if (fmt == RFMT_USD)
		report_usd(v, 6, out);
	else
		report_int(v, out);
}

/*
 * Horizontal bar chart: one bar per label (sub, if not NULL, is a second,
 * grey name such as the team), length proportional to vals.
 */
static void
report_hbar(FILE *out, size_t n, const char **labels, const char **sub,
    const int64_t *vals, enum rfmt fmt, const char *what)
{
	const double	 x0 = 300, wmax = 540, rh = 28;
	int64_t		 max = 0;
	double		 w, y;
	char		 buf[64];
	size_t		 i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		if (vals[i] > max)
			max = vals[i];
	fprintf(out, "<svg class=\"chart\" viewBox=\"0 0 1000 %.0f\" "
	    "role=\"img\" aria-label=\"%s\">\n", n * rh + 8, what);
	for (i = 0; i < n; i++) {
		y = 4 + i * rh;
		w = max > 0 ? (double)vals[i] / (double)max * wmax : 0;
		if (vals[i] > 0 && w < 1)
			w = 1;
		fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" class=\"lbl\" "
		    "text-anchor=\"end\"><title>", x0 - 10, y + rh / 2 + 5);
		report_esc(out, labels[i]);
		if (sub != NULL) {
			fputs(" \xc2\xb7 ", out);
			report_esc(out, sub[i]);
		}
		fputs("</title>", out);
		report_esc_short(out, labels[i], 28);
		if (sub != NULL) {
			fputs("<tspan class=\"sub\"> \xc2\xb7 ", out);
			report_esc_short(out, sub[i], 16);
			fputs("</tspan>", out);
		}
		fputs("</text>\n", out);
		fprintf(out, "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.2f\" "
		    "height=\"%.0f\" rx=\"3\" fill=\"%s\"/>\n", x0, y + 4, w,
		    rh - 8, report_palette[i % nitems(report_palette)]);
		report_value(vals[i], fmt, buf);
		fprintf(out, "<text x=\"%.2f\" y=\"%.1f\" class=\"val\">%s"
		    "</text>\n", x0 + w + 8, y + rh / 2 + 5, buf);
	}
	fputs("</svg>\n", out);
}

/* Plot area of the day charts. */
#define PX0	90.0
#define PX1	985.0
#define PY0	16.0

/* Horizontal grid lines with money labels for a day chart. */
static void
report_grid(FILE *out, int64_t top, double py1)
{
	char	buf[64];
	int	k, dec;
	double	y;

	dec = report_axis_decimals(top / 4);
	for (k = 0; k <= 4; k++) {
		y = py1 - (py1 - PY0) * k / 4.0;
		fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" "
		    "y2=\"%.1f\" class=\"grid\"/>\n", PX0, PX1, y, y);
		report_usd(top / 4 * k, dec, buf);
		fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" class=\"ax\" "
		    "text-anchor=\"end\">%s</text>\n", PX0 - 6, y + 4, buf);
	}
}

/* Day numbers under a day chart; centre of day d at x(d). */
static void
report_days_axis(FILE *out, int ndays, double py1, int centred)
{
	double	step = (PX1 - PX0) / ndays, x;
	int	d;

	for (d = 1; d <= ndays; d++) {
		x = PX0 + step * (centred ? d - 0.5 : d);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"ax\" "
		    "text-anchor=\"middle\">%d</text>\n", x, py1 + 16, d);
	}
}

/* Column chart of spend per day of the month. */
static void
report_columns(FILE *out, int ndays, const int64_t *vals)
{
	const double	 py1 = 230;
	double		 step, w, h;
	int64_t		 max = 0;
	int		 d;

	for (d = 0; d < ndays; d++)
		if (vals[d] > max)
			max = vals[d];
	max = report_nice_top(max);
	fputs("<svg class=\"chart\" viewBox=\"0 0 1000 256\" role=\"img\" "
	    "aria-label=\"spend per day\">\n", out);
	report_grid(out, max, py1);
	step = (PX1 - PX0) / ndays;
	for (d = 0; d < ndays; d++) {
		h = max > 0 ? (double)vals[d] / (double)max * (py1 - PY0) : 0;
		if (vals[d] > 0 && h < 1)
			h = 1;
		w = step * 0.7;
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#2563eb\"/>\n",
		    PX0 + step * d + (step - w) / 2, py1 - h, w, h);
	}
	fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" "
	    "class=\"base\"/>\n", PX0, PX1, py1, py1);
	report_days_axis(out, ndays, py1, 1);
	fputs("</svg>\n", out);
}

/*
 * Burn-down of one app: cumulative spend at the end of each day begun so
 * far, against its limit (and the even pace from 0 to the limit).
 */
static void
report_burn(FILE *out, int ndays, int shown, const int64_t *cum,
    int64_t limit, const char *color)
{
	const double	 py1 = 170;
	int64_t		 top;
	double		 step, yl;
	char		 buf[64];
	int		 d;

	top = limit;
	if (shown > 0 && cum[shown - 1] > top)
		top = cum[shown - 1];
	top = report_nice_top(top + top / 20);
	step = (PX1 - PX0) / ndays;
	fputs("<svg class=\"chart\" viewBox=\"0 0 1000 196\" role=\"img\" "
	    "aria-label=\"budget burn-down\">\n", out);
	report_grid(out, top, py1);
	yl = py1 - (py1 - PY0) * ((double)limit / (double)top);
	fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" "
	    "class=\"pace\"/>\n", PX0, PX1, py1, yl);
	fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" "
	    "class=\"limit\"/>\n", PX0, PX1, yl, yl);
	report_usd(limit, limit >= 1000000000LL ? 2 : 6, buf);
	fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" class=\"limtxt\" "
	    "text-anchor=\"end\">limit %s</text>\n", PX1, yl - 5, buf);
	if (shown > 0) {
		fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" "
		    "stroke-width=\"3\" stroke-linejoin=\"round\" "
		    "points=\"%.1f,%.1f", color, PX0, py1);
		for (d = 0; d < shown; d++)
			fprintf(out, " %.1f,%.1f", PX0 + step * (d + 1),
			    py1 - (py1 - PY0) * ((double)cum[d] /
			    (double)top));
		fputs("\"/>\n", out);
	}
	fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" "
	    "class=\"base\"/>\n", PX0, PX1, py1, py1);
	report_days_axis(out, ndays, py1, 0);
	fputs("</svg>\n", out);
}

static const char report_css[] =
"@page { size: A4; margin: 12mm; }\n"
"* { box-sizing: border-box; }\n"
"html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }\n"
"body { margin: 0; background: #fff; color: #1f2937;\n"
"  font: 14px/1.45 system-ui, -apple-system, \"Segoe UI\", Roboto,\n"
"  \"Helvetica Neue\", Arial, sans-serif; }\n"
"main { max-width: 1180px; margin: 0 auto; padding: 28px 36px; }\n"
"h1 { font-size: 26px; margin: 0 0 4px; }\n"
".meta { color: #6b7280; margin: 0 0 24px; }\n"
"section { margin: 0 0 32px; }\n"
"h2 { font-size: 18px; margin: 0 0 10px; padding-bottom: 4px;\n"
"  border-bottom: 2px solid #e5e7eb; break-after: avoid; }\n"
"h3 { font-size: 15px; margin: 16px 0 4px; }\n"
"p.note { color: #4b5563; margin: 4px 0 8px; }\n"
".kpis { display: grid; grid-template-columns: repeat(4, 1fr);\n"
"  gap: 12px; margin-bottom: 8px; }\n"
".kpi { border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 14px;\n"
"  background: #f9fafb; }\n"
".kpi .v { display: block; font-size: 22px; font-weight: 600;\n"
"  font-variant-numeric: tabular-nums; }\n"
".kpi .l { color: #6b7280; font-size: 12px; text-transform: uppercase;\n"
"  letter-spacing: .04em; }\n"
"table { width: 100%; border-collapse: collapse; margin-top: 8px;\n"
"  font-variant-numeric: tabular-nums; }\n"
"th, td { text-align: left; padding: 4px 8px;\n"
"  border-bottom: 1px solid #e5e7eb; vertical-align: top; }\n"
"td { overflow-wrap: anywhere; }\n"
"th { background: #f3f4f6; font-size: 12px; font-weight: 600; }\n"
"th.n, td.n { text-align: right; white-space: nowrap; }\n"
"tr { break-inside: avoid; }\n"
"svg.chart { display: block; width: 100%; height: auto;\n"
"  break-inside: avoid; }\n"
"svg text { font-family: inherit; font-size: 13px; fill: #374151; }\n"
"svg text.ax { font-size: 11px; fill: #6b7280; }\n"
"svg text.val { font-size: 12px; fill: #111827; }\n"
"svg .sub { fill: #9ca3af; }\n"
"svg .grid { stroke: #e5e7eb; stroke-width: 1; }\n"
"svg .base { stroke: #9ca3af; stroke-width: 1; }\n"
"svg .limit { stroke: #dc2626; stroke-width: 2; stroke-dasharray: 8 5; }\n"
"svg .pace { stroke: #9ca3af; stroke-width: 1.5; stroke-dasharray: 2 4; }\n"
"svg text.limtxt { fill: #dc2626; font-size: 12px; }\n"
".empty { color: #6b7280; font-style: italic; }\n"
"td.blk { border-left: 2px solid #e5e7eb; padding-left: 14px; }\n"
"@media print {\n"
"  main { max-width: none; padding: 0; }\n"
"  body { font-size: 10.5px; }\n"
"  .kpi .v { font-size: 16px; }\n"
"  section { margin-bottom: 20px; }\n"
"}\n";

static void
report_head(struct report *r)
{
	FILE	*out = r->out;
	char	 now[32];

	util_rfc3339(r->now_ms, now);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n", out);
	fprintf(out, "<title>LLM usage showback %s</title>\n", r->month);
	fprintf(out, "<style>\n%s</style>\n</head>\n<body>\n<main>\n",
	    report_css);
	fprintf(out, "<h1>LLM usage showback \xe2\x80\x94 <span "
	    "id=\"month\">%s</span></h1>\n", r->month);
	fputs("<p class=\"meta\">Generated ", out);
	report_esc(out, now);
	fputs(" by tollgate " PACKAGE_VERSION ". Dates in time zone ", out);
	report_esc(out, r->cfg->timezone);
	fputs(". Amounts in USD from the ledger's integer nano-dollar "
	    "costs; prices from models.json version ", out);
	report_esc(out, r->cfg->price_version);
	fputs(".</p>\n", out);
}

static void
report_kpi(FILE *out, const char *id, const char *label, const char *attr,
    const char *raw, const char *pretty)
{
	fprintf(out, "<div class=\"kpi\"><span class=\"l\">%s</span>"
	    "<span class=\"v\" id=\"%s\" %s=\"%s\">%s</span></div>\n", label,
	    id, attr, raw, pretty);
}

static void
report_total(struct report *r, const struct rrow *t)
{
	FILE	*out = r->out;
	char	 raw[32], pretty[64], pct[32];

	fputs("<section id=\"total\">\n<h2>Total for the month</h2>\n"
	    "<div class=\"kpis\">\n", out);
	price_format_usd(t->cost, 6, raw);
	report_usd(t->cost, t->cost >= 1000000000LL ? 2 : 6, pretty);
	report_kpi(out, "total-usd", "Spend", "data-usd", raw, pretty);
	snprintf(raw, sizeof raw, "%lld", (long long)t->requests);
	report_int(t->requests, pretty);
	report_kpi(out, "total-requests", "Requests", "data-n", raw, pretty);
	snprintf(raw, sizeof raw, "%lld", (long long)(t->input + t->output));
	report_int(t->input + t->output, pretty);
	report_kpi(out, "total-tokens", "Tokens (input + output)", "data-n",
	    raw, pretty);
	report_pct(t->denied, t->requests, pct);
	report_kpi(out, "total-denied-share", "Requests denied", "data-pct",
	    pct, pct);
	fputs("</div>\n<table>\n<tr><th>Measure</th><th class=\"n\">Value"
	    "</th></tr>\n", out);
	fputs("<tr><td>Spend (exact)</td>", out);
	report_td_usd(out, t->cost);
	fputs("</tr>\n<tr><td>Requests</td>", out);
	report_td_int(out, t->requests);
	fputs("</tr>\n<tr><td>Denied requests</td>", out);
	report_td_int(out, t->denied);
	fputs("</tr>\n<tr><td>Input tokens (cache reads and writes "
	    "included)</td>", out);
	report_td_int(out, t->input);
	fputs("</tr>\n<tr><td>Output tokens (reasoning included)</td>", out);
	report_td_int(out, t->output);
	fputs("</tr>\n<tr><td>Requests with estimated usage</td>", out);
	report_td_int(out, t->estimated);
	fputs("</tr>\n</table>\n</section>\n", out);
}

/*
 * Open a section; with no rows say so and close it again (returns 0).
 */
static int
section_open(FILE *out, const char *id, const char *title, size_t n)
{
	fprintf(out, "<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
	if (n > 0)
		return (1);
	fputs("<p class=\"empty\">No traffic this month.</p>\n</section>\n",
	    out);
	return (0);
}

/* A table row's first cells: <tr data-attr="key"><td>key</td><td>key2</td>. */
static void
row_lead(FILE *out, const char *attr, const struct rrow *row)
{
	fprintf(out, "<tr data-%s=\"", attr);
	report_esc(out, row->key);
	fputs("\"><td>", out);
	report_esc(out, row->key);
	fputs("</td><td>", out);
	report_esc(out, row->key2);
	fputs("</td>", out);
}

/* Spend bars of the first n rows: label key, sub-label key2. */
static void
rows_hbar(FILE *out, const struct rrows *rs, size_t n, const char *what)
{
	const char	**lab, **sub;
	int64_t		 *val;
	size_t		  i;

	lab = xcalloc(n, sizeof *lab);
	sub = xcalloc(n, sizeof *sub);
	val = xcalloc(n, sizeof *val);
	for (i = 0; i < n; i++) {
		lab[i] = rs->v[i].key;
		sub[i] = rs->v[i].key2;
		val[i] = rs->v[i].cost;
	}
	report_hbar(out, n, lab, sub, val, RFMT_USD, what);
	free(lab);
	free(sub);
	free(val);
}

static void
report_teams(struct report *r, const struct rrows *rs, int64_t total)
{
	FILE	 *out = r->out;
	char	  pct[32];
	size_t	  i;

	if (!section_open(out, "teams", "Spend by team and cost center",
	    rs->n))
		return;
	rows_hbar(out, rs, rs->n, "spend by team");
	fputs("<table>\n<tr><th>Team</th><th>Cost center</th>"
	    "<th class=\"n\">Requests</th><th class=\"n\">Tokens</th>"
	    "<th class=\"n\">Spend (USD)</th><th class=\"n\">Share</th>"
	    "</tr>\n", out);
	for (i = 0; i < rs->n; i++) {
		row_lead(out, "team", &rs->v[i]);
		report_td_int(out, rs->v[i].requests);
		report_td_int(out, rs->v[i].input + rs->v[i].output);
		report_td_usd(out, rs->v[i].cost);
		report_pct(rs->v[i].cost, total, pct);
		fprintf(out, "<td class=\"n\">%s</td></tr>\n", pct);
	}
	fputs("</table>\n</section>\n", out);
}

static void
report_apps(struct report *r, const struct rrows *rs, int64_t total)
{
	FILE	 *out = r->out;
	char	  pct[32];
	size_t	  i, n;

	if (!section_open(out, "apps", "Top apps by spend", rs->n))
		return;
	n = rs->n < TOP_APPS ? rs->n : TOP_APPS;
	rows_hbar(out, rs, n, "top apps by spend");
	if (rs->n > n)
		fprintf(out, "<p class=\"note\">The top %zu of %zu apps with "
		    "traffic.</p>\n", n, rs->n);
	fputs("<table>\n<tr><th>App</th><th>Team</th>"
	    "<th class=\"n\">Requests</th><th class=\"n\">Input tokens</th>"
	    "<th class=\"n\">Output tokens</th><th class=\"n\">Spend (USD)"
	    "</th><th class=\"n\">Share</th></tr>\n", out);
	for (i = 0; i < n; i++) {
		fputs("<tr data-app=\"", out);
		report_esc(out, rs->v[i].key);
		fprintf(out, "\" data-requests=\"%lld\"><td>",
		    (long long)rs->v[i].requests);
		report_esc(out, rs->v[i].key);
		fputs("</td><td>", out);
		report_esc(out, rs->v[i].key2);
		fputs("</td>", out);
		report_td_int(out, rs->v[i].requests);
		report_td_int(out, rs->v[i].input);
		report_td_int(out, rs->v[i].output);
		report_td_usd(out, rs->v[i].cost);
		report_pct(rs->v[i].cost, total, pct);
		fprintf(out, "<td class=\"n\">%s</td></tr>\n", pct);
	}
	fputs("</table>\n</section>\n", out);
}

static void
report_models(struct report *r, const struct rrows *rs, int64_t total)
{
	FILE	 *out = r->out;
	char	  pct[32];
	size_t	  i;

	if (!section_open(out, "models", "Spend by model", rs->n))
		return;
	rows_hbar(out, rs, rs->n, "spend by model");
	fputs("<table>\n<tr><th>Model</th><th>Provider</th>"
	    "<th class=\"n\">Requests</th><th class=\"n\">Input tokens</th>"
	    "<th class=\"n\">Output tokens</th><th class=\"n\">Spend (USD)"
	    "</th><th class=\"n\">Share</th></tr>\n", out);
	for (i = 0; i < rs->n; i++) {
		row_lead(out, "model", &rs->v[i]);
		report_td_int(out, rs->v[i].requests);
		report_td_int(out, rs->v[i].input);
		report_td_int(out, rs->v[i].output);
		report_td_usd(out, rs->v[i].cost);
		report_pct(rs->v[i].cost, total, pct);
		fprintf(out, "<td class=\"n\">%s</td></tr>\n", pct);
	}
	fputs("</table>\n</section>\n", out);
}

/* Day of month (1-31) of a "YYYY-MM-DD" string, or 0. */
static int
report_mday(const char *day)
{
	long long	v;

	if (day == NULL || strlen(day) != 10 ||
	    util_strtoll(day + 8, 2, 1, 31, &v) != 0)
		return (0);
	return ((int)v);
}

static void
report_daily(struct report *r, const struct rrows *rs)
{
	FILE	*out = r->out;
	int64_t	 vals[31], reqs[31];
	char	 day[32];
	size_t	 i;
	int	 d, b, k, rows;

	memset(vals, 0, sizeof vals);
	memset(reqs, 0, sizeof reqs);
	for (i = 0; i < rs->n; i++) {
		if ((d = report_mday(rs->v[i].key)) == 0 || d > r->ndays)
			continue;
		vals[d - 1] += rs->v[i].cost;
		reqs[d - 1] += rs->v[i].requests;
	}
	fputs("<section id=\"daily\">\n<h2>Daily trend</h2>\n"
	    "<p class=\"note\">Spend per day of the month.</p>\n", out);
	report_columns(out, r->ndays, vals);
	/* Three blocks of days side by side keep the table short. */
	rows = (r->ndays + 2) / 3;
	fputs("<table class=\"days\">\n<tr>", out);
	for (b = 0; b < 3; b++)
		fputs("<th>Day</th><th class=\"n\">Requests</th>"
		    "<th class=\"n\">Spend (USD)</th>", out);
	fputs("</tr>\n", out);
	for (d = 1; d <= rows; d++) {
		fputs("<tr>", out);
		for (b = 0; b < 3; b++) {
			k = d + b * rows;
			if (k > r->ndays) {
				fputs("<td></td><td></td><td></td>", out);
				continue;
			}
			snprintf(day, sizeof day, "%s-%02d", r->month, k);
			fprintf(out, "<td class=\"%s\" data-day=\"%s\">%s"
			    "</td>", b > 0 ? "blk" : "", day, day);
			report_td_int(out, reqs[k - 1]);
			report_td_usd(out, vals[k - 1]);
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n</section>\n", out);
}

/* Smallest usd/month limit of an app and its tier; 0 when none. */
static int64_t
report_month_limit(const struct cfg_app *app)
{
	int64_t	 best = 0;
	size_t	 i;

	for (i = 0; i < app->nlimits; i++)
		if (app->limits[i].unit == UNIT_USD &&
		    app->limits[i].per == PER_MONTH &&
		    (best == 0 || app->limits[i].amount < best))
			best = app->limits[i].amount;
	for (i = 0; app->tier != NULL && i < app->tier->nlimits; i++)
		if (app->tier->limits[i].unit == UNIT_USD &&
		    app->tier->limits[i].per == PER_MONTH &&
		    (best == 0 || app->tier->limits[i].amount < best))
			best = app->tier->limits[i].amount;
	return (best);
}

static void
report_burndown(struct report *r, const struct rrows *appdays)
{
	const struct cfg	*cfg = r->cfg;
	const struct cfg_app	*app;
	FILE			*out = r->out;
	int64_t			 limit, cum[31], spent;
	char			 pct[32], buf[64];
	size_t			 i, k, nshown = 0;
	int			 d;

	fputs("<section id=\"burndown\">\n<h2>Budget burn-down</h2>\n"
	    "<p class=\"note\">Apps with a monthly USD limit (their own or "
	    "their tier's, the smaller): cumulative spend at the end of each "
	    "day (solid) against the limit (dashed) and an even pace "
	    "(dotted).</p>\n", out);
	for (k = 0; k < cfg->napps; k++) {
		app = cfg->apps[k];
		if ((limit = report_month_limit(app)) <= 0)
			continue;
		memset(cum, 0, sizeof cum);
		for (i = 0; i < appdays->n; i++) {
			if (appdays->v[i].key == NULL ||
			    strcmp(appdays->v[i].key, app->name) != 0)
				continue;
			d = report_mday(appdays->v[i].key2);
			if (d >= 1 && d <= r->ndays)
				cum[d - 1] += appdays->v[i].cost;
		}
		for (d = 1; d < r->ndays; d++)
			cum[d] += cum[d - 1];
		spent = cum[r->ndays - 1];
		fputs("<h3>", out);
		report_esc(out, app->name);
		fputs(" <span class=\"sub\">(", out);
		report_esc(out, app->team->name);
		fputs(")</span></h3>\n", out);
		report_burn(out, r->ndays, r->days_shown, cum, limit,
		    report_palette[nshown % nitems(report_palette)]);
		nshown++;
		fputs("<table>\n<tr><th>Limit (USD/month)</th>"
		    "<th class=\"n\">Spent</th><th class=\"n\">Used</th>"
		    "<th class=\"n\">Remaining</th></tr>\n<tr data-burn=\"", out);
		report_esc(out, app->name);
		fputs("\">", out);
		report_usd(limit, 6, buf);
		fprintf(out, "<td>%s</td>", buf);
		report_td_usd(out, spent);
		report_pct(spent, limit, pct);
		fprintf(out, "<td class=\"n\">%s</td>", pct);
		report_td_usd(out, spent < limit ? limit - spent : 0);
		fputs("</tr>\n</table>\n", out);
	}
	if (nshown == 0)
		fputs("<p class=\"empty\">No app has a monthly USD limit."
		    "</p>\n", out);
	fputs("</section>\n", out);
}

static void
report_denied(struct report *r, const struct rrows *apps,
    const struct rrow *t)
{
	FILE	 *out = r->out;
	const char **lab, **sub;
	char	  pct[32], pct2[32];
	int64_t	 *val;
	size_t	 *idx, i, j, n = 0;

	fputs("<section id=\"denied\">\n<h2>Denied requests</h2>\n", out);
	report_pct(t->denied, t->requests, pct);
	fprintf(out, "<p class=\"note\">%lld of %lld requests (%s) were "
	    "refused by a budget, rate limit or model rule.</p>\n",
	    (long long)t->denied, (long long)t->requests, pct);
	idx = xcalloc(apps->n + 1, sizeof *idx);
	for (i = 0; i < apps->n; i++) {
		if (apps->v[i].denied == 0)
			continue;
		/* Insertion sort by denied count, most first. */
		for (j = n; j > 0 && apps->v[idx[j - 1]].denied <
		    apps->v[i].denied; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
		n++;
	}
	if (n == 0) {
		fputs("<p class=\"empty\">No denied requests.</p>\n"
		    "</section>\n", out);
		free(idx);
		return;
	}
	lab = xcalloc(n, sizeof *lab);
	sub = xcalloc(n, sizeof *sub);
	val = xcalloc(n, sizeof *val);
	for (i = 0; i < n; i++) {
		lab[i] = apps->v[idx[i]].key;
		sub[i] = apps->v[idx[i]].key2;
		val[i] = apps->v[idx[i]].denied;
	}
	report_hbar(out, n, lab, sub, val, RFMT_INT, "denied requests");
	free(lab);
	free(sub);
	free(val);
	fputs("<table>\n<tr><th>App</th><th>Team</th>"
	    "<th class=\"n\">Denied</th><th class=\"n\">Requests</th>"
	    "<th class=\"n\">Share of the app's requests</th>"
	    "<th class=\"n\">Share of all requests</th></tr>\n", out);
	for (i = 0; i < n; i++) {
		const struct rrow *w = &apps->v[idx[i]];

		fputs("<tr data-denied-app=\"", out);
		report_esc(out, w->key);
		fprintf(out, "\" data-denied=\"%lld\"><td>",
		    (long long)w->denied);
		report_esc(out, w->key);
		fputs("</td><td>", out);
		report_esc(out, w->key2);
		fputs("</td>", out);
		report_td_int(out, w->denied);
		report_td_int(out, w->requests);
		report_pct(w->denied, w->requests, pct);
		report_pct(w->denied, t->requests, pct2);
		fprintf(out, "<td class=\"n\">%s</td><td class=\"n\">%s</td>"
		    "</tr>\n", pct, pct2);
	}
	fputs("</table>\n</section>\n", out);
	free(idx);
}

static void
report_estimated(struct report *r, const struct rrows *apps,
    const struct rrow *t)
{
	FILE	*out = r->out;
	const char *lab[2] = { "Reported by the provider", "Estimated" };
	char	 pct[32], pct2[32];
	int64_t	 val[2];
	size_t	 i;

	fputs("<section id=\"estimated\">\n<h2>Estimated usage</h2>\n"
	    "<p class=\"note\">Requests whose provider reported no usage "
	    "(or a broken one) are billed from tollgate's own token count."
	    "</p>\n", out);
	val[0] = t->cost - t->est_cost;
	val[1] = t->est_cost;
	report_hbar(out, 2, lab, NULL, val, RFMT_USD, "estimated spend");
	report_pct(t->estimated, t->requests, pct);
	report_pct(t->est_cost, t->cost, pct2);
	fputs("<table>\n<tr><th>Scope</th><th class=\"n\">Estimated requests"
	    "</th><th class=\"n\">Requests</th><th class=\"n\">Share</th>"
	    "<th class=\"n\">Estimated spend (USD)</th>"
	    "<th class=\"n\">Share of spend</th></tr>\n", out);
	fprintf(out, "<tr id=\"estimated-total\" data-estimated=\"%lld\">"
	    "<td>All apps</td>", (long long)t->estimated);
	report_td_int(out, t->estimated);
	report_td_int(out, t->requests);
	fprintf(out, "<td class=\"n\">%s</td>", pct);
	report_td_usd(out, t->est_cost);
	fprintf(out, "<td class=\"n\">%s</td></tr>\n", pct2);
	for (i = 0; i < apps->n; i++) {
		if (apps->v[i].estimated == 0)
			continue;
		fputs("<tr data-estimated-app=\"", out);
		report_esc(out, apps->v[i].key);
		fprintf(out, "\" data-estimated=\"%lld\"><td>",
		    (long long)apps->v[i].estimated);
		report_esc(out, apps->v[i].key);
		fputs("</td>", out);
		report_td_int(out, apps->v[i].estimated);
		report_td_int(out, apps->v[i].requests);
		report_pct(apps->v[i].estimated, apps->v[i].requests, pct);
		fprintf(out, "<td class=\"n\">%s</td>", pct);
		report_td_usd(out, apps->v[i].est_cost);
		report_pct(apps->v[i].est_cost, apps->v[i].cost, pct2);
		fprintf(out, "<td class=\"n\">%s</td></tr>\n", pct2);
	}
	fputs("</table>\n</section>\n", out);
}

/* Configured apps whose last request is 30 days or more before month end. */
static int
report_sunset(struct report *r, char **cause)
{
	const struct cfg	*cfg = r->cfg;
	const struct cfg_app	*app;
	FILE			*out = r->out;
	sqlite3_stmt		*st = NULL;
	struct rrows		 seen = { NULL, 0 };
	const char		**lab = NULL;
	char			 day[11];
	int64_t			*val = NULL, cut, last;
	size_t			 i, k, n = 0, ncand = 0, *cand = NULL;
	int64_t			*lasts = NULL;
	int			 rc, rv = -1;

	/* key: app, requests: last ts_start (any time before month end). */
	if (sqlite3_prepare_v2(r->db, "SELECT app, max(ts_start) FROM u "
	    "WHERE app IS NOT NULL GROUP BY app", -1, &st, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "report query: %s", sqlite3_errmsg(r->db));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		seen.v = xreallocarray(seen.v, seen.n + 1, sizeof *seen.v);
		memset(&seen.v[seen.n], 0, sizeof seen.v[0]);
		seen.v[seen.n].key = report_col(st, 0);
		seen.v[seen.n++].requests = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "report query: %s", sqlite3_errmsg(r->db));
		goto out;
	}

	cut = r->to_ms - IDLE_DAYS * DAY_MS;
	cand = xcalloc(cfg->napps + 1, sizeof *cand);
	lasts = xcalloc(cfg->napps + 1, sizeof *lasts);
	for (k = 0; k < cfg->napps; k++) {
		last = -1;
		for (i = 0; i < seen.n; i++)
			if (strcmp(seen.v[i].key, cfg->apps[k]->name) == 0)
				last = seen.v[i].requests;
		if (last >= cut)
			continue;
		cand[ncand] = k;
		lasts[ncand++] = last;
	}

	fputs("<section id=\"sunset\">\n<h2>Candidates to sunset</h2>\n", out);
	fprintf(out, "<p class=\"note\">Configured apps with no request in "
	    "the %d days before the end of the month (in the ledgers read)."
	    "</p>\n", IDLE_DAYS);
	if (ncand == 0) {
		fputs("<p class=\"empty\">Every configured app had traffic."
		    "</p>\n</section>\n", out);
		rv = 0;
		goto out;
	}
	lab = xcalloc(ncand, sizeof *lab);
	val = xcalloc(ncand, sizeof *val);
	for (i = 0; i < ncand; i++) {
		if (lasts[i] < 0)
			continue;
		lab[n] = cfg->apps[cand[i]]->name;
		val[n++] = (r->to_ms - lasts[i]) / DAY_MS;
	}
	if (n > 0) {
		fputs("<p class=\"note\">Days without traffic at the end of "
		    "the month (apps never seen are listed below only).</p>\n",
		    out);
		report_hbar(out, n, lab, NULL, val, RFMT_INT, "idle days");
	}
	fputs("<table>\n<tr><th>App</th><th>Team</th><th>Owner</th>"
	    "<th>Last request</th></tr>\n", out);
	for (i = 0; i < ncand; i++) {
		app = cfg->apps[cand[i]];
		if (lasts[i] >= 0)
			util_local_day(lasts[i], day);
		else
			snprintf(day, sizeof day, "never");
		fputs("<tr data-sunset=\"", out);
		report_esc(out, app->name);
		fprintf(out, "\" data-last-seen=\"%s\"><td>", day);
		report_esc(out, app->name);
		fputs("</td><td>", out);
		report_esc(out, app->team->name);
		fputs("</td><td>", out);
		report_esc(out, app->owner != NULL ? app->owner :
		    app->team->owner);
		fprintf(out, "</td><td>%s</td></tr>\n", day);
	}
	fputs("</table>\n</section>\n", out);
	rv = 0;

out:
	sqlite3_finalize(st);
	report_rows_free(&seen);
	free(lab);
	free(val);
	free(cand);
	free(lasts);
	return (rv);
}

static int
report_days_in_month(int y, int m)
{
	static const int	days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return (29);
	return (days[m - 1]);
}

int
report_write(const struct cfg *cfg, const char * const *ledgers, size_t n,
    const char *month, FILE *out, char **cause)
{
	struct report	 r;
	struct rrows	 total = { NULL, 0 }, teams = { NULL, 0 };
	struct rrows	 apps = { NULL, 0 }, models = { NULL, 0 };
	struct rrows	 days = { NULL, 0 }, appdays = { NULL, 0 };
	struct rrow	 zero;
	const struct rrow *t;
	long long	 y, m;
	char		 today[11];
	int		 rv = -1;

	memset(&r, 0, sizeof r);
	memset(&zero, 0, sizeof zero);
	if (month == NULL || strlen(month) != 7 || month[4] != '-' ||
	    util_strtoll(month, 4, 1970, 9999, &y) != 0 ||
	    util_strtoll(month + 5, 2, 1, 12, &m) != 0) {
		xasprintf(cause, "bad month \"%s\" (want YYYY-MM)",
		    month != NULL ? month : "");
		return (-1);
	}
	r.cfg = cfg;
	r.out = out;
	r.y = (int)y;
	r.m = (int)m;
	snprintf(r.month, sizeof r.month, "%04d-%02d", r.y, r.m);
	r.ndays = report_days_in_month(r.y, r.m);
	r.from_ms = util_local_midnight_ms(r.y, r.m, 1);
	r.to_ms = util_local_midnight_ms(r.y, r.m + 1, 1);  /* mktime rolls */
	r.now_ms = util_now_ms();
	if (r.now_ms >= r.to_ms)
		r.days_shown = r.ndays;
	else if (r.now_ms >= r.from_ms) {
		util_local_day(r.now_ms, today);
		r.days_shown = report_mday(today);
	}

	/* All rows before the month's end: older ones give "last seen". */
	if ((r.db = export_open(ledgers, n, INT64_MIN, r.to_ms,
	    cause)) == NULL)
		return (-1);
	if (report_query(&r, "SELECT NULL, NULL, " R_MEASURES R_MONTH,
	    &total, cause) != 0 ||
	    report_query(&r, "SELECT team, cost_center, " R_MEASURES R_MONTH
	    "GROUP BY team, cost_center ORDER BY 7 DESC, 1, 2", &teams,
	    cause) != 0 ||
	    report_query(&r, "SELECT app, min(team), " R_MEASURES R_MONTH
	    "GROUP BY app ORDER BY 7 DESC, 1", &apps, cause) != 0 ||
	    report_query(&r, "SELECT model, min(provider), " R_MEASURES
	    R_MONTH "GROUP BY model ORDER BY 7 DESC, 1", &models,
	    cause) != 0 ||
	    report_query(&r, "SELECT tg_day(ts_start), NULL, " R_MEASURES
	    R_MONTH "GROUP BY 1 ORDER BY 1", &days, cause) != 0 ||
	    report_query(&r, "SELECT app, tg_day(ts_start), " R_MEASURES
	    R_MONTH "GROUP BY 1, 2 ORDER BY 1, 2", &appdays, cause) != 0)
		goto out;
	t = total.n > 0 ? &total.v[0] : &zero;

	report_head(&r);
	report_total(&r, t);
	report_teams(&r, &teams, t->cost);
	report_apps(&r, &apps, t->cost);
	report_models(&r, &models, t->cost);
	report_daily(&r, &days);
	report_burndown(&r, &appdays);
	report_denied(&r, &apps, t);
	report_estimated(&r, &apps, t);
	if (report_sunset(&r, cause) != 0)
		goto out;
	fputs("</main>\n</body>\n</html>\n", out);
	if (fflush(out) != 0 || ferror(out)) {
		xasprintf(cause, "write: %s", strerror(errno));
		goto out;
	}
	rv = 0;

out:
	report_rows_free(&total);
	report_rows_free(&teams);
	report_rows_free(&apps);
	report_rows_free(&models);
	report_rows_free(&days);
	report_rows_free(&appdays);
	sqlite3_close(r.db);
	return (rv);
}
