/* Running a user's shell command with a timeout (command.h). */
#include "twinbox/util/command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/xmalloc.h"

/* How often a running command is checked for having exited while its
 * pipes stay open (a daemon it started may hold them). */
#define POLL_SLICE_MS 20
#define OPEN_SLICE_MS 200

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what is available on `fd`; returns 0 when the pipe is still open,
 * 1 at end of file (or a read error, which ends the stream the same way).
 * Bytes past what is kept are read and dropped (stderr), or mark the
 * output as too much (stdout). */
static int drain(int fd, struct command_result *r, size_t out_max, bool is_out, bool *overflow)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		size_t room, take;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
		if (is_out) {
			room = out_max - r->out_len;
			take = (size_t)n < room ? (size_t)n : room;
			memcpy(r->out + r->out_len, chunk, take);
			r->out_len += take;
			if ((size_t)n > room)
				*overflow = true;
		} else {
			room = sizeof(r->err) - r->err_len;
			take = (size_t)n < room ? (size_t)n : room;
			memcpy(r->err + r->err_len, chunk, take);
			r->err_len += take;
		}
		explicit_bzero(chunk, sizeof(chunk));
	}
}

/* Whether "NAME=..." entry `e` sets a name that one of `env` sets. */
static bool replaced(const char *e, const char *const *env)
{
	const char *eq = strchr(e, '=');
	size_t len = eq ? (size_t)(eq - e) : strlen(e);

	for (size_t i = 0; env[i]; i++)
		if (strncmp(env[i], e, len) == 0 && env[i][len] == '=')
			return true;
	return false;
}

/* Our environment with `env` on top (fresh array; the strings are
 * borrowed). */
static char **environment(const char *const *env)
{
	size_t n = 0, k = 0, extra = 0;
	char **out;

	while (environ && environ[n])
		n++;
	while (env[extra])
		extra++;
	out = xcalloc(n + extra + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		if (!replaced(environ[i], env))
			out[k++] = environ[i];
	for (size_t i = 0; i < extra; i++)
		out[k++] = (char *)env[i];
	return out;
}

static int spawn(const char *command, const struct command_options *o, int out_fd, int err_fd, pid_t *pid_r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char sh[] = "sh", dash_c[] = "-c";
	char *cmd = xstrdup(command);
	char *argv[] = {sh, dash_c, cmd, NULL};
	char **envp = o->env ? environment(o->env) : environ;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	/* Sockets and databases we hold are none of the command's business. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	/* Own process group, so a timeout can kill whatever the shell
	 * started; ignored signals (SIGPIPE in the CLI) back to default. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGQUIT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr,
	                         POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid_r, "/bin/sh", &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (envp != environ)
		free(envp);
	free(cmd);
	return rc;
}

static void reap(pid_t pid, int *status_r)
{
	while (waitpid(pid, status_r, 0) < 0 && errno == EINTR)
		;
}

static void kill_group(pid_t pid, int *status_r)
{
	kill(-pid, SIGKILL);
	reap(pid, status_r);
}

/* Collect output until the child exits or the deadline passes; sets
 * r->end (and, for the killed ones, reaps the process group's leader). */
static void collect(pid_t pid, int out_fd, int err_fd, const struct command_options *o,
                    struct command_result *r, int *status_r)
{
	long long deadline = now_ms() + o->timeout_ms;
	bool out_open = out_fd >= 0, err_open = true, overflow = false;

	for (;;) {
		struct pollfd fds[2];
		nfds_t n = 0;
		long long left;
		int slice;
		pid_t w = waitpid(pid, status_r, WNOHANG);

		if (w < 0 && errno == ECHILD) {
			r->end = COMMAND_LOST; /* someone else reaped it (a SIGCHLD handler) */
			return;
		}
		if (w == pid) {
			/* Everything it wrote is in the pipes now; do not wait for
			 * an end of file that a leftover grandchild may delay. */
			if (out_open)
				drain(out_fd, r, o->out_max, true, &overflow);
			if (err_open)
				drain(err_fd, r, 0, false, &overflow);
			r->end = overflow                 ? COMMAND_TOO_MUCH
			         : WIFSIGNALED(*status_r) ? COMMAND_SIGNALED
			                                  : COMMAND_EXITED;
			return;
		}
		left = deadline - now_ms();
		if (left <= 0 || overflow) {
			kill_group(pid, status_r);
			r->end = overflow ? COMMAND_TOO_MUCH : COMMAND_TIMED_OUT;
			return;
		}
		if (out_open)
			fds[n++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
		if (err_open)
			fds[n++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
		/* With a pipe open, its end of file usually signals the exit; the
		 * slice bounds the wait when a grandchild keeps it open. */
		slice = n == 0 ? POLL_SLICE_MS : OPEN_SLICE_MS;
		if (slice > left)
			slice = (int)left;
		if (poll(fds, n, slice) < 0 && errno != EINTR) {
			kill_group(pid, status_r);
			r->end = COMMAND_TIMED_OUT;
			return;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (fds[i].revents == 0)
				continue;
			if (fds[i].fd == out_fd && drain(out_fd, r, o->out_max, true, &overflow) == 1)
				out_open = false;
			else if (fds[i].fd == err_fd && drain(err_fd, r, 0, false, &overflow) == 1)
				err_open = false;
		}
	}
}

int command_run(const char *command, const struct command_options *o, struct command_result *r)
{
	int out[2] = {-1, -1}, errp[2], status = 0, rc;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (o->out_max && pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int e = errno;
		if (o->out_max) {
			close(out[0]);
			close(out[1]);
		}
		errno = e;
		return -1;
	}
	rc = spawn(command, o, out[1], errp[1], &pid);
	if (o->out_max)
		close(out[1]);
	close(errp[1]);
	if (rc != 0) {
		if (o->out_max)
			close(out[0]);
		close(errp[0]);
		errno = rc;
		return -1;
	}
	if (o->out_max) {
		fcntl(out[0], F_SETFL, O_NONBLOCK);
		r->out = xmalloc(o->out_max + 1);
	}
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	collect(pid, out[0], errp[0], o, r, &status);
	if (o->out_max)
		close(out[0]);
	close(errp[0]);
	if (r->out)
		r->out[r->out_len] = '\0';
	if (r->end == COMMAND_EXITED)
		r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	else if (r->end == COMMAND_SIGNALED)
		r->status = WTERMSIG(status);
	return 0;
}

void command_result_free(struct command_result *r)
{
	if (r->out) {
		explicit_bzero(r->out, r->out_len + 1);
		free(r->out);
	}
	explicit_bzero(r, sizeof(*r));
}

void command_stderr_note(const struct command_result *r, char *out, size_t size)
{
	char line[4 * COMMAND_QUOTE_MAX + 8];
	size_t o = 0, i;

	for (i = 0; i < r->err_len && r->err[i] != '\n' && r->err[i] != '\r' && i < COMMAND_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)r->err[i];
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(line + o, 5, "\\x%02x", c);
		else
			line[o++] = (char)c;
	}
	line[o] = '\0';
	if (o == 0)
		snprintf(out, size, " (it printed nothing on stderr)");
	else
		snprintf(out, size, " (stderr: \"%s%s\")", line,
		         i == COMMAND_QUOTE_MAX && i < r->err_len && r->err[i] != '\n' && r->err[i] != '\r'
		             ? "..."
		             : "");
}
