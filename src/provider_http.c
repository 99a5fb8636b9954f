/*
 * provider_http.c - the HTTP transport of the upstream providers (see
 * provider_http.h).
 *
 * The API key travels only in the headers the backend builds; nothing here
 * logs a URL, a header or a body, and error messages carry the upstream's
 * own message, trimmed.
 */
#include "provider_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (64u << 20)   /* non-streaming answer */
#define MAX_ERROR_BODY 65536   /* kept of an error answer */

/* "message" of an OpenAI-style error body, else the body's start as text. */
void phttp_error_message(const char *body, size_t len, char *out, size_t outlen)
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

void phttp_fail(struct phttp *h, int status, const char *fmt, const char *arg)
{
	if (h->failed)
		return;
	h->failed = true;
	err_set(h->e, status, "upstream_error", fmt, arg);
}

void phttp_finish(struct phttp *h, const char *reason)
{
	snprintf(h->res->finish_reason, sizeof h->res->finish_reason, "%s", reason);
	h->finished = true;
}

int phttp_deliver(struct phttp *h, const char *text, size_t len)
{
	if (!len)
		return 0;
	if (h->sink->delta(h->sink, text, len) < 0) {
		h->res->cancelled = true;
		return -1;
	}
	return 0;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct phttp *h = ctx;
	const cJSON *err;
	cJSON *j;
	int rc;

	if (h->done)
		return 0;
	if (len == 6 && !memcmp(data, "[DONE]", 6)) {
		h->done = true;
		return 0;
	}
	j = cJSON_ParseWithLength(data, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		phttp_fail(h, 502, "upstream sent malformed data%s", "");
		return 1;
	}
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (err && !cJSON_IsNull(err)) {
		char msg[320];
		phttp_error_message(data, len, msg, sizeof msg);
		phttp_fail(h, 502, "upstream error: %s", msg);
		cJSON_Delete(j);
		return 1;
	}
	rc = h->ops->event(h, event, j);
	cJSON_Delete(j);
	return rc;
}

/* A whole (non-streaming) answer in h->body. */
static int take_answer(struct phttp *h)
{
	cJSON *j = cJSON_ParseWithLength(buf_str(&h->body), h->body.len);
	int rc;

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		phttp_fail(h, 502, "upstream sent malformed data%s", "");
		return -1;
	}
	rc = h->ops->answer(h, j);
	cJSON_Delete(j);
	if (rc == 0)
		h->finished = true;
	return rc;
}

/* First body bytes: decide from the status whether the stream starts. */
static int check_status(struct phttp *o)
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
	struct phttp *o = ctx;
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
	struct phttp *o = ctx;
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
			phttp_fail(o, 502, "upstream sent an oversized event%s", "");
		return rc || o->res->cancelled || o->failed ? 0 : n;
	}
	if (o->body.len + n > MAX_BODY) {
		phttp_fail(o, 502, "upstream answer larger than 64 MiB%s", "");
		return 0;
	}
	return buf_append(&o->body, ptr, n) < 0 ? 0 : n;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct phttp *o = ctx;
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

static int phttp_run(const struct prov_request *rq, struct prov_sink *sink,
		     struct prov_result *res, struct err *e, const struct phttp_ops *ops,
		     const char *url, struct curl_slist *hdrs, const char *text)
{
	const struct cfg_provider *pv = rq->provider;
	struct phttp o = {.rq = rq, .sink = sink, .res = res, .e = e, .ops = ops};
	CURLcode cc;
	int rc = -1;

	if (!*rq->curl && !(*rq->curl = curl_easy_init())) {
		err_set(e, 500, "api_error", "The HTTP client could not be started; see the error log.");
		return -1;
	}
	o.curl = *rq->curl;

	sse_parser_init(&o.parser, on_event, &o);
	curl_easy_reset(o.curl);
	curl_easy_setopt(o.curl, CURLOPT_URL, url);
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
			phttp_fail(&o, 502, "upstream connection failed: %s", curl_easy_strerror(cc));
		else
			phttp_fail(&o, 502, "upstream unreachable: %s", curl_easy_strerror(cc));
		goto out;
	}
	if (o.status < 200 || o.status > 299) {
		char msg[320], what[400];
		phttp_error_message(buf_str(&o.body), o.body.len, msg, sizeof msg);
		snprintf(what, sizeof what, "%ld: %s", o.status, msg);
		phttp_fail(&o, 502, "upstream returned HTTP %s", what);
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
		phttp_fail(&o, 502, "upstream stream ended early%s", "");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0 && !e->status)
		err_set(e, 502, "upstream_error", "upstream failed");
	sse_parser_free(&o.parser);
	buf_free(&o.body);
	return rc;
}

int phttp_post(const struct prov_request *rq, struct prov_sink *sink,
	       struct prov_result *res, struct err *e, const struct phttp_ops *ops,
	       const char *path, const cJSON *body, const char *key_prefix,
	       const char *fixed_header)
{
	const struct cfg_provider *pv = rq->provider;
	struct curl_slist *hdrs = NULL;
	struct buf url = BUF_INIT, line = BUF_INIT;
	char *text = cJSON_PrintUnformatted(body);
	int rc = -1;

	if (!text || buf_printf(&url, "%s%s", pv->base_url, path) < 0) {
		err_set(e, 500, "api_error", "Out of memory.");
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, rq->stream ? "Accept: text/event-stream"
						  : "Accept: application/json");
	if (fixed_header)
		hdrs = curl_slist_append(hdrs, fixed_header);
	if (pv->api_key && pv->api_key[0]) {
		buf_printf(&line, "%s%s", key_prefix, pv->api_key);
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
	rc = phttp_run(rq, sink, res, e, ops, url.data, hdrs, text);
out:
	curl_slist_free_all(hdrs);
	buf_free(&url);
	buf_free(&line);
	free(text);
	return rc;
}
