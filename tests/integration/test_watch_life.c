/*
 * The life of a long-running `twinbox watch` against a real Dovecot:
 * the server killed and started again, the watcher frozen (SIGSTOP)
 * past its IDLE renewal, a server session that goes silent, a
 * password_command whose token changes, SIGHUP with a broken and then a
 * good config, SIGTERM in the middle of a big pull, and a network
 * change (in a network namespace of the test's own). Each checks what a
 * user would: the mail on both sides, once; the watcher's exit status;
 * what it logged.
 *
 * The IDLE renewal and the back-off are shortened for the tests
 * (TWINBOX_TEST_IDLE_RENEW_MS, TWINBOX_TEST_BACKOFF_MS; watch.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/sync_harness.h"
#include "support/watch_run.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

static void setup(void)
{
	sync_harness_setup();
	setenv("TWINBOX_TEST_BACKOFF_MS", "100", 1);
}

static void teardown(void)
{
	unsetenv("TWINBOX_TEST_BACKOFF_MS");
	unsetenv("TWINBOX_TEST_IDLE_RENEW_MS");
	sync_harness_teardown();
}

TestSuite(watch_life, .init = setup, .fini = teardown, .timeout = 180);

static char *password_line(void)
{
	return xasprintf("password: \"%s\"", sh.d->password);
}

static void watch_config(const char *login, const char *timeout, const char *more)
{
	watch_write_config(login, timeout, more);
}

/* The Maildir's INBOX holds `n` messages within `ms`. */
static void wait_local(size_t n, long long ms, const char *what)
{
	watch_wait_local("INBOX", n, ms, what);
}

/* How many times the watcher's connections to listen came up: IDLE
 * on INBOX, or NOTIFY where Dovecot offers it (logged with -v). */
static size_t listening(void)
{
	return watch_log_count("watching INBOX with IDLE") +
	       watch_log_count("watching every folder with NOTIFY");
}

static bool wait_listening(size_t times, long long ms)
{
	long long start = watch_now_ms();

	while (watch_now_ms() - start < ms) {
		if (listening() >= times)
			return true;
		usleep(20 * 1000);
	}
	return false;
}

/* Start the watcher (-v: its IDLE connections are logged) and wait
 * until it watches, its IDLE connection up. */
static pid_t start_watching(size_t accounts)
{
	char *started = xasprintf("watching %zu account", accounts);
	pid_t pid = watch_start(NULL, (const char *const[]){"-v", NULL});

	cr_assert(watch_wait_log(started, 1, 30000), "the watcher did not start:\n%s", watch_log());
	cr_assert(wait_listening(accounts, 10000), "no IDLE nor NOTIFY:\n%s", watch_log());
	free(started);
	return pid;
}

static void stop_watching(pid_t pid)
{
	int status = watch_stop(pid, 30000);

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "watch ended with status %#x:\n%s", status,
	          watch_log());
}

/* Until the watcher logged nothing for a second (at most 10 s). */
static void wait_quiet(void)
{
	size_t last = 0;
	long long since = watch_now_ms(), start = since;

	while (watch_now_ms() - since < 1000 && watch_now_ms() - start < 10000) {
		char *log = watch_log();
		if (strlen(log) != last) {
			last = strlen(log);
			since = watch_now_ms();
		}
		free(log);
		usleep(50 * 1000);
	}
}

/* Every line of the log starts with an ISO 8601 time stamp (standard
 * error is a file, not a terminal). */
static void assert_stamped(void)
{
	char *log = watch_log();
	regex_t re;
	size_t lines = 0;

	cr_assert_eq(
	    regcomp(&re,
	            "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} ",
	            REG_EXTENDED | REG_NOSUB),
	    0);
	for (char *line = log, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		cr_assert_not_null(nl, "an unfinished log line: %s", line);
		*nl = '\0';
		cr_assert_eq(regexec(&re, line, 0, NULL, 0), 0, "a log line without a time stamp: %s", line);
		lines++;
	}
	cr_assert_gt(lines, 0);
	regfree(&re);
	free(log);
}

