/*
 * budget: calendar windows (UTC, New York across DST, +05:30 Kolkata,
 * Lord Howe's half-hour DST), plans (counters, merged checks), the
 * arithmetic on a store's state, and the local store (reserve, settle,
 * peek, expiry, seeding, and one lock under eight threads).
 *
 * budget_local.c is included to reach sweep() and the counter table.
 */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "budget_local.h"
#include "cfg.h"
#include "util.h"

#include "../../src/budget_local.c"

#include "../tap.h"

#define MIN	60000LL
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

static const char *const per_names[] = {
	"minute", "hour", "day", "week", "month"
};

static void
set_tz(const char *tz)
{
	char	*cause = NULL;

	if (util_set_timezone(tz, &cause) == -1) {
		printf("Bail out! %s\n", cause);
		exit(1);
	}
}

/* --- windows ------------------------------------------------------------ */

/*
 * Expected numbers from TZ=<tz> date -d '<local time>' +%s%3N; the length
 * column is worked out by hand, independently.
 */
static void
test_window_cases(void)
{
	static const struct {
		const char	*name;
		const char	*tz;
		enum cfg_per	 per;
		int64_t		 len;
		int64_t		 now, start, end;
	} cases[] = {
	/* 2026-05-17 13:45:27.123 -> [2026-05-17 13:45, 2026-05-17 13:46) */
	{ "utc minute",
	  "UTC", PER_MINUTE, MIN,
	  1779025527123LL, 1779025500000LL, 1779025560000LL },
	/* 2026-05-17 13:45:27.123 -> [2026-05-17 13:00, 2026-05-17 14:00) */
	{ "utc hour",
	  "UTC", PER_HOUR, HOUR,
	  1779025527123LL, 1779022800000LL, 1779026400000LL },
	/* 2026-05-17 13:45:27.123 -> [2026-05-17, 2026-05-18) */
	{ "utc day",
	  "UTC", PER_DAY, 24 * HOUR,
	  1779025527123LL, 1778976000000LL, 1779062400000LL },
	/* 2026-05-17 13:45:27.123 -> [2026-05-11, 2026-05-18) */
	{ "utc week, a Sunday belongs to the week from Monday 6 days before",
	  "UTC", PER_WEEK, 7 * DAY,
	  1779025527123LL, 1778457600000LL, 1779062400000LL },
	/* 2026-05-17 23:59:59.999 -> [2026-05-11, 2026-05-18) */
	{ "utc week, last ms of Sunday",
	  "UTC", PER_WEEK, 7 * DAY,
	  1779062399999LL, 1778457600000LL, 1779062400000LL },
	/* 2026-05-18 00:00 -> [2026-05-18, 2026-05-25) */
	{ "utc week, Monday 00:00 starts a new week",
	  "UTC", PER_WEEK, 7 * DAY,
	  1779062400000LL, 1779062400000LL, 1779667200000LL },
	/* 2026-05-17 13:45:27.123 -> [2026-05-01, 2026-06-01) */
	{ "utc month",
	  "UTC", PER_MONTH, 31 * DAY,
	  1779025527123LL, 1777593600000LL, 1780272000000LL },
	/* 2026-01-31 23:59:59.999 -> [2026-01-01, 2026-02-01) */
	{ "utc month, last ms of January",
	  "UTC", PER_MONTH, 31 * DAY,
	  1769903999999LL, 1767225600000LL, 1769904000000LL },
	/* 2026-02-01 00:00 -> [2026-02-01, 2026-03-01) */
	{ "utc month, first ms of February (28 days)",
	  "UTC", PER_MONTH, 28 * DAY,
	  1769904000000LL, 1769904000000LL, 1772323200000LL },
	/* 2026-12-31 23:59:59.999 -> [2026-12-01, 2027-01-01) */
	{ "utc month, December rolls into January",
	  "UTC", PER_MONTH, 31 * DAY,
	  1798761599999LL, 1796083200000LL, 1798761600000LL },
	/* 2027-01-01 00:00 -> [2027-01-01, 2027-02-01) */
	{ "utc month, first ms of the year",
	  "UTC", PER_MONTH, 31 * DAY,
	  1798761600000LL, 1798761600000LL, 1801440000000LL },
	/* 2026-12-31 23:59:59.999 -> [2026-12-31, 2027-01-01) */
	{ "utc day, new year's eve",
	  "UTC", PER_DAY, DAY,
	  1798761599999LL, 1798675200000LL, 1798761600000LL },
	/* 2026-12-31 23:59:59.999 -> [2026-12-31 23:00, 2027-01-01 00:00) */
	{ "utc hour, last hour of the year",
	  "UTC", PER_HOUR, HOUR,
	  1798761599999LL, 1798758000000LL, 1798761600000LL },
	/* 2026-12-31 23:59:59.999 -> [2026-12-31 23:59, 2027-01-01 00:00) */
	{ "utc minute, last minute of the year",
	  "UTC", PER_MINUTE, MIN,
	  1798761599999LL, 1798761540000LL, 1798761600000LL },
	/* 2026-12-31 12:00 -> [2026-12-28, 2027-01-04) */
	{ "utc week spanning the new year (Thursday)",
	  "UTC", PER_WEEK, 7 * DAY,
	  1798718400000LL, 1798416000000LL, 1799020800000LL },
	/* 2027-01-03 12:00 -> [2026-12-28, 2027-01-04) */
	{ "utc week spanning the new year (Sunday)",
	  "UTC", PER_WEEK, 7 * DAY,
	  1798977600000LL, 1798416000000LL, 1799020800000LL },
	/* 2028-02-29 12:00 -> [2028-02-01, 2028-03-01) */
	{ "utc month, leap February has 29 days",
	  "UTC", PER_MONTH, 29 * DAY,
	  1835438400000LL, 1832976000000LL, 1835481600000LL },
	/* 2028-02-29 12:00 -> [2028-02-29, 2028-03-01) */
	{ "utc day, leap day",
	  "UTC", PER_DAY, DAY,
	  1835438400000LL, 1835395200000LL, 1835481600000LL },
	/* 2028-02-28 23:59:59.999 -> [2028-02-28, 2028-02-29) */
	{ "utc day, last ms before the leap day",
	  "UTC", PER_DAY, DAY,
	  1835395199999LL, 1835308800000LL, 1835395200000LL },
	/* 2026-03-08 12:00 -> [2026-03-08 00:00, 2026-03-09 00:00) */
	{ "ny day, spring forward is 23 hours",
	  "America/New_York", PER_DAY, 23 * HOUR,
	  1772985600000LL, 1772946000000LL, 1773028800000LL },
	/* 2026-03-08 01:59:59.999 -> [2026-03-08 00:00, 2026-03-09 00:00) */
	{ "ny day, spring forward, just before 02:00",
	  "America/New_York", PER_DAY, 23 * HOUR,
	  1772953199999LL, 1772946000000LL, 1773028800000LL },
	/* 2026-03-08 03:00 -> [2026-03-08 00:00, 2026-03-09 00:00) */
	{ "ny day, spring forward, 03:00 EDT",
	  "America/New_York", PER_DAY, 23 * HOUR,
	  1772953200000LL, 1772946000000LL, 1773028800000LL },
	/* 2026-11-01 12:00 -> [2026-11-01 00:00, 2026-11-02 00:00) */
	{ "ny day, fall back is 25 hours",
	  "America/New_York", PER_DAY, 25 * HOUR,
	  1793552400000LL, 1793505600000LL, 1793595600000LL },
	/* 2026-11-01 06:30 UTC -> [2026-11-01 00:00, 2026-11-02 00:00) */
	{ "ny day, fall back, second 01:30 (EST)",
	  "America/New_York", PER_DAY, 25 * HOUR,
	  1793514600000LL, 1793505600000LL, 1793595600000LL },
	/* 2026-05-17 22:00 -> [2026-05-17 00:00, 2026-05-18 00:00) */
	{ "ny day, 22:00 local is the next day in UTC",
	  "America/New_York", PER_DAY, DAY,
	  1779069600000LL, 1778990400000LL, 1779076800000LL },
	/* 2026-03-08 01:59:59.999 -> [2026-03-08 01:00, 2026-03-08 03:00) */
	{ "ny hour, last ms of EST",
	  "America/New_York", PER_HOUR, HOUR,
	  1772953199999LL, 1772949600000LL, 1772953200000LL },
	/* 2026-03-08 03:00 -> [2026-03-08 03:00, 2026-03-08 04:00) */
	{ "ny hour, first hour of EDT",
	  "America/New_York", PER_HOUR, HOUR,
	  1772953200000LL, 1772953200000LL, 1772956800000LL },
	/* 2026-03-08 01:59:30 -> [2026-03-08 01:59, 2026-03-08 03:00) */
	{ "ny minute, last minute of EST",
	  "America/New_York", PER_MINUTE, MIN,
	  1772953170000LL, 1772953140000LL, 1772953200000LL },
	/* 01:30 EDT = 05:30Z -> [05:00Z, 06:00Z) */
	{ "ny hour, first 01:30 (EDT)",
	  "America/New_York", PER_HOUR, HOUR,
	  1793511000000LL, 1793509200000LL, 1793512800000LL },
	/* 01:30 EST = 06:30Z -> [06:00Z, 07:00Z) */
	{ "ny hour, second 01:30 (EST)",
	  "America/New_York", PER_HOUR, HOUR,
	  1793514600000LL, 1793512800000LL, 1793516400000LL },
	/* 2026-03-08 12:00 -> [2026-03-02 00:00, 2026-03-09 00:00) */
	{ "ny week with spring forward is 167 hours",
	  "America/New_York", PER_WEEK, 167 * HOUR,
	  1772985600000LL, 1772427600000LL, 1773028800000LL },
	/* 2026-11-01 12:00 -> [2026-10-26 00:00, 2026-11-02 00:00) */
	{ "ny week with fall back is 169 hours",
	  "America/New_York", PER_WEEK, 169 * HOUR,
	  1793552400000LL, 1792987200000LL, 1793595600000LL },
	/* 2026-03-15 12:00 -> [2026-03-01 00:00, 2026-04-01 00:00) */
	{ "ny month, March starts in EST and ends in EDT",
	  "America/New_York", PER_MONTH, 31 * DAY - HOUR,
	  1773590400000LL, 1772341200000LL, 1775016000000LL },
	/* 2026-01-31 23:59:59.999 -> [2026-01-01 00:00, 2026-02-01 00:00) */
	{ "ny month, last ms of January local (February in UTC)",
	  "America/New_York", PER_MONTH, 31 * DAY,
	  1769921999999LL, 1767243600000LL, 1769922000000LL },
	/* 2026-02-01 00:00 -> [2026-02-01 00:00, 2026-03-01 00:00) */
	{ "ny month, first ms of February local",
	  "America/New_York", PER_MONTH, 28 * DAY,
	  1769922000000LL, 1769922000000LL, 1772341200000LL },
	/* 2026-12-31 23:59:59.999 -> [2026-12-01 00:00, 2027-01-01 00:00) */
	{ "ny month, December rolls into January",
	  "America/New_York", PER_MONTH, 31 * DAY,
	  1798779599999LL, 1796101200000LL, 1798779600000LL },
	/* 2027-01-03 23:00 -> [2026-12-28 00:00, 2027-01-04 00:00) */
	{ "ny week spanning the new year",
	  "America/New_York", PER_WEEK, 7 * DAY,
	  1799035200000LL, 1798434000000LL, 1799038800000LL },
	/* 19:15:27.123 IST = 13:45:27.123Z -> [13:30Z, 14:30Z) */
	{ "kolkata hour starts at :30 UTC",
	  "Asia/Kolkata", PER_HOUR, HOUR,
	  1779025527123LL, 1779024600000LL, 1779028200000LL },
	/* 18:59:59.999 IST = 13:29:59.999Z -> [12:30Z, 13:30Z) */
	{ "kolkata hour, last ms before :30 UTC",
	  "Asia/Kolkata", PER_HOUR, HOUR,
	  1779024599999LL, 1779021000000LL, 1779024600000LL },
	/* 2026-05-17 19:15:27.123 -> [2026-05-17 19:15, 2026-05-17 19:16) */
	{ "kolkata minute",
	  "Asia/Kolkata", PER_MINUTE, MIN,
	  1779025527123LL, 1779025500000LL, 1779025560000LL },
	/* 2026-05-18 01:30 -> [2026-05-18 00:00, 2026-05-19 00:00) */
	{ "kolkata day starts at 18:30 UTC",
	  "Asia/Kolkata", PER_DAY, DAY,
	  1779048000000LL, 1779042600000LL, 1779129000000LL },
	/* 2026-05-17 23:59:59.999 -> [2026-05-11 00:00, 2026-05-18 00:00) */
	{ "kolkata week, last ms of Sunday",
	  "Asia/Kolkata", PER_WEEK, 7 * DAY,
	  1779042599999LL, 1778437800000LL, 1779042600000LL },
	/* 2026-05-18 00:00 -> [2026-05-18 00:00, 2026-05-25 00:00) */
	{ "kolkata week, Monday 00:00",
	  "Asia/Kolkata", PER_WEEK, 7 * DAY,
	  1779042600000LL, 1779042600000LL, 1779647400000LL },
	/* 2026-01-31 23:59:59.999 -> [2026-01-01 00:00, 2026-02-01 00:00) */
	{ "kolkata month, last ms of January",
	  "Asia/Kolkata", PER_MONTH, 31 * DAY,
	  1769884199999LL, 1767205800000LL, 1769884200000LL },
	/* 2026-02-01 00:00 -> [2026-02-01 00:00, 2026-03-01 00:00) */
	{ "kolkata month, first ms of February (still January in UTC)",
	  "Asia/Kolkata", PER_MONTH, 28 * DAY,
	  1769884200000LL, 1769884200000LL, 1772303400000LL },
	/* 2026-12-31 23:59:59.999 -> [2026-12-01 00:00, 2027-01-01 00:00) */
	{ "kolkata month, December rolls into January",
	  "Asia/Kolkata", PER_MONTH, 31 * DAY,
	  1798741799999LL, 1796063400000LL, 1798741800000LL },
	/* 2026-04-05 12:00 -> [2026-04-05 00:00, 2026-04-06 00:00) */
	{ "lord howe day, DST ends: 24.5 hours",
	  "Australia/Lord_Howe", PER_DAY, DAY + HOUR / 2,
	  1775352600000LL, 1775307600000LL, 1775395800000LL },
	/* 2026-10-04 12:00 -> [2026-10-04 00:00, 2026-10-05 00:00) */
	{ "lord howe day, DST starts: 23.5 hours",
	  "Australia/Lord_Howe", PER_DAY, DAY - HOUR / 2,
	  1791075600000LL, 1791034200000LL, 1791118800000LL },
	/* 2026-10-04 01:59:30 -> [2026-10-04 01:59, 2026-10-04 02:30) */
	{ "lord howe minute, last minute before DST",
	  "Australia/Lord_Howe", PER_MINUTE, MIN,
	  1791041370000LL, 1791041340000LL, 1791041400000LL },
	/* 2026-04-15 12:00 -> [2026-04-01 00:00, 2026-05-01 00:00) */
	{ "lord howe month, April leaves DST",
	  "Australia/Lord_Howe", PER_MONTH, 30 * DAY + HOUR / 2,
	  1776216600000LL, 1774962000000LL, 1777555800000LL },
	/*
	 * Havana repeats 00:00-00:59 on 2026-11-01 (CDT, then CST): the day
	 * starts at the first 00:00.  mktime(3) may answer the second one.
	 */
	/* 2026-11-01 12:00 CST -> [00:00 CDT = 04:00Z, 2026-11-02 00:00) */
	{ "havana day, midnight repeated: starts at the first",
	  "America/Havana", PER_DAY, DAY + HOUR,
	  1793552400000LL, 1793505600000LL, 1793595600000LL },
	/* 2026-11-01 00:30 CDT (04:30Z): already November */
	{ "havana day, between the two midnights",
	  "America/Havana", PER_DAY, DAY + HOUR,
	  1793507400000LL, 1793505600000LL, 1793595600000LL },
	{ "havana month, November from the first midnight",
	  "America/Havana", PER_MONTH, 30 * DAY + HOUR,
	  1793507400000LL, 1793505600000LL, 1796101200000LL },
	/* 2026-03-08 12:00 CDT: 00:00 CST is skipped to 01:00 CDT (05:00Z) */
	{ "havana day, midnight skipped",
	  "America/Havana", PER_DAY, DAY - HOUR,
	  1772985600000LL, 1772946000000LL, 1773028800000LL },
	/* 2026-09-06 12:00 -03: 00:00 -04 is skipped to 01:00 -03 (04:00Z) */
	{ "santiago day, midnight skipped",
	  "America/Santiago", PER_DAY, DAY - HOUR,
	  1788706800000LL, 1788667200000LL, 1788750000000LL },
	/* 2026-04-04 12:00 -03: 23:00-23:59 repeated, so 25 hours */
	{ "santiago day, an hour repeated before midnight",
	  "America/Santiago", PER_DAY, DAY + HOUR,
	  1775314800000LL, 1775271600000LL, 1775361600000LL },
	};
	int64_t	start, end;
	size_t	i;

	for (i = 0; i < nitems(cases); i++) {
		set_tz(cases[i].tz);
		start = end = -1;
		budget_window(cases[i].per, cases[i].now, &start, &end);
		is_int(start, cases[i].start, "window: %s: start",
		    cases[i].name);
		is_int(end, cases[i].end, "window: %s: end", cases[i].name);
		is_int(end - start, cases[i].len, "window: %s: length",
		    cases[i].name);
	}
}

