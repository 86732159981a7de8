/*
 * IMAP response parser: real-world responses (RFC 3501/9051 examples,
 * Dovecot, Gmail, Exchange), each fed whole, one byte at a time and in
 * lazy pieces, compared as event dumps.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/imap_dump.h"
#include "twinbox/imap/parser.h"

struct sample {
	const char *in;
	const char *out;
};

static void check_table(const struct sample *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *got = imap_test_parse_str(t[i].in);
		cr_expect_str_eq(got, t[i].out, "input %s\ngot      %s\nexpected %s", t[i].in, got, t[i].out);
		free(got);
	}
}

#define CHECK(t) check_table(t, sizeof(t) / sizeof(t[0]))

Test(imap_parser, greetings)
{
	static const struct sample t[] = {
	    {"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
	     "AUTH=PLAIN] Dovecot ready.\r\n",
	     "* OK [CAPABILITY atoms=(IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
	     "AUTH=PLAIN)] text=\"Dovecot ready.\"\n"},
	    {"* OK Gimap ready for requests from 192.0.2.1 a1mb123456\r\n",
	     "* OK text=\"Gimap ready for requests from 192.0.2.1 a1mb123456\"\n"},
	    /* Exchange puts a bracket in the middle of the text: not a code. */
	    {"* OK The Microsoft Exchange IMAP4 service is ready. [TQBOADIAUABSADAA]\r\n",
	     "* OK text=\"The Microsoft Exchange IMAP4 service is ready. [TQBOADIAUABSADAA]\"\n"},
	    {"* PREAUTH IMAP4rev1 server logged in as Smith\r\n",
	     "* PREAUTH text=\"IMAP4rev1 server logged in as Smith\"\n"},
	    {"* BYE Autologout; idle for too long\r\n", "* BYE text=\"Autologout; idle for too long\"\n"},
	    {"* ok lower case works\r\n", "* OK text=\"lower case works\"\n"},
	};
	CHECK(t);
}

Test(imap_parser, tagged_status_and_codes)
{
	static const struct sample t[] = {
	    {"a001 OK [READ-WRITE] SELECT completed\r\n",
	     "TAGGED a001 OK [READ-WRITE] text=\"SELECT completed\"\n"},
	    {"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n",
	     "TAGGED A003 OK [APPENDUID v=38505 dst=3955] text=\"APPEND completed\"\n"},
	    {"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
	     "TAGGED A004 OK [COPYUID v=38505 src=304,319:320 dst=3956:3958] text=\"Done\"\n"},
	    {"A5 OK [APPENDUID 1 7:5] multiappend\r\n",
	     "TAGGED A5 OK [APPENDUID v=1 dst=5:7] text=\"multiappend\"\n"},
	    {"a2 NO [TRYCREATE] Mailbox doesn't exist: Foo\r\n",
	     "TAGGED a2 NO [TRYCREATE] text=\"Mailbox doesn't exist: Foo\"\n"},
	    {"a3 BAD Error in IMAP command received by server.\r\n",
	     "TAGGED a3 BAD text=\"Error in IMAP command received by server.\"\n"},
	    {"a5 OK [MODIFIED 7,9] Conditional STORE failed\r\n",
	     "TAGGED a5 OK [MODIFIED set=7,9] text=\"Conditional STORE failed\"\n"},
	    {"a6 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
	     "TAGGED a6 NO [AUTHENTICATIONFAILED] text=\"Authentication failed.\"\n"},
	    {"a7 OK [UIDNOTSTICKY] Non-persistent UIDs\r\n",
	     "TAGGED a7 OK [UIDNOTSTICKY] text=\"Non-persistent UIDs\"\n"},
	    {"a9 ok [read-only] done\r\n", "TAGGED a9 OK [READ-ONLY] text=\"done\"\n"},
	    {"a10 OK\r\n", "TAGGED a10 OK text=\"\"\n"},
	    {"a11 OK [ALERT]\r\n", "TAGGED a11 OK [ALERT] text=\"\"\n"},
	    {"A1 OK [X-UNKNOWN-CODE foo (bar] hello (unbalanced \"quote\r\n",
	     "TAGGED A1 OK [OTHER name=X-UNKNOWN-CODE raw=\"foo (bar\"] text=\"hello (unbalanced "
	     "\\\"quote\"\n"},
	    {"a1 NO [BADCHARSET (UTF-8 US-ASCII)] bad charset\r\n",
	     "TAGGED a1 NO [BADCHARSET raw=\"(UTF-8 US-ASCII)\"] text=\"bad charset\"\n"},
	    {"a1 NO [NONEXISTENT] Unknown Mailbox: Foo (now in UTF-8 \xc3\xa9)\r\n",
	     "TAGGED a1 NO [NONEXISTENT] text=\"Unknown Mailbox: Foo (now in UTF-8 \\xc3\\xa9)\"\n"},
	    {"a1 NO [OVERQUOTA] Quota exceeded\r\n", "TAGGED a1 NO [OVERQUOTA] text=\"Quota exceeded\"\n"},
	    {"a1 NO [ALREADYEXISTS] Mailbox already exists\r\n",
	     "TAGGED a1 NO [ALREADYEXISTS] text=\"Mailbox already exists\"\n"},
	    /* RFC 5530: "not now" (imap_code_is_temporary). */
	    {"a1 NO [UNAVAILABLE] User's backend down for maintenance\r\n",
	     "TAGGED a1 NO [UNAVAILABLE] text=\"User's backend down for maintenance\"\n"},
	    {"a1 NO [LIMIT] Maximum number of connections from user+IP exceeded "
	     "(mail_max_userip_connections=2)\r\n",
	     "TAGGED a1 NO [LIMIT] text=\"Maximum number of connections from user+IP exceeded "
	     "(mail_max_userip_connections=2)\"\n"},
	    {"a1 no [inuse] Mailbox in use\r\n", "TAGGED a1 NO [INUSE] text=\"Mailbox in use\"\n"},
	    {"t]1 OK done\r\n", "TAGGED t]1 OK text=\"done\"\n"},
	};
	CHECK(t);
}

