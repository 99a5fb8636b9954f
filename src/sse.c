/*
 * sse.c - an incremental parser for upstream Server-Sent Events streams.
 */
#include "sse.h"

#include <string.h>

void sse_parser_init(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	memset(p, 0, sizeof *p);
	p->on_event = fn;
	p->ctx = ctx;
	sse_parser_set_max(p, SSE_MAX_EVENT);
}

void sse_parser_set_max(struct sse_parser *p, size_t max)
{
	buf_set_max(&p->line, max);
	buf_set_max(&p->data, max);
}

void sse_parser_free(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->event);
}

/* One complete line (without its ending). */
static int sse_line(struct sse_parser *p, const char *line, size_t n)
{
	const char *colon, *value;
	size_t flen, vlen;

	if (n == 0) { /* blank line: dispatch */
		int rc = 0;
		if (p->has_data)
			rc = p->on_event(p->ctx, buf_str(&p->event), buf_str(&p->data),
					 p->data.len);
		buf_reset(&p->data);
		buf_reset(&p->event);
		p->has_data = 0;
		return rc;
	}
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', n);
	flen = colon ? (size_t)(colon - line) : n;
	value = colon ? colon + 1 : line + n;
	vlen = colon ? n - flen - 1 : 0;
	if (vlen && *value == ' ')
		value++, vlen--;
	if (flen == 4 && !memcmp(line, "data", 4)) {
		if (p->has_data && buf_append(&p->data, "\n", 1) < 0)
			return -1;
		if (buf_append(&p->data, value, vlen) < 0)
			return -1;
		p->has_data = 1;
	} else if (flen == 5 && !memcmp(line, "event", 5)) {
		buf_reset(&p->event);
		if (buf_append(&p->event, value, vlen > 64 ? 64 : vlen) < 0)
			return -1;
	}
	return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *bytes, size_t n)
{
	size_t i = 0;

	if (n == 0) /* nothing to read, and the \n of a \r\n may still come */
		return 0;
	if (p->last_cr && bytes[0] == '\n')
		i = 1;
	p->last_cr = 0;
	while (i < n) {
		const char *s = bytes + i;
		size_t left = n - i, k = 0;
		int rc;
		while (k < left && s[k] != '\n' && s[k] != '\r')
			k++;
		if (k == left) { /* no line end yet: keep the piece */
			if (buf_append(&p->line, s, k) < 0)
				return -1;
			break;
		}
		if (p->line.len) {
			if (buf_append(&p->line, s, k) < 0)
				return -1;
			rc = sse_line(p, p->line.data, p->line.len);
			buf_reset(&p->line);
		} else if (k > buf_room(&p->line)) {
			return -1; /* as it would be, had it come in pieces */
		} else {
			rc = sse_line(p, s, k);
		}
		i += k + 1;
		if (s[k] == '\r') {
			if (i < n && bytes[i] == '\n')
				i++;
			else if (i == n)
				p->last_cr = 1;
		}
		if (rc)
			return rc;
	}
	return 0;
}
