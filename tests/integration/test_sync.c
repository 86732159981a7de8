/*
 * End-to-end: `twinbox sync` against a real Dovecot (one private instance
 * per test), checked as a user would: the files in the Maildir, the
 * messages and flags on the server, the rows in the state. The harness
 * (config, runs, looking at both sides) is support/sync_harness.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/state/lock.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* ---- tests ---- */

Test(sync, initial_pull_of_nested_folders_then_nothing_to_do)
{
	dovecot_seed(sh.d, "INBOX", 30, 100, 3000);
	dovecot_seed(sh.d, "Work/Projects", 10, 200, 0);
	dovecot_flags(sh.d, "INBOX", 3, "add", "\\Flagged \\Seen");
	sync_ok();
	assert_twins("INBOX", 30);
	assert_twins("Work/Projects", 10);
	cr_assert_eq(state_pair_count("INBOX"), 30);
	cr_assert_eq(state_pair_count("Work/Projects"), 10);
	{
		struct local_msg *lm;
		size_t n = local_list("INBOX", &lm), flagged = 0;
		for (size_t i = 0; i < n; i++)
			if (strcmp(lm[i].flags, "FS") == 0)
				flagged++;
		cr_assert_eq(flagged, 1, "the \\Flagged \\Seen message should be :2,FS");
		local_free(lm, n);
	}
	sync_ok();
	assert_nothing_done();
	assert_twins("INBOX", 30);
}

Test(sync, push_new_local_messages_and_flags_both_ways)
{
	struct local_msg *lm;
	size_t n;
	struct dovecot_msg *sm;

	dovecot_seed(sh.d, "INBOX", 5, 300, 0);
	sync_ok();
	/* Mark one message read locally, as a mail reader would: rename. */
	n = local_list("INBOX", &lm);
	cr_assert_eq(n, 5);
	{
		char *to = xasprintf("%.*s:2,S", (int)(strcspn(lm[0].path, ":")), lm[0].path);
		if (strstr(to, "/new/"))
			memcpy(strstr(to, "/new/"), "/cur/", 5);
		cr_assert_eq(rename(lm[0].path, to), 0);
		free(to);
	}
	char *read_id = message_id(lm[0].data);
	local_free(lm, n);
	write_local("INBOX", "1700000000.M1P1.laptop",
	            "Message-ID: <local-1@twinbox.test>\nSubject: written here\n\nhello\n");
	/* Flag another on the server. */
	dovecot_flags(sh.d, "INBOX", 5, "add", "\\Flagged");
	sync_ok();
	cr_assert(strstr(sh.r.out, "1 pushed"), "%s", sh.r.out);
	assert_twins("INBOX", 6);
	sm = dovecot_list(sh.d, "INBOX", true, &n);
	for (size_t i = 0; i < n; i++) {
		char *id = message_id(sm[i].body);
		if (strcmp(id, read_id) == 0)
			cr_assert(dovecot_msg_has_flag(&sm[i], "\\Seen"),
			          "local \\Seen did not reach the server");
		if (strcmp(id, "<local-1@twinbox.test>") == 0)
			cr_assert_str_eq(
			    sm[i].body,
			    "Message-ID: <local-1@twinbox.test>\r\nSubject: written here\r\n\r\nhello\r\n");
		free(id);
	}
	dovecot_msgs_free(sm, n);
	n = local_list("INBOX", &lm);
	{
		size_t flagged = 0;
		for (size_t i = 0; i < n; i++)
			flagged += strchr(lm[i].flags, 'F') != NULL;
		cr_assert_eq(flagged, 1, "server \\Flagged did not reach the Maildir");
	}
	local_free(lm, n);
	free(read_id);
	sync_ok();
	assert_nothing_done();
}

Test(sync, deletions_both_ways_with_expunge)
{
	struct local_msg *lm;
	size_t n;

	struct dovecot_msg *sm;
	size_t ns;
	char *expunged;

	dovecot_seed(sh.d, "INBOX", 8, 400, 0);
	sync_ok();
	/* Delete one message locally and another on the server (not the
	 * same one: that would be gone from both, nothing to carry over). */
	sm = dovecot_list(sh.d, "INBOX", true, &ns);
	cr_assert_eq(ns, 8);
	expunged = message_id(sm[7].body);
	dovecot_msgs_free(sm, ns);
	n = local_list("INBOX", &lm);
	{
		char *first = message_id(lm[0].data);
		size_t pick = strcmp(first, expunged) == 0 ? 1 : 0;
		cr_assert_eq(unlink(lm[pick].path), 0);
		free(first);
	}
	local_free(lm, n);
	free(expunged);
	dovecot_expunge(sh.d, "INBOX", 8);
	sync_ok();
	cr_assert(strstr(sh.r.out, "deleted 1 local / 1 remote"), "%s", sh.r.out);
	assert_twins("INBOX", 6);
	cr_assert_eq(state_pair_count("INBOX"), 6);
}

