/*
 * answer.c - an answer put together from a provider's deltas (see
 * answer.h).
 */
#include "answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void answer_init(struct answer *a)
{
	a->choices = NULL;
	a->nchoices = 0;
}

void answer_free(struct answer *a)
{
	for (size_t i = 0; i < a->nchoices; i++) {
		buf_free(&a->choices[i].content);
		buf_free(&a->choices[i].reasoning);
		cJSON_Delete(a->choices[i].tool_calls);
		cJSON_Delete(a->choices[i].logprobs);
	}
	free(a->choices);
	answer_init(a);
}

/* Choice i, made (with every one before it) when new; NULL when out of
 * memory or range. */
static struct answer_choice *choice_at(struct answer *a, int i)
{
	struct answer_choice *c;

	if (i < 0 || i >= ANSWER_MAX_CHOICES)
		return NULL;
	if ((size_t)i < a->nchoices)
		return &a->choices[i];
	c = realloc(a->choices, ((size_t)i + 1) * sizeof *c);
	if (!c)
		return NULL;
	memset(c + a->nchoices, 0, ((size_t)i + 1 - a->nchoices) * sizeof *c);
	a->choices = c;
	a->nchoices = (size_t)i + 1;
	return &c[i];
}

/* s (a string member of src) replaces or, with append, extends dst's. */
static int merge_string(cJSON *dst, const char *key, const cJSON *src, bool append)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);
	cJSON *old = cJSON_GetObjectItemCaseSensitive(dst, key);
	struct buf joined = BUF_INIT;
	cJSON *nv;

	if (!cJSON_IsString(v))
		return 0;
	if (append && cJSON_IsString(old) &&
	    (buf_append_str(&joined, old->valuestring) < 0 ||
	     buf_append_str(&joined, v->valuestring) < 0)) {
		buf_free(&joined);
		return -1;
	}
	nv = cJSON_CreateString(joined.data ? joined.data : v->valuestring);
	buf_free(&joined);
	if (!nv)
		return -1;
	if (old)
		cJSON_ReplaceItemInObjectCaseSensitive(dst, key, nv);
	else
		cJSON_AddItemToObject(dst, key, nv);
	return 0;
}

/* The call slot at index, made as {"id":"","type":"function","function":
 * {"name":"","arguments":""}} when new (with every slot before it). */
static cJSON *call_at(cJSON *calls, int index)
{
	while (cJSON_GetArraySize(calls) <= index) {
		cJSON *c = cJSON_CreateObject(), *f;
		if (!c || !cJSON_AddStringToObject(c, "id", "") ||
		    !cJSON_AddStringToObject(c, "type", "function") ||
		    !(f = cJSON_AddObjectToObject(c, "function")) ||
		    !cJSON_AddStringToObject(f, "name", "") ||
		    !cJSON_AddStringToObject(f, "arguments", "")) {
			cJSON_Delete(c);
			return NULL;
		}
		cJSON_AddItemToArray(calls, c);
	}
	return cJSON_GetArrayItem(calls, index);
}

/* Each delta tool call into its slot: id, type and name replace, arguments
 * append. */
static int add_tool_calls(struct answer_choice *c, const cJSON *calls)
{
	const cJSON *tc;
	int pos = 0;

	if (!c->tool_calls && !(c->tool_calls = cJSON_CreateArray()))
		return -1;
	cJSON_ArrayForEach(tc, calls) {
		const cJSON *index = cJSON_GetObjectItemCaseSensitive(tc, "index");
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
		int i = cJSON_IsNumber(index) ? index->valueint : pos;
		cJSON *slot;

		pos++;
		if (i < 0 || i >= ANSWER_MAX_CHOICES || !(slot = call_at(c->tool_calls, i)))
			return -1;
		if (merge_string(slot, "id", tc, false) < 0 ||
		    merge_string(slot, "type", tc, false) < 0 ||
		    merge_string(cJSON_GetObjectItemCaseSensitive(slot, "function"), "name", fn,
				 false) < 0 ||
		    merge_string(cJSON_GetObjectItemCaseSensitive(slot, "function"), "arguments",
				 fn, true) < 0)
			return -1;
	}
	return 0;
}

/* logprobs.content items appended to the choice's. */
static int add_logprobs(struct answer_choice *c, const cJSON *logprobs)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(logprobs, "content"), *it;
	cJSON *into;

	if (!cJSON_IsObject(logprobs))
		return 0;
	if (!c->logprobs && (!(c->logprobs = cJSON_CreateObject()) ||
			     !cJSON_AddArrayToObject(c->logprobs, "content")))
		return -1;
	into = cJSON_GetObjectItemCaseSensitive(c->logprobs, "content");
	if (!cJSON_IsArray(items))
		return 0;
	cJSON_ArrayForEach(it, items) {
		cJSON *dup = cJSON_Duplicate(it, 1);
		if (!dup)
			return -1;
		cJSON_AddItemToArray(into, dup);
	}
	return 0;
}

int answer_add(struct answer *a, const struct prov_delta *d)
{
	struct answer_choice *c = choice_at(a, d->choice);

	if (!c)
		return -1;
	if (d->content) {
		if (buf_append(&c->content, d->content, d->content_len) < 0)
			return -1;
		c->has_content = true;
	}
	if (d->reasoning && buf_append(&c->reasoning, d->reasoning, d->reasoning_len) < 0)
		return -1;
	if (cJSON_IsArray(d->tool_calls) && add_tool_calls(c, d->tool_calls) < 0)
		return -1;
	if (d->logprobs && add_logprobs(c, d->logprobs) < 0)
		return -1;
	if (d->finish_reason)
		snprintf(c->finish_reason, sizeof c->finish_reason, "%s", d->finish_reason);
	return 0;
}

const char *answer_text(const struct answer *a, size_t i)
{
	return i < a->nchoices ? buf_str(&a->choices[i].content) : "";
}

cJSON *answer_message(const struct answer *a, size_t i, bool with_reasoning)
{
	const struct answer_choice *c = i < a->nchoices ? &a->choices[i] : NULL;
	bool calls = c && cJSON_GetArraySize(c->tool_calls) > 0;
	cJSON *m = cJSON_CreateObject();

	if (!m || !cJSON_AddStringToObject(m, "role", "assistant"))
		goto fail;
	if (calls && !c->content.len) {
		if (!cJSON_AddNullToObject(m, "content"))
			goto fail;
	} else if (!cJSON_AddStringToObject(m, "content", c ? buf_str(&c->content) : "")) {
		goto fail;
	}
	if (with_reasoning && c && c->reasoning.len &&
	    !cJSON_AddStringToObject(m, "reasoning_content", buf_str(&c->reasoning)))
		goto fail;
	if (calls) {
		cJSON *dup = cJSON_Duplicate(c->tool_calls, 1);
		if (!dup)
			goto fail;
		cJSON_AddItemToObject(m, "tool_calls", dup);
	}
	return m;
fail:
	cJSON_Delete(m);
	return NULL;
}
