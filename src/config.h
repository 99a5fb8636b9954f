/*
 * config.h - the typed configuration (SPEC.md section 1).
 *
 * A struct cfg is built once per change of the config file and is read-only
 * afterwards, so worker threads share it without locks.  Which snapshot is
 * current, and its reload, is config_live.h's.
 *
 * All strings inside a struct cfg belong to it.  Secrets (auth token,
 * password, provider API keys) are held here and, for masking, in mask.c's
 * process-wide set (a config that loads installs its secrets there); nothing
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
	CFG_AUTH_KEYS,	      /* client keys from the store; the token, if set, is the operator's */
	CFG_AUTH_REMOTE_USER, /* the web server's REMOTE_USER (FastCGI/CGI param) */
};

enum cfg_api {
	CFG_API_OPENAI,	   /* "openai-completions" */
	CFG_API_ANTHROPIC, /* "anthropic-messages" */
	CFG_API_COMMAND,   /* "command" */
	CFG_API_ECHO,	   /* "echo" */
};

struct cfg_header {
	char *name;
	char *value;
};

struct cfg_provider {
	char *name; /* key in models.providers */
	enum cfg_api api;
	char *base_url;		    /* http kinds; no trailing slash */
	char *api_key;		    /* may be NULL (local servers) */
	char **command;		    /* command kind: NULL-terminated argv */
	char **env;		    /* command kind: "NAME=value" list, NULL-terminated */
	struct cfg_header *headers; /* extra request headers */
	size_t nheaders;
	int timeout_seconds;	     /* timeoutSeconds: the whole answer */
	int connect_timeout_seconds; /* connectTimeoutSeconds */
	int retries;		     /* retries after the first attempt */
	int max_tokens;		     /* anthropic maxTokens, 0 = the built-in default */
	bool used;		     /* named by some agent */
};

struct cfg_model {
	const struct cfg_provider *provider; /* points into cfg->providers */
	char *model;			     /* model id sent upstream */
};

struct cfg_agent {
	char *id;		/* lower case, [a-z0-9][a-z0-9_-]{0,63} */
	char *name;		/* display name, may be NULL */
	char *system_prompt;	/* may be NULL */
	struct cfg_model model; /* primary */
	struct cfg_model *fallbacks;
	size_t nfallbacks;
	int history_limit; /* historyLimit: stored messages sent along */
	bool is_default;
	struct cfg_model embedding_model; /* embeddingModel; provider NULL when none */
};

/* gateway.auth.rateLimit: failed attempts per client address. */
struct cfg_rate_limit {
	int max_attempts;     /* maxAttempts */
	long window_ms;	      /* windowMs */
	long lockout_ms;      /* lockoutMs */
	bool exempt_loopback; /* exemptLoopback */
};

/* gateway.auth.users.NAME (remote-user mode): a user's agents and
 * limits; the entry "*" is every user not listed.  A name is at most
 * CFG_USER_NAME_MAX bytes (auth.c refuses a longer REMOTE_USER). */
#define CFG_USER_NAME_MAX 128
struct cfg_user {
	char *name;
	char *agents; /* agent ids joined by ',' ("" = every agent) */
	long rpm;     /* requests per minute, 0 = no limit */
	long tpm;     /* tokens per minute, 0 = no limit */
};

/* gateway.auth */
struct cfg_auth {
	enum cfg_auth_mode mode;
	char *secret;	     /* token or password; NULL/"" = fail closed (in keys
			      * mode: no operator key, client keys only) */
	const char *setting; /* name of the setting the secret comes from */
	struct cfg_rate_limit rate_limit;
	struct cfg_user *users; /* users (remote-user mode) */
	size_t nusers;
};

/* gateway.http.endpoints.chatCompletions */
struct cfg_chat {
	bool enabled;
	long max_body_bytes;	  /* maxBodyBytes */
	int body_timeout_seconds; /* bodyTimeoutSeconds, 0 = no limit */
	int keepalive_seconds;	  /* keepAliveSeconds, 0 = off */
	bool images_allow_url;	  /* images.allowUrl */
};

/* gateway.http.endpoints.responses (its body deadline and keep-alive are
 * chatCompletions') */
struct cfg_responses {
	bool enabled;	     /* default false: 404 */
	long max_body_bytes; /* maxBodyBytes */
};

/* gateway.http.endpoints.metrics */
struct cfg_metrics {
	bool enabled; /* default false: 404 */
};

