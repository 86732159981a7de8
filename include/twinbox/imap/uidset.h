/*
 * An owned set of UIDs (or sequence numbers) as ranges, for building
 * command arguments ("1:3,7") and keeping UID sets a server sent
 * (COPYUID, APPENDUID with MULTIAPPEND, MODIFIED) beyond the parser's
 * event lifetime.
 */
#ifndef TWINBOX_IMAP_UIDSET_H
#define TWINBOX_IMAP_UIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/imap/parser.h"
#include "twinbox/util/buf.h"

struct imap_uidset {
	struct imap_uid_range *v; /* owned; first <= last in every range */
	size_t count, cap;
};

#define IMAP_UIDSET_INIT                                                                                     \
	{                                                                                                    \
		NULL, 0, 0                                                                                   \
	}

void imap_uidset_free(struct imap_uidset *set);
void imap_uidset_clear(struct imap_uidset *set);
/* Add `uid` (> 0). Adding in ascending order merges neighbours into
 * ranges, so a sorted run of n UIDs costs one range. */
void imap_uidset_add(struct imap_uidset *set, uint32_t uid);
void imap_uidset_add_range(struct imap_uidset *set, uint32_t first, uint32_t last);
/* Replace the contents with a copy of a parser set. */
void imap_uidset_copy(struct imap_uidset *dst, const struct imap_uid_set *src);
bool imap_uidset_contains(const struct imap_uidset *set, uint32_t uid);
/* Sort the ranges and merge those that overlap or touch, as a server's
 * set (VANISHED) need be neither. */
void imap_uidset_normalize(struct imap_uidset *set);
/* Number of UIDs (ranges may overlap when sent by a server: counted as
 * given). */
uint64_t imap_uidset_size(const struct imap_uidset *set);
/* The n-th UID (0-based) walking the ranges in order; 0 if n is out of
 * range. For pairing COPYUID / APPENDUID source and destination sets. */
uint32_t imap_uidset_nth(const struct imap_uidset *set, uint64_t n);
/* Append "1:3,7" to `out` ("" for an empty set). */
void imap_uidset_format(const struct imap_uidset *set, struct buf *out);

#endif
