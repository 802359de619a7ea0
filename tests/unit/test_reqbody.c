/*
 * Request-body inspection tests: bodies real clients send, and bodies a
 * hostile or broken one might (duplicate keys, deep nesting, bad UTF-8,
 * huge or negative numbers, wrong types), against the fields read or the
 * message of the refusal and what is kept for the ledger row; and the
 * body written back out with tollgate's changes spliced in.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../tap.h"
#include "reqbody.h"
#include "xmalloc.h"

#define N(a)	(sizeof (a) / sizeof (a)[0])
#define NONE	-1		/* cap absent */

#define NOTOBJ	"the request body is not a JSON object"
#define BADMODEL "\"model\" must be a non-empty string"
#define BADSTREAM "\"stream\" must be a boolean"
#define BADCAP	"output token limits must be non-negative integers"
#define TOODEEP	"the request body nests arrays and objects deeper than " \
		"128 levels"

#define M256	"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm" \
		"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm" \
		"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm" \
		"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm" \
		"mmmmmmmmmmmmmmmm"

struct bcase {
	const char	*name;
	const char	*body;
	int		 embeddings;
	const char	*cause;		/* NULL: accepted */
	const char	*detail;	/* a part of the cause, or NULL */
	const char	*model;		/* read, even when refused later */
	int		 stream;
	int64_t		 max_tokens, max_completion, max_output;
};

