/* Private to the engine: one folder's run, shared by engine.c (set-up,
 * recovery, content keys) and exec.c (carrying the plan out). */
#ifndef TWINBOX_SYNC_ENGINE_P_H
#define TWINBOX_SYNC_ENGINE_P_H

#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/state/pair.h"
#include "twinbox/sync/engine.h"

/* A folder's local side as the read-ahead read it (prefetch.c): the
 * folder opened (with its times then), its listing read (`listed`: the
 * store's listing() tells it), the folder read whole (`scanned`: lsnap,
 * sorted by name) and its pairs (`have_pairs`), loaded when the folder's
 * UIDVALIDITY in the state was `uidvalidity`. */
struct prefetched {
	struct store_folder *lf;
	struct store_folder_info linfo;
	bool listed, scanned, have_pairs;
	struct store_snapshot lsnap;
	struct state_pairs pairs;
	int64_t folder_id;
	uint32_t uidvalidity;
};

/* Folder `name` as the read-ahead read it, into *pf_r (the caller owns
 * it: prefetched_free); false when it has not (then it never will). Waits
 * while it reads that folder. `p` may be NULL. */
bool prefetch_take(struct sync_prefetch *p, const char *name, struct prefetched *pf_r);
/* Close and free what *pf holds (of store `local`); *pf is zeroed. */
void prefetched_free(struct store *local, struct prefetched *pf);

/* A side of a folder by the markers the state recorded for it (`m`)
 * (markers.c): whether they hold its directory times (a sync that left
 * it as it found it recorded them, settled); whether they are those of
 * `info`, the folder as opened (then nobody changed it); whether its
 * UIDVALIDITY, UIDNEXT, count and HIGHESTMODSEQ are (any change moves
 * one: a flag the modseq, an expunge the count, an append UIDNEXT); and
 * whether listing `now` is the one recorded (a sync that changed the
 * folder recorded it instead of times). */
bool engine_times_recorded(const struct state_marks *m);
bool engine_times_same(const struct state_marks *m, const struct store_folder_info *info);
bool engine_counts_same(const struct state_marks *m, const struct store_folder_info *info);
bool engine_listing_same(const struct state_marks *m, const struct store_listing *now);

/* Whether `a` and `b` name the same folder: equal, or both INBOX in any
 * case (RFC 3501 5.1) (folder_args.c). */
bool engine_same_folder(const char *a, const char *b);
/* Whether folder `name` is one of the run's (include, exclude, only)
 * (folder_args.c). */
bool engine_folder_selected(const struct sync_options *o, const char *name);

/* The folder map of o->mapping between stores a and b, from the names
 * each listed (their special uses asked of the stores), its notes
 * logged and told (account.c). Free with folder_map_free. */
void engine_build_map(struct store *a, char **a_names, struct store *b, char **b_names,
                      const struct sync_options *o, struct folder_map *m_r);

struct folder_run {
	const struct sync_options *o;
	struct state *st;
	int64_t folder_id;
	struct store *store[SIDES];
	struct store_folder *folder[SIDES];
	struct store_snapshot snap[SIDES]; /* sorted by id; entries dropped once planned */
	char **keys[SIDES];                /* content keys, parallel to the snapshots; NULL: none */
	struct state_pairs pairs;
	char **pair_keys; /* keys made for pairs that had none (recover.c), parallel to snap[SIDE_B] */
	struct sync_folder_report *rep;
	bool again; /* an earlier try of this run stopped part-way (sync_folder_job) */
	/* Dry run: forget the pairs' ids on a side in memory once loaded,
	 * as the real run forgets them in the state (a renumbered folder). */
	bool renumber[SIDES];
	/* The snapshots and pairs are those of the changes alone
	 * (changes.c), the folder's totals below. */
	bool partial;
	size_t total[SIDES];
	size_t held[SIDES]; /* the messages each side's folder held when read, whole */
	int64_t files_read;    /* the Maildir folder's files, as read to compare listings; -1 */
	struct prefetched pre; /* what the read-ahead read, until taken (its lf is folder[SIDE_B]) */
	/* How copies are recorded where not as pairs (the POP3 import's
	 * UIDLs, pop3_import.c): called in the open transaction for each
	 * copy of a batch once the target made it durable, `to` its id
	 * there (unknown when it failed), it records it and resolves its
	 * intent; the batch is then committed durably. NULL: pairs. */
	int (*record_copy)(void *ctx, int64_t intent, struct store_id from, struct store_id to,
	                   struct error *err);
	void *record_ctx;
};

