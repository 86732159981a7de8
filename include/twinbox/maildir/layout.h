/*
 * Folder names: remote (IMAP-style) names <-> paths below the Maildir root.
 *
 * A remote name is UTF-8 with a hierarchy delimiter `delim` ('/', '.', any
 * other ASCII byte, or 0 for a server without hierarchy), split into
 * components at each `delim`. Its first component, when it is "INBOX" in
 * any case, is the IMAP INBOX and is written "INBOX".
 *
 * Layouts (local paths are relative to the root):
 *   maildir++  INBOX is the root itself (relative path "");
 *              "Work/Projects" is ".Work.Projects".
 *   nested     INBOX is the directory "INBOX";
 *              "Work/Projects" is "Work/Projects".
 *
 * Escaping. A component byte that cannot stand for itself is written as
 * '%' and two uppercase hex digits:
 *   - '%' itself (always), control bytes 0x00..0x1f and 0x7f, '/';
 *   - a '.' at the start of a component (it would hide the folder, or be
 *     "." or ".."), and in maildir++ every '.' (it separates components);
 *   - in nested, the first letter of a component named "cur", "new" or
 *     "tmp" ("%63ur"), which would clash with a Maildir's own directories.
 * An empty component is written as a lone "%". So "a.b/../c" (delimiter
 * '/') is ".a%2Eb.%2E%2E.c" in maildir++ and "a.b/%2E./c" in nested.
 *
 * The mapping is one-to-one on canonical names: to_remote() accepts only a
 * path that to_local() would produce from the name it decodes to, and
 * refuses anything else (lowercase hex, needless escapes, ".INBOX" in
 * maildir++, "inbox" in nested, bytes that are not UTF-8). A path
 * produced here always passes fs_join(): it never leaves the root.
 */
#ifndef TWINBOX_MAILDIR_LAYOUT_H
#define TWINBOX_MAILDIR_LAYOUT_H

#include <stddef.h>

#include "twinbox/util/error.h"

/* Same order as enum config_layout, which cli/ converts from. */
enum maildir_layout {
	MAILDIR_LAYOUT_MAILDIRPP,
	MAILDIR_LAYOUT_NESTED,
};

/* Longest remote name accepted, in bytes. */
#define MAILDIR_FOLDER_NAME_MAX 1000
/* Longest local relative path produced. */
#define MAILDIR_FOLDER_PATH_MAX 3000

/* Map a remote name to a fresh relative path (*rel_r, caller frees; "" is
 * the root). Fails (ERR_MAILBOX, *rel_r NULL) for an empty name, a name
 * that is not UTF-8 or longer than MAILDIR_FOLDER_NAME_MAX, a delimiter
 * outside ASCII, or a result with a path component over 255 bytes. */
int maildir_layout_to_local(enum maildir_layout layout, const char *name, char delim, char **rel_r,
                            struct error *err);

/* Map a relative path (as listed below the root; "" is the root) back to
 * a fresh remote name (*name_r, caller frees). Fails (ERR_MAILBOX) when
 * the path is not one that to_local() produces. */
int maildir_layout_to_remote(enum maildir_layout layout, const char *rel, char delim, char **name_r,
                             struct error *err);

/* Check that the `count` remote names map to distinct local paths ("inbox"
 * and "INBOX" do not). Returns 0; or -1 with err (ERR_ACCOUNT) naming both
 * and their path, and *a_r < *b_r their indexes (either may be NULL); or
 * -1 with *a_r == *b_r when one name cannot be mapped at all. */
int maildir_layout_check_collisions(enum maildir_layout layout, const char *const *names, size_t count,
                                    char delim, size_t *a_r, size_t *b_r, struct error *err);

#endif
