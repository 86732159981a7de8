/*
 * Reading only what changed on the server (QRESYNC, RFC 7162) against a
 * real Dovecot: after a sync that went through, the next run of a changed
 * folder asks UID FETCH ... (CHANGEDSINCE <modseq> VANISHED) instead of
 * every message's flags, and the result is what a whole read gives:
 * flags, expunges, new mail and local changes all carried over. Where the
 * state cannot stand for the server (a message it skipped, rules that
 * keep flag changes back) the whole folder is read. The harness is
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
#include "twinbox/util/xmalloc.h"

TestSuite(sync_changes, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* In the -vv trace: a client line containing `what`. */
static bool sent(const char *what)
{
	for (const char *p = sh.r.err; (p = strstr(p, "\nC: ")) != NULL; p++) {
		const char *end = strchr(p + 1, '\n');
		const char *hit = strstr(p, what);
		if (hit && (!end || hit < end))
			return true;
	}
	return false;
}

/* The whole-folder read: every message's flags, size and date. */
#define WHOLE_READ "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)\n"

static void sync_traced(void)
{
	cr_assert_eq(sync_run_args("-vv"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
}

Test(sync_changes, every_kind_of_change_is_read_from_the_servers_changes)
{
	char *path, *moved, *flags = NULL;

	dovecot_seed(sh.d, "INBOX", 10, 100, 0); /* UIDs 1..10: <seed.100> .. <seed.109> */
	sync_ok();

	/* On the server: a flag set, an expunge, new mail, and a flag set
	 * on a message deleted locally meanwhile (changed wins: it comes
	 * back). Locally: a message read, another deleted. */
	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Flagged");
	dovecot_expunge(sh.d, "INBOX", 3);
	dovecot_seed(sh.d, "INBOX", 1, 200, 0);
	dovecot_flags(sh.d, "INBOX", 7, "add", "\\Answered");
	path = local_find("INBOX", "<seed.106@twinbox.test>");
	cr_assert_eq(unlink(path), 0, "%s", path);
	free(path);
	path = local_find("INBOX", "<seed.104@twinbox.test>");
	moved = local_set_flags(path, "S");
	free(path);
	free(moved);
	path = local_find("INBOX", "<seed.107@twinbox.test>");
	cr_assert_eq(unlink(path), 0, "%s", path);
	free(path);

	sync_traced();
	cr_assert(sent("(CHANGEDSINCE "), "the server was not asked for its changes:\n%s", sh.r.err);
	cr_assert(sent(" VANISHED)"), "expunges were not asked for:\n%s", sh.r.err);
	cr_assert(!sent(WHOLE_READ), "the whole folder was read:\n%s", sh.r.err);

	path = local_find("INBOX", "<seed.101@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,F"), "the server's flag is missing: %s", path);
	free(path);
	cr_assert(!local_has_id("INBOX", "<seed.102@twinbox.test>"), "the expunged message is still local");
	cr_assert(local_has_id("INBOX", "<seed.200@twinbox.test>"), "the new message was not pulled");
	path = local_find("INBOX", "<seed.106@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,R"), "the changed message did not come back: %s", path);
	free(path);
	server_find("INBOX", "<seed.104@twinbox.test>", &flags);
	cr_assert_not_null(strstr(flags, "\\Seen"), "server flags: %s", flags);
	free(flags);
	cr_assert(!server_has_id("INBOX", "<seed.107@twinbox.test>"),
	          "the local deletion was not carried over");
	assert_twins("INBOX", 9);
	cr_assert_eq(state_pair_count("INBOX"), 9);

	/* That run changed the server; the next one still reads changes
	 * only, and finds nothing to do. */
	sync_traced();
	cr_assert(!sent(WHOLE_READ), "the whole folder was read:\n%s", sh.r.err);
	assert_nothing_done();
}

Test(sync_changes, a_local_change_alone_asks_the_server_nothing_more)
{
	char *path, *moved, *flags = NULL;

	dovecot_seed(sh.d, "INBOX", 5, 300, 0);
	sync_ok();
	path = local_find("INBOX", "<seed.302@twinbox.test>");
	moved = local_set_flags(path, "FS");
	free(path);
	free(moved);

	sync_traced();
	cr_assert(!sent("UID FETCH 1:*"), "the server's messages were read:\n%s", sh.r.err);
	server_find("INBOX", "<seed.302@twinbox.test>", &flags);
	cr_assert(strstr(flags, "\\Seen") && strstr(flags, "\\Flagged"), "server flags: %s", flags);
	free(flags);
	assert_twins("INBOX", 5);
	sync_ok();
	assert_nothing_done();
}

