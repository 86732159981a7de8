/*
 * DEFLATE over an inner transport, for IMAP COMPRESS=DEFLATE (RFC 4978).
 * zlib is the reference implementation of RFC 1951, which RFC 4978
 * requires; raw streams (negative windowBits) carry no zlib header.
 *
 * Decompressed bytes reach the caller in two ways: a read inflates
 * straight into the caller's memory; a poll that must know whether a
 * read would find anything inflates into `stage`, which the next read
 * hands out first. Both counts of "readable" (staged bytes and received
 * compressed ones) are therefore seen by poll, so IMAP IDLE never sleeps
 * on a response that already arrived.
 */
#define ZLIB_CONST
#include "twinbox/net/deflate.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "net_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* zlib's own default memLevel (its DEF_MEM_LEVEL is not exported). */
#define DEFLATE_MEM_LEVEL 8

struct deflate_transport {
	struct transport base;
	struct transport *inner;
	char *peer;
	z_stream in;  /* inflates what the server sends */
	z_stream out; /* deflates what we send */
	bool in_ready, out_ready;
	unsigned char *ibuf; /* compressed bytes read from inner; in.next_in points into it */
	size_t ibuf_size;
	unsigned char obuf[DEFLATE_BUF_SIZE];
	unsigned char stage[DEFLATE_BUF_SIZE]; /* inflated by poll, not read yet */
	size_t stage_pos, stage_len;
	bool out_full;     /* the last inflate filled its output: it may hold more */
	bool eof;          /* the stream ended or the inner transport closed */
	uint64_t empty_in; /* compressed bytes in a row that gave nothing */
	bool failed;
	struct error fail_err; /* repeated by every read and poll once failed */
};

static const struct transport_ops deflate_ops;

/* zlib allocates through the xmalloc family: exhaustion aborts here as
 * everywhere else, and Z_MEM_ERROR never comes back. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return xcalloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	free(p);
}

static int repeat_failure(struct deflate_transport *dt, struct error *err)
{
	if (err)
		*err = dt->fail_err;
	return -1;
}

static int corrupt(struct deflate_transport *dt, const char *why, struct error *err)
{
	dt->failed = true;
	error_set(&dt->fail_err, ERR_ACCOUNT,
	          "%s sent a corrupt compressed stream (COMPRESS=DEFLATE: %s); `compress: false` turns "
	          "compression off for this server",
	          dt->peer, why);
	return repeat_failure(dt, err);
}

/* Inflate held input into `out` (at most `len` bytes): the number of
 * bytes produced, 0 when the held input makes none (it is then all
 * consumed, or the stream ended), -1 when the stream is corrupt. */
static ssize_t inflate_into(struct deflate_transport *dt, unsigned char *out, size_t len, struct error *err)
{
	uInt before;
	size_t made;
	int rc;

	if (dt->eof || (dt->in.avail_in == 0 && !dt->out_full))
		return 0;
	if (len > UINT_MAX)
		len = UINT_MAX;
	before = dt->in.avail_in;
	dt->in.next_out = out;
	dt->in.avail_out = (uInt)len;
	rc = inflate(&dt->in, Z_SYNC_FLUSH);
	made = len - dt->in.avail_out;
	dt->out_full = dt->in.avail_out == 0;
	switch (rc) {
	case Z_OK:
	case Z_BUF_ERROR: /* no progress possible: more input needed */
		break;
	case Z_STREAM_END:
		dt->eof = true;
		dt->out_full = false;
		break;
	default:
		return corrupt(dt, dt->in.msg ? dt->in.msg : zError(rc), err);
	}
	if (made > 0) {
		dt->empty_in = 0;
		return (ssize_t)made;
	}
	dt->empty_in += before - dt->in.avail_in;
	if (dt->empty_in > DEFLATE_EMPTY_INPUT_MAX)
		return corrupt(dt, "over 1 MiB of input that decompresses to nothing", err);
	return 0;
}

/* Read compressed bytes from the inner transport (the held input is all
 * consumed when this is called). >0, 0 at EOF, -1 on error. */
static ssize_t fill(struct deflate_transport *dt, struct error *err)
{
	ssize_t n = transport_read(dt->inner, dt->ibuf, dt->ibuf_size, err);

	if (n > 0) {
		dt->in.next_in = dt->ibuf;
		dt->in.avail_in = (uInt)n;
	} else if (n == 0) {
		dt->eof = true;
	}
	return n;
}

static ssize_t deflate_read(struct transport *t, void *data, size_t len, struct error *err)
{
	struct deflate_transport *dt = (struct deflate_transport *)t;

	if (dt->failed)
		return repeat_failure(dt, err);
	if (dt->stage_pos < dt->stage_len) {
		size_t n = dt->stage_len - dt->stage_pos;

		if (n > len)
			n = len;
		memcpy(data, dt->stage + dt->stage_pos, n);
		dt->stage_pos += n;
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t n = inflate_into(dt, data, len, err);

		if (n != 0)
			return n;
		if (dt->eof)
			return 0;
		n = fill(dt, err);
		if (n <= 0)
			return n;
	}
}

