/*
 * responses.h - the Responses API handlers (the OpenAI API reference,
 * "Responses"): POST /v1/responses runs one agent turn and answers with a
 * response object or its stream of named events; GET and DELETE
 * /v1/responses/{id} return and forget a stored one.
 */
#ifndef CLAW_RESPONSES_H
#define CLAW_RESPONSES_H

#include "config.h"
#include "http.h"
#include "worker.h"

/* POST /v1/responses (auth already checked). */
void responses_handle(struct http_req *r, const struct cfg *c, struct worker *w);
/* GET /v1/responses/{id}: the stored response object, or 404. */
void responses_get(struct http_req *r, const struct cfg *c, struct worker *w, const char *id);
/* DELETE /v1/responses/{id}: {"id","object":"response","deleted":true}, or 404. */
void responses_delete(struct http_req *r, const struct cfg *c, struct worker *w, const char *id);

#endif
