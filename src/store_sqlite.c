/*
 * store_sqlite.c - the SQLite backend of store.h, one connection's part:
 * the schema and its migrations, the statements, and each operation on a
 * connection (store_sqlite.h).  store_sqlite_pool.c shares the
 * connections among a process's threads.
 *
 * One database file shared by every thread and process: WAL mode, a busy
 * timeout, foreign keys.  The schema is versioned with PRAGMA user_version
 * and migrated forward on open, one step per version, each in a
 * transaction.  Every statement is prepared once per connection and bound;
 * no SQL is built from strings.  A turn is one BEGIN IMMEDIATE transaction
 * (with the turns of other threads that came meanwhile: sq_append_group),
 * so concurrent writers queue on the lock instead of failing, and a crash
 * leaves a session before or after a turn, never in between.
 */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "clock.h"
#include "log.h"
#include "message.h"

/*
 * A message's row id is its session's id times SEQ_SPAN plus its number in
 * the session (schema 6): a session's messages are one range of the table
 * message_rows, in order, and a new session's go at its end.
 */
#define SEQ_SPAN 16777216 /* 2^24 messages a session */
#define STR_(x) #x
#define STR(x) STR_(x)
#define SPAN STR(SEQ_SPAN)
/* in SQL: message_rows m is of sessions s; m's number in s */
#define M_OF_S "m.id > s.id * " SPAN " AND m.id < (s.id + 1) * " SPAN
#define M_SEQ "(m.id - s.id * " SPAN ")"

#define BUSY_TIMEOUT_MS 15000
#define EXPIRE_EVERY_S 600
#define WAL_LIMIT_BYTES "33554432" /* 32 MiB */

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
	ST_AUTH_GET,
	ST_AUTH_PUT,
	ST_AUTH_PRUNE,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_RESPONSE_PUT,
	ST_RESPONSE_GET,
	ST_RESPONSE_DELETE,
	ST_FORK_SESSION,
	ST_FORK_MESSAGES,
	ST_KEY_INSERT,
	ST_KEY_REPLACE,
	ST_KEY_BY_NAME,
	ST_KEY_BY_HASH,
	ST_KEY_LIST,
	ST_KEY_TOUCH,
	ST_RATE_GET,
	ST_RATE_TAKE,
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

#define USAGE_ID_PER_MS "1024"
#define KEY_COLUMNS "name, hash, agents, rpm, tpm, created, expires, revoked, last_used"
#define USAGE_COLUMNS                                                                              \
	"time, endpoint, agent_id, auth_kind, auth_name, session_key, model, status,"              \
	" prompt_tokens, completion_tokens, latency_ms, ttft_ms, interrupted"