/* The local day of the year of a unix ms time. */
static int
yday(int64_t ms)
{
	struct tm	tm;
	time_t		t;

	t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	localtime_r(&t, &tm);
	return (tm.tm_yday);
}

static long
gmtoff(int64_t ms)
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);

	localtime_r(&t, &tm);
	return (tm.tm_gmtoff);
}

/*
 * Many times across 2026 in every zone: the window holds now, has a
 * sane length, contains its own first and last ms, and the next window
 * starts where this one ends (the windows tile time; no gap, no overlap).
 * A day window is exactly the instants of now's local date, also where
 * the clocks skip or repeat midnight.
 */
static void
test_window_sweep(void)
{
	static const struct {
		const char	*tz;
		int		 hour_overlap;	/* see below */
	} zones[] = {
		{ "UTC", 0 },
		{ "America/New_York", 0 },
		{ "Asia/Kolkata", 0 },
		{ "Australia/Lord_Howe", 1 },
		{ "America/Havana", 0 },
		{ "America/Santiago", 0 },
	};
	static const int64_t lo[] = { MIN, HOUR, 23 * HOUR, 167 * HOUR,
	    28 * DAY - HOUR };
	static const int64_t hi[] = { MIN, HOUR, 25 * HOUR, 169 * HOUR,
	    31 * DAY + HOUR };
	/* UTC midnights of the days the clocks change in these zones. */
	static const int64_t dst_days[] = {
		1772928000000LL,	/* 2026-03-08 */
		1775347200000LL,	/* 2026-04-05 */
		1788652800000LL,	/* 2026-09-06 */
		1791072000000LL,	/* 2026-10-04 */
		1793491200000LL,	/* 2026-11-01 */
	};
	const int64_t	 year = 1767225600000LL;	/* 2026-01-01Z */
	int64_t		 times[1400 + 5 * 620], t, s, e, s2, e2;
	size_t		 nt = 0, z, i, d;
	int		 per, bad_in, bad_tile;
	char		 why_in[160], why_tile[160];

	for (t = year - 2 * DAY; t < year + 367 * DAY;
	    t += 7 * HOUR + 13 * MIN + 13579) {
		if (nt == nitems(times))
			abort();
		times[nt++] = t;
	}
	for (d = 0; d < nitems(dst_days); d++) {
		for (t = dst_days[d] - DAY; t < dst_days[d] + 2 * DAY;
		    t += 7 * MIN + 501) {
			if (nt == nitems(times))
				abort();
			times[nt++] = t;
		}
	}

	for (z = 0; z < nitems(zones); z++) {
		set_tz(zones[z].tz);
		for (per = PER_MINUTE; per <= PER_MONTH; per++) {
			bad_in = bad_tile = 0;
			why_in[0] = why_tile[0] = '\0';
			for (i = 0; i < nt; i++) {
				t = times[i];
				budget_window(per, t, &s, &e);
				if (!(s <= t && t < e && e - s >= lo[per] &&
				    e - s <= hi[per]) || (per == PER_DAY &&
				    (yday(s) != yday(t) || yday(s - 1) ==
				    yday(t) || yday(e) == yday(t)))) {
					if (bad_in++ == 0)
						snprintf(why_in, sizeof why_in,
						    "now %lld: [%lld, %lld)",
						    (long long)t, (long long)s,
						    (long long)e);
					continue;
				}
				/*
				 * Lord Howe moves its clocks by 30 minutes,
				 * so an hour window computed from the offset
				 * at now (budget.c) overlaps the one before
				 * the change by half an hour.  Each instant
				 * still maps to one window; only the tiling
				 * is off, next to the change.
				 */
				if (per == PER_HOUR && zones[z].hour_overlap &&
				    (gmtoff(s - HOUR) != gmtoff(e + HOUR)))
					continue;
				budget_window(per, s, &s2, &e2);
				if (s2 != s || e2 != e)
					goto tile;
				budget_window(per, e - 1, &s2, &e2);
				if (s2 != s || e2 != e)
					goto tile;
				budget_window(per, e, &s2, &e2);
				if (s2 != e)
					goto tile;
				continue;
tile:
				if (bad_tile++ == 0)
					snprintf(why_tile, sizeof why_tile,
					    "now %lld: [%lld, %lld), "
					    "neighbour [%lld, %lld)",
					    (long long)t, (long long)s,
					    (long long)e, (long long)s2,
					    (long long)e2);
			}
			is_int(bad_in, 0, "sweep: %s %s: %zu times, each in "
			    "its window of a sane length", zones[z].tz,
			    per_names[per], nt);
			if (bad_in)
				printf("# first: %s\n", why_in);
			is_int(bad_tile, 0, "sweep: %s %s: windows tile time",
			    zones[z].tz, per_names[per]);
			if (bad_tile)
				printf("# first: %s\n", why_tile);
		}
	}
}

