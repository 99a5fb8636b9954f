/*
 * buf.c - growable string buffer.
 *
 * Allocation failure is reported as BUF_NO_MEMORY and leaves the buffer as
 * it was; callers pass that on as a 500.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = 0;
}

void buf_set_max(struct buf *b, size_t max)
{
	b->max = max;
}

size_t buf_room(const struct buf *b)
{
	if (!b->max)
		return SIZE_MAX;
	return b->len < b->max ? b->max - b->len : 0;
}

static int buf_reserve(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	size_t cap;
	char *p;

	if (extra > buf_room(b))
		return BUF_TOO_BIG;
	if (need <= b->cap)
		return 0;
	if (need < b->len) /* overflow */
		return BUF_NO_MEMORY;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return BUF_NO_MEMORY;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const char *s, size_t n)
{
	int rc = buf_reserve(b, n);

	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return BUF_NO_MEMORY;
	if ((rc = buf_reserve(b, (size_t)n)) < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len > b->len)
		return;
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

char *buf_detach(struct buf *b)
{
	char *p = b->data ? b->data : strdup("");
	buf_init(b);
	return p;
}
