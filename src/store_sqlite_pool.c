/*
 * store_sqlite_pool.c - the SQLite backend of store.h, the process's part:
 * a pool of connections (store_sqlite.h) shared by its threads, group
 * commit of the turns its threads store at the same moment, the
 * checkpointer thread that keeps the WAL bounded, the session locks, and
 * store.h's ops table.
 */
#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define POOL_MAX 4
/*
 * WAL checkpoints run on a thread of the store's own (checkpointer), woken
 * by a commit that leaves CHECKPOINT_PAGES more in the WAL than the last
 * checkpoint copied back: a passive checkpoint, and once the WAL holds
 * RESTART_PAGES, a restarting one, after which the next writer starts the
 * WAL over from its beginning.  The file so stays near RESTART_PAGES, and
 * PRAGMA journal_size_limit cuts it back to WAL_LIMIT_BYTES if restarts
 * failed for a while and it grew past that.
 *
 * SQLite's own autocheckpoint runs in the committing request, with an
 * fsync of the WAL and of the database, and while readers keep coming the
 * WAL never starts over, so every later commit paid it again; a passive
 * checkpoint alone never lets it start over while readers keep coming,
 * and the WAL then grows without end (236 MB in make bench).  A truncating
 * checkpoint held writers 12-15 ms, mostly to free the file's blocks; a
 * restarting one 0-4 ms.
 *
 * The restarting checkpoint waits for the readers of the moment, and holds
 * writers meanwhile.  Past RESTART_WAIT_MS it gives up, and tries again
 * RESTART_RETRY_MS later, or sooner once the WAL has grown by another
 * RESTART_PAGES / 4, each time waiting twice as long up to
 * RESTART_WAIT_MAX_MS.  A wait without bound kept writers waiting past
 * their own 15 s under valgrind (one thread at a time, readers that never
 * pause); a fixed 100 ms failed again and again on a busy CPU under ASan,
 * where the checkpoint alone took 40-160 ms, and the WAL grew past 64 MB.
 */
#define CHECKPOINT_PAGES 1000
#define RESTART_PAGES 4096
#define RESTART_WAIT_MS 100
#define RESTART_WAIT_MAX_MS 1600
#define RESTART_RETRY_MS 1000

/*
 * The store: a pool of connections shared by the threads of a process.  A
 * call takes an idle connection (or opens one, up to POOL_MAX; past that
 * it waits for one), runs, and gives it back, so a process holds POOL_MAX
 * connections at most however many threads it runs (each holds three
 * descriptors, its page cache and statements).  Writers of one process
 * queue on write_lock rather than on SQLite's file lock, whose busy
 * handler polls.
 */
struct sqlite_store {
	struct store base;
	pthread_mutex_t lock;
	pthread_cond_t idle_cond;
	struct conn *idle[POOL_MAX]; /* open, not in use */
	int nidle;
	int open;
	pthread_mutex_t write_lock;
	/* group commit (pool_append_turn), under group_lock: the turns
	 * waiting to be written, and whether a thread is writing a group */
	pthread_mutex_t group_lock;
	struct turn_wait *waiting;
	struct turn_wait **waiting_end;
	bool committing;
	dev_t dev; /* the file opened, to notice it deleted or replaced */
	ino_t ino;
	/* the checkpointer thread, started on the first wake-up */
	pthread_cond_t checkpoint_cond;
	pthread_t checkpointer;
	bool checkpointer_started;
	bool checkpoint_wanted;
	/* WAL frames the last checkpoint had copied back (the checkpointer
	 * writes it, each commit's hook reads it) */
	_Atomic int backfilled;
	bool closing;
};

/* mkdir -p of the file's directory (mode 0750). */
static int make_parent(const char *path)
{
	char *copy = strdup(path), *dir;
	struct stat sb;
	int rc = 0;

	if (!copy)
		return -1;
	dir = dirname(copy);
	if (strcmp(dir, ".") && strcmp(dir, "/") && stat(dir, &sb) < 0) {
		if (make_parent(dir) < 0 || (mkdir(dir, 0750) < 0 && errno != EEXIST))
			rc = -1;
	}
	free(copy);
	return rc;
}

static struct conn *pool_conn_open(struct sqlite_store *p, bool migrate_now, struct err *e);

