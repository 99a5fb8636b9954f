/* Unit tests of the HTTP providers' mappings (src/provider_anthropic.c,
 * src/provider_openai.c): the request body each builds from an
 * OpenAI-shaped turn, and the deltas each makes of its upstream's answers,
 * streamed events and whole bodies, with no network. */
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "check.h"
#include "message.h"
#include "provider_http.h"

static struct cfg_provider anthropic = {.name = "claude", .api = CFG_API_ANTHROPIC};
static struct cfg_provider openai = {.name = "fake", .api = CFG_API_OPENAI};

/* j at path: keys and array indexes separated by dots ("tools.0.name");
 * NULL when absent. */
static const cJSON *at(const cJSON *j, const char *path)
{
	char key[64];

	while (j && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof key, "%.*s", (int)n, path);
		if (cJSON_IsArray(j))
			j = cJSON_GetArrayItem(j, atoi(key));
		else
			j = cJSON_GetObjectItemCaseSensitive(j, key);
		path += n + (path[n] == '.');
	}
	return j;
}

static const char *str_at(const cJSON *j, const char *path)
{
	const cJSON *v = at(j, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_at(const cJSON *j, const char *path)
{
	const cJSON *v = at(j, path);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The body p's backend builds for messages and params (JSON texts; params
 * may be NULL); NULL with e. */
static cJSON *body_for(const struct cfg_provider *p, const char *messages, const char *params,
		       bool stream, struct err *e)
{
	cJSON *msgs = cJSON_Parse(messages), *pars = params ? cJSON_Parse(params) : NULL, *body;
	struct prov_request rq = {
		.provider = p,
		.model = "m",
		.system_text = "Be brief.",
		.messages = msgs,
		.params = pars,
		.stream = stream,
	};

	err_clear(e);
	body = p->api == CFG_API_ANTHROPIC ? prov_anthropic_body(&rq, e) : prov_openai_body(&rq);
	cJSON_Delete(msgs);
	cJSON_Delete(pars);
	return body;
}

#define HI "[{\"role\":\"user\",\"content\":\"hi\"}]"
#define WEATHER                                                                                    \
	"{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Now\","   \
	"\"parameters\":{\"type\":\"object\"}}}"
#define SCHEMA                                                                                     \
	"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"reply\","       \
	"\"schema\":{\"type\":\"object\",\"required\":[\"a\"]}}}"

static void anthropic_messages(void)
{
	struct err e;
	cJSON *b;

	b = body_for(&anthropic, HI, NULL, false, &e);
	CHECK_STR(str_at(b, "system"), "Be brief.", "anthropic: the system text on top");
	CHECK_STR(str_at(b, "messages.0.content.0.text"), "hi", "anthropic: a user text block");
	CHECK_INT(num_at(b, "max_tokens"), 4096, "anthropic: max_tokens always sent (4096)");
	CHECK(cJSON_IsFalse(at(b, "stream")) && !at(b, "tools") && !at(b, "thinking"),
	      "anthropic: no stream, tools or thinking unless asked");
	cJSON_Delete(b);

	b = body_for(
		&anthropic,
		"[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"\","
		"\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
		"\"f\",\"arguments\":\"\"}},{\"id\":\"c2\",\"type\":\"function\",\"function\":{"
		"\"name\":\"g\",\"arguments\":\"{\\\"x\\\":6}\"}}]},{\"role\":\"tool\",\"tool_"
		"call_id\":\"c1\",\"content\":\"one\"},{\"role\":\"tool\",\"tool_call_id\":\"c2\","
		"\"content\":\"two\"}]",
		NULL, false, &e);
	CHECK_STR(str_at(b, "messages.1.content.0.type"), "tool_use",
		  "anthropic: an empty assistant text is no block; the call comes first");
	CHECK(cJSON_IsObject(at(b, "messages.1.content.0.input")) &&
		      !at(b, "messages.1.content.0.input")->child,
	      "anthropic: empty arguments are the input {}");
	CHECK_INT(num_at(b, "messages.1.content.1.input.x"), 6,
		  "anthropic: arguments parsed into the input");
	CHECK_STR(str_at(b, "messages.2.role"), "user", "anthropic: tool results are a user turn");
	CHECK(!strcmp(str_at(b, "messages.2.content.0.tool_use_id"), "c1") &&
		      !strcmp(str_at(b, "messages.2.content.1.tool_use_id"), "c2") &&
		      !at(b, "messages.3"),
	      "anthropic: consecutive tool messages are one turn of tool_result blocks");
	cJSON_Delete(b);

	b = body_for(
		&anthropic,
		"[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,"
		"\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":"
		"\"f\",\"arguments\":\"[1]\"}}]}]",
		NULL, false, &e);
	CHECK(!b && e.status == 400 && strstr(e.message, "messages[1].tool_calls[0].function"),
	      "anthropic: arguments that are no JSON object: 400 naming them");
	b = body_for(&anthropic,
		     "[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"tool\",\"tool_call_id\":"
		     "\"nope\",\"content\":\"x\"}]",
		     NULL, false, &e);
	CHECK(!b && e.status == 400 && strstr(e.message, "messages[1].tool_call_id"),
	      "anthropic: a tool result answering no call: 400 naming it");
}

static void anthropic_tools(void)
{
	struct err e;
	cJSON *b;

	b = body_for(&anthropic, HI,
		     "{\"tools\":[" WEATHER
		     "],\"tool_choice\":\"required\",\"parallel_tool_calls\":"
		     "false,\"stop\":\"END\",\"temperature\":0.2}",
		     false, &e);
	CHECK(!strcmp(str_at(b, "tools.0.name"), "get_weather") &&
		      !strcmp(str_at(b, "tools.0.description"), "Now") &&
		      !strcmp(str_at(b, "tools.0.input_schema.type"), "object"),
	      "anthropic: a tool is {name, description, input_schema}");
	CHECK(!strcmp(str_at(b, "tool_choice.type"), "any") &&
		      cJSON_IsTrue(at(b, "tool_choice.disable_parallel_tool_use")),
	      "anthropic: required is any; parallel_tool_calls false disables parallel use");
	CHECK(!strcmp(str_at(b, "stop_sequences.0"), "END") && num_at(b, "temperature") == 0.2,
	      "anthropic: stop as stop_sequences, temperature kept");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI,
		     "{\"tools\":[" WEATHER
		     "],\"tool_choice\":{\"type\":\"function\",\"function\":{"
		     "\"name\":\"get_weather\"}}}",
		     false, &e);
	CHECK(!strcmp(str_at(b, "tool_choice.type"), "tool") &&
		      !strcmp(str_at(b, "tool_choice.name"), "get_weather"),
	      "anthropic: a named tool is {type: tool, name}");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI, "{\"tools\":[" WEATHER "],\"tool_choice\":\"none\"}", false,
		     &e);
	CHECK_STR(str_at(b, "tool_choice.type"), "none", "anthropic: none is none");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI, "{\"tools\":[" WEATHER "]}", false, &e);
	CHECK_STR(str_at(b, "tool_choice.type"), "auto", "anthropic: no tool_choice is auto");
	cJSON_Delete(b);
}

