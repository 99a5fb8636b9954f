/*
 * Unit tests for src/store_pg.c, the PostgreSQL store, and src/store_copy.c
 * (clawcgi store migrate), against the server CLAWCGI_PG_ADMIN_URL names
 * (tests/run starts one; a superuser's URL): each run makes a database of
 * its own, and drops it at the end.  Without that variable the checks are
 * skipped, unless CI is set.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "check.h"
#include "log.h"
#include "store.h"
#include "store_copy.h"

static char admin_url[1024], db_name[64], store_url[1200];

/* The admin URL with another database. */
static void url_for(const char *db, char *out, size_t n)
{
	const char *slash = strrchr(admin_url, '/');
	snprintf(out, n, "%.*s/%s", (int)(slash - admin_url), admin_url, db);
}

/* sql on the admin connection (no parameters: fixed test text). */
static int admin(const char *sql)
{
	PGconn *db = PQconnectdb(admin_url);
	PGresult *r = PQexec(db, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "# %s: %s", sql, PQerrorMessage(db));
	PQclear(r);
	PQfinish(db);
	return ok ? 0 : -1;
}

/* The first value of sql on the test's database, as a number. */
static long long value(const char *sql)
{
	PGconn *db = PQconnectdb(store_url);
	PGresult *r = PQexec(db, sql);
	long long v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		fprintf(stderr, "# %s: %s", sql, PQerrorMessage(db));
	PQclear(r);
	PQfinish(db);
	return v;
}

