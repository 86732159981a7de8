/*
 * A resync costs what changed, not what exists, against a real Dovecot.
 * When the server tells its changes (QRESYNC) and the Maildir folder's
 * times are those the last sync recorded, the run reads neither the
 * Maildir folder nor every pair: only the changed messages. Proofs: the
 * -vv line that names the path and counts the pairs loaded, and a
 * Maildir file the state does not know, planted with the directory
 * times put back, which such a run does not see (and a run after a real
 * local change does). What depends on the whole folder stays right: the
 * mass-delete valve counts the whole folder, and a new server message
 * that a local file no pair knows could match is never copied twice.
 * Where only the Maildir changed, the server's messages are not read
 * even without QRESYNC. Right after a run that changed the Maildir, its
 * times prove nothing, but the file names it left (the listing) do; a
 * change by the user at once after that run is still seen, and a killed
 * run leaves no listing behind. A changed folder's local side is read
 * ahead while the run connects (prefetch.c), to the same end. The
 * harness is support/sync_harness.h.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_resync, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* The -vv line of a resync of the changes alone. */
#define ALONE "INBOX: the Maildir folder is unchanged: "
/* ... of a run that read the folder ahead (prefetch.c). */
#define AHEAD "INBOX: read ahead while the server answers: "

/* In the -vv trace: a client line containing `what`. */
static size_t sent(const char *what)
{
	size_t n = 0;

	for (const char *p = sh.r.err; (p = strstr(p, "\nC: ")) != NULL; p++) {
		const char *end = strchr(p + 1, '\n');
		const char *hit = strstr(p, what);
		n += hit && (!end || hit < end);
	}
	return n;
}

static void sync_traced(void)
{
	cr_assert_eq(sync_run_args("-vv"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
}

/* Set the times of INBOX's new/ and cur/ a minute back (so that a sync
 * records them as settled), or to `t` (two per directory). */
static void set_times(const struct timespec t[2][2])
{
	struct timespec old[2];

	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= 60;
	old[1] = old[0];
	for (int k = 0; k < 2; k++) {
		char *sub = xasprintf("%s/%s", sh.mail, k ? "cur" : "new");
		cr_assert_eq(utimensat(AT_FDCWD, sub, t ? t[k] : old, 0), 0, "%s", sub);
		free(sub);
	}
}

static void get_times(struct timespec t_r[2][2])
{
	for (int k = 0; k < 2; k++) {
		char *sub = xasprintf("%s/%s", sh.mail, k ? "cur" : "new");
		struct stat st;
		cr_assert_eq(stat(sub, &st), 0, "%s", sub);
		t_r[k][0] = st.st_atim;
		t_r[k][1] = st.st_mtim;
		free(sub);
	}
}

/* `count` messages seeded from 100 in INBOX, pulled, and a second run
 * that records the settled times of the Maildir folder. */
static void steady(unsigned count)
{
	dovecot_seed(sh.d, "INBOX", count, 100, 0);
	sync_ok();
	set_times(NULL);
	sync_ok();
	assert_nothing_done();
}

/* The INBOX file with Message-ID `id` given the flags `letters`, as a
 * mail reader does. */
static void flag_local(const char *id, const char *letters)
{
	char *path = local_find("INBOX", id);

	free(local_set_flags(path, letters));
	free(path);
}

/* A message file in INBOX's new/ that no sync made, the directory times
 * put back so that the folder still looks as the last sync left it. */
static void plant(const char *name, const char *text)
{
	struct timespec t[2][2];

	get_times(t);
	write_local("INBOX", name, text);
	set_times((const struct timespec(*)[2])t);
}

#define PLANTED "From: a@b.c\nMessage-ID: <planted.1@twinbox.test>\n\nnobody synced me\n"

Test(sync_resync, server_changes_alone_leave_the_maildir_unread)
{
	char *path, *flags = NULL;

	steady(10); /* UID i+1 is <seed.(100+i)> */
	plant("planted.1", PLANTED);
	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Flagged");
	dovecot_flags(sh.d, "INBOX", 5, "add", "\\Seen \\Answered");
	dovecot_expunge(sh.d, "INBOX", 3);

	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, ALONE "not read;"), "not a resync of the changes alone:\n%s",
	                   sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, "(3 pairs loaded)"), "%s", sh.r.err);
	path = local_find("INBOX", "<seed.101@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,F"), "the server's flag is missing: %s", path);
	free(path);
	path = local_find("INBOX", "<seed.104@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,RS"), "the server's flags are missing: %s", path);
	free(path);
	cr_assert(!local_has_id("INBOX", "<seed.102@twinbox.test>"), "the expunged message is still local");
	/* The planted file was not seen: the folder was not read. */
	cr_assert_eq(server_count("INBOX"), 9);
	cr_assert(local_has_id("INBOX", "<planted.1@twinbox.test>"));

	/* A real local change: the next run reads the folder, and finds the
	 * planted message too. */
	flag_local("<seed.105@twinbox.test>", "S");
	sync_traced();
	cr_assert_null(strstr(sh.r.err, ALONE), "the changed Maildir was not read:\n%s", sh.r.err);
	cr_assert_eq(server_count("INBOX"), 10, "%s", sh.r.out);
	server_find("INBOX", "<seed.105@twinbox.test>", &flags);
	cr_assert_not_null(strstr(flags, "\\Seen"), "server flags: %s", flags);
	server_find("INBOX", "<planted.1@twinbox.test>", &flags);
	free(flags);
	assert_twins("INBOX", 10);
}

