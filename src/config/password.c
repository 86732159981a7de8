/* Passwords: the literal from the config or the output of password_command. */
#include "twinbox/config/password.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* How often a running command is checked for having exited while its
 * pipes stay open (a daemon it started may hold them). */
#define POLL_SLICE_MS 20
#define OPEN_SLICE_MS 200
#define STDERR_KEEP   1024

struct child_output {
	char *out; /* PASSWORD_OUTPUT_MAX + 1 bytes, wiped before free */
	size_t out_len;
	bool out_overflow;
	char err[STDERR_KEEP];
	size_t err_len;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void password_free(char *password)
{
	if (password == NULL)
		return;
	explicit_bzero(password, strlen(password));
	free(password);
}

/* Read what is available on `fd`; returns 0 when the pipe is still open,
 * 1 at end of file (or a read error, which ends the stream the same way). */
static int drain(int fd, struct child_output *co, bool is_out)
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
			room = PASSWORD_OUTPUT_MAX - co->out_len;
			take = (size_t)n < room ? (size_t)n : room;
			memcpy(co->out + co->out_len, chunk, take);
			co->out_len += take;
			if ((size_t)n > room)
				co->out_overflow = true;
		} else {
			room = sizeof(co->err) - 1 - co->err_len;
			take = (size_t)n < room ? (size_t)n : room;
			memcpy(co->err + co->err_len, chunk, take);
			co->err_len += take;
		}
		explicit_bzero(chunk, sizeof(chunk));
	}
}

/* " (stderr: \"first line\")" or "" into `out`. */
static void stderr_note(const struct child_output *co, char *out, size_t size)
{
	char line[4 * PASSWORD_STDERR_MAX + 8];
	size_t o = 0, i;

	for (i = 0; i < co->err_len && co->err[i] != '\n' && co->err[i] != '\r' && i < PASSWORD_STDERR_MAX;
	     i++) {
		unsigned char c = (unsigned char)co->err[i];
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
		         i == PASSWORD_STDERR_MAX && co->err[i] != '\n' && co->err[i] != '\r' ? "..." : "");
}

