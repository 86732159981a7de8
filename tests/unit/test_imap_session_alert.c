/*
 * [ALERT] responses (RFC 3501 7.1): shown as warnings, escaped, whether
 * they come in the greeting, untagged or tagged; never when they arrive
 * in plain text before a STARTTLS upgrade.
 */
#include "test_imap_session_support.h"

#include "twinbox/util/buf.h"

static struct buf lines = BUF_INIT;

static void capture(enum log_level level, const char *line, void *ctx)
{
	(void)ctx;
	buf_printf(&lines, "%d:%s\n", (int)level, line);
}

static void setup(void)
{
	buf_reset(&lines);
	log_set_sink(capture, NULL);
	log_set_level(LOG_WARN);
}

static void teardown(void)
{
	stop_session();
	log_set_sink(NULL, NULL);
	log_set_level(LOG_INFO);
	buf_free(&lines);
}

TestSuite(imap_alert, .init = setup, .fini = teardown);

#define WARN "1:"

Test(imap_alert, greeting_and_tagged_login_alerts_are_warnings)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [ALERT] Maintenance at 22:00\x1b[2J\r\n");
	script_expect(sc, "A1 CAPABILITY\r\n");
	script_send(sc, "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nA1 OK done\r\n");
	script_expect(sc, "A2 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A2 OK [ALERT] Your password expires in 3 days\r\n");
	script_expect(sc, "A3 CAPABILITY\r\n");
	script_send(sc, "* CAPABILITY IMAP4rev1\r\nA3 OK done\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	assert_played();
	cr_assert(
	    strstr(buf_cstr(&lines), WARN "mail.test:143 sent an alert: Maintenance at 22:00\\x1b[2J\n"),
	    "%s", buf_cstr(&lines));
	cr_assert(
	    strstr(buf_cstr(&lines), WARN "mail.test:143 sent an alert: Your password expires in 3 days\n"),
	    "%s", buf_cstr(&lines));
}

Test(imap_alert, untagged_alert_during_a_command_is_a_warning)
{
	login_basic();
	script_expect(sc, "A2 NOOP\r\n");
	script_send(sc, "* NO [ALERT] Quota at 95%\r\nA2 OK done\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	assert_played();
	cr_assert(strstr(buf_cstr(&lines), WARN "mail.test:143 sent an alert: Quota at 95%\n"), "%s",
	          buf_cstr(&lines));
}

Test(imap_alert, alerts_before_starttls_are_never_shown)
{
	struct imap_session_options o = test_options();

	o.conn.tls = TLS_STARTTLS;
	start_session(&o);
	log_set_level(LOG_TRACE);
	script_send(sc, "* OK [ALERT] plaintext greeting alert\r\n");
	script_expect(sc, "A1 CAPABILITY\r\n");
	script_send(sc, "* CAPABILITY IMAP4rev1 STARTTLS\r\nA1 OK done\r\n");
	script_expect(sc, "A2 STARTTLS\r\n");
	/* A man in the middle appends an alert after the OK. */
	script_send(sc, "A2 OK Begin TLS negotiation now\r\n* OK [ALERT] injected alert\r\n");
	script_close(sc);
	cr_assert_eq(imap_session_open(s, &err), -1);
	/* the injected bytes were never read: not even the trace saw them */
	cr_assert_null(strstr(buf_cstr(&lines), "injected"), "%s", buf_cstr(&lines));
	/* the plaintext greeting's alert is no warning */
	cr_assert_null(strstr(buf_cstr(&lines), WARN "mail.test:143 sent an alert"), "%s", buf_cstr(&lines));
	cr_assert(strstr(buf_cstr(&lines), "plaintext greeting alert"), "the trace shows the greeting: %s",
	          buf_cstr(&lines));
}
