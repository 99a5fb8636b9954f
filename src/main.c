/*
 * main.c - process entry: serve FastCGI (socket on stdin, or --listen),
 * answer one CGI request, or run a command-line subcommand.
 */
#include "config_live.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curl_load.h"

#include "cli.h"
#include "log.h"
#include "serve.h"
#include "store.h"

static const char usage[] =
	"usage: clawcgi                      (FastCGI socket on stdin, or CGI)\n"
	"       clawcgi serve --listen HOST:PORT|PATH [--threads N] [--config FILE]\n"
	"       clawcgi agent [--agent ID] [--user U | --session-key K] [--model P/M]\n"
	"                     [--config FILE] --message TEXT\n"
	"       clawcgi sessions [--config FILE] list [--agent ID] | show KEY | delete KEY\n"
	"                        | purge --older-than DAYS\n"
	"       clawcgi store migrate --from sqlite:PATH --to postgresql://...\n"
	"       clawcgi keys [--config FILE] create --name NAME [--agents ID,ID] [--rpm N]\n"
	"                    [--tpm N] [--expires DAYS] | list | revoke NAME\n"
	"                    | rotate NAME [--expires DAYS]\n"
	"       clawcgi usage [--config FILE] [--since DATE] [--until DATE]\n"
	"                     [--by agent|key|user|model|day] [--json]\n"
	"       clawcgi check-config [FILE]\n"
	"       clawcgi --version | --help\n"
	"The config is FILE, else $CLAWCGI_CONFIG, else " CLAWCGI_SYSCONFDIR
	"/clawcgi/clawcgi.json5.\n";

/* "--name value" at argv[*i]; advances *i.  NULL when argv[*i] is not it. */
static const char *opt(int argc, char **argv, int *i, const char *name)
{
	if (strcmp(argv[*i], name))
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "clawcgi: %s needs a value\n", name);
		exit(2);
	}
	return argv[++*i];
}

static int bad_arg(const char *arg)
{
	fprintf(stderr, "clawcgi: unexpected argument '%s'\n%s", arg, usage);
	return 2;
}

static int threads_for(int requested)
{
	struct cfg *c;
	int n = requested;

	if (n <= 0 && (c = cfg_acquire())) {
		n = c->server.threads;
		cfg_release(c);
	}
	return n > 0 ? n : SERVE_DEFAULT_THREADS;
}

/* Open the session store once at start, so a bad path is reported now. */
static void check_store(void)
{
	struct cfg *c = cfg_acquire();
	struct store *st;
	struct err e;
	char *shown;

	if (c && store_open(c->session.store, &st, &e) == 0) {
		store_close(st);
	} else if (c) {
		char why[600];
		/* what check-config would say of it: a folder, a permission, a
		 * schema too new (not always the folder) */
		if (store_kind_of(c->session.store) == STORE_POSTGRESQL)
			snprintf(why, sizeof why,
				 "check that the database server is up and the connection "
				 "string is right");
		else
			store_probe(c->session.store, why, sizeof why);
		shown = store_display(c->session.store);
		log_error("session store %s cannot be used (requests with a session key "
			  "will get 500): %s (%s)",
			  shown ? shown : "(out of memory)", e.message, why);
		free(shown);
	}
	cfg_release(c);
}

static int run_server(int listen_fd, const char *config, int requested_threads)
{
	int threads;

	if (cfg_init(config ? config : cfg_default_path()) < 0)
		log_error("starting without a valid configuration: requests get 500 "
			  "until the file is fixed");
	threads = threads_for(requested_threads);
	check_store();
	if (serve_limit_fds(threads) < 0)
		return 1;
	return serve_fastcgi(listen_fd, threads) < 0 ? 1 : 0;
}

