/*
 * The peer's end of a DEFLATE stream (RFC 4978) for tests: zlib streams
 * of its own that make what a server sends and read back what the client
 * wrote, independently of src/net/deflate.c.
 */
#ifndef TWINBOX_TEST_DEFLATE_SUPPORT_H
#define TWINBOX_TEST_DEFLATE_SUPPORT_H

#include <criterion/criterion.h>
#include <string.h>
#include <zlib.h>

#include "twinbox/util/buf.h"

struct zpeer {
	z_stream def, inf;
};

/* Raw deflate, 32 KiB window, zlib's default level and memLevel: what
 * the client's deflater uses too, so that the same writes make the same
 * bytes. */
static inline void zpeer_init(struct zpeer *z)
{
	memset(z, 0, sizeof(*z));
	cr_assert_eq(deflateInit2(&z->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
	             Z_OK);
	cr_assert_eq(inflateInit2(&z->inf, -15), Z_OK);
}

static inline void zpeer_end(struct zpeer *z)
{
	deflateEnd(&z->def);
	inflateEnd(&z->inf);
}

/* Compress `len` bytes as one write ending in a sync flush; appended to
 * `out`. */
static inline void zpeer_deflate(struct zpeer *z, const void *data, size_t len, struct buf *out)
{
	unsigned char chunk[4096];

	z->def.next_in = (unsigned char *)data;
	z->def.avail_in = (uInt)len;
	do {
		z->def.next_out = chunk;
		z->def.avail_out = sizeof(chunk);
		cr_assert_neq(deflate(&z->def, Z_SYNC_FLUSH), Z_STREAM_ERROR);
		buf_append(out, chunk, sizeof(chunk) - z->def.avail_out);
	} while (z->def.avail_out == 0);
}

/* Decompress `len` bytes, appended to `out`; the test fails on a corrupt
 * stream. */
static inline void zpeer_inflate(struct zpeer *z, const void *data, size_t len, struct buf *out)
{
	unsigned char chunk[4096];
	int rc;

	z->inf.next_in = (unsigned char *)data;
	z->inf.avail_in = (uInt)len;
	do {
		z->inf.next_out = chunk;
		z->inf.avail_out = sizeof(chunk);
		rc = inflate(&z->inf, Z_SYNC_FLUSH);
		cr_assert(rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END, "inflate: %d", rc);
		buf_append(out, chunk, sizeof(chunk) - z->inf.avail_out);
	} while (z->inf.avail_out == 0);
}

#endif
