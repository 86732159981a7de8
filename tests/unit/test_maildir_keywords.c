/* Dovecot's keyword table (dovecot-keywords): reading, bounds, adding
 * a name under the lock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_maildir.h"
#include "twinbox/maildir/keywords.h"
#include "twinbox/util/xmalloc.h"

TestSuite(maildir_keywords, .init = tm_setup, .fini = tm_teardown);

static struct maildir_keywords *table_of(const char *content)
{
	struct maildir_keywords *k = maildir_keywords_new(tm_dir);
	struct error err;

	if (content)
		tm_write(MAILDIR_KEYWORDS_FILE, content);
	cr_assert_geq(maildir_keywords_read(k, &err), 0, "%s", err.text);
	return k;
}

static char add(struct maildir_keywords *k, const char *kw)
{
	struct error err;
	char letter = 0;
	int rc = maildir_keywords_add(k, kw, strlen(kw), &letter, &err);

	cr_assert_eq(rc, 1, "%s: %d %s", kw, rc, rc < 0 ? err.text : "");
	return letter;
}

Test(maildir_keywords, a_missing_file_is_an_empty_table)
{
	struct maildir_keywords *k = table_of(NULL);

	cr_expect_eq(maildir_keywords_taken(k), 0);
	cr_expect_eq(maildir_keywords_free_count(k), 26);
	cr_expect_null(maildir_keywords_name(k, 'a'));
	cr_expect_null(maildir_keywords_all(k));
	maildir_keywords_free(k);
}

Test(maildir_keywords, lines_name_letters_by_index)
{
	struct maildir_keywords *k = table_of("0 $Junk\n3 $Label1\n25 Zulu\n");
	char *all = maildir_keywords_all(k);

	cr_expect_str_eq(maildir_keywords_name(k, 'a'), "$Junk");
	cr_expect_null(maildir_keywords_name(k, 'b'));
	cr_expect_str_eq(maildir_keywords_name(k, 'd'), "$Label1");
	cr_expect_str_eq(maildir_keywords_name(k, 'z'), "Zulu");
	cr_expect_null(maildir_keywords_name(k, 'S'), "uppercase letters are flags");
	cr_expect_eq(maildir_keywords_letter(k, "$junk", 5), 'a', "case-insensitive");
	cr_expect_eq(maildir_keywords_letter(k, "zulu", 4), 'z');
	cr_expect_eq(maildir_keywords_letter(k, "$Label", 6), 0, "a prefix is no match");
	cr_expect_eq(maildir_keywords_free_count(k), 23);
	cr_expect_str_eq(all, "$Junk $Label1 Zulu");
	free(all);
	maildir_keywords_free(k);
}

/* Read as Dovecot reads it: what it ignores is ignored, what it takes
 * (even a name that is no IMAP keyword) takes its letter. */
Test(maildir_keywords, garbage_is_read_the_way_dovecot_reads_it)
{
	struct maildir_keywords *k = table_of("no-space-here\n"
	                                      "26 TooFar\n"
	                                      "-1 Negative\n"
	                                      "99999999999999999999 Huge\n"
	                                      "1 \n"
	                                      "2 two words\n"
	                                      "3 Crlf\r\n"
	                                      "4 Old\n"
	                                      "4 New\n"
	                                      "x5 NotFive\n"
	                                      "6 Tail-without-LF");

	cr_expect_null(maildir_keywords_name(k, 'b'), "an empty name is ignored");
	cr_expect_null(maildir_keywords_name(k, 'c'), "\"two words\" is no keyword");
	cr_expect_eq(maildir_keywords_taken(k) & (1u << 2), 1u << 2, "... but its letter is taken");
	cr_expect_str_eq(maildir_keywords_name(k, 'd'), "Crlf", "CR before LF dropped");
	cr_expect_str_eq(maildir_keywords_name(k, 'e'), "New", "the later line wins");
	cr_expect_str_eq(maildir_keywords_name(k, 'a'), "NotFive", "atoi(\"x5\") is 0, as Dovecot reads it");
	cr_expect_null(maildir_keywords_name(k, 'g'), "a last line without LF does not count");
	cr_expect_eq(maildir_keywords_taken(k), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 4));
	maildir_keywords_free(k);
}

