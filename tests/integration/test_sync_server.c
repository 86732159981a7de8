/*
 * The server under an account changed (issue 13), end to end against a
 * real Dovecot: a folder restored without its recent mail (a new
 * UIDVALIDITY), the config pointed at another server, or at the same
 * server by another name. The local messages the server lacks are
 * uploaded again, nothing is deleted or duplicated, the dry run plans
 * what the real run does, and the summary counts the re-uploads.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_server, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

static const char expunge_both[] = "    sync:\n      expunge: both\n";

/* Lines of `text` that contain both `a` and `b`. */
static size_t lines_with(const char *text, const char *a, const char *b)
{
	size_t n = 0;

	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		char *line = xstrndup(p, len);
		n += strstr(line, a) && strstr(line, b);
		free(line);
		p += len + (p[len] == '\n');
	}
	return n;
}

/* The dry run plans for `folder`: `uploads` copies to the server, no
 * download, no deletion; `sync -v --dry-run` lists every action. */
static void assert_dry_run_plans(const char *folder, size_t uploads)
{
	char *prefix = xasprintf("t: %s: ", folder);

	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "-v", "sync", "--dry-run"), 120, &sh.r);
	cr_assert_eq(sh.r.status, 0, "%s", sh.r.err);
	cr_assert_eq(lines_with(sh.r.out, prefix, "copy-to-remote"), uploads, "%s", sh.r.out);
	cr_assert_eq(lines_with(sh.r.out, prefix, "copy-to-local"), 0, "%s", sh.r.out);
	cr_assert_eq(lines_with(sh.r.out, prefix, "delete-"), 0, "%s", sh.r.out);
	free(prefix);
}

/* The real run uploads `uploads` messages the server lacked, and does
 * nothing else. */
static void assert_reuploaded(const char *folder, size_t uploads)
{
	char *s = summary_of(folder);
	char *pushed =
	    xasprintf("0 pulled, %zu pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote", uploads);
	char *again = xasprintf(", %zu re-uploaded", uploads);

	cr_assert(strncmp(s, pushed, strlen(pushed)) == 0, "%s: %s\nstderr: %s", folder, s, sh.r.err);
	cr_assert(strstr(s, again), "the summary says how many were uploaded again: %s", s);
	free(again);
	free(pushed);
	free(s);
}

/* `mailbox` (holding `had` messages) restored on the server as from a
 * backup: a new UIDVALIDITY, only its first `keep` messages, in reverse
 * order with `reversed` (every UID then names another message). */
static void restore_mailbox(const char *mailbox, size_t had, size_t keep, bool reversed, unsigned uidvalidity)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(sh.d, mailbox, true, &n);

	cr_assert_eq(n, had);
	dovecot_delete_mailbox(sh.d, mailbox);
	dovecot_create_mailbox(sh.d, mailbox);
	dovecot_set_uidvalidity(sh.d, mailbox, uidvalidity);
	for (size_t i = 0; i < keep; i++) {
		const struct dovecot_msg *one = &m[reversed ? keep - 1 - i : i];
		dovecot_append(sh.d, mailbox, one->body, one->body_len, NULL);
	}
	dovecot_msgs_free(m, n);
}

/* Work (5 messages) synced, then restored on the server from a backup
 * that lacks the last two. */
static void restore_scenario(void)
{
	dovecot_seed(sh.d, "INBOX", 2, 92000, 0);
	dovecot_seed(sh.d, "Work", 5, 92100, 0);
	sync_ok();
	assert_twins("Work", 5);
	restore_mailbox("Work", 5, 3, false, 4242);
}

Test(sync_server, a_folder_restored_without_recent_mail_gets_it_back)
{
	restore_scenario();
	assert_dry_run_plans("Work", 2);
	cr_assert(strstr(sh.r.err, "UIDVALIDITY"), "%s", sh.r.err);
	cr_assert_eq(server_count("Work"), 3, "the dry run changed nothing");

	sync_ok();
	assert_reuploaded("Work", 2);
	assert_twins("Work", 5);
	assert_twins("INBOX", 2);
	cr_assert_eq(state_pair_count("Work"), 5);
	sync_ok();
	assert_nothing_done();
}

/* The run that re-uploads, killed at each of its durable steps (the
 * first comes after the state forgot the old UIDs): the next run still
 * uploads what the server lacks, once. */
Test(sync_server, a_re_upload_killed_at_any_step_is_finished_by_the_next_run)
{
	unsigned step;

	for (step = 1; step < 40; step++) {
		char n[16];
		int status;

		if (step > 1)
			restart_world();
		restore_scenario();
		snprintf(n, sizeof(n), "%u", step);
		setenv("TWINBOX_TEST_CRASH_AT", n, 1);
		status = sync_run_args(NULL);
		unsetenv("TWINBOX_TEST_CRASH_AT");
		if (status == 0)
			break;
		cr_assert_eq(status, 86, "step %u: exit %d: %s", step, status, sh.r.err);
		sync_ok();
		assert_twins("Work", 5);
		assert_twins("INBOX", 2);
		cr_assert_eq(state_pair_count("Work"), 5, "after a kill at step %u", step);
		sync_ok();
		assert_nothing_done();
	}
	cr_log_info("re-upload crash test: killed at each of %u durable steps", step - 1);
	cr_assert_gt(step, 2, "the hook fired at only %u steps", step - 1);
	cr_assert_lt(step, 40);
}

