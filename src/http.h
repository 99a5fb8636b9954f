/*
 * http.h - the request view over CGI/FastCGI parameters, and the response
 * side: status and headers, bodies, Server-Sent Events, OpenAI-shaped error
 * bodies.
 *
 * The transport (a FastCGI request, a CGI process's stdin/stdout, a test)
 * is hidden behind struct http_io, so the handlers do not know which one
 * they run under.
 *
 * Ownership: http_req_init copies nothing it does not free in
 * http_req_free; parameter strings belong to the transport and live as long
 * as the request.
 */
#ifndef CLAW_HTTP_H
#define CLAW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"

#define HTTP_READ_TIMEOUT (-2)

struct http_io {
	/* Read up to n body bytes, waiting at most timeout_ms (-1: no limit):
	 * count, 0 at end of body, -1 on error, HTTP_READ_TIMEOUT when nothing
	 * came in time. */
	long (*read)(void *ctx, char *p, size_t n, int timeout_ms);
	/* Write n bytes: 0, or -1 when the client is gone. */
	int (*write)(void *ctx, const char *p, size_t n);
	/* Push buffered output to the web server: 0, or -1 when gone. */
	int (*flush)(void *ctx);
	/* A CGI parameter (REQUEST_METHOD, HTTP_AUTHORIZATION, ...) or NULL. */
	const char *(*param)(void *ctx, const char *name);
	/*
	 * Without writing: 1 when the web server has closed the connection
	 * (the client left), else 0.  May be NULL when the transport cannot
	 * tell; then only a failed write does.
	 */
	int (*closed)(void *ctx);
	void *ctx;
};

struct http_req {
	struct http_io io;
	const char *method;	  /* REQUEST_METHOD, "" if absent */
	char *path;		  /* the path routed on, without the query */
	const char *remote_addr;  /* REMOTE_ADDR, "" if absent */
	const char *remote_user;  /* REMOTE_USER (the web server's login), "" if absent:
				   * a parameter, which no request header can set */
	long long content_length; /* -1 when absent or not a number */
	bool headers_sent;
	bool client_gone; /* a write or flush failed */
	int status;	  /* the status sent, for the access line */
	/* CORS: the Access-Control-Allow-Origin value every answer carries
	 * (with Vary: Origin), or NULL; router.c sets it */
	const char *allow_origin;
	/* Who it is from, once authenticated (router.c; auth.h's struct
	 * auth_client), NULL before */
	const struct auth_client *client;
	/* Header lines every answer carries from then on (router.c: the
	 * x-ratelimit-* of a rate-limited client), CRLF-ended; "" for none */
	char extra_headers[512];
};

/*
 * Fill r from the transport.  The routing path is SCRIPT_NAME + PATH_INFO,
 * or REQUEST_URI without its query when those are empty.  Returns -1 only
 * when out of memory.
 */
int http_req_init(struct http_req *r, const struct http_io *io);
void http_req_free(struct http_req *r);

/*
 * A request header by its HTTP name ("Authorization",
 * "x-openclaw-agent-id"), looked up as HTTP_AUTHORIZATION etc.  NULL when
 * absent.  Not trimmed.
 */
const char *http_header(const struct http_req *r, const char *name);

/*
 * Read the whole body into out, refusing more than max bytes: 413 from
 * CONTENT_LENGTH before reading anything when it is over max; otherwise read
 * until end of body and stop with 413 at max + 1 bytes when the length was
 * absent or wrong.  A body shorter than its CONTENT_LENGTH is a 400.  The
 * whole body must arrive within timeout_s seconds (0: no limit), else 408.
 */
int http_read_body(struct http_req *r, long long max, int timeout_s, struct buf *out,
		   struct err *e);

/*
 * Send "Status:" and the headers (and the CORS ones when r->allow_origin is
 * set).  extra is NULL or more header lines, each ending in "\r\n".
 * Returns -1 when the client is gone.
 */
int http_send_headers(struct http_req *r, int status, const char *content_type, const char *extra);
/* Write n bytes of the body (after the headers), or push what is buffered
 * to the web server.  0, or -1 when the client is gone (then and from then
 * on: r->client_gone). */
int http_write(struct http_req *r, const char *p, size_t n);
int http_flush(struct http_req *r);

/* 1 when the client is known to be gone (a failed write, or the transport
 * saw the connection closed); checking does not write anything. */
int http_client_gone(struct http_req *r);

/*
 * Server-Sent Events on a response whose headers said text/event-stream:
 * "data: <data>\n\n" (data holds no newline: one JSON document), or a
 * comment ": <text>\n\n" that clients ignore (keep-alive).  Each is
 * flushed at once.  Returns -1 when the client is gone.
 */
int http_send_event(struct http_req *r, const char *data);
/* "event: <event>\ndata: <data>\n\n": a named event (the Responses API's
 * stream), flushed; -1 when the client is gone. */
int http_send_named_event(struct http_req *r, const char *event, const char *data);
int http_send_comment(struct http_req *r, const char *text);

/*
 * A provider's idle tick (about once a second while it is silent): -1 when
 * the client is gone; else, on a stream whose headers are out, a
 * ": keep-alive" comment once *last_write (when the stream last wrote) is
 * keepalive_seconds old (0: never), and *last_write updated.  0, or -1 as
 * http_send_comment.
 */
int http_stream_idle(struct http_req *r, int keepalive_seconds, time_t *last_write);

/* A complete JSON response (application/json; charset=utf-8): headers and
 * body followed by a newline.  0, or -1 when out of memory or the client is
 * gone. */
int http_send_json(struct http_req *r, int status, const cJSON *body, const char *extra);

/* {"error":{"message","type","param","code"}} (the OpenAI API reference's
 * Error object, every member always there): param is e->param, else the
 * field a 4xx message begins with in backticks ("`messages[2].role` must
 * be ..."), else null; code is e->code or null.  The one writer of error
 * bodies, the streams' error events included.  A new tree for the caller
 * to cJSON_Delete, or NULL when out of memory. */
cJSON *http_error_body(const struct err *e);
/* That body as a JSON response with e's status (500 when unset), extra
 * header lines as in http_send_headers.  0, or -1 as http_send_json. */
int http_send_error(struct http_req *r, const struct err *e, const char *extra);

/* Reason phrase for a status ("Not Found"). */
const char *http_reason(int status);

#endif
