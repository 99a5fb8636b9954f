/*
 * buf.h - the one growable byte buffer.
 *
 * A struct buf always holds a NUL-terminated string once anything has been
 * appended (data may be NULL while empty).  It owns its memory; buf_free()
 * releases it, buf_detach() hands it to the caller.
 *
 * A buffer may have a maximum length (buf_set_max): an append that would
 * take it past that fails with BUF_TOO_BIG and appends nothing, so a limit
 * on a body, an event or a file is checked in one place.
 */
#ifndef CLAW_BUF_H
#define CLAW_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* bytes of content allowed; 0 = no limit */
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

/* Results of the appending functions besides 0. */
#define BUF_NO_MEMORY (-1)
#define BUF_TOO_BIG (-2)

void buf_init(struct buf *b);
/* Limit the content to max bytes (0: no limit).  Keeps what is there. */
void buf_set_max(struct buf *b, size_t max);
/* Bytes that may still be appended before the maximum (SIZE_MAX without one). */
size_t buf_room(const struct buf *b);
/* Append n bytes: 0, BUF_NO_MEMORY or BUF_TOO_BIG (b unchanged then). */
int buf_append(struct buf *b, const char *s, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents, or "" when empty: never NULL. */
const char *buf_str(const struct buf *b);
/* Empty it, keeping its memory and maximum. */
void buf_reset(struct buf *b);
/* Cut it to its first len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);
/* Release the memory; the maximum is forgotten too. */
void buf_free(struct buf *b);
/* Returns the heap string (caller frees; NULL only when out of memory)
 * and empties b. */
char *buf_detach(struct buf *b);

#endif
