/*
 * router.h - one request, from path to handler (SPEC.md sections 2 and 8).
 */
#ifndef CLAW_ROUTER_H
#define CLAW_ROUTER_H

#include <curl/curl.h>

#include "http.h"

/*
 * Answer r completely.  curl is the calling thread's reusable handle.
 * Takes and releases its own config snapshot.
 */
void router_handle(struct http_req *r, CURL *curl);

#endif
