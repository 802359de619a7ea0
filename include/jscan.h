/*
 * jscan: read values out of JSON text without building a tree.
 *
 * jscan_check() reads a text once, checks it against the grammar (with
 * jansson's limits, so that it accepts exactly what json_loadb(text, len,
 * 0, NULL) accepts) and hands back its root.  The other functions then
 * find values inside a checked value by walking its bytes, skipping what
 * they do not need (strings by memchr() for their closing quote); they
 * trust the check and must only be given values of a checked text.
 *
 * Nothing is allocated (but by jscan_strdup()) and nothing needs a
 * terminating NUL.  Values point
 * into the text, which must outlive them.
 */
#ifndef JSCAN_H
#define JSCAN_H

#include <stddef.h>
#include <stdint.h>

enum jscan_type {
	JSCAN_NONE = 0,		/* no value: the key is absent */
	JSCAN_OBJECT,
	JSCAN_ARRAY,
	JSCAN_STRING,
	JSCAN_INTEGER,		/* fits in int64_t */
	JSCAN_REAL,		/* has a fraction or an exponent */
	JSCAN_TRUE,
	JSCAN_FALSE,
	JSCAN_NULL
};

/* A value: bytes p[0..len) of the text (a string with its quotes). */
struct jscan_val {
	const char	*p;
	size_t		 len;
	enum jscan_type	 type;
	int		 flags;		/* of the whole text: */
#define JSCAN_KEYESC	0x1		/* some key is written with escapes */
};

enum jscan_result {
	JSCAN_OK = 0,
	JSCAN_INVALID = -1,	/* jansson refuses the text too */
	JSCAN_UNSURE = -2	/* well-formed, but a real number is so close
				   to the largest double that only strtod(3)
				   on all of it can tell whether it overflows
				   (which jansson refuses); ask jansson */
};

/*
 * Check text[0..len): one object or array, optionally surrounded by
 * whitespace, RFC 8259 grammar, valid UTF-8, no \u0000, integers within
 * int64_t, reals that do not overflow a double, nesting at most 2048 deep.
 * Returns JSCAN_OK and sets *root, or JSCAN_INVALID or JSCAN_UNSURE.
 */
enum jscan_result jscan_check(const char *text, size_t len,
		    struct jscan_val *root);


/* A key to look up, written JSCAN_KEY("usage"). */
struct jscan_key {
	const char	*s;
	size_t		 len;
};
#define JSCAN_KEY(s)	{ (s), sizeof (s) - 1 }

/*
 * Values of n keys of obj in one walk: vals[i] is the value of keys[i]
 * (compared after unescaping; the last of duplicate keys wins, as in
 * jansson), or has type JSCAN_NONE when obj has no such key or is not an
 * object.  Returns how many keys were found.
 */
size_t	 jscan_getn(const struct jscan_val *obj, const struct jscan_key *keys,
	    size_t n, struct jscan_val *vals);

/*
 * jscan_check(), and on JSCAN_OK jscan_getn() of the root in the same
 * pass (n at most JSCAN_CHECK_KEYS).
 */
#define JSCAN_CHECK_KEYS	32
enum jscan_result jscan_check_getn(const char *text, size_t len,
		    struct jscan_val *root, const struct jscan_key *keys,
		    size_t n, struct jscan_val *vals);

/* One key: returns 0 and sets *val, or -1 (val->type JSCAN_NONE). */
int	 jscan_get(const struct jscan_val *obj, const char *key,
	    struct jscan_val *val);

/*
 * Step through an array: *pos starts NULL.  Returns 0 and sets *elem, or
 * -1 after the last element (or when arr is not an array).
 */
int	 jscan_next(const struct jscan_val *arr, const char **pos,
	    struct jscan_val *elem);

/*
 * Step through an object's members: *pos starts NULL.  Returns 0 and sets
 * *key (a string, with its quotes) and *val, or -1 after the last member
 * (or when obj is not an object).
 */
int	 jscan_member(const struct jscan_val *obj, const char **pos,
	    struct jscan_val *key, struct jscan_val *val);

/* Is v an array without elements? */
int	 jscan_empty(const struct jscan_val *v);

/*
 * Strings, compared and measured after unescaping (UTF-8): 0 or false
 * when v is not a string.
 */
size_t	 jscan_strlen(const struct jscan_val *v);
int	 jscan_streq(const struct jscan_val *v, const char *s);
int	 jscan_strprefix(const struct jscan_val *v, const char *prefix);
int	 jscan_strsuffix(const struct jscan_val *v, const char *suffix);

/*
 * The unescaped string v, newly allocated and NUL-terminated (a checked
 * text has no \u0000), or NULL when v is not a string.
 */
char	*jscan_strdup(const struct jscan_val *v);

/* Does the string v contain a backslash escape? */
int	 jscan_strescaped(const struct jscan_val *v);

/* An integer's value: returns 0, or -1 when v is not an integer. */
int	 jscan_int(const struct jscan_val *v, int64_t *out);

#endif
