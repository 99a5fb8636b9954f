/*
 * store.h - the session store interface (SPEC.md sections 5 and 6): history
 * load, turn append, expiry, the Responses API's stored responses, the
 * failed-auth counters every worker process shares, and (gateway.auth.mode
 * "keys", remote-user, the usage log) client keys, per-client rate windows
 * and usage rows.
 *
 * A struct store may be used by every thread of a process at once (each
 * backend keeps a pool of connections); worker.c shares one per process.
 * Backends implement struct store_ops: store_sqlite_pool.c (a file; with
 * store_sqlite.c) and store_pg.c (PostgreSQL, built when configure finds
 * libpq).  store.c reads session.store strings and opens the backend they
 * name.  Every function returns 0 or -1 with e set (500 api_error,
 * "Session store error: ..."), never a partial write.
 *
 * Store strings (session.store, clawcgi store migrate):
 *   /abs/file.db, rel/file.db      SQLite; relative to the config's folder
 *   sqlite:PATH                    SQLite, said explicitly
 *   postgresql://user@host:port/db?param=value...   (also postgres://)
 *   host=... dbname=... user=...   PostgreSQL, libpq's keyword form
 * Any other "scheme://" is refused.  A password in them is never shown:
 * store_display masks it.
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
struct store_usage;

/*
 * A session held by a turn (store_session_lock): from reading its history
 * to storing its answer, no other turn of the session, in any process or
 * (PostgreSQL) on any host, reads or writes it.  The caller keeps the
 * struct (zeroed: not held); the backend fills it and store_session_unlock
 * empties it.
 */
struct store_lock {
	struct store *store; /* NULL: not held */
	/* store->ops, kept: a SQLite store replaced on disk while held may be
	 * closed before the unlock, which then needs only the descriptor */
	const struct store_ops *ops;
	long long key; /* store_session_hash of (agent, session key) */
	int fd;	       /* SQLite: the lock file, open while held */
	void *conn;    /* PostgreSQL: the connection the lock is on */
};

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
	/* The request's usage row, inserted in the turn's own transaction
	 * (NULL: the usage log is off). */
	const struct store_usage *usage;
};

/*
 * A client key (clawcgi keys; gateway.auth.mode "keys").  The store keeps
 * the SHA-256 of the secret, never the secret.  Times are ms since the
 * epoch; 0 means never (expires, revoked, last used).
 */
struct store_key {
	char name[65];	   /* [a-z0-9._-]{1,64} (capitals in a key made before names were
			      lower-cased), unique in any case */
	char hash[65];	   /* lower-case hex SHA-256 of the secret, unique */
	char agents[1024]; /* agent ids joined by ',' ("" = every agent) */
	long rpm;	   /* requests per minute, 0 = no limit */
	long tpm;	   /* tokens per minute, 0 = no limit */
	long long created;
	long long expires;
	long long revoked;
	long long last_used;
};

/* One request's minute window of a rate-limited client ("key:NAME" or
 * "user:NAME"), as rate_take left it. */
struct store_rate {
	bool allowed;  /* false: a limit was reached, nothing counted */
	long requests; /* requests counted in the window, this one included */
	long tokens;   /* tokens counted in the window */
};

/*
 * A usage log row (one per request; usage.enabled).  Strings may be NULL
 * where they do not apply (no agent, stateless, no model answered).
 * auth_kind: "operator" (the gateway token or password), "key", "user"
 * (remote-user) or "none" (auth mode none); auth_name: the key's or
 * user's name.  Latencies in ms; ttft_ms < 0: no first token.
 */
struct store_usage {
	long long time;	      /* ms since the epoch, when the request began */
	const char *endpoint; /* "chat.completions", "responses", "embeddings", "models", ... */
	const char *agent_id;
	const char *auth_kind;
	const char *auth_name;
	const char *session_key;
	const char *model; /* "provider/model" that served, after fallbacks */
	int status;
	long prompt_tokens;
	long completion_tokens;
	double latency_ms;
	double ttft_ms;
	bool interrupted;
	bool estimated; /* no usage came: the tokens are clawcgi's estimate */
};

/* A stored response: the turn it ended and the object as returned. */
struct store_response {
	char agent_id[80];
	char session_key[700]; /* up to a client's scope (auth.h) and ':' before 256 bytes */
	long long last_seq;    /* the seq of the turn's answer in its session */
	bool latest;	       /* no message after it in its session */
	cJSON *body;	       /* owned by the caller: cJSON_Delete */
};

/* A row of `clawcgi sessions list`. */
struct store_session {
	char key[700];
	char agent_id[80];
	long long created;
	long long last_used;
	long messages;
};

