/*
 * Parallel folders and accounts (`twinbox sync --jobs N`) against a real
 * Dovecot: the result is the one a run folder by folder gives (Maildir
 * files, server messages and flags, state rows), the workers really use
 * connections of their own (Dovecot's log counts the logins), a server
 * that allows fewer connections gets its folders synced all the same
 * (and says so once),
 * and several accounts run at once. The harness is
 * support/sync_harness.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_parallel, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

static const struct {
	const char *name;
	unsigned count;
} folders[] = {
    {"INBOX", 40}, {"Archive", 30}, {"Archive/2024", 30}, {"Work", 20}, {"Work/Projects", 25}, {"Lists", 10},
};
#define N_FOLDERS (sizeof(folders) / sizeof(folders[0]))

static void seed_folders(void)
{
	for (size_t i = 0; i < N_FOLDERS; i++) {
		dovecot_seed(sh.d, folders[i].name, folders[i].count, (unsigned)(i + 1) * 1000u,
		             i % 2 ? 20000 : 0);
		/* Some flags, so that flags travel too. */
		dovecot_flags(sh.d, folders[i].name, 1, "add", "\\Seen \\Flagged");
		dovecot_flags(sh.d, folders[i].name, 2, "add", "\\Answered");
	}
}

/* How many IMAP logins Dovecot has logged so far. */
static size_t imap_logins(void)
{
	char *log = dovecot_log_tail(sh.d, 1 << 20);
	size_t n = 0;

	for (const char *p = log; (p = strstr(p, "imap-login: Info: Login: ")) != NULL; p++)
		n++;
	free(log);
	return n;
}

/* How often `text` occurs in `in`. */
static size_t occurrences(const char *in, const char *text)
{
	size_t n = 0;

	for (const char *p = in; (p = strstr(p, text)) != NULL; p++)
		n++;
	return n;
}

static void assert_all_twins(void)
{
	for (size_t i = 0; i < N_FOLDERS; i++) {
		assert_twins(folders[i].name, folders[i].count);
		cr_assert_eq(state_pair_count(folders[i].name), folders[i].count, "%s", folders[i].name);
	}
}

static void assert_flag_letters(const char *folder, size_t with_fs, size_t with_r)
{
	struct local_msg *m;
	size_t n = local_list(folder, &m), fs = 0, r = 0;

	for (size_t i = 0; i < n; i++) {
		fs += strchr(m[i].flags, 'F') && strchr(m[i].flags, 'S');
		r += strchr(m[i].flags, 'R') != NULL;
	}
	local_free(m, n);
	cr_assert_eq(fs, with_fs, "%s: %zu messages flagged and seen", folder, fs);
	cr_assert_eq(r, with_r, "%s: %zu messages answered", folder, r);
}

