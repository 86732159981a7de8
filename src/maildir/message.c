#include "folder_p.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twinbox/maildir/flags.h"
#include "twinbox/util/log.h"

int maildir_lookup(struct maildir_folder *f, const char *id, size_t *i_r, struct error *err)
{
	int found;

	if (maildir_folder_find(f, id, i_r))
		return 0;
	found = maildir_folder_locate(f, id, err);
	if (found < 0)
		return -1;
	if (!found || !maildir_folder_find(f, id, i_r))
		return error_set(err, ERR_MESSAGE, "there is no message \"%s\" in %s", id, f->path);
	return 0;
}

/* The file of entry i was not where the snapshot said: another program
 * moved or removed it. 0 when it is found again (entry updated), -1 with
 * ERR_MESSAGE when it is gone. */
static int refind(struct maildir_folder *f, size_t i, struct error *err)
{
	int found;

	log_debug("maildir: %s: message %s moved; looking for it", f->path, f->entries[i].id);
	found = maildir_folder_locate(f, f->entries[i].id, err);
	if (found < 0)
		return -1;
	if (!found)
		return error_set(err, ERR_MESSAGE, "message \"%s\" in %s was removed by another program",
		                 f->entries[i].id, f->path);
	return 0;
}

static int open_file(struct maildir_folder *f, const char *id, int want_fd, int *fd_r, struct stat *st_r,
                     struct error *err)
{
	size_t i;

	if (maildir_lookup(f, id, &i, err) < 0)
		return -1;
	for (int attempt = 0;; attempt++) {
		struct maildir_entry *e = &f->entries[i];
		char name[MAILDIR_NAME_MAX + 1];
		int fd = -1, rc;

		maildir_entry_name(e, name);
		if (want_fd) {
			fd = openat(f->sub_fd[e->subdir], name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
			rc = fd < 0 ? -1 : fstat(fd, st_r);
		} else {
			rc = fstatat(f->sub_fd[e->subdir], name, st_r, AT_SYMLINK_NOFOLLOW);
		}
		if (rc == 0 && !S_ISREG(st_r->st_mode)) {
			rc = -1;
			errno = EINVAL;
		}
		if (rc == 0) {
			e->size = (uint64_t)st_r->st_size;
			*fd_r = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		if (errno != ENOENT || attempt > 0)
			return error_errno(err, ERR_MESSAGE, errno, "cannot read %s/%s/%s", f->path,
			                   maildir_subdir_names[e->subdir], name);
		if (refind(f, i, err) < 0)
			return -1;
	}
}

int maildir_folder_stat(struct maildir_folder *f, const char *id, uint64_t *size_r, time_t *mtime_r,
                        struct error *err)
{
	struct stat st;
	size_t i;
	int fd;

	if (!mtime_r && maildir_folder_find(f, id, &i) && f->entries[i].size != MAILDIR_SIZE_UNKNOWN) {
		if (size_r)
			*size_r = f->entries[i].size;
		return 0;
	}
	if (open_file(f, id, 0, &fd, &st, err) < 0)
		return -1;
	if (size_r)
		*size_r = (uint64_t)st.st_size;
	if (mtime_r)
		*mtime_r = st.st_mtime;
	return 0;
}

int maildir_folder_open_msg(struct maildir_folder *f, const char *id, int *fd_r, uint64_t *size_r,
                            time_t *mtime_r, struct error *err)
{
	struct stat st;

	*fd_r = -1;
	if (open_file(f, id, 1, fd_r, &st, err) < 0)
		return -1;
	if (size_r)
		*size_r = (uint64_t)st.st_size;
	if (mtime_r)
		*mtime_r = st.st_mtime;
	return 0;
}

int maildir_folder_set_flags(struct maildir_folder *f, const char *id, uint64_t add, uint64_t remove,
                             uint64_t *flags_r, struct error *err)
{
	size_t i;

	if (maildir_lookup(f, id, &i, err) < 0)
		return -1;
	for (int attempt = 0;; attempt++) {
		struct maildir_entry *e = &f->entries[i];
		uint64_t flags = (e->flags | add) & ~remove & MAILDIR_FLAGS_ALL;
		char from[MAILDIR_NAME_MAX + 1], to[MAILDIR_NAME_MAX + 1];
		const char *info = e->bits & ENTRY_HAS_INFO ? e->id + e->id_len + 1 : NULL;
		struct maildir_name pn;
		enum maildir_subdir old_sd = (enum maildir_subdir)e->subdir;

		if (flags == e->flags) {
			if (flags_r)
				*flags_r = flags;
			return 0;
		}
		maildir_entry_name(e, from);
		if (maildir_name_build(e->id, e->id_len, flags, info, to) < 0)
			return error_set(err, ERR_MESSAGE,
			                 "the file name of message \"%s\" would be too long "
			                 "with the flags added",
			                 id);
		if (maildir_move_noreplace(f->sub_fd[old_sd], from, f->sub_fd[MAILDIR_CUR], to) == 0) {
			maildir_listing_count(f, old_sd, from, -1);
			maildir_listing_count(f, MAILDIR_CUR, to, +1);
			maildir_name_parse(to, &pn);
			maildir_index_rename(f, i, to, &pn, MAILDIR_CUR);
			f->dirty[MAILDIR_CUR] = 1;
			f->dirty[old_sd] = 1;
			if (flags_r)
				*flags_r = flags;
			return 0;
		}
		if (errno == EEXIST)
			return error_set(
			    err, ERR_MESSAGE,
			    "cannot change the flags of message \"%s\": %s/cur/%s already exists "
			    "(two files with one id); not overwriting it",
			    id, f->path, to);
		if (errno != ENOENT || attempt > 0)
			return error_errno(err, maildir_errno_scope(errno, ERR_MESSAGE), errno,
			                   "cannot rename %s/%s/%s to change its flags", f->path,
			                   maildir_subdir_names[old_sd], from);
		if (refind(f, i, err) < 0)
			return -1;
	}
}

int maildir_folder_delete(struct maildir_folder *f, const char *id, struct error *err)
{
	uint64_t flags;
	size_t i;

	if (!maildir_folder_find(f, id, &i)) {
		int found = maildir_folder_locate(f, id, err);
		if (found <= 0)
			return found; /* 0: no such file, which is what was asked for */
		if (!maildir_folder_find(f, id, &i))
			return 0;
	}
	flags = f->entries[i].flags;
	for (int attempt = 0;; attempt++) {
		struct maildir_entry *e = &f->entries[i];
		char name[MAILDIR_NAME_MAX + 1];
		int found;

		maildir_entry_name(e, name);
		if (unlinkat(f->sub_fd[e->subdir], name, 0) == 0) {
			maildir_listing_count(f, (enum maildir_subdir)e->subdir, name, -1);
			e->bits |= ENTRY_GONE;
			f->dirty[e->subdir] = 1;
			return 0;
		}
		if (errno != ENOENT)
			return error_errno(err, maildir_errno_scope(errno, ERR_MESSAGE), errno,
			                   "cannot delete %s/%s/%s", f->path, maildir_subdir_names[e->subdir],
			                   name);
		if (attempt > 0) {
			e->bits |= ENTRY_GONE;
			return 0;
		}
		found = maildir_folder_locate(f, id, err);
		if (found < 0)
			return -1;
		if (!found)
			return 0; /* someone else deleted it: the goal is reached */
		if (f->entries[i].flags != flags)
			return error_set(
			    err, ERR_MESSAGE,
			    "message \"%s\" in %s was not deleted: another program changed its flags "
			    "meanwhile",
			    id, f->path);
	}
}
