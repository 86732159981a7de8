/*
 * make bench: twinbox against mbsync and mpop on the fixture Dovecot.
 * Shared between bench.c (scenarios; with bench_report.c, the table and
 * the targets: see bench_scenario.h), the mail and the changes
 * (bench_mail.c, bench_local.c), the servers of their own (bench_set.c,
 * bench_pop3.c, bench_huge.c) and bench_tools.c (the tools'
 * configurations and Maildirs, timed child processes, the raw-fetch
 * bound).
 *
 * Every function here ends the bench (bench_fail) on a set-up error: a
 * benchmark with a broken set-up has nothing to report. A tool that runs
 * but fails or leaves an incomplete Maildir is not a set-up error: that
 * run is reported as FAILED.
 */
#ifndef TWINBOX_TESTS_BENCH_H
#define TWINBOX_TESTS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "support/dovecot.h"

/* Longest single run of a tool (10,000 multi-MB messages stay far below). */
#define BENCH_RUN_TIMEOUT_S 1800

/* What one timed run of a child process cost. */
struct bench_sample {
	bool ok;        /* exited 0 (and, once checked, its result was complete) */
	double seconds; /* wall time from fork to exit */
	long rss_kb;    /* peak resident set of the child (wait4's ru_maxrss) */
	double cpu;     /* the child's user + system time, seconds (wait4's rusage) */
};

/* Seconds on the monotonic clock. */
double bench_now(void);

/* Fork the process that runs every tool (see bench_tools.c): call first
 * thing in main, while the bench is small; stop it at the end. */
void bench_spawner_start(void);
void bench_spawner_stop(void);

/* Run `argv` (argv[0] looked up in PATH) once through the spawner, stdin
 * from /dev/null, stdout and stderr to `log_path` (truncated), at most
 * BENCH_RUN_TIMEOUT_S (then SIGKILL: not ok). */
void bench_run(const char *const *argv, const char *log_path, struct bench_sample *s_r);

/* The first line `cmd` prints (its version), appended to `b`; "?" if
 * none. */
struct buf;
void bench_tool_version(struct buf *b, const char *cmd);
/* The number in environment variable `name` (`def` if unset or empty);
 * ends the bench unless it is from `min` to `max`. */
unsigned bench_env_number(const char *name, unsigned def, unsigned min, unsigned max);

/* Print the last `max` bytes of `path` to stderr, indented (for FAILED
 * runs). */
void bench_print_tail(const char *path, size_t max);

/* ---- the tools --------------------------------------------------- */

enum bench_tool_kind {
	TOOL_TWINBOX_IMAP,
	TOOL_MBSYNC,
	TOOL_TWINBOX_POP3,
	TOOL_MPOP,
	TOOL_RAW_FETCH, /* the bench's own pipelined UID FETCH of every body */
	/* The migration's (bench_migrate.c), from one server to another: */
	TOOL_TWINBOX_MIGRATE, /* twinbox migrate --no-verify */
	TOOL_MBSYNC_MIGRATE,  /* an mbsync channel of two IMAP stores */
	TOOL_INTERIMAP,
	TOOL_RAW_COPY,        /* the bench's own FETCH into MULTIAPPEND (bench_copy.c) */
	TOOL_TWINBOX_DEFLATE, /* twinbox's config form, compress: true */
	TOOL_TWINBOX_PLAIN,   /* the same with compress: false */
};

/* One tool with its own directory under the bench's: a config, a
 * Maildir (Maildir++, INBOX at its root), its state. */
struct bench_tool {
	enum bench_tool_kind kind;
	const char *name; /* "twinbox", "mbsync", "mpop", "raw fetch" */
	char *dir;        /* <bench dir>/<kind> */
	char *maildir;    /* dir/Mail */
	char *config;     /* dir/config.yaml, mbsyncrc or mpoprc */
	char *log;        /* dir/run.log: output of the last run */
	const char *twinbox_bin;
	const char *bench_bin; /* this program, for TOOL_RAW_FETCH */
	struct dovecot *server;
	size_t expect_messages; /* for TOOL_RAW_FETCH's own check */
};

/* Move `path` (if it exists) out of the way, into the scratch directory's
 * trash, removed when the bench ends. Not removed now: on a filesystem
 * without a journal, ext4 skips inodes freed in the last minutes when it
 * allocates new ones, so mass deletions between runs would tax the file
 * creations of the next run (of whichever tool comes next). */
void bench_discard(const char *path);
/* The same for the mail of a server about to be stopped (its home). */
void bench_discard_mail(struct dovecot *d);

