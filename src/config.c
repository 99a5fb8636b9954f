/*
 * config.c - the typed configuration: JSON5 file + environment -> struct cfg.
 *
 * This file owns loading (parse, ${VAR} substitution, defaults, validation
 * with "file:line: reason" messages) and the process-wide current snapshot
 * with its reload-on-change.  It does not decide anything per request: the
 * handlers read the snapshot they were given.
 *
 * Unknown keys are ignored, so an OpenClaw config with many other sections
 * loads unchanged.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "json5.h"
#include "log.h"

#define CFG_MAX_FILE (4 * 1024 * 1024)
#define CFG_MAX_THREADS 256

struct loader {
	const char *name;
	struct json5_lines lines;
	char *err;
	size_t errlen;
	bool failed;
};

static int fail(struct loader *L, const cJSON *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct loader *L, const cJSON *node, const char *fmt, ...)
{
	va_list ap;
	char msg[400];
	int line = node ? json5_line_of(&L->lines, node) : 0;

	if (L->failed)
		return -1;
	L->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(L->err, L->errlen, "%s:%d: %s", L->name, line, msg);
	else
		snprintf(L->err, L->errlen, "%s: %s", L->name, msg);
	return -1;
}

/*
 * Replace each ${NAME} in s by the environment variable NAME.  Returns a new
 * string, or NULL with the first unset name copied into missing (or
 * missing[0] == 0 when out of memory).
 */
static char *subst_env(const char *s, char *missing, size_t mlen)
{
	struct buf out = BUF_INIT;
	const char *p = s;

	missing[0] = '\0';
	while (*p) {
		const char *start, *end;
		if (p[0] != '$' || p[1] != '{') {
			if (buf_append(&out, p, 1) < 0)
				goto nomem;
			p++;
			continue;
		}
		start = p + 2;
		end = start;
		while (*end == '_' || isalnum((unsigned char)*end))
			end++;
		if (*end != '}' || end == start || isdigit((unsigned char)*start)) {
			if (buf_append(&out, p, 1) < 0) /* not a reference: literal */
				goto nomem;
			p++;
			continue;
		}
		{
			char name[128];
			size_t n = (size_t)(end - start);
			const char *val;
			if (n >= sizeof name)
				n = sizeof name - 1;
			memcpy(name, start, n);
			name[n] = '\0';
			val = getenv(name);
			if (!val) {
				snprintf(missing, mlen, "%s", name);
				buf_free(&out);
				return NULL;
			}
			if (buf_append_str(&out, val) < 0)
				goto nomem;
		}
		p = end + 1;
	}
	return buf_detach(&out);
nomem:
	buf_free(&out);
	return NULL;
}

/* A member that must be an object if present.  *out is NULL when absent. */
static int get_obj(struct loader *L, const cJSON *parent, const char *key,
		   const char *path, const cJSON **out)
{
	const cJSON *n = parent ? cJSON_GetObjectItemCaseSensitive(parent, key) : NULL;
	*out = NULL;
	if (!n || cJSON_IsNull(n))
		return 0;
	if (!cJSON_IsObject(n))
		return fail(L, n, "%s must be an object", path);
	*out = n;
	return 0;
}

static int get_bool(struct loader *L, const cJSON *parent, const char *key,
		    const char *path, bool *out)
{
	const cJSON *n = parent ? cJSON_GetObjectItemCaseSensitive(parent, key) : NULL;
	if (!n || cJSON_IsNull(n))
		return 0;
	if (!cJSON_IsBool(n))
		return fail(L, n, "%s must be true or false", path);
	*out = cJSON_IsTrue(n);
	return 0;
}

static int get_long(struct loader *L, const cJSON *parent, const char *key,
		    const char *path, long min, long max, long *out)
{
	const cJSON *n = parent ? cJSON_GetObjectItemCaseSensitive(parent, key) : NULL;
	double d;
	if (!n || cJSON_IsNull(n))
		return 0;
	if (!cJSON_IsNumber(n))
		return fail(L, n, "%s must be a number", path);
	d = n->valuedouble;
	if (d != d || d < (double)min || d > (double)max || d != (double)(long)d)
		return fail(L, n, "%s must be a whole number from %ld to %ld", path,
			    min, max);
	*out = (long)d;
	return 0;
}

