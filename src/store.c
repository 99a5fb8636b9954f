/*
 * store.c - store strings (session.store, clawcgi store migrate): read
 * strictly, shown without their password, opened by the backend they name.
 *
 * The backends themselves are store_sqlite_pool.c (with store_sqlite.c)
 * and store_pg.c; nothing here talks to a database except store_probe,
 * which check-config uses to say whether the store can be reached.  Also
 * what the backends share: the failed-auth throttle's arithmetic, and the
 * wait for a session's lock around their one-shot tries.
 */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "mask.h"
#include "store_pg.h"

#define MASK "******"

long long store_auth_step(long long v[3], long long now_ms, int max, long window_ms,
			  long lockout_ms)
{
	if (v[0] + window_ms <= now_ms) { /* a new window */
		v[0] = now_ms;
		v[1] = 0;
	}
	v[1]++;
	if (v[1] >= max && v[2] <= now_ms) {
		v[2] = now_ms + lockout_ms;
		v[0] = now_ms; /* counting starts afresh after the lockout */
		v[1] = 0;
	}
	return v[2] > now_ms ? v[2] - now_ms : 0;
}

long long store_session_hash(const char *agent_id, const char *key)
{
	unsigned long long h = 14695981039346656037ULL;

	for (const char *p = agent_id;; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		if (!*p)
			break;
	}
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (long long)(h & 0x7fffffffffffffffULL);
}

/*
 * Between tries: 1 ms, doubling to 4 ms for the first second (a turn
 * handed on between processes waits no more than that), then to 32 ms, so
 * a long one costs a few tries a second.  A waiter
 * sleeps on wake_cond rather than blindly: a turn of this process that
 * lets go of a session while any thread waits wakes them all to try again
 * (wake_gen counts those lets-go), so a session handed between the threads
 * of one process waits for no timer; one let go by another process (or
 * host) is found by the next try.  Without waiters, letting go costs one
 * atomic read.
 */
#define LOCK_POLL_MIN_US 1000
#define LOCK_POLL_MAX_US 32000
#define LOCK_POLL_FAST_MAX_US 4000
#define LOCK_FAST_MS 1000
#define LOCK_STOP_EVERY_MS 250

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static unsigned long wake_gen;
static atomic_int wake_waiters;

static void wake_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&wake_cond, &a);
	pthread_condattr_destroy(&a);
}

static unsigned long wake_seen(void)
{
	unsigned long g;

	pthread_mutex_lock(&wake_lock);
	g = wake_gen;
	pthread_mutex_unlock(&wake_lock);
	return g;
}

/* Sleep us microseconds, or less when a session is let go after seen. */
static void wake_wait(unsigned long seen, long us)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += us * 1000;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	pthread_mutex_lock(&wake_lock);
	while (wake_gen == seen &&
	       pthread_cond_timedwait(&wake_cond, &wake_lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&wake_lock);
}

int store_session_lock(struct store *s, const char *agent_id, const char *key, int wait_seconds,
		       int (*stop)(void *ctx), void *ctx, struct store_lock *l, struct err *e)
{
	long long start = clock_mono_ms(), asked = start, now;
	long pause = LOCK_POLL_MIN_US;
	unsigned long seen = 0;
	bool waiting = false;
	int rc;

	memset(l, 0, sizeof *l);
	l->fd = -1;
	if (!s->ops->session_trylock)
		return 0;
	l->key = store_session_hash(agent_id, key);
	while ((rc = s->ops->session_trylock(s, l, e)) == 1) {
		if (!waiting) {
			pthread_once(&wake_once, wake_init);
			atomic_fetch_add(&wake_waiters, 1);
			waiting = true;
			seen = wake_seen();
			continue; /* a let-go before we counted ourselves: try again */
		}
		now = clock_mono_ms();
		if (now - start >= (long long)wait_seconds * 1000) {
			rc = 1;
			break;
		}
		if (stop && now - asked >= LOCK_STOP_EVERY_MS) {
			asked = now;
			if (stop(ctx) < 0) {
				rc = 2;
				break;
			}
		}
		wake_wait(seen, pause);
		seen = wake_seen();
		if (pause < (now - start < LOCK_FAST_MS ? LOCK_POLL_FAST_MAX_US : LOCK_POLL_MAX_US))
			pause *= 2;
	}
	if (waiting)
		atomic_fetch_sub(&wake_waiters, 1);
	if (rc == 0) {
		l->store = s;
		l->ops = s->ops;
	}
	return rc;
}

