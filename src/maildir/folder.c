#include "folder_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twinbox/util/fs.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define CHUNK_SIZE 65536
/* Times closer than this to "now" may still change without the mtime
 * changing. A filesystem that keeps whole seconds only (FAT keeps even
 * seconds) needs 3 s. One that keeps sub-second times stamps a change
 * with the kernel's coarse clock, which lags the real one by at most a
 * tick (1-10 ms): 100 ms covers that with room to spare. */
#define SETTLE_COARSE_NS 3000000000LL
#define SETTLE_FINE_NS   100000000LL

const char *const maildir_subdir_names[3] = {"new", "cur", "tmp"};

enum err_scope maildir_errno_scope(int errnum, enum err_scope scope)
{
	return errnum == ENOSPC || errnum == EDQUOT || errnum == EROFS ? ERR_FATAL : scope;
}

/* --- the snapshot index ------------------------------------------------ */

static uint64_t hash_id(const char *id, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
	return h;
}

static char *arena_store(struct maildir_folder *f, const char *s, size_t len)
{
	struct maildir_chunk *c = f->arena;
	char *p;

	if (!c || CHUNK_SIZE - c->used < len) {
		c = xmalloc(sizeof(*c) + CHUNK_SIZE);
		c->next = f->arena;
		c->used = 0;
		f->arena = c;
	}
	p = c->data + c->used;
	memcpy(p, s, len);
	c->used += len;
	return p;
}

void maildir_index_reset(struct maildir_folder *f)
{
	while (f->arena) {
		struct maildir_chunk *next = f->arena->next;
		free(f->arena);
		f->arena = next;
	}
	f->count = 0;
	f->duplicates = 0;
	if (f->slots)
		memset(f->slots, 0, f->nslots * sizeof(*f->slots));
}

static void slot_insert(struct maildir_folder *f, size_t i)
{
	const struct maildir_entry *e = &f->entries[i];
	size_t mask = f->nslots - 1;
	size_t s = (size_t)hash_id(e->id, e->id_len) & mask;

	while (f->slots[s])
		s = (s + 1) & mask;
	f->slots[s] = (uint32_t)(i + 1);
}

static void index_grow(struct maildir_folder *f)
{
	size_t n = f->nslots ? f->nslots * 2 : 1024;

	free(f->slots);
	f->slots = xcalloc(n, sizeof(*f->slots));
	f->nslots = n;
	for (size_t i = 0; i < f->count; i++)
		slot_insert(f, i);
}

/* "<id>\0<info>\0" from "<id>:<info>": the id is usable as a C string. */
static void entry_set(struct maildir_folder *f, struct maildir_entry *e, const char *fname,
                      const struct maildir_name *pn, enum maildir_subdir subdir)
{
	size_t len = strlen(fname);

	e->id = arena_store(f, fname, len + 1);
	e->id[pn->id_len] = '\0';
	e->id_len = (uint16_t)pn->id_len;
	e->bits = pn->info ? ENTRY_HAS_INFO : 0;
	e->flags = pn->flags;
	e->size = pn->size;
	e->subdir = (uint8_t)subdir;
}

size_t maildir_index_add(struct maildir_folder *f, const char *fname, const struct maildir_name *pn,
                         enum maildir_subdir subdir)
{
	size_t i = f->count;

	f->entries = xgrow(f->entries, &f->cap, f->count + 1, sizeof(*f->entries));
	entry_set(f, &f->entries[i], fname, pn, subdir);
	f->count++;
	if (f->count * 2 > f->nslots)
		index_grow(f);
	else
		slot_insert(f, i);
	return i;
}

void maildir_index_rename(struct maildir_folder *f, size_t i, const char *fname,
                          const struct maildir_name *pn, enum maildir_subdir subdir)
{
	/* Same id, so the hash slot stays right; the old name stays in the
	 * arena until the next scan. */
	entry_set(f, &f->entries[i], fname, pn, subdir);
}

size_t maildir_index_find(const struct maildir_folder *f, const char *id, size_t len)
{
	size_t mask, s;

	if (!f->nslots)
		return NO_ENTRY;
	mask = f->nslots - 1;
	for (s = (size_t)hash_id(id, len) & mask; f->slots[s]; s = (s + 1) & mask) {
		const struct maildir_entry *e = &f->entries[f->slots[s] - 1];
		if (e->id_len == len && !(e->bits & ENTRY_GONE) && memcmp(e->id, id, len) == 0)
			return f->slots[s] - 1;
	}
	return NO_ENTRY;
}

