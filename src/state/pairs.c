/* Loading message pairs in bulk, and looking them up in memory. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "state_p.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/xmalloc.h"

#define PAIR_COLS "id, folder_id, uid, local_id, flags, keywords, size, content_key, renumbered"

static int by_local_cmp(const void *a, const void *b, void *ctx)
{
	const struct state_pair *pairs = ctx;

	return strcmp(pairs[*(const size_t *)a].local_id, pairs[*(const size_t *)b].local_id);
}

static int by_uid_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct state_pair *)a)->uid, y = ((const struct state_pair *)b)->uid;

	return x < y ? -1 : x > y;
}

static void index_by_local(struct state_pairs *set)
{
	size_t n = 0;

	set->by_local = xmalloc((set->count ? set->count : 1) * sizeof(*set->by_local));
	for (size_t i = 0; i < set->count; i++)
		if (set->pairs[i].local_id)
			set->by_local[n++] = i;
	qsort_r(set->by_local, n, sizeof(*set->by_local), by_local_cmp, set->pairs);
	set->local_count = n;
}

/* Append every row of `stmt` (bound by the caller) to `set` (`*cap`
 * entries of room). */
static int read_rows(struct state *st, sqlite3_stmt *stmt, const char *what, struct state_pairs *set,
                     size_t *cap, struct error *err)
{
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct state_pair *p;
		sqlite3_int64 uid = sqlite3_column_int64(stmt, 2);

		set->pairs = xgrow(set->pairs, cap, set->count + 1, sizeof(*set->pairs));
		p = &set->pairs[set->count++];
		p->id = sqlite3_column_int64(stmt, 0);
		p->folder_id = sqlite3_column_int64(stmt, 1);
		/* The schema keeps uids in 1..2^32-1; NULL reads as 0. */
		p->uid = (uint32_t)uid;
		p->local_id = state_arena_column(&set->arena, stmt, 3);
		p->flags = (unsigned)sqlite3_column_int64(stmt, 4);
		p->keywords = state_arena_column(&set->arena, stmt, 5);
		p->size = (uint64_t)sqlite3_column_int64(stmt, 6);
		p->content_key = state_arena_column(&set->arena, stmt, 7);
		p->renumbered = sqlite3_column_int64(stmt, 8) != 0;
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : state_fail(st, rc, err, "%s", what);
}

/* Read every row of `stmt` (bound by the caller) into *set_r; with
 * `sort`, put them in uid order (else the query did). `expect` rows are
 * room made at once (a folder's pairs are counted first, so that 100,000
 * of them are not grown into twice their size). */
static int read_set(struct state *st, sqlite3_stmt *stmt, bool sort, size_t expect, const char *what,
                    struct state_pairs *set_r, struct error *err)
{
	struct state_pairs set = {0};
	size_t cap = expect;

	if (cap)
		set.pairs = xmalloc(cap * sizeof(*set.pairs));
	if (read_rows(st, stmt, what, &set, &cap, err) < 0) {
		state_pairs_free(&set);
		return -1;
	}
	if (sort && set.count > 1)
		qsort(set.pairs, set.count, sizeof(*set.pairs), by_uid_cmp);
	index_by_local(&set);
	*set_r = set;
	return 0;
}

/* The pairs of `folder_id`, counted on the (folder_id, uid) index. */
static int count_pairs(struct state *st, int64_t folder_id, int64_t *count_r, struct error *err)
{
	return state_count_of(st, ST_PAIR_COUNT, "SELECT count(*) FROM pair WHERE folder_id = ?", folder_id,
	                      "count the messages of a folder", count_r, err);
}

int state_pairs_load(struct state *st, int64_t folder_id, struct state_pairs *set_r, struct error *err)
{
	int64_t count;
	sqlite3_stmt *stmt;

	memset(set_r, 0, sizeof(*set_r));
	if (count_pairs(st, folder_id, &count, err) < 0)
		return -1;
	/* The (folder_id, uid) index yields the rows in uid order, NULLs
	 * (no remote side) first: no sorting step. */
	stmt = state_stmt(st, ST_PAIR_LOAD, "SELECT " PAIR_COLS " FROM pair WHERE folder_id = ? ORDER BY uid",
	                  err);
	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, folder_id);
	return read_set(st, stmt, false, (size_t)count, "load the messages of a folder", set_r, err);
}

