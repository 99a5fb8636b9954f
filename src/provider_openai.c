/*
 * provider_openai.c - the "openai-completions" provider: any server that
 * speaks OpenAI's POST /chat/completions (OpenAI, OpenRouter, vLLM,
 * llama.cpp server, Ollama's /v1), over libcurl.
 *
 * Streaming upstream SSE is parsed as bytes arrive and each content delta
 * goes to the sink at once.  The caller's curl handle is reset and reused,
 * so connections to the upstream stay open across requests on a thread.
 * The API key is sent only as the Authorization header; it never appears in
 * a log line or an error message.
 */
#include "provider.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sse.h"

#define MAX_BODY (64u << 20)   /* non-streaming answer */
#define MAX_ERROR_BODY 65536   /* kept of an error answer */

struct oa {
	const struct prov_request *rq;
	struct prov_sink *sink;
	struct prov_result *res;
	CURL *curl;
	struct sse_parser parser;
	struct buf body;        /* non-streaming answer, or an error body */
	long status;            /* HTTP status, once known */
	bool status_checked;
	bool json_reply;        /* a 2xx application/json answer to a stream request */
	bool done;              /* [DONE] seen */
	bool finished;          /* a finish_reason seen */
	bool failed;            /* e is set; stop the transfer */
	time_t last_idle;
	struct err *e;
};

/* "message" of an OpenAI-style error body, else the body's start as text. */
static void upstream_message(const char *body, size_t len, char *out, size_t outlen)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *msg = NULL;
	size_t o = 0;

	if (cJSON_IsObject(err))
		msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	else if (cJSON_IsString(err))
		msg = err;
	if (!cJSON_IsString(msg))
		msg = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (cJSON_IsString(msg)) {
		body = msg->valuestring;
		len = strlen(body);
	}
	while (len && isspace((unsigned char)*body))
		body++, len--;
	for (size_t i = 0; i < len && o + 1 < outlen && i < 300; i++) {
		unsigned char c = (unsigned char)body[i];
		out[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	if (!o)
		snprintf(out, outlen, "(no message)");
	cJSON_Delete(j);
}

static void oa_fail(struct oa *o, int status, const char *fmt, const char *arg)
{
	if (o->failed)
		return;
	o->failed = true;
	err_set(o->e, status, "upstream_error", fmt, arg);
}

/* The "usage" object and choices[0] of a chunk or a whole answer. */
static void take_meta(struct oa *o, const cJSON *j, const cJSON *choice)
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
	if (cJSON_IsString(fr) && fr->valuestring[0]) {
		snprintf(o->res->finish_reason, sizeof o->res->finish_reason, "%s",
			 fr->valuestring);
		o->finished = true;
	}
}

static int deliver(struct oa *o, const char *text, size_t len)
{
	if (!len)
		return 0;
	if (o->sink->delta(o->sink, text, len) < 0) {
		o->res->cancelled = true;
		return -1;
	}
	return 0;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct oa *o = ctx;
	cJSON *j;
	const cJSON *choice, *delta, *content, *err;
	int rc = 0;

	(void)event;
	if (o->done)
		return 0;
	if (len == 6 && !memcmp(data, "[DONE]", 6)) {
		o->done = true;
		return 0;
	}
	j = cJSON_ParseWithLength(data, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		oa_fail(o, 502, "upstream sent malformed data%s", "");
		return 1;
	}
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (err && !cJSON_IsNull(err)) {
		char msg[320];
		upstream_message(data, len, msg, sizeof msg);
		oa_fail(o, 502, "upstream error: %s", msg);
		cJSON_Delete(j);
		return 1;
	}
	choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
	content = cJSON_GetObjectItemCaseSensitive(delta, "content");
	if (cJSON_IsString(content) && deliver(o, content->valuestring,
					       strlen(content->valuestring)) < 0)
		rc = 1;
	take_meta(o, j, choice);
	cJSON_Delete(j);
	return rc;
}