Test(maildir_keywords, a_file_over_the_bound_is_refused_not_read_in_part)
{
	struct maildir_keywords *k = maildir_keywords_new(tm_dir);
	size_t n = MAILDIR_KEYWORDS_FILE_MAX + 10;
	char *big = xmalloc(n + 1);
	struct error err;

	memcpy(big, "0 First\n", 8);
	memset(big + 8, 'x', n - 8);
	big[n - 1] = '\n';
	big[n] = '\0';
	tm_write(MAILDIR_KEYWORDS_FILE, big);
	cr_expect_eq(maildir_keywords_read(k, &err), -1);
	cr_expect_eq(err.scope, ERR_MAILBOX);
	cr_expect(strstr(err.text, "too long"), "%s", err.text);
	cr_expect_null(maildir_keywords_name(k, 'a'));
	free(big);
	maildir_keywords_free(k);
}

Test(maildir_keywords, add_takes_the_lowest_free_index_and_writes_dovecots_format)
{
	struct maildir_keywords *k = table_of("0 $Junk\n2 $Label2\n");
	char *text;

	cr_expect_eq(add(k, "Project-X"), 'b');
	cr_expect_eq(add(k, "$Label1"), 'd');
	cr_expect_eq(add(k, "project-x"), 'b', "a name it has keeps its letter");
	text = tm_read(MAILDIR_KEYWORDS_FILE);
	cr_expect_str_eq(text, "0 $Junk\n1 Project-X\n2 $Label2\n3 $Label1\n");
	free(text);
	cr_expect_not(tm_exists(MAILDIR_KEYWORDS_LOCK), "the lock went with the rename");
	maildir_keywords_free(k);
}

/* Another program (Dovecot) gave a letter after this table was read:
 * the table is read again under the lock and that letter not reused. */
Test(maildir_keywords, add_reads_the_file_again_under_the_lock)
{
	struct maildir_keywords *k = table_of("0 $Junk\n");
	char *text;

	tm_write(MAILDIR_KEYWORDS_FILE, "0 $Junk\n1 Theirs\n");
	cr_expect_eq(add(k, "Mine"), 'c');
	cr_expect_eq(add(k, "theirs"), 'b', "their name is found, not added twice");
	text = tm_read(MAILDIR_KEYWORDS_FILE);
	cr_expect_str_eq(text, "0 $Junk\n1 Theirs\n2 Mine\n");
	free(text);
	maildir_keywords_free(k);
}

/* What Dovecot takes but twinbox cannot name is written back as it was. */
Test(maildir_keywords, add_keeps_lines_it_cannot_name)
{
	struct maildir_keywords *k = table_of("0 two words\nno-space\n");
	char *text;

	cr_expect_eq(add(k, "Next"), 'b');
	text = tm_read(MAILDIR_KEYWORDS_FILE);
	cr_expect_str_eq(text, "0 two words\n1 Next\n");
	free(text);
	maildir_keywords_free(k);
}

Test(maildir_keywords, twenty_six_at_most)
{
	struct maildir_keywords *k = table_of(NULL);
	struct error err;
	char letter = 'x';

	for (int i = 0; i < 26; i++) {
		char kw[16];

		snprintf(kw, sizeof(kw), "K%02d", i);
		cr_assert_eq(add(k, kw), 'a' + i);
	}
	cr_expect_eq(maildir_keywords_free_count(k), 0);
	cr_expect_eq(maildir_keywords_add(k, "K26", 3, &letter, &err), 0, "full");
	cr_expect_eq(letter, 0);
	cr_expect_eq(add(k, "k25"), 'z', "a name it has is still found when full");
	cr_expect_not(tm_exists(MAILDIR_KEYWORDS_LOCK));
	maildir_keywords_free(k);
}

