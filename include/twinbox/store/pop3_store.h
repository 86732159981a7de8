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
 * (RFC 1939 7), with '%' written "%25" and '/' "%2F" (a UIDL may hold
 * '/', a message name above the store may not; pop3_store_uidl() turns
 * a name back into its UIDL). Messages whose UIDL cannot be used (pop3_uidl_invalid,
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
 * QUIT when DELE were sent, so it returns once they are done (-1 when
 * the server did not confirm them: then none was made); the next use of
 * the folder connects again and reads UIDL and LIST anew. Closing the
 * folder or the store without a flush leaves them on the server (the
 * connection is dropped without QUIT; with no DELE pending, closing the
 * store ends the session with QUIT).
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

/* The UIDL of the message the store calls `name` (fresh). */
char *pop3_store_uidl(const char *name);

/* The store over client `p` (logged in), which it takes over: closing
 * the store closes it. It cannot connect again, so after a flush that
 * sent QUIT the folder cannot be used (ERR_ACCOUNT). */
struct store *pop3_store_from_client(struct pop3_client *p);

/* The messages of the open folder left out of its snapshot because
 * their UIDL cannot be used. */
size_t pop3_store_unusable(const struct store_folder *f);

/* Every message of the maildrop as the open folder listed it, in message
 * number order (the order of arrival), usable or not. */
struct pop3_store_msg {
	uint32_t msgno;
	const char *uidl;    /* as sent (its first 128 bytes) */
	const char *name;    /* the store's id for it; NULL when unusable */
	uint64_t size;       /* LIST's octets; 0 for an unusable message */
	const char *invalid; /* why the UIDL cannot be used (static text), or NULL */
	bool duplicate;      /* another message has the same UIDL */
	bool unusable;       /* left out of the snapshot (either of the above, or no LIST entry) */
};

/* Into *msgs_r (the caller frees the array; its strings are the
 * folder's, valid until it is closed or flushed); returns the count
 * (none after a flush that sent QUIT, until the folder is read again). */
size_t pop3_store_messages(const struct store_folder *f, struct pop3_store_msg **msgs_r);

#endif
