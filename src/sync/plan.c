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

static const struct plan_side_words default_words[SIDES] = {
    [SIDE_A] = {"UID", "on the server", "the server", "messages on the server",
                "the folder is now empty on the server", "", "remote"},
    [SIDE_B] = {"local message", "locally", "the local side", "local messages",
                "the local folder is now empty",
                " (if the Maildir was moved or is not mounted, put it back first)", "local"},
};

void plan_rules_init(struct plan_rules *rules)
{
	memset(rules, 0, sizeof(*rules));
	rules->direction = PLAN_DIRECTION_BOTH;
	rules->flags = true;
	rules->expunge = PLAN_WHERE_BOTH;
	rules->create = PLAN_WHERE_BOTH;
	rules->mass_delete_percent = PLAN_MASS_DELETE_PERCENT;
	rules->mass_delete_min = PLAN_MASS_DELETE_MIN;
	rules->words[SIDE_A] = default_words[SIDE_A];
	rules->words[SIDE_B] = default_words[SIDE_B];
}

bool plan_may_change(const struct plan_rules *rules, enum side side)
{
	return rules->direction != (side == SIDE_A ? PLAN_DIRECTION_PULL : PLAN_DIRECTION_PUSH);
}

/* The direction that never changes `side`. */
static const char *direction_keeping(enum side side)
{
	return side == SIDE_A ? "pull" : "push";
}

static bool too_big(const struct plan_rules *rules, uint64_t size)
{
	return rules->max_size && size > rules->max_size;
}

/* ---- indexing ---- */

/* The ids of one side with where they came from: a store_id's members
 * with the index (32 bits: a snapshot is in memory) in 16 bytes, as 8
 * would do for UIDs alone (two such arrays per side of 100,000). */
struct id_ix {
	const char *name;
	uint32_t uid;
	uint32_t ix;
};

static struct store_id id_of(const struct id_ix *x)
{
	return (struct store_id){x->uid, x->name};
}

static int id_ix_cmp(const void *a, const void *b)
{
	const struct id_ix *x = a, *y = b;

	return store_id_cmp(id_of(x), id_of(y));
}

static int check_ids(struct id_ix *v, size_t n, const struct plan_side_words *w, const char *what,
                     struct error *err)
{
	qsort(v, n, sizeof(*v), id_ix_cmp);
	for (size_t i = 1; i < n; i++) {
		if (id_ix_cmp(&v[i], &v[i - 1]) != 0)
			continue;
		if (v[i].name)
			return error_set(err, ERR_MAILBOX,
			                 "%s lists the %s \"%s\" twice; skipping this folder so that no "
			                 "message is lost or copied twice",
			                 what, w->noun, v[i].name);
		return error_set(err, ERR_MAILBOX,
		                 "%s lists %s %" PRIu32 " twice; skipping this folder so that no "
		                 "message is lost or copied twice",
		                 what, w->noun, v[i].uid);
	}
	return 0;
}

/* What the notes call a side's snapshot. */
static const char *listing_name(const struct plan_rules *rules, enum side s)
{
	return s == SIDE_A && strcmp(rules->words[s].noun, "UID") == 0 ? "the server's listing of this folder"
	                                                               : "the listing of this folder";
}

/* The messages of side s and its pairs, joined: msg_pair and pair_msg. */
static int index_side(struct plan_ctx *ctx, enum side s, struct id_ix *mi, struct id_ix *pi,
                      struct error *err)
{
	const struct plan_input *in = ctx->in;
	const struct plan_side_words *w = &ctx->rules->words[s];
	size_t np = 0;

