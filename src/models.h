/*
 * models.h - the model list endpoints: each agent is a model.
 */
#ifndef CLAW_MODELS_H
#define CLAW_MODELS_H

#include "config.h"
#include "http.h"

/* GET /v1/models: {"object":"list","data":[model, ...]}, one per agent. */
void models_list(struct http_req *r, const struct cfg *c);

/* GET /v1/models/{id}: id is "openclaw:<agent>" (as listed), any other
 * alias form, or a bare agent id; else 404 model_not_found. */
void models_get(struct http_req *r, const struct cfg *c, const char *id);

#endif