static const char *const sql_text[ST_COUNT] = {
	/* newest first, straight off the primary key; sq_load_history turns
	 * them around (an outer ORDER BY made SQLite sort them again).  A row
	 * that is not JSON is no message: SQLite checks, so that the text can
	 * go to a provider unparsed (store.h, load_history). */
	[ST_HISTORY] = "SELECT m.message FROM sessions s, message_rows m"
		       " WHERE s.agent_id = ?1 AND s.session_key = ?2 AND " M_OF_S
		       " AND json_valid(m.message) ORDER BY m.id DESC LIMIT ?3",
	[ST_SESSION_UPSERT] =
		"INSERT INTO sessions (agent_id, session_key, created_at, last_used)"
		" VALUES (?1, ?2, ?3, ?3)"
		" ON CONFLICT (agent_id, session_key) DO UPDATE SET last_used = excluded.last_used"
		" WHERE last_used <> excluded.last_used", /* no index write within a second */
	/* the session's id and the number its next message takes */
	[ST_NEXT_SEQ] = "SELECT s.id, coalesce((SELECT max(m.id) FROM message_rows m"
			" WHERE " M_OF_S ") - s.id * " SPAN ", 0) + 1"
			" FROM sessions s WHERE s.agent_id = ?1 AND s.session_key = ?2",
	[ST_INSERT_MSG] = "INSERT INTO message_rows (id, role, message, run_id, created_at,"
			  " prompt_tokens, completion_tokens, interrupted)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_PURGE] = "DELETE FROM sessions WHERE last_used < ?1",
	[ST_LIST_ALL] = "SELECT s.session_key, s.agent_id, s.created_at, s.last_used,"
			" (SELECT count(*) FROM message_rows m WHERE " M_OF_S ")"
			" FROM sessions s ORDER BY s.last_used DESC",
	[ST_LIST_AGENT] = "SELECT s.session_key, s.agent_id, s.created_at, s.last_used,"
			  " (SELECT count(*) FROM message_rows m WHERE " M_OF_S ")"
			  " FROM sessions s WHERE s.agent_id = ?1 ORDER BY s.last_used DESC",
	[ST_SHOW] = "SELECT s.agent_id, " M_SEQ ", m.message, m.interrupted"
		    " FROM sessions s, message_rows m WHERE s.session_key = ?1 AND " M_OF_S
		    " ORDER BY s.agent_id, m.id",
	[ST_DELETE] = "DELETE FROM sessions WHERE session_key = ?1",
	[ST_AUTH_GET] =
		"SELECT window_start, failures, locked_until FROM auth_failures WHERE addr = ?1",
	[ST_AUTH_PUT] =
		"INSERT OR REPLACE INTO auth_failures (addr, window_start, failures, locked_until)"
		" VALUES (?1, ?2, ?3, ?4)",
	/* rows whose window and lockout are both over carry no state */
	[ST_AUTH_PRUNE] = "DELETE FROM auth_failures WHERE window_start < ?1 AND locked_until < ?2",
	/* prepared once like the rest: sqlite3_exec parsed them for every turn */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	/* one turn of a group commit (pool_append_turn) */
	[ST_SAVEPOINT] = "SAVEPOINT turn",
	[ST_RELEASE] = "RELEASE turn",
	[ST_ROLLBACK_TO] = "ROLLBACK TO turn",
	[ST_RESPONSE_PUT] = "INSERT OR REPLACE INTO responses (id, agent_id, session_key, last_seq,"
			    " created_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_RESPONSE_GET] = "SELECT r.agent_id, r.session_key, r.last_seq, r.body, r.last_seq >="
			    " (SELECT max(" M_SEQ ") FROM sessions s, message_rows m"
			    " WHERE s.agent_id = r.agent_id AND s.session_key = r.session_key"
			    " AND " M_OF_S ") FROM responses r WHERE r.id = ?1",
	[ST_RESPONSE_DELETE] = "DELETE FROM responses WHERE id = ?1",
	[ST_FORK_SESSION] = "INSERT INTO sessions (agent_id, session_key, created_at, last_used)"
			    " VALUES (?1, ?2, ?3, ?3)",
	/* session ?2's messages up to number ?4, copied into session ?3 (d) */
	[ST_FORK_MESSAGES] =
		"INSERT INTO message_rows (id, role, message, run_id, created_at, prompt_tokens,"
		" completion_tokens, interrupted)"
		" SELECT d.id * " SPAN " + " M_SEQ ", m.role, m.message, m.run_id, m.created_at,"
		" m.prompt_tokens, m.completion_tokens, m.interrupted"
		" FROM sessions s, sessions d, message_rows m"
		" WHERE s.agent_id = ?1 AND s.session_key = ?2 AND d.agent_id = ?1"
		" AND d.session_key = ?3 AND " M_OF_S " AND " M_SEQ " <= ?4",
	/* a name (in any case: one made before names were lower-cased) or a
	 * hash that exists: no row changed */
	[ST_KEY_INSERT] = "INSERT INTO client_keys (" KEY_COLUMNS ")"
			  " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE NOT EXISTS"
			  " (SELECT 1 FROM client_keys WHERE lower(name) = lower(?1))"
			  " ON CONFLICT DO NOTHING",
	/* not onto another key's hash: no row changed */
	[ST_KEY_REPLACE] = "UPDATE client_keys SET hash = ?2, agents = ?3, rpm = ?4, tpm = ?5,"
			   " created = ?6, expires = ?7, revoked = ?8, last_used = ?9"
			   " WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM client_keys"
			   " WHERE hash = ?2 AND name <> ?1)",
	/* in any case; of two that differ only in case (made before names
	 * were lower-cased), one not revoked first */
	[ST_KEY_BY_NAME] = "SELECT " KEY_COLUMNS " FROM client_keys WHERE lower(name) = lower(?1)"
			   " ORDER BY revoked <> 0, name <> ?1, name LIMIT 1",
	[ST_KEY_BY_HASH] = "SELECT " KEY_COLUMNS " FROM client_keys WHERE hash = ?1",
	[ST_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM client_keys ORDER BY name",
	[ST_KEY_TOUCH] = "UPDATE client_keys SET last_used = ?2 WHERE name = ?1",
	[ST_RATE_GET] = "SELECT requests, tokens FROM rate_windows"
			" WHERE client = ?1 AND window_start = ?2",
	[ST_RATE_TAKE] = "INSERT INTO rate_windows (client, window_start, requests, tokens)"
			 " VALUES (?1, ?2, 1, 0) ON CONFLICT (client, window_start)"
			 " DO UPDATE SET requests = requests + 1",
	[ST_RATE_TOKENS] = "INSERT INTO rate_windows (client, window_start, requests, tokens)"
			   " VALUES (?1, ?2, 0, ?3) ON CONFLICT (client, window_start)"
			   " DO UPDATE SET tokens = tokens + excluded.tokens",
	[ST_RATE_PRUNE] = "DELETE FROM rate_windows WHERE window_start < ?1",
	/* no row changed: refused (the window's tokens, counted and
	 * reserved, reached ?4) */
	[ST_RATE_RESERVE] = "INSERT INTO rate_windows (client, window_start, requests, tokens)"
			    " VALUES (?1, ?2, 0, ?3) ON CONFLICT (client, window_start)"
			    " DO UPDATE SET tokens = tokens + excluded.tokens"
			    " WHERE tokens < ?4",
	[ST_RATE_UNTAKE] = "UPDATE rate_windows SET requests = requests - 1"
			   " WHERE client = ?1 AND window_start = ?2 AND requests > 0",
	/* no row changed: this address's minute was logged already */
	[ST_UNAUTH_NOTE] = "INSERT INTO usage_unauth (addr, minute) VALUES (?1, ?2)"
			   " ON CONFLICT (addr) DO UPDATE SET minute = excluded.minute"
			   " WHERE minute < excluded.minute",
	[ST_UNAUTH_PRUNE] = "DELETE FROM usage_unauth WHERE minute < ?1",
	/* a row's id is its time (ms) times USAGE_ID_PER_MS plus the rows
	 * before it in that millisecond: the table is in time order, with no
	 * index to write (past USAGE_ID_PER_MS rows in one millisecond, the
	 * next rows take the following millisecond's first ids) */
	[ST_USAGE_INSERT] = "INSERT INTO usage (id, " USAGE_COLUMNS ", estimated)"
			    " VALUES ((SELECT coalesce(max(id) + 1, ?1 * " USAGE_ID_PER_MS ")"
			    " FROM usage WHERE id >= ?1 * " USAGE_ID_PER_MS
			    " AND id < (?1 + 1) * " USAGE_ID_PER_MS "),"
			    " ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[ST_USAGE_SCAN] =
		"SELECT " USAGE_COLUMNS ", estimated FROM usage WHERE id >= ?1 * " USAGE_ID_PER_MS
		" AND id < ?2 * " USAGE_ID_PER_MS " ORDER BY id",
	[ST_USAGE_PURGE] = "DELETE FROM usage WHERE id < ?1 * " USAGE_ID_PER_MS,
};

/*
 * Migrations: migrations[i] takes the schema from user_version i to i + 1.
 * Append only; never edit a released step.
 */
static const char *const migrations[] = {
	/* 0 -> 1: sessions and messages */
	"CREATE TABLE sessions ("
	"  agent_id TEXT NOT NULL,"
	"  session_key TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL,"
	"  PRIMARY KEY (agent_id, session_key));"
	"CREATE INDEX sessions_last_used ON sessions (last_used);"
	"CREATE INDEX sessions_key ON sessions (session_key);"
	"CREATE TABLE messages ("
	"  agent_id TEXT NOT NULL,"
	"  session_key TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  role TEXT NOT NULL,"
	"  message TEXT NOT NULL," /* the OpenAI message as JSON: parts survive */
	"  run_id TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  prompt_tokens INTEGER,"
	"  completion_tokens INTEGER,"
	"  interrupted INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (agent_id, session_key, seq),"
	"  FOREIGN KEY (agent_id, session_key) REFERENCES sessions (agent_id, session_key)"
	"    ON DELETE CASCADE);",
	/* 1 -> 2: failed-auth counters shared by every worker process */
	"CREATE TABLE auth_failures ("
	"  addr TEXT PRIMARY KEY,"
	"  window_start INTEGER NOT NULL,"
	"  failures INTEGER NOT NULL,"
	"  locked_until INTEGER NOT NULL DEFAULT 0);",
	/* 2 -> 3: Responses API responses, each the end of a turn of a session */
	"CREATE TABLE responses ("
	"  id TEXT PRIMARY KEY,"
	"  agent_id TEXT NOT NULL,"
	"  session_key TEXT NOT NULL,"
	"  last_seq INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  body TEXT NOT NULL,"
	"  FOREIGN KEY (agent_id, session_key) REFERENCES sessions (agent_id, session_key)"
	"    ON DELETE CASCADE);"
	"CREATE INDEX responses_session ON responses (agent_id, session_key);",
	/* 3 -> 4: client keys, per-client minute windows, the usage log (no
	 * foreign key: usage rows outlive their sessions) */
	"CREATE TABLE client_keys ("
	"  name TEXT PRIMARY KEY,"
	"  hash TEXT NOT NULL UNIQUE," /* SHA-256 of the secret, hex */
	"  agents TEXT NOT NULL DEFAULT '',"
	"  rpm INTEGER NOT NULL DEFAULT 0,"
	"  tpm INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  revoked INTEGER NOT NULL DEFAULT 0,"
	"  last_used INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE rate_windows ("
	"  client TEXT NOT NULL,"
	"  window_start INTEGER NOT NULL,"
	"  requests INTEGER NOT NULL DEFAULT 0,"
	"  tokens INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (client, window_start));"
	"CREATE TABLE usage ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  endpoint TEXT NOT NULL,"
	"  agent_id TEXT,"
	"  auth_kind TEXT NOT NULL,"
	"  auth_name TEXT,"
	"  session_key TEXT,"
	"  model TEXT,"
	"  status INTEGER NOT NULL,"
	"  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
	"  completion_tokens INTEGER NOT NULL DEFAULT 0,"
	"  latency_ms REAL NOT NULL,"
	"  ttft_ms REAL," /* NULL: no first token */
	"  interrupted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX usage_time ON usage (time);",
	/* 4 -> 5: fewer B-trees for a turn to write (each a 4 KiB WAL frame a
	 * commit).  sessions: keyed by (session_key, agent_id) without a
	 * rowid, which also serves lookups by key alone (was a rowid table,
	 * its primary key's index and an index on session_key).  usage: ids
	 * in time order (ST_USAGE_INSERT) instead of an index on time.  Run
	 * with foreign keys off (migrate), so dropping the old sessions
	 * table deletes no messages. */
	"CREATE TABLE sessions_5 ("
	"  agent_id TEXT NOT NULL,"
	"  session_key TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL,"
	"  PRIMARY KEY (session_key, agent_id)) WITHOUT ROWID;"
	"INSERT INTO sessions_5 SELECT agent_id, session_key, created_at, last_used FROM sessions;"
	"DROP TABLE sessions;"
	"ALTER TABLE sessions_5 RENAME TO sessions;"
	"CREATE INDEX sessions_last_used ON sessions (last_used);"
	"CREATE TABLE usage_5 ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  endpoint TEXT NOT NULL,"
	"  agent_id TEXT,"
	"  auth_kind TEXT NOT NULL,"
	"  auth_name TEXT,"
	"  session_key TEXT,"
	"  model TEXT,"
	"  status INTEGER NOT NULL,"
	"  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
	"  completion_tokens INTEGER NOT NULL DEFAULT 0,"
	"  latency_ms REAL NOT NULL,"
	"  ttft_ms REAL,"
	"  interrupted INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO usage_5 SELECT time * " USAGE_ID_PER_MS " + row_number() OVER"
	"  (PARTITION BY time ORDER BY id) - 1, " USAGE_COLUMNS " FROM usage;"
	"DROP TABLE usage;"
	"ALTER TABLE usage_5 RENAME TO usage;",
	/* 5 -> 6: a session's messages in one range of ids (SEQ_SPAN), in a
	 * table of their own, message_rows: its B-tree is their index, so a
	 * turn writes no index of messages, a new session's rows go at the
	 * table's end, and a history is read from a page or two instead of a
	 * row here and there.  sessions gets a row id to number them; a
	 * trigger deletes a session's rows with it (a foreign key did).  The
	 * view messages shows the rows as the table of that name was, with
	 * their session's agent, key and number, for reading.  Run with
	 * foreign keys off (migrate): responses keep theirs to sessions. */
	"CREATE TABLE sessions_6 ("
	"  id INTEGER PRIMARY KEY,"
	"  agent_id TEXT NOT NULL,"
	"  session_key TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL,"
	"  UNIQUE (session_key, agent_id));"
	"INSERT INTO sessions_6 (agent_id, session_key, created_at, last_used)"
	"  SELECT agent_id, session_key, created_at, last_used FROM sessions"
	"  ORDER BY created_at, session_key, agent_id;"
	"CREATE TABLE message_rows ("
	"  id INTEGER PRIMARY KEY," /* the session's id * SEQ_SPAN + its number */
	"  role TEXT NOT NULL,"
	"  message TEXT NOT NULL," /* the OpenAI message as JSON: parts survive */
	"  run_id TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  prompt_tokens INTEGER,"
	"  completion_tokens INTEGER,"
	"  interrupted INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO message_rows SELECT s.id * " SPAN " + m.seq, m.role, m.message, m.run_id,"
	"  m.created_at, m.prompt_tokens, m.completion_tokens, m.interrupted"
	"  FROM messages m JOIN sessions_6 s"
	"  ON s.agent_id = m.agent_id AND s.session_key = m.session_key"
	"  WHERE m.seq > 0 AND m.seq < " SPAN " ORDER BY 1;"
	"DROP TABLE messages;"
	"DROP TABLE sessions;"
	"ALTER TABLE sessions_6 RENAME TO sessions;"
	"CREATE INDEX sessions_last_used ON sessions (last_used);"
	"CREATE TRIGGER sessions_delete AFTER DELETE ON sessions BEGIN"
	"  DELETE FROM message_rows WHERE id > old.id * " SPAN " AND id < (old.id + 1) * " SPAN ";"
	"END;"
	"CREATE VIEW messages AS SELECT s.agent_id, s.session_key, " M_SEQ " AS seq, m.role,"
	"  m.message, m.run_id, m.created_at, m.prompt_tokens, m.completion_tokens,"
	"  m.interrupted FROM sessions s JOIN message_rows m ON " M_OF_S ";",
	/* 6 -> 7: usage rows whose tokens are an estimate (no usage came: a
	 * client left a stream, an upstream sent none), and the minute each
	 * address last had a failed-auth request logged (one row a minute) */
	"ALTER TABLE usage ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE usage_unauth ("
	"  addr TEXT PRIMARY KEY,"
	"  minute INTEGER NOT NULL);"
	"CREATE INDEX usage_unauth_minute ON usage_unauth (minute);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

const int STORE_SQLITE_SCHEMA = SCHEMA_VERSION;

int store_sqlite_file_schema(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* One connection: its prepared statements, used by one thread at a time.
 */
struct conn {
	const char *path; /* the store's */
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	time_t next_expire;
	long long busy_since; /* ms, while the busy handler waits */
	int busy_limit_ms;    /* it gives up after this long */
};

/* Log what failed, with SQLite's message when SQLite failed (a turn with no
 * answer, or no memory to print a message, is no SQLite error), and set e
 * (500).  Returns -1. */
static int db_fail(struct conn *s, struct err *e, const char *what)
{
	int code = sqlite3_errcode(s->db);

	if (code == SQLITE_OK || code == SQLITE_ROW || code == SQLITE_DONE)
		log_error("session store %s: %s", s->path, what);
	else
		log_error("session store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	err_set(e, 500, ERR_API, "Session store error: %s.", what);
	return -1;
}

static sqlite3_stmt *stmt(struct conn *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	if (!st && sqlite3_prepare_v3(s->db, sql_text[which], -1, SQLITE_PREPARE_PERSISTENT,
				      &s->st[which], NULL) != SQLITE_OK)
		return NULL;
	st = s->st[which];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

static int exec(struct conn *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* BEGIN IMMEDIATE, COMMIT or ROLLBACK (ST_BEGIN...), prepared once. */
static int txn(struct conn *s, int which)
{
	sqlite3_stmt *st = stmt(s, which);
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static long long now_s(void)
{
	return (long long)time(NULL);
}

/* ---- history ---- */

int sq_load_history(struct conn *s, const char *agent_id, const char *key, int limit, cJSON **out,
		    struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_HISTORY);
	cJSON *arr = cJSON_CreateArray();
	int rc;

	*out = NULL;
	if (!arr)
		return db_fail(s, e, "out of memory");
	if (!st) {
		cJSON_Delete(arr);
		return db_fail(s, e, "prepare history");
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, limit);
	/* Rows come newest first: each goes in front of the ones read.  Each
	 * stays text until something reads it (message.h: msg_stored). */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		cJSON *m;
		if (!text)
			continue;
		if (!(m = msg_stored(text)) || !cJSON_InsertItemInArray(arr, 0, m)) {
			cJSON_Delete(m);
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc == SQLITE_NOMEM) {
		cJSON_Delete(arr);
		return err_nomem(e);
	}
	if (rc != SQLITE_DONE) {
		cJSON_Delete(arr);
		return db_fail(s, e, "reading history");
	}
	*out = arr;
	return 0;
}

/* ---- turns ---- */

static int insert_message(struct conn *s, const struct store_turn *t, long long id,
			  const cJSON *msg, long long now, bool assistant)
{
	sqlite3_stmt *st = stmt(s, ST_INSERT_MSG);
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
	char *json;
	int rc;

	if (!st || !(json = cJSON_PrintUnformatted(msg)))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, cJSON_IsString(role) ? role->valuestring : "user", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, t->run_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	if (assistant) {
		sqlite3_bind_int64(st, 6, t->prompt_tokens);
		sqlite3_bind_int64(st, 7, t->completion_tokens);
	}
	sqlite3_bind_int(st, 8, assistant && t->interrupted);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	free(json);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The response row of turn t, whose answer is message seq. */
static int put_response(struct conn *s, const struct store_turn *t, long long seq, long long now)
{
	sqlite3_stmt *st = stmt(s, ST_RESPONSE_PUT);
	char *json;
	int rc;

	if (!st || !t->response || !(json = cJSON_PrintUnformatted(t->response)))
		return -1;
	sqlite3_bind_text(st, 1, t->response_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, t->session_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, seq);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_text(st, 6, json, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	free(json);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One usage row, inside the caller's transaction. */
static int insert_usage(struct conn *s, const struct store_usage *u)
{
	sqlite3_stmt *st = stmt(s, ST_USAGE_INSERT);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, u->time);
	sqlite3_bind_text(st, 2, u->endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, u->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, u->auth_kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, u->auth_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, u->session_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, u->model, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, u->status);
	sqlite3_bind_int64(st, 9, u->prompt_tokens);
	sqlite3_bind_int64(st, 10, u->completion_tokens);
	sqlite3_bind_double(st, 11, u->latency_ms);
	if (u->ttft_ms >= 0)
		sqlite3_bind_double(st, 12, u->ttft_ms);
	sqlite3_bind_int(st, 13, u->interrupted);
	sqlite3_bind_int(st, 14, u->estimated);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int purge_before(struct conn *s, long long cutoff, long *deleted)
{
	sqlite3_stmt *st = stmt(s, ST_PURGE);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, cutoff);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (deleted)
		*deleted = (long)sqlite3_changes(s->db);
	return 0;
}

/* The rows of one turn, inside the caller's transaction: 0, or -1 with
 * the statement that failed left to the caller to roll back. */
static int turn_rows(struct conn *s, const struct store_turn *t, long long now)
{
	sqlite3_stmt *st;
	const cJSON *m;
	long long sid, seq;

	if (!(st = stmt(s, ST_SESSION_UPSERT)))
		return -1;
	sqlite3_bind_text(st, 1, t->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->session_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -1;
	sqlite3_reset(st);

	if (!(st = stmt(s, ST_NEXT_SEQ)))
		return -1;
	sqlite3_bind_text(st, 1, t->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->session_key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -1;
	sid = sqlite3_column_int64(st, 0);
	seq = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	/* a session holds up to SEQ_SPAN - 1 messages */
	if (seq + cJSON_GetArraySize(t->new_messages) >= SEQ_SPAN) {
		log_error("session store %s: session %s of agent %s is full (%d messages)", s->path,
			  t->session_key, t->agent_id, SEQ_SPAN - 1);
		return -1;
	}

	cJSON_ArrayForEach(m, t->new_messages) {
		if (insert_message(s, t, sid * SEQ_SPAN + seq++, m, now, false) < 0)
			return -1;
	}
	if (!t->answer || insert_message(s, t, sid * SEQ_SPAN + seq, t->answer, now, true) < 0)
		return -1;
	if (t->response_id && put_response(s, t, seq, now) < 0)
		return -1;
	if (t->usage && insert_usage(s, t->usage) < 0)
		return -1;
	return 0;
}

/* A group of turns in one transaction (store_sqlite.h). */
void sq_append_group(struct conn *s, struct turn_wait *first)
{
	long long now = now_s();
	bool alone = !first->next;
	int ttl_days = 0;
	struct turn_wait *w;

	if (txn(s, ST_BEGIN) < 0) {
		for (w = first; w; w = w->next)
			w->rc = db_fail(s, w->e, "cannot start a transaction");
		return;
	}
	for (w = first; w; w = w->next) {
		if (!alone && txn(s, ST_SAVEPOINT) < 0)
			goto fail_all;
		if ((w->rc = turn_rows(s, w->t, now)) == 0) {
			if (!alone && txn(s, ST_RELEASE) < 0)
				goto fail_all;
			if (w->t->ttl_days > 0)
				ttl_days = w->t->ttl_days;
			continue;
		}
		db_fail(s, w->e, "cannot save the turn");
		/* an I/O error, a full disk or no memory can end the whole
		 * transaction (SQLite then rolls it back itself): the turns
		 * before this one are gone too */
		if (alone || sqlite3_get_autocommit(s->db) || txn(s, ST_ROLLBACK_TO) < 0 ||
		    txn(s, ST_RELEASE) < 0)
			goto fail_all;
	}
	if (txn(s, ST_COMMIT) < 0)
		goto fail_all;

	/* Expire idle sessions now and then: an indexed range delete, not a scan. */
	if (ttl_days > 0 && now >= s->next_expire) {
		long n = 0;
		s->next_expire = now + EXPIRE_EVERY_S;
		if (purge_before(s, now - (long long)ttl_days * 86400, &n) < 0)
			log_warn("session store %s: expiry failed: %s", s->path,
				 sqlite3_errmsg(s->db));
		else if (n)
			log_info("session store: expired %ld idle sessions", n);
	}
	return;
fail_all:
	/* nothing of the group is stored */
	for (w = first; w; w = w->next)
		if (w->rc == 0)
			w->rc = db_fail(s, w->e, "cannot save the turn");
	if (!sqlite3_get_autocommit(s->db))
		txn(s, ST_ROLLBACK);
}

/* ---- admin ---- */

int sq_purge(struct conn *s, double days, long *deleted, struct err *e)
{
	if (purge_before(s, now_s() - (long long)(days * 86400), deleted) < 0)
		return db_fail(s, e, "purge");
	return 0;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const char *v = (const char *)sqlite3_column_text(st, col);
	snprintf(dst, n, "%s", v ? v : "");
}

int sq_list(struct conn *s, const char *agent_id,
	    int (*fn)(void *ctx, const struct store_session *row), void *ctx, struct err *e)
{
	sqlite3_stmt *st = stmt(s, agent_id ? ST_LIST_AGENT : ST_LIST_ALL);
	int rc;

	if (!st)
		return db_fail(s, e, "prepare list");
	if (agent_id)
		sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_session row;
		copy_col(row.key, sizeof row.key, st, 0);
		copy_col(row.agent_id, sizeof row.agent_id, st, 1);
		row.created = sqlite3_column_int64(st, 2);
		row.last_used = sqlite3_column_int64(st, 3);
		row.messages = (long)sqlite3_column_int64(st, 4);
		if (fn(ctx, &row) < 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_fail(s, e, "list");
}

int sq_show(struct conn *s, const char *key,
	    int (*fn)(void *ctx, const char *agent_id, long seq, const cJSON *msg,
		      bool interrupted),
	    void *ctx, long *count, struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_SHOW);
	int rc;

	*count = 0;
	if (!st)
		return db_fail(s, e, "prepare show");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 2);
		cJSON *m = text ? cJSON_Parse(text) : NULL;
		const char *agent = (const char *)sqlite3_column_text(st, 0);
		(*count)++;
		if (m)
			fn(ctx, agent ? agent : "", (long)sqlite3_column_int64(st, 1), m,
			   sqlite3_column_int(st, 3) != 0);
		cJSON_Delete(m);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(s, e, "show");
}

/* Statement which (a DELETE by one text key); *deleted gets the rows. */
static int delete_by(struct conn *s, int which, const char *key, long *deleted, struct err *e)
{
	sqlite3_stmt *st = stmt(s, which);
	int rc;

	if (!st)
		return db_fail(s, e, "prepare delete");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, e, "delete");
	*deleted = (long)sqlite3_changes(s->db);
	return 0;
}

int sq_remove(struct conn *s, const char *key, long *deleted, struct err *e)
{
	return delete_by(s, ST_DELETE, key, deleted, e);
}

/* ---- Responses API ---- */

int sq_get_response(struct conn *s, const char *id, struct store_response *out, struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_RESPONSE_GET);
	const char *body;
	int rc;

	memset(out, 0, sizeof *out);
	if (!st)
		return db_fail(s, e, "prepare response");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_col(out->agent_id, sizeof out->agent_id, st, 0);
		copy_col(out->session_key, sizeof out->session_key, st, 1);
		out->last_seq = sqlite3_column_int64(st, 2);
		body = (const char *)sqlite3_column_text(st, 3);
		out->body = body ? cJSON_Parse(body) : NULL;
		out->latest = sqlite3_column_int(st, 4) != 0;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW || !out->body) {
		cJSON_Delete(out->body);
		out->body = NULL;
		return db_fail(s, e, "reading a response");
	}
	return 0;
}

int sq_delete_response(struct conn *s, const char *id, long *deleted, struct err *e)
{
	return delete_by(s, ST_RESPONSE_DELETE, id, deleted, e);
}

int sq_fork(struct conn *s, const char *agent_id, const char *from_key, long long upto,
	    const char *to_key, struct err *e)
{
	sqlite3_stmt *st;

	if (txn(s, ST_BEGIN) < 0)
		return db_fail(s, e, "cannot start a transaction");
	if (!(st = stmt(s, ST_FORK_SESSION)))
		goto rollback;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, to_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_s());
	if (sqlite3_step(st) != SQLITE_DONE)
		goto rollback;
	sqlite3_reset(st);
	if (!(st = stmt(s, ST_FORK_MESSAGES)))
		goto rollback;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, from_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, to_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, upto);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto rollback;
	sqlite3_reset(st);
	if (txn(s, ST_COMMIT) < 0)
		goto rollback;
	return 0;
rollback:
	if (st)
		sqlite3_reset(st);
	db_fail(s, e, "cannot branch the session");
	txn(s, ST_ROLLBACK);
	return -1;
}

/* window_start, failures, locked_until of addr; zeros when absent. */
static int auth_get(struct conn *s, const char *addr, long long v[3])
{
	sqlite3_stmt *st = stmt(s, ST_AUTH_GET);
	int rc;

	v[0] = v[1] = v[2] = 0;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		for (int i = 0; i < 3; i++)
			v[i] = sqlite3_column_int64(st, i);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int sq_auth_locked(struct conn *s, const char *addr, long long now_ms, long long *retry_ms,
		   struct err *e)
{
	long long v[3];

	*retry_ms = 0;
	if (auth_get(s, addr, v) < 0)
		return db_fail(s, e, "reading auth failures");
	if (v[2] > now_ms)
		*retry_ms = v[2] - now_ms;
	return 0;
}

int sq_auth_failed(struct conn *s, const char *addr, long long now_ms, int max, long window_ms,
		   long lockout_ms, long long *retry_ms, struct err *e)
{
	sqlite3_stmt *st;
	long long v[3];

	*retry_ms = 0;
	if (txn(s, ST_BEGIN) < 0)
		return db_fail(s, e, "cannot start a transaction");
	if (auth_get(s, addr, v) < 0)
		goto rollback;
	*retry_ms = store_auth_step(v, now_ms, max, window_ms, lockout_ms);
	if (!(st = stmt(s, ST_AUTH_PUT)))
		goto rollback;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(st, i + 2, v[i]);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto rollback;
	sqlite3_reset(st);
	if (!(st = stmt(s, ST_AUTH_PRUNE)))
		goto rollback;
	sqlite3_bind_int64(st, 1, now_ms - window_ms);
	sqlite3_bind_int64(st, 2, now_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto rollback;
	sqlite3_reset(st);
	if (txn(s, ST_COMMIT) < 0)
		goto rollback;
	return 0;
rollback:
	db_fail(s, e, "recording an auth failure");
	txn(s, ST_ROLLBACK);
	return -1;
}

/* ---- client keys ---- */

static void bind_key(sqlite3_stmt *st, const struct store_key *k)
{
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->agents, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, k->rpm);
	sqlite3_bind_int64(st, 5, k->tpm);
	sqlite3_bind_int64(st, 6, k->created);
	sqlite3_bind_int64(st, 7, k->expires);
	sqlite3_bind_int64(st, 8, k->revoked);
	sqlite3_bind_int64(st, 9, k->last_used);
}

/* A row of KEY_COLUMNS. */
static void read_key(sqlite3_stmt *st, struct store_key *k)
{
	copy_col(k->name, sizeof k->name, st, 0);
	copy_col(k->hash, sizeof k->hash, st, 1);
	copy_col(k->agents, sizeof k->agents, st, 2);
	k->rpm = (long)sqlite3_column_int64(st, 3);
	k->tpm = (long)sqlite3_column_int64(st, 4);
	k->created = sqlite3_column_int64(st, 5);
	k->expires = sqlite3_column_int64(st, 6);
	k->revoked = sqlite3_column_int64(st, 7);
	k->last_used = sqlite3_column_int64(st, 8);
}

int sq_key_put(struct conn *s, const struct store_key *k, bool replace, struct err *e)
{
	sqlite3_stmt *st = stmt(s, replace ? ST_KEY_REPLACE : ST_KEY_INSERT);
	int rc;

	if (!st)
		return db_fail(s, e, "prepare key");
	bind_key(st, k);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, e, "cannot save the key");
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

int sq_key_get(struct conn *s, const char *name, const char *hash, struct store_key *out,
	       struct err *e)
{
	sqlite3_stmt *st = stmt(s, name ? ST_KEY_BY_NAME : ST_KEY_BY_HASH);
	int rc;

	memset(out, 0, sizeof *out);
	if (!st)
		return db_fail(s, e, "prepare key");
	sqlite3_bind_text(st, 1, name ? name : hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_key(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 1;
	return rc == SQLITE_ROW ? 0 : db_fail(s, e, "reading a key");
}

int sq_key_list(struct conn *s, int (*fn)(void *ctx, const struct store_key *k), void *ctx,
		struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_KEY_LIST);
	int rc;

	if (!st)
		return db_fail(s, e, "prepare keys");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_key k;
		read_key(st, &k);
		if (fn(ctx, &k) < 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_fail(s, e, "keys");
}

int sq_key_touch(struct conn *s, const char *name, long long now_ms, struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_KEY_TOUCH);
	int rc;

	if (!st)
		return db_fail(s, e, "prepare key");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(s, e, "cannot update the key");
}

/* ---- per-client minute windows ---- */

/*
 * One transaction (BEGIN IMMEDIATE: every writer of every process waits
 * for it), so the check and the count cannot be split by another taker.
 * The first request of a window also prunes the windows before the
 * previous one: once a minute per client, an indexless delete of a small
 * table.
 */
int sq_rate_take(struct conn *s, const char *client, long long window, long rpm, long tpm,
		 struct store_rate *out, struct err *e)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof *out);
	if (txn(s, ST_BEGIN) < 0)
		return db_fail(s, e, "cannot start a transaction");
	if (!(st = stmt(s, ST_RATE_GET)))
		goto rollback;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, window);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->requests = (long)sqlite3_column_int64(st, 0);
		out->tokens = (long)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto rollback;
	if ((rpm > 0 && out->requests >= rpm) || (tpm > 0 && out->tokens >= tpm)) {
		txn(s, ST_ROLLBACK); /* nothing was written */
		return 0;
	}
	if (!(st = stmt(s, ST_RATE_TAKE)))
		goto rollback;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, window);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		goto rollback;
	if (out->requests == 0) {
		if (!(st = stmt(s, ST_RATE_PRUNE)))
			goto rollback;
		sqlite3_bind_int64(st, 1, window - 60000);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto rollback;
	}
	if (txn(s, ST_COMMIT) < 0)
		goto rollback;
	out->allowed = true;
	out->requests++;
	return 0;
rollback:
	db_fail(s, e, "counting a request");
	txn(s, ST_ROLLBACK);
	memset(out, 0, sizeof *out);
	return -1;
}

int sq_rate_add_tokens(struct conn *s, const char *client, long long window, long tokens,
		       struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_RATE_TOKENS);
	int rc;

	if (!st)
		return db_fail(s, e, "prepare tokens");
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, window);
	sqlite3_bind_int64(st, 3, tokens);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(s, e, "counting tokens");
}

