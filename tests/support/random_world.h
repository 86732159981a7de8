/*
 * The world of the randomized end-to-end test (test_sync_random.c):
 * three devices, each with its own Maildir, config and state, syncing
 * one account of a private Dovecot, and a second IMAP client changing
 * that account directly. Everything random comes from one seed, so a
 * failing run replays (see rw_kill for the one exception).
 *
 * The world keeps an oracle per message (by Message-ID): where users put
 * it, whether anyone deleted or moved it, and who changed which flag.
 * rw_check() compares every device with the server and the server with
 * the oracle.
 *
 * Built on the sync harness (sync_harness.h): rw_use_device() points
 * sh.cfg, sh.mail and sh.db at a device, so the harness's helpers
 * (local_list, local_set_flags, sync_run_args...) work on that device.
 * Every function fails the running test (cr_assert) on trouble; a
 * failure names the seed and prints the steps taken so far.
 */
#ifndef TWINBOX_TESTS_RANDOM_WORLD_H
#define TWINBOX_TESTS_RANDOM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/util/buf.h"

#define RW_DEVICES 3
#define RW_FOLDERS 3          /* INBOX, Archive, Work */
#define RW_FLAGS   4          /* Draft, Flagged, Replied, Seen: Maildir letters D F R S */
#define RW_SERVER  RW_DEVICES /* the actor index of the second IMAP client */

extern const char *const rw_folder_names[RW_FOLDERS];
extern const char rw_flag_letters[RW_FLAGS + 1];  /* "DFRS" */
extern const char *const rw_imap_flags[RW_FLAGS]; /* "\\Draft"... */

/* What the users did to one message (all its copies share a Message-ID). */
struct rw_msg {
	char *id;                    /* "<rSEED.N@twinbox.test>" */
	unsigned home;               /* the folder it was added to */
	unsigned placed;             /* bit per folder: added or moved there */
	bool deleted;                /* someone deleted a copy */
	bool moved;                  /* someone moved a copy to another folder */
	bool doubled;                /* ... into a folder where it saw a copy already */
	unsigned initial;            /* flag bits when added */
	unsigned changers[RW_FLAGS]; /* bit per actor that changed the flag */
	bool value[RW_FLAGS];        /* what the latest change set it to */
};

struct imap_session;

struct rw_world {
	unsigned seed;
	uint64_t rng;
	unsigned next_msg; /* for fresh Message-IDs and file names */
	bool sigkill;      /* whether rw_kill may use a real SIGKILL */
	char *dev_dir[RW_DEVICES];
	char *dev_cfg[RW_DEVICES];
	char *dev_mail[RW_DEVICES];
	char *dev_db[RW_DEVICES];
	char *saved_cfg, *saved_mail, *saved_db; /* the harness's own */
	struct rw_msg *msgs;
	size_t count, cap;
	struct imap_session *imap; /* the second client */
	struct buf log;            /* every step, printed when a check fails */
	unsigned runs, kills;      /* counters for the summary */
};

/* Start a fresh Dovecot (stopping the harness's one), make the devices
 * under sh.dir/SEED/, create Archive and Work, and put a few messages in
 * each folder with random flags. */
void rw_init(struct rw_world *w, unsigned seed, bool sigkill);
/* Give the harness its paths back and free everything. */
void rw_free(struct rw_world *w);

/* Point the harness at device `dev` (0-based). */
void rw_use_device(struct rw_world *w, unsigned dev);

/* Random numbers from the seed: uniform in [0, n). */
unsigned rw_rand(struct rw_world *w, unsigned n);

/* Append a line to the step log (printf-style). */
void rw_log(struct rw_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fail the test: `what`, the seed, how to replay, and the step log. */
void rw_fail(struct rw_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* The oracle's entry for `id`, or NULL. */
struct rw_msg *rw_msg_find(struct rw_world *w, const char *id);
/* A new message for the oracle, added by `actor` to `folder` with flag
 * bits `flags`; returns its text with LF line ends (fresh). */
char *rw_msg_new(struct rw_world *w, unsigned actor, unsigned folder, unsigned flags);
/* Record that `actor` changed flag `f` of `id` to `value`. */
void rw_note_flag(struct rw_world *w, const char *id, unsigned actor, unsigned f, bool value);

/* APPEND `text` (LF line ends; sent with CRLF) to `folder` with flag
 * bits `flags`, by the second client. */
void rw_server_append(struct rw_world *w, unsigned folder, unsigned flags, const char *text);

/* Flag bits of Maildir letters / of a doveadm flag list. */
unsigned rw_flags_of_letters(const char *letters);
unsigned rw_flags_of_imap(const char *list);
/* Maildir letters of flag bits, in ASCII order, into `out` (5 bytes). */
void rw_letters(unsigned flags, char out[RW_FLAGS + 1]);

/* ---- steps (random_ops.c) ---- */

/* 1..3 random changes on device `dev`'s Maildir: flags by rename,
 * deletion by unlink, a new file, a move to another folder. */
void rw_local_steps(struct rw_world *w, unsigned dev);
/* 1..3 random changes by the second IMAP client: STORE, EXPUNGE,
 * APPEND, MOVE. */
void rw_server_steps(struct rw_world *w);
/* Sync device `dev`; when `may_kill`, perhaps killed at a random
 * durable step (TWINBOX_TEST_CRASH_AT) or, with w->sigkill, by SIGKILL
 * after a random delay (the one thing a seed does not replay exactly:
 * where in the run the signal lands). A run not killed must exit 0. */
void rw_sync(struct rw_world *w, unsigned dev, bool may_kill);

/* ---- the verdict (random_check.c) ---- */

/* Every device equals the server in every folder (Message-IDs, bytes,
 * flags), the state pairs every message, tmp/ is empty, and the server
 * agrees with the oracle: nothing lost that nobody deleted, nothing
 * twice in a folder or where nobody put it, flags as their only changer
 * left them. */
void rw_check(struct rw_world *w);

#endif
