/*
 * The state database: what both sides of an account looked like after the
 * last successful sync. One SQLite file per account, at the path the
 * caller gives (config_state_path(): "<state_dir>/<account>.db").
 *
 * Opening: state_open() creates the directory (0700) and the file (0600)
 * when STATE_OPEN_CREATE is given, switches the file to WAL mode, sets a
 * busy timeout of STATE_BUSY_TIMEOUT_MS and brings the schema up to
 * STATE_SCHEMA_VERSION by running the forward migrations in one
 * transaction (a crash during a migration leaves the old version intact).
 * It refuses, with a message naming the file and what to do:
 *   - a file written by a newer twinbox (schema version too high),
 *   - a file that is not a twinbox state database (another application's
 *     SQLite file, or garbage),
 *   - a damaged file.
 * A refused file is never modified, recreated or deleted.
 *
 * Errors: every function returns 0 (or a documented count / 1-0 answer)
 * on success and -1 with `err` filled on failure; the message names the
 * file ("state database <path>: ...") and says what to do. Scopes: a full disk, an I/O error, a damaged
 * or read-only file, a newer schema and a violated constraint (which
 * means a bug in the caller) are ERR_FATAL; a file still locked by some
 * other program after the busy timeout is ERR_ACCOUNT.
 *
 * Transactions and durability: every function works in autocommit mode
 * (each call is its own transaction), or inside state_begin() ..
 * state_commit() for batches, which is much faster (one write of the log
 * per batch instead of per row). Guarantees:
 *   - every commit is atomic: after any crash the file holds whole
 *     transactions only, in commit order;
 *   - a committed transaction survives the process being killed
 *     (SIGKILL, a crash): it is in the write-ahead log in the kernel's
 *     page cache once state_commit() returns;
 *   - with state_commit() it may be lost if the machine itself loses
 *     power or the kernel crashes soon after (the log is synced to disk
 *     only at checkpoints and at state_close(): SQLite's
 *     synchronous=NORMAL);
 *   - state_commit_durable() returns only when this transaction and every
 *     one before it is on disk: the write-ahead log is fsynced after the
 *     commit, as synchronous=FULL would do. Use it where a later side
 *     effect relies on the rows surviving a power loss: committing
 *     intents before the actions they announce, and before deleting a
 *     message on one side because the state says the other side has it.
 *
 * Threads: a `struct state` belongs to one thread at a time. Parallel
 * folder jobs open one `struct state` each on the same file; WAL lets
 * them read concurrently and their writes are serialised (waiting up to
 * the busy timeout).
 */
#ifndef TWINBOX_STATE_STATE_H
#define TWINBOX_STATE_STATE_H

#include <stdbool.h>

#include "twinbox/util/error.h"

/* The schema this twinbox writes; older files are migrated forward. */
#define STATE_SCHEMA_VERSION 6
/* How long a call waits for another connection's write lock. */
#define STATE_BUSY_TIMEOUT_MS 10000

struct state;

/* state_open() flags */
enum {
	/* Create the file (and its directory) if it does not exist. Without
	 * it a missing file is an error (ERR_ACCOUNT). */
	STATE_OPEN_CREATE = 1 << 0,
};

/* Open the database at `path` (see the top of this file). On success
 * *st_r is the handle (state_close it); on failure *st_r is NULL. */
int state_open(const char *path, unsigned flags, struct state **st_r, struct error *err);

/* Close; an open transaction is rolled back. NULL is fine. What this
 * connection committed is synced to disk first (the write-ahead log),
 * but not copied into the database file: closing costs one fsync, and
 * the copy is left to state_checkpoint() or to SQLite, once the log has
 * grown past 1,000 pages (4 MB). */
void state_close(struct state *st);

/* Copy what the write-ahead log holds into the database file as far as
 * no reader needs it, without waiting for anyone (SQLite's PASSIVE
 * checkpoint); best effort: a failure is only logged. For a thread that
 * has time while the run waits on the network. */
void state_checkpoint(struct state *st);

/* The path given to state_open(); valid until state_close(). */
const char *state_path(const struct state *st);

/* True when this open found no schema (a new or empty file) and created
 * it: the state knows nothing about either side. The engine must then
 * pair messages by content, never read the empty state as "everything
 * was deleted" nor as "everything is new on both sides". */
bool state_is_new(const struct state *st);

/* Start a write transaction (BEGIN IMMEDIATE: the write lock is taken
 * now, so later statements cannot fail with "busy"). Nested calls are a
 * bug (ERR_FATAL). */
int state_begin(struct state *st, struct error *err);
/* Commit (see "Transactions and durability" above). If it fails the
 * transaction may still be open: call state_rollback(). */
int state_commit(struct state *st, struct error *err);
/* Commit and wait until the transaction is on disk. If the commit
 * succeeds but the flush fails (an I/O error: ERR_FATAL), the
 * transaction is committed but may not survive a power loss. */
int state_commit_durable(struct state *st, struct error *err);
/* Abandon the open transaction, if any (none is fine). A failure here
 * can only be logged: SQLite rolls back on its own when it cannot. */
void state_rollback(struct state *st);
bool state_in_transaction(const struct state *st);

/* Check the whole file for damage (SQLite's quick_check; reads every
 * page, so it is not done on open). Returns 0 if sound. */
int state_check(struct state *st, struct error *err);

/* Create a new file at `path` holding schema `version` (1 ..
 * STATE_SCHEMA_VERSION) as the twinbox of that version wrote it, empty:
 * for tests of the upgrade from older files. Not for use on a file that
 * exists. */
int state_create_version(const char *path, int version, struct error *err);

#endif
