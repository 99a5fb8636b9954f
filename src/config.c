/*
 * config.c - the typed configuration: JSON5 file + environment -> struct
 * cfg.
 *
 * This file owns loading a file: its sections (gateway, agents, session,
 * server here; models.providers in config_provider.c), every default, and
 * validation with "file:line: reason" messages (the readers are
 * config_read.c).  Which snapshot is current is config_live.c's.  Nothing
 * here decides anything per request: the handlers read the snapshot they
 * were given.
 *
 * Unknown keys are ignored, so an OpenClaw config with many other sections
 * loads unchanged.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config_provider.h"
#include "config_read.h"
#include "json5.h"
#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "serve.h"
#include "store.h"

/* The defaults (README "Configuration"); the providers' are in
 * config_provider.c. */
#define DEFAULT_RL_MAX_ATTEMPTS 10
#define DEFAULT_RL_WINDOW_MS 60000
#define DEFAULT_RL_LOCKOUT_MS 300000
#define DEFAULT_MAX_BODY_BYTES (20L * 1024 * 1024)
#define DEFAULT_KEEPALIVE_SECONDS 10
#define DEFAULT_BODY_TIMEOUT_SECONDS 30
#define DEFAULT_TTL_DAYS 30
#define DEFAULT_LOCK_WAIT_SECONDS 30
#define MAX_LOCK_WAIT_SECONDS 3600
#define DEFAULT_USAGE_RETENTION_DAYS 90
#define DEFAULT_HISTORY_LIMIT 40
#define DEFAULT_STORE CLAWCGI_LOCALSTATEDIR "/lib/clawcgi/clawcgi.db"

#define MAX_FILE (4 * 1024 * 1024)
#define MAX_MS (86400000L * 30)

int cfg_agent_id(const char *s, size_t n, char id[CFG_AGENT_ID_MAX + 1])
{
	if (n < 1 || n > CFG_AGENT_ID_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 || (!isalnum(c) && c != '_' && c != '-'))
			return 0;
		if (id)
			id[i] = (char)tolower(c);
	}
	if (id)
		id[n] = '\0';
	return 1;
}

int cfg_model_ref(const struct cfg *c, const char *s, const struct cfg_provider **provider,
		  const char **model_id)
{
	const char *slash = strchr(s, '/');
	size_t plen;

	if (!slash || slash == s || !slash[1])
		return CFG_MODEL_MALFORMED;
	plen = (size_t)(slash - s);
	for (size_t i = 0; i < c->nproviders; i++) {
		const struct cfg_provider *p = &c->providers[i];
		if (strlen(p->name) == plen && !strncmp(p->name, s, plen)) {
			*provider = p;
			*model_id = slash + 1;
			return 0;
		}
	}
	return CFG_MODEL_UNKNOWN_PROVIDER;
}

static void free_agent(struct cfg_agent *a)
{
	free(a->id);
	free(a->name);
	free(a->system_prompt);
	free(a->model.model);
	free(a->embedding_model.model);
	for (size_t i = 0; i < a->nfallbacks; i++)
		free(a->fallbacks[i].model);
	free(a->fallbacks);
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->auth.secret);
	for (size_t i = 0; i < c->auth.nusers; i++) {
		free(c->auth.users[i].name);
		free(c->auth.users[i].agents);
	}
	free(c->auth.users);
	for (size_t i = 0; i < c->nagents; i++)
		free_agent(&c->agents[i]);
	free(c->agents);
	for (size_t i = 0; i < c->nproviders; i++)
		cfg_free_provider(&c->providers[i]);
	free(c->providers);
	free(c->session.store);
	for (size_t i = 0; i < c->cors.n_allowed_origins; i++)
		free(c->cors.allowed_origins[i]);
	free(c->cors.allowed_origins);
	free(c);
}

const char *cfg_cors_allow(const struct cfg *c, const char *origin)
{
	if (!origin || !*origin)
		return NULL;
	for (size_t i = 0; i < c->cors.n_allowed_origins; i++) {
		const char *o = c->cors.allowed_origins[i];
		if (!strcmp(o, "*"))
			return "*";
		if (!strcasecmp(o, origin))
			return origin;
	}
	return NULL;
}

/* gateway.http.cors.allowedOrigins: "*" or origins "http(s)://host[:port]"
 * (no path, no trailing slash: browsers send the origin so). */
static int load_cors(struct cfg_reader *L, struct cfg_cors *cors, const cJSON *node)
{
	const cJSON *list = node ? cJSON_GetObjectItemCaseSensitive(node, "allowedOrigins") : NULL;
	const cJSON *o;

	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return cfgr_fail(L, list, "gateway.http.cors.allowedOrigins must be an array");
	if (!(cors->allowed_origins =
		      calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *cors->allowed_origins)))
		return cfgr_fail(L, list, "out of memory");
	cJSON_ArrayForEach(o, list) {
		const char *v = cJSON_IsString(o) ? o->valuestring : NULL;
		const char *host = !v				    ? NULL
				   : !strncasecmp(v, "https://", 8) ? v + 8
				   : !strncasecmp(v, "http://", 7)  ? v + 7
								    : NULL;
		char *copy;
		if (!v || (strcmp(v, "*") && (!host || !*host || strchr(host, '/'))))
			return cfgr_fail(L, o,
					 "gateway.http.cors.allowedOrigins: each entry is \"*\" or "
					 "an origin like \"https://app.example\" (scheme and host, "
					 "no path)");
		if (!(copy = strdup(v)))
			return cfgr_fail(L, o, "out of memory");
		for (char *p = copy; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		cors->allowed_origins[cors->n_allowed_origins++] = copy;
	}
	return 0;
}

