/*
 * The window of pipelined commands (imap/pipeline.h) over a scripted
 * server: how many commands leave before a reply is read, which
 * command's context a reply reaches, and a connection cut mid-window.
 */
#include "twinbox/imap/pipeline.h"

#include "unit/test_imap_session_support.h"

TestSuite(imap_pipeline, .fini = stop_session, .timeout = 60);

#define ITEMS_MAX 16

/* The caller's side: items 0..count-1, one NOOP each (tags A2, A3...
 * after the login's A1), and what `done` saw. */
struct items {
	size_t count, next;
	unsigned nexts; /* calls of `next` that built a command */
	size_t done_order[ITEMS_MAX];
	int done_rc[ITEMS_MAX]; /* by item */
	enum imap_cond cond[ITEMS_MAX];
	struct error errs[ITEMS_MAX];
	size_t dones;
	bool stop_on_no; /* `done` stops the run at a NO */
	size_t fail_at;  /* non-zero: `next` fails at this item */
};

static int items_next(void *ctx, struct imap_window_cmd *wc, struct error *e)
{
	struct items *it = ctx;

	if (it->next >= it->count)
		return 0;
	if (it->fail_at && it->next == it->fail_at) {
		imap_cmd_init(&wc->cmd, "NOOP"); /* half built: the window frees it */
		return error_set(e, ERR_MESSAGE, "item %zu cannot be built", it->next);
	}
	imap_cmd_init(&wc->cmd, "NOOP");
	wc->cmd.scope = ERR_MESSAGE;
	wc->first = it->next++;
	wc->count = 1;
	it->nexts++;
	return 1;
}

static int items_done(void *ctx, struct imap_window_cmd *wc, int rc, const struct error *e)
{
	struct items *it = ctx;
	size_t k = wc->first;

	cr_assert_lt(it->dones, ITEMS_MAX);
	it->done_order[it->dones++] = k;
	it->done_rc[k] = rc;
	it->cond[k] = wc->cmd.cond;
	if (rc < 0)
		it->errs[k] = *e;
	return rc < 0 && it->stop_on_no ? -1 : 0;
}

static struct imap_window_ops ops_for(struct items *it)
{
	return (struct imap_window_ops){.ctx = it, .next = items_next, .done = items_done};
}

Test(imap_pipeline, window_fills_before_the_first_reply_is_read)
{
	struct items it = {.count = 5};
	struct imap_window_ops ops = ops_for(&it);

	login_basic();
	/* Three commands leave together; a fourth only after A2's reply. The
	 * script fails the run if the client reads before writing all three
	 * or writes a fourth before reading. */
	script_expect(sc, "A2 NOOP\r\nA3 NOOP\r\nA4 NOOP\r\n");
	script_send(sc, "A2 OK done\r\n");
	script_expect(sc, "A5 NOOP\r\n");
	script_send(sc, "A3 OK done\r\n");
	script_expect(sc, "A6 NOOP\r\n");
	script_send(sc, "A4 OK done\r\nA5 OK done\r\nA6 OK done\r\n");
	cr_assert_eq(imap_window_run(s, 3, &ops, &err), 0, "%s", err.text);
	assert_played();
	cr_assert_eq(it.dones, 5);
	for (size_t k = 0; k < 5; k++) {
		cr_assert_eq(it.done_order[k], k);
		cr_assert_eq(it.done_rc[k], 0);
		cr_assert_eq(it.cond[k], IMAP_COND_OK);
	}
}

