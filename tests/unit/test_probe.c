/*
 * Connection checks (imap_probe_conn, pop3_probe_conn) against scripted
 * servers: the misbehaviour a real server won't produce.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "twinbox/imap/probe.h"
#include "twinbox/net/script.h"
#include "twinbox/pop3/probe.h"
#include "twinbox/util/xmalloc.h"

static struct script *s;
static struct conn *c;
static struct server_probe probe;
static struct error err;

static const struct conn_options plain_opts = {.host = "mail.test", .port = 143, .tls = TLS_NONE};
static const struct conn_options starttls_opts = {.host = "mail.test", .port = 143, .tls = TLS_STARTTLS};

static void setup(void)
{
	s = script_new();
	c = conn_from_transport(script_transport(s));
	error_clear(&err);
	memset(&probe, 0, sizeof(probe));
}

static void teardown(void)
{
	/* The probe took the connection over and closed it. */
	script_free(s);
	server_probe_free(&probe);
}

TestSuite(probe, .init = setup, .fini = teardown);

static void assert_script_played(void)
{
	const char *why;

	cr_assert(script_check(s, &why), "script: %s", why);
}

Test(probe, imap_plain_reads_capabilities_and_logs_out)
{
	script_send(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
	script_expect(s, "T1 CAPABILITY\r\n");
	script_send(s, "* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\nT1 OK done\r\n");
	script_expect(s, "T2 LOGOUT\r\n");
	script_send(s, "* BYE bye\r\nT2 OK bye\r\n");
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), 0, "%s", err.text);
	cr_assert_str_eq(probe.capabilities, "IMAP4rev1 IDLE UIDPLUS");
	cr_assert_str_eq(probe.greeting, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready");
	cr_assert_str_eq(probe.security, "plain");
	assert_script_played();
}

Test(probe, imap_byte_at_a_time)
{
	script_set_chunk(s, 1);
	script_send(s, "* OK hi\r\n");
	script_expect(s, "T1 CAPABILITY\r\n");
	script_send(s, "* CAPABILITY IMAP4rev1\r\nT1 OK done\r\n");
	script_expect(s, "T2 LOGOUT\r\n");
	script_send(s, "T2 OK bye\r\n");
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), 0, "%s", err.text);
	cr_assert_str_eq(probe.capabilities, "IMAP4rev1");
}

Test(probe, imap_garbage_greeting)
{
	script_send(s, "SSH-2.0-OpenSSH_9.2\r\n");
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "did not greet like an IMAP server"), "%s", err.text);
	cr_assert(strstr(err.text, "SSH-2.0"), "%s", err.text);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
}

Test(probe, imap_bye_greeting)
{
	script_send(s, "* BYE too many connections\r\n");
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "too many connections"), "%s", err.text);
}

Test(probe, imap_preauth_on_plaintext_when_tls_required)
{
	script_send(s, "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n");
	cr_assert_eq(imap_probe_conn(c, &starttls_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "PREAUTH"), "%s", err.text);
	assert_script_played(); /* nothing was sent */
}

/* With tls: none a PREAUTH greeting is fine; the check asks for nothing
 * beyond CAPABILITY (no ENABLE, ID or NAMESPACE). */
Test(probe, imap_preauth_on_plaintext_when_allowed)
{
	script_send(s, "* PREAUTH [CAPABILITY IMAP4rev1 ENABLE ID NAMESPACE] logged in\r\n");
	script_expect(s, "T1 CAPABILITY\r\n");
	script_send(s, "* CAPABILITY IMAP4rev1 ENABLE ID NAMESPACE\r\nT1 OK done\r\n");
	script_expect(s, "T2 LOGOUT\r\n");
	script_send(s, "* BYE bye\r\nT2 OK bye\r\n");
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), 0, "%s", err.text);
	cr_assert_str_eq(probe.greeting, "* PREAUTH [CAPABILITY IMAP4rev1 ENABLE ID NAMESPACE] logged in");
	cr_assert_str_eq(probe.capabilities, "IMAP4rev1 ENABLE ID NAMESPACE");
	assert_script_played();
}

