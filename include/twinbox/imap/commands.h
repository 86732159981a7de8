/*
 * IMAP commands on top of the session (session.h). Each function sends
 * its command(s) and waits; errors as imap_wait() gives them (the
 * command and the server's text; NO on a folder command is ERR_MAILBOX,
 * a broken session ERR_ACCOUNT). Mailbox names are UTF-8 here; the wire
 * encoding (modified UTF-7 or UTF-8) is handled inside.
 *
 * The bulk helpers (imap_fetch_bodies, imap_append_many, and the STATUS
 * commands of imap_list without LIST-STATUS) pipeline: many commands in
 * flight, one round trip per window (the window is pipeline.h's).
 */
#ifndef TWINBOX_IMAP_COMMANDS_H
#define TWINBOX_IMAP_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "twinbox/imap/session.h"
#include "twinbox/imap/uidset.h"
#include "twinbox/util/mailflags.h"

/* ---- folders ------------------------------------------------------- */

enum imap_special_use {
	IMAP_SPECIAL_NONE = 0,
	IMAP_SPECIAL_ALL,
	IMAP_SPECIAL_ARCHIVE,
	IMAP_SPECIAL_DRAFTS,
	IMAP_SPECIAL_FLAGGED,
	IMAP_SPECIAL_JUNK,
	IMAP_SPECIAL_SENT,
	IMAP_SPECIAL_TRASH,
};

/* LIST attributes */
enum {
	IMAP_FOLDER_NOSELECT = 1 << 0, /* \Noselect or \NonExistent */
	IMAP_FOLDER_NOINFERIORS = 1 << 1,
	IMAP_FOLDER_HASCHILDREN = 1 << 2,
	IMAP_FOLDER_HASNOCHILDREN = 1 << 3,
	IMAP_FOLDER_SUBSCRIBED = 1 << 4,
	IMAP_FOLDER_MARKED = 1 << 5,
	IMAP_FOLDER_UNMARKED = 1 << 6,
};

/* STATUS results; `have` holds IMAP_STATUS_* bits (parser.h). */
struct imap_status_info {
	unsigned have;
	uint32_t messages, recent, uidnext, uidvalidity, unseen;
	uint64_t highestmodseq;
};

struct imap_folder {
	char *name;     /* UTF-8; NULL when the server's name cannot be decoded */
	char *why;      /* when `name` is NULL: why, a sentence naming the name */
	char *raw;      /* the name as sent (NUL-terminated; a name with NUL
	                   bytes is refused) */
	char delimiter; /* 0 for a flat namespace */
	unsigned attrs; /* IMAP_FOLDER_* */
	enum imap_special_use special_use;
	struct imap_status_info status; /* with IMAP_LIST_STATUS */
};

enum {
	/* Also get MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN (and HIGHESTMODSEQ
	 * with CONDSTORE) of each selectable folder: LIST-STATUS when
	 * offered, else pipelined STATUS commands. */
	IMAP_LIST_STATUS = 1 << 0,
	IMAP_LIST_SUBSCRIBED = 1 << 1, /* only subscribed folders (LSUB semantics) */
};

/* LIST "" `pattern` ("*", "%", "Work/%"), with RETURN (SPECIAL-USE) when
 * offered. The folders in the order sent (*folders_r, caller frees with
 * imap_folders_free), at most IMAP_LIST_MAX. */
#define IMAP_LIST_MAX 100000
int imap_list(struct imap_session *s, const char *pattern, unsigned flags, struct imap_folder **folders_r,
              size_t *count_r, struct error *err);
void imap_folders_free(struct imap_folder *folders, size_t count);
/* "\\Sent" etc. for display, "" for NONE. */
const char *imap_special_use_name(enum imap_special_use use);

int imap_create(struct imap_session *s, const char *name, struct error *err);
int imap_delete(struct imap_session *s, const char *name, struct error *err);
int imap_rename(struct imap_session *s, const char *from, const char *to, struct error *err);
int imap_subscribe(struct imap_session *s, const char *name, bool subscribe, struct error *err);

/* STATUS `name` for IMAP_STATUS_* `items` (HIGHESTMODSEQ only asked with
 * CONDSTORE). */
int imap_status(struct imap_session *s, const char *name, unsigned items, struct imap_status_info *info_r,
                struct error *err);

