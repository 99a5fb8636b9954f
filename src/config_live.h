/*
 * config_live.h - the process-wide current configuration: the one global
 * that changes while requests are served (besides libcurl's load-once state
 * in curl_load.c, serve.c's accept lock, and mask.c's set of secrets that
 * each loaded configuration adds to).
 *
 * Requests take a reference to the current snapshot with cfg_acquire() and
 * drop it with cfg_release(); a reload swaps the current pointer and the
 * old snapshot is freed when its last request ends.
 */
#ifndef CLAW_CONFIG_LIVE_H
#define CLAW_CONFIG_LIVE_H

#include <stddef.h>

#include "config.h"

/*
 * Process-wide current config.  cfg_init() loads it once at start (a broken
 * file is logged; requests then get 500 until it is fixed).  cfg_acquire()
 * re-reads the file when its mtime, size or inode changed (a broken new file
 * keeps the last good config and is logged once per change) and returns a
 * referenced snapshot, or NULL when no valid config was ever loaded.
 */
int cfg_init(const char *path); /* 0, or -1 when the file did not load */
struct cfg *cfg_acquire(void);
/* Why the last attempt to load the file failed (for a log line with each
 * request answered 500 for want of a config: a process whose start-up lines
 * went nowhere, as under spawn-fcgi, still shows the reason). */
void cfg_last_error(char *buf, size_t n);
/* Drop a reference from cfg_acquire (c may be NULL); the last one frees. */
void cfg_release(struct cfg *c);
/* At exit: drop the current snapshot and forget the path. */
void cfg_shutdown(void);

#endif
