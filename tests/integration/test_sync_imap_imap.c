/*
 * The engine between two IMAP servers (two Dovecots), through sync_run
 * with an IMAP store on each side: the side-neutral core syncs new
 * messages both ways, flags, deletions and folders, and a run with
 * nothing to do changes nothing; first through the engine directly,
 * then as `twinbox sync` runs an account written with source: and
 * target:, killed at each of its durable steps.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "support/run.h"
#include "support/two_servers.h"
#include "twinbox/state/state.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/sync/engine.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_imap_imap, .timeout = 300);

static struct error err;

static struct store *open_imap(struct dovecot *d)
{
	struct imap_session_options o = dovecot_imap_options(d);
	struct store *st = imap_store_open(&o, &err);

	cr_assert_not_null(st, "imap_store_open: %s", err.text);
	return st;
}

/* The counts of every folder of the run, summed. */
struct totals {
	size_t to_a, to_b, flags_a, flags_b, deleted_a, deleted_b, paired, failed;
};

static void report(void *ctx, const struct sync_folder_report *r)
{
	struct totals *t = ctx;

	t->to_a += r->to_remote;
	t->to_b += r->to_local;
	t->flags_a += r->flags_remote;
	t->flags_b += r->flags_local;
	t->deleted_a += r->deleted_remote;
	t->deleted_b += r->deleted_local;
	t->paired += r->paired;
	t->failed += r->failed || r->message_failures;
	cr_assert(!r->failed, "folder %s failed: %s", r->name, r->err.text);
}

static struct totals sync_once(struct dovecot *a, struct dovecot *b, const char *db)
{
	struct totals t = {0};
	struct store *sa = open_imap(a), *sb = open_imap(b);
	struct sync_options o = {.report = report, .ctx = &t};
	struct sync_result res;
	struct state *st;

	plan_rules_init(&o.rules);
	cr_assert_eq(state_open(db, STATE_OPEN_CREATE, &st, &err), 0, "%s", err.text);
	cr_assert_eq(sync_run(sa, sb, st, &o, &res, &err), 0, "sync_run: %s", err.text);
	cr_assert_eq(res.folders_failed, 0);
	state_close(st);
	sa->ops->close(sa);
	sb->ops->close(sb);
	return t;
}

Test(sync_imap_imap, two_servers_become_twins_both_ways)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *db = xasprintf("%s/state.db", a->dir);
	struct totals t;

	dovecot_seed(a, "INBOX", 6, 800, 0);
	dovecot_create_mailbox(a, "Work");
	dovecot_seed(a, "Work", 3, 810, 0);
	dovecot_seed(b, "INBOX", 2, 900, 0);
	dovecot_create_mailbox(b, "Home");
	dovecot_seed(b, "Home", 2, 910, 0);
	dovecot_flags(a, "INBOX", 2, "add", "\\Seen \\Flagged");

	t = sync_once(a, b, db);
	cr_assert_eq(t.to_b, 9, "A's 9 messages copied to B");
	cr_assert_eq(t.to_a, 4, "B's 4 messages copied to A");
	two_assert_twins(a, "INBOX", b, "INBOX", 8);
	two_assert_twins(a, "Work", b, "Work", 3);
	two_assert_twins(a, "Home", b, "Home", 2);

	/* Flags both ways, a deletion on each side, new mail on each. */
	dovecot_flags(a, "INBOX", 1, "add", "\\Answered");
	dovecot_flags(b, "Work", 1, "add", "$Label1");
	dovecot_expunge(a, "INBOX", 3);
	dovecot_expunge(b, "Home", 1);
	dovecot_seed(a, "Work", 1, 820, 0);
	dovecot_seed(b, "INBOX", 1, 920, 0);
	t = sync_once(a, b, db);
	cr_assert_eq(t.flags_b, 1);
	cr_assert_eq(t.flags_a, 1);
	cr_assert_eq(t.deleted_b, 1);
	cr_assert_eq(t.deleted_a, 1);
	cr_assert_eq(t.to_a, 1);
	cr_assert_eq(t.to_b, 1);
	two_assert_twins(a, "INBOX", b, "INBOX", 8);
	two_assert_twins(a, "Work", b, "Work", 4);
	two_assert_twins(a, "Home", b, "Home", 1);

	/* Nothing to do: nothing done. */
	t = sync_once(a, b, db);
	cr_assert_eq(t.to_a + t.to_b + t.flags_a + t.flags_b + t.deleted_a + t.deleted_b + t.paired, 0);
	two_assert_twins(a, "INBOX", b, "INBOX", 8);

	free(db);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* `mailbox` of d restored from an older backup: made again (a new
 * UIDVALIDITY, `uidvalidity`) with only its first `keep` messages, in
 * the reverse order, so that its UIDs now name other messages. */
