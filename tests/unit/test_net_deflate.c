/*
 * The deflate transport (COMPRESS=DEFLATE, RFC 4978) over the scripted
 * peer and over a loopback: input in any chunking, bytes handed over at
 * the switch, what poll sees, flushed writes, corrupt streams, and a
 * large round trip.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "test_deflate_support.h"
#include "twinbox/net/deflate.h"
#include "twinbox/net/script.h"
#include "twinbox/util/xmalloc.h"

static struct script *sc;
static struct transport *t;
static struct zpeer peer;
static struct error err;

static void setup(void)
{
	sc = script_new();
	zpeer_init(&peer);
	error_clear(&err);
}

static void teardown(void)
{
	transport_close(t);
	t = NULL;
	script_free(sc);
	zpeer_end(&peer);
}

TestSuite(net_deflate, .init = setup, .fini = teardown);

static void wrap_script(const void *pending, size_t len)
{
	t = deflate_wrap(script_transport(sc), pending, len, "imap.test:993", &err);
	cr_assert_not_null(t, "%s", err.text);
}

/* Text that compresses (repeated lines) and bytes that do not (a
 * pseudo-random pattern), `len` bytes in all. */
static unsigned char *mixed_data(size_t len)
{
	unsigned char *p = xmalloc(len);

	for (size_t off = 0; off < len;) {
		size_t n = len - off < 5000 ? len - off : 5000;

		if ((off / 5000) % 2)
			test_fill_pattern(p + off, n, (uint32_t)off);
		else
			for (size_t i = 0; i < n; i++)
				p[off + i] = "* 1 FETCH (FLAGS (\\Seen))\r\n"[(off + i) % 27];
		off += n;
	}
	return p;
}

/* Read from `t` with reads of at most `step` bytes until `want` bytes
 * came; they must be `expect`. */
static void read_exactly(const unsigned char *expect, size_t want, size_t step)
{
	unsigned char *got = xmalloc(want + 1);
	size_t have = 0;

	while (have < want) {
		size_t ask = want - have < step ? want - have : step;
		ssize_t n = transport_read(t, got + have, ask, &err);

		cr_assert_gt(n, 0, "read after %zu of %zu bytes: %zd %s", have, want, n, err.text);
		cr_assert_leq((size_t)n, ask, "a read never returns more than asked");
		have += (size_t)n;
	}
	/* (An empty buffer's data may be NULL: nothing to compare.) */
	cr_assert(want == 0 || memcmp(got, expect, want) == 0, "the decompressed bytes differ");
	free(got);
}

/* Two server responses, compressed as two flushed writes. */
static void send_two_responses(struct buf *plain)
{
	static const char *const lines[] = {"* 3 EXISTS\r\n", "A4 OK [READ-WRITE] SELECT completed\r\n"};
	struct buf z = BUF_INIT;

	for (int i = 0; i < 2; i++) {
		buf_append_str(plain, lines[i]);
		zpeer_deflate(&peer, lines[i], strlen(lines[i]), &z);
	}
	script_send_bytes(sc, z.data, z.len);
	buf_free(&z);
}

Test(net_deflate, reads_compressed_input_one_byte_at_a_time)
{
	struct buf plain = BUF_INIT;

	send_two_responses(&plain);
	script_set_chunk(sc, 1);
	wrap_script(NULL, 0);
	read_exactly((const unsigned char *)plain.data, plain.len, 1);
	read_exactly(NULL, 0, 1);
	buf_free(&plain);
}

Test(net_deflate, reads_a_megabyte_in_large_chunks)
{
	size_t len = 1024 * 1024;
	unsigned char *data = mixed_data(len);
	struct buf z = BUF_INIT;

	zpeer_deflate(&peer, data, len, &z);
	cr_assert_lt(z.len, len, "the test data should compress");
	script_send_bytes(sc, z.data, z.len);
	script_close(sc);
	wrap_script(NULL, 0);
	read_exactly(data, len, 64 * 1024);
	{
		char c;
		cr_assert_eq(transport_read(t, &c, 1, &err), 0, "the peer's close reads as EOF");
	}
	free(data);
	buf_free(&z);
}

Test(net_deflate, chunking_of_input_and_of_reads_does_not_matter)
{
	size_t len = 200 * 1024;
	unsigned char *data = mixed_data(len);
	struct buf z = BUF_INIT;
	static const size_t in_chunks[] = {1, 7, 4096, 0};
	static const size_t reads[] = {3, 1000, 100000};

	zpeer_deflate(&peer, data, len / 2, &z);
	zpeer_deflate(&peer, data + len / 2, len - len / 2, &z);
	for (size_t i = 0; i < sizeof(in_chunks) / sizeof(in_chunks[0]); i++) {
		for (size_t j = 0; j < sizeof(reads) / sizeof(reads[0]); j++) {
			script_free(sc);
			transport_close(t);
			sc = script_new();
			script_send_bytes(sc, z.data, z.len);
			script_set_chunk(sc, in_chunks[i]);
			wrap_script(NULL, 0);
			read_exactly(data, len, reads[j]);
		}
	}
	free(data);
	buf_free(&z);
}