/* "provider/model-id" -> m.  Marks the provider used. */
static int parse_model_ref(struct cfg_reader *L, struct cfg *c, const cJSON *node, const char *s,
			   const char *agent, struct cfg_model *m)
{
	const struct cfg_provider *p;
	const char *model_id;

	switch (cfg_model_ref(c, s, &p, &model_id)) {
	case 0:
		break;
	case CFG_MODEL_MALFORMED:
		return cfgr_fail(L, node, "agent '%s': model '%s' must be \"provider/model-id\"",
				 agent, s);
	default:
		return cfgr_fail(L, node,
				 "agent '%s': model '%s' names unknown provider '%.*s' "
				 "(not in models.providers)",
				 agent, s, (int)(strchr(s, '/') - s), s);
	}
	m->provider = p;
	c->providers[p - c->providers].used = true;
	if (!(m->model = strdup(model_id)))
		return cfgr_fail(L, node, "out of memory");
	return 0;
}

/* An agent's model: a string, or { primary, fallbacks: [...] }. */
static int load_model(struct cfg_reader *L, struct cfg *c, const cJSON *node, struct cfg_agent *a)
{
	const cJSON *prim, *fb, *f;
	char missing[128];
	char *s;
	int rc;

	if (cJSON_IsString(node)) {
		prim = node;
		fb = NULL;
	} else if (cJSON_IsObject(node)) {
		prim = cJSON_GetObjectItemCaseSensitive(node, "primary");
		fb = cJSON_GetObjectItemCaseSensitive(node, "fallbacks");
		if (!cJSON_IsString(prim))
			return cfgr_fail(L, prim ? prim : node,
					 "agent '%s': model.primary must be a string", a->id);
		if (fb && !cJSON_IsNull(fb) && !cJSON_IsArray(fb))
			return cfgr_fail(L, fb, "agent '%s': model.fallbacks must be an array",
					 a->id);
	} else {
		return cfgr_fail(L, node,
				 "agent '%s': model must be a string or "
				 "{ primary, fallbacks }",
				 a->id);
	}
	if (!(s = cfgr_subst_env(prim->valuestring, missing, sizeof missing)))
		return cfgr_fail(L, prim, "agent '%s': model: environment variable %s is not set",
				 a->id, missing);
	rc = parse_model_ref(L, c, prim, s, a->id, &a->model);
	free(s);
	if (rc < 0 || !cJSON_IsArray(fb))
		return rc;
	a->fallbacks = calloc((size_t)cJSON_GetArraySize(fb) + 1, sizeof *a->fallbacks);
	if (!a->fallbacks)
		return cfgr_fail(L, fb, "out of memory");
	cJSON_ArrayForEach(f, fb) {
		if (!cJSON_IsString(f))
			return cfgr_fail(L, f, "agent '%s': model.fallbacks must hold strings",
					 a->id);
		if (!(s = cfgr_subst_env(f->valuestring, missing, sizeof missing)))
			return cfgr_fail(L, f,
					 "agent '%s': model.fallbacks: environment "
					 "variable %s is not set",
					 a->id, missing);
		rc = parse_model_ref(L, c, f, s, a->id, &a->fallbacks[a->nfallbacks]);
		free(s);
		if (rc < 0)
			return rc;
		a->nfallbacks++;
	}
	return 0;
}

/* embeddingModel: "provider/model-id", the agent's or agents.defaults'. */
static int load_embedding_model(struct cfg_reader *L, struct cfg *c, const cJSON *node,
				const cJSON *defaults, struct cfg_agent *a)
{
	const cJSON *em = cJSON_GetObjectItemCaseSensitive(node, "embeddingModel");

	if (!em || cJSON_IsNull(em))
		em = defaults ? cJSON_GetObjectItemCaseSensitive(defaults, "embeddingModel") : NULL;
	if (!em || cJSON_IsNull(em))
		return 0;
	if (!cJSON_IsString(em))
		return cfgr_fail(L, em, "agent '%s': embeddingModel must be \"provider/model-id\"",
				 a->id);
	return parse_model_ref(L, c, em, em->valuestring, a->id, &a->embedding_model);
}

static int load_agent(struct cfg_reader *L, struct cfg *c, const cJSON *node, const cJSON *defaults,
		      struct cfg_agent *a, int idx)
{
	char path[64], lid[CFG_AGENT_ID_MAX + 1];
	const cJSON *id, *model;

