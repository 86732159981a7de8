/* TLS pieces over a scripted peer: fingerprints, setup failures, a peer
 * that does not speak TLS. Then reads of announced literals (`expect`)
 * from a GnuTLS server in a thread on loopback (test_net_tls_support.c),
 * the TLS forms of the tests in test_net_tcp.c. Handshakes with every
 * kind of certificate are in tests/integration/test_tls.c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/dovecot.h"
#include "test_net_tls.h"
#include "twinbox/imap/session.h"
#include "twinbox/net/conn.h"
#include "twinbox/net/script.h"
#include "twinbox/net/tls.h"

static const unsigned char want_fp[32] = {0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0x00, 0x11, 0x22,
                                          0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                                          0xee, 0xff, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78};

#define FP_COLONS                                                                                            \
	"AB:CD:EF:01:23:45:67:89:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:0F:1E:2D:3C:4B:5A:69:78"
#define FP_PLAIN "abcdef0123456789001122334455667788 99aabbccddeeff0f1e2d3c4b5a6978"

Test(net_tls, fingerprint_with_colons_upper_case)
{
	unsigned char fp[32];
	struct error err = {0};

	cr_assert_eq(tls_parse_fingerprint("sha256:" FP_COLONS, fp, &err), 0, "%s", err.text);
	cr_assert_eq(memcmp(fp, want_fp, 32), 0);
}

Test(net_tls, fingerprint_lower_case_without_colons)
{
	unsigned char fp[32];
	struct error err = {0};

	cr_assert_eq(tls_parse_fingerprint("SHA256:abcdef0123456789001122334455667788"
	                                   "99aabbccddeeff0f1e2d3c4b5a6978",
	                                   fp, &err),
	             0, "%s", err.text);
	cr_assert_eq(memcmp(fp, want_fp, 32), 0);
}

Test(net_tls, fingerprint_format_round_trips)
{
	char text[TLS_FINGERPRINT_TEXT_SIZE];
	unsigned char fp[32];
	struct error err = {0};

	tls_format_fingerprint(want_fp, text);
	cr_assert_str_eq(text, "sha256:" FP_COLONS);
	cr_assert_eq(tls_parse_fingerprint(text, fp, &err), 0, "%s", err.text);
	cr_assert_eq(memcmp(fp, want_fp, 32), 0);
}

static void assert_bad(const char *text, const char *why)
{
	unsigned char fp[32];
	struct error err = {0};

	cr_assert_eq(tls_parse_fingerprint(text, fp, &err), -1, "\"%s\" must be refused", text);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, why), "\"%s\": got: %s", text, err.text);
	cr_assert(strstr(err.text, "64 hex digits"), "the message shows the right form: %s", err.text);
}

Test(net_tls, fingerprint_bad_forms_are_refused_with_the_right_form)
{
	assert_bad("", "empty");
	assert_bad(FP_COLONS, "is not valid");
	assert_bad("sha1:AB:CD:EF:01:23:45:67:89:00:11:22:33:44:55:66:77:88:99:AA:BB", "weak hash");
	assert_bad("sha256:" FP_PLAIN, "' ' is not a hex digit");
	assert_bad("sha256:" FP_COLONS ":00", "more than 64");
	assert_bad("sha256:AB:CD", "4 hex digits, not 64");
	assert_bad("sha256:" FP_COLONS "G", "'G' is not a hex digit");
	/* one digit short */
	assert_bad("sha256:bcdef0123456789001122334455667788"
	           "99aabbccddeeff0f1e2d3c4b5a6978",
	           "63 hex digits");
}

Test(net_tls, describe_is_null_for_other_transports)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);

	cr_assert_null(tls_describe(t));
	cr_assert_null(tls_describe(NULL));
	transport_close(t);
	script_free(s);
}

/* Failures before the handshake send nothing: the script has no steps,
 * so any write would be recorded as off-script. */
Test(net_tls, unreadable_ca_file_fails_before_sending)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "imap.example.com", .ca_file = "/nonexistent/ca.pem"};
	struct error err = {0};
	const char *why = NULL;

	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "`ca_file: /nonexistent/ca.pem`"), "got: %s", err.text);
	cr_assert(strstr(err.text, "No such file"), "got: %s", err.text);
	cr_assert(script_check(s, &why), "%s", why);
	script_free(s);
}

