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

/* Write one preformatted JSON object (borrowed) as a line: access log. */
void	 log_json(struct json_t *obj);

/* Die: start-up errors, out of memory, broken invariants only. */
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
