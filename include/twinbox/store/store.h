/*
 * The store interface: what the sync engine sees of each side. `maildir`
 * and `imap` implement all of it; `pop3` the read half. Because the
 * engine sees only this, Maildir<->IMAP and IMAP<->IMAP run the same code.
 *
 * Messages cross the interface in canonical form: CRLF line endings, so
 * sizes are RFC 822 sizes (what IMAP's RFC822.SIZE counts) whatever the
 * store keeps on disk. A Maildir store converts (LF on disk, as mutt,
 * mbsync and notmuch expect) on the way in and out.
 *
 * Identity: a message is named by `uid` in stores keyed by UID (IMAP,
 * with the folder's UIDVALIDITY) and by `name` in stores keyed by name
 * (Maildir: the unique base name; POP3: the UIDL). Exactly one is used,
 * per store_caps().
 *
 * Flags are MAIL_FLAG_* bits plus canonical keyword text (util/mailflags.h).
 *
 * Errors: -1 with `err`; the scope says what to abandon (util/error.h).
 * A store never prints.
 *
 * Batching and durability: operations that change a folder may be
 * buffered (pipelined commands, un-fsynced directories) until
 * store_folder_flush(), which returns only when every change made
 * through this folder handle is durable on that store. The engine calls
 * it before recording the changes in the state as done.
 */
#ifndef TWINBOX_STORE_STORE_H
#define TWINBOX_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "twinbox/util/error.h"

struct store;
struct store_folder;

/* A message's id on a store, opaque above this layer: a UID in stores
 * keyed by UID (the folder's UIDVALIDITY goes with the folder), a name
 * in stores keyed by name (Maildir: the unique base name; POP3: the
 * UIDL); the other member is 0 / NULL. Neither: no message (a side a
 * pair does not have). The strings are never owned by the struct. */
struct store_id {
	uint32_t uid;
	const char *name;
};

/* A message date's time zone, minutes east of UTC, as an IMAP
 * INTERNALDATE carries it (RFC 3501 date-time: "+0100" is 60): within
 * -STORE_ZONE_MAX..STORE_ZONE_MAX, or STORE_ZONE_UNKNOWN for stores whose
 * dates have none (a Maildir file's mtime, POP3). A zeroed struct says
 * UTC, which is also how an unknown zone is written to a server. */
#define STORE_ZONE_MAX     1439 /* 23:59 */
#define STORE_ZONE_UNKNOWN INT16_MIN

/* Whether `zone` is a zone (not STORE_ZONE_UNKNOWN, within bounds). */
static inline bool store_zone_known(int zone)
{
	return zone >= -STORE_ZONE_MAX && zone <= STORE_ZONE_MAX;
}

/* Whether `id` names a message. */
static inline bool store_id_known(struct store_id id)
{
	return id.uid || id.name;
}

/* The order of ids on one store: unknown first, then by UID, then by
 * name (strcmp). <0, 0 or >0 as for strcmp. Inline: planning sorts
 * hundreds of thousands of ids with it. */
static inline int store_id_cmp(struct store_id a, struct store_id b)
{
	if (a.uid != b.uid)
		return a.uid < b.uid ? -1 : 1;
	if (!a.name || !b.name)
		return a.name ? 1 : b.name ? -1 : 0;
	return strcmp(a.name, b.name);
}

enum store_key {
	STORE_KEY_UID,  /* messages named by uid (IMAP) */
	STORE_KEY_NAME, /* messages named by name (Maildir, POP3) */
};

/* One message in a snapshot. Its strings stay valid until the snapshot
 * is freed, or the folder is snapshot again or closed (a store may point
 * into its own index of the folder), whichever comes first. */
struct store_msg {
	uint32_t uid;         /* STORE_KEY_UID stores; else 0 */
	unsigned flags;       /* MAIL_FLAG_* */
	const char *name;     /* STORE_KEY_NAME stores; else NULL */
	const char *keywords; /* canonical text or NULL */
	uint64_t size;        /* canonical (CRLF) size; 0 = not known cheaply */
	time_t date;          /* internal date (IMAP) or file mtime (Maildir) */
	uint64_t modseq;      /* CONDSTORE stores; else 0 */
	int16_t date_zone;    /* the date's zone (STORE_ZONE_*): IMAP's INTERNALDATE has one */
};

