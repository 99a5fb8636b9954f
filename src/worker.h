/*
 * worker.h - what one worker keeps across the requests it serves: its
 * curl handle (so upstream connections are reused) and its hold on the
 * process's session store (one pool of connections for every thread).
 * serve.c owns one per worker thread (and one for a CGI process), the CLI
 * one for its run; handlers borrow it for a request.
 *
 * A struct worker is its thread's own; only the store it holds is shared.
 */
#ifndef CLAW_WORKER_H
#define CLAW_WORKER_H

#include <curl/curl.h>

#include "config.h"
#include "err.h"
#include "store.h"

struct worker {
	CURL *curl;	     /* made on first use by an HTTP provider, or NULL */
	struct store *store; /* the process's, held from first use, or NULL */
};

#define WORKER_INIT                                                                                \
	{                                                                                          \
		NULL, NULL                                                                         \
	}

/*
 * The worker's store for c's session.store, opened (or reopened, when the
 * setting changed or the file at the path was deleted or replaced) as
 * needed.  Returns 0 with *out (still the worker's),
 * or -1 with e (500).
 */
int worker_store(struct worker *w, const struct cfg *c, struct store **out, struct err *e);

/* Close the store and the curl handle; w may be reused after. */
void worker_free(struct worker *w);

#endif
