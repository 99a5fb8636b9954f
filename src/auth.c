/*
 * auth.c - bearer token / password check.
 *
 * Token and password modes differ only in which secret is compared: both
 * arrive as "Authorization: Bearer <secret>", as in OpenClaw.
 */
#include "auth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "usage.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

const char *auth_bearer(const char *header, size_t *len)
{
	const char *p, *end;

	if (!header)
		return NULL;
	p = header;
	while (is_space(*p))
		p++;
	if (strncasecmp(p, "bearer", 6) || !is_space(p[6]))
		return NULL;
	p += 6;
	while (is_space(*p))
		p++;
	end = p + strlen(p);
	while (end > p && is_space(end[-1]))
		end--;
	if (end == p)
		return NULL;
	*len = (size_t)(end - p);
	return p;
}

bool auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen > blen ? alen : blen;
	unsigned char diff = alen != blen;

	/* Walk the longer length on both sides; reads past an end wrap to 0. */
	for (size_t i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;
		diff |= x ^ y;
	}
	return diff == 0;
}

int auth_check(const struct cfg *c, const char *authorization, struct err *e)
{
	const char *secret;
	size_t len;

	if (c->auth.mode == CFG_AUTH_NONE)
		return 0;
	if (c->auth.mode == CFG_AUTH_KEYS && (!c->auth.secret || !c->auth.secret[0]))
		return err_set(e, 401, ERR_UNAUTHORIZED, "Unauthorized");
	if (!c->auth.secret || !c->auth.secret[0]) {
		log_error("auth mode is %s but no secret is configured: set %s "
			  "(refusing every request)",
			  cfg_auth_mode_name(c->auth.mode), c->auth.setting);
		err_set(e, 500, ERR_API, "The server's authentication is not configured.");
		return -1;
	}
	secret = auth_bearer(authorization, &len);
	if (!secret || !auth_equal(secret, len, c->auth.secret, strlen(c->auth.secret))) {
		err_set(e, 401, ERR_UNAUTHORIZED, "Unauthorized");
		return -1;
	}
	return 0;
}

bool auth_is_loopback(const char *addr)
{
	if (!addr)
		return false;
	if (!strncasecmp(addr, "::ffff:", 7))
		addr += 7;
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1");
}

/* Whether the failed-auth throttle counts addr. */
static bool throttled(const struct cfg *c, const char *addr)
{
	return c->auth.mode != CFG_AUTH_NONE && addr && addr[0] &&
	       !(c->auth.rate_limit.exempt_loopback && auth_is_loopback(addr));
}

/* The store to throttle addr in; NULL: addr is not throttled. */
static struct store *throttle_store(const struct cfg *c, struct store *store, const char *addr)
{
	return throttled(c, addr) ? store : NULL;
}

/* 429 while addr is locked out. */
static int throttle_check(const struct cfg *c, struct store *store, const char *addr,
			  long *retry_after, struct err *e)
{
	long long retry = 0;
	struct err se;

	(void)c;
	if (store && store_auth_locked(store, addr, clock_wall_ms(), &retry, &se) == 0 &&
	    retry > 0) {
		*retry_after = (long)((retry + 999) / 1000);
		return err_set(e, 429, ERR_RATE_LIMITED,
			       "Too many failed authentication attempts. Please try again later.");
	}
	return 0;
}

/*
 * Count a failed attempt of addr (a 401).  A request without an
 * Authorization header tried no secret: it is a failure for the metrics
 * but not an attempt the throttle counts (the chat page asks once that
 * way whether the web server has logged its user in).
 */
static void throttle_failed(const struct cfg *c, struct store *store, const char *addr,
			    const char *authorization)
{
	long long retry = 0;
	struct err se;

	metrics_note_auth_failure();
	if (!store || !authorization || !authorization[0])
		return;
	if (store_auth_failed(store, addr, clock_wall_ms(), c->auth.rate_limit.max_attempts,
			      c->auth.rate_limit.window_ms, c->auth.rate_limit.lockout_ms, &retry,
			      &se) < 0) {
		log_error("auth throttling unavailable: %s", se.message);
	} else if (retry > 0) {
		metrics_note_auth_lockout();
		log_warn("auth: %s locked out for %ld s after %d failed attempts", addr,
			 (long)((retry + 999) / 1000), c->auth.rate_limit.max_attempts);
	}
}

int auth_check_throttled(const struct cfg *c, struct store *store, const char *addr,
			 const char *authorization, long *retry_after, struct err *e)
{
	*retry_after = 0;
	store = throttle_store(c, store, addr);
	if (throttle_check(c, store, addr, retry_after, e) < 0)
		return -1;
	if (auth_check(c, authorization, e) == 0)
		return 0;
	if (e->status == 401)
		throttle_failed(c, store, addr, authorization);
	return -1;
}