Test(imap_parser, untagged_codes)
{
	static const struct sample t[] = {
	    {"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
	     "* OK [UIDVALIDITY n=3857529045] text=\"UIDs valid\"\n"},
	    {"* OK [UIDNEXT 4392] Predicted next UID\r\n",
	     "* OK [UIDNEXT n=4392] text=\"Predicted next UID\"\n"},
	    {"* OK [UNSEEN 12] Message 12 is first unseen\r\n",
	     "* OK [UNSEEN n=12] text=\"Message 12 is first unseen\"\n"},
	    {"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
	     "* OK [PERMANENTFLAGS atoms=(\\Deleted \\Seen \\*)] text=\"Limited\"\n"},
	    {"* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n",
	     "* OK [PERMANENTFLAGS atoms=()] text=\"No permanent flags permitted\"\n"},
	    {"* OK [HIGHESTMODSEQ 715194045007]\r\n", "* OK [HIGHESTMODSEQ modseq=715194045007] text=\"\"\n"},
	    {"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n",
	     "* OK [NOMODSEQ] text=\"Sorry, this mailbox format doesn't support modsequences\"\n"},
	    {"* NO [ALERT] System shutdown in 10 minutes\r\n",
	     "* NO [ALERT] text=\"System shutdown in 10 minutes\"\n"},
	    {"* OK [CLOSED] Previous mailbox closed.\r\n",
	     "* OK [CLOSED] text=\"Previous mailbox closed.\"\n"},
	    {"* BYE [UNAVAILABLE] Server shutting down\r\n",
	     "* BYE [UNAVAILABLE] text=\"Server shutting down\"\n"},
	    {"* OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok\r\n",
	     "* OK [OTHER name=MAILBOXID raw=\"(F2212ea87-6097-4256-9d51-71338625)\"] text=\"Ok\"\n"},
	};
	CHECK(t);
}

/* RFC 5465 NOTIFY, as Dovecot 2.3 sends it while idling with
 * NOTIFY SET (personal (MessageNew MessageExpunge FlagChange
 * MailboxName)): a STATUS of what changed (only the items that did,
 * after a flag change), a LIST for a folder created, renamed (OLDNAME,
 * RFC 5258 extended data) or deleted; and the codes of the RFC. */
