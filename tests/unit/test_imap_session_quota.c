/*
 * GETQUOTAROOT over a scripted server: the roots and their figures as
 * Dovecot and RFC 9208 send them, a server without QUOTA, refusals,
 * hostile numbers and too many roots.
 */
#include "test_imap_session_support.h"

#include <stdio.h>
#include <stdlib.h>

#include "twinbox/util/buf.h"

TestSuite(imap_quota, .fini = stop_session);

#define QUOTA_CAPS BASIC_CAPS " QUOTA"

static struct imap_quota_root *roots;
static size_t nroots;

static int ask(const char *mailbox)
{
	imap_quota_roots_free(roots, nroots);
	roots = NULL;
	nroots = 0;
	return imap_getquotaroot(s, mailbox, &roots, &nroots, &err);
}

static void done(void)
{
	imap_quota_roots_free(roots, nroots);
	roots = NULL;
	nroots = 0;
	stop_session();
}

Test(imap_quota, dovecot_answer, .fini = done)
{
	login_with_caps(QUOTA_CAPS);
	script_expect(sc, "A2 GETQUOTAROOT \"INBOX\"\r\n");
	script_send(sc, "* QUOTAROOT INBOX \"User quota\"\r\n"
	                "* QUOTA \"User quota\" (STORAGE 5 100)\r\n"
	                "A2 OK Getquotaroot completed (0.002 + 0.000 + 0.001 secs).\r\n");
	cr_assert_eq(ask("INBOX"), 0, "%s", err.text);
	cr_assert_eq(nroots, 1);
	cr_assert_str_eq(roots[0].name, "User quota");
	cr_assert_eq(roots[0].have, IMAP_QUOTA_STORAGE);
	cr_assert_eq(roots[0].storage_used, 5);
	cr_assert_eq(roots[0].storage_limit, 100);
	assert_played();
}

Test(imap_quota, without_the_capability_nothing_is_asked, .fini = done)
{
	login_basic();
	cr_assert_eq(ask("INBOX"), 0, "%s", err.text);
	cr_assert_eq(nroots, 0);
	cr_assert_null(roots);
	assert_played();
}

Test(imap_quota, several_roots_resources_and_strays, .fini = done)
{
	login_with_caps(QUOTA_CAPS);
	script_expect(sc, "A2 GETQUOTAROOT \"Lists/dev\"\r\n");
	/* A QUOTA before its QUOTAROOT, one for a root not named (dropped),
	 * a root without figures, a resource twinbox has no use for. */
	script_send(sc, "* QUOTA \"#user/alice\" (MESSAGE 90 100 STORAGE 120 100 X-ANNOTATIONS 1 2)\r\n"
	                "* QUOTAROOT Lists/dev \"#user/alice\" \"\" \"!shared\"\r\n"
	                "* QUOTA \"!shared\" ()\r\n"
	                "* QUOTA \"#user/bob\" (STORAGE 1 2)\r\n"
	                "A2 OK done\r\n");
	cr_assert_eq(ask("Lists/dev"), 0, "%s", err.text);
	cr_assert_eq(nroots, 3);
	cr_assert_str_eq(roots[0].name, "#user/alice");
	cr_assert_eq(roots[0].have, IMAP_QUOTA_STORAGE | IMAP_QUOTA_MESSAGE);
	cr_assert_eq(roots[0].storage_used, 120, "usage over the limit is kept as sent");
	cr_assert_eq(roots[0].storage_limit, 100);
	cr_assert_eq(roots[0].message_used, 90);
	cr_assert_eq(roots[0].message_limit, 100);
	cr_assert_str_eq(roots[1].name, "");
	cr_assert_eq(roots[1].have, 0);
	cr_assert_str_eq(roots[2].name, "!shared");
	cr_assert_eq(roots[2].have, 0);
	assert_played();
}

Test(imap_quota, no_roots_no_quota, .fini = done)
{
	login_with_caps(QUOTA_CAPS);
	script_expect(sc, "A2 GETQUOTAROOT \"Archive\"\r\n");
	script_send(sc, "* QUOTAROOT Archive\r\nA2 OK done\r\n");
	cr_assert_eq(ask("Archive"), 0, "%s", err.text);
	cr_assert_eq(nroots, 0);
	assert_played();
}

Test(imap_quota, refusal_is_a_mailbox_error, .fini = done)
{
	login_with_caps(QUOTA_CAPS);
	script_expect(sc, "A2 GETQUOTAROOT \"Nope\"\r\n");
	script_send(sc, "* QUOTAROOT Nope \"r\"\r\nA2 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n");
	cr_assert_eq(ask("Nope"), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "GETQUOTAROOT \"Nope\" failed: NO [NONEXISTENT] Mailbox doesn't exist") !=
	              NULL,
	          "%s", err.text);
	cr_assert_eq(nroots, 0);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED, "the session goes on");
	assert_played();
}

Test(imap_quota, hostile_number_ends_the_session, .fini = done)
{
	login_with_caps(QUOTA_CAPS);
	script_expect(sc, "A2 GETQUOTAROOT \"INBOX\"\r\n");
	script_send(sc,
	            "* QUOTAROOT INBOX r\r\n* QUOTA r (STORAGE 1 99999999999999999999)\r\nA2 OK done\r\n");
	cr_assert_eq(ask("INBOX"), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "QUOTA limit: the number") != NULL, "%s", err.text);
	cr_assert_eq(nroots, 0);
}

Test(imap_quota, too_many_roots_are_cut, .fini = done)
{
	struct buf b = BUF_INIT;

	login_with_caps(QUOTA_CAPS);
	script_expect(sc, "A2 GETQUOTAROOT \"INBOX\"\r\n");
	buf_printf(&b, "* QUOTAROOT INBOX");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, " r%d", i);
	buf_printf(&b, "\r\n");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "* QUOTA r%d (STORAGE %d 1000)\r\n", i, i);
	buf_printf(&b, "A2 OK done\r\n");
	script_send(sc, buf_cstr(&b));
	buf_free(&b);
	cr_assert_eq(ask("INBOX"), 0, "%s", err.text);
	cr_assert_eq(nroots, IMAP_QUOTA_ROOTS_MAX);
	cr_assert_str_eq(roots[15].name, "r15");
	cr_assert_eq(roots[15].storage_used, 15);
	assert_played();
}

Test(imap_quota, unsolicited_quota_is_ignored, .fini = done)
{
	login_with_caps(QUOTA_CAPS);
	script_expect(sc, "A2 NOOP\r\n");
	script_send(sc, "* QUOTA \"User quota\" (STORAGE 99 100)\r\nA2 OK done\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	assert_played();
}
