/*
 * The session's engine: commands are written in queue order into a write
 * buffer (flushed before any blocking read), responses are read in
 * chunks, fed to the parser, and each event dispatched: tagged responses
 * complete their command, untagged data updates the session's view of the
 * mailbox and goes to the command that asked for it or to the session
 * handlers, continuations go to the one command that may be waiting.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Bigger memory literals are written straight from the caller's memory. */
#define INLINE_LITERAL_MAX (16 * 1024)
/* Untagged responses accepted before login. */
#define PRELOGIN_UNTAGGED_MAX 1000

int imap_flush(struct imap_session *s, struct error *err)
{
	struct error werr;

	if (s->failed) {
		*err = s->fail_err;
		return -1;
	}
	if (s->wbuf.len == 0)
		return 0;
	error_clear(&werr);
	if (conn_write(s->conn, s->wbuf.data, s->wbuf.len, &werr) < 0) {
		/* The transport's message names the server already. */
		imap_session_fail(s, &werr);
		*err = s->fail_err;
		return -1;
	}
	buf_reset(&s->wbuf);
	return 0;
}

static int write_source(struct imap_session *s, const struct imap_literal_source *src, struct error *err)
{
	unsigned char *chunk = xmalloc(IMAP_READ_CHUNK);
	uint64_t left = src->size;
	int rc = 0;

	while (left > 0 && rc == 0) {
		size_t want = left > IMAP_READ_CHUNK ? IMAP_READ_CHUNK : (size_t)left;
		size_t got = 0;
		error_clear(err);
		if (src->read(src->ctx, chunk, want, &got, err) < 0) {
			rc = -1;
		} else if (got == 0 || got > want) {
			rc = error_set(err, ERR_MESSAGE, "the message to upload ended %llu bytes early",
			               (unsigned long long)left);
		} else if (conn_write(s->conn, chunk, got, err) < 0) {
			rc = -1;
		} else {
			left -= got;
		}
	}
	free(chunk);
	return rc;
}

/* Write the literal of the current part of `cmd`. */
static int write_literal(struct imap_session *s, struct imap_cmd *cmd, struct error *err)
{
	const struct imap_cmd_part *p = &cmd->parts[cmd->write_part];
	struct error lerr;

	if (p->lit_src == NULL && p->lit_len <= INLINE_LITERAL_MAX) {
		buf_append(&s->wbuf, p->lit_data, (size_t)p->lit_len);
		return 0;
	}
	if (imap_flush(s, err) < 0)
		return -1;
	error_clear(&lerr);
	if (p->lit_src) {
		if (write_source(s, p->lit_src, &lerr) == 0)
			return 0;
	} else if (conn_write(s->conn, p->lit_data, (size_t)p->lit_len, &lerr) == 0) {
		return 0;
	}
	/* An announced literal cannot be taken back: the session is over. */
	imap_session_fail(s, &lerr);
	*err = s->fail_err;
	return -1;
}

/* Write what can be written: stops at a synchronizing literal or after
 * a command that exchanges continuations (AUTHENTICATE, IDLE). */
static int pump_writes(struct imap_session *s, struct error *err)
{
	struct imap_cmd *cmd;

	while (!s->cont_cmd && (cmd = s->write_cursor) != NULL) {
		while (cmd->write_part < cmd->part_count) {
			const struct imap_cmd_part *p = &cmd->parts[cmd->write_part];
			if (!cmd->text_done) {
				buf_append(&s->wbuf, p->text.data, p->text.len);
				cmd->text_done = true;
				if (p->lit == IMAP_LIT_SYNC) {
					s->cont_cmd = cmd;
					cmd->awaiting_literal = true;
					return imap_flush(s, err);
				}
			}
			if (p->lit != IMAP_LIT_NONE && write_literal(s, cmd, err) < 0)
				return -1;
			cmd->write_part++;
			cmd->text_done = false;
		}
		s->write_cursor = cmd->next;
		if (cmd->ops && cmd->ops->continuation) {
			s->cont_cmd = cmd;
			return imap_flush(s, err);
		}
		if (s->wbuf.len >= IMAP_WRITE_FLUSH && imap_flush(s, err) < 0)
			return -1;
	}
	return 0;
}