/* One statement on (client, window): 0 with *changed rows, or -1. */
static int rate_step(struct conn *s, int which, const char *client, long long window, long a,
		     long b, int *changed)
{
	sqlite3_stmt *st = stmt(s, which);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, window);
	if (which == ST_RATE_RESERVE) {
		sqlite3_bind_int64(st, 3, a);
		sqlite3_bind_int64(st, 4, b);
	}
	rc = sqlite3_step(st);
	*changed = rc == SQLITE_DONE ? sqlite3_changes(s->db) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* In one BEGIN IMMEDIATE transaction, as sq_rate_take. */
int sq_rate_reserve(struct conn *s, const char *client, long long window, long tpm, long tokens,
		    struct store_rate *out, struct err *e)
{
	sqlite3_stmt *st;
	int changed = 0, untaken = 0, rc;

	memset(out, 0, sizeof *out);
	if (txn(s, ST_BEGIN) < 0)
		return db_fail(s, e, "cannot start a transaction");
	if (rate_step(s, ST_RATE_RESERVE, client, window, tokens, tpm, &changed) < 0 ||
	    (!changed && rate_step(s, ST_RATE_UNTAKE, client, window, 0, 0, &untaken) < 0) ||
	    !(st = stmt(s, ST_RATE_GET)))
		goto rollback;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, window);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->requests = (long)sqlite3_column_int64(st, 0);
		out->tokens = (long)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if ((rc != SQLITE_ROW && rc != SQLITE_DONE) || txn(s, ST_COMMIT) < 0)
		goto rollback;
	out->allowed = changed > 0;
	return 0;
