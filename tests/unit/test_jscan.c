/*
 * jscan tests.  jscan_check() must say "JSON" exactly when jansson's
 * json_loadb(text, len, 0) does, so every case is also put to jansson:
 * named cases at the edges (escapes, UTF-8, numbers at the int64 and
 * double limits, nesting at jansson's depth limit), then thousands of
 * mutations of real provider answers.  The walkers are compared with
 * jansson's tree of the same text, value by value.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../fixture.h"
#include "../tap.h"
#include "../../src/jscan.c"
#include "xmalloc.h"

/* jansson's verdict on text[0..len). */
static int
jansson_ok(const char *text, size_t len)
{
	json_t	*j;	/* new */

	if ((j = json_loadb(text, len, 0, NULL)) == NULL)
		return (0);
	json_decref(j);
	return (1);
}

/* Does jscan's verdict agree with jansson's? */
static int
agrees(const char *text, size_t len, enum jscan_result *rp)
{
	struct jscan_val	root;
	enum jscan_result	r;
	int			j = jansson_ok(text, len);

	*rp = r = jscan_check(text, len, &root);
	return (r == JSCAN_UNSURE || (r == JSCAN_OK) == j);
}

struct check_case {
	const char		*name;
	const char		*text;
	size_t			 len;
	enum jscan_result	 want;
};

#define CASE(name, text, want)	{ name, text, sizeof (text) - 1, want }

