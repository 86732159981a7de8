/*
 * One open Maildir folder: its snapshot (scan) and the operations on its
 * messages. Messages are addressed by id (name.h), the part of the file
 * name before ':'; when another program moves a file from new/ to cur/ or
 * renames it to change flags, it keeps its id, so the scan reports a flag
 * change, not a deletion and a new message.
 *
 * Durability is batched: set_flags, delete and deliveries opened with
 * `defer_dir_sync` (delivery.h) leave the directory entries to the kernel;
 * maildir_folder_sync() makes all of them durable with one fsync per
 * changed directory. Call it before recording in the state that they
 * happened.
 *
 * Concurrency. Other programs may change the folder at any time. A scan
 * repeats until new/ and cur/ have the same mtimes before and after it
 * (readdir is not atomic against renames). A file that an operation does
 * not find under its scanned name is searched for again by id once.
 * Before acting on a message that a scan no longer lists (propagating a
 * deletion), confirm with maildir_folder_locate(): it reads the
 * directories afresh.
 *
 * A folder handle is not safe for use by several threads at once.
 */
#ifndef TWINBOX_MAILDIR_FOLDER_H
#define TWINBOX_MAILDIR_FOLDER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "twinbox/maildir/maildir.h"
#include "twinbox/maildir/name.h"
#include "twinbox/util/error.h"

struct maildir_folder;

enum maildir_subdir {
	MAILDIR_NEW = 0,
	MAILDIR_CUR = 1,
};

/* Most messages one folder may hold; a scan finding more fails. */
#define MAILDIR_MESSAGES_MAX 10000000
/* tmp/ files untouched this long are leftovers (the Maildir rule). */
#define MAILDIR_TMP_MAX_AGE (36 * 60 * 60)

/* Open folder `name` of `md`. Returns 0 with *f_r set, else -1 with *f_r
 * NULL, err filled (ERR_MAILBOX) and *presence_r (may be NULL) telling a
 * missing root or folder (see maildir.h) from other failures. The handle
 * holds four directory descriptors; close it with maildir_folder_close(). */
int maildir_folder_open(const struct maildir *md, const char *name, enum maildir_presence *presence_r,
                        struct maildir_folder **f_r, struct error *err);
/* Close the folder; changes not yet made durable by maildir_folder_sync()
 * are left to the kernel. NULL is allowed. */
void maildir_folder_close(struct maildir_folder *f);

const char *maildir_folder_name(const struct maildir_folder *f); /* remote-style name */
const char *maildir_folder_path(const struct maildir_folder *f); /* absolute directory */

/* Modification times of new/ and cur/, for "changed since last time?".
 * `settled` is 1 when both are old enough, at the moment they were read,
 * that a later change always gives a different time, so equal times
 * prove "no change": 100 ms where the filesystem keeps sub-second times
 * (seen as a non-zero nanosecond part), 3 s where it keeps whole seconds.
 * Store the times only when settled. */
struct maildir_times {
	struct timespec new_mtime;
	struct timespec cur_mtime;
	int settled;
};

/* The current times (two fstat calls, no directory reading). */
int maildir_folder_times(struct maildir_folder *f, struct maildir_times *t_r, struct error *err);
/* 1 if both mtimes are equal (`settled` is not compared). */
int maildir_times_equal(const struct maildir_times *a, const struct maildir_times *b);

/* Scan flags. */
#define MAILDIR_SCAN_SIZES 0x1 /* stat files whose name carries no ",S=" size */

/* Read new/ and cur/ (one readdir pass each, no stat per file unless
 * asked) and replace the folder's snapshot. Regular files whose names
 * parse (name.h) are messages; dotfiles, directories, symbolic links and
 * other non-regular files are skipped. If an id occurs twice, the cur/
 * file wins over the new/ one and otherwise the first one read; the others
 * are counted (maildir_folder_duplicates()) and warned about. Fails
 * (ERR_MAILBOX) when the directories cannot be read, keep changing during
 * 8 attempts, hold more than MAILDIR_MESSAGES_MAX messages, or when the
 * folder was removed or replaced since it was opened (an open directory
 * that was removed reads as empty: that must never look like "all
 * messages deleted"); the snapshot is then empty. Indexes and strings from
 * an earlier snapshot become invalid. */
int maildir_folder_scan(struct maildir_folder *f, unsigned flags, struct error *err);
/* How many message files new/ and cur/ hold, by the rules of a scan but
 * without keeping anything of them (a file that repeats an id counts
 * too): one readdir pass each, no index. */
int maildir_folder_count_files(struct maildir_folder *f, size_t *count_r, struct error *err);
/*
 * The folder's listing: the names of all message files in new/ and cur/
 * (by the rules of maildir_folder_count_files(), "new/" or "cur/"
 * included), as an order-free digest and a count. Equal listings prove
 * that no message came, went, moved or changed flags in between, at any
 * speed, where directory times prove it only once they are settled.
 *
 * A scan or maildir_folder_read_listing() makes the folder's listing
 * known; from then on the handle keeps it up to date through its own
 * changes (flags, deletions, deliveries), and any sign of another
 * program's change (maildir_folder_locate()) makes it unknown. So the
 * listing a handle tells at the end is what the folder holds if nobody
 * else touched it, and a later read shows whether somebody did.
 */
