/*
 * http.c - request view and response writing over a struct http_io.
 *
 * Everything a handler sends goes through here, so the "Status:" line and
 * headers are written exactly once, and every error body has the same
 * OpenAI shape.  The transport is not known here (FastCGI, CGI or a test).
 */
#include "http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

static const char *param_or_empty(const struct http_io *io, const char *name)
{
	const char *v = io->param(io->ctx, name);
	return v ? v : "";
}

int http_req_init(struct http_req *r, const struct http_io *io)
{
	struct buf path = BUF_INIT;
	const char *script, *info, *cl;

	memset(r, 0, sizeof *r);
	r->io = *io;
	r->method = param_or_empty(io, "REQUEST_METHOD");
	r->remote_addr = param_or_empty(io, "REMOTE_ADDR");
	r->remote_user = param_or_empty(io, "REMOTE_USER");
	script = param_or_empty(io, "SCRIPT_NAME");
	info = param_or_empty(io, "PATH_INFO");
	if (*script || *info) {
		if (buf_append_str(&path, script) < 0 || buf_append_str(&path, info) < 0)
			goto nomem;
	} else {
		const char *uri = param_or_empty(io, "REQUEST_URI");
		size_t n = strcspn(uri, "?#");
		if (buf_append(&path, uri, n) < 0)
			goto nomem;
	}
	r->path = buf_detach(&path);
	if (!r->path)
		return -1;

	r->content_length = -1;
	cl = io->param(io->ctx, "CONTENT_LENGTH");
	if (cl && *cl) {
		char *end;
		long long v = strtoll(cl, &end, 10);
		if (*end == '\0' && v >= 0 && isdigit((unsigned char)cl[0]))
			r->content_length = v;
	}
	return 0;
nomem:
	buf_free(&path);
	return -1;
}

void http_req_free(struct http_req *r)
{
	free(r->path);
	r->path = NULL;
}

const char *http_header(const struct http_req *r, const char *name)
{
	char key[128] = "HTTP_";
	size_t i = 5;

	for (; *name && i < sizeof key - 1; name++, i++)
		key[i] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
	key[i] = '\0';
	return r->io.param(r->io.ctx, key);
}

int http_read_body(struct http_req *r, long long max, int timeout_s, struct buf *out, struct err *e)
{
	char chunk[16384];
	long long deadline = timeout_s > 0 ? clock_mono_ms() + (long long)timeout_s * 1000 : 0;

	if (r->content_length > max)
		return err_set(e, 413, ERR_INVALID_REQUEST,
			       "Payload too large: the body is %lld bytes, the limit is %lld.",
			       r->content_length, max);
	buf_set_max(out, (size_t)max);
	for (;;) {
		long long left = deadline ? deadline - clock_mono_ms() : -1;
		long n = deadline && left <= 0 ? HTTP_READ_TIMEOUT
					       : r->io.read(r->io.ctx, chunk, sizeof chunk,
							    deadline ? (int)left : -1);
		int rc;

		if (n == HTTP_READ_TIMEOUT)
			return err_set(
				e, 408, ERR_INVALID_REQUEST,
				"The request body did not arrive within %d s (%zu bytes came; "
				"bodyTimeoutSeconds).",
				timeout_s, out->len);
		if (n < 0)
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "Could not read the request body.");
		if (n == 0)
			break;
		rc = buf_append(out, chunk, (size_t)n);
		if (rc == BUF_TOO_BIG)
			return err_set(e, 413, ERR_INVALID_REQUEST,
				       "Payload too large: the limit is %lld bytes.", max);
		if (rc < 0)
			return err_nomem(e);
	}
	if (r->content_length >= 0 && (long long)out->len < r->content_length)
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "The request body is shorter than its Content-Length "
			       "(%zu of %lld bytes).",
			       out->len, r->content_length);
	if (!out->data && buf_append(out, "", 0) < 0)
		return err_nomem(e);
	return 0;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 408:
		return "Request Timeout";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return "Unknown";
}

int http_write(struct http_req *r, const char *p, size_t n)
{
	if (r->client_gone)
		return -1;
	if (r->io.write(r->io.ctx, p, n) < 0) {
		r->client_gone = true;
		return -1;
	}
	return 0;
}

int http_flush(struct http_req *r)
{
	if (r->client_gone)
		return -1;
	if (r->io.flush(r->io.ctx) < 0) {
		r->client_gone = true;
		return -1;
	}
	return 0;
}

int http_client_gone(struct http_req *r)
{
	if (!r->client_gone && r->io.closed && r->io.closed(r->io.ctx) == 1)
		r->client_gone = true;
	return r->client_gone;
}

