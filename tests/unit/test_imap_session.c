/*
 * IMAP session over a scripted server: greeting, capabilities, STARTTLS
 * refusals, every way of logging in, what follows the login, the trace.
 */
#include "test_imap_session_support.h"

#include <stdlib.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

TestSuite(imap_session, .fini = stop_session);

Test(imap_session, greeting_caps_from_code_and_login_plain_sasl_ir)
{
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	cr_assert(imap_has_cap(s, "sasl-ir"));
	cr_assert_str_eq(imap_capabilities(s), "IMAP4rev1 AUTH=PLAIN SASL-IR");
	cr_assert(strstr(imap_greeting(s), "ready"));
	assert_played();
}

Test(imap_session, capability_asked_when_greeting_has_none_and_after_login)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK hello\r\n");
	script_expect(sc, "A1 CAPABILITY\r\n");
	script_send(sc, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA1 OK done\r\n");
	script_expect(sc, "A2 AUTHENTICATE PLAIN\r\n");
	script_send(sc, "+ \r\n");
	script_expect(sc, PLAIN_IR "\r\n");
	script_send(sc, "A2 OK Logged in\r\n");
	script_expect(sc, "A3 CAPABILITY\r\n");
	script_send(sc, "* CAPABILITY IMAP4rev1 IDLE\r\nA3 OK done\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert(imap_has_cap(s, "IDLE"));
	cr_assert(!imap_has_cap(s, "AUTH=PLAIN"), "capabilities from before the login were kept");
	assert_played();
}

Test(imap_session, preauth_greeting_skips_login_with_tls_none)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* PREAUTH [CAPABILITY IMAP4rev1] welcome\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED);
	assert_played();
}

Test(imap_session, preauth_on_plaintext_refused_when_tls_required)
{
	struct imap_session_options o = test_options();

	o.conn.tls = TLS_STARTTLS;
	start_session(&o);
	script_send(sc, "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "PREAUTH on a connection without TLS"), "%s", err.text);
	assert_played();
}

Test(imap_session, bye_greeting)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* BYE [UNAVAILABLE] too many connections\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "mail.test:143 refused the connection: BYE [UNAVAILABLE] too many"), "%s",
	          err.text);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_LOGOUT);
}

Test(imap_session, garbage_greeting)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "SSH-2.0-OpenSSH_9.2\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "greet"), "%s", err.text);
	cr_assert(strstr(err.text, "mail.test:143"), "%s", err.text);
}

Test(imap_session, tagged_greeting_is_not_a_greeting)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1] fake\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert(strstr(err.text, "did not greet like an IMAP server"), "%s", err.text);
}

Test(imap_session, starttls_missing_from_capabilities)
{
	struct imap_session_options o = test_options();

	o.conn.tls = TLS_STARTTLS;
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "does not offer STARTTLS"), "%s", err.text);
	assert_played(); /* neither STARTTLS nor a password went out */
}

Test(imap_session, starttls_response_injection_is_discarded)
{
	static const char injected[] = "A3 OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n* 5 EXISTS\r\n";
	struct imap_session_options o = test_options();

	o.conn.tls = TLS_STARTTLS;
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
	script_expect(sc, "A1 STARTTLS\r\n");
	/* A man in the middle appends responses after the OK. */
	script_sendf(sc, "A1 OK Begin TLS negotiation now\r\n%s", injected);
	script_close(sc);
	cr_assert_eq(imap_session_open(s, &err), -1);
	/* The next thing after the OK is the handshake, which fails on this
	 * peer: the injected bytes were never taken as responses. */
	cr_assert(strstr(err.text, "TLS"), "%s", err.text);
	cr_assert_null(strstr(err.text, "injected"), "%s", err.text);
	cr_assert_eq(imap_starttls_discarded(s), strlen(injected));
	cr_assert_eq(imap_selected(s)->exists, 0);
	cr_assert(!imap_has_cap(s, "AUTH=PLAIN"));
}

Test(imap_session, no_password_in_clear_unless_tls_none)
{
	struct imap_session_options o = test_options();

	o.conn.tls = TLS_IMPLICIT; /* claimed, but this connection is plain */
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "refusing to send the password"), "%s", err.text);
	assert_played();
}

