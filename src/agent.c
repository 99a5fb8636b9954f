/*
 * agent.c - agent selection, session keys, preparing a turn
 * (agent_turn_prepare), and the turn runner.
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
#include "metrics.h"
#include "usage.h"
#include "message.h"
#include "utf8.h"

/* The names of a caller's inputs, for error messages. */
static const struct {
	const char *agent_id, *model_override, *session_key, *user;
} field_names[] = {
	[AGENT_CALLER_HTTP] = {"`x-openclaw-agent-id` header", "`x-openclaw-model` header",
			       "`x-openclaw-session-key` header", "`user`"},
	[AGENT_CALLER_CLI] = {"--agent", "--model", "--session-key", "--user"},
};

/* A session key's source (its bytes s, n of them; name for errors): 1 to
 * AGENT_SESSION_KEY_MAX bytes, no control characters.  0, or -1 with e. */
static int check_key(const char *s, size_t n, const char *name, struct err *e)
{
	if (n < 1 || n > AGENT_SESSION_KEY_MAX)
		return err_set(e, 400, ERR_INVALID_REQUEST, "Invalid %s: it must be 1-%d bytes.",
			       name, AGENT_SESSION_KEY_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "Invalid %s: control characters are not allowed.", name);
	}
	return 0;
}

int agent_model_alias(const char *model, char id[AGENT_ID_MAX + 1])
{
	static const char *const prefixes[] = {"openclaw:", "openclaw/", "agent:"};

	if (!model)
		return 0;
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
		size_t pl = strlen(prefixes[i]);
		if (!strncasecmp(model, prefixes[i], pl))
			return cfg_agent_id(model + pl, strlen(model + pl), id);
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
		 enum agent_caller caller, const struct cfg_agent **out, struct err *e)
{
	char id[AGENT_ID_MAX + 1];
	const struct cfg_agent *a;
	size_t n = 0;

	if (header_id)
		trim(&header_id, &n);
	if (header_id && n > 0) {
		if (!cfg_agent_id(header_id, n, id))
			return err_set(
				e, 400, ERR_INVALID_REQUEST,
				"Invalid %s: an agent id is 1-64 letters, digits, '_' or '-'.",
				field_names[caller].agent_id);
	} else if (!agent_model_alias(model, id)) {
		*out = &c->agents[c->default_agent];
		metrics_request_agent((*out)->id);
		usage_request_agent((*out)->id);
		return 0;
	}
	a = cfg_find_agent(c, id);
	if (!a && !strcmp(id, "default"))
		a = &c->agents[c->default_agent];
	if (!a) {
		err_set(e, 404, ERR_INVALID_REQUEST,
			"The model `%s` does not exist: no agent with id '%s' is configured.",
			model && !(header_id && n) ? model : id, id);
		e->code = ERR_CODE_MODEL_NOT_FOUND;
		return -1;
	}
	*out = a;
	metrics_request_agent(a->id);
	usage_request_agent(a->id);
	return 0;
}

/*
 * Random bytes for ids, from a small per-thread pool refilled by one
 * getrandom(2) call: a request takes three ids, and three system calls
 * (and three 16-field snprintf calls) were 15% of an echo request's
 * instructions in callgrind.
 */
static void random_bytes(unsigned char *out, size_t n)
{
	static __thread unsigned char pool[256];
	static __thread size_t left;

	while (n > 0) {
		size_t take;

		if (left == 0) {
			size_t got = 0;
			while (got < sizeof pool) {
				ssize_t r = getrandom(pool + got, sizeof pool - got, 0);
				if (r <= 0)
					break;
				got += (size_t)r;
			}
			if (got < sizeof pool) { /* no entropy source: unique enough */
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				for (size_t i = got; i < sizeof pool; i++)
					pool[i] = (unsigned char)(rand() ^ (ts.tv_nsec >> (i % 8)));
			}
			left = sizeof pool;
		}
		take = n < left ? n : left;
		memcpy(out, pool + sizeof pool - left, take);
		left -= take; /* a byte handed out is never handed out again */
		out += take;
		n -= take;
	}
}