int http_send_headers(struct http_req *r, int status, const char *content_type, const char *extra)
{
	struct buf h = BUF_INIT;
	int rc;

	if (r->headers_sent) {
		log_error("internal: headers sent twice (status %d)", status);
		return -1;
	}
	r->headers_sent = true;
	r->status = status;
	if (content_type && !strncmp(content_type, "text/event-stream", 17))
		metrics_stream_opened();
	if (buf_printf(&h, "Status: %d %s\r\n", status, http_reason(status)) < 0 ||
	    (content_type && buf_printf(&h, "Content-Type: %s\r\n", content_type) < 0) ||
	    (r->allow_origin &&
	     buf_printf(&h,
			"Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
			"Access-Control-Expose-Headers: Retry-After, x-ratelimit-limit-requests, "
			"x-ratelimit-remaining-requests, x-ratelimit-reset-requests, "
			"x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, "
			"x-ratelimit-reset-tokens\r\n",
			r->allow_origin) < 0) ||
	    buf_append_str(&h, r->extra_headers) < 0 || (extra && buf_append_str(&h, extra) < 0) ||
	    buf_append_str(&h, "\r\n") < 0) {
		buf_free(&h);
		return -1;
	}
	rc = http_write(r, h.data, h.len);
	buf_free(&h);
	return rc;
}

int http_send_json(struct http_req *r, int status, const cJSON *body, const char *extra)
{
	char *text = cJSON_PrintUnformatted(body);
	int rc = -1;

	if (!text)
		return -1;
	if (http_send_headers(r, status, "application/json; charset=utf-8", extra) == 0 &&
	    http_write(r, text, strlen(text)) == 0 && http_write(r, "\n", 1) == 0)
		rc = 0;
	free(text);
	return rc;
}

/*
 * The request field a 4xx message begins with, "`messages[2].role` must
 * be ...", into out (n bytes): 0, or -1 when the message does not begin
 * with one (a field name is letters, digits, _ . - [ ] and at most n - 1
 * of them).
 */
static int message_field(const struct err *e, char *out, size_t n)
{
	const char *s = e->message, *end;
	size_t len;

	if (e->status < 400 || e->status >= 500 || s[0] != '`' || !(end = strchr(s + 1, '`')))
		return -1;
	len = (size_t)(end - s - 1);
	if (!len || len >= n ||
	    strspn(s + 1, "abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-[]") < len)
		return -1;
	memcpy(out, s + 1, len);
	out[len] = '\0';
	return 0;
}

cJSON *http_error_body(const struct err *e)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *err = cJSON_AddObjectToObject(root, "error");
	char field[128];
	const char *param = e->param					 ? e->param
			    : e->param_text[0]				 ? e->param_text
			    : message_field(e, field, sizeof field) == 0 ? field
									 : NULL;

	if (!err ||
	    !cJSON_AddStringToObject(err, "message", e->message[0] ? e->message : "Error") ||
	    !cJSON_AddStringToObject(err, "type", err_type_name(e->type)) ||
	    !(param ? cJSON_AddStringToObject(err, "param", param)
		    : cJSON_AddNullToObject(err, "param")) ||
	    !(e->code ? cJSON_AddStringToObject(err, "code", e->code)
		      : cJSON_AddNullToObject(err, "code"))) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int http_send_error(struct http_req *r, const struct err *e, const char *extra)
{
	cJSON *body = http_error_body(e);
	int status = e->status ? e->status : 500;
	int rc;

	if (!body)
		return -1;
	rc = http_send_json(r, status, body, extra);
	cJSON_Delete(body);
	return rc;
}

/* One Server-Sent Events block (the HTML Living Standard's event stream
 * format), flushed at once so the web server relays it now. */
static int send_sse_block(struct http_req *r, const char *prefix, const char *text)
{
	if (http_write(r, prefix, strlen(prefix)) < 0 || http_write(r, text, strlen(text)) < 0 ||
	    http_write(r, "\n\n", 2) < 0)
		return -1;
	return http_flush(r);
}

int http_send_event(struct http_req *r, const char *data)
{
	return send_sse_block(r, "data: ", data);
}

int http_send_named_event(struct http_req *r, const char *event, const char *data)
{
	if (http_write(r, "event: ", 7) < 0 || http_write(r, event, strlen(event)) < 0 ||
	    http_write(r, "\n", 1) < 0)
		return -1;
	return send_sse_block(r, "data: ", data);
}

int http_send_comment(struct http_req *r, const char *text)
{
	return send_sse_block(r, ": ", text);
}

int http_stream_idle(struct http_req *r, int keepalive_seconds, time_t *last_write)
{
	time_t now = time(NULL);

	if (http_client_gone(r))
		return -1;
	if (!r->headers_sent || keepalive_seconds <= 0 || now - *last_write < keepalive_seconds)
		return 0;
	*last_write = now;
	return http_send_comment(r, "keep-alive");
}