void maildir_entry_name(const struct maildir_entry *e, char out[MAILDIR_NAME_MAX + 1])
{
	if (e->bits & ENTRY_HAS_INFO)
		snprintf(out, MAILDIR_NAME_MAX + 1, "%s:%s", e->id, e->id + e->id_len + 1);
	else
		snprintf(out, MAILDIR_NAME_MAX + 1, "%s", e->id);
}

/* --- the listing ---------------------------------------------------------- */

/* A file's share of a listing digest: FNV-1a over the subdirectory and
 * the name, then a finalizer that spreads every input bit over the word,
 * so that sums of many shares differ whenever the sets of names do. */
static uint64_t listing_share(enum maildir_subdir sd, const char *name)
{
	uint64_t h = (1469598103934665603ull ^ (uint64_t)(sd + 1)) * 1099511628211ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

void maildir_listing_add(struct maildir_listing *l, enum maildir_subdir sd, const char *name)
{
	l->digest += listing_share(sd, name);
	l->files++;
}

void maildir_listing_count(struct maildir_folder *f, enum maildir_subdir sd, const char *name, int sign)
{
	if (!f->listing_known)
		return;
	if (sign > 0) {
		maildir_listing_add(&f->listing, sd, name);
	} else {
		f->listing.digest -= listing_share(sd, name);
		f->listing.files--;
	}
}

void maildir_folder_assume_listing(struct maildir_folder *f, const struct maildir_listing *l)
{
	f->listing = *l;
	f->listing_known = true;
}

int maildir_folder_listing(const struct maildir_folder *f, struct maildir_listing *l_r)
{
	if (!f->listing_known)
		return 0;
	*l_r = f->listing;
	return 1;
}

size_t maildir_folder_count(const struct maildir_folder *f)
{
	return f->count;
}

void maildir_folder_msg(const struct maildir_folder *f, size_t i, struct maildir_msg *m_r)
{
	const struct maildir_entry *e = &f->entries[i];

	m_r->id = e->id;
	m_r->info = e->bits & ENTRY_HAS_INFO ? e->id + e->id_len + 1 : NULL;
	m_r->flags = e->flags;
	m_r->size = e->size;
	m_r->subdir = (enum maildir_subdir)e->subdir;
	m_r->gone = !!(e->bits & ENTRY_GONE);
}

int maildir_folder_find(const struct maildir_folder *f, const char *id, size_t *i_r)
{
	size_t i = maildir_index_find(f, id, strlen(id));

	if (i == NO_ENTRY)
		return 0;
	*i_r = i;
	return 1;
}

void maildir_folder_file_name(const struct maildir_folder *f, size_t i, char out[MAILDIR_NAME_MAX + 1])
{
	maildir_entry_name(&f->entries[i], out);
}

size_t maildir_folder_duplicates(const struct maildir_folder *f)
{
	return f->duplicates;
}

const struct maildir_times *maildir_folder_scan_times(const struct maildir_folder *f)
{
	return &f->scan_times;
}

/* --- open and close ----------------------------------------------------- */

static enum maildir_presence missing_kind(const struct maildir *md)
{
	struct stat st;

	return stat(md->root, &st) < 0 && errno == ENOENT ? MAILDIR_ROOT_MISSING : MAILDIR_FOLDER_MISSING;
}

/* A folder with cur/ but no new/ or tmp/ is a Maildir that lost its empty
 * directories (a git checkout, a careless copy); give them back. */
static int open_sub(struct maildir_folder *f, int which, struct error *err)
{
	const char *sub = maildir_subdir_names[which];
	int fd = openat(f->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(f->dir_fd, sub, 0700) < 0 && errno != EEXIST)
			return error_errno(err, maildir_errno_scope(errno, ERR_MAILBOX), errno,
			                   "cannot create the missing %s/%s", f->path, sub);
		log_debug("maildir: created the missing %s/%s", f->path, sub);
		fd = openat(f->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return error_errno(err, ERR_MAILBOX, errno, "cannot open %s/%s", f->path, sub);
	f->sub_fd[which] = fd;
	return 0;
}

int maildir_folder_open(const struct maildir *md, const char *name, enum maildir_presence *presence_r,
                        struct maildir_folder **f_r, struct error *err)
{
	struct maildir_folder *f;
	enum maildir_presence presence = MAILDIR_PRESENCE_ERROR;
	char *path;

	*f_r = NULL;
	if (presence_r)
		*presence_r = presence;
	if (maildir_folder_dir(md, name, &path, err) < 0)
		return -1;
	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	f->path = path;
	f->dir_fd = f->sub_fd[0] = f->sub_fd[1] = f->sub_fd[2] = -1;
	f->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dir_fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			presence = missing_kind(md);
		if (presence == MAILDIR_ROOT_MISSING)
			error_set(err, ERR_MAILBOX,
			          "the Maildir root %s does not exist (is the disk mounted?)", md->root);
		else if (presence == MAILDIR_FOLDER_MISSING)
			error_set(err, ERR_MAILBOX,
			          "the local folder \"%s\" does not exist (no directory %s)", name, path);
		else
			error_errno(err, ERR_MAILBOX, errno, "cannot open the folder directory %s", path);
		goto fail;
	}
	f->sub_fd[MAILDIR_CUR] = openat(f->dir_fd, "cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->sub_fd[MAILDIR_CUR] < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			presence = MAILDIR_FOLDER_MISSING;
			error_set(err, ERR_MAILBOX,
			          "the local folder \"%s\" does not exist: %s has no cur/ directory", name,
			          path);
		} else {
			error_errno(err, ERR_MAILBOX, errno, "cannot open %s/cur", path);
		}
		goto fail;
	}
	if (open_sub(f, MAILDIR_NEW, err) < 0 || open_sub(f, SUB_TMP, err) < 0)
		goto fail;
	if (presence_r)
		*presence_r = MAILDIR_PRESENT;
	*f_r = f;
	return 0;
fail:
	if (presence_r)
		*presence_r = presence;
	maildir_folder_close(f);
	return -1;
}