Test(imap_parser, notify)
{
	static const struct sample t[] = {
	    {"* STATUS Work (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 1796689769 UNSEEN 1 HIGHESTMODSEQ 2)\r\n",
	     "* STATUS name=\"Work\" messages=1 uidnext=2 uidvalidity=1796689769 unseen=1 highestmodseq=2 "
	     "args=STATUS Work (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 1796689769 UNSEEN 1 HIGHESTMODSEQ 2)\n"},
	    {"* STATUS Work (UNSEEN 0 HIGHESTMODSEQ 3)\r\n",
	     "* STATUS name=\"Work\" unseen=0 highestmodseq=3 args=STATUS Work (UNSEEN 0 HIGHESTMODSEQ 3)\n"},
	    {"* STATUS \"Lists/dev\" (MESSAGES 0 UIDNEXT 2 UNSEEN 0 HIGHESTMODSEQ 4)\r\n",
	     "* STATUS name=\"Lists/dev\" messages=0 uidnext=2 unseen=0 highestmodseq=4 args=STATUS "
	     "\"Lists/dev\" (MESSAGES 0 UIDNEXT 2 UNSEEN 0 HIGHESTMODSEQ 4)\n"},
	    {"* LIST () \"/\" NewBox\r\n",
	     "* LIST attr=() delim=/ name=\"NewBox\" args=LIST () \"/\" NewBox\n"},
	    {"* LIST () \"/\" Renamed (\"OLDNAME\" (NewBox))\r\n",
	     "* LIST attr=() delim=/ name=\"Renamed\" args=LIST () \"/\" Renamed (\"OLDNAME\" (NewBox))\n"},
	    {"* LIST (\\NonExistent) \"/\" Gone\r\n",
	     "* LIST attr=(\\NonExistent) delim=/ name=\"Gone\" args=LIST (\\NonExistent) \"/\" Gone\n"},
	    {"* OK [NOTIFICATIONOVERFLOW] Too many events\r\n",
	     "* OK [NOTIFICATIONOVERFLOW] text=\"Too many events\"\n"},
	    {"a4 NO [BADEVENT (MessageNew MessageExpunge FlagChange)] Unsupported event\r\n",
	     "TAGGED a4 NO [BADEVENT atoms=(MessageNew MessageExpunge FlagChange)] text=\"Unsupported "
	     "event\"\n"},
	    {"a4 OK NOTIFY completed (0.002 + 0.000 + 0.001 secs).\r\n",
	     "TAGGED a4 OK text=\"NOTIFY completed (0.002 + 0.000 + 0.001 secs).\"\n"},
	};
	CHECK(t);
}

Test(imap_parser, continuation)
{
	static const struct sample t[] = {
	    {"+ Ready for literal data\r\n", "CONT text=\"Ready for literal data\"\n"},
	    {"+ \r\n", "CONT text=\"\"\n"},
	    {"+\r\n", "CONT text=\"\"\n"},
	    {"+ YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSzBJoAMCAQGiQgRAtHTEuOP2BXb9sBYFR4SJlDZxmg==\r\n",
	     "CONT "
	     "text=\"YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSzBJoAMCAQGiQgRAtHTEuOP2BXb9sBYFR4SJlDZxmg=="
	     "\"\n"},
	    {"+ idling\r\n", "CONT text=\"idling\"\n"},
	    /* The text is raw: no response code is taken from it. */
	    {"+ [ALERT] {5} (\r\n", "CONT text=\"[ALERT] {5} (\"\n"},
	};
	CHECK(t);
}

Test(imap_parser, capability_enabled_flags)
{
	static const struct sample t[] = {
	    {"* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",
	     "* CAPABILITY=(IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED) args=CAPABILITY IMAP4rev1 STARTTLS "
	     "AUTH=GSSAPI LOGINDISABLED\n"},
	    {"* ENABLED CONDSTORE QRESYNC\r\n",
	     "* ENABLED=(CONDSTORE QRESYNC) args=ENABLED CONDSTORE QRESYNC\n"},
	    {"* ENABLED\r\n", "* ENABLED=() args=ENABLED\n"},
	    {"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n",
	     "* FLAGS=(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded) args=FLAGS (\\Answered "
	     "\\Flagged \\Deleted \\Seen \\Draft $Forwarded)\n"},
	    {"* FLAGS ()\r\n", "* FLAGS=() args=FLAGS ()\n"},
	};
	CHECK(t);
}