/* Messages of a folder; `msgs` sorted by uid (UID stores) or name
 * (strcmp order). `msgs` is malloc'ed; `priv` is the store's storage for
 * the strings, released by `free_priv(priv)`, or by free(priv) when
 * free_priv is NULL. A zeroed snapshot is empty and valid. */
struct store_snapshot {
	struct store_msg *msgs;
	size_t count;
	void *priv;
	void (*free_priv)(void *priv);
};

/* Release msgs and priv; the snapshot is zeroed (empty) afterwards. */
void store_snapshot_free(struct store_snapshot *snap);

/* UIDs first..last (first <= last). */
struct store_uid_range {
	uint32_t first, last;
};

/* What changed in a folder since a modseq (store_ops.changes). */
struct store_changes {
	struct store_snapshot changed; /* messages new or changed since, as a snapshot has them */
	struct store_uid_range *gone;  /* UIDs expunged since: sorted, disjoint, malloc'ed; */
	size_t gone_count;             /* they may name UIDs the caller never knew */
	uint32_t exists;               /* messages the folder holds now */
};

/* Release everything; *c is zeroed afterwards. */
void store_changes_free(struct store_changes *c);

/* What a folder looked like when opened: the markers the state keeps to
 * skip unchanged folders and to detect a UIDVALIDITY change. */
struct store_folder_info {
	uint32_t uidvalidity;     /* UID stores */
	uint32_t uidnext;         /* UID stores */
	uint64_t highestmodseq;   /* 0 = no CONDSTORE */
	uint32_t exists;          /* messages, when known cheaply */
	struct timespec marks[2]; /* Maildir: new/ and cur/ mtimes */
	bool marks_settled;       /* the marks may be trusted next time */
};

/* A name-keyed folder's listing (Maildir: maildir_folder_read_listing):
 * a digest of the names of its message files, and their count. Equal
 * listings mean no message came, went or changed flags in between. */
struct store_listing {
	uint64_t digest;
	uint64_t files;
};

/* A folder's special use (RFC 6154 LIST attributes): emptying \Trash or
 * \Junk is routine; folders of two servers are matched by their use
 * (sync/folder_map.h); \All and \Flagged are views of other folders'
 * mail. */
enum store_special_use {
	STORE_USE_NONE, /* none, another one, or not known */
	STORE_USE_TRASH,
	STORE_USE_JUNK,
	STORE_USE_SENT,
	STORE_USE_DRAFTS,
	STORE_USE_ARCHIVE,
	STORE_USE_ALL,
	STORE_USE_FLAGGED,
	STORE_USE_COUNT
};

/* The flags and keywords an open folder keeps on its messages, where
 * the store can say (IMAP: the PERMANENTFLAGS of its SELECT). A flag
 * it does not keep may be refused, dropped, or kept only for a while,
 * so the engine neither sets one there nor reads its absence there as
 * a change (sync/plan.h). A zeroed struct keeps everything. */
struct store_keep {
	bool limited;         /* false: every flag and keyword (the rest unused) */
	unsigned flags;       /* MAIL_FLAG_* bits it keeps */
	bool new_keywords;    /* any keyword, also one the folder never had ("\*") */
	const char *keywords; /* canonical text of the keywords it keeps besides, or NULL;
	                         valid until the folder is closed */
	/* With new_keywords false: how many keywords besides `keywords` it
	 * can still take, whichever they are (a Maildir folder: its free
	 * keyword letters, maildir/keywords.h). store_keeps_keyword() does
	 * not count them: the engine chooses which keywords get that room
	 * (sync/plan.h, plan_keep_room) and then keeps exactly those. */
	size_t new_keywords_room;
	/* What it does not keep is not worth a report: a copy without it
	 * loses nothing the user sees there. */
	bool unreported;
};