/* What a server sent right after its OK was read with the OK: it is the
 * start of the compressed stream and comes out first. */
Test(net_deflate, pending_bytes_are_the_start_of_the_stream)
{
	const char *text = "* 3 EXISTS\r\nA4 OK [READ-WRITE] SELECT completed\r\n";
	struct buf z = BUF_INIT;
	size_t split;

	zpeer_deflate(&peer, text, strlen(text), &z);
	split = z.len / 2;
	script_send_bytes(sc, z.data + split, z.len - split);
	wrap_script(z.data, split);
	read_exactly((const unsigned char *)text, strlen(text), 5);
	buf_free(&z);
}

/* IMAP IDLE waits with poll: bytes already inflated but unread, and
 * compressed bytes received but not inflated, are both "readable"; a
 * flush block that inflates to nothing is not. The script has no steps,
 * so any look at the network would fail a non-zero wait. */
Test(net_deflate, poll_sees_what_the_decompressor_holds)
{
	const char *text = "* 2 EXISTS\r\n";
	struct buf z = BUF_INIT;
	char got[64];

	zpeer_deflate(&peer, text, strlen(text), &z);
	wrap_script(z.data, z.len);
	cr_assert_eq(transport_poll(t, 0, &err), 1, "received compressed bytes are readable");
	cr_assert_eq(transport_read(t, got, 2, &err), 2, "%s", err.text);
	cr_assert_eq(transport_poll(t, 0, &err), 1, "inflated bytes not yet read are readable");
	cr_assert_eq(transport_read(t, got + 2, sizeof(got) - 2, &err), (ssize_t)strlen(text) - 2);
	cr_assert_eq(memcmp(got, text, strlen(text)), 0);
	cr_assert_eq(transport_poll(t, 0, &err), 0, "nothing held, nothing sent: %s", err.text);
	buf_free(&z);

	/* An empty flush block only: consumed by the check, nothing to read. */
	transport_close(t);
	wrap_script("\x00\x00\x00\xff\xff", 5);
	cr_assert_eq(transport_poll(t, 0, &err), 0, "an empty block is nothing to read");
}

Test(net_deflate, poll_waits_through_empty_blocks_for_real_data)
{
	const char *text = "* 5 EXPUNGE\r\n";
	struct buf z = BUF_INIT;

	script_send_bytes(sc, "\x00\x00\x00\xff\xff", 5);
	zpeer_deflate(&peer, text, strlen(text), &z);
	script_send_bytes(sc, z.data, z.len);
	wrap_script(NULL, 0);
	cr_assert_eq(transport_poll(t, 1000, &err), 1, "%s", err.text);
	read_exactly((const unsigned char *)text, strlen(text), 100);
	buf_free(&z);
}

Test(net_deflate, corrupt_stream_is_a_clear_error_and_stays_one)
{
	char got[16];

	/* 0x07: a final block of the reserved type 3. */
	script_send_bytes(sc, "\x07garbage", 8);
	wrap_script(NULL, 0);
	cr_assert_eq(transport_read(t, got, sizeof(got), &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "imap.test:993 sent a corrupt compressed stream"), "%s", err.text);
	cr_assert(strstr(err.text, "invalid block type"), "zlib's finding is shown: %s", err.text);
	cr_assert(strstr(err.text, "compress: false"), "the way out is named: %s", err.text);
	error_clear(&err);
	cr_assert_eq(transport_poll(t, 0, &err), -1);
	cr_assert(strstr(err.text, "corrupt compressed stream"), "%s", err.text);
	error_clear(&err);
	cr_assert_eq(transport_read(t, got, sizeof(got), &err), -1);
	cr_assert(strstr(err.text, "corrupt compressed stream"), "%s", err.text);
}

Test(net_deflate, endless_input_that_inflates_to_nothing_is_refused)
{
	size_t n = DEFLATE_EMPTY_INPUT_MAX / 5 + 2;
	unsigned char *empties = xmalloc(n * 5);
	char got[16];

	for (size_t i = 0; i < n; i++)
		memcpy(empties + i * 5, "\x00\x00\x00\xff\xff", 5);
	script_send_bytes(sc, empties, n * 5);
	wrap_script(NULL, 0);
	cr_assert_eq(transport_read(t, got, sizeof(got), &err), -1);
	cr_assert(strstr(err.text, "decompresses to nothing"), "%s", err.text);
	free(empties);
}

