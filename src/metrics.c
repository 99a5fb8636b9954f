/*
 * metrics.c - the shared counters behind GET /metrics (metrics.h).
 *
 * Layout of the segment file (host byte order, never sent elsewhere): a
 * 64-byte header (magic, layout, the global values), then METRICS_SLOTS
 * slots of 256 bytes.  Slots 0..METRICS_NKINDS-1 are each metric's
 * overflow series; the others form an open-addressing table keyed by
 * (kind, labels).  A slot goes 0 (free) -> 1 (being written) -> 2 (ready)
 * by compare-and-swap; its label text is written only while it is 1 and
 * read only once it is 2.  A slot left at 1 by a process that died there is
 * stepped over; the rare duplicate series that makes is merged on output.
 *
 * Not here: what is counted when (router.c, provider.c, auth.c).
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define MAGIC 0x636c61776d657431ULL /* "clawmet1" */
#define NBUCKETS 14
#define NVALUES (NBUCKETS + 2) /* buckets, count, sum in microseconds */
#define SLOT_FREE 0
#define SLOT_CLAIMED 1
#define SLOT_READY 2

static const double bucket_le[NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
					   1,	  2.5,	5,     10,   30,  60,	120};

struct slot {
	_Atomic uint32_t state;
	uint32_t kind;
	char labels[METRICS_LABELS_MAX];
	_Atomic uint64_t v[NVALUES];
};

struct header {
	_Atomic uint64_t magic;
	uint64_t layout;
	_Atomic int64_t open_streams;
	_Atomic uint64_t auth_failures;
	_Atomic uint64_t auth_lockouts;
	_Atomic uint64_t usage_dropped; /* usage rows given up (usage.c) */
	uint64_t pad[2];
};

struct segment {
	struct header h;
	struct slot s[METRICS_SLOTS];
};

_Static_assert(sizeof(struct header) == 64, "header is 64 bytes");
_Static_assert(sizeof(struct slot) == 256, "a slot is 256 bytes");

#define LAYOUT ((uint64_t)METRICS_SLOTS << 32 | (uint64_t)sizeof(struct slot) << 8 | NBUCKETS)

struct metrics_seg {
	struct segment *seg;
};

static const struct family {
	const char *name, *type, *help, *other;
} families[METRICS_NKINDS] = {
	[METRICS_REQUESTS] = {"clawcgi_http_requests_total", "counter",
			      "Requests answered, by endpoint, agent and status.",
			      "endpoint=\"other\",agent=\"other\",status=\"other\""},
	[METRICS_DURATION] = {"clawcgi_http_request_duration_seconds", "histogram",
			      "Time from a request's arrival to its last byte, by endpoint.",
			      "endpoint=\"other\""},
	[METRICS_TTFT] = {"clawcgi_time_to_first_token_seconds", "histogram",
			  "Time from a request's arrival to the provider's first piece of "
			  "the answer, by agent.",
			  "agent=\"other\""},
	[METRICS_UPSTREAM_ERRORS] = {"clawcgi_upstream_errors_total", "counter",
				     "Failed upstream attempts (HTTP 429/5xx, unreachable, "
				     "timed out), by provider.",
				     "provider=\"other\""},
	[METRICS_UPSTREAM_TIMEOUTS] = {"clawcgi_upstream_timeouts_total", "counter",
				       "Upstream attempts that timed out, by provider.",
				       "provider=\"other\""},
	[METRICS_UPSTREAM_RETRIES] = {"clawcgi_upstream_retries_total", "counter",
				      "Attempts repeated on the same model after a failure, by "
				      "provider.",
				      "provider=\"other\""},
	[METRICS_FALLBACKS] = {"clawcgi_upstream_fallbacks_total", "counter",
			       "Fallback models tried after the previous one failed, by the "
			       "fallback's provider.",
			       "provider=\"other\""},
	[METRICS_TOKENS_IN] = {"clawcgi_input_tokens_total", "counter",
			       "Prompt tokens the provider reported, by agent.", "agent=\"other\""},
	[METRICS_TOKENS_OUT] = {"clawcgi_output_tokens_total", "counter",
				"Completion tokens the provider reported, by agent.",
				"agent=\"other\""},
};

