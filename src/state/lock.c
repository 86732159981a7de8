#include "twinbox/state/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/clock.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define HOLDER_MAX 512 /* bytes of the "<pid> <time> <host>" line we read */

struct state_lock {
	int fd;
	char *path;
	bool shared; /* a shared hold writes nothing into the file */
};

struct state_watch {
	char *path;
};

/* "<dir>/<name><ext>" for "<dir>/<name>.db". */
static char *beside(const char *db_path, const char *ext)
{
	size_t len = strlen(db_path);

	if (len > 3 && strcmp(db_path + len - 3, ".db") == 0)
		return xasprintf("%.*s%s", (int)(len - 3), db_path, ext);
	return xasprintf("%s%s", db_path, ext);
}

char *state_lock_path(const char *db_path)
{
	return beside(db_path, ".lock");
}

char *state_watch_path(const char *db_path)
{
	return beside(db_path, ".watch");
}

/* "work" for ".../work.lock": the account, for messages. */
static char *account_of(const char *lock_path)
{
	const char *base = strrchr(lock_path, '/');
	const char *dot;

	base = base ? base + 1 : lock_path;
	dot = strrchr(base, '.');
	return xstrndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
}

static void our_host(char *host, size_t size)
{
	if (gethostname(host, size) < 0)
		snprintf(host, size, "?");
	host[size - 1] = '\0';
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- is that process still there? ---- */

/* The system's boot time (Unix seconds) from /proc/stat; -1 when not told. */
static long long boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	long long t = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &t) == 1)
			break;
	fclose(f);
	return t;
}

/* When process `pid` started (Unix seconds, to a second or so) and
 * whether it is a zombie, from /proc/<pid>/stat; false when not told. */
static bool process_start(long pid, long long *start_r, bool *zombie_r)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	long long boot;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "re")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so the fields
	 * are counted from its last ')'; starttime is field 22. */
	if (!(p = strrchr(buf, ')')) || p[1] != ' ')
		return false;
	*zombie_r = p[2] == 'Z' || p[2] == 'X';
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	if (sscanf(p, "%llu", &ticks) != 1 || hz <= 0 || (boot = boot_time()) < 0)
		return false;
	*start_r = boot + (long long)(ticks / (unsigned long long)hz);
	return true;
}

/* Whether process `pid` of this host runs and is the one that wrote
 * `since` into a file: one that started later has only got its pid. */
static bool process_runs(long pid, int64_t since)
{
	long long start;
	bool zombie = false;

	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return false;
	if (!process_start(pid, &start, &zombie))
		return true; /* no /proc: the pid is all there is to go by */
	/* The boot time is whole seconds, and so is `since`: a few seconds
	 * of slack, against a pid taken over within them. */
	return !zombie && start <= since + 5;
}

/* A "<pid> <time> <host>" line into *p (known false when it is none). */
static void parse_process(const char *line, struct state_process *p)
{
	char host[256];
	long long since;

	memset(p, 0, sizeof(*p));
	if (sscanf(line, "%ld %lld %255s", &p->pid, &since, p->host) != 3 || p->pid <= 0) {
		memset(p, 0, sizeof(*p));
		return;
	}
	p->since = since;
	p->known = true;
	our_host(host, sizeof(host));
	p->here = strcmp(p->host, host) == 0;
}

/* Whether the process `p` names runs: on another host it cannot be
 * asked, and is taken as running. */
static bool named_runs(const struct state_process *p)
{
	return p->known && (!p->here || process_runs(p->pid, p->since));
}

static void write_line(char line[HOLDER_MAX])
{
	char host[256];

	our_host(host, sizeof(host));
	snprintf(line, HOLDER_MAX, "%ld %lld %s\n", (long)getpid(), (long long)time(NULL), host);
}

/* "process 12345 on host box since 2026-11-22 03:51:19" into `out`. */
static void describe(const struct state_process *p, char *out, size_t size)
{
	char when[CLOCK_TEXT_SIZE];

	clock_local_text((time_t)p->since, when);
	snprintf(out, size, "process %ld on host %s since %s", p->pid, p->host, when);
}

/* ---- the lock ---- */

