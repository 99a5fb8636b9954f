/*
 * store_lock_check.h - the session lock checks (store.h, store_session_lock)
 * every backend passes alike, included by test_store_sqlite.c and
 * test_store_pg.c: a held session is busy to every other holder (thread or
 * process) and free to other sessions, a second locker waits its wait out
 * or gets the lock once the first lets go, a stopped wait ends, and a
 * process killed while holding one lets it go.
 */
#ifndef CLAW_TEST_STORE_LOCK_CHECK_H
#define CLAW_TEST_STORE_LOCK_CHECK_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "store.h"

/* A second turn asking for a session on a thread of its own. */
struct lock_waiter {
	struct store *s;
	const char *key;
	int wait_seconds;
	bool stop;
	int rc;
	long long ms; /* how long it waited */
	atomic_bool done;
	struct store_lock l;
};

static int lock_stop_now(void *ctx)
{
	(void)ctx;
	return -1;
}

static void *lock_waiter_main(void *arg)
{
	struct lock_waiter *w = arg;
	long long t0 = clock_mono_ms();
	struct err e;

	w->rc = store_session_lock(w->s, "main", w->key, w->wait_seconds,
				   w->stop ? lock_stop_now : NULL, NULL, &w->l, &e);
	w->ms = clock_mono_ms() - t0;
	atomic_store(&w->done, true);
	return NULL;
}

/* A process of its own holding (main, key) of the store spec names until
 * it is killed; its pid, or -1.  It writes one byte to say it holds it. */
static pid_t lock_holder_process(const char *spec, const char *key)
{
	int fds[2];
	char ok = 0;
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		struct store *s;
		struct store_lock l;
		struct err e;
		close(fds[0]);
		if (store_open(spec, &s, &e) == 0 &&
		    store_session_lock(s, "main", key, 0, NULL, NULL, &l, &e) == 0 &&
		    write(fds[1], "y", 1) == 1)
			for (;;)
				pause();
		_exit(1);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &ok, 1) != 1 || ok != 'y') {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = -1;
	}
	close(fds[0]);
	return pid;
}

static void check_session_locks(const char *spec)
{
	struct store *s;
	struct store_lock a, b;
	struct err e;
	long long t0;
	int rc;

	if (store_open(spec, &s, &e) < 0) {
		CHECK(0, "session locks: the store opens");
		return;
	}
	CHECK(store_session_lock(s, "main", "k", 0, NULL, NULL, &a, &e) == 0 && a.store == s,
	      "session lock: a free session is held at once");
	CHECK_INT(store_session_lock(s, "main", "k", 0, NULL, NULL, &b, &e), 1,
		  "session lock: a held session is busy to a second locker (wait 0: at once)");
	CHECK(b.store == NULL, "session lock: the busy one holds nothing");
	rc = store_session_lock(s, "main", "other", 0, NULL, NULL, &b, &e);
	store_session_unlock(&b);
	CHECK_INT(rc, 0, "session lock: another session of the agent is not held");
	rc = store_session_lock(s, "second", "k", 0, NULL, NULL, &b, &e);
	store_session_unlock(&b);
	CHECK_INT(rc, 0, "session lock: the same key of another agent is not held");

	t0 = clock_mono_ms();
	rc = store_session_lock(s, "main", "k", 1, NULL, NULL, &b, &e);
	t0 = clock_mono_ms() - t0;
	CHECK(rc == 1 && t0 >= 1000 && t0 < 3000,
	      "session lock: a second locker waits its lockWaitSeconds, then gives up");

	{
		struct lock_waiter w = {.s = s, .key = "k", .wait_seconds = 10};
		pthread_t th;
		pthread_create(&th, NULL, lock_waiter_main, &w);
		usleep(300 * 1000);
		CHECK(!atomic_load(&w.done), "session lock: the second locker waits while held");
		store_session_unlock(&a);
		CHECK(a.store == NULL, "session lock: unlocked, the first holds nothing");
		pthread_join(th, NULL);
		CHECK(w.rc == 0 && w.ms >= 300 && w.ms < 2000,
		      "session lock: the second gets the lock once the first lets go");
		CHECK_INT(store_session_lock(s, "main", "k", 0, NULL, NULL, &a, &e), 1,
			  "session lock: which then holds it in turn");
		store_session_unlock(&w.l);
		store_session_unlock(&w.l); /* twice: nothing */
		CHECK_INT(store_session_lock(s, "main", "k", 0, NULL, NULL, &a, &e), 0,
			  "session lock: let go by the second, it is free again");
	}
	{
		struct lock_waiter w = {.s = s, .key = "k", .wait_seconds = 10, .stop = true};
		pthread_t th;
		pthread_create(&th, NULL, lock_waiter_main, &w);
		pthread_join(th, NULL);
		CHECK(w.rc == 2 && w.ms < 2000,
		      "session lock: a waiter whose caller stops (the client left) ends its wait");
		store_session_unlock(&a);
	}
	{
		pid_t pid = lock_holder_process(spec, "dead");
		CHECK(pid > 0, "session lock: another process holds a session");
		CHECK_INT(store_session_lock(s, "main", "dead", 0, NULL, NULL, &b, &e), 1,
			  "session lock: held by another process, it is busy here");
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		t0 = clock_mono_ms();
		rc = store_session_lock(s, "main", "dead", 5, NULL, NULL, &b, &e);
		t0 = clock_mono_ms() - t0;
		CHECK(rc == 0 && t0 < 3000,
		      "session lock: a lock held by a killed process is let go");
		store_session_unlock(&b);
	}
	store_close(s);
}

#endif