Test(imap_parser, list_and_lsub)
{
	static const struct sample t[] = {
	    {"* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n",
	     "* LIST attr=(\\Noselect) delim=/ name=\"~/Mail/foo\" args=LIST (\\Noselect) \"/\" "
	     "~/Mail/foo\n"},
	    {"* LIST (\\HasNoChildren) \".\" INBOX\r\n",
	     "* LIST attr=(\\HasNoChildren) delim=. name=\"INBOX\" args=LIST (\\HasNoChildren) \".\" "
	     "INBOX\n"},
	    {"* LIST (\\HasChildren \\Noselect) \"/\" \"[Gmail]\"\r\n",
	     "* LIST attr=(\\HasChildren \\Noselect) delim=/ name=\"[Gmail]\" args=LIST (\\HasChildren "
	     "\\Noselect) \"/\" \"[Gmail]\"\n"},
	    {"* LIST (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"\r\n",
	     "* LIST attr=(\\HasNoChildren \\Sent) delim=/ name=\"[Gmail]/Sent Mail\" args=LIST "
	     "(\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"\n"},
	    {"* LIST (\\Noselect) NIL \"\"\r\n",
	     "* LIST attr=(\\Noselect) delim=NIL name=\"\" args=LIST (\\Noselect) NIL \"\"\n"},
	    {"* LIST () \"\\\\\" Foo\r\n",
	     "* LIST attr=() delim=\\ name=\"Foo\" args=LIST () \"\\\\\" Foo\n"},
	    {"* LIST () \"/\" {11}\r\nfoo \"bar\"/x\r\n", "* LIST attr=() delim=/ name=\"foo \\\"bar\\\"/x\" "
	                                                  "args=LIST () \"/\" {11}\"foo \\\"bar\\\"/x\"\n"},
	    {"* LIST (\\Subscribed) \"/\" \"Entw&APw-rfe\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
	     "* LIST attr=(\\Subscribed) delim=/ name=\"Entw&APw-rfe\" args=LIST (\\Subscribed) \"/\" "
	     "\"Entw&APw-rfe\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\n"},
	    {"* LSUB () \".\" #news.comp.mail.misc\r\n",
	     "* LSUB attr=() delim=. name=\"#news.comp.mail.misc\" args=LSUB () \".\" "
	     "#news.comp.mail.misc\n"},
	    /* Exchange-style names with spaces and a raw UTF-8 name. */
	    {"* LIST (\\HasNoChildren \\Trash) \"/\" \"Deleted Items\"\r\n",
	     "* LIST attr=(\\HasNoChildren \\Trash) delim=/ name=\"Deleted Items\" args=LIST "
	     "(\\HasNoChildren "
	     "\\Trash) \"/\" \"Deleted Items\"\n"},
	    {"* LIST () \"/\" \"Entw\xc3\xbcrfe\"\r\n",
	     "* LIST attr=() delim=/ name=\"Entw\\xc3\\xbcrfe\" args=LIST () \"/\" \"Entw\\xc3\\xbcrfe\"\n"},
	};
	CHECK(t);
}

Test(imap_parser, status)
{
	static const struct sample t[] = {
	    {"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
	     "* STATUS name=\"blurdybloop\" messages=231 uidnext=44292 args=STATUS blurdybloop (MESSAGES 231 "
	     "UIDNEXT 44292)\n"},
	    {"* STATUS \"INBOX\" (MESSAGES 17 UIDNEXT 4392 UIDVALIDITY 3857529045 UNSEEN 2 HIGHESTMODSEQ "
	     "7011231777 SIZE 12345678 DELETED 1 RECENT 0 X-FUTURE (a b))\r\n",
	     "* STATUS name=\"INBOX\" messages=17 recent=0 uidnext=4392 uidvalidity=3857529045 unseen=2 "
	     "highestmodseq=7011231777 size=12345678 deleted=1 args=STATUS \"INBOX\" (MESSAGES 17 UIDNEXT "
	     "4392 "
	     "UIDVALIDITY 3857529045 UNSEEN 2 HIGHESTMODSEQ 7011231777 SIZE 12345678 DELETED 1 RECENT 0 "
	     "X-FUTURE (a b))\n"},
	    {"* STATUS {5}\r\nA B C ()\r\n", "* STATUS name=\"A B C\" args=STATUS {5}\"A B C\" ()\n"},
	};
	CHECK(t);
}

Test(imap_parser, search_and_esearch)
{
	static const struct sample t[] = {
	    {"* SEARCH 2 3 6\r\n", "* SEARCH 2 3 6 args=SEARCH 2 3 6\n"},
	    {"* SEARCH\r\n", "* SEARCH args=SEARCH\n"},
	    /* Exchange and others send a trailing space. */
	    {"* SEARCH \r\n", "* SEARCH args=SEARCH\n"},
	    {"* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n",
	     "* SEARCH 2 5 6 7 11 12 18 19 20 23 modseq=917162500 args=SEARCH 2 5 6 7 11 12 18 19 20 23 "
	     "(MODSEQ 917162500)\n"},
	    {"* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n",
	     "* ESEARCH tag=A282 min=2 count=3 args=ESEARCH (TAG \"A282\") MIN 2 COUNT 3\n"},
	    {"* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n",
	     "* ESEARCH tag=A283 all=2,10:11 args=ESEARCH (TAG \"A283\") ALL 2,10:11\n"},
	    {"* ESEARCH (TAG \"a\") UID ALL 4:19,21,28 MODSEQ 12345\r\n",
	     "* ESEARCH tag=a uid all=4:19,21,28 modseq=12345 args=ESEARCH (TAG \"a\") UID ALL 4:19,21,28 "
	     "MODSEQ 12345\n"},
	    {"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n",
	     "* ESEARCH tag=A285 uid min=7 max=3800 args=ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\n"},
	    {"* ESEARCH (TAG \"A284\")\r\n", "* ESEARCH tag=A284 args=ESEARCH (TAG \"A284\")\n"},
	    {"* ESEARCH UID COUNT 0 X-FUTURE (1 2)\r\n",
	     "* ESEARCH uid count=0 args=ESEARCH UID COUNT 0 X-FUTURE (1 2)\n"},
	};
	CHECK(t);
}

Test(imap_parser, namespace_and_id)
{
	static const struct sample t[] = {
	    {"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
	     "* NAMESPACE personal=(\"\":/) other=() shared=() args=NAMESPACE ((\"\" \"/\")) NIL NIL\n"},
	    {"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" "
	     "\"/\")(\"#news.\" "
	     "\".\"))\r\n",
	     "* NAMESPACE personal=(\"\":/) other=(\"~\":/) shared=(\"#shared/\":/ \"#public/\":/ "
	     "\"#news.\":.) "
	     "args=NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\") (\"#public/\" \"/\") "
	     "(\"#news.\" \".\"))\n"},
	    {"* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n",
	     "* NAMESPACE personal=(\"INBOX.\":.) other=() shared=() args=NAMESPACE ((\"INBOX.\" \".\")) NIL "
	     "NIL\n"},
	    {"* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL ((\"Public\" NIL))\r\n",
	     "* NAMESPACE personal=(\"\":/) other=() shared=(\"Public\":0) args=NAMESPACE ((\"\" \"/\" "
	     "\"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL ((\"Public\" NIL))\n"},
	    {"* ID (\"name\" \"Dovecot\")\r\n", "* ID name=Dovecot args=ID (\"name\" \"Dovecot\")\n"},
	    {"* ID NIL\r\n", "* ID args=ID NIL\n"},
	    {"* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" NIL)\r\n",
	     "* ID name=Cyrus version=1.5 os=NIL args=ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" "
	     "NIL)\n"},
	};
	CHECK(t);
}