void agent_uuid4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	char *p = out;

	random_bytes(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p = '\0';
}

int agent_scope_key(const char *scope, char **key, struct err *e)
{
	struct buf b = BUF_INIT;

	if (!scope || !*scope)
		return 0;
	if (buf_printf(&b, "%s:%s", scope, *key) < 0) {
		buf_free(&b);
		return err_nomem(e);
	}
	free(*key);
	*key = buf_detach(&b);
	return *key ? 0 : err_nomem(e);
}

int agent_session_key(const char *header_key, const char *user, const char *agent_id,
		      enum agent_caller caller, char **out, bool *stable, struct err *e)
{
	struct buf key = BUF_INIT;
	size_t n = 0;

	*out = NULL;
	if (header_key) {
		trim(&header_key, &n);
		if (check_key(header_key, n, field_names[caller].session_key, e) < 0)
			return -1;
		if (buf_append(&key, header_key, n) < 0)
			goto nomem;
		*stable = true;
	} else if (user && *user) {
		if (check_key(user, strlen(user), field_names[caller].user, e) < 0)
			return -1;
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
	if (!(*out = buf_detach(&key)))
		return err_nomem(e);
	return 0;
nomem:
	buf_free(&key);
	return err_nomem(e);
}

void agent_source_headers(struct agent_turn_source *src, agent_header_fn header, const void *ctx)
{
	const char *id = header(ctx, "x-openclaw-agent-id");

	if (!id || !id[strspn(id, " \t")])
		id = header(ctx, "x-openclaw-agent");
	src->agent_id = id;
	src->model_override = header(ctx, "x-openclaw-model");
	src->session_key = header(ctx, "x-openclaw-session-key");
}

int agent_model_override(const struct cfg *c, const char *ref, enum agent_caller caller,
			 struct cfg_model *out, struct err *e)
{
	const char *what = field_names[caller].model_override;
	const struct cfg_provider *provider;
	const char *model_id;
	int plen;

	switch (cfg_model_ref(c, ref, &provider, &model_id)) {
	case 0:
		out->provider = provider;
		out->model = (char *)model_id; /* points into the caller's string */
		return 0;
	case CFG_MODEL_MALFORMED:
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "Invalid %s: expected \"provider/model-id\".", what);
	default:
		plen = (int)(strchr(ref, '/') - ref);
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "Invalid %s: provider '%.*s' is not configured.", what,
			       plen > 64 ? 64 : plen, ref);
	}
}

int agent_turn_prepare(struct agent_turn *t, const struct cfg *c,
		       const struct agent_turn_source *src, struct err *e)
{
	const char *prompt;

	if (agent_select(c, src->agent_id, src->model, src->caller, &t->agent, e) < 0)
		return -1;
	t->cfg = c;
	t->model = t->agent->model;
	if (src->model_override && *src->model_override) {
		if (agent_model_override(c, src->model_override, src->caller, &t->model, e) < 0)
			return -1;
		t->model_override = true;
	}
	if (agent_session_key(src->session_key, src->user, t->agent->id, src->caller,
			      &t->session_key, &t->stable, e) < 0 ||
	    agent_scope_key(src->scope, &t->session_key, e) < 0)
		return -1;
	/* the agent's prompt first, then the request's system/developer text */
	buf_reset(&t->system_text);
	prompt = t->agent->system_prompt;
	if ((prompt && buf_append_str(&t->system_text, prompt) < 0) ||
	    (src->system_text && *src->system_text &&
	     ((t->system_text.len && buf_append_str(&t->system_text, "\n\n") < 0) ||
	      buf_append_str(&t->system_text, src->system_text) < 0)))
		return err_nomem(e);
	t->stream = src->stream;
	return 0;
}

void agent_turn_init(struct agent_turn *t)
{
	memset(t, 0, sizeof *t);
	buf_init(&t->system_text);
	answer_init(&t->answer);
	agent_uuid4(t->run_id);
	snprintf(t->res.finish_reason, sizeof t->res.finish_reason, "stop");
}