static int deflate_write(struct transport *t, const void *data, size_t len, struct error *err)
{
	struct deflate_transport *dt = (struct deflate_transport *)t;
	const unsigned char *p = data;

	while (len > 0) {
		uInt piece = len > UINT_MAX ? UINT_MAX : (uInt)len;
		int flush = piece == len ? Z_SYNC_FLUSH : Z_NO_FLUSH;

		dt->out.next_in = p;
		dt->out.avail_in = piece;
		do {
			size_t have;

			dt->out.next_out = dt->obuf;
			dt->out.avail_out = sizeof(dt->obuf);
			if (deflate(&dt->out, flush) == Z_STREAM_ERROR)
				return error_set(err, ERR_ACCOUNT, "compressing for %s failed", dt->peer);
			have = sizeof(dt->obuf) - dt->out.avail_out;
			if (have > 0 && transport_write(dt->inner, dt->obuf, have, err) < 0)
				return -1;
		} while (dt->out.avail_out == 0);
		p += piece;
		len -= piece;
	}
	return 0;
}

static int deflate_poll(struct transport *t, int timeout_ms, struct error *err)
{
	struct deflate_transport *dt = (struct deflate_transport *)t;
	long long deadline = net_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	if (dt->failed)
		return repeat_failure(dt, err);
	for (;;) {
		int wait = timeout_ms, r;
		ssize_t n;

		if (dt->stage_pos < dt->stage_len || dt->eof)
			return 1;
		n = inflate_into(dt, dt->stage, sizeof(dt->stage), err);
		if (n < 0)
			return -1;
		if (n > 0) {
			dt->stage_pos = 0;
			dt->stage_len = (size_t)n;
			return 1;
		}
		if (dt->eof)
			return 1;
		if (timeout_ms > 0) {
			long long left = deadline - net_now_ms();

			wait = left > 0 ? (int)left : 0;
		}
		r = transport_poll(dt->inner, wait, err);
		if (r <= 0)
			return r;
		if (fill(dt, err) < 0)
			return -1;
	}
}

static void deflate_free(struct deflate_transport *dt)
{
	if (dt->in_ready)
		inflateEnd(&dt->in);
	if (dt->out_ready)
		deflateEnd(&dt->out);
	transport_close(dt->inner);
	free(dt->ibuf);
	free(dt->peer);
	free(dt);
}

static void deflate_close(struct transport *t)
{
	struct deflate_transport *dt = (struct deflate_transport *)t;

	log_debug("COMPRESS=DEFLATE with %s: received %llu bytes for %llu, sent %llu for %llu", dt->peer,
	          (unsigned long long)dt->in.total_in, (unsigned long long)dt->in.total_out,
	          (unsigned long long)dt->out.total_out, (unsigned long long)dt->out.total_in);
	deflate_free(dt);
}

/* No `expect`: how many compressed bytes a literal of n bytes takes is
 * unknown, and a hint that is too large would make the inner transport
 * wait for bytes that never come. */
static const struct transport_ops deflate_ops = {
    .name = "deflate",
    .read = deflate_read,
    .write = deflate_write,
    .poll = deflate_poll,
    .close = deflate_close,
};

struct transport *deflate_wrap(struct transport *inner, const void *pending, size_t pending_len,
                               const char *peer, struct error *err)
{
	struct deflate_transport *dt = xcalloc(1, sizeof(*dt));
	int rc;

	dt->base.ops = &deflate_ops;
	dt->inner = inner;
	dt->peer = xstrdup(peer ? peer : "the server");
	dt->ibuf_size = pending_len > DEFLATE_BUF_SIZE ? pending_len : DEFLATE_BUF_SIZE;
	dt->ibuf = xmalloc(dt->ibuf_size);
	dt->in.zalloc = dt->out.zalloc = z_alloc;
	dt->in.zfree = dt->out.zfree = z_free;
	rc = inflateInit2(&dt->in, -MAX_WBITS);
	dt->in_ready = rc == Z_OK;
	if (rc == Z_OK)
		rc = deflateInit2(&dt->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, DEFLATE_MEM_LEVEL,
		                  Z_DEFAULT_STRATEGY);
	dt->out_ready = dt->in_ready && rc == Z_OK;
	if (rc != Z_OK) {
		error_set(err, ERR_ACCOUNT, "cannot start compression with %s: zlib %s says %s", dt->peer,
		          zlibVersion(), zError(rc));
		deflate_free(dt);
		return NULL;
	}
	if (pending_len > 0)
		memcpy(dt->ibuf, pending, pending_len);
	dt->in.next_in = dt->ibuf;
	dt->in.avail_in = (uInt)pending_len;
	return &dt->base;
}

bool deflate_get_stats(struct transport *t, struct deflate_stats *stats_r)
{
	struct deflate_transport *dt = (struct deflate_transport *)t;

	if (!t || t->ops != &deflate_ops)
		return false;
	stats_r->wire_in = dt->in.total_in;
	stats_r->plain_in = dt->in.total_out;
	stats_r->plain_out = dt->out.total_in;
	stats_r->wire_out = dt->out.total_out;
	return true;
}
