/*
 * config_read.h - reading the config file's JSON5 tree into typed values,
 * with "file:line: reason" messages; shared by the config*.c files only.
 *
 * Each cfgr_* reader takes a parent object and a key: an absent or null
 * member leaves *out as it is (the default); a member of the wrong type
 * or out of range fails, naming path (the member's dotted name, e.g.
 * "gateway.auth.rateLimit.windowMs").  The first failure is the one
 * reported; later calls after one return -1 at once.
 */
#ifndef CLAW_CONFIG_READ_H
#define CLAW_CONFIG_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "json5.h"

/* Room for a deferred "${VAR} is not set" message (see cfgr_string). */
#define CFGR_PENDING_MAX 512

struct cfg_reader {
	const char *name;	  /* the file, for messages */
	struct json5_lines lines; /* source line of each node */
	char *err;		  /* the caller's message buffer */
	size_t errlen;
	bool failed; /* err holds the first failure */
};

/* Record "name:line: <fmt>" for node (NULL: no line).  Returns -1. */
int cfgr_fail(struct cfg_reader *L, const cJSON *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Replace each ${NAME} in s by the environment variable NAME.  Returns a new
 * string, or NULL with the first unset name copied into missing (or
 * missing[0] == 0 when out of memory).
 */
char *cfgr_subst_env(const char *s, char *missing, size_t mlen);

/* A member that must be an object if present; *out is NULL when absent. */
int cfgr_object(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path,
		const cJSON **out);
int cfgr_bool(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path,
	      bool *out);
/* A whole number from min to max. */
int cfgr_long(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path,
	      long min, long max, long *out);
int cfgr_int(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path, long min,
	     long max, int *out);

/*
 * A string member, ${VAR}-substituted, replacing *out (freed).  When
 * pending is non-NULL an unset variable is not an error yet: the message
 * goes into pending (CFGR_PENDING_MAX bytes; the first one only) and *out
 * stays as it was, for values that matter only if used.
 */
int cfgr_string(struct cfg_reader *L, const cJSON *parent, const char *key, const char *path,
		char **out, char *pending);

/* The same message for a value of node found unset as it is read. */
void cfgr_defer(struct cfg_reader *L, const cJSON *node, const char *path, const char *missing,
		char *pending);

#endif