size_t metrics_size(void)
{
	return sizeof(struct segment);
}

struct metrics_seg *metrics_open(const char *path, char *why, size_t n)
{
	struct metrics_seg *m = NULL;
	struct segment *seg = MAP_FAILED;
	struct stat st;
	uint64_t want = 0;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, n, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, n, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size != 0 && (size_t)st.st_size != sizeof *seg) {
		snprintf(why, n, "%s is %lld bytes, not %zu: another layout; remove it", path,
			 (long long)st.st_size, sizeof *seg);
		goto out;
	}
	/* Growing to the same size in two processes at once is harmless. */
	if (st.st_size == 0 && ftruncate(fd, (off_t)sizeof *seg) < 0) {
		snprintf(why, n, "cannot size %s: %s", path, strerror(errno));
		goto out;
	}
	seg = mmap(NULL, sizeof *seg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (seg == MAP_FAILED) {
		snprintf(why, n, "cannot map %s: %s", path, strerror(errno));
		goto out;
	}
	/* The first to attach stamps the layout; the layout word is written
	 * before the magic is published and never changes after. */
	if (atomic_load(&seg->h.magic) == 0) {
		seg->h.layout = LAYOUT;
		atomic_compare_exchange_strong(&seg->h.magic, &want, MAGIC);
	}
	if (atomic_load(&seg->h.magic) != MAGIC || seg->h.layout != LAYOUT) {
		snprintf(why, n, "%s has another layout; remove it", path);
		goto out;
	}
	if (!(m = malloc(sizeof *m))) {
		snprintf(why, n, "out of memory");
		goto out;
	}
	m->seg = seg;
out:
	if (!m && seg != MAP_FAILED)
		munmap(seg, sizeof *seg);
	close(fd);
	return m;
}

void metrics_close(struct metrics_seg *m)
{
	if (!m)
		return;
	munmap(m->seg, sizeof *m->seg);
	free(m);
}

static bool is_histogram(enum metrics_kind kind)
{
	return kind == METRICS_DURATION || kind == METRICS_TTFT;
}

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* kind's slot for labels, claiming a free one; its overflow slot when the
 * labels do not fit or the table is full. */
static struct slot *find_slot(struct segment *seg, enum metrics_kind kind, const char *labels)
{
	size_t len = labels ? strlen(labels) : METRICS_LABELS_MAX;
	const size_t span = METRICS_SLOTS - METRICS_NKINDS;
	uint64_t h;
	char k = (char)kind;

	if (len >= METRICS_LABELS_MAX)
		return &seg->s[kind];
	h = fnv1a(fnv1a(0xcbf29ce484222325ULL, &k, 1), labels, len);
	for (size_t i = 0; i < span; i++) {
		struct slot *s = &seg->s[METRICS_NKINDS + (h + i) % span];
		uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);

		if (st == SLOT_FREE) {
			uint32_t free_ = SLOT_FREE;
			if (atomic_compare_exchange_strong(&s->state, &free_, SLOT_CLAIMED)) {
				s->kind = (uint32_t)kind;
				memcpy(s->labels, labels, len + 1);
				atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
				return s;
			}
			st = free_;
		}
		/* Another writer is filling it in: a few dozen stores; wait
		 * a little, never long (it may have died there). */
		for (int spin = 0; st == SLOT_CLAIMED && spin < 1000; spin++)
			st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (st == SLOT_READY && s->kind == (uint32_t)kind && !strcmp(s->labels, labels))
			return s;
	}
	return &seg->s[kind];
}

