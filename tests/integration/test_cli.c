/*
 * End-to-end: the twinbox binary, its options, exit codes and
 * check-config, including --connect against the fixture Dovecot.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct run_result r;
static char *cfg_path;

static void cleanup(void)
{
	run_result_free(&r);
	if (cfg_path) {
		char *dir = xstrdup(cfg_path);
		test_rmtree(dirname(dir));
		free(dir);
		free(cfg_path);
		cfg_path = NULL;
	}
}

TestSuite(cli, .fini = cleanup);

/* A config with one account per `accounts` text (already indented). */
static const char *write_config(const char *accounts)
{
	char *text = xasprintf("state_dir: /tmp/twinbox-state-unused\naccounts:\n%s", accounts);

	cfg_path = test_write_temp("config.yaml", text, 0600);
	free(text);
	return cfg_path;
}

static char *imap_account(const char *name, const char *host, unsigned port, const char *tls,
                          const char *ca_file, const char *password_line)
{
	struct dovecot *d = dovecot_shared();

	return xasprintf("  %s:\n"
	                 "    imap:\n"
	                 "      host: \"%s\"\n"
	                 "      port: %u\n"
	                 "      tls: %s\n"
	                 "      user: %s\n"
	                 "%s%s%s"
	                 "      %s\n"
	                 "      timeout: 5s\n"
	                 "    maildir:\n"
	                 "      path: /tmp/twinbox-mail-unused/%s\n",
	                 name, host, port, tls, d->user, ca_file ? "      ca_file: \"" : "",
	                 ca_file ? ca_file : "", ca_file ? "\"\n" : "", password_line, name);
}

Test(cli, help_lists_commands_and_exit_codes)
{
	run_twinbox(ARGS("--help"), 10, &r);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "check-config"), "%s", r.out);
	cr_assert(strstr(r.out, "Exit codes"), "%s", r.out);
	run_result_free(&r);
	run_twinbox(ARGS("help"), 10, &r);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Usage: twinbox"));
}

Test(cli, version)
{
	run_twinbox(ARGS("--version"), 10, &r);
	cr_assert_eq(r.status, 0);
	cr_assert(strncmp(r.out, "twinbox ", 8) == 0, "%s", r.out);
}

Test(cli, no_command_is_a_usage_error)
{
	run_twinbox(ARGS("-v"), 10, &r);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "Usage:"), "%s", r.err);
}

Test(cli, unknown_command_and_option)
{
	run_twinbox(ARGS("frobnicate"), 10, &r);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "unknown command \"frobnicate\""), "%s", r.err);
	run_result_free(&r);
	run_twinbox(ARGS("check-config", "--frob"), 10, &r);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "unknown option --frob"), "%s", r.err);
	run_result_free(&r);
	run_twinbox(ARGS("check-config", "--config"), 10, &r);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "a file name must follow"), "%s", r.err);
}

Test(cli, check_config_valid_with_options_after_the_command)
{
	char *acct = imap_account("work", "127.0.0.1", 993, "implicit", NULL, "password: x");
	const char *path = write_config(acct);

	run_twinbox(ARGS("check-config", "--config", path, "-q"), 10, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "valid, 1 account"), "%s", r.out);
	cr_assert(strstr(r.out, "work: imap 127.0.0.1:993 as tbuser (TLS)"), "%s", r.out);
	run_result_free(&r);
	run_twinbox(ARGS("--config", path, "check-config"), 10, &r);
	cr_assert_eq(r.status, 0, "global option before the command: %s", r.err);
	free(acct);
}

Test(cli, check_config_reports_position_and_exit_78)
{
	const char *path = write_config("  work:\n    imap:\n      hots: x\n");

	run_twinbox(ARGS("check-config", "--config", path), 10, &r);
	cr_assert_eq(r.status, 78);
	cr_assert(strstr(r.err, "config.yaml:5:7:"), "%s", r.err);
	cr_assert(strstr(r.err, "\"hots\""), "%s", r.err);
}

Test(cli, missing_config_file_names_it)
{
	run_twinbox(ARGS("check-config", "--config", "/tmp/twinbox-no-such-dir/config.yaml"), 10, &r);
	cr_assert_eq(r.status, 78);
	cr_assert(strstr(r.err, "/tmp/twinbox-no-such-dir/config.yaml"), "%s", r.err);
}

Test(cli, default_config_path_follows_xdg)
{
	char *dir = xstrdup("/tmp/twinbox-xdg-XXXXXX");
	char *old = getenv("XDG_CONFIG_HOME") ? xstrdup(getenv("XDG_CONFIG_HOME")) : NULL;

	cr_assert_not_null(mkdtemp(dir));
	setenv("XDG_CONFIG_HOME", dir, 1);
	run_twinbox(ARGS("check-config"), 10, &r);
	cr_assert_eq(r.status, 78);
	cr_assert(strstr(r.err, "twinbox/config.yaml"), "%s", r.err);
	cr_assert(strstr(r.err, dir), "%s", r.err);
	test_rmtree(dir);
	if (old)
		setenv("XDG_CONFIG_HOME", old, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	free(old);
	free(dir);
}

Test(cli, unknown_account_is_a_usage_error)
{
	char *acct = imap_account("work", "127.0.0.1", 993, "implicit", NULL, "password: x");
	const char *path = write_config(acct);

	run_twinbox(ARGS("check-config", "--config", path, "home"), 10, &r);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "no account named \"home\""), "%s", r.err);
	free(acct);
}

