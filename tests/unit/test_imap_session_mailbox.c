/*
 * IMAP session over a scripted server: folder commands, mailbox name
 * encoding and quoting, SELECT / EXAMINE with CONDSTORE and QRESYNC,
 * STATUS, errors naming the command and the server's text.
 */
#include "test_imap_session_support.h"

#include <stdlib.h>

TestSuite(imap_mailbox, .fini = stop_session);

Test(imap_mailbox, list_with_special_use_and_list_status)
{
	struct imap_folder *f;
	size_t n;

	login_with_caps(BASIC_CAPS " LIST-EXTENDED LIST-STATUS SPECIAL-USE");
	script_expect(
	    sc, "A2 LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UIDNEXT UIDVALIDITY UNSEEN))\r\n");
	script_send(sc, "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                "* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 7 UNSEEN 1)\r\n"
	                "* LIST (\\HasNoChildren \\Sent) \"/\" \"Gesendete Objekte\"\r\n"
	                "* STATUS \"Gesendete Objekte\" (MESSAGES 12 UIDNEXT 13 UIDVALIDITY 8 UNSEEN 0)\r\n"
	                "* LIST (\\Noselect \\HasChildren) \"/\" \"Entw&APw-rfe\"\r\n"
	                "A2 OK List completed\r\n");
	cr_assert_eq(imap_list(s, "*", IMAP_LIST_STATUS, &f, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(f[0].name, "INBOX");
	cr_assert_eq(f[0].status.messages, 3);
	cr_assert_eq(f[1].special_use, IMAP_SPECIAL_SENT);
	cr_assert_str_eq(imap_special_use_name(f[1].special_use), "\\Sent");
	cr_assert_eq(f[1].status.messages, 12);
	cr_assert_str_eq(f[2].name, "Entw\xc3\xbcrfe");
	cr_assert_str_eq(f[2].raw, "Entw&APw-rfe");
	cr_assert(f[2].attrs & IMAP_FOLDER_NOSELECT);
	cr_assert_eq(f[2].status.have, 0);
	cr_assert_eq(f[0].delimiter, '/');
	imap_folders_free(f, n);
	assert_played();
}

Test(imap_mailbox, list_without_list_status_pipelines_status)
{
	struct imap_folder *f;
	size_t n;

	login_basic();
	script_expect(sc, "A2 LIST \"\" \"*\"\r\n");
	script_send(sc, "* LIST () \"/\" INBOX\r\n* LIST (\\Noselect) \"/\" Old\r\n* LIST () \"/\" Old/A\r\n"
	                "A2 OK done\r\n");
	/* both STATUS commands before any reply; Old is not selectable */
	script_expect(sc, "A3 STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)\r\n"
	                  "A4 STATUS \"Old/A\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)\r\n");
	script_send(sc, "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 1 UNSEEN 0)\r\nA3 OK s\r\n"
	                "A4 NO [NONEXISTENT] gone meanwhile\r\n");
	cr_assert_eq(imap_list(s, "*", IMAP_LIST_STATUS, &f, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 3);
	cr_assert_eq(f[0].status.messages, 2);
	cr_assert_eq(f[2].status.have, 0, "a failed STATUS leaves the folder without status");
	imap_folders_free(f, n);
	assert_played();
}

Test(imap_mailbox, undecodable_name_is_kept_raw)
{
	struct imap_folder *f;
	size_t n;

	login_basic();
	script_expect(sc, "A2 LIST \"\" \"%\"\r\n");
	script_send(sc, "* LIST () \"/\" \"bad&-name&Jjo\"\r\nA2 OK done\r\n");
	cr_assert_eq(imap_list(s, "%", 0, &f, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 1);
	cr_assert_null(f[0].name);
	cr_assert_str_eq(f[0].raw, "bad&-name&Jjo");
	imap_folders_free(f, n);
}

Test(imap_mailbox, create_delete_rename_subscribe_encode_names)
{
	login_basic();
	script_expect(sc, "A2 CREATE \"Entw&APw-rfe/Q&AOQ-\"\r\n");
	script_send(sc, "A2 OK created\r\n");
	script_expect(sc, "A3 RENAME \"a \\\"b\\\" \\\\c\" \"Tom &- Jerry\"\r\n");
	script_send(sc, "A3 OK renamed\r\n");
	script_expect(sc, "A4 SUBSCRIBE \"Tom &- Jerry\"\r\n");
	script_send(sc, "A4 OK subscribed\r\n");
	script_expect(sc, "A5 UNSUBSCRIBE \"Tom &- Jerry\"\r\n");
	script_send(sc, "A5 OK unsubscribed\r\n");
	script_expect(sc, "A6 DELETE \"Tom &- Jerry\"\r\n");
	script_send(sc, "A6 NO [NONEXISTENT] Mailbox doesn't exist\r\n");
	cr_assert_eq(imap_create(s, "Entw\xc3\xbcrfe/Q\xc3\xa4", &err), 0, "%s", err.text);
	cr_assert_eq(imap_rename(s, "a \"b\" \\c", "Tom & Jerry", &err), 0, "%s", err.text);
	cr_assert_eq(imap_subscribe(s, "Tom & Jerry", true, &err), 0, "%s", err.text);
	cr_assert_eq(imap_subscribe(s, "Tom & Jerry", false, &err), 0, "%s", err.text);
	cr_assert_eq(imap_delete(s, "Tom & Jerry", &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert_str_eq(err.text, "DELETE \"Tom & Jerry\" failed: NO [NONEXISTENT] Mailbox doesn't exist");
	assert_played();
}

Test(imap_mailbox, control_characters_in_names_refused)
{
	login_basic();
	cr_assert_eq(imap_create(s, "bad\r\nA9 DELETE INBOX", &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "line break"), "%s", err.text);
	cr_assert_eq(imap_select(s, "x\ny", false, NULL, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	assert_played(); /* nothing was sent */
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED);
}

Test(imap_mailbox, utf8_names_as_literals_when_utf8_accept_enabled)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1 ENABLE UTF8=ACCEPT LITERAL-] ok\r\n");
	script_expect(sc, "A2 ENABLE UTF8=ACCEPT\r\n");
	script_send(sc, "* ENABLED UTF8=ACCEPT\r\nA2 OK enabled\r\n");
	script_expect(sc, "A3 CREATE {9+}\r\nEntw\xc3\xbcrfe\r\n");
	script_send(sc, "A3 OK created\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert(imap_session_enabled(s) & IMAP_ENABLED_UTF8);
	cr_assert_eq(imap_create(s, "Entw\xc3\xbcrfe", &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_mailbox, synchronizing_literal_waits_for_continuation)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1 ENABLE UTF8=ACCEPT] ok\r\n");
	script_expect(sc, "A2 ENABLE UTF8=ACCEPT\r\n");
	script_send(sc, "* ENABLED UTF8=ACCEPT\r\nA2 OK enabled\r\n");
	script_expect(sc, "A3 CREATE {2}\r\n");
	script_send(sc, "+ Ready for literal data\r\n");
	script_expect(sc, "\xc3\xa4\r\n");
	script_send(sc, "A3 OK created\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_create(s, "\xc3\xa4", &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_mailbox, select_failure_names_command_and_server_text)
{
	login_basic();
	script_expect(sc, "A2 SELECT \"Archive\"\r\n");
	script_send(sc, "A2 NO [NONEXISTENT] Mailbox doesn't exist\r\n");
	cr_assert_eq(imap_select(s, "Archive", false, NULL, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert_str_eq(err.text, "SELECT \"Archive\" failed: NO [NONEXISTENT] Mailbox doesn't exist");
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED);
	assert_played();
}

Test(imap_mailbox, select_reads_mailbox_data)
{
	const struct imap_mailbox_info *mi;

	login_with_caps(BASIC_CAPS " CONDSTORE");
	script_expect(sc, "A2 SELECT \"INBOX\" (CONDSTORE)\r\n");
	script_send(
	    sc,
	    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
	    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
	    "* 172 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 12] first unseen\r\n"
	    "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [UIDNEXT 4392] Predicted next UID\r\n"
	    "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"
	    "A2 OK [READ-WRITE] SELECT completed\r\n");
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), 0, "%s", err.text);
	mi = imap_selected(s);
	cr_assert_eq(mi->exists, 172);
	cr_assert_eq(mi->recent, 1);
	cr_assert_eq(mi->unseen, 12);
	cr_assert_eq(mi->uidvalidity, 3857529045u);
	cr_assert_eq(mi->uidnext, 4392);
	cr_assert_eq(mi->highestmodseq, 715194045007ull);
	cr_assert(mi->keywords_allowed);
	cr_assert(!mi->readonly);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_SELECTED);
	assert_played();
}

Test(imap_mailbox, mailbox_codes_outside_select_are_not_trusted)
{
	login_basic();
	select_basic("INBOX", 2);
	script_expect(sc, "A3 NOOP\r\n");
	script_send(sc, "* OK [UIDVALIDITY 999] injected\r\n* OK [UIDNEXT 77] x\r\nA3 OK noop\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_selected(s)->uidvalidity, 42);
	cr_assert_eq(imap_selected(s)->uidnext, 3);
	assert_played();
}

static struct imap_uidset vanished_seen;
static bool vanished_earlier;

static void on_vanished(void *ctx, const struct imap_uid_set *uids, bool earlier)
{
	(void)ctx;
	for (size_t i = 0; i < uids->count; i++)
		imap_uidset_add_range(&vanished_seen, uids->ranges[i].first, uids->ranges[i].last);
	vanished_earlier = earlier;
}

Test(imap_mailbox, examine_with_qresync_parameters)
{
	struct imap_session_handlers h = {.vanished = on_vanished};
	struct imap_uidset known = IMAP_UIDSET_INIT;
	struct imap_qresync qr = {
	    .uidvalidity = 67890007, .modseq = 20050715194045000ull, .known_uids = &known};
	struct imap_session_options o = test_options();

	imap_uidset_add_range(&known, 41, 211);
	imap_uidset_add_range(&known, 214, 541);
	start_session(&o);
	imap_session_set_handlers(s, &h);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1 ENABLE CONDSTORE QRESYNC] ok\r\n");
	script_expect(sc, "A2 ENABLE CONDSTORE QRESYNC\r\n");
	script_send(sc, "* ENABLED QRESYNC\r\nA2 OK enabled\r\n");
	script_expect(sc, "A3 EXAMINE \"INBOX\" (QRESYNC (67890007 20050715194045000 41:211,214:541))\r\n");
	script_send(
	    sc, "* 3 EXISTS\r\n* OK [UIDVALIDITY 67890007] x\r\n* OK [HIGHESTMODSEQ 20050715194046000] x\r\n"
	        "* VANISHED (EARLIER) 41,43:116\r\n"
	        "* 2 FETCH (UID 300 FLAGS (\\Seen) MODSEQ (20050715194045999))\r\n"
	        "A3 OK [READ-ONLY] EXAMINE completed\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_select(s, "INBOX", true, &qr, &err), 0, "%s", err.text);
	cr_assert(imap_selected(s)->readonly);
	cr_assert(vanished_earlier);
	cr_assert_eq(imap_uidset_size(&vanished_seen), 75);
	cr_assert_eq(imap_selected(s)->exists, 3, "VANISHED (EARLIER) does not change the count");
	cr_assert_eq(imap_seq_to_uid(s, 2), 300);
	imap_uidset_free(&known);
	imap_uidset_free(&vanished_seen);
	assert_played();
}

Test(imap_mailbox, status_of_one_folder)
{
	struct imap_status_info st;

	login_basic();
	script_expect(sc, "A2 STATUS \"Work\" (MESSAGES UIDNEXT UIDVALIDITY)\r\n");
	script_send(sc, "* STATUS Work (MESSAGES 17 UIDNEXT 20 UIDVALIDITY 5)\r\nA2 OK done\r\n");
	cr_assert_eq(imap_status(s, "Work",
	                         IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT | IMAP_STATUS_UIDVALIDITY |
	                             IMAP_STATUS_HIGHESTMODSEQ,
	                         &st, &err),
	             0, "%s", err.text);
	cr_assert_eq(st.messages, 17);
	cr_assert_eq(st.uidnext, 20);
	cr_assert_eq(st.uidvalidity, 5);
	assert_played();
}

Test(imap_mailbox, unselect_and_close_fallback)
{
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	select_basic("Work", 0);
	/* no UNSELECT: EXAMINE first so that CLOSE cannot expunge */
	script_expect(sc, "A3 EXAMINE \"Work\"\r\n");
	script_send(sc, "* 0 EXISTS\r\nA3 OK [READ-ONLY] done\r\n");
	script_expect(sc, "A4 CLOSE\r\n");
	script_send(sc, "A4 OK closed\r\n");
	cr_assert_eq(imap_unselect(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED);
	assert_played();
}
