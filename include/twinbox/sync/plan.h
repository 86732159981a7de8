/*
 * The sync planner: what to do to make two sides of a folder twins again.
 *
 * A pure function with no I/O: (the state's pairs of one folder, a
 * snapshot of each side's folder, rules) -> a plan. The two sides, A and
 * B, are treated alike: every rule below is one rule applied to each
 * side, and a message is named by its store's own id (store_id), which
 * the planner only compares. The executor (sync/exec) carries the plan
 * out through the stores and records each step in the state. A second
 * planner, just as pure, decides which folders to create, sync or
 * delete.
 *
 * How each message is decided (the contract the tests check):
 *
 * Pair in the state, both sides present: flags are merged per flag (the
 * five system flags, and each keyword) against the last-synced value the
 * pair holds. A side that changed a flag wins over a side that did not;
 * if both changed it, they changed it the same way (a flag is either set
 * or clear), so there is nothing to merge. The direction rule limits
 * where changes go: `pull` never changes flags on side A, `push` never
 * on side B. The new last-synced value of a flag is its value where both
 * sides end up agreeing and stays the old one where they do not (a change
 * the direction kept back stays a change at the next run, too).
 *
 * A new message re-attached to its pair (its id changed: a copy another
 * device put back, a message moved out and back, a file renamed by a
 * mail reader; see below) is merged the same way against the pair's
 * last-synced flags, except under rules.first_sync.
 *
 * No last-synced value (messages paired by content key, every pair under
 * rules.first_sync): the union is taken for \Seen \Answered \Flagged
 * \Draft and keywords
 * (the set wins: no reading, flagging or answering is forgotten) and the
 * intersection for \Deleted (the clear wins: nothing is deleted by
 * accident). Each such merge where the sides differed is noted.
 * \Deleted is otherwise an ordinary flag: syncing it never expunges.
 * With rules.flags false there are no flag actions and the last-synced
 * flags stay as they were.
 *
 * Pair in the state, one side gone (call it g), the other side (s)
 * present: if expunge includes s, the direction may change s and the
 * message on s did not change since the last sync, it is deleted
 * (DELETE on s). If it did change and expunge includes s, "changed
 * wins": it is copied back (COPY to g, when the direction allows; the
 * pair gets the new id). Without s in expunge nothing is deleted, so
 * there is nothing to win against and the deletion on g is not undone
 * either. In every other case the pair loses side g (UPDATE_PAIR) and
 * the copy on s stays; from then on it is left alone: it is not a new
 * message and it is never copied to g again, which would undo the
 * deletion. "Changed" means flags or keywords differ from the
 * last-synced ones, except that a change that only sets \Deleted does
 * not count (it agrees with the deletion); with rules.flags false flag
 * changes do not count at all; with rules.first_sync every message
 * counts as changed (no base).
 *
 * Pair renumbered (state_pair.renumbered: its id on a side was forgotten
 * because the store renumbered the folder or was replaced, not because
 * the message was deleted there) with its message on the other side
 * present and no new message re-attached to it: that side no longer has
 * it, so it is copied there again (COPY with `reupload`, the pair gets
 * the new id) whatever expunge says, unless the direction forbids
 * changing that side or it is over max_size. Nothing is ever deleted
 * because of a renumbering.
 *
 * Pair whose only known side is gone, or both sides gone: FORGET.
 *
 * Messages that no pair knows: a message on each side with the same
 * non-NULL content key are recorded as one (PAIR_EXISTING, nothing
 * copied); several identical copies pair up one to one in id order and
 * the extra ones are copied, never merged into one. Before that, a new
 * message may re-attach to a pair whose partner on the same side
 * disappeared (a UIDVALIDITY change, a Maildir file renamed by a mail
 * reader) or that has only the other side: PAIR_EXISTING with the
 * pair's id, instead of a delete plus a copy (only while the pair's
 * other side is present; two pairs that each lost a side are never
 * merged). The rest is copied to the other side when the direction may
 * change it, unless it is larger than max_size (SKIP_TOO_BIG: reported,
 * never deleted).
 *
 * Mass-delete valve: if the deletions on one side exceed both
 * mass_delete_percent percent of that side's messages and
 * mass_delete_min messages, and allow_mass_delete is false, the plan's
 * status is PLAN_MASS_DELETE_BLOCKED and it holds none of that side's
 * deletions (their pairs stay as they were, so nothing is forgotten).
 *
 * Emptied-folder valve: the same happens, however few the messages,
 * when a side's deletions are two or more and would empty that side
 * (they are every message it holds) or follow the other side's emptying
 * (the other side holds no message at all): a folder emptied by
 * accident (a server restored from an empty backup, a Maildir folder
 * wiped) looks just like one emptied on purpose. That side's `emptied`
 * is then set too. A single deletion is never held back this way.
 * Folders whose special use is \Trash or \Junk are exempt (emptying
 * them is routine); allow_mass_delete lifts it, as it does the other.
 */
