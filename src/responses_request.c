/*
 * responses_request.c - POST /v1/responses bodies, validated and turned
 * into chat completions requests (see responses_request.h for the map).
 */
#include "responses_request.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_body.h"
#include "utf8.h"

static int bad(struct err *e, const char *fmt, const char *field, const char *what)
{
	err_set(e, 400, ERR_INVALID_REQUEST, fmt, field, what ? what : "");
	return -1;
}

/* The optional member name of o as a string (NULL when absent or null);
 * -1 with e naming path when it is something else. */
static int opt_string(const cJSON *o, const char *name, const char *path, const char **out,
		      struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return bad(e, "`%s` must be a string.%s", path, NULL);
	*out = v->valuestring;
	return 0;
}

/* A text part of a message's content: input_text, output_text, refusal. */
static const char *part_text(const cJSON *part)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");

	if (!t)
		t = cJSON_GetObjectItemCaseSensitive(part, "refusal");
	return cJSON_IsString(t) ? t->valuestring : NULL;
}

/*
 * A message item's content as chat content: a string stays a string; the
 * parts become chat parts (input_text/output_text -> text, input_image ->
 * image_url).  Assistant, system and developer content joins into one
 * string.  New tree or NULL with e.
 */
static cJSON *message_content(const cJSON *content, const char *role, int i, struct err *e)
{
	char path[64];
	const cJSON *part;
	cJSON *parts;
	bool text_only = strcmp(role, "user") != 0;
	int j = 0;

	snprintf(path, sizeof path, "input[%d].content", i);
	if (cJSON_IsString(content))
		return cJSON_CreateString(content->valuestring);
	if (!cJSON_IsArray(content)) {
		bad(e, "`%s` must be a string or an array of content parts.%s", path, NULL);
		return NULL;
	}
	if (!(parts = cJSON_CreateArray())) {
		err_nomem(e);
		return NULL;
	}
	cJSON_ArrayForEach(part, content) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		const char *t = cJSON_IsString(type) ? type->valuestring : "";
		cJSON *p = NULL;

		snprintf(path, sizeof path, "input[%d].content[%d]", i, j++);
		if (!cJSON_IsObject(part) || !cJSON_IsString(type)) {
			bad(e, "`%s` must be an object with a string `type`.%s", path, NULL);
			goto fail;
		}
		if (!strcmp(t, "input_text") || !strcmp(t, "output_text") ||
		    !strcmp(t, "refusal")) {
			if (!part_text(part)) {
				bad(e, "`%s.text` must be a string.%s", path, NULL);
				goto fail;
			}
			p = cJSON_CreateObject();
			if (p && (!cJSON_AddStringToObject(p, "type", "text") ||
				  !cJSON_AddStringToObject(p, "text", part_text(part))))
				cJSON_Delete(p), p = NULL;
		} else if (!strcmp(t, "input_image") && !text_only) {
			const cJSON *url = cJSON_GetObjectItemCaseSensitive(part, "image_url");
			const cJSON *detail = cJSON_GetObjectItemCaseSensitive(part, "detail");
			cJSON *iu;
			if (!cJSON_IsString(url)) {
				bad(e,
				    "`%s.image_url` must be a string (a URL or a data: URI; "
				    "file_id is not supported).%s",
				    path, NULL);
				goto fail;
			}
			p = cJSON_CreateObject();
			iu = p ? cJSON_AddObjectToObject(p, "image_url") : NULL;
			if (!iu || !cJSON_AddStringToObject(p, "type", "image_url") ||
			    !cJSON_AddStringToObject(iu, "url", url->valuestring) ||
			    (cJSON_IsString(detail) &&
			     !cJSON_AddStringToObject(iu, "detail", detail->valuestring)))
				cJSON_Delete(p), p = NULL;
		} else {
			bad(e, "`%s.type` '%s' is not supported here.", path, t);
			goto fail;
		}
		if (!p) {
			err_nomem(e);
			goto fail;
		}
		cJSON_AddItemToArray(parts, p);
	}
	if (text_only) {
		/* one string: chat's assistant and system content */
		size_t n = 0;
		char *joined;
		cJSON_ArrayForEach(part, parts)
			n += strlen(part_text(part));
		if (!(joined = calloc(1, n + 1))) {
			err_nomem(e);
			goto fail;
		}
		cJSON_ArrayForEach(part, parts)
			strcat(joined, part_text(part));
		cJSON_Delete(parts);
		parts = cJSON_CreateString(joined);
		free(joined);
		if (!parts)
			err_nomem(e);
	}
	return parts;
