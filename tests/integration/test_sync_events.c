/*
 * End-to-end: the sync's events as the user sees them. `sync --json`
 * read by a real JSON parser (Python's json module) whose counts must
 * match the Maildir and the server; an error as an event with the exit
 * code unchanged; the live progress line under a pseudo-terminal, and
 * none when standard error is not one.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_events, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* Reads a --json stream: every line must be a JSON object with schema 1
 * and an event; prints "key value" lines with what the test checks. */
static const char reader[] = "import json, sys\n"
                             "from collections import Counter\n"
                             "n = 0\n"
                             "kinds = Counter()\n"
                             "done = Counter()\n"
                             "for line in open(sys.argv[1], encoding='utf-8'):\n"
                             "    ev = json.loads(line)\n"
                             "    assert isinstance(ev, dict), line\n"
                             "    assert ev.get('schema') == 1, line\n"
                             "    assert isinstance(ev.get('event'), str), line\n"
                             "    n += 1\n"
                             "    kinds[ev['event']] += 1\n"
                             "    if ev['event'] in ('done', 'planned'):\n"
                             "        done[ev['event'] + ':' + ev['action']] += 1\n"
                             "    if ev['event'] == 'folder_end':\n"
                             "        for k in ('pulled', 'pushed', 'deleted_local', 'deleted_remote'):\n"
                             "            print('folder:%s:%s %d' % (ev['folder'], k, ev[k]))\n"
                             "    if ev['event'] == 'account_end':\n"
                             "        for k in ('pulled', 'pushed', 'folders_synced', 'folders_failed'):\n"
                             "            print('account:%s %d' % (k, ev[k]))\n"
                             "    if ev['event'] == 'progress':\n"
                             "        print('progress:%d/%d' % (ev['account_progress']['messages_done'],\n"
                             "              ev['account_progress']['messages_total']))\n"
                             "    if ev['event'] == 'error':\n"
                             "        print('error:%s' % ev['message'])\n"
                             "print('lines %d' % n)\n"
                             "for k, v in sorted(kinds.items()):\n"
                             "    print('event:%s %d' % (k, v))\n"
                             "for k, v in sorted(done.items()):\n"
                             "    print('%s %d' % (k, v))\n";

