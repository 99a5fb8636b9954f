/*
 * store_sqlite.h - inside the SQLite backend of store.h: one connection to
 * the store's file and the operations on it (store_sqlite.c), for the pool
 * that shares connections among a process's threads (store_sqlite_pool.c).
 * Nothing outside these two files includes it.
 *
 * A connection is used by one thread at a time.  Every operation returns 0
 * or -1 with e set (500 api_error, "Session store error: ...", the cause
 * logged), as store.h's do, and leaves no partial write behind.
 */
#ifndef CLAW_STORE_SQLITE_H
#define CLAW_STORE_SQLITE_H

#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <sqlite3.h>

#include "store.h"

/* One connection: its database handle and prepared statements. */
struct conn;

/*
 * A new connection to the SQLite file at path (created with its tables if
 * new; path is kept, not copied: it must outlive the connection).  WAL
 * mode, foreign keys, synchronous NORMAL, a busy handler that polls in
 * short sleeps for up to 15 s.  migrate_now: bring the schema up to date
 * first (store_open_sqlite's first connection does; the others find it
 * done).  wal_hook, if not NULL, is called after each commit with hook_ctx
 * (sqlite3_wal_hook's contract).  NULL with e set when the file cannot be
 * opened, is read-only, or its schema cannot be migrated.
 */
struct conn *conn_open(const char *path, bool migrate_now,
		       int (*wal_hook)(void *ctx, sqlite3 *db, const char *name, int pages),
		       void *hook_ctx, struct err *e);

/* Finalizes c's statements and closes it; NULL is ignored. */
void conn_close(struct conn *c);

/*
 * A WAL checkpoint on c (mode: SQLITE_CHECKPOINT_PASSIVE or _RESTART;
 * sqlite3_wal_checkpoint_v2).  wait_ms > 0: from now on c's busy handler
 * gives up after that long (a restarting checkpoint waits for readers).
 * Returns SQLite's result code; *log and *done (either may be NULL) get
 * the WAL's frames and those copied back.
 */
int conn_checkpoint(struct conn *c, int mode, int wait_ms, int *log, int *done);

/*
 * A turn waiting in a group commit.  The thread that writes the group sets
 * rc and e (which it may write until then) and done for each turn of it,
 * then posts woken; a turn posted without done is to write the next group.
 */
struct turn_wait {
	const struct store_turn *t;
	struct err *e;
	int rc;
	bool done;
	sem_t woken;
	struct turn_wait *next;
};

/*
 * The turns of a group (a list from first) in one transaction on s: each
 * turn between SAVEPOINT and RELEASE, so a turn that fails is rolled back
 * alone (a group of one needs none).  Sets each one's rc (0 or -1) and, on
 * -1, its e; an error that ends the transaction fails them all.  Expires
 * sessions idle past a turn's ttl_days now and then.
 */
void sq_append_group(struct conn *s, struct turn_wait *first);

/*
 * store.h's operations on one connection: each takes and returns what the
 * store_ops member of the same name does (store.h), with the connection
 * in place of the store.
 */
int sq_load_history(struct conn *s, const char *agent_id, const char *key, int limit, cJSON **out,
		    struct err *e);
int sq_purge(struct conn *s, double days, long *deleted, struct err *e);
int sq_list(struct conn *s, const char *agent_id,
	    int (*fn)(void *ctx, const struct store_session *row), void *ctx, struct err *e);
int sq_show(struct conn *s, const char *key,
	    int (*fn)(void *ctx, const char *agent_id, long seq, const cJSON *msg,
		      bool interrupted),
	    void *ctx, long *count, struct err *e);
int sq_remove(struct conn *s, const char *key, long *deleted, struct err *e);
int sq_get_response(struct conn *s, const char *id, struct store_response *out, struct err *e);
int sq_delete_response(struct conn *s, const char *id, long *deleted, struct err *e);
int sq_fork(struct conn *s, const char *agent_id, const char *from_key, long long upto,
	    const char *to_key, struct err *e);
int sq_auth_locked(struct conn *s, const char *addr, long long now_ms, long long *retry_ms,
		   struct err *e);
int sq_auth_failed(struct conn *s, const char *addr, long long now_ms, int max, long window_ms,
		   long lockout_ms, long long *retry_ms, struct err *e);
int sq_key_put(struct conn *s, const struct store_key *k, bool replace, struct err *e);
int sq_key_get(struct conn *s, const char *name, const char *hash, struct store_key *out,
	       struct err *e);
int sq_key_list(struct conn *s, int (*fn)(void *ctx, const struct store_key *k), void *ctx,
		struct err *e);
int sq_key_touch(struct conn *s, const char *name, long long now_ms, struct err *e);
int sq_rate_take(struct conn *s, const char *client, long long window, long rpm, long tpm,
		 struct store_rate *out, struct err *e);
int sq_rate_add_tokens(struct conn *s, const char *client, long long window, long tokens,
		       struct err *e);
int sq_rate_reserve(struct conn *s, const char *client, long long window, long tpm, long tokens,
		    struct store_rate *out, struct err *e);
int sq_usage_unauth_first(struct conn *s, const char *addr, long long minute, bool *first,
			  struct err *e);
int sq_usage_add(struct conn *s, const struct store_usage *rows, size_t n, struct err *e);
int sq_usage_scan(struct conn *s, long long since, long long until,
		  int (*fn)(void *ctx, const struct store_usage *row), void *ctx, struct err *e);
int sq_usage_purge(struct conn *s, long long before, long *deleted, struct err *e);

#endif
