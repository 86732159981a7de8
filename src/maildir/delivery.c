#include "twinbox/maildir/delivery.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "folder_p.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Writes are gathered: a message arrives in pieces of a TLS record or
 * less, and a write() per piece costs more than the copy. */
#define DELIVERY_WBUF (64 * 1024)

struct maildir_delivery {
	struct maildir_folder *f;
	char *id;
	char name[MAILDIR_NAME_MAX + 1];
	enum maildir_subdir subdir;
	int fd;
	int failed;
	uint64_t expected;   /* MAILDIR_SIZE_UNKNOWN: no promise */
	uint64_t written;    /* handed to write, gathered bytes included */
	unsigned char *wbuf; /* DELIVERY_WBUF bytes, made at the first small write */
	size_t wlen;         /* gathered, not yet written */
	struct maildir_delivery_opts opts;
};

static int open_tmp(struct maildir_delivery *d, struct error *err)
{
	struct maildir_folder *f = d->f;
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;

	d->fd = openat(f->sub_fd[SUB_TMP], d->id, flags, 0600);
	if (d->fd < 0 && errno == EEXIST) {
		/* The id is unique to this delivery, so the file can only be
		 * what an interrupted earlier attempt at it left behind. */
		log_debug("maildir: replacing the leftover %s/tmp/%s", f->path, d->id);
		if (unlinkat(f->sub_fd[SUB_TMP], d->id, 0) == 0 || errno == ENOENT)
			d->fd = openat(f->sub_fd[SUB_TMP], d->id, flags, 0600);
	}
	if (d->fd < 0)
		return error_errno(err, maildir_errno_scope(errno, ERR_MAILBOX), errno,
		                   "cannot create %s/tmp/%s", f->path, d->id);
	return 0;
}

int maildir_delivery_begin(struct maildir_folder *f, const struct maildir_delivery_opts *opts,
                           struct maildir_delivery **d_r, struct error *err)
{
	struct maildir_delivery *d;
	struct maildir_name pn;
	size_t i;

	*d_r = NULL;
	if (opts->id && !maildir_id_valid(opts->id))
		return error_set(err, ERR_MESSAGE, "\"%s\" cannot be the id of a Maildir message", opts->id);
	if (maildir_folder_check_recent(f, err) < 0)
		return -1;
	d = xcalloc(1, sizeof(*d));
	d->f = f;
	d->fd = -1;
	d->opts = *opts;
	d->id = opts->id ? xstrdup(opts->id) : maildir_unique_id(opts->size);
	d->opts.id = d->id;
	maildir_name_parse(d->id, &pn);
	d->expected = pn.size != MAILDIR_SIZE_UNKNOWN ? pn.size : opts->size;
	if (opts->size != MAILDIR_SIZE_UNKNOWN && d->expected != opts->size) {
		error_set(err, ERR_MESSAGE,
		          "message id \"%s\" names a size other than the %llu bytes announced", d->id,
		          (unsigned long long)opts->size);
		goto fail;
	}
	if (maildir_folder_find(f, d->id, &i)) {
		error_set(err, ERR_MESSAGE, "%s already holds a message \"%s\"", f->path, d->id);
		goto fail;
	}
	if (opts->flags || opts->to_cur) {
		d->subdir = MAILDIR_CUR;
		if (maildir_name_build(d->id, strlen(d->id), opts->flags, NULL, d->name) < 0) {
			error_set(err, ERR_MESSAGE, "message id \"%s\" is too long", d->id);
			goto fail;
		}
	} else {
		d->subdir = MAILDIR_NEW;
		strcpy(d->name, d->id);
	}
	if (open_tmp(d, err) < 0)
		goto fail;
	*d_r = d;
	return 0;
fail:
	free(d->id);
	free(d);
	return -1;
}

const char *maildir_delivery_id(const struct maildir_delivery *d)
{
	return d->id;
}

const char *maildir_delivery_name(const struct maildir_delivery *d)
{
	return d->name;
}

enum maildir_subdir maildir_delivery_subdir(const struct maildir_delivery *d)
{
	return d->subdir;
}

static int write_out(struct maildir_delivery *d, const void *data, size_t len, struct error *err)
{
	if (fs_write_all(d->fd, data, len, d->id, err) < 0) {
		d->failed = 1;
		error_prefix(err, "%s/tmp", d->f->path);
		return -1;
	}
	return 0;
}