fail:
	cJSON_Delete(parts);
	return NULL;
}

/* The last message of msgs when it is an assistant message (to hang
 * function calls on), else a new one appended.  NULL when out of memory. */
static cJSON *assistant_for_calls(cJSON *msgs)
{
	cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(last, "role");
	cJSON *m;

	if (last && cJSON_IsString(role) && !strcmp(role->valuestring, "assistant"))
		return last;
	if (!(m = cJSON_CreateObject()) || !cJSON_AddStringToObject(m, "role", "assistant") ||
	    !cJSON_AddNullToObject(m, "content")) {
		cJSON_Delete(m);
		return NULL;
	}
	cJSON_AddItemToArray(msgs, m);
	return m;
}

static int function_call_item(cJSON *msgs, const cJSON *item, int i, struct err *e)
{
	char path[48];
	const char *call_id, *name, *args;
	cJSON *m, *calls, *call, *fn;

	snprintf(path, sizeof path, "input[%d].call_id", i);
	if (opt_string(item, "call_id", path, &call_id, e) < 0)
		return -1;
	snprintf(path, sizeof path, "input[%d].name", i);
	if (opt_string(item, "name", path, &name, e) < 0)
		return -1;
	snprintf(path, sizeof path, "input[%d].arguments", i);
	if (opt_string(item, "arguments", path, &args, e) < 0)
		return -1;
	if (!call_id || !name) {
		snprintf(path, sizeof path, "input[%d]", i);
		return bad(e, "`%s`: a function_call needs `call_id` and `name`.%s", path, NULL);
	}
	if (!(m = assistant_for_calls(msgs)))
		return err_nomem(e);
	calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
	if (!calls && !(calls = cJSON_AddArrayToObject(m, "tool_calls")))
		return err_nomem(e);
	call = cJSON_CreateObject();
	if (call)
		cJSON_AddItemToArray(calls, call);
	fn = call ? cJSON_AddObjectToObject(call, "function") : NULL;
	if (!fn || !cJSON_AddStringToObject(call, "id", call_id) ||
	    !cJSON_AddStringToObject(call, "type", "function") ||
	    !cJSON_AddStringToObject(fn, "name", name) ||
	    !cJSON_AddStringToObject(fn, "arguments", args ? args : "{}"))
		return err_nomem(e);
	return 0;
}

