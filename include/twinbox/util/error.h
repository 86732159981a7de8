/*
 * Error values. A failing function returns -1 (or NULL) and fills a
 * caller-owned `struct error` with a scope and a message written where the
 * failure was detected. Callers may add context in front with
 * error_prefix(). The scope says how much work must be abandoned:
 *
 *   ERR_MESSAGE  this one message is skipped; the folder goes on
 *   ERR_MAILBOX  this folder is abandoned; other folders go on
 *   ERR_ACCOUNT  this account is abandoned (login failed, connection lost)
 *   ERR_FATAL    the whole run stops (config unreadable, disk full, bug)
 *
 * Messages are complete sentences for a user: what failed, why, and where
 * it helps, what to do about it. They never contain a password.
 *
 * Apart from its scope, an error says whether the same work may succeed
 * if tried again later, with nothing changed (`retry`); it is set where
 * the failure is detected, never guessed from the text:
 *
 *   ERR_RETRY_NO    as far as anyone can tell it fails again
 *   ERR_RETRY_BUSY  the server said so: it is busy or unavailable
 *                   ([UNAVAILABLE]), at a limit ([LIMIT]: often of
 *                   connections), the mailbox is in use ([INUSE]), or it
 *                   ended the session (BYE: "too many connections", a
 *                   shutdown)
 *   ERR_RETRY_LOST  the connection was refused, reset, timed out or
 *                   closed without a word: a server restarting or
 *                   overloaded, or (at a first connection) a wrong host
 *                   or port
 *
 * error_set() and its kin make ERR_RETRY_NO errors; the code that knows
 * sets `retry` after them. error_prefix() and error_escalate() keep it.
 *
 * A few failures also carry a cause, for a caller that acts on that
 * kind of failure beyond its scope (error_set clears it; copies,
 * error_prefix and error_escalate keep it).
 */
#ifndef TWINBOX_UTIL_ERROR_H
#define TWINBOX_UTIL_ERROR_H

#include <stdarg.h>

enum err_scope {
	ERR_NONE = 0,
	ERR_MESSAGE,
	ERR_MAILBOX,
	ERR_ACCOUNT,
	ERR_FATAL,
};

enum err_retry {
	ERR_RETRY_NO = 0,
	ERR_RETRY_BUSY,
	ERR_RETRY_LOST,
};

enum err_cause {
	ERR_CAUSE_NONE = 0,
	/* The store refused to take more because it is full: over its
	 * quota (IMAP [OVERQUOTA], RFC 5530). */
	ERR_CAUSE_OVER_QUOTA,
	/* The run was asked to stop (sync_options.stop) and did, after
	 * its last durable step: nothing failed, the next run carries on. */
	ERR_CAUSE_STOPPED,
};

#define ERROR_TEXT_MAX 1024

struct error {
	enum err_scope scope;
	enum err_retry retry;
	char text[ERROR_TEXT_MAX]; /* NUL-terminated; truncated if longer */
	enum err_cause cause;      /* ERR_CAUSE_NONE unless set after error_set */
};

/* Reset to "no error" (and ERR_RETRY_NO). */
void error_clear(struct error *err);

/* Set scope and message (retry: ERR_RETRY_NO); always returns -1 so that
 * callers can write `return error_set(err, ERR_ACCOUNT, "...")`. `err`
 * may be NULL. */
int error_set(struct error *err, enum err_scope scope, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int error_vset(struct error *err, enum err_scope scope, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like error_set, appending ": <strerror(errnum)>". Returns -1. */
int error_errno(struct error *err, enum err_scope scope, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Put "<context>: " in front of the current message. Keeps the scope. */
void error_prefix(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Raise the scope to at least `scope` (never lowers it). */
void error_escalate(struct error *err, enum err_scope scope);

/* "message", "mailbox", "account", "fatal" (or "none"). */
const char *err_scope_name(enum err_scope scope);

#endif
