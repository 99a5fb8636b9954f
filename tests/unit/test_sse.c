/* Unit tests for src/sse.c: the incremental parser in any split. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sse.h"

/* Collected events: "event|data" joined by "\n---\n". */
struct rec {
	struct buf all;
	int count;
	int stop_at; /* return 7 at this event number (1-based), 0 = never */
};

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct rec *r = ctx;
	r->count++;
	buf_printf(&r->all, "%s|", event);
	buf_append(&r->all, data, len);
	buf_append_str(&r->all, "\n---\n");
	return r->stop_at && r->count == r->stop_at ? 7 : 0;
}

static const char stream[] = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
			     ": keep-alive comment\n\n"
			     "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
			     "data:{\"choices\":[{\"delta\":{\"content\":\"lo \\u00e9\"}}]}\r\r"
			     "event: message_delta\n"
			     "id: 7\n"
			     "retry: 100\n"
			     "data: line one\n"
			     "data: line two\n"
			     "unknown: field\n"
			     "\n"
			     "data\n\n"
			     "data: [DONE]\n\n";

static char *parse_whole(const char *text, size_t n)
{
	struct rec r = {BUF_INIT, 0, 0};
	struct sse_parser p;
	sse_parser_init(&p, on_event, &r);
	sse_parser_feed(&p, text, n);
	sse_parser_free(&p);
	return buf_detach(&r.all);
}

/* Feed in pieces given by cuts (sorted offsets). */
static char *parse_split(const char *text, size_t n, const size_t *cuts, int ncuts)
{
	struct rec r = {BUF_INIT, 0, 0};
	struct sse_parser p;
	size_t at = 0;
	sse_parser_init(&p, on_event, &r);
	for (int i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		sse_parser_feed(&p, text + at, end - at);
		at = end;
	}
	sse_parser_free(&p);
	return buf_detach(&r.all);
}

/* The writer goes through http_write / http_flush: a transport into a buffer. */

int main(void)
{
	size_t n = sizeof stream - 1;
	char *want = parse_whole(stream, n);
	int same = 1;

	CHECK_STR(want,
		  "|{\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n---\n"
		  "|{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n---\n"
		  "|{\"choices\":[{\"delta\":{\"content\":\"lo \\u00e9\"}}]}\n---\n"
		  "message_delta|line one\nline two\n---\n"
		  "|\n---\n"
		  "|[DONE]\n---\n",
		  "whole stream: events, CRLF and CR endings, comments, event field, multi-line "
		  "data");

	{
		char *got = NULL;
		struct rec r = {BUF_INIT, 0, 0};
		struct sse_parser p;
		sse_parser_init(&p, on_event, &r);
		for (size_t i = 0; i < n; i++)
			sse_parser_feed(&p, stream + i, 1);
		sse_parser_free(&p);
		got = buf_detach(&r.all);
		CHECK_STR(got, want, "fed byte by byte: the same events");
		free(got);
	}
	for (size_t cut = 1; cut < n; cut++) {
		char *got = parse_split(stream, n, &cut, 1);
		if (strcmp(got, want)) {
			printf("# differs when split at %zu\n", cut);
			same = 0;
		}
		free(got);
	}
	CHECK(same, "split in two at every position: the same events");
	same = 1;
	srand(42);
	for (int round = 0; round < 2000; round++) {
		size_t cuts[12];
		int k = 1 + rand() % 12;
		for (int i = 0; i < k; i++)
			cuts[i] = (size_t)(rand() % (int)n);
		for (int i = 1; i < k; i++) /* insertion sort */
			for (int j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t t = cuts[j];
				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
			}
		char *got = parse_split(stream, n, cuts, k);
		if (strcmp(got, want))
			same = 0;
		free(got);
	}
	CHECK(same, "2000 random chunkings: the same events");

	{
		/* a CRLF split across two feeds is one line end, not two */
		const char *a = "data: x\r", *b = "\ndata: y\r\n\r\n";
		struct rec r = {BUF_INIT, 0, 0};
		struct sse_parser p;
		sse_parser_init(&p, on_event, &r);
		sse_parser_feed(&p, a, strlen(a));
		sse_parser_feed(&p, b, strlen(b));
		sse_parser_free(&p);
		CHECK_STR(buf_str(&r.all), "|x\ny\n---\n", "CRLF split across feeds");
		buf_free(&r.all);
	}
	{
		/* an empty feed between its \r and \n leaves the CRLF one line end */
		const char *a = "data: x\r", *b = "\ndata: y\r\n\r\n";
		struct rec r = {BUF_INIT, 0, 0};
		struct sse_parser p;
		sse_parser_init(&p, on_event, &r);
		sse_parser_feed(&p, a, strlen(a));
		sse_parser_feed(&p, b, 0);
		sse_parser_feed(&p, b, strlen(b));
		sse_parser_free(&p);
		CHECK_STR(buf_str(&r.all), "|x\ny\n---\n", "an empty feed inside a CRLF");
		buf_free(&r.all);
	}
	{
		/* a line over the maximum is refused in one feed as in pieces */
		const char *s = ": a comment longer than the maximum\n";
		struct rec r = {BUF_INIT, 0, 0};
		struct sse_parser p;
		sse_parser_init(&p, on_event, &r);
		sse_parser_set_max(&p, 8);
		CHECK_INT(sse_parser_feed(&p, s, strlen(s)), -1,
			  "a line over the maximum in one feed is an error");
		sse_parser_free(&p);
		buf_free(&r.all);
	}
	{
		const char *s = "data: a\n\ndata: b\n\ndata: c\n\n";
		struct rec r = {BUF_INIT, 0, 2};
		struct sse_parser p;
		sse_parser_init(&p, on_event, &r);
		CHECK_INT(sse_parser_feed(&p, s, strlen(s)), 7,
			  "a callback's stop value is returned");
		CHECK_INT(r.count, 2, "and no event after it is delivered");
		sse_parser_free(&p);
		buf_free(&r.all);
	}
	{
		struct rec r = {BUF_INIT, 0, 0};
		struct sse_parser p;
		char big[4096];
		int rc = 0;
		memset(big, 'x', sizeof big);
		sse_parser_init(&p, on_event, &r);
		sse_parser_set_max(&p, 10000);
		rc = sse_parser_feed(&p, "data: ", 6);
		for (int i = 0; i < 4 && rc == 0; i++)
			rc = sse_parser_feed(&p, big, sizeof big);
		CHECK_INT(rc, -1, "an event over max_event is an error");
		CHECK_INT(r.count, 0, "and is not delivered");
		sse_parser_free(&p);
		buf_free(&r.all);
	}
	{
		const char *s = "data: no blank line at the end";
		char *got = parse_whole(s, strlen(s));
		CHECK_STR(got, "", "an event without its blank line is not dispatched");
		free(got);
	}

	free(want);
	return check_done();
}