Test(sync_events, json_stream_counts_match_the_maildir_and_the_server)
{
	char *got, *mkdirs;

	dovecot_seed(sh.d, "INBOX", 5, 100, 0);
	dovecot_create_mailbox(sh.d, "Work");
	dovecot_seed(sh.d, "Work", 3, 200, 0);
	mkdirs = xasprintf("mkdir -p '%s/cur' '%s/new' '%s/tmp'", sh.mail, sh.mail, sh.mail);
	cr_assert_eq(system(mkdirs), 0);
	free(mkdirs);
	write_local("INBOX", "1700000000.local1.host",
	            "From: a@example.org\nMessage-ID: <local.1@twinbox.test>\nSubject: up\n\nbody\n");
	/* A file name no terminal or JSON line may carry raw: a C1 control
	 * (CSI as UTF-8), and a byte that is not UTF-8. */
	write_local("INBOX", "1700000001.bad\xc2\x9b\xff.host",
	            "From: b@example.org\nMessage-ID: <local.2@twinbox.test>\nSubject: odd\n\nbody\n");
	cr_assert_eq(sync_run_args("--json"), 0, "stderr: %s", sh.r.err);
	got = json_read_with(reader, sh.r.out);
	cr_log_info("%s", got);
	cr_assert(strstr(sh.r.out, "\"name\":\"1700000001.bad\\\\xc2\\\\x9b\\\\xff.host"),
	          "the name escaped as in the log: %s", sh.r.out);
	/* What the events say was pulled is in the Maildir, what was pushed
	 * on the server. */
	cr_assert_eq(local_message_count("INBOX"), 7);
	cr_assert_eq(local_message_count("Work"), 3);
	cr_assert_eq(server_count("INBOX"), 7);
	cr_assert_eq(json_value_of(got, "folder:INBOX:pulled"), 5, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:INBOX:pushed"), 2, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:Work:pulled"), 3, "%s", got);
	cr_assert_eq(json_value_of(got, "folder:Work:pushed"), 0, "%s", got);
	cr_assert_eq(json_value_of(got, "account:pulled"), 8, "%s", got);
	cr_assert_eq(json_value_of(got, "account:pushed"), 2, "%s", got);
	cr_assert_eq(json_value_of(got, "account:folders_failed"), 0, "%s", got);
	cr_assert_eq(json_value_of(got, "planned:copy-to-local"), 8, "%s", got);
	cr_assert_eq(json_value_of(got, "done:copy-to-local"), 8, "%s", got);
	cr_assert_eq(json_value_of(got, "planned:copy-to-remote"), 2, "%s", got);
	cr_assert_eq(json_value_of(got, "done:copy-to-remote"), 2, "%s", got);
	cr_assert_eq(json_value_of(got, "event:account_begin"), 1, "%s", got);
	cr_assert_eq(json_value_of(got, "event:account_end"), 1, "%s", got);
	cr_assert_eq(json_value_of(got, "event:folder_end"), 2, "%s", got);
	cr_assert(strstr(got, "progress:10/10"), "the progress reaches every copy: %s", got);
	/* Nothing but events on stdout: no summary line. */
	cr_assert_null(strstr(sh.r.out, "t: INBOX: "), "%s", sh.r.out);
	free(got);

	/* Nothing left to do: the events say so too. */
	cr_assert_eq(sync_run_args("--json"), 0, "stderr: %s", sh.r.err);
	got = json_read_with(reader, sh.r.out);
	cr_assert_eq(json_value_of(got, "account:pulled"), 0, "%s", got);
	cr_assert_eq(json_value_of(got, "account:pushed"), 0, "%s", got);
	cr_assert_null(strstr(got, "done:copy"), "%s", got);
	free(got);

	/* A dry run: the plan's actions, nothing done, no progress. */
	dovecot_seed(sh.d, "Work", 2, 900, 0);
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "sync", "--dry-run", "--json"), 120, &sh.r);
	cr_assert_eq(sh.r.status, 0, "stderr: %s", sh.r.err);
	got = json_read_with(reader, sh.r.out);
	cr_assert_eq(json_value_of(got, "planned:copy-to-local"), 2, "%s", got);
	cr_assert_eq(json_value_of(got, "account:pulled"), 0, "%s", got);
	cr_assert_null(strstr(got, "done:"), "%s", got);
	cr_assert_null(strstr(got, "progress:"), "%s", got);
	cr_assert_eq(local_message_count("Work"), 3);
	free(got);
}

Test(sync_events, json_error_is_an_event_and_the_exit_code_stays)
{
	char *got;
	FILE *f;
	int plain;

	dovecot_seed(sh.d, "INBOX", 1, 300, 0);
	plain = sync_run_args("t:NoSuchFolder");
	cr_assert_neq(plain, 0);
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "sync", "--json", "t:NoSuchFolder"), 120, &sh.r);
	cr_assert_eq(sh.r.status, plain, "the exit code is the same with --json: %d, %d", sh.r.status, plain);
	cr_assert(strstr(sh.r.err, "NoSuchFolder"), "stderr still says it: %s", sh.r.err);
	got = json_read_with(reader, sh.r.out);
	cr_assert(strstr(got, "error:") && strstr(got, "NoSuchFolder"), "an error event names it: %s", got);
	free(got);
	/* A config that cannot be read: an error event, exit 78 as ever. */
	f = fopen(sh.cfg, "w");
	cr_assert_not_null(f);
	fputs("accounts: [\n", f);
	fclose(f);
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "sync", "--json"), 120, &sh.r);
	cr_assert_eq(sh.r.status, 78, "stderr: %s", sh.r.err);
	got = json_read_with(reader, sh.r.out);
	cr_assert(strncmp(got, "error:", 6) == 0, "%s", got);
	free(got);
}

/* ---- the human summary ---------------------------------------------- */

