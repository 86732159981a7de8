/*
 * The planner of one folder: see the contract in twinbox/sync/plan.h.
 *
 * Shape: index the inputs (sorts and merge joins, so 100,000 messages
 * cost milliseconds), match messages without a partner by content key
 * (plan_match.c), decide each pair, then each new message, then apply
 * the mass-delete valve and put the actions into execution order.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "plan_p.h"
#include "twinbox/util/xmalloc.h"

void plan_rules_init(struct plan_rules *rules)
{
	memset(rules, 0, sizeof(*rules));
	rules->direction = PLAN_DIRECTION_BOTH;
	rules->flags = true;
	rules->expunge = PLAN_WHERE_BOTH;
	rules->create = PLAN_WHERE_BOTH;
	rules->mass_delete_percent = PLAN_MASS_DELETE_PERCENT;
	rules->mass_delete_min = PLAN_MASS_DELETE_MIN;
}

static bool may_change_remote(const struct plan_rules *rules)
{
	return rules->direction != PLAN_DIRECTION_PULL;
}

static bool may_change_local(const struct plan_rules *rules)
{
	return rules->direction != PLAN_DIRECTION_PUSH;
}

static bool too_big(const struct plan_rules *rules, uint64_t size)
{
	return rules->max_size && size > rules->max_size;
}

/* ---- indexing ---- */

/* 8 bytes, not 16: a folder of 100,000 messages has two such indexes
 * (a snapshot's index fits in 32 bits: it is in memory). */
struct uid_ix {
	uint32_t uid;
	uint32_t ix;
};

struct id_ix {
	const char *id;
	size_t ix;
};

static int uid_ix_cmp(const void *a, const void *b)
{
	const struct uid_ix *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int id_ix_cmp(const void *a, const void *b)
{
	const struct id_ix *x = a, *y = b;

	return strcmp(x->id, y->id);
}

static int check_uids(struct uid_ix *v, size_t n, const char *what, struct error *err)
{
	qsort(v, n, sizeof(*v), uid_ix_cmp);
	for (size_t i = 1; i < n; i++)
		if (v[i].uid == v[i - 1].uid)
			return error_set(err, ERR_MAILBOX,
			                 "%s lists UID %" PRIu32 " twice; skipping this folder so that no "
			                 "message is lost or copied twice",
			                 what, v[i].uid);
	return 0;
}

static int check_ids(struct id_ix *v, size_t n, const char *what, struct error *err)
{
	qsort(v, n, sizeof(*v), id_ix_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i].id, v[i - 1].id) == 0)
			return error_set(err, ERR_MAILBOX,
			                 "%s lists the local message \"%s\" twice; skipping this folder so "
			                 "that no message is lost or copied twice",
			                 what, v[i].id);
	return 0;
}

