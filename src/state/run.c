/* The account's last run (see twinbox/state/run.h). */
#include "twinbox/state/run.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "state_p.h"
#include "twinbox/util/xmalloc.h"

static const char *const result_names[] = {
    [STATE_RUN_OK] = "ok",
    [STATE_RUN_PARTIAL] = "partial",
    [STATE_RUN_FAILED] = "failed",
};

const char *state_run_result_name(enum state_run_result result)
{
	if (result <= STATE_RUN_NONE || result > STATE_RUN_FAILED)
		return NULL;
	return result_names[result];
}

/* Run `stmt` as a write that need not survive a power loss: what it
 * records is for people, so it does not by itself make state_close()
 * flush the log (a run with nothing to do writes nothing else, and
 * keeps costing no fsync). */
static int record(struct state *st, sqlite3_stmt *stmt, const char *what, struct error *err)
{
	bool wrote = st->wrote;
	int rc = state_step_done(st, stmt, what, err);

	st->wrote = wrote;
	return rc;
}

static enum state_run_result result_from_name(const char *name)
{
	for (int r = STATE_RUN_OK; r <= STATE_RUN_FAILED; r++)
		if (name && strcmp(result_names[r], name) == 0)
			return (enum state_run_result)r;
	return STATE_RUN_NONE;
}

int state_run_begin(struct state *st, int64_t now, struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(st, ST_RUN_BEGIN,
	                                "INSERT INTO run (id, started, ended) VALUES (1, ?1, 0)"
	                                " ON CONFLICT (id) DO UPDATE SET started = ?1, ended = 0",
	                                err);

	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, now);
	return record(st, stmt, "record the start of a run", err);
}

int state_run_end(struct state *st, int64_t now, enum state_run_result result, const char *error,
                  struct error *err)
{
	sqlite3_stmt *stmt;

	if (!state_run_result_name(result))
		return state_bug(st, err, "a run was to end with no result");
	if (error && !*error)
		error = NULL;
	if (state_check_text(st, "run error", error, STATE_RUN_ERROR_MAX, false, err) < 0)
		return -1;
	stmt = state_stmt(st, ST_RUN_END,
	                  "INSERT INTO run (id, started, ended, result, error, last_ok)"
	                  " VALUES (1, ?1, ?1, ?2, ?3, CASE WHEN ?2 = 'ok' THEN ?1 ELSE 0 END)"
	                  " ON CONFLICT (id) DO UPDATE SET ended = ?1, result = ?2, error = ?3,"
	                  " last_ok = CASE WHEN ?2 = 'ok' THEN ?1 ELSE last_ok END",
	                  err);
	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, now);
	state_bind_text(stmt, 2, state_run_result_name(result));
	state_bind_text(stmt, 3, error);
	return record(st, stmt, "record the end of a run", err);
}

int state_run_get(struct state *st, struct state_run *run_r, struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(
	    st, ST_RUN_GET, "SELECT started, ended, result, error, last_ok FROM run WHERE id = 1", err);
	int rc;

	memset(run_r, 0, sizeof(*run_r));
	if (!stmt)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const unsigned char *error = sqlite3_column_text(stmt, 3);
		run_r->started = sqlite3_column_int64(stmt, 0);
		run_r->ended = sqlite3_column_int64(stmt, 1);
		run_r->result = result_from_name((const char *)sqlite3_column_text(stmt, 2));
		run_r->error = error ? xstrdup((const char *)error) : NULL;
		run_r->last_ok = sqlite3_column_int64(stmt, 4);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return state_fail(st, rc, err, "read the last run");
}

void state_run_clear(struct state_run *run)
{
	free(run->error);
	memset(run, 0, sizeof(*run));
}