/* A whole (non-streaming) answer in o->body. */
static int take_answer(struct oa *o)
{
	cJSON *j = cJSON_ParseWithLength(buf_str(&o->body), o->body.len);
	const cJSON *choice, *msg, *content;
	int rc = -1;

	choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
	content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	if (!cJSON_IsObject(msg) || (!cJSON_IsString(content) && !cJSON_IsNull(content))) {
		oa_fail(o, 502, "upstream sent malformed data%s", "");
		goto out;
	}
	take_meta(o, j, choice);
	if (cJSON_IsString(content) &&
	    deliver(o, content->valuestring, strlen(content->valuestring)) < 0)
		goto out;
	o->finished = true;
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

/* First body bytes: decide from the status whether the stream starts. */
static int check_status(struct oa *o)
{
	char *ctype = NULL;

	o->status_checked = true;
	curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &o->status);
	if (o->status < 200 || o->status > 299)
		return 0;
	curl_easy_getinfo(o->curl, CURLINFO_CONTENT_TYPE, &ctype);
	o->json_reply = o->rq->stream && ctype && strstr(ctype, "json");
	if (o->sink->start && o->sink->start(o->sink) < 0) {
		o->res->cancelled = true;
		return -1;
	}
	o->res->started = true;
	return 0;
}

/*
 * The end of a header block: a 2xx final status starts the stream now, not
 * at the first body byte, so a model that thinks long before its first
 * token already gets keep-alive comments (SPEC 7).
 */
static size_t on_header(char *line, size_t size, size_t nmemb, void *ctx)
{
	struct oa *o = ctx;
	size_t n = size * nmemb;
	long code = 0;

	bool blank = (n == 2 && line[0] == '\r' && line[1] == '\n') || (n == 1 && line[0] == '\n');

	if (o->status_checked || !blank)
		return n;
	curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200) /* 100 Continue and the like: another block follows */
		return n;
	return check_status(o) < 0 ? 0 : n;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct oa *o = ctx;
	size_t n = size * nmemb;

	if (!o->status_checked && check_status(o) < 0)
		return 0;
	if (o->status < 200 || o->status > 299) {
		size_t room = MAX_ERROR_BODY - o->body.len;
		if (room && buf_append(&o->body, ptr, n < room ? n : room) < 0)
			return 0;
		return n;
	}
	if (o->rq->stream && !o->json_reply) {
		int rc = sse_parser_feed(&o->parser, ptr, n);
		if (rc < 0)
			oa_fail(o, 502, "upstream sent an oversized event%s", "");
		return rc || o->res->cancelled || o->failed ? 0 : n;
	}
	if (o->body.len + n > MAX_BODY) {
		oa_fail(o, 502, "upstream answer larger than 64 MiB%s", "");
		return 0;
	}
	return buf_append(&o->body, ptr, n) < 0 ? 0 : n;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct oa *o = ctx;
	time_t now = time(NULL);

	(void)dt, (void)dn, (void)ut, (void)un;
	if (!o->sink->idle || now == o->last_idle)
		return 0;
	o->last_idle = now;
	if (o->sink->idle(o->sink) < 0) {
		o->res->cancelled = true;
		return 1;
	}
	return 0;
}

