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
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define DEFAULT_WINDOW 16

/* RFC 3501 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz". */
static void add_date(struct imap_cmd *cmd, time_t t, int tz_minutes)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t local = t + (time_t)tz_minutes * 60;
	int tz = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	struct tm tm;

	gmtime_r(&local, &tm);
	imap_cmd_add(cmd, " \"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday, months[tm.tm_mon],
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

static void finish(struct imap_session *s, struct imap_cmd *cmd, struct imap_append_msg *msgs, size_t n,
                   int rc, const struct error *e)
{
	const struct imap_cmd_code *c = &cmd->code;
	bool have_uids = rc == 0 && c->type == IMAP_CODE_APPENDUID && imap_uidset_size(&c->dst) == n;

	(void)s;
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

int imap_append_many(struct imap_session *s, const char *mailbox, struct imap_append_msg *msgs, size_t count,
                     const struct imap_pipeline *p, struct error *err)
{
	unsigned window = p && p->window ? p->window : DEFAULT_WINDOW;
	unsigned per = p && p->per_command && imap_has_cap(s, "MULTIAPPEND") ? p->per_command : 1;
	struct imap_cmd *cmds = xcalloc(window, sizeof(*cmds));
	size_t *first = xcalloc(window, sizeof(*first)), *num = xcalloc(window, sizeof(*num));
	size_t next = 0, slot = 0, busy = 0;
	bool any_failed = false, stop = false;
	int rc;

	for (size_t i = 0; i < count; i++) {
		msgs[i].failed = false;
		msgs[i].uid = msgs[i].uidvalidity = 0;
		error_clear(&msgs[i].err);
	}
	for (;;) {
		if (num[slot]) {
			struct error e;
			rc = imap_wait(s, &cmds[slot], &e);
			if (rc < 0 && mailbox_problem(cmds[slot].code.type))
				error_escalate(&e, ERR_MAILBOX);
			finish(s, &cmds[slot], msgs + first[slot], num[slot], rc, &e);
			if (rc < 0) {
				if (!any_failed)
					*err = e;
				any_failed = true;
				stop = stop || s->failed || e.scope >= ERR_MAILBOX;
			}
			imap_cmd_free(&cmds[slot]);
			num[slot] = 0;
			busy--;
		}
		if (!stop && next < count) {
			struct error e;
			size_t n = count - next < per ? count - next : per;
			error_clear(&e);
			if (build(s, &cmds[slot], mailbox, msgs + next, n, &e) < 0 ||
			    imap_send(s, &cmds[slot], &e) < 0) {
				struct imap_cmd dummy = {0};
				finish(s, &dummy, msgs + next, n, -1, &e);
				imap_cmd_free(&cmds[slot]);
				if (!any_failed)
					*err = e;
				any_failed = true;
				stop = stop || s->failed || e.scope >= ERR_MAILBOX;
			} else {
				first[slot] = next;
				num[slot] = n;
				busy++;
			}
			next += n;
		} else if (busy == 0) {
			break;
		}
		slot = (slot + 1) % window;
	}
	/* Messages never tried because the run stopped. */
	for (size_t i = next; i < count; i++) {
		msgs[i].failed = true;
		msgs[i].err = *err;
	}
	free(cmds);
	free(first);
	free(num);
	return any_failed ? -1 : 0;
}

int imap_append(struct imap_session *s, const char *mailbox, struct imap_append_msg *msg, struct error *err)
{
	return imap_append_many(s, mailbox, msg, 1, NULL, err);
}
