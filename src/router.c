/*
 * router.c - routing on the path's suffix, so clawcgi works mounted at "/"
 * or under any prefix, to the handlers (chat.c, responses.c, embeddings.c,
 * models.c), /healthz and /metrics.
 *
 * Order (SPEC.md 2): path, endpoint enabled, method, auth, then the
 * handler.  The body is read by the handler, after auth.
 */
#include "router.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "chat.h"
#include "clock.h"
#include "config_live.h"
#include "embeddings.h"
#include "log.h"
#include "metrics.h"
#include "models.h"
#include "responses.h"
#include "usage.h"

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

/* The addresses this process last asked the store about, each with its
 * minute: a flood of bad keys from one address asks once a minute. */
#define UNAUTH_SLOTS 256
static struct {
	char addr[64];
	long long minute;
} unauth_seen[UNAUTH_SLOTS];
static pthread_mutex_t unauth_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether addr's minute was asked about here already; notes it either way. */
static bool unauth_asked(const char *addr, long long minute)
{
	unsigned h = 2166136261u;
	bool asked;

	for (const char *p = addr; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h %= UNAUTH_SLOTS;
	pthread_mutex_lock(&unauth_lock);
	asked = unauth_seen[h].minute == minute && !strcmp(unauth_seen[h].addr, addr);
	snprintf(unauth_seen[h].addr, sizeof unauth_seen[h].addr, "%s", addr);
	unauth_seen[h].minute = minute;
	pthread_mutex_unlock(&unauth_lock);
	return asked;
}

/* The address a failed-auth row is counted by: addr, or of an IPv6 address
 * (not an IPv4 one mapped) its /64, "2001:db8:7:9::/64", since a host
 * there may use any of its 2^64 addresses.  out holds 64 bytes. */
static const char *unauth_addr(const char *addr, char out[64])
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, addr, a) != 1 || IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
		return addr;
	memset(a + 8, 0, 8);
	if (!inet_ntop(AF_INET6, a, text, sizeof text))
		return addr;
	snprintf(out, 64, "%s/64", text);
	return out;
}

/*
 * A request that failed authentication leaves a usage row only when it is
 * its address's first of the minute (an IPv6 address's /64's,
 * unauth_addr), as the store decides (so across processes; this process
 * asks once a minute an address); without a store to ask, none: it could
 * not be written.
 */
static void unauth_row(const struct cfg *c, struct worker *w, const char *addr)
{
	long long minute = auth_rate_window(clock_wall_ms());
	struct store *store;
	struct err e;
	bool first = false;
	char net[64];

	if (!c->usage.enabled)
		return;
	addr = addr && addr[0] ? unauth_addr(addr, net) : "-";
	if (strlen(addr) >= sizeof unauth_seen[0].addr || unauth_asked(addr, minute) ||
	    worker_store(w, c, &store, &e) < 0 ||
	    store_usage_unauth_first(store, addr, minute, &first, &e) < 0 || !first)
		usage_request_unlogged();
}

/*
 * Authenticate r (auth.h) into who, which r->client then points to, and
 * count it against its client's per-minute limits (the x-ratelimit-*
 * headers go on every answer).  false: the error is sent.
 */
static bool authorized(struct http_req *r, const struct cfg *c, struct worker *w,
		       struct auth_client *who)
{
	struct store *store = NULL;
	struct err e;
	long retry_after;
	char extra[64] = "";

	if (auth_needs_store(c, r->remote_addr) && worker_store(w, c, &store, &e) < 0)
		store = NULL; /* logged by the store; auth itself still runs */
	if (auth_identify(c, store, r->remote_addr, http_header(r, "Authorization"), r->remote_user,
			  who, &retry_after, &e) == 0) {
		long long now = clock_wall_ms();
		r->client = who;
		usage_request_client(auth_kind_name(who->kind), who->name);
		if ((who->rpm || who->tpm) && !store && worker_store(w, c, &store, &e) < 0)
			store = NULL; /* auth_rate_take answers 500 */
		who->rate_window = auth_rate_window(now);
		if (auth_rate_take(who, store, now, r->extra_headers, sizeof r->extra_headers,
				   &retry_after, &e) == 0)
			return true;
	} else {
		unauth_row(c, w, r->remote_addr);
	}
	if (e.status == 401 && c->auth.mode != CFG_AUTH_REMOTE_USER)
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

/* /v1/responses (POST) and /v1/responses/{id} (GET, DELETE): 404 while
 * gateway.http.endpoints.responses is off. */
static void route_responses(struct http_req *r, const struct cfg *c, struct worker *w,
			    struct auth_client *who, const char *id)
{
	bool is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");