void metrics_add(struct metrics_seg *m, enum metrics_kind kind, const char *labels,
		 unsigned long long n, double seconds)
{
	struct slot *s;

	if (!m || (unsigned)kind >= METRICS_NKINDS)
		return;
	s = find_slot(m->seg, kind, labels);
	if (!is_histogram(kind)) {
		atomic_fetch_add_explicit(&s->v[0], n, memory_order_relaxed);
		return;
	}
	if (!(seconds >= 0))
		seconds = 0;
	{
		int b = 0;
		while (b < NBUCKETS && seconds > bucket_le[b])
			b++;
		if (b < NBUCKETS)
			atomic_fetch_add_explicit(&s->v[b], 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&s->v[NBUCKETS + 1],
				  seconds > 1e9 ? (uint64_t)1e15 : (uint64_t)(seconds * 1e6 + 0.5),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&s->v[NBUCKETS], 1, memory_order_relaxed);
}

void metrics_streams_add(struct metrics_seg *m, long delta)
{
	if (m)
		atomic_fetch_add_explicit(&m->seg->h.open_streams, delta, memory_order_relaxed);
}

void metrics_auth_failed(struct metrics_seg *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->seg->h.auth_failures, 1, memory_order_relaxed);
}

void metrics_usage_dropped(struct metrics_seg *m, unsigned long n)
{
	if (m)
		atomic_fetch_add_explicit(&m->seg->h.usage_dropped, n, memory_order_relaxed);
}

void metrics_auth_locked(struct metrics_seg *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->seg->h.auth_lockouts, 1, memory_order_relaxed);
}

int metrics_label(char *out, size_t n, const char *name, const char *value)
{
	size_t len = strlen(out), start = len;

#define PUT(c)                                                                                     \
	do {                                                                                       \
		if (len + 1 >= n)                                                                  \
			goto full;                                                                 \
		out[len++] = (c);                                                                  \
	} while (0)
	if (len)
		PUT(',');
	for (const char *p = name; *p; p++)
		PUT(*p);
	PUT('=');
	PUT('"');
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"') {
			PUT('\\');
			PUT(*p);
		} else if (*p == '\n') {
			PUT('\\');
			PUT('n');
		} else {
			PUT(*p);
		}
	}
	PUT('"');
	out[len] = '\0';
	return 0;
full:
	out[start] = '\0';
	return -1;
#undef PUT
}

/* Sum of slot values: s and, when it is a table slot, every later ready
 * slot of the same series (a duplicate made past a stuck claim). */
static void series_values(struct segment *seg, size_t i, uint64_t *v)
{
	const struct slot *s = &seg->s[i];

	for (int j = 0; j < NVALUES; j++)
		v[j] = atomic_load_explicit(&s->v[j], memory_order_relaxed);
	if (i < METRICS_NKINDS)
		return;
	for (size_t k = i + 1; k < METRICS_SLOTS; k++) {
		struct slot *d = &seg->s[k];
		if (atomic_load_explicit(&d->state, memory_order_acquire) == SLOT_READY &&
		    d->kind == s->kind && !strcmp(d->labels, s->labels))
			for (int j = 0; j < NVALUES; j++)
				v[j] += atomic_load_explicit(&d->v[j], memory_order_relaxed);
	}
}

static bool seen_before(struct segment *seg, size_t i)
{
	for (size_t k = METRICS_NKINDS; k < i; k++) {
		struct slot *d = &seg->s[k];
		if (atomic_load_explicit(&d->state, memory_order_acquire) == SLOT_READY &&
		    d->kind == seg->s[i].kind && !strcmp(d->labels, seg->s[i].labels))
			return true;
	}
	return false;
}