Test(net_tls, ca_file_without_certificates_is_refused)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "imap.example.com", .ca_file = "/etc/hostname"};
	struct error err = {0};

	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "holds no usable certificate"), "got: %s", err.text);
	cr_assert(strstr(err.text, "PEM"), "got: %s", err.text);
	script_free(s);
}

Test(net_tls, bad_pin_fails_before_sending)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "imap.example.com", .fingerprint = "sha256:12"};
	struct error err = {0};

	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "`fingerprint: sha256:12` is not valid"), "got: %s", err.text);
	cr_assert(script_check(s, NULL));
	script_free(s);
}

Test(net_tls, missing_host_is_refused)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = NULL};
	struct error err = {0};

	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "`host:`"), "got: %s", err.text);
	script_free(s);
}

Test(net_tls, plain_text_server_is_reported_as_not_tls)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "mail.example.com", .port = 993};
	struct error err = {0};

	script_expect_any(s);
	script_send(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n");
	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "mail.example.com:993 did not answer in TLS"), "got: %s", err.text);
	cr_assert(strstr(err.text, "check `tls:` and `port:`"), "got: %s", err.text);
	script_free(s);
}

Test(net_tls, transport_failure_during_handshake_names_the_cause)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "mail.example.com", .port = 993};
	struct error err = {0};

	script_expect_any(s);
	script_fail(s, "mail.example.com:993 did not answer: timed out after 30 s waiting for data");
	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "TLS handshake with mail.example.com:993 failed"), "got: %s", err.text);
	cr_assert(strstr(err.text, "timed out after 30 s"), "got: %s", err.text);
	script_free(s);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void trickled_close(struct conn *c, struct tls_trickler *tr, struct tls_peer *p)
{
	conn_close(c);
	tls_trickler_join(tr);
	tls_trickler_free(tr);
	tls_peer_fini(p);
}

/* A server announces a literal of 100,000 bytes, sends 10 of them (one
 * record) and stalls: the bytes that came are read within a short wait
 * for more, not held back until the I/O timeout (3 s here) fails the
 * read. Both ways a read can go: through the connection's buffer and
 * straight into a large caller buffer. */
Test(net_tls, an_announced_literal_that_stalls_is_read_as_far_as_it_came)
{
	static const unsigned char text[] = "0123456789abcdefghij";
	static const size_t sends[] = {10};
	struct tls_peer p;
	struct tls_trickler tr = {.peer = &p,
	                          .data = text,
	                          .len = 20,
	                          .sends = sends,
	                          .nsends = 1,
	                          .pause_us = 50000,
	                          .stop_after = 10};
	static unsigned char big[128 * 1024];
	size_t sizes[2] = {100, sizeof(big)};
	struct error err = {0};
	struct conn *c;

	tls_peer_init(&p);
	tls_trickler_start(&tr);
	c = tls_peer_connect(&p, 3000);
	for (int round = 0; round < 2; round++) {
		long long start = now_ms(), took;
		ssize_t n;

		conn_expect(c, 100000 - 10 * (uint64_t)round);
		n = conn_read(c, big, sizes[round], &err);
		took = now_ms() - start;
		cr_assert_eq(n, 10, "round %d: %s", round, err.text);
		cr_assert_eq(memcmp(big, text + 10 * round, 10), 0, "round %d", round);
		cr_assert_lt(took, 2000, "round %d: %lld ms, as if waiting for the whole literal", round,
		             took);
		cr_log_info("round %d: the 10 bytes were read after %lld ms", round, took);
		if (round == 0)
			cr_assert_eq(conn_write(c, "g", 1, &err), 0, "%s", err.text);
	}
	trickled_close(c, &tr, &p);
}

/* Records of odd sizes, written in pieces of other odd sizes (most
 * records arrive split) with pauses. */
static const size_t odd_sends[] = {16384, 1, 7919, 3, 4095, 12007, 2, 9000, 517, 16383};
static const size_t odd_pieces[] = {1, 1448, 4095, 3, 9000, 517, 16384, 2, 7919, 65537};
static const size_t odd_reads[] = {1, 100, 16384, 70000, 5000, 65536, 4096, 131072, 17};

/* `len` bytes (data set by the caller) as odd_sends' records, written in
 * odd_pieces with short pauses. */