static const struct check_case checks[] = {
	CASE("empty object", "{}", JSCAN_OK),
	CASE("empty array", " [ ] ", JSCAN_OK),
	CASE("whitespace of all kinds", "\t\r\n{ \"a\" :\n[ 1 ,\t2 ]\r}\n",
	  JSCAN_OK),
	CASE("nothing", "", JSCAN_INVALID),
	CASE("only whitespace", "  \n", JSCAN_INVALID),
	CASE("string at the top", "\"a\"", JSCAN_INVALID),
	CASE("number at the top", "1", JSCAN_INVALID),
	CASE("literal at the top", "null", JSCAN_INVALID),
	CASE("two texts", "{}{}", JSCAN_INVALID),
	CASE("trailing garbage", "{} x", JSCAN_INVALID),
	CASE("trailing comma in object", "{\"a\":1,}", JSCAN_INVALID),
	CASE("trailing comma in array", "[1,]", JSCAN_INVALID),
	CASE("leading comma", "[,1]", JSCAN_INVALID),
	CASE("missing colon", "{\"a\" 1}", JSCAN_INVALID),
	CASE("missing value", "{\"a\":}", JSCAN_INVALID),
	CASE("key not a string", "{a:1}", JSCAN_INVALID),
	CASE("number key", "{1:1}", JSCAN_INVALID),
	CASE("mismatched brackets", "[1}", JSCAN_INVALID),
	CASE("unclosed", "{\"a\":[1,2]", JSCAN_INVALID),
	CASE("unclosed string", "[\"abc]", JSCAN_INVALID),
	CASE("literals", "[true,false,null]", JSCAN_OK),
	CASE("literal cut", "[tru]", JSCAN_INVALID),
	CASE("literal too long", "[truex]", JSCAN_INVALID),
	CASE("literal capitalised", "[True]", JSCAN_INVALID),
	CASE("literal glued to a number", "[true1]", JSCAN_INVALID),
	CASE("escapes", "[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9\"]",
	  JSCAN_OK),
	CASE("bad escape", "[\"\\x\"]", JSCAN_INVALID),
	CASE("short \\u", "[\"\\u12\"]", JSCAN_INVALID),
	CASE("\\u with a non-hex digit", "[\"\\u12g4\"]", JSCAN_INVALID),
	CASE("\\u0000", "[\"a\\u0000b\"]", JSCAN_INVALID),
	CASE("\\u0000 in a key", "{\"\\u0000\":1}", JSCAN_INVALID),
	CASE("surrogate pair", "[\"\\ud83d\\ude00\"]", JSCAN_OK),
	CASE("upper-case surrogate pair", "[\"\\uD83D\\uDE00\"]", JSCAN_OK),
	CASE("lone high surrogate", "[\"\\ud83d\"]", JSCAN_INVALID),
	CASE("high surrogate, other escape", "[\"\\ud83d\\n\"]",
	  JSCAN_INVALID),
	CASE("two high surrogates", "[\"\\ud83d\\ud83d\"]", JSCAN_INVALID),
	CASE("lone low surrogate", "[\"\\ude00\"]", JSCAN_INVALID),
	CASE("raw tab in a string", "[\"a\tb\"]", JSCAN_INVALID),
	CASE("raw newline in a string", "[\"a\nb\"]", JSCAN_INVALID),
	CASE("DEL in a string", "[\"a\x7f\"]", JSCAN_OK),
	CASE("UTF-8, 2 to 4 bytes",
	  "[\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]",
	  JSCAN_OK),
	CASE("overlong 2-byte", "[\"\xc0\xaf\"]", JSCAN_INVALID),
	CASE("overlong 3-byte", "[\"\xe0\x80\xaf\"]", JSCAN_INVALID),
	CASE("overlong 4-byte", "[\"\xf0\x80\x80\xaf\"]", JSCAN_INVALID),
	CASE("UTF-8 surrogate", "[\"\xed\xa0\x80\"]", JSCAN_INVALID),
	CASE("above U+10FFFF", "[\"\xf4\x90\x80\x80\"]", JSCAN_INVALID),
	CASE("lead byte 0xf5", "[\"\xf5\x80\x80\x80\"]", JSCAN_INVALID),
	CASE("lone continuation byte", "[\"\x80\"]", JSCAN_INVALID),
	CASE("cut sequence", "[\"\xe2\x82\"]", JSCAN_INVALID),
	CASE("UTF-8 outside a string", "[\xc3\xa9]", JSCAN_INVALID),
	CASE("NUL after a comma", "[1,\0002]", JSCAN_INVALID),
	CASE("NUL after a number", "[1\000,2.5\000]", JSCAN_OK),
	CASE("NUL after a literal", "{\"a\":true\000,\"b\":null\000}",
	  JSCAN_OK),
	CASE("two NULs after a number", "[1\000\000]", JSCAN_INVALID),
	CASE("NUL after a space", "[1 \000]", JSCAN_INVALID),
	CASE("NUL after a string", "[\"a\"\000]", JSCAN_INVALID),
	CASE("NUL after a container", "[[]\000]", JSCAN_INVALID),
	CASE("NUL after the text", "[1]\000", JSCAN_INVALID),
	CASE("integers", "[0,-0,1,-1,123456789]", JSCAN_OK),
	CASE("leading zero", "[01]", JSCAN_INVALID),
	CASE("minus alone", "[-]", JSCAN_INVALID),
	CASE("plus sign", "[+1]", JSCAN_INVALID),
	CASE("INT64_MAX", "[9223372036854775807]", JSCAN_OK),
	CASE("INT64_MAX + 1", "[9223372036854775808]", JSCAN_INVALID),
	CASE("INT64_MIN", "[-9223372036854775808]", JSCAN_OK),
	CASE("INT64_MIN - 1", "[-9223372036854775809]", JSCAN_INVALID),
	CASE("20 digits", "[10000000000000000000]", JSCAN_INVALID),
	CASE("reals", "[0.5,-1.25,1e3,1E+3,1e-3,0.0,-0e0,2.5E-2]", JSCAN_OK),
	CASE("dot without digits", "[1.]", JSCAN_INVALID),
	CASE("dot first", "[.5]", JSCAN_INVALID),
	CASE("exponent without digits", "[1e]", JSCAN_INVALID),
	CASE("exponent sign without digits", "[1e+]", JSCAN_INVALID),
	CASE("two dots", "[1.2.3]", JSCAN_INVALID),
	CASE("DBL_MAX", "[1.7976931348623157e308]", JSCAN_OK),
	CASE("rounds down to DBL_MAX", "[1.7976931348623158e308]", JSCAN_OK),
	CASE("overflows", "[1.7976931348623159e308]", JSCAN_INVALID),
	CASE("-DBL_MAX", "[-1.7976931348623157e308]", JSCAN_OK),
	CASE("1e308", "[1e308]", JSCAN_OK),
	CASE("1e309", "[1e309]", JSCAN_INVALID),
	CASE("10e308", "[10e308]", JSCAN_INVALID),
	CASE("0.1e310", "[0.1e310]", JSCAN_INVALID),
	CASE("0.01e310", "[0.01e310]", JSCAN_OK),
	CASE("huge exponent on zero", "[0e999999999999999999999]", JSCAN_OK),
	CASE("huge exponent", "[1e999999999999999999999]", JSCAN_INVALID),
	CASE("huge negative exponent", "[1e-999999999999999999999]",
	  JSCAN_OK),
	CASE("underflow", "[1e-400]", JSCAN_OK),
	CASE("near DBL_MAX, too long to copy",
	  "[1.00000000000000000000000000000000000000000000000000000000000000"
	  "00000000000000e308]", JSCAN_UNSURE),
	CASE("near DBL_MAX, too long, but broken after",
	  "[1.00000000000000000000000000000000000000000000000000000000000000"
	  "00000000000000e308,]", JSCAN_INVALID),
	CASE("duplicate keys", "{\"a\":1,\"a\":2}", JSCAN_OK),
	CASE("escaped key", "{\"\\u0061\":1}", JSCAN_OK),
};

