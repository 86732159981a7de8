/*
 * End-to-end: the hooks of `twinbox sync` (cli/hooks.h). Each hook is a
 * small script that appends what it was given to a log in the test's
 * directory; the tests read the logs. after_sync once per run that
 * changed something, new_mail once per new message with its header
 * decoded and inert (a hostile Subject arrives as plain text), bounded;
 * failing and hanging hooks are warnings and change nothing else; a dry
 * run runs none.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_hooks, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* One line per call: the variables of its hook, '|' between them. */
static const char after_script[] =
    "printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$TWINBOX_HOOK\" \"$TWINBOX_ACCOUNT\" \"$TWINBOX_FOLDERS\" "
    "\"$TWINBOX_PULLED\" \"$TWINBOX_PUSHED\" \"$TWINBOX_FLAGS\" \"$TWINBOX_DELETED\" >> \"$(dirname "
    "\"$0\")/after.log\"\n";
static const char new_script[] =
    "printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$TWINBOX_FOLDER\" \"$TWINBOX_FROM\" \"$TWINBOX_SUBJECT\" "
    "\"$TWINBOX_COUNT\" \"$TWINBOX_MORE\" \"$TWINBOX_MESSAGE_ID\" \"$TWINBOX_DATE\" >> \"$(dirname "
    "\"$0\")/new.log\"\n"
    "printf '%s\\n' \"$TWINBOX_PATH\" >> \"$(dirname \"$0\")/paths.log\"\n";

/* Write script `name` into the test's directory; its path (fresh). */
static char *script(const char *name, const char *body)
{
	char *path = xasprintf("%s/%s", sh.dir, name);
	struct error err;

	cr_assert_eq(fs_write_atomic(path, body, strlen(body), 0700, &err), 0, "%s", err.text);
	return path;
}

/* The config with the two logging hooks and `more` (further lines under
 * hooks:, may be NULL); `extra` after it (may be NULL). */
static void hooks_config(const char *more, const char *extra)
{
	char *after = script("after.sh", after_script), *nm = script("new.sh", new_script);
	char *section = xasprintf("    hooks:\n"
	                          "      after_sync: \"sh %s\"\n"
	                          "      new_mail: \"sh %s\"\n"
	                          "%s%s",
	                          after, nm, more ? more : "", extra ? extra : "");

	write_config(section);
	free(section);
	free(after);
	free(nm);
}

/* The log `name` of the test's directory ("" when there is none; fresh). */
static char *log_of(const char *name)
{
	char *path = xasprintf("%s/%s", sh.dir, name), *text = NULL;
	struct error err;
	size_t len;

	if (fs_read_file(path, 1 << 20, &text, &len, &err) < 0)
		text = xstrdup("");
	free(path);
	return text;
}

