/*
 * auth.h - checking the gateway's credentials (SPEC.md section 3), and
 * throttling failed attempts per client address.  The throttle's state
 * lives in the session store, so every worker process shares it.
 *
 * gateway.auth.mode "keys" adds client keys (clawcgi keys; README "Client
 * keys"): "ck-" and 64 hex digits, 256 bits from getrandom(2), kept in the
 * store as their SHA-256 (OpenSSL's libcrypto).  "remote-user" trusts the
 * web server's REMOTE_USER, a FastCGI/CGI parameter (never a header).
 * Either gives a request a client (struct auth_client) with its agents and
 * its per-minute limits, counted in the store across processes and hosts,
 * and answered as OpenAI does (429 rate_limit_exceeded, x-ratelimit-*).
 */
#ifndef CLAW_AUTH_H
#define CLAW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "config.h"
#include "http.h"
#include "store.h"
#include "worker.h"

/*
 * Check an Authorization header value (NULL when absent) against the
 * config.  Returns 0 when allowed; -1 with e set to 401 (wrong or missing
 * credentials) or 500 (the configured mode has no secret: fails closed,
 * and the missing setting is logged, never put in e).
 */
int auth_check(const struct cfg *c, const char *authorization, struct err *e);

/*
 * auth_check with throttling: an address locked out gets 429 rate_limited
 * (even with the right credentials) and *retry_after seconds; a failure is
 * counted in store (NULL: no throttling), unless the request had no
 * Authorization header at all (it tried no secret).  Loopback addresses are exempt
 * unless the config says otherwise.  A store error does not lock anyone out
 * (logged; the check itself still runs).
 */
int auth_check_throttled(const struct cfg *c, struct store *store, const char *addr,
			 const char *authorization, long *retry_after, struct err *e);

/* Who a request is from, once authenticated. */
enum auth_kind {
	AUTH_ANYONE,   /* gateway.auth.mode none */
	AUTH_OPERATOR, /* the gateway token or password */
	AUTH_KEY,      /* a client key */
	AUTH_USER,     /* the web server's REMOTE_USER */
};

/* A remote user's name at most (a key's is at most 64), and a scope: "user:"
 * and the name with ':' and '%' percent-encoded. */
#define AUTH_NAME_MAX CFG_USER_NAME_MAX
#define AUTH_SCOPE_MAX (5 + 3 * AUTH_NAME_MAX)

struct auth_client {
	enum auth_kind kind;
	char name[AUTH_NAME_MAX + 1];	/* the key's or user's name; "" otherwise */
	char scope[AUTH_SCOPE_MAX + 1]; /* "key:NAME", "user:NAME"; "" for the others:
					 * its sessions' prefix, its rate windows' name */
	char agents[1024];		/* agent ids joined by ','; "" = every agent */
	long rpm;			/* requests per minute, 0 = no limit */
	long tpm;			/* tokens per minute, 0 = no limit */
	long long rate_window;		/* the window auth_rate_take counted it in */
};

/* "none" (gateway.auth.mode none: anyone), "operator", "key", "user": the
 * usage log's auth_kind. */
const char *auth_kind_name(enum auth_kind k);

/*
 * Authenticate a request under every mode: auth_check_throttled for the
 * secret (in keys mode the operator's secret when set, else a client key
 * looked up by its hash: revoked or expired is a 401 saying so), or the
 * remote user (remote_user: the REMOTE_USER parameter; absent or empty is
 * a 401, and nothing is counted against the address, as the web server
 * authenticates).  Returns 0 with *who filled, or -1 with e (401, 429 and
 * *retry_after, 500 when the store cannot be read in keys mode).
 */
int auth_identify(const struct cfg *c, struct store *store, const char *addr,
		  const char *authorization, const char *remote_user, struct auth_client *who,
		  long *retry_after, struct err *e);

/* Whether auth_identify for a request from addr reads or writes the store
 * (the failed-auth throttle, client keys); when not, it may get NULL and
 * the request opens no store to authenticate. */
bool auth_needs_store(const struct cfg *c, const char *addr);

/* Whether who may use agent_id (its list is empty, or names it; a NULL
 * who may use every agent). */
bool auth_allows_agent(const struct auth_client *who, const char *agent_id);
/* The same as an error: 0, or -1 with e 403 permission_denied naming the
 * agent. */
int auth_agent_check(const struct auth_client *who, const char *agent_id, struct err *e);
/*
 * Whether who may use model m: a client with an agent list only the models
 * of its own agents (each one's model, fallbacks and embeddingModel, the
 * same provider and the same model id); every model for the others (and a
 * NULL who).
 */
bool auth_allows_model(const struct auth_client *who, const struct cfg *c,
		       const struct cfg_model *m);

/*
 * Everything a request is about to reach, held to who's agents in the one
 * place every endpoint that calls a model goes through (chat, responses,
 * embeddings): the agent (auth_agent_check), the model it will call
 * (auth_allows_model: an x-openclaw-model header's, or the agent's own),
 * and, when params (the fields passed to the provider as sent; may be
 * NULL) has one, a field that would have the upstream pick another model
 * (a name holding "model" or "fallback" in any case, "engine",
 * "deployment_id", "user_config").  0, or -1 with e 403 permission_denied
 * naming the agent, the model (param "x-openclaw-model") or the field
 * (param_text the field as sent).
 */
