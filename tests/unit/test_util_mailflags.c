#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/imap/commands.h"
#include "twinbox/maildir/flags.h"
#include "twinbox/util/mailflags.h"

Test(util_mailflags, parse_system_flags_and_keywords)
{
	struct error err;
	unsigned bits;
	char *kw;

	cr_assert_eq(mail_flags_parse("\\Seen \\flagged $Junk \\Recent \\* \\Unknown Work", &bits, &kw, &err),
	             0, "%s", err.text);
	cr_assert_eq(bits, MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED);
	cr_assert_str_eq(kw, "$Junk Work");
	free(kw);

	cr_assert_eq(mail_flags_parse("", &bits, &kw, &err), 0);
	cr_assert_eq(bits, 0);
	cr_assert_null(kw, "the empty set is NULL");
	cr_assert_eq(mail_flags_parse(NULL, &bits, &kw, &err), 0);
	cr_assert_null(kw);

	cr_assert_eq(mail_flags_parse("\\Answered\t\\Deleted  \\Draft", &bits, &kw, &err), 0);
	cr_assert_eq(bits, MAIL_FLAG_ANSWERED | MAIL_FLAG_DELETED | MAIL_FLAG_DRAFT);
	cr_assert_null(kw);
}

Test(util_mailflags, canonical_keywords_do_not_depend_on_order_or_case)
{
	struct error err;
	char *a, *b;

	cr_assert_eq(mail_keywords_canon("work $Junk Todo $junk work", &a, &err), 0, "%s", err.text);
	cr_assert_eq(mail_keywords_canon("$junk Todo $Junk work", &b, &err), 0);
	cr_assert_str_eq(a, "$Junk Todo work");
	cr_assert_str_eq(a, b);
	cr_assert(mail_keywords_equal(a, "$junk todo WORK"));
	cr_assert_not(mail_keywords_equal(a, "$Junk Todo"));
	cr_assert(mail_keywords_equal(NULL, ""));
	cr_assert(mail_keywords_has(a, "TODO"));
	cr_assert_not(mail_keywords_has(a, "Tod"));
	cr_assert_not(mail_keywords_has(NULL, "x"));
	free(a);
	free(b);
	cr_assert_eq(mail_keywords_canon("  ", &a, &err), 0);
	cr_assert_null(a);
}

Test(util_mailflags, invalid_keywords_are_refused)
{
	static const char *bad[] = {"a\"b", "(x)",    "x*",          "50%",  "br]ck",
	                            "{3}",  "\\Seen", "caf\xc3\xa9", "a\x01"};
	char longest[MAIL_KEYWORD_MAX + 2];
	struct error err;
	char *kw;
	unsigned bits;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(mail_keywords_canon(bad[i], &kw, &err), -1, "accepted \"%s\"", bad[i]);
		cr_assert_null(kw);
		cr_assert_eq(err.scope, ERR_MESSAGE);
	}
	memset(longest, 'k', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	cr_assert_eq(mail_flags_parse(longest, &bits, &kw, &err), -1);
	longest[MAIL_KEYWORD_MAX] = '\0';
	cr_assert_eq(mail_flags_parse(longest, &bits, &kw, &err), 0);
	free(kw);
}

Test(util_mailflags, too_many_keywords_are_refused)
{
	char text[MAIL_KEYWORDS_MAX * 8 + 16] = "";
	struct error err;
	char *kw;

	for (int i = 0; i <= MAIL_KEYWORDS_MAX; i++)
		sprintf(text + strlen(text), "k%d ", i);
	cr_assert_eq(mail_keywords_canon(text, &kw, &err), -1);
	cr_assert(strstr(err.text, "more than"), "%s", err.text);
}

Test(util_mailflags, format_and_names)
{
	char *s = mail_flags_format(MAIL_FLAG_FLAGGED | MAIL_FLAG_SEEN | MAIL_FLAG_DRAFT, "$Junk Work");

	cr_assert_str_eq(s, "\\Seen \\Flagged \\Draft $Junk Work");
	free(s);
	s = mail_flags_format(0, NULL);
	cr_assert_str_eq(s, "");
	free(s);
	s = mail_flags_format(0, "only");
	cr_assert_str_eq(s, "only");
	free(s);
	cr_assert_str_eq(mail_flag_name(MAIL_FLAG_ANSWERED), "\\Answered");
	cr_assert_null(mail_flag_name(MAIL_FLAG_SEEN | MAIL_FLAG_DRAFT));
}