Test(imap_parser, message_counts_and_vanished)
{
	static const struct sample t[] = {
	    {"* 23 EXISTS\r\n", "* EXISTS 23 args=23 EXISTS\n"},
	    {"* 0 EXISTS\r\n", "* EXISTS 0 args=0 EXISTS\n"},
	    {"* 5 RECENT\r\n", "* RECENT 5 args=5 RECENT\n"},
	    {"* 3 EXPUNGE\r\n", "* EXPUNGE 3 args=3 EXPUNGE\n"},
	    {"* 4294967295 EXISTS\r\n", "* EXISTS 4294967295 args=4294967295 EXISTS\n"},
	    {"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n",
	     "* VANISHED earlier uids=41,43:116,118,120:211,214:540 args=VANISHED (EARLIER) "
	     "41,43:116,118,120:211,214:540\n"},
	    {"* VANISHED 405,407,410,425\r\n",
	     "* VANISHED uids=405,407,410,425 args=VANISHED 405,407,410,425\n"},
	};
	CHECK(t);
}

Test(imap_parser, quota_and_quotaroot)
{
	static const struct sample t[] = {
	    /* Dovecot's answer to GETQUOTAROOT INBOX. */
	    {"* QUOTAROOT INBOX \"User quota\"\r\n",
	     "* QUOTAROOT name=\"INBOX\" roots=(\"User quota\") args=QUOTAROOT INBOX \"User quota\"\n"},
	    {"* QUOTA \"User quota\" (STORAGE 5 100)\r\n",
	     "* QUOTA root=\"User quota\" STORAGE=5/100 args=QUOTA \"User quota\" (STORAGE 5 100)\n"},
	    /* RFC 9208 examples: several resources, several roots, none. */
	    {"* QUOTA \"!partition/sda4\" (STORAGE 104 10923847 MESSAGE 1 100)\r\n",
	     "* QUOTA root=\"!partition/sda4\" STORAGE=104/10923847 MESSAGE=1/100 args=QUOTA "
	     "\"!partition/sda4\" (STORAGE 104 10923847 MESSAGE 1 100)\n"},
	    {"* QUOTAROOT comp.mail.mime \"\" \"#user/alice\"\r\n",
	     "* QUOTAROOT name=\"comp.mail.mime\" roots=(\"\" \"#user/alice\") args=QUOTAROOT "
	     "comp.mail.mime \"\" \"#user/alice\"\n"},
	    {"* QUOTAROOT Nolimits\r\n", "* QUOTAROOT name=\"Nolimits\" roots=() args=QUOTAROOT Nolimits\n"},
	    {"* QUOTA \"\" ()\r\n", "* QUOTA root=\"\" args=QUOTA \"\" ()\n"},
	    /* Over its limit, a resource that is new, the largest number64. */
	    {"* quota R (storage 120 100 X-FUTURE 9223372036854775807 0)\r\n",
	     "* QUOTA root=\"R\" storage=120/100 X-FUTURE=9223372036854775807/0 args=quota R (storage "
	     "120 100 X-FUTURE 9223372036854775807 0)\n"},
	    {"* QUOTAROOT {5}\r\nIN BX {1}\r\nr\r\n",
	     "* QUOTAROOT name=\"IN BX\" roots=(\"r\") args=QUOTAROOT {5}\"IN BX\" {1}\"r\"\n"},
	};
	CHECK(t);
}

