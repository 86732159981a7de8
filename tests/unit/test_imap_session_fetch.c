/*
 * IMAP session over a scripted server: FETCH, STORE, EXPUNGE, COPY /
 * MOVE, APPEND, IDLE, and pipelined runs with untagged data interleaved.
 */
#include "test_imap_session_support.h"

#include <stdlib.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

TestSuite(imap_fetch, .fini = stop_session);

Test(imap_fetch, fetch_info_keeps_map_right_through_expunge_and_exists)
{
	struct imap_msg_info *m;
	size_t n;

	login_with_caps(BASIC_CAPS " CONDSTORE");
	script_expect(sc, "A2 SELECT \"INBOX\" (CONDSTORE)\r\n");
	script_send(sc, "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\nA2 OK [READ-WRITE] done\r\n");
	script_expect(sc,
	              "A3 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ) (CHANGEDSINCE 5)\r\n");
	script_send(sc,
	            "* 1 FETCH (UID 10 FLAGS (\\Seen $Label1) RFC822.SIZE 100 "
	            "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (7))\r\n"
	            "* 2 FETCH (UID 11 FLAGS (\\Deleted \\Flagged) RFC822.SIZE 200 "
	            "INTERNALDATE \"18-Jul-1996 02:44:25 +0000\" MODSEQ (8))\r\n"
	            "* 1 EXPUNGE\r\n"
	            "* 3 EXISTS\r\n"
	            "* 2 FETCH (UID 12 FLAGS () RFC822.SIZE 300 INTERNALDATE \"19-Jul-1996 02:44:25 +0000\" "
	            "MODSEQ (9))\r\n"
	            "* 3 FETCH (UID 13 FLAGS (\\Answered) RFC822.SIZE 400 "
	            "INTERNALDATE \"20-Jul-1996 02:44:25 +0000\" MODSEQ (10))\r\n"
	            "A3 OK Fetch completed\r\n");
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(imap_fetch_info(s, 1, 0, IMAP_FETCH_SIZE | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_MODSEQ,
	                             5, &m, &n, &err),
	             0, "%s", err.text);
	cr_assert_eq(n, 4);
	cr_assert_eq(m[0].uid, 10);
	cr_assert_eq(m[0].flags, MAIL_FLAG_SEEN);
	cr_assert_str_eq(m[0].keywords, "$Label1");
	cr_assert_eq(m[0].size, 100);
	cr_assert_eq(m[0].modseq, 7);
	cr_assert_eq(m[0].internaldate, 837596665); /* 1996-07-17 09:44:25 UTC */
	cr_assert_eq(m[1].flags, MAIL_FLAG_DELETED | MAIL_FLAG_FLAGGED);
	cr_assert_null(m[2].keywords);
	cr_assert_eq(m[3].flags, MAIL_FLAG_ANSWERED);
	/* UID 10 was expunged: seq 1 is now UID 11 */
	cr_assert_eq(imap_selected(s)->exists, 3);
	cr_assert_eq(imap_seq_to_uid(s, 1), 11);
	cr_assert_eq(imap_seq_to_uid(s, 2), 12);
	cr_assert_eq(imap_seq_to_uid(s, 3), 13);
	imap_msg_info_free(m, n);
	assert_played();
}

struct got {
	struct buf bodies;
	uint32_t uids[16];
	size_t count;
};

static int got_begin(void *ctx, uint32_t uid, uint64_t size, struct error *e)
{
	struct got *g = ctx;

	(void)e;
	buf_printf(&g->bodies, "[%u:%llu]", uid, (unsigned long long)size);
	return 0;
}

static int got_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	struct got *g = ctx;

	(void)e;
	buf_append(&g->bodies, data, len);
	return 0;
}

static int got_end(void *ctx, const struct imap_fetch *f, struct error *e)
{
	struct got *g = ctx;

	(void)e;
	if (g->count < 16)
		g->uids[g->count++] = f->uid;
	return 0;
}

static uint32_t expunged_seq, expunged_uid;