Test(sync_parallel, folders_in_parallel_end_as_one_at_a_time)
{
	size_t before;

	seed_folders();
	before = imap_logins();
	cr_assert_eq(sync_run_args("--jobs=4"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	/* The run's own connection and three workers. */
	cr_assert_eq(imap_logins() - before, 4, "logins: %zu", imap_logins() - before);
	assert_all_twins();
	for (size_t i = 0; i < N_FOLDERS; i++) {
		char *line = xasprintf("t: %s: %u pulled, 0 pushed", folders[i].name, folders[i].count);
		cr_assert_not_null(strstr(sh.r.out, line), "no \"%s\" in:\n%s", line, sh.r.out);
		free(line);
		assert_flag_letters(folders[i].name, 1, 1);
	}

	/* Changes on both sides, then one connection only: the same state. */
	dovecot_flags(sh.d, "Work", 3, "add", "\\Flagged \\Seen");
	write_local("Lists", "local.1", "From: a@b.c\nMessage-ID: <local.1@twinbox.test>\n\nhello\n");
	before = imap_logins();
	cr_assert_eq(sync_run_args("--jobs=1"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(imap_logins() - before, 1);
	assert_flag_letters("Work", 2, 1);
	assert_twins("Lists", 11);
	sync_ok();
	assert_nothing_done();
}

/* Large folders are not synced side by side (their messages are held in
 * memory while a folder is in flight): beside the largest folder in
 * flight, the others may hold at most about 4000 messages. With two
 * folders of 4100 and a small one, at most two folders can ever be in
 * flight, so one worker is all that is started. Every folder ends
 * complete. */
Test(sync_parallel, large_folders_are_not_synced_side_by_side)
{
	size_t before;

	dovecot_seed(sh.d, "INBOX", 4100, 5000, 0);
	dovecot_seed(sh.d, "Archive", 4100, 6000, 0);
	dovecot_seed(sh.d, "Work", 10, 7000, 0);
	before = imap_logins();
	cr_assert_eq(sync_run_args("--jobs=4"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(imap_logins() - before, 2, "logins: %zu", imap_logins() - before);
	assert_twins("INBOX", 4100);
	assert_twins("Archive", 4100);
	assert_twins("Work", 10);
	cr_assert_eq(state_pair_count("INBOX"), 4100);
	cr_assert_eq(state_pair_count("Archive"), 4100);
}

/* The run lasts at least as long as its largest folder: with workers,
 * that one starts first (on the connection already open), whatever its
 * place in the folder list, and the smaller ones follow, largest first. */
Test(sync_parallel, the_largest_folder_starts_first)
{
	static const char *const order[] = {"Work/Projects", "INBOX", "Archive", "Lists"};
	const char *at = NULL;

	dovecot_seed(sh.d, "INBOX", 20, 5000, 0);
	dovecot_seed(sh.d, "Archive", 5, 6000, 0);
	dovecot_seed(sh.d, "Lists", 2, 7000, 0);
	dovecot_seed(sh.d, "Work/Projects", 60, 8000, 0);
	cr_assert_eq(sync_run_args("-v"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		char *line = xasprintf("%s: starting (", order[i]);
		const char *found = strstr(sh.r.err, line);

		cr_assert_not_null(found, "no \"%s\" in:\n%s", line, sh.r.err);
		cr_assert(!at || found > at, "%s started before a larger folder:\n%s", order[i], sh.r.err);
		at = found;
		free(line);
	}
	assert_twins("Work/Projects", 60);
	assert_twins("Lists", 2);
}

/* `twinbox sync --jobs=4` against a Dovecot that lets a user have
 * `limit` connections: the workers over the limit are refused at login
 * (NO [LIMIT]); the run goes on over the connections it has, says so
 * once (not once per worker, and not as a wrong password), and syncs
 * every folder. Dovecot counts a user's connections as their logins
 * settle: workers that log in at the same moment may all get in (then
 * nothing is said), so only `limit` 1 (the run's own connection is in
 * long before the workers) is sure to refuse one. */
static void sync_within_connection_limit(unsigned limit)
{
	char *conf = xasprintf("mail_max_userip_connections = %u", limit);
	size_t said;

	dovecot_stop(sh.d);
	sh.d = dovecot_start_with(conf);
	free(conf);
	write_config("    sync:\n      expunge: both\n");
	seed_folders();
	cr_assert_eq(sync_run_args("--jobs=4"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	said = occurrences(sh.r.err, "going on with fewer connections for parallel folders");
	cr_assert(limit == 1 ? said == 1 : said <= 1, "stderr: %s", sh.r.err);
	cr_assert_eq(occurrences(sh.r.err, "NO [LIMIT]"), said, "stderr: %s", sh.r.err);
	cr_assert_null(strstr(sh.r.err, "password"), "stderr: %s", sh.r.err);
	cr_assert_null(strstr(sh.r.err, "error"), "stderr: %s", sh.r.err);
	assert_all_twins();
	sync_ok();
	assert_nothing_done();
}

Test(sync_parallel, a_server_that_allows_fewer_connections_gets_every_folder)
{
	/* The run's own connection lasts the whole run: no worker gets one. */
	sync_within_connection_limit(1);
}

Test(sync_parallel, a_limit_of_two_connections_syncs_everything_over_two)
{
	/* The run's connection and one worker's. */
	sync_within_connection_limit(2);
}

Test(sync_parallel, dry_run_in_parallel_shows_every_folder_and_changes_nothing)
{
	seed_folders();
	sync_ok();
	for (size_t i = 0; i < N_FOLDERS; i++)
		dovecot_seed(sh.d, folders[i].name, 2, 90000u + (unsigned)i * 10u, 0);
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "-v", "sync", "--dry-run"), 120, &sh.r); /* -v: each message */
	cr_assert_eq(sh.r.status, 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	for (size_t i = 0; i < N_FOLDERS; i++) {
		for (unsigned k = 1; k <= 2; k++) {
			char *line =
			    xasprintf("t: %s: copy-to-local uid %u\n", folders[i].name, folders[i].count + k);
			cr_assert_not_null(strstr(sh.r.out, line), "no \"%s\" in:\n%s", line, sh.r.out);
			free(line);
		}
		struct local_msg *m;
		size_t n = local_list(folders[i].name, &m);
		local_free(m, n);
		cr_assert_eq(n, folders[i].count, "%s: %zu messages after a dry run", folders[i].name, n);
	}
}

Test(sync_parallel, accounts_run_at_once)
{
	char *mail_u = xasprintf("%s/mail-u", sh.dir);
	char *account_u = account_config("u", mail_u);
	char *second =
	    xasprintf("    sync:\n      expunge: both\n%s    sync:\n      direction: pull\n", account_u);
	struct stat st;

	seed_folders();
	write_config(second);
	cr_assert_eq(sync_run_args("--jobs=2"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	assert_all_twins();
	for (size_t i = 0; i < N_FOLDERS; i++) {
		char *line = xasprintf("u: %s: %u pulled", folders[i].name, folders[i].count);
		cr_assert_not_null(strstr(sh.r.out, line), "no \"%s\" in:\n%s", line, sh.r.out);
		free(line);
	}
	cr_assert_eq(stat(mail_u, &st), 0);
	{
		char *db_u = xasprintf("%s/state/u.db", sh.dir);
		cr_assert_eq(stat(db_u, &st), 0, "no state for the second account");
		free(db_u);
	}
	free(second);
	free(account_u);
	free(mail_u);
}

Test(sync_parallel, jobs_must_be_a_sane_number)
{
	static const char *const bad[] = {"--jobs=0", "--jobs=x", "--jobs=33", "--jobs=", "--jobs"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(sync_run_args(bad[i]), 64, "%s: status %d", bad[i], sh.r.status);
		cr_assert_not_null(strstr(sh.r.err, "--jobs wants a number from 1 to 32"), "%s: %s", bad[i],
		                   sh.r.err);
	}
}

/* A server without CONDSTORE cannot tell that a folder is unchanged, so
 * every folder is read on every run. A run that then finds nothing to do
 * opens no connection beyond its own; one whose first folder has work
 * gets its workers for the rest. */
Test(sync_parallel, workers_connect_only_when_a_folder_has_work)
{
	size_t before;

	dovecot_stop(sh.d);
	sh.d = dovecot_start_with("imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE "
	                          "UIDPLUS LIST-EXTENDED SPECIAL-USE MOVE CHILDREN UNSELECT");
	write_config("    sync:\n      expunge: both\n");
	seed_folders();
	before = imap_logins();
	cr_assert_eq(sync_run_args("--jobs=4"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(imap_logins() - before, 4, "a first sync: every worker at once");
	assert_all_twins();

	before = imap_logins();
	cr_assert_eq(sync_run_args("-vv"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_null(strstr(sh.r.err, "CONDSTORE"), "the server still offers CONDSTORE:\n%s", sh.r.err);
	cr_assert_eq(imap_logins() - before, 1, "logins for a run with nothing to do: %zu",
	             imap_logins() - before);
	assert_nothing_done();

	/* (-vv: the default --jobs 4.) New mail in the largest folder, which
	 * is taken first. */
	dovecot_seed(sh.d, "INBOX", 3, 97000, 0);
	before = imap_logins();
	cr_assert_eq(sync_run_args("--jobs=4"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(imap_logins() - before, 4, "logins: %zu", imap_logins() - before);
	cr_assert_not_null(strstr(sh.r.out, "t: INBOX: 3 pulled"), "%s", sh.r.out);
	assert_twins("INBOX", 43);
	sync_ok();
	assert_nothing_done();
}
