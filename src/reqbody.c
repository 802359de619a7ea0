/*
 * Request-body inspection (see reqbody.h).
 *
 * The checks run in the order the proxy has always refused in, and stop at
 * the first failure, so a client sees the same message for the same body.
 * Nesting is measured on the bytes first: an attacker's ten thousand '['
 * cost one pass over the buffer.  Then jscan checks the grammar and picks
 * up the root's members in one pass, and a walk over the objects looks for
 * repeated keys.  jansson is asked only to word a refusal, and to decide
 * the two things jscan leaves open: a real at the edge of a double's range
 * (JSCAN_UNSURE), and repeated keys when some key is written with escapes.
 *
 * A body that must change is not re-serialized: the new values are
 * spliced in where the old ones were, so that numbers, key order and
 * everything tollgate does not touch reach the provider as the client
 * wrote them.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jscan.h"
#include "reqbody.h"
#include "util.h"
#include "xmalloc.h"

static const char *const reqbody_caps[3] = {
	"max_tokens", "max_completion_tokens", "max_output_tokens"
};

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

/* A key as written, between its quotes. */
struct reqbody_key {
	const char	*p;
	size_t		 len;
};

static int
reqbody_key_cmp(const void *a, const void *b)
{
	const struct reqbody_key	*x = a, *y = b;

	if (x->len != y->len)
		return (x->len < y->len ? -1 : 1);
	return (memcmp(x->p, y->p, x->len));
}

/*
 * Does an object in the checked value v repeat a key?  Keys are compared
 * as written, which is exact when no key has an escape (the caller asks
 * jansson otherwise).  Recursion is as deep as v nests: the caller has
 * bounded that at REQBODY_MAX_DEPTH.
 */
static int
reqbody_dupkeys(const struct jscan_val *v)
{
	struct reqbody_key	 small[16], *keys = small;
	struct jscan_val	 k, e;
	const char		*pos = NULL;
	size_t			 n = 0, size = 16, i, j;
	int			 dup = 0;

	if (v->type == JSCAN_ARRAY) {
		while (jscan_next(v, &pos, &e) == 0) {
			if ((e.type == JSCAN_OBJECT || e.type == JSCAN_ARRAY) &&
			    reqbody_dupkeys(&e))
				return (1);
		}
		return (0);
	}
	while (jscan_member(v, &pos, &k, &e) == 0) {
		if (n == size) {
			size *= 2;
			if (keys == small) {
				keys = xreallocarray(NULL, size, sizeof *keys);
				memcpy(keys, small, sizeof small);
			} else
				keys = xreallocarray(keys, size, sizeof *keys);
		}
		keys[n].p = k.p + 1;
		keys[n++].len = k.len - 2;
		if ((e.type == JSCAN_OBJECT || e.type == JSCAN_ARRAY) &&
		    reqbody_dupkeys(&e)) {
			dup = 1;
			goto out;
		}
	}
	if (n <= 16) {
		for (i = 1; i < n && !dup; i++)
			for (j = 0; j < i && !dup; j++)
				dup = reqbody_key_cmp(&keys[i], &keys[j]) == 0;
	} else {
		qsort(keys, n, sizeof *keys, reqbody_key_cmp);
		for (i = 1; i < n && !dup; i++)
			dup = reqbody_key_cmp(&keys[i], &keys[i - 1]) == 0;
	}
out:
	if (keys != small)
		free(keys);
	return (dup);
}

/*
 * jansson's verdict on buf, as the proxy has always given it: 0 when it
 * takes buf as an object without repeated keys, or -1 with *cause set.
 */
static int
reqbody_jansson(const char *buf, size_t len, char **cause)
{
	json_t		*body;		/* new */
	json_error_t	 jerr;

	body = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (body != NULL && json_is_object(body)) {
		json_decref(body);
		return (0);
	}
	/*
	 * jansson quotes the token it choked on: the client's bytes, and the
	 * message goes into a JSON error body, which json_string() refuses
	 * unless it is UTF-8.
	 */
	if (body == NULL)
		util_printable(jerr.text);
	xasprintf(cause, "the request body is not a JSON object%s%s",
	    body == NULL ? ": " : "", body == NULL ? jerr.text : "");
	json_decref(body);
	return (-1);
}

static void
reqbody_at(struct reqbody_at *at, const char *buf, const struct jscan_val *v)
{
	if (v->type == JSCAN_NONE)
		return;
	at->off = (size_t)(v->p - buf);
	at->len = v->len;
}

