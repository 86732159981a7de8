#include "twinbox/state/folder.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "state_p.h"
#include "twinbox/util/xmalloc.h"

/* A side's markers in the order read_marks() and bind_marks() take them. */
#define MARK_COLS(s)                                                                                         \
	s "uidvalidity, " s "uidnext, " s "highestmodseq, " s "messages, " s "mark0_sec, " s                 \
	  "mark0_nsec, " s "mark1_sec, " s "mark1_nsec, " s "digest, " s "files"
#define MARK_COUNT 10
#define MARK_SET(s)                                                                                          \
	s "uidvalidity = ?, " s "uidnext = ?, " s "highestmodseq = ?, " s "messages = ?, " s                 \
	  "mark0_sec = ?, " s "mark0_nsec = ?, " s "mark1_sec = ?, " s "mark1_nsec = ?, " s "digest = ?, " s \
	  "files = ?"

#define FOLDER_COLS                                                                                          \
	"id, remote_name, local_path, last_sync, rules, "                                                    \
	"(SELECT count(*) FROM intent WHERE intent.folder_id = folder.id), " MARK_COLS("a_") ", " MARK_COLS( \
	    "b_") ", " OUTCOME_COLS
#define FIRST_MARK 6
/* How the last sync ended, after the markers. */
#define OUTCOME_COLS  "a_seen, b_seen, failed_messages, error, error_time"
#define OUTCOME_SET   "a_seen = ?, b_seen = ?, failed_messages = ?, error = ?, error_time = ?"
#define FIRST_OUTCOME (FIRST_MARK + MARK_COUNT * SIDES)

static void read_marks(sqlite3_stmt *stmt, int col, struct state_marks *m)
{
	m->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, col);
	m->uidnext = (uint32_t)sqlite3_column_int64(stmt, col + 1);
	m->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, col + 2);
	m->messages = (uint32_t)sqlite3_column_int64(stmt, col + 3);
	for (int k = 0; k < 2; k++) {
		m->marks[k].tv_sec = (time_t)sqlite3_column_int64(stmt, col + 4 + 2 * k);
		m->marks[k].tv_nsec = (long)sqlite3_column_int64(stmt, col + 5 + 2 * k);
	}
	m->digest = (uint64_t)sqlite3_column_int64(stmt, col + 8);
	m->files = sqlite3_column_int64(stmt, col + 9);
}

static void bind_marks(sqlite3_stmt *stmt, int col, const struct state_marks *m)
{
	sqlite3_bind_int64(stmt, col, m->uidvalidity);
	sqlite3_bind_int64(stmt, col + 1, m->uidnext);
	sqlite3_bind_int64(stmt, col + 2, (sqlite3_int64)m->highestmodseq);
	sqlite3_bind_int64(stmt, col + 3, m->messages);
	for (int k = 0; k < 2; k++) {
		sqlite3_bind_int64(stmt, col + 4 + 2 * k, m->marks[k].tv_sec);
		sqlite3_bind_int64(stmt, col + 5 + 2 * k, m->marks[k].tv_nsec);
	}
	sqlite3_bind_int64(stmt, col + 8, (sqlite3_int64)m->digest);
	sqlite3_bind_int64(stmt, col + 9, m->files < 0 ? -1 : m->files);
}

static void read_row(sqlite3_stmt *stmt, struct state_folder *f)
{
	const char *remote = (const char *)sqlite3_column_text(stmt, 1);
	const char *local = (const char *)sqlite3_column_text(stmt, 2);

	f->id = sqlite3_column_int64(stmt, 0);
	f->remote_name = xstrdup(remote ? remote : "");
	f->local_path = xstrdup(local ? local : "");
	f->last_sync = sqlite3_column_int64(stmt, 3);
	f->rules = sqlite3_column_text(stmt, 4) ? xstrdup((const char *)sqlite3_column_text(stmt, 4)) : NULL;
	f->pending = sqlite3_column_int64(stmt, 5);
	for (int s = 0; s < SIDES; s++)
		read_marks(stmt, FIRST_MARK + MARK_COUNT * s, &f->side[s]);
	for (int s = 0; s < SIDES; s++)
		f->seen[s] = sqlite3_column_int64(stmt, FIRST_OUTCOME + s);
	f->failed_messages = sqlite3_column_int64(stmt, FIRST_OUTCOME + 2);
	f->error = sqlite3_column_text(stmt, FIRST_OUTCOME + 3)
	               ? xstrdup((const char *)sqlite3_column_text(stmt, FIRST_OUTCOME + 3))
	               : NULL;
	f->error_time = sqlite3_column_int64(stmt, FIRST_OUTCOME + 4);
}