void agent_turn_free(struct agent_turn *t)
{
	agent_session_release(t);
	free(t->session_key);
	buf_free(&t->system_text);
	cJSON_Delete(t->messages);
	cJSON_Delete(t->params);
	cJSON_Delete(t->response);
	answer_free(&t->answer);
	memset(t, 0, sizeof *t);
}

/* Wraps the caller's sink so every delta is also kept in t->answer. */
struct collect {
	struct prov_sink sink;
	struct prov_sink *inner;
	struct agent_turn *turn;
	size_t relayed; /* bytes of text, reasoning and tool arguments given */
};

/* The bytes of the tool calls' arguments in a delta. */
static size_t argument_bytes(const cJSON *tool_calls)
{
	const cJSON *tc;
	size_t n = 0;

	cJSON_ArrayForEach(tc, tool_calls) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(tc, "function");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(f, "arguments");
		if (cJSON_IsString(a))
			n += strlen(a->valuestring);
	}
	return n;
}

static int collect_start(struct prov_sink *s)
{
	struct collect *c = s->ctx;
	return c->inner->start ? c->inner->start(c->inner) : 0;
}

static int collect_delta(struct prov_sink *s, const struct prov_delta *d)
{
	struct collect *c = s->ctx;
	metrics_first_token();
	usage_first_token();
	c->relayed += d->content_len + d->reasoning_len + argument_bytes(d->tool_calls);
	if (answer_add(&c->turn->answer, d) < 0)
		return -1;
	return c->inner->delta ? c->inner->delta(c->inner, d) : 0;
}

static int collect_idle(struct prov_sink *s)
{
	struct collect *c = s->ctx;
	return c->inner->idle ? c->inner->idle(c->inner) : 0;
}

/* The message's text with whitespace runs collapsed to one space, trimmed.
 * Returns 0, or -1 when out of memory. */
static int norm_text(const cJSON *m, struct buf *out)
{
	struct buf raw = BUF_INIT;
	bool space = false;
	int rc = -1;

	buf_reset(out);
	if (buf_append(out, "", 0) < 0 || msg_text(m, &raw) < 0)
		goto out;
	for (const char *p = buf_str(&raw); *p; p++) {
		if (isspace((unsigned char)*p)) {
			space = out->len > 0;
			continue;
		}
		if ((space && buf_append(out, " ", 1) < 0) || buf_append(out, p, 1) < 0)
			goto out;
		space = false;
	}
	rc = 0;
out:
	buf_free(&raw);
	return rc;
}

/* The same string member in both (or absent from both). */
static bool same_string(const cJSON *a, const cJSON *b, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, key);
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, key);

	if (!cJSON_IsString(x) || !cJSON_IsString(y))
		return !cJSON_IsString(x) && !cJSON_IsString(y);
	return !strcmp(x->valuestring, y->valuestring);
}

/* The same tool calls: ids and function names, in order. */
static bool same_calls(const cJSON *a, const cJSON *b)
{
	const cJSON *ca = cJSON_GetObjectItemCaseSensitive(a, "tool_calls");
	const cJSON *cb = cJSON_GetObjectItemCaseSensitive(b, "tool_calls");
	int n = cJSON_GetArraySize(ca);

	if (n != cJSON_GetArraySize(cb))
		return false;
	for (int i = 0; i < n; i++) {
		const cJSON *x = cJSON_GetArrayItem(ca, i), *y = cJSON_GetArrayItem(cb, i);
		if (!same_string(x, y, "id") ||
		    !same_string(cJSON_GetObjectItemCaseSensitive(x, "function"),
				 cJSON_GetObjectItemCaseSensitive(y, "function"), "name"))
			return false;
	}
	return true;
}

/* Same role and normalised text, and for tool turns the same calls and
 * call ids; out of memory counts as different, so nothing is dropped then. */
