/*
 * End-to-end, issues 16 and 17: `twinbox status` after a sync (counts
 * as in the Maildir and on the server, the time of the sync), after a
 * failed run and a killed one, with --connect against a server with a
 * quota, and its --json read by a real JSON parser; `twinbox sync` on an
 * account another run holds (exit 75 naming it, the other accounts
 * synced all the same), with --wait, and with a watcher registered for
 * the account (asked to sync, exit 0); a real `twinbox watch` shown by
 * status and unregistered when it ends; an account of two servers,
 * told as its source and target, folders mapped between them.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "support/two_servers.h"
#include "twinbox/state/lock.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(status, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* Reads `status --json`: each line a JSON object of schema 1; prints
 * "key value" lines of what the tests check (-1: absent). */
static const char reader[] =
    "import json, sys\n"
    "for line in open(sys.argv[1], encoding='utf-8'):\n"
    "    ev = json.loads(line)\n"
    "    assert isinstance(ev, dict) and ev.get('schema') == 1, line\n"
    "    e = ev['event']\n"
    "    if e == 'status_account':\n"
    "        run = ev.get('last_run', {})\n"
    "        r = {'ok': 0, 'partial': 1, 'failed': 2}.get(run.get('result'), -1)\n"
    "        print('account:%s:result %d' % (ev['account'], r))\n"
    "        print('account:%s:started %d' % (ev['account'], run.get('started', -1)))\n"
    "        print('account:%s:ended %d' % (ev['account'], run.get('ended', -1)))\n"
    "        print('account:%s:last_ok %d' % (ev['account'], ev.get('last_ok', -1)))\n"
    "        print('account:%s:pending %d' % (ev['account'], ev.get('pending', -1)))\n"
    "        print('account:%s:watcher %d' % (ev['account'], ev.get('watcher', {}).get('pid', -1)))\n"
    "        print('account:%s:running %d' % (ev['account'], ev.get('running', {}).get('pid', -1)))\n"
    "        if 'error' in run:\n"
    "            print('account:%s:error %s' % (ev['account'], run['error']))\n"
    "    elif e == 'status_folder':\n"
    "        f = 'folder:%s:' % ev['folder']\n"
    "        for side in ('remote', 'local'):\n"
    "            print(f + side + ' %d' % ev.get('messages', {}).get(side, -1))\n"
    "            print(f + 'now_' + side + ' %d' % ev.get('now', {}).get(side, -1))\n"
    "        print(f + 'last_sync %d' % ev['last_sync'])\n"
    "        print(f + 'pending %d' % ev['pending'])\n"
    "        print(f + 'failed_messages %d' % ev['failed_messages'])\n"
    "        print(f + 'has_error %d' % ('error' in ev))\n"
    "    elif e == 'status_quota':\n"
    "        print('quota:percent %d' % ev['percent'])\n"
    "        print('quota:nearly_full %d' % ev['nearly_full'])\n"
    "        print('quota:used_messages %d' % ev.get('used_messages', -1))\n"
    "    elif e in ('error', 'warning'):\n"
    "        print('%s: %s' % (e, ev['message']))\n"
    "    else:\n"
    "        raise SystemExit('unexpected event ' + e)\n";

/* `twinbox --config CFG status [extra...]` into sh.r; its status. */
static int status_run(const char *a1, const char *a2)
{
	run_result_free(&sh.r);
	if (a2)
		run_twinbox(ARGS("--config", sh.cfg, "status", a1, a2), 120, &sh.r);
	else if (a1)
		run_twinbox(ARGS("--config", sh.cfg, "status", a1), 120, &sh.r);
	else
		run_twinbox(ARGS("--config", sh.cfg, "status"), 120, &sh.r);
	return sh.r.status;
}

/* `status --json` read by Python (fresh). */
static char *status_json(const char *extra)
{
	status_run("--json", extra);
	return json_read_with(reader, sh.r.out);
}

/* The line of `out` that ends with "  <folder>" (the table's row),
 * fresh; fails when there is none. */