int imap_send(struct imap_session *s, struct imap_cmd *cmd, struct error *err)
{
	if (s->failed) {
		error_set(err, s->fail_err.scope, "%s: %s", buf_cstr(&cmd->what), s->fail_err.text);
		err->retry = s->fail_err.retry;
		return -1;
	}
	imap_cmd_seal(cmd);
	snprintf(cmd->tag, sizeof(cmd->tag), "%s%u", s->tag_prefix, ++s->next_tag);
	/* The tag goes in front of the first part's text. */
	{
		struct buf t = BUF_INIT;
		buf_printf(&t, "%s ", cmd->tag);
		buf_append(&t, cmd->parts[0].text.data, cmd->parts[0].text.len);
		buf_free(&cmd->parts[0].text);
		cmd->parts[0].text = t;
	}
	cmd->state = IMAP_CMD_QUEUED;
	cmd->next = NULL;
	if (s->queue_tail)
		s->queue_tail->next = cmd;
	else
		s->queue_head = cmd;
	s->queue_tail = cmd;
	if (!s->write_cursor)
		s->write_cursor = cmd;
	log_trace("C: %s %s", cmd->tag, buf_cstr(&cmd->what));
	return pump_writes(s, err);
}

static void unlink_cmd(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_cmd *prev = NULL;

	for (struct imap_cmd *c = s->queue_head; c; prev = c, c = c->next) {
		if (c != cmd)
			continue;
		if (prev)
			prev->next = c->next;
		else
			s->queue_head = c->next;
		if (s->queue_tail == c)
			s->queue_tail = prev;
		break;
	}
	if (s->write_cursor == cmd)
		s->write_cursor = cmd->next;
	if (s->cont_cmd == cmd)
		s->cont_cmd = NULL;
	cmd->next = NULL;
	cmd->state = IMAP_CMD_DONE;
}

void imap_session_fail(struct imap_session *s, const struct error *err)
{
	if (s->failed)
		return;
	s->failed = true;
	s->fail_err = *err;
	error_escalate(&s->fail_err, ERR_ACCOUNT);
	imap_set_state(s, IMAP_STATE_LOGOUT);
	while (s->queue_head) {
		struct imap_cmd *c = s->queue_head;
		c->cond = IMAP_COND_NONE;
		unlink_cmd(s, c);
	}
	s->write_cursor = NULL;
	s->cont_cmd = NULL;
}

void imap_fail_protocol(struct imap_session *s, const char *fmt, ...)
{
	struct error e;
	va_list ap;

	va_start(ap, fmt);
	error_vset(&e, ERR_ACCOUNT, fmt, ap);
	va_end(ap);
	imap_session_fail(s, &e);
}

struct imap_cmd *imap_oldest_sent(struct imap_session *s, bool (*want)(const struct imap_cmd *, unsigned),
                                  unsigned arg)
{
	for (struct imap_cmd *c = s->queue_head; c && c != s->write_cursor; c = c->next)
		if (want(c, arg))
			return c;
	/* The command being written has its text (at least partly) out. */
	if (s->write_cursor && (s->write_cursor->write_part > 0 || s->write_cursor->text_done) &&
	    want(s->write_cursor, arg))
		return s->write_cursor;
	return NULL;
}

bool imap_cmd_wants_type(const struct imap_cmd *c, unsigned type)
{
	return c->ops && c->ops->response && (c->wants & (1u << type));
}

bool imap_cmd_wants_fetch(const struct imap_cmd *c, unsigned unused)
{
	(void)unused;
	return c->ops && c->ops->fetch;
}

bool imap_cmd_is_select(const struct imap_cmd *c, unsigned unused)
{
	(void)unused;
	return c->is_select;
}

bool imap_cmd_is_move(const struct imap_cmd *c, unsigned unused)
{
	(void)unused;
	return c->is_move;
}

