/*
 * Untagged data: the session's view of the selected mailbox (message
 * count, the sequence number <-> UID map through EXISTS, EXPUNGE,
 * VANISHED and FETCH), capabilities, ENABLED, response codes that are
 * believed only from the command they belong to, and the routing of
 * other data to the command that asked for it or to the session
 * handlers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/uidset.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static void seqmap_resize(struct imap_session *s, uint32_t n)
{
	if (n > s->mbox.exists) {
		s->seqmap = xgrow(s->seqmap, &s->seqmap_cap, n, sizeof(*s->seqmap));
		memset(s->seqmap + s->mbox.exists, 0, (size_t)(n - s->mbox.exists) * sizeof(*s->seqmap));
	}
	s->mbox.exists = n;
}

void imap_seqmap_reset(struct imap_session *s)
{
	free(s->seqmap);
	s->seqmap = NULL;
	s->seqmap_cap = 0;
	memset(&s->mbox, 0, sizeof(s->mbox));
	free(s->perm_keywords);
	s->perm_keywords = NULL;
}

static void on_expunge(struct imap_session *s, uint32_t seq)
{
	uint32_t uid;

	if (seq == 0 || seq > s->mbox.exists) {
		imap_fail_protocol(s,
		                   "%s expunged message %u, which does not exist; the session's view of the "
		                   "mailbox cannot be kept right, giving up",
		                   imap_peer(s), seq);
		return;
	}
	uid = s->seqmap[seq - 1];
	memmove(s->seqmap + seq - 1, s->seqmap + seq, (size_t)(s->mbox.exists - seq) * sizeof(*s->seqmap));
	s->mbox.exists--;
	if (s->handlers.expunge)
		s->handlers.expunge(s->handlers.ctx, seq, uid);
}

/* A VANISHED set sorted and merged, with the count of UIDs before each
 * range, so that membership and "how many in (lo, hi)" are O(log n). */
struct vset {
	struct imap_uid_range *r;
	uint64_t *before;
	size_t n;
};

static void vset_build(struct vset *v, const struct imap_uid_set *set)
{
	struct imap_uidset u = IMAP_UIDSET_INIT;
	uint64_t total = 0;

	imap_uidset_copy(&u, set);
	imap_uidset_normalize(&u);
	v->r = u.v;
	v->n = u.count;
	v->before = xcalloc(v->n ? v->n : 1, sizeof(*v->before));
	for (size_t i = 0; i < v->n; i++) {
		v->before[i] = total;
		total += (uint64_t)v->r[i].last - v->r[i].first + 1;
	}
}

