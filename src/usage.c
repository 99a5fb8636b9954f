/*
 * usage.c - the usage log's per-request record, its queue and its writer.
 *
 * Each thread has one record (the request it serves).  A row that is not
 * part of a turn goes into a process-wide queue (at most USAGE_QUEUE_MAX
 * rows; past that a row is dropped, logged and counted in /metrics),
 * which the writer thread empties every second into the store of the
 * current config in one transaction, and prunes rows past retentionDays
 * every hour.  A batch the store refuses (read-only, full, locked, down)
 * goes back at the queue's head and is tried again each second; only what
 * no longer fits is dropped.
 */
#include "usage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config_live.h"
#include "log.h"
#include "metrics.h"

#define USAGE_QUEUE_MAX 4096
#define USAGE_FLUSH_MS 1000
#define USAGE_PURGE_MS (3600 * 1000LL)
#define DAY_MS (86400 * 1000LL)

/* A row and the strings it points to. */
struct record {
	bool active;  /* a request began on this thread */
	bool enabled; /* its row is logged */
	bool logged;  /* its turn's transaction took the row */
	long long start_ms, start_us, first_us;
	const char *endpoint;
	char auth_kind[10];
	char auth_name[256];
	char agent[72];
	char session[700];
	char model[300];
	long prompt, completion;
	long prompt_estimate;  /* the request body's bytes / 4 (auth.c) */
	long long rate_window; /* where reserved tokens were reserved */
	long reserved;
	bool interrupted;
	bool estimated;
	int status;
	double latency_ms, ttft_ms; /* set as it ends (ttft_ms < 0: none) */
};

static _Thread_local struct record cur;
static _Thread_local struct store_usage turn_row;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
/* room for USAGE_QUEUE_MAX rows, made when needed; take_queue hands it
 * over whole and puts the spare one (the last one written, given back) in
 * its place.  Freed and made anew each time (5.6 MiB, a mapping of its
 * own), its pages were faulted in again row by row: a third of the cost
 * of the log on a stateless request. */
static struct record *queue, *spare;
static size_t queued;
static long dropped;
static bool failing;		   /* the last write failed: its rows wait in the queue */
static long long failing_since_ms; /* when that began */
static bool writer_started;
static bool purged; /* this process has pruned old rows at least once */
static long long last_purge_ms;

void usage_request_begin(bool enabled, const char *endpoint)
{
	memset(&cur, 0, sizeof cur);
	cur.active = true;
	cur.enabled = enabled;
	cur.endpoint = endpoint;
	cur.start_ms = clock_wall_ms();
	cur.start_us = clock_mono_us();
	cur.first_us = -1;
	snprintf(cur.auth_kind, sizeof cur.auth_kind, "none");
}

void usage_request_client(const char *auth_kind, const char *name)
{
	if (!cur.active)
		return;
	snprintf(cur.auth_kind, sizeof cur.auth_kind, "%s", auth_kind);
	snprintf(cur.auth_name, sizeof cur.auth_name, "%s", name ? name : "");
}

void usage_request_agent(const char *agent_id)
{
	if (cur.active)
		snprintf(cur.agent, sizeof cur.agent, "%s", agent_id ? agent_id : "");
}

void usage_request_session(const char *session_key)
{
	if (cur.active)
		snprintf(cur.session, sizeof cur.session, "%s", session_key ? session_key : "");
}

void usage_request_model(const char *provider, const char *model)
{
	if (cur.active)
		snprintf(cur.model, sizeof cur.model, "%s/%s", provider, model);
}

void usage_request_tokens_add(long prompt, long completion)
{
	if (!cur.active)
		return;
	cur.prompt += prompt > 0 ? prompt : 0;
	cur.completion += completion > 0 ? completion : 0;
}

void usage_request_interrupted(bool interrupted)
{
	if (cur.active)
		cur.interrupted = interrupted;
}

void usage_first_token(void)
{
	if (cur.active && cur.first_us < 0)
		cur.first_us = clock_mono_us();
}

void usage_request_estimate(long prompt)
{
	if (cur.active)
		cur.prompt_estimate = prompt > 0 ? prompt : 0;
}

void usage_request_estimate_add(long prompt)
{
	if (cur.active && prompt > 0)
		cur.prompt_estimate += prompt;
}

