/*
 * One run per account: an exclusive lock on "<state_dir>/<account>.lock",
 * next to the state database, taken before the database is opened.
 *
 * The lock is flock(2) on that file, so the kernel drops it when its
 * holder exits in any way (even SIGKILL): a lock is never stale and is
 * never "broken" by hand. The file itself is kept (removing a lock file
 * races with others opening it); while locked it holds one line
 * "<pid> <start time> <host>" so that a second run can say who holds it:
 *
 *   account "work" is being synced by process 12345 (started 2026-11-22
 *   03:51:19); wait for it to finish or stop it (lock file ...)
 *
 * The lock belongs to the open file: a child forked while it is held
 * shares it until it calls exec (the descriptor is close-on-exec) or
 * exits. Taking the same lock twice in one process fails like a second
 * process would.
 */
#ifndef TWINBOX_STATE_LOCK_H
#define TWINBOX_STATE_LOCK_H

#include "twinbox/util/error.h"

struct state_lock;

#define STATE_LOCK_NOWAIT  0
#define STATE_LOCK_FOREVER (-1)

/* Take the lock of the account whose state database is `db_path` (the
 * lock file is state_lock_path(db_path); it and its directory are created
 * 0600 / 0700 if missing). `wait_ms`: STATE_LOCK_NOWAIT fails at once if
 * another process holds it, a positive value waits up to that many
 * milliseconds, STATE_LOCK_FOREVER waits as long as it takes. On success
 * *lock_r is the lock (state_lock_release it); on failure NULL with `err`
 * filled: ERR_ACCOUNT when another process holds it (the message names
 * that process), ERR_FATAL when the file cannot be created or locked. */
int state_lock_acquire(const char *db_path, int wait_ms, struct state_lock **lock_r, struct error *err);

/* Release and free; NULL is fine. */
void state_lock_release(struct state_lock *lock);

/* "<dir>/<name>.lock" for "<dir>/<name>.db" (any other name gets ".lock"
 * appended). Fresh string (caller frees). */
char *state_lock_path(const char *db_path);

#endif
