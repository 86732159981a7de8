/*
 * A window of pipelined commands over one session: the one place where
 * the bulk commands (UID FETCH of bodies, UID STORE, APPEND, STATUS of
 * many folders) keep several commands in flight.
 *
 * The caller supplies two callbacks: `next` builds the next command (or
 * says there is none), `done` receives each command's tagged reply. The
 * window sends what `next` builds until `window` commands are in flight,
 * then waits for the oldest, hands it to `done`, and sends the next one;
 * at the end it waits for every command still in flight. Replies reach
 * `done` in the order the commands were sent (whatever order the server
 * answered in: the session matches tags), one call per sent command.
 *
 * The run stops sending (the commands already in flight are still waited
 * for and handed to `done`) when:
 *  - `next` returns -1 (the caller's own reason: a command that cannot be
 *    built, a callback that failed...);
 *  - `done` returns -1 for a command;
 *  - a command failed and the session is lost (BYE, connection cut,
 *    timeout, malformed response), whatever `done` returned;
 *  - imap_send() failed (the session is then lost).
 * A lost session ends every waited command at once with the session's
 * error (imap_wait), so a cut connection never leaves the run hanging.
 */
#ifndef TWINBOX_IMAP_PIPELINE_H
#define TWINBOX_IMAP_PIPELINE_H

#include <stddef.h>

#include "twinbox/imap/session.h"
#include "twinbox/util/error.h"

/* One command of the window, with the caller's note of what it carries. */
struct imap_window_cmd {
	struct imap_cmd cmd; /* built by `next`; sent, waited for and freed by the window */
	size_t first, count; /* set by `next` (the caller's items in this command,
	                        e.g. messages first..first+count-1); kept as is */
};

struct imap_window_ops {
	void *ctx; /* passed to both callbacks */
	/*
	 * Build the next command in wc->cmd (zeroed before the call; build it
	 * with imap_cmd_init...) and note its items in wc->first/count.
	 * Return 1 when built (the window sends it), 0 when there is nothing
	 * more to send, -1 to stop the run with `err` set. Whatever was put
	 * in wc->cmd on 0 or -1 is freed by the window. An item that cannot
	 * be built but should not stop the run is the caller's to skip (and
	 * report) before returning the next one. Only called while fewer
	 * than `window` commands are in flight and the run is not stopped.
	 */
	int (*next)(void *ctx, struct imap_window_cmd *wc, struct error *err);
	/*
	 * The command wc is finished: rc 0 when the server said OK, -1 with
	 * `err` as imap_wait() gives it (NO/BAD at wc->cmd.scope, ERR_ACCOUNT
	 * when the session is lost, or a FETCH callback's error); wc->cmd's
	 * results (cond, code, status) are readable. For a command whose
	 * imap_send() failed, `done` is called at once, with that error and
	 * before the older commands still in flight. Return 0 to go on, -1 to
	 * stop sending. The window frees wc->cmd after the call.
	 */
	int (*done)(void *ctx, struct imap_window_cmd *wc, int rc, const struct error *err);
};

/*
 * Run the window over `s` with at most `window` commands in flight (0 is
 * taken as 1). Returns 0 when `next` said 0 and nothing stopped the run;
 * -1 when it was stopped, with `err` the first reason: the error `next`
 * returned, or that of the command `done` stopped at or that lost the
 * session. Either way every sent command has been waited for and handed
 * to `done` when it returns, and nothing is left queued in the session.
 */
int imap_window_run(struct imap_session *s, unsigned window, const struct imap_window_ops *ops,
                    struct error *err);

#endif