#ifndef TWINBOX_SYNC_PLAN_H
#define TWINBOX_SYNC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/state/pair.h"
#include "twinbox/state/side.h"
#include "twinbox/store/store.h"
#include "twinbox/util/error.h"
#include "twinbox/util/mailflags.h"

/* ---- inputs (filled by the engine; the planner only reads them) ---- */

/* One message of a side. Flags as in util/mailflags.h. */
struct plan_msg {
	struct store_id id;      /* known, unique in the side's snapshot */
	unsigned flags;          /* MAIL_FLAG_* bits */
	const char *keywords;    /* canonical keyword text, NULL = none */
	uint64_t size;           /* bytes */
	const char *content_key; /* NULL = unknown (never matched by content) */
	int64_t time;            /* internal date or mtime, seconds since the epoch; 0 = unknown */
	int zone;                /* time's zone, minutes east of UTC, or STORE_ZONE_UNKNOWN (store.h) */
};

struct plan_input {
	const struct state_pair *pairs; /* this folder's pairs, any order */
	size_t pair_count;
	const struct plan_msg *msgs[SIDES]; /* each side's messages, any order */
	size_t count[SIDES];
};

/* Which way changes may go (the config's sync.direction). */
enum plan_direction {
	PLAN_DIRECTION_BOTH,
	PLAN_DIRECTION_PULL, /* side A -> side B only (remote -> local) */
	PLAN_DIRECTION_PUSH, /* side B -> side A only */
};

/* Where an action is carried out (the config's sync.expunge and
 * sync.create); a bit set, so `where & PLAN_WHERE_REMOTE` reads
 * naturally. Side s is bit 1 << s. */
enum plan_where {
	PLAN_WHERE_NONE = 0,
	PLAN_WHERE_REMOTE = 1 << SIDE_A,
	PLAN_WHERE_LOCAL = 1 << SIDE_B,
	PLAN_WHERE_BOTH = 3,
};

/* The folder's special use on the server (RFC 6154 LIST attributes), as
 * far as the planner cares. */
enum plan_special_use {
	PLAN_USE_NONE, /* none, another one, or not known */
	PLAN_USE_TRASH,
	PLAN_USE_JUNK,
};

#define PLAN_MASS_DELETE_PERCENT 25
#define PLAN_MASS_DELETE_MIN     20

/* How the notes speak of a side (defaults: side A is the server, side B
 * the local Maildir). */
struct plan_side_words {
	const char *noun;       /* before a message's id: "UID", "local message" */
	const char *where;      /* "on the server", "locally" */
	const char *the_side;   /* "the server", "the local side" */
	const char *messages;   /* "messages on the server", "local messages" */
	const char *empty;      /* "the folder is now empty on the server" */
	const char *empty_hint; /* more to say when this side is found empty, or "" */
	const char *config;     /* the config's word for it (sync.expunge): "remote", "local" */
};