const char *auth_kind_name(enum auth_kind k)
{
	switch (k) {
	case AUTH_OPERATOR:
		return "operator";
	case AUTH_KEY:
		return "key";
	case AUTH_USER:
		return "user";
	case AUTH_ANYONE:
		break;
	}
	return "none";
}

void auth_key_hash(const char *secret, size_t len, char hash[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(secret, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		/* Never matches a stored hash (those are hex digits). */
		snprintf(hash, 65, "%s", "-");
		return;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
}

int auth_key_new(char secret[68])
{
	unsigned char raw[32];
	size_t got = 0;

	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	memcpy(secret, "ck-", 3);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(secret + 3 + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* last_used is written at most once a minute per key. */
#define KEY_TOUCH_MS 60000

/* A client key's secret -> who; -1 with e (401 unknown, revoked, expired;
 * 500 store). */
static int identify_key(struct store *store, const char *secret, size_t len,
			struct auth_client *who, struct err *e)
{
	struct store_key k;
	char hash[65];
	long long now = clock_wall_ms();
	int rc;

	if (len < 3 || strncmp(secret, "ck-", 3))
		return err_set(e, 401, ERR_UNAUTHORIZED, "Unauthorized");
	if (!store)
		return err_set(e, 500, ERR_API, "Session store error: client keys cannot be read.");
	auth_key_hash(secret, len, hash);
	rc = store_key_get(store, NULL, hash, &k, e);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return err_set(e, 401, ERR_UNAUTHORIZED, "Unauthorized");
	if (k.revoked)
		return err_set(e, 401, ERR_UNAUTHORIZED, "This API key was revoked.");
	if (k.expires && k.expires <= now)
		return err_set(e, 401, ERR_UNAUTHORIZED, "This API key has expired.");
	who->kind = AUTH_KEY;
	snprintf(who->name, sizeof who->name, "%s", k.name);
	snprintf(who->scope, sizeof who->scope, "key:%s", k.name);
	snprintf(who->agents, sizeof who->agents, "%s", k.agents);
	who->rpm = k.rpm;
	who->tpm = k.tpm;
	if (now - k.last_used >= KEY_TOUCH_MS) {
		struct err te;
		if (store_key_touch(store, k.name, now, &te) < 0)
			log_warn("client key %s: last use not recorded: %s", k.name, te.message);
	}
	return 0;
}

/*
 * "user:" and the name with '%' and ':' percent-encoded: the scope ends
 * at its first ':' after "user:", so users "eve" and "eve:x" never share a
 * session ("user:eve:x:KEY" would read both ways).  Names are at most
 * AUTH_NAME_MAX bytes, so n = AUTH_SCOPE_MAX + 1 holds any encoded.
 */
static void scope_of_user(const char *name, char *out, size_t n)
{
	size_t o = (size_t)snprintf(out, n, "user:");

	for (; *name && o + 4 < n; name++) {
		if (*name == ':' || *name == '%')
			o += (size_t)snprintf(out + o, n - o, "%%%02X", (unsigned char)*name);
		else
			out[o++] = *name;
	}
	out[o] = '\0';
}

/* The web server's user -> who, with gateway.auth.users' entry. */
static int identify_user(const struct cfg *c, const char *remote_user, struct auth_client *who,
			 struct err *e)
{
	const struct cfg_user *u;
	size_t len = remote_user ? strlen(remote_user) : 0;

	if (!len) {
		log_warn("auth: gateway.auth.mode is remote-user but the web server passed no "
			 "REMOTE_USER: have it authenticate this path (README \"The web server's "
			 "login\")");
		return err_set(e, 401, ERR_UNAUTHORIZED,
			       "Unauthorized: the web server did not authenticate this request.");
	}
	if (len > AUTH_NAME_MAX)
		return err_set(e, 401, ERR_UNAUTHORIZED,
			       "Unauthorized: the user name is too long.");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)remote_user[i] < 0x20 || remote_user[i] == 0x7f)
			return err_set(e, 401, ERR_UNAUTHORIZED,
				       "Unauthorized: the user name has control characters.");
	who->kind = AUTH_USER;
	snprintf(who->name, sizeof who->name, "%s", remote_user);
	scope_of_user(remote_user, who->scope, sizeof who->scope);
	if ((u = cfg_find_user(c, remote_user))) {
		snprintf(who->agents, sizeof who->agents, "%s", u->agents);
		who->rpm = u->rpm;
		who->tpm = u->tpm;
	}
	return 0;
}

int auth_identify(const struct cfg *c, struct store *store, const char *addr,
		  const char *authorization, const char *remote_user, struct auth_client *who,
		  long *retry_after, struct err *e)
{
	struct store *throttle = throttle_store(c, store, addr);
	const char *secret;
	size_t len;
	int rc;

	memset(who, 0, sizeof *who);
	*retry_after = 0;
	if (c->auth.mode == CFG_AUTH_REMOTE_USER) {
		if (identify_user(c, remote_user, who, e) < 0) {
			metrics_note_auth_failure();
			return -1;
		}
		return 0;
	}
	if (throttle_check(c, throttle, addr, retry_after, e) < 0)
		return -1;
	rc = auth_check(c, authorization, e);
	if (rc == 0)
		who->kind = c->auth.mode == CFG_AUTH_NONE ? AUTH_ANYONE : AUTH_OPERATOR;
	else if (c->auth.mode == CFG_AUTH_KEYS && e->status == 401 &&
		 (secret = auth_bearer(authorization, &len)))
		rc = identify_key(store, secret, len, who, e);
	if (rc < 0 && e->status == 401)
		throttle_failed(c, throttle, addr, authorization);
	return rc;
}

bool auth_needs_store(const struct cfg *c, const char *addr)
{
	return c->auth.mode == CFG_AUTH_KEYS ||
	       (c->auth.mode != CFG_AUTH_REMOTE_USER && throttled(c, addr));
}

bool auth_allows_agent(const struct auth_client *who, const char *agent_id)
{
	const char *p = who ? who->agents : "";
	size_t n = strlen(agent_id);

	if (!*p)
		return true;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t m = end ? (size_t)(end - p) : strlen(p);
		if (m == n && !strncasecmp(p, agent_id, n))
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

int auth_agent_check(const struct auth_client *who, const char *agent_id, struct err *e)
{
	if (auth_allows_agent(who, agent_id))
		return 0;
	err_set(e, 403, ERR_INVALID_REQUEST, "The %s '%s' may not use the agent '%s'.",
		who->kind == AUTH_KEY ? "key" : "user", who->name, agent_id);
	e->code = ERR_CODE_PERMISSION_DENIED;
	return -1;
}

static bool same_model(const struct cfg_model *a, const struct cfg_model *b)
{
	return a->provider && b->provider && a->model && b->model &&
	       (a->provider == b->provider || !strcmp(a->provider->name, b->provider->name)) &&
	       !strcmp(a->model, b->model);
}

/* m is one of a's models: its model, a fallback, its embeddingModel. */
static bool agent_has_model(const struct cfg_agent *a, const struct cfg_model *m)
{
	if (same_model(&a->model, m) || same_model(&a->embedding_model, m))
		return true;
	for (size_t i = 0; i < a->nfallbacks; i++)
		if (same_model(&a->fallbacks[i], m))
			return true;
	return false;
}

bool auth_allows_model(const struct auth_client *who, const struct cfg *c,
		       const struct cfg_model *m)
{
	if (!who || !who->agents[0])
		return true;
	for (size_t i = 0; i < c->nagents; i++)
		if (auth_allows_agent(who, c->agents[i].id) && agent_has_model(&c->agents[i], m))
			return true;
	return false;
}

/* Top-level fields an upstream may take as the model to call (compared in
 * any case: some servers read JSON keys so): any name holding "model" or
 * "fallback" (OpenRouter's models, LiteLLM's fallbacks,
 * context_window_fallbacks, model_list), and these. */
static const char *const model_fields[] = {"engine", "deployment_id", "user_config"};

/* Whether s holds word (lower case) in any case. */
static bool holds_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s; s++)
		if (!strncasecmp(s, word, n))
			return true;
	return false;
}

/* Whether an upstream may pick its model by the top-level field name. */
static bool picks_model(const char *name)
{
	if (holds_word(name, "model") || holds_word(name, "fallback"))
		return true;
	for (size_t i = 0; i < sizeof model_fields / sizeof *model_fields; i++)
		if (!strcasecmp(name, model_fields[i]))
			return true;
	return false;
}

/* e (set) as 403 permission_denied naming param (a string literal). */
static int denied(struct err *e, const char *param)
{
	e->code = ERR_CODE_PERMISSION_DENIED;
	e->param = param;
	return -1;
}

int auth_reach_check(const struct auth_client *who, const struct cfg *c, const char *agent_id,
		     const struct cfg_model *m, const cJSON *params, struct err *e)
{
	const char *kind = who && who->kind == AUTH_KEY ? "key" : "user";
	const cJSON *v;

	if (auth_agent_check(who, agent_id, e) < 0)
		return -1;
	if (!who || !who->agents[0])
		return 0;
	if (!auth_allows_model(who, c, m)) {
		err_set(e, 403, ERR_INVALID_REQUEST,
			"The %s '%s' may not use the model '%s/%.100s': only its agents' models "
			"(their model, fallbacks and embeddingModel).",
			kind, who->name, m->provider ? m->provider->name : "", m->model);
		return denied(e, "x-openclaw-model");
	}
	cJSON_ArrayForEach(v, params) {
		if (!v->string || !picks_model(v->string))
			continue;
		err_set(e, 403, ERR_INVALID_REQUEST,
			"The %s '%s' may not send `%.64s`: the provider would choose the "
			"model by it, and the %s may use only its agents' models.",
			kind, who->name, v->string, kind);
		denied(e, NULL);
		return err_param(e, "%s", v->string);
	}
	return 0;
}

int auth_override_check(const struct auth_client *who, const struct cfg *c, const char *ref,
			struct err *e)
{
	const struct cfg_provider *provider;
	const char *model_id;

	if (!who || !who->agents[0] || !ref || !*ref ||
	    cfg_model_ref(c, ref, &provider, &model_id) != CFG_MODEL_UNKNOWN_PROVIDER)
		return 0;
	err_set(e, 403, ERR_INVALID_REQUEST,
		"The %s '%s' may not use the model '%.100s': only its agents' models "
		"(their model, fallbacks and embeddingModel).",
		who->kind == AUTH_KEY ? "key" : "user", who->name, ref);
	return denied(e, "x-openclaw-model");
}

bool auth_owns_session(const struct auth_client *who, const char *session_key)
{
	size_t n;

	if (!who || !who->scope[0])
		return true;
	n = strlen(who->scope);
	return !strncmp(session_key, who->scope, n) && session_key[n] == ':';
}

#define RATE_WINDOW_MS 60000LL

/* OpenAI's reset durations: "20ms", "34s". */
static void duration(char *out, size_t n, long long ms)
{
	if (ms < 1000)
		snprintf(out, n, "%lldms", ms);
	else
		snprintf(out, n, "%llds", (ms + 999) / 1000);
}

long long auth_rate_window(long long now_ms)
{
	return now_ms - now_ms % RATE_WINDOW_MS;
}

/* The x-ratelimit-* lines of who's window r, which resets in reset_ms. */
static void rate_headers(const struct auth_client *who, const struct store_rate *r,
			 long long reset_ms, char *headers, size_t n)
{
	char reset[32];
	size_t used = 0;

	headers[0] = '\0';
	duration(reset, sizeof reset, reset_ms);
	if (who->rpm)
		used += (size_t)snprintf(
			headers, n,
			"x-ratelimit-limit-requests: %ld\r\n"
			"x-ratelimit-remaining-requests: %ld\r\n"
			"x-ratelimit-reset-requests: %s\r\n",
			who->rpm, r->requests >= who->rpm ? 0 : who->rpm - r->requests, reset);
	if (who->tpm && used < n)
		snprintf(headers + used, n - used,
			 "x-ratelimit-limit-tokens: %ld\r\n"
			 "x-ratelimit-remaining-tokens: %ld\r\n"
			 "x-ratelimit-reset-tokens: %s\r\n",
			 who->tpm, r->tokens >= who->tpm ? 0 : who->tpm - r->tokens, reset);
}

/* 429 rate_limit_exceeded for who's requests or tokens. */
static int rate_refused(const struct auth_client *who, bool requests, long long reset_ms,
			long *retry_after, struct err *e)
{
	char reset[32];

	duration(reset, sizeof reset, reset_ms);
	*retry_after = (long)((reset_ms + 999) / 1000);
	err_set(e, 429, ERR_RATE_LIMITED,
		"Rate limit reached for %s '%s': %s per minute. Please try again in %s.",
		who->kind == AUTH_KEY ? "key" : "user", who->name, requests ? "requests" : "tokens",
		reset);
	e->code = ERR_CODE_RATE_LIMIT_EXCEEDED;
	return -1;
}

int auth_rate_take(const struct auth_client *who, struct store *store, long long now_ms,
		   char *headers, size_t n, long *retry_after, struct err *e)
{
	long long window = auth_rate_window(now_ms);
	long long reset_ms = window + RATE_WINDOW_MS - now_ms;
	struct store_rate r;

	headers[0] = '\0';
	*retry_after = 0;
	if (!who->rpm && !who->tpm)
		return 0;
	if (!store)
		return err_set(e, 500, ERR_API,
			       "Session store error: rate limits cannot be counted.");
	if (store_rate_take(store, who->scope, window, who->rpm, who->tpm, &r, e) < 0)
		return -1;
	rate_headers(who, &r, reset_ms, headers, n);
	if (r.allowed)
		return 0;
	return rate_refused(who, who->rpm && r.requests >= who->rpm, reset_ms, retry_after, e);
}

long auth_estimate(size_t prompt_bytes, long max_out)
{
	long prompt = (long)((prompt_bytes + 3) / 4);

	return prompt + (max_out > 0 ? max_out : max_out < 0 ? AUTH_DEFAULT_MAX_TOKENS : 0);
}

long auth_max_out(const cJSON *params)
{
	static const char *const names[] = {"max_completion_tokens", "max_tokens",
					    "max_output_tokens"};

	const cJSON *n = cJSON_GetObjectItemCaseSensitive(params, "n");
	long out = -1;

	for (size_t i = 0; out < 0 && i < sizeof names / sizeof *names; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, names[i]);
		if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 1e9)
			out = (long)v->valuedouble;
	}
	/* n choices each up to the maximum (chat_request.c bounds n to 128) */
	if (cJSON_IsNumber(n) && n->valuedouble >= 2 && n->valuedouble <= 128)
		out = (out > 0 ? out : AUTH_DEFAULT_MAX_TOKENS) * (long)n->valuedouble;
	return out;
}

