/*
 * fuzz-anthropic.c - libFuzzer target: the Anthropic event mapper
 * (prov_anthropic_ops in src/provider_anthropic.c) behind the transport's
 * SSE handling (phttp_event in src/provider_http.c).
 *
 * The input's first byte chooses how the rest is read:
 *   bits 0-1  the request's params: none; response_format json_schema
 *             "reply"; json_object; tools [get_weather] and the "reply"
 *             schema (the answer tool streams as content, other tool_use
 *             blocks as calls)
 *   bit 2     0: the rest is a Messages API event stream, fed to an SSE
 *             parser calling phttp_event as phttp_post's does, in pieces of
 *             bits 3-7 bytes (0: whole); 1: the rest is a whole
 *             (non-streaming) answer, given to prov_anthropic_ops.answer
 * and the deltas go to an answer (answer.h), as a turn collects them.
 *
 * Checks beyond "no crash, no leak": each delta is choice 0, its content
 * and reasoning hold no NUL in their length, its tool calls are objects
 * with an index from 0 and arguments as a string; the result is a finish
 * reason OpenAI knows, usage whose total is the sum, and either no error
 * or a 502 upstream_error with a message that is valid UTF-8; the
 * collected message prints as JSON whose calls each have an id, a type and
 * a name.  With FUZZ_UTF8=1 in the environment the deltas' text and the
 * message must be valid UTF-8 too, as provider.h says deltas are; off by
 * default, as the mapper passes on what the upstream's JSON strings hold,
 * which cJSON does not check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "provider_http.h"
#include "utf8.h"

#define TARGET "fuzz-anthropic"

/* A broken promise: say which, then abort (libFuzzer keeps the input). */
static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: broken: %s\n", TARGET, what);
		abort();
	}
}

static const char *const params_text[] = {
	NULL,
	"{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"reply\","
	"\"schema\":{\"type\":\"object\"}}}}",
	"{\"response_format\":{\"type\":\"json_object\"}}",
	"{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	"\"parameters\":{\"type\":\"object\"}}}],\"response_format\":{\"type\":\"json_schema\","
	"\"json_schema\":{\"name\":\"reply\"}}}",
};

static cJSON *params[4];
static bool check_utf8;
static struct cfg_provider anthropic = {.name = "claude", .api = CFG_API_ANTHROPIC};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *u = getenv("FUZZ_UTF8");

	(void)argc, (void)argv;
	for (size_t i = 1; i < sizeof params / sizeof *params; i++)
		must((params[i] = cJSON_Parse(params_text[i])) != NULL, "the params parse");
	check_utf8 = u && !strcmp(u, "1");
	return 0;
}

static void check_text(const char *s, size_t len)
{
	if (!s)
		return;
	must(!memchr(s, '\0', len), "no NUL in a delta's text");
	must(!check_utf8 || utf8_valid(s, len), "a delta's text is valid UTF-8");
}

/* The sink: check the delta, then collect it. */
static int collect(struct prov_sink *s, const struct prov_delta *d)
{
	const cJSON *c;

	must(d->choice == 0, "deltas of choice 0");
	check_text(d->content, d->content_len);
	check_text(d->reasoning, d->reasoning_len);
	if (d->tool_calls) {
		must(cJSON_IsArray(d->tool_calls), "tool_calls is an array");
		cJSON_ArrayForEach(c, d->tool_calls) {
			const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "index");
			const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
			must(cJSON_IsNumber(index) && index->valueint >= 0,
			     "a call's piece has an index from 0");
			must(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(fn, "arguments")),
			     "a call's piece has arguments as a string");
		}
	}
	return answer_add(s->ctx, d);
}

static void check_result(const struct phttp *h, const struct answer *a)
{
	const struct prov_result *res = h->res;
	const cJSON *call;
	cJSON *m;
	char *text;

	must(!strcmp(res->finish_reason, "stop") || !strcmp(res->finish_reason, "length") ||
		     !strcmp(res->finish_reason, "tool_calls"),
	     "a finish reason OpenAI knows");
	must(res->usage.total_tokens == res->usage.prompt_tokens + res->usage.completion_tokens,
	     "the total tokens are the sum");
	must(h->failed ? h->e->status == 502 && h->e->type == ERR_UPSTREAM && h->e->message[0]
		       : h->e->status == 0,
	     "a failure is a 502 upstream_error with a message, else no error");
	must(utf8_valid(h->e->message, strlen(h->e->message)), "an error message is valid UTF-8");
	if (!(m = answer_message(a, 0, true)) || !(text = cJSON_PrintUnformatted(m)))
		abort(); /* out of memory */
	must(!check_utf8 || utf8_valid(text, strlen(text)), "the message is valid UTF-8");
	cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
		must(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(call, "id")) &&
			     cJSON_IsString(cJSON_GetObjectItemCaseSensitive(call, "type")) &&
			     cJSON_IsString(cJSON_GetObjectItemCaseSensitive(fn, "name")),
		     "each call has an id, a type and a name");
	}
	cJSON_free(text);
	cJSON_Delete(m);
}

/* The stream in pieces of step bytes, as phttp_post's write callback
 * feeds it, and its end as phttp_post judges it. */
static void stream(struct phttp *h, const char *s, size_t n, size_t step)
{
	size_t pos = 0;

	sse_parser_init(&h->parser, phttp_event, h);
	while (pos < n) {
		size_t k = step && step < n - pos ? step : n - pos;
		int rc = sse_parser_feed(&h->parser, s + pos, k);
		pos += k;
		if (rc < 0)
			phttp_fail(h, 502, "upstream sent an oversized event");
		if (rc || h->res->cancelled || h->failed)
			break;
	}
	if (!h->res->cancelled && !h->failed && !h->done && !h->finished)
		phttp_fail(h, 502, "upstream stream ended early");
	sse_parser_free(&h->parser);
}

/* A whole answer, as phttp_post takes one. */
static void whole(struct phttp *h, const char *s, size_t n)
{
	cJSON *j = cJSON_ParseWithLength(s, n);

	if (!cJSON_IsObject(j))
		phttp_fail(h, 502, "upstream sent malformed data");
	else if (h->ops->answer(h, j) == 0)
		h->finished = true;
	else
		must(h->failed || h->res->cancelled, "-1 from answer comes with phttp_fail");
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answer a;
	struct prov_sink sink = {.delta = collect, .ctx = &a};
	struct prov_result res = {.finish_reason = "stop"};
	struct prov_request rq = {.provider = &anthropic, .model = "claude-fuzz", .stream = true};
	struct err e;
	struct phttp h = {
		.rq = &rq, .sink = &sink, .res = &res, .e = &e, .ops = &prov_anthropic_ops};

	if (size < 1)
		return 0;
	err_clear(&e);
	answer_init(&a);
	rq.params = params[data[0] & 3];
	if (data[0] & 4)
		whole(&h, (const char *)data + 1, size - 1);
	else
		stream(&h, (const char *)data + 1, size - 1, data[0] >> 3);
	for (int b = 0; b < PHTTP_MAX_BLOCKS; b++)
		must(h.block_call[b] >= PHTTP_BLOCK_CONTENT && h.block_call[b] <= h.ncalls,
		     "each block is content, no call, or one of the calls so far");
	check_result(&h, &a);
	answer_free(&a);
	return 0;
}