static int index_inputs(struct plan_ctx *ctx, struct error *err)
{
	const struct plan_input *in = ctx->in;
	struct uid_ix *ru;
	struct uid_ix *pu;
	struct id_ix *li;
	struct id_ix *pl;
	size_t npu = 0, npl = 0;
	int ret = -1;

	if (in->remote_count >= PLAN_NONE || in->local_count >= PLAN_NONE || in->pair_count >= PLAN_NONE)
		return error_set(err, ERR_MAILBOX,
		                 "this folder has more than 4294967294 messages; skipping it");
	ru = xcalloc(in->remote_count + 1, sizeof(*ru));
	pu = xcalloc(in->pair_count + 1, sizeof(*pu));
	li = xcalloc(in->local_count + 1, sizeof(*li));
	pl = xcalloc(in->pair_count + 1, sizeof(*pl));

	for (size_t i = 0; i < in->remote_count; i++) {
		if (in->remote[i].uid == 0) {
			error_set(err, ERR_MAILBOX,
			          "the server's listing of this folder has a message with UID 0, "
			          "which IMAP does not allow; skipping this folder");
			goto out;
		}
		ru[i] = (struct uid_ix){in->remote[i].uid, (uint32_t)i};
	}
	for (size_t i = 0; i < in->local_count; i++) {
		const char *id = in->local[i].local_id;

		if (!id || !*id) {
			error_set(err, ERR_MAILBOX,
			          "a local message has no id (a bug in the Maildir scan); "
			          "skipping this folder");
			goto out;
		}
		li[i] = (struct id_ix){id, i};
	}
	for (size_t i = 0; i < in->pair_count; i++) {
		const struct state_pair *p = &in->pairs[i];

		if (p->uid == 0 && !p->local_id) {
			error_set(err, ERR_MAILBOX,
			          "the state has a message (pair %" PRId64
			          ") with neither a remote nor a local "
			          "side; the state database is damaged: skipping this folder",
			          p->id);
			goto out;
		}
		if (p->uid)
			pu[npu++] = (struct uid_ix){p->uid, (uint32_t)i};
		if (p->local_id)
			pl[npl++] = (struct id_ix){p->local_id, i};
	}
	if (check_uids(ru, in->remote_count, "the server's listing of this folder", err) < 0 ||
	    check_uids(pu, npu, "the state of this folder", err) < 0 ||
	    check_ids(li, in->local_count, "the Maildir scan of this folder", err) < 0 ||
	    check_ids(pl, npl, "the state of this folder", err) < 0)
		goto out;

	/* Merge joins of the sorted lists: pairs <-> messages. */
	for (size_t a = 0, b = 0; a < in->remote_count && b < npu;) {
		if (ru[a].uid < pu[b].uid) {
			a++;
		} else if (ru[a].uid > pu[b].uid) {
			b++;
		} else {
			ctx->remote_pair[ru[a].ix] = pu[b].ix;
			ctx->pair_r[pu[b].ix] = ru[a].ix;
			a++, b++;
		}
	}
	for (size_t a = 0, b = 0; a < in->local_count && b < npl;) {
		int c = strcmp(li[a].id, pl[b].id);

		if (c < 0) {
			a++;
		} else if (c > 0) {
			b++;
		} else {
			ctx->local_pair[li[a].ix] = pl[b].ix;
			ctx->pair_l[pl[b].ix] = li[a].ix;
			a++, b++;
		}
	}
	ret = 0;
out:
	free(ru);
	free(pu);
	free(li);
	free(pl);
	return ret;
}

/* ---- per-message decisions ---- */

static struct plan_flags remote_flags(const struct plan_remote_msg *m)
{
	return (struct plan_flags){m->flags & MAIL_FLAGS_ALL, m->keywords};
}

static struct plan_flags local_flags(const struct plan_local_msg *m)
{
	return (struct plan_flags){m->flags & MAIL_FLAGS_ALL, m->keywords};
}

static struct plan_flag_change dup_change(struct plan_pool *pool, const struct plan_flag_change *c)
{
	return (struct plan_flag_change){c->add, c->remove, plan_pool_dup(pool, c->add_keywords),
	                                 plan_pool_dup(pool, c->remove_keywords)};
}

/* An action about pair `pair_id`, whose sides are `uid` and `local_id`. */
static struct plan_action *pair_action(struct plan_ctx *ctx, enum plan_kind kind, int64_t pair_id,
                                       uint32_t uid, const char *local_id)
{
	struct plan_action *a = plan_add_action(ctx, kind);

	a->pair_id = pair_id;
	a->uid = uid;
	a->local_id = plan_pool_dup(ctx->plan->pool, local_id);
	return a;
}

static void set_flags_actions(struct plan_ctx *ctx, int64_t pair_id, uint32_t uid, const char *local_id,
                              const struct plan_merge *m)
{
	struct plan_pool *pool = ctx->plan->pool;

	if (!plan_change_empty(&m->to_remote))
		pair_action(ctx, PLAN_SET_FLAGS_REMOTE, pair_id, uid, local_id)->change =
		    dup_change(pool, &m->to_remote);
	if (!plan_change_empty(&m->to_local))
		pair_action(ctx, PLAN_SET_FLAGS_LOCAL, pair_id, uid, local_id)->change =
		    dup_change(pool, &m->to_local);
}