	snprintf(path, sizeof path, "agents.list[%d]", idx);
	if (!cJSON_IsObject(node))
		return cfgr_fail(L, node, "%s must be an object", path);
	id = cJSON_GetObjectItemCaseSensitive(node, "id");
	if (!cJSON_IsString(id))
		return cfgr_fail(L, id ? id : node, "%s: missing string \"id\"", path);
	if (!cfg_agent_id(id->valuestring, strlen(id->valuestring), lid))
		return cfgr_fail(L, id,
				 "%s: bad agent id '%s' (letters, digits, '_' and '-', "
				 "1-64 characters, starting with a letter or digit)",
				 path, id->valuestring);
	if (!(a->id = strdup(lid)))
		return cfgr_fail(L, id, "out of memory");
	for (size_t i = 0; i < c->nagents; i++)
		if (!strcmp(c->agents[i].id, a->id))
			return cfgr_fail(L, id, "duplicate agent id '%s'", a->id);

	a->history_limit = DEFAULT_HISTORY_LIMIT;
	if (cfgr_int(L, defaults, "historyLimit", "agents.defaults.historyLimit", 0, 100000,
		     &a->history_limit) < 0 ||
	    cfgr_int(L, node, "historyLimit", "agents.list[].historyLimit", 0, 100000,
		     &a->history_limit) < 0 ||
	    cfgr_bool(L, node, "default", "agents.list[].default", &a->is_default) < 0 ||
	    cfgr_string(L, defaults, "systemPrompt", "agents.defaults.systemPrompt",
			&a->system_prompt, NULL) < 0 ||
	    cfgr_string(L, node, "systemPrompt", "agents.list[].systemPrompt", &a->system_prompt,
			NULL) < 0 ||
	    cfgr_string(L, node, "name", "agents.list[].name", &a->name, NULL) < 0)
		return -1;

	if (load_embedding_model(L, c, node, defaults, a) < 0)
		return -1;
	model = cJSON_GetObjectItemCaseSensitive(node, "model");
	if (!model || cJSON_IsNull(model))
		model = defaults ? cJSON_GetObjectItemCaseSensitive(defaults, "model") : NULL;
	if (!model || cJSON_IsNull(model))
		return cfgr_fail(L, node,
				 "agent '%s' has no model: set its \"model\" or "
				 "agents.defaults.model (\"provider/model-id\")",
				 a->id);
	return load_model(L, c, model, a);
}

static int load_agents(struct cfg_reader *L, struct cfg *c, const cJSON *root)
{
	const cJSON *agents, *defaults, *list, *n;
	int count, i = 0;
	bool have_default = false;

	if (cfgr_object(L, root, "agents", "agents", &agents) < 0 ||
	    cfgr_object(L, agents, "defaults", "agents.defaults", &defaults) < 0)
		return -1;
	list = agents ? cJSON_GetObjectItemCaseSensitive(agents, "list") : NULL;
	if (list && !cJSON_IsNull(list) && !cJSON_IsArray(list))
		return cfgr_fail(L, list, "agents.list must be an array");
	count = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;

	if (count == 0) {
		/* No list: one agent "main" made of the defaults. */
		cJSON *main = cJSON_CreateObject();
		int rc;
		if (!main || !cJSON_AddStringToObject(main, "id", "main")) {
			cJSON_Delete(main);
			return cfgr_fail(L, NULL, "out of memory");
		}
		c->agents = calloc(1, sizeof *c->agents);
		if (!c->agents) {
			cJSON_Delete(main);
			return cfgr_fail(L, NULL, "out of memory");
		}
		rc = load_agent(L, c, main, defaults, &c->agents[0], 0);
		c->nagents = 1;
		cJSON_Delete(main);
		c->default_agent = 0;
		return rc;
	}

	c->agents = calloc((size_t)count, sizeof *c->agents);
	if (!c->agents)
		return cfgr_fail(L, list, "out of memory");
	cJSON_ArrayForEach(n, list) {
		struct cfg_agent *a = &c->agents[c->nagents];
		int rc = load_agent(L, c, n, defaults, a, i);
		c->nagents++;
		if (rc < 0)
			return -1;
		if (a->is_default) {
			if (have_default)
				return cfgr_fail(L, n,
						 "agents '%s' and '%s' both have default: true",
						 c->agents[c->default_agent].id, a->id);
			have_default = true;
			c->default_agent = (size_t)i;
		}
		i++;
	}
	return 0;
}

/* The secret of mode: the file's setting, else its environment variable. */
static int take_secret(struct cfg_reader *L, struct cfg_auth *auth, char **from_file,
		       const char *env_name, const char *setting)
{
	const char *env = getenv(env_name);

	auth->setting = setting;
	if (*from_file && **from_file) {
		auth->secret = *from_file;
		*from_file = NULL;
	} else if (env && *env && !(auth->secret = strdup(env))) {
		return cfgr_fail(L, NULL, "out of memory");
	}
	return 0;
}