	if (!c) {
		no_config(r);
	} else if (!c->responses.enabled) {
		send_simple_error(r, 404, ERR_NOT_FOUND, NULL, "Not found.", NULL);
	} else if (!id && strcmp(r->method, "POST")) {
		send_simple_error(r, 405, ERR_INVALID_REQUEST, NULL,
				  "Method not allowed: use POST.", "Allow: POST\r\n");
	} else if (id && !is_get && strcmp(r->method, "DELETE")) {
		send_simple_error(r, 405, ERR_INVALID_REQUEST, NULL,
				  "Method not allowed: use GET or DELETE.",
				  "Allow: GET, HEAD, DELETE\r\n");
	} else if (authorized(r, c, w, who)) {
		if (!id)
			responses_handle(r, c, w);
		else if (is_get)
			responses_get(r, c, w, id);
		else
			responses_delete(r, c, w, id);
	}
}

/*
 * GET /metrics (metrics.h): 404 while gateway.http.endpoints.metrics is
 * off; from loopback, or elsewhere with the operator's key (401 without
 * it; 403 for a client key or user, and when gateway.auth.mode is none:
 * there is no key to show); 503 when this process could not attach the
 * shared segment.
 */
static void route_metrics(struct http_req *r, const struct cfg *c, struct worker *w,
			  struct auth_client *who)
{
	bool is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	struct metrics_seg *seg;
	struct buf body = BUF_INIT;
	char why[600];

