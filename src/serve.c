/*
 * serve.c - the two transports clawcgi serves on: FastCGI (worker threads
 * taking turns in an accept loop) and CGI (one request on the process's
 * environment, stdin and stdout).
 *
 * Each FastCGI thread owns one FCGX_Request and one struct worker (its
 * curl handle, so upstream connections are reused across its requests, and
 * its store connection) for its whole life.  Nothing here is shared between
 * threads but the listening socket and the accept mutex; the config
 * snapshot is reference-counted in config_live.c.
 */
#include "serve.h"

#include <errno.h>
#include <poll.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "curl_load.h"
#include "http.h"
#include "log.h"
#include "config_live.h"
#include "router.h"
#include "usage.h"
#include "worker.h"

int serve_max_threads(void)
{
	return SERVE_MAX_THREADS;
}

int serve_limit_fds(int threads)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_error("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return -1;
	}
	rl.rlim_cur = SERVE_FD_LIMIT;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < SERVE_FD_LIMIT)
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_error("setrlimit(RLIMIT_NOFILE, %ld): %s", (long)rl.rlim_cur, strerror(errno));
		return -1;
	}
	if ((long)threads * SERVE_FDS_PER_THREAD + SERVE_FDS_RESERVED > (long)rl.rlim_cur) {
		log_error("%d threads do not fit in %ld descriptors (each thread may "
			  "hold %d; libfcgi cannot use descriptors past 1023): use at most "
			  "%d threads per process and run more processes",
			  threads, (long)rl.rlim_cur, SERVE_FDS_PER_THREAD,
			  (int)(((long)rl.rlim_cur - SERVE_FDS_RESERVED) / SERVE_FDS_PER_THREAD));
		return -1;
	}
	return 0;
}

/* ---- FastCGI transport ---- */

/* One FastCGI connection of a worker thread: the request, and the receive
 * timeout (SO_RCVTIMEO, ms, 0: none) now set on its socket. */
struct fcgi_conn {
	FCGX_Request rq;
	int rcv_timeout_ms;
};

/* The timeout a read may wait, ms (0: none): set on the socket only when it
 * differs from what is set by more than a second (one system call a
 * request, not two a read), so a read may overrun its deadline by at most
 * that. */
