#include "folder_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twinbox/maildir/maildir.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

struct maildir *maildir_new(const char *root, enum maildir_layout layout, char delim)
{
	struct maildir *md = xcalloc(1, sizeof(*md));
	size_t len = strlen(root);

	while (len > 1 && root[len - 1] == '/')
		len--;
	md->root = xstrndup(root, len);
	md->layout = layout;
	md->delim = delim;
	return md;
}

void maildir_free(struct maildir *md)
{
	if (!md)
		return;
	free(md->root);
	free(md);
}

const char *maildir_root(const struct maildir *md)
{
	return md->root;
}

enum maildir_layout maildir_layout(const struct maildir *md)
{
	return md->layout;
}

char maildir_delim(const struct maildir *md)
{
	return md->delim;
}

int maildir_folder_dir(const struct maildir *md, const char *name, char **path_r, struct error *err)
{
	char *rel;
	int rc;

	*path_r = NULL;
	if (maildir_layout_to_local(md->layout, name, md->delim, &rel, err) < 0)
		return -1;
	/* fs_join even for paths the mapping built: a second guard that no
	 * name can leave the root. */
	if (rel[0] == '\0') {
		*path_r = xstrdup(md->root);
		rc = 0;
	} else {
		rc = fs_join(md->root, rel, path_r, err);
	}
	free(rel);
	return rc;
}

static int is_dir_at(int dir_fd, const char *name, int follow)
{
	struct stat st;

	return fstatat(dir_fd, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int maildir_presence(const struct maildir *md, const char *name, enum maildir_presence *presence_r,
                     struct error *err)
{
	struct stat st;
	char *path, *cur;
	int rc = 0;

	*presence_r = MAILDIR_PRESENCE_ERROR;
	if (maildir_folder_dir(md, name, &path, err) < 0)
		return -1;
	cur = xasprintf("%s/cur", path);
	if (stat(cur, &st) == 0) {
		*presence_r = S_ISDIR(st.st_mode) ? MAILDIR_PRESENT : MAILDIR_FOLDER_MISSING;
	} else if (errno == ENOENT || errno == ENOTDIR) {
		if (stat(md->root, &st) == 0)
			*presence_r = MAILDIR_FOLDER_MISSING;
		else if (errno == ENOENT)
			*presence_r = MAILDIR_ROOT_MISSING;
		else
			rc = error_errno(err, ERR_ACCOUNT, errno, "cannot check the Maildir root %s",
			                 md->root);
	} else {
		rc = error_errno(err, ERR_MAILBOX, errno, "cannot check the folder directory %s", path);
	}
	free(cur);
	free(path);
	return rc;
}

/* --- listing ------------------------------------------------------------ */

struct lister {
	const struct maildir *md;
	struct maildir_folder_list *list;
	size_t cap;
	int warned_depth;
};

static int add_folder(struct lister *l, const char *rel, struct error *err)
{
	struct maildir_folder_list *list = l->list;
	struct error why;
	char *name;

	if (maildir_layout_to_remote(l->md->layout, rel, l->md->delim, &name, &why) < 0) {
		log_warn("%s: skipping a folder: %s", l->md->root, why.text);
		list->skipped++;
		return 0;
	}
	if (list->count >= MAILDIR_FOLDERS_MAX) {
		free(name);
		return error_set(err, ERR_ACCOUNT, "%s holds more than %d folders, more than twinbox handles",
		                 l->md->root, MAILDIR_FOLDERS_MAX);
	}
	list->items = xgrow(list->items, &l->cap, list->count + 1, sizeof(*list->items));
	list->items[list->count].name = name;
	list->items[list->count].rel = xstrdup(rel);
	list->count++;
	return 0;
}

static int list_maildirpp(struct lister *l, int root_fd, struct error *err)
{
	int fd = dup(root_fd);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (is_dir_at(root_fd, "cur", 1) && add_folder(l, "", err) < 0)
		return -1;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno(err, ERR_ACCOUNT, errno, "cannot read the Maildir root %s", l->md->root);
	}
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		char cur[MAILDIR_NAME_MAX + 5];
		const char *n = de->d_name;

		if (n[0] != '.' || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		/* The layout is flat, so a symbolic link to a folder cannot
		 * make the listing loop: follow it. */
		snprintf(cur, sizeof(cur), "%s/cur", n);
		if (is_dir_at(root_fd, cur, 1))
			rc = add_folder(l, n, err);
	}
	if (rc == 0 && errno)
		rc = error_errno(err, ERR_ACCOUNT, errno, "cannot read the Maildir root %s", l->md->root);
	closedir(d);
	return rc;
}

static int is_subdir_name(const char *n)
{
	return strcmp(n, "cur") == 0 || strcmp(n, "new") == 0 || strcmp(n, "tmp") == 0;
}

static int list_nested(struct lister *l, int dir_fd, const char *rel, int depth, struct error *err)
{
	int fd = dup(dir_fd);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno(err, ERR_ACCOUNT, errno, "cannot read %s/%s", l->md->root, rel);
	}
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		const char *n = de->d_name;
		char *child;
		int child_fd;

		if (n[0] == '.' || is_subdir_name(n) || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		/* O_NOFOLLOW: a link back up the tree must not make the
		 * listing endless. */
		child_fd = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child_fd < 0)
			continue;
		child = rel[0] ? xasprintf("%s/%s", rel, n) : xstrdup(n);
		if (is_dir_at(child_fd, "cur", 0))
			rc = add_folder(l, child, err);
		if (rc == 0 && depth + 1 < MAILDIR_DEPTH_MAX)
			rc = list_nested(l, child_fd, child, depth + 1, err);
		else if (rc == 0 && !l->warned_depth) {
			log_warn("%s: not looking for folders below %s: deeper than %d levels", l->md->root,
			         child, MAILDIR_DEPTH_MAX);
			l->warned_depth = 1;
		}
		free(child);
		close(child_fd);
	}
	if (rc == 0 && errno)
		rc = error_errno(err, ERR_ACCOUNT, errno, "cannot read %s/%s", l->md->root, rel);
	closedir(d);
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct maildir_folder_entry *)a)->name,
	              ((const struct maildir_folder_entry *)b)->name);
}

