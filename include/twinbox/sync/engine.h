/*
 * The sync engine: runs an account's sync between two stores, using the
 * planners (plan.h) and recording every step in the state.
 *
 * Per folder: snapshot both sides, reconcile pending intents of a run
 * that was killed, compute content keys where unpaired messages could be
 * the same mail, plan, execute, record. Execution follows DESIGN.md's
 * write-ahead rule: an intent is durable in the state before a message
 * is created on a store, and the pair is recorded (resolving the intent)
 * only after the store made the message durable (store flush). Each
 * durable step passes a crash_point() (util/crash.h).
 *
 * A failure is contained by its scope: ERR_MESSAGE skips a message (the
 * next run tries again), ERR_MAILBOX fails the folder, ERR_ACCOUNT and
 * ERR_FATAL stop the run. A failure that a later try may not have (a
 * busy server, a lost connection: sync_options.backoff) is first tried
 * again.
 *
 * A side that refuses a copy as over its quota (ERR_CAUSE_OVER_QUOTA)
 * takes no more copies in the run: what it took is recorded, the
 * folder's other steps go on, and the folder fails with an error that
 * says so and what to do (cause ERR_CAUSE_OVER_QUOTA); every later
 * folder with copies to that side fails the same way without sending
 * them. The next run copies the rest, once.
 */
#ifndef TWINBOX_SYNC_ENGINE_H
#define TWINBOX_SYNC_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "twinbox/state/server.h"
#include "twinbox/state/state.h"
#include "twinbox/store/store.h"
#include "twinbox/sync/backoff.h"
#include "twinbox/sync/events.h"
#include "twinbox/sync/folder_map.h"
#include "twinbox/sync/plan.h"
#include "twinbox/util/error.h"

/* Messages by what was (or is to be) done with them. */
struct sync_counts {
	size_t to_local, to_remote;       /* messages copied */
	size_t flags_local, flags_remote; /* messages whose flags were changed */
	size_t deleted_local, deleted_remote;
	size_t paired;  /* matched by content, nothing copied */
	size_t too_big; /* over max_size, not copied */
	/* The sizes of the copies, where known (a Maildir's messages have
	 * none before they are read). */
	uint64_t bytes_to_local, bytes_to_remote;
};

/* What happened to one folder. */
#define SYNC_NOT_KEPT_TEXT 512 /* bytes of each text below, NUL included */

/* Copies to one side that left out flags or keywords its folder cannot
 * keep (plan_rules.keep: the server's PERMANENTFLAGS), so that the copy
 * could be made. The texts are cut (at a keyword) to fit. */
struct sync_not_kept {
	size_t messages;                   /* copies made without some of their flags */
	unsigned flags;                    /* MAIL_FLAG_* left out of any of them */
	char keywords[SYNC_NOT_KEPT_TEXT]; /* keywords left out of any, space separated, or "" */
	/* what the folder keeps: */
	unsigned kept_flags;
	bool kept_any_keyword; /* every keyword (so none of `keywords`) */
	char kept_keywords[SYNC_NOT_KEPT_TEXT];
	bool unreported; /* the store said not to count them (store_keep) */
};

struct sync_folder_report {
	const char *name;
	bool created_remote, created_local; /* dry run: would be created */
	size_t to_local, to_remote;         /* messages copied */
	size_t flags_local, flags_remote;   /* messages whose flags were changed */
	size_t deleted_local, deleted_remote;
	size_t paired;           /* matched by content, nothing copied */
	size_t reuploaded;       /* of to_remote: what a renumbered or replaced server had lost */
	size_t too_big;          /* over max_size, not copied */
	size_t message_failures; /* messages that failed (tried again next run) */
	bool failed;             /* the folder could not be synced */
	bool dry_run;
	struct error err; /* why, when failed */
	/* The last failed message's reason, when message_failures (its
	 * text may be empty: a failure told by its count only). */
	struct error message_err;
	/* What the folder's plan set out to do, counted like the fields
	 * above: what a dry run would do, and how far a failed folder got
	 * (the fields above count what was done). All 0 when the folder
	 * failed before it was planned. */
	struct sync_counts planned;
	/* The copies of the folder's plan: done of total (events.h). */
	struct sync_progress progress;
	/* By the side copied to. */
	struct sync_not_kept not_kept[SIDES];
};

/* A worker's own handles for parallel folders (sync_options.jobs). */
struct sync_worker {
	struct store *remote, *local;
	struct state *st;
};

