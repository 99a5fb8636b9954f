/*
 * store_pg.h - what the PostgreSQL backend offers besides store.h's ops:
 * checks of a connection string (store.c), and copying a session in whole
 * (clawcgi store migrate, store_copy.c).  Declared in every build; a build
 * without libpq has store.c's stand-ins for the first two only.
 */
#ifndef CLAW_STORE_PG_H
#define CLAW_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

/* Whether libpq can read conninfo (a URL or the keyword form): 0, or -1
 * with why filled (a sentence naming what is wrong, never the password). */
int store_pg_check(const char *conninfo, char *why, size_t whylen);

/* Connect and disconnect (check-config): 0 with "connects (server
 * version ...)" in msg, or -1 with libpq's reason. */
int store_pg_probe(const char *conninfo, char *msg, size_t msglen);

/* One stored message as the tables hold it; the strings are the caller's. */
struct store_import_message {
	long long seq;
	const char *role;
	const char *message; /* the OpenAI message as JSON text */
	const char *run_id;
	long long created;	     /* seconds since the epoch */
	bool has_tokens;	     /* false: the token counts are NULL */
	long long prompt_tokens;     /* only with has_tokens */
	long long completion_tokens; /* only with has_tokens */
	bool interrupted;
};

/* One stored response (the Responses API's). */
struct store_import_response {
	const char *id;
	long long last_seq;
	long long created;
	const char *body; /* the response object as JSON text */
};

/* A session with its messages and responses. */
struct store_import_session {
	const char *agent_id;
	const char *session_key;
	long long created, last_used;
	const struct store_import_message *messages;
	size_t nmessages;
	const struct store_import_response *responses;
	size_t nresponses;
};

/* Rows written by store_pg_import_session (those already there are
 * counted in neither). */
struct store_import_counts {
	long sessions, messages, responses;
};

/*
 * Write in one transaction, keeping every row already there (same session,
 * same seq, same response id): so a copy run twice writes nothing the
 * second time.  added gets what was new.  s must be a PostgreSQL store.
 */
int store_pg_import_session(struct store *s, const struct store_import_session *in,
			    struct store_import_counts *added, struct err *e);

#endif