rollback:
	db_fail(s, e, "reserving tokens");
	txn(s, ST_ROLLBACK);
	memset(out, 0, sizeof *out);
	return -1;
}

int sq_usage_unauth_first(struct conn *s, const char *addr, long long minute, bool *first,
			  struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_UNAUTH_NOTE);
	int rc;

	*first = false;
	if (!st)
		return db_fail(s, e, "prepare usage");
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, minute);
	rc = sqlite3_step(st);
	*first = rc == SQLITE_DONE && sqlite3_changes(s->db) > 0;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, e, "noting a failed request");
	if (*first && (st = stmt(s, ST_UNAUTH_PRUNE))) {
		/* indexed: deletes only the minutes that ended */
		sqlite3_bind_int64(st, 1, minute);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	return 0;
}

/* ---- the usage log ---- */

int sq_usage_add(struct conn *s, const struct store_usage *rows, size_t n, struct err *e)
{
	if (txn(s, ST_BEGIN) < 0)
		return db_fail(s, e, "cannot start a transaction");
	for (size_t i = 0; i < n; i++)
		if (insert_usage(s, &rows[i]) < 0)
			goto rollback;
	if (txn(s, ST_COMMIT) < 0)
		goto rollback;
	return 0;
rollback:
	db_fail(s, e, "cannot save usage");
	txn(s, ST_ROLLBACK);
	return -1;
}

