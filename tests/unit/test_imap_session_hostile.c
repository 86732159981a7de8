/*
 * IMAP session against a hostile or broken server: every case ends in a
 * clear ERR_ACCOUNT error (the session is over) and never in a crash.
 */
#include "test_imap_session_support.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "twinbox/net/tcp.h"
#include "twinbox/util/xmalloc.h"

TestSuite(imap_hostile, .fini = stop_session);

static void assert_session_over(void)
{
	struct error e2;

	cr_assert_eq(err.scope, ERR_ACCOUNT, "scope %s: %s", err_scope_name(err.scope), err.text);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_LOGOUT);
	/* and every later call says so, without touching the wire */
	cr_assert_eq(imap_noop(s, &e2), -1);
	cr_assert_eq(e2.scope, ERR_ACCOUNT);
}

static int body_sink(void *ctx, const void *data, size_t len, struct error *e)
{
	(void)ctx;
	(void)data;
	(void)len;
	(void)e;
	return 0;
}

static void fetch_one(int expect_rc)
{
	struct imap_body_handler h = {.chunk = body_sink};
	uint32_t uid = 1;

	cr_assert_eq(imap_fetch_bodies(s, &uid, 1, &h, NULL, &err), expect_rc, "%s", err.text);
}

Test(imap_hostile, literal_announcing_4_gb)
{
	login_basic();
	select_basic("INBOX", 1);
	script_expect(sc, "A3 UID FETCH 1 (UID FLAGS BODY.PEEK[])\r\n");
	script_send(sc, "* 1 FETCH (UID 1 BODY[] {4294967296}\r\n");
	script_send(sc, "aaaa");
	fetch_one(-1);
	cr_assert(
	    strstr(err.text, "UID FETCH 1 (UID FLAGS BODY.PEEK[]): malformed response from mail.test:143"),
	    "%s", err.text);
	cr_assert(strstr(err.text, "4294967296"), "%s", err.text);
	assert_session_over();
}

/* Before login nothing legitimately streams: a server that keeps
 * sending untagged lines instead of answering is cut off, not waited
 * for forever. */
Test(imap_hostile, endless_untagged_lines_before_login)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK hi\r\n");
	script_expect(sc, "A1 CAPABILITY\r\n");
	for (int i = 0; i < 1001; i++)
		script_send(sc, "* OK still here\r\n");
	script_send(sc, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA1 OK done\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert(strstr(err.text, "mail.test:143 sent more than 1000 untagged responses before login"), "%s",
	          err.text);
	assert_session_over();
}

Test(imap_hostile, ten_megabyte_line)
{
	size_t n = 10 * 1024 * 1024;
	char *line = xmalloc(n + 1);

	memset(line, 'A', n);
	line[n] = '\0';
	memcpy(line, "* OK ", 5);
	login_basic();
	script_expect(sc, "A2 NOOP\r\n");
	script_send_bytes(sc, line, n);
	script_send(sc, "\r\nA2 OK noop\r\n");
	cr_assert_eq(imap_noop(s, &err), -1);
	cr_assert(strstr(err.text, "malformed response"), "%s", err.text);
	cr_assert(strstr(err.text, "longer than"), "%s", err.text);
	assert_session_over();
	free(line);
}

Test(imap_hostile, hundred_thousand_nested_parentheses)
{
	size_t depth = 100000;
	struct buf b = BUF_INIT;

	buf_append_str(&b, "* 1 FETCH (UID 1 X-THING ");
	for (size_t i = 0; i < depth; i++)
		buf_append_byte(&b, '(');
	for (size_t i = 0; i < depth; i++)
		buf_append_byte(&b, ')');
	buf_append_str(&b, ")\r\nA3 OK done\r\n");
	login_basic();
	select_basic("INBOX", 1);
	script_expect(sc, "A3 UID FETCH 1 (UID FLAGS BODY.PEEK[])\r\n");
	script_send_bytes(sc, b.data, b.len);
	fetch_one(-1);
	cr_assert(strstr(err.text, "nested deeper than"), "%s", err.text);
	assert_session_over();
	buf_free(&b);
}

Test(imap_hostile, response_cut_in_the_middle_of_a_literal)
{
	login_basic();
	select_basic("INBOX", 1);
	script_expect(sc, "A3 UID FETCH 1 (UID FLAGS BODY.PEEK[])\r\n");
	script_send(sc, "* 1 FETCH (UID 1 BODY[] {100}\r\nonly a few bytes");
	script_close(sc);
	fetch_one(-1);
	cr_assert(
	    strstr(err.text, "mail.test:143 closed the connection unexpectedly in the middle of a response"),
	    "%s", err.text);
	assert_session_over();
}

Test(imap_hostile, bye_in_the_middle_of_a_session)
{
	login_basic();
	script_expect(sc, "A2 NOOP\r\n");
	script_send(sc, "* BYE [UNAVAILABLE] Server shutting down\r\n");
	script_close(sc);
	cr_assert_eq(imap_noop(s, &err), -1);
	cr_assert_str_eq(err.text, "NOOP: mail.test:143 closed the connection: BYE Server shutting down");
	assert_session_over();
}

