/*
 * fuzz-sse.c - libFuzzer target: the upstream SSE parser (src/sse.c).
 *
 * Feeds the input, as an upstream's event stream, to sse_parser_feed
 * whole and in pieces of 0 to 16 bytes (the split drawn from a hash of the
 * input), each with the default maximum and with a small one (a quarter of
 * the input), and one byte at a time with the default maximum (the
 * dearest run, so only once); the callback stops the parser at some event
 * (also drawn from the hash).
 *
 * Checks beyond "no crash, no leak": sse.h promises the same events in any
 * split, so every run must call back with the same events (name and data)
 * and return the same value as a plain reading of the whole input by the
 * rules sse.h states: lines end in \n, \r\n or \r; "data:" lines joined
 * with \n; one leading space dropped; ":" lines ignored; a blank line
 * dispatches when a data: line was seen; the event name kept to 64 bytes;
 * -1 for a line or an event's data over the maximum; the callback's
 * non-zero value stops the parser.  Each event's data is NUL-terminated at
 * its length and neither it nor the name holds a line end (the name none
 * at all, the data only the \n joining its lines).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"

#define TARGET "fuzz-sse"

/* A broken promise: say which, then abort (libFuzzer keeps the input). */
static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: broken: %s\n", TARGET, what);
		abort();
	}
}

#define MAX_NAME 64
#define STOP_VALUE 7

/* What a run saw: the events, each as "name\0" + 8 bytes of length + data. */
struct seen {
	struct buf events;
	size_t count;
	size_t stop_at; /* return STOP_VALUE from this event on (1-based); 0: never */
};

static void record(struct seen *s, const char *event, const char *data, size_t len)
{
	uint64_t n = len;

	if (buf_append(&s->events, event, strlen(event) + 1) < 0 ||
	    buf_append(&s->events, (const char *)&n, sizeof n) < 0 ||
	    buf_append(&s->events, data, len) < 0)
		abort(); /* out of memory: not a finding, but no way on */
	s->count++;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct seen *s = ctx;

	must(event && data && data[len] == '\0', "an event's name and data, NUL-terminated");
	must(strlen(event) <= MAX_NAME && !strpbrk(event, "\r\n"),
	     "an event name of at most 64 bytes and no line end");
	must(!memchr(data, '\r', len), "no \\r in an event's data");
	record(s, event, data, len);
	return s->stop_at && s->count >= s->stop_at ? STOP_VALUE : 0;
}

/* The reference reading: the state of one event being read. */
struct model {
	struct seen *seen;
	size_t max;
	struct buf data;
	char event[MAX_NAME + 1];
	int has_data;
};

/* One line (without its end), as sse.h states the rules. */
static int model_line(struct model *m, const char *line, size_t n)
{
	const char *colon, *value;
	size_t flen, vlen;

	if (n == 0) {
		int rc = 0;
		if (m->has_data) {
			record(m->seen, m->event, buf_str(&m->data), m->data.len);
			if (m->seen->stop_at && m->seen->count >= m->seen->stop_at)
				rc = STOP_VALUE;
		}
		buf_reset(&m->data);
		m->event[0] = '\0';
		m->has_data = 0;
		return rc;
	}
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', n);
	flen = colon ? (size_t)(colon - line) : n;
	value = colon ? colon + 1 : line + n;
	vlen = colon ? n - flen - 1 : 0;
	if (vlen && value[0] == ' ')
		value++, vlen--;
	if (flen == 4 && !memcmp(line, "data", 4)) {
		if ((m->has_data && buf_append(&m->data, "\n", 1) < 0) ||
		    buf_append(&m->data, value, vlen) < 0)
			abort(); /* out of memory */
		if (m->data.len > m->max)
			return -1;
		m->has_data = 1;
	} else if (flen == 5 && !memcmp(line, "event", 5)) {
		size_t k = vlen > MAX_NAME ? MAX_NAME : vlen;
		memcpy(m->event, value, k);
		m->event[k] = '\0'; /* the callback sees a C string: up to a NUL */
	}
	return 0;
}

static int model_read(const char *s, size_t n, size_t max, struct seen *seen)
{
	struct model m = {.seen = seen, .max = max};
	size_t pos = 0;
	int rc = 0;

	buf_init(&m.data);
	while (pos < n) {
		size_t k = pos;
		while (k < n && s[k] != '\n' && s[k] != '\r')
			k++;
		if (k == n) { /* a last line with no end is never dispatched */
			if (n - pos > max)
				rc = -1;
			break;
		}
		if (k - pos > max) {
			rc = -1;
			break;
		}
		if ((rc = model_line(&m, s + pos, k - pos)) != 0)
			break;
		pos = k + 1;
		if (s[k] == '\r' && pos < n && s[pos] == '\n')
			pos++;
	}
	buf_free(&m.data);
	return rc;
}

/* xorshift64: the split of one run. */
static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Feed s in pieces: whole (step 0), of step bytes, or random (seed). */
static int parse(const char *s, size_t n, size_t max, size_t step, uint64_t seed, struct seen *seen)
{
	struct sse_parser p;
	size_t pos = 0;
	int rc = 0;

	sse_parser_init(&p, on_event, seen);
	if (max)
		sse_parser_set_max(&p, max);
	do {
		size_t k = step ? step : seed ? next(&seed) % 17 : n - pos;
		if (k > n - pos)
			k = n - pos;
		rc = sse_parser_feed(&p, s + pos, k);
		pos += k;
	} while (rc == 0 && pos < n);
	sse_parser_free(&p);
	return rc;
}

static void compare(const struct seen *want, int want_rc, const struct seen *got, int got_rc,
		    const char *how, size_t max)
{
	if (want_rc != got_rc || want->count != got->count || want->events.len != got->events.len ||
	    memcmp(buf_str(&want->events), buf_str(&got->events), want->events.len)) {
		fprintf(stderr,
			"%s: fed %s, max %zu: %zu events, returned %d; by the rules: %zu events, "
			"%d\n",
			TARGET, how, max ? max : (size_t)SSE_MAX_EVENT, got->count, got_rc,
			want->count, want_rc);
		must(0, "the same events in any split as by the rules");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	uint64_t hash = 14695981039346656037ull;
	size_t maxes[2] = {0, size / 4 + 1};

	for (size_t i = 0; i < size; i++)
		hash = (hash ^ data[i]) * 1099511628211ull;
	hash |= 1; /* xorshift's state must not be 0 */
	for (int m = 0; m < 2; m++) {
		size_t stop_at = (hash >> 8) % 4; /* 0: never stop */
		struct seen want = {.stop_at = stop_at};
		int want_rc = model_read(s, size, maxes[m] ? maxes[m] : SSE_MAX_EVENT, &want);
		struct {
			size_t step;
			uint64_t seed;
			const char *how;
		} runs[] = {
			{0, 0, "whole"}, {1, 0, "byte by byte"}, {0, hash, "in pieces of 0-16"}};

		for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
			struct seen got = {.stop_at = stop_at};
			int rc;

			if (m && runs[r].step == 1)
				continue;
			rc = parse(s, size, maxes[m], runs[r].step, runs[r].seed, &got);
			compare(&want, want_rc, &got, rc, runs[r].how, maxes[m]);
			buf_free(&got.events);
		}
		buf_free(&want.events);
	}
	return 0;
}