Test(imap_session, login_command_quotes_specials)
{
	struct imap_session_options o = test_options();

	o.password = "p\"w\\d";
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1] ready\r\n");
	script_expect(sc, "A1 LOGIN \"tbuser\" \"p\\\"w\\\\d\"\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_session, login_command_uses_literal_for_8bit_password)
{
	struct imap_session_options o = test_options();

	o.password = "p\xc3\xa4ss";
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1] ready\r\n");
	script_expect(sc, "A1 LOGIN \"tbuser\" {5}\r\n");
	script_send(sc, "+ go ahead\r\n");
	script_expect(sc, "p\xc3\xa4ss\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_session, logindisabled_respected)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=GSSAPI] ready\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "LOGINDISABLED"), "%s", err.text);
	assert_played(); /* no LOGIN was sent */
}

Test(imap_session, authenticate_login_two_challenges)
{
	struct imap_session_options o = test_options();

	o.mechs[0] = IMAP_MECH_LOGIN;
	o.mech_count = 1;
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE LOGIN\r\n");
	script_send(sc, "+ VXNlcm5hbWU6\r\n");
	script_expect(sc, "dGJ1c2Vy\r\n");
	script_send(sc, "+ UGFzc3dvcmQ6\r\n");
	script_expect(sc, "c2VjcmV0\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_session, auth_list_order_is_honoured)
{
	struct imap_session_options o = test_options();

	o.mechs[0] = IMAP_MECH_XOAUTH2; /* not offered: skipped */
	o.mechs[1] = IMAP_MECH_PLAIN;
	o.mechs[2] = IMAP_MECH_LOGIN;
	o.mech_count = 3;
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=LOGIN AUTH=PLAIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_session, xoauth2_error_challenge_answered_empty)
{
	struct imap_session_options o = test_options();

	o.password = "tok123";
	o.mechs[0] = IMAP_MECH_XOAUTH2;
	o.mech_count = 1;
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE XOAUTH2 dXNlcj10YnVzZXIBYXV0aD1CZWFyZXIgdG9rMTIzAQE=\r\n");
	script_send(sc, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
	script_expect(sc, "\r\n");
	script_send(sc, "A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "refused the user name or password for \"tbuser\""), "%s", err.text);
	cr_assert(strstr(err.text, "[AUTHENTICATIONFAILED] Invalid credentials"), "%s", err.text);
	assert_played();
}

Test(imap_session, oauthbearer_without_sasl_ir)
{
	struct imap_session_options o = test_options();

	o.password = "tok123";
	o.mechs[0] = IMAP_MECH_OAUTHBEARER;
	o.mech_count = 1;
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE OAUTHBEARER\r\n");
	script_send(sc, "+ \r\n");
	script_expect(sc, "bixhPXRidXNlciwBaG9zdD1tYWlsLnRlc3QBcG9ydD0xNDMBYXV0aD1CZWFyZXIgdG9rMTIzAQE=\r\n");
	script_send(sc, "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n");
	script_expect(sc, "AQ==\r\n");
	script_send(sc, "A1 NO [AUTHENTICATIONFAILED] bad token\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	assert_played();
}

Test(imap_session, auth_unavailable_is_told_apart)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 NO [UNAVAILABLE] Auth backend down\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "temporarily unavailable"), "%s", err.text);
	cr_assert_null(strstr(err.text, "refused the user name"), "%s", err.text);
}

Test(imap_session, enable_id_namespace_pipelined_after_login)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1 ENABLE CONDSTORE QRESYNC ID NAMESPACE] ok\r\n");
	/* all three in one write, before any reply */
	script_expect(
	    sc, "A2 ENABLE CONDSTORE QRESYNC\r\nA3 ID (\"name\" \"twinbox\" \"version\" \"" TWINBOX_VERSION
	        "\")\r\nA4 NAMESPACE\r\n");
	script_send(sc, "* ENABLED CONDSTORE QRESYNC\r\nA2 OK enabled\r\n* ID NIL\r\nA3 OK id\r\n"
	                "* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\nA4 OK ns\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_session_enabled(s), IMAP_ENABLED_CONDSTORE | IMAP_ENABLED_QRESYNC);
	cr_assert_str_eq(imap_namespace_prefix(s), "INBOX.");
	cr_assert_eq(imap_delimiter(s), '.');
	assert_played();
}

