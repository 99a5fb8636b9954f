/*
 * models.c - GET /v1/models and GET /v1/models/{id} (the OpenAI API
 * reference, "Models"): each configured agent is a model, listed as
 * "openclaw:<agent id>" (SPEC.md section 8).
 */
#include "models.h"

#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "auth.h"

/* {"id":"openclaw:<agent>","object":"model","created":0,"owned_by":"clawcgi"} */
static cJSON *model_entry(const struct cfg_agent *a)
{
	cJSON *o = cJSON_CreateObject();
	char id[AGENT_ID_MAX + 16];

	snprintf(id, sizeof id, "openclaw:%s", a->id);
	if (!o || !cJSON_AddStringToObject(o, "id", id) ||
	    !cJSON_AddStringToObject(o, "object", "model") ||
	    !cJSON_AddNumberToObject(o, "created", 0) ||
	    !cJSON_AddStringToObject(o, "owned_by", "clawcgi")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Send o (taking it) as 200, or a 500 when building it ran out of memory. */
static void send_model_json(struct http_req *r, cJSON *o, bool complete)
{
	struct err e;

	if (!o || !complete) {
		err_nomem(&e);
		http_send_error(r, &e, NULL);
	} else {
		http_send_json(r, 200, o, NULL);
	}
	cJSON_Delete(o);
}

void models_list(struct http_req *r, const struct cfg *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *data = cJSON_AddArrayToObject(o, "data");
	bool complete = data && cJSON_AddStringToObject(o, "object", "list");

	for (size_t i = 0; complete && i < c->nagents; i++) {
		cJSON *m;
		if (!auth_allows_agent(r->client, c->agents[i].id))
			continue; /* a client key or user sees only its agents */
		m = model_entry(&c->agents[i]);
		complete = m != NULL;
		cJSON_AddItemToArray(data, m);
	}
	send_model_json(r, o, complete);
}

void models_get(struct http_req *r, const struct cfg *c, const char *id)
{
	char agent[AGENT_ID_MAX + 1];
	const struct cfg_agent *a = NULL;
	struct err e;

	if (agent_model_alias(id, agent))
		a = cfg_find_agent(c, agent);
	else if (strlen(id) <= AGENT_ID_MAX)
		a = cfg_find_agent(c, id);
	if (!a) {
		err_set(&e, 404, ERR_INVALID_REQUEST, "The model `%.100s` does not exist.", id);
		e.code = ERR_CODE_MODEL_NOT_FOUND;
		http_send_error(r, &e, NULL);
		return;
	}
	if (auth_agent_check(r->client, a->id, &e) < 0) {
		http_send_error(r, &e, NULL);
		return;
	}
	send_model_json(r, model_entry(a), true);
}