static void update_flags(struct plan_ctx *ctx, int64_t pair_id, uint32_t uid, const char *local_id,
                         const struct plan_flags *synced)
{
	struct plan_action *a = pair_action(ctx, PLAN_UPDATE_PAIR, pair_id, uid, local_id);

	a->update = PLAN_UPDATE_FLAGS;
	a->flags = synced->bits;
	a->keywords = plan_pool_dup(ctx->plan->pool, synced->keywords);
}

static void note_reattached(struct plan_ctx *ctx, int64_t pair_id, const struct plan_remote_msg *rm,
                            const struct plan_local_msg *lm)
{
	plan_add_note(ctx, PLAN_NOTE_REATTACHED, pair_id, rm->uid, lm->local_id,
	              "UID %" PRIu32 " and local message %s have the same content and were known "
	              "before under another id; keeping them paired instead of deleting and copying",
	              rm->uid, lm->local_id);
}

/*
 * Remote message r and local message l are one message with no usable
 * last-synced flags: a new match by content key (sp NULL), a pair that a
 * message re-attached to, or a pair under rules.first_sync. Record the
 * pair with flags that make a failed flag change repeat at the next run,
 * then merge with the set winning (the clear for \Deleted).
 */
static void pair_without_base(struct plan_ctx *ctx, const struct state_pair *sp, size_t r, size_t l,
                              bool reattach)
{
	const struct plan_rules *rules = ctx->rules;
	const struct plan_remote_msg *rm = &ctx->in->remote[r];
	const struct plan_local_msg *lm = &ctx->in->local[l];
	struct plan_flags rf = remote_flags(rm), lf = local_flags(lm);
	struct plan_pool *pool = ctx->plan->pool;
	int64_t pair_id = sp ? sp->id : 0;
	struct plan_merge m;

	plan_merge_flags(pool, &rf, &lf, NULL, may_change_remote(rules), may_change_local(rules), &m);

	/* rules.first_sync on a known pair: with flags off, leave it be;
	 * else record only what differs from what the pair holds. */
	struct plan_flags base =
	    sp ? (struct plan_flags){sp->flags & MAIL_FLAGS_ALL, sp->keywords} : (struct plan_flags){0, NULL};
	if (sp && !reattach && !rules->flags)
		return;
	if (!sp || reattach || !plan_flags_equal(&m.record, &base)) {
		struct plan_action *a = pair_action(ctx, PLAN_PAIR_EXISTING, pair_id, rm->uid, lm->local_id);
		a->size = rm->size;
		a->content_key = plan_pool_dup(pool, rm->content_key ? rm->content_key : lm->content_key);
		a->flags = m.record.bits;
		a->keywords = plan_pool_dup(pool, m.record.keywords);
	}

	if (reattach)
		note_reattached(ctx, pair_id, rm, lm);
	if (!rules->flags)
		return;
	set_flags_actions(ctx, pair_id, rm->uid, lm->local_id, &m);
	if (!plan_flags_equal(&m.synced, &m.record))
		update_flags(ctx, pair_id, rm->uid, lm->local_id, &m.synced);
	if (m.differed)
		plan_add_note(ctx, PLAN_NOTE_FLAGS_MERGED, pair_id, rm->uid, lm->local_id,
		              "UID %" PRIu32
		              " (flags %s) and local message %s (flags %s) had different flags "
		              "and no earlier sync to compare with; merged them: set flags win, except "
		              "\\Deleted, which stays only where both sides have it",
		              rm->uid, plan_flags_text(pool, &rf), lm->local_id, plan_flags_text(pool, &lf));
}