struct plan_rules {
	enum plan_direction direction;
	bool flags;                   /* sync flag changes */
	enum plan_where expunge;      /* where deletions are carried out */
	enum plan_where create;       /* folders: where missing ones are created */
	bool remove_folders;          /* folders: may a folder gone on one side be deleted on the other */
	uint64_t max_size;            /* bytes; 0 = no limit */
	bool allow_mass_delete;       /* --allow-mass-delete */
	unsigned mass_delete_percent; /* block when deletions on a side are more than this % ... */
	size_t mass_delete_min;       /* ... and more than this many */
	bool first_sync;              /* no usable last-synced flags for this folder */
	enum plan_special_use use;    /* this folder's special use: \Trash and \Junk may be emptied */
	/* The messages each side of this folder holds in all, where the
	 * input is only part of it (a resync of what changed): the
	 * mass-delete valve counts against these. A count below the input's
	 * (0 included) means the input is the whole folder. */
	size_t total[SIDES];
	struct plan_side_words words[SIDES];
	/* What each side's folder keeps (its server's PERMANENTFLAGS); zeroed:
	 * everything. A flag a side cannot keep is never set there (copies
	 * leave it out, with COPY's `lost` saying so), its absence there is
	 * no change, and pairs record it as absent (plan_flags.c says why). */
	struct store_keep keep[SIDES];
};

/* Where `keep` has room for keywords it does not keep yet
 * (store_keep.new_keywords_room: a Maildir folder's free keyword
 * letters), choose them: of the keywords that `msgs` (the other side's
 * `count` messages) carry and `keep` does not keep, the first ones in
 * canonical order, as many as there is room for. `keep` then keeps
 * exactly those besides its own (room 0), so that a plan never sets a
 * keyword the side turns out to have no room for, and chooses the same
 * ones at every run until the side holds them. Returns the new keep's
 * keyword text (fresh; free it once `keep` is no longer used), or NULL
 * when `keep` is unchanged. */
char *plan_keep_room(struct store_keep *keep, const struct plan_msg *msgs, size_t count);

/* The default rules (the config's defaults): direction both, flags
 * synced, deletions carried out on both sides (the valves guard them),
 * folders created on both sides, no size limit,
 * remove_folders, allow_mass_delete and first_sync false, the default
 * mass-delete thresholds, no special use, the default words. The CLI
 * then applies the account's `sync:`; the engine sets first_sync and
 * use per folder. */
void plan_rules_init(struct plan_rules *rules);

/* Whether the rules' direction lets the sync change `side`. */
bool plan_may_change(const struct plan_rules *rules, enum side side);

/* ---- the plan of one folder ---- */

/* Kinds in the order the executor should carry them out: records first,
 * flags before the pair updates that depend on them, copies before
 * deletions; SKIP_TOO_BIG is a report only. A kind marked "on a side"
 * has its `side`; the others have side A. */
enum plan_kind {
	PLAN_PAIR_EXISTING, /* record id[A] + id[B] as one message; nothing is copied */
	PLAN_SET_FLAGS,     /* on a side: change flags of id[side] */
	PLAN_UPDATE_PAIR,   /* change pair `pair_id` as `update` says */
	PLAN_COPY,          /* on a side: copy id[other side] to `side` */
	PLAN_DELETE,        /* on a side: delete id[side] */
	PLAN_FORGET,        /* drop pair `pair_id`: both sides are gone */
	PLAN_SKIP_TOO_BIG,  /* on a side: id[other side] is over max_size, not copied to `side` */
	PLAN_KIND_COUNT
};

/* PLAN_UPDATE_PAIR: what changes (bits). */
enum plan_update {
	PLAN_UPDATE_FLAGS = 1u << 0, /* last-synced flags := flags/keywords */
};

/* The PLAN_UPDATE_PAIR bit for "the pair's side `side` is gone for good"
 * (its id there := none). */
static inline unsigned plan_update_drop(enum side side)
{
	return 1u << (1 + side);
}

/* A flag change: keyword texts are canonical (flags.h), NULL = none. */
struct plan_flag_change {
	unsigned add, remove;
	const char *add_keywords, *remove_keywords;
};

