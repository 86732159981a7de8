/* Passwords: the literal from the config or the output of password_command. */
#include "twinbox/config/password.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/command.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

void password_free(char *password)
{
	if (password == NULL)
		return;
	explicit_bzero(password, strlen(password));
	free(password);
}

/* Check the output and make the password of it; returns 0 or -1. */
static int finish(const char *account, const struct command_result *co, char **password_r, struct error *err)
{
	char note[COMMAND_NOTE_SIZE];
	size_t len = co->out_len;

	command_stderr_note(co, note, sizeof(note));
	if (len > 0 && co->out[len - 1] == '\n') {
		len--;
		if (len > 0 && co->out[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		return error_set(err, ERR_ACCOUNT,
		                 "the password_command of account \"%s\" printed no password%s", account,
		                 note);
	if (memchr(co->out, '\0', len) != NULL)
		return error_set(
		    err, ERR_ACCOUNT,
		    "the password_command of account \"%s\" printed a NUL byte; it must print only "
		    "the password",
		    account);
	if (memchr(co->out, '\n', len) != NULL || memchr(co->out, '\r', len) != NULL)
		return error_set(
		    err, ERR_ACCOUNT,
		    "the password_command of account \"%s\" printed more than one line; it must print "
		    "only the password (for pass, use \"pass show NAME | head -n 1\")",
		    account);
	*password_r = xstrndup(co->out, len);
	return 0;
}

char *password_run_command(const char *account, const char *command, int timeout_ms, struct error *err)
{
	struct command_options o = {.timeout_ms = timeout_ms, .out_max = PASSWORD_OUTPUT_MAX};
	struct command_result co;
	char note[COMMAND_NOTE_SIZE];
	char *password = NULL;

	log_debug("running the password_command of account \"%s\"", account);
	if (command_run(command, &o, &co) < 0) {
		error_errno(err, ERR_ACCOUNT, errno, "cannot run the password_command of account \"%s\"",
		            account);
		return NULL;
	}
	command_stderr_note(&co, note, sizeof(note));
	if (co.end == COMMAND_TIMED_OUT)
		error_set(
		    err, ERR_ACCOUNT,
		    "the password_command of account \"%s\" did not finish within %d.%03d s and was killed; "
		    "if it waits for a passphrase, raise password_command_timeout%s",
		    account, timeout_ms / 1000, timeout_ms % 1000, note);
	else if (co.end == COMMAND_TOO_MUCH)
		error_set(
		    err, ERR_ACCOUNT,
		    "the password_command of account \"%s\" printed more than %d bytes; it must print only "
		    "the password",
		    account, PASSWORD_OUTPUT_MAX);
	else if (co.end == COMMAND_LOST)
		error_set(err, ERR_ACCOUNT,
		          "lost the exit status of the password_command of account \"%s\" (it was collected "
		          "elsewhere); this is a bug",
		          account);
	else if (co.end == COMMAND_SIGNALED)
		error_set(err, ERR_ACCOUNT,
		          "the password_command of account \"%s\" was killed by signal %d (%s)%s", account,
		          co.status, strsignal(co.status), note);
	else if (co.status != 0)
		error_set(err, ERR_ACCOUNT,
		          "the password_command of account \"%s\" failed with exit status %d%s", account,
		          co.status, note);
	else
		finish(account, &co, &password, err);
	command_result_free(&co);
	return password;
}

char *config_side_password(const struct config_account *acct, enum side side, struct error *err)
{
	const struct config_conn *c = &acct->side[side].conn;
	int timeout_ms = c->password_command_timeout_ms > 0 ? c->password_command_timeout_ms : 30000;
	char *password;

	if (c->password != NULL) {
		password = xstrdup(c->password);
		return password;
	}
	if (c->password_command == NULL) {
		error_set(err, ERR_ACCOUNT, "%saccount \"%s\" has neither password nor password_command",
		          !acct->two_servers ? ""
		          : side == SIDE_A   ? "the source of "
		                             : "the target of ",
		          acct->name);
		return NULL;
	}
	return password_run_command(acct->name, c->password_command, timeout_ms, err);
}

char *config_resolve_password(const struct config_account *acct, struct error *err)
{
	return config_side_password(acct, SIDE_A, err);
}