Test(sync, no_expunge_keeps_both_copies_and_copies_nothing_back)
{
	struct local_msg *lm;
	size_t n;

	write_config("    sync:\n      expunge: none\n");
	dovecot_seed(sh.d, "INBOX", 6, 500, 0);
	sync_ok();
	n = local_list("INBOX", &lm);
	cr_assert_eq(unlink(lm[0].path), 0);
	local_free(lm, n);
	dovecot_expunge(sh.d, "INBOX", 6);
	sync_ok();
	sync_ok();
	cr_assert_eq(server_count("INBOX"), 5, "local deletion reached the server without expunge");
	n = local_list("INBOX", &lm);
	cr_assert_eq(n, 5, "server deletion reached the Maildir without expunge");
	local_free(lm, n);
	assert_nothing_done();
}

Test(sync, mass_deletion_is_stopped_until_allowed)
{
	struct local_msg *lm;
	size_t n;

	dovecot_seed(sh.d, "INBOX", 40, 600, 0);
	sync_ok();
	n = local_list("INBOX", &lm);
	for (size_t i = 0; i < 30; i++)
		cr_assert_eq(unlink(lm[i].path), 0);
	local_free(lm, n);
	cr_assert_neq(sync_run_args(NULL), 0);
	cr_assert(strstr(sh.r.err, "--allow-mass-delete"), "%s", sh.r.err);
	cr_assert_eq(server_count("INBOX"), 40);
	cr_assert_eq(sync_run_args("--allow-mass-delete"), 0, "%s", sh.r.err);
	cr_assert_eq(server_count("INBOX"), 10);
}

Test(sync, uidvalidity_change_rematches_without_duplicates)
{
	dovecot_seed(sh.d, "INBOX", 10, 700, 0);
	sync_ok();
	dovecot_set_uidvalidity(sh.d, "INBOX", 4242);
	sync_ok();
	cr_assert(strstr(sh.r.err, "UIDVALIDITY"), "the change should be reported: %s", sh.r.err);
	cr_assert(strstr(sh.r.out, "0 pulled, 0 pushed"), "%s", sh.r.out);
	assert_twins("INBOX", 10);
	cr_assert_eq(state_pair_count("INBOX"), 10);
	sync_ok();
	assert_nothing_done();
}

Test(sync, deleted_local_folder_deletes_nothing_on_the_server)
{
	char *work;

	dovecot_seed(sh.d, "INBOX", 3, 800, 0);
	dovecot_seed(sh.d, "Work", 7, 900, 0);
	sync_ok();
	work = folder_dir("Work");
	cr_assert(strncmp(work, "/tmp/twinbox-", 13) == 0);
	{
		char *cmd = xasprintf("rm -rf '%s'", work);
		cr_assert_eq(system(cmd), 0);
		free(cmd);
	}
	sync_run_args(NULL);
	cr_assert_eq(server_count("Work"), 7, "a missing local folder must not delete server mail");
	cr_assert(strstr(sh.r.err, "Work"), "the missing folder should be reported: %s", sh.r.err);
	free(work);
}

Test(sync, second_run_waits_for_the_first)
{
	struct state_lock *lock;
	struct error err;
	char *pid = xasprintf("process %d", (int)getpid());

	dovecot_seed(sh.d, "INBOX", 2, 1000, 0);
	cr_assert_eq(state_lock_acquire(sh.db, STATE_LOCK_NOWAIT, &lock, &err), 0, "%s", err.text);
	cr_assert_eq(sync_run_args(NULL), 75, "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, pid), "the message should name the holder: %s", sh.r.err);
	state_lock_release(lock);
	sync_ok();
	assert_twins("INBOX", 2);
	free(pid);
}

Test(sync, dry_run_changes_nothing)
{
	struct local_msg *lm;

	dovecot_seed(sh.d, "INBOX", 4, 1100, 0);
	cr_assert_eq(sync_run_args("--dry-run"), 0, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "would pull 4"), "%s", sh.r.out);
	cr_assert_eq(local_list("INBOX", &lm), 0);
	local_free(lm, 0);
}

/* The crash scenario: a synced base, then new mail on both sides, a
 * flag change on each side and a deletion on each side. */
