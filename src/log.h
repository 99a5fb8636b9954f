/*
 * log.h - one line per message for the web server's error log: on stderr,
 * or, while a thread serves a FastCGI request, on that request's error
 * stream (FCGI_STDERR), which every FastCGI server writes to its error log
 * even when it did not start clawcgi (spawn-fcgi, `clawcgi serve`).
 *
 * Never pass a secret (token, password, API key) to these functions.  As
 * the last line of defence each message is masked against the configured
 * secrets (mask.h) before it is written; a line cut at its 2 KiB loses the
 * tail that could begin one.
 */
#ifndef CLAW_LOG_H
#define CLAW_LOG_H

#include <stddef.h>

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Info lines are dropped unless CLAWCGI_LOG_LEVEL=info (or debug). */
int log_info_enabled(void);

/* Send this thread's lines to fn(ctx, line, length) (one whole line with
 * its newline) until log_set_sink(NULL, NULL); where fn returns non-zero
 * the line goes to stderr instead. */
typedef int (*log_sink_fn)(void *ctx, const char *line, size_t n);
void log_set_sink(log_sink_fn fn, void *ctx);

#endif