/* A list of agent ids (agents, --agents) joined by ','; "" for none. */
static int agent_list(struct cfg_reader *L, const cJSON *arr, const char *path, char **out)
{
	struct buf b = BUF_INIT;
	const cJSON *it;

	if (!cJSON_IsArray(arr))
		return cfgr_fail(L, arr, "%s must be an array of agent ids", path);
	cJSON_ArrayForEach(it, arr) {
		char id[CFG_AGENT_ID_MAX + 1];
		if (!cJSON_IsString(it) ||
		    !cfg_agent_id(it->valuestring, strlen(it->valuestring), id)) {
			buf_free(&b);
			return cfgr_fail(L, it, "%s: each entry must be an agent id", path);
		}
		if ((b.len && buf_append(&b, ",", 1) < 0) || buf_append_str(&b, id) < 0) {
			buf_free(&b);
			return cfgr_fail(L, NULL, "out of memory");
		}
	}
	if (!(*out = b.len ? buf_detach(&b) : strdup(""))) {
		buf_free(&b);
		return cfgr_fail(L, NULL, "out of memory");
	}
	return 0;
}

/* gateway.auth.users: { "NAME": { agents: [...], rpm: N, tpm: N }, "*": ... } */
static int load_users(struct cfg_reader *L, struct cfg_auth *auth, const cJSON *node)
{
	const cJSON *users, *u;
	char path[200];

	if (cfgr_object(L, node, "users", "gateway.auth.users", &users) < 0)
		return -1;
	if (!users)
		return 0;
	if (!(auth->users = calloc((size_t)cJSON_GetArraySize(users) + 1, sizeof *auth->users)))
		return cfgr_fail(L, NULL, "out of memory");
	cJSON_ArrayForEach(u, users) {
		struct cfg_user *cu = &auth->users[auth->nusers];
		const cJSON *agents;

		snprintf(path, sizeof path, "gateway.auth.users.%.100s", u->string);
		if (!cJSON_IsObject(u))
			return cfgr_fail(L, u, "%s must be an object", path);
		if (!u->string[0] || strlen(u->string) > CFG_USER_NAME_MAX)
			return cfgr_fail(L, u, "gateway.auth.users: a user name is 1-128 bytes");
		if (!(cu->name = strdup(u->string)))
			return cfgr_fail(L, NULL, "out of memory");
		auth->nusers++;
		agents = cJSON_GetObjectItemCaseSensitive(u, "agents");
		snprintf(path, sizeof path, "gateway.auth.users.%.100s.agents", u->string);
		if (agents && !cJSON_IsNull(agents) ? agent_list(L, agents, path, &cu->agents) < 0
						    : !(cu->agents = strdup("")))
			return L->failed ? -1 : cfgr_fail(L, NULL, "out of memory");
		snprintf(path, sizeof path, "gateway.auth.users.%.100s.rpm", u->string);
		if (cfgr_long(L, u, "rpm", path, 0, 100000000, &cu->rpm) < 0)
			return -1;
		snprintf(path, sizeof path, "gateway.auth.users.%.100s.tpm", u->string);
		if (cfgr_long(L, u, "tpm", path, 0, 1000000000000L, &cu->tpm) < 0)
			return -1;
	}
	return 0;
}

/* Every agent gateway.auth.users names is configured (read after the
 * agents; a typo would silently allow nothing). */
static int check_user_agents(struct cfg_reader *L, const struct cfg *c, const cJSON *root)
{
	for (size_t i = 0; i < c->auth.nusers; i++) {
		const char *p = c->auth.users[i].agents;
		while (*p) {
			char id[CFG_AGENT_ID_MAX + 1];
			size_t n = strcspn(p, ",");
			snprintf(id, sizeof id, "%.*s", (int)n, p);
			if (!cfg_find_agent(c, id)) {
				const cJSON *gw = cJSON_GetObjectItemCaseSensitive(root, "gateway");
				const cJSON *au = cJSON_GetObjectItemCaseSensitive(gw, "auth");
				const cJSON *us = cJSON_GetObjectItemCaseSensitive(au, "users");
				return cfgr_fail(
					L,
					cJSON_GetObjectItemCaseSensitive(us, c->auth.users[i].name),
					"gateway.auth.users.%s.agents: no agent '%s' is configured",
					c->auth.users[i].name, id);
			}
			p += n + (p[n] == ',');
		}
	}
	return 0;
}

