/*
 * worker.c - a worker's reusable resources (see worker.h).
 *
 * The store is the process's: every worker thread holds the same one (a
 * pool of connections), counted in refs, and moves to a new one when the
 * configured path changes or the file at it was replaced; the old one
 * closes with the last worker that let go of it.
 */
#include "worker.h"

#include <pthread.h>
#include <string.h>

#include "log.h"

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *shared; /* the store new holders get, or NULL */

static bool stale(struct store *s, const char *path)
{
	return strcmp(s->path, path) || (s->ops->moved && s->ops->moved(s));
}

static void release(struct store *s)
{
	bool last;

	pthread_mutex_lock(&shared_lock);
	last = --s->refs == 0;
	if (last && shared == s)
		shared = NULL;
	pthread_mutex_unlock(&shared_lock);
	if (last)
		store_close(s);
}

int worker_store(struct worker *w, const struct cfg *c, struct store **out, struct err *e)
{
	const char *path = c->session.store;

	if (w->store && !stale(w->store, path)) {
		*out = w->store;
		return 0;
	}
	if (w->store) {
		release(w->store);
		w->store = NULL;
	}
	pthread_mutex_lock(&shared_lock);
	if (shared && stale(shared, path)) {
		if (!strcmp(shared->path, path)) /* a file: a connection string never moves */
			log_warn("session store %s was deleted or replaced while open: "
				 "opening it again",
				 path);
		shared = NULL; /* closed by its last holder */
	}
	if (!shared && store_open(path, &shared, e) < 0) {
		pthread_mutex_unlock(&shared_lock);
		return -1;
	}
	shared->refs++;
	w->store = shared;
	pthread_mutex_unlock(&shared_lock);
	*out = w->store;
	return 0;
}

void worker_free(struct worker *w)
{
	if (w->store)
		release(w->store);
	w->store = NULL;
	if (w->curl)
		curl_easy_cleanup(w->curl);
	w->curl = NULL;
}
