/*
 * agent.h - preparing a turn (choosing the agent, SPEC.md section 4;
 * deriving the session key, section 5; the model and the system text) and
 * running it: the one code path for a turn, whoever asks (the HTTP
 * handlers, the command line).
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

#include "answer.h"
#include "buf.h"
#include "config.h"
#include "err.h"
#include "provider.h"
#include "worker.h"

#define AGENT_ID_MAX CFG_AGENT_ID_MAX
#define AGENT_SESSION_KEY_MAX 256

/*
 * The agent id named by an OpenAI `model` string: "openclaw:<id>",
 * "openclaw/<id>" or "agent:<id>" with <id> an agent id (config.h's rule,
 * any case).  Returns 1 and the lower-cased id, or 0 when model is no such
 * alias (it then means the default agent).
 */
int agent_model_alias(const char *model, char id[AGENT_ID_MAX + 1]);

/* Who asks for a turn; its inputs are named so in error messages. */
enum agent_caller {
	AGENT_CALLER_HTTP, /* "`x-openclaw-agent-id` header", ... */
	AGENT_CALLER_CLI,  /* "--agent", ... */
};

/*
 * The agent: header_id first (x-openclaw-agent-id or --agent, may be NULL;
 * trimmed), then the model alias, then the default agent.  Returns 0 with
 * *out (pointing into c), or -1 with e: 404 model_not_found naming the id,
 * 400 for a malformed header_id (named as the caller calls it).
 */
int agent_select(const struct cfg *c, const char *header_id, const char *model,
		 enum agent_caller caller, const struct cfg_agent **out, struct err *e);

/*
 * The session key: header_key (x-openclaw-session-key or --session-key;
 * trimmed, 1-256 bytes, no control characters, else 400), else
 * "agent:<id>:openai-user:<user lower-cased>" (user under the same
 * rules, else 400 naming `user` or --user), else a new
 * "agent:<id>:openai:<uuid>".  *stable tells whether it persists.  Returns
 * 0 with *out heap-allocated for the caller to free, or -1 with e.
 */
int agent_session_key(const char *header_key, const char *user, const char *agent_id,
		      enum agent_caller caller, char **out, bool *stable, struct err *e);

/*
 * A session key in a client's scope: "<scope>:<key>" (scope "key:NAME" or
 * "user:NAME"), so the same session key or `user` under two clients names
 * two sessions; key itself when scope is NULL or "" (the operator).  *key
 * (heap) is replaced.  0, or -1 with e (out of memory).
 */
int agent_scope_key(const char *scope, char **key, struct err *e);

/* A random UUID v4, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
void agent_uuid4(char out[37]);

/*
 * How many leading messages of req repeat the end of the stored history
 * (clients that resend the whole conversation): the largest k < len(req)
 * such that req[0..k) ends with the stored tail, compared by role and by
 * text with whitespace runs collapsed.  Those k are dropped.  The history
 * messages compared are opened (message.h: msg_open).
 */
int agent_dedupe(cJSON *history, const cJSON *req);

/*
 * The model an x-openclaw-model header (or --model) names:
 * "provider/model-id" with a configured provider.  Returns 0 with *out
 * (its model pointing into ref), or -1 with e: 400 naming the header (or
 * option) for a malformed value or an unknown provider.
 */
int agent_model_override(const struct cfg *c, const char *ref, enum agent_caller caller,
			 struct cfg_model *out, struct err *e);

/* What a caller knows of the turn it wants; every field may be NULL. */
struct agent_turn_source {
	enum agent_caller caller;
	const char *agent_id;	    /* x-openclaw-agent-id (else x-openclaw-agent), --agent */
	const char *model;	    /* the request's `model`: an agent alias, or anything
				       else for the default agent */
	const char *model_override; /* x-openclaw-model, --model: "provider/model-id";
				       "" is none */
	const char *session_key;    /* x-openclaw-session-key, --session-key */
	const char *user;	    /* the OpenAI `user` field, --user */
	const char *system_text;    /* the request's own system text, after the agent's */
	bool stream;		    /* the client wants the answer streamed */
	const char *scope;	    /* the client's session scope ("key:NAME", "user:NAME";
				       NULL or "" for none): its sessions are its own */
};