void imap_copy_code(struct imap_cmd_code *dst, const struct imap_resp_code *src)
{
	dst->type = src->type;
	dst->number = src->number;
	dst->modseq = src->modseq;
	dst->uidvalidity = src->uidvalidity;
	imap_uidset_copy(&dst->src, &src->src);
	imap_uidset_copy(&dst->dst, &src->dst);
}

static void status_text(struct buf *b, const struct imap_response *resp)
{
	buf_append_str(b, imap_cond_name(resp->cond));
	if (resp->code.type != IMAP_CODE_NONE)
		buf_printf(b, " [%s%s%s]", resp->code.name, resp->code.raw[0] ? " " : "", resp->code.raw);
	if (resp->text[0])
		buf_printf(b, " %s", resp->text);
}

static void complete(struct imap_session *s, struct imap_cmd *cmd, const struct imap_response *resp)
{
	struct buf st = BUF_INIT;

	buf_init(&st, 2048);
	status_text(&st, resp);
	cmd->status = buf_detach(&st, NULL);
	cmd->cond = resp->cond;
	cmd->said = resp->code.type;
	if (resp->code.type != IMAP_CODE_NONE && (cmd->accept & (1ull << resp->code.type))) {
		if (resp->code.type == IMAP_CODE_CAPABILITY)
			imap_caps_set_atoms(s, &resp->code.atoms);
		else
			imap_copy_code(&cmd->code, &resp->code);
	}
	if (cmd->is_select && resp->cond == IMAP_COND_OK)
		s->mbox.readonly = resp->code.type == IMAP_CODE_READ_ONLY;
	if (resp->code.type == IMAP_CODE_ALERT)
		imap_alert(s, resp);
	unlink_cmd(s, cmd);
}

static void on_continuation(struct imap_session *s, const struct imap_response *resp)
{
	struct imap_cmd *cmd = s->cont_cmd;
	struct buf reply = BUF_INIT;
	bool secret = false;
	struct error e;
	int r;

	if (!cmd) {
		imap_fail_protocol(s,
		                   "%s sent a continuation request (\"+ %.80s\") that no command asked for",
		                   imap_peer(s), resp->text);
		return;
	}
	if (cmd->awaiting_literal) {
		cmd->awaiting_literal = false;
		s->cont_cmd = NULL;
		if (write_literal(s, cmd, &e) < 0)
			return;
		cmd->write_part++;
		cmd->text_done = false;
		pump_writes(s, &e);
		return;
	}
	error_clear(&e);
	r = cmd->ops->continuation(cmd, resp->text, &reply, &secret, &e);
	if (r < 0) {
		imap_session_fail(s, &e);
	} else if (r == 0) {
		log_trace("C: %s", secret ? "***" : buf_cstr(&reply));
		buf_append(&s->wbuf, reply.data, reply.len);
		buf_append_str(&s->wbuf, "\r\n");
		imap_flush(s, &e);
	}
	if (reply.data)
		explicit_bzero(reply.data, reply.len);
	buf_free(&reply);
}

static struct imap_cmd *find_tag(struct imap_session *s, const char *tag)
{
	for (struct imap_cmd *c = s->queue_head; c; c = c->next) {
		if (c == s->write_cursor && c->write_part == 0 && !c->text_done)
			return NULL; /* not a byte of it was written */
		if (strcmp(c->tag, tag) == 0)
			return c;
	}
	return NULL;
}

