/*
 * auth.h - checking the gateway's credentials (SPEC.md section 3), and
 * throttling failed attempts per client address.  The throttle's state
 * lives in the session store, so every worker process shares it.
 */
#ifndef CLAW_AUTH_H
#define CLAW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "config.h"
#include "store.h"

/*
 * Check an Authorization header value (NULL when absent) against the
 * config.  Returns 0 when allowed; -1 with e set to 401 (wrong or missing
 * credentials) or 500 (the configured mode has no secret: fails closed,
 * and the missing setting is logged, never put in e).
 */
int auth_check(const struct cfg *c, const char *authorization, struct err *e);

/*
 * auth_check with throttling: an address locked out gets 429 rate_limited
 * (even with the right credentials) and *retry_after seconds; a failure is
 * counted in store (NULL: no throttling).  Loopback addresses are exempt
 * unless the config says otherwise.  A store error does not lock anyone out
 * (logged; the check itself still runs).
 */
int auth_check_throttled(const struct cfg *c, struct store *store, const char *addr,
			 const char *authorization, long *retry_after, struct err *e);

/* 127.0.0.0/8, ::1 and ::ffff:127.x.x.x */
bool auth_is_loopback(const char *addr);

/*
 * The secret of "Bearer <secret>": scheme case-insensitive, spaces around
 * trimmed.  Returns a pointer into header and its length in *len, or NULL
 * when the header is not a Bearer credential or the secret is empty.
 */
const char *auth_bearer(const char *header, size_t *len);

/* Compare in time that depends only on the lengths' maximum, not content. */
bool auth_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