static int cmd_serve(int argc, char **argv)
{
	const char *listen = NULL, *config = NULL, *v;
	int threads = 0, fd;

	for (int i = 2; i < argc; i++) {
		if ((v = opt(argc, argv, &i, "--listen")))
			listen = v;
		else if ((v = opt(argc, argv, &i, "--config")))
			config = v;
		else if ((v = opt(argc, argv, &i, "--threads"))) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > serve_max_threads()) {
				fprintf(stderr,
					"clawcgi: --threads must be 1-%d (more "
					"concurrency: run more processes)\n",
					serve_max_threads());
				return 2;
			}
			threads = (int)n;
		} else
			return bad_arg(argv[i]);
	}
	if (!listen) {
		fprintf(stderr, "clawcgi: serve needs --listen HOST:PORT or a socket path\n");
		return 2;
	}
	fd = serve_listen(listen);
	if (fd < 0)
		return 1;
	log_info("listening on %s", listen);
	return run_server(fd, config, threads);
}

static int cmd_agent(int argc, char **argv)
{
	const char *agent = NULL, *user = NULL, *key = NULL, *model = NULL;
	const char *message = NULL, *config = NULL, *v;

	for (int i = 2; i < argc; i++) {
		if ((v = opt(argc, argv, &i, "--agent")))
			agent = v;
		else if ((v = opt(argc, argv, &i, "--user")))
			user = v;
		else if ((v = opt(argc, argv, &i, "--session-key")))
			key = v;
		else if ((v = opt(argc, argv, &i, "--model")))
			model = v;
		else if ((v = opt(argc, argv, &i, "--message")))
			message = v;
		else if ((v = opt(argc, argv, &i, "--config")))
			config = v;
		else
			return bad_arg(argv[i]);
	}
	if (!message) {
		fprintf(stderr, "clawcgi: agent needs --message TEXT\n");
		return 2;
	}
	if (user && key) {
		fprintf(stderr, "clawcgi: give --user or --session-key, not both\n");
		return 2;
	}
	return cli_agent(config ? config : cfg_default_path(), agent, user, key, model, message);
}

/*
 * SIGTERM (the web server stopping, systemd) ends the process at once.
 * Installed before libfcgi initialises, which would otherwise catch it and
 * keep blocking in accept().
 */
static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int rc;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* a client gone shows as a failed write */
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc > 1 && !strcmp(argv[1], "serve")) {
		rc = cmd_serve(argc, argv);
	} else if (argc > 1 && !strcmp(argv[1], "agent")) {
		rc = cmd_agent(argc, argv);
	} else if (argc > 1 && (!strcmp(argv[1], "sessions") || !strcmp(argv[1], "keys") ||
				!strcmp(argv[1], "usage"))) {
		const char *config = cfg_default_path();
		int first = 2;
		if (argc > 3 && !strcmp(argv[2], "--config")) {
			config = argv[3];
			first = 4;
		}
		rc = (!strcmp(argv[1], "sessions") ? cli_sessions
		      : !strcmp(argv[1], "keys")   ? cli_keys
						   : cli_usage)(config, argc - first, argv + first);
	} else if (argc > 1 && !strcmp(argv[1], "store")) {
		rc = cli_store(argc - 2, argv + 2);
	} else if (argc > 1 && !strcmp(argv[1], "check-config")) {
		if (argc > 3)
			return bad_arg(argv[3]);
		rc = cli_check_config(argc > 2 ? argv[2] : cfg_default_path());
	} else if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
		printf("clawcgi %s\n", PACKAGE_VERSION);
		rc = 0;
	} else if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		rc = 0;
	} else if (argc > 1) {
		rc = bad_arg(argv[1]);
	} else if (serve_is_fastcgi()) {
		rc = run_server(0, NULL, 0); /* spawned with a listening socket on stdin */
	} else if (getenv("GATEWAY_INTERFACE")) {
		if (cfg_init(cfg_default_path()) < 0)
			log_error("no valid configuration: answering 500");
		rc = serve_cgi() < 0 ? 1 : 0;
		cfg_shutdown();
	} else {
		fputs(usage, stderr);
		rc = 2;
	}
	curl_unload();
	return rc;
}
