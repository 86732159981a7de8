/*
 * Getting an account's password, only when it is needed (just before a
 * login, or for `check-config --connect`), never at config load time.
 *
 * A `password_command` runs as util/command.h runs a command (`/bin/sh
 * -c COMMAND` in its own process group, stdin from /dev/null, no file
 * descriptors of ours beyond 0-2, default signal handling, our
 * environment). Its stdout is the password: at most
 * PASSWORD_OUTPUT_MAX bytes, with one trailing "\n" or "\r\n" removed; it
 * must then be non-empty and a single line without NUL bytes (for a
 * multi-line store such as `pass`, use `pass show x | head -n 1`). A
 * non-zero exit, a signal, empty or multi-line output, or not finishing
 * within the timeout (the whole process group is then killed with
 * SIGKILL) is an error naming the account and quoting the first line of
 * the command's stderr (bounded, control characters escaped). Messages
 * never quote the command itself, which may embed a secret.
 */
#ifndef TWINBOX_CONFIG_PASSWORD_H
#define TWINBOX_CONFIG_PASSWORD_H

#include "twinbox/config/config.h"
#include "twinbox/util/command.h"
#include "twinbox/util/error.h"

#define PASSWORD_OUTPUT_MAX (64 * 1024)       /* bytes of stdout read */
#define PASSWORD_STDERR_MAX COMMAND_QUOTE_MAX /* bytes of stderr quoted */

/* The password of side `side` of `acct`: the literal `password:` or the
 * output of its `password_command` (with its password_command_timeout_ms).
 * Returns a fresh string (release it with password_free, which wipes it), or NULL
 * with `err` filled (ERR_ACCOUNT). */
char *config_side_password(const struct config_account *acct, enum side side, struct error *err);
/* config_side_password() of side A, the account's server (or source). */
char *config_resolve_password(const struct config_account *acct, struct error *err);

/* Run `command` as described above, `timeout_ms` > 0. `account` names the
 * account in messages. Same results as config_resolve_password. */
char *password_run_command(const char *account, const char *command, int timeout_ms, struct error *err);

/* Wipe and free a password; NULL is fine. */
void password_free(char *password);

#endif
