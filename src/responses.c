/*
 * responses.c - the Responses API (the OpenAI API reference, "Responses",
 * and its streaming events): POST /v1/responses runs one agent turn on the
 * request responses_request.c translated, and answers with a response
 * object, or with its stream of named Server-Sent Events; GET and DELETE
 * /v1/responses/{id} read and forget the ones the store keeps.
 *
 * The output items are put together as the answer arrives, by the same
 * code whether they are streamed or not: a reasoning item while the model
 * reasons, a message item while it writes text, a function_call item per
 * tool call.  A streamed response announces each item when it begins
 * (response.output_item.added), its pieces as they come, and the item
 * whole when it ends (response.output_item.done); the last event,
 * response.completed (or .incomplete, .failed), carries the response.
 */
#include "responses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "auth.h"
#include "log.h"
#include "responses_request.h"
#include "store.h"

#define MAX_ITEMS 256 /* output items of one response */

enum item_kind { ITEM_NONE, ITEM_REASONING, ITEM_MESSAGE, ITEM_CALL };

struct item {
	enum item_kind kind;
	char id[64];
	struct buf text; /* reasoning or message text, or the call's arguments */
	char *call_id, *name;
	int chat_index; /* the call's index among the chat tool calls */
	bool done;
	bool cut; /* ended by the limit or a failure before it was whole: status incomplete */
};

/* One response being put together (and streamed when r is set). */
struct response {
	char id[48]; /* resp_<32 hex> */
	char hex[33];
	time_t created;
	const struct responses_request *rq;
	const char *previous_id;
	bool forked; /* the turn's session is a branch made for it */
	struct agent_turn *t;
	struct http_req *r;
	bool stream; /* the events go to r as they come; else nothing is sent */
	long seq;    /* the next event's sequence_number */
	int keepalive_seconds;
	time_t last_write;
	struct item items[MAX_ITEMS];
	int nitems;
	int open; /* the reasoning or message item text goes to, or -1 */
};

/* ---- the response object ---- */

static cJSON *add_int(cJSON *o, const char *name, long long v)
{
	return cJSON_AddNumberToObject(o, name, (double)v);
}

