/*
 * Configuration loader.
 *
 * cfg_load() reads tollgate.json, the models.json price table it names and
 * every budgets/<team>.json file, and builds one immutable generation.  The
 * files are parsed with jansson (duplicate keys refused); jsonpos indexes
 * the same text so that a semantic error (unknown key, bad type, unknown
 * provider ...) can name the line and column of the offending key or value.
 * Parsing never stops at the first error: every problem is collected as
 * "file:line:col: message", the list is sorted by file and position, and
 * the whole generation is refused when it is not empty (sshd -t).
 *
 * Order of work: tollgate.json scalars and providers, then models.json
 * (models point to providers), then tiers (rules name models), then the
 * budget files (apps name tiers and models).  Arrays are sorted by name
 * before anything takes a pointer into them, and back pointers (key -> app
 * -> team) are set once at the end, after the last sort.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cfg.h"
#include "jsonpos.h"
#include "price.h"
#include "util.h"
#include "xmalloc.h"

#define CFG_MAX_FILE		(16 * 1024 * 1024)
#define CFG_MAX_NAME		64
#define CFG_MAX_MODEL_NAME	128

#define CFG_REQ		0x1	/* the key must be present */
#define CFG_NULLOK	0x2	/* null is the same as absent */
#define CFG_EMPTYOK	0x4	/* "" is a valid string */

struct cfg_err {
	char	*text;
	size_t	 fidx;
	int	 line;
	int	 col;
	size_t	 seq;
};

/* One JSON file being parsed. */
struct cfg_file {
	char		*name;		/* for messages: path as opened */
	char		*dir;		/* absolute directory */
	size_t		 fidx;		/* order of opening */
	char		*text;
	size_t		 len;
	json_t		*root;		/* new reference */
	struct jsonpos	*pos;
};

/* A name that must be unique across files (team, app, key id). */
struct cfg_seen {
	char	*name;
	char	*fname;
	size_t	 fidx;
	int	 line;
	int	 col;
	size_t	 seq;
};

struct cfg_seenlist {
	struct cfg_seen	*v;
	size_t		 n;
};

struct cfg_ctx {
	struct cfg		*cfg;
	struct cfg_err		*errs;
	size_t			 nerrs;
	size_t			 nfiles;
	int			 models_ok;	/* check model names */
	char			*models_name;	/* models.json for messages */
	char			*budgets_name;	/* budgets dir for messages */
	struct cfg_seenlist	 teams;
	struct cfg_seenlist	 apps;
	struct cfg_seenlist	 keys;
};

static const char *const cfg_per_names[] = {
	"minute", "hour", "day", "week", "month", NULL
};
static const char *const cfg_unit_names[] = {
	"usd", "tokens", "requests", NULL
};
static const char *const cfg_default_tiers[] = {
	"pilot", "production", "sandbox"
};

static void	cfg_free(struct cfg *);

/* --- small helpers ------------------------------------------------------ */

/* xcalloc() that accepts n == 0 (and then returns NULL). */
static void *
cfg_calloc(size_t n, size_t size)
{
	if (n == 0)
		return (NULL);
	return (xcalloc(n, size));
}

static const char *
cfg_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return ("an object");
	case JSON_ARRAY:
		return ("an array");
	case JSON_STRING:
		return ("a string");
	case JSON_INTEGER:
		return ("an integer");
	case JSON_REAL:
		return ("a number");
	case JSON_TRUE:
	case JSON_FALSE:
		return ("a boolean");
	case JSON_NULL:
		return ("null");
	}
	return ("something else");
}

/* JSON Pointer of parent's member key (RFC 6901 escaping). */
static char *
cfg_ptr(const char *parent, const char *key)
{
	char		*out;
	const char	*k;
	size_t		 n = 0, plen = strlen(parent);

	for (k = key; *k != '\0'; k++)
		n += (*k == '~' || *k == '/') ? 2 : 1;
	out = xmalloc(plen + n + 2);
	memcpy(out, parent, plen);
	n = plen;
	out[n++] = '/';
	for (k = key; *k != '\0'; k++) {
		if (*k == '~' || *k == '/') {
			out[n++] = '~';
			out[n++] = *k == '~' ? '0' : '1';
		} else
			out[n++] = *k;
	}
	out[n] = '\0';
	return (out);
}

static char *
cfg_ptr_idx(const char *parent, size_t i)
{
	char	*out;

	xasprintf(&out, "%s/%zu", parent, i);
	return (out);
}

static void __attribute__((format(printf, 6, 0)))
cfg_verror_at(struct cfg_ctx *ctx, const char *fname, size_t fidx, int line,
    int col, const char *fmt, va_list ap)
{
	struct cfg_err	*e;
	char		*msg;

	if (line < 1)
		line = 1;
	if (col < 1)
		col = 1;
	xvasprintf(&msg, fmt, ap);
	ctx->errs = xreallocarray(ctx->errs, ctx->nerrs + 1, sizeof *ctx->errs);
	e = &ctx->errs[ctx->nerrs];
	xasprintf(&e->text, "%s:%d:%d: %s", fname, line, col, msg);
	/* One line each, and JSON can carry it (POST /admin/reload). */
	util_printable(e->text);
	e->fidx = fidx;
	e->line = line;
	e->col = col;
	e->seq = ctx->nerrs++;
	free(msg);
}

static void __attribute__((format(printf, 6, 7)))
cfg_error_at(struct cfg_ctx *ctx, const char *fname, size_t fidx, int line,
    int col, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	cfg_verror_at(ctx, fname, fidx, line, col, fmt, ap);
	va_end(ap);
}

/*
 * Report an error at the value at ptr in f (or at its key when key is
 * set).
 */
static void __attribute__((format(printf, 5, 6)))
cfg_error(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr, int key,
    const char *fmt, ...)
{
	va_list	ap;
	int	line, col;

	jsonpos_find(f->pos, ptr, key, &line, &col);
	va_start(ap, fmt);
	cfg_verror_at(ctx, f->name, f->fidx, line, col, fmt, ap);
	va_end(ap);
}

/* Error at parent's member key (its value when key is 0). */
static void __attribute__((format(printf, 6, 7)))
cfg_error_member(struct cfg_ctx *ctx, struct cfg_file *f, const char *parent,
    const char *name, int key, const char *fmt, ...)
{
	va_list	 ap;
	char	*ptr;
	int	 line, col;

	ptr = cfg_ptr(parent, name);
	jsonpos_find(f->pos, ptr, key, &line, &col);
	free(ptr);
	va_start(ap, fmt);
	cfg_verror_at(ctx, f->name, f->fidx, line, col, fmt, ap);
	va_end(ap);
}

/* Edit distance, for "did you mean" (short strings only). */
static size_t
cfg_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, prev, cur, tmp;
	size_t	row[65];

	if (la > 64 || lb > 64)
		return (SIZE_MAX);
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			cur = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < cur)
				cur = row[j] + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			row[j] = cur;
			prev = tmp;
		}
	}
	return (row[lb]);
}

static const char *
cfg_suggest(const char *key, const char *const *known)
{
	const char	*best = NULL;
	size_t		 d, bestd = SIZE_MAX, i, max;

	for (i = 0; known[i] != NULL; i++) {
		if (strcasecmp(key, known[i]) == 0)
			return (known[i]);
		d = cfg_distance(key, known[i]);
		max = strlen(known[i]) <= 4 ? 1 : 2;
		if (d <= max && d < bestd) {
			best = known[i];
			bestd = d;
		}
	}
	return (best);
}

/* Report every key of obj that is not in known. */
static void
cfg_check_keys(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *const *known, const char *where)
{
	const char	*key, *hint;
	json_t		*v;		/* borrowed */
	size_t		 i;

	json_object_foreach(obj, key, v) {
		for (i = 0; known[i] != NULL; i++) {
			if (strcmp(key, known[i]) == 0)
				break;
		}
		if (known[i] != NULL)
			continue;
		if ((hint = cfg_suggest(key, known)) != NULL)
			cfg_error_member(ctx, f, ptr, key, 1,
			    "unknown key \"%s\" in %s (did you mean \"%s\"?)",
			    key, where, hint);
		else
			cfg_error_member(ctx, f, ptr, key, 1,
			    "unknown key \"%s\" in %s", key, where);
	}
}

/* "a", "b" or "c" */
static char *
cfg_list(const char *const *names, size_t n)
{
	char	*out, *tmp;
	size_t	 i;

	if (n == 0)
		return (xstrdup("none"));
	xasprintf(&out, "\"%s\"", names[0]);
	for (i = 1; i < n; i++) {
		xasprintf(&tmp, "%s%s\"%s\"", out, i == n - 1 ? " or " : ", ",
		    names[i]);
		free(out);
		out = tmp;
	}
	return (out);
}

static size_t
cfg_count(const char *const *names)
{
	size_t	n = 0;

	while (names[n] != NULL)
		n++;
	return (n);
}

/* Team, app, tier and provider names: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
static int
cfg_valid_name(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9'))
			continue;
		if (i > 0 && (s[i] == '.' || s[i] == '_' || s[i] == '-'))
			continue;
		return (0);
	}
	return (i >= 1 && i <= CFG_MAX_NAME);
}

/* Model names: 1-128 printable characters, no glob or quoting ones. */
static int
cfg_valid_model_name(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] <= ' ' || s[i] >= 0x7f || strchr("*?[]\\\"", s[i]))
			return (0);
	}
	return (i >= 1 && i <= CFG_MAX_MODEL_NAME);
}

static int
cfg_valid_env(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z'))
			continue;
		if (i > 0 && s[i] >= '0' && s[i] <= '9')
			continue;
		return (0);
	}
	return (i >= 1 && i <= 128);
}

static int
cfg_valid_key_id(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return (0);
	}
	return (i >= 4 && i <= 32);
}

static int
cfg_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* --- paths -------------------------------------------------------------- */

static char *
cfg_dirname(const char *path)
{
	const char	*slash;

	if ((slash = strrchr(path, '/')) == NULL)
		return (xstrdup("."));
	if (slash == path)
		return (xstrdup("/"));
	return (xstrndup(path, (size_t)(slash - path)));
}

/* rel relative to dir (which may itself be relative; "." is dropped). */
static char *
cfg_join(const char *dir, const char *rel)
{
	char	*out;

	if (rel[0] == '/' || strcmp(dir, ".") == 0)
		return (xstrdup(rel));
	if (strcmp(dir, "/") == 0)
		xasprintf(&out, "/%s", rel);
	else
		xasprintf(&out, "%s/%s", dir, rel);
	return (out);
}