/* --- plans -------------------------------------------------------------- */

#define NUSD	1000000000LL	/* one dollar */

/* Counter indexes: scope * BUDGET_NPER + per. */
#define APP_MINUTE	0
#define APP_DAY		2
#define APP_MONTH	4
#define TEAM_DAY	7
#define TEAM_MONTH	9

static struct cfg_limit team_limits[] = {
	{ UNIT_USD, 2000 * NUSD, PER_MONTH, { 0.8, 0.95 }, 2 },
	{ UNIT_REQUESTS, 1000, PER_DAY, { 0 }, 0 },
};
static struct cfg_limit tier_limits[] = {
	{ UNIT_USD, 200 * NUSD, PER_MONTH, { 0 }, 0 },
	{ UNIT_TOKENS, 5000000, PER_DAY, { 0 }, 0 },
	{ UNIT_REQUESTS, 100, PER_MINUTE, { 0 }, 0 },
	{ UNIT_TOKENS, 50000, PER_WEEK, { 0 }, 0 },
};
static struct cfg_limit app_limits[] = {
	{ UNIT_USD, 100 * NUSD, PER_MONTH, { 0.5, 0.8 }, 2 },
	{ UNIT_TOKENS, 2000000, PER_DAY, { 0 }, 0 },
	{ UNIT_REQUESTS, 60, PER_MINUTE, { 0 }, 0 },
	{ UNIT_TOKENS, 100000, PER_MINUTE, { 0 }, 0 },
	{ UNIT_TOKENS, 80000, PER_WEEK, { 0 }, 0 },
	{ UNIT_REQUESTS, 500, PER_HOUR, { 0 }, 0 },
	{ UNIT_REQUESTS, 450, PER_HOUR, { 0 }, 0 },
};
static struct cfg_tier tier = {
	.name = "pilot",
	.limits = tier_limits,
	.nlimits = nitems(tier_limits),
};
static struct cfg_tier tier_none = { .name = "production" };
static struct cfg_team team = {
	.name = "fraud-analytics",
	.limits = team_limits,
	.nlimits = nitems(team_limits),
};
static struct cfg_team team_none = { .name = "quiet" };
static struct cfg_app app = {
	.name = "invoice-bot",
	.team = &team,
	.tier = &tier,
	.limits = app_limits,
	.nlimits = nitems(app_limits),
};
static struct cfg_app app_none = {
	.name = "free-bot",
	.team = &team_none,
	.tier = &tier_none,
};

static void
test_plan_counters(void)
{
	static const struct {
		const char	*tz;
		int64_t		 now;
		const char	*key[BUDGET_NCOUNTERS];
		int64_t		 end[BUDGET_NPER];
	} cases[] = {
		/* 2026-05-17T13:45:27.123Z, a Sunday */
		{ "UTC", 1779025527123LL, {
			"app/invoice-bot/minute/1779025500000",
			"app/invoice-bot/hour/1779022800000",
			"app/invoice-bot/day/1778976000000",
			"app/invoice-bot/week/1778457600000",
			"app/invoice-bot/month/1777593600000",
			"team/fraud-analytics/minute/1779025500000",
			"team/fraud-analytics/hour/1779022800000",
			"team/fraud-analytics/day/1778976000000",
			"team/fraud-analytics/week/1778457600000",
			"team/fraud-analytics/month/1777593600000",
		  }, { 1779025560000LL, 1779026400000LL, 1779062400000LL,
		    1779062400000LL, 1780272000000LL } },
		/* the same instant is 19:15:27.123 in Kolkata */
		{ "Asia/Kolkata", 1779025527123LL, {
			"app/invoice-bot/minute/1779025500000",
			"app/invoice-bot/hour/1779024600000",
			"app/invoice-bot/day/1778956200000",
			"app/invoice-bot/week/1778437800000",
			"app/invoice-bot/month/1777573800000",
			"team/fraud-analytics/minute/1779025500000",
			"team/fraud-analytics/hour/1779024600000",
			"team/fraud-analytics/day/1778956200000",
			"team/fraud-analytics/week/1778437800000",
			"team/fraud-analytics/month/1777573800000",
		  }, { 1779025560000LL, 1779028200000LL, 1779042600000LL,
		    1779042600000LL, 1780252200000LL } },
	};
	struct budget_plan	*plan;
	size_t			 i, k;

	plan = xcalloc(1, sizeof *plan);
	for (i = 0; i < nitems(cases); i++) {
		set_tz(cases[i].tz);
		budget_plan_init(plan, &app, cases[i].now);
		is_int(plan->ncounters, BUDGET_NCOUNTERS,
		    "plan %s: ten counters", cases[i].tz);
		for (k = 0; k < BUDGET_NCOUNTERS; k++) {
			is_str(plan->counters[k].key, cases[i].key[k],
			    "plan %s: counter %zu key", cases[i].tz, k);
			ok(plan->counters[k].scope ==
			    (k < BUDGET_NPER ? SCOPE_APP : SCOPE_TEAM) &&
			    plan->counters[k].per ==
			    (enum cfg_per)(k % BUDGET_NPER),
			    "plan %s: counter %zu scope and per", cases[i].tz,
			    k);
			is_int(plan->counters[k].end_ms,
			    cases[i].end[k % BUDGET_NPER],
			    "plan %s: counter %zu end", cases[i].tz, k);
		}
	}
	free(plan);
	set_tz("UTC");
}