static struct tls_trickler odd_trickler(struct tls_peer *p, size_t len)
{
	return (struct tls_trickler){.peer = p,
	                             .len = len,
	                             .sends = odd_sends,
	                             .nsends = sizeof(odd_sends) / sizeof(odd_sends[0]),
	                             .pieces = odd_pieces,
	                             .npieces = sizeof(odd_pieces) / sizeof(odd_pieces[0]),
	                             .pause_us = 1500};
}

/* Read `len` bytes of a literal announced in full, announcing what is
 * still owed before each read of a size from odd_reads; compare them
 * with `want`. Returns the number of reads. */
static size_t read_literal(struct conn *c, const unsigned char *want, size_t len)
{
	unsigned char *got = malloc(131072);
	struct error err = {0};
	size_t pos = 0, k = 0;

	cr_assert_not_null(got);
	while (pos < len) {
		size_t n_want = odd_reads[k++ % (sizeof(odd_reads) / sizeof(odd_reads[0]))];
		ssize_t n;

		if (n_want > len - pos)
			n_want = len - pos;
		conn_expect(c, len - pos);
		n = conn_read(c, got, n_want, &err);
		cr_assert_gt(n, 0, "at byte %zu: %s", pos, err.text);
		cr_assert_leq((size_t)n, n_want);
		cr_assert_eq(memcmp(got, want + pos, (size_t)n), 0, "bytes %zu..%zu differ", pos,
		             pos + (size_t)n);
		pos += (size_t)n;
	}
	free(got);
	return k;
}

static void read_closing_line(struct conn *c)
{
	struct buf line = BUF_INIT;
	struct error err = {0};

	conn_expect(c, 0);
	cr_assert_eq(conn_readline(c, &line, 100, &err), 0, "%s", err.text);
	cr_assert_str_eq(buf_cstr(&line), ")");
	buf_free(&line);
}

/* A literal of 200,003 bytes announced and then sent in records of odd
 * sizes, split and paused on the wire, followed by the rest of the
 * response: read in reads of changing sizes, each after announcing what
 * is still owed, every byte arrives once and in order, and the line after
 * it is intact. */
Test(net_tls, an_announced_literal_sent_in_pieces_arrives_whole_and_in_order)
{
	enum { LEN = 200003, TAIL = 3 };
	unsigned char *want = malloc(LEN + TAIL);
	struct tls_peer p;
	struct tls_trickler tr = odd_trickler(&p, LEN + TAIL);
	long long start;
	size_t reads;
	struct conn *c;

	cr_assert_not_null(want);
	test_fill_pattern(want, LEN, 88172645u);
	memcpy(want + LEN, ")\r\n", TAIL);
	tr.data = want;
	tls_peer_init(&p);
	tls_trickler_start(&tr);
	c = tls_peer_connect(&p, 3000);
	start = now_ms();
	reads = read_literal(c, want, LEN);
	read_closing_line(c);
	cr_assert_lt(now_ms() - start, 2000);
	cr_log_info("%d bytes in %zu reads, %lld ms", LEN, reads, now_ms() - start);
	trickled_close(c, &tr, &p);
	free(want);
}

/* After a read that waited for many announced bytes at once (here the
 * first 40,000 of 100,000, sent in one piece of three records), waiting
 * with a timeout for what comes next still wakes at its first byte (a
 * record of one byte): in IMAP that byte may be all of an untagged
 * response, or the end of IDLE. */
Test(net_tls, waiting_after_a_bulk_read_wakes_at_the_first_byte)
{
	enum { FIRST = 40000 };
	static const size_t sends[] = {FIRST, 1};
	unsigned char *want = malloc(FIRST + 1), *got = malloc(FIRST);
	struct tls_peer p;
	struct tls_trickler tr = {.peer = &p,
	                          .len = FIRST + 1,
	                          .sends = sends,
	                          .nsends = 2,
	                          .pause_us = 50000,
	                          .stop_after = FIRST};
	struct error err = {0};
	size_t pos = 0;
	long long start;
	struct conn *c;
	char last;
	int r;

	cr_assert(want && got);
	test_fill_pattern(want, FIRST + 1, 88172645u);
	tr.data = want;
	tls_peer_init(&p);
	tls_trickler_start(&tr);
	c = tls_peer_connect(&p, 3000);
	conn_expect(c, 100000);
	while (pos < FIRST) {
		ssize_t n = conn_read(c, got + pos, FIRST - pos, &err);

		cr_assert_gt(n, 0, "at byte %zu: %s", pos, err.text);
		pos += (size_t)n;
	}
	cr_assert_eq(memcmp(got, want, FIRST), 0);
	cr_assert_eq(conn_write(c, "g", 1, &err), 0, "%s", err.text);
	start = now_ms();
	r = conn_wait(c, 1500, &err);
	cr_assert_eq(r, 1, "the byte that came went unseen (%s)", err.text);
	cr_log_info("woke %lld ms after asking", now_ms() - start);
	cr_assert_eq(conn_read(c, &last, 1, &err), 1, "%s", err.text);
	cr_assert_eq((unsigned char)last, want[FIRST]);
	trickled_close(c, &tr, &p);
	free(want);
	free(got);
}

