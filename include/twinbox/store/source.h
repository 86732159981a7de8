/*
 * A message of any store as a source for another store's add: the
 * pull half of a copy between two stores (store.h, "Copying streams").
 *
 * A store with its own open_source (Maildir) is read directly. For a
 * store that only pushes (IMAP: FETCH streams a message to a sink), the
 * fetch runs in a thread of its own and hands the bytes over through a
 * bounded buffer (STORE_SOURCE_BUFFER bytes), so that a message copied
 * IMAP to IMAP goes from the source FETCH into the target APPEND without
 * ever being held whole, whatever its size.
 *
 * The folder's store connection belongs to that thread until
 * store_source_close(): open, read and close one message at a time per
 * folder. A bridged source cannot start again (rewind is NULL): a store
 * that groups messages in one command (MULTIAPPEND) sends it alone.
 */
#ifndef TWINBOX_STORE_SOURCE_H
#define TWINBOX_STORE_SOURCE_H

#include "twinbox/store/store.h"

#define STORE_SOURCE_BUFFER (256u * 1024)

/*
 * Open message `msg` of folder `f` (store `s`) into *src_r: its flags,
 * keywords and date from `msg`, its exact canonical size (for a fetched
 * message the size the fetch announced), and read() for its bytes. A
 * message gone meanwhile is ERR_MESSAGE; a failure of the store's
 * connection is its own error. Returns 0 or -1 (nothing to close then).
 */
int store_source_open(struct store *s, struct store_folder *f, const struct store_msg *msg,
                      struct store_new_msg *src_r, struct error *err);

/* Release a source of store_source_open (of store `s`); a bridged
 * message not read to its end is read to its end and dropped, so the
 * connection stays usable. */
void store_source_close(struct store *s, struct store_new_msg *src);

#endif
