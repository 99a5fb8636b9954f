/* Unit tests for src/agent.c: alias grammar, selection order, session keys,
 * preparing a turn. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "check.h"
#include "message.h"

static const char conf[] =
	"{ models: { providers: { echo: { api: 'echo' } } },\n"
	"  agents: { defaults: { model: 'echo/e' },\n"
	"    list: [ { id: 'main' }, { id: 'Beta', default: true }, { id: 'x_y-1' } ] } }";

static const char *pick(const struct cfg *c, const char *hdr, const char *model, int *status)
{
	const struct cfg_agent *a = NULL;
	struct err e;
	err_clear(&e);
	*status = agent_select(c, hdr, model, AGENT_CALLER_HTTP, &a, &e) == 0 ? 200 : e.status;
	return a ? a->id : NULL;
}

static const char prep_conf[] =
	"{ models: { providers: { echo: { api: 'echo' }, other: { api: 'echo' } } },\n"
	"  agents: { defaults: { model: 'echo/e', systemPrompt: 'Agent prompt.' },\n"
	"    list: [ { id: 'main', default: true }, { id: 'quiet', systemPrompt: '' } ] } }";

/* A fake request's headers: name, value, ..., NULL. */
static const char *fake_header(const void *ctx, const char *name)
{
	for (const char *const *h = ctx; *h; h += 2)
		if (!strcasecmp(h[0], name))
			return h[1];
	return NULL;
}

/* agent_turn_prepare on src; the turn is left for the caller to check and free. */
static int prepare(struct agent_turn *t, const struct cfg *c, const struct agent_turn_source *src,
		   struct err *e)
{
	agent_turn_init(t);
	err_clear(e);
	return agent_turn_prepare(t, c, src, e);
}