/* Both sides present with a last-synced base: a three-way merge. */
static void pair_with_base(struct plan_ctx *ctx, const struct state_pair *sp, size_t r, size_t l)
{
	const struct plan_rules *rules = ctx->rules;
	const struct plan_remote_msg *rm = &ctx->in->remote[r];
	const struct plan_local_msg *lm = &ctx->in->local[l];
	struct plan_flags rf = remote_flags(rm), lf = local_flags(lm);
	struct plan_flags base = {sp->flags & MAIL_FLAGS_ALL, sp->keywords};
	struct plan_merge m;

	if (!rules->flags)
		return;
	/* The common case at 100,000 messages: nothing changed. */
	if (plan_flags_equal(&rf, &base) && plan_flags_equal(&lf, &base))
		return;
	plan_merge_flags(ctx->plan->pool, &rf, &lf, &base, may_change_remote(rules), may_change_local(rules),
	                 &m);
	set_flags_actions(ctx, sp->id, rm->uid, lm->local_id, &m);
	if (!plan_flags_equal(&m.synced, &base))
		update_flags(ctx, sp->id, rm->uid, lm->local_id, &m.synced);
}

/*
 * A new message re-attached to pair sp, which lost its partner on that
 * side, while the pair's last-synced flags still hold: a message put
 * back by another device (its copy carries that device's changes since
 * the last sync), moved out and back by a mail program, a file renamed
 * by a mail reader. Record the new id with the last-synced flags, then
 * merge three-way like any pair, so a flag cleared on one side since
 * the last sync stays cleared (a union would set it again).
 */
static void reattach_with_base(struct plan_ctx *ctx, const struct state_pair *sp, size_t r, size_t l)
{
	const struct plan_remote_msg *rm = &ctx->in->remote[r];
	const struct plan_local_msg *lm = &ctx->in->local[l];
	struct plan_pool *pool = ctx->plan->pool;
	struct plan_action *a = pair_action(ctx, PLAN_PAIR_EXISTING, sp->id, rm->uid, lm->local_id);

	a->size = rm->size;
	a->content_key = plan_pool_dup(pool, rm->content_key ? rm->content_key : lm->content_key);
	if (!a->content_key)
		a->content_key = plan_pool_dup(pool, sp->content_key);
	a->flags = sp->flags & MAIL_FLAGS_ALL;
	a->keywords = plan_pool_dup(pool, sp->keywords);
	note_reattached(ctx, sp->id, rm, lm);
	pair_with_base(ctx, sp, r, l);
}

static void drop_side(struct plan_ctx *ctx, const struct state_pair *sp, unsigned update)
{
	pair_action(ctx, PLAN_UPDATE_PAIR, sp->id, sp->uid, sp->local_id)->update = update;
}

static const char *since(const struct plan_rules *rules)
{
	return rules->first_sync ? "may have changed (there is no earlier sync to compare with)"
	                         : "changed since the last sync";
}

/* The pair had both sides; the remote one is gone, local message l is
 * still there. */
static void remote_gone(struct plan_ctx *ctx, const struct state_pair *sp, size_t l)
{
	const struct plan_rules *rules = ctx->rules;
	const struct plan_local_msg *lm = &ctx->in->local[l];
	struct plan_flags lf = local_flags(lm), base = {sp->flags & MAIL_FLAGS_ALL, sp->keywords};
	bool changed = rules->first_sync || (rules->flags && plan_flags_changed(&lf, &base));
	bool expunge = rules->expunge & PLAN_WHERE_LOCAL;
	const char *why;

	if (expunge && !changed && may_change_local(rules)) {
		struct plan_action *a = pair_action(ctx, PLAN_DELETE_LOCAL, sp->id, 0, lm->local_id);
		a->size = lm->size;
		return;
	}
	if (expunge && changed && may_change_remote(rules) && !too_big(rules, lm->size)) {
		struct plan_action *a = pair_action(ctx, PLAN_COPY_TO_REMOTE, sp->id, 0, lm->local_id);
		a->size = lm->size;
		a->content_key =
		    plan_pool_dup(ctx->plan->pool, lm->content_key ? lm->content_key : sp->content_key);
		a->flags = lf.bits;
		a->keywords = plan_pool_dup(ctx->plan->pool, lf.keywords);
		a->time = lm->mtime;
		plan_add_note(ctx, PLAN_NOTE_CHANGED_WINS, sp->id, sp->uid, lm->local_id,
		              "UID %" PRIu32
		              " was deleted on the server, but local message %s %s; copying it "
		              "back to the server instead of deleting it",
		              sp->uid, lm->local_id, since(rules));
		return;
	}
	if (!expunge)
		why = "expunge does not include local";
	else if (!changed)
		why = "direction push never changes the local side";
	else if (!may_change_remote(rules))
		why = "it changed locally since the last sync, and direction pull does not copy it back";
	else
		why = "it changed locally since the last sync, and it is larger than max_size, so it is not "
		      "copied back";
	if (too_big(rules, lm->size) && expunge && changed && may_change_remote(rules)) {
		struct plan_action *a = pair_action(ctx, PLAN_SKIP_TOO_BIG, sp->id, 0, lm->local_id);
		a->size = lm->size;
	}
	drop_side(ctx, sp, PLAN_UPDATE_DROP_REMOTE);
	plan_add_note(ctx, PLAN_NOTE_NOT_DELETED, sp->id, sp->uid, lm->local_id,
	              "UID %" PRIu32 " was deleted on the server; keeping local message %s (%s)", sp->uid,
	              lm->local_id, why);
}