static char *row_in(const char *out, const char *folder)
{
	char *needle = xasprintf("  %s\n", folder);
	const char *end = strstr(out, needle), *start;

	cr_assert_not_null(end, "no row for %s in:\n%s", folder, out);
	start = end;
	while (start > out && start[-1] != '\n')
		start--;
	free(needle);
	return xstrndup(start, (size_t)(end - start) + strlen(folder) + 2);
}

static char *row_of(const char *folder)
{
	return row_in(sh.r.out, folder);
}

/* The whitespace-separated words of `row` after its date and time. */
static void row_numbers(const char *row, long *v, size_t n)
{
	char *copy = xstrdup(row), *save = NULL, *w;
	size_t k = 0, skip = 2; /* the last sync's date and time ("never" is one word) */

	if (strstr(row, "never"))
		skip = 1;
	for (w = strtok_r(copy, " ", &save); w && k < n; w = strtok_r(NULL, " ", &save)) {
		if (skip) {
			skip--;
			continue;
		}
		v[k++] = strcmp(w, "-") == 0 ? -1 : strtol(w, NULL, 10);
	}
	cr_assert_eq(k, n, "row \"%s\" has %zu numbers, not %zu", row, k, n);
	free(copy);
}

/* Account `name`'s lines (account_config) with its server on port 1,
 * where nothing listens (fresh). */
static char *unreachable(const char *name, const char *maildir)
{
	char *text = account_config(name, maildir);
	char *port = xasprintf("port: %u\n", sh.d->imaps_port);
	char *at = strstr(text, port);

	cr_assert_not_null(at);
	memcpy(at, "port: 1\n", 8);
	memmove(at + 8, at + strlen(port), strlen(at + strlen(port)) + 1);
	free(port);
	return text;
}

/* The config with account "t" on port 1. */
static void write_unreachable_config(void)
{
	char *t = unreachable("t", sh.mail);
	char *text = xasprintf("state_dir: %s/state\naccounts:\n%s", sh.dir, t);
	struct error err;

	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
	free(t);
}

static void write_normal_config(void)
{
	write_config("    sync:\n      expunge: both\n");
}

static char *hostname(void)
{
	char host[256];

	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	return xstrdup(host);
}

/* ---- status ---- */

Test(status, after_a_sync_the_counts_are_those_of_the_maildir_and_the_server)
{
	time_t before = time(NULL), after;
	char *got, *row;
	long v[4];

	cr_assert_eq(status_run(NULL, NULL), 0, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "t: never synced"), "%s", sh.r.out);

	dovecot_seed(sh.d, "INBOX", 5, 20100, 0);
	dovecot_create_mailbox(sh.d, "Lists/dev");
	dovecot_seed(sh.d, "Lists/dev", 3, 20200, 0);
	sync_ok();
	write_local("INBOX", "1700000000.M1P1.laptop",
	            "Message-ID: <status.1@twinbox.test>\nSubject: up\n\nfrom the laptop\n");
	sync_ok();
	after = time(NULL);

	cr_assert_eq(status_run(NULL, NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_log_info("%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "last run:") && strstr(sh.r.out, "went through"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "SERVER") && strstr(sh.r.out, "LOCAL"), "%s", sh.r.out);
	row = row_of("INBOX");
	row_numbers(row, v, 4); /* server, local, pending, failed */
	cr_assert_eq(v[0], (long)server_count("INBOX"), "%s", row);
	cr_assert_eq(v[1], (long)local_message_count("INBOX"), "%s", row);
	cr_assert_eq(v[0], 6);
	cr_assert_eq(v[2], 0);
	cr_assert_eq(v[3], 0);
	free(row);
	row = row_of("Lists/dev");
	row_numbers(row, v, 4);
	cr_assert_eq(v[0], 3, "%s", row);
	cr_assert_eq(v[1], (long)local_message_count("Lists/dev"), "%s", row);
	free(row);

	got = status_json(NULL);
	cr_log_info("%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:remote"), (long)server_count("INBOX"), "%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:local"), (long)local_message_count("INBOX"), "%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:now_remote"), -1, "no server asked: %s", got);
	cr_assert_geq(json_value_of(got, "folder:INBOX:last_sync"), (long)before, "%s", got);
	cr_assert_leq(json_value_of(got, "folder:INBOX:last_sync"), (long)after, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:Lists/dev:remote"), 3, "%s", got);
	cr_assert_eq(json_value_of(got, "account:t:result"), 0, "%s", got);
	cr_assert_geq(json_value_of(got, "account:t:ended"), (long)before, "%s", got);
	cr_assert_eq(json_value_of(got, "account:t:last_ok"), json_value_of(got, "account:t:ended"));
	cr_assert_eq(json_value_of(got, "account:t:pending"), 0, "%s", got);
	cr_assert_eq(json_value_of(got, "account:t:watcher"), -1, "%s", got);
	cr_assert_null(strstr(got, "account:t:error"), "a run that went through has no error: %s", got);
	free(got);

	/* Status reads; it connects to nothing: with the server out of
	 * reach it says the same. */
	write_unreachable_config();
	cr_assert_eq(status_run("t", NULL), 0, "%s", sh.r.err);
	row = row_of("INBOX");
	row_numbers(row, v, 4);
	cr_assert_eq(v[0], 6, "%s", row);
	free(row);
}