/* Checkpoint whenever woken, on a connection of its own, until closing. */
static void *checkpointer_main(void *arg)
{
	struct sqlite_store *p = arg;
	struct conn *c = NULL;
	/* after a failed restarting checkpoint: no other before next_restart
	 * (ms) unless the WAL reaches retry_pages; wait_ms for the next one */
	long long next_restart = 0;
	int retry_pages = 0, wait_ms = RESTART_WAIT_MS;
	struct err e;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		int log = 0, done = 0;

		while (!p->checkpoint_wanted && !p->closing)
			pthread_cond_wait(&p->checkpoint_cond, &p->lock);
		if (p->closing)
			break;
		p->checkpoint_wanted = false;
		pthread_mutex_unlock(&p->lock);
		if (!c && !(c = pool_conn_open(p, false, &e)))
			log_warn("session store %s: no connection to checkpoint with",
				 p->base.path);
		if (c && conn_checkpoint(c, SQLITE_CHECKPOINT_PASSIVE, 0, &log, &done) == SQLITE_OK)
			atomic_store_explicit(&p->backfilled, done, memory_order_relaxed);
		else
			log = 0;
		if (log >= RESTART_PAGES &&
		    (clock_mono_ms() >= next_restart || log >= retry_pages)) {
			int rc;
			/* this process's writers queue behind it on write_lock
			 * (racing them for SQLite's lock, whose busy handler
			 * polls, it lost to a writer in a loop) */
			pthread_mutex_lock(&p->write_lock);
			rc = conn_checkpoint(c, SQLITE_CHECKPOINT_RESTART, wait_ms, NULL, NULL);
			pthread_mutex_unlock(&p->write_lock);
			if (rc == SQLITE_OK) {
				wait_ms = RESTART_WAIT_MS;
				next_restart = 0;
			} else {
				if (wait_ms < RESTART_WAIT_MAX_MS)
					wait_ms *= 2;
				next_restart = clock_mono_ms() + RESTART_RETRY_MS;
				retry_pages = log + RESTART_PAGES / 4;
			}
		}
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	conn_close(c);
	return NULL;
}

/* After each commit, in the committing thread: wake the checkpointer once
 * CHECKPOINT_PAGES more frames are in the WAL than the last checkpoint
 * copied back (counted from 0 once the WAL has started over).  Woken at
 * every commit past CHECKPOINT_PAGES, as it was, it checkpointed a few
 * frames at a time, with two fdatasyncs each, for each turn stored. */
static int wal_written(void *ctx, sqlite3 *db, const char *name, int pages)
{
	struct sqlite_store *p = ctx;
	int backfilled = atomic_load_explicit(&p->backfilled, memory_order_relaxed);

	(void)db;
	(void)name;
	if (backfilled > pages)
		backfilled = 0;
	if (pages - backfilled >= CHECKPOINT_PAGES) {
		pthread_mutex_lock(&p->lock);
		p->checkpoint_wanted = true;
		if (!p->checkpointer_started && !p->closing)
			p->checkpointer_started =
				pthread_create(&p->checkpointer, NULL, checkpointer_main, p) == 0;
		pthread_cond_signal(&p->checkpoint_cond);
		pthread_mutex_unlock(&p->lock);
	}
	return SQLITE_OK;
}

/* A new connection to the store's file, its commits watched by
 * wal_written; migrate: bring the schema up to date. */
static struct conn *pool_conn_open(struct sqlite_store *p, bool migrate_now, struct err *e)
{
	return conn_open(p->base.path, migrate_now, wal_written, p, e);
}

/* An idle connection of the pool, or a new one, or (POOL_MAX open) the
 * next one given back.  NULL with e set when a new one cannot open. */
static struct conn *conn_get(struct sqlite_store *p, struct err *e)
{
	struct conn *c;

