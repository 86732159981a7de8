/*
 * IMAP response parser: FETCH responses, streamed bodies, and the
 * zero-copy / bounded-memory promises of the header.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/imap_dump.h"
#include "twinbox/imap/parser.h"
#include "twinbox/util/xmalloc.h"

static void check(const char *in, size_t len, const char *expected)
{
	char *got = imap_test_parse(in, len, NULL);

	cr_expect_str_eq(got, expected, "got:\n%s\nexpected:\n%s", got, expected);
	free(got);
}

#define CHECK(in, out) check(in, sizeof(in) - 1, out)

Test(imap_parser_fetch, items_without_body)
{
	CHECK("* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 UID "
	      "1234)\r\n",
	      "FETCH_BEGIN seq=12 uid=1234 flags=(\\Seen) size=4286 date=837596665-420\n"
	      "FETCH_END seq=12 uid=1234 flags=(\\Seen) size=4286 date=837596665-420 items=(FLAGS (\\Seen) "
	      "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 UID 1234)\n");
	CHECK("* 2 FETCH (UID 8 MODSEQ (624140003) FLAGS ())\r\n",
	      "FETCH_BEGIN seq=2 uid=8 flags=() modseq=624140003\n"
	      "FETCH_END seq=2 uid=8 flags=() modseq=624140003 items=(UID 8 MODSEQ (624140003) FLAGS ())\n");
	CHECK("* 1 FETCH ()\r\n", "FETCH_BEGIN seq=1\nFETCH_END seq=1 items=()\n");
	CHECK("* 1 FETCH (FLAGS (\\Seen $Label1 NonJunk \\Recent))\r\n",
	      "FETCH_BEGIN seq=1 flags=(\\Seen $Label1 NonJunk \\Recent)\n"
	      "FETCH_END seq=1 flags=(\\Seen $Label1 NonJunk \\Recent) items=(FLAGS (\\Seen $Label1 NonJunk "
	      "\\Recent))\n");
}

Test(imap_parser_fetch, body_before_and_after_other_items)
{
	CHECK("* 1 FETCH (UID 7 BODY[] {5}\r\nhello FLAGS (\\Seen))\r\n",
	      "FETCH_BEGIN seq=1 uid=7\n"
	      "BODY_START name=BODY[] section= size=5\n"
	      "BODY_DATA \"hello\"\n"
	      "BODY_END\n"
	      "FETCH_END seq=1 uid=7 flags=(\\Seen) items=(UID 7 BODY[] <body 5> FLAGS (\\Seen))\n");
	CHECK("* 1 FETCH (BODY[] {5}\r\nhello UID 7 FLAGS (\\Seen))\r\n",
	      "FETCH_BEGIN seq=1\n"
	      "BODY_START name=BODY[] section= size=5\n"
	      "BODY_DATA \"hello\"\n"
	      "BODY_END\n"
	      "FETCH_END seq=1 uid=7 flags=(\\Seen) items=(BODY[] <body 5> UID 7 FLAGS (\\Seen))\n");
}

Test(imap_parser_fetch, several_bodies_sections_and_origin)
{
	CHECK("* 3 FETCH (UID 9 BODY[HEADER.FIELDS (FROM \"X-A]\")] {9}\r\nFrom: a\r\n BODY[TEXT]<0> "
	      "{4}\r\nbody "
	      "RFC822.SIZE 100)\r\n",
	      "FETCH_BEGIN seq=3 uid=9\n"
	      "BODY_START name=BODY[HEADER.FIELDS (FROM \"X-A]\")] section=HEADER.FIELDS (FROM \"X-A]\") "
	      "size=9\n"
	      "BODY_DATA \"From: a\\r\\n\"\n"
	      "BODY_END\n"
	      "BODY_START name=BODY[TEXT] section=TEXT size=4 origin=0\n"
	      "BODY_DATA \"body\"\n"
	      "BODY_END\n"
	      "FETCH_END seq=3 uid=9 size=100 items=(UID 9 BODY[HEADER.FIELDS (FROM \"X-A]\")] <body 9> "
	      "BODY[TEXT]<0> <body 4> RFC822.SIZE 100)\n");
	CHECK("* 1 FETCH (BODY[]<1024> {3}\r\nabc)\r\n",
	      "FETCH_BEGIN seq=1\nBODY_START name=BODY[] section= size=3 origin=1024\nBODY_DATA \"abc\"\n"
	      "BODY_END\nFETCH_END seq=1 items=(BODY[]<1024> <body 3>)\n");
	CHECK("* 1 fetch (uid 5 body.peek[1.MIME] {1}\r\nx)\r\n",
	      "FETCH_BEGIN seq=1 uid=5\nBODY_START name=body.peek[1.MIME] section=1.MIME size=1\n"
	      "BODY_DATA \"x\"\nBODY_END\nFETCH_END seq=1 uid=5 items=(uid 5 body.peek[1.MIME] <body 1>)\n");
}

Test(imap_parser_fetch, bodies_as_quoted_string_or_nil)
{
	CHECK("* 4 FETCH (BODY[] \"\" UID 3)\r\n",
	      "FETCH_BEGIN seq=4\nBODY_START name=BODY[] section= size=0\nBODY_END\n"
	      "FETCH_END seq=4 uid=3 items=(BODY[] \"\" UID 3)\n");
	CHECK("* 4 FETCH (BODY[1] \"a\\\"b\")\r\n",
	      "FETCH_BEGIN seq=4\nBODY_START name=BODY[1] section=1 size=3\nBODY_DATA \"a\\\"b\"\nBODY_END\n"
	      "FETCH_END seq=4 items=(BODY[1] \"a\\\"b\")\n");
	CHECK("* 4 FETCH (BODY[1] NIL)\r\n",
	      "FETCH_BEGIN seq=4\nBODY_START name=BODY[1] section=1 size=0 nil\nBODY_END\n"
	      "FETCH_END seq=4 items=(BODY[1] NIL)\n");
}

Test(imap_parser_fetch, rfc822_items_and_literal8)
{
	CHECK("* 5 FETCH (RFC822 {3}\r\nabc RFC822.HEADER {2}\r\n\r\n RFC822.TEXT {0}\r\n)\r\n",
	      "FETCH_BEGIN seq=5\n"
	      "BODY_START name=RFC822 section= size=3\nBODY_DATA \"abc\"\nBODY_END\n"
	      "BODY_START name=RFC822.HEADER section=HEADER size=2\nBODY_DATA \"\\r\\n\"\nBODY_END\n"
	      "BODY_START name=RFC822.TEXT section=TEXT size=0\nBODY_END\n"
	      "FETCH_END seq=5 items=(RFC822 <body 3> RFC822.HEADER <body 2> RFC822.TEXT <body 0>)\n");
	CHECK("* 6 FETCH (BINARY[1] ~{3}\r\na\0b BINARY.SIZE[1] 3)\r\n",
	      "FETCH_BEGIN seq=6\nBODY_START name=BINARY[1] section=1 size=3 binary\nBODY_DATA \"a\\x00b\"\n"
	      "BODY_END\nFETCH_END seq=6 items=(BINARY[1] <body 3> BINARY.SIZE[1] 3)\n");
}

Test(imap_parser_fetch, body_content_is_never_parsed)
{
	CHECK("* 7 FETCH (BODY[] {16}\r\n)\r\n* 8 FETCH (\r\n UID 1)\r\na1 OK done\r\n",
	      "FETCH_BEGIN seq=7\nBODY_START name=BODY[] section= size=16\n"
	      "BODY_DATA \")\\r\\n* 8 FETCH (\\r\\n\"\nBODY_END\n"
	      "FETCH_END seq=7 uid=1 items=(BODY[] <body 16> UID 1)\n"
	      "TAGGED a1 OK text=\"done\"\n");
}

Test(imap_parser_fetch, untyped_items_are_kept)
{
	CHECK(
	    "* 6 FETCH (UID 10 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" {5}\r\nsubj! ((\"n\" NIL "
	    "\"u\" \"h\")) NIL NIL NIL NIL NIL NIL NIL \"<id@h>\") X-GM-LABELS (\\Inbox \"foo bar\"))\r\n",
	    "FETCH_BEGIN seq=6 uid=10\n"
	    "FETCH_END seq=6 uid=10 items=(UID 10 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	    "{5}\"subj!\" ((\"n\" NIL \"u\" \"h\")) NIL NIL NIL NIL NIL NIL NIL \"<id@h>\") X-GM-LABELS "
	    "(\\Inbox \"foo bar\"))\n");
	CHECK("* 1 FETCH (X-GM-THRID 1278455344230334865 X-GM-MSGID 1278455344230334865 UID 4 FLAGS "
	      "(\\Seen))\r\n",
	      "FETCH_BEGIN seq=1 uid=4 flags=(\\Seen)\n"
	      "FETCH_END seq=1 uid=4 flags=(\\Seen) items=(X-GM-THRID 1278455344230334865 X-GM-MSGID "
	      "1278455344230334865 UID 4 FLAGS (\\Seen))\n");
	/* RFC 3501's multipart BODYSTRUCTURE has ")(" without a space. */
	CHECK(
	    "* 9 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 "
	    "23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<96@cac>\" \"Compiler "
	    "diff\" \"BASE64\" 4554 73) \"MIXED\"))\r\n",
	    "FETCH_BEGIN seq=9\n"
	    "FETCH_END seq=9 items=(BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	    "\"7BIT\" 1152 23) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
	    "\"<96@cac>\" "
	    "\"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\"))\n");
}

