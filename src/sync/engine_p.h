/* Private to the engine: one folder's run, shared by engine.c (set-up,
 * recovery, content keys) and exec.c (carrying the plan out). */
#ifndef TWINBOX_SYNC_ENGINE_P_H
#define TWINBOX_SYNC_ENGINE_P_H

#include "twinbox/state/pair.h"
#include "twinbox/sync/engine.h"

struct folder_run {
	const struct sync_options *o;
	struct state *st;
	int64_t folder_id;
	struct store *rs, *ls;
	struct store_folder *rf, *lf;
	struct store_snapshot rsnap, lsnap; /* sorted by uid / name */
	char **rkeys, **lkeys;              /* content keys, parallel to the snapshots */
	struct state_pairs pairs;
	struct sync_folder_report *rep;
};

/* The snapshot entry for `uid` / `name`, or NULL. */
const struct store_msg *run_remote_msg(const struct folder_run *r, uint32_t uid, size_t *index_r);
const struct store_msg *run_local_msg(const struct folder_run *r, const char *name, size_t *index_r);

/* Carry the plan out (exec.c). Message failures are counted in the
 * report; -1 only when the folder (or more) must stop. */
int exec_plan(struct folder_run *r, const struct plan *plan, struct error *err);

#endif
