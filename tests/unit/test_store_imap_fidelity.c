/*
 * What the `imap` store keeps of a message in a copy between servers,
 * over a scripted server: the INTERNALDATE's zone, from the snapshot to
 * the APPEND, and which flags a folder keeps (PERMANENTFLAGS).
 */
#include "test_imap_session_support.h"

#include <stdlib.h>

#include "twinbox/store/imap_store.h"

TestSuite(store_imap_fidelity, .fini = stop_session);

static struct store *st;

#define FIDELITY_CAPS BASIC_CAPS " NAMESPACE"

/* Logged in, the personal namespace "" with '/', `box` selected (A3)
 * with `select_extra` among its untagged responses. */
static struct store_folder *open_box(const char *box, const char *select_extra)
{
	struct imap_session_options o = test_options();
	struct store_folder *f = NULL;
	struct store_folder_info info;
	bool missing = false;

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY " FIDELITY_CAPS "] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY " FIDELITY_CAPS "] Logged in\r\n");
	script_expect(sc, "A2 NAMESPACE\r\n");
	script_send(sc, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nA2 OK ns\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	st = imap_store_from_session(s);
	s = NULL; /* the store owns it now */
	script_expectf(sc, "A3 SELECT \"%s\"\r\n", box);
	script_sendf(sc, "* 3 EXISTS\r\n%s* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 4] ok\r\n", select_extra);
	script_send(sc, "A3 OK [READ-WRITE] ok\r\n");
	cr_assert_eq(st->ops->open_folder(st, box, &f, &info, &missing, &err), 0, "%s", err.text);
	return f;
}

static void close_store(struct store_folder *f, const char *tag)
{
	st->ops->close_folder(f);
	script_expectf(sc, "%s LOGOUT\r\n", tag);
	st->ops->close(st);
	st = NULL;
	assert_played();
}

Test(store_imap_fidelity, snapshot_carries_each_date_zone)
{
	struct store_folder *f = open_box("INBOX", "");
	struct store_snapshot snap;

	script_expect(sc, "A4 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n");
	script_send(
	    sc, "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 10 INTERNALDATE \"07-Dec-2026 09:15:00 +0100\")\r\n"
	        "* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 10 INTERNALDATE \"07-Dec-2026 04:45:00 -0330\")\r\n"
	        "* 3 FETCH (UID 3 FLAGS () RFC822.SIZE 10 INTERNALDATE \"07-Dec-2026 09:15:00 +2400\")\r\n"
	        "A4 OK done\r\n");
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 3);
	cr_assert_eq(snap.msgs[0].date, 1796631300);
	cr_assert_eq(snap.msgs[0].date_zone, 60);
	cr_assert_eq(snap.msgs[1].date, 1796631300);
	cr_assert_eq(snap.msgs[1].date_zone, -210);
	cr_assert_eq(snap.msgs[2].date, 0, "no such zone: no date");
	cr_assert_eq(snap.msgs[2].date_zone, STORE_ZONE_UNKNOWN);
	store_snapshot_free(&snap);
	close_store(f, "A5");
}

struct mem {
	const char *text;
	size_t at;
};

static long long mem_read(void *ctx, void *data, size_t len, struct error *e)
{
	struct mem *m = ctx;
	size_t n = strlen(m->text + m->at);

	(void)e;
	n = n < len ? n : len;
	memcpy(data, m->text + m->at, n);
	m->at += n;
	return (long long)n;
}

Test(store_imap_fidelity, append_writes_the_date_in_its_zone)
{
	struct store_folder *f = open_box("Archive", "");
	static const char text[] = "Subject: z\r\n\r\nx\r\n";
	struct mem src[5] = {{text, 0}, {text, 0}, {text, 0}, {text, 0}, {text, 0}};
	struct store_new_msg m[5];
	struct error errs[5];
	/* One instant, 2026-12-07 08:15:00 UTC, in its zones; unknown (a
	 * Maildir's mtime) and out of bounds say UTC, as before. */
	const int zones[5] = {60, -210, 0, STORE_ZONE_UNKNOWN, 1440};
	const char *const want[5] = {"07-Dec-2026 09:15:00 +0100", "07-Dec-2026 04:45:00 -0330",
	                             "07-Dec-2026 08:15:00 +0000", "07-Dec-2026 08:15:00 +0000",
	                             "07-Dec-2026 08:15:00 +0000"};

	for (int i = 0; i < 5; i++) {
		m[i] = (struct store_new_msg){.date = 1796631300,
		                              .date_zone = (int16_t)zones[i],
		                              .size = strlen(text),
		                              .ctx = &src[i],
		                              .read = mem_read};
		script_expectf(sc, "A%d APPEND \"Archive\" \"%s\" {%zu+}\r\n%s\r\n", 4 + i, want[i],
		               strlen(text), text);
	}
	for (int i = 0; i < 5; i++)
		script_sendf(sc, "A%d OK [APPENDUID 7 %d] done\r\n", 4 + i, 4 + i);
	cr_assert_eq(st->ops->add(f, m, 5, errs, &err), 0, "%s", err.text);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(m[i].uid_r, (uint32_t)(4 + i));
	close_store(f, "A9");
}

/* PERMANENTFLAGS `list` in a SELECT, and what keeps() makes of it. */
static void check_keep(const char *select_extra, bool limited, unsigned flags, bool any, const char *keywords)
{
	struct store_folder *f = open_box("INBOX", select_extra);
	struct store_keep k;

	cr_assert_not_null(st->ops->keeps);
	st->ops->keeps(f, &k);
	cr_assert_eq(k.limited, limited, "%s", select_extra);
	if (limited) {
		cr_assert_eq(k.flags, flags, "%s", select_extra);
		cr_assert_eq(k.new_keywords, any, "%s", select_extra);
		if (keywords)
			cr_assert_str_eq(k.keywords, keywords, "%s", select_extra);
		else
			cr_assert_null(k.keywords, "%s", select_extra);
	}
	close_store(f, "A4");
	stop_session();
}

Test(store_imap_fidelity, permanentflags_say_what_a_folder_keeps)
{
	check_keep("", false, 0, false, NULL);
	check_keep("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] ok\r\n", true,
	           MAIL_FLAGS_ALL, true, NULL);
	check_keep("* OK [PERMANENTFLAGS (\\Deleted \\Seen)] ok\r\n", true,
	           MAIL_FLAG_DELETED | MAIL_FLAG_SEEN, false, NULL);
	check_keep("* OK [PERMANENTFLAGS (\\Seen Work $Forwarded)] ok\r\n", true, MAIL_FLAG_SEEN, false,
	           "$Forwarded Work");
	check_keep("* OK [PERMANENTFLAGS ()] none\r\n", true, 0, false, NULL);
}
