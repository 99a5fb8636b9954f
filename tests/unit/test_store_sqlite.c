/* Unit tests for src/store_sqlite.c, the SQLite store. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "store.h"

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/* A turn of key; with response_id, the answer is also kept as a response
 * {"id": response_id, "text": answer}. */
static int append_response(struct store *s, const char *agent, const char *key, const char *user,
			   const char *answer, const char *response_id)
{
	char json[256];
	struct err e;
	cJSON *m, *reply;
	int rc;
	snprintf(json, sizeof json, "[{\"role\":\"user\",\"content\":\"%s\"}]", user);
	m = cJSON_Parse(json);
	reply = cJSON_CreateObject();
	cJSON_AddStringToObject(reply, "role", "assistant");
	cJSON_AddStringToObject(reply, "content", answer);
	cJSON *resp = cJSON_CreateObject();
	cJSON_AddStringToObject(resp, "id", response_id ? response_id : "");
	cJSON_AddStringToObject(resp, "text", answer);
	struct store_turn t = {
		.session_key = key,
		.agent_id = agent,
		.run_id = "run-1",
		.new_messages = m,
		.answer = reply,
		.prompt_tokens = 3,
		.completion_tokens = 4,
		.ttl_days = 30,
		.response_id = response_id,
		.response = response_id ? resp : NULL,
	};
	rc = store_append_turn(s, &t, &e);
	cJSON_Delete(m);
	cJSON_Delete(reply);
	cJSON_Delete(resp);
	return rc;
}

static int append(struct store *s, const char *agent, const char *key, const char *user,
		  const char *answer)
{
	return append_response(s, agent, key, user, answer, NULL);
}

static char *history_text(struct store *s, const char *agent, const char *key, int limit)
{
	cJSON *h = NULL, *m;
	struct err e;
	struct buf out = BUF_INIT;
	if (store_load_history(s, agent, key, limit, &h, &e) < 0)
		return strdup("(error)");
	buf_append(&out, "", 0);
	cJSON_ArrayForEach(m, h) {
		buf_printf(&out, "%s%s:%s", out.len ? "|" : "",
			   cJSON_GetObjectItem(m, "role")->valuestring,
			   cJSON_GetObjectItem(m, "content")->valuestring);
	}
	cJSON_Delete(h);
	return buf_detach(&out);
}

/* A turn that cannot be stored (no answer: out of memory), to key. */
static int append_broken(struct store *s, const char *key)
{
	cJSON *m = cJSON_Parse("[{\"role\":\"user\",\"content\":\"lost\"}]");
	struct err e;
	struct store_turn t = {
		.session_key = key, .agent_id = "main", .run_id = "run-x", .new_messages = m};
	int rc = store_append_turn(s, &t, &e);
	cJSON_Delete(m);
	return rc == -1 && e.status == 500 ? 0 : -1;
}

/* Threads sharing one store, more than its pool holds: each appends
 * turns to a session of its own and to one they all share, loading the
 * shared history before each turn as a chat request does.  Their turns
 * meet in group commits, and every third thread also sends a turn that
 * fails in between, which must fail alone. */
#define SHARERS 12
#define SHARED_TURNS 25

struct sharer {
	pthread_t thread;
	struct store *s;
	int id;
	int failures;
};

static void *share_main(void *arg)
{
	struct sharer *sh = arg;
	char key[32], text[32];

	snprintf(key, sizeof key, "own-%d", sh->id);
	for (int i = 0; i < SHARED_TURNS; i++) {
		cJSON *h = NULL;
		struct err e;

		if (store_load_history(sh->s, "main", "shared", 40, &h, &e) < 0)
			sh->failures++;
		cJSON_Delete(h);
		snprintf(text, sizeof text, "%d-%d", sh->id, i);
		if (append(sh->s, "main", key, text, text) < 0 ||
		    (sh->id % 3 == 0 && append_broken(sh->s, "shared") < 0) ||
		    append(sh->s, "main", "shared", text, text) < 0)
			sh->failures++;
	}
	return NULL;
}

