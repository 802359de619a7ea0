/*
 * Monthly showback report: one self-contained HTML file (inline CSS and
 * inline SVG, no scripts, nothing fetched) with the month's spend by team,
 * app and model, the daily trend, budget burn-down, denied and estimated
 * usage, and configured apps without traffic.  Ledgers are read and merged
 * as the export does (export_open()); dates are in the process time zone
 * (util_set_timezone()).  Every printed amount comes from integer nano-USD
 * sums; floating point only places chart elements.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>
#include <stdio.h>

struct cfg;

/*
 * Write the report for month ("YYYY-MM") from the n ledgers (borrowed
 * paths, one per replica, merged by request_id) to out.  cfg (borrowed)
 * names the teams, apps and limits.  Returns 0, or -1 with *cause set
 * (caller frees).
 */
int	 report_write(const struct cfg *cfg, const char * const *ledgers,
	    size_t n, const char *month, FILE *out, char **cause);

#endif