Test(util_mailflags, parse_and_format_round_trip)
{
	struct error err;
	unsigned bits, bits2;
	char *kw, *kw2, *text;

	cr_assert_eq(mail_flags_parse("Zeta \\Deleted alpha \\Seen", &bits, &kw, &err), 0);
	text = mail_flags_format(bits, kw);
	cr_assert_str_eq(text, "\\Seen \\Deleted alpha Zeta");
	cr_assert_eq(mail_flags_parse(text, &bits2, &kw2, &err), 0);
	cr_assert_eq(bits2, bits);
	cr_assert_str_eq(kw2, kw);
	free(kw);
	free(kw2);
	free(text);
}

/* One table gives each flag its bit, its IMAP name and its Maildir
 * letter; the IMAP core and the Maildir layer answer from it. */
Test(util_mailflags, one_table_for_imap_and_maildir)
{
	static const struct {
		unsigned bit;
		const char *imap;
		char letter;
	} want[] = {
	    {MAIL_FLAG_SEEN, "\\Seen", 'S'},       {MAIL_FLAG_ANSWERED, "\\Answered", 'R'},
	    {MAIL_FLAG_FLAGGED, "\\Flagged", 'F'}, {MAIL_FLAG_DELETED, "\\Deleted", 'T'},
	    {MAIL_FLAG_DRAFT, "\\Draft", 'D'},     {0, "$Forwarded", 'P'},
	};
	unsigned all = 0;
	size_t rows = 0;

	for (const struct mail_flag_def *d = mail_flag_defs; d->imap; d++)
		rows++;
	cr_assert_eq(rows, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < rows; i++) {
		const struct mail_flag_def *d = mail_flag_by_letter(want[i].letter);
		const char *atom[] = {want[i].imap};
		struct imap_atoms list = {atom, 1};
		char *kw = NULL;

		cr_assert_not_null(d, "letter %c", want[i].letter);
		cr_expect_eq(d->bit, want[i].bit);
		cr_expect_str_eq(d->imap, want[i].imap);
		cr_expect_eq(mail_flag_by_imap(want[i].imap, strlen(want[i].imap)), d);
		cr_expect_str_eq(maildir_flag_to_imap(want[i].letter), d->imap);
		cr_expect_eq(maildir_flag_from_imap(want[i].imap), want[i].letter);
		if (d->bit) {
			cr_expect_str_eq(mail_flag_name(d->bit), d->imap);
			cr_expect_eq(imap_flags_parse(&list, &kw), d->bit, "imap/ uses the same bits");
			cr_expect_null(kw);
		} else {
			cr_expect_eq(imap_flags_parse(&list, &kw), 0);
			cr_expect_str_eq(kw, want[i].imap, "a keyword row stays a keyword in IMAP");
		}
		free(kw);
		all |= d->bit;
	}
	cr_expect_eq(all, MAIL_FLAGS_ALL);
	cr_expect_eq(mail_flag_by_imap("\\DRAFT", 6), mail_flag_by_letter('D'), "IMAP names ignore case");
	cr_expect_null(mail_flag_by_imap("\\Seen", 4), "the length counts");
	cr_expect_null(mail_flag_by_imap("\\Recent", 7));
	cr_expect_null(mail_flag_by_letter('a'));
	cr_expect_null(mail_flag_by_letter('\0'));
}

/* \Recent belongs to one IMAP session, not to the message: the IMAP core
 * reports it with a bit of its own, outside the vocabulary. */
Test(util_mailflags, recent_is_outside_the_vocabulary)
{
	const char *atoms[] = {"\\Recent", "\\Seen"};
	struct imap_atoms list = {atoms, 2};
	char *kw = NULL;
	unsigned bits = imap_flags_parse(&list, &kw);

	cr_expect_eq(bits & MAIL_FLAGS_ALL, MAIL_FLAG_SEEN);
	cr_expect_eq(bits & ~MAIL_FLAGS_ALL, IMAP_FLAG_RECENT);
	cr_expect_null(kw);
}