int auth_reach_check(const struct auth_client *who, const struct cfg *c, const char *agent_id,
		     const struct cfg_model *m, const cJSON *params, struct err *e);

/*
 * An x-openclaw-model value ref (NULL or "" for none) checked before it is
 * parsed: for a client with agents, one naming a provider that is not
 * configured is the same 403 permission_denied (param "x-openclaw-model")
 * as a model it may not use, so a key cannot learn which provider names
 * exist from the 400 others get.  0 otherwise (a malformed ref is left to
 * the parser's 400, which tells nothing of the config).
 */
int auth_override_check(const struct auth_client *who, const struct cfg *c, const char *ref,
			struct err *e);

/* Whether a stored session key is who's to use: a client key's or user's
 * own scope; every session for the operator (and a NULL who). */
bool auth_owns_session(const struct auth_client *who, const char *session_key);

/*
 * Count a request of who in the current minute window of the store (no-op
 * without limits).  Fills headers (size n, "" without limits) with the
 * x-ratelimit-{limit,remaining,reset}-{requests,tokens} lines OpenAI sends
 * (CRLF-ended).  Returns 0, or -1 with e: 429 rate_limit_exceeded with
 * *retry_after seconds (nothing counted), 500 for a store error.
 */
int auth_rate_take(const struct auth_client *who, struct store *store, long long now_ms,
		   char *headers, size_t n, long *retry_after, struct err *e);

/* The start (ms) of the minute window now_ms is in. */
long long auth_rate_window(long long now_ms);

/* What a request's completion is counted as, reserved, when it names no
 * max_tokens, max_completion_tokens or max_output_tokens (README "Client
 * keys"). */
#define AUTH_DEFAULT_MAX_TOKENS 256

/*
 * A request's token estimate: prompt_bytes / 4 rounded up (the request's
 * body), plus max_out when > 0, AUTH_DEFAULT_MAX_TOKENS when < 0 (none
 * given), nothing when 0 (an endpoint that generates no text).
 */
long auth_estimate(size_t prompt_bytes, long max_out);

/* A chat request's params' max_completion_tokens, else max_tokens, else
 * max_output_tokens (whole numbers > 0), or -1 when none is given; with n
 * (2-128 choices) n times that, or n times AUTH_DEFAULT_MAX_TOKENS. */
long auth_max_out(const cJSON *params);

/*
 * Once the endpoint has read and parsed r's body (chat.c, responses.c,
 * embeddings.c call it; router.c has counted the request): note the
 * prompt's estimate in the usage record (usage_request_estimate), and for
 * a client with a tpm, reserve auth_estimate(prompt_bytes, max_out) in
 * the window auth_rate_take counted r in (store_rate_reserve: refused when
 * the window's tokens, used and reserved, have reached tpm).  The
 * reservation is noted (usage_request_reserved) and settled at the
 * request's end by auth_rate_settle.  A refusal rewrites r->extra_headers
 * with the window's counts as they are.  Returns 0, or -1 with e: 429 rate_limit_exceeded
 * (Retry-After added to r->extra_headers; the request is not counted), 500
 * when the store cannot count.
 */
int auth_tokens_reserve(struct http_req *r, struct worker *w, const struct cfg *c,
			size_t prompt_bytes, long max_out, struct err *e);

/*
 * A stable session's stored history, once the turn has read it
 * (history_bytes: the JSON text of its messages): its estimate,
 * history_bytes / 4 rounded up, is added to the prompt's in the usage
 * record and, for a client with a tpm, reserved on top of what
 * auth_tokens_reserve reserved, refused when the window's tokens less r's
 * own reservation have reached tpm.  So a one-line request on a long
 * session is counted at its whole prompt's size before the model is
 * called.  Returns 0, or -1 with e as auth_tokens_reserve (429: nothing
 * of r stays counted once it is settled).
 */
int auth_tokens_history(struct http_req *r, struct worker *w, const struct cfg *c,
			size_t history_bytes, struct err *e);

/* auth_tokens_history as a turn's admit_history (agent.h): ctx is a
 * struct auth_admit the endpoint keeps for the turn's length. */
struct auth_admit {
	struct http_req *r;
	struct worker *w;
	const struct cfg *c;
};
int auth_admit_history(void *ctx, size_t history_bytes, struct err *e);

/*
 * Settle who's request at its end (no-op without tpm): its tokens as
 * counted (usage_request_tokens) replace its reservation (reserved tokens
 * in window; 0: none, the tokens go to now_ms's window).  A store error is
 * logged.
 */
void auth_rate_settle(const struct auth_client *who, struct store *store, long long now_ms,
		      long long window, long reserved, long tokens);

/* A new client key's secret: "ck-" and 64 lower-case hex digits from
 * getrandom(2).  0, or -1 when the system gives no random bytes. */
int auth_key_new(char secret[68]);

/* The lower-case hex SHA-256 of a secret of len bytes (libcrypto's EVP). */
void auth_key_hash(const char *secret, size_t len, char hash[65]);

/* 127.0.0.0/8, ::1 and ::ffff:127.x.x.x */
bool auth_is_loopback(const char *addr);

/*
 * The secret of "Bearer <secret>": scheme case-insensitive, spaces around
 * trimmed.  Returns a pointer into header and its length in *len, or NULL
 * when the header is not a Bearer credential or the secret is empty.
 */
const char *auth_bearer(const char *header, size_t *len);

/* Compare in time that depends only on the lengths' maximum, not content. */
bool auth_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