static int check_names(struct state *st, const char *remote_name, const char *local_path, struct error *err)
{
	if (!remote_name || !local_path)
		return state_bug(st, err, "a folder needs both a remote name and a local path");
	if (state_check_text(st, "folder name", remote_name, STATE_NAME_MAX, false, err) < 0 ||
	    state_check_text(st, "folder path", local_path, STATE_NAME_MAX, false, err) < 0) {
		error_escalate(err, ERR_MAILBOX);
		return -1;
	}
	return 0;
}

int state_folder_add(struct state *st, const char *remote_name, const char *local_path, int64_t *id_r,
                     struct error *err)
{
	sqlite3_stmt *stmt;

	*id_r = 0;
	if (check_names(st, remote_name, local_path, err) < 0)
		return -1;
	stmt = state_stmt(st, ST_FOLDER_INSERT, "INSERT INTO folder (remote_name, local_path) VALUES (?, ?)",
	                  err);
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, remote_name);
	state_bind_text(stmt, 2, local_path);
	if (state_step_done(st, stmt, "add folder", err) < 0) {
		error_prefix(err, "folder \"%s\" (%s)", remote_name, local_path);
		return -1;
	}
	*id_r = sqlite3_last_insert_rowid(st->db);
	return 0;
}

/* Run a lookup that yields at most one folder. */
static int get_one(struct state *st, sqlite3_stmt *stmt, struct state_folder *f_r, struct error *err)
{
	int rc = sqlite3_step(stmt);

	memset(f_r, 0, sizeof(*f_r));
	if (rc == SQLITE_ROW) {
		read_row(stmt, f_r);
		sqlite3_reset(stmt);
		return 1;
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return 0;
	return state_fail(st, rc, err, "read a folder");
}

int state_folder_get(struct state *st, int64_t id, struct state_folder *f_r, struct error *err)
{
	sqlite3_stmt *stmt =
	    state_stmt(st, ST_FOLDER_BY_ID, "SELECT " FOLDER_COLS " FROM folder WHERE id = ?", err);

	memset(f_r, 0, sizeof(*f_r));
	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	return get_one(st, stmt, f_r, err);
}

int state_folder_find_remote(struct state *st, const char *remote_name, struct state_folder *f_r,
                             struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(st, ST_FOLDER_BY_REMOTE,
	                                "SELECT " FOLDER_COLS " FROM folder WHERE remote_name = ?", err);

	memset(f_r, 0, sizeof(*f_r));
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, remote_name);
	return get_one(st, stmt, f_r, err);
}

int state_folder_find_local(struct state *st, const char *local_path, struct state_folder *f_r,
                            struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(st, ST_FOLDER_BY_LOCAL,
	                                "SELECT " FOLDER_COLS " FROM folder WHERE local_path = ?", err);

	memset(f_r, 0, sizeof(*f_r));
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, local_path);
	return get_one(st, stmt, f_r, err);
}

int state_folder_list(struct state *st, struct state_folder **folders_r, size_t *count_r, struct error *err)
{
	sqlite3_stmt *stmt =
	    state_stmt(st, ST_FOLDER_LIST, "SELECT " FOLDER_COLS " FROM folder ORDER BY remote_name", err);
	struct state_folder *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*folders_r = NULL;
	*count_r = 0;
	if (!stmt)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		read_row(stmt, &v[n++]);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		state_folder_list_free(v, n);
		return state_fail(st, rc, err, "list the folders");
	}
	*folders_r = v;
	*count_r = n;
	return 0;
}

static int check_markers(struct state *st, const struct state_folder *f, struct error *err)
{
	for (int s = 0; s < SIDES; s++) {
		const struct state_marks *m = &f->side[s];

		if (m->highestmodseq > INT64_MAX)
			return error_set(err, ERR_MAILBOX,
			                 "state database %s: refusing HIGHESTMODSEQ %" PRIu64
			                 " of folder \"%s\": it passes the 63 bits RFC 7162 allows",
			                 st->path, m->highestmodseq, f->remote_name);
		for (int k = 0; k < 2; k++)
			if (m->marks[k].tv_nsec < 0 || m->marks[k].tv_nsec > 999999999)
				return state_bug(
				    st, err, "folder \"%s\" has a directory time with invalid nanoseconds",
				    f->remote_name);
	}
	return 0;
}

