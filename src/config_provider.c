/*
 * config_provider.c - the models.providers section: one struct
 * cfg_provider per entry, each setting checked, its defaults applied.
 *
 * The provider kinds ("api") and what each kind defaults to are the table
 * below; the rest of clawcgi names a kind only by its enum.
 */
#include "config_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define DEFAULT_TIMEOUT_SECONDS 600
#define DEFAULT_CONNECT_TIMEOUT_SECONDS 10
#define DEFAULT_RETRIES 1
/* What a command provider's program sees of PATH unless its env says. */
#define COMMAND_PATH "PATH=/usr/local/bin:/usr/bin:/bin"

/* The provider kinds, by their config names. */
static const struct {
	enum cfg_api api;
	const char *name;
	const char *default_base_url; /* NULL: none (not an HTTP kind) */
} apis[] = {
	{CFG_API_OPENAI, "openai-completions", "https://api.openai.com/v1"},
	{CFG_API_ANTHROPIC, "anthropic-messages", "https://api.anthropic.com"},
	{CFG_API_COMMAND, "command", NULL},
	{CFG_API_ECHO, "echo", NULL},
};
#define NAPIS (sizeof apis / sizeof *apis)

const char *cfg_api_name(enum cfg_api api)
{
	for (size_t i = 0; i < NAPIS; i++)
		if (apis[i].api == api)
			return apis[i].name;
	return "?";
}

/* "a, b, c or d": the kinds, for messages. */
static void api_names(char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < NAPIS && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s",
				      i ? (i + 1 < NAPIS ? ", " : " or ") : "", apis[i].name);
}

void cfg_free_provider(struct cfg_provider *p)
{
	free(p->name);
	free(p->base_url);
	free(p->api_key);
	for (char **a = p->command; a && *a; a++)
		free(*a);
	free(p->command);
	for (char **a = p->env; a && *a; a++)
		free(*a);
	free(p->env);
	for (size_t i = 0; i < p->nheaders; i++) {
		free(p->headers[i].name);
		free(p->headers[i].value);
	}
	free(p->headers);
}

/* "api": the kind, found in the table; *kind is its entry. */
static int load_kind(struct cfg_reader *L, const cJSON *node, const char *path,
		     struct cfg_provider *p, size_t *kind)
{
	char sub[300], names[128];
	char *api = NULL;

	snprintf(sub, sizeof sub, "%s.api", path);
	api_names(names, sizeof names);
	if (cfgr_string(L, node, "api", sub, &api, NULL) < 0)
		return -1;
	if (!api)
		return cfgr_fail(L, node, "%s: missing \"api\" (%s)", path, names);
	for (*kind = 0; *kind < NAPIS && strcmp(apis[*kind].name, api); ++*kind)
		;
	if (*kind == NAPIS) {
		cfgr_fail(L, cJSON_GetObjectItemCaseSensitive(node, "api"),
			  "%s: unknown api '%s' (%s)", sub, api, names);
		free(api);
		return -1;
	}
	free(api);
	p->api = apis[*kind].api;
	return 0;
}

/* The settings every kind reads (the HTTP ones are unused by the others):
 * baseUrl (the kind's default, no trailing slash, http(s) only), apiKey,
 * the timeouts, retries and maxTokens. */