Test(imap_parser, unknown_responses_are_kept_as_tokens)
{
	static const struct sample t[] = {
	    {"* XLIST (\\HasNoChildren \\Inbox) \"/\" \"Inbox\"\r\n",
	     "* OTHER args=XLIST (\\HasNoChildren \\Inbox) \"/\" \"Inbox\"\n"},
	    {"* 3 XFOO bar\r\n", "* OTHER args=3 XFOO bar\n"},
	    {"* GETQUOTA \"\" (STORAGE 10 512)\r\n", "* OTHER args=GETQUOTA \"\" (STORAGE 10 512)\n"},
	    {"* METADATA \"INBOX\" (/private/comment {3}\r\nabc)\r\n",
	     "* OTHER args=METADATA \"INBOX\" (/private/comment {3}\"abc\")\n"},
	    {"* X-EMPTY {0}\r\n ~{2}\r\na\x01 ~x\r\n", "* OTHER args=X-EMPTY {0}\"\" {2}\"a\\x01\" ~x\n"},
	    {"* X (((a)) (b (c)) \"\")\r\n", "* OTHER args=X (((a)) (b (c)) \"\")\n"},
	};
	CHECK(t);
}

Test(imap_parser, several_responses_in_one_feed)
{
	char *got = imap_test_parse_str("* 1 EXISTS\r\n* 1 RECENT\r\n"
	                                "* OK [UIDNEXT 2] next\r\n"
	                                "a1 OK [READ-WRITE] done\r\n");

	cr_assert_str_eq(got, "* EXISTS 1 args=1 EXISTS\n"
	                      "* RECENT 1 args=1 RECENT\n"
	                      "* OK [UIDNEXT n=2] text=\"next\"\n"
	                      "TAGGED a1 OK [READ-WRITE] text=\"done\"\n");
	free(got);
}

