/*
 * agent.h - choosing the agent (SPEC.md section 4), deriving the session
 * key (section 5), and the turn runner shared by the HTTP handler and the
 * command line.
 *
 * A turn owns its messages, parameters and results; agent_turn_free()
 * releases them.  The config it points into must stay referenced by the
 * caller until then.
 */
#ifndef CLAW_AGENT_H
#define CLAW_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "config.h"
#include "provider.h"
#include "store.h"

#define AGENT_ID_MAX 64
#define AGENT_SESSION_KEY_MAX 256

/*
 * The agent id named by an OpenAI `model` string: "openclaw:<id>",
 * "openclaw/<id>" or "agent:<id>" with <id> matching
 * [a-z0-9][a-z0-9_-]{0,63} (any case).  Returns 1 and the lower-cased id,
 * or 0 when model is no such alias (it then means the default agent).
 */
int agent_model_alias(const char *model, char id[AGENT_ID_MAX + 1]);

/*
 * Header first (x-openclaw-agent-id, already looked up, may be NULL), then
 * the model alias, then the default agent.  Returns 0 with *out set, or -1
 * with e: 404 model_not_found naming the id, 400 for a malformed header.
 */
int agent_select(const struct cfg *c, const char *header_id, const char *model,
		 const struct cfg_agent **out, struct err *e);

/*
 * The session key: header (trimmed, 1-256 bytes, no control characters,
 * else 400), else "agent:<id>:openai-user:<user lower-cased>", else a new
 * "agent:<id>:openai:<uuid>".  *stable tells whether it persists.  The key
 * is heap-allocated for the caller to free.
 */
int agent_session_key(const char *header_key, const char *user,
		      const char *agent_id, char **out, bool *stable,
		      struct err *e);

/* A random UUID v4, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
void agent_uuid4(char out[37]);

/*
 * A worker thread's reusable resources: its curl handle and its store
 * connection (opened on first use, reopened when session.store changes).
 */
struct agent_env {
	CURL *curl;
	struct store *store;
};

/* The env's store for c->store_path, opening it if needed. */
int agent_env_store(struct agent_env *env, const struct cfg *c, struct store **out,
		    struct err *e);
void agent_env_free(struct agent_env *env);

/*
 * How many leading messages of req repeat the end of the stored history
 * (clients that resend the whole conversation): the largest k < len(req)
 * such that req[0..k) ends with the stored tail, compared by role and by
 * text with whitespace runs collapsed.  Those k are dropped.
 */
int agent_dedupe(const cJSON *history, const cJSON *req);

struct agent_turn {
	/* in */
	const struct cfg *cfg;
	const struct cfg_agent *agent;
	struct cfg_model model;   /* agent's model or the x-openclaw-model override */
	bool model_override;
	char *session_key;        /* owned */
	bool stable;
	char run_id[37];
	struct buf system_text;   /* agent prompt + request system/developer text */
	cJSON *messages;          /* owned: user/assistant/tool messages, in order */
	cJSON *params;            /* owned, NULL when none */
	bool stream;
	struct agent_env *env;    /* the worker's curl handle and store */
	/* out */
	struct buf answer;        /* everything the provider produced */
	struct prov_result res;
};

void agent_turn_init(struct agent_turn *t);
void agent_turn_free(struct agent_turn *t);

/*
 * Run one turn: for a stable session, load its history and drop what the
 * request repeats; call the provider with sink (the answer is also
 * collected in t->answer); then persist the new messages and the answer in
 * one transaction (also a partial answer when the client left, marked
 * interrupted).  Returns 0, or -1 with e; t->res.started says whether the
 * sink had already begun its response.
 */
int agent_run_turn(struct agent_turn *t, struct prov_sink *sink, struct err *e);

#endif