/* "twinbox", "mbsync", ... */
const char *bench_tool_name(enum bench_tool_kind kind);
/* Set up `t` under `bench_dir` (writes its config). */
void bench_tool_init(struct bench_tool *t, enum bench_tool_kind kind, const char *bench_dir,
                     struct dovecot *server, const char *twinbox_bin, const char *bench_bin);
void bench_tool_free(struct bench_tool *t);
/* Remove the Maildir and every trace of earlier runs (state, SyncState,
 * UIDL list): the next run starts from nothing. */
void bench_tool_reset(struct bench_tool *t);
/* Run the tool once (a sync, an import, or the raw fetch); traced:
 * twinbox with -vv (its protocol trace in t->log) instead of --quiet. */
void bench_tool_run(struct bench_tool *t, struct bench_sample *s_r);
void bench_tool_run_traced(struct bench_tool *t, struct bench_sample *s_r);

/* Messages in a Maildir++ tree (cur/ and new/ of the root and of every
 * ".Folder"), and how many of them carry the flag letter `flag` (0: do
 * not count). */
void bench_maildir_count(const char *root, char flag, size_t *messages_r, size_t *flagged_r);

/* Local changes (bench_local.c), as a mail client makes them.
 * Rename up to `max` messages of `folder`/cur whose info part (":2,")
 * lacks (`set`) or holds (!`set`) the flag letter `flag`, adding or
 * removing it; when setting and cur/ has too few, messages of new/ move
 * to cur/ with the flag. Sorted names, so the same are chosen every time.
 * Returns how many were changed. */
size_t bench_maildir_toggle_flag(const char *folder, char flag, bool set, size_t max);
/* Write `count` messages test_message(seed + i, every fifth with an
 * attachment of `attach` bytes) into `folder` (created, with cur/ new/
 * tmp/, if missing): into new/ when `flag_every` is 0, else into cur/
 * marked seen, every `flag_every`-th (i % flag_every == 0) also flagged. */
void bench_maildir_add(const char *folder, unsigned count, unsigned seed, size_t attach, unsigned flag_every);

/* The latency proxy (bench_proxy.c): a process forwarding a free
 * 127.0.0.1 port (*port_r) to 127.0.0.1:`server_port`, every chunk held
 * `delay_ms` in each direction. Stop with bench_proxy_stop(). */
#define BENCH_PROXY_DELAY_MS 25
pid_t bench_proxy_start(unsigned server_port, unsigned delay_ms, unsigned *port_r);
void bench_proxy_stop(pid_t pid);
/* A line of `mbit_per_s` Mbit/s each way, shared by every proxy started
 * on it after it was made (and by all their connections): what passes
 * through them is limited to that rate in each direction, a token bucket
 * per direction (see bench_proxy.c). Free after their proxies stopped. */
struct bench_link;
struct bench_link *bench_link_new(unsigned mbit_per_s);
void bench_link_free(struct bench_link *l);
/* bench_proxy_start() on `link` (NULL: none). */
pid_t bench_proxy_start_link(unsigned server_port, unsigned delay_ms, struct bench_link *link,
                             unsigned *port_r);

/* The raw-fetch bound, run as `bench BENCH_RAW_FETCH_ARG port ca_file
 * user password expected`: log in over implicit TLS, and per folder
 * EXAMINE and one `UID FETCH 1:* BODY.PEEK[]` with every body dropped.
 * Returns the exit status: 0 when exactly `expected` bodies came. */
#define BENCH_RAW_FETCH_ARG "--raw-fetch"
int bench_raw_fetch_main(int argc, char **argv);

/* The migration's raw bound (bench_copy.c), run as `bench
 * BENCH_RAW_COPY_ARG from_port from_ca to_port to_ca user password
 * expected`: every message of every folder of the first server copied
 * to the second (the same user and password on both) by one pipelined
 * FETCH and one MULTIAPPEND per folder, over implicit TLS. Returns the
 * exit status: 0 when exactly `expected` messages were copied. */
#define BENCH_RAW_COPY_ARG "--raw-copy"
int bench_raw_copy_main(int argc, char **argv);

/* The huge-message scenario (bench_huge.c): one message of a text part
 * and a BENCH_HUGE_ATTACH-byte attachment in base64 (about 205 MB),
 * written once into `bench_dir` on the first run. A run: a fresh Dovecot
 * of its own, and the tool (TOOL_TWINBOX_IMAP or TOOL_MBSYNC) pulls the
 * message from its INBOX into an empty Maildir, or (`push`) pushes it
 * from a Maildir into the empty INBOX; not ok unless both sides then
 * hold exactly that message (its size, CRLF or LF line ends in the
 * Maildir). The server and the tool's files are removed after the run.
 * bench_huge_describe() appends a sentence on the setting to `b`;
 * bench_huge_end() stops a run's server if one is up and removes the
 * message file (after the last run, and from bench_fail). */
