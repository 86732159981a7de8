/*
 * The `maildir` store: a Maildir root (maildir/) behind the store
 * interface (store.h).
 *
 * Names. Messages are keyed by name (STORE_KEY_NAME): a message's name is
 * its Maildir id, the file name before ':', which stays the same while
 * mail readers move it from new/ to cur/ and change its flags. Folder
 * names are remote-style with '/' as the separator (layout.h maps them);
 * in the maildir++ layout INBOX is the root itself.
 *
 * Bytes. Files on disk have LF line endings, as mutt, mbsync and notmuch
 * expect; messages cross the interface with CRLF. `add` turns each CRLF
 * into LF (a CR not followed by LF is kept); fetch turns each LF that has
 * no CR before it into CRLF, so a file that already has CRLF line endings
 * is passed on unchanged. A message with CRLF line endings and no other
 * CR before a line ending therefore comes back from fetch byte for byte.
 * Since the on-disk size is not the canonical one, names twinbox writes
 * carry no ",S=" size.
 *
 * Flags. S R F T D are \Seen \Answered \Flagged \Deleted \Draft; P is the
 * keyword $Forwarded, the only keyword a Maildir keeps (no
 * STORE_CAP_KEYWORDS: other keywords are dropped by add and set_flags).
 * Other letters (Dovecot's keyword letters, other programs' private
 * ones) are not reported in snapshots but stay on the files.
 *
 * Snapshots carry no stat per message: `size` is known only for names
 * with Dovecot's ",W=" field (the size with CRLF line endings), else 0;
 * `date` is 0. Fetch's begin reports the exact canonical size and the
 * file's mtime.
 *
 * Missing is never empty. A missing folder fails open_folder with
 * ERR_MAILBOX and *missing_r set. A missing root fails list_folders and
 * open_folder with ERR_ACCOUNT and *missing_r false: an unmounted disk
 * must not look like a user who deleted every folder. create_folder
 * creates the root as needed; the caller decides when creating it is
 * right (e.g. an account's first sync).
 *
 * Partial batches. set_flags and delete go on after a message fails and
 * return -1 with the first failure (ERR_MESSAGE) at the end; those that
 * did not fail were done. A message gone meanwhile is no failure for
 * either; one whose flags another program changed since the snapshot is
 * not deleted (a failure: that change must be synced first). fetch stops
 * at a message it cannot read (-1, ERR_MESSAGE) or that changed while
 * being read; the messages before it reached the sink in full, and the
 * failing one may have had begin and chunks but never gets end.
 * add sets errs[i] per message, and errs[i].scope is ERR_NONE exactly for
 * the messages added. It returns -1 only when going on is pointless (the
 * folder is gone, the disk is full, the source's session is lost); err
 * then has that failure and the messages not tried yet have ERR_MESSAGE.
 * name_r stays the caller's in every case: a reserved name is kept, a
 * fresh one set only for a message added.
 *
 * Durability: each added file is fsynced before it appears; directory
 * entries (adds, flag renames, deletions) are made durable by flush.
 */
#ifndef TWINBOX_STORE_MAILDIR_STORE_H
#define TWINBOX_STORE_MAILDIR_STORE_H

#include "twinbox/maildir/layout.h"
#include "twinbox/store/store.h"
#include "twinbox/util/error.h"

/* A store over the Maildir at `root` (absolute; copied). Touches no file:
 * a missing root shows when folders are listed or opened. Returns NULL
 * with err (ERR_ACCOUNT) for a relative root. Close with
 * st->ops->close(st). */
struct store *maildir_store_open(const char *root, enum maildir_layout layout, struct error *err);

#endif