/*
 * Reserve estimate tokens more for r in its window, refused when the
 * window's tokens less what r holds already (held) have reached tpm: r's
 * own reservation never refuses r.  0, or -1 with e as auth_tokens_reserve.
 */
static int reserve(struct http_req *r, struct worker *w, const struct cfg *c, long estimate,
		   long long window, long held, struct err *e)
{
	const struct auth_client *who = r->client;
	long long now = clock_wall_ms();
	long long reset_ms = window + RATE_WINDOW_MS > now ? window + RATE_WINDOW_MS - now : 0;
	struct store *store;
	struct store_rate rate;
	long retry_after;
	size_t len;

	if (worker_store(w, c, &store, e) < 0 ||
	    store_rate_reserve(store, who->scope, window, who->tpm + held, estimate, &rate, e) < 0)
		return err_set(e, 500, ERR_API,
			       "Session store error: rate limits cannot be counted.");
	if (rate.allowed) {
		/* the headers rate_take wrote stand: the window before this */
		usage_request_reserved(window, held + estimate);
		return 0;
	}
	rate_headers(who, &rate, reset_ms, r->extra_headers, sizeof r->extra_headers);
	rate_refused(who, false, reset_ms, &retry_after, e);
	len = strlen(r->extra_headers);
	snprintf(r->extra_headers + len, sizeof r->extra_headers - len, "Retry-After: %ld\r\n",
		 retry_after);
	return -1;
}

