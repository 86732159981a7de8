/*
 * NOTIFY (RFC 5465) over a scripted server: the command, its refusal,
 * and what the server then sends (a STATUS or LIST of any mailbox, a
 * NOTIFICATIONOVERFLOW) handed to the session's `unsolicited` handler
 * while idling.
 */
#include "test_imap_session_support.h"

#include <stdlib.h>

#include "twinbox/util/buf.h"

TestSuite(imap_notify, .fini = stop_session);

#define NOTIFY_CAPS BASIC_CAPS " NOTIFY"
#define EVENTS      "(personal (MessageNew MessageExpunge FlagChange MailboxName))"

static struct buf seen = BUF_INIT;

static void on_unsolicited(void *ctx, const struct imap_response *resp)
{
	(void)ctx;
	if (resp->type == IMAP_DATA_STATUS)
		buf_printf(&seen, "STATUS %.*s %u;", (int)resp->status.name_len, resp->status.name,
		           resp->status.have & IMAP_STATUS_MESSAGES ? resp->status.messages : 0);
	else if (resp->type == IMAP_DATA_LIST)
		buf_printf(&seen, "LIST %.*s;", (int)resp->list.name_len, resp->list.name);
	else if (resp->code.type == IMAP_CODE_NOTIFICATIONOVERFLOW)
		buf_printf(&seen, "OVERFLOW;");
	else
		buf_printf(&seen, "OTHER;");
}

Test(imap_notify, events_of_any_mailbox_reach_the_handler_while_idling)
{
	struct imap_session_handlers h = {.unsolicited = on_unsolicited};

	buf_reset(&seen);
	login_with_caps(NOTIFY_CAPS);
	imap_session_set_handlers(s, &h);
	script_expect(sc, "A2 NOTIFY SET " EVENTS "\r\n");
	script_send(sc, "A2 OK NOTIFY completed\r\n");
	script_expect(sc, "A3 IDLE\r\n");
	script_send(sc, "+ idling\r\n");
	script_send(sc, "* STATUS Work (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 7 UNSEEN 1 HIGHESTMODSEQ 2)\r\n");
	script_send(sc, "* LIST () \"/\" Renamed (\"OLDNAME\" (NewBox))\r\n");
	script_send(sc, "* OK [NOTIFICATIONOVERFLOW] Too many events\r\n");
	script_expect(sc, "DONE\r\n");
	script_send(sc, "A3 OK Idle completed\r\n");
	cr_assert_eq(imap_notify(s, EVENTS, &err), 0, "%s", err.text);
	cr_assert_eq(imap_idle_start(s, &err), 0, "%s", err.text);
	while (strstr(buf_cstr(&seen), "OVERFLOW") == NULL)
		cr_assert_geq(imap_idle_wait(s, 1000, &err), 0, "%s", err.text);
	cr_assert_str_eq(buf_cstr(&seen), "STATUS Work 1;LIST Renamed;OVERFLOW;");
	cr_assert_eq(imap_idle_done(s, &err), 0, "%s", err.text);
	assert_played();
	buf_free(&seen);
}

Test(imap_notify, a_refusal_leaves_the_session_usable)
{
	login_with_caps(NOTIFY_CAPS);
	script_expect(sc, "A2 NOTIFY SET " EVENTS "\r\n");
	script_send(sc, "A2 NO [BADEVENT (MessageNew MessageExpunge)] Unsupported event\r\n");
	script_expect(sc, "A3 NOOP\r\n");
	script_send(sc, "A3 OK NOOP completed\r\n");
	cr_assert_eq(imap_notify(s, EVENTS, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX, "%s", err.text);
	cr_assert(strstr(err.text, "Unsupported event"), "%s", err.text);
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_notify, not_sent_to_a_server_without_it)
{
	login_basic();
	cr_assert_eq(imap_notify(s, EVENTS, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "does not support NOTIFY"), "%s", err.text);
	assert_played();
}
