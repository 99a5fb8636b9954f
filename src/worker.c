/*
 * worker.c - a worker's reusable resources (see worker.h).
 */
#include "worker.h"

#include <string.h>

#include "log.h"

int worker_store(struct worker *w, const struct cfg *c, struct store **out, struct err *e)
{
	if (w->store && strcmp(w->store->path, c->session.store)) {
		store_close(w->store);
		w->store = NULL;
	}
	if (w->store && w->store->ops->moved && w->store->ops->moved(w->store)) {
		log_warn("session store %s was deleted or replaced while open: opening it again",
			 w->store->path);
		store_close(w->store);
		w->store = NULL;
	}
	if (!w->store && store_open_sqlite(c->session.store, &w->store, e) < 0)
		return -1;
	*out = w->store;
	return 0;
}

void worker_free(struct worker *w)
{
	store_close(w->store);
	w->store = NULL;
	if (w->curl)
		curl_easy_cleanup(w->curl);
	w->curl = NULL;
}