/* gateway.auth: mode (given or inferred), the secret, rateLimit, users. */
static int load_auth(struct cfg_reader *L, struct cfg_auth *auth, const cJSON *node)
{
	char *mode = NULL, *token = NULL, *password = NULL;
	const char *envpw = getenv("OPENCLAW_GATEWAY_PASSWORD");
	const char *envtok = getenv("OPENCLAW_GATEWAY_TOKEN");
	struct cfg_rate_limit *rl = &auth->rate_limit;
	const cJSON *rln;
	int rc = -1;

	if (cfgr_string(L, node, "mode", "gateway.auth.mode", &mode, NULL) < 0 ||
	    cfgr_string(L, node, "token", "gateway.auth.token", &token, NULL) < 0 ||
	    cfgr_string(L, node, "password", "gateway.auth.password", &password, NULL) < 0)
		goto out;
	if (!mode) {
		/* Inferred: a password when one is set (in the file, or only in
		 * the environment with no token anywhere), else a token. */
		bool have_token = (token && *token) || (envtok && *envtok);
		auth->mode = (password && *password) || (!have_token && envpw && *envpw)
				     ? CFG_AUTH_PASSWORD
				     : CFG_AUTH_TOKEN;
	} else if (!strcmp(mode, "token")) {
		auth->mode = CFG_AUTH_TOKEN;
	} else if (!strcmp(mode, "password")) {
		auth->mode = CFG_AUTH_PASSWORD;
	} else if (!strcmp(mode, "none")) {
		auth->mode = CFG_AUTH_NONE;
	} else if (!strcmp(mode, "keys")) {
		auth->mode = CFG_AUTH_KEYS;
	} else if (!strcmp(mode, "remote-user")) {
		auth->mode = CFG_AUTH_REMOTE_USER;
	} else {
		cfgr_fail(L, cJSON_GetObjectItemCaseSensitive(node, "mode"),
			  "unknown gateway.auth.mode '%s' (token, password, none, keys or "
			  "remote-user)",
			  mode);
		goto out;
	}
	if (((auth->mode == CFG_AUTH_TOKEN || auth->mode == CFG_AUTH_KEYS) &&
	     take_secret(L, auth, &token, "OPENCLAW_GATEWAY_TOKEN",
			 "gateway.auth.token (or OPENCLAW_GATEWAY_TOKEN)") < 0) ||
	    (auth->mode == CFG_AUTH_PASSWORD &&
	     take_secret(L, auth, &password, "OPENCLAW_GATEWAY_PASSWORD",
			 "gateway.auth.password (or OPENCLAW_GATEWAY_PASSWORD)") < 0))
		goto out;
	if (cfgr_object(L, node, "rateLimit", "gateway.auth.rateLimit", &rln) < 0 ||
	    cfgr_int(L, rln, "maxAttempts", "gateway.auth.rateLimit.maxAttempts", 1, 1000000,
		     &rl->max_attempts) < 0 ||
	    cfgr_long(L, rln, "windowMs", "gateway.auth.rateLimit.windowMs", 1, MAX_MS,
		      &rl->window_ms) < 0 ||
	    cfgr_long(L, rln, "lockoutMs", "gateway.auth.rateLimit.lockoutMs", 0, MAX_MS,
		      &rl->lockout_ms) < 0 ||
	    cfgr_bool(L, rln, "exemptLoopback", "gateway.auth.rateLimit.exemptLoopback",
		      &rl->exempt_loopback) < 0 ||
	    load_users(L, auth, node) < 0)
		goto out;
	rc = 0;
out:
	free(mode);
	free(token);
	free(password);
	return rc;
}

/* gateway.http.endpoints.chatCompletions */
static int load_chat(struct cfg_reader *L, struct cfg_chat *chat, const cJSON *node)
{
	const cJSON *img;

#define CC "gateway.http.endpoints.chatCompletions"
	return cfgr_bool(L, node, "enabled", CC ".enabled", &chat->enabled) < 0 ||
			       cfgr_long(L, node, "maxBodyBytes", CC ".maxBodyBytes", 1, 1L << 40,
					 &chat->max_body_bytes) < 0 ||
			       cfgr_int(L, node, "keepAliveSeconds", CC ".keepAliveSeconds", 0,
					3600, &chat->keepalive_seconds) < 0 ||
			       cfgr_int(L, node, "bodyTimeoutSeconds", CC ".bodyTimeoutSeconds", 0,
					3600, &chat->body_timeout_seconds) < 0 ||
			       cfgr_object(L, node, "images", CC ".images", &img) < 0 ||
			       cfgr_bool(L, img, "allowUrl", CC ".images.allowUrl",
					 &chat->images_allow_url) < 0
		       ? -1
		       : 0;
#undef CC
}

/* gateway.http.endpoints.responses */
static int load_responses(struct cfg_reader *L, struct cfg_responses *resp, const cJSON *node)
{
#define RE "gateway.http.endpoints.responses"
	return cfgr_bool(L, node, "enabled", RE ".enabled", &resp->enabled) < 0 ||
			       cfgr_long(L, node, "maxBodyBytes", RE ".maxBodyBytes", 1, 1L << 40,
					 &resp->max_body_bytes) < 0
		       ? -1
		       : 0;
#undef RE
}

/* session.store read strictly (store.h): a relative file against the
 * config's folder, a PostgreSQL string checked by libpq, anything else an
 * error naming the field.  The message never holds the password. */
static int load_store(struct cfg_reader *L, struct cfg *c, const cJSON *session)
{
	const cJSON *node = session ? cJSON_GetObjectItemCaseSensitive(session, "store") : NULL;
	char why[512], *resolved;
	enum store_kind kind;

	if (store_resolve(c->session.store, c->path, &resolved, &kind, why, sizeof why) < 0)
		return cfgr_fail(L, node, "session.store %s", why);
	free(c->session.store);
	c->session.store = resolved;
	return 0;
}

