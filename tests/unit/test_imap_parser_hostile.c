/*
 * IMAP response parser: hostile and broken input. Each case must end in
 * one clean error (same text however the bytes are split) that says what
 * was wrong, never a crash, a hang or unbounded memory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/imap_dump.h"
#include "twinbox/imap/parser.h"
#include "twinbox/util/xmalloc.h"

struct bad {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *error;
};

static void check_errors(const struct bad *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);
		char *got = imap_test_parse(t[i].in, len, NULL);
		const char *e = imap_test_error(got);

		cr_expect(strstr(e, t[i].error) != NULL, "input %s\ngot %s\nexpected an error with \"%s\"",
		          t[i].in, got, t[i].error);
		cr_expect(strncmp(e, "malformed IMAP response from the server: ", 41) == 0, "%s", got);
		free(got);
	}
}

#define CHECK(t) check_errors(t, sizeof(t) / sizeof(t[0]))

Test(imap_parser_hostile, line_structure)
{
	static const struct bad t[] = {
	    {"\r\n", 0, "empty response line"},
	    {" a1 OK x\r\n", 0, "must not start with a space"},
	    {"* OK hi\rx\n", 0, "expected LF after CR at the end of the line, got 'x'"},
	    {"* OK hi\n", 0, "LF alone"},
	    {"* 3 EXISTS\n", 0, "LF alone"},
	    {"* OK hel\0lo\r\n", 13, "unexpected NUL byte"},
	    {"* LIST () \"/\" \"a\0b\"\r\n", 21, "unexpected NUL byte"},
	    {"a\0 OK x\r\n", 9, "unexpected NUL byte"},
	    {"* LIST () \"/\" a\x01"
	     "b\r\n",
	     0, "control character 0x01"},
	    {"*\r\n", 0, "expected a response name after '*'"},
	    {"* 3\r\n", 0, "expected a response name after the message number"},
	    {"* (a)\r\n", 0, "expected a response name after '*'"},
	    {"* 3 (a)\r\n", 0, "expected a response name after the message number"},
	};
	CHECK(t);
}

Test(imap_parser_hostile, tags_and_status)
{
	static const struct bad t[] = {
	    {"a(1 OK x\r\n", 0, "expected a space, ')' or the end of the line after a token, got '('"},
	    {"a*1 OK x\r\n", 0, "the tag contains the invalid character 0x2a"},
	    {"a%1 OK x\r\n", 0, "invalid character 0x25"},
	    {"a+1 OK x\r\n", 0, "invalid character 0x2b"},
	    {"t\xc3\xa9 OK x\r\n", 0, "invalid character 0xc3"},
	    {"\"a\" OK x\r\n", 0, "expected a tag, '*' or '+'"},
	    {"{3}\r\nabc OK x\r\n", 0, "expected a tag, '*' or '+'"},
	    {"(a) OK x\r\n", 0, "expected a tag, '*' or '+'"},
	    {"a1\r\n", 0, "expected OK, NO or BAD after the tag"},
	    {"a1 OKAY done\r\n", 0, "expected OK, NO or BAD after the tag, got \"OKAY\""},
	    {"a1 BYE done\r\n", 0, "expected OK, NO or BAD after the tag, got \"BYE\""},
	    {"a1 PREAUTH done\r\n", 0, "expected OK, NO or BAD"},
	    {"a1 \"OK\" done\r\n", 0, "expected OK, NO or BAD after the tag"},
	    {"a1 OK(x)\r\n", 0, "got '('"},
	    {"a1 OK [UIDNEXT abc] x\r\n", 0,
	     "response code UIDNEXT: expected a non-zero 32-bit number, got \"abc\""},
	    {"a1 OK [UIDNEXT 0] x\r\n", 0, "response code UIDNEXT"},
	    {"a1 OK [UIDVALIDITY 4294967296] x\r\n", 0, "response code UIDVALIDITY"},
	    {"a1 OK [UIDVALIDITY -1] x\r\n", 0, "response code UIDVALIDITY"},
	    {"* OK [UIDVALIDITY 99999999999999999999999] x\r\n", 0, "response code UIDVALIDITY"},
	    {"* OK [HIGHESTMODSEQ 9223372036854775808] x\r\n", 0, "HIGHESTMODSEQ: expected a 63-bit number"},
	    {"a1 OK [ALERT x\r\n", 0, "not closed with ']'"},
	    {"a1 OK []\r\n", 0, "empty response code"},
	    {"a1 OK [AL\"ERT] x\r\n", 0, "response code name contains the invalid character 0x22"},
	    {"a1 OK [APPENDUID 1] x\r\n", 0, "APPENDUID: expected a UIDVALIDITY and a UID set"},
	    {"a1 OK [APPENDUID 1 2:*] x\r\n", 0, "expected a UID set, found \"*\""},
	    {"a1 OK [COPYUID 1 1,,2 3] x\r\n", 0, "expected a UID set, found \"\""},
	    {"a1 OK [COPYUID 1 1:2:3 4] x\r\n", 0, "expected a UID set, found \"2:3\""},
	    {"a1 NO [MODIFIED 0] x\r\n", 0, "MODIFIED: expected a UID set, found \"0\""},
	    {"* OK [PERMANENTFLAGS \\Seen] x\r\n", 0,
	     "PERMANENTFLAGS: expected a parenthesised list of flags"},
	    {"* OK [PERMANENTFLAGS (\\Seen (x))] x\r\n", 0, "PERMANENTFLAGS: expected a parenthesised list"},
	    {"a1 NO [BADEVENT MessageNew] x\r\n", 0, "BADEVENT: expected a parenthesised list of events"},
	    {"a1 NO [BADEVENT (MessageNew \"x)] x\r\n", 0,
	     "BADEVENT: expected a parenthesised list of events"},
	};
	CHECK(t);
}

Test(imap_parser_hostile, numbers)
{
	static const struct bad t[] = {
	    {"* 4294967296 EXISTS\r\n", 0, "the message number 4294967296 does not fit in 32 bits"},
	    {"* -1 EXISTS\r\n", 0, "expected a number or a response name after '*', got \"-1\""},
	    {"* 3x EXISTS\r\n", 0, "expected a number or a response name after '*', got \"3x\""},
	    {"* 0 FETCH (UID 1)\r\n", 0, "message sequence number 0 in FETCH"},
	    {"* 0 EXPUNGE\r\n", 0, "message sequence number 0 in EXPUNGE"},
	    {"* 1 FETCH (UID 0)\r\n", 0, "FETCH UID: the number must not be 0"},
	    {"* 1 FETCH (UID -5)\r\n", 0, "FETCH UID: expected a number, got \"-5\""},
	    {"* 1 FETCH (UID 4294967296)\r\n", 0,
	     "FETCH UID: the number \"4294967296\" is larger than 4294967295"},
	    {"* 1 FETCH (RFC822.SIZE 18446744073709551616)\r\n", 0, "RFC822.SIZE: the number"},
	    {"* 1 FETCH (MODSEQ (9223372036854775808))\r\n", 0, "FETCH MODSEQ: the number"},
	    {"* 1 FETCH (MODSEQ 5)\r\n", 0, "FETCH MODSEQ: expected (number)"},
	    {"* SEARCH 1 2 x\r\n", 0, "SEARCH: expected a number, got \"x\""},
	    {"* SEARCH 1 0\r\n", 0, "SEARCH: the number must not be 0"},
	    {"* SEARCH 1 (MODSEQ)\r\n", 0, "expected (MODSEQ n)"},
	    {"* STATUS INBOX (MESSAGES -1)\r\n", 0, "MESSAGES: expected a number"},
	    {"* STATUS INBOX (UIDNEXT 4294967296)\r\n", 0, "UIDNEXT: the number"},
	    {"* STATUS INBOX (MESSAGES)\r\n", 0, "STATUS: expected a list of item names and values"},
	    {"* ESEARCH (TAG \"a\") MIN 0\r\n", 0, "ESEARCH MIN: the number must not be 0"},
	    {"* ESEARCH (TAG \"a\") ALL 1:x\r\n", 0, "ESEARCH ALL: expected a UID set"},
	    {"* ESEARCH COUNT\r\n", 0, "ESEARCH: expected a result name and its value"},
	    {"* VANISHED (EARLIER) 1,x\r\n", 0, "VANISHED: expected a UID set"},
	    {"* VANISHED (LATER) 1\r\n", 0, "expected (EARLIER)"},
	    {"* 3 EXISTS 4\r\n", 0, "unexpected data after the message count"},
	    {"* QUOTA R (STORAGE 10 9223372036854775808)\r\n", 0,
	     "QUOTA limit: the number \"9223372036854775808\" is larger than 9223372036854775807"},
	    {"* QUOTA R (STORAGE 99999999999999999999999 1)\r\n", 0, "QUOTA usage: the number"},
	    {"* QUOTA R (STORAGE -1 100)\r\n", 0, "QUOTA usage: expected a number, got \"-1\""},
	    {"* QUOTA R (STORAGE 1 1e3)\r\n", 0, "QUOTA limit: expected a number, got \"1e3\""},
	    {"* QUOTA R (STORAGE 1 \"100\")\r\n", 0, "QUOTA limit: expected a number"},
	    {"* QUOTA R (STORAGE 1)\r\n", 0, "QUOTA: expected a list of resource names, usages and limits"},
	    {"* QUOTA R (STORAGE 1 2 MESSAGE)\r\n", 0, "QUOTA: expected a list of resource names"},
	    {"* QUOTA R ((STORAGE) 1 2)\r\n", 0, "QUOTA: expected a resource name, got a parenthesised list"},
	    {"* QUOTA R STORAGE 1 2\r\n", 0, "QUOTA: expected a quota root name and a list of resources"},
	    {"* QUOTA (R) (STORAGE 1 2)\r\n", 0,
	     "QUOTA: expected a quota root name, got a parenthesised list"},
	    {"* QUOTA {3}\r\na\0b (STORAGE 1 2)\r\n", 32, "QUOTA: expected a quota root name"},
	    {"* QUOTA\r\n", 0, "QUOTA: expected a quota root name and a list of resources"},
	    {"* QUOTAROOT\r\n", 0, "QUOTAROOT: expected a mailbox name"},
	    {"* QUOTAROOT INBOX (R)\r\n", 0,
	     "QUOTAROOT: expected a quota root name, got a parenthesised list"},
	};
	CHECK(t);
}

Test(imap_parser_hostile, strings_and_literals)
{
	static const struct bad t[] = {
	    {"* LIST () \"/\" \"abc\r\n", 0, "quoted string is not closed at the end of the line"},
	    {"* LIST () \"/\" \"a\\xb\"\r\n", 0, "'\\\\' or '\"' after '\\\\' in a quoted string, got 'x'"},
	    {"* LIST () \"/\" \"a\"b\r\n", 0,
	     "expected a space, ')' or the end of the line after a token, got 'b'"},
	    {"* X {}\r\n", 0, "expected a digit after '{', got '}'"},
	    {"* X {-1}\r\n", 0, "expected a digit after '{', got '-'"},
	    {"* X {5x}\r\n", 0, "a digit or '}' in a literal size, got 'x'"},
	    {"* X {5+x\r\n", 0, "'}' after '+' in a literal size"},
	    {"* X {5}x\r\n", 0, "expected CRLF after a literal size, got 'x'"},
	    {"* X {5}\r\r\n", 0, "LF after CR after a literal size"},
	    {"* X {99999999999999999999999}\r\n", 0, "a literal size does not fit in 64 bits"},
	    {"* X {65537}\r\n", 0,
	     "the server announced a 65537-byte literal outside a message body, more than the limit of 65536 "
	     "bytes"},
	    {"* X ~x{\r\n", 0, "got '{'"},
	    {"* LIST () \"//\" INBOX\r\n", 0,
	     "LIST: expected a one-character hierarchy delimiter or NIL, got \"//\""},
	    {"* LIST () / INBOX\r\n", 0, "LIST: expected a one-character hierarchy delimiter"},
	    {"* LIST (\"\\\\Seen\") \"/\" INBOX\r\n", 0, "LIST: expected a flag"},
	    {"* LIST () \"/\" (INBOX)\r\n", 0, "LIST: expected a mailbox name, got a parenthesised list"},
	    {"* LIST () \"/\"\r\n", 0, "LIST: expected attributes, a delimiter and a name"},
	    {"* FLAGS \\Seen\r\n", 0, "FLAGS: expected a parenthesised list of flags"},
	    {"* NAMESPACE ((\"\" \"/\")) NIL\r\n", 0, "NAMESPACE: expected three namespace classes"},
	    {"* NAMESPACE (\"\" \"/\") NIL NIL\r\n", 0, "NAMESPACE: expected (\"prefix\" \"delimiter\")"},
	    {"* NAMESPACE () NIL NIL\r\n", 0, "NAMESPACE: expected NIL or a list of namespaces"},
	    {"* ID (\"a\")\r\n", 0, "ID: expected NIL or a list of fields and values"},
	    {"* ID (\"a\" x)\r\n", 0, "ID: expected a string or NIL as the value"},
	    {"* CAPABILITY IMAP4rev1 (x)\r\n", 0, "expected an atom, got a parenthesised list"},
	    {"* ESEARCH (TAG) COUNT 1\r\n", 0, "ESEARCH: expected (TAG \"tag\") first"},
	};
	CHECK(t);
}

Test(imap_parser_hostile, parentheses)
{
	static const struct bad t[] = {
	    {"* LIST ((\\A) \"/\" x\r\n", 0, "1 parenthesised list is not closed at the end of the line"},
	    {"* X (((\r\n", 0, "3 parenthesised lists are not closed"},
	    {"* LIST (\\A)) \"/\" x\r\n", 0, "unexpected ')' without a matching '('"},
	    {"* X )\r\n", 0, "unexpected ')' without a matching '('"},
	    {"* X (a)b\r\n", 0, "got 'b'"},
	};
	CHECK(t);
}

Test(imap_parser_hostile, fetch_structure)
{
	static const struct bad t[] = {
	    {"* 1 FETCH (UID)\r\n", 0, "the FETCH item UID has no value"},
	    {"* 1 FETCH UID 1\r\n", 0, "expected '(' after FETCH"},
	    {"* 1 FETCH\r\n", 0, "expected '(' after FETCH"},
	    {"* 1 FETCH (UID 1) x\r\n", 0, "unexpected data after the FETCH item list"},
	    {"* 1 FETCH (UID 1) (x)\r\n", 0, "unexpected data after the FETCH item list"},
	    {"* 1 FETCH (\"UID\" 1)\r\n", 0, "expected a FETCH item name"},
	    {"* 1 FETCH ((UID) 1)\r\n", 0, "expected a FETCH item name"},
	    {"* 1 FETCH (UID 1 (x) 1)\r\n", 0, "expected a FETCH item name"},
	    {"* 1 FETCH (BODY[] (a))\r\n", 0, "expected a string, a literal or NIL as the value of BODY[]"},
	    {"* 1 FETCH (BODY[] foo)\r\n", 0, "as the value of BODY[], got \"foo\""},
	    {"* 1 FETCH (BODY[ {5}\r\nhello)\r\n", 0, "']' to close the section of a FETCH item name"},
	    {"* 1 FETCH (BODY[HEADER.FIELDS (\"A\\x\")] {1}\r\nx)\r\n", 0, "after '\\\\' in a quoted string"},
	    {"* 1 FETCH (BODY[]<x> {1}\r\nx)\r\n", 0,
	     "the FETCH item name BODY[]<x> has a malformed <origin>"},
	    {"* 1 FETCH (BODY[]<4294967296> {1}\r\nx)\r\n", 0, "malformed <origin>"},
	    {"* 1 FETCH (BODY[]x {1}\r\nx)\r\n", 0, "unexpected characters after ']' in the FETCH item name"},
	    {"* 1 FETCH (FLAGS \\Seen)\r\n", 0, "FETCH FLAGS: expected a parenthesised list of flags"},
	    {"* 1 FETCH (FLAGS (\"\\\\Seen\"))\r\n", 0, "FETCH FLAGS: expected a flag, got \"\\\\Seen\""},
	    {"* 1 FETCH (INTERNALDATE x)\r\n", 0, "FETCH INTERNALDATE: expected a quoted date"},
	    /* Items before the body are typed when the body starts. */
	    {"* 1 FETCH (UID x BODY[] {1}\r\nx)\r\n", 0, "FETCH UID: expected a number"},
	};
	CHECK(t);
}

