/*
 * router.h - one request, from path to handler (SPEC.md sections 2 and 8).
 */
#ifndef CLAW_ROUTER_H
#define CLAW_ROUTER_H

#include "agent.h"
#include "http.h"

/*
 * Answer r completely.  env holds the calling thread's reusable curl
 * handle and store connection.  Takes and releases its own config snapshot.
 */
void router_handle(struct http_req *r, struct agent_env *env);

#endif