Test(watch_life, server_killed_and_restarted)
{
	char *login = password_line(), *inbox;
	pid_t pid;

	watch_config(login, "5s", NULL);
	dovecot_seed(sh.d, "INBOX", 3, 100, 0);
	inbox = dovecot_maildir(sh.d, "INBOX");
	pid = start_watching(1);
	wait_local(3, 5000, "the first full sync");

	/* Killed: the IDLE connection is reset; mail comes meanwhile. */
	dovecot_kill(sh.d);
	cr_assert(watch_wait_log("; connecting again in", 1, 10000),
	          "the lost connection went unnoticed:\n%s", watch_log());
	dovecot_drop(sh.d, inbox, 2, 200, 0);
	usleep(500 * 1000); /* a try or two of the back-off fails */
	dovecot_restart(sh.d);

	/* Connected again, the watcher syncs what came while it was down. */
	wait_local(5, 15000, "mail delivered while the server was down");
	cr_assert(wait_listening(2, 10000), "%s", watch_log());
	dovecot_seed(sh.d, "INBOX", 2, 300, 0);
	wait_local(7, 5000, "mail delivered after the restart");

	stop_watching(pid);
	assert_twins("INBOX", 7);
	assert_stamped();
	free(inbox);
	free(login);
}

Test(watch_life, frozen_past_the_idle_renewal)
{
	char *login = password_line();
	pid_t pid;

	setenv("TWINBOX_TEST_IDLE_RENEW_MS", "1000", 1);
	watch_config(login, "3s", NULL);
	dovecot_seed(sh.d, "INBOX", 2, 100, 0);
	pid = start_watching(1);
	wait_local(2, 5000, "the first full sync");

	/* Stopped longer than the renewal and the I/O timeout together:
	 * every timer of the watcher is overdue when it goes on. */
	cr_assert_eq(kill(pid, SIGSTOP), 0);
	sleep(5);
	cr_assert_eq(kill(pid, SIGCONT), 0);
	dovecot_seed(sh.d, "INBOX", 1, 200, 0);
	wait_local(3, 8000, "a delivery after SIGCONT");
	/* And IDLE went on renewing on one connection or another. */
	dovecot_seed(sh.d, "INBOX", 1, 300, 0);
	wait_local(4, 8000, "a second delivery after SIGCONT");

	stop_watching(pid);
	assert_twins("INBOX", 4);
	free(login);
}

/* The one session the watcher holds (NOTIFY, or IDLE on INBOX with
 * `more` "    watch: {notify: false}") frozen on the server. */
static void silent_server(const char *more)
{
	char *login = password_line();
	pid_t pid, frozen[8];
	size_t n;
	long long t0, t;

	/* The bound of watch.h: the renewal (1 s here) plus `timeout:`. */
	setenv("TWINBOX_TEST_IDLE_RENEW_MS", "1000", 1);
	watch_config(login, "2s", more);
	pid = start_watching(1);
	/* The first sync's sessions end; the IDLE one stays. */
	for (int i = 0; i < 100 && (n = dovecot_imap_pids(sh.d, frozen, 8)) != 1; i++)
		usleep(50 * 1000);
	cr_assert_eq(n, 1, "%zu IMAP sessions, not the one IDLE session", n);

	/* Its server process frozen: the connection stays open, nothing
	 * answers, not even DONE. */
	cr_assert_eq(kill(frozen[0], SIGSTOP), 0);
	t0 = watch_now_ms();
	cr_assert(watch_wait_log("; connecting again in", 1, 10000), "a silent server went unnoticed:\n%s",
	          watch_log());
	t = watch_now_ms() - t0;
	cr_log_info("watch_life: a silent IDLE connection noticed after %lld ms", t);
	cr_assert_leq(t, 1000 + 2000 + 2000, "noticed after %lld ms, beyond the bound", t);

	dovecot_seed(sh.d, "INBOX", 1, 100, 0);
	wait_local(1, 8000, "a delivery after the silent connection was replaced");
	kill(frozen[0], SIGCONT);
	stop_watching(pid);
	assert_twins("INBOX", 1);
	free(login);
}

Test(watch_life, silent_server_noticed_within_the_bound)
{
	silent_server(NULL);
}

