/*
 * APPEND: one message, or many with a window of commands in flight and,
 * with MULTIAPPEND, several messages per command. Literals are
 * non-synchronizing where LITERAL+ / LITERAL- allow, else the session
 * waits for "+" (see session_cmd.c); bodies are written from the
 * caller's memory or source, never copied whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/pipeline.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define DEFAULT_WINDOW 16

/* RFC 3501 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz", the day as two
 * digits (date-day-fixed also allows " 7"): as servers show dates, so a
 * date copied from one server reads the same on the other. */
static void add_date(struct imap_cmd *cmd, time_t t, int tz_minutes)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t local = t + (time_t)tz_minutes * 60;
	int tz = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	struct tm tm;

	gmtime_r(&local, &tm);
	imap_cmd_add(cmd, " \"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday, months[tm.tm_mon],
	             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, tz_minutes < 0 ? '-' : '+', tz / 60,
	             tz % 60);
}

static int add_message(struct imap_session *s, struct imap_cmd *cmd, const struct imap_append_msg *m,
                       struct error *err)
{
	if (m->flags && imap_check_flags(m->flags, err) < 0)
		return -1;
	if (m->flags && m->flags[0])
		imap_cmd_add(cmd, " (%s)", m->flags);
	if (m->has_date)
		add_date(cmd, m->internaldate, m->tz_minutes);
	if (m->source)
		imap_cmd_add_literal_source(s, cmd, m->source);
	else
		imap_cmd_add_literal(s, cmd, m->data, m->len);
	return 0;
}

/* Codes that say the mailbox, not the message, is the problem. */
static bool mailbox_problem(enum imap_code_type t)
{
	return t == IMAP_CODE_TRYCREATE || t == IMAP_CODE_NONEXISTENT || t == IMAP_CODE_OVERQUOTA ||
	       t == IMAP_CODE_NOPERM;
}

static void finish(const struct imap_cmd *cmd, struct imap_append_msg *msgs, size_t n, int rc,
                   const struct error *e)
{
	const struct imap_cmd_code *c = &cmd->code;
	bool have_uids = rc == 0 && c->type == IMAP_CODE_APPENDUID && imap_uidset_size(&c->dst) == n;

	for (size_t i = 0; i < n; i++) {
		if (rc < 0) {
			msgs[i].failed = true;
			msgs[i].err = *e;
		} else if (have_uids) {
			msgs[i].uidvalidity = c->uidvalidity;
			msgs[i].uid = imap_uidset_nth(&c->dst, i);
		}
	}
}

static int build(struct imap_session *s, struct imap_cmd *cmd, const char *mailbox,
                 struct imap_append_msg *msgs, size_t n, struct error *err)
{
	imap_cmd_init(cmd, "APPEND");
	cmd->scope = ERR_MESSAGE;
	cmd->accept = 1ull << IMAP_CODE_APPENDUID | 1ull << IMAP_CODE_TRYCREATE |
	              1ull << IMAP_CODE_NONEXISTENT | 1ull << IMAP_CODE_OVERQUOTA | 1ull << IMAP_CODE_NOPERM;
	if (imap_cmd_add_mailbox(s, cmd, mailbox, err) < 0) {
		error_escalate(err, ERR_MAILBOX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (add_message(s, cmd, &msgs[i], err) < 0)
			return -1;
	return 0;
}

struct append_run {
	struct imap_session *s;
	const char *mailbox;
	struct imap_append_msg *msgs;
	size_t count, next;
	unsigned per;
	bool any_failed;
	struct error first; /* the first failure */
};

/* A failure of msgs[first..first+n): recorded; true when it ends the
 * run (the session or the mailbox is the problem, not the message). */
static bool append_failed(struct append_run *r, const struct imap_cmd *cmd, size_t first, size_t n,
                          const struct error *e)
{
	finish(cmd, r->msgs + first, n, -1, e);
	if (!r->any_failed)
		r->first = *e;
	r->any_failed = true;
	return r->s->failed || e->scope >= ERR_MAILBOX;
}

static int append_next(void *ctx, struct imap_window_cmd *wc, struct error *err)
{
	struct append_run *r = ctx;

	while (r->next < r->count) {
		size_t n = r->count - r->next < r->per ? r->count - r->next : r->per;
		error_clear(err);
		wc->first = r->next;
		wc->count = n;
		r->next += n;
		if (build(r->s, &wc->cmd, r->mailbox, r->msgs + wc->first, n, err) == 0)
			return 1;
		if (append_failed(r, &wc->cmd, wc->first, n, err))
			return -1;
		imap_cmd_free(&wc->cmd);
	}
	return 0;
}

static int append_done(void *ctx, struct imap_window_cmd *wc, int rc, const struct error *err)
{
	struct append_run *r = ctx;
	struct error e = *err;

	if (rc == 0) {
		finish(&wc->cmd, r->msgs + wc->first, wc->count, 0, &e);
		return 0;
	}
	if (mailbox_problem(wc->cmd.code.type))
		error_escalate(&e, ERR_MAILBOX);
	if (wc->cmd.code.type == IMAP_CODE_OVERQUOTA && wc->cmd.status) {
		/* The command's text would list every message of a group; the
		 * server's words and who said them tell it all. */
		error_set(&e, ERR_MAILBOX, "%s refused to store more messages in \"%s\": %s", imap_peer(r->s),
		          r->mailbox, wc->cmd.status);
		e.cause = ERR_CAUSE_OVER_QUOTA;
	}
	return append_failed(r, &wc->cmd, wc->first, wc->count, &e) ? -1 : 0;
}

int imap_append_many(struct imap_session *s, const char *mailbox, struct imap_append_msg *msgs, size_t count,
                     const struct imap_pipeline *p, struct error *err)
{
	struct append_run r = {
	    .s = s,
	    .mailbox = mailbox,
	    .msgs = msgs,
	    .count = count,
	    .per = p && p->per_command && imap_has_cap(s, "MULTIAPPEND") ? p->per_command : 1,
	};
	struct imap_window_ops ops = {.ctx = &r, .next = append_next, .done = append_done};
	struct error e;

	for (size_t i = 0; i < count; i++) {
		msgs[i].failed = false;
		msgs[i].uid = msgs[i].uidvalidity = 0;
		error_clear(&msgs[i].err);
	}
	imap_window_run(s, p && p->window ? p->window : DEFAULT_WINDOW, &ops, &e);
	if (r.any_failed)
		*err = r.first;
	/* Messages never tried because the run stopped. */
	for (size_t i = r.next; i < count; i++) {
		msgs[i].failed = true;
		msgs[i].err = *err;
	}
	return r.any_failed ? -1 : 0;
}

int imap_append(struct imap_session *s, const char *mailbox, struct imap_append_msg *msg, struct error *err)
{
	return imap_append_many(s, mailbox, msg, 1, NULL, err);
}
