/*
 * A folder run's own data, for every file of the engine that works on
 * one (engine_p.h): its snapshots' messages by id, the local side and
 * the pairs as the read-ahead left them or read now, the commit of its
 * transaction at a crash point, and what a killed run left in its
 * side B folder removed.
 */
#include "engine_p.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"

const struct store_msg *run_msg(const struct folder_run *r, enum side side, struct store_id id,
                                size_t *index_r)
{
	const struct store_snapshot *snap = side == SIDE_A ? &r->snap[SIDE_A] : &r->snap[SIDE_B];
	size_t lo = 0, hi = snap->count;

	if (!store_id_known(id))
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct store_msg *m = &snap->msgs[mid];
		int c = store_id_cmp((struct store_id){m->uid, m->name}, id);

		if (c == 0) {
			if (index_r)
				*index_r = mid;
			return m;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int engine_local_snapshot(struct folder_run *r, struct error *err)
{
	if (r->pre.scanned) {
		r->snap[SIDE_B] = r->pre.lsnap;
		r->pre.lsnap = (struct store_snapshot){0};
		r->pre.scanned = false;
		return 0;
	}
	return r->store[SIDE_B]->ops->snapshot(r->folder[SIDE_B], &r->snap[SIDE_B], err);
}

int engine_load_pairs(struct folder_run *r, struct error *err)
{
	if (r->pre.have_pairs && r->pre.folder_id == r->folder_id) {
		state_pairs_free(&r->pairs);
		r->pairs = r->pre.pairs;
		r->pre.pairs = (struct state_pairs){0};
		r->pre.have_pairs = false;
		return 0;
	}
	return state_pairs_load(r->st, r->folder_id, &r->pairs, err);
}

int engine_commit(struct folder_run *r, bool durable, const char *what, struct error *err)
{
	int rc = durable ? state_commit_durable(r->st, err) : state_commit(r->st, err);

	if (rc < 0) {
		state_rollback(r->st);
		return -1;
	}
	crash_point(what);
	return 0;
}

void engine_clean_leftovers(struct folder_run *r, const char *name)
{
	struct error err;

	if (r->store[SIDE_B]->ops->clean_leftovers &&
	    r->store[SIDE_B]->ops->clean_leftovers(r->folder[SIDE_B], name, &err) < 0)
		log_warn("%s: %s", r->rep->name, err.text);
}