/*
 * budget_window() as it was before it kept each thread's day, week and
 * month windows: every call from scratch, with mktime(3).  The reference
 * for test_window_kept().
 */
static int64_t
ref_local_ms(struct tm *tm)
{
	tm->tm_isdst = -1;
	return ((int64_t)mktime(tm) * 1000);
}

static void
ref_window(enum cfg_per per, int64_t now_ms, int64_t *start_ms,
    int64_t *end_ms)
{
	struct tm	tm;
	time_t		t = (time_t)(now_ms >= 0 ? now_ms / 1000 :
			    -((-now_ms + 999) / 1000));
	int64_t		local, len;
	int		back;

	localtime_r(&t, &tm);
	switch (per) {
	case PER_MINUTE:
	case PER_HOUR:
		len = per == PER_MINUTE ? 60000 : 3600000;
		local = now_ms + (int64_t)tm.tm_gmtoff * 1000;
		*start_ms = (local >= 0 ? local / len : -((-local + len - 1) /
		    len)) * len - (int64_t)tm.tm_gmtoff * 1000;
		*end_ms = *start_ms + len;
		return;
	case PER_DAY:
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		*start_ms = ref_local_ms(&tm);
		localtime_r(&t, &tm);
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday++;
		*end_ms = ref_local_ms(&tm);
		return;
	case PER_WEEK:
		back = (tm.tm_wday + 6) % 7;
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday -= back;
		*start_ms = ref_local_ms(&tm);
		localtime_r(&t, &tm);
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday += 7 - back;
		*end_ms = ref_local_ms(&tm);
		return;
	case PER_MONTH:
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday = 1;
		*start_ms = ref_local_ms(&tm);
		localtime_r(&t, &tm);
		tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
		tm.tm_mday = 1;
		tm.tm_mon++;
		*end_ms = ref_local_ms(&tm);
		return;
	}
}

/* Do all five windows and a plan at now agree with the reference? */
static int
kept_agrees(int64_t now, const char *tz, char *why, size_t whylen)
{
	static struct budget_plan	 plan;
	int64_t				 s, e, rs, re;
	char				 key[192];
	int				 per;

	budget_plan_init(&plan, &app, now);
	for (per = PER_MINUTE; per <= PER_MONTH; per++) {
		budget_window(per, now, &s, &e);
		ref_window(per, now, &rs, &re);
		snprintf(key, sizeof key, "team/%s/%s/%lld", team.name,
		    per_names[per], (long long)rs);
		if (s == rs && e == re && plan.counters[per].start_ms == rs &&
		    plan.counters[per].end_ms == re &&
		    strcmp(plan.counters[BUDGET_NPER + per].key, key) == 0)
			continue;
		snprintf(why, whylen, "%s %s at %lld: [%lld, %lld), plan "
		    "%s, want [%lld, %lld)", tz, per_names[per],
		    (long long)now, (long long)s, (long long)e,
		    plan.counters[BUDGET_NPER + per].key, (long long)rs,
		    (long long)re);
		return (0);
	}
	return (1);
}

/*
 * The day, week and month windows a thread keeps must be what the
 * reference works out afresh, whatever the order of the times: walking
 * forward by 59 s through every clock change of 2026 (and midnights, week
 * and month ends on the way), jumping back a day, and the zone changing
 * under one instant.
 */
static void
test_window_kept(void)
{
	/*
	 * Not Havana or Santiago: where midnight is skipped or repeated the
	 * reference's mktime(3) answer depends on its earlier calls
	 * (test_window_cases and the sweep cover those zones).
	 */
	static const char *const zones[] = {
		"UTC", "America/New_York", "Asia/Kolkata",
		"Australia/Lord_Howe"
	};
	/* UTC midnights of the days their clocks change in 2026. */
	static const int64_t	 changes[] = {
		1772928000000LL,	/* 03-08: New York */
		1775347200000LL,	/* 04-05: Lord Howe */
		1791072000000LL,	/* 10-04: Lord Howe */
		1793491200000LL,	/* 11-01: New York */
		1798675200000LL,	/* 12-31: a month and year end */
	};
	int64_t			 t;
	size_t			 z, c, n = 0, bad = 0;
	char			 why[256];

	why[0] = '\0';
	for (z = 0; z < nitems(zones); z++) {
		set_tz(zones[z]);
		for (c = 0; c < nitems(changes); c++) {
			for (t = changes[c] - DAY; t < changes[c] + 2 * DAY;
			    t += 59 * 1000 + 7) {
				n++;
				if (!kept_agrees(t, zones[z], why,
				    sizeof why) && bad++ == 0)
					printf("# %s\n", why);
				if (t % 5 == 0) {
					/* back a day, and forward again */
					n++;
					if (!kept_agrees(t - DAY, zones[z], why,
					    sizeof why) && bad++ == 0)
						printf("# %s\n", why);
				}
			}
		}
	}
	is_int(bad, 0, "kept windows agree with mktime at %zu times", n);

	/* Two zones, one instant: the kept windows must not leak across. */
	t = 1779025527123LL;
	set_tz("UTC");
	ok(kept_agrees(t, "UTC", why, sizeof why), "UTC first");
	set_tz("Asia/Kolkata");
	ok(kept_agrees(t, "Asia/Kolkata", why, sizeof why),
	    "then Kolkata at the same instant");
	set_tz("UTC");
	ok(kept_agrees(t, "UTC", why, sizeof why), "and UTC again");
}

/*
 * A worker's plans around a local midnight: the last ms of a day, then
 * the first of the next, must move every day-bound counter to the new
 * window (its key too), and a plan back in the old day must move them
 * back.
 */
static void
test_window_crossing(void)
{
	static struct budget_plan	 a, b, c;
	/* 2026-11-01 00:00 in New York (EDT, -04:00), a Sunday */
	const int64_t			 midnight = 1793505600000LL;

	set_tz("America/New_York");
	budget_plan_init(&a, &app, midnight - 1);
	budget_plan_init(&b, &app, midnight);
	budget_plan_init(&c, &app, midnight - 1);
	is_int(a.counters[APP_DAY].end_ms, midnight, "crossing: day ends "
	    "at midnight");
	is_int(b.counters[APP_DAY].start_ms, midnight, "crossing: next day "
	    "starts there");
	is_int(b.counters[APP_DAY].end_ms, midnight + DAY + HOUR,
	    "crossing: and lasts 25 hours (DST ends)");
	is_str(b.counters[APP_DAY].key, "app/invoice-bot/day/1793505600000",
	    "crossing: the new day's key");
	is_int(a.counters[APP_DAY + 1].end_ms, midnight + DAY + HOUR,
	    "crossing: the week (from Monday) runs on");
	is_int(b.counters[APP_DAY + 1].start_ms, a.counters[APP_DAY +
	    1].start_ms, "crossing: same week on both sides");
	is_int(b.counters[APP_MONTH].start_ms, midnight, "crossing: "
	    "November starts at the same midnight");
	ok(strcmp(a.counters[TEAM_MONTH].key, c.counters[TEAM_MONTH].key) ==
	    0 && a.counters[TEAM_DAY].start_ms == c.counters[TEAM_DAY].start_ms,
	    "crossing: back in the old day, the old windows");
	set_tz("UTC");
}

struct open_keys {
	char	key[32][96];
	int64_t	end[32];
	int	n, nonzero;
};

static void
open_keys_cb(const char *key, int64_t end_ms, const struct budget_amount *used,
    void *arg)
{
	struct open_keys	*o = arg;
	int			 u;

	for (u = 0; u < BUDGET_NUNITS; u++)
		o->nonzero |= used->v[u] != 0;
	if (o->n < 32) {
		snprintf(o->key[o->n], sizeof o->key[o->n], "%s", key);
		o->end[o->n] = end_ms;
	}
	o->n++;
}

/*
 * reconcile's zero counters: every app's and each team's counter of the
 * open windows once, keyed and ended as a plan's counters are.
 */
static void
test_open_counters(void)
{
	struct cfg_app		 apps[2];
	struct cfg_team		 t;
	struct cfg		 c;
	struct budget_plan	*plan;
	struct open_keys	 o;
	int64_t			 now = 1779025527123LL;
	size_t			 k;
	int			 i, found;

	memset(&c, 0, sizeof c);
	memset(&t, 0, sizeof t);
	memset(apps, 0, sizeof apps);
	memset(&o, 0, sizeof o);
	t.name = team.name;
	t.apps = apps;
	t.napps = 2;
	apps[0] = app;
	apps[1] = app;
	apps[1].name = "other-bot";
	c.teams = &t;
	c.nteams = 1;
	budget_open_counters(&c, now, open_keys_cb, &o);
	is_int(o.n, 3 * BUDGET_NPER, "open counters: 2 apps and 1 team, each "
	    "window once");
	ok(!o.nonzero, "open counters: at zero");
	plan = xcalloc(1, sizeof *plan);
	budget_plan_init(plan, &app, now);
	for (k = 0; k < plan->ncounters; k++) {
		found = 0;
		for (i = 0; i < o.n && i < 32; i++)
			found |= strcmp(o.key[i], plan->counters[k].key) == 0 &&
			    o.end[i] == plan->counters[k].end_ms;
		ok(found, "open counters: %s", plan->counters[k].key);
	}
	free(plan);
}