static const struct bcase cases[] = {
	{ "chat", "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": "
	  "\"user\", \"content\": \"hi\"}], \"max_tokens\": 100}", 0,
	  NULL, NULL, "gpt-4o-mini", 0, 100, NONE, NONE },
	{ "chat stream, completion cap", "{\"model\":\"o4-mini\","
	  "\"stream\":true,\"max_completion_tokens\":2048}", 0,
	  NULL, NULL, "o4-mini", 1, NONE, 2048, NONE },
	{ "responses cap", "{\"model\":\"gpt-4o\",\"input\":\"x\","
	  "\"max_output_tokens\":0}", 0,
	  NULL, NULL, "gpt-4o", 0, NONE, NONE, 0 },
	{ "all caps, nulls", "{\"model\":\"m\",\"stream\":null,"
	  "\"max_tokens\":null,\"max_completion_tokens\":7,"
	  "\"max_output_tokens\":null}", 0,
	  NULL, NULL, "m", 0, NONE, 7, NONE },
	{ "stream false", "{\"model\":\"m\",\"stream\":false}", 0,
	  NULL, NULL, "m", 0, NONE, NONE, NONE },
	{ "embeddings never stream", "{\"model\":\"e\",\"stream\":true,"
	  "\"input\":\"x\"}", 1, NULL, NULL, "e", 0, NONE, NONE, NONE },
	{ "largest cap", "{\"model\":\"m\",\"max_tokens\":"
	  "9223372036854775807}", 0,
	  NULL, NULL, "m", 0, INT64_MAX, NONE, NONE },
	{ "UTF-8 model", "{\"model\":\"mod\xc3\xa8le-\xe6\xbc\xa2\"}", 0,
	  NULL, NULL, "mod\xc3\xa8le-\xe6\xbc\xa2", 0, NONE, NONE, NONE },
	{ "escaped model", "{\"model\":\"a\\u00e8\\ud83d\\ude00\"}", 0,
	  NULL, NULL, "a\xc3\xa8\xf0\x9f\x98\x80", 0, NONE, NONE, NONE },
	{ "256-byte model", "{\"model\":\"" M256 "\"}", 0,
	  NULL, NULL, M256, 0, NONE, NONE, NONE },
	{ "17 distinct keys", "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,"
	  "\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,"
	  "\"m\":13,\"n\":14,\"o\":15,\"model\":\"m\",\"ab\":0}", 0,
	  NULL, NULL, "m", 0, NONE, NONE, NONE },
	{ "same key in sibling objects", "{\"model\":\"m\",\"messages\":["
	  "{\"role\":\"user\"},{\"role\":\"user\"}],\"x\":{\"role\":1}}", 0,
	  NULL, NULL, "m", 0, NONE, NONE, NONE },
	{ "key written with an escape", "{\"\\u006dodel\":\"m\","
	  "\"max_tokens\":3}", 0, NULL, NULL, "m", 0, 3, NONE, NONE },
	{ "real at a double's edge", "{\"model\":\"m\",\"t\":"
	  "1.7976931348623157e308}", 0, NULL, NULL, "m", 0, NONE, NONE, NONE },
	{ "brackets in strings do not nest", "{\"model\":\"m\",\"x\":"
	  "\"[[[[{{{{\\\"[[[[\"}", 0, NULL, NULL, "m", 0, NONE, NONE, NONE },

	{ "empty", "", 0, NOTOBJ ": ", NULL, NULL, 0, NONE, NONE, NONE },
	{ "not JSON", "model=gpt-4o", 0, NOTOBJ ": ", "expected",
	  NULL, 0, NONE, NONE, NONE },
	{ "array", "[{\"model\":\"m\"}]", 0, NOTOBJ, NULL,
	  NULL, 0, NONE, NONE, NONE },
	{ "string", "\"m\"", 0, NOTOBJ ": ", "expected", NULL, 0, NONE,
	  NONE, NONE },
	{ "trailing garbage", "{\"model\":\"m\"} {}", 0, NOTOBJ ": ",
	  "end of file expected", NULL, 0, NONE, NONE, NONE },
	{ "truncated", "{\"model\":\"m\",\"messages\":[", 0, NOTOBJ ": ",
	  NULL, NULL, 0, NONE, NONE, NONE },
	{ "duplicate key", "{\"model\":\"cheap\",\"model\":\"dear\"}", 0,
	  NOTOBJ ": ", "duplicate object key", NULL, 0, NONE, NONE, NONE },
	{ "duplicate key written with an escape", "{\"model\":\"m\","
	  "\"mod\\u0065l\":\"n\"}", 0, NOTOBJ ": ", "duplicate object key",
	  NULL, 0, NONE, NONE, NONE },
	{ "duplicate among 17 keys", "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,"
	  "\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,"
	  "\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"model\":\"m\",\"c\":0}",
	  0, NOTOBJ ": ", "duplicate object key", NULL, 0, NONE, NONE, NONE },
	{ "duplicate deep in arrays", "{\"model\":\"m\",\"tools\":[{\"a\":"
	  "[[{\"p\":{\"q\":1,\"r\":{},\"q\":2}}]]}]}", 0, NOTOBJ ": ",
	  "duplicate object key", NULL, 0, NONE, NONE, NONE },
	{ "nested duplicate key", "{\"model\":\"m\",\"messages\":"
	  "[{\"role\":\"user\",\"role\":\"system\"}]}", 0,
	  NOTOBJ ": ", "duplicate object key", NULL, 0, NONE, NONE, NONE },
	{ "duplicate cap", "{\"model\":\"m\",\"max_tokens\":1,"
	  "\"max_tokens\":100000}", 0, NOTOBJ ": ", "duplicate object key",
	  NULL, 0, NONE, NONE, NONE },
	{ "bad UTF-8 in a string", "{\"model\":\"m\",\"x\":\"\xff\"}", 0,
	  NOTOBJ ": ", "unable to decode byte", NULL, 0, NONE, NONE, NONE },
	{ "bad UTF-8 in a bad escape", "{\"model\":\"m\",\"x\":"
	  "\"\\u0\xd0\xa1\"}", 0, NOTOBJ ": ", "invalid escape near",
	  NULL, 0, NONE, NONE, NONE },
	{ "control byte in a token", "{\"model\":\"m\",\"x\":tr\x1bue}",
	  0, NOTOBJ ": ", NULL, NULL, 0, NONE, NONE, NONE },
	{ "overlong UTF-8", "{\"model\":\"\xc0\xafm\"}", 0, NOTOBJ ": ",
	  NULL, NULL, 0, NONE, NONE, NONE },
	{ "UTF-16 surrogate in UTF-8", "{\"model\":\"\xed\xa0\x80\"}", 0,
	  NOTOBJ ": ", NULL, NULL, 0, NONE, NONE, NONE },
	{ "lone surrogate escape", "{\"model\":\"\\ud800\"}", 0,
	  NOTOBJ ": ", NULL, NULL, 0, NONE, NONE, NONE },
	{ "NUL escape", "{\"model\":\"a\\u0000b\"}", 0, NOTOBJ ": ",
	  NULL, NULL, 0, NONE, NONE, NONE },
	{ "integer too big", "{\"model\":\"m\",\"max_tokens\":"
	  "9223372036854775808}", 0, NOTOBJ ": ", "too big integer",
	  NULL, 0, NONE, NONE, NONE },
	{ "real too big", "{\"model\":\"m\",\"max_tokens\":1e400}", 0,
	  NOTOBJ ": ", "overflow", NULL, 0, NONE, NONE, NONE },

	{ "no model", "{\"messages\":[]}", 0, BADMODEL, NULL,
	  NULL, 0, NONE, NONE, NONE },
	{ "model null", "{\"model\":null}", 0, BADMODEL, NULL,
	  NULL, 0, NONE, NONE, NONE },
	{ "model number", "{\"model\":4}", 0, BADMODEL, NULL,
	  NULL, 0, NONE, NONE, NONE },
	{ "model empty", "{\"model\":\"\"}", 0, BADMODEL, NULL,
	  NULL, 0, NONE, NONE, NONE },
	{ "257-byte model", "{\"model\":\"" M256 "m\"}", 0, BADMODEL, NULL,
	  NULL, 0, NONE, NONE, NONE },
	{ "stream string", "{\"model\":\"m\",\"stream\":\"true\"}", 0,
	  BADSTREAM, NULL, "m", 0, NONE, NONE, NONE },
	{ "stream 1", "{\"model\":\"m\",\"stream\":1}", 0, BADSTREAM, NULL,
	  "m", 0, NONE, NONE, NONE },
	{ "negative cap", "{\"model\":\"m\",\"stream\":true,"
	  "\"max_tokens\":-1}", 0, BADCAP, NULL, "m", 1, NONE, NONE, NONE },
	{ "smallest integer cap", "{\"model\":\"m\",\"max_output_tokens\":"
	  "-9223372036854775808}", 0, BADCAP, NULL,
	  "m", 0, NONE, NONE, NONE },
	{ "real cap", "{\"model\":\"m\",\"max_completion_tokens\":100.0}", 0,
	  BADCAP, NULL, "m", 0, NONE, NONE, NONE },
	{ "huge real cap", "{\"model\":\"m\",\"max_tokens\":1e300}", 0,
	  BADCAP, NULL, "m", 0, NONE, NONE, NONE },
	{ "string cap", "{\"model\":\"m\",\"max_output_tokens\":\"10\"}", 0,
	  BADCAP, NULL, "m", 0, NONE, NONE, NONE },
	{ "boolean cap", "{\"model\":\"m\",\"max_tokens\":true}", 0,
	  BADCAP, NULL, "m", 0, NONE, NONE, NONE },
	{ "bad cap after good", "{\"model\":\"m\",\"max_tokens\":5,"
	  "\"max_completion_tokens\":[]}", 0, BADCAP, NULL,
	  "m", 0, 5, NONE, NONE },
};

