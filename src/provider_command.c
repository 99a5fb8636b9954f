/*
 * provider_command.c - the "command" provider: runs a local program as the
 * model.
 *
 * The configured argv is started directly (posix_spawnp, no shell; the
 * program is looked up in this process's PATH) in a process group of its
 * own, with only the environment the config names and no other descriptor
 * of ours.  It gets the request as one JSON document on stdin:
 *   {"model", "system", "messages", "params", "stream"}
 * and whatever it writes to stdout is the answer, relayed as it comes (cut
 * on UTF-8 character boundaries).  Its stderr goes to the log.  A non-zero
 * exit or death by a signal is an upstream error; timeoutSeconds or a
 * client that left kills the whole process group.
 *
 * A run is spawn_command (pipes and the child), relay_output (feed stdin,
 * relay stdout, log stderr until both close) and reap_command (its exit
 * status); prov_command_run strings them together.
 */
#include "provider.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mask.h"
#include "utf8.h"

/* stderr held while waiting for a line's end; what does not fit is dropped */
#define CMD_STDERR_MAX 65536
/* the longest stderr line logged */
#define CMD_STDERR_LINE 500

/* One running command: its process, our ends of its pipes, what is in flight. */
struct cmd_child {
	pid_t pid;     /* leads its process group; -1 once reaped */
	int stdin_fd;  /* we write the request here; -1 once all written */
	int stdout_fd; /* its answer; -1 at end of file */
	int stderr_fd; /* its complaints; -1 at end of file */
	char *input;   /* the request JSON */
	size_t input_len;
	size_t input_off;   /* bytes of input it has taken */
	struct buf pending; /* stdout ending in a character not complete yet */
	struct buf errbuf;  /* stderr not logged yet: a partial line */
	time_t deadline;    /* timeoutSeconds from the start */
};

static char *request_json(const struct prov_request *rq)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "model", rq->model);
	if (rq->system_text)
		cJSON_AddStringToObject(o, "system", rq->system_text);
	else
		cJSON_AddNullToObject(o, "system");
	cJSON_AddItemToObject(o, "messages", cJSON_Duplicate(rq->messages, 1));
	cJSON_AddItemToObject(o, "params",
			      rq->params ? cJSON_Duplicate(rq->params, 1) : cJSON_CreateObject());
	cJSON_AddBoolToObject(o, "stream", rq->stream);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* Each whole line is masked (mask.h) before it is cut to CMD_STDERR_LINE,
 * so a secret the program prints is never logged, not even its start. */
static void log_stderr(const char *name, struct buf *err, bool flush_all)
{
	char *nl;

	while (err->len && ((nl = memchr(err->data, '\n', err->len)) || flush_all)) {
		size_t n = nl ? (size_t)(nl - err->data) : err->len;
		struct buf line = BUF_INIT;

		if (mask_global_buf(err->data, n, false, &line) == 0) {
			size_t shown = line.len > CMD_STDERR_LINE ? CMD_STDERR_LINE : line.len;
			log_warn("command provider %s: %.*s", name, (int)shown, buf_str(&line));
		}
		buf_free(&line);
		n = nl ? n + 1 : n;
		memmove(err->data, err->data + n, err->len - n);
		buf_truncate(err, err->len - n);
	}
}

static int client_left(struct prov_result *res, struct err *e)
{
	res->cancelled = true;
	return err_set(e, 499, ERR_API, "client disconnected");
}

static int timed_out(const struct cfg_provider *pv, struct err *e)
{
	return err_set(e, 504, ERR_UPSTREAM, "The command provider '%s' timed out after %d s.",
		       pv->name, pv->timeout_seconds);
}

/*
 * The child's file actions: the pipes become its stdin, stdout and stderr,
 * and everything else is closed.  Our pipes are O_CLOEXEC already, but the
 * web server's sockets and the SQLite store need not be: closefrom keeps
 * them (and other requests' pipes, if they lack O_CLOEXEC) out of the child.
 */
static int spawn_actions(posix_spawn_file_actions_t *fa, const int child_fd[3])
{
	int rc;

	for (int fd = 0; fd < 3; fd++) {
		rc = posix_spawn_file_actions_adddup2(fa, child_fd[fd], fd);
		if (rc)
			return rc;
	}
	return posix_spawn_file_actions_addclosefrom_np(fa, 3);
}

/*
 * The child's attributes.  A process group of its own (pgroup 0: its PID),
 * so a timeout or a client that left kills what it started too; posix_spawn
 * returns only once the child has exec'd or failed, so the group exists
 * when we may kill it.  Default signal dispositions, because exec keeps
 * an ignored signal ignored: we ignore SIGPIPE (a client gone shows as a
 * failed write), and a program that inherited that would not die when what
 * reads its output goes away.  SIGTERM and SIGINT too, and SIGHUP and
 * SIGQUIT, which nohup or a shell's background job leave ignored in the
 * server.  And an empty signal mask, which exec keeps as well: the calling
 * thread's mask is no business of the program.
 */