static void
test_plan_checks(void)
{
	static const struct {
		const char		*name;
		size_t			 counter;
		enum cfg_unit		 unit;
		int64_t			 limit;
		const struct cfg_limit	*lim;
	} want[] = {
		{ "app usd/month: app 100 under tier 200", APP_MONTH,
		  UNIT_USD, 100 * NUSD, &app_limits[0] },
		{ "app tokens/day: app 2M under tier 5M", APP_DAY, UNIT_TOKENS,
		  2000000, &app_limits[1] },
		{ "app requests/minute: app 60 under tier 100", APP_MINUTE,
		  UNIT_REQUESTS, 60, &app_limits[2] },
		{ "app tokens/minute: app only, apart from requests/minute",
		  APP_MINUTE, UNIT_TOKENS, 100000, &app_limits[3] },
		{ "app tokens/week: tier 50k under app 80k", 3, UNIT_TOKENS,
		  50000, &tier_limits[3] },
		{ "app requests/hour: the smaller of two app limits", 1,
		  UNIT_REQUESTS, 450, &app_limits[6] },
		{ "team usd/month: apart from the app's usd/month", TEAM_MONTH,
		  UNIT_USD, 2000 * NUSD, &team_limits[0] },
		{ "team requests/day", TEAM_DAY, UNIT_REQUESTS, 1000,
		  &team_limits[1] },
	};
	struct budget_plan	*plan;
	size_t			 i, k, n, at;

	plan = xcalloc(1, sizeof *plan);
	budget_plan_init(plan, &app, 1779025527123LL);
	is_int(plan->nchecks, nitems(want), "plan: %zu merged checks",
	    nitems(want));
	ok(budget_plan_limited(plan), "plan: limited");
	for (i = 0; i < nitems(want); i++) {
		n = 0;
		at = 0;
		for (k = 0; k < plan->nchecks; k++) {
			if (plan->checks[k].counter == want[i].counter &&
			    plan->checks[k].unit == want[i].unit) {
				n++;
				at = k;
			}
		}
		is_int(n, 1, "plan: %s: one check", want[i].name);
		is_int(plan->checks[at].limit, want[i].limit,
		    "plan: %s: limit", want[i].name);
		ok(plan->checks[at].lim == want[i].lim,
		    "plan: %s: alert_at from the limit that won", want[i].name);
	}

	budget_plan_init(plan, &app_none, 1779025527123LL);
	is_int(plan->nchecks, 0, "plan without limits: no checks");
	ok(!budget_plan_limited(plan), "plan without limits: not limited");
	is_int(plan->ncounters, BUDGET_NCOUNTERS,
	    "plan without limits: still ten counters");
	is_str(plan->counters[TEAM_DAY].key, "team/quiet/day/1778976000000",
	    "plan without limits: team counter key");
	free(plan);
}

/* --- arithmetic on a store's state -------------------------------------- */

struct tcheck {
	size_t		 counter;
	enum cfg_unit	 unit;
	int64_t		 limit, used, leased;
};

/* A plan with these checks and the state a store would have reported. */
static void
mkplan(struct budget_plan *plan, const struct tcheck *c, size_t n,
    int64_t reserve_nusd)
{
	size_t	i;

	memset(plan, 0, sizeof *plan);
	plan->ncounters = BUDGET_NCOUNTERS;
	for (i = 0; i < n; i++) {
		plan->checks[i].counter = c[i].counter;
		plan->checks[i].unit = c[i].unit;
		plan->checks[i].limit = c[i].limit;
		plan->state[c[i].counter].used.v[c[i].unit] = c[i].used;
		plan->state[c[i].counter].leased.v[c[i].unit] = c[i].leased;
	}
	plan->nchecks = n;
	plan->reserve.v[UNIT_USD] = reserve_nusd;
}

static void
test_room(void)
{
	static const struct {
		const char	*name;
		int64_t		 limit, used, leased, want;
	} cases[] = {
		{ "nothing used", 100, 0, 0, 100 },
		{ "used and leased both count", 100, 30, 20, 50 },
		{ "exactly full", 100, 60, 40, 0 },
		{ "over the limit is 0, not negative", 100, 80, 40, 0 },
		{ "over by leases alone", 100, 0, 150, 0 },
	};
	struct budget_plan	*plan;
	struct tcheck		 c;
	size_t			 i;

	plan = xcalloc(1, sizeof *plan);
	for (i = 0; i < nitems(cases); i++) {
		c.counter = TEAM_DAY;
		c.unit = UNIT_TOKENS;
		c.limit = cases[i].limit;
		c.used = cases[i].used;
		c.leased = cases[i].leased;
		mkplan(plan, &c, 1, 0);
		is_int(budget_room(plan, 0), cases[i].want, "room: %s",
		    cases[i].name);
	}
	free(plan);
}

static void
test_affordable(void)
{
	static const struct {
		const char		*name;
		size_t			 n;
		struct tcheck		 c[3];
		struct budget_amount	 base, per_token;
		int64_t			 want;
	} cases[] = {
		{ "no checks", 0, { { 0 } },
		  { { 100, 100, 1 } }, { { 5, 1, 0 } }, INT64_MAX },
		{ "usd: (1000 - 100 - 0 - 100) / 3", 1,
		  { { APP_MONTH, UNIT_USD, 1000, 100, 0 } },
		  { { 100, 0, 1 } }, { { 3, 1, 0 } }, 266 },
		{ "leased counts too: (1000 - 100 - 200 - 100) / 3", 1,
		  { { APP_MONTH, UNIT_USD, 1000, 100, 200 } },
		  { { 100, 0, 1 } }, { { 3, 1, 0 } }, 200 },
		{ "tightest of two usd windows", 2,
		  { { APP_MONTH, UNIT_USD, 1000, 0, 0 },
		    { TEAM_MONTH, UNIT_USD, 5000, 4900, 0 } },
		  { { 10, 0, 1 } }, { { 3, 1, 0 } }, 30 },
		{ "tightest across units: tokens 400 vs usd 142", 2,
		  { { APP_MONTH, UNIT_USD, 1000, 0, 0 },
		    { APP_DAY, UNIT_TOKENS, 500, 0, 0 } },
		  { { 0, 100, 1 } }, { { 7, 1, 0 } }, 142 },
		{ "base exactly the room: 0", 1,
		  { { APP_MONTH, UNIT_USD, 1000, 400, 0 } },
		  { { 600, 0, 1 } }, { { 3, 1, 0 } }, 0 },
		{ "base over the room: 0", 2,
		  { { APP_MONTH, UNIT_USD, 1000, 401, 0 },
		    { APP_DAY, UNIT_TOKENS, 1000000, 0, 0 } },
		  { { 600, 0, 1 } }, { { 3, 1, 0 } }, 0 },
		{ "zero per-token unit ignored: requests", 2,
		  { { APP_MINUTE, UNIT_REQUESTS, 10, 0, 0 },
		    { APP_DAY, UNIT_TOKENS, 1000, 0, 0 } },
		  { { 0, 200, 1 } }, { { 0, 1, 0 } }, 800 },
		{ "only zero-priced units: no cap", 2,
		  { { APP_MINUTE, UNIT_REQUESTS, 10, 0, 0 },
		    { APP_MONTH, UNIT_USD, 10, 0, 0 } },
		  { { 0, 0, 1 } }, { { 0, 0, 0 } }, INT64_MAX },
		{ "zero-priced unit still refuses a base over its room", 2,
		  { { APP_MINUTE, UNIT_REQUESTS, 10, 10, 0 },
		    { APP_DAY, UNIT_TOKENS, 1000, 0, 0 } },
		  { { 0, 200, 1 } }, { { 0, 1, 0 } }, 0 },
	};
	struct budget_plan	*plan;
	size_t			 i;

	plan = xcalloc(1, sizeof *plan);
	for (i = 0; i < nitems(cases); i++) {
		mkplan(plan, cases[i].c, cases[i].n, 0);
		is_int(budget_affordable_output(plan, &cases[i].base,
		    &cases[i].per_token), cases[i].want, "affordable: %s",
		    cases[i].name);
	}
	free(plan);
}

static void
test_remaining(void)
{
	static const struct {
		const char	*name;
		size_t		 n;
		struct tcheck	 c[3];
		int64_t		 reserve, want;
	} cases[] = {
		{ "no checks", 0, { { 0 } }, 0, -1 },
		{ "no usd checks", 2,
		  { { APP_DAY, UNIT_TOKENS, 1000, 0, 0 }, { APP_MINUTE,
		    UNIT_REQUESTS, 5, 0, 0 } }, 10, -1 },
		{ "limit - used - leased - reserve", 1,
		  { { APP_MONTH, UNIT_USD, 1000, 200, 100 } }, 50, 650 },
		{ "smallest usd window, tokens ignored", 3,
		  { { APP_MONTH, UNIT_USD, 1000, 200, 100 },
		    { TEAM_MONTH, UNIT_USD, 5000, 4500, 0 },
		    { APP_DAY, UNIT_TOKENS, 10, 0, 0 } },
		  50, 450 },
		{ "reserve over the room: 0", 1,
		  { { APP_MONTH, UNIT_USD, 1000, 900, 0 } }, 150, 0 },
		{ "already over the limit: 0", 1,
		  { { APP_MONTH, UNIT_USD, 1000, 1200, 0 } }, 0, 0 },
	};
	struct budget_plan	*plan;
	size_t			 i;

	plan = xcalloc(1, sizeof *plan);
	for (i = 0; i < nitems(cases); i++) {
		mkplan(plan, cases[i].c, cases[i].n, cases[i].reserve);
		is_int(budget_remaining_nusd(plan), cases[i].want,
		    "remaining usd: %s", cases[i].name);
	}
	free(plan);
}

