/* Unit tests for src/usage.c: a request's record (client, agent, session,
 * model, tokens, first token), its row put in a turn or queued, nothing
 * when the log is off or no request began, the queue written into a real
 * SQLite store by usage_flush, and old rows pruned at a process's first
 * write. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "config.h"
#include "store.h"
#include "usage.h"
#include "worker.h"

struct rows {
	int n;
	struct store_usage last;
	char endpoint[32], agent[32], kind[16], name[32], session[64], model[64];
};

static int collect(void *ctx, const struct store_usage *u)
{
	struct rows *r = ctx;

	r->n++;
	r->last = *u;
	snprintf(r->endpoint, sizeof r->endpoint, "%s", u->endpoint);
	snprintf(r->agent, sizeof r->agent, "%s", u->agent_id ? u->agent_id : "(null)");
	snprintf(r->kind, sizeof r->kind, "%s", u->auth_kind);
	snprintf(r->name, sizeof r->name, "%s", u->auth_name ? u->auth_name : "(null)");
	snprintf(r->session, sizeof r->session, "%s", u->session_key ? u->session_key : "(null)");
	snprintf(r->model, sizeof r->model, "%s", u->model ? u->model : "(null)");
	return 0;
}

static struct rows scan(struct store *s)
{
	struct rows r;
	struct err e;

	memset(&r, 0, sizeof r);
	if (store_usage_scan(s, 0, (long long)4e15, collect, &r, &e) < 0)
		r.n = -1;
	return r;
}

int main(void)
{
	char dir[] = "/tmp/test_usage.XXXXXX", text[1024], err[600];
	struct worker w = WORKER_INIT;
	struct cfg *c = NULL;
	struct store *s;
	struct err e;
	struct rows r;
	const struct store_usage *row;
	struct timespec ms = {0, 2 * 1000 * 1000};

	CHECK(mkdtemp(dir) != NULL, "a scratch directory");
	snprintf(text, sizeof text,
		 "{ models: { providers: { echo: { api: 'echo' } } }, agents: { defaults: { "
		 "model: 'echo/echo' } }, session: { store: '%s/s.db' }, usage: { retentionDays: "
		 "30 } }",
		 dir);
	CHECK(cfg_load_text("t.json5", text, strlen(text), &c, err, sizeof err) == 0,
	      "a config with a store");
	if (!c || worker_store(&w, c, &s, &e) < 0)
		return check_done();

	/* No request began: nothing noted, nothing queued, no turn row. */
	usage_request_agent("main");
	usage_request_tokens_add(5, 5);
	CHECK(usage_request_tokens() == 0 && usage_turn_row() == NULL,
	      "no request began: notes are ignored");
	usage_request_end(200);
	usage_flush(&w, c);
	CHECK_INT(scan(s).n, 0, "no request began: no row");

	/* A row older than retentionDays, pruned at this process's first write. */
	{
		struct store_usage old = {.time = clock_wall_ms() - 40LL * 86400 * 1000,
					  .endpoint = "models",
					  .auth_kind = "operator",
					  .status = 200,
					  .ttft_ms = -1};
		CHECK(store_usage_add(s, &old, 1, &e) == 0 && scan(s).n == 1, "an old row stored");
	}

	/* A stateless request: queued, written by usage_flush. */
	usage_request_begin(true, "chat_completions");
	usage_request_client("key", "ci-bot");
	usage_request_agent("main");
	usage_request_model("echo", "echo");
	nanosleep(&ms, NULL);
	usage_first_token();
	usage_first_token(); /* the first one counts */
	usage_request_tokens_add(7, 3);
	usage_request_tokens_add(-4, 1); /* nothing below zero */
	CHECK_INT(usage_request_tokens(), 11, "tokens add up, negatives ignored");
	usage_request_end(200);
	CHECK_INT(scan(s).n, 1, "queued, not yet written");
	usage_flush(&w, c);
	r = scan(s);
	CHECK_INT(r.n, 1, "flushed: the new row, and the 40-day-old one pruned");
	CHECK(!strcmp(r.endpoint, "chat_completions") && !strcmp(r.agent, "main") &&
		      !strcmp(r.kind, "key") && !strcmp(r.name, "ci-bot") &&
		      !strcmp(r.session, "(null)") && !strcmp(r.model, "echo/echo") &&
		      r.last.status == 200 && r.last.prompt_tokens == 7 &&
		      r.last.completion_tokens == 4 && !r.last.interrupted,
	      "the row's columns");
	CHECK(r.last.latency_ms >= 2 && r.last.ttft_ms >= 2 && r.last.ttft_ms <= r.last.latency_ms,
	      "latency and time to first token in ms");

	/* A turn: its row goes with the turn; the end adds none. */
	usage_request_begin(true, "responses");
	usage_request_session("agent:main:openai-user:bob");
	usage_request_interrupted(true);
	row = usage_turn_row();
	CHECK(row && row->status == 200 && !strcmp(row->endpoint, "responses") &&
		      !strcmp(row->session_key, "agent:main:openai-user:bob") && row->interrupted &&
		      row->ttft_ms < 0 && !strcmp(row->auth_kind, "none") && !row->auth_name,
	      "a turn's row: status 200, its session, interrupted, no first token, no client");
	usage_request_end(200);
	usage_flush(&w, c);
	CHECK_INT(scan(s).n, 1, "a turn's row is the turn's: the end queues nothing");

	/* A turn whose transaction failed: the end logs the request. */
	usage_request_begin(true, "chat_completions");
	CHECK(usage_turn_row() != NULL, "a turn row");
	usage_turn_row_lost();
	usage_request_end(500);
	usage_flush(&w, c);
	r = scan(s);
	CHECK(r.n == 2 && r.last.status == 500,
	      "a lost turn row: logged at the end, with its status");

	/* The log off: no turn row, nothing queued. */
	usage_request_begin(false, "chat_completions");
	CHECK(usage_turn_row() == NULL, "log off: no turn row");
	usage_request_tokens_add(2, 2);
	CHECK_INT(usage_request_tokens(), 4, "log off: tokens still counted (for rate limits)");
	usage_request_end(200);
	usage_flush(&w, c);
	CHECK_INT(scan(s).n, 2, "log off: no row");

	worker_free(&w);
	cfg_free(c);
	snprintf(text, sizeof text, "rm -rf '%s'", dir);
	if (system(text) != 0)
		return 1;
	return check_done();
}