static void check_shared_store(const char *path)
{
	struct sharer sh[SHARERS];
	struct store *s;
	struct err e;
	int failures = 0, whole = 1;

	CHECK(store_open_sqlite(path, &s, &e) == 0, "open a store to share");
	for (int i = 0; i < SHARERS; i++) {
		sh[i] = (struct sharer){.s = s, .id = i};
		pthread_create(&sh[i].thread, NULL, share_main, &sh[i]);
	}
	for (int i = 0; i < SHARERS; i++) {
		pthread_join(sh[i].thread, NULL);
		failures += sh[i].failures;
	}
	CHECK(failures == 0, "12 threads on one store (a pool of 4): every call succeeds, and "
			     "each turn that cannot be stored fails with a 500");
	for (int i = 0; i < SHARERS; i++) {
		char key[32], want[64];
		cJSON *h = NULL;

		snprintf(key, sizeof key, "own-%d", i);
		store_load_history(s, "main", key, 1000, &h, &e);
		snprintf(want, sizeof want, "%d-%d", i, SHARED_TURNS - 1);
		if (cJSON_GetArraySize(h) != 2 * SHARED_TURNS ||
		    strcmp(cJSON_GetArrayItem(h, 2 * SHARED_TURNS - 1)->child->next->valuestring,
			   want))
			whole = 0;
		cJSON_Delete(h);
	}
	CHECK(whole, "each thread's own session holds its turns, in order");
	{
		cJSON *h = NULL;
		store_load_history(s, "main", "shared", 100000, &h, &e);
		int pairs = 1, n = cJSON_GetArraySize(h);
		CHECK(n == 2 * SHARERS * SHARED_TURNS,
		      "the shared session holds every turn of every thread");
		for (int i = 0; i + 1 < n; i += 2) {
			const char *u = cJSON_GetArrayItem(h, i)->child->next->valuestring;
			const char *a = cJSON_GetArrayItem(h, i + 1)->child->next->valuestring;
			if (strcmp(u, a) != 0 || strcmp(u, "lost") == 0)
				pairs = 0;
		}
		CHECK(pairs, "each turn whole (its question, then its answer), none of the failed");
		cJSON_Delete(h);
	}
	store_close(s);
}

/* A reader that never pauses, while check_wal_bounded writes. */
struct reader {
	pthread_t thread;
	struct store *s;
	volatile int stop;
	volatile long loads;
};

static void *read_main(void *arg)
{
	struct reader *r = arg;

	while (!r->stop) {
		cJSON *h = NULL;
		struct err e;
		if (store_load_history(r->s, "main", "big", 40, &h, &e) == 0)
			r->loads++;
		cJSON_Delete(h);
	}
	return NULL;
}

/* 4,000 turns of 6 KiB (about 55 MB through the WAL) while two readers
 * never stop: the checkpointer keeps the WAL near its restart size
 * (16 MiB; a failed restart is tried again 4 MiB later, waiting twice
 * as long, so 40 MB means five failed in a row). */
static void check_wal_bounded(const char *path)
{
	struct reader r[2];
	struct store *s;
	struct err e;
	struct stat st;
	char wal[300], *text = malloc(6144);
	int failures = 0;

	memset(text, 'w', 6143);
	text[6143] = '\0';
	CHECK(store_open_sqlite(path, &s, &e) == 0, "open a store for the WAL check");
	for (int i = 0; i < 2; i++) {
		r[i] = (struct reader){.s = s};
		pthread_create(&r[i].thread, NULL, read_main, &r[i]);
	}
	/* both reading before the first write (valgrind runs one thread at a
	 * time and may not have started them yet) */
	for (int w = 0; w < 2000 && (!r[0].loads || !r[1].loads); w++)
		usleep(10000);
	for (int i = 0; i < 4000; i++)
		if (append(s, "main", "big", "q", text) < 0)
			failures++;
	for (int i = 0; i < 2; i++) {
		r[i].stop = 1;
		pthread_join(r[i].thread, NULL);
	}
	snprintf(wal, sizeof wal, "%s-wal", path);
	CHECK(failures == 0 && r[0].loads > 0 && r[1].loads > 0,
	      "4,000 big turns stored while two readers kept reading");
	if (getenv("CLAWCGI_WRAPPER") && *getenv("CLAWCGI_WRAPPER")) {
		/* tests/run sets it when the program runs under valgrind */
		printf("ok - the WAL stays under 40 MB though readers never stop # SKIP under a "
		       "wrapper: valgrind runs one thread at a time, and the checkpointer rarely "
		       "finds the readers out\n");
	} else {
		CHECK(stat(wal, &st) < 0 || st.st_size < 40 * 1000 * 1000,
		      "the WAL stays under 40 MB (restarted past 16 MiB) though readers never "
		      "stop");
	}
	store_close(s);
	free(text);
}