/* Side s's store and open folder in r. */
static inline struct store *run_store(const struct folder_run *r, enum side s)
{
	return r->store[s];
}

static inline struct store_folder *run_folder(const struct folder_run *r, enum side s)
{
	return r->folder[s];
}

/* The local folder read whole into r->snap[SIDE_B], or the pairs of r's
 * folder into r->pairs: what the read-ahead read, where it did (and, for
 * the pairs, folder_row found them still the state's), else read now
 * (run.c). */
int engine_local_snapshot(struct folder_run *r, struct error *err);
int engine_load_pairs(struct folder_run *r, struct error *err);

/* The entry of side `side`'s snapshot for message `id` (NULL for none
 * or an unknown id); only until the plan's inputs are made (they
 * replace the entries). */
const struct store_msg *run_msg(const struct folder_run *r, enum side side, struct store_id id,
                                size_t *index_r);

/* Content keys (keys.c) into r->keys[SIDE_A] / r->keys[SIDE_B] where the planner may
 * match messages no pair knows: one side's unpaired messages when the
 * other side has unpaired ones, or pairs that lost their partner on
 * that side. engine_free_keys releases them. */
int engine_content_keys(struct folder_run *r, struct error *err);
void engine_free_keys(struct folder_run *r);
/* The content keys of the messages at `want` (indexes into `snap`, a
 * snapshot of folder `f` of store `s`, or any array of its messages
 * sorted as one) into *keys_r, an array parallel to `snap` (NULL when n
 * is 0; a message gone meanwhile has none); the caller frees each key
 * and the array. */
int engine_keys_of(struct store *s, struct store_folder *f, const struct store_snapshot *snap,
                   const size_t *want, size_t n, char ***keys_r, struct error *err);

/* Every pair gets its content key (recover.c): the pairs loaded in r
 * that have none (a state from an older twinbox) and whose local file
 * is there get the key of that file, in r->pairs for the planner and,
 * unless this is a dry run, in the state. r->pair_keys holds them;
 * engine_free_pair_keys releases it. */
int engine_fill_pair_keys(struct folder_run *r, struct error *err);
void engine_free_pair_keys(struct folder_run *r);

/* Whether append-remote intent `in` has its local file gone from the
 * folder (and a content key to find the server's copy by). */
bool engine_append_orphaned(const struct folder_run *r, const struct state_intent *in);
/* Whether recovery leaves append-remote intent `in` to
 * engine_recover_appends: orphaned, or it recorded the flags it was
 * appended with (and has a content key). */
bool engine_append_pending(const struct folder_run *r, const struct state_intent *in);
/* The pending append-remote intents of a killed run: the server's copy,
 * found by content key among the messages no pair knows, is recorded as
 * the intent's pair. Where the local file is gone since (moved to
 * another folder, deleted), the pair's local side is gone, so the
 * planner carries the move or deletion over to the server as the rules
 * say, instead of copying the message back; else its last-synced flags
 * are those it was appended with, so that a flag changed since on
 * either side is carried over as a change. An intent whose copy is not
 * found is dropped (the content match of the plan may still pair it).
 * Needs r->pairs loaded; reloads them when pairs were added. */
int engine_recover_appends(struct folder_run *r, struct error *err);