static int function_call_output_item(cJSON *msgs, const cJSON *item, int i, struct err *e)
{
	char path[48];
	const char *call_id;
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(item, "output");
	cJSON *m = NULL, *content;

	snprintf(path, sizeof path, "input[%d].call_id", i);
	if (opt_string(item, "call_id", path, &call_id, e) < 0)
		return -1;
	if (!call_id) {
		snprintf(path, sizeof path, "input[%d]", i);
		return bad(e, "`%s`: a function_call_output needs `call_id`.%s", path, NULL);
	}
	if (cJSON_IsString(out)) {
		content = cJSON_CreateString(out->valuestring);
	} else if (cJSON_IsArray(out)) {
		/* a list of input_text parts: the tool's text */
		if (!(content = message_content(out, "tool", i, e)))
			return -1;
	} else {
		snprintf(path, sizeof path, "input[%d].output", i);
		return bad(e, "`%s` must be a string or an array of input_text parts.%s", path,
			   NULL);
	}
	if (!content || !(m = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(m, "role", "tool") ||
	    !cJSON_AddStringToObject(m, "tool_call_id", call_id)) {
		cJSON_Delete(content);
		cJSON_Delete(m);
		return err_nomem(e);
	}
	cJSON_AddItemToObject(m, "content", content);
	cJSON_AddItemToArray(msgs, m);
	return 0;
}

static int message_item(cJSON *msgs, const cJSON *item, int i, struct err *e)
{
	static const char *const roles[] = {"user", "assistant", "system", "developer"};
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(item, "role");
	char path[48];
	cJSON *m, *content;
	bool known = false;

	for (size_t r = 0; r < sizeof roles / sizeof *roles; r++)
		known |= cJSON_IsString(role) && !strcmp(role->valuestring, roles[r]);
	if (!known) {
		snprintf(path, sizeof path, "input[%d].role", i);
		return bad(e, "`%s` must be one of user, assistant, system, developer.%s", path,
			   NULL);
	}
	if (!(content = message_content(cJSON_GetObjectItemCaseSensitive(item, "content"),
					role->valuestring, i, e)))
		return -1;
	if (!(m = cJSON_CreateObject()) || !cJSON_AddStringToObject(m, "role", role->valuestring)) {
		cJSON_Delete(content);
		cJSON_Delete(m);
		return err_nomem(e);
	}
	cJSON_AddItemToObject(m, "content", content);
	cJSON_AddItemToArray(msgs, m);
	return 0;
}

/* input (and instructions first) as chat messages, appended to msgs;
 * input_of[k] is the input item msgs[k] came from (room for msgs as they
 * are and one more message per item; k from *nmsgs on, which counts
 * them). */
static int input_messages(cJSON *msgs, const cJSON *input, int *input_of, int *nmsgs, struct err *e)
{
	const cJSON *item;
	int i = 0;

	if (cJSON_IsString(input)) {
		cJSON *m = cJSON_CreateObject();
		if (!m || !cJSON_AddStringToObject(m, "role", "user") ||
		    !cJSON_AddStringToObject(m, "content", input->valuestring)) {
			cJSON_Delete(m);
			return err_nomem(e);
		}
		cJSON_AddItemToArray(msgs, m);
		input_of[(*nmsgs)++] = 0;
		return 0;
	}
	if (!cJSON_IsArray(input) || !cJSON_GetArraySize(input))
		return bad(e, "`%s` must be a string or a non-empty array of input items.%s",
			   "input", NULL);
	cJSON_ArrayForEach(item, input) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
		const char *t = cJSON_IsString(type) ? type->valuestring : "message";
		const cJSON *last = msgs->child ? msgs->child->prev : NULL;
		char path[32];
		int rc;

		snprintf(path, sizeof path, "input[%d]", i);
		if (!cJSON_IsObject(item))
			return bad(e, "`%s` must be an object.%s", path, NULL);
		if (type && !cJSON_IsString(type))
			return bad(e, "`%s.type` must be a string.%s", path, NULL);
		if (!strcmp(t, "message"))
			rc = message_item(msgs, item, i, e);
		else if (!strcmp(t, "function_call"))
			rc = function_call_item(msgs, item, i, e);
		else if (!strcmp(t, "function_call_output"))
			rc = function_call_output_item(msgs, item, i, e);
		else if (!strcmp(t, "reasoning"))
			rc = 0; /* the model's own earlier reasoning: not sent again */
		else
			return bad(e,
				   "`%s.type` '%s' is not supported: clawcgi takes message, "
				   "function_call, function_call_output and reasoning items.",
				   path, t);
		if (rc < 0)
			return -1;
		if (msgs->child && msgs->child->prev != last) /* a message added */
			input_of[(*nmsgs)++] = i;
		i++;
	}
	return 0;
}

/* tools: flat function tools -> chat's {type, function: {...}}. */
static int translate_tools(cJSON *chat, const cJSON *tools, struct err *e)
{
	static const char *const keep[] = {"name", "description", "parameters", "strict"};
	const cJSON *tool;
	cJSON *out;
	int i = 0;

	if (!tools || cJSON_IsNull(tools))
		return 0;
	if (!cJSON_IsArray(tools))
		return bad(e, "`%s` must be an array.%s", "tools", NULL);
	if (!(out = cJSON_AddArrayToObject(chat, "tools")))
		return err_nomem(e);
	cJSON_ArrayForEach(tool, tools) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(tool, "type");
		char path[32];
		cJSON *t, *fn;

		snprintf(path, sizeof path, "tools[%d]", i++);
		if (!cJSON_IsObject(tool) || !cJSON_IsString(type))
			return bad(e, "`%s` must be an object with a string `type`.%s", path, NULL);
		if (strcmp(type->valuestring, "function"))
			return bad(e,
				   "`%s.type` '%s' is not supported: clawcgi serves function "
				   "tools only.",
				   path, type->valuestring);
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(tool, "name")))
			return bad(e, "`%s.name` must be a string.%s", path, NULL);
		t = cJSON_CreateObject();
		if (t)
			cJSON_AddItemToArray(out, t);
		if (!t || !cJSON_AddStringToObject(t, "type", "function") ||
		    !(fn = cJSON_AddObjectToObject(t, "function")))
			return err_nomem(e);
		for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(tool, keep[k]);
			cJSON *dup;
			if (!v || cJSON_IsNull(v))
				continue;
			if (!(dup = cJSON_Duplicate(v, 1)))
				return err_nomem(e);
			cJSON_AddItemToObject(fn, keep[k], dup);
		}
	}
	return 0;
}

