/*
 * tollgate command line: serve, check, keys new, export (and the commands
 * later issues add).  Everything but argument handling lives in
 * libtollgate.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "budget.h"
#include "budget_redis.h"
#include "cfg.h"
#include "export.h"
#include "log.h"
#include "report.h"
#include "server.h"
#include "util.h"
#include "xmalloc.h"

#define DEFAULT_CFG	"conf/tollgate.json"

static const char usage_text[] =
"usage: tollgate [serve] [-c FILE]\n"
"       tollgate check [-c FILE]\n"
"       tollgate keys new --app APP [-c FILE]\n"
"       tollgate export [-c FILE] [--ledger PATH]... --from DATE --to DATE\n"
"                       [--group-by FIELDS] [--format csv|json|focus]\n"
"       tollgate report [-c FILE] [--ledger PATH]... --month YYYY-MM\n"
"                       -o FILE.html\n"
"       tollgate reconcile [-c FILE] [--ledger PATH]...\n"
"       tollgate --version | --help\n"
"\n"
"  serve       run the proxy in the foreground, logging JSON lines to stderr\n"
"  check       validate tollgate.json, models.json and every budget file;\n"
"              errors are printed as file:line:col: message (exit 1)\n"
"  keys new    print a new app key once, and the entry for the budget file\n"
"  export      usage from the ledger(s) to stdout; DATE is YYYY-MM-DD,\n"
"              inclusive, in the configured time zone; FIELDS is a comma\n"
"              list of day,month,team,cost_center,app,tier,provider,model\n"
"              (default day,app,model)\n"
"  report      the month's showback report (spend by team, app and model,\n"
"              daily trend, budget burn-down, denied and estimated usage,\n"
"              idle apps) as one self-contained HTML file\n"
"  reconcile   rebuild the Redis counters of the open windows from the\n"
"              ledgers (one per replica) and drop expired leases\n"
"\n"
"  -c FILE     configuration (default " DEFAULT_CFG ")\n"
"\n"
"See tollgate(8) and tollgate.conf(5).\n";

static void __attribute__((noreturn))
usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	exit(status);
}

/* Load the configuration, printing every error; NULL on failure. */
static struct cfg *
load(const char *path)
{
	struct cfg	*cfg;
	char		**errors = NULL;
	size_t		 nerrors = 0, i;

	if ((cfg = cfg_load(path, &errors, &nerrors)) != NULL)
		return (cfg);
	for (i = 0; i < nerrors; i++)
		fprintf(stderr, "%s\n", errors[i]);
	cfg_errors_free(errors, nerrors);
	fprintf(stderr, "tollgate: %zu error(s)\n", nerrors);
	return (NULL);
}

static int
cmd_check(const char *path)
{
	struct cfg	*cfg;

	if ((cfg = load(path)) == NULL)
		return (1);
	printf("%s: ok (%zu provider(s), %zu model(s), %zu team(s), "
	    "%zu app(s), %zu key(s))\n", path, cfg->nproviders, cfg->nmodels,
	    cfg->nteams, cfg->napps, cfg->nkeys);
	cfg_unref(cfg);
	return (0);
}

static int
cmd_keys_new(const char *path, const char *appname)
{
	struct cfg		*cfg;
	struct cfg_app		*app;
	const char		*pepper;
	char			*key = NULL, *id = NULL, hmac[65];
	int			 rc = 1;

	if ((cfg = load(path)) == NULL)
		return (1);
	if ((app = cfg_find_app(cfg, appname)) == NULL) {
		fprintf(stderr, "tollgate: no app \"%s\" in any budget file "
		    "under %s (add the app first)\n", appname,
		    cfg->budgets_path);
		goto out;
	}
	pepper = getenv(cfg->key_pepper_env);
	if (pepper == NULL || *pepper == '\0') {
		fprintf(stderr, "tollgate: %s is not set: the key's hmac "
		    "depends on the pepper the proxy runs with\n",
		    cfg->key_pepper_env);
		goto out;
	}
	if (auth_key_new((const unsigned char *)pepper, strlen(pepper), &key,
	    &id, hmac) == -1) {
		fprintf(stderr, "tollgate: the random number generator "
		    "failed\n");
		goto out;
	}
	printf("key (shown once; give it to the app's owner):\n  %s\n\n",
	    key);
	printf("add to \"keys\" of app \"%s\" in %s:\n"
	    "  {\"id\": \"%s\", \"hmac\": \"%s\"}\n", app->name,
	    app->team->file, id, hmac);
	rc = 0;
out:
	if (key != NULL) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	free(id);
	cfg_unref(cfg);
	return (rc);
}