static void anthropic_response_format(void)
{
	struct err e;
	cJSON *b;

	b = body_for(&anthropic, HI, "{" SCHEMA "}", false, &e);
	CHECK(!strcmp(str_at(b, "tools.0.name"), "reply") &&
		      !strcmp(str_at(b, "tools.0.input_schema.required.0"), "a") &&
		      !at(b, "tools.1"),
	      "anthropic: a json_schema is one tool named as the schema, the schema its input");
	CHECK(!strcmp(str_at(b, "tool_choice.type"), "tool") &&
		      !strcmp(str_at(b, "tool_choice.name"), "reply"),
	      "anthropic: the answer tool alone is forced");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI, "{\"response_format\":{\"type\":\"json_object\"}}", false, &e);
	CHECK(!strcmp(str_at(b, "tools.0.name"), "json_object") &&
		      !strcmp(str_at(b, "tools.0.input_schema.type"), "object"),
	      "anthropic: json_object is a tool taking any object");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI, "{\"response_format\":{\"type\":\"text\"}}", false, &e);
	CHECK(b && !at(b, "tools") && !at(b, "tool_choice"), "anthropic: text asks for no tool");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI, "{" SCHEMA ",\"tools\":[" WEATHER "]}", false, &e);
	CHECK(!strcmp(str_at(b, "tools.0.name"), "get_weather") &&
		      !strcmp(str_at(b, "tools.1.name"), "reply") &&
		      !strcmp(str_at(b, "tool_choice.type"), "any"),
	      "anthropic: beside client tools, the answer tool is listed and some tool forced");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI,
		     "{" SCHEMA ",\"tools\":[" WEATHER "],\"tool_choice\":\"none\"}", false, &e);
	CHECK(!strcmp(str_at(b, "tools.0.name"), "reply") && !at(b, "tools.1") &&
		      !strcmp(str_at(b, "tool_choice.name"), "reply"),
	      "anthropic: tool_choice none leaves only the answer tool");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI,
		     "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
		     "\"get_weather\"}},\"tools\":[" WEATHER "]}",
		     false, &e);
	CHECK(!b && e.status == 400 && strstr(e.message, "response_format.json_schema.name"),
	      "anthropic: a schema named as a client tool: 400");
}