static void prepare_checks(void)
{
	struct cfg *c;
	struct agent_turn t;
	struct err e;
	char err[600];

	if (cfg_load_text("p.json5", prep_conf, strlen(prep_conf), &c, err, sizeof err) < 0) {
		printf("# %s\n", err);
		CHECK(0, "prepare: config loads");
		return;
	}
	{
		struct agent_turn_source src = {.model = "gpt-4o",
						.user = "Kim",
						.system_text = "Be brief.",
						.stream = true};
		CHECK(prepare(&t, c, &src, &e) == 0, "prepare: a plain request");
		CHECK_STR(t.agent->id, "main", "prepare: default agent");
		CHECK_STR(t.model.provider->name, "echo", "prepare: the agent's provider");
		CHECK_STR(t.model.model, "e", "prepare: the agent's model id");
		CHECK(!t.model_override && t.cfg == c && t.stream,
		      "prepare: no override, cfg, stream");
		CHECK_STR(t.session_key, "agent:main:openai-user:kim",
			  "prepare: session key from user");
		CHECK(t.stable, "prepare: a user session is stable");
		CHECK_STR(buf_str(&t.system_text), "Agent prompt.\n\nBe brief.",
			  "prepare: agent prompt, blank line, request system text");
		agent_turn_free(&t);
	}
	{
		struct agent_turn_source src = {.model = "openclaw:quiet",
						.system_text = "Only this."};
		CHECK(prepare(&t, c, &src, &e) == 0 && !strcmp(t.agent->id, "quiet"),
		      "prepare: model alias picks the agent");
		CHECK_STR(buf_str(&t.system_text), "Only this.",
			  "prepare: no blank line without a prompt");
		CHECK(!t.stable, "prepare: no key, no user: per-request session");
		agent_turn_free(&t);
	}
	{
		static const char *const hdrs[] = {"x-openclaw-agent-id",
						   " ",
						   "x-openclaw-agent",
						   "quiet",
						   "x-openclaw-model",
						   "other/big",
						   "x-openclaw-session-key",
						   "k1",
						   NULL};
		struct agent_turn_source src = {.model = "openclaw:main", .user = "kim"};
		agent_source_headers(&src, fake_header, hdrs);
		CHECK_STR(src.agent_id, "quiet",
			  "headers: x-openclaw-agent when x-openclaw-agent-id is blank");
		CHECK(prepare(&t, c, &src, &e) == 0, "prepare: from headers");
		CHECK_STR(t.agent->id, "quiet", "prepare: the header wins over the model alias");
		CHECK(t.model_override && !strcmp(t.model.provider->name, "other") &&
			      !strcmp(t.model.model, "big"),
		      "prepare: x-openclaw-model overrides the model");
		CHECK_STR(t.session_key, "k1", "prepare: the header key wins over user");
		agent_turn_free(&t);
	}
	{
		struct agent_turn_source src = {.model_override = "nope/x"};
		CHECK(prepare(&t, c, &src, &e) < 0 && e.status == 400 &&
			      strstr(e.message, "`x-openclaw-model` header") &&
			      strstr(e.message, "provider 'nope' is not configured"),
		      "prepare: unknown provider in the override: 400 naming the header");
		agent_turn_free(&t);
		src.model_override = "no-slash";
		CHECK(prepare(&t, c, &src, &e) < 0 && e.status == 400 &&
			      strstr(e.message, "provider/model-id"),
		      "prepare: malformed override: 400");
		agent_turn_free(&t);
		src.model_override = "";
		CHECK(prepare(&t, c, &src, &e) == 0 && !t.model_override,
		      "prepare: empty override is none");
		agent_turn_free(&t);
	}
	{
		struct agent_turn_source src = {.caller = AGENT_CALLER_CLI,
						.model_override = "echo/"};
		CHECK(prepare(&t, c, &src, &e) < 0 && e.status == 400 &&
			      strstr(e.message, "--model"),
		      "prepare: the CLI's inputs are named as its options (--model)");
		agent_turn_free(&t);
		src.model_override = NULL;
		src.agent_id = "bad id!";
		CHECK(prepare(&t, c, &src, &e) < 0 && e.status == 400 &&
			      strstr(e.message, "--agent"),
		      "prepare: a malformed --agent: 400 naming it");
		agent_turn_free(&t);
		src.agent_id = "nosuch";
		CHECK(prepare(&t, c, &src, &e) < 0 && e.status == 404 &&
			      !strcmp(e.code, "model_not_found"),
		      "prepare: unknown agent: 404 model_not_found");
		agent_turn_free(&t);
		src.agent_id = NULL;
		src.session_key = "a\x02"
				  "b";
		CHECK(prepare(&t, c, &src, &e) < 0 && e.status == 400 &&
			      strstr(e.message, "--session-key"),
		      "prepare: a bad --session-key: 400 naming it");
		agent_turn_free(&t);
	}
	cfg_free(c);
}

/* agent_dedupe of two JSON arrays, the history given as the store gives it
 * (stored messages, message.h); the same count when it is given parsed. */
static int dedupe(const char *hist, const char *req)
{
	cJSON *h = cJSON_Parse(hist), *r = cJSON_Parse(req), *stored = cJSON_CreateArray(), *m;
	int k = agent_dedupe(h, r), ks;

	cJSON_ArrayForEach(m, h) {
		char *text = cJSON_PrintUnformatted(m);
		cJSON_AddItemToArray(stored, msg_stored(text));
		free(text);
	}
	ks = agent_dedupe(stored, r);
	cJSON_Delete(h);
	cJSON_Delete(r);
	cJSON_Delete(stored);
	return ks == k ? k : -100;
}