static void
test_used_ratio(void)
{
	static const struct {
		const char	*name;
		size_t		 n;
		struct tcheck	 c[3];
		double		 want;
	} cases[] = {
		{ "no checks", 0, { { 0 } }, 0.0 },
		{ "nothing used", 1,
		  { { APP_MONTH, UNIT_USD, 1000, 0, 0 } }, 0.0 },
		{ "(used + leased) / limit", 1,
		  { { APP_MONTH, UNIT_USD, 1000, 250, 250 } }, 0.5 },
		{ "the fullest check, any unit", 3,
		  { { APP_MONTH, UNIT_USD, 1000, 250, 0 },
		    { APP_DAY, UNIT_TOKENS, 200, 100, 60 },
		    { APP_MINUTE, UNIT_REQUESTS, 10, 1, 0 } },
		  0.8 },
		{ "over the limit", 1, { { TEAM_DAY, UNIT_REQUESTS, 4, 5, 0 } },
		  1.25 },
	};
	struct budget_plan	*plan;
	double			 got;
	size_t			 i;

	plan = xcalloc(1, sizeof *plan);
	for (i = 0; i < nitems(cases); i++) {
		mkplan(plan, cases[i].c, cases[i].n, 0);
		got = budget_used_ratio(plan);
		ok(fabs(got - cases[i].want) < 1e-12, "used ratio: %s",
		    cases[i].name);
		if (fabs(got - cases[i].want) >= 1e-12)
			printf("# got %g, want %g\n", got, cases[i].want);
	}
	free(plan);
}

/* --- the local store ---------------------------------------------------- */

/* What the store's callback reported. */
struct rec {
	int			 calls;
	enum budget_result	 res;
	size_t			 denied;
	struct budget_state	 state[BUDGET_NCOUNTERS];
};

static void
rec_cb(enum budget_result res, struct budget_plan *plan, void *arg)
{
	struct rec	*r = arg;

	r->calls++;
	r->res = res;
	r->denied = plan->denied;
	memcpy(r->state, plan->state, sizeof r->state);
}

static void
amount(struct budget_amount *a, int64_t nusd, int64_t tokens,
    int64_t requests)
{
	a->v[UNIT_USD] = nusd;
	a->v[UNIT_TOKENS] = tokens;
	a->v[UNIT_REQUESTS] = requests;
}

static enum budget_result
reserve(void *w, struct budget_plan *plan, const char *id, int64_t nusd,
    int64_t tokens, int64_t requests, int64_t deadline, struct rec *r)
{
	memset(r, 0, sizeof *r);
	r->res = BUDGET_UNAVAILABLE;
	snprintf(plan->lease_id, sizeof plan->lease_id, "%s", id);
	amount(&plan->reserve, nusd, tokens, requests);
	plan->deadline_ms = deadline;
	plan->denied = 999;
	budget_local_ops.reserve(w, plan, rec_cb, r);
	return (r->res);
}

static void
settle(void *w, struct budget_plan *plan, const char *id, int64_t nusd,
    int64_t tokens, int64_t requests)
{
	snprintf(plan->lease_id, sizeof plan->lease_id, "%s", id);
	amount(&plan->actual, nusd, tokens, requests);
	budget_local_ops.settle(w, plan);
}

static void
renew(void *w, struct budget_plan *plan, const char *id, int64_t deadline)
{
	snprintf(plan->lease_id, sizeof plan->lease_id, "%s", id);
	plan->deadline_ms = deadline;
	budget_local_ops.renew(w, plan);
}

static void
peek(void *w, struct budget_plan *plan, struct rec *r)
{
	memset(r, 0, sizeof *r);
	r->res = BUDGET_UNAVAILABLE;
	memset(plan->state, 0xa5, sizeof plan->state);
	budget_local_ops.peek(w, plan, rec_cb, r);
}

/* Does one amount hold these numbers?  One test point. */
static void __attribute__((format(printf, 5, 6)))
is_amount(const struct budget_amount *a, int64_t nusd, int64_t tokens,
    int64_t requests, const char *fmt, ...)
{
	char	name[256];
	va_list	ap;
	int	same;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	same = a->v[UNIT_USD] == nusd && a->v[UNIT_TOKENS] == tokens &&
	    a->v[UNIT_REQUESTS] == requests;
	ok(same, "%s", name);
	if (!same)
		printf("# got {%lld, %lld, %lld}, want {%lld, %lld, %lld}\n",
		    (long long)a->v[UNIT_USD], (long long)a->v[UNIT_TOKENS],
		    (long long)a->v[UNIT_REQUESTS], (long long)nusd,
		    (long long)tokens, (long long)requests);
}

/* Is a store counter missing (never created, or dropped)? */
static int
absent(void *store, const char *key)
{
	struct lstore	*ls = store;
	int		 r;

	pthread_mutex_lock(&ls->lock);
	r = counter_get(ls, key, 0, 0) == NULL;
	pthread_mutex_unlock(&ls->lock);
	return (r);
}

static void
locked_sweep(void *store, int64_t now)
{
	struct lstore	*ls = store;

	pthread_mutex_lock(&ls->lock);
	sweep(ls, now);
	pthread_mutex_unlock(&ls->lock);
}

/* App "bot": tokens 1000/day, requests 3/minute; team: 10000 nUSD/month. */
static struct cfg_limit s_team_limits[] = {
	{ UNIT_USD, 10000, PER_MONTH, { 0 }, 0 },
};
static struct cfg_limit s_app_limits[] = {
	{ UNIT_TOKENS, 1000, PER_DAY, { 0 }, 0 },
	{ UNIT_REQUESTS, 3, PER_MINUTE, { 0 }, 0 },
};
static struct cfg_team s_team = {
	.name = "t",
	.limits = s_team_limits,
	.nlimits = nitems(s_team_limits),
};
static struct cfg_app s_app = {
	.name = "bot",
	.team = &s_team,
	.tier = &tier_none,
	.limits = s_app_limits,
	.nlimits = nitems(s_app_limits),
};
static struct cfg_app s_app2 = {
	.name = "bot2",
	.team = &s_team,
	.tier = &tier_none,
};

