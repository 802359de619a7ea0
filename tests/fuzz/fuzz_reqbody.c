/*
 * Fuzz target: request-body inspection (src/reqbody.c), against the
 * jansson tree it replaced.
 *
 * Input: byte 0 chooses the route and the changes (bit 0: /v1/embeddings;
 * bit 1: a new model; bits 2-3: the cap to set, 3 for none; bit 4: ask
 * for stream usage), the rest is the body.  reference() is the former
 * implementation: json_loadb() with duplicate keys refused, then the
 * fields read from the tree.  reqbody must accept exactly the bodies it
 * accepts, read the same fields, and refuse the others with the same
 * words (a message the error body can carry).  An accepted body written
 * with the changes must be the tree the proxy used to build: the same
 * members set on the reference tree, compared with json_equal(); and
 * reqbody must take it again.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "reqbody.h"
#include "xmalloc.h"

static const char *const caps[3] = {
	"max_tokens", "max_completion_tokens", "max_output_tokens"
};

/* A cap as the former code read it: -1 absent or null, -2 invalid. */
static int64_t
ref_cap(json_t *body, const char *name)
{
	json_t	*v = json_object_get(body, name);	/* borrowed */

	if (v == NULL || json_is_null(v))
		return (-1);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return (-2);
	return (json_integer_value(v));
}

/* The former reqbody_parse(), after the depth check both share. */
static int
reference(const char *buf, size_t len, int embeddings, json_t **tree,
    struct reqbody *rb, char **cause)
{
	json_t		*body, *v;
	json_error_t	 jerr;
	int64_t		*out[3];
	size_t		 i;

	memset(rb, 0, sizeof *rb);
	rb->max_tokens = rb->max_completion_tokens = rb->max_output_tokens =
	    -1;
	*tree = NULL;
	body = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL || !json_is_object(body)) {
		xasprintf(cause, "the request body is not a JSON object%s%s",
		    body == NULL ? ": " : "", body == NULL ? jerr.text : "");
		json_decref(body);
		return (-1);
	}
	v = json_object_get(body, "model");
	if (v == NULL || !json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > REQBODY_MAX_MODEL) {
		*cause = xstrdup("\"model\" must be a non-empty string");
		json_decref(body);
		return (-1);
	}
	rb->model = xstrdup(json_string_value(v));
	v = json_object_get(body, "stream");
	if (v != NULL && !json_is_boolean(v) && !json_is_null(v)) {
		*cause = xstrdup("\"stream\" must be a boolean");
		json_decref(body);
		return (-1);
	}
	rb->stream = !embeddings && v != NULL && json_is_true(v);
	out[0] = &rb->max_tokens;
	out[1] = &rb->max_completion_tokens;
	out[2] = &rb->max_output_tokens;
	for (i = 0; i < 3; i++) {
		if ((*out[i] = ref_cap(body, caps[i])) == -2) {
			*out[i] = -1;
			*cause = xstrdup("output token limits must be "
			    "non-negative integers");
			json_decref(body);
			return (-1);
		}
	}
	*tree = body;
	return (0);
}

static void
same_fields(const struct reqbody *a, const struct reqbody *b)
{
	FUZZ_ASSERT((a->model == NULL) == (b->model == NULL));
	FUZZ_ASSERT(a->model == NULL || strcmp(a->model, b->model) == 0);
	FUZZ_ASSERT(a->stream == b->stream);
	FUZZ_ASSERT(a->max_tokens == b->max_tokens);
	FUZZ_ASSERT(a->max_completion_tokens == b->max_completion_tokens);
	FUZZ_ASSERT(a->max_output_tokens == b->max_output_tokens);
}

/* The changes as the proxy used to make them on the tree. */
static void
ref_edit(json_t *body, const struct reqbody_edit *e)
{
	json_t	*so;	/* borrowed */

	if (e->model != NULL)
		json_object_set_new(body, "model", json_string(e->model));
	if (e->cap_name != NULL)
		json_object_set_new(body, e->cap_name, json_integer(e->cap));
	if (e->include_usage) {
		so = json_object_get(body, "stream_options");
		if (so == NULL || !json_is_object(so)) {
			so = json_object();
			json_object_set_new(body, "stream_options", so);
		}
		json_object_set_new(so, "include_usage", json_true());
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqbody		 rb, ref, again;
	struct reqbody_edit	 e;
	json_t			*tree, *written, *msg;	/* new */
	const char		*body = (const char *)data + 1;
	char			*cause, *rcause, *cause2, *out;
	size_t			 len, n;
	int			 embeddings, rv;

	if (size < 1)
		return (0);
	len = size - 1;
	embeddings = data[0] & 1;
	rv = reqbody_parse(body, len, embeddings, &rb, &cause);
	FUZZ_ASSERT(rv == 0 || rv == -1);
	if (rv == -1) {
		FUZZ_ASSERT(cause != NULL && cause[0] != '\0');
		FUZZ_ASSERT((msg = json_string(cause)) != NULL);
		json_decref(msg);
		if (strstr(cause, "deeper than") == NULL) {
			FUZZ_ASSERT(reference(body, len, embeddings, &tree,
			    &ref, &rcause) == -1);
			/* jansson's message, made printable by reqbody */
			FUZZ_ASSERT(strlen(cause) == strlen(rcause));
			if (strncmp(rcause, "the request body is not", 23) != 0)
				FUZZ_ASSERT(strcmp(cause, rcause) == 0);
			same_fields(&rb, &ref);
			free(rcause);
			reqbody_clear(&ref);
		}
		free(cause);
		reqbody_clear(&rb);
		return (0);
	}
	FUZZ_ASSERT(cause == NULL);
	FUZZ_ASSERT(reference(body, len, embeddings, &tree, &ref, &rcause) ==
	    0);
	same_fields(&rb, &ref);
	FUZZ_ASSERT(rb.include_usage == json_is_true(json_object_get(
	    json_object_get(tree, "stream_options"), "include_usage")));

	memset(&e, 0, sizeof e);
	if (data[0] & 2)
		e.model = "gpt-\"4o\"\n";
	if (((data[0] >> 2) & 3) != 3) {
		e.cap_name = caps[(data[0] >> 2) & 3];
		e.cap = 4096;
	}
	e.include_usage = (data[0] & 16) != 0;
	n = reqbody_write(&rb, body, len, &e, &out);
	ref_edit(tree, &e);
	written = json_loadb(out, n, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_ASSERT(written != NULL && json_equal(written, tree));
	FUZZ_ASSERT(reqbody_parse(out, n, embeddings, &again, &cause2) == 0);
	if (e.model != NULL)
		FUZZ_ASSERT(strcmp(again.model, e.model) == 0);
	if (e.include_usage)
		FUZZ_ASSERT(again.include_usage);
	json_decref(written);
	json_decref(tree);
	free(out);
	reqbody_clear(&again);
	reqbody_clear(&ref);
	reqbody_clear(&rb);
	return (0);
}
