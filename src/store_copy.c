/*
 * store_copy.c - clawcgi store migrate: a SQLite store copied into a
 * PostgreSQL one (sessions, their messages, response ids), session by
 * session, each in one transaction on the PostgreSQL side; then the client
 * keys and the usage log, through store.h's ops (rate windows are not
 * copied: they last two minutes).
 *
 * The SQLite file is read here directly, read-only, with its own prepared
 * statements over store_sqlite.c's tables (the ops of store.h do not carry
 * run ids, timestamps and token counts); it may be in use while copied.
 * Rows already in the target are kept, so a copy run again (after an
 * interruption, or to pick up later turns) only adds what is missing: a
 * key whose name (or hash) is there is kept; usage rows, which have no key
 * of their own, are copied from after the latest row the target holds in
 * the file's time range.
 * Built with the PostgreSQL backend.
 */
#include "store_copy.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store_pg.h"

/* A session read from SQLite: its rows and the strings they point at. */
struct copy_session {
	struct store_import_session in;
	struct store_import_message *messages;
	struct store_import_response *responses;
	size_t cap_messages, cap_responses;
	char **strings; /* every string above, to free */
	size_t nstrings, cap_strings;
};

static const char *keep(struct copy_session *s, const unsigned char *text)
{
	char *copy;

	if (s->nstrings == s->cap_strings) {
		size_t cap = s->cap_strings ? 2 * s->cap_strings : 64;
		char **more = realloc(s->strings, cap * sizeof *more);
		if (!more)
			return NULL;
		s->strings = more;
		s->cap_strings = cap;
	}
	if (!(copy = strdup(text ? (const char *)text : "")))
		return NULL;
	s->strings[s->nstrings++] = copy;
	return copy;
}

static void session_reset(struct copy_session *s)
{
	for (size_t i = 0; i < s->nstrings; i++)
		free(s->strings[i]);
	s->nstrings = 0;
	s->in.nmessages = 0;
	s->in.nresponses = 0;
}

static void session_free(struct copy_session *s)
{
	session_reset(s);
	free(s->strings);
	free(s->messages);
	free(s->responses);
}

/* Grow *arr (of elem bytes, *cap of them) to hold one more than n. */
static int room_for(void **arr, size_t *cap, size_t n, size_t elem)
{
	void *more;

	if (n < *cap)
		return 0;
	if (!(more = realloc(*arr, (*cap ? 2 * *cap : 16) * elem)))
		return -1;
	*arr = more;
	*cap = *cap ? 2 * *cap : 16;
	return 0;
}

/* The file's schema version (store_sqlite.c's PRAGMA user_version). */
static int user_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The messages and responses of the session in s->in, read with msgs and
 * resps (bound here). */
