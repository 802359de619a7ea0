/*
 * JSON-lines logging to stderr.  Every line is built in memory and written
 * with a single write(2), which keeps lines whole when several worker
 * threads log at once (stderr is unbuffered, and writes below PIPE_BUF to a
 * pipe are atomic).
 *
 * A line is formatted straight into a buffer, on the stack while it is
 * short: "ts", "level" and "msg", then the fields in order, compact, with
 * strings escaped the way jansson's json_dumps() escapes them, so that it
 * reads exactly as when it was a jansson object dumped (a field named ts,
 * level or msg takes that place, as json_object_update() did).  Building
 * and dumping an object cost more than the rest of a request's
 * bookkeeping; reals and nothing else still go through jansson.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "util.h"

static volatile int	log_level = LOG_LVL_INFO;

static const char *log_names[] = { "error", "warn", "info", "debug" };

int
log_set_level(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcmp(name, log_names[i]) == 0) {
			log_level = (int)i;
			return (0);
		}
	}
	return (-1);
}

void
log_set_level_num(enum log_level level)
{
	log_level = level;
}

int
log_enabled(enum log_level level)
{
	return ((int)level <= log_level);
}

static void
log_write(const char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(STDERR_FILENO, s, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

/* Make room for n more bytes; when that fails, the line is dropped. */
static void
log_grow(struct log_line *l, size_t n)
{
	char	*nb;
	size_t	 ncap;

	for (ncap = l->cap * 2; ncap - l->len < n; ncap *= 2)
		;
	if (l->buf == l->stack) {
		if ((nb = malloc(ncap)) != NULL)
			memcpy(nb, l->buf, l->len);
	} else
		nb = realloc(l->buf, ncap);
	if (nb == NULL) {
		l->failed = 1;
		return;
	}
	l->buf = nb;
	l->cap = ncap;
}

