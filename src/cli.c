/*
 * cli.c - the subcommands check-config, agent and sessions: the same
 * config, turn and store code as the endpoint, with a terminal sink instead
 * of an HTTP response.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "log.h"
#include "message.h"
#include "store.h"
#ifdef HAVE_POSTGRESQL
#include "store_copy.h"
#endif

int cli_check_config(const char *path)
{
	struct cfg *c;
	char errbuf[CFG_ERR_MAX], msg[600];

	if (cfg_load(path, &c, errbuf, sizeof errbuf) < 0) {
		fprintf(stderr, "%s\n", errbuf);
		return 1;
	}
	cfg_print(c, stdout);
	store_probe(c->session.store, msg, sizeof msg);
	printf("session store check: %s\n", msg);
	printf("configuration OK\n");
	cfg_free(c);
	return 0;
}

static int term_delta(struct prov_sink *s, const struct prov_delta *d)
{
	(void)s;
	if (d->choice != 0 || !d->content_len)
		return 0;
	if (fwrite(d->content, 1, d->content_len, stdout) != d->content_len || fflush(stdout) != 0)
		return -1;
	return 0;
}

int cli_agent(const char *config_path, const char *agent_id, const char *user,
	      const char *session_key, const char *model, const char *message)
{
	struct prov_sink sink = {NULL, term_delta, NULL, NULL};
	struct agent_turn_source src = {
		.caller = AGENT_CALLER_CLI,
		.agent_id = agent_id,
		.model_override = model,
		.session_key = session_key,
		.user = user,
		.stream = true,
	};
	struct agent_turn t;
	struct worker w = WORKER_INIT;
	struct cfg *c = NULL;
	struct err e;
	char errbuf[CFG_ERR_MAX];
	cJSON *msg;
	int status = 1;

	err_clear(&e);
	agent_turn_init(&t);
	if (cfg_load(config_path, &c, errbuf, sizeof errbuf) < 0) {
		fprintf(stderr, "%s\n", errbuf);
		goto out;
	}
	if (agent_turn_prepare(&t, c, &src, &e) < 0) {
		fprintf(stderr, "clawcgi: %s\n", e.message);
		goto out;
	}
	if (!(t.messages = cJSON_CreateArray()) || !(msg = msg_new("user", message))) {
		fprintf(stderr, "clawcgi: out of memory\n");
		goto out;
	}
	cJSON_AddItemToArray(t.messages, msg);
	t.worker = &w;
	fprintf(stderr, "[agent %s, session %s%s]\n", t.agent->id, t.session_key,
		t.stable ? "" : " (not kept)");
	if (agent_run_turn(&t, &sink, &e) < 0) {
		if (t.res.started)
			fputc('\n', stdout);
		fprintf(stderr, "clawcgi: %s (%d %s)\n", e.message, e.status,
			err_type_name(e.type));
		goto out;
	}
	fputc('\n', stdout);
	status = 0;
out:
	worker_free(&w);
	agent_turn_free(&t);
	cfg_free(c);
	return status;
}

static int print_row(void *ctx, const struct store_session *row)
{
	char when[32];
	time_t t = (time_t)row->last_used;
	int *n = ctx;

	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
	if ((*n)++ == 0)
		printf("%-19s  %-12s %8s  %s\n", "LAST USED", "AGENT", "MESSAGES", "KEY");
	printf("%-19s  %-12s %8ld  %s\n", when, row->agent_id, row->messages, row->key);
	return 0;
}

static int print_message(void *ctx, const char *agent_id, long seq, const cJSON *msg,
			 bool interrupted)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
	const char **last_agent = ctx;
	struct buf text = BUF_INIT;

	if (!*last_agent || strcmp(*last_agent, agent_id)) {
		printf("== agent %s\n", agent_id);
		free((char *)*last_agent);
		*last_agent = strdup(agent_id);
	}
	msg_text(msg, &text);
	printf("[%ld] %s%s: %s\n", seq, cJSON_IsString(role) ? role->valuestring : "?",
	       interrupted ? " (interrupted)" : "", buf_str(&text));
	buf_free(&text);
	return 0;
}

int cli_open(const char *config_path, struct cfg **c, struct store **st)
{
	char errbuf[CFG_ERR_MAX];
	struct err e;

	*st = NULL;
	if (cfg_load(config_path, c, errbuf, sizeof errbuf) < 0) {
		fprintf(stderr, "%s\n", errbuf);
		return -1;
	}
	if (store_open((*c)->session.store, st, &e) < 0) {
		char *shown = store_display((*c)->session.store);
		fprintf(stderr, "clawcgi: cannot open the session store %s: %s\n",
			shown ? shown : "", e.message);
		free(shown);
		cfg_free(*c);
		*c = NULL;
		return -1;
	}
	return 0;
}

int cli_sessions(const char *config_path, int argc, char **argv)
{
	struct store *st = NULL;
	struct cfg *c = NULL;
	struct err e;
	int status = 1;

	err_clear(&e);
	if (argc < 1) {
		fprintf(stderr, "usage: clawcgi sessions list [--agent ID] | show KEY | "
				"delete KEY | purge --older-than DAYS\n");
		return 2;
	}
	if (cli_open(config_path, &c, &st) < 0)
		return 1;
	if (!strcmp(argv[0], "list")) {
		const char *agent = NULL;
		int n = 0;
		if (argc == 3 && !strcmp(argv[1], "--agent"))
			agent = argv[2];
		else if (argc != 1)
			goto usage;
		if (store_list(st, agent, print_row, &n, &e) < 0)
			goto fail;
		if (!n)
			printf("no sessions%s%s\n", agent ? " for agent " : "", agent ? agent : "");
		status = 0;
	} else if (!strcmp(argv[0], "show") && argc == 2) {
		const char *last_agent = NULL;
		long count;
		int rc = store_show(st, argv[1], print_message, &last_agent, &count, &e);
		free((char *)last_agent);
		if (rc < 0)
			goto fail;
		if (!count) {
			fprintf(stderr, "clawcgi: no session '%s'\n", argv[1]);
			goto out;
		}
		status = 0;
	} else if (!strcmp(argv[0], "delete") && argc == 2) {
		long n;
		if (store_remove(st, argv[1], &n, &e) < 0)
			goto fail;
		if (!n) {
			fprintf(stderr, "clawcgi: no session '%s'\n", argv[1]);
			goto out;
		}
		printf("deleted session %s\n", argv[1]);
		status = 0;
	} else if (!strcmp(argv[0], "purge") && argc == 3 && !strcmp(argv[1], "--older-than")) {
		char *end;
		double days = strtod(argv[2], &end);
		long n;
		if (*end || end == argv[2] || days < 0) {
			fprintf(stderr, "clawcgi: --older-than needs a number of days\n");
			status = 2;
			goto out;
		}
		if (store_purge(st, days, &n, &e) < 0)
			goto fail;
		printf("deleted %ld session%s idle for more than %s day%s\n", n, n == 1 ? "" : "s",
		       argv[2], days == 1 ? "" : "s");
		status = 0;
	} else {
		goto usage;
	}
	goto out;
usage:
	fprintf(stderr, "usage: clawcgi sessions list [--agent ID] | show KEY | "
			"delete KEY | purge --older-than DAYS\n");
	status = 2;
	goto out;
fail:
	fprintf(stderr, "clawcgi: %s\n", e.message);
out:
	store_close(st);
	cfg_free(c);
	return status;
}

static const char store_usage[] =
	"usage: clawcgi store migrate --from sqlite:PATH --to postgresql://...\n";

int cli_store(int argc, char **argv)
{
	const char *from = NULL, *to = NULL;
	char *from_path = NULL, *to_spec = NULL, *shown = NULL, why[512];
	enum store_kind kind;
	int status = 1;

	if (argc < 1 || strcmp(argv[0], "migrate")) {
		fputs(store_usage, stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--from") && i + 1 < argc)
			from = argv[++i];
		else if (!strcmp(argv[i], "--to") && i + 1 < argc)
			to = argv[++i];
		else {
			fputs(store_usage, stderr);
			return 2;
		}
	}
	if (!from || !to) {
		fputs(store_usage, stderr);
		return 2;
	}
	/* relative paths: against the working directory, as a shell user means */
	if (store_resolve(from, NULL, &from_path, &kind, why, sizeof why) < 0) {
		fprintf(stderr, "clawcgi: --from %s\n", why);
		return 2;
	}
	if (kind != STORE_SQLITE) {
		fprintf(stderr, "clawcgi: --from must be a SQLite store (sqlite:PATH)\n");
		goto out;
	}
	if (store_resolve(to, NULL, &to_spec, &kind, why, sizeof why) < 0) {
		fprintf(stderr, "clawcgi: --to %s\n", why);
		status = 2;
		goto out;
	}
	if (kind != STORE_POSTGRESQL) {
		fprintf(stderr, "clawcgi: --to must be a PostgreSQL store (postgresql://...)\n");
		status = 2;
		goto out;
	}
