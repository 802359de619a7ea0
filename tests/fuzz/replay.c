/*
 * Replay driver for the fuzz targets (varnish-cache, h2o style).  Linked
 * with one fuzz_<target>.c in place of libFuzzer, it runs the target over
 * the files given as arguments (a directory stands for its files), by
 * default over the committed corpus $top_srcdir/tests/fuzz/corpus/<target>/,
 * <target> being the program's name without "replay_".  So make check
 * keeps every target building and every crash ever found fixed, in builds
 * without clang too.
 *
 * Output is TAP with the plan first, one test point per input, each input
 * named in a comment before it runs.  A failed invariant, a crash or a
 * sanitizer report ends the program before its plan is complete, and the
 * TAP driver fails the test.  Each input is copied into a buffer of
 * exactly its size, as libFuzzer does, so that ASan sees a read past it.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xmalloc.h"

struct inputs {
	char	**path;
	size_t	  n;
};

static void
inputs_add(struct inputs *in, char *path)
{
	in->path = xreallocarray(in->path, in->n + 1, sizeof *in->path);
	in->path[in->n++] = path;
}

static int
path_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* A file, or a directory's files (sorted, dot files skipped). */
static int
inputs_collect(struct inputs *in, const char *path)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*dp;
	size_t		 first = in->n;
	char		*p;

	if (stat(path, &sb) == -1) {
		printf("# %s: %s\n", path, strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(sb.st_mode)) {
		inputs_add(in, xstrdup(path));
		return (0);
	}
	if ((dp = opendir(path)) == NULL) {
		printf("# %s: %s\n", path, strerror(errno));
		return (-1);
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		xasprintf(&p, "%s/%s", path, de->d_name);
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
			inputs_add(in, p);
		else
			free(p);
	}
	closedir(dp);
	if (in->n == first) {
		printf("# %s: no inputs\n", path);
		return (-1);
	}
	qsort(in->path + first, in->n - first, sizeof *in->path, path_cmp);
	return (0);
}

/*
 * The whole file in a buffer of exactly its size; never NULL, as with
 * libFuzzer, but an empty input gets malloc(0), which ASan lets no one
 * read.
 */
static int
read_input(const char *path, uint8_t **buf, size_t *len)
{
	FILE	*f;
	uint8_t	 chunk[8192];
	size_t	 n;

	*len = 0;
	if ((f = fopen(path, "rb")) == NULL)
		return (-1);
	if ((*buf = malloc(0)) == NULL)
		*buf = xmalloc(1);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		*buf = xreallocarray(*buf, *len + n, 1);
		memcpy(*buf + *len, chunk, n);
		*len += n;
	}
	if (ferror(f)) {
		fclose(f);
		free(*buf);
		return (-1);
	}
	fclose(f);
	return (0);
}

int
main(int argc, char **argv)
{
	struct inputs	 in;
	const char	*name, *top;
	char		*dir;
	uint8_t		*buf;
	size_t		 len, i;
	int		 bad = 0, failed = 0;

	memset(&in, 0, sizeof in);
	if (argc > 1) {
		for (i = 1; i < (size_t)argc; i++)
			bad |= inputs_collect(&in, argv[i]);
	} else {
		name = strrchr(argv[0], '/') != NULL ?
		    strrchr(argv[0], '/') + 1 : argv[0];
		if (strncmp(name, "replay_", 7) == 0)
			name += 7;
		if ((top = getenv("top_srcdir")) == NULL)
			top = ".";
		xasprintf(&dir, "%s/tests/fuzz/corpus/%s", top, name);
		bad |= inputs_collect(&in, dir);
		free(dir);
	}
	if (bad) {
		printf("1..1\nnot ok 1 - inputs to replay\n");
		return (1);
	}

	printf("1..%zu\n", in.n);
	fflush(stdout);
	for (i = 0; i < in.n; i++) {
		printf("# %s\n", in.path[i]);
		fflush(stdout);
		if (read_input(in.path[i], &buf, &len) == -1) {
			printf("not ok %zu - %s: %s\n", i + 1, in.path[i],
			    strerror(errno));
			failed = 1;
		} else {
			LLVMFuzzerTestOneInput(buf, len);
			free(buf);
			printf("ok %zu - %s\n", i + 1, in.path[i]);
		}
		fflush(stdout);
		free(in.path[i]);
	}
	free(in.path);
	return (failed);
}
