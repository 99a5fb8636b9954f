/*
 * router.h - one request, from path to handler (SPEC.md sections 2 and 8).
 */
#ifndef CLAW_ROUTER_H
#define CLAW_ROUTER_H

#include "http.h"
#include "worker.h"

/*
 * Answer r completely.  w is the calling worker's reusable curl handle and
 * store connection.  Takes and releases its own config snapshot.
 */
void router_handle(struct http_req *r, struct worker *w);

#endif