static void on_greeting(struct imap_session *s, const struct imap_event *ev)
{
	const struct imap_response *resp = ev->resp;
	struct buf g = BUF_INIT;

	if (ev->type != IMAP_EV_RESPONSE || resp->kind != IMAP_RESP_UNTAGGED ||
	    resp->type != IMAP_DATA_COND ||
	    (resp->cond != IMAP_COND_OK && resp->cond != IMAP_COND_PREAUTH && resp->cond != IMAP_COND_BYE)) {
		struct error e;
		imap_bad_greeting(s, &e);
		imap_session_fail(s, &e);
		return;
	}
	s->greeted = true;
	buf_init(&g, 2048);
	status_text(&g, resp);
	s->greeting = buf_detach(&g, NULL);
	if (resp->cond == IMAP_COND_BYE) {
		/* "Too many connections", "shutting down": later may work. */
		struct error e;
		error_set(&e, ERR_ACCOUNT, "%s refused the connection: %s", imap_peer(s), s->greeting);
		e.retry = ERR_RETRY_BUSY;
		imap_session_fail(s, &e);
		return;
	}
	s->preauth = resp->cond == IMAP_COND_PREAUTH;
	if (resp->code.type == IMAP_CODE_CAPABILITY)
		imap_caps_set_atoms(s, &resp->code.atoms);
	else if (resp->code.type == IMAP_CODE_ALERT)
		imap_alert(s, resp);
}

static void dispatch(struct imap_session *s, const struct imap_event *ev)
{
	const struct imap_response *resp = ev->resp;
	struct imap_cmd *c;

	if (!s->greeted) {
		on_greeting(s, ev);
		return;
	}
	if (ev->type != IMAP_EV_RESPONSE) {
		imap_on_fetch_event(s, ev);
		return;
	}
	switch (resp->kind) {
	case IMAP_RESP_TAGGED:
		c = find_tag(s, resp->tag);
		if (!c) {
			imap_fail_protocol(s, "%s answered a command that was never sent (tag \"%.40s\")",
			                   imap_peer(s), resp->tag);
			return;
		}
		complete(s, c, resp);
		if (!s->failed) {
			struct error e;
			pump_writes(s, &e);
		}
		return;
	case IMAP_RESP_CONTINUATION:
		on_continuation(s, resp);
		return;
	case IMAP_RESP_UNTAGGED:
		/* Before login nothing needs many (a CAPABILITY, an ALERT): a
		 * server that streams them would keep the session waiting. */
		if (s->state == IMAP_STATE_NOT_AUTHENTICATED &&
		    ++s->prelogin_untagged > PRELOGIN_UNTAGGED_MAX) {
			imap_fail_protocol(s, "%s sent more than %d untagged responses before login",
			                   imap_peer(s), PRELOGIN_UNTAGGED_MAX);
			return;
		}
		imap_on_untagged(s, resp);
		return;
	}
}

/* Keep the first line's head: the message for a bad greeting quotes it. */
static void keep_greeting_head(struct imap_session *s, const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len && !s->greet_head_done; i++) {
		if (data[i] == '\r' || data[i] == '\n' || s->greet_head_len == sizeof(s->greet_head))
			s->greet_head_done = true;
		else
			s->greet_head[s->greet_head_len++] = (char)data[i];
	}
}

static int read_more(struct imap_session *s, struct error *err)
{
	struct error rerr;
	ssize_t n;

	if (imap_flush(s, err) < 0)
		return -1;
	error_clear(&rerr);
	/* Inside a message body the server owes us its rest: let the
	 * connection wait for it in bulk. */
	conn_expect(s->conn, s->careful ? 0 : imap_parser_literal_left(s->parser));
	n = conn_read(s->conn, s->rbuf, s->careful ? 1 : IMAP_READ_CHUNK, &rerr);
	if (n < 0) {
		imap_session_fail(s, &rerr);
	} else if (n == 0) {
		/* Ended by the server: a BYE says why ("too many connections",
		 * a shutdown); without one the connection was lost. Either
		 * way a new session may well work. */
		if (s->bye_text)
			error_set(&rerr, ERR_ACCOUNT, "%s closed the connection: BYE %s", imap_peer(s),
			          s->bye_text);
		else
			error_set(&rerr, ERR_ACCOUNT, "%s closed the connection unexpectedly%s", imap_peer(s),
			          imap_parser_idle(s->parser) ? "" : " in the middle of a response");
		rerr.retry = s->bye_text ? ERR_RETRY_BUSY : ERR_RETRY_LOST;
		imap_session_fail(s, &rerr);
	} else {
		if (!s->greet_head_done)
			keep_greeting_head(s, s->rbuf, (size_t)n);
		if (log_enabled(LOG_TRACE))
			imap_trace_server(s, s->rbuf, (size_t)n);
		imap_parser_feed(s->parser, s->rbuf, (size_t)n);
		return 0;
	}
	*err = s->fail_err;
	return -1;
}

