/*
 * provider_anthropic.c - the "anthropic-messages" provider: Anthropic's
 * POST /v1/messages.
 *
 * Maps the OpenAI-shaped turn onto the Messages API: the system text goes
 * to the top-level "system", user/assistant messages keep their text (never
 * an empty block) and images as content blocks, an assistant's tool calls
 * become "tool_use" blocks and the tool messages after them one user turn
 * of "tool_result" blocks, tools and tool_choice are translated, a JSON
 * response_format becomes a forced "answer tool" whose input is the answer,
 * reasoning_effort a thinking budget, and max_tokens is always sent (the
 * API requires it: the request's, else the provider's maxTokens, else 4096,
 * plus the thinking budget); stop becomes stop_sequences, less the entries
 * that are only whitespace (the API refuses those).  Streaming events
 * become deltas (text, thinking as reasoning, tool_use blocks as OpenAI's
 * numbered tool calls, "{}" for one whose input streams nothing, the
 * answer tool's input as text); stop reasons (a refusal is
 * "content_filter") and token counts are mapped back.  The transport is
 * provider_http.c; the key is sent only as x-api-key.
 */
#include "provider_http.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "utf8.h"

#define DEFAULT_MAX_TOKENS 4096
#define MAX_TOKENS 1e15 /* a token count believed */
#define ANTHROPIC_VERSION "2023-06-01"

/* OpenAI's finish_reason for a stop_reason; "tool_use" is "stop" when the
 * only tool called was the answer tool (calls: the client's tools called);
 * a refusal is OpenAI's "content_filter". */
static const char *map_stop(const char *reason, int calls)
{
	if (!strcmp(reason, "max_tokens"))
		return "length";
	if (!strcmp(reason, "refusal"))
		return "content_filter";
	if (!strcmp(reason, "tool_use") && calls)
		return "tool_calls";
	return "stop"; /* end_turn, stop_sequence, and anything new */
}

/*
 * The tool that carries a JSON answer: the Messages API has no
 * response_format, so a json_schema (or json_object) answer is asked for as
 * a call of one tool, named as the schema, whose input schema is the
 * schema; its input is then the answer's content.  Returns the tool's name
 * and sets *schema (NULL: any object), or NULL when params ask for text.
 */
static const char *answer_tool(const cJSON *params, const cJSON **schema)
{
	const cJSON *rf = cJSON_GetObjectItemCaseSensitive(params, "response_format");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");

	*schema = NULL;
	if (!cJSON_IsString(type))
		return NULL;
	if (!strcmp(type->valuestring, "json_object"))
		return "json_object";
	if (strcmp(type->valuestring, "json_schema") || !cJSON_IsString(name))
		return NULL;
	*schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
	return name->valuestring;
}

/* Whether block is a tool_use of the answer tool. */
static bool is_answer(const struct phttp *h, const cJSON *block)
{
	const cJSON *schema;
	const char *tool = answer_tool(h->rq->params, &schema);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(block, "name");

	return tool && cJSON_IsString(name) && !strcmp(name->valuestring, tool);
}

/* A count no answer has (negative, or past long: converting it would be
 * undefined) is no count. */
static bool count_of(const cJSON *usage, const char *key, long *v)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(usage, key);

	if (!cJSON_IsNumber(n) || !(n->valuedouble >= 0 && n->valuedouble <= MAX_TOKENS))
		return false;
	*v = (long)n->valuedouble;
	return true;
}

/*
 * A usage object (the answer's, message_start's or message_delta's, which
 * may repeat any count): input_tokens are only the prompt's tokens after its
 * last cache breakpoint, so the prompt is those plus the ones read from the
 * cache (cached_tokens) and the ones written to it (cache_write_tokens).
 * Each count given replaces its part; the others stay.
 */