static cJSON *text_part(const char *type, const char *text)
{
	cJSON *p = cJSON_CreateObject();

	if (!p || !cJSON_AddStringToObject(p, "type", type) ||
	    (!strcmp(type, "output_text") && (!cJSON_AddArrayToObject(p, "annotations") ||
					      !cJSON_AddArrayToObject(p, "logprobs"))) ||
	    !cJSON_AddStringToObject(p, "text", text)) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* Item i as the API shows it (status "in_progress" until done, then
 * "completed", or "incomplete" when it was cut). */
static cJSON *item_json(const struct item *it)
{
	cJSON *o = cJSON_CreateObject(), *content;
	const char *status = !it->done ? "in_progress" : it->cut ? "incomplete" : "completed";
	const char *text = buf_str(&it->text);

	if (!o || !cJSON_AddStringToObject(o, "id", it->id))
		goto fail;
	switch (it->kind) {
	case ITEM_REASONING:
		if (!cJSON_AddStringToObject(o, "type", "reasoning") ||
		    !cJSON_AddArrayToObject(o, "summary") ||
		    !(content = cJSON_AddArrayToObject(o, "content")))
			goto fail;
		if (it->done)
			cJSON_AddItemToArray(content, text_part("reasoning_text", text));
		break;
	case ITEM_MESSAGE:
		if (!cJSON_AddStringToObject(o, "type", "message") ||
		    !cJSON_AddStringToObject(o, "status", status) ||
		    !cJSON_AddStringToObject(o, "role", "assistant") ||
		    !(content = cJSON_AddArrayToObject(o, "content")))
			goto fail;
		if (it->done)
			cJSON_AddItemToArray(content, text_part("output_text", text));
		break;
	case ITEM_CALL:
		if (!cJSON_AddStringToObject(o, "type", "function_call") ||
		    !cJSON_AddStringToObject(o, "status", status) ||
		    !cJSON_AddStringToObject(o, "arguments", it->done ? text : "") ||
		    !cJSON_AddStringToObject(o, "call_id", it->call_id ? it->call_id : "") ||
		    !cJSON_AddStringToObject(o, "name", it->name ? it->name : ""))
			goto fail;
		break;
	default:
		goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* A member of the request copied into o, or value null. */
static void echo_field(cJSON *o, const cJSON *body, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
	cJSON *dup = v && !cJSON_IsNull(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

	if (dup)
		cJSON_AddItemToObject(o, name, dup);
}

/*
 * The request's tools as the response shows them: a function tool's strict
 * is false when the request did not say (the reference: whether strict
 * parameter validation is enforced; clawcgi sends the tool upstream as it
 * came, so without strict the upstream's default, not strict, holds).  New
 * tree, or NULL when out of memory.
 */
static cJSON *tools_json(const cJSON *tools)
{
	cJSON *out = cJSON_IsArray(tools) ? cJSON_Duplicate(tools, 1) : cJSON_CreateArray(), *t;

	cJSON_ArrayForEach(t, out) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
		const cJSON *strict = cJSON_GetObjectItemCaseSensitive(t, "strict");
		if (!cJSON_IsString(type) || strcmp(type->valuestring, "function") ||
		    cJSON_IsBool(strict))
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(t, "strict");
		if (!cJSON_AddFalseToObject(t, "strict")) {
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}

/* The ResponseErrorCode (the reference's list) of a failure: the limit's,
 * a request's, or the server's. */
static const char *error_code(const struct err *e)
{
	if (e->status == 429)
		return "rate_limit_exceeded";
	return e->status >= 400 && e->status < 500 ? "invalid_prompt" : "server_error";
}

/* status and incomplete_details of a finished turn. */
static const char *final_status(const struct agent_turn *t, const char **reason)
{
	*reason = NULL;
	if (t->res.cancelled)
		return "cancelled";
	if (!strcmp(t->res.finish_reason, "length"))
		*reason = "max_output_tokens";
	else if (!strcmp(t->res.finish_reason, "content_filter"))
		*reason = "content_filter";
	return *reason ? "incomplete" : "completed";
}

/*
 * ResponseUsage: input_tokens_details and output_tokens_details are
 * required, so a count the upstream did not give is 0 there; a count it gave
 * is its own.  New tree, or NULL when out of memory.
 */
static cJSON *usage_json(const struct prov_usage *u)
{
	cJSON *usage = cJSON_CreateObject(), *d;

	if (!usage || !add_int(usage, "input_tokens", u->prompt_tokens) ||
	    !(d = cJSON_AddObjectToObject(usage, "input_tokens_details")) ||
	    !add_int(d, "cached_tokens", prov_usage_detail(u, PROV_CACHED_TOKENS)) ||
	    !add_int(d, "cache_write_tokens", prov_usage_detail(u, PROV_CACHE_WRITE_TOKENS)) ||
	    !add_int(usage, "output_tokens", u->completion_tokens) ||
	    !(d = cJSON_AddObjectToObject(usage, "output_tokens_details")) ||
	    !add_int(d, "reasoning_tokens", prov_usage_detail(u, PROV_REASONING_TOKENS)) ||
	    !add_int(usage, "total_tokens",
		     u->total_tokens ? u->total_tokens : u->prompt_tokens + u->completion_tokens)) {
		cJSON_Delete(usage);
		return NULL;
	}
	return usage;
}

/*
 * The response object: status "in_progress" (no output, no usage), the
 * finished turn's status, or "failed" with e.  New tree, or NULL.
 */
static cJSON *response_json(const struct response *rs, const char *status, const char *reason,
			    const struct err *e)
{
	const cJSON *body = rs->rq->root;
	const struct agent_turn *t = rs->t;
	bool over = strcmp(status, "in_progress") != 0;
	cJSON *o = cJSON_CreateObject(), *output, *x;
	struct buf text = BUF_INIT;

	if (!o || !cJSON_AddStringToObject(o, "id", rs->id) ||
	    !cJSON_AddStringToObject(o, "object", "response") ||
	    !add_int(o, "created_at", (long long)rs->created) ||
	    !cJSON_AddStringToObject(o, "status", status) ||
	    !cJSON_AddBoolToObject(o, "background", 0))
		goto fail;
	if (e) {
		x = cJSON_AddObjectToObject(o, "error");
		if (!x || !cJSON_AddStringToObject(x, "code", error_code(e)) ||
		    !cJSON_AddStringToObject(x, "message", e->message))
			goto fail;
	} else {
		cJSON_AddNullToObject(o, "error");
	}
	if (reason) {
		x = cJSON_AddObjectToObject(o, "incomplete_details");
		if (!x || !cJSON_AddStringToObject(x, "reason", reason))
			goto fail;
	} else {
		cJSON_AddNullToObject(o, "incomplete_details");
	}
	echo_field(o, body, "instructions");
	echo_field(o, body, "max_output_tokens");
	if (rs->rq->metadata)
		cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(rs->rq->metadata, 1));
	else
		cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(o, "model", rs->rq->model);
	if (!(output = cJSON_AddArrayToObject(o, "output")))
		goto fail;
	for (int i = 0; over && i < rs->nitems; i++) {
		const struct item *it = &rs->items[i];
		if (!(x = item_json(it)))
			goto fail;
		cJSON_AddItemToArray(output, x);
		if (it->kind == ITEM_MESSAGE)
			buf_append(&text, it->text.data ? it->text.data : "", it->text.len);
	}
	if (!cJSON_AddStringToObject(o, "output_text", buf_str(&text)))
		goto fail;
	x = cJSON_GetObjectItemCaseSensitive(body, "parallel_tool_calls");
	cJSON_AddBoolToObject(o, "parallel_tool_calls", !cJSON_IsFalse(x));
	if (rs->previous_id)
		cJSON_AddStringToObject(o, "previous_response_id", rs->previous_id);
	else
		cJSON_AddNullToObject(o, "previous_response_id");
	echo_field(o, body, "reasoning");
	cJSON_AddBoolToObject(o, "store", rs->rq->store);
	echo_field(o, body, "temperature");
	x = cJSON_GetObjectItemCaseSensitive(body, "text");
	if (cJSON_IsObject(x)) {
		cJSON_AddItemToObject(o, "text", cJSON_Duplicate(x, 1));
	} else if (!(x = cJSON_AddObjectToObject(o, "text")) ||
		   !(x = cJSON_AddObjectToObject(x, "format")) ||
		   !cJSON_AddStringToObject(x, "type", "text")) {
		goto fail;
	}
	x = cJSON_GetObjectItemCaseSensitive(body, "tool_choice");
	if (x && !cJSON_IsNull(x))
		cJSON_AddItemToObject(o, "tool_choice", cJSON_Duplicate(x, 1));
	else
		cJSON_AddStringToObject(o, "tool_choice", "auto");
	if (!(x = tools_json(cJSON_GetObjectItemCaseSensitive(body, "tools"))))
		goto fail;
	cJSON_AddItemToObject(o, "tools", x);
	echo_field(o, body, "top_p");
	cJSON_AddStringToObject(o, "truncation", "disabled");
	if (over && !e) {
		cJSON *usage = usage_json(&t->res.usage);
		if (!usage || !cJSON_AddItemToObject(o, "usage", usage)) {
			cJSON_Delete(usage);
			goto fail;
		}
	} else {
		cJSON_AddNullToObject(o, "usage");
	}
	/* usage (none yet, or a failure's) and user are left out, not null:
	 * the reference has them an object and a string */
	if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "usage")))
		cJSON_DeleteItemFromObjectCaseSensitive(o, "usage");
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(body, "user")))
		echo_field(o, body, "user");
	buf_free(&text);
	return o;
