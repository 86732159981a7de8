/*
 * Private parts of the `imap` store, shared by its files:
 *
 *   imap_store.c       the store, folder names, open/close, snapshot, flush
 *   imap_store_msgs.c  fetch, add, set_flags, delete
 */
#ifndef TWINBOX_STORE_IMAP_STORE_P_H
#define TWINBOX_STORE_IMAP_STORE_P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/imap/session.h"
#include "twinbox/store/store.h"

struct imap_store {
	struct store base; /* first: a struct store * is a struct imap_store * */
	struct imap_session *s;
	char *peer;                /* "host:port" for messages */
	struct store_folder *open; /* the selected folder, or NULL */
	/* A closed folder's mailbox is left selected (wire name, owned): the
	 * next SELECT deselects it without expunging (RFC 3501 6.3.1), which
	 * saves the UNSELECT round trip per folder. NULL when none. */
	char *lingering;
	/* With CONDSTORE, the last list_folders asked every folder's STATUS
	 * (LIST-STATUS, else pipelined STATUS): folder_status answers from
	 * here, sorted by name; special_use too, for any server. */
	struct istore_status *status;
	size_t status_count;
	bool no_markers;  /* list_markers(false): the next list asks no STATUS */
	bool names_known; /* prefix and delim below are set */
	char *prefix;     /* personal namespace prefix ("" or "INBOX.") */
	char delim;       /* hierarchy delimiter; 0 for a flat namespace */
};

struct istore_status {
	char *name;
	bool has_info; /* info holds a STATUS that tells a change */
	struct store_folder_info info;
	enum store_special_use use;
};

struct store_folder {
	struct imap_store *st;
	char *name; /* the store's name ("Work/Projects") */
	char *wire; /* the server's name in UTF-8 ("INBOX.Work.Projects") */
	uint32_t uidvalidity;
	struct store_keep keep; /* from the SELECT's PERMANENTFLAGS */
	char *keep_keywords;    /* keep.keywords */
};

/* The UIDs of `msgs`, sorted, without repeats (*uids_r, caller frees).
 * -1 (ERR_MAILBOX) for a message with UID 0: the caller has mixed up
 * its stores. */
int istore_collect_uids(const struct store_msg *msgs, size_t count, uint32_t **uids_r, size_t *count_r,
                        struct error *err);

/* Canonical keywords from a FETCH FLAGS keyword list (space separated,
 * any order; NULL for none) into *canon_r (fresh or NULL). Keywords
 * that break the state's rules are left out (logged), never fatal. */
void istore_keywords(const char *keywords, char **canon_r);

/* imap_store_msgs.c: the message operations of store_ops. */
int istore_fetch(struct store_folder *f, const struct store_msg *msgs, size_t count,
                 const struct store_sink *sink, struct error *err);
int istore_fetch_headers(struct store_folder *f, const struct store_msg *msgs, size_t count,
                         const struct store_sink *sink, struct error *err);
int istore_add(struct store_folder *f, struct store_new_msg *msgs, size_t count, struct error *errs,
               struct error *err);
int istore_set_flags(struct store_folder *f, const struct store_msg *msgs, size_t count, unsigned add,
                     const char *add_keywords, unsigned remove, const char *remove_keywords,
                     struct error *err);
int istore_delete(struct store_folder *f, const struct store_msg *msgs, size_t count, struct error *err);

#endif