/* Whether `keep` keeps system flag `bit` / keyword `kw` (`len` bytes). */
bool store_keeps_flag(const struct store_keep *keep, unsigned bit);
bool store_keeps_keyword(const struct store_keep *keep, const char *kw, size_t len);

/* A stream of message bytes (canonical form) handed to a writer. */
struct store_sink {
	void *ctx;
	/* A message starts: `msg` says which (uid/name, flags, size). */
	int (*begin)(void *ctx, const struct store_msg *msg, struct error *err);
	int (*chunk)(void *ctx, const void *data, size_t len, struct error *err);
	int (*end)(void *ctx, struct error *err);
};

/* A message to add: its metadata, and a way to read its bytes. */
struct store_new_msg {
	unsigned flags;
	const char *keywords;
	time_t date;
	int16_t date_zone; /* the zone `date` was given in (STORE_ZONE_*): an IMAP
	                      store writes the date in it, UTC when unknown */
	uint64_t size;     /* canonical size, exact */
	/* Reads the next up to `len` bytes; returns the count, 0 at the end,
	 * -1 on failure. */
	void *ctx;
	long long (*read)(void *ctx, void *data, size_t len, struct error *err);
	/* Start the bytes again from the first (so that add can send a
	 * message again after the server refused a group of them); 0, or -1
	 * on failure (ERR_MESSAGE: that message fails). NULL: it cannot. */
	int (*rewind)(void *ctx, struct error *err);
	/* Set by add: the new message's identity. For name-keyed stores the
	 * name is chosen before any byte is written (see store_reserve_name);
	 * for UID stores uid is 0 when the server did not say (no UIDPLUS). */
	uint32_t uid_r;
	char *name_r; /* owned by the caller after add; free() it */
};

/* A quota root of a store (store_ops.quota): what it allows, what it
 * holds. Bytes as the store counts them (IMAP: STORAGE, in units of
 * 1024 octets, times 1024, so rounded as the server rounds; a figure
 * too large for 64 bits is UINT64_MAX). A limit of 0 is taken as none. */
struct store_quota {
	char *root;                   /* the root's name on the store ("User quota"; "" is one); owned */
	char *where;                  /* the store, for messages ("imap.example.com:993"); owned */
	bool has_bytes, has_messages; /* which limits apply */
	uint64_t used_bytes, limit_bytes;
	uint64_t used_messages, limit_messages;
};

/* Free `count` roots from store_ops.quota and the array; NULL is fine. */
void store_quota_free(struct store_quota *roots, size_t count);

enum {
	STORE_CAP_WRITE = 1 << 0,      /* add, set_flags, delete, create */
	STORE_CAP_MODSEQ = 1 << 1,     /* snapshots carry modseq (CONDSTORE) */
	STORE_CAP_KEYWORDS = 1 << 2,   /* keeps arbitrary keywords */
	STORE_CAP_NAME_AHEAD = 1 << 3, /* store_reserve_name gives the final name */
	STORE_CAP_DELETE = 1 << 4,     /* delete (implied by WRITE): a read-only store that can
	                                  remove what it holds (POP3) */
};