int maildir_list(const struct maildir *md, struct maildir_folder_list *list_r, struct error *err)
{
	struct lister l = {md, list_r, 0, 0};
	int root_fd, rc;

	memset(list_r, 0, sizeof(*list_r));
	root_fd = open(md->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		if (errno == ENOENT) {
			list_r->root_missing = 1;
			return 0;
		}
		return error_errno(err, ERR_ACCOUNT, errno, "cannot open the Maildir root %s", md->root);
	}
	if (md->layout == MAILDIR_LAYOUT_MAILDIRPP)
		rc = list_maildirpp(&l, root_fd, err);
	else
		rc = list_nested(&l, root_fd, "", 0, err);
	close(root_fd);
	if (rc < 0) {
		maildir_folder_list_free(list_r);
		return -1;
	}
	if (list_r->count > 1)
		qsort(list_r->items, list_r->count, sizeof(*list_r->items), cmp_entry);
	return 0;
}

void maildir_folder_list_free(struct maildir_folder_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].name);
		free(list->items[i].rel);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* --- creating ----------------------------------------------------------- */

static int make_subdir(const char *path, int dir_fd, const char *sub, struct error *err)
{
	if (mkdirat(dir_fd, sub, 0700) == 0 || (errno == EEXIST && is_dir_at(dir_fd, sub, 1)))
		return 0;
	if (errno == EEXIST)
		return error_set(err, ERR_MAILBOX, "%s/%s exists and is not a directory", path, sub);
	return error_errno(err, maildir_errno_scope(errno, ERR_MAILBOX), errno, "cannot create %s/%s", path,
	                   sub);
}

/* fsync `path` and each parent up to and including the root's parent, so
 * that directories fs_mkdir_p just made survive a crash. */