Test(imap_parser_hostile, literal_announcing_4_gib)
{
	char *got = imap_test_parse_str("* 1 FETCH (UID 5 BODY[] {4294967296}\r\n");

	cr_assert_str_eq(
	    imap_test_error(got),
	    "malformed IMAP response from the server: the server announced a 4294967296-byte literal "
	    "for BODY[], more than the limit of 2147483648 bytes for one message, near \"* 1 FETCH "
	    "(UID 5 BODY[] {4294967296\" (in an untagged FETCH response)\n");
	free(got);
}

Test(imap_parser_hostile, body_limit_is_configurable)
{
	struct imap_parser_limits lim = {0};
	const char *in = "* 1 FETCH (BODY[] {11}\r\nhello world)\r\n";
	char *got;

	lim.max_body = 10;
	got = imap_test_parse(in, strlen(in), &lim);
	cr_assert(strstr(got, "11-byte literal for BODY[], more than the limit of 10 bytes"), "%s", got);
	free(got);
}

Test(imap_parser_hostile, ten_megabyte_line_fails_at_the_limit)
{
	const size_t len = 10 * 1024 * 1024, piece = 65536;
	char *in = xmalloc(len);
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_event ev;
	struct error err;
	size_t fed = 0;
	int r = 0;

	memcpy(in, "* OK ", 5);
	memset(in + 5, 'a', len - 5);
	/* Fed as a socket would: the error comes once 1 MiB has been read,
	 * long before the 10 MB are all there. */
	while (fed < len && r == 0) {
		imap_parser_feed(p, in + fed, piece);
		fed += piece;
		r = imap_parser_next(p, &ev, &err);
	}
	cr_assert_eq(r, -1);
	cr_assert_leq(fed, 1024 * 1024 + piece);
	cr_assert(strstr(err.text, "the response is longer than 1048576 bytes"), "%s", err.text);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	imap_parser_free(p);

	/* The same in one piece, and as an atom, a quoted string and a
	 * list of small tokens. */
	memcpy(in, "* X \"", 5);
	char *got = imap_test_run(in, len, 0, 0, NULL);
	cr_assert(strstr(got, "longer than 1048576 bytes"), "%s", got);
	free(got);
	memcpy(in, "* X a", 5);
	got = imap_test_run(in, len, 0, 0, NULL);
	cr_assert(strstr(got, "longer than 1048576 bytes"), "%s", got);
	free(got);
	for (size_t i = 4; i < len; i += 2)
		memcpy(in + i, "1 ", 2);
	memcpy(in, "* SEARCH ", 9);
	got = imap_test_run(in, len, 0, 0, NULL);
	cr_assert(strstr(got, "the response has more than 200000 tokens"), "%s", got);
	free(got);
	free(in);
}