fail:
	buf_free(&text);
	cJSON_Delete(o);
	return NULL;
}

/* ---- events ---- */

/* Send o (its "type" first) with the next sequence_number; takes o.  A
 * response that is not streamed sends nothing. */
static int emit(struct response *rs, cJSON *o)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
	char *text;
	int rc = -1;

	if (!rs->stream) {
		cJSON_Delete(o);
		return 0;
	}
	if (o && cJSON_IsString(type) && add_int(o, "sequence_number", rs->seq++) &&
	    (text = cJSON_PrintUnformatted(o))) {
		rc = http_send_named_event(rs->r, type->valuestring, text);
		free(text);
	}
	cJSON_Delete(o);
	rs->last_write = time(NULL);
	return rc;
}

/* {"type": type, "item_id", "output_index" (, "content_index": 0)}. */
static cJSON *event_for(const char *type, const struct response *rs, int i, bool content_index)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "type", type) ||
	    !cJSON_AddStringToObject(o, "item_id", rs->items[i].id) ||
	    !add_int(o, "output_index", i) || (content_index && !add_int(o, "content_index", 0))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* response.output_item.added / .done for item i. */
static int emit_item(struct response *rs, const char *type, int i)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "type", type) || !add_int(o, "output_index", i)) {
		cJSON_Delete(o);
		return -1;
	}
	cJSON_AddItemToObject(o, "item", item_json(&rs->items[i]));
	return emit(rs, o);
}

