/*
 * cli_keys.c - clawcgi keys: client keys (gateway.auth.mode "keys") made,
 * listed, revoked and rotated in the session store.  A secret is printed
 * once, on stdout, at create and rotate; the store keeps its SHA-256.
 * Names are lower-cased (canonical_name) and looked up in any case; a
 * revoked or expired key's name can be taken again by create (reuse), and
 * an expired key renewed by rotate --expires.
 */
#include "cli.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "store.h"

#define DAY_MS (86400 * 1000LL)

static const char keys_usage[] =
	"usage: clawcgi keys [--config FILE] create --name NAME [--agents ID,ID] [--rpm N]\n"
	"                                    [--tpm N] [--expires DAYS]\n"
	"       clawcgi keys [--config FILE] list | revoke NAME | rotate NAME [--expires DAYS]\n";

/* [A-Za-z0-9._-]{1,64} */
static int valid_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/*
 * A key's name in its one form, lower case, as agent ids are: names
 * compare in any case (the store looks them up so, and refuses a second
 * "CI-Bot" beside "ci-bot"), and the name is the key's session scope
 * ("key:NAME", auth.c), which must not depend on how it was typed.
 */
static void canonical_name(const char *in, char out[65])
{
	size_t i = 0;

	for (; in[i] && i < 64; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

/* --expires DAYS: a number of days > 0 (fractions allowed) into *days;
 * -1 (said on stderr) otherwise. */
static int days_arg(const char *v, double *days)
{
	char *end;

	*days = strtod(v, &end);
	if (!*v || *end || !(*days > 0) || *days > 36500 || !isfinite(*days)) {
		fprintf(stderr, "clawcgi: --expires needs a number of days > 0\n");
		return -1;
	}
	return 0;
}

/* "ID,ID" -> the configured agents' ids joined by ','; -1 naming the
 * unknown one. */
static int agent_ids(const struct cfg *c, const char *list, char *out, size_t n)
{
	struct buf b = BUF_INIT;
	char *copy = strdup(list), *save = NULL;
	int rc = 0;

	if (!copy)
		return -1;
	for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		const struct cfg_agent *a;
		while (*id == ' ')
			id++;
		if (!*id)
			continue;
		if (!(a = cfg_find_agent(c, id))) {
			fprintf(stderr, "clawcgi: --agents: no agent '%s' in %s\n", id, c->path);
			rc = -1;
			break;
		}
		if ((b.len && buf_append(&b, ",", 1) < 0) || buf_append_str(&b, a->id) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && b.len >= n) {
		fprintf(stderr, "clawcgi: --agents: too many agents\n");
		rc = -1;
	}
	if (rc == 0)
		snprintf(out, n, "%s", buf_str(&b));
	buf_free(&b);
	free(copy);
	return rc;
}

/* A whole number >= 0 (a limit), or -1. */
static long limit_arg(const char *opt, const char *v)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (!*v || *end || n < 0) {
		fprintf(stderr, "clawcgi: %s needs a whole number >= 0 (0: no limit)\n", opt);
		return -1;
	}
	return n;
}

/* "2026-11-30 12:51 UTC"; "never" for 0. */
static const char *when(long long ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms)
		return "never";
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M", &tm);
	return out;
}

static const char *status_of(const struct store_key *k, long long now)
{
	return k->revoked ? "revoked" : k->expires && k->expires <= now ? "expired" : "active";
}

static int print_key(void *ctx, const struct store_key *k)
{
	char a[32], b[32], x[32];
	long long now = *(const long long *)ctx;

	printf("%-20s %-8s %-20s %8ld %10ld  %-16s  %-16s  %s\n", k->name, status_of(k, now),
	       k->agents[0] ? k->agents : "(all)", k->rpm, k->tpm, when(k->created, a, sizeof a),
	       when(k->last_used, b, sizeof b), when(k->expires, x, sizeof x));
	return 0;
}

/* A new secret into k->hash; the secret itself into secret. */
static int new_secret(struct store_key *k, char secret[68])
{
	if (auth_key_new(secret) < 0) {
		fprintf(stderr, "clawcgi: the system gave no random bytes\n");
		return -1;
	}
	auth_key_hash(secret, strlen(secret), k->hash);
	return 0;
}

static void warn_mode(const struct cfg *c)
{
	if (c->auth.mode != CFG_AUTH_KEYS)
		fprintf(stderr,
			"note: gateway.auth.mode is %s in %s: client keys are accepted only "
			"with mode \"keys\"\n",
			cfg_auth_mode_name(c->auth.mode), c->path);
}

/*
 * keys create over a key of that name (in any case) that was revoked or
 * has expired: k replaces its row, whose name keeps its spelling, so the
 * sessions of that name ("key:NAME:...") are the new key's.  0 when
 * replaced; 1 when the key is active (or changed meanwhile); -1 with e.
 */
static int reuse(struct store *st, struct store_key *k, struct err *e)
{
	struct store_key old;
	int rc = store_key_get(st, k->name, NULL, &old, e);

	if (rc != 0)
		return rc;
	if (!old.revoked && !(old.expires && old.expires <= k->created))
		return 1;
	snprintf(k->name, sizeof k->name, "%s", old.name);
	return store_key_put(st, k, true, e);
}

