/*
 * Carrying a folder's plan out, in the planner's kind order: records,
 * flags, pair updates, copies (copy.c), deletions, forgetting. Every step that must survive a crash ends in a
 * state commit or a store flush followed by crash_point().
 */
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "events_p.h"
#include "twinbox/state/intent.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Pair ids that PAIR_EXISTING actions with pair_id 0 created, by side A
 * id, for the flag and update actions that refer to "the pair of these
 * ids". */
struct new_pairs {
	struct store_id *ids_a;
	int64_t *ids;
	size_t count;
};

static int64_t pair_of(const struct new_pairs *np, const struct plan_action *a)
{
	if (a->pair_id)
		return a->pair_id;
	for (size_t i = 0; i < np->count; i++)
		if (store_id_cmp(np->ids_a[i], a->id[SIDE_A]) == 0)
			return np->ids[i];
	return 0;
}

/* The pair action `a` describes, as row `id` of r's folder. */
static struct state_pair action_pair(const struct folder_run *r, const struct plan_action *a, int64_t id)
{
	return (struct state_pair){.id = id,
	                           .folder_id = r->folder_id,
	                           .side = {a->id[SIDE_A], a->id[SIDE_B]},
	                           .flags = a->flags,
	                           .keywords = a->keywords,
	                           .size = a->size,
	                           .content_key = a->content_key};
}

static int record_pairs(struct folder_run *r, const struct plan *plan, struct new_pairs *np,
                        struct error *err)
{
	size_t n;
	const struct plan_action *a = plan_actions(plan, PLAN_PAIR_EXISTING, SIDE_A, &n);

	if (n == 0)
		return 0;
	np->ids_a = xcalloc(n, sizeof(*np->ids_a));
	np->ids = xcalloc(n, sizeof(*np->ids));
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct state_pair p = action_pair(r, &a[i], a[i].pair_id);
		int rc = p.id ? state_pair_update(r->st, &p, err) : state_pair_insert(r->st, &p, err);
		if (rc < 0) {
			state_rollback(r->st);
			return -1;
		}
		np->ids_a[np->count] = a[i].id[SIDE_A];
		np->ids[np->count++] = p.id;
	}
	r->rep->paired += n;
	if (engine_commit(r, false, "pairs matched by content recorded", err) < 0)
		return -1;
	engine_actions_done(r->o, r->rep, a, n);
	return 0;
}

/* ---- flags ---------------------------------------------------------- */

/* Pairs whose flag change failed: their last-synced flags must stay. */
struct failed_pairs {
	int64_t *ids;
	size_t count, cap;
};

static void fail_pair(struct failed_pairs *fp, int64_t id)
{
	fp->ids = xgrow(fp->ids, &fp->cap, fp->count + 1, sizeof(*fp->ids));
	fp->ids[fp->count++] = id;
}

static bool pair_failed(const struct failed_pairs *fp, int64_t id)
{
	for (size_t i = 0; i < fp->count; i++)
		if (fp->ids[i] == id)
			return true;
	return false;
}

static int set_flags(struct folder_run *r, const struct plan *plan, enum side side,
                     const struct new_pairs *np, struct failed_pairs *fp, struct error *err)
{
	bool remote = side == SIDE_A;
	struct store *s = run_store(r, side);
	struct store_folder *f = run_folder(r, side);
	struct plan_flag_group *groups;
	size_t ng = plan_flag_groups(plan, side, &groups);
	int rc = 0;

	for (size_t g = 0; g < ng && rc == 0; g++) {
		struct store_msg *msgs = xcalloc(groups[g].count, sizeof(*msgs));
		const struct plan_flag_change *c = groups[g].change;
		struct error ferr;

		for (size_t i = 0; i < groups[g].count; i++) {
			msgs[i].uid = groups[g].actions[i].id[side].uid;
			msgs[i].name = groups[g].actions[i].id[side].name;
		}
		error_clear(&ferr);
		if (s->ops->set_flags(f, msgs, groups[g].count, c->add, c->add_keywords, c->remove,
		                      c->remove_keywords, &ferr) < 0) {
			for (size_t i = 0; i < groups[g].count; i++)
				fail_pair(fp, pair_of(np, &groups[g].actions[i]));
			if (ferr.scope > ERR_MESSAGE) {
				*err = ferr;
				rc = -1;
			} else {
				log_warn("%s: %s", r->rep->name, ferr.text);
				r->rep->message_failures += groups[g].count;
				engine_actions_failed(r->o, r->rep, groups[g].actions, groups[g].count,
				                      ferr.text);
			}
		} else {
			*(remote ? &r->rep->flags_remote : &r->rep->flags_local) += groups[g].count;
			engine_actions_done(r->o, r->rep, groups[g].actions, groups[g].count);
		}
		free(msgs);
	}
	free(groups);
	return rc;
}