#define BENCH_HUGE_ATTACH ((size_t)150 * 1000 * 1000)
void bench_huge_run(enum bench_tool_kind kind, bool push, const char *bench_dir, const char *twinbox_bin,
                    const char *bench_bin, struct bench_sample *s_r);
void bench_huge_describe(struct buf *b);
void bench_huge_end(void);

/* ---- the migration (bench_migrate.c) --------------------------- */

/* How the tools reach the migration's two servers. */
enum bench_net {
	BENCH_NET_LOOPBACK, /* straight */
	BENCH_NET_LATENCY,  /* each through a proxy, BENCH_PROXY_DELAY_MS each way */
	BENCH_NET_LINE,     /* each through a proxy on one line of BENCH_LINK_MBIT Mbit/s */
	BENCH_NET_COUNT
};
#define BENCH_LINK_MBIT      50
#define BENCH_LINK_MBIT_TEXT "50"

/* One timed run of `kind` (a migration tool) copying the source, seeded
 * with `n` messages of the normal mix when first needed, into a fresh,
 * empty target reached over `net`; not ok unless the target then holds
 * what the source holds (and, for twinbox, a run right after copies
 * nothing, and its verification finds nothing missing). */
void bench_migrate_run(enum bench_tool_kind kind, enum bench_net net, unsigned n, const char *bench_dir,
                       const char *twinbox_bin, const char *bench_bin, struct bench_sample *s_r);
/* A sentence on each source used, on the line, and on twinbox's runs
 * after the timed ones (nothing to copy; its verification). */
void bench_migrate_describe(struct buf *b);
/* Stop every server and proxy of the migration (also from bench_fail). */
void bench_migrate_end(void);

/* ---- the watcher (bench_watch.c, make bench-watch) -------------- */

/* The parts, each a scenario of its own (see bench_watch.c). */
enum bench_watch_part {
	WATCH_DELIVERY,    /* server delivery -> Maildir latency */
	WATCH_LOCAL,       /* local change -> server latency */
	WATCH_IDLE,        /* an idle watcher's CPU, wake-ups, memory */
	WATCH_SOAK,        /* memory over a long run of changes; twins at the end */
	WATCH_MBSYNC,      /* mbsync on a 60 s timer: both latencies */
	WATCH_OFFLINEIMAP, /* OfflineIMAP in IDLE mode: both latencies */
};

/* Run `part` (servers and tools set up under `bench_dir` when first
 * needed); false when it FAILED (said on stderr). */
bool bench_watch_run(enum bench_watch_part part, const char *bench_dir, const char *twinbox_bin);
/* The setting, the table of figures and the target rows of the parts
 * that ran (nothing when none did); bench_watch_targets returns how many
 * targets were missed. */
void bench_watch_describe(struct buf *b);
void bench_watch_table(struct buf *b);
unsigned bench_watch_targets(struct buf *b);
/* Stop every process and server of the watch parts (also from
 * bench_fail). */
void bench_watch_end(void);

/* ---- the mail (bench_mail.c) ------------------------------------ */

/* Changes between the resyncs of the change scenarios. */
#define BENCH_FLAG_CHANGES 100
#define BENCH_NEW_MESSAGES 100

/* Server flag changes before each sync of the run right after a sync. */
#define BENCH_ANSWERED_CHANGES 10

/* What a server or a Maildir must hold. */
struct bench_expect {
	size_t messages, flagged, answered;
	unsigned long long bytes;
};

/* Choose the mail, first thing: the normal mix (2 KB text to multi-MB
 * attachments in 5 folders, some flags), or `small`, the scale
 * scenario's small plain-text messages over 20 folders. */
void bench_mail_choose(bool small);
size_t bench_mailbox_count(void);
/* The scale scenario's 20 folders (INBOX first), whatever mail was
 * chosen: their names (*names_r, static) and count; and `per_folder`
 * small plain-text messages seeded into each of them (make bench-watch). */
size_t bench_scale_folders(const char *const **names_r);
void bench_seed_scale_folders(struct dovecot *d, unsigned per_folder);
/* Seed about `n` messages of the chosen mail into `d`. */
void bench_seed(struct dovecot *d, unsigned n);
/* Exactly `n` small plain-text messages into `d`'s INBOX (the
 * one-folder set), some seen, some flagged. */
