/*
 * agent.c - agent selection, session keys, and the turn runner.
 *
 * The turn runner is the one code path for a turn, whoever asks: the HTTP
 * handler passes an SSE or buffering sink, the command line a terminal
 * sink.  It knows nothing of HTTP.
 */
#include "agent.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"

static bool id_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

/* 1 when s (n bytes) is a valid agent id; copies it lower-cased into id. */
static int take_id(const char *s, size_t n, char id[AGENT_ID_MAX + 1])
{
	if (n < 1 || n > AGENT_ID_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!id_char((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
			return 0;
		id[i] = (char)tolower((unsigned char)s[i]);
	}
	id[n] = '\0';
	return 1;
}

int agent_model_alias(const char *model, char id[AGENT_ID_MAX + 1])
{
	static const char *const prefixes[] = {"openclaw:", "openclaw/", "agent:"};

	if (!model)
		return 0;
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
		size_t pl = strlen(prefixes[i]);
		if (!strncasecmp(model, prefixes[i], pl))
			return take_id(model + pl, strlen(model + pl), id);
	}
	return 0;
}

static void trim(const char **s, size_t *n)
{
	const char *p = *s, *end = *s + strlen(*s);
	while (p < end && isspace((unsigned char)*p))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	*s = p;
	*n = (size_t)(end - p);
}

int agent_select(const struct cfg *c, const char *header_id, const char *model,
		 const struct cfg_agent **out, struct err *e)
{
	char id[AGENT_ID_MAX + 1];
	const struct cfg_agent *a;
	size_t n = 0;

	if (header_id)
		trim(&header_id, &n);
	if (header_id && n > 0) {
		if (!take_id(header_id, n, id)) {
			err_set(e, 400, "invalid_request_error",
				"Invalid `x-openclaw-agent-id` header: an agent id is 1-64 "
				"letters, digits, '_' or '-'.");
			return -1;
		}
	} else if (!agent_model_alias(model, id)) {
		*out = &c->agents[c->default_agent];
		return 0;
	}
	a = cfg_find_agent(c, id);
	if (!a && !strcmp(id, "default"))
		a = &c->agents[c->default_agent];
	if (!a) {
		err_set(e, 404, "invalid_request_error",
			"The model `%s` does not exist: no agent with id '%s' is configured.",
			model && !(header_id && n) ? model : id, id);
		e->code = "model_not_found";
		return -1;
	}
	*out = a;
	return 0;
}

void agent_uuid4(char out[37])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof b) {
		ssize_t n = getrandom(b + got, sizeof b - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof b) { /* no entropy source: still unique enough per process */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = got; i < sizeof b; i++)
			b[i] = (unsigned char)(rand() ^ (ts.tv_nsec >> (i % 8)));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
		 b[11], b[12], b[13], b[14], b[15]);
}

int agent_session_key(const char *header_key, const char *user,
		      const char *agent_id, char **out, bool *stable,
		      struct err *e)
{
	struct buf key = BUF_INIT;
	size_t n = 0;

	*out = NULL;
	if (header_key) {
		trim(&header_key, &n);
		if (n < 1 || n > AGENT_SESSION_KEY_MAX) {
			err_set(e, 400, "invalid_request_error",
				"Invalid `x-openclaw-session-key` header: it must be 1-%d bytes.",
				AGENT_SESSION_KEY_MAX);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)header_key[i];
			if (ch < 0x20 || ch == 0x7f) {
				err_set(e, 400, "invalid_request_error",
					"Invalid `x-openclaw-session-key` header: control "
					"characters are not allowed.");
				return -1;
			}
		}
		if (buf_append(&key, header_key, n) < 0)
			goto nomem;
		*stable = true;
	} else if (user && *user) {
		if (buf_printf(&key, "agent:%s:openai-user:", agent_id) < 0)
			goto nomem;
		for (const char *p = user; *p; p++) {
			char ch = (char)tolower((unsigned char)*p);
			if (buf_append(&key, &ch, 1) < 0)
				goto nomem;
		}
		*stable = true;
	} else {
		char uuid[37];
		agent_uuid4(uuid);
		if (buf_printf(&key, "agent:%s:openai:%s", agent_id, uuid) < 0)
			goto nomem;
		*stable = false;
	}
	*out = buf_detach(&key);
	return 0;
nomem:
	buf_free(&key);
	err_set(e, 500, "api_error", "Out of memory.");
	return -1;
}

void agent_turn_init(struct agent_turn *t)
{
	memset(t, 0, sizeof *t);
	buf_init(&t->system_text);
	buf_init(&t->answer);
	agent_uuid4(t->run_id);
	snprintf(t->res.finish_reason, sizeof t->res.finish_reason, "stop");
}

void agent_turn_free(struct agent_turn *t)
{
	free(t->session_key);
	buf_free(&t->system_text);
	cJSON_Delete(t->messages);
	cJSON_Delete(t->params);
	buf_free(&t->answer);
	memset(t, 0, sizeof *t);
}

/* Wraps the caller's sink so every delta is also kept in t->answer. */
struct collect {
	struct prov_sink sink;
	struct prov_sink *inner;
	struct agent_turn *turn;
};

static int collect_start(struct prov_sink *s)
{
	struct collect *c = s->ctx;
	return c->inner->start ? c->inner->start(c->inner) : 0;
}

static int collect_delta(struct prov_sink *s, const char *text, size_t len)
{
	struct collect *c = s->ctx;
	if (buf_append(&c->turn->answer, text, len) < 0)
		return -1;
	return c->inner->delta ? c->inner->delta(c->inner, text, len) : 0;
}

static int collect_idle(struct prov_sink *s)
{
	struct collect *c = s->ctx;
	return c->inner->idle ? c->inner->idle(c->inner) : 0;
}

int agent_run_turn(struct agent_turn *t, struct prov_sink *sink, struct err *e)
{
	struct collect col = {
		.sink = {collect_start, collect_delta, collect_idle, NULL},
		.inner = sink,
		.turn = t,
	};
	struct prov_request rq = {
		.provider = t->model.provider,
		.model = t->model.model,
		.system_text = t->system_text.len ? t->system_text.data : NULL,
		.messages = t->messages,
		.params = t->params,
		.stream = t->stream,
		.include_usage = t->include_usage,
		.curl = t->curl,
	};
	int rc;

	col.sink.ctx = &col;
	log_info("turn %s: agent %s, session %s (%s), model %s/%s", t->run_id,
		 t->agent->id, t->session_key, t->stable ? "stable" : "per-request",
		 t->model.provider->name, t->model.model);
	rc = prov_run(&rq, &col.sink, &t->res, e);
	if (rc < 0 && !t->res.cancelled)
		log_warn("turn %s: agent %s, model %s/%s failed: %s", t->run_id,
			 t->agent->id, t->model.provider->name, t->model.model,
			 e->message);
	return rc;
}
