/*
 * util: running a user's command (command.h). The timeout, the process
 * group and the bounded output are also tested through password_command
 * (test_config_password.c); here what the hooks add: the environment,
 * stdout sent nowhere, and how each ending is told.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/command.h"

static void run(const char *command, const struct command_options *o, struct command_result *r)
{
	cr_assert_eq(command_run(command, o, r), 0, "%s could not start", command);
}

Test(util_command, env_entries_reach_the_command_and_replace_ours)
{
	/* A value is data: the shell never reads it as a command. */
	const char *env[] = {"TWINBOX_T_A=$(touch /tmp/never); echo x`id`", "HOME=/nowhere", NULL};
	struct command_options o = {.timeout_ms = 5000, .out_max = 4096, .env = env};
	struct command_result r;

	setenv("TWINBOX_T_KEEP", "kept", 1);
	run("printf '%s|%s|%s' \"$TWINBOX_T_A\" \"$HOME\" \"$TWINBOX_T_KEEP\"", &o, &r);
	cr_assert_eq(r.end, COMMAND_EXITED);
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "$(touch /tmp/never); echo x`id`|/nowhere|kept");
	command_result_free(&r);
	/* Replaced, not added twice: one HOME in the environment. */
	run("env | grep -c '^HOME='", &o, &r);
	cr_assert_str_eq(r.out, "1\n");
	command_result_free(&r);
}

Test(util_command, stdout_can_go_nowhere)
{
	struct command_options o = {.timeout_ms = 5000};
	struct command_result r;

	run("yes | head -c 1000000; echo oops >&2; exit 3", &o, &r);
	cr_assert_eq(r.end, COMMAND_EXITED);
	cr_assert_eq(r.status, 3);
	cr_assert_null(r.out);
	cr_assert_eq(r.err_len, 5);
	cr_assert_eq(memcmp(r.err, "oops\n", 5), 0);
	command_result_free(&r);
}

Test(util_command, endings_are_told_apart)
{
	struct command_options o = {.timeout_ms = 300};
	struct command_result r;
	char note[COMMAND_NOTE_SIZE];

	run("kill -TERM $$", &o, &r);
	cr_assert_eq(r.end, COMMAND_SIGNALED);
	cr_assert_eq(r.status, SIGTERM);
	command_result_free(&r);
	run("echo 'waiting \"here\"' >&2; sleep 10", &o, &r);
	cr_assert_eq(r.end, COMMAND_TIMED_OUT);
	command_stderr_note(&r, note, sizeof(note));
	cr_assert_str_eq(note, " (stderr: \"waiting \\x22here\\x22\")");
	command_result_free(&r);
	run("no-such-command-twinbox", &o, &r);
	cr_assert_eq(r.end, COMMAND_EXITED);
	cr_assert_eq(r.status, 127);
	command_result_free(&r);
	run("true", &o, &r);
	command_stderr_note(&r, note, sizeof(note));
	cr_assert_str_eq(note, " (it printed nothing on stderr)");
	command_result_free(&r);
}
