/* jsonpos: JSON Pointer paths to 1-based line/column of keys and values. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"
#include "tap.h"
#include "util.h"

struct pos_case {
	const char	*name;
	const char	*path;
	int		 key;
	int		 ret;
	int		 line;
	int		 col;
};

/*
 * Columns count characters: "é" (2 bytes) and "€" (3 bytes) are one column
 * each, as in jansson's error messages.
 */
static const char doc[] =
    "{\n"					/* 1 */
    "  \"listen\": [\"a:1\", \"b:2\"],\n"	/* 2 */
    "  \"providers\": {\n"			/* 3 */
    "    \"openai\": {\"api\": \"openai\",\n"	/* 4 */
    "\t\"key_env\": null},\n"			/* 5 */
    "    \"a/b\": 1, \"m~n\": 2, \"~/\": [],\n"	/* 6 */
    "    \"\\u00e9t\\u00e9\": {\"x\": true}, \"€\": -1.5e3\n" /* 7 */
    "  },\n"					/* 8 */
    "  \"\": {\"\": \"empty\"},\n"		/* 9 */
    "  \"nested\": [[1, [2, {\"deep\": \"x\"}]]]\n" /* 10 */
    "}\n";

static const struct pos_case cases[] = {
	{ "root", "", 0, 0, 1, 1 },
	{ "root as key", "", 1, 0, 1, 1 },
	{ "listen value", "/listen", 0, 0, 2, 13 },
	{ "listen key", "/listen", 1, 0, 2, 3 },
	{ "array element 0", "/listen/0", 0, 0, 2, 14 },
	{ "array element 1", "/listen/1", 0, 0, 2, 21 },
	{ "array element key is its value", "/listen/1", 1, 0, 2, 21 },
	{ "object on next line", "/providers", 0, 0, 3, 16 },
	{ "nested key", "/providers/openai", 1, 0, 4, 5 },
	{ "nested value", "/providers/openai", 0, 0, 4, 15 },
	{ "deeper key", "/providers/openai/api", 1, 0, 4, 16 },
	{ "deeper value", "/providers/openai/api", 0, 0, 4, 23 },
	{ "tab counts one column", "/providers/openai/key_env", 1, 0, 5, 2 },
	{ "null value", "/providers/openai/key_env", 0, 0, 5, 13 },
	{ "slash escaped as ~1", "/providers/a~1b", 1, 0, 6, 5 },
	{ "tilde escaped as ~0", "/providers/m~0n", 0, 0, 6, 22 },
	{ "both escapes", "/providers/~0~1", 0, 0, 6, 31 },
	{ "unescaped slash is a path step", "/providers/a/b", 0, -1, 1, 1 },
	{ "\\u escapes decoded", "/providers/\xc3\xa9t\xc3\xa9", 1, 0, 7, 5 },
	{ "after \\u escapes", "/providers/\xc3\xa9t\xc3\xa9/x", 0, 0, 7, 28 },
	{ "utf-8 key is one column",
	    "/providers/\xe2\x82\xac", 0, 0, 7, 40 },
	{ "empty key", "/", 1, 0, 9, 3 },
	{ "empty key in empty key", "//", 0, 0, 9, 12 },
	{ "nested arrays", "/nested/0/1/0", 0, 0, 10, 19 },
	{ "deep member", "/nested/0/1/1/deep", 1, 0, 10, 23 },
	{ "deep member value", "/nested/0/1/1/deep", 0, 0, 10, 31 },
	{ "missing path", "/nope", 0, -1, 1, 1 },
	{ "index out of range", "/listen/2", 0, -1, 1, 1 },
	{ "prefix is not a match", "/list", 0, -1, 1, 1 },
};