/* Lexically drop "." and ".." components and repeated slashes. */
static char *
cfg_clean(const char *path)
{
	const char	*seg;
	char		*out;
	size_t		 n = 0, len, i = 0;

	out = xmalloc(strlen(path) + 2);
	while (path[i] != '\0') {
		while (path[i] == '/')
			i++;
		seg = path + i;
		len = strcspn(seg, "/");
		i += len;
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		out[n++] = '/';
		memcpy(out + n, seg, len);
		n += len;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return (out);
}

/*
 * Absolute path of rel relative to the absolute directory dir: resolved
 * with realpath(3) when it exists, else its parent, else lexically.
 */
static char *
cfg_abspath(const char *dir, const char *rel)
{
	char	*joined, *parent = NULL, *out = NULL, *base;
	char	 buf[PATH_MAX];

	joined = cfg_join(dir, rel);
	if (realpath(joined, buf) != NULL) {
		out = xstrdup(buf);
		goto out;
	}
	parent = cfg_dirname(joined);
	base = (base = strrchr(joined, '/')) != NULL ? base + 1 : joined;
	if (*base != '\0' && strcmp(base, "..") != 0 &&
	    strcmp(base, ".") != 0 && realpath(parent, buf) != NULL) {
		if (strcmp(buf, "/") == 0)
			xasprintf(&out, "/%s", base);
		else
			xasprintf(&out, "%s/%s", buf, base);
		goto out;
	}
	out = cfg_clean(joined);
out:
	free(parent);
	free(joined);
	return (out);
}

/* --- typed getters: 1 present and valid, 0 absent, -1 reported ---------- */

static json_t *
cfg_get(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, int flags)
{
	json_t	*v;		/* borrowed */

	v = json_object_get(obj, key);
	if (v == NULL && (flags & CFG_REQ))
		cfg_error(ctx, f, ptr, 0, "missing required key \"%s\"", key);
	if (v != NULL && json_is_null(v) && (flags & CFG_NULLOK))
		v = NULL;
	return (v);
}

static int
cfg_want(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    const char *key, json_t *v, json_type type, const char *what)
{
	if (json_typeof(v) == type)
		return (0);
	if (type == JSON_TRUE && json_is_boolean(v))
		return (0);
	cfg_error_member(ctx, f, ptr, key, 0, "\"%s\": expected %s, got %s",
	    key, what, cfg_type_name(v));
	return (-1);
}

static int
cfg_get_str(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, int flags, const char **out)
{
	json_t	*v;		/* borrowed */

	if ((v = cfg_get(ctx, f, ptr, obj, key, flags)) == NULL)
		return ((flags & CFG_REQ) && json_object_get(obj, key) ==
		    NULL ? -1 : 0);
	if (cfg_want(ctx, f, ptr, key, v, JSON_STRING,
	    (flags & CFG_NULLOK) ? "a string or null" : "a string") == -1)
		return (-1);
	if (!(flags & CFG_EMPTYOK) && json_string_length(v) == 0) {
		cfg_error_member(ctx, f, ptr, key, 0,
		    "\"%s\": must not be empty", key);
		return (-1);
	}
	*out = json_string_value(v);
	return (1);
}

/* An integer, or a number with an integral value (2e6). */
static int
cfg_as_int(json_t *v, long long *out)
{
	double	d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return (0);
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (isfinite(d) && d == floor(d) && fabs(d) < 9.0e15) {
			*out = (long long)d;
			return (0);
		}
	}
	return (-1);
}

static int
cfg_get_int(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, int flags, long long min, long long max,
    long long *out)
{
	json_t		*v;		/* borrowed */
	long long	 n;

	if ((v = cfg_get(ctx, f, ptr, obj, key, flags)) == NULL)
		return (flags & CFG_REQ ? -1 : 0);
	if (cfg_as_int(v, &n) == -1 || n < min || n > max) {
		if (json_is_number(v))
			cfg_error_member(ctx, f, ptr, key, 0,
			    "\"%s\": expected an integer from %lld to %lld, "
			    "got %g", key, min, max, json_number_value(v));
		else
			cfg_error_member(ctx, f, ptr, key, 0,
			    "\"%s\": expected an integer from %lld to %lld, "
			    "got %s", key, min, max, cfg_type_name(v));
		return (-1);
	}
	*out = n;
	return (1);
}

static int
cfg_get_bool(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, int *out)
{
	json_t	*v;		/* borrowed */

	if ((v = cfg_get(ctx, f, ptr, obj, key, 0)) == NULL)
		return (0);
	if (cfg_want(ctx, f, ptr, key, v, JSON_TRUE,
	    "true or false") == -1)
		return (-1);
	*out = json_is_true(v);
	return (1);
}

static int
cfg_get_enum(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, int flags, const char *const *names,
    int *out)
{
	const char	*s;
	char		*list;
	int		 rv, i;

	if ((rv = cfg_get_str(ctx, f, ptr, obj, key, flags, &s)) != 1)
		return (rv);
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return (1);
		}
	}
	list = cfg_list(names, cfg_count(names));
	cfg_error_member(ctx, f, ptr, key, 0,
	    "\"%s\": unknown value \"%s\" (expected %s)", key, s, list);
	free(list);
	return (-1);
}

/* A number in (0, 1]. */
static int
cfg_ratio(json_t *v, double *out)
{
	double	d;

	if (!json_is_number(v))
		return (-1);
	d = json_number_value(v);
	if (!isfinite(d) || d <= 0 || d > 1)
		return (-1);
	*out = d;
	return (0);
}

/*
 * USD amount into nano-USD.  Up to $1e9 the product usd * 1e9 stays below
 * 2^53, so rounding it gives the exact value of a decimal written with up
 * to 9 places.
 */
static int
cfg_usd_to_nusd(double usd, int64_t *out)
{
	long long	v;

	if (!isfinite(usd) || usd <= 0 || usd > 1e9)
		return (-1);
	v = llround(usd * 1e9);
	if (v < 1)
		return (-1);
	*out = v;
	return (0);
}

static char *
cfg_read_all(const char *path, size_t *lenp, char **cause)
{
	struct stat	 sb;
	char		*buf = NULL, *ret = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1) {
		*cause = xstrdup(strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &sb) == -1) {
		*cause = xstrdup(strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		*cause = xstrdup("not a regular file");
		goto out;
	}
	if (sb.st_size > CFG_MAX_FILE) {
		xasprintf(cause, "larger than %d bytes", CFG_MAX_FILE);
		goto out;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	for (;;) {
		n = read(fd, buf + len, (size_t)sb.st_size + 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			*cause = xstrdup(strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)sb.st_size) {
			*cause = xstrdup("file grew while being read");
			goto out;
		}
	}
	buf[len] = '\0';
	*lenp = len;
	ret = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return (ret);
}

static void
cfg_file_free(struct cfg_file *f)
{
	if (f == NULL)
		return;
	free(f->name);
	free(f->dir);
	free(f->text);
	json_decref(f->root);
	jsonpos_free(f->pos);
	free(f);
}

/*
 * Open and parse one file.  name is used in messages; path is absolute
 * (or as given, for tollgate.json).  When it cannot be read, the error
 * goes to (ref, refptr): the key that named the file.
 */
static struct cfg_file *
cfg_file_open(struct cfg_ctx *ctx, const char *name, const char *path,
    struct cfg_file *ref, const char *refptr, const char *what)
{
	struct cfg_file	*f = NULL, *ret = NULL;
	json_error_t	 jerr;
	char		*cause = NULL, *dir = NULL, buf[PATH_MAX];

	f = xcalloc(1, sizeof *f);
	f->name = xstrdup(name);
	f->fidx = ctx->nfiles++;
	dir = cfg_dirname(path);
	if (realpath(dir, buf) != NULL)
		f->dir = xstrdup(buf);
	else
		f->dir = cfg_abspath(".", dir);	/* best effort */

	if ((f->text = cfg_read_all(path, &f->len, &cause)) == NULL) {
		if (ref != NULL)
			cfg_error(ctx, ref, refptr, 0,
			    "cannot read %s \"%s\": %s", what, path, cause);
		else
			cfg_error_at(ctx, name, f->fidx, 1, 1,
			    "cannot read %s: %s", what, cause);
		goto out;
	}
	f->root = json_loadb(f->text, f->len, JSON_REJECT_DUPLICATES, &jerr);
	if (f->root == NULL) {
		cfg_error_at(ctx, name, f->fidx, jerr.line, jerr.column,
		    "%s", jerr.text);
		goto out;
	}
	f->pos = jsonpos_new(f->text, f->len);
	if (!json_is_object(f->root)) {
		cfg_error(ctx, f, "", 0, "expected a JSON object at the top "
		    "level, got %s", cfg_type_name(f->root));
		goto out;
	}
	ret = f;
	f = NULL;
out:
	free(cause);
	free(dir);
	cfg_file_free(f);
	return (ret);
}

/* Is path (absolute) a readable file?  Reports at (f, ptr, key). */
static int
cfg_check_readable(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    const char *key, const char *path)
{
	struct stat	sb;

	if (access(path, R_OK) == -1 || stat(path, &sb) == -1) {
		cfg_error_member(ctx, f, ptr, key, 0,
		    "\"%s\": cannot read \"%s\": %s", key, path,
		    strerror(errno));
		return (-1);
	}
	if (!S_ISREG(sb.st_mode)) {
		cfg_error_member(ctx, f, ptr, key, 0,
		    "\"%s\": \"%s\" is not a regular file", key, path);
		return (-1);
	}
	return (0);
}

/* --- addresses and URLs ------------------------------------------------- */

static int
cfg_valid_host(const char *h, size_t len, int v6)
{
	size_t	i, colons = 0;

	if (len == 0 || len > 253)
		return (0);
	for (i = 0; i < len; i++) {
		if (v6) {
			if (h[i] == ':')
				colons++;
			else if (!((h[i] >= '0' && h[i] <= '9') ||
			    (h[i] >= 'a' && h[i] <= 'f') ||
			    (h[i] >= 'A' && h[i] <= 'F') || h[i] == '.'))
				return (0);
		} else if (!((h[i] >= '0' && h[i] <= '9') ||
		    (h[i] >= 'a' && h[i] <= 'z') ||
		    (h[i] >= 'A' && h[i] <= 'Z') || h[i] == '.' ||
		    h[i] == '-' || h[i] == '_'))
			return (0);
	}
	return (!v6 || colons >= 2);
}

/*
 * Split "host:port" or "[v6]:port" at the authority s[0..len).  The port
 * is optional when defport is non-zero.  Points *host, *hostlen at the
 * host without brackets.
 */
static int
cfg_split_hostport(const char *s, size_t len, int defport, const char **host,
    size_t *hostlen, int *v6, int *port, const char **cause)
{
	const char	*colon, *end = s + len, *rb;
	long long	 n;

	*v6 = 0;
	if (len > 0 && s[0] == '[') {
		if ((rb = memchr(s, ']', len)) == NULL) {
			*cause = "has \"[\" without \"]\"";
			return (-1);
		}
		*host = s + 1;
		*hostlen = (size_t)(rb - s - 1);
		*v6 = 1;
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon != NULL && *colon != ':') {
			*cause = "has characters after \"]\" other than "
			    "\":port\"";
			return (-1);
		}
	} else {
		colon = memchr(s, ':', len);
		*host = s;
		*hostlen = colon != NULL ? (size_t)(colon - s) : len;
		if (colon != NULL && memchr(colon + 1, ':',
		    (size_t)(end - colon - 1)) != NULL) {
			*cause = "has an IPv6 address without brackets "
			    "(write \"[::1]:8080\")";
			return (-1);
		}
	}
	if (!cfg_valid_host(*host, *hostlen, *v6)) {
		*cause = *hostlen == 0 ? "has no host" : "has an invalid host";
		return (-1);
	}
	if (colon == NULL) {
		if (defport == 0) {
			*cause = "has no port (expected \"host:port\")";
			return (-1);
		}
		*port = defport;
		return (0);
	}
	/* A listen address (no default port) may ask for any free port. */
	if (util_strtoll(colon + 1, (size_t)(end - colon - 1),
	    defport == 0 ? 0 : 1, 65535, &n) == -1) {
		*cause = defport == 0 ?
		    "has an invalid port (expected 0 to 65535)" :
		    "has an invalid port (expected 1 to 65535)";
		return (-1);
	}
	*port = (int)n;
	return (0);
}

static int
cfg_check_listen(const char *s, const char **cause)
{
	const char	*host;
	size_t		 hostlen;
	int		 v6, port;

	return (cfg_split_hostport(s, strlen(s), 0, &host, &hostlen, &v6,
	    &port, cause));
}

