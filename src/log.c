/*
 * log.c - single-line log messages on stderr.
 *
 * Each message is formatted into one buffer and written with one write(2),
 * so lines from several threads or processes sharing the web server's log
 * do not interleave.  Newlines inside a message are replaced, so one call is
 * one line.  While a thread serves a FastCGI request its lines go to the
 * request's error stream instead (see log_set_sink).  Every message is
 * masked against the configured secrets (mask.h) first: the last line of
 * defence for a text from outside that quotes one.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mask.h"

static __thread log_sink_fn sink;
static __thread void *sink_ctx;

void log_set_sink(log_sink_fn fn, void *ctx)
{
	sink = fn;
	sink_ctx = ctx;
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "clawcgi[%ld]: %s: ", (long)getpid(), level);
	int m;

	if (n < 0)
		return;
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	if (mask_global(line + n, sizeof line - (size_t)n - 1, m >= (int)sizeof line - n - 1))
		m = (int)strlen(line + n);
	n += m;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (sink && sink(sink_ctx, line, (size_t)n) == 0)
		return;
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nothing sensible left to do */
	}
}

int log_info_enabled(void)
{
	const char *lvl = getenv("CLAWCGI_LOG_LEVEL");
	return lvl && (!strcmp(lvl, "info") || !strcmp(lvl, "debug"));
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("error", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("warning", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	if (!log_info_enabled())
		return;
	va_start(ap, fmt);
	log_line("info", fmt, ap);
	va_end(ap);
}