static void take_usage(struct phttp *h, const cJSON *usage)
{
	struct prov_usage *u = &h->res->usage;
	long v, uncached = u->prompt_tokens - prov_usage_detail(u, PROV_CACHED_TOKENS) -
			   prov_usage_detail(u, PROV_CACHE_WRITE_TOKENS);

	if (count_of(usage, "input_tokens", &v))
		uncached = v;
	if (count_of(usage, "cache_read_input_tokens", &v))
		prov_usage_detail_set(u, PROV_CACHED_TOKENS, v);
	if (count_of(usage, "cache_creation_input_tokens", &v))
		prov_usage_detail_set(u, PROV_CACHE_WRITE_TOKENS, v);
	if (count_of(usage, "output_tokens", &v))
		u->completion_tokens = v;
	u->prompt_tokens = uncached + prov_usage_detail(u, PROV_CACHED_TOKENS) +
			   prov_usage_detail(u, PROV_CACHE_WRITE_TOKENS);
	u->total_tokens = u->prompt_tokens + u->completion_tokens;
}

/*
 * A piece of OpenAI tool call k: its start (id and name given: id, type,
 * name and empty arguments) or a fragment of its arguments.
 */
static int deliver_call(struct phttp *h, int k, const char *id, const char *name,
			const char *arguments)
{
	cJSON *calls = cJSON_CreateArray(), *c = cJSON_CreateObject(), *fn;
	struct prov_delta d = {.tool_calls = calls};
	int rc = -1;

	if (!calls || !c) {
		cJSON_Delete(c);
		goto out;
	}
	cJSON_AddItemToArray(calls, c);
	if (!cJSON_AddNumberToObject(c, "index", k) ||
	    (id && (!cJSON_AddStringToObject(c, "id", id) ||
		    !cJSON_AddStringToObject(c, "type", "function"))) ||
	    !(fn = cJSON_AddObjectToObject(c, "function")) ||
	    (name && !cJSON_AddStringToObject(fn, "name", name)) ||
	    !cJSON_AddStringToObject(fn, "arguments", arguments))
		goto out;
	rc = phttp_deliver(h, &d);
out:
	cJSON_Delete(calls);
	return rc;
}

/* A tool_use block's start as call k's first piece. */
static int deliver_call_start(struct phttp *h, const cJSON *block, int k)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(block, "id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(block, "name");

	return deliver_call(h, k, cJSON_IsString(id) ? id->valuestring : "",
			    cJSON_IsString(name) ? name->valuestring : "", "");
}

/* content_block_start: a tool_use block opens the next tool call. */
static int block_start(struct phttp *h, const cJSON *j)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(j, "index");
	const cJSON *block = cJSON_GetObjectItemCaseSensitive(j, "content_block");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
	int b = cJSON_IsNumber(index) ? index->valueint : -1;

	if (!cJSON_IsString(type) || strcmp(type->valuestring, "tool_use"))
		return 0;
	if (b < 0 || b >= PHTTP_MAX_BLOCKS) {
		phttp_fail(h, 502, "upstream sent more content blocks than clawcgi relays");
		return -1;
	}
	if (is_answer(h, block)) { /* its input streams as the content */
		h->block_call[b] = PHTTP_BLOCK_CONTENT;
		return 0;
	}
	h->block_call[b] = ++h->ncalls;
	return deliver_call_start(h, block, h->ncalls - 1);
}

/* content_block_delta: text, thinking, or a tool call's input JSON. */
static int block_delta(struct phttp *h, const cJSON *j)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(j, "index");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "text");
	const cJSON *thinking = cJSON_GetObjectItemCaseSensitive(d, "thinking");
	const cJSON *json = cJSON_GetObjectItemCaseSensitive(d, "partial_json");
	int b = cJSON_IsNumber(index) ? index->valueint : -1;

	if (cJSON_IsString(text))
		return phttp_text(h, text->valuestring, strlen(text->valuestring));
	if (cJSON_IsString(thinking) && thinking->valuestring[0]) {
		struct prov_delta r = {.reasoning = thinking->valuestring,
				       .reasoning_len = strlen(thinking->valuestring)};
		return phttp_deliver(h, &r);
	}
	if (!cJSON_IsString(json) || !json->valuestring[0] || b < 0 || b >= PHTTP_MAX_BLOCKS)
		return 0;
	if (h->block_call[b] == PHTTP_BLOCK_CONTENT) {
		h->block_args[b] = true;
		return phttp_text(h, json->valuestring, strlen(json->valuestring));
	}
	if (h->block_call[b] > 0) {
		h->block_args[b] = true;
		return deliver_call(h, h->block_call[b] - 1, NULL, NULL, json->valuestring);
	}
	return 0;
}

