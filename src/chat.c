/*
 * chat.c - the POST /v1/chat/completions handler: reads the body, has it
 * parsed (chat_request.c) and the turn prepared and run (agent.c), and
 * writes the answer as one chat completion object or as a stream of chat
 * completion chunks (Server-Sent Events), as the OpenAI API reference
 * describes them.
 */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "auth.h"
#include "chat_request.h"
#include "log.h"

struct completion {
	char id[48]; /* chatcmpl_<uuid> */
	time_t created;
	const char *model; /* echoed from the request */
};

/*
 * A whole number added to an object that is only printed.  cJSON 1.7.15
 * prints every number with "%1.15g" and reads it back with sscanf to
 * check it (20% of an echo request's instructions in callgrind, for five
 * numbers); a raw item is printed as it is.  NULL when out of memory.
 */
static cJSON *add_int(cJSON *o, const char *name, long long v)
{
	char text[24];

	snprintf(text, sizeof text, "%lld", v);
	return cJSON_AddRawToObject(o, name, text);
}

/* {"id","object","created","model", ...} shared by bodies and chunks. */
static cJSON *completion_head(const struct completion *cmpl, const char *object)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", cmpl->id);
	cJSON_AddStringToObject(o, "object", object);
	add_int(o, "created", (long long)cmpl->created);
	cJSON_AddStringToObject(o, "model", cmpl->model);
	return o;
}

/*
 * The usage object.  prompt_tokens_details and completion_tokens_details are
 * optional in CompletionUsage: each is sent when the upstream gave any of
 * its fields, with exactly the fields it gave (a 0 for a count it did not
 * give would say what no one counted: an Anthropic model's thinking tokens
 * are in completion_tokens, uncounted apart).
 */
static cJSON *usage_json(const struct prov_usage *u)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	add_int(o, "prompt_tokens", u->prompt_tokens);
	add_int(o, "completion_tokens", u->completion_tokens);
	add_int(o, "total_tokens",
		u->total_tokens ? u->total_tokens : u->prompt_tokens + u->completion_tokens);
	for (int d = 0; d < PROV_USAGE_DETAILS; d++) {
		const struct prov_usage_field *f = &prov_usage_fields[d];
		cJSON *details = cJSON_GetObjectItemCaseSensitive(o, f->object);
		if (!(u->given & (1u << d)))
			continue;
		if (!details && !(details = cJSON_AddObjectToObject(o, f->object)))
			break;
		add_int(details, f->field, u->detail[d]);
	}
	return o;
}

/*
 * The head plus "choices":[{"index":index,"<inner>":{}}]; *choice and
 * *inner point into the result.  NULL when out of memory.
 */
