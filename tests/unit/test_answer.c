/* Unit tests for src/answer.c: deltas put together by choice, tool call
 * arguments joined by index, the assistant message of a choice. */
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "check.h"

static int add_calls(struct answer *a, int choice, const char *json)
{
	cJSON *calls = cJSON_Parse(json);
	struct prov_delta d = {.choice = choice, .tool_calls = calls};
	int rc = answer_add(a, &d);

	cJSON_Delete(calls);
	return rc;
}

static char *message_json(const struct answer *a, size_t i, bool reasoning)
{
	cJSON *m = answer_message(a, i, reasoning);
	char *s = cJSON_PrintUnformatted(m);

	cJSON_Delete(m);
	return s;
}

int main(void)
{
	struct answer a;
	struct prov_delta d = {0};
	char *s;

	answer_init(&a);
	s = message_json(&a, 0, true);
	CHECK_STR(s, "{\"role\":\"assistant\",\"content\":\"\"}",
		  "no deltas: an empty assistant message");
	free(s);
	d.content = "Hel";
	d.content_len = 3;
	answer_add(&a, &d);
	d.content = "lo there";
	d.content_len = 2; /* only "lo" */
	answer_add(&a, &d);
	CHECK_STR(answer_text(&a, 0), "Hello", "content joined, lengths respected");
	d = (struct prov_delta){.reasoning = "hmm", .reasoning_len = 3};
	answer_add(&a, &d);
	s = message_json(&a, 0, true);
	CHECK_STR(s, "{\"role\":\"assistant\",\"content\":\"Hello\",\"reasoning_content\":\"hmm\"}",
		  "reasoning_content when asked for");
	free(s);
	s = message_json(&a, 0, false);
	CHECK_STR(s, "{\"role\":\"assistant\",\"content\":\"Hello\"}", "and left out when not");
	free(s);
	answer_free(&a);

	CHECK(add_calls(&a, 0,
			"[{\"index\":0,\"id\":\"c1\",\"type\":\"function\",\"function\":"
			"{\"name\":\"get_weather\",\"arguments\":\"\"}}]") == 0,
	      "a call opens");
	add_calls(&a, 0,
		  "[{\"index\":1,\"id\":\"c2\",\"type\":\"function\",\"function\":"
		  "{\"name\":\"get_time\",\"arguments\":\"{}\"}}]");
	add_calls(&a, 0, "[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]");
	add_calls(&a, 0, "[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]");
	s = message_json(&a, 0, true);
	CHECK_STR(s,
		  "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		  "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
		  "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
		  "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
		  "\"arguments\":\"{}\"}}]}",
		  "two calls, arguments joined by index, content null without text");
	free(s);
	d = (struct prov_delta){.finish_reason = "tool_calls"};
	answer_add(&a, &d);
	CHECK_STR(a.choices[0].finish_reason, "tool_calls", "the finish reason is kept");
	answer_free(&a);

	add_calls(&a, 0, "[{\"id\":\"x\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]");
	CHECK(cJSON_GetArraySize(a.choices[0].tool_calls) == 1,
	      "a call without index takes its position");
	d = (struct prov_delta){.content = "and text", .content_len = 8};
	answer_add(&a, &d);
	s = message_json(&a, 0, false);
	CHECK(strstr(s, "\"content\":\"and text\"") && strstr(s, "\"tool_calls\""),
	      "text beside calls is kept");
	free(s);
	answer_free(&a);

	d = (struct prov_delta){.choice = 2, .content = "third", .content_len = 5};
	CHECK(answer_add(&a, &d) == 0 && a.nchoices == 3, "choice 2 makes three choices");
	CHECK_STR(answer_text(&a, 2), "third", "by index");
	CHECK_STR(answer_text(&a, 1), "", "a choice with nothing is empty");
	CHECK_STR(answer_text(&a, 7), "", "a choice out of range is empty");
	d.choice = ANSWER_MAX_CHOICES;
	CHECK(answer_add(&a, &d) < 0, "a choice index past the maximum is refused");
	d.choice = -1;
	CHECK(answer_add(&a, &d) < 0, "a negative choice index is refused");
	answer_free(&a);

	{
		cJSON *lp1 = cJSON_Parse("{\"content\":[{\"token\":\"a\",\"logprob\":-1}]}");
		cJSON *lp2 = cJSON_Parse("{\"content\":[{\"token\":\"b\",\"logprob\":-2}]}");
		d = (struct prov_delta){.logprobs = lp1};
		answer_add(&a, &d);
		d.logprobs = lp2;
		answer_add(&a, &d);
		CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(a.choices[0].logprobs, "content")) ==
			      2,
		      "logprobs content joined");
		cJSON_Delete(lp1);
		cJSON_Delete(lp2);
		answer_free(&a);
	}
	return check_done();
}