Test(watch_life, silent_server_noticed_within_the_bound_idle)
{
	silent_server("    watch: {notify: false}\n");
}

Test(watch_life, password_command_runs_at_every_connection)
{
	char *token = xasprintf("%s/token", sh.dir), *calls = xasprintf("%s/calls", sh.dir);
	char *login = xasprintf("password_command: \"echo call >> '%s'; cat '%s'\"", calls, token);
	struct error err;
	pid_t pid;

	cr_assert_eq(fs_write_atomic(token, sh.d->password, strlen(sh.d->password), 0600, &err), 0);
	watch_config(login, "5s", NULL);
	pid = start_watching(1);

	/* The token expires twice: the server takes only the new one, the
	 * command prints it from then on, the session ends. (Once the
	 * watcher is quiet: a sync in between would fail its login.) */
	for (int round = 2; round <= 3; round++) {
		char *fresh = xasprintf("token-%d-%s", round, sh.d->password);
		wait_quiet();
		cr_assert_eq(fs_write_atomic(token, fresh, strlen(fresh), 0600, &err), 0);
		dovecot_set_password(sh.d, fresh);
		dovecot_kick(sh.d);
		cr_assert(wait_listening((size_t)round, 10000),
		          "IDLE did not log in again with the new token:\n%s", watch_log());
		dovecot_seed(sh.d, "INBOX", 1, 100u * (unsigned)round, 0);
		wait_local((size_t)round - 1, 5000, "a delivery after the token changed");
		free(fresh);
	}
	cr_assert_eq(watch_log_count("AUTHENTICATIONFAILED"), 0, "a login used an old token:\n%s",
	             watch_log());
	stop_watching(pid);
	assert_twins("INBOX", 2);
	free(token);
	free(calls);
	free(login);
}

Test(watch_life, sighup_keeps_a_broken_config_out_and_takes_a_good_one)
{
	char *login = password_line(), *mail2 = xasprintf("%s/mail2", sh.dir), *more, *text;
	const char *const users[] = {"tbsecond"};
	char *first_user = xstrdup(sh.d->user);
	struct error err;
	pid_t pid;

	watch_config(login, "5s", NULL);
	pid = start_watching(1);

	/* A typo: the old config goes on, the log says where. */
	text = xasprintf("state_dir: %s/state\naccounts:\n  t:\n    imap:\n      hots: 127.0.0.1\n", sh.dir);
	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0);
	free(text);
	cr_assert_eq(kill(pid, SIGHUP), 0);
	cr_assert(watch_wait_log("the config was not read again", 1, 10000), "%s", watch_log());
	cr_assert(watch_log_count("config.yaml:5:7: unknown key \"hots\"") == 1,
	          "the cause, with file and line, is not in the log:\n%s", watch_log());
	dovecot_seed(sh.d, "INBOX", 1, 100, 0);
	wait_local(1, 5000, "a delivery after a broken config");

	/* A good config with a second account: it is synced and watched. */
	dovecot_add_users(sh.d, users, 1);
	dovecot_as_user(sh.d, "tbsecond");
	dovecot_seed(sh.d, "INBOX", 2, 200, 0);
	dovecot_as_user(sh.d, first_user);
	more = xasprintf("  second:\n"
	                 "    imap:\n"
	                 "      host: 127.0.0.1\n"
	                 "      port: %u\n"
	                 "      user: tbsecond\n"
	                 "      password: \"%s\"\n"
	                 "      ca_file: \"%s\"\n"
	                 "    maildir:\n"
	                 "      path: %s\n",
	                 sh.d->imaps_port, sh.d->password, sh.d->ca_file, mail2);
	watch_config(login, "5s", more);
	cr_assert_eq(kill(pid, SIGHUP), 0);
	cr_assert(watch_wait_log("read again; watching 2 accounts", 1, 10000), "%s", watch_log());
	cr_assert(wait_listening(3, 10000), "%s", watch_log());
	{
		/* The harness's helpers look at sh.mail: the second Maildir. */
		char *saved = sh.mail;
		sh.mail = mail2;
		wait_local(2, 10000, "the new account's first sync");
		dovecot_as_user(sh.d, "tbsecond");
		dovecot_seed(sh.d, "INBOX", 1, 300, 0);
		wait_local(3, 5000, "a delivery to the new account");
		dovecot_as_user(sh.d, first_user);
		sh.mail = saved;
	}
	dovecot_seed(sh.d, "INBOX", 1, 400, 0);
	wait_local(2, 5000, "a delivery to the first account after the reload");

	stop_watching(pid);
	assert_twins("INBOX", 2);
	free(more);
	free(mail2);
	free(login);
	free(first_user);
}

