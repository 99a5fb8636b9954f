/*
 * store.h - the session store interface (SPEC.md sections 5 and 6): history
 * load, turn append, expiry, the Responses API's stored responses, and the
 * failed-auth counters every worker process shares.
 *
 * A struct store may be used by every thread of a process at once (the
 * SQLite backend keeps a small pool of connections); worker.c shares one
 * per process.  Backends implement struct store_ops; store_sqlite.c is the
 * SQLite one.  Every function returns 0 or -1 with e set (500 api_error,
 * "Session store error: ..."), never a partial write.
 */
#ifndef CLAW_STORE_H
#define CLAW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"

struct store;

/* One turn to persist: the request's new messages and the answer. */
struct store_turn {
	const char *session_key;
	const char *agent_id;
	const char *run_id;
	const cJSON *new_messages; /* array of OpenAI messages, stored as given */
	const cJSON *answer;	   /* the assistant message (NULL: out of memory) */
	bool interrupted;	   /* the client left before the end */
	long prompt_tokens;
	long completion_tokens;
	int ttl_days; /* expire idle sessions now and then; 0 = never */
	/* A Responses API response to keep with the turn (NULL: none): its
	 * id ("resp_..."), and the response object GET /v1/responses/{id}
	 * returns, stored as given. */
	const char *response_id;
	const cJSON *response;
};

/* A stored response: the turn it ended and the object as returned. */
struct store_response {
	char agent_id[80];
	char session_key[300];
	long long last_seq; /* the seq of the turn's answer in its session */
	bool latest;	    /* no message after it in its session */
	cJSON *body;	    /* owned by the caller: cJSON_Delete */
};

/* A row of `clawcgi sessions list`. */
struct store_session {
	char key[300];
	char agent_id[80];
	long long created;
	long long last_used;
	long messages;
};

struct store_ops {
	/* The last limit messages of (agent, key), oldest first, as a new array. */
	int (*load_history)(struct store *s, const char *agent_id, const char *key, int limit,
			    cJSON **out, struct err *e);
	/* The new messages and the answer, in one transaction. */
	int (*append_turn)(struct store *s, const struct store_turn *t, struct err *e);
	/* Delete sessions idle for more than days; *deleted gets the count. */
	int (*purge)(struct store *s, double days, long *deleted, struct err *e);
	/* Calls fn for each session (agent_id NULL for all), newest first. */
	int (*list)(struct store *s, const char *agent_id,
		    int (*fn)(void *ctx, const struct store_session *row), void *ctx,
		    struct err *e);
	/* Every message of key (all agents), oldest first: fn(ctx, agent, seq, message). */
	int (*show)(struct store *s, const char *key,
		    int (*fn)(void *ctx, const char *agent_id, long seq, const cJSON *msg,
			      bool interrupted),
		    void *ctx, long *count, struct err *e);
	/*
	 * Failed-auth throttling per client address, shared by every process
	 * using the store.  auth_locked: *retry_ms > 0 while addr is locked out.
	 * auth_failed: count a failure in the window; at max failures lock the
	 * address for lockout_ms (*retry_ms set then).  Expired rows are pruned.
	 */
	int (*auth_locked)(struct store *s, const char *addr, long long now_ms, long long *retry_ms,
			   struct err *e);
	int (*auth_failed)(struct store *s, const char *addr, long long now_ms, int max,
			   long window_ms, long lockout_ms, long long *retry_ms, struct err *e);
	/* Whether the store is no longer the one at its path (the file deleted
	 * or replaced while open): the caller closes it and opens the path
	 * again.  NULL: it cannot move. */
	bool (*moved)(struct store *s);
	/* Delete key (all agents); *deleted tells whether it existed. */
	int (*remove)(struct store *s, const char *key, long *deleted, struct err *e);
	/* The response id: 0 with *out filled, 1 when there is none (never
	 * stored, deleted, or its session expired), or -1 with e. */
	int (*get_response)(struct store *s, const char *id, struct store_response *out,
			    struct err *e);
	/* Forget the response id (its turn stays in its session); *deleted
	 * tells whether it existed. */
	int (*delete_response)(struct store *s, const char *id, long *deleted, struct err *e);
	/* A new session to_key of agent_id holding copies of from_key's
	 * messages up to seq upto (a conversation continued from an earlier
	 * response goes on in a branch of its own). */
	int (*fork)(struct store *s, const char *agent_id, const char *from_key, long long upto,
		    const char *to_key, struct err *e);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
	char *path;
	int refs; /* workers holding it (worker.c) */
};

/* Open (creating the file and its directory, migrating the schema): a
 * pool of up to 4 connections, the first opened now.  Safe to call from
 * several threads; close it once no thread uses it. */
int store_open_sqlite(const char *path, struct store **out, struct err *e);

#define store_load_history(s, ...) ((s)->ops->load_history((s), __VA_ARGS__))
#define store_append_turn(s, ...) ((s)->ops->append_turn((s), __VA_ARGS__))
#define store_purge(s, ...) ((s)->ops->purge((s), __VA_ARGS__))
#define store_list(s, ...) ((s)->ops->list((s), __VA_ARGS__))
#define store_show(s, ...) ((s)->ops->show((s), __VA_ARGS__))
#define store_remove(s, ...) ((s)->ops->remove((s), __VA_ARGS__))
#define store_get_response(s, ...) ((s)->ops->get_response((s), __VA_ARGS__))
#define store_delete_response(s, ...) ((s)->ops->delete_response((s), __VA_ARGS__))
#define store_fork(s, ...) ((s)->ops->fork((s), __VA_ARGS__))
#define store_auth_locked(s, ...) ((s)->ops->auth_locked((s), __VA_ARGS__))
#define store_auth_failed(s, ...) ((s)->ops->auth_failed((s), __VA_ARGS__))
static inline void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

#endif
