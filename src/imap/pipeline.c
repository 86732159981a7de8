/*
 * The window of pipelined commands (pipeline.h): a ring of command
 * slots, filled by the caller's `next`, emptied oldest first into its
 * `done`.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "session_p.h"
#include "twinbox/imap/pipeline.h"
#include "twinbox/util/xmalloc.h"

struct window_run {
	struct imap_session *s;
	const struct imap_window_ops *ops;
	bool more; /* `next` may still have commands */
	int rc;    /* -1 once stopped */
	struct error *err;
};

static void stop(struct window_run *w, const struct error *why)
{
	if (w->rc == 0)
		*w->err = *why;
	w->rc = -1;
	w->more = false;
}

/* Wait for the oldest command in flight and hand it over. */
static void finish_oldest(struct window_run *w, struct imap_window_cmd *wc)
{
	struct error e;
	int rc;

	error_clear(&e);
	rc = imap_wait(w->s, &wc->cmd, &e);
	/* A lost session stops the run even when `done` would go on: every
	 * later command would fail the same way. */
	if (w->ops->done(w->ops->ctx, wc, rc, &e) < 0 || (rc < 0 && w->s->failed))
		stop(w, &e);
	imap_cmd_free(&wc->cmd);
}

/* Build and send one more command into the free slot `wc`; true when it
 * is in flight. */
static bool send_next(struct window_run *w, struct imap_window_cmd *wc)
{
	struct error e;
	int rc;

	memset(wc, 0, sizeof(*wc));
	error_clear(&e);
	rc = w->ops->next(w->ops->ctx, wc, &e);
	if (rc > 0 && imap_send(w->s, &wc->cmd, &e) == 0)
		return true;
	if (rc > 0) {
		w->ops->done(w->ops->ctx, wc, -1, &e);
		stop(w, &e);
	} else if (rc < 0) {
		stop(w, &e);
	} else {
		w->more = false;
	}
	imap_cmd_free(&wc->cmd);
	return false;
}

int imap_window_run(struct imap_session *s, unsigned window, const struct imap_window_ops *ops,
                    struct error *err)
{
	size_t size = window ? window : 1;
	struct imap_window_cmd *ring = xcalloc(size, sizeof(*ring));
	struct window_run w = {.s = s, .ops = ops, .more = true, .err = err};
	size_t head = 0, busy = 0; /* the oldest slot in flight, and how many are */

	while (w.more || busy > 0) {
		if (busy == size || !w.more) {
			finish_oldest(&w, &ring[head]);
			head = (head + 1) % size;
			busy--;
		} else if (send_next(&w, &ring[(head + busy) % size])) {
			busy++;
		}
	}
	free(ring);
	return w.rc;
}