Test(cli, connect_implicit_tls_shows_greeting_and_capabilities)
{
	struct dovecot *d = dovecot_shared();
	char *pw = xasprintf("password_command: \"echo %s\"", d->password);
	char *acct = imap_account("work", "127.0.0.1", d->imaps_port, "implicit", d->ca_file, pw);
	const char *path = write_config(acct);
	char *want = xasprintf("work: connected to 127.0.0.1:%u, TLS1.", d->imaps_port);

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, want), "%s", r.out);
	cr_assert(strstr(r.out, "certificate verified"), "%s", r.out);
	cr_assert(strstr(r.out, "greeting: * OK"), "%s", r.out);
	cr_assert(strstr(r.out, "IMAP4rev1"), "%s", r.out);
	free(want);
	free(acct);
	free(pw);
}

Test(cli, connect_starttls_upgrades_and_rereads_capabilities)
{
	struct dovecot *d = dovecot_shared();
	char *pw = xasprintf("password: \"%s\"", d->password);
	char *acct = imap_account("work", "127.0.0.1", d->imap_port, "starttls", d->ca_file, pw);
	const char *path = write_config(acct);
	const char *caps;

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "TLS1."), "%s", r.out);
	caps = strstr(r.out, "capabilities: ");
	cr_assert_not_null(caps, "%s", r.out);
	/* After the upgrade Dovecot no longer offers STARTTLS nor LOGINDISABLED. */
	cr_assert_null(strstr(caps, "STARTTLS"), "capabilities not re-read after TLS: %s", caps);
	cr_assert_null(strstr(caps, "LOGINDISABLED"), "%s", caps);
	free(acct);
	free(pw);
}

Test(cli, connect_refuses_starttls_when_not_offered)
{
	struct dovecot *d = dovecot_shared();
	char *acct = imap_account("work", DOVECOT_ADDR_NO_STARTTLS, d->imap_port, "starttls", d->ca_file,
	                          "password: x");
	const char *path = write_config(acct);

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 2, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "does not offer STARTTLS"), "%s", r.err);
	cr_assert_null(strstr(r.out, "connected"), "%s", r.out);
	free(acct);
}

Test(cli, connect_refuses_unknown_ca)
{
	struct dovecot *d = dovecot_shared();
	char *acct =
	    imap_account("work", "127.0.0.1", d->imaps_port, "implicit", d->other_ca_file, "password: x");
	const char *path = write_config(acct);

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 2, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "ca_file"), "message should say how to fix it: %s", r.err);
	free(acct);
}

Test(cli, connect_pop3_implicit_and_stls)
{
	struct dovecot *d = dovecot_shared();
	char *text = xasprintf(
	    "  mail:\n    pop3:\n      host: localhost\n      port: %u\n      tls: implicit\n"
	    "      user: %s\n      password: \"%s\"\n      ca_file: \"%s\"\n"
	    "    maildir:\n      path: /tmp/twinbox-unused/a\n"
	    "  mail2:\n    pop3:\n      host: localhost\n      port: %u\n      tls: starttls\n"
	    "      user: %s\n      password: \"%s\"\n      ca_file: \"%s\"\n"
	    "    maildir:\n      path: /tmp/twinbox-unused/b\n",
	    d->pop3s_port, d->user, d->password, d->ca_file, d->pop3_port, d->user, d->password, d->ca_file);
	const char *path = write_config(text);

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "mail: connected to localhost"), "%s", r.out);
	cr_assert(strstr(r.out, "mail2: connected to localhost"), "%s", r.out);
	cr_assert(strstr(r.out, "greeting: +OK"), "%s", r.out);
	cr_assert(strstr(r.out, "UIDL"), "%s", r.out);
	free(text);
}

Test(cli, one_account_failing_gives_exit_1)
{
	struct dovecot *d = dovecot_shared();
	char *pw = xasprintf("password: \"%s\"", d->password);
	char *good = imap_account("good", "127.0.0.1", d->imaps_port, "implicit", d->ca_file, pw);
	char *bad =
	    imap_account("bad", DOVECOT_ADDR_EXPIRED, d->imaps_port, "implicit", d->ca_file, "password: x");
	char *both = xasprintf("%s%s", good, bad);
	const char *path = write_config(both);

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 1, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "good: connected"), "%s", r.out);
	cr_assert(strstr(r.err, "bad: "), "%s", r.err);
	cr_assert(strstr(r.err, "expired"), "%s", r.err);
	free(pw);
	free(good);
	free(bad);
	free(both);
}

