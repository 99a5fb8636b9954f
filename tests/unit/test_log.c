/*
 * test_log.c - log lines: one line per call, to this thread's sink while
 * one is set (a FastCGI request's error stream), else to stderr.
 */
#include "../../src/log.h"
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char got[4096];
static size_t got_n;
static int calls;

static int take(void *ctx, const char *line, size_t n)
{
	calls++;
	if (n < sizeof got - got_n) {
		memcpy(got + got_n, line, n);
		got_n += n;
		got[got_n] = '\0';
	}
	return *(int *)ctx;
}

/* Run fn with stderr sent to a file; its bytes end up in out. */
static void capture_stderr(void (*fn)(void), char *out, size_t n)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t len;

	fflush(stderr);
	dup2(fileno(f), STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	len = fread(out, 1, n - 1, f);
	out[len] = '\0';
	fclose(f);
}

static void say_two_lines(void)
{
	log_error("first\nsecond\r%s", "end");
}
static void say_plain(void)
{
	log_error("to stderr");
}

static void *other_thread(void *arg)
{
	(void)arg;
	log_error("from another thread");
	return NULL;
}

static void say_from_other_thread(void)
{
	pthread_t t;

	pthread_create(&t, NULL, other_thread, NULL);
	pthread_join(t, NULL);
}

int main(void)
{
	int handled = 0, refused = 1;
	char err[4096];

	log_set_sink(take, &handled);
	capture_stderr(say_two_lines, err, sizeof err);
	CHECK_INT(calls, 1, "one call is one write to the sink");
	CHECK(strstr(got, "first second end\n") != NULL && strchr(got, '\n') == got + got_n - 1,
	      "newlines inside the message are replaced: one line, ending in a newline");
	CHECK(strstr(got, "error") != NULL, "the line names its level");
	CHECK_STR(err, "", "a line the sink took does not also go to stderr");

	capture_stderr(say_from_other_thread, err, sizeof err);
	CHECK_INT(calls, 1, "the sink belongs to the thread that set it");
	CHECK(strstr(err, "from another thread\n") != NULL, "another thread's lines go to stderr");

	log_set_sink(take, &refused);
	capture_stderr(say_plain, err, sizeof err);
	CHECK_INT(calls, 2, "a refusing sink is still asked");
	CHECK(strstr(err, "to stderr\n") != NULL, "a line the sink refused goes to stderr");

	log_set_sink(NULL, NULL);
	capture_stderr(say_plain, err, sizeof err);
	CHECK_INT(calls, 2, "after log_set_sink(NULL, NULL) the sink is not called");
	CHECK(strstr(err, "to stderr\n") != NULL, "and lines go to stderr again");
	return check_done();
}