static bool same_message(const cJSON *a, const cJSON *b, struct buf *ta, struct buf *tb)
{
	const char *ra = msg_role(a), *rb = msg_role(b);

	if (!ra || !rb || strcmp(ra, rb) || !same_string(a, b, "tool_call_id") ||
	    !same_calls(a, b) || norm_text(a, ta) < 0 || norm_text(b, tb) < 0)
		return false;
	return !strcmp(buf_str(ta), buf_str(tb));
}

int agent_dedupe(cJSON *history, const cJSON *req)
{
	int n = cJSON_GetArraySize(history), r = cJSON_GetArraySize(req);
	struct buf ta = BUF_INIT, tb = BUF_INIT;
	int best = 0;

	/* Try the longest overlap first: req[0..k) must end with history's tail. */
	for (int k = r - 1; k > 0 && !best; k--) {
		int m = k < n ? k : n;
		bool ok = m > 0;
		for (int i = 0; ok && i < m; i++) {
			cJSON *h = cJSON_GetArrayItem(history, n - m + i);
			ok = msg_open(h) == 0 &&
			     same_message(cJSON_GetArrayItem(req, k - m + i), h, &ta, &tb);
		}
		if (ok)
			best = k;
	}
	buf_free(&ta);
	buf_free(&tb);
	return best;
}

/*
 * history + req[skip..] as one new array for the provider: history's
 * messages move into it (history is left empty), req's are referenced, not
 * copied (the array must not outlive req; nothing writes through it).
 * Deep copies of a 40-message history were a fifth of a stored turn's
 * allocations.
 */
static cJSON *join_messages(cJSON *history, cJSON *req, int skip)
{
	cJSON *all = cJSON_CreateArray();
	cJSON *m;
	int i = 0;

	if (!all)
		return NULL;
	while (history && history->child)
		cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(history, history->child));
	cJSON_ArrayForEach(m, req) {
		if (i++ < skip)
			continue;
		if (!cJSON_AddItemReferenceToArray(all, m)) {
			cJSON_Delete(all);
			return NULL;
		}
	}
	return all;
}

/*
 * The history limit cuts a session at a message count; a cut that leaves
 * tool results or an assistant turn first would separate them from the
 * user message they answer (and a tool result from its call): drop
 * messages until the first user message.
 */
static void cut_at_user(cJSON *history)
{
	const char *role;

	while (history->child && (msg_open(history->child) < 0 ||
				  !(role = msg_role(history->child)) || strcmp(role, "user")))
		cJSON_DeleteItemFromArray(history, 0);
}

/*
 * The request's tool results against the conversation the provider is
 * given (all: history messages, then from position first on the request's
 * from skip on): one answering no call before it is a 400 naming it, as
 * an upstream would refuse it (a 502 the client's SDK would retry).
 */
static int check_tool_results(const struct agent_turn *t, cJSON *all, int first, int skip,
			      struct err *e)
{
	const char *list = t->origin_list ? t->origin_list : "messages";
	const char *field = t->origin_call_id ? t->origin_call_id : "tool_call_id";
	int p = msg_unanswered_result(all, first), k, index;
	const cJSON *id;

	if (p == -1)
		return 0;
	if (p < 0)
		return err_nomem(e);
	k = skip + (p - first);
	index = t->origin ? t->origin[k] : k;
	id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(all, p), "tool_call_id");
	err_set(e, 400, ERR_INVALID_REQUEST,
		"`%s[%d].%s` '%.64s' answers no tool call made before it in the conversation "
		"(%s).",
		list, index, field, cJSON_IsString(id) ? id->valuestring : "",
		t->stable ? "this session's history, then the request" : "the request");
	return err_param(e, "%s[%d].%s", list, index, field);
}

/*
 * A provider's 400 names `messages[p]...` by its place p among the
 * messages it was given (history first): say the request's message as the
 * client named it (t->origin, t->origin_list), the rest of the name
 * kept.  A history message's name is left.
 */
