/*
 * cli.h - the command-line subcommands (SPEC.md section 9) other than
 * serving.  Each returns the process exit status.
 */
#ifndef CLAW_CLI_H
#define CLAW_CLI_H

/* For the commands that use the store: load the config at config_path and
 * open its session store.  0 with both (the caller closes and frees them),
 * or -1 with the reason printed on stderr (the store's password masked). */
struct cfg;
struct store;
int cli_open(const char *config_path, struct cfg **c, struct store **st);

/* clawcgi check-config [FILE] */
int cli_check_config(const char *path);

/* clawcgi agent [--agent ID] [--user U | --session-key K] [--model P/M] --message TEXT
 * (agent_id etc. NULL when not given) */
int cli_agent(const char *config_path, const char *agent_id, const char *user,
	      const char *session_key, const char *model, const char *message);

/*
 * clawcgi sessions list [--agent ID] | show KEY | delete KEY
 *                 | purge --older-than DAYS
 * args are what follows "sessions".
 */
int cli_sessions(const char *config_path, int argc, char **argv);

/*
 * clawcgi store migrate --from sqlite:PATH --to postgresql://...
 * args are what follows "store".  Copies sessions, messages and response
 * ids; idempotent; prints the counts.
 */
int cli_store(int argc, char **argv);

/*
 * clawcgi keys create --name NAME [--agents ID,ID] [--rpm N] [--tpm N]
 *                     [--expires DAYS] | list | revoke NAME
 *                     | rotate NAME [--expires DAYS]
 * (cli_keys.c).  args are what follows "keys" (and --config FILE).
 */
int cli_keys(const char *config_path, int argc, char **argv);

/*
 * clawcgi usage [--since DATE] [--until DATE] [--by agent|key|user|model|day]
 * [--json] (cli_usage.c).  args are what follows "usage" (and --config FILE).
 */
int cli_usage(const char *config_path, int argc, char **argv);

#endif