static void
cfg_endpoint_free(struct cfg_endpoint *ep)
{
	free(ep->url);
	free(ep->host);
	free(ep->path_prefix);
	free(ep->authority);
	free(ep->pool_key);
}

/* ep->pool_key, for connections verified with ca_file (NULL: the system's). */
static void
cfg_endpoint_key(struct cfg_endpoint *ep, const char *ca_file)
{
	free(ep->pool_key);
	xasprintf(&ep->pool_key, "%s://%s:%d|%s", ep->tls ? "https" : "http",
	    ep->host, ep->port, ca_file != NULL ? ca_file : "");
}

/*
 * Parse http[s]://host[:port][/prefix] into ep.  With query set, a query
 * and a fragment are allowed (webhooks) and kept in nothing but ep->url.
 */
static int
cfg_parse_url(const char *url, int query, struct cfg_endpoint *ep,
    const char **cause)
{
	const char	*p, *path, *end, *host, *q;
	size_t		 hostlen, plen;
	int		 tls, v6, port;

	memset(ep, 0, sizeof *ep);
	if (strncasecmp(url, "https://", 8) == 0) {
		tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		tls = 0;
		p = url + 7;
	} else {
		*cause = "must start with http:// or https://";
		return (-1);
	}
	for (q = url; *q != '\0'; q++) {
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f) {
			*cause = "must not contain spaces or control "
			    "characters";
			return (-1);
		}
	}
	end = p + strcspn(p, "?#");
	if (*end != '\0' && !query) {
		*cause = "must not have a query or a fragment";
		return (-1);
	}
	path = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(path - p)) != NULL) {
		*cause = "must not contain user information (\"user@\")";
		return (-1);
	}
	if (cfg_split_hostport(p, (size_t)(path - p), tls ? 443 : 80, &host,
	    &hostlen, &v6, &port, cause) == -1)
		return (-1);
	plen = (size_t)(end - path);
	while (plen > 0 && path[plen - 1] == '/')
		plen--;

	ep->url = xstrdup(url);
	ep->tls = tls;
	ep->host = xstrndup(host, hostlen);
	ep->port = port;
	ep->path_prefix = xstrndup(path, plen);
	if (port == (tls ? 443 : 80))
		xasprintf(&ep->authority, v6 ? "[%s]" : "%s", ep->host);
	else
		xasprintf(&ep->authority, v6 ? "[%s]:%d" : "%s:%d", ep->host,
		    port);
	cfg_endpoint_key(ep, NULL);
	return (0);
}

/* "listen": "h:p" or ["h:p", ...]. */
static void
cfg_parse_listen(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, char ***out, size_t *nout)
{
	json_t		*v, *e;		/* borrowed */
	char		*vptr = NULL, *eptr;
	const char	*cause;
	size_t		 i;

	if ((v = cfg_get(ctx, f, ptr, obj, key, CFG_REQ)) == NULL)
		return;
	vptr = cfg_ptr(ptr, key);
	if (json_is_string(v)) {
		if (cfg_check_listen(json_string_value(v), &cause) == -1) {
			cfg_error(ctx, f, vptr, 0, "\"%s\": \"%s\" %s", key,
			    json_string_value(v), cause);
			goto out;
		}
		*out = xcalloc(1, sizeof **out);
		(*out)[(*nout)++] = xstrdup(json_string_value(v));
		goto out;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		cfg_error(ctx, f, vptr, 0, "\"%s\": expected a \"host:port\" "
		    "string or a non-empty array of them, got %s", key,
		    json_is_array(v) ? "an empty array" : cfg_type_name(v));
		goto out;
	}
	*out = xcalloc(json_array_size(v), sizeof **out);
	json_array_foreach(v, i, e) {
		eptr = cfg_ptr_idx(vptr, i);
		if (!json_is_string(e))
			cfg_error(ctx, f, eptr, 0, "\"%s\" item %zu: expected "
			    "a \"host:port\" string, got %s", key, i + 1,
			    cfg_type_name(e));
		else if (cfg_check_listen(json_string_value(e), &cause) == -1)
			cfg_error(ctx, f, eptr, 0, "\"%s\": \"%s\" %s", key,
			    json_string_value(e), cause);
		else
			(*out)[(*nout)++] = xstrdup(json_string_value(e));
		free(eptr);
	}
out:
	free(vptr);
}

/* A string naming an environment variable. */
static void
cfg_parse_env(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, int flags, char **out)
{
	const char	*s;

	if (cfg_get_str(ctx, f, ptr, obj, key, flags, &s) != 1)
		return;
	if (!cfg_valid_env(s)) {
		cfg_error_member(ctx, f, ptr, key, 0, "\"%s\": \"%s\" is not "
		    "an environment variable name", key, s);
		return;
	}
	free(*out);
	*out = xstrdup(s);
}

/* --- limits and model rules --------------------------------------------- */

static const char *const cfg_limit_keys[] = {
	"usd", "tokens", "requests", "per", "alert_at", NULL
};

static void
cfg_parse_limit(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, struct cfg_limit *l, int *okp)
{
	json_t		*v, *a;		/* borrowed */
	const char	*unitkey = NULL;
	char		*aptr = NULL, *eptr;
	long long	 n;
	size_t		 i;
	int		 u, per, ok = 1;

	*okp = 0;
	cfg_check_keys(ctx, f, ptr, obj, cfg_limit_keys, "a limit");
	for (u = UNIT_USD; u <= UNIT_REQUESTS; u++) {
		if (json_object_get(obj, cfg_unit_names[u]) == NULL)
			continue;
		if (unitkey != NULL) {
			cfg_error_member(ctx, f, ptr, cfg_unit_names[u], 1,
			    "a limit has exactly one of \"usd\", \"tokens\" "
			    "or \"requests\" (this one also has \"%s\")",
			    unitkey);
			ok = 0;
			continue;
		}
		unitkey = cfg_unit_names[u];
		l->unit = (enum cfg_unit)u;
	}
	if (unitkey == NULL) {
		cfg_error(ctx, f, ptr, 0, "a limit needs one of \"usd\", "
		    "\"tokens\" or \"requests\"");
		ok = 0;
	} else if (l->unit == UNIT_USD) {
		v = json_object_get(obj, unitkey);
		if (!json_is_number(v) ||
		    cfg_usd_to_nusd(json_number_value(v), &l->amount) == -1) {
			cfg_error_member(ctx, f, ptr, unitkey, 0,
			    "\"usd\": expected a positive number of dollars "
			    "up to 1000000000, got %s", json_is_number(v) ?
			    "a number out of range" : cfg_type_name(v));
			ok = 0;
		}
	} else {
		if (cfg_get_int(ctx, f, ptr, obj, unitkey, 0, 1,
		    l->unit == UNIT_TOKENS ? 1000000000000000LL :
		    1000000000000LL, &n) == 1)
			l->amount = n;
		else
			ok = 0;
	}
	if (cfg_get_enum(ctx, f, ptr, obj, "per", CFG_REQ, cfg_per_names,
	    &per) == 1)
		l->per = (enum cfg_per)per;
	else
		ok = 0;

	if ((v = cfg_get(ctx, f, ptr, obj, "alert_at", 0)) == NULL)
		goto out;
	aptr = cfg_ptr(ptr, "alert_at");
	if (!json_is_array(v) || json_array_size(v) > CFG_MAX_ALERTS) {
		cfg_error(ctx, f, aptr, 0, "\"alert_at\": expected an array "
		    "of at most %d ratios, got %s", CFG_MAX_ALERTS,
		    json_is_array(v) ? "more" : cfg_type_name(v));
		ok = 0;
		goto out;
	}
	json_array_foreach(v, i, a) {
		if (cfg_ratio(a, &l->alert_at[l->nalert]) == 0) {
			l->nalert++;
			continue;
		}
		eptr = cfg_ptr_idx(aptr, i);
		cfg_error(ctx, f, eptr, 0, "\"alert_at\": expected a ratio "
		    "above 0 and at most 1, got %s", json_is_number(a) ?
		    "a number out of range" : cfg_type_name(a));
		free(eptr);
		ok = 0;
	}
out:
	free(aptr);
	*okp = ok;
}

static void
cfg_parse_limits(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, struct cfg_limit **out, size_t *nout)
{
	json_t	*v, *e;		/* borrowed */
	char	*vptr, *eptr;
	size_t	 i;
	int	 ok;

	if ((v = cfg_get(ctx, f, ptr, obj, "limits", 0)) == NULL)
		return;
	vptr = cfg_ptr(ptr, "limits");
	if (!json_is_array(v)) {
		cfg_error(ctx, f, vptr, 0, "\"limits\": expected an array of "
		    "limits, got %s", cfg_type_name(v));
		free(vptr);
		return;
	}
	*out = cfg_calloc(json_array_size(v), sizeof **out);
	json_array_foreach(v, i, e) {
		eptr = cfg_ptr_idx(vptr, i);
		if (!json_is_object(e))
			cfg_error(ctx, f, eptr, 0, "\"limits\" item %zu: "
			    "expected an object such as {\"usd\": 100, "
			    "\"per\": \"month\"}, got %s", i + 1,
			    cfg_type_name(e));
		else {
			memset(&(*out)[*nout], 0, sizeof **out);
			cfg_parse_limit(ctx, f, eptr, e, &(*out)[*nout], &ok);
			if (ok)
				(*nout)++;
		}
		free(eptr);
	}
	free(vptr);
}

/* Report name at (f, ptr) when it is not a model in models.json. */
static int
cfg_check_model_ref(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    const char *what, const char *name)
{
	if (!ctx->models_ok || cfg_find_model(ctx->cfg, name) != NULL)
		return (0);
	cfg_error(ctx, f, ptr, 0, "%s \"%s\" is not a model in %s", what,
	    name, ctx->models_name);
	return (-1);
}

static void
cfg_parse_globs(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, char ***out, size_t *nout)
{
	json_t	*v, *e;		/* borrowed */
	char	*vptr, *eptr;
	size_t	 i;

	if ((v = cfg_get(ctx, f, ptr, obj, key, 0)) == NULL)
		return;
	vptr = cfg_ptr(ptr, key);
	if (!json_is_array(v)) {
		cfg_error(ctx, f, vptr, 0, "\"%s\": expected an array of "
		    "model names or globs, got %s", key, cfg_type_name(v));
		goto out;
	}
	if (json_array_size(v) == 0) {
		if (strcmp(key, "allow") == 0)
			cfg_error(ctx, f, vptr, 0, "\"allow\": empty list "
			    "would allow nothing; leave \"allow\" out to "
			    "allow every model, or deny with \"deny\"");
		goto out;
	}
	*out = xcalloc(json_array_size(v), sizeof **out);
	json_array_foreach(v, i, e) {
		if (json_is_string(e) && json_string_length(e) > 0 &&
		    json_string_length(e) <= 256) {
			(*out)[(*nout)++] = xstrdup(json_string_value(e));
			continue;
		}
		eptr = cfg_ptr_idx(vptr, i);
		cfg_error(ctx, f, eptr, 0, "\"%s\" item %zu: expected a model "
		    "name or glob such as \"gpt-4o*\", got %s", key, i + 1,
		    json_is_string(e) ? "a string that is empty or too long" :
		    cfg_type_name(e));
		free(eptr);
	}
out:
	free(vptr);
}

static const char *const cfg_rules_keys[] = {
	"allow", "deny", "alias", "downgrade", "max_output_tokens", NULL
};
static const char *const cfg_downgrade_keys[] = {
	"when_used", "from", "to", NULL
};