/* The remote snapshot of r's folder from the state's pairs and what
 * changed on the server since modseq `since` (changes.c): *done_r set,
 * r->snap[SIDE_A] made and r->pairs loaded, when the server told and the two
 * agree; else nothing is made (read the whole folder). `since` must be
 * the HIGHESTMODSEQ at the start of the last run that reconciled the
 * whole folder with the same rules. Where the server (opened with
 * `rinfo`) shows the markers the state recorded, it is not asked at all.
 * Where the local folder (opened with `linfo`) is as the last sync left
 * it, r->partial is set too: r->pairs, r->snap[SIDE_A] and r->snap[SIDE_B] (made here,
 * no scan) are those of the changed messages alone, r->total[SIDE_A] and
 * r->total[SIDE_B] the folder's counts. -1 when the folder must stop. */
int engine_remote_changes(struct folder_run *r, uint64_t since, const struct store_folder_info *rinfo,
                          const struct store_folder_info *linfo, bool *done_r, struct error *err);

struct sync_pool;

/* Whether a folder's markers in the state may be used at all: taken
 * under these rules, with a UIDVALIDITY, and no intent of a killed run
 * pending (engine.c). */
bool engine_markers_apply(const struct state_folder *sf, const struct plan_rules *rules);

/* Parallel folders (parallel.c). A pool's workers start when there is
 * work to share (at once, or when a folder's plan has work: its
 * sync_folder_job.has_work), so that their connections are made while this thread
 * carries out a plan. */
/* The workers worth starting for folders expected to hold `weights`
 * messages (0 = unknown): one fewer than the most folders that can be in
 * flight at once within the memory budget. */
size_t pool_workers_for(const size_t *weights, size_t count);
/* A pool for up to `workers` worker threads (none when the options allow
 * no parallelism: NULL). They start now when `at_once`, else when a
 * folder's plan has work while folders wait. */
struct sync_pool *pool_start(const struct sync_options *o, size_t workers, bool at_once);
/* Sync `names` on this thread's stores and the pool's workers (`p` may
 * be NULL: one at a time here), reporting each folder. `weights` are the
 * messages each folder is expected to hold (0 = unknown), to keep the
 * folders in flight within a memory budget; `uses` their special uses
 * (the workers' stores never listed the folders). Returns -1 with `err` when a
 * folder's failure stops the run (account or fatal scope): no new folder
 * is started then. Ends the pool's workers. */
int pool_run(struct sync_pool *p, const struct sync_options *o, struct store *rs, struct store *ls,
             struct state *st, const char *const *names, const size_t *weights,
             const enum plan_special_use *uses, size_t count, struct sync_result *res, struct error *err);
/* End a pool that never ran (the run stopped before its folders). */
void pool_abandon(struct sync_pool *p);

/* Do `work` (0, or -1 with `err`) until it goes through or fails for
 * good (retry.c): after a failure worth another try, as o->backoff says
 * (NULL: none), wait, connect again whichever of stores `a` and `b` lost
 * its connection (store_ops reconnect), call `again` (NULL: none) and do
 * it again. `what` names the work in messages (a folder; NULL: the
 * account). Returns 0; -1 with `err` (the work's failure, or a failed
 * reconnect's at scope ERR_ACCOUNT); or, with `yield`, 1 when the work
 * is left undone without failing it (`err` says why): the back-off gave
 * up on it, or a store could not connect again. */
int engine_retry(const struct sync_options *o, struct store *a, struct store *b, const char *what, bool yield,
                 int (*work)(void *ctx, struct error *err), void (*again)(void *ctx), void *ctx,
                 struct error *err);

/* The folders named by o->only (folder arguments), resolved against the
 * names both sides list (NULL-terminated; folder_args.c says how an
 * argument names a folder). *names_r gets their store names (fresh, free
 * with store_names_free), *count_r of them. -1 with `err` (ERR_ACCOUNT)
 * naming the near matches when an argument names no folder. */
