/* The scripted transport: the peer that protocol tests talk to. */
#include <criterion/criterion.h>
#include <string.h>

#include "twinbox/net/script.h"

static ssize_t read_all(struct transport *t, char *out, size_t cap, struct error *err)
{
	ssize_t n = transport_read(t, out, cap - 1, err);

	if (n >= 0)
		out[n] = '\0';
	return n;
}

Test(net_script, plays_expect_and_send_in_order)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	char got[64];
	const char *why = NULL;

	script_send(s, "* OK hello\r\n");
	script_expect(s, "a LOGOUT\r\n");
	script_send(s, "* BYE\r\n");
	script_close(s);

	cr_assert_eq(read_all(t, got, sizeof(got), &err), 12);
	cr_assert_str_eq(got, "* OK hello\r\n");
	cr_assert_not(script_check(s, &why), "a script half played must not check out");
	cr_assert(strstr(why, "step 2 of 4") && strstr(why, "a LOGOUT\\r\\n"), "why: %s", why);
	cr_assert_eq(transport_write(t, "a LOGOUT\r\n", 10, &err), 0, "%s", err.text);
	cr_assert_eq(read_all(t, got, sizeof(got), &err), 7);
	cr_assert_str_eq(got, "* BYE\r\n");
	cr_assert_eq(read_all(t, got, sizeof(got), &err), 0, "close step reads as EOF");
	cr_assert_eq(read_all(t, got, sizeof(got), &err), 0, "EOF stays EOF");
	cr_assert(script_check(s, &why), "%s", why);
	transport_close(t);
	script_free(s);
}

Test(net_script, chunk_one_returns_single_bytes)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	char c;
	char got[16] = {0};

	script_set_chunk(s, 1);
	script_send(s, "abc");
	script_send(s, "d");
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(transport_read(t, &c, 8, &err), 1, "read %d must return exactly one byte", i);
		got[i] = c;
	}
	cr_assert_str_eq(got, "abcd");
	cr_assert(script_check(s, NULL));
	transport_close(t);
	script_free(s);
}

Test(net_script, read_returns_bytes_of_one_send_step_only)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	char got[64];

	script_send(s, "first ");
	script_send(s, "second");
	cr_assert_eq(read_all(t, got, sizeof(got), &err), 6);
	cr_assert_str_eq(got, "first ");
	cr_assert_eq(read_all(t, got, 4, &err), 3, "a small read takes part of a step");
	cr_assert_str_eq(got, "sec");
	cr_assert_eq(read_all(t, got, sizeof(got), &err), 3);
	cr_assert_str_eq(got, "ond");
	transport_close(t);
	script_free(s);
}

Test(net_script, writes_may_split_or_join_expected_steps)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	const char *why = NULL;

	script_expect(s, "a1 NOOP\r\n");
	script_expect(s, "a2 NOOP\r\n");
	cr_assert_eq(transport_write(t, "a1 NO", 5, &err), 0, "%s", err.text);
	cr_assert_eq(transport_write(t, "OP\r\na2 NOOP\r\n", 13, &err), 0, "%s", err.text);
	cr_assert(script_check(s, &why), "%s", why);
	transport_close(t);
	script_free(s);
}

Test(net_script, mismatch_shows_expected_and_got_escaped)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	const char *why = NULL;
	char c;

	script_expect(s, "a LOGIN alice \"pw\"\r\n");
	script_send(s, "a OK\r\n");
	cr_assert_eq(transport_write(t, "a LOGIN bob\tx\r\n", 15, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "wrote \"a LOGIN bob\\tx\\r\\n\""), "got: %s", err.text);
	cr_assert(strstr(err.text, "expected \"a LOGIN alice \\\"pw\\\"\\r\\n\""), "got: %s", err.text);
	cr_assert(strstr(err.text, "step 1 of 2"), "got: %s", err.text);
	cr_assert_not(script_check(s, &why));
	cr_assert(strstr(why, "a LOGIN bob"), "why: %s", why);
	/* After a mismatch, nothing goes on as if all were well. */
	cr_assert_eq(transport_read(t, &c, 1, &err), -1);
	transport_close(t);
	script_free(s);
}

Test(net_script, mismatch_escapes_binary_bytes)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};

	script_expect(s, "x");
	cr_assert_eq(transport_write(t, "\x01\xff", 2, &err), -1);
	cr_assert(strstr(err.text, "\"\\x01\\xff\""), "got: %s", err.text);
	transport_close(t);
	script_free(s);
}

Test(net_script, write_while_peer_should_speak_is_an_error)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	const char *why = NULL;

	script_send(s, "* OK\r\n");
	cr_assert_eq(transport_write(t, "a NOOP\r\n", 8, &err), -1);
	cr_assert(strstr(err.text, "client to read \"* OK\\r\\n\""), "got: %s", err.text);
	cr_assert_not(script_check(s, &why));
	transport_close(t);
	script_free(s);
}