/* content_block_stop: a call whose input streamed nothing (a tool with no
 * parameters) has the arguments "{}", as in a whole answer; so has the
 * answer tool's input, the content. */
static int block_stop(struct phttp *h, const cJSON *j)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(j, "index");
	int b = cJSON_IsNumber(index) ? index->valueint : -1;

	if (b < 0 || b >= PHTTP_MAX_BLOCKS || !h->block_call[b] || h->block_args[b])
		return 0;
	h->block_args[b] = true;
	if (h->block_call[b] == PHTTP_BLOCK_CONTENT)
		return phttp_text(h, "{}", 2);
	return deliver_call(h, h->block_call[b] - 1, NULL, NULL, "{}");
}

static int an_event(struct phttp *h, const char *event, const cJSON *j)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	const char *t = cJSON_IsString(type) ? type->valuestring : event;

	if (!strcmp(t, "message_start")) {
		take_usage(h, cJSON_GetObjectItemCaseSensitive(
				      cJSON_GetObjectItemCaseSensitive(j, "message"), "usage"));
	} else if (!strcmp(t, "content_block_start")) {
		if (block_start(h, j) < 0)
			return 1;
	} else if (!strcmp(t, "content_block_delta")) {
		if (block_delta(h, j) < 0)
			return 1;
	} else if (!strcmp(t, "content_block_stop")) {
		if (block_stop(h, j) < 0)
			return 1;
	} else if (!strcmp(t, "message_delta")) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
		const cJSON *stop = cJSON_GetObjectItemCaseSensitive(d, "stop_reason");
		if (cJSON_IsString(stop))
			phttp_finish(h, map_stop(stop->valuestring, h->ncalls));
		take_usage(h, cJSON_GetObjectItemCaseSensitive(j, "usage"));
	} else if (!strcmp(t, "message_stop")) {
		h->done = true;
	}
	return 0; /* ping */
}

/* A whole answer: text blocks joined, thinking as reasoning, each tool_use
 * block a whole tool call (its input printed as the arguments string), the
 * answer tool's input the text. */
static int an_answer(struct phttp *h, const cJSON *j)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(j, "content");
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(j, "stop_reason");
	const cJSON *block;
	struct buf text = BUF_INIT, thinking = BUF_INIT;
	int rc = -1, k = 0;

	if (!cJSON_IsArray(content)) {
		phttp_fail(h, 502, "upstream sent malformed data");
		return -1;
	}
	take_usage(h, cJSON_GetObjectItemCaseSensitive(j, "usage"));
	cJSON_ArrayForEach(block, content) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "text");
		const cJSON *th = cJSON_GetObjectItemCaseSensitive(block, "thinking");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
		if (cJSON_IsString(type) && !strcmp(type->valuestring, "tool_use")) {
			const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");
			char *args = input ? cJSON_PrintUnformatted(input) : strdup("{}");
			int drc;
			if (!args)
				goto out;
			if (is_answer(h, block))
				drc = buf_append_str(&text, args);
			else
				drc = deliver_call_start(h, block, k) < 0 ||
						      deliver_call(h, k++, NULL, NULL, args) < 0
					      ? -1
					      : 0;
			free(args);
			if (drc < 0)
				goto out;
		} else if (cJSON_IsString(t) && buf_append_str(&text, t->valuestring) < 0) {
			goto out;
		} else if (cJSON_IsString(th) && buf_append_str(&thinking, th->valuestring) < 0) {
			goto out;
		}
	}
	if (cJSON_IsString(stop))
		phttp_finish(h, map_stop(stop->valuestring, k));
	if (thinking.len) {
		struct prov_delta r = {.reasoning = thinking.data, .reasoning_len = thinking.len};
		if (phttp_deliver(h, &r) < 0)
			goto out;
	}
	rc = phttp_text(h, buf_str(&text), text.len);
