/*
 * Process and file helpers of the Dovecot fixture: running doveadm and
 * dovecot with bounded time and output, finding and killing an
 * instance's processes, the watchdog, writing and removing files.
 */
#include "dovecot_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define ERROUT_LIMIT (64 * 1024)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dv_tool(const char *name, char path_r[DV_TOOL_PATH_MAX])
{
	static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path_r, DV_TOOL_PATH_MAX, "%s/%s", dirs[i], name);
		if (access(path_r, X_OK) == 0)
			return;
	}
	/* Not installed: exec fails and dv_run() says what to install. */
	snprintf(path_r, DV_TOOL_PATH_MAX, "/usr/sbin/%s", name);
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void exec_child(const char *const *argv, int in_fd, int out_fd, int err_fd, const sigset_t *mask)
{
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(126);
	/* The test process may hold descriptors without O_CLOEXEC
	 * (Criterion's own); the tools must not inherit them. */
	close_range(3, ~0U, 0);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

struct pump {
	const char *in;
	size_t in_len, in_off;
	int fds[3]; /* stdin write end, stdout read end, stderr read end; -1 when closed */
	struct buf *out, *errout;
	size_t out_limit;
	bool overflow;
};

static void pump_read(struct pump *p, int i)
{
	char chunk[65536];
	ssize_t n = read(p->fds[i], chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(p->fds[i]);
		p->fds[i] = -1;
		return;
	}
	if (i == 1) {
		if (p->out->len + (size_t)n > p->out_limit || buf_append(p->out, chunk, (size_t)n) < 0)
			p->overflow = true;
	} else if (p->errout->len < ERROUT_LIMIT) {
		size_t room = ERROUT_LIMIT - p->errout->len;

		buf_append(p->errout, chunk, (size_t)n < room ? (size_t)n : room);
	}
}

static void pump_write(struct pump *p)
{
	ssize_t n = write(p->fds[0], p->in + p->in_off, p->in_len - p->in_off);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0)
		p->in_off += (size_t)n;
	/* EPIPE: the tool stopped reading; its exit status tells why. */
	if (n < 0 || p->in_off == p->in_len) {
		close(p->fds[0]);
		p->fds[0] = -1;
	}
}

/* Move bytes until both outputs are closed; false on timeout. */
static bool pump_run(struct pump *p, long long deadline)
{
	while (p->fds[1] >= 0 || p->fds[2] >= 0) {
		struct pollfd pfd[3];
		long long left = deadline - now_ms();

		if (left <= 0)
			return false;
		for (int i = 0; i < 3; i++) {
			pfd[i].fd = p->fds[i];
			pfd[i].events = i == 0 ? POLLOUT : POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, 3, (int)(left > 1000 ? 1000 : left)) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (pfd[0].revents)
			pump_write(p);
		for (int i = 1; i < 3; i++)
			if (pfd[i].revents)
				pump_read(p, i);
	}
	return true;
}

static int wait_child(pid_t pid, long long deadline)
{
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(1000);
	}
}

int dv_run(const char *const *argv, const void *in, size_t in_len, int timeout_ms, size_t out_limit,
           struct buf *out, struct buf *errout, struct error *err)
{
	int in_p[2], out_p[2], err_p[2];
	sigset_t pipe_set, old_mask;
	struct pump p = {in, in_len, 0, {-1, -1, -1}, out, errout, out_limit, false};
	long long deadline = now_ms() + timeout_ms;
	bool in_time;
	int status;
	pid_t pid;

