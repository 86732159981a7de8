/*
 * Messages of any store as sources for another store's add: the pull
 * half of a copy between two stores (store.h, "Copying streams").
 *
 * A store with its own open_source (Maildir) is read directly. For a
 * store that only pushes (IMAP, POP3: a fetch streams messages to a
 * sink), one fetch of all the messages asked for runs in a thread of its
 * own, ahead of the reader:
 * - a message of at most STORE_SOURCE_HOLD bytes is held whole in
 *   memory once it came, so that it can start again (rewind) and the
 *   target can take many in one command (MULTIAPPEND); at most
 *   STORE_SOURCE_AHEAD bytes of them are held at once, the fetch waits
 *   for room;
 * - a bigger one goes through a ring of STORE_SOURCE_BUFFER bytes from
 *   the fetch into the reader, never held whole, whatever its size; it
 *   cannot start again (rewind is NULL), so a store that groups messages
 *   in one command sends it alone.
 * So a copy IMAP to IMAP keeps both connections busy: the source's FETCH
 * streams on while the target's APPEND of the messages before runs.
 *
 * The folder's store connection belongs to that thread until the
 * sources are closed.
 */
#ifndef TWINBOX_STORE_SOURCE_H
#define TWINBOX_STORE_SOURCE_H

#include <stdbool.h>

#include "twinbox/store/store.h"

#define STORE_SOURCE_BUFFER (256u * 1024)
#define STORE_SOURCE_HOLD   (1024u * 1024)
#define STORE_SOURCE_AHEAD  (8u * 1024 * 1024)

struct store_sources;

/*
 * Sources for messages `msgs[0..n)` of folder `f` (store `s`), in the
 * order they come: each has its flags, keywords and date from msgs[],
 * its exact canonical size (for a fetched message the bytes it came
 * with, or for one too big to hold the size the fetch announced), and
 * read() for its bytes. `msgs` must stay valid until
 * store_sources_close(). Never fails: a failure shows in next().
 */
struct store_sources *store_sources_open(struct store *s, struct store_folder *f,
                                         const struct store_msg *msgs, size_t n);

/*
 * The next message into *src_r, its index in msgs[] into *ix_r:
 * - 1: a source; give it back with store_sources_done() before the next
 *   one that cannot start again is asked for;
 * - 0: with `wait`, every message was given (or failed); without, no
 *   message is ready now that could start again (one too big to hold, or
 *   one still coming, waits for a `wait` call);
 * - -1, err->scope ERR_MESSAGE: message *ix_r cannot be read (gone
 *   meanwhile: the fetch never sent it); the others go on;
 * - -1, a wider scope: the store's connection failed; stop.
 */
int store_sources_next(struct store_sources *ss, bool wait, struct store_new_msg *src_r, size_t *ix_r,
                       struct error *err);

/* Give back a source of store_sources_next(): a message not read to its
 * end is dropped, so the fetch goes on. */
void store_sources_done(struct store_sources *ss, struct store_new_msg *src);

/* Stop: what was not given is dropped (the fetch reads it to its end, so
 * the connection stays in step) and everything is freed. NULL is fine. */
void store_sources_close(struct store_sources *ss);

/*
 * One message only: message `msg` of folder `f` (store `s`) into *src_r,
 * as store_sources_next() gives it. A message gone meanwhile is
 * ERR_MESSAGE; a failure of the store's connection is its own error.
 * Returns 0 or -1 (nothing to close then).
 */
int store_source_open(struct store *s, struct store_folder *f, const struct store_msg *msg,
                      struct store_new_msg *src_r, struct error *err);

/* Release a source of store_source_open (of store `s`). */
void store_source_close(struct store *s, struct store_new_msg *src);

#endif