Test(net_deflate, stream_end_reads_as_eof)
{
	const char *text = "* BYE\r\n";
	z_stream zs = {0};
	unsigned char out[64];

	cr_assert_eq(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)text;
	zs.avail_in = (uInt)strlen(text);
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	script_send_bytes(sc, out, sizeof(out) - zs.avail_out);
	deflateEnd(&zs);
	wrap_script(NULL, 0);
	read_exactly((const unsigned char *)text, strlen(text), 64);
	cr_assert_eq(transport_poll(t, 0, &err), 1, "EOF is readable");
	cr_assert_eq(transport_read(t, out, sizeof(out), &err), 0);
}

/* Each write is whole on the wire when it returns: what the script
 * expects is what an independent deflater makes of the same writes. */
Test(net_deflate, each_write_is_flushed)
{
	struct zpeer mirror;
	struct buf z1 = BUF_INIT, z2 = BUF_INIT;
	const char *why;

	zpeer_init(&mirror);
	zpeer_deflate(&mirror, "A5 NOOP\r\n", 9, &z1);
	zpeer_deflate(&mirror, "A6 IDLE\r\n", 9, &z2);
	cr_assert(z1.len > 4 && memcmp(z1.data + z1.len - 4, "\x00\x00\xff\xff", 4) == 0,
	          "a sync flush ends with an empty stored block");
	script_expect_bytes(sc, z1.data, z1.len);
	script_expect_bytes(sc, z2.data, z2.len);
	wrap_script(NULL, 0);
	cr_assert_eq(transport_write(t, "A5 NOOP\r\n", 9, &err), 0, "%s", err.text);
	cr_assert_eq(transport_write(t, "A6 IDLE\r\n", 9, &err), 0, "%s", err.text);
	cr_assert(script_check(sc, &why), "%s", why);
	zpeer_end(&mirror);
	buf_free(&z1);
	buf_free(&z2);
}

/* ---- loopback: what is written comes back to be read --------------- */

struct loopback {
	struct transport base;
	struct buf data;
	size_t pos;
};

static ssize_t loop_read(struct transport *lt, void *data, size_t len, struct error *e)
{
	struct loopback *l = (struct loopback *)lt;
	size_t n = l->data.len - l->pos;

	(void)e;
	if (n > len)
		n = len;
	memcpy(data, l->data.data + l->pos, n);
	l->pos += n;
	return (ssize_t)n;
}

static int loop_write(struct transport *lt, const void *data, size_t len, struct error *e)
{
	(void)e;
	buf_append(&((struct loopback *)lt)->data, data, len);
	return 0;
}

static int loop_poll(struct transport *lt, int timeout_ms, struct error *e)
{
	struct loopback *l = (struct loopback *)lt;

	(void)timeout_ms;
	(void)e;
	return l->pos < l->data.len;
}

static void loop_close(struct transport *lt)
{
	buf_free(&((struct loopback *)lt)->data);
	free(lt);
}

static const struct transport_ops loop_ops = {
    .name = "loopback", .read = loop_read, .write = loop_write, .poll = loop_poll, .close = loop_close};

Test(net_deflate, round_trip_of_eight_megabytes)
{
	size_t len = 8 * 1024 * 1024, off = 0, piece = 1;
	unsigned char *data = mixed_data(len);
	struct loopback *l = xcalloc(1, sizeof(*l));
	struct deflate_stats st;
	struct buf check = BUF_INIT;

	l->base.ops = &loop_ops;
	t = deflate_wrap(&l->base, NULL, 0, "loopback", &err);
	cr_assert_not_null(t, "%s", err.text);
	/* Writes of every size from 1 byte to megabytes. */
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;

		cr_assert_eq(transport_write(t, data + off, n, &err), 0, "%s", err.text);
		off += n;
		piece = piece * 3 + 1;
	}
	cr_assert_lt(l->data.len, len, "mixed data should shrink");
	zpeer_inflate(&peer, l->data.data, l->data.len, &check);
	cr_assert_eq(check.len, len, "an independent inflater reads what was written");
	cr_assert_eq(memcmp(check.data, data, len), 0);
	read_exactly(data, len, 100 * 1000);
	cr_assert(deflate_get_stats(t, &st));
	cr_assert_eq(st.plain_out, len);
	cr_assert_eq(st.wire_out, l->data.len);
	cr_assert_eq(st.plain_in, len);
	cr_assert_eq(st.wire_in, l->data.len);
	{
		struct transport *plain = script_transport(sc);

		cr_assert_not(deflate_get_stats(plain, &st), "a script is no deflate transport");
		transport_close(plain);
	}
	free(data);
	buf_free(&check);
}