static void anthropic_thinking(void)
{
	static struct cfg_provider small = {
		.name = "c", .api = CFG_API_ANTHROPIC, .max_tokens = 777};
	struct err e;
	cJSON *b;

	b = body_for(&anthropic, HI, "{\"reasoning_effort\":\"medium\",\"temperature\":0.2}", false,
		     &e);
	CHECK(!strcmp(str_at(b, "thinking.type"), "enabled") &&
		      num_at(b, "thinking.budget_tokens") == 8192 &&
		      num_at(b, "max_tokens") == 12288,
	      "anthropic: medium is a budget of 8192 on top of the default max_tokens");
	CHECK(!at(b, "temperature"), "anthropic: no temperature while thinking");
	cJSON_Delete(b);
	b = body_for(&small, HI, "{\"reasoning_effort\":\"minimal\"}", false, &e);
	CHECK(num_at(b, "thinking.budget_tokens") == 1024 && num_at(b, "max_tokens") == 1801,
	      "anthropic: minimal is 1024, on top of the provider's maxTokens");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI,
		     "{\"reasoning_effort\":\"high\",\"max_completion_tokens\":3000}", false, &e);
	CHECK(num_at(b, "thinking.budget_tokens") == 2999 && num_at(b, "max_tokens") == 3000,
	      "anthropic: a client's max_completion_tokens bounds the budget");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI, "{\"reasoning_effort\":\"low\",\"max_tokens\":1024}", false,
		     &e);
	CHECK(!b && e.status == 400 && strstr(e.message, "`max_tokens` must be above 1024"),
	      "anthropic: a max_tokens at or below the smallest budget: 400");
	b = body_for(&anthropic, HI, "{\"reasoning_effort\":\"maximal\"}", false, &e);
	CHECK(!b && e.status == 400 && strstr(e.message, "`reasoning_effort` must be"),
	      "anthropic: an effort with no budget: 400");
	b = body_for(&anthropic, HI, "{\"reasoning_effort\":\"none\",\"temperature\":0.3}", false,
		     &e);
	CHECK(b && !at(b, "thinking") && num_at(b, "temperature") == 0.3,
	      "anthropic: none is no thinking");
	cJSON_Delete(b);
	b = body_for(&anthropic, HI, "{\"reasoning_effort\":\"low\"," SCHEMA "}", false, &e);
	CHECK(!b && e.status == 400 && strstr(e.message, "forced tool"),
	      "anthropic: thinking with a forced tool: 400");
	b = body_for(
		&anthropic,
		"[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"tool_calls\":[{"
		"\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
		"\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"x\"}]",
		"{\"reasoning_effort\":\"high\",\"tool_choice\":\"required\",\"tools\":[" WEATHER
		"]}",
		false, &e);
	CHECK(b && !at(b, "thinking") && num_at(b, "max_tokens") == 4096,
	      "anthropic: no thinking while a tool use cycle goes on");
	cJSON_Delete(b);
}

/* A sink that puts the deltas together. */
static int collect(struct prov_sink *s, const struct prov_delta *d)
{
	return answer_add(s->ctx, d);
}

struct run {
	struct answer a;
	struct prov_sink sink;
	struct prov_result res;
	struct err e;
	struct phttp h;
	cJSON *params;
	struct prov_request rq;
};

static void run_init(struct run *r, const struct cfg_provider *p, const char *params)
{
	memset(r, 0, sizeof *r);
	answer_init(&r->a);
	r->sink.delta = collect;
	r->sink.ctx = &r->a;
	r->params = params ? cJSON_Parse(params) : NULL;
	r->rq.provider = p;
	r->rq.params = r->params;
	r->h.rq = &r->rq;
	r->h.sink = &r->sink;
	r->h.res = &r->res;
	r->h.e = &r->e;
	snprintf(r->res.finish_reason, sizeof r->res.finish_reason, "stop");
}

/* Feed one event (its JSON text) to ops; its return. */
static int feed(struct run *r, const struct phttp_ops *ops, const char *json)
{
	cJSON *j = cJSON_Parse(json);
	int rc = ops->event(&r->h, "", j);

	cJSON_Delete(j);
	return rc;
}