/* UIDs of the set that are <= uid. */
static uint64_t vset_rank(const struct vset *v, uint64_t uid)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) { /* first range starting after uid */
		size_t mid = (lo + hi) / 2;
		if (v->r[mid].first <= uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	lo--;
	return v->before[lo] + ((uid < v->r[lo].last ? uid : v->r[lo].last) - v->r[lo].first + 1);
}

static bool vset_has(const struct vset *v, uint32_t uid)
{
	return vset_rank(v, uid) != (uid ? vset_rank(v, (uint64_t)uid - 1) : 0);
}

/*
 * VANISHED (without EARLIER) removes messages like EXPUNGE. UIDs ascend
 * with sequence numbers, so a vanished UID that the session never
 * learned lies among the unknown entries between its known neighbours;
 * those entries are indistinguishable (all 0), so dropping that many of
 * them keeps the map exact.
 */
static void on_vanished(struct imap_session *s, const struct imap_vanished *v)
{
	if (!v->earlier && s->mbox.exists) {
		struct vset set;
		uint32_t out = 0, i = 0;
		uint64_t lo = 0;

		vset_build(&set, &v->uids);
		while (i < s->mbox.exists) {
			uint32_t run = 0;
			uint64_t hi, gone;
			while (i + run < s->mbox.exists && s->seqmap[i + run] == 0)
				run++;
			hi = i + run < s->mbox.exists ? s->seqmap[i + run] : (uint64_t)UINT32_MAX + 1;
			gone = vset_rank(&set, hi - 1) - vset_rank(&set, lo);
			if (gone > run)
				gone = run;
			for (uint32_t k = 0; k < run - gone; k++)
				s->seqmap[out++] = 0;
			i += run;
			if (i < s->mbox.exists) {
				if (!vset_has(&set, s->seqmap[i]))
					s->seqmap[out++] = s->seqmap[i];
				lo = s->seqmap[i];
				i++;
			}
		}
		s->mbox.exists = out;
		free(set.r);
		free(set.before);
	}
	if (s->handlers.vanished)
		s->handlers.vanished(s->handlers.ctx, &v->uids, v->earlier != 0);
}

void imap_alert(struct imap_session *s, const struct imap_response *resp)
{
	/* Before the STARTTLS upgrade anyone on the path could have written
	 * it (what follows the STARTTLS OK itself is never even parsed). */
	if (s->opts.conn.tls == TLS_STARTTLS && !conn_is_tls(s->conn)) {
		log_debug("imap: %s sent an [ALERT] before TLS; not shown, anyone on the path could "
		          "have sent it: %s",
		          imap_peer(s), resp->text);
		return;
	}
	if (s->handlers.alert)
		s->handlers.alert(s->handlers.ctx, resp->text);
	else
		log_warn("%s sent an alert: %s", imap_peer(s), resp->text);
}

static void on_cond(struct imap_session *s, const struct imap_response *resp)
{
	const struct imap_resp_code *code = &resp->code;
	struct imap_cmd *c;

	if (resp->cond == IMAP_COND_BYE) {
		free(s->bye_text);
		s->bye_text = xstrdup(resp->text);
		return;
	}
	switch (code->type) {
	case IMAP_CODE_CAPABILITY:
		imap_caps_set_atoms(s, &code->atoms);
		return;
	case IMAP_CODE_ALERT:
		imap_alert(s, resp);
		return;
	case IMAP_CODE_COPYUID:
		/* UID MOVE reports COPYUID in an untagged OK (RFC 6851). */
		c = imap_oldest_sent(s, imap_cmd_is_move, 0);
		if (c && resp->cond == IMAP_COND_OK && (c->accept & (1ull << IMAP_CODE_COPYUID)))
			imap_copy_code(&c->code, code);
		return;
	default:
		break;
	}
	/* Mailbox data codes are only believed while a SELECT runs. */
	if (!imap_oldest_sent(s, imap_cmd_is_select, 0) || resp->cond != IMAP_COND_OK)
		return;
	switch (code->type) {
	case IMAP_CODE_UIDVALIDITY:
		s->mbox.uidvalidity = code->number;
		break;
	case IMAP_CODE_UIDNEXT:
		s->mbox.uidnext = code->number;
		break;
	case IMAP_CODE_UNSEEN:
		s->mbox.unseen = code->number;
		break;
	case IMAP_CODE_HIGHESTMODSEQ:
		s->mbox.highestmodseq = code->modseq;
		break;
	case IMAP_CODE_NOMODSEQ:
		s->mbox.nomodseq = true;
		break;
	case IMAP_CODE_PERMANENTFLAGS:
		/* The last one counts; "\*" is no system flag to
		 * imap_flags_parse, so it is looked for on its own. */
		free(s->perm_keywords);
		s->mbox.permanent_known = true;
		s->mbox.permanent_flags = imap_flags_parse(&code->atoms, &s->perm_keywords) & MAIL_FLAGS_ALL;
		s->mbox.permanent_keywords = s->perm_keywords;
		s->mbox.keywords_allowed = false;
		for (size_t i = 0; i < code->atoms.count; i++)
			if (strcmp(code->atoms.v[i], "\\*") == 0)
				s->mbox.keywords_allowed = true;
		break;
	default:
		break;
	}
}

void imap_on_untagged(struct imap_session *s, const struct imap_response *resp)
{
	struct imap_cmd *c;

	switch (resp->type) {
	case IMAP_DATA_COND:
		on_cond(s, resp);
		if (resp->code.type == IMAP_CODE_NOTIFICATIONOVERFLOW && s->handlers.unsolicited)
			s->handlers.unsolicited(s->handlers.ctx, resp);
		return;
	case IMAP_DATA_CAPABILITY:
		imap_caps_set_atoms(s, &resp->capability);
		return;
	case IMAP_DATA_ENABLED:
		for (size_t i = 0; i < resp->capability.count; i++) {
			const char *e = resp->capability.v[i];
			if (strcasecmp(e, "CONDSTORE") == 0)
				s->enabled |= IMAP_ENABLED_CONDSTORE;
			else if (strcasecmp(e, "QRESYNC") == 0)
				s->enabled |= IMAP_ENABLED_QRESYNC | IMAP_ENABLED_CONDSTORE;
			else if (strcasecmp(e, "UTF8=ACCEPT") == 0)
				s->enabled |= IMAP_ENABLED_UTF8;
		}
		return;
	case IMAP_DATA_EXISTS:
		if (resp->number > IMAP_SEQMAP_MAX) {
			imap_fail_protocol(
			    s, "%s announced %u messages in one mailbox, more than twinbox handles",
			    imap_peer(s), resp->number);
			return;
		}
		if (resp->number < s->mbox.exists)
			log_debug("imap: %s shrank EXISTS from %u to %u without EXPUNGE", imap_peer(s),
			          s->mbox.exists, resp->number);
		seqmap_resize(s, resp->number);
		if (s->handlers.exists)
			s->handlers.exists(s->handlers.ctx, resp->number);
		return;
	case IMAP_DATA_RECENT:
		s->mbox.recent = resp->number;
		return;
	case IMAP_DATA_EXPUNGE:
		on_expunge(s, resp->number);
		return;
	case IMAP_DATA_VANISHED:
		on_vanished(s, &resp->vanished);
		/* VANISHED (EARLIER) answers a command (UID FETCH ... VANISHED,
		 * SELECT ... QRESYNC): it goes to the command that wants it. */
		if (!resp->vanished.earlier)
			return;
		break;
	default:
		break;
	}
	c = imap_oldest_sent(s, imap_cmd_wants_type, resp->type);
	if (c)
		c->ops->response(c, resp);
	else if (s->handlers.unsolicited)
		s->handlers.unsolicited(s->handlers.ctx, resp);
	else
		log_debug("imap: unsolicited %s response from %s ignored",
		          resp->arg_count && resp->args[0].str ? resp->args[0].str : "untagged",
		          imap_peer(s));
}

void imap_on_fetch_event(struct imap_session *s, const struct imap_event *ev)
{
	const struct imap_fetch *f = ev->fetch;
	struct imap_cmd *c;

	if (ev->type == IMAP_EV_FETCH_BEGIN || ev->type == IMAP_EV_FETCH_END) {
		if ((f->have & IMAP_FETCH_UID) && f->seq >= 1 && f->seq <= s->mbox.exists)
			s->seqmap[f->seq - 1] = f->uid;
	}
	if (ev->type == IMAP_EV_FETCH_BEGIN)
		s->fetch_owner = imap_oldest_sent(s, imap_cmd_wants_fetch, 0);
	c = s->fetch_owner;
	if (c) {
		if (!c->cb_failed && c->ops->fetch(c, ev, &c->cb_err) < 0)
			c->cb_failed = true;
	} else if (ev->type == IMAP_EV_FETCH_END && s->handlers.fetch) {
		s->handlers.fetch(s->handlers.ctx, f);
	}
	if (ev->type == IMAP_EV_FETCH_END)
		s->fetch_owner = NULL;
}