void usage_request_reserved(long long window, long tokens)
{
	if (!cur.active)
		return;
	cur.rate_window = window;
	cur.reserved = tokens;
}

long usage_request_reservation(long long *window)
{
	*window = cur.active ? cur.rate_window : 0;
	return cur.active ? cur.reserved : 0;
}

long usage_request_estimated(long completion)
{
	if (!cur.active)
		return 0;
	cur.prompt += cur.prompt_estimate;
	cur.completion += completion > 0 ? completion : 0;
	cur.estimated = true;
	return cur.prompt_estimate;
}

void usage_request_unlogged(void)
{
	cur.enabled = false;
}

long usage_request_tokens(void)
{
	return cur.active ? cur.prompt + cur.completion : 0;
}

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

/* r's latency and time to first token, as of now. */
static void finish(struct record *r)
{
	long long now_us = clock_mono_us();

	r->latency_ms = (double)(now_us - r->start_us) / 1000.0;
	r->ttft_ms = r->first_us < 0 ? -1 : (double)(r->first_us - r->start_us) / 1000.0;
}

/* r (finished) as a store row pointing into r. */
static void to_row(const struct record *r, struct store_usage *row)
{
	*row = (struct store_usage){
		.time = r->start_ms,
		.endpoint = r->endpoint ? r->endpoint : "other",
		.agent_id = or_null(r->agent),
		.auth_kind = r->auth_kind,
		.auth_name = or_null(r->auth_name),
		.session_key = or_null(r->session),
		.model = or_null(r->model),
		.status = r->status,
		.prompt_tokens = r->prompt,
		.completion_tokens = r->completion,
		.latency_ms = r->latency_ms,
		.ttft_ms = r->ttft_ms,
		.interrupted = r->interrupted,
		.estimated = r->estimated,
	};
}

const struct store_usage *usage_turn_row(void)
{
	if (!cur.active || !cur.enabled)
		return NULL;
	cur.status = 200;
	finish(&cur);
	to_row(&cur, &turn_row);
	cur.logged = true;
	return &turn_row;
}

void usage_turn_row_lost(void)
{
	cur.logged = false;
}

void usage_request_end(int status)
{
	if (!cur.active || !cur.enabled || cur.logged) {
		cur.active = false;
		return;
	}
	cur.status = status;
	finish(&cur);
	pthread_mutex_lock(&queue_lock);
	if (!queue)
		queue = malloc(USAGE_QUEUE_MAX * sizeof *queue);
	if (queue && queued < USAGE_QUEUE_MAX) {
		queue[queued++] = cur;
		if (queued == USAGE_QUEUE_MAX / 2)
			pthread_cond_signal(&queue_cond);
	} else {
		dropped++;
	}
	pthread_mutex_unlock(&queue_lock);
	cur.active = false;
}

/* Take the queue: the buffer and its rows go to *rows (the caller gives
 * it back with give_back). */
static size_t take_queue(struct record **rows, long *lost)
{
	size_t n;

	pthread_mutex_lock(&queue_lock);
	n = queued;
	*rows = queue;
	queue = spare;
	spare = NULL;
	queued = 0;
	*lost = dropped;
	dropped = 0;
	pthread_mutex_unlock(&queue_lock);
	return n;
}

/* A written queue buffer, to be the next spare (or freed). */
static void give_back(struct record *rows)
{
	pthread_mutex_lock(&queue_lock);
	if (!spare) {
		spare = rows;
		rows = NULL;
	}
	pthread_mutex_unlock(&queue_lock);
	free(rows);
}

/* Write n (> 0) rows through w's store for c, and now and then prune old
 * ones: 0, or -1 when they were not written (logged).  The rows as the
 * store takes them go in out, the caller's, kept from one call to the
 * next (room for USAGE_QUEUE_MAX, made when needed). */
static int write_rows(struct worker *w, const struct cfg *c, struct record *rows, size_t n,
		      struct store_usage **out_buf)
{
	struct store_usage *out = *out_buf;
	struct store *s;
	struct err e;