static int
cfg_alias_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct cfg_alias *)a)->from,
	    ((const struct cfg_alias *)b)->from));
}

static void
cfg_parse_downgrade(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, struct cfg_model_rules *r)
{
	struct cfg_downgrade	*d;
	json_t			*v, *e, *w;	/* borrowed */
	char			*vptr, *eptr, *p;
	const char		*from, *to;
	size_t			 i;
	int			 ok;

	if ((v = cfg_get(ctx, f, ptr, obj, "downgrade", 0)) == NULL)
		return;
	vptr = cfg_ptr(ptr, "downgrade");
	if (!json_is_array(v)) {
		cfg_error(ctx, f, vptr, 0, "\"downgrade\": expected an array "
		    "of {\"when_used\", \"from\", \"to\"}, got %s",
		    cfg_type_name(v));
		free(vptr);
		return;
	}
	r->downgrade = cfg_calloc(json_array_size(v), sizeof *r->downgrade);
	json_array_foreach(v, i, e) {
		eptr = cfg_ptr_idx(vptr, i);
		if (!json_is_object(e)) {
			cfg_error(ctx, f, eptr, 0, "\"downgrade\" item %zu: "
			    "expected an object, got %s", i + 1,
			    cfg_type_name(e));
			free(eptr);
			continue;
		}
		cfg_check_keys(ctx, f, eptr, e, cfg_downgrade_keys,
		    "a downgrade rule");
		d = &r->downgrade[r->ndowngrade];
		ok = 1;
		if ((w = cfg_get(ctx, f, eptr, e, "when_used", CFG_REQ)) ==
		    NULL)
			ok = 0;
		else if (cfg_ratio(w, &d->when_used) == -1) {
			cfg_error_member(ctx, f, eptr, "when_used", 0,
			    "\"when_used\": expected a ratio above 0 and at "
			    "most 1, got %s", json_is_number(w) ?
			    "a number out of range" : cfg_type_name(w));
			ok = 0;
		}
		from = to = NULL;
		if (cfg_get_str(ctx, f, eptr, e, "from", CFG_REQ, &from) != 1)
			ok = 0;
		else {
			p = cfg_ptr(eptr, "from");
			if (cfg_check_model_ref(ctx, f, p, "\"from\":",
			    from) == -1)
				ok = 0;
			free(p);
		}
		if (cfg_get_str(ctx, f, eptr, e, "to", CFG_REQ, &to) != 1)
			ok = 0;
		else {
			p = cfg_ptr(eptr, "to");
			if (cfg_check_model_ref(ctx, f, p, "\"to\":",
			    to) == -1)
				ok = 0;
			free(p);
		}
		if (ok) {
			d->from = xstrdup(from);
			d->to = xstrdup(to);
			r->ndowngrade++;
		}
		free(eptr);
	}
	free(vptr);
}

static void
cfg_parse_rules(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *where, struct cfg_model_rules *r)
{
	struct cfg_alias	*a;
	json_t			*v, *t, *to;	/* borrowed */
	char			*vptr = NULL, *tptr, *w;
	const char		*name;
	long long		 n;

	if ((v = cfg_get(ctx, f, ptr, obj, "models", 0)) == NULL)
		return;
	vptr = cfg_ptr(ptr, "models");
	if (!json_is_object(v)) {
		cfg_error(ctx, f, vptr, 0, "\"models\": expected an object "
		    "with \"allow\", \"deny\", \"alias\", ..., got %s",
		    cfg_type_name(v));
		goto out;
	}
	xasprintf(&w, "\"models\" of %s", where);
	cfg_check_keys(ctx, f, vptr, v, cfg_rules_keys, w);
	free(w);
	cfg_parse_globs(ctx, f, vptr, v, "allow", &r->allow, &r->nallow);
	cfg_parse_globs(ctx, f, vptr, v, "deny", &r->deny, &r->ndeny);

	if ((t = cfg_get(ctx, f, vptr, v, "alias", 0)) != NULL) {
		if (!json_is_object(t))
			cfg_error_member(ctx, f, vptr, "alias", 0, "\"alias\": "
			    "expected an object of name: model, got %s",
			    cfg_type_name(t));
		else {
			tptr = cfg_ptr(vptr, "alias");
			r->alias = cfg_calloc(json_object_size(t),
			    sizeof *r->alias);
			json_object_foreach(t, name, to) {
				if (!json_is_string(to)) {
					cfg_error_member(ctx, f, tptr, name, 0,
					    "alias \"%s\": expected a model "
					    "name, got %s", name,
					    cfg_type_name(to));
					continue;
				}
				w = cfg_ptr(tptr, name);
				if (cfg_check_model_ref(ctx, f, w, "alias "
				    "target", json_string_value(to)) == 0) {
					a = &r->alias[r->nalias++];
					a->from = xstrdup(name);
					a->to = xstrdup(json_string_value(to));
				}
				free(w);
			}
			if (r->nalias > 0)
				qsort(r->alias, r->nalias, sizeof *r->alias,
				    cfg_alias_cmp);
			free(tptr);
		}
	}
	cfg_parse_downgrade(ctx, f, vptr, v, r);
	if (cfg_get_int(ctx, f, vptr, v, "max_output_tokens", 0, 1,
	    100000000, &n) == 1)
		r->max_output_tokens = n;
out:
	free(vptr);
}

static void
cfg_rules_free(struct cfg_model_rules *r)
{
	size_t	i;

	for (i = 0; i < r->nallow; i++)
		free(r->allow[i]);
	free(r->allow);
	for (i = 0; i < r->ndeny; i++)
		free(r->deny[i]);
	free(r->deny);
	for (i = 0; i < r->nalias; i++) {
		free(r->alias[i].from);
		free(r->alias[i].to);
	}
	free(r->alias);
	for (i = 0; i < r->ndowngrade; i++) {
		free(r->downgrade[i].from);
		free(r->downgrade[i].to);
	}
	free(r->downgrade);
}

/* --- tollgate.json ------------------------------------------------------ */

static const char *const cfg_top_keys[] = {
	"listen", "tls", "admin", "workers", "timezone", "key_pepper_env",
	"providers", "models", "budgets", "tiers", "counters", "ledger",
	"alerts", "limits", "log", NULL
};
static const char *const cfg_tls_keys[] = {
	"listen", "cert", "key", NULL
};
static const char *const cfg_admin_keys[] = {
	"listen", "token_env", NULL
};
static const char *const cfg_provider_keys[] = {
	"api", "base_url", "endpoints", "key_env", "ca_file",
	"connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms",
	"eject_after", "eject_ms", NULL
};
static const char *const cfg_api_names[] = {
	"openai", "anthropic", NULL
};
static const char *const cfg_counters_keys[] = {
	"store", "url", "timeout_ms", "on_error", "lease_ttl_s", NULL
};
static const char *const cfg_store_names[] = {
	"local", "redis", NULL
};
static const char *const cfg_on_error_names[] = {
	"deny", "allow", NULL
};
static const char *const cfg_ledger_keys[] = {
	"path", NULL
};
static const char *const cfg_alerts_keys[] = {
	"webhook", NULL
};
static const char *const cfg_limits_keys[] = {
	"max_header_bytes", "max_body_bytes", "header_timeout_s",
	"max_connections", "drain_timeout_s", NULL
};
static const char *const cfg_log_keys[] = {
	"level", "access", NULL
};
static const char *const cfg_log_levels[] = {
	"error", "warn", "info", "debug", NULL
};
static const char *const cfg_tier_keys[] = {
	"limits", "models", NULL
};

/* A sub-object: NULL when absent; reports when it is not an object. */
static json_t *
cfg_get_obj(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, int flags)
{
	json_t	*v;		/* borrowed */

	if ((v = cfg_get(ctx, f, ptr, obj, key, flags)) == NULL)
		return (NULL);
	if (cfg_want(ctx, f, ptr, key, v, JSON_OBJECT, "an object") == -1)
		return (NULL);
	return (v);
}

/* A path relative to f's directory, made absolute. */
static int
cfg_get_path(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *key, int flags, char **out)
{
	const char	*s;
	int		 rv;

	if ((rv = cfg_get_str(ctx, f, ptr, obj, key, flags, &s)) != 1)
		return (rv);
	free(*out);
	*out = cfg_abspath(f->dir, s);
	return (1);
}

static void
cfg_parse_tls(struct cfg_ctx *ctx, struct cfg_file *f, json_t *root)
{
	struct cfg	*cfg = ctx->cfg;
	json_t		*tls;		/* borrowed */

	if ((tls = cfg_get_obj(ctx, f, "", root, "tls", 0)) == NULL)
		return;
	cfg_check_keys(ctx, f, "/tls", tls, cfg_tls_keys, "\"tls\"");
	cfg_parse_listen(ctx, f, "/tls", tls, "listen", &cfg->tls_listen,
	    &cfg->ntls_listen);
	if (cfg_get_path(ctx, f, "/tls", tls, "cert", CFG_REQ,
	    &cfg->tls_cert) == 1)
		cfg_check_readable(ctx, f, "/tls", "cert", cfg->tls_cert);
	if (cfg_get_path(ctx, f, "/tls", tls, "key", CFG_REQ,
	    &cfg->tls_key) == 1)
		cfg_check_readable(ctx, f, "/tls", "key", cfg->tls_key);
}

static void
cfg_parse_endpoint(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    const char *label, json_t *v, struct cfg_provider *p)
{
	const char	*cause;

	if (!json_is_string(v)) {
		cfg_error(ctx, f, ptr, 0, "%s: expected a URL string, got %s",
		    label, cfg_type_name(v));
		return;
	}
	if (cfg_parse_url(json_string_value(v), 0,
	    &p->endpoints[p->nendpoints], &cause) == -1) {
		cfg_error(ctx, f, ptr, 0, "%s: URL \"%s\" %s", label,
		    json_string_value(v), cause);
		return;
	}
	p->nendpoints++;
}

