/*
 * message.c - OpenAI chat message helpers (see message.h).
 */
#include "message.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *msg_role(const cJSON *message)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(message, "role");

	return cJSON_IsString(role) ? role->valuestring : NULL;
}

int msg_content_text(const cJSON *content, struct buf *out)
{
	const cJSON *part;
	bool first = true;
	int rc;

	if (cJSON_IsString(content))
		return buf_append_str(out, content->valuestring);
	if (!cJSON_IsArray(content))
		return 0;
	cJSON_ArrayForEach(part, content) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsString(type) || !cJSON_IsString(text))
			continue;
		if (strcmp(type->valuestring, "text") && strcmp(type->valuestring, "input_text"))
			continue;
		if ((!first && (rc = buf_append(out, "\n", 1)) < 0) ||
		    (rc = buf_append_str(out, text->valuestring)) < 0)
			return rc;
		first = false;
	}
	return 0;
}

int msg_text(const cJSON *message, struct buf *out)
{
	return msg_content_text(cJSON_GetObjectItemCaseSensitive(message, "content"), out);
}

cJSON *msg_new(const char *role, const char *text)
{
	cJSON *m = cJSON_CreateObject();

	if (!m || !cJSON_AddStringToObject(m, "role", role) ||
	    !cJSON_AddStringToObject(m, "content", text)) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

cJSON *msg_copy(const cJSON *m, const char *role)
{
	static const char *const keep[] = {"content", "name", "tool_call_id", "tool_calls"};
	cJSON *out = cJSON_CreateObject();

	if (!out || !cJSON_AddStringToObject(out, "role", role))
		goto fail;
	for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, keep[k]);
		cJSON *dup;
		if (!v)
			continue;
		if (!(dup = cJSON_Duplicate(v, 1)))
			goto fail;
		cJSON_AddItemToObject(out, keep[k], dup);
	}
	if (!cJSON_GetObjectItemCaseSensitive(out, "content") &&
	    !cJSON_AddNullToObject(out, "content"))
		goto fail;
	return out;
fail:
	cJSON_Delete(out);
	return NULL;
}

const cJSON *msg_last_with_role(cJSON *messages, const char *role)
{
	cJSON *first = messages ? messages->child : NULL;
	cJSON *m = first ? first->prev : NULL; /* cJSON: the first item's prev is the last */

	for (; m; m = m == first ? NULL : m->prev) {
		const char *r = msg_open(m) < 0 ? NULL : msg_role(m);
		if (r && !strcmp(r, role))
			return m;
	}
	return NULL;
}

cJSON *msg_stored(const char *json)
{
	return cJSON_CreateRaw(json);
}

bool msg_is_stored(const cJSON *m)
{
	return cJSON_IsRaw(m) && !(m->type & cJSON_IsReference);
}

int msg_open(cJSON *m)
{
	cJSON *v;

	if (!msg_is_stored(m))
		return 0;
	if (!(v = cJSON_Parse(m->valuestring)))
		return -1;
	/* v's value moves into m; m keeps its links and key */
	cJSON_free(m->valuestring);
	m->type = v->type | (m->type & cJSON_StringIsConst);
	m->child = v->child;
	m->valuestring = v->valuestring;
	m->valueint = v->valueint;
	m->valuedouble = v->valuedouble;
	v->child = NULL;
	v->valuestring = NULL;
	cJSON_Delete(v);
	return 0;
}

void msg_open_all(cJSON *messages)
{
	cJSON *m = messages ? messages->child : NULL;

	while (m) {
		cJSON *next = m->next;
		if (msg_open(m) < 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(messages, m));
		m = next;
	}
}

/* A tool call's id and the position of the assistant message making it. */
struct call_ref {
	const char *id;
	int pos;
};

/* By id, then by position: the first of an id is where it was first called. */
static int call_ref_cmp(const void *a, const void *b)
{
	const struct call_ref *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* The first call of key's id in sorted refs[0..n), or NULL. */
static const struct call_ref *first_call(const struct call_ref *refs, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) { /* the first ref whose id is not below id */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(refs[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(refs[lo].id, id) ? &refs[lo] : NULL;
}

/* Whether a tool message is at position from or after. */
static bool results_from(const cJSON *messages, int from)
{
	const cJSON *m;
	const char *role;
	int pos = 0;

	cJSON_ArrayForEach(m, messages) {
		if (pos++ >= from && (role = msg_role(m)) && !strcmp(role, "tool"))
			return true;
	}
	return false;
}

/* Every call id of messages' assistant messages into a new array (*out, n
 * of them), stored messages opened.  0, or -1 when out of memory. */
static int collect_calls(cJSON *messages, struct call_ref **out, size_t *n)
{
	struct call_ref *refs = NULL;
	size_t cap = 0;
	cJSON *m;
	int pos = 0;

	*n = 0;
	cJSON_ArrayForEach(m, messages) {
		const cJSON *calls, *c;
		const char *role;
		if (msg_open(m) < 0 || !(role = msg_role(m)) || strcmp(role, "assistant")) {
			pos++;
			continue;
		}
		calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
		if (!cJSON_IsArray(calls))
			calls = NULL;
		cJSON_ArrayForEach(c, calls) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
			if (!cJSON_IsString(id))
				continue;
			if (*n == cap) {
				struct call_ref *more;
				cap = cap ? cap * 2 : 16;
				if (!(more = realloc(refs, cap * sizeof *refs))) {
					free(refs);
					return -1;
				}
				refs = more;
			}
			refs[(*n)++] = (struct call_ref){id->valuestring, pos};
		}
		pos++;
	}
	*out = refs;
	return 0;
}

int msg_unanswered_result(cJSON *messages, int from)
{
	struct call_ref *refs = NULL;
	const cJSON *m;
	size_t n;
	int pos = 0, found = -1;

	if (!results_from(messages, from))
		return -1;
	if (collect_calls(messages, &refs, &n) < 0)
		return -2;
	if (n)
		qsort(refs, n, sizeof *refs, call_ref_cmp);
	cJSON_ArrayForEach(m, messages) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
		const char *role = msg_role(m);
		const struct call_ref *hit;
		if (pos < from || !role || strcmp(role, "tool")) {
			pos++;
			continue;
		}
		hit = cJSON_IsString(id) ? first_call(refs, n, id->valuestring) : NULL;
		if (!hit || hit->pos >= pos) {
			found = pos;
			break;
		}
		pos++;
	}
	free(refs);
	return found;
}
