#include "twinbox/maildir/keywords.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

/* Bytes of a lock file's "pid:host" read at most. */
#define LOCK_TEXT_MAX 256
/* Pause between two looks at a live lock. */
#define LOCK_POLL_NS 100000000L
/* Stale locks taken over in a row before giving up: another program
 * that keeps leaving them is not waited out. */
#define LOCK_TAKEOVERS_MAX 8

struct maildir_keywords {
	char *dir;
	unsigned lock_wait;
	char *raw[MAILDIR_KEYWORDS_MAX];  /* the line's NAME as Dovecot reads it; NULL: free */
	bool named[MAILDIR_KEYWORDS_MAX]; /* raw is an IMAP keyword */
};

struct maildir_keywords *maildir_keywords_new(const char *dir)
{
	struct maildir_keywords *k = xcalloc(1, sizeof(*k));

	k->dir = xstrdup(dir);
	k->lock_wait = MAILDIR_KEYWORDS_LOCK_WAIT;
	return k;
}

static void clear_table(char *raw[MAILDIR_KEYWORDS_MAX])
{
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		free(raw[i]);
		raw[i] = NULL;
	}
}

void maildir_keywords_free(struct maildir_keywords *k)
{
	if (!k)
		return;
	clear_table(k->raw);
	free(k->dir);
	free(k);
}

void maildir_keywords_set_lock_wait(struct maildir_keywords *k, unsigned seconds)
{
	k->lock_wait = seconds;
}

/* --- reading --------------------------------------------------------------- */

/* INDEX as atoi() reads it (Dovecot's reading): leading white space, a
 * sign, digits; no digits is 0. -1 for anything outside 0..25. */
static int line_index(const char *s, const char *end)
{
	long v = 0;
	bool neg = false;

	while (s < end && (*s == ' ' || (*s >= '\t' && *s <= '\r')))
		s++;
	if (s < end && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v >= MAILDIR_KEYWORDS_MAX)
			return -1;
	}
	return neg && v != 0 ? -1 : (int)v;
}

/* One line (without its LF) into `raw`: Dovecot's rules (keywords.h). */
static void parse_line(const char *line, size_t len, char *raw[MAILDIR_KEYWORDS_MAX])
{
	const char *nul = memchr(line, '\0', len), *sp, *name;
	int idx;

	/* Dovecot reads a line as a C string, up to a NUL, without a CR
	 * before the LF. */
	if (nul)
		len = (size_t)(nul - line);
	else if (len && line[len - 1] == '\r')
		len--;
	sp = memchr(line, ' ', len);
	if (!sp)
		return;
	name = sp + 1;
	idx = line_index(line, sp);
	if (idx < 0 || name == line + len)
		return;
	free(raw[idx]);
	raw[idx] = xstrndup(name, (size_t)(line + len - name));
}

static void parse_table(const char *data, size_t len, char *raw[MAILDIR_KEYWORDS_MAX])
{
	const char *p = data, *end = data + len, *nl;

	/* A last line without its LF does not count, as in Dovecot. */
	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		parse_line(p, (size_t)(nl - p), raw);
		p = nl + 1;
	}
}

static bool same_table(char *const a[MAILDIR_KEYWORDS_MAX], char *const b[MAILDIR_KEYWORDS_MAX])
{
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if ((a[i] == NULL) != (b[i] == NULL) || (a[i] && strcmp(a[i], b[i]) != 0))
			return false;
	return true;
}

/* Read the whole file at `fd` into `b`, at most MAILDIR_KEYWORDS_FILE_MAX
 * bytes. */
static int read_bounded(int fd, const char *path, struct buf *b, struct error *err)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, ERR_MAILBOX, errno, "cannot read %s", path);
		if (n == 0)
			return 0;
		if (b->len + (size_t)n > MAILDIR_KEYWORDS_FILE_MAX)
			return error_set(err, ERR_MAILBOX,
			                 "%s is longer than %d bytes, too long for a keyword table; check "
			                 "what wrote it (Dovecot keeps at most 26 lines there)",
			                 path, MAILDIR_KEYWORDS_FILE_MAX);
		buf_append(b, chunk, (size_t)n);
	}
}

/* Read the table at `dir_fd` into `raw` (cleared first). */
static int read_table(int dir_fd, const char *dir, char *raw[MAILDIR_KEYWORDS_MAX], struct error *err)
{
	char *path = xasprintf("%s/" MAILDIR_KEYWORDS_FILE, dir);
	struct buf b = BUF_INIT;
	int fd, rc = 0;

	clear_table(raw);
	fd = openat(dir_fd, MAILDIR_KEYWORDS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT)
		rc = error_errno(err, ERR_MAILBOX, errno, "cannot open %s", path);
	if (fd >= 0) {
		rc = read_bounded(fd, path, &b, err);
		close(fd);
		if (rc == 0)
			parse_table(b.data ? b.data : "", b.len, raw);
	}
	buf_free(&b);
	free(path);
	return rc;
}

static void mark_named(struct maildir_keywords *k)
{
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		k->named[i] = k->raw[i] && mail_keyword_check(k->raw[i], strlen(k->raw[i]), NULL) == 0;
}