static int get_int(struct loader *L, const cJSON *parent, const char *key,
		   const char *path, long min, long max, int *out)
{
	long v = *out;
	if (get_long(L, parent, key, path, min, max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * A string member, ${VAR}-substituted.  When defer is non-NULL an unset
 * variable is not an error yet: the message goes into defer (first one
 * only) and *out stays NULL, for values that matter only if used.
 */
static int get_str(struct loader *L, const cJSON *parent, const char *key,
		   const char *path, char **out, char *defer, size_t deferlen)
{
	const cJSON *n = parent ? cJSON_GetObjectItemCaseSensitive(parent, key) : NULL;
	char missing[128];
	char *v;

	if (!n || cJSON_IsNull(n))
		return 0;
	if (!cJSON_IsString(n))
		return fail(L, n, "%s must be a string", path);
	v = subst_env(n->valuestring, missing, sizeof missing);
	if (!v && !missing[0])
		return fail(L, n, "out of memory");
	if (!v) {
		int line = json5_line_of(&L->lines, n);
		if (!defer)
			return fail(L, n, "%s: environment variable %s is not set",
				    path, missing);
		if (!defer[0])
			snprintf(defer, deferlen,
				 "%s:%d: %s: environment variable %s is not set",
				 L->name, line, path, missing);
		return 0;
	}
	free(*out);
	*out = v;
	return 0;
}

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


static void free_provider(struct cfg_provider *p)
{
	free(p->name);
	free(p->base_url);
	free(p->api_key);
	if (p->command)
		for (char **a = p->command; *a; a++)
			free(*a);
	free(p->command);
	if (p->env)
		for (char **a = p->env; *a; a++)
			free(*a);
	free(p->env);
	for (size_t i = 0; i < p->nheaders; i++) {
		free(p->headers[i].name);
		free(p->headers[i].value);
	}
	free(p->headers);
}

static void free_agent(struct cfg_agent *a)
{
	free(a->id);
	free(a->name);
	free(a->system_prompt);
	free(a->model.model);
	for (size_t i = 0; i < a->nfallbacks; i++)
		free(a->fallbacks[i].model);
	free(a->fallbacks);
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->auth_secret);
	for (size_t i = 0; i < c->nagents; i++)
		free_agent(&c->agents[i]);
	free(c->agents);
	for (size_t i = 0; i < c->nproviders; i++)
		free_provider(&c->providers[i]);
	free(c->providers);
	free(c->store_path);
	free(c);
}

static int parse_api(const char *s, enum cfg_api *api)
{
	if (!strcmp(s, "openai-completions"))
		*api = CFG_API_OPENAI;
	else if (!strcmp(s, "anthropic-messages"))
		*api = CFG_API_ANTHROPIC;
	else if (!strcmp(s, "command"))
		*api = CFG_API_COMMAND;
	else if (!strcmp(s, "echo"))
		*api = CFG_API_ECHO;
	else
		return -1;
	return 0;
}

/* One entry of models.providers.  pending gets a deferred ${VAR} error. */
static int load_provider(struct loader *L, const cJSON *node,
			 struct cfg_provider *p, char *pending, size_t plen)
{
	char path[256];
	char *api = NULL;
	const cJSON *cmd, *hdrs;
	int rc = -1;

	snprintf(path, sizeof path, "models.providers.%s", node->string);
	if (!cJSON_IsObject(node))
		return fail(L, node, "%s must be an object", path);
	if (!node->string[0] || strchr(node->string, '/'))
		return fail(L, node, "provider name '%s' must be non-empty and without '/'",
			    node->string);
	if (!(p->name = strdup(node->string)))
		return fail(L, node, "out of memory");
	p->timeout_seconds = 600;
	p->connect_timeout_seconds = 10;
	p->retries = 1;

	{
		char sub[300];
		snprintf(sub, sizeof sub, "%s.api", path);
		if (get_str(L, node, "api", sub, &api, NULL, 0) < 0)
			goto out;
		if (!api) {
			fail(L, node, "%s: missing \"api\" (openai-completions, "
				      "anthropic-messages, command or echo)", path);
			goto out;
		}
		if (parse_api(api, &p->api) < 0) {
			fail(L, cJSON_GetObjectItemCaseSensitive(node, "api"),
			     "%s: unknown api '%s' (openai-completions, "
			     "anthropic-messages, command or echo)", sub, api);
			goto out;
		}
		snprintf(sub, sizeof sub, "%s.baseUrl", path);
		if (get_str(L, node, "baseUrl", sub, &p->base_url, pending, plen) < 0)
			goto out;
		snprintf(sub, sizeof sub, "%s.apiKey", path);
		if (get_str(L, node, "apiKey", sub, &p->api_key, pending, plen) < 0)
			goto out;
		snprintf(sub, sizeof sub, "%s.timeoutSeconds", path);
		if (get_int(L, node, "timeoutSeconds", sub, 1, 86400, &p->timeout_seconds) < 0)
			goto out;
		snprintf(sub, sizeof sub, "%s.connectTimeoutSeconds", path);
		if (get_int(L, node, "connectTimeoutSeconds", sub, 1, 3600,
			    &p->connect_timeout_seconds) < 0)
			goto out;
		snprintf(sub, sizeof sub, "%s.retries", path);
		if (get_int(L, node, "retries", sub, 0, 10, &p->retries) < 0)
			goto out;
		snprintf(sub, sizeof sub, "%s.maxTokens", path);
		if (get_int(L, node, "maxTokens", sub, 1, 10000000, &p->max_tokens) < 0)
			goto out;
	}

	if (!p->base_url && !pending[0]) {
		const char *def = NULL;
		if (p->api == CFG_API_OPENAI)
			def = "https://api.openai.com/v1";
		else if (p->api == CFG_API_ANTHROPIC)
			def = "https://api.anthropic.com";
		if (def && !(p->base_url = strdup(def))) {
			fail(L, node, "out of memory");
			goto out;
		}
	}
	if (p->base_url) {
		size_t n = strlen(p->base_url);
		while (n > 0 && p->base_url[n - 1] == '/')
			p->base_url[--n] = '\0';
		if (strncmp(p->base_url, "http://", 7) && strncmp(p->base_url, "https://", 8)) {
			fail(L, cJSON_GetObjectItemCaseSensitive(node, "baseUrl"),
			     "%s.baseUrl must start with http:// or https://", path);
			goto out;
		}
	}

	cmd = cJSON_GetObjectItemCaseSensitive(node, "command");
	if (p->api == CFG_API_COMMAND) {
		int n = cJSON_GetArraySize(cmd), i = 0;
		const cJSON *a;
		if (!cJSON_IsArray(cmd) || n < 1) {
			fail(L, cmd ? cmd : node, "%s.command must be a non-empty array of strings "
				  "(the program and its arguments; no shell)", path);
			goto out;
		}
		if (!(p->command = calloc((size_t)n + 1, sizeof *p->command))) {
			fail(L, cmd, "out of memory");
			goto out;
		}
		cJSON_ArrayForEach(a, cmd) {
			char missing[128];
			if (!cJSON_IsString(a)) {
				fail(L, a, "%s.command[%d] must be a string", path, i);
				goto out;
			}
			p->command[i] = subst_env(a->valuestring, missing, sizeof missing);
			if (!p->command[i]) {
				if (!pending[0])
					snprintf(pending, plen, "%s:%d: %s.command[%d]: "
						 "environment variable %s is not set",
						 L->name, json5_line_of(&L->lines, a),
						 path, i, missing);
				p->command[i] = strdup("");
			}
			i++;
		}
	}

	if (p->api == CFG_API_COMMAND) {
		/* The command sees only PATH and what "env" names. */
		const cJSON *env = cJSON_GetObjectItemCaseSensitive(node, "env"), *v;
		size_t n = 1;
		if (env && !cJSON_IsNull(env) && !cJSON_IsObject(env)) {
			fail(L, env, "%s.env must be an object of strings", path);
			goto out;
		}
		p->env = calloc((size_t)cJSON_GetArraySize(env) + 2, sizeof *p->env);
		if (!p->env || !(p->env[0] = strdup("PATH=/usr/local/bin:/usr/bin:/bin"))) {
			fail(L, node, "out of memory");
			goto out;
		}
		cJSON_ArrayForEach(v, env) {
			char sub[300];
			char *val = NULL;
			struct buf kv = BUF_INIT;
			snprintf(sub, sizeof sub, "%s.env.%s", path, v->string);
			if (!v->string[0] || strchr(v->string, '=')) {
				fail(L, v, "%s.env: bad variable name '%s'", path, v->string);
				goto out;
			}
			if (get_str(L, env, v->string, sub, &val, pending, plen) < 0)
				goto out;
			if (!cJSON_IsString(v)) {
				fail(L, v, "%s must be a string", sub);
				goto out;
			}
			if (!strcmp(v->string, "PATH")) {
				free(p->env[0]);
				p->env[0] = NULL;
				buf_printf(&kv, "PATH=%s", val ? val : "");
				p->env[0] = buf_detach(&kv);
			} else {
				buf_printf(&kv, "%s=%s", v->string, val ? val : "");
				p->env[n++] = buf_detach(&kv);
			}
			free(val);
		}
	}

	hdrs = cJSON_GetObjectItemCaseSensitive(node, "headers");
	if (hdrs && !cJSON_IsNull(hdrs)) {
		const cJSON *h;
		if (!cJSON_IsObject(hdrs)) {
			fail(L, hdrs, "%s.headers must be an object of strings", path);
			goto out;
		}
		p->headers = calloc((size_t)cJSON_GetArraySize(hdrs) + 1, sizeof *p->headers);
		if (!p->headers) {
			fail(L, hdrs, "out of memory");
			goto out;
		}
		cJSON_ArrayForEach(h, hdrs) {
			char sub[300];
			struct cfg_header *ch = &p->headers[p->nheaders];
			if (!h->string[0] || strpbrk(h->string, ": \r\n")) {
				fail(L, h, "%s.headers: bad header name '%s'", path, h->string);
				goto out;
			}
			snprintf(sub, sizeof sub, "%s.headers.%s", path, h->string);
			if (get_str(L, hdrs, h->string, sub, &ch->value, pending, plen) < 0)
				goto out;
			if (!cJSON_IsString(h)) {
				fail(L, h, "%s must be a string", sub);
				goto out;
			}
			if (ch->value && strpbrk(ch->value, "\r\n")) {
				fail(L, h, "%s must not contain line breaks", sub);
				goto out;
			}
			if (!(ch->name = strdup(h->string))) {
				fail(L, h, "out of memory");
				goto out;
			}
			p->nheaders++;
			if (!ch->value)
				ch->value = strdup("");
		}
	}
	rc = 0;
out:
	free(api);
	return rc;
}

/* "provider/model-id" -> m.  Marks the provider used. */
static int parse_model_ref(struct loader *L, struct cfg *c, const cJSON *node,
			   const char *s, const char *agent, struct cfg_model *m)
{
	const struct cfg_provider *p;
	const char *model_id;

	switch (cfg_model_ref(c, s, &p, &model_id)) {
	case 0:
		break;
	case CFG_MODEL_MALFORMED:
		return fail(L, node, "agent '%s': model '%s' must be \"provider/model-id\"",
			    agent, s);
	default:
		return fail(L, node, "agent '%s': model '%s' names unknown provider '%.*s' "
				     "(not in models.providers)", agent, s,
			    (int)(strchr(s, '/') - s), s);
	}
	m->provider = p;
	c->providers[p - c->providers].used = true;
	if (!(m->model = strdup(model_id)))
		return fail(L, node, "out of memory");
	return 0;
}

/* An agent's model: a string, or { primary, fallbacks: [...] }. */
static int load_model(struct loader *L, struct cfg *c, const cJSON *node,
		      struct cfg_agent *a)
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
			return fail(L, prim ? prim : node,
				    "agent '%s': model.primary must be a string", a->id);
		if (fb && !cJSON_IsNull(fb) && !cJSON_IsArray(fb))
			return fail(L, fb, "agent '%s': model.fallbacks must be an array", a->id);
	} else {
		return fail(L, node, "agent '%s': model must be a string or "
				     "{ primary, fallbacks }", a->id);
	}
	if (!(s = subst_env(prim->valuestring, missing, sizeof missing)))
		return fail(L, prim, "agent '%s': model: environment variable %s is not set",
			    a->id, missing);
	rc = parse_model_ref(L, c, prim, s, a->id, &a->model);
	free(s);
	if (rc < 0 || !cJSON_IsArray(fb))
		return rc;
	a->fallbacks = calloc((size_t)cJSON_GetArraySize(fb) + 1, sizeof *a->fallbacks);
	if (!a->fallbacks)
		return fail(L, fb, "out of memory");
	cJSON_ArrayForEach(f, fb) {
		if (!cJSON_IsString(f))
			return fail(L, f, "agent '%s': model.fallbacks must hold strings", a->id);
		if (!(s = subst_env(f->valuestring, missing, sizeof missing)))
			return fail(L, f, "agent '%s': model.fallbacks: environment "
					  "variable %s is not set", a->id, missing);
		rc = parse_model_ref(L, c, f, s, a->id, &a->fallbacks[a->nfallbacks]);
		free(s);
		if (rc < 0)
			return rc;
		a->nfallbacks++;
	}
	return 0;
}