static void dedupe_checks(void)
{
	const char *calls = "[{\"role\":\"user\",\"content\":\"w?\"},{\"role\":\"assistant\","
			    "\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
			    "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
			    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sun\"}]";
	CHECK_INT(dedupe(calls,
			 "[{\"role\":\"user\",\"content\":\"w?\"},{\"role\":\"assistant\","
			 "\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
			 "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
			 "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sun\"},"
			 "{\"role\":\"user\",\"content\":\"thanks\"}]"),
		  3, "dedupe: a resent tool call and its result are dropped");
	CHECK_INT(dedupe(calls,
			 "[{\"role\":\"user\",\"content\":\"w?\"},{\"role\":\"assistant\","
			 "\"content\":null,\"tool_calls\":[{\"id\":\"c2\",\"type\":\"function\","
			 "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
			 "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"sun\"},"
			 "{\"role\":\"user\",\"content\":\"thanks\"}]"),
		  0, "dedupe: other call ids are other tool turns");
	const char *hist = "[{\"role\":\"user\",\"content\":\"one\"},{\"role\":\"assistant\","
			   "\"content\":\"fake: one\"},"
			   "{\"role\":\"user\",\"content\":\"two\"},{\"role\":\"assistant\","
			   "\"content\":\"fake: two\"}]";
	CHECK_INT(dedupe(hist, "[{\"role\":\"user\",\"content\":\"three\"}]"), 0,
		  "dedupe: only a new message");
	CHECK_INT(dedupe(hist, "[{\"role\":\"user\",\"content\":\"one\"},{\"role\":\"assistant\","
			       "\"content\":\"fake: one\"},"
			       "{\"role\":\"user\",\"content\":\"two\"},{\"role\":\"assistant\","
			       "\"content\":\"fake: two\"},"
			       "{\"role\":\"user\",\"content\":\"three\"}]"),
		  4, "dedupe: exact resend");
	CHECK_INT(dedupe(hist, "[{\"role\":\"user\",\"content\":\" "
			       "one\\n\"},{\"role\":\"assistant\",\"content\":\"fake:\\t one\"},"
			       "{\"role\":\"user\",\"content\":\"two\"},{\"role\":\"assistant\","
			       "\"content\":\"fake:  two  \"},"
			       "{\"role\":\"user\",\"content\":\"three\"}]"),
		  4, "dedupe: resend with changed whitespace");
	CHECK_INT(dedupe(hist, "[{\"role\":\"user\",\"content\":\"ONE "
			       "edited\"},{\"role\":\"assistant\",\"content\":\"fake: one\"},"
			       "{\"role\":\"user\",\"content\":\"two\"},{\"role\":\"assistant\","
			       "\"content\":\"fake: two\"},"
			       "{\"role\":\"user\",\"content\":\"three\"}]"),
		  0, "dedupe: an edited earlier message makes it all new");
	CHECK_INT(dedupe(hist, "[{\"role\":\"user\",\"content\":\"two\"},{\"role\":\"assistant\","
			       "\"content\":\"fake: two\"},"
			       "{\"role\":\"user\",\"content\":\"three\"}]"),
		  2, "dedupe: partial overlap (the last exchange resent)");
	CHECK_INT(dedupe(hist, "[{\"role\":\"assistant\",\"content\":\"fake: "
			       "two\"},{\"role\":\"user\",\"content\":\"three\"}]"),
		  1, "dedupe: the gateway's own last answer resent");
	CHECK_INT(dedupe(hist, "[{\"role\":\"user\",\"content\":\"zero\"},{\"role\":\"assistant\","
			       "\"content\":\"fake: zero\"},"
			       "{\"role\":\"user\",\"content\":\"one\"},{\"role\":\"assistant\","
			       "\"content\":\"fake: one\"},"
			       "{\"role\":\"user\",\"content\":\"two\"},{\"role\":\"assistant\","
			       "\"content\":\"fake: two\"},"
			       "{\"role\":\"user\",\"content\":\"three\"}]"),
		  6, "dedupe: resend longer than the loaded history");
	CHECK_INT(dedupe(hist, "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
			       "\"one\"}]},{\"role\":\"assistant\",\"content\":\"fake: one\"},"
			       "{\"role\":\"user\",\"content\":\"two\"},{\"role\":\"assistant\","
			       "\"content\":\"fake: two\"},"
			       "{\"role\":\"user\",\"content\":\"three\"}]"),
		  4, "dedupe: parts compare by their text");
	CHECK_INT(dedupe(hist, "[{\"role\":\"assistant\",\"content\":\"fake: two\"}]"), 0,
		  "dedupe: never drops the whole request");
	CHECK_INT(dedupe("[]", "[{\"role\":\"user\",\"content\":\"a\"}]"), 0,
		  "dedupe: empty history");
	CHECK_INT(dedupe(hist, "[{\"role\":\"assistant\",\"content\":\"one\"},{\"role\":\"user\","
			       "\"content\":\"x\"}]"),
		  0, "dedupe: roles must match");
}