Test(probe, imap_starttls_missing_from_capabilities)
{
	script_send(s, "* OK hi\r\n");
	script_expect(s, "T1 CAPABILITY\r\n");
	script_send(s, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nT1 OK done\r\n");
	cr_assert_eq(imap_probe_conn(c, &starttls_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "does not offer STARTTLS"), "%s", err.text);
	assert_script_played(); /* STARTTLS was never sent */
}

Test(probe, imap_starttls_injection_is_discarded)
{
	script_send(s, "* OK hi\r\n");
	script_expect(s, "T1 CAPABILITY\r\n");
	script_send(s, "* CAPABILITY IMAP4rev1 STARTTLS\r\nT1 OK done\r\n");
	script_expect(s, "T2 STARTTLS\r\n");
	/* A man in the middle appends a fake tagged reply after the OK. */
	script_send(s, "T2 OK begin TLS\r\nT3 OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n");
	script_close(s);
	cr_assert_eq(imap_probe_conn(c, &starttls_opts, &probe, &err), -1);
	/* The injected line never counts as the reply to T3: the next thing
	 * after STARTTLS is the TLS handshake, which fails on this peer. */
	cr_assert(strstr(err.text, "TLS"), "%s", err.text);
	cr_assert_null(strstr(err.text, "injected"), "%s", err.text);
}

Test(probe, imap_capability_refused)
{
	script_send(s, "* OK hi\r\n");
	script_expect(s, "T1 CAPABILITY\r\n");
	script_send(s, "T1 BAD no\r\n");
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "refused CAPABILITY"), "%s", err.text);
}

Test(probe, imap_overlong_line_is_an_error)
{
	size_t n = 70 * 1024;
	char *line = xmalloc(n + 3);

	memset(line, 'A', n);
	memcpy(line, "* OK ", 5);
	memcpy(line + n, "\r\n", 3);
	script_send(s, line);
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "longer than"), "%s", err.text);
	free(line);
}

Test(probe, imap_connection_cut_in_the_middle)
{
	script_send(s, "* OK hi\r\n");
	script_expect(s, "T1 CAPABILITY\r\n");
	script_send(s, "* CAPABILITY IMAP4");
	script_close(s);
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "CAPABILITY"), "%s", err.text);
	cr_assert(strstr(err.text, "closed"), "%s", err.text);
}

Test(probe, imap_endless_untagged_lines_are_an_error)
{
	script_send(s, "* OK hi\r\n");
	script_expect(s, "T1 CAPABILITY\r\n");
	for (int i = 0; i < 1001; i++)
		script_send(s, "* OK still here\r\n");
	script_send(s, "T1 OK done\r\n");
	cr_assert_eq(imap_probe_conn(c, &plain_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "more than 1000"), "%s", err.text);
}

Test(probe, pop3_capa_and_quit)
{
	script_send(s, "+OK POP3 ready\r\n");
	script_expect(s, "CAPA\r\n");
	script_send(s, "+OK list follows\r\nTOP\r\nUIDL\r\nSASL PLAIN LOGIN\r\n.\r\n");
	script_expect(s, "QUIT\r\n");
	script_send(s, "+OK bye\r\n");
	cr_assert_eq(pop3_probe_conn(c, &plain_opts, &probe, &err), 0, "%s", err.text);
	cr_assert_str_eq(probe.capabilities, "TOP, UIDL, SASL PLAIN LOGIN");
	assert_script_played();
}

Test(probe, pop3_without_capa)
{
	script_send(s, "+OK POP3 ready\r\n");
	script_expect(s, "CAPA\r\n");
	script_send(s, "-ERR unknown command\r\n");
	script_expect(s, "QUIT\r\n");
	script_send(s, "+OK bye\r\n");
	cr_assert_eq(pop3_probe_conn(c, &plain_opts, &probe, &err), 0, "%s", err.text);
	cr_assert_str_eq(probe.capabilities, "");
}

Test(probe, pop3_stls_missing_while_required)
{
	script_send(s, "+OK POP3 ready\r\n");
	script_expect(s, "CAPA\r\n");
	script_send(s, "+OK\r\nUIDL\r\n.\r\n");
	cr_assert_eq(pop3_probe_conn(c, &starttls_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "does not offer STLS"), "%s", err.text);
	assert_script_played();
}

Test(probe, pop3_in_use_greeting)
{
	script_send(s, "-ERR [IN-USE] mailbox locked\r\n");
	cr_assert_eq(pop3_probe_conn(c, &plain_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "[IN-USE] mailbox locked"), "%s", err.text);
}

Test(probe, pop3_garbage_status)
{
	script_send(s, "+OK hi\r\n");
	script_expect(s, "CAPA\r\n");
	script_send(s, "HTTP/1.1 400 Bad Request\r\n");
	cr_assert_eq(pop3_probe_conn(c, &plain_opts, &probe, &err), -1);
	cr_assert(strstr(err.text, "not a POP3 status"), "%s", err.text);
}
