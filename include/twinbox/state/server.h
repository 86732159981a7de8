/*
 * The server an account's state describes: its host, port and user as
 * the config named them when the state was last synced. The pairs hold
 * that server's UIDs; another server (an edited `host:`, another port
 * or user) numbers its messages its own way, so its UIDs mean nothing
 * to them. One row per state (a state is one account's).
 *
 * Errors as in state.h.
 */
#ifndef TWINBOX_STATE_SERVER_H
#define TWINBOX_STATE_SERVER_H

#include <stdbool.h>

#include "twinbox/state/state.h"

/* As an argument the caller owns the strings; state_server_get() makes
 * them fresh (state_server_clear() frees them). */
struct state_server {
	const char *host;
	unsigned port;
	const char *user;
};

/* 1 and *s_r filled (fresh strings: state_server_clear() them), 0 when
 * the state records no server yet (a new state, or one written before
 * twinbox recorded it), -1 on error. */
int state_server_get(struct state *st, struct state_server *s_r, struct error *err);

/* Record `s` as the state's server (replacing any). */
int state_server_set(struct state *st, const struct state_server *s, struct error *err);

/* The server changed to `s`: in one step, forget every UID of every
 * folder as state_folder_reset_uids() does (pairs keep their local
 * side, marked renumbered; remote-only pairs go; pending intents lose
 * their UIDs; every folder's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ
 * become 0, "not known"), and record `s`. */
int state_server_replace(struct state *st, const struct state_server *s, struct error *err);

/* Whether two descriptions name the same server (host compared without
 * regard to case, as DNS does). */
bool state_server_same(const struct state_server *a, const struct state_server *b);

void state_server_clear(struct state_server *s);

#endif
