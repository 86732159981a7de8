/* struct conn over the scripted transport: buffering, lines, STARTTLS,
 * COMPRESS. */
#include <criterion/criterion.h>
#include <string.h>

#include "test_deflate_support.h"
#include "twinbox/net/conn.h"
#include "twinbox/net/script.h"

static struct script *script;
static struct conn *conn;
static struct error err;
static struct buf line;

static void setup(void)
{
	script = script_new();
	conn = conn_from_transport(script_transport(script));
	error_clear(&err);
	buf_init(&line, 0);
}

static void teardown(void)
{
	conn_close(conn);
	script_free(script);
	buf_free(&line);
}

TestSuite(net_conn, .init = setup, .fini = teardown);

static void assert_lines(const char *const *want, size_t max)
{
	for (size_t i = 0; want[i]; i++) {
		cr_assert_eq(conn_readline(conn, &line, max, &err), 0, "line %zu: %s", i, err.text);
		cr_assert_str_eq(buf_cstr(&line), want[i], "line %zu", i);
	}
}

Test(net_conn, readline_strips_crlf_and_lf)
{
	static const char *const want[] = {"* OK ready", "bare lf", "", "last", NULL};
	const char *why = NULL;

	script_send(script, "* OK ready\r\nbare lf\n\r\nlast\r\n");
	assert_lines(want, 100);
	cr_assert_eq(conn_buffered(conn), 0);
	cr_assert(script_check(script, &why), "%s", why);
}

Test(net_conn, readline_byte_at_a_time)
{
	static const char *const want[] = {"* OK ready", "bare lf", "", "a CR\r inside", "last", NULL};

	script_set_chunk(script, 1);
	script_send(script, "* OK ready\r\nbare lf\n\r\na CR\r inside\r\nlast\r\n");
	assert_lines(want, 100);
}

Test(net_conn, readline_across_send_steps)
{
	static const char *const want[] = {"* OK split here", "x", NULL};

	script_send(script, "* OK sp");
	script_send(script, "lit here\r");
	script_send(script, "\nx\n");
	assert_lines(want, 100);
}

Test(net_conn, line_of_exactly_max_bytes_is_fine)
{
	static const char *const want[] = {"0123456789", "abcdefghij", NULL};

	script_set_chunk(script, 1);
	script_send(script, "0123456789\r\nabcdefghij\n");
	assert_lines(want, 10);
}

Test(net_conn, line_over_the_cap_is_an_error_naming_the_limit)
{
	script_send(script, "01234567890\r\n");
	cr_assert_eq(conn_readline(conn, &line, 10, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "longer than 10 bytes"), "got: %s", err.text);
}