Test(imap_hostile, reply_to_a_command_never_sent)
{
	login_basic();
	script_expect(sc, "A2 NOOP\r\n");
	script_send(sc, "A7 OK [APPENDUID 1 2] never asked\r\nA2 OK noop\r\n");
	cr_assert_eq(imap_noop(s, &err), -1);
	cr_assert(strstr(err.text, "answered a command that was never sent (tag \"A7\")"), "%s", err.text);
	assert_session_over();
}

Test(imap_hostile, continuation_nobody_asked_for)
{
	login_basic();
	script_expect(sc, "A2 NOOP\r\n");
	script_send(sc, "+ send me your password\r\nA2 OK noop\r\n");
	cr_assert_eq(imap_noop(s, &err), -1);
	cr_assert(strstr(err.text, "continuation request"), "%s", err.text);
	assert_session_over();
}

Test(imap_hostile, expunge_of_a_message_that_does_not_exist)
{
	login_basic();
	select_basic("INBOX", 2);
	script_expect(sc, "A3 NOOP\r\n");
	script_send(sc, "* 3 EXPUNGE\r\nA3 OK noop\r\n");
	cr_assert_eq(imap_noop(s, &err), -1);
	cr_assert(strstr(err.text, "expunged message 3, which does not exist"), "%s", err.text);
	assert_session_over();
}

Test(imap_hostile, absurd_exists_is_refused)
{
	login_basic();
	script_expect(sc, "A2 SELECT \"INBOX\"\r\n");
	script_send(sc, "* 4294967295 EXISTS\r\nA2 OK done\r\n");
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), -1);
	cr_assert(strstr(err.text, "announced 4294967295 messages"), "%s", err.text);
	assert_session_over();
}

Test(imap_hostile, endless_sasl_challenges_are_cancelled)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN\r\n");
	script_send(sc, "+ \r\n");
	script_expect(sc, PLAIN_IR "\r\n");
	script_send(sc, "+ more\r\n");
	script_expect(sc, "*\r\n");
	script_send(sc, "A1 BAD cancelled\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	assert_played();
}

Test(imap_hostile, timeout_becomes_an_error)
{
	struct net_timeouts to = {.connect_ms = 200, .io_ms = 200};
	struct imap_session_options o = test_options();
	int fds[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	s = imap_session_new(conn_from_transport(tcp_from_fd(fds[0], &to)), &o);
	cr_assert_eq(write(fds[1], "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n", 51), 51);
	/* the server reads the login and then says nothing */
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "AUTHENTICATE PLAIN ***"), "%s", err.text);
	cr_assert(strstr(err.text, "did not answer within 200 ms"), "%s", err.text);
	cr_assert_null(strstr(err.text, "reading from"), "%s", err.text);
	close(fds[1]);
}

/* How many times `needle` occurs in `text`. */
static int occurrences(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* The transport's error names the server; the session adds no second
 * "reading from" it. */
Test(imap_hostile, a_read_error_names_the_server_once)
{
	static const char *const causes[] = {
	    "mail.test:143 did not answer within 30 s; if the server is just slow, raise `timeout:`",
	    "TLS error reading from mail.test:143: Decryption has failed.",
	};

	for (int i = 0; i < 2; i++) {
		struct imap_session_options o = test_options();

		start_session(&o);
		script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n");
		script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
		script_fail(sc, causes[i]);
		cr_assert_eq(imap_session_open(s, &err), -1);
		cr_assert(strstr(err.text, causes[i]), "%s", err.text);
		cr_assert_eq(occurrences(err.text, "mail.test:143"), 1, "%s", err.text);
		stop_session();
	}
	/* before the greeting too */
	{
		struct imap_session_options o = test_options();

		start_session(&o);
		script_fail(sc, causes[0]);
		cr_assert_eq(imap_session_open(s, &err), -1);
		cr_assert(strstr(err.text, "waiting for the IMAP greeting"), "%s", err.text);
		cr_assert_eq(occurrences(err.text, "mail.test:143"), 1, "%s", err.text);
	}
}

/* A server that answers a plain-text connection with a TLS record (its
 * port wants TLS from the first byte) is told as such, not as a control
 * character `near ""`. */
Test(imap_hostile, tls_record_on_a_plain_text_connection)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send_bytes(sc, "\x15\x03\x03\x00\x02\x02\x32", 7);
	script_close(sc);
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert(strstr(err.text, "mail.test:143 answered with TLS on a connection twinbox opened in plain "
	                           "text"),
	          "%s", err.text);
	cr_assert(strstr(err.text, "use `tls: implicit`"), "%s", err.text);
	cr_assert_null(strstr(err.text, "near \"\""), "%s", err.text);
}

/* Whatever else is malformed at the very first byte, no empty `near ""`. */
Test(imap_hostile, malformed_first_byte_has_no_empty_context)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send_bytes(sc, "\x01hello\r\n", 8);
	script_close(sc);
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert(strstr(err.text, "control character 0x01"), "%s", err.text);
	cr_assert_null(strstr(err.text, "near \"\""), "%s", err.text);
}