/* Responses kept with their turns: found by id, latest until another turn
 * follows, branched, forgotten, and gone with their session. */
static void check_responses(const char *path)
{
	struct store *s;
	struct store_response r;
	struct err e;
	long n = -1;
	char *h;

	CHECK(store_open_sqlite(path, &s, &e) == 0, "open a store for responses");
	CHECK(append_response(s, "main", "conv", "q1", "a1", "resp_1") == 0 &&
		      append_response(s, "main", "conv", "q2", "a2", "resp_2") == 0,
	      "two turns kept with their responses");
	CHECK(store_get_response(s, "resp_1", &r, &e) == 0 && !strcmp(r.agent_id, "main") &&
		      !strcmp(r.session_key, "conv") && r.last_seq == 2 && !r.latest &&
		      !strcmp(cJSON_GetObjectItem(r.body, "text")->valuestring, "a1"),
	      "the first response: its session, its answer's seq, not the latest");
	cJSON_Delete(r.body);
	CHECK(store_get_response(s, "resp_2", &r, &e) == 0 && r.last_seq == 4 && r.latest,
	      "the second response is the latest of its session");
	cJSON_Delete(r.body);
	CHECK_INT(store_get_response(s, "resp_none", &r, &e), 1, "an unknown id: 1");
	CHECK(store_fork(s, "main", "conv", 2, "branch", &e) == 0, "branch after the first turn");
	h = history_text(s, "main", "branch", 40);
	CHECK_STR(h, "user:q1|assistant:a1", "the branch holds the first turn only");
	free(h);
	h = history_text(s, "main", "conv", 40);
	CHECK_STR(h, "user:q1|assistant:a1|user:q2|assistant:a2", "the original is untouched");
	free(h);
	CHECK(store_fork(s, "main", "conv", 2, "branch", &e) < 0 && e.status == 500,
	      "a branch over an existing session fails");
	CHECK(store_delete_response(s, "resp_1", &n, &e) == 0 && n == 1, "delete a response");
	CHECK_INT(store_get_response(s, "resp_1", &r, &e), 1, "it is gone");
	h = history_text(s, "main", "conv", 40);
	CHECK_STR(h, "user:q1|assistant:a1|user:q2|assistant:a2", "its turn stays");
	free(h);
	CHECK(store_delete_response(s, "resp_1", &n, &e) == 0 && n == 0, "delete it again: 0");
	CHECK(store_remove(s, "conv", &n, &e) == 0 && n == 1, "remove the session");
	CHECK_INT(store_get_response(s, "resp_2", &r, &e), 1, "its responses go with it");
	store_close(s);
}