	pthread_mutex_lock(&p->lock);
	while (!p->nidle && p->open >= POOL_MAX)
		pthread_cond_wait(&p->idle_cond, &p->lock);
	if (p->nidle) {
		c = p->idle[--p->nidle];
		pthread_mutex_unlock(&p->lock);
		return c;
	}
	p->open++;
	pthread_mutex_unlock(&p->lock);
	if ((c = pool_conn_open(p, false, e)))
		return c;
	pthread_mutex_lock(&p->lock);
	p->open--;
	pthread_cond_signal(&p->idle_cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void conn_put(struct sqlite_store *p, struct conn *c)
{
	pthread_mutex_lock(&p->lock);
	p->idle[p->nidle++] = c;
	pthread_cond_signal(&p->idle_cond);
	pthread_mutex_unlock(&p->lock);
}

/* ---- the store's operations: each on a connection of the pool ---- */

#define POOL(base) ((struct sqlite_store *)(base))

/* Run CALL (an expression over the connection c) on a pooled connection;
 * WRITES: under the process's write lock. */
#define ON_CONN(base, e, writes, call)                                                             \
	do {                                                                                       \
		struct sqlite_store *p_ = POOL(base);                                              \
		struct conn *c = conn_get(p_, e);                                                  \
		int rc_;                                                                           \
		if (!c)                                                                            \
			return -1;                                                                 \
		if (writes)                                                                        \
			pthread_mutex_lock(&p_->write_lock);                                       \
		rc_ = (call);                                                                      \
		if (writes)                                                                        \
			pthread_mutex_unlock(&p_->write_lock);                                     \
		conn_put(p_, c);                                                                   \
		return rc_;                                                                        \
	} while (0)

static int pool_load_history(struct store *base, const char *agent_id, const char *key, int limit,
			     cJSON **out, struct err *e)
{
	*out = NULL;
	ON_CONN(base, e, false, sq_load_history(c, agent_id, key, limit, out, e));
}

/*
 * Group commit.  A turn joins the waiting list; if no thread of the
 * process is writing, its thread writes every turn waiting, its own and
 * those that joined meanwhile, in one transaction (sq_append_group).
 * Writers of a process queued on write_lock anyway: now a commit, its
 * locks and its pages (a usage leaf, a messages leaf that turns of new
 * sessions share) are paid once per group, not once per turn.
 *
 * The writer then wakes each thread of its group on the thread's own
 * semaphore, and hands the next group to the first turn that came while
 * it wrote.  (With one condition variable for all, every waiting thread
 * woke at once and then queued for the mutex: two more system calls and
 * a context switch a turn.)
 */
static int pool_append_turn(struct store *base, const struct store_turn *t, struct err *e)
{
	struct sqlite_store *p = POOL(base);
	struct turn_wait self = {.t = t, .e = e}, *group, *next, *w;
	struct conn *c;

	sem_init(&self.woken, 0, 0);
	pthread_mutex_lock(&p->group_lock);
	*p->waiting_end = &self;
	p->waiting_end = &self.next;
	if (p->committing) {
		pthread_mutex_unlock(&p->group_lock);
		while (sem_wait(&self.woken) < 0)
			; /* EINTR */
		if (self.done) {
			sem_destroy(&self.woken);
			return self.rc;
		}
		/* handed the next group: its first turn is this one */
		pthread_mutex_lock(&p->group_lock);
	} else {
		/* Alone, this thread first lets the threads that are ready
		 * to run have the CPU once, so those about to store a turn
		 * join it: behind lighttpd at 16 connections a group then
		 * held about 5 turns, not 1.5 (42 -> 33 system calls a
		 * turn, stored turns 10-20 % faster). */
		p->committing = true;
		if (p->waiting == &self && !self.next) {
			pthread_mutex_unlock(&p->group_lock);
			sched_yield();
			pthread_mutex_lock(&p->group_lock);
		}
	}
	/* every turn waiting, in the order they came */
	group = p->waiting;
	p->waiting = NULL;
	p->waiting_end = &p->waiting;
	pthread_mutex_unlock(&p->group_lock);

	if ((c = conn_get(p, e))) {
		pthread_mutex_lock(&p->write_lock);
		sq_append_group(c, group);
		pthread_mutex_unlock(&p->write_lock);
		conn_put(p, c);
	} else {
		for (w = group; w; w = w->next) {
			w->rc = -1;
			if (w != &self)
				*w->e = *e;
		}
	}

	pthread_mutex_lock(&p->group_lock);
	if (!(next = p->waiting))
		p->committing = false;
	pthread_mutex_unlock(&p->group_lock);
	/* a woken thread returns at once, and its turn_wait with it */
	for (w = group; w; w = group) {
		group = w->next;
		if (w != &self) {
			w->done = true;
			sem_post(&w->woken);
		}
	}
	if (next)
		sem_post(&next->woken);
	sem_destroy(&self.woken);
	return self.rc;
}

static int pool_purge(struct store *base, double days, long *deleted, struct err *e)
{
	ON_CONN(base, e, true, sq_purge(c, days, deleted, e));
}

static int pool_list(struct store *base, const char *agent_id,
		     int (*fn)(void *ctx, const struct store_session *row), void *ctx,
		     struct err *e)
{
	ON_CONN(base, e, false, sq_list(c, agent_id, fn, ctx, e));
}

static int pool_show(struct store *base, const char *key,
		     int (*fn)(void *ctx, const char *agent_id, long seq, const cJSON *msg,
			       bool interrupted),
		     void *ctx, long *count, struct err *e)
{
	ON_CONN(base, e, false, sq_show(c, key, fn, ctx, count, e));
}

static int pool_remove(struct store *base, const char *key, long *deleted, struct err *e)
{
	ON_CONN(base, e, true, sq_remove(c, key, deleted, e));
}

static int pool_get_response(struct store *base, const char *id, struct store_response *out,
			     struct err *e)
{
	ON_CONN(base, e, false, sq_get_response(c, id, out, e));
}

static int pool_delete_response(struct store *base, const char *id, long *deleted, struct err *e)
{
	ON_CONN(base, e, true, sq_delete_response(c, id, deleted, e));
}

static int pool_fork(struct store *base, const char *agent_id, const char *from_key, long long upto,
		     const char *to_key, struct err *e)
{
	ON_CONN(base, e, true, sq_fork(c, agent_id, from_key, upto, to_key, e));
}

static int pool_auth_locked(struct store *base, const char *addr, long long now_ms,
			    long long *retry_ms, struct err *e)
{
	ON_CONN(base, e, false, sq_auth_locked(c, addr, now_ms, retry_ms, e));
}

static int pool_auth_failed(struct store *base, const char *addr, long long now_ms, int max,
			    long window_ms, long lockout_ms, long long *retry_ms, struct err *e)
{
	ON_CONN(base, e, true,
		sq_auth_failed(c, addr, now_ms, max, window_ms, lockout_ms, retry_ms, e));
}

static int pool_key_put(struct store *base, const struct store_key *k, bool replace, struct err *e)
{
	ON_CONN(base, e, true, sq_key_put(c, k, replace, e));
}

static int pool_key_get(struct store *base, const char *name, const char *hash,
			struct store_key *out, struct err *e)
{
	ON_CONN(base, e, false, sq_key_get(c, name, hash, out, e));
}

static int pool_key_list(struct store *base, int (*fn)(void *ctx, const struct store_key *k),
			 void *ctx, struct err *e)
{
	ON_CONN(base, e, false, sq_key_list(c, fn, ctx, e));
}

static int pool_key_touch(struct store *base, const char *name, long long now_ms, struct err *e)
{
	ON_CONN(base, e, true, sq_key_touch(c, name, now_ms, e));
}

static int pool_rate_take(struct store *base, const char *client, long long window, long rpm,
			  long tpm, struct store_rate *out, struct err *e)
{
	ON_CONN(base, e, true, sq_rate_take(c, client, window, rpm, tpm, out, e));
}

static int pool_rate_add_tokens(struct store *base, const char *client, long long window,
				long tokens, struct err *e)
{
	ON_CONN(base, e, true, sq_rate_add_tokens(c, client, window, tokens, e));
}

static int pool_rate_reserve(struct store *base, const char *client, long long window, long tpm,
			     long tokens, struct store_rate *out, struct err *e)
{
	ON_CONN(base, e, true, sq_rate_reserve(c, client, window, tpm, tokens, out, e));
}

static int pool_usage_unauth_first(struct store *base, const char *addr, long long minute,
				   bool *first, struct err *e)
{
	ON_CONN(base, e, true, sq_usage_unauth_first(c, addr, minute, first, e));
}

static int pool_usage_add(struct store *base, const struct store_usage *rows, size_t n,
			  struct err *e)
{
	ON_CONN(base, e, true, sq_usage_add(c, rows, n, e));
}

static int pool_usage_scan(struct store *base, long long since, long long until,
			   int (*fn)(void *ctx, const struct store_usage *row), void *ctx,
			   struct err *e)
{
	ON_CONN(base, e, false, sq_usage_scan(c, since, until, fn, ctx, e));
}

static int pool_usage_purge(struct store *base, long long before, long *deleted, struct err *e)
{
	ON_CONN(base, e, true, sq_usage_purge(c, before, deleted, e));
}

/* The file at the path is gone or another one: writes would go to an
 * unlinked file, or a history be read from a stale one. */
static bool pool_moved(struct store *base)
{
	struct sqlite_store *p = POOL(base);
	struct stat st;

	return stat(base->path, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino;
}

/* Every connection is idle by now (the caller holds the last use). */
static void pool_close(struct store *base)
{
	struct sqlite_store *p = POOL(base);

	pthread_mutex_lock(&p->lock);
	p->closing = true;
	pthread_cond_signal(&p->checkpoint_cond);
	pthread_mutex_unlock(&p->lock);
	if (p->checkpointer_started)
		pthread_join(p->checkpointer, NULL);
	while (p->nidle)
		conn_close(p->idle[--p->nidle]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->idle_cond);
	pthread_cond_destroy(&p->checkpoint_cond);
	pthread_mutex_destroy(&p->write_lock);
	pthread_mutex_destroy(&p->group_lock);
	free(p->base.path);
	free(p);
}

/*
 * Session locks (store.h, struct store_lock): one byte of the file
 * PATH-locks beside the database, at the offset of the session's 63-bit
 * hash, write-locked with an open file description lock (F_OFD_SETLK).
 * Such a lock belongs to the descriptor, not the process, so two threads
 * of one process exclude each other as two processes do; letting go (or
 * closing the descriptor) frees it, and so does the kernel when the
 * process dies, however it dies.  The file stays empty (locks past its end
 * are allowed) and nothing in the database changes, so a turn holds no
 * SQLite lock while it waits for its model.  Two sessions whose hashes
 * meet (one pair in 2^63) would only wait for each other.
 *
 * Each thread keeps its descriptor of the file open (lock_fd; O_CLOEXEC,
 * so a command provider's child never holds it): a turn then costs an
 * fstat and two fcntl calls, not a path lookup, an open and a close.  Locks
 * on one descriptor never conflict with each other, so while the thread
 * holds a session on it, a second lock of the thread opens a descriptor of
 * its own (closed when let go), and a child process forgets its parent's
 * (pthread_atfork).  A file deleted while open (a restore that removed it)
 * is opened again from its path, so every process locks the same file.
 */
#define LOCK_SUFFIX "-locks"

static __thread int lock_fd = -1;
static __thread bool lock_fd_held; /* a session is locked on it */
static __thread char lock_fd_path[4200];
static pthread_once_t lock_fork_once = PTHREAD_ONCE_INIT;

static void lock_fork_child(void)
{
	if (lock_fd >= 0)
		close(lock_fd); /* the parent's locks stay the parent's */
	lock_fd = -1;
	lock_fd_held = false;
}

static void lock_fork_init(void)
{
	pthread_atfork(NULL, NULL, lock_fork_child);
}

/* A new descriptor of the lock file of the store at db_path, or -1 with e. */
static int lock_file_open(const char *db_path, struct err *e)
{
	char path[sizeof lock_fd_path];
	struct stat st;
	mode_t mode = 0644;
	bool owned = false;
	int fd;

	if (snprintf(path, sizeof path, "%s" LOCK_SUFFIX, db_path) >= (int)sizeof path)
		return err_set(e, 500, ERR_API, "Session store error: its path is too long.");
	if (stat(db_path, &st) == 0) {
		mode = st.st_mode & 0666; /* whoever may write the store may lock it */
		owned = true;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)) < 0) {
		log_error("session store %s: cannot open %s: %s", db_path, path, strerror(errno));
		return err_set(e, 500, ERR_API, "Session store error: cannot lock the session.");
	}
	/* made by root (a command run by hand), it is the store's owner's, as
	 * SQLite does with its -wal and -shm files */
	if (owned && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)
		log_warn("session store %s: cannot give %s to the store's owner: %s", db_path, path,
			 strerror(errno));
	return fd;
}

/* The thread's descriptor of the lock file (opened again when it is of
 * another store, or was deleted), or -1 with e. */
static int lock_file(const char *db_path, struct err *e)
{
	struct stat st;
	int fd;

	if (lock_fd >= 0 && !strcmp(lock_fd_path, db_path) && fstat(lock_fd, &st) == 0 &&
	    st.st_nlink > 0)
		return lock_fd;
	pthread_once(&lock_fork_once, lock_fork_init);
	if ((fd = lock_file_open(db_path, e)) < 0)
		return -1;
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = fd;
	snprintf(lock_fd_path, sizeof lock_fd_path, "%s", db_path);
	return fd;
}

static int pool_session_trylock(struct store *base, struct store_lock *l, struct err *e)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = l->key, .l_len = 1};
	bool own = lock_fd_held && lock_fd >= 0;
	int fd = own ? lock_file_open(base->path, e) : lock_file(base->path, e);

	if (fd < 0)
		return -1;
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
		l->fd = fd;
		if (!own)
			lock_fd_held = true;
		return 0;
	}
	if (own)
		close(fd);
	if (errno == EAGAIN || errno == EACCES)
		return 1;
	log_error("session store %s: cannot lock its session lock file: %s", base->path,
		  strerror(errno));
	return err_set(e, 500, ERR_API, "Session store error: cannot lock the session.");
}

