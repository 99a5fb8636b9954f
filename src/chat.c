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
#include "chat_request.h"
#include "log.h"

struct completion {
	char id[48]; /* chatcmpl_<uuid> */
	time_t created;
	const char *model; /* echoed from the request */
};

/* {"id","object","created","model", ...} shared by bodies and chunks. */
static cJSON *completion_head(const struct completion *cmpl, const char *object)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", cmpl->id);
	cJSON_AddStringToObject(o, "object", object);
	cJSON_AddNumberToObject(o, "created", (double)cmpl->created);
	cJSON_AddStringToObject(o, "model", cmpl->model);
	return o;
}

static cJSON *usage_json(const struct prov_usage *u)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "prompt_tokens", (double)u->prompt_tokens);
	cJSON_AddNumberToObject(o, "completion_tokens", (double)u->completion_tokens);
	cJSON_AddNumberToObject(o, "total_tokens",
				(double)(u->total_tokens
						 ? u->total_tokens
						 : u->prompt_tokens + u->completion_tokens));
	return o;
}

/*
 * The head plus "choices":[{"index":0,"<inner>":{}}]; *choice and *inner
 * point into the result.  NULL when out of memory.
 */
static cJSON *completion_with_choice(const struct completion *cmpl, const char *object,
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
	cJSON_AddNumberToObject(*choice, "index", 0);
	*inner = cJSON_AddObjectToObject(*choice, inner_key);
	if (!*inner) {
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

/*
 * One chunk: delta is {"role":...} / {"content":...} / {}, finish NULL for
 * a JSON null.
 */
static int send_chunk(struct http_req *r, const struct completion *cmpl, const char *role,
		      const char *content, size_t clen, const char *finish)
{
	cJSON *choice, *delta;
	cJSON *o = completion_with_choice(cmpl, "chat.completion.chunk", "delta", &choice, &delta);

	if (!o)
		return -1;
	if (role)
		cJSON_AddStringToObject(delta, "role", role);
	if (content) {
		/* content is not NUL-terminated: copy it out */
		char *s = strndup(content, clen);
		if (!s) {
			cJSON_Delete(o);
			return -1;
		}
		cJSON_AddStringToObject(delta, "content", s);
		free(s);
	}
	if (finish)
		cJSON_AddStringToObject(choice, "finish_reason", finish);
	else
		cJSON_AddNullToObject(choice, "finish_reason");
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
	cJSON *o = http_error_body(e);
	cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");

	/* the stream's error event carries message and type only */
	cJSON_DeleteItemFromObjectCaseSensitive(err, "code");
	return send_event(r, o);
}

static int send_completion(struct http_req *r, const struct completion *cmpl,
			   const struct agent_turn *t)
{
	cJSON *choice, *msg;
	cJSON *o = completion_with_choice(cmpl, "chat.completion", "message", &choice, &msg);
	int rc;

	if (!o)
		return -1;
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content", buf_str(&t->answer));
	cJSON_AddStringToObject(choice, "finish_reason", t->res.finish_reason);
	cJSON_AddItemToObject(o, "usage", usage_json(&t->res.usage));
	rc = http_send_json(r, 200, o, NULL);
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
};

static int stream_start(struct prov_sink *s)
{
	struct stream_sink *ss = s->ctx;
	ss->last_write = time(NULL);
	if (http_send_headers(ss->r, 200, "text/event-stream; charset=utf-8",
			      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n") < 0)
		return -1;
	return send_chunk(ss->r, ss->cmpl, "assistant", NULL, 0, NULL);
}

static int stream_delta(struct prov_sink *s, const char *text, size_t len)
{
	struct stream_sink *ss = s->ctx;
	if (!len)
		return 0;
	ss->last_write = time(NULL);
	return send_chunk(ss->r, ss->cmpl, NULL, text, len, NULL);
}

static int stream_idle(struct prov_sink *s)
{
	struct stream_sink *ss = s->ctx;
	time_t now = time(NULL);

	if (http_client_gone(ss->r))
		return -1;
	if (!ss->r->headers_sent || ss->keepalive_seconds <= 0 ||
	    now - ss->last_write < ss->keepalive_seconds)
		return 0;
	ss->last_write = now;
	return http_send_comment(ss->r, "keep-alive");
}

/* The non-streaming sink: the answer goes out whole, as one chat completion,
 * once the turn is over. */
static int whole_delta(struct prov_sink *s, const char *text, size_t len)
{
	(void)s, (void)text, (void)len; /* agent.c keeps the answer */
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
	};

	agent_source_headers(&src, request_header, r);
	if (agent_turn_prepare(t, c, &src, e) < 0)
		return -1;
	t->messages = rq->messages; /* the turn takes them */
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
	int rc;

	err_clear(&e);
	agent_turn_init(&t);
	t.worker = w;
	if (http_read_body(r, c->chat.max_body_bytes, &body, &e) < 0 ||
	    chat_request_parse(body.data, body.len, c->chat.images_allow_url, &rq, &e) < 0 ||
	    prepare_turn(r, c, &rq, &t, &e) < 0) {
		http_send_error(r, &e, NULL);
		goto out;
	}
	buf_free(&body); /* the parsed tree has what we need */

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
		} else if (send_chunk(r, &cmpl, NULL, NULL, 0, t.res.finish_reason) == 0 &&
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
