/*
 * util: header fields as text to show (header.h): found, unfolded,
 * RFC 2047 decoded, and inert whatever a sender wrote.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/header.h"

static const char block[] = "Received: from x\r\n"
                            "\tby y\r\n"
                            "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>\r\n"
                            "subject : Re: a long\r\n"
                            "  folded\tsubject  \r\n"
                            "X-Empty:\r\n"
                            "Subject: the second one\r\n"
                            "\r\n"
                            "Date: in the body\r\n";

static void field_is(const char *name, const char *expect)
{
	char *v = header_field(block, sizeof(block) - 1, name);

	if (!expect) {
		cr_assert_null(v, "%s: %s", name, v);
		return;
	}
	cr_assert_not_null(v, "%s missing", name);
	cr_assert_str_eq(v, expect);
	free(v);
}

Test(util_header, fields_are_found_and_unfolded)
{
	field_is("From", "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>");
	field_is("Subject", "Re: a long  folded\tsubject");
	field_is("received", "from x\tby y");
	field_is("X-Empty", "");
	field_is("Date", NULL); /* only in the body */
	field_is("Sub", NULL);
	field_is("Subject:", NULL);
}

static void shows(const char *raw, const char *expect)
{
	char *v = header_display(raw);

	cr_assert_str_eq(v, expect, "from \"%s\"", raw);
	free(v);
}

Test(util_header, encoded_words_are_decoded)
{
	shows("=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>",
	      "J\xc3\xbcrgen M\xc3\xbcller <jm@example.org>");
	shows("=?utf-8?b?w6Rwc2lsb24=?=", "\xc3\xa4psilon");
	shows("=?UTF-8?B?w6Rwc2lsb24?=", "\xc3\xa4psilon"); /* no padding */
	shows("=?ISO-8859-1?Q?caf=E9?= ok", "caf\xc3\xa9 ok");
	shows("=?iso-8859-15*de?q?=A4uro?=", "\xe2\x82\xac"
	                                     "uro");
	/* The white space between two encoded words goes, other stays. */
	shows("=?UTF-8?Q?a?= =?UTF-8?Q?b?=  c =?UTF-8?Q?d?=", "ab  c d");
	shows("=?UTF-8?Q?a?=\t =?UTF-8?Q?_b?=", "a b");
	/* What cannot be decoded is kept as written. */
	shows("=?no-such-charset?Q?x?=", "=?no-such-charset?Q?x?=");
	shows("=?UTF-8?X?x?=", "=?UTF-8?X?x?=");
	shows("=?UTF-8?Q?bad=ZZ?=", "=?UTF-8?Q?bad=ZZ?=");
	shows("=?UTF-8?B?/w==?=", "=?UTF-8?B?/w==?="); /* 0xff is not UTF-8 */
	shows("=?UTF-8?Q?with space?=", "=?UTF-8?Q?with space?=");
	shows("=?UTF-8?Q?unclosed", "=?UTF-8?Q?unclosed");
	shows("a =? b ?= c", "a =? b ?= c");
}

Test(util_header, hostile_text_comes_out_inert)
{
	/* Control characters go, whether written raw or encoded; the rest
	 * of the text stays as the sender wrote it. */
	shows("hi\x1b]0;pwned\x07 $(touch /tmp/x) `id`", "hi]0;pwned $(touch /tmp/x) `id`");
	shows("=?UTF-8?Q?a=0D=0Ab=1B[31m?=", "a  b[31m");
	shows("=?UTF-8?B?wpvCnA==?=x", "x"); /* U+009B, U+009C: C1 controls */
	shows("\x7f"
	      "del",
	      "del");
	shows("latin1 caf\xe9", "latin1 caf\xef\xbf\xbd");
	shows("  \t padded \t ", "padded");
}

Test(util_header, inert_text_is_not_decoded)
{
	char *v = header_inert("Lists/=?UTF-8?Q?x?=\n\x1b[2J");

	cr_assert_str_eq(v, "Lists/=?UTF-8?Q?x?= [2J");
	free(v);
}

Test(util_header, values_are_bounded)
{
	char *raw = malloc(5000), *v;

	for (int i = 0; i < 2500; i++)
		memcpy(raw + 2 * i, "\xc3\xa9", 2);
	raw[4999] = '\0'; /* and a cut character at the end */
	v = header_display(raw);
	cr_assert_leq(strlen(v), HEADER_VALUE_MAX);
	cr_assert_eq(strlen(v) % 2, 0, "cut at a character's end");
	free(v);
	free(raw);
}