/* The parser refused what the server sent: the session is over. */
static void parse_failed(struct imap_session *s, struct error *perr)
{
	if (!s->greeted) {
		struct error e;
		imap_bad_greeting(s, &e);
		error_prefix(perr, "%s", e.text);
	} else {
		error_prefix(perr, "malformed response from %s", imap_peer(s));
	}
	imap_session_fail(s, perr);
}

int imap_step(struct imap_session *s, struct error *err)
{
	struct imap_event ev;
	struct error perr;
	int r;

	if (s->failed) {
		*err = s->fail_err;
		return -1;
	}
	error_clear(&perr);
	r = imap_parser_next(s->parser, &ev, &perr);
	if (r < 0) {
		parse_failed(s, &perr);
		*err = s->fail_err;
		return -1;
	}
	if (r == 0)
		return read_more(s, err);
	dispatch(s, &ev);
	if (s->failed) {
		*err = s->fail_err;
		return -1;
	}
	return 0;
}

int imap_step_nowait(struct imap_session *s, struct error *err)
{
	struct imap_event ev;
	struct error perr;
	int r;

	if (s->failed) {
		*err = s->fail_err;
		return -1;
	}
	error_clear(&perr);
	r = imap_parser_next(s->parser, &ev, &perr);
	if (r < 0) {
		parse_failed(s, &perr);
		*err = s->fail_err;
		return -1;
	}
	if (r == 0)
		return 0;
	dispatch(s, &ev);
	if (s->failed) {
		*err = s->fail_err;
		return -1;
	}
	return 1;
}

int imap_read_chunk(struct imap_session *s, struct error *err)
{
	return read_more(s, err);
}

int imap_cmd_error(const struct imap_session *s, const struct imap_cmd *cmd, struct error *err)
{
	if (cmd->cb_failed) {
		*err = cmd->cb_err;
		return -1;
	}
	if (cmd->state == IMAP_CMD_DONE && cmd->cond == IMAP_COND_OK)
		return 0;
	if (cmd->cond == IMAP_COND_NONE) {
		error_set(err, s->fail_err.scope ? s->fail_err.scope : ERR_ACCOUNT, "%s: %s",
		          buf_cstr(&cmd->what), s->failed ? s->fail_err.text : "the command was never sent");
		err->retry = s->failed ? s->fail_err.retry : ERR_RETRY_NO;
		return -1;
	}
	if (cmd->cond == IMAP_COND_NO && imap_code_is_temporary(cmd->said)) {
		/* The server refuses work for now, not this message. */
		error_set(err, cmd->scope > ERR_MAILBOX ? cmd->scope : ERR_MAILBOX, "%s failed at %s: %s",
		          buf_cstr(&cmd->what), imap_peer(s), cmd->status);
		err->retry = ERR_RETRY_BUSY;
		return -1;
	}
	return error_set(err, cmd->scope, "%s failed: %s", buf_cstr(&cmd->what), cmd->status);
}

int imap_wait(struct imap_session *s, struct imap_cmd *cmd, struct error *err)
{
	struct error e;

	while (cmd->state == IMAP_CMD_QUEUED && !s->failed)
		if (imap_step(s, &e) < 0)
			break;
	return imap_cmd_error(s, cmd, err);
}

int imap_run(struct imap_session *s, struct imap_cmd *cmd, struct error *err)
{
	if (imap_send(s, cmd, err) < 0)
		return -1;
	return imap_wait(s, cmd, err);
}

int imap_drain(struct imap_session *s, struct error *err)
{
	while (s->queue_head)
		if (imap_step(s, err) < 0)
			return -1;
	return 0;
}

bool imap_session_busy(const struct imap_session *s)
{
	return s->queue_head != NULL;
}
