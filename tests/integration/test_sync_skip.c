/*
 * Skipping unchanged folders against a real Dovecot: after a sync that
 * changed nothing, a run opens no folder whose server STATUS (UIDVALIDITY,
 * UIDNEXT, MESSAGES, HIGHESTMODSEQ) and Maildir times (new/, cur/) are
 * those the state recorded, and every kind of change on either side, a
 * change of rules and an intent left by a killed run still make the
 * folder synced. The harness is support/sync_harness.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_skip, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

static const char *const folders[] = {"INBOX", "Archive", "Lists"};
#define N_FOLDERS 3

/* Make the Maildir folder (NULL: every folder) look as if nothing touched
 * it for a minute: the times a sync records must be "settled" (older than
 * a change could hide in). */
static void age_maildir(const char *only)
{
	struct timespec old[2];

	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= 60;
	old[1] = old[0];
	for (size_t i = 0; i < N_FOLDERS; i++) {
		if (only && strcmp(only, folders[i]) != 0)
			continue;
		char *dir = folder_dir(folders[i]);
		for (int k = 0; k < 2; k++) {
			char *sub = xasprintf("%s/%s", dir, k ? "cur" : "new");
			cr_assert(utimensat(AT_FDCWD, sub, old, 0) == 0 || (!only && errno == ENOENT), "%s",
			          sub);
			free(sub);
		}
		free(dir);
	}
}

/* Run `sync -v`, expecting success; returns how many folders it
 * SELECTed (from the -vv trace). */
