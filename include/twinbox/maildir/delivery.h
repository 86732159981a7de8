/*
 * Delivering one message into a folder, streamed.
 *
 *   d = begin(folder, &opts)   the final file name is known from here on
 *   write(d, chunk) ...        into tmp/<id>, memory stays flat
 *   commit(d)                  fsync file, set mtime, move it to new/ or
 *                              cur/, fsync the directory
 *
 * A kill at any moment leaves either no message in new/ or cur/, or the
 * complete one (plus perhaps a tmp/ leftover that
 * maildir_folder_clean_tmp() removes later). An existing file is never
 * overwritten: the final move fails instead.
 *
 * Where it goes: a message without flags goes to new/ as "<id>" (as any
 * mail delivery agent does; mail readers show it as new); a message with
 * flags, or with `to_cur` set, goes to cur/ as "<id>:2,<letters>".
 *
 * Its id: `opts.id` if the caller chose one (e.g. recorded beforehand in
 * an intent), else a fresh maildir_unique_id(). An id with a ",S=<n>"
 * field, or a known `opts.size`, promises the size: a commit with a
 * different byte count fails, so no file ever lies about its size
 * (Dovecot trusts ",S=").
 */
#ifndef TWINBOX_MAILDIR_DELIVERY_H
#define TWINBOX_MAILDIR_DELIVERY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "twinbox/maildir/folder.h"
#include "twinbox/util/error.h"

struct maildir_delivery;

struct maildir_delivery_opts {
	const char *id;     /* NULL: generate one (with ",S=" when size is known) */
	uint64_t size;      /* exact byte count, or MAILDIR_SIZE_UNKNOWN */
	uint64_t flags;     /* flags.h */
	int to_cur;         /* 1: cur/ even without flags */
	int has_mtime;      /* 1: set the file's mtime (and atime) to `mtime` */
	time_t mtime;       /* e.g. the IMAP INTERNALDATE */
	int defer_dir_sync; /* 1: leave the directory fsync to maildir_folder_sync() */
};

/* Start a delivery into `f` (which must stay open until commit or abort).
 * Fails (ERR_MESSAGE) for an invalid caller id (maildir_id_valid()), an id
 * the folder's snapshot already lists, or an id whose ",S=" disagrees
 * with opts->size; (ERR_MAILBOX/ERR_FATAL) when tmp/ cannot be written.
 * A tmp/ file of the same id is a leftover of an earlier attempt at this
 * very delivery and is replaced. */
int maildir_delivery_begin(struct maildir_folder *f, const struct maildir_delivery_opts *opts,
                           struct maildir_delivery **d_r, struct error *err);

/* The message id, and the final file name and directory it will have. */
const char *maildir_delivery_id(const struct maildir_delivery *d);
const char *maildir_delivery_name(const struct maildir_delivery *d);
enum maildir_subdir maildir_delivery_subdir(const struct maildir_delivery *d);

/* Append bytes. Writing past a promised size fails (ERR_MESSAGE). After a
 * failure only abort is allowed. */
int maildir_delivery_write(struct maildir_delivery *d, const void *data, size_t len, struct error *err);

/* write without a copy, for a caller that makes the bytes itself (e.g.
 * converting line ends): room_r gets the free part of the delivery's
 * write buffer (at least 1 byte, NULL after a failure); put up to
 * *room_r bytes there, then advance by their count (checked as write
 * checks them). Nothing may be written between the two calls. */
unsigned char *maildir_delivery_room(struct maildir_delivery *d, size_t *room_r);
int maildir_delivery_advance(struct maildir_delivery *d, size_t n, struct error *err);

/* Finish: on success the message is in the folder (and in its snapshot,
 * once the folder has been scanned: a handle that only delivers keeps
 * no record per message) and, unless defer_dir_sync, durable. On failure
 * nothing is visible and the tmp/ file is removed. Frees `d` in both
 * cases. */
int maildir_delivery_commit(struct maildir_delivery *d, struct error *err);

/* The steps of commit, for a caller that makes files durable in another
 * thread (maildir_delivery_commit does all three in one):
 *   seal (the folder's thread): the size checks and the file's times;
 *   persist (any one thread): fsync, close, and move into new/ or cur/;
 *     it reads the folder's directories and changes nothing else of it,
 *     so it may run while the folder's thread starts other deliveries;
 *   finish (the folder's thread): the message enters the folder's
 *     snapshot if it was scanned (and its directory is synced by
 *     maildir_folder_sync());
 *     frees `d`.
 * After a failed seal or persist, only abort is allowed; nothing is
 * visible then. */
int maildir_delivery_seal(struct maildir_delivery *d, struct error *err);
int maildir_delivery_persist(struct maildir_delivery *d, struct error *err);
void maildir_delivery_finish(struct maildir_delivery *d);

/* persist for `n` sealed deliveries of one folder, made durable together
 * (one sync of their file system where that is as good as an fsync of
 * each; else each file's own fsync): rcs[i] and errs[i] are each one's
 * result, as persist's. */
void maildir_delivery_persist_group(struct maildir_delivery **ds, size_t n, int *rcs, struct error *errs);

/* Give up: removes the tmp/ file and frees `d`. NULL is allowed. */
void maildir_delivery_abort(struct maildir_delivery *d);

#endif
