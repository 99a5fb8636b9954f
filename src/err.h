/*
 * err.h - the error record every module fills in, and its small
 * vocabulary.
 *
 * A struct err carries what the client will see: an HTTP status, an error
 * type from the table below (its wire name is the OpenAI error body's
 * "type", see the OpenAI API reference, "Error codes"), an optional code,
 * and a message.  Functions that fail return -1 (or a negative code) and
 * fill the caller's struct err; the HTTP side turns it into the one error
 * body shape (http_send_error).
 *
 * Messages must never contain secrets or server file paths: they go into
 * response bodies.  err_set masks the configured secrets (mask.h) in every
 * message it keeps, for the texts from outside that may quote one.
 */
#ifndef CLAW_ERR_H
#define CLAW_ERR_H

/* The error types, each with one wire name (err_type_name). */
enum err_type {
	ERR_NONE,	     /* not set: written as "api_error" */
	ERR_INVALID_REQUEST, /* "invalid_request_error": the client's mistake (4xx) */
	ERR_API,	     /* "api_error": ours (500) */
	ERR_UPSTREAM,	     /* "upstream_error": the provider failed (502, 504) */
	ERR_UNAUTHORIZED,    /* "unauthorized": wrong or missing credentials (401) */
	ERR_RATE_LIMITED,    /* "rate_limited": locked out after failed attempts (429) */
	ERR_NOT_FOUND,	     /* "not_found": no such endpoint (404) */
};

/* The error codes clawcgi sends in "code" (NULL for none). */
#define ERR_CODE_MODEL_NOT_FOUND "model_not_found"
#define ERR_CODE_PERMISSION_DENIED "permission_denied"
#define ERR_CODE_RATE_LIMIT_EXCEEDED "rate_limit_exceeded"
#define ERR_CODE_CONVERSATION_LOCKED "conversation_locked"

struct err {
	int status; /* HTTP status, 0 when unset */
	enum err_type type;
	const char *code;    /* an ERR_CODE_* string literal, or NULL */
	const char *param;   /* the request field at fault (a string literal), or NULL */
	char param_text[64]; /* the same made at run time (err_param), when param is
				NULL; "" when none */
	char message[512];
};

/* Fill e (code cleared), the message made valid UTF-8 (a byte that starts
 * no character becomes '?').  Always returns -1, so a failure can
 * `return err_set(...)`. */
int err_set(struct err *e, int status, enum err_type type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Name the field at fault as text made at run time ("messages[3].tool_call_id",
 * cut at 63 bytes) after err_set; the error body's "param" unless param is
 * set.  Always returns -1. */
int err_param(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 500 api_error "Out of memory."; returns -1. */
int err_nomem(struct err *e);
void err_clear(struct err *e);
/* The wire name of type: "invalid_request_error", ... ("api_error" for
 * ERR_NONE).  Never NULL. */
const char *err_type_name(enum err_type type);

#endif