struct maildir_listing {
	uint64_t digest;
	uint64_t files;
};

/* Read new/ and cur/ (one readdir pass each, no index) into *l_r and make
 * it the folder's known listing: 1, or 0 when the folder changed while it
 * was read (*l_r is then not usable and the listing stays unknown), -1. */
int maildir_folder_read_listing(struct maildir_folder *f, struct maildir_listing *l_r, struct error *err);
/* Take `l` as the folder's listing, for a caller that proved the folder
 * unchanged since `l` was true (settled directory times). */
void maildir_folder_assume_listing(struct maildir_folder *f, const struct maildir_listing *l);
/* The folder's listing as its handle's changes left it: 1 with *l_r, or
 * 0 when not known. */
int maildir_folder_listing(const struct maildir_folder *f, struct maildir_listing *l_r);

/* The times read at the start of the last successful scan (zeroes before). */
const struct maildir_times *maildir_folder_scan_times(const struct maildir_folder *f);
size_t maildir_folder_duplicates(const struct maildir_folder *f);

/* A snapshot entry. Strings stay valid until the next scan or close. */
struct maildir_msg {
	const char *id;   /* NUL-terminated */
	const char *info; /* the text after ':' in the file name, or NULL */
	uint64_t flags;   /* flags.h */
	uint64_t size;    /* bytes, or MAILDIR_SIZE_UNKNOWN until stat'ed */
	enum maildir_subdir subdir;
	int gone; /* deleted (by us or, as found later, by others) */
};

/* Entries 0..count-1: the scanned messages, then the ones delivered or
 * found since. Entries are never removed before the next scan; deleted
 * ones have `gone` set. */
size_t maildir_folder_count(const struct maildir_folder *f);
/* Entry i (< count). */
void maildir_folder_msg(const struct maildir_folder *f, size_t i, struct maildir_msg *m_r);
/* Index of the entry (not gone) with this id: 1 and *i_r set, or 0. */
int maildir_folder_find(const struct maildir_folder *f, const char *id, size_t *i_r);
/* The current file name of entry i ("new/" or "cur/" not included). */
void maildir_folder_file_name(const struct maildir_folder *f, size_t i, char out[MAILDIR_NAME_MAX + 1]);

/*
 * Operations by id. An id that the snapshot does not list (or lists as
 * gone) is looked for on disk first, so they work without a scan too.
 * A message that cannot be found fails with ERR_MESSAGE.
 */

/* Read the disk afresh for `id`: 1 (and the entry updated or added), 0 when
 * no file has this id, -1 on error. */
int maildir_folder_locate(struct maildir_folder *f, const char *id, struct error *err);

/* Enter message `id` in the index without reading the directories,
 * for a caller that knows the folder is as it left it: its file is
 * looked for where a sync leaves a message with `flags` (cur/ with those
 * flags, new/), and only then by maildir_folder_locate(). 1 with *i_r
 * its entry, 0 when no file has this id, -1 on error. */
int maildir_folder_adopt(struct maildir_folder *f, const char *id, uint64_t flags, size_t *i_r,
                         struct error *err);

/* Size and mtime of a message (one stat, remembered). Either pointer may
 * be NULL. */
int maildir_folder_stat(struct maildir_folder *f, const char *id, uint64_t *size_r, time_t *mtime_r,
                        struct error *err);

/* Open a message for reading: a descriptor (caller closes) positioned at
 * the start, and its size and mtime (either may be NULL). */
int maildir_folder_open_msg(struct maildir_folder *f, const char *id, int *fd_r, uint64_t *size_r,
                            time_t *mtime_r, struct error *err);

/* Add and remove flags (remove wins over add) by renaming the file within
 * cur/, or from new/ to cur/; flags are applied to the file's current
 * flags, so changes another program made meanwhile are kept. Never
 * overwrites a file. No rename when the flags do not change. *flags_r (may
 * be NULL) gets the resulting flags. */
int maildir_folder_set_flags(struct maildir_folder *f, const char *id, uint64_t add, uint64_t remove,
                             uint64_t *flags_r, struct error *err);

/* Unlink the message. Deleting is idempotent: a message that no longer
 * exists (or never did) counts as deleted and returns 0. One whose flags
 * another program changed since the snapshot is not deleted (ERR_MESSAGE):
 * that change must be synced first. */
int maildir_folder_delete(struct maildir_folder *f, const char *id, struct error *err);

/* fsync new/ and cur/ if operations changed them since the last call. */
int maildir_folder_sync(struct maildir_folder *f, struct error *err);

/* Remove regular files in tmp/ whose atime, mtime and ctime are all older
 * than MAILDIR_TMP_MAX_AGE before `now`. *removed_r (may be NULL) gets
 * their number. */
int maildir_folder_clean_tmp(struct maildir_folder *f, time_t now, size_t *removed_r, struct error *err);

/* Remove tmp/<id>, what a delivery of that id (maildir_delivery_opts.id,
 * chosen beforehand) left when its process was killed: the file being
 * written, or the one already linked into new/ or cur/ (which stays).
 * Call it only for an id no delivery is using. A missing file is no
 * error; an invalid id is ERR_MESSAGE. */
int maildir_folder_drop_tmp(struct maildir_folder *f, const char *id, struct error *err);

#endif