Test(imap_parser_fetch, internaldate_forms)
{
	CHECK("* 1 FETCH (INTERNALDATE \" 1-Mar-2024 05:29:59 +0530\")\r\n",
	      "FETCH_BEGIN seq=1 date=1709251199+330\n"
	      "FETCH_END seq=1 date=1709251199+330 items=(INTERNALDATE \" 1-Mar-2024 05:29:59 +0530\")\n");
	CHECK(
	    "* 1 FETCH (INTERNALDATE \"01-jan-1970 00:00:00 +0000\")\r\n",
	    "FETCH_BEGIN seq=1 date=0+0\nFETCH_END seq=1 date=0+0 items=(INTERNALDATE \"01-jan-1970 00:00:00 "
	    "+0000\")\n");
	/* A date that cannot be read is left out, not fatal. */
	CHECK(
	    "* 1 FETCH (UID 2 INTERNALDATE \"31-Feb-2024 00:00:00 +0000\")\r\n",
	    "FETCH_BEGIN seq=1 uid=2\nFETCH_END seq=1 uid=2 items=(UID 2 INTERNALDATE \"31-Feb-2024 00:00:00 "
	    "+0000\")\n");
	CHECK("* 1 FETCH (UID 2 INTERNALDATE \"yesterday\")\r\n",
	      "FETCH_BEGIN seq=1 uid=2\nFETCH_END seq=1 uid=2 items=(UID 2 INTERNALDATE \"yesterday\")\n");
}