static int create(const struct cfg *c, struct store *st, int argc, char **argv)
{
	struct store_key k;
	char secret[68], x[32];
	struct err e;
	double days = 0;
	int rc;

	memset(&k, 0, sizeof k);
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v || strncmp(o, "--", 2)) {
			fputs(keys_usage, stderr);
			return 2;
		}
		i++;
		if (!strcmp(o, "--name")) {
			if (!valid_name(v)) {
				fprintf(stderr, "clawcgi: --name: 1-64 letters, digits, '.', '_' "
						"or '-'\n");
				return 2;
			}
			canonical_name(v, k.name);
		} else if (!strcmp(o, "--agents")) {
			if (agent_ids(c, v, k.agents, sizeof k.agents) < 0)
				return 2;
		} else if (!strcmp(o, "--rpm")) {
			if ((k.rpm = limit_arg(o, v)) < 0)
				return 2;
		} else if (!strcmp(o, "--tpm")) {
			if ((k.tpm = limit_arg(o, v)) < 0)
				return 2;
		} else if (!strcmp(o, "--expires")) {
			if (days_arg(v, &days) < 0)
				return 2;
		} else {
			fputs(keys_usage, stderr);
			return 2;
		}
	}
	if (!k.name[0]) {
		fprintf(stderr, "clawcgi: keys create needs --name NAME\n");
		return 2;
	}
	k.created = clock_wall_ms();
	if (days > 0)
		k.expires = k.created + (long long)(days * DAY_MS);
	if (new_secret(&k, secret) < 0)
		return 1;
	if ((rc = store_key_put(st, &k, false, &e)) > 0)
		rc = reuse(st, &k, &e);
	if (rc < 0) {
		fprintf(stderr, "clawcgi: %s\n", e.message);
		return 1;
	}
	if (rc > 0) {
		fprintf(stderr, "clawcgi: a key named '%s' exists (rotate or revoke it)\n", k.name);
		return 1;
	}
	printf("%s\n", secret);
	fprintf(stderr,
		"created key '%s' (agents %s, rpm %ld, tpm %ld, expires %s%s): the secret above "
		"is shown this once\n",
		k.name, k.agents[0] ? k.agents : "(all)", k.rpm, k.tpm,
		when(k.expires, x, sizeof x), k.expires ? " UTC" : "");
	warn_mode(c);
	return 0;
}

/* revoke NAME, or rotate NAME with days (> 0: --expires DAYS) */
static int change(struct store *st, const char *what, const char *name, double days)
{
	struct store_key k;
	char secret[68], x[32];
	struct err e;
	long long now = clock_wall_ms();
	int rc = store_key_get(st, name, NULL, &k, &e);

	if (rc < 0) {
		fprintf(stderr, "clawcgi: %s\n", e.message);
		return 1;
	}
	if (rc > 0) {
		fprintf(stderr, "clawcgi: no key named '%s'\n", name);
		return 1;
	}
	if (!strcmp(what, "revoke")) {
		if (k.revoked) {
			printf("key '%s' was already revoked\n", k.name);
			return 0;
		}
		k.revoked = now;
	} else {
		if (k.revoked) {
			fprintf(stderr,
				"clawcgi: key '%s' was revoked: create a new key with its name\n",
				k.name);
			return 1;
		}
		if (days > 0)
			k.expires = now + (long long)(days * DAY_MS);
		else if (k.expires && k.expires <= now) {
			fprintf(stderr,
				"clawcgi: key '%s' has expired: renew it with rotate %s --expires "
				"DAYS\n",
				k.name, k.name);
			return 1;
		}
		if (new_secret(&k, secret) < 0)
			return 1;
	}
	if ((rc = store_key_put(st, &k, true, &e)) != 0) {
		fprintf(stderr, "clawcgi: %s\n", rc < 0 ? e.message : "the key changed meanwhile");
		return 1;
	}
	if (!strcmp(what, "revoke")) {
		printf("revoked key '%s'\n", k.name);
	} else {
		printf("%s\n", secret);
		fprintf(stderr,
			"rotated key '%s' (expires %s%s): the secret above replaces the old one, "
			"which no longer works; it is shown this once\n",
			k.name, when(k.expires, x, sizeof x), k.expires ? " UTC" : "");
	}
	return 0;
}

int cli_keys(const char *config_path, int argc, char **argv)
{
	struct cfg *c = NULL;
	struct store *st = NULL;
	struct err e;
	double days = 0;
	int status = 1;

	if (argc < 1 ||
	    (strcmp(argv[0], "create") && strcmp(argv[0], "list") && strcmp(argv[0], "revoke") &&
	     strcmp(argv[0], "rotate")) ||
	    (!strcmp(argv[0], "list") && argc != 1) || (!strcmp(argv[0], "revoke") && argc != 2) ||
	    (!strcmp(argv[0], "rotate") &&
	     !(argc == 2 || (argc == 4 && !strcmp(argv[2], "--expires"))))) {
		fputs(keys_usage, stderr);
		return 2;
	}
	if (argc == 4 && days_arg(argv[3], &days) < 0)
		return 2;
	if (cli_open(config_path, &c, &st) < 0)
		return 1;
	if (!strcmp(argv[0], "create")) {
		status = create(c, st, argc, argv);
	} else if (!strcmp(argv[0], "list")) {
		long long now = clock_wall_ms();
		printf("%-20s %-8s %-20s %8s %10s  %-16s  %-16s  %s\n", "NAME", "STATUS", "AGENTS",
		       "RPM", "TPM", "CREATED (UTC)", "LAST USED", "EXPIRES");
		if (store_key_list(st, print_key, &now, &e) < 0)
			fprintf(stderr, "clawcgi: %s\n", e.message);
		else
			status = 0;
	} else {
		status = change(st, argv[0], argv[1], days);
	}
	store_close(st);
	cfg_free(c);
	return status;
}