/* A text part event: content_part.added/.done with part, or a text
 * delta/done with field: value. */
static int emit_text(struct response *rs, const char *type, int i, const char *field,
		     const char *value, size_t len)
{
	cJSON *o = event_for(type, rs, i, true);
	char *copy = strndup(value, len);
	int ok = o && copy && cJSON_AddStringToObject(o, field, copy);

	free(copy);
	if (ok && rs->items[i].kind == ITEM_MESSAGE && strcmp(field, "part"))
		ok = cJSON_AddArrayToObject(o, "logprobs") != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return -1;
	}
	return emit(rs, o);
}

static int emit_part(struct response *rs, const char *type, int i, const char *text)
{
	cJSON *o = event_for(type, rs, i, true);
	cJSON *p = text_part(rs->items[i].kind == ITEM_MESSAGE ? "output_text" : "reasoning_text",
			     text);

	if (!o || !p) {
		cJSON_Delete(o);
		cJSON_Delete(p);
		return -1;
	}
	cJSON_AddItemToObject(o, "part", p);
	return emit(rs, o);
}

/* A new item of kind (its .added events sent): for a call, call is its
 * first chat tool call piece.  Its index, or -1. */
static int item_open(struct response *rs, enum item_kind kind, const cJSON *call)
{
	static const char *const prefix[] = {"", "rs", "msg", "fc"};
	int i = rs->nitems;
	struct item *it;

	if (i >= MAX_ITEMS)
		return -1;
	it = &rs->items[rs->nitems++];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	buf_init(&it->text);
	snprintf(it->id, sizeof it->id, "%s_%s%03d", prefix[kind], rs->hex, i);
	if (call) {
		const cJSON *index = cJSON_GetObjectItemCaseSensitive(call, "index");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
		it->chat_index = cJSON_IsNumber(index) ? index->valueint : 0;
		it->call_id = strdup(cJSON_IsString(id) ? id->valuestring : "");
		it->name = strdup(cJSON_IsString(name) ? name->valuestring : "");
		if (!it->call_id || !it->name)
			return -1;
	}
	if (emit_item(rs, "response.output_item.added", i) < 0)
		return -1;
	if (kind != ITEM_CALL && emit_part(rs, "response.content_part.added", i, "") < 0)
		return -1;
	return i;
}

/* Item i is whole: its .done events. */
static int item_close(struct response *rs, int i)
{
	struct item *it = &rs->items[i];
	const char *text = buf_str(&it->text);
	int rc = 0;

	if (it->done)
		return 0;
	it->done = true;
	if (it->kind == ITEM_MESSAGE)
		rc = emit_text(rs, "response.output_text.done", i, "text", text, strlen(text)) <
					     0 ||
				     emit_part(rs, "response.content_part.done", i, text) < 0
			     ? -1
			     : 0;
	else if (it->kind == ITEM_REASONING)
		rc = emit_text(rs, "response.reasoning_text.done", i, "text", text, strlen(text)) <
					     0 ||
				     emit_part(rs, "response.content_part.done", i, text) < 0
			     ? -1
			     : 0;
	else if (it->kind == ITEM_CALL) {
		cJSON *o = event_for("response.function_call_arguments.done", rs, i, false);
		if (!o || !cJSON_AddStringToObject(o, "arguments", text) ||
		    !cJSON_AddStringToObject(o, "name", it->name ? it->name : "")) {
			cJSON_Delete(o);
			return -1;
		}
		rc = emit(rs, o);
	}
	return rc < 0 ? -1 : emit_item(rs, "response.output_item.done", i);
}

/* Text of kind (reasoning or message) into the open item of that kind. */
static int add_text(struct response *rs, enum item_kind kind, const char *s, size_t n)
{
	int i = rs->open;

	if (!n)
		return 0;
	if (i < 0 || rs->items[i].kind != kind) {
		if (i >= 0 && item_close(rs, i) < 0)
			return -1;
		if ((rs->open = i = item_open(rs, kind, NULL)) < 0)
			return -1;
	}
	if (buf_append(&rs->items[i].text, s, n) < 0)
		return -1;
	return emit_text(rs,
			 kind == ITEM_MESSAGE ? "response.output_text.delta"
					      : "response.reasoning_text.delta",
			 i, "delta", s, n);
}