static void
test_local_reserve_settle(void)
{
	struct budget_plan	*p, *p2;
	struct rec		 r;
	void			*store, *w;
	int64_t			 now = util_now_ms(), dl = now + 10 * MIN;
	size_t			 k;

	store = budget_local_new();
	w = budget_local_ops.worker_init(store, NULL);
	p = xcalloc(1, sizeof *p);
	p2 = xcalloc(1, sizeof *p2);
	budget_plan_init(p, &s_app, now);
	budget_plan_init(p2, &s_app2, now);

	is_int(reserve(w, p, "L1", 4000, 600, 1, dl, &r), BUDGET_OK,
	    "local: first reserve OK");
	is_int(r.calls, 1, "local: reserve calls back once");
	for (k = 0; k < BUDGET_NCOUNTERS; k++) {
		if (r.state[k].used.v[UNIT_TOKENS] != 0 ||
		    r.state[k].leased.v[UNIT_TOKENS] != 0)
			break;
	}
	is_int(k, BUDGET_NCOUNTERS, "local: first reserve saw empty counters");

	is_int(reserve(w, p, "L2", 4000, 400, 1, dl, &r), BUDGET_OK,
	    "local: reserve up to exactly the limit OK");
	is_amount(&r.state[APP_DAY].leased, 4000, 600, 1,
	    "local: state passed back is before this lease (app day)");
	is_amount(&r.state[TEAM_MONTH].leased, 4000, 600, 1,
	    "local: state passed back is before this lease (team month)");
	is_amount(&r.state[APP_DAY].used, 0, 0, 0, "local: nothing used yet");

	is_int(reserve(w, p, "L3", 1, 1, 1, dl, &r), BUDGET_DENIED,
	    "local: one token over the limit DENIED");
	is_int(r.calls, 1, "local: denied reserve calls back once");
	ok(r.denied < p->nchecks && p->checks[r.denied].counter == APP_DAY &&
	    p->checks[r.denied].unit == UNIT_TOKENS,
	    "local: denied names the tokens/day check");
	is_amount(&r.state[APP_DAY].leased, 8000, 1000, 2,
	    "local: denied reserve reports the state");

	peek(w, p, &r);
	is_int(r.res, BUDGET_OK, "local: peek OK");
	is_int(r.calls, 1, "local: peek calls back once");
	is_amount(&r.state[APP_DAY].leased, 8000, 1000, 2,
	    "local: denied reserve leased nothing (app day)");
	is_amount(&r.state[TEAM_MONTH].leased, 8000, 1000, 2,
	    "local: denied reserve leased nothing (team month)");

	settle(w, p, "L1", 3000, 500, 1);
	peek(w, p, &r);
	for (k = 0; k < BUDGET_NCOUNTERS; k++) {
		is_amount(&r.state[k].used, 3000, 500, 1,
		    "local: settle adds actual to used (counter %zu)", k);
		is_amount(&r.state[k].leased, 4000, 400, 1,
		    "local: settle takes the reserve off (counter %zu)", k);
	}
	settle(w, p, "L1", 3000, 500, 1);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].used, 3000, 500, 1,
	    "local: settling twice counts once (used)");
	is_amount(&r.state[APP_DAY].leased, 4000, 400, 1,
	    "local: settling twice counts once (leased)");
	settle(w, p, "nope", 999, 999, 999);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].used, 3000, 500, 1,
	    "local: settle of an unknown lease is a no-op (used)");
	is_amount(&r.state[APP_DAY].leased, 4000, 400, 1,
	    "local: settle of an unknown lease is a no-op (leased)");

	/* used 500 + leased 400 of 1000 tokens; 1 + 1 of 3 requests */
	is_int(reserve(w, p, "L4", 0, 101, 1, dl, &r), BUDGET_DENIED,
	    "local: used + leased + reserve over the limit DENIED");
	is_int(reserve(w, p, "L4", 0, 100, 1, dl, &r), BUDGET_OK,
	    "local: used + leased + reserve at the limit OK");
	is_int(reserve(w, p, "L5", 0, 0, 1, dl, &r), BUDGET_DENIED,
	    "local: fourth request in the minute DENIED");
	ok(r.denied < p->nchecks && p->checks[r.denied].counter ==
	    APP_MINUTE && p->checks[r.denied].unit == UNIT_REQUESTS,
	    "local: denied names the requests/minute check");

	settle(w, p, "L2", 5000, 400, 1);	/* more than reserved */
	settle(w, p, "L4", 0, 50, 1);		/* less than reserved */
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].used, 8000, 950, 3,
	    "local: actual may differ from the reserve (used)");
	is_amount(&r.state[APP_DAY].leased, 0, 0, 0,
	    "local: all settled, nothing leased");

	is_int(reserve(w, p, "L6", 2001, 0, 0, dl, &r), BUDGET_DENIED,
	    "local: team usd over the limit DENIED");
	ok(r.denied < p->nchecks && p->checks[r.denied].counter ==
	    TEAM_MONTH && p->checks[r.denied].unit == UNIT_USD,
	    "local: denied names the team usd/month check");
	is_int(reserve(w, p, "L6", 2000, 0, 0, dl, &r), BUDGET_OK,
	    "local: team usd at the limit OK");
	settle(w, p, "L6", 2000, 0, 0);

	/* Another app of the same team shares the team counters only. */
	is_int(reserve(w, p2, "M1", 1, 0, 1, dl, &r), BUDGET_DENIED,
	    "local: the team limit binds the team's other app");
	is_amount(&r.state[TEAM_MONTH].used, 10000, 950, 3,
	    "local: the other app sees the team's usage");
	is_amount(&r.state[APP_DAY].used, 0, 0, 0,
	    "local: the other app has its own app counters");
	is_int(reserve(w, p2, "M2", 0, 10, 1, dl, &r), BUDGET_OK,
	    "local: the other app without usd OK");
	settle(w, p2, "M2", 0, 10, 1);
	peek(w, p, &r);
	is_amount(&r.state[TEAM_DAY].used, 10000, 960, 4,
	    "local: team counter sums both apps");
	is_amount(&r.state[APP_DAY].used, 10000, 950, 3,
	    "local: app counter has its own app only");

	budget_local_ops.worker_free(w);
	budget_local_free(store);
	free(p2);
	free(p);
}

static void
test_local_expiry(void)
{
	struct budget_plan	*p;
	struct rec		 r;
	void			*store, *w;
	int64_t			 now = util_now_ms();
	size_t			 k;
	int			 n;

	store = budget_local_new();
	w = budget_local_ops.worker_init(store, NULL);
	p = xcalloc(1, sizeof *p);
	budget_plan_init(p, &s_app, now);

	is_int(reserve(w, p, "E1", 0, 700, 1, now + 30000, &r), BUDGET_OK,
	    "expiry: reserve OK");
	is_int(reserve(w, p, "E2", 0, 400, 1, now + 10 * MIN, &r),
	    BUDGET_DENIED, "expiry: the lease counts before its deadline");
	locked_sweep(store, now + 20000);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].leased, 0, 700, 1,
	    "expiry: a sweep before the deadline keeps the lease");
	locked_sweep(store, now + 60000);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].leased, 0, 0, 0,
	    "expiry: after the deadline the lease stops counting");
	locked_sweep(store, now + 61000);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].leased, 0, 0, 0,
	    "expiry: a second sweep takes nothing off again");
	is_amount(&r.state[APP_DAY].used, 0, 0, 0,
	    "expiry: and nothing is used");
	is_int(reserve(w, p, "E2", 0, 400, 1, now + 10 * MIN, &r),
	    BUDGET_OK, "expiry: the room is back");
	settle(w, p, "E1", 0, 300, 1);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].used, 0, 300, 1,
	    "expiry: a late settle adds its actual");
	is_amount(&r.state[APP_DAY].leased, 0, 400, 1,
	    "expiry: a late settle takes no reserve off again");
	locked_sweep(store, now + 120000);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].leased, 0, 400, 1,
	    "expiry: a live lease survives a sweep");
	settle(w, p, "E2", 0, 350, 1);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].used, 0, 650, 2, "expiry: E2 settled");
	is_amount(&r.state[APP_DAY].leased, 0, 0, 0,
	    "expiry: nothing leased");

	/* An expired lease is forgotten a day after its deadline. */
	is_int(reserve(w, p, "E3", 0, 100, 0, now + 30000, &r), BUDGET_OK,
	    "expiry: E3 reserve OK");
	locked_sweep(store, now + 30000 + KEEP_MS);
	settle(w, p, "E3", 0, 100, 0);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].used, 0, 650, 2,
	    "expiry: a settle a day after the deadline is ignored");
	is_amount(&r.state[APP_DAY].leased, 0, 0, 0,
	    "expiry: and leases nothing");

	/* Counters go two days after their window ends. */
	for (n = 0, k = 0; k < BUDGET_NCOUNTERS; k++)
		n += absent(store, p->counters[k].key);
	is_int(n, 0, "expiry: all ten counters exist");
	locked_sweep(store, p->counters[APP_MINUTE].end_ms + 2 * KEEP_MS);
	ok(absent(store, p->counters[APP_MINUTE].key) &&
	    (!absent(store, p->counters[APP_MONTH].key) ||
	    p->counters[APP_MONTH].end_ms == p->counters[APP_MINUTE].end_ms),
	    "expiry: closed minute counter dropped, month kept");
	locked_sweep(store, now + 40 * DAY);
	for (n = 0, k = 0; k < BUDGET_NCOUNTERS; k++)
		n += absent(store, p->counters[k].key);
	is_int(n, BUDGET_NCOUNTERS, "expiry: 40 days on, all counters gone");

	budget_local_ops.worker_free(w);
	budget_local_free(store);
	free(p);
}

/* After a sweep at time at, does p's app day counter lease tokens? */
static void
is_leased_at(void *store, void *w, struct budget_plan *p, int64_t at,
    int64_t tokens, const char *name)
{
	struct rec	r;

	locked_sweep(store, at);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].leased, 0, tokens, 0, "renew: %s", name);
}

/*
 * A renewed lease counts past its first deadline, up to the new one; one
 * that was not renewed stops at its own; a lease that stopped counting is
 * never brought back.
 */
static void
test_local_renew(void)
{
	struct budget_plan	*p;
	struct rec		 r;
	void			*store, *w;
	int64_t			 now = util_now_ms();

	store = budget_local_new();
	w = budget_local_ops.worker_init(store, NULL);
	p = xcalloc(1, sizeof *p);
	budget_plan_init(p, &s_app, now);

	/* tokens 1000/day */
	is_int(reserve(w, p, "R1", 0, 500, 0, now + 30000, &r), BUDGET_OK,
	    "renew: R1 reserved until now + 30 s");
	is_int(reserve(w, p, "R2", 0, 300, 0, now + 30000, &r), BUDGET_OK,
	    "renew: R2 reserved until now + 30 s");
	renew(w, p, "R1", now + 90000);
	is_leased_at(store, w, p, now + 60000, 500,
	    "at +60 s the renewed R1 still counts, R2 stopped");
	is_int(reserve(w, p, "R3", 0, 501, 0, now + 10 * MIN, &r),
	    BUDGET_DENIED, "renew: R1's hold on the budget is kept");

	/* R2 lapsed: renewing it brings nothing back. */
	renew(w, p, "R2", now + 10 * MIN);
	is_leased_at(store, w, p, now + 61000, 500,
	    "a lapsed lease is not brought back");

	/* Renewal is a new deadline, not forever. */
	is_leased_at(store, w, p, now + 90000, 0,
	    "R1 stops counting at its new deadline");
	renew(w, p, "R1", now + 10 * MIN);
	is_leased_at(store, w, p, now + 5 * MIN, 0,
	    "nothing taken off twice, nothing brought back");

	/* Past its deadline but not swept yet: not renewed either. */
	is_int(reserve(w, p, "R4", 0, 200, 0, now - 1, &r), BUDGET_OK,
	    "renew: R4 reserved with its deadline already passed");
	renew(w, p, "R4", now + 10 * MIN);
	is_leased_at(store, w, p, now + 6 * MIN, 0,
	    "a lease past its deadline before the sweep is not renewed");

	/* Settled or unknown leases: nothing happens. */
	is_int(reserve(w, p, "R5", 0, 100, 0, now + 10 * MIN, &r), BUDGET_OK,
	    "renew: R5 reserved");
	settle(w, p, "R5", 0, 100, 0);
	renew(w, p, "R5", now + 20 * MIN);
	renew(w, p, "nope", now + 20 * MIN);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].leased, 0, 0, 0,
	    "renew: a settled or unknown lease is a no-op (leased)");
	is_amount(&r.state[APP_DAY].used, 0, 100, 0,
	    "renew: a settled or unknown lease is a no-op (used)");

	budget_local_ops.worker_free(w);
	budget_local_free(store);
	free(p);
}

