/*
 * Fuzz target: configuration loading (src/cfg.c, src/jsonpos.c).
 *
 * Input: up to six files separated by lines "--" ("\n--\n" never occurs
 * in valid JSON): tollgate.json, models.json, then budget files
 * budgets/b0.json .. b3.json, written into a scratch directory
 * (TMPDIR/fuzz_cfg.XXXXXX/conf/, so that ".." stays inside it) and loaded
 * with cfg_load().  Seeds name "models.json" and "budgets".
 *
 * Invariants: a generation comes back exactly when there is no error;
 * every error is one line of UTF-8 without control characters,
 * "FILE:LINE:COL: message" with LINE and COL >= 1 and FILE inside the
 * scratch directory; a generation's lookup arrays are
 * sorted and find each of their entries, and its back pointers are set.
 * Leaks are the sanitizer's to report.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cfg.h"
#include "fuzz.h"
#include "xmalloc.h"

#define SEP		"\n--\n"
#define NFILES		6

static const char *const names[NFILES] = {
	"tollgate.json", "models.json", "budgets/b0.json", "budgets/b1.json",
	"budgets/b2.json", "budgets/b3.json"
};

static char	*top;		/* the scratch directory */
static char	*conf;		/* top/conf: where the files go */
static regex_t	 errre;

static void
cleanup(void)
{
	char	*p;
	size_t	 i;

	for (i = 0; i < NFILES; i++) {
		xasprintf(&p, "%s/%s", conf, names[i]);
		unlink(p);
		free(p);
	}
	xasprintf(&p, "%s/budgets", conf);
	rmdir(p);
	free(p);
	rmdir(conf);
	rmdir(top);
	free(conf);
	free(top);
	regfree(&errre);
}

static void
setup(void)
{
	const char	*tmp;
	char		*p;

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	xasprintf(&top, "%s/fuzz_cfg.XXXXXX", tmp);
	FUZZ_ASSERT(mkdtemp(top) != NULL);
	xasprintf(&conf, "%s/conf", top);
	FUZZ_ASSERT(mkdir(conf, 0700) == 0);
	xasprintf(&p, "%s/budgets", conf);
	FUZZ_ASSERT(mkdir(p, 0700) == 0);
	free(p);
	FUZZ_ASSERT(regcomp(&errre, "^(.+):([0-9]+):([0-9]+): (.+)$",
	    REG_EXTENDED) == 0);
	atexit(cleanup);
}

/* Write the file (or remove it when buf is NULL). */
static void
put(const char *name, const char *buf, size_t len)
{
	char	*p;
	ssize_t	 n;
	int	 fd;

	xasprintf(&p, "%s/%s", conf, name);
	if (buf == NULL) {
		unlink(p);
		free(p);
		return;
	}
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	FUZZ_ASSERT(fd != -1);
	while (len > 0) {
		n = write(fd, buf, len);
		FUZZ_ASSERT(n > 0);
		buf += n;
		len -= (size_t)n;
	}
	close(fd);
	free(p);
}

static void
check_error(const char *e)
{
	regmatch_t	 m[5];
	json_t		*j;	/* new */
	const char	*p;

	/* One line of UTF-8: tollgate check, the reload log and answer. */
	FUZZ_ASSERT(e != NULL);
	for (p = e; *p != '\0'; p++)
		FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
	FUZZ_ASSERT((j = json_string(e)) != NULL);
	json_decref(j);
	if (regexec(&errre, e, 5, m, 0) != 0) {
		fprintf(stderr, "not file:line:col: %s\n", e);
		FUZZ_ASSERT(!"an error without file:line:col");
	}
	FUZZ_ASSERT(strncmp(e, top, strlen(top)) == 0);
	FUZZ_ASSERT(e[m[2].rm_so] != '0' && e[m[3].rm_so] != '0');
}

static void
check_cfg(const struct cfg *cfg)
{
	size_t	 i, j;

	for (i = 0; i < cfg->nproviders; i++) {
		FUZZ_ASSERT(cfg_find_provider(cfg, cfg->providers[i].name) ==
		    &cfg->providers[i]);
		FUZZ_ASSERT(cfg->providers[i].nendpoints > 0);
	}
	for (i = 0; i < cfg->nmodels; i++) {
		FUZZ_ASSERT(cfg_find_model(cfg, cfg->models[i].name) ==
		    &cfg->models[i]);
		FUZZ_ASSERT(cfg->models[i].provider != NULL);
	}
	for (i = 0; i < cfg->ntiers; i++)
		FUZZ_ASSERT(cfg_find_tier(cfg, cfg->tiers[i].name) ==
		    &cfg->tiers[i]);
	for (i = 0; i < cfg->nteams; i++) {
		for (j = 0; j < cfg->teams[i].napps; j++) {
			FUZZ_ASSERT(cfg->teams[i].apps[j].team ==
			    &cfg->teams[i]);
			FUZZ_ASSERT(cfg->teams[i].apps[j].tier != NULL);
			FUZZ_ASSERT(cfg_find_app(cfg,
			    cfg->teams[i].apps[j].name) ==
			    &cfg->teams[i].apps[j]);
		}
	}
	for (i = 0; i < cfg->nkeys; i++) {
		FUZZ_ASSERT(cfg_find_key(cfg, cfg->keys[i]->id,
		    strlen(cfg->keys[i]->id)) == cfg->keys[i]);
		FUZZ_ASSERT(cfg->keys[i]->app != NULL &&
		    cfg->keys[i]->app->team != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 ready;
	const char	*p = (const char *)data, *end = p + size, *s;
	struct cfg	*cfg;
	char		*path, **errors;
	size_t		 nerrors, i;

	if (!ready) {
		setup();
		ready = 1;
	}
	for (i = 0; i < NFILES; i++) {
		if (p == NULL) {
			put(names[i], NULL, 0);
			continue;
		}
		s = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
		if (s == NULL || i == NFILES - 1) {
			put(names[i], p, (size_t)(end - p));
			p = NULL;
		} else {
			put(names[i], p, (size_t)(s - p));
			p = s + strlen(SEP);
		}
	}

	xasprintf(&path, "%s/tollgate.json", conf);
	cfg = cfg_load(path, &errors, &nerrors);
	free(path);
	FUZZ_ASSERT((cfg != NULL) == (nerrors == 0));
	FUZZ_ASSERT((errors != NULL) == (nerrors != 0));
	for (i = 0; i < nerrors; i++)
		check_error(errors[i]);
	cfg_errors_free(errors, nerrors);
	if (cfg != NULL)
		check_cfg(cfg);
	cfg_unref(cfg);
	return (0);
}
