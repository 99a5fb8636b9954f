/*
 * log.h - one line per message on stderr, which every web server that
 * spawns clawcgi copies into its error log.
 *
 * Never pass a secret (token, password, API key) to these functions.
 */
#ifndef CLAW_LOG_H
#define CLAW_LOG_H

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Info lines are dropped unless CLAWCGI_LOG_LEVEL=info (or debug). */
int log_info_enabled(void);

#endif
