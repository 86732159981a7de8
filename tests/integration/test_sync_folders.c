/*
 * End-to-end: folders removed on one side (sync.remove_folders). A
 * removed folder is removed on the other side only when that copy is
 * unchanged since the last sync; otherwise, and by default, it stays.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/sync_harness.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_folders, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 120);

static bool server_has(const char *mailbox)
{
	char **v = dovecot_mailboxes(sh.d);
	bool found = false;

	for (char **p = v; *p; p++)
		found |= strcmp(*p, mailbox) == 0;
	dovecot_strv_free(v);
	return found;
}

static void remove_local(const char *folder)
{
	char *path = folder_dir(folder);
	char *cmd = xasprintf("rm -rf '%s'", path);

	cr_assert(strncmp(path, "/tmp/twinbox-", 13) == 0);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
	free(path);
}

static const char remove_on[] = "    sync:\n      expunge: both\n      remove_folders: true\n";

Test(sync_folders, removed_locally_removes_the_unchanged_server_copy)
{
	write_config(remove_on);
	dovecot_seed(sh.d, "INBOX", 2, 10, 0);
	dovecot_seed(sh.d, "Old", 5, 20, 0);
	sync_ok();
	remove_local("Old");
	sync_ok();
	cr_assert_not(server_has("Old"), "the server's unchanged copy should be removed");
	cr_assert(strstr(sh.r.err, "removed from the server"), "%s", sh.r.err);
	assert_twins("INBOX", 2);
	sync_ok();
	cr_assert_not(server_has("Old"), "and not created again");
}

Test(sync_folders, removed_on_the_server_removes_the_unchanged_local_copy)
{
	struct local_msg *lm;

	write_config(remove_on);
	dovecot_seed(sh.d, "Old", 4, 30, 0);
	sync_ok();
	dovecot_delete_mailbox(sh.d, "Old");
	sync_ok();
	cr_assert_eq(local_list("Old", &lm), 0, "the local copy should be removed");
	local_free(lm, 0);
	sync_ok();
	cr_assert_not(server_has("Old"), "and not created again on the server");
}

Test(sync_folders, a_changed_copy_is_kept)
{
	write_config(remove_on);
	dovecot_seed(sh.d, "Old", 5, 40, 0);
	sync_ok();
	remove_local("Old");
	dovecot_seed(sh.d, "Old", 1, 50, 0); /* new mail arrived on the server meanwhile */
	sync_run_args(NULL);
	cr_assert(server_has("Old"), "a changed server copy must stay");
	cr_assert_eq(server_count("Old"), 6);
}

Test(sync_folders, by_default_nothing_is_removed)
{
	write_config("    sync:\n      expunge: both\n");
	dovecot_seed(sh.d, "Old", 5, 60, 0);
	sync_ok();
	remove_local("Old");
	sync_run_args(NULL);
	cr_assert(server_has("Old"));
	cr_assert_eq(server_count("Old"), 5);
}

/* A run limited to one folder (ACCOUNT:FOLDER) leaves the others' state
 * alone: a local deletion in one of them made before that run is still
 * carried to the server by the next full run, because the pairs that
 * remember the message as synced are still there. */
Test(sync_folders, a_run_of_one_folder_keeps_the_state_of_the_others)
{
	struct local_msg *m;
	size_t n;

	dovecot_seed(sh.d, "INBOX", 3, 70, 0);
	dovecot_seed(sh.d, "Work", 4, 80, 0);
	sync_ok();
	cr_assert_eq(state_pair_count("Work"), 4);

	n = local_list("Work", &m);
	cr_assert_eq(n, 4);
	cr_assert_eq(unlink(m[0].path), 0);
	local_free(m, n);
	cr_assert_eq(sync_run_args("t:INBOX"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_null(strstr(sh.r.out, "Work"), "%s", sh.r.out);
	cr_assert_eq(state_pair_count("Work"), 4);
	cr_assert_eq(server_count("Work"), 4);

	sync_ok();
	cr_assert_eq(server_count("Work"), 3);
	assert_twins("Work", 3);
	assert_twins("INBOX", 3);
}