static int render_series(struct buf *out, const struct family *f, bool histogram,
			 const char *labels, const uint64_t *v)
{
	const char *sep = labels[0] ? "," : "";
	uint64_t cum = 0;
	int rc = 0;

	if (!histogram)
		return buf_printf(out, "%s{%s} %llu\n", f->name, labels, (unsigned long long)v[0]);
	for (int b = 0; b < NBUCKETS && rc == 0; b++) {
		cum += v[b];
		rc = buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", f->name, labels, sep,
				bucket_le[b], (unsigned long long)cum);
	}
	if (rc == 0)
		rc = buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, labels, sep,
				(unsigned long long)v[NBUCKETS]);
	if (rc == 0)
		rc = buf_printf(out, "%s_sum{%s} %.6f\n", f->name, labels,
				(double)v[NBUCKETS + 1] / 1e6);
	if (rc == 0)
		rc = buf_printf(out, "%s_count{%s} %llu\n", f->name, labels,
				(unsigned long long)v[NBUCKETS]);
	return rc;
}

int metrics_render(struct metrics_seg *m, struct buf *out)
{
	struct segment *seg = m->seg;
	uint64_t v[NVALUES];
	int rc = 0;

	for (int k = 0; k < METRICS_NKINDS && rc == 0; k++) {
		const struct family *f = &families[k];
		bool hist = is_histogram((enum metrics_kind)k);

		rc = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
				f->type);
		for (size_t i = METRICS_NKINDS; i < METRICS_SLOTS && rc == 0; i++) {
			struct slot *s = &seg->s[i];
			if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_READY ||
			    s->kind != (uint32_t)k || seen_before(seg, i))
				continue;
			series_values(seg, i, v);
			rc = render_series(out, f, hist, s->labels, v);
		}
		series_values(seg, (size_t)k, v);
		if (rc == 0 && v[hist ? NBUCKETS : 0])
			rc = render_series(out, f, hist, f->other, v);
	}
	if (rc == 0)
		rc = buf_printf(
			out,
			"# HELP clawcgi_open_streams Streamed answers in progress.\n"
			"# TYPE clawcgi_open_streams gauge\n"
			"clawcgi_open_streams %lld\n"
			"# HELP clawcgi_auth_failures_total Requests refused for a missing or "
			"wrong key.\n"
			"# TYPE clawcgi_auth_failures_total counter\n"
			"clawcgi_auth_failures_total %llu\n"
			"# HELP clawcgi_auth_lockouts_total Addresses locked out after too many "
			"failed attempts.\n"
			"# TYPE clawcgi_auth_lockouts_total counter\n"
			"clawcgi_auth_lockouts_total %llu\n"
			"# HELP clawcgi_usage_rows_dropped_total Usage log rows given up: the "
			"store refused them while the retry queue was full.\n"
			"# TYPE clawcgi_usage_rows_dropped_total counter\n"
			"clawcgi_usage_rows_dropped_total %llu\n",
			(long long)atomic_load(&seg->h.open_streams),
			(unsigned long long)atomic_load(&seg->h.auth_failures),
			(unsigned long long)atomic_load(&seg->h.auth_lockouts),
			(unsigned long long)atomic_load(&seg->h.usage_dropped));
	return rc < 0 ? -1 : 0;
}

/* ---- the process's segment and this thread's request ---- */

void metrics_path_for(const char *config_path, char *out, size_t n)
{
	char real[PATH_MAX];
	const char *dir = getenv("CLAWCGI_METRICS_DIR");
	const char *p = config_path && realpath(config_path, real) ? real : config_path;
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, p ? p : "", p ? strlen(p) : 0);

	snprintf(out, n, "%s/clawcgi-metrics-%016llx", dir && dir[0] ? dir : "/dev/shm",
		 (unsigned long long)h);
}

enum { ATTACH_NOT_YET, ATTACH_OK, ATTACH_FAILED };

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int attach_state = ATTACH_NOT_YET;
static struct metrics_seg *process_seg; /* set once, before attach_state says OK */
static char attach_why[512];

static void attach(const char *config_path)
{
	char path[PATH_MAX + 64];

	pthread_mutex_lock(&attach_lock);
	if (atomic_load(&attach_state) == ATTACH_NOT_YET) {
		metrics_path_for(config_path, path, sizeof path);
		process_seg = metrics_open(path, attach_why, sizeof attach_why);
		if (!process_seg)
			log_error("metrics: %s; serving without metrics (/metrics answers 503)",
				  attach_why);
		atomic_store(&attach_state, process_seg ? ATTACH_OK : ATTACH_FAILED);
	}
	pthread_mutex_unlock(&attach_lock);
}

