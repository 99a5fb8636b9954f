/*
 * provider_http.c - the HTTP transport of the upstream providers (see
 * provider_http.h).
 *
 * The API key travels only in the headers the backend builds; nothing here
 * logs a URL, a header or a body, and error messages carry the upstream's
 * own message, trimmed, with every configured secret masked (an upstream
 * that refuses a key may quote it).
 */
#include "provider_http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "mask.h"

#define MAX_BODY (64u << 20) /* non-streaming answer */
#define MAX_ERROR_BODY 65536 /* kept of an error answer */

/* "message" of an OpenAI-style error body, else the body's start as text. */
void phttp_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *msg = NULL;
	struct buf masked = BUF_INIT, plain = BUF_INIT;
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
	/* masked whole before it is cut, so no key's start is left at the cut */
	if (len > MAX_ERROR_BODY)
		len = MAX_ERROR_BODY;
	/* without its NUL bytes, so a key in UTF-16 (one after each ASCII
	 * letter) is a key the mask sees */
	if (memchr(body, '\0', len)) {
		for (size_t i = 0; i < len; i++)
			if (body[i] && buf_append(&plain, body + i, 1) < 0) {
				snprintf(out, outlen, "(no message)");
				goto out;
			}
		body = buf_str(&plain);
		len = plain.len;
	}
	if (mask_global_buf(body, len, false, &masked) < 0) {
		snprintf(out, outlen, "(no message)");
		goto out;
	}
	body = buf_str(&masked);
	len = masked.len;
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
out:
	buf_free(&masked);
	buf_free(&plain);
	cJSON_Delete(j);
}

void phttp_fail(struct phttp *h, int status, const char *fmt, ...)
{
	char msg[sizeof h->e->message];
	va_list ap;

	if (h->failed)
		return;
	h->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_set(h->e, status, ERR_UPSTREAM, "%s", msg); /* kept valid UTF-8 there */
}

void phttp_finish(struct phttp *h, const char *reason)
{
	snprintf(h->res->finish_reason, sizeof h->res->finish_reason, "%s", reason);
	h->finished = true;
}

int phttp_deliver(struct phttp *h, const struct prov_delta *d)
{
	if (h->sink->delta(h->sink, d) < 0) {
		h->res->cancelled = true;
		return -1;
	}
	return 0;
}

int phttp_text(struct phttp *h, const char *text, size_t len)
{
	struct prov_delta d = {.content = text, .content_len = len};

	return len ? phttp_deliver(h, &d) : 0;
}

int phttp_event(void *ctx, const char *event, const char *data, size_t len)
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
		phttp_fail(h, 502, "upstream sent malformed data");
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
	const cJSON *err;
	int rc;

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		phttp_fail(h, 502, "upstream sent malformed data");
		return -1;
	}
	/* a 2xx whose body is an error (some proxies answer quota and key
	 * errors so): the error, as a stream's error event is, not an empty
	 * answer */
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (err && !cJSON_IsNull(err)) {
		char msg[320];
		phttp_error_message(buf_str(&h->body), h->body.len, msg, sizeof msg);
		phttp_fail(h, 502, "upstream error: %s", msg);
		cJSON_Delete(j);
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
	if (o->status < 200 || o->status > 299) {
		buf_set_max(&o->body, MAX_ERROR_BODY);
		return 0;
	}
	buf_set_max(&o->body, MAX_BODY);
	curl_easy_getinfo(o->curl, CURLINFO_CONTENT_TYPE, &ctype);
	/* the upstream's declared format wins over what was asked for: JSON to
	 * a stream request, an event stream to a non-streaming one */
	if (o->rq->stream)
		o->sse_reply = !ctype || !strstr(ctype, "json");
	else
		o->sse_reply = ctype && strstr(ctype, "text/event-stream");
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
		/* the start of an error body is enough for its message */
		size_t room = buf_room(&o->body);
		if (room && buf_append(&o->body, ptr, n < room ? n : room) == BUF_NO_MEMORY)
			return 0;
		return n;
	}
	if (o->sse_reply) {
		int rc = sse_parser_feed(&o->parser, ptr, n);
		if (rc < 0)
			phttp_fail(o, 502, "upstream sent an oversized event");
		return rc || o->res->cancelled || o->failed ? 0 : n;
	}
	switch (buf_append(&o->body, ptr, n)) {
	case 0:
		return n;
	case BUF_TOO_BIG:
		phttp_fail(o, 502, "upstream answer larger than %u MiB", MAX_BODY >> 20);
		return 0;
	default:
		return 0;
	}
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

static int phttp_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		     struct err *e, const struct phttp_ops *ops, void *ctx, const char *url,
		     struct curl_slist *hdrs, const char *text)
{
	const struct cfg_provider *pv = rq->provider;
	struct phttp o = {.rq = rq, .sink = sink, .res = res, .e = e, .ops = ops, .ctx = ctx};
	CURLcode cc;
	int rc = -1;

