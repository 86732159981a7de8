#include "twinbox/util/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void error_clear(struct error *err)
{
	if (!err)
		return;
	err->scope = ERR_NONE;
	err->retry = ERR_RETRY_NO;
	err->cause = ERR_CAUSE_NONE;
	err->text[0] = '\0';
}

int error_vset(struct error *err, enum err_scope scope, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	err->scope = scope == ERR_NONE ? ERR_FATAL : scope;
	err->retry = ERR_RETRY_NO;
	err->cause = ERR_CAUSE_NONE;
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	return -1;
}

int error_set(struct error *err, enum err_scope scope, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, scope, fmt, ap);
	va_end(ap);
	return -1;
}

int error_errno(struct error *err, enum err_scope scope, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (!err)
		return -1;
	va_start(ap, fmt);
	error_vset(err, scope, fmt, ap);
	va_end(ap);
	len = strlen(err->text);
	snprintf(err->text + len, sizeof(err->text) - len, ": %s%s", strerror(errnum),
	         errnum == ENOSPC || errnum == EDQUOT
	             ? " (free some space, then run twinbox again: what was not written is tried again, "
	               "nothing is lost)"
	             : "");
	return -1;
}

void error_prefix(struct error *err, const char *fmt, ...)
{
	char old[ERROR_TEXT_MAX];
	va_list ap;
	size_t len;

	if (!err)
		return;
	memcpy(old, err->text, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	len = strlen(err->text);
	snprintf(err->text + len, sizeof(err->text) - len, ": %s", old);
}

void error_escalate(struct error *err, enum err_scope scope)
{
	if (err && err->scope < scope)
		err->scope = scope;
}

const char *err_scope_name(enum err_scope scope)
{
	switch (scope) {
	case ERR_NONE:
		return "none";
	case ERR_MESSAGE:
		return "message";
	case ERR_MAILBOX:
		return "mailbox";
	case ERR_ACCOUNT:
		return "account";
	case ERR_FATAL:
		return "fatal";
	}
	return "unknown";
}