/* Append s[0..n) to the line. */
static inline void
log_put(struct log_line *l, const char *s, size_t n)
{
	if (n > l->cap - l->len) {
		if (l->failed)
			return;
		log_grow(l, n);
		if (l->failed)
			return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

#define log_puts(l, s)	log_put((l), (s), sizeof (s) - 1)

/*
 * s[0..n) as a JSON string: '"', '\\' and control characters escaped as
 * jansson does ("\n", else "\u001F"), UTF-8 as it is, other bytes U+FFFD.
 */
static void
log_put_str(struct log_line *l, const char *s, size_t n)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const char		*p = s, *end = s + n, *run = s;
	char			 esc[6] = { '\\', 'u', '0', '0' };
	unsigned char		 c;
	size_t			 len;

	log_puts(l, "\"");
	while ((p += util_json_plain(p, (size_t)(end - p))) < end) {
		c = (unsigned char)*p;
		if (c >= 0x80 &&
		    (len = util_utf8_len(p, (size_t)(end - p))) != 0) {
			p += len;
			continue;
		}
		log_put(l, run, (size_t)(p - run));
		run = ++p;
		switch (c) {
		case '"':
			log_puts(l, "\\\"");
			break;
		case '\\':
			log_puts(l, "\\\\");
			break;
		case '\b':
			log_puts(l, "\\b");
			break;
		case '\f':
			log_puts(l, "\\f");
			break;
		case '\n':
			log_puts(l, "\\n");
			break;
		case '\r':
			log_puts(l, "\\r");
			break;
		case '\t':
			log_puts(l, "\\t");
			break;
		default:
			if (c >= 0x80) {
				log_puts(l, "\xef\xbf\xbd");
				break;
			}
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			log_put(l, esc, sizeof esc);
			break;
		}
	}
	log_put(l, run, (size_t)(end - run));
	log_puts(l, "\"");
}

static void
log_put_int(struct log_line *l, long long v)
{
	char	buf[21];

	log_put(l, buf, util_lltoa(v, buf));
}

static void	log_put_json(struct log_line *, json_t *);

/* Is key[0..len) one of the keys every line starts with? */
static int
log_head_key(const char *key, size_t len)
{
	return ((len == 2 && memcmp(key, "ts", 2) == 0) ||
	    (len == 5 && memcmp(key, "level", 5) == 0) ||
	    (len == 3 && memcmp(key, "msg", 3) == 0));
}

/*
 * The members of object obj (borrowed), each after a comma when more is
 * set (a line's fields, but for those log_line_head() wrote).
 */
static void
log_put_members(struct log_line *l, json_t *obj, int more)
{
	const char	*key;
	void		*it;
	size_t		 klen;

	for (it = json_object_iter(obj); it != NULL;
	    it = json_object_iter_next(obj, it)) {
		key = json_object_iter_key(it);
		klen = json_object_iter_key_len(it);
		if (more && log_head_key(key, klen))
			continue;
		if (more || it != json_object_iter(obj))
			log_puts(l, ",");
		log_put_str(l, key, klen);
		log_puts(l, ":");
		log_put_json(l, json_object_iter_value(it));
	}
}

/* A jansson value (borrowed), as json_dumps(JSON_COMPACT) writes it. */
static void
log_put_json(struct log_line *l, json_t *v)
{
	json_t	*e;	/* borrowed */
	char	*s;
	size_t	 i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		log_puts(l, "{");
		log_put_members(l, v, 0);
		log_puts(l, "}");
		break;
	case JSON_ARRAY:
		log_puts(l, "[");
		json_array_foreach(v, i, e) {
			if (i > 0)
				log_puts(l, ",");
			log_put_json(l, e);
		}
		log_puts(l, "]");
		break;
	case JSON_STRING:
		log_put_str(l, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		log_put_int(l, json_integer_value(v));
		break;
	case JSON_TRUE:
		log_puts(l, "true");
		break;
	case JSON_FALSE:
		log_puts(l, "false");
		break;
	case JSON_NULL:
		log_puts(l, "null");
		break;
	case JSON_REAL:
		/* jansson's "%.17g" with its own fix-ups. */
		if ((s = json_dumps(v, JSON_ENCODE_ANY)) == NULL) {
			l->failed = 1;
			break;
		}
		log_put(l, s, strlen(s));
		free(s);
		break;
	}
}

/* Two or more decimal digits of v into p, from its end. */
static void
log_digits(char *p, size_t n, long v)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* "2006-01-02T15:04:05.000Z"; the seconds part is kept per thread. */
static void
log_put_ts(struct log_line *l)
{
	static __thread time_t	 sec = -1;
	static __thread char	 ts[20];
	struct timeval		 tv;
	struct tm		 tm;
	char			 ms[5] = { '.', '0', '0', '0', 'Z' };

	gettimeofday(&tv, NULL);
	if (tv.tv_sec != sec) {
		gmtime_r(&tv.tv_sec, &tm);
		memcpy(ts, "0000-00-00T00:00:00", sizeof ts);
		log_digits(ts, 4, tm.tm_year + 1900L);
		log_digits(ts + 5, 2, tm.tm_mon + 1L);
		log_digits(ts + 8, 2, tm.tm_mday);
		log_digits(ts + 11, 2, tm.tm_hour);
		log_digits(ts + 14, 2, tm.tm_min);
		log_digits(ts + 17, 2, tm.tm_sec);
		sec = tv.tv_sec;
	}
	log_put(l, ts, sizeof ts - 1);
	log_digits(ms + 1, 3, (long)(tv.tv_usec / 1000));
	log_put(l, ms, sizeof ms);
}

/* Start a line with ts, level and msg, or fields' values for them. */
static int
log_line_head(struct log_line *l, enum log_level level, const char *msg,
    json_t *fields)
{
	json_t	*v;	/* borrowed */

	if (!log_enabled(level))
		return (-1);
	l->buf = l->stack;
	l->len = 0;
	l->cap = sizeof l->stack;
	l->failed = 0;
	log_puts(l, "{\"ts\":");
	if (fields != NULL && (v = json_object_get(fields, "ts")) != NULL)
		log_put_json(l, v);
	else {
		log_puts(l, "\"");
		log_put_ts(l);
		log_puts(l, "\"");
	}
	log_puts(l, ",\"level\":");
	if (fields != NULL && (v = json_object_get(fields, "level")) != NULL)
		log_put_json(l, v);
	else
		log_put_str(l, log_names[level], strlen(log_names[level]));
	log_puts(l, ",\"msg\":");
	if (fields != NULL && (v = json_object_get(fields, "msg")) != NULL)
		log_put_json(l, v);
	else
		log_put_str(l, msg, strlen(msg));
	return (0);
}

int
log_line_begin(struct log_line *l, enum log_level level, const char *msg)
{
	return (log_line_head(l, level, msg, NULL));
}

/* ,"key": */
static void
log_put_key(struct log_line *l, const char *key)
{
	log_puts(l, ",");
	log_put_str(l, key, strlen(key));
	log_puts(l, ":");
}

void
log_line_str(struct log_line *l, const char *key, const char *val)
{
	log_put_key(l, key);
	if (val == NULL)
		log_puts(l, "null");
	else
		log_put_str(l, val, strlen(val));
}

void
log_line_int(struct log_line *l, const char *key, long long val)
{
	log_put_key(l, key);
	log_put_int(l, val);
}

/* Write the line (if it could be built) and free what it took. */
static void
log_line_write(struct log_line *l)
{
	log_puts(l, "\n");
	if (!l->failed)
		log_write(l->buf, l->len);
	if (l->buf != l->stack)
		free(l->buf);
	l->buf = NULL;
}

void
log_line_end(struct log_line *l)
{
	log_puts(l, "}");
	log_line_write(l);
}

void
log_json(json_t *obj)
{
	struct log_line	l;

	if (!json_is_object(obj) && !json_is_array(obj))
		return;
	l.buf = l.stack;
	l.len = 0;
	l.cap = sizeof l.stack;
	l.failed = 0;
	log_put_json(&l, obj);
	log_line_write(&l);
}

void
log_event(enum log_level level, const char *msg, json_t *fields)
{
	struct log_line	l;

	if (log_line_head(&l, level, msg, fields) == -1)
		return;
	if (json_is_object(fields))
		log_put_members(&l, fields, 1);
	log_line_end(&l);
}

static void __attribute__((format(printf, 2, 0)))
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char	buf[2048];

	if (!log_enabled(level))
		return;
	vsnprintf(buf, sizeof buf, fmt, ap);
	log_event(level, buf, NULL);
}

#define LOG_FN(name, level)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
								\
	va_start(ap, fmt);					\
	log_vmsg(level, fmt, ap);				\
	va_end(ap);						\
}
LOG_FN(log_error, LOG_LVL_ERROR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

void
fatalx(const char *fmt, ...)
{
	va_list	ap;
	char	buf[2048];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_event(LOG_LVL_ERROR, buf, NULL);
	exit(1);
}