/* gateway (auth, http.endpoints), session and server. */
static int load_sections(struct cfg_reader *L, struct cfg *c, const cJSON *root)
{
	const cJSON *gw, *auth, *http, *eps, *cc, *re, *me, *cors, *server, *session, *usage;

	if (cfgr_object(L, root, "gateway", "gateway", &gw) < 0 ||
	    cfgr_object(L, gw, "auth", "gateway.auth", &auth) < 0 ||
	    cfgr_object(L, gw, "http", "gateway.http", &http) < 0 ||
	    cfgr_object(L, http, "endpoints", "gateway.http.endpoints", &eps) < 0 ||
	    cfgr_object(L, eps, "chatCompletions", "gateway.http.endpoints.chatCompletions", &cc) <
		    0 ||
	    cfgr_object(L, eps, "responses", "gateway.http.endpoints.responses", &re) < 0 ||
	    cfgr_object(L, eps, "metrics", "gateway.http.endpoints.metrics", &me) < 0 ||
	    cfgr_object(L, http, "cors", "gateway.http.cors", &cors) < 0 ||
	    cfgr_object(L, root, "server", "server", &server) < 0 ||
	    cfgr_object(L, root, "session", "session", &session) < 0 ||
	    cfgr_object(L, root, "usage", "usage", &usage) < 0)
		return -1;
	if (load_auth(L, &c->auth, auth) < 0 || load_chat(L, &c->chat, cc) < 0 ||
	    load_responses(L, &c->responses, re) < 0 ||
	    cfgr_bool(L, me, "enabled", "gateway.http.endpoints.metrics.enabled",
		      &c->metrics.enabled) < 0 ||
	    load_cors(L, &c->cors, cors) < 0 ||
	    cfgr_int(L, server, "threads", "server.threads", 1, SERVE_MAX_THREADS,
		     &c->server.threads) < 0 ||
	    cfgr_string(L, session, "store", "session.store", &c->session.store, NULL) < 0 ||
	    cfgr_int(L, session, "ttlDays", "session.ttlDays", 0, 36500, &c->session.ttl_days) <
		    0 ||
	    cfgr_int(L, session, "lockWaitSeconds", "session.lockWaitSeconds", 0,
		     MAX_LOCK_WAIT_SECONDS, &c->session.lock_wait_seconds) < 0 ||
	    cfgr_bool(L, usage, "enabled", "usage.enabled", &c->usage.enabled) < 0 ||
	    cfgr_int(L, usage, "retentionDays", "usage.retentionDays", 0, 36500,
		     &c->usage.retention_days) < 0)
		return -1;
	if (!c->session.store && !(c->session.store = strdup(DEFAULT_STORE)))
		return cfgr_fail(L, NULL, "out of memory");
	return load_store(L, c, session);
}

/* The password of a URL's "user:PASSWORD@" (a baseUrl's, which libcurl
 * sends as Basic credentials): its offset in url and its length, or false
 * when url has none. */
static bool url_password(const char *url, size_t *at, size_t *len)
{
	const char *auth = strstr(url, "://"), *end, *colon;

	if (!auth)
		return false;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *q = end; q > auth; q--)
		if (q[-1] == '@') {
			colon = memchr(auth, ':', (size_t)(q - 1 - auth));
			if (!colon)
				return false;
			*at = (size_t)(colon + 1 - url);
			*len = (size_t)(q - 1 - (colon + 1));
			return *len > 0;
		}
	return false;
}

/* A header value as secrets: the whole value, and of "Scheme credential"
 * ("Bearer sk-...", "Basic ...") the credential too, which an upstream may
 * quote without its scheme.  0, or -1 out of memory. */
static int add_header_secret(struct mask_set *set, const char *value)
{
	const char *cred = strchr(value, ' ');

	if (mask_set_add(set, value, strlen(value)) < 0)
		return -1;
	if (!cred)
		return 0;
	cred += strspn(cred, " \t");
	return mask_set_add(set, cred, strlen(cred));
}

/* The secrets c holds, made the process-wide mask set (mask.h): provider
 * API keys, baseUrl passwords and header values (and a value's credential
 * after its scheme), the gateway token or password, the store's password.  0, or -1 out of
 * memory. */
static int install_secrets(const struct cfg *c)
{
	struct mask_set *set = mask_set_new();
	int rc = set ? 0 : -1;

	if (rc == 0 && c->auth.secret)
		rc = mask_set_add(set, c->auth.secret, strlen(c->auth.secret));
	for (size_t i = 0; rc == 0 && i < c->nproviders; i++) {
		const struct cfg_provider *p = &c->providers[i];
		size_t at, len;
		if (p->api_key)
			rc = mask_set_add(set, p->api_key, strlen(p->api_key));
		if (rc == 0 && p->base_url && url_password(p->base_url, &at, &len))
			rc = mask_set_add(set, p->base_url + at, len);
		for (size_t h = 0; rc == 0 && h < p->nheaders; h++)
			rc = add_header_secret(set, p->headers[h].value);
	}
	if (rc == 0)
		rc = store_secrets(c->session.store, set);
	if (rc < 0) {
		mask_set_free(set);
		return -1;
	}
	return mask_install(set);
}

/* A new config holding every default; NULL when out of memory. */
static struct cfg *cfg_new(const char *path)
{
	struct cfg *c = calloc(1, sizeof *c);

