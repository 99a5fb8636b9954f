/*
 * auth.c - bearer token / password check.
 *
 * Token and password modes differ only in which secret is compared: both
 * arrive as "Authorization: Bearer <secret>", as in OpenClaw.
 */
#include "auth.h"

#include <strings.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

const char *auth_bearer(const char *header, size_t *len)
{
	const char *p, *end;

	if (!header)
		return NULL;
	p = header;
	while (is_space(*p))
		p++;
	if (strncasecmp(p, "bearer", 6) || !is_space(p[6]))
		return NULL;
	p += 6;
	while (is_space(*p))
		p++;
	end = p + strlen(p);
	while (end > p && is_space(end[-1]))
		end--;
	if (end == p)
		return NULL;
	*len = (size_t)(end - p);
	return p;
}

bool auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen > blen ? alen : blen;
	unsigned char diff = alen != blen;

	/* Walk the longer length on both sides; reads past an end wrap to 0. */
	for (size_t i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;
		diff |= x ^ y;
	}
	return diff == 0;
}

int auth_check(const struct cfg *c, const char *authorization, struct err *e)
{
	const char *secret;
	size_t len;

	if (c->auth.mode == CFG_AUTH_NONE)
		return 0;
	if (!c->auth.secret || !c->auth.secret[0]) {
		log_error("auth mode is %s but no secret is configured: set %s "
			  "(refusing every request)",
			  cfg_auth_mode_name(c->auth.mode), c->auth.setting);
		err_set(e, 500, ERR_API, "The server's authentication is not configured.");
		return -1;
	}
	secret = auth_bearer(authorization, &len);
	if (!secret || !auth_equal(secret, len, c->auth.secret, strlen(c->auth.secret))) {
		err_set(e, 401, ERR_UNAUTHORIZED, "Unauthorized");
		return -1;
	}
	return 0;
}

bool auth_is_loopback(const char *addr)
{
	if (!addr)
		return false;
	if (!strncasecmp(addr, "::ffff:", 7))
		addr += 7;
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1");
}

int auth_check_throttled(const struct cfg *c, struct store *store, const char *addr,
			 const char *authorization, long *retry_after, struct err *e)
{
	long long retry = 0;
	struct err se;

	*retry_after = 0;
	if (c->auth.mode == CFG_AUTH_NONE || !addr || !addr[0] ||
	    (c->auth.rate_limit.exempt_loopback && auth_is_loopback(addr)))
		store = NULL;
	if (store && store_auth_locked(store, addr, clock_wall_ms(), &retry, &se) == 0 &&
	    retry > 0) {
		*retry_after = (long)((retry + 999) / 1000);
		err_set(e, 429, ERR_RATE_LIMITED,
			"Too many failed authentication attempts. Please try again later.");
		return -1;
	}
	if (auth_check(c, authorization, e) == 0)
		return 0;
	if (e->status == 401)
		metrics_note_auth_failure();
	if (store && e->status == 401) {
		if (store_auth_failed(store, addr, clock_wall_ms(), c->auth.rate_limit.max_attempts,
				      c->auth.rate_limit.window_ms, c->auth.rate_limit.lockout_ms,
				      &retry, &se) < 0)
			log_error("auth throttling unavailable: %s", se.message);
		else if (retry > 0) {
			metrics_note_auth_lockout();
			log_warn("auth: %s locked out for %ld s after %d failed attempts", addr,
				 (long)((retry + 999) / 1000), c->auth.rate_limit.max_attempts);
		}
	}
	return -1;
}