static int open_dir(const struct maildir_keywords *k, struct error *err)
{
	int fd = open(k->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		error_errno(err, ERR_MAILBOX, errno, "cannot open the folder %s", k->dir);
	return fd;
}

/* Read into k's table through `dir_fd`: 1 changed, 0 same, -1. */
static int reread(struct maildir_keywords *k, int dir_fd, struct error *err)
{
	char *fresh[MAILDIR_KEYWORDS_MAX] = {NULL};
	bool same;

	if (read_table(dir_fd, k->dir, fresh, err) < 0) {
		clear_table(k->raw);
		mark_named(k);
		return -1;
	}
	same = same_table(fresh, k->raw);
	clear_table(k->raw);
	memcpy(k->raw, fresh, sizeof(fresh));
	mark_named(k);
	return same ? 0 : 1;
}

int maildir_keywords_read(struct maildir_keywords *k, struct error *err)
{
	int dir_fd = open_dir(k, err), rc;

	if (dir_fd < 0)
		return -1;
	rc = reread(k, dir_fd, err);
	close(dir_fd);
	return rc;
}

/* --- looking up ------------------------------------------------------------ */

const char *maildir_keywords_name(const struct maildir_keywords *k, char letter)
{
	if (letter < 'a' || letter > 'z')
		return NULL;
	return k->named[letter - 'a'] ? k->raw[letter - 'a'] : NULL;
}

char maildir_keywords_letter(const struct maildir_keywords *k, const char *kw, size_t len)
{
	/* The last line of a name wins, as in Dovecot's table by name. */
	for (size_t i = MAILDIR_KEYWORDS_MAX; i-- > 0;)
		if (k->named[i] && strlen(k->raw[i]) == len && strncasecmp(k->raw[i], kw, len) == 0)
			return MAILDIR_KEYWORD_LETTER(i);
	return 0;
}

uint32_t maildir_keywords_taken(const struct maildir_keywords *k)
{
	uint32_t taken = 0;

	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (k->raw[i])
			taken |= UINT32_C(1) << i;
	return taken;
}

size_t maildir_keywords_free_count(const struct maildir_keywords *k)
{
	size_t n = 0;

	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		n += k->raw[i] == NULL;
	return n;
}

char *maildir_keywords_all(const struct maildir_keywords *k)
{
	struct buf b = BUF_INIT;
	char *canon = NULL;

	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (!k->named[i])
			continue;
		if (b.len)
			buf_append_byte(&b, ' ');
		buf_append(&b, k->raw[i], strlen(k->raw[i]));
	}
	if (b.len && mail_keywords_canon(b.data, &canon, NULL) < 0)
		canon = NULL; /* every name was checked: cannot happen */
	buf_free(&b);
	return canon;
}

/* --- locking --------------------------------------------------------------- */

/* "pid:host", as Dovecot's dotlocks hold. */
static char *lock_text(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	return xasprintf("%ld:%s", (long)getpid(), host);
}

/* Whether the lock `name` is stale: its holder, named in it as
 * "pid:host" on this host, is gone, or it is older than
 * MAILDIR_KEYWORDS_LOCK_STALE seconds. ENOENT (gone meanwhile) is
 * "stale": the caller simply tries again. */
static bool lock_stale(int dir_fd, const char *name)
{
	char text[LOCK_TEXT_MAX + 1], host[256], *colon, *end;
	struct stat sb;
	ssize_t n = -1;
	long pid;
	int fd;

	if (fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT;
	if (time(NULL) - sb.st_mtime > MAILDIR_KEYWORDS_LOCK_STALE)
		return true;
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0) {
		n = read(fd, text, LOCK_TEXT_MAX);
		close(fd);
	}
	if (n <= 0)
		return false;
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	colon = strchr(text, ':');
	if (!colon || gethostname(host, sizeof(host)) < 0)
		return false;
	host[sizeof(host) - 1] = '\0';
	pid = strtol(text, &end, 10);
	if (end != colon || pid <= 0 || strcmp(colon + 1, host) != 0)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Take the dotlock `name` in the folder: the open lock file, "pid:host"
 * written into it, or -1 with ERR_MAILBOX. */
static int lock_take(const struct maildir_keywords *k, int dir_fd, const char *name, struct error *err)
{
	char *text = lock_text();
	unsigned takeovers = 0;
	long waited_ns = 0;
	int fd;

	for (;;) {
		fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			error_errno(err, ERR_MAILBOX, errno, "cannot create the lock %s/%s", k->dir, name);
			goto fail;
		}
		if (lock_stale(dir_fd, name) && takeovers < LOCK_TAKEOVERS_MAX) {
			takeovers++;
			if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT) {
				error_errno(err, ERR_MAILBOX, errno, "cannot remove the stale lock %s/%s",
				            k->dir, name);
				goto fail;
			}
			continue;
		}
		if (waited_ns >= (long)k->lock_wait * 1000000000L) {
			error_set(err, ERR_MAILBOX,
			          "%s/%s is held by another program (Dovecot, or another twinbox) for "
			          "more than %u seconds; the folder's keywords are synced next time (remove "
			          "the lock if no program holds it)",
			          k->dir, name, k->lock_wait);
			goto fail;
		}
		nanosleep(&(struct timespec){0, LOCK_POLL_NS}, NULL);
		waited_ns += LOCK_POLL_NS;
	}
	if (fs_write_all(fd, text, strlen(text), name, err) < 0) {
		close(fd);
		unlinkat(dir_fd, name, 0);
		error_escalate(err, ERR_MAILBOX);
		goto fail;
	}
	free(text);
	return fd;