Test(imap_session, logout_and_states)
{
	login_basic();
	/* LOGOUT is sent; its answer is not waited for. */
	script_expect(sc, "A2 LOGOUT\r\n");
	imap_session_close(s); /* frees */
	s = NULL;
	assert_played();
}

static struct buf trace_lines;

static void trace_sink(enum log_level level, const char *line, void *ctx)
{
	(void)level;
	(void)ctx;
	buf_append_str(&trace_lines, line);
	buf_append_str(&trace_lines, "\n");
}

Test(imap_session, trace_hides_password_and_bodies)
{
	struct imap_session_options o = test_options();
	struct imap_append_msg m = {.data = "Subject: x\r\n\r\nhello body\r\n", .len = 26};

	log_set_level(LOG_TRACE);
	log_set_sink(trace_sink, NULL);
	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
	script_expect(sc, "A1 LOGIN \"tbuser\" \"secret\"\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1 LITERAL+] Logged in\r\n");
	script_expect(sc, "A2 APPEND \"INBOX\" {26+}\r\nSubject: x\r\n\r\nhello body\r\n\r\n");
	script_send(sc, "A2 OK [APPENDUID 1 1] done\r\n");
	script_expect(sc, "A3 UID FETCH 1 (UID FLAGS BODY.PEEK[])\r\n");
	script_send(sc, "* 1 FETCH (UID 1 FLAGS () BODY[] {26}\r\nSubject: x\r\n\r\nhello body\r\n)\r\n"
	                "A3 OK done\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_append(s, "INBOX", &m, &err), 0, "%s", err.text);
	uint32_t uid = 1;
	struct imap_body_handler h = {0};
	cr_assert_eq(imap_fetch_bodies(s, &uid, 1, &h, NULL, &err), 0, "%s", err.text);
	log_set_sink(NULL, NULL);
	const char *t = buf_cstr(&trace_lines);
	cr_assert(strstr(t, "C: A1 LOGIN \"tbuser\" ***"), "%s", t);
	cr_assert_null(strstr(t, "secret"), "%s", t);
	cr_assert_null(strstr(t, "hello body"), "%s", t);
	cr_assert(strstr(t, "C: A2 APPEND \"INBOX\" {26 bytes}"), "%s", t);
	cr_assert(strstr(t, "S: * 1 FETCH (UID 1 FLAGS () BODY[] {26 bytes})"), "%s", t);
	cr_assert(strstr(t, "S: A3 OK done"), "%s", t);
	assert_played();
	buf_free(&trace_lines);
}

Test(imap_session, trace_hides_sasl_payload)
{
	struct imap_session_options o = test_options();

	log_set_level(LOG_TRACE);
	log_set_sink(trace_sink, NULL);
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	(void)o;
	log_set_sink(NULL, NULL);
	const char *t = buf_cstr(&trace_lines);
	cr_assert(strstr(t, "C: A1 AUTHENTICATE PLAIN ***"), "%s", t);
	cr_assert_null(strstr(t, PLAIN_IR), "%s", t);
	buf_free(&trace_lines);
}

/* ---- "not now": errors worth trying again later (util/error.h) ---- */

Test(imap_session, bye_greeting_is_worth_trying_again)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* BYE Too many connections, try later\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.retry, ERR_RETRY_BUSY);
}