Test(sync_resync, new_server_mail_alone_is_delivered)
{
	steady(10);
	dovecot_seed(sh.d, "INBOX", 2, 200, 0);
	dovecot_flags(sh.d, "INBOX", 1, "add", "\\Flagged");

	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, ALONE), "not a resync of the changes alone:\n%s", sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, "(1 pairs loaded)"), "%s", sh.r.err);
	cr_assert_not_null(strstr(sh.r.out, "t: INBOX: 2 pulled"), "%s", sh.r.out);
	cr_assert(local_has_id("INBOX", "<seed.200@twinbox.test>") &&
	          local_has_id("INBOX", "<seed.201@twinbox.test>"));
	assert_twins("INBOX", 12);
	cr_assert_eq(state_pair_count("INBOX"), 12);
	sync_ok();
	assert_nothing_done();
}

/* A local file no pair knows, and the same message arriving on the
 * server: a resync of the changes alone could not match them, so it
 * must not be taken; the whole folder is read and they are paired. */
Test(sync_resync, new_server_mail_a_local_file_matches_is_not_copied_twice)
{
	size_t len;
	char *crlf = test_message(300, 0, &len);
	char *lf = lf_of(crlf, len);

	steady(5);
	plant("same.1", lf);
	dovecot_append(sh.d, "INBOX", crlf, len, NULL);

	sync_traced();
	cr_assert_null(strstr(sh.r.err, ALONE), "%s", sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, "the Maildir folder holds messages the state does not pair"),
	                   "%s", sh.r.err);
	assert_twins("INBOX", 6);
	cr_assert_eq(local_message_count("INBOX"), 6);
	free(crlf);
	free(lf);
}

/* The valve counts against the whole folder, not the changes: 22 of 100
 * expunged on the server is below its 25 %, 30 of the 78 left is not. */
Test(sync_resync, the_mass_delete_valve_counts_the_whole_folder)
{
	steady(100);
	for (unsigned uid = 1; uid <= 22; uid++)
		dovecot_expunge(sh.d, "INBOX", uid);
	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, ALONE), "not a resync of the changes alone:\n%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 78, "%s\n%s", sh.r.out, sh.r.err);
	cr_assert_not_null(strstr(sh.r.out, "deleted 22 local"), "%s", sh.r.out);

	sync_ok();
	set_times(NULL);
	sync_ok();
	for (unsigned uid = 23; uid <= 52; uid++)
		dovecot_expunge(sh.d, "INBOX", uid);
	cr_assert_neq(sync_run_args("-vv"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, ALONE), "not a resync of the changes alone:\n%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 78, "the valve let 30 of 78 deletions through");
}

