/*
 * serve.h - serving requests: FastCGI worker threads on a listening socket,
 * or one CGI request on stdin/stdout.
 */
#ifndef CLAW_SERVE_H
#define CLAW_SERVE_H

#include <stdbool.h>

/* Descriptors one worker thread may hold at once (FastCGI connection,
 * upstream sockets, SQLite files, a session's lock file or PostgreSQL
 * connection, a command's pipes). */
#define SERVE_FDS_PER_THREAD 8
/* Descriptors kept for the process itself (stdio, listening socket, log...). */
#define SERVE_FDS_RESERVED 32
#define SERVE_FD_LIMIT 1024
/* The most threads a process may run, (1024 - 32) / 8 = 124, and the
 * default: an idle thread costs about 30 KiB, one holding a stream about
 * 100 KiB more (make bench, "streams"). */
#define SERVE_MAX_THREADS ((SERVE_FD_LIMIT - SERVE_FDS_RESERVED) / SERVE_FDS_PER_THREAD)
#define SERVE_DEFAULT_THREADS SERVE_MAX_THREADS
/* A worker thread's stack.  Its own use is a few KiB; the deepest is a
 * request body nested 1000 deep (cJSON's limit), parsed and checked
 * recursively.  Untouched pages cost no memory, only address space. */
#define SERVE_THREAD_STACK (1024 * 1024)
/* A request body this large or larger: the worker returns freed memory to
 * the system after it (serve.c, trim_after). */
#define SERVE_TRIM_AFTER_BYTES (1024 * 1024)
/* malloc: blocks from this size up get mappings of their own, and a free
 * top of an arena past the trim threshold is given back. */
#define SERVE_MMAP_THRESHOLD (256 * 1024)
#define SERVE_TRIM_THRESHOLD (1024 * 1024)

/*
 * Set the soft RLIMIT_NOFILE to 1024 (libfcgi uses select(), so no
 * descriptor may reach FD_SETSIZE) and check that threads fit under it.
 * Returns 0, or -1 with the reason logged.
 */
int serve_limit_fds(int threads);

/* The largest thread count that fits under the descriptor limit. */
int serve_max_threads(void);

/* Listen for FastCGI on addr (":PORT", "HOST:PORT" or a Unix socket path,
 * as libfcgi's FCGX_OpenSocket reads it): the socket, or -1 (logged). */
int serve_listen(const char *addr);

/* true when started by a FastCGI server (a listening socket on stdin),
 * false for CGI or a terminal. */
bool serve_is_fastcgi(void);

/* Serve FastCGI on listen_fd with n worker threads until every thread has
 * stopped (a fatal accept error).  0 when any thread ran, -1 when none
 * could start (logged). */
int serve_fastcgi(int listen_fd, int threads);

/* Answer the one CGI request this process was started for.  0, or -1 when
 * out of memory before any answer. */
int serve_cgi(void);

#endif