	if (pipe2(in_p, O_CLOEXEC) < 0)
		return error_errno(err, ERR_FATAL, errno, "Cannot run %s: pipe", argv[0]);
	if (pipe2(out_p, O_CLOEXEC) < 0) {
		close(in_p[0]);
		close(in_p[1]);
		return error_errno(err, ERR_FATAL, errno, "Cannot run %s: pipe", argv[0]);
	}
	if (pipe2(err_p, O_CLOEXEC) < 0) {
		close(in_p[0]);
		close(in_p[1]);
		close(out_p[0]);
		close(out_p[1]);
		return error_errno(err, ERR_FATAL, errno, "Cannot run %s: pipe", argv[0]);
	}
	/* A tool that exits before reading all its input must not kill the
	 * test with SIGPIPE; a pending one is consumed below. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old_mask);
	pid = fork();
	if (pid == 0)
		exec_child(argv, in_p[0], out_p[1], err_p[1], &old_mask);
	close(in_p[0]);
	close(out_p[1]);
	close(err_p[1]);
	p.fds[0] = in_p[1];
	p.fds[1] = out_p[0];
	p.fds[2] = err_p[0];
	if (pid < 0) {
		for (int i = 0; i < 3; i++)
			close(p.fds[i]);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		return error_errno(err, ERR_FATAL, errno, "Cannot run %s: fork", argv[0]);
	}
	if (in_len == 0) {
		close(p.fds[0]);
		p.fds[0] = -1;
	} else {
		fcntl(p.fds[0], F_SETFL, O_NONBLOCK);
	}
	in_time = pump_run(&p, deadline);
	for (int i = 0; i < 3; i++)
		if (p.fds[i] >= 0)
			close(p.fds[i]);
	status = wait_child(pid, in_time ? deadline : now_ms());
	{
		struct timespec zero = {0, 0};

		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	if (!in_time || status < 0)
		return error_set(err, ERR_FATAL, "%s did not finish within %d ms and was killed.", argv[0],
		                 timeout_ms);
	if (p.overflow)
		return error_set(err, ERR_FATAL, "%s printed more than %zu bytes.", argv[0], out_limit);
	if (status == 127)
		return error_set(err, ERR_FATAL,
		                 "Cannot execute %s; is Dovecot installed (dovecot-imapd, "
		                 "dovecot-pop3d)?",
		                 argv[0]);
	return status;
}

int dv_run_daemon(const char *const *argv, const char *out_path, int timeout_ms, struct error *err)
{
	int out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sigset_t mask;
	int status;
	pid_t pid;

	if (out_fd < 0 || in_fd < 0) {
		int saved = errno;

		if (out_fd >= 0)
			close(out_fd);
		if (in_fd >= 0)
			close(in_fd);
		return error_errno(err, ERR_FATAL, saved, "Cannot run %s: opening %s", argv[0], out_path);
	}
	sigprocmask(SIG_SETMASK, NULL, &mask);
	pid = fork();
	if (pid == 0)
		exec_child(argv, in_fd, out_fd, out_fd, &mask);
	close(out_fd);
	close(in_fd);
	if (pid < 0)
		return error_errno(err, ERR_FATAL, errno, "Cannot run %s: fork", argv[0]);
	status = wait_child(pid, now_ms() + timeout_ms);
	if (status < 0)
		return error_set(err, ERR_FATAL, "%s did not finish within %d ms and was killed.", argv[0],
		                 timeout_ms);
	if (status == 127)
		return error_set(err, ERR_FATAL,
		                 "Cannot execute %s; is Dovecot installed (dovecot-imapd, "
		                 "dovecot-pop3d)?",
		                 argv[0]);
	return status;
}

int dv_write_file(const char *path, const void *data, size_t len, mode_t mode, struct error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	int rc;

	if (fd < 0)
		return error_errno(err, ERR_FATAL, errno, "Cannot create %s", path);
	rc = fs_write_all(fd, data, len, path, err);
	/* O_CREAT applies the umask; the mode matters (keys, passwd-file). */
	if (rc == 0 && fchmod(fd, mode) < 0)
		rc = error_errno(err, ERR_FATAL, errno, "Cannot chmod %s", path);
	if (close(fd) < 0 && rc == 0)
		rc = error_errno(err, ERR_FATAL, errno, "Cannot write %s", path);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int dv_rmtree(const char *dir, struct error *err)
{
	int saved = 0;

	/* Dovecot processes killed a moment ago may still have created a
	 * file or two while we walked; another pass picks those up. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct stat st;

		if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
			saved = errno;
		if (lstat(dir, &st) < 0 && errno == ENOENT)
			return 0;
		usleep(20000);
	}
	return error_errno(err, ERR_FATAL, saved ? saved : ENOTEMPTY, "Cannot remove %s completely", dir);
}

/* ---- Dovecot processes ---------------------------------------------- */

bool dv_is_master(pid_t pid, const char *conf)
{
	char path[64], cmdline[4096];
	ssize_t n;
	int fd;

	if (pid <= 1)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n <= 0)
		return false;
	cmdline[n] = '\0';
	for (char *arg = cmdline; arg < cmdline + n; arg += strlen(arg) + 1)
		if (strcmp(arg, conf) == 0)
			return true;
	return false;
}

/* State and process group of `pid` from /proc; false if it is gone. */
static bool proc_state(const char *pid, char *state_r, long *pgrp_r)
{
	char path[64], stat[512];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return false;
	stat[n] = '\0';
	/* "pid (comm) state ppid pgrp ...": comm may hold anything. */
	p = strrchr(stat, ')');
	return p && sscanf(p + 1, " %c %*d %ld", state_r, pgrp_r) == 2;
}

/* Whether a process of group `pgid` still runs. Zombies do not count:
 * they hold no sockets or files, and init may reap them slowly. */
static bool group_running(pid_t pgid)
{
	DIR *proc = opendir("/proc");
	const struct dirent *e;
	bool found = false;

	if (!proc)
		return false;
	while (!found && (e = readdir(proc))) {
		char state;
		long pgrp;

		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && proc_state(e->d_name, &state, &pgrp))
			found = pgrp == pgid && state != 'Z' && state != 'X';
	}
	closedir(proc);
	return found;
}