/* A text column, NULL kept NULL. */
static const char *text_col(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

/* Each row's strings are SQLite's until the next step: valid during fn. */
int sq_usage_scan(struct conn *s, long long since, long long until,
		  int (*fn)(void *ctx, const struct store_usage *row), void *ctx, struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_USAGE_SCAN);
	int rc;

	if (!st)
		return db_fail(s, e, "prepare usage");
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_usage u = {
			.time = sqlite3_column_int64(st, 0),
			.endpoint = text_col(st, 1),
			.agent_id = text_col(st, 2),
			.auth_kind = text_col(st, 3),
			.auth_name = text_col(st, 4),
			.session_key = text_col(st, 5),
			.model = text_col(st, 6),
			.status = sqlite3_column_int(st, 7),
			.prompt_tokens = (long)sqlite3_column_int64(st, 8),
			.completion_tokens = (long)sqlite3_column_int64(st, 9),
			.latency_ms = sqlite3_column_double(st, 10),
			.ttft_ms = sqlite3_column_type(st, 11) == SQLITE_NULL
					   ? -1
					   : sqlite3_column_double(st, 11),
			.interrupted = sqlite3_column_int(st, 12) != 0,
			.estimated = sqlite3_column_int(st, 13) != 0,
		};
		if (fn(ctx, &u) < 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_fail(s, e, "usage");
}

int sq_usage_purge(struct conn *s, long long before, long *deleted, struct err *e)
{
	sqlite3_stmt *st = stmt(s, ST_USAGE_PURGE);
	int rc;

	*deleted = 0;
	if (!st)
		return db_fail(s, e, "prepare usage purge");
	sqlite3_bind_int64(st, 1, before);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, e, "usage purge");
	*deleted = (long)sqlite3_changes(s->db);
	return 0;
}