/* {"model":"m","x":OPEN..OPEN 1 CLOSE..CLOSE}, n of each. */
static char *
nested(size_t n, const char *open, const char *close)
{
	static const char	 pre[] = "{\"model\":\"m\",\"x\":";
	char			*s;
	size_t			 i, off, olen = strlen(open);
	size_t			 clen = strlen(close);

	s = xmalloc(sizeof pre + n * (olen + clen) + 3);
	memcpy(s, pre, sizeof pre - 1);
	off = sizeof pre - 1;
	for (i = 0; i < n; i++, off += olen)
		memcpy(s + off, open, olen);
	s[off++] = '1';
	for (i = 0; i < n; i++, off += clen)
		memcpy(s + off, close, clen);
	s[off++] = '}';
	s[off] = '\0';
	return (s);
}

static void
check_case(const struct bcase *c, const char *body)
{
	struct reqbody	 rb;
	char		*cause = (char *)"untouched";
	const char	*p;
	struct reqbody_edit	 none;
	json_t		*j;	/* new */
	char		*out;
	size_t		 n;
	int		 rv;

	rv = reqbody_parse(body, strlen(body), c->embeddings, &rb, &cause);
	is_int(rv, c->cause == NULL ? 0 : -1, "%s: result", c->name);
	if (c->cause == NULL) {
		ok(cause == NULL, "%s: no cause", c->name);
		memset(&none, 0, sizeof none);
		n = reqbody_write(&rb, body, strlen(body), &none, &out);
		ok(n == strlen(body) && memcmp(out, body, n) == 0,
		    "%s: written back unchanged", c->name);
		free(out);
	} else {
		/* A cause ending in ": " goes on with jansson's words. */
		n = strlen(c->cause);
		ok(cause != NULL && (n > 2 && strcmp(c->cause + n - 2,
		    ": ") == 0 ? strncmp(cause, c->cause, n) == 0 :
		    strcmp(cause, c->cause) == 0), "%s: cause \"%s\"",
		    c->name, cause != NULL ? cause : "(null)");
		if (c->detail != NULL)
			ok(cause != NULL && strstr(cause, c->detail) != NULL,
			    "%s: cause says \"%s\"", c->name, c->detail);
		/* It goes into a JSON error body: UTF-8, no controls. */
		for (p = cause; p != NULL && *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				break;
		}
		j = cause != NULL ? json_string(cause) : NULL;
		ok(p != NULL && *p == '\0' && j != NULL,
		    "%s: cause printable", c->name);
		json_decref(j);
	}
	is_str(rb.model, c->model, "%s: model", c->name);
	is_int(rb.stream, c->stream, "%s: stream", c->name);
	is_int(rb.max_tokens, c->max_tokens, "%s: max_tokens", c->name);
	is_int(rb.max_completion_tokens, c->max_completion,
	    "%s: max_completion_tokens", c->name);
	is_int(rb.max_output_tokens, c->max_output, "%s: max_output_tokens",
	    c->name);
	if (c->cause != NULL)
		free(cause);
	reqbody_clear(&rb);
	ok(rb.model == NULL, "%s: cleared", c->name);
}

