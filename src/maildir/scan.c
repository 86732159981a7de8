#include "folder_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define SCAN_ATTEMPTS   8
#define LOCATE_ATTEMPTS 3

static DIR *open_stream(struct maildir_folder *f, int which, struct error *err)
{
	/* A fresh descriptor for each pass: a stream cannot be rewound
	 * reliably across changes, and the folder keeps its own. */
	int fd = openat(f->sub_fd[which], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		error_errno(err, ERR_MAILBOX, errno, "cannot read %s/%s", f->path,
		            maildir_subdir_names[which]);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return d;
}

/* A regular file that is not a dotfile. Only filesystems that do not
 * report the type in the directory entry cost a stat here. */
static int is_message_file(DIR *d, const struct dirent *de, struct stat *st_r, int *stated_r)
{
	*stated_r = 0;
	if (de->d_name[0] == '.')
		return 0;
	if (de->d_type == DT_REG)
		return 1;
	if (de->d_type != DT_UNKNOWN)
		return 0;
	if (fstatat(dirfd(d), de->d_name, st_r, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	*stated_r = 1;
	return S_ISREG(st_r->st_mode);
}

/* One message file of a directory: its name parsed; `st` filled when
 * `stated` (the directory entry did not tell the type). */
struct dir_entry {
	const char *name;
	struct maildir_name pn;
	struct stat st;
	int stated;
};

/* Call `visit` for each message file of `sd` (a regular file, not a
 * dotfile, with a name that parses), until it returns non-zero: -1 is a
 * failure it set in `err`, passed on. */
static int each_message_file(struct maildir_folder *f, enum maildir_subdir sd,
                             int (*visit)(struct maildir_folder *f, enum maildir_subdir sd,
                                          const struct dir_entry *e, void *ctx, struct error *err),
                             void *ctx, struct error *err)
{
	DIR *d = open_stream(f, sd, err);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -1;
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		struct dir_entry e = {.name = de->d_name};

		if (!is_message_file(d, de, &e.st, &e.stated) || maildir_name_parse(de->d_name, &e.pn) < 0)
			continue;
		rc = visit(f, sd, &e, ctx, err);
	}
	if (rc == 0 && errno) {
		error_errno(err, ERR_MAILBOX, errno, "cannot read %s/%s", f->path, maildir_subdir_names[sd]);
		rc = -1;
	}
	closedir(d);
	return rc < 0 ? -1 : 0;
}

/* Every message file goes into the scan's listing (`ctx`), a repeated id
 * too: the listing is what the directories hold. */
static int index_file(struct maildir_folder *f, enum maildir_subdir sd, const struct dir_entry *e, void *ctx,
                      struct error *err)
{
	size_t i = maildir_index_find(f, e->name, e->pn.id_len);

	maildir_listing_add(ctx, sd, e->name);
	if (i != NO_ENTRY) {
		/* Moved from new/ to cur/ while both were read, or a second
		 * copy: the cur/ one is the later state. */
		if (f->entries[i].subdir == MAILDIR_NEW && sd == MAILDIR_CUR)
			maildir_index_rename(f, i, e->name, &e->pn, sd);
		f->duplicates++;
		log_debug("maildir: %s/%s/%s repeats the id of another message", f->path,
		          maildir_subdir_names[sd], e->name);
		return 0;
	}
	if (f->count >= MAILDIR_MESSAGES_MAX)
		return error_set(err, ERR_MAILBOX,
		                 "%s holds more than %d messages, more than twinbox handles", f->path,
		                 MAILDIR_MESSAGES_MAX);
	i = maildir_index_add(f, e->name, &e->pn, sd);
	if (e->stated && f->entries[i].size == MAILDIR_SIZE_UNKNOWN)
		f->entries[i].size = (uint64_t)e->st.st_size;
	return 0;
}

static int scan_dir(struct maildir_folder *f, enum maildir_subdir sd, struct maildir_listing *l,
                    struct error *err)
{
	return each_message_file(f, sd, index_file, l, err);
}

static void stat_sizes(struct maildir_folder *f)
{
	for (size_t i = 0; i < f->count; i++) {
		struct maildir_entry *e = &f->entries[i];
		char name[MAILDIR_NAME_MAX + 1];
		struct stat st;

		if (e->size != MAILDIR_SIZE_UNKNOWN)
			continue;
		maildir_entry_name(e, name);
		/* A file renamed meanwhile also changed the directory's mtime,
		 * so the scan is repeated; nothing to do about it here. */
		if (fstatat(f->sub_fd[e->subdir], name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			e->size = (uint64_t)st.st_size;
	}
}

static void pause_before(int attempt)
{
	struct timespec ts = {0, attempt * 20 * 1000 * 1000L};

	nanosleep(&ts, NULL);
}

/* Room for the scanned entries and some deliveries, not the up to twice
 * as many that growing by doubling left: the index is a large folder's
 * biggest part while the folder is synced. */
static void trim_entries(struct maildir_folder *f)
{
	size_t want = f->count + f->count / 8 + 16;

	if (f->cap <= want)
		return;
	f->entries = xrealloc(f->entries, want * sizeof(*f->entries));
	f->cap = want;
}

int maildir_folder_scan(struct maildir_folder *f, unsigned flags, struct error *err)
{
	f->listing_known = false;
	for (int attempt = 0; attempt < SCAN_ATTEMPTS; attempt++) {
		struct maildir_times before, after;
		struct maildir_listing listing = {0, 0};

		if (attempt)
			pause_before(attempt);
		if (maildir_folder_check(f, err) < 0 || maildir_folder_times(f, &before, err) < 0)
			goto fail;
		maildir_index_reset(f);
		if (scan_dir(f, MAILDIR_NEW, &listing, err) < 0 ||
		    scan_dir(f, MAILDIR_CUR, &listing, err) < 0)
			goto fail;
		if (flags & MAILDIR_SCAN_SIZES)
			stat_sizes(f);
		if (maildir_folder_times(f, &after, err) < 0)
			goto fail;
		if (maildir_times_equal(&before, &after)) {
			f->scan_times = before;
			f->scanned = true;
			maildir_folder_assume_listing(f, &listing);
			trim_entries(f);
			if (f->duplicates)
				log_warn("%s: %zu message files repeat the id of another one; only one file "
				         "per id is synced",
				         f->path, f->duplicates);
			return 0;
		}
		log_debug("maildir: %s changed while being read; reading it again", f->path);
	}
	error_set(err, ERR_MAILBOX, "%s kept changing while twinbox read it (%d attempts); try again later",
	          f->path, SCAN_ATTEMPTS);
fail:
	maildir_index_reset(f);
	f->scanned = false;
	return -1;
}

/* Look for a file with this id in one directory: 1 with its name, 0, -1. */
static int search_dir(struct maildir_folder *f, enum maildir_subdir sd, const char *id, size_t len,
                      char name_r[MAILDIR_NAME_MAX + 1], struct error *err)
{
	DIR *d = open_stream(f, sd, err);
	struct dirent *de;
	int found = 0;

	if (!d)
		return -1;
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		int stated;

		if (strncmp(de->d_name, id, len) != 0 ||
		    (de->d_name[len] != ':' && de->d_name[len] != '\0') ||
		    !is_message_file(d, de, &st, &stated))
			continue;
		strcpy(name_r, de->d_name);
		found = 1;
		break;
	}
	if (!found && errno) {
		error_errno(err, ERR_MAILBOX, errno, "cannot read %s/%s", f->path, maildir_subdir_names[sd]);
		found = -1;
	}
	closedir(d);
	return found;
}

int maildir_folder_locate(struct maildir_folder *f, const char *id, struct error *err)
{
	size_t len = strnlen(id, MAILDIR_NAME_MAX + 1);
	char name[MAILDIR_NAME_MAX + 1];
	enum maildir_subdir where = MAILDIR_CUR;
	struct maildir_name pn;
	size_t i;
	int found = 0;

	if (len == 0 || len > MAILDIR_NAME_MAX || strchr(id, '/') || strchr(id, ':') || id[0] == '.')
		return 0;
	if (maildir_folder_check(f, err) < 0)
		return -1;
	/* A message not where the handle expected it: another program's
	 * doing, which the listing cannot tell. */
	f->listing_known = false;
	for (int attempt = 0; attempt < LOCATE_ATTEMPTS && !found; attempt++) {
		struct maildir_times before, after;

		if (maildir_folder_times(f, &before, err) < 0)
			return -1;
		/* new/ first: a file moving to cur/ meanwhile is then seen there. */
		found = search_dir(f, MAILDIR_NEW, id, len, name, err);
		if (found >= 0) {
			char cur_name[MAILDIR_NAME_MAX + 1];
			int in_cur = search_dir(f, MAILDIR_CUR, id, len, cur_name, err);
			if (in_cur < 0)
				return -1;
			if (in_cur) {
				strcpy(name, cur_name);
				found = 1;
				where = MAILDIR_CUR;
			} else {
				where = MAILDIR_NEW;
			}
		}
		if (found < 0 || maildir_folder_times(f, &after, err) < 0)
			return -1;
		if (maildir_times_equal(&before, &after))
			break;
	}
	i = maildir_index_find(f, id, len);
	if (!found) {
		if (i != NO_ENTRY)
			f->entries[i].bits |= ENTRY_GONE;
		return 0;
	}
	maildir_name_parse(name, &pn);
	if (i == NO_ENTRY)
		maildir_index_add(f, name, &pn, where);
	else
		maildir_index_rename(f, i, name, &pn, where);
	return 1;
}

/* Whether `name` is a regular file in `sd`: then it is entered in the
 * index (a new entry: the caller found none for its id). */
static int adopt_at(struct maildir_folder *f, enum maildir_subdir sd, const char *name)
{
	struct maildir_name pn;
	struct stat st;

	if (fstatat(f->sub_fd[sd], name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    maildir_name_parse(name, &pn) < 0)
		return 0;
	maildir_index_add(f, name, &pn, sd);
	return 1;
}

int maildir_folder_adopt(struct maildir_folder *f, const char *id, uint64_t flags, size_t *i_r,
                         struct error *err)
{
	size_t len = strnlen(id, MAILDIR_NAME_MAX + 1);
	char name[MAILDIR_NAME_MAX + 1];
	int found;

	if (maildir_folder_find(f, id, i_r))
		return 1;
	if (len == 0 || len > MAILDIR_NAME_MAX || strchr(id, '/') || strchr(id, ':') || id[0] == '.')
		return 0;
	if (maildir_folder_check_recent(f, err) < 0)
		return -1;
	/* Where a sync leaves a message: cur/ with its flags, or new/ as
	 * delivered (with or without an info part). */
	found = maildir_name_build(id, len, flags, NULL, name) >= 0 &&
	        (adopt_at(f, MAILDIR_CUR, name) || adopt_at(f, MAILDIR_NEW, name));
	if (!found)
		found = adopt_at(f, MAILDIR_NEW, id);
	if (!found) {
		log_debug("maildir: %s: message %s is not where its flags say; looking for it", f->path, id);
		found = maildir_folder_locate(f, id, err);
		if (found <= 0)
			return found;
	}
	return maildir_folder_find(f, id, i_r);
}

static int list_file(struct maildir_folder *f, enum maildir_subdir sd, const struct dir_entry *e, void *ctx,
                     struct error *err)
{
	(void)f, (void)err;
	maildir_listing_add(ctx, sd, e->name);
	return 0;
}

/* The message files of new/ and cur/ into *l_r (one readdir pass each). */
static int list_both(struct maildir_folder *f, struct maildir_listing *l_r, struct error *err)
{
	*l_r = (struct maildir_listing){0, 0};
	if (maildir_folder_check(f, err) < 0)
		return -1;
	for (int sd = MAILDIR_NEW; sd <= MAILDIR_CUR; sd++)
		if (each_message_file(f, (enum maildir_subdir)sd, list_file, l_r, err) < 0)
			return -1;
	return 0;
}

int maildir_folder_count_files(struct maildir_folder *f, size_t *count_r, struct error *err)
{
	struct maildir_listing l;

	*count_r = 0;
	if (list_both(f, &l, err) < 0)
		return -1;
	*count_r = (size_t)l.files;
	return 0;
}

int maildir_folder_read_listing(struct maildir_folder *f, struct maildir_listing *l_r, struct error *err)
{
	struct maildir_times before, after;

	*l_r = (struct maildir_listing){0, 0};
	f->listing_known = false;
	if (maildir_folder_times(f, &before, err) < 0 || list_both(f, l_r, err) < 0 ||
	    maildir_folder_times(f, &after, err) < 0)
		return -1;
	if (!maildir_times_equal(&before, &after))
		return 0;
	maildir_folder_assume_listing(f, l_r);
	return 1;
}
