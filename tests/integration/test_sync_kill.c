/*
 * Runs killed with SIGKILL at random moments (not only at the durable
 * steps of the crash hook): a pull from IMAP of 2,000 small messages,
 * killed four times, then run to the end. Nothing may be lost or
 * doubled, and nothing may be left in tmp/. (The POP3 import's twin is
 * in test_pop3_import.c.)
 *
 * The moments come from a seed, printed with the test's log; set
 * TWINBOX_TEST_SEED to replay one.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "support/sync_harness.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_kill, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

#define KILL_MESSAGES 2000
#define KILLS         4

Test(sync_kill, imap_pull_killed_at_random_leaves_nothing_behind)
{
	uint32_t seed = sync_test_seed(), first = seed;
	unsigned killed;

	dovecot_seed(sh.d, "INBOX", KILL_MESSAGES, 50000, 0);
	killed = sync_kill_randomly(&seed, KILLS, "INBOX", KILL_MESSAGES);
	sync_ok();
	cr_log_info("seed %u: %u of %u runs killed while running", first, killed, KILLS);
	assert_twins("INBOX", KILL_MESSAGES);
	cr_assert_eq(state_pair_count("INBOX"), KILL_MESSAGES, "seed %u", first);
	cr_assert_eq(tmp_count("INBOX"), 0, "seed %u: files were left in tmp/", first);
	sync_ok();
	assert_nothing_done();
}

static void in_hours(int hours)
{
	char v[32];

	snprintf(v, sizeof(v), "%lld", (long long)time(NULL) + hours * 3600LL);
	setenv("TWINBOX_TEST_NOW", v, 1);
}

static void write_tmp(const char *folder, const char *name)
{
	char *dir = folder_dir(folder);
	char *path = xasprintf("%s/tmp/%s", dir, name);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs("Subject: half written\n\nby some other program", f);
	fclose(f);
	free(path);
	free(dir);
}

/* The Maildir convention: a file in tmp/ untouched for 36 hours is
 * abandoned, whoever wrote it; every folder a sync opens is cleaned. */
Test(sync_kill, tmp_files_older_than_36_hours_are_removed)
{
	dovecot_seed(sh.d, "INBOX", 2, 50100, 0);
	dovecot_seed(sh.d, "Work", 2, 50200, 0);
	sync_ok();
	write_tmp("INBOX", "1700000000.M1P1.other");
	write_tmp("Work", "1700000001.M1P1.other");
	dovecot_seed(sh.d, "INBOX", 1, 50300, 0);
	dovecot_seed(sh.d, "Work", 1, 50400, 0);
	in_hours(35);
	sync_ok();
	cr_assert_eq(tmp_count("INBOX"), 1, "a file 35 hours old may still be written");
	cr_assert_eq(tmp_count("Work"), 1, "a file 35 hours old may still be written");
	dovecot_seed(sh.d, "INBOX", 1, 50500, 0);
	dovecot_seed(sh.d, "Work", 1, 50600, 0);
	in_hours(37);
	sync_ok();
	unsetenv("TWINBOX_TEST_NOW");
	cr_assert_eq(tmp_count("INBOX"), 0, "a file 37 hours old is abandoned");
	cr_assert_eq(tmp_count("Work"), 0, "a file 37 hours old is abandoned");
	assert_twins("INBOX", 4);
	assert_twins("Work", 4);
}
