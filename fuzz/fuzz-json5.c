/*
 * fuzz-json5.c - libFuzzer target: the config file reader (src/json5.c and
 * the typed loading of src/config*.c).
 *
 * Feeds the input as a config file's text to json5_parse with a line map,
 * then to cfg_load_text, which reads the same text into a struct cfg
 * (gateway, session, server, models.providers, agents, ${VAR}
 * substitution) from memory, as cfg_load does after reading the file; a
 * loaded config is then printed as check-config prints it (to /dev/null).
 * ${FUZZ_KEY} and ${OPENCLAW_GATEWAY_TOKEN} are set, ${FUZZ_UNSET} and
 * ${OPENCLAW_GATEWAY_PASSWORD} are not, whatever the environment.
 *
 * Checks beyond "no crash, no leak":
 * - json5_parse: a tree's strings and keys are valid UTF-8 (json5.h); the
 *   line map holds each node of the tree exactly once (no entry of a
 *   replaced duplicate left behind), each on a line of the input; an error
 *   has a message and a line and column inside the input;
 * - cfg_load_text: success is a config with at least one agent, the
 *   default one among them, every agent id valid and lower case and found
 *   by cfg_find_agent, every model's provider one of the config's own,
 *   found by name; failure is a message that starts with the file's name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "json5.h"
#include "log.h"
#include "utf8.h"

#define TARGET "fuzz-json5"

/* A broken promise: say which, then abort (libFuzzer keeps the input). */
static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: broken: %s\n", TARGET, what);
		abort();
	}
}

#define NAME "fuzz.json5"

static FILE *devnull;

/* A logged line (gateway.auth.mode "none" warns) goes nowhere. */
static int swallow(void *ctx, const char *line, size_t n)
{
	(void)ctx, (void)line, (void)n;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	setenv("FUZZ_KEY", "sk-fuzz-0123456789", 1);
	setenv("OPENCLAW_GATEWAY_TOKEN", "fuzz-token", 1); /* etc/clawcgi.json5 reads it */
	unsetenv("OPENCLAW_GATEWAY_PASSWORD");
	unsetenv("FUZZ_UNSET");
	log_set_sink(swallow, NULL);
	devnull = fopen("/dev/null", "w");
	must(devnull != NULL, "/dev/null opens");
	return 0;
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (const void *const *)a,
		  y = (uintptr_t) * (const void *const *)b;

	return x < y ? -1 : x > y;
}

/* Each node of the tree at root into nodes (room for n), checking its text. */
static size_t collect(const cJSON *node, const cJSON **nodes, size_t n, size_t k)
{
	for (; node; node = node->next) {
		must(k < n, "no more nodes in the tree than entries in the line map");
		nodes[k++] = node;
		must(!node->string || utf8_valid(node->string, strlen(node->string)),
		     "keys are valid UTF-8");
		must(!cJSON_IsString(node) ||
			     utf8_valid(node->valuestring, strlen(node->valuestring)),
		     "strings are valid UTF-8");
		k = collect(node->child, nodes, n, k);
	}
	return k;
}

static void check_tree(const cJSON *root, const struct json5_lines *lines, int nlines)
{
	const cJSON **nodes = malloc((lines->len + 1) * sizeof *nodes);
	const cJSON **mapped = malloc((lines->len + 1) * sizeof *mapped);
	size_t n;

	if (!nodes || !mapped)
		abort(); /* out of memory */
	must(!root->next, "one root");
	n = collect(root, nodes, lines->len, 0);
	must(n == lines->len, "no fewer nodes in the tree than entries in the line map");
	for (size_t i = 0; i < n; i++) {
		mapped[i] = lines->pos[i].node;
		must(lines->pos[i].line >= 1 && lines->pos[i].line <= nlines,
		     "each node's line is a line of the input");
	}
	qsort(nodes, n, sizeof *nodes, by_address);
	qsort(mapped, n, sizeof *mapped, by_address);
	must(!memcmp(nodes, mapped, n * sizeof *nodes),
	     "the line map holds each node of the tree once");
	free(nodes);
	free(mapped);
}

static void check_cfg(const struct cfg *c)
{
	must(c->nagents >= 1 && c->default_agent < c->nagents, "a default agent among the agents");
	for (size_t i = 0; i < c->nagents; i++) {
		const struct cfg_agent *a = &c->agents[i];
		char id[CFG_AGENT_ID_MAX + 1];
		must(cfg_agent_id(a->id, strlen(a->id), id) && !strcmp(id, a->id),
		     "an agent id is valid and lower case");
		must(cfg_find_agent(c, a->id) == a, "cfg_find_agent finds each agent");
		for (size_t j = 0; j <= a->nfallbacks; j++) {
			const struct cfg_model *m = j ? &a->fallbacks[j - 1] : &a->model;
			must(m->provider >= c->providers &&
				     m->provider < c->providers + c->nproviders &&
				     m->provider->used,
			     "a model's provider is a used one of the config's own");
			must(m->model && m->model[0], "a model id");
			must(cfg_find_provider(c, m->provider->name) == m->provider,
			     "cfg_find_provider finds each provider");
		}
	}
	cfg_print(c, devnull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct json5_lines lines = {0};
	struct json5_error err;
	struct cfg *c;
	char errbuf[CFG_ERR_MAX];
	cJSON *root;
	int nlines = 1;

	for (size_t i = 0; i < size; i++)
		if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == size || text[i + 1] != '\n')))
			nlines++;
	root = json5_parse(text, size, &lines, &err);
	if (root) {
		check_tree(root, &lines, nlines);
	} else {
		must(err.message[0] && err.line >= 1 && err.line <= nlines && err.column >= 1 &&
			     (size_t)err.column <= size + 1,
		     "an error has a message, and a line and column inside the input");
		must(!lines.pos, "no line map after an error");
	}
	cJSON_Delete(root);
	json5_lines_free(&lines);

	if (cfg_load_text(NAME, text, size, &c, errbuf, sizeof errbuf) == 0) {
		must(c != NULL, "a config on success");
		check_cfg(c);
		cfg_free(c);
	} else {
		must(!c, "no config on failure");
		must(!strncmp(errbuf, NAME ":", strlen(NAME ":")),
		     "a load error's message starts with the file's name");
	}
	return 0;
}