void conn_close(struct conn *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

/* PRAGMA user_version: the schema's version (0 for a new file). */
static int schema_version(struct conn *s)
{
	sqlite3_stmt *st;
	int version = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	return version;
}

/* PRAGMA foreign_key_check finds a row (or cannot run). */
static bool foreign_keys_broken(struct conn *s)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
		return true;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc != SQLITE_DONE;
}

/* The steps from the file's version to SCHEMA_VERSION, in one transaction
 * that holds the write lock (another process may be at it too). */
static int migrate_steps(struct conn *s, struct err *e)
{
	long long started = clock_mono_ms();
	int version, from;

	if (txn(s, ST_BEGIN) < 0)
		return db_fail(s, e, "cannot lock the schema");
	version = schema_version(s);
	if (version > SCHEMA_VERSION) {
		txn(s, ST_ROLLBACK);
		log_error("session store %s: schema version %d is newer than this clawcgi (%d)",
			  s->path, version, SCHEMA_VERSION);
		err_set(e, 500, ERR_API, "Session store error: schema too new.");
		return -1;
	}
	if (version == SCHEMA_VERSION) { /* another process was first */
		txn(s, ST_ROLLBACK);
		return 0;
	}
	for (from = version; version < SCHEMA_VERSION; version++) {
		char pragma[48];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
		if (exec(s, migrations[version]) < 0 || exec(s, pragma) < 0) {
			db_fail(s, e, "schema migration");
			txn(s, ST_ROLLBACK);
			return -1;
		}
	}
	if (foreign_keys_broken(s)) {
		log_error("session store %s: rows without their session after migrating", s->path);
		err_set(e, 500, ERR_API, "Session store error: schema migration.");
		txn(s, ST_ROLLBACK);
		return -1;
	}
	if (txn(s, ST_COMMIT) < 0) {
		db_fail(s, e, "schema migration");
		txn(s, ST_ROLLBACK);
		return -1;
	}
	/* a new file is no news; an upgraded one is: older releases refuse it */
	if (from > 0)
		log_warn("session store %s: upgraded from schema version %d to %d in %lld ms; "
			 "an older clawcgi cannot open it now",
			 s->path, from, SCHEMA_VERSION, clock_mono_ms() - started);
	return 0;
}