static void
check_cases(void)
{
	enum jscan_result	r;
	size_t			i, len;

	for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		len = checks[i].len;
		ok(agrees(checks[i].text, len, &r), "%s: agrees with jansson",
		    checks[i].name);
		is_int(r, checks[i].want, "%s", checks[i].name);
	}
}

/* "[[[...1...]]]": n arrays, then a number when leaf. */
static char *
nested(size_t n, int leaf, size_t *len)
{
	char	*s;
	size_t	 i, at = 0;

	s = xmalloc(2 * n + 2);
	for (i = 0; i < n; i++)
		s[at++] = '[';
	if (leaf)
		s[at++] = '1';
	for (i = 0; i < n; i++)
		s[at++] = ']';
	*len = at;
	return (s);
}

static void
check_depth(void)
{
	enum jscan_result	r;
	char			*s;
	size_t			 len;

	s = nested(2047, 1, &len);
	ok(agrees(s, len, &r) && r == JSCAN_OK, "2047 arrays and a number");
	free(s);
	s = nested(2048, 0, &len);
	ok(agrees(s, len, &r) && r == JSCAN_OK, "2048 empty arrays");
	free(s);
	s = nested(2048, 1, &len);
	ok(agrees(s, len, &r) && r == JSCAN_INVALID,
	    "2048 arrays and a number: too deep");
	free(s);
	s = nested(2049, 0, &len);
	ok(agrees(s, len, &r) && r == JSCAN_INVALID, "2049 arrays: too deep");
	free(s);
}

/* The string v against s[0..n): length, equality, prefixes, suffixes. */
static int
same_string(const struct jscan_val *v, const char *s, size_t n)
{
	const size_t	 cuts[] = { 0, 1, n / 2, n - 1, n };
	char		*t;
	size_t		 i;
	int		 rv = 0;

	if (jscan_strlen(v) != n || !jscan_streq(v, s))
		return (-1);
	t = xmalloc(n + 3);
	for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		if (cuts[i] > n)
			continue;
		memcpy(t, s, cuts[i]);
		t[cuts[i]] = '\0';
		if (!jscan_strprefix(v, t) || !jscan_strsuffix(v, s + cuts[i]))
			rv = -1;
	}
	memcpy(t, s, n);
	memcpy(t + n, "x", 2);
	if (jscan_streq(v, t) || jscan_strprefix(v, t))
		rv = -1;
	t[0] = 'x';
	memcpy(t + 1, s, n + 1);
	if (jscan_strsuffix(v, t) || (n > 0 && jscan_streq(v, s + 1)))
		rv = -1;
	free(t);
	return (rv);
}

