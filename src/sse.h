/*
 * sse.h - Server-Sent Events: writing our stream to the client, and parsing
 * an upstream's stream incrementally.
 *
 * The parser takes bytes in any split (one byte at a time, or a network read
 * that ends mid-line) and calls back once per complete event, per the
 * WHATWG rules: lines end in \n, \r\n or \r; "data:" lines are joined with
 * \n; a leading space after the colon is dropped; comment lines (":...")
 * are ignored; a blank line dispatches.  The parser owns its buffers;
 * sse_parser_free() releases them.
 */
#ifndef CLAW_SSE_H
#define CLAW_SSE_H

#include <stddef.h>
#include "buf.h"

struct http_req;

/* Write "data: <payload>\n\n" and flush.  Returns -1 when the client is gone. */
int sse_write_data(struct http_req *r, const char *payload);
/* Write ": <text>\n\n" (ignored by clients) and flush.  -1 when gone. */
int sse_write_comment(struct http_req *r, const char *text);

/*
 * Called for each event: event is the "event:" field or "" (default
 * "message"), data the joined data lines (NUL-terminated, len bytes).
 * Return non-zero to stop parsing; sse_parser_feed then returns that value.
 */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data,
			    size_t len);

struct sse_parser {
	sse_event_fn on_event;
	void *ctx;
	struct buf line;   /* the current, incomplete line */
	struct buf data;   /* data lines of the current event */
	struct buf event;  /* event name of the current event */
	int has_data;      /* a data: field was seen */
	int last_cr;       /* previous chunk ended in \r: skip a leading \n */
	size_t max_event;  /* bytes; an event larger than this is an error */
};

void sse_parser_init(struct sse_parser *p, sse_event_fn fn, void *ctx);
/*
 * Feed n bytes.  Returns 0, the callback's non-zero value, or -1 when an
 * event exceeds max_event bytes (default 16 MiB) or memory runs out.
 */
int sse_parser_feed(struct sse_parser *p, const char *bytes, size_t n);
/* End of stream: a pending event without its blank line is dropped (per spec). */
void sse_parser_free(struct sse_parser *p);

#endif