	if (!out && !(out = *out_buf = malloc(USAGE_QUEUE_MAX * sizeof *out))) {
		log_error("usage log: %zu rows not written: out of memory", n);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		to_row(&rows[i], &out[i]);
	if (worker_store(w, c, &s, &e) < 0 || store_usage_add(s, out, n, &e) < 0) {
		if (!failing)
			log_error("usage log: %zu rows not written, kept to try again each "
				  "second: %s",
				  n, e.message);
		return -1;
	}
	if (failing)
		log_warn("usage log: %zu rows written after the store refused them for %lld s", n,
			 (clock_mono_ms() - failing_since_ms + 999) / 1000);
	if (c->usage.retention_days > 0 &&
	    (!purged || clock_mono_ms() - last_purge_ms >= USAGE_PURGE_MS)) {
		long deleted = 0;
		purged = true; /* at a process's first write, then hourly */
		last_purge_ms = clock_mono_ms();
		if (store_usage_purge(s, clock_wall_ms() - c->usage.retention_days * DAY_MS,
				      &deleted, &e) < 0)
			log_error("usage log: old rows not deleted: %s", e.message);
		else if (deleted)
			log_info("usage log: %ld rows older than %d days deleted", deleted,
				 c->usage.retention_days);
	}
	return 0;
}

/*
 * Rows (n of them, in the buffer take_queue gave) that were not written go
 * back at the queue's head, before the rows queued since; what does not
 * fit in USAGE_QUEUE_MAX, the newest, is dropped and counted.
 */
static void requeue(struct record *rows, size_t n)
{
	struct record *old;
	size_t keep;

	pthread_mutex_lock(&queue_lock);
	keep = queued < USAGE_QUEUE_MAX - n ? queued : USAGE_QUEUE_MAX - n;
	if (keep)
		memcpy(rows + n, queue, keep * sizeof *rows);
	dropped += (long)(queued - keep);
	old = queue;
	queue = rows;
	queued = n + keep;
	if (!spare) {
		spare = old;
		old = NULL;
	}
	pthread_mutex_unlock(&queue_lock);
	free(old);
}

/* lost rows were given up: the log says so, /metrics counts them. */
static void note_dropped(long lost, const char *why)
{
	char whyseg[200];

	if (!lost)
		return;
	log_error("usage log: %ld rows dropped: %s", lost, why);
	metrics_usage_dropped(metrics_process_seg(whyseg, sizeof whyseg), (unsigned long)lost);
}

static void flush(struct worker *w, const struct cfg *c, bool last)
{
	static _Thread_local struct store_usage *out; /* the calling thread's, kept */
	struct record *rows;
	long lost;
	size_t n = take_queue(&rows, &lost);

	note_dropped(lost, "the queue was full (the store refused rows for a while)");
	if (n && c && write_rows(w, c, rows, n, &out) < 0) {
		if (!failing)
			failing_since_ms = clock_mono_ms();
		failing = true;
		if (last) {
			note_dropped((long)n, "the store refused them as the process ended");
		} else {
			requeue(rows, n);
			return;
		}
	} else if (n && c) {
		failing = false;
	}
	give_back(rows);
}

void usage_flush(struct worker *w, const struct cfg *c)
{
	flush(w, c, true);
}

static void *writer(void *arg)
{
	struct worker w = WORKER_INIT;

	(void)arg;
	for (;;) {
		struct timespec until;
		struct cfg *c;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += USAGE_FLUSH_MS / 1000;
		pthread_mutex_lock(&queue_lock);
		/* while the store refuses rows, try again once a second only */
		while ((failing || queued < USAGE_QUEUE_MAX / 2) &&
		       pthread_cond_timedwait(&queue_cond, &queue_lock, &until) == 0)
			;
		pthread_mutex_unlock(&queue_lock);
		if (!(c = cfg_acquire()))
			continue;
		if (c->usage.enabled)
			flush(&w, c, false);
		cfg_release(c);
	}
	return NULL;
}

void usage_start(void)
{
	pthread_t t;
	pthread_attr_t attr;
	bool start;

	pthread_mutex_lock(&queue_lock);
	start = !writer_started;
	writer_started = true;
	pthread_mutex_unlock(&queue_lock);
	if (!start)
		return;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, writer, NULL) != 0)
		log_error("usage log: no writer thread: the rows of requests without a turn "
			  "are not written");
	pthread_attr_destroy(&attr);
}
