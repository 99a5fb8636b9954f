/* Unit tests for src/auth.c: modes, env fallbacks, fail closed, header parsing. */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "check.h"
#include "config.h"

static struct cfg *load(const char *text)
{
	struct cfg *c = NULL;
	char err[600];
	if (cfg_load_text("t.json5", text, strlen(text), &c, err, sizeof err) < 0)
		printf("# load failed: %s\n", err);
	return c;
}

#define PROVIDERS "models:{providers:{echo:{api:'echo'}}}, agents:{defaults:{model:'echo/e'}},"

static int check(struct cfg *c, const char *hdr, int want_status)
{
	struct err e;
	err_clear(&e);
	int rc = auth_check(c, hdr, &e);
	return rc == 0 ? want_status == 0 : e.status == want_status;
}

static void test_keys_mode(void)
{
	struct auth_client who;
	struct cfg *c;
	struct err e;
	char secret[68], again[68], hash[65];
	long retry;

	auth_key_hash("abc", 3, hash);
	CHECK_STR(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "key hash: SHA-256, lower-case hex (FIPS 180-2's \"abc\")");
	CHECK(auth_key_new(secret) == 0 && strlen(secret) == 67 && !strncmp(secret, "ck-", 3) &&
		      strspn(secret + 3, "0123456789abcdef") == 64,
	      "new key: ck- and 64 hex digits");
	CHECK(auth_key_new(again) == 0 && strcmp(secret, again), "new keys differ");

	c = load("{gateway:{auth:{mode:'keys', token:'op-token'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_KEYS, "keys mode loads");
	CHECK_STR(c ? cfg_auth_mode_name(c->auth.mode) : NULL, "keys", "keys mode's name");
	CHECK(c &&
		      auth_identify(c, NULL, "127.0.0.1", "Bearer op-token", NULL, &who, &retry,
				    &e) == 0 &&
		      who.kind == AUTH_OPERATOR && !who.scope[0],
	      "keys: the token is the operator's");
	err_clear(&e);
	CHECK(c &&
		      auth_identify(c, NULL, "127.0.0.1", "Bearer wrong", NULL, &who, &retry, &e) <
			      0 &&
		      e.status == 401,
	      "keys: another secret 401");
	err_clear(&e);
	CHECK(c &&
		      auth_identify(c, NULL, "127.0.0.1", "Bearer ck-0123", NULL, &who, &retry,
				    &e) < 0 &&
		      e.status == 500,
	      "keys: a client key without a store 500 (cannot be checked)");
	cfg_free(c);
	c = load("{gateway:{auth:{mode:'keys'}}, " PROVIDERS "}");
	err_clear(&e);
	CHECK(c && auth_check(c, "Bearer anything", &e) < 0 && e.status == 401,
	      "keys without a token: no operator key, 401 (not 500)");
	cfg_free(c);
}

static void test_remote_user(void)
{
	struct auth_client who;
	struct cfg *c;
	struct err e;
	long retry;

	c = load("{gateway:{auth:{mode:'remote-user', users:{alice:{agents:['main'], rpm:5, "
		 "tpm:100}, '*':{agents:['other']}}}}, " PROVIDERS
		 " agents:{list:[{id:'main', default:true},{id:'other'}], "
		 "defaults:{model:'echo/e'}}}");
	CHECK(c && c->auth.mode == CFG_AUTH_REMOTE_USER && c->auth.nusers == 2,
	      "remote-user mode and users load");
	CHECK(c && auth_identify(c, NULL, "10.1.1.1", NULL, "alice", &who, &retry, &e) == 0 &&
		      who.kind == AUTH_USER && !strcmp(who.name, "alice") &&
		      !strcmp(who.scope, "user:alice") && !strcmp(who.agents, "main") &&
		      who.rpm == 5 && who.tpm == 100,
	      "remote-user: REMOTE_USER with its entry");
	CHECK(c && auth_identify(c, NULL, "10.1.1.1", NULL, "bob", &who, &retry, &e) == 0 &&
		      !strcmp(who.agents, "other") && who.rpm == 0,
	      "remote-user: an unlisted user gets the \"*\" entry");
	CHECK(c && auth_identify(c, NULL, "10.1.1.1", NULL, "eve:x%", &who, &retry, &e) == 0 &&
		      !strcmp(who.scope, "user:eve%3Ax%25") && !strcmp(who.name, "eve:x%"),
	      "remote-user: ':' and '%' encoded in the scope (\"eve\" and \"eve:x\" apart)");
	err_clear(&e);
	CHECK(c && auth_identify(c, NULL, "10.1.1.1", "Bearer x", "", &who, &retry, &e) < 0 &&
		      e.status == 401,
	      "remote-user: no REMOTE_USER 401, whatever the Authorization");
	err_clear(&e);
	CHECK(c && auth_identify(c, NULL, "10.1.1.1", NULL, "al\nice", &who, &retry, &e) < 0 &&
		      e.status == 401,
	      "remote-user: control characters 401");
	cfg_free(c);
	c = load("{gateway:{auth:{mode:'remote-user'}}, " PROVIDERS "}");
	CHECK(c && auth_identify(c, NULL, "10.1.1.1", NULL, "carol", &who, &retry, &e) == 0 &&
		      !who.agents[0] && !who.rpm && !who.tpm,
	      "remote-user without users: every agent, no limits");
	cfg_free(c);
	c = load("{gateway:{auth:{mode:'remote-user', users:{a:{agents:['Bad Id']}}}}, " PROVIDERS
		 "}");
	CHECK(c == NULL, "users: a malformed agent id is a config error");
	c = load("{gateway:{auth:{mode:'remote-user', "
		 "users:{a:{agents:['main','nope']}}}}, " PROVIDERS "}");
	CHECK(c == NULL, "users: an agent that is not configured is a config error");
	c = load("{gateway:{auth:{mode:'remote-user', users:{a:{rpm:-1}}}}, " PROVIDERS "}");
	CHECK(c == NULL, "users: a negative rpm is a config error");
	c = load("{gateway:{auth:{mode:'trusted'}}, " PROVIDERS "}");
	CHECK(c == NULL, "an unknown mode is a config error");
}

static void test_client_rules(void)
{
	struct auth_client k = {
		.kind = AUTH_KEY, .name = "ci", .scope = "key:ci", .agents = "main,docs"};
	struct auth_client op = {.kind = AUTH_OPERATOR};
	struct err e;
	char headers[512];
	long retry;

	CHECK(auth_allows_agent(&k, "main") && auth_allows_agent(&k, "docs") &&
		      auth_allows_agent(&k, "DOCS"),
	      "allowlist: listed agents, any case");
	CHECK(!auth_allows_agent(&k, "mai") && !auth_allows_agent(&k, "main2") &&
		      !auth_allows_agent(&k, "ocs"),
	      "allowlist: no prefix or suffix matches");
	CHECK(auth_allows_agent(&op, "anything") && auth_allows_agent(NULL, "x"),
	      "allowlist: empty means every agent");
	err_clear(&e);
	CHECK(auth_agent_check(&k, "secret", &e) < 0 && e.status == 403 &&
		      !strcmp(e.code, "permission_denied") && strstr(e.message, "'secret'") &&
		      strstr(e.message, "'ci'"),
	      "403 permission_denied names the agent and the key");
	CHECK(auth_owns_session(&k, "key:ci:agent:main:openai-user:bob") &&
		      !auth_owns_session(&k, "key:cibot:x") && !auth_owns_session(&k, "x") &&
		      !auth_owns_session(&k, "key:ci"),
	      "a key owns only its own scope's sessions");
	CHECK(auth_owns_session(&op, "key:ci:x") && auth_owns_session(NULL, "y"),
	      "the operator owns every session");
	CHECK(auth_rate_take(&k, NULL, 1000, headers, sizeof headers, &retry, &e) == 0 &&
		      !headers[0],
	      "no limits: nothing counted, no headers, no store needed");
	k.rpm = 3;
	err_clear(&e);
	CHECK(auth_rate_take(&k, NULL, 1000, headers, sizeof headers, &retry, &e) < 0 &&
		      e.status == 500,
	      "limits without a store: 500");
	CHECK(auth_estimate(0, 0) == 0 && auth_estimate(1, 0) == 1 && auth_estimate(8, 0) == 2 &&
		      auth_estimate(9, 0) == 3,
	      "estimate: the prompt's bytes / 4, rounded up");
	CHECK(auth_estimate(9, 20) == 23 && auth_estimate(9, -1) == 3 + AUTH_DEFAULT_MAX_TOKENS,
	      "estimate: plus max tokens, or the default when none is given");
	{
		cJSON *p = cJSON_Parse("{\"max_tokens\":7,\"max_completion_tokens\":9}");
		cJSON *none = cJSON_Parse("{\"max_tokens\":0,\"max_output_tokens\":\"x\"}");
		CHECK(auth_max_out(p) == 9 && auth_max_out(none) == -1 && auth_max_out(NULL) == -1,
		      "max_out: max_completion_tokens first; none (or not a count) is -1");
		cJSON_Delete(p);
		cJSON_Delete(none);
		p = cJSON_Parse("{\"max_tokens\":10,\"n\":4}");
		none = cJSON_Parse("{\"n\":3}");
		CHECK(auth_max_out(p) == 40 && auth_max_out(none) == 3 * AUTH_DEFAULT_MAX_TOKENS,
		      "max_out: n choices count n times (the default too)");
		cJSON_Delete(p);
		cJSON_Delete(none);
	}
	CHECK_STR(auth_kind_name(AUTH_KEY), "key", "kind names");
	CHECK_STR(auth_kind_name(AUTH_ANYONE), "none", "auth mode none: the usage log's \"none\"");
}

/* auth_reach_check: a client with agents reaches only their models. */
static void test_reach(void)
{
	struct cfg *c =
		load("{models:{providers:{echo:{api:'echo'},"
		     "up:{api:'openai-completions',baseUrl:'http://127.0.0.1:9/v1'}}},"
		     "agents:{list:[{id:'main',model:{primary:'echo/e',fallbacks:['up/fb']},"
		     "embeddingModel:'up/emb'},{id:'other',model:'up/big'}]}}");
	struct auth_client k = {
		.kind = AUTH_KEY, .name = "ci", .scope = "key:ci", .agents = "main"};
	struct auth_client all = {.kind = AUTH_KEY, .name = "all", .scope = "key:all"};
	struct cfg_model m = {0};
	cJSON *params = cJSON_Parse("{\"temperature\":1,\"MODELS\":[\"x\"]}");
	struct err e;

	if (!c || !params) {
		CHECK(0, "reach: the config loads");
		cJSON_Delete(params);
		return;
	}
	m.provider = c->agents[0].fallbacks[0].provider;
	m.model = "fb";
	CHECK(auth_allows_model(&k, c, &m), "reach: an agent's fallback");
	m.model = "emb";
	CHECK(auth_allows_model(&k, c, &m), "reach: an agent's embeddingModel");
	m.model = "big";
	CHECK(!auth_allows_model(&k, c, &m), "reach: another agent's model is not the key's");
	CHECK(auth_allows_model(&all, c, &m) && auth_allows_model(NULL, c, &m),
	      "reach: no agent list, every model");
	m.model = "Fb";
	CHECK(!auth_allows_model(&k, c, &m), "reach: model ids compare exactly");
	err_clear(&e);
	m.model = "big";
	CHECK(auth_reach_check(&k, c, "main", &m, NULL, &e) < 0 && e.status == 403 &&
		      !strcmp(e.code, "permission_denied") &&
		      !strcmp(e.param, "x-openclaw-model") && strstr(e.message, "'up/big'"),
	      "reach: 403 permission_denied names the model");
	m = c->agents[0].model;
	err_clear(&e);
	CHECK(auth_reach_check(&k, c, "main", &m, params, &e) < 0 && e.status == 403 && !e.param &&
		      !strcmp(e.param_text, "MODELS") && strstr(e.message, "`MODELS`"),
	      "reach: a field that picks the model, in any case, is refused");
	err_clear(&e);
	CHECK(auth_reach_check(&all, c, "main", &m, params, &e) == 0,
	      "reach: passed on for a key without agents");
	err_clear(&e);
	CHECK(auth_reach_check(&k, c, "other", &m, NULL, &e) < 0 && strstr(e.message, "'other'"),
	      "reach: the agent is checked first");
	cJSON_Delete(params);
	cfg_free(c);
}

int main(void)
{
	struct cfg *c;
	struct err e;
	size_t len;
	const char *s;

	unsetenv("OPENCLAW_GATEWAY_TOKEN");
	unsetenv("OPENCLAW_GATEWAY_PASSWORD");

	s = auth_bearer("Bearer abc", &len);
	CHECK(s && len == 3 && !strncmp(s, "abc", 3), "bearer: plain");
	s = auth_bearer("  bEaReR \t abc  ", &len);
	CHECK(s && len == 3 && !strncmp(s, "abc", 3),
	      "bearer: scheme case-insensitive, spaces trimmed");
	CHECK(auth_bearer("Basic abc", &len) == NULL, "bearer: other scheme refused");
	CHECK(auth_bearer("Bearer", &len) == NULL, "bearer: no secret");
	CHECK(auth_bearer("Bearer    ", &len) == NULL, "bearer: blank secret");
	CHECK(auth_bearer("", &len) == NULL, "bearer: empty header");
	CHECK(auth_bearer(NULL, &len) == NULL, "bearer: absent header");
	CHECK(auth_bearer("Bearerabc", &len) == NULL, "bearer: no space after scheme");

	CHECK(auth_equal("abc", 3, "abc", 3), "equal: same");
	CHECK(!auth_equal("abc", 3, "abd", 3), "equal: differs in last byte");
	CHECK(!auth_equal("abc", 3, "abcd", 4), "equal: prefix is not equal");
	CHECK(!auth_equal("", 0, "a", 1), "equal: empty vs one byte");

	c = load("{gateway:{auth:{mode:'token', token:'s3cret-token'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_TOKEN, "token mode loads");
	CHECK(check(c, "Bearer s3cret-token", 0), "token: right token passes");
	CHECK(check(c, "bearer   s3cret-token ", 0), "token: case and whitespace tolerated");
	CHECK(check(c, "Bearer s3cret-toke", 401), "token: wrong token 401");
	CHECK(check(c, NULL, 401), "token: missing header 401");
	CHECK(check(c, "", 401), "token: empty header 401");
	CHECK(check(c, "s3cret-token", 401), "token: no scheme 401");
	err_clear(&e);
	auth_check(c, "Bearer x", &e);
	CHECK_STR(err_type_name(e.type), "unauthorized", "401 type is unauthorized");
	CHECK_STR(e.message, "Unauthorized", "401 message");
	cfg_free(c);

	setenv("OPENCLAW_GATEWAY_TOKEN", "from-env-token", 1);
	c = load("{gateway:{auth:{mode:'token'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer from-env-token", 0), "token: env fallback");
	cfg_free(c);
	c = load("{gateway:{auth:{mode:'token', token:'file-token'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer file-token", 0) && check(c, "Bearer from-env-token", 401),
	      "token: config value wins over env");
	cfg_free(c);
	c = load("{gateway:{auth:{token:'${OPENCLAW_GATEWAY_TOKEN}'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer from-env-token", 0), "token: ${VAR} substitution");
	cfg_free(c);
	unsetenv("OPENCLAW_GATEWAY_TOKEN");

	c = load("{gateway:{auth:{mode:'token'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer anything", 500),
	      "token: no secret anywhere fails closed (500)");
	err_clear(&e);
	auth_check(c, "Bearer anything", &e);
	CHECK(strstr(e.message, "OPENCLAW") == NULL && strstr(e.message, "gateway.auth") == NULL,
	      "fail closed: the setting is not named in the body");
	cfg_free(c);
	c = load("{gateway:{auth:{mode:'token', token:''}}, " PROVIDERS "}");
	CHECK(c && check(c, NULL, 500), "token: empty token fails closed even without a header");
	cfg_free(c);

	c = load("{gateway:{auth:{mode:'password', password:'pw-123'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_PASSWORD && check(c, "Bearer pw-123", 0),
	      "password: right password passes");
	CHECK(c && check(c, "Bearer pw-1234", 401), "password: wrong password 401");
	cfg_free(c);
	setenv("OPENCLAW_GATEWAY_PASSWORD", "env-pw", 1);
	c = load("{gateway:{auth:{mode:'password'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer env-pw", 0), "password: env fallback");
	cfg_free(c);
	c = load("{" PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_PASSWORD,
	      "mode inferred: password when only env password");
	cfg_free(c);
	unsetenv("OPENCLAW_GATEWAY_PASSWORD");
	c = load("{gateway:{auth:{mode:'password'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer x", 500), "password: missing secret fails closed");
	cfg_free(c);

	c = load("{gateway:{auth:{password:'pw'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_PASSWORD, "mode inferred: password when password set");
	cfg_free(c);
	c = load("{gateway:{auth:{token:'tk-abc'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_TOKEN, "mode inferred: token otherwise");
	cfg_free(c);
	c = load("{" PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_TOKEN && check(c, "Bearer x", 500),
	      "no auth section: token mode, fails closed");
	cfg_free(c);

	c = load("{gateway:{auth:{mode:'none'}}, " PROVIDERS "}");
	CHECK(c && check(c, NULL, 0) && check(c, "Bearer whatever", 0), "none: everything passes");
	cfg_free(c);

	CHECK(auth_is_loopback("127.0.0.1") && auth_is_loopback("127.8.9.10") &&
		      auth_is_loopback("::1") && auth_is_loopback("::ffff:127.0.0.1"),
	      "loopback addresses");
	CHECK(!auth_is_loopback("10.0.0.1") && !auth_is_loopback("::2") && !auth_is_loopback("") &&
		      !auth_is_loopback(NULL) && !auth_is_loopback("128.0.0.1"),
	      "other addresses are not loopback");

	test_keys_mode();
	test_remote_user();
	test_client_rules();
	test_reach();
	return check_done();
}