static int open_file(const char *path, bool shared, int *fd_r, struct error *err)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat sb;
	int fd;

	*fd_r = -1;
	if (shared) {
		/* Read only, and nothing made: a file no run ever made guards
		 * nothing. */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		free(dir);
		if (fd < 0 && errno == ENOENT)
			return 0;
		if (fd < 0)
			return error_errno(err, ERR_FATAL, errno, "cannot open lock file %s", path);
	} else {
		if (slash && slash != dir) {
			*slash = '\0';
			if (fs_mkdir_p(dir, 0700, err) < 0) {
				free(dir);
				error_escalate(err, ERR_FATAL);
				error_prefix(err, "lock file %s", path);
				return -1;
			}
		}
		free(dir);
		/* O_NOFOLLOW: another user cannot make us create or truncate a
		 * file elsewhere through a planted symlink. */
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return error_errno(err, ERR_FATAL, errno, "cannot open lock file %s", path);
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return error_set(err, ERR_FATAL, "lock file %s is not a regular file; move it away", path);
	}
	*fd_r = fd;
	return 0;
}

/* 0 locked, 1 held by someone else, -1 error. `block`: wait in flock
 * for it. */
static int try_lock(int fd, int op, bool block, const char *path, struct error *err)
{
	for (;;) {
		if (flock(fd, op | (block ? 0 : LOCK_NB)) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return 1;
		return error_errno(err, ERR_FATAL, errno, "cannot lock %s", path);
	}
}

/* Whether `fd` is still the file at `path` (someone may have removed or
 * replaced it while we waited; a lock on a removed file guards nothing). */
static bool still_linked(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void read_holder(int fd, struct state_process *h)
{
	char line[HOLDER_MAX];
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);

	memset(h, 0, sizeof(*h));
	if (n <= 0)
		return;
	line[n] = '\0';
	parse_process(line, h);
}

/* The holder writes its line just after it gets the lock, so a fresh
 * holder may not have written yet (the file is empty, or still names the
 * previous, now dead holder). Give it a moment before saying "unknown". */
static void find_holder(int fd, struct state_process *h)
{
	for (int tries = 0; tries < 20; tries++) {
		read_holder(fd, h);
		if (named_runs(h))
			return;
		sleep_ms(10);
	}
	h->known = false;
}

static int busy(int fd, const char *path, long long waited_ms, struct state_process *h, struct error *err)
{
	char *account = account_of(path);
	char who[400], waited[64] = "";

	find_holder(fd, h);
	if (waited_ms > 0)
		snprintf(waited, sizeof(waited), " after waiting %.1f s", (double)waited_ms / 1000);
	if (!h->known) {
		error_set(
		    err, ERR_ACCOUNT,
		    "account \"%s\" is being synced by another process%s; wait for it to finish or stop it "
		    "(lock file %s)",
		    account, waited, path);
	} else {
		describe(h, who, sizeof(who));
		error_set(err, ERR_ACCOUNT,
		          "account \"%s\" is being synced by %s%s; wait for it to finish or stop it (lock "
		          "file %s)",
		          account, who, waited, path);
	}
	free(account);
	return 1;
}

/* Say who we are, for the next run that finds the lock taken. */
static void write_holder(int fd, const char *path)
{
	char line[HOLDER_MAX];
	struct error err;

	write_line(line);
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    fs_write_all(fd, line, strlen(line), path, &err) < 0)
		log_warn("cannot write the process id into lock file %s: %s", path, strerror(errno));
}

static int take(const char *db_path, bool shared, int wait_ms, struct state_lock **lock_r,
                struct state_process *holder_r, struct error *err)
{
	char *path = state_lock_path(db_path);
	long long start = monotonic_ms();
	long step = 10;
	int fd = -1, rc;
	struct state_process h;

	*lock_r = NULL;
	if (!holder_r)
		holder_r = &h;
	memset(holder_r, 0, sizeof(*holder_r));
	for (;;) {
		long long now;

		if (fd < 0) {
			if (open_file(path, shared, &fd, err) < 0)
				goto fail;
			if (fd < 0) { /* shared, and no file */
				free(path);
				return 0;
			}
		}
		rc = try_lock(fd, shared ? LOCK_SH : LOCK_EX, wait_ms == STATE_LOCK_FOREVER, path, err);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			if (still_linked(fd, path))
				break;
			/* Locked a file that is gone: start over with the new one. */
			close(fd);
			fd = -1;
			continue;
		}
		now = monotonic_ms();
		if (wait_ms == STATE_LOCK_NOWAIT || (wait_ms > 0 && now - start >= wait_ms)) {
			rc = busy(fd, path, now - start, holder_r, err);
			close(fd);
			free(path);
			return rc;
		}
		if (wait_ms > 0 && step > wait_ms - (now - start))
			step = (long)(wait_ms - (now - start));
		sleep_ms(step);
		step = step * 2 > 250 ? 250 : step * 2;
	}
	if (!shared)
		write_holder(fd, path);
	*lock_r = xmalloc(sizeof(**lock_r));
	(*lock_r)->fd = fd;
	(*lock_r)->path = path;
	(*lock_r)->shared = shared;
	log_debug("locked %s%s", path, shared ? " (shared)" : "");
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(path);
	return -1;
}