static void
cfg_parse_provider(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *v, struct cfg_provider *p)
{
	json_t			*bu, *eps, *e;	/* borrowed */
	char			*where, *aptr, *eptr, *label;
	const char		*env;
	long long		 n;
	size_t			 i;
	int			 api;

	p->connect_timeout_ms = 5000;
	p->first_byte_timeout_ms = 120000;
	p->idle_timeout_ms = 60000;
	p->eject_after = 5;
	p->eject_ms = 30000;
	if (!json_is_object(v)) {
		cfg_error(ctx, f, ptr, 0, "provider \"%s\": expected an "
		    "object, got %s", p->name, cfg_type_name(v));
		return;
	}
	xasprintf(&where, "provider \"%s\"", p->name);
	cfg_check_keys(ctx, f, ptr, v, cfg_provider_keys, where);
	free(where);

	if (cfg_get_enum(ctx, f, ptr, v, "api", CFG_REQ, cfg_api_names,
	    &api) == 1)
		p->api = (enum cfg_api)api;

	bu = json_object_get(v, "base_url");
	eps = json_object_get(v, "endpoints");
	if (bu != NULL && eps != NULL)
		cfg_error_member(ctx, f, ptr, "endpoints", 1, "provider "
		    "\"%s\" has both \"base_url\" and \"endpoints\"; give "
		    "one", p->name);
	else if (bu == NULL && eps == NULL)
		cfg_error(ctx, f, ptr, 0, "provider \"%s\" needs \"base_url\" "
		    "or \"endpoints\"", p->name);
	else if (bu != NULL) {
		p->endpoints = xcalloc(1, sizeof *p->endpoints);
		eptr = cfg_ptr(ptr, "base_url");
		cfg_parse_endpoint(ctx, f, eptr, "\"base_url\"", bu, p);
		free(eptr);
	} else if (!json_is_array(eps) || json_array_size(eps) == 0)
		cfg_error_member(ctx, f, ptr, "endpoints", 0, "\"endpoints\": "
		    "expected a non-empty array of URLs, got %s",
		    json_is_array(eps) ? "an empty array" :
		    cfg_type_name(eps));
	else {
		p->endpoints = xcalloc(json_array_size(eps),
		    sizeof *p->endpoints);
		aptr = cfg_ptr(ptr, "endpoints");
		json_array_foreach(eps, i, e) {
			eptr = cfg_ptr_idx(aptr, i);
			xasprintf(&label, "\"endpoints\" item %zu", i + 1);
			cfg_parse_endpoint(ctx, f, eptr, label, e, p);
			free(label);
			free(eptr);
		}
		free(aptr);
	}

	cfg_parse_env(ctx, f, ptr, v, "key_env", CFG_REQ, &p->key_env);
	if (p->key_env != NULL && (env = getenv(p->key_env)) != NULL &&
	    *env != '\0')
		p->key = xstrdup(env);
	if (cfg_get_path(ctx, f, ptr, v, "ca_file", CFG_NULLOK,
	    &p->ca_file) == 1)
		cfg_check_readable(ctx, f, ptr, "ca_file", p->ca_file);
	for (i = 0; p->ca_file != NULL && i < p->nendpoints; i++)
		cfg_endpoint_key(&p->endpoints[i], p->ca_file);
	if (cfg_get_int(ctx, f, ptr, v, "connect_timeout_ms", 0, 1, 600000,
	    &n) == 1)
		p->connect_timeout_ms = (int)n;
	if (cfg_get_int(ctx, f, ptr, v, "first_byte_timeout_ms", 0, 1,
	    3600000, &n) == 1)
		p->first_byte_timeout_ms = (int)n;
	if (cfg_get_int(ctx, f, ptr, v, "idle_timeout_ms", 0, 1, 3600000,
	    &n) == 1)
		p->idle_timeout_ms = (int)n;
	if (cfg_get_int(ctx, f, ptr, v, "eject_after", 0, 1, 1000, &n) == 1)
		p->eject_after = (int)n;
	if (cfg_get_int(ctx, f, ptr, v, "eject_ms", 0, 100, 3600000,
	    &n) == 1)
		p->eject_ms = (int)n;
}

static int
cfg_provider_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct cfg_provider *)a)->name,
	    ((const struct cfg_provider *)b)->name));
}

static char *
cfg_provider_list(const struct cfg *cfg)
{
	const char	**names;
	char		 *out;
	size_t		  i;

	if (cfg->nproviders == 0)
		return (xstrdup("none"));
	names = xcalloc(cfg->nproviders, sizeof *names);
	for (i = 0; i < cfg->nproviders; i++)
		names[i] = cfg->providers[i].name;
	out = cfg_list(names, cfg->nproviders);
	free(names);
	return (out);
}

static void
cfg_parse_providers(struct cfg_ctx *ctx, struct cfg_file *f, json_t *root)
{
	struct cfg		*cfg = ctx->cfg;
	struct cfg_provider	*p;
	json_t			*obj, *v;	/* borrowed */
	const char		*name;
	char			*ptr;

	if ((obj = cfg_get_obj(ctx, f, "", root, "providers", CFG_REQ)) ==
	    NULL)
		return;
	if (json_object_size(obj) == 0) {
		cfg_error(ctx, f, "/providers", 0, "\"providers\": configure "
		    "at least one provider");
		return;
	}
	cfg->providers = xcalloc(json_object_size(obj),
	    sizeof *cfg->providers);
	json_object_foreach(obj, name, v) {
		if (!cfg_valid_name(name)) {
			cfg_error_member(ctx, f, "/providers", name, 1,
			    "provider name \"%s\" must be 1 to %d letters, "
			    "digits, '.', '_' or '-'", name, CFG_MAX_NAME);
			continue;
		}
		p = &cfg->providers[cfg->nproviders++];
		p->name = xstrdup(name);
		ptr = cfg_ptr("/providers", name);
		cfg_parse_provider(ctx, f, ptr, v, p);
		free(ptr);
	}
	qsort(cfg->providers, cfg->nproviders, sizeof *cfg->providers,
	    cfg_provider_cmp);
}

static int
cfg_check_timezone(const char *tz)
{
	struct stat	 sb;
	char		*path;
	int		 ok;

	if (strcmp(tz, "UTC") == 0)
		return (0);
	if (tz[0] == '/' || strstr(tz, "..") != NULL)
		return (-1);
	xasprintf(&path, "/usr/share/zoneinfo/%s", tz);
	ok = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	free(path);
	return (ok ? 0 : -1);
}

static void
cfg_parse_misc(struct cfg_ctx *ctx, struct cfg_file *f, json_t *root)
{
	struct cfg		*cfg = ctx->cfg;
	struct cfg_endpoint	 ep;
	json_t			*o;		/* borrowed */
	const char		*s, *cause;
	long long		 n;
	size_t			 i;
	int			 e;

	if ((o = cfg_get_obj(ctx, f, "", root, "admin", 0)) != NULL) {
		cfg_check_keys(ctx, f, "/admin", o, cfg_admin_keys,
		    "\"admin\"");
		if (cfg_get_str(ctx, f, "/admin", o, "listen", 0, &s) == 1) {
			if (cfg_check_listen(s, &cause) == -1)
				cfg_error_member(ctx, f, "/admin", "listen", 0,
				    "\"listen\": \"%s\" %s", s, cause);
			else {
				free(cfg->admin_listen);
				cfg->admin_listen = xstrdup(s);
			}
		}
		cfg_parse_env(ctx, f, "/admin", o, "token_env", 0,
		    &cfg->admin_token_env);
	}
	for (i = 0; i < cfg->nlisten; i++) {
		/* Port 0 means "any free port": never the same socket. */
		if (strcmp(cfg->listen[i], cfg->admin_listen) == 0 &&
		    strcmp(cfg->listen[i] + strlen(cfg->listen[i]) - 2,
		    ":0") != 0)
			cfg_error(ctx, f, json_object_get(root, "admin") ?
			    "/admin/listen" : "/listen", 0, "admin listen "
			    "address \"%s\" is also a proxy listen address",
			    cfg->admin_listen);
	}

	if (cfg_get_int(ctx, f, "", root, "workers", 0, 0, 256, &n) == 1)
		cfg->workers = (int)n;
	if (cfg_get_str(ctx, f, "", root, "timezone", 0, &s) == 1) {
		if (cfg_check_timezone(s) == -1)
			cfg_error(ctx, f, "/timezone", 0, "\"timezone\": "
			    "unknown time zone \"%s\" (no /usr/share/zoneinfo/"
			    "%s; use \"UTC\" or an IANA name such as "
			    "\"Europe/Berlin\")", s, s);
		else {
			free(cfg->timezone);
			cfg->timezone = xstrdup(s);
		}
	}
	cfg_parse_env(ctx, f, "", root, "key_pepper_env", 0,
	    &cfg->key_pepper_env);

	if ((o = cfg_get_obj(ctx, f, "", root, "counters", 0)) != NULL) {
		cfg_check_keys(ctx, f, "/counters", o, cfg_counters_keys,
		    "\"counters\"");
		if (cfg_get_enum(ctx, f, "/counters", o, "store", CFG_REQ,
		    cfg_store_names, &e) == 1)
			cfg->store = (enum cfg_store)e;
		if (cfg_get_str(ctx, f, "/counters", o, "url", 0, &s) == 1) {
			if (strncmp(s, "redis://", 8) != 0 &&
			    strncmp(s, "rediss://", 9) != 0 &&
			    strncmp(s, "unix://", 7) != 0)
				cfg_error(ctx, f, "/counters/url", 0,
				    "\"url\": \"%s\" must start with "
				    "redis://, rediss:// or unix://", s);
			else {
				free(cfg->redis_url);
				cfg->redis_url = xstrdup(s);
			}
		}
		if (cfg_get_int(ctx, f, "/counters", o, "timeout_ms", 0, 1,
		    60000, &n) == 1)
			cfg->redis_timeout_ms = (int)n;
		if (cfg_get_enum(ctx, f, "/counters", o, "on_error", 0,
		    cfg_on_error_names, &e) == 1)
			cfg->redis_on_error_allow = e;
		if (cfg_get_int(ctx, f, "/counters", o, "lease_ttl_s", 0, 1,
		    86400, &n) == 1)
			cfg->lease_ttl_s = (int)n;
	}

	if ((o = cfg_get_obj(ctx, f, "", root, "ledger", CFG_REQ)) != NULL) {
		cfg_check_keys(ctx, f, "/ledger", o, cfg_ledger_keys,
		    "\"ledger\"");
		cfg_get_path(ctx, f, "/ledger", o, "path", CFG_REQ,
		    &cfg->ledger_path);
	}

	if ((o = cfg_get_obj(ctx, f, "", root, "alerts", 0)) != NULL) {
		cfg_check_keys(ctx, f, "/alerts", o, cfg_alerts_keys,
		    "\"alerts\"");
		if (cfg_get_str(ctx, f, "/alerts", o, "webhook", CFG_NULLOK,
		    &s) == 1) {
			if (cfg_parse_url(s, 1, &ep, &cause) == -1)
				cfg_error(ctx, f, "/alerts/webhook", 0,
				    "\"webhook\": URL \"%s\" %s", s, cause);
			else {
				const char	*t = strstr(s, "://") + 3;

				cfg->alerts_webhook = xstrdup(s);
				cfg->alerts_ep = xmalloc(sizeof ep);
				*cfg->alerts_ep = ep;
				t += strcspn(t, "/?#");
				xasprintf(&cfg->alerts_target, "%s%.*s",
				    *t == '/' ? "" : "/", (int)strcspn(t, "#"),
				    t);
			}
		}
	}

	if ((o = cfg_get_obj(ctx, f, "", root, "limits", 0)) != NULL) {
		cfg_check_keys(ctx, f, "/limits", o, cfg_limits_keys,
		    "\"limits\"");
		if (cfg_get_int(ctx, f, "/limits", o, "max_header_bytes", 0,
		    1024, 16777216, &n) == 1)
			cfg->max_header_bytes = (size_t)n;
		if (cfg_get_int(ctx, f, "/limits", o, "max_body_bytes", 0,
		    1024, 1073741824, &n) == 1)
			cfg->max_body_bytes = (size_t)n;
		if (cfg_get_int(ctx, f, "/limits", o, "header_timeout_s", 0,
		    1, 3600, &n) == 1)
			cfg->header_timeout_s = (int)n;
		if (cfg_get_int(ctx, f, "/limits", o, "max_connections", 0,
		    1, 1000000, &n) == 1)
			cfg->max_connections = (int)n;
		if (cfg_get_int(ctx, f, "/limits", o, "drain_timeout_s", 0,
		    0, 3600, &n) == 1)
			cfg->drain_timeout_s = (int)n;
	}

	if ((o = cfg_get_obj(ctx, f, "", root, "log", 0)) != NULL) {
		cfg_check_keys(ctx, f, "/log", o, cfg_log_keys, "\"log\"");
		if (cfg_get_enum(ctx, f, "/log", o, "level", 0,
		    cfg_log_levels, &e) == 1) {
			free(cfg->log_level);
			cfg->log_level = xstrdup(cfg_log_levels[e]);
		}
		cfg_get_bool(ctx, f, "/log", o, "access", &cfg->log_access);
	}
}