static int load_common(struct cfg_reader *L, const cJSON *node, const char *path,
		       struct cfg_provider *p, size_t kind, char *pending)
{
	char sub[300];
	size_t n;

#define SUB(key) (snprintf(sub, sizeof sub, "%s." key, path), sub)
	if (cfgr_string(L, node, "baseUrl", SUB("baseUrl"), &p->base_url, pending) < 0 ||
	    cfgr_string(L, node, "apiKey", SUB("apiKey"), &p->api_key, pending) < 0 ||
	    cfgr_int(L, node, "timeoutSeconds", SUB("timeoutSeconds"), 1, 86400,
		     &p->timeout_seconds) < 0 ||
	    cfgr_int(L, node, "connectTimeoutSeconds", SUB("connectTimeoutSeconds"), 1, 3600,
		     &p->connect_timeout_seconds) < 0 ||
	    cfgr_int(L, node, "retries", SUB("retries"), 0, 10, &p->retries) < 0 ||
	    cfgr_int(L, node, "maxTokens", SUB("maxTokens"), 1, 10000000, &p->max_tokens) < 0)
		return -1;
#undef SUB
	if (!p->base_url && !pending[0] && apis[kind].default_base_url &&
	    !(p->base_url = strdup(apis[kind].default_base_url)))
		return cfgr_fail(L, node, "out of memory");
	if (!p->base_url)
		return 0;
	n = strlen(p->base_url);
	while (n > 0 && p->base_url[n - 1] == '/')
		p->base_url[--n] = '\0';
	if (strncmp(p->base_url, "http://", 7) && strncmp(p->base_url, "https://", 8))
		return cfgr_fail(L, cJSON_GetObjectItemCaseSensitive(node, "baseUrl"),
				 "%s.baseUrl must start with http:// or https://", path);
	return 0;
}

/* "command": the program and its arguments, no shell. */
static int load_command(struct cfg_reader *L, const cJSON *node, const char *path,
			struct cfg_provider *p, char *pending)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(node, "command"), *a;
	int n = cJSON_GetArraySize(cmd), i = 0;

	if (!cJSON_IsArray(cmd) || n < 1)
		return cfgr_fail(L, cmd ? cmd : node,
				 "%s.command must be a non-empty array of "
				 "strings (the program and its arguments; no shell)",
				 path);
	if (!(p->command = calloc((size_t)n + 1, sizeof *p->command)))
		return cfgr_fail(L, cmd, "out of memory");
	cJSON_ArrayForEach(a, cmd) {
		char missing[128], sub[300];
		if (!cJSON_IsString(a))
			return cfgr_fail(L, a, "%s.command[%d] must be a string", path, i);
		p->command[i] = cfgr_subst_env(a->valuestring, missing, sizeof missing);
		if (!p->command[i] && !missing[0])
			return cfgr_fail(L, a, "out of memory");
		if (!p->command[i]) {
			snprintf(sub, sizeof sub, "%s.command[%d]", path, i);
			cfgr_defer(L, a, sub, missing, pending);
			if (!(p->command[i] = strdup("")))
				return cfgr_fail(L, a, "out of memory");
		}
		i++;
	}
	return 0;
}

/* "env": the command's whole environment is PATH and what this names. */
static int load_env(struct cfg_reader *L, const cJSON *node, const char *path,
		    struct cfg_provider *p, char *pending)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(node, "env"), *v;
	size_t n = 1;

	if (env && !cJSON_IsNull(env) && !cJSON_IsObject(env))
		return cfgr_fail(L, env, "%s.env must be an object of strings", path);
	p->env = calloc((size_t)cJSON_GetArraySize(env) + 2, sizeof *p->env);
	if (!p->env || !(p->env[0] = strdup(COMMAND_PATH)))
		return cfgr_fail(L, node, "out of memory");
	cJSON_ArrayForEach(v, env) {
		struct buf kv = BUF_INIT;
		char sub[300];
		char *val = NULL;
		size_t slot = strcmp(v->string, "PATH") ? n++ : 0;

		snprintf(sub, sizeof sub, "%s.env.%s", path, v->string);
		if (!v->string[0] || strchr(v->string, '='))
			return cfgr_fail(L, v, "%s.env: bad variable name '%s'", path, v->string);
		if (cfgr_string(L, env, v->string, sub, &val, pending) < 0)
			return -1;
		if (!cJSON_IsString(v)) {
			free(val);
			return cfgr_fail(L, v, "%s must be a string", sub);
		}
		if (buf_printf(&kv, "%s=%s", v->string, val ? val : "") < 0) {
			free(val);
			return cfgr_fail(L, v, "out of memory");
		}
		free(val);
		free(p->env[slot]);
		if (!(p->env[slot] = buf_detach(&kv)))
			return cfgr_fail(L, v, "out of memory");
	}
	return 0;
}

