/*
 * `twinbox watch` on more than INBOX, against a real Dovecot: IDLE on
 * the folders `watch: folders` names (a Dovecot without NOTIFY, as
 * `mailbox_list_index = no` makes it), STATUS polling of the folders
 * beyond `watch: connections`, NOTIFY over one connection for every
 * folder where Dovecot offers it (its default), a POP3 account looked
 * at every `watch: poll`, and an account of two servers watched on
 * both. Each delivery must arrive well before the full sync (an hour
 * away); the connections the watcher holds are counted on the server.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/sync_harness.h"
#include "support/two_servers.h"
#include "support/watch_run.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define NO_NOTIFY_CONF "mailbox_list_index = no\n"

static void plain_setup(void)
{
	sync_harness_setup();
}

static void no_notify_setup(void)
{
	sync_harness_setup_with(NO_NOTIFY_CONF);
}

TestSuite(watch_folders, .fini = sync_harness_teardown, .timeout = 180);

static void write_text(const char *text)
{
	struct error err;

	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
}

/* The harness's account "t" with `watch` (lines under "    watch:\n",
 * or NULL for none). */
static void watch_config(const char *watch)
{
	char *more = watch ? xasprintf("    watch:\n%s", watch) : NULL;

	watch_write_config(NULL, "10s", more);
	free(more);
}

static long long wait_local(const char *folder, size_t n, long long ms, const char *what)
{
	return watch_wait_local(folder, n, ms, what);
}

static pid_t start(const char *ready)
{
	pid_t pid = watch_start(NULL, (const char *const[]){"-v", NULL});

	cr_assert(watch_wait_log("watching 1 account", 1, 30000), "the watcher did not start:\n%s",
	          watch_log());
	cr_assert(watch_wait_log(ready, 1, 10000), "no \"%s\":\n%s", ready, watch_log());
	return pid;
}

static void stop(pid_t pid)
{
	int status = watch_stop(pid, 30000);

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "watch ended with %#x:\n%s", status,
	          watch_log());
}

/* The IMAP sessions the watcher holds once its syncs are over (each
 * sync logs out), counted on the server. */
static size_t sessions(size_t expect)
{
	pid_t pids[16];
	size_t n = 0;

	for (int i = 0; i < 100 && (n = dovecot_imap_pids(sh.d, pids, 16)) != expect; i++)
		usleep(50 * 1000);
	return n;
}

Test(watch_folders, idle_on_a_listed_folder, .init = no_notify_setup)
{
	pid_t pid;
	long long t;

	dovecot_seed(sh.d, "Lists/dev", 1, 100, 0);
	dovecot_seed(sh.d, "Work", 1, 200, 0);
	watch_config("      folders: [\"Lists/*\"]\n      poll: 1h\n");
	pid = start("watching Lists/dev with IDLE");
	cr_assert(watch_wait_log("watching INBOX with IDLE", 1, 10000), "%s", watch_log());
	cr_assert_eq(watch_log_count("NOTIFY"), 0, "this Dovecot offers no NOTIFY:\n%s", watch_log());
	wait_local("Lists/dev", 1, 5000, "the first full sync");
	cr_assert_eq(sessions(2), 2, "INBOX and Lists/dev: one IDLE session each");

	dovecot_seed(sh.d, "Lists/dev", 1, 110, 0);
	t = wait_local("Lists/dev", 2, 5000, "a delivery to a folder watched with IDLE");
	cr_assert_lt(t, 3000);
	/* Work has no IDLE and the next poll is an hour away. */
	dovecot_seed(sh.d, "Work", 1, 210, 0);
	usleep(2000 * 1000);
	cr_assert_eq(local_message_count("Work"), 1, "Work was synced without a reason");

	stop(pid);
	assert_twins("Lists/dev", 2);
}

Test(watch_folders, folders_beyond_the_budget_are_polled, .init = no_notify_setup)
{
	pid_t pid;

	dovecot_seed(sh.d, "Work", 1, 200, 0);
	watch_config("      connections: 1\n      poll: 10s\n");
	pid = start("watching INBOX with IDLE");
	wait_local("Work", 1, 5000, "the first full sync");
	cr_assert_eq(sessions(1), 1, "one IDLE session, on INBOX");

	dovecot_seed(sh.d, "Work", 2, 210, 0);
	wait_local("Work", 3, 20000, "a delivery to a polled folder");
	cr_assert_geq(watch_log_count("Work changed (STATUS)"), 1, "%s", watch_log());
	/* A flag set on the server moves HIGHESTMODSEQ: polled too. */
	dovecot_flags(sh.d, "Work", 1, "add", "\\Flagged");
	cr_assert(watch_wait_log("Work changed (STATUS)", 2, 20000), "%s", watch_log());

	stop(pid);
	assert_twins("Work", 3);
}

