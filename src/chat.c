/*
 * chat.c - POST /v1/chat/completions.
 *
 * Reads and validates the body (every malformed input is a 400 naming the
 * field), selects the agent and session key, builds the turn, and turns
 * provider output into either one JSON body or SSE chunks.  The turn
 * itself runs in agent.c.
 */
#include "chat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "utf8.h"

#define INVALID ERR_INVALID_REQUEST

#define MAX_IMAGES 8
#define MAX_IMAGE_BYTES (20L * 1024 * 1024)

/* What the request's images add up to, and what is allowed. */
struct images {
	bool allow_url;
	int count;
	long bytes; /* decoded size of data URIs */
};

/*
 * A data URI "data:image/<type>;base64,<payload>": 1 and its decoded size,
 * or 0 when malformed.
 */
static int data_uri_size(const char *url, long *size)
{
	const char *comma = strchr(url, ',');
	const char *p;
	size_t n = 0, pad = 0;

	if (strncmp(url, "data:image/", 11) || !comma || comma - url < 19 ||
	    strncmp(comma - 7, ";base64", 7))
		return 0;
	for (p = url + 11; p < comma - 7; p++)
		if (!isalnum((unsigned char)*p) && !strchr("+.-", *p))
			return 0;
	for (p = comma + 1; *p; p++, n++) {
		if (*p == '=') {
			pad++;
			continue;
		}
		if (pad || (!isalnum((unsigned char)*p) && *p != '+' && *p != '/'))
			return 0;
	}
	if (n == 0 || n % 4 || pad > 2)
		return 0;
	*size = (long)(n / 4 * 3 - pad);
	return 1;
}

static int check_image(const char *url, int i, int j, struct images *im, struct err *e)
{
	long size = 0;

	if (++im->count > MAX_IMAGES) {
		err_set(e, 400, INVALID, "Too many images: at most %d per request.", MAX_IMAGES);
		return -1;
	}
	if (!strncmp(url, "data:", 5)) {
		if (!data_uri_size(url, &size)) {
			err_set(e, 400, INVALID,
				"`messages[%d].content[%d].image_url.url` is not a valid "
				"data:image/...;base64, URI.", i, j);
			return -1;
		}
		im->bytes += size;
		if (im->bytes > MAX_IMAGE_BYTES) {
			err_set(e, 413, INVALID, "Images too large: at most 20 MiB in all.");
			return -1;
		}
		return 0;
	}
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
		err_set(e, 400, INVALID,
			"`messages[%d].content[%d].image_url.url` must be a data: URI "
			"or an http(s) URL.", i, j);
		return -1;
	}
	if (!im->allow_url) {
		err_set(e, 400, INVALID,
			"Image URLs are not allowed here: send the image as a data: URI "
			"(`messages[%d].content[%d]`).", i, j);
		return -1;
	}
	return 0;
}

/* Checks one content part; returns -1 with e naming messages[i].content[j]. */
static int check_part(const cJSON *part, int i, int j, bool *has_input,
		      struct images *im, struct err *e)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
	const char *t;

	if (!cJSON_IsObject(part)) {
		err_set(e, 400, INVALID, "`messages[%d].content[%d]` must be an object.", i, j);
		return -1;
	}
	if (!cJSON_IsString(type)) {
		err_set(e, 400, INVALID, "`messages[%d].content[%d].type` must be a string.",
			i, j);
		return -1;
	}
	t = type->valuestring;
	if (!strcmp(t, "text") || !strcmp(t, "input_text")) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsString(text)) {
			err_set(e, 400, INVALID,
				"`messages[%d].content[%d].text` must be a string.", i, j);
			return -1;
		}
		if (text->valuestring[0])
			*has_input = true;
		return 0;
	}
	if (!strcmp(t, "image_url")) {
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(part, "image_url");
		const cJSON *url = cJSON_IsObject(img)
					   ? cJSON_GetObjectItemCaseSensitive(img, "url")
					   : img;
		if (!cJSON_IsString(url) || !url->valuestring[0]) {
			err_set(e, 400, INVALID,
				"`messages[%d].content[%d].image_url.url` must be a non-empty string.",
				i, j);
			return -1;
		}
		*has_input = true;
		return check_image(url->valuestring, i, j, im, e);
	}
	err_set(e, 400, INVALID,
		"`messages[%d].content[%d].type` '%.40s' is not supported "
		"(text, input_text or image_url).", i, j, t);
	return -1;
}