out:
	buf_free(&text);
	buf_free(&thinking);
	return rc;
}

const struct phttp_ops prov_anthropic_ops = {an_event, an_answer};

/* An OpenAI image_url part as an Anthropic image block. */
static cJSON *image_block(const char *url)
{
	cJSON *b = cJSON_CreateObject();
	cJSON *src = cJSON_AddObjectToObject(b, "source");

	if (!src)
		goto fail;
	cJSON_AddStringToObject(b, "type", "image");
	if (!strncmp(url, "data:", 5)) {
		const char *semi = strchr(url, ';'), *comma = strchr(url, ',');
		char *media;
		if (!semi || !comma || semi > comma ||
		    !(media = strndup(url + 5, (size_t)(semi - url - 5))))
			goto fail;
		cJSON_AddStringToObject(src, "type", "base64");
		cJSON_AddStringToObject(src, "media_type", media);
		cJSON_AddStringToObject(src, "data", comma + 1);
		free(media);
	} else {
		cJSON_AddStringToObject(src, "type", "url");
		cJSON_AddStringToObject(src, "url", url);
	}
	return b;
fail:
	cJSON_Delete(b);
	return NULL;
}

/* A text block, unless text is empty (the Messages API refuses those). */
static int add_text_block(cJSON *blocks, const char *text)
{
	cJSON *b;

	if (!text[0])
		return 0;
	if (!(b = cJSON_CreateObject()))
		return -1;
	cJSON_AddItemToArray(blocks, b);
	return cJSON_AddStringToObject(b, "type", "text") &&
			       cJSON_AddStringToObject(b, "text", text)
		       ? 0
		       : -1;
}

/* OpenAI content (string or parts) as Anthropic content blocks, appended
 * to blocks: text (never empty) and images.  0, or -1 out of memory. */
static int content_blocks(cJSON *blocks, const cJSON *content)
{
	const cJSON *part;

	if (cJSON_IsString(content))
		return add_text_block(blocks, content->valuestring);
	if (!cJSON_IsArray(content))
		return 0;
	cJSON_ArrayForEach(part, content) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(part, "image_url");
		const cJSON *url =
			cJSON_IsObject(img) ? cJSON_GetObjectItemCaseSensitive(img, "url") : img;
		if (!cJSON_IsString(type))
			continue;
		if (cJSON_IsString(text) && (!strcmp(type->valuestring, "text") ||
					     !strcmp(type->valuestring, "input_text"))) {
			if (add_text_block(blocks, text->valuestring) < 0)
				return -1;
		} else if (!strcmp(type->valuestring, "image_url") && cJSON_IsString(url)) {
			cJSON *b = image_block(url->valuestring);
			if (!b)
				return -1;
			cJSON_AddItemToArray(blocks, b);
		}
	}
	return 0;
}

/* The conversation being mapped: the Messages API messages so far, the
 * tool_use ids they hold, and whether the last one is a run of tool
 * results (the next result joins it). */
struct an_map {
	cJSON *msgs;
	cJSON *call_ids;
	bool in_results;
	struct err *e;
};

/* A new {role, content: []} at the end of mp->msgs; NULL out of memory. */
static cJSON *new_message(struct an_map *mp, const char *role)
{
	cJSON *m = cJSON_CreateObject();

	if (!m || !cJSON_AddStringToObject(m, "role", role) ||
	    !cJSON_AddArrayToObject(m, "content")) {
		cJSON_Delete(m);
		return NULL;
	}
	cJSON_AddItemToArray(mp->msgs, m);
	return m;
}

/* A tool call's arguments as a tool_use input: an object ("" is {}, as
 * OpenAI accepts it); NULL with e (400) for anything else. */