#define BIG_PULL 4000

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool pull_begun(void)
{
	return local_message_count("INBOX") > 0;
}

Test(watch_life, sigterm_in_the_middle_of_a_pull)
{
	char *login = password_line(), *log;
	struct local_msg *m;
	char **ids;
	size_t n, got;
	long long t0;
	pid_t pid;
	int status;

	/* Every fifth message with 100 KB: the watcher's first sync is a
	 * pull of several seconds. (Mail arriving while it watches would
	 * come in several syncs, as the server takes it in: a SIGTERM could
	 * fall between two.) */
	watch_config(login, "10s", NULL);
	dovecot_seed(sh.d, "INBOX", BIG_PULL, 1000, 100 * 1024);
	pid = watch_start(NULL, NULL);
	cr_assert_geq(watch_wait_for(pull_begun, 20000), 0, "no pull began:\n%s", watch_log());
	t0 = watch_now_ms();
	status = watch_stop(pid, 20000);
	got = local_message_count("INBOX");
	cr_log_info("watch_life: stopped %lld ms after SIGTERM, %zu of %d messages pulled",
	            watch_now_ms() - t0, got, BIG_PULL);
	log = watch_log();
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "watch ended with %#x:\n%s", status, log);
	cr_assert_lt(got, BIG_PULL, "the pull was not cut short (make it bigger):\n%s", log);
	cr_assert(strstr(log, "stopped on request"), "the stop is not logged:\n%s", log);
	cr_assert_eq(tmp_count("INBOX"), 0, "files left in tmp/");
	/* Nothing twice. */
	n = local_list("INBOX", &m);
	ids = xcalloc(n + 1, sizeof(*ids));
	for (size_t i = 0; i < n; i++)
		ids[i] = message_id(m[i].data);
	qsort(ids, n, sizeof(*ids), cmp_str);
	for (size_t i = 1; i < n; i++)
		cr_assert_str_neq(ids[i - 1], ids[i], "pulled twice: %s", ids[i]);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	local_free(m, n);

	/* The next watcher carries on. */
	pid = watch_start(NULL, NULL);
	wait_local(BIG_PULL, 60000, "the next watcher's first sync");
	stop_watching(pid);
	assert_twins("INBOX", BIG_PULL);
	sync_ok();
	assert_nothing_done();
	free(log);
	free(login);
}

/* A network change, in a network namespace of the test's own (the
 * server too), so that adding an address touches nothing outside. */
static void net_teardown(void)
{
	if (sh.cfg)
		teardown();
}

TestSuite(watch_net, .fini = net_teardown, .timeout = 120);

Test(watch_net, a_network_change_connects_again)
{
	char *login;
	pid_t pid;

	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("no network namespace for the test (%s): it needs CAP_SYS_ADMIN",
		             strerror(errno));
	cr_assert_eq(system("ip link set lo up"), 0);
	setup();
	login = password_line();
	watch_config(login, "5s", NULL);
	pid = start_watching(1);

	cr_assert_eq(system("ip addr add 10.201.0.1/32 dev lo"), 0);
	cr_assert(watch_wait_log("the network changed; connecting again", 1, 10000), "%s", watch_log());
	cr_assert(wait_listening(2, 10000), "IDLE did not connect again:\n%s", watch_log());
	dovecot_seed(sh.d, "INBOX", 1, 100, 0);
	wait_local(1, 5000, "a delivery after the network change");
	stop_watching(pid);
	assert_twins("INBOX", 1);
	free(login);
}
