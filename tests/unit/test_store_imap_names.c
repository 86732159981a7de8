/*
 * The `imap` store's folder names over a scripted server: a Courier-like
 * personal namespace ("INBOX." with '.'), names that cannot round-trip,
 * the delimiter from LIST "" "" when there is no NAMESPACE, and "missing"
 * decided by LIST whatever the server's wording.
 */
#include "test_imap_session_support.h"

#include "twinbox/store/imap_store.h"
#include "twinbox/util/buf.h"

TestSuite(store_imap_script, .fini = stop_session);

static struct store *st;

#define COURIER_CAPS "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ NAMESPACE"

/* Logged in to a server whose personal namespace is "INBOX." / '.'. */
static void courier(void)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY " COURIER_CAPS "] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY " COURIER_CAPS "] Logged in\r\n");
	script_expect(sc, "A2 NAMESPACE\r\n");
	script_send(sc, "* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))\r\nA2 OK ns\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	st = imap_store_from_session(s);
	s = NULL; /* the store owns it now */
}

static void close_store(const char *tag)
{
	script_expectf(sc, "%s LOGOUT\r\n", tag); /* sent, not waited for */
	st->ops->close(st);
	st = NULL;
	assert_played();
}

Test(store_imap_script, courier_namespace_prefix_is_not_part_of_names)
{
	char **names;

	courier();
	script_expect(sc, "A3 LIST \"\" \"*\"\r\n");
	script_send(sc, "* LIST (\\HasChildren) \".\" INBOX\r\n"
	                "* LIST (\\HasNoChildren) \".\" \"INBOX.Sent\"\r\n"
	                "* LIST (\\Noselect \\HasChildren) \".\" \"INBOX.Work\"\r\n"
	                "* LIST (\\HasNoChildren) \".\" \"INBOX.Work.Projects\"\r\n"
	                "* LIST (\\HasNoChildren) \".\" \"INBOX.a/b\"\r\n"
	                "* LIST (\\HasNoChildren) \".\" \"INBOX.&AOk-t&AOk-\"\r\n"
	                "* LIST (\\HasNoChildren) \".\" \"#shared.team\"\r\n"
	                "* LIST (\\HasNoChildren) \".\" \"INBOX.INBOX\"\r\n"
	                "A3 OK LIST done\r\n");
	cr_assert_eq(st->ops->list_folders(st, &names, &err), 0, "%s", err.text);
	cr_assert_str_eq(names[0], "INBOX");
	cr_assert_str_eq(names[1], "Sent");
	cr_assert_str_eq(names[2], "Work/Projects", "the delimiter becomes '/'");
	cr_assert_str_eq(names[3], "\xc3\xa9t\xc3\xa9", "modified UTF-7 is decoded");
	cr_assert_null(names[4],
	               "\\Noselect, '/' inside a level, other namespaces and INBOX.INBOX are left out");
	store_names_free(names);
	close_store("A4");
}

static struct buf warnings = BUF_INIT;

static void capture(enum log_level level, const char *line, void *ctx)
{
	(void)ctx;
	if (level == LOG_WARN)
		buf_printf(&warnings, "%s\n", line);
}

/* Each name left out is named with its reason: a level with no name
 * (the name starts or ends with the separator, or has it twice in a
 * row), a control character, an encoded "/". */
Test(store_imap_script, names_left_out_say_why)
{
	char **names;
	const char *w;

	courier();
	buf_reset(&warnings);
	log_set_sink(capture, NULL);
	script_expect(sc, "A3 LIST \"\" \"*\"\r\n");
	script_send(sc, "* LIST () \".\" INBOX\r\n"
	                "* LIST () \".\" \"INBOX..lead\"\r\n"
	                "* LIST () \".\" \"INBOX.trail.\"\r\n"
	                "* LIST () \".\" \"INBOX.a..b\"\r\n"
	                "* LIST () \".\" \"INBOX.bell\x07\"\r\n"
	                "* LIST () \".\" \"INBOX.a&AC8-b\"\r\n"
	                "A3 OK LIST done\r\n");
	cr_assert_eq(st->ops->list_folders(st, &names, &err), 0, "%s", err.text);
	log_set_sink(NULL, NULL);
	w = buf_cstr(&warnings);
	cr_assert_str_eq(names[0], "INBOX");
	cr_assert_null(names[1], "%s", names[1]);
	cr_assert(strstr(w, "the mailbox \"INBOX..lead\" on the IMAP server is left out: after the namespace "
	                    "prefix \"INBOX.\" it starts with the level separator '.', so one of its "
	                    "levels has no name"),
	          "%s", w);
	cr_assert(strstr(w, "\"INBOX.trail.\" on the IMAP server is left out: after the namespace prefix "
	                    "\"INBOX.\" it ends with the level separator '.'"),
	          "%s", w);
	cr_assert(strstr(w, "it has the level separator '.' twice in a row"), "%s", w);
	cr_assert(strstr(w, "the IMAP server sent a mailbox name that cannot be used, so it is left out: the "
	                    "mailbox name \"INBOX.bell\\x07\" is not valid modified UTF-7: it contains a "
	                    "control character"),
	          "%s", w);
	cr_assert(strstr(w, "\"INBOX.a&AC8-b\" is not valid modified UTF-7: a \"/\" is base64-encoded"), "%s",
	          w);
	cr_assert_null(strstr(w, "empty level name"), "%s", w);
	cr_assert_null(strstr(w, "cannot be decoded;"), "%s", w);
	buf_free(&warnings);
	store_names_free(names);
	close_store("A4");
}

