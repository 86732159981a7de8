/*
 * A message's header fields as text to show (the new_mail hook's From,
 * Subject and Date): found in a header block, unfolded, RFC 2047 encoded
 * words decoded, and made inert.
 *
 * Inert: what comes out is well-formed UTF-8 without control
 * characters (C0, DEL, C1), so it can go into an environment variable, a
 * notification or a terminal as it is. It is still any text a sender
 * chose ("$(rm -rf ~)" stays those characters): whoever passes it on
 * must keep it data, never paste it into a command.
 */
#ifndef TWINBOX_UTIL_HEADER_H
#define TWINBOX_UTIL_HEADER_H

#include <stddef.h>

#define HEADER_RAW_MAX   (16 * 1024) /* bytes of a field's value looked at */
#define HEADER_VALUE_MAX 1000        /* bytes of a shown value */

/* The value of the first field called `name` (compared ignoring case)
 * in the header block `data` of `len` bytes (LF or CRLF line endings;
 * what follows the first empty line is not looked at): the text after
 * the colon with the line breaks of its folding removed and white space
 * around it cut, at most HEADER_RAW_MAX bytes, as raw bytes (fresh).
 * NULL when the block has no such field. */
char *header_field(const char *data, size_t len, const char *name);

/* `value` (a field's raw value) as text to show (fresh): encoded words
 * (RFC 2047: "=?charset?B?...?=" and "?Q?", any charset iconv knows, an
 * RFC 2231 "*language" suffix ignored) decoded to UTF-8 and the white
 * space between two of them dropped; one that cannot be decoded is kept
 * as written. Then made inert as header_inert() does. */
char *header_display(const char *value);

/* `text` made inert, without decoding anything (fresh): bytes that are
 * not UTF-8 become U+FFFD, TAB, CR and LF a space, other control
 * characters are removed, spaces at either end cut, and the text cut to
 * HEADER_VALUE_MAX bytes at a character's end. */
char *header_inert(const char *text);

#endif
