/*
 * JSON-lines logging to stderr.  Every line is built in memory and written
 * with a single write(2), which keeps lines whole when several worker
 * threads log at once (stderr is unbuffered, and writes below PIPE_BUF to a
 * pipe are atomic).
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

void
log_json(json_t *obj)
{
	char	*s, *line;
	size_t	 len;

	if ((s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		return;
	len = strlen(s);
	if ((line = realloc(s, len + 2)) == NULL) {
		free(s);
		return;
	}
	line[len] = '\n';
	log_write(line, len + 1);
	free(line);
}

static void
log_ts(char buf[96], size_t size)
{
	struct timeval	tv;
	struct tm	tm;
	char		tmp[64];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", tmp, (long)(tv.tv_usec / 1000));
}

void
log_event(enum log_level level, const char *msg, json_t *fields)
{
	json_t	*obj;
	char	 ts[96];

	if (!log_enabled(level))
		return;
	log_ts(ts, sizeof ts);
	obj = json_object();				/* new */
	json_object_set_new(obj, "ts", json_string(ts));
	json_object_set_new(obj, "level", json_string(log_names[level]));
	json_object_set_new(obj, "msg", json_string(msg));
	if (fields != NULL)
		json_object_update(obj, fields);
	log_json(obj);
	json_decref(obj);
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
