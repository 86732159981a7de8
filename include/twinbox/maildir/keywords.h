/*
 * A Maildir folder's keyword letters, as Dovecot keeps them: the file
 * `dovecot-keywords` in the folder's directory (for INBOX the root) has
 * lines "INDEX NAME", INDEX 0..25 naming the letters 'a'..'z' that may
 * follow ":2," in the folder's file names. A Dovecot serving the same
 * Maildir, and mail readers that know the convention, read the same
 * table, so a keyword written as a letter here is that keyword there.
 *
 * Reading follows Dovecot's own reading, so that both agree on which
 * letters are taken: a line counts when it ends with LF and has a space
 * with text after it; INDEX is read as atoi() reads it and must be
 * 0..25; NAME is the rest of the line; a later line for an index
 * replaces an earlier one. Such a line takes its letter even when NAME
 * is no IMAP keyword (util/mailflags.h): that letter then names no
 * keyword here but is never given to another. Other lines are ignored,
 * and dropped when the file is written again, as Dovecot drops them.
 * The file may hold at most MAILDIR_KEYWORDS_FILE_MAX bytes; a longer
 * one is refused (ERR_MAILBOX), never read in part.
 *
 * Adding a name (maildir_keywords_add) writes the file the way Dovecot
 * does: under the dotlock `dovecot-keywords.lock` (created exclusively,
 * "pid:host" inside), the file is read again so that a letter another
 * program gave meanwhile is not given twice, the new table is written
 * into the lock file, fsync'ed, its mtime made later than the old
 * file's (Dovecot re-reads the file when its mtime changes), and the
 * lock renamed over the file, which also releases it. Dovecot changes
 * the table only while it holds the folder's `dovecot-uidlist.lock`, so
 * where that file's folder has a `dovecot-uidlist` (Dovecot serves it)
 * that lock is held too while the table is read and written. A lock
 * whose holder is gone (a dead pid on this host) or older than
 * MAILDIR_KEYWORDS_LOCK_STALE seconds is taken over, as Dovecot does;
 * a live one is waited for up to the table's lock wait.
 *
 * Keywords compare without regard to case, as IMAP has them.
 */
#ifndef TWINBOX_MAILDIR_KEYWORDS_H
#define TWINBOX_MAILDIR_KEYWORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/util/error.h"

#define MAILDIR_KEYWORDS_FILE       "dovecot-keywords"
#define MAILDIR_KEYWORDS_LOCK       "dovecot-keywords.lock"
#define MAILDIR_UIDLIST_FILE        "dovecot-uidlist"
#define MAILDIR_UIDLIST_LOCK        "dovecot-uidlist.lock"
#define MAILDIR_KEYWORDS_MAX        26    /* letters 'a'..'z' */
#define MAILDIR_KEYWORDS_FILE_MAX   65536 /* bytes of dovecot-keywords read at most */
#define MAILDIR_KEYWORDS_LOCK_STALE 120   /* seconds: Dovecot's stale timeout for these locks */
#define MAILDIR_KEYWORDS_LOCK_WAIT  30    /* seconds a live lock is waited for by default */

/* The letters 'a'..'z' as a set: bit i is letter 'a' + i. */
#define MAILDIR_KEYWORD_LETTER(i) ((char)('a' + (i)))

struct maildir_keywords;

/* The table of the folder directory `dir` (absolute), not read yet
 * (empty): maildir_keywords_read() reads it. Free with
 * maildir_keywords_free() (NULL is allowed). */
struct maildir_keywords *maildir_keywords_new(const char *dir);
void maildir_keywords_free(struct maildir_keywords *k);

/* How long maildir_keywords_add() waits for a live lock before it gives
 * up (ERR_MAILBOX); MAILDIR_KEYWORDS_LOCK_WAIT unless set. */
void maildir_keywords_set_lock_wait(struct maildir_keywords *k, unsigned seconds);

/* Read the file afresh (a missing file is an empty table): 1 when the
 * table changed from what it was, 0 when not, -1 with ERR_MAILBOX when
 * the file cannot be read or is too long (the table is then empty). */
int maildir_keywords_read(struct maildir_keywords *k, struct error *err);

/* The keyword letter `letter` names ('a'..'z'), or NULL when it names
 * none (no line, or a name that is no IMAP keyword). Valid until the
 * table is read or changed again. */
const char *maildir_keywords_name(const struct maildir_keywords *k, char letter);

/* The letter of keyword `kw` (`len` bytes; case-insensitive), or 0. */
char maildir_keywords_letter(const struct maildir_keywords *k, const char *kw, size_t len);

/* The indexes taken (bit i: letter 'a' + i has a line), and how many
 * letters are still free. */
uint32_t maildir_keywords_taken(const struct maildir_keywords *k);
size_t maildir_keywords_free_count(const struct maildir_keywords *k);

/* The canonical keyword text (util/mailflags.h) of the keywords the
 * table names, or NULL when it names none; fresh, caller frees. */
char *maildir_keywords_all(const struct maildir_keywords *k);

/* Give keyword `kw` (`len` bytes, an IMAP keyword) a letter: the one it
 * has (after reading the file again under the lock), else the lowest
 * free index, written to the file as described above. 1 with *letter_r,
 * 0 when every letter is taken (the table as read under the lock), -1
 * with err: ERR_MESSAGE when `kw` is no keyword, ERR_MAILBOX when the
 * lock or the file cannot be had. */
int maildir_keywords_add(struct maildir_keywords *k, const char *kw, size_t len, char *letter_r,
                         struct error *err);

#endif