static int sync_up(const char *root, const char *path, struct error *err)
{
	char *p = xstrdup(path);
	size_t root_len = strlen(root);
	int rc = 0;

	for (;;) {
		char *slash;

		if ((rc = fs_fsync_dir(p, err)) < 0 || strlen(p) < root_len)
			break;
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			break;
		*slash = '\0';
	}
	free(p);
	return rc;
}

int maildir_folder_create(const struct maildir *md, const char *name, struct error *err)
{
	char *path;
	int fd = -1, rc = -1;

	if (maildir_folder_dir(md, name, &path, err) < 0)
		return -1;
	if (fs_mkdir_p(path, 0700, err) < 0)
		goto out;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		error_errno(err, ERR_MAILBOX, errno, "cannot open %s", path);
		goto out;
	}
	/* cur/ last: a folder counts as present once cur/ exists. */
	if (make_subdir(path, fd, "tmp", err) < 0 || make_subdir(path, fd, "new", err) < 0 ||
	    make_subdir(path, fd, "cur", err) < 0)
		goto out;
	if (md->layout == MAILDIR_LAYOUT_MAILDIRPP && strcmp(path, md->root) != 0) {
		int mf = openat(fd, "maildirfolder", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (mf < 0) {
			error_errno(err, maildir_errno_scope(errno, ERR_MAILBOX), errno,
			            "cannot create %s/maildirfolder", path);
			goto out;
		}
		close(mf);
	}
	rc = sync_up(md->root, path, err);
	if (rc == 0)
		log_debug("maildir: created folder \"%s\" at %s", name, path);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* Unlink every regular file directly in `dirfd` (never following links,
 * never descending). */
static int remove_files(int dirfd, const char *path, struct error *err)
{
	int dup_fd = dup(dirfd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return error_errno(err, ERR_MAILBOX, errno, "cannot read %s", path);
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT)
			rc = error_errno(err, maildir_errno_scope(errno, ERR_MAILBOX), errno,
			                 "cannot remove %s/%s", path, e->d_name);
	}
	closedir(d);
	return rc;
}

int maildir_folder_remove(const struct maildir *md, const char *name, struct error *err)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char *path;
	int fd, rc = 0;

	if (maildir_folder_dir(md, name, &path, err) < 0)
		return -1;
	if (strcmp(path, md->root) == 0) {
		free(path);
		return error_set(err, ERR_MAILBOX,
		                 "the folder \"%s\" is the Maildir root; it is never removed", name);
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? 0 : error_errno(err, ERR_MAILBOX, errno, "cannot open %s", path);
		free(path);
		return rc;
	}
	/* cur/ first: once it is gone the folder no longer counts as present,
	 * so a crash half-way leaves a folder that is simply missing. */
	for (int i = 2; i >= 0 && rc == 0; i--) {
		int sub = openat(fd, subs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno != ENOENT)
				rc = error_errno(err, ERR_MAILBOX, errno, "cannot open %s/%s", path, subs[i]);
			continue;
		}
		rc = remove_files(sub, path, err);
		close(sub);
		if (rc == 0 && unlinkat(fd, subs[i], AT_REMOVEDIR) < 0 && errno != ENOENT)
			rc = error_errno(err, ERR_MAILBOX, errno,
			                 "cannot remove %s/%s (is there something else "
			                 "in it?)",
			                 path, subs[i]);
	}
	/* The folder's own files (maildirfolder, a mail reader's index), then
	 * the directory itself unless sub-folders live in it (nested). */
	if (rc == 0)
		rc = remove_files(fd, path, err);
	close(fd);
	if (rc == 0 && rmdir(path) < 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
		rc = error_errno(err, ERR_MAILBOX, errno, "cannot remove %s", path);
	if (rc == 0) {
		/* The removal is durable once the parent directory is. */
		char *parent = xstrndup(path, (size_t)(strrchr(path, '/') - path));
		rc = fs_fsync_dir(parent, err);
		free(parent);
	}
	if (rc == 0)
		log_debug("maildir: removed folder \"%s\" at %s", name, path);
	free(path);
	return rc;
}
