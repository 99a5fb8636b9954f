/*
 * embeddings.h - the POST /v1/embeddings handler (the OpenAI API
 * reference, "Create embeddings"): the agent picked as for chat, its
 * embeddingModel (or the x-openclaw-model header) asked for the vectors.
 * Nothing of a request is stored.
 */
#ifndef CLAW_EMBEDDINGS_H
#define CLAW_EMBEDDINGS_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "worker.h"

/* Answer r (auth already checked): the embedding list, or an error body. */
void embeddings_handle(struct http_req *r, const struct cfg *c, struct worker *w);

/*
 * The request body, parsed and validated (apart for the unit tests).  Owns
 * root; the other pointers point into it.
 */
struct embeddings_request {
	cJSON *root;
	const char *model;	     /* "openclaw" when absent, null or empty */
	const cJSON *input;	     /* as prov_embed_request describes it (provider.h) */
	size_t ninputs;		     /* the inputs in it */
	const char *encoding_format; /* "float", "base64", or NULL when absent or null */
	int dimensions;		     /* 0 when absent or null */
};

/*
 * Parse body (len bytes) into rq: one strict JSON object (json_body_parse)
 * with `input` (a string, an array of strings, an array of token ids, or
 * an array of arrays of token ids; nothing empty, no array over 2048
 * items, strings and token arrays not mixed), and optional `model`,
 * `encoding_format` ("float" or "base64"), `dimensions` (an integer from
 * 1 to PROV_EMBED_MAX_DIMENSIONS) and `user` (a string, ignored); other
 * fields are ignored.  Returns 0, or -1 with e: 400 invalid_request_error
 * naming the field (`input[3]`, `input[1][0]`), 500 out of memory.  rq
 * must be freed either way.
 */
int embeddings_request_parse(const char *body, size_t len, struct embeddings_request *rq,
			     struct err *e);
void embeddings_request_free(struct embeddings_request *rq);

#endif