Test(imap_parser_hostile, hundred_thousand_nested_parentheses)
{
	const size_t n = 100000;
	char *in = xmalloc(n + 16);
	char *got;

	memcpy(in, "* X ", 4);
	memset(in + 4, '(', n);
	memcpy(in + 4 + n, "\r\n", 2);
	got = imap_test_parse(in, n + 6, NULL);
	cr_assert(strstr(imap_test_error(got), "parenthesised lists are nested deeper than 32 levels"), "%s",
	          got);
	free(got);
	/* The same inside a FETCH, and closing ones. */
	memcpy(in, "* 1 FETCH (X ", 13);
	memset(in + 13, '(', n);
	got = imap_test_run(in, n + 13, 0, 0, NULL);
	cr_assert(strstr(got, "nested deeper than 32 levels"), "%s", got);
	free(got);
	memcpy(in, "* X ", 4);
	memset(in + 4, ')', n);
	got = imap_test_run(in, n + 4, 0, 0, NULL);
	cr_assert(strstr(got, "unexpected ')'"), "%s", got);
	free(got);
	free(in);
}

Test(imap_parser_hostile, flag_and_token_limits)
{
	struct imap_parser_limits lim = {0};
	char *in = xmalloc(20000), *got;
	size_t len;

	len = (size_t)sprintf(in, "* FLAGS (");
	for (int i = 0; i < 1001; i++)
		len += (size_t)sprintf(in + len, "%sf%d", i ? " " : "", i);
	len += (size_t)sprintf(in + len, ")\r\n");
	got = imap_test_run(in, len, 0, 0, NULL);
	cr_assert(strstr(got, "FLAGS: 1001 flags, more than the limit of 1000"), "%s", got);
	free(got);

	lim.max_args = 5;
	got = imap_test_parse("* SEARCH 1 2 3 4 5\r\n", 20, &lim);
	cr_assert(strstr(got, "the response has more than 5 tokens"), "%s", got);
	free(got);
	lim.max_args = 0;
	lim.max_line = 16;
	got = imap_test_parse("* OK 0123456789A\r\n", 18, &lim);
	cr_assert(strstr(got, "the response is longer than 16 bytes"), "%s", got);
	free(got);
	/* A small literal must fit in what is left of the line. */
	got = imap_test_parse("* X {8}\r\n01234567\r\n", 19, &lim);
	cr_assert(strstr(got, "the response is longer than 16 bytes"), "%s", got);
	free(got);
	free(in);
}