/* Many small messages, each announced: the hint TLS passes to TCP is
 * never more than what is on its way, so no read waits (up to the
 * 100 ms of the bulk wait each, 3 s in all here) for bytes that are not
 * coming. */
Test(net_tls, a_run_of_small_announced_literals_is_not_held_up)
{
	enum { COUNT = 30, LEN = 9001 };
	unsigned char *body = malloc(LEN), *got = malloc(LEN);
	struct tls_peer p;
	struct tls_fetcher fe = {.peer = &p, .count = COUNT, .len = LEN};
	struct buf line = BUF_INIT;
	struct error err = {0};
	long long start, took;
	struct conn *c;

	cr_assert(body && got);
	test_fill_pattern(body, LEN, 88172645u);
	fe.body = body;
	tls_peer_init(&p);
	tls_fetcher_start(&fe);
	c = tls_peer_connect(&p, 5000);
	start = now_ms();
	for (int i = 0; i < COUNT; i++) {
		char want[64];
		size_t pos = 0;

		cr_assert_eq(conn_write(c, "n", 1, &err), 0, "%s", err.text);
		cr_assert_eq(conn_readline(c, &line, 100, &err), 0, "%s", err.text);
		snprintf(want, sizeof(want), "* %d FETCH (BODY[] {%d}", i + 1, LEN);
		cr_assert_str_eq(buf_cstr(&line), want);
		while (pos < LEN) {
			ssize_t n;

			conn_expect(c, LEN - pos);
			n = conn_read(c, got + pos, LEN - pos, &err);
			cr_assert_gt(n, 0, "message %d, byte %zu: %s", i, pos, err.text);
			pos += (size_t)n;
		}
		cr_assert_eq(memcmp(got, body, LEN), 0, "message %d", i);
		read_closing_line(c);
	}
	took = now_ms() - start;
	cr_log_info("%d messages in %lld ms", COUNT, took);
	cr_assert_lt(took, 2000, "%d messages took %lld ms: a read waited for bytes not owed", COUNT, took);
	conn_close(c);
	tls_fetcher_join(&fe);
	tls_peer_fini(&p);
	buf_free(&line);
	free(body);
	free(got);
}

/* What TLS tells TCP is owed: wire bytes, of which at least as many are
 * on their way as the hint says, and not many more. Read from the TLS
 * transport itself, in reads that often take part of a record: GnuTLS
 * then holds decrypted bytes (up to a record's 16 KB) that a hint must
 * not count as still to come. (Through a conn this never happens: it
 * always asks for a whole record's worth.) "Not many more": at most what
 * GnuTLS may hold and one more record, a TLS 1.2 record's worth each. */
#define RECORD_MAX_WIRE (5 + 16384 + 2048)