static cJSON *call_input(const cJSON *fn, int i, int k, struct err *e)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
	const char *a = cJSON_IsString(args) ? args->valuestring : "";
	cJSON *input;

	if (!a[strspn(a, " \t\r\n")])
		return cJSON_CreateObject();
	input = cJSON_Parse(a);
	if (!cJSON_IsObject(input)) {
		cJSON_Delete(input);
		err_set(e, 400, ERR_INVALID_REQUEST,
			"`messages[%d].tool_calls[%d].function.arguments` must be a JSON object "
			"(the Messages API takes a tool's input as one).",
			i, k);
		return NULL;
	}
	return input;
}

/* An assistant turn: its text, then one tool_use block per tool call. */
static int map_assistant(struct an_map *mp, const cJSON *m, int i)
{
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), *tc;
	cJSON *out = new_message(mp, "assistant");
	cJSON *blocks = cJSON_GetObjectItemCaseSensitive(out, "content");
	int k = 0;

	if (!out || content_blocks(blocks, cJSON_GetObjectItemCaseSensitive(m, "content")) < 0)
		return err_nomem(mp->e);
	if (!cJSON_IsArray(calls))
		calls = NULL;
	cJSON_ArrayForEach(tc, calls) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
		cJSON *b, *input = call_input(fn, i, k++, mp->e);
		if (!input)
			return mp->e->status ? -1 : err_nomem(mp->e);
		if (!(b = cJSON_CreateObject())) {
			cJSON_Delete(input);
			return err_nomem(mp->e);
		}
		cJSON_AddItemToArray(blocks, b);
		cJSON_AddItemToObject(b, "input", input);
		if (!cJSON_AddStringToObject(b, "type", "tool_use") ||
		    !cJSON_AddStringToObject(b, "id", cJSON_IsString(id) ? id->valuestring : "") ||
		    !cJSON_AddStringToObject(b, "name",
					     cJSON_IsString(name) ? name->valuestring : "") ||
		    (cJSON_IsString(id) &&
		     !cJSON_AddItemToArray(mp->call_ids, cJSON_CreateString(id->valuestring))))
			return err_nomem(mp->e);
	}
	if (!cJSON_GetArraySize(blocks)) /* nothing to say: leave the turn out */
		cJSON_DeleteItemFromArray(mp->msgs, cJSON_GetArraySize(mp->msgs) - 1);
	mp->in_results = false;
	return 0;
}

/* A tool result: a tool_result block answering an earlier tool_use, in one
 * user turn with the results right before it. */
static int map_tool_result(struct an_map *mp, const cJSON *m, int i)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id"), *known;
	struct buf text = BUF_INIT;
	cJSON *turn, *b;
	bool found = false;

	cJSON_ArrayForEach(known, mp->call_ids) {
		if (cJSON_IsString(id) && !strcmp(known->valuestring, id->valuestring))
			found = true;
	}
	if (!found)
		return err_set(mp->e, 400, ERR_INVALID_REQUEST,
			       "`messages[%d].tool_call_id` answers no earlier tool call.", i);
	turn = mp->in_results ? cJSON_GetArrayItem(mp->msgs, cJSON_GetArraySize(mp->msgs) - 1)
			      : new_message(mp, "user");
	if (!turn || !(b = cJSON_CreateObject()))
		return err_nomem(mp->e);
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(turn, "content"), b);
	mp->in_results = true;
	if (!cJSON_AddStringToObject(b, "type", "tool_result") ||
	    !cJSON_AddStringToObject(b, "tool_use_id", id->valuestring) || msg_text(m, &text) < 0 ||
	    (text.len && !cJSON_AddStringToObject(b, "content", buf_str(&text)))) {
		buf_free(&text);
		return err_nomem(mp->e);
	}
	buf_free(&text);
	return 0;
}

/* A user turn: its text and images (none: left out). */
static int map_user(struct an_map *mp, const cJSON *m)
{
	cJSON *out = new_message(mp, "user");

	if (!out || content_blocks(cJSON_GetObjectItemCaseSensitive(out, "content"),
				   cJSON_GetObjectItemCaseSensitive(m, "content")) < 0)
		return err_nomem(mp->e);
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "content")))
		cJSON_DeleteItemFromArray(mp->msgs, cJSON_GetArraySize(mp->msgs) - 1);
	mp->in_results = false;
	return 0;
}

