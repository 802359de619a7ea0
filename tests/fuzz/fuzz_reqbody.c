/*
 * Fuzz target: request-body inspection (src/reqbody.c).
 *
 * Input: byte 0's low bit says the route is /v1/embeddings, the rest is
 * the body.  A refusal must come with a message the error body can carry
 * (non-empty, valid UTF-8: json_string() takes it) and no body.  An
 * accepted body must be an object whose fields are what reqbody read:
 * model a string of 1..REQBODY_MAX_MODEL bytes, stream true only off
 * embeddings, caps equal to the body's integers or -1 when absent.  The
 * body, written back out as the proxy does when it rewrites a request,
 * must be accepted again with the same fields.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "reqbody.h"

/* The cap as reqbody reports it: the integer, or -1 when absent/null. */
static int64_t
cap(json_t *body, const char *name)
{
	json_t	*v = json_object_get(body, name);	/* borrowed */

	if (v == NULL || json_is_null(v))
		return (-1);
	FUZZ_ASSERT(json_is_integer(v) && json_integer_value(v) >= 0);
	return (json_integer_value(v));
}

static void
check_accepted(const struct reqbody *rb, int embeddings)
{
	json_t	*v;	/* borrowed */

	FUZZ_ASSERT(json_is_object(rb->json));
	v = json_object_get(rb->json, "model");
	FUZZ_ASSERT(json_is_string(v) && rb->model != NULL);
	FUZZ_ASSERT(strcmp(rb->model, json_string_value(v)) == 0);
	FUZZ_ASSERT(strlen(rb->model) == json_string_length(v));
	FUZZ_ASSERT(strlen(rb->model) >= 1 &&
	    strlen(rb->model) <= REQBODY_MAX_MODEL);
	v = json_object_get(rb->json, "stream");
	FUZZ_ASSERT(v == NULL || json_is_boolean(v) || json_is_null(v));
	FUZZ_ASSERT(rb->stream == (!embeddings && json_is_true(v)));
	FUZZ_ASSERT(rb->max_tokens == cap(rb->json, "max_tokens"));
	FUZZ_ASSERT(rb->max_completion_tokens ==
	    cap(rb->json, "max_completion_tokens"));
	FUZZ_ASSERT(rb->max_output_tokens ==
	    cap(rb->json, "max_output_tokens"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqbody	 rb, again;
	json_t		*msg;		/* new */
	char		*cause, *cause2, *out;
	int		 embeddings, rv;

	if (size < 1)
		return (0);
	embeddings = data[0] & 1;
	rv = reqbody_parse((const char *)data + 1, size - 1, embeddings, &rb,
	    &cause);
	FUZZ_ASSERT(rv == 0 || rv == -1);
	if (rv == -1) {
		FUZZ_ASSERT(cause != NULL && cause[0] != '\0');
		FUZZ_ASSERT(rb.json == NULL);
		FUZZ_ASSERT((msg = json_string(cause)) != NULL);
		json_decref(msg);
		free(cause);
		reqbody_clear(&rb);
		return (0);
	}
	FUZZ_ASSERT(cause == NULL);
	check_accepted(&rb, embeddings);

	out = json_dumps(rb.json, JSON_COMPACT | JSON_PRESERVE_ORDER);
	FUZZ_ASSERT(out != NULL);
	rv = reqbody_parse(out, strlen(out), embeddings, &again, &cause2);
	FUZZ_ASSERT(rv == 0);
	check_accepted(&again, embeddings);
	FUZZ_ASSERT(strcmp(again.model, rb.model) == 0);
	FUZZ_ASSERT(again.stream == rb.stream);
	FUZZ_ASSERT(again.max_tokens == rb.max_tokens);
	FUZZ_ASSERT(again.max_completion_tokens == rb.max_completion_tokens);
	FUZZ_ASSERT(again.max_output_tokens == rb.max_output_tokens);
	FUZZ_ASSERT(json_equal(again.json, rb.json));
	free(out);
	reqbody_clear(&again);
	reqbody_clear(&rb);
	return (0);
}