static int translate_tool_choice(cJSON *chat, const cJSON *tc, struct err *e)
{
	const cJSON *type, *name;
	cJSON *o, *fn;

	if (!tc || cJSON_IsNull(tc))
		return 0;
	if (cJSON_IsString(tc)) {
		if (strcmp(tc->valuestring, "auto") && strcmp(tc->valuestring, "none") &&
		    strcmp(tc->valuestring, "required"))
			return bad(e, "`%s` must be auto, none, required or a function.%s",
				   "tool_choice", NULL);
		return cJSON_AddStringToObject(chat, "tool_choice", tc->valuestring) ? 0
										     : err_nomem(e);
	}
	type = cJSON_GetObjectItemCaseSensitive(tc, "type");
	name = cJSON_GetObjectItemCaseSensitive(tc, "name");
	if (!cJSON_IsObject(tc) || !cJSON_IsString(type))
		return bad(e, "`%s` must be a string or an object with a string `type`.%s",
			   "tool_choice", NULL);
	if (strcmp(type->valuestring, "function"))
		return bad(e, "`tool_choice.type` '%s' is not supported: %s", type->valuestring,
			   "clawcgi serves function tools only.");
	if (!cJSON_IsString(name))
		return bad(e, "`%s` must be a string.%s", "tool_choice.name", NULL);
	o = cJSON_AddObjectToObject(chat, "tool_choice");
	fn = o ? cJSON_AddObjectToObject(o, "function") : NULL;
	if (!fn || !cJSON_AddStringToObject(o, "type", "function") ||
	    !cJSON_AddStringToObject(fn, "name", name->valuestring))
		return err_nomem(e);
	return 0;
}

/* text.format -> response_format. */
static int translate_text(cJSON *chat, const cJSON *text, struct err *e)
{
	const cJSON *format, *type;
	cJSON *rf, *js;

	if (!text || cJSON_IsNull(text))
		return 0;
	if (!cJSON_IsObject(text))
		return bad(e, "`%s` must be an object.%s", "text", NULL);
	format = cJSON_GetObjectItemCaseSensitive(text, "format");
	if (!format || cJSON_IsNull(format))
		return 0;
	type = cJSON_GetObjectItemCaseSensitive(format, "type");
	if (!cJSON_IsObject(format) || !cJSON_IsString(type))
		return bad(e, "`%s` must be an object with a string `type`.%s", "text.format",
			   NULL);
	if (!strcmp(type->valuestring, "text"))
		return 0;
	if (!(rf = cJSON_AddObjectToObject(chat, "response_format")))
		return err_nomem(e);
	if (!strcmp(type->valuestring, "json_object"))
		return cJSON_AddStringToObject(rf, "type", "json_object") ? 0 : err_nomem(e);
	if (strcmp(type->valuestring, "json_schema"))
		return bad(e, "`text.format.type` '%s' is not supported: %s", type->valuestring,
			   "use text, json_object or json_schema.");
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(format, "name")))
		return bad(e, "`%s` must be a string.%s", "text.format.name", NULL);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(format, "schema")))
		return bad(e, "`%s` must be an object.%s", "text.format.schema", NULL);
	if (!cJSON_AddStringToObject(rf, "type", "json_schema") ||
	    !(js = cJSON_AddObjectToObject(rf, "json_schema")))
		return err_nomem(e);
	for (const cJSON *f = format->child; f; f = f->next) {
		cJSON *dup;
		if (!strcmp(f->string, "type"))
			continue;
		if (!(dup = cJSON_Duplicate(f, 1)))
			return err_nomem(e);
		cJSON_AddItemToObject(js, f->string, dup);
	}
	return 0;
}

