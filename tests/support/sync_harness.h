/*
 * The harness of the end-to-end `twinbox sync` tests: a private Dovecot,
 * a temporary directory with a config, a Maildir and a state directory,
 * and helpers that look at both sides as a user would.
 *
 * One harness per test process (Criterion forks one per test): the
 * helpers work on the global `sh`, filled by sync_harness_setup() and
 * released by sync_harness_teardown(). Every helper fails the running
 * test (cr_assert) when something cannot be read or is not as expected.
 *
 * Layout: the account is "t", its Maildir is Maildir++ at sh.mail (INBOX
 * is the root, "Work/Projects" is "<root>/.Work.Projects"), its state is
 * sh.db.
 */
#ifndef TWINBOX_TESTS_SYNC_HARNESS_H
#define TWINBOX_TESTS_SYNC_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "support/dovecot.h"
#include "support/run.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

struct sync_harness {
	struct dovecot *d;
	char dir[64];        /* the test's temporary directory (/tmp/twinbox-sync-*) */
	char *cfg;           /* dir/config.yaml */
	char *mail;          /* dir/mail: the account's Maildir root */
	char *db;            /* dir/state/t.db */
	struct run_result r; /* the last run of twinbox */
};

extern struct sync_harness sh;

/* Start Dovecot, make the directory, write the config with `expunge: both`. */
void sync_harness_setup(void);
/* The same with `extra_conf` appended to Dovecot's config
 * (dovecot_start_with). */
void sync_harness_setup_with(const char *extra_conf);
void sync_harness_teardown(void);

/* An account `name` of the harness's server syncing with `maildir`: its
 * lines under `accounts:` in the config (fresh). */
char *account_config(const char *name, const char *maildir);
/* (Re)write the config; `sync_section` is appended verbatim (NULL: none). */
void write_config(const char *sync_section);

/* Write the config with a POP3 account "p" on the harness's server,
 * delivering into the harness's Maildir, instead of the IMAP account. */
void write_pop3_config(void);

/* Stop the harness's Dovecot, start a fresh one, remove the Maildir and
 * the state, write the config again (`expunge: both`): a clean world in
 * the same test. */
void restart_world(void);

/* Run `twinbox --config CFG sync [extra]` into sh.r; returns its status. */
int sync_run_args(const char *extra);
/* Same without `extra`, failing the test unless it exits 0. */
void sync_ok(void);

/* ---- the local side ---- */

struct local_msg {
	char *path;
	char *flags; /* letters after ":2,", "" when none */
	char *data;
	size_t len;
};

/* The Maildir directory of `folder` (caller frees). */
char *folder_dir(const char *folder);
/* Every message file in new/ and cur/ of `folder`, read whole; a missing
 * folder has none. Free with local_free(). */
size_t local_list(const char *folder, struct local_msg **msgs_r);
void local_free(struct local_msg *m, size_t n);
/* How many message files `folder` holds (0 for a missing folder). */
size_t local_message_count(const char *folder);
/* Whether a message file of `folder` has Message-ID `id`. */
bool local_has_id(const char *folder, const char *id);
/* Write a message file `name` into new/ of `folder`. */
void write_local(const char *folder, const char *name, const char *text);
/* The path of the one local message of `folder` with Message-ID `id`
 * (caller frees); fails the test unless there is exactly one. */
char *local_find(const char *folder, const char *id);
/* Rename the file at `path` as a mail reader marks it: into cur/ with
 * ":2,<letters>"; returns the new path (caller frees). */
char *local_set_flags(const char *path, const char *letters);
/* Files left in tmp/ of `folder` (0 for a missing folder); their names
 * are logged (cr_log_info) so that a failure shows what was left. */
size_t tmp_count(const char *folder);

/* ---- both sides ---- */

/* The Message-ID dovecot_seed(.., seed, ..) gives its i-th message (fresh). */
char *seeded_id(unsigned seed, unsigned i);
/* Whether `flags` (as doveadm prints them) hold `flag`, case-insensitively. */
bool has_flag(const char *flags, const char *flag);
/* The Message-ID of a raw message (fresh), or "". */
char *message_id(const char *data);
/* CRLF -> LF copy of a server body (fresh). */
char *lf_of(const char *crlf, size_t len);
/* LF -> CRLF copy of a NUL-terminated text (fresh), `*len_r` bytes (may
 * be NULL). */
char *crlf_of(const char *lf, size_t *len_r);
/* Number of messages in a server mailbox. */
size_t server_count(const char *mailbox);
/* Whether a message of server mailbox `mailbox` has Message-ID `id`. */
bool server_has_id(const char *mailbox, const char *id);
/* The server's message with Message-ID `id` in `mailbox`; fails the test
 * unless there is exactly one. `*flags_r` gets its flags (fresh). */
unsigned server_find(const char *mailbox, const char *id, char **flags_r);
/* Every Message-ID once on each side, `expect` messages on each, the same
 * set and the same bytes (modulo CRLF) on both. */
void assert_twins(const char *folder, size_t expect);
/* Same, but header fields named `field` ("X-TUID") in the local copies
 * are left out of the comparison. */
void assert_twins_ignoring(const char *folder, size_t expect, const char *field);
/* Pairs of `folder` in the state; each has both sides. */
size_t state_pair_count(const char *folder);
/* Every folder's summary line in sh.r.out says nothing was done. */
void assert_nothing_done(void);
/* The summary line of `folder` in sh.r.out, from after "t: <folder>: "
 * to the end of the line (fresh); fails the test if there is none. */
char *summary_of(const char *folder);

/* ---- --json ---- */

/* JSON lines `stream` read by Python's json module with `script` (a
 * Python program that reads the file sys.argv[1] and prints "key value"
 * lines): what it printed (fresh); fails the test when Python rejects
 * the stream. */
char *json_read_with(const char *script, const char *stream);
/* The number after "key " on a line of `text` (json_read_with()'s
 * output); fails the test when there is none. */
long json_value_of(const char *text, const char *key);

/* ---- processes ---- */

/* Start `twinbox --config CFG sync` without waiting; its output goes to
 * files in the test directory named after `tag`. */
pid_t sync_spawn(const char *tag);
/* The same with `args` (NULL-terminated, not including argv[0], at most
 * 14) instead of `--config CFG sync`. */
pid_t sync_spawn_args(const char *tag, const char *const *args);
/* Wait (at most `timeout_s`) for a process from sync_spawn(); fills `r`
 * like run_twinbox() and `*maxrss_kb_r` (may be NULL) with its peak
 * resident memory. */
void sync_wait(pid_t pid, const char *tag, int timeout_s, struct run_result *r, long *maxrss_kb_r);
/* The seed of a randomized test: TWINBOX_TEST_SEED if set, else a fresh
 * one; logged either way, so that a failure can be replayed. */
uint32_t sync_test_seed(void);
/* `kills` runs of `twinbox sync`, each killed with SIGKILL at a moment
 * drawn from *seed (xorshift): once `folder` holds a random number of
 * messages between what it holds and `total`, plus a random pause of up
 * to 20 ms; a run that ends before then just ends. Returns how many were
 * killed while running. */
unsigned sync_kill_randomly(uint32_t *seed, unsigned kills, const char *folder, size_t total);

#endif
