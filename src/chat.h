/*
 * chat.h - the POST /v1/chat/completions handler: request parsing and
 * validation, and the response body or SSE chunks.
 */
#ifndef CLAW_CHAT_H
#define CLAW_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "agent.h"
#include "buf.h"
#include "err.h"
#include "config.h"
#include "http.h"

/* A validated request body.  Owns root; the other pointers point into it. */
struct chat_request {
	cJSON *root;
	const char *model;    /* "openclaw" when absent */
	bool stream;
	bool include_usage;   /* stream_options.include_usage */
	const char *user;     /* NULL when absent or empty */
};

/*
 * Parse and validate body (len bytes).  On success fills rq, and t's
 * system_text (request system/developer messages), messages
 * (user/assistant/tool, structure kept) and params (pass-through).  On
 * failure -1 with a 400 naming the field (413 for images over 20 MiB in
 * all).  Image URLs other than data: URIs need allow_image_urls.  t must be
 * agent_turn_init'ed.
 */
int chat_parse(const char *body, size_t len, bool allow_image_urls,
	       struct chat_request *rq, struct agent_turn *t, struct err *e);
void chat_request_free(struct chat_request *rq);

/* Handle one POST: auth has passed.  env is the worker thread's. */
void chat_handle(struct http_req *r, const struct cfg *c, struct agent_env *env);

#endif