/* "headers": extra request headers, names and values checked for safety. */
static int load_headers(struct cfg_reader *L, const cJSON *node, const char *path,
			struct cfg_provider *p, char *pending)
{
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(node, "headers"), *h;

	if (!hdrs || cJSON_IsNull(hdrs))
		return 0;
	if (!cJSON_IsObject(hdrs))
		return cfgr_fail(L, hdrs, "%s.headers must be an object of strings", path);
	p->headers = calloc((size_t)cJSON_GetArraySize(hdrs) + 1, sizeof *p->headers);
	if (!p->headers)
		return cfgr_fail(L, hdrs, "out of memory");
	cJSON_ArrayForEach(h, hdrs) {
		struct cfg_header *ch = &p->headers[p->nheaders];
		char sub[300];

		if (!h->string[0] || strpbrk(h->string, ": \r\n"))
			return cfgr_fail(L, h, "%s.headers: bad header name '%s'", path, h->string);
		snprintf(sub, sizeof sub, "%s.headers.%s", path, h->string);
		if (cfgr_string(L, hdrs, h->string, sub, &ch->value, pending) < 0)
			return -1;
		p->nheaders++; /* from here on freed with the provider: value is set */
		if (!cJSON_IsString(h))
			return cfgr_fail(L, h, "%s must be a string", sub);
		if (ch->value && strpbrk(ch->value, "\r\n"))
			return cfgr_fail(L, h, "%s must not contain line breaks", sub);
		if (!(ch->name = strdup(h->string)) || (!ch->value && !(ch->value = strdup(""))))
			return cfgr_fail(L, h, "out of memory");
	}
	return 0;
}

/* One entry of models.providers.  pending gets a deferred ${VAR} error. */
static int load_provider(struct cfg_reader *L, const cJSON *node, struct cfg_provider *p,
			 char *pending)
{
	char path[256];
	size_t kind = 0;

	snprintf(path, sizeof path, "models.providers.%s", node->string);
	if (!cJSON_IsObject(node))
		return cfgr_fail(L, node, "%s must be an object", path);
	if (!node->string[0] || strchr(node->string, '/'))
		return cfgr_fail(L, node, "provider name '%s' must be non-empty and without '/'",
				 node->string);
	if (!(p->name = strdup(node->string)))
		return cfgr_fail(L, node, "out of memory");
	p->timeout_seconds = DEFAULT_TIMEOUT_SECONDS;
	p->connect_timeout_seconds = DEFAULT_CONNECT_TIMEOUT_SECONDS;
	p->retries = DEFAULT_RETRIES;
	if (load_kind(L, node, path, p, &kind) < 0 ||
	    load_common(L, node, path, p, kind, pending) < 0)
		return -1;
	if (p->api == CFG_API_COMMAND && (load_command(L, node, path, p, pending) < 0 ||
					  load_env(L, node, path, p, pending) < 0))
		return -1;
	return load_headers(L, node, path, p, pending);
}

int cfg_load_providers(struct cfg_reader *L, struct cfg *c, const cJSON *root,
		       char (*pending)[CFGR_PENDING_MAX])
{
	const cJSON *models, *provs, *p;

	if (cfgr_object(L, root, "models", "models", &models) < 0 ||
	    cfgr_object(L, models, "providers", "models.providers", &provs) < 0)
		return -1;
	if (!provs)
		return 0;
	c->providers = calloc((size_t)cJSON_GetArraySize(provs) + 1, sizeof *c->providers);
	if (!c->providers)
		return cfgr_fail(L, provs, "out of memory");
	cJSON_ArrayForEach(p, provs) {
		size_t i = c->nproviders;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->providers[j].name, p->string))
				return cfgr_fail(L, p, "duplicate provider '%s'", p->string);
		c->nproviders++;
		if (load_provider(L, p, &c->providers[i], pending[i]) < 0)
			return -1;
	}
	return 0;
}
