/* Unit tests for src/http.c: routing path, headers, body limits, response and event framing. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"

/* A scripted transport: parameters from a NULL-terminated list, body from a string. */
struct fake {
	const char **params; /* name, value, name, value, ..., NULL */
	const char *body;
	size_t body_len, pos;
	size_t chunk; /* bytes per read */
	struct buf out;
	int fail_writes;
	int flushes;
	size_t stall_at;     /* 0, or the body offset where nothing more comes */
	int last_timeout_ms; /* what the last read was given */
};

static long f_read(void *ctx, char *p, size_t n, int timeout_ms)
{
	struct fake *f = ctx;
	size_t left = f->body_len - f->pos;

	f->last_timeout_ms = timeout_ms;
	if (f->stall_at && f->pos >= f->stall_at)
		return timeout_ms >= 0 ? HTTP_READ_TIMEOUT : -1;
	if (f->stall_at && n > f->stall_at - f->pos)
		n = f->stall_at - f->pos;
	if (n > f->chunk)
		n = f->chunk;
	if (n > left)
		n = left;
	memcpy(p, f->body + f->pos, n);
	f->pos += n;
	return (long)n;
}

static int f_write(void *ctx, const char *p, size_t n)
{
	struct fake *f = ctx;
	return f->fail_writes ? -1 : buf_append(&f->out, p, n);
}

static int f_flush(void *ctx)
{
	struct fake *f = ctx;
	f->flushes++;
	return f->fail_writes ? -1 : 0;
}

static const char *f_param(void *ctx, const char *name)
{
	struct fake *f = ctx;
	for (const char **p = f->params; *p; p += 2)
		if (!strcmp(p[0], name))
			return p[1];
	return NULL;
}

static void req(struct http_req *r, struct fake *f, const char **params, const char *body)
{
	struct http_io io = {f_read, f_write, f_flush, f_param, NULL, f};
	buf_free(&f->out);
	memset(f, 0, sizeof *f);
	f->params = params;
	f->body = body;
	f->body_len = body ? strlen(body) : 0;
	f->chunk = 7;
	http_req_init(r, &io);
}