Test(net_conn, endless_line_fails_without_waiting_for_its_end)
{
	/* The cap must trip on what arrived, not wait for a newline that
	 * may never come: the script has no more steps after these bytes. */
	script_set_chunk(script, 3);
	script_send(script, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	conn_set_peer(conn, "imap.example.com:993");
	cr_assert_eq(conn_readline(conn, &line, 16, &err), -1);
	cr_assert(strstr(err.text, "imap.example.com:993 sent a line longer than 16 bytes"), "got: %s",
	          err.text);
}

Test(net_conn, cr_then_more_text_counts_against_the_cap)
{
	script_send(script, "0123456789\rX\n");
	cr_assert_eq(conn_readline(conn, &line, 10, &err), -1);
	cr_assert(strstr(err.text, "longer than 10 bytes"), "got: %s", err.text);
}

Test(net_conn, line_buffer_limit_is_respected)
{
	buf_free(&line);
	buf_init(&line, 4);
	script_send(script, "123456\r\n");
	cr_assert_eq(conn_readline(conn, &line, 100, &err), -1);
	cr_assert(strstr(err.text, "longer than 4 bytes"), "got: %s", err.text);
}

Test(net_conn, eof_mid_line_is_an_error)
{
	script_send(script, "* OK incompl");
	script_close(script);
	cr_assert_eq(conn_readline(conn, &line, 100, &err), -1);
	cr_assert(strstr(err.text, "closed the connection in the middle of a line"), "got: %s", err.text);
}

Test(net_conn, eof_before_a_line_is_an_error)
{
	script_close(script);
	conn_set_peer(conn, "pop.example.net:995");
	cr_assert_eq(conn_readline(conn, &line, 100, &err), -1);
	cr_assert_str_eq(err.text, "pop.example.net:995 closed the connection");
}

Test(net_conn, transport_failure_reaches_the_caller)
{
	script_send(script, "* OK");
	script_fail(script, "connection reset");
	cr_assert_eq(conn_readline(conn, &line, 100, &err), -1);
	cr_assert_str_eq(err.text, "connection reset");
	cr_assert_eq(err.scope, ERR_ACCOUNT);
}

Test(net_conn, read_drains_the_buffer_before_the_transport)
{
	char got[64] = {0};
	const char *why = NULL;

	script_send(script, "* 3 FETCH {4}\r\nBODY");
	script_send(script, "REST");
	cr_assert_eq(conn_readline(conn, &line, 100, &err), 0);
	cr_assert_str_eq(buf_cstr(&line), "* 3 FETCH {4}");
	cr_assert_eq(conn_buffered(conn), 4);
	cr_assert_eq(conn_read(conn, got, sizeof(got), &err), 4, "only buffered bytes, no new read");
	cr_assert_str_eq(got, "BODY");
	cr_assert_eq(conn_buffered(conn), 0);
	memset(got, 0, sizeof(got));
	cr_assert_eq(conn_read(conn, got, 2, &err), 2);
	cr_assert_str_eq(got, "RE");
	cr_assert_eq(conn_buffered(conn), 2, "the rest of that read waits in the buffer");
	cr_assert_eq(conn_read(conn, got, sizeof(got), &err), 2);
	cr_assert(script_check(script, &why), "%s", why);
}

Test(net_conn, big_reads_return_every_byte_in_order)
{
	enum { N = 40000 };
	static char data[N], got[N];
	size_t have = 0;

	for (size_t i = 0; i < N; i++)
		data[i] = (char)('a' + i % 26);
	script_send(script, "x\r\n");
	script_send_bytes(script, data, N);
	script_close(script);
	cr_assert_eq(conn_readline(conn, &line, 10, &err), 0);
	while (have < N) {
		ssize_t n = conn_read(conn, got + have, N - have, &err);

		cr_assert_gt(n, 0, "%s", err.text);
		have += (size_t)n;
	}
	cr_assert_eq(memcmp(got, data, N), 0);
	cr_assert_eq(conn_read(conn, got, 1, &err), 0, "then EOF");
}

Test(net_conn, writes_reach_the_transport)
{
	const char *why = NULL;

	script_expect(script, "a1 CAPABILITY\r\n");
	script_expect(script, "a2 NOOP\r\n");
	cr_assert_eq(conn_write_str(conn, "a1 CAPABILITY\r\n", &err), 0, "%s", err.text);
	cr_assert_eq(conn_write(conn, "a2 NOOP\r\n", 9, &err), 0, "%s", err.text);
	cr_assert_eq(conn_write_str(conn, "a3 LOGOUT\r\n", &err), -1, "off-script write fails");
	cr_assert(strstr(err.text, "a3 LOGOUT"), "got: %s", err.text);
	cr_assert_not(script_check(script, &why));
}

Test(net_conn, wait_sees_buffered_bytes_first)
{
	char c;

	script_send(script, "a\r\nb");
	script_expect(script, "x");
	cr_assert_eq(conn_readline(conn, &line, 10, &err), 0);
	cr_assert_eq(conn_wait(conn, 1000, &err), 1, "\"b\" is buffered");
	cr_assert_eq(conn_read(conn, &c, 1, &err), 1);
	cr_assert_eq(c, 'b');
	cr_assert_eq(conn_wait(conn, 0, &err), 0, "nothing buffered, nothing sent");
}

Test(net_conn, plain_connection_says_so)
{
	cr_assert_not(conn_is_tls(conn));
	cr_assert_str_eq(conn_security(conn), "plain");
}

/* conn_starttls: the script cannot speak TLS, but it can show which bytes
 * the handshake saw. If the injected bytes reached the handshake it would
 * fail with "did not answer in TLS"; discarded, it sees a clean EOF. */
Test(net_conn, starttls_discards_buffered_bytes_before_the_handshake)
{
	struct tls_options tls = {.host = "imap.example.com",
	                          .port = 143,
	                          .fingerprint =
	                              "sha256:"
	                              "00"
	                              "112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"};
	size_t discarded = 99;
	char c;

	script_send(script, "a OK Begin TLS\r\nINJECTED\r\n");
	script_expect_any(script); /* the ClientHello */
	script_close(script);
	conn_set_peer(conn, "imap.example.com:143");
	cr_assert_eq(conn_readline(conn, &line, 100, &err), 0);
	cr_assert_eq(conn_buffered(conn), 10);
	cr_assert_eq(conn_starttls(conn, &tls, &discarded, &err), -1);
	cr_assert_eq(discarded, 10, "\"INJECTED\\r\\n\" is 10 bytes");
	cr_assert(strstr(err.text, "imap.example.com:143 closed the connection during the TLS handshake"),
	          "got: %s", err.text);
	cr_assert_eq(conn_buffered(conn), 0);
	cr_assert_eq(conn_read(conn, &c, 1, &err), -1, "unusable after a failed upgrade");
	cr_assert(strstr(err.text, "unusable"), "got: %s", err.text);
	cr_assert_eq(conn_write_str(conn, "a NOOP\r\n", &err), -1);
	cr_assert_not(conn_is_tls(conn));
}

Test(net_conn, starttls_fails_cleanly_on_garbage)
{
	struct tls_options tls = {.host = "127.0.0.1", .ca_file = NULL};
	size_t discarded = 99;

	script_send(script, "a OK\r\n");
	script_expect_any(script);
	script_send(script, "HTTP/1.1 400 Bad Request\r\n\r\n");
	cr_assert_eq(conn_readline(conn, &line, 100, &err), 0);
	cr_assert_eq(conn_starttls(conn, &tls, &discarded, &err), -1);
	cr_assert_eq(discarded, 0);
	cr_assert(strstr(err.text, "did not answer in TLS"), "got: %s", err.text);
	cr_assert(strstr(err.text, "`tls:`"), "the message points at the config key: %s", err.text);
}

/* conn_compress: the bytes read with the server's OK are the start of
 * its compressed stream; lines, waits and writes go on over deflate. */
Test(net_conn, compress_starts_with_the_bytes_already_buffered)
{
	struct zpeer server, mirror;
	struct buf wire = BUF_INIT, out = BUF_INIT;
	const char *why;

	zpeer_init(&server);
	zpeer_init(&mirror);
	buf_append_str(&wire, "a OK DEFLATE active\r\n");
	zpeer_deflate(&server, "* 1 EXISTS\r\n", 12, &wire);
	script_send_bytes(script, wire.data, wire.len);
	zpeer_deflate(&mirror, "b NOOP\r\n", 8, &out);
	script_expect_bytes(script, out.data, out.len);
	conn_set_peer(conn, "imap.example.com:143");
	cr_assert_eq(conn_readline(conn, &line, 100, &err), 0, "%s", err.text);
	cr_assert_str_eq(buf_cstr(&line), "a OK DEFLATE active");
	cr_assert_gt(conn_buffered(conn), 0, "compressed bytes came with the OK");
	cr_assert_eq(conn_compress(conn, &err), 0, "%s", err.text);
	cr_assert(conn_is_compressed(conn));
	cr_assert_not(conn_is_tls(conn));
	cr_assert_str_eq(conn_security(conn), "plain");
	cr_assert_eq(conn_buffered(conn), 0);
	cr_assert_eq(conn_wait(conn, 0, &err), 1, "the decompressor holds a line");
	cr_assert_eq(conn_readline(conn, &line, 100, &err), 0, "%s", err.text);
	cr_assert_str_eq(buf_cstr(&line), "* 1 EXISTS");
	cr_assert_eq(conn_wait(conn, 0, &err), 0, "nothing more");
	cr_assert_eq(conn_write_str(conn, "b NOOP\r\n", &err), 0, "%s", err.text);
	cr_assert(script_check(script, &why), "%s", why);
	zpeer_end(&server);
	zpeer_end(&mirror);
	buf_free(&wire);
	buf_free(&out);
}