bool dv_pid_running(pid_t pid)
{
	char name[16], state;
	long pgrp;

	snprintf(name, sizeof(name), "%d", (int)pid);
	return proc_state(name, &state, &pgrp) && state != 'Z' && state != 'X';
}

int dv_kill_master(pid_t pid, const char *conf, struct error *err)
{
	long long deadline = now_ms() + DV_STOP_TIMEOUT_MS;
	bool leader;

	if (!dv_is_master(pid, conf))
		return 0;
	/* The master leads its own process group (it calls setsid() when it
	 * daemonizes), so the group is exactly the instance: the login
	 * processes holding the listening sockets go with it. Dovecot's
	 * graceful shutdown takes a second or more, and nothing of the
	 * instance is kept, so there is no reason to ask nicely. */
	leader = getpgid(pid) == pid && pid != getpgrp();
	kill(leader ? -pid : pid, SIGKILL);
	while (leader ? group_running(pid) : dv_pid_running(pid)) {
		if (now_ms() >= deadline)
			return error_set(err, ERR_FATAL, "Dovecot (pid %d) still ran %d ms after SIGKILL.",
			                 (int)pid, DV_STOP_TIMEOUT_MS);
		usleep(2000);
	}
	return 0;
}

pid_t dv_read_pid_file(const char *dir)
{
	char *path = xasprintf("%s/" DV_PID_FILE, dir);
	char text[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	long v;
	char *end;

	free(path);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	v = strtol(text, &end, 10);
	return v > 1 && v < 1L << 22 && (*end == '\n' || *end == '\0') ? (pid_t)v : 0;
}

/* $1 is the instance directory, stdin the owner's pipe. A line means the
 * owner stops the instance itself; EOF means the owner died. The lock
 * waits out a worker that is starting the shared instance right now, so
 * that it cannot start a server after we looked; once the directory is
 * gone, such a worker fails to start. */
static const char watchdog_script[] =
    "dir=$1\n"
    "IFS= read -r line && exit 0\n"
    "exec 9>>\"$dir/" DV_LOCK "\" && flock -w 60 9\n"
    "pid=\n"
    "[ -r \"$dir/" DV_PID_FILE "\" ] && read -r pid < \"$dir/" DV_PID_FILE "\"\n"
    "case $pid in ''|*[!0-9]*) pid=0 ;; esac\n"
    "if [ \"$pid\" -gt 1 ] && tr '\\0' '\\n' < /proc/$pid/cmdline 2>/dev/null | "
    "grep -qxF \"$dir/" DV_CONF "\"; then\n"
    "  set -- $(cat /proc/$pid/stat)\n"
    "  if [ \"$5\" = \"$pid\" ]; then kill -9 -$pid; else kill -9 $pid; fi\n"
    "  sleep 0.2\n"
    "fi\n"
    "rm -rf \"$dir\" || { sleep 0.5; rm -rf \"$dir\"; }\n";

int dv_watchdog_spawn(const char *dir, pid_t *pid_r, int *fd_r, struct error *err)
{
	const char *argv[] = {"/bin/sh", "-c", watchdog_script, "twinbox-dovecot-watchdog", dir, NULL};
	sigset_t none;
	int p[2];
	pid_t pid;

	sigemptyset(&none);
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_errno(err, ERR_FATAL, errno, "Cannot create the watchdog pipe");
	pid = fork();
	if (pid == 0) {
		/* Own session: a Ctrl-C or a kill of the test's process
		 * group must leave the watchdog running. Only
		 * async-signal-safe calls: the runner has threads. */
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (null < 0 || dup2(p[0], 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(126);
		close_range(3, ~0U, 0);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return error_errno(err, ERR_FATAL, errno, "Cannot start the watchdog");
	}
	*pid_r = pid;
	*fd_r = p[1];
	return 0;
}

void dv_watchdog_dismiss(pid_t pid, int fd)
{
	long long deadline = now_ms() + 2000;
	int status;

	if (fd >= 0) {
		/* A failed write means it is gone already; waitpid reaps it. */
		ssize_t n = write(fd, "q\n", 2);

		(void)n;
		close(fd);
	}
	if (pid <= 0)
		return;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return;
		}
		usleep(1000);
	}
}