static void
check_depth(void)
{
	static const struct {
		const char	*name;
		size_t		 n;
		const char	*open, *close;
		int		 ok;
	} d[] = {
		/* The body object itself is the first level. */
		{ "128 levels", 127, "[", "]", 1 },
		{ "129 levels", 128, "[", "]", 0 },
		{ "objects and arrays, 127 levels", 63, "[{\"a\":", "}]", 1 },
		{ "objects and arrays, 129 levels", 64, "[{\"a\":", "}]", 0 },
		{ "3000 levels (past jansson's 2048)", 2999, "[", "]", 0 },
		{ "100000 unclosed", 100000, "[", "", 0 },
	};
	struct bcase	 c;
	char		*body, name[128];
	size_t		 i;

	for (i = 0; i < N(d); i++) {
		memset(&c, 0, sizeof c);
		snprintf(name, sizeof name, "depth %s", d[i].name);
		c.name = name;
		c.cause = d[i].ok ? NULL : TOODEEP;
		c.model = d[i].ok ? "m" : NULL;
		c.max_tokens = c.max_completion = c.max_output = NONE;
		body = nested(d[i].n, d[i].open, d[i].close);
		check_case(&c, body);
		free(body);
	}
}

/* reqbody_cap(): what admit() reads the chosen cap with. */
static void
check_cap(void)
{
	static const struct {
		const char	*body;
		const char	*name;
		int		 rv;
		int64_t		 v;
	} c[] = {
		{ "{\"model\":\"m\",\"max_tokens\":12}", "max_tokens", 1, 12 },
		{ "{\"model\":\"m\",\"max_tokens\":0}", "max_tokens", 1, 0 },
		{ "{\"model\":\"m\",\"max_tokens\":null}", "max_tokens", 1, -1 },
		{ "{\"model\":\"m\",\"max_tokens\":12}", "max_completion_tokens",
		  0, -1 },
		{ "{\"model\":\"m\",\"max_output_tokens\":9}",
		  "max_output_tokens", 1, 9 },
		{ "{\"model\":\"m\",\"max_tokens\":12}", "temperature", 0, -7 },
	};
	struct reqbody	 rb;
	char		*cause;
	int64_t		 v;
	size_t		 i;

	for (i = 0; i < N(c); i++) {
		is_int(reqbody_parse(c[i].body, strlen(c[i].body), 0, &rb,
		    &cause), 0, "cap %s: parsed", c[i].body);
		v = -7;
		is_int(reqbody_cap(&rb, c[i].name, &v), c[i].rv,
		    "cap %s %s: present", c[i].body, c[i].name);
		is_int(v, c[i].v, "cap %s %s: value", c[i].body, c[i].name);
		reqbody_clear(&rb);
	}
}

/*
 * reqbody_write(): each change where the member was, or at the end of its
 * object; the rest byte for byte; the result a body reqbody takes again.
 */