static void
test_local_seed_peek(void)
{
	struct budget_plan	*p;
	struct budget_amount	 a;
	struct rec		 r;
	void			*store, *w;
	int64_t			 now = util_now_ms();
	size_t			 k;
	int			 n;

	store = budget_local_new();
	w = budget_local_ops.worker_init(store, NULL);
	p = xcalloc(1, sizeof *p);
	budget_plan_init(p, &s_app, now);

	peek(w, p, &r);
	is_int(r.res, BUDGET_OK, "peek: empty store OK");
	is_int(r.calls, 1, "peek: calls back once");
	for (n = 0, k = 0; k < BUDGET_NCOUNTERS; k++) {
		n += r.state[k].used.v[UNIT_USD] != 0 ||
		    r.state[k].used.v[UNIT_TOKENS] != 0 ||
		    r.state[k].used.v[UNIT_REQUESTS] != 0 ||
		    r.state[k].leased.v[UNIT_USD] != 0 ||
		    r.state[k].leased.v[UNIT_TOKENS] != 0 ||
		    r.state[k].leased.v[UNIT_REQUESTS] != 0;
	}
	is_int(n, 0, "peek: empty store reads zeros");
	for (n = 0, k = 0; k < BUDGET_NCOUNTERS; k++)
		n += absent(store, p->counters[k].key);
	is_int(n, BUDGET_NCOUNTERS, "peek: creates no counters");

	amount(&a, 100, 200, 3);
	budget_local_seed(store, p->counters[APP_DAY].key,
	    p->counters[APP_DAY].end_ms, &a);
	budget_local_seed(store, p->counters[APP_DAY].key,
	    p->counters[APP_DAY].end_ms, &a);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].used, 200, 400, 6,
	    "seed: adds to used, twice");
	is_amount(&r.state[APP_DAY].leased, 0, 0, 0, "seed: leases nothing");
	ok(absent(store, p->counters[APP_MINUTE].key),
	    "seed: touches only its counter");

	is_int(reserve(w, p, "S1", 0, 601, 0, now + MIN, &r), BUDGET_DENIED,
	    "seed: seeded usage counts against the limit");
	is_int(reserve(w, p, "S1", 0, 600, 0, now + MIN, &r), BUDGET_OK,
	    "seed: up to the limit OK");
	peek(w, p, &r);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].leased, 0, 600, 0,
	    "peek: twice, still one lease");
	budget_local_seed(store, p->counters[APP_DAY].key,
	    p->counters[APP_DAY].end_ms, &a);
	peek(w, p, &r);
	is_amount(&r.state[APP_DAY].used, 300, 600, 9,
	    "seed: adds to a counter with a lease");
	is_amount(&r.state[APP_DAY].leased, 0, 600, 0,
	    "seed: keeps the lease");

	budget_local_ops.worker_free(w);
	budget_local_free(store);
	free(p);
}

/* --- one lock, eight threads -------------------------------------------- */

#define NTHREADS	8
#define MAXTRIES	1000

static struct cfg_limit c_app_limits[] = {
	{ UNIT_REQUESTS, 0, PER_DAY, { 0 }, 0 },	/* set per round */
};
static struct cfg_app c_app = {
	.name = "busy",
	.team = &team_none,
	.tier = &tier_none,
	.limits = c_app_limits,
	.nlimits = nitems(c_app_limits),
};

/* All threads start their loop together, so they do contend. */
static pthread_barrier_t	start_line;

struct worker {
	pthread_t		 thread;
	void			*w;
	int			 n;
	int			 ntries;
	int64_t			 now;
	struct budget_plan	 plan;
	char			 granted[MAXTRIES];
	int			 nok, ndenied, calls;
};

static void *
reserve_main(void *arg)
{
	struct worker	*wk = arg;
	struct rec	 r;
	char		 id[33];
	int		 i;

	pthread_barrier_wait(&start_line);
	for (i = 0; i < wk->ntries; i++) {
		budget_plan_init(&wk->plan, &c_app, wk->now);
		snprintf(id, sizeof id, "w%d-%d", wk->n, i);
		switch (reserve(wk->w, &wk->plan, id, 0, 0, 1,
		    wk->now + HOUR, &r)) {
		case BUDGET_OK:
			wk->granted[i] = 1;
			wk->nok++;
			break;
		case BUDGET_DENIED:
			wk->ndenied++;
			break;
		default:
			break;
		}
		wk->calls += r.calls;
	}
	return (NULL);
}

static void *
settle_main(void *arg)
{
	struct worker	*wk = arg;
	char		 id[33];
	int		 i;

	pthread_barrier_wait(&start_line);
	for (i = 0; i < wk->ntries; i++) {
		if (!wk->granted[i])
			continue;
		snprintf(id, sizeof id, "w%d-%d", wk->n, i);
		settle(wk->w, &wk->plan, id, 0, 0, 1);
		settle(wk->w, &wk->plan, id, 0, 0, 1);	/* must not count */
	}
	return (NULL);
}

static void
run_threads(struct worker *wk, void *(*fn)(void *))
{
	int	i;

	for (i = 0; i < NTHREADS; i++) {
		if (pthread_create(&wk[i].thread, NULL, fn, &wk[i]) != 0)
			abort();
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(wk[i].thread, NULL);
}

/* NTHREADS threads each reserve 1 request ntries times; limit per day. */
static void
test_local_threads(int64_t limit, int ntries)
{
	struct worker		*wk;
	struct budget_plan	*p;
	struct rec		 r;
	void			*store;
	int64_t			 now = util_now_ms();
	int			 i, nok = 0, ndenied = 0, calls = 0, bad;
	size_t			 k;

	c_app_limits[0].amount = limit;
	store = budget_local_new();
	pthread_barrier_init(&start_line, NULL, NTHREADS);
	wk = xcalloc(NTHREADS, sizeof *wk);
	p = xcalloc(1, sizeof *p);
	budget_plan_init(p, &c_app, now);
	for (i = 0; i < NTHREADS; i++) {
		wk[i].w = budget_local_ops.worker_init(store, NULL);
		wk[i].n = i;
		wk[i].ntries = ntries;
		wk[i].now = now;
	}
	run_threads(wk, reserve_main);
	for (i = 0; i < NTHREADS; i++) {
		nok += wk[i].nok;
		ndenied += wk[i].ndenied;
		calls += wk[i].calls;
	}
	is_int(nok, limit, "threads: %d x %d reserves of 1 request, limit "
	    "%lld: %lld OK", NTHREADS, ntries, (long long)limit,
	    (long long)limit);
	is_int(ndenied, NTHREADS * ntries - limit,
	    "threads (limit %lld): the rest DENIED", (long long)limit);
	is_int(calls, NTHREADS * ntries,
	    "threads (limit %lld): one callback each", (long long)limit);
	peek(store, p, &r);
	is_amount(&r.state[APP_DAY].leased, 0, 0, limit,
	    "threads (limit %lld): all leased", (long long)limit);
	is_amount(&r.state[APP_DAY].used, 0, 0, 0,
	    "threads (limit %lld): none used yet", (long long)limit);

	run_threads(wk, settle_main);
	peek(store, p, &r);
	for (bad = 0, k = 0; k < BUDGET_NCOUNTERS; k++) {
		if (r.state[k].used.v[UNIT_REQUESTS] != limit ||
		    r.state[k].used.v[UNIT_USD] != 0 ||
		    r.state[k].used.v[UNIT_TOKENS] != 0 ||
		    r.state[k].leased.v[UNIT_USD] != 0 ||
		    r.state[k].leased.v[UNIT_TOKENS] != 0 ||
		    r.state[k].leased.v[UNIT_REQUESTS] != 0)
			bad++;
	}
	is_int(bad, 0, "threads (limit %lld): settled twice each: every "
	    "counter used %lld requests, nothing leased", (long long)limit,
	    (long long)limit);
	is_int(reserve(store, p, "after", 0, 0, 1, now + HOUR, &r),
	    BUDGET_DENIED, "threads (limit %lld): one more request DENIED",
	    (long long)limit);

	for (i = 0; i < NTHREADS; i++)
		budget_local_ops.worker_free(wk[i].w);
	free(wk);
	free(p);
	pthread_barrier_destroy(&start_line);
	budget_local_free(store);
}

int
main(void)
{
	test_window_cases();
	test_window_sweep();
	set_tz("UTC");
	test_plan_counters();
	test_window_kept();
	test_window_crossing();
	test_open_counters();
	test_plan_checks();
	test_room();
	test_affordable();
	test_remaining();
	test_used_ratio();
	test_local_reserve_settle();
	test_local_expiry();
	test_local_renew();
	test_local_seed_peek();
	test_local_threads(37, 100);
	test_local_threads(3000, 500);
	return (tap_done());
}