/* A folder that failed, then a run that could not connect: each said,
 * with the last run that went through, and exit 1. */
Test(status, after_a_failed_run_the_error_is_shown)
{
	char *got, *work, *cmd, *line;

	dovecot_seed(sh.d, "INBOX", 3, 20300, 0);
	dovecot_seed(sh.d, "Work", 24, 20400, 0);
	sync_ok();

	/* Most of Work deleted in the Maildir: the mass-deletion valve
	 * holds the folder back, the run goes on. */
	work = folder_dir("Work");
	cmd = xasprintf("cd '%s' && ls -d cur/* new/* 2>/dev/null | head -22 | xargs rm --", work);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(sync_run_args(NULL), 1, "%s", sh.r.err);
	cr_assert_eq(status_run(NULL, NULL), 1, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_log_info("%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "some folders failed: Work: "), "the run names the folder: %s", sh.r.out);
	line = strstr(sh.r.out, "\n  Work: failed (");
	cr_assert_not_null(line, "the folder's error on its own line: %s", sh.r.out);
	cr_assert(strstr(line, "not synced: "), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "last success:"), "%s", sh.r.out);
	got = status_json(NULL);
	cr_assert_eq(json_value_of(got, "folder:Work:has_error"), 1, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:has_error"), 0, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:Work:remote"), 24, "the last sync's counts stay: %s", got);
	cr_assert_eq(json_value_of(got, "account:t:result"), 1, "%s", got);
	cr_assert_eq(sh.r.status, 1);
	free(got);

	/* No server at all: nothing could be done. */
	write_unreachable_config();
	cr_assert_eq(sync_run_args(NULL), 2, "%s", sh.r.err);
	cr_assert_eq(status_run(NULL, NULL), 1, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "failed: could not connect to 127.0.0.1:"), "%s", sh.r.out);
	got = status_json(NULL);
	cr_assert_eq(json_value_of(got, "account:t:result"), 2, "%s", got);
	cr_assert(json_value_of(got, "account:t:last_ok") > 0, "%s", got);
	cr_assert(strstr(got, "account:t:error could not connect"), "%s", got);
	free(got);
	write_normal_config();

	/* The next run that goes through clears the folder's error. */
	cr_assert_eq(sync_run_args("--allow-mass-delete"), 0, "%s", sh.r.err);
	cr_assert_eq(status_run(NULL, NULL), 0, "%s", sh.r.out);
	cr_assert_null(strstr(sh.r.out, "failed"), "%s", sh.r.out);
	free(cmd);
	free(work);
}

/* A run killed once its first batch was delivered: status says it did
 * not finish and what it left pending, and exit 1; the next run
 * finishes it. */
