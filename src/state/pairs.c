/* Loading message pairs in bulk, and looking them up in memory. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "state_p.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/xmalloc.h"

#define PAIR_COLS                                                                                            \
	"id, folder_id, a_uid, a_name, b_uid, b_name, flags, keywords, size, content_key, renumbered"

static int by_b_cmp(const void *a, const void *b, void *ctx)
{
	const struct state_pair *pairs = ctx;

	return store_id_cmp(pairs[*(const size_t *)a].side[SIDE_B], pairs[*(const size_t *)b].side[SIDE_B]);
}

static int by_a_cmp(const void *a, const void *b)
{
	return store_id_cmp(((const struct state_pair *)a)->side[SIDE_A],
	                    ((const struct state_pair *)b)->side[SIDE_A]);
}

static void index_by_b(struct state_pairs *set)
{
	size_t n = 0;

	set->by_b = xmalloc((set->count ? set->count : 1) * sizeof(*set->by_b));
	for (size_t i = 0; i < set->count; i++)
		if (store_id_known(set->pairs[i].side[SIDE_B]))
			set->by_b[n++] = i;
	qsort_r(set->by_b, n, sizeof(*set->by_b), by_b_cmp, set->pairs);
	set->b_count = n;
}

/* An id from the columns at `col` (its UID) and `col + 1` (its name).
 * The schema keeps UIDs in 1..2^32-1; NULL reads as 0. */
static struct store_id read_id(struct state_pairs *set, sqlite3_stmt *stmt, int col)
{
	return (struct store_id){(uint32_t)sqlite3_column_int64(stmt, col),
	                         state_arena_column(&set->arena, stmt, col + 1)};
}

/* Append every row of `stmt` (bound by the caller) to `set` (`*cap`
 * entries of room). */
static int read_rows(struct state *st, sqlite3_stmt *stmt, const char *what, struct state_pairs *set,
                     size_t *cap, struct error *err)
{
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct state_pair *p;

		set->pairs = xgrow(set->pairs, cap, set->count + 1, sizeof(*set->pairs));
		p = &set->pairs[set->count++];
		p->id = sqlite3_column_int64(stmt, 0);
		p->folder_id = sqlite3_column_int64(stmt, 1);
		p->side[SIDE_A] = read_id(set, stmt, 2);
		p->side[SIDE_B] = read_id(set, stmt, 4);
		p->flags = (unsigned)sqlite3_column_int64(stmt, 6);
		p->keywords = state_arena_column(&set->arena, stmt, 7);
		p->size = (uint64_t)sqlite3_column_int64(stmt, 8);
		p->content_key = state_arena_column(&set->arena, stmt, 9);
		p->renumbered = sqlite3_column_int64(stmt, 10) != 0;
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : state_fail(st, rc, err, "%s", what);
}

/* Rows read in side A UID order (NULLs first) are in side A order but
 * for those without a UID there: the pairs known on side A by name (a
 * POP3 or Maildir side A), which sort among themselves by name. */
static void sort_unnumbered(struct state_pairs *set)
{
	size_t n = 0;

	while (n < set->count && set->pairs[n].side[SIDE_A].uid == 0)
		n++;
	if (n > 1)
		qsort(set->pairs, n, sizeof(*set->pairs), by_a_cmp);
}