static int whole(struct run *r, const struct phttp_ops *ops, const char *json)
{
	cJSON *j = cJSON_Parse(json);
	int rc = ops->answer(&r->h, j);

	cJSON_Delete(j);
	return rc;
}

static char *message_of(struct run *r, size_t i)
{
	cJSON *m = answer_message(&r->a, i, true);
	char *s = cJSON_PrintUnformatted(m);

	cJSON_Delete(m);
	return s;
}

static void run_free(struct run *r)
{
	answer_free(&r->a);
	cJSON_Delete(r->params);
}

#define BLOCK_START(i, block)                                                                      \
	"{\"type\":\"content_block_start\",\"index\":" #i ",\"content_block\":" block "}"
#define BLOCK_DELTA(i, delta)                                                                      \
	"{\"type\":\"content_block_delta\",\"index\":" #i ",\"delta\":" delta "}"
#define STOP(reason)                                                                               \
	"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" reason "\"},\"usage\":{"       \
	"\"output_tokens\":9}}"

static void anthropic_answers(void)
{
	const struct phttp_ops *ops = &prov_anthropic_ops;
	struct run r;
	char *s;

	run_init(&r, &anthropic, NULL);
	feed(&r, ops,
	     "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":13,\"output_"
	     "tokens\":1}}}");
	feed(&r, ops, BLOCK_START(0, "{\"type\":\"thinking\",\"thinking\":\"\"}"));
	feed(&r, ops, BLOCK_DELTA(0, "{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}"));
	feed(&r, ops, BLOCK_DELTA(0, "{\"type\":\"signature_delta\",\"signature\":\"sig\"}"));
	feed(&r, ops, BLOCK_START(1, "{\"type\":\"text\",\"text\":\"\"}"));
	feed(&r, ops, BLOCK_DELTA(1, "{\"type\":\"text_delta\",\"text\":\"Looking.\"}"));
	feed(&r, ops,
	     BLOCK_START(2,
			 "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}"));
	feed(&r, ops,
	     BLOCK_START(3,
			 "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"g\",\"input\":{}}"));
	feed(&r, ops,
	     BLOCK_DELTA(2, "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}"));
	feed(&r, ops, BLOCK_DELTA(3, "{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}"));
	feed(&r, ops, BLOCK_DELTA(2, "{\"type\":\"input_json_delta\",\"partial_json\":\":1}\"}"));
	feed(&r, ops, STOP("tool_use"));
	s = message_of(&r, 0);
	CHECK_STR(
		s,
		"{\"role\":\"assistant\",\"content\":\"Looking.\",\"reasoning_content\":\"hmm\","
		"\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":"
		"\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},{\"id\":\"toolu_2\",\"type\":\"function\","
		"\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}",
		"anthropic stream: thinking, text and two tool_use blocks as calls 0 and 1");
	free(s);
	CHECK_STR(r.res.finish_reason, "tool_calls", "anthropic stream: tool_use is tool_calls");
	CHECK(r.res.usage.prompt_tokens == 13 && r.res.usage.completion_tokens == 9 &&
		      r.res.usage.total_tokens == 22,
	      "anthropic stream: usage from message_start and message_delta");
	run_free(&r);

	run_init(&r, &anthropic, "{" SCHEMA "}");
	feed(&r, ops,
	     BLOCK_START(0,
			 "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"reply\",\"input\":"
			 "{}}"));
	feed(&r, ops,
	     BLOCK_DELTA(0, "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}"));
	feed(&r, ops, BLOCK_DELTA(0, "{\"type\":\"input_json_delta\",\"partial_json\":\":2}\"}"));
	feed(&r, ops, STOP("tool_use"));
	s = message_of(&r, 0);
	CHECK_STR(s, "{\"role\":\"assistant\",\"content\":\"{\\\"a\\\":2}\"}",
		  "anthropic stream: the answer tool's input is the content, no call");
	free(s);
	CHECK_STR(r.res.finish_reason, "stop", "anthropic stream: the answer tool alone is stop");
	run_free(&r);

	run_init(&r, &anthropic, NULL);
	feed(&r, ops,
	     "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":-1e300,"
	     "\"output_tokens\":2}}}");
	feed(&r, ops,
	     "{\"type\":\"message_delta\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1e54}}");
	CHECK(r.res.usage.prompt_tokens == 3 && r.res.usage.completion_tokens == 2 &&
		      r.res.usage.total_tokens == 5,
	      "anthropic stream: token counts no answer has are ignored");
	run_free(&r);

	run_init(&r, &anthropic, NULL);
	CHECK(feed(&r, ops,
		   BLOCK_START(64, "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\"}")) &&
		      r.e.status == 502,
	      "anthropic stream: a block index past what is relayed: 502");
	run_free(&r);

	run_init(&r, &anthropic, "{" SCHEMA "}");
	CHECK(whole(&r, ops,
		    "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\"},{\"type\":\"tool_"
		    "use\",\"id\":\"toolu_9\",\"name\":\"get_"
		    "weather\",\"input\":{\"city\":\"Oslo\"}},{\"type\":\"tool_use\",\"id\":"
		    "\"toolu_"
		    "8\",\"name\":\"reply\",\"input\":{\"a\":3}},{\"type\":\"tool_use\",\"id\":"
		    "\"toolu_7\",\"name\":\"h\"}],\"stop_reason\":\"tool_use\",\"usage\":{\"input_"
		    "tokens\":5,\"output_tokens\":6}}") == 0,
	      "anthropic whole answer: taken");
	s = message_of(&r, 0);
	CHECK_STR(
		s,
		"{\"role\":\"assistant\",\"content\":\"{\\\"a\\\":3}\",\"reasoning_content\":"
		"\"t\",\"tool_calls\":[{\"id\":\"toolu_9\",\"type\":\"function\",\"function\":{"
		"\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}},{\"id\":"
		"\"toolu_7\",\"type\":\"function\",\"function\":{\"name\":\"h\",\"arguments\":\"{}"
		"\"}}]}",
		"anthropic whole answer: calls numbered apart from the answer tool, no input is "
		"{}");
	free(s);
	CHECK_STR(r.res.finish_reason, "tool_calls",
		  "anthropic whole answer: client calls make tool_calls");
	CHECK_INT(r.res.usage.total_tokens, 11, "anthropic whole answer: usage");
	run_free(&r);

	run_init(&r, &anthropic, NULL);
	whole(&r, ops,
	      "{\"content\":[{\"type\":\"text\",\"text\":\"cut\"}],\"stop_reason\":\"max_"
	      "tokens\"}");
	CHECK_STR(r.res.finish_reason, "length", "anthropic whole answer: max_tokens is length");
	run_free(&r);
	run_init(&r, &anthropic, NULL);
	CHECK(whole(&r, ops, "{\"content\":\"no\"}") < 0 && r.e.status == 502,
	      "anthropic whole answer: content that is no array: 502");
	run_free(&r);
}

