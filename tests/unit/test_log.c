/*
 * Log line tests.  Every line is captured from stderr and compared with
 * the line the logger wrote when it built a jansson object and dumped it
 * (ts, level and msg, json_object_update() with the fields, json_dumps()
 * compact and in order), byte for byte but for the time stamp, which is
 * taken from the line after checking its shape.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../tap.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

static const char *const names[] = { "error", "warn", "info", "debug" };

static FILE	*capture;	/* stderr goes here */
static int64_t	 before_ms;	/* the clock when capture_reset() ran */

/* Empty the capture file before a line is logged. */
static void
capture_reset(void)
{
	fflush(capture);
	if (ftruncate(fileno(capture), 0) == -1)
		perror("ftruncate");
	rewind(capture);
	before_ms = util_now_ms();
}

/* What was logged since capture_reset() (caller frees). */
static char *
captured(void)
{
	char	*buf;
	long	 n;

	fseek(capture, 0, SEEK_END);
	n = ftell(capture);
	rewind(capture);
	buf = xmalloc((size_t)n + 1);
	buf[fread(buf, 1, (size_t)n, capture)] = '\0';
	return (buf);
}

/* The decimal digits s[0..n). */
static int
num(const char *s, int n)
{
	int	v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return (v);
}

/* Is ts "YYYY-MM-DDTHH:MM:SS.mmmZ", between capture_reset() and now? */
static int
ts_ok(const char *ts)
{
	static const char	 shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct tm		 tm;
	size_t			 i;
	int64_t			 ms;

	for (i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd' ? ts[i] < '0' || ts[i] > '9' :
		    ts[i] != shape[i])
			return (0);
	}
	memset(&tm, 0, sizeof tm);
	tm.tm_year = num(ts, 4) - 1900;
	tm.tm_mon = num(ts + 5, 2) - 1;
	tm.tm_mday = num(ts + 8, 2);
	tm.tm_hour = num(ts + 11, 2);
	tm.tm_min = num(ts + 14, 2);
	tm.tm_sec = num(ts + 17, 2);
	ms = (int64_t)timegm(&tm) * 1000 + num(ts + 20, 3);
	return (ms >= before_ms && ms <= util_now_ms());
}

/* The line the jansson logger wrote (caller frees). */
static char *
reference(const char *ts, enum log_level level, const char *msg,
    json_t *fields)
{
	json_t	*o;	/* new */
	char	*s, *line;

	o = json_object();
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", json_string(names[level]));
	json_object_set_new(o, "msg", json_string(msg));
	if (fields != NULL)
		json_object_update(o, fields);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	xasprintf(&line, "%s\n", s);
	free(s);
	return (line);
}

/* Compare the captured line with the reference for the same event. */
static void
check_line(const char *name, enum log_level level, const char *msg,
    json_t *fields)
{
	char	*got, *want, ts[25];

	got = captured();
	if (json_object_get(fields, "ts") != NULL)
		snprintf(ts, sizeof ts, "(a field)");
	else if (strncmp(got, "{\"ts\":\"", 7) != 0 || strlen(got) < 31 ||
	    !ts_ok(got + 7)) {
		ok(0, "%s: line starts with a time stamp", name);
		printf("# got %s", got);
		free(got);
		return;
	} else {
		memcpy(ts, got + 7, 24);
		ts[24] = '\0';
	}
	want = reference(ts, level, msg, fields);
	is_str(got, want, "%s: same line as jansson's", name);
	free(want);
	free(got);
}