struct store_ops {
	/*
	 * The last limit messages of (agent, key), oldest first, as a new
	 * array.  Each is valid JSON; it may come as a stored message, its
	 * text not parsed yet (message.h: msg_stored; msg_open reads one), as
	 * the SQLite backend gives them.  A row that is not JSON is left out.
	 */
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
	/*
	 * Client keys.  key_put: insert k, or with replace overwrite the row
	 * of k->name (exactly as stored); 1 when inserting a name that exists
	 * in any case (or a hash that exists), or replacing one that does
	 * not.  key_get: by name in any case (hash NULL; of two names that
	 * differ only in case, one not revoked first) or by hash (name NULL);
	 * 0 with *out filled, 1 when there is none.
	 * key_list: every key, by name.  key_touch: set last_used to now_ms.
	 */
	int (*key_put)(struct store *s, const struct store_key *k, bool replace, struct err *e);
	int (*key_get)(struct store *s, const char *name, const char *hash, struct store_key *out,
		       struct err *e);
	int (*key_list)(struct store *s, int (*fn)(void *ctx, const struct store_key *k), void *ctx,
			struct err *e);
	int (*key_touch)(struct store *s, const char *name, long long now_ms, struct err *e);
	/*
	 * Per-client request and token counts in fixed one-minute windows,
	 * shared by every process (and host) using the store.  window: the
	 * window's start in ms (a multiple of 60000).  rate_take, in one
	 * transaction: when rpm > 0 and the window holds rpm requests, or tpm
	 * > 0 and it holds tpm tokens, out->allowed = false and nothing
	 * changes; else one request is counted.  out gets the counts either
	 * way.  rate_add_tokens adds tokens to the window (a row made if
	 * needed).  Windows older than the previous one are pruned now and
	 * then.
	 */
	int (*rate_take)(struct store *s, const char *client, long long window, long rpm, long tpm,
			 struct store_rate *out, struct err *e);
	int (*rate_add_tokens)(struct store *s, const char *client, long long window, long tokens,
			       struct err *e);
	/*
	 * Reserve tokens (> 0) in a window rate_take counted a request in,
	 * atomically: refused when the window's tokens (counted and reserved)
	 * have reached tpm, so they pass it by less than one reservation;
	 * refused, the request rate_take counted is taken back (nothing of
	 * it stays counted).  out->allowed says which; out gets the counts
	 * as they are after it.  A reservation is settled later with
	 * rate_add_tokens(real - reserved), which may be negative.
	 */
	int (*rate_reserve)(struct store *s, const char *client, long long window, long tpm,
			    long tokens, struct store_rate *out, struct err *e);
	/*
	 * Whether a request that failed authentication from addr is the
	 * first of its minute (minute: a multiple of 60000 ms) to be logged,
	 * decided in the store so that it holds across processes: *first is
	 * true once per address and minute.  Rows of past minutes are pruned.
	 */
	int (*usage_unauth_first)(struct store *s, const char *addr, long long minute, bool *first,
				  struct err *e);
	/*
	 * The usage log.  usage_add: n rows in one transaction.  usage_scan:
	 * fn for each row with since <= time < until (ms), oldest first.
	 * usage_purge: delete rows older than before (ms); *deleted the count.
	 */
	int (*usage_add)(struct store *s, const struct store_usage *rows, size_t n, struct err *e);
	int (*usage_scan)(struct store *s, long long since, long long until,
			  int (*fn)(void *ctx, const struct store_usage *row), void *ctx,
			  struct err *e);
	int (*usage_purge)(struct store *s, long long before, long *deleted, struct err *e);
	/*
	 * The session lock of l->key, tried once without waiting (the waiting
	 * is store_session_lock's): 0 held (l->fd or l->conn set), 1 another
	 * turn holds it, -1 with e.  A lock outlives nothing: a process that
	 * dies, or a connection that drops, lets it go.  session_unlock lets
	 * go of a held one.  NULL (both): the store does not lock.
	 */
	int (*session_trylock)(struct store *s, struct store_lock *l, struct err *e);
	void (*session_unlock)(struct store *s, struct store_lock *l);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
	char *path; /* the store string it was opened with (the SQLite file's
		     * path; a PostgreSQL one may hold a password: never log it) */
	int refs;   /* workers holding it (worker.c) */
};

/* Open (creating the file and its directory, migrating the schema): a
 * pool of up to 4 connections, the first opened now.  Safe to call from
 * several threads; close it once no thread uses it. */
int store_open_sqlite(const char *path, struct store **out, struct err *e);

/* The schema version (PRAGMA user_version) of the SQLite file at path,
 * read without changing it; -1 when it cannot be read as a database.
 * STORE_SQLITE_SCHEMA: this build's, what opening brings a file to. */
int store_sqlite_file_schema(const char *path);
extern const int STORE_SQLITE_SCHEMA;