Test(imap_parser, typed_fields_through_the_api)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *in = "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n";
	struct imap_event ev;
	struct error err;

	imap_parser_feed(p, in, strlen(in));
	cr_assert_eq(imap_parser_next(p, &ev, &err), 1);
	cr_assert_eq(ev.type, IMAP_EV_RESPONSE);
	cr_assert_eq(ev.resp->kind, IMAP_RESP_TAGGED);
	cr_assert_str_eq(ev.resp->tag, "A004");
	cr_assert_eq(ev.resp->cond, IMAP_COND_OK);
	cr_assert_eq(ev.resp->code.type, IMAP_CODE_COPYUID);
	cr_assert_eq(ev.resp->code.uidvalidity, 38505);
	cr_assert_eq(ev.resp->code.src.count, 2);
	cr_assert_eq(ev.resp->code.src.ranges[1].first, 319);
	cr_assert_eq(ev.resp->code.src.ranges[1].last, 320);
	cr_assert_eq(ev.resp->code.dst.count, 1);
	cr_assert_eq(ev.resp->code.dst.ranges[0].last, 3958);
	cr_assert_str_eq(ev.resp->text, "Done");
	cr_assert(imap_parser_idle(p));
	cr_assert_eq(imap_parser_next(p, &ev, &err), 0);
	imap_parser_free(p);
}

Test(imap_parser, idle_only_between_responses)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_event ev;
	struct error err;

	cr_assert(imap_parser_idle(p));
	imap_parser_feed(p, "* 2 EXI", 7);
	cr_assert_eq(imap_parser_next(p, &ev, &err), 0);
	cr_assert_not(imap_parser_idle(p));
	imap_parser_feed(p, "STS\r\n", 5);
	cr_assert_eq(imap_parser_next(p, &ev, &err), 1);
	cr_assert_eq(ev.resp->number, 2);
	cr_assert(imap_parser_idle(p));
	imap_parser_free(p);
}

Test(imap_parser, partial_limits_use_defaults_for_zero_fields)
{
	struct imap_parser_limits lim = {0};
	char *got;

	lim.max_depth = 2;
	got = imap_test_parse("* X ((a))\r\n* X (((a)))\r\n", 24, &lim);
	cr_assert_str_eq(
	    got, "* OTHER args=X ((a))\nERROR: malformed IMAP response from the server: parenthesised "
	         "lists are nested deeper than 2 levels, near \"* X ((\" (in an untagged "
	         "X response)\n");
	free(got);
}

Test(imap_parser, codes_that_say_not_now)
{
	static const enum imap_code_type now[] = {IMAP_CODE_UNAVAILABLE, IMAP_CODE_LIMIT, IMAP_CODE_INUSE};
	static const enum imap_code_type never[] = {
	    IMAP_CODE_NONE,         IMAP_CODE_OTHER,  IMAP_CODE_ALERT,     IMAP_CODE_AUTHENTICATIONFAILED,
	    IMAP_CODE_OVERQUOTA,    IMAP_CODE_NOPERM, IMAP_CODE_SERVERBUG, IMAP_CODE_NONEXISTENT,
	    IMAP_CODE_CONTACTADMIN, IMAP_CODE_CANNOT, IMAP_CODE_EXPIRED,   IMAP_CODE_TRYCREATE,
	};

	for (size_t i = 0; i < sizeof(now) / sizeof(now[0]); i++)
		cr_assert(imap_code_is_temporary(now[i]), "%s", imap_code_name(now[i]));
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		cr_assert(!imap_code_is_temporary(never[i]), "%s", imap_code_name(never[i]));
}