/* Memory and work go with the changes: 10 flag changes and 2 expunges
 * in a folder of 3,000 load 12 pairs. */
Test(sync_resync, pairs_loaded_are_the_changes_alone)
{
	char *path;

	steady(3000);
	for (unsigned i = 0; i < 10; i++)
		dovecot_flags(sh.d, "INBOX", 1 + i * 297, "add", "\\Flagged");
	dovecot_expunge(sh.d, "INBOX", 1500);
	dovecot_expunge(sh.d, "INBOX", 3000);

	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, ALONE "not read; syncing only the 10 messages changed"), "%s",
	                   sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, "(12 pairs loaded)"), "%s", sh.r.err);
	path = local_find("INBOX", "<seed.397@twinbox.test>"); /* UID 298 */
	cr_assert_not_null(strstr(path, ":2,F"), "%s", path);
	free(path);
	cr_assert_eq(local_message_count("INBOX"), 2998);
	cr_assert_eq(state_pair_count("INBOX"), 2998);
}

/* Without QRESYNC the server cannot tell its changes, but its markers
 * (UIDNEXT, count, HIGHESTMODSEQ) tell that there are none: a local
 * change alone reads none of the server's messages. */
Test(sync_resync, a_local_change_alone_reads_no_server_message_without_qresync)
{
	char *flags = NULL;

	dovecot_stop(sh.d);
	sh.d = dovecot_start_with("imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE "
	                          "UIDPLUS LIST-EXTENDED SPECIAL-USE MOVE CHILDREN UNSELECT CONDSTORE");
	write_config("    sync:\n      expunge: both\n");
	dovecot_seed(sh.d, "INBOX", 5, 300, 0);
	sync_ok();
	flag_local("<seed.302@twinbox.test>", "FS");

	sync_traced();
	cr_assert_null(strstr(sh.r.err, "QRESYNC"), "the server still offers QRESYNC:\n%s", sh.r.err);
	cr_assert_eq(sent("UID FETCH"), 0, "the server's messages were read:\n%s", sh.r.err);
	server_find("INBOX", "<seed.302@twinbox.test>", &flags);
	cr_assert(strstr(flags, "\\Seen") && strstr(flags, "\\Flagged"), "server flags: %s", flags);
	free(flags);
	assert_twins("INBOX", 5);
	sync_ok();
	assert_nothing_done();
}

/* A pair that lost its server side (expunge: none keeps the local copy)
 * and the same message put back on the server: a resync of the changes
 * alone loads the pairs without a server side too, and re-pairs the
 * new UID with the local copy instead of copying it down again. */
Test(sync_resync, a_message_put_back_on_the_server_pairs_with_its_local_copy)
{
	size_t len;
	char *crlf = test_message(101, 0, &len); /* UID 2's message */

	write_config("    sync:\n      expunge: none\n");
	steady(5);
	dovecot_expunge(sh.d, "INBOX", 2);
	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, ALONE "not read;"), "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 5, "expunge: none deleted the local copy");

	dovecot_append(sh.d, "INBOX", crlf, len, NULL);
	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, ALONE "its messages counted, none read;"), "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 5, "the message put back was copied again:\n%s", sh.r.out);
	assert_twins("INBOX", 5);
	cr_assert_eq(state_pair_count("INBOX"), 5);
	free(crlf);
}

/* The server flags the message of UID 5 (INBOX holding 11); the next
 * run, whose -vv trace says `said`, syncs the changes alone and pulls
 * the flag. */