/*
 * The failed-auth throttle's arithmetic, the same for every backend: one
 * more failure at now_ms for an address whose row is v = {window_start,
 * failures, locked_until} (ms; {0, 0, 0} for none), with at most max
 * failures per window_ms before a lockout of lockout_ms.  Updates v in
 * place to the row to store and returns the ms the address stays locked
 * out (0: not locked).
 */
long long store_auth_step(long long v[3], long long now_ms, int max, long window_ms,
			  long lockout_ms);

enum store_kind { STORE_SQLITE, STORE_POSTGRESQL };

/*
 * Read a store string strictly.  config_path: the config file, whose
 * folder a relative SQLite path is resolved against (NULL: the working
 * directory).  On success *out is a new string (the caller frees it): the
 * absolute file path of a SQLite store ("sqlite:" dropped), or the
 * PostgreSQL connection string as given; *kind says which.  On failure -1
 * with why (a sentence without the password) filled: empty, an unknown
 * scheme, a connection string libpq cannot read, or PostgreSQL in a build
 * without it.
 */
int store_resolve(const char *spec, const char *config_path, char **out, enum store_kind *kind,
		  char *why, size_t whylen);

/* The kind of a resolved store string (store_resolve's *out). */
enum store_kind store_kind_of(const char *spec);

/* spec fit to show (logs, check-config, errors): every password in it
 * replaced by "******".  A new string (NULL: out of memory). */
char *store_display(const char *spec);

/* Add each password in spec (a PostgreSQL string; a SQLite one has none)
 * to found, as written and as libpq reads it, for masking (mask.h).  0, or
 * -1 out of memory. */
struct mask_set;
int store_secrets(const char *spec, struct mask_set *found);

/* Whether this build has the PostgreSQL backend (configure found libpq). */
bool store_postgresql_built(void);

/* Open the store a resolved string names (store_open_sqlite or
 * store_open_postgresql). */
int store_open(const char *spec, struct store **out, struct err *e);

/*
 * For check-config, without changing anything: whether the store can be
 * reached.  PostgreSQL: a connection is made and closed; SQLite: the file,
 * or else its nearest existing folder, is writable.  0 or -1, with a
 * sentence in msg either way (no password).
 */
int store_probe(const char *spec, char *msg, size_t msglen);

/*
 * PostgreSQL (store_pg.c): one connection per thread using it (a pool that
 * grows to the number of threads), migrations under an advisory lock, a
 * dropped connection replaced by the next call.  conninfo is a URL or
 * libpq's keyword form.  Opening connects once and migrates the schema.
 */
int store_open_postgresql(const char *conninfo, struct store **out, struct err *e);

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
#define store_key_put(s, ...) ((s)->ops->key_put((s), __VA_ARGS__))
#define store_key_get(s, ...) ((s)->ops->key_get((s), __VA_ARGS__))
#define store_key_list(s, ...) ((s)->ops->key_list((s), __VA_ARGS__))
#define store_key_touch(s, ...) ((s)->ops->key_touch((s), __VA_ARGS__))
#define store_rate_take(s, ...) ((s)->ops->rate_take((s), __VA_ARGS__))
#define store_rate_add_tokens(s, ...) ((s)->ops->rate_add_tokens((s), __VA_ARGS__))
#define store_rate_reserve(s, ...) ((s)->ops->rate_reserve((s), __VA_ARGS__))
#define store_usage_unauth_first(s, ...) ((s)->ops->usage_unauth_first((s), __VA_ARGS__))
#define store_usage_add(s, ...) ((s)->ops->usage_add((s), __VA_ARGS__))
#define store_usage_scan(s, ...) ((s)->ops->usage_scan((s), __VA_ARGS__))
#define store_usage_purge(s, ...) ((s)->ops->usage_purge((s), __VA_ARGS__))
/*
 * Hold the session (agent_id, key) for a turn (struct store_lock).  When
 * another turn holds it, try again every few ms for up to wait_seconds (0:
 * do not wait), and every 250 ms or so ask stop(ctx) (NULL: never): < 0
 * ends the wait.  Returns 0 held (l filled: store_session_unlock it), 1
 * still held by another turn after wait_seconds, 2 stopped, or -1 with e
 * (500, the store failed).
 */
int store_session_lock(struct store *s, const char *agent_id, const char *key, int wait_seconds,
		       int (*stop)(void *ctx), void *ctx, struct store_lock *l, struct err *e);
/* Let go of l if it is held (else nothing); l is then not held. */
void store_session_unlock(struct store_lock *l);
/* The 63-bit lock key of (agent_id, key): FNV-1a over both, the agent's
 * id first and a NUL between, its top bit cleared (never negative). */
long long store_session_hash(const char *agent_id, const char *key);

static inline void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

#endif