struct sync_options {
	struct plan_rules rules;
	/* Plan and report, change nothing (stores and state alike, no folder
	 * made): each folder's report has the plan's counts (`planned`); a
	 * folder to be created is planned against an empty side. */
	bool dry_run;
	/* IMAP LIST-style patterns on remote-style names ('*' any, '%' any but
	 * '/'); INBOX matches case-insensitively. No include = everything. */
	const char *const *include;
	size_t include_count;
	const char *const *exclude;
	size_t exclude_count;
	/* Only these folders, when `only_count` > 0: folder arguments, each
	 * a store name ("Lists/dev"; INBOX in any case) or, where no folder
	 * has that exact name, its levels joined by '.' or '\' as servers
	 * show them ("Lists.dev", "INBOX.Lists.dev"). An argument that names
	 * no folder on either side stops the run before anything is done
	 * (sync_result.unknown_folder). */
	const char *const *only;
	size_t only_count;
	/* Called after each folder (also when it failed). */
	void (*report)(void *ctx, const struct sync_folder_report *r);
	/* Dry run: called with each folder's plan. */
	void (*show_plan)(void *ctx, const char *folder, const struct plan *plan);
	void *ctx;
	/* Told every event of the run (events.h), one call at a time; fn
	 * NULL: none. */
	struct sync_observer observer;
	/* Parallel folders: up to `jobs` folders at once. The run's own
	 * stores take one; every further one runs in a worker thread over
	 * handles of its own, opened by open_worker (another connection to
	 * the server, the Maildir and the state opened again) and closed by
	 * close_worker. jobs <= 1 or no open_worker: one folder at a time.
	 * A worker that cannot open its handles (a server's connection
	 * limit) leaves its share to the others. report and show_plan are
	 * called by one thread at a time, in no particular folder order. */
	unsigned jobs;
	int (*open_worker)(void *worker_ctx, struct sync_worker *w, struct error *err);
	void (*close_worker)(void *worker_ctx, struct sync_worker *w);
	void *worker_ctx;
	/* The server the remote store is (the account's host, port and
	 * user), checked against the one the state describes (state/server.h).
	 * When it changed, the old server's UIDs are forgotten: every folder
	 * is matched again by content, what the server lacks is uploaded
	 * again, nothing is deleted. NULL: not checked. */
	const struct state_server *server;
	/* Set by sync_run for a dry run after such a change, so that every
	 * folder is planned as the real run plans it; callers leave it false. */
	bool renumber;
	/* The read-ahead of the local side (sync_prefetch_start), or NULL. */
	struct sync_prefetch *prefetch;
	/* Folders of side B matched with side A's by special use, well-known
	 * names and renames (folder_map.h), or NULL: the same names on both
	 * sides. sync_run (and sync_verify) then see side B through the map
	 * (side A's names are the engine's and the state's), log what was
	 * mapped (a note event each) and leave side A's views out. */
	const struct folder_map_rules *mapping;
	/* Set by sync_run from `mapping` for its folders and workers;
	 * callers leave them NULL. */
	const struct store_name_map *map;
	const char *const *skip; /* side A's folders left out (exact names) */
	size_t skip_count;
	/* Trying again when a server says "not now" (backoff.h), or NULL:
	 * never. A folder whose sync fails so (an error with `retry` set)
	 * is synced again, from the start, once the back-off says so, after
	 * the stores whose connection ended connected again (store_ops
	 * reconnect): the state makes the second try carry on where the
	 * first stopped, nothing copied twice. So is the run's listing of
	 * the folders. A worker (jobs) that cannot go on so leaves its
	 * folder to the others and ends; the run's own thread fails a folder
	 * only when the back-off gives up. */
	struct sync_backoff *backoff;
	/* Before anything is done, where a side the run may copy to has a
	 * quota with a limit (store_ops.quota): plan every folder of the run
	 * (a dry run's pass: each folder's messages are read once more) and
	 * compare what it would copy to that side, per quota root, with the
	 * room left there. Where it does not fit, sync_run returns -1 before
	 * anything is done (ERR_ACCOUNT: how much would be copied, how much
	 * is free on which server, what to do); a dry run logs that as a
	 * warning and tells it as a note event ("over-quota"). Worth it where
	 * much is copied to a server (a migration). */
	bool quota_check;
	/* Set by sync_run for its folders and workers; callers leave them
	 * NULL / false: what the folders learn of the sides' quotas, and a
	 * pass whose plans are counted, not told (no notes logged). */
	struct quota_run *quota_run;
	bool quiet;
	/* Non-NULL and set (non-zero, by a signal handler or another
	 * thread): the run stops at its next durable step. A folder's
	 * copies end once the batch in flight is recorded, and no folder
	 * starts; each folder so cut short fails with ERR_ACCOUNT and cause
	 * ERR_CAUSE_STOPPED (so the run ends there), what it did kept. */
	const volatile sig_atomic_t *stop;
};