static void name_request_message(const struct agent_turn *t, int nhistory, int skip, struct err *e)
{
	char *at = strstr(e->message, "`messages["), *end, rest[sizeof e->message];
	long p;
	int k;

	if (e->status != 400 || e->type != ERR_INVALID_REQUEST || !at ||
	    (p = strtol(at + 10, &end, 10)) < nhistory || *end != ']' ||
	    p - nhistory >= cJSON_GetArraySize(t->messages) - skip)
		return;
	k = skip + (int)(p - nhistory);
	snprintf(rest, sizeof rest, "%s", end);
	snprintf(at, sizeof e->message - (size_t)(at - e->message), "`%s[%d%s",
		 t->origin_list ? t->origin_list : "messages", t->origin ? t->origin[k] : k, rest);
	/* cut at its size, the message still ends on a whole character */
	e->message[strlen(e->message) - utf8_incomplete_tail(e->message, strlen(e->message))] =
		'\0';
}

/*
 * The turn's tokens into /metrics and the usage record: the provider's
 * usage, or, when none came for a call that ran (a client that left a
 * stream, an upstream or command that sends none), the estimate: the
 * prompt as auth.c estimated it and the relayed bytes / 4, rounded up.
 */
static void count_tokens(const struct agent_turn *t, int rc, size_t relayed)
{
	long in = t->res.usage.prompt_tokens, out = t->res.usage.completion_tokens;
	const struct cfg_provider *p =
		t->res.served_by.provider ? t->res.served_by.provider : t->model.provider;

	/* echo counts its own (a diagnostic: no tokens for a chat) */
	if (in <= 0 && out <= 0 && p->api != CFG_API_ECHO &&
	    (rc == 0 || t->res.started || relayed)) {
		out = (long)((relayed + 3) / 4);
		in = usage_request_estimated(out);
		metrics_tokens(t->agent->id, in, out);
		return;
	}
	metrics_tokens(t->agent->id, in, out);
	usage_request_tokens_add(in, out);
}

int agent_session_hold(struct agent_turn *t, struct store *store, int (*stop)(void *ctx), void *ctx,
		       struct err *e)
{
	int rc;

	if (t->lock.store)
		return 0;
	rc = store_session_lock(store, t->agent->id, t->session_key,
				t->cfg->session.lock_wait_seconds, stop, ctx, &t->lock, e);
	if (rc == 1) {
		log_info("turn %s: agent %s, session %s: held by another turn for %d s", t->run_id,
			 t->agent->id, t->session_key, t->cfg->session.lock_wait_seconds);
		err_set(e, 409, ERR_INVALID_REQUEST,
			"Another request is currently using this conversation. Wait for it to "
			"finish and try again.");
		e->code = ERR_CODE_CONVERSATION_LOCKED;
		return -1;
	}
	if (rc == 2) {
		t->res.cancelled = true;
		return err_set(e, 499, ERR_INVALID_REQUEST,
			       "The client left while the conversation was in use.");
	}
	return rc;
}

void agent_session_release(struct agent_turn *t)
{
	store_session_unlock(&t->lock);
}

/* A session's wait asks the caller's sink whether its client is still
 * there (the idle callback, which writes nothing before the response
 * began). */
static int sink_gone(void *ctx)
{
	struct prov_sink *sink = ctx;

	return sink->idle ? sink->idle(sink) : 0;
}

/* The JSON text's size of the first n messages of all: a stored
 * message's text as read, a parsed one's (PostgreSQL's) as printed. */