/* Pieces of chat tool calls: [{index, id, function: {name, arguments}}]. */
static int add_calls(struct response *rs, const cJSON *calls)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, calls) {
		const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "index");
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
		int chat_index = cJSON_IsNumber(index) ? index->valueint : 0, i;

		struct item *it = NULL;

		for (i = 0; i < rs->nitems && !it; i++)
			if (rs->items[i].kind == ITEM_CALL && rs->items[i].chat_index == chat_index)
				it = &rs->items[i];
		if (!it) {
			if (rs->open >= 0 && item_close(rs, rs->open) < 0)
				return -1;
			rs->open = -1;
			if ((i = item_open(rs, ITEM_CALL, c)) < 0)
				return -1;
			it = &rs->items[i];
		}
		i = (int)(it - rs->items);
		if (cJSON_IsString(args) && args->valuestring[0]) {
			cJSON *o =
				event_for("response.function_call_arguments.delta", rs, i, false);
			if (buf_append(&it->text, args->valuestring, strlen(args->valuestring)) <
				    0 ||
			    !o || !cJSON_AddStringToObject(o, "delta", args->valuestring)) {
				cJSON_Delete(o);
				return -1;
			}
			if (emit(rs, o) < 0)
				return -1;
		}
	}
	return 0;
}

/* Every item whole (at the end of the answer). */
static int close_all(struct response *rs)
{
	for (int i = 0; i < rs->nitems; i++)
		if (item_close(rs, i) < 0 && rs->stream)
			return -1;
	rs->open = -1;
	return 0;
}

static void response_free(struct response *rs)
{
	for (int i = 0; i < rs->nitems; i++) {
		buf_free(&rs->items[i].text);
		free(rs->items[i].call_id);
		free(rs->items[i].name);
	}
	rs->nitems = 0;
}

/* ---- the sink: every piece of the answer goes into the items ---- */