static int
cmd_export(const char *path, struct export_opts *opts, const char *groupby,
    const char **ledgers, size_t nledgers)
{
	struct cfg	*cfg;
	char		*cause = NULL;
	int		 rc = 1;

	if ((cfg = load(path)) == NULL)
		return (1);
	if (util_set_timezone(cfg->timezone, &cause) == -1)
		goto err;
	if (export_parse_fields(groupby, opts, &cause) == -1)
		goto err;
	if (nledgers == 0) {
		ledgers[0] = cfg->ledger_path;
		nledgers = 1;
	}
	opts->ledgers = ledgers;
	opts->nledgers = nledgers;
	if (export_run(opts, stdout, &cause) == -1)
		goto err;
	if (fflush(stdout) != 0) {
		xasprintf(&cause, "writing the export failed");
		goto err;
	}
	rc = 0;
	goto out;
err:
	fprintf(stderr, "tollgate export: %s\n", cause);
	free(cause);
out:
	cfg_unref(cfg);
	return (rc);
}

/*
 * Write the showback report of a month to a temporary file beside output,
 * renamed over it only when complete: a failed run leaves no half report.
 */
static int
cmd_report(const char *path, const char *month, const char *output,
    const char **ledgers, size_t nledgers)
{
	struct cfg	*cfg;
	FILE		*f = NULL;
	char		*cause = NULL, *tmp = NULL;
	int		 rc = 1;

	if ((cfg = load(path)) == NULL)
		return (1);
	if (util_set_timezone(cfg->timezone, &cause) == -1)
		goto err;
	if (nledgers == 0) {
		ledgers[0] = cfg->ledger_path;
		nledgers = 1;
	}
	xasprintf(&tmp, "%s.tmp", output);
	if ((f = fopen(tmp, "w")) == NULL) {
		xasprintf(&cause, "%s: %s", tmp, strerror(errno));
		goto err;
	}
	if (report_write(cfg, ledgers, nledgers, month, f, &cause) == -1)
		goto err;
	if (fclose(f) != 0) {
		f = NULL;
		xasprintf(&cause, "%s: %s", tmp, strerror(errno));
		goto err;
	}
	f = NULL;
	if (rename(tmp, output) != 0) {
		xasprintf(&cause, "%s: %s", output, strerror(errno));
		goto err;
	}
	rc = 0;
	goto out;
err:
	fprintf(stderr, "tollgate report: %s\n", cause);
	free(cause);
	if (f != NULL)
		fclose(f);
	if (tmp != NULL)
		unlink(tmp);
out:
	free(tmp);
	cfg_unref(cfg);
	return (rc);
}

struct sums {
	struct sum {
		char			*key;
		int64_t			 end_ms;
		struct budget_amount	 used;
	}			*v;
	size_t			 n;
};

static void
sums_cb(const char *key, int64_t end_ms, const struct budget_amount *used,
    void *arg)
{
	struct sums	*s = arg;

	s->v = xreallocarray(s->v, s->n + 1, sizeof *s->v);
	s->v[s->n].key = xstrdup(key);
	s->v[s->n].end_ms = end_ms;
	s->v[s->n++].used = *used;
}

static int
sum_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct sum *)a)->key,
	    ((const struct sum *)b)->key));
}

/*
 * Rebuild the Redis counters of the open windows from the ledgers (one per
 * replica) and drop expired leases.  The local store needs nothing: it is
 * rebuilt from the ledger at every start.
 */
