/*
 * A server that says "not now" (RFC 5530 [UNAVAILABLE], a BYE in the
 * middle of a session), end to end: `twinbox sync` against a real
 * Dovecot behind the fault-injecting proxy of support/fake_server.h,
 * with the back-off shortened (TWINBOX_TEST_BACKOFF_MS). A run whose
 * server recovers succeeds with everything synced once, nothing lost or
 * copied twice, after as many waits as failures; a run whose server
 * never recovers gives up after the bounded retries with a non-zero
 * exit and says why. The harness is support/sync_harness.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/fake_server.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

static struct fake_server fs;

static void setup(void)
{
	sync_harness_setup();
	setenv("TWINBOX_TEST_BACKOFF_MS", "20", 1);
}

static void teardown(void)
{
	fake_server_reset(&fs);
	unsetenv("TWINBOX_TEST_BACKOFF_MS");
	sync_harness_teardown();
}

TestSuite(sync_busy, .init = setup, .fini = teardown, .timeout = 300);

/* Start the proxy in front of the harness's Dovecot with `faults` (and
 * the limit of connections set in fs.connections, if any), and point
 * the account at it (plain text: the proxy reads the commands). */
static void start_proxy(const struct fake_fault *faults)
{
	char *text;
	struct error err;

	unsigned limit = fs.connections;

	fake_server_reset(&fs);
	fs.connections = (int)limit;
	fs.backend_port = sh.d->imap_port;
	fs.faults = faults;
	fake_server_start(&fs);
	text = xasprintf("state_dir: %s/state\n"
	                 "accounts:\n"
	                 "  t:\n"
	                 "    imap:\n"
	                 "      host: 127.0.0.1\n"
	                 "      port: %u\n"
	                 "      tls: none\n"
	                 "      user: %s\n"
	                 "      password: \"%s\"\n"
	                 "      timeout: 20s\n"
	                 "    maildir:\n"
	                 "      path: %s\n"
	                 "    sync:\n"
	                 "      expunge: both\n",
	                 sh.dir, fs.port, sh.d->user, sh.d->password, sh.mail);
	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
}

static unsigned accepted(void)
{
	unsigned n;

	pthread_mutex_lock(&fs.lock);
	n = fs.accepted;
	pthread_mutex_unlock(&fs.lock);
	return n;
}

/* How many lines of the run's standard error hold `text`. */
static size_t err_lines(const char *text)
{
	size_t n = 0;

	for (const char *p = sh.r.err; (p = strstr(p, text)) != NULL; p++)
		n++;
	return n;
}

static void seed(void)
{
	dovecot_seed(sh.d, "INBOX", 12, 100, 0);
	dovecot_seed(sh.d, "Work", 5, 200, 3000);
}

/* Both folders synced once each: the Maildir has each server message
 * once, the state a pair for each, the server no more than it had. */
static void assert_synced(void)
{
	assert_twins("INBOX", 12);
	assert_twins("Work", 5);
	cr_assert_eq(state_pair_count("INBOX"), 12);
	cr_assert_eq(state_pair_count("Work"), 5);
}

/* The proxy with no faults from now on. */
static void heal(void)
{
	pthread_mutex_lock(&fs.lock);
	fs.faults = NULL;
	pthread_mutex_unlock(&fs.lock);
}

/* A second run, with the server well, finds nothing to do. */
static void assert_second_run_idle(void)
{
	heal();
	sync_ok();
	assert_nothing_done();
	assert_synced();
}