static int spawn_attrs(posix_spawnattr_t *at)
{
	sigset_t def, none;
	int rc;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGQUIT);
	rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
						  POSIX_SPAWN_SETSIGMASK);
	if (!rc)
		rc = posix_spawnattr_setpgroup(at, 0);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(at, &def);
	if (!rc)
		rc = posix_spawnattr_setsigmask(at, &none);
	return rc;
}

/*
 * The file actions and attributes above, made: 0, or an error number with
 * nothing left to destroy.
 */
static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, const int child_fd[3])
{
	int rc = posix_spawn_file_actions_init(fa);

	if (rc)
		return rc;
	rc = posix_spawnattr_init(at);
	if (rc) {
		posix_spawn_file_actions_destroy(fa);
		return rc;
	}
	rc = spawn_actions(fa, child_fd);
	if (!rc)
		rc = spawn_attrs(at);
	if (rc) {
		posix_spawnattr_destroy(at);
		posix_spawn_file_actions_destroy(fa);
	}
	return rc;
}

/*
 * Start the command: three pipes and the child; sets c->pid and our ends of
 * the pipes.  Returns 0, or -1 with e set (what c holds is the caller's to
 * release either way).
 */
static int spawn_command(const struct cfg_provider *pv, struct cmd_child *c, struct err *e)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc = -1, erc;

	/*
	 * O_CLOEXEC: not inherited by a program another thread starts meanwhile.
	 * Our end of stdin is non-blocking (the child's end stays blocking): the
	 * child may read its input slowly or not at all.
	 */
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    fcntl(in[1], F_SETFL, O_NONBLOCK) < 0) {
		log_error("command provider %s: pipe: %s", pv->name, strerror(errno));
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' could not start.",
			pv->name);
		goto out;
	}
	erc = spawn_setup(&fa, &at, (const int[3]){in[0], out[1], errp[1]});
	if (erc) {
		log_error("command provider %s: posix_spawn setup: %s", pv->name, strerror(erc));
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' could not start.",
			pv->name);
		goto out;
	}
	/* searched in our PATH; a failed exec (not found, not executable) comes back as erc */
	erc = posix_spawnp(&c->pid, pv->command[0], &fa, &at, pv->command, pv->env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (erc) {
		c->pid = -1;
		log_error("command provider %s: cannot run %s: %s", pv->name, pv->command[0],
			  strerror(erc));
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' could not be run.",
			pv->name);
		goto out;
	}
	c->stdin_fd = in[1];
	c->stdout_fd = out[0];
	c->stderr_fd = errp[0];
	in[1] = out[0] = errp[0] = -1;
	rc = 0;
out:
	/* the child's ends: our copies must go, or its stdout never reaches end of file */
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return rc;
}

/* Write what the child will take of the request now. */
static void feed_input(struct cmd_child *c)
{
	ssize_t w = write(c->stdin_fd, c->input + c->input_off, c->input_len - c->input_off);

	if (w > 0)
		c->input_off += (size_t)w;
	if (w < 0 && errno != EAGAIN) /* EPIPE: it does not read; fine */
		c->input_off = c->input_len;
	if (c->input_off >= c->input_len) {
		close(c->stdin_fd); /* its end of file */
		c->stdin_fd = -1;
	}
}

/* Read stdout and pass on what ends on a character boundary. */
static int relay_stdout(struct cmd_child *c, struct prov_sink *sink, struct prov_result *res,
			struct err *e)
{
	char chunk[8192];
	ssize_t n = read(c->stdout_fd, chunk, sizeof chunk);
	size_t keep;

	if (n <= 0) {
		close(c->stdout_fd);
		c->stdout_fd = -1;
		return 0;
	}
	if (buf_append(&c->pending, chunk, (size_t)n) < 0)
		return err_nomem(e);
	keep = utf8_incomplete_tail(c->pending.data, c->pending.len);
	if (c->pending.len == keep)
		return 0;
	if (prov_text(sink, c->pending.data, c->pending.len - keep) < 0)
		return client_left(res, e);
	memmove(c->pending.data, c->pending.data + c->pending.len - keep, keep);
	buf_truncate(&c->pending, keep);
	return 0;
}