/* Whether record_pairs() wrote pair `id` in this run. */
static bool pair_recorded(const struct new_pairs *np, int64_t id)
{
	for (size_t i = 0; i < np->count; i++)
		if (np->ids[i] == id)
			return true;
	return false;
}

static const struct state_pair *loaded_pair(const struct folder_run *r, int64_t id)
{
	for (size_t i = 0; i < r->pairs.count; i++)
		if (r->pairs.pairs[i].id == id)
			return &r->pairs.pairs[i];
	return NULL;
}

static int update_pairs(struct folder_run *r, const struct plan *plan, const struct new_pairs *np,
                        const struct failed_pairs *fp, struct error *err)
{
	size_t n;
	const struct plan_action *a = plan_actions(plan, PLAN_UPDATE_PAIR, SIDE_A, &n);

	if (n == 0)
		return 0;
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int64_t id = pair_of(np, &a[i]);
		const struct state_pair *old = loaded_pair(r, id);
		struct state_pair p;

		if (!id || pair_failed(fp, id))
			continue;
		if (old) {
			p = *old;
			/* A pair this plan re-attached by content (PAIR_EXISTING
			 * with its id) has its new ids in the action: keep them. */
			if (pair_recorded(np, id))
				for (int s = 0; s < SIDES; s++)
					p.side[s] = a[i].id[s];
		} else {
			/* A pair recorded by this plan: its fields are in the action. */
			p = action_pair(r, &a[i], id);
		}
		if (a[i].update & PLAN_UPDATE_FLAGS) {
			p.flags = a[i].flags;
			p.keywords = a[i].keywords;
		}
		for (int s = 0; s < SIDES; s++)
			if (a[i].update & plan_update_drop((enum side)s))
				p.side[s] = (struct store_id){0, NULL};
		if (state_pair_update(r->st, &p, err) < 0) {
			state_rollback(r->st);
			return -1;
		}
	}
	return engine_commit(r, false, "pair updates recorded", err);
}

/* ---- deletions and forgetting -------------------------------------- */

/* In one transaction: resolve the intents `ids` (NULL: none) of the
 * actions' deletions, and with `forget` delete the actions' pairs (gone
 * from both sides). Without `forget` the pairs stay, and the next run
 * tries again. */
static int forget_pairs(struct folder_run *r, const struct plan_action *a, size_t n, const int64_t *ids,
                        bool forget, const char *what, struct error *err)
{
	if (n == 0)
		return 0;
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((ids && state_intent_resolve(r->st, ids[i], err) < 0) ||
		    (forget && a[i].pair_id && state_pair_delete(r->st, a[i].pair_id, err) < 0)) {
			state_rollback(r->st);
			return -1;
		}
	return engine_commit(r, false, what, err);
}

/* Before a local deletion is carried to the server: a delete-remote
 * intent per message, durably. A run killed after the server deleted
 * its copies, before the pairs are forgotten, would otherwise leave
 * pairs that still name the files: a file put back under its name
 * meanwhile would pass for the pair's, unchanged, whose server copy
 * went, and be deleted too. The next run reconciles the intents first
 * (engine.c, recover_intents). */
static int add_delete_intents(struct folder_run *r, const struct plan_action *a, size_t n, int64_t *ids,
                              struct error *err)
{
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct state_intent in = {.folder_id = r->folder_id,
		                          .kind = STATE_INTENT_DELETE,
		                          .side = SIDE_A,
		                          .pair_id = a[i].pair_id,
		                          .msg = {a[i].id[SIDE_A], {0, NULL}}};
		if (state_intent_add(r->st, &in, &ids[i], err) < 0) {
			state_rollback(r->st);
			return -1;
		}
	}
	return engine_commit(r, true, "deletion intents recorded", err);
}

