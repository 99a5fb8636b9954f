/* Unit tests for the SQLite store: src/store_sqlite_pool.c and src/store_sqlite.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "log.h"
#include "message.h"
#include "store.h"
#include "store_lock_check.h"
#include "store_rate_check.h"

/* A log sink keeping the lines in a struct buf. */
static int keep_line(void *ctx, const char *line, size_t n)
{
	return buf_append(ctx, line, n) == 0 ? 0 : -1;
}

/* An sqlite3_exec callback for a query that must return no row: a row
 * aborts it. */
static int must_be_empty(void *ctx, int n, char **values, char **names)
{
	(void)ctx, (void)n, (void)values, (void)names;
	return 1;
}

/* The integer the first row of sql holds in the file at path; -1 when the
 * query fails. */
static int int_query(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static int user_version(const char *path)
{
	return int_query(path, "PRAGMA user_version");
}

/* Run sql on the file at path, as a hand edit would: 0 or -1. */
static int edit_file(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		rc = 0;
	sqlite3_close(db);
	return rc;
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
	/* history comes as stored messages, each parsed when opened */
	cJSON_ArrayForEach(m, h) {
		bool stored = msg_is_stored(m);
		if (msg_open(m) < 0) {
			buf_printf(&out, "%s(not JSON)", out.len ? "|" : "");
			continue;
		}
		buf_printf(&out, "%s%s%s:%s", out.len ? "|" : "", stored ? "" : "(parsed already)",
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

/* Run under valgrind (tests/run sets CLAWCGI_WRAPPER then), which runs
 * one thread at a time: the checks that need threads to meet are skipped. */
static bool under_wrapper(void)
{
	const char *w = getenv("CLAWCGI_WRAPPER");

	return w && *w;
}

static unsigned be32(const unsigned char *b)
{
	return (unsigned)b[0] << 24 | (unsigned)b[1] << 16 | (unsigned)b[2] << 8 | b[3];
}

/* Commits in the WAL of path: its frames that end a transaction (a database
 * size in the frame header) and carry the header's salts (SQLite's file
 * format, "WAL File Format"); -1 without a WAL.  Frames of before a
 * restart of the WAL are not counted. */
static long wal_commits(const char *path)
{
	char wal[300];
	unsigned char hdr[32], fh[24];
	unsigned page;
	long commits = 0;
	FILE *f;

	snprintf(wal, sizeof wal, "%s-wal", path);
	if (!(f = fopen(wal, "rb")))
		return -1;
	if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || (page = be32(hdr + 8)) < 512) {
		fclose(f);
		return -1;
	}
	while (fread(fh, 1, sizeof fh, f) == sizeof fh && memcmp(fh + 8, hdr + 16, 8) == 0) {
		if (be32(fh + 4) != 0)
			commits++;
		if (fseek(f, (long)page, SEEK_CUR) != 0)
			break;
	}
	fclose(f);
	return commits;
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
	{
		long commits = wal_commits(path), turns = 2L * SHARERS * SHARED_TURNS;
		printf("# %ld turns stored in %ld commits\n", turns, commits);
		if (under_wrapper())
			printf("ok - turns that meet at the writer share a commit # SKIP under a "
			       "wrapper: valgrind runs one thread at a time\n");
		else
			CHECK(commits > 0 && commits < turns,
			      "turns that meet at the writer share a commit (group commit)");
	}
	for (int i = 0; i < SHARERS; i++) {
		char key[32], want[64];
		cJSON *h = NULL;

		snprintf(key, sizeof key, "own-%d", i);
		store_load_history(s, "main", key, 1000, &h, &e);
		msg_open_all(h);
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
		msg_open_all(h);
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
 * as long, so 40 MB means five failed in a row, and PRAGMA
 * journal_size_limit cuts it back to 32 MiB once one succeeds). */
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
	if (under_wrapper()) {
		printf("ok - the WAL stays under 64 MB though readers never stop # SKIP under a "
		       "wrapper: valgrind runs one thread at a time, and the checkpointer rarely "
		       "finds the readers out\n");
	} else {
		long long size = stat(wal, &st) < 0 ? 0 : (long long)st.st_size;
		printf("# the WAL after the writes: %.1f MB\n", (double)size / 1e6);
		/* 64 MB: issue 12's bound for the WAL after a load (make bench);
		 * here it ended at 18-34 MB in 40 runs, and past 40 MB in 3 of 120 */
		CHECK(size < 64 * 1000 * 1000,
		      "the WAL stays under 64 MB (restarted past 16 MiB) though readers never "
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

/* A key named name whose hash is 64 times the digit c. */
static struct store_key key_of(const char *name, char c, long rpm)
{
	struct store_key k = {.rpm = rpm, .tpm = 1000, .created = 1700000000000LL};
	snprintf(k.name, sizeof k.name, "%s", name);
	memset(k.hash, c, 64);
	snprintf(k.agents, sizeof k.agents, "main,beta");
	return k;
}

static int list_key(void *ctx, const struct store_key *k)
{
	struct buf *b = ctx;
	buf_printf(b, "%s%s", b->len ? "," : "", k->name);
	return 0;
}

/* Client keys: put, get by name and by hash, the 1s, list, touch. */
static void check_keys(const char *path)
{
	struct store *s;
	struct store_key k, got;
	struct buf names = BUF_INIT;
	struct err e;

	CHECK(store_open_sqlite(path, &s, &e) == 0, "open a store for keys");
	k = key_of("bob", 'b', 5);
	CHECK_INT(store_key_put(s, &k, false, &e), 0, "a key is inserted");
	k = key_of("alice", 'a', 0);
	CHECK_INT(store_key_put(s, &k, false, &e), 0, "a second key");
	CHECK(store_key_get(s, "bob", NULL, &got, &e) == 0 && !strcmp(got.name, "bob") &&
		      got.hash[0] == 'b' && strlen(got.hash) == 64 &&
		      !strcmp(got.agents, "main,beta") && got.rpm == 5 && got.tpm == 1000 &&
		      got.created == 1700000000000LL && got.expires == 0 && got.revoked == 0 &&
		      got.last_used == 0,
	      "get by name: every field");
	memset(k.hash, 'b', 64);
	CHECK(store_key_get(s, NULL, k.hash, &got, &e) == 0 && !strcmp(got.name, "bob"),
	      "get by hash");
	CHECK_INT(store_key_get(s, "carol", NULL, &got, &e), 1, "an unknown name: 1");
	memset(k.hash, 'c', 64);
	CHECK_INT(store_key_get(s, NULL, k.hash, &got, &e), 1, "an unknown hash: 1");
	k = key_of("bob", 'c', 1);
	CHECK_INT(store_key_put(s, &k, false, &e), 1, "inserting a name that exists: 1");
	k = key_of("carol", 'a', 1);
	CHECK_INT(store_key_put(s, &k, false, &e), 1, "inserting a hash that exists: 1");
	CHECK_INT(store_key_get(s, "carol", NULL, &got, &e), 1, "and nothing was written");
	k = key_of("dave", 'd', 1);
	CHECK_INT(store_key_put(s, &k, true, &e), 1, "replacing a name that does not exist: 1");
	k = key_of("bob", 'e', 7);
	k.revoked = 1700000001000LL;
	CHECK(store_key_put(s, &k, true, &e) == 0 && store_key_get(s, "bob", NULL, &got, &e) == 0 &&
		      got.rpm == 7 && got.hash[0] == 'e' && got.revoked == 1700000001000LL,
	      "a replace overwrites the row");
	k = key_of("bob", 'a', 7);
	CHECK_INT(store_key_put(s, &k, true, &e), 1, "a replace onto another key's hash: 1");
	CHECK(store_key_list(s, list_key, &names, &e) == 0, "list the keys");
	CHECK_STR(buf_str(&names), "alice,bob", "by name");
	CHECK(store_key_touch(s, "alice", 1700000002000LL, &e) == 0 &&
		      store_key_get(s, "alice", NULL, &got, &e) == 0 &&
		      got.last_used == 1700000002000LL,
	      "touch sets last_used");
	buf_free(&names);
	store_close(s);
}

/* Per-client minute windows: rpm, tpm, windows and clients apart, pruning. */
static void check_rates(const char *path)
{
	const long long w = 1700000040000LL; /* a multiple of 60000 */
	struct store *s;
	struct store_rate r;
	struct err e;
	int allowed = 0;

	CHECK(store_open_sqlite(path, &s, &e) == 0, "open a store for rates");
	for (int i = 0; i < 3; i++)
		if (store_rate_take(s, "key:a", w, 3, 0, &r, &e) == 0 && r.allowed &&
		    r.requests == i + 1)
			allowed++;
	CHECK_INT(allowed, 3, "rpm 3: three requests taken, counted 1, 2, 3");
	CHECK(store_rate_take(s, "key:a", w, 3, 0, &r, &e) == 0 && !r.allowed && r.requests == 3 &&
		      r.tokens == 0,
	      "the fourth refused, with the window's counts");
	CHECK(store_rate_take(s, "key:a", w, 3, 0, &r, &e) == 0 && !r.allowed && r.requests == 3,
	      "a refusal counts nothing");
	CHECK(store_rate_take(s, "key:b", w, 3, 0, &r, &e) == 0 && r.allowed && r.requests == 1,
	      "another client has a window of its own");
	CHECK(store_rate_take(s, "key:a", w + 60000, 3, 0, &r, &e) == 0 && r.allowed &&
		      r.requests == 1,
	      "the next minute is a new window");
	CHECK(store_rate_take(s, "key:a", w, 0, 0, &r, &e) == 0 && r.allowed && r.requests == 4,
	      "no limits: always taken");

	CHECK(store_rate_add_tokens(s, "user:t", w, 60, &e) == 0, "tokens into a new window");
	CHECK(store_rate_take(s, "user:t", w, 0, 100, &r, &e) == 0 && r.allowed &&
		      r.requests == 1 && r.tokens == 60,
	      "under tpm: taken, the tokens told");
	CHECK(store_rate_add_tokens(s, "user:t", w, 40, &e) == 0 &&
		      store_rate_take(s, "user:t", w, 0, 100, &r, &e) == 0 && !r.allowed &&
		      r.requests == 1 && r.tokens == 100,
	      "at tpm: refused, nothing counted");
	CHECK(store_rate_take(s, "user:t", w, 10, 0, &r, &e) == 0 && r.allowed && r.requests == 2,
	      "the same window without a tpm: taken");
	check_rate_reserve(s, w);

	/* a window two minutes later prunes those before the previous one */
	CHECK(store_rate_take(s, "key:c", w + 120000, 0, 0, &r, &e) == 0 && r.allowed,
	      "a take two minutes later");
	CHECK(store_rate_take(s, "key:a", w + 60000, 3, 0, &r, &e) == 0 && r.requests == 2,
	      "the previous window is kept");
	CHECK(store_rate_take(s, "key:b", w, 3, 0, &r, &e) == 0 && r.requests == 1,
	      "the older one was pruned");
	store_close(s);
}

/* Processes of their own taking from one window at once: exactly rpm taken. */
#define TAKERS 6
#define TAKES 20
#define TAKE_RPM 50

static void check_rate_race(const char *path)
{
	pid_t pids[TAKERS];
	struct store *s;
	struct store_rate r;
	struct err e;
	int total = 0, clean = 1;

	CHECK(store_open_sqlite(path, &s, &e) == 0, "the store the takers share");
	store_close(s);
	for (int i = 0; i < TAKERS; i++) {
		if ((pids[i] = fork()) == 0) {
			int n = 0, failed = 0;
			if (store_open_sqlite(path, &s, &e) < 0)
				_exit(255);
			for (int j = 0; j < TAKES; j++) {
				if (store_rate_take(s, "key:race", 60000, TAKE_RPM, 0, &r, &e) < 0)
					failed = 1;
				else
					n += r.allowed;
			}
			store_close(s);
			_exit(failed ? 255 : n);
		}
	}
	for (int i = 0; i < TAKERS; i++) {
		int status = 0;
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
			clean = 0;
		else
			total += WEXITSTATUS(status);
	}
	CHECK(clean, "6 processes x 20 takes: no failure");
	CHECK_INT(total, TAKE_RPM, "exactly rpm of them taken");
	CHECK(store_open_sqlite(path, &s, &e) == 0 &&
		      store_rate_take(s, "key:race", 60000, TAKE_RPM, 0, &r, &e) == 0 &&
		      !r.allowed && r.requests == TAKE_RPM,
	      "the window holds rpm requests");
	store_close(s);
}

/* A usage row with every field set (scan_row checks them). */
static struct store_usage usage_of(long long time, const char *endpoint, int status)
{
	return (struct store_usage){
		.time = time,
		.endpoint = endpoint,
		.agent_id = "main",
		.auth_kind = "key",
		.auth_name = "bob",
		.session_key = "sess",
		.model = "echo/echo",
		.status = status,
		.prompt_tokens = 11,
		.completion_tokens = 22,
		.latency_ms = 12.5,
		.ttft_ms = 3.25,
		.interrupted = false,
	};
}

static bool same(const char *a, const char *b)
{
	return a && !strcmp(a, b);
}

/* usage_scan's rows as "time:endpoint:status[:null][:nottft][:int]". */
static int scan_row(void *ctx, const struct store_usage *u)
{
	struct buf *b = ctx;
	buf_printf(b, "%s%lld:%s:%d", b->len ? "|" : "", u->time, u->endpoint, u->status);
	if (!u->agent_id && !u->auth_name && !u->session_key && !u->model)
		buf_printf(b, ":null");
	else if (!same(u->agent_id, "main") || !same(u->auth_name, "bob") ||
		 !same(u->session_key, "sess") || !same(u->model, "echo/echo") ||
		 !same(u->auth_kind, "key") || u->prompt_tokens != 11 ||
		 u->completion_tokens != 22 || u->latency_ms != 12.5 || u->ttft_ms != 3.25)
		buf_printf(b, ":wrong");
	if (u->ttft_ms == -1)
		buf_printf(b, ":nottft");
	if (u->interrupted)
		buf_printf(b, ":int");
	return 0;
}

static char *scan_text(struct store *s, long long since, long long until)
{
	struct buf b = BUF_INIT;
	struct err e;

	buf_append(&b, "", 0);
	if (store_usage_scan(s, since, until, scan_row, &b, &e) < 0) {
		buf_free(&b);
		return strdup("(error)");
	}
	return buf_detach(&b);
}

/* The usage log: rows added, scanned by time, purged; with a turn. */
static void check_usage(const char *path)
{
	struct store_usage rows[4] = {
		usage_of(3000, "responses", 200),
		usage_of(1000, "chat.completions", 200),
		usage_of(2000, "embeddings", 502),
		{.time = 4000,
		 .endpoint = "models",
		 .auth_kind = "none",
		 .status = 200,
		 .latency_ms = 0.5,
		 .ttft_ms = -1,
		 .interrupted = true},
	};
	struct store_usage turn_usage = usage_of(5000, "chat.completions", 200);
	struct store *s;
	struct err e;
	long n = -1;
	char *h;

	CHECK(store_open_sqlite(path, &s, &e) == 0, "open a store for usage");
	CHECK(store_usage_add(s, rows, 4, &e) == 0, "four usage rows added");
	h = scan_text(s, 0, 10000);
	CHECK_STR(h,
		  "1000:chat.completions:200|2000:embeddings:502|3000:responses:200|"
		  "4000:models:200:null:nottft:int",
		  "scanned oldest first, every field back, NULLs and no ttft kept");
	free(h);
	h = scan_text(s, 2000, 4000);
	CHECK_STR(h, "2000:embeddings:502|3000:responses:200", "since inclusive, until exclusive");
	free(h);
	{
		struct store_usage bad = usage_of(1, NULL, 200);
		CHECK(store_usage_add(s, (struct store_usage[]){usage_of(9000, "x", 1), bad}, 2,
				      &e) < 0 &&
			      e.status == 500,
		      "a row without its endpoint fails");
		h = scan_text(s, 5000, 10000);
		CHECK_STR(h, "", "and the rows added with it are not kept");
		free(h);
	}

	/* with a turn: both in its transaction, or neither */
	{
		cJSON *m = cJSON_Parse("[{\"role\":\"user\",\"content\":\"q\"}]");
		cJSON *a = cJSON_Parse("{\"role\":\"assistant\",\"content\":\"a\"}");
		struct store_turn t = {.session_key = "sess",
				       .agent_id = "main",
				       .run_id = "run-u",
				       .new_messages = m,
				       .answer = a,
				       .usage = &turn_usage};
		CHECK(store_append_turn(s, &t, &e) == 0, "a turn with its usage row");
		h = history_text(s, "main", "sess", 40);
		CHECK_STR(h, "user:q|assistant:a", "its messages stored");
		free(h);
		h = scan_text(s, 5000, 5001);
		CHECK_STR(h, "5000:chat.completions:200", "its usage row stored");
		free(h);
		turn_usage.time = 6000;
		t.answer = NULL; /* cannot be stored */
		t.session_key = "sess2";
		CHECK(store_append_turn(s, &t, &e) < 0 && e.status == 500, "a turn that fails");
		h = history_text(s, "main", "sess2", 40);
		CHECK_STR(h, "", "stores no message");
		free(h);
		h = scan_text(s, 6000, 6001);
		CHECK_STR(h, "", "and no usage row");
		free(h);
		cJSON_Delete(m);
		cJSON_Delete(a);
	}
	CHECK(store_usage_purge(s, 3000, &n, &e) == 0 && n == 2, "purge: the rows before, counted");
	h = scan_text(s, 0, 10000);
	CHECK_STR(h, "3000:responses:200|4000:models:200:null:nottft:int|5000:chat.completions:200",
		  "the later rows stay");
	free(h);
	store_close(s);
}

/* Schema version 1 as it was released: sessions and messages. */
#define SCHEMA_V1                                                                                  \
	"CREATE TABLE sessions (agent_id TEXT NOT NULL, session_key TEXT NOT NULL,"                \
	" created_at INTEGER NOT NULL, last_used INTEGER NOT NULL,"                                \
	" PRIMARY KEY (agent_id, session_key));"                                                   \
	"CREATE INDEX sessions_last_used ON sessions (last_used);"                                 \
	"CREATE INDEX sessions_key ON sessions (session_key);"                                     \
	"CREATE TABLE messages (agent_id TEXT NOT NULL, session_key TEXT NOT NULL,"                \
	" seq INTEGER NOT NULL, role TEXT NOT NULL, message TEXT NOT NULL,"                        \
	" run_id TEXT NOT NULL, created_at INTEGER NOT NULL, prompt_tokens INTEGER,"               \
	" completion_tokens INTEGER, interrupted INTEGER NOT NULL DEFAULT 0,"                      \
	" PRIMARY KEY (agent_id, session_key, seq), FOREIGN KEY (agent_id, session_key)"           \
	" REFERENCES sessions (agent_id, session_key) ON DELETE CASCADE);"

/*
 * Migration 4 -> 5 on a file with data: sessions rebuilt without a rowid
 * (their messages kept, not deleted by the rebuild, and still theirs by
 * foreign key), usage ids put in time order (rows of one millisecond
 * kept apart, in their order).
 */
static void check_migration_5(const char *path)
{
	struct store *s;
	struct err e;
	sqlite3 *db;
	char *h;
	long n = -1;

	sqlite3_open(path, &db);
	CHECK(sqlite3_exec(
		      db,
		      SCHEMA_V1
		      "CREATE TABLE auth_failures (addr TEXT PRIMARY KEY, window_start INTEGER NOT"
		      " NULL, failures INTEGER NOT NULL, locked_until INTEGER NOT NULL DEFAULT 0);"
		      "CREATE TABLE responses (id TEXT PRIMARY KEY, agent_id TEXT NOT NULL,"
		      " session_key TEXT NOT NULL, last_seq INTEGER NOT NULL, created_at INTEGER"
		      " NOT NULL, body TEXT NOT NULL, FOREIGN KEY (agent_id, session_key)"
		      " REFERENCES sessions (agent_id, session_key) ON DELETE CASCADE);"
		      "CREATE INDEX responses_session ON responses (agent_id, session_key);"
		      "CREATE TABLE client_keys (name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
		      " agents TEXT NOT NULL DEFAULT '', rpm INTEGER NOT NULL DEFAULT 0,"
		      " tpm INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
		      " expires INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0,"
		      " last_used INTEGER NOT NULL DEFAULT 0);"
		      "CREATE TABLE rate_windows (client TEXT NOT NULL, window_start INTEGER NOT"
		      " NULL, requests INTEGER NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT"
		      " 0, PRIMARY KEY (client, window_start));"
		      "CREATE TABLE usage (id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
		      " endpoint TEXT NOT NULL, agent_id TEXT, auth_kind TEXT NOT NULL,"
		      " auth_name TEXT, session_key TEXT, model TEXT, status INTEGER NOT NULL,"
		      " prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT"
		      " NULL DEFAULT 0, latency_ms REAL NOT NULL, ttft_ms REAL, interrupted"
		      " INTEGER NOT NULL DEFAULT 0);"
		      "CREATE INDEX usage_time ON usage (time);"
		      "INSERT INTO sessions SELECT column1, column2, 1, CAST(strftime('%s', 'now') "
		      "AS"
		      " INTEGER) FROM (VALUES ('main', 'a'), ('main', 'b'), ('beta', 'a'));"
		      "INSERT INTO messages VALUES"
		      " ('main', 'a', 1, 'user', '{\"role\":\"user\",\"content\":\"qa\"}', 'r', 1,"
		      " NULL, NULL, 0),"
		      " ('main', 'a', 2, 'assistant', "
		      "'{\"role\":\"assistant\",\"content\":\"xa\"}',"
		      " 'r', 1, 1, 2, 0),"
		      " ('main', 'b', 1, 'user', '{\"role\":\"user\",\"content\":\"qb\"}', 'r', 1,"
		      " NULL, NULL, 0),"
		      " ('beta', 'a', 1, 'user', '{\"role\":\"user\",\"content\":\"qc\"}', 'r', 1,"
		      " NULL, NULL, 0);"
		      "INSERT INTO responses VALUES ('resp_1', 'main', 'a', 2, 1, '{}');"
		      "INSERT INTO usage VALUES"
		      " (1, 3000, 'responses', 'main', 'key', 'bob', 'sess', 'echo/echo', 200, 11,"
		      " 22, 12.5, 3.25, 0),"
		      " (2, 1000, 'chat.completions', 'main', 'key', 'bob', 'sess', 'echo/echo',"
		      " 200, 11, 22, 12.5, 3.25, 0),"
		      " (3, 1000, 'embeddings', 'main', 'key', 'bob', 'sess', 'echo/echo', 502, 11,"
		      " 22, 12.5, NULL, 1);"
		      "PRAGMA user_version = 4;",
		      NULL, NULL, NULL) == SQLITE_OK,
	      "a version 4 file with sessions, messages, a response and usage rows");
	sqlite3_close(db);

	{
		struct buf logged = BUF_INIT;
		log_set_sink(keep_line, &logged);
		CHECK(store_open_sqlite(path, &s, &e) == 0, "a version 4 file opens");
		log_set_sink(NULL, NULL);
		char upgraded[64];
		snprintf(upgraded, sizeof upgraded, "upgraded from schema version 4 to %d in ",
			 STORE_SQLITE_SCHEMA);
		CHECK(logged.len && strstr(buf_str(&logged), "warning: session store ") &&
			      strstr(buf_str(&logged), upgraded) &&
			      strstr(buf_str(&logged), "an older clawcgi cannot open it now"),
		      "the log says the file was upgraded, and that older releases refuse it now");
		buf_free(&logged);
	}
	CHECK_INT(user_version(path), STORE_SQLITE_SCHEMA,
		  "and is migrated to this build's version");
	h = history_text(s, "main", "a", 40);
	CHECK_STR(h, "user:qa|assistant:xa", "a session's messages survive the rebuild");
	free(h);
	h = history_text(s, "beta", "a", 40);
	CHECK_STR(h, "user:qc", "the same key under another agent is still its own session");
	free(h);
	h = scan_text(s, 0, 10000);
	CHECK_STR(
		h,
		"1000:chat.completions:200|1000:embeddings:502:wrong:nottft:int|3000:responses:200",
		"usage rows in time order, two of one millisecond in their order");
	free(h);
	{
		struct store_usage u = usage_of(1000, "models", 200);
		CHECK(store_usage_add(s, &u, 1, &e) == 0,
		      "a new row in a millisecond that has two");
		h = scan_text(s, 1000, 1001);
		CHECK_STR(h,
			  "1000:chat.completions:200|1000:embeddings:502:wrong:nottft:int|1000:"
			  "models:200",
			  "goes after them");
		free(h);
	}
	CHECK(append(s, "main", "b", "u2", "a2") == 0, "a turn on a migrated session");
	h = history_text(s, "main", "b", 40);
	CHECK_STR(h, "user:qb|user:u2|assistant:a2", "follows its old messages");
	free(h);
	CHECK(store_remove(s, "a", &n, &e) == 0,
	      "removing a key removes its session under each agent");
	h = history_text(s, "main", "a", 40);
	CHECK_STR(h, "", "and their messages (the trigger that replaced the foreign key)");
	free(h);
	h = history_text(s, "beta", "a", 40);
	CHECK_STR(h, "", "under the other agent too");
	free(h);
	CHECK_INT(n, 2, "two sessions removed");
	store_close(s);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	CHECK(sqlite3_exec(db, "DELETE FROM sessions WHERE session_key = 'b'", NULL, NULL, NULL) ==
			      SQLITE_OK &&
		      sqlite3_exec(db, "SELECT 1 FROM message_rows LIMIT 1", must_be_empty, NULL,
				   NULL) == SQLITE_OK,
	      "a session deleted in SQL takes its messages (the sessions_delete trigger)");
	{
		sqlite3_stmt *st;
		int left = -1;
		if (sqlite3_prepare_v2(
			    db,
			    "SELECT (SELECT count(*) FROM responses) + (SELECT count(*)"
			    " FROM sqlite_master WHERE name IN ('sessions_key', 'usage_time'))",
			    -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			left = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		CHECK_INT(left, 0,
			  "the removed session's response went too; the old indexes are gone");
	}
	sqlite3_close(db);
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
	CHECK_INT(user_version(path), STORE_SQLITE_SCHEMA,
		  "a new file is at the current schema version");

	CHECK(append(s, "main", "k1", "u1", "a1") == 0 &&
		      append(s, "main", "k1", "u2", "a2") == 0 &&
		      append(s, "main", "k1", "u3", "a3") == 0,
	      "three turns appended");
	h = history_text(s, "main", "k1", 40);
	CHECK_STR(h, "user:u1|assistant:a1|user:u2|assistant:a2|user:u3|assistant:a3",
		  "history in order");
	free(h);
	CHECK_INT(int_query(path, "SELECT count(*) FROM messages WHERE agent_id = 'main' AND"
				  " session_key = 'k1' AND role = CASE seq % 2 WHEN 1 THEN 'user'"
				  " ELSE 'assistant' END AND seq BETWEEN 1 AND 6"
				  " AND message LIKE '%\"content\":\"' || substr(role, 1, 1) || "
				  "((seq + 1) / 2)"
				  " || '\"}'"),
		  6, "the view messages shows each row with its session's agent, key and number");
	CHECK_INT(int_query(path, "SELECT count(*) FROM message_rows"), 6,
		  "message_rows holds them, one row each");
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
		/* history goes to a provider unparsed: a row edited into
		 * something that is not JSON must not reach it */
		CHECK(edit_file(path, "UPDATE message_rows SET message = "
				      "'{\"role\":\"user\",\"con' WHERE id = "
				      "(SELECT id * 16777216 + 3 FROM sessions WHERE session_key = "
				      "'k1')") == 0,
		      "a row edited by hand");
		h = history_text(s, "main", "k1", 40);
		CHECK_STR(h, "user:u1|assistant:a1|assistant:a2|user:u3|assistant:a3",
			  "a row that is not JSON is left out of the history");
		free(h);
	}
	{
		/* a session's numbers end at 2^24 - 1: its answer moved to the
		 * last one, the next turn is refused and stores nothing */
		CHECK(append(s, "main", "full", "u1", "a1") == 0, "a session to fill");
		edit_file(path,
			  "UPDATE message_rows SET id = id + 16777213 WHERE id ="
			  " (SELECT id * 16777216 + 2 FROM sessions WHERE session_key = 'full')");
		CHECK(append(s, "main", "full", "u2", "a2") < 0,
		      "a turn on a session at its last number is refused");
		h = history_text(s, "main", "full", 40);
		CHECK_STR(h, "user:u1|assistant:a1", "and nothing of it is stored");
		free(h);
	}
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
		char *h2;
		CHECK(append(s, "main", "idle", "old", "x") == 0, "a session to age");
		edit_file(path, "UPDATE sessions SET last_used = last_used - 31 * 86400 WHERE "
				"session_key = 'idle'");
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
	snprintf(old, sizeof old, "%s/keys.db", dir);
	check_keys(old);
	snprintf(old, sizeof old, "%s/rates.db", dir);
	check_rates(old);
	snprintf(old, sizeof old, "%s/race.db", dir);
	check_rate_race(old);
	snprintf(old, sizeof old, "%s/usage.db", dir);
	check_usage(old);
	snprintf(old, sizeof old, "%s/v4.db", dir);
	check_migration_5(old);
	snprintf(old, sizeof old, "%s/locks.db", dir);
	check_session_locks(old);
	{
		struct stat st;
		char lockfile[300];
		CHECK(user_version(old) == STORE_SQLITE_SCHEMA &&
			      int_query(old, "SELECT count(*) FROM sessions") == 0,
		      "session locks change nothing in the database");
		snprintf(lockfile, sizeof lockfile, "%s-locks", old);
		CHECK(stat(lockfile, &st) == 0 && st.st_size == 0,
		      "they are byte-range locks of the empty file beside it, PATH-locks");
	}

	/* migration from version 1 (sessions and messages, no auth table) */
	snprintf(old, sizeof old, "%s/v1.db", dir);
	{
		sqlite3 *db;
		sqlite3_open(old, &db);
		sqlite3_exec(db,
			     SCHEMA_V1
			     "INSERT INTO sessions VALUES ('main', 'old', 1, 1);"
			     "INSERT INTO messages VALUES ('main', 'old', 1, 'user', "
			     "'{\"role\":\"user\",\"content\":\"kept\"}', 'r', 1, NULL, NULL, 0);"
			     "PRAGMA user_version = 1;",
			     NULL, NULL, NULL);
		sqlite3_close(db);
	}
	CHECK(store_open_sqlite(old, &s, &e) == 0, "a version 1 file opens");
	CHECK_INT(user_version(old), STORE_SQLITE_SCHEMA,
		  "and is migrated to this build's version");
	h = history_text(s, "main", "old", 40);
	CHECK_STR(h, "user:kept", "its data survives the migration");
	free(h);
	{
		struct store_key k = key_of("migrated", 'm', 0);
		struct store_usage u = usage_of(1, "models", 200);
		CHECK(store_key_put(s, &k, false, &e) == 0 && store_usage_add(s, &u, 1, &e) == 0,
		      "the migrated file has the keys and the usage log");
	}
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