static int append_response(struct store *s, const char *agent, const char *key, const char *user,
			   const char *answer, const char *response_id)
{
	char json[256];
	struct err e;
	cJSON *m, *reply, *resp;
	int rc;

	snprintf(json, sizeof json, "[{\"role\":\"user\",\"content\":\"%s\"}]", user);
	m = cJSON_Parse(json);
	reply = cJSON_CreateObject();
	cJSON_AddStringToObject(reply, "role", "assistant");
	cJSON_AddStringToObject(reply, "content", answer);
	resp = cJSON_CreateObject();
	cJSON_AddStringToObject(resp, "id", response_id ? response_id : "");
	cJSON_AddStringToObject(resp, "text", answer);
	struct store_turn t = {
		.session_key = key,
		.agent_id = agent,
		.run_id = user,
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

static int count_row(void *ctx, const struct store_session *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

static int show_row(void *ctx, const char *agent_id, long seq, const cJSON *msg, bool interrupted)
{
	(void)agent_id;
	(void)seq;
	(void)msg;
	(void)interrupted;
	(*(int *)ctx)++;
	return 0;
}

/* Every log line, to find a password in. */
static struct buf logged = BUF_INIT;
static pthread_mutex_t logged_lock = PTHREAD_MUTEX_INITIALIZER;

static int capture(void *ctx, const char *line, size_t n)
{
	(void)ctx;
	pthread_mutex_lock(&logged_lock);
	buf_append(&logged, line, n);
	pthread_mutex_unlock(&logged_lock);
	return 0;
}

static void check_basics(void)
{
	struct store *s = NULL;
	struct store_response r;
	struct err e;
	long n;
	int rows = 0;
	long long retry;
	char *h;

	CHECK(store_open(store_url, &s, &e) == 0, "opens and migrates a new database");
	if (!s)
		return;
	CHECK_INT(value("SELECT max(version) FROM clawcgi_schema"), 1, "schema version 1");
	CHECK(append(s, "main", "k1", "hello", "hi there") == 0, "a turn is stored");
	CHECK(append(s, "main", "k1", "again", "hi again") == 0, "a second turn");
	h = history_text(s, "main", "k1", 40);
	CHECK_STR(h, "user:hello|assistant:hi there|user:again|assistant:hi again",
		  "the history in order");
	free(h);
	h = history_text(s, "main", "k1", 2);
	CHECK_STR(h, "user:again|assistant:hi again", "the last limit messages");
	free(h);
	h = history_text(s, "beta", "k1", 40);
	CHECK_STR(h, "", "another agent's session is another");
	free(h);
	CHECK_INT(value("SELECT prompt_tokens FROM messages WHERE seq = 2"), 3,
		  "the answer's token counts");
	CHECK_INT(value("SELECT count(*) FROM messages WHERE prompt_tokens IS NULL"), 2,
		  "none on the request's messages");
	CHECK(store_list(s, NULL, count_row, &rows, &e) == 0 && rows == 1, "list");
	rows = 0;
	CHECK(store_list(s, "beta", count_row, &rows, &e) == 0 && rows == 0, "list by agent");
	rows = 0;
	CHECK(store_show(s, "k1", show_row, &rows, &n, &e) == 0 && rows == 4 && n == 4, "show");

	/* responses and branches */
	CHECK(append_response(s, "main", "conv", "q1", "a1", "resp_1") == 0 &&
		      append_response(s, "main", "conv", "q2", "a2", "resp_2") == 0,
	      "turns with responses");
	CHECK(store_get_response(s, "resp_1", &r, &e) == 0 && r.last_seq == 2 && !r.latest &&
		      !strcmp(r.session_key, "conv") &&
		      !strcmp(cJSON_GetObjectItem(r.body, "text")->valuestring, "a1"),
	      "a response: its turn, not the latest");
	cJSON_Delete(r.body);
	CHECK(store_get_response(s, "resp_2", &r, &e) == 0 && r.last_seq == 4 && r.latest,
	      "the latest response");
	cJSON_Delete(r.body);
	CHECK_INT(store_get_response(s, "resp_none", &r, &e), 1, "an unknown id: 1");
	CHECK(store_fork(s, "main", "conv", 2, "branch", &e) == 0, "a branch after the first turn");
	h = history_text(s, "main", "branch", 40);
	CHECK_STR(h, "user:q1|assistant:a1", "the branch holds the first turn");
	free(h);
	CHECK(store_fork(s, "main", "conv", 2, "branch", &e) < 0 && e.status == 500,
	      "a branch that exists: 500");
	CHECK(store_delete_response(s, "resp_1", &n, &e) == 0 && n == 1, "delete a response");
	CHECK_INT(store_get_response(s, "resp_1", &r, &e), 1, "it is gone");
	CHECK(store_remove(s, "conv", &n, &e) == 0 && n == 1, "delete a session");
	CHECK_INT(store_get_response(s, "resp_2", &r, &e), 1, "its responses go with it");
	CHECK(store_remove(s, "conv", &n, &e) == 0 && n == 0, "deleting it again: none");

	/* purge */
	CHECK(admin("SELECT 1") == 0, "the admin connection works");
	CHECK_INT(value("SELECT count(*) FROM sessions"), 2, "two sessions before the purge");
	{
		PGconn *db = PQconnectdb(store_url);
		PQclear(PQexec(db, "UPDATE sessions SET last_used = last_used - 40 * 86400"
				   " WHERE session_key = 'branch'"));
		PQfinish(db);
	}
	CHECK(store_purge(s, 30, &n, &e) == 0 && n == 1, "purge removes the idle session only");
	CHECK_INT(value("SELECT count(*) FROM messages WHERE session_key = 'branch'"), 0,
		  "its messages too");

	/* throttle */
	retry = -1;
	for (int i = 0; i < 4; i++)
		store_auth_failed(s, "10.0.0.1", 1000000 + i, 5, 60000, 30000, &retry, &e);
	CHECK(retry == 0, "4 failures of 5: not locked");
	CHECK(store_auth_failed(s, "10.0.0.1", 1000010, 5, 60000, 30000, &retry, &e) == 0 &&
		      retry == 30000,
	      "the 5th locks for lockout_ms");
	CHECK(store_auth_locked(s, "10.0.0.1", 1010010, &retry, &e) == 0 && retry == 20000,
	      "locked: the time left");
	CHECK(store_auth_locked(s, "10.0.0.2", 1010010, &retry, &e) == 0 && retry == 0,
	      "another address is not");
	CHECK(store_auth_failed(s, "10.0.0.3", 9000000, 5, 60000, 30000, &retry, &e) == 0 &&
		      value("SELECT count(*) FROM auth_failures") == 1,
	      "rows whose window and lockout are over are pruned");
	store_close(s);
}

/* Two "hosts": stores of their own on one database, threads of each
 * appending turns to one shared session at once. */
#define HOSTS 2
#define THREADS 4
#define TURNS 50

struct writer {
	pthread_t thread;
	struct store *s;
	int id;
	int failures;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char text[32];

	for (int i = 0; i < TURNS; i++) {
		cJSON *h = NULL;
		struct err e;
		if (store_load_history(w->s, "main", "shared", 10, &h, &e) < 0)
			w->failures++;
		cJSON_Delete(h);
		snprintf(text, sizeof text, "w%d-%d", w->id, i);
		if (append(w->s, "main", "shared", text, text) < 0)
			w->failures++;
	}
	return NULL;
}

static void check_concurrent_turns(void)
{
	struct store *hosts[HOSTS] = {NULL};
	struct writer w[HOSTS * THREADS];
	struct err e;
	int failures = 0, total = HOSTS * THREADS * TURNS;

	for (int h = 0; h < HOSTS; h++)
		if (store_open(store_url, &hosts[h], &e) < 0)
			return (void)CHECK(0, "the hosts' stores open");
	for (int i = 0; i < HOSTS * THREADS; i++) {
		w[i] = (struct writer){.s = hosts[i % HOSTS], .id = i};
		pthread_create(&w[i].thread, NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < HOSTS * THREADS; i++) {
		pthread_join(w[i].thread, NULL);
		failures += w[i].failures;
	}
	CHECK_INT(failures, 0, "2 hosts x 4 threads x 50 turns on one session: no failure");
	CHECK_INT(value("SELECT count(*) FROM messages WHERE session_key = 'shared'"), 2 * total,
		  "every message stored");
	CHECK_INT(value("SELECT max(seq) FROM messages WHERE session_key = 'shared'"), 2 * total,
		  "sequence numbers without gaps");
	CHECK_INT(value("SELECT count(*) FROM messages u JOIN messages a ON a.session_key ="
			" u.session_key AND a.seq = u.seq + 1 AND a.run_id = u.run_id"
			" WHERE u.session_key = 'shared' AND u.role = 'user'"
			" AND a.role = 'assistant'"),
		  total, "each turn whole: its question, then its answer, nothing between");
	for (int h = 0; h < HOSTS; h++)
		store_close(hosts[h]);
}

/* Processes starting at once on a new database: the schema is made once. */
#define OPENERS 8

struct opener {
	pthread_t thread;
	const char *url;
	int rc;
};

static void *opener_main(void *arg)
{
	struct opener *o = arg;
	struct store *s = NULL;
	struct err e;

	o->rc = store_open(o->url, &s, &e);
	store_close(s);
	return NULL;
}

static void check_migration_race(void)
{
	char url[1200], race[80], sql[160];
	struct opener o[OPENERS];
	int ok = 0;
	PGconn *db;
	PGresult *r;

	snprintf(race, sizeof race, "%s_race", db_name);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", race);
	if (admin(sql) < 0)
		return (void)CHECK(0, "a second database");
	url_for(race, url, sizeof url);
	for (int i = 0; i < OPENERS; i++) {
		o[i] = (struct opener){.url = url};
		pthread_create(&o[i].thread, NULL, opener_main, &o[i]);
	}
	for (int i = 0; i < OPENERS; i++) {
		pthread_join(o[i].thread, NULL);
		ok += o[i].rc == 0;
	}
	CHECK_INT(ok, OPENERS, "8 stores opening a new database at once all open");
	db = PQconnectdb(url);
	r = PQexec(db, "SELECT count(*), max(version) FROM clawcgi_schema");
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "1") &&
		      !strcmp(PQgetvalue(r, 0, 1), "1"),
	      "each migration ran once");
	PQclear(r);
	PQfinish(db);
	snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", race);
	admin(sql);
}

/* The server ends the store's connections: the next call connects again. */
static void check_reconnect(void)
{
	struct store *s = NULL;
	struct err e;
	char *h, kill_sql[300];

	snprintf(kill_sql, sizeof kill_sql,
		 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name"
		 " = 'clawcgi' AND datname = '%s'",
		 db_name);
	if (store_open(store_url, &s, &e) < 0)
		return (void)CHECK(0, "the store opens");
	CHECK(append(s, "main", "rc", "before", "before") == 0, "a turn before");
	CHECK(admin(kill_sql) == 0, "pg_terminate_backend of the store's connections");
	usleep(100 * 1000);
	CHECK(append(s, "main", "rc", "after", "after") == 0,
	      "the next turn reconnects and is stored");
	h = history_text(s, "main", "rc", 40);
	CHECK_STR(h, "user:before|assistant:before|user:after|assistant:after",
		  "history whole after the reconnect");
	free(h);
	admin(kill_sql);
	usleep(100 * 1000);
	h = history_text(s, "main", "rc", 40);
	CHECK(strcmp(h, "(error)") != 0, "a read after the connection dropped reconnects too");
	free(h);
	store_close(s);
}

/* A wrong password: an error, and the password in no message or log. */
static void check_secrets(void)
{
	char url[1400];
	const char *at = strchr(store_url, '@');
	struct store *s = NULL;
	struct err e;
	char msg[600];

	/* the role's user:password, with a made-up wrong password */
	snprintf(url, sizeof url, "postgresql://claw_admin:Wr0ng-test-pw%s", at ? at : "");
	log_set_sink(capture, NULL);
	CHECK(store_open(url, &s, &e) < 0 && e.status == 500, "a wrong password: 500");
	CHECK(!strstr(e.message, "Wr0ng-test-pw"), "the error does not hold the password");
	CHECK(store_probe(url, msg, sizeof msg) < 0 && strstr(msg, "cannot connect") &&
		      !strstr(msg, "Wr0ng-test-pw"),
	      "store_probe says it cannot connect, without the password");
	log_set_sink(NULL, NULL);
	CHECK(logged.len > 0 && !strstr(buf_str(&logged), "Wr0ng-test-pw") &&
		      strstr(buf_str(&logged), "******"),
	      "the log names the store masked");
	CHECK(store_probe(store_url, msg, sizeof msg) == 0 && strstr(msg, "connects"),
	      "store_probe of the right string connects");
	store_close(s);
}

/* clawcgi store migrate: a SQLite store copied, twice. */
static void check_copy(void)
{
	char path[] = "/tmp/claw-copy-XXXXXX";
	char file[64];
	struct store *sq = NULL, *pg = NULL;
	struct store_copy_counts n;
	struct store_response r;
	struct err e;
	char *h;
	int fd = mkstemp(path);

	if (fd >= 0)
		close(fd);
	unlink(path);
	snprintf(file, sizeof file, "%s.db", path);
	if (store_open_sqlite(file, &sq, &e) < 0 || store_open(store_url, &pg, &e) < 0)
		return (void)CHECK(0, "both stores open");
	append(sq, "main", "copied", "one", "uno");
	append_response(sq, "main", "copied", "two", "dos", "resp_copied");
	append(sq, "beta", "other", "x", "y");
	CHECK(store_copy_from_sqlite(file, pg, &n, &e) == 0, "the copy runs");
	CHECK(n.read.sessions == 2 && n.read.messages == 6 && n.read.responses == 1 &&
		      n.added.sessions == 2 && n.added.messages == 6 && n.added.responses == 1,
	      "every row copied");
	h = history_text(pg, "main", "copied", 40);
	CHECK_STR(h, "user:one|assistant:uno|user:two|assistant:dos", "the history arrived whole");
	free(h);
	CHECK(store_get_response(pg, "resp_copied", &r, &e) == 0 && r.last_seq == 4 && r.latest,
	      "the response id arrived with its turn");
	cJSON_Delete(r.body);
	CHECK_INT(value("SELECT count(*) FROM messages WHERE session_key = 'copied' AND"
			" prompt_tokens = 3 AND run_id = 'two'"),
		  1, "run ids and token counts kept");
	append(sq, "main", "copied", "three", "tres");
	CHECK(store_copy_from_sqlite(file, pg, &n, &e) == 0 && n.added.sessions == 0 &&
		      n.added.messages == 2 && n.added.responses == 0 && n.read.messages == 8,
	      "a second copy adds only the later turn");
	CHECK(store_copy_from_sqlite(file, pg, &n, &e) == 0 && n.added.messages == 0,
	      "a third adds nothing");
	CHECK(store_copy_from_sqlite("/nonexistent/x.db", pg, &n, &e) < 0, "a missing file fails");
	store_close(sq);
	store_close(pg);
	unlink(file);
	snprintf(file, sizeof file, "%s.db-wal", path);
	unlink(file);
	snprintf(file, sizeof file, "%s.db-shm", path);
	unlink(file);
}

int main(void)
{
	const char *url = getenv("CLAWCGI_PG_ADMIN_URL");
	char sql[128];

	if (!url || !url[0]) {
		if (getenv("CI")) {
			CHECK(0, "CLAWCGI_PG_ADMIN_URL names a PostgreSQL server (tests/run starts "
				 "one)");
			return check_done();
		}
		printf("ok - the PostgreSQL store # SKIP no server (CLAWCGI_PG_ADMIN_URL)\n");
		return check_done();
	}
	snprintf(admin_url, sizeof admin_url, "%s", url);
	snprintf(db_name, sizeof db_name, "unit_%ld_%d", (long)time(NULL), (int)getpid());
	url_for(db_name, store_url, sizeof store_url);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
	if (admin(sql) < 0) {
		CHECK(0, "a database for the test");
		return check_done();
	}
	check_basics();
	check_concurrent_turns();
	check_migration_race();
	check_reconnect();
	check_secrets();
	check_copy();
	snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", db_name);
	admin(sql);
	buf_free(&logged);
	return check_done();
}