#ifdef HAVE_POSTGRESQL
	{
		struct store *st = NULL;
		struct store_copy_counts n;
		struct err e;

		err_clear(&e);
		shown = store_display(to_spec);
		if (access(from_path, R_OK) < 0) {
			fprintf(stderr, "clawcgi: cannot read %s\n", from_path);
			goto out;
		}
		if (store_open(to_spec, &st, &e) < 0) {
			fprintf(stderr, "clawcgi: cannot open the session store %s: %s\n",
				shown ? shown : "", e.message);
			goto out;
		}
		if (store_copy_from_sqlite(from_path, st, &n, &e) < 0) {
			fprintf(stderr, "clawcgi: %s\n", e.message);
			fprintf(stderr,
				"clawcgi: stopped after %ld sessions; running again goes on from "
				"there\n",
				n.read.sessions);
		} else {
			printf("copied %ld sessions, %ld messages, %ld responses from %s to %s "
			       "(%ld, %ld and %ld were already there)\n",
			       n.added.sessions, n.added.messages, n.added.responses, from_path,
			       shown ? shown : "", n.read.sessions - n.added.sessions,
			       n.read.messages - n.added.messages,
			       n.read.responses - n.added.responses);
			printf("copied %ld client keys (%ld were already there) and %ld usage "
			       "rows\n",
			       n.keys_added, n.keys - n.keys_added, n.usage_added);
			status = 0;
		}
		store_close(st);
	}
#endif
out:
	free(shown);
	free(from_path);
	free(to_spec);
	return status;
}