	if (!c || !(c->path = strdup(path))) {
		free(c);
		return NULL;
	}
	c->auth.rate_limit.max_attempts = DEFAULT_RL_MAX_ATTEMPTS;
	c->auth.rate_limit.window_ms = DEFAULT_RL_WINDOW_MS;
	c->auth.rate_limit.lockout_ms = DEFAULT_RL_LOCKOUT_MS;
	c->auth.rate_limit.exempt_loopback = true;
	c->chat.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
	c->responses.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
	c->chat.keepalive_seconds = DEFAULT_KEEPALIVE_SECONDS;
	c->chat.body_timeout_seconds = DEFAULT_BODY_TIMEOUT_SECONDS;
	c->session.ttl_days = DEFAULT_TTL_DAYS;
	c->session.lock_wait_seconds = DEFAULT_LOCK_WAIT_SECONDS;
	c->usage.enabled = true;
	c->usage.retention_days = DEFAULT_USAGE_RETENTION_DAYS;
	c->refs = 1;
	return c;
}

int cfg_load_text(const char *name, const char *text, size_t len, struct cfg **out, char *errbuf,
		  size_t errlen)
{
	struct cfg_reader L = {.name = name, .err = errbuf, .errlen = errlen};
	struct json5_error jerr;
	struct cfg *c = NULL;
	cJSON *root = NULL;
	const cJSON *models, *providers;
	char(*pending)[CFGR_PENDING_MAX] = NULL;
	int rc = -1;

	*out = NULL;
	errbuf[0] = '\0';
	root = json5_parse(text, len, &L.lines, &jerr);
	if (!root) {
		snprintf(errbuf, errlen, "%s:%d:%d: %s", name, jerr.line, jerr.column,
			 jerr.message);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		cfgr_fail(&L, root, "the configuration must be an object ({ ... })");
		goto out;
	}
	models = cJSON_GetObjectItemCaseSensitive(root, "models");
	providers = cJSON_IsObject(models) ? cJSON_GetObjectItemCaseSensitive(models, "providers")
					   : NULL;
	if (!(c = cfg_new(name)) ||
	    !(pending = calloc((size_t)cJSON_GetArraySize(providers) + 1, sizeof *pending))) {
		cfgr_fail(&L, NULL, "out of memory");
		goto out;
	}
	if (load_sections(&L, c, root) < 0 || cfg_load_providers(&L, c, root, pending) < 0 ||
	    load_agents(&L, c, root) < 0 || check_user_agents(&L, c, root) < 0)
		goto out;
	/* An unset ${VAR} matters only in a provider some agent uses. */
	for (size_t i = 0; i < c->nproviders; i++) {
		if (c->providers[i].used && pending[i][0]) {
			snprintf(errbuf, errlen, "%s", pending[i]);
			goto out;
		}
	}
	if (c->auth.mode == CFG_AUTH_NONE)
		log_warn("%s: gateway.auth.mode is \"none\": anyone who can reach the "
			 "endpoint can use it",
			 name);
	if (install_secrets(c) < 0) {
		cfgr_fail(&L, NULL, "out of memory");
		goto out;
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	free(pending);
	cJSON_Delete(root);
	json5_lines_free(&L.lines);
	cfg_free(c);
	return rc;
}

int cfg_load(const char *path, struct cfg **out, char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct buf text = BUF_INIT;
	char chunk[8192];
	size_t n;
	int rc = -1;

	*out = NULL;
	if (!f) {
		snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf_set_max(&text, MAX_FILE);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		int brc = buf_append(&text, chunk, n);
		if (brc == BUF_TOO_BIG) {
			snprintf(errbuf, errlen, "%s: larger than %d bytes", path, MAX_FILE);
			goto out;
		}
		if (brc < 0) {
			snprintf(errbuf, errlen, "%s: out of memory", path);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(errbuf, errlen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	rc = cfg_load_text(path, buf_str(&text), text.len, out, errbuf, errlen);
out:
	fclose(f);
	buf_free(&text);
	return rc;
}

const char *cfg_default_path(void)
{
	const char *p = getenv("CLAWCGI_CONFIG");
	return p && *p ? p : CLAWCGI_SYSCONFDIR "/clawcgi/clawcgi.json5";
}

const struct cfg_agent *cfg_find_agent(const struct cfg *c, const char *id)
{
	for (size_t i = 0; i < c->nagents; i++)
		if (!strcasecmp(c->agents[i].id, id))
			return &c->agents[i];
	return NULL;
}

const struct cfg_provider *cfg_find_provider(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->nproviders; i++)
		if (!strcmp(c->providers[i].name, name))
			return &c->providers[i];
	return NULL;
}

const struct cfg_user *cfg_find_user(const struct cfg *c, const char *name)
{
	const struct cfg_user *any = NULL;

	for (size_t i = 0; i < c->auth.nusers; i++) {
		if (!strcmp(c->auth.users[i].name, name))
			return &c->auth.users[i];
		if (!strcmp(c->auth.users[i].name, "*"))
			any = &c->auth.users[i];
	}
	return any;
}

const char *cfg_auth_mode_name(enum cfg_auth_mode m)
{
	switch (m) {
	case CFG_AUTH_TOKEN:
		return "token";
	case CFG_AUTH_PASSWORD:
		return "password";
	case CFG_AUTH_KEYS:
		return "keys";
	case CFG_AUTH_REMOTE_USER:
		return "remote-user";
	case CFG_AUTH_NONE:
		break;
	}
	return "none";
}

/* Secrets show only whether they are set and how long they are. */
static void print_masked(FILE *out, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n)
		fputs("(not set)", out);
	else
		fprintf(out, "****** (%zu chars)", n);
}

void cfg_print(const struct cfg *c, FILE *out)
{
	char *shown;

	fprintf(out, "config: %s\n", c->path);
	fprintf(out, "auth: mode %s, %ssecret ", cfg_auth_mode_name(c->auth.mode),
		c->auth.mode == CFG_AUTH_KEYS ? "client keys from the store, operator " : "");
	if (c->auth.mode == CFG_AUTH_NONE || c->auth.mode == CFG_AUTH_REMOTE_USER)
		fputs("not used", out);
	else if (c->auth.mode == CFG_AUTH_KEYS && !c->auth.secret)
		fputs("(not set: client keys only)", out);
	else if (!c->auth.secret)
		fprintf(out, "MISSING: set %s; every request gets 500", c->auth.setting);
	else
		print_masked(out, c->auth.secret);
	fputc('\n', out);
	for (size_t i = 0; i < c->auth.nusers; i++) {
		const struct cfg_user *u = &c->auth.users[i];
		fprintf(out, "  user %s: agents %s, rpm %ld, tpm %ld\n", u->name,
			u->agents[0] ? u->agents : "(all)", u->rpm, u->tpm);
	}
	fprintf(out,
		"chatCompletions: %s, maxBodyBytes %ld, keepAliveSeconds %d, "
		"bodyTimeoutSeconds %d\n",
		c->chat.enabled ? "enabled" : "DISABLED (404)", c->chat.max_body_bytes,
		c->chat.keepalive_seconds, c->chat.body_timeout_seconds);
	fprintf(out, "responses: %s, maxBodyBytes %ld\n",
		c->responses.enabled ? "enabled" : "disabled (404)", c->responses.max_body_bytes);
	fprintf(out, "metrics: ");
	if (c->metrics.enabled) {
		char seg[4200];
		metrics_path_for(c->path, seg, sizeof seg);
		fprintf(out, "enabled, segment %s (%zu bytes)\n", seg, metrics_size());
	} else {
		fputs("disabled (404)\n", out);
	}
	fprintf(out, "cors: ");
	if (!c->cors.n_allowed_origins)
		fputs("off (no allowedOrigins)", out);
	for (size_t i = 0; i < c->cors.n_allowed_origins; i++)
		fprintf(out, "%s%s", i ? ", " : "", c->cors.allowed_origins[i]);
	fputc('\n', out);
	fprintf(out, "embeddings: %s\n",
		c->chat.enabled ? "enabled (with chatCompletions)" : "DISABLED (404)");
	shown = store_display(c->session.store);
	fprintf(out, "session store: %s %s (ttlDays %d, lockWaitSeconds %d)\n",
		store_kind_of(c->session.store) == STORE_POSTGRESQL ? "PostgreSQL" : "SQLite",
		shown ? shown : "(out of memory)", c->session.ttl_days,
		c->session.lock_wait_seconds);
	free(shown);
	if (c->usage.enabled)
		fprintf(out, "usage log: on (retentionDays %d)\n", c->usage.retention_days);
	else
		fputs("usage log: off\n", out);
	fprintf(out, "agents:\n");
	for (size_t i = 0; i < c->nagents; i++) {
		const struct cfg_agent *a = &c->agents[i];
		fprintf(out, "  %s%s: model %s/%s, historyLimit %d", a->id,
			i == c->default_agent ? " (default)" : "", a->model.provider->name,
			a->model.model, a->history_limit);
		for (size_t j = 0; j < a->nfallbacks; j++)
			fprintf(out, "%s%s/%s", j ? ", " : ", fallbacks ",
				a->fallbacks[j].provider->name, a->fallbacks[j].model);
		if (a->embedding_model.provider)
			fprintf(out, ", embeddingModel %s/%s", a->embedding_model.provider->name,
				a->embedding_model.model);
		fputc('\n', out);
	}
	fprintf(out, "providers:\n");
	for (size_t i = 0; i < c->nproviders; i++) {
		const struct cfg_provider *p = &c->providers[i];
		fprintf(out, "  %s: %s", p->name, cfg_api_name(p->api));
		size_t at, len;
		if (p->base_url && url_password(p->base_url, &at, &len))
			fprintf(out, ", baseUrl %.*s******%s", (int)at, p->base_url,
				p->base_url + at + len);
		else if (p->base_url)
			fprintf(out, ", baseUrl %s", p->base_url);
		if (p->api == CFG_API_OPENAI || p->api == CFG_API_ANTHROPIC) {
			fputs(", apiKey ", out);
			print_masked(out, p->api_key);
		}
		if (p->command) {
			fputs(", command", out);
			for (char **a = p->command; *a; a++)
				fprintf(out, " %s", *a);
		}
		for (size_t j = 0; j < p->nheaders; j++) {
			fprintf(out, ", header %s: ", p->headers[j].name);
			print_masked(out, p->headers[j].value);
		}
		fprintf(out, ", timeout %ds%s\n", p->timeout_seconds, p->used ? "" : " (unused)");
	}
}
