/*
 * store_pg.c - the PostgreSQL backend of store.h, for a store shared by
 * several web servers (README, "Session store").
 *
 * The same tables and concepts as store_sqlite.c.  The schema is versioned
 * in the table clawcgi_schema and migrated forward on open, every step in
 * one transaction under a transaction-scoped advisory lock, so processes
 * and hosts starting at once run each step once.  Every statement is
 * prepared once per connection and run with parameters; no SQL is built
 * from strings.
 *
 * Concurrency.  A turn is one transaction (READ COMMITTED) that first
 * upserts its session's row: that locks the row until the commit, so two
 * turns on one session, from any hosts, run one after the other, and the
 * second numbers its messages after the first's (no lost update, no
 * interleaving).  Turns on different sessions do not wait for each other.
 * The failed-auth counter of an address is locked the same way, and a
 * client's rate window is checked and counted by one upsert that holds its
 * row (ST_RATE_TAKE).  Deletes of many rows (expiry, purge, the throttle's
 * and the rate windows' pruning) skip rows another transaction holds, so
 * they never deadlock with a turn.
 *
 * Connections.  A pool per store: a call takes an idle connection (or
 * opens one) and gives it back, so a process holds one per thread that
 * uses the store at once.  A connection the server dropped (restart,
 * pg_terminate_backend) is closed instead of given back; when that is
 * found by the first statement of a call, nothing was written, and the
 * call runs once more on a new connection.  Otherwise the call fails (500)
 * and the next one connects afresh.
 *
 * Session locks (store.h, struct store_lock) are session-level advisory
 * locks, pg_try_advisory_lock(int4, int4) of the session's 63-bit hash cut
 * in two (the two-key space, apart from the migrations' one-key lock).  A
 * held lock keeps its connection out of the pool until it is let go, so no
 * other thread's call runs on it (such a lock is reentrant on its
 * connection): while a turn holds its session, its thread holds that
 * connection and, during each of the turn's calls, a pooled one.  A
 * connection that drops, with its host or its process, lets go of its
 * locks.
 */
#include "store_pg.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "mask.h"

#define EXPIRE_EVERY_S 600
/* a statement running longer fails; a connection string's own "options"
 * replace this */
#define DEFAULT_OPTIONS "-c statement_timeout=15000"
#define CONNECT_TIMEOUT_S "10"
/* pg_advisory_xact_lock key of the migrations: "claw" */
#define MIGRATION_LOCK "1668047223"
#define MAX_PARAMS 14

enum {
	ST_HISTORY,
	ST_SESSION_UPSERT,
	ST_NEXT_SEQ,
	ST_INSERT_MSG,
	ST_PURGE,
	ST_LIST_ALL,
	ST_LIST_AGENT,
	ST_SHOW,
	ST_DELETE,
	ST_AUTH_LOCK,
	ST_AUTH_GET,
	ST_AUTH_PUT,
	ST_AUTH_PRUNE,
	ST_RESPONSE_PUT,
	ST_RESPONSE_GET,
	ST_RESPONSE_DELETE,
	ST_FORK_SESSION,
	ST_FORK_MESSAGES,
	ST_IMPORT_SESSION,
	ST_IMPORT_MESSAGE,
	ST_IMPORT_RESPONSE,
	ST_KEY_INSERT,
	ST_KEY_REPLACE,
	ST_KEY_BY_NAME,
	ST_KEY_BY_HASH,
	ST_KEY_LIST,
	ST_KEY_TOUCH,
	ST_RATE_TAKE,
	ST_RATE_GET,
	ST_RATE_TOKENS,
	ST_RATE_PRUNE,
	ST_RATE_RESERVE,
	ST_RATE_UNTAKE,
	ST_UNAUTH_NOTE,
	ST_UNAUTH_PRUNE,
	ST_USAGE_INSERT,
	ST_USAGE_SCAN,
	ST_USAGE_PURGE,
	ST_COUNT
};

#define KEY_COLUMNS "name, hash, agents, rpm, tpm, created, expires, revoked, last_used"
#define USAGE_COLUMNS                                                                              \
	"time, endpoint, agent_id, auth_kind, auth_name, session_key, model, status,"              \
	" prompt_tokens, completion_tokens, latency_ms, ttft_ms, interrupted"

