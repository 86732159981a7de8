/*
 * The POP3 import: one way, from a POP3 maildrop into a Maildir folder.
 *
 * Every message is known by its UIDL. The state remembers each UIDL that
 * was downloaded (state/pop3.h), with the time of its first download, so
 * a run downloads only what is new, and deletes from the server only
 * what the rules say:
 *   leave_on_server (the default)   nothing, unless delete_after_days > 0:
 *                                   then what was downloaded at least
 *                                   that many days ago;
 *   delete_after_download           everything downloaded, in this run or
 *                                   an earlier one.
 * Order of durability (DESIGN.md), the engine's for any copy (copy.c): a
 * copy intent names the local file before RETR; the file is written,
 * fsynced and linked, the state records the UIDL (durable commit) and
 * only then is DELE sent. (A pop3-download intent left by an older
 * version is recovered the same way.) The
 * server deletes at a successful QUIT only: when QUIT fails, nothing is
 * marked deleted and the next run tries again. A run killed at any point
 * neither loses nor downloads a message twice: a delivery whose file
 * exists is recorded on the next run, one whose file does not is
 * repeated.
 * A server without UIDL is refused (no way to tell what is new without
 * downloading or deleting everything). Messages whose UIDL is unusable
 * (empty, too long, a path piece like "..", duplicated) are skipped with
 * a warning, never downloaded. Messages over max_size are skipped and
 * listed in the report, never deleted.
 */
#ifndef TWINBOX_SYNC_POP3_IMPORT_H
#define TWINBOX_SYNC_POP3_IMPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "twinbox/state/state.h"
#include "twinbox/store/store.h"
#include "twinbox/sync/events.h"
#include "twinbox/util/error.h"

struct pop3_import_options {
	const char *folder; /* the local folder that receives the mail */
	bool leave_on_server;
	unsigned delete_after_days; /* 0 = never */
	bool delete_after_download;
	uint64_t max_size; /* 0 = no limit */
	/* Record every message now on the server as downloaded, without
	 * downloading it (the user already has that mail). */
	bool mark_seen;
	bool dry_run; /* report what would happen; change nothing */
	time_t now;   /* the clock, for delete_after_days */
	/* Told each download as sync/events.h tells a copy: DONE (folder
	 * and target_folder `folder`, side B, id[SIDE_B] the file's name)
	 * or FAILED, and PROGRESS; no other event. fn NULL: nobody. */
	struct sync_observer observer;
	/* As sync_options.stop: the downloads end after the batch in
	 * flight (what it downloaded is recorded); NULL: never. */
	const volatile sig_atomic_t *stop;
};

struct pop3_skipped {
	uint32_t msgno;
	char *uidl;
	uint64_t size;
};

struct pop3_import_report {
	size_t on_server;             /* messages the server listed */
	size_t downloaded;            /* in this run */
	size_t marked;                /* recorded without download (mark_seen) */
	size_t deleted;               /* from the server, confirmed by QUIT */
	size_t failed;                /* messages that failed alone; retried next run */
	size_t unusable;              /* skipped for an unusable UIDL */
	struct pop3_skipped *too_big; /* over max_size: not downloaded */
	size_t too_big_count;
};

void pop3_import_report_free(struct pop3_import_report *rep);

/* Import from the pop3 store `server` (store/pop3_store.h) into
 * `folder` of the Maildir store `local`, recording in `st`; the copies
 * are the engine's (durable intents, the download streamed into the
 * Maildir, recorded once it is durable). Returns 0 (messages may have
 * failed: see the report), or -1 with `err` when the import had to stop
 * (ERR_ACCOUNT or worse). Closing `server` afterwards ends the POP3
 * session. */
int pop3_import(struct store *server, struct store *local, struct state *st,
                const struct pop3_import_options *o, struct pop3_import_report *rep, struct error *err);

#endif
