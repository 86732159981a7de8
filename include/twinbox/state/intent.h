/*
 * Intents: write-ahead records of operations in flight, so that a run
 * killed at any instant leaves nothing lost and nothing copied twice
 * (DESIGN.md, "Never lose mail, never duplicate it").
 *
 * The executor's pattern, per batch:
 *   1. state_begin(); state_intent_add() for each action of the batch;
 *      state_commit_durable()  -- the intents are on disk first;
 *   2. carry the actions out on the stores;
 *   3. state_begin(); for each action that succeeded
 *      state_intent_resolve_pair() (removes the intent and records the
 *      pair in one step), for each that failed state_intent_resolve();
 *      state_commit().
 * Resolving an intent and recording its result are atomic: both happen
 * or neither, whether or not a transaction is open (a savepoint is used
 * inside the function).
 *
 * A run that starts with pending intents (state_intent_list()) reconciles
 * them before planning: e.g. a copy to a Maildir (deliver-local) names
 * the file that
 * was being written (found in new/ or cur/: record the pair; else: drop
 * the intent and remove what is left in tmp/); an append-remote intent is
 * looked for on the server by content key, also when its local file is
 * gone since (the server's copy then becomes a pair whose local side was
 * deleted, so the deletion or move reaches the server); a delete-remote
 * intent (a local deletion being carried to the server) whose UID the
 * server no longer has makes its pair forget its local side, so that a
 * file put back under that name meanwhile is uploaded, not deleted.
 *
 * Fields by kind (unused ones 0 / NULL); `side` is the side acted on,
 * msg[s] the message's id on side s:
 *   copy            to `side`: msg[other side] = the source, msg[side]
 *                   = the id chosen in advance where its store can
 *                   (store reserve_name: a Maildir writes it as
 *                   tmp/<name> first; an IMAP copy learns its UID only
 *                   from the APPEND), pair_id = its pair if any,
 *                   content_key (of the source, read before the copy),
 *                   remote = the flags the copy gets
 *                   (state_intent_flags_format()): the pair's
 *                   last-synced flags if the run is killed before it
 *                   records the pair. Named "append-remote" (to side A)
 *                   and "deliver-local" (to side B) for people.
 *   delete          on `side`: msg[side], pair_id ("delete-remote",
 *                   "delete-local")
 *   pop3-download   remote = UIDL, msg[SIDE_B] = the file name chosen in
 *                   advance (as for a copy), content_key if known
 *   pop3-delete     remote = UIDL
 *
 * Errors as in state.h. Strings bounded as for pairs (pair.h);
 * `remote` at most STATE_NAME_MAX bytes.
 */
#ifndef TWINBOX_STATE_INTENT_H
#define TWINBOX_STATE_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/state/pair.h"
#include "twinbox/state/state.h"

enum state_intent_kind {
	STATE_INTENT_COPY = 1,
	STATE_INTENT_DELETE,
	STATE_INTENT_POP3_DOWNLOAD,
	STATE_INTENT_POP3_DELETE,
};

/* Strings owned as in struct state_pair. */
struct state_intent {
	int64_t id;        /* > 0 once added */
	int64_t folder_id; /* 0 = not tied to a folder */
	enum state_intent_kind kind;
	enum side side;             /* the side acted on: copied to, deleted on */
	int64_t pair_id;            /* 0 = none; set to 0 when that pair is deleted */
	struct store_id msg[SIDES]; /* the message's id on each side, as far as known */
	const char *remote;
	const char *content_key;
	int64_t created; /* Unix time, set by state_intent_add() */
};

/* Whether `in` is of `kind` on `side`. */
static inline bool state_intent_is(const struct state_intent *in, enum state_intent_kind kind, enum side side)
{
	return in->kind == kind && in->side == side;
}

/* A loaded list, oldest first; owned by the set (state_intents_free()). */
struct state_intents {
	struct state_intent *intents;
	size_t count;
	struct state_arena *arena; /* private */
};

/* The name of an intent of `kind` on `side` for people: "append-remote"
 * (a copy to side A), "deliver-local", "delete-remote", "delete-local",
 * "pop3-download", "pop3-delete"; NULL for an unknown kind. */
const char *state_intent_kind_name(enum state_intent_kind kind, enum side side);

/* Record `in` (its id and created are ignored); *id_r gets the new id. */
int state_intent_add(struct state *st, const struct state_intent *in, int64_t *id_r, struct error *err);

/* Remove intent `id`: the action is done and needs no record, or failed
 * and left nothing behind. A missing intent is a bug (ERR_FATAL). */
int state_intent_resolve(struct state *st, int64_t id, struct error *err);

/* Remove intent `id` and record its result `pair` atomically: inserted
 * when pair->id is 0 (pair->id is then set), updated otherwise. */
int state_intent_resolve_pair(struct state *st, int64_t id, struct state_pair *pair, struct error *err);

/* Remove intent `id` and delete pair `pair_id` atomically (a deletion
 * carried out on the last side that had the message). */
int state_intent_resolve_delete(struct state *st, int64_t id, int64_t pair_id, struct error *err);

/* The pending intents of `folder_id` (0: of the whole account, with or
 * without folder) into *set_r (replaced). */
int state_intent_list(struct state *st, int64_t folder_id, struct state_intents *set_r, struct error *err);

void state_intents_free(struct state_intents *set);

/* The flags of a copy intent as `remote` holds them: the IMAP
 * list in parentheses, "()" for none (fresh; NULL when longer than
 * STATE_NAME_MAX, and the intent then goes without). */
char *state_intent_flags_format(unsigned bits, const char *keywords);
/* Back from that text: true with *bits_r and *keywords_r (canonical,
 * fresh or NULL) set; false, both untouched, when `remote` is NULL or
 * not such a list (an intent written by an older version). */
bool state_intent_flags_parse(const char *remote, unsigned *bits_r, char **keywords_r);

#endif