/*
 * Compare the checked value v with jansson's j, recursively: same type,
 * same members (looked up by key), same elements in order, same strings
 * and numbers.  Returns 0, or -1 and prints where they differ.
 */
static int
same(json_t *j, const struct jscan_val *v, const char *where)
{
	struct jscan_val	 m, e;
	const char		*key, *pos = NULL;
	json_t			*jv;		/* borrowed */
	size_t			 n = 0;
	int64_t			 x;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		if (v->type != JSCAN_OBJECT)
			break;
		json_object_foreach(j, key, jv) {
			if (jscan_get(v, key, &m) == -1 ||
			    same(jv, &m, key) == -1)
				return (-1);
		}
		return (0);
	case JSON_ARRAY:
		if (v->type != JSCAN_ARRAY)
			break;
		while (jscan_next(v, &pos, &e) == 0) {
			if ((jv = json_array_get(j, n++)) == NULL ||
			    same(jv, &e, where) == -1)
				return (-1);
		}
		if (n != json_array_size(j) || jscan_empty(v) != (n == 0))
			break;
		return (0);
	case JSON_STRING:
		if (v->type != JSCAN_STRING || same_string(v,
		    json_string_value(j), json_string_length(j)) == -1)
			break;
		return (0);
	case JSON_INTEGER:
		if (v->type != JSCAN_INTEGER || jscan_int(v, &x) == -1 ||
		    x != json_integer_value(j))
			break;
		return (0);
	case JSON_REAL:
		if (v->type != JSCAN_REAL || jscan_int(v, &x) != -1)
			break;
		return (0);
	case JSON_TRUE:
		if (v->type == JSCAN_TRUE)
			return (0);
		break;
	case JSON_FALSE:
		if (v->type == JSCAN_FALSE)
			return (0);
		break;
	case JSON_NULL:
		if (v->type == JSCAN_NULL)
			return (0);
		break;
	}
	printf("# differs at \"%s\": jscan type %d, %.*s\n", where,
	    (int)v->type, (int)(v->len > 80 ? 80 : v->len), v->p);
	return (-1);
}

/*
 * The root's values that jscan_check_getn() picks up on its way, for
 * every key the root has and one it has not: the same as jscan_getn()?
 */
static int
same_capture(json_t *j, const char *text, size_t len)
{
	struct jscan_key	 keys[JSCAN_CHECK_KEYS];
	struct jscan_val	 root, got[JSCAN_CHECK_KEYS];
	struct jscan_val	 want[JSCAN_CHECK_KEYS];
	const char		*key;
	json_t			*v;	/* borrowed */
	size_t			 n = 0, i;

	json_object_foreach(j, key, v) {
		if (n == JSCAN_CHECK_KEYS - 1)
			break;
		keys[n].s = key;
		keys[n++].len = strlen(key);
	}
	keys[n].s = "no such key";
	keys[n++].len = 11;
	if (jscan_check_getn(text, len, &root, keys, n, got) != JSCAN_OK)
		return (-1);
	(void)jscan_getn(&root, keys, n, want);
	for (i = 0; i < n; i++) {
		if (got[i].p != want[i].p || got[i].len != want[i].len ||
		    got[i].type != want[i].type ||
		    got[i].flags != want[i].flags) {
			printf("# captured \"%s\" differs\n", keys[i].s);
			return (-1);
		}
	}
	return (0);
}

/* Check text, then compare every value with jansson's tree. */
static int
walk_agrees(const char *text, size_t len)
{
	struct jscan_val	 root;
	json_t			*j;	/* new */
	int			 rv;

	if (jscan_check(text, len, &root) != JSCAN_OK)
		return (0);
	if ((j = json_loadb(text, len, 0, NULL)) == NULL)
		return (0);
	rv = same(j, &root, "") == 0 && same_capture(j, text, len) == 0;
	json_decref(j);
	return (rv);
}

