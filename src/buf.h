/*
 * buf.h - the one growable byte buffer, and the error record every module
 * fills in.
 *
 * A struct buf always holds a NUL-terminated string once anything has been
 * appended (data may be NULL while empty).  It owns its memory; buf_free()
 * releases it, buf_detach() hands it to the caller.
 *
 * struct err carries what the client will see: an HTTP status, an OpenAI
 * error type, an optional code, and a message.  Messages must never contain
 * secrets or server file paths: they go into response bodies.
 */
#ifndef CLAW_BUF_H
#define CLAW_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
int buf_append(struct buf *b, const char *s, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The contents, or "" when empty: never NULL. */
const char *buf_str(const struct buf *b);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Returns the heap string (never NULL; caller frees) and empties b. */
char *buf_detach(struct buf *b);

struct err {
	int status;          /* HTTP status, 0 when unset */
	const char *type;    /* OpenAI error type, a string literal */
	const char *code;    /* OpenAI error code or NULL, a string literal */
	char message[512];
};

void err_set(struct err *e, int status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void err_clear(struct err *e);

#endif