/* The mirror image: the local side is gone, remote message r is there. */
static void local_gone(struct plan_ctx *ctx, const struct state_pair *sp, size_t r)
{
	const struct plan_rules *rules = ctx->rules;
	const struct plan_remote_msg *rm = &ctx->in->remote[r];
	struct plan_flags rf = remote_flags(rm), base = {sp->flags & MAIL_FLAGS_ALL, sp->keywords};
	bool changed = rules->first_sync || (rules->flags && plan_flags_changed(&rf, &base));
	bool expunge = rules->expunge & PLAN_WHERE_REMOTE;
	const char *why;

	if (expunge && !changed && may_change_remote(rules)) {
		struct plan_action *a = pair_action(ctx, PLAN_DELETE_REMOTE, sp->id, rm->uid, NULL);
		a->size = rm->size;
		return;
	}
	if (expunge && changed && may_change_local(rules) && !too_big(rules, rm->size)) {
		struct plan_action *a = pair_action(ctx, PLAN_COPY_TO_LOCAL, sp->id, rm->uid, NULL);
		a->size = rm->size;
		a->content_key =
		    plan_pool_dup(ctx->plan->pool, rm->content_key ? rm->content_key : sp->content_key);
		a->flags = rf.bits;
		a->keywords = plan_pool_dup(ctx->plan->pool, rf.keywords);
		a->time = rm->internal_date;
		plan_add_note(ctx, PLAN_NOTE_CHANGED_WINS, sp->id, rm->uid, sp->local_id,
		              "local message %s was deleted, but UID %" PRIu32
		              " on the server %s; copying it "
		              "back instead of deleting it on the server",
		              sp->local_id, rm->uid, since(rules));
		return;
	}
	if (!expunge)
		why = "expunge does not include remote";
	else if (!changed)
		why = "direction pull never changes the server";
	else if (!may_change_local(rules))
		why =
		    "it changed on the server since the last sync, and direction push does not copy it back";
	else
		why =
		    "it changed on the server since the last sync, and it is larger than max_size, so it is "
		    "not copied back";
	if (too_big(rules, rm->size) && expunge && changed && may_change_local(rules)) {
		struct plan_action *a = pair_action(ctx, PLAN_SKIP_TOO_BIG, sp->id, rm->uid, NULL);
		a->size = rm->size;
	}
	drop_side(ctx, sp, PLAN_UPDATE_DROP_LOCAL);
	plan_add_note(ctx, PLAN_NOTE_NOT_DELETED, sp->id, rm->uid, sp->local_id,
	              "local message %s was deleted; keeping UID %" PRIu32 " on the server (%s)",
	              sp->local_id, rm->uid, why);
}

/* Pair sp lost its UID to a renumbering and the server has nothing with
 * its content: local message l is uploaded again. */