int engine_resolve_only(const struct sync_options *o, char **rnames, char **lnames, char ***names_r,
                        size_t *count_r, struct error *err);

/* Log the plan's notes of folder `name`: one line each, except that
 * several of one kind about single messages make one summary line (each
 * then with -v only), and that the valve's notes are left to the
 * folder's error unless `dry_run`. */
void engine_log_notes(const char *name, const struct plan *plan, bool dry_run);
/* What `plan` sets out to do, for the folder's report. */
void engine_planned_counts(const struct plan *plan, struct sync_counts *c);

/* Whether the run was asked to stop (sync_options.stop): then `err`
 * says so (ERR_ACCOUNT, ERR_CAUSE_STOPPED) (folder_report.c). */
bool engine_stopping(const struct sync_options *o, struct error *err);
/* Count and report a folder that failed; -1 (error copied to `err`) when
 * its scope stops the whole run; or report a folder (folder_report.c). */
int engine_folder_failed(const struct sync_options *o, struct sync_result *res,
                         struct sync_folder_report *rep, struct error *err);
void engine_report(const struct sync_options *o, const struct sync_folder_report *rep);

/* Carry the plan out (exec.c). Message failures are counted in the
 * report; -1 only when the folder (or more) must stop. */
int exec_plan(struct folder_run *r, const struct plan *plan, struct error *err);
/* Remove what a killed run left in side B's folder of an add under the
 * reserved name `name` (or, NULL, whatever is old enough to be
 * abandoned): a failure leaves only litter behind, so it is told (as of
 * folder r->rep->name) and the run goes on (run.c). */
void engine_clean_leftovers(struct folder_run *r, const char *name);
/* Commit r's open transaction (state_commit_durable with `durable`),
 * rolling back on failure, then pass crash point `what` (run.c). */
int engine_commit(struct folder_run *r, bool durable, const char *what, struct error *err);
/* The plan's copies to side `to` (copy.c): -1 when the folder (or more)
 * must stop; message failures are counted in the report. */
int engine_copies(struct folder_run *r, const struct plan *plan, enum side to, struct error *err);
/* The same for `n` copy actions `a` to side `to` made elsewhere (the
 * POP3 import's). Only r's o, st, folder_id, store, folder, rep and
 * record_copy are used. */
int engine_copy_actions(struct folder_run *r, const struct plan_action *a, size_t n, enum side to,
                        struct error *err);

/* Quotas (quota.c). The run's shared view of which side is over its
 * quota (sync_options.quota_run). */
struct quota_run *engine_quota_run_new(void);
void engine_quota_run_free(struct quota_run *q);
/* Whether a folder of this run found side s over its quota; `why` gets
 * the refusal then. */
bool engine_side_full(const struct sync_options *o, enum side s, char why[ERROR_TEXT_MAX]);
/* Side `to` refused a copy as over its quota (`why`: the refusal, which
 * may be err's text): from now on the run knows it, and `err` says that
 * `messages` copies of `bytes` were not made and what to do (ERR_MAILBOX,
 * cause ERR_CAUSE_OVER_QUOTA). */
void engine_over_quota(const struct sync_options *o, enum side to, const char *why, size_t messages,
                       uint64_t bytes, struct error *err);

/* A folder for the quota check: its name, special use, and the sides
 * that do not have it yet (the run creates it there). */
struct quota_folder {
	const char *name;
	enum plan_special_use use;
	bool absent[SIDES];
};

/* The check of sync_options.quota_check over `folders` of stores a and
 * b: 0 (it fits, no side has a limit, or a dry run, which was warned),
 * or -1 with `err` (ERR_ACCOUNT: it does not fit; or a failure that
 * stops the run). */
int engine_quota_check(struct store *a, struct store *b, struct state *st, const struct sync_options *o,
                       const struct quota_folder *folders, size_t count, struct error *err);

#endif
