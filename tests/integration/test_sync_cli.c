/*
 * End-to-end: what `twinbox sync` tells the user (each error once, exit
 * codes that say how much was done, folder arguments and list-folders'
 * names, the dry run, the wording after a UIDVALIDITY change or a run
 * that stopped part-way), run against a private Dovecot through the
 * sync harness.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/state/lock.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_cli, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* How often `needle` occurs in `hay`. */
static size_t occurrences(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Run sync through a wrapper that limits the files it may write to
 * `blocks` blocks (as a full disk would; SIGXFSZ ignored so writes
 * fail): 256 (256 kB) fills the state database itself; 512 leaves room
 * for the state and its log and stops at the 400 kB attachment the
 * tests put last. */
static int sync_on_full_disk_at(unsigned blocks)
{
	char *wrapper = xasprintf("%s/limited.sh", sh.dir);
	const char *bin = getenv("TWINBOX_BIN") ? getenv("TWINBOX_BIN") : "build/twinbox";
	char *real = xstrdup(bin);
	char *script = xasprintf("#!/bin/sh\ntrap '' XFSZ\nulimit -f %u\nexec '%s' \"$@\"\n", blocks, real);
	struct error err;
	int status;

	cr_assert_eq(fs_write_atomic(wrapper, script, strlen(script), 0700, &err), 0, "%s", err.text);
	setenv("TWINBOX_BIN", wrapper, 1);
	status = sync_run_args(NULL);
	setenv("TWINBOX_BIN", real, 1);
	free(wrapper);
	free(script);
	free(real);
	return status;
}

/* A full disk that stops the run at the last, big message. */
static int sync_on_full_disk(void)
{
	return sync_on_full_disk_at(512);
}

/* ---- each error once ---- */

/* The state database cannot grow: the error stops the whole run (not
 * just the folder), and is said once, not by the folder's report and
 * again by the account. */
Test(sync_cli, an_error_that_stops_the_run_is_said_once)
{
	const char *what = "cannot commit a transaction";

	dovecot_seed(sh.d, "INBOX", 5, 1500, 0);
	sync_ok();
	dovecot_seed(sh.d, "INBOX", 3000, 2000, 0);
	cr_assert_neq(sync_on_full_disk_at(256), 0);
	cr_assert_eq(occurrences(sh.r.err, what), 1, "said %zu times:\n%s", occurrences(sh.r.err, what),
	             sh.r.err);
}

/* A POP3 download that cannot be written stops the import: one error,
 * not a warning about the message and the same text again as an error. */
Test(sync_cli, a_pop3_download_that_stops_the_import_is_said_once)
{
	const char *what = "File too large";

	write_pop3_config();
	dovecot_seed(sh.d, "INBOX", 5, 1600, 400000); /* the 5th is too big for the disk */
	cr_assert_neq(sync_on_full_disk(), 0);
	cr_assert_eq(occurrences(sh.r.err, what), 1, "said %zu times:\n%s", occurrences(sh.r.err, what),
	             sh.r.err);
	cr_assert_null(strstr(sh.r.err, "warning"), "%s", sh.r.err);
}

/* ---- exit codes ---- */

/* The number just before `text` in the last run's stderr (fails the
 * test unless there is one). */
static unsigned long said_before(const char *text)
{
	const char *at = strstr(sh.r.err, text), *p = at;

	cr_assert_not_null(at, "no \"%s\" in:\n%s", text, sh.r.err);
	while (p > sh.r.err && p[-1] >= '0' && p[-1] <= '9')
		p--;
	cr_assert(p < at, "no number before \"%s\" in:\n%s", text, sh.r.err);
	return strtoul(p, NULL, 10);
}

/* A pull that stops part-way (the disk fills up at its last message):
 * what was stored is kept and said, and the exit code is 1 ("some
 * failed"), not 2 ("nothing could be done"). */
Test(sync_cli, a_pull_stopped_part_way_exits_1_and_says_how_much_was_stored)
{
	struct local_msg *lm;
	size_t n;

	dovecot_seed(sh.d, "INBOX", 5, 1500, 0);
	sync_ok();
	dovecot_seed(sh.d, "INBOX", 300, 2000, 0);
	dovecot_seed(sh.d, "INBOX", 5, 1600, 400000); /* the last one is too big for the disk */
	cr_assert_eq(sync_on_full_disk(), 1, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert(strstr(sh.r.err, "File too large"), "%s", sh.r.err);
	n = local_list("INBOX", &lm);
	local_free(lm, n);
	cr_assert_gt(n, 5, "nothing was stored: the test does not test what it should");
	cr_assert_gt(said_before(" of 305 messages pulled"), 0, "%s", sh.r.err);
	sync_ok();
	assert_twins("INBOX", 310);
}

/* The same for a POP3 import. */
Test(sync_cli, a_pop3_import_stopped_part_way_exits_1_and_says_how_much_was_stored)
{
	struct local_msg *lm;
	size_t n;

	write_pop3_config();
	dovecot_seed(sh.d, "INBOX", 600, 2000, 0);    /* more than a batch of downloads */
	dovecot_seed(sh.d, "INBOX", 5, 1600, 400000); /* the last one is too big for the disk */
	cr_assert_eq(sync_on_full_disk(), 1, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	n = local_list("INBOX", &lm);
	local_free(lm, n);
	cr_assert_geq(n, 500, "%zu", n);
	cr_assert_gt(said_before(" messages were downloaded"), 0, "%s", sh.r.err);
}

/* ---- folder arguments ---- */

/* Run `twinbox --config CFG CMD ARG` into sh.r; its status. */
static int run_cmd(const char *cmd, const char *arg)
{
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, cmd, arg), 120, &sh.r);
	return sh.r.status;
}

/* An argument that names no folder: an error naming the near matches,
 * exit 64, and nothing done (no Maildir made, nothing pulled). */
Test(sync_cli, a_folder_argument_that_names_no_folder_is_an_error_with_near_matches)
{
	struct local_msg *lm;

	dovecot_seed(sh.d, "INBOX", 2, 3000, 0);
	dovecot_seed(sh.d, "Lists/dev", 2, 3100, 0);
	dovecot_seed(sh.d, "Lists/devel-announce", 1, 3200, 0);
	dovecot_seed(sh.d, "Archive", 1, 3300, 0);
	cr_assert_eq(run_cmd("sync", "t:Lists/dve"), 64, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert(strstr(sh.r.err, "no folder \"Lists/dve\""), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "\"Lists/dev\""), "the near match should be named: %s", sh.r.err);
	cr_assert_null(strstr(sh.r.err, "\"Archive\""), "not near: %s", sh.r.err);
	cr_assert_eq(local_list("INBOX", &lm), 0, "a run with a bad folder argument pulled mail");
	local_free(lm, 0);
	cr_assert_eq(local_list("Lists/dev", &lm), 0);
	local_free(lm, 0);

	/* Another case, a prefix: still named. */
	cr_assert_eq(run_cmd("sync", "t:lists"), 64, "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "\"Lists/dev\""), "%s", sh.r.err);
	/* The right spelling then syncs that folder alone. */
	cr_assert_eq(run_cmd("sync", "t:Lists/dev"), 0, "%s", sh.r.err);
	assert_twins("Lists/dev", 2);
	cr_assert_eq(local_list("Archive", &lm), 0);
	local_free(lm, 0);
}

