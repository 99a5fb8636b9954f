/*
 * chat.h - the POST /v1/chat/completions handler.
 */
#ifndef CLAW_CHAT_H
#define CLAW_CHAT_H

#include "config.h"
#include "http.h"
#include "worker.h"

/* Answer one POST (auth has passed) completely: a chat completion, a
 * stream of chunks, or an error.  w is the calling worker's. */
void chat_handle(struct http_req *r, const struct cfg *c, struct worker *w);

#endif