/*
 * Bring the schema up to date.  A store already at SCHEMA_VERSION (every
 * open but the first: each CGI request opens it) is left without taking
 * the write lock; versions only go up.  A step may rebuild a table others
 * refer to (4 -> 5, 5 -> 6): with foreign keys on, dropping it would delete their
 * rows, so the steps run with them off and are checked before the commit.
 */
static int migrate(struct conn *s, struct err *e)
{
	int rc;

	if (schema_version(s) == SCHEMA_VERSION)
		return 0;
	if (exec(s, "PRAGMA foreign_keys = OFF") < 0)
		return db_fail(s, e, "schema migration");
	rc = migrate_steps(s, e);
	if (exec(s, "PRAGMA foreign_keys = ON") < 0 && rc == 0)
		rc = db_fail(s, e, "schema migration");
	return rc;
}

/*
 * SQLite's own busy timeout sleeps 1, 2, 5, 10 ... 100 ms between tries;
 * a turn holds the write lock for well under a millisecond, so those
 * sleeps were the whole of the p99 (121 ms in make bench).  Poll in short
 * sleeps instead, up to the same total.
 */
static int busy_wait(void *ctx, int count)
{
	struct conn *s = ctx;
	long long now = clock_mono_ms();
	struct timespec pause = {0, 0};

	if (count == 0)
		s->busy_since = now;
	if (now - s->busy_since >= s->busy_limit_ms)
		return 0;
	pause.tv_nsec = (count < 20 ? 50 : count < 200 ? 200 : 1000) * 1000L;
	nanosleep(&pause, NULL);
	return 1;
}

