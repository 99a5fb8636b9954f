/*
 * provider_openai.c - the "openai-completions" provider: any server that
 * speaks OpenAI's POST /chat/completions (OpenAI, OpenRouter, vLLM,
 * llama.cpp server, Ollama's /v1).
 *
 * The messages go upstream as they came (parts, images, tool fields), after
 * the system text; parameters pass through; streaming asks for usage.  The
 * transport (curl, SSE, cancellation, errors) is provider_http.c.  The API
 * key is sent only as the Authorization header.
 *
 * Also its POST /embeddings (prov_openai_embed), on the same transport.
 */
#include "provider_http.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"

#define MAX_TOKENS 1e15 /* a token count believed */

/* A count no answer has (negative, or past long: converting it would be
 * undefined) is no count. */
static bool count_of(const cJSON *o, const char *key, long *v)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(n) || !(n->valuedouble >= 0 && n->valuedouble <= MAX_TOKENS))
		return false;
	*v = (long)n->valuedouble;
	return true;
}

/* The "usage" object of a chunk or a whole answer: the counts and each
 * detail of prompt_tokens_details and completion_tokens_details given. */
static void take_usage(struct phttp *o, const cJSON *j)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	struct prov_usage *pu = &o->res->usage;
	long v;

	if (!cJSON_IsObject(u))
		return;
	if (count_of(u, "prompt_tokens", &v))
		pu->prompt_tokens = v;
	if (count_of(u, "completion_tokens", &v))
		pu->completion_tokens = v;
	if (count_of(u, "total_tokens", &v))
		pu->total_tokens = v;
	for (int d = 0; d < PROV_USAGE_DETAILS; d++) {
		const struct prov_usage_field *f = &prov_usage_fields[d];
		if (count_of(cJSON_GetObjectItemCaseSensitive(u, f->object), f->field, &v))
			prov_usage_detail_set(pu, d, v);
	}
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
	cJSON *m;

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
		cJSON *dup;
		/* A stored message with no array in its text has no parts to
		 * rewrite: its text goes as it is, not parsed and printed again. */
		if (msg_is_stored(m) && !strchr(m->valuestring, '[')) {
			if (!cJSON_AddItemReferenceToArray(msgs, m))
				goto fail;
			continue;
		}
		if (msg_open(m) < 0)
			continue; /* a stored row that is not JSON is no message */
		if (!(dup = upstream_message(m)))
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

cJSON *prov_openai_embed_body(const struct prov_embed_request *rq)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *input = cJSON_Duplicate(rq->input, 1);

	if (!body || !input || !cJSON_AddStringToObject(body, "model", rq->model)) {
		cJSON_Delete(input);
		goto fail;
	}
	cJSON_AddItemToObject(body, "input", input);
	if ((rq->encoding_format &&
	     !cJSON_AddStringToObject(body, "encoding_format", rq->encoding_format)) ||
	    (rq->dimensions > 0 && !cJSON_AddNumberToObject(body, "dimensions", rq->dimensions)))
		goto fail;
	return body;
fail:
	cJSON_Delete(body);
	return NULL;
}

static int embed_event(struct phttp *h, const char *event, const cJSON *data)
{
	(void)event, (void)data;
	phttp_fail(h, 502, "upstream sent an event stream, not embeddings");
	return 1;
}

/* An array of numbers (at least one) as the client wants it: as sent, or
 * as base64 of float32s.  NULL when it is no such array (*malformed) or
 * out of memory. */
static cJSON *embed_numbers(const cJSON *emb, bool base64, bool *malformed)
{
	int n = cJSON_GetArraySize(emb), i = 0;
	const cJSON *x;
	float *v = NULL;
	cJSON *value = NULL;
	char *text;

	*malformed = n == 0;
	cJSON_ArrayForEach(x, emb) {
		if (!cJSON_IsNumber(x))
			*malformed = true;
	}
	if (*malformed)
		return NULL;
	if (!base64) {
		/* printed back as raw JSON: exact (cJSON prints a double so that it
		 * reads back the same), and far smaller than a copied tree */
		if ((text = cJSON_PrintUnformatted(emb)))
			value = cJSON_CreateRaw(text);
		free(text);
		return value;
	}
	if (!(v = malloc((size_t)n * sizeof *v)))
		return NULL;
	cJSON_ArrayForEach(x, emb) {
		v[i++] = (float)x->valuedouble;
	}
	value = prov_embedding_value(v, (size_t)n, true);
	free(v);
	return value;
}

/* An item's index: the upstream's when it is one of the n, else pos. */
static int index_of(const cJSON *index, int n, int pos)
{
	double d = cJSON_IsNumber(index) ? index->valuedouble : -1;

	return d >= 0 && d < n && d == (double)(int)d ? (int)d : pos;
}

static int embed_answer(struct phttp *h, const cJSON *j)
{
	struct phttp_embed *call = h->ctx;
	const struct prov_embed_request *rq = call->rq;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "data"), *item;
	bool base64 = rq->encoding_format && !strcmp(rq->encoding_format, "base64");
	int n = cJSON_GetArraySize(items), i = 0;

	if (!cJSON_IsArray(items)) {
		phttp_fail(h, 502, "upstream sent malformed data (no `data` array)");
		return -1;
	}
	if ((size_t)n != rq->ninputs) {
		phttp_fail(h, 502, "upstream sent %d embeddings for %zu inputs", n, rq->ninputs);
		return -1;
	}
	if (!(call->data = cJSON_CreateArray()))
		goto nomem;
	cJSON_ArrayForEach(item, items) {
		const cJSON *emb = cJSON_GetObjectItemCaseSensitive(item, "embedding");
		bool malformed = !cJSON_IsArray(emb) && !(base64 && cJSON_IsString(emb));
		cJSON *value = NULL;
		int at = index_of(cJSON_GetObjectItemCaseSensitive(item, "index"), n, i);

		if (cJSON_IsString(emb) && base64)
			value = cJSON_CreateString(emb->valuestring); /* base64 as asked: as is */
		else if (!malformed)
			value = embed_numbers(emb, base64, &malformed);
		if (malformed) {
			phttp_fail(h, 502,
				   "upstream sent malformed data (data[%d].embedding is no %s)", i,
				   base64 ? "base64 string or array of numbers"
					  : "array of numbers");
			return -1;
		}
		if (!value || prov_embedding_add(call->data, at, value) < 0)
			goto nomem;
		i++;
	}
	take_usage(h, j);
	return 0;
nomem:
	h->failed = true;
	return err_nomem(h->e);
}

const struct phttp_ops prov_openai_embed_ops = {embed_event, embed_answer};

int prov_openai_embed(const struct prov_embed_request *rq, struct prov_sink *sink,
		      struct prov_result *res, cJSON **data, struct err *e)
{
	/* the transport's view: one non-streaming POST within rq's deadline */
	struct prov_request http = {
		.provider = rq->provider,
		.model = rq->model,
		.curl = rq->curl,
		.started_ms = rq->started_ms,
		.deadline_ms = rq->deadline_ms,
	};
	struct phttp_embed call = {rq, NULL};
	int rc = phttp_post_ctx(&http, sink, res, e, &prov_openai_embed_ops, &call, "/embeddings",
				prov_openai_embed_body(rq), "Authorization: Bearer ", NULL);

	if (rc == 0 && !call.data)
		rc = err_set(e, 502, ERR_UPSTREAM, "upstream sent no embeddings");
	if (rc < 0) {
		cJSON_Delete(call.data);
		call.data = NULL;
	}
	*data = call.data;
	return rc;
}
