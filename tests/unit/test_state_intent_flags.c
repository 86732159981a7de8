/*
 * The flags a deliver-local intent keeps in its `remote` text, so that a
 * killed run's delivery is recorded with the flags it was made with.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/state/intent.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

Test(state_intent_flags, round_trip_with_and_without_keywords)
{
	static const struct {
		unsigned bits;
		const char *keywords;
	} cases[] = {
	    {0, NULL},
	    {MAIL_FLAG_SEEN, NULL},
	    {MAIL_FLAGS_ALL, NULL},
	    {MAIL_FLAG_FLAGGED | MAIL_FLAG_DRAFT, "$Forwarded $Label1"},
	    {0, "$Junk"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *text = state_intent_flags_format(cases[i].bits, cases[i].keywords);
		unsigned bits = 99;
		char *keywords = NULL;
		cr_assert_not_null(text);
		cr_assert_eq(text[0], '(', "%s", text);
		cr_assert(state_intent_flags_parse(text, &bits, &keywords), "%s", text);
		cr_assert_eq(bits, cases[i].bits, "%s", text);
		if (cases[i].keywords)
			cr_assert_str_eq(keywords, cases[i].keywords);
		else
			cr_assert_null(keywords, "%s", text);
		free(keywords);
		free(text);
	}
}

/* Intents written before the flags were kept have no such text: the
 * caller then falls back, and nothing is set. */
Test(state_intent_flags, anything_else_is_not_flags)
{
	static const char *const texts[] = {NULL, "", "(", ")", "\\Seen", "(\\Seen", "UIDL-1234"};

	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		unsigned bits = 7;
		char *keywords = NULL;
		cr_assert_not(state_intent_flags_parse(texts[i], &bits, &keywords), "%s",
		              texts[i] ? texts[i] : "NULL");
		cr_assert_eq(bits, 7);
		cr_assert_null(keywords);
	}
}

Test(state_intent_flags, too_long_for_an_intent_is_left_out)
{
	char *keywords = xcalloc(1, 130 * 40);
	char *text;

	for (int i = 0; i < 128; i++)
		sprintf(keywords + strlen(keywords), "%s$Keyword%03d_padding_padding_padding", i ? " " : "",
		        i);
	text = state_intent_flags_format(MAIL_FLAG_SEEN, keywords);
	cr_assert_null(text, "%zu bytes of flags cannot be an intent's remote text", strlen(keywords));
	free(keywords);
}