static void reupload(struct plan_ctx *ctx, const struct state_pair *sp, size_t l)
{
	const struct plan_local_msg *lm = &ctx->in->local[l];
	struct plan_action *a;

	if (!may_change_remote(ctx->rules))
		return;
	a = pair_action(ctx, too_big(ctx->rules, lm->size) ? PLAN_SKIP_TOO_BIG : PLAN_COPY_TO_REMOTE, sp->id,
	                0, lm->local_id);
	a->size = lm->size;
	if (a->kind == PLAN_SKIP_TOO_BIG)
		return;
	a->reupload = true;
	a->content_key = plan_pool_dup(ctx->plan->pool, lm->content_key ? lm->content_key : sp->content_key);
	a->flags = lm->flags & MAIL_FLAGS_ALL;
	a->keywords = plan_pool_dup(ctx->plan->pool, lm->keywords);
	a->time = lm->mtime;
}

static void decide_pair(struct plan_ctx *ctx, size_t p)
{
	const struct state_pair *sp = &ctx->in->pairs[p];
	size_t r = ctx->pair_r[p], l = ctx->pair_l[p];

	if (ctx->attach_r[p] != PLAN_NONE || ctx->attach_l[p] != PLAN_NONE) {
		r = ctx->attach_r[p] != PLAN_NONE ? ctx->attach_r[p] : r;
		l = ctx->attach_l[p] != PLAN_NONE ? ctx->attach_l[p] : l;
		/* A renumbered pair's flags are of another numbering, maybe
		 * of another server: no base to merge against. */
		if (ctx->rules->first_sync || sp->renumbered)
			pair_without_base(ctx, sp, r, l, true);
		else
			reattach_with_base(ctx, sp, r, l);
		return;
	}
	if (r != PLAN_NONE && l != PLAN_NONE) {
		if (ctx->rules->first_sync)
			pair_without_base(ctx, sp, r, l, false);
		else
			pair_with_base(ctx, sp, r, l);
	} else if (r == PLAN_NONE && l == PLAN_NONE) {
		pair_action(ctx, PLAN_FORGET, sp->id, sp->uid, sp->local_id);
	} else if (r != PLAN_NONE) {
		/* A pair that never had (or lost) its local side stays as it is. */
		if (sp->local_id)
			local_gone(ctx, sp, r);
	} else if (sp->uid) {
		remote_gone(ctx, sp, l);
	} else if (sp->renumbered) {
		reupload(ctx, sp, l);
	}
}

/* ---- new messages ---- */

/* Returns whether the message was copied. */
static bool new_remote(struct plan_ctx *ctx, size_t r)
{
	const struct plan_remote_msg *rm = &ctx->in->remote[r];
	struct plan_action *a;

	if (!may_change_local(ctx->rules))
		return false;
	a = plan_add_action(ctx, too_big(ctx->rules, rm->size) ? PLAN_SKIP_TOO_BIG : PLAN_COPY_TO_LOCAL);
	a->uid = rm->uid;
	a->size = rm->size;
	if (a->kind == PLAN_SKIP_TOO_BIG)
		return false;
	a->content_key = plan_pool_dup(ctx->plan->pool, rm->content_key);
	a->flags = rm->flags & MAIL_FLAGS_ALL;
	a->keywords = plan_pool_dup(ctx->plan->pool, rm->keywords);
	a->time = rm->internal_date;
	return true;
}

static bool new_local(struct plan_ctx *ctx, size_t l)
{
	const struct plan_local_msg *lm = &ctx->in->local[l];
	struct plan_action *a;

	if (!may_change_remote(ctx->rules))
		return false;
	a = plan_add_action(ctx, too_big(ctx->rules, lm->size) ? PLAN_SKIP_TOO_BIG : PLAN_COPY_TO_REMOTE);
	a->local_id = plan_pool_dup(ctx->plan->pool, lm->local_id);
	a->size = lm->size;
	if (a->kind == PLAN_SKIP_TOO_BIG)
		return false;
	a->content_key = plan_pool_dup(ctx->plan->pool, lm->content_key);
	a->flags = lm->flags & MAIL_FLAGS_ALL;
	a->keywords = plan_pool_dup(ctx->plan->pool, lm->keywords);
	a->time = lm->mtime;
	return true;
}

