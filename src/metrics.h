/*
 * metrics.h - the host's counters for GET /metrics, kept in a shared
 * memory segment so every worker process (lighttpd, mod_fcgid and
 * spawn-fcgi start several; under CGI each request is a process) counts
 * into one view.
 *
 * The segment is a fixed-size file mapped MAP_SHARED: a header with the
 * global values, then METRICS_SLOTS slots of labelled series.  A slot is
 * claimed with compare-and-swap; its values are C11 atomics.  Nothing here
 * takes a lock once the process has attached, so counting never blocks a
 * request.  A label set that finds no free slot (or is too long) is counted
 * in its metric's overflow series, whose labels read "other".
 *
 * Output is the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/):
 * "# HELP" and "# TYPE" lines, counters named *_total, histograms as
 * *_bucket{le="..."} (cumulative, ending in le="+Inf"), *_sum and *_count.
 */
#ifndef CLAW_METRICS_H
#define CLAW_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define METRICS_SLOTS 1024
#define METRICS_LABELS_MAX 120 /* bytes of rendered labels a slot holds */

/* The labelled metrics (each a family in the output). */
enum metrics_kind {
	METRICS_REQUESTS,	   /* counter {endpoint, agent, status} */
	METRICS_DURATION,	   /* histogram {endpoint} */
	METRICS_TTFT,		   /* histogram {agent} */
	METRICS_UPSTREAM_ERRORS,   /* counter {provider} */
	METRICS_UPSTREAM_TIMEOUTS, /* counter {provider} */
	METRICS_UPSTREAM_RETRIES,  /* counter {provider} */
	METRICS_FALLBACKS,	   /* counter {provider} */
	METRICS_TOKENS_IN,	   /* counter {agent} */
	METRICS_TOKENS_OUT,	   /* counter {agent} */
	METRICS_NKINDS
};

struct metrics_seg;

/*
 * Map the segment file at path, creating it (mode 0600, zero-filled to its
 * fixed size) when absent.  Returns the mapping, or NULL with the reason in
 * why (a file of another size or layout, open/mmap errors).  Two opens of
 * one file, in one process or several, share every value.
 */
struct metrics_seg *metrics_open(const char *path, char *why, size_t n);
void metrics_close(struct metrics_seg *m);
/* The segment file's size in bytes. */
size_t metrics_size(void);

/*
 * Count: add n to kind's counter for labels, or, for a histogram kind,
 * observe a value of seconds (n ignored).  labels is the rendered label
 * list without braces ('provider="openai"'), escaped by metrics_label;
 * NULL counts in the overflow series.  Never fails: a full table or too
 * long labels count under "other".
 */
void metrics_add(struct metrics_seg *m, enum metrics_kind kind, const char *labels,
		 unsigned long long n, double seconds);
/* The globals: open streams (delta +1/-1), auth failures, lockouts. */
void metrics_streams_add(struct metrics_seg *m, long delta);
void metrics_auth_failed(struct metrics_seg *m);
void metrics_auth_locked(struct metrics_seg *m);

/*
 * Append name="value" (with a leading comma when out is not empty) to out
 * (size n), value escaped as the exposition format wants (\\, \", \n).
 * Returns 0, or -1 when it does not fit (out then unchanged).
 */
int metrics_label(char *out, size_t n, const char *name, const char *value);

/* Append every metric in the exposition format to out: 0, or -1 when out
 * of memory. */
int metrics_render(struct metrics_seg *m, struct buf *out);

/* ---- the process's segment, used by the request path ---- */

/*
 * The segment path for a config file: /dev/shm/clawcgi-metrics-<16 hex
 * digits of the FNV-1a hash of the config's real path>, or
 * $CLAWCGI_METRICS_DIR instead of /dev/shm when set.  Writes it into out.
 */
void metrics_path_for(const char *config_path, char *out, size_t n);

/*
 * Start counting this thread's request: when enabled, attach the process
 * to the segment of config_path on first use (a failure is logged once;
 * the process then serves without metrics).  Every other call below is a
 * no-op on a thread whose request did not begin enabled.
 */
void metrics_request_begin(bool enabled, const char *config_path);
/* The agent a request was given to (a config id; copied). */
void metrics_request_agent(const char *agent_id);
/* The first piece of an answer came from the provider now. */
void metrics_first_token(void);
/* A stream's headers went out: counted open until the request ends. */
void metrics_stream_opened(void);
/* Tokens a turn used, by agent. */
void metrics_tokens(const char *agent_id, long long in, long long out);
/* An upstream event for a provider (METRICS_UPSTREAM_* or METRICS_FALLBACKS). */
void metrics_upstream(enum metrics_kind kind, const char *provider);
void metrics_note_auth_failure(void);
void metrics_note_auth_lockout(void);
/* The request ended with status: count it, its latency and TTFT. */
void metrics_request_end(const char *endpoint, int status);

/*
 * The process's segment for /metrics, or NULL with why set (never
 * attached, or attaching failed).
 */
struct metrics_seg *metrics_process_seg(char *why, size_t n);

/* n usage log rows were given up (usage.c): counted in the process's
 * segment when it has one (m NULL: a no-op). */
void metrics_usage_dropped(struct metrics_seg *m, unsigned long n);

#endif