void maildir_folder_close(struct maildir_folder *f)
{
	if (!f)
		return;
	for (int i = 0; i < 3; i++)
		if (f->sub_fd[i] >= 0)
			close(f->sub_fd[i]);
	if (f->dir_fd >= 0)
		close(f->dir_fd);
	maildir_index_reset(f);
	free(f->entries);
	free(f->slots);
	free(f->name);
	free(f->path);
	free(f);
}

const char *maildir_folder_name(const struct maildir_folder *f)
{
	return f->name;
}

const char *maildir_folder_path(const struct maildir_folder *f)
{
	return f->path;
}

/* --- directory times, durability, tmp/ ---------------------------------- */

static int same_dir(int fd, int at_fd, const char *name)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && fstatat(at_fd, name, &b, 0) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int maildir_folder_check(struct maildir_folder *f, struct error *err)
{
	/* A directory removed or replaced while open still reads as an empty
	 * one through the old descriptor; that must never pass for a folder
	 * whose messages were all deleted. */
	if (!same_dir(f->dir_fd, AT_FDCWD, f->path) || !same_dir(f->sub_fd[MAILDIR_CUR], f->dir_fd, "cur") ||
	    !same_dir(f->sub_fd[MAILDIR_NEW], f->dir_fd, "new")) {
		atomic_store(&f->checked_ms, 0);
		return error_set(err, ERR_MAILBOX,
		                 "the local folder %s was removed or replaced while twinbox had it open",
		                 f->path);
	}
	/* Never 0, which means "not checked". */
	atomic_store(&f->checked_ms, monotonic_ms() | 1);
	return 0;
}

int maildir_folder_check_recent(struct maildir_folder *f, struct error *err)
{
	long long last = atomic_load(&f->checked_ms);

	if (last != 0 && monotonic_ms() - last < MAILDIR_CHECK_FRESH_MS)
		return 0;
	return maildir_folder_check(f, err);
}

static long long ns_between(const struct timespec *from, const struct timespec *to)
{
	return (long long)(to->tv_sec - from->tv_sec) * 1000000000LL + (to->tv_nsec - from->tv_nsec);
}

/* Whether two directory times read at `now` are old enough that any later
 * change gives a later time. A time with a sub-second part shows that the
 * filesystem keeps one (both zero by chance: the coarse margin, only
 * slower). */
static bool times_settled(const struct timespec *a, const struct timespec *b, const struct timespec *now)
{
	long long margin = a->tv_nsec || b->tv_nsec ? SETTLE_FINE_NS : SETTLE_COARSE_NS;

	return ns_between(a, now) >= margin && ns_between(b, now) >= margin;
}

