/*
 * A Maildir root: its folders, whether they exist, creating them.
 *
 * `struct maildir` is the root directory, its layout (layout.h) and the
 * hierarchy delimiter of the remote names it is addressed with. It does no
 * I/O until asked and holds no file descriptors. Folder contents are in
 * folder.h.
 *
 * Missing is not empty. A root that does not exist (an unmounted disk, a
 * typo in the config) and a folder that does not exist are reported as
 * such, never as "no messages", so that a sync never reads them as "the
 * user deleted everything".
 */
#ifndef TWINBOX_MAILDIR_MAILDIR_H
#define TWINBOX_MAILDIR_MAILDIR_H

#include <stddef.h>

#include "twinbox/maildir/layout.h"
#include "twinbox/util/error.h"

struct maildir;

enum maildir_presence {
	MAILDIR_PRESENT = 0,    /* the folder's directory with cur/ exists */
	MAILDIR_ROOT_MISSING,   /* the root directory itself does not exist */
	MAILDIR_FOLDER_MISSING, /* the root exists, the folder does not (or has no cur/) */
	MAILDIR_PRESENCE_ERROR, /* could not tell (permissions, I/O error): see the error */
};

/* Most folders a listing returns; more is an error (ERR_ACCOUNT). */
#define MAILDIR_FOLDERS_MAX 100000
/* Deepest nesting a nested-layout listing descends to. */
#define MAILDIR_DEPTH_MAX 64

/* `root`: an absolute path (copied; a trailing '/' is dropped). `delim`:
 * the hierarchy delimiter of remote names (0 for none). Free with
 * maildir_free(). */
struct maildir *maildir_new(const char *root, enum maildir_layout layout, char delim);
void maildir_free(struct maildir *md);

const char *maildir_root(const struct maildir *md);
enum maildir_layout maildir_layout(const struct maildir *md);
char maildir_delim(const struct maildir *md);

/* The absolute directory of folder `name` (fresh string, caller frees).
 * Fails (ERR_MAILBOX) when the name cannot be mapped (layout.h). */
int maildir_folder_dir(const struct maildir *md, const char *name, char **path_r, struct error *err);

/* Whether the folder `name` exists: *presence_r is always set. Returns 0,
 * or -1 with err filled when the name cannot be mapped or the check itself
 * failed (then *presence_r is MAILDIR_PRESENCE_ERROR). */
int maildir_presence(const struct maildir *md, const char *name, enum maildir_presence *presence_r,
                     struct error *err);

struct maildir_folder_entry {
	char *name; /* remote-style name ("INBOX", "Work/Projects") */
	char *rel;  /* path relative to the root ("" for the maildir++ INBOX) */
};

struct maildir_folder_list {
	struct maildir_folder_entry *items; /* sorted by name */
	size_t count;
	size_t skipped;   /* folders whose directory name has no remote name (warned) */
	int root_missing; /* 1: the root does not exist (count is 0) */
};

/* List the folders below the root: every directory that holds a cur/
 * directory (maildir++: the root itself and ".*" directories; nested:
 * every directory below the root, not looking inside cur/new/tmp or
 * dot-directories, not following symbolic links). Folders whose path has
 * no remote name are skipped with a warning and counted in `skipped`.
 * Returns 0 (a missing root is a success with root_missing set), or -1
 * with err (ERR_ACCOUNT: the root cannot be read, or more than
 * MAILDIR_FOLDERS_MAX folders). Free with maildir_folder_list_free(). */
int maildir_list(const struct maildir *md, struct maildir_folder_list *list_r, struct error *err);
void maildir_folder_list_free(struct maildir_folder_list *list);

/* Create folder `name` with tmp/, new/ and cur/ (mode 0700), and its
 * parents and the root when missing; in maildir++ a sub-folder also gets
 * the empty "maildirfolder" marker file. Completing a half-created folder
 * or "creating" an existing one succeeds. The new directories are
 * fsynced into their parents before this returns. */
int maildir_folder_create(const struct maildir *md, const char *name, struct error *err);

/* Remove folder `name`: the files in its tmp/, new/ and cur/ (regular
 * files only; links are never followed) and those directories, its own
 * files, and its directory unless sub-folders live in it (nested
 * layout). The Maildir root (INBOX in maildir++) is refused. A missing
 * folder is not an error. cur/ goes first, so a crash half-way leaves a
 * folder that is missing, never one that looks empty. */
int maildir_folder_remove(const struct maildir *md, const char *name, struct error *err);

#endif