/* ---- selecting ----------------------------------------------------- */

/* QRESYNC parameters (only used when QRESYNC is enabled). */
struct imap_qresync {
	uint32_t uidvalidity;
	uint64_t modseq;
	const struct imap_uidset *known_uids; /* NULL: leave out */
};

/* SELECT (or EXAMINE with `readonly`) `name`. Waits for every running
 * command first: responses of the previous mailbox must not mix with
 * the new one. With CONDSTORE offered but not enabled, asks for
 * (CONDSTORE); with `qr` and QRESYNC enabled, (QRESYNC (...)) — the
 * VANISHED (EARLIER) and FETCH responses go to the session handlers.
 * The result is in imap_selected(). A failure leaves no mailbox selected
 * (AUTHENTICATED). */
int imap_select(struct imap_session *s, const char *name, bool readonly, const struct imap_qresync *qr,
                struct error *err);
/* Leave the selected mailbox without expunging anything: UNSELECT when
 * offered, else EXAMINE of the same mailbox then CLOSE (CLOSE of a
 * read-only mailbox expunges nothing). */
int imap_unselect(struct imap_session *s, struct error *err);

/* ---- messages ------------------------------------------------------ */

/* \Recent: a flag of this session, not of the message, so outside the
 * vocabulary of util/mailflags.h; its bit sits above MAIL_FLAGS_ALL. */
#define IMAP_FLAG_RECENT (1u << 5)
_Static_assert((IMAP_FLAG_RECENT & MAIL_FLAGS_ALL) == 0, "\\Recent must stay outside the vocabulary");

/* Split a FETCH FLAGS list into MAIL_FLAG_* bits (plus IMAP_FLAG_RECENT)
 * and keywords (space separated in *keywords_r, fresh, NULL when none).
 * Unknown system flags are dropped. */
unsigned imap_flags_parse(const struct imap_atoms *flags, char **keywords_r);

struct imap_msg_info {
	uint32_t uid;
	unsigned have;  /* IMAP_FETCH_* bits (parser.h) of what was sent */
	unsigned flags; /* MAIL_FLAG_* | IMAP_FLAG_RECENT */
	char *keywords; /* owned; NULL when none */
	uint64_t modseq;
	uint64_t size;
	time_t internaldate;
	int tz_minutes;
};

#define IMAP_FETCH_INFO_MAX 10000000 /* messages in one imap_fetch_info */

/* UID FETCH first:last (last 0 = "*") (UID FLAGS + `items`: IMAP_FETCH_SIZE,
 * IMAP_FETCH_INTERNALDATE, IMAP_FETCH_MODSEQ) [CHANGEDSINCE changedsince
 * when non-zero]. The messages in UID order, one per UID (*msgs_r; free
 * with imap_msg_info_free). */
int imap_fetch_info(struct imap_session *s, uint32_t first, uint32_t last, unsigned items,
                    uint64_t changedsince, struct imap_msg_info **msgs_r, size_t *count_r, struct error *err);
void imap_msg_info_free(struct imap_msg_info *msgs, size_t count);

/* What changed in the selected mailbox since `changedsince` (QRESYNC
 * enabled, RFC 7162 3.2.6): UID FETCH 1:* (UID FLAGS + `items`)
 * (CHANGEDSINCE changedsince VANISHED). *msgs_r as imap_fetch_info gives
 * them: the messages new or changed since; *vanished_r (cleared first)
 * the UIDs expunged since, as the server sent them (it may name UIDs the
 * client never knew). Without QRESYNC enabled or a modseq: ERR_FATAL. */
int imap_fetch_changes(struct imap_session *s, uint64_t changedsince, unsigned items,
                       struct imap_msg_info **msgs_r, size_t *count_r, struct imap_uidset *vanished_r,
                       struct error *err);

/* Streaming bodies. `begin` gets the UID (0 when the server put UID
 * after the body; `end` then has it in fetch->uid) and the size; chunks
 * follow; `end` gets the whole FETCH (flags...). Any callback may fail
 * with -1: no further callbacks, the rest of the stream is read and
 * dropped, and imap_fetch_bodies returns that error. */
