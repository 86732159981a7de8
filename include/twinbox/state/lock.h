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
 *   account "work" is being synced by process 12345 on host box since
 *   2026-11-22 03:51:19; wait for it to finish or stop it (lock file ...)
 *
 * The lock belongs to the open file: a child forked while it is held
 * shares it until it calls exec (the descriptor is close-on-exec) or
 * exits. Taking the same lock twice in one process fails like a second
 * process would.
 *
 * Beside it, "<state_dir>/<account>.watch" says that a `twinbox watch`
 * runs for the account (state_watch_register): the same kind of line,
 * written when the watcher starts and removed when it ends. A watcher
 * syncs only from time to time, taking the lock for each sync, so the
 * file, not the lock, tells that one runs. A file left by a watcher
 * that was killed names a process that is gone, and is not believed.
 *
 * Whether a process named by either file still runs is asked of the
 * system: it exists and is no zombie, and where /proc tells, it started
 * no later than the file says it took the lock or registered, so that
 * another process that got the same pid later is not taken for it.
 */
#ifndef TWINBOX_STATE_LOCK_H
#define TWINBOX_STATE_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "twinbox/util/error.h"

struct state_lock;

#define STATE_LOCK_NOWAIT  0
#define STATE_LOCK_FOREVER (-1)

/* A process as a lock or watch file names it. */
struct state_process {
	bool known;     /* the file names one; the rest is unset otherwise */
	long pid;       /* > 0 */
	int64_t since;  /* Unix time it took the lock, or registered */
	char host[256]; /* the host it runs on (its hostname) */
	bool here;      /* on this host: its pid means something here */
};

/* Take the lock of the account whose state database is `db_path` (the
 * lock file is state_lock_path(db_path); it and its directory are created
 * 0600 / 0700 if missing). `wait_ms`: STATE_LOCK_NOWAIT fails at once if
 * another process holds it, a positive value waits up to that many
 * milliseconds, STATE_LOCK_FOREVER waits as long as it takes (blocked in
 * flock: it gets the lock the moment it is free). On success *lock_r is
 * the lock (state_lock_release it); on failure NULL with `err` filled:
 * ERR_ACCOUNT when another process holds it (the message names that
 * process), ERR_FATAL when the file cannot be created or locked. */
int state_lock_acquire(const char *db_path, int wait_ms, struct state_lock **lock_r, struct error *err);

/* state_lock_acquire(), telling "held by another process" apart: 1
 * with *holder_r (as far as the file names it; `known` false when it
 * does not) and `err` as above, 0 when locked, -1 on any other failure.
 * `holder_r` may be NULL. */
int state_lock_try(const char *db_path, int wait_ms, struct state_lock **lock_r,
                   struct state_process *holder_r, struct error *err);

/* A shared hold of the lock: none of the account's runs goes on while
 * it is held, and holders of it do not keep each other out (a dry run
 * reading the state as a whole). Returns as state_lock_try(). Nothing is
 * created: with no lock file (no run ever took the lock) it returns 0
 * with *lock_r NULL, which state_lock_release() takes. */
int state_lock_try_shared(const char *db_path, int wait_ms, struct state_lock **lock_r,
                          struct state_process *holder_r, struct error *err);

/* Release and free; NULL is fine. */
void state_lock_release(struct state_lock *lock);

/* "<dir>/<name>.lock" for "<dir>/<name>.db" (any other name gets ".lock"
 * appended). Fresh string (caller frees). */
char *state_lock_path(const char *db_path);

/* Whether a process holds the account's lock now, by its lock file alone:
 * no lock is taken, so a run that starts meanwhile is never refused
 * because of the question. 1 with *holder_r when the file names a
 * process that runs (one on another host is taken as running), 0 when
 * it names none, or one that is gone (killed). */
int state_lock_holder(const char *db_path, struct state_process *holder_r);

/* ---- the watcher of an account ---- */

struct state_watch;

/* "<dir>/<name>.watch" for "<dir>/<name>.db". Fresh string. */
char *state_watch_path(const char *db_path);

/* Register this process as the watcher of the account whose state
 * database is `db_path` (the directory is created 0700 if missing, the
 * file written 0600). 0 with *watch_r; 1 when another watcher that runs
 * is registered (*other_r filled, may be NULL; `err` names it,
 * ERR_ACCOUNT): nothing is written; -1 when the file cannot be
 * written. */
int state_watch_register(const char *db_path, struct state_watch **watch_r, struct state_process *other_r,
                         struct error *err);

/* Remove the registration, if the file still names this process, and
 * free; NULL is fine. */
void state_watch_unregister(struct state_watch *watch);

/* 1 with *w_r when a watcher that runs is registered for the account
 * (on another host: taken as running, w_r->here false), 0 when none is
 * (no file, or one a watcher that is gone left). */
int state_watch_find(const char *db_path, struct state_process *w_r);

#endif