static int
cfg_tier_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct cfg_tier *)a)->name,
	    ((const struct cfg_tier *)b)->name));
}

static void
cfg_parse_tiers(struct cfg_ctx *ctx, struct cfg_file *f, json_t *root)
{
	struct cfg	*cfg = ctx->cfg;
	struct cfg_tier	*t;
	json_t		*obj, *v;	/* borrowed */
	const char	*name;
	char		*ptr, *where;
	size_t		 i;

	if (json_object_get(root, "tiers") == NULL) {
		cfg->ntiers = nitems(cfg_default_tiers);
		cfg->tiers = xcalloc(cfg->ntiers, sizeof *cfg->tiers);
		for (i = 0; i < cfg->ntiers; i++)
			cfg->tiers[i].name = xstrdup(cfg_default_tiers[i]);
		return;
	}
	if ((obj = cfg_get_obj(ctx, f, "", root, "tiers", 0)) == NULL)
		return;
	cfg->tiers = cfg_calloc(json_object_size(obj), sizeof *cfg->tiers);
	json_object_foreach(obj, name, v) {
		if (!cfg_valid_name(name)) {
			cfg_error_member(ctx, f, "/tiers", name, 1, "tier name "
			    "\"%s\" must be 1 to %d letters, digits, '.', '_' "
			    "or '-'", name, CFG_MAX_NAME);
			continue;
		}
		t = &cfg->tiers[cfg->ntiers++];
		t->name = xstrdup(name);
		ptr = cfg_ptr("/tiers", name);
		if (!json_is_object(v))
			cfg_error(ctx, f, ptr, 0, "tier \"%s\": expected an "
			    "object with \"limits\" and \"models\", got %s",
			    name, cfg_type_name(v));
		else {
			xasprintf(&where, "tier \"%s\"", name);
			cfg_check_keys(ctx, f, ptr, v, cfg_tier_keys, where);
			cfg_parse_limits(ctx, f, ptr, v, &t->limits,
			    &t->nlimits);
			cfg_parse_rules(ctx, f, ptr, v, where, &t->models);
			free(where);
		}
		free(ptr);
	}
	if (cfg->ntiers > 0)
		qsort(cfg->tiers, cfg->ntiers, sizeof *cfg->tiers,
		    cfg_tier_cmp);
	if (json_object_get(obj, "production") == NULL)
		cfg_error(ctx, f, "/tiers", 0, "\"tiers\" has no "
		    "\"production\" tier (it is the default tier of every "
		    "app; add \"production\": {})");
}

/* --- models.json -------------------------------------------------------- */

static const char *const cfg_models_top_keys[] = {
	"version", "models", NULL
};
static const char *const cfg_model_keys[] = {
	"provider", "usd_per_mtok", "fallback", NULL
};
static const char *const cfg_price_keys[] = {
	"input", "cached_input", "cache_read", "cache_write", "output", NULL
};
static const enum price_class cfg_price_class[] = {
	PRICE_INPUT, PRICE_CACHED_INPUT, PRICE_CACHED_INPUT, PRICE_CACHE_WRITE,
	PRICE_OUTPUT
};

static int
cfg_model_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct cfg_model *)a)->name,
	    ((const struct cfg_model *)b)->name));
}

static void
cfg_parse_price(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, const char *model, struct price *pr)
{
	json_t		*v, *u;		/* borrowed */
	char		*vptr, *where;
	enum price_class c;
	size_t		 i;
	int64_t		 n;

	if ((v = cfg_get_obj(ctx, f, ptr, obj, "usd_per_mtok", CFG_REQ)) ==
	    NULL)
		return;
	vptr = cfg_ptr(ptr, "usd_per_mtok");
	xasprintf(&where, "\"usd_per_mtok\" of model \"%s\"", model);
	cfg_check_keys(ctx, f, vptr, v, cfg_price_keys, where);
	free(where);
	if (json_object_get(v, "input") == NULL)
		cfg_error(ctx, f, vptr, 0, "model \"%s\": \"usd_per_mtok\" "
		    "needs an \"input\" price", model);
	if (json_object_get(v, "cached_input") != NULL &&
	    json_object_get(v, "cache_read") != NULL)
		cfg_error_member(ctx, f, vptr, "cache_read", 1,
		    "\"cache_read\" and \"cached_input\" are the same price; "
		    "give one");
	for (i = 0; cfg_price_keys[i] != NULL; i++) {
		if ((u = json_object_get(v, cfg_price_keys[i])) == NULL)
			continue;
		c = cfg_price_class[i];
		if (!json_is_number(u) ||
		    price_from_usd_per_mtok(json_number_value(u), &n) == -1) {
			cfg_error_member(ctx, f, vptr, cfg_price_keys[i], 0,
			    "\"%s\": expected a price in USD per million "
			    "tokens from 0 to 1000000 with at most 9 decimals, "
			    "got %s", cfg_price_keys[i], json_is_number(u) ?
			    "a number out of range" : cfg_type_name(u));
			continue;
		}
		pr->nusd_per_mtok[c] = n;
		pr->set[c] = 1;
	}
	free(vptr);
}

static void
cfg_parse_model(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *v, struct cfg_model *m)
{
	json_t		*fb, *e;	/* borrowed */
	const char	*prov;
	char		*where, *list, *fptr, *eptr;
	size_t		 i;

	if (!json_is_object(v)) {
		cfg_error(ctx, f, ptr, 0, "model \"%s\": expected an object, "
		    "got %s", m->name, cfg_type_name(v));
		return;
	}
	xasprintf(&where, "model \"%s\"", m->name);
	cfg_check_keys(ctx, f, ptr, v, cfg_model_keys, where);
	free(where);
	if (cfg_get_str(ctx, f, ptr, v, "provider", CFG_REQ, &prov) == 1 &&
	    (m->provider = cfg_find_provider(ctx->cfg, prov)) == NULL) {
		list = cfg_provider_list(ctx->cfg);
		cfg_error_member(ctx, f, ptr, "provider", 0, "model \"%s\": "
		    "unknown provider \"%s\" (configured: %s)", m->name, prov,
		    list);
		free(list);
	}
	cfg_parse_price(ctx, f, ptr, v, m->name, &m->price);

	if ((fb = cfg_get(ctx, f, ptr, v, "fallback", 0)) == NULL)
		return;
	fptr = cfg_ptr(ptr, "fallback");
	if (!json_is_array(fb)) {
		cfg_error(ctx, f, fptr, 0, "\"fallback\": expected an array "
		    "of model names, got %s", cfg_type_name(fb));
		free(fptr);
		return;
	}
	m->fallback = cfg_calloc(json_array_size(fb), sizeof *m->fallback);
	json_array_foreach(fb, i, e) {
		if (json_is_string(e) && json_string_length(e) > 0) {
			m->fallback[m->nfallback++] =
			    xstrdup(json_string_value(e));
			continue;
		}
		eptr = cfg_ptr_idx(fptr, i);
		cfg_error(ctx, f, eptr, 0, "\"fallback\" item %zu: expected a "
		    "model name, got %s", i + 1, cfg_type_name(e));
		free(eptr);
	}
	free(fptr);
}

/* After sorting: every fallback names another model of the same API. */
static void
cfg_check_fallbacks(struct cfg_ctx *ctx, struct cfg_file *f, json_t *models)
{
	struct cfg_model	*m, *fm;
	json_t			*v, *fb, *e;	/* borrowed */
	const char		*name, *fname;
	char			*ptr, *mptr, *fptr;
	size_t			 i, j;

	json_object_foreach(models, name, v) {
		if ((m = cfg_find_model(ctx->cfg, name)) == NULL ||
		    !json_is_object(v) ||
		    !json_is_array(fb = json_object_get(v, "fallback")))
			continue;
		json_array_foreach(fb, i, e) {
			if (!json_is_string(e))
				continue;
			fname = json_string_value(e);
			mptr = cfg_ptr("/models", name);
			fptr = cfg_ptr(mptr, "fallback");
			ptr = cfg_ptr_idx(fptr, i);
			free(fptr);
			free(mptr);
			fm = cfg_find_model(ctx->cfg, fname);
			if (fm == NULL)
				cfg_error(ctx, f, ptr, 0, "model \"%s\": "
				    "fallback \"%s\" is not a model in %s",
				    name, fname, f->name);
			else if (fm == m)
				cfg_error(ctx, f, ptr, 0, "model \"%s\": "
				    "fallback to itself", name);
			else if (m->provider != NULL && fm->provider != NULL &&
			    m->provider->api != fm->provider->api)
				cfg_error(ctx, f, ptr, 0, "model \"%s\": "
				    "fallback \"%s\" uses the %s API, not %s",
				    name, fname,
				    cfg_api_names[fm->provider->api],
				    cfg_api_names[m->provider->api]);
			else {
				for (j = 0; j < i; j++) {
					if (json_equal(json_array_get(fb, j),
					    e))
						break;
				}
				if (j < i)
					cfg_error(ctx, f, ptr, 0, "model "
					    "\"%s\": fallback \"%s\" listed "
					    "twice", name, fname);
			}
			free(ptr);
		}
	}
}

static void
cfg_parse_models(struct cfg_ctx *ctx, struct cfg_file *tf, json_t *troot)
{
	struct cfg		*cfg = ctx->cfg;
	struct cfg_file		*f = NULL;
	struct cfg_model	*m;
	json_t			*models, *v;	/* borrowed */
	const char		*rel, *name;
	char			*ptr, *dir;

	if (cfg_get_str(ctx, tf, "", troot, "models", CFG_REQ, &rel) != 1)
		return;
	cfg->models_path = cfg_abspath(tf->dir, rel);
	dir = cfg_dirname(tf->name);
	ctx->models_name = cfg_join(dir, rel);
	free(dir);
	f = cfg_file_open(ctx, ctx->models_name, cfg->models_path, tf,
	    "/models", "models file");
	if (f == NULL)
		return;
	cfg_check_keys(ctx, f, "", f->root, cfg_models_top_keys,
	    "models.json");
	if (cfg_get_str(ctx, f, "", f->root, "version", CFG_REQ, &rel) == 1)
		cfg->price_version = xstrdup(rel);
	if ((models = cfg_get_obj(ctx, f, "", f->root, "models", CFG_REQ)) ==
	    NULL)
		goto out;
	ctx->models_ok = 1;
	cfg->models = cfg_calloc(json_object_size(models),
	    sizeof *cfg->models);
	json_object_foreach(models, name, v) {
		if (!cfg_valid_model_name(name)) {
			cfg_error_member(ctx, f, "/models", name, 1, "model "
			    "name \"%s\" must be 1 to %d printable characters "
			    "without spaces, quotes or glob characters", name,
			    CFG_MAX_MODEL_NAME);
			continue;
		}
		m = &cfg->models[cfg->nmodels++];
		m->name = xstrdup(name);
		ptr = cfg_ptr("/models", name);
		cfg_parse_model(ctx, f, ptr, v, m);
		free(ptr);
	}
	if (cfg->nmodels > 0)
		qsort(cfg->models, cfg->nmodels, sizeof *cfg->models,
		    cfg_model_cmp);
	cfg_check_fallbacks(ctx, f, models);
out:
	cfg_file_free(f);
}

/* --- budgets/<team>.json ------------------------------------------------ */