/* Anthropic's cache counters: the prompt is input_tokens plus the tokens read
 * from the cache and written to it; message_delta may repeat any count. */
static void anthropic_cache_usage(void)
{
	const struct phttp_ops *ops = &prov_anthropic_ops;
	struct run r;

	run_init(&r, &anthropic, NULL);
	feed(&r, ops,
	     "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":13,"
	     "\"cache_read_input_tokens\":2000,\"cache_creation_input_tokens\":500,"
	     "\"output_tokens\":1}}}");
	feed(&r, ops, STOP("end_turn"));
	CHECK(r.res.usage.prompt_tokens == 2513 && r.res.usage.completion_tokens == 9 &&
		      r.res.usage.total_tokens == 2522,
	      "anthropic stream: prompt_tokens counts the cache reads and writes");
	CHECK(prov_usage_detail(&r.res.usage, PROV_CACHED_TOKENS) == 2000 &&
		      prov_usage_detail(&r.res.usage, PROV_CACHE_WRITE_TOKENS) == 500 &&
		      r.res.usage.given ==
			      (1u << PROV_CACHED_TOKENS | 1u << PROV_CACHE_WRITE_TOKENS),
	      "anthropic stream: cache reads are cached_tokens, writes cache_write_tokens");
	feed(&r, ops,
	     "{\"type\":\"message_delta\",\"usage\":{\"input_tokens\":20,"
	     "\"cache_read_input_tokens\":1000,\"output_tokens\":12}}");
	CHECK(r.res.usage.prompt_tokens == 1520 &&
		      prov_usage_detail(&r.res.usage, PROV_CACHED_TOKENS) == 1000 &&
		      r.res.usage.total_tokens == 1532,
	      "anthropic stream: counts message_delta repeats replace their parts");
	feed(&r, ops, "{\"type\":\"message_delta\",\"usage\":{\"cache_read_input_tokens\":-4}}");
	CHECK_INT(r.res.usage.prompt_tokens, 1520,
		  "anthropic stream: a cache count no answer has is ignored");
	run_free(&r);

	run_init(&r, &anthropic, NULL);
	whole(&r, ops,
	      "{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"usage\":{\"input_tokens\":"
	      "3,\"cache_read_input_tokens\":40,\"cache_creation_input_tokens\":0,\"output_"
	      "tokens\":2}}");
	CHECK(r.res.usage.prompt_tokens == 43 && r.res.usage.total_tokens == 45 &&
		      prov_usage_detail(&r.res.usage, PROV_CACHED_TOKENS) == 40 &&
		      (r.res.usage.given & 1u << PROV_CACHE_WRITE_TOKENS),
	      "anthropic whole answer: prompt_tokens counts the cache reads, a 0 write is given");
	run_free(&r);

	run_init(&r, &anthropic, NULL);
	whole(&r, ops, "{\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}");
	CHECK(r.res.usage.prompt_tokens == 3 && r.res.usage.given == 0,
	      "anthropic whole answer: no cache counters, no details");
	run_free(&r);
}

