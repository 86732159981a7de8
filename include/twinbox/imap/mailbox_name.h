/*
 * Mailbox names between twinbox (UTF-8) and the wire: modified UTF-7
 * (RFC 3501 5.1.3), or UTF-8 itself once UTF8=ACCEPT is enabled
 * (RFC 6855). How an encoded name is then written in a command (quoted
 * string or literal) is the command builder's business (session.h,
 * imap_cmd_add_mailbox).
 */
#ifndef TWINBOX_IMAP_MAILBOX_NAME_H
#define TWINBOX_IMAP_MAILBOX_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "twinbox/util/error.h"

/* Encode the UTF-8 `name` for the wire into a fresh string (*wire_r,
 * caller frees). CR, LF and NUL are refused (ERR_MAILBOX), as is invalid
 * UTF-8; the message quotes the name (escaped). */
int imap_mailbox_encode(const char *name, bool utf8, char **wire_r, struct error *err);

/* Decode `len` bytes of a name as the server sent it into fresh UTF-8
 * (*name_r, caller frees). With `utf8`, the bytes must be valid UTF-8;
 * otherwise modified UTF-7. CR, LF and NUL are refused. -1 with
 * ERR_MAILBOX on failure (the message shows the raw name escaped). */
int imap_mailbox_decode(const char *wire, size_t len, bool utf8, char **name_r, struct error *err);

#endif