Test(cli, failing_password_command_stops_before_connecting)
{
	char *acct = imap_account("work", "127.0.0.1", 1, "implicit", NULL,
	                          "password_command: \"echo no such entry >&2; exit 3\"");
	const char *path = write_config(acct);

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no such entry"), "%s", r.err);
	cr_assert_null(strstr(r.err, "refused"), "must not have tried to connect: %s", r.err);
	free(acct);
}

Test(cli, trace_never_shows_the_password)
{
	struct dovecot *d = dovecot_shared();
	char *pw = xasprintf("password_command: \"echo %s; echo %s >&2\"", d->password, d->password);
	char *acct = imap_account("work", "127.0.0.1", d->imap_port, "starttls", d->ca_file, pw);
	const char *path = write_config(acct);

	run_twinbox(ARGS("-vv", "check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.err, "C: T1 CAPABILITY"), "trace expected with -vv: %s", r.err);
	cr_assert(strstr(r.out, "login: accepted"), "the login is part of the check: %s", r.out);
	cr_assert_null(strstr(r.err, d->password), "%s", r.err);
	cr_assert_null(strstr(r.out, d->password), "%s", r.out);
	free(acct);
	free(pw);
}

Test(cli, unreachable_port_is_reported)
{
	char *acct = imap_account("work", "127.0.0.1", 1, "implicit", NULL, "password: x");
	const char *path = write_config(acct);

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "127.0.0.1"), "%s", r.err);
	cr_assert(strstr(r.err, "refused"), "%s", r.err);
	free(acct);
}

/* --connect logs in: a wrong password is caught there, with a clear
 * message and a non-zero exit. */
Test(cli, connect_logs_in_and_catches_a_wrong_password)
{
	struct dovecot *d = dovecot_shared();
	char *imap = imap_account("work", "127.0.0.1", d->imaps_port, "implicit", d->ca_file,
	                          "password: wrong-password-123");
	char *pop3 = xasprintf("  old:\n    pop3:\n      host: 127.0.0.1\n      port: %u\n"
	                       "      user: %s\n      password: wrong-password-456\n      ca_file: \"%s\"\n"
	                       "    maildir:\n      path: /tmp/twinbox-unused/old\n",
	                       d->pop3s_port, d->user, d->ca_file);
	char *both = xasprintf("%s%s", imap, pop3);
	const char *path = write_config(both);

	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 2, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "work: ") && strstr(r.err, "old: "), "%s", r.err);
	cr_assert(strstr(r.err, "refused the user name or password"), "%s", r.err);
	cr_assert_null(strstr(r.out, "login: accepted"), "%s", r.out);
	cr_assert_null(strstr(r.err, "wrong-password-123"), "%s", r.err);
	free(imap);
	free(pop3);
	free(both);
}

/* `text` with its first `from` replaced by `to` (fresh). */
static char *replaced(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);

	cr_assert_not_null(at, "no \"%s\" in %s", from, text);
	return xasprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

/* Rewrite the config written by write_config(). */
static void rewrite_config(const char *state_dir, const char *accounts)
{
	char *text = xasprintf("state_dir: %s\naccounts:\n%s", state_dir, accounts);
	struct error err;

	cr_assert_eq(fs_write_atomic(cfg_path, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
}

/* --connect checks that the Maildir path is (or can be made) a
 * directory, and that the state directory can be written. */
Test(cli, connect_checks_the_maildir_and_state_paths)
{
	struct dovecot *d = dovecot_shared();
	char *pw = xasprintf("password: \"%s\"", d->password);
	char *acct = imap_account("work", "127.0.0.1", d->imaps_port, "implicit", d->ca_file, pw);
	const char *path = write_config(acct);
	char *dir = xstrdup(path), *file, *state, *below, *on_file;
	struct error err;

	*strrchr(dir, '/') = '\0';
	file = xasprintf("%s/a-file", dir);
	state = xasprintf("%s/state", dir);
	below = xasprintf("%s/state", file);
	cr_assert_eq(fs_write_atomic(file, "x\n", 2, 0600, &err), 0, "%s", err.text);
	on_file = replaced(acct, "/tmp/twinbox-mail-unused/work", file);

	/* A Maildir path that is a file. */
	rewrite_config(state, on_file);
	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 2, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "is not a directory"), "%s", r.err);
	cr_assert(strstr(r.err, file), "the path should be named: %s", r.err);
	run_result_free(&r);

	/* A state_dir below that file: it cannot be made. */
	rewrite_config(below, acct);
	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 2, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "state directory"), "%s", r.err);
	cr_assert(strstr(r.err, "is not a directory"), "%s", r.err);
	run_result_free(&r);

	/* Paths that can be made: fine. */
	rewrite_config(state, acct);
	run_twinbox(ARGS("check-config", "--connect", "--config", path), 30, &r);
	cr_assert_eq(r.status, 0, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "does not exist yet"), "%s", r.out);
	free(pw);
	free(acct);
	free(dir);
	free(file);
	free(state);
	free(below);
	free(on_file);
}