/* The account's config pointed at another server (here: a second
 * Dovecot, on another port) that holds three of the five messages. */
Test(sync_server, another_server_under_the_account_is_filled_again)
{
	struct dovecot *first = sh.d, *second = dovecot_start();
	struct dovecot_msg *m;
	char *old_name, *new_name;
	size_t n;

	dovecot_seed(first, "INBOX", 5, 93000, 0);
	sync_ok();
	m = dovecot_list(first, "INBOX", true, &n);
	for (size_t i = 0; i < 3; i++)
		dovecot_append(second, "INBOX", m[i].body, m[i].body_len, NULL);
	dovecot_msgs_free(m, n);

	sh.d = second;
	write_config(expunge_both);
	old_name = xasprintf("%s@127.0.0.1:%u", first->user, first->imaps_port);
	new_name = xasprintf("%s@127.0.0.1:%u", second->user, second->imaps_port);

	assert_dry_run_plans("INBOX", 2);
	cr_assert(strstr(sh.r.err, old_name) && strstr(sh.r.err, new_name),
	          "the warning names the old and the new server: %s", sh.r.err);
	cr_assert_eq(server_count("INBOX"), 3, "the dry run changed nothing");

	sync_ok();
	cr_assert(strstr(sh.r.err, old_name) && strstr(sh.r.err, new_name), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "nothing is deleted"), "and says what twinbox does: %s", sh.r.err);
	assert_reuploaded("INBOX", 2);
	assert_twins("INBOX", 5);
	cr_assert_eq(state_pair_count("INBOX"), 5);
	sync_ok();
	assert_nothing_done();
	cr_assert(!strstr(sh.r.err, old_name), "said once: %s", sh.r.err);

	sh.d = first;
	cr_assert_eq(server_count("INBOX"), 5, "the old server is left alone");
	dovecot_stop(second);
	free(old_name);
	free(new_name);
}

/* The config with the account on `host` and `user`, plain IMAP without
 * TLS (the fixture's 127.0.0.4 offers no TLS at all). */
static void write_account(const char *host, const char *user)
{
	char *text = xasprintf("state_dir: %s/state\n"
	                       "accounts:\n"
	                       "  t:\n"
	                       "    imap:\n"
	                       "      host: %s\n"
	                       "      port: %u\n"
	                       "      tls: none\n"
	                       "      user: \"%s\"\n"
	                       "      password: \"%s\"\n"
	                       "      timeout: 20s\n"
	                       "    maildir:\n"
	                       "      path: %s\n"
	                       "%s",
	                       sh.dir, host, sh.d->imap_port, user, sh.d->password, sh.mail, expunge_both);
	struct error err;

	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
}

/* The account's server edited to `host` / `user` naming the same
 * server: twinbox cannot know it is the same, says so (naming both), and
 * finds every message again by content: nothing copied or deleted. */
static void same_server_renamed(const char *host, const char *user)
{
	char *old_name = xasprintf("%s@127.0.0.1:%u", sh.d->user, sh.d->imap_port);
	char *new_name = xasprintf("%s@%s:%u", user, host, sh.d->imap_port);
	char *s;

	dovecot_seed(sh.d, "INBOX", 3, 94000, 0);
	write_account("127.0.0.1", sh.d->user);
	sync_ok();
	cr_assert(!strstr(sh.r.err, "describes the server"), "a first run records it quietly: %s", sh.r.err);
	write_account(host, user);
	sync_ok();
	cr_assert(strstr(sh.r.err, old_name) && strstr(sh.r.err, new_name),
	          "the warning names the old and the new server: %s", sh.r.err);
	s = summary_of("INBOX");
	cr_assert_str_eq(
	    s, "0 pulled, 0 pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote, 3 matched", "%s",
	    sh.r.err);
	free(s);
	assert_twins("INBOX", 3);
	sync_ok();
	assert_nothing_done();
	cr_assert(!strstr(sh.r.err, "describes the server"), "said once: %s", sh.r.err);
	free(old_name);
	free(new_name);
}

Test(sync_server, an_edited_host_is_said_and_copies_nothing_twice)
{
	same_server_renamed(DOVECOT_ADDR_NO_STARTTLS, sh.d->user);
}

/* A server that takes "user@domain" for "user" (auth_username_format). */
Test(sync_server, an_edited_user_is_said_and_copies_nothing_twice)
{
	char *user;

	dovecot_stop(sh.d);
	sh.d = dovecot_start_with("auth_username_format = %Ln");
	user = xasprintf("%s@example.org", sh.d->user);
	same_server_renamed("127.0.0.1", user);
	free(user);
}

/* Every pair of `folder` in the state joins a server message and a local
 * file with the same Message-ID. */