/* Validates messages[i].content; *has_input when it has text or an image. */
static int check_content(const cJSON *content, int i, bool *has_input,
			 struct images *im, struct err *e)
{
	const cJSON *part;
	int j = 0;

	*has_input = false;
	if (!content || cJSON_IsNull(content))
		return 0;
	if (cJSON_IsString(content)) {
		*has_input = content->valuestring[0] != '\0';
		return 0;
	}
	if (!cJSON_IsArray(content)) {
		err_set(e, 400, INVALID,
			"`messages[%d].content` must be a string or an array of content parts.",
			i);
		return -1;
	}
	cJSON_ArrayForEach(part, content) {
		if (check_part(part, i, j++, has_input, im, e) < 0)
			return -1;
	}
	return 0;
}

/* A copy of m keeping what providers need: role, content, tool fields. */
static cJSON *copy_message(const cJSON *m, const char *role)
{
	static const char *const keep[] = {"content", "name", "tool_call_id", "tool_calls"};
	cJSON *out = cJSON_CreateObject();

	if (!out || !cJSON_AddStringToObject(out, "role", role))
		goto fail;
	for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, keep[k]);
		cJSON *dup;
		if (!v)
			continue;
		if (!(dup = cJSON_Duplicate(v, 1)))
			goto fail;
		cJSON_AddItemToObject(out, keep[k], dup);
	}
	if (!cJSON_GetObjectItemCaseSensitive(out, "content") &&
	    !cJSON_AddNullToObject(out, "content"))
		goto fail;
	return out;
fail:
	cJSON_Delete(out);
	return NULL;
}

static int parse_messages(const cJSON *msgs, struct agent_turn *t, struct images *im,
			  struct err *e)
{
	const cJSON *m;
	bool have_user = false;
	int i = 0;

	if (!msgs) {
		err_set(e, 400, INVALID, "Missing `messages` array.");
		return -1;
	}
	if (!cJSON_IsArray(msgs)) {
		err_set(e, 400, INVALID, "`messages` must be an array.");
		return -1;
	}
	if (cJSON_GetArraySize(msgs) == 0) {
		err_set(e, 400, INVALID, "`messages` must not be empty.");
		return -1;
	}
	if (!(t->messages = cJSON_CreateArray()))
		goto nomem;
	cJSON_ArrayForEach(m, msgs) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		const char *r;
		bool has_input;

		if (!cJSON_IsObject(m)) {
			err_set(e, 400, INVALID, "`messages[%d]` must be an object.", i);
			return -1;
		}
		if (!cJSON_IsString(role)) {
			err_set(e, 400, INVALID, "`messages[%d].role` must be a string.", i);
			return -1;
		}
		if (check_content(content, i, &has_input, im, e) < 0)
			return -1;
		r = role->valuestring;
		if (!strcmp(r, "system") || !strcmp(r, "developer")) {
			size_t before = t->system_text.len;
			if (before && buf_append_str(&t->system_text, "\n\n") < 0)
				goto nomem;
			if (prov_content_text(content, &t->system_text) < 0)
				goto nomem;
			if (t->system_text.len == before + (before ? 2 : 0)) /* empty: undo */
				t->system_text.len = before, t->system_text.data[before] = '\0';
		} else if (!strcmp(r, "user") || !strcmp(r, "assistant") ||
			   !strcmp(r, "tool") || !strcmp(r, "function")) {
			const char *as = !strcmp(r, "function") ? "tool" : r;
			cJSON *copy = copy_message(m, as);
			if (!copy)
				goto nomem;
			cJSON_AddItemToArray(t->messages, copy);
			if (has_input && strcmp(as, "assistant"))
				have_user = true;
		}
		/* other roles are ignored (SPEC 6) */
		i++;
	}
	if (!have_user) {
		err_set(e, 400, INVALID, "Missing user message in `messages`.");
		return -1;
	}
	return 0;