/*
 * One action. Every string is owned by the plan. `id` holds the
 * message's id on each side as far as it is known. Field use per kind:
 *
 * PAIR_EXISTING  id, size, content_key; flags/keywords: the last-synced
 *                flags to record now. pair_id 0: insert a new pair; else
 *                the pair to re-attach (write both ids). Flag actions for
 *                the same message follow, and an UPDATE_PAIR with the
 *                merged flags.
 * SET_FLAGS      id[side] is the target, `change` what to do; pair_id and
 *                the other id name the pair (pair_id 0: the one this
 *                plan's PAIR_EXISTING records for these ids).
 * UPDATE_PAIR    pair_id (0 as above), id: the pair as it is; `update`
 *                bits; flags/keywords with PLAN_UPDATE_FLAGS. Such an
 *                update must be skipped when a SET_FLAGS action of the
 *                same pair failed: the old last-synced flags then make the
 *                next run repeat the merge instead of undoing one side.
 * COPY           id[other side] is the source; size, content_key;
 *                flags/keywords: the flags the copy gets and the pair
 *                records; time: internal date / mtime to keep (0 =
 *                unknown) and zone, its time zone (as plan_msg).
 *                pair_id 0: insert a new pair; else a pair that lost
 *                `side`: give it the new id ("changed wins").
 * DELETE         id[side] to delete (the other id is none); pair_id: after
 *                the deletion succeeded, forget that pair (its other side
 *                is already gone). If it fails, keep the pair: the next
 *                run tries again.
 * FORGET         pair_id (id as the state had them).
 * SKIP_TOO_BIG   id[other side]: the message; size; pair_id when it is a
 *                copy back that was too big (the pair then also loses
 *                `side` by an UPDATE_PAIR).
 */
struct plan_action {
	enum plan_kind kind;
	enum side side;
	unsigned flags;
	int64_t pair_id;
	struct store_id id[SIDES];
	unsigned update; /* PLAN_UPDATE_* bits */
	uint64_t size;
	const char *content_key;
	const char *keywords;
	struct plan_flag_change change;
	int64_t time;
	int zone;
	bool reupload; /* COPY of a renumbered pair: the side lost it */
	/* COPY: the message's flags and keywords that `side` cannot keep
	 * (rules.keep), left out of `flags`/`keywords`; 0 / NULL: none. */
	unsigned lost_flags;
	const char *lost_keywords;
};

enum plan_status {
	PLAN_OK,
	PLAN_MASS_DELETE_BLOCKED, /* see plan.side[s].blocked */
};

/* Why a note was written; the engine logs them (text says it all). */
enum plan_note_kind {
	PLAN_NOTE_FLAGS_MERGED, /* flags differed and there was no last-synced base */
	PLAN_NOTE_CHANGED_WINS, /* a deletion not carried over: the other side changed; copied back */
	PLAN_NOTE_NOT_DELETED,  /* a deletion not carried over by the expunge/direction rules */
	PLAN_NOTE_REATTACHED,   /* a new message re-attached to a known pair by content key */
	PLAN_NOTE_NO_KEY,       /* first sync: messages without a content key could not be matched */
	PLAN_NOTE_MASS_DELETE,  /* deletions on a side were blocked */
};

struct plan_note {
	enum plan_note_kind kind;
	int64_t pair_id;           /* 0 = none */
	struct store_id id[SIDES]; /* the message, where the note is about one */
	const char *text;          /* a full sentence, owned by the plan */
};

/* The deletions on one side and the size of that side. */
struct plan_side_count {
	bool blocked;     /* over the threshold and not allowed: none of them is in the plan */
	bool emptied;     /* blocked because the deletions would empty this side or follow the
	                     other side's emptying (the emptied-folder valve) */
	size_t deletions; /* the deletions the rules asked for on this side */
	size_t total;     /* messages on this side */
};

struct plan_pool;

/* Where the actions of a kind on a side start: see plan_actions(). */
#define PLAN_SLOT(kind, side) ((size_t)(kind)*SIDES + (size_t)(side))
#define PLAN_SLOTS            ((size_t)PLAN_KIND_COUNT * SIDES)

struct plan {
	enum plan_status status;
	struct plan_side_count side[SIDES];
	/* Sorted by kind (enum order), then side; within those by id[A],
	 * then id[B], then pair id, except SET_FLAGS: by change first, so
	 * that equal changes are neighbours (plan_flag_groups()). */
	struct plan_action *actions;
	size_t action_count;
	/* The actions of kind k on side s are actions[slot_start[PLAN_SLOT(k, s)] ..
	 * slot_start[PLAN_SLOT(k, s) + 1]). */
	size_t slot_start[PLAN_SLOTS + 1];
	struct plan_note *notes; /* in message order */
	size_t note_count;
	struct plan_pool *pool; /* private: the plan's strings */
};

