/*
 * Shared by the fuzz targets (tests/fuzz/README).  Each fuzz_<target>.c
 * defines LLVMFuzzerTestOneInput(); libFuzzer drives it in a
 * --enable-fuzzing build, replay.c over the committed corpus in make check.
 * A target checks invariants with FUZZ_ASSERT, which holds in every build
 * (NDEBUG or not) and aborts, so that both drivers report the input.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(e) do {						\
	if (!(e)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #e);				\
		abort();						\
	}								\
} while (0)

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What a target saw, to compare: bytes appended, the size doubling. */
struct fuzz_buf {
	char	*p;
	size_t	 len;
	size_t	 size;
};

static inline void
fuzz_buf_add(struct fuzz_buf *b, const void *p, size_t len)
{
	if (len == 0)
		return;
	if (b->size - b->len < len) {
		while (b->size - b->len < len)
			b->size = b->size == 0 ? 256 : b->size * 2;
		b->p = realloc(b->p, b->size);
		FUZZ_ASSERT(b->p != NULL);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static inline int
fuzz_buf_equal(const struct fuzz_buf *a, const struct fuzz_buf *b)
{
	return (a->len == b->len &&
	    (a->len == 0 || memcmp(a->p, b->p, a->len) == 0));
}

static inline void
fuzz_buf_free(struct fuzz_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->size = 0;
}

#endif