static size_t history_bytes(const cJSON *all, int n)
{
	const cJSON *m = all ? all->child : NULL;
	size_t bytes = 0;

	for (int i = 0; m && i < n; m = m->next, i++) {
		char *text;

		if (cJSON_IsRaw(m) && m->valuestring) {
			bytes += strlen(m->valuestring);
		} else if ((text = cJSON_PrintUnformatted(m))) {
			bytes += strlen(text);
			free(text);
		}
	}
	return bytes;
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
		.fallbacks = t->model_override ? NULL : t->agent->fallbacks,
		.nfallbacks = t->model_override ? 0 : t->agent->nfallbacks,
		.system_text = t->system_text.len ? t->system_text.data : NULL,
		.messages = t->messages,
		.params = t->params,
		.stream = t->stream,
		.curl = &t->worker->curl,
	};
	struct store *store = NULL;
	cJSON *history = NULL, *all = NULL, *fresh = NULL, *reply = NULL;
	int skip = 0, nhistory = 0, rc = -1;

	col.sink.ctx = &col;
	if (t->stable) {
		if (worker_store(t->worker, t->cfg, &store, e) < 0 ||
		    agent_session_hold(t, store, sink_gone, sink, e) < 0 ||
		    store_load_history(store, t->agent->id, t->session_key, t->agent->history_limit,
				       &history, e) < 0)
			goto out;
		cut_at_user(history);
		skip = agent_dedupe(history, t->messages);
		nhistory = cJSON_GetArraySize(history);
		if (!(fresh = join_messages(NULL, t->messages, skip)) ||
		    !(all = join_messages(history, t->messages, skip))) {
			err_nomem(e);
			goto out;
		}
		rq.messages = all;
	}
	if (check_tool_results(t, rq.messages, nhistory, skip, e) < 0 ||
	    (nhistory && t->admit_history &&
	     t->admit_history(t->admit_ctx, history_bytes(rq.messages, nhistory), e) < 0))
		goto out;
	log_info("turn %s: agent %s, session %s (%s), model %s/%s, %d history messages, "
		 "%d resent dropped",
		 t->run_id, t->agent->id, t->session_key, t->stable ? "stable" : "per-request",
		 t->model.provider->name, t->model.model, nhistory, skip);
	rc = prov_run(&rq, &col.sink, &t->res, e);
	count_tokens(t, rc, col.relayed);
	usage_request_interrupted(rc < 0 && t->res.cancelled);
	if (t->res.served_by.provider)
		usage_request_model(t->res.served_by.provider->name, t->res.served_by.model);
	if (t->stable)
		usage_request_session(t->session_key);
	if (rc < 0 && !t->res.cancelled)
		log_warn("turn %s: agent %s, model %s/%s failed: %s", t->run_id, t->agent->id,
			 t->model.provider->name, t->model.model, e->message);
	if (rc < 0)
		name_request_message(t, nhistory, skip, e);

	/* Persist a finished turn, or what a client that left was given. */
	if (store && (rc == 0 || (t->res.cancelled && t->answer.nchoices))) {
		struct store_turn st = {
			.session_key = t->session_key,
			.agent_id = t->agent->id,
			.run_id = t->run_id,
			.new_messages = fresh,
			.answer = reply = answer_message(&t->answer, 0, false),
			.interrupted = rc < 0,
			.prompt_tokens = t->res.usage.prompt_tokens,
			.completion_tokens = t->res.usage.completion_tokens,
			.ttl_days = t->cfg->session.ttl_days,
			.usage = usage_turn_row(),
		};
		struct err se;
		err_clear(&se);
		/* A call cut off mid-arguments is no call: replayed, its broken
		 * arguments would make every later turn of the session fail. */
		if (rc < 0 && reply && cJSON_GetObjectItemCaseSensitive(reply, "tool_calls")) {
			cJSON_DeleteItemFromObjectCaseSensitive(reply, "tool_calls");
			if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(reply, "content")))
				cJSON_ReplaceItemInObjectCaseSensitive(reply, "content",
								       cJSON_CreateString(""));
		}
		if (t->response_id && t->make_response) {
			cJSON_Delete(t->response);
			t->response = t->make_response(t, t->make_response_ctx);
			st.response_id = t->response_id;
			st.response = t->response;
		}
		if (store_append_turn(store, &st, &se) < 0) {
			usage_turn_row_lost();
			if (rc == 0) {
				*e = se;
				rc = -1;
			}
		}
	}
out:
	agent_session_release(t);
	cJSON_Delete(reply);
	cJSON_Delete(history);
	cJSON_Delete(all);
	cJSON_Delete(fresh);
	return rc;
}