static void read_timeout(struct fcgi_conn *fc, int ms)
{
	int cur = fc->rcv_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (ms == cur || (ms > 0 && cur > 0 && ms <= cur && cur - ms <= 1000))
		return;
	if (setsockopt(fc->rq.ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0)
		fc->rcv_timeout_ms = ms;
}

/*
 * libfcgi reads with a blocking read(): the socket's receive timeout bounds
 * each read it makes, and a read that timed out leaves EAGAIN as the
 * stream's error.  Bytes libfcgi already holds of the current record are
 * taken without a system call (fcgiapp.h's FCGX_Stream: rdNext..stop).
 */
static long fcgi_read(void *ctx, char *p, size_t n, int timeout_ms)
{
	struct fcgi_conn *fc = ctx;
	FCGX_Stream *in = fc->rq.in;
	long held = in ? (long)(in->stop - in->rdNext) : 0;
	int got, err;

	if (n > 65536)
		n = 65536;
	if (held > 0 && (size_t)held < n)
		n = (size_t)held;
	else if (held <= 0)
		read_timeout(fc, timeout_ms < 0 ? 0 : timeout_ms > 0 ? timeout_ms : 1);
	got = FCGX_GetStr(p, (int)n, in);
	err = FCGX_GetError(in);
	if (err == EAGAIN || err == EWOULDBLOCK)
		return HTTP_READ_TIMEOUT;
	if (got < 0 || err)
		return -1;
	return got;
}

static int fcgi_write(void *ctx, const char *p, size_t n)
{
	FCGX_Request *rq = &((struct fcgi_conn *)ctx)->rq;
	while (n > 0) {
		int chunk = n > 65536 ? 65536 : (int)n;
		if (FCGX_PutStr(p, chunk, rq->out) != chunk)
			return -1;
		p += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

static int fcgi_flush(void *ctx)
{
	FCGX_Request *rq = &((struct fcgi_conn *)ctx)->rq;
	return FCGX_FFlush(rq->out) < 0 ? -1 : 0;
}

static const char *fcgi_param(void *ctx, const char *name)
{
	FCGX_Request *rq = &((struct fcgi_conn *)ctx)->rq;
	return FCGX_GetParam(name, rq->envp);
}

/*
 * Every web server closes the FastCGI connection when its client leaves
 * (DEPLOY-NOTES.md); the peer's close shows on the socket as POLLRDHUP
 * without our writing anything, so a silent model is cancelled too.
 */
static int fcgi_closed(void *ctx)
{
	FCGX_Request *rq = &((struct fcgi_conn *)ctx)->rq;
	struct pollfd p = {rq->ipcFd, POLLRDHUP, 0};

	if (rq->ipcFd < 0 || poll(&p, 1, 0) <= 0)
		return 0;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) ? 1 : 0;
}

/*
 * Whether the connection may close at once.  libfcgi closes one with
 * shutdown(SHUT_WR) and then waits, up to 2 s, for the server to close its
 * side, reading and dropping what comes: over TCP a close with unread bytes
 * in the socket sends a reset, and a reset can make the server drop the
 * answer it has not read yet.  That wait costs every request a sleep and a
 * wake-up.  Once the end of FCGI_STDIN was read, the server has sent all
 * it will for this request; if nothing is left unread in the socket either,
 * a plain close sends a FIN behind the answer.  (FCGX_Detach's one effect
 * on a request that closes its connection is to skip that wait.)
 */
static bool close_now(FCGX_Request *rq)
{
	char c;
	ssize_t n;

	if (rq->keepConnection || !rq->in || !rq->in->isClosed || FCGX_GetError(rq->in))
		return false;
	n = recv(rq->ipcFd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/* This request's log lines: one FCGI_STDERR record each, flushed, so the
 * server logs them as they happen, one line each. */
static int fcgi_log(void *ctx, const char *line, size_t n)
{
	FCGX_Request *rq = ctx;

	if (!rq->err || FCGX_PutStr(line, (int)n, rq->err) != (int)n)
		return -1;
	return FCGX_FFlush(rq->err) < 0 ? -1 : 0;
}

struct serve_thread {
	pthread_t thread;
	int listen_fd;
	int id;
};

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * After a large request (its parse trees, copies and answer may take many
 * times the body), give the freed memory back to the system.  glibc keeps
 * freed chunks in its arenas (one per busy thread) and returns only a free
 * top: without this a worker that once read a few 20 MiB bodies kept
 * 900 MB (make bench, "memory").  malloc_trim(0) walks every arena and
 * releases its free pages; its cost only matters after requests this big.
 *
 * It does not shrink a thread arena's free top, which only free() trims,
 * past M_TRIM_THRESHOLD; and glibc raises that threshold (to twice the
 * largest block ever given back by munmap) as soon as one big buffer is
 * freed, so each arena kept a 20 MB top.  Fixed thresholds (malloc_tune)
 * keep big buffers in their own mappings and arena tops small.
 */
static void malloc_tune(void)
{
	mallopt(M_MMAP_THRESHOLD, SERVE_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, SERVE_TRIM_THRESHOLD);
}

static void trim_after(long long body_bytes)
{
	if (body_bytes >= SERVE_TRIM_AFTER_BYTES)
		malloc_trim(0);
}

/*
 * FCGX_Accept_r answers -errno.  Out of descriptors or memory for the
 * moment (the budget in serve.h should never let a process run out, but
 * another library might): the connection waits in the listen queue, and
 * the thread tries again after a pause rather than stopping.
 */
static bool accept_retry(int id, int err)
{
	struct timespec pause = {0, 100 * 1000 * 1000};

	if (err == EINTR || err == ECONNABORTED)
		return true;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return false;
	log_warn("worker %d: cannot accept a connection for now: %s", id, strerror(err));
	nanosleep(&pause, NULL);
	return true;
}

static void *worker_main(void *arg)
{
	struct serve_thread *th = arg;
	struct fcgi_conn fc = {.rcv_timeout_ms = 0};
	FCGX_Request *rq = &fc.rq;
	struct worker w = WORKER_INIT; /* the curl handle and store on first use */

	if (FCGX_InitRequest(rq, th->listen_fd, 0) != 0) {
		log_error("worker %d: FCGX_InitRequest failed", th->id);
		return NULL;
	}
	for (;;) {
		struct http_io io = {fcgi_read,	 fcgi_write,  fcgi_flush,
				     fcgi_param, fcgi_closed, &fc};
		struct http_req r;
		long long body_bytes = 0;
		int rc;

		pthread_mutex_lock(&accept_lock);
		rc = FCGX_Accept_r(rq);
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0 && accept_retry(th->id, -rc))
			continue;
		if (rc < 0) {
			log_error("worker %d: accept failed (%d); thread stops", th->id, rc);
			break;
		}
		log_set_sink(fcgi_log, rq);
		if (http_req_init(&r, &io) == 0) {
			body_bytes = r.content_length;
			router_handle(&r, &w);
			http_req_free(&r);
		} else {
			log_error("out of memory reading a request");
		}
		log_set_sink(NULL, NULL);
		/* a connection the server keeps (FCGI_KEEP_CONN) waits for its
		 * next request without a timeout; any other closes now */
		if (rq->keepConnection)
			read_timeout(&fc, 0);
		else if (close_now(rq))
			FCGX_Detach(rq);
		FCGX_Finish_r(rq);
		fc.rcv_timeout_ms = 0;
		trim_after(body_bytes);
	}
	FCGX_Free(rq, 1);
	worker_free(&w);
	return NULL;
}

/* libfcgi's process-wide set-up, done once whichever entry comes first. */
static int fcgi_init(void)
{
	static bool done;

	if (!done && FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return -1;
	}
	done = true;
	return 0;
}

int serve_listen(const char *addr)
{
	int fd;

	if (fcgi_init() < 0)
		return -1;
	fd = FCGX_OpenSocket(addr, 128);
	if (fd < 0)
		log_error("cannot listen on %s", addr);
	return fd;
}

bool serve_is_fastcgi(void)
{
	return fcgi_init() == 0 && !FCGX_IsCGI();
}

int serve_fastcgi(int listen_fd, int threads)
{
	struct serve_thread *th;
	pthread_attr_t attr;
	int started = 0;

	if (fcgi_init() < 0)
		return -1;
	/* A long-lived process loads libcurl now rather than in its first
	 * request; without it only the HTTP providers fail (logged). */
	curl_load();
	malloc_tune();
	usage_start();
	th = calloc((size_t)threads, sizeof *th);
	if (!th)
		return -1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SERVE_THREAD_STACK);
	for (int i = 0; i < threads; i++) {
		th[i].listen_fd = listen_fd;
		th[i].id = i;
		if (pthread_create(&th[i].thread, &attr, worker_main, &th[i]) != 0) {
			log_error("cannot start worker thread %d: %s", i, strerror(errno));
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	log_info("serving FastCGI with %d threads", started);
	for (int i = 0; i < started; i++)
		pthread_join(th[i].thread, NULL);
	free(th);
	return started ? 0 : -1;
}

/* ---- CGI transport: one request, environment + stdin/stdout ---- */

struct cgi {
	long long left; /* body bytes still to read, -1 = until EOF */
};

static long cgi_read(void *ctx, char *p, size_t n, int timeout_ms)
{
	struct cgi *c = ctx;
	struct pollfd in = {STDIN_FILENO, POLLIN, 0};
	ssize_t got;
	int ready;

	if (c->left == 0)
		return 0;
	if (c->left > 0 && (long long)n > c->left)
		n = (size_t)c->left;
	do
		ready = poll(&in, 1, timeout_ms);
	while (ready < 0 && errno == EINTR);
	if (ready == 0)
		return HTTP_READ_TIMEOUT;
	do
		got = read(STDIN_FILENO, p, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -1;
	if (c->left > 0)
		c->left -= got;
	return got;
}

static int cgi_write(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int cgi_flush(void *ctx)
{
	(void)ctx;
	return fflush(stdout) == 0 ? 0 : -1;
}

static const char *cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

/*
 * Apache ends a CGI program whose client left with SIGTERM (then SIGKILL
 * 3 s later), often before the next write could fail.  Here SIGTERM means
 * "the client is gone": the turn is cancelled and what the client got is
 * stored as interrupted, as a failed write would, and the process exits.
 */
static volatile sig_atomic_t cgi_terminated;

static void cgi_on_term(int sig)
{
	(void)sig;
	cgi_terminated = 1;
}

/* The reader of our stdout gone (POLLHUP on a socket, POLLERR on a pipe),
 * or SIGTERM.  POLLRDHUP is not asked for: a server may half-close its
 * side once the body is sent. */
static int cgi_closed(void *ctx)
{
	struct pollfd p = {STDOUT_FILENO, 0, 0};

	(void)ctx;
	if (cgi_terminated)
		return 1;
	if (poll(&p, 1, 0) <= 0)
		return 0;
	return (p.revents & (POLLHUP | POLLERR)) ? 1 : 0;
}

int serve_cgi(void)
{
	struct cgi c = {-1};
	struct http_io io = {cgi_read, cgi_write, cgi_flush, cgi_param, cgi_closed, &c};
	struct http_req r;
	struct worker w = WORKER_INIT; /* libcurl only if the request needs it */
	struct sigaction sa;
	int rc = -1;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = cgi_on_term; /* no SA_RESTART: a blocked read returns */
	sigaction(SIGTERM, &sa, NULL);
	if (http_req_init(&r, &io) == 0) {
		/* Apache wants the whole body read before we answer, and
		 * stdin may stay open: read exactly CONTENT_LENGTH bytes. */
		c.left = r.content_length >= 0 ? r.content_length : 0;
		router_handle(&r, &w);
		fflush(stdout);
		{
			/* One request a process: its usage row now. */
			struct cfg *cf = cfg_acquire();
			usage_flush(&w, cf);
			cfg_release(cf);
		}
		/* A request refused before its body was read (401, 413): Apache
		 * resets the connection unless the body is consumed; a body that
		 * stalls (408) is left after a second without a byte. */
		{
			char sink[16384];
			while (cgi_read(&c, sink, sizeof sink, 1000) > 0)
				;
		}
		http_req_free(&r);
		rc = 0;
	}
	worker_free(&w);
	return rc;
}