static const char *const sql_text[ST_COUNT] = {
	[ST_HISTORY] = "SELECT message FROM (SELECT seq, message FROM messages"
		       " WHERE agent_id = $1 AND session_key = $2 ORDER BY seq DESC LIMIT $3) m"
		       " ORDER BY seq ASC",
	/* always an update: it locks the session's row until the commit */
	[ST_SESSION_UPSERT] =
		"INSERT INTO sessions (agent_id, session_key, created_at, last_used)"
		" VALUES ($1, $2, $3, $3)"
		" ON CONFLICT (agent_id, session_key) DO UPDATE SET last_used = excluded.last_used",
	[ST_NEXT_SEQ] = "SELECT coalesce(max(seq), 0) + 1 FROM messages"
			" WHERE agent_id = $1 AND session_key = $2",
	[ST_INSERT_MSG] = "INSERT INTO messages (agent_id, session_key, seq, role, message, run_id,"
			  " created_at, prompt_tokens, completion_tokens, interrupted)"
			  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
	[ST_PURGE] = "DELETE FROM sessions WHERE (agent_id, session_key) IN"
		     " (SELECT agent_id, session_key FROM sessions WHERE last_used < $1"
		     " FOR UPDATE SKIP LOCKED)",
	[ST_LIST_ALL] = "SELECT s.session_key, s.agent_id, s.created_at, s.last_used,"
			" (SELECT count(*) FROM messages m WHERE m.agent_id = s.agent_id AND"
			" m.session_key = s.session_key)"
			" FROM sessions s ORDER BY s.last_used DESC",
	[ST_LIST_AGENT] = "SELECT s.session_key, s.agent_id, s.created_at, s.last_used,"
			  " (SELECT count(*) FROM messages m WHERE m.agent_id = s.agent_id AND"
			  " m.session_key = s.session_key)"
			  " FROM sessions s WHERE s.agent_id = $1 ORDER BY s.last_used DESC",
	[ST_SHOW] = "SELECT agent_id, seq, message, interrupted FROM messages"
		    " WHERE session_key = $1 ORDER BY agent_id, seq",
	[ST_DELETE] = "DELETE FROM sessions WHERE session_key = $1",
	/* the address's row, made if new, locked until the commit */
	[ST_AUTH_LOCK] =
		"INSERT INTO auth_failures (addr, window_start, failures, locked_until)"
		" VALUES ($1, 0, 0, 0) ON CONFLICT (addr) DO UPDATE SET addr = excluded.addr"
		" RETURNING window_start, failures, locked_until",
	[ST_AUTH_GET] =
		"SELECT window_start, failures, locked_until FROM auth_failures WHERE addr = $1",
	[ST_AUTH_PUT] = "UPDATE auth_failures SET window_start = $2, failures = $3,"
			" locked_until = $4 WHERE addr = $1",
	/* rows whose window and lockout are both over carry no state */
	[ST_AUTH_PRUNE] = "DELETE FROM auth_failures WHERE addr IN (SELECT addr FROM auth_failures"
			  " WHERE window_start < $1 AND locked_until < $2 FOR UPDATE SKIP LOCKED)",
	[ST_RESPONSE_PUT] =
		"INSERT INTO responses (id, agent_id, session_key, last_seq, created_at,"
		" body) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET"
		" agent_id = excluded.agent_id, session_key = excluded.session_key,"
		" last_seq = excluded.last_seq, created_at = excluded.created_at,"
		" body = excluded.body",
	[ST_RESPONSE_GET] = "SELECT r.agent_id, r.session_key, r.last_seq, r.body, r.last_seq >="
			    " (SELECT max(seq) FROM messages m WHERE m.agent_id = r.agent_id AND"
			    " m.session_key = r.session_key) FROM responses r WHERE r.id = $1",
	[ST_RESPONSE_DELETE] = "DELETE FROM responses WHERE id = $1",
	[ST_FORK_SESSION] = "INSERT INTO sessions (agent_id, session_key, created_at, last_used)"
			    " VALUES ($1, $2, $3, $3)",
	[ST_FORK_MESSAGES] =
		"INSERT INTO messages (agent_id, session_key, seq, role, message, run_id,"
		" created_at, prompt_tokens, completion_tokens, interrupted)"
		" SELECT agent_id, $3, seq, role, message, run_id, created_at, prompt_tokens,"
		" completion_tokens, interrupted FROM messages"
		" WHERE agent_id = $1 AND session_key = $2 AND seq <= $4",
	/* clawcgi store migrate: rows already there are kept */
	[ST_IMPORT_SESSION] = "INSERT INTO sessions (agent_id, session_key, created_at, last_used)"
			      " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	[ST_IMPORT_MESSAGE] =
		"INSERT INTO messages (agent_id, session_key, seq, role, message, run_id,"
		" created_at, prompt_tokens, completion_tokens, interrupted)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
	[ST_IMPORT_RESPONSE] = "INSERT INTO responses (id, agent_id, session_key, last_seq,"
			       " created_at, body) VALUES ($1, $2, $3, $4, $5, $6)"
			       " ON CONFLICT DO NOTHING",
	/* a name (in any case: one made before names were lower-cased) or a
	 * hash that exists: no row changed */
	[ST_KEY_INSERT] = "INSERT INTO client_keys (" KEY_COLUMNS ")"
			  " SELECT $1::text, $2::text, $3::text, $4::bigint, $5::bigint,"
			  " $6::bigint, $7::bigint, $8::bigint, $9::bigint WHERE NOT EXISTS"
			  " (SELECT 1 FROM client_keys WHERE lower(name) = lower($1))"
			  " ON CONFLICT DO NOTHING",
	/* not onto another key's hash: no row changed (one inserted meanwhile
	 * by another host: a unique violation, an error) */
	[ST_KEY_REPLACE] = "UPDATE client_keys SET hash = $2, agents = $3, rpm = $4, tpm = $5,"
			   " created = $6, expires = $7, revoked = $8, last_used = $9"
			   " WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM client_keys k"
			   " WHERE k.hash = $2 AND k.name <> $1)",
	/* in any case; of two that differ only in case (made before names
	 * were lower-cased), one not revoked first */
	[ST_KEY_BY_NAME] = "SELECT " KEY_COLUMNS " FROM client_keys WHERE lower(name) = lower($1)"
			   " ORDER BY revoked <> 0, name <> $1, name LIMIT 1",
	[ST_KEY_BY_HASH] = "SELECT " KEY_COLUMNS " FROM client_keys WHERE hash = $1",
	[ST_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM client_keys ORDER BY name",
	[ST_KEY_TOUCH] = "UPDATE client_keys SET last_used = $2 WHERE name = $1",
	/*
	 * One statement, so one transaction: the window's row is locked by
	 * the upsert, and the limits are checked against its latest version
	 * (READ COMMITTED re-reads it after waiting), so hosts taking at once
	 * never count past rpm.  No row returned: refused, nothing changed.
	 */
	[ST_RATE_TAKE] = "INSERT INTO rate_windows (client, window_start, requests, tokens)"
			 " VALUES ($1, $2, 1, 0) ON CONFLICT (client, window_start)"
			 " DO UPDATE SET requests = rate_windows.requests + 1"
			 " WHERE ($3::bigint <= 0 OR rate_windows.requests < $3::bigint)"
			 " AND ($4::bigint <= 0 OR rate_windows.tokens < $4::bigint)"
			 " RETURNING requests, tokens",
	[ST_RATE_GET] = "SELECT requests, tokens FROM rate_windows"
			" WHERE client = $1 AND window_start = $2",
	[ST_RATE_TOKENS] = "INSERT INTO rate_windows (client, window_start, requests, tokens)"
			   " VALUES ($1, $2, 0, $3) ON CONFLICT (client, window_start)"
			   " DO UPDATE SET tokens = rate_windows.tokens + excluded.tokens",
	[ST_RATE_PRUNE] = "DELETE FROM rate_windows WHERE (client, window_start) IN"
			  " (SELECT client, window_start FROM rate_windows WHERE window_start < $1"
			  " FOR UPDATE SKIP LOCKED)",
	/* the row lock makes check and count one step, as ST_RATE_TAKE: no
	 * row returned, refused (the window's tokens, counted and reserved,
	 * reached $4) */
	[ST_RATE_RESERVE] = "INSERT INTO rate_windows (client, window_start, requests, tokens)"
			    " VALUES ($1, $2, 0, $3) ON CONFLICT (client, window_start)"
			    " DO UPDATE SET tokens = rate_windows.tokens + excluded.tokens"
			    " WHERE rate_windows.tokens < $4::bigint"
			    " RETURNING requests, tokens",
	[ST_RATE_UNTAKE] = "UPDATE rate_windows SET requests = requests - 1"
			   " WHERE client = $1 AND window_start = $2 AND requests > 0"
			   " RETURNING requests, tokens",
	/* no row changed: this address's minute was logged already */
	[ST_UNAUTH_NOTE] = "INSERT INTO usage_unauth (addr, minute) VALUES ($1, $2)"
			   " ON CONFLICT (addr) DO UPDATE SET minute = excluded.minute"
			   " WHERE usage_unauth.minute < excluded.minute",
	[ST_UNAUTH_PRUNE] = "DELETE FROM usage_unauth WHERE minute < $1",
	[ST_USAGE_INSERT] = "INSERT INTO usage (" USAGE_COLUMNS ", estimated) VALUES ($1, $2, $3,"
			    " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
	[ST_USAGE_SCAN] =
		"SELECT " USAGE_COLUMNS ", estimated FROM usage WHERE time >= $1 AND time < $2"
		" ORDER BY time, id",
	[ST_USAGE_PURGE] = "DELETE FROM usage WHERE time < $1",
};

/*
 * Migrations: migrations[i] takes the schema from version i to i + 1 (the
 * highest version in clawcgi_schema).  Append only; never edit a released
 * step.  The tables are store_sqlite.c's, in PostgreSQL's types.
 */
static const char *const migrations[] = {
	/* 0 -> 1: sessions, messages, failed-auth counters, responses */
	"CREATE TABLE sessions ("
	"  agent_id text NOT NULL,"
	"  session_key text NOT NULL,"
	"  created_at bigint NOT NULL,"
	"  last_used bigint NOT NULL,"
	"  PRIMARY KEY (agent_id, session_key));"
	"CREATE INDEX sessions_last_used ON sessions (last_used);"
	"CREATE INDEX sessions_key ON sessions (session_key);"
	"CREATE TABLE messages ("
	"  agent_id text NOT NULL,"
	"  session_key text NOT NULL,"
	"  seq bigint NOT NULL,"
	"  role text NOT NULL,"
	"  message text NOT NULL," /* the OpenAI message as JSON, as given */
	"  run_id text NOT NULL,"
	"  created_at bigint NOT NULL,"
	"  prompt_tokens bigint,"
	"  completion_tokens bigint,"
	"  interrupted boolean NOT NULL DEFAULT false,"
	"  PRIMARY KEY (agent_id, session_key, seq),"
	"  FOREIGN KEY (agent_id, session_key) REFERENCES sessions (agent_id, session_key)"
	"    ON DELETE CASCADE);"
	"CREATE INDEX messages_key ON messages (session_key);"
	"CREATE TABLE auth_failures ("
	"  addr text PRIMARY KEY,"
	"  window_start bigint NOT NULL,"
	"  failures integer NOT NULL,"
	"  locked_until bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE responses ("
	"  id text PRIMARY KEY,"
	"  agent_id text NOT NULL,"
	"  session_key text NOT NULL,"
	"  last_seq bigint NOT NULL,"
	"  created_at bigint NOT NULL,"
	"  body text NOT NULL,"
	"  FOREIGN KEY (agent_id, session_key) REFERENCES sessions (agent_id, session_key)"
	"    ON DELETE CASCADE);"
	"CREATE INDEX responses_session ON responses (agent_id, session_key);",
	/* 1 -> 2: client keys, per-client minute windows, the usage log (no
	 * foreign key: usage rows outlive their sessions) */
	"CREATE TABLE client_keys ("
	"  name text PRIMARY KEY,"
	"  hash text NOT NULL UNIQUE," /* SHA-256 of the secret, hex */
	"  agents text NOT NULL DEFAULT '',"
	"  rpm bigint NOT NULL DEFAULT 0,"
	"  tpm bigint NOT NULL DEFAULT 0,"
	"  created bigint NOT NULL,"
	"  expires bigint NOT NULL DEFAULT 0,"
	"  revoked bigint NOT NULL DEFAULT 0,"
	"  last_used bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE rate_windows ("
	"  client text NOT NULL,"
	"  window_start bigint NOT NULL,"
	"  requests bigint NOT NULL DEFAULT 0,"
	"  tokens bigint NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (client, window_start));"
	"CREATE TABLE usage ("
	"  id bigserial PRIMARY KEY,"
	"  time bigint NOT NULL,"
	"  endpoint text NOT NULL,"
	"  agent_id text,"
	"  auth_kind text NOT NULL,"
	"  auth_name text,"
	"  session_key text,"
	"  model text,"
	"  status integer NOT NULL,"
	"  prompt_tokens bigint NOT NULL DEFAULT 0,"
	"  completion_tokens bigint NOT NULL DEFAULT 0,"
	"  latency_ms double precision NOT NULL,"
	"  ttft_ms double precision," /* NULL: no first token */
	"  interrupted boolean NOT NULL DEFAULT false);"
	"CREATE INDEX usage_time ON usage (time);",
	/* 2 -> 3: usage rows whose tokens are an estimate (no usage came: a
	 * client left a stream, an upstream sent none), and the minute each
	 * address last had a failed-auth request logged (one row a minute) */
	"ALTER TABLE usage ADD COLUMN estimated boolean NOT NULL DEFAULT false;"
	"CREATE TABLE usage_unauth ("
	"  addr text PRIMARY KEY,"
	"  minute bigint NOT NULL);"
	"CREATE INDEX usage_unauth_minute ON usage_unauth (minute);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

/* One connection: the statements prepared on it so far; one thread at a
 * time. */
struct conn {
	PGconn *db;
	bool prepared[ST_COUNT];
	time_t next_expire;
	int done;	   /* statements that succeeded in the current call */
	struct conn *next; /* in the pool's idle list */
};

struct pg_store {
	struct store base;
	char *display; /* base.path with its password masked: for logs */
	pthread_mutex_t lock;
	struct conn *idle;
};

/* The text parameters of one statement; numbers are formatted here. */
struct params {
	const char *v[MAX_PARAMS];
	char num[MAX_PARAMS][24];
	int n;
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n++] = s;
}

static void p_int(struct params *p, long long n)
{
	snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", n);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

static void p_bool(struct params *p, bool b)
{
	p_text(p, b ? "true" : "false");
}

static void p_null(struct params *p)
{
	p->v[p->n++] = NULL;
}

/* As many digits as give the same double back. */
static void p_double(struct params *p, double d)
{
	snprintf(p->num[p->n], sizeof p->num[p->n], "%.17g", d);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

/* A text column, or NULL for SQL's NULL. */
static const char *col_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static long long col_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool col_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static void copy_col(char *dst, size_t n, const PGresult *r, int row, int col)
{
	snprintf(dst, n, "%s", PQgetvalue(r, row, col));
}

static const char *display_of(struct store *base)
{
	return ((struct pg_store *)base)->display;
}

/* libpq's last message on one line (it ends in a newline, sometimes has
 * several lines), every configured secret masked (mask.h): the server's
 * words and libpq's may quote the connection string. */
static void pq_message(PGconn *db, char *out, size_t n)
{
	int len = snprintf(out, n, "%s", db ? PQerrorMessage(db) : "out of memory");

	mask_global(out, n, len >= (int)n);
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = p[1] ? ' ' : '\0';
}

static int db_fail(struct store *base, struct conn *c, struct err *e, const char *what)
{
	char why[512];

	pq_message(c->db, why, sizeof why);
	log_error("session store %s: %s: %s", display_of(base), what, why);
	err_set(e, 500, ERR_API, "Session store error: %s.", what);
	return -1;
}

/* Statement which with p's parameters, prepared on first use: its result
 * when its status is want, else NULL (libpq's message on the connection). */
static PGresult *run(struct conn *c, int which, const struct params *p, ExecStatusType want)
{
	char name[16];
	PGresult *r;

	snprintf(name, sizeof name, "claw%d", which);
	if (!c->prepared[which]) {
		r = PQprepare(c->db, name, sql_text[which], 0, NULL);
		c->prepared[which] = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!c->prepared[which])
			return NULL;
	}
	r = PQexecPrepared(c->db, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != want) {
		PQclear(r);
		return NULL;
	}
	c->done++;
	return r;
}

/* A statement whose rows do not matter: 0, or -1.  *changed (if given)
 * gets the rows it changed. */
static int run_cmd(struct conn *c, int which, const struct params *p, long *changed)
{
	PGresult *r = run(c, which, p, PGRES_COMMAND_OK);

	if (!r)
		return -1;
	if (changed)
		*changed = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

/* BEGIN, COMMIT or ROLLBACK: fixed text, no parameters. */
static int txn(struct conn *c, const char *command)
{
	PGresult *r = PQexec(c->db, command);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	PQclear(r);
	if (ok)
		c->done++;
	return ok ? 0 : -1;
}

static void rollback(struct conn *c)
{
	if (PQtransactionStatus(c->db) != PQTRANS_IDLE)
		txn(c, "ROLLBACK");
}

static long long now_s(void)
{
	return (long long)time(NULL);
}

/* ---- history ---- */

static int pg_load_history_on(struct store *base, struct conn *c, const char *agent_id,
			      const char *key, int limit, cJSON **out, struct err *e)
{
	struct params p = {.n = 0};
	PGresult *r;
	cJSON *arr;

	*out = NULL;
	p_text(&p, agent_id);
	p_text(&p, key);
	p_int(&p, limit);
	if (!(r = run(c, ST_HISTORY, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "reading history");
	if (!(arr = cJSON_CreateArray())) {
		PQclear(r);
		return err_nomem(e);
	}
	for (int i = 0; i < PQntuples(r); i++) {
		cJSON *m = cJSON_Parse(PQgetvalue(r, i, 0));
		if (m)
			cJSON_AddItemToArray(arr, m);
	}
	PQclear(r);
	*out = arr;
	return 0;
}

/* ---- turns ---- */

static int insert_message(struct conn *c, const struct store_turn *t, long long seq,
			  const cJSON *msg, long long now, bool assistant)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
	struct params p = {.n = 0};
	char *json = cJSON_PrintUnformatted(msg);
	int rc;

	if (!json)
		return -1;
	p_text(&p, t->agent_id);
	p_text(&p, t->session_key);
	p_int(&p, seq);
	p_text(&p, cJSON_IsString(role) ? role->valuestring : "user");
	p_text(&p, json);
	p_text(&p, t->run_id);
	p_int(&p, now);
	if (assistant) {
		p_int(&p, t->prompt_tokens);
		p_int(&p, t->completion_tokens);
	} else {
		p_null(&p);
		p_null(&p);
	}
	p_bool(&p, assistant && t->interrupted);
	rc = run_cmd(c, ST_INSERT_MSG, &p, NULL);
	free(json);
	return rc;
}

/* The response row of turn t, whose answer is message seq. */
static int put_response(struct conn *c, const struct store_turn *t, long long seq, long long now)
{
	struct params p = {.n = 0};
	char *json;
	int rc;

	if (!t->response || !(json = cJSON_PrintUnformatted(t->response)))
		return -1;
	p_text(&p, t->response_id);
	p_text(&p, t->agent_id);
	p_text(&p, t->session_key);
	p_int(&p, seq);
	p_int(&p, now);
	p_text(&p, json);
	rc = run_cmd(c, ST_RESPONSE_PUT, &p, NULL);
	free(json);
	return rc;
}

/* One usage row, inside the caller's transaction. */
static int insert_usage(struct conn *c, const struct store_usage *u)
{
	struct params p = {.n = 0};

	p_int(&p, u->time);
	p_text(&p, u->endpoint);
	p_text(&p, u->agent_id);
	p_text(&p, u->auth_kind);
	p_text(&p, u->auth_name);
	p_text(&p, u->session_key);
	p_text(&p, u->model);
	p_int(&p, u->status);
	p_int(&p, u->prompt_tokens);
	p_int(&p, u->completion_tokens);
	p_double(&p, u->latency_ms);
	if (u->ttft_ms >= 0)
		p_double(&p, u->ttft_ms);
	else
		p_null(&p);
	p_bool(&p, u->interrupted);
	p_bool(&p, u->estimated);
	return run_cmd(c, ST_USAGE_INSERT, &p, NULL);
}

/* The rows of turn t, inside the caller's transaction.  The session's row
 * first: from then on this transaction holds it, and max(seq) is final. */
static int write_turn(struct conn *c, const struct store_turn *t, long long now)
{
	struct params p = {.n = 0};
	long long seq;
	const cJSON *m;
	PGresult *r;

	p_text(&p, t->agent_id);
	p_text(&p, t->session_key);
	p_int(&p, now);
	if (run_cmd(c, ST_SESSION_UPSERT, &p, NULL) < 0)
		return -1;
	p.n = 2;
	if (!(r = run(c, ST_NEXT_SEQ, &p, PGRES_TUPLES_OK)))
		return -1;
	seq = col_int(r, 0, 0);
	PQclear(r);
	cJSON_ArrayForEach(m, t->new_messages) {
		if (insert_message(c, t, seq++, m, now, false) < 0)
			return -1;
	}
	if (!t->answer || insert_message(c, t, seq, t->answer, now, true) < 0)
		return -1;
	if (t->response_id && put_response(c, t, seq, now) < 0)
		return -1;
	if (t->usage && insert_usage(c, t->usage) < 0)
		return -1;
	return 0;
}

static int purge_before(struct conn *c, long long cutoff, long *deleted)
{
	struct params p = {.n = 0};

	p_int(&p, cutoff);
	return run_cmd(c, ST_PURGE, &p, deleted);
}

static int pg_append_turn_on(struct store *base, struct conn *c, const struct store_turn *t,
			     struct err *e)
{
	long long now = now_s();

	if (txn(c, "BEGIN") < 0)
		return db_fail(base, c, e, "cannot start a transaction");
	if (write_turn(c, t, now) < 0 || txn(c, "COMMIT") < 0) {
		db_fail(base, c, e, "cannot save the turn");
		rollback(c);
		return -1;
	}
	/* Expire idle sessions now and then: an indexed range delete. */
	if (t->ttl_days > 0 && now >= c->next_expire) {
		long n = 0;
		char why[256];
		c->next_expire = now + EXPIRE_EVERY_S;
		if (purge_before(c, now - (long long)t->ttl_days * 86400, &n) < 0) {
			pq_message(c->db, why, sizeof why);
			log_warn("session store %s: expiry failed: %s", display_of(base), why);
		} else if (n) {
			log_info("session store: expired %ld idle sessions", n);
		}
	}
	return 0;
}

/* ---- admin ---- */

static int pg_purge_on(struct store *base, struct conn *c, double days, long *deleted,
		       struct err *e)
{
	if (purge_before(c, now_s() - (long long)(days * 86400), deleted) < 0)
		return db_fail(base, c, e, "purge");
	return 0;
}

static int pg_list_on(struct store *base, struct conn *c, const char *agent_id,
		      int (*fn)(void *ctx, const struct store_session *row), void *ctx,
		      struct err *e)
{
	struct params p = {.n = 0};
	PGresult *r;

	if (agent_id)
		p_text(&p, agent_id);
	if (!(r = run(c, agent_id ? ST_LIST_AGENT : ST_LIST_ALL, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "list");
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_session row;
		copy_col(row.key, sizeof row.key, r, i, 0);
		copy_col(row.agent_id, sizeof row.agent_id, r, i, 1);
		row.created = col_int(r, i, 2);
		row.last_used = col_int(r, i, 3);
		row.messages = (long)col_int(r, i, 4);
		if (fn(ctx, &row) < 0)
			break;
	}
	PQclear(r);
	return 0;
}

static int pg_show_on(struct store *base, struct conn *c, const char *key,
		      int (*fn)(void *ctx, const char *agent_id, long seq, const cJSON *msg,
				bool interrupted),
		      void *ctx, long *count, struct err *e)
{
	struct params p = {.n = 0};
	PGresult *r;

	*count = 0;
	p_text(&p, key);
	if (!(r = run(c, ST_SHOW, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "show");
	for (int i = 0; i < PQntuples(r); i++) {
		cJSON *m = cJSON_Parse(PQgetvalue(r, i, 2));
		(*count)++;
		if (m)
			fn(ctx, PQgetvalue(r, i, 0), (long)col_int(r, i, 1), m, col_bool(r, i, 3));
		cJSON_Delete(m);
	}
	PQclear(r);
	return 0;
}

/* Statement which (a DELETE by one text key); *deleted gets the rows. */
static int delete_by(struct store *base, struct conn *c, int which, const char *key, long *deleted,
		     struct err *e)
{
	struct params p = {.n = 0};

	p_text(&p, key);
	if (run_cmd(c, which, &p, deleted) < 0)
		return db_fail(base, c, e, "delete");
	return 0;
}

static int pg_remove_on(struct store *base, struct conn *c, const char *key, long *deleted,
			struct err *e)
{
	return delete_by(base, c, ST_DELETE, key, deleted, e);
}

/* ---- Responses API ---- */

static int pg_get_response_on(struct store *base, struct conn *c, const char *id,
			      struct store_response *out, struct err *e)
{
	struct params p = {.n = 0};
	PGresult *r;

	memset(out, 0, sizeof *out);
	p_text(&p, id);
	if (!(r = run(c, ST_RESPONSE_GET, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "reading a response");
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	copy_col(out->agent_id, sizeof out->agent_id, r, 0, 0);
	copy_col(out->session_key, sizeof out->session_key, r, 0, 1);
	out->last_seq = col_int(r, 0, 2);
	out->body = cJSON_Parse(PQgetvalue(r, 0, 3));
	out->latest = col_bool(r, 0, 4);
	PQclear(r);
	if (!out->body) {
		log_error("session store %s: response %s is not JSON", display_of(base), id);
		return err_set(e, 500, ERR_API, "Session store error: reading a response.");
	}
	return 0;
}

static int pg_delete_response_on(struct store *base, struct conn *c, const char *id, long *deleted,
				 struct err *e)
{
	return delete_by(base, c, ST_RESPONSE_DELETE, id, deleted, e);
}

static int pg_fork_on(struct store *base, struct conn *c, const char *agent_id,
		      const char *from_key, long long upto, const char *to_key, struct err *e)
{
	struct params p = {.n = 0};

	if (txn(c, "BEGIN") < 0)
		return db_fail(base, c, e, "cannot start a transaction");
	p_text(&p, agent_id);
	p_text(&p, to_key);
	p_int(&p, now_s());
	if (run_cmd(c, ST_FORK_SESSION, &p, NULL) < 0)
		goto rollback;
	p.n = 0;
	p_text(&p, agent_id);
	p_text(&p, from_key);
	p_text(&p, to_key);
	p_int(&p, upto);
	if (run_cmd(c, ST_FORK_MESSAGES, &p, NULL) < 0 || txn(c, "COMMIT") < 0)
		goto rollback;
	return 0;
rollback:
	db_fail(base, c, e, "cannot branch the session");
	rollback(c);
	return -1;
}

/* ---- failed-auth throttling ---- */

static int pg_auth_locked_on(struct store *base, struct conn *c, const char *addr, long long now_ms,
			     long long *retry_ms, struct err *e)
{
	struct params p = {.n = 0};
	long long until = 0;
	PGresult *r;

	*retry_ms = 0;
	p_text(&p, addr);
	if (!(r = run(c, ST_AUTH_GET, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "reading auth failures");
	if (PQntuples(r) > 0)
		until = col_int(r, 0, 2);
	PQclear(r);
	if (until > now_ms)
		*retry_ms = until - now_ms;
	return 0;
}

static int pg_auth_failed_on(struct store *base, struct conn *c, const char *addr, long long now_ms,
			     int max, long window_ms, long lockout_ms, long long *retry_ms,
			     struct err *e)
{
	struct params p = {.n = 0};
	long long v[3];
	PGresult *r;

	*retry_ms = 0;
	if (txn(c, "BEGIN") < 0)
		return db_fail(base, c, e, "cannot start a transaction");
	p_text(&p, addr);
	if (!(r = run(c, ST_AUTH_LOCK, &p, PGRES_TUPLES_OK)))
		goto rollback;
	for (int i = 0; i < 3; i++)
		v[i] = col_int(r, 0, i);
	PQclear(r);
	*retry_ms = store_auth_step(v, now_ms, max, window_ms, lockout_ms);
	for (int i = 0; i < 3; i++)
		p_int(&p, v[i]);
	if (run_cmd(c, ST_AUTH_PUT, &p, NULL) < 0)
		goto rollback;
	p.n = 0;
	p_int(&p, now_ms - window_ms);
	p_int(&p, now_ms);
	if (run_cmd(c, ST_AUTH_PRUNE, &p, NULL) < 0 || txn(c, "COMMIT") < 0)
		goto rollback;
	return 0;
rollback:
	db_fail(base, c, e, "recording an auth failure");
	rollback(c);
	return -1;
}

/* ---- client keys ---- */

static void key_params(struct params *p, const struct store_key *k)
{
	p_text(p, k->name);
	p_text(p, k->hash);
	p_text(p, k->agents);
	p_int(p, k->rpm);
	p_int(p, k->tpm);
	p_int(p, k->created);
	p_int(p, k->expires);
	p_int(p, k->revoked);
	p_int(p, k->last_used);
}

/* Row i of KEY_COLUMNS. */
static void read_key(const PGresult *r, int i, struct store_key *k)
{
	copy_col(k->name, sizeof k->name, r, i, 0);
	copy_col(k->hash, sizeof k->hash, r, i, 1);
	copy_col(k->agents, sizeof k->agents, r, i, 2);
	k->rpm = (long)col_int(r, i, 3);
	k->tpm = (long)col_int(r, i, 4);
	k->created = col_int(r, i, 5);
	k->expires = col_int(r, i, 6);
	k->revoked = col_int(r, i, 7);
	k->last_used = col_int(r, i, 8);
}

static int pg_key_put_on(struct store *base, struct conn *c, const struct store_key *k,
			 bool replace, struct err *e)
{
	struct params p = {.n = 0};
	long n = 0;

	key_params(&p, k);
	if (run_cmd(c, replace ? ST_KEY_REPLACE : ST_KEY_INSERT, &p, &n) < 0)
		return db_fail(base, c, e, "cannot save the key");
	return n == 1 ? 0 : 1;
}

static int pg_key_get_on(struct store *base, struct conn *c, const char *name, const char *hash,
			 struct store_key *out, struct err *e)
{
	struct params p = {.n = 0};
	PGresult *r;
	int rc = 1;

	memset(out, 0, sizeof *out);
	p_text(&p, name ? name : hash);
	if (!(r = run(c, name ? ST_KEY_BY_NAME : ST_KEY_BY_HASH, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "reading a key");
	if (PQntuples(r) > 0) {
		read_key(r, 0, out);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int pg_key_list_on(struct store *base, struct conn *c,
			  int (*fn)(void *ctx, const struct store_key *k), void *ctx, struct err *e)
{
	PGresult *r;

	if (!(r = run(c, ST_KEY_LIST, NULL, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "keys");
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_key k;
		read_key(r, i, &k);
		if (fn(ctx, &k) < 0)
			break;
	}
	PQclear(r);
	return 0;
}

static int pg_key_touch_on(struct store *base, struct conn *c, const char *name, long long now_ms,
			   struct err *e)
{
	struct params p = {.n = 0};

	p_text(&p, name);
	p_int(&p, now_ms);
	if (run_cmd(c, ST_KEY_TOUCH, &p, NULL) < 0)
		return db_fail(base, c, e, "cannot update the key");
	return 0;
}

/* ---- per-client minute windows ---- */

/* ST_RATE_TAKE does the check and the count; a refusal reads the counts
 * after it.  The first request of a window prunes the windows before the
 * previous one (skipping rows another transaction holds); a failed prune
 * only logs, the request is counted by then. */
static int pg_rate_take_on(struct store *base, struct conn *c, const char *client, long long window,
			   long rpm, long tpm, struct store_rate *out, struct err *e)
{
	struct params p = {.n = 0};
	PGresult *r;

	memset(out, 0, sizeof *out);
	p_text(&p, client);
	p_int(&p, window);
	p_int(&p, rpm);
	p_int(&p, tpm);
	if (!(r = run(c, ST_RATE_TAKE, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "counting a request");
	out->allowed = PQntuples(r) > 0;
	if (!out->allowed) {
		PQclear(r);
		p.n = 2;
		if (!(r = run(c, ST_RATE_GET, &p, PGRES_TUPLES_OK)))
			return db_fail(base, c, e, "reading a rate window");
	}
	if (PQntuples(r) > 0) {
		out->requests = (long)col_int(r, 0, 0);
		out->tokens = (long)col_int(r, 0, 1);
	}
	PQclear(r);
	if (out->allowed && out->requests == 1) {
		char why[256];
		p.n = 0;
		p_int(&p, window - 60000);
		if (run_cmd(c, ST_RATE_PRUNE, &p, NULL) < 0) {
			pq_message(c->db, why, sizeof why);
			log_warn("session store %s: pruning rate windows failed: %s",
				 display_of(base), why);
		}
	}
	return 0;
}

static int pg_rate_add_tokens_on(struct store *base, struct conn *c, const char *client,
				 long long window, long tokens, struct err *e)
{
	struct params p = {.n = 0};

	p_text(&p, client);
	p_int(&p, window);
	p_int(&p, tokens);
	if (run_cmd(c, ST_RATE_TOKENS, &p, NULL) < 0)
		return db_fail(base, c, e, "counting tokens");
	return 0;
}

/* ST_RATE_RESERVE checks and reserves in one statement; a refusal then
 * takes back the request rate_take counted (ST_RATE_UNTAKE). */
static int pg_rate_reserve_on(struct store *base, struct conn *c, const char *client,
			      long long window, long tpm, long tokens, struct store_rate *out,
			      struct err *e)
{
	struct params p = {.n = 0};
	PGresult *r;

	memset(out, 0, sizeof *out);
	p_text(&p, client);
	p_int(&p, window);
	p_int(&p, tokens);
	p_int(&p, tpm);
	if (!(r = run(c, ST_RATE_RESERVE, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "reserving tokens");
	out->allowed = PQntuples(r) > 0;
	if (!out->allowed) {
		PQclear(r);
		p.n = 2;
		if (!(r = run(c, ST_RATE_UNTAKE, &p, PGRES_TUPLES_OK)))
			return db_fail(base, c, e, "reserving tokens");
	}
	if (PQntuples(r) > 0) {
		out->requests = (long)col_int(r, 0, 0);
		out->tokens = (long)col_int(r, 0, 1);
	}
	PQclear(r);
	return 0;
}

static int pg_usage_unauth_first_on(struct store *base, struct conn *c, const char *addr,
				    long long minute, bool *first, struct err *e)
{
	struct params p = {.n = 0};
	long changed = 0;

	*first = false;
	p_text(&p, addr);
	p_int(&p, minute);
	if (run_cmd(c, ST_UNAUTH_NOTE, &p, &changed) < 0)
		return db_fail(base, c, e, "noting a failed request");
	*first = changed > 0;
	if (*first) {
		p.n = 0;
		p_int(&p, minute); /* indexed: only the minutes that ended */
		if (run_cmd(c, ST_UNAUTH_PRUNE, &p, NULL) < 0)
			log_warn("session store %s: pruning failed-auth minutes failed",
				 display_of(base));
	}
	return 0;
}

/* ---- the usage log ---- */

static int pg_usage_add_on(struct store *base, struct conn *c, const struct store_usage *rows,
			   size_t n, struct err *e)
{
	if (txn(c, "BEGIN") < 0)
		return db_fail(base, c, e, "cannot start a transaction");
	for (size_t i = 0; i < n; i++)
		if (insert_usage(c, &rows[i]) < 0)
			goto rollback;
	if (txn(c, "COMMIT") < 0)
		goto rollback;
	return 0;
rollback:
	db_fail(base, c, e, "cannot save usage");
	rollback(c);
	return -1;
}

/* The rows' strings are the result's, cleared after the last call of fn.
 * The whole range is read at once (libpq's default). */
static int pg_usage_scan_on(struct store *base, struct conn *c, long long since, long long until,
			    int (*fn)(void *ctx, const struct store_usage *row), void *ctx,
			    struct err *e)
{
	struct params p = {.n = 0};
	PGresult *r;

	p_int(&p, since);
	p_int(&p, until);
	if (!(r = run(c, ST_USAGE_SCAN, &p, PGRES_TUPLES_OK)))
		return db_fail(base, c, e, "usage");
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_usage u = {
			.time = col_int(r, i, 0),
			.endpoint = col_text(r, i, 1),
			.agent_id = col_text(r, i, 2),
			.auth_kind = col_text(r, i, 3),
			.auth_name = col_text(r, i, 4),
			.session_key = col_text(r, i, 5),
			.model = col_text(r, i, 6),
			.status = (int)col_int(r, i, 7),
			.prompt_tokens = (long)col_int(r, i, 8),
			.completion_tokens = (long)col_int(r, i, 9),
			.latency_ms = strtod(PQgetvalue(r, i, 10), NULL),
			.ttft_ms = PQgetisnull(r, i, 11) ? -1 : strtod(PQgetvalue(r, i, 11), NULL),
			.interrupted = col_bool(r, i, 12),
			.estimated = col_bool(r, i, 13),
		};
		if (fn(ctx, &u) < 0)
			break;
	}
	PQclear(r);
	return 0;
}

static int pg_usage_purge_on(struct store *base, struct conn *c, long long before, long *deleted,
			     struct err *e)
{
	struct params p = {.n = 0};

	*deleted = 0;
	p_int(&p, before);
	if (run_cmd(c, ST_USAGE_PURGE, &p, deleted) < 0)
		return db_fail(base, c, e, "usage purge");
	return 0;
}

/* ---- copying in (clawcgi store migrate) ---- */

static int import_on(struct store *base, struct conn *c, const struct store_import_session *in,
		     struct store_import_counts *added, struct err *e)
{
	struct params p = {.n = 0};
	long n;

	memset(added, 0, sizeof *added);
	if (txn(c, "BEGIN") < 0)
		return db_fail(base, c, e, "cannot start a transaction");
	p_text(&p, in->agent_id);
	p_text(&p, in->session_key);
	p_int(&p, in->created);
	p_int(&p, in->last_used);
	if (run_cmd(c, ST_IMPORT_SESSION, &p, &n) < 0)
		goto rollback;
	added->sessions += n;
	for (size_t i = 0; i < in->nmessages; i++) {
		const struct store_import_message *m = &in->messages[i];
		p.n = 2;
		p_int(&p, m->seq);
		p_text(&p, m->role);
		p_text(&p, m->message);
		p_text(&p, m->run_id);
		p_int(&p, m->created);
		if (m->has_tokens) {
			p_int(&p, m->prompt_tokens);
			p_int(&p, m->completion_tokens);
		} else {
			p_null(&p);
			p_null(&p);
		}
		p_bool(&p, m->interrupted);
		if (run_cmd(c, ST_IMPORT_MESSAGE, &p, &n) < 0)
			goto rollback;
		added->messages += n;
	}
	for (size_t i = 0; i < in->nresponses; i++) {
		const struct store_import_response *resp = &in->responses[i];
		p.n = 0;
		p_text(&p, resp->id);
		p_text(&p, in->agent_id);
		p_text(&p, in->session_key);
		p_int(&p, resp->last_seq);
		p_int(&p, resp->created);
		p_text(&p, resp->body);
		if (run_cmd(c, ST_IMPORT_RESPONSE, &p, &n) < 0)
			goto rollback;
		added->responses += n;
	}
	if (txn(c, "COMMIT") < 0)
		goto rollback;
	return 0;
rollback:
	db_fail(base, c, e, "cannot copy the session");
	rollback(c);
	memset(added, 0, sizeof *added);
	return -1;
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	if (!c)
		return;
	PQfinish(c->db);
	free(c);
}

/*
 * Bring the schema up to date, on c, in one transaction under the
 * migration lock: a process that waited for another's finds the version
 * it left and has nothing to do.  A schema already up to date (versions
 * only grow) is seen without the lock: one statement, not five, for each
 * process that opens the store.
 */
static int migrate(struct store *base, struct conn *c, struct err *e)
{
	PGresult *r;
	int version = 0;
	char number[24], when[24];
	const char *values[2] = {number, when};

	r = PQexec(c->db, "SELECT max(version) FROM clawcgi_schema");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && col_int(r, 0, 0) == SCHEMA_VERSION) {
		PQclear(r);
		return 0;
	}
	PQclear(r);
	if (txn(c, "BEGIN") < 0)
		return db_fail(base, c, e, "cannot lock the schema");
	r = PQexec(c->db, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		goto fail;
	PQclear(r);
	r = PQexec(c->db, "CREATE TABLE IF NOT EXISTS clawcgi_schema (version integer PRIMARY "
			  "KEY, applied_at bigint NOT NULL)");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(r);
	r = PQexec(c->db, "SELECT coalesce(max(version), 0) FROM clawcgi_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		goto fail;
	version = (int)col_int(r, 0, 0);
	PQclear(r);
	r = NULL;
	if (version > SCHEMA_VERSION) {
		rollback(c);
		log_error("session store %s: schema version %d is newer than this clawcgi (%d)",
			  display_of(base), version, SCHEMA_VERSION);
		return err_set(e, 500, ERR_API, "Session store error: schema too new.");
	}
	for (; version < SCHEMA_VERSION; version++) {
		r = PQexec(c->db, migrations[version]);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			goto fail;
		PQclear(r);
		snprintf(number, sizeof number, "%d", version + 1);
		snprintf(when, sizeof when, "%lld", now_s());
		r = PQexecParams(c->db,
				 "INSERT INTO clawcgi_schema (version, applied_at) VALUES ($1, $2)",
				 2, NULL, values, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			goto fail;
		PQclear(r);
		r = NULL;
		log_info("session store %s: schema migrated to version %d", display_of(base),
			 version + 1);
	}
	if (txn(c, "COMMIT") < 0)
		goto fail;
	return 0;
fail:
	PQclear(r);
	db_fail(base, c, e, "schema migration");
	rollback(c);
	return -1;
}

/* The server's notices ("relation already exists, skipping") are not
 * errors: libpq would print them on stderr, the web server's error log. */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* libpq's connection parameters: ours first, so that the string's own
 * (expanded from "dbname") replace them. */
static PGconn *connect_to(const char *conninfo)
{
	static const char *const keys[] = {"connect_timeout", "application_name", "options",
					   "dbname", NULL};
	const char *values[] = {CONNECT_TIMEOUT_S, "clawcgi", DEFAULT_OPTIONS, conninfo, NULL};
	PGconn *db = PQconnectdbParams(keys, values, 1);

	if (db)
		PQsetNoticeProcessor(db, ignore_notice, NULL);
	return db;
}

static struct conn *conn_open(struct store *base, struct err *e)
{
	struct conn *c = calloc(1, sizeof *c);

	if (!c) {
		err_nomem(e);
		return NULL;
	}
	c->db = connect_to(base->path);
	if (PQstatus(c->db) != CONNECTION_OK) {
		db_fail(base, c, e, "cannot connect");
		conn_close(c);
		return NULL;
	}
	return c;
}

/* An idle connection, or a new one; *reused says which. */
static struct conn *conn_get(struct pg_store *p, bool *reused, struct err *e)
{
	struct conn *c;

	pthread_mutex_lock(&p->lock);
	if ((c = p->idle))
		p->idle = c->next;
	pthread_mutex_unlock(&p->lock);
	*reused = c != NULL;
	if (!c)
		c = conn_open(&p->base, e);
	if (c)
		c->done = 0;
	return c;
}

/* Back to the pool, unless the server dropped it or it is stuck in a
 * transaction: then closed. */
static void conn_put(struct pg_store *p, struct conn *c)
{
	if (PQstatus(c->db) != CONNECTION_OK || PQtransactionStatus(c->db) != PQTRANS_IDLE) {
		conn_close(c);
		return;
	}
	pthread_mutex_lock(&p->lock);
	c->next = p->idle;
	p->idle = c;
	pthread_mutex_unlock(&p->lock);
}

/*
 * Run CALL (an expression over base, c and e) on a pooled connection.  A
 * reused connection that turns out dropped before its first statement
 * succeeded wrote nothing: CALL runs again, once, on a new one.
 */
#define ON_CONN(base_, e_, call)                                                                   \
	do {                                                                                       \
		struct pg_store *p_ = (struct pg_store *)(base_);                                  \
		bool reused_;                                                                      \
		struct conn *c;                                                                    \
		int rc_;                                                                           \
		if (!(c = conn_get(p_, &reused_, (e_))))                                           \
			return -1;                                                                 \
		rc_ = (call);                                                                      \
		if (rc_ < 0 && reused_ && c->done == 0 && PQstatus(c->db) != CONNECTION_OK) {      \
			log_warn("session store %s: the connection was dropped: connecting again", \
				 p_->display);                                                     \
			conn_close(c);                                                             \
			err_clear(e_);                                                             \
			if (!(c = conn_open(&p_->base, (e_))))                                     \
				return -1;                                                         \
			rc_ = (call);                                                              \
		}                                                                                  \
		conn_put(p_, c);                                                                   \
		return rc_;                                                                        \
	} while (0)

static int pg_load_history(struct store *base, const char *agent_id, const char *key, int limit,
			   cJSON **out, struct err *e)
{
	*out = NULL;
	ON_CONN(base, e, pg_load_history_on(base, c, agent_id, key, limit, out, e));
}

static int pg_append_turn(struct store *base, const struct store_turn *t, struct err *e)
{
	ON_CONN(base, e, pg_append_turn_on(base, c, t, e));
}

static int pg_purge(struct store *base, double days, long *deleted, struct err *e)
{
	ON_CONN(base, e, pg_purge_on(base, c, days, deleted, e));
}

static int pg_list(struct store *base, const char *agent_id,
		   int (*fn)(void *ctx, const struct store_session *row), void *ctx, struct err *e)
{
	ON_CONN(base, e, pg_list_on(base, c, agent_id, fn, ctx, e));
}

static int pg_show(struct store *base, const char *key,
		   int (*fn)(void *ctx, const char *agent_id, long seq, const cJSON *msg,
			     bool interrupted),
		   void *ctx, long *count, struct err *e)
{
	ON_CONN(base, e, pg_show_on(base, c, key, fn, ctx, count, e));
}

static int pg_remove(struct store *base, const char *key, long *deleted, struct err *e)
{
	ON_CONN(base, e, pg_remove_on(base, c, key, deleted, e));
}

static int pg_get_response(struct store *base, const char *id, struct store_response *out,
			   struct err *e)
{
	ON_CONN(base, e, pg_get_response_on(base, c, id, out, e));
}

static int pg_delete_response(struct store *base, const char *id, long *deleted, struct err *e)
{
	ON_CONN(base, e, pg_delete_response_on(base, c, id, deleted, e));
}

static int pg_fork(struct store *base, const char *agent_id, const char *from_key, long long upto,
		   const char *to_key, struct err *e)
{
	ON_CONN(base, e, pg_fork_on(base, c, agent_id, from_key, upto, to_key, e));
}

static int pg_auth_locked(struct store *base, const char *addr, long long now_ms,
			  long long *retry_ms, struct err *e)
{
	ON_CONN(base, e, pg_auth_locked_on(base, c, addr, now_ms, retry_ms, e));
}

static int pg_auth_failed(struct store *base, const char *addr, long long now_ms, int max,
			  long window_ms, long lockout_ms, long long *retry_ms, struct err *e)
{
	ON_CONN(base, e,
		pg_auth_failed_on(base, c, addr, now_ms, max, window_ms, lockout_ms, retry_ms, e));
}

static int pg_key_put(struct store *base, const struct store_key *k, bool replace, struct err *e)
{
	ON_CONN(base, e, pg_key_put_on(base, c, k, replace, e));
}

static int pg_key_get(struct store *base, const char *name, const char *hash, struct store_key *out,
		      struct err *e)
{
	ON_CONN(base, e, pg_key_get_on(base, c, name, hash, out, e));
}

static int pg_key_list(struct store *base, int (*fn)(void *ctx, const struct store_key *k),
		       void *ctx, struct err *e)
{
	ON_CONN(base, e, pg_key_list_on(base, c, fn, ctx, e));
}

static int pg_key_touch(struct store *base, const char *name, long long now_ms, struct err *e)
{
	ON_CONN(base, e, pg_key_touch_on(base, c, name, now_ms, e));
}

static int pg_rate_take(struct store *base, const char *client, long long window, long rpm,
			long tpm, struct store_rate *out, struct err *e)
{
	ON_CONN(base, e, pg_rate_take_on(base, c, client, window, rpm, tpm, out, e));
}

static int pg_rate_add_tokens(struct store *base, const char *client, long long window, long tokens,
			      struct err *e)
{
	ON_CONN(base, e, pg_rate_add_tokens_on(base, c, client, window, tokens, e));
}

static int pg_rate_reserve(struct store *base, const char *client, long long window, long tpm,
			   long tokens, struct store_rate *out, struct err *e)
{
	ON_CONN(base, e, pg_rate_reserve_on(base, c, client, window, tpm, tokens, out, e));
}

static int pg_usage_unauth_first(struct store *base, const char *addr, long long minute,
				 bool *first, struct err *e)
{
	ON_CONN(base, e, pg_usage_unauth_first_on(base, c, addr, minute, first, e));
}

static int pg_usage_add(struct store *base, const struct store_usage *rows, size_t n, struct err *e)
{
	ON_CONN(base, e, pg_usage_add_on(base, c, rows, n, e));
}

static int pg_usage_scan(struct store *base, long long since, long long until,
			 int (*fn)(void *ctx, const struct store_usage *row), void *ctx,
			 struct err *e)
{
	ON_CONN(base, e, pg_usage_scan_on(base, c, since, until, fn, ctx, e));
}

static int pg_usage_purge(struct store *base, long long before, long *deleted, struct err *e)
{
	ON_CONN(base, e, pg_usage_purge_on(base, c, before, deleted, e));
}

int store_pg_import_session(struct store *base, const struct store_import_session *in,
			    struct store_import_counts *added, struct err *e)
{
	ON_CONN(base, e, import_on(base, c, in, added, e));
}

/* Every connection is idle by now (the caller holds the last use). */
static void pg_close(struct store *base)
{
	struct pg_store *p = (struct pg_store *)base;

	while (p->idle) {
		struct conn *c = p->idle;
		p->idle = c->next;
		conn_close(c);
	}
	pthread_mutex_destroy(&p->lock);
	free(p->display);
	free(p->base.path);
	free(p);
}

/* ---- session locks ---- */

/* pg_try_advisory_lock or pg_advisory_unlock (sql) of l->key on c: its
 * boolean answer (0 or 1), or -1 (libpq's message on c). */
static int advisory(struct conn *c, const char *sql, const struct store_lock *l)
{
	struct params p = {.n = 0};
	PGresult *r;
	int rc = -1;

	p_int(&p, (int32_t)(uint32_t)((unsigned long long)l->key >> 32));
	p_int(&p, (int32_t)(uint32_t)((unsigned long long)l->key & 0xffffffffULL));
	r = PQexecParams(c->db, sql, p.n, NULL, p.v, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		rc = col_bool(r, 0, 0) ? 1 : 0;
		c->done++;
	}
	PQclear(r);
	return rc;
}

#define SQL_TRY_LOCK "SELECT pg_try_advisory_lock($1::int4, $2::int4)"
#define SQL_UNLOCK "SELECT pg_advisory_unlock($1::int4, $2::int4)"

static int pg_session_trylock(struct store *base, struct store_lock *l, struct err *e)
{
	struct pg_store *p = (struct pg_store *)base;
	struct conn *c;
	bool reused;
	int got;

	if (!(c = conn_get(p, &reused, e)))
		return -1;
	got = advisory(c, SQL_TRY_LOCK, l);
	if (got < 0 && reused && PQstatus(c->db) != CONNECTION_OK) {
		conn_close(c); /* dropped while idle: its locks went with it */
		if (!(c = conn_open(base, e)))
			return -1;
		got = advisory(c, SQL_TRY_LOCK, l);
	}
	if (got < 0) {
		db_fail(base, c, e, "cannot lock the session");
		conn_put(p, c);
		return -1;
	}
	if (got == 0) {
		conn_put(p, c);
		return 1;
	}
	l->conn = c;
	return 0;
}

static void pg_session_unlock(struct store *base, struct store_lock *l)
{
	struct pg_store *p = (struct pg_store *)base;
	struct conn *c = l->conn;

	if (!c)
		return;
	if (advisory(c, SQL_UNLOCK, l) != 1) {
		/* dropped (the lock went with it) or not ours: never give back a
		 * connection that may still hold the lock */
		log_warn("session store %s: a session lock was lost before its turn ended",
			 p->display);
		conn_close(c);
	} else {
		conn_put(p, c);
	}
	l->conn = NULL;
}

static const struct store_ops pg_ops = {
	.moved = NULL, /* a database does not move under its connection string */
	.load_history = pg_load_history,
	.append_turn = pg_append_turn,
	.purge = pg_purge,
	.list = pg_list,
	.show = pg_show,
	.auth_locked = pg_auth_locked,
	.auth_failed = pg_auth_failed,
	.remove = pg_remove,
	.get_response = pg_get_response,
	.delete_response = pg_delete_response,
	.fork = pg_fork,
	.key_put = pg_key_put,
	.key_get = pg_key_get,
	.key_list = pg_key_list,
	.key_touch = pg_key_touch,
	.rate_take = pg_rate_take,
	.rate_add_tokens = pg_rate_add_tokens,
	.rate_reserve = pg_rate_reserve,
	.usage_unauth_first = pg_usage_unauth_first,
	.usage_add = pg_usage_add,
	.usage_scan = pg_usage_scan,
	.usage_purge = pg_usage_purge,
	.session_trylock = pg_session_trylock,
	.session_unlock = pg_session_unlock,
	.close = pg_close,
};

int store_open_postgresql(const char *conninfo, struct store **out, struct err *e)
{
	struct pg_store *p = calloc(1, sizeof *p);
	struct conn *first;

	*out = NULL;
	if (!p || !(p->base.path = strdup(conninfo)) || !(p->display = store_display(conninfo))) {
		if (p)
			free(p->base.path);
		free(p);
		return err_nomem(e);
	}
	p->base.ops = &pg_ops;
	pthread_mutex_init(&p->lock, NULL);
	/* The first connection now: it reports what is wrong and migrates the
	 * schema; the others open as threads need them. */
	if (!(first = conn_open(&p->base, e)))
		goto fail;
	if (migrate(&p->base, first, e) < 0) {
		conn_close(first);
		goto fail;
	}
	p->idle = first;
	*out = &p->base;
	return 0;
fail:
	pg_close(&p->base);
	return -1;
}

/* ---- checks for store.c ---- */

/* msg with every occurrence of conninfo's password masked: libpq quotes
 * parts of a string it cannot read. */
static void scrub(char *msg, const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *secret = NULL;
	char *at;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && o->val[0])
			secret = o->val;
	while (secret && (at = strstr(msg, secret)))
		memset(at, '*', strlen(secret));
	PQconninfoFree(opts);
}

int store_pg_check(const char *conninfo, char *why, size_t whylen)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
	size_t n;
	int len;

	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	len = snprintf(why, whylen, "is not a connection string libpq can read: %s",
		       errmsg ? errmsg : "out of memory");
	PQfreemem(errmsg);
	mask_global(why, whylen, len >= (int)whylen);
	n = strlen(why);
	while (n && why[n - 1] == '\n')
		why[--n] = '\0';
	/* libpq quotes the part it could not read, which may hold the password */
	if (strstr(conninfo, "password") || strchr(conninfo, '@')) {
		char *q = strchr(why, '"');
		if (q)
			snprintf(q, whylen - (size_t)(q - why),
				 "(the part not shown: it may hold "
				 "the password)");
	}
	return -1;
}

int store_pg_probe(const char *conninfo, char *msg, size_t msglen)
{
	PGconn *db = connect_to(conninfo);
	int rc = -1;

	if (PQstatus(db) == CONNECTION_OK) {
		int v = PQserverVersion(db);
		snprintf(msg, msglen, "connects (PostgreSQL %d.%d, database %s as %s)", v / 10000,
			 v % 10000, PQdb(db), PQuser(db));
		rc = 0;
	} else {
		char why[512];
		pq_message(db, why, sizeof why);
		snprintf(msg, msglen, "cannot connect: %s", why);
		scrub(msg, conninfo);
	}
	PQfinish(db);
	return rc;
}