int state_pairs_load_uids(struct state *st, int64_t folder_id, const struct state_uid_range *ranges,
                          size_t count, bool no_uid, struct state_pairs *set_r, struct error *err)
{
	static const char what[] = "load messages of a folder by UID";
	struct state_pairs set = {0};
	size_t cap = 0;
	sqlite3_stmt *stmt;

	memset(set_r, 0, sizeof(*set_r));
	/* Those without a remote side first, then the ranges in order: the
	 * set comes out in uid order, as state_pairs_load() gives it. */
	if (no_uid) {
		stmt = state_stmt(st, ST_PAIR_NO_UID,
		                  "SELECT " PAIR_COLS " FROM pair WHERE folder_id = ? AND uid IS NULL", err);
		if (!stmt)
			goto fail;
		sqlite3_bind_int64(stmt, 1, folder_id);
		if (read_rows(st, stmt, what, &set, &cap, err) < 0)
			goto fail;
	}
	for (size_t i = 0; i < count; i++) {
		stmt = state_stmt(st, ST_PAIR_BY_UIDS,
		                  "SELECT " PAIR_COLS " FROM pair WHERE folder_id = ? AND uid BETWEEN ? AND ?"
		                  " ORDER BY uid",
		                  err);
		if (!stmt)
			goto fail;
		sqlite3_bind_int64(stmt, 1, folder_id);
		sqlite3_bind_int64(stmt, 2, ranges[i].first);
		sqlite3_bind_int64(stmt, 3, ranges[i].last);
		if (read_rows(st, stmt, what, &set, &cap, err) < 0)
			goto fail;
	}
	index_by_local(&set);
	*set_r = set;
	return 0;
fail:
	state_pairs_free(&set);
	return -1;
}

int state_pairs_count(struct state *st, int64_t folder_id, size_t *remote_r, size_t *local_r,
                      struct error *err)
{
	int64_t all, no_remote, no_local;

	/* Every pair counted once, on the index of integers (uid), and the
	 * few without one side or the other, which each index keeps first:
	 * counting the local side on its own index would read every local
	 * id (three times the pages at 50,000 pairs). */
	if (count_pairs(st, folder_id, &all, err) < 0 ||
	    state_count_of(st, ST_PAIR_NO_REMOTE,
	                   "SELECT count(*) FROM pair WHERE folder_id = ? AND uid IS NULL", folder_id,
	                   "count the messages of a folder", &no_remote, err) < 0 ||
	    state_count_of(st, ST_PAIR_NO_LOCAL,
	                   "SELECT count(*) FROM pair WHERE folder_id = ? AND local_id IS NULL", folder_id,
	                   "count the messages of a folder", &no_local, err) < 0)
		return -1;
	*remote_r = (size_t)(all - no_remote);
	*local_r = (size_t)(all - no_local);
	return 0;
}

int state_pairs_find_key(struct state *st, int64_t folder_id, const char *key, struct state_pairs *set_r,
                         struct error *err)
{
	sqlite3_stmt *stmt;

	/* No ORDER BY: it would tempt the planner into walking the whole
	 * folder in uid order instead of using the content index; the few
	 * matches are sorted here. */
	memset(set_r, 0, sizeof(*set_r));
	if (folder_id) {
		stmt =
		    state_stmt(st, ST_PAIR_BY_KEY,
		               "SELECT " PAIR_COLS " FROM pair WHERE content_key = ? AND folder_id = ?", err);
		if (!stmt)
			return -1;
		sqlite3_bind_int64(stmt, 2, folder_id);
	} else {
		stmt = state_stmt(st, ST_PAIR_BY_KEY_ALL,
		                  "SELECT " PAIR_COLS " FROM pair WHERE content_key = ?", err);
		if (!stmt)
			return -1;
	}
	state_bind_text(stmt, 1, key);
	return read_set(st, stmt, true, 0, "look messages up by content", set_r, err);
}

const struct state_pair *state_pairs_find_uid(const struct state_pairs *set, uint32_t uid)
{
	size_t lo = 0, hi = set->count;

	if (uid == 0)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->pairs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < set->count && set->pairs[lo].uid == uid ? &set->pairs[lo] : NULL;
}

const struct state_pair *state_pairs_find_local(const struct state_pairs *set, const char *local_id)
{
	size_t lo = 0, hi = set->local_count;

	if (!local_id)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(set->pairs[set->by_local[mid]].local_id, local_id);
		if (c == 0)
			return &set->pairs[set->by_local[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void state_pairs_renumber(struct state_pairs *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->count; i++) {
		struct state_pair p = set->pairs[i];
		if (!p.local_id)
			continue;
		if (p.uid) {
			p.uid = 0;
			p.renumbered = true;
		}
		set->pairs[n++] = p;
	}
	set->count = n;
	/* Every uid is 0 now: the set is in uid order as it stands. */
	free(set->by_local);
	index_by_local(set);
}

void state_pairs_keep(struct state_pairs *set, const bool *keep)
{
	size_t n = 0;

	for (size_t i = 0; i < set->count; i++)
		if (keep[i])
			set->pairs[n++] = set->pairs[i];
	set->count = n;
	free(set->by_local);
	index_by_local(set);
}

void state_pairs_free(struct state_pairs *set)
{
	free(set->pairs);
	free(set->by_local);
	state_arena_free(set->arena);
	memset(set, 0, sizeof(*set));
}