/* stop entries that are only whitespace, a refusal, and a call with no
 * arguments, streamed and whole. */
static void anthropic_edges(void)
{
	const struct phttp_ops *ops = &prov_anthropic_ops;
	struct run r;
	struct err e;
	char *s;
	cJSON *b;

	b = body_for(&anthropic, HI,
		     "{\"stop\":[\" \",\"END\",\"\\n\\t\",\"\",\"\\u3000\",\"a b\"]}", false, &e);
	s = cJSON_PrintUnformatted(at(b, "stop_sequences"));
	CHECK_STR(s, "[\"END\",\"a b\"]",
		  "anthropic: stop entries that are only whitespace are left out, the others go");
	free(s);
	cJSON_Delete(b);
	b = body_for(&anthropic, HI, "{\"stop\":\"\\r\\n\"}", false, &e);
	CHECK(b && !at(b, "stop_sequences"),
	      "anthropic: a stop that is only whitespace sends no stop_sequences");
	cJSON_Delete(b);

	run_init(&r, &anthropic, NULL);
	feed(&r, ops, BLOCK_START(0, "{\"type\":\"text\",\"text\":\"\"}"));
	feed(&r, ops, BLOCK_DELTA(0, "{\"type\":\"text_delta\",\"text\":\"No.\"}"));
	feed(&r, ops, STOP("refusal"));
	CHECK_STR(r.res.finish_reason, "content_filter",
		  "anthropic stream: stop_reason refusal is finish_reason content_filter");
	run_free(&r);
	run_init(&r, &anthropic, NULL);
	whole(&r, ops,
	      "{\"content\":[{\"type\":\"text\",\"text\":\"No.\"}],\"stop_reason\":\"refusal\"}");
	CHECK_STR(r.res.finish_reason, "content_filter",
		  "anthropic whole answer: stop_reason refusal is finish_reason content_filter");
	run_free(&r);

	run_init(&r, &anthropic, NULL);
	feed(&r, ops,
	     BLOCK_START(0,
			 "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}"));
	feed(&r, ops, "{\"type\":\"content_block_stop\",\"index\":0}");
	feed(&r, ops,
	     BLOCK_START(1,
			 "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"g\",\"input\":{}}"));
	feed(&r, ops, BLOCK_DELTA(1, "{\"type\":\"input_json_delta\",\"partial_json\":\"\"}"));
	feed(&r, ops, "{\"type\":\"content_block_stop\",\"index\":1}");
	feed(&r, ops,
	     BLOCK_START(2,
			 "{\"type\":\"tool_use\",\"id\":\"toolu_3\",\"name\":\"h\",\"input\":{}}"));
	feed(&r, ops, BLOCK_DELTA(2, "{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}"));
	feed(&r, ops, "{\"type\":\"content_block_stop\",\"index\":2}");
	feed(&r, ops, STOP("tool_use"));
	s = message_of(&r, 0);
	CHECK_STR(s,
		  "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"toolu_1\","
		  "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},{"
		  "\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":\"g\","
		  "\"arguments\":\"{}\"}},{\"id\":\"toolu_3\",\"type\":\"function\",\"function\":{"
		  "\"name\":\"h\",\"arguments\":\"{}\"}}]}",
		  "anthropic stream: a call whose input streams nothing (or only \"\") is {}, "
		  "as a whole answer's; one that streamed {} is not doubled");
	free(s);
	run_free(&r);

	run_init(&r, &anthropic, "{\"response_format\":{\"type\":\"json_object\"}}");
	feed(&r, ops,
	     BLOCK_START(0, "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"json_"
			    "object\",\"input\":{}}"));
	feed(&r, ops, "{\"type\":\"content_block_stop\",\"index\":0}");
	feed(&r, ops, STOP("tool_use"));
	s = message_of(&r, 0);
	CHECK_STR(s, "{\"role\":\"assistant\",\"content\":\"{}\"}",
		  "anthropic stream: an answer tool whose input streams nothing is the content {}");
	free(s);
	run_free(&r);
}

