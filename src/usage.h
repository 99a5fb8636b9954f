/*
 * usage.h - the usage log (README "Usage log"): one row per request in the
 * store, kept usage.retentionDays.  A request's facts are noted in its
 * thread's record as they happen (the agent, the session, the model that
 * served after fallbacks, tokens, the first token's time); a turn's row
 * goes into the turn's own transaction (usage_turn_row, agent.c); any
 * other request's row is queued and written by a background thread within
 * a second, in batches (FastCGI), or at once at the request's end (CGI,
 * usage_flush).
 *
 * The record is also what per-client token limits count (router.c reads
 * usage_request_tokens).  Noting is a no-op on a thread whose request did
 * not begin; it never fails a request: a batch the store refuses is kept
 * (at most USAGE_QUEUE_MAX rows a process) and tried again each second;
 * rows past that are dropped, logged and counted in /metrics
 * (clawcgi_usage_rows_dropped_total).
 */
#ifndef CLAW_USAGE_H
#define CLAW_USAGE_H

#include <stdbool.h>

#include "config.h"
#include "store.h"
#include "worker.h"

/*
 * Start this thread's record: enabled says whether its row is logged
 * (usage.enabled); endpoint is the request's ("chat_completions",
 * "responses", "embeddings", "models", ...; a string literal).
 */
void usage_request_begin(bool enabled, const char *endpoint);
/* Who it is from: auth_kind "operator", "key", "user" or "none"; name the
 * key's or user's (NULL or "" for none).  Both copied. */
void usage_request_client(const char *auth_kind, const char *name);
/* The agent it was given to (copied). */
void usage_request_agent(const char *agent_id);
/* The stable session it continued (copied). */
void usage_request_session(const char *session_key);
/* The model that answered: provider and model id (copied). */
void usage_request_model(const char *provider, const char *model);
/* Tokens used (added), and whether the client left before the end. */
void usage_request_tokens_add(long prompt, long completion);
void usage_request_interrupted(bool interrupted);
/* The first piece of the answer came now. */
void usage_first_token(void);
/* The request's prompt as auth.c estimates it (auth_estimate), noted
 * once its body is parsed: usage_request_estimated counts it. */
void usage_request_estimate(long prompt);
/* More of the prompt's estimate: a stable session's history, once read. */
void usage_request_estimate_add(long prompt);
/* Tokens reserved for it in its client's window (auth_tokens_reserve),
 * and which window; usage_request_reservation gives them back (0: none). */
void usage_request_reserved(long long window, long tokens);
long usage_request_reservation(long long *window);
/* No usage came for a call that ran (the client left a stream, the
 * upstream sent none): count the prompt's estimate and completion (the
 * relayed text's bytes / 4) instead, and mark the row estimated.
 * Returns the prompt tokens counted. */
long usage_request_estimated(long completion);
/* This request leaves no row (a failed authentication of an address whose
 * minute has its row already). */
void usage_request_unlogged(void);
/* Tokens counted so far (prompt + completion). */
long usage_request_tokens(void);

/*
 * The row of this request as it stands, with status 200, for a turn's own
 * transaction; the request is then logged (its end adds no row).  NULL
 * when the log is off or no request began.  Valid until the next call on
 * this thread.
 */
const struct store_usage *usage_turn_row(void);
/* A turn row from usage_turn_row was not stored after all (its
 * transaction failed): the request's end logs it. */
void usage_turn_row_lost(void);

/*
 * The request ended with status: queue its row (unless its turn stored
 * it).  A FastCGI process's writer thread (usage_start) writes queued rows
 * within a second; without it, call usage_flush.
 */
void usage_request_end(int status);

/* Start the process's writer thread (serve.c, FastCGI); idempotent. */
void usage_start(void);

/*
 * Write every queued row now through w's store for c, and, now and then,
 * delete rows older than c's usage.retentionDays.  For CGI (one request a
 * process) and at a process's end.
 */
void usage_flush(struct worker *w, const struct cfg *c);

#endif