int main(void)
{
	char dir[] = "/tmp/clawcgi-store-XXXXXX";
	char path[256], old[256];
	struct store *s;
	struct err e;
	char *h;

	CHECK(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof path, "%s/a/b/s.db", dir);
	CHECK(store_open_sqlite(path, &s, &e) == 0, "open creates the file and its directories");
	CHECK_INT(user_version(path), 3, "a new file is at the current schema version");

	CHECK(append(s, "main", "k1", "u1", "a1") == 0 &&
		      append(s, "main", "k1", "u2", "a2") == 0 &&
		      append(s, "main", "k1", "u3", "a3") == 0,
	      "three turns appended");
	h = history_text(s, "main", "k1", 40);
	CHECK_STR(h, "user:u1|assistant:a1|user:u2|assistant:a2|user:u3|assistant:a3",
		  "history in order");
	free(h);
	h = history_text(s, "main", "k1", 3);
	CHECK_STR(h, "assistant:a2|user:u3|assistant:a3",
		  "history limit keeps the last, oldest first");
	free(h);
	h = history_text(s, "beta", "k1", 40);
	CHECK_STR(h, "", "another agent with the same key has no history");
	free(h);
	h = history_text(s, "main", "k1", 0);
	CHECK_STR(h, "", "historyLimit 0 loads nothing");
	free(h);
	{
		long n = -1;
		CHECK(store_remove(s, "k1", &n, &e) == 0 && n == 1, "remove an existing session");
		h = history_text(s, "main", "k1", 40);
		CHECK_STR(h, "", "its messages are gone (cascade)");
		free(h);
		CHECK(store_remove(s, "k1", &n, &e) == 0 && n == 0, "remove an unknown session: 0");
	}
	{
		/* ttlDays: a turn expires sessions idle longer (at most every 10 min) */
		sqlite3 *db;
		char *h2;
		CHECK(append(s, "main", "idle", "old", "x") == 0, "a session to age");
		sqlite3_open(path, &db);
		sqlite3_exec(db,
			     "UPDATE sessions SET last_used = last_used - 31 * 86400 WHERE "
			     "session_key = 'idle'",
			     NULL, NULL, NULL);
		sqlite3_close(db);
		store_close(s); /* a new connection runs its first expiry at once */
		CHECK(store_open_sqlite(path, &s, &e) == 0, "reopen");
		CHECK(append(s, "main", "fresh", "new", "y") == 0, "another turn");
		h2 = history_text(s, "main", "idle", 40);
		CHECK_STR(h2, "", "the turn expired the session idle for more than ttlDays");
		free(h2);
		h2 = history_text(s, "main", "fresh", 40);
		CHECK_STR(h2, "user:new|assistant:y", "the active session stays");
		free(h2);
	}
	store_close(s);

	snprintf(old, sizeof old, "%s/shared.db", dir);
	check_shared_store(old);
	snprintf(old, sizeof old, "%s/wal.db", dir);
	check_wal_bounded(old);
	snprintf(old, sizeof old, "%s/responses.db", dir);
	check_responses(old);

	/* migration from version 1 (sessions and messages, no auth table) */
	snprintf(old, sizeof old, "%s/v1.db", dir);
	{
		sqlite3 *db;
		sqlite3_open(old, &db);
		sqlite3_exec(
			db,
			"CREATE TABLE sessions (agent_id TEXT NOT NULL, session_key TEXT NOT NULL,"
			" created_at INTEGER NOT NULL, last_used INTEGER NOT NULL,"
			" PRIMARY KEY (agent_id, session_key));"
			"CREATE INDEX sessions_last_used ON sessions (last_used);"
			"CREATE INDEX sessions_key ON sessions (session_key);"
			"CREATE TABLE messages (agent_id TEXT NOT NULL, session_key TEXT NOT NULL,"
			" seq INTEGER NOT NULL, role TEXT NOT NULL, message TEXT NOT NULL, run_id "
			"TEXT NOT NULL,"
			" created_at INTEGER NOT NULL, prompt_tokens INTEGER, completion_tokens "
			"INTEGER,"
			" interrupted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (agent_id, "
			"session_key, seq),"
			" FOREIGN KEY (agent_id, session_key) REFERENCES sessions (agent_id, "
			"session_key) ON DELETE CASCADE);"
			"INSERT INTO sessions VALUES ('main', 'old', 1, 1);"
			"INSERT INTO messages VALUES ('main', 'old', 1, 'user', "
			"'{\"role\":\"user\",\"content\":\"kept\"}', 'r', 1, NULL, NULL, 0);"
			"PRAGMA user_version = 1;",
			NULL, NULL, NULL);
		sqlite3_close(db);
	}
	CHECK(store_open_sqlite(old, &s, &e) == 0, "a version 1 file opens");
	CHECK_INT(user_version(old), 3, "and is migrated to version 3");
	h = history_text(s, "main", "old", 40);
	CHECK_STR(h, "user:kept", "its data survives the migration");
	free(h);
	store_close(s);
	CHECK(store_open_sqlite(old, &s, &e) == 0, "opening again changes nothing");
	store_close(s);
	{
		sqlite3 *db;
		sqlite3_open(old, &db);
		sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
		sqlite3_close(db);
		CHECK(store_open_sqlite(old, &s, &e) < 0 && e.status == 500,
		      "a newer schema is refused");
	}
	{
		char ro[256];
		snprintf(ro, sizeof ro, "/proc/no-such-dir/s.db");
		CHECK(store_open_sqlite(ro, &s, &e) < 0 && e.status == 500 &&
			      strstr(e.message, "/proc") == NULL,
		      "an unusable path: 500 without the path in the message");
	}
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return check_done();
}
