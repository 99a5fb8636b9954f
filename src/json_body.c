/*
 * json_body.c - a request body as one strict JSON object.  See json_body.h.
 */
#include "json_body.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "utf8.h"

/* Objects with more keys than this are checked for duplicates by sorting. */
#define FEW_KEYS 16

/*
 * The offset of the first \u0000 escape in body, or -1.  A backslash can
 * only stand inside a string in JSON, so each one starts an escape: "\\"
 * is skipped whole, and "\\u0000" is a backslash followed by text.
 */
static long nul_escape(const char *body, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (body[i] != '\\')
			continue;
		if (body[i + 1] == 'u' && i + 6 <= len && !memcmp(body + i + 2, "0000", 4))
			return (long)i;
		i++; /* the escaped character */
	}
	return -1;
}

static int by_key(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* A key of obj that occurs twice, or NULL (-1 when out of memory). */
static const char *twice(const cJSON *obj, int *nomem)
{
	const cJSON *a, *b, **keys;
	const char *dup = NULL;
	size_t n = 0, k = 0;

	cJSON_ArrayForEach(a, obj)
		n++;
	if (n <= FEW_KEYS) {
		for (a = obj->child; a && !dup; a = a->next)
			for (b = a->next; b && !dup; b = b->next)
				if (!strcmp(a->string, b->string))
					dup = a->string;
		return dup;
	}
	if (!(keys = malloc(n * sizeof *keys))) {
		*nomem = 1;
		return NULL;
	}
	cJSON_ArrayForEach(a, obj)
		keys[k++] = a;
	qsort(keys, n, sizeof *keys, by_key);
	for (k = 1; k < n && !dup; k++)
		if (!strcmp(keys[k - 1]->string, keys[k]->string))
			dup = keys[k]->string;
	free(keys);
	return dup;
}

/* Where find_duplicate found a key given twice. */
struct dup_walk {
	const cJSON *steps[CJSON_NESTING_LIMIT]; /* the children taken from the root */
	int depth;
	const char *key; /* the key given twice */
	int nomem;
};

/*
 * Walk v for an object with a key twice: true with w->steps leading to it
 * and w->key set (or w->nomem).  The path is printed only for the error
 * (dup_path): printing it at every step cost more than the parse.
 */
static bool find_duplicate(const cJSON *v, struct dup_walk *w)
{
	const cJSON *c;

	if (cJSON_IsObject(v) && ((w->key = twice(v, &w->nomem)) || w->nomem))
		return true;
	if ((!cJSON_IsObject(v) && !cJSON_IsArray(v)) || w->depth == CJSON_NESTING_LIMIT)
		return false;
	cJSON_ArrayForEach(c, v) {
		w->steps[w->depth++] = c;
		if (find_duplicate(c, w))
			return true;
		w->depth--;
	}
	return false;
}

/* The found key's path from root: "messages[0].content".  -1: no memory. */
static int dup_path(const cJSON *root, const struct dup_walk *w, struct buf *path)
{
	const cJSON *parent = root;

	for (int d = 0; d < w->depth; d++) {
		const cJSON *c = w->steps[d], *x;
		int i = 0;

		if (cJSON_IsObject(parent)) {
			if (buf_printf(path, "%s%.64s", path->len ? "." : "", c->string) < 0)
				return -1;
		} else {
			for (x = parent->child; x && x != c; x = x->next)
				i++;
			if (buf_printf(path, "[%d]", i) < 0)
				return -1;
		}
		parent = c;
	}
	return buf_printf(path, "%s%.64s", path->len ? "." : "", w->key) < 0 ? -1 : 0;
}

cJSON *json_body_parse(const char *body, size_t len, struct err *e)
{
	struct buf path = BUF_INIT;
	struct dup_walk walk;
	const char *end = NULL;
	cJSON *root;
	bool found;
	long at;

	if (!utf8_valid(body, len)) {
		err_set(e, 400, ERR_INVALID_REQUEST, "The request body is not valid UTF-8.");
		return NULL;
	}
	if (memchr(body, '\0', len)) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"The request body is not valid JSON: it holds a NUL byte (at byte %zu).",
			(size_t)((const char *)memchr(body, '\0', len) - body));
		return NULL;
	}
	if ((at = nul_escape(body, len)) >= 0) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"A string in the request body holds \\u0000 (at byte %ld): NUL characters "
			"are not accepted.",
			at);
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!root) {
		err_set(e, 400, ERR_INVALID_REQUEST, "The request body is not valid JSON.");
		return NULL;
	}
	while (end < body + len && strchr(" \t\r\n", *end))
		end++;
	if (end < body + len) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"The request body is not valid JSON: something follows its value (at byte "
			"%zu).",
			(size_t)(end - body));
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		err_set(e, 400, ERR_INVALID_REQUEST, "The request body must be a JSON object.");
		goto fail;
	}
	walk.depth = walk.nomem = 0; /* steps are written before they are read */
	walk.key = NULL;
	found = find_duplicate(root, &walk);
	if (walk.nomem || (found && dup_path(root, &walk, &path) < 0)) {
		err_nomem(e);
		goto fail;
	}
	if (found) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"`%.200s` appears twice in the request body: each key must be given once.",
			buf_str(&path));
		goto fail;
	}
	buf_free(&path);
	return root;
fail:
	buf_free(&path);
	cJSON_Delete(root);
	return NULL;
}
