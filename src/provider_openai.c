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

/* The "usage" object and choices[0] of a chunk or a whole answer. */
static void take_meta(struct phttp *o, const cJSON *j, const cJSON *choice)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");

	if (cJSON_IsObject(u)) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(u, "total_tokens");
		if (cJSON_IsNumber(p))
			o->res->usage.prompt_tokens = (long)p->valuedouble;
		if (cJSON_IsNumber(c))
			o->res->usage.completion_tokens = (long)c->valuedouble;
		if (cJSON_IsNumber(t))
			o->res->usage.total_tokens = (long)t->valuedouble;
	}
	if (cJSON_IsString(fr) && fr->valuestring[0])
		phttp_finish(o, fr->valuestring);
}

static int oa_event(struct phttp *h, const char *event, const cJSON *j)
{
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(delta, "content");

	(void)event;
	if (cJSON_IsString(content) &&
	    phttp_deliver(h, content->valuestring, strlen(content->valuestring)) < 0)
		return 1;
	take_meta(h, j, choice);
	return 0;
}

static int oa_answer(struct phttp *h, const cJSON *j)
{
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");

	if (!cJSON_IsObject(msg) || (!cJSON_IsString(content) && !cJSON_IsNull(content))) {
		phttp_fail(h, 502, "upstream sent malformed data");
		return -1;
	}
	take_meta(h, j, choice);
	if (cJSON_IsString(content) &&
	    phttp_deliver(h, content->valuestring, strlen(content->valuestring)) < 0)
		return -1;
	return 0;
}

static const struct phttp_ops oa_ops = {oa_event, oa_answer};

static cJSON *build_body(const struct prov_request *rq)
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
	cJSON_ArrayForEach(m, rq->messages)
	{
		cJSON *dup = cJSON_Duplicate(m, 1);
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
		cJSON_ArrayForEach(p, rq->params)
		{
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
	return phttp_post(rq, sink, res, e, &oa_ops, "/chat/completions", build_body(rq),
			  "Authorization: Bearer ", NULL);
}