static cJSON *build_body(const struct prov_request *rq)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
	const cJSON *m;

	if (!msgs)
		goto fail;
	cJSON_AddStringToObject(body, "model", rq->model);
	if (rq->system_text && rq->system_text[0]) {
		cJSON *sys = cJSON_CreateObject();
		if (!sys)
			goto fail;
		cJSON_AddItemToArray(msgs, sys);
		cJSON_AddStringToObject(sys, "role", "system");
		cJSON_AddStringToObject(sys, "content", rq->system_text);
	}
	cJSON_ArrayForEach(m, rq->messages) {
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

int prov_openai_run(const struct prov_request *rq, struct prov_sink *sink,
		    struct prov_result *res, struct err *e)
{
	const struct cfg_provider *pv = rq->provider;
	struct oa o = {.rq = rq, .sink = sink, .res = res, .curl = rq->curl, .e = e};
	struct curl_slist *hdrs = NULL;
	struct buf url = BUF_INIT, line = BUF_INIT;
	cJSON *body = NULL;
	char *text = NULL;
	CURLcode cc;
	int rc = -1;

	sse_parser_init(&o.parser, on_event, &o);
	if (!(body = build_body(rq)) || !(text = cJSON_PrintUnformatted(body)) ||
	    buf_printf(&url, "%s/chat/completions", pv->base_url) < 0) {
		err_set(e, 500, "api_error", "Out of memory.");
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, rq->stream ? "Accept: text/event-stream"
						  : "Accept: application/json");
	if (pv->api_key && pv->api_key[0]) {
		buf_printf(&line, "Authorization: Bearer %s", pv->api_key);
		hdrs = curl_slist_append(hdrs, buf_str(&line));
	}
	for (size_t i = 0; i < pv->nheaders; i++) {
		buf_reset(&line);
		buf_printf(&line, "%s: %s", pv->headers[i].name, pv->headers[i].value);
		hdrs = curl_slist_append(hdrs, buf_str(&line));
	}
	/* curl copies each header; wipe ours so the key is not left on the heap */
	if (line.data)
		memset(line.data, 0, line.cap);

	curl_easy_reset(o.curl);
	curl_easy_setopt(o.curl, CURLOPT_URL, url.data);
	curl_easy_setopt(o.curl, CURLOPT_POST, 1L);
	curl_easy_setopt(o.curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(o.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
	curl_easy_setopt(o.curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(o.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(o.curl, CURLOPT_CONNECTTIMEOUT, (long)(pv->connect_timeout_seconds
								 ? pv->connect_timeout_seconds : 10));
	curl_easy_setopt(o.curl, CURLOPT_TIMEOUT, (long)(pv->timeout_seconds
							  ? pv->timeout_seconds : 600));
	curl_easy_setopt(o.curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(o.curl, CURLOPT_HEADERDATA, &o);
	curl_easy_setopt(o.curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(o.curl, CURLOPT_WRITEDATA, &o);
	curl_easy_setopt(o.curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(o.curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(o.curl, CURLOPT_XFERINFODATA, &o);
	curl_easy_setopt(o.curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(o.curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(o.curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(o.curl, CURLOPT_USERAGENT, "clawcgi/" PACKAGE_VERSION);
	o.last_idle = time(NULL);

	cc = curl_easy_perform(o.curl);
	if (!o.status_checked && cc == CURLE_OK)
		check_status(&o); /* an answer with no body */

	if (res->cancelled) {
		err_set(e, 499, "api_error", "client disconnected");
		goto out;
	}
	if (o.failed)
		goto out;
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		char s[16];
		snprintf(s, sizeof s, "%d", pv->timeout_seconds ? pv->timeout_seconds : 600);
		err_set(e, 504, "upstream_error", "upstream timed out after %s s", s);
		o.failed = true;
		goto out;
	}
	if (cc != CURLE_OK) {
		if (res->started)
			oa_fail(&o, 502, "upstream connection failed: %s", curl_easy_strerror(cc));
		else
			oa_fail(&o, 502, "upstream unreachable: %s", curl_easy_strerror(cc));
		goto out;
	}
	if (o.status < 200 || o.status > 299) {
		char msg[320], what[400];
		upstream_message(buf_str(&o.body), o.body.len, msg, sizeof msg);
		snprintf(what, sizeof what, "%ld: %s", o.status, msg);
		oa_fail(&o, 502, "upstream returned HTTP %s", what);
		res->upstream_status = (int)o.status;
		goto out;
	}
	if (!rq->stream || o.json_reply) {
		if (take_answer(&o) < 0) {
			if (res->cancelled)
				err_set(e, 499, "api_error", "client disconnected");
			goto out;
		}
	} else if (!o.done && !o.finished) {
		oa_fail(&o, 502, "upstream stream ended early%s", "");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0 && !e->status)
		err_set(e, 502, "upstream_error", "upstream failed");
	curl_slist_free_all(hdrs);
	sse_parser_free(&o.parser);
	buf_free(&o.body);
	buf_free(&url);
	buf_free(&line);
	cJSON_Delete(body);
	free(text);
	return rc;
}