static void new_messages(struct plan_ctx *ctx)
{
	const struct plan_input *in = ctx->in;
	size_t unkeyed_r = 0, unkeyed_l = 0, unpaired = 0;

	for (size_t r = 0; r < in->remote_count; r++)
		unpaired += ctx->remote_pair[r] == PLAN_NONE && ctx->remote_match[r] == PLAN_NONE;
	for (size_t l = 0; l < in->local_count; l++)
		unpaired += ctx->local_pair[l] == PLAN_NONE && !ctx->local_matched[l];
	plan_reserve_actions(ctx, unpaired);
	for (size_t r = 0; r < in->remote_count; r++) {
		if (ctx->remote_pair[r] != PLAN_NONE)
			continue;
		if (ctx->remote_match[r] != PLAN_NONE)
			pair_without_base(ctx, NULL, r, ctx->remote_match[r], false);
		else if (new_remote(ctx, r) && !in->remote[r].content_key)
			unkeyed_r++;
	}
	for (size_t l = 0; l < in->local_count; l++)
		if (ctx->local_pair[l] == PLAN_NONE && !ctx->local_matched[l] && new_local(ctx, l) &&
		    !in->local[l].content_key)
			unkeyed_l++;

	/* Without a key nothing can tell whether the other side already has
	 * the message: say so when the other side is not empty. */
	if (ctx->rules->first_sync && ((unkeyed_r && in->local_count) || (unkeyed_l && in->remote_count)))
		plan_add_note(
		    ctx, PLAN_NOTE_NO_KEY, 0, 0, NULL,
		    "first sync of this folder: %zu messages on the server and %zu local messages have "
		    "no content key and cannot be matched with the other side; they are copied, which "
		    "duplicates any that the other side already has",
		    unkeyed_r, unkeyed_l);
}

/* ---- the valves ---- */

static bool over_threshold(const struct plan_rules *rules, size_t deletions, size_t total)
{
	return deletions > rules->mass_delete_min &&
	       (uint64_t)deletions * 100 > (uint64_t)rules->mass_delete_percent * total;
}

/* Whether a side's deletions empty it, or follow the other side's
 * emptying (`other` messages left there): see plan.h. */
static bool empties(const struct plan_rules *rules, const struct plan_side_count *c, size_t other)
{
	return rules->use != PLAN_USE_TRASH && rules->use != PLAN_USE_JUNK && c->deletions >= 2 &&
	       (c->deletions == c->total || other == 0);
}

/* "all 5" or "5 of the 7". */
static const char *how_many(struct plan_ctx *ctx, const struct plan_side_count *c)
{
	if (c->deletions == c->total)
		return plan_pool_printf(ctx->plan->pool, "all %zu", c->total);
	return plan_pool_printf(ctx->plan->pool, "%zu of the %zu", c->deletions, c->total);
}

/* How the notes of one side speak of it. */
struct side_words {
	const char *messages;    /* "local messages" */
	const char *gone_there;  /* where they were deleted: "on the server" */
	const char *here;        /* where they would be deleted: "locally" */
	const char *other_empty; /* "the folder is now empty on the server" */
	const char *hint;        /* more to say when the other side is empty, or "" */
};

static void side_note(struct plan_ctx *ctx, const struct plan_side_count *c, size_t other,
                      const struct side_words *w)
{
	if (c->emptied)
		plan_add_note(ctx, PLAN_NOTE_MASS_DELETE, 0, 0, NULL,
		              "this run would delete %s %s, because %s; a folder emptied by accident looks "
		              "just like one emptied on purpose, so none is deleted%s. If the folder was "
		              "emptied on purpose, run again with --allow-mass-delete",
		              how_many(ctx, c), w->messages,
		              other ? plan_pool_printf(ctx->plan->pool, "they were deleted %s", w->gone_there)
		                    : w->other_empty,
		              other ? "" : w->hint);
	else if (c->blocked)
		plan_add_note(ctx, PLAN_NOTE_MASS_DELETE, 0, 0, NULL,
		              "%zu of the %zu %s were deleted %s since the last sync; deleting that many at "
		              "once looks like a mistake, so none is deleted %s. If it is what you want, run "
		              "again with --allow-mass-delete",
		              c->deletions, c->total, w->messages, w->gone_there, w->here);
}