static int load_agent(struct loader *L, struct cfg *c, const cJSON *node,
		      const cJSON *defaults, struct cfg_agent *a, int idx)
{
	char path[64], lid[CFG_AGENT_ID_MAX + 1];
	const cJSON *id, *model;

	snprintf(path, sizeof path, "agents.list[%d]", idx);
	if (!cJSON_IsObject(node))
		return fail(L, node, "%s must be an object", path);
	id = cJSON_GetObjectItemCaseSensitive(node, "id");
	if (!cJSON_IsString(id))
		return fail(L, id ? id : node, "%s: missing string \"id\"", path);
	if (!cfg_agent_id(id->valuestring, strlen(id->valuestring), lid))
		return fail(L, id, "%s: bad agent id '%s' (letters, digits, '_' and '-', "
				   "1-64 characters, starting with a letter or digit)",
			    path, id->valuestring);
	if (!(a->id = strdup(lid)))
		return fail(L, id, "out of memory");
	for (size_t i = 0; i < c->nagents; i++)
		if (!strcmp(c->agents[i].id, a->id))
			return fail(L, id, "duplicate agent id '%s'", a->id);

	a->history_limit = 40;
	if (get_int(L, defaults, "historyLimit", "agents.defaults.historyLimit", 0,
		    100000, &a->history_limit) < 0 ||
	    get_int(L, node, "historyLimit", "agents.list[].historyLimit", 0, 100000,
		    &a->history_limit) < 0 ||
	    get_bool(L, node, "default", "agents.list[].default", &a->is_default) < 0 ||
	    get_str(L, defaults, "systemPrompt", "agents.defaults.systemPrompt",
		    &a->system_prompt, NULL, 0) < 0 ||
	    get_str(L, node, "systemPrompt", "agents.list[].systemPrompt",
		    &a->system_prompt, NULL, 0) < 0 ||
	    get_str(L, node, "name", "agents.list[].name", &a->name, NULL, 0) < 0)
		return -1;

	model = cJSON_GetObjectItemCaseSensitive(node, "model");
	if (!model || cJSON_IsNull(model))
		model = defaults ? cJSON_GetObjectItemCaseSensitive(defaults, "model") : NULL;
	if (!model || cJSON_IsNull(model))
		return fail(L, node, "agent '%s' has no model: set its \"model\" or "
				     "agents.defaults.model (\"provider/model-id\")", a->id);
	return load_model(L, c, model, a);
}