static int read_rows(struct copy_session *s, sqlite3_stmt *msgs, sqlite3_stmt *resps)
{
	int rc;

	sqlite3_reset(msgs);
	sqlite3_bind_text(msgs, 1, s->in.agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(msgs, 2, s->in.session_key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(msgs)) == SQLITE_ROW) {
		struct store_import_message *m;
		if (room_for((void **)&s->messages, &s->cap_messages, s->in.nmessages, sizeof *m) <
		    0)
			return -1;
		m = &s->messages[s->in.nmessages++];
		m->seq = sqlite3_column_int64(msgs, 0);
		m->created = sqlite3_column_int64(msgs, 4);
		m->has_tokens = sqlite3_column_type(msgs, 5) != SQLITE_NULL;
		m->prompt_tokens = sqlite3_column_int64(msgs, 5);
		m->completion_tokens = sqlite3_column_int64(msgs, 6);
		m->interrupted = sqlite3_column_int(msgs, 7) != 0;
		if (!(m->role = keep(s, sqlite3_column_text(msgs, 1))) ||
		    !(m->message = keep(s, sqlite3_column_text(msgs, 2))) ||
		    !(m->run_id = keep(s, sqlite3_column_text(msgs, 3))))
			return -1;
	}
	if (rc != SQLITE_DONE)
		return -1;
	sqlite3_reset(resps);
	sqlite3_bind_text(resps, 1, s->in.agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(resps, 2, s->in.session_key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(resps)) == SQLITE_ROW) {
		struct store_import_response *r;
		if (room_for((void **)&s->responses, &s->cap_responses, s->in.nresponses,
			     sizeof *r) < 0)
			return -1;
		r = &s->responses[s->in.nresponses++];
		r->last_seq = sqlite3_column_int64(resps, 1);
		r->created = sqlite3_column_int64(resps, 2);
		if (!(r->id = keep(s, sqlite3_column_text(resps, 0))) ||
		    !(r->body = keep(s, sqlite3_column_text(resps, 3))))
			return -1;
	}
	s->in.messages = s->messages;
	s->in.responses = s->responses;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- client keys and the usage log (schema 4) ---- */

#define USAGE_BATCH 500

static int copy_keys(sqlite3 *db, struct store *to, long *read, long *added, struct err *e)
{
	static const char *const sql = "SELECT name, hash, agents, rpm, tpm, created, expires,"
				       " revoked, last_used FROM client_keys ORDER BY name";
	sqlite3_stmt *st = NULL;
	int rc = -1, step, put;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_key k;
		const unsigned char *text[3];
		for (int i = 0; i < 3; i++)
			text[i] = sqlite3_column_text(st, i);
		snprintf(k.name, sizeof k.name, "%s", text[0] ? (const char *)text[0] : "");
		snprintf(k.hash, sizeof k.hash, "%s", text[1] ? (const char *)text[1] : "");
		snprintf(k.agents, sizeof k.agents, "%s", text[2] ? (const char *)text[2] : "");
		k.rpm = (long)sqlite3_column_int64(st, 3);
		k.tpm = (long)sqlite3_column_int64(st, 4);
		k.created = sqlite3_column_int64(st, 5);
		k.expires = sqlite3_column_int64(st, 6);
		k.revoked = sqlite3_column_int64(st, 7);
		k.last_used = sqlite3_column_int64(st, 8);
		if ((put = store_key_put(to, &k, false, e)) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
		(*read)++;
		*added += put == 0;
	}
	rc = step == SQLITE_DONE ? 0 : -1;
out:
	sqlite3_finalize(st);
	return rc;
}

static int latest_row(void *ctx, const struct store_usage *row)
{
	long long *latest = ctx;
	if (row->time > *latest)
		*latest = row->time;
	return 0;
}

/* A text column kept in s, NULL kept NULL; -1 when out of memory. */
static int keep_opt(struct copy_session *s, sqlite3_stmt *st, int col, const char **out)
{
	const unsigned char *text = sqlite3_column_text(st, col);
	*out = text ? keep(s, text) : NULL;
	return text && !*out ? -1 : 0;
}

/* Usage rows after the latest the target holds in the file's time range,
 * oldest first, USAGE_BATCH to a transaction; s holds their strings.
 * version: the file's schema (usage.estimated from 7 on; before, none
 * was estimated). */
static int copy_usage(sqlite3 *db, struct copy_session *s, struct store *to, int version,
		      long *added, struct err *e)
{
	static const char *const sql_range = "SELECT min(time), max(time) FROM usage";
#define COPY_USAGE_SELECT(estimated)                                                               \
	"SELECT time, endpoint, agent_id, auth_kind, auth_name, session_key, model,"               \
	" status, prompt_tokens, completion_tokens, latency_ms, ttft_ms, interrupted, " estimated  \
	" FROM usage WHERE time > ?1 ORDER BY time, id"
	const char *sql = version >= 7 ? COPY_USAGE_SELECT("estimated") : COPY_USAGE_SELECT("0");
#undef COPY_USAGE_SELECT
	struct store_usage batch[USAGE_BATCH];
	long long first, last, latest;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc = -1, step;

	if (sqlite3_prepare_v2(db, sql_range, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		rc = 0; /* no usage rows */
		goto out;
	}
	first = sqlite3_column_int64(st, 0);
	last = sqlite3_column_int64(st, 1);
	latest = first - 1;
	sqlite3_finalize(st);
	st = NULL;
	if (store_usage_scan(to, first, last + 1, latest_row, &latest, e) < 0)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, latest);
	session_reset(s);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_usage *u = &batch[n++];
		u->time = sqlite3_column_int64(st, 0);
		u->status = sqlite3_column_int(st, 7);
		u->prompt_tokens = (long)sqlite3_column_int64(st, 8);
		u->completion_tokens = (long)sqlite3_column_int64(st, 9);
		u->latency_ms = sqlite3_column_double(st, 10);
		u->ttft_ms = sqlite3_column_type(st, 11) == SQLITE_NULL
				     ? -1
				     : sqlite3_column_double(st, 11);
		u->interrupted = sqlite3_column_int(st, 12) != 0;
		u->estimated = sqlite3_column_int(st, 13) != 0;
		if (keep_opt(s, st, 1, &u->endpoint) < 0 || keep_opt(s, st, 2, &u->agent_id) < 0 ||
		    keep_opt(s, st, 3, &u->auth_kind) < 0 ||
		    keep_opt(s, st, 4, &u->auth_name) < 0 ||
		    keep_opt(s, st, 5, &u->session_key) < 0 || keep_opt(s, st, 6, &u->model) < 0)
			goto out;
		if (n == USAGE_BATCH) {
			if (store_usage_add(to, batch, n, e) < 0) {
				sqlite3_finalize(st);
				return -1;
			}
			*added += (long)n;
			n = 0;
			session_reset(s);
		}
	}
	if (step != SQLITE_DONE)
		goto out;
	if (n && store_usage_add(to, batch, n, e) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	*added += (long)n;
	rc = 0;
out:
	sqlite3_finalize(st);
	session_reset(s);
	return rc;
}

int store_copy_from_sqlite(const char *sqlite_path, struct store *to, struct store_copy_counts *n,
			   struct err *e)
{
	static const char *const sql_sessions =
		"SELECT agent_id, session_key, created_at, last_used FROM sessions"
		" ORDER BY agent_id, session_key";
	static const char *const sql_messages =
		"SELECT seq, role, message, run_id, created_at, prompt_tokens, completion_tokens,"
		" interrupted FROM messages WHERE agent_id = ?1 AND session_key = ?2 ORDER BY seq";
	static const char *const sql_responses =
		"SELECT id, last_seq, created_at, body FROM responses"
		" WHERE agent_id = ?1 AND session_key = ?2 ORDER BY id";
	sqlite3 *db = NULL;
	sqlite3_stmt *sessions = NULL, *msgs = NULL, *resps = NULL;
	struct copy_session s;
	int rc = -1, step, version;

	memset(n, 0, sizeof *n);
	memset(&s, 0, sizeof s);
	if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		err_set(e, 500, ERR_API, "cannot open %s: %s", sqlite_path,
			db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, 15000);
	if (sqlite3_prepare_v2(db, sql_sessions, -1, &sessions, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql_messages, -1, &msgs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql_responses, -1, &resps, NULL) != SQLITE_OK) {
		err_set(e, 500, ERR_API, "%s is not a clawcgi session store: %s", sqlite_path,
			sqlite3_errmsg(db));
		goto out;
	}
	while ((step = sqlite3_step(sessions)) == SQLITE_ROW) {
		struct store_import_counts added;
		session_reset(&s);
		s.in.created = sqlite3_column_int64(sessions, 2);
		s.in.last_used = sqlite3_column_int64(sessions, 3);
		if (!(s.in.agent_id = keep(&s, sqlite3_column_text(sessions, 0))) ||
		    !(s.in.session_key = keep(&s, sqlite3_column_text(sessions, 1))) ||
		    read_rows(&s, msgs, resps) < 0) {
			err_set(e, 500, ERR_API, "reading %s: %s", sqlite_path, sqlite3_errmsg(db));
			goto out;
		}
		if (store_pg_import_session(to, &s.in, &added, e) < 0)
			goto out;
		n->read.sessions++;
		n->read.messages += (long)s.in.nmessages;
		n->read.responses += (long)s.in.nresponses;
		n->added.sessions += added.sessions;
		n->added.messages += added.messages;
		n->added.responses += added.responses;
	}
	if (step != SQLITE_DONE) {
		err_set(e, 500, ERR_API, "reading %s: %s", sqlite_path, sqlite3_errmsg(db));
		goto out;
	}
	if ((version = user_version(db)) >= 4) {
		err_clear(e);
		if (copy_keys(db, to, &n->keys, &n->keys_added, e) < 0 ||
		    copy_usage(db, &s, to, version, &n->usage_added, e) < 0) {
			if (!e->message[0])
				err_set(e, 500, ERR_API, "reading %s: %s", sqlite_path,
					sqlite3_errmsg(db));
			goto out;
		}
	}
	rc = 0;
out:
	session_free(&s);
	sqlite3_finalize(sessions);
	sqlite3_finalize(msgs);
	sqlite3_finalize(resps);
	sqlite3_close(db);
	return rc;
}
