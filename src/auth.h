/*
 * auth.h - checking the gateway's credentials (SPEC.md section 3).
 *
 * Failed-attempt throttling comes with the session store, which is where
 * its state lives (shared by every worker process).
 */
#ifndef CLAW_AUTH_H
#define CLAW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

/*
 * Check an Authorization header value (NULL when absent) against the
 * config.  Returns 0 when allowed; -1 with e set to 401 (wrong or missing
 * credentials) or 500 (the configured mode has no secret: fails closed,
 * and the missing setting is logged, never put in e).
 */
int auth_check(const struct cfg *c, const char *authorization, struct err *e);

/*
 * The secret of "Bearer <secret>": scheme case-insensitive, spaces around
 * trimmed.  Returns a pointer into header and its length in *len, or NULL
 * when the header is not a Bearer credential or the secret is empty.
 */
const char *auth_bearer(const char *header, size_t *len);

/* Compare in time that depends only on the lengths' maximum, not content. */
bool auth_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
