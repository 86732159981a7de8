#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/state/flags.h"

Test(state_flags, parse_system_flags_and_keywords)
{
	struct error err;
	unsigned bits;
	char *kw;

	cr_assert_eq(
	    state_flags_parse("\\Seen \\flagged $Junk \\Recent \\* \\Unknown Work", &bits, &kw, &err), 0,
	    "%s", err.text);
	cr_assert_eq(bits, STATE_FLAG_SEEN | STATE_FLAG_FLAGGED);
	cr_assert_str_eq(kw, "$Junk Work");
	free(kw);

	cr_assert_eq(state_flags_parse("", &bits, &kw, &err), 0);
	cr_assert_eq(bits, 0);
	cr_assert_null(kw, "the empty set is NULL");
	cr_assert_eq(state_flags_parse(NULL, &bits, &kw, &err), 0);
	cr_assert_null(kw);

	cr_assert_eq(state_flags_parse("\\Answered\t\\Deleted  \\Draft", &bits, &kw, &err), 0);
	cr_assert_eq(bits, STATE_FLAG_ANSWERED | STATE_FLAG_DELETED | STATE_FLAG_DRAFT);
	cr_assert_null(kw);
}

Test(state_flags, canonical_keywords_do_not_depend_on_order_or_case)
{
	struct error err;
	char *a, *b;

	cr_assert_eq(state_keywords_canon("work $Junk Todo $junk work", &a, &err), 0, "%s", err.text);
	cr_assert_eq(state_keywords_canon("$junk Todo $Junk work", &b, &err), 0);
	cr_assert_str_eq(a, "$Junk Todo work");
	cr_assert_str_eq(a, b);
	cr_assert(state_keywords_equal(a, "$junk todo WORK"));
	cr_assert_not(state_keywords_equal(a, "$Junk Todo"));
	cr_assert(state_keywords_equal(NULL, ""));
	cr_assert(state_keywords_has(a, "TODO"));
	cr_assert_not(state_keywords_has(a, "Tod"));
	cr_assert_not(state_keywords_has(NULL, "x"));
	free(a);
	free(b);
	cr_assert_eq(state_keywords_canon("  ", &a, &err), 0);
	cr_assert_null(a);
}

Test(state_flags, invalid_keywords_are_refused)
{
	static const char *bad[] = {"a\"b", "(x)",    "x*",          "50%",  "br]ck",
	                            "{3}",  "\\Seen", "caf\xc3\xa9", "a\x01"};
	char longest[STATE_KEYWORD_MAX + 2];
	struct error err;
	char *kw;
	unsigned bits;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(state_keywords_canon(bad[i], &kw, &err), -1, "accepted \"%s\"", bad[i]);
		cr_assert_null(kw);
		cr_assert_eq(err.scope, ERR_MESSAGE);
	}
	memset(longest, 'k', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	cr_assert_eq(state_flags_parse(longest, &bits, &kw, &err), -1);
	longest[STATE_KEYWORD_MAX] = '\0';
	cr_assert_eq(state_flags_parse(longest, &bits, &kw, &err), 0);
	free(kw);
}

Test(state_flags, too_many_keywords_are_refused)
{
	char text[STATE_KEYWORDS_MAX * 8 + 16] = "";
	struct error err;
	char *kw;

	for (int i = 0; i <= STATE_KEYWORDS_MAX; i++)
		sprintf(text + strlen(text), "k%d ", i);
	cr_assert_eq(state_keywords_canon(text, &kw, &err), -1);
	cr_assert(strstr(err.text, "more than"), "%s", err.text);
}

Test(state_flags, format_and_names)
{
	char *s = state_flags_format(STATE_FLAG_FLAGGED | STATE_FLAG_SEEN | STATE_FLAG_DRAFT, "$Junk Work");

	cr_assert_str_eq(s, "\\Seen \\Flagged \\Draft $Junk Work");
	free(s);
	s = state_flags_format(0, NULL);
	cr_assert_str_eq(s, "");
	free(s);
	s = state_flags_format(0, "only");
	cr_assert_str_eq(s, "only");
	free(s);
	cr_assert_str_eq(state_flag_name(STATE_FLAG_ANSWERED), "\\Answered");
	cr_assert_null(state_flag_name(STATE_FLAG_SEEN | STATE_FLAG_DRAFT));
}

Test(state_flags, parse_and_format_round_trip)
{
	struct error err;
	unsigned bits, bits2;
	char *kw, *kw2, *text;

	cr_assert_eq(state_flags_parse("Zeta \\Deleted alpha \\Seen", &bits, &kw, &err), 0);
	text = state_flags_format(bits, kw);
	cr_assert_str_eq(text, "\\Seen \\Deleted alpha Zeta");
	cr_assert_eq(state_flags_parse(text, &bits2, &kw2, &err), 0);
	cr_assert_eq(bits2, bits);
	cr_assert_str_eq(kw2, kw);
	free(kw);
	free(kw2);
	free(text);
}