static void openai_body(void)
{
	struct err e;
	cJSON *b;

	b = body_for(
		&openai,
		"[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"a\"},{"
		"\"type\":\"text\",\"text\":\"b\"}]},{\"role\":\"assistant\",\"content\":[{"
		"\"type\":\"text\",\"text\":\"c\"}]},{\"role\":\"user\",\"content\":[{\"type\":"
		"\"input_text\",\"text\":\"d\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
		"\"data:image/png;base64,AA==\"}}]}]",
		"{\"n\":2,\"top_k\":5,\"tools\":[" WEATHER "]}", true, &e);
	CHECK(!strcmp(str_at(b, "messages.0.role"), "system") &&
		      !strcmp(str_at(b, "messages.0.content"), "Be brief."),
	      "openai: the system text is the first message");
	CHECK_STR(str_at(b, "messages.1.content"), "a\nb",
		  "openai: a user's text-only parts (input_text too) are one string");
	CHECK_STR(str_at(b, "messages.2.content.0.text"), "c",
		  "openai: an assistant's parts stay parts");
	CHECK(!strcmp(str_at(b, "messages.3.content.0.type"), "text") &&
		      !strcmp(str_at(b, "messages.3.content.1.type"), "image_url"),
	      "openai: input_text is text beside an image, the parts kept");
	CHECK(num_at(b, "n") == 2 && num_at(b, "top_k") == 5 &&
		      !strcmp(str_at(b, "tools.0.function.name"), "get_weather"),
	      "openai: every parameter as sent, extras too");
	CHECK(cJSON_IsTrue(at(b, "stream")) && cJSON_IsTrue(at(b, "stream_options.include_usage")),
	      "openai: a stream always asks for usage");
	cJSON_Delete(b);
}

/*
 * A session's history reaches a provider as stored messages (message.h),
 * each the JSON text the store wrote.  The body built from them is the body
 * built from the same messages parsed.
 */
static void stored_history(const struct cfg_provider *p, const char *label)
{
	static const char history[] =
		"[{\"role\":\"user\",\"content\":\"what is [x]?\"},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
		"\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sun\"},"
		"{\"role\":\"assistant\",\"content\":\"It is sunny.\"},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"and\"},"
		"{\"type\":\"text\",\"text\":\"tomorrow?\"}]}]";
	cJSON *parsed = cJSON_Parse(history), *stored = cJSON_CreateArray(), *m;
	struct prov_request rq = {.provider = p, .model = "m", .system_text = "Be brief."};
	cJSON *b1, *b2;
	char *t1, *t2;
	struct err e;
	char name[200];
	int nstored = 0;

	cJSON_ArrayForEach(m, parsed) {
		char *text = cJSON_PrintUnformatted(m);
		cJSON_AddItemToArray(stored, msg_stored(text));
		free(text);
	}
	cJSON_ArrayForEach(m, stored) {
		nstored += msg_is_stored(m);
	}
	snprintf(name, sizeof name, "%s: stored messages are text until opened", label);
	CHECK_INT(nstored, 5, name);
	err_clear(&e);
	rq.messages = parsed;
	b1 = p->api == CFG_API_ANTHROPIC ? prov_anthropic_body(&rq, &e) : prov_openai_body(&rq);
	rq.messages = stored;
	b2 = p->api == CFG_API_ANTHROPIC ? prov_anthropic_body(&rq, &e) : prov_openai_body(&rq);
	t1 = b1 ? cJSON_PrintUnformatted(b1) : NULL;
	t2 = b2 ? cJSON_PrintUnformatted(b2) : NULL;
	snprintf(name, sizeof name,
		 "%s: the body from stored history is the body from the same messages parsed",
		 label);
	CHECK(t1 && t2 && !strcmp(t1, t2), name);
	if (t1 && t2 && strcmp(t1, t2))
		fprintf(stderr, "# parsed: %s\n# stored: %s\n", t1, t2);
	free(t1);
	free(t2);
	cJSON_Delete(b1);
	cJSON_Delete(b2);
	cJSON_Delete(parsed);
	cJSON_Delete(stored);
}