void store_session_unlock(struct store_lock *l)
{
	if (l->store) {
		l->ops->session_unlock(l->store, l);
		if (atomic_load(&wake_waiters) > 0) {
			pthread_mutex_lock(&wake_lock);
			wake_gen++;
			pthread_cond_broadcast(&wake_cond);
			pthread_mutex_unlock(&wake_lock);
		}
	}
	memset(l, 0, sizeof *l);
	l->fd = -1;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_pg_url(const char *s)
{
	return has_prefix(s, "postgresql://") || has_prefix(s, "postgres://");
}

/* "word =" at the start: libpq's keyword form (host=... dbname=...). */
static bool is_pg_keywords(const char *s)
{
	const char *p = s;

	while (isspace((unsigned char)*p))
		p++;
	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '=';
}

/* The length of "scheme://" at the start of s (RFC 3986 scheme), or 0. */
static size_t url_scheme_len(const char *s)
{
	const char *p = s;

	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	return has_prefix(p, "://") ? (size_t)(p - s) : 0;
}

enum store_kind store_kind_of(const char *spec)
{
	return is_pg_url(spec) || is_pg_keywords(spec) ? STORE_POSTGRESQL : STORE_SQLITE;
}

bool store_postgresql_built(void)
{
#ifdef HAVE_POSTGRESQL
	return true;
#else
	return false;
#endif
}

/* ---- masking ---- */

/* A password as a secret to mask (mask.h): as written in spec, and as libpq
 * reads it (percent-decoded in a URL, unquoted in the keyword form), since a
 * message may quote either. */
static int add_password(struct mask_set *found, const char *p, size_t n, bool url)
{
	struct buf plain = BUF_INIT;
	int rc;

	if (!found)
		return 0;
	if (mask_set_add(found, p, n) < 0)
		return -1;
	if (!url && n && p[0] == '\'') { /* 'quoted', the closing quote may be missing */
		p++, n--;
		if (n && p[n - 1] == '\'')
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (url && c == '%' && i + 2 < n && isxdigit((unsigned char)p[i + 1]) &&
		    isxdigit((unsigned char)p[i + 2])) {
			char hex[3] = {p[i + 1], p[i + 2], 0};
			c = (char)strtol(hex, NULL, 16);
			i += 2;
		} else if (!url && c == '\\' && i + 1 < n) {
			c = p[++i];
		}
		if (buf_append(&plain, &c, 1) < 0) {
			buf_free(&plain);
			return -1;
		}
	}
	rc = mask_set_add(found, plain.data, plain.len);
	buf_free(&plain);
	return rc;
}

/* Append spec to out with [from, to) of each password span masked, and add
 * each password to found (when not NULL).  The spans: a URL's
 * "user:PASSWORD@", a URL's "password=VALUE" parameter, and the keyword
 * form's password=VALUE (quoted or not). */
static int mask_into(struct buf *out, const char *spec, struct mask_set *found)
{
	const char *p = spec, *end = spec + strlen(spec);

	if (is_pg_url(spec)) {
		const char *auth = strstr(spec, "://") + 3, *q = auth, *colon = NULL;
		while (*q && *q != '@' && *q != '/')
			q++;
		if (*q == '@') {
			for (const char *c = auth; c < q; c++)
				if (*c == ':') {
					colon = c;
					break;
				}
		}
		if (colon) {
			if (add_password(found, colon + 1, (size_t)(q - colon - 1), true) < 0 ||
			    buf_append(out, spec, (size_t)(colon + 1 - spec)) < 0 ||
			    buf_append_str(out, MASK) < 0)
				return -1;
			p = q;
		}
		/* query parameters: ?a=b&password=...&c=d */
		for (const char *qm = strchr(p, '?'); qm && *qm;) {
			const char *param = qm + 1, *stop = strchr(param, '&');
			if (!stop)
				stop = end;
			if (has_prefix(param, "password=")) {
				param += strlen("password=");
				if (add_password(found, param, (size_t)(stop - param), true) < 0 ||
				    buf_append(out, p, (size_t)(param - p)) < 0 ||
				    buf_append_str(out, MASK) < 0)
					return -1;
				p = stop;
			}
			qm = *stop ? stop : NULL;
		}
		return buf_append(out, p, (size_t)(end - p)) < 0 ? -1 : 0;
	}
	/* keyword form: key = value, value 'quoted with \' escapes' or bare */
	while (*p) {
		const char *key = p, *v;
		size_t keylen;
		while (isspace((unsigned char)*key))
			key++;
		v = key;
		while (isalnum((unsigned char)*v) || *v == '_')
			v++;
		keylen = (size_t)(v - key);
		while (isspace((unsigned char)*v))
			v++;
		if (*v != '=') /* not the keyword form after all: shown as is */
			return buf_append(out, p, (size_t)(end - p)) < 0 ? -1 : 0;
		v++;
		while (isspace((unsigned char)*v))
			v++;
		const char *ve = v;
		if (*ve == '\'') {
			for (ve++; *ve && *ve != '\''; ve++)
				if (*ve == '\\' && ve[1])
					ve++;
			if (*ve)
				ve++;
		} else {
			while (*ve && !isspace((unsigned char)*ve))
				ve++;
		}
		if (keylen == 8 && !strncmp(key, "password", 8)) {
			if (add_password(found, v, (size_t)(ve - v), false) < 0 ||
			    buf_append(out, p, (size_t)(v - p)) < 0 ||
			    buf_append_str(out, MASK) < 0)
				return -1;
		} else if (buf_append(out, p, (size_t)(ve - p)) < 0) {
			return -1;
		}
		p = ve;
	}
	return 0;
}

char *store_display(const char *spec)
{
	struct buf out = BUF_INIT;

	if (store_kind_of(spec) == STORE_SQLITE)
		return strdup(spec);
	if (mask_into(&out, spec, NULL) < 0 || buf_append(&out, "", 0) < 0) {
		buf_free(&out);
		return NULL;
	}
	return buf_detach(&out);
}

int store_secrets(const char *spec, struct mask_set *found)
{
	struct buf out = BUF_INIT;
	int rc = 0;

	if (spec && store_kind_of(spec) == STORE_POSTGRESQL)
		rc = mask_into(&out, spec, found);
	buf_free(&out);
	return rc;
}

/* ---- reading a store string ---- */

/* path made absolute against the folder of config_path (or the working
 * directory). */
static char *absolute(const char *path, const char *config_path)
{
	struct buf out = BUF_INIT;
	char *copy = NULL, cwd[4096];
	const char *dir;

	if (path[0] == '/')
		return strdup(path);
	if (config_path && (copy = strdup(config_path)) == NULL)
		return NULL;
	dir = copy ? dirname(copy) : ".";
	if (dir[0] != '/') {
		if (!getcwd(cwd, sizeof cwd))
			goto fail;
		if (buf_append_str(&out, cwd) < 0 || buf_append_str(&out, "/") < 0)
			goto fail;
	}
	if (strcmp(dir, ".") && (buf_append_str(&out, dir) < 0 || buf_append_str(&out, "/") < 0))
		goto fail;
	while (has_prefix(path, "./"))
		path += 2;
	if (buf_append_str(&out, path) < 0)
		goto fail;
	free(copy);
	return buf_detach(&out);
fail:
	free(copy);
	buf_free(&out);
	return NULL;
}

int store_resolve(const char *spec, const char *config_path, char **out, enum store_kind *kind,
		  char *why, size_t whylen)
{
	size_t scheme;

	*out = NULL;
	why[0] = '\0';
	if (!spec[0]) {
		snprintf(why, whylen, "is empty: give a file path or a postgresql:// URL");
		return -1;
	}
	if (is_pg_url(spec) || is_pg_keywords(spec)) {
		*kind = STORE_POSTGRESQL;
		if (!store_postgresql_built()) {
			snprintf(why, whylen,
				 "names a PostgreSQL database, but this clawcgi was built without "
				 "PostgreSQL (configure found no libpq, or --without-postgresql)");
			return -1;
		}
		if (store_pg_check(spec, why, whylen) < 0)
			return -1;
		*out = strdup(spec);
	} else if ((scheme = url_scheme_len(spec)) > 0) {
		snprintf(why, whylen,
			 "has an unknown scheme \"%.*s://\": use a file path, sqlite:PATH or "
			 "postgresql://...",
			 (int)(scheme > 20 ? 20 : scheme), spec);
		return -1;
	} else {
		*kind = STORE_SQLITE;
		if (has_prefix(spec, "sqlite:"))
			spec += strlen("sqlite:");
		if (!spec[0]) {
			snprintf(why, whylen, "names no file after sqlite:");
			return -1;
		}
		*out = absolute(spec, config_path);
	}
	if (!*out) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- opening ---- */

int store_open(const char *spec, struct store **out, struct err *e)
{
	if (store_kind_of(spec) == STORE_POSTGRESQL)
		return store_open_postgresql(spec, out, e);
	if (has_prefix(spec, "sqlite:"))
		spec += strlen("sqlite:");
	return store_open_sqlite(spec, out, e);
}

int store_probe(const char *spec, char *msg, size_t msglen)
{
	char *dir, *copy;
	int rc;

	if (store_kind_of(spec) == STORE_POSTGRESQL)
		return store_pg_probe(spec, msg, msglen);
	if (has_prefix(spec, "sqlite:"))
		spec += strlen("sqlite:");
	if (access(spec, F_OK) == 0) {
		int have = store_sqlite_file_schema(spec), want = STORE_SQLITE_SCHEMA;
		rc = access(spec, R_OK | W_OK);
		if (rc < 0)
			snprintf(msg, msglen, "the file exists but is not writable by this user");
		else if (have > want) {
			snprintf(msg, msglen,
				 "the file's schema version %d is newer than this clawcgi's (%d): "
				 "it will refuse the file",
				 have, want);
			rc = -1;
		} else if (have > 0 && have < want)
			snprintf(msg, msglen,
				 "the file exists and is writable, at schema version %d: opening "
				 "it upgrades it to %d, which older releases refuse (README, "
				 "Sessions: copy it first)",
				 have, want);
		else if (have == want)
			snprintf(msg, msglen,
				 "the file exists and is writable, at schema version %d", have);
		else
			snprintf(msg, msglen, "the file exists and is writable");
		return rc == 0 ? 0 : -1;
	}
	/* not there yet: the first folder up that exists must let it be made */
	if (!(copy = strdup(spec))) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	dir = dirname(copy);
	while (access(dir, F_OK) < 0 && strcmp(dir, "/") && strcmp(dir, "."))
		dir = dirname(dir);
	rc = access(dir, W_OK | X_OK);
	snprintf(msg, msglen,
		 rc == 0 ? "not created yet; it will be (its folder is writable)"
			 : "not created yet, and %s is not writable by this user",
		 dir);
	free(copy);
	return rc == 0 ? 0 : -1;
}

#ifndef HAVE_POSTGRESQL
/* A build without libpq: store_resolve refuses PostgreSQL strings first,
 * so these are reached only by a string that skipped it. */
int store_pg_check(const char *conninfo, char *why, size_t whylen)
{
	(void)conninfo;
	snprintf(why, whylen, "this clawcgi was built without PostgreSQL");
	return -1;
}

int store_pg_probe(const char *conninfo, char *msg, size_t msglen)
{
	return store_pg_check(conninfo, msg, msglen);
}

int store_open_postgresql(const char *conninfo, struct store **out, struct err *e)
{
	(void)conninfo;
	*out = NULL;
	return err_set(e, 500, ERR_API, "Session store error: built without PostgreSQL.");
}
#endif