/*
 * The local read-ahead (prefetch.c): a thread that reads the local side
 * of the first folder the state knows whose Maildir changed since the
 * last sync (`local`'s folder, and its pairs from the state at
 * `db_path` over a connection of its own), while the run waits on the
 * server; the engine takes it instead of reading the folder itself.
 * Start it before connecting, with the options' include, exclude and
 * only set (the rest is not used); pass it in sync_options.prefetch and
 * stop it (sync_prefetch_stop: joins the thread, frees what was not
 * taken) after sync_run(), before `local` is closed. NULL when it cannot
 * start (nothing is lost: every folder is read as usual).
 */
struct sync_prefetch;
struct sync_prefetch *sync_prefetch_start(struct store *local, const char *db_path,
                                          const struct sync_options *o);
void sync_prefetch_stop(struct sync_prefetch *p);

struct sync_result {
	size_t folders_synced, folders_failed;
	/* When sync_run() returns -1: the error that stopped the run is a
	 * folder's, already given to `report` (as that folder's failure);
	 * the caller need not show it again. */
	bool stop_reported;
	/* When sync_run() returns -1: a folder argument (`only`) names no
	 * folder, or one the include/exclude patterns leave out; nothing
	 * was done. */
	bool unknown_folder;
};

/* Sync every selected folder of `remote` and `local`. Returns 0 when the
 * run went through (folders may have failed: see *res), -1 with `err`
 * when it had to stop (ERR_ACCOUNT / ERR_FATAL). */
int sync_run(struct store *remote, struct store *local, struct state *st, const struct sync_options *o,
             struct sync_result *res, struct error *err);

/* One folder for sync_folder(): its name (both stores' name for it),
 * its special use, whom to tell once its plan turns out to change a
 * store (a pool of workers may start more of them then; NULL: nobody),
 * and whether it is tried again in the same run. */
struct sync_folder_job {
	const char *name;
	enum plan_special_use use;
	void (*has_work)(void *ctx);
	void *ctx;
	bool again; /* an earlier try of this run stopped part-way (messages say so) */
};

/* Sync one folder that both stores hold (sync_run creates folders and
 * then calls this for each; a worker pool or a watch loop may call it
 * for the folders it takes from its queue, each thread over stores and
 * a state of its own). Snapshots both sides, recovers what a killed run
 * left, plans, carries the plan out and records it; only `o`'s rules,
 * dry_run, observer, show_plan, ctx, server checks (renumber) and
 * prefetch are used. Returns 0 (messages may have failed: see `rep`,
 * whose name the caller sets), or -1 with `err`, whose scope says
 * whether the run can go on (ERR_MAILBOX: the next folder). */
int sync_folder(struct store *a, struct store *b, struct state *st, const struct sync_options *o,
                const struct sync_folder_job *job, struct sync_folder_report *rep, struct error *err);

/* What sync_verify() found in one folder. */
struct sync_verify_report {
	const char *name;
	bool absent;           /* side B has no such folder */
	size_t count[SIDES];   /* messages on each side */
	uint64_t bytes[SIDES]; /* their sizes */
	size_t matched;        /* side A's messages whose content side B holds */
	size_t missing;        /* side A's messages side B does not hold */
	uint64_t missing_bytes;
	bool failed; /* the folder could not be read: err says why */
	struct error err;
};

/* Compare each folder of side `a` that `o` selects (include, exclude,
 * only) with the folder of that name on side `b`, by content (the
 * content key: Message-ID, size and a hash of the header block;
 * duplicates counted as such), copying and recording nothing, calling
 * `report` with each folder's figures. A folder that cannot be read is
 * reported as failed and the next one is compared. Returns 0, or -1
 * with `err` when the folders cannot be listed. */
int sync_verify(struct store *a, struct store *b, const struct sync_options *o,
                void (*report)(void *ctx, const struct sync_verify_report *r), void *ctx, struct error *err);

/* Whether `name` matches the IMAP LIST-style `pattern`. */
bool sync_pattern_match(const char *pattern, const char *name);

#endif
