/* Unit tests for src/config.c: defaults, ${VAR}, validation with file:line, reload. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "config_live.h"

static char err[600];

static struct cfg *load(const char *text)
{
	struct cfg *c = NULL;
	if (cfg_load_text("conf.json5", text, strlen(text), &c, err, sizeof err) < 0)
		return NULL;
	return c;
}

/* 1 when text fails with an error containing want. */
static int fails_with(const char *text, const char *want)
{
	struct cfg *c = load(text);
	if (c) {
		cfg_free(c);
		printf("#   loaded, wanted error '%s'\n", want);
		return 0;
	}
	if (!strstr(err, want)) {
		printf("#   error was '%s', wanted '%s'\n", err, want);
		return 0;
	}
	return 1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

int main(void)
{
	struct cfg *c;

	unsetenv("OPENCLAW_GATEWAY_TOKEN");
	unsetenv("OPENCLAW_GATEWAY_PASSWORD");

	c = load("{ models: { providers: { echo: { api: 'echo' } } }, agents: { defaults: { model: "
		 "'echo/echo' } } }");
	CHECK(c != NULL, "minimal config loads");
	if (c) {
		CHECK(!c->chat.enabled, "chatCompletions disabled by default");
		CHECK_INT(c->chat.max_body_bytes, 20 * 1024 * 1024, "maxBodyBytes default 20 MiB");
		CHECK_INT(c->chat.keepalive_seconds, 10, "keepAliveSeconds default 10");
		CHECK_INT(c->chat.body_timeout_seconds, 30, "bodyTimeoutSeconds default 30");
		CHECK_INT(c->nagents, 1, "one agent without agents.list");
		CHECK_STR(c->agents[0].id, "main", "that agent is main");
		CHECK_INT(c->agents[0].history_limit, 40, "historyLimit default 40");
		CHECK_INT(c->session.ttl_days, 30, "ttlDays default 30");
		CHECK_INT(c->session.lock_wait_seconds, 30, "session.lockWaitSeconds default 30");
		CHECK(c->usage.enabled, "usage.enabled default true");
		CHECK_INT(c->usage.retention_days, 90, "usage.retentionDays default 90");
		CHECK_INT(c->auth.nusers, 0, "no gateway.auth.users by default");
		CHECK_INT(c->auth.rate_limit.max_attempts, 10, "rateLimit.maxAttempts default 10");
		CHECK_INT(c->auth.rate_limit.window_ms, 60000, "rateLimit.windowMs default 60000");
		CHECK_INT(c->auth.rate_limit.lockout_ms, 300000,
			  "rateLimit.lockoutMs default 300000");
		CHECK(c->auth.rate_limit.exempt_loopback, "rateLimit.exemptLoopback default true");
		CHECK_INT(c->providers[0].timeout_seconds, 600, "timeoutSeconds default 600");
		CHECK_STR(c->agents[0].model.model, "echo", "model id after the provider");
		cfg_free(c);
	}

	c = load("{\n"
		 "  // the SPEC's example, trimmed\n"
		 "  gateway: { auth: { mode: 'token', token: 'abc' },\n"
		 "    http: { endpoints: { chatCompletions: { enabled: true, maxBodyBytes: 1024, "
		 "keepAliveSeconds: 0, bodyTimeoutSeconds: 0,\n"
		 "      images: { allowUrl: true } } } } },\n"
		 "  agents: { defaults: { model: 'openai/gpt-4o-mini', historyLimit: 5 },\n"
		 "    list: [ { id: 'Main', default: true, systemPrompt: 'Be brief.' },\n"
		 "            { id: 'beta', model: { primary: 'anthropic/claude', fallbacks: "
		 "['openai/gpt-4o', 'echo/x'] } }, ] },\n"
		 "  models: { providers: {\n"
		 "    openai: { api: 'openai-completions', baseUrl: 'http://127.0.0.1:9/v1/', "
		 "apiKey: 'sk-1', headers: { 'X-Org': 'o' } },\n"
		 "    anthropic: { api: 'anthropic-messages', apiKey: 'k' },\n"
		 "    local: { api: 'command', command: ['/bin/cat', '-u'] },\n"
		 "    echo: { api: 'echo' } } },\n"
		 "  session: { store: '/tmp/x.db', ttlDays: 7, lockWaitSeconds: 0 },\n"
		 "  server: { threads: 4 },\n"
		 "  unknownSection: { whatever: 1 },\n"
		 "}");
	CHECK(c != NULL, "full config loads (unknown keys ignored)");
	if (c) {
		CHECK(c->chat.enabled, "enabled read");
		CHECK_INT(c->chat.max_body_bytes, 1024, "maxBodyBytes read");
		CHECK_INT(c->chat.keepalive_seconds, 0, "keepAliveSeconds 0 allowed");
		CHECK_INT(c->chat.body_timeout_seconds, 0,
			  "bodyTimeoutSeconds 0 (no limit) allowed");
		CHECK(c->chat.images_allow_url, "images.allowUrl read");
		CHECK_STR(c->agents[0].id, "main", "agent id lower-cased");
		CHECK_STR(c->agents[0].system_prompt, "Be brief.", "systemPrompt read");
		CHECK_INT(c->agents[0].history_limit, 5, "historyLimit from defaults");
		CHECK_STR(c->agents[0].model.provider->name, "openai", "default model's provider");
		CHECK_STR(c->agents[1].model.provider->name, "anthropic",
			  "primary of model object");
		CHECK_INT(c->agents[1].nfallbacks, 2, "two fallbacks");
		CHECK_STR(c->agents[1].fallbacks[1].model, "x", "fallback model id");
		CHECK_STR(cfg_find_provider(c, "openai")->base_url, "http://127.0.0.1:9/v1",
			  "trailing slash dropped from baseUrl");
		CHECK_STR(cfg_find_provider(c, "anthropic")->base_url, "https://api.anthropic.com",
			  "anthropic default baseUrl");
		CHECK_STR(cfg_find_provider(c, "local")->command[1], "-u", "command argv");
		CHECK_STR(cfg_find_provider(c, "openai")->headers[0].value, "o", "extra header");
		CHECK_STR(c->session.store, "/tmp/x.db", "session.store");
		CHECK_INT(c->server.threads, 4, "server.threads");
		CHECK_INT(c->session.lock_wait_seconds, 0,
			  "session.lockWaitSeconds 0 (no wait) read");
		CHECK(cfg_find_agent(c, "MAIN") != NULL, "find agent case-insensitively");
		cfg_free(c);
	}

	CHECK(fails_with("{ session: { lockWaitSeconds: -1 } }", "session.lockWaitSeconds") &&
		      fails_with("{ session: { lockWaitSeconds: 3601 } }",
				 "session.lockWaitSeconds"),
	      "session.lockWaitSeconds outside 0-3600: an error naming it");

	/* ${VAR} */
	setenv("CLAW_TEST_KEY", "sk-from-env", 1);
	c = load("{ models: { providers: { o: { api: 'openai-completions', apiKey: "
		 "'Bearer-${CLAW_TEST_KEY}-x' } } }, agents: { defaults: { model: 'o/m' } } }");
	CHECK(c && !strcmp(c->providers[0].api_key, "Bearer-sk-from-env-x"),
	      "${VAR} substituted inside a string");
	cfg_free(c);
	CHECK(fails_with("{ models: { providers: { o: { api: 'openai-completions',\n apiKey: "
			 "'${CLAW_UNSET_VAR}' } } }, agents: { defaults: { model: 'o/m' } } }",
			 "conf.json5:2: models.providers.o.apiKey: environment variable "
			 "CLAW_UNSET_VAR is not set"),
	      "unset ${VAR} in a used provider: error naming it with file:line");
	c = load("{ models: { providers: { o: { api: 'openai-completions', apiKey: "
		 "'${CLAW_UNSET_VAR}' }, e: { api: 'echo' } } }, agents: { defaults: { model: "
		 "'e/m' } } }");
	CHECK(c != NULL, "unset ${VAR} in a provider no agent uses: fine");
	cfg_free(c);
	CHECK(fails_with(
		      "{ gateway: { auth: { token: '${CLAW_UNSET_VAR}' } }, models: { providers: { "
		      "e: { api: 'echo' } } }, agents: { defaults: { model: 'e/m' } } }",
		      "environment variable CLAW_UNSET_VAR is not set"),
	      "unset ${VAR} in the gateway token: error");
	c = load("{ models: { providers: { e: { api: 'echo' } } }, agents: { defaults: { model: "
		 "'e/m', systemPrompt: 'costs $5 and ${not closed' } } }");
	CHECK(c && !strcmp(c->agents[0].system_prompt, "costs $5 and ${not closed"),
	      "a $ that is no reference stays literal");
	cfg_free(c);

	/* validation, each with its line */
	CHECK(fails_with(
		      "{ models: { providers: { o: { api: 'openai-completions', headers: {\n "
		      "'X-A': 'a\\r\\nX-B: b' } } } }, agents: { defaults: { model: 'o/m' } } }",
		      "conf.json5:2: models.providers.o.headers.X-A must not contain line breaks"),
	      "a header value with a line break, with line (and nothing leaked)");
	CHECK(fails_with("{\n gateway: { auth: {\n mode: 'magic' } } }",
			 "conf.json5:3: unknown gateway.auth.mode 'magic'"),
	      "unknown auth mode with line");
	CHECK(fails_with("{ models: { providers: { e: { api: 'echo' } } },\n agents: { list: [\n { "
			 "id: 'a', model: 'nope/m' } ] } }",
			 "conf.json5:3: agent 'a': model 'nope/m' names unknown provider 'nope'"),
	      "agent naming an unknown provider, with line");
	CHECK(fails_with("{ models: { providers: { e: { api: 'echo' } } }, agents: { defaults: { "
			 "model: 'e/m' },\n list: [\n { id: 'a' },\n { id: 'A' } ] } }",
			 "conf.json5:4: duplicate agent id 'a'"),
	      "duplicate agent id (case-insensitive), with line");
	CHECK(fails_with("{ models: { providers: { e: { api: 'echo' } } }, agents: { defaults: { "
			 "model: 'e/m' },\n list: [ { id: 'bad id' } ] } }",
			 "conf.json5:2: agents.list[0]: bad agent id 'bad id'"),
	      "bad id syntax, with line");
	CHECK(fails_with("{ models: { providers: { e: { api: 'echo' } } }, agents: { list: [ { id: "
			 "'-x', model: 'e/m' } ] } }",
			 "bad agent id '-x'"),
	      "id starting with '-' refused");
	CHECK(fails_with("{ models: { providers: { e: { api: 'gpt' } } }, agents: { defaults: { "
			 "model: 'e/m' } } }",
			 "unknown api 'gpt'"),
	      "unknown provider api");
	CHECK(fails_with("{ models: { providers: { e: { api: 'echo' } } }, agents: { list: [ { id: "
			 "'a' } ] } }",
			 "agent 'a' has no model"),
	      "agent without a model");
	CHECK(fails_with("{ models: { providers: { e: { api: 'echo' } } }, agents: { defaults: { "
			 "model: 'nomodel' } } }",
			 "must be \"provider/model-id\""),
	      "model without a slash");
	CHECK(fails_with("{ models: { providers: { c: { api: 'command' } } }, agents: { defaults: "
			 "{ model: 'c/m' } } }",
			 "command must be a non-empty array"),
	      "command provider without command");
	CHECK(fails_with("{ gateway: { http: { endpoints: { chatCompletions: { enabled: 'yes' } } "
			 "} } }",
			 "enabled must be true or false"),
	      "wrong type for enabled");
	CHECK(fails_with("{ gateway: { http: { endpoints: { chatCompletions: { maxBodyBytes: -1 } "
			 "} } } }",
			 "maxBodyBytes must be a whole number"),
	      "negative maxBodyBytes");
	CHECK(fails_with("{ models: { providers: { o: { api: 'openai-completions', baseUrl: "
			 "'ftp://x' } } }, agents: { defaults: { model: 'o/m' } } }",
			 "baseUrl must start with http"),
	      "baseUrl scheme checked");
	CHECK(fails_with("{ models: { providers: { e: { api: 'echo' } } }, agents: { defaults: { "
			 "model: 'e/m' }, list: [ {id:'a', default:true}, {id:'b', default:true} ] "
			 "} }",
			 "both have default: true"),
	      "two default agents");
	CHECK(fails_with("{ server: { threads: 0 } }",
			 "server.threads must be a whole number from 1"),
	      "threads range");
	CHECK(fails_with("[1, 2]", "must be an object"), "top level not an object");
	CHECK(fails_with("{\n  gateway: {\n    auth: { mode: 'token' \n  }\n", "conf.json5:5:"),
	      "syntax error carries line and column");

	/* cfg_load from a file, and reload on change */
	{
		char dir[] = "/tmp/clawcgi-cfg-XXXXXX";
		char path[128];
		struct cfg *a, *b;
		struct timespec ts[2];

		CHECK(mkdtemp(dir) != NULL, "temp dir");
		snprintf(path, sizeof path, "%s/c.json5", dir);
		CHECK(cfg_load(path, &a, err, sizeof err) < 0 && strstr(err, "cannot open"),
		      "missing file: clear error");
		write_file(path, "{ models: { providers: { e: { api: 'echo' } } }, agents: { "
				 "defaults: { model: 'e/one' } } }");
		CHECK(cfg_init(path) == 0, "cfg_init loads the file");
		a = cfg_acquire();
		CHECK(a && !strcmp(a->agents[0].model.model, "one"),
		      "acquire gives the loaded config");
		b = cfg_acquire();
		CHECK(a == b, "unchanged file: same snapshot (no re-parse)");
		cfg_release(b);

		write_file(path, "{ models: { providers: { e: { api: 'echo' } } }, agents: { "
				 "defaults: { model: 'e/two' } } }");
		ts[0].tv_sec = ts[1].tv_sec = time(NULL) + 5;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		utimensat(AT_FDCWD, path, ts, 0);
		b = cfg_acquire();
		CHECK(b && b != a && !strcmp(b->agents[0].model.model, "two"),
		      "changed file: reloaded");
		CHECK(!strcmp(a->agents[0].model.model, "one"),
		      "old snapshot still valid while held");
		cfg_release(a);
		cfg_release(b);

		write_file(path, "{ broken");
		ts[0].tv_sec = ts[1].tv_sec = time(NULL) + 10;
		utimensat(AT_FDCWD, path, ts, 0);
		b = cfg_acquire();
		CHECK(b && !strcmp(b->agents[0].model.model, "two"),
		      "broken new file: last good config kept");
		cfg_release(b);
		cfg_shutdown();
		unlink(path);
		rmdir(dir);
	}
	c = load("{ usage: { enabled: false, retentionDays: 7 }, models: { providers: { echo: { "
		 "api: "
		 "'echo' } } }, agents: { defaults: { model: 'echo/echo' } } }");
	CHECK(c && !c->usage.enabled && c->usage.retention_days == 7, "usage section read");
	cfg_free(c);
	c = load(
		"{ usage: { retentionDays: -1 }, models: { providers: { echo: { api: 'echo' } } }, "
		"agents: { defaults: { model: 'echo/echo' } } }");
	CHECK(c == NULL, "usage.retentionDays below 0 is refused");
	c = load("{ gateway: { auth: { mode: 'keys', users: [] } }, models: { providers: { echo: { "
		 "api: 'echo' } } }, agents: { defaults: { model: 'echo/echo' } } }");
	CHECK(c == NULL, "gateway.auth.users must be an object");
	return check_done();
}
