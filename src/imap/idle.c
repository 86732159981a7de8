/*
 * IDLE (RFC 2177): start, wait for news, DONE. While idling the IDLE
 * command stays queued as a barrier, so nothing else can be written by
 * mistake; untagged data goes to the session handlers as always.
 */
#include <stdlib.h>
#include <string.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static int idle_continue(struct imap_cmd *cmd, const char *text, struct buf *out, bool *secret_r,
                         struct error *err)
{
	struct imap_session *s = cmd->ctx;

	(void)text;
	(void)out;
	(void)secret_r;
	(void)err;
	s->idling = true;
	return 1;
}

static const struct imap_cmd_ops idle_ops = {.continuation = idle_continue};

int imap_notify(struct imap_session *s, const char *events, struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	if (!imap_has_cap(s, "NOTIFY"))
		return error_set(err, ERR_MAILBOX, "%s does not support NOTIFY", imap_peer(s));
	imap_cmd_init(&cmd, "NOTIFY");
	if (events)
		imap_cmd_add(&cmd, " SET %s", events);
	else
		imap_cmd_add(&cmd, " NONE");
	cmd.scope = ERR_MAILBOX;
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

int imap_idle_start(struct imap_session *s, struct error *err)
{
	struct imap_cmd *cmd;

	if (s->idle_cmd)
		return error_set(err, ERR_ACCOUNT, "IDLE is already running");
	if (!imap_has_cap(s, "IDLE"))
		return error_set(err, ERR_ACCOUNT, "%s does not support IDLE", imap_peer(s));
	if (imap_drain(s, err) < 0)
		return -1;
	cmd = xcalloc(1, sizeof(*cmd));
	imap_cmd_init(cmd, "IDLE");
	cmd->ops = &idle_ops;
	cmd->ctx = s;
	s->idling = false;
	if (imap_send(s, cmd, err) < 0) {
		imap_cmd_free(cmd);
		free(cmd);
		return -1;
	}
	s->idle_cmd = cmd;
	while (!s->idling && cmd->state == IMAP_CMD_QUEUED)
		if (imap_step(s, err) < 0)
			break;
	if (!s->idling) {
		int rc = imap_cmd_error(s, cmd, err);
		if (rc == 0) /* a tagged OK without "+": no IDLE happened */
			rc = error_set(err, ERR_ACCOUNT, "%s ended IDLE before starting it", imap_peer(s));
		imap_cmd_free(cmd);
		free(cmd);
		s->idle_cmd = NULL;
		return rc;
	}
	return 0;
}

/* Dispatch every event already read; 1 if there was one. */
static int drain_parsed(struct imap_session *s, struct error *err)
{
	int any = 0, r;

	while ((r = imap_step_nowait(s, err)) == 1)
		any = 1;
	return r < 0 ? -1 : any;
}

int imap_idle_wait(struct imap_session *s, int timeout_ms, struct error *err)
{
	int r;

	if (!s->idle_cmd)
		return error_set(err, ERR_ACCOUNT, "IDLE is not running");
	r = drain_parsed(s, err);
	if (r != 0)
		return r;
	r = conn_wait(s->conn, timeout_ms, err);
	if (r < 0) {
		imap_session_fail(s, err);
		return -1;
	}
	if (r == 0)
		return 0;
	/* Something arrived: read until at least one whole response. */
	for (;;) {
		if (imap_read_chunk(s, err) < 0)
			return -1;
		r = drain_parsed(s, err);
		if (r != 0)
			return r;
	}
}

int imap_idle_done(struct imap_session *s, struct error *err)
{
	struct imap_cmd *cmd = s->idle_cmd;
	int rc;

	if (!cmd)
		return error_set(err, ERR_ACCOUNT, "IDLE is not running");
	if (cmd->state == IMAP_CMD_QUEUED && !s->failed) {
		log_trace("C: DONE");
		buf_append_str(&s->wbuf, "DONE\r\n");
	}
	rc = imap_wait(s, cmd, err);
	s->idling = false;
	s->idle_cmd = NULL;
	imap_cmd_free(cmd);
	free(cmd);
	return rc;
}