/* Read stderr and log the lines it completes. */
static int collect_stderr(const struct cfg_provider *pv, struct cmd_child *c, struct err *e)
{
	char chunk[4096];
	ssize_t n = read(c->stderr_fd, chunk, sizeof chunk);

	if (n <= 0) {
		close(c->stderr_fd);
		c->stderr_fd = -1;
	} else if (buf_append(&c->errbuf, chunk, (size_t)n) == BUF_NO_MEMORY) {
		return err_nomem(e);
	}
	/* BUF_TOO_BIG: CMD_STDERR_MAX bytes and no line end yet; the chunk is dropped */
	log_stderr(pv->name, &c->errbuf, false);
	return 0;
}

/*
 * Feed the request to the child and relay its answer until it closes
 * stdout and stderr; about once a second sink->idle.  Returns 0, or -1 with
 * e set (the child is left running for the caller to kill).
 */
static int relay_output(const struct cfg_provider *pv, struct cmd_child *c, struct prov_sink *sink,
			struct prov_result *res, struct err *e)
{
	time_t last_idle = time(NULL);

	while (c->stdout_fd >= 0 || c->stderr_fd >= 0) {
		/* poll skips the negative descriptors of closed pipes */
		struct pollfd p[3] = {
			{c->stdin_fd, POLLOUT, 0},
			{c->stdout_fd, POLLIN, 0},
			{c->stderr_fd, POLLIN, 0},
		};
		time_t now = time(NULL);

		if (now >= c->deadline)
			return timed_out(pv, e);
		if (now != last_idle && sink->idle) {
			last_idle = now;
			if (sink->idle(sink) < 0)
				return client_left(res, e);
		}
		if (poll(p, 3, 1000) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			feed_input(c);
		if (p[1].revents && relay_stdout(c, sink, res, e) < 0)
			return -1;
		if (p[2].revents && collect_stderr(pv, c, e) < 0)
			return -1;
	}
	if (c->pending.len && prov_text(sink, c->pending.data, c->pending.len) < 0)
		return client_left(res, e);
	log_stderr(pv->name, &c->errbuf, true);
	return 0;
}

/*
 * Collect the exit status.  stdout is closed, but the process may linger
 * (it closed stdout early, or a child of its holds it): wait, bounded by
 * the deadline.  Returns 0 for exit status 0, else -1 with e set (the child
 * is left for the caller to kill when it is still there).
 */
static int reap_command(const struct cfg_provider *pv, struct cmd_child *c, struct err *e)
{
	int status = 0;

	for (;;) {
		pid_t w = waitpid(c->pid, &status, WNOHANG);

		if (w == c->pid)
			break;
		if (w < 0 && errno != EINTR) {
			log_error("command provider %s: waitpid: %s", pv->name, strerror(errno));
			return err_set(e, 502, ERR_UPSTREAM,
				       "The command provider '%s' could not be run.", pv->name);
		}
		if (time(NULL) >= c->deadline)
			return timed_out(pv, e);
		usleep(20000);
	}
	c->pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* 127: the shell's "command not found", e.g. a script's program is missing */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' could not be run.",
			       pv->name);
	if (WIFEXITED(status))
		return err_set(e, 502, ERR_UPSTREAM,
			       "The command provider '%s' exited with status %d.", pv->name,
			       WEXITSTATUS(status));
	return err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' was killed by signal %d.",
		       pv->name, WTERMSIG(status));
}

/* Kill what is left of the child's process group, reap it, release the rest. */
static void end_command(struct cmd_child *c)
{
	if (c->pid > 0) {
		kill(-c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
	}
	if (c->stdin_fd >= 0)
		close(c->stdin_fd);
	if (c->stdout_fd >= 0)
		close(c->stdout_fd);
	if (c->stderr_fd >= 0)
		close(c->stderr_fd);
	buf_free(&c->pending);
	buf_free(&c->errbuf);
	free(c->input);
}

int prov_command_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		     struct err *e)
{
	const struct cfg_provider *pv = rq->provider;
	struct cmd_child c = {
		.pid = -1,
		.stdin_fd = -1,
		.stdout_fd = -1,
		.stderr_fd = -1,
		.pending = BUF_INIT,
		.errbuf = BUF_INIT,
		.deadline = time(NULL) +
			    (time_t)((prov_attempt_ms(rq, pv->timeout_seconds) + 999) / 1000),
	};
	int rc = -1;

	buf_set_max(&c.errbuf, CMD_STDERR_MAX);
	if (!(c.input = request_json(rq))) {
		err_nomem(e);
		goto out;
	}
	c.input_len = strlen(c.input);
	if (spawn_command(pv, &c, e) < 0)
		goto out;
	if (sink->start && sink->start(sink) < 0) {
		client_left(res, e);
		goto out;
	}
	res->started = true;
	if (relay_output(pv, &c, sink, res, e) < 0)
		goto out;
	rc = reap_command(pv, &c, e);
out:
	end_command(&c);
	return rc;
}