static void flag_on_server_alone(const char *said)
{
	char *path;

	dovecot_flags(sh.d, "INBOX", 5, "add", "\\Flagged");
	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, said), "%s", sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, ALONE "not read;"), "not a resync of the changes alone:\n%s",
	                   sh.r.err);
	path = local_find("INBOX", "<seed.104@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,F"), "the server's flag is missing: %s", path);
	free(path);
	assert_twins("INBOX", 11);
}

/* A run that changed the Maildir leaves its directory times too fresh
 * to prove anything, but it records the folder's listing (its file
 * names, kept through its own changes): the next run, however soon,
 * finds the names as that run left them and reads the changes alone. */
Test(sync_resync, a_resync_right_after_one_that_changed_the_maildir_reads_the_changes_alone)
{
	steady(10);
	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Flagged");
	dovecot_seed(sh.d, "INBOX", 1, 200, 0);
	sync_ok();
	cr_assert_not_null(strstr(sh.r.out, "1 pulled"), "%s", sh.r.out);

	flag_on_server_alone("its file names are as the last sync left them");
}

/* The user's flags (seen, flagged) on message `id` and the planted
 * file reached the server; both sides hold the same 11 messages. */
static void assert_pushed(const char *id)
{
	char *flags = NULL;

	server_find("INBOX", id, &flags);
	cr_assert(strstr(flags, "\\Seen") && strstr(flags, "\\Flagged"), "server flags: %s", flags);
	free(flags);
	cr_assert(server_find("INBOX", "<planted.1@twinbox.test>", NULL), "the new file was not pushed");
	assert_twins("INBOX", 11);
}

/* The listing is what proves the folder unchanged, not the times: a
 * flag the user changes at once after a sync (within the same tick of
 * the directory's clock), and a new file dropped in, are both seen. */
Test(sync_resync, a_local_change_right_after_a_sync_is_seen)
{
	steady(10);
	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Flagged");
	sync_ok();
	flag_local("<seed.106@twinbox.test>", "FS");
	write_local("INBOX", "dropped.1", PLANTED);
	dovecot_flags(sh.d, "INBOX", 5, "add", "\\Flagged");

	sync_traced();
	cr_assert_null(strstr(sh.r.err, ALONE), "the changed Maildir was not read:\n%s", sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, "its file names are not as the last sync left them"), "%s",
	                   sh.r.err);
	assert_pushed("<seed.106@twinbox.test>");
}

/* A run killed after it renamed a file and recorded the pair, before it
 * recorded the listing; the user then puts the file back under its old
 * name, which makes the folder's names those the last complete sync
 * left. They must not pass for "as the last sync left them", since the
 * pairs changed since: the run forgot the listing before it changed
 * anything, so the next one reads the folder, and the user's change
 * reaches the server. */
Test(sync_resync, a_killed_run_leaves_no_listing_the_folder_could_return_to)
{
	char *before, *path, *flags = NULL;

	steady(10);
	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Flagged");
	sync_ok();
	before = local_find("INBOX", "<seed.102@twinbox.test>");
	dovecot_flags(sh.d, "INBOX", 3, "add", "\\Flagged");
	setenv("TWINBOX_TEST_CRASH_AT", "pair updates recorded", 1);
	sync_run_args(NULL);
	unsetenv("TWINBOX_TEST_CRASH_AT");
	cr_assert_eq(sh.r.status, 86, "the run should be killed: %d %s", sh.r.status, sh.r.err);
	path = local_find("INBOX", "<seed.102@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,F"), "the killed run did not rename: %s", path);
	/* Back under its very name of before (new/, no flags). */
	cr_assert_eq(rename(path, before), 0, "%s -> %s", path, before);
	free(before);
	free(path);
	dovecot_flags(sh.d, "INBOX", 7, "add", "\\Flagged");

	sync_traced();
	cr_assert_null(strstr(sh.r.err, ALONE), "the changed Maildir was not read:\n%s", sh.r.err);
	server_find("INBOX", "<seed.102@twinbox.test>", &flags);
	cr_assert_null(strstr(flags, "\\Flagged"), "the user's cleared flag did not reach the server: %s",
	               flags);
	free(flags);
	assert_twins("INBOX", 10);
}