/* The OpenAI conversation as Messages API messages into msgs. */
static int map_messages(cJSON *msgs, const cJSON *messages, struct err *e)
{
	struct an_map mp = {.msgs = msgs, .call_ids = cJSON_CreateArray(), .e = e};
	const cJSON *m;
	int i = 0, rc = 0;

	if (!mp.call_ids)
		return err_nomem(e);
	cJSON_ArrayForEach(m, messages) {
		const char *role = msg_role(m);
		if (!role)
			rc = 0;
		else if (!strcmp(role, "tool"))
			rc = map_tool_result(&mp, m, i);
		else if (!strcmp(role, "assistant"))
			rc = map_assistant(&mp, m, i);
		else
			rc = map_user(&mp, m);
		if (rc < 0)
			break;
		i++;
	}
	cJSON_Delete(mp.call_ids);
	return rc;
}

/* One Messages API tool: {name, description, input_schema}; schema NULL:
 * any object. */
static int add_tool(cJSON *tools, const char *name, const char *description, const cJSON *schema)
{
	cJSON *a = cJSON_CreateObject();
	cJSON *s = schema ? cJSON_Duplicate(schema, 1) : cJSON_Parse("{\"type\":\"object\"}");

	if (!a || !s) {
		cJSON_Delete(a);
		cJSON_Delete(s);
		return -1;
	}
	cJSON_AddItemToArray(tools, a);
	cJSON_AddItemToObject(a, "input_schema", s);
	if (!cJSON_AddStringToObject(a, "name", name) ||
	    (description && !cJSON_AddStringToObject(a, "description", description)))
		return -1;
	return 0;
}

/*
 * tools, tool_choice and parallel_tool_calls in the Messages API's terms,
 * plus the answer tool when response_format asks for JSON: alone, it is
 * forced; beside the client's tools, some tool must be called (the answer
 * or a client tool), unless tool_choice names one.  Sets *forced when a
 * tool is forced.  0, or -1 with e (400: the schema's name is a client
 * tool's; 500).
 */
static int map_tools(cJSON *body, const cJSON *params, bool *forced, struct err *e)
{
	const cJSON *choice = cJSON_GetObjectItemCaseSensitive(params, "tool_choice");
	const cJSON *parallel = cJSON_GetObjectItemCaseSensitive(params, "parallel_tool_calls");
	const char *c = cJSON_IsString(choice) ? choice->valuestring : NULL;
	const cJSON *schema;
	const char *answer = answer_tool(params, &schema);
	/* the client's tools, or NULL when none are offered to the model */
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(params, "tools"), *t;
	bool client;

	if (answer && c && !strcmp(c, "none"))
		tools = NULL;
	client = cJSON_GetArraySize(tools) > 0;
	const char *type;
	cJSON *out, *tc;

	*forced = false;
	if (!client && !answer)
		return 0;
	if (!(out = cJSON_AddArrayToObject(body, "tools")))
		return err_nomem(e);
	cJSON_ArrayForEach(t, tools) {
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
		const cJSON *desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
		const char *name = cJSON_GetObjectItemCaseSensitive(fn, "name")->valuestring;
		if (answer && !strcmp(name, answer))
			return err_set(
				e, 400, ERR_INVALID_REQUEST,
				"`response_format.json_schema.name` '%s' is also the name of "
				"one of `tools`: this agent's provider kind (%s) is given the "
				"schema as a tool.",
				answer, cfg_api_name(CFG_API_ANTHROPIC));
		if (add_tool(out, name, cJSON_IsString(desc) ? desc->valuestring : NULL,
			     cJSON_GetObjectItemCaseSensitive(fn, "parameters")) < 0)
			return err_nomem(e);
	}
	if (answer &&
	    add_tool(out, answer, "Give your whole answer as this tool's input.", schema) < 0)
		return err_nomem(e);
	if (!(tc = cJSON_AddObjectToObject(body, "tool_choice")))
		return err_nomem(e);
	if (cJSON_IsObject(choice)) {
		answer = cJSON_GetObjectItemCaseSensitive(
				 cJSON_GetObjectItemCaseSensitive(choice, "function"), "name")
				 ->valuestring;
		type = "tool";
	} else if (answer) {
		type = client ? "any" : "tool";
	} else {
		type = !c || !strcmp(c, "auto") ? "auto" : !strcmp(c, "required") ? "any" : "none";
	}
	*forced = !strcmp(type, "any") || !strcmp(type, "tool");
	if (!cJSON_AddStringToObject(tc, "type", type) ||
	    (!strcmp(type, "tool") && !cJSON_AddStringToObject(tc, "name", answer)) ||
	    (cJSON_IsFalse(parallel) && strcmp(type, "none") &&
	     !cJSON_AddBoolToObject(tc, "disable_parallel_tool_use", 1)))
		return err_nomem(e);
	return 0;
}

