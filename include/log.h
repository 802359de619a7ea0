/*
 * Logging: one JSON object per line on stderr, so that operational events
 * and access lines go through the same pipe and the same parser.  Messages
 * are free text; the caller never passes a key or an Authorization header.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};

struct json_t;

/* Set the threshold; returns -1 for an unknown level name. */
int	 log_set_level(const char *);
void	 log_set_level_num(enum log_level);
int	 log_enabled(enum log_level);

void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * Log an event: msg plus the fields of obj (borrowed; may be NULL).  One
 * write(2) per line so lines from several threads never interleave.
 */
void	 log_event(enum log_level, const char *msg, struct json_t *obj);

/* Write one JSON object (borrowed) as a line. */
void	 log_json(struct json_t *obj);

/*
 * A line built field by field, without a jansson object: the same line
 * log_event() writes for the same fields, at a fraction of the cost (the
 * access log).  The caller's struct holds the line (on its stack while it
 * is short):
 *
 *	struct log_line	l;
 *
 *	if (log_line_begin(&l, LOG_LVL_INFO, "access") == 0) {
 *		log_line_str(&l, "app", app);		(NULL: null)
 *		log_line_int(&l, "status", 200);
 *		log_line_end(&l);			(writes, frees)
 *	}
 *
 * log_line_begin() returns -1 (and nothing is to be done) when the level
 * is not logged.  Strings are escaped as jansson escapes them; bytes that
 * are not UTF-8 become U+FFFD.
 */
#define LOG_LINE_STACK	1024
struct log_line {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 failed;		/* out of memory: dropped */
	char	 stack[LOG_LINE_STACK];
};

int	 log_line_begin(struct log_line *, enum log_level, const char *msg);
void	 log_line_str(struct log_line *, const char *key, const char *val);
void	 log_line_int(struct log_line *, const char *key, long long val);
void	 log_line_end(struct log_line *);

/* Die: start-up errors, out of memory, broken invariants only. */
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
