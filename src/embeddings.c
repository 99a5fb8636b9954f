/*
 * embeddings.c - the POST /v1/embeddings handler: reads and checks the
 * body, picks the agent as chat does (agent.c), takes its embeddingModel
 * (or the x-openclaw-model header's), has prov_embed (provider.c) compute
 * the vectors, and writes the OpenAI embedding list.
 *
 * Not a turn: no session, no history, no system prompt, nothing stored.
 */
#include "embeddings.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "auth.h"
#include "json_body.h"
#include "log.h"
#include "metrics.h"
#include "usage.h"
#include "provider.h"

/* What `input` may be, for the messages that refuse it. */
#define INPUT_KINDS "a string, an array of strings, or an array of token ids (or of such arrays)"

/* A token id: a whole number from 0 to INT32_MAX (checked as a double
 * first: converting one out of range would be undefined). */
static bool is_token(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= INT32_MAX &&
	       v->valuedouble == (double)(int32_t)v->valuedouble;
}

/* The length of array a, named name: 1 to PROV_EMBED_MAX_ITEMS.  0, or -1
 * with e. */
static int check_count(const cJSON *a, const char *name, struct err *e)
{
	int n = cJSON_GetArraySize(a);

	if (n == 0)
		return err_set(e, 400, ERR_INVALID_REQUEST, "`%s` must not be an empty array.",
			       name);
	if (n > PROV_EMBED_MAX_ITEMS)
		return err_set(e, 400, ERR_INVALID_REQUEST, "`%s` must have at most %d items.",
			       name, PROV_EMBED_MAX_ITEMS);
	return 0;
}

/* Array a, named name, as one input's token ids. */
static int check_tokens(const cJSON *a, const char *name, struct err *e)
{
	const cJSON *t;
	int i = 0;

	if (check_count(a, name, e) < 0)
		return -1;
	cJSON_ArrayForEach(t, a) {
		if (!is_token(t))
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "`%s[%d]` must be a token id (an integer from 0 to %d).",
				       name, i, INT32_MAX);
		i++;
	}
	return 0;
}

/* `input`: one string, one token array, or an array of either (not both). */
static int parse_input(const cJSON *in, struct embeddings_request *rq, struct err *e)
{
	const cJSON *first, *item;
	int i = 0;

	if (!in || cJSON_IsNull(in))
		return err_set(e, 400, ERR_INVALID_REQUEST, "Missing `input`: " INPUT_KINDS ".");
	if (cJSON_IsString(in)) {
		if (!in->valuestring[0])
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "`input` must not be an empty string.");
		rq->ninputs = 1;
		return 0;
	}
	if (!cJSON_IsArray(in))
		return err_set(e, 400, ERR_INVALID_REQUEST, "`input` must be " INPUT_KINDS ".");
	first = in->child;
	if (cJSON_IsNumber(first)) {
		rq->ninputs = 1;
		return check_tokens(in, "input", e);
	}
	if (check_count(in, "input", e) < 0)
		return -1;
	cJSON_ArrayForEach(item, in) {
		char name[24];
		if (!cJSON_IsString(item) && !cJSON_IsArray(item))
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "`input[%d]` must be a string or an array of token ids.", i);
		if (cJSON_IsString(item) != cJSON_IsString(first))
			return err_set(
				e, 400, ERR_INVALID_REQUEST,
				"`input[%d]` must be %s, as `input[0]` is: one request "
				"embeds strings or token arrays, not both.",
				i, cJSON_IsString(first) ? "a string" : "an array of token ids");
		if (cJSON_IsString(item) && !item->valuestring[0])
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "`input[%d]` must not be an empty string.", i);
		snprintf(name, sizeof name, "input[%d]", i);
		if (cJSON_IsArray(item) && check_tokens(item, name, e) < 0)
			return -1;
		i++;
	}
	rq->ninputs = (size_t)i;
	return 0;
}

/* Member key of root, with null counting as absent. */
static const cJSON *member(const cJSON *root, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	return cJSON_IsNull(v) ? NULL : v;
}

int embeddings_request_parse(const char *body, size_t len, struct embeddings_request *rq,
			     struct err *e)
{
	const cJSON *v;

	memset(rq, 0, sizeof *rq);
	if (!(rq->root = json_body_parse(body, len, e)))
		return -1;

	v = member(rq->root, "model");
	if (v && !cJSON_IsString(v))
		return err_set(e, 400, ERR_INVALID_REQUEST, "`model` must be a string.");
	rq->model = v && v->valuestring[0] ? v->valuestring : "openclaw";

	if (parse_input(member(rq->root, "input"), rq, e) < 0)
		return -1;
	rq->input = member(rq->root, "input");

	v = member(rq->root, "encoding_format");
	if (v && (!cJSON_IsString(v) ||
		  (strcmp(v->valuestring, "float") && strcmp(v->valuestring, "base64"))))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`encoding_format` must be \"float\" or \"base64\".");
	rq->encoding_format = v ? v->valuestring : NULL;

	v = member(rq->root, "dimensions");
	if (v && !(cJSON_IsNumber(v) && v->valuedouble >= 1 &&
		   v->valuedouble <= PROV_EMBED_MAX_DIMENSIONS &&
		   v->valuedouble == (double)(int)v->valuedouble))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`dimensions` must be an integer from 1 to %d.",
			       PROV_EMBED_MAX_DIMENSIONS);
	rq->dimensions = v ? (int)v->valuedouble : 0;

	/* accepted for OpenAI's clients, and ignored: nothing is kept */
	v = member(rq->root, "user");
	if (v && !cJSON_IsString(v))
		return err_set(e, 400, ERR_INVALID_REQUEST, "`user` must be a string.");
	return 0;
}