/* A member of body copied to chat under name (as sent), when present. */
static int copy_as(cJSON *chat, const cJSON *body, const char *from, const char *name,
		   struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, from);
	cJSON *dup;

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!(dup = cJSON_Duplicate(v, 1)))
		return err_nomem(e);
	cJSON_AddItemToObject(chat, name, dup);
	return 0;
}

/* The Responses fields clawcgi has no equivalent for, refused rather than
 * silently dropped when they would change the answer. */
static int refuse_unsupported(const cJSON *body, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "background");

	if (cJSON_IsTrue(v))
		return bad(e, "`%s` is not supported: %s", "background",
			   "responses run while the request waits.");
	v = cJSON_GetObjectItemCaseSensitive(body, "conversation");
	if (v && !cJSON_IsNull(v))
		return bad(e, "`%s` is not supported: %s", "conversation",
			   "continue with previous_response_id or x-openclaw-session-key.");
	return 0;
}

/* The chat request's fields from the Responses request's; *input_of
 * (heap, the caller frees it) maps the *nmsgs chat messages to input
 * items (-1: instructions). */
static int parse_fields(struct responses_request *rq, cJSON *chat, int **input_of, int *nmsgs,
			struct err *e)
{
	const cJSON *body = rq->root, *v;
	cJSON *msgs;

	if (!cJSON_IsObject(body))
		return bad(e, "The request body must be a JSON object.%s%s", "", NULL);
	if (refuse_unsupported(body, e) < 0 ||
	    opt_string(body, "model", "model", &rq->model, e) < 0 ||
	    opt_string(body, "instructions", "instructions", &rq->instructions, e) < 0 ||
	    opt_string(body, "previous_response_id", "previous_response_id",
		       &rq->previous_response_id, e) < 0)
		return -1;
	if (!rq->model || !rq->model[0])
		rq->model = "openclaw";
	v = cJSON_GetObjectItemCaseSensitive(body, "stream");
	if (v && !cJSON_IsNull(v) && !cJSON_IsBool(v))
		return bad(e, "`%s` must be a boolean.%s", "stream", NULL);
	rq->stream = cJSON_IsTrue(v);
	v = cJSON_GetObjectItemCaseSensitive(body, "store");
	if (v && !cJSON_IsNull(v) && !cJSON_IsBool(v))
		return bad(e, "`%s` must be a boolean.%s", "store", NULL);
	rq->store = !cJSON_IsFalse(v);
	v = cJSON_GetObjectItemCaseSensitive(body, "metadata");
	if (v && !cJSON_IsNull(v)) {
		const cJSON *kv;
		if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > 16)
			return bad(e, "`%s` must be an object of at most 16 strings.%s", "metadata",
				   NULL);
		cJSON_ArrayForEach(kv, v)
			if (!cJSON_IsString(kv))
				return bad(e, "`metadata.%s` must be a string.%s", kv->string,
					   NULL);
		rq->metadata = v;
	}
	v = cJSON_GetObjectItemCaseSensitive(body, "max_output_tokens");
	if (v && !cJSON_IsNull(v)) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9 ||
		    v->valuedouble != (double)(long)v->valuedouble)
			return bad(e, "`%s` must be a positive integer.%s", "max_output_tokens",
				   NULL);
		rq->max_output_tokens = (long)v->valuedouble;
		if (!cJSON_AddNumberToObject(chat, "max_completion_tokens", v->valuedouble))
			return err_nomem(e);
	}
	v = cJSON_GetObjectItemCaseSensitive(body, "reasoning");
	if (v && !cJSON_IsNull(v)) {
		const cJSON *effort = cJSON_GetObjectItemCaseSensitive(v, "effort");
		if (!cJSON_IsObject(v))
			return bad(e, "`%s` must be an object.%s", "reasoning", NULL);
		if (effort && !cJSON_IsNull(effort) && !cJSON_IsString(effort))
			return bad(e, "`%s` must be a string.%s", "reasoning.effort", NULL);
		if (cJSON_IsString(effort) &&
		    !cJSON_AddStringToObject(chat, "reasoning_effort", effort->valuestring))
			return err_nomem(e);
	}
	v = cJSON_GetObjectItemCaseSensitive(body, "input");
	if (!v || cJSON_IsNull(v))
		return bad(e, "`%s` is required: a string or an array of input items.%s", "input",
			   NULL);
	if (!(msgs = cJSON_AddArrayToObject(chat, "messages")) ||
	    !(*input_of = calloc((size_t)cJSON_GetArraySize(v) + 2, sizeof **input_of)))
		return err_nomem(e);
	if (rq->instructions && rq->instructions[0]) {
		cJSON *sys = cJSON_CreateObject();
		if (!sys || !cJSON_AddStringToObject(sys, "role", "system") ||
		    !cJSON_AddStringToObject(sys, "content", rq->instructions)) {
			cJSON_Delete(sys);
			return err_nomem(e);
		}
		cJSON_AddItemToArray(msgs, sys);
		(*input_of)[(*nmsgs)++] = -1;
	}
	if (input_messages(msgs, v, *input_of, nmsgs, e) < 0 ||
	    translate_tools(chat, cJSON_GetObjectItemCaseSensitive(body, "tools"), e) < 0 ||
	    translate_tool_choice(chat, cJSON_GetObjectItemCaseSensitive(body, "tool_choice"), e) <
		    0 ||
	    translate_text(chat, cJSON_GetObjectItemCaseSensitive(body, "text"), e) < 0)
		return -1;
	if (!cJSON_AddStringToObject(chat, "model", rq->model) ||
	    !cJSON_AddBoolToObject(chat, "stream", rq->stream))
		return err_nomem(e);
	return copy_as(chat, body, "temperature", "temperature", e) < 0 ||
			       copy_as(chat, body, "top_p", "top_p", e) < 0 ||
			       copy_as(chat, body, "parallel_tool_calls", "parallel_tool_calls",
				       e) < 0 ||
			       copy_as(chat, body, "user", "user", e) < 0
		       ? -1
		       : 0;
}

