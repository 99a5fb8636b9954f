/*
 * message.c - OpenAI chat message helpers (see message.h).
 */
#include "message.h"

#include <stdbool.h>
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