static void openai_answers(void)
{
	const struct phttp_ops *ops = &prov_openai_ops;
	struct run r;
	char *s;

	run_init(&r, &openai, NULL);
	feed(&r, ops,
	     "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning\":\"r\"}},{"
	     "\"index\":1,\"delta\":{\"content\":\"two\"}}]}");
	feed(&r, ops,
	     "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
	     "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}");
	feed(&r, ops,
	     "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
	     "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}");
	feed(&r, ops,
	     "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_"
	     "tokens\":7}}");
	s = message_of(&r, 0);
	CHECK_STR(s,
		  "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"r\",\"tool_"
		  "calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
		  "\"arguments\":\"{}\"}}]}",
		  "openai stream: reasoning (vLLM's name) and a tool call in pieces");
	free(s);
	s = message_of(&r, 1);
	CHECK_STR(s, "{\"role\":\"assistant\",\"content\":\"two\"}",
		  "openai stream: choice 1 kept apart");
	free(s);
	CHECK_INT(r.res.usage.total_tokens, 7, "openai stream: the usage chunk");
	run_free(&r);
}

/* The usage details of an OpenAI answer, streamed and whole. */
static void openai_usage_details(void)
{
	const struct phttp_ops *ops = &prov_openai_ops;
	struct run r;

	run_init(&r, &openai, NULL);
	feed(&r, ops,
	     "{\"choices\":[],\"usage\":{\"prompt_tokens\":2011,\"completion_tokens\":7,"
	     "\"total_tokens\":2018,\"prompt_tokens_details\":{\"cached_tokens\":2000,"
	     "\"audio_tokens\":3},\"completion_tokens_details\":{\"reasoning_tokens\":5,"
	     "\"audio_tokens\":0,\"accepted_prediction_tokens\":1,\"rejected_prediction_"
	     "tokens\":2}}}");
	CHECK(r.res.usage.prompt_tokens == 2011 &&
		      prov_usage_detail(&r.res.usage, PROV_CACHED_TOKENS) == 2000 &&
		      prov_usage_detail(&r.res.usage, PROV_PROMPT_AUDIO_TOKENS) == 3 &&
		      prov_usage_detail(&r.res.usage, PROV_REASONING_TOKENS) == 5 &&
		      prov_usage_detail(&r.res.usage, PROV_ACCEPTED_PREDICTION_TOKENS) == 1 &&
		      prov_usage_detail(&r.res.usage, PROV_REJECTED_PREDICTION_TOKENS) == 2,
	      "openai stream: the usage chunk's details taken with their values");
	CHECK(r.res.usage.given ==
		      (1u << PROV_CACHED_TOKENS | 1u << PROV_PROMPT_AUDIO_TOKENS |
		       1u << PROV_REASONING_TOKENS | 1u << PROV_COMPLETION_AUDIO_TOKENS |
		       1u << PROV_ACCEPTED_PREDICTION_TOKENS |
		       1u << PROV_REJECTED_PREDICTION_TOKENS),
	      "openai stream: exactly the details given are marked given (a 0 too)");
	run_free(&r);

	run_init(&r, &openai, NULL);
	whole(&r, ops,
	      "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
	      "\"x\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_"
	      "tokens\":4,\"total_tokens\":13,\"prompt_tokens_details\":{\"cached_tokens\":-1,"
	      "\"cache_write_tokens\":6},\"completion_tokens_details\":{\"reasoning_tokens\":3}}}");
	CHECK(r.res.usage.given == (1u << PROV_CACHE_WRITE_TOKENS | 1u << PROV_REASONING_TOKENS) &&
		      r.res.usage.detail[PROV_CACHE_WRITE_TOKENS] == 6 &&
		      r.res.usage.detail[PROV_REASONING_TOKENS] == 3,
	      "openai whole answer: details taken, a count no answer has ignored");
	run_free(&r);
}

int main(void)
{
	anthropic_messages();
	anthropic_tools();
	anthropic_response_format();
	anthropic_thinking();
	anthropic_answers();
	anthropic_cache_usage();
	anthropic_edges();
	openai_body();
	stored_history(&openai, "openai");
	stored_history(&anthropic, "anthropic");
	openai_answers();
	openai_usage_details();
	return check_done();
}