static void
check_write(void)
{
	static const struct {
		const char	*name;
		const char	*body;
		struct reqbody_edit e;
		const char	*want;
	} c[] = {
		{ "lower a cap", "{\"model\":\"gpt-4o-mini\",\"max_tokens\":16}",
		  { NULL, "max_tokens", 8, 0 },
		  "{\"model\":\"gpt-4o-mini\",\"max_tokens\":8}" },
		{ "add a cap; spacing and numbers kept",
		  "{ \"model\" : \"m\", \"temperature\": 0.70 }",
		  { NULL, "max_completion_tokens", 100, 0 },
		  "{ \"model\" : \"m\", \"temperature\": 0.70 ,"
		  "\"max_completion_tokens\":100}" },
		{ "a null cap", "{\"max_output_tokens\":null,\"model\":\"m\"}",
		  { NULL, "max_output_tokens", 4096, 0 },
		  "{\"max_output_tokens\":4096,\"model\":\"m\"}" },
		{ "the model", "{\"model\" : \"alias\", \"x\":1}",
		  { "gpt-4o", NULL, 0, 0 }, "{\"model\" : \"gpt-4o\", \"x\":1}" },
		{ "an escaped model", "{\"x\":[\"model\"],\"model\":\"\\u0067pt\"}",
		  { "o4-mini", NULL, 0, 0 },
		  "{\"x\":[\"model\"],\"model\":\"o4-mini\"}" },
		{ "a model that needs escapes", "{\"model\":\"m\"}",
		  { "a\"b\\c\n\x7f\xc3\xa8", NULL, 0, 0 },
		  "{\"model\":\"a\\\"b\\\\c\\u000a\x7f\xc3\xa8\"}" },
		{ "usage, no stream_options", "{\"model\":\"m\",\"stream\":true}",
		  { NULL, NULL, 0, 1 }, "{\"model\":\"m\",\"stream\":true,"
		  "\"stream_options\":{\"include_usage\":true}}" },
		{ "usage, stream_options null",
		  "{\"model\":\"m\",\"stream_options\":null,\"stream\":true}",
		  { NULL, NULL, 0, 1 }, "{\"model\":\"m\",\"stream_options\":"
		  "{\"include_usage\":true},\"stream\":true}" },
		{ "usage, stream_options empty",
		  "{\"stream_options\":{ },\"model\":\"m\"}",
		  { NULL, NULL, 0, 1 },
		  "{\"stream_options\":{\"include_usage\":true },\"model\":\"m\"}" },
		{ "usage, stream_options with another member",
		  "{\"model\":\"m\",\"stream_options\":{\"x\":{\"y\":1}}}",
		  { NULL, NULL, 0, 1 }, "{\"model\":\"m\",\"stream_options\":"
		  "{\"include_usage\":true,\"x\":{\"y\":1}}}" },
		{ "usage false", "{\"model\":\"m\",\"stream_options\":"
		  "{\"a\":1,\"include_usage\":false}}", { NULL, NULL, 0, 1 },
		  "{\"model\":\"m\",\"stream_options\":{\"a\":1,"
		  "\"include_usage\":true}}" },
		{ "usage already true", "{\"model\":\"m\",\"stream_options\":"
		  "{\"include_usage\":true}}", { NULL, NULL, 0, 1 },
		  "{\"model\":\"m\",\"stream_options\":{\"include_usage\":true}}" },
		{ "all three, two at the end", "{\"model\":\"a\",\"stream\":true}",
		  { "b", "max_tokens", 5, 1 },
		  "{\"model\":\"b\",\"stream\":true,\"max_tokens\":5,"
		  "\"stream_options\":{\"include_usage\":true}}" },
		{ "all three in place", "{\"stream_options\":[],"
		  "\"max_tokens\":null,\"model\":\"a\",\"z\":\"}\"}\n",
		  { "bbbbbbbbbb", "max_tokens", 123456789, 1 },
		  "{\"stream_options\":{\"include_usage\":true},"
		  "\"max_tokens\":123456789,\"model\":\"bbbbbbbbbb\",\"z\":\"}\"}\n" },
	};
	struct reqbody	 rb, again;
	char		*cause, *out;
	size_t		 i, n;
	int64_t		 v;

	for (i = 0; i < N(c); i++) {
		is_int(reqbody_parse(c[i].body, strlen(c[i].body), 0, &rb,
		    &cause), 0, "write %s: parsed", c[i].name);
		n = reqbody_write(&rb, c[i].body, strlen(c[i].body), &c[i].e,
		    &out);
		ok(n == strlen(c[i].want) && memcmp(out, c[i].want, n) == 0,
		    "write %s: %.*s", c[i].name, (int)n, out);
		is_int(reqbody_parse(out, n, 0, &again, &cause), 0,
		    "write %s: taken again", c[i].name);
		if (c[i].e.model != NULL)
			is_str(again.model, c[i].e.model, "write %s: model",
			    c[i].name);
		if (c[i].e.cap_name != NULL) {
			ok(reqbody_cap(&again, c[i].e.cap_name, &v) &&
			    v == c[i].e.cap, "write %s: cap", c[i].name);
		}
		if (c[i].e.include_usage)
			ok(again.include_usage, "write %s: include_usage",
			    c[i].name);
		free(out);
		reqbody_clear(&again);
		reqbody_clear(&rb);
	}
}

int
main(void)
{
	size_t	i;

	for (i = 0; i < N(cases); i++)
		check_case(&cases[i], cases[i].body);
	check_depth();
	check_cap();
	check_write();
	return (tap_done());
}