Test(net_tls, the_hint_to_tcp_counts_only_wire_bytes_still_to_come)
{
	enum { LEN = 200003, TAIL = 3 };
	unsigned char *want = malloc(LEN + TAIL), *got = malloc(131072);
	static struct tls_spy spy;
	static size_t at[TLS_SPY_HINTS]; /* literal bytes read when hint i was made */
	struct tls_peer p;
	struct tls_trickler tr = odd_trickler(&p, LEN + TAIL);
	struct error err = {0};
	size_t pos = 0, k = 0, end, most_held = 0;
	struct transport *t;

	cr_assert(want && got);
	test_fill_pattern(want, LEN, 88172645u);
	memcpy(want + LEN, ")\r\n", TAIL);
	tr.data = want;
	tls_peer_init(&p);
	tls_trickler_start(&tr);
	t = tls_peer_connect_spied(&p, 3000, &spy);
	while (pos < LEN + TAIL) {
		size_t len = odd_reads[k++ % (sizeof(odd_reads) / sizeof(odd_reads[0]))];
		ssize_t n;

		if (len > LEN + TAIL - pos)
			len = LEN + TAIL - pos;
		at[spy.nhints] = pos;
		transport_expect(t, pos < LEN ? LEN - pos : 0);
		n = transport_read(t, got, len, &err);
		cr_assert_gt(n, 0, "at byte %zu: %s", pos, err.text);
		cr_assert_eq(memcmp(got, want + pos, (size_t)n), 0, "bytes %zu..%zu differ", pos,
		             pos + (size_t)n);
		pos += (size_t)n;
	}
	transport_close(t);
	tls_trickler_join(&tr);
	end = tls_trickler_wire_through(&tr, LEN);
	cr_assert_eq(spy.nhints, k);
	for (size_t i = 0; i < spy.nhints; i++) {
		uint64_t hint = spy.hints[i].bytes, read = spy.hints[i].read,
		         owed = read < end ? end - read : 0;
		size_t held = tls_trickler_plain_within(&tr, read) - at[i];

		if (held > most_held)
			most_held = held;
		cr_assert_leq(hint, owed,
		              "hint %zu: %llu bytes, but only %llu are on their way (GnuTLS held %zu)", i,
		              (unsigned long long)hint, (unsigned long long)owed, held);
		if (owed > 2 * RECORD_MAX_WIRE)
			cr_assert_geq(hint + 2 * RECORD_MAX_WIRE, owed,
			              "hint %zu: %llu bytes, though %llu are on their way", i,
			              (unsigned long long)hint, (unsigned long long)owed);
	}
	cr_assert_gt(most_held, 10000, "GnuTLS never held much when a hint was made (%zu bytes at most)",
	             most_held);
	cr_log_info("%zu hints; GnuTLS held up to %zu bytes", spy.nhints, most_held);
	tls_trickler_free(&tr);
	tls_peer_fini(&p);
	free(want);
	free(got);
}

/* A server that sends the greeting's first part in one record, then half
 * of the next record's wire bytes, and hangs up (no close_notify). */
struct cut_server {
	struct tls_peer *peer;
	bool ok;
	pthread_t th;
};

static void *cut_mid_record(void *arg)
{
	static const char first[] = "* OK [CAPABILITY IMAP4rev1] hel", second[] = "lo there\r\n";
	struct cut_server *cs = arg;
	struct tls_peer_link l;
	size_t w1;

	if (tls_peer_accept(cs->peer, &l) < 0)
		return NULL;
	if (tls_peer_seal(&l, first, strlen(first)) == 0) {
		w1 = l.sealed_len;
		if (tls_peer_seal(&l, second, strlen(second)) == 0 &&
		    tls_peer_write_wire(&l, l.sealed, w1 + (l.sealed_len - w1) / 2) == 0)
			cs->ok = true;
	}
	tls_peer_close(&l);
	return NULL;
}

/* Cut in the middle of a TLS record, the connection reads as closed by
 * the server, as in plain text: the user is told the server closed the
 * connection in the middle of a response, not of a TLS decoding error. */
Test(net_tls, a_connection_cut_in_the_middle_of_a_record_reads_as_closed)
{
	struct tls_peer p;
	struct cut_server cs = {.peer = &p};
	struct imap_session_options o = {
	    .conn.host = "127.0.0.1", .conn.tls = TLS_IMPLICIT, .user = "u", .password = "pw"};
	struct imap_session *s;
	struct error err = {0};

	tls_peer_init(&p);
	o.conn.port = p.port;
	cr_assert_eq(pthread_create(&cs.th, NULL, cut_mid_record, &cs), 0);
	s = imap_session_new(tls_peer_connect(&p, 3000), &o);
	cr_assert_eq(imap_session_open(s, &err), -1);
	pthread_join(cs.th, NULL);
	cr_assert(cs.ok, "the server did not send its part");
	cr_assert(strstr(err.text, "127.0.0.1:"), "%s", err.text);
	cr_assert(strstr(err.text, "closed the connection unexpectedly in the middle of a response"), "%s",
	          err.text);
	cr_assert_null(strstr(err.text, "TLS error"), "%s", err.text);
	imap_session_free(s);
	tls_peer_fini(&p);
}