fail:
	free(text);
	return -1;
}

static void lock_drop(int dir_fd, const char *name, int fd)
{
	if (fd < 0)
		return;
	close(fd);
	unlinkat(dir_fd, name, 0);
}

/* --- writing --------------------------------------------------------------- */

/* Write the table into the lock file *fd and rename it over the file:
 * Dovecot's file_dotlock_replace. Once renamed, *fd is closed and -1
 * (the lock went with the rename). */
static int write_table(const struct maildir_keywords *k, int dir_fd, int *fd_p, struct error *err)
{
	int fd = *fd_p;
	struct buf b = BUF_INIT;
	struct stat old, now;
	bool had = fstatat(dir_fd, MAILDIR_KEYWORDS_FILE, &old, AT_SYMLINK_NOFOLLOW) == 0;
	char *what = xasprintf("%s/" MAILDIR_KEYWORDS_LOCK, k->dir);
	int rc = -1;

	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (k->raw[i])
			buf_printf(&b, "%zu %s\n", i, k->raw[i]);
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		error_errno(err, ERR_MAILBOX, errno, "cannot write %s", what);
		goto out;
	}
	if (fs_write_all(fd, b.data ? b.data : "", b.len, what, err) < 0 ||
	    fchmod(fd, had ? (old.st_mode & 07777) : 0600) < 0 || fstat(fd, &now) < 0) {
		if (err && err->scope == ERR_NONE)
			error_errno(err, ERR_MAILBOX, errno, "cannot write %s", what);
		goto out;
	}
	/* Dovecot reads the table again only when its mtime (whole
	 * seconds) changes: it must grow with every write. */
	if (had && now.st_mtime <= old.st_mtime) {
		struct timespec t[2] = {{0, UTIME_OMIT}, {old.st_mtime + 1, 0}};

		if (futimens(fd, t) < 0) {
			error_errno(err, ERR_MAILBOX, errno, "cannot set the time of %s", what);
			goto out;
		}
	}
	if (fs_fsync_fd(fd, what, err) < 0)
		goto out;
	if (renameat(dir_fd, MAILDIR_KEYWORDS_LOCK, dir_fd, MAILDIR_KEYWORDS_FILE) < 0) {
		error_errno(err, ERR_MAILBOX, errno, "cannot rename %s to " MAILDIR_KEYWORDS_FILE, what);
		goto out;
	}
	close(fd);
	*fd_p = -1;
	/* The letters written into file names from now on mean these
	 * names: the table must be on disk first. */
	rc = fs_fsync_dir(k->dir, err);
out:
	if (rc < 0)
		error_escalate(err, ERR_MAILBOX);
	buf_free(&b);
	free(what);
	return rc;
}

int maildir_keywords_add(struct maildir_keywords *k, const char *kw, size_t len, char *letter_r,
                         struct error *err)
{
	int dir_fd, uid_fd = -1, fd = -1, rc = -1;
	size_t i;

	*letter_r = 0;
	if (mail_keyword_check(kw, len, err) < 0)
		return -1;
	if ((*letter_r = maildir_keywords_letter(k, kw, len)))
		return 1;
	if ((dir_fd = open_dir(k, err)) < 0)
		return -1;
	/* Dovecot changes the table under its uidlist lock only. */
	if (faccessat(dir_fd, MAILDIR_UIDLIST_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (uid_fd = lock_take(k, dir_fd, MAILDIR_UIDLIST_LOCK, err)) < 0)
		goto out;
	if ((fd = lock_take(k, dir_fd, MAILDIR_KEYWORDS_LOCK, err)) < 0 || reread(k, dir_fd, err) < 0)
		goto out;
	if ((*letter_r = maildir_keywords_letter(k, kw, len))) {
		rc = 1;
		goto out;
	}
	for (i = 0; i < MAILDIR_KEYWORDS_MAX && k->raw[i]; i++)
		;
	if (i == MAILDIR_KEYWORDS_MAX) {
		rc = 0;
		goto out;
	}
	k->raw[i] = xstrndup(kw, len);
	k->named[i] = true;
	if (write_table(k, dir_fd, &fd, err) < 0) {
		free(k->raw[i]);
		k->raw[i] = NULL;
		k->named[i] = false;
		goto out;
	}
	*letter_r = MAILDIR_KEYWORD_LETTER(i);
	rc = 1;
out:
	lock_drop(dir_fd, MAILDIR_KEYWORDS_LOCK, fd);
	lock_drop(dir_fd, MAILDIR_UIDLIST_LOCK, uid_fd);
	close(dir_fd);
	return rc;
}
