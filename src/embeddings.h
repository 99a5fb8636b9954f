/*
 * embeddings.h - the POST /v1/embeddings handler (the OpenAI API
 * reference, "Create embeddings"): the agent picked as for chat, its
 * embeddingModel (or the x-openclaw-model header) asked for the vectors.
 */
#ifndef CLAW_EMBEDDINGS_H
#define CLAW_EMBEDDINGS_H

#include "config.h"
#include "http.h"
#include "worker.h"

/* Answer r (auth already checked): the embedding list, or an error body. */
void embeddings_handle(struct http_req *r, const struct cfg *c, struct worker *w);

#endif