/* Where the Maildir folder changed, it is read, but the plan is made
 * over what changed on either side: the files that came, went or got
 * other flags, and the UIDs the server named; the other pairs are left
 * out (and no message of the server is read). */
Test(sync_resync, a_maildir_change_plans_over_what_changed_alone)
{
	char *path, *flags = NULL;

	steady(10);
	flag_local("<seed.101@twinbox.test>", "FS");
	flag_local("<seed.102@twinbox.test>", "R");
	path = local_find("INBOX", "<seed.103@twinbox.test>");
	cr_assert_eq(unlink(path), 0, "%s", path);
	free(path);
	write_local("INBOX", "dropped.1", PLANTED);
	dovecot_flags(sh.d, "INBOX", 9, "add", "\\Flagged");

	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, "INBOX: syncing only what changed: in the Maildir folder 1 new "
	                                    "files, 2 with other flags, 1 gone; on the server 1 messages"),
	                   "%s", sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, "(4 pairs kept of 10)"), "%s", sh.r.err);
	cr_assert_eq(sent("BODY"), 0, "a server message was read:\n%s", sh.r.err);
	server_find("INBOX", "<seed.101@twinbox.test>", &flags);
	cr_assert(strstr(flags, "\\Seen") && strstr(flags, "\\Flagged"), "server flags: %s", flags);
	server_find("INBOX", "<seed.102@twinbox.test>", &flags);
	cr_assert(strstr(flags, "\\Answered") && !strstr(flags, "\\Seen"), "server flags: %s", flags);
	free(flags);
	path = local_find("INBOX", "<seed.108@twinbox.test>");
	cr_assert_not_null(strstr(path, ":2,F"), "the server's flag is missing: %s", path);
	free(path);
	cr_assert(server_find("INBOX", "<planted.1@twinbox.test>", NULL));
	assert_twins("INBOX", 10);
	sync_ok();
	assert_nothing_done();
}

/* After a sync that left the folder as it found it (its settled times
 * recorded), other times mean another program changed it: the folder
 * is read once, for the plan, without first comparing its names. */
Test(sync_resync, a_change_after_a_settled_sync_reads_the_folder_once)
{
	char *flags = NULL;

	steady(10);
	flag_local("<seed.104@twinbox.test>", "FS");
	sync_traced();
	cr_assert_not_null(
	    strstr(sh.r.err, "INBOX: the Maildir folder changed since the last sync (its times)"), "%s",
	    sh.r.err);
	cr_assert_null(strstr(sh.r.err, "its file names are"), "the names were compared:\n%s", sh.r.err);
	server_find("INBOX", "<seed.104@twinbox.test>", &flags);
	cr_assert(strstr(flags, "\\Flagged"), "server flags: %s", flags);
	free(flags);
	assert_twins("INBOX", 10);
}

/* While the server is connected to and listed, the local side of a
 * changed folder is read ahead (prefetch.c): read whole with its pairs
 * after a change by the user, its listing alone right after a run that
 * changed it. Each run does what a run that read the folder itself does. */
Test(sync_resync, a_changed_maildir_folder_is_read_ahead)
{
	steady(10);
	flag_local("<seed.103@twinbox.test>", "FS");
	write_local("INBOX", "dropped.1", PLANTED);
	sync_traced();
	cr_assert_not_null(strstr(sh.r.err, AHEAD "the Maildir folder read whole and its pairs loaded"), "%s",
	                   sh.r.err);
	assert_pushed("<seed.103@twinbox.test>");
	cr_assert_eq(state_pair_count("INBOX"), 11);

	flag_on_server_alone(AHEAD "its listing read");
	sync_ok();
	assert_nothing_done();
}