/* Write what was gathered. */
static int flush_gathered(struct maildir_delivery *d, struct error *err)
{
	size_t n = d->wlen;

	d->wlen = 0;
	return n ? write_out(d, d->wbuf, n, err) : 0;
}

/* Account for `len` more bytes; fails once past a promised size. */
static int take_len(struct maildir_delivery *d, size_t len, struct error *err)
{
	if (d->failed)
		return error_set(err, ERR_MESSAGE, "the delivery of %s already failed", d->id);
	if (d->expected != MAILDIR_SIZE_UNKNOWN && (len > d->expected || d->written > d->expected - len)) {
		d->failed = 1;
		return error_set(err, ERR_MESSAGE, "message %s is longer than the %llu bytes announced",
		                 d->id, (unsigned long long)d->expected);
	}
	d->written += len;
	return 0;
}

/* Every write() but the last covers whole DELIVERY_WBUF blocks at an
 * offset that is a multiple of it: a write that ends inside a page has
 * the kernel zero the rest of that page (or folio) first, only for the
 * next write to copy over it. */
int maildir_delivery_write(struct maildir_delivery *d, const void *data, size_t len, struct error *err)
{
	const unsigned char *p = data;

	if (take_len(d, len, err) < 0)
		return -1;
	while (len > 0) {
		size_t n;

		if (d->wlen == 0 && len >= DELIVERY_WBUF) {
			n = len - len % DELIVERY_WBUF;
			if (write_out(d, p, n, err) < 0)
				return -1;
		} else {
			if (!d->wbuf)
				d->wbuf = xmalloc(DELIVERY_WBUF);
			n = DELIVERY_WBUF - d->wlen < len ? DELIVERY_WBUF - d->wlen : len;
			memcpy(d->wbuf + d->wlen, p, n);
			d->wlen += n;
			if (d->wlen == DELIVERY_WBUF && flush_gathered(d, err) < 0)
				return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

unsigned char *maildir_delivery_room(struct maildir_delivery *d, size_t *room_r)
{
	*room_r = 0;
	if (d->failed)
		return NULL;
	if (!d->wbuf)
		d->wbuf = xmalloc(DELIVERY_WBUF);
	/* Never full: a full buffer was written out at once. */
	*room_r = DELIVERY_WBUF - d->wlen;
	return d->wbuf + d->wlen;
}

int maildir_delivery_advance(struct maildir_delivery *d, size_t n, struct error *err)
{
	if (n > DELIVERY_WBUF - d->wlen) {
		d->failed = 1;
		return error_set(err, ERR_MESSAGE, "the delivery of %s was given more than its buffer",
		                 d->id);
	}
	if (take_len(d, n, err) < 0)
		return -1;
	d->wlen += n;
	if (d->wlen == DELIVERY_WBUF && flush_gathered(d, err) < 0)
		return -1;
	return 0;
}

static void discard(struct maildir_delivery *d)
{
	free(d->wbuf);
	if (d->fd >= 0)
		close(d->fd);
	if (unlinkat(d->f->sub_fd[SUB_TMP], d->id, 0) < 0 && errno != ENOENT)
		log_debug("maildir: cannot remove %s/tmp/%s: %s", d->f->path, d->id, strerror(errno));
	free(d->id);
	free(d);
}

void maildir_delivery_abort(struct maildir_delivery *d)
{
	if (d)
		discard(d);
}

/* tmp/<id> -> new/<id> or cur/<id>:2,<flags>, never replacing a file:
 * one rename that refuses an existing target (RENAME_NOREPLACE), which
 * also never leaves the file under both names; where the file system
 * has no such rename, the Maildir way of link + unlink. */
static int publish(struct maildir_delivery *d, struct error *err)
{
	struct maildir_folder *f = d->f;

	if (maildir_move_noreplace(f->sub_fd[SUB_TMP], d->id, f->sub_fd[d->subdir], d->name) == 0)
		return 0;
	if (errno == EEXIST)
		return error_set(err, ERR_MESSAGE, "%s/%s/%s already exists; not overwriting it", f->path,
		                 maildir_subdir_names[d->subdir], d->name);
	return error_errno(err, maildir_errno_scope(errno, ERR_MAILBOX), errno,
	                   "cannot move %s/tmp/%s to %s/", f->path, d->id, maildir_subdir_names[d->subdir]);
}

int maildir_delivery_seal(struct maildir_delivery *d, struct error *err)
{
	struct maildir_folder *f = d->f;

	if (d->failed)
		return error_set(err, ERR_MESSAGE, "the delivery of %s failed earlier", d->id);
	if (flush_gathered(d, err) < 0)
		return -1;
	free(d->wbuf);
	d->wbuf = NULL;
	if (d->expected != MAILDIR_SIZE_UNKNOWN && d->written != d->expected)
		return error_set(err, ERR_MESSAGE, "message %s has %llu bytes, not the %llu announced", d->id,
		                 (unsigned long long)d->written, (unsigned long long)d->expected);
	if (d->opts.has_mtime) {
		struct timespec times[2] = {{d->opts.mtime, 0}, {d->opts.mtime, 0}};
		if (futimens(d->fd, times) < 0)
			return error_errno(err, ERR_MAILBOX, errno, "cannot set the time of %s/tmp/%s",
			                   f->path, d->id);
	}
	return 0;
}

/* persist, the file's data already durable when `synced`, the folder
 * checked just before when `checked`. */
static int persist(struct maildir_delivery *d, bool synced, bool checked, struct error *err)
{
	struct maildir_folder *f = d->f;
	int rc;

	if (!synced && fs_fsync_fd(d->fd, d->id, err) < 0) {
		error_prefix(err, "%s/tmp", f->path);
		return -1;
	}
	rc = close(d->fd);
	d->fd = -1;
	if (rc < 0)
		return error_errno(err, maildir_errno_scope(errno, ERR_MAILBOX), errno,
		                   "cannot write %s/tmp/%s", f->path, d->id);
	/* A message linked into a directory that was removed meanwhile would
	 * be lost without a trace. */
	if ((!checked && maildir_folder_check(f, err) < 0) || publish(d, err) < 0)
		return -1;
	return 0;
}

int maildir_delivery_persist(struct maildir_delivery *d, struct error *err)
{
	return persist(d, false, false, err);
}

/* Local file systems whose syncfs() writes back every dirty file and
 * flushes the disk as fsync() does (a FUSE or network file system may
 * not): ext2/3/4, XFS, Btrfs, F2FS. */
static bool syncfs_is_durable(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long)sf.f_type) {
	case 0xEF53UL:     /* ext2, ext3, ext4 */
	case 0x58465342UL: /* XFS */
	case 0x9123683EUL: /* Btrfs */
	case 0xF2F52010UL: /* F2FS */
		return true;
	default:
		return false;
	}
}

void maildir_delivery_persist_group(struct maildir_delivery **ds, size_t n, int *rcs, struct error *errs)
{
	/* One syncfs() for the group: each fsync() also flushes the disk's
	 * write cache, and those flushes, not the writes, are what a run of
	 * many small messages waits for. If it fails, every file is synced
	 * on its own, so that a failure names its message. */
	bool synced = n >= 2 && syncfs_is_durable(ds[0]->fd) && syncfs(ds[0]->fd) == 0;
	/* The folder's directories checked once for the group (six stat
	 * calls), not once per message. */
	struct error check_err;
	bool checked = n >= 2 && maildir_folder_check(ds[0]->f, &check_err) == 0;

	for (size_t i = 0; i < n; i++) {
		error_clear(&errs[i]);
		rcs[i] = persist(ds[i], synced, checked, &errs[i]);
	}
}

void maildir_delivery_finish(struct maildir_delivery *d)
{
	struct maildir_folder *f = d->f;
	struct maildir_name pn;
	size_t i;

	if (f->scanned) {
		maildir_name_parse(d->name, &pn);
		i = maildir_index_add(f, d->name, &pn, d->subdir);
		f->entries[i].size = d->written;
	}
	maildir_listing_count(f, d->subdir, d->name, +1);
	f->dirty[d->subdir] = 1;
	free(d->wbuf);
	free(d->id);
	free(d);
}

int maildir_delivery_commit(struct maildir_delivery *d, struct error *err)
{
	struct maildir_folder *f = d->f;
	int defer = d->opts.defer_dir_sync;
	char id[MAILDIR_NAME_MAX + 1];

	if (maildir_delivery_seal(d, err) < 0 || maildir_delivery_persist(d, err) < 0) {
		discard(d);
		return -1;
	}
	snprintf(id, sizeof(id), "%s", d->id);
	maildir_delivery_finish(d);
	if (defer)
		return 0;
	if (maildir_folder_sync(f, err) < 0) {
		error_prefix(err, "message %s was delivered but may not survive a crash", id);
		return -1;
	}
	return 0;
}