void bench_seed_inbox(struct dovecot *d, unsigned n);
/* Exactly `n` messages of the normal mix, all into `d`'s INBOX (POP3). */
void bench_seed_pop3(struct dovecot *d, unsigned n);
/* What `d` holds: all the chosen mailboxes, or INBOX only. */
struct bench_expect bench_server_holds(struct dovecot *d, bool inbox_only);
/* The same over those of the chosen mailboxes that `d` has (a server a
 * tool copied into may lack some). */
struct bench_expect bench_server_holds_present(struct dovecot *d);
/* Whether the tool's Maildir, and its server (INBOX only, or all
 * mailboxes), hold exactly `e` (message count; \\Flagged and \\Answered
 * counts unless `pop3`): a sync that skipped work cannot pass. The raw
 * fetch checks itself. Says what differs on stderr. */
bool bench_complete(const struct bench_tool *t, const struct bench_expect *e, bool inbox_only, bool pop3);
/* The same on the Maildir alone (no server listing: quick). */
bool bench_maildir_holds(const struct bench_tool *t, const struct bench_expect *e);
/* On a server before a resync (repetition `rep`): BENCH_FLAG_CHANGES
 * \Flagged toggles in INBOX, or BENCH_NEW_MESSAGES new messages. */
void bench_change_flags(struct dovecot *d, unsigned rep);
void bench_change_new_mail(struct dovecot *d, unsigned rep);
/* BENCH_ANSWERED_CHANGES \\Answered toggles in INBOX (no other scenario
 * touches that flag). */
void bench_change_answered(struct dovecot *d, unsigned rep);
/* In a tool's Maildir before a resync, adjusting what its server must
 * then hold: \Flagged toggles in INBOX, or new messages in its new/. */
void bench_local_flags(struct bench_tool *t, unsigned rep, struct bench_expect *e);
void bench_local_new_mail(struct bench_tool *t, unsigned rep, struct bench_expect *e);

/* ---- the POP3 import's server (bench_pop3.c) -------------------- */

/* Start a Dovecot whose INBOX holds exactly `n` messages and set up the
 * POP3 tools (TOOL_TWINBOX_POP3, TOOL_MPOP) for it under `dir`; with
 * `latency`, they reach it through a proxy (BENCH_PROXY_DELAY_MS). */
void bench_pop3_begin(unsigned n, const char *dir, bool latency, const char *twinbox_bin,
                      const char *bench_bin);
struct bench_tool *bench_pop3_tool(enum bench_tool_kind kind);
/* Appends a sentence on the POP3 setting to `b`, if it was used. */
void bench_pop3_describe(struct buf *b);
/* Its mail into the trash, the server stopped, the tools freed. */
void bench_pop3_end(void);
/* Only stop the server, if up (from bench_fail). */
void bench_pop3_stop(void);

/* ---- sets of servers of their own (bench_set.c) ----------------- */

/* Each set: two Dovecots seeded alike, one for twinbox (and the raw
 * bound), one for mbsync, so what each tool changes is checked on a
 * server only it changed. */
enum bench_set {
	BENCH_SET_MAIN,   /* not a set: the bench's main servers (bench.c) */
	BENCH_SET_LARGE,  /* BENCH_LARGE_N messages of the normal mix */
	BENCH_SET_NOCOND, /* N messages of the normal mix, CONDSTORE hidden */
	BENCH_SET_INBOX,  /* BENCH_INBOX_N small messages, all in INBOX */
	BENCH_SET_COUNT
};

/* Start and seed set `s`'s servers with `n` messages and set up its
 * tools (TOOL_TWINBOX_IMAP, TOOL_MBSYNC; TOOL_RAW_FETCH on the large
 * set) under `bench_dir`; once, later calls do nothing. */
void bench_set_begin(enum bench_set s, unsigned n, const char *bench_dir, const char *twinbox_bin,
                     const char *bench_bin);
struct bench_tool *bench_set_tool(enum bench_set s, enum bench_tool_kind kind);
/* Whether the set's servers hold INBOX only. */
bool bench_set_inbox_only(enum bench_set s);
/* Whether the set's twinbox must not see CONDSTORE (nor QRESYNC). */
bool bench_set_hides_condstore(enum bench_set s);
/* Appends a sentence on each set that was used to `b`. */
void bench_set_describe(struct buf *b);
/* Stop every set's servers, if up (also from bench_fail). */
void bench_set_end(void);

/* Report and end the bench (stops the server). */
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