int main(void)
{
	struct cfg *c;
	char err[600], id[AGENT_ID_MAX + 1];
	int st;
	char *key;
	bool stable;
	struct err e;

	CHECK(agent_model_alias("openclaw:main", id) && !strcmp(id, "main"), "alias openclaw:<id>");
	CHECK(agent_model_alias("openclaw/beta", id) && !strcmp(id, "beta"), "alias openclaw/<id>");
	CHECK(agent_model_alias("agent:x_y-1", id) && !strcmp(id, "x_y-1"), "alias agent:<id>");
	CHECK(agent_model_alias("OpenClaw:MAIN", id) && !strcmp(id, "main"),
	      "alias case-insensitive, lower-cased");
	CHECK(!agent_model_alias("openclaw", id), "bare openclaw is not an alias");
	CHECK(!agent_model_alias("gpt-4o", id), "other model is not an alias");
	CHECK(!agent_model_alias("openclaw:", id), "empty id is not an alias");
	CHECK(!agent_model_alias("openclaw:-x", id), "id must start with a letter or digit");
	CHECK(!agent_model_alias("openclaw:a b", id), "space is not allowed in an id");
	CHECK(!agent_model_alias("agent:ä", id), "non-ASCII id refused");
	{
		char longid[80];
		memset(longid, 'a', sizeof longid);
		memcpy(longid, "agent:", 6);
		longid[6 + 64] = '\0';
		CHECK(agent_model_alias(longid, id), "64-character id accepted");
		longid[6 + 64] = 'a';
		longid[6 + 65] = '\0';
		CHECK(!agent_model_alias(longid, id), "65-character id refused");
	}
	CHECK(!agent_model_alias(NULL, id), "NULL model");

	if (cfg_load_text("a.json5", conf, strlen(conf), &c, err, sizeof err) < 0) {
		printf("# %s\n", err);
		CHECK(0, "config loads");
		return check_done();
	}
	CHECK_STR(pick(c, NULL, NULL, &st), "beta", "no header, no model: default: true agent");
	CHECK_STR(pick(c, NULL, "openclaw", &st), "beta", "model openclaw: default agent");
	CHECK_STR(pick(c, NULL, "openclaw/default", &st), "beta",
		  "model openclaw/default: default agent");
	CHECK_STR(pick(c, NULL, "gpt-4o-mini", &st), "beta", "unrelated model: default agent");
	CHECK_STR(pick(c, NULL, "openclaw:main", &st), "main", "model alias selects");
	CHECK_STR(pick(c, NULL, "agent:X_Y-1", &st), "x_y-1", "alias is case-insensitive");
	CHECK_STR(pick(c, " main ", "openclaw:beta", &st), "main",
		  "header wins over model, trimmed");
	CHECK_STR(pick(c, "", "openclaw:main", &st), "main", "empty header falls through to model");
	CHECK(pick(c, NULL, "openclaw:nosuch", &st) == NULL && st == 404, "unknown alias id: 404");
	{
		const struct cfg_agent *a;
		err_clear(&e);
		agent_select(c, NULL, "openclaw:nosuch", AGENT_CALLER_HTTP, &a, &e);
		CHECK_STR(e.code, "model_not_found", "unknown agent code model_not_found");
		CHECK(strstr(e.message, "nosuch") != NULL, "unknown agent message names the id");
		CHECK_STR(err_type_name(e.type), "invalid_request_error", "unknown agent type");
	}
	CHECK(pick(c, "nosuch", NULL, &st) == NULL && st == 404, "unknown header id: 404");
	CHECK(pick(c, "bad id!", NULL, &st) == NULL && st == 400, "malformed header id: 400");
	cfg_free(c);

	{
		const char *noagents = "{ models: { providers: { echo: { api: 'echo' } } }, "
				       "agents: { defaults: { model: 'echo/e' } } }";
		if (cfg_load_text("b.json5", noagents, strlen(noagents), &c, err, sizeof err) ==
		    0) {
			CHECK_STR(pick(c, NULL, NULL, &st), "main",
				  "no agents.list: the one agent is main");
			cfg_free(c);
		} else {
			CHECK(0, "no agents.list loads");
		}
		const char *first =
			"{ models: { providers: { echo: { api: 'echo' } } }, agents: { defaults: { "
			"model: 'echo/e' }, list: [ {id:'one'}, {id:'two'} ] } }";
		if (cfg_load_text("c.json5", first, strlen(first), &c, err, sizeof err) == 0) {
			CHECK_STR(pick(c, NULL, NULL, &st), "one", "no default flag: first listed");
			cfg_free(c);
		}
	}

	err_clear(&e);
	CHECK(agent_session_key("  my-key  ", "bob", "main", AGENT_CALLER_HTTP, &key, &stable,
				&e) == 0 &&
		      !strcmp(key, "my-key") && stable,
	      "header key used as given, trimmed, stable");
	free(key);
	CHECK(agent_session_key(NULL, "Bob@Example.COM", "main", AGENT_CALLER_HTTP, &key, &stable,
				&e) == 0 &&
		      !strcmp(key, "agent:main:openai-user:bob@example.com") && stable,
	      "user key: agent:<id>:openai-user:<user lower-cased>");
	free(key);
	CHECK(agent_session_key(NULL, NULL, "beta", AGENT_CALLER_HTTP, &key, &stable, &e) == 0 &&
		      !strncmp(key, "agent:beta:openai:", 18) && strlen(key) == 18 + 36 && !stable,
	      "no header, no user: per-request uuid key, not stable");
	{
		char *key2;
		agent_session_key(NULL, NULL, "beta", AGENT_CALLER_HTTP, &key2, &stable, &e);
		CHECK(strcmp(key, key2) != 0, "per-request keys differ");
		CHECK(key[18 + 14] == '4', "uuid is version 4");
		free(key2);
	}
	{
		/* ids come from a per-thread pool of random bytes, refilled as
		 * it runs out: 100 in a row (past a refill) are all different
		 * and all shaped xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx */
		char ids[100][37];
		int shaped = 1, distinct = 1;

		for (int i = 0; i < 100; i++) {
			agent_uuid4(ids[i]);
			if (strlen(ids[i]) != 36 || ids[i][8] != '-' || ids[i][13] != '-' ||
			    ids[i][14] != '4' || ids[i][18] != '-' || ids[i][23] != '-' ||
			    !strchr("89ab", ids[i][19]) ||
			    strspn(ids[i], "0123456789abcdef-") != 36)
				shaped = 0;
			for (int j = 0; j < i; j++)
				if (!strcmp(ids[i], ids[j]))
					distinct = 0;
		}
		CHECK(shaped, "100 uuids, each of version 4 and variant 1, lower-case hex");
		CHECK(distinct, "100 uuids, all different");
	}
	free(key);
	CHECK(agent_session_key(NULL, "", "main", AGENT_CALLER_HTTP, &key, &stable, &e) == 0 &&
		      !stable,
	      "empty user is no user");
	free(key);
	CHECK(agent_session_key("   ", NULL, "main", AGENT_CALLER_HTTP, &key, &stable, &e) < 0 &&
		      e.status == 400,
	      "blank header key: 400");
	CHECK(agent_session_key("a\x01b", NULL, "main", AGENT_CALLER_HTTP, &key, &stable, &e) < 0 &&
		      e.status == 400,
	      "control character in header key: 400");
	{
		char big[300];
		memset(big, 'k', sizeof big);
		big[256] = '\0';
		CHECK(agent_session_key(big, NULL, "main", AGENT_CALLER_HTTP, &key, &stable, &e) ==
			      0,
		      "256-byte key ok");
		free(key);
		big[256] = 'k';
		big[257] = '\0';
		CHECK(agent_session_key(big, NULL, "main", AGENT_CALLER_HTTP, &key, &stable, &e) <
				      0 &&
			      e.status == 400,
		      "257-byte key: 400");
	}
	prepare_checks();
	dedupe_checks();
	return check_done();
}
