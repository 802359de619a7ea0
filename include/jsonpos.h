/*
 * Positions in JSON text.  jansson reports line and column for syntax
 * errors but keeps no positions for values; config errors such as an
 * unknown key or a bad value must still name file:line:col.  jsonpos scans
 * the (already valid) text once and records, for every value and every
 * object key, its JSON Pointer path ("/providers/openai/key_env") and the
 * 1-based line and column where it starts.
 */
#ifndef JSONPOS_H
#define JSONPOS_H

#include <stddef.h>

struct jsonpos;

/* Index text[0..len).  Returns NULL if the text is not valid JSON. */
struct jsonpos	*jsonpos_new(const char *text, size_t len);
void		 jsonpos_free(struct jsonpos *);

/*
 * Position of the value at path (JSON Pointer, "" for the root), or of the
 * key itself when key is non-zero.  Returns 0, or -1 when the path is not
 * in the text (then *line = *col = 1 so callers can still print something).
 */
int	 jsonpos_find(const struct jsonpos *, const char *path, int key,
	    int *line, int *col);

#endif
