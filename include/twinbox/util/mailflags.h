/*
 * The flag and keyword vocabulary of a message, one definition for every
 * layer: the IMAP system flags that describe a message (\Seen \Answered
 * \Flagged \Deleted \Draft) as MAIL_FLAG_* bits, their names in IMAP and
 * their letters in Maildir file names (mail_flag_defs), and keywords
 * ($Junk, $Forwarded, user words) as one canonical text. The IMAP
 * protocol core, the Maildir layer, the stores and the state all use it;
 * session-only flags such as \Recent are not part of it (imap/commands.h
 * keeps that one above MAIL_FLAGS_ALL).
 *
 * Canonical keyword text: keywords separated by one space, sorted
 * case-insensitively (ties by byte value), keywords that differ only in
 * case kept once (the spelling that sorts first by byte value), so the
 * text does not depend on the order the keywords came in; an empty set
 * is NULL, never "". IMAP servers compare keywords without regard to
 * case, so two canonical texts are the same set exactly when
 * mail_keywords_equal() says so.
 *
 * A keyword is an IMAP atom that does not start with '\': printable
 * ASCII except ( ) { space % * " \ ] and control characters, at most
 * MAIL_KEYWORD_MAX bytes; a message has at most MAIL_KEYWORDS_MAX of
 * them. Text that breaks these rules is refused with ERR_MESSAGE.
 *
 * This file has no dependency on the database or on any protocol: it
 * sits in util/ so that every layer above can share it.
 */
#ifndef TWINBOX_UTIL_MAILFLAGS_H
#define TWINBOX_UTIL_MAILFLAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "twinbox/util/error.h"

enum mail_flag {
	MAIL_FLAG_SEEN = 1u << 0,
	MAIL_FLAG_ANSWERED = 1u << 1,
	MAIL_FLAG_FLAGGED = 1u << 2,
	MAIL_FLAG_DELETED = 1u << 3,
	MAIL_FLAG_DRAFT = 1u << 4,
};

#define MAIL_FLAGS_ALL    0x1fu
#define MAIL_KEYWORD_MAX  128
#define MAIL_KEYWORDS_MAX 128

/* One flag of the vocabulary: its bit, its IMAP name and its Maildir
 * letter. */
struct mail_flag_def {
	unsigned bit;     /* MAIL_FLAG_*; 0 for a keyword */
	const char *imap; /* \Seen; for a keyword the keyword, $Forwarded */
	char letter;      /* the Maildir info letter, 'S' */
};

/* The table: the five system flags in bit order, then the keywords that
 * Maildir writes as a letter ($Forwarded as 'P'); a row with imap NULL
 * ends it. Static, never changes. */
extern const struct mail_flag_def mail_flag_defs[];

/* The row of Maildir letter `letter`, or NULL when the letter has no
 * meaning in the vocabulary. */
const struct mail_flag_def *mail_flag_by_letter(char letter);

/* The row of the IMAP flag or keyword `name` (`len` bytes), compared
 * case-insensitively ("\seen" finds \Seen), or NULL when it is not in
 * the table (\Recent, $Junk). */
const struct mail_flag_def *mail_flag_by_imap(const char *name, size_t len);

/* "\Seen" etc. for one flag bit; NULL for anything else. */
const char *mail_flag_name(unsigned flag);

/* Parse a space-separated IMAP flag list (without the parentheses), as
 * found in FETCH FLAGS or PERMANENTFLAGS: system flags become bits,
 * keywords the canonical text (*keywords_r, fresh or NULL; caller frees).
 * Session and wildcard flags (\Recent, \*) and unknown system flags are
 * ignored; system flag names are matched case-insensitively. */
int mail_flags_parse(const char *text, unsigned *bits_r, char **keywords_r, struct error *err);

/* The IMAP list for `bits` and `keywords` (canonical or not), system
 * flags first: "\Seen \Flagged $Junk". Fresh string, "" for none. */
char *mail_flags_format(unsigned bits, const char *keywords);

/* Canonicalise a space-separated keyword list into *canon_r (fresh, or
 * NULL for the empty set; caller frees). */
int mail_keywords_canon(const char *text, char **canon_r, struct error *err);

/* 0 when `kw` (`len` bytes) is one keyword by the rules above, else -1
 * with ERR_MESSAGE saying why. */
int mail_keyword_check(const char *kw, size_t len, struct error *err);

/* The canonical order of keywords (`alen` and `blen` bytes): without
 * regard to case, ties broken by byte value. <0, 0 or >0 as for strcmp. */
int mail_keyword_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Whether two canonical keyword texts hold the same set (NULL and ""
 * are the empty set). */
bool mail_keywords_equal(const char *a, const char *b);

/* Whether canonical `keywords` holds `keyword` (case-insensitively). */
bool mail_keywords_has(const char *keywords, const char *keyword);

#endif