/* The chat request's field names this translation makes, and the
 * Responses fields they come from (a name ending in '.' renames a prefix). */
static const struct {
	const char *chat, *responses;
} renamed[] = {
	{"response_format.json_schema.", "text.format."},  {"response_format", "text.format"},
	{"tool_choice.function.name", "tool_choice.name"}, {"reasoning_effort", "reasoning.effort"},
	{"max_completion_tokens", "max_output_tokens"},	   {"messages", "input"},
};

/*
 * The function_call item that is call k of the assistant message input
 * item i made (i itself a function_call or an assistant message, then its
 * calls: the function_call items after it, reasoning between them), or -1.
 */
static long call_item(const cJSON *input, long i, long k)
{
	const cJSON *item = i <= INT_MAX ? cJSON_GetArrayItem(input, (int)i) : NULL;

	for (bool first = true; item; item = item->next, i++, first = false) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
		const char *t = cJSON_IsString(type) ? type->valuestring : "message";
		if (!strcmp(t, "function_call") && !k--)
			return i;
		if (!first && strcmp(t, "function_call") && strcmp(t, "reasoning"))
			break; /* the message's calls end */
	}
	return -1;
}

/*
 * A chat request's field (name, NUL-terminated) as the Responses field it
 * was made from, appended to out: `messages[N]...` is input item
 * input_of[N] when input_of (n long) knows N (else left as it is), its
 * `.content[J].image_url.url` the part's `image_url`; `tools[N].function.X`
 * is `tools[N].X`; the names of renamed[] theirs.  0, or -1 out of memory.
 */
static int rename_field(const cJSON *input, const char *name, const int *input_of, int n,
			struct buf *out)
{
	char *end;
	long k, j;

	if (!strncmp(name, "input[", 6) && (k = strtol(name + 6, &end, 10)) >= 0 &&
	    !strncmp(end, "].tool_calls[", 13) && (j = strtol(end + 13, &end, 10)) >= 0 &&
	    !strcmp(end, "].function.arguments") && (k = call_item(input, k, j)) >= 0)
		return buf_printf(out, "input[%ld].arguments", k);

