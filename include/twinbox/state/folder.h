/*
 * Folders in the state: one row per folder pair (a folder of side A and
 * the folder of side B it is synced with), holding the change markers
 * of each side as of the last sync, so that a sync with nothing to do
 * costs a comparison per folder (struct state_marks: what the side's
 * store reports, store_folder_info):
 *   a store keyed by UID: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ
 *           (CONDSTORE/QRESYNC) and the message count;
 *   a Maildir: the mtimes of new/ and cur/ with nanoseconds, and the
 *           folder's listing (store_listing) as the sync left it;
 * and the sync rules they were taken under (a change of rules is a
 * reason to look again). A marker of 0 means "not known"; nothing is
 * ever skipped because of it. HIGHESTMODSEQ is also where the next run
 * of a changed folder asks the server what changed (QRESYNC), so the
 * engine may keep it while UIDNEXT and the count are 0.
 *
 * Errors as in state.h. Names are bounded by STATE_NAME_MAX bytes; a
 * longer name is refused with ERR_MAILBOX.
 */
#ifndef TWINBOX_STATE_FOLDER_H
#define TWINBOX_STATE_FOLDER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "twinbox/state/side.h"
#include "twinbox/state/state.h"

#define STATE_NAME_MAX 4096 /* bytes in a folder name or path */

/* One side of a folder as the last sync left it. */
struct state_marks {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;   /* at most INT64_MAX (RFC 7162: 63 bits) */
	uint32_t messages;        /* the message count with the markers above */
	struct timespec marks[2]; /* the store's own (store_folder_info.marks: Maildir new/, cur/) */
	uint64_t digest;          /* the folder's listing (store_listing) */
	int64_t files;            /* ... and its file count; -1 = not known */
};

struct state_folder {
	int64_t id;                     /* > 0; stable for the life of the row */
	char *remote_name;              /* side A's name of the folder; unique */
	char *local_path;               /* side B's name of the folder; unique */
	struct state_marks side[SIDES]; /* each side's markers */
	int64_t last_sync;              /* Unix time of the last completed sync; 0 = never */
	char *rules;                    /* the engine's text for the rules; NULL = none */
	int64_t pending;                /* intents not yet resolved (read only) */
	/* How the folder's last sync ended, for people (`twinbox status`);
	 * nothing decides anything by it: */
	int64_t seen[SIDES];     /* messages each side held when it ended; -1 = not known */
	int64_t failed_messages; /* messages that failed in it (each is tried again) */
	char *error;             /* why it failed, else the last failed message's reason; NULL = none */
	int64_t error_time;      /* Unix time of `error`; 0 without one */
};

/* Add a folder with both names; all markers start at 0. *id_r gets its
 * id. A name already used by another folder is a bug (ERR_FATAL). */
int state_folder_add(struct state *st, const char *remote_name, const char *local_path, int64_t *id_r,
                     struct error *err);

/* Look a folder up. Return 1 and fill *f_r (its strings are fresh:
 * state_folder_clear() them), 0 when there is none (*f_r zeroed), -1 on
 * error. */
int state_folder_get(struct state *st, int64_t id, struct state_folder *f_r, struct error *err);
int state_folder_find_remote(struct state *st, const char *remote_name, struct state_folder *f_r,
                             struct error *err);
int state_folder_find_local(struct state *st, const char *local_path, struct state_folder *f_r,
                            struct error *err);

/* All folders, ordered by remote name. *folders_r is a fresh array of
 * *count_r entries (NULL when none): state_folder_list_free() it. */
int state_folder_list(struct state *st, struct state_folder **folders_r, size_t *count_r, struct error *err);

/* Write every field of `f` except the id to row f->id: a rename and new
 * markers alike. A missing row is a bug (ERR_FATAL). */
int state_folder_update(struct state *st, const struct state_folder *f, struct error *err);

/* Record that the last sync of folder `id` failed with `error`
 * (required) at `when`, after `failed_messages` messages had failed: the
 * folder's error and failed messages only, its markers, counts and
 * last_sync are kept (they are what the last sync that went through
 * left). A missing row is a bug (ERR_FATAL). */
int state_folder_set_error(struct state *st, int64_t id, const char *error, int64_t failed_messages,
                           int64_t when, struct error *err);

/* Forget the listing of folder `id`'s side `side` (files -1): before a
 * run changes that folder, so that a run killed half-way never leaves a
 * listing that the folder could come back to while the pairs describe
 * something else. */
int state_folder_drop_listing(struct state *st, int64_t id, enum side side, struct error *err);

/* Delete the folder with all its message pairs. A folder that still has
 * pending intents is refused (ERR_FATAL): resolve them first. */
int state_folder_delete(struct state *st, int64_t id, struct error *err);

/* After a UIDVALIDITY change of side `side`: forget every id the folder
 * has on that side. Pairs with an id on the other side keep it and lose
 * theirs on `side` (marked renumbered, see state_pair); pairs that only
 * had `side` are deleted; the folder's pending intents lose their ids on
 * `side`. Sets that side's uidvalidity to `uidvalidity` and its uidnext
 * and highestmodseq to 0. Run it in the same transaction as the updates
 * that give re-matched pairs (by content key) their new UIDs, so a crash
 * never leaves the folder half-mapped. */
int state_folder_reset_ids(struct state *st, int64_t id, enum side side, uint32_t uidvalidity,
                           struct error *err);
/* state_folder_reset_ids() of side A. */
int state_folder_reset_uids(struct state *st, int64_t id, uint32_t uidvalidity, struct error *err);

/* Free the strings of `f` and zero it. */
void state_folder_clear(struct state_folder *f);
void state_folder_list_free(struct state_folder *folders, size_t count);

#endif
