/*
 * The POP3 import's memory: one row per message (by its UIDL) that was
 * downloaded from the account's server, with the time of the first
 * download (for `delete_after_days`), the local file it became and
 * whether it has been deleted from the server since.
 *
 * The import's pattern: state_pop3_load() once, compare with the
 * server's UIDL list, and for each new message: a pop3-download intent,
 * the delivery, then state_pop3_record() and state_intent_resolve() in
 * one transaction.
 *
 * A UIDL is 1..STATE_UIDL_MAX bytes of printable ASCII (RFC 1939 allows
 * 70; some servers send more); anything else is refused (ERR_MESSAGE).
 * Other errors as in state.h.
 */
#ifndef TWINBOX_STATE_POP3_H
#define TWINBOX_STATE_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/state/state.h"

#define STATE_UIDL_MAX 255

struct state_pop3_msg {
	const char *uidl;
	const char *local_id; /* NULL if unknown */
	int64_t downloaded;   /* Unix time of the first download */
	bool deleted;         /* deleted from the server by twinbox */
};

struct state_arena;

/* Every known UIDL, sorted by UIDL (byte order); owned by the set
 * (state_pop3_set_free()). A zeroed set is valid and empty. */
struct state_pop3_set {
	struct state_pop3_msg *msgs;
	size_t count;
	struct state_arena *arena; /* private */
};

/* Remember that `uidl` was downloaded at `downloaded` into `local_id`
 * (NULL allowed). A UIDL already known is a bug (ERR_FATAL). */
int state_pop3_record(struct state *st, const char *uidl, const char *local_id, int64_t downloaded,
                      struct error *err);

/* Mark `uidl` as deleted from the server (kept so that a server that
 * shows it again does not make it download twice). Unknown UIDL: bug. */
int state_pop3_set_deleted(struct state *st, const char *uidl, struct error *err);

/* Forget `uidl` (e.g. deleted and no longer listed by the server).
 * Returns 1 if it was known, 0 if not. */
int state_pop3_forget(struct state *st, const char *uidl, struct error *err);

/* Load every row into *set_r (replaced). */
int state_pop3_load(struct state *st, struct state_pop3_set *set_r, struct error *err);

/* Binary search; NULL if absent. Valid while the set is. */
const struct state_pop3_msg *state_pop3_set_find(const struct state_pop3_set *set, const char *uidl);

void state_pop3_set_free(struct state_pop3_set *set);

#endif
