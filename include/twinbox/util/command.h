/*
 * Running a command the user wrote in the config (password_command,
 * hooks), as `/bin/sh -c COMMAND`:
 *   - in its own process group, so that a timeout kills whatever the
 *     shell started;
 *   - stdin from /dev/null, no file descriptors of ours beyond 0-2,
 *     default signal handling (SIGPIPE, SIGINT, ... back to default, none
 *     blocked);
 *   - our environment, with the caller's "NAME=value" entries set on top
 *     (each replaces ours of that name). Values reach the command only
 *     through the environment: nothing is ever pasted into the command
 *     text, so what a value holds cannot change what the shell runs;
 *   - its stdout read into a buffer of at most `out_max` bytes (or sent
 *     to /dev/null), the first COMMAND_STDERR_KEEP bytes of its stderr
 *     kept for messages;
 *   - waited for at most `timeout_ms`: then, or once it printed more
 *     than `out_max`, its process group is killed with SIGKILL and
 *     reaped.
 * It returns once the shell exited, even if something it started in the
 * background still holds the pipes open. Safe to call from several
 * threads at once; it never prints.
 */
#ifndef TWINBOX_UTIL_COMMAND_H
#define TWINBOX_UTIL_COMMAND_H

#include <stddef.h>

#define COMMAND_STDERR_KEEP 1024 /* bytes of stderr kept */
#define COMMAND_QUOTE_MAX   200  /* bytes of stderr's first line quoted */

struct command_options {
	int timeout_ms; /* > 0 */
	/* Bytes of stdout kept; more ends the command (COMMAND_TOO_MUCH).
	 * 0: stdout goes to /dev/null. */
	size_t out_max;
	/* "NAME=value" entries for the command's environment,
	 * NULL-terminated; NULL: ours as it is. */
	const char *const *env;
};

enum command_end {
	COMMAND_EXITED,    /* status: its exit status */
	COMMAND_SIGNALED,  /* status: the signal that ended it */
	COMMAND_TIMED_OUT, /* killed after timeout_ms */
	COMMAND_TOO_MUCH,  /* printed more than out_max bytes: killed */
	COMMAND_LOST,      /* its exit status was collected elsewhere (a SIGCHLD handler: a bug) */
};

struct command_result {
	enum command_end end;
	int status;
	/* stdout: out_max + 1 bytes (NUL-terminated at out_len), or NULL
	 * when out_max is 0; wiped by command_result_free, since it may be
	 * a password. */
	char *out;
	size_t out_len;
	char err[COMMAND_STDERR_KEEP]; /* the start of stderr, not NUL-terminated */
	size_t err_len;
};

/* Run `command` (see above). Returns 0 with *r filled however the command
 * ended, or -1 with errno set when it could not be started (no pipe, no
 * /bin/sh); *r then holds nothing to free. Release *r with
 * command_result_free(). */
int command_run(const char *command, const struct command_options *o, struct command_result *r);

/* Wipe and free what *r holds. */
void command_result_free(struct command_result *r);

/* For messages: " (stderr: \"first line\")", the first line of its
 * stderr cut at COMMAND_QUOTE_MAX bytes ("..." then), control bytes,
 * '"' and '\' as \xNN; or " (it printed nothing on stderr)". Written
 * into `out` (COMMAND_NOTE_SIZE bytes is always enough). */
#define COMMAND_NOTE_SIZE (4 * COMMAND_QUOTE_MAX + 64)
void command_stderr_note(const struct command_result *r, char *out, size_t size);

#endif
