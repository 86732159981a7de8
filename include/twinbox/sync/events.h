/*
 * What the sync engine tells while it runs: one stream of events per
 * account, for whoever renders it (the CLI's summary, its progress line,
 * its JSON lines; a watch mode).
 *
 * The engine calls the observer (sync_options.observer) with each event.
 * Calls are serialized: the engine holds a lock of the run around each
 * call, so an observer is called by one thread at a time, also when
 * folders run in parallel worker threads, and need not be thread-safe
 * itself (but it must not call back into the engine, and should return
 * quickly: the workers wait for it). Every pointer in an event is valid
 * during the call only; copy what is kept.
 *
 * The order, per account: ACCOUNT_BEGIN; then per folder (folders in
 * parallel interleave) FOLDER_CREATED or FOLDER_REMOVED where the
 * folder-level plan does that, FOLDER_BEGIN, NOTEs, one PLANNED per
 * action of its plan, PROGRESS (totals of its copies, none done), then
 * DONE, FAILED and PROGRESS as the plan is carried out, and FOLDER_END
 * (also for a folder that failed or was skipped); FOLDER_SKIPPED comes
 * before the FOLDER_END of a folder found unchanged on both sides,
 * which is never opened. ACCOUNT_END last, with the run's totals.
 */
#ifndef TWINBOX_SYNC_EVENTS_H
#define TWINBOX_SYNC_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/state/side.h"
#include "twinbox/store/store.h"
#include "twinbox/sync/plan.h"

struct sync_folder_report;

enum sync_event_kind {
	SYNC_EVENT_ACCOUNT_BEGIN,
	SYNC_EVENT_ACCOUNT_END,    /* totals, folders_synced, folders_failed, error */
	SYNC_EVENT_FOLDER_BEGIN,   /* folder */
	SYNC_EVENT_FOLDER_END,     /* folder, report */
	SYNC_EVENT_FOLDER_CREATED, /* folder, side (dry run: would be) */
	SYNC_EVENT_FOLDER_REMOVED, /* folder, side (dry run: would be) */
	SYNC_EVENT_FOLDER_SKIPPED, /* folder, text: why (unchanged on both sides) */
	SYNC_EVENT_PLANNED,        /* folder, action, side, id, size, flags, keywords */
	SYNC_EVENT_DONE,           /* the same, once durable; id: the message's ids now */
	SYNC_EVENT_NOTE,           /* folder, note, text */
	SYNC_EVENT_FAILED,         /* folder, action, side, id (where known), text */
	SYNC_EVENT_PROGRESS,       /* folder, progress, account_progress, step_* */
	SYNC_EVENT_KIND_COUNT
};

/* Copies of messages, done of total (the totals grow as folders are
 * planned). Done counts a message once its bytes reached the target
 * store; it is recorded (DONE) once the batch is durable. */
struct sync_progress {
	size_t messages_done, messages_total;
	uint64_t bytes_done, bytes_total;
};

struct sync_event {
	enum sync_event_kind kind;
	bool dry_run;
	const char *folder; /* the store's name; NULL for ACCOUNT_* */
	/* FOLDER_END: what happened to the folder (engine.h). */
	const struct sync_folder_report *report;
	/* ACCOUNT_END: every folder's report summed (name NULL), and the
	 * folders synced and failed; error: why the run stopped, or NULL. */
	const struct sync_folder_report *totals;
	size_t folders_synced, folders_failed;
	/* PLANNED, DONE, FAILED: the action (plan.h) and the side it acts
	 * on (plan_kind_name(action, side) names it); FOLDER_CREATED and
	 * FOLDER_REMOVED: the side. */
	enum plan_kind action;
	enum side side;
	/* The message on each side as far as known (DONE of a copy: with
	 * the new copy's id; unknown: store_id_known() false). */
	struct store_id id[SIDES];
	/* DONE of a COPY: the folder copied to as that store names it,
	 * which the account's folder map (sync_options.mapping) may make
	 * another name than `folder` on side B; else NULL. */
	const char *target_folder;
	uint64_t size;        /* bytes, where known */
	unsigned flags;       /* MAIL_FLAG_* the message gets (copies, pairs, flag changes: the result) */
	const char *keywords; /* canonical keyword text, NULL = none */
	/* COPY actions: the message's flags the target cannot keep, left
	 * out of `flags`/`keywords` (plan_action.lost_*); else 0 / NULL. */
	unsigned lost_flags;
	const char *lost_keywords;
	/* SET_FLAGS actions: what changes; else NULL. */
	const struct plan_flag_change *change;
	/* NOTE: its kind ("uidvalidity-changed", "flags-merged",
	 * "changed-wins", "not-deleted", "reattached", "no-key",
	 * "mass-delete", "over-quota"), and for NOTE, FAILED, FOLDER_SKIPPED and
	 * ACCOUNT_END a full sentence (or NULL). */
	const char *note;
	const char *text;
	/* PROGRESS: the folder's copies and the account's; step_*: what
	 * this event adds to them (0 for the totals of a plan). */
	struct sync_progress progress, account_progress;
	size_t step_messages;
	uint64_t step_bytes;
};

struct sync_observer {
	void (*fn)(void *ctx, const struct sync_event *ev);
	void *ctx;
};

/* "account_begin", "folder_end", "planned", ...: the event's name as
 * docs/json.md spells it. */
const char *sync_event_name(enum sync_event_kind kind);

#endif