/* Lines of sh.r.out that start with `prefix`. */
static size_t lines_starting(const char *prefix)
{
	size_t n = 0;

	for (const char *p = sh.r.out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		n += strncmp(p, prefix, strlen(prefix)) == 0;
	return n;
}

Test(sync_events, summary_names_only_folders_where_something_happened)
{
	dovecot_seed(sh.d, "INBOX", 2, 600, 0);
	dovecot_create_mailbox(sh.d, "Work");
	dovecot_seed(sh.d, "Work", 2, 700, 0);
	dovecot_create_mailbox(sh.d, "Quiet");
	sync_ok();
	cr_assert(strstr(sh.r.out, "t: INBOX: 2 pulled"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "t: Work: 2 pulled"), "%s", sh.r.out);
	cr_assert_eq(lines_starting("t: Quiet: "), 0, "an empty folder has nothing to say:\n%s", sh.r.out);

	/* New mail in one folder: its line alone. */
	dovecot_seed(sh.d, "Work", 1, 800, 0);
	sync_ok();
	cr_assert(strstr(sh.r.out, "t: Work: 1 pulled"), "%s", sh.r.out);
	cr_assert_eq(lines_starting("t: "), 1, "one line, for Work:\n%s", sh.r.out);

	/* Nothing to do: one line for the account. */
	sync_ok();
	cr_assert_str_eq(sh.r.out,
	                 "t: 0 pulled, 0 pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote\n");
	assert_nothing_done();
}

/* ---- the progress line ---------------------------------------------- */

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Run sync with a pseudo-terminal as its standard output and error:
 * everything it wrote to the terminal into *out (fresh), and the seconds
 * from its start until a progress line ("messages" after a CR) first
 * showed, or -1. */
static int sync_on_terminal(char **out, double *first_r)
{
	const char *bin = getenv("TWINBOX_BIN");
	struct buf b = BUF_INIT;
	struct timespec t0;
	int master, status;
	pid_t pid;

	*first_r = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = forkpty(&master, NULL, NULL, &(struct winsize){.ws_row = 24, .ws_col = 200});
	cr_assert_neq(pid, -1, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		execl(bin && *bin ? bin : "build/twinbox", "twinbox", "--config", sh.cfg, "sync",
		      (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct pollfd p = {master, POLLIN, 0};
		char block[4096];
		ssize_t n;
		if (poll(&p, 1, 120000) <= 0)
			break;
		n = read(master, block, sizeof(block));
		if (n <= 0)
			break; /* EIO once the child closed the terminal */
		buf_append(&b, block, (size_t)n);
		buf_append_byte(&b, '\0');
		b.len--;
		if (*first_r < 0) {
			const char *cr = strchr(b.data, '\r');
			/* The terminal turns the LF of a line into CR LF: a progress
			 * line is a CR not followed by LF. */
			for (; cr; cr = strchr(cr + 1, '\r'))
				if (cr[1] != '\n' && strstr(cr, " messages")) {
					*first_r = seconds_since(&t0);
					break;
				}
		}
	}
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	buf_append_byte(&b, '\0');
	*out = buf_detach(&b, NULL);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(sync_events, pull_of_2000_messages_shows_progress_on_a_terminal_only)
{
	char *out;
	const char *last;
	double first;
	int rc;

	dovecot_seed(sh.d, "INBOX", 2000, 400, 0);
	rc = sync_on_terminal(&out, &first);
	cr_assert_eq(rc, 0, "%s", out);
	cr_log_info("progress first shown after %.3f s", first);
	cr_assert_eq(local_message_count("INBOX"), 2000);
	cr_assert_geq(first, 0, "no progress line on the terminal:\n%s", out);
	cr_assert_lt(first, 1.0, "the progress line showed only after %.2f s", first);
	cr_assert(strstr(out, "of 2000 messages"), "%s", out);
	/* Erased at the end: no progress after the last CR and erase-line,
	 * the summary line there. */
	last = strstr(out, "\r\033[K");
	cr_assert_not_null(last, "the line is never erased:\n%s", out);
	while (strstr(last + 1, "\r\033[K"))
		last = strstr(last + 1, "\r\033[K");
	cr_assert_null(strstr(last, " messages, "), "progress left on the terminal:\n%s", out);
	cr_assert(strstr(last, "t: INBOX: 2000 pulled"), "%s", out);
	free(out);

	/* Not a terminal: no progress, nothing but lines. */
	dovecot_seed(sh.d, "INBOX", 300, 500, 0);
	sync_ok();
	cr_assert(strstr(sh.r.out, "t: INBOX: 300 pulled"), "%s", sh.r.out);
	cr_assert_null(strchr(sh.r.err, '\r'), "%s", sh.r.err);
	cr_assert_null(strchr(sh.r.err, '\033'), "%s", sh.r.err);
	cr_assert_null(strstr(sh.r.err, " messages, "), "%s", sh.r.err);
}
