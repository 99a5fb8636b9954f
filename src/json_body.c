/*
 * json_body.c - a request body as one strict JSON object.  See json_body.h.
 */
#include "json_body.h"

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

/*
 * Walk v (at path) for an object with a key twice; 1 with the duplicate's
 * path in path, 0 when there is none, -1 when out of memory.
 */
static int find_duplicate(const cJSON *v, struct buf *path)
{
	const cJSON *c;
	size_t at = path->len;
	int nomem = 0, i = 0, rc;

	if (cJSON_IsObject(v)) {
		const char *dup = twice(v, &nomem);
		if (nomem)
			return -1;
		if (dup)
			return buf_printf(path, "%s%.64s", at ? "." : "", dup) < 0 ? -1 : 1;
	}
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return 0;
	cJSON_ArrayForEach(c, v) {
		if ((cJSON_IsObject(v) ? buf_printf(path, "%s%.64s", at ? "." : "", c->string)
				       : buf_printf(path, "[%d]", i)) < 0)
			return -1;
		if ((rc = find_duplicate(c, path)) != 0)
			return rc;
		buf_truncate(path, at);
		i++;
	}
	return 0;
}

cJSON *json_body_parse(const char *body, size_t len, struct err *e)
{
	struct buf path = BUF_INIT;
	const char *end = NULL;
	cJSON *root;
	long at;
	int rc;

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
	rc = find_duplicate(root, &path);
	if (rc < 0) {
		err_nomem(e);
		goto fail;
	}
	if (rc > 0) {
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