int auth_tokens_reserve(struct http_req *r, struct worker *w, const struct cfg *c,
			size_t prompt_bytes, long max_out, struct err *e)
{
	const struct auth_client *who = r->client;

	usage_request_estimate(auth_estimate(prompt_bytes, 0));
	if (!who || !who->tpm)
		return 0;
	return reserve(r, w, c, auth_estimate(prompt_bytes, max_out),
		       who->rate_window ? who->rate_window : auth_rate_window(clock_wall_ms()), 0,
		       e);
}

int auth_tokens_history(struct http_req *r, struct worker *w, const struct cfg *c,
			size_t history_bytes, struct err *e)
{
	const struct auth_client *who = r->client;
	long long window;
	long held, more = auth_estimate(history_bytes, 0);

	usage_request_estimate_add(more);
	if (!who || !who->tpm || more <= 0)
		return 0;
	held = usage_request_reservation(&window);
	if (held <= 0)
		return 0; /* nothing was reserved: the request is not counted */
	return reserve(r, w, c, more, window, held, e);
}

int auth_admit_history(void *ctx, size_t history_bytes, struct err *e)
{
	const struct auth_admit *a = ctx;

	return auth_tokens_history(a->r, a->w, a->c, history_bytes, e);
}

void auth_rate_settle(const struct auth_client *who, struct store *store, long long now_ms,
		      long long window, long reserved, long tokens)
{
	struct err e;
	long delta = tokens - (reserved > 0 ? reserved : 0);

	if (!who->tpm || !store || (!delta && reserved > 0) || (reserved <= 0 && tokens <= 0))
		return;
	if (reserved <= 0)
		window = auth_rate_window(now_ms);
	if (store_rate_add_tokens(store, who->scope, window, delta, &e) < 0)
		log_error("rate limit: tokens of %s not counted: %s", who->scope, e.message);
}
