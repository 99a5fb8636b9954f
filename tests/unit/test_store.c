/* Unit tests for src/store.c: store strings read strictly, shown without
 * their password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store.h"

/* store_resolve's result (or "ERR: why"), as a new string. */
static char *resolve(const char *spec, const char *config)
{
	char *out = NULL, why[512], *r;
	enum store_kind kind;

	if (store_resolve(spec, config, &out, &kind, why, sizeof why) < 0) {
		r = malloc(strlen(why) + 6);
		sprintf(r, "ERR: %s", why);
		return r;
	}
	r = malloc(strlen(out) + 4);
	sprintf(r, "%s %s", kind == STORE_POSTGRESQL ? "pg" : "sq", out);
	free(out);
	return r;
}

static void check_resolve(const char *spec, const char *config, const char *want, const char *name)
{
	char *got = resolve(spec, config);
	CHECK_STR(got, want, name);
	free(got);
}

static void check_display(const char *spec, const char *want, const char *name)
{
	char *got = store_display(spec);
	CHECK_STR(got, want, name);
	free(got);
}

int main(void)
{
	char *got;

	check_resolve("/var/lib/x.db", "/etc/clawcgi/c.json5", "sq /var/lib/x.db",
		      "an absolute path stays");
	check_resolve("data/x.db", "/etc/clawcgi/c.json5", "sq /etc/clawcgi/data/x.db",
		      "a relative path is under the config's folder");
	check_resolve("./x.db", "/etc/clawcgi/c.json5", "sq /etc/clawcgi/x.db", "./ is dropped");
	check_resolve("sqlite:/srv/s.db", "/etc/c.json5", "sq /srv/s.db", "sqlite:PATH");
	check_resolve("sqlite:rel.db", "/etc/clawcgi/c.json5", "sq /etc/clawcgi/rel.db",
		      "sqlite: with a relative path");
	got = resolve("x.db", "c.json5");
	CHECK(got && got[0] == 's' && got[3] == '/' && strstr(got, "/x.db"),
	      "a config named without a folder: against the working directory, absolute");
	free(got);
	check_resolve("", "/etc/c.json5", "ERR: is empty: give a file path or a postgresql:// URL",
		      "empty is an error");
	check_resolve("sqlite:", "/etc/c.json5",
		      "ERR: names no file after sqlite:", "sqlite: alone is an error");
	got = resolve("mysql://u:pw@h/db", "/etc/c.json5");
	CHECK(strstr(got, "ERR: has an unknown scheme \"mysql://\"") && !strstr(got, "pw"),
	      "an unknown scheme is an error, without the password");
	free(got);
	got = resolve("https://example.com/x", "/etc/c.json5");
	CHECK(!strncmp(got, "ERR: has an unknown scheme", 26), "https:// is refused too");
	free(got);
	CHECK(store_kind_of("postgres://h/db") == STORE_POSTGRESQL, "postgres:// is PostgreSQL");
	CHECK(store_kind_of("host=h dbname=d") == STORE_POSTGRESQL,
	      "the keyword form is PostgreSQL");
	CHECK(store_kind_of("/tmp/host=h.db") == STORE_SQLITE, "a path with = is a path");
	if (store_postgresql_built()) {
		check_resolve("postgresql://u:secret@db.example:5433/claw?sslmode=require",
			      "/etc/c.json5",
			      "pg postgresql://u:secret@db.example:5433/claw?sslmode=require",
			      "a URL is kept as given");
		check_resolve("host=db dbname=claw password='se cret'", "/etc/c.json5",
			      "pg host=db dbname=claw password='se cret'",
			      "the keyword form is kept");
		got = resolve("postgresql://u:secret@h/db?bogus=1", "/etc/c.json5");
		CHECK(!strncmp(got, "ERR: is not a connection string libpq can read", 46) &&
			      !strstr(got, "secret"),
		      "a parameter libpq does not know is an error, without the password");
		free(got);
		got = resolve("host=h password=secret nonsense", "/etc/c.json5");
		CHECK(!strncmp(got, "ERR: is not a connection string", 31) &&
			      !strstr(got, "secret"),
		      "a keyword string libpq cannot read: an error without the password");
		free(got);
	} else {
		got = resolve("postgresql://h/db", "/etc/c.json5");
		CHECK(strstr(got, "built without PostgreSQL") != NULL,
		      "a build without libpq refuses PostgreSQL clearly");
		free(got);
	}

	check_display("/var/lib/x.db", "/var/lib/x.db", "a file is shown as is");
	check_display("postgresql://claw:s3cr%40t@db:5432/claw?sslmode=require",
		      "postgresql://claw:******@db:5432/claw?sslmode=require",
		      "a URL's password is masked");
	check_display("postgres://claw@db/claw", "postgres://claw@db/claw",
		      "a URL without a password is shown whole");
	check_display("postgresql://db/claw?user=u&password=pw&sslmode=verify-full",
		      "postgresql://db/claw?user=u&password=******&sslmode=verify-full",
		      "a password parameter is masked");
	check_display("postgresql://u:a@db/c?password=b",
		      "postgresql://u:******@db/c?password=******", "both at once");
	check_display("host=db password=pw dbname=claw", "host=db password=****** dbname=claw",
		      "a keyword password is masked");
	check_display("host=db password = 'p w\\'x' dbname=claw",
		      "host=db password = ****** dbname=claw",
		      "a quoted keyword password is masked");
	return check_done();
}
