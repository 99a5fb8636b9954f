/*
 * bench/store_bench.c - the session store under load, through store.h as
 * the endpoint uses it (make bench, section "store").
 *
 *   bench-store DB PREFILL_MESSAGES PREFILL_SESSIONS TURNS WRITERS READERS
 *
 * Creates DB, fills it with PREFILL_MESSAGES messages over PREFILL_SESSIONS
 * sessions (written with SQLite directly, in one transaction: the point is
 * the size, not how it got there), then runs WRITERS threads that each
 * persist TURNS turns (a history load of 40, then the new user message and
 * the answer in one transaction, as a chat request does) on sessions picked
 * at random, while READERS threads load histories without pause until the
 * writers are done.  Prints one JSON object: persist and history-load
 * latency p50/p99 in ms, turns per second, and the WAL's size at the end.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

struct run {
	struct store *store;
	long sessions; /* prefilled, "pre-0" .. */
	long turns;
	atomic_bool writers_done;
};

struct lat {
	double *ms;
	long n;
};

struct writer {
	pthread_t thread;
	struct run *run;
	unsigned seed;
	struct lat persist, load;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void session_key(struct run *r, unsigned *seed, char *key, size_t n)
{
	if (r->sessions > 0)
		snprintf(key, n, "pre-%ld", (long)(rand_r(seed) % r->sessions));
	else
		snprintf(key, n, "new-%u", (unsigned)rand_r(seed) % 100000);
}

static int load(struct run *r, const char *key, struct lat *l)
{
	struct err e;
	cJSON *h = NULL;
	double t0 = now_ms();

	if (store_load_history(r->store, "main", key, 40, &h, &e) < 0) {
		fprintf(stderr, "load: %s\n", e.message);
		return -1;
	}
	if (l)
		l->ms[l->n++] = now_ms() - t0;
	cJSON_Delete(h);
	return 0;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct run *r = w->run;
	char key[64], run_id[64];

	for (long i = 0; i < r->turns; i++) {
		cJSON *msgs = cJSON_CreateArray(), *user = cJSON_CreateObject();
		cJSON *answer = cJSON_CreateObject();
		struct store_turn t = {0};
		struct err e;
		double t0;

		session_key(r, &w->seed, key, sizeof key);
		if (load(r, key, &w->load) < 0)
			exit(1);
		cJSON_AddStringToObject(user, "role", "user");
		cJSON_AddStringToObject(user, "content",
					"Say hello in one short sentence, please.");
		cJSON_AddItemToArray(msgs, user);
		cJSON_AddStringToObject(answer, "role", "assistant");
		cJSON_AddStringToObject(answer, "content",
					"Hello! This is a sentence of a typical size.");
		snprintf(run_id, sizeof run_id, "chatcmpl-bench-%ld", i);
		t.session_key = key;
		t.agent_id = "main";
		t.run_id = run_id;
		t.new_messages = msgs;
		t.answer = answer;
		t.prompt_tokens = 12;
		t.completion_tokens = 9;
		t.ttl_days = 30;
		t0 = now_ms();
		if (store_append_turn(r->store, &t, &e) < 0) {
			fprintf(stderr, "append: %s\n", e.message);
			exit(1);
		}
		w->persist.ms[w->persist.n++] = now_ms() - t0;
		cJSON_Delete(msgs);
		cJSON_Delete(answer);
	}
	return NULL;
}

static void *reader_main(void *arg)
{
	struct writer *w = arg;
	struct run *r = w->run;
	char key[64];

	while (!atomic_load(&r->writers_done)) {
		session_key(r, &w->seed, key, sizeof key);
		if (load(r, key, NULL) < 0)
			exit(1);
		w->load.n++;
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p)
{
	return n ? v[(long)((double)(n - 1) * p)] : 0;
}

static void prefill(const char *path, long messages, long sessions)
{
	sqlite3 *db;
	sqlite3_stmt *ss, *ms;
	long per = sessions ? messages / sessions : 0;

	if (!sessions)
		return;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO sessions (agent_id, session_key, created_at, last_used)"
			       " VALUES ('main', ?1, strftime('%s'), strftime('%s'))",
			       -1, &ss, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO messages (agent_id, session_key, seq, role, message,"
			       " run_id, created_at) VALUES ('main', ?1, ?2, ?3, ?4, 'prefill',"
			       " strftime('%s'))",
			       -1, &ms, NULL) != SQLITE_OK) {
		fprintf(stderr, "prefill: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	for (long s = 0; s < sessions; s++) {
		char key[64], msg[200];

		snprintf(key, sizeof key, "pre-%ld", s);
		sqlite3_bind_text(ss, 1, key, -1, SQLITE_STATIC);
		sqlite3_step(ss);
		sqlite3_reset(ss);
		for (long i = 1; i <= per; i++) {
			const char *role = i % 2 ? "user" : "assistant";
			snprintf(msg, sizeof msg,
				 "{\"role\":\"%s\",\"content\":\"Message %ld of session %ld, "
				 "about as long as a short chat message.\"}",
				 role, i, s);
			sqlite3_bind_text(ms, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ms, 2, i);
			sqlite3_bind_text(ms, 3, role, -1, SQLITE_STATIC);
			sqlite3_bind_text(ms, 4, msg, -1, SQLITE_STATIC);
			if (sqlite3_step(ms) != SQLITE_DONE) {
				fprintf(stderr, "prefill: %s\n", sqlite3_errmsg(db));
				exit(1);
			}
			sqlite3_reset(ms);
		}
	}
	sqlite3_finalize(ss);
	sqlite3_finalize(ms);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
		    SQLITE_OK) {
		fprintf(stderr, "prefill: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_close(db);
}

int main(int argc, char **argv)
{
	struct run r = {0};
	struct writer *ws, *rs;
	struct lat persist = {0}, loads = {0};
	struct err e;
	struct stat st;
	char wal[4096];
	long nw, nr, reads = 0;
	double t0, secs;

	if (argc != 7) {
		fprintf(stderr, "usage: bench-store DB PREFILL_MESSAGES PREFILL_SESSIONS TURNS "
				"WRITERS READERS\n");
		return 2;
	}
	if (store_open_sqlite(argv[1], &r.store, &e) < 0) {
		fprintf(stderr, "bench-store: %s\n", e.message);
		return 1;
	}
	prefill(argv[1], atol(argv[2]), atol(argv[3]));
	r.sessions = atol(argv[3]);
	r.turns = atol(argv[4]);
	nw = atol(argv[5]);
	nr = atol(argv[6]);
	ws = calloc((size_t)nw, sizeof *ws);
	rs = calloc((size_t)(nr ? nr : 1), sizeof *rs);
	persist.ms = calloc((size_t)(nw * r.turns), sizeof(double));
	loads.ms = calloc((size_t)(nw * r.turns), sizeof(double));
	for (long i = 0; i < nr; i++) {
		rs[i].run = &r;
		rs[i].seed = 1000 + (unsigned)i;
		pthread_create(&rs[i].thread, NULL, reader_main, &rs[i]);
	}
	t0 = now_ms();
	for (long i = 0; i < nw; i++) {
		ws[i].run = &r;
		ws[i].seed = (unsigned)i + 1;
		ws[i].persist.ms = persist.ms + i * r.turns;
		ws[i].load.ms = loads.ms + i * r.turns;
		pthread_create(&ws[i].thread, NULL, writer_main, &ws[i]);
	}
	for (long i = 0; i < nw; i++)
		pthread_join(ws[i].thread, NULL);
	secs = (now_ms() - t0) / 1e3;
	atomic_store(&r.writers_done, true);
	for (long i = 0; i < nr; i++) {
		pthread_join(rs[i].thread, NULL);
		reads += rs[i].load.n;
	}
	persist.n = loads.n = nw * r.turns;
	qsort(persist.ms, (size_t)persist.n, sizeof(double), cmp);
	qsort(loads.ms, (size_t)loads.n, sizeof(double), cmp);
	snprintf(wal, sizeof wal, "%s-wal", argv[1]);
	printf("{\"persist_p50_ms\": %.4f, \"persist_p99_ms\": %.4f, \"load_p50_ms\": %.4f, "
	       "\"load_p99_ms\": %.4f, \"turns_per_s\": %.1f, \"reader_loads\": %ld, "
	       "\"wal_mib\": %.2f}\n",
	       pct(persist.ms, persist.n, 0.5), pct(persist.ms, persist.n, 0.99),
	       pct(loads.ms, loads.n, 0.5), pct(loads.ms, loads.n, 0.99), (double)persist.n / secs,
	       reads, stat(wal, &st) == 0 ? (double)st.st_size / 1048576.0 : 0.0);
	store_close(r.store);
	free(ws);
	free(rs);
	free(persist.ms);
	free(loads.ms);
	return 0;
}