/* Read every row of `stmt` (bound by the caller) into *set_r; with
 * `sort`, put them in side A order (else the query gave them in side A
 * UID order). `expect` rows are
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
		qsort(set.pairs, set.count, sizeof(*set.pairs), by_a_cmp);
	else
		sort_unnumbered(&set);
	index_by_b(&set);
	*set_r = set;
	return 0;
}

/* The pairs of `folder_id`, counted on the (folder_id, a_uid) index. */
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
	/* The (folder_id, a_uid) index yields the rows in UID order, NULLs
	 * (no UID on side A) first: only those are sorted after. */
	stmt = state_stmt(st, ST_PAIR_LOAD,
	                  "SELECT " PAIR_COLS " FROM pair WHERE folder_id = ? ORDER BY a_uid", err);
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
	/* Those without a UID on side A first, then the ranges in order:
	 * the set comes out in side A order, as state_pairs_load() gives
	 * it. */
	if (no_uid) {
		stmt =
		    state_stmt(st, ST_PAIR_NO_UID,
		               "SELECT " PAIR_COLS " FROM pair WHERE folder_id = ? AND a_uid IS NULL", err);
		if (!stmt)
			goto fail;
		sqlite3_bind_int64(stmt, 1, folder_id);
		if (read_rows(st, stmt, what, &set, &cap, err) < 0)
			goto fail;
	}
	for (size_t i = 0; i < count; i++) {
		stmt =
		    state_stmt(st, ST_PAIR_BY_UIDS,
		               "SELECT " PAIR_COLS " FROM pair WHERE folder_id = ? AND a_uid BETWEEN ? AND ?"
		               " ORDER BY a_uid",
		               err);
		if (!stmt)
			goto fail;
		sqlite3_bind_int64(stmt, 1, folder_id);
		sqlite3_bind_int64(stmt, 2, ranges[i].first);
		sqlite3_bind_int64(stmt, 3, ranges[i].last);
		if (read_rows(st, stmt, what, &set, &cap, err) < 0)
			goto fail;
	}
	sort_unnumbered(&set);
	index_by_b(&set);
	*set_r = set;
	return 0;
fail:
	state_pairs_free(&set);
	return -1;
}

int state_pairs_count(struct state *st, int64_t folder_id, size_t with_r[SIDES], struct error *err)
{
	int64_t all, none_a, none_b;

	/* Every pair counted once, on the index of side A's UIDs, and the
	 * few without one side or the other, which each index keeps first:
	 * counting side B on an index of names would read every name (three
	 * times the pages at 50,000 pairs). */
	if (count_pairs(st, folder_id, &all, err) < 0 ||
	    state_count_of(
	        st, ST_PAIR_NO_A,
	        "SELECT count(*) FROM pair WHERE folder_id = ? AND a_uid IS NULL AND a_name IS NULL",
	        folder_id, "count the messages of a folder", &none_a, err) < 0 ||
	    state_count_of(
	        st, ST_PAIR_NO_B,
	        "SELECT count(*) FROM pair WHERE folder_id = ? AND b_name IS NULL AND b_uid IS NULL",
	        folder_id, "count the messages of a folder", &none_b, err) < 0)
		return -1;
	with_r[SIDE_A] = (size_t)(all - none_a);
	with_r[SIDE_B] = (size_t)(all - none_b);
	return 0;
}

int state_pairs_find_key(struct state *st, int64_t folder_id, const char *key, struct state_pairs *set_r,
                         struct error *err)
{
	sqlite3_stmt *stmt;

	/* No ORDER BY: it would tempt the planner into walking the whole
	 * folder in UID order instead of using the content index; the few
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

const struct state_pair *state_pairs_find(const struct state_pairs *set, enum side side, struct store_id id)
{
	size_t lo = 0, hi = side == SIDE_A ? set->count : set->b_count;

	if (!store_id_known(id))
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct state_pair *p = &set->pairs[side == SIDE_A ? mid : set->by_b[mid]];
		int c = store_id_cmp(p->side[side], id);

		if (c == 0)
			return p;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void state_pairs_renumber_side(struct state_pairs *set, enum side side)
{
	enum side other = side_other(side);
	size_t n = 0;

	for (size_t i = 0; i < set->count; i++) {
		struct state_pair p = set->pairs[i];
		if (!store_id_known(p.side[other]))
			continue;
		if (store_id_known(p.side[side])) {
			p.side[side] = (struct store_id){0, NULL};
			p.renumbered = true;
		}
		set->pairs[n++] = p;
	}
	set->count = n;
	/* Side A's order holds: with no side A id left, any order is. */
	free(set->by_b);
	index_by_b(set);
}

void state_pairs_renumber(struct state_pairs *set)
{
	state_pairs_renumber_side(set, SIDE_A);
}

void state_pairs_keep(struct state_pairs *set, const bool *keep)
{
	size_t n = 0;

	for (size_t i = 0; i < set->count; i++)
		if (keep[i])
			set->pairs[n++] = set->pairs[i];
	set->count = n;
	free(set->by_b);
	index_by_b(set);
}

void state_pairs_free(struct state_pairs *set)
{
	free(set->pairs);
	free(set->by_b);
	state_arena_free(set->arena);
	memset(set, 0, sizeof(*set));
}