Test(watch_folders, notify_watches_every_folder_over_one_connection, .init = plain_setup)
{
	pid_t pid;

	dovecot_seed(sh.d, "Lists/dev", 1, 100, 0);
	dovecot_seed(sh.d, "Work", 1, 200, 0);
	watch_config(NULL);
	pid = start("watching every folder with NOTIFY");
	wait_local("Work", 1, 5000, "the first full sync");
	cr_assert_eq(sessions(1), 1, "NOTIFY needs one session for every folder");

	dovecot_seed(sh.d, "Work", 1, 210, 0);
	wait_local("Work", 2, 5000, "a delivery to Work");
	dovecot_seed(sh.d, "Lists/dev", 1, 110, 0);
	wait_local("Lists/dev", 2, 5000, "a delivery to Lists/dev");
	dovecot_seed(sh.d, "INBOX", 1, 300, 0);
	wait_local("INBOX", 1, 5000, "a delivery to INBOX");
	/* A folder made on the server is made here, with its mail. */
	dovecot_seed(sh.d, "Projects", 1, 400, 0);
	wait_local("Projects", 1, 5000, "a folder made on the server");
	cr_assert_eq(sessions(1), 1, "still one session");

	stop(pid);
	assert_twins("Work", 2);
	assert_twins("Lists/dev", 2);
	assert_twins("Projects", 1);
}

Test(watch_folders, notify_false_idles_instead, .init = plain_setup)
{
	pid_t pid;

	watch_config("      notify: false\n      folders: [Work]\n");
	dovecot_seed(sh.d, "Work", 1, 200, 0);
	pid = start("watching Work with IDLE");
	cr_assert_eq(watch_log_count("NOTIFY"), 0, "%s", watch_log());
	wait_local("Work", 1, 5000, "the first full sync");
	dovecot_seed(sh.d, "Work", 1, 210, 0);
	wait_local("Work", 2, 5000, "a delivery to Work");
	stop(pid);
	assert_twins("Work", 2);
}

Test(watch_folders, a_pop3_account_is_looked_at_every_poll, .init = plain_setup)
{
	char *text = xasprintf("state_dir: %s/state\n"
	                       "accounts:\n"
	                       "  t:\n"
	                       "    pop3:\n"
	                       "      host: localhost\n"
	                       "      port: %u\n"
	                       "      user: %s\n"
	                       "      password: \"%s\"\n"
	                       "      ca_file: \"%s\"\n"
	                       "    maildir:\n"
	                       "      path: %s\n"
	                       "    watch:\n"
	                       "      poll: 10s\n",
	                       sh.dir, sh.d->pop3s_port, sh.d->user, sh.d->password, sh.d->ca_file, sh.mail);
	pid_t pid;

	write_text(text);
	free(text);
	dovecot_seed(sh.d, "INBOX", 2, 100, 0);
	pid = start("the POP3 server is looked at every 10 s");
	wait_local("INBOX", 2, 5000, "the first import");
	dovecot_seed(sh.d, "INBOX", 1, 110, 0);
	wait_local("INBOX", 3, 20000, "new mail on the POP3 server");
	stop(pid);
}

Test(watch_folders, both_servers_of_a_migration_are_watched, .init = plain_setup)
{
	struct dovecot *target = dovecot_start();
	char *text = xasprintf("state_dir: %s/state\n"
	                       "accounts:\n"
	                       "  t:\n"
	                       "    source:\n"
	                       "      imap: {host: 127.0.0.1, port: %u, user: %s, password: \"%s\", "
	                       "ca_file: \"%s\"}\n"
	                       "    target:\n"
	                       "      imap: {host: 127.0.0.1, port: %u, user: %s, password: \"%s\", "
	                       "ca_file: \"%s\"}\n"
	                       "    watch: {notify: false}\n",
	                       sh.dir, sh.d->imaps_port, sh.d->user, sh.d->password, sh.d->ca_file,
	                       target->imaps_port, target->user, target->password, target->ca_file);
	pid_t pid;
	long long t0;

	write_text(text);
	free(text);
	dovecot_seed(sh.d, "INBOX", 1, 100, 0);
	dovecot_seed(target, "INBOX", 0, 0, 0);
	pid = start("watching INBOX with IDLE");
	cr_assert(watch_wait_log("watching INBOX with IDLE", 2, 10000), "IDLE on both servers:\n%s",
	          watch_log());
	for (t0 = watch_now_ms(); dovecot_message_count(target, "INBOX") != 1 && watch_now_ms() - t0 < 10000;)
		usleep(50 * 1000);
	cr_assert_eq(dovecot_message_count(target, "INBOX"), 1, "the first full sync:\n%s", watch_log());

	/* New on the source: copied to the target. */
	dovecot_seed(sh.d, "INBOX", 1, 110, 0);
	for (t0 = watch_now_ms(); dovecot_message_count(target, "INBOX") != 2 && watch_now_ms() - t0 < 10000;)
		usleep(50 * 1000);
	cr_assert_eq(dovecot_message_count(target, "INBOX"), 2, "a delivery to the source:\n%s", watch_log());
	/* New on the target: copied to the source. */
	dovecot_seed(target, "INBOX", 1, 120, 0);
	for (t0 = watch_now_ms(); dovecot_message_count(sh.d, "INBOX") != 3 && watch_now_ms() - t0 < 10000;)
		usleep(50 * 1000);
	cr_assert_eq(dovecot_message_count(sh.d, "INBOX"), 3, "a delivery to the target:\n%s", watch_log());

	stop(pid);
	two_assert_twins(sh.d, "INBOX", target, "INBOX", 3);
	dovecot_stop(target);
}