static const char *const cfg_team_keys[] = {
	"team", "cost_center", "owner", "limits", "apps", NULL
};
static const char *const cfg_app_keys[] = {
	"tier", "owner", "keys", "limits", "models", NULL
};
static const char *const cfg_key_keys[] = {
	"id", "hmac", "expires", NULL
};

static void
cfg_seen_add(struct cfg_seenlist *l, const char *name, struct cfg_file *f,
    const char *ptr, int key)
{
	struct cfg_seen	*s;

	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	s = &l->v[l->n];
	s->name = xstrdup(name);
	s->fname = xstrdup(f->name);
	s->fidx = f->fidx;
	jsonpos_find(f->pos, ptr, key, &s->line, &s->col);
	s->seq = l->n++;
}

static int
cfg_seen_cmp(const void *a, const void *b)
{
	const struct cfg_seen	*sa = a, *sb = b;
	int			 c;

	if ((c = strcmp(sa->name, sb->name)) != 0)
		return (c);
	return (sa->seq < sb->seq ? -1 : sa->seq > sb->seq);
}

/* Report every name that was seen before (what: "team", "app" ...). */
static void
cfg_seen_check(struct cfg_ctx *ctx, struct cfg_seenlist *l, const char *what)
{
	struct cfg_seen	*first = NULL, *s;
	size_t		 i;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof *l->v, cfg_seen_cmp);
	for (i = 0; i < l->n; i++) {
		s = &l->v[i];
		if (first == NULL || strcmp(first->name, s->name) != 0) {
			first = s;
			continue;
		}
		cfg_error_at(ctx, s->fname, s->fidx, s->line, s->col,
		    "%s \"%s\" is already defined at %s:%d:%d", what, s->name,
		    first->fname, first->line, first->col);
	}
}

static void
cfg_seen_free(struct cfg_seenlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].fname);
	}
	free(l->v);
}

static int64_t
cfg_days_from_civil(int y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

static void
cfg_parse_key(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *obj, struct cfg_app *app)
{
	struct cfg_key	*k;
	const char	*id, *hmac, *exp;
	char		*p;
	size_t		 i;
	int		 ok = 1, y, m, d;

	cfg_check_keys(ctx, f, ptr, obj, cfg_key_keys, "a key entry");
	k = &app->keys[app->nkeys];
	if (cfg_get_str(ctx, f, ptr, obj, "id", CFG_REQ, &id) != 1)
		ok = 0;
	else if (!cfg_valid_key_id(id)) {
		cfg_error_member(ctx, f, ptr, "id", 0, "key id \"%s\" must be "
		    "4 to 32 letters and digits", id);
		ok = 0;
	} else {
		p = cfg_ptr(ptr, "id");
		cfg_seen_add(&ctx->keys, id, f, p, 0);
		free(p);
	}
	if (cfg_get_str(ctx, f, ptr, obj, "hmac", CFG_REQ, &hmac) != 1)
		ok = 0;
	else if (strlen(hmac) != 64 || strspn(hmac, "0123456789abcdef") !=
	    64) {
		cfg_error_member(ctx, f, ptr, "hmac", 0, "\"hmac\": expected "
		    "64 lowercase hex digits (HMAC-SHA256 of the secret; "
		    "\"tollgate keys new\" prints it)");
		ok = 0;
	} else {
		for (i = 0; i < 32; i++)
			k->hmac[i] = (unsigned char)(cfg_hexval(hmac[2 * i]) <<
			    4 | cfg_hexval(hmac[2 * i + 1]));
	}
	switch (cfg_get_str(ctx, f, ptr, obj, "expires", 0, &exp)) {
	case -1:
		ok = 0;
		break;
	case 1:
		if (util_parse_date(exp, &y, &m, &d) == -1) {
			cfg_error_member(ctx, f, ptr, "expires", 0,
			    "\"expires\": expected a date \"YYYY-MM-DD\", got "
			    "\"%s\"", exp);
			ok = 0;
			break;
		}
		k->expires_y = y;
		k->expires_m = m;
		k->expires_d = d;
		k->expires_ms = (cfg_days_from_civil(y, m, d) + 1) * 86400000;
		break;
	}
	if (ok) {
		k->id = xstrdup(id);
		app->nkeys++;
	} else
		memset(k, 0, sizeof *k);
}

static char *
cfg_tier_list(const struct cfg *cfg)
{
	const char	**names;
	char		 *out;
	size_t		  i;

	if (cfg->ntiers == 0)
		return (xstrdup("none"));
	names = xcalloc(cfg->ntiers, sizeof *names);
	for (i = 0; i < cfg->ntiers; i++)
		names[i] = cfg->tiers[i].name;
	out = cfg_list(names, cfg->ntiers);
	free(names);
	return (out);
}

static void
cfg_parse_app(struct cfg_ctx *ctx, struct cfg_file *f, const char *ptr,
    json_t *v, struct cfg_app *app)
{
	json_t		*keys, *e;	/* borrowed */
	const char	*s;
	char		*where, *list, *kptr, *eptr;
	size_t		 i;

	app->tier = cfg_find_tier(ctx->cfg, "production");
	if (!json_is_object(v)) {
		cfg_error(ctx, f, ptr, 0, "app \"%s\": expected an object, "
		    "got %s", app->name, cfg_type_name(v));
		return;
	}
	xasprintf(&where, "app \"%s\"", app->name);
	cfg_check_keys(ctx, f, ptr, v, cfg_app_keys, where);

	if (cfg_get_str(ctx, f, ptr, v, "tier", 0, &s) == 1 &&
	    (app->tier = cfg_find_tier(ctx->cfg, s)) == NULL) {
		list = cfg_tier_list(ctx->cfg);
		cfg_error_member(ctx, f, ptr, "tier", 0, "app \"%s\": unknown "
		    "tier \"%s\" (tiers: %s)", app->name, s, list);
		free(list);
	}
	if (cfg_get_str(ctx, f, ptr, v, "owner", 0, &s) == 1)
		app->owner = xstrdup(s);

	if ((keys = cfg_get(ctx, f, ptr, v, "keys", 0)) != NULL) {
		kptr = cfg_ptr(ptr, "keys");
		if (!json_is_array(keys))
			cfg_error(ctx, f, kptr, 0, "\"keys\": expected an "
			    "array of {\"id\", \"hmac\", \"expires\"}, got %s",
			    cfg_type_name(keys));
		else {
			app->keys = cfg_calloc(json_array_size(keys),
			    sizeof *app->keys);
			json_array_foreach(keys, i, e) {
				eptr = cfg_ptr_idx(kptr, i);
				if (!json_is_object(e))
					cfg_error(ctx, f, eptr, 0, "\"keys\" "
					    "item %zu: expected an object, "
					    "got %s", i + 1, cfg_type_name(e));
				else
					cfg_parse_key(ctx, f, eptr, e, app);
				free(eptr);
			}
		}
		free(kptr);
	}
	cfg_parse_limits(ctx, f, ptr, v, &app->limits, &app->nlimits);
	cfg_parse_rules(ctx, f, ptr, v, where, &app->models);
	free(where);
}

static void
cfg_parse_team(struct cfg_ctx *ctx, struct cfg_file *f)
{
	struct cfg	*cfg = ctx->cfg;
	struct cfg_team	*t;
	struct cfg_app	*app;
	json_t		*root = f->root, *apps, *v;	/* borrowed */
	const char	*s, *name;
	char		*ptr;

	cfg_check_keys(ctx, f, "", root, cfg_team_keys, "a budget file");
	cfg->teams = xreallocarray(cfg->teams, cfg->nteams + 1,
	    sizeof *cfg->teams);
	t = &cfg->teams[cfg->nteams];
	memset(t, 0, sizeof *t);

	cfg->nteams++;
	t->file = xstrdup(f->name);

	/* Without a valid name, still check the rest of the file. */
	if (cfg_get_str(ctx, f, "", root, "team", CFG_REQ, &s) == 1) {
		if (!cfg_valid_name(s))
			cfg_error(ctx, f, "/team", 0, "team name \"%s\" must "
			    "be 1 to %d letters, digits, '.', '_' or '-'", s,
			    CFG_MAX_NAME);
		else {
			cfg_seen_add(&ctx->teams, s, f, "/team", 0);
			t->name = xstrdup(s);
		}
	}
	if (cfg_get_str(ctx, f, "", root, "cost_center", 0, &s) == 1)
		t->cost_center = xstrdup(s);
	if (cfg_get_str(ctx, f, "", root, "owner", 0, &s) == 1)
		t->owner = xstrdup(s);
	cfg_parse_limits(ctx, f, "", root, &t->limits, &t->nlimits);

	if ((apps = cfg_get_obj(ctx, f, "", root, "apps", CFG_REQ)) == NULL)
		return;
	t->apps = cfg_calloc(json_object_size(apps), sizeof *t->apps);
	json_object_foreach(apps, name, v) {
		ptr = cfg_ptr("/apps", name);
		if (!cfg_valid_name(name)) {
			cfg_error(ctx, f, ptr, 1, "app name \"%s\" must be 1 "
			    "to %d letters, digits, '.', '_' or '-'", name,
			    CFG_MAX_NAME);
			free(ptr);
			continue;
		}
		cfg_seen_add(&ctx->apps, name, f, ptr, 1);
		app = &t->apps[t->napps++];
		app->name = xstrdup(name);
		cfg_parse_app(ctx, f, ptr, v, app);
		free(ptr);
	}
}

static int
cfg_strp_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static void
cfg_parse_budgets(struct cfg_ctx *ctx, struct cfg_file *tf, json_t *troot)
{
	struct cfg	*cfg = ctx->cfg;
	struct cfg_file	*f;
	struct dirent	*de;
	struct stat	 sb;
	DIR		*dp;
	const char	*rel;
	char		**names = NULL, *path, *disp, *d;
	size_t		 n = 0, i, len;

	if (cfg_get_str(ctx, tf, "", troot, "budgets", CFG_REQ, &rel) != 1)
		return;
	cfg->budgets_path = cfg_abspath(tf->dir, rel);
	d = cfg_dirname(tf->name);
	ctx->budgets_name = cfg_join(d, rel);
	free(d);
	if ((dp = opendir(cfg->budgets_path)) == NULL) {
		cfg_error(ctx, tf, "/budgets", 0, "\"budgets\": cannot open "
		    "directory \"%s\": %s", cfg->budgets_path,
		    strerror(errno));
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dp);
	if (n > 0)
		qsort(names, n, sizeof *names, cfg_strp_cmp);

	for (i = 0; i < n; i++) {
		xasprintf(&path, "%s/%s", cfg->budgets_path, names[i]);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			disp = cfg_join(ctx->budgets_name, names[i]);
			f = cfg_file_open(ctx, disp, path, NULL, NULL,
			    "budget file");
			if (f != NULL)
				cfg_parse_team(ctx, f);
			cfg_file_free(f);
			free(disp);
		}
		free(path);
		free(names[i]);
	}
	free(names);
}

static int
cfg_team_cmp(const void *a, const void *b)
{
	const struct cfg_team	*ta = a, *tb = b;

	if (ta->name == NULL || tb->name == NULL)
		return (ta->name == NULL ? (tb->name == NULL ? 0 : 1) : -1);
	return (strcmp(ta->name, tb->name));
}

static int
cfg_app_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct cfg_app *)a)->name,
	    ((const struct cfg_app *)b)->name));
}

static int
cfg_appp_cmp(const void *a, const void *b)
{
	return (strcmp((*(struct cfg_app *const *)a)->name,
	    (*(struct cfg_app *const *)b)->name));
}

