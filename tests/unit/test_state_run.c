/*
 * What `twinbox status` reads from the state (issue 17): the account's
 * last run and how each folder's last sync ended, and the upgrade of a
 * version-5 file that had neither.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "test_state.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/run.h"
#include "twinbox/util/xmalloc.h"

TestSuite(state_run, .init = state_test_setup, .fini = state_test_teardown);

Test(state_run, a_new_state_has_no_run)
{
	struct state *st = state_test_open("work.db");
	struct state_run run;
	struct error err;

	cr_assert_eq(state_run_get(st, &run, &err), 0, "%s", err.text);
	cr_assert_eq(run.started, 0);
	cr_assert_null(run.error);
	state_close(st);
}

/* A run that starts and ends, one that fails (the last success is
 * kept), and one that does not end (killed): the result and error of
 * the run before it stay. */
Test(state_run, runs_are_recorded_as_they_start_and_end)
{
	struct state *st = state_test_open("work.db");
	struct state_run run;
	struct error err;

	cr_assert_eq(state_run_begin(st, 1000, &err), 0, "%s", err.text);
	cr_assert_eq(state_run_get(st, &run, &err), 1);
	cr_assert_eq(run.started, 1000);
	cr_assert_eq(run.ended, 0, "a run that has not ended");
	cr_assert_eq(run.result, STATE_RUN_NONE);
	cr_assert_eq(state_run_end(st, 1010, STATE_RUN_OK, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(state_run_get(st, &run, &err), 1);
	cr_assert_eq(run.ended, 1010);
	cr_assert_eq(run.result, STATE_RUN_OK);
	cr_assert_eq(run.last_ok, 1010);
	cr_assert_null(run.error);

	cr_assert_eq(state_run_begin(st, 2000, &err), 0, "%s", err.text);
	cr_assert_eq(state_run_end(st, 2005, STATE_RUN_FAILED, "imap.example.com refused the password", &err),
	             0, "%s", err.text);
	state_close(st);
	st = state_test_open("work.db");
	cr_assert_eq(state_run_get(st, &run, &err), 1);
	cr_assert_eq(run.started, 2000);
	cr_assert_eq(run.ended, 2005);
	cr_assert_eq(run.result, STATE_RUN_FAILED);
	cr_assert_str_eq(run.error, "imap.example.com refused the password");
	cr_assert_eq(run.last_ok, 1010, "the last run that went through is kept");
	cr_assert_str_eq(state_run_result_name(run.result), "failed");
	state_run_clear(&run);

	cr_assert_eq(state_run_begin(st, 3000, &err), 0, "%s", err.text);
	cr_assert_eq(state_run_get(st, &run, &err), 1);
	cr_assert_eq(run.started, 3000);
	cr_assert_eq(run.ended, 0);
	cr_assert_eq(run.result, STATE_RUN_FAILED, "how the run before it ended");
	state_run_clear(&run);
	cr_assert_eq(state_run_end(st, 3001, STATE_RUN_NONE, NULL, &err), -1, "a run ends with a result");
	state_close(st);
}

/* A folder's outcome goes with its markers; a failure leaves the counts
 * and the time of the last sync that went through. */
Test(state_run, a_folders_outcome_is_kept_and_a_failure_changes_only_its_error)
{
	struct state *st = state_test_open("work.db");
	int64_t id = state_test_folder(st, "INBOX", "INBOX");
	struct state_folder f;
	struct error err;

	cr_assert_eq(state_folder_get(st, id, &f, &err), 1);
	cr_assert_eq(f.seen[SIDE_A], -1, "not known before a sync");
	cr_assert_eq(f.seen[SIDE_B], -1);
	cr_assert_null(f.error);
	f.seen[SIDE_A] = 12;
	f.seen[SIDE_B] = 11;
	f.failed_messages = 1;
	f.error = xstrdup("the server refused to store a message");
	f.error_time = 1500;
	f.last_sync = 1500;
	cr_assert_eq(state_folder_update(st, &f, &err), 0, "%s", err.text);
	state_folder_clear(&f);

	cr_assert_eq(state_folder_set_error(st, id, "the remote folder is missing", 0, 1600, &err), 0, "%s",
	             err.text);
	cr_assert_eq(state_folder_get(st, id, &f, &err), 1);
	cr_assert_eq(f.seen[SIDE_A], 12);
	cr_assert_eq(f.seen[SIDE_B], 11);
	cr_assert_eq(f.last_sync, 1500);
	cr_assert_eq(f.failed_messages, 0);
	cr_assert_str_eq(f.error, "the remote folder is missing");
	cr_assert_eq(f.error_time, 1600);

	/* A sync that goes through clears it. */
	free(f.error);
	f.error = NULL;
	cr_assert_eq(state_folder_update(st, &f, &err), 0, "%s", err.text);
	state_folder_clear(&f);
	cr_assert_eq(state_folder_get(st, id, &f, &err), 1);
	cr_assert_null(f.error);
	cr_assert_eq(f.error_time, 0);
	state_folder_clear(&f);
	cr_assert_eq(state_folder_set_error(st, id + 1, "x", 0, 1, &err), -1, "no such folder");
	cr_assert_eq(state_folder_set_error(st, id, NULL, 0, 1, &err), -1, "an error needs its text");
	state_close(st);
}

/* Version 6: a version-5 file keeps its folders; their counts are not
 * known until they are synced again, and no run is recorded. */
Test(state_run, version_5_file_is_upgraded_with_nothing_known_of_its_runs)
{
	char *path = state_test_path("work.db");
	struct state *st;
	struct state_folder f;
	struct state_run run;
	struct error err;

	cr_assert_eq(state_create_version(path, 5, &err), 0, "%s", err.text);
	state_test_sql(path, "INSERT INTO folder (remote_name, local_path, last_sync, a_messages)"
	                     " VALUES ('INBOX', 'INBOX', 1700000000, 4)");
	st = state_test_open("work.db");
	cr_assert_eq(state_test_sql_int(path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	cr_assert_eq(state_folder_find_remote(st, "INBOX", &f, &err), 1, "%s", err.text);
	cr_assert_eq(f.last_sync, 1700000000);
	cr_assert_eq(f.side[SIDE_A].messages, 4);
	cr_assert_eq(f.seen[SIDE_A], -1);
	cr_assert_eq(f.seen[SIDE_B], -1);
	cr_assert_eq(f.failed_messages, 0);
	cr_assert_null(f.error);
	state_folder_clear(&f);
	cr_assert_eq(state_run_get(st, &run, &err), 0);
	cr_assert_eq(state_run_begin(st, 5, &err), 0, "%s", err.text);
	state_close(st);
	free(path);
}
