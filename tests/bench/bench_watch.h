/*
 * make bench-watch, private to bench_watch.c (the parts, the processes,
 * the report) and bench_watch_probe.c (changes made on one side and
 * awaited on the other).
 *
 * A probe is one change: made at one moment (`sent`), seen on the other
 * side at another (`seen`). The thread that makes the changes adds each
 * probe before making it and stamps `sent` right after; observer threads
 * stamp `seen`:
 *   - the Maildir observer: inotify on a folder's new/ and cur/; on each
 *     event, the file named is read for its Message-ID;
 *   - the server observer: its own IMAP connection, INBOX EXAMINEd, a
 *     NOOP every 20 ms while a local change is awaited; on untagged news
 *     (and every 250 ms in any case) it asks the server for what it
 *     waits for (new UIDs' headers, the FLAGS of the UIDs changed). A
 *     probe met is stamped with the moment the news arrived. Not IDLE:
 *     Dovecot tells an idling client of another one's change 500 ms
 *     late (NOTIFY_DELAY_MSECS), which would be counted against the
 *     tool.
 */
#ifndef TWINBOX_TESTS_BENCH_WATCH_H
#define TWINBOX_TESTS_BENCH_WATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"

enum probe_kind {
	PROBE_DELIVERY,     /* APPEND to the server; seen: a file with its Message-ID */
	PROBE_LOCAL_NEW,    /* a file into new/; seen: a message with its Message-ID on the server */
	PROBE_LOCAL_FLAG,   /* \Flagged toggled by a rename; seen: the server's FLAGS agree */
	PROBE_LOCAL_DELETE, /* a file removed; seen: the server's message \Deleted or gone */
	PROBE_KIND_COUNT
};

#define PROBE_MSGID_MAX 96

struct probe {
	enum probe_kind kind;
	char msgid[PROBE_MSGID_MAX]; /* without the angle brackets */
	uint32_t uid;                /* flag, delete: the server's UID */
	bool flagged;                /* flag: \Flagged after the change */
	double sent, seen;           /* bench_now(); 0: not yet; seen -1: never (gone) */
};

/* The probes of one measurement, and the server's INBOX as the server
 * observer knows it (Message-ID to UID). */
struct probes {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* broadcast whenever a probe is seen */
	struct probe *v;
	size_t n, cap;
	char (*ids)[PROBE_MSGID_MAX];
	uint32_t *uids;
	size_t n_ids, cap_ids;
};

void probes_init(struct probes *p);
void probes_free(struct probes *p);
/* Add `pr` (sent and seen 0); returns its index. */
size_t probes_add(struct probes *p, const struct probe *pr);
/* Stamp probe `i` sent now. */
void probes_sent(struct probes *p, size_t i);
/* Wait until probes [from, n) are all seen, or until `deadline`
 * (bench_now()); returns how many are still unseen. */
size_t probes_wait(struct probes *p, size_t from, double deadline);
/* The server UID of `msgid` in INBOX as last seen, 0 when unknown. */
uint32_t probes_uid_of(struct probes *p, const char *msgid);
/* Whether a probe not yet seen is about `msgid`. */
bool probes_pending(struct probes *p, const char *msgid);

/* Latency figures of probes [from, to) of the kinds in `kinds` (bits
 * 1u << PROBE_*), seconds: median, p90, p99 (nearest rank), max; `lost`
 * the probes never seen (counted in none of the figures). */
struct latency {
	bool run;
	size_t n, lost;
	double median, p90, p99, max;
};
#define PROBE_BIT(kind) (1u << (kind))
#define PROBES_LOCAL                                                                                         \
	(PROBE_BIT(PROBE_LOCAL_NEW) | PROBE_BIT(PROBE_LOCAL_FLAG) | PROBE_BIT(PROBE_LOCAL_DELETE))
void probes_latency(struct probes *p, size_t from, size_t to, unsigned kinds, struct latency *l_r);
/* Forget probe `i`, the last one added, whose change could not be made
 * (its file was gone); it must not be stamped sent. */
void probes_cancel(struct probes *p, size_t i);

struct maildir_observer;
/* Watch `folder_dir`'s new/ and cur/ for the delivery probes of `p`. */
struct maildir_observer *maildir_observer_start(const char *folder_dir, struct probes *p);
void maildir_observer_stop(struct maildir_observer *o);

struct server_observer;
/* Watch `d`'s INBOX for the local probes of `p`; returns once it knows
 * INBOX's messages and idles. */
struct server_observer *server_observer_start(struct dovecot *d, struct probes *p);
void server_observer_stop(struct server_observer *o);

/* ---- changes ----------------------------------------------------- */

/* A seeded generator (xorshift64*), so a run's spacings and choices
 * replay with its seed. */
struct watch_rng {
	uint64_t s;
};
void watch_rng_seed(struct watch_rng *r, uint64_t seed);
double watch_rng_uniform(struct watch_rng *r, double lo, double hi);
size_t watch_rng_below(struct watch_rng *r, size_t n);
/* Sleep until `t` (bench_now()). */
void watch_sleep_until(double t);

/* A session on `d` (implicit TLS, the fixture's user), with `mailbox`
 * selected (read-only with `examine`) unless NULL. */
struct imap_session;
struct imap_session *watch_session(struct dovecot *d, const char *mailbox, bool examine);
/* APPEND a small plain-text message with Message-ID <msgid> to INBOX. */
void watch_deliver(struct imap_session *s, const char *msgid);
/* The directory of folder `name` ("INBOX", "Lists/l03") in the Maildir
 * `root`: Maildir++ with INBOX at the root, or, `subdirs`, a directory
 * per folder named with '.' for '/' (OfflineIMAP's). Fresh. */
char *watch_folder_dir(const char *root, const char *name, bool subdirs);
/* A new message file with Message-ID <msgid> in `folder_dir`'s new/,
 * written into tmp/ and renamed, as a delivery agent does. */
void watch_local_new(const char *folder_dir, const char *msgid);
/* A message file of `folder_dir` (new/ or cur/) chosen at random whose
 * Message-ID is not `pending` in `p` (NULL: any) and, with `need_uid`,
 * has a known UID; its path (fresh) and Message-ID. false when none was
 * found in a few tries. */
bool watch_local_pick(const char *folder_dir, struct watch_rng *r, struct probes *p, bool need_uid,
                      char **path_r, char msgid_r[PROBE_MSGID_MAX]);
/* Toggle \Flagged ('F') of the message file `path` by a rename into cur/,
 * as a mail reader does; *flagged_r says what it is now. false when the
 * file was gone (renamed by the tool meanwhile). */
bool watch_toggle_flagged(const char *path, bool *flagged_r);
/* The Message-ID of a message file, without brackets; false if none. */
bool watch_file_msgid(const char *path, char msgid_r[PROBE_MSGID_MAX]);

/* ---- twins ------------------------------------------------------- */

/* Whether every folder of `names` holds the same messages (by
 * Message-ID, each once) with the same flags on `d` and in the Maildir
 * `root`, and folder i holds `expect[i]` messages (SIZE_MAX: any). Says
 * the first difference in `why` (of `why_len` bytes). */
bool watch_twins(struct dovecot *d, const char *root, const char *const *names, size_t count,
                 const size_t *expect, char *why, size_t why_len);

#endif