static void restore_older(struct dovecot *d, const char *mailbox, size_t keep, unsigned uidvalidity)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(d, mailbox, true, &n);

	cr_assert_geq(n, keep);
	dovecot_delete_mailbox(d, mailbox);
	dovecot_create_mailbox(d, mailbox);
	for (size_t i = keep; i-- > 0;)
		dovecot_append(d, mailbox, m[i].body, m[i].body_len, NULL);
	dovecot_set_uidvalidity(d, mailbox, uidvalidity);
	dovecot_msgs_free(m, n);
}

/* Either server restored from an older backup (a new UIDVALIDITY, its
 * UIDs naming other messages, some messages missing) loses nothing on
 * the other: what it lacks is copied to it again, its messages are
 * matched again by content, a message added meanwhile on the other side
 * is copied, nothing is deleted; and the next run does nothing. */
Test(sync_imap_imap, a_folder_renumbered_on_either_server_is_matched_again)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *db = xasprintf("%s/state.db", a->dir);
	struct totals t;

	dovecot_seed(a, "Work", 5, 600, 0);
	dovecot_seed(b, "Work", 2, 610, 0);
	t = sync_once(a, b, db);
	cr_assert_eq(t.to_a + t.to_b, 7);
	two_assert_twins(a, "Work", b, "Work", 7);

	restore_older(b, "Work", 5, 7777);
	dovecot_seed(a, "Work", 1, 620, 0);
	t = sync_once(a, b, db);
	cr_assert_eq(t.to_b, 3, "the 2 messages the restored side lacks, and the new one");
	cr_assert_eq(t.to_a + t.deleted_a + t.deleted_b, 0);
	two_assert_twins(a, "Work", b, "Work", 8);

	restore_older(a, "Work", 6, 8888);
	dovecot_seed(b, "Work", 1, 630, 0);
	t = sync_once(a, b, db);
	cr_assert_eq(t.to_a, 3, "the 2 messages the restored side lacks, and the new one");
	cr_assert_eq(t.to_b + t.deleted_a + t.deleted_b, 0);
	two_assert_twins(a, "Work", b, "Work", 9);

	t = sync_once(a, b, db);
	cr_assert_eq(t.to_a + t.to_b + t.flags_a + t.flags_b + t.deleted_a + t.deleted_b + t.paired, 0);
	free(db);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* ---- the account from the config ---- */

static int run_sync(const char *cfg, struct run_result *r)
{
	run_result_free(r);
	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, r);
	return r->status;
}