static void pool_session_unlock(struct store *base, struct store_lock *l)
{
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = l->key, .l_len = 1};

	(void)base;
	if (l->fd >= 0 && l->fd != lock_fd) {
		close(l->fd); /* a descriptor of its own: the lock goes with it */
	} else if (l->fd >= 0) {
		/* the thread's: still open, as it is replaced only while free */
		if (fcntl(l->fd, F_OFD_SETLK, &fl) < 0)
			log_error("session store: cannot let go of a session lock: %s",
				  strerror(errno));
		lock_fd_held = false;
	}
	l->fd = -1;
}

static const struct store_ops sqlite_ops = {
	.moved = pool_moved,
	.load_history = pool_load_history,
	.append_turn = pool_append_turn,
	.purge = pool_purge,
	.list = pool_list,
	.show = pool_show,
	.auth_locked = pool_auth_locked,
	.auth_failed = pool_auth_failed,
	.remove = pool_remove,
	.get_response = pool_get_response,
	.delete_response = pool_delete_response,
	.fork = pool_fork,
	.key_put = pool_key_put,
	.key_get = pool_key_get,
	.key_list = pool_key_list,
	.key_touch = pool_key_touch,
	.rate_take = pool_rate_take,
	.rate_add_tokens = pool_rate_add_tokens,
	.rate_reserve = pool_rate_reserve,
	.usage_unauth_first = pool_usage_unauth_first,
	.usage_add = pool_usage_add,
	.usage_scan = pool_usage_scan,
	.usage_purge = pool_usage_purge,
	.session_trylock = pool_session_trylock,
	.session_unlock = pool_session_unlock,
	.close = pool_close,
};

