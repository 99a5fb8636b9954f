/*
 * provider_openai.c - the "openai-completions" provider: any server that
 * speaks OpenAI's POST /chat/completions (OpenAI, OpenRouter, vLLM,
 * llama.cpp server, Ollama's /v1).
 *
 * The messages go upstream as they came (parts, images, tool fields), after
 * the system text; parameters pass through; streaming asks for usage.  The
 * transport (curl, SSE, cancellation, errors) is provider_http.c.  The API
 * key is sent only as the Authorization header.
 */
#include "provider_http.h"

#include <string.h>

#include "message.h"

#define MAX_TOKENS 1e15 /* a token count believed */

/* The "usage" object of a chunk or a whole answer. */
static void take_usage(struct phttp *o, const cJSON *j)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(u, "total_tokens");

	/* a count no answer has (negative, or past long: converting it would be
	 * undefined) is ignored */
	if (cJSON_IsNumber(p) && p->valuedouble >= 0 && p->valuedouble <= MAX_TOKENS)
		o->res->usage.prompt_tokens = (long)p->valuedouble;
	if (cJSON_IsNumber(c) && c->valuedouble >= 0 && c->valuedouble <= MAX_TOKENS)
		o->res->usage.completion_tokens = (long)c->valuedouble;
	if (cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble <= MAX_TOKENS)
		o->res->usage.total_tokens = (long)t->valuedouble;
}

/* A string member's text and length, or NULL. */
static const char *text_of(const cJSON *o, const char *key, size_t *len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v))
		return NULL;
	*len = strlen(v->valuestring);
	return v->valuestring;
}

/*
 * One choice, of a chunk (its "delta") or of a whole answer (its
 * "message"), to the sink: content, reasoning ("reasoning_content", or
 * "reasoning" as llama.cpp and vLLM name it), tool calls (a whole answer's
 * get their index), logprobs and the finish reason.
 */
static int relay_choice(struct phttp *h, const cJSON *choice, const char *part)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(choice, "index");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(choice, part);
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
	const cJSON *logprobs = cJSON_GetObjectItemCaseSensitive(choice, "logprobs");
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
	struct prov_delta d = {.choice = cJSON_IsNumber(index) ? index->valueint : 0};
	cJSON *indexed = NULL;
	int rc;

	d.content = text_of(m, "content", &d.content_len);
	if (!(d.reasoning = text_of(m, "reasoning_content", &d.reasoning_len)))
		d.reasoning = text_of(m, "reasoning", &d.reasoning_len);
	if (cJSON_IsArray(calls) && cJSON_GetArraySize(calls) > 0) {
		if (!strcmp(part, "message")) { /* whole calls: number them as a stream would */
			cJSON *c;
			int n = 0;
			if (!(indexed = cJSON_Duplicate(calls, 1))) {
				h->failed = true;
				return err_nomem(h->e);
			}
			cJSON_ArrayForEach(c, indexed) {
				cJSON_DeleteItemFromObjectCaseSensitive(c, "index");
				cJSON_AddNumberToObject(c, "index", n++);
			}
		}
		d.tool_calls = indexed ? indexed : calls;
	}
	if (cJSON_IsObject(logprobs))
		d.logprobs = logprobs;
	if (cJSON_IsString(fr) && fr->valuestring[0]) {
		d.finish_reason = fr->valuestring;
		if (d.choice == 0)
			phttp_finish(h, fr->valuestring);
		h->finished = true;
	}
	rc = phttp_deliver(h, &d);
	cJSON_Delete(indexed);
	return rc;
}

static int oa_event(struct phttp *h, const char *event, const cJSON *j)
{
	const cJSON *choice;

	(void)event;
	cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(j, "choices")) {
		if (relay_choice(h, choice, "delta") < 0)
			return 1;
	}
	take_usage(h, j);
	return 0;
}

static int oa_answer(struct phttp *h, const cJSON *j)
{
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices"), *choice;

	cJSON_ArrayForEach(choice, choices) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
		if (!cJSON_IsObject(msg) ||
		    (content && !cJSON_IsString(content) && !cJSON_IsNull(content))) {
			phttp_fail(h, 502, "upstream sent malformed data");
			return -1;
		}
	}
	take_usage(h, j);
	cJSON_ArrayForEach(choice, choices) {
		if (relay_choice(h, choice, "message") < 0)
			return -1;
	}
	return 0;
}

const struct phttp_ops prov_openai_ops = {oa_event, oa_answer};

/*
 * m as OpenAI-compatible servers take it: "input_text" parts (the
 * Responses API's) become "text" parts, and a user message whose parts are
 * all text becomes one string (older servers take only strings).
 */
static cJSON *upstream_message(const cJSON *m)
{
	cJSON *dup = cJSON_Duplicate(m, 1);
	cJSON *content = cJSON_GetObjectItemCaseSensitive(dup, "content"), *part;
	const char *role = msg_role(m);
	bool text_only = true;

	if (!dup || !cJSON_IsArray(content))
		return dup;
	cJSON_ArrayForEach(part, content) {
		cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		if (cJSON_IsString(type) && !strcmp(type->valuestring, "input_text"))
			cJSON_SetValuestring(type, "text");
		if (!cJSON_IsString(type) || strcmp(type->valuestring, "text"))
			text_only = false;
	}
	if (text_only && role && !strcmp(role, "user")) {
		struct buf text = BUF_INIT;
		cJSON *joined = msg_content_text(content, &text) < 0
					? NULL
					: cJSON_CreateString(buf_str(&text));
		buf_free(&text);
		if (!joined) {
			cJSON_Delete(dup);
			return NULL;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(dup, "content", joined);
	}
	return dup;
}

cJSON *prov_openai_body(const struct prov_request *rq)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
	const cJSON *m;

	if (!msgs)
		goto fail;
	cJSON_AddStringToObject(body, "model", rq->model);
	if (rq->system_text && rq->system_text[0]) {
		cJSON *sys = msg_new("system", rq->system_text);
		if (!sys)
			goto fail;
		cJSON_AddItemToArray(msgs, sys);
	}
	cJSON_ArrayForEach(m, rq->messages) {
		cJSON *dup = upstream_message(m);
		if (!dup)
			goto fail;
		cJSON_AddItemToArray(msgs, dup);
	}
	cJSON_AddBoolToObject(body, "stream", rq->stream);
	if (rq->stream) {
		cJSON *so = cJSON_AddObjectToObject(body, "stream_options");
		if (!so)
			goto fail;
		cJSON_AddBoolToObject(so, "include_usage", 1);
	}
	if (rq->params) {
		const cJSON *p;
		cJSON_ArrayForEach(p, rq->params) {
			cJSON *dup = cJSON_Duplicate(p, 1);
			if (!dup)
				goto fail;
			cJSON_AddItemToObject(body, p->string, dup);
		}
	}
	return body;
fail:
	cJSON_Delete(body);
	return NULL;
}

int prov_openai_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		    struct err *e)
{
	return phttp_post(rq, sink, res, e, &prov_openai_ops, "/chat/completions",
			  prov_openai_body(rq), "Authorization: Bearer ", NULL);
}