/* Plan one folder. Returns 0 and fills *plan_r (plan_free() it), or -1
 * with ERR_MAILBOX when the input contradicts itself (an id twice in a
 * snapshot or in the pairs, an unknown id in a snapshot, a pair with no
 * side): acting on such data could lose mail, so the folder must be
 * skipped. *plan_r is then empty. Runs in O(n log n) for n messages and
 * pairs. */
int plan_build(const struct plan_input *in, const struct plan_rules *rules, struct plan *plan_r,
               struct error *err);

void plan_free(struct plan *plan);

/* The actions of one kind on one side (side A for the kinds without
 * one): *count_r of them from the returned pointer. */
const struct plan_action *plan_actions(const struct plan *plan, enum plan_kind kind, enum side side,
                                       size_t *count_r);
/* The actions of one kind on both sides together. */
size_t plan_count(const struct plan *plan, enum plan_kind kind);

/* The name of an action of `kind` on `side`, in the config's words
 * (side A is "remote", side B "local"): "copy-to-local",
 * "set-flags-remote", "forget". */
const char *plan_kind_name(enum plan_kind kind, enum side side);

/* SET_FLAGS actions on one side with an identical change, so that one
 * UID STORE per group (two when it both adds and removes) serves them
 * all. */
struct plan_flag_group {
	const struct plan_flag_change *change; /* shared by the group */
	const struct plan_action *actions;     /* `count` consecutive actions, ids ascending */
	size_t count;
};

/* The groups of the SET_FLAGS actions on `side` into *groups_r (fresh
 * array, free() it; NULL when there are none); returns their number.
 * Valid while the plan is. */
size_t plan_flag_groups(const struct plan *plan, enum side side, struct plan_flag_group **groups_r);

/* ---- the folder-level plan ---- */

/* A folder the state knows from an earlier sync, with what the caller
 * found out about each side since then. */
struct plan_known_folder {
	const char *name;
	bool unchanged[SIDES]; /* that side's copy is as the last sync left it (or empty) */
};

/* Folder names are side A's names (the caller maps side B's); "INBOX"
 * is matched without regard to case, other names byte for byte. A name
 * listed twice counts once. */
struct plan_folders_input {
	const char *const *names[SIDES];
	size_t count[SIDES];
	const struct plan_known_folder *known; /* in the state */
	size_t known_count;
};

/* A kind marked "on a side" has its `side`; the others have side A. */
enum plan_folder_kind {
	PLAN_FOLDER_CREATE, /* on a side: create it there, then sync */
	PLAN_FOLDER_SYNC,   /* plan_build() and execute it */
	PLAN_FOLDER_DELETE, /* on a side: gone on the other, unchanged here, remove_folders set */
	PLAN_FOLDER_FORGET, /* gone on both sides: drop it from the state */
};

struct plan_folder_action {
	enum plan_folder_kind kind;
	enum side side;
	const char *name;
	bool first_sync; /* SYNC: the state does not know the folder yet */
};

struct plan_folders {
	/* Sorted by name; a folder that is created has its CREATE before its SYNC. */
	struct plan_folder_action *actions;
	size_t action_count;
	const char **notes; /* full sentences for the log, e.g. why a folder is not synced */
	size_t note_count;
	struct plan_pool *pool; /* private */
};

/*
 * Plan the folders of an account. A folder on both sides is synced. A
 * folder on one side only that the state does not know is new: it is
 * created on the other side when rules->create includes that side and
 * the direction may change it, then synced; otherwise it is left alone
 * (with a note). A known folder gone from one side is never read as
 * "every message was deleted": with rules->remove_folders, the direction
 * allowing it, and the other side's copy unchanged since the last sync,
 * that copy is deleted; otherwise the folder is not synced and a note
 * says what to do. A known folder gone from both sides is forgotten.
 * Fills *plan_r (plan_folders_free() it); cannot fail.
 */
void plan_folders_build(const struct plan_folders_input *in, const struct plan_rules *rules,
                        struct plan_folders *plan_r);

void plan_folders_free(struct plan_folders *plan);

/* "create-local", "sync", "delete-remote", "forget" (side words as for
 * plan_kind_name). */
const char *plan_folder_kind_name(enum plan_folder_kind kind, enum side side);

#endif