	for (size_t i = 0; i < in->count[s]; i++) {
		struct store_id id = in->msgs[s][i].id;

		if (!store_id_known(id) || (id.name && !*id.name))
			return error_set(err, ERR_MAILBOX,
			                 "%s has a message without an id (%s 0 or an empty name); "
			                 "skipping this folder",
			                 listing_name(ctx->rules, s), w->noun);
		mi[i] = (struct id_ix){id.name, id.uid, (uint32_t)i};
	}
	for (size_t i = 0; i < in->pair_count; i++) {
		struct store_id id = in->pairs[i].side[s];

		if (store_id_known(id))
			pi[np++] = (struct id_ix){id.name, id.uid, (uint32_t)i};
	}
	if (check_ids(mi, in->count[s], w, listing_name(ctx->rules, s), err) < 0 ||
	    check_ids(pi, np, w, "the state of this folder", err) < 0)
		return -1;

	/* A merge join of the sorted lists: pairs <-> messages. */
	for (size_t a = 0, b = 0; a < in->count[s] && b < np;) {
		int c = id_ix_cmp(&mi[a], &pi[b]);

		if (c < 0) {
			a++;
		} else if (c > 0) {
			b++;
		} else {
			ctx->msg_pair[s][mi[a].ix] = pi[b].ix;
			ctx->pair_msg[s][pi[b].ix] = mi[a].ix;
			a++, b++;
		}
	}
	return 0;
}

static int index_inputs(struct plan_ctx *ctx, struct error *err)
{
	const struct plan_input *in = ctx->in;
	int ret = 0;

	if (in->count[SIDE_A] >= PLAN_NONE || in->count[SIDE_B] >= PLAN_NONE || in->pair_count >= PLAN_NONE)
		return error_set(err, ERR_MAILBOX,
		                 "this folder has more than 4294967294 messages; skipping it");
	for (size_t i = 0; i < in->pair_count; i++) {
		const struct state_pair *p = &in->pairs[i];

		if (!store_id_known(p->side[SIDE_A]) && !store_id_known(p->side[SIDE_B]))
			return error_set(err, ERR_MAILBOX,
			                 "the state has a message (pair %" PRId64
			                 ") with neither a remote nor a local "
			                 "side; the state database is damaged: skipping this folder",
			                 p->id);
	}
	for (int s = 0; s < SIDES && ret == 0; s++) {
		struct id_ix *mi = xcalloc(in->count[s] + 1, sizeof(*mi));
		struct id_ix *pi = xcalloc(in->pair_count + 1, sizeof(*pi));

		ret = index_side(ctx, (enum side)s, mi, pi, err);
		free(mi);
		free(pi);
	}
	return ret;
}

/* ---- per-message decisions ---- */

static struct plan_flags msg_flags(const struct plan_msg *m)
{
	return (struct plan_flags){m->flags & MAIL_FLAGS_ALL, m->keywords};
}

static struct plan_flags pair_flags(const struct state_pair *sp)
{
	return (struct plan_flags){sp->flags & MAIL_FLAGS_ALL, sp->keywords};
}

static const struct plan_msg *msg_at(const struct plan_ctx *ctx, enum side s, size_t i)
{
	return &ctx->in->msgs[s][i];
}

static struct plan_flag_change dup_change(struct plan_pool *pool, const struct plan_flag_change *c)
{
	return (struct plan_flag_change){c->add, c->remove, plan_pool_dup(pool, c->add_keywords),
	                                 plan_pool_dup(pool, c->remove_keywords)};
}

static struct store_id dup_id(struct plan_pool *pool, struct store_id id)
{
	return (struct store_id){id.uid, plan_pool_dup(pool, id.name)};
}

/* An action on `side` about pair `pair_id`, whose ids are `id` (NULL:
 * none yet). */
static struct plan_action *pair_action(struct plan_ctx *ctx, enum plan_kind kind, enum side side,
                                       int64_t pair_id, const struct store_id id[SIDES])
{
	struct plan_action *a = plan_add_action(ctx, kind);

	a->side = side;
	a->pair_id = pair_id;
	if (id)
		for (int s = 0; s < SIDES; s++)
			a->id[s] = dup_id(ctx->plan->pool, id[s]);
	return a;
}