static void on_expunge(void *ctx, uint32_t seq, uint32_t uid)
{
	(void)ctx;
	expunged_seq = seq;
	expunged_uid = uid;
}

Test(imap_fetch, pipelined_body_fetches_with_interleaved_untagged)
{
	struct got g = {0};
	struct imap_body_handler h = {.ctx = &g, .begin = got_begin, .chunk = got_chunk, .end = got_end};
	struct imap_pipeline p = {.window = 8};
	struct imap_session_handlers sh = {.expunge = on_expunge};
	uint32_t uids[] = {5, 6, 7};

	login_basic();
	imap_session_set_handlers(s, &sh);
	select_basic("INBOX", 3);
	/* all three commands leave before the first reply */
	script_expect(sc, "A3 UID FETCH 5 (UID FLAGS BODY.PEEK[])\r\n"
	                  "A4 UID FETCH 6 (UID FLAGS BODY.PEEK[])\r\n"
	                  "A5 UID FETCH 7 (UID FLAGS BODY.PEEK[])\r\n");
	script_set_chunk(sc, 3); /* responses trickle in a few bytes at a time */
	script_send(sc, "* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {5}\r\nhello)\r\n"
	                "* 4 EXISTS\r\n"
	                "A3 OK done\r\n"
	                "* 2 FETCH (FLAGS (\\Flagged))\r\n" /* unsolicited: no body */
	                "* 2 FETCH (UID 6 BODY[] \"quoted\" FLAGS ())\r\n"
	                "* 1 EXPUNGE\r\n"
	                "A4 OK done\r\n"
	                "* 2 FETCH (BODY[] {3}\r\nabc UID 7)\r\n"
	                "A5 OK done\r\n");
	cr_assert_eq(imap_fetch_bodies(s, uids, 3, &h, &p, &err), 0, "%s", err.text);
	/* UID 7 came after its body: begin() could not know it, end() does */
	cr_assert_str_eq(buf_cstr(&g.bodies), "[5:5]hello[6:6]quoted[0:3]abc");
	cr_assert_eq(g.count, 3);
	cr_assert_eq(g.uids[2], 7);
	cr_assert_eq(expunged_seq, 1);
	cr_assert_eq(expunged_uid, 5);
	cr_assert_eq(imap_selected(s)->exists, 3);
	cr_assert_eq(imap_seq_to_uid(s, 1), 6);
	cr_assert_eq(imap_seq_to_uid(s, 2), 7);
	buf_free(&g.bodies);
	assert_played();
}

Test(imap_fetch, responses_matched_by_tag_in_any_order)
{
	struct imap_cmd a, b;

	login_basic();
	imap_cmd_init(&a, "NOOP");
	imap_cmd_init(&b, "CHECK");
	cr_assert_eq(imap_send(s, &a, &err), 0);
	cr_assert_eq(imap_send(s, &b, &err), 0);
	script_expect(sc, "A2 NOOP\r\nA3 CHECK\r\n");
	script_send(sc, "A3 NO check failed\r\nA2 OK noop done\r\n");
	cr_assert_eq(imap_wait(s, &a, &err), 0, "%s", err.text);
	cr_assert_eq(imap_wait(s, &b, &err), -1);
	cr_assert_str_eq(err.text, "CHECK failed: NO check failed");
	imap_cmd_free(&a);
	imap_cmd_free(&b);
	assert_played();
}

static int failing_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	(void)ctx;
	(void)data;
	(void)len;
	return error_set(e, ERR_FATAL, "disk full");
}

