/*
 * Run the twinbox binary under test (TWINBOX_BIN, set by `make check`)
 * and capture what it printed and its exit status.
 */
#ifndef TWINBOX_TESTS_RUN_H
#define TWINBOX_TESTS_RUN_H

#include <stddef.h>

struct run_result {
	int status; /* exit code; 128 + signal number when killed */
	char *out;  /* stdout, NUL-terminated */
	char *err;  /* stderr, NUL-terminated */
};

/* Run `twinbox` with the NULL-terminated `args` (not including argv[0]),
 * stdin from /dev/null, at most `timeout_s` seconds (then SIGKILL and the
 * test fails). Aborts the test if the binary cannot be started. */
void run_twinbox(const char *const *args, int timeout_s, struct run_result *r);
void run_result_free(struct run_result *r);

/* Write `text` to a fresh file in a fresh temporary directory with
 * `mode`; returns its path (caller frees; remove with test_rmtree of the
 * directory, see below). */
char *test_write_temp(const char *name, const char *text, unsigned mode);
/* One account on 127.0.0.1 for test_account_config(). */
struct test_account {
	const char *name;
	const char *kind; /* "imap" or "pop3" */
	unsigned port;
	const char *tls;     /* "implicit", "starttls", "none" */
	const char *ca_file; /* NULL: none */
	const char *user, *password;
	const char *auth; /* the auth: list without brackets; NULL or "": none */
};

/* A config file with that one account in a fresh temporary directory,
 * with state_dir (state/) and the account's Maildir (its name) beside it,
 * timeout 10 s; returns the file's path as test_write_temp() does. */
char *test_account_config(const struct test_account *a);

/* Remove the temporary directory of *path (from test_write_temp or
 * test_account_config), free *path and set it to NULL; NULL is fine. */
void test_forget_temp(char **path);

/* Remove a directory tree created by the tests. */
void test_rmtree(const char *dir);

#endif