nomem:
	err_nomem(e);
	return -1;
}

enum ptype { P_NUMBER, P_INT, P_STOP, P_OBJECT };

static const struct {
	const char *name;
	enum ptype type;
} pass_params[] = {
	{"temperature", P_NUMBER},
	{"top_p", P_NUMBER},
	{"max_tokens", P_INT},
	{"max_completion_tokens", P_INT},
	{"stop", P_STOP},
	{"presence_penalty", P_NUMBER},
	{"frequency_penalty", P_NUMBER},
	{"seed", P_INT},
	{"response_format", P_OBJECT},
};

static int parse_params(const cJSON *root, struct agent_turn *t, struct err *e)
{
	for (size_t k = 0; k < sizeof pass_params / sizeof *pass_params; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, pass_params[k].name);
		const char *bad = NULL;
		cJSON *dup;

		if (!v || cJSON_IsNull(v))
			continue;
		switch (pass_params[k].type) {
		case P_NUMBER:
			if (!cJSON_IsNumber(v))
				bad = "a number";
			break;
		case P_INT:
			if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble)
				bad = "an integer";
			else if (strcmp(pass_params[k].name, "seed") && v->valuedouble < 1)
				bad = "a positive integer";
			break;
		case P_STOP:
			if (cJSON_IsArray(v)) {
				const cJSON *s;
				cJSON_ArrayForEach(s, v) {
					if (!cJSON_IsString(s))
						bad = "a string or an array of strings";
				}
			} else if (!cJSON_IsString(v)) {
				bad = "a string or an array of strings";
			}
			break;
		case P_OBJECT:
			if (!cJSON_IsObject(v))
				bad = "an object";
			break;
		}
		if (bad) {
			err_set(e, 400, INVALID, "`%s` must be %s.", pass_params[k].name, bad);
			return -1;
		}
		if (!t->params && !(t->params = cJSON_CreateObject()))
			goto nomem;
		if (!(dup = cJSON_Duplicate(v, 1)))
			goto nomem;
		cJSON_AddItemToObject(t->params, pass_params[k].name, dup);
	}
	return 0;
nomem:
	err_nomem(e);
	return -1;
}

int chat_parse(const char *body, size_t len, bool allow_image_urls,
	       struct chat_request *rq, struct agent_turn *t, struct err *e)
{
	struct images im = {allow_image_urls, 0, 0};
	const cJSON *v, *so;

	memset(rq, 0, sizeof *rq);
	if (!utf8_valid(body, len)) {
		err_set(e, 400, INVALID, "The request body is not valid UTF-8.");
		return -1;
	}
	rq->root = cJSON_ParseWithLength(body, len);
	if (!rq->root) {
		err_set(e, 400, INVALID, "The request body is not valid JSON.");
		return -1;
	}
	if (!cJSON_IsObject(rq->root)) {
		err_set(e, 400, INVALID, "The request body must be a JSON object.");
		return -1;
	}

