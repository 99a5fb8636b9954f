/*
 * sse.h - parsing an upstream's Server-Sent Events stream incrementally
 * (the HTML Living Standard, "Server-sent events", event stream
 * interpretation).  Writing our own stream to the client is the response
 * side's: http_send_event() in http.h.
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

/*
 * Called for each event: event is the "event:" field or "" (default
 * "message"), data the joined data lines (NUL-terminated, len bytes).
 * Return non-zero to stop parsing; sse_parser_feed then returns that value.
 */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data, size_t len);

struct sse_parser {
	sse_event_fn on_event;
	void *ctx;
	struct buf line;  /* the current, incomplete line */
	struct buf data;  /* data lines of the current event */
	struct buf event; /* event name of the current event */
	int has_data;	  /* a data: field was seen */
	int last_cr;	  /* previous chunk ended in \r: skip a leading \n */
};

#define SSE_MAX_EVENT (16u << 20)

/* A parser calling fn(ctx, ...) per event, events up to SSE_MAX_EVENT bytes. */
void sse_parser_init(struct sse_parser *p, sse_event_fn fn, void *ctx);
/* Refuse lines and events over max bytes from now on. */
void sse_parser_set_max(struct sse_parser *p, size_t max);
/*
 * Feed n bytes.  Returns 0, the callback's non-zero value, or -1 when a
 * line or an event exceeds the maximum or memory runs out.
 */
int sse_parser_feed(struct sse_parser *p, const char *bytes, size_t n);
/* End of stream: a pending event without its blank line is dropped (per spec). */
void sse_parser_free(struct sse_parser *p);

#endif