/* A server whose hierarchy delimiter is '.': list-folders shows the
 * names sync takes ("Lists/dev"), INBOX first and sorted, and sync takes
 * the server's spelling ("Lists.dev") too. */
Test(sync_cli, list_folders_shows_the_names_sync_takes_and_sync_takes_both_spellings)
{
	const char *out, *inbox, *a, *b, *c;

	dovecot_stop(sh.d);
	sh.d = dovecot_start_with("namespace inbox {\n  separator = .\n}\n");
	write_config("    sync:\n      expunge: both\n");
	dovecot_seed(sh.d, "INBOX", 1, 3400, 0);
	dovecot_seed(sh.d, "Lists.dev", 2, 3500, 0);
	dovecot_seed(sh.d, "Lists.announce", 1, 3600, 0);
	dovecot_seed(sh.d, "Archive", 1, 3700, 0);
	cr_assert_eq(run_cmd("list-folders", "t"), 0, "%s", sh.r.err);
	out = sh.r.out;
	cr_assert_null(strstr(out, "Lists.dev"), "the server's spelling is not what sync takes:\n%s", out);
	inbox = strstr(out, "\nINBOX ");
	a = strstr(out, "\nArchive ");
	b = strstr(out, "\nLists/announce ");
	c = strstr(out, "\nLists/dev ");
	cr_assert(inbox && a && b && c, "%s", out);
	cr_assert(inbox == strchr(out, '\n'), "INBOX should come first:\n%s", out);
	cr_assert(a < b && b < c, "not sorted:\n%s", out);

	/* (The harness reads the server with '/' names: look at the Maildir.) */
	cr_assert_eq(run_cmd("sync", "t:Lists.dev"), 0, "%s", sh.r.err);
	cr_assert_eq(local_message_count("Lists/dev"), 2, "%s", sh.r.out);
	cr_assert_eq(run_cmd("sync", "t:Lists/announce"), 0, "%s", sh.r.err);
	cr_assert_eq(local_message_count("Lists/announce"), 1, "%s", sh.r.out);
	cr_assert_eq(local_message_count("Archive"), 0, "only the folders named were synced");
}