int state_folder_update(struct state *st, const struct state_folder *f, struct error *err)
{
	sqlite3_stmt *stmt;
	int col;

	if (check_names(st, f->remote_name, f->local_path, err) < 0 || check_markers(st, f, err) < 0)
		return -1;
	stmt = state_stmt(
	    st, ST_FOLDER_UPDATE,
	    "UPDATE folder SET remote_name = ?, local_path = ?, last_sync = ?, rules = ?, " MARK_SET(
	        "a_") ", " MARK_SET("b_") ", " OUTCOME_SET " WHERE id = ?",
	    err);
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, f->remote_name);
	state_bind_text(stmt, 2, f->local_path);
	sqlite3_bind_int64(stmt, 3, f->last_sync);
	state_bind_text(stmt, 4, f->rules && *f->rules ? f->rules : NULL);
	for (int s = 0; s < SIDES; s++)
		bind_marks(stmt, 5 + MARK_COUNT * s, &f->side[s]);
	col = 5 + MARK_COUNT * SIDES;
	for (int s = 0; s < SIDES; s++)
		sqlite3_bind_int64(stmt, col++, f->seen[s] < 0 ? -1 : f->seen[s]);
	sqlite3_bind_int64(stmt, col++, f->failed_messages < 0 ? 0 : f->failed_messages);
	state_bind_text(stmt, col++, f->error && *f->error ? f->error : NULL);
	sqlite3_bind_int64(stmt, col++, f->error && *f->error ? f->error_time : 0);
	sqlite3_bind_int64(stmt, col, f->id);
	if (state_step_done(st, stmt, "update folder", err) < 0) {
		error_prefix(err, "folder \"%s\"", f->remote_name);
		return -1;
	}
	if (sqlite3_changes(st->db) != 1)
		return state_bug(st, err, "folder \"%s\" (id %" PRId64 ") was updated but is not stored",
		                 f->remote_name, f->id);
	return 0;
}

int state_folder_set_error(struct state *st, int64_t id, const char *error, int64_t failed_messages,
                           int64_t when, struct error *err)
{
	sqlite3_stmt *stmt;

	if (!error || !*error)
		return state_bug(st, err, "a folder's failure was to be recorded without its error");
	stmt =
	    state_stmt(st, ST_FOLDER_SET_ERROR,
	               "UPDATE folder SET error = ?, error_time = ?, failed_messages = ? WHERE id = ?", err);
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, error);
	sqlite3_bind_int64(stmt, 2, when);
	sqlite3_bind_int64(stmt, 3, failed_messages < 0 ? 0 : failed_messages);
	sqlite3_bind_int64(stmt, 4, id);
	if (state_step_done(st, stmt, "record a folder's failure", err) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return state_bug(st, err, "folder %" PRId64 " failed but is not stored", id);
	return 0;
}

static int count_intents(struct state *st, int64_t id, int64_t *count_r, struct error *err)
{
	return state_count_of(st, ST_FOLDER_INTENTS, "SELECT count(*) FROM intent WHERE folder_id = ?", id,
	                      "count the intents of a folder", count_r, err);
}

int state_folder_drop_listing(struct state *st, int64_t id, enum side side, struct error *err)
{
	sqlite3_stmt *stmt = side == SIDE_A ? state_stmt(st, ST_FOLDER_DROP_LISTING_A,
	                                                 "UPDATE folder SET a_files = -1 WHERE id = ?", err)
	                                    : state_stmt(st, ST_FOLDER_DROP_LISTING_B,
	                                                 "UPDATE folder SET b_files = -1 WHERE id = ?", err);

	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	return state_step_done(st, stmt, "forget a folder's listing", err);
}