	if (!c) {
		no_config(r);
	} else if (!c->metrics.enabled) {
		send_simple_error(r, 404, ERR_NOT_FOUND, NULL, "Not found.", NULL);
	} else if (!is_get) {
		send_simple_error(r, 405, ERR_INVALID_REQUEST, NULL, "Method not allowed: use GET.",
				  "Allow: GET, HEAD\r\n");
	} else if (!auth_is_loopback(r->remote_addr) && c->auth.mode == CFG_AUTH_NONE) {
		send_simple_error(r, 403, ERR_INVALID_REQUEST, "permission_denied",
				  "/metrics answers other addresses than loopback only with the "
				  "operator's key, and gateway.auth.mode is none.",
				  NULL);
	} else if (!auth_is_loopback(r->remote_addr) && !authorized(r, c, w, who)) {
		/* answered */
	} else if (!auth_is_loopback(r->remote_addr) && who->kind != AUTH_OPERATOR) {
		send_simple_error(r, 403, ERR_INVALID_REQUEST, "permission_denied",
				  "/metrics needs the operator's key, not a client's.", NULL);
	} else if (!(seg = metrics_process_seg(why, sizeof why))) {
		struct err e;
		err_set(&e, 503, ERR_API, "Metrics are unavailable in this process: %s.", why);
		http_send_error(r, &e, "Cache-Control: no-store\r\n");
	} else if (metrics_render(seg, &body) < 0) {
		send_simple_error(r, 500, ERR_API, NULL, "Out of memory.", NULL);
	} else if (http_send_headers(r, 200, "text/plain; version=0.0.4; charset=utf-8",
				     "Cache-Control: no-store\r\n") == 0) {
		http_write(r, body.data, body.len);
	}
	buf_free(&body);
}

/* The endpoint a path names, as router_handle matches it ("other": none):
 * the endpoint label of a request's metrics. */
static const char *endpoint_name(const char *path)
{
	const char *m = strstr(path, "/v1/models"), *re = strstr(path, "/v1/responses");

	if (ends_with(path, "/v1/chat/completions"))
		return "chat_completions";
	if (re && (!re[13] || (re[13] == '/' && re[14] && !strchr(re + 14, '/'))))
		return "responses";
	if (ends_with(path, "/v1/embeddings"))
		return "embeddings";
	if (m && (!m[10] || (m[10] == '/' && m[11] && !strchr(m + 11, '/'))))
		return "models";
	if (ends_with(path, "/healthz"))
		return "healthz";
	if (ends_with(path, "/metrics"))
		return "metrics";
	return "other";
}

/* One of the endpoint paths a CORS preflight is answered for: every path
 * router_handle serves but /metrics, which is not for browsers. */
static bool endpoint_path(const char *path)
{
	const char *name = endpoint_name(path);

	return strcmp(name, "other") != 0 && strcmp(name, "metrics") != 0;
}

#define CORS_METHODS "GET, HEAD, POST, DELETE, OPTIONS"
#define CORS_HEADERS                                                                               \
	"Authorization, Content-Type, x-openclaw-agent-id, x-openclaw-session-key, "               \
	"x-openclaw-model"

/*
 * The request headers a preflight allows: ours, and the ones it asks for
 * (Access-Control-Request-Headers) when that is a plain list of header
 * names, so clients that send headers of their own (the OpenAI SDKs'
 * x-stainless-*, OpenAI-Organization) work from a browser; clawcgi reads
 * only its own.  The answer then varies with that header too.
 */
static void allowed_headers(struct http_req *r, char *out, size_t n)
{
	const char *asked = http_header(r, "Access-Control-Request-Headers");
	size_t len = asked ? strlen(asked) : 0;

	snprintf(out, n, "Access-Control-Allow-Headers: " CORS_HEADERS "\r\n");
	if (!len || len > 1024 ||
	    strspn(asked, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			  "!#$%&'*+-.^_`|~, ") != len)
		return;
	snprintf(out, n,
		 "Access-Control-Allow-Headers: " CORS_HEADERS ", %s\r\n"
		 "Vary: Access-Control-Request-Headers\r\n",
		 asked);
}

/*
 * OPTIONS: a CORS preflight (the Fetch standard) when the request has an
 * Origin: 204 with the allowed methods, headers and a max age for a listed
 * origin, 403 without CORS headers for another.  Without an Origin, 204
 * with Allow.  Never authenticated, never counted as a failed attempt.
 */
static void preflight(struct http_req *r)
{
	const char *origin = http_header(r, "Origin");

	if (!origin) {
		http_send_headers(r, 204, NULL, "Allow: " CORS_METHODS "\r\n");
	} else if (r->allow_origin) {
		char headers[1400], extra[1600];
		allowed_headers(r, headers, sizeof headers);
		snprintf(extra, sizeof extra,
			 "Access-Control-Allow-Methods: " CORS_METHODS "\r\n%s"
			 "Access-Control-Max-Age: 600\r\n",
			 headers);
		http_send_headers(r, 204, NULL, extra);
	} else {
		struct err e;
		err_set(&e, 403, ERR_INVALID_REQUEST,
			"Origin '%.200s' is not allowed here: list it in "
			"gateway.http.cors.allowedOrigins.",
			origin);
		http_send_error(r, &e, NULL);
	}
}

void router_handle(struct http_req *r, struct worker *w)
{
	struct cfg *c = cfg_acquire();
	const char *path = r->path;
	const char *models, *resp_id;
	bool is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	struct auth_client who = {.kind = AUTH_ANYONE};

	metrics_request_begin(c && c->metrics.enabled, c ? c->path : NULL);
	/* Health checks and scrapes are not usage: they leave no row. */
	usage_request_begin(c && c->usage.enabled && !ends_with(path, "/healthz") &&
				    !ends_with(path, "/metrics"),
			    endpoint_name(path));
	if (c)
		r->allow_origin = cfg_cors_allow(c, http_header(r, "Origin"));
	if (!strcmp(r->method, "OPTIONS") && endpoint_path(path)) {
		if (!c)
			no_config(r);
		else
			preflight(r);
		goto out;
	}
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
	if (ends_with(path, "/metrics")) {
		route_metrics(r, c, w, &who);
		goto out;
	}

	resp_id = strstr(path, "/v1/responses");
	if (resp_id && (resp_id[13] == '\0' ||
			(resp_id[13] == '/' && resp_id[14] && !strchr(resp_id + 14, '/')))) {
		route_responses(r, c, w, &who, resp_id[13] ? resp_id + 14 : NULL);
		goto out;
	}
	if (ends_with(path, "/v1/embeddings")) {
		if (!c)
			no_config(r);
		else if (!c->chat.enabled) /* on with chat completions, as in OpenClaw */
			send_simple_error(r, 404, ERR_NOT_FOUND, NULL, "Not found.", NULL);
		else if (strcmp(r->method, "POST"))
			send_simple_error(r, 405, ERR_INVALID_REQUEST, NULL,
					  "Method not allowed: use POST.", "Allow: POST\r\n");
		else if (authorized(r, c, w, &who))
			embeddings_handle(r, c, w);
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
		if (authorized(r, c, w, &who))
			chat_handle(r, c, w);
		goto out;
	}

	if (!is_get) {
		send_simple_error(r, 405, ERR_INVALID_REQUEST, NULL, "Method not allowed: use GET.",
				  "Allow: GET, HEAD\r\n");
		goto out;
	}
	if (!authorized(r, c, w, &who))
		goto out;
	if (!models[10])
		models_list(r, c);
	else
		models_get(r, c, models + 11);
out:
	if (!r->headers_sent)
		send_simple_error(r, 500, ERR_API, NULL, "Internal error.", NULL);
	metrics_request_end(endpoint_name(path), r->status);
	if (who.tpm) {
		struct store *store;
		struct err e;
		long long window;
		long reserved = usage_request_reservation(&window);
		if (worker_store(w, c, &store, &e) == 0)
			auth_rate_settle(&who, store, clock_wall_ms(), window, reserved,
					 usage_request_tokens());
	}
	usage_request_end(r->status);
	cfg_release(c);
}