static void set_flags_actions(struct plan_ctx *ctx, int64_t pair_id, const struct store_id id[SIDES],
                              const struct plan_merge *m)
{
	for (int s = 0; s < SIDES; s++)
		if (!plan_change_empty(&m->to[s]))
			pair_action(ctx, PLAN_SET_FLAGS, (enum side)s, pair_id, id)->change =
			    dup_change(ctx->plan->pool, &m->to[s]);
}

static void update_flags(struct plan_ctx *ctx, int64_t pair_id, const struct store_id id[SIDES],
                         const struct plan_flags *synced)
{
	struct plan_action *a = pair_action(ctx, PLAN_UPDATE_PAIR, SIDE_A, pair_id, id);

	a->update = PLAN_UPDATE_FLAGS;
	a->flags = synced->bits;
	a->keywords = plan_pool_dup(ctx->plan->pool, synced->keywords);
}

static void note_reattached(struct plan_ctx *ctx, int64_t pair_id, const struct store_id id[SIDES])
{
	plan_add_note(ctx, PLAN_NOTE_REATTACHED, pair_id, id,
	              "%s and %s have the same content and were known before under another id; "
	              "keeping them paired instead of deleting and copying",
	              plan_id_text(ctx, SIDE_A, id[SIDE_A]), plan_id_text(ctx, SIDE_B, id[SIDE_B]));
}

/* The messages at `m` (one index per side) as a pair of ids, flags and
 * whether the direction may change each side. */
struct both {
	const struct plan_msg *msg[SIDES];
	struct store_id id[SIDES];
	struct plan_flags flags[SIDES];
	bool allow[SIDES];
};

static void both_at(const struct plan_ctx *ctx, const size_t m[SIDES], struct both *b)
{
	for (int s = 0; s < SIDES; s++) {
		b->msg[s] = msg_at(ctx, (enum side)s, m[s]);
		b->id[s] = b->msg[s]->id;
		b->flags[s] = msg_flags(b->msg[s]);
		b->allow[s] = plan_may_change(ctx->rules, (enum side)s);
	}
}

/* The content key a pair recorded now gets: side A's, else side B's. */
static const char *both_key(const struct both *b)
{
	return b->msg[SIDE_A]->content_key ? b->msg[SIDE_A]->content_key : b->msg[SIDE_B]->content_key;
}

/*
 * The messages at m[] are one message with no usable last-synced flags:
 * a new match by content key (sp NULL), a pair that a message
 * re-attached to, or a pair under rules.first_sync. Record the pair with
 * flags that make a failed flag change repeat at the next run, then
 * merge with the set winning (the clear for \Deleted).
 */
static void pair_without_base(struct plan_ctx *ctx, const struct state_pair *sp, const size_t m[SIDES],
                              bool reattach)
{
	const struct plan_rules *rules = ctx->rules;
	struct plan_pool *pool = ctx->plan->pool;
	int64_t pair_id = sp ? sp->id : 0;
	struct plan_merge mg;
	struct both b;

	both_at(ctx, m, &b);
	plan_merge_flags(pool, b.flags, NULL, b.allow, ctx->rules->keep, &mg);

	/* rules.first_sync on a known pair: with flags off, leave it be;
	 * else record only what differs from what the pair holds. */
	struct plan_flags base = sp ? pair_flags(sp) : (struct plan_flags){0, NULL};
	if (sp && !reattach && !rules->flags)
		return;
	if (!sp || reattach || !plan_flags_equal(&mg.record, &base)) {
		struct plan_action *a = pair_action(ctx, PLAN_PAIR_EXISTING, SIDE_A, pair_id, b.id);
		a->size = b.msg[SIDE_A]->size;
		a->content_key = plan_pool_dup(pool, both_key(&b));
		a->flags = mg.record.bits;
		a->keywords = plan_pool_dup(pool, mg.record.keywords);
	}

	if (reattach)
		note_reattached(ctx, pair_id, b.id);
	if (!rules->flags)
		return;
	set_flags_actions(ctx, pair_id, b.id, &mg);
	if (!plan_flags_equal(&mg.synced, &mg.record))
		update_flags(ctx, pair_id, b.id, &mg.synced);
	if (mg.differed)
		plan_add_note(
		    ctx, PLAN_NOTE_FLAGS_MERGED, pair_id, b.id,
		    "%s (flags %s) and %s (flags %s) had different flags "
		    "and no earlier sync to compare with; merged them: set flags win, except "
		    "\\Deleted, which stays only where both sides have it",
		    plan_id_text(ctx, SIDE_A, b.id[SIDE_A]), plan_flags_text(pool, &b.flags[SIDE_A]),
		    plan_id_text(ctx, SIDE_B, b.id[SIDE_B]), plan_flags_text(pool, &b.flags[SIDE_B]));
}

