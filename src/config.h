/*
 * config.h - the typed configuration (SPEC.md section 1).
 *
 * A struct cfg is built once per change of the config file and is read-only
 * afterwards, so worker threads share it without locks.  Requests take a
 * reference with cfg_acquire() and drop it with cfg_release(); a reload
 * swaps the current pointer and the old snapshot is freed when its last
 * request ends.
 *
 * All strings inside a struct cfg belong to it.  Secrets (auth token,
 * password, provider API keys) are held here and nowhere else; nothing
 * prints them except check-config, masked.
 */
#ifndef CLAW_CONFIG_H
#define CLAW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* Set by the build from --sysconfdir / --localstatedir. */
#ifndef CLAWCGI_SYSCONFDIR
#define CLAWCGI_SYSCONFDIR "/etc"
#endif
#ifndef CLAWCGI_LOCALSTATEDIR
#define CLAWCGI_LOCALSTATEDIR "/var"
#endif

enum cfg_auth_mode {
	CFG_AUTH_TOKEN,
	CFG_AUTH_PASSWORD,
	CFG_AUTH_NONE,
};

enum cfg_api {
	CFG_API_OPENAI,    /* "openai-completions" */
	CFG_API_ANTHROPIC, /* "anthropic-messages" */
	CFG_API_COMMAND,   /* "command" */
	CFG_API_ECHO,      /* "echo" */
};

struct cfg_header {
	char *name;
	char *value;
};

struct cfg_provider {
	char *name;                 /* key in models.providers */
	enum cfg_api api;
	char *base_url;             /* http kinds; no trailing slash */
	char *api_key;              /* may be NULL (local servers) */
	char **command;             /* command kind: NULL-terminated argv */
	char **env;                 /* command kind: "NAME=value" list, NULL-terminated */
	struct cfg_header *headers; /* extra request headers */
	size_t nheaders;
	int timeout_seconds;         /* whole answer, default 600 */
	int connect_timeout_seconds; /* default 10 */
	int retries;                 /* default 1 */
	int max_tokens;              /* anthropic default max_tokens, 0 = built-in */
	bool used;                   /* named by some agent */
};

struct cfg_model {
	const struct cfg_provider *provider; /* points into cfg->providers */
	char *model;                         /* model id sent upstream */
};

struct cfg_agent {
	char *id;                 /* lower case, [a-z0-9][a-z0-9_-]{0,63} */
	char *name;               /* display name, may be NULL */
	char *system_prompt;      /* may be NULL */
	struct cfg_model model;   /* primary */
	struct cfg_model *fallbacks;
	size_t nfallbacks;
	int history_limit;        /* default 40 */
	bool is_default;
};

struct cfg {
	char *path;               /* the file it came from */

	enum cfg_auth_mode auth_mode;
	char *auth_secret;        /* token or password; NULL/"" = fail closed */
	const char *auth_setting; /* name of the setting the secret comes from */
	int rl_max_attempts;      /* gateway.auth.rateLimit, default 10 */
	long rl_window_ms;        /* default 60000 */
	long rl_lockout_ms;       /* default 300000 */
	bool rl_exempt_loopback;  /* default true */

	bool chat_enabled;        /* default false */
	long max_body_bytes;      /* default 20 MiB */
	int keepalive_seconds;    /* default 10, 0 = off */
	bool images_allow_url;    /* default false */

	struct cfg_agent *agents;
	size_t nagents;
	size_t default_agent;     /* index into agents */

	struct cfg_provider *providers;
	size_t nproviders;

	char *store_path;         /* session.store */
	int ttl_days;             /* session.ttlDays, default 30 */

	int threads;              /* server.threads, 0 = not set */

	int refs;                 /* owned by cfg_acquire/cfg_release */
};

/*
 * Parse and validate the file at path.  On success *out is a new snapshot
 * (refs = 1).  On failure returns -1 and writes "file:line: reason" into
 * errbuf.
 */
int cfg_load(const char *path, struct cfg **out, char *errbuf, size_t errlen);

/* Same, from text in memory (name is used in messages); for tests. */
int cfg_load_text(const char *name, const char *text, size_t len,
		  struct cfg **out, char *errbuf, size_t errlen);

void cfg_free(struct cfg *c);

/* The config path: $CLAWCGI_CONFIG, else the compiled-in default. */
const char *cfg_default_path(void);

/*
 * Process-wide current config.  cfg_init() loads it once at start (a broken
 * file is logged; requests then get 500 until it is fixed).  cfg_acquire()
 * re-reads the file when its mtime, size or inode changed (a broken new file
 * keeps the last good config and is logged once per change) and returns a
 * referenced snapshot, or NULL when no valid config was ever loaded.
 */
int cfg_init(const char *path);
struct cfg *cfg_acquire(void);
/* Why the last attempt to load the file failed (for a log line with each
 * request answered 500 for want of a config: a process whose start-up lines
 * went nowhere, as under spawn-fcgi, still shows the reason). */
void cfg_last_error(char *buf, size_t n);
void cfg_release(struct cfg *c);
void cfg_shutdown(void);

/* The agent id rule: 1-64 ASCII letters, digits, '_' or '-', starting with
 * a letter or digit; compared lower-cased. */
#define CFG_AGENT_ID_MAX 64

/*
 * When s (n bytes, need not be NUL-terminated) is a valid agent id:
 * returns 1 and, when id is non-NULL, writes it lower-cased there.  Else 0.
 */
int cfg_agent_id(const char *s, size_t n, char id[CFG_AGENT_ID_MAX + 1]);

/* Results of cfg_model_ref besides 0. */
#define CFG_MODEL_MALFORMED (-1)        /* not "provider/model-id" */
#define CFG_MODEL_UNKNOWN_PROVIDER (-2) /* no such entry in models.providers */

/*
 * The one parser of "provider/model-id" (agents' models, the
 * x-openclaw-model header, --model): the provider part names an entry of
 * c's providers, the rest (non-empty) is the model id sent upstream.
 * Returns 0 with *provider and *model_id (pointing into s), or one of the
 * CFG_MODEL_* codes.
 */
int cfg_model_ref(const struct cfg *c, const char *s, const struct cfg_provider **provider,
		  const char **model_id);

/* Lookup helpers; NULL when absent.  Agent ids are compared lower-cased. */
const struct cfg_agent *cfg_find_agent(const struct cfg *c, const char *id);
const struct cfg_provider *cfg_find_provider(const struct cfg *c, const char *name);

const char *cfg_api_name(enum cfg_api api);
const char *cfg_auth_mode_name(enum cfg_auth_mode m);

/* Print agents and providers with secrets masked (check-config). */
void cfg_print(const struct cfg *c, FILE *out);

#endif