Test(sync_imap_imap, an_account_of_two_servers_syncs_from_the_command_line)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *state = xasprintf("%s/state", a->dir), *cfg = two_config(a, b, state, NULL);
	struct run_result r = {0};

	dovecot_seed(a, "INBOX", 4, 700, 0);
	dovecot_create_mailbox(a, "Work");
	dovecot_seed(a, "Work", 2, 710, 0);
	dovecot_seed(b, "INBOX", 1, 720, 0);
	dovecot_flags(a, "INBOX", 1, "add", "\\Flagged");
	cr_assert_eq(run_sync(cfg, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	two_assert_twins(a, "INBOX", b, "INBOX", 5);
	two_assert_twins(a, "Work", b, "Work", 2);

	dovecot_flags(b, "INBOX", 2, "add", "\\Seen");
	dovecot_expunge(b, "Work", 1);
	dovecot_seed(a, "INBOX", 1, 730, 0);
	cr_assert_eq(run_sync(cfg, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	two_assert_twins(a, "INBOX", b, "INBOX", 6);
	two_assert_twins(a, "Work", b, "Work", 1);

	/* Nothing to do: one line for the account, nothing changed. */
	cr_assert_eq(run_sync(cfg, &r), 0, "stderr: %s", r.err);
	cr_assert_str_eq(r.out,
	                 "move: 0 copied to the target, 0 copied to the source, flags 0 target / 0 source, "
	                 "deleted 0 target / 0 source\n");
	two_assert_twins(a, "INBOX", b, "INBOX", 6);

	/* check-config describes both servers. */
	run_result_free(&r);
	run_twinbox((const char *const[]){"--config", cfg, "check-config", "--connect", NULL}, 60, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "move (source): connected to 127.0.0.1") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "move (target): connected to 127.0.0.1") != NULL, "%s", r.out);

	run_result_free(&r);
	test_forget_temp(&cfg);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/*
 * The crash-point sweep for two servers: for N = 1, 2, ...: fresh
 * servers, a run killed at its N-th durable step, a resume; after every
 * resume both servers hold every message once, and a further run
 * changes nothing. Ends when step N is never reached.
 */
Test(sync_imap_imap, a_run_killed_at_every_step_loses_and_duplicates_nothing)
{
	struct run_result r = {0};
	unsigned step;

	for (step = 1; step < 100; step++) {
		struct dovecot *a = dovecot_start(), *b = dovecot_start();
		char *state = xasprintf("%s/state", a->dir), *cfg = two_config(a, b, state, NULL);
		char n[16];
		int status;

		dovecot_seed(a, "INBOX", 4, 740, 0);
		dovecot_create_mailbox(a, "Work");
		dovecot_seed(a, "Work", 2, 750, 0);
		dovecot_seed(b, "INBOX", 3, 760, 0);
		dovecot_flags(b, "INBOX", 1, "add", "\\Answered");
		snprintf(n, sizeof(n), "%u", step);
		setenv("TWINBOX_TEST_CRASH_AT", n, 1);
		status = run_sync(cfg, &r);
		unsetenv("TWINBOX_TEST_CRASH_AT");
		if (status != 0) {
			cr_assert_eq(status, 86, "step %u: exit %d: %s", step, status, r.err);
			/* What the killed run began is carried on by the next. */
			cr_assert_eq(run_sync(cfg, &r), 0, "resume after step %u: %s", step, r.err);
		}
		two_assert_twins(a, "INBOX", b, "INBOX", 7);
		two_assert_twins(a, "Work", b, "Work", 2);
		cr_assert_eq(run_sync(cfg, &r), 0, "after step %u: %s", step, r.err);
		cr_assert_str_eq(
		    r.out,
		    "move: 0 copied to the target, 0 copied to the source, flags 0 target / 0 source, "
		    "deleted 0 target / 0 source\n",
		    "a further run after a crash at step %u changed something", step);
		test_forget_temp(&cfg);
		free(state);
		dovecot_stop(a);
		dovecot_stop(b);
		if (status == 0)
			break;
	}
	run_result_free(&r);
	cr_log_info("two servers: killed at each of %u durable steps", step - 1);
	cr_assert_gt(step, 8, "the hook fired at only %u steps", step - 1);
	cr_assert_lt(step, 100);
}

/* ---- twinbox migrate ---- */

/* Whether every message of `mailbox` on `from` is on `to` byte for byte
 * (the bytes IMAP returns for BODY[], compared whole). */
/* The one-liner: every folder of the source copied to the target, one
 * way (nothing of the target comes back, nothing is deleted), what the
 * target already holds matched by content; the same command again
 * copies nothing, then only what is new and flag changes. */
Test(sync_imap_imap, migrate_copies_every_folder_once_and_resumes)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *state = xasprintf("%s/state", a->dir);
	struct run_result r = {0};
	size_t n;
	struct dovecot_msg *m;

	dovecot_seed(a, "INBOX", 6, 500, 0);
	dovecot_create_mailbox(a, "Archive/2024");
	dovecot_seed(a, "Archive/2024", 3, 510, 0);
	dovecot_flags(a, "INBOX", 2, "add", "\\Seen $Label1");
	/* Already on the new provider: a copy of the source's first message
	 * (an earlier partial copy) and one of its own. */
	dovecot_seed(b, "INBOX", 1, 500, 0);
	dovecot_seed(b, "INBOX", 1, 520, 0);
	cr_assert_eq(two_migrate(a, b, state, "--json", &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(two_count(b, "INBOX"), 7,
	             "the source's 6, one of them matched by content, and the target's own 1");
	cr_assert_eq(two_count(a, "INBOX"), 6, "nothing comes back to the source");
	two_assert_twins(a, "Archive/2024", b, "Archive/2024", 3);
	two_assert_same_bytes(a, "INBOX", b, "INBOX");
	two_assert_same_bytes(a, "Archive/2024", b, "Archive/2024");
	m = dovecot_list(b, "INBOX", true, &n);
	for (size_t i = 0; i < n; i++)
		if (strstr(m[i].body, "Message-ID") && dovecot_msg_has_flag(&m[i], "$Label1"))
			cr_assert(dovecot_msg_has_flag(&m[i], "\\Seen"));
	dovecot_msgs_free(m, n);

	/* The same command: nothing to do, said in one line. */
	cr_assert_eq(two_migrate(a, b, state, "-q", &r), 0, "stderr: %s", r.err);
	cr_assert_eq(two_count(b, "INBOX"), 7);

	/* Mail still arriving at the old provider, a flag set there, and a
	 * message deleted on the new one: the new mail and the flag are
	 * carried, the deletion is not undone from the source (one way) and
	 * nothing is deleted on the source. The closing verification
	 * finds the deleted one missing on the target: exit 1. */
	dovecot_seed(a, "INBOX", 2, 530, 0);
	dovecot_flags(a, "INBOX", 3, "add", "\\Flagged");
	dovecot_expunge(b, "INBOX", 1);
	cr_assert_eq(two_migrate(a, b, state, "-v", &r), 1, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, ": INBOX: source 8 (") && strstr(r.out, "matched 7, missing 1 ("),
	          "stdout: %s", r.out);
	cr_assert_eq(two_count(b, "INBOX"), 8, "7, one deleted, 2 new");
	cr_assert_eq(two_count(a, "INBOX"), 8, "nothing deleted on the source");
	m = dovecot_list(b, "INBOX", false, &n);
	{
		size_t flagged = 0;
		for (size_t i = 0; i < n; i++)
			flagged += dovecot_msg_has_flag(&m[i], "\\Flagged");
		cr_assert_eq(flagged, 1);
	}
	dovecot_msgs_free(m, n);

	run_result_free(&r);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* `twinbox verify` after a migration: every folder matched, exit 0;
 * then one message deleted on the target and a folder gone there: the
 * missing ones counted and sized, exit 1; nothing was copied by it. */
Test(sync_imap_imap, verify_counts_what_the_target_lacks)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *state = xasprintf("%s/state", a->dir), *cfg = two_config(a, b, state, NULL);
	struct run_result r = {0};
	const char *args[] = {"--config", cfg, "verify", "move", NULL};

	dovecot_seed(a, "INBOX", 5, 540, 0);
	dovecot_create_mailbox(a, "Work");
	dovecot_seed(a, "Work", 2, 550, 0);
	dovecot_create_mailbox(a, "Old");
	dovecot_seed(a, "Old", 1, 560, 0);
	dovecot_seed(b, "INBOX", 1, 540, 0); /* a copy the target already had */
	cr_assert_eq(run_sync(cfg, &r), 0, "stderr: %s", r.err);
	two_assert_twins(a, "INBOX", b, "INBOX", 5);

	run_result_free(&r);
	run_twinbox(args, 60, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "move: INBOX: source 5 (") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "target 5, matched 5, missing 0 (0 bytes)") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "move: 3 folders: source 8 (") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "matched 8, missing 0 (0 bytes)\n") != NULL, "%s", r.out);

	dovecot_expunge(b, "INBOX", 2);
	dovecot_delete_mailbox(b, "Old");
	run_result_free(&r);
	run_twinbox(args, 60, &r);
	cr_assert_eq(r.status, 1, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "move: INBOX: source 5 (") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "target 4, matched 4, missing 1 (") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "move: Old: source 1 (") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "target 0 (no such folder), matched 0, missing 1 (") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "matched 6, missing 2 (") != NULL, "%s", r.out);
	cr_assert_eq(two_count(b, "INBOX"), 4, "verify copies nothing");

	run_result_free(&r);
	test_forget_temp(&cfg);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* Bad options are refused before anything is done, naming the option. */