/* One output cap into *out (-1 when absent or null); -1 when invalid. */
static int
reqbody_capval(const struct jscan_val *v, int64_t *out)
{
	*out = -1;
	if (v->type == JSCAN_NONE || v->type == JSCAN_NULL)
		return (0);
	if (jscan_int(v, out) == -1 || *out < 0) {
		*out = -1;
		return (-1);
	}
	return (0);
}

int
reqbody_parse(const char *buf, size_t len, int embeddings,
    struct reqbody *out, char **cause)
{
	static const struct jscan_key keys[] = {
		JSCAN_KEY("model"), JSCAN_KEY("stream"),
		JSCAN_KEY("max_tokens"), JSCAN_KEY("max_completion_tokens"),
		JSCAN_KEY("max_output_tokens"), JSCAN_KEY("stream_options")
	};
	struct jscan_val	 root, v[6], iu;
	enum jscan_result	 jr;
	const char		*pos = NULL;
	size_t			 mlen, i;
	int64_t			*caps[3];

	memset(out, 0, sizeof *out);
	out->max_tokens = out->max_completion_tokens =
	    out->max_output_tokens = -1;
	*cause = NULL;

	if (reqbody_too_deep(buf, len, REQBODY_MAX_DEPTH)) {
		xasprintf(cause, "the request body nests arrays and objects "
		    "deeper than %d levels", REQBODY_MAX_DEPTH);
		return (-1);
	}
	jr = jscan_check_getn(len == 0 ? "" : buf, len, &root, keys, 6, v);
	if (jr == JSCAN_INVALID || (jr == JSCAN_OK &&
	    (root.type != JSCAN_OBJECT || (!(root.flags & JSCAN_KEYESC) &&
	    reqbody_dupkeys(&root))))) {
		if (reqbody_jansson(buf, len, cause) == 0)	/* cannot be */
			*cause = xstrdup("the request body is not a JSON "
			    "object");
		return (-1);
	}
	if ((jr == JSCAN_UNSURE || (root.flags & JSCAN_KEYESC)) &&
	    reqbody_jansson(buf, len, cause) == -1)
		return (-1);

	mlen = jscan_strlen(&v[0]);
	if (v[0].type != JSCAN_STRING || mlen == 0 ||
	    mlen > REQBODY_MAX_MODEL) {
		*cause = xstrdup("\"model\" must be a non-empty string");
		return (-1);
	}
	out->model = jscan_strdup(&v[0]);
	reqbody_at(&out->model_at, buf, &v[0]);
	if (v[1].type != JSCAN_NONE && v[1].type != JSCAN_TRUE &&
	    v[1].type != JSCAN_FALSE && v[1].type != JSCAN_NULL) {
		*cause = xstrdup("\"stream\" must be a boolean");
		return (-1);
	}
	out->stream = !embeddings && v[1].type == JSCAN_TRUE;
	caps[0] = &out->max_tokens;
	caps[1] = &out->max_completion_tokens;
	caps[2] = &out->max_output_tokens;
	for (i = 0; i < 3; i++) {
		if (reqbody_capval(&v[2 + i], caps[i]) == -1) {
			*cause = xstrdup("output token limits must be "
			    "non-negative integers");
			return (-1);
		}
		reqbody_at(&out->cap_at[i], buf, &v[2 + i]);
	}
	reqbody_at(&out->so_at, buf, &v[5]);
	if (v[5].type == JSCAN_OBJECT) {
		out->so_object = 1;
		out->so_empty = jscan_member(&v[5], &pos, &iu, &iu) == -1;
		if (jscan_get(&v[5], "include_usage", &iu) == 0) {
			reqbody_at(&out->iu_at, buf, &iu);
			out->include_usage = iu.type == JSCAN_TRUE;
		}
	}
	out->close = (size_t)(root.p + root.len - 1 - buf);
	return (0);
}

void
reqbody_clear(struct reqbody *out)
{
	free(out->model);
	memset(out, 0, sizeof *out);
}

int
reqbody_cap(const struct reqbody *rb, const char *name, int64_t *out)
{
	const int64_t	*vals[3];
	size_t		 i;

	vals[0] = &rb->max_tokens;
	vals[1] = &rb->max_completion_tokens;
	vals[2] = &rb->max_output_tokens;
	for (i = 0; i < 3; i++) {
		if (strcmp(name, reqbody_caps[i]) == 0) {
			*out = *vals[i];
			return (rb->cap_at[i].len != 0);
		}
	}
	return (0);
}

