/*
 * Private to src/state/: the connection struct, the cache of prepared
 * statements, mapping SQLite failures to twinbox errors, and a string
 * arena for loaded sets.
 */
#ifndef TWINBOX_STATE_STATE_P_H
#define TWINBOX_STATE_STATE_P_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/state/state.h"

/* Every cached statement has a slot; its SQL is given by the first
 * caller (the module that owns it). */
enum state_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_FOLDER_INSERT,
	ST_FOLDER_BY_ID,
	ST_FOLDER_BY_REMOTE,
	ST_FOLDER_BY_LOCAL,
	ST_FOLDER_LIST,
	ST_FOLDER_UPDATE,
	ST_FOLDER_DROP_LISTING_A,
	ST_FOLDER_DROP_LISTING_B,
	ST_FOLDER_DELETE,
	ST_FOLDER_SET_ERROR,
	ST_FOLDER_INTENTS,
	ST_FOLDER_UNSET_IDS_A, /* ..._B follows each ..._A */
	ST_FOLDER_UNSET_IDS_B,
	ST_FOLDER_DROP_ONLY_A,
	ST_FOLDER_DROP_ONLY_B,
	ST_FOLDER_SET_UIDVALIDITY_A,
	ST_FOLDER_SET_UIDVALIDITY_B,
	ST_FOLDER_UNSET_INTENT_IDS_A,
	ST_FOLDER_UNSET_INTENT_IDS_B,
	ST_PAIR_INSERT,
	ST_PAIR_UPDATE,
	ST_PAIR_SET_FLAGS,
	ST_PAIR_DROP_A,
	ST_PAIR_DROP_B,
	ST_PAIR_DELETE,
	ST_PAIR_COUNT,
	ST_PAIR_LOAD,
	ST_PAIR_BY_KEY,
	ST_PAIR_BY_KEY_ALL,
	ST_PAIR_BY_UIDS,
	ST_PAIR_NO_UID,
	ST_PAIR_NO_A,
	ST_PAIR_NO_B,
	ST_INTENT_INSERT,
	ST_INTENT_DELETE,
	ST_INTENT_LIST,
	ST_INTENT_LIST_ALL,
	ST_POP3_INSERT,
	ST_POP3_SET_DELETED,
	ST_POP3_DELETE,
	ST_POP3_LOAD,
	ST_SERVER_GET,
	ST_SERVER_SET,
	ST_RUN_BEGIN,
	ST_RUN_END,
	ST_RUN_GET,
	ST_COUNT
};

struct state {
	sqlite3 *db;
	char *path;
	bool is_new;
	sqlite3_stmt *stmts[ST_COUNT];
	bool writer; /* holds the process's writer lock (state_writer_take) */
	bool wrote;  /* has written since it was opened: state_close syncs the log */
};

/* Sync the write-ahead log, if one is open, to disk: every commit made
 * so far survives a power loss. */
int state_sync_log(struct state *st, struct error *err);

/*
 * The process's writer lock. Several connections of this process may
 * write one database (the engine's parallel folders, each with its own
 * connection); SQLite would make all but one wait in its busy handler,
 * sleeping milliseconds at a time, and a deferred transaction (a
 * savepoint outside BEGIN) that read before another connection's commit
 * could not write at all (SQLITE_BUSY_SNAPSHOT). So a connection takes
 * this lock before its first write, BEGIN or SAVEPOINT, and gives it
 * back when it is in autocommit mode again: one writer at a time, and a
 * transaction's reads always see the latest commit.
 */
void state_writer_take(struct state *st);
/* Give the lock back if `st` holds it and no transaction is open. */
void state_writer_settle(struct state *st);

/* The cached statement `id`, prepared from `sql` on first use, reset and
 * with its bindings cleared; NULL with `err` filled if it cannot be
 * prepared. Call sqlite3_reset() when done with it (state_step_done()
 * does), so that no read transaction is left open. */
sqlite3_stmt *state_stmt(struct state *st, enum state_stmt id, const char *sql, struct error *err);

/* Step `stmt` once expecting SQLITE_DONE, then reset it. On failure:
 * -1 with an error for "cannot <what>". */
int state_step_done(struct state *st, sqlite3_stmt *stmt, const char *what, struct error *err);

/* The count a cached statement `id` (`sql`, with one id parameter bound
 * to `id`) answers, e.g. "SELECT count(*) FROM x WHERE folder_id = ?".
 * On failure: -1 with an error for "cannot <what>". */
int state_count_of(struct state *st, enum state_stmt stmt_id, const char *sql, int64_t id, const char *what,
                   int64_t *count_r, struct error *err);

/* Fill `err` for SQLite result `rc` during "cannot <what>": the scope
 * and advice follow the kind of failure (see state.h). Returns -1. */
int state_fail(struct state *st, int rc, struct error *err, const char *what_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A caller's mistake that the schema or a check caught: ERR_FATAL, "this
 * is a bug". Returns -1. */
int state_bug(struct state *st, struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Bind helpers: NULL text / 0 id / 0 uid bind SQL NULL. */
int state_bind_text(sqlite3_stmt *stmt, int col, const char *text);
int state_bind_id(sqlite3_stmt *stmt, int col, int64_t id);

/* Validate a caller's string against a bound: ERR_MESSAGE naming `what`
 * when it is longer than `max`, empty, or (with `no_slash`) holds '/' or
 * a control character. NULL is valid. */
int state_check_text(struct state *st, const char *what, const char *text, size_t max, bool no_slash,
                     struct error *err);

/* Savepoints for functions that must be atomic whether or not the caller
 * opened a transaction. state_release_savepoint(st, rc) commits the
 * savepoint when rc == 0 and rolls it back otherwise (keeping `err` from
 * the first failure); returns rc, or -1 if releasing failed. */
int state_savepoint(struct state *st, struct error *err);
int state_release_savepoint(struct state *st, int rc, struct error *err);

/* The schema: migrations from `from` to STATE_SCHEMA_VERSION, in the
 * transaction the caller opened. */
int state_migrate(struct state *st, int from, struct error *err);
/* PRAGMA application_id of a twinbox state file. */
#define STATE_APPLICATION_ID 0x54574258 /* "TWBX" */

/* A string arena: strings copied in stay put until the arena is freed. */
struct state_arena;
/* Copy `len` bytes of `s` plus a NUL into the arena (created on first
 * use in *arena_r); returns the copy. */
char *state_arena_strndup(struct state_arena **arena_r, const char *s, size_t len);
void state_arena_free(struct state_arena *arena);

/* Copy a text column into the arena; NULL for SQL NULL. */
const char *state_arena_column(struct state_arena **arena_r, sqlite3_stmt *stmt, int col);

#endif
