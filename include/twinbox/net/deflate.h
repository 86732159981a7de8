/*
 * DEFLATE compression (zlib) over another transport, as IMAP
 * COMPRESS=DEFLATE (RFC 4978) has it: raw deflate (RFC 1951, no zlib or
 * gzip header) with a 32 KiB window in each direction, one stream per
 * direction for the rest of the connection.
 *
 *  - Writes are compressed at zlib's default level and each ends with a
 *    sync flush (Z_SYNC_FLUSH): everything written is on the wire when
 *    the write returns, so a command never waits inside the compressor.
 *  - Reads decompress whatever the inner transport hands out, in chunks
 *    of any size. A read returns at most the `len` asked for; the rest
 *    stays in the decompressor for the next read. Memory is fixed (the
 *    two zlib streams and buffers of DEFLATE_BUF_SIZE), whatever the
 *    server sends: a tiny input that inflates to gigabytes only comes out
 *    `len` bytes at a time, for the protocol's own bounds to judge.
 *  - poll reports 1 when a read would return bytes without waiting for
 *    the network: decompressed bytes not yet read, and compressed bytes
 *    already received that decompress to something. Compressed bytes
 *    that decompress to nothing (an empty flush block) are consumed by
 *    poll, which then goes on waiting for the network.
 *  - A corrupt stream is an error (ERR_ACCOUNT) naming the peer and what
 *    zlib found; so is more than DEFLATE_EMPTY_INPUT_MAX bytes in a row
 *    that decompress to nothing. Every later read and poll repeats it.
 *  - The server ending its stream (a final block) reads as EOF.
 */
#ifndef TWINBOX_NET_DEFLATE_H
#define TWINBOX_NET_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/net/transport.h"
#include "twinbox/util/error.h"

#define DEFLATE_BUF_SIZE        16384
#define DEFLATE_EMPTY_INPUT_MAX (1024 * 1024)

/* Compress everything written to `inner` and decompress everything read
 * from it. `pending` (`pending_len` bytes, copied) were read from `inner`
 * already and are the first compressed bytes: what a server sent right
 * after its OK to COMPRESS. `peer` ("host:port", copied) names the server
 * in messages. Takes ownership of `inner` in every case (closed on
 * failure). Returns the transport, or NULL (ERR_ACCOUNT) when zlib cannot
 * start. */
struct transport *deflate_wrap(struct transport *inner, const void *pending, size_t pending_len,
                               const char *peer, struct error *err);

/* Bytes through a deflate transport so far: compressed bytes consumed
 * from the wire and what they decompressed to; bytes written and what
 * they compressed to. */
struct deflate_stats {
	uint64_t wire_in, plain_in;
	uint64_t plain_out, wire_out;
};

/* The counts of `t` if it was made by deflate_wrap (true), else false. */
bool deflate_get_stats(struct transport *t, struct deflate_stats *stats_r);

#endif