static int load_agents(struct loader *L, struct cfg *c, const cJSON *root)
{
	const cJSON *agents, *defaults, *list, *n;
	int count, i = 0;
	bool have_default = false;

	if (get_obj(L, root, "agents", "agents", &agents) < 0 ||
	    get_obj(L, agents, "defaults", "agents.defaults", &defaults) < 0)
		return -1;
	list = agents ? cJSON_GetObjectItemCaseSensitive(agents, "list") : NULL;
	if (list && !cJSON_IsNull(list) && !cJSON_IsArray(list))
		return fail(L, list, "agents.list must be an array");
	count = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;

	if (count == 0) {
		/* No list: one agent "main" made of the defaults. */
		cJSON *main = cJSON_CreateObject();
		int rc;
		if (!main || !cJSON_AddStringToObject(main, "id", "main")) {
			cJSON_Delete(main);
			return fail(L, NULL, "out of memory");
		}
		c->agents = calloc(1, sizeof *c->agents);
		if (!c->agents) {
			cJSON_Delete(main);
			return fail(L, NULL, "out of memory");
		}
		rc = load_agent(L, c, main, defaults, &c->agents[0], 0);
		c->nagents = 1;
		cJSON_Delete(main);
		c->default_agent = 0;
		return rc;
	}

	c->agents = calloc((size_t)count, sizeof *c->agents);
	if (!c->agents)
		return fail(L, list, "out of memory");
	cJSON_ArrayForEach(n, list) {
		struct cfg_agent *a = &c->agents[c->nagents];
		int rc = load_agent(L, c, n, defaults, a, i);
		c->nagents++;
		if (rc < 0)
			return -1;
		if (a->is_default) {
			if (have_default)
				return fail(L, n, "agents '%s' and '%s' both have default: true",
					    c->agents[c->default_agent].id, a->id);
			have_default = true;
			c->default_agent = (size_t)i;
		}
		i++;
	}
	return 0;
}

