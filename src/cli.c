/*
 * cli.c - check-config and agent: the same config and turn code as the
 * endpoint, with a terminal sink instead of an HTTP response.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "log.h"

int cli_check_config(const char *path)
{
	struct cfg *c;
	char errbuf[600];

	if (cfg_load(path, &c, errbuf, sizeof errbuf) < 0) {
		fprintf(stderr, "%s\n", errbuf);
		return 1;
	}
	cfg_print(c, stdout);
	printf("configuration OK\n");
	cfg_free(c);
	return 0;
}

static int term_delta(struct prov_sink *s, const char *text, size_t len)
{
	(void)s;
	if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
		return -1;
	return 0;
}

int cli_agent(const char *config_path, const char *agent_id, const char *user,
	      const char *session_key, const char *model, const char *message)
{
	struct prov_sink sink = {NULL, term_delta, NULL, NULL};
	struct agent_turn t;
	struct cfg *c = NULL;
	struct err e;
	char errbuf[600];
	cJSON *msg;
	int status = 1;

	err_clear(&e);
	agent_turn_init(&t);
	if (cfg_load(config_path, &c, errbuf, sizeof errbuf) < 0) {
		fprintf(stderr, "%s\n", errbuf);
		goto out;
	}
	if (agent_id) {
		t.agent = cfg_find_agent(c, agent_id);
		if (!t.agent) {
			fprintf(stderr, "clawcgi: no agent '%s' in %s\n", agent_id, config_path);
			goto out;
		}
	} else {
		t.agent = &c->agents[c->default_agent];
	}
	t.cfg = c;
	t.model = t.agent->model;
	if (model) {
		const char *slash = strchr(model, '/');
		char pname[128];
		size_t n = slash ? (size_t)(slash - model) : 0;
		if (!slash || !n || n >= sizeof pname || !slash[1]) {
			fprintf(stderr, "clawcgi: --model must be provider/model-id\n");
			goto out;
		}
		memcpy(pname, model, n);
		pname[n] = '\0';
		if (!(t.model.provider = cfg_find_provider(c, pname))) {
			fprintf(stderr, "clawcgi: provider '%s' is not configured\n", pname);
			goto out;
		}
		t.model.model = (char *)slash + 1;
	}
	if (agent_session_key(session_key, user, t.agent->id, &t.session_key, &t.stable,
			      &e) < 0) {
		fprintf(stderr, "clawcgi: %s\n", e.message);
		goto out;
	}
	if (t.agent->system_prompt && buf_append_str(&t.system_text, t.agent->system_prompt) < 0)
		goto out;
	t.messages = cJSON_CreateArray();
	msg = cJSON_CreateObject();
	if (!t.messages || !msg) {
		cJSON_Delete(msg);
		goto out;
	}
	cJSON_AddItemToArray(t.messages, msg);
	cJSON_AddStringToObject(msg, "role", "user");
	cJSON_AddStringToObject(msg, "content", message);
	t.stream = true;
	t.curl = curl_easy_init();
	if (!t.curl)
		goto out;
	fprintf(stderr, "[agent %s, session %s%s]\n", t.agent->id, t.session_key,
		t.stable ? "" : " (not kept)");
	if (agent_run_turn(&t, &sink, &e) < 0) {
		if (t.res.started)
			fputc('\n', stdout);
		fprintf(stderr, "clawcgi: %s (%d %s)\n", e.message, e.status,
			e.type ? e.type : "error");
		goto out;
	}
	fputc('\n', stdout);
	status = 0;
out:
	if (t.curl)
		curl_easy_cleanup(t.curl);
	agent_turn_free(&t);
	cfg_free(c);
	return status;
}