Test(imap_pipeline, a_no_in_the_middle_reaches_its_own_command)
{
	struct items it = {.count = 4};
	struct imap_window_ops ops = ops_for(&it);

	login_basic();
	script_expect(sc, "A2 NOOP\r\nA3 NOOP\r\nA4 NOOP\r\nA5 NOOP\r\n");
	/* answered out of order; the NO is the third command's */
	script_send(sc, "A3 OK done\r\nA5 OK done\r\nA4 NO [CANNOT] not this one\r\nA2 OK done\r\n");
	cr_assert_eq(imap_window_run(s, 8, &ops, &err), 0, "%s", err.text);
	assert_played();
	cr_assert_eq(it.dones, 4);
	for (size_t k = 0; k < 4; k++)
		cr_assert_eq(it.done_order[k], k, "replies were handed over out of the order sent");
	cr_assert_eq(it.done_rc[0], 0);
	cr_assert_eq(it.done_rc[1], 0);
	cr_assert_eq(it.done_rc[2], -1);
	cr_assert_eq(it.done_rc[3], 0);
	cr_assert_eq(it.cond[2], IMAP_COND_NO);
	cr_assert_eq(it.errs[2].scope, ERR_MESSAGE);
	cr_assert_str_eq(it.errs[2].text, "NOOP failed: NO [CANNOT] not this one");
	/* the session goes on */
	script_expect(sc, "A6 NOOP\r\n");
	script_send(sc, "A6 OK noop\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_pipeline, done_stops_sending_but_drains_the_window)
{
	struct items it = {.count = 6, .stop_on_no = true};
	struct imap_window_ops ops = ops_for(&it);

	login_basic();
	script_expect(sc, "A2 NOOP\r\nA3 NOOP\r\n");
	script_send(sc, "A2 NO [CANNOT] refused\r\n");
	/* nothing more is sent; A3, already out, is still waited for */
	script_send(sc, "A3 OK done\r\n");
	cr_assert_eq(imap_window_run(s, 2, &ops, &err), -1);
	cr_assert_str_eq(err.text, "NOOP failed: NO [CANNOT] refused");
	cr_assert_eq(err.scope, ERR_MESSAGE);
	assert_played();
	cr_assert_eq(it.nexts, 2);
	cr_assert_eq(it.dones, 2);
	cr_assert_eq(it.done_rc[1], 0);
}

Test(imap_pipeline, a_cut_connection_mid_window_ends_the_run)
{
	struct items it = {.count = 10};
	struct imap_window_ops ops = ops_for(&it);

	login_basic();
	script_expect(sc, "A2 NOOP\r\nA3 NOOP\r\nA4 NOOP\r\nA5 NOOP\r\n");
	script_send(sc, "A2 OK done\r\n");
	script_expect(sc, "A6 NOOP\r\n");
	script_close(sc);
	cr_assert_eq(imap_window_run(s, 4, &ops, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT, "%s", err.text);
	cr_assert(strstr(err.text, "NOOP"), "%s", err.text);
	assert_played();
	cr_assert_eq(imap_session_state(s), IMAP_STATE_LOGOUT);
	/* nothing was built after the cut; every command sent was handed
	 * over, the first OK, the rest with the session's error */
	cr_assert_eq(it.nexts, 5);
	cr_assert_eq(it.dones, 5);
	cr_assert_eq(it.done_rc[0], 0);
	for (size_t k = 1; k < 5; k++) {
		cr_assert_eq(it.done_rc[k], -1);
		cr_assert_eq(it.errs[k].scope, ERR_ACCOUNT);
		cr_assert_eq(it.cond[k], IMAP_COND_NONE);
	}
}

Test(imap_pipeline, a_failed_build_stops_sending_but_drains_the_window)
{
	struct items it = {.count = 6, .fail_at = 3};
	struct imap_window_ops ops = ops_for(&it);

	login_basic();
	script_expect(sc, "A2 NOOP\r\nA3 NOOP\r\n");
	script_send(sc, "A2 OK done\r\n");
	script_expect(sc, "A4 NOOP\r\n");
	script_send(sc, "A3 OK done\r\nA4 OK done\r\n");
	cr_assert_eq(imap_window_run(s, 2, &ops, &err), -1);
	cr_assert_str_eq(err.text, "item 3 cannot be built");
	assert_played();
	cr_assert_eq(it.nexts, 3);
	cr_assert_eq(it.dones, 3);
	for (size_t k = 0; k < 3; k++)
		cr_assert_eq(it.done_rc[k], 0);
}

Test(imap_pipeline, an_empty_run_sends_nothing)
{
	struct items it = {.count = 0};
	struct imap_window_ops ops = ops_for(&it);

	login_basic();
	cr_assert_eq(imap_window_run(s, 4, &ops, &err), 0, "%s", err.text);
	cr_assert_eq(it.dones, 0);
	assert_played();
}