static const char *const docs[] = {
	"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
	"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Caf\\u00e9 "
	"\\\"ol\\u00e9\\\" \\ud83c\\udf75\\n\"},\"finish_reason\":null}],"
	"\"usage\":null}",
	"{\"a\":[],\"b\":{},\"c\":[[],{}],\"d\":\"\",\"e\":-0,\"f\":1.5e-3,"
	"\"g\":[true,false,null,\"x\"],\"h\":{\"i\":{\"j\":[1,[2,[3]]]}}}",
	"{ \"dup\" : 1 , \"dup\" : { \"k\" : \"v\" } , \"d\\u0075p\" : [ 3 ] }",
	"[\"\\\\\\\"\", \"\\\\\", \"a\\\\\\\\\", {\"}\":\"]\",\"{\":\"[\"}]",
	"{\"type\":\"response.output_text.delta\",\"delta\":\"Hello\","
	"\"usage\":{\"input_tokens\":36,\"input_tokens_details\":"
	"{\"cached_tokens\":0},\"output_tokens\":9223372036854775807}}",
	"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	"\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": "
	"\\\"San Fra\"}}",
};

static void
check_walk(void)
{
	struct jscan_val	 root, v[4];
	static const struct jscan_key keys[] = {
		JSCAN_KEY("dup"), JSCAN_KEY("missing"), JSCAN_KEY("dup"),
		JSCAN_KEY("zz")
	};
	const char		*t, *pos;
	int64_t			 x;
	size_t			 i;

	for (i = 0; i < sizeof docs / sizeof docs[0]; i++)
		ok(walk_agrees(docs[i], strlen(docs[i])),
		    "walk agrees with jansson: doc %zu", i);

	t = docs[2];
	ok(jscan_check(t, strlen(t), &root) == JSCAN_OK &&
	    (root.flags & JSCAN_KEYESC), "escaped key is flagged");
	is_int(jscan_getn(&root, keys, 4, v), 2, "getn: two found");
	ok(v[0].type == JSCAN_ARRAY && v[2].type == JSCAN_ARRAY &&
	    v[1].type == JSCAN_NONE && v[3].type == JSCAN_NONE,
	    "getn: the last duplicate wins, escaped or not");
	t = docs[1];
	ok(jscan_check(t, strlen(t), &root) == JSCAN_OK &&
	    root.flags == 0, "no escaped key: no flag");
	is_int(jscan_get(&root, "e", &v[0]), 0, "get e");
	ok(jscan_int(&v[0], &x) == 0 && x == 0, "-0 is 0");
	is_int(jscan_get(&root, "f", &v[0]), 0, "get f");
	is_int(jscan_int(&v[0], &x), -1, "a real is not an integer");
	ok(jscan_empty(&v[0]) == 0, "a real is not an empty array");
	is_int(jscan_get(&v[0], "x", &v[1]), -1, "get on a non-object");
	ok(v[1].type == JSCAN_NONE, "get on a non-object: no value");
	is_int(jscan_get(&root, "", &v[0]), -1, "empty key: absent");
	/* An absent value has no bytes (p NULL): walking it finds nothing. */
	pos = NULL;
	is_int(jscan_next(&v[0], &pos, &v[1]), -1, "next in an absent value");
	pos = NULL;
	is_int(jscan_member(&v[0], &pos, &v[1], &v[2]), -1,
	    "member of an absent value");
	is_int(jscan_get(&v[0], "x", &v[1]), -1, "get in an absent value");
	is_int(jscan_strlen(&root), 0, "strlen of a non-string");
	ok(!jscan_streq(&root, ""), "streq of a non-string");
}

