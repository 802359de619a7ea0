/*
 * Request-body inspection (see reqbody.h).
 *
 * The checks run in the order the proxy has always refused in, and stop at
 * the first failure, so a client sees the same message for the same body.
 * Nesting is measured on the bytes before jansson builds anything: an
 * attacker's ten thousand '[' cost one pass over the buffer, not a tree.
 * For a valid JSON text the count is exactly its depth; for an invalid one
 * it may refuse with the depth message where jansson would have given a
 * syntax error, and both are 400.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "reqbody.h"
#include "util.h"
#include "xmalloc.h"

/* Do arrays and objects in buf nest deeper than max?  Strings skipped. */
static int
reqbody_too_deep(const char *buf, size_t len, size_t max)
{
	size_t	i, depth = 0;
	int	instr = 0;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (buf[i] == '\\')
				i++;
			else if (buf[i] == '"')
				instr = 0;
			continue;
		}
		switch (buf[i]) {
		case '"':
			instr = 1;
			break;
		case '[':
		case '{':
			if (++depth > max)
				return (1);
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		}
	}
	return (0);
}

int
reqbody_int(json_t *body, const char *name, int64_t *out)
{
	json_t	*v = json_object_get(body, name);	/* borrowed */

	if (v == NULL || json_is_null(v))
		return (1);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return (-1);
	*out = json_integer_value(v);
	return (0);
}

/* One output cap into *out (-1 when absent); -1 when it is invalid. */
static int
reqbody_cap(json_t *body, const char *name, int64_t *out)
{
	int	rv;

	if ((rv = reqbody_int(body, name, out)) == 1)
		*out = -1;
	return (rv == -1 ? -1 : 0);
}

int
reqbody_parse(const char *buf, size_t len, int embeddings,
    struct reqbody *out, char **cause)
{
	json_t		*body = NULL, *v;	/* new, borrowed */
	json_error_t	 jerr;
	int		 rv = -1;

	memset(out, 0, sizeof *out);
	out->max_tokens = out->max_completion_tokens =
	    out->max_output_tokens = -1;
	*cause = NULL;

	if (reqbody_too_deep(buf, len, REQBODY_MAX_DEPTH)) {
		xasprintf(cause, "the request body nests arrays and objects "
		    "deeper than %d levels", REQBODY_MAX_DEPTH);
		goto out;
	}
	body = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL || !json_is_object(body)) {
		/*
		 * jansson quotes the token it choked on: the client's bytes,
		 * and the message goes into a JSON error body, which
		 * json_string() refuses unless it is UTF-8.
		 */
		if (body == NULL)
			util_printable(jerr.text);
		xasprintf(cause, "the request body is not a JSON object%s%s",
		    body == NULL ? ": " : "", body == NULL ? jerr.text : "");
		goto out;
	}
	v = json_object_get(body, "model");
	if (v == NULL || !json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > REQBODY_MAX_MODEL) {
		*cause = xstrdup("\"model\" must be a non-empty string");
		goto out;
	}
	out->model = xstrdup(json_string_value(v));
	v = json_object_get(body, "stream");
	if (v != NULL && !json_is_boolean(v) && !json_is_null(v)) {
		*cause = xstrdup("\"stream\" must be a boolean");
		goto out;
	}
	out->stream = !embeddings && v != NULL && json_is_true(v);
	if (reqbody_cap(body, "max_tokens", &out->max_tokens) == -1 ||
	    reqbody_cap(body, "max_completion_tokens",
	    &out->max_completion_tokens) == -1 ||
	    reqbody_cap(body, "max_output_tokens",
	    &out->max_output_tokens) == -1) {
		*cause = xstrdup("output token limits must be non-negative "
		    "integers");
		goto out;
	}
	out->json = body;
	body = NULL;
	rv = 0;
out:
	json_decref(body);
	return (rv);
}

void
reqbody_clear(struct reqbody *out)
{
	json_decref(out->json);
	free(out->model);
	memset(out, 0, sizeof *out);
}
