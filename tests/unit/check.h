/*
 * check.h - the unit tests' only harness.
 *
 * Each check prints "ok - NAME" or "not ok - NAME" (TAP style) and the file's
 * line on failure; tests/run counts those lines across every test program.
 * A test program exits non-zero when any check failed.
 *
 *   CHECK(cond, "name")                     a boolean
 *   CHECK_STR(got, want, "name")            string equality (NULL-safe)
 *   CHECK_INT(got, want, "name")            integer equality
 *   return check_done();                    at the end of main
 */
#ifndef CLAW_CHECK_H
#define CLAW_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

static void check_report(int ok, const char *name, const char *file, int line, const char *detail)
{
	if (ok) {
		check_passed++;
		printf("ok - %s\n", name);
	} else {
		check_failed++;
		printf("not ok - %s\n#   at %s:%d%s%s\n", name, file, line, detail ? ": " : "",
		       detail ? detail : "");
	}
	fflush(stdout);
}

#define CHECK(cond, name) check_report(!!(cond), (name), __FILE__, __LINE__, NULL)

#define CHECK_STR(got, want, name)                                                                 \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		int ok_ = (g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0);         \
		char d_[512];                                                                      \
		snprintf(d_, sizeof d_, "got \"%.240s\", want \"%.240s\"", g_ ? g_ : "(null)",     \
			 w_ ? w_ : "(null)");                                                      \
		check_report(ok_, (name), __FILE__, __LINE__, ok_ ? NULL : d_);                    \
	} while (0)

#define CHECK_INT(got, want, name)                                                                 \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		char d_[128];                                                                      \
		snprintf(d_, sizeof d_, "got %lld, want %lld", g_, w_);                            \
		check_report(g_ == w_, (name), __FILE__, __LINE__, g_ == w_ ? NULL : d_);          \
	} while (0)

static int check_done(void)
{
	printf("# %d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