static const struct {
	const char	*name;
	const char	*text;
	int		 valid;
} validity[] = {
	{ "scalar root", "42", 1 },
	{ "string root", " \"x\" ", 1 },
	{ "empty", "", 0 },
	{ "only spaces", "   ", 0 },
	{ "trailing comma object", "{\"a\": 1,}", 0 },
	{ "trailing comma array", "[1,]", 0 },
	{ "trailing garbage", "{} x", 0 },
	{ "single quotes", "{'a': 1}", 0 },
	{ "leading zero", "[01]", 0 },
	{ "bare minus", "[-]", 0 },
	{ "dot without digits", "[1.]", 0 },
	{ "exponent", "[1e+5, -0.5E-3]", 1 },
	{ "control char in string", "[\"a\tb\"]", 0 },
	{ "bad escape", "[\"\\x\"]", 0 },
	{ "surrogate pair", "[\"\\ud83d\\ude00\"]", 1 },
	{ "lone low surrogate", "[\"\\ude00\"]", 0 },
	{ "lone high surrogate", "[\"\\ud83d\"]", 0 },
	{ "invalid utf-8", "[\"\xc3\x28\"]", 0 },
	{ "overlong utf-8", "[\"\xc0\xaf\"]", 0 },
	{ "unterminated string", "[\"abc", 0 },
	{ "unterminated object", "{\"a\": 1", 0 },
	{ "missing colon", "{\"a\" 1}", 0 },
	{ "literal typo", "[tru]", 0 },
	{ "nul key", "{\"a\\u0000\": 1}", 0 },
	{ "crlf", "{\r\n\"a\": 1\r\n}", 1 },
};

int
main(void)
{
	struct jsonpos	*jp;
	char		*deep;
	size_t		 i;
	int		 line, col, rv;

	jp = jsonpos_new(doc, strlen(doc));
	ok(jp != NULL, "document indexed");
	for (i = 0; i < nitems(cases); i++) {
		line = col = -7;
		rv = jsonpos_find(jp, cases[i].path, cases[i].key, &line,
		    &col);
		is_int(rv, cases[i].ret, "%s: return", cases[i].name);
		ok(line == cases[i].line && col == cases[i].col,
		    "%s: at %d:%d", cases[i].name, cases[i].line,
		    cases[i].col);
		if (line != cases[i].line || col != cases[i].col)
			printf("# got %d:%d\n", line, col);
	}
	jsonpos_free(jp);

	for (i = 0; i < nitems(validity); i++) {
		jp = jsonpos_new(validity[i].text, strlen(validity[i].text));
		is_int(jp != NULL, validity[i].valid, "validity: %s",
		    validity[i].name);
		jsonpos_free(jp);
	}

	/* Text with no terminating NUL: only len bytes are read. */
	jp = jsonpos_new("{\"a\": 1}xyz", 8);
	ok(jp != NULL && jsonpos_find(jp, "/a", 0, &line, &col) == 0 &&
	    line == 1 && col == 7, "length bounds the text");
	jsonpos_free(jp);

	/* CRLF: '\r' is a column on its line, '\n' starts the next. */
	jp = jsonpos_new("{\r\n  \"a\": 1\r\n}", 14);
	ok(jp != NULL && jsonpos_find(jp, "/a", 1, &line, &col) == 0 &&
	    line == 2 && col == 3, "CRLF line endings");
	jsonpos_free(jp);

	/* Nesting limit: deep but legal documents work, absurd ones fail. */
	deep = malloc(2 * 3000 + 1);
	memset(deep, '[', 1000);
	memset(deep + 1000, ']', 1000);
	deep[2000] = '\0';
	jp = jsonpos_new(deep, 2000);
	ok(jp != NULL, "1000 nested arrays");
	jsonpos_free(jp);
	memset(deep, '[', 3000);
	memset(deep + 3000, ']', 3000);
	jp = jsonpos_new(deep, 6000);
	ok(jp == NULL, "3000 nested arrays refused");
	free(deep);

	ok(jsonpos_find(NULL, "", 0, &line, &col) == -1 && line == 1 &&
	    col == 1, "NULL index finds nothing at 1:1");
	jsonpos_free(NULL);
	return (tap_done());
}
