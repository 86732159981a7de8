#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "twinbox/util/error.h"

Test(util_error, set_returns_minus_one_and_keeps_text)
{
	struct error err;

	error_clear(&err);
	cr_assert_eq(err.scope, ERR_NONE);
	cr_assert_eq(error_set(&err, ERR_MAILBOX, "folder %s is gone", "Work"), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert_str_eq(err.text, "folder Work is gone");
}

Test(util_error, prefix_adds_context_and_keeps_scope)
{
	struct error err;

	error_set(&err, ERR_ACCOUNT, "connection refused");
	error_prefix(&err, "account %s", "work");
	cr_assert_str_eq(err.text, "account work: connection refused");
	cr_assert_eq(err.scope, ERR_ACCOUNT);
}

Test(util_error, a_cause_goes_with_the_error_until_it_is_set_again)
{
	struct error err, copy;

	error_set(&err, ERR_MESSAGE, "APPEND failed: NO [OVERQUOTA] Quota exceeded");
	cr_assert_eq(err.cause, ERR_CAUSE_NONE);
	err.cause = ERR_CAUSE_OVER_QUOTA;
	error_escalate(&err, ERR_MAILBOX);
	error_prefix(&err, "adding messages to \"%s\"", "INBOX");
	copy = err;
	cr_assert_eq(copy.cause, ERR_CAUSE_OVER_QUOTA);
	cr_assert_eq(copy.scope, ERR_MAILBOX);
	error_set(&copy, ERR_MAILBOX, "another failure");
	cr_assert_eq(copy.cause, ERR_CAUSE_NONE);
	err.cause = ERR_CAUSE_OVER_QUOTA;
	error_clear(&err);
	cr_assert_eq(err.cause, ERR_CAUSE_NONE);
}

Test(util_error, errno_appends_strerror)
{
	struct error err;

	error_errno(&err, ERR_FATAL, ENOSPC, "cannot write %s", "x");
	cr_assert(strstr(err.text, "cannot write x: ") == err.text);
	cr_assert(strstr(err.text, strerror(ENOSPC)));
}

Test(util_error, a_full_disk_says_what_to_do)
{
	struct error err;

	error_errno(&err, ERR_FATAL, ENOSPC, "cannot write %s", "x");
	cr_assert(strstr(err.text, "free some space"), "%s", err.text);
	error_errno(&err, ERR_FATAL, EACCES, "cannot write %s", "x");
	cr_assert_null(strstr(err.text, "free some space"), "%s", err.text);
}

Test(util_error, long_messages_are_truncated_safely)
{
	struct error err;
	char big[4000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	error_set(&err, ERR_MESSAGE, "%s", big);
	cr_assert_eq(strlen(err.text), ERROR_TEXT_MAX - 1);
	error_prefix(&err, "ctx");
	cr_assert_eq(strlen(err.text), ERROR_TEXT_MAX - 1);
	cr_assert(strncmp(err.text, "ctx: aaa", 8) == 0);
}

Test(util_error, escalate_never_lowers)
{
	struct error err;

	error_set(&err, ERR_ACCOUNT, "x");
	error_escalate(&err, ERR_MESSAGE);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	error_escalate(&err, ERR_FATAL);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_str_eq(err_scope_name(ERR_FATAL), "fatal");
	cr_assert_str_eq(err_scope_name(ERR_MAILBOX), "mailbox");
}

Test(util_error, null_error_is_allowed)
{
	cr_assert_eq(error_set(NULL, ERR_FATAL, "ignored"), -1);
	error_prefix(NULL, "x");
}

Test(util_error, retry_is_set_by_the_finder_and_kept_by_context)
{
	struct error err;

	error_clear(&err);
	cr_assert_eq(err.retry, ERR_RETRY_NO);
	error_set(&err, ERR_MAILBOX, "busy");
	err.retry = ERR_RETRY_BUSY;
	error_prefix(&err, "INBOX");
	error_escalate(&err, ERR_ACCOUNT);
	cr_assert_eq(err.retry, ERR_RETRY_BUSY);
	cr_assert_str_eq(err.text, "INBOX: busy");
	/* A new error is a new verdict. */
	error_set(&err, ERR_MAILBOX, "other");
	cr_assert_eq(err.retry, ERR_RETRY_NO);
	err.retry = ERR_RETRY_LOST;
	error_errno(&err, ERR_ACCOUNT, 5, "read");
	cr_assert_eq(err.retry, ERR_RETRY_NO);
	err.retry = ERR_RETRY_LOST;
	error_clear(&err);
	cr_assert_eq(err.retry, ERR_RETRY_NO);
}
