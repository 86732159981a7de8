#include "twinbox/util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* A full disk or a read-only filesystem stops the whole run: nothing
 * else can be written either. Other errors concern one folder. */
static enum err_scope scope_of(int errnum)
{
	return errnum == ENOSPC || errnum == EDQUOT || errnum == EROFS ? ERR_FATAL : ERR_MAILBOX;
}

static int valid_component(const char *s, size_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int fs_join(const char *base, const char *rel, char **path_r, struct error *err)
{
	struct buf out = BUF_INIT;
	const char *p = rel;

	*path_r = NULL;
	if (rel[0] == '\0')
		return error_set(err, ERR_MAILBOX, "refusing an empty path name");
	if (rel[0] == '/')
		return error_set(err, ERR_MAILBOX, "refusing absolute path \"%s\" below %s", rel, base);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!valid_component(p, len))
			return error_set(
			    err, ERR_MAILBOX,
			    "refusing path \"%s\": it has an empty, \".\", \"..\" or control-character "
			    "component and could leave %s",
			    rel, base);
		if (!slash)
			break;
		p = slash + 1;
	}
	buf_append_str(&out, base);
	if (out.len == 0 || out.data[out.len - 1] != '/')
		buf_append_byte(&out, '/');
	buf_append_str(&out, rel);
	*path_r = buf_detach(&out, NULL);
	return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, struct error *err)
{
	char *copy;
	int rc = 0;

	if (path[0] == '\0')
		return error_set(err, ERR_MAILBOX, "cannot create a directory with an empty name");
	copy = xstrdup(path);
	for (char *p = copy + 1;; p++) {
		char saved = *p;
		if (saved != '/' && saved != '\0')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			rc = error_errno(err, scope_of(errno), errno, "cannot create directory %s", copy);
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) < 0)
			rc = error_errno(err, ERR_MAILBOX, errno, "cannot use directory %s", path);
		else if (!S_ISDIR(st.st_mode))
			rc = error_set(err, ERR_MAILBOX, "%s exists and is not a directory", path);
	}
	free(copy);
	return rc;
}

int fs_fsync_fd(int fd, const char *what, struct error *err)
{
	if (fsync(fd) < 0 && errno != EINVAL)
		return error_errno(err, scope_of(errno), errno, "cannot flush %s to disk", what);
	return 0;
}

int fs_fsync_dir(const char *path, struct error *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return error_errno(err, ERR_MAILBOX, errno, "cannot open directory %s", path);
	rc = fs_fsync_fd(fd, path, err);
	close(fd);
	return rc;
}

int fs_write_all(int fd, const void *data, size_t len, const char *what, struct error *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, scope_of(errno), errno, "cannot write %s", what);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct error *err)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	char *dir = dir_of(path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	int rc = -1;

	if (fd < 0) {
		error_errno(err, scope_of(errno), errno, "cannot create a temporary file beside %s", path);
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		error_errno(err, ERR_MAILBOX, errno, "cannot set permissions of %s", tmp);
		goto fail;
	}
	if (fs_write_all(fd, data, len, path, err) < 0 || fs_fsync_fd(fd, path, err) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		error_errno(err, scope_of(errno), errno, "cannot write %s", path);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		error_errno(err, scope_of(errno), errno, "cannot replace %s", path);
		goto fail;
	}
	rc = fs_fsync_dir(dir, err);
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(dir);
	return rc;
}

int fs_read_file(const char *path, size_t max, char **data_r, size_t *len_r, struct error *err)
{
	struct buf b;
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*data_r = NULL;
	if (fd < 0)
		return error_errno(err, ERR_MAILBOX, errno, "cannot open %s", path);
	buf_init(&b, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			buf_free(&b);
			return error_errno(err, ERR_MAILBOX, e, "cannot read %s", path);
		}
		if (n == 0)
			break;
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			close(fd);
			buf_free(&b);
			return error_set(err, ERR_MAILBOX, "%s is larger than %zu bytes", path, max);
		}
	}
	close(fd);
	*data_r = buf_detach(&b, len_r);
	return 0;
}

char *fs_expand_home(const char *path)
{
	const char *home = getenv("HOME");

	if (path[0] != '~' || (path[1] != '/' && path[1] != '\0') || !home || !*home)
		return xstrdup(path);
	return xasprintf("%s%s", home, path + 1);
}