void embeddings_request_free(struct embeddings_request *rq)
{
	cJSON_Delete(rq->root);
	memset(rq, 0, sizeof *rq);
}

/* http_header for agent_source_headers. */
static const char *request_header(const void *r, const char *name)
{
	return http_header(r, name);
}

/*
 * The agent (x-openclaw-agent-id, else x-openclaw-agent; then the model
 * alias; then the default, as for chat) and the embedding model: the
 * x-openclaw-model header's "provider/model-id", else the agent's
 * embeddingModel; both held to the client's agents (auth_reach_check).
 * 0, or -1 with e (404 unknown agent, 403 permission_denied, 400
 * otherwise).
 */
static int choose_model(struct http_req *r, const struct cfg *c, const char *model,
			const struct cfg_agent **agent, struct cfg_model *out, struct err *e)
{
	struct agent_turn_source src = {.caller = AGENT_CALLER_HTTP};
	const char *ref;

	agent_source_headers(&src, request_header, r);
	if (agent_select(c, src.agent_id, model, AGENT_CALLER_HTTP, agent, e) < 0 ||
	    auth_agent_check(r->client, (*agent)->id, e) < 0 ||
	    auth_override_check(r->client, c, src.model_override, e) < 0)
		return -1;
	ref = src.model_override;
	if (!ref || !*ref) {
		*out = (*agent)->embedding_model;
		if (!out->provider)
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "The agent '%s' has no embeddingModel: set its "
				       "`embeddingModel` (\"provider/model-id\") in the config, "
				       "or send an `x-openclaw-model` header.",
				       (*agent)->id);
	} else if (agent_model_override(c, ref, AGENT_CALLER_HTTP, out, e) < 0) {
		return -1;
	}
	return auth_reach_check(r->client, c, (*agent)->id, out, NULL, e);
}

/* Nothing to write while waiting, but a client gone cancels (as chat's). */
static int embed_idle(struct prov_sink *s)
{
	return http_client_gone(s->ctx) ? -1 : 0;
}

/* {"object":"list","data":data,"model":model,"usage":{...}}; takes data. */
static int send_list(struct http_req *r, const char *model, cJSON *data, const struct prov_usage *u)
{
	cJSON *o = cJSON_CreateObject(), *usage;
	int rc = -1;

	if (!o) {
		cJSON_Delete(data);
		return -1;
	}
	cJSON_AddStringToObject(o, "object", "list");
	cJSON_AddItemToObject(o, "data", data);
	cJSON_AddStringToObject(o, "model", model);
	if ((usage = cJSON_AddObjectToObject(o, "usage")) &&
	    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u->prompt_tokens) &&
	    cJSON_AddNumberToObject(usage, "total_tokens",
				    (double)(u->total_tokens ? u->total_tokens : u->prompt_tokens)))
		rc = http_send_json(r, 200, o, NULL);
	cJSON_Delete(o);
	return rc;
}

void embeddings_handle(struct http_req *r, const struct cfg *c, struct worker *w)
{
	struct buf body = BUF_INIT;
	struct embeddings_request rq = {0};
	const struct cfg_agent *agent = NULL;
	struct cfg_model model = {0};
	struct prov_embed_request erq = {.curl = &w->curl};
	struct prov_result res = {0};
	struct prov_sink sink = {NULL, NULL, embed_idle, r};
	cJSON *data = NULL;
	struct err e;

	err_clear(&e);
	if (http_read_body(r, c->chat.max_body_bytes, c->chat.body_timeout_seconds, &body, &e) <
		    0 ||
	    embeddings_request_parse(body.data, body.len, &rq, &e) < 0 ||
	    choose_model(r, c, rq.model, &agent, &model, &e) < 0 ||
	    auth_tokens_reserve(r, w, c, body.len, 0, &e) < 0) {
		http_send_error(r, &e, NULL);
		goto out;
	}
	buf_free(&body); /* the parsed tree has what we need */
	if (http_client_gone(r)) {
		log_warn("embeddings: the client left while the request waited; not started");
		goto out;
	}

	erq.provider = model.provider;
	erq.model = model.model;
	erq.input = rq.input;
	erq.ninputs = rq.ninputs;
	erq.encoding_format = rq.encoding_format;
	erq.dimensions = rq.dimensions;
	if (prov_embed(&erq, &sink, &res, &data, &e) < 0) {
		if (res.cancelled || r->client_gone)
			log_info("embeddings: agent %s: client went away", agent->id);
		else if (e.status >= 500)
			log_warn("embeddings: agent %s, model %s/%s failed: %s", agent->id,
				 model.provider->name, model.model, e.message);
		http_send_error(r, &e, NULL);
	} else {
		send_list(r, rq.model, data, &res.usage);
	}
	metrics_tokens(agent->id, res.usage.prompt_tokens, 0);
	usage_request_tokens_add(res.usage.prompt_tokens, 0);
	usage_request_model(model.provider->name, model.model);
	log_info("embeddings: agent %s, model %s/%s, %zu inputs, status %d", agent->id,
		 model.provider->name, model.model, rq.ninputs, r->status);
out:
	buf_free(&body);
	embeddings_request_free(&rq);
}