Test(store_imap_script, names_go_back_with_prefix_and_delimiter)
{
	courier();
	script_expect(sc, "A3 CREATE \"INBOX.Work.Projects\"\r\n");
	script_send(sc, "A3 OK created\r\n");
	cr_assert_eq(st->ops->create_folder(st, "Work/Projects", &err), 0, "%s", err.text);
	script_expect(sc, "A4 CREATE \"INBOX.&AOk-t&AOk-\"\r\n");
	script_send(sc, "A4 OK created\r\n");
	cr_assert_eq(st->ops->create_folder(st, "\xc3\xa9t\xc3\xa9", &err), 0, "%s", err.text);
	/* INBOX is INBOX, not INBOX.INBOX. */
	script_expect(sc, "A5 CREATE \"INBOX\"\r\n");
	script_send(sc, "A5 NO [ALREADYEXISTS] Mailbox exists\r\n");
	script_expect(sc, "A6 LIST \"\" \"INBOX\"\r\n");
	script_send(sc, "* LIST (\\HasChildren) \".\" INBOX\r\nA6 OK done\r\n");
	cr_assert_eq(st->ops->create_folder(st, "inbox", &err), 0, "an existing folder is no failure: %s",
	             err.text);
	/* A '.' inside a level cannot be said to this server: nothing sent. */
	cr_assert_eq(st->ops->create_folder(st, "v1.2", &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "contains '.'"), "%s", err.text);
	close_store("A7");
}

Test(store_imap_script, missing_is_decided_by_list_not_by_wording)
{
	struct store_folder *f = NULL;
	struct store_folder_info info;
	bool missing = false;

	courier();
	script_expect(sc, "A3 SELECT \"INBOX.Gone\"\r\n");
	script_send(sc, "A3 NO Unknown mailbox\r\n");
	script_expect(sc, "A4 LIST \"\" \"INBOX.Gone\"\r\n");
	script_send(sc, "A4 OK nothing\r\n");
	cr_assert_eq(st->ops->open_folder(st, "Gone", &f, &info, &missing, &err), -1);
	cr_assert(missing);
	cr_assert_eq(err.scope, ERR_MAILBOX);

	/* Refused but there: not missing, the server's reason is kept. */
	missing = true;
	script_expect(sc, "A5 SELECT \"INBOX.Locked\"\r\n");
	script_send(sc, "A5 NO [NOPERM] Permission denied\r\n");
	script_expect(sc, "A6 LIST \"\" \"INBOX.Locked\"\r\n");
	script_send(sc, "* LIST () \".\" \"INBOX.Locked\"\r\nA6 OK done\r\n");
	cr_assert_eq(st->ops->open_folder(st, "Locked", &f, &info, &missing, &err), -1);
	cr_assert(!missing);
	cr_assert(strstr(err.text, "Permission denied"), "%s", err.text);

	/* And one that opens. */
	script_expect(sc, "A7 SELECT \"INBOX.Sent\"\r\n");
	script_send(
	    sc, "* 2 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\n* OK [UIDNEXT 9] ok\r\nA7 OK [READ-WRITE] ok\r\n");
	cr_assert_eq(st->ops->open_folder(st, "Sent", &f, &info, &missing, &err), 0, "%s", err.text);
	cr_assert_eq(info.uidvalidity, 77);
	cr_assert_eq(info.uidnext, 9);
	cr_assert_eq(info.exists, 2);
	cr_assert_eq(info.highestmodseq, 0);
	cr_assert_eq(st->ops->caps & STORE_CAP_MODSEQ, 0, "no CONDSTORE");
	/* Leaving sends nothing: the mailbox stays selected until the next
	 * SELECT or LOGOUT, neither of which expunges (no CLOSE, ever). */
	st->ops->close_folder(f);
	close_store("A8");
}

Test(store_imap_script, delimiter_from_list_without_namespace)
{
	login_basic();
	st = imap_store_from_session(s);
	s = NULL;
	script_expect(sc, "A2 LIST \"\" \"\"\r\n");
	script_send(sc, "* LIST (\\Noselect) \".\" \"\"\r\nA2 OK done\r\n");
	script_expect(sc, "A3 CREATE \"A.B\"\r\n");
	script_send(sc, "A3 OK created\r\n");
	cr_assert_eq(st->ops->create_folder(st, "A/B", &err), 0, "%s", err.text);
	close_store("A4");
}

Test(store_imap_script, deleting_the_folder_left_selected_deselects_it_first)
{
	struct store_folder *f = NULL;
	struct store_folder_info info;
	bool missing = false;

	courier();
	script_expect(sc, "A3 SELECT \"INBOX.Old\"\r\n");
	script_send(sc, "* 0 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\nA3 OK [READ-WRITE] ok\r\n");
	cr_assert_eq(st->ops->open_folder(st, "Old", &f, &info, &missing, &err), 0, "%s", err.text);
	st->ops->close_folder(f); /* sends nothing: Old stays selected */
	/* No UNSELECT capability: EXAMINE then CLOSE (of a read-only mailbox,
	 * so nothing is expunged), then DELETE. */
	script_expect(sc, "A4 EXAMINE \"INBOX.Old\"\r\n");
	script_send(sc, "* 0 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\nA4 OK [READ-ONLY] ok\r\n");
	script_expect(sc, "A5 CLOSE\r\n");
	script_send(sc, "A5 OK closed\r\n");
	script_expect(sc, "A6 DELETE \"INBOX.Old\"\r\n");
	script_send(sc, "A6 OK deleted\r\n");
	cr_assert_eq(st->ops->delete_folder(st, "Old", &err), 0, "%s", err.text);
	close_store("A7");
}