Test(net_script, read_while_client_should_write_is_an_error)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	char c;

	script_expect(s, "a NOOP\r\n");
	cr_assert_eq(transport_read(t, &c, 1, &err), -1);
	cr_assert(strstr(err.text, "the client read while step 1 of 1"), "got: %s", err.text);
	cr_assert(strstr(err.text, "to write \"a NOOP\\r\\n\""), "got: %s", err.text);
	transport_close(t);
	script_free(s);
}

Test(net_script, past_the_end_is_an_error)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	const char *why = NULL;

	cr_assert_eq(transport_write(t, "extra\r\n", 7, &err), -1);
	cr_assert(strstr(err.text, "\"extra\\r\\n\" after the end of the script"), "got: %s", err.text);
	cr_assert_not(script_check(s, &why));
	cr_assert(strstr(why, "after the end"), "why: %s", why);
	transport_close(t);
	script_free(s);
}

Test(net_script, fail_step_fails_reads_and_writes_with_its_text)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	const char *why = NULL;
	char c;

	script_fail(s, "connection reset by peer");
	cr_assert_eq(transport_read(t, &c, 1, &err), -1);
	cr_assert_str_eq(err.text, "connection reset by peer");
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert_eq(transport_write(t, "x", 1, &err), -1);
	cr_assert_str_eq(err.text, "connection reset by peer");
	cr_assert(script_check(s, &why), "a scripted failure is part of the play: %s", why);
	transport_close(t);
	script_free(s);
}

Test(net_script, close_in_the_middle_leaves_later_steps_unplayed)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	const char *why = NULL;
	char c;

	script_close(s);
	script_send(s, "never\r\n");
	cr_assert_eq(transport_read(t, &c, 1, &err), 0);
	cr_assert_not(script_check(s, &why));
	cr_assert(strstr(why, "1 steps follow it"), "why: %s", why);
	transport_close(t);
	script_free(s);
}

Test(net_script, expect_any_accepts_one_write)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};

	script_expect_any(s);
	script_expect(s, "b\r\n");
	cr_assert_eq(transport_write(t, "whatever", 8, &err), 0);
	cr_assert_eq(transport_write(t, "b\r\n", 3, &err), 0, "%s", err.text);
	cr_assert(script_check(s, NULL));
	transport_close(t);
	script_free(s);
}

Test(net_script, printf_steps_and_binary_send)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	char got[16];

	script_expectf(s, "a%03d SELECT %s\r\n", 7, "INBOX");
	script_sendf(s, "a%03d OK\r\n", 7);
	script_send_bytes(s, "\0\r\n", 3);
	cr_assert_eq(transport_write(t, "a007 SELECT INBOX\r\n", 19, &err), 0, "%s", err.text);
	cr_assert_eq(read_all(t, got, sizeof(got), &err), 9);
	cr_assert_str_eq(got, "a007 OK\r\n");
	cr_assert_eq(transport_read(t, got, sizeof(got), &err), 3);
	cr_assert_eq(memcmp(got, "\0\r\n", 3), 0);
	cr_assert(script_check(s, NULL));
	transport_close(t);
	script_free(s);
}

Test(net_script, poll_says_whether_the_peer_has_spoken)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	char got[8];

	script_send(s, "x");
	script_expect(s, "y");
	cr_assert_eq(transport_poll(t, 1000, &err), 1);
	cr_assert_eq(transport_read(t, got, sizeof(got), &err), 1);
	cr_assert_eq(transport_poll(t, 0, &err), 0, "a mere check is not an error");
	cr_assert_eq(transport_poll(t, 1000, &err), -1, "waiting while the client should write would hang");
	cr_assert(strstr(err.text, "waited for data"), "got: %s", err.text);
	transport_close(t);
	script_free(s);
}

Test(net_script, script_outlives_or_predeceases_its_transport)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	char c;

	script_send(s, "z");
	/* Freed by the test first: the transport keeps it alive. */
	script_free(s);
	cr_assert_eq(transport_read(t, &c, 1, &err), 1);
	cr_assert_eq(c, 'z');
	transport_close(t);
}

Test(net_script, empty_steps_are_no_ops)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);
	struct error err = {0};
	char c;

	script_send(s, "");
	script_expect(s, "");
	script_send(s, "x");
	cr_assert_eq(transport_read(t, &c, 1, &err), 1, "an empty send must not read as EOF");
	cr_assert_eq(c, 'x');
	cr_assert(script_check(s, NULL));
	transport_close(t);
	script_free(s);
}