Test(sync_busy, a_folder_the_server_refuses_twice_is_synced_on_the_third_try)
{
	static const struct fake_fault faults[] = {
	    {"SELECT \"INBOX\"", "$T NO [UNAVAILABLE] Busy \x1b[31mnow\r\n", false, 2},
	    {NULL, NULL, false, 0},
	};

	seed();
	start_proxy(faults);
	cr_assert_eq(sync_run_args(NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	/* Two waits, the second twice the first, each said once. */
	cr_assert_eq(err_lines("retrying in"), 2, "%s", sh.r.err);
	cr_assert_eq(err_lines("INBOX: SELECT \"INBOX\""), 2, "%s", sh.r.err);
	cr_assert_eq(err_lines("NO [UNAVAILABLE] Busy \\x1b[31mnow; retrying in 20 ms (retry 1 of 6)"), 1,
	             "%s", sh.r.err);
	cr_assert_eq(err_lines("; retrying in 40 ms (retry 2 of 6)"), 1, "%s", sh.r.err);
	cr_assert_null(strchr(sh.r.err, '\x1b'), "%s", sh.r.err);
	cr_assert_eq(fake_server_heard(&fs, "SELECT \"INBOX\""), 3);
	assert_synced();
	assert_second_run_idle();
}

Test(sync_busy, a_bye_in_the_middle_of_a_download_reconnects_and_goes_on)
{
	static const struct fake_fault faults[] = {
	    {"BODY.PEEK[]", "* BYE Server shutting down\r\n", true, 1},
	    {NULL, NULL, false, 0},
	};

	seed();
	start_proxy(faults);
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "sync", "--jobs=1", "--json"), 120, &sh.r);
	cr_assert_eq(sh.r.status, 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(err_lines("closed the connection: BYE Server shutting down; retrying in 20 ms (retry 1 "
	                       "of 6)"),
	             1, "%s", sh.r.err);
	/* The event stream tells the second try of the folder. */
	cr_assert(
	    strstr(sh.r.out, "\"event\":\"note\",\"account\":\"t\",\"folder\":\"INBOX\",\"note\":\"retry\""),
	    "%s", sh.r.out);
	cr_assert_eq(err_lines("retrying in"), 1, "%s", sh.r.err);
	cr_assert_eq(accepted(), 2, "connections: %u", accepted());
	assert_synced();
	assert_second_run_idle();
}

Test(sync_busy, a_bye_to_the_folder_list_makes_the_run_start_again)
{
	static const struct fake_fault faults[] = {
	    {" LIST ", "* BYE Server shutting down\r\n", true, 1},
	    {NULL, NULL, false, 0},
	};

	seed();
	start_proxy(faults);
	cr_assert_eq(sync_run_args(NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(err_lines("listing the remote folders: "), 1, "%s", sh.r.err);
	cr_assert_eq(err_lines("closed the connection: BYE Server shutting down; retrying in 20 ms (retry 1 "
	                       "of 6)"),
	             1, "%s", sh.r.err);
	/* The run's connection, the one made again, a worker's. */
	cr_assert_eq(accepted(), 3);
	assert_synced();
	assert_second_run_idle();
}

Test(sync_busy, an_upload_the_server_refuses_is_made_once_on_the_next_try)
{
	static const struct fake_fault faults[] = {
	    {"APPEND", "$T NO [UNAVAILABLE] Throttled\r\n", false, 1},
	    {NULL, NULL, false, 0},
	};

	seed();
	start_proxy(faults);
	sync_ok(); /* the Maildir gets both folders */
	for (int i = 0; i < 6; i++) {
		char name[32], text[200];
		snprintf(name, sizeof(name), "local%d", i);
		snprintf(text, sizeof(text),
		         "From: a@example.com\nSubject: up %d\nMessage-ID: <up.%d@twinbox.test>\n\nbody %d\n",
		         i, i, i);
		write_local(i % 2 ? "Work" : "INBOX", name, text);
	}
	cr_assert_eq(sync_run_args(NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(err_lines("NO [UNAVAILABLE] Throttled; retrying in 20 ms (retry 1 of 6)"), 1, "%s",
	             sh.r.err);
	cr_assert_eq(err_lines("retrying in"), 1, "%s", sh.r.err);
	assert_twins("INBOX", 15);
	assert_twins("Work", 8);
	for (int i = 0; i < 6; i++) {
		char id[64];
		snprintf(id, sizeof(id), "<up.%d@twinbox.test>", i);
		server_find(i % 2 ? "Work" : "INBOX", id, NULL);
	}
	heal();
	sync_ok();
	assert_nothing_done();
	assert_twins("INBOX", 15);
	assert_twins("Work", 8);
}

Test(sync_busy, a_login_refused_for_now_is_tried_again)
{
	static const struct fake_fault faults[] = {
	    {"AUTHENTICATE", "$T NO [UNAVAILABLE] Auth backend down\r\n", false, 1},
	    {"LOGIN", "$T NO [UNAVAILABLE] Auth backend down\r\n", false, 1},
	    {NULL, NULL, false, 0},
	};

	seed();
	start_proxy(faults);
	cr_assert_eq(sync_run_args(NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(err_lines("authentication at 127.0.0.1:"), 1, "%s", sh.r.err);
	cr_assert_eq(err_lines("retrying in 20 ms (retry 1 of 6)"), 1, "%s", sh.r.err);
	assert_synced();
}

Test(sync_busy, a_server_that_stays_busy_is_given_up_on_and_the_run_says_so)
{
	static const struct fake_fault faults[] = {
	    {"SELECT \"INBOX\"", "$T NO [UNAVAILABLE] Try later\r\n", false, 0},
	    {NULL, NULL, false, 0},
	};

	seed();
	start_proxy(faults);
	cr_assert_eq(sync_run_args(NULL), 1, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	/* Six waits (20 ms doubled each time), then the end: 7 tries. */
	cr_assert_eq(err_lines("retrying in"), 6, "%s", sh.r.err);
	cr_assert_eq(err_lines("; retrying in 640 ms (retry 6 of 6)"), 1, "%s", sh.r.err);
	cr_assert_eq(fake_server_heard(&fs, "SELECT \"INBOX\""), 7);
	cr_assert_eq(
	    err_lines("NO [UNAVAILABLE] Try later; gave up after 6 retries: run twinbox again later"), 1,
	    "%s", sh.r.err);
	cr_assert_eq(err_lines("run twinbox again later"), 1, "%s", sh.r.err);
	/* The other folder is synced all the same. */
	assert_twins("Work", 5);
	cr_assert_eq(local_message_count("INBOX"), 0);
}

Test(sync_busy, a_login_that_never_succeeds_fails_the_run_after_the_retries)
{
	static const struct fake_fault faults[] = {
	    {"AUTHENTICATE", "$T NO [UNAVAILABLE] Auth backend down\r\n", false, 0},
	    {"LOGIN", "$T NO [UNAVAILABLE] Auth backend down\r\n", false, 0},
	    {NULL, NULL, false, 0},
	};

	seed();
	start_proxy(faults);
	cr_assert_eq(sync_run_args(NULL), 2, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(err_lines("retrying in"), 6, "%s", sh.r.err);
	cr_assert_eq(accepted(), 7, "connections: %u", accepted());
	cr_assert_eq(err_lines("gave up after 6 retries"), 1, "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 0);
}

/* Folders for the parallel runs: INBOX large enough to keep the run's
 * own thread busy (it starts with the largest) while the workers take
 * the others. */
static const struct {
	const char *name;
	unsigned count;
} several[] = {{"INBOX", 300}, {"Archive", 20}, {"Work", 20}, {"Lists", 20}};
#define N_SEVERAL (sizeof(several) / sizeof(several[0]))

static void seed_several(void)
{
	for (size_t i = 0; i < N_SEVERAL; i++)
		dovecot_seed(sh.d, several[i].name, several[i].count, (unsigned)(i + 1) * 1000u, 0);
}

static void assert_several_synced(void)
{
	for (size_t i = 0; i < N_SEVERAL; i++) {
		assert_twins(several[i].name, several[i].count);
		cr_assert_eq(state_pair_count(several[i].name), several[i].count, "%s", several[i].name);
	}
}

Test(sync_busy, byes_to_parallel_connections_make_no_storm)
{
	static const struct fake_fault faults[] = {
	    {"SELECT", "* BYE Server restarting\r\n", true, 4},
	    {NULL, NULL, false, 0},
	};
	size_t waits;

	seed_several();
	start_proxy(faults);
	cr_assert_eq(sync_run_args("--jobs=4"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	/* Each thread's first folder meets a BYE: four sessions end at
	 * about the same time, and each folder is synced again on a new one;
	 * a failure during another's wait joins it, without a wait (or a
	 * line) of its own. */
	waits = err_lines("retrying in");
	cr_assert(waits >= 1 && waits <= 4, "%s", sh.r.err);
	cr_assert_eq(err_lines("BYE Server restarting"), waits, "%s", sh.r.err);
	cr_assert_geq(accepted(), 5);
	cr_assert_null(strstr(sh.r.err, "gave up"), "%s", sh.r.err);
	assert_several_synced();
	heal();
	sync_ok();
	assert_nothing_done();
	assert_several_synced();
}

Test(sync_busy, a_worker_that_cannot_connect_again_leaves_its_folder_to_the_others)
{
	static const struct fake_fault faults[] = {
	    {"SELECT \"Work\"", "* BYE Server restarting\r\n", true, 1},
	    {NULL, NULL, false, 0},
	};

	seed_several();
	/* The run's connection and three workers'; a fifth is refused. */
	fs.connections = 4;
	start_proxy(faults);
	cr_assert_eq(sync_run_args("--jobs=4"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_eq(accepted(), 4);
	cr_assert_eq(err_lines("Work: SELECT \"Work\": 127.0.0.1:"), 1, "%s", sh.r.err);
	cr_assert_eq(err_lines("going on with fewer connections for parallel folders"), 1, "%s", sh.r.err);
	cr_assert_eq(fake_server_heard(&fs, "SELECT \"Work\""), 2);
	assert_several_synced();
}