/* Both sides present with a last-synced base: a three-way merge. */
static void pair_with_base(struct plan_ctx *ctx, const struct state_pair *sp, const size_t m[SIDES])
{
	struct plan_flags base = pair_flags(sp);
	struct plan_merge mg;
	struct both b;

	if (!ctx->rules->flags)
		return;
	/* The common case at 100,000 messages: nothing changed. */
	struct plan_flags fa = msg_flags(msg_at(ctx, SIDE_A, m[SIDE_A]));
	struct plan_flags fb = msg_flags(msg_at(ctx, SIDE_B, m[SIDE_B]));
	if (plan_flags_equal(&fa, &base) && plan_flags_equal(&fb, &base))
		return;
	both_at(ctx, m, &b);
	plan_merge_flags(ctx->plan->pool, b.flags, &base, b.allow, ctx->rules->keep, &mg);
	set_flags_actions(ctx, sp->id, b.id, &mg);
	if (!plan_flags_equal(&mg.synced, &base))
		update_flags(ctx, sp->id, b.id, &mg.synced);
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
static void reattach_with_base(struct plan_ctx *ctx, const struct state_pair *sp, const size_t m[SIDES])
{
	struct plan_pool *pool = ctx->plan->pool;
	struct both b;

	both_at(ctx, m, &b);
	struct plan_action *a = pair_action(ctx, PLAN_PAIR_EXISTING, SIDE_A, sp->id, b.id);
	a->size = b.msg[SIDE_A]->size;
	a->content_key = plan_pool_dup(pool, both_key(&b));
	if (!a->content_key)
		a->content_key = plan_pool_dup(pool, sp->content_key);
	a->flags = sp->flags & MAIL_FLAGS_ALL;
	a->keywords = plan_pool_dup(pool, sp->keywords);
	note_reattached(ctx, sp->id, b.id);
	pair_with_base(ctx, sp, m);
}

static void drop_side(struct plan_ctx *ctx, const struct state_pair *sp, enum side side)
{
	struct store_id id[SIDES] = {sp->side[SIDE_A], sp->side[SIDE_B]};

	pair_action(ctx, PLAN_UPDATE_PAIR, SIDE_A, sp->id, id)->update = plan_update_drop(side);
}

static const char *since(const struct plan_rules *rules)
{
	return rules->first_sync ? "may have changed (there is no earlier sync to compare with)"
	                         : "changed since the last sync";
}

/* A copy of message `m` of the other side to `side`: the fields every
 * copy has. */
static struct plan_action *copy_action(struct plan_ctx *ctx, enum side side, int64_t pair_id,
                                       const struct plan_msg *m, const char *fallback_key)
{
	struct store_id id[SIDES] = {{0, NULL}, {0, NULL}};
	struct plan_action *a;

	id[side_other(side)] = m->id;
	a = pair_action(ctx, too_big(ctx->rules, m->size) ? PLAN_SKIP_TOO_BIG : PLAN_COPY, side, pair_id, id);
	a->size = m->size;
	if (a->kind == PLAN_SKIP_TOO_BIG)
		return a;
	a->content_key = plan_pool_dup(ctx->plan->pool, m->content_key ? m->content_key : fallback_key);
	/* What the target cannot keep stays out of the copy and of the
	 * pair's record (plan_flags_keep). */
	struct plan_flags kept, lost, f = msg_flags(m);
	plan_flags_keep(ctx->plan->pool, &f, &ctx->rules->keep[side], &kept, &lost);
	a->flags = kept.bits;
	a->keywords = plan_pool_dup(ctx->plan->pool, kept.keywords);
	a->lost_flags = lost.bits;
	a->lost_keywords = lost.keywords;
	a->time = m->time;
	a->zone = m->zone;
	return a;
}

/* The pair had both sides; side g is gone, message `m` of the other side
 * is still there. */
static void side_gone(struct plan_ctx *ctx, const struct state_pair *sp, enum side g, size_t m)
{
	const struct plan_rules *rules = ctx->rules;
	enum side s = side_other(g);
	const struct plan_msg *msg = msg_at(ctx, s, m);
	struct plan_flags f = msg_flags(msg), base = pair_flags(sp);
	bool changed = rules->first_sync || (rules->flags && plan_flags_changed(&f, &base));
	bool expunge = rules->expunge & (1u << s);
	struct store_id id[SIDES];
	const char *why;

	id[g] = sp->side[g];
	id[s] = msg->id;
	if (expunge && !changed && plan_may_change(rules, s)) {
		struct store_id del[SIDES] = {{0, NULL}, {0, NULL}};

		del[s] = msg->id;
		pair_action(ctx, PLAN_DELETE, s, sp->id, del)->size = msg->size;
		return;
	}
	if (expunge && changed && plan_may_change(rules, g) && !too_big(rules, msg->size)) {
		copy_action(ctx, g, sp->id, msg, sp->content_key);
		plan_add_note(ctx, PLAN_NOTE_CHANGED_WINS, sp->id, id,
		              "%s was deleted %s, but %s %s %s; copying it back instead of deleting it",
		              plan_id_text(ctx, g, id[g]), rules->words[g].where, plan_id_text(ctx, s, id[s]),
		              rules->words[s].where, since(rules));
		return;
	}
	if (!expunge)
		why =
		    plan_pool_printf(ctx->plan->pool, "expunge does not include %s", rules->words[s].config);
	else if (!changed)
		why = plan_pool_printf(ctx->plan->pool, "direction %s never changes %s", direction_keeping(s),
		                       rules->words[s].the_side);
	else if (!plan_may_change(rules, g))
		why = plan_pool_printf(
		    ctx->plan->pool,
		    "it changed %s since the last sync, and direction %s does not copy it back",
		    rules->words[s].where, direction_keeping(g));
	else
		why = plan_pool_printf(
		    ctx->plan->pool,
		    "it changed %s since the last sync, and it is larger than max_size, so it "
		    "is not copied back",
		    rules->words[s].where);
	if (too_big(rules, msg->size) && expunge && changed && plan_may_change(rules, g))
		copy_action(ctx, g, sp->id, msg, NULL);
	drop_side(ctx, sp, g);
	plan_add_note(ctx, PLAN_NOTE_NOT_DELETED, sp->id, id, "%s was deleted %s; keeping %s %s (%s)",
	              plan_id_text(ctx, g, id[g]), rules->words[g].where, plan_id_text(ctx, s, id[s]),
	              rules->words[s].where, why);
}

/* Pair sp lost its id on side g to a renumbering and g has nothing with
 * its content: message `m` of the other side is copied there again. */
static void reupload(struct plan_ctx *ctx, const struct state_pair *sp, enum side g, size_t m)
{
	struct plan_action *a;

	if (!plan_may_change(ctx->rules, g))
		return;
	a = copy_action(ctx, g, sp->id, msg_at(ctx, side_other(g), m), sp->content_key);
	a->reupload = a->kind == PLAN_COPY;
}

static void decide_pair(struct plan_ctx *ctx, size_t p)
{
	const struct state_pair *sp = &ctx->in->pairs[p];
	size_t m[SIDES] = {ctx->pair_msg[SIDE_A][p], ctx->pair_msg[SIDE_B][p]};

	if (ctx->attach[SIDE_A][p] != PLAN_NONE || ctx->attach[SIDE_B][p] != PLAN_NONE) {
		for (int s = 0; s < SIDES; s++)
			if (ctx->attach[s][p] != PLAN_NONE)
				m[s] = ctx->attach[s][p];
		/* A renumbered pair's flags are of another numbering, maybe
		 * of another server: no base to merge against. */
		if (ctx->rules->first_sync || sp->renumbered)
			pair_without_base(ctx, sp, m, true);
		else
			reattach_with_base(ctx, sp, m);
		return;
	}
	if (m[SIDE_A] != PLAN_NONE && m[SIDE_B] != PLAN_NONE) {
		if (ctx->rules->first_sync)
			pair_without_base(ctx, sp, m, false);
		else
			pair_with_base(ctx, sp, m);
		return;
	}
	if (m[SIDE_A] == PLAN_NONE && m[SIDE_B] == PLAN_NONE) {
		pair_action(ctx, PLAN_FORGET, SIDE_A, sp->id,
		            (struct store_id[SIDES]){sp->side[SIDE_A], sp->side[SIDE_B]});
		return;
	}
	enum side s = m[SIDE_A] != PLAN_NONE ? SIDE_A : SIDE_B, g = side_other(s);

	/* A pair that never had (or lost) side g stays as it is, unless g
	 * lost it to a renumbering. */
	if (store_id_known(sp->side[g]))
		side_gone(ctx, sp, g, m[s]);
	else if (sp->renumbered)
		reupload(ctx, sp, g, m[s]);
}

/* ---- new messages ---- */

/* Message i of side s, new: copied to the other side when the rules
 * allow. Returns whether it was. */
static bool new_message(struct plan_ctx *ctx, enum side s, size_t i)
{
	enum side to = side_other(s);

	if (!plan_may_change(ctx->rules, to))
		return false;
	return copy_action(ctx, to, 0, msg_at(ctx, s, i), NULL)->kind == PLAN_COPY;
}

static void new_messages(struct plan_ctx *ctx)
{
	const struct plan_input *in = ctx->in;
	size_t unkeyed[SIDES] = {0, 0}, unpaired = 0;

	for (int s = 0; s < SIDES; s++)
		for (size_t i = 0; i < in->count[s]; i++)
			unpaired += ctx->msg_pair[s][i] == PLAN_NONE && ctx->match[s][i] == PLAN_NONE;
	plan_reserve_actions(ctx, unpaired);
	for (int s = 0; s < SIDES; s++) {
		for (size_t i = 0; i < in->count[s]; i++) {
			if (ctx->msg_pair[s][i] != PLAN_NONE)
				continue;
			if (ctx->match[s][i] != PLAN_NONE) {
				/* A match is recorded once, from side A. */
				if (s == SIDE_A)
					pair_without_base(ctx, NULL, (size_t[SIDES]){i, ctx->match[s][i]},
					                  false);
			} else if (new_message(ctx, (enum side)s, i) && !in->msgs[s][i].content_key) {
				unkeyed[s]++;
			}
		}
	}

	/* Without a key nothing can tell whether the other side already has
	 * the message: say so when the other side is not empty. */
	if (ctx->rules->first_sync &&
	    ((unkeyed[SIDE_A] && in->count[SIDE_B]) || (unkeyed[SIDE_B] && in->count[SIDE_A])))
		plan_add_note(ctx, PLAN_NOTE_NO_KEY, 0, NULL,
		              "first sync of this folder: %zu %s and %zu %s have "
		              "no content key and cannot be matched with the other side; they are copied, "
		              "which duplicates any that the other side already has",
		              unkeyed[SIDE_A], ctx->rules->words[SIDE_A].messages, unkeyed[SIDE_B],
		              ctx->rules->words[SIDE_B].messages);
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

/* The note of side s, when its deletions were blocked. */
static void side_note(struct plan_ctx *ctx, enum side s)
{
	const struct plan_side_count *c = &ctx->plan->side[s];
	const struct plan_side_words *w = &ctx->rules->words[s], *o = &ctx->rules->words[side_other(s)];
	size_t other = ctx->plan->side[side_other(s)].total;

	if (c->emptied)
		plan_add_note(ctx, PLAN_NOTE_MASS_DELETE, 0, NULL,
		              "this run would delete %s %s, because %s; a folder emptied by accident looks "
		              "just like one emptied on purpose, so none is deleted%s. If the folder was "
		              "emptied on purpose, run again with --allow-mass-delete",
		              how_many(ctx, c), w->messages,
		              other ? plan_pool_printf(ctx->plan->pool, "they were deleted %s", o->where)
		                    : o->empty,
		              other ? "" : o->empty_hint);
	else if (c->blocked)
		plan_add_note(ctx, PLAN_NOTE_MASS_DELETE, 0, NULL,
		              "%zu of the %zu %s were deleted %s since the last sync; deleting that many at "
		              "once looks like a mistake, so none is deleted %s. If it is what you want, run "
		              "again with --allow-mass-delete",
		              c->deletions, c->total, w->messages, o->where, w->where);
}

static void valve(struct plan_ctx *ctx)
{
	const struct plan_rules *rules = ctx->rules;
	struct plan *plan = ctx->plan;
	struct plan_side_count *c = plan->side;
	size_t kept = 0;

	for (int s = 0; s < SIDES; s++)
		c[s].total = rules->total[s] > ctx->in->count[s] ? rules->total[s] : ctx->in->count[s];
	for (size_t i = 0; i < plan->action_count; i++)
		if (plan->actions[i].kind == PLAN_DELETE)
			c[plan->actions[i].side].deletions++;
	if (rules->allow_mass_delete)
		return;
	for (int s = 0; s < SIDES; s++) {
		c[s].emptied = empties(rules, &c[s], c[side_other((enum side)s)].total);
		c[s].blocked = c[s].emptied || over_threshold(rules, c[s].deletions, c[s].total);
	}
	if (!c[SIDE_A].blocked && !c[SIDE_B].blocked)
		return;

	plan->status = PLAN_MASS_DELETE_BLOCKED;
	for (size_t i = 0; i < plan->action_count; i++) {
		const struct plan_action *a = &plan->actions[i];

		if (a->kind == PLAN_DELETE && c[a->side].blocked)
			continue;
		plan->actions[kept++] = *a;
	}
	plan->action_count = kept;
	/* The server's note first, as the user reads them. */
	side_note(ctx, SIDE_A);
	side_note(ctx, SIDE_B);
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
	struct plan_ctx ctx = {.in = in, .rules = rules, .plan = plan_r};
	int ret = 0;

	for (int s = 0; s < SIDES; s++) {
		ctx.pair_msg[s] = none_array(in->pair_count);
		ctx.msg_pair[s] = none_array(in->count[s]);
		ctx.attach[s] = none_array(in->pair_count);
		ctx.match[s] = none_array(in->count[s]);
	}
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

	for (int s = 0; s < SIDES; s++) {
		free(ctx.pair_msg[s]);
		free(ctx.msg_pair[s]);
		free(ctx.attach[s]);
		free(ctx.match[s]);
	}
	return ret;
}
