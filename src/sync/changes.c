/*
 * The remote snapshot of a changed folder from what changed on the
 * server since the last sync (QRESYNC), instead of every message's flags:
 * the state's pairs are the server's messages as they were then, and
 * the server tells which of them changed or went, and which came.
 *
 * Where the Maildir folder is also as the last sync left it (its times
 * are those the state recorded), the run goes further: only the pairs of
 * the changed and expunged UIDs are loaded, their local files are found
 * by name instead of a scan, and the plan is made over those alone
 * (changes_alone). Time and memory then go with the changes, not with
 * the folder.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "twinbox/state/folder.h"
#include "twinbox/util/log.h"
#include "twinbox/util/mailflags.h"
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

	while (i < ps->count && ps->pairs[i].side[SIDE_A].uid == 0)
		i++;
	while (i < ps->count || j < ch->count) {
		const struct state_pair *p = i < ps->count ? &ps->pairs[i] : NULL;
		const struct store_msg *m = j < ch->count ? &ch->msgs[j] : NULL;
		struct store_msg from_pair;
		uint32_t uid;

		if (m && (!p || m->uid <= p->side[SIDE_A].uid)) {
			if (p && p->side[SIDE_A].uid == m->uid)
				i++;
			j++;
		} else {
			from_pair = (struct store_msg){.uid = p->side[SIDE_A].uid,
			                               .flags = p->flags,
			                               .keywords = p->keywords,
			                               .size = p->size};
			m = &from_pair;
			i++;
		}
		uid = m->uid;
		if (!gone(c, &at, uid))
			out[n++] = *m;
	}
	return n;
}

/* ---- the changes alone --------------------------------------------- */

/* Whether the local folder is as the last sync left it: the same times
 * of new/ and cur/ (settled when recorded: finish_folder), or else,
 * where the last sync changed the folder itself (so it recorded no
 * times), the same listing (store_listing) as recorded, read afresh; so
 * no message came, went or changed there. The store then keeps the
 * listing through this run's changes, for finish_folder to record. */
static int local_same(struct folder_run *r, const struct state_folder *sf,
                      const struct store_folder_info *linfo, bool *same_r, struct error *err)
{
	const struct store_ops *ops = r->store[SIDE_B]->ops;
	struct store_listing now, then = {sf->side[SIDE_B].digest, (uint64_t)sf->side[SIDE_B].files};
	bool listed = sf->side[SIDE_B].files >= 0 && ops->read_listing;
	int rc;

	*same_r = false;
	if (!ops->find || ops->key != STORE_KEY_NAME)
		return 0;
	if (engine_times_same(&sf->side[SIDE_B], linfo)) {
		if (listed)
			ops->assume_listing(r->folder[SIDE_B], &then);
		*same_r = true;
		return 0;
	}
	/* Times recorded by a sync that left the folder as it found it,
	 * and other times now: another program changed it. The names
	 * would only say so again; the folder is read whole anyway. */
	if (engine_times_recorded(&sf->side[SIDE_B])) {
		log_debug("%s: the Maildir folder changed since the last sync (its times)", r->rep->name);
		return 0;
	}
	if (!listed)
		return 0;
	/* The read-ahead may have read it already (prefetch.c). */
	rc = r->pre.listed && ops->listing ? ops->listing(r->folder[SIDE_B], &now)
	                                   : ops->read_listing(r->folder[SIDE_B], &now, err);
	if (rc < 0)
		return -1;
	*same_r = rc > 0 && engine_listing_same(&sf->side[SIDE_B], &now);
	if (rc > 0)
		r->files_read = (int64_t)now.files;
	log_debug("%s: the Maildir folder's times changed; its file names %s as the last sync left them",
	          r->rep->name, *same_r ? "are" : "are not");
	return 0;
}

/* Whether each side is as the last sync left it, by the markers the
 * state recorded for it. The server (opened with `rinfo`): the same
 * UIDVALIDITY, UIDNEXT, count and HIGHESTMODSEQ (any change moves one:
 * a flag the modseq, an expunge the count, an expunge and an append
 * UIDNEXT). The local folder (`linfo`): local_same(), and its store can
 * find messages without reading it. */
static int sides_same(struct folder_run *r, const struct store_folder_info *rinfo,
                      const struct store_folder_info *linfo, bool *remote_r, bool *local_r, struct error *err)
{
	struct state_folder sf;
	int found = state_folder_get(r->st, r->folder_id, &sf, err);

	*remote_r = *local_r = false;
	if (found <= 0)
		return found;
	*remote_r = engine_counts_same(&sf.side[SIDE_A], rinfo);
	found = local_same(r, &sf, linfo, local_r, err);
	state_folder_clear(&sf);
	return found;
}