/* reasoning_effort as a thinking budget in tokens (Anthropic's smallest is
 * 1024); "none" asks for no thinking. */
static const struct {
	const char *effort;
	long budget;
} budgets[] = {
	{"none", 0},	  {"minimal", 1024}, {"low", 2048},
	{"medium", 8192}, {"high", 16384},   {"xhigh", 24576},
};

/* Whether the conversation ends in tool results: a tool use cycle goes on. */
static bool in_tool_cycle(const cJSON *messages)
{
	const cJSON *last = cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1);

	return msg_role(last) && !strcmp(msg_role(last), "tool");
}

/*
 * reasoning_effort as extended thinking: {"type":"enabled","budget_tokens"}.
 * The budget must stay below max_tokens: a max_tokens the client set
 * bounds it (the answer shares it, as in OpenAI's max_completion_tokens);
 * the default one grows by the budget.  Not sent while a tool use cycle
 * goes on (the API wants its signed thinking blocks back then, and clients
 * do not keep them).  *thinking: it was sent.  0, or -1 with e (400: an
 * effort Anthropic has no budget for, a forced tool, a max_tokens below
 * the smallest budget; 500).
 */
static int map_thinking(cJSON *body, const struct prov_request *rq, const char *max_field,
			long *max_tokens, bool forced, bool *thinking, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rq->params, "reasoning_effort");
	const char *kind = cJSON_IsString(v) ? cfg_api_name(rq->provider->api) : NULL;
	long budget = -1;
	cJSON *th;

	*thinking = false;
	if (!kind)
		return 0;
	for (size_t k = 0; k < sizeof budgets / sizeof *budgets; k++)
		if (!strcmp(budgets[k].effort, v->valuestring))
			budget = budgets[k].budget;
	if (budget < 0)
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`reasoning_effort` must be \"none\", \"minimal\", \"low\", "
			       "\"medium\", \"high\" or \"xhigh\" for this agent's provider kind "
			       "(%s).",
			       kind);
	if (!budget || in_tool_cycle(rq->messages))
		return 0;
	if (forced)
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`reasoning_effort` cannot be combined with a forced tool "
			       "(`tool_choice` \"required\" or named, or `response_format` JSON) "
			       "on this agent's provider kind (%s): it does not think while a tool "
			       "is forced.",
			       kind);
	if (max_field && *max_tokens <= budgets[1].budget)
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`%s` must be above %ld when `reasoning_effort` asks this agent's "
			       "provider kind (%s) to think: that is its smallest thinking budget.",
			       max_field, budgets[1].budget, kind);
	if (max_field && budget >= *max_tokens)
		budget = *max_tokens - 1;
	else if (!max_field)
		*max_tokens += budget;
	if (!(th = cJSON_AddObjectToObject(body, "thinking")) ||
	    !cJSON_AddStringToObject(th, "type", "enabled") ||
	    !cJSON_AddNumberToObject(th, "budget_tokens", (double)budget))
		return err_nomem(e);
	*thinking = true;
	return 0;
}

/* Whether s is only whitespace (or empty), as Unicode counts it: the
 * Messages API refuses such a stop sequence. */
