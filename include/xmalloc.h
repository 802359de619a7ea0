/*
 * Allocation that cannot fail: on out-of-memory the process dies with a
 * message, so callers never carry an allocation error path (tmux xmalloc.c).
 * Use it for control structures; sizes from input are checked against a
 * configured cap before they get here.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

/* Returns new memory owned by the caller; never NULL. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, __builtin_va_list)
	    __attribute__((format(printf, 2, 0)));

#endif