static void crash_scenario(void)
{
	struct local_msg *lm;
	size_t n;

	dovecot_seed(sh.d, "INBOX", 12, 1200, 2000);
	dovecot_seed(sh.d, "Archive", 4, 1300, 0);
	sync_ok();
	for (int i = 0; i < 3; i++) {
		char name[64], text[128];
		snprintf(name, sizeof(name), "1700000%03d.M1P1.laptop", i);
		snprintf(text, sizeof(text), "Message-ID: <crash-%d@twinbox.test>\nSubject: %d\n\nbody %d\n",
		         i, i, i);
		write_local("INBOX", name, text);
	}
	dovecot_seed(sh.d, "INBOX", 5, 1400, 0);
	dovecot_flags(sh.d, "INBOX", 1, "add", "\\Flagged");
	dovecot_expunge(sh.d, "INBOX", 2);
	n = local_list("Archive", &lm);
	cr_assert_eq(unlink(lm[0].path), 0);
	local_free(lm, n);
}

/* Fresh server, Maildir and state for the next round. */
/*
 * For N = 1, 2, ...: run the scenario, kill the run at its N-th durable
 * step, resume; after every resume nothing may be lost or doubled and a
 * further run must change nothing. Ends when step N is never reached.
 */
Test(sync, crash_at_every_step_loses_and_duplicates_nothing)
{
	unsigned step;

	for (step = 1; step < 100; step++) {
		char n[16];
		int status;

		if (step > 1)
			restart_world();
		crash_scenario();
		snprintf(n, sizeof(n), "%u", step);
		setenv("TWINBOX_TEST_CRASH_AT", n, 1);
		status = sync_run_args(NULL);
		unsetenv("TWINBOX_TEST_CRASH_AT");
		if (status == 0)
			break;
		cr_assert_eq(status, 86, "step %u: exit %d: %s", step, status, sh.r.err);
		cr_assert_eq(sync_run_args(NULL), 0, "resume after step %u: %s", step, sh.r.err);
		assert_twins("INBOX", 19);
		assert_twins("Archive", 3);
		cr_assert_eq(state_pair_count("INBOX"), 19, "after a crash at step %u", step);
		cr_assert_eq(tmp_count("INBOX") + tmp_count("Archive"), 0,
		             "files left in tmp/ after a crash at step %u", step);
		sync_ok();
		assert_nothing_done();
	}
	cr_log_info("crash test: killed at each of %u durable steps", step - 1);
	cr_assert_gt(step, 8, "the hook fired at only %u steps", step - 1);
	cr_assert_lt(step, 100);
	assert_twins("INBOX", 19);
	assert_twins("Archive", 3);
	cr_assert_eq(tmp_count("INBOX") + tmp_count("Archive"), 0, "files left in tmp/");
	sync_ok();
	assert_nothing_done();
}

/*
 * A disk that fills up mid-run (here: a file size limit, with SIGXFSZ
 * ignored so writes fail as they do on a full disk): the run stops with a
 * message naming the cause, the server is untouched, no truncated message
 * is left in the Maildir, and once there is room a run completes.
 */
Test(sync, a_full_disk_loses_nothing_and_a_later_run_completes)
{
	char *wrapper = xasprintf("%s/limited.sh", sh.dir);
	char *script = xasprintf("#!/bin/sh\ntrap '' XFSZ\nulimit -f 256\nexec '%s' \"$@\"\n",
	                         getenv("TWINBOX_BIN") ? getenv("TWINBOX_BIN") : "build/twinbox");
	char *real = xstrdup(getenv("TWINBOX_BIN") ? getenv("TWINBOX_BIN") : "build/twinbox");
	struct error err;
	struct local_msg *lm;
	size_t n;

	cr_assert_eq(fs_write_atomic(wrapper, script, strlen(script), 0700, &err), 0, "%s", err.text);
	dovecot_seed(sh.d, "INBOX", 5, 1500, 0);
	sync_ok();                                    /* the state and Maildir exist; now the disk fills up */
	dovecot_seed(sh.d, "INBOX", 5, 1600, 400000); /* one with a 400 kB attachment */
	setenv("TWINBOX_BIN", wrapper, 1);
	sync_run_args(NULL);
	setenv("TWINBOX_BIN", real, 1);
	cr_assert(strstr(sh.r.err, "File too large") || strstr(sh.r.err, "No space") ||
	              strstr(sh.r.err, "disk"),
	          "the cause should be named: %s", sh.r.err);
	cr_assert_eq(server_count("INBOX"), 10, "nothing may change on the server");
	n = local_list("INBOX", &lm);
	for (size_t i = 0; i < n; i++)
		cr_assert(lm[i].len < 64 * 1024, "a truncated message was left in the Maildir: %s",
		          lm[i].path);
	local_free(lm, n);
	sync_ok();
	assert_twins("INBOX", 10);
	cr_assert_eq(state_pair_count("INBOX"), 10);
	free(wrapper);
	free(script);
	free(real);
}

Test(sync, preview_refuses_an_imap_account)
{
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "preview", "t"), 30, &sh.r);
	cr_assert_eq(sh.r.status, 64);
	cr_assert(strstr(sh.r.err, "preview is for POP3 accounts"), "%s", sh.r.err);
}