Test(sync_imap_imap, migrate_refuses_bad_options)
{
	static const struct {
		const char *args[8];
		const char *says;
	} cases[] = {
	    {{"migrate", "--from", "imaps://u@h", "--to", "imaps://u@h2", "--to-password-command", "x"},
	     "--from-password-command is missing"},
	    {{"migrate", "--from", "http://u@h", "--to", "imaps://u@h2"},
	     "--from: expected imaps://USER@HOST"},
	    {{"migrate", "--from", "imaps://h", "--to", "imaps://u@h2"}, "names no user"},
	    {{"migrate", "--from", "imaps://u@h:99999", "--to", "imaps://u@h2"},
	     "not a number from 1 to 65535"},
	    {{"migrate", "--to", "imaps://u@h2", "--from-password-command", "x", "--to-password-command",
	      "y"},
	     "--from is missing"},
	    {{"migrate", "--from", "imaps://u@h", "--to"}, "--to wants a value"},
	    {{"migrate", "--password", "x"}, "unknown argument --password"},
	};
	struct run_result r = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_twinbox(cases[i].args, 30, &r);
		cr_assert_eq(r.status, 64, "case %zu: exit %d: %s", i, r.status, r.err);
		cr_assert(strstr(r.err, cases[i].says) != NULL, "case %zu: expected \"%s\" in: %s", i,
		          cases[i].says, r.err);
		run_result_free(&r);
	}
}