int maildir_folder_times(struct maildir_folder *f, struct maildir_times *t_r, struct error *err)
{
	struct stat sn, sc;
	struct timespec now;

	memset(t_r, 0, sizeof(*t_r));
	if (fstat(f->sub_fd[MAILDIR_NEW], &sn) < 0 || fstat(f->sub_fd[MAILDIR_CUR], &sc) < 0)
		return error_errno(err, ERR_MAILBOX, errno, "cannot read the times of %s", f->path);
	clock_gettime(CLOCK_REALTIME, &now);
	t_r->new_mtime = sn.st_mtim;
	t_r->cur_mtime = sc.st_mtim;
	t_r->settled = times_settled(&sn.st_mtim, &sc.st_mtim, &now);
	return 0;
}

int maildir_times_equal(const struct maildir_times *a, const struct maildir_times *b)
{
	return a->new_mtime.tv_sec == b->new_mtime.tv_sec && a->new_mtime.tv_nsec == b->new_mtime.tv_nsec &&
	       a->cur_mtime.tv_sec == b->cur_mtime.tv_sec && a->cur_mtime.tv_nsec == b->cur_mtime.tv_nsec;
}

int maildir_folder_sync(struct maildir_folder *f, struct error *err)
{
	for (int i = 0; i < 2; i++) {
		char what[64];

		if (!f->dirty[i])
			continue;
		snprintf(what, sizeof(what), "the %s/ directory", maildir_subdir_names[i]);
		if (fs_fsync_fd(f->sub_fd[i], what, err) < 0) {
			error_prefix(err, "%s", f->path);
			return -1;
		}
		f->dirty[i] = 0;
	}
	return 0;
}

int maildir_folder_clean_tmp(struct maildir_folder *f, time_t now, size_t *removed_r, struct error *err)
{
	int fd = openat(f->sub_fd[SUB_TMP], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t removed = 0;
	struct dirent *de;
	DIR *d;

	if (removed_r)
		*removed_r = 0;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno(err, ERR_MAILBOX, errno, "cannot read %s/tmp", f->path);
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		time_t last;

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		last = st.st_atime > st.st_mtime ? st.st_atime : st.st_mtime;
		last = st.st_ctime > last ? st.st_ctime : last;
		if (now - last <= MAILDIR_TMP_MAX_AGE)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			if (errno == ENOENT)
				continue;
			error_errno(err, ERR_MAILBOX, errno, "cannot remove %s/tmp/%s", f->path, de->d_name);
			closedir(d);
			return -1;
		}
		log_debug("maildir: removed the stale %s/tmp/%s", f->path, de->d_name);
		removed++;
	}
	if (errno) {
		error_errno(err, ERR_MAILBOX, errno, "cannot read %s/tmp", f->path);
		closedir(d);
		return -1;
	}
	closedir(d);
	if (removed_r)
		*removed_r = removed;
	return 0;
}

int maildir_folder_drop_tmp(struct maildir_folder *f, const char *id, struct error *err)
{
	if (!maildir_id_valid(id))
		return error_set(err, ERR_MESSAGE, "\"%s\" cannot be the id of a Maildir message", id);
	if (unlinkat(f->sub_fd[SUB_TMP], id, 0) == 0) {
		log_debug("maildir: removed %s/tmp/%s, left by an interrupted run", f->path, id);
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	return error_errno(err, ERR_MAILBOX, errno, "cannot remove %s/tmp/%s", f->path, id);
}

/* --- moving without replacing -------------------------------------------- */

static int no_hard_links(int errnum)
{
	return errnum == EPERM || errnum == EOPNOTSUPP || errnum == ENOSYS || errnum == EMLINK;
}

int maildir_move_noreplace(int from_fd, const char *from, int to_fd, const char *to)
{
	if (renameat2(from_fd, from, to_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* The filesystem has no RENAME_NOREPLACE: link refuses an existing
	 * target by itself. */
	if (linkat(from_fd, from, to_fd, to, 0) == 0) {
		if (unlinkat(from_fd, from, 0) < 0 && errno != ENOENT)
			log_debug("maildir: cannot remove %s after linking it to %s: %s", from, to,
			          strerror(errno));
		return 0;
	}
	if (!no_hard_links(errno))
		return -1;
	/* Neither (some network and FAT filesystems): check, then rename. The
	 * window between the two is the best such a filesystem allows; the
	 * target is a unique name nobody else should be creating. */
	if (faccessat(to_fd, to, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(from_fd, from, to_fd, to);
}
