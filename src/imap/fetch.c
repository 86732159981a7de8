/*
 * UID FETCH helpers: flags and sizes of a UID range into an array, and
 * message bodies streamed to callbacks with many commands in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/pipeline.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define DEFAULT_WINDOW 32

unsigned imap_flags_parse(const struct imap_atoms *flags, char **keywords_r)
{
	struct buf kw = BUF_INIT;
	unsigned bits = 0;

	for (size_t i = 0; i < flags->count; i++) {
		const char *f = flags->v[i];
		const struct mail_flag_def *d;

		if (f[0] != '\\') {
			buf_printf(&kw, "%s%s", kw.len ? " " : "", f);
		} else if (strcasecmp(f, "\\Recent") == 0) {
			bits |= IMAP_FLAG_RECENT;
		} else if ((d = mail_flag_by_imap(f, strlen(f))) != NULL) {
			bits |= d->bit;
		}
	}
	*keywords_r = kw.len ? buf_detach(&kw, NULL) : NULL;
	buf_free(&kw);
	return bits;
}

/* ---- flags and sizes ----------------------------------------------- */

struct info_ctx {
	struct imap_session *s;
	uint32_t first, last; /* last 0: no upper bound */
	struct imap_msg_info *v;
	size_t count, cap;
	struct imap_uidset *vanished; /* NULL: not asked for */
};

static int info_fetch(struct imap_cmd *cmd, const struct imap_event *ev, struct error *err)
{
	struct info_ctx *c = cmd->ctx;
	const struct imap_fetch *f = ev->fetch;
	struct imap_msg_info *m;
	uint32_t uid;

	if (ev->type != IMAP_EV_FETCH_END)
		return 0;
	uid = (f->have & IMAP_FETCH_UID) ? f->uid : imap_seq_to_uid(c->s, f->seq);
	/* Unsolicited FETCHes (another client's flag change) may be mixed
	 * in; only what lies in the asked range counts. */
	if (uid == 0 || uid < c->first || (c->last && uid > c->last) || !(f->have & IMAP_FETCH_FLAGS))
		return 0;
	if (c->count >= IMAP_FETCH_INFO_MAX)
		return error_set(err, ERR_MAILBOX, "%s sent more than %d messages for one UID FETCH",
		                 imap_peer(c->s), IMAP_FETCH_INFO_MAX);
	c->v = xgrow(c->v, &c->cap, c->count + 1, sizeof(*c->v));
	m = &c->v[c->count++];
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->have = f->have;
	m->flags = imap_flags_parse(&f->flags, &m->keywords);
	m->modseq = f->modseq;
	m->size = f->size;
	m->internaldate = f->internaldate;
	m->tz_minutes = f->tz_minutes;
	return 0;
}

static void info_vanished(struct imap_cmd *cmd, const struct imap_response *resp)
{
	struct info_ctx *c = cmd->ctx;
	const struct imap_uid_set *set = &resp->vanished.uids;

	for (size_t i = 0; c->vanished && i < set->count; i++)
		imap_uidset_add_range(c->vanished, set->ranges[i].first, set->ranges[i].last);
}

static const struct imap_cmd_ops info_ops = {.fetch = info_fetch, .response = info_vanished};