	if (!*rq->curl && !(*rq->curl = curl_easy_init())) {
		err_set(e, 500, ERR_API,
			"The HTTP client could not be started; see the error log.");
		return -1;
	}
	o.curl = *rq->curl;

	sse_parser_init(&o.parser, phttp_event, &o);
	curl_easy_reset(o.curl);
	curl_easy_setopt(o.curl, CURLOPT_URL, url);
	curl_easy_setopt(o.curl, CURLOPT_POST, 1L);
	curl_easy_setopt(o.curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(o.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
	curl_easy_setopt(o.curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(o.curl, CURLOPT_NOSIGNAL, 1L);
	/* The handle keeps at most this many idle upstream connections (a
	 * fallback to another host adds one): part of a thread's descriptor
	 * budget, SERVE_FDS_PER_THREAD. */
	curl_easy_setopt(o.curl, CURLOPT_MAXCONNECTS, 2L);
	curl_easy_setopt(o.curl, CURLOPT_CONNECTTIMEOUT, (long)pv->connect_timeout_seconds);
	curl_easy_setopt(o.curl, CURLOPT_TIMEOUT_MS,
			 (long)prov_attempt_ms(rq, pv->timeout_seconds));
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
		err_set(e, 499, ERR_API, "client disconnected");
		goto out;
	}
	if (o.failed)
		goto out;
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		err_set(e, 504, ERR_UPSTREAM, "upstream timed out after %lld s",
			rq->started_ms ? (clock_mono_ms() - rq->started_ms + 500) / 1000
				       : (long long)pv->timeout_seconds);
		o.failed = true;
		goto out;
	}
	if (cc != CURLE_OK) {
		if (res->started)
			phttp_fail(&o, 502, "upstream connection failed: %s",
				   curl_easy_strerror(cc));
		else
			phttp_fail(&o, 502, "upstream unreachable: %s", curl_easy_strerror(cc));
		goto out;
	}
	if (o.status < 200 || o.status > 299) {
		char msg[320];
		phttp_error_message(buf_str(&o.body), o.body.len, msg, sizeof msg);
		phttp_fail(&o, 502, "upstream returned HTTP %ld: %s", o.status, msg);
		res->upstream_status = (int)o.status;
		goto out;
	}
	if (!o.sse_reply) {
		if (take_answer(&o) < 0) {
			if (res->cancelled)
				err_set(e, 499, ERR_API, "client disconnected");
			goto out;
		}
	} else if (!o.done && !o.finished) {
		phttp_fail(&o, 502, "upstream stream ended early");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0 && !e->status)
		err_set(e, 502, ERR_UPSTREAM, "upstream failed");
	sse_parser_free(&o.parser);
	buf_free(&o.body);
	return rc;
}

/* Append line to *list: 0, or -1 when out of memory (the list is kept). */
static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return -1;
	*list = l;
	return 0;
}

/* The request's headers into *list: 0, or -1 when out of memory. */
static int build_headers(const struct prov_request *rq, const char *key_prefix,
			 const char *fixed_header, struct curl_slist **list)
{
	const struct cfg_provider *pv = rq->provider;
	struct buf line = BUF_INIT;
	int rc = -1;

	if (add_header(list, "Content-Type: application/json") < 0 ||
	    add_header(list,
		       rq->stream ? "Accept: text/event-stream" : "Accept: application/json") < 0 ||
	    (fixed_header && add_header(list, fixed_header) < 0))
		goto out;
	if (pv->api_key && pv->api_key[0] &&
	    (buf_printf(&line, "%s%s", key_prefix, pv->api_key) < 0 ||
	     add_header(list, line.data) < 0))
		goto out;
	for (size_t i = 0; i < pv->nheaders; i++) {
		buf_reset(&line);
		if (buf_printf(&line, "%s: %s", pv->headers[i].name, pv->headers[i].value) < 0 ||
		    add_header(list, line.data) < 0)
			goto out;
	}
	rc = 0;
out:
	/* curl copies each header; wipe ours so the key is not left on the heap */
	if (line.data)
		memset(line.data, 0, line.cap);
	buf_free(&line);
	return rc;
}

int phttp_post(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
	       struct err *e, const struct phttp_ops *ops, const char *path, cJSON *body,
	       const char *key_prefix, const char *fixed_header)
{
	return phttp_post_ctx(rq, sink, res, e, ops, NULL, path, body, key_prefix, fixed_header);
}

int phttp_post_ctx(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		   struct err *e, const struct phttp_ops *ops, void *ctx, const char *path,
		   cJSON *body, const char *key_prefix, const char *fixed_header)
{
	struct curl_slist *hdrs = NULL;
	struct buf url = BUF_INIT;
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	int rc;

	cJSON_Delete(body);
	if (!text || buf_printf(&url, "%s%s", rq->provider->base_url, path) < 0 ||
	    build_headers(rq, key_prefix, fixed_header, &hdrs) < 0)
		rc = err_nomem(e);
	else
		rc = phttp_run(rq, sink, res, e, ops, ctx, url.data, hdrs, text);
	curl_slist_free_all(hdrs);
	buf_free(&url);
	free(text);
	return rc;
}