static int deletions(struct folder_run *r, const struct plan *plan, enum side side, struct error *err)
{
	bool remote = side == SIDE_A;
	struct store *s = run_store(r, side);
	struct store_folder *f = run_folder(r, side);
	size_t n;
	const struct plan_action *a = plan_actions(plan, PLAN_DELETE, side, &n);
	struct store_msg *msgs;
	struct error derr;
	int64_t *ids = NULL;
	int rc;

	if (n == 0)
		return 0;
	if (remote) {
		ids = xcalloc(n, sizeof(*ids));
		if (add_delete_intents(r, a, n, ids, err) < 0) {
			free(ids);
			return -1;
		}
	}
	msgs = xcalloc(n, sizeof(*msgs));
	for (size_t i = 0; i < n; i++) {
		msgs[i].uid = a[i].id[side].uid;
		msgs[i].name = a[i].id[side].name;
	}
	error_clear(&derr);
	if (s->ops->delete (f, msgs, n, &derr) < 0 || s->ops->flush(f, &derr) < 0) {
		free(msgs);
		/* A run stopped by the error leaves its intents to the next
		 * one: which messages went is not known. A refusal drops them,
		 * and the pairs stay: the next run tries again. */
		rc = ids && derr.scope <= ERR_MESSAGE
		         ? forget_pairs(r, a, n, ids, false, "deletion intents dropped", err)
		         : 0;
		free(ids);
		if (rc < 0)
			return -1;
		if (derr.scope > ERR_MESSAGE) {
			*err = derr;
			return -1;
		}
		log_warn("%s: %s", r->rep->name, derr.text);
		r->rep->message_failures += n;
		engine_actions_failed(r->o, r->rep, a, n, derr.text);
		return 0;
	}
	free(msgs);
	crash_point(remote ? "messages deleted on the server" : "messages deleted locally");
	if (remote)
		r->rep->deleted_remote += n;
	else
		r->rep->deleted_local += n;
	rc = forget_pairs(r, a, n, ids, true, "deletions recorded", err);
	free(ids);
	if (rc == 0)
		engine_actions_done(r->o, r->rep, a, n);
	return rc;
}

/* The plan's copies to side `to`. A side over its quota fails the
 * folder, but only once the plan's other steps are done: *full_r keeps
 * that error meanwhile. */
static int copies(struct folder_run *r, const struct plan *plan, enum side to, struct error *full_r,
                  struct error *err)
{
	if (engine_copies(r, plan, to, err) == 0)
		return 0;
	if (err->cause != ERR_CAUSE_OVER_QUOTA || err->scope != ERR_MAILBOX)
		return -1;
	if (full_r->scope == ERR_NONE)
		*full_r = *err;
	return 0;
}

int exec_plan(struct folder_run *r, const struct plan *plan, struct error *err)
{
	struct error full = {0};
	struct new_pairs np = {0};
	struct failed_pairs fp = {0};
	size_t n;
	const struct plan_action *a;
	int rc = -1;

	if (record_pairs(r, plan, &np, err) < 0 || set_flags(r, plan, SIDE_A, &np, &fp, err) < 0 ||
	    set_flags(r, plan, SIDE_B, &np, &fp, err) < 0)
		goto out;
	if ((plan_actions(plan, PLAN_SET_FLAGS, SIDE_A, &n), n) &&
	    r->store[SIDE_A]->ops->flush(r->folder[SIDE_A], err) < 0)
		goto out;
	if ((plan_actions(plan, PLAN_SET_FLAGS, SIDE_B, &n), n) &&
	    r->store[SIDE_B]->ops->flush(r->folder[SIDE_B], err) < 0)
		goto out;
	if (update_pairs(r, plan, &np, &fp, err) < 0 || copies(r, plan, SIDE_B, &full, err) < 0 ||
	    copies(r, plan, SIDE_A, &full, err) < 0 || deletions(r, plan, SIDE_A, err) < 0 ||
	    deletions(r, plan, SIDE_B, err) < 0)
		goto out;
	a = plan_actions(plan, PLAN_FORGET, SIDE_A, &n);
	if (forget_pairs(r, a, n, NULL, true, "forgotten pairs recorded", err) < 0)
		goto out;
	engine_actions_done(r->o, r->rep, a, n);
	n = plan_count(plan, PLAN_SKIP_TOO_BIG);
	r->rep->too_big = n;
	rc = 0;
	if (full.scope != ERR_NONE) {
		*err = full;
		rc = -1;
	}
out:
	free(np.ids_a);
	free(np.ids);
	free(fp.ids);
	return rc;
}