/* gateway.http.cors */
struct cfg_cors {
	char **allowed_origins; /* allowedOrigins: "scheme://host[:port]" lower-cased, or "*" */
	size_t n_allowed_origins;
};

/* session */
struct cfg_session {
	char *store;  /* store: a SQLite file's absolute path or a PostgreSQL
		       * connection string (store_resolve); may hold a password */
	int ttl_days; /* ttlDays, 0 = never expire */
	/* lockWaitSeconds: how long a turn waits for its session while
	 * another turn holds it, then 409 (0 = not at all); default 30 */
	int lock_wait_seconds;
};

/* usage: the usage log */
struct cfg_usage {
	bool enabled;	    /* default true */
	int retention_days; /* retentionDays, default 90; 0 = keep forever */
};

/* server */
struct cfg_server {
	int threads; /* worker threads per process, 0 = not set */
};

/* The whole file, grouped as its JSON5 sections are; defaults in config.c
 * and config_provider.c. */
struct cfg {
	char *path;			/* the file it came from */
	struct cfg_auth auth;		/* gateway.auth */
	struct cfg_chat chat;		/* gateway.http.endpoints.chatCompletions */
	struct cfg_responses responses; /* gateway.http.endpoints.responses */
	struct cfg_metrics metrics;	/* gateway.http.endpoints.metrics */
	struct cfg_cors cors;		/* gateway.http.cors */
	struct cfg_agent *agents;	/* agents.list, or the one agent "main" */
	size_t nagents;
	size_t default_agent;		/* index into agents */
	struct cfg_provider *providers; /* models.providers */
	size_t nproviders;
	struct cfg_session session;
	struct cfg_usage usage;
	struct cfg_server server;
	int refs; /* owned by cfg_acquire/cfg_release (config_live.c) */
};

/* Room for a load error message ("file:line: reason"). */
#define CFG_ERR_MAX 600

/*
 * Parse and validate the file at path.  On success *out is a new snapshot
 * (refs = 1), and its secrets are added to the process-wide mask set
 * (mask_install), so no message or log line shows them from then on.  On
 * failure returns -1 and writes "file:line: reason" into errbuf (a syntax
 * error names the line, column and kind of token, never its text).
 */
int cfg_load(const char *path, struct cfg **out, char *errbuf, size_t errlen);

/* Same, from text in memory (name is used in messages); for tests. */
int cfg_load_text(const char *name, const char *text, size_t len, struct cfg **out, char *errbuf,
		  size_t errlen);

void cfg_free(struct cfg *c);

/* The config path: $CLAWCGI_CONFIG, else the compiled-in default. */
const char *cfg_default_path(void);

/* The agent id rule: 1-64 ASCII letters, digits, '_' or '-', starting with
 * a letter or digit; compared lower-cased. */
#define CFG_AGENT_ID_MAX 64

/*
 * When s (n bytes, need not be NUL-terminated) is a valid agent id:
 * returns 1 and, when id is non-NULL, writes it lower-cased there.  Else 0.
 */
int cfg_agent_id(const char *s, size_t n, char id[CFG_AGENT_ID_MAX + 1]);

/* Results of cfg_model_ref besides 0. */
#define CFG_MODEL_MALFORMED (-1)	/* not "provider/model-id" */
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

/*
 * The Access-Control-Allow-Origin value for a request's Origin header
 * (the Fetch standard's CORS protocol): "*" when allowedOrigins holds "*",
 * origin itself when listed (compared case-insensitively), else NULL (also
 * for a NULL origin).
 */
const char *cfg_cors_allow(const struct cfg *c, const char *origin);

/* Lookup helpers; NULL when absent.  Agent ids are compared lower-cased. */
const struct cfg_agent *cfg_find_agent(const struct cfg *c, const char *id);
const struct cfg_provider *cfg_find_provider(const struct cfg *c, const char *name);
/* gateway.auth.users' entry for a remote user: its own, else "*"'s, else
 * NULL (every agent, no limits). */
const struct cfg_user *cfg_find_user(const struct cfg *c, const char *name);

/* The config names: "openai-completions", ... (config_provider.c's table;
 * "?" for a value outside it) and "token", "password", "none", "keys", "remote-user". */
const char *cfg_api_name(enum cfg_api api);
const char *cfg_auth_mode_name(enum cfg_auth_mode m);

/* Print agents and providers with secrets masked (check-config). */
void cfg_print(const struct cfg *c, FILE *out);

#endif
