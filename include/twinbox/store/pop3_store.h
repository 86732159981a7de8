/*
 * The `pop3` store: a POP3 maildrop (pop3/client.h) behind the store
 * interface (store.h), read-only but for deletion.
 *
 * Folders. A maildrop is one folder, listed as "INBOX"; open_folder of
 * any other name is missing (ERR_MAILBOX, *missing_r). create_folder,
 * delete_folder, add and set_flags are refused (ERR_MAILBOX): POP3 has
 * no such thing. Caps: STORE_CAP_DELETE only.
 *
 * Identity. Messages are keyed by name (STORE_KEY_NAME): the UIDL
 * (RFC 1939 7). Messages whose UIDL cannot be used (pop3_uidl_invalid,
 * or one shared with another message) are left out of the snapshot and
 * counted (pop3_store_unusable): they cannot be told apart from one run
 * to the next, so no decision can rest on them. A server without UIDL
 * cannot be opened (ERR_ACCOUNT, as pop3_uidl says).
 *
 * Messages. open_folder reads UIDL and LIST; the snapshot's sizes are
 * LIST's octets (CRLF, as the bytes come), flags 0, no date. fetch
 * streams RETR (pipelined where the server offers PIPELINING),
 * fetch_headers TOP n 0; a name no longer listed gets no begin, a
 * message refused by the server too, and one cut short after its begin
 * makes the fetch fail with its error. The bytes are passed on as RETR
 * gives them, dot-unstuffed, CRLF.
 *
 * Deletion. delete marks messages with DELE; a name not listed is not
 * an error. Deletions are made by the server only at QUIT: flush sends
 * QUIT and connects again (and reads UIDL and LIST anew) when DELE were
 * sent, so it returns once they are done; closing the folder or the
 * store without a flush drops the connection without QUIT, and the
 * messages stay on the server.
 */
#ifndef TWINBOX_STORE_POP3_STORE_H
#define TWINBOX_STORE_POP3_STORE_H

#include "twinbox/pop3/client.h"
#include "twinbox/store/store.h"
#include "twinbox/util/error.h"

/* Connect and log in (pop3_connect with `opts`; the struct is copied,
 * its strings must stay valid while the store is open: a flush connects
 * again). NULL on failure with `err` as pop3_connect gives it. */
struct store *pop3_store_open(const struct pop3_options *opts, struct error *err);

/* The messages of the open folder left out of its snapshot because
 * their UIDL cannot be used. */
size_t pop3_store_unusable(const struct store_folder *f);

#endif