static bool all_space(const char *s)
{
	size_t n = strlen(s), k;
	unsigned long cp;

	for (; n; s += k, n -= k) {
		if (!(k = utf8_decode(s, n, &cp)))
			return false;
		if (!((cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 ||
		      cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
		      cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000))
			return false;
	}
	return true;
}

/* stop (a string or strings) as stop_sequences, leaving out those that are
 * only whitespace (none left: no stop_sequences).  0, or -1 out of memory. */
static int map_stop_sequences(cJSON *body, const cJSON *stop)
{
	cJSON *seq = cJSON_CreateArray();
	const cJSON *list = cJSON_IsArray(stop) ? stop : NULL, *s;

	if (!seq)
		return -1;
	if (cJSON_IsString(stop) && !all_space(stop->valuestring) &&
	    !cJSON_AddItemToArray(seq, cJSON_CreateString(stop->valuestring)))
		goto fail;
	cJSON_ArrayForEach(s, list) {
		if (cJSON_IsString(s) && !all_space(s->valuestring) &&
		    !cJSON_AddItemToArray(seq, cJSON_CreateString(s->valuestring)))
			goto fail;
	}
	if (!cJSON_GetArraySize(seq)) {
		cJSON_Delete(seq);
		return 0;
	}
	cJSON_AddItemToObject(body, "stop_sequences", seq);
	return 0;
fail:
	cJSON_Delete(seq);
	return -1;
}

cJSON *prov_anthropic_body(const struct prov_request *rq, struct err *e)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
	const cJSON *v;
	const char *max_field = NULL;
	long max_tokens = rq->provider->max_tokens ? rq->provider->max_tokens : DEFAULT_MAX_TOKENS;
	bool forced, thinking;

	if (!msgs || !cJSON_AddStringToObject(body, "model", rq->model) ||
	    (rq->system_text && rq->system_text[0] &&
	     !cJSON_AddStringToObject(body, "system", rq->system_text))) {
		err_nomem(e);
		goto fail;
	}
	msg_open_all(rq->messages); /* every field of every message is read */
	if (map_messages(msgs, rq->messages, e) < 0 || map_tools(body, rq->params, &forced, e) < 0)
		goto fail;
	if ((v = cJSON_GetObjectItemCaseSensitive(rq->params, "max_completion_tokens")) ||
	    (v = cJSON_GetObjectItemCaseSensitive(rq->params, "max_tokens"))) {
		max_tokens = (long)v->valuedouble;
		max_field = v->string;
	}
	if (map_thinking(body, rq, max_field, &max_tokens, forced, &thinking, e) < 0)
		goto fail;
	cJSON_AddNumberToObject(body, "max_tokens", (double)max_tokens);
	/* thinking takes neither a temperature nor a narrowed top_p */
	if (!thinking && (v = cJSON_GetObjectItemCaseSensitive(rq->params, "temperature")))
		cJSON_AddNumberToObject(body, "temperature", v->valuedouble);
	if (!thinking && (v = cJSON_GetObjectItemCaseSensitive(rq->params, "top_p")))
		cJSON_AddNumberToObject(body, "top_p", v->valuedouble);
	if ((v = cJSON_GetObjectItemCaseSensitive(rq->params, "stop")) &&
	    map_stop_sequences(body, v) < 0) {
		err_nomem(e);
		goto fail;
	}
	/* seed and the penalties have no Messages API equivalent */
	if (!cJSON_AddBoolToObject(body, "stream", rq->stream)) {
		err_nomem(e);
		goto fail;
	}
	return body;
fail:
	cJSON_Delete(body);
	return NULL;
}

int prov_anthropic_run(const struct prov_request *rq, struct prov_sink *sink,
		       struct prov_result *res, struct err *e)
{
	cJSON *body = prov_anthropic_body(rq, e);

	if (!body)
		return -1;
	return phttp_post(rq, sink, res, e, &prov_anthropic_ops, "/v1/messages", body,
			  "x-api-key: ", "anthropic-version: " ANTHROPIC_VERSION);
}