static cJSON *completion_with_choice(const struct completion *cmpl, const char *object, int index,
				     const char *inner_key, cJSON **choice, cJSON **inner)
{
	cJSON *o = completion_head(cmpl, object);
	cJSON *choices = o ? cJSON_AddArrayToObject(o, "choices") : NULL;

	*choice = choices ? cJSON_CreateObject() : NULL;
	if (!*choice) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToArray(choices, *choice);
	if (!add_int(*choice, "index", index) ||
	    !(*inner = cJSON_AddObjectToObject(*choice, inner_key))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Write o as one SSE event and flush; takes ownership of o. */
static int send_event(struct http_req *r, cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	int rc = text ? http_send_event(r, text) : -1;

	free(text);
	cJSON_Delete(o);
	return rc;
}

/* s (n bytes, not NUL-terminated) as member key of o: 0, or -1. */
static int add_text(cJSON *o, const char *key, const char *s, size_t n)
{
	char *copy = strndup(s, n);
	int rc = copy && cJSON_AddStringToObject(o, key, copy) ? 0 : -1;

	free(copy);
	return rc;
}

/* dup of v as member key of o (nothing when v is NULL): 0, or -1. */
static int add_copy(cJSON *o, const char *key, const cJSON *v)
{
	cJSON *dup;

	if (!v)
		return 0;
	if (!(dup = cJSON_Duplicate(v, 1)))
		return -1;
	cJSON_AddItemToObject(o, key, dup);
	return 0;
}

/*
 * A choice's "logprobs" into o: the upstream's object with the members the
 * OpenAI API reference requires ("content", "refusal") null where the
 * upstream left them out (servers other than OpenAI's send content only),
 * or null when there are none.  0, or -1 when out of memory.
 */
static int add_logprobs(cJSON *o, const cJSON *lp)
{
	cJSON *dup = lp && !cJSON_IsNull(lp) ? cJSON_Duplicate(lp, 1) : cJSON_CreateNull();

	if (!dup)
		return -1;
	cJSON_AddItemToObject(o, "logprobs", dup);
	if (cJSON_IsObject(dup) &&
	    ((!cJSON_HasObjectItem(dup, "content") && !cJSON_AddNullToObject(dup, "content")) ||
	     (!cJSON_HasObjectItem(dup, "refusal") && !cJSON_AddNullToObject(dup, "refusal"))))
		return -1;
	return 0;
}

/*
 * One chunk of choice d->choice: its delta holds role (when given), the
 * content, reasoning_content and tool_calls of d; the choice its logprobs;
 * finish_reason is finish, or null.
 */
static int send_chunk(struct http_req *r, const struct completion *cmpl, const char *role,
		      const struct prov_delta *d, const char *finish)
{
	cJSON *choice, *delta;
	cJSON *o = completion_with_choice(cmpl, "chat.completion.chunk", d->choice, "delta",
					  &choice, &delta);

	if (!o || (role && !cJSON_AddStringToObject(delta, "role", role)) ||
	    (d->content && add_text(delta, "content", d->content, d->content_len) < 0) ||
	    (d->reasoning &&
	     add_text(delta, "reasoning_content", d->reasoning, d->reasoning_len) < 0) ||
	    add_copy(delta, "tool_calls", d->tool_calls) < 0 ||
	    (d->logprobs && add_logprobs(choice, d->logprobs) < 0) ||
	    !(finish ? cJSON_AddStringToObject(choice, "finish_reason", finish)
		     : cJSON_AddNullToObject(choice, "finish_reason"))) {
		cJSON_Delete(o);
		return -1;
	}
	return send_event(r, o);
}

static int send_usage_chunk(struct http_req *r, const struct completion *cmpl,
			    const struct prov_usage *u)
{
	cJSON *o = completion_head(cmpl, "chat.completion.chunk");

	if (!o || !cJSON_AddArrayToObject(o, "choices")) {
		cJSON_Delete(o);
		return -1;
	}
	cJSON_AddItemToObject(o, "usage", usage_json(u));
	return send_event(r, o);
}

static int send_error_event(struct http_req *r, const struct err *e)
{
	/* the error object of a JSON answer, param and code included */
	return send_event(r, http_error_body(e));
}

/* The choices of the answer: at least one (an empty answer is "" text). */
static size_t nchoices(const struct agent_turn *t)
{
	return t->answer.nchoices ? t->answer.nchoices : 1;
}

/* Choice i's finish reason: choice 0's as the provider reported it. */
static const char *finish_of(const struct agent_turn *t, size_t i)
{
	const char *fr = i < t->answer.nchoices ? t->answer.choices[i].finish_reason : "";

	return i == 0 ? t->res.finish_reason : fr[0] ? fr : "stop";
}

/* The final chunks: each choice's finish reason, in order. */
static int send_finish_chunks(struct http_req *r, const struct completion *cmpl,
			      const struct agent_turn *t)
{
	for (size_t i = 0; i < nchoices(t); i++) {
		struct prov_delta d = {.choice = (int)i};
		if (send_chunk(r, cmpl, NULL, &d, finish_of(t, i)) < 0)
			return -1;
	}
	return 0;
}

/* The whole answer as one chat completion object. */
static int send_completion(struct http_req *r, const struct completion *cmpl,
			   const struct agent_turn *t)
{
	cJSON *o = completion_head(cmpl, "chat.completion");
	cJSON *choices = o ? cJSON_AddArrayToObject(o, "choices") : NULL;
	int rc = -1;

	if (!choices)
		goto out;
	for (size_t i = 0; i < nchoices(t); i++) {
		cJSON *choice = cJSON_CreateObject(), *msg = answer_message(&t->answer, i, true);
		const cJSON *lp = i < t->answer.nchoices ? t->answer.choices[i].logprobs : NULL;
		if (choice)
			cJSON_AddItemToArray(choices, choice);
		if (!choice || !msg || !add_int(choice, "index", (long long)i)) {
			cJSON_Delete(msg);
			goto out;
		}
		cJSON_AddItemToObject(choice, "message", msg);
		/* refusal and logprobs: null, as the reference has them when there are none */
		if (!cJSON_AddNullToObject(msg, "refusal") || add_logprobs(choice, lp) < 0 ||
		    !cJSON_AddStringToObject(choice, "finish_reason", finish_of(t, i)))
			goto out;
	}
	cJSON_AddItemToObject(o, "usage", usage_json(&t->res.usage));
	rc = http_send_json(r, 200, o, NULL);
out:
	cJSON_Delete(o);
	return rc;
}

/* The streaming sink: SSE chunks, keep-alive comments while silent. */
struct stream_sink {
	struct prov_sink sink;
	struct http_req *r;
	const struct completion *cmpl;
	int keepalive_seconds;
	time_t last_write;
	bool begun[ANSWER_MAX_CHOICES]; /* the choice's role chunk went out */
};

static int stream_start(struct prov_sink *s)
{
	struct stream_sink *ss = s->ctx;
	struct prov_delta d = {.choice = 0};

	ss->last_write = time(NULL);
	if (http_send_headers(ss->r, 200, "text/event-stream; charset=utf-8",
			      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n") < 0)
		return -1;
	ss->begun[0] = true;
	return send_chunk(ss->r, ss->cmpl, "assistant", &d, NULL);
}

/* Each piece with something in it is one chunk (finish reasons go out at
 * the end); a choice's first also carries the role. */
static int stream_delta(struct prov_sink *s, const struct prov_delta *d)
{
	struct stream_sink *ss = s->ctx;
	struct prov_delta piece = *d;
	bool first;

	if (!piece.content_len)
		piece.content = NULL;
	if (!piece.reasoning_len)
		piece.reasoning = NULL;
	if (!piece.content && !piece.reasoning && !cJSON_GetArraySize(piece.tool_calls) &&
	    !piece.logprobs)
		return 0;
	if (piece.choice < 0 || piece.choice >= ANSWER_MAX_CHOICES)
		return 0;
	first = !ss->begun[piece.choice];
	ss->begun[piece.choice] = true;
	ss->last_write = time(NULL);
	return send_chunk(ss->r, ss->cmpl, first ? "assistant" : NULL, &piece, NULL);
}

static int stream_idle(struct prov_sink *s)
{
	struct stream_sink *ss = s->ctx;

	return http_stream_idle(ss->r, ss->keepalive_seconds, &ss->last_write);
}

/* The non-streaming sink: the answer goes out whole, as one chat completion,
 * once the turn is over. */
static int whole_delta(struct prov_sink *s, const struct prov_delta *d)
{
	(void)s, (void)d; /* agent.c keeps the answer */
	return 0;
}

/* Non-streaming: nothing to write while waiting, but a client gone cancels. */
static int whole_idle(struct prov_sink *s)
{
	return http_client_gone(s->ctx) ? -1 : 0;
}

/* http_header for agent_source_headers. */
static const char *request_header(const void *r, const char *name)
{
	return http_header(r, name);
}

/* The turn this request asks for: its agent, session, messages, parameters. */
static int prepare_turn(struct http_req *r, const struct cfg *c, struct chat_request *rq,
			struct agent_turn *t, struct err *e)
{
	struct agent_turn_source src = {
		.caller = AGENT_CALLER_HTTP,
		.model = rq->model,
		.user = rq->user,
		.system_text = buf_str(&rq->system_text),
		.stream = rq->stream,
		.scope = r->client ? r->client->scope : NULL,
	};

	agent_source_headers(&src, request_header, r);
	if (auth_override_check(r->client, c, src.model_override, e) < 0 ||
	    agent_turn_prepare(t, c, &src, e) < 0 ||
	    auth_reach_check(r->client, c, t->agent->id, &t->model, rq->params, e) < 0 ||
	    prov_check_params(t->model.provider, rq->params, e) < 0)
		return -1;
	t->messages = rq->messages; /* the turn takes them */
	t->origin = rq->origin;	    /* rq outlives the turn */
	t->params = rq->params;
	rq->messages = rq->params = NULL;
	return 0;
}

void chat_handle(struct http_req *r, const struct cfg *c, struct worker *w)
{
	struct buf body = BUF_INIT;
	struct chat_request rq = {0};
	struct agent_turn t;
	struct completion cmpl;
	struct err e;
	char uuid[37];
	struct auth_admit admit = {r, w, c};
	int rc;

	err_clear(&e);
	agent_turn_init(&t);
	t.worker = w;
	t.admit_history = auth_admit_history;
	t.admit_ctx = &admit;
	if (http_read_body(r, c->chat.max_body_bytes, c->chat.body_timeout_seconds, &body, &e) <
		    0 ||
	    chat_request_parse(body.data, body.len, c->chat.images_allow_url, &rq, &e) < 0 ||
	    prepare_turn(r, c, &rq, &t, &e) < 0 ||
	    auth_tokens_reserve(r, w, c, body.len, auth_max_out(t.params), &e) < 0) {
		http_send_error(r, &e, NULL);
		goto out;
	}
	buf_free(&body); /* the parsed tree has what we need */
	if (http_client_gone(r)) {
		/* it gave up while queued: its turn would cost a model call for no one */
		log_warn("chat: the client left while the request waited; not started");
		goto out;
	}

	agent_uuid4(uuid);
	snprintf(cmpl.id, sizeof cmpl.id, "chatcmpl_%s", uuid);
	cmpl.created = time(NULL);
	cmpl.model = rq.model;

	if (rq.stream) {
		struct stream_sink ss = {
			.sink = {stream_start, stream_delta, stream_idle, NULL},
			.r = r,
			.cmpl = &cmpl,
			.keepalive_seconds = c->chat.keepalive_seconds,
		};
		ss.sink.ctx = &ss;
		rc = agent_run_turn(&t, &ss.sink, &e);
		if (t.res.cancelled || r->client_gone) {
			log_info("turn %s: client went away", t.run_id);
		} else if (rc < 0 && !t.res.started) {
			http_send_error(r, &e, NULL);
		} else if (rc < 0) {
			if (send_error_event(r, &e) == 0)
				http_send_event(r, "[DONE]");
		} else if (send_finish_chunks(r, &cmpl, &t) == 0 &&
			   (!rq.include_usage || send_usage_chunk(r, &cmpl, &t.res.usage) == 0)) {
			http_send_event(r, "[DONE]");
		}
	} else {
		struct prov_sink bs = {NULL, whole_delta, whole_idle, r};
		rc = agent_run_turn(&t, &bs, &e);
		if (rc < 0)
			http_send_error(r, &e, NULL);
		else
			send_completion(r, &cmpl, &t);
	}
	log_info("chat: agent %s, session %s (%s), %s, status %d", t.agent->id, t.session_key,
		 t.stable ? "stable" : "per-request", rq.stream ? "stream" : "json", r->status);
out:
	buf_free(&body);
	chat_request_free(&rq);
	agent_turn_free(&t);
}
