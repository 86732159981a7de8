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

#include "twinbox/util/fs.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define HOLDER_MAX 512 /* bytes of the "<pid> <time> <host>" line we read */

struct state_lock {
	int fd;
	char *path;
};

struct holder {
	bool known;
	long pid;
	long long started;
	char host[256];
};

char *state_lock_path(const char *db_path)
{
	size_t len = strlen(db_path);

	if (len > 3 && strcmp(db_path + len - 3, ".db") == 0)
		return xasprintf("%.*s.lock", (int)(len - 3), db_path);
	return xasprintf("%s.lock", db_path);
}

/* "work" for ".../work.lock": the account, for messages. */
static char *account_of(const char *lock_path)
{
	const char *base = strrchr(lock_path, '/');
	size_t len;

	base = base ? base + 1 : lock_path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".lock") == 0)
		len -= 5;
	return xstrndup(base, len);
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

static int open_file(const char *path, int *fd_r, struct error *err)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat sb;
	int fd;

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
	/* O_NOFOLLOW: another user cannot make us create or truncate a file
	 * elsewhere through a planted symlink. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_errno(err, ERR_FATAL, errno, "cannot open lock file %s", path);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return error_set(err, ERR_FATAL, "lock file %s is not a regular file; move it away", path);
	}
	*fd_r = fd;
	return 0;
}

/* 0 locked, 1 held by someone else, -1 error. */
static int try_lock(int fd, const char *path, struct error *err)
{
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
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

static void read_holder(int fd, struct holder *h)
{
	char line[HOLDER_MAX];
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);

	memset(h, 0, sizeof(*h));
	if (n <= 0)
		return;
	line[n] = '\0';
	h->known = sscanf(line, "%ld %lld %255s", &h->pid, &h->started, h->host) == 3 && h->pid > 0;
}

/* The holder writes its line just after it gets the lock, so a fresh
 * holder may not have written yet (the file is empty, or still names the
 * previous, now dead holder). Give it a moment before saying "unknown". */
static void find_holder(int fd, struct holder *h)
{
	char host[256];

	our_host(host, sizeof(host));
	for (int tries = 0; tries < 20; tries++) {
		read_holder(fd, h);
		if (h->known && (strcmp(h->host, host) != 0 || kill((pid_t)h->pid, 0) == 0 || errno == EPERM))
			return;
		sleep_ms(10);
	}
	h->known = false;
}

static int busy(int fd, const char *path, long long waited_ms, struct error *err)
{
	char *account = account_of(path);
	char host[256], when[64] = "?", where[300] = "", waited[64] = "";
	struct holder h;

	find_holder(fd, &h);
	our_host(host, sizeof(host));
	if (waited_ms > 0)
		snprintf(waited, sizeof(waited), " after waiting %.1f s", (double)waited_ms / 1000);
	if (!h.known) {
		error_set(
		    err, ERR_ACCOUNT,
		    "account \"%s\" is being synced by another process%s; wait for it to finish or stop it "
		    "(lock file %s)",
		    account, waited, path);
	} else {
		time_t t = (time_t)h.started;
		struct tm tm;
		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (strcmp(h.host, host) != 0)
			snprintf(where, sizeof(where), " on host %s", h.host);
		error_set(
		    err, ERR_ACCOUNT,
		    "account \"%s\" is being synced by process %ld%s (started %s)%s; wait for it to finish "
		    "or stop it (lock file %s)",
		    account, h.pid, where, when, waited, path);
	}
	free(account);
	return -1;
}

/* Say who we are, for the next run that finds the lock taken. */
static void write_holder(int fd, const char *path)
{
	char host[256], line[HOLDER_MAX];
	struct error err;
	int len;

	our_host(host, sizeof(host));
	len = snprintf(line, sizeof(line), "%ld %lld %s\n", (long)getpid(), (long long)time(NULL), host);
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    fs_write_all(fd, line, (size_t)len, path, &err) < 0)
		log_warn("cannot write the process id into lock file %s: %s", path, strerror(errno));
}

int state_lock_acquire(const char *db_path, int wait_ms, struct state_lock **lock_r, struct error *err)
{
	char *path = state_lock_path(db_path);
	long long start = monotonic_ms();
	long step = 10;
	int fd = -1, rc;

	*lock_r = NULL;
	for (;;) {
		long long now;

		if (fd < 0 && open_file(path, &fd, err) < 0)
			goto fail;
		rc = try_lock(fd, path, err);
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
			busy(fd, path, now - start, err);
			goto fail;
		}
		if (wait_ms > 0 && step > wait_ms - (now - start))
			step = (long)(wait_ms - (now - start));
		sleep_ms(step);
		step = step * 2 > 250 ? 250 : step * 2;
	}
	write_holder(fd, path);
	*lock_r = xmalloc(sizeof(**lock_r));
	(*lock_r)->fd = fd;
	(*lock_r)->path = path;
	log_debug("locked %s", path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(path);
	return -1;
}

void state_lock_release(struct state_lock *lock)
{
	if (!lock)
		return;
	/* An empty file never names a process that is gone. The lock itself
	 * goes with the descriptor. */
	if (ftruncate(lock->fd, 0) < 0)
		log_debug("cannot empty lock file %s: %s", lock->path, strerror(errno));
	close(lock->fd);
	free(lock->path);
	free(lock);
}
