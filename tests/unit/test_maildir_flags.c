/* Flag letters and message file names. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/maildir/flags.h"
#include "twinbox/maildir/name.h"
#include "twinbox/util/mailflags.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(maildir_flags, parse_and_format_put_letters_in_ascii_order)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"S", "S"},
	    {"SRF", "FRS"},
	    {"TSRPFD", "DFPRST"},
	    {"SS", "S"},  /* duplicates collapse */
	    {"aS", "Sa"}, /* Dovecot keywords after uppercase letters */
	    {"zyxS", "Sxyz"},
	    {"QS", "QS"},  /* unknown uppercase letter kept */
	    {"S1,-", "S"}, /* non-letters carry no flag */
	    {"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
	     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"},
	};

	for (size_t i = 0; i < N(cases); i++) {
		char out[MAILDIR_FLAGS_MAX + 1];
		uint64_t f = maildir_flags_parse(cases[i].in, strlen(cases[i].in));
		size_t n = maildir_flags_format(f, out);

		cr_expect_str_eq(out, cases[i].out, "\"%s\"", cases[i].in);
		cr_expect_eq(n, strlen(cases[i].out));
	}
}

Test(maildir_flags, every_letter_round_trips)
{
	for (int c = 0; c < 256; c++) {
		char in = (char)c, out[MAILDIR_FLAGS_MAX + 1];
		uint64_t bit = maildir_flag_bit(in);
		int letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');

		cr_assert_eq(bit != 0, letter, "byte %d", c);
		if (!letter)
			continue;
		maildir_flags_format(bit, out);
		cr_assert_eq(out[0], in);
		cr_assert_eq(out[1], '\0');
	}
	cr_assert_eq(maildir_flags_parse("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 52),
	             MAILDIR_FLAGS_ALL);
}

Test(maildir_flags, letters_map_to_imap_flags)
{
	static const struct {
		char letter;
		const char *imap;
		uint64_t bit;
	} cases[] = {
	    {'S', "\\Seen", MAILDIR_FLAG_SEEN},       {'R', "\\Answered", MAILDIR_FLAG_REPLIED},
	    {'F', "\\Flagged", MAILDIR_FLAG_FLAGGED}, {'T', "\\Deleted", MAILDIR_FLAG_TRASHED},
	    {'D', "\\Draft", MAILDIR_FLAG_DRAFT},     {'P', "$Forwarded", MAILDIR_FLAG_PASSED},
	};

	for (size_t i = 0; i < N(cases); i++) {
		cr_expect_str_eq(maildir_flag_to_imap(cases[i].letter), cases[i].imap);
		cr_expect_eq(maildir_flag_from_imap(cases[i].imap), cases[i].letter);
		cr_expect_eq(maildir_flag_bit(cases[i].letter), cases[i].bit);
	}
	cr_expect_eq(maildir_flag_from_imap("\\SEEN"), 'S', "IMAP flags are case-insensitive");
	cr_expect_eq(maildir_flag_from_imap("$forwarded"), 'P');
	cr_expect_eq(maildir_flag_from_imap("\\Recent"), 0);
	cr_expect_eq(maildir_flag_from_imap("$Junk"), 0);
	cr_expect_null(maildir_flag_to_imap('a'));
	cr_expect_null(maildir_flag_to_imap('Q'));
}

Test(maildir_name, parses_names_other_programs_write)
{
	static const struct {
		const char *name, *id, *flags;
		int has_flags;
		uint64_t size;
	} cases[] = {
	    /* Dovecot: size and virtual size fields, keyword letters */
	    {"1700000000.M1P2.host,S=4321,W=4400:2,S", "1700000000.M1P2.host,S=4321,W=4400", "S", 1, 4321},
	    {"1700000000.M20P3Q4.mx,S=10:2,Sab", "1700000000.M20P3Q4.mx,S=10", "Sab", 1, 10},
	    /* mutt, neomutt, notmuch insert */
	    {"1700000000.12345_1.laptop:2,RS", "1700000000.12345_1.laptop", "RS", 1, MAILDIR_SIZE_UNKNOWN},
	    /* mbsync with its UID field */
	    {"1700000000.1234_1.host,U=12:2,FS", "1700000000.1234_1.host,U=12", "FS", 1,
	     MAILDIR_SIZE_UNKNOWN},
	    /* an MDA, in new/ */
	    {"1700000000.M5P6.host", "1700000000.M5P6.host", "", 0, MAILDIR_SIZE_UNKNOWN},
	    /* moved to cur/ unread: info with no flags */
	    {"1700000000.M5P6.host:2,", "1700000000.M5P6.host", "", 1, MAILDIR_SIZE_UNKNOWN},
	    /* experimental info: no flags */
	    {"1700000000.M5P6.host:1,xyz", "1700000000.M5P6.host", "", 0, MAILDIR_SIZE_UNKNOWN},
	    /* a qmail-escaped host name */
	    {"1700000000.M5P6.a\\057b\\072c:2,S", "1700000000.M5P6.a\\057b\\072c", "S", 1,
	     MAILDIR_SIZE_UNKNOWN},
	    /* sizes that are not believed */
	    {"x,S=:2,S", "x,S=", "S", 1, MAILDIR_SIZE_UNKNOWN},
	    {"x,S=12a", "x,S=12a", "", 0, MAILDIR_SIZE_UNKNOWN},
	    {"x,S=99999999999999999999", "x,S=99999999999999999999", "", 0, MAILDIR_SIZE_UNKNOWN},
	    {"x,S=0", "x,S=0", "", 0, 0},
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct maildir_name pn;
		char letters[MAILDIR_FLAGS_MAX + 1];

		cr_assert_eq(maildir_name_parse(cases[i].name, &pn), 0, "%s", cases[i].name);
		cr_expect_eq(pn.id_len, strlen(cases[i].id), "%s", cases[i].name);
		cr_expect_eq(strncmp(cases[i].name, cases[i].id, pn.id_len), 0);
		cr_expect_eq(pn.has_flags, cases[i].has_flags, "%s", cases[i].name);
		maildir_flags_format(pn.flags, letters);
		cr_expect_str_eq(letters, cases[i].flags, "%s", cases[i].name);
		cr_expect_eq(pn.size, cases[i].size, "%s", cases[i].name);
	}
}

Test(maildir_name, refuses_names_that_are_not_messages)
{
	static const char *bad[] = {"", ".", "..", ".hidden", ".nfs0001", ":2,S"};
	struct maildir_name pn;
	char longname[300];

	for (size_t i = 0; i < N(bad); i++)
		cr_expect_eq(maildir_name_parse(bad[i], &pn), -1, "\"%s\"", bad[i]);
	memset(longname, 'x', 256);
	longname[256] = '\0';
	cr_expect_eq(maildir_name_parse(longname, &pn), -1, "over 255 bytes");
	longname[255] = '\0';
	cr_expect_eq(maildir_name_parse(longname, &pn), 0, "255 bytes is fine");
}

Test(maildir_name, build_keeps_order_and_unknown_characters)
{
	static const struct {
		const char *id, *letters, *old_info, *out;
	} cases[] = {
	    {"abc", "S", NULL, "abc:2,S"},
	    {"abc", "", NULL, "abc:2,"},
	    {"abc", "SFa", "2,S", "abc:2,FSa"},
	    {"abc", "S", "2,S,x", "abc:2,,S"},  /* ',' kept; letters come from the new set */
	    {"abc", "RS", "2,1S", "abc:2,1RS"}, /* ASCII order across kept bytes */
	    {"abc", "S", "1,zzz", "abc:2,S"},   /* other info forms are replaced */
	};

	for (size_t i = 0; i < N(cases); i++) {
		char out[MAILDIR_NAME_MAX + 1];
		uint64_t f = maildir_flags_parse(cases[i].letters, strlen(cases[i].letters));
		int n = maildir_name_build(cases[i].id, strlen(cases[i].id), f, cases[i].old_info, out);

		cr_expect_eq(n, (int)strlen(cases[i].out));
		cr_expect_str_eq(out, cases[i].out);
	}
}

Test(maildir_name, build_refuses_names_over_255_bytes)
{
	char id[260], out[MAILDIR_NAME_MAX + 1];

	memset(id, 'x', 250);
	id[250] = '\0';
	cr_expect_eq(maildir_name_build(id, 250, MAILDIR_FLAG_SEEN, NULL, out), 254);
	cr_expect_eq(maildir_name_build(id, 250, MAILDIR_FLAG_SEEN | MAILDIR_FLAG_FLAGGED, NULL, out), 255);
	cr_expect_eq(maildir_name_build(id, 250, maildir_flags_parse("FRS", 3), NULL, out), -1);
}

Test(maildir_name, unique_ids_have_the_documented_form)
{
	struct timespec ts = {1700000000, 123456789};
	char *id = maildir_unique_id_from(&ts, 4242, 7, "mail.example.org", 1234);
	struct maildir_name pn;

	cr_assert_str_eq(id, "1700000000.M123456P4242Q7.mail.example.org,S=1234");
	cr_assert_eq(maildir_name_parse(id, &pn), 0);
	cr_expect_eq(pn.size, 1234);
	cr_expect(maildir_id_valid(id));
	free(id);
	id = maildir_unique_id_from(&ts, 1, 1, "host", MAILDIR_SIZE_UNKNOWN);
	cr_expect_str_eq(id, "1700000000.M123456P1Q1.host");
	free(id);
}

Test(maildir_name, unique_ids_sanitise_the_host_name)
{
	static const struct {
		const char *host, *out;
	} cases[] = {
	    {"a/b", "a\\057b"},     {"a:b", "a\\072b"},
	    {"a,S=1", "a\\054S=1"}, /* a ',' would fake a size field */
	    {"a\\b", "a\\134b"},    {"a b\n", "a\\040b\\012"},
	    {"", "localhost"},      {"h\xc3\xa9", "h\\303\\251"},
	};
	struct timespec ts = {1, 0};

	for (size_t i = 0; i < N(cases); i++) {
		char *id = maildir_unique_id_from(&ts, 1, 1, cases[i].host, MAILDIR_SIZE_UNKNOWN);
		const char *host = id + strlen("1.M000000P1Q1.");

		cr_expect_str_eq(host, cases[i].out, "host \"%s\"", cases[i].host);
		cr_expect(maildir_id_valid(id), "%s", id);
		free(id);
	}
}

Test(maildir_name, unique_ids_stay_short_with_a_long_host_name)
{
	char host[300];
	struct timespec ts = {1700000000, 0};
	char *id;

	memset(host, '/', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	id = maildir_unique_id_from(&ts, 99999, 99999, host, 1u << 30);
	cr_expect(maildir_id_valid(id), "%s", id);
	cr_expect(strstr(id, "\\057\\057") != NULL);
	cr_expect(strstr(id, ",S=1073741824") != NULL, "%s", id);
	free(id);
}

Test(maildir_name, unique_ids_differ_from_call_to_call)
{
	char *ids[1000];

	for (int i = 0; i < 1000; i++) {
		ids[i] = maildir_unique_id(MAILDIR_SIZE_UNKNOWN);
		cr_assert(maildir_id_valid(ids[i]), "%s", ids[i]);
	}
	for (int i = 0; i < 1000; i++)
		for (int j = i + 1; j < 1000; j++)
			cr_assert_str_neq(ids[i], ids[j]);
	for (int i = 0; i < 1000; i++)
		free(ids[i]);
}

Test(maildir_name, id_validity)
{
	static const char *bad[] = {"", ".x", "a/b", "a:b", "a b", "a\nb", "\x7f", "a\xc3\xa9"};

	for (size_t i = 0; i < N(bad); i++)
		cr_expect_not(maildir_id_valid(bad[i]), "\"%s\"", bad[i]);
	cr_expect(maildir_id_valid("1700000000.M1P2Q3.host,S=12"));
}

Test(maildir_flags, letters_of_mail_flags_and_keywords)
{
	char out[MAILDIR_FLAGS_MAX + 1];

	maildir_flags_format(maildir_flags_of_mail(MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED, "$Forwarded $Junk"),
	                     out);
	cr_assert_str_eq(out, "FPS");
	maildir_flags_format(maildir_flags_of_mail(0, NULL), out);
	cr_assert_str_eq(out, "");
}
