/*
 * provider_anthropic.c - the "anthropic-messages" provider: Anthropic's
 * POST /v1/messages.
 *
 * Maps the OpenAI-shaped turn onto the Messages API: the system text goes
 * to the top-level "system", user/assistant messages keep their text and
 * images as content blocks, tool results become "tool_result" blocks, and
 * max_tokens is always sent (the API requires it: the request's, else the
 * provider's maxTokens, else 4096).  Streaming events become deltas; stop
 * reasons and token counts are mapped back.  The transport is
 * provider_http.c; the key is sent only as x-api-key.
 */
#include "provider_http.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"

#define DEFAULT_MAX_TOKENS 4096
#define ANTHROPIC_VERSION "2023-06-01"

static const char *map_stop(const char *reason)
{
	if (!strcmp(reason, "max_tokens"))
		return "length";
	if (!strcmp(reason, "tool_use"))
		return "tool_calls";
	return "stop"; /* end_turn, stop_sequence, and anything new */
}

static void take_usage(struct phttp *h, const cJSON *usage)
{
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(usage, "input_tokens");
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(usage, "output_tokens");
	struct prov_usage *u = &h->res->usage;

	if (cJSON_IsNumber(in))
		u->prompt_tokens = (long)in->valuedouble;
	if (cJSON_IsNumber(out))
		u->completion_tokens = (long)out->valuedouble;
	u->total_tokens = u->prompt_tokens + u->completion_tokens;
}

static int an_event(struct phttp *h, const char *event, const cJSON *j)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	const char *t = cJSON_IsString(type) ? type->valuestring : event;

	if (!strcmp(t, "message_start")) {
		take_usage(h, cJSON_GetObjectItemCaseSensitive(
				      cJSON_GetObjectItemCaseSensitive(j, "message"), "usage"));
	} else if (!strcmp(t, "content_block_delta")) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "text");
		if (cJSON_IsString(text) &&
		    phttp_text(h, text->valuestring, strlen(text->valuestring)) < 0)
			return 1;
	} else if (!strcmp(t, "message_delta")) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
		const cJSON *stop = cJSON_GetObjectItemCaseSensitive(d, "stop_reason");
		if (cJSON_IsString(stop))
			phttp_finish(h, map_stop(stop->valuestring));
		take_usage(h, cJSON_GetObjectItemCaseSensitive(j, "usage"));
	} else if (!strcmp(t, "message_stop")) {
		h->done = true;
	}
	return 0; /* ping, content_block_start/stop */
}

static int an_answer(struct phttp *h, const cJSON *j)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(j, "content");
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(j, "stop_reason");
	const cJSON *block;
	struct buf text = BUF_INIT;
	int rc = -1;

	if (!cJSON_IsArray(content)) {
		phttp_fail(h, 502, "upstream sent malformed data");
		return -1;
	}
	cJSON_ArrayForEach(block, content) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "text");
		if (cJSON_IsString(t) && buf_append_str(&text, t->valuestring) < 0)
			goto out;
	}
	take_usage(h, cJSON_GetObjectItemCaseSensitive(j, "usage"));
	if (cJSON_IsString(stop))
		phttp_finish(h, map_stop(stop->valuestring));
	rc = phttp_text(h, buf_str(&text), text.len);
out:
	buf_free(&text);
	return rc;
}

static const struct phttp_ops an_ops = {an_event, an_answer};

/* An OpenAI image_url part as an Anthropic image block. */
static cJSON *image_block(const char *url)
{
	cJSON *b = cJSON_CreateObject();
	cJSON *src = cJSON_AddObjectToObject(b, "source");

	if (!src)
		goto fail;
	cJSON_AddStringToObject(b, "type", "image");
	if (!strncmp(url, "data:", 5)) {
		const char *semi = strchr(url, ';'), *comma = strchr(url, ',');
		char *media;
		if (!semi || !comma || semi > comma ||
		    !(media = strndup(url + 5, (size_t)(semi - url - 5))))
			goto fail;
		cJSON_AddStringToObject(src, "type", "base64");
		cJSON_AddStringToObject(src, "media_type", media);
		cJSON_AddStringToObject(src, "data", comma + 1);
		free(media);
	} else {
		cJSON_AddStringToObject(src, "type", "url");
		cJSON_AddStringToObject(src, "url", url);
	}
	return b;
fail:
	cJSON_Delete(b);
	return NULL;
}

