/*
 * Content keys: what identifies the same message on two stores when no
 * state pairs them (first sync, a re-created state, a UIDVALIDITY
 * change). Built from the Message-ID, the canonical (CRLF) size and a
 * hash of the header block. The state keeps it as opaque text.
 *
 * The header block is hashed in a normal form so both sides agree
 * whatever their line endings: every line ending counted as CRLF (a bare
 * LF as CRLF, a CR not followed by LF as itself), header bytes otherwise
 * as they are, up to and including the empty line. Only the first
 * CONTENT_KEY_HEADER_MAX bytes of that normal form count, so a store
 * with LF files and one with CRLF agree on a huge header too.
 *
 * X-TUID fields (with their continuation lines) are left out of both the
 * hash and the size: mbsync adds one to every copy it stores, so without
 * this a Maildir it filled would never match its server's messages. Only
 * lines of at most 2048 bytes are left out this way.
 *
 * The Message-ID is the body of the first "Message-ID:" field (name
 * matched case-insensitively, folded continuation lines included) within
 * those bytes, with whitespace and control bytes removed, reduced to its
 * "<...>" part when it has one (comments dropped), angle brackets kept,
 * and cut to CONTENT_KEY_MSGID_MAX bytes.
 */
#ifndef TWINBOX_STORE_CONTENT_KEY_H
#define TWINBOX_STORE_CONTENT_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/error.h"

#define CONTENT_KEY_HEADER_MAX (1024 * 1024) /* header bytes considered (normal form) */
#define CONTENT_KEY_MSGID_MAX  998           /* Message-ID bytes kept */

/* Incremental: feed the header block (any chunking, LF or CRLF), then
 * finish with the message's canonical size. */
struct content_key_builder {
	uint64_t hash;    /* FNV-1a 64 over the normalised header block */
	struct buf msgid; /* the Message-ID value once seen */
	struct buf line;  /* the current header line (bounded) */
	size_t seen;      /* header bytes hashed (normal form) */
	uint64_t ignored; /* header bytes left out (normal form): X-TUID fields */
	int state;        /* private */
};

void content_key_init(struct content_key_builder *b);
void content_key_feed(struct content_key_builder *b, const void *data, size_t len);
/* The key (fresh; caller frees): "<size> <hash hex> <message-id>": the
 * size in decimal, the hash as 16 lowercase hex digits, the Message-ID
 * part empty when there is none (the key then ends in a space). Bytes
 * fed after it are ignored. */
char *content_key_finish(struct content_key_builder *b, uint64_t size);
/* Release the builder's memory (after finish, or instead of it). */
void content_key_free(struct content_key_builder *b);

#endif