static int by_uid(const void *a, const void *b)
{
	const struct imap_msg_info *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int fetch_info(struct imap_session *s, uint32_t first, uint32_t last, unsigned items,
                      uint64_t changedsince, struct imap_uidset *vanished_r, struct imap_msg_info **msgs_r,
                      size_t *count_r, struct error *err)
{
	struct info_ctx c = {.s = s, .first = first ? first : 1, .last = last, .vanished = vanished_r};
	bool condstore = imap_has_cap(s, "CONDSTORE");
	struct imap_cmd cmd;
	size_t out = 0;
	int rc;

	*msgs_r = NULL;
	*count_r = 0;
	imap_cmd_init(&cmd, "UID FETCH");
	if (last)
		imap_cmd_add(&cmd, " %u:%u", c.first, last);
	else
		imap_cmd_add(&cmd, " %u:*", c.first);
	imap_cmd_add(&cmd, " (UID FLAGS%s%s%s)", (items & IMAP_FETCH_SIZE) ? " RFC822.SIZE" : "",
	             (items & IMAP_FETCH_INTERNALDATE) ? " INTERNALDATE" : "",
	             (items & IMAP_FETCH_MODSEQ) && condstore ? " MODSEQ" : "");
	if (changedsince && condstore)
		imap_cmd_add(&cmd, " (CHANGEDSINCE %llu%s)", (unsigned long long)changedsince,
		             vanished_r ? " VANISHED" : "");
	cmd.ops = &info_ops;
	cmd.ctx = &c;
	cmd.wants = vanished_r ? 1u << IMAP_DATA_VANISHED : 0;
	cmd.scope = ERR_MAILBOX;
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	if (rc < 0) {
		imap_msg_info_free(c.v, c.count);
		return -1;
	}
	/* UID order, one entry per UID (a later FETCH of the same UID wins:
	 * it is the newer state). */
	if (c.count)
		qsort(c.v, c.count, sizeof(*c.v), by_uid);
	for (size_t i = 0; i < c.count; i++) {
		if (out && c.v[out - 1].uid == c.v[i].uid) {
			free(c.v[out - 1].keywords);
			c.v[out - 1] = c.v[i];
		} else {
			c.v[out++] = c.v[i];
		}
	}
	*msgs_r = c.v;
	*count_r = out;
	return 0;
}

int imap_fetch_info(struct imap_session *s, uint32_t first, uint32_t last, unsigned items,
                    uint64_t changedsince, struct imap_msg_info **msgs_r, size_t *count_r, struct error *err)
{
	return fetch_info(s, first, last, items, changedsince, NULL, msgs_r, count_r, err);
}

int imap_fetch_changes(struct imap_session *s, uint64_t changedsince, unsigned items,
                       struct imap_msg_info **msgs_r, size_t *count_r, struct imap_uidset *vanished_r,
                       struct error *err)
{
	imap_uidset_clear(vanished_r);
	*msgs_r = NULL;
	*count_r = 0;
	if (!changedsince || !(s->enabled & IMAP_ENABLED_QRESYNC))
		return error_set(err, ERR_FATAL, "imap_fetch_changes needs QRESYNC and a modseq");
	return fetch_info(s, 1, 0, items, changedsince, vanished_r, msgs_r, count_r, err);
}

void imap_msg_info_free(struct imap_msg_info *msgs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(msgs[i].keywords);
	free(msgs);
}

/* ---- bodies -------------------------------------------------------- */

struct body_run {
	struct imap_session *s;
	const struct imap_body_handler *h;
	bool failed;
	struct error err;
	bool in_body, got_body;
	const char *section; /* "" for the whole message */
};

static int body_fail(struct body_run *r, struct error *err)
{
	r->failed = true;
	r->err = *err;
	return -1;
}

static int body_fetch(struct imap_cmd *cmd, const struct imap_event *ev, struct error *err)
{
	struct body_run *r = cmd->ctx;
	const struct imap_fetch *f = ev->fetch;
	const struct imap_body *b = ev->body;

	if (r->failed) /* an earlier command's callback failed: drop the rest */
		return 0;
	switch (ev->type) {
	case IMAP_EV_FETCH_BEGIN:
		r->in_body = r->got_body = false;
		return 0;
	case IMAP_EV_BODY_START: {
		uint32_t uid;
		int rc = 0;
		if (strcasecmp(b->section, r->section) != 0 || b->binary || b->has_origin || b->nil ||
		    r->got_body)
			return 0;
		r->in_body = true;
		uid = (f->have & IMAP_FETCH_UID) ? f->uid : imap_seq_to_uid(r->s, f->seq);
		if (r->h->begin_fetch)
			rc = r->h->begin_fetch(r->h->ctx, f, uid, b->size, err);
		else if (r->h->begin)
			rc = r->h->begin(r->h->ctx, uid, b->size, err);
		if (rc < 0)
			return body_fail(r, err);
		return 0;
	}
	case IMAP_EV_BODY_CHUNK:
		if (r->in_body && r->h->chunk && r->h->chunk(r->h->ctx, ev->chunk, ev->chunk_len, err) < 0)
			return body_fail(r, err);
		return 0;
	case IMAP_EV_BODY_END:
		if (r->in_body) {
			r->in_body = false;
			r->got_body = true;
		}
		return 0;
	case IMAP_EV_FETCH_END:
		if (r->got_body && r->h->end && r->h->end(r->h->ctx, f, err) < 0)
			return body_fail(r, err);
		r->got_body = false;
		return 0;
	case IMAP_EV_RESPONSE:
		break;
	}
	return 0;
}

static const struct imap_cmd_ops body_ops = {.fetch = body_fetch};

struct bodies_run {
	struct body_run *run;
	const uint32_t *uids;
	size_t count, next;
	unsigned per;
};

static int bodies_next(void *ctx, struct imap_window_cmd *wc, struct error *err)
{
	struct bodies_run *b = ctx;
	const struct imap_body_handler *h = b->run->h;
	struct imap_uidset set = IMAP_UIDSET_INIT;
	struct buf text = BUF_INIT;

	(void)err;
	/* After a callback failed, nothing more is asked for. */
	if (b->run->failed || b->next >= b->count)
		return 0;
	wc->first = b->next;
	for (unsigned k = 0; k < b->per && b->next < b->count; k++)
		imap_uidset_add(&set, b->uids[b->next++]);
	wc->count = b->next - wc->first;
	imap_uidset_format(&set, &text);
	imap_cmd_init(&wc->cmd, "UID FETCH");
	imap_cmd_add(&wc->cmd, " %s (UID FLAGS%s%s%s BODY.PEEK[%s])", buf_cstr(&text),
	             (h->items & IMAP_FETCH_SIZE) ? " RFC822.SIZE" : "",
	             (h->items & IMAP_FETCH_INTERNALDATE) ? " INTERNALDATE" : "",
	             (h->items & IMAP_FETCH_MODSEQ) && imap_has_cap(b->run->s, "CONDSTORE") ? " MODSEQ" : "",
	             b->run->section);
	wc->cmd.ops = &body_ops;
	wc->cmd.ctx = b->run;
	wc->cmd.scope = ERR_MAILBOX;
	buf_free(&text);
	imap_uidset_free(&set);
	return 1;
}

/* The first failure stops the run; it is the one reported. */
static int bodies_done(void *ctx, struct imap_window_cmd *wc, int rc, const struct error *err)
{
	(void)ctx;
	(void)wc;
	(void)err;
	return rc;
}

int imap_fetch_bodies(struct imap_session *s, const uint32_t *uids, size_t count,
                      const struct imap_body_handler *h, const struct imap_pipeline *p, struct error *err)
{
	struct body_run run = {.s = s, .h = h, .section = h->section ? h->section : ""};
	struct bodies_run b = {
	    .run = &run, .uids = uids, .count = count, .per = p && p->per_command ? p->per_command : 1};
	struct imap_window_ops ops = {.ctx = &b, .next = bodies_next, .done = bodies_done};
	int rc;

	if (strspn(run.section, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.") !=
	    strlen(run.section))
		return error_set(err, ERR_MAILBOX,
		                 "the body section \"%.100s\" cannot be fetched (only "
		                 "letters, digits and '.' are allowed)",
		                 run.section);
	rc = imap_window_run(s, p && p->window ? p->window : DEFAULT_WINDOW, &ops, err);
	if (rc == 0 && run.failed) {
		*err = run.err;
		rc = -1;
	}
	return rc;
}
