#include <stdio.h>
#include <string.h>

#include "state_p.h"
#include "twinbox/state/state.h"
#include "twinbox/util/log.h"

static int run(struct state *st, enum state_stmt id, const char *sql, const char *what, struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(st, id, sql, err);

	if (!stmt)
		return -1;
	return state_step_done(st, stmt, what, err);
}

int state_begin(struct state *st, struct error *err)
{
	if (state_in_transaction(st))
		return state_bug(st, err, "a transaction was started inside another one");
	state_writer_take(st);
	return run(st, ST_BEGIN, "BEGIN IMMEDIATE", "start a transaction", err);
}

int state_commit(struct state *st, struct error *err)
{
	if (!state_in_transaction(st))
		return state_bug(st, err, "commit without a transaction");
	return run(st, ST_COMMIT, "COMMIT", "commit a transaction", err);
}

/* With synchronous=NORMAL a WAL commit is written but not synced; FULL
 * would sync it, but SQLite only lets that setting change between
 * transactions. So commit, then sync the log file through SQLite's own
 * file handle: that is the very call FULL makes at commit, and it also
 * syncs the directory once when the log file was just created. The log
 * is sequential, so syncing it makes every earlier commit durable too. */
int state_commit_durable(struct state *st, struct error *err)
{
	if (state_commit(st, err) < 0)
		return -1;
	return state_sync_log(st, err);
}

int state_sync_log(struct state *st, struct error *err)
{
	sqlite3_file *log = NULL;
	int rc;

	rc = sqlite3_file_control(st->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log);
	if (rc != SQLITE_OK)
		return state_fail(st, rc, err, "find the write-ahead log to flush it");
	if (!log || !log->pMethods)
		return 0; /* no log open: the commit went straight to the file */
	rc = log->pMethods->xSync(log, SQLITE_SYNC_NORMAL);
	if (rc != SQLITE_OK)
		return state_fail(st, rc, err, "flush the write-ahead log to disk");
	return 0;
}

void state_rollback(struct state *st)
{
	struct error err;

	if (!state_in_transaction(st))
		return;
	if (run(st, ST_ROLLBACK, "ROLLBACK", "roll back a transaction", &err) < 0)
		log_warn("%s", err.text);
}

int state_savepoint(struct state *st, struct error *err)
{
	state_writer_take(st);
	return run(st, ST_SAVEPOINT, "SAVEPOINT twinbox_step", "start a savepoint", err);
}

int state_release_savepoint(struct state *st, int rc, struct error *err)
{
	struct error ignored;

	if (rc == 0) {
		if (run(st, ST_RELEASE, "RELEASE twinbox_step", "commit a savepoint", err) == 0)
			return 0;
		rc = -1;
	}
	/* Undo the step's own changes, keep the caller's transaction. SQLite
	 * may already have rolled everything back (disk full, I/O error):
	 * then there is no savepoint left and this fails harmlessly. */
	if (run(st, ST_ROLLBACK_TO, "ROLLBACK TO twinbox_step", "roll back a savepoint", &ignored) == 0)
		run(st, ST_RELEASE, "RELEASE twinbox_step", "end a savepoint", &ignored);
	return rc;
}

int state_check(struct state *st, struct error *err)
{
	sqlite3_stmt *stmt;
	char first[256] = "";
	int rc, problems = 0;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check(10)", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return state_fail(st, rc, err, "check the file");
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(stmt, 0);
		if (line && strcmp(line, "ok") == 0)
			continue;
		if (problems++ == 0)
			snprintf(first, sizeof(first), "%s", line ? line : "?");
	}
	if (rc != SQLITE_DONE) {
		state_fail(st, rc, err, "check the file");
		sqlite3_finalize(stmt);
		return -1;
	}
	sqlite3_finalize(stmt);
	if (problems)
		return error_set(
		    err, ERR_FATAL,
		    "state database %s is damaged (%s); restore it from a backup, or move it aside so "
		    "that twinbox starts a new state",
		    st->path, first);
	return 0;
}