struct imap_body_handler {
	void *ctx;
	int (*begin)(void *ctx, uint32_t uid, uint64_t size, struct error *err);
	int (*chunk)(void *ctx, const void *data, size_t len, struct error *err);
	int (*end)(void *ctx, const struct imap_fetch *fetch, struct error *err);
	/* Optional; called instead of `begin` when set, with the items the
	 * response carried before the body (fetch->have says which: the
	 * server chooses the order, so FLAGS or RFC822.SIZE may come only
	 * at `end`). */
	int (*begin_fetch)(void *ctx, const struct imap_fetch *fetch, uint32_t uid, uint64_t size,
	                   struct error *err);
	/* The body section: NULL or "" for the whole message (BODY.PEEK[]),
	 * "HEADER" for the header block with its empty line
	 * (BODY.PEEK[HEADER]), "TEXT". Letters, digits and '.' only. */
	const char *section;
	/* Items asked besides UID FLAGS: IMAP_FETCH_SIZE,
	 * IMAP_FETCH_INTERNALDATE, IMAP_FETCH_MODSEQ (with CONDSTORE). */
	unsigned items;
};

struct imap_pipeline {
	unsigned window;      /* commands in flight; 0 = 32 for FETCH, 16 for APPEND */
	unsigned per_command; /* UIDs (or messages, for MULTIAPPEND) per command; 0 = 1 */
};

/* UID FETCH uids (UID FLAGS [items] BODY.PEEK[section]), pipelined.
 * UIDs that no longer exist are silently absent (the caller sees no
 * begin for them). A section with other characters than letters,
 * digits and '.' is refused (ERR_MAILBOX) before anything is sent. */
int imap_fetch_bodies(struct imap_session *s, const uint32_t *uids, size_t count,
                      const struct imap_body_handler *h, const struct imap_pipeline *p, struct error *err);

enum imap_store_op {
	IMAP_STORE_ADD,     /* +FLAGS.SILENT */
	IMAP_STORE_REMOVE,  /* -FLAGS.SILENT */
	IMAP_STORE_REPLACE, /* FLAGS.SILENT */
};

/* Build (not send) UID STORE set op (flags) [(UNCHANGEDSINCE n)]; for
 * pipelining several stores. `flags` is a space separated list
 * ("\\Seen $Label1"), checked to be atoms. -1 (ERR_MESSAGE) for bad
 * flags. After the command, cmd->code.type == IMAP_CODE_MODIFIED lists
 * in cmd->code.src the UIDs not stored (changed since). */
int imap_cmd_uid_store(struct imap_cmd *cmd, const struct imap_uidset *uids, enum imap_store_op op,
                       const char *flags, uint64_t unchangedsince, struct error *err);
/* The same, sent and waited for; *modified_r (may be NULL) gets the
 * MODIFIED set (empty when all were stored). */
int imap_store(struct imap_session *s, const struct imap_uidset *uids, enum imap_store_op op,
               const char *flags, uint64_t unchangedsince, struct imap_uidset *modified_r, struct error *err);

/* Expunge exactly `uids` (which the caller marked \Deleted): UID EXPUNGE
 * with UIDPLUS. Without UIDPLUS, a plain EXPUNGE would also remove
 * messages that others marked \Deleted, so: UID SEARCH DELETED, and only
 * when every \Deleted message is in `uids` is EXPUNGE sent; otherwise the
 * call is refused (ERR_MAILBOX, naming the other messages' count) and
 * nothing is expunged. (Temporarily clearing the others' \Deleted was
 * rejected: a crash in between would lose their deletion mark.) */
int imap_expunge_uids(struct imap_session *s, const struct imap_uidset *uids, struct error *err);

struct imap_copy_result {
	bool have;                   /* the server sent COPYUID */
	uint32_t uidvalidity;        /* of the destination */
	struct imap_uidset src, dst; /* owned: src[i] became dst[i] */
};
void imap_copy_result_free(struct imap_copy_result *r);

/* UID COPY / UID MOVE `uids` to `dest`. MOVE without the MOVE extension:
 * UID COPY, UID STORE +FLAGS.SILENT (\Deleted), imap_expunge_uids. */
int imap_copy(struct imap_session *s, const struct imap_uidset *uids, const char *dest, bool move,
              struct imap_copy_result *r, struct error *err);

