/*
 * embeddings.c - POST /v1/embeddings.  (Being written: answers 404 until
 * then.)
 */
#include "embeddings.h"

void embeddings_handle(struct http_req *r, const struct cfg *c, struct worker *w)
{
	struct err e;

	(void)c, (void)w;
	err_set(&e, 404, ERR_NOT_FOUND, "Not found.");
	http_send_error(r, &e, NULL);
}