struct metrics_seg *metrics_process_seg(char *why, size_t n)
{
	int st = atomic_load(&attach_state);

	if (st == ATTACH_OK)
		return process_seg;
	snprintf(why, n, "%s", st == ATTACH_FAILED ? attach_why : "not attached");
	return NULL;
}

static _Thread_local struct {
	struct metrics_seg *seg; /* NULL: not counting this request */
	long long start_us, first_us;
	bool stream_open;
	char agent[64];
} cur;

void metrics_request_begin(bool enabled, const char *config_path)
{
	memset(&cur, 0, sizeof cur);
	if (!enabled)
		return;
	if (atomic_load(&attach_state) == ATTACH_NOT_YET)
		attach(config_path);
	if (atomic_load(&attach_state) != ATTACH_OK)
		return;
	cur.seg = process_seg;
	cur.start_us = clock_mono_us();
	cur.first_us = -1;
}

void metrics_request_agent(const char *agent_id)
{
	if (cur.seg)
		snprintf(cur.agent, sizeof cur.agent, "%s", agent_id ? agent_id : "");
}

void metrics_first_token(void)
{
	if (cur.seg && cur.first_us < 0)
		cur.first_us = clock_mono_us();
}

void metrics_stream_opened(void)
{
	if (cur.seg && !cur.stream_open) {
		cur.stream_open = true;
		metrics_streams_add(cur.seg, 1);
	}
}

void metrics_tokens(const char *agent_id, long long in, long long out)
{
	char labels[METRICS_LABELS_MAX] = "";
	const char *l =
		metrics_label(labels, sizeof labels, "agent", agent_id) == 0 ? labels : NULL;

	if (!cur.seg)
		return;
	if (in > 0)
		metrics_add(cur.seg, METRICS_TOKENS_IN, l, (unsigned long long)in, 0);
	if (out > 0)
		metrics_add(cur.seg, METRICS_TOKENS_OUT, l, (unsigned long long)out, 0);
}

void metrics_upstream(enum metrics_kind kind, const char *provider)
{
	char labels[METRICS_LABELS_MAX] = "";

	if (!cur.seg)
		return;
	metrics_add(cur.seg, kind,
		    metrics_label(labels, sizeof labels, "provider", provider) == 0 ? labels : NULL,
		    1, 0);
}

void metrics_note_auth_failure(void)
{
	metrics_auth_failed(cur.seg);
}

void metrics_note_auth_lockout(void)
{
	metrics_auth_locked(cur.seg);
}

void metrics_request_end(const char *endpoint, int status)
{
	char labels[METRICS_LABELS_MAX] = "", code[16];
	long long end = clock_mono_us();

	if (!cur.seg)
		return;
	snprintf(code, sizeof code, "%d", status);
	metrics_label(labels, sizeof labels, "endpoint", endpoint); /* fits: ours */
	metrics_add(cur.seg, METRICS_DURATION, labels, 0, (double)(end - cur.start_us) / 1e6);
	metrics_add(cur.seg, METRICS_REQUESTS,
		    metrics_label(labels, sizeof labels, "agent", cur.agent) == 0 &&
				    metrics_label(labels, sizeof labels, "status", code) == 0
			    ? labels
			    : NULL,
		    1, 0);
	if (cur.first_us >= 0) {
		labels[0] = '\0';
		metrics_add(cur.seg, METRICS_TTFT,
			    metrics_label(labels, sizeof labels, "agent", cur.agent) == 0 ? labels
											  : NULL,
			    0, (double)(cur.first_us - cur.start_us) / 1e6);
	}
	if (cur.stream_open)
		metrics_streams_add(cur.seg, -1);
	memset(&cur, 0, sizeof cur);
}