/* ---- APPEND -------------------------------------------------------- */

struct imap_append_msg {
	/* the message: memory, or a source (exactly one) */
	const void *data;
	size_t len;
	const struct imap_literal_source *source;
	const char *flags; /* "\\Seen $Label1" or NULL */
	bool has_date;
	time_t internaldate;
	int tz_minutes; /* the date's zone, minutes east of UTC */
	/* results */
	uint32_t uidvalidity, uid; /* from APPENDUID; 0 when not sent */
	bool failed;
	struct error err;
};

/* APPEND one message. */
int imap_append(struct imap_session *s, const char *mailbox, struct imap_append_msg *msg, struct error *err);
/* APPEND many, pipelined (window of commands in flight); with
 * MULTIAPPEND, up to p->per_command messages per command. Per-message
 * results in msgs[i]; returns 0 when all were stored, else -1 with the
 * first failure in err. A broken session stops the run, and so does a
 * refusal about the mailbox ([TRYCREATE], [NONEXISTENT], [NOPERM],
 * [OVERQUOTA]: ERR_MAILBOX; [OVERQUOTA] with the cause
 * ERR_CAUSE_OVER_QUOTA): messages not sent yet fail with that error,
 * those in flight as the server answers each. */
int imap_append_many(struct imap_session *s, const char *mailbox, struct imap_append_msg *msgs, size_t count,
                     const struct imap_pipeline *p, struct error *err);

/* ---- quota (RFC 9208, RFC 2087) ------------------------------------ */

enum {
	IMAP_QUOTA_STORAGE = 1 << 0, /* storage_* were sent */
	IMAP_QUOTA_MESSAGE = 1 << 1, /* message_* were sent */
};

/* A quota root and its figures as the server sent them: STORAGE in
 * units of 1024 octets, MESSAGE in messages, each at most
 * IMAP_QUOTA_MAX (parser.h). Usage may exceed the limit. */
struct imap_quota_root {
	char *name; /* owned; "" is a valid root name */
	unsigned have;
	uint64_t storage_used, storage_limit;
	uint64_t message_used, message_limit;
};

#define IMAP_QUOTA_ROOTS_MAX 16 /* roots of one mailbox kept; more are left out */

/* GETQUOTAROOT `mailbox`: the quota roots it is under, in the order the
 * server named them, each with the STORAGE and MESSAGE figures its QUOTA
 * response gave (`have` 0: none; other resources are left out).
 * *roots_r is fresh (imap_quota_roots_free), NULL when *count_r is 0.
 * Without the QUOTA capability nothing is sent: 0 with no roots. A NO
 * is ERR_MAILBOX. */
int imap_getquotaroot(struct imap_session *s, const char *mailbox, struct imap_quota_root **roots_r,
                      size_t *count_r, struct error *err);
void imap_quota_roots_free(struct imap_quota_root *roots, size_t count);

/* ---- the rest ------------------------------------------------------ */

int imap_noop(struct imap_session *s, struct error *err);
/* ENABLE `ext` (space separated); updates imap_session_enabled(). */
int imap_enable(struct imap_session *s, const char *ext, struct error *err);
/* NAMESPACE: sets imap_namespace_prefix/imap_delimiter. */
int imap_namespace(struct imap_session *s, struct error *err);
/* ID ("name" "twinbox" "version" ...). */
int imap_id(struct imap_session *s, struct error *err);

/* NOTIFY SET `events` (RFC 5465), as written after SET: "(personal
 * (MessageNew MessageExpunge))"; NULL: NOTIFY NONE. What the server
 * then sends goes to the session handlers (unsolicited). A refusal
 * (NO, BAD, [BADEVENT]) is ERR_MAILBOX: the session stays usable. */
int imap_notify(struct imap_session *s, const char *events, struct error *err);

/* IDLE: start (waits for the server's "+"), then wait for news up to
 * `timeout_ms` each call (1: something arrived and was handed to the
 * session handlers, 0: time ran out), then DONE (waits for the tagged
 * OK). Nothing else may be sent between start and done. */
int imap_idle_start(struct imap_session *s, struct error *err);
int imap_idle_wait(struct imap_session *s, int timeout_ms, struct error *err);
int imap_idle_done(struct imap_session *s, struct error *err);

#endif
