/*
 * Modified UTF-7 (RFC 3501 section 5.1.3), the encoding of IMAP mailbox
 * names unless UTF8=ACCEPT is enabled: printable US-ASCII stands for
 * itself except '&', which is "&-"; everything else is UTF-16 in a
 * base64 variant (',' for '/') between '&' and '-'.
 *
 * Both directions are strict, so that decoding is one-to-one: a name that
 * decodes is exactly the encoding of its decoded form. Malformed input is
 * refused: bytes outside 0x20..0x7e, an unterminated or empty shift,
 * characters outside the modified base64 alphabet, leftover or non-zero
 * padding bits, unpaired UTF-16 surrogates, printable ASCII or U+0000
 * inside a shift, and non-canonical forms such as two adjacent shifts.
 * Encoding refuses invalid UTF-8 (overlong forms, surrogates, code points
 * above U+10FFFF, truncated sequences) and NUL.
 */
#ifndef TWINBOX_IMAP_UTF7_H
#define TWINBOX_IMAP_UTF7_H

#include <stddef.h>

#include "twinbox/util/error.h"

/* Decode `len` bytes of modified UTF-7 into UTF-8. On success returns 0
 * and a fresh NUL-terminated string in *out_r (caller frees); on failure
 * -1 with err filled (ERR_MAILBOX) and *out_r NULL. */
int imap_utf7_decode(const char *in, size_t len, char **out_r, struct error *err);

/* Encode `len` bytes of UTF-8 into modified UTF-7; same conventions. */
int imap_utf7_encode(const char *in, size_t len, char **out_r, struct error *err);

#endif
