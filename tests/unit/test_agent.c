/* Unit tests for src/agent.c: alias grammar, selection order, session keys. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "check.h"

static const char conf[] =
	"{ models: { providers: { echo: { api: 'echo' } } },\n"
	"  agents: { defaults: { model: 'echo/e' },\n"
	"    list: [ { id: 'main' }, { id: 'Beta', default: true }, { id: 'x_y-1' } ] } }";

static const char *pick(const struct cfg *c, const char *hdr, const char *model, int *status)
{
	const struct cfg_agent *a = NULL;
	struct err e;
	err_clear(&e);
	*status = agent_select(c, hdr, model, &a, &e) == 0 ? 200 : e.status;
	return a ? a->id : NULL;
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
	CHECK(agent_model_alias("OpenClaw:MAIN", id) && !strcmp(id, "main"), "alias case-insensitive, lower-cased");
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
	CHECK_STR(pick(c, NULL, "openclaw/default", &st), "beta", "model openclaw/default: default agent");
	CHECK_STR(pick(c, NULL, "gpt-4o-mini", &st), "beta", "unrelated model: default agent");
	CHECK_STR(pick(c, NULL, "openclaw:main", &st), "main", "model alias selects");
	CHECK_STR(pick(c, NULL, "agent:X_Y-1", &st), "x_y-1", "alias is case-insensitive");
	CHECK_STR(pick(c, " main ", "openclaw:beta", &st), "main", "header wins over model, trimmed");
	CHECK_STR(pick(c, "", "openclaw:main", &st), "main", "empty header falls through to model");
	CHECK(pick(c, NULL, "openclaw:nosuch", &st) == NULL && st == 404, "unknown alias id: 404");
	{
		const struct cfg_agent *a;
		err_clear(&e);
		agent_select(c, NULL, "openclaw:nosuch", &a, &e);
		CHECK_STR(e.code, "model_not_found", "unknown agent code model_not_found");
		CHECK(strstr(e.message, "nosuch") != NULL, "unknown agent message names the id");
		CHECK_STR(err_type_name(e.type), "invalid_request_error", "unknown agent type");
	}
	CHECK(pick(c, "nosuch", NULL, &st) == NULL && st == 404, "unknown header id: 404");
	CHECK(pick(c, "bad id!", NULL, &st) == NULL && st == 400, "malformed header id: 400");
	cfg_free(c);

	{
		const char *noagents = "{ models: { providers: { echo: { api: 'echo' } } }, agents: { defaults: { model: 'echo/e' } } }";
		if (cfg_load_text("b.json5", noagents, strlen(noagents), &c, err, sizeof err) == 0) {
			CHECK_STR(pick(c, NULL, NULL, &st), "main", "no agents.list: the one agent is main");
			cfg_free(c);
		} else {
			CHECK(0, "no agents.list loads");
		}
		const char *first = "{ models: { providers: { echo: { api: 'echo' } } }, agents: { defaults: { model: 'echo/e' }, list: [ {id:'one'}, {id:'two'} ] } }";
		if (cfg_load_text("c.json5", first, strlen(first), &c, err, sizeof err) == 0) {
			CHECK_STR(pick(c, NULL, NULL, &st), "one", "no default flag: first listed");
			cfg_free(c);
		}
	}

	err_clear(&e);
	CHECK(agent_session_key("  my-key  ", "bob", "main", &key, &stable, &e) == 0 &&
	      !strcmp(key, "my-key") && stable, "header key used as given, trimmed, stable");
	free(key);
	CHECK(agent_session_key(NULL, "Bob@Example.COM", "main", &key, &stable, &e) == 0 &&
	      !strcmp(key, "agent:main:openai-user:bob@example.com") && stable,
	      "user key: agent:<id>:openai-user:<user lower-cased>");
	free(key);
	CHECK(agent_session_key(NULL, NULL, "beta", &key, &stable, &e) == 0 &&
	      !strncmp(key, "agent:beta:openai:", 18) && strlen(key) == 18 + 36 && !stable,
	      "no header, no user: per-request uuid key, not stable");
	{
		char *key2;
		agent_session_key(NULL, NULL, "beta", &key2, &stable, &e);
		CHECK(strcmp(key, key2) != 0, "per-request keys differ");
		CHECK(key[18 + 14] == '4', "uuid is version 4");
		free(key2);
	}
	free(key);
	CHECK(agent_session_key(NULL, "", "main", &key, &stable, &e) == 0 && !stable,
	      "empty user is no user");
	free(key);
	CHECK(agent_session_key("   ", NULL, "main", &key, &stable, &e) < 0 && e.status == 400,
	      "blank header key: 400");
	CHECK(agent_session_key("a\x01b", NULL, "main", &key, &stable, &e) < 0 && e.status == 400,
	      "control character in header key: 400");
	{
		char big[300];
		memset(big, 'k', sizeof big);
		big[256] = '\0';
		CHECK(agent_session_key(big, NULL, "main", &key, &stable, &e) == 0, "256-byte key ok");
		free(key);
		big[256] = 'k';
		big[257] = '\0';
		CHECK(agent_session_key(big, NULL, "main", &key, &stable, &e) < 0 && e.status == 400,
		      "257-byte key: 400");
	}
	return check_done();
}