static int by_first(const void *a, const void *b)
{
	uint32_t x = ((const struct state_uid_range *)a)->first,
	         y = ((const struct state_uid_range *)b)->first;

	return x < y ? -1 : x > y;
}

/* The UIDs the server named, changed or expunged, as sorted, disjoint
 * ranges (a run of consecutive changed UIDs is one range). */
static struct state_uid_range *uid_ranges(const struct store_changes *c, size_t *count_r)
{
	const struct store_snapshot *ch = &c->changed;
	struct state_uid_range *v = xcalloc(ch->count + c->gone_count + 1, sizeof(*v));
	size_t n = 0, k = 0;

	for (size_t i = 0; i < ch->count; i++) {
		uint32_t uid = ch->msgs[i].uid;
		if (n && v[n - 1].last + 1 == uid)
			v[n - 1].last = uid;
		else
			v[n++] = (struct state_uid_range){uid, uid};
	}
	for (size_t i = 0; i < c->gone_count; i++)
		v[n++] = (struct state_uid_range){c->gone[i].first, c->gone[i].last};
	qsort(v, n, sizeof(*v), by_first);
	for (size_t i = 0; i < n; i++) {
		if (k && (uint64_t)v[k - 1].last + 1 >= v[i].first) {
			if (v[i].last > v[k - 1].last)
				v[k - 1].last = v[i].last;
		} else {
			v[k++] = v[i];
		}
	}
	*count_r = k;
	return v;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct store_msg *)a)->name, ((const struct store_msg *)b)->name);
}

/* The local side of the loaded pairs, found by name where the last sync
 * left them, with their current flags: 1 (r->snap[SIDE_B] made, sorted by
 * name), 0 when one is missing, -1. */
static int local_side(struct folder_run *r, struct error *err)
{
	struct store_msg *msgs = xcalloc(r->pairs.count + 1, sizeof(*msgs));
	size_t n = 0;
	int found;

	for (size_t i = 0; i < r->pairs.count; i++) {
		const struct state_pair *p = &r->pairs.pairs[i];
		if (p->side[SIDE_B].name)
			msgs[n++] = (struct store_msg){.name = p->side[SIDE_B].name,
			                               .flags = p->flags,
			                               .keywords = p->keywords,
			                               .size = p->size};
	}
	found = n ? r->store[SIDE_B]->ops->find(r->folder[SIDE_B], msgs, n, err) : 1;
	if (found <= 0) {
		free(msgs);
		return found;
	}
	r->snap[SIDE_B] = (struct store_snapshot){msgs, n, NULL, NULL};
	if (n > 1)
		qsort(msgs, n, sizeof(*msgs), by_name);
	return 1;
}

/* The Maildir folder holds only messages the state pairs (none that a
 * new server message could match by content): its count, read without
 * a look at any file, is the pairs' count with a local side. */
static int all_local_paired(struct folder_run *r, size_t with_local, bool *all_r, struct error *err)
{
	struct store_snapshot snap;
	size_t n;

	if (r->files_read >= 0) {
		n = (size_t)r->files_read; /* local_same() read the directories */
	} else if (r->store[SIDE_B]->ops->count) {
		if (r->store[SIDE_B]->ops->count(r->folder[SIDE_B], &n, err) < 0)
			return -1;
	} else {
		if (r->store[SIDE_B]->ops->snapshot(r->folder[SIDE_B], &snap, err) < 0)
			return -1;
		n = snap.count;
		store_snapshot_free(&snap);
	}
	*all_r = n == with_local;
	return 0;
}

/*
 * Plan over the changes alone, the Maildir being unchanged: r->pairs
 * only the pairs of the UIDs the server named (and, when new messages
 * came, those without a remote side, which a new message may re-attach
 * to by content key), r->snap[SIDE_A] the changed and new messages, r->snap[SIDE_B]
 * the local side of those pairs as found by name. Returns 1 when made,
 * 0 when they cannot stand for the folder (nothing kept: the caller
 * goes on with the whole folder), -1 on failure.
 */