Test(status, after_a_killed_run_what_it_left_pending_is_shown)
{
	char *got, *row;
	long v[4];

	dovecot_seed(sh.d, "INBOX", 300, 20500, 0);
	setenv("TWINBOX_TEST_CRASH_AT", "2", 1); /* 1: intents recorded, 2: the batch delivered */
	cr_assert_eq(sync_run_args(NULL), 86, "%s", sh.r.err);
	unsetenv("TWINBOX_TEST_CRASH_AT");

	cr_assert_eq(status_run(NULL, NULL), 1, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_log_info("%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "did not finish"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "pending:"), "%s", sh.r.out);
	row = row_of("INBOX");
	row_numbers(row, v, 4);
	cr_assert_gt(v[2], 0, "the folder's pending steps: %s", row);
	free(row);
	got = status_json(NULL);
	cr_assert_eq(json_value_of(got, "account:t:ended"), 0, "%s", got);
	cr_assert_gt(json_value_of(got, "account:t:pending"), 0, "%s", got);
	cr_assert_gt(json_value_of(got, "folder:INBOX:pending"), 0, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:last_sync"), 0, "never synced through: %s", got);
	free(got);

	sync_ok();
	cr_assert_eq(status_run(NULL, NULL), 0, "%s", sh.r.out);
	row = row_of("INBOX");
	row_numbers(row, v, 4);
	cr_assert_eq(v[0], 300, "%s", row);
	cr_assert_eq(v[1], 300, "%s", row);
	cr_assert_eq(v[2], 0, "%s", row);
	free(row);
}

/* --connect: each folder's count on the server now, and the quota, with
 * a warning when nearly full (exit 0 all the same). */
Test(status, connect_shows_the_servers_counts_and_quota)
{
	char *got, *row;
	long v[5];

	dovecot_stop(sh.d);
	sh.d = dovecot_start_with(DOVECOT_QUOTA_CONF("*:messages=10"));
	write_normal_config();
	dovecot_seed(sh.d, "INBOX", 5, 20600, 0);
	dovecot_seed(sh.d, "Work", 3, 20700, 0);
	sync_ok();
	dovecot_seed(sh.d, "INBOX", 1, 20800, 0); /* 9 of 10 now */

	cr_assert_eq(status_run("--connect", NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_log_info("%s\n%s", sh.r.out, sh.r.err);
	cr_assert(strstr(sh.r.out, "SERVER-NOW"), "%s", sh.r.out);
	row = row_of("INBOX");
	row_numbers(row, v, 5); /* server, server now, local, pending, failed */
	cr_assert_eq(v[0], 5, "as the last sync saw it: %s", row);
	cr_assert_eq(v[1], 6, "the server now: %s", row);
	cr_assert_eq(v[2], 5, "%s", row);
	free(row);
	row = row_of("Work");
	row_numbers(row, v, 5);
	cr_assert_eq(v[1], 3, "%s", row);
	free(row);
	cr_assert(strstr(sh.r.out, "quota:") && strstr(sh.r.out, "\"User quota\"") &&
	              strstr(sh.r.out, "9 of 10 messages, 90%"),
	          "%s", sh.r.out);
	cr_assert(strstr(sh.r.err, "warning: t: the mailbox on 127.0.0.1:") &&
	              strstr(sh.r.err, "nearly full"),
	          "%s", sh.r.err);

	got = status_json("--connect");
	cr_log_info("%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:now_remote"), 6, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:remote"), 5, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:now_local"), -1, "a Maildir is not asked: %s", got);
	cr_assert_eq(json_value_of(got, "quota:percent"), 90, "%s", got);
	cr_assert_eq(json_value_of(got, "quota:nearly_full"), 1, "%s", got);
	cr_assert_eq(json_value_of(got, "quota:used_messages"), 9, "%s", got);
	cr_assert(strstr(got, "warning: t: the mailbox on"), "the warning is an event too: %s", got);
	free(got);

	/* A server that cannot be reached: said, exit 1, the state's view
	 * still shown. */
	write_unreachable_config();
	cr_assert_eq(status_run("--connect", NULL), 1, "%s", sh.r.err);
	cr_assert(strstr(sh.r.err, "error: t: could not connect"), "%s", sh.r.err);
	row = row_of("INBOX");
	row_numbers(row, v, 5);
	cr_assert_eq(v[0], 5, "%s", row);
	cr_assert_eq(v[1], -1, "not known: %s", row);
	free(row);
}

/* A folder or server name with control characters reaches the terminal
 * escaped, and the table keeps its columns. */
Test(status, names_are_escaped)
{
	dovecot_seed(sh.d, "INBOX", 1, 20900, 0);
	/* U+009B, CSI to a UTF-8 terminal (Dovecot refuses C0 controls). */
	dovecot_create_mailbox(sh.d, "Odd\xc2\x9b"
	                             "2Jname");
	dovecot_seed(sh.d,
	             "Odd\xc2\x9b"
	             "2Jname",
	             2, 21000, 0);
	sync_ok();
	cr_assert_eq(status_run(NULL, NULL), 0, "%s", sh.r.err);
	cr_assert_null(strstr(sh.r.out, "\xc2\x9b"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "  Odd\\xc2\\x9b2Jname\n"), "%s", sh.r.out);
}

/* A POP3 import: what it downloaded, no folders. */
Test(status, a_pop3_import_tells_what_it_downloaded)
{
	write_pop3_config();
	dovecot_seed(sh.d, "INBOX", 3, 21900, 0);
	sync_ok();
	cr_assert_eq(status_run("p", NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_log_info("%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "downloaded:   3 messages\n"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "went through"), "%s", sh.r.out);
	cr_assert_null(strstr(sh.r.out, "FOLDER"), "%s", sh.r.out);
}

/* ---- a locked account ---- */

/* A second account "u" beside "t", syncing into its own Maildir; with
 * `broken`, on a port where nothing listens. */
static char *write_two_accounts(bool broken)
{
	char *mail_u = xasprintf("%s/mail-u", sh.dir);
	char *u = broken ? unreachable("u", mail_u) : account_config("u", mail_u);
	char *extra;

	extra = xasprintf("    sync:\n      expunge: both\n%s", u);
	write_config(extra);
	free(extra);
	free(u);
	return mail_u;
}

Test(status, a_locked_account_exits_75_naming_its_holder_and_the_others_run)
{
	struct state_lock *lock;
	struct error err;
	char *host = hostname();
	char *who = xasprintf("being synced by process %d on host %s since ", (int)getpid(), host);
	char *mail_u = write_two_accounts(false), *cmd;
	int lines = 0;

	dovecot_seed(sh.d, "INBOX", 2, 21100, 0);
	cr_assert_eq(state_lock_acquire(sh.db, STATE_LOCK_NOWAIT, &lock, &err), 0, "%s", err.text);
	cr_assert_eq(sync_run_args(NULL), 75, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert(strstr(sh.r.err, who), "one line naming the holder: %s", sh.r.err);
	for (const char *p = sh.r.err; (p = strstr(p, "error: ")); p++)
		lines++;
	cr_assert_eq(lines, 1, "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 0, "t was not synced");
	cmd = xasprintf("test $(find '%s/cur' '%s/new' -type f | wc -l) -eq 2", mail_u, mail_u);
	cr_assert_eq(system(cmd), 0, "u was synced all the same");
	free(cmd);

	/* Status shows the run in progress, and is not kept out by it. */
	cr_assert_eq(status_run("t", NULL), 0, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "syncing now:"), "%s", sh.r.out);

	/* A failure of another account comes first: nothing was done. */
	free(mail_u);
	mail_u = write_two_accounts(true);
	cr_assert_eq(sync_run_args(NULL), 2, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert(strstr(sh.r.err, who), "%s", sh.r.err);

	state_lock_release(lock);
	cr_assert_eq(sync_run_args("t"), 0, "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 2);
	free(mail_u);
	free(who);
	free(host);
}

/* --wait: the run waits for the holder, says so once, then syncs. */
Test(status, sync_wait_waits_for_the_holder_then_syncs)
{
	struct state_lock *lock;
	struct error err;
	struct run_result r = {0};
	char *errf = xasprintf("%s/waiting.err", sh.dir), *text = NULL, *want;
	size_t len = 0;
	pid_t pid;
	int status;

	dovecot_seed(sh.d, "INBOX", 4, 21200, 0);
	cr_assert_eq(state_lock_acquire(sh.db, STATE_LOCK_NOWAIT, &lock, &err), 0, "%s", err.text);
	pid = sync_spawn_args("waiting", ARGS("--config", sh.cfg, "sync", "--wait"));
	/* It says it waits, and does. */
	want = xasprintf("t: waiting for process %d on host ", (int)getpid());
	for (int i = 0; i < 500 && !(text && strstr(text, want)); i++) {
		free(text);
		text = NULL;
		usleep(20 * 1000);
		fs_read_file(errf, 1 << 20, &text, &len, &err);
	}
	cr_assert(text && strstr(text, want), "%s", text ? text : "(nothing)");
	usleep(500 * 1000);
	cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "it is still waiting");
	cr_assert_eq(local_message_count("INBOX"), 0);
	state_lock_release(lock);
	sync_wait(pid, "waiting", 120, &r, NULL);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(local_message_count("INBOX"), 4);
	cr_assert_null(strstr(strstr(r.err, want) + 1, want), "said once: %s", r.err);
	run_result_free(&r);
	free(want);
	free(text);
	free(errf);
}

/* ---- a watcher ---- */

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

/* A child standing in for `twinbox watch`: it writes a byte to `fd` for
 * each SIGUSR1, and runs until killed. */
static pid_t fake_watcher(int fd)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct sigaction sa = {.sa_handler = on_usr1};
		sigaction(SIGUSR1, &sa, NULL);
		for (;;) {
			pause();
			if (got_usr1 && write(fd, "u", 1) != 1)
				_exit(1);
			got_usr1 = 0;
		}
	}
	return pid;
}

Test(status, a_locked_account_with_a_watcher_asks_the_watcher_to_sync)
{
	char *path = xasprintf("%s/state/t.watch", sh.dir), *host = hostname(), *line, *said;
	struct state_lock *lock;
	struct error err;
	int pipefd[2], status;
	pid_t watcher;
	char c;

	dovecot_seed(sh.d, "INBOX", 2, 21300, 0);
	sync_ok();
	cr_assert_eq(pipe(pipefd), 0);
	/* Blocked until the child has its handler: it writes nothing before. */
	watcher = fake_watcher(pipefd[1]);
	usleep(100 * 1000);
	line = xasprintf("%d %lld %s\n", (int)watcher, (long long)time(NULL), host);
	cr_assert_eq(fs_write_atomic(path, line, strlen(line), 0600, &err), 0, "%s", err.text);

	/* Not locked: the sync runs as ever. */
	cr_assert_eq(sync_run_args(NULL), 0, "%s", sh.r.err);
	cr_assert_null(strstr(sh.r.err, "watcher"), "%s", sh.r.err);

	cr_assert_eq(state_lock_acquire(sh.db, STATE_LOCK_NOWAIT, &lock, &err), 0, "%s", err.text);
	cr_assert_eq(sync_run_args(NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	said = xasprintf("a watcher (pid %d) runs for t; it was asked to sync now", (int)watcher);
	cr_assert(strstr(sh.r.err, said), "%s", sh.r.err);
	cr_assert_eq(read(pipefd[0], &c, 1), 1, "the watcher got SIGUSR1");
	cr_assert_eq(status_run(NULL, NULL), 0, "%s", sh.r.err);
	free(said);
	said = xasprintf("watched by    pid %d since ", (int)watcher);
	cr_assert(strstr(sh.r.out, said), "%s", sh.r.out);

	/* A dry run does not ask the watcher: it wants its own answer. */
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "sync", "--dry-run"), 120, &sh.r);
	cr_assert_eq(sh.r.status, 75, "%s", sh.r.err);

	/* The watcher gone: its registration is not believed. */
	kill(watcher, SIGKILL);
	waitpid(watcher, &status, 0);
	cr_assert_eq(sync_run_args(NULL), 75, "%s", sh.r.err);
	cr_assert_null(strstr(sh.r.err, "watcher"), "%s", sh.r.err);
	cr_assert_eq(status_run(NULL, NULL), 0, "%s", sh.r.err);
	cr_assert_null(strstr(sh.r.out, "watched by"), "%s", sh.r.out);
	state_lock_release(lock);
	free(said);
	free(line);
	free(host);
	free(path);
}

/* A real `twinbox watch` registers itself while it runs: status shows
 * it, and it is gone once the watcher ends. */
Test(status, a_running_watch_is_shown_and_unregisters_at_its_end)
{
	char *path = xasprintf("%s/state/t.watch", sh.dir), *said;
	struct run_result r = {0};
	struct stat sb;
	pid_t pid;
	int i;

	dovecot_seed(sh.d, "INBOX", 2, 21400, 0);
	pid = sync_spawn_args("watch", ARGS("--config", sh.cfg, "watch", "--interval", "1h"));
	for (i = 0; i < 1000 && (stat(path, &sb) != 0 || local_message_count("INBOX") != 2); i++)
		usleep(20 * 1000);
	cr_assert_lt(i, 1000, "the watcher registered and synced");
	cr_assert_eq(status_run(NULL, NULL), 0, "%s", sh.r.err);
	said = xasprintf("watched by    pid %d since ", (int)pid);
	cr_assert(strstr(sh.r.out, said), "%s", sh.r.out);
	kill(pid, SIGTERM);
	sync_wait(pid, "watch", 60, &r, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_neq(stat(path, &sb), 0, "the registration is removed");
	cr_assert_eq(status_run(NULL, NULL), 0, "%s", sh.r.err);
	cr_assert_null(strstr(sh.r.out, "watched by"), "%s", sh.r.out);
	run_result_free(&r);
	free(said);
	free(path);
}

/* ---- an account of two servers ---- */

TestSuite(status_two, .timeout = 300);

/* The sides are the source and the target; with --connect each
 * server's count now, the target's Sent by its own name ("Sent Items",
 * mapped as sync maps it). */
Test(status_two, source_and_target_with_their_folders_mapped)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start_with(TWO_COURIER_CONF);
	char *state = xasprintf("%s/state", a->dir);
	char *cfg = two_config(a, b, state, NULL);
	struct run_result r = {0};
	char *row;
	long v[6];

	dovecot_seed(a, "INBOX", 2, 21500, 0);
	dovecot_create_mailbox(a, "Sent");
	dovecot_seed(a, "Sent", 3, 21600, 0);
	dovecot_create_mailbox(b, "INBOX.Sent Items");
	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(two_count(b, "INBOX.Sent Items"), 3);
	dovecot_seed(b, "INBOX.Sent Items", 1, 21700, 0);
	dovecot_seed(a, "INBOX", 2, 21800, 0);

	run_result_free(&r);
	run_twinbox((const char *const[]){"--config", cfg, "status", "--connect", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_log_info("%s", r.out);
	cr_assert(strstr(r.out, "SOURCE  SOURCE-NOW  TARGET  TARGET-NOW  PENDING  FAILED  FOLDER"), "%s",
	          r.out);
	cr_assert_null(strstr(r.out, "SERVER"), "%s", r.out);
	row = row_in(r.out, "Sent");
	row_numbers(row, v, 6);
	cr_assert_eq(v[0], 3, "%s", row);
	cr_assert_eq(v[1], 3, "the source now: %s", row);
	cr_assert_eq(v[2], 3, "%s", row);
	cr_assert_eq(v[3], 4, "the target's Sent Items now: %s", row);
	free(row);
	row = row_in(r.out, "INBOX");
	row_numbers(row, v, 6);
	cr_assert_eq(v[0], 2, "%s", row);
	cr_assert_eq(v[1], 4, "%s", row);
	free(row);
	run_result_free(&r);
	test_forget_temp(&cfg);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}