Test(imap_session, login_limit_is_busy_not_a_wrong_password)
{
	static const char *const codes[] = {"LIMIT", "INUSE", "UNAVAILABLE"};

	for (size_t i = 0; i < 3; i++) {
		struct imap_session_options o = test_options();

		start_session(&o);
		script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
		script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
		script_sendf(sc, "A1 NO [%s] Maximum number of connections exceeded\r\n", codes[i]);
		cr_assert_eq(imap_session_open(s, &err), -1);
		cr_assert_eq(err.scope, ERR_ACCOUNT);
		cr_assert_eq(err.retry, ERR_RETRY_BUSY, "%s", codes[i]);
		cr_assert(strstr(err.text, "Maximum number of connections exceeded"), "%s", err.text);
		cr_assert_null(strstr(err.text, "password"), "%s", err.text);
		stop_session();
	}
}

Test(imap_session, wrong_password_is_not_worth_trying_again)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
	cr_assert_eq(imap_session_open(s, &err), -1);
	cr_assert_eq(err.retry, ERR_RETRY_NO);
}

/* A NO with `code` to a SELECT of a logged-in session: the error. */
static void select_refused(const char *code)
{
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	script_expect(sc, "A2 SELECT \"INBOX\"\r\n");
	script_sendf(sc, "A2 NO %s Not now\r\n", code);
	error_clear(&err);
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), -1);
	cr_assert_neq(imap_session_state(s), IMAP_STATE_LOGOUT, "a NO ends no session");
}

Test(imap_session, a_command_refused_for_now_is_busy_and_names_the_server)
{
	static const char *const codes[] = {"[UNAVAILABLE]", "[LIMIT]", "[INUSE]"};

	for (size_t i = 0; i < 3; i++) {
		select_refused(codes[i]);
		cr_assert_eq(err.retry, ERR_RETRY_BUSY, "%s", codes[i]);
		cr_assert_eq(err.scope, ERR_MAILBOX);
		cr_assert(strstr(err.text, "SELECT \"INBOX\" failed at mail.test:143: NO "), "%s", err.text);
		stop_session();
	}
}

Test(imap_session, other_refusals_are_not_worth_trying_again)
{
	static const char *const codes[] = {"[NONEXISTENT]", "[NOPERM]", "[OVERQUOTA]", "[SERVERBUG]", ""};

	for (size_t i = 0; i < 5; i++) {
		select_refused(codes[i]);
		cr_assert_eq(err.retry, ERR_RETRY_NO, "%s", codes[i]);
		stop_session();
	}
}

Test(imap_session, a_temporary_refusal_of_a_message_command_fails_more_than_the_message)
{
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	struct imap_cmd cmd;

	imap_cmd_init(&cmd, "APPEND");
	cmd.scope = ERR_MESSAGE;
	imap_cmd_add(&cmd, " INBOX {1+}\r\nx");
	script_expect(sc, "A2 APPEND INBOX {1+}\r\nx\r\n");
	script_send(sc, "A2 NO [UNAVAILABLE] Throttled\r\n");
	cr_assert_eq(imap_run(s, &cmd, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert_eq(err.retry, ERR_RETRY_BUSY);
	imap_cmd_free(&cmd);
}

Test(imap_session, bye_in_the_middle_of_a_session_is_busy)
{
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	script_expect(sc, "A2 SELECT \"INBOX\"\r\n");
	script_send(sc, "* BYE [UNAVAILABLE] Server shutting down\r\n");
	script_close(sc);
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert_eq(err.retry, ERR_RETRY_BUSY);
	cr_assert(strstr(err.text, "closed the connection: BYE Server shutting down"), "%s", err.text);
	/* Every later command fails the same way. */
	cr_assert_eq(imap_noop(s, &err), -1);
	cr_assert_eq(err.retry, ERR_RETRY_BUSY);
}

Test(imap_session, a_connection_closed_without_bye_is_lost)
{
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	script_expect(sc, "A2 SELECT \"INBOX\"\r\n");
	script_close(sc);
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), -1);
	cr_assert_eq(err.retry, ERR_RETRY_LOST);
	cr_assert(strstr(err.text, "closed the connection unexpectedly"), "%s", err.text);
}

Test(imap_session, a_broken_response_is_not_worth_trying_again)
{
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	script_expect(sc, "A2 SELECT \"INBOX\"\r\n");
	script_send(sc, "* 12 EXISTS (\r\n");
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), -1);
	cr_assert_eq(err.retry, ERR_RETRY_NO);
}