static size_t lines(const char *text)
{
	size_t n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

static void clear_logs(void)
{
	static const char *const logs[] = {"after.log", "new.log", "paths.log"};

	for (size_t i = 0; i < 3; i++) {
		char *path = xasprintf("%s/%s", sh.dir, logs[i]);
		unlink(path);
		free(path);
	}
}

static void append(const char *mailbox, const char *message)
{
	char *crlf;
	size_t len;

	crlf = crlf_of(message, &len);
	dovecot_append(sh.d, mailbox, crlf, len, NULL);
	free(crlf);
}

Test(sync_hooks, after_sync_once_when_something_changed)
{
	char *log, *path;

	hooks_config(NULL, NULL);
	dovecot_seed(sh.d, "INBOX", 3, 1, 0);
	dovecot_seed(sh.d, "Work", 1, 10, 0);
	sync_ok();
	log = log_of("after.log");
	cr_assert_str_eq(log, "after_sync|t|INBOX\nWork|4|0|0|0\n", "%s\nstderr: %s", log, sh.r.err);
	free(log);
	cr_assert_eq(lines(log = log_of("new.log")), 4);
	free(log);

	/* Nothing changed: no call. */
	clear_logs();
	sync_ok();
	log = log_of("after.log");
	cr_assert_str_eq(log, "", "%s", log);
	free(log);

	/* A flag changed here, a message written here: one call. */
	path = local_find("INBOX", (log = seeded_id(1, 0)));
	free(log);
	free(local_set_flags(path, "S"));
	free(path);
	write_local("Work", "1700000000.local.host", "From: me@example.org\nSubject: mine\n\nhi\n");
	sync_ok();
	log = log_of("after.log");
	cr_assert_str_eq(log, "after_sync|t|INBOX\nWork|0|1|1|0\n", "%s", log);
	free(log);
	log = log_of("new.log");
	cr_assert_str_eq(log, "", "pushed mail is not new mail: %s", log);
	free(log);
}

Test(sync_hooks, new_mail_per_message_decoded_and_inert)
{
	char *log, *paths, *line, *pwned = xasprintf("%s/pwned", sh.dir), *subject;
	struct stat st;

	hooks_config(NULL, NULL);
	append("INBOX", "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>\n"
	                "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\n"
	                "Date: Mon, 1 Jan 2024 10:00:00 +0100\n"
	                "Message-ID: <one@example.org>\n\nbody\n");
	subject = xasprintf("Subject: $(touch %s) `touch %s` \x1b]0;title\x07 red\n"
	                    " =?UTF-8?Q?x=0ATWINBOX=5FFROM=3Dforged=0D?=\n",
	                    pwned, pwned);
	line = xasprintf("From: \"Eve; rm -rf ~\" <eve@example.org>\n%s"
	                 "Message-ID: <two@example.org>\n\nbody\n",
	                 subject);
	append("INBOX", line);
	free(line);
	sync_ok();
	cr_assert_null(strstr(sh.r.err, "hook"), "%s", sh.r.err);
	log = log_of("new.log");
	line = xasprintf("INBOX|J\xc3\xbcrgen M\xc3\xbcller <jm@example.org>|Gr\xc3\xbc\xc3\x9f"
	                 "e aus K\xc3\xb6ln|2|0|<one@example.org>|Mon, 1 Jan 2024 10:00:00 +0100\n"
	                 "INBOX|\"Eve; rm -rf ~\" <eve@example.org>|$(touch %s) `touch %s` ]0;title red x "
	                 "TWINBOX_FROM=forged|2|0|<two@example.org>|\n",
	                 pwned, pwned);
	cr_assert_str_eq(log, line, "got:\n%s\nwanted:\n%s", log, line);
	cr_assert_neq(stat(pwned, &st), 0, "a Subject ran a command");
	free(line);
	free(log);
	/* TWINBOX_PATH: the files themselves. */
	paths = log_of("paths.log");
	line = local_find("INBOX", "<one@example.org>");
	cr_assert(strncmp(paths, line, strlen(line)) == 0 && paths[strlen(line)] == '\n', "%s vs %s", paths,
	          line);
	free(line);
	line = local_find("INBOX", "<two@example.org>");
	cr_assert_not_null(strstr(paths, line), "%s", paths);
	free(line);
	free(paths);
	free(subject);
	free(pwned);
}

Test(sync_hooks, new_mail_is_bounded_then_one_call_for_the_rest)
{
	char *log;

	hooks_config("      new_mail_max: 2\n", NULL);
	dovecot_seed(sh.d, "INBOX", 4, 1, 0);
	dovecot_seed(sh.d, "Lists/dev", 1, 20, 0);
	sync_run_args("--jobs=1");
	cr_assert_eq(sh.r.status, 0, "%s", sh.r.err);
	log = log_of("new.log");
	cr_assert_eq(lines(log), 4, "%s", log); /* the last call's TWINBOX_FOLDER has two lines */
	/* The others: their folders, their number. */
	cr_assert_not_null(strstr(log, "\nINBOX\nLists/dev|twinbox|3 more new messages|5|3||\n"), "%s", log);
	free(log);
}

/* The folder map renames: the hook names the folder as the summary
 * does, and its path is where the Maildir keeps it. */
Test(sync_hooks, new_mail_path_follows_renamed_folders)
{
	char *paths, *log, *dir = folder_dir("Job");

	hooks_config(NULL, "    folders:\n      rename: {Work: Job}\n");
	dovecot_seed(sh.d, "Work", 1, 5, 0);
	sync_ok();
	log = log_of("new.log");
	cr_assert(strncmp(log, "Work|", 5) == 0, "%s", log);
	paths = log_of("paths.log");
	cr_assert(strncmp(paths, dir, strlen(dir)) == 0, "%s not in %s", paths, dir);
	free(paths);
	free(log);
	free(dir);
}

Test(sync_hooks, failing_and_hanging_hooks_are_warnings)
{
	char *fail = script("fail.sh", "echo to-stdout; echo boom >&2; exit 3\n");
	char *hang = script("hang.sh", "echo waiting >&2; sleep 30\n");
	char *section = xasprintf("    hooks:\n"
	                          "      after_sync: \"sh %s\"\n"
	                          "      new_mail: \"sh %s\"\n"
	                          "      timeout: 1s\n"
	                          "      new_mail_max: 1\n",
	                          fail, hang);
	time_t t0;

	write_config(section);
	dovecot_seed(sh.d, "INBOX", 3, 1, 0);
	t0 = time(NULL);
	sync_ok();
	cr_assert_lt(time(NULL) - t0, 20, "the hanging hook was not killed");
	cr_assert_not_null(
	    strstr(sh.r.err, "t: the after_sync hook failed with exit status 3 (stderr: \"boom\")"), "%s",
	    sh.r.err);
	cr_assert_not_null(strstr(sh.r.err, "t: the new_mail hook did not finish within 1 s and was killed "
	                                    "(hooks: timeout) (stderr: \"waiting\")"),
	                   "%s", sh.r.err);
	cr_assert_null(strstr(sh.r.out, "to-stdout"), "a hook's stdout is not ours: %s", sh.r.out);
	assert_twins("INBOX", 3);

	/* A command that is not there. */
	write_config("    hooks:\n      after_sync: no-such-hook-command\n");
	dovecot_seed(sh.d, "INBOX", 1, 50, 0);
	sync_ok();
	cr_assert_not_null(
	    strstr(sh.r.err, "the after_sync hook failed with exit status 127, command not found"), "%s",
	    sh.r.err);
	assert_twins("INBOX", 4);
	free(section);
	free(fail);
	free(hang);
}

Test(sync_hooks, dry_run_runs_none)
{
	char *log;

	hooks_config(NULL, NULL);
	dovecot_seed(sh.d, "INBOX", 2, 1, 0);
	cr_assert_eq(sync_run_args("--dry-run"), 0, "%s", sh.r.err);
	log = log_of("after.log");
	cr_assert_str_eq(log, "");
	free(log);
	log = log_of("new.log");
	cr_assert_str_eq(log, "");
	free(log);
	sync_ok();
	cr_assert_eq(lines(log = log_of("new.log")), 2);
	free(log);
}

Test(sync_hooks, config_errors_name_the_place)
{
	write_config("    hooks:\n      after_sync: x\n      timeout: forever\n");
	cr_assert_eq(sync_run_args(NULL), 78);
	cr_assert_not_null(strstr(sh.r.err, "config.yaml:15:16: invalid duration for \"timeout\""), "%s",
	                   sh.r.err);
	write_config("    hooks:\n      aftersync: x\n");
	cr_assert_eq(sync_run_args(NULL), 78);
	cr_assert_not_null(strstr(sh.r.err, "config.yaml:14:7: unknown key \"aftersync\" in hooks of account "
	                                    "\"t\" (did you mean \"after_sync\"?)"),
	                   "%s", sh.r.err);
}