int state_lock_try(const char *db_path, int wait_ms, struct state_lock **lock_r,
                   struct state_process *holder_r, struct error *err)
{
	return take(db_path, false, wait_ms, lock_r, holder_r, err);
}

int state_lock_try_shared(const char *db_path, int wait_ms, struct state_lock **lock_r,
                          struct state_process *holder_r, struct error *err)
{
	return take(db_path, true, wait_ms, lock_r, holder_r, err);
}

int state_lock_acquire(const char *db_path, int wait_ms, struct state_lock **lock_r, struct error *err)
{
	return take(db_path, false, wait_ms, lock_r, NULL, err) == 0 ? 0 : -1;
}

void state_lock_release(struct state_lock *lock)
{
	if (!lock)
		return;
	/* An empty file never names a process that is gone. The lock itself
	 * goes with the descriptor. */
	if (!lock->shared && ftruncate(lock->fd, 0) < 0)
		log_debug("cannot empty lock file %s: %s", lock->path, strerror(errno));
	close(lock->fd);
	free(lock->path);
	free(lock);
}

/* The process the file at `path` names, if it runs: 1, else 0. */
static int file_names_running(const char *path, struct state_process *p_r)
{
	char *data = NULL;
	size_t len;
	struct error err;

	memset(p_r, 0, sizeof(*p_r));
	if (fs_read_file(path, HOLDER_MAX, &data, &len, &err) < 0)
		return 0;
	parse_process(data, p_r);
	free(data);
	if (named_runs(p_r))
		return 1;
	memset(p_r, 0, sizeof(*p_r));
	return 0;
}

int state_lock_holder(const char *db_path, struct state_process *holder_r)
{
	char *path = state_lock_path(db_path);
	int rc = file_names_running(path, holder_r);

	free(path);
	return rc;
}

/* ---- the watcher ---- */

int state_watch_register(const char *db_path, struct state_watch **watch_r, struct state_process *other_r,
                         struct error *err)
{
	char *path = state_watch_path(db_path), *dir = xstrdup(path), *slash = strrchr(dir, '/');
	char line[HOLDER_MAX];
	struct state_process other;
	int rc = -1;

	*watch_r = NULL;
	if (!other_r)
		other_r = &other;
	if (file_names_running(path, other_r) && !(other_r->here && other_r->pid == (long)getpid())) {
		char *account = account_of(path);
		char who[400];
		describe(other_r, who, sizeof(who));
		error_set(err, ERR_ACCOUNT, "account \"%s\" is already watched by %s (%s)", account, who,
		          path);
		free(account);
		rc = 1;
		goto out;
	}
	if (slash && slash != dir) {
		*slash = '\0';
		if (fs_mkdir_p(dir, 0700, err) < 0)
			goto out;
	}
	write_line(line);
	if (fs_write_atomic(path, line, strlen(line), 0600, err) < 0)
		goto out;
	*watch_r = xmalloc(sizeof(**watch_r));
	(*watch_r)->path = path;
	path = NULL;
	rc = 0;
out:
	free(dir);
	free(path);
	return rc;
}

void state_watch_unregister(struct state_watch *watch)
{
	char *data = NULL;
	size_t len;
	struct state_process p;
	struct error err;

	if (!watch)
		return;
	/* Only our own: a watcher started after us may have written its
	 * line since (ours was stale to it once we ended). */
	if (fs_read_file(watch->path, HOLDER_MAX, &data, &len, &err) == 0) {
		parse_process(data, &p);
		if (p.known && p.here && p.pid == (long)getpid() && unlink(watch->path) < 0)
			log_debug("cannot remove %s: %s", watch->path, strerror(errno));
	}
	free(data);
	free(watch->path);
	free(watch);
}

int state_watch_find(const char *db_path, struct state_process *w_r)
{
	char *path = state_watch_path(db_path);
	int rc = file_names_running(path, w_r);

	free(path);
	return rc;
}