Test(maildir_keywords, add_refuses_what_is_no_keyword)
{
	struct maildir_keywords *k = table_of(NULL);
	struct error err;
	char letter;

	cr_expect_eq(maildir_keywords_add(k, "\\Seen", 5, &letter, &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect_eq(maildir_keywords_add(k, "a b", 3, &letter, &err), -1);
	cr_expect_not(tm_exists(MAILDIR_KEYWORDS_FILE), "nothing written");
	maildir_keywords_free(k);
}

/* A live holder is waited for (here: not at all) and never broken. */
Test(maildir_keywords, a_live_lock_is_respected)
{
	struct maildir_keywords *k = table_of("0 $Junk\n");
	char *held = xasprintf("%ld:", (long)getpid()), host[256], *text;
	struct error err;
	char letter;

	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	text = xasprintf("%s%s", held, host);
	tm_write(MAILDIR_KEYWORDS_LOCK, text);
	maildir_keywords_set_lock_wait(k, 0);
	cr_expect_eq(maildir_keywords_add(k, "New", 3, &letter, &err), -1);
	cr_expect_eq(err.scope, ERR_MAILBOX);
	cr_expect(strstr(err.text, MAILDIR_KEYWORDS_LOCK), "%s", err.text);
	cr_expect(tm_exists(MAILDIR_KEYWORDS_LOCK), "someone else's lock stays");
	free(text);
	text = tm_read(MAILDIR_KEYWORDS_FILE);
	cr_expect_str_eq(text, "0 $Junk\n", "the table is unchanged");
	free(text);
	free(held);
	maildir_keywords_free(k);
}

/* A lock left by a process that is gone is taken over at once. */
Test(maildir_keywords, a_dead_holders_lock_is_taken_over)
{
	struct maildir_keywords *k = table_of(NULL);
	char host[256], *text;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	text = xasprintf("%ld:%s", (long)pid, host);
	tm_write(MAILDIR_KEYWORDS_LOCK, text);
	maildir_keywords_set_lock_wait(k, 0);
	cr_expect_eq(add(k, "New"), 'a');
	cr_expect_not(tm_exists(MAILDIR_KEYWORDS_LOCK));
	free(text);
	maildir_keywords_free(k);
}

/* A lock that names no holder is stale once older than Dovecot's bound. */
Test(maildir_keywords, an_old_lock_is_taken_over)
{
	struct maildir_keywords *k = table_of(NULL);
	char *lock = tm_path(MAILDIR_KEYWORDS_LOCK);
	struct timeval old[2];
	struct error err;
	char letter;

	tm_write(MAILDIR_KEYWORDS_LOCK, "0 Half-written\n");
	maildir_keywords_set_lock_wait(k, 0);
	cr_expect_eq(maildir_keywords_add(k, "New", 3, &letter, &err), -1, "a fresh one is not stale");
	old[0].tv_sec = old[1].tv_sec = time(NULL) - MAILDIR_KEYWORDS_LOCK_STALE - 5;
	old[0].tv_usec = old[1].tv_usec = 0;
	cr_assert_eq(utimes(lock, old), 0);
	cr_expect_eq(add(k, "New"), 'a');
	cr_expect_not(tm_exists(MAILDIR_KEYWORDS_LOCK));
	free(lock);
	maildir_keywords_free(k);
}

/* Where Dovecot serves the folder (dovecot-uidlist), its uidlist lock
 * is held too while the table changes, and released after. */
Test(maildir_keywords, dovecots_uidlist_lock_is_held_and_released)
{
	struct maildir_keywords *k = table_of(NULL);
	char host[256], *text;
	struct error err;
	char letter;

	tm_write(MAILDIR_UIDLIST_FILE, "3 V1 N1\n");
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	text = xasprintf("%ld:%s", (long)getpid(), host);
	tm_write(MAILDIR_UIDLIST_LOCK, text);
	maildir_keywords_set_lock_wait(k, 0);
	cr_expect_eq(maildir_keywords_add(k, "New", 3, &letter, &err), -1, "Dovecot holds the folder");
	cr_expect_not(tm_exists(MAILDIR_KEYWORDS_FILE));
	char *lock = tm_path(MAILDIR_UIDLIST_LOCK);
	cr_assert_eq(unlink(lock), 0);
	cr_expect_eq(add(k, "New"), 'a');
	cr_expect_not(tm_exists(MAILDIR_UIDLIST_LOCK), "released");
	cr_expect_not(tm_exists(MAILDIR_KEYWORDS_LOCK), "released");
	free(lock);
	free(text);
	maildir_keywords_free(k);
}

/* Dovecot reads the table again only when its mtime (seconds) grows. */
Test(maildir_keywords, every_write_makes_the_mtime_grow)
{
	struct maildir_keywords *k = table_of("0 $Junk\n");
	char *path = tm_path(MAILDIR_KEYWORDS_FILE);
	struct timeval future[2];
	struct stat sb;
	time_t t = time(NULL) + 1000;

	future[0].tv_sec = future[1].tv_sec = t;
	future[0].tv_usec = future[1].tv_usec = 0;
	cr_assert_eq(utimes(path, future), 0);
	cr_expect_eq(add(k, "New"), 'b');
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_gt(sb.st_mtime, t);
	free(path);
	maildir_keywords_free(k);
}
