/*
 * config: getting a password from the config or from password_command.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/config/password.h"
#include "twinbox/util/log.h"

static char *run_ok(const char *command)
{
	struct error err;
	char *pw;

	error_clear(&err);
	pw = password_run_command("work", command, 5000, &err);
	cr_assert_not_null(pw, "%s: %s", command, err.text);
	return pw;
}

static void run_fails(const char *command, int timeout_ms, struct error *err)
{
	char *pw;

	error_clear(err);
	pw = password_run_command("work", command, timeout_ms, err);
	cr_assert_null(pw, "%s succeeded", command);
	cr_assert_eq(err->scope, ERR_ACCOUNT);
	cr_assert(strstr(err->text, "account \"work\"") != NULL, "%s", err->text);
}

Test(config, password_command_trailing_newline_is_stripped)
{
	char *pw = run_ok("printf 'hunter22\\n'");

	cr_assert_str_eq(pw, "hunter22");
	password_free(pw);
	pw = run_ok("printf 'hunter22\\r\\n'");
	cr_assert_str_eq(pw, "hunter22");
	password_free(pw);
	pw = run_ok("printf 'no newline'");
	cr_assert_str_eq(pw, "no newline");
	password_free(pw);
	/* Spaces belong to the password. */
	pw = run_ok("printf ' pass word \\n'");
	cr_assert_str_eq(pw, " pass word ");
	password_free(pw);
}

Test(config, password_command_only_one_newline_is_stripped)
{
	struct error err;

	run_fails("printf 'hunter22\\n\\n'", 5000, &err);
	cr_assert(strstr(err.text, "printed more than one line") != NULL, "%s", err.text);
	run_fails("printf 'hunter22\\nuser: alice\\n'", 5000, &err);
	cr_assert(strstr(err.text, "head -n 1") != NULL, "%s", err.text);
}

Test(config, password_command_failure_reports_status_and_stderr)
{
	struct error err;

	run_fails("echo 'gpg: decryption failed: No secret key' >&2; echo 'second line' >&2; exit 3", 5000,
	          &err);
	cr_assert(strstr(err.text, "failed with exit status 3") != NULL, "%s", err.text);
	cr_assert(strstr(err.text, "stderr: \"gpg: decryption failed: No secret key\"") != NULL, "%s",
	          err.text);
	cr_assert(strstr(err.text, "second line") == NULL, "only the first stderr line: %s", err.text);
}

Test(config, password_command_failure_without_stderr)
{
	struct error err;

	run_fails("exit 1", 5000, &err);
	cr_assert(strstr(err.text, "exit status 1 (it printed nothing on stderr)") != NULL, "%s", err.text);
}

Test(config, password_command_empty_output)
{
	struct error err;

	run_fails("true", 5000, &err);
	cr_assert(strstr(err.text, "printed no password") != NULL, "%s", err.text);
	run_fails("echo", 5000, &err);
	cr_assert(strstr(err.text, "printed no password") != NULL, "%s", err.text);
}

Test(config, password_command_stdin_is_dev_null)
{
	struct error err;

	/* `cat` would hang on a terminal or pipe; with /dev/null it ends. */
	run_fails("cat", 5000, &err);
	cr_assert(strstr(err.text, "printed no password") != NULL, "%s", err.text);
}

Test(config, password_command_timeout_kills_it)
{
	struct timespec t0, t1;
	struct error err;
	double elapsed;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_fails("sleep 5", 1000, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert(elapsed >= 0.9 && elapsed < 3.0, "took %.2f s", elapsed);
	cr_assert(strstr(err.text, "did not finish within 1.000 s and was killed") != NULL, "%s", err.text);
	cr_assert(strstr(err.text, "password_command_timeout") != NULL, "%s", err.text);
}

/* Whether `pid` is gone or only a zombie waiting for init to reap it. */
static bool process_dead(pid_t pid)
{
	char path[64], state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = '?';
	fclose(f);
	return state == 'Z' || state == 'X';
}

Test(config, password_command_timeout_kills_the_process_group)
{
	char pidfile[] = "/tmp/twinbox-pw-XXXXXX";
	char command[256];
	struct error err;
	int fd = mkstemp(pidfile), pid = 0;
	FILE *f;

	cr_assert(fd >= 0);
	close(fd);
	/* A grandchild that does not hold our pipes: only the group kill
	 * reaches it. */
	snprintf(command, sizeof(command), "sleep 30 >/dev/null 2>&1 & echo $! > %s; wait", pidfile);
	run_fails(command, 1000, &err);
	f = fopen(pidfile, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	unlink(pidfile);
	cr_assert(pid > 0);
	for (int i = 0; i < 100 && !process_dead(pid); i++)
		usleep(10000);
	cr_assert(process_dead(pid), "grandchild %d still runs", pid);
}

Test(config, password_command_killed_by_signal)
{
	struct error err;

	run_fails("kill -TERM $$", 5000, &err);
	cr_assert(strstr(err.text, "killed by signal 15") != NULL, "%s", err.text);
}

Test(config, password_command_output_is_bounded)
{
	struct error err;

	run_fails("head -c 100000 /dev/zero | tr '\\0' a", 5000, &err);
	cr_assert(strstr(err.text, "printed more than 65536 bytes") != NULL, "%s", err.text);
}

Test(config, password_command_exits_while_a_daemon_keeps_stdout)
{
	char *pw;
	struct timespec t0, t1;

	/* Like `pass` starting gpg-agent: the shell exits, a background
	 * process still holds stdout. The password is there; do not wait for
	 * the daemon. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pw = run_ok("sleep 3 & echo hunter22");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_str_eq(pw, "hunter22");
	cr_assert(t1.tv_sec - t0.tv_sec < 2, "waited for the background process");
	password_free(pw);
}

Test(config, resolve_password_uses_literal_or_command)
{
	struct config_account acct = {0};
	struct error err;
	char *pw = NULL;

	acct.name = (char *)"lit";
	acct.side[SIDE_A].conn.password = (char *)"literal-pw";
	error_clear(&err);
	pw = config_resolve_password(&acct, &err);
	cr_assert_not_null(pw, "%s", err.text);
	cr_assert_str_eq(pw, "literal-pw");
	password_free(pw);

	acct.name = (char *)"cmd";
	acct.side[SIDE_A].conn.password = NULL;
	acct.side[SIDE_A].conn.password_command = (char *)"echo from-command; exit 2";
	acct.side[SIDE_A].conn.password_command_timeout_ms = 5000;
	cr_assert_null(config_resolve_password(&acct, &err));
	cr_assert(strstr(err.text, "account \"cmd\"") != NULL, "%s", err.text);
	cr_assert(strstr(err.text, "exit status 2") != NULL, "%s", err.text);
	cr_assert(strstr(err.text, "echo from-command") == NULL, "the command is never quoted: %s", err.text);

	acct.side[SIDE_A].conn.password_command = (char *)"echo from-command";
	pw = config_resolve_password(&acct, &err);
	cr_assert_not_null(pw, "%s", err.text);
	cr_assert_str_eq(pw, "from-command");
	password_free(pw);
}

Test(config, password_command_does_not_inherit_our_descriptors)
{
	char *pw;
	int fds[2];
	char command[64];

	cr_assert_eq(pipe(fds), 0);
	snprintf(command, sizeof(command), "if [ -e /proc/self/fd/%d ]; then echo leak; else echo ok; fi",
	         fds[0]);
	pw = run_ok(command);
	cr_assert_str_eq(pw, "ok");
	password_free(pw);
	close(fds[0]);
	close(fds[1]);
}