/*
 * The connection's settings.  "PRAGMA journal_mode = WAL" can answer
 * SQLITE_BUSY at once, without the busy handler, while another process's
 * last connection is closing the database (it checkpoints and removes the
 * -wal file under an exclusive lock): seen with 8 processes opening and
 * closing one store.  Wait and try again, for as long as the busy timeout.
 */
static int set_up(struct conn *s)
{
	struct timespec pause = {0, 10 * 1000 * 1000};

	for (int waited = 0;; waited += 10) {
		if (exec(s, "PRAGMA journal_mode = WAL") == 0 &&
		    exec(s, "PRAGMA foreign_keys = ON") == 0 &&
		    exec(s, "PRAGMA synchronous = NORMAL") == 0 &&
		    exec(s, "PRAGMA journal_size_limit = " WAL_LIMIT_BYTES) == 0)
			return 0;
		if ((sqlite3_errcode(s->db) & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
			return -1;
		nanosleep(&pause, NULL);
	}
}

struct conn *conn_open(const char *path, bool migrate_now,
		       int (*wal_hook)(void *ctx, sqlite3 *db, const char *name, int pages),
		       void *hook_ctx, struct err *e)
{
	struct conn *s = calloc(1, sizeof *s);

	if (!s) {
		err_nomem(e);
		return NULL;
	}
	s->path = path;
	s->busy_limit_ms = BUSY_TIMEOUT_MS;
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		db_fail(s, e, "cannot open the database");
		goto fail;
	}
	/* SQLite quietly opens a file it cannot write read-only: refuse that,
	 * so the request fails now and a later one retries. */
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		log_error("session store %s: the file or its directory is read-only", path);
		err_set(e, 500, ERR_API, "Session store error: read-only.");
		goto fail;
	}
	sqlite3_busy_handler(s->db, busy_wait, s);
	if (set_up(s) < 0) {
		db_fail(s, e, "cannot set up the database");
		goto fail;
	}
	if (migrate_now && migrate(s, e) < 0)
		goto fail;
	if (wal_hook)
		sqlite3_wal_hook(s->db, wal_hook, hook_ctx);
	return s;
fail:
	conn_close(s);
	return NULL;
}

int conn_checkpoint(struct conn *c, int mode, int wait_ms, int *log, int *done)
{
	if (wait_ms > 0)
		c->busy_limit_ms = wait_ms;
	return sqlite3_wal_checkpoint_v2(c->db, NULL, mode, log, done);
}