Test(imap_fetch, callback_failure_keeps_session_usable)
{
	struct imap_body_handler h = {.chunk = failing_chunk};
	uint32_t uids[] = {1, 2};

	login_basic();
	select_basic("INBOX", 2);
	script_expect(sc,
	              "A3 UID FETCH 1 (UID FLAGS BODY.PEEK[])\r\nA4 UID FETCH 2 (UID FLAGS BODY.PEEK[])\r\n");
	script_send(sc, "* 1 FETCH (UID 1 BODY[] {2}\r\nab)\r\nA3 OK done\r\n"
	                "* 2 FETCH (UID 2 BODY[] {2}\r\ncd)\r\nA4 OK done\r\n");
	script_expect(sc, "A5 NOOP\r\n");
	script_send(sc, "A5 OK noop\r\n");
	cr_assert_eq(imap_fetch_bodies(s, uids, 2, &h, NULL, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_str_eq(err.text, "disk full");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_fetch, appenduid_on_a_fetch_is_ignored)
{
	struct imap_append_msg m = {.data = "x", .len = 1};
	struct imap_msg_info *mi;
	size_t n;

	login_basic();
	select_basic("INBOX", 1);
	script_expect(sc, "A3 UID FETCH 1:* (UID FLAGS)\r\n");
	script_send(sc, "* 1 FETCH (UID 1 FLAGS ())\r\nA3 OK [APPENDUID 42 99] Fetch completed\r\n");
	script_expect(sc, "A4 APPEND \"INBOX\" {1+}\r\nx\r\n");
	/* an untagged APPENDUID is not the APPEND's either */
	script_send(sc, "* OK [APPENDUID 42 98] hmm\r\nA4 OK done\r\n");
	cr_assert_eq(imap_fetch_info(s, 1, 0, 0, 0, &mi, &n, &err), 0, "%s", err.text);
	imap_msg_info_free(mi, n);
	cr_assert_eq(imap_append(s, "INBOX", &m, &err), 0, "%s", err.text);
	cr_assert_eq(m.uid, 0, "APPENDUID from another response was trusted");
	assert_played();
}

Test(imap_fetch, store_unchangedsince_reports_modified)
{
	struct imap_uidset set = IMAP_UIDSET_INIT, modified = IMAP_UIDSET_INIT;
	struct buf text = BUF_INIT;

	login_basic();
	select_basic("INBOX", 9);
	for (uint32_t u = 1; u <= 9; u++)
		if (u != 4)
			imap_uidset_add(&set, u);
	script_expect(sc, "A3 UID STORE 1:3,5:9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Seen $Done)\r\n");
	script_send(
	    sc, "* 1 FETCH (UID 1 MODSEQ (320162350))\r\nA3 OK [MODIFIED 7,9] Conditional STORE failed\r\n");
	cr_assert_eq(imap_store(s, &set, IMAP_STORE_ADD, "\\Seen $Done", 320162338ull, &modified, &err), 0,
	             "%s", err.text);
	imap_uidset_format(&modified, &text);
	cr_assert_str_eq(buf_cstr(&text), "7,9");
	cr_assert_eq(imap_store(s, &set, IMAP_STORE_REMOVE, "bad(flag", 0, NULL, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	imap_uidset_free(&set);
	imap_uidset_free(&modified);
	buf_free(&text);
	assert_played();
}

Test(imap_fetch, uid_expunge_with_uidplus)
{
	struct imap_uidset set = IMAP_UIDSET_INIT;

	login_basic();
	select_basic("INBOX", 3);
	imap_uidset_add(&set, 2);
	script_expect(sc, "A3 UID EXPUNGE 2\r\n");
	script_send(sc, "* 2 EXPUNGE\r\nA3 OK done\r\n");
	cr_assert_eq(imap_expunge_uids(s, &set, &err), 0, "%s", err.text);
	cr_assert_eq(imap_selected(s)->exists, 2);
	imap_uidset_free(&set);
	assert_played();
}

Test(imap_fetch, expunge_without_uidplus_refuses_when_others_are_deleted)
{
	struct imap_uidset set = IMAP_UIDSET_INIT;

	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR");
	select_basic("INBOX", 3);
	imap_uidset_add(&set, 2);
	script_expect(sc, "A3 UID SEARCH DELETED\r\n");
	script_send(sc, "* SEARCH 2 3\r\nA3 OK done\r\n");
	cr_assert_eq(imap_expunge_uids(s, &set, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "lacks UIDPLUS"), "%s", err.text);
	cr_assert(strstr(err.text, "1 message that twinbox did not mark"), "%s", err.text);
	/* only ours deleted: plain EXPUNGE is safe */
	script_expect(sc, "A4 UID SEARCH DELETED\r\n");
	script_send(sc, "* SEARCH 2\r\nA4 OK done\r\n");
	script_expect(sc, "A5 EXPUNGE\r\n");
	script_send(sc, "* 2 EXPUNGE\r\nA5 OK done\r\n");
	cr_assert_eq(imap_expunge_uids(s, &set, &err), 0, "%s", err.text);
	imap_uidset_free(&set);
	assert_played();
}

Test(imap_fetch, copy_and_move_keep_copyuid)
{
	struct imap_uidset set = IMAP_UIDSET_INIT;
	struct imap_copy_result r;

	login_basic();
	select_basic("INBOX", 3);
	imap_uidset_add_range(&set, 1, 2);
	script_expect(sc, "A3 UID COPY 1:2 \"Archive\"\r\n");
	script_send(sc, "A3 OK [COPYUID 38505 1:2 3955:3956] Copy completed\r\n");
	script_expect(sc, "A4 UID MOVE 1:2 \"Trash\"\r\n");
	script_send(
	    sc, "* OK [COPYUID 432432 1:2 5:6] Moved\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\nA4 OK Move done\r\n");
	cr_assert_eq(imap_copy(s, &set, "Archive", false, &r, &err), 0, "%s", err.text);
	cr_assert(r.have);
	cr_assert_eq(r.uidvalidity, 38505);
	cr_assert_eq(imap_uidset_nth(&r.dst, 1), 3956);
	imap_copy_result_free(&r);
	cr_assert_eq(imap_copy(s, &set, "Trash", true, &r, &err), 0, "%s", err.text);
	cr_assert(r.have);
	cr_assert_eq(r.uidvalidity, 432432);
	cr_assert_eq(imap_uidset_nth(&r.dst, 0), 5);
	cr_assert_eq(imap_selected(s)->exists, 1);
	imap_copy_result_free(&r);
	imap_uidset_free(&set);
	assert_played();
}

Test(imap_fetch, move_without_move_extension)
{
	struct imap_uidset set = IMAP_UIDSET_INIT;

	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS");
	select_basic("INBOX", 3);
	imap_uidset_add(&set, 3);
	script_expect(sc, "A3 UID COPY 3 \"Trash\"\r\n");
	script_send(sc, "A3 OK [COPYUID 1 3 9] done\r\n");
	script_expect(sc, "A4 UID STORE 3 +FLAGS.SILENT (\\Deleted)\r\n");
	script_send(sc, "A4 OK done\r\n");
	script_expect(sc, "A5 UID EXPUNGE 3\r\n");
	script_send(sc, "* 3 EXPUNGE\r\nA5 OK done\r\n");
	cr_assert_eq(imap_copy(s, &set, "Trash", true, NULL, &err), 0, "%s", err.text);
	imap_uidset_free(&set);
	assert_played();
}

Test(imap_fetch, append_with_flags_date_and_literal_plus)
{
	struct imap_append_msg m = {
	    .data = "Subject: hi\r\n\r\nbody\r\n",
	    .len = 21,
	    .flags = "\\Seen $Work",
	    .has_date = true,
	    .internaldate = 837596665,
	    .tz_minutes = -420,
	};

	login_basic();
	script_expect(sc, "A2 APPEND \"Sent\" (\\Seen $Work) \"17-Jul-1996 02:44:25 -0700\" {21+}\r\n"
	                  "Subject: hi\r\n\r\nbody\r\n\r\n");
	script_send(sc, "A2 OK [APPENDUID 38505 3955] APPEND completed\r\n");
	cr_assert_eq(imap_append(s, "Sent", &m, &err), 0, "%s", err.text);
	cr_assert_eq(m.uidvalidity, 38505);
	cr_assert_eq(m.uid, 3955);
	assert_played();
}

Test(imap_fetch, append_synchronizing_literal_and_literal_minus)
{
	static char big[5000];
	struct imap_append_msg small = {.data = "tiny", .len = 4};
	struct imap_append_msg large = {.data = big, .len = sizeof(big)};

	memset(big, 'x', sizeof(big));
	login_with_caps("IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL-");
	script_expect(sc, "A2 APPEND \"INBOX\" {4+}\r\ntiny\r\n");
	script_send(sc, "A2 OK done\r\n");
	script_expect(sc, "A3 APPEND \"INBOX\" {5000}\r\n");
	script_send(sc, "+ Ready for literal data\r\n");
	script_expectf(sc, "%.*s\r\n", (int)sizeof(big), big);
	script_send(sc, "A3 OK done\r\n");
	/* refused before the literal: nothing more is sent for it */
	script_expect(sc, "A4 APPEND \"INBOX\" {5000}\r\n");
	script_send(sc, "A4 NO [TRYCREATE] no such mailbox\r\n");
	cr_assert_eq(imap_append(s, "INBOX", &small, &err), 0, "%s", err.text);
	cr_assert_eq(imap_append(s, "INBOX", &large, &err), 0, "%s", err.text);
	cr_assert_eq(imap_append(s, "INBOX", &large, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "APPEND \"INBOX\" {5000 bytes} failed: NO [TRYCREATE]"), "%s", err.text);
	assert_played();
}

Test(imap_fetch, append_many_pipelined_and_multiappend)
{
	struct imap_append_msg m[3] = {
	    {.data = "a", .len = 1},
	    {.data = "b", .len = 1},
	    {.data = "c", .len = 1},
	};
	struct imap_pipeline p = {.window = 4, .per_command = 2};

	login_with_caps(BASIC_CAPS " MULTIAPPEND");
	script_expect(sc, "A2 APPEND \"INBOX\" {1+}\r\na {1+}\r\nb\r\nA3 APPEND \"INBOX\" {1+}\r\nc\r\n");
	script_send(sc, "A2 OK [APPENDUID 7 20:21] done\r\nA3 OK [APPENDUID 7 22] done\r\n");
	cr_assert_eq(imap_append_many(s, "INBOX", m, 3, &p, &err), 0, "%s", err.text);
	cr_assert_eq(m[0].uid, 20);
	cr_assert_eq(m[1].uid, 21);
	cr_assert_eq(m[2].uid, 22);
	assert_played();
}

Test(imap_fetch, append_over_quota_stops_the_run)
{
	struct imap_append_msg m[3] = {
	    {.data = "a", .len = 1},
	    {.data = "b", .len = 1},
	    {.data = "c", .len = 1},
	};
	struct imap_pipeline p = {.window = 1};

	login_basic();
	script_expect(sc, "A2 APPEND \"INBOX\" {1+}\r\na\r\n");
	script_send(sc, "A2 OK [APPENDUID 7 20] done\r\n");
	script_expect(sc, "A3 APPEND \"INBOX\" {1+}\r\nb\r\n");
	/* Dovecot's words, tagged */
	script_send(sc,
	            "A3 NO [OVERQUOTA] Quota exceeded (mailbox for user is full) (0.001 + 0.000 secs).\r\n");
	cr_assert_eq(imap_append_many(s, "INBOX", m, 3, &p, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert_eq(err.cause, ERR_CAUSE_OVER_QUOTA);
	cr_assert(strstr(err.text, "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)"), "%s",
	          err.text);
	cr_assert(!m[0].failed);
	cr_assert_eq(m[0].uid, 20);
	cr_assert(m[1].failed && m[1].err.cause == ERR_CAUSE_OVER_QUOTA);
	cr_assert(m[2].failed && m[2].err.cause == ERR_CAUSE_OVER_QUOTA, "not sent: the same failure");
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED, "the session goes on");
	assert_played();
}

struct src {
	const char *text;
	size_t off, len;
};

static int src_read(void *ctx, void *data, size_t len, size_t *got_r, struct error *e)
{
	struct src *sr = ctx;
	size_t n = sr->len - sr->off < len ? sr->len - sr->off : len;

	(void)e;
	n = n > 3 ? 3 : n;
	memcpy(data, sr->text + sr->off, n);
	sr->off += n;
	*got_r = n;
	return 0;
}

Test(imap_fetch, append_from_a_source)
{
	struct src sr = {.text = "streamed message", .len = 16};
	struct imap_literal_source ls = {.size = 16, .read = src_read, .ctx = &sr};
	struct imap_append_msg m = {.source = &ls};

	login_basic();
	script_expect(sc, "A2 APPEND \"INBOX\" {16+}\r\nstreamed message\r\n");
	script_send(sc, "A2 OK [APPENDUID 1 5] done\r\n");
	cr_assert_eq(imap_append(s, "INBOX", &m, &err), 0, "%s", err.text);
	cr_assert_eq(m.uid, 5);
	assert_played();
}

static uint32_t exists_seen;

static void on_exists(void *ctx, uint32_t n)
{
	(void)ctx;
	exists_seen = n;
}

Test(imap_fetch, idle_start_receive_done)
{
	struct imap_session_handlers h = {.exists = on_exists};

	login_basic();
	imap_session_set_handlers(s, &h);
	select_basic("INBOX", 1);
	script_expect(sc, "A3 IDLE\r\n");
	script_send(sc, "+ idling\r\n");
	script_send(sc, "* 2 EXISTS\r\n");
	script_expect(sc, "DONE\r\n");
	script_send(sc, "A3 OK IDLE terminated\r\n");
	cr_assert_eq(imap_idle_start(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_idle_wait(s, 1000, &err), 1, "%s", err.text);
	cr_assert_eq(exists_seen, 2);
	cr_assert_eq(imap_idle_wait(s, 0, &err), 0, "nothing more arrived");
	cr_assert_eq(imap_idle_done(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_fetch, noop_delivers_unsolicited_data)
{
	struct imap_session_handlers h = {.exists = on_exists, .expunge = on_expunge};

	login_basic();
	imap_session_set_handlers(s, &h);
	select_basic("INBOX", 2);
	script_expect(sc, "A3 NOOP\r\n");
	script_send(sc, "* 2 EXPUNGE\r\n* 5 EXISTS\r\nA3 OK NOOP completed\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	cr_assert_eq(expunged_seq, 2);
	cr_assert_eq(exists_seen, 5);
	cr_assert_eq(imap_selected(s)->exists, 5);
	assert_played();
}

Test(imap_fetch, vanished_keeps_the_map_right_with_unknown_uids)
{
	login_basic();
	select_basic("INBOX", 5);
	script_expect(sc, "A3 NOOP\r\n");
	/* known: seq 1 = UID 10, seq 4 = UID 20; the rest unknown */
	script_send(sc, "* 1 FETCH (UID 10 FLAGS ())\r\n* 4 FETCH (UID 20 FLAGS ())\r\nA3 OK noop\r\n");
	script_expect(sc, "A4 NOOP\r\n");
	/* 11 and 15 must be the two unknown ones between 10 and 20; 25 and 30
	 * lie after 20 where only one message is left: one of them counts */
	script_send(sc, "* VANISHED 30,11,15,20,25\r\nA4 OK noop\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_selected(s)->exists, 5);
	cr_assert_eq(imap_seq_to_uid(s, 4), 20);
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_selected(s)->exists, 1);
	cr_assert_eq(imap_seq_to_uid(s, 1), 10);
	assert_played();
}

Test(imap_fetch, vanished_with_known_uids_removes_exactly_those)
{
	login_basic();
	select_basic("INBOX", 4);
	script_expect(sc, "A3 NOOP\r\n");
	script_send(sc, "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 5)\r\n* 4 FETCH (UID 9)\r\n"
	                "* VANISHED 2,9,4000000000:4294967295\r\nA3 OK noop\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_selected(s)->exists, 2);
	cr_assert_eq(imap_seq_to_uid(s, 1), 1);
	cr_assert_eq(imap_seq_to_uid(s, 2), 5);
	assert_played();
}

/* QRESYNC: the changes since a modseq, with the expunged UIDs that
 * VANISHED (EARLIER) names (any order, ranges included); an unsolicited
 * FETCH outside the command's answer does not count as a change. */
Test(imap_fetch, fetch_changes_gives_changed_messages_and_vanished_uids)
{
	struct imap_session_options o = test_options();
	struct imap_uidset gone = IMAP_UIDSET_INIT;
	struct imap_msg_info *m;
	struct buf text = BUF_INIT;
	size_t n;

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR ENABLE CONDSTORE QRESYNC] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY IMAP4rev1 ENABLE CONDSTORE QRESYNC] ok\r\n");
	script_expect(sc, "A2 ENABLE CONDSTORE QRESYNC\r\n");
	script_send(sc, "* ENABLED CONDSTORE QRESYNC\r\nA2 OK enabled\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	script_expect(sc, "A3 SELECT \"INBOX\"\r\n");
	script_send(sc, "* 4 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n* OK [HIGHESTMODSEQ 20] x\r\n"
	                "A3 OK [READ-WRITE] done\r\n");
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), 0, "%s", err.text);
	script_expect(sc, "A4 UID FETCH 1:* (UID FLAGS RFC822.SIZE MODSEQ) (CHANGEDSINCE 15 VANISHED)\r\n");
	script_send(sc, "* VANISHED (EARLIER) 30,3:5,9\r\n"
	                "* 2 FETCH (UID 8 FLAGS (\\Seen) RFC822.SIZE 10 MODSEQ (17))\r\n"
	                "* 4 FETCH (UID 12 FLAGS () RFC822.SIZE 20 MODSEQ (19))\r\n"
	                "A4 OK Fetch completed\r\n");
	cr_assert_eq(imap_fetch_changes(s, 15, IMAP_FETCH_SIZE | IMAP_FETCH_MODSEQ, &m, &n, &gone, &err), 0,
	             "%s", err.text);
	cr_assert_eq(n, 2);
	cr_assert_eq(m[0].uid, 8);
	cr_assert_eq(m[0].flags, MAIL_FLAG_SEEN);
	cr_assert_eq(m[1].uid, 12);
	cr_assert_eq(m[1].modseq, 19);
	imap_uidset_format(&gone, &text);
	cr_assert_str_eq(buf_cstr(&text), "30,3:5,9");
	cr_assert_eq(imap_selected(s)->exists, 4, "VANISHED (EARLIER) changes no count");
	imap_msg_info_free(m, n);
	imap_uidset_free(&gone);
	buf_free(&text);
	assert_played();
}

/* Without QRESYNC enabled there is nothing to ask (a program error). */
Test(imap_fetch, fetch_changes_needs_qresync)
{
	struct imap_uidset gone = IMAP_UIDSET_INIT;
	struct imap_msg_info *m;
	size_t n;

	login_with_caps(BASIC_CAPS " CONDSTORE");
	cr_assert_eq(imap_fetch_changes(s, 15, 0, &m, &n, &gone, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(n, 0);
	imap_uidset_free(&gone);
	assert_played();
}

/* A server's set in any order, overlapping and touching ranges
 * included, sorted and merged into disjoint ranges. */
Test(imap_fetch, uidset_normalize_sorts_and_merges)
{
	struct imap_uidset set = IMAP_UIDSET_INIT;
	struct buf text = BUF_INIT;

	imap_uidset_add_range(&set, 30, 30);
	imap_uidset_add_range(&set, 3, 5);
	imap_uidset_add_range(&set, 9, 9);
	imap_uidset_add_range(&set, 6, 7);
	imap_uidset_add_range(&set, 4294967290u, 4294967295u);
	imap_uidset_add_range(&set, 20, 31);
	imap_uidset_normalize(&set);
	imap_uidset_format(&set, &text);
	cr_assert_str_eq(buf_cstr(&text), "3:7,9,20:31,4294967290:4294967295");
	imap_uidset_free(&set);
	imap_uidset_normalize(&set); /* empty: stays empty */
	cr_assert_eq(set.count, 0);
	buf_free(&text);
}
