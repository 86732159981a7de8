/*
 * Maildir flag letters: the part of a file name after ":2,".
 *
 * A flag set is a uint64_t with one bit per ASCII letter: 'A'..'Z' are
 * bits 0..25 and 'a'..'z' bits 26..51. Ascending bit order is therefore
 * ASCII order, the order the Maildir specification asks for. Every letter
 * is kept, also the ones twinbox gives no meaning to (Dovecot's keyword
 * letters 'a'..'z', private uppercase letters of other programs), so a
 * set read from a file name and written back is unchanged.
 *
 * The letters with an IMAP meaning are those of the flag vocabulary's
 * table (util/mailflags.h, mail_flag_defs):
 *
 *   D \Draft   F \Flagged   P $Forwarded   R \Answered   S \Seen   T \Deleted
 */
#ifndef TWINBOX_MAILDIR_FLAGS_H
#define TWINBOX_MAILDIR_FLAGS_H

#include <stddef.h>
#include <stdint.h>

#define MAILDIR_FLAG_BIT(c)                                                                                  \
	((c) >= 'A' && (c) <= 'Z'   ? UINT64_C(1) << ((c) - 'A')                                             \
	 : (c) >= 'a' && (c) <= 'z' ? UINT64_C(1) << ((c) - 'a' + 26)                                        \
	                            : UINT64_C(0))

#define MAILDIR_FLAG_DRAFT   MAILDIR_FLAG_BIT('D')
#define MAILDIR_FLAG_FLAGGED MAILDIR_FLAG_BIT('F')
#define MAILDIR_FLAG_PASSED  MAILDIR_FLAG_BIT('P')
#define MAILDIR_FLAG_REPLIED MAILDIR_FLAG_BIT('R')
#define MAILDIR_FLAG_SEEN    MAILDIR_FLAG_BIT('S')
#define MAILDIR_FLAG_TRASHED MAILDIR_FLAG_BIT('T')

/* Every representable letter. */
#define MAILDIR_FLAGS_ALL ((UINT64_C(1) << 52) - 1)

/* Longest formatted set: all 52 letters. */
#define MAILDIR_FLAGS_MAX 52

/* The bit of letter `c`, or 0 when `c` is not an ASCII letter. */
uint64_t maildir_flag_bit(char c);

/* Parse `len` bytes of flag letters (the text after ":2,"). Bytes that
 * are not ASCII letters carry no flag and are skipped; duplicates and
 * order do not matter. */
uint64_t maildir_flags_parse(const char *s, size_t len);

/* Write the letters of `flags` in ASCII order into `out` and NUL-terminate
 * it; returns the number of letters. Bits above MAILDIR_FLAGS_ALL are
 * ignored. */
size_t maildir_flags_format(uint64_t flags, char out[MAILDIR_FLAGS_MAX + 1]);

/* The IMAP flag of a letter ("\\Seen" for 'S', "$Forwarded" for 'P'), or
 * NULL for a letter without an IMAP meaning. The string is static. */
const char *maildir_flag_to_imap(char letter);

/* The letter for an IMAP flag or keyword, compared case-insensitively
 * ("\\seen" gives 'S'), or 0 when Maildir has no letter for it. */
char maildir_flag_from_imap(const char *flag);

/* The letters of MAIL_FLAG_* bits `flags` and canonical keyword text
 * `keywords` (NULL: none), by the table of util/mailflags.h: the system
 * flags' letters and 'P' for $Forwarded; other keywords have none. */
uint64_t maildir_flags_of_mail(unsigned flags, const char *keywords);

#endif