static int sink_start(struct prov_sink *s)
{
	struct response *rs = s->ctx;
	cJSON *o;

	if (!rs->stream)
		return 0;
	if (http_send_headers(rs->r, 200, "text/event-stream; charset=utf-8",
			      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n") < 0)
		return -1;
	for (int k = 0; k < 2; k++) {
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddStringToObject(
				  o, "type", k ? "response.in_progress" : "response.created")) {
			cJSON_Delete(o);
			return -1;
		}
		cJSON_AddItemToObject(o, "response", response_json(rs, "in_progress", NULL, NULL));
		if (emit(rs, o) < 0)
			return -1;
	}
	return 0;
}

static int sink_delta(struct prov_sink *s, const struct prov_delta *d)
{
	struct response *rs = s->ctx;

	if (d->choice != 0)
		return 0; /* the Responses API has one answer */
	if (d->reasoning && add_text(rs, ITEM_REASONING, d->reasoning, d->reasoning_len) < 0)
		return -1;
	if (d->content && add_text(rs, ITEM_MESSAGE, d->content, d->content_len) < 0)
		return -1;
	if (d->tool_calls && add_calls(rs, d->tool_calls) < 0)
		return -1;
	return 0;
}

/* Keep-alive comments on a stream; a client gone cancels either way. */
static int sink_idle(struct prov_sink *s)
{
	struct response *rs = s->ctx;

	return http_stream_idle(rs->r, rs->stream ? rs->keepalive_seconds : 0, &rs->last_write);
}

/* The whole response object of the finished turn (agent_turn's hook: it
 * is kept in the store with the turn). */
static cJSON *finished_response(const struct agent_turn *t, void *ctx)
{
	struct response *rs = ctx;
	const char *reason, *status = final_status(t, &reason);

	if (!rs->nitems && !t->res.cancelled)
		rs->open = item_open(rs, ITEM_MESSAGE, NULL); /* no output: an empty message */
	if (!strcmp(status, "incomplete") && rs->nitems)
		rs->items[rs->nitems - 1].cut = true; /* the item the limit ended */
	close_all(rs);
	return response_json(rs, status, reason, NULL);
}

/* ---- the handlers ---- */

static const char *request_header(const void *r, const char *name)
{
	return http_header(r, name);
}

static int no_response(struct err *e, const char *id, const char *param)
{
	err_set(e, 404, ERR_INVALID_REQUEST,
		"No response with id '%.100s': it was never stored, was deleted, or its "
		"conversation expired.",
		id);
	e->param = param;
	return -1;
}

/* This response's own session, "agent:<id>:openai-response:<hex>" in the
 * client's scope (agent_scope_key): a new string, or NULL with e. */
static char *own_session(const struct response *rs, struct err *e)
{
	char *key = malloc(AGENT_SESSION_KEY_MAX + 1);

	if (!key) {
		err_nomem(e);
		return NULL;
	}
	snprintf(key, AGENT_SESSION_KEY_MAX + 1, "agent:%s:openai-response:%s", rs->t->agent->id,
		 rs->hex);
	if (agent_scope_key(rs->r->client ? rs->r->client->scope : NULL, &key, e) < 0) {
		free(key);
		return NULL;
	}
	return key;
}

/* The wait for a held session ends when the client leaves. */
static int client_gone(void *r)
{
	return http_client_gone(r) ? -1 : 0;
}

/*
 * Go on in prev's session (the latest turn of which is previous_response_id):
 * held for the turn from now, so no other turn comes between.  One did
 * while this waited when the response is then no longer the latest: 1,
 * the session let go, and the caller branches.  0 held, or -1 with e.
 */
static int continue_latest(struct response *rs, struct store *store,
			   const struct store_response *prev, struct err *e)
{
	struct agent_turn *t = rs->t;
	struct store_response now;
	char *key = strdup(prev->session_key);
	int rc;

	if (!key)
		return err_nomem(e);
	free(t->session_key);
	t->session_key = key;
	t->stable = true;
	if (agent_session_hold(t, store, client_gone, rs->r, e) < 0 ||
	    (rc = store_get_response(store, rs->previous_id, &now, e)) < 0)
		return -1;
	if (rc > 0)
		return no_response(e, rs->previous_id, "previous_response_id");
	cJSON_Delete(now.body);
	if (now.latest && now.last_seq == prev->last_seq)
		return 0;
	agent_session_release(t);
	return 1;
}

/*
 * The session the turn goes on: previous_response_id's conversation (a
 * branch of it when that response is not its latest turn); else, with
 * store, a session of its own when the request named none.
 */
static int choose_session(struct response *rs, const struct cfg *c, struct worker *w, struct err *e)
{
	struct agent_turn *t = rs->t;
	struct store *store;
	struct store_response prev;
	char *key;
	int rc;

	if (rs->previous_id) {
		if (worker_store(w, c, &store, e) < 0)
			return -1;
		rc = store_get_response(store, rs->previous_id, &prev, e);
		if (rc < 0)
			return -1;
		cJSON_Delete(rc == 0 ? prev.body : NULL);
		if (rc > 0 || !auth_owns_session(rs->r->client, prev.session_key))
			return no_response(e, rs->previous_id, "previous_response_id");
		if (strcmp(prev.agent_id, t->agent->id)) {
			err_set(e, 400, ERR_INVALID_REQUEST,
				"`previous_response_id` '%.100s' belongs to agent '%s', not '%s'.",
				rs->previous_id, prev.agent_id, t->agent->id);
			e->param = "previous_response_id";
			return -1;
		}
		if (prev.latest && (rc = continue_latest(rs, store, &prev, e)) <= 0)
			return rc;
		if (!(key = own_session(rs, e)))
			return -1;
		if (store_fork(store, t->agent->id, prev.session_key, prev.last_seq, key, e) < 0) {
			free(key);
			return -1;
		}
		rs->forked = true;
	} else if (!t->stable && rs->rq->store) {
		if (!(key = own_session(rs, e)))
			return -1;
	} else {
		return 0;
	}
	free(t->session_key);
	t->session_key = key;
	t->stable = true;
	return 0;
}

static int prepare(struct http_req *r, const struct cfg *c, struct worker *w,
		   struct responses_request *rq, struct response *rs, struct err *e)
{
	struct agent_turn *t = rs->t;
	struct agent_turn_source src = {
		.caller = AGENT_CALLER_HTTP,
		.model = rq->model,
		.user = rq->chat.user,
		.system_text = buf_str(&rq->chat.system_text),
		.stream = rq->stream,
		.scope = r->client ? r->client->scope : NULL,
	};

	agent_source_headers(&src, request_header, r);
	if (auth_override_check(r->client, c, src.model_override, e) < 0 ||
	    agent_turn_prepare(t, c, &src, e) < 0 ||
	    auth_reach_check(r->client, c, t->agent->id, &t->model, rq->chat.params, e) < 0 ||
	    prov_check_params(t->model.provider, rq->chat.params, e) < 0 ||
	    choose_session(rs, c, w, e) < 0)
		return -1;
	t->messages = rq->chat.messages;
	t->origin = rq->chat.origin; /* as input items, rq outliving the turn */
	t->origin_list = "input";
	t->origin_call_id = "call_id";
	t->params = rq->chat.params;
	rq->chat.messages = rq->chat.params = NULL;
	if (rq->store && t->stable) {
		t->response_id = rs->id;
		t->make_response = finished_response;
		t->make_response_ctx = rs;
	}
	return 0;
}

/* A branch made for a turn that failed and stored nothing (a 400 for its
 * input, an upstream failure) is removed: it holds only a copy. */
static void drop_fork(struct response *rs, const struct cfg *c, struct worker *w)
{
	struct store *store;
	struct err se;
	long n;

	err_clear(&se);
	if (worker_store(w, c, &store, &se) < 0 ||
	    store_remove(store, rs->t->session_key, &n, &se) < 0)
		log_warn("responses: the branch %s of a failed turn is left: %s",
			 rs->t->session_key, se.message);
}

/* A stream that failed after it began: response.failed. */
static void send_failed(struct response *rs, const struct err *e)
{
	cJSON *o = cJSON_CreateObject();

	for (int i = 0; i < rs->nitems; i++)
		rs->items[i].cut = !rs->items[i].done; /* the failure ended it part-way */
	close_all(rs);
	if (!o || !cJSON_AddStringToObject(o, "type", "response.failed")) {
		cJSON_Delete(o);
		return;
	}
	cJSON_AddItemToObject(o, "response", response_json(rs, "failed", NULL, e));
	emit(rs, o);
}

void responses_handle(struct http_req *r, const struct cfg *c, struct worker *w)
{
	struct buf body = BUF_INIT;
	struct responses_request rq;
	struct agent_turn t;
	struct response *rs = calloc(1, sizeof *rs);
	struct prov_sink sink = {sink_start, sink_delta, sink_idle, rs};
	struct err e;
	char uuid[37];
	size_t body_len;
	struct auth_admit admit = {r, w, c};
	int rc;

	memset(&rq, 0, sizeof rq);
	err_clear(&e);
	agent_turn_init(&t);
	t.worker = w;
	t.admit_history = auth_admit_history;
	t.admit_ctx = &admit;
	if (!rs) {
		err_nomem(&e);
		http_send_error(r, &e, NULL);
		goto out;
	}
	agent_uuid4(uuid);
	for (size_t i = 0, j = 0; uuid[i]; i++)
		if (uuid[i] != '-')
			rs->hex[j++] = uuid[i];
	snprintf(rs->id, sizeof rs->id, "resp_%s", rs->hex);
	rs->created = time(NULL);
	rs->t = &t;
	rs->open = -1;
	rs->rq = &rq;
	rs->keepalive_seconds = c->chat.keepalive_seconds;
	if (http_read_body(r, c->responses.max_body_bytes, c->chat.body_timeout_seconds, &body,
			   &e) < 0 ||
	    responses_request_parse(body.data, body.len, c->chat.images_allow_url, &rq, &e) < 0) {
		http_send_error(r, &e, NULL);
		goto out;
	}
	body_len = body.len;
	buf_free(&body);
	rs->previous_id = rq.previous_response_id;
	rs->r = r;
	rs->stream = rq.stream;
	if (prepare(r, c, w, &rq, rs, &e) < 0 ||
	    auth_tokens_reserve(r, w, c, body_len,
				rq.max_output_tokens > 0 ? rq.max_output_tokens : -1, &e) < 0) {
		responses_request_rename(&rq, NULL, 0, &e);
		http_send_error(r, &e, NULL);
		goto out;
	}
	if (http_client_gone(r)) {
		log_warn("responses: the client left while the request waited; not started");
		goto out;
	}

	rc = agent_run_turn(&t, &sink, &e);
	if (rc < 0 && rs->forked && !(t.res.cancelled && t.answer.nchoices))
		drop_fork(rs, c, w);
	if (rc < 0) /* a provider's mapping names the chat request's fields */
		responses_request_rename(&rq, NULL, 0, &e);
	if (rq.stream) {
		if (t.res.cancelled || r->client_gone) {
			log_info("turn %s: client went away", t.run_id);
		} else if (rc < 0 && !t.res.started) {
			http_send_error(r, &e, NULL);
		} else if (rc < 0) {
			send_failed(rs, &e);
		} else {
			const char *reason;
			bool incomplete = !strcmp(final_status(&t, &reason), "incomplete");
			cJSON *o = cJSON_CreateObject();
			/* finished_response closed the items (in the turn when it
			 * was stored, else now) */
			cJSON *resp = t.response ? cJSON_Duplicate(t.response, 1)
						 : finished_response(&t, rs);
			if (o && resp &&
			    cJSON_AddStringToObject(o, "type",
						    incomplete ? "response.incomplete"
							       : "response.completed")) {
				cJSON_AddItemToObject(o, "response", resp);
				resp = NULL;
				emit(rs, o);
			} else {
				cJSON_Delete(o);
			}
			cJSON_Delete(resp);
		}
	} else if (rc < 0) {
		http_send_error(r, &e, NULL);
	} else {
		cJSON *resp = t.response ? NULL : finished_response(&t, rs);
		if (t.response || resp)
			http_send_json(r, 200, t.response ? t.response : resp, NULL);
		cJSON_Delete(resp);
	}
	log_info("responses: agent %s, session %s (%s), %s, status %d", t.agent->id, t.session_key,
		 t.stable ? "stable" : "per-request", rq.stream ? "stream" : "json", r->status);
out:
	buf_free(&body);
	responses_request_free(&rq);
	agent_turn_free(&t);
	if (rs)
		response_free(rs);
	free(rs);
}

void responses_get(struct http_req *r, const struct cfg *c, struct worker *w, const char *id)
{
	struct store *store;
	struct store_response sr;
	struct err e;
	int rc;

	err_clear(&e);
	if (worker_store(w, c, &store, &e) < 0 ||
	    (rc = store_get_response(store, id, &sr, &e)) < 0 ||
	    (rc > 0 && no_response(&e, id, NULL) < 0)) {
		http_send_error(r, &e, NULL);
		return;
	}
	if (!auth_owns_session(r->client, sr.session_key)) {
		cJSON_Delete(sr.body);
		no_response(&e, id, NULL); /* another client's: as if there were none */
		http_send_error(r, &e, NULL);
		return;
	}
	if (auth_agent_check(r->client, sr.agent_id, &e) < 0) {
		cJSON_Delete(sr.body); /* its own, of an agent it may no longer use */
		http_send_error(r, &e, NULL);
		return;
	}
	http_send_json(r, 200, sr.body, NULL);
	cJSON_Delete(sr.body);
}

/* 0 when response id is the client's to see or delete; else -1 with e
 * (404, as if there were none: another client's responses are not shown to
 * exist; 403 permission_denied for its own of an agent it may not use). */
static int check_owner(struct http_req *r, struct store *store, const char *id, struct err *e)
{
	struct store_response sr;
	int rc;

	if (!r->client || !r->client->scope[0])
		return 0;
	if ((rc = store_get_response(store, id, &sr, e)) < 0)
		return -1;
	if (rc == 0)
		cJSON_Delete(sr.body);
	if (rc > 0 || !auth_owns_session(r->client, sr.session_key))
		return no_response(e, id, NULL);
	return auth_agent_check(r->client, sr.agent_id, e);
}

void responses_delete(struct http_req *r, const struct cfg *c, struct worker *w, const char *id)
{
	struct store *store;
	struct err e;
	long deleted = 0;
	cJSON *o;

	err_clear(&e);
	if (worker_store(w, c, &store, &e) < 0 || check_owner(r, store, id, &e) < 0 ||
	    store_delete_response(store, id, &deleted, &e) < 0 ||
	    (!deleted && no_response(&e, id, NULL) < 0)) {
		http_send_error(r, &e, NULL);
		return;
	}
	o = cJSON_CreateObject();
	if (o && cJSON_AddStringToObject(o, "id", id) &&
	    cJSON_AddStringToObject(o, "object", "response") &&
	    cJSON_AddBoolToObject(o, "deleted", 1))
		http_send_json(r, 200, o, NULL);
	cJSON_Delete(o);
}