int state_folder_delete(struct state *st, int64_t id, struct error *err)
{
	sqlite3_stmt *stmt;
	int64_t pending;

	if (count_intents(st, id, &pending, err) < 0)
		return -1;
	if (pending)
		return state_bug(
		    st, err, "folder %" PRId64 " was to be deleted with %" PRId64 " intents still pending",
		    id, pending);
	stmt = state_stmt(st, ST_FOLDER_DELETE, "DELETE FROM folder WHERE id = ?", err);
	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	if (state_step_done(st, stmt, "delete a folder", err) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return state_bug(st, err, "folder %" PRId64 " was to be deleted but is not stored", id);
	return 0;
}

/* One statement of reset_ids() for side `side`, `sql[side]`. */
static int reset_step(struct state *st, enum state_stmt first, const char *const sql[SIDES], enum side side,
                      int64_t a, int64_t b, const char *what, struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(st, (enum state_stmt)(first + side), sql[side], err);

	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, a);
	if (b >= 0)
		sqlite3_bind_int64(stmt, 2, b);
	return state_step_done(st, stmt, what, err);
}

static int reset_ids(struct state *st, int64_t id, enum side side, uint32_t uidvalidity, struct error *err)
{
	static const char *const drop_only[SIDES] = {
	    "DELETE FROM pair WHERE folder_id = ? AND b_uid IS NULL AND b_name IS NULL",
	    "DELETE FROM pair WHERE folder_id = ? AND a_uid IS NULL AND a_name IS NULL"};
	static const char *const unset[SIDES] = {
	    "UPDATE pair SET a_uid = NULL, a_name = NULL, renumbered = 1 WHERE folder_id = ? AND "
	    "(a_uid IS NOT NULL OR a_name IS NOT NULL)",
	    "UPDATE pair SET b_uid = NULL, b_name = NULL, renumbered = 1 WHERE folder_id = ? AND "
	    "(b_uid IS NOT NULL OR b_name IS NOT NULL)"};
	static const char *const unset_intents[SIDES] = {
	    "UPDATE intent SET a_uid = NULL, a_name = NULL WHERE folder_id = ? AND "
	    "(a_uid IS NOT NULL OR a_name IS NOT NULL)",
	    "UPDATE intent SET b_uid = NULL, b_name = NULL WHERE folder_id = ? AND "
	    "(b_uid IS NOT NULL OR b_name IS NOT NULL)"};
	static const char *const set_validity[SIDES] = {
	    "UPDATE folder SET a_uidvalidity = ?, a_uidnext = 0, a_highestmodseq = 0 WHERE id = ?",
	    "UPDATE folder SET b_uidvalidity = ?, b_uidnext = 0, b_highestmodseq = 0 WHERE id = ?"};

	if (reset_step(st, ST_FOLDER_DROP_ONLY_A, drop_only, side, id, -1,
	               "forget the messages a folder had only on the renumbered side", err) < 0 ||
	    reset_step(st, ST_FOLDER_UNSET_IDS_A, unset, side, id, -1, "forget the UIDs of a folder", err) <
	        0)
		return -1;
	/* A killed run's intents name UIDs of the old numbering too: a
	 * delivery recovered later must not pair its file with whatever
	 * message has that UID now (it is matched by content instead). */
	if (reset_step(st, ST_FOLDER_UNSET_INTENT_IDS_A, unset_intents, side, id, -1,
	               "forget the UIDs of a folder's pending operations", err) < 0 ||
	    reset_step(st, ST_FOLDER_SET_UIDVALIDITY_A, set_validity, side, uidvalidity, id,
	               "record a new UIDVALIDITY", err) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return state_bug(st, err, "folder %" PRId64 " got a new UIDVALIDITY but is not stored", id);
	return 0;
}

int state_folder_reset_ids(struct state *st, int64_t id, enum side side, uint32_t uidvalidity,
                           struct error *err)
{
	if (state_savepoint(st, err) < 0)
		return -1;
	return state_release_savepoint(st, reset_ids(st, id, side, uidvalidity, err), err);
}

int state_folder_reset_uids(struct state *st, int64_t id, uint32_t uidvalidity, struct error *err)
{
	return state_folder_reset_ids(st, id, SIDE_A, uidvalidity, err);
}

void state_folder_clear(struct state_folder *f)
{
	free(f->remote_name);
	free(f->local_path);
	free(f->rules);
	free(f->error);
	memset(f, 0, sizeof(*f));
}

void state_folder_list_free(struct state_folder *folders, size_t count)
{
	for (size_t i = 0; i < count; i++)
		state_folder_clear(&folders[i]);
	free(folders);
}