int main(void)
{
	struct http_req r;
	struct fake f = {0};
	struct buf body = BUF_INIT;
	struct err e;

	{
		const char *p[] = {"SCRIPT_NAME",	"/v1",	       "PATH_INFO",
				   "/chat/completions", "REQUEST_URI", "/other?x",
				   "REQUEST_METHOD",	"POST",	       NULL};
		req(&r, &f, p, NULL);
		CHECK_STR(r.path, "/v1/chat/completions",
			  "path: SCRIPT_NAME + PATH_INFO (mod_fcgid split)");
		CHECK_STR(r.method, "POST", "method");
		http_req_free(&r);
	}
	{
		const char *p[] = {"SCRIPT_NAME", "/api/v1/chat/completions", NULL};
		req(&r, &f, p, NULL);
		CHECK_STR(r.path, "/api/v1/chat/completions",
			  "path: whole SCRIPT_NAME (nginx, proxy_fcgi)");
		http_req_free(&r);
	}
	{
		const char *p[] = {"REQUEST_URI", "/api/healthz?probe=1", NULL};
		req(&r, &f, p, NULL);
		CHECK_STR(r.path, "/api/healthz", "path: REQUEST_URI without its query");
		CHECK_STR(r.method, "", "absent method is empty");
		CHECK(r.content_length == -1, "absent CONTENT_LENGTH is -1");
		http_req_free(&r);
	}
	{
		const char *p[] = {"HTTP_AUTHORIZATION",
				   "Bearer x",
				   "HTTP_X_OPENCLAW_AGENT_ID",
				   "beta",
				   "CONTENT_LENGTH",
				   "12x",
				   NULL};
		req(&r, &f, p, NULL);
		CHECK_STR(http_header(&r, "Authorization"), "Bearer x", "header lookup");
		CHECK_STR(http_header(&r, "x-openclaw-agent-id"), "beta", "dashed header lookup");
		CHECK(http_header(&r, "x-missing") == NULL, "absent header is NULL");
		CHECK(r.content_length == -1, "malformed CONTENT_LENGTH is -1");
		http_req_free(&r);
	}
	{
		const char *p[] = {"CONTENT_LENGTH", "1000", NULL};
		req(&r, &f, p, "short");
		buf_reset(&body);
		CHECK(http_read_body(&r, 100, 0, &body, &e) < 0 && e.status == 413 && f.pos == 0,
		      "413 from CONTENT_LENGTH before reading anything");
		http_req_free(&r);
	}
	{
		const char *p[] = {NULL};
		req(&r, &f, p, "0123456789012345678901234567890123456789");
		buf_reset(&body);
		CHECK(http_read_body(&r, 20, 0, &body, &e) < 0 && e.status == 413 &&
			      f.pos <= 20 + 7,
		      "no length: reading stops at the limit with 413");
		http_req_free(&r);
	}
	{
		const char *p[] = {"CONTENT_LENGTH", "5", NULL};
		req(&r, &f, p, "0123456789012345678901234567890123456789");
		buf_reset(&body);
		CHECK(http_read_body(&r, 20, 0, &body, &e) < 0 && e.status == 413,
		      "understated length: still stops at the limit");
		http_req_free(&r);
	}
	{
		const char *p[] = {"CONTENT_LENGTH", "50", NULL};
		req(&r, &f, p, "{\"a\":1}");
		buf_reset(&body);
		CHECK(http_read_body(&r, 100, 0, &body, &e) < 0 && e.status == 400 &&
			      strstr(e.message, "shorter"),
		      "body shorter than its Content-Length: 400");
		http_req_free(&r);
	}
	{
		const char *p[] = {"CONTENT_LENGTH", "7", NULL};
		req(&r, &f, p, "{\"a\":1}");
		f.stall_at = 3;
		buf_reset(&body);
		CHECK(http_read_body(&r, 100, 2, &body, &e) < 0 && e.status == 408 &&
			      strstr(e.message, "within 2 s (3 bytes came; bodyTimeoutSeconds)") &&
			      f.last_timeout_ms > 0 && f.last_timeout_ms <= 2000,
		      "a body that stalls: 408 naming bodyTimeoutSeconds, each read given the time "
		      "left");
		http_req_free(&r);
	}
	{
		const char *p[] = {"CONTENT_LENGTH", "7", NULL};
		req(&r, &f, p, "{\"a\":1}");
		buf_reset(&body);
		CHECK(http_read_body(&r, 7, 0, &body, &e) == 0 && f.last_timeout_ms == -1,
		      "bodyTimeoutSeconds 0: reads wait without a limit");
		http_req_free(&r);
	}
	{
		const char *p[] = {"CONTENT_LENGTH", "7", NULL};
		req(&r, &f, p, "{\"a\":1}");
		buf_reset(&body);
		CHECK(http_read_body(&r, 7, 0, &body, &e) == 0 && !strcmp(body.data, "{\"a\":1}"),
		      "body exactly at the limit is read whole");
		http_req_free(&r);
	}
	{
		const char *p[] = {NULL};
		req(&r, &f, p, NULL);
		err_set(&e, 404, ERR_INVALID_REQUEST, "The model `x` does not exist.");
		e.code = "model_not_found";
		http_send_error(&r, &e, "X-A: b\r\n");
		CHECK_STR(f.out.data,
			  "Status: 404 Not Found\r\nContent-Type: application/json; "
			  "charset=utf-8\r\nX-A: b\r\n\r\n"
			  "{\"error\":{\"message\":\"The model `x` does not "
			  "exist.\",\"type\":\"invalid_request_error\",\"param\":null,"
			  "\"code\":\"model_not_found\"}}\n",
			  "error response: status line, headers, OpenAI error body (param null)");
		CHECK(r.headers_sent && r.status == 404, "status recorded");
		CHECK(http_send_headers(&r, 200, NULL, NULL) < 0, "headers cannot be sent twice");
		http_req_free(&r);
	}
	{
		/* every error body has param and code: the field a 4xx message
		 * begins with, e->param over it, null otherwise */
		static const struct {
			int status;
			const char *message, *param, *want;
		} cases[] = {
			{400, "`messages[2].role` must be a string.", NULL,
			 "\"param\":\"messages[2].role\",\"code\":null"},
			{400, "`stream` must be a boolean.", "previous_response_id",
			 "\"param\":\"previous_response_id\",\"code\":null"},
			{400, "Missing `messages` array.", NULL, "\"param\":null,\"code\":null"},
			{400, "`a b` is not a field.", NULL, "\"param\":null,\"code\":null"},
			{400, "`unclosed", NULL, "\"param\":null,\"code\":null"},
			{502, "`model` failed upstream.", NULL, "\"param\":null,\"code\":null"},
		};
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			cJSON *b;
			char *text;
			err_set(&e, cases[i].status, ERR_INVALID_REQUEST, "%s", cases[i].message);
			e.param = cases[i].param;
			b = http_error_body(&e);
			text = b ? cJSON_PrintUnformatted(b) : NULL;
			CHECK(text && strstr(text, cases[i].want), "error body param and code");
			if (text && !strstr(text, cases[i].want))
				fprintf(stderr, "# %s: %s\n", cases[i].message, text);
			free(text);
			cJSON_Delete(b);
		}
	}
	{
		const char *p[] = {NULL};
		req(&r, &f, p, NULL);
		err_set(&e, 500, ERR_API, "x");
		http_send_error(&r, &e, NULL);
		CHECK(strstr(f.out.data, "\"code\":null") != NULL, "code is null when unset");
		http_req_free(&r);
	}
	{
		const char *p[] = {NULL};
		req(&r, &f, p, NULL);
		f.fail_writes = 1;
		CHECK(http_write(&r, "x", 1) < 0 && r.client_gone,
		      "a failed write marks the client gone");
		f.fail_writes = 0;
		CHECK(http_flush(&r) < 0, "and later writes fail at once");
		http_req_free(&r);
	}
	{
		const char *p[] = {NULL};
		req(&r, &f, p, NULL);
		CHECK(http_send_event(&r, "{\"a\":1}") == 0, "write an event");
		CHECK(http_send_comment(&r, "keep-alive") == 0, "write a comment");
		CHECK_STR(buf_str(&f.out), "data: {\"a\":1}\n\n: keep-alive\n\n", "event framing");
		CHECK_INT(f.flushes, 2, "each is flushed at once");
		http_req_free(&r);
	}
	buf_free(&body);
	buf_free(&f.out);
	return check_done();
}
