/*
 * Message flags as the state stores them: the IMAP system flags that
 * describe a message (\Seen \Answered \Flagged \Deleted \Draft) as bits,
 * and keywords ($Junk, $Forwarded, user words) as one canonical text.
 *
 * Canonical keyword text: keywords separated by one space, sorted
 * case-insensitively (ties by byte value), keywords that differ only in
 * case kept once (the spelling that sorts first by byte value), so the
 * text does not depend on the order the keywords came in; an empty set
 * is NULL, never "". IMAP servers compare keywords without regard to
 * case, so two canonical texts are the same set exactly when
 * state_keywords_equal() says so.
 *
 * A keyword is an IMAP atom that does not start with '\': printable
 * ASCII except ( ) { space % * " \ ] and control characters, at most
 * STATE_KEYWORD_MAX bytes; a message has at most STATE_KEYWORDS_MAX of
 * them. Text that breaks these rules is refused with ERR_MESSAGE.
 *
 * This file has no dependency on the database: lower layers' snapshots
 * can use the same representation.
 */
#ifndef TWINBOX_STATE_FLAGS_H
#define TWINBOX_STATE_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "twinbox/util/error.h"

enum state_flag {
	STATE_FLAG_SEEN = 1u << 0,
	STATE_FLAG_ANSWERED = 1u << 1,
	STATE_FLAG_FLAGGED = 1u << 2,
	STATE_FLAG_DELETED = 1u << 3,
	STATE_FLAG_DRAFT = 1u << 4,
};

#define STATE_FLAGS_ALL    0x1fu
#define STATE_KEYWORD_MAX  128
#define STATE_KEYWORDS_MAX 128

/* "\Seen" etc. for one flag bit; NULL for anything else. */
const char *state_flag_name(unsigned flag);

/* Parse a space-separated IMAP flag list (without the parentheses), as
 * found in FETCH FLAGS or PERMANENTFLAGS: system flags become bits,
 * keywords the canonical text (*keywords_r, fresh or NULL; caller frees).
 * Session and wildcard flags (\Recent, \*) and unknown system flags are
 * ignored; system flag names are matched case-insensitively. */
int state_flags_parse(const char *text, unsigned *bits_r, char **keywords_r, struct error *err);

/* The IMAP list for `bits` and `keywords` (canonical or not), system
 * flags first: "\Seen \Flagged $Junk". Fresh string, "" for none. */
char *state_flags_format(unsigned bits, const char *keywords);

/* Canonicalise a space-separated keyword list into *canon_r (fresh, or
 * NULL for the empty set; caller frees). */
int state_keywords_canon(const char *text, char **canon_r, struct error *err);

/* The canonical order of keywords (`alen` and `blen` bytes): without
 * regard to case, ties broken by byte value. <0, 0 or >0 as for strcmp. */
int state_keyword_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Whether two canonical keyword texts hold the same set (NULL and ""
 * are the empty set). */
bool state_keywords_equal(const char *a, const char *b);

/* Whether canonical `keywords` holds `keyword` (case-insensitively). */
bool state_keywords_has(const char *keywords, const char *keyword);

#endif
