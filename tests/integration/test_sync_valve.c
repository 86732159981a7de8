/*
 * End-to-end: deletions. By default a deletion on one side reaches the
 * other (expunge: both), but a folder emptied on one side is not emptied
 * on the other without --allow-mass-delete (however few its messages),
 * except \Trash and \Junk, whose emptying is routine. Checked on disk and
 * on the server, with the real Dovecot.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"

TestSuite(sync_valve, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* Expunge every message of `mailbox` on the server, as another client. */
static void empty_on_server(const char *mailbox)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(sh.d, mailbox, false, &n);

	for (size_t i = 0; i < n; i++)
		dovecot_expunge(sh.d, mailbox, m[i].uid);
	dovecot_msgs_free(m, n);
	cr_assert_eq(server_count(mailbox), 0);
}

static void empty_locally(const char *folder)
{
	struct local_msg *lm;
	size_t n = local_list(folder, &lm);

	for (size_t i = 0; i < n; i++)
		cr_assert_eq(unlink(lm[i].path), 0);
	local_free(lm, n);
}

Test(sync_valve, a_folder_emptied_on_the_server_is_kept_until_allowed)
{
	dovecot_seed(sh.d, "INBOX", 5, 900, 0);
	sync_ok();
	assert_twins("INBOX", 5);
	empty_on_server("INBOX");

	/* The folder is held back: exit non-zero (it is not in sync), the
	 * local copies stay, and stderr says why and what to do. */
	cr_assert_neq(sync_run_args(NULL), 0, "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 5, "the local copies were deleted");
	cr_assert(strstr(sh.r.err, "INBOX"), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "delete all 5 local messages"), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "empty on the server"), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "--allow-mass-delete"), "%s", sh.r.err);
	cr_assert_eq(state_pair_count("INBOX"), 5, "the state forgot the pairs");

	/* Still held back at the next run: nothing was forgotten. */
	cr_assert_neq(sync_run_args(NULL), 0, "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 5);

	cr_assert_eq(sync_run_args("--allow-mass-delete"), 0, "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 0, "--allow-mass-delete did not carry the emptying over");
	cr_assert_eq(server_count("INBOX"), 0);
	sync_ok();
	assert_nothing_done();
}

Test(sync_valve, a_folder_emptied_locally_is_kept_on_the_server_until_allowed)
{
	dovecot_seed(sh.d, "INBOX", 5, 910, 0);
	sync_ok();
	empty_locally("INBOX");

	cr_assert_neq(sync_run_args(NULL), 0, "%s", sh.r.err);
	cr_assert_eq(server_count("INBOX"), 5, "the server's messages were deleted");
	cr_assert(strstr(sh.r.err, "delete all 5 messages on the server"), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "--allow-mass-delete"), "%s", sh.r.err);

	cr_assert_eq(sync_run_args("--allow-mass-delete"), 0, "%s", sh.r.err);
	cr_assert_eq(server_count("INBOX"), 0);
	cr_assert_eq(local_message_count("INBOX"), 0);
}

Test(sync_valve, emptying_trash_goes_through_both_ways)
{
	dovecot_seed(sh.d, "INBOX", 2, 920, 0);
	dovecot_seed(sh.d, "Trash", 5, 930, 0);
	sync_ok();
	assert_twins("Trash", 5);

	/* Emptied on the server (the fixture lists Trash as \Trash). */
	empty_on_server("Trash");
	sync_ok();
	cr_assert_eq(local_message_count("Trash"), 0, "%s%s", sh.r.out, sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 2);

	/* And emptied locally. */
	dovecot_seed(sh.d, "Trash", 4, 940, 0);
	sync_ok();
	cr_assert_eq(local_message_count("Trash"), 4);
	empty_locally("Trash");
	sync_ok();
	cr_assert_eq(server_count("Trash"), 0, "%s%s", sh.r.out, sh.r.err);
	cr_assert_eq(server_count("INBOX"), 2);
}

Test(sync_valve, one_message_deleted_on_the_server_goes_without_the_flag)
{
	dovecot_seed(sh.d, "INBOX", 1, 950, 0);
	sync_ok();
	empty_on_server("INBOX");
	sync_ok();
	cr_assert_eq(local_message_count("INBOX"), 0);
}

/* The README's minimal config (no sync: section): a deletion on one
 * device reaches the others, both ways. */
Test(sync_valve, the_default_config_carries_deletions_both_ways)
{
	struct local_msg *lm;
	size_t n;
	struct dovecot_msg *sm;
	char *gone_local, *gone_server = NULL;

	write_config(NULL);
	dovecot_seed(sh.d, "INBOX", 6, 960, 0);
	sync_ok();
	assert_twins("INBOX", 6);

	n = local_list("INBOX", &lm);
	gone_local = message_id(lm[0].data);
	cr_assert_eq(unlink(lm[0].path), 0);
	local_free(lm, n);
	sm = dovecot_list(sh.d, "INBOX", true, &n);
	for (size_t i = 0; i < n; i++) {
		char *id = message_id(sm[i].body);
		bool other = strcmp(id, gone_local) != 0;
		free(id);
		if (other) {
			gone_server = message_id(sm[i].body);
			dovecot_expunge(sh.d, "INBOX", sm[i].uid);
			break;
		}
	}
	dovecot_msgs_free(sm, n);

	sync_ok();
	cr_assert(strstr(sh.r.out, "deleted 1 local / 1 remote"), "%s", sh.r.out);
	assert_twins("INBOX", 4);
	n = local_list("INBOX", &lm);
	for (size_t i = 0; i < n; i++) {
		char *id = message_id(lm[i].data);
		cr_assert_str_neq(id, gone_server, "the server's deletion did not reach the Maildir");
		cr_assert_str_neq(id, gone_local);
		free(id);
	}
	local_free(lm, n);
	free(gone_local);
	free(gone_server);
	sync_ok();
	assert_nothing_done();
}