int store_open_sqlite(const char *path, struct store **out, struct err *e)
{
	struct sqlite_store *p = calloc(1, sizeof *p);
	struct conn *first;
	struct stat st;

	*out = NULL;
	if (!p || !(p->base.path = strdup(path))) {
		free(p);
		err_nomem(e);
		return -1;
	}
	p->base.ops = &sqlite_ops;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle_cond, NULL);
	pthread_cond_init(&p->checkpoint_cond, NULL);
	pthread_mutex_init(&p->write_lock, NULL);
	pthread_mutex_init(&p->group_lock, NULL);
	p->waiting_end = &p->waiting;
	if (make_parent(path) < 0)
		log_error("session store %s: cannot create its directory: %s", path,
			  strerror(errno));
	/* The first connection now: it reports what is wrong with the file
	 * and migrates the schema; the others open as threads need them. */
	if (!(first = pool_conn_open(p, true, e)))
		goto fail;
	p->open = 1;
	p->idle[p->nidle++] = first;
	if (stat(path, &st) < 0) {
		log_error("session store %s: gone as soon as opened: %s", path, strerror(errno));
		err_set(e, 500, ERR_API, "Session store error.");
		goto fail;
	}
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	*out = &p->base;
	return 0;
fail:
	pool_close(&p->base);
	return -1;
}