static int load_providers(struct loader *L, struct cfg *c, const cJSON *root,
			  char (*pending)[512])
{
	const cJSON *models, *provs, *p;
	if (get_obj(L, root, "models", "models", &models) < 0 ||
	    get_obj(L, models, "providers", "models.providers", &provs) < 0)
		return -1;
	if (!provs)
		return 0;
	c->providers = calloc((size_t)cJSON_GetArraySize(provs) + 1, sizeof *c->providers);
	if (!c->providers)
		return fail(L, provs, "out of memory");
	cJSON_ArrayForEach(p, provs) {
		size_t i = c->nproviders;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->providers[j].name, p->string))
				return fail(L, p, "duplicate provider '%s'", p->string);
		c->nproviders++;
		if (load_provider(L, p, &c->providers[i], pending[i], sizeof pending[i]) < 0)
			return -1;
	}
	return 0;
}

static int load_gateway(struct loader *L, struct cfg *c, const cJSON *root)
{
	const cJSON *gw, *auth, *rl, *http, *eps, *cc, *img, *server, *session;
	char *mode = NULL, *token = NULL, *password = NULL;
	int rc = -1;

	if (get_obj(L, root, "gateway", "gateway", &gw) < 0 ||
	    get_obj(L, gw, "auth", "gateway.auth", &auth) < 0 ||
	    get_obj(L, auth, "rateLimit", "gateway.auth.rateLimit", &rl) < 0 ||
	    get_obj(L, gw, "http", "gateway.http", &http) < 0 ||
	    get_obj(L, http, "endpoints", "gateway.http.endpoints", &eps) < 0 ||
	    get_obj(L, eps, "chatCompletions", "gateway.http.endpoints.chatCompletions", &cc) < 0 ||
	    get_obj(L, cc, "images", "gateway.http.endpoints.chatCompletions.images", &img) < 0 ||
	    get_obj(L, root, "server", "server", &server) < 0 ||
	    get_obj(L, root, "session", "session", &session) < 0)
		goto out;

	if (get_str(L, auth, "mode", "gateway.auth.mode", &mode, NULL, 0) < 0 ||
	    get_str(L, auth, "token", "gateway.auth.token", &token, NULL, 0) < 0 ||
	    get_str(L, auth, "password", "gateway.auth.password", &password, NULL, 0) < 0)
		goto out;
	if (!mode) {
		/* Inferred: a password when one is set (in the file, or only in
		 * the environment with no token anywhere), else a token. */
		const char *envpw = getenv("OPENCLAW_GATEWAY_PASSWORD");
		const char *envtok = getenv("OPENCLAW_GATEWAY_TOKEN");
		bool have_token = (token && *token) || (envtok && *envtok);
		c->auth_mode = (password && *password) || (!have_token && envpw && *envpw)
				       ? CFG_AUTH_PASSWORD : CFG_AUTH_TOKEN;
	} else if (!strcmp(mode, "token")) {
		c->auth_mode = CFG_AUTH_TOKEN;
	} else if (!strcmp(mode, "password")) {
		c->auth_mode = CFG_AUTH_PASSWORD;
	} else if (!strcmp(mode, "none")) {
		c->auth_mode = CFG_AUTH_NONE;
	} else {
		fail(L, cJSON_GetObjectItemCaseSensitive(auth, "mode"),
		     "unknown gateway.auth.mode '%s' (token, password or none)", mode);
		goto out;
	}
	if (c->auth_mode == CFG_AUTH_TOKEN) {
		const char *env = getenv("OPENCLAW_GATEWAY_TOKEN");
		c->auth_setting = "gateway.auth.token (or OPENCLAW_GATEWAY_TOKEN)";
		if (token && *token) {
			c->auth_secret = token;
			token = NULL;
		} else if (env && *env) {
			c->auth_secret = strdup(env);
		}
	} else if (c->auth_mode == CFG_AUTH_PASSWORD) {
		const char *env = getenv("OPENCLAW_GATEWAY_PASSWORD");
		c->auth_setting = "gateway.auth.password (or OPENCLAW_GATEWAY_PASSWORD)";
		if (password && *password) {
			c->auth_secret = password;
			password = NULL;
		} else if (env && *env) {
			c->auth_secret = strdup(env);
		}
	}

	if (get_int(L, rl, "maxAttempts", "gateway.auth.rateLimit.maxAttempts", 1,
		    1000000, &c->rl_max_attempts) < 0 ||
	    get_long(L, rl, "windowMs", "gateway.auth.rateLimit.windowMs", 1,
		     86400000L * 30, &c->rl_window_ms) < 0 ||
	    get_long(L, rl, "lockoutMs", "gateway.auth.rateLimit.lockoutMs", 0,
		     86400000L * 30, &c->rl_lockout_ms) < 0 ||
	    get_bool(L, rl, "exemptLoopback", "gateway.auth.rateLimit.exemptLoopback",
		     &c->rl_exempt_loopback) < 0 ||
	    get_bool(L, cc, "enabled", "gateway.http.endpoints.chatCompletions.enabled",
		     &c->chat_enabled) < 0 ||
	    get_long(L, cc, "maxBodyBytes",
		     "gateway.http.endpoints.chatCompletions.maxBodyBytes", 1,
		     1L << 40, &c->max_body_bytes) < 0 ||
	    get_int(L, cc, "keepAliveSeconds",
		    "gateway.http.endpoints.chatCompletions.keepAliveSeconds", 0, 3600,
		    &c->keepalive_seconds) < 0 ||
	    get_bool(L, img, "allowUrl",
		     "gateway.http.endpoints.chatCompletions.images.allowUrl",
		     &c->images_allow_url) < 0 ||
	    get_int(L, server, "threads", "server.threads", 1, CFG_MAX_THREADS,
		    &c->threads) < 0 ||
	    get_str(L, session, "store", "session.store", &c->store_path, NULL, 0) < 0 ||
	    get_int(L, session, "ttlDays", "session.ttlDays", 0, 36500, &c->ttl_days) < 0)
		goto out;
	if (!c->store_path &&
	    !(c->store_path = strdup(CLAWCGI_LOCALSTATEDIR "/lib/clawcgi/clawcgi.db"))) {
		fail(L, NULL, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(mode);
	free(token);
	free(password);
	return rc;
}

int cfg_load_text(const char *name, const char *text, size_t len,
		  struct cfg **out, char *errbuf, size_t errlen)
{
	struct loader L = {.name = name, .err = errbuf, .errlen = errlen};
	struct json5_error jerr;
	struct cfg *c = NULL;
	cJSON *root = NULL;
	char (*pending)[512] = NULL;
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
		fail(&L, root, "the configuration must be an object ({ ... })");
		goto out;
	}
	c = calloc(1, sizeof *c);
	if (!c || !(c->path = strdup(name))) {
		fail(&L, NULL, "out of memory");
		goto out;
	}
	c->rl_max_attempts = 10;
	c->rl_window_ms = 60000;
	c->rl_lockout_ms = 300000;
	c->rl_exempt_loopback = true;
	c->max_body_bytes = 20L * 1024 * 1024;
	c->keepalive_seconds = 10;
	c->ttl_days = 30;
	c->refs = 1;

	{
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "models");
		const cJSON *p = cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, "providers") : NULL;
		pending = calloc((size_t)cJSON_GetArraySize(p) + 1, sizeof *pending);
		if (!pending) {
			fail(&L, NULL, "out of memory");
			goto out;
		}
	}
	if (load_gateway(&L, c, root) < 0 || load_providers(&L, c, root, pending) < 0 ||
	    load_agents(&L, c, root) < 0)
		goto out;
	/* An unset ${VAR} matters only in a provider some agent uses. */
	for (size_t i = 0; i < c->nproviders; i++) {
		if (c->providers[i].used && pending[i][0]) {
			snprintf(errbuf, errlen, "%s", pending[i]);
			goto out;
		}
	}
	if (c->auth_mode == CFG_AUTH_NONE)
		log_warn("%s: gateway.auth.mode is \"none\": anyone who can reach the "
			 "endpoint can use it", name);
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
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (text.len + n > CFG_MAX_FILE) {
			snprintf(errbuf, errlen, "%s: larger than %d bytes", path, CFG_MAX_FILE);
			goto out;
		}
		if (buf_append(&text, chunk, n) < 0) {
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

const char *cfg_api_name(enum cfg_api api)
{
	switch (api) {
	case CFG_API_OPENAI:
		return "openai-completions";
	case CFG_API_ANTHROPIC:
		return "anthropic-messages";
	case CFG_API_COMMAND:
		return "command";
	case CFG_API_ECHO:
		return "echo";
	}
	return "?";
}

const char *cfg_auth_mode_name(enum cfg_auth_mode m)
{
	return m == CFG_AUTH_TOKEN ? "token" : m == CFG_AUTH_PASSWORD ? "password" : "none";
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
	fprintf(out, "config: %s\n", c->path);
	fprintf(out, "auth: mode %s, secret ", cfg_auth_mode_name(c->auth_mode));
	if (c->auth_mode == CFG_AUTH_NONE)
		fputs("not used", out);
	else if (!c->auth_secret)
		fprintf(out, "MISSING: set %s; every request gets 500", c->auth_setting);
	else
		print_masked(out, c->auth_secret);
	fputc('\n', out);
	fprintf(out, "chatCompletions: %s, maxBodyBytes %ld, keepAliveSeconds %d\n",
		c->chat_enabled ? "enabled" : "DISABLED (404)", c->max_body_bytes,
		c->keepalive_seconds);
	fprintf(out, "session store: %s (ttlDays %d)\n", c->store_path, c->ttl_days);
	fprintf(out, "agents:\n");
	for (size_t i = 0; i < c->nagents; i++) {
		const struct cfg_agent *a = &c->agents[i];
		fprintf(out, "  %s%s: model %s/%s, historyLimit %d", a->id,
			i == c->default_agent ? " (default)" : "", a->model.provider->name,
			a->model.model, a->history_limit);
		for (size_t j = 0; j < a->nfallbacks; j++)
			fprintf(out, "%s%s/%s", j ? ", " : ", fallbacks ",
				a->fallbacks[j].provider->name, a->fallbacks[j].model);
		fputc('\n', out);
	}
	fprintf(out, "providers:\n");
	for (size_t i = 0; i < c->nproviders; i++) {
		const struct cfg_provider *p = &c->providers[i];
		fprintf(out, "  %s: %s", p->name, cfg_api_name(p->api));
		if (p->base_url)
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
		fprintf(out, ", timeout %ds%s\n", p->timeout_seconds,
			p->used ? "" : " (unused)");
	}
}

/* ---- the process-wide current snapshot ---- */

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cfg *cur;
static char *cur_path;
static struct stat cur_st;  /* of the file cur came from */
static struct stat bad_st;  /* of the last file that failed, logged once */
static bool have_bad;
static char bad_msg[600];   /* why the last file failed */

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Called with cur_lock held. */
static void reload_locked(void)
{
	struct stat st;
	struct cfg *c;
	char errbuf[600];

	if (stat(cur_path, &st) < 0) {
		if (!have_bad || bad_st.st_ino != 0) {
			snprintf(bad_msg, sizeof bad_msg, "%s: cannot read the configuration: %s",
				 cur_path, strerror(errno));
			log_error("%s%s", bad_msg, cur ? "; keeping the last good one" : "");
			memset(&bad_st, 0, sizeof bad_st);
			have_bad = true;
		}
		return;
	}
	if (cur && same_file(&st, &cur_st))
		return;
	if (have_bad && same_file(&st, &bad_st))
		return;
	if (cfg_load(cur_path, &c, errbuf, sizeof errbuf) < 0) {
		log_error("%s%s", errbuf, cur ? " (keeping the last good configuration)" : "");
		snprintf(bad_msg, sizeof bad_msg, "%s", errbuf);
		bad_st = st;
		have_bad = true;
		return;
	}
	if (cur)
		log_info("%s: configuration reloaded", cur_path);
	if (cur && --cur->refs == 0)
		cfg_free(cur);
	cur = c;
	cur_st = st;
	have_bad = false;
}

int cfg_init(const char *path)
{
	pthread_mutex_lock(&cur_lock);
	free(cur_path);
	cur_path = strdup(path);
	if (cur_path)
		reload_locked();
	pthread_mutex_unlock(&cur_lock);
	return cur ? 0 : -1;
}

struct cfg *cfg_acquire(void)
{
	struct cfg *c;
	pthread_mutex_lock(&cur_lock);
	if (cur_path)
		reload_locked();
	c = cur;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&cur_lock);
	return c;
}

void cfg_last_error(char *buf, size_t n)
{
	pthread_mutex_lock(&cur_lock);
	snprintf(buf, n, "%s", have_bad ? bad_msg : "no configuration loaded");
	pthread_mutex_unlock(&cur_lock);
}

void cfg_release(struct cfg *c)
{
	bool last;
	if (!c)
		return;
	pthread_mutex_lock(&cur_lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&cur_lock);
	if (last)
		cfg_free(c);
}

void cfg_shutdown(void)
{
	pthread_mutex_lock(&cur_lock);
	if (cur && --cur->refs == 0)
		cfg_free(cur);
	cur = NULL;
	free(cur_path);
	cur_path = NULL;
	have_bad = false;
	pthread_mutex_unlock(&cur_lock);
}