	v = cJSON_GetObjectItemCaseSensitive(rq->root, "model");
	if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
		err_set(e, 400, INVALID, "`model` must be a string.");
		return -1;
	}
	rq->model = cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : "openclaw";

	v = cJSON_GetObjectItemCaseSensitive(rq->root, "stream");
	if (v && !cJSON_IsNull(v) && !cJSON_IsBool(v)) {
		err_set(e, 400, INVALID, "`stream` must be a boolean.");
		return -1;
	}
	rq->stream = cJSON_IsTrue(v);

	so = cJSON_GetObjectItemCaseSensitive(rq->root, "stream_options");
	if (so && !cJSON_IsNull(so)) {
		if (!cJSON_IsObject(so)) {
			err_set(e, 400, INVALID, "`stream_options` must be an object.");
			return -1;
		}
		v = cJSON_GetObjectItemCaseSensitive(so, "include_usage");
		if (v && !cJSON_IsBool(v)) {
			err_set(e, 400, INVALID, "`stream_options.include_usage` must be a boolean.");
			return -1;
		}
		rq->include_usage = cJSON_IsTrue(v);
	}

	v = cJSON_GetObjectItemCaseSensitive(rq->root, "user");
	if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
		err_set(e, 400, INVALID, "`user` must be a string.");
		return -1;
	}
	if (cJSON_IsString(v) && v->valuestring[0]) {
		if (strlen(v->valuestring) > 200) {
			err_set(e, 400, INVALID, "`user` must be at most 200 bytes.");
			return -1;
		}
		rq->user = v->valuestring;
	}

	if (parse_params(rq->root, t, e) < 0)
		return -1;
	return parse_messages(cJSON_GetObjectItemCaseSensitive(rq->root, "messages"), t, &im, e);
}

void chat_request_free(struct chat_request *rq)
{
	cJSON_Delete(rq->root);
	memset(rq, 0, sizeof *rq);
}

/* ---- responses ---- */

struct answer {
	char id[48];          /* chatcmpl_<uuid> */
	time_t created;
	const char *model;    /* echoed from the request */
};

/* {"id","object","created","model", ...} shared by bodies and chunks. */
static cJSON *answer_head(const struct answer *a, const char *object)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", a->id);
	cJSON_AddStringToObject(o, "object", object);
	cJSON_AddNumberToObject(o, "created", (double)a->created);
	cJSON_AddStringToObject(o, "model", a->model);
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
				(double)(u->total_tokens ? u->total_tokens
							 : u->prompt_tokens + u->completion_tokens));
	return o;
}

/*
 * The head plus "choices":[{"index":0,"<inner>":{}}]; *choice and *inner
 * point into the result.  NULL when out of memory.
 */