static int
cfg_keyp_cmp(const void *a, const void *b)
{
	return (strcmp((*(struct cfg_key *const *)a)->id,
	    (*(struct cfg_key *const *)b)->id));
}

/* Sort teams and apps, set back pointers, build the global indexes. */
static void
cfg_link(struct cfg *cfg)
{
	struct cfg_team	*t;
	struct cfg_app	*a;
	size_t		 i, j, k, napps = 0, nkeys = 0;

	if (cfg->nteams > 0)
		qsort(cfg->teams, cfg->nteams, sizeof *cfg->teams,
		    cfg_team_cmp);
	for (i = 0; i < cfg->nteams; i++) {
		t = &cfg->teams[i];
		if (t->napps > 0)
			qsort(t->apps, t->napps, sizeof *t->apps, cfg_app_cmp);
		napps += t->napps;
		for (j = 0; j < t->napps; j++)
			nkeys += t->apps[j].nkeys;
	}
	cfg->apps = cfg_calloc(napps, sizeof *cfg->apps);
	cfg->keys = cfg_calloc(nkeys, sizeof *cfg->keys);
	for (i = 0; i < cfg->nteams; i++) {
		t = &cfg->teams[i];
		for (j = 0; j < t->napps; j++) {
			a = &t->apps[j];
			a->team = t;
			cfg->apps[cfg->napps++] = a;
			for (k = 0; k < a->nkeys; k++) {
				a->keys[k].app = a;
				cfg->keys[cfg->nkeys++] = &a->keys[k];
			}
		}
	}
	if (cfg->napps > 0)
		qsort(cfg->apps, cfg->napps, sizeof *cfg->apps, cfg_appp_cmp);
	if (cfg->nkeys > 0)
		qsort(cfg->keys, cfg->nkeys, sizeof *cfg->keys, cfg_keyp_cmp);
}

/* --- load, free, find --------------------------------------------------- */

static int
cfg_err_cmp(const void *a, const void *b)
{
	const struct cfg_err	*ea = a, *eb = b;

	if (ea->fidx != eb->fidx)
		return (ea->fidx < eb->fidx ? -1 : 1);
	if (ea->line != eb->line)
		return (ea->line < eb->line ? -1 : 1);
	if (ea->col != eb->col)
		return (ea->col < eb->col ? -1 : 1);
	return (ea->seq < eb->seq ? -1 : ea->seq > eb->seq);
}

static void
cfg_defaults(struct cfg *cfg)
{
	cfg->admin_listen = xstrdup("127.0.0.1:9090");
	cfg->admin_token_env = xstrdup("TOLLGATE_ADMIN_TOKEN");
	cfg->workers = 0;
	cfg->timezone = xstrdup("UTC");
	cfg->key_pepper_env = xstrdup("TOLLGATE_KEY_PEPPER");
	cfg->store = STORE_LOCAL;
	cfg->redis_url = xstrdup("redis://127.0.0.1:6379/0");
	cfg->redis_timeout_ms = 250;
	cfg->lease_ttl_s = 900;
	cfg->redis_on_error_allow = 0;
	cfg->max_header_bytes = 65536;
	cfg->max_body_bytes = 10485760;
	cfg->header_timeout_s = 10;
	cfg->max_connections = 10000;
	cfg->drain_timeout_s = 30;
	cfg->log_level = xstrdup("info");
	cfg->log_access = 1;
}

struct cfg *
cfg_load(const char *path, char ***errors, size_t *nerrors)
{
	struct cfg_ctx	 ctx;
	struct cfg_file	*f = NULL;
	struct cfg	*ret = NULL;
	size_t		 i;

	*errors = NULL;
	*nerrors = 0;
	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = xcalloc(1, sizeof *ctx.cfg);
	ctx.cfg->path = xstrdup(path);
	cfg_defaults(ctx.cfg);

	f = cfg_file_open(&ctx, path, path, NULL, NULL, "configuration file");
	if (f == NULL)
		goto out;
	ctx.cfg->dir = xstrdup(f->dir);
	cfg_check_keys(&ctx, f, "", f->root, cfg_top_keys,
	    strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path);
	cfg_parse_listen(&ctx, f, "", f->root, "listen", &ctx.cfg->listen,
	    &ctx.cfg->nlisten);
	cfg_parse_tls(&ctx, f, f->root);
	cfg_parse_misc(&ctx, f, f->root);
	cfg_parse_providers(&ctx, f, f->root);
	cfg_parse_models(&ctx, f, f->root);
	cfg_parse_tiers(&ctx, f, f->root);
	cfg_parse_budgets(&ctx, f, f->root);
	cfg_seen_check(&ctx, &ctx.teams, "team");
	cfg_seen_check(&ctx, &ctx.apps, "app");
	cfg_seen_check(&ctx, &ctx.keys, "key id");
	cfg_link(ctx.cfg);

	if (ctx.nerrs == 0) {
		ctx.cfg->refs = 1;
		ret = ctx.cfg;
		ctx.cfg = NULL;
	}
out:
	if (ctx.nerrs > 0) {
		qsort(ctx.errs, ctx.nerrs, sizeof *ctx.errs, cfg_err_cmp);
		*errors = xcalloc(ctx.nerrs, sizeof **errors);
		for (i = 0; i < ctx.nerrs; i++)
			(*errors)[i] = ctx.errs[i].text;
		*nerrors = ctx.nerrs;
	}
	free(ctx.errs);
	free(ctx.models_name);
	free(ctx.budgets_name);
	cfg_seen_free(&ctx.teams);
	cfg_seen_free(&ctx.apps);
	cfg_seen_free(&ctx.keys);
	cfg_file_free(f);
	cfg_free(ctx.cfg);
	return (ret);
}

void
cfg_errors_free(char **errors, size_t nerrors)
{
	size_t	i;

	if (errors == NULL)
		return;
	for (i = 0; i < nerrors; i++)
		free(errors[i]);
	free(errors);
}

void
cfg_local_expiry(struct cfg *cfg)
{
	struct cfg_key	*k;
	size_t		 i;

	for (i = 0; i < cfg->nkeys; i++) {
		k = cfg->keys[i];
		if (k->expires_y != 0)
			k->expires_ms = util_local_midnight_ms(k->expires_y,
			    k->expires_m, k->expires_d + 1);
	}
}

static void
cfg_strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
cfg_free(struct cfg *cfg)
{
	struct cfg_provider	*p;
	struct cfg_team		*t;
	struct cfg_app		*a;
	size_t			 i, j, k;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->dir);
	cfg_strv_free(cfg->listen, cfg->nlisten);
	cfg_strv_free(cfg->tls_listen, cfg->ntls_listen);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->admin_listen);
	free(cfg->admin_token_env);
	free(cfg->timezone);
	free(cfg->key_pepper_env);

	for (i = 0; i < cfg->nproviders; i++) {
		p = &cfg->providers[i];
		free(p->name);
		for (j = 0; j < p->nendpoints; j++)
			cfg_endpoint_free(&p->endpoints[j]);
		free(p->endpoints);
		free(p->key_env);
		if (p->key != NULL) {
			OPENSSL_cleanse(p->key, strlen(p->key));
			free(p->key);
		}
		free(p->ca_file);
	}
	free(cfg->providers);

	free(cfg->models_path);
	free(cfg->price_version);
	for (i = 0; i < cfg->nmodels; i++) {
		free(cfg->models[i].name);
		cfg_strv_free(cfg->models[i].fallback,
		    cfg->models[i].nfallback);
	}
	free(cfg->models);

	free(cfg->budgets_path);
	for (i = 0; i < cfg->ntiers; i++) {
		free(cfg->tiers[i].name);
		free(cfg->tiers[i].limits);
		cfg_rules_free(&cfg->tiers[i].models);
	}
	free(cfg->tiers);
	for (i = 0; i < cfg->nteams; i++) {
		t = &cfg->teams[i];
		for (j = 0; j < t->napps; j++) {
			a = &t->apps[j];
			free(a->name);
			free(a->owner);
			for (k = 0; k < a->nkeys; k++)
				free(a->keys[k].id);
			free(a->keys);
			free(a->limits);
			cfg_rules_free(&a->models);
		}
		free(t->apps);
		free(t->name);
		free(t->cost_center);
		free(t->owner);
		free(t->file);
		free(t->limits);
	}
	free(cfg->teams);
	free(cfg->keys);
	free(cfg->apps);

	free(cfg->redis_url);
	free(cfg->ledger_path);
	free(cfg->alerts_webhook);
	if (cfg->alerts_ep != NULL) {
		cfg_endpoint_free(cfg->alerts_ep);
		free(cfg->alerts_ep);
	}
	free(cfg->alerts_target);
	free(cfg->log_level);
	free(cfg);
}

struct cfg *
cfg_ref(struct cfg *cfg)
{
	if (cfg != NULL)
		__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
	return (cfg);
}

void
cfg_unref(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	if (__atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
		cfg_free(cfg);
}

struct cfg_model *
cfg_find_model(const struct cfg *cfg, const char *name)
{
	struct cfg_model	key;

	if (cfg->nmodels == 0)
		return (NULL);
	key.name = (char *)name;
	return (bsearch(&key, cfg->models, cfg->nmodels, sizeof *cfg->models,
	    cfg_model_cmp));
}

struct cfg_provider *
cfg_find_provider(const struct cfg *cfg, const char *name)
{
	struct cfg_provider	key;

	if (cfg->nproviders == 0)
		return (NULL);
	key.name = (char *)name;
	return (bsearch(&key, cfg->providers, cfg->nproviders,
	    sizeof *cfg->providers, cfg_provider_cmp));
}

struct cfg_tier *
cfg_find_tier(const struct cfg *cfg, const char *name)
{
	struct cfg_tier	key;

	if (cfg->ntiers == 0)
		return (NULL);
	key.name = (char *)name;
	return (bsearch(&key, cfg->tiers, cfg->ntiers, sizeof *cfg->tiers,
	    cfg_tier_cmp));
}

struct cfg_app *
cfg_find_app(const struct cfg *cfg, const char *name)
{
	struct cfg_app	key, *kp = &key, **found;

	if (cfg->napps == 0)
		return (NULL);
	key.name = (char *)name;
	found = bsearch(&kp, cfg->apps, cfg->napps, sizeof *cfg->apps,
	    cfg_appp_cmp);
	return (found != NULL ? *found : NULL);
}

/* Compare a NUL-terminated key id with id[0..idlen), like strcmp. */
static int
cfg_key_cmpn(const char *kid, const char *id, size_t idlen)
{
	size_t	i;

	for (i = 0; i < idlen; i++) {
		if (kid[i] == '\0')
			return (-1);
		if (kid[i] != id[i])
			return ((unsigned char)kid[i] <
			    (unsigned char)id[i] ? -1 : 1);
	}
	return (kid[idlen] == '\0' ? 0 : 1);
}

/* id[0..idlen) need not be NUL-terminated. */
struct cfg_key *
cfg_find_key(const struct cfg *cfg, const char *id, size_t idlen)
{
	size_t	lo = 0, hi = cfg->nkeys, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = cfg_key_cmpn(cfg->keys[mid]->id, id, idlen);
		if (c == 0)
			return (cfg->keys[mid]);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (NULL);
}

const char *
cfg_per_name(enum cfg_per per)
{
	if ((unsigned)per >= nitems(cfg_per_names) - 1)
		return ("?");
	return (cfg_per_names[per]);
}

const char *
cfg_unit_name(enum cfg_unit unit)
{
	if ((unsigned)unit >= nitems(cfg_unit_names) - 1)
		return ("?");
	return (cfg_unit_names[unit]);
}