static int
cmd_reconcile(const char *path, const char **ledgers, size_t nledgers)
{
	struct cfg	*cfg;
	struct sums	 s = { NULL, 0 };
	const char	**keys = NULL;
	int64_t		*ends = NULL, now = util_now_ms();
	struct budget_amount *used = NULL;
	void		*store = NULL;
	char		*cause = NULL;
	size_t		 i, j, n = 0;
	int		 u, rc = 1;

	if ((cfg = load(path)) == NULL)
		return (1);
	if (cfg->store == STORE_LOCAL) {
		printf("counters are local: rebuilt from %s at every start; "
		    "nothing to reconcile\n", cfg->ledger_path);
		rc = 0;
		goto out;
	}
	if (util_set_timezone(cfg->timezone, &cause) == -1)
		goto err;
	if (nledgers == 0) {
		ledgers[0] = cfg->ledger_path;
		nledgers = 1;
	}
	budget_open_counters(cfg, now, sums_cb, &s);
	if (budget_ledger_sums(ledgers, nledgers, now, sums_cb, &s,
	    &cause) == -1)
		goto err;
	/* One entry per counter: the ledgers' sums added up. */
	if (s.n > 0)
		qsort(s.v, s.n, sizeof *s.v, sum_cmp);
	keys = xcalloc(s.n + 1, sizeof *keys);
	ends = xcalloc(s.n + 1, sizeof *ends);
	used = xcalloc(s.n + 1, sizeof *used);
	for (i = 0; i < s.n; i = j) {
		keys[n] = s.v[i].key;
		ends[n] = s.v[i].end_ms;
		used[n] = s.v[i].used;
		for (j = i + 1; j < s.n && strcmp(s.v[j].key, s.v[i].key) == 0;
		    j++) {
			for (u = 0; u < BUDGET_NUNITS; u++)
				used[n].v[u] += s.v[j].used.v[u];
		}
		n++;
	}
	if ((store = budget_redis_new(cfg->redis_url, cfg->redis_timeout_ms,
	    &cause)) == NULL)
		goto err;
	if (budget_redis_reconcile(store, keys, ends, used, n, now,
	    &cause) == -1)
		goto err;
	printf("reconciled %zu counter(s) of the open windows from %zu "
	    "ledger(s)\n", n, nledgers);
	rc = 0;
	goto out;
err:
	fprintf(stderr, "tollgate reconcile: %s\n", cause);
	free(cause);
out:
	budget_redis_free(store);
	for (i = 0; i < s.n; i++)
		free(s.v[i].key);
	free(s.v);
	free(keys);
	free(ends);
	free(used);
	cfg_unref(cfg);
	return (rc);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "app",	required_argument,	NULL, 'a' },
		{ "ledger",	required_argument,	NULL, 'l' },
		{ "from",	required_argument,	NULL, 'f' },
		{ "to",		required_argument,	NULL, 't' },
		{ "group-by",	required_argument,	NULL, 'g' },
		{ "format",	required_argument,	NULL, 'F' },
		{ "month",	required_argument,	NULL, 'm' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct export_opts	 eopts;
	const char		*cfgpath = DEFAULT_CFG, *cmd = "serve";
	const char		*app = NULL, *groupby = NULL, *sub = NULL;
	const char		*month = NULL, *output = NULL;
	const char		**ledgers;
	size_t			 nledgers = 0;
	int			 ch, rc;

	memset(&eopts, 0, sizeof eopts);
	ledgers = xcalloc((size_t)argc + 1, sizeof *ledgers);
	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];
		argv++;
		argc--;
		if (strcmp(cmd, "keys") == 0) {
			if (argc < 2 || strcmp(argv[1], "new") != 0)
				usage(2);
			sub = argv[1];
			argv++;
			argc--;
		}
	}
	while ((ch = getopt_long(argc, argv, "c:ho:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'a':
			app = optarg;
			break;
		case 'l':
			ledgers[nledgers++] = optarg;
			break;
		case 'f':
			eopts.from = optarg;
			break;
		case 't':
			eopts.to = optarg;
			break;
		case 'g':
			groupby = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "csv") == 0)
				eopts.format = EXPORT_CSV;
			else if (strcmp(optarg, "json") == 0)
				eopts.format = EXPORT_JSON;
			else if (strcmp(optarg, "focus") == 0)
				eopts.format = EXPORT_FOCUS;
			else {
				fprintf(stderr, "tollgate: --format is csv, "
				    "json or focus\n");
				exit(2);
			}
			break;
		case 'm':
			month = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("tollgate %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);

	if (strcmp(cmd, "serve") == 0)
		rc = server_run(cfgpath);
	else if (strcmp(cmd, "check") == 0)
		rc = cmd_check(cfgpath);
	else if (strcmp(cmd, "keys") == 0 && sub != NULL) {
		if (app == NULL) {
			fprintf(stderr, "tollgate keys new: --app APP is "
			    "required\n");
			rc = 2;
		} else
			rc = cmd_keys_new(cfgpath, app);
	} else if (strcmp(cmd, "export") == 0) {
		if (eopts.from == NULL || eopts.to == NULL) {
			fprintf(stderr, "tollgate export: --from and --to are "
			    "required (YYYY-MM-DD)\n");
			rc = 2;
		} else
			rc = cmd_export(cfgpath, &eopts, groupby, ledgers,
			    nledgers);
	} else if (strcmp(cmd, "reconcile") == 0)
		rc = cmd_reconcile(cfgpath, ledgers, nledgers);
	else if (strcmp(cmd, "report") == 0) {
		if (month == NULL || output == NULL) {
			fprintf(stderr, "tollgate report: --month YYYY-MM and "
			    "-o FILE.html are required\n");
			rc = 2;
		} else
			rc = cmd_report(cfgpath, month, output, ledgers,
			    nledgers);
	} else {
		fprintf(stderr, "tollgate: unknown command \"%s\"\n", cmd);
		usage(2);
	}
	free(ledgers);
	return (rc);
}
