/*
 * chat_request.h - the request body of POST /v1/chat/completions (the
 * OpenAI API reference, "Create chat completion"), parsed and validated.
 *
 * Pure: no HTTP, no config, no store.  Every malformed input is a 400
 * invalid_request_error whose message names the field (`messages[2].role`),
 * or a 413 for images over 20 MiB in all; nothing is accepted half.
 *
 * Ownership: a struct chat_request owns root, system_text, messages,
 * origin and params; model and user point into root.  chat_request_free()
 * releases it all; a caller may take messages or params (set the field to
 * NULL).
 */
#ifndef CLAW_CHAT_REQUEST_H
#define CLAW_CHAT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"

struct chat_request {
	cJSON *root;	   /* the parsed body */
	const char *model; /* "openclaw" when absent or empty */
	bool stream;
	bool include_usage;	/* stream_options.include_usage */
	const char *user;	/* NULL when absent or empty; checked as a session key by agent.c */
	struct buf system_text; /* the system/developer messages' text, joined by
				   blank lines, in order; empty when none */
	cJSON *messages;	/* user/assistant/tool messages, in order, as
				   msg_copy keeps them ("function" becomes "tool") */
	int *origin;		/* for each of messages, its index in the body's
				   `messages` (system ones are not in messages) */
	cJSON *params;		/* every other top-level field, as sent (the known ones
				   type-checked: temperature, n, tools, ...), or NULL */
};

/*
 * Parse and validate body (len bytes, UTF-8 JSON) into rq.  Image URLs
 * other than data: URIs need allow_image_urls.  Returns 0, or -1 with e
 * (400 or 413; 500 when out of memory); rq must be freed either way.
 */
int chat_request_parse(const char *body, size_t len, bool allow_image_urls, struct chat_request *rq,
		       struct err *e);
/* The same from a parsed body: rq takes root (freed with rq, also on
 * failure).  The Responses API hands its request over in this shape. */
int chat_request_take(cJSON *root, bool allow_image_urls, struct chat_request *rq, struct err *e);
void chat_request_free(struct chat_request *rq);

#endif