static int spawn(const char *command, int out_fd, int err_fd, pid_t *pid_r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char sh[] = "sh", dash_c[] = "-c";
	char *cmd = xstrdup(command);
	char *argv[] = {sh, dash_c, cmd, NULL};
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
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
	rc = posix_spawn(pid_r, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(cmd);
	return rc;
}

static void reap(pid_t pid, int *status_r)
{
	while (waitpid(pid, status_r, 0) < 0 && errno == EINTR)
		;
}

/* Collect output until the child exits or the deadline passes. Returns 0
 * when it exited (status in *status_r), 1 on timeout, 2 when it printed too
 * much (in these two cases the process group has been killed and reaped),
 * 3 when its exit status was lost. */
static int collect(pid_t pid, int out_fd, int err_fd, int timeout_ms, struct child_output *co, int *status_r)
{
	long long deadline = now_ms() + timeout_ms;
	bool out_open = true, err_open = true;

	for (;;) {
		struct pollfd fds[2];
		nfds_t n = 0;
		long long left;
		int slice;
		pid_t r = waitpid(pid, status_r, WNOHANG);

		if (r < 0 && errno == ECHILD)
			return 3; /* someone else reaped it (a SIGCHLD handler) */
		if (r == pid) {
			/* Everything it wrote is in the pipes now; do not wait for
			 * an end of file that a leftover grandchild may delay. */
			if (out_open)
				drain(out_fd, co, true);
			if (err_open)
				drain(err_fd, co, false);
			return co->out_overflow ? 2 : 0;
		}
		left = deadline - now_ms();
		if (left <= 0 || co->out_overflow) {
			kill(-pid, SIGKILL);
			reap(pid, status_r);
			return co->out_overflow ? 2 : 1;
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
			kill(-pid, SIGKILL);
			reap(pid, status_r);
			return 1;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (fds[i].revents == 0)
				continue;
			if (fds[i].fd == out_fd && drain(out_fd, co, true) == 1)
				out_open = false;
			else if (fds[i].fd == err_fd && drain(err_fd, co, false) == 1)
				err_open = false;
		}
	}
}

/* Check the output and make the password of it; returns 0 or -1. */
static int finish(const char *account, struct child_output *co, char **password_r, struct error *err)
{
	char note[4 * PASSWORD_STDERR_MAX + 64];
	size_t len = co->out_len;

	stderr_note(co, note, sizeof(note));
	if (len > 0 && co->out[len - 1] == '\n') {
		len--;
		if (len > 0 && co->out[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		return error_set(err, ERR_ACCOUNT,
		                 "the password_command of account \"%s\" printed no password%s", account,
		                 note);
	if (memchr(co->out, '\0', len) != NULL)
		return error_set(
		    err, ERR_ACCOUNT,
		    "the password_command of account \"%s\" printed a NUL byte; it must print only "
		    "the password",
		    account);
	if (memchr(co->out, '\n', len) != NULL || memchr(co->out, '\r', len) != NULL)
		return error_set(
		    err, ERR_ACCOUNT,
		    "the password_command of account \"%s\" printed more than one line; it must print "
		    "only the password (for pass, use \"pass show NAME | head -n 1\")",
		    account);
	*password_r = xstrndup(co->out, len);
	return 0;
}

char *password_run_command(const char *account, const char *command, int timeout_ms, struct error *err)
{
	struct child_output co = {0};
	char note[4 * PASSWORD_STDERR_MAX + 64];
	char *password = NULL;
	int out[2], errp[2], status = 0, rc, result;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0) {
		error_errno(err, ERR_ACCOUNT, errno, "cannot run the password_command of account \"%s\"",
		            account);
		return NULL;
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		error_errno(err, ERR_ACCOUNT, e, "cannot run the password_command of account \"%s\"",
		            account);
		return NULL;
	}
	rc = spawn(command, out[1], errp[1], &pid);
	close(out[1]);
	close(errp[1]);
	if (rc != 0) {
		close(out[0]);
		close(errp[0]);
		error_errno(err, ERR_ACCOUNT, rc, "cannot run the password_command of account \"%s\"",
		            account);
		return NULL;
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	co.out = xmalloc(PASSWORD_OUTPUT_MAX + 1);
	log_debug("running the password_command of account \"%s\"", account);
	result = collect(pid, out[0], errp[0], timeout_ms, &co, &status);
	close(out[0]);
	close(errp[0]);
	stderr_note(&co, note, sizeof(note));
	if (result == 1)
		error_set(
		    err, ERR_ACCOUNT,
		    "the password_command of account \"%s\" did not finish within %d.%03d s and was killed; "
		    "if it waits for a passphrase, raise password_command_timeout%s",
		    account, timeout_ms / 1000, timeout_ms % 1000, note);
	else if (result == 2)
		error_set(
		    err, ERR_ACCOUNT,
		    "the password_command of account \"%s\" printed more than %d bytes; it must print only "
		    "the password",
		    account, PASSWORD_OUTPUT_MAX);
	else if (result == 3)
		error_set(err, ERR_ACCOUNT,
		          "lost the exit status of the password_command of account \"%s\" (it was collected "
		          "elsewhere); this is a bug",
		          account);
	else if (WIFSIGNALED(status))
		error_set(err, ERR_ACCOUNT,
		          "the password_command of account \"%s\" was killed by signal %d (%s)%s", account,
		          WTERMSIG(status), strsignal(WTERMSIG(status)), note);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		error_set(err, ERR_ACCOUNT,
		          "the password_command of account \"%s\" failed with exit status %d%s", account,
		          WIFEXITED(status) ? WEXITSTATUS(status) : -1, note);
	else
		finish(account, &co, &password, err);
	explicit_bzero(co.out, PASSWORD_OUTPUT_MAX + 1);
	free(co.out);
	return password;
}

char *config_side_password(const struct config_account *acct, enum side side, struct error *err)
{
	const struct config_conn *c = &acct->side[side].conn;
	int timeout_ms = c->password_command_timeout_ms > 0 ? c->password_command_timeout_ms : 30000;
	char *password;

	if (c->password != NULL) {
		password = xstrdup(c->password);
		return password;
	}
	if (c->password_command == NULL) {
		error_set(err, ERR_ACCOUNT, "%saccount \"%s\" has neither password nor password_command",
		          !acct->two_servers ? ""
		          : side == SIDE_A   ? "the source of "
		                             : "the target of ",
		          acct->name);
		return NULL;
	}
	return password_run_command(acct->name, c->password_command, timeout_ms, err);
}

char *config_resolve_password(const struct config_account *acct, struct error *err)
{
	return config_side_password(acct, SIDE_A, err);
}
