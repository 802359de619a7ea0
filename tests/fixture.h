/*
 * Test helpers for texts: read a file of tests/fixtures, and edit a text
 * at random (deterministically: the same edits on every run) so that
 * a parser can be compared with a reference on thousands of texts that
 * are almost, but not quite, what a provider sends.  Header-only, like
 * tap.h.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* Room fixture_mutate() may add to a text. */
#define FIXTURE_GROWTH	16

static uint32_t	fixture_rnd_state = 2463534242U;

/* xorshift32: the next pseudo-random number. */
static uint32_t __attribute__((unused))
fixture_rnd(void)
{
	fixture_rnd_state ^= fixture_rnd_state << 13;
	fixture_rnd_state ^= fixture_rnd_state >> 17;
	fixture_rnd_state ^= fixture_rnd_state << 5;
	return (fixture_rnd_state);
}

/*
 * tests/fixtures/name under $top_srcdir, read whole (caller frees), or
 * NULL.  Not NUL-terminated: *len is its size.
 */
static char * __attribute__((unused))
fixture_read(const char *name, size_t *len)
{
	const char	*top;
	char		*path, *buf = NULL;
	FILE		*f;
	long		 n;

	if ((top = getenv("top_srcdir")) == NULL)
		top = ".";
	xasprintf(&path, "%s/tests/fixtures/%s", top, name);
	if ((f = fopen(path, "rb")) != NULL && fseek(f, 0, SEEK_END) == 0 &&
	    (n = ftell(f)) >= 0) {
		rewind(f);
		buf = xmalloc((size_t)n + 1);
		*len = fread(buf, 1, (size_t)n, f);
	}
	if (f != NULL)
		fclose(f);
	free(path);
	return (buf);
}

/*
 * text[0..len) (its first 400 bytes) as a TAP comment line, bytes other
 * than printable ASCII written \xNN.
 */
static void __attribute__((unused))
fixture_print(const char *text, size_t len)
{
	size_t	i;

	printf("# text (%zu bytes): ", len);
	for (i = 0; i < len && i < 400; i++) {
		if ((unsigned char)text[i] >= 0x20 &&
		    (unsigned char)text[i] < 0x7f)
			putchar(text[i]);
		else
			printf("\\x%02x", (unsigned char)text[i]);
	}
	printf("\n");
}

/*
 * One random edit of buf[0..*len), which has room for FIXTURE_GROWTH more
 * bytes: a byte replaced, put in or taken out (JSON's own bytes and ones
 * that break it), the text cut, an escape or a large number put in.
 */
static void __attribute__((unused))
fixture_mutate(char *buf, size_t *len)
{
	static const char	 spice[] = "\"\\{}[],:0123456789-+.eE"
				    "trufalsn u\t\n\x00\x01\x1f\x7f\x80\xbf"
				    "\xc3\xe2\xed\xf0\xf4\xff";
	static const char *const escapes[] = {
		"\\u00e9", "\\ud83d", "\\u0041"
	};
	size_t			 at = *len ? fixture_rnd() % *len : 0;
	char			 c;

	c = spice[fixture_rnd() % (sizeof spice - 1)];
	switch (fixture_rnd() % 6) {
	case 0:		/* replace */
		if (*len)
			buf[at] = c;
		break;
	case 1:		/* insert */
		memmove(buf + at + 1, buf + at, *len - at);
		buf[at] = c;
		(*len)++;
		break;
	case 2:		/* delete */
		if (*len) {
			memmove(buf + at, buf + at + 1, *len - at - 1);
			(*len)--;
		}
		break;
	case 3:		/* cut */
		*len = at;
		break;
	case 4:		/* an escape */
		memmove(buf + at + 6, buf + at, *len - at);
		memcpy(buf + at, escapes[fixture_rnd() % 3], 6);
		*len += 6;
		break;
	default:	/* a large number */
		memmove(buf + at + 10, buf + at, *len - at);
		memcpy(buf + at, fixture_rnd() % 2 ? "9999999999" :
		    "e308999999", 10);
		*len += 10;
		break;
	}
}

#endif