/* The HTTP headers that steer a turn (SPEC.md sections 4 and 5). */
typedef const char *(*agent_header_fn)(const void *ctx, const char *name);

/* Fill src's agent_id, model_override and session_key from the request
 * headers that header(ctx, name) looks up. */
void agent_source_headers(struct agent_turn_source *src, agent_header_fn header, const void *ctx);

struct agent_turn {
	/* in */
	const struct cfg *cfg;
	const struct cfg_agent *agent;
	struct cfg_model model; /* agent's model or the x-openclaw-model override */
	bool model_override;
	char *session_key; /* owned */
	bool stable;
	char run_id[37];
	struct buf system_text; /* agent prompt + request system/developer text */
	cJSON *messages;	/* owned: user/assistant/tool messages, in order */
	cJSON *params;		/* owned, NULL when none */
	/* How the client named messages, for a 400 naming one: messages[k] is
	 * item origin[k] (NULL: k) of its list origin_list (NULL: "messages"),
	 * a tool result's call id its field origin_call_id (NULL:
	 * "tool_call_id").  Borrowed: they must outlive the turn's run. */
	const int *origin;
	const char *origin_list;
	const char *origin_call_id;
	bool stream;
	struct worker *worker; /* the calling worker's curl handle and store */
	/* Responses API: when response_id is set and the turn is persisted,
	 * make_response(t, ctx) builds the response object (new tree, NULL
	 * when out of memory), kept under that id in the turn's transaction
	 * and left in t->response (owned) for the caller to send. */
	const char *response_id;
	cJSON *(*make_response)(const struct agent_turn *t, void *ctx);
	void *make_response_ctx;
	cJSON *response;
	/* the session held from its history's reading to its answer's storing
	 * (agent_session_hold; let go by agent_run_turn and agent_turn_free) */
	struct store_lock lock;
	/* Called once a stable session's history is read, before the model is
	 * (NULL: not called): history_bytes is its messages' JSON text.  A
	 * return < 0 (e set, e.g. a 429 over tpm) ends the turn there. */
	int (*admit_history)(void *ctx, size_t history_bytes, struct err *e);
	void *admit_ctx;
	/* out */
	struct answer answer; /* everything the provider produced, by choice */
	struct prov_result res;
};

void agent_turn_init(struct agent_turn *t);
void agent_turn_free(struct agent_turn *t);

/*
 * Prepare t (agent_turn_init'ed) from src: the agent (header, then model
 * alias, then default), the model (the agent's, or the override), the
 * session key (in src's scope), the system text (the agent's prompt, a blank line, src's)
 * and the stream flag.  The caller then sets t->messages, t->params and
 * t->worker.  Returns 0, or -1 with e: 400 naming the malformed input,
 * 404 model_not_found for an unknown agent, 500 out of memory.
 */
int agent_turn_prepare(struct agent_turn *t, const struct cfg *c,
		       const struct agent_turn_source *src, struct err *e);

/*
 * Hold t's session (stable) in store for the turn, unless t holds it
 * already: wait up to the config's session.lockWaitSeconds while another
 * turn holds it, asking stop(ctx) now and then (NULL: never; < 0 ends the
 * wait).  Returns 0, or -1 with e: 409 conversation_locked when the wait
 * ran out, t->res.cancelled set when stop ended it, 500 when the store
 * failed.
 */
int agent_session_hold(struct agent_turn *t, struct store *store, int (*stop)(void *ctx), void *ctx,
		       struct err *e);
/* Let go of t's session if t holds it. */
void agent_session_release(struct agent_turn *t);

/*
 * Run one turn: for a stable session, hold it (agent_session_hold, stop
 * being the sink's idle callback), load its history and drop what the
 * request repeats; check that every tool result of the request answers a
 * tool call before it in the conversation (history, then request), else
 * 400 naming the result as the client named it (t->origin...), with
 * nothing called or stored; call the provider with sink (the answer is
 * also collected in t->answer); then persist the new messages and the
 * answer in one transaction (also a partial answer when the client left,
 * marked interrupted), and let go of the session.  Returns 0, or -1 with
 * e; t->res.started says whether the sink had already begun its response.
 */
int agent_run_turn(struct agent_turn *t, struct prov_sink *sink, struct err *e);

#endif
