/*
 * responses.c - the Responses API.  (Being written: answers 404 until then.)
 */
#include "responses.h"

static void not_yet(struct http_req *r)
{
	struct err e;

	err_set(&e, 404, ERR_NOT_FOUND, "Not found.");
	http_send_error(r, &e, NULL);
}

void responses_handle(struct http_req *r, const struct cfg *c, struct worker *w)
{
	(void)c, (void)w;
	not_yet(r);
}

void responses_get(struct http_req *r, const struct cfg *c, struct worker *w, const char *id)
{
	(void)c, (void)w, (void)id;
	not_yet(r);
}

void responses_delete(struct http_req *r, const struct cfg *c, struct worker *w, const char *id)
{
	(void)c, (void)w, (void)id;
	not_yet(r);
}
