/*
 * Back-off for a server that says "not now": an error whose `retry` is
 * set (util/error.h: [UNAVAILABLE], [LIMIT], [INUSE], a BYE, a lost
 * connection). The work is tried again after a wait, the waits doubling
 * from first_ms up to max_ms, at most `attempts` times in a row.
 *
 * One per account run, shared by its threads (the run's own and the
 * workers of parallel folders), so that a busy server sees no storm:
 *  - a failure while no wait runs starts one, told once (log_warn):
 *      INBOX: SELECT "INBOX" failed at imap.example.com:993: NO
 *      [UNAVAILABLE] Try later; retrying in 4 s (retry 3 of 6)
 *    as long as the longer of the work's own tries so far and the
 *    server's failures since the last success ask for;
 *  - a failure of another thread during that wait waits with it and
 *    starts none: N connections told BYE at once make one wait;
 *  - one piece of work (a folder, a connection) is tried again at most
 *    `attempts` times;
 *  - once the server failed `attempts` times in a row with no success
 *    (a folder synced, a connection made) in between, a failure is not
 *    tried again at all: a server that refuses every folder is given up
 *    on once, not once per folder.
 * When the work is not tried again, the error says so, and what to do.
 *
 * The bounds: SYNC_BACKOFF_* below, unless the policy given says
 * otherwise (the CLI takes TWINBOX_TEST_BACKOFF_MS, for tests). With the
 * defaults: waits of 1, 2, 4, 8, 16 and 32 s, so a server that stays
 * busy is given up on after about a minute.
 */
#ifndef TWINBOX_SYNC_BACKOFF_H
#define TWINBOX_SYNC_BACKOFF_H

#include <stdbool.h>

#include "twinbox/util/error.h"

#define SYNC_BACKOFF_ATTEMPTS 6     /* tries again of one piece of work */
#define SYNC_BACKOFF_FIRST_MS 1000  /* the first wait */
#define SYNC_BACKOFF_MAX_MS   60000 /* no wait is longer */

struct sync_backoff_policy {
	unsigned attempts; /* 0: never try again */
	unsigned first_ms; /* the first wait; each next one twice the last, */
	unsigned max_ms;   /* up to this */
};

struct sync_backoff;

/* A back-off with `policy` (copied; NULL: the SYNC_BACKOFF_* defaults;
 * a field 0 but attempts takes its default). Free with
 * sync_backoff_free (NULL is fine). */
struct sync_backoff *sync_backoff_new(const struct sync_backoff_policy *policy);
void sync_backoff_free(struct sync_backoff *b);

/*
 * After `e`, a failure of one piece of work that was tried again *tries
 * times so far (the caller's count: 0 at its first failure; counted up
 * here): whether to try it again, after waiting as the rules above say.
 * `what` starts the line that tells the wait ("INBOX"; NULL: none).
 * false at once when `e` is not worth another try (ERR_RETRY_NO, or
 * ERR_FATAL), when `b` is NULL, or after sync_backoff_cancel; false when
 * the attempts are spent, with `e`'s text then ending in what was tried
 * and what to do ("...; gave up after 6 retries: run twinbox again
 * later ..."). Blocks the calling thread for the wait.
 */
bool sync_backoff_wait(struct sync_backoff *b, const char *what, unsigned *tries, struct error *e);

/* Work went through: the next failure counts from the first attempt
 * again. NULL is fine. */
void sync_backoff_success(struct sync_backoff *b);

/* The run stops: every wait ends now, and sync_backoff_wait refuses
 * from now on. NULL is fine. */
void sync_backoff_cancel(struct sync_backoff *b);

/* The waits started since the last success (tests). */
unsigned sync_backoff_count(struct sync_backoff *b);

#endif