	if (!strncmp(name, "tools[", 6) && (k = strtol(name + 6, &end, 10)) >= 0 &&
	    !strncmp(end, "].function.", 11))
		return buf_printf(out, "tools[%ld].%s", k, end + 11);
	if (!strncmp(name, "messages[", 9) && (k = strtol(name + 9, &end, 10)) >= 0 &&
	    *end == ']') {
		const char *rest = end + 1;
		if (!input_of || k >= n || input_of[k] < 0)
			return buf_append_str(out, name);
		if (!strncmp(rest, ".content[", 9) && (j = strtol(rest + 9, &end, 10)) >= 0 &&
		    !strcmp(end, "].image_url.url"))
			return buf_printf(out, "input[%d].content[%ld].image_url", input_of[k], j);
		return buf_printf(out, "input[%d]%s", input_of[k], rest);
	}
	for (size_t r = 0; r < sizeof renamed / sizeof *renamed; r++) {
		size_t len = strlen(renamed[r].chat);
		bool prefix = renamed[r].chat[len - 1] == '.';
		if (prefix ? !strncmp(name, renamed[r].chat, len) : !strcmp(name, renamed[r].chat))
			return buf_printf(out, "%s%s", renamed[r].responses, name + len);
	}
	return buf_append_str(out, name);
}

int responses_request_rename(const struct responses_request *rq, const int *input_of, int n,
			     struct err *e)
{
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(rq->root, "input");

	struct buf msg = BUF_INIT, field = BUF_INIT;
	const char *p = e->message, *q;
	int rc = -1;

	if (e->status < 400 || e->status >= 500 || e->type != ERR_INVALID_REQUEST)
		return 0;
	while ((q = strchr(p, '`')) && strchr(q + 1, '`')) { /* each `name` */
		const char *close = strchr(q + 1, '`');
		char name[128];
		snprintf(name, sizeof name, "%.*s", (int)(close - q - 1), q + 1);
		if (buf_append(&msg, p, (size_t)(q - p + 1)) < 0 ||
		    rename_field(input, name, input_of, n, &msg) < 0 ||
		    buf_append(&msg, "`", 1) < 0)
			goto out;
		p = close + 1;
	}
	if (buf_append_str(&msg, p) < 0)
		goto out;
	if (e->param || e->param_text[0]) {
		char name[sizeof e->param_text];
		snprintf(name, sizeof name, "%s", e->param ? e->param : e->param_text);
		if (rename_field(input, name, input_of, n, &field) < 0)
			goto out;
		err_param(e, "%s", buf_str(&field));
	}
	snprintf(e->message, sizeof e->message, "%s", buf_str(&msg));
	/* a message cut at its size ends on a whole character */
	e->message[strlen(e->message) - utf8_incomplete_tail(e->message, strlen(e->message))] =
		'\0';
	rc = 0;
out:
	buf_free(&msg);
	buf_free(&field);
	return rc < 0 ? err_nomem(e) : 0;
}

int responses_request_parse(const char *body, size_t len, bool allow_image_urls,
			    struct responses_request *rq, struct err *e)
{
	cJSON *chat;
	int *input_of = NULL, nmsgs = 0, rc = -1;

	memset(rq, 0, sizeof *rq);
	if (!(rq->root = json_body_parse(body, len, e)))
		return -1;
	if (!(chat = cJSON_CreateObject()))
		return err_nomem(e);
	if (parse_fields(rq, chat, &input_of, &nmsgs, e) < 0) {
		cJSON_Delete(chat);
		goto out;
	}
	if (chat_request_take(chat, allow_image_urls, &rq->chat, e) < 0) {
		/* its 400s name the translation's fields: say the request's */
		responses_request_rename(rq, input_of, nmsgs, e);
		goto out;
	}
	/* the turn names its messages as input items */
	for (int k = 0, n = cJSON_GetArraySize(rq->chat.messages); k < n; k++)
		rq->chat.origin[k] = input_of[rq->chat.origin[k]];
	rc = 0;
out:
	free(input_of);
	return rc;
}

void responses_request_free(struct responses_request *rq)
{
	chat_request_free(&rq->chat);
	cJSON_Delete(rq->root);
	memset(rq, 0, sizeof *rq);
}
