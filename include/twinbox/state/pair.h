/*
 * Message pairs: one row per message that the state knows in a folder,
 * linking its id on side A and its id on side B, each as that side's
 * store names it (store_id: a UID, or a name such as a Maildir file's
 * unique base name or a POP3 UIDL), with the flags both sides agreed on
 * at the last sync, its size and its content key.
 *
 * A pair may have one side only: an unknown id there. Such rows keep,
 * for instance, a message that was expunged on one side while deletions
 * are not carried over from being copied back as "new". A pair always
 * has at least one side. In a folder, each side's ids are unique.
 *
 * Content key: what identifies the same message on two stores when no
 * id does (a UIDVALIDITY change, a lost state, recovery of an intent):
 * see state_content_key(). The state treats it as opaque text.
 *
 * Bulk work: state_pairs_load() reads all pairs of a folder into one
 * compact array sorted by side A's id with an index by side B's id;
 * 100,000 pairs load in a fraction of a second. Writes are fast inside
 * a transaction (state_begin()): statements are prepared once per
 * connection.
 *
 * Errors as in state.h. Bounds (refused with ERR_MESSAGE): names at
 * most STATE_LOCAL_ID_MAX bytes without '/' or control characters,
 * content keys at most STATE_CONTENT_KEY_MAX bytes, keyword text at most
 * STATE_KEYWORD_TEXT_MAX bytes. A pair that breaks the schema's rules
 * (no side at all, an id already used on its side in the folder, an id
 * that is both a UID and a name, unknown flag bits, a missing folder)
 * is a bug: ERR_FATAL.
 */
#ifndef TWINBOX_STATE_PAIR_H
#define TWINBOX_STATE_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/state/side.h"
#include "twinbox/state/state.h"
#include "twinbox/store/store.h"

#define STATE_LOCAL_ID_MAX     255
#define STATE_CONTENT_KEY_MAX  1024
#define STATE_KEYWORD_TEXT_MAX 8192

/* The strings are never owned by the struct: in a `struct state_pairs`
 * the set owns them; as an argument the caller does. */
struct state_pair {
	int64_t id;                  /* row id, > 0; 0 = not stored yet */
	int64_t folder_id;           /* the folder (state_folder.id) */
	struct store_id side[SIDES]; /* the message on each side; unknown = not there */
	unsigned flags;              /* MAIL_FLAG_* bits, see util/mailflags.h */
	const char *keywords;        /* canonical keyword text, NULL = none */
	uint64_t size;               /* bytes, as the engine counts them; at most INT64_MAX */
	const char *content_key;     /* NULL = unknown */
	/* The id of the side that has none is unknown because that store
	 * renumbered the folder or was replaced (state_folder_reset_ids),
	 * not because the message was deleted there: the message is to be
	 * found there by content again, or copied there again. Stored only
	 * while a side's id is unknown. */
	bool renumbered;
};

struct state_arena;

/* A loaded set of pairs. `pairs` is sorted by side A's id
 * (store_id_cmp), so the pairs without one come first. Everything is
 * owned by the set: state_pairs_free() it. A zeroed set is valid and
 * empty. */
struct state_pairs {
	struct state_pair *pairs;
	size_t count;
	/* private to state/: */
	size_t *by_b; /* indexes of pairs with a side B id, by that id */
	size_t b_count;
	struct state_arena *arena;
};

/* Insert `p` (p->id is ignored) and set p->id to the new row id. */
int state_pair_insert(struct state *st, struct state_pair *p, struct error *err);

/* Write every field of `p` (folder_id excepted) to row p->id. */
int state_pair_update(struct state *st, const struct state_pair *p, struct error *err);

/* Only the flags and keywords of pair `id`. */
int state_pair_set_flags(struct state *st, int64_t id, unsigned flags, const char *keywords,
                         struct error *err);

/* Forget pair `id`'s id on `side`, keeping the other: the pair of a
 * deletion a killed run carried to the other side, whose message may
 * have been put back since. A pair without an id on the other side
 * (renumbered since) or no longer stored is left as it is. */
int state_pair_drop_side(struct state *st, int64_t id, enum side side, struct error *err);

/* Delete pair `id` (a message gone from both sides, or forgotten). A
 * missing row is a bug (ERR_FATAL). */
int state_pair_delete(struct state *st, int64_t id, struct error *err);

/* Load every pair of `folder_id` into *set_r (which need not be zeroed;
 * it is replaced). */
int state_pairs_load(struct state *st, int64_t folder_id, struct state_pairs *set_r, struct error *err);

/* UIDs first..last (first <= last). */
struct state_uid_range {
	uint32_t first, last;
};

/* Only the pairs of `folder_id` whose side A id is a UID in one of the
 * `count` ranges (sorted, disjoint) and, with `no_uid`, those without a
 * UID on side A, into *set_r like state_pairs_load(): for a resync of
 * what changed on side A, in memory and time for those pairs alone (an
 * index finds each range). */
int state_pairs_load_uids(struct state *st, int64_t folder_id, const struct state_uid_range *ranges,
                          size_t count, bool no_uid, struct state_pairs *set_r, struct error *err);

/* How many pairs of `folder_id` have an id on each side (with_r[s]),
 * without loading them. */
int state_pairs_count(struct state *st, int64_t folder_id, size_t with_r[SIDES], struct error *err);

/* The pairs with content key `key` in `folder_id` (0: in every folder;
 * ids may then repeat and state_pairs_find() returns any of them),
 * into *set_r like state_pairs_load(). An empty set when there is none.
 * Uses an index: cheap enough to call once per unmatched message. */
int state_pairs_find_key(struct state *st, int64_t folder_id, const char *key, struct state_pairs *set_r,
                         struct error *err);

/* The pair whose id on `side` is `id` in a loaded set (binary search);
 * NULL if absent or for an unknown id. Valid while the set is. */
const struct state_pair *state_pairs_find(const struct state_pairs *set, enum side side, struct store_id id);

/* In memory, what state_folder_reset_ids() does to the folder's rows:
 * pairs with no id on the other side are dropped, the others lose their
 * id on `side` and are marked renumbered (a dry run plans with this,
 * writing nothing). state_pairs_renumber: side A. */
void state_pairs_renumber_side(struct state_pairs *set, enum side side);
void state_pairs_renumber(struct state_pairs *set);

/* Keep the pairs whose `keep[i]` is set (in their order), drop the
 * others; their strings stay with the set. */
void state_pairs_keep(struct state_pairs *set, const bool *keep);

void state_pairs_free(struct state_pairs *set);

/* The content key of a message: "<size> <header-hash> <message-id>",
 * where `size` and `header_hash` (text, e.g. the hex SHA-256 of the
 * header block, computed the same way on both stores) identify the
 * bytes and `message_id` (NULL or "" if the message has none) the
 * message. A message id too long for STATE_CONTENT_KEY_MAX is cut;
 * control characters in it become '?'. Fresh string (caller frees). */
char *state_content_key(const char *message_id, uint64_t size, const char *header_hash);

#endif