/* ---- the dry run ---- */

static struct buf tree_buf;

static int tree_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)type;
	(void)ftw;
	buf_printf(&tree_buf, "%s %o %lld %lld.%09ld\n", path, (unsigned)sb->st_mode, (long long)sb->st_size,
	           (long long)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec);
	return 0;
}

/* Every file and directory under the test directory with its mode,
 * size and modification time (fresh). */
static char *tree(void)
{
	tree_buf = (struct buf)BUF_INIT;
	cr_assert_eq(nftw(sh.dir, tree_entry, 16, FTW_PHYS), 0);
	buf_append_byte(&tree_buf, '\0');
	return tree_buf.data;
}

static int dry_run(bool verbose)
{
	run_result_free(&sh.r);
	if (verbose)
		run_twinbox(ARGS("--config", sh.cfg, "-v", "sync", "--dry-run"), 120, &sh.r);
	else
		run_twinbox(ARGS("--config", sh.cfg, "sync", "--dry-run"), 120, &sh.r);
	return sh.r.status;
}

/* A first dry run, before anything exists: no Maildir, no state, no
 * lock; per folder what would happen, folders to be created included. */
Test(sync_cli, a_first_dry_run_creates_nothing_and_counts_per_folder)
{
	char *before, *after;

	dovecot_seed(sh.d, "INBOX", 3, 4000, 0);
	dovecot_seed(sh.d, "Work/Projects", 2, 4100, 0);
	before = tree();
	cr_assert_eq(dry_run(false), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	after = tree();
	cr_assert_str_eq(after, before, "a dry run changed the directory");
	cr_assert(strstr(sh.r.out, "t: INBOX: would be created locally; would pull 3,"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "t: Work/Projects: would be created locally; would pull 2,"), "%s",
	          sh.r.out);
	cr_assert_null(strstr(sh.r.out, "copy-to-local"), "per-message lines only with -v: %s", sh.r.out);
	free(after);
	cr_assert_eq(dry_run(true), 0, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "t: Work/Projects: copy-to-local uid 2"), "%s", sh.r.out);
	after = tree();
	cr_assert_str_eq(after, before, "a dry run changed the directory");
	free(before);
	free(after);
	/* And the real run does what the dry run said. */
	sync_ok();
	assert_twins("INBOX", 3);
	assert_twins("Work/Projects", 2);
}

/* A dry run after a sync: changes on both sides, a new folder on each
 * side; nothing is written (not even the state or the lock file's
 * time), and the counts say what a run would do. */