static void valve_notes(struct plan_ctx *ctx)
{
	static const struct side_words remote = {
	    "messages on the server", "locally", "on the server", "the local folder is now empty",
	    " (if the Maildir was moved or is not mounted, put it back first)"};
	static const struct side_words local = {"local messages", "on the server", "locally",
	                                        "the folder is now empty on the server", ""};

	side_note(ctx, &ctx->plan->remote, ctx->plan->local.total, &remote);
	side_note(ctx, &ctx->plan->local, ctx->plan->remote.total, &local);
}

static void valve(struct plan_ctx *ctx)
{
	const struct plan_rules *rules = ctx->rules;
	struct plan *plan = ctx->plan;
	size_t kept = 0;

	plan->remote.total = ctx->rules->remote_total > ctx->in->remote_count ? ctx->rules->remote_total
	                                                                      : ctx->in->remote_count;
	plan->local.total =
	    ctx->rules->local_total > ctx->in->local_count ? ctx->rules->local_total : ctx->in->local_count;
	for (size_t i = 0; i < plan->action_count; i++) {
		plan->remote.deletions += plan->actions[i].kind == PLAN_DELETE_REMOTE;
		plan->local.deletions += plan->actions[i].kind == PLAN_DELETE_LOCAL;
	}
	if (rules->allow_mass_delete)
		return;
	plan->remote.emptied = empties(rules, &plan->remote, plan->local.total);
	plan->local.emptied = empties(rules, &plan->local, plan->remote.total);
	plan->remote.blocked =
	    plan->remote.emptied || over_threshold(rules, plan->remote.deletions, plan->remote.total);
	plan->local.blocked =
	    plan->local.emptied || over_threshold(rules, plan->local.deletions, plan->local.total);
	if (!plan->remote.blocked && !plan->local.blocked)
		return;

	plan->status = PLAN_MASS_DELETE_BLOCKED;
	for (size_t i = 0; i < plan->action_count; i++) {
		enum plan_kind k = plan->actions[i].kind;

		if ((k == PLAN_DELETE_REMOTE && plan->remote.blocked) ||
		    (k == PLAN_DELETE_LOCAL && plan->local.blocked))
			continue;
		plan->actions[kept++] = plan->actions[i];
	}
	plan->action_count = kept;
	valve_notes(ctx);
}

/* ---- the whole ---- */

static uint32_t *none_array(size_t n)
{
	uint32_t *v = xmalloc((n + 1) * sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = PLAN_NONE;
	return v;
}

int plan_build(const struct plan_input *in, const struct plan_rules *rules, struct plan *plan_r,
               struct error *err)
{
	struct plan_ctx ctx = {
	    .in = in,
	    .rules = rules,
	    .plan = plan_r,
	    .pair_r = none_array(in->pair_count),
	    .pair_l = none_array(in->pair_count),
	    .remote_pair = none_array(in->remote_count),
	    .local_pair = none_array(in->local_count),
	    .attach_r = none_array(in->pair_count),
	    .attach_l = none_array(in->pair_count),
	    .remote_match = none_array(in->remote_count),
	    .local_matched = xcalloc(in->local_count + 1, sizeof(bool)),
	};
	int ret = 0;

	memset(plan_r, 0, sizeof(*plan_r));
	plan_r->pool = plan_pool_new();
	if (index_inputs(&ctx, err) < 0) {
		plan_free(plan_r);
		ret = -1;
	} else {
		plan_match(&ctx);
		for (size_t p = 0; p < in->pair_count; p++)
			decide_pair(&ctx, p);
		new_messages(&ctx);
		valve(&ctx);
		plan_sort(plan_r);
	}

	free(ctx.pair_r);
	free(ctx.pair_l);
	free(ctx.remote_pair);
	free(ctx.local_pair);
	free(ctx.attach_r);
	free(ctx.attach_l);
	free(ctx.remote_match);
	free(ctx.local_matched);
	return ret;
}