static cJSON *answer_with_choice(const struct answer *a, const char *object,
				 const char *inner_key, cJSON **choice, cJSON **inner)
{
	cJSON *o = answer_head(a, object);
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
static int send_chunk(struct http_req *r, const struct answer *a, const char *role,
		      const char *content, size_t clen, const char *finish)
{
	cJSON *choice, *delta;
	cJSON *o = answer_with_choice(a, "chat.completion.chunk", "delta", &choice, &delta);

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

static int send_usage_chunk(struct http_req *r, const struct answer *a,
			    const struct prov_usage *u)
{
	cJSON *o = answer_head(a, "chat.completion.chunk");

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

static int send_completion(struct http_req *r, const struct answer *a,
			   const struct agent_turn *t)
{
	cJSON *choice, *msg;
	cJSON *o = answer_with_choice(a, "chat.completion", "message", &choice, &msg);
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
	const struct answer *a;
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
	return send_chunk(ss->r, ss->a, "assistant", NULL, 0, NULL);
}

static int stream_delta(struct prov_sink *s, const char *text, size_t len)
{
	struct stream_sink *ss = s->ctx;
	if (!len)
		return 0;
	ss->last_write = time(NULL);
	return send_chunk(ss->r, ss->a, NULL, text, len, NULL);
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

static int buffer_delta(struct prov_sink *s, const char *text, size_t len)
{
	(void)s, (void)text, (void)len; /* agent.c keeps the answer */
	return 0;
}

/* Non-streaming: nothing to write while waiting, but a client gone cancels. */
static int buffer_idle(struct prov_sink *s)
{
	return http_client_gone(s->ctx) ? -1 : 0;
}

/* Fill the turn from the request: agent, model, session key, system text. */
static int build_turn(struct http_req *r, const struct cfg *c,
		      const struct chat_request *rq, struct agent_turn *t,
		      struct err *e)
{
	const char *agent_hdr = http_header(r, "x-openclaw-agent-id");
	const char *model_hdr = http_header(r, "x-openclaw-model");
	struct buf sys = BUF_INIT;

	if (!agent_hdr || !agent_hdr[strspn(agent_hdr, " \t")])
		agent_hdr = http_header(r, "x-openclaw-agent");
	if (agent_select(c, agent_hdr, rq->model, &t->agent, e) < 0)
		return -1;
	t->cfg = c;
	t->model.provider = t->agent->model.provider;
	t->model.model = t->agent->model.model;
	if (model_hdr && *model_hdr) {
		const char *slash = strchr(model_hdr, '/');
		char pname[128];
		size_t n = slash ? (size_t)(slash - model_hdr) : 0;
		if (!slash || n == 0 || n >= sizeof pname || !slash[1]) {
			err_set(e, 400, INVALID, "Invalid `x-openclaw-model` header: expected "
						 "\"provider/model-id\".");
			return -1;
		}
		memcpy(pname, model_hdr, n);
		pname[n] = '\0';
		t->model.provider = cfg_find_provider(c, pname);
		if (!t->model.provider) {
			err_set(e, 400, INVALID, "Invalid `x-openclaw-model` header: provider "
						 "'%.64s' is not configured.", pname);
			return -1;
		}
		t->model.model = (char *)slash + 1;
		t->model_override = true;
	}
	if (agent_session_key(http_header(r, "x-openclaw-session-key"), rq->user,
			      t->agent->id, &t->session_key, &t->stable, e) < 0)
		return -1;

	/* agent prompt first, then the request's system/developer text */
	if ((t->agent->system_prompt && buf_append_str(&sys, t->agent->system_prompt) < 0) ||
	    (t->system_text.len && sys.len && buf_append_str(&sys, "\n\n") < 0) ||
	    (t->system_text.len && buf_append(&sys, t->system_text.data, t->system_text.len) < 0)) {
		buf_free(&sys);
		err_nomem(e);
		return -1;
	}
	buf_free(&t->system_text);
	t->system_text = sys;
	t->stream = rq->stream;
	return 0;
}

void chat_handle(struct http_req *r, const struct cfg *c, struct agent_env *env)
{
	struct buf body = BUF_INIT;
	struct chat_request rq = {0};
	struct agent_turn t;
	struct answer a;
	struct err e;
	char uuid[37];
	int rc;

	err_clear(&e);
	agent_turn_init(&t);
	t.env = env;
	if (http_read_body(r, c->max_body_bytes, &body, &e) < 0 ||
	    chat_parse(body.data, body.len, c->images_allow_url, &rq, &t, &e) < 0 ||
	    build_turn(r, c, &rq, &t, &e) < 0) {
		http_send_error(r, &e, NULL);
		goto out;
	}
	buf_free(&body); /* the parsed tree has what we need */

	agent_uuid4(uuid);
	snprintf(a.id, sizeof a.id, "chatcmpl_%s", uuid);
	a.created = time(NULL);
	a.model = rq.model;

	if (rq.stream) {
		struct stream_sink ss = {
			.sink = {stream_start, stream_delta, stream_idle, NULL},
			.r = r,
			.a = &a,
			.keepalive_seconds = c->keepalive_seconds,
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
		} else if (send_chunk(r, &a, NULL, NULL, 0, t.res.finish_reason) == 0 &&
			   (!rq.include_usage || send_usage_chunk(r, &a, &t.res.usage) == 0)) {
			http_send_event(r, "[DONE]");
		}
	} else {
		struct prov_sink bs = {NULL, buffer_delta, buffer_idle, r};
		rc = agent_run_turn(&t, &bs, &e);
		if (rc < 0)
			http_send_error(r, &e, NULL);
		else
			send_completion(r, &a, &t);
	}
	log_info("chat: agent %s, session %s (%s), %s, status %d", t.agent->id,
		 t.session_key, t.stable ? "stable" : "per-request",
		 rq.stream ? "stream" : "json", r->status);
out:
	buf_free(&body);
	chat_request_free(&rq);
	agent_turn_free(&t);
}