/* One change: bytes off..off+len of the body become s[0..slen). */
struct reqbody_splice {
	size_t		 off;
	size_t		 len;
	const char	*s;
	size_t		 slen;
};

/* s as a JSON string, quotes included, into out (2 + 6 * strlen(s)). */
static size_t
reqbody_json_string(const char *s, char *out)
{
	static const char	hex[] = "0123456789abcdef";
	const unsigned char	*u = (const unsigned char *)s;
	char			*o = out;

	*o++ = '"';
	for (; *u != '\0'; u++) {
		if (*u == '"' || *u == '\\') {
			*o++ = '\\';
			*o++ = (char)*u;
		} else if (*u < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[*u >> 4];
			o[5] = hex[*u & 0xf];
			o += 6;
		} else
			*o++ = (char)*u;
	}
	*o++ = '"';
	return ((size_t)(o - out));
}

size_t
reqbody_write(const struct reqbody *rb, const char *buf, size_t len,
    const struct reqbody_edit *e, char **out)
{
	static const char	 iu_first[] = "\"include_usage\":true,";
	static const char	 so_object[] = "{\"include_usage\":true}";
	static const char	 so_member[] =
	    ",\"stream_options\":{\"include_usage\":true}";
	struct reqbody_splice	 sp[3], t;
	const struct reqbody_at	*at;
	char			*model = NULL, cap[80], *o;
	size_t			 n = 0, size = len, i, j, off;

	if (e->model != NULL) {
		model = xmalloc(2 + 6 * strlen(e->model));
		sp[n].off = rb->model_at.off;
		sp[n].len = rb->model_at.len;
		sp[n].s = model;
		sp[n++].slen = reqbody_json_string(e->model, model);
	}
	for (i = 0; e->cap_name != NULL && i < 3; i++) {
		if (strcmp(e->cap_name, reqbody_caps[i]) != 0)
			continue;
		at = &rb->cap_at[i];
		if (at->len != 0) {
			sp[n].off = at->off;
			sp[n].len = at->len;
			sp[n].slen = (size_t)snprintf(cap, sizeof cap, "%lld",
			    (long long)e->cap);
		} else {
			sp[n].off = rb->close;
			sp[n].len = 0;
			sp[n].slen = (size_t)snprintf(cap, sizeof cap,
			    ",\"%s\":%lld", reqbody_caps[i], (long long)e->cap);
		}
		sp[n++].s = cap;
	}
	if (e->include_usage && !rb->include_usage) {
		if (rb->so_at.len == 0) {
			sp[n].off = rb->close;
			sp[n].len = 0;
			sp[n].s = so_member;
			sp[n].slen = sizeof so_member - 1;
		} else if (!rb->so_object) {
			sp[n].off = rb->so_at.off;
			sp[n].len = rb->so_at.len;
			sp[n].s = so_object;
			sp[n].slen = sizeof so_object - 1;
		} else if (rb->iu_at.len != 0) {
			sp[n].off = rb->iu_at.off;
			sp[n].len = rb->iu_at.len;
			sp[n].s = "true";
			sp[n].slen = 4;
		} else {
			/* The object's first member (comma unless alone). */
			sp[n].off = rb->so_at.off + 1;
			sp[n].len = 0;
			sp[n].s = iu_first;
			sp[n].slen = sizeof iu_first - 1 - rb->so_empty;
		}
		n++;
	}
	/* In body order; splices at one offset (the end) keep theirs. */
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && sp[j - 1].off > sp[j].off; j--) {
			t = sp[j];
			sp[j] = sp[j - 1];
			sp[j - 1] = t;
		}
	}
	for (i = 0; i < n; i++)
		size += sp[i].slen - sp[i].len;
	o = *out = xmalloc(size == 0 ? 1 : size);
	for (off = 0, i = 0; i < n; i++) {
		memcpy(o, buf + off, sp[i].off - off);
		o += sp[i].off - off;
		memcpy(o, sp[i].s, sp[i].slen);
		o += sp[i].slen;
		off = sp[i].off + sp[i].len;
	}
	memcpy(o, buf + off, len - off);
	free(model);
	return (size);
}
