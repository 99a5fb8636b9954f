/*
 * router.c - routing on the path's suffix, so clawcgi works mounted at "/"
 * or under any prefix, to the handlers (chat.c, models.c), and /healthz.
 *
 * Order (SPEC.md 2): path, endpoint enabled, method, auth, then the
 * handler.  The body is read by the handler, after auth.
 */
#include "router.h"

#include <stdbool.h>
#include <string.h>

#include "auth.h"
#include "chat.h"
#include "config_live.h"
#include "log.h"
#include "models.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static void send_simple_error(struct http_req *r, int status, enum err_type type, const char *code,
			      const char *msg, const char *extra)
{
	struct err e;
	err_set(&e, status, type, "%s", msg);
	e.code = code;
	http_send_error(r, &e, extra);
}

static bool authorized(struct http_req *r, const struct cfg *c, struct worker *w)
{
	struct store *store = NULL;
	struct err e;
	long retry_after;
	char extra[64] = "";

	if (c->auth.mode != CFG_AUTH_NONE && worker_store(w, c, &store, &e) < 0)
		store = NULL; /* logged by the store; auth itself still runs */
	if (auth_check_throttled(c, store, r->remote_addr, http_header(r, "Authorization"),
				 &retry_after, &e) == 0)
		return true;
	if (e.status == 401)
		snprintf(extra, sizeof extra, "WWW-Authenticate: Bearer\r\n");
	else if (e.status == 429)
		snprintf(extra, sizeof extra, "Retry-After: %ld\r\n", retry_after);
	http_send_error(r, &e, extra[0] ? extra : NULL);
	return false;
}

/* 500 for want of a valid config; the log line says why. */
static void no_config(struct http_req *r)
{
	char why[CFG_ERR_MAX];

	cfg_last_error(why, sizeof why);
	log_error("answering 500: no valid configuration: %s", why);
	send_simple_error(r, 500, ERR_API, NULL,
			  "The server's configuration is invalid; see its error log.", NULL);
}

void router_handle(struct http_req *r, struct worker *w)
{
	struct cfg *c = cfg_acquire();
	const char *path = r->path;
	const char *models;
	bool is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");

	if (ends_with(path, "/healthz")) {
		if (!is_get) {
			send_simple_error(r, 405, ERR_INVALID_REQUEST, NULL,
					  "Method not allowed: use GET.", "Allow: GET, HEAD\r\n");
		} else if (!c) {
			no_config(r);
		} else {
			cJSON *ok = cJSON_CreateObject();
			cJSON_AddBoolToObject(ok, "ok", 1);
			http_send_json(r, 200, ok, "Cache-Control: no-store\r\n");
			cJSON_Delete(ok);
		}
		goto out;
	}

	models = strstr(path, "/v1/models");
	if (!ends_with(path, "/v1/chat/completions") &&
	    !(models &&
	      (!models[10] || (models[10] == '/' && models[11] && !strchr(models + 11, '/'))))) {
		send_simple_error(r, 404, ERR_NOT_FOUND, NULL, "Not found.", NULL);
		goto out;
	}
	if (!c) {
		no_config(r);
		goto out;
	}
	if (!c->chat.enabled) {
		send_simple_error(r, 404, ERR_NOT_FOUND, NULL, "Not found.", NULL);
		goto out;
	}

	if (ends_with(path, "/v1/chat/completions")) {
		if (strcmp(r->method, "POST")) {
			send_simple_error(r, 405, ERR_INVALID_REQUEST, NULL,
					  "Method not allowed: use POST.", "Allow: POST\r\n");
			goto out;
		}
		if (authorized(r, c, w))
			chat_handle(r, c, w);
		goto out;
	}

	if (!is_get) {
		send_simple_error(r, 405, ERR_INVALID_REQUEST, NULL, "Method not allowed: use GET.",
				  "Allow: GET, HEAD\r\n");
		goto out;
	}
	if (!authorized(r, c, w))
		goto out;
	if (!models[10])
		models_list(r, c);
	else
		models_get(r, c, models + 11);
out:
	if (!r->headers_sent)
		send_simple_error(r, 500, ERR_API, NULL, "Internal error.", NULL);
	cfg_release(c);
}
