/*
 * Safe filesystem helpers. All return 0 on success, -1 with `err` filled
 * (scope ERR_FATAL for a full disk or a read-only filesystem, ERR_MAILBOX
 * otherwise unless stated).
 */
#ifndef TWINBOX_UTIL_FS_H
#define TWINBOX_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "twinbox/util/error.h"

/* Join `base` and the relative path `rel` into a fresh string (*path_r,
 * caller frees). `rel` is split at '/'; it is refused (ERR_MAILBOX) when
 * it is absolute, when any component is empty, "." or "..", or when it
 * contains a control character. This is how every name that came from a
 * server becomes a path, so such a name can never leave `base`. */
int fs_join(const char *base, const char *rel, char **path_r, struct error *err);

/* Create `path` and missing parents with `mode` (0700 for twinbox data). */
int fs_mkdir_p(const char *path, mode_t mode, struct error *err);

/* fsync an open file descriptor / a directory by path. */
int fs_fsync_fd(int fd, const char *what, struct error *err);
int fs_fsync_dir(const char *path, struct error *err);

/* Write `len` bytes to `path` atomically: a temporary file in the same
 * directory, written, fsynced, renamed over `path`, then the directory
 * fsynced. With `mode` as its permission bits. On failure `path` is
 * untouched and the temporary file removed. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct error *err);

/* Write all of `len` bytes to `fd`, retrying on EINTR and short writes. */
int fs_write_all(int fd, const void *data, size_t len, const char *what, struct error *err);

/* Read a whole file of at most `max` bytes into a fresh buffer (NUL
 * terminated; caller frees). A larger file is an error. */
int fs_read_file(const char *path, size_t max, char **data_r, size_t *len_r, struct error *err);

/* Expand a leading "~/" or "~" using $HOME into a fresh string. */
char *fs_expand_home(const char *path);

#endif