static int changes_alone(struct folder_run *r, uint64_t since, struct store_changes *c, struct error *err)
{
	struct store_snapshot *ch = &c->changed;
	size_t nranges, with[SIDES], gone_pairs = 0, fresh = 0, n = 0, at = 0;
	struct state_uid_range *ranges = uid_ranges(c, &nranges);
	bool all_paired = true;
	int rc = -1;

	if (state_pairs_count(r->st, r->folder_id, with, err) < 0 ||
	    state_pairs_load_uids(r->st, r->folder_id, ranges, nranges, false, &r->pairs, err) < 0)
		goto out;
	for (size_t i = 0; i < r->pairs.count; i++)
		gone_pairs +=
		    r->pairs.pairs[i].side[SIDE_A].uid && gone(c, &at, r->pairs.pairs[i].side[SIDE_A].uid);
	at = 0;
	for (size_t i = 0; i < ch->count; i++)
		if (!gone(c, &at, ch->msgs[i].uid)) {
			fresh +=
			    !state_pairs_find(&r->pairs, SIDE_A, (struct store_id){ch->msgs[i].uid, NULL});
			ch->msgs[n++] = ch->msgs[i];
		}
	ch->count = n;
	rc = 0;
	/* As in the merge below: the state and the changes must make the
	 * server's count, else the state missed something. */
	if (with[SIDE_A] - gone_pairs + fresh != c->exists)
		goto out;
	if (fresh) {
		state_pairs_free(&r->pairs);
		if (state_pairs_load_uids(r->st, r->folder_id, ranges, nranges, true, &r->pairs, err) < 0 ||
		    all_local_paired(r, with[SIDE_B], &all_paired, err) < 0) {
			rc = -1;
			goto out;
		}
		if (!all_paired) {
			log_debug(
			    "%s: the Maildir folder holds messages the state does not pair; reading it whole",
			    r->rep->name);
			goto out;
		}
	}
	rc = local_side(r, err);
	if (rc <= 0)
		goto out;
	r->snap[SIDE_A] = *ch;
	*ch = (struct store_snapshot){0};
	r->total[SIDE_A] = c->exists;
	r->total[SIDE_B] = with[SIDE_B];
	r->partial = true;
	log_debug("%s: the Maildir folder is unchanged: %s; syncing only the %zu messages changed or new on "
	          "the server and %zu UID ranges expunged since modseq %llu (%zu pairs loaded)",
	          r->rep->name, fresh ? "its messages counted, none read" : "not read", r->snap[SIDE_A].count,
	          c->gone_count, (unsigned long long)since, r->pairs.count);
out:
	if (rc <= 0)
		state_pairs_free(&r->pairs);
	if (rc == 0)
		log_debug("%s: the changes alone cannot stand for the folder; syncing it whole",
		          r->rep->name);
	free(ranges);
	return rc;
}

/* ---- the Maildir's changes alone ------------------------------------ */

/* Whether pair `p` is plainly both sides of one message (so that, with
 * neither side changed, a plan would do nothing with it). */
static bool plain_pair(const struct state_pair *p)
{
	return p->side[SIDE_A].uid && p->side[SIDE_B].name && !p->renumbered;
}

/* Keep (in `keep`, parallel to the pairs) those of the UIDs the server
 * named; returns how many messages the pairs and the changes make on
 * the server. */
static size_t keep_server_changes(const struct state_pairs *ps, const struct store_changes *c, bool *keep)
{
	const struct store_snapshot *ch = &c->changed;
	size_t total = 0, j = 0, at = 0;

	for (size_t i = 0; i < ps->count; i++) {
		uint32_t uid = ps->pairs[i].side[SIDE_A].uid;
		bool went;

		if (!uid)
			continue;
		while (j < ch->count && ch->msgs[j].uid < uid)
			j++;
		went = gone(c, &at, uid);
		keep[i] = went || (j < ch->count && ch->msgs[j].uid == uid);
		total += !went;
	}
	at = 0;
	for (j = 0; j < ch->count; j++)
		total += !gone(c, &at, ch->msgs[j].uid) &&
		         !state_pairs_find(ps, SIDE_A, (struct store_id){ch->msgs[j].uid, NULL});
	return total;
}

/*
 * Plan over what changed on either side, the Maildir folder having
 * changed: it is read (its file names tell every message's flags) and
 * compared with the pairs; the plan is made over the files that came or
 * whose flags changed, the pairs whose file went, the pairs of the UIDs
 * the server named (`c`: its changes, or none when it is as the last
 * sync left it), and the pairs that are not plainly both sides of one
 * message; the server's side of the others is as the state holds it.
 * Every pair left out is a message changed on neither side, for which a
 * plan does nothing. Returns 1 when made, 0 when the state and the
 * changes do not make the server's count (the caller reads the whole
 * folder), -1.
 */
