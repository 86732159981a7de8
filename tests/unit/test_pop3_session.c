/*
 * The POP3 client against a scripted server: greeting, CAPA, STLS, every
 * way of logging in, and the refusals a user must be able to tell apart.
 */
#include "test_pop3_support.h"

TestSuite(pop3_session, .fini = stop_client);

Test(pop3_session, login_with_auth_plain_and_initial_response)
{
	login_with_capa(CAPA_BASIC);
	cr_assert(pop3_has_capa(pc, "uidl"));
	cr_assert_str_eq(pop3_capa_arg(pc, "SASL"), "PLAIN LOGIN");
	cr_assert_null(pop3_capa_arg(pc, "STLS"));
	cr_assert_str_eq(pop3_greeting(pc), "+OK Dovecot ready.");
	assert_played();
	cr_assert(strstr(trace.data, "C: AUTH PLAIN ***"), "%s", trace.data);
	cr_assert_null(strstr(trace.data, PLAIN_IR), "%s", trace.data);
}

Test(pop3_session, login_with_user_and_pass_hides_the_password)
{
	struct pop3_options o = test_options();

	o.mechs[0] = POP3_MECH_USER;
	o.mech_count = 1;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	script_expect(sc, "USER tbuser\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "PASS secret\r\n");
	script_send(sc, "+OK Logged in.\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	assert_played();
	cr_assert(strstr(trace.data, "C: USER tbuser\n"), "%s", trace.data);
	cr_assert(strstr(trace.data, "C: PASS ***\n"), "%s", trace.data);
	cr_assert_null(strstr(trace.data, "secret"), "%s", trace.data);
}

Test(pop3_session, server_without_capa_gets_user_then_pass)
{
	struct pop3_options o = test_options();

	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "-ERR Unknown command\r\n");
	script_expect(sc, "USER tbuser\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "PASS secret\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "-ERR Unknown command\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	cr_assert(!pop3_capa_known(pc));
	assert_played();
}

Test(pop3_session, apop_digest_matches_rfc_1939)
{
	struct pop3_options o = test_options();

	o.user = "mrose";
	o.password = "tanstaaf";
	o.mechs[0] = POP3_MECH_APOP;
	o.mech_count = 1;
	start_client(&o);
	script_send(sc, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "-ERR\r\n");
	script_expect(sc, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
	script_send(sc, "+OK mrose's maildrop has 2 messages (320 octets)\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "-ERR\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	assert_played();
	cr_assert(strstr(trace.data, "C: APOP mrose ***\n"), "%s", trace.data);
	cr_assert_null(strstr(trace.data, "c4c9334b"), "%s", trace.data);
}

Test(pop3_session, apop_is_the_default_without_tls_when_offered)
{
	struct pop3_options o = test_options();

	o.user = "mrose";
	o.password = "tanstaaf";
	start_client(&o);
	script_send(sc, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	script_expect(sc, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	assert_played();
}

Test(pop3_session, apop_without_timestamp_is_not_offered)
{
	struct pop3_options o = test_options();

	o.mechs[0] = POP3_MECH_APOP;
	o.mech_count = 1;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert(strstr(err.text, "offers none of the login methods APOP"), "%s", err.text);
	cr_assert(strstr(err.text, "no APOP timestamp"), "%s", err.text);
	assert_played();
}

Test(pop3_session, auth_login_answers_both_challenges)
{
	struct pop3_options o = test_options();

	o.mechs[0] = POP3_MECH_LOGIN;
	o.mech_count = 1;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	script_expect(sc, "AUTH LOGIN\r\n");
	script_send(sc, "+ VXNlcm5hbWU6\r\n");
	script_expect(sc, "dGJ1c2Vy\r\n");
	script_send(sc, "+ UGFzc3dvcmQ6\r\n");
	script_expect(sc, "c2VjcmV0\r\n");
	script_send(sc, "+OK Logged in.\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	assert_played();
	cr_assert_null(strstr(trace.data, "c2VjcmV0"), "%s", trace.data);
}

Test(pop3_session, xoauth2_long_token_goes_after_an_empty_challenge)
{
	struct pop3_options o = test_options();
	char token[400];

	memset(token, 'T', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	o.password = token;
	o.mechs[0] = POP3_MECH_XOAUTH2;
	o.mech_count = 1;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "+OK\r\nSASL XOAUTH2\r\n.\r\n");
	script_expect(sc, "AUTH XOAUTH2\r\n");
	script_send(sc, "+ \r\n");
	script_expect_any(sc); /* the token, base64 (over 255 octets) */
	/* The OAuth error comes as a challenge; the client answers empty. */
	script_send(sc, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
	script_expect(sc, "\r\n");
	script_send(sc, "-ERR [AUTH] Invalid credentials\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert(strstr(err.text, "refused the user name or password"), "%s", err.text);
	cr_assert(strstr(err.text, "XOAUTH2"), "%s", err.text);
	assert_played();
	cr_assert_null(strstr(trace.data, "TTTT"), "%s", trace.data);
}

static void refused_pass(const char *reply, const char *capa_extra)
{
	struct pop3_options o = test_options();

	o.mechs[0] = POP3_MECH_USER;
	o.mech_count = 1;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_sendf(sc, "+OK\r\nUSER\r\nRESP-CODES\r\n%s.\r\n", capa_extra);
	script_expect(sc, "USER tbuser\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "PASS secret\r\n");
	script_send(sc, reply);
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert_null(strstr(err.text, "secret"), "%s", err.text);
	assert_played();
}

Test(pop3_session, in_use_is_a_locked_mailbox_not_a_wrong_password)
{
	refused_pass("-ERR [IN-USE] Mailbox is locked by another POP3 session\r\n", "");
	cr_assert(strstr(err.text, "the mailbox of \"tbuser\" is locked by another client (another mail "
	                           "program is downloading from it); try again later"),
	          "%s", err.text);
	cr_assert_null(strstr(err.text, "password"), "%s", err.text);
}

Test(pop3_session, login_delay_says_how_often)
{
	refused_pass("-ERR [LOGIN-DELAY] Too soon\r\n", "LOGIN-DELAY 900\r\n");
	cr_assert(strstr(err.text, "allows only one login every 15 minutes"), "%s", err.text);
	cr_assert_null(strstr(err.text, "password"), "%s", err.text);
}

Test(pop3_session, login_delay_without_capa_value)
{
	refused_pass("-ERR [LOGIN-DELAY] Too soon\r\n", "");
	cr_assert(strstr(err.text, "limits how often"), "%s", err.text);
}

Test(pop3_session, auth_code_is_a_wrong_password)
{
	refused_pass("-ERR [AUTH] Authentication failed.\r\n", "");
	cr_assert(strstr(err.text, "refused the user name or password for \"tbuser\""), "%s", err.text);
	cr_assert(strstr(err.text, "check user and password"), "%s", err.text);
	cr_assert_null(strstr(err.text, "locked"), "%s", err.text);
}

Test(pop3_session, sys_temp_and_sys_perm)
{
	refused_pass("-ERR [SYS/TEMP] Storage unavailable\r\n", "");
	cr_assert(strstr(err.text, "temporary problem"), "%s", err.text);
	cr_assert(strstr(err.text, "try again later"), "%s", err.text);
	stop_client();
	refused_pass("-ERR [SYS/PERM] Account disabled\r\n", "");
	cr_assert(strstr(err.text, "permanent problem"), "%s", err.text);
	cr_assert(strstr(err.text, "Account disabled"), "%s", err.text);
}

Test(pop3_session, lock_in_words_without_a_code_is_still_a_lock)
{
	refused_pass("-ERR Unable to lock maildrop\r\n", "");
	cr_assert(strstr(err.text, "locked"), "%s", err.text);
	stop_client();
	refused_pass("-ERR Login failed\r\n", "");
	cr_assert(strstr(err.text, "user name or password is wrong"), "%s", err.text);
	cr_assert(strstr(err.text, "without a reason code"), "%s", err.text);
}

Test(pop3_session, greeting_garbage_is_refused)
{
	struct pop3_options o = test_options();

	start_client(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "is it a POP3 server? check host and port"), "%s", err.text);
	cr_assert_eq(pop3_client_state(pc), POP3_STATE_DONE);
	assert_played(); /* no CAPA, no password */
	cr_assert_eq(pop3_noop(pc, &err), -1);
	cr_assert(strstr(err.text, "POP3 greeting"), "later calls repeat the failure: %s", err.text);
}

Test(pop3_session, err_greeting_is_refused)
{
	struct pop3_options o = test_options();

	start_client(&o);
	script_send(sc, "-ERR [SYS/TEMP] too many connections\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert(strstr(err.text, "try again later"), "%s", err.text);
	assert_played();
}

Test(pop3_session, stls_missing_while_required)
{
	struct pop3_options o = test_options();

	o.conn.tls = TLS_STARTTLS;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "does not offer STLS"), "%s", err.text);
	assert_played(); /* neither STLS nor a password went out */
}

Test(pop3_session, stls_refused_is_an_error)
{
	struct pop3_options o = test_options();

	o.conn.tls = TLS_STARTTLS;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "+OK\r\nSTLS\r\nUSER\r\n.\r\n");
	script_expect(sc, "STLS\r\n");
	script_send(sc, "-ERR TLS not available right now\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert(strstr(err.text, "refused STLS"), "%s", err.text);
	assert_played();
}

Test(pop3_session, stls_injection_is_discarded)
{
	static const char injected[] = "+OK\r\nSTLS\r\nUSER\r\n.\r\n+OK injected\r\n";
	struct pop3_options o = test_options();

	o.conn.tls = TLS_STARTTLS;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "+OK\r\nSTLS\r\nUSER\r\n.\r\n");
	script_expect(sc, "STLS\r\n");
	/* A man in the middle appends replies after the +OK. */
	script_sendf(sc, "+OK Begin TLS negotiation now.\r\n%s", injected);
	script_close(sc);
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	/* The next thing after the +OK is the handshake, which fails on
	 * this peer: the injected bytes were never taken as replies. */
	cr_assert(strstr(err.text, "TLS"), "%s", err.text);
	cr_assert_null(strstr(err.text, "injected"), "%s", err.text);
	cr_assert_eq(pop3_stls_discarded(pc), strlen(injected));
	cr_assert(strstr(trace.data, "discarded"), "%s", trace.data);
}

Test(pop3_session, no_password_without_tls_unless_tls_none)
{
	struct pop3_options o = test_options();

	/* Claims implicit TLS, but the connection (a script) is plain. */
	o.conn.tls = TLS_IMPLICIT;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert(strstr(err.text, "refusing to send the password"), "%s", err.text);
	assert_played();
}

Test(pop3_session, line_break_in_password_is_refused)
{
	struct pop3_options o = test_options();

	o.password = "secret\r\nDELE 1";
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert(strstr(err.text, "line break"), "%s", err.text);
	assert_played();
}

Test(pop3_session, no_login_without_user)
{
	struct pop3_options o = test_options();

	o.user = NULL;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_BASIC);
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_client_state(pc), POP3_STATE_AUTHORIZATION);
	assert_played();
}

Test(pop3_session, too_many_capa_lines)
{
	struct pop3_options o = test_options();
	struct buf capa = BUF_INIT;

	buf_append_str(&capa, "+OK\r\n");
	for (int i = 0; i <= POP3_CAPA_MAX; i++)
		buf_printf(&capa, "X-CAP-%d\r\n", i);
	buf_append_str(&capa, ".\r\n");
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, buf_cstr(&capa));
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert(strstr(err.text, "more than 200 CAPA lines"), "%s", err.text);
	buf_free(&capa);
}

/* A TLS record where the POP3 greeting should be: the port wants TLS. */
Test(pop3_session, tls_record_instead_of_the_greeting)
{
	struct pop3_options o = test_options();

	start_client(&o);
	script_send_bytes(sc, "\x16\x03\x01\x00\x05hello", 10);
	script_close(sc);
	cr_assert_eq(pop3_client_open(pc, &err), -1);
	cr_assert(strstr(err.text, "pop.test:110 answered with TLS"), "%s", err.text);
	cr_assert(strstr(err.text, "use `tls: implicit`"), "%s", err.text);
}