Test(sync_cli, a_dry_run_after_a_sync_writes_nothing)
{
	char *before, *after;

	dovecot_seed(sh.d, "INBOX", 4, 4200, 0);
	sync_ok();
	dovecot_seed(sh.d, "INBOX", 2, 4300, 0);
	dovecot_seed(sh.d, "Lists", 3, 4400, 0);
	write_local("INBOX", "1700000001.M1P1.laptop", "Message-ID: <dry@twinbox.test>\nSubject: x\n\nx\n");
	{
		char *dir = folder_dir("Local");
		char *cmd = xasprintf("mkdir -p '%s/new' '%s/cur' '%s/tmp'", dir, dir, dir);
		cr_assert_eq(system(cmd), 0);
		free(cmd);
		free(dir);
	}
	write_local("Local", "1700000002.M1P1.laptop", "Message-ID: <dry2@twinbox.test>\nSubject: y\n\ny\n");
	before = tree();
	cr_assert_eq(dry_run(false), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	after = tree();
	cr_assert_str_eq(after, before, "a dry run changed the directory:\n%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "t: INBOX: would pull 2, push 1,"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "t: Lists: would be created locally; would pull 3,"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "t: Local: would be created on the server; would pull 0, push 1,"), "%s",
	          sh.r.out);
	cr_assert_eq(server_count("INBOX"), 6);
	free(before);
	free(after);
}

/* The same for a POP3 account's first dry run. */
Test(sync_cli, a_first_pop3_dry_run_creates_nothing)
{
	char *before, *after;

	write_pop3_config();
	dovecot_seed(sh.d, "INBOX", 3, 4500, 0);
	before = tree();
	cr_assert_eq(dry_run(false), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	after = tree();
	cr_assert_str_eq(after, before, "a dry run changed the directory");
	cr_assert(strstr(sh.r.out, "p: INBOX: 3 to download"), "%s", sh.r.out);
	free(before);
	free(after);
}

/* ---- wording ---- */

/* The lines of `text` that contain `needle`. */
static size_t lines_with(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end = strchr(l, '\n');
		const char *hit = strstr(l, needle);
		if (hit && (!end || hit < end))
			n++;
	}
	return n;
}

/* After a UIDVALIDITY change: one summary line, not one per message;
 * the per-message lines with -v. */
Test(sync_cli, a_uidvalidity_change_says_one_line_not_one_per_message)
{
	dovecot_seed(sh.d, "INBOX", 12, 5000, 0);
	sync_ok();
	dovecot_set_uidvalidity(sh.d, "INBOX", 4242);
	sync_ok();
	cr_assert_eq(lines_with(sh.r.err, "INBOX: "), 2, "the warning and one summary line:\n%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "INBOX: 12 messages have the same content"), "%s", sh.r.err);
	assert_twins("INBOX", 12);

	/* With -v, each message. */
	dovecot_set_uidvalidity(sh.d, "INBOX", 4343);
	cr_assert_eq(sync_run_args("-v"), 0, "%s", sh.r.err);
	cr_assert_geq(lines_with(sh.r.err, "have the same content and were known before"), 12, "%s",
	              sh.r.err);
}

/* A run stopped by an error (here a full disk) leaves steps it had begun:
 * the next run says so as it was, with the numbers of what it finds
 * done and not done, not "finishing N operations of an interrupted
 * run". */
Test(sync_cli, a_run_after_one_stopped_by_an_error_says_what_it_finds)
{
	unsigned long pulled, recorded;
	size_t n;

	dovecot_seed(sh.d, "INBOX", 5, 1500, 0);
	sync_ok();
	dovecot_seed(sh.d, "INBOX", 300, 2000, 0);
	dovecot_seed(sh.d, "INBOX", 5, 1600, 400000); /* the last one is too big for the disk */
	cr_assert_eq(sync_on_full_disk(), 1, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	pulled = said_before(" of 305 messages pulled");
	n = local_message_count("INBOX");
	sync_ok();
	cr_assert_null(strstr(sh.r.err, "interrupted run"), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "the last run stopped part-way"), "out: %s\nerr: %s", sh.r.out, sh.r.err);
	recorded = said_before(" messages it had copied are recorded now");
	cr_assert_eq(recorded, n - 5 - pulled, "%s", sh.r.err);
	assert_twins("INBOX", 310);
}

/* The same for a POP3 import stopped by an error. */
Test(sync_cli, a_pop3_run_after_one_stopped_by_an_error_says_what_it_finds)
{
	write_pop3_config();
	dovecot_seed(sh.d, "INBOX", 600, 2000, 0);
	dovecot_seed(sh.d, "INBOX", 5, 1600, 400000); /* the last one is too big for the disk */
	cr_assert_eq(sync_on_full_disk(), 1, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	sync_ok();
	cr_assert_null(strstr(sh.r.err, "interrupted run"), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "the last run stopped part-way"), "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 605);
}

/* A server that puts every folder below INBOX (namespace prefix
 * "INBOX.", as Courier does): list-folders shows the names without the
 * prefix, and sync takes the server's full spelling too. */
Test(sync_cli, a_namespace_prefix_is_left_out_of_the_names_and_taken_in_arguments)
{
	dovecot_stop(sh.d);
	sh.d = dovecot_start_with("namespace inbox {\n  separator = .\n  prefix = INBOX.\n}\n");
	write_config("    sync:\n      expunge: both\n");
	dovecot_seed(sh.d, "INBOX", 1, 3800, 0);
	dovecot_seed(sh.d, "INBOX.Lists.dev", 2, 3900, 0);
	cr_assert_eq(run_cmd("list-folders", "t"), 0, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "\nLists/dev "), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "\nINBOX "), "%s", sh.r.out);
	cr_assert_eq(run_cmd("sync", "t:INBOX.Lists.dev"), 0, "%s", sh.r.err);
	cr_assert_eq(local_message_count("Lists/dev"), 2, "%s", sh.r.out);
	cr_assert_eq(local_message_count("INBOX"), 0, "only the folder named was synced");
}

/* A dry run while a run holds the account: it says so and reads no
 * half-written state. */
Test(sync_cli, a_dry_run_waits_for_no_run_and_says_one_is_in_progress)
{
	struct state_lock *lock;
	struct error err;

	dovecot_seed(sh.d, "INBOX", 2, 4600, 0);
	sync_ok();
	cr_assert_eq(state_lock_acquire(sh.db, STATE_LOCK_NOWAIT, &lock, &err), 0, "%s", err.text);
	cr_assert_eq(dry_run(false), 75, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert(strstr(sh.r.err, "being synced by process"), "%s", sh.r.err);
	state_lock_release(lock);
	cr_assert_eq(dry_run(false), 0, "%s", sh.r.err);
}