Test(imap_parser_hostile, failed_parser_stays_failed)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_event ev;
	struct error err, err2;

	imap_parser_feed(p, "* 1 FETCH (UID)\r\n* 2 EXISTS\r\n", 29);
	cr_assert_eq(imap_parser_next(p, &ev, &err), -1);
	imap_parser_feed(p, "* 3 EXISTS\r\n", 12);
	cr_assert_eq(imap_parser_next(p, &ev, &err2), -1);
	cr_assert_str_eq(err.text, err2.text);
	cr_assert_not(imap_parser_idle(p));
	imap_parser_free(p);
}

Test(imap_parser_hostile, cut_in_the_middle_needs_more)
{
	static const char *const cuts[] = {
	    "* 1 FETCH (BODY[] {10}\r\nhello",
	    "* LIST () \"/\" {10}\r\nabc",
	    "* LIST () \"/\" \"abc",
	    "* 1 FETCH (BODY[HEADER.FIELDS (A",
	    "a1 OK [UIDNEXT 5] tex",
	    "* OK x\r",
	    "* X {12",
	    "* X ~",
	    "a1",
	};

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		char *got = imap_test_parse_str(cuts[i]);
		cr_expect(strstr(got, "INCOMPLETE\n") != NULL, "%s: %s", cuts[i], got);
		cr_expect(strstr(got, "ERROR") == NULL, "%s: %s", cuts[i], got);
		free(got);
	}
}