/* OpenAI content (string or parts) as Anthropic content blocks. */
static cJSON *content_blocks(const cJSON *content)
{
	cJSON *blocks = cJSON_CreateArray();
	const cJSON *part;

	if (!blocks)
		return NULL;
	if (cJSON_IsString(content)) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddItemToArray(blocks, b);
		cJSON_AddStringToObject(b, "type", "text");
		cJSON_AddStringToObject(b, "text", content->valuestring);
		return blocks;
	}
	cJSON_ArrayForEach(part, content) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(part, "image_url");
		const cJSON *url =
			cJSON_IsObject(img) ? cJSON_GetObjectItemCaseSensitive(img, "url") : img;
		cJSON *b = NULL;
		if (!cJSON_IsString(type))
			continue;
		if (cJSON_IsString(text) && (!strcmp(type->valuestring, "text") ||
					     !strcmp(type->valuestring, "input_text"))) {
			b = cJSON_CreateObject();
			cJSON_AddStringToObject(b, "type", "text");
			cJSON_AddStringToObject(b, "text", text->valuestring);
		} else if (!strcmp(type->valuestring, "image_url") && cJSON_IsString(url)) {
			b = image_block(url->valuestring);
		}
		if (b)
			cJSON_AddItemToArray(blocks, b);
	}
	return blocks;
}

static cJSON *map_message(const cJSON *m)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
	cJSON *out = cJSON_CreateObject(), *blocks;

	if (!out || !cJSON_IsString(role))
		goto fail;
	if (!strcmp(role->valuestring, "tool")) {
		/* a tool's result goes back as a user turn with a tool_result block */
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
		struct buf text = BUF_INIT;
		cJSON *b;
		blocks = cJSON_CreateArray();
		b = cJSON_CreateObject();
		if (!blocks || !b) {
			cJSON_Delete(blocks);
			cJSON_Delete(b);
			goto fail;
		}
		cJSON_AddItemToArray(blocks, b);
		cJSON_AddStringToObject(b, "type", "tool_result");
		cJSON_AddStringToObject(b, "tool_use_id",
					cJSON_IsString(id) ? id->valuestring : "");
		if (msg_content_text(content, &text) < 0) {
			buf_free(&text);
			cJSON_Delete(blocks);
			goto fail;
		}
		cJSON_AddStringToObject(b, "content", buf_str(&text));
		buf_free(&text);
		cJSON_AddStringToObject(out, "role", "user");
	} else {
		cJSON_AddStringToObject(out, "role", role->valuestring);
		blocks = content_blocks(content);
	}
	if (!blocks || cJSON_GetArraySize(blocks) == 0) { /* nothing to send */
		cJSON_Delete(blocks);
		goto fail;
	}
	cJSON_AddItemToObject(out, "content", blocks);
	return out;
fail:
	cJSON_Delete(out);
	return NULL;
}

static cJSON *build_body(const struct prov_request *rq)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
	const cJSON *m, *v;
	long max_tokens = rq->provider->max_tokens ? rq->provider->max_tokens : DEFAULT_MAX_TOKENS;

	if (!msgs) {
		cJSON_Delete(body);
		return NULL;
	}
	cJSON_AddStringToObject(body, "model", rq->model);
	if (rq->system_text && rq->system_text[0])
		cJSON_AddStringToObject(body, "system", rq->system_text);
	cJSON_ArrayForEach(m, rq->messages) {
		cJSON *mapped = map_message(m);
		if (mapped)
			cJSON_AddItemToArray(msgs, mapped);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(rq->params, "max_completion_tokens")) ||
	    (v = cJSON_GetObjectItemCaseSensitive(rq->params, "max_tokens")))
		max_tokens = (long)v->valuedouble;
	cJSON_AddNumberToObject(body, "max_tokens", (double)max_tokens);
	if ((v = cJSON_GetObjectItemCaseSensitive(rq->params, "temperature")))
		cJSON_AddNumberToObject(body, "temperature", v->valuedouble);
	if ((v = cJSON_GetObjectItemCaseSensitive(rq->params, "top_p")))
		cJSON_AddNumberToObject(body, "top_p", v->valuedouble);
	if ((v = cJSON_GetObjectItemCaseSensitive(rq->params, "stop"))) {
		cJSON *seq = cJSON_IsArray(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateArray();
		if (cJSON_IsString(v))
			cJSON_AddItemToArray(seq, cJSON_CreateString(v->valuestring));
		cJSON_AddItemToObject(body, "stop_sequences", seq);
	}
	/* seed, penalties and response_format have no Messages API equivalent */
	cJSON_AddBoolToObject(body, "stream", rq->stream);
	return body;
}

int prov_anthropic_run(const struct prov_request *rq, struct prov_sink *sink,
		       struct prov_result *res, struct err *e)
{
	return phttp_post(rq, sink, res, e, &an_ops, "/v1/messages", build_body(rq),
			  "x-api-key: ", "anthropic-version: " ANTHROPIC_VERSION);
}