/* Keywords ($Label1, Project-X: keyword letters in the Maildir) stay on
 * the server when a mail reader changes the local copy's flags and keeps
 * the letters it does not know, and later runs see no change. */
Test(sync_changes, keywords_stay_on_the_server_when_local_flags_change)
{
	char *path, *moved, *flags = NULL, *letters;

	dovecot_seed(sh.d, "INBOX", 3, 320, 0);
	dovecot_flags(sh.d, "INBOX", 2, "add", "$Label1 Project-X");
	sync_ok();
	path = local_find("INBOX", "<seed.321@twinbox.test>");
	cr_assert(strstr(path, ":2,ab"), "the keywords have letters: %s", path);
	letters = xasprintf("S%s", strstr(path, ":2,") + 3);
	moved = local_set_flags(path, letters);
	free(letters);
	free(path);
	free(moved);
	sync_ok();
	server_find("INBOX", "<seed.321@twinbox.test>", &flags);
	cr_assert(strstr(flags, "\\Seen") && strstr(flags, "$Label1") && strstr(flags, "Project-X"),
	          "server flags: %s", flags);
	sync_ok();
	assert_nothing_done();
	server_find("INBOX", "<seed.321@twinbox.test>", &flags);
	cr_assert(strstr(flags, "$Label1"), "server flags: %s", flags);
	free(flags);
}

/* A message the state does not hold (skipped as too big) is among the
 * server's, unchanged: the changes alone cannot account for it, so the
 * folder is read whole, and the skipped message is neither copied nor
 * matched to a local copy by mistake. */
Test(sync_changes, a_message_the_state_lacks_makes_a_whole_read)
{
	size_t n;
	struct local_msg *lm;

	write_config("    sync:\n      expunge: both\n      max_size: 100KB\n");
	dovecot_seed(sh.d, "INBOX", 5, 400, 300000); /* the fifth is over 100 KB */
	sync_ok();
	n = local_list("INBOX", &lm);
	local_free(lm, n);
	cr_assert_eq(n, 4, "%zu local messages", n);

	dovecot_flags(sh.d, "INBOX", 1, "add", "\\Flagged");
	sync_traced();
	cr_assert(sent(WHOLE_READ), "the folder was not read whole:\n%s", sh.r.err);
	{
		char *path = local_find("INBOX", "<seed.400@twinbox.test>");
		cr_assert_not_null(strstr(path, ":2,F"), "%s", path);
		free(path);
	}
	cr_assert(!local_has_id("INBOX", "<seed.404@twinbox.test>"), "the big message was copied");
	cr_assert_eq(server_count("INBOX"), 5);
	cr_assert_eq(state_pair_count("INBOX"), 4);
}

/* With direction push the state's flags may differ from the server's
 * (a change there is kept back), so they cannot stand for it. */
Test(sync_changes, rules_that_keep_server_changes_back_read_the_whole_folder)
{
	char *flags = NULL, *path;

	write_config("    sync:\n      expunge: both\n      direction: push\n");
	dovecot_seed(sh.d, "INBOX", 3, 500, 0);
	write_config("    sync:\n      expunge: both\n");
	sync_ok();
	write_config("    sync:\n      expunge: both\n      direction: push\n");
	sync_ok();
	dovecot_flags(sh.d, "INBOX", 1, "add", "\\Flagged");
	path = local_find("INBOX", "<seed.501@twinbox.test>");
	free(local_set_flags(path, "S"));
	free(path);

	sync_traced();
	cr_assert(sent(WHOLE_READ), "the folder was not read whole:\n%s", sh.r.err);
	cr_assert(!sent("CHANGEDSINCE"), "changes were asked for:\n%s", sh.r.err);
	server_find("INBOX", "<seed.501@twinbox.test>", &flags);
	cr_assert_not_null(strstr(flags, "\\Seen"), "server flags: %s", flags);
	free(flags);
	path = local_find("INBOX", "<seed.500@twinbox.test>");
	cr_assert_null(strstr(path, ":2,F"), "a push run changed a local flag: %s", path);
	free(path);
}