/* Text that is not NUL-terminated: the bytes after it must not count. */
static void
check_bounds(void)
{
	struct jscan_val	 root, v;
	int64_t			 x;
	char			 buf[32];
	const char		*t = "{\"a\":\"xy\",\"b\":12}";

	memset(buf, '9', sizeof buf);
	memcpy(buf, t, strlen(t));
	ok(jscan_check(buf, strlen(t), &root) == JSCAN_OK, "no NUL: checked");
	ok(jscan_get(&root, "b", &v) == 0 && v.len == 2, "no NUL: number "
	    "ends at the brace");
	ok(jscan_check(buf, strlen(t) - 1, &root) == JSCAN_INVALID,
	    "cut before the brace");
	memcpy(buf, "[1.5", 4);
	ok(jscan_check(buf, 4, &root) == JSCAN_INVALID, "number at the end");
	memcpy(buf, "{\"a\":12\000,\"b\":3\000}", 16);
	ok(jscan_check(buf, 16, &root) == JSCAN_OK && jscan_get(&root, "a",
	    &v) == 0 && jscan_int(&v, &x) == 0 && x == 12 && jscan_get(&root,
	    "b", &v) == 0 && jscan_int(&v, &x) == 0 && x == 3,
	    "numbers before a NUL");
	memcpy(buf, "[\"\\u12", 6);
	ok(jscan_check(buf, 6, &root) == JSCAN_INVALID, "\\u at the end");
	memcpy(buf, "[\"\\ud83d\\ude0", 13);
	ok(jscan_check(buf, 13, &root) == JSCAN_INVALID,
	    "surrogate pair at the end");
	memcpy(buf, "[\"\xf0\x9f\x98", 5);
	ok(jscan_check(buf, 5, &root) == JSCAN_INVALID, "UTF-8 at the end");
}

/* Every byte's class against its definition. */
static void
check_classes(void)
{
	int	c, bad = 0, want;

	for (c = 0; c < 256; c++) {
		want = 0;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			want |= JSCAN_CWS | JSCAN_CEND | JSCAN_CGAP;
		if (c == '\0')
			want |= JSCAN_CEND | JSCAN_CGAP;
		if (c == ',' || c == '}' || c == ']')
			want |= JSCAN_CEND;
		if (c == '"' || c == '{' || c == '}' || c == '[' || c == ']')
			want |= JSCAN_CSKIP;
		if (c == '.' || c == 'e' || c == 'E')
			want |= JSCAN_CREAL;
		if (jscan_cls[c] != want) {
			printf("# class of 0x%02x: %d, want %d\n", c,
			    jscan_cls[c], want);
			bad++;
		}
	}
	is_int(bad, 0, "byte classes");
}

/*
 * Mutate a seed a few thousand times (up to 4 edits each): jscan and
 * jansson must agree on every result, and whatever still parses must
 * walk the same.
 */
static void
fuzz_seed(const char *name, const char *seed, size_t seedlen)
{
	enum jscan_result	 r;
	char			*buf;
	size_t			 len, i, k, edits, valid = 0;
	int			 bad = 0;

	buf = xmalloc(seedlen + 4 * FIXTURE_GROWTH);
	for (i = 0; i < 3000 && !bad; i++) {
		memcpy(buf, seed, seedlen);
		len = seedlen;
		edits = 1 + fixture_rnd() % 4;
		for (k = 0; k < edits; k++)
			fixture_mutate(buf, &len);
		if (!agrees(buf, len, &r)) {
			printf("# jscan says %d, jansson the opposite\n", r);
			fixture_print(buf, len);
			bad = 1;
		} else if (r == JSCAN_OK) {
			valid++;
			if (!walk_agrees(buf, len)) {
				fixture_print(buf, len);
				bad = 1;
			}
		}
	}
	ok(!bad, "%s: 3000 mutations agree with jansson (%zu still valid)",
	    name, valid);
	free(buf);
}

static void
check_fuzz(void)
{
	static const char *const files[] = {
		"json/openai-chat.json", "json/openai-responses.json",
		"json/openai-embeddings.json", "json/anthropic-messages.json"
	};
	char		*text, name[32];
	size_t		 i, len;

	for (i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		snprintf(name, sizeof name, "doc %zu", i);
		fuzz_seed(name, docs[i], strlen(docs[i]));
	}
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		text = fixture_read(files[i], &len);
		ok(text != NULL, "read %s", files[i]);
		if (text != NULL) {
			ok(walk_agrees(text, len), "%s: walk agrees",
			    files[i]);
			fuzz_seed(files[i], text, len);
		}
		free(text);
	}
}

int
main(void)
{
	check_classes();
	check_cases();
	check_depth();
	check_walk();
	check_bounds();
	check_fuzz();
	return (tap_done());
}