static void assert_pairs_join_the_same_messages(const char *folder)
{
	struct state *st;
	struct state_folder sf;
	struct state_pairs pairs = {0};
	struct dovecot_msg *sm;
	struct local_msg *lm;
	size_t ns, nl;
	struct error err;

	sm = dovecot_list(sh.d, folder, true, &ns);
	nl = local_list(folder, &lm);
	cr_assert_eq(state_open(sh.db, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_find_remote(st, folder, &sf, &err), 1);
	cr_assert_eq(state_pairs_load(st, sf.id, &pairs, &err), 0, "%s", err.text);
	for (size_t i = 0; i < pairs.count; i++) {
		const struct state_pair *p = &pairs.pairs[i];
		char *sid = NULL, *lid = NULL;
		for (size_t k = 0; k < ns && !sid; k++)
			if (sm[k].uid == p->side[SIDE_A].uid)
				sid = message_id(sm[k].body);
		for (size_t k = 0; k < nl && !lid; k++)
			if (strstr(lm[k].path, p->side[SIDE_B].name))
				lid = message_id(lm[k].data);
		cr_assert(sid && lid, "pair UID %u / %s: a side is missing", p->side[SIDE_A].uid,
		          p->side[SIDE_B].name);
		cr_assert_str_eq(sid, lid, "pair UID %u / %s joins two different messages",
		                 p->side[SIDE_A].uid, p->side[SIDE_B].name);
		free(sid);
		free(lid);
	}
	state_pairs_free(&pairs);
	state_folder_clear(&sf);
	state_close(st);
	local_free(lm, nl);
	dovecot_msgs_free(sm, ns);
}

/* A run of Work killed at durable step `step` (which must be `what`),
 * then Work restored in reverse order (every UID now names another
 * message) under a new UIDVALIDITY; the next run must pair every file
 * with its own message and duplicate nothing. */
static void killed_then_renumbered(unsigned step, const char *what)
{
	char n[16], *said = xasprintf("durable step %u: %s", step, what);

	snprintf(n, sizeof(n), "%u", step);
	setenv("TWINBOX_TEST_CRASH_AT", n, 1);
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "-v", "sync", "--jobs", "1", "t:Work"), 120, &sh.r);
	unsetenv("TWINBOX_TEST_CRASH_AT");
	cr_assert_eq(sh.r.status, 86, "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, said), "%s", sh.r.err);
	free(said);

	restore_mailbox("Work", 6, 6, true, 4343);
	sync_ok();
	cr_assert(strstr(sh.r.err, "UIDVALIDITY"), "the renumbering is told: %s", sh.r.err);
	assert_twins("Work", 6);
	assert_pairs_join_the_same_messages("Work");
	sync_ok();
	assert_nothing_done();
}

/* A pull killed after its files were delivered, before the pairs were
 * recorded: the files must not be paired with whatever message now has
 * the UID they were downloaded from; they are matched by content. */
Test(sync_server, a_delivery_left_by_a_killed_run_is_matched_by_content_after_a_renumbering)
{
	dovecot_seed(sh.d, "Work", 2, 95000, 0);
	sync_ok();
	dovecot_seed(sh.d, "Work", 4, 95100, 0);
	killed_then_renumbered(2, "messages delivered locally");
}

/* The same when the killed run was the folder's first sync: the pairs it
 * recorded belong to the UIDVALIDITY it saw, and a later change is told. */
Test(sync_server, a_first_sync_killed_then_a_renumbering_pairs_nothing_wrongly)
{
	dovecot_seed(sh.d, "Work", 6, 96000, 0);
	killed_then_renumbered(3, "copies recorded");
}

/* A folder changed locally (so the run reads it ahead, pairs and all,
 * while it connects) and restored on the server with every UID naming
 * another message: the pairs read ahead belong to the old numbering and
 * must not be planned with; the messages are matched again by content. */
Test(sync_server, a_folder_read_ahead_then_found_renumbered_is_matched_again)
{
	char *path, *flags = NULL;

	dovecot_seed(sh.d, "Work", 5, 94000, 0);
	sync_ok();
	path = local_find("Work", "<seed.94001@twinbox.test>");
	free(local_set_flags(path, "FS"));
	free(path);
	restore_mailbox("Work", 5, 5, true, 4343);
	cr_assert_eq(sync_run_args("-vv"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_not_null(strstr(sh.r.err,
	                          "Work: read ahead while the server answers: the Maildir folder read "
	                          "whole and its pairs loaded"),
	                   "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "UIDVALIDITY"), "%s", sh.r.err);
	assert_twins("Work", 5);
	cr_assert_eq(state_pair_count("Work"), 5);
	assert_pairs_join_the_same_messages("Work");
	for (unsigned i = 0; i < 5; i++) {
		char *id = seeded_id(94000, i);
		server_find("Work", id, &flags);
		cr_assert_eq(has_flag(flags, "\\Flagged"), i == 1, "%s: %s", id, flags);
		free(flags);
		flags = NULL;
		free(id);
	}
	sync_ok();
	assert_nothing_done();
}