/* Each date's zone in minutes east of UTC, read one byte at a time like
 * every CHECK: what a migration writes back with APPEND. */
Test(imap_parser_fetch, internaldate_zones)
{
	static const struct {
		const char *date;
		const char *dump; /* "time+zone" */
	} t[] = {
	    {"07-Dec-2026 09:15:00 +0100", "1796631300+60"},
	    {"07-Dec-2026 08:15:00 +0000", "1796631300+0"},
	    {"07-Dec-2026 08:15:00 -0000", "1796631300+0"},
	    {"07-Dec-2026 04:45:00 -0330", "1796631300-210"},
	    {"07-Dec-2026 14:00:00 +0545", "1796631300+345"},
	    {"07-Dec-2026 22:15:00 +1400", "1796631300+840"},
	    {"06-Dec-2026 20:15:00 -1200", "1796631300-720"},
	    /* the bounds of 4DIGIT as hours and minutes */
	    {"08-Dec-2026 08:14:00 +2359", "1796631300+1439"},
	    {"06-Dec-2026 08:16:00 -2359", "1796631300-1439"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *in = xasprintf("* 1 FETCH (INTERNALDATE \"%s\")\r\n", t[i].date);
		char *want =
		    xasprintf("FETCH_BEGIN seq=1 date=%s\nFETCH_END seq=1 date=%s items=(INTERNALDATE "
		              "\"%s\")\n",
		              t[i].dump, t[i].dump, t[i].date);
		check(in, strlen(in), want);
		free(in);
		free(want);
	}
}

/* A zone that is no zone leaves the date out (the raw string stays in
 * items), never a connection lost or a wrong time. */
Test(imap_parser_fetch, internaldate_hostile_zones_are_refused)
{
	static const char *const bad[] = {
	    "07-Dec-2026 09:15:00 +2400",  "07-Dec-2026 09:15:00 +0160",   "07-Dec-2026 09:15:00 -9999",
	    "07-Dec-2026 09:15:00 +01000", "07-Dec-2026 09:15:00 +010",    "07-Dec-2026 09:15:00 0100",
	    "07-Dec-2026 09:15:00 +01:00", "07-Dec-2026 09:15:00 CET",     "07-Dec-2026 09:15:00 ",
	    "07-Dec-2026 09:15:00",        "07-Dec-2026 09:15:00 +0x10",   "07-Dec-2026 09:15:00 + 100",
	    "07-Dec-2026 09:15:00 ++100",  "07-Dec-2026 09:15:00 +0100 x", "07-Dec-2026 09:15:00 +-100",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *in = xasprintf("* 1 FETCH (UID 2 INTERNALDATE \"%s\")\r\n", bad[i]);
		char *want =
		    xasprintf("FETCH_BEGIN seq=1 uid=2\nFETCH_END seq=1 uid=2 items=(UID 2 INTERNALDATE "
		              "\"%s\")\n",
		              bad[i]);
		check(in, strlen(in), want);
		free(in);
		free(want);
	}
}

Test(imap_parser_fetch, cut_inside_a_body_waits_for_more)
{
	char *got = imap_test_parse_str("* 1 FETCH (UID 3 BODY[] {10}\r\nhello");

	cr_assert_str_eq(got, "FETCH_BEGIN seq=1 uid=3\nBODY_START name=BODY[] section= size=10\n"
	                      "BODY_DATA \"hello\"\nINCOMPLETE\n");
	free(got);
}

Test(imap_parser_fetch, fetch_pointers_through_the_api)
{
	const char *in = "* 3 FETCH (UID 44 BODY[] {6}\r\nab\r\ncd FLAGS (\\Seen \\Answered) MODSEQ (9))\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_event ev;
	struct error err;

	imap_parser_feed(p, in, strlen(in));
	cr_assert_eq(imap_parser_next(p, &ev, &err), 1);
	cr_assert_eq(ev.type, IMAP_EV_FETCH_BEGIN);
	cr_assert_eq(ev.fetch->seq, 3);
	cr_assert_eq(ev.fetch->have, IMAP_FETCH_UID);
	cr_assert_eq(ev.fetch->uid, 44);
	cr_assert_null(ev.fetch->items);
	cr_assert_eq(imap_parser_next(p, &ev, &err), 1);
	cr_assert_eq(ev.type, IMAP_EV_BODY_START);
	cr_assert_eq(ev.body->size, 6);
	cr_assert_eq(imap_parser_next(p, &ev, &err), 1);
	cr_assert_eq(ev.type, IMAP_EV_BODY_CHUNK);
	/* Zero copy: the chunk is the caller's bytes. */
	cr_assert_eq((const char *)ev.chunk, in + 30);
	cr_assert_eq(ev.chunk_len, 6);
	cr_assert_eq(imap_parser_next(p, &ev, &err), 1);
	cr_assert_eq(ev.type, IMAP_EV_BODY_END);
	cr_assert_eq(imap_parser_next(p, &ev, &err), 1);
	cr_assert_eq(ev.type, IMAP_EV_FETCH_END);
	cr_assert_eq(ev.fetch->have, IMAP_FETCH_UID | IMAP_FETCH_FLAGS | IMAP_FETCH_MODSEQ);
	cr_assert_eq(ev.fetch->flags.count, 2);
	cr_assert_str_eq(ev.fetch->flags.v[1], "\\Answered");
	cr_assert_eq(ev.fetch->modseq, 9);
	cr_assert_eq(ev.fetch->item_count, 8);
	cr_assert_eq(ev.fetch->items[3].type, IMAP_ARG_BODY);
	cr_assert_eq(ev.fetch->items[3].len, 6);
	cr_assert_eq(imap_parser_next(p, &ev, &err), 0);
	imap_parser_free(p);
}

/* A big body streams through in the caller's own buffers: every chunk
 * points into the piece just fed, nothing is copied or accumulated. */
Test(imap_parser_fetch, big_body_is_streamed_without_copy)
{
	const size_t body = 20u * 1024 * 1024, piece = 65536;
	const char *head = "* 1 FETCH (UID 9 BODY[] {20971520}\r\n";
	const char *tail = " FLAGS (\\Seen))\r\n";
	size_t hlen = strlen(head), tlen = strlen(tail), total = hlen + body + tlen, seen = 0;
	char *in = xmalloc(total);
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_event ev;
	struct error err;
	int ends = 0;

	memcpy(in, head, hlen);
	for (size_t i = 0; i < body; i++)
		in[hlen + i] = (char)('a' + i % 26);
	memcpy(in + hlen + body, tail, tlen);
	for (size_t off = 0; off < total; off += piece) {
		size_t n = total - off < piece ? total - off : piece;
		int r;

		imap_parser_feed(p, in + off, n);
		while ((r = imap_parser_next(p, &ev, &err)) == 1) {
			if (ev.type == IMAP_EV_BODY_CHUNK) {
				cr_assert((const char *)ev.chunk >= in + off &&
				          (const char *)ev.chunk < in + off + n);
				cr_assert_eq(*ev.chunk, 'a' + seen % 26);
				seen += ev.chunk_len;
			}
			if (ev.type == IMAP_EV_FETCH_END) {
				cr_assert_eq(ev.fetch->flags.count, 1);
				ends++;
			}
		}
		cr_assert_eq(r, 0, "%s", err.text);
	}
	cr_assert_eq(seen, body);
	cr_assert_eq(ends, 1);
	imap_parser_free(p);
	free(in);
}

/* The shape of a big sync: 10,000 messages in one stream. */
Test(imap_parser_fetch, ten_thousand_messages)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *body = "From: a@example.org\r\nSubject: hi\r\n\r\nHello, world.\r\n";
	size_t blen = strlen(body), count = 0, bytes = 0;
	struct imap_event ev;
	struct error err;
	char line[256];
	int r;

	for (unsigned i = 1; i <= 10000; i++) {
		int n = snprintf(line, sizeof(line),
		                 "* %u FETCH (UID %u FLAGS (\\Seen) RFC822.SIZE %zu BODY[] {%zu}\r\n", i,
		                 i + 100, blen, blen);
		imap_parser_feed(p, line, (size_t)n);
		while ((r = imap_parser_next(p, &ev, &err)) == 1)
			;
		cr_assert_eq(r, 0);
		imap_parser_feed(p, body, blen);
		imap_parser_feed(p, ")\r\n", 3); /* fed before draining: copied */
		while ((r = imap_parser_next(p, &ev, &err)) == 1) {
			if (ev.type == IMAP_EV_BODY_CHUNK)
				bytes += ev.chunk_len;
			if (ev.type == IMAP_EV_FETCH_END) {
				cr_assert_eq(ev.fetch->uid, i + 100);
				count++;
			}
		}
		cr_assert_eq(r, 0, "%s", err.text);
	}
	cr_assert_eq(count, 10000);
	cr_assert_eq(bytes, 10000 * blen);
	imap_parser_free(p);
}
