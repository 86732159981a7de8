/*
 * The remote snapshot of a changed folder from what changed on the
 * server since the last sync (QRESYNC), instead of every message's flags:
 * the state's pairs are the server's messages as they were then, and
 * the server tells which of them changed or went, and which came.
 */
#include <stdlib.h>

#include "engine_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Whether `uid` is in the sorted ranges from *at on; `uid` ascends from
 * one call to the next, so *at only moves forward. */
static bool gone(const struct store_changes *c, size_t *at, uint32_t uid)
{
	while (*at < c->gone_count && c->gone[*at].last < uid)
		(*at)++;
	return *at < c->gone_count && c->gone[*at].first <= uid;
}

/*
 * Merge the pairs (sorted by uid, those without a remote side first)
 * with the changed messages (sorted by uid): a changed or new message as
 * the server sent it, a pair's message as the state has it (its flags
 * are the server's, its size the same; no date, which only a copy of a
 * message the server changed would need), nothing for an expunged UID.
 * Returns the count of messages; `out` holds room for all.
 */
static size_t merge(const struct state_pairs *ps, const struct store_changes *c, struct store_msg *out)
{
	const struct store_snapshot *ch = &c->changed;
	size_t i = 0, j = 0, at = 0, n = 0;

	while (i < ps->count && ps->pairs[i].uid == 0)
		i++;
	while (i < ps->count || j < ch->count) {
		const struct state_pair *p = i < ps->count ? &ps->pairs[i] : NULL;
		const struct store_msg *m = j < ch->count ? &ch->msgs[j] : NULL;
		struct store_msg from_pair;
		uint32_t uid;

		if (m && (!p || m->uid <= p->uid)) {
			if (p && p->uid == m->uid)
				i++;
			j++;
		} else {
			from_pair = (struct store_msg){
			    .uid = p->uid, .flags = p->flags, .keywords = p->keywords, .size = p->size};
			m = &from_pair;
			i++;
		}
		uid = m->uid;
		if (!gone(c, &at, uid))
			out[n++] = *m;
	}
	return n;
}

int engine_remote_changes(struct folder_run *r, uint64_t since, bool *done_r, struct error *err)
{
	struct store_changes c;
	struct store_msg *msgs;
	size_t n;
	int told;

	*done_r = false;
	told = r->rs->ops->changes(r->rf, since, &c, err);
	if (told <= 0) {
		if (told < 0 && err->scope > ERR_MAILBOX)
			return -1;
		/* A server that offers QRESYNC yet refuses to use it costs a
		 * whole read, not the folder. */
		if (told < 0)
			log_warn("%s: %s; reading the whole folder instead", r->rep->name, err->text);
		return 0;
	}
	if (state_pairs_load(r->st, r->folder_id, &r->pairs, err) < 0) {
		store_changes_free(&c);
		return -1;
	}
	msgs = xcalloc(r->pairs.count + c.changed.count + 1, sizeof(*msgs));
	n = merge(&r->pairs, &c, msgs);
	/* The server holds every message the pairs and its changes name,
	 * and no other: else the state missed something (a message skipped
	 * as too big, say), and only a whole read is sure. */
	if (n != c.exists) {
		log_debug("%s: the state and the server's changes make %zu messages, the server holds %u; "
		          "reading the whole folder",
		          r->rep->name, n, c.exists);
		free(msgs);
		store_changes_free(&c);
		state_pairs_free(&r->pairs);
		return 0;
	}
	log_debug("%s: %zu messages changed or new on the server, %zu UID ranges expunged since modseq %llu",
	          r->rep->name, c.changed.count, c.gone_count, (unsigned long long)since);
	free(c.changed.msgs);
	r->rsnap = (struct store_snapshot){msgs, n, c.changed.priv, c.changed.free_priv};
	c.changed = (struct store_snapshot){0};
	store_changes_free(&c);
	*done_r = true;
	return 0;
}
