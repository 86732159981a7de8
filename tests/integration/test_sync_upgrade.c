/*
 * A state file of an earlier release (schema version 4: a remote UID
 * and a local name per pair, the remote side's markers and the Maildir's
 * in columns of their own) is upgraded in place by the first run that
 * opens it: that run copies nothing and changes nothing, and changes
 * made afterwards still go both ways. One of version 5 (no record of
 * runs or of how each folder's sync ended) is read by `twinbox status`
 * as far as it goes, and the next run records the rest. The harness is
 * support/sync_harness.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/state/state.h"
#include "twinbox/util/xmalloc.h"
#include "unit/test_state.h"

TestSuite(sync_upgrade, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* Replace the harness's state file by an empty file of schema `version`
 * (state_create_version) filled from it by `copy` (SQL in which the
 * current file is attached as "cur"). */
static void write_as_version(int version, const char *copy)
{
	char *old = xasprintf("%s.v%d", sh.db, version);
	struct error err;

	cr_assert_eq(state_create_version(old, version, &err), 0, "%s", err.text);
	state_test_sql(old, copy);
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char *p = xasprintf("%s%s", sh.db, suffixes[i]);
		unlink(p);
		free(p);
	}
	cr_assert_eq(rename(old, sh.db), 0);
	free(old);
}

/* The state file the previous release but one would have written after
 * the same runs, column by column. */
static void write_as_version_4(void)
{
	char *copy = xasprintf(
	    "ATTACH '%s' AS cur;"
	    "INSERT INTO main.folder (id, remote_name, local_path, uidvalidity, uidnext, highestmodseq,"
	    " messages, cur_mtime_sec, cur_mtime_nsec, new_mtime_sec, new_mtime_nsec, last_sync, rules,"
	    " local_digest, local_files)"
	    " SELECT id, remote_name, local_path, a_uidvalidity, a_uidnext, a_highestmodseq, a_messages,"
	    " b_mark1_sec, b_mark1_nsec, b_mark0_sec, b_mark0_nsec, last_sync, rules, b_digest, b_files"
	    " FROM cur.folder;"
	    "INSERT INTO main.pair (id, folder_id, uid, local_id, flags, keywords, size, content_key,"
	    " renumbered)"
	    " SELECT id, folder_id, a_uid, b_name, flags, keywords, size, content_key, renumbered"
	    " FROM cur.pair;"
	    "INSERT INTO main.server SELECT * FROM cur.server;",
	    sh.db);

	write_as_version(4, copy);
	free(copy);
}

Test(sync_upgrade, a_state_of_the_previous_release_is_upgraded_and_the_next_run_copies_nothing)
{
	dovecot_seed(sh.d, "INBOX", 12, 700, 0);
	dovecot_create_mailbox(sh.d, "Archive");
	dovecot_seed(sh.d, "Archive", 5, 710, 0);
	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Seen \\Flagged");
	sync_ok();
	write_local("INBOX", "1700000000.M1P1.devbox",
	            "Message-ID: <up1@twinbox.test>\nSubject: local\n\nbody\n");
	sync_ok();

	write_as_version_4();
	cr_assert_eq(state_test_sql_int(sh.db, "PRAGMA user_version"), 4);
	cr_assert_eq(state_test_sql_int(sh.db, "SELECT count(*) FROM pair"), 18,
	             "the old file holds every pair");

	sync_ok();
	assert_nothing_done();
	cr_assert_eq(state_test_sql_int(sh.db, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	assert_twins("INBOX", 13);
	assert_twins("Archive", 5);
	cr_assert_eq(state_pair_count("INBOX"), 13);
	cr_assert_eq(state_pair_count("Archive"), 5);

	/* After the upgrade changes still go both ways. */
	dovecot_seed(sh.d, "Archive", 2, 720, 0);
	write_local("INBOX", "1700000001.M2P2.devbox",
	            "Message-ID: <up2@twinbox.test>\nSubject: later\n\nbody\n");
	sync_ok();
	assert_twins("INBOX", 14);
	assert_twins("Archive", 7);
}

/* The one version 5 (the previous release) would have written. */
static void write_as_version_5(void)
{
	static const char folder_cols[] =
	    "id, remote_name, local_path, a_uidvalidity, a_uidnext, a_highestmodseq, a_messages,"
	    " b_mark0_sec, b_mark0_nsec, b_mark1_sec, b_mark1_nsec, last_sync, rules, b_digest, b_files,"
	    " a_mark0_sec, a_mark0_nsec, a_mark1_sec, a_mark1_nsec, a_digest, a_files, b_uidvalidity,"
	    " b_uidnext, b_highestmodseq, b_messages";
	char *copy = xasprintf("ATTACH '%s' AS cur;"
	                       "INSERT INTO main.folder (%s) SELECT %s FROM cur.folder;"
	                       "INSERT INTO main.pair SELECT * FROM cur.pair;"
	                       "INSERT INTO main.server SELECT * FROM cur.server;",
	                       sh.db, folder_cols, folder_cols);

	write_as_version(5, copy);
	free(copy);
}

Test(sync_upgrade, a_state_of_version_5_is_read_by_status_and_the_next_run_records_the_rest)
{
	dovecot_seed(sh.d, "INBOX", 6, 730, 0);
	dovecot_seed(sh.d, "Archive", 2, 740, 0);
	sync_ok();
	write_as_version_5();
	cr_assert_eq(state_test_sql_int(sh.db, "PRAGMA user_version"), 5);

	/* Status upgrades it on opening, as every command does; the counts
	 * come from the pairs, no run is known. */
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "status"), 60, &sh.r);
	cr_assert_eq(sh.r.status, 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(state_test_sql_int(sh.db, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	cr_assert(strstr(sh.r.out, "last run:     none recorded yet"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "      6      6        0       0  INBOX\n"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "      2      2        0       0  Archive\n"), "%s", sh.r.out);
	cr_assert_eq(state_test_sql_int(sh.db, "SELECT count(*) FROM run"), 0);

	sync_ok();
	assert_nothing_done();
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "status"), 60, &sh.r);
	cr_assert_eq(sh.r.status, 0, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "went through"), "%s", sh.r.out);
	cr_assert_eq(state_test_sql_int(sh.db, "SELECT count(*) FROM run WHERE result = 'ok'"), 1);
	assert_twins("INBOX", 6);
}