static void
check_events(void)
{
	json_t	*f;	/* new */
	char	*big;

	capture_reset();
	log_event(LOG_LVL_INFO, "plain message", NULL);
	check_line("no fields", LOG_LVL_INFO, "plain message", NULL);

	capture_reset();
	log_event(LOG_LVL_WARN, "q\" b\\ s/ c\x01\x1f\x7f n\n t\t b\b f\f r\r "
	    "\xc3\xa9 \xf0\x9d\x84\x9e", NULL);
	check_line("escapes and UTF-8 in msg", LOG_LVL_WARN, "q\" b\\ s/ "
	    "c\x01\x1f\x7f n\n t\t b\b f\f r\r \xc3\xa9 \xf0\x9d\x84\x9e",
	    NULL);

	f = json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:b, "
	    "s:b, s:n, s:{s:[i, s, {}, []], s:{}}, s:s}",
	    "str", "a\"b\\c\nd\x02", "zero", (json_int_t)0, "neg",
	    (json_int_t)-1, "min", (json_int_t)LLONG_MIN, "max",
	    (json_int_t)LLONG_MAX, "tenth", 0.1, "huge", 1e300, "neg real",
	    -2.5, "whole real", 3.0, "t", 1, "f", 0, "nothing",
	    "nested", "arr", 1, "x", "empty", "k\"ey\n", "\xe2\x82\xac");
	json_object_set_new(f, "nul", json_stringn("a\0b", 3));
	capture_reset();
	log_event(LOG_LVL_ERROR, "fields", f);
	check_line("every kind of field", LOG_LVL_ERROR, "fields", f);
	json_decref(f);

	f = json_pack("{s:s, s:i, s:n, s:s}", "first", "x", "msg", 5, "level",
	    "ts", "then");
	capture_reset();
	log_event(LOG_LVL_INFO, "overridden", f);
	check_line("fields named msg and level", LOG_LVL_INFO, "overridden",
	    f);
	json_decref(f);

	big = xmalloc(5001);
	memset(big, 'x', 5000);
	memcpy(big + 2500, "\"\n", 2);
	big[5000] = '\0';
	capture_reset();
	log_event(LOG_LVL_INFO, big, NULL);
	check_line("a line longer than the stack buffer", LOG_LVL_INFO, big,
	    NULL);
	free(big);
}

/* The access log's line, built field by field. */
static void
check_builder(void)
{
	struct log_line	 l;
	json_t		*f;	/* new */
	char		*got;

	capture_reset();
	ok(log_line_begin(&l, LOG_LVL_INFO, "access") == 0, "begin");
	log_line_str(&l, "request_id", "0123abcd");
	log_line_str(&l, "app", "b\xc3\xa4r \"1\"");
	log_line_str(&l, "owner", NULL);
	log_line_int(&l, "status", 200);
	log_line_int(&l, "ttft_ms", -1);
	log_line_int(&l, "big", LLONG_MIN);
	log_line_str(&l, "traceparent", "00-ab-01\t");
	log_line_end(&l);
	f = json_pack("{s:s, s:s, s:n, s:i, s:i, s:I, s:s}", "request_id",
	    "0123abcd", "app", "b\xc3\xa4r \"1\"", "owner", "status", 200,
	    "ttft_ms", -1, "big", (json_int_t)LLONG_MIN, "traceparent",
	    "00-ab-01\t");
	check_line("line built field by field", LOG_LVL_INFO, "access", f);
	json_decref(f);

	capture_reset();
	log_set_level_num(LOG_LVL_WARN);
	ok(log_line_begin(&l, LOG_LVL_INFO, "access") == -1,
	    "begin below the level");
	log_event(LOG_LVL_INFO, "not logged", NULL);
	log_info("not logged either %d", 1);
	got = captured();
	is_str(got, "", "nothing below the level is written");
	free(got);
	log_set_level_num(LOG_LVL_INFO);
}

static void
check_misc(void)
{
	json_t	*f;	/* new */
	char	*got, *s;

	/* Not UTF-8: jansson refused the message; now it reads U+FFFD. */
	capture_reset();
	log_event(LOG_LVL_INFO, "bad \xff\xc3 end", NULL);
	got = captured();
	ok(strstr(got, "\"msg\":\"bad \xef\xbf\xbd\xef\xbf\xbd end\"}\n") !=
	    NULL, "bytes that are not UTF-8 become U+FFFD");
	free(got);

	f = json_pack("{s:[s, i], s:f}", "a", "b", 1, "c", 0.5);
	capture_reset();
	log_json(f);
	got = captured();
	s = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ok(strncmp(got, s, strlen(s)) == 0 && strcmp(got + strlen(s), "\n") ==
	    0, "log_json: the object as jansson dumps it");
	free(s);
	free(got);
	json_decref(f);

	capture_reset();
	log_info("formatted %d %s", 42, "x");
	check_line("log_info", LOG_LVL_INFO, "formatted 42 x", NULL);
}

int
main(void)
{
	int	saved;

	if ((capture = tmpfile()) == NULL || (saved = dup(2)) == -1 ||
	    dup2(fileno(capture), 2) == -1) {
		perror("capture");
		return (1);
	}
	log_set_level_num(LOG_LVL_DEBUG);
	check_events();
	log_set_level_num(LOG_LVL_INFO);
	check_builder();
	check_misc();
	dup2(saved, 2);
	return (tap_done());
}
