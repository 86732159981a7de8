/*
 * The `imap` store: one IMAP session (imap/session.h) behind the store
 * interface (store.h). One folder is open at a time (the selected
 * mailbox); for folders in parallel the engine opens several stores.
 *
 * Identity. Messages are keyed by UID (STORE_KEY_UID), valid with the
 * folder's UIDVALIDITY from open_folder. Caps: WRITE and KEYWORDS, and
 * MODSEQ when the server offers CONDSTORE (snapshots then carry each
 * message's MODSEQ and open_folder the HIGHESTMODSEQ).
 *
 * Folder names. Store names are UTF-8 with '/' as the separator; on the
 * wire they become modified UTF-7 (or UTF-8 with UTF8=ACCEPT), with the
 * server's hierarchy delimiter, inside the personal namespace:
 *  - the personal namespace prefix (NAMESPACE; Courier's "INBOX.") is
 *    left out of store names and put back for the server, so the
 *    server's "INBOX.Sent" is "Sent"; INBOX is "INBOX" whatever its case
 *    on the server;
 *  - with a non-empty prefix, mailboxes outside it (other users' and
 *    shared namespaces) are not listed;
 *  - '/' in a store name becomes the delimiter ("Work/Projects" is
 *    "Work.Projects" on a server whose delimiter is '.'); a server name
 *    with a '/' inside one level cannot be told apart from two levels,
 *    so such mailboxes are left out of list_folders (logged as a
 *    warning), and a store name that contains the server's delimiter
 *    itself is refused by create_folder and open_folder (ERR_MAILBOX);
 *  - on a server without hierarchy (delimiter NIL) names are used as
 *    they are, '/' included;
 *  - \Noselect and \NonExistent mailboxes are not folders: they are left
 *    out of list_folders, and open_folder reports them as missing.
 *
 * Missing. open_folder of a mailbox that does not exist fails with
 * ERR_MAILBOX and *missing_r set; whether it exists is decided by LIST
 * after the SELECT failed, not by the server's wording. A SELECT that
 * fails for another reason (permissions, a server error) leaves
 * *missing_r false.
 *
 * Messages. Bytes are passed on exactly as the server sends and takes
 * them (CRLF). fetch streams BODY.PEEK[] (nothing is marked \Seen),
 * pipelined; begin's msg is the caller's message with the size the
 * server announced for the body and, when the server sent them before
 * the body, its current flags. fetch_headers streams BODY.PEEK[HEADER];
 * begin's size is then RFC822.SIZE (the caller's size when the server
 * sent it only after the header). Messages gone meanwhile get no begin.
 * A sink failure stops the fetch (-1 with the sink's error) after the
 * server's responses were read, so the folder stays usable.
 *
 * add APPENDs with the flags, keywords and date (UTC) given, streaming
 * each message from its read() through a literal of exactly `size`
 * bytes: a source that gives fewer or more bytes than `size` breaks the
 * session (the announced literal cannot be taken back), so add returns
 * -1 (ERR_ACCOUNT). uid_r comes from APPENDUID (0 without UIDPLUS, or
 * when the server's UIDVALIDITY for it is not the folder's). A message
 * the server refuses fails with ERR_MESSAGE in errs[i]; the rest go on.
 * add returns -1 only when the folder or session is lost; errs[i].scope
 * is ERR_NONE exactly for the messages stored.
 *
 * set_flags sends one UID STORE +FLAGS.SILENT and one -FLAGS.SILENT
 * (removal first) per UID set (long sets are split into several
 * commands), pipelined, and waits for them. delete sets \Deleted and
 * expunges exactly those UIDs (UID EXPUNGE; without UIDPLUS see
 * imap_expunge_uids: refused when others' \Deleted messages would go
 * too). With CONDSTORE and a modseq in the caller's messages, \Deleted
 * is set only on messages unchanged since that modseq (UNCHANGEDSINCE);
 * the others are kept and delete returns -1 (ERR_MESSAGE, counting them)
 * after the rest were deleted: their change must be synced first.
 * Messages already gone are no error for either.
 *
 * Durability: every operation waits for the server's tagged replies;
 * what the server acknowledged is on the server. flush waits for any
 * command still running.
 *
 * Errors: a broken session is ERR_ACCOUNT; every later call fails with
 * it, until reconnect makes a new one (the same options, the password
 * the store was opened with). Failing commands on a folder are
 * ERR_MAILBOX. A server that says "not now" ([UNAVAILABLE], [LIMIT],
 * [INUSE], BYE) or a lost connection gives errors with `retry` set
 * (imap/session.h); a message the server refuses for such a reason fails
 * the whole add (ERR_MAILBOX), not the message alone.
 */
#ifndef TWINBOX_STORE_IMAP_STORE_H
#define TWINBOX_STORE_IMAP_STORE_H

#include "twinbox/imap/session.h"
#include "twinbox/store/store.h"
#include "twinbox/util/error.h"

/* Connect and log in (imap_connect). NULL with err (ERR_ACCOUNT) on
 * failure. Close with st->ops->close(st), which sends LOGOUT. */
struct store *imap_store_open(const struct imap_session_options *opts, struct error *err);

/* A store over a session that is logged in (tests, or a caller that
 * set the session up itself). The store owns `s` from now on: close
 * logs out and frees it. */
struct store *imap_store_from_session(struct imap_session *s);

/* The store's session (owned by the store), for diagnostics, and for
 * a caller that speaks to the server itself (`twinbox watch`'s IDLE and
 * NOTIFY) with the two names below. */
struct imap_session *imap_store_session(struct store *st);

/* The server's name (UTF-8, with its namespace prefix and delimiter;
 * what imap_select() takes) of the store's folder `name`, fresh; NULL
 * with err (ERR_MAILBOX for a name the server cannot have, ERR_ACCOUNT
 * when the session fails learning its namespace). */
char *imap_store_server_name(struct store *st, const char *name, struct error *err);

/* The store's name (fresh) of a mailbox as the server sent it: `len`
 * raw bytes (modified UTF-7, or UTF-8 once UTF8=ACCEPT is enabled);
 * NULL when it is none of the store's folders (another namespace, a
 * name that does not decode). Call imap_store_server_name() (or list
 * the folders) first: the namespace is learnt there. */
char *imap_store_folder_name(struct store *st, const char *raw, size_t len);

#endif
