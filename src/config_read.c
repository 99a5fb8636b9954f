/*
 * config_read.c - typed values from the config file's JSON5 tree, with
 * "file:line: reason" messages, and ${VAR} substitution (see
 * config_read.h).
 */
#include "config_read.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int cfgr_fail(struct cfg_reader *L, const cJSON *node, const char *fmt, ...)
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

char *cfgr_subst_env(const char *s, char *missing, size_t mlen)
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

/* parent's member key, or NULL when absent or null (the default stands). */
static const cJSON *member(const cJSON *parent, const char *key)
{
	const cJSON *n = parent ? cJSON_GetObjectItemCaseSensitive(parent, key) : NULL;

	return cJSON_IsNull(n) ? NULL : n;
}

int cfgr_object(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path,
		const cJSON **out)
{
	const cJSON *n = member(parent, key);

	*out = NULL;
	if (n && !cJSON_IsObject(n))
		return cfgr_fail(L, n, "%s must be an object", path);
	*out = n;
	return 0;
}

int cfgr_bool(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path,
	      bool *out)
{
	const cJSON *n = member(parent, key);

	if (n && !cJSON_IsBool(n))
		return cfgr_fail(L, n, "%s must be true or false", path);
	if (n)
		*out = cJSON_IsTrue(n);
	return 0;
}

int cfgr_long(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path,
	      long min, long max, long *out)
{
	const cJSON *n = member(parent, key);
	double d;

	if (!n)
		return 0;
	if (!cJSON_IsNumber(n))
		return cfgr_fail(L, n, "%s must be a number", path);
	d = n->valuedouble;
	if (d != d || d < (double)min || d > (double)max || d != (double)(long)d)
		return cfgr_fail(L, n, "%s must be a whole number from %ld to %ld", path, min, max);
	*out = (long)d;
	return 0;
}

int cfgr_int(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path, long min,
	     long max, int *out)
{
	long v = *out;

	if (cfgr_long(L, parent, key, path, min, max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

void cfgr_defer(struct cfg_reader *L, const cJSON *node, const char *path, const char *missing,
		char *pending)
{
	if (!pending[0])
		snprintf(pending, CFGR_PENDING_MAX, "%s:%d: %s: environment variable %s is not set",
			 L->name, json5_line_of(&L->lines, node), path, missing);
}

int cfgr_string(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path,
		char **out, char *pending)
{
	const cJSON *n = member(parent, key);
	char missing[128];
	char *v;

	if (!n)
		return 0;
	if (!cJSON_IsString(n))
		return cfgr_fail(L, n, "%s must be a string", path);
	v = cfgr_subst_env(n->valuestring, missing, sizeof missing);
	if (!v && !missing[0])
		return cfgr_fail(L, n, "out of memory");
	if (!v && !pending)
		return cfgr_fail(L, n, "%s: environment variable %s is not set", path, missing);
	if (!v) {
		cfgr_defer(L, n, path, missing, pending);
		return 0;
	}
	free(*out);
	*out = v;
	return 0;
}
