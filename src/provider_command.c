/*
 * provider_command.c - the "command" provider: runs a local program as the
 * model.
 *
 * The configured argv is executed directly (fork + execve, no shell) in a
 * process group of its own, with only the environment the config names.
 * It gets the request as one JSON document on stdin:
 *   {"model", "system", "messages", "params", "stream"}
 * and whatever it writes to stdout is the answer, relayed as it comes (cut
 * on UTF-8 character boundaries).  Its stderr goes to the log.  A non-zero
 * exit or death by a signal is an upstream error; timeoutSeconds or a
 * client that left kills the whole process group.
 */
#include "provider.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "utf8.h"

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
	cJSON_AddItemToObject(o, "params", rq->params ? cJSON_Duplicate(rq->params, 1)
						      : cJSON_CreateObject());
	cJSON_AddBoolToObject(o, "stream", rq->stream);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static void log_stderr(const char *name, struct buf *err, bool flush_all)
{
	char *nl;
	while ((nl = memchr(err->data, '\n', err->len)) || (flush_all && err->len)) {
		size_t n = nl ? (size_t)(nl - err->data) : err->len;
		log_warn("command provider %s: %.*s", name, (int)(n > 500 ? 500 : n), err->data);
		n = nl ? n + 1 : n;
		memmove(err->data, err->data + n, err->len - n);
		err->len -= n;
		err->data[err->len] = '\0';
	}
}

/*
 * The program to execute: argv[0] as is when it has a '/', else searched in
 * this process's PATH.  Done before fork: the child may only exec.
 */
static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	struct buf b = BUF_INIT;

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		buf_reset(&b);
		if (buf_append(&b, n ? path : ".", n ? n : 1) < 0 || buf_printf(&b, "/%s", name) < 0)
			break;
		if (access(b.data, X_OK) == 0)
			return buf_detach(&b);
		path += n + (path[n] == ':');
	}
	buf_free(&b);
	return NULL;
}

int prov_command_run(const struct prov_request *rq, struct prov_sink *sink,
		     struct prov_result *res, struct err *e)
{
	const struct cfg_provider *pv = rq->provider;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	char *input = request_json(rq);
	size_t input_len = input ? strlen(input) : 0, input_off = 0;
	struct buf pending = BUF_INIT, errbuf = BUF_INIT;
	time_t deadline = time(NULL) + (pv->timeout_seconds ? pv->timeout_seconds : 600);
	time_t last_idle = time(NULL);
	bool out_open = true, err_open = true, timed_out = false;
	char *path = NULL;
	int status = 0, rc = -1;
	pid_t pid = -1;

	if (!input) {
		err_nomem(e);
		goto out;
	}
	if (!(path = find_program(pv->command[0]))) {
		log_error("command provider %s: %s not found or not executable", pv->name,
			  pv->command[0]);
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' could not be run.",
			pv->name);
		goto out;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		log_error("command provider %s: pipe: %s", pv->name, strerror(errno));
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' could not start.",
			pv->name);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		log_error("command provider %s: fork: %s", pv->name, strerror(errno));
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' could not start.",
			pv->name);
		goto out;
	}
	if (pid == 0) {
		/* child: only async-signal-safe calls until execve */
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(errp[1], 2);
		signal(SIGPIPE, SIG_DFL);
		for (int fd = 3; fd < 1024; fd++) /* the web server's sockets, the store */
			close(fd);
		execve(path, pv->command, pv->env);
		_exit(127);
	}
	setpgid(pid, pid);
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	in[0] = out[1] = errp[1] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);

	if (sink->start && sink->start(sink) < 0) {
		res->cancelled = true;
		goto kill;
	}
	res->started = true;

	while (out_open || err_open) {
		struct pollfd p[3];
		int np = 0, iout = -1, ierr = -1, iin = -1;
		time_t now = time(NULL);

		if (now >= deadline) {
			timed_out = true;
			goto kill;
		}
		if (now != last_idle && sink->idle) {
			last_idle = now;
			if (sink->idle(sink) < 0) {
				res->cancelled = true;
				goto kill;
			}
		}
		if (out_open) {
			p[np] = (struct pollfd){out[0], POLLIN, 0};
			iout = np++;
		}
		if (err_open) {
			p[np] = (struct pollfd){errp[0], POLLIN, 0};
			ierr = np++;
		}
		if (in[1] >= 0) {
			p[np] = (struct pollfd){in[1], POLLOUT, 0};
			iin = np++;
		}
		if (poll(p, (nfds_t)np, 1000) < 0 && errno != EINTR)
			break;
		if (iin >= 0 && p[iin].revents) {
			ssize_t w = write(in[1], input + input_off, input_len - input_off);
			if (w > 0)
				input_off += (size_t)w;
			if (w < 0 && errno != EAGAIN) /* it does not read: fine */
				input_off = input_len;
			if (input_off >= input_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (iout >= 0 && p[iout].revents) {
			char chunk[8192];
			ssize_t n = read(out[0], chunk, sizeof chunk);
			if (n <= 0) {
				out_open = false;
			} else {
				size_t keep;
				buf_append(&pending, chunk, (size_t)n);
				keep = utf8_incomplete_tail(pending.data, pending.len);
				if (pending.len > keep) {
					if (sink->delta(sink, pending.data, pending.len - keep) < 0) {
						res->cancelled = true;
						goto kill;
					}
					memmove(pending.data, pending.data + pending.len - keep, keep);
					pending.len = keep;
				}
			}
		}
		if (ierr >= 0 && p[ierr].revents) {
			char chunk[4096];
			ssize_t n = read(errp[0], chunk, sizeof chunk);
			if (n <= 0)
				err_open = false;
			else if (errbuf.len < 65536)
				buf_append(&errbuf, chunk, (size_t)n);
			log_stderr(pv->name, &errbuf, false);
		}
	}
	if (pending.len && sink->delta(sink, pending.data, pending.len) < 0) {
		res->cancelled = true;
		goto kill;
	}
	log_stderr(pv->name, &errbuf, true);
	/* stdout is closed; the process may still linger: wait, bounded */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			goto kill;
		if (time(NULL) >= deadline) {
			timed_out = true;
			goto kill;
		}
		usleep(20000);
	}
	pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 0;
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' could not be run.",
			pv->name);
	else if (WIFEXITED(status))
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' exited with status %d.",
			pv->name, WEXITSTATUS(status));
	else
		err_set(e, 502, ERR_UPSTREAM, "The command provider '%s' was killed by signal %d.",
			pv->name, WTERMSIG(status));
	goto out;
kill:
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (timed_out)
		err_set(e, 504, ERR_UPSTREAM, "The command provider '%s' timed out after %d s.",
			pv->name, pv->timeout_seconds ? pv->timeout_seconds : 600);
	else
		err_set(e, 499, ERR_API, "client disconnected");
out:
	free(path);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (pid > 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	buf_free(&pending);
	buf_free(&errbuf);
	free(input);
	return rc;
}