static int maildir_changes(struct folder_run *r, struct store_changes *c, struct error *err)
{
	struct store_snapshot *ls = &r->snap[SIDE_B];
	struct store_msg *msgs;
	size_t *at, nl = 0, came = 0, changed = 0, went = 0, pairs, total, named = c->changed.count;
	bool *keep, *lkeep;
	int rc = 0;

	if (engine_load_pairs(r, err) < 0 || engine_local_snapshot(r, err) < 0) {
		state_pairs_free(&r->pairs);
		return -1;
	}
	pairs = r->pairs.count;
	at = xmalloc((pairs + 1) * sizeof(*at));
	keep = xcalloc(pairs + 1, sizeof(*keep));
	lkeep = xcalloc(ls->count + 1, sizeof(*lkeep));
	for (size_t i = 0; i < pairs; i++)
		at[i] = SIZE_MAX;
	total = keep_server_changes(&r->pairs, c, keep);
	if (total != c->exists) {
		log_debug("%s: the state and the server's changes make %zu messages, the server holds %u; "
		          "reading the whole folder",
		          r->rep->name, total, c->exists);
		goto out;
	}
	/* Files that came or whose flags changed, and their pairs. */
	for (size_t j = 0; j < ls->count; j++) {
		const struct store_msg *m = &ls->msgs[j];
		const struct state_pair *p =
		    state_pairs_find(&r->pairs, SIDE_B, (struct store_id){0, m->name});
		size_t i;

		if (!p) {
			lkeep[j] = true;
			came++;
			continue;
		}
		i = (size_t)(p - r->pairs.pairs);
		at[i] = j;
		if (p->flags != m->flags || !mail_keywords_equal(p->keywords, m->keywords)) {
			changed++;
			keep[i] = lkeep[j] = true;
		}
	}
	/* Pairs whose file went, those not plain, and those the server
	 * named, each with its file. */
	for (size_t i = 0; i < pairs; i++) {
		const struct state_pair *p = &r->pairs.pairs[i];

		if (!keep[i] && plain_pair(p) && at[i] != SIZE_MAX)
			continue;
		went += !keep[i] && plain_pair(p);
		keep[i] = true;
		if (at[i] != SIZE_MAX)
			lkeep[at[i]] = true;
	}
	r->total[SIDE_B] = ls->count;
	for (size_t j = 0; j < ls->count; j++)
		if (lkeep[j])
			ls->msgs[nl++] = ls->msgs[j];
	ls->count = nl;
	state_pairs_keep(&r->pairs, keep);
	/* The server's side: the kept pairs as the state has them, merged
	 * with its changes. */
	msgs = xcalloc(r->pairs.count + c->changed.count + 1, sizeof(*msgs));
	r->snap[SIDE_A] =
	    (struct store_snapshot){msgs, merge(&r->pairs, c, msgs), c->changed.priv, c->changed.free_priv};
	free(c->changed.msgs);
	c->changed = (struct store_snapshot){0};
	r->total[SIDE_A] = c->exists;
	r->partial = true;
	rc = 1;
	log_debug("%s: syncing only what changed: in the Maildir folder %zu new files, %zu with other flags, "
	          "%zu gone; on the server %zu messages changed or new, %zu UID ranges expunged (%zu "
	          "pairs kept of %zu)",
	          r->rep->name, came, changed, went, named, c->gone_count, r->pairs.count, pairs);
out:
	free(at);
	free(keep);
	free(lkeep);
	if (rc == 0) {
		state_pairs_free(&r->pairs);
		store_snapshot_free(ls);
	}
	return rc;
}

/* ---- the changes merged with every pair ----------------------------- */

int engine_remote_changes(struct folder_run *r, uint64_t since, const struct store_folder_info *rinfo,
                          const struct store_folder_info *linfo, bool *done_r, struct error *err)
{
	struct store_changes c = {0};
	struct store_msg *msgs;
	bool remote_same, local_same;
	size_t n;
	int told = 1;

	*done_r = false;
	if (sides_same(r, rinfo, linfo, &remote_same, &local_same, err) < 0)
		return -1;
	if (remote_same) {
		/* Nothing to ask the server: no change since the last sync. */
		c.exists = rinfo->exists;
		log_debug("%s: unchanged on the server since the last sync: its messages are not read",
		          r->rep->name);
	} else {
		told = r->store[SIDE_A]->ops->changes(r->folder[SIDE_A], since, &c, err);
	}
	if (told <= 0) {
		if (told < 0 && err->scope > ERR_MAILBOX)
			return -1;
		/* A server that offers QRESYNC yet refuses to use it costs a
		 * whole read, not the folder. */
		if (told < 0)
			log_warn("%s: %s; reading the whole folder instead", r->rep->name, err->text);
		return 0;
	}
	/* The Maildir as the last sync left it too: the changes alone; the
	 * server as it left it: the Maildir's changes alone. */
	if (local_same)
		told = changes_alone(r, since, &c, err);
	else if (r->store[SIDE_B]->ops->key == STORE_KEY_NAME)
		told = maildir_changes(r, &c, err);
	else
		told = 0;
	if (told != 0) {
		store_changes_free(&c);
		*done_r = told > 0;
		return told < 0 ? -1 : 0;
	}
	if (engine_load_pairs(r, err) < 0) {
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
	r->snap[SIDE_A] = (struct store_snapshot){msgs, n, c.changed.priv, c.changed.free_priv};
	c.changed = (struct store_snapshot){0};
	store_changes_free(&c);
	*done_r = true;
	return 0;
}