static size_t selects(const char *expect_selected)
{
	size_t n = 0;

	cr_assert_eq(sync_run_args("-vv"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	/* The trace's client lines: "C: A6 SELECT "Archive"". */
	for (const char *p = sh.r.err; (p = strstr(p, "\nC: ")) != NULL; p++) {
		const char *end = strchr(p + 1, '\n');
		const char *sel = strstr(p, " SELECT \"");
		n += sel && (!end || sel < end);
	}
	if (expect_selected) {
		char *sel = xasprintf(" SELECT \"%s\"\n", expect_selected);
		cr_assert_not_null(strstr(sh.r.err, sel), "%s was not opened; stderr:\n%s", expect_selected,
		                   sh.r.err);
		free(sel);
	}
	return n;
}

static void sync_to_steady_state(void)
{
	for (size_t i = 0; i < N_FOLDERS; i++)
		dovecot_seed(sh.d, folders[i], 5, (unsigned)(i + 1) * 100u, 0);
	sync_ok();
	/* The pull changed the Maildir: this run looks at everything again
	 * and records settled times. */
	age_maildir(NULL);
	{
		size_t n = selects(NULL);
		cr_assert_eq(n, N_FOLDERS, "%zu selects; stderr:\n%s", n, sh.r.err);
	}
	assert_nothing_done();
}

Test(sync_skip, a_run_after_a_quiet_one_opens_no_folder)
{
	sync_to_steady_state();
	cr_assert_eq(selects(NULL), 0, "stderr: %s", sh.r.err);
	assert_nothing_done();
	for (size_t i = 0; i < N_FOLDERS; i++) {
		char *line = xasprintf("%s: unchanged on both sides since the last sync", folders[i]);
		cr_assert_not_null(strstr(sh.r.err, line), "no \"%s\" in:\n%s", line, sh.r.err);
		free(line);
	}
}

/* After a run that changed `folder`: one more run looks at it again (its
 * markers are "not known"), then none opens anything. */
static void settle(const char *folder)
{
	size_t n;

	age_maildir(folder);
	n = selects(folder);
	cr_assert_eq(n, 1, "%zu folders opened; stderr:\n%s", n, sh.r.err);
	assert_nothing_done();
	n = selects(NULL);
	cr_assert_eq(n, 0, "%zu folders opened; stderr:\n%s", n, sh.r.err);
}

Test(sync_skip, each_kind_of_change_still_syncs_its_folder)
{
	char *path, *moved, *flags = NULL;
	size_t n;

	sync_to_steady_state();

	/* A flag set on the server: only that folder is opened. */
	dovecot_flags(sh.d, "Archive", 2, "add", "\\Flagged");
	cr_assert_eq(selects("Archive"), 1, "stderr: %s", sh.r.err);
	path = local_find("Archive", "<seed.201@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,F"), "%s", path);
	free(path);
	settle("Archive");

	/* A message read in the Maildir. */
	path = local_find("Lists", "<seed.302@twinbox.test>");
	moved = local_set_flags(path, "S");
	cr_assert_eq(selects("Lists"), 1, "stderr: %s", sh.r.err);
	server_find("Lists", "<seed.302@twinbox.test>", &flags);
	cr_assert_not_null(strstr(flags, "\\Seen"), "server flags: %s", flags);
	free(flags);
	free(path);
	free(moved);
	settle("Lists");

	/* New mail on the server, and a message expunged there. */
	dovecot_seed(sh.d, "INBOX", 1, 900, 0);
	dovecot_expunge(sh.d, "Archive", 1);
	n = selects(NULL);
	cr_assert_eq(n, 2, "%zu; stderr: %s", n, sh.r.err);
	cr_assert_not_null(strstr(sh.r.out, "t: INBOX: 1 pulled"), "%s", sh.r.out);
	cr_assert_not_null(strstr(sh.r.out, "t: Archive: 0 pulled, 0 pushed, flags 0 local / 0 remote, "
	                                    "deleted 1 local"),
	                   "%s", sh.r.out);
	assert_twins("INBOX", 6);
	assert_twins("Archive", 4);
	age_maildir("INBOX");
	age_maildir("Archive");
	n = selects(NULL);
	cr_assert_eq(n, 2, "%zu; stderr: %s", n, sh.r.err);
	cr_assert_eq(selects(NULL), 0);

	/* A new message in the Maildir. */
	write_local("Lists", "new.1", "From: a@b.c\nMessage-ID: <new.1@twinbox.test>\n\nhi\n");
	cr_assert_eq(selects("Lists"), 1, "stderr: %s", sh.r.err);
	assert_twins("Lists", 6);
}

/* Two folders: a run of one opens it anyway (one_folder_is_listed_
 * without_status); the rules are each folder's, so both are looked at
 * again. */
Test(sync_skip, a_change_of_rules_looks_again)
{
	char *cfg = xstrdup("    sync:\n      expunge: both\n      max_size: 10KB\n");

	size_t len;
	char *big = test_message(200, 50000, &len); /* over max_size */

	dovecot_seed(sh.d, "Archive", 2, 300, 0);
	dovecot_seed(sh.d, "INBOX", 3, 100, 0);
	dovecot_append(sh.d, "INBOX", big, len, NULL);
	free(big);
	write_config(cfg);
	sync_ok();
	cr_assert_eq(server_count("INBOX"), 4);
	{
		struct local_msg *m;
		size_t n = local_list("INBOX", &m);
		local_free(m, n);
		cr_assert_eq(n, 3, "max_size kept the large message on the server: %zu\n%s\n%s", n, sh.r.out,
		             sh.r.err);
	}
	age_maildir(NULL);
	sync_ok();
	cr_assert_eq(selects(NULL), 0, "steady: %s", sh.r.err);

	/* Without the limit, the same unchanged folder now has work. */
	write_config("    sync:\n      expunge: both\n");
	cr_assert_eq(selects("INBOX"), 2, "stderr: %s", sh.r.err);
	assert_twins("INBOX", 4);
	free(cfg);
}

Test(sync_skip, an_intent_left_by_a_killed_run_opens_the_folder)
{
	struct state *st;
	struct state_folder f;
	struct state_intent in = {
	    .kind = STATE_INTENT_COPY, .side = SIDE_B, .msg = {{3, NULL}, {0, "gone.1"}}};
	struct state_intents set;
	struct error err;
	int64_t id;

	sync_to_steady_state();
	cr_assert_eq(state_open(sh.db, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_find_remote(st, "Lists", &f, &err), 1);
	in.folder_id = f.id;
	cr_assert_eq(state_intent_add(st, &in, &id, &err), 0, "%s", err.text);
	state_close(st);

	cr_assert_eq(selects("Lists"), 1, "stderr: %s", sh.r.err);
	assert_nothing_done();
	cr_assert_eq(state_open(sh.db, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_intent_list(st, f.id, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 0, "the intent was reconciled");
	state_intents_free(&set);
	state_folder_clear(&f);
	state_close(st);
}

/* Without aging anything: a run a fraction of a second after the pull
 * looks at every folder once (the pull changed them) and records their
 * times, which a filesystem with sub-second times lets it trust at once;
 * the run after that opens nothing. */
Test(sync_skip, a_run_right_after_a_sync_opens_no_folder)
{
	struct timespec pause = {0, 200000000};
	size_t n;

	for (size_t i = 0; i < N_FOLDERS; i++)
		dovecot_seed(sh.d, folders[i], 5, (unsigned)(i + 1) * 100u, 0);
	sync_ok();
	nanosleep(&pause, NULL);
	n = selects(NULL);
	cr_assert_eq(n, N_FOLDERS, "%zu selects; stderr:\n%s", n, sh.r.err);
	assert_nothing_done();
	n = selects(NULL);
	cr_assert_eq(n, 0, "%zu folders opened right after a quiet run; stderr:\n%s", n, sh.r.err);
	assert_nothing_done();
}

/* Whether the last run's folder list (its -vv trace) asked each
 * folder's STATUS. */
static bool listed_with_status(void)
{
	const char *p = strstr(sh.r.err, " LIST \"\" ");
	const char *end = p ? strchr(p, '\n') : NULL;
	const char *status = p ? strstr(p, "STATUS (") : NULL;

	cr_assert_not_null(p, "no LIST in the trace:\n%s", sh.r.err);
	return status && (!end || status < end);
}

/* The folder list asks each folder's STATUS unless the state knows one
 * folder of the run only: a run of one folder opens it whenever
 * anything changed, and then the STATUS makes the server read it twice.
 * With one folder, a run with nothing to do still does nothing and a
 * server change still reaches the Maildir; with two, an unchanged
 * folder is not opened. */
Test(sync_skip, one_folder_is_listed_without_status)
{
	char *path;
	size_t n;

	dovecot_seed(sh.d, "INBOX", 5, 100, 0);
	sync_ok();
	n = selects("INBOX");
	cr_assert_not(listed_with_status(), "%s", sh.r.err);
	cr_assert_eq(n, 1, "%zu selects", n);
	assert_nothing_done();

	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Flagged");
	cr_assert_eq(selects("INBOX"), 1);
	cr_assert_not(listed_with_status(), "%s", sh.r.err);
	path = local_find("INBOX", "<seed.101@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,F"), "the server's flag is missing: %s", path);
	free(path);
	assert_twins("INBOX", 5);

	dovecot_seed(sh.d, "Archive", 3, 200, 0);
	sync_ok();
	age_maildir(NULL);
	sync_ok();
	n = selects(NULL);
	cr_assert(listed_with_status(), "%s", sh.r.err);
	cr_assert_eq(n, 0, "%zu folders opened with nothing changed; stderr:\n%s", n, sh.r.err);
	assert_nothing_done();
}