struct store_ops {
	const char *kind; /* "maildir", "imap", "pop3" */
	enum store_key key;
	unsigned caps;
	/* Folder names (UTF-8, '/' as the hierarchy separator), sorted;
	 * *names_r is a NULL-terminated array the caller frees with
	 * store_names_free. */
	int (*list_folders)(struct store *st, char ***names_r, struct error *err);
	int (*create_folder)(struct store *st, const char *name, struct error *err);
	/* Remove folder `name` with the messages in it. The engine calls it
	 * only when the state shows that copy unchanged since the last sync
	 * (sync.remove_folders). INBOX is refused; a missing folder is not an
	 * error. */
	int (*delete_folder)(struct store *st, const char *name, struct error *err);
	/* The markers of folder `name` (store_folder_info) without opening
	 * it, where the store has them cheaply: 1 with *info_r filled, 0
	 * when it does not know (the engine then opens and reads the
	 * folder), -1 on failure. IMAP: the STATUS that came with the last
	 * list_folders, from CONDSTORE servers only; Maildir: the times of
	 * new/ and cur/. NULL: never known. */
	int (*folder_status)(struct store *st, const char *name, struct store_folder_info *info_r,
	                     struct error *err);
	/* Whether the next list_folders asks each folder's markers too (for
	 * folder_status): worth it where they can spare opening several
	 * folders; where the run syncs one folder anyway it only makes the
	 * server read that folder twice. On by default. NULL: no choice. */
	void (*list_markers)(struct store *st, bool want);
	/* The special use the last list_folders saw for folder `name`
	 * (IMAP: from the LIST attributes). NULL: the store has none. */
	enum store_special_use (*special_use)(struct store *st, const char *name);
	/* The quota roots with a limit that folder `name` is under (IMAP:
	 * GETQUOTAROOT when the server offers QUOTA; a folder that does not
	 * exist yet is asked about all the same, and where the server
	 * refuses that, INBOX's roots are given): *roots_r (fresh,
	 * store_quota_free) of *count_r, none when no limit is known. -1 on
	 * failure. NULL: the store knows of no quota. */
	int (*quota)(struct store *st, const char *name, struct store_quota **roots_r, size_t *count_r,
	             struct error *err);
	/* Open `name`; a missing folder is ERR_MAILBOX with *missing_r set,
	 * never an empty folder. */
	int (*open_folder)(struct store *st, const char *name, struct store_folder **f_r,
	                   struct store_folder_info *info_r, bool *missing_r, struct error *err);
	/* Every message of the folder (uid or name, flags, size, date). */
	int (*snapshot)(struct store_folder *f, struct store_snapshot *snap_r, struct error *err);
	/* Name-keyed stores: find messages of the open folder by name
	 * without reading all of it, for a run that knows the folder is as
	 * the last sync left it (its markers). msgs[i].name, with the flags
	 * and keywords last known as a hint where to look; on return the
	 * flags and keywords are the messages' current ones, and later
	 * operations on them need no snapshot. 1 when every message was
	 * found, 0 when one was not (take a snapshot), -1 on failure. NULL:
	 * never offered. */
	int (*find)(struct store_folder *f, struct store_msg *msgs, size_t count, struct error *err);
	/* How many messages the open folder holds, cheaply and in constant
	 * memory (Maildir: its directory entries, no file read). NULL: not
	 * offered (a snapshot tells). */
	int (*count)(struct store_folder *f, size_t *count_r, struct error *err);
	/* The open folder's listing (store_listing): read afresh (1, 0 when
	 * the folder changed while it was read, -1); taken as current from
	 * a caller that proved it so; or as the store's own changes since
	 * either left it (1, 0 when not known: read afresh, or another
	 * program's change seen). NULL: never offered. */
	int (*read_listing)(struct store_folder *f, struct store_listing *l_r, struct error *err);
	void (*assume_listing)(struct store_folder *f, const struct store_listing *l);
	int (*listing)(struct store_folder *f, struct store_listing *l_r);
	/* What changed in the open folder since `modseq`, a HIGHESTMODSEQ it
	 * reported earlier (store_folder_info): 1 with *changes_r filled, 0
	 * when the store cannot tell (IMAP: no QRESYNC, NOMODSEQ, or a
	 * HIGHESTMODSEQ now below `modseq`: the server lost that history),
	 * -1 on failure. NULL: never told; take a snapshot. */
	int (*changes)(struct store_folder *f, uint64_t modseq, struct store_changes *changes_r,
	               struct error *err);
	/* Stream the given messages to `sink`, in any order, each between
	 * begin and end. A message gone meanwhile is skipped (no begin). */
	int (*fetch)(struct store_folder *f, const struct store_msg *msgs, size_t count,
	             const struct store_sink *sink, struct error *err);
	/* The same for the header block only (up to and including the empty
	 * line), for content keys: IMAP BODY.PEEK[HEADER], Maildir reads up
	 * to the first empty line. begin's msg->size is the whole message's. */
	int (*fetch_headers)(struct store_folder *f, const struct store_msg *msgs, size_t count,
	                     const struct store_sink *sink, struct error *err);
	/* A fresh unique name for the next add (STORE_CAP_NAME_AHEAD), so the
	 * engine can write it into an intent first. Caller frees. */
	char *(*reserve_name)(struct store_folder *f, uint64_t size);
	/* Remove what adds that never finished left behind (a killed run).
	 * `reserved`: a name from reserve_name whose add may have been cut
	 * short, and that no add in progress uses: what is left of it
	 * outside the folder goes (Maildir: tmp/<name>), a message that
	 * made it into the folder stays. NULL: leftovers old enough that
	 * nobody can still be writing them, whoever left them (Maildir: tmp/
	 * files older than 36 hours, the Maildir convention). NULL op: the
	 * store leaves nothing behind. */
	int (*clean_leftovers)(struct store_folder *f, const char *reserved, struct error *err);
	/* Add messages. With STORE_CAP_NAME_AHEAD, msgs[i].name_r may hold a
	 * reserved name on entry, which is then used. Per-message failures
	 * are ERR_MESSAGE in errs[i] (the rest go on); the return is -1 only
	 * when the folder or session is lost. */
	int (*add)(struct store_folder *f, struct store_new_msg *msgs, size_t count, struct error *errs,
	           struct error *err);
	/*
	 * Copying streams: the engine chains one side's fetch (push) into the
	 * other side's writer (push), or one side's source (pull) into the
	 * other side's add (pull). A store implements at least fetch + add;
	 * writer and source where it can do them without spooling (Maildir:
	 * both; IMAP: neither, NULL).
	 *
	 * writer: add one message pushed in chunks. `meta` gives flags,
	 * keywords, date and, when reserved, name_r (its read/ctx are unused).
	 * write_end(commit=true) makes it visible and durable by the next
	 * flush at the latest (Maildir: in a thread of its own) and
	 * returns its name (caller frees) or uid; commit=false throws it away.
	 */
	int (*write_begin)(struct store_folder *f, const struct store_new_msg *meta, void **writer_r,
	                   struct error *err);
	int (*write_chunk)(void *writer, const void *data, size_t len, struct error *err);
	int (*write_end)(void *writer, bool commit, char **name_r, uint32_t *uid_r, struct error *err);
	/* source: a message of this store as a store_new_msg (flags, date,
	 * exact canonical size, read) for the other side's add; release it
	 * with close_source. A message gone meanwhile is ERR_MESSAGE. */
	int (*open_source)(struct store_folder *f, const struct store_msg *msg, struct store_new_msg *src_r,
	                   struct error *err);
	void (*close_source)(struct store_new_msg *src);
	/* What the open folder keeps (store_keep), as it said when opened.
	 * NULL: taken as everything. */
	void (*keeps)(struct store_folder *f, struct store_keep *keep_r);
	/* Add and remove flags on messages (uid or name as keyed). */
	int (*set_flags)(struct store_folder *f, const struct store_msg *msgs, size_t count, unsigned add,
	                 const char *add_keywords, unsigned remove, const char *remove_keywords,
	                 struct error *err);
	/* Delete messages for good (IMAP: \Deleted + UID EXPUNGE of exactly
	 * these). Already gone is not an error. */
	int (*delete)(struct store_folder *f, const struct store_msg *msgs, size_t count, struct error *err);
	int (*flush)(struct store_folder *f, struct error *err);
	void (*close_folder)(struct store_folder *f);
	/* After an error that ended the store's connection (a BYE, a lost
	 * connection: util/error.h's ERR_RETRY_*), connect and log in again
	 * with the options the store was opened with, so that its folders
	 * can be opened again; 0 at once when the connection is still up.
	 * No folder may be open. -1 with `err` (ERR_ACCOUNT, with `retry`
	 * as the connection's failure says) when it cannot: the store stays
	 * as it was, and close is still called. NULL: the store holds no
	 * connection (Maildir). */
	int (*reconnect)(struct store *st, struct error *err);
	void (*close)(struct store *st);
};

struct store {
	const struct store_ops *ops;
};

/* Free a NULL-terminated array of fresh strings (from list_folders), and
 * the strings. NULL is allowed. */
void store_names_free(char **names);

#endif
