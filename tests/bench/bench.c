/*
 * make bench: twinbox against mbsync (IMAP) and mpop (POP3) on throwaway
 * Dovecots in the same run (issue 6, first part; issue 13).
 *
 * The server gets N messages of deterministic mail of realistic sizes
 * (bench_mail.c: 2 KB text to multi-MB attachments, nested folders, some
 * flags). Some scenarios run on sets of servers of their own
 * (bench_set.c): the initial pull and the raw-fetch bound again on the
 * large set (keys "pull-large" and "raw-large"), BENCH_LARGE_N messages
 * of the same mix, where issue 6 sets the initial pull's targets
 * (N = 10,000); a settled no-change resync against servers without
 * CONDSTORE (key "nocondstore"), N messages of the same mix; and the
 * one-folder set (keys "inbox-*"), BENCH_INBOX_N small messages all in
 * INBOX, pulled, then resynced right after the pull and settled. The
 * no-change resync right after a sync (key "after-sync") runs on the
 * main servers: each repetition, \Answered changes on the servers, each
 * tool syncs them untimed and at once runs the timed no-change resync.
 * The POP3 import (key "pop3") runs on a Dovecot of its own whose INBOX
 * holds N messages of the same mix, all left on the server. Each
 * scenario runs every tool BENCH_REPS times, alternating which goes
 * first, and reports the median wall time, the twinbox/other ratio and
 * the peak RSS (from wait4). A run counts only when the tool exited 0
 * and its Maildir holds what the server holds (message count, \Flagged
 * and \Answered counts; an untimed run before a timed one is checked
 * too): a fast wrong answer cannot win. The table goes to stdout and to
 * BENCH_OUT; the exit status is 1 when a target (the table `targets`
 * below) is missed or a run FAILED, 2 when the bench itself could not
 * run.
 *
 * With the argument --scale (make bench-scale), the scale scenario of
 * issue 6 instead: N small plain-text messages over 20 folders, the
 * initial pull once per tool, then the no-change and the flag-change
 * resyncs against mbsync, with the scale targets (`scale_mode`); and the
 * one-folder set's scenarios (its pull from nothing once per tool).
 *
 * Environment: BENCH_N (messages, default 1000; 100000 with --scale),
 * BENCH_LARGE_N (the large set, default 10000), BENCH_INBOX_N (the
 * one-folder set, default 10000; 50000 with --scale), BENCH_REPS
 * (default 5), TWINBOX_BIN (default build/twinbox), BENCH_OUT (default
 * build/bench.md; build/bench-scale.md with --scale), BENCH_KEEP=1 keeps
 * the scratch directory, BENCH_ONLY (comma-separated scenario keys, see
 * `scenarios`) runs only those.
 *
 * The huge-message scenarios (bench_huge.c, key "huge") sync one 205 MB
 * message each way on fresh Dovecots of their own, once per tool
 * whatever BENCH_REPS says: they are about peak RSS.
 *
 * The migration scenarios (bench_migrate.c; keys "migrate",
 * "lat-migrate", "line-migrate"; make bench-migrate runs them alone)
 * copy BENCH_MIGRATE_N messages of the normal mix (default 10,000) from
 * one Dovecot into a fresh, empty one over TLS: twinbox migrate against
 * mbsync (an IMAP-to-IMAP channel), interimap and the raw bound
 * (bench_copy.c), on loopback and at 25 ms each way; and twinbox's
 * config form with and without COMPRESS=DEFLATE on a 50 Mbit/s line
 * (BENCH_MIGRATE_LINE_N messages, default BENCH_MIGRATE_N), beside the
 * raw bound there. BENCH_MIGRATE_REPS runs per tool (default 1: a run
 * of 10,000 messages takes minutes); BENCH_MIGRATE_TRACE=1 keeps
 * twinbox's protocol trace in each run's log (with BENCH_KEEP=1).
 *
 * The watcher's parts (bench_watch.c; keys "watch-delivery",
 * "watch-local", "watch-idle", "watch-soak", "watch-mbsync",
 * "watch-offlineimap"; make bench-watch runs them) take over an hour at
 * issue 16's sizes, so they run only when BENCH_ONLY names them: the
 * latency of `twinbox watch` from a delivery on the server to the
 * Maildir and from a local change to the server, its cost while idle,
 * its memory over a soak, and the latencies of mbsync on a 60 s timer
 * and of OfflineIMAP in its IDLE mode. BENCH_WATCH_N, BENCH_WATCH_IDLE_S,
 * BENCH_WATCH_SOAK_S, BENCH_WATCH_PEER_N and BENCH_WATCH_SEED set their
 * sizes (see bench_watch.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_scenario.h"
#include "support/dovecot_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

/* twinbox's (and the raw bound's) server, and mbsync's: two instances
 * seeded alike, so a tool that pushes changes is checked on a server no
 * other tool has touched; push_server is the fresh one of one
 * initial-push run, which its tool reaches as push_via_proxy: a copy,
 * with the port of push_proxy in the latency scenario. */
static struct dovecot *server, *server_mb, *push_server;
static struct dovecot push_via_proxy;
static pid_t push_proxy;
static char bench_dir[] = "/tmp/twinbox-bench-XXXXXX";
static unsigned n_messages = 1000, n_large = 10000, n_inbox = 10000, reps = 5;
static unsigned n_migrate = 10000, n_line = 10000, migrate_reps = 1;
static const char *twinbox_bin;
static char self[PATH_MAX];

void bench_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (server)
		dovecot_stop(server);
	if (server_mb)
		dovecot_stop(server_mb);
	if (push_server)
		dovecot_stop(push_server);
	bench_pop3_stop();
	bench_huge_end();
	bench_set_end();
	bench_migrate_end();
	bench_watch_end();
	exit(2);
}

void bench_discard(const char *path)
{
	static unsigned n;
	char *trash = xasprintf("%s/trash", bench_dir);
	char *to = xasprintf("%s/%u", trash, n++);

	if (mkdir(trash, 0700) != 0 && errno != EEXIST)
		bench_fail("cannot create %s: %s", trash, strerror(errno));
	if (rename(path, to) != 0 && errno != ENOENT)
		bench_fail("cannot move %s to %s: %s", path, to, strerror(errno));
	free(trash);
	free(to);
}

void bench_discard_mail(struct dovecot *d)
{
	char *home = xasprintf("%s/" DV_HOME, d->dir);

	bench_discard(home);
	free(home);
}

static void fixture_fail(const char *msg)
{
	bench_fail("%s", msg);
}

/* ---- scenarios ------------------------------------------------------- */

/* The scenarios' tools. */
#define IMAP_PAIR {TOOL_TWINBOX_IMAP, TOOL_MBSYNC}, 2
#define POP3_PAIR {TOOL_TWINBOX_POP3, TOOL_MPOP}, 2

/* The order matters: the resyncs build on the initial pull's Maildirs,
 * and the local-flag scenario needs INBOX messages in cur/. */
const struct scenario scenarios[SC_COUNT] = {
    [SC_PULL] = {"pull", "initial pull", IMAP_PAIR, .fresh = true},
    [SC_RAW] = {"raw", "raw-fetch bound (one UID FETCH 1:* per folder, no Maildir)", {TOOL_RAW_FETCH}, 1},
    [SC_LARGE_PULL] = {"pull-large", "initial pull, large set", IMAP_PAIR, .fresh = true,
                       .set = BENCH_SET_LARGE},
    [SC_LARGE_RAW] = {"raw-large", "raw-fetch bound, large set", {TOOL_RAW_FETCH}, 1, .set = BENCH_SET_LARGE},
    [SC_NOCHANGE] = {"nochange", "no-change resync", IMAP_PAIR},
    [SC_FLAGS] = {"flags", "resync after 100 server flag changes", IMAP_PAIR, .change = bench_change_flags},
    [SC_NEW] = {"new", "resync after 100 new server messages", IMAP_PAIR, .change = bench_change_new_mail},
    [SC_LFLAGS] = {"lflags", "resync after 100 local flag changes", IMAP_PAIR, .local = bench_local_flags},
    [SC_LNEW] = {"lnew", "resync after 100 new local messages", IMAP_PAIR, .local = bench_local_new_mail},
    [SC_AFTER_SYNC] = {"after-sync", "no-change resync right after a sync", IMAP_PAIR,
                       .change = bench_change_answered, .prep = PREP_SYNC},
    [SC_NOCOND] = {"nocondstore", "no-change resync, server without CONDSTORE", IMAP_PAIR,
                   .set = BENCH_SET_NOCOND, .settled = true},
    [SC_INBOX_FRESH] = {"inbox-fresh", "no-change resync right after the pull, one folder", IMAP_PAIR,
                        .set = BENCH_SET_INBOX, .prep = PREP_PULL},
    [SC_INBOX_NOCHANGE] = {"inbox-nochange", "no-change resync, one folder", IMAP_PAIR,
                           .set = BENCH_SET_INBOX, .settled = true},
    [SC_INBOX_FLAGS] = {"inbox-flags", "resync after 100 server flag changes, one folder", IMAP_PAIR,
                        .change = bench_change_flags, .set = BENCH_SET_INBOX, .settled = true},
    [SC_INBOX_NEW] = {"inbox-new", "resync after 100 new server messages, one folder", IMAP_PAIR,
                      .change = bench_change_new_mail, .set = BENCH_SET_INBOX, .settled = true},
    [SC_INBOX_LFLAGS] = {"inbox-lflags", "resync after 100 local flag changes, one folder", IMAP_PAIR,
                         .local = bench_local_flags, .set = BENCH_SET_INBOX, .settled = true},
    [SC_INBOX_LNEW] = {"inbox-lnew", "resync after 100 new local messages, one folder", IMAP_PAIR,
                       .local = bench_local_new_mail, .set = BENCH_SET_INBOX, .settled = true},
    [SC_PUSH] = {"push", "initial push of N local messages to an empty server", IMAP_PAIR, .fresh = true,
                 .push = true},
    [SC_POP3] = {"pop3", "POP3 import of N messages (vs mpop)", POP3_PAIR, .fresh = true, .pop3 = true},
    [SC_LAT_PULL] = {"lat-pull", "initial pull, 25 ms each way", IMAP_PAIR, .fresh = true, .latency = true},
    [SC_LAT_NOCHANGE] = {"lat-nochange", "no-change resync, 25 ms each way", IMAP_PAIR, .latency = true},
    [SC_LAT_FLAGS] = {"lat-flags", "resync after 100 server flag changes, 25 ms each way", IMAP_PAIR,
                      .change = bench_change_flags, .latency = true},
    [SC_LAT_NEW] = {"lat-new", "resync after 100 new server messages, 25 ms each way", IMAP_PAIR,
                    .change = bench_change_new_mail, .latency = true},
    [SC_LAT_LFLAGS] = {"lat-lflags", "resync after 100 local flag changes, 25 ms each way", IMAP_PAIR,
                       .local = bench_local_flags, .latency = true},
    [SC_LAT_LNEW] = {"lat-lnew", "resync after 100 new local messages, 25 ms each way", IMAP_PAIR,
                     .local = bench_local_new_mail, .latency = true},
    [SC_LAT_PUSH] = {"lat-push", "initial push of N local messages, 25 ms each way", IMAP_PAIR, .fresh = true,
                     .push = true, .latency = true},
    [SC_LAT_POP3] = {"lat-pop3", "POP3 import of N messages (vs mpop), 25 ms each way", POP3_PAIR,
                     .fresh = true, .pop3 = true, .latency = true},
    [SC_HUGE_PULL] = {"huge", "huge message pull (one 205 MB message)", IMAP_PAIR, .fresh = true,
                      .huge = true},
    [SC_HUGE_PUSH] = {"huge", "huge message push (one 205 MB message)", IMAP_PAIR, .fresh = true,
                      .push = true, .huge = true},
    [SC_MIG_RAW] = {"migrate",
                    "migration: raw bound (one FETCH into one MULTIAPPEND per folder)",
                    {TOOL_RAW_COPY},
                    1,
                    .fresh = true,
                    .migrate = true},
    [SC_MIG] = {"migrate",
                "migration, Dovecot to Dovecot",
                {TOOL_TWINBOX_MIGRATE, TOOL_MBSYNC_MIGRATE},
                2,
                .fresh = true,
                .migrate = true},
    [SC_MIG_INTERIMAP] = {"migrate",
                          "migration: interimap (in twinbox's columns)",
                          {TOOL_INTERIMAP},
                          1,
                          .fresh = true,
                          .migrate = true},
    [SC_LAT_MIG_RAW] = {"lat-migrate",
                        "migration: raw bound, 25 ms each way",
                        {TOOL_RAW_COPY},
                        1,
                        .fresh = true,
                        .migrate = true,
                        .net = BENCH_NET_LATENCY},
    [SC_LAT_MIG] = {"lat-migrate",
                    "migration, 25 ms each way",
                    {TOOL_TWINBOX_MIGRATE, TOOL_MBSYNC_MIGRATE},
                    2,
                    .fresh = true,
                    .migrate = true,
                    .net = BENCH_NET_LATENCY},
    [SC_LAT_MIG_INTERIMAP] = {"lat-migrate",
                              "migration: interimap, 25 ms each way (in twinbox's columns)",
                              {TOOL_INTERIMAP},
                              1,
                              .fresh = true,
                              .migrate = true,
                              .net = BENCH_NET_LATENCY},
    [SC_LINE_MIG_RAW] = {"line-migrate",
                         "migration: raw bound, uncompressed, on a " BENCH_LINK_MBIT_TEXT " Mbit/s line",
                         {TOOL_RAW_COPY},
                         1,
                         .fresh = true,
                         .migrate = true,
                         .net = BENCH_NET_LINE},
    [SC_LINE_MIG] = {"line-migrate",
                     "migration on a " BENCH_LINK_MBIT_TEXT
                     " Mbit/s line, COMPRESS=DEFLATE vs compress: false",
                     {TOOL_TWINBOX_DEFLATE, TOOL_TWINBOX_PLAIN},
                     2,
                     .fresh = true,
                     .migrate = true,
                     .net = BENCH_NET_LINE,
                     .variants = true},
    /* make bench-watch's parts (bench_watch.c), only when named. */
    [SC_WATCH_DELIVERY] = {"watch-delivery",
                           "watch: server delivery -> Maildir",
                           {TOOL_TWINBOX_IMAP},
                           1,
                           .watch = true,
                           .part = WATCH_DELIVERY},
    [SC_WATCH_LOCAL] = {"watch-local",
                        "watch: local change -> server",
                        {TOOL_TWINBOX_IMAP},
                        1,
                        .watch = true,
                        .part = WATCH_LOCAL},
    [SC_WATCH_IDLE] =
        {"watch-idle", "watch: idle cost", {TOOL_TWINBOX_IMAP}, 1, .watch = true, .part = WATCH_IDLE},
    [SC_WATCH_SOAK] =
        {"watch-soak", "watch: soak", {TOOL_TWINBOX_IMAP}, 1, .watch = true, .part = WATCH_SOAK},
    [SC_WATCH_MBSYNC] = {"watch-mbsync",
                         "watch: mbsync on a 60 s timer",
                         {TOOL_MBSYNC},
                         1,
                         .watch = true,
                         .part = WATCH_MBSYNC},
    [SC_WATCH_OFFLINEIMAP] = {"watch-offlineimap",
                              "watch: OfflineIMAP in IDLE mode",
                              {TOOL_MBSYNC},
                              1,
                              .watch = true,
                              .part = WATCH_OFFLINEIMAP},
};

/* Issue 6's targets, then issue 13's. */
static const struct target targets[] = {
    {SC_LARGE_PULL, SC_COUNT, 0.5, "initial pull, large set <= 0.5 x mbsync"},
    {SC_LARGE_PULL, SC_LARGE_RAW, 1.5, "initial pull, large set <= 1.5 x the raw-fetch bound"},
    {SC_NOCHANGE, SC_COUNT, 1.0, "no-change resync <= 1.0 x mbsync"},
    {SC_FLAGS, SC_COUNT, 1.0, "flag-change resync <= 1.0 x mbsync"},
    {SC_NEW, SC_COUNT, 1.0, "new-mail resync <= 1.0 x mbsync"},
    {SC_LFLAGS, SC_COUNT, 1.0, "local-flag-change resync <= 1.0 x mbsync"},
    {SC_LNEW, SC_COUNT, 1.0, "new-local-mail resync (push) <= 1.0 x mbsync"},
    {SC_PUSH, SC_COUNT, 0.7, "initial push <= 0.7 x mbsync"},
    {SC_POP3, SC_COUNT, 1.0, "POP3 import <= 1.0 x mpop"},
    {SC_LAT_PULL, SC_COUNT, 0.7, "initial pull at 50 ms round trip <= 0.7 x mbsync"},
    {SC_LAT_NOCHANGE, SC_COUNT, 0.7, "no-change resync at 50 ms round trip <= 0.7 x mbsync"},
    {SC_LAT_FLAGS, SC_COUNT, 0.7, "flag-change resync at 50 ms round trip <= 0.7 x mbsync"},
    {SC_LAT_NEW, SC_COUNT, 0.7, "new-mail resync at 50 ms round trip <= 0.7 x mbsync"},
    {SC_LAT_LFLAGS, SC_COUNT, 0.7, "local-flag-change resync at 50 ms round trip <= 0.7 x mbsync"},
    {SC_LAT_LNEW, SC_COUNT, 0.7, "new-local-mail resync at 50 ms round trip <= 0.7 x mbsync"},
    {SC_LAT_PUSH, SC_COUNT, 0.7, "initial push at 50 ms round trip <= 0.7 x mbsync"},
    {SC_LAT_POP3, SC_COUNT, 0.7, "POP3 import at 50 ms round trip <= 0.7 x mpop"},
    {SC_AFTER_SYNC, SC_COUNT, 0.8, "no-change resync right after a sync <= 0.8 x mbsync"},
    {SC_NOCOND, SC_COUNT, 0.8, "no-change resync without CONDSTORE <= 0.8 x mbsync"},
    /* The migration's: twinbox migrate against mbsync, the raw bound and interimap. */
    {SC_MIG, SC_COUNT, 0.5, "migration <= 0.5 x mbsync"},
    {SC_MIG, SC_MIG_RAW, 1.5, "migration <= 1.5 x the raw bound"},
    {SC_MIG, SC_MIG_INTERIMAP, 0, "migration / interimap"},
    {SC_LAT_MIG, SC_COUNT, 0.5, "migration at 50 ms round trip <= 0.5 x mbsync"},
    {SC_LAT_MIG, SC_LAT_MIG_RAW, 1.5, "migration at 50 ms round trip <= 1.5 x the raw bound"},
    {SC_LAT_MIG, SC_LAT_MIG_INTERIMAP, 0, "migration at 50 ms round trip / interimap"},
    {SC_LINE_MIG, SC_COUNT, 0,
     "migration on a " BENCH_LINK_MBIT_TEXT " Mbit/s line: COMPRESS=DEFLATE / compress: false"},
    {SC_LINE_MIG, SC_LINE_MIG_RAW, 0,
     "migration on a " BENCH_LINK_MBIT_TEXT " Mbit/s line, COMPRESS=DEFLATE / the raw bound uncompressed"},
};
/* Issue 13's on the one-folder set, in either mode: every resync at most
 * half mbsync's time. */
const struct target inbox_targets[] = {
    {SC_INBOX_FRESH, SC_COUNT, 0.5, "one folder: no-change resync right after the pull <= 0.5 x mbsync"},
    {SC_INBOX_NOCHANGE, SC_COUNT, 0.5, "one folder: no-change resync <= 0.5 x mbsync"},
    {SC_INBOX_FLAGS, SC_COUNT, 0.5, "one folder: flag-change resync <= 0.5 x mbsync"},
    {SC_INBOX_NEW, SC_COUNT, 0.5, "one folder: new-mail resync <= 0.5 x mbsync"},
    {SC_INBOX_LFLAGS, SC_COUNT, 0.5, "one folder: local-flag-change resync <= 0.5 x mbsync"},
    {SC_INBOX_LNEW, SC_COUNT, 0.5, "one folder: new-local-mail resync (push) <= 0.5 x mbsync"},
};
const size_t inbox_target_count = sizeof(inbox_targets) / sizeof(inbox_targets[0]);
/* And in every two-tool scenario: twinbox's peak RSS <= the other's; in
 * these (of the mode's scenarios), twinbox's below `max_kb`. */
const struct rss_target rss_targets[] = {
    {SC_HUGE_PULL, 30 * 1024, "huge message pull: twinbox peak RSS < 30 MB"},
    {SC_HUGE_PUSH, 30 * 1024, "huge message push: twinbox peak RSS < 30 MB"},
};
const size_t rss_target_count = sizeof(rss_targets) / sizeof(rss_targets[0]);

/* Issue 6's scale targets ("every resync scenario <= 1.0 x mbsync": the
 * no-change one has the stricter 0.2). No target on the initial pull's
 * time. */
static const struct target scale_targets[] = {
    {SC_NOCHANGE, SC_COUNT, 0.2, "no-change resync <= 0.2 x mbsync"},
    {SC_FLAGS, SC_COUNT, 1.0, "flag-change resync <= 1.0 x mbsync"},
};

#define INBOX_SCENARIOS                                                                                      \
	(SC_BIT(SC_INBOX_FRESH) | SC_BIT(SC_INBOX_NOCHANGE) | SC_BIT(SC_INBOX_FLAGS) |                       \
	 SC_BIT(SC_INBOX_NEW) | SC_BIT(SC_INBOX_LFLAGS) | SC_BIT(SC_INBOX_LNEW))

const struct mode normal_mode = {
    .title = "twinbox bench",
    .scenarios = SC_BIT(SC_COUNT) - 1,
    .targets = targets,
    .target_count = sizeof(targets) / sizeof(targets[0]),
    .default_n = 1000,
    .min_n = 200,
    .default_inbox_n = 10000,
    .default_out = "build/bench.md",
};

const struct mode scale_mode = {
    .title = "twinbox bench: scale",
    .small_mail = true,
    .scenarios = SC_BIT(SC_PULL) | SC_BIT(SC_NOCHANGE) | SC_BIT(SC_FLAGS) | INBOX_SCENARIOS,
    .pull_once = true,
    .targets = scale_targets,
    .target_count = sizeof(scale_targets) / sizeof(scale_targets[0]),
    .default_n = 100000,
    .min_n = 20 * BENCH_FLAG_CHANGES, /* INBOX, a twentieth, must hold BENCH_FLAG_CHANGES */
    .default_inbox_n = 50000,
    .default_out = "build/bench-scale.md",
};

const struct mode *mode = &normal_mode;
struct result results[SC_COUNT];

static struct bench_tool tools[TOOL_RAW_FETCH + 1];
/* twinbox and mbsync again, with their own Maildirs, connecting through
 * the latency proxies: `lat_server`s are copies of the servers' structs
 * with the proxies' ports (never stopped through these). */
static struct bench_tool lat_tools[TOOL_MBSYNC + 1];
static struct dovecot lat_server[TOOL_MBSYNC + 1];
static pid_t proxy_pid[TOOL_MBSYNC + 1];

/* How far each set's Maildirs are (see `settled` in struct scenario). */
static enum { SET_SEEDED, SET_PULLED, SET_SETTLED } set_stage[BENCH_SET_COUNT];

static struct bench_tool *scenario_tool(const struct scenario *sc, size_t i)
{
	if (sc->set != BENCH_SET_MAIN)
		return bench_set_tool(sc->set, sc->tool[i]);
	if (sc->pop3)
		return bench_pop3_tool(sc->tool[i]);
	return sc->latency ? &lat_tools[sc->tool[i]] : &tools[sc->tool[i]];
}

/* Whether the scenario's servers (or what it checks of them) hold INBOX
 * only. */
static bool inbox_only(const struct scenario *sc)
{
	return sc->pop3 || sc->push || bench_set_inbox_only(sc->set);
}

static unsigned migrate_n(const struct scenario *sc)
{
	return sc->net == BENCH_NET_LINE ? n_line : n_migrate;
}

const char *scenario_name(enum scenario_id id)
{
	static char name[128];
	unsigned n = scenarios[id].set == BENCH_SET_LARGE   ? n_large
	             : scenarios[id].set == BENCH_SET_INBOX ? n_inbox
	             : scenarios[id].migrate                ? migrate_n(&scenarios[id])
	                                                    : 0;

	if (!n)
		return scenarios[id].name;
	snprintf(name, sizeof(name), "%s (%u messages)", scenarios[id].name, n);
	return name;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* An initial push: a fresh Dovecot with an empty INBOX, the tool's
 * Maildir holding N messages of realistic sizes (all seen, every tenth
 * flagged) and no state. Returns the tool (free with push_end()). */
static struct bench_tool *push_begin(enum bench_tool_kind kind, bool latency, struct bench_expect *e_r)
{
	struct bench_tool *t = xcalloc(1, sizeof(*t));
	char *dir = xasprintf("%s/push", bench_dir);

	if (mkdir(dir, 0700) != 0)
		bench_fail("cannot create %s: %s", dir, strerror(errno));
	push_server = dovecot_start();
	push_via_proxy = *push_server;
	if (latency)
		push_proxy = bench_proxy_start(push_server->imaps_port, BENCH_PROXY_DELAY_MS,
		                               &push_via_proxy.imaps_port);
	bench_tool_init(t, kind, dir, &push_via_proxy, twinbox_bin, self);
	bench_maildir_add(t->maildir, n_messages, 70000000u, 250000, 10);
	e_r->messages = n_messages;
	e_r->flagged = (n_messages + 9) / 10;
	e_r->answered = 0;
	e_r->bytes = 0;
	free(dir);
	return t;
}

static void push_end(struct bench_tool *t)
{
	char *dir = xasprintf("%s/push", bench_dir);

	bench_discard_mail(push_server);
	if (push_proxy)
		bench_proxy_stop(push_proxy);
	push_proxy = 0;
	dovecot_stop(push_server);
	push_server = NULL;
	bench_tool_free(t);
	free(t);
	bench_discard(dir);
	free(dir);
}

/* An untimed run of `t`, which must leave its Maildir holding `e` (and,
 * unless `quick`, its server too); says why not. */
static bool untimed_run(struct bench_tool *t, const struct bench_expect *e, bool inbox, bool quick)
{
	struct bench_sample s;

	bench_tool_run(t, &s);
	if (s.ok && !(quick ? bench_maildir_holds(t, e) : bench_complete(t, e, inbox, false))) {
		s.ok = false;
		bench_print_tail(t->log, 2000);
	}
	if (!s.ok)
		fprintf(stderr, "  %s: the untimed run before the timed one FAILED\n", t->name);
	return s.ok;
}

/* twinbox's trace must show the server's capabilities and no CONDSTORE:
 * a server that offers it would measure something else. */
static void check_no_condstore(struct bench_tool *t)
{
	struct bench_sample s;
	char *log = NULL;
	size_t len;
	struct error err;

	bench_tool_run_traced(t, &s);
	if (!s.ok)
		return; /* the settling run that follows reports it */
	if (fs_read_file(t->log, 64u << 20, &log, &len, &err) < 0)
		bench_fail("%s", err.text);
	if (!strstr(log, "IMAP4rev1") || strstr(log, "CONDSTORE") || strstr(log, "QRESYNC"))
		bench_fail("the set without CONDSTORE: twinbox's trace (%s) %s", t->log,
		           strstr(log, "IMAP4rev1") ? "shows CONDSTORE or QRESYNC" : "shows no capabilities");
	free(log);
}

/* Before a settled scenario's first run: each tool's initial pull (unless
 * done), then, once the Maildirs' times are older than any tool's safety
 * margin (twinbox's 3 s where the filesystem keeps whole seconds only),
 * one untimed sync. A tool whose runs fail has its scenario FAILED. */
static void settle(const struct scenario *sc, struct result *r)
{
	bool ok = true;

	if (set_stage[sc->set] == SET_SETTLED)
		return;
	for (size_t i = 0; i < sc->tool_count && set_stage[sc->set] < SET_PULLED; i++) {
		struct bench_tool *t = scenario_tool(sc, i);
		struct bench_expect e = bench_server_holds(t->server, inbox_only(sc));

		printf("  initial pull of %s (untimed)\n", t->name);
		bench_tool_reset(t);
		r->ok[i] = untimed_run(t, &e, inbox_only(sc), false);
		ok &= r->ok[i];
	}
	if (ok)
		set_stage[sc->set] = SET_PULLED;
	printf("  settling: 3.1 s, then one untimed sync per tool\n");
	nanosleep(&(struct timespec){3, 100000000}, NULL);
	for (size_t i = 0; i < sc->tool_count; i++) {
		struct bench_tool *t = scenario_tool(sc, i);
		struct bench_expect e = bench_server_holds(t->server, inbox_only(sc));

		if (!r->ok[i])
			continue;
		if (t->kind == TOOL_TWINBOX_IMAP && bench_set_hides_condstore(sc->set))
			check_no_condstore(t);
		r->ok[i] = untimed_run(t, &e, inbox_only(sc), false);
		ok &= r->ok[i];
	}
	if (ok)
		set_stage[sc->set] = SET_SETTLED;
}

/* One run of the scenario's tool `i` (repetition `rep`), checked. */
static void run_tool(const struct scenario *sc, size_t i, unsigned rep, struct bench_sample *s_r)
{
	struct bench_tool *t = scenario_tool(sc, i);
	struct bench_expect e;

	if (sc->huge) {
		bench_huge_run(sc->tool[i], sc->push, bench_dir, twinbox_bin, self, s_r);
		return;
	}
	if (sc->migrate) {
		bench_migrate_run(sc->tool[i], sc->net, migrate_n(sc), bench_dir, twinbox_bin, self, s_r);
		return;
	}
	if (sc->push) {
		t = push_begin(sc->tool[i], sc->latency, &e);
	} else {
		if (sc->fresh || sc->prep == PREP_PULL)
			bench_tool_reset(t);
		e = bench_server_holds(t->server, inbox_only(sc));
		if (sc->pop3)
			e.messages = n_messages; /* and the server must still hold them */
		if (sc->local)
			sc->local(t, rep, &e);
	}
	if (sc->local || sc->push) {
		/* A user's changes are rarely younger than a second when
		 * the sync starts; tools that wait out a directory changed
		 * in the current second (mbsync does) should not pay for
		 * the bench's haste. */
		struct timespec settle = {1, 100000000};
		nanosleep(&settle, NULL);
	}
	/* The untimed run of a sync that changed something, or of the
	 * initial pull, then at once the timed one. */
	if (sc->prep != PREP_NONE && !untimed_run(t, &e, inbox_only(sc), true)) {
		*s_r = (struct bench_sample){false, 0, 0, 0};
		return;
	}
	bench_tool_run(t, s_r);
	if (s_r->ok && !bench_complete(t, &e, inbox_only(sc), sc->pop3)) {
		s_r->ok = false;
		bench_print_tail(t->log, 2000);
	}
	if (sc->push)
		push_end(t);
}

static void run_scenario(enum scenario_id id)
{
	const struct scenario *sc = &scenarios[id];
	struct result *r = &results[id];
	unsigned n = (mode->pull_once && (id == SC_PULL || sc->prep == PREP_PULL)) || sc->huge ? 1
	             : sc->migrate                                                             ? migrate_reps
	                                                                                       : reps;
	double secs[2][MAX_REPS];

	printf("== %s\n", scenario_name(id));
	if (sc->watch) {
		r->run = true;
		r->reps = 1;
		r->ok[0] = bench_watch_run(sc->part, bench_dir, twinbox_bin);
		return;
	}
	if (sc->pop3) {
		char *dir = sc->latency ? xasprintf("%s/latency", bench_dir) : xstrdup(bench_dir);
		bench_pop3_begin(n_messages, dir, sc->latency, twinbox_bin, self);
		free(dir);
	}
	bench_set_begin(sc->set,
	                sc->set == BENCH_SET_LARGE   ? n_large
	                : sc->set == BENCH_SET_INBOX ? n_inbox
	                                             : n_messages,
	                bench_dir, twinbox_bin, self);
	r->run = true;
	r->ok[0] = r->ok[1] = true;
	r->reps = n;
	if (sc->settled)
		settle(sc, r);
	/* Its own initial pulls leave a set pulled, not settled. */
	if (sc->prep == PREP_PULL)
		set_stage[sc->set] = SET_PULLED;
	for (unsigned rep = 0; rep < n; rep++) {
		if (sc->change) {
			/* Each IMAP tool has its own server (see server_mb). */
			for (size_t k = 0; k < sc->tool_count; k++)
				sc->change(scenario_tool(sc, k)->server, rep);
		}
		if (sc->tool[0] == TOOL_RAW_FETCH) {
			struct bench_tool *raw = scenario_tool(sc, 0);
			raw->expect_messages = bench_server_holds(raw->server, false).messages;
		}
		printf("  rep %u/%u:", rep + 1, n);
		fflush(stdout);
		for (size_t k = 0; k < sc->tool_count; k++) {
			/* Alternate the order, so neither tool always meets
			 * the warmer cache. */
			size_t i = rep % 2 == 0 ? k : sc->tool_count - 1 - k;
			struct bench_sample s;

			run_tool(sc, i, rep, &s);
			r->ok[i] &= s.ok;
			secs[i][rep] = s.seconds;
			r->seconds[i][rep] = s.seconds;
			if (s.rss_kb > r->rss_kb[i])
				r->rss_kb[i] = s.rss_kb;
			printf(" %s %.2f s%s", bench_tool_name(sc->tool[i]), s.seconds,
			       s.ok ? "" : " FAILED");
			fflush(stdout);
		}
		printf("\n");
	}
	for (size_t i = 0; i < sc->tool_count; i++) {
		qsort(secs[i], n, sizeof(double), cmp_double);
		r->median[i] = secs[i][n / 2];
	}
	if (sc->pop3)
		bench_pop3_end();
}

/* BENCH_ONLY=key,key...: run those scenarios of the mode (and the
 * initial pull a resync builds on); unset: all of them. */
static bool wanted(enum scenario_id id, const char *only)
{
	size_t len = strlen(scenarios[id].key);

	if (!(mode->scenarios & SC_BIT(id)))
		return false;
	/* make bench-watch's parts take over an hour: never by default. */
	if (!only || !*only)
		return !scenarios[id].watch;
	for (const char *p = only; *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && strncmp(p, scenarios[id].key, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	if (id == SC_PULL)
		for (int k = SC_NOCHANGE; k <= SC_AFTER_SYNC; k++)
			if (wanted((enum scenario_id)k, only))
				return true;
	if (id == SC_LAT_PULL)
		for (int k = SC_LAT_NOCHANGE; k <= SC_LAT_LNEW; k++)
			if (wanted((enum scenario_id)k, only))
				return true;
	return false;
}

static void check_only(const char *only)
{
	for (const char *p = only; p && *p;) {
		size_t n = strcspn(p, ",");
		bool known = false;
		for (int id = 0; id < SC_COUNT; id++)
			known |= (mode->scenarios & SC_BIT(id)) && strlen(scenarios[id].key) == n &&
			         strncmp(p, scenarios[id].key, n) == 0;
		if (!known) {
			struct buf keys = BUF_INIT;

			for (int id = 0; id < SC_COUNT; id++)
				if ((mode->scenarios & SC_BIT(id)) &&
				    (id == 0 || strcmp(scenarios[id - 1].key, scenarios[id].key) != 0))
					buf_printf(&keys, "%s%s", keys.len ? ", " : "", scenarios[id].key);
			bench_fail("BENCH_ONLY: no scenario \"%.*s\" (%s)", (int)n, p, buf_cstr(&keys));
		}
		p += n + (p[n] == ',');
	}
}

/* The main servers, seeded alike, their tools, and their latency
 * proxies and tools. */
static void main_servers_begin(bool latency, double start, struct bench_expect *initial_r)
{
	server = dovecot_start();
	server_mb = dovecot_start();
	printf("Seeding %u messages (twice: one server for twinbox, one for mbsync)...\n", n_messages);
	bench_seed(server, n_messages);
	if (mode == &scale_mode)
		printf("  twinbox's server seeded (%.0f s)\n", bench_now() - start);
	bench_seed(server_mb, n_messages);
	if (mode == &scale_mode)
		printf("  mbsync's server seeded (%.0f s)\n", bench_now() - start);
	*initial_r = bench_server_holds(server, false);
	/* The POP3 tools are set up with their server (bench_pop3_begin). */
	for (int k = 0; k <= TOOL_RAW_FETCH; k++)
		if (k != TOOL_TWINBOX_POP3 && k != TOOL_MPOP)
			bench_tool_init(&tools[k], (enum bench_tool_kind)k, bench_dir,
			                k == TOOL_MBSYNC ? server_mb : server, twinbox_bin, self);
	if (latency) {
		char *lat_dir = xasprintf("%s/latency", bench_dir);

		if (mkdir(lat_dir, 0700) != 0)
			bench_fail("cannot create %s: %s", lat_dir, strerror(errno));
		for (int k = TOOL_TWINBOX_IMAP; k <= TOOL_MBSYNC; k++) {
			lat_server[k] = *tools[k].server;
			proxy_pid[k] = bench_proxy_start(tools[k].server->imaps_port, BENCH_PROXY_DELAY_MS,
			                                 &lat_server[k].imaps_port);
			bench_tool_init(&lat_tools[k], (enum bench_tool_kind)k, lat_dir, &lat_server[k],
			                twinbox_bin, self);
		}
		free(lat_dir);
	}
}

/* Whether a scenario to run works on the main servers. */
static bool needs_main_servers(const char *only)
{
	for (int id = 0; id < SC_COUNT; id++) {
		const struct scenario *sc = &scenarios[id];

		if (sc->set == BENCH_SET_MAIN && !sc->pop3 && !sc->push && !sc->huge && !sc->migrate &&
		    !sc->watch && wanted((enum scenario_id)id, only))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *bin = getenv("TWINBOX_BIN") ? getenv("TWINBOX_BIN") : "build/twinbox";
	const char *out = getenv("BENCH_OUT");
	bool latency;
	double start;
	ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct buf report = BUF_INIT;
	struct bench_expect initial = {0, 0, 0, 0};
	struct error err;
	unsigned missed;

	if (argc > 1 && strcmp(argv[1], BENCH_RAW_FETCH_ARG) == 0)
		return bench_raw_fetch_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], BENCH_RAW_COPY_ARG) == 0)
		return bench_raw_copy_main(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_spawner_start();
	start = bench_now();
	if (argc > 1 && strcmp(argv[1], "--scale") == 0)
		mode = &scale_mode;
	else if (argc > 1)
		bench_fail("usage: %s [--scale]", argv[0]);
	if (!out || !*out)
		out = mode->default_out;
	bench_mail_choose(mode->small_mail);
	latency = (mode->scenarios & SC_BIT(SC_LAT_PULL)) != 0;
	n_messages = bench_env_number("BENCH_N", mode->default_n, mode->min_n, 200000);
	n_large = bench_env_number("BENCH_LARGE_N", 10000, mode->min_n, 200000);
	n_inbox = bench_env_number("BENCH_INBOX_N", mode->default_inbox_n, 2 * BENCH_FLAG_CHANGES, 200000);
	reps = bench_env_number("BENCH_REPS", 5, 1, MAX_REPS);
	n_migrate = bench_env_number("BENCH_MIGRATE_N", 10000, 200, 200000);
	n_line = bench_env_number("BENCH_MIGRATE_LINE_N", n_migrate, 200, 200000);
	migrate_reps = bench_env_number("BENCH_MIGRATE_REPS", 1, 1, MAX_REPS);
	check_only(getenv("BENCH_ONLY"));
	dv_fail_handler = fixture_fail;
	if (self_len <= 0)
		bench_fail("cannot find this program's path in /proc/self/exe");
	self[self_len] = '\0';
	if (access(bin, X_OK) != 0)
		bench_fail("cannot run %s (set TWINBOX_BIN)", bin);
	if (!mkdtemp(bench_dir))
		bench_fail("cannot create a scratch directory in /tmp");
	twinbox_bin = bin;
	if (needs_main_servers(getenv("BENCH_ONLY")))
		main_servers_begin(latency, start, &initial);
	else
		latency = false;
	for (int id = 0; id < SC_COUNT; id++)
		if (wanted((enum scenario_id)id, getenv("BENCH_ONLY")))
			run_scenario((enum scenario_id)id);
	bench_huge_end();
	bench_set_end();
	bench_migrate_end();
	bench_watch_end();

	report_describe(&report, &initial, reps, bench_dir);
	report_table(&report);
	if (mode == &scale_mode)
		report_runs(&report);
	missed = report_targets(&report);
	buf_printf(&report, "\n%u target(s) missed.\n", missed);
	printf("\n%s", buf_cstr(&report));
	if (fs_write_atomic(out, report.data, report.len, 0644, &err) < 0)
		fprintf(stderr, "bench: %s\n", err.text);
	else
		printf("Written to %s\n", out);
	if (mode == &scale_mode)
		printf("Bench wall time: %.0f s\n", bench_now() - start);

	for (int k = TOOL_TWINBOX_IMAP; k <= TOOL_MBSYNC && latency; k++) {
		bench_proxy_stop(proxy_pid[k]);
		bench_tool_free(&lat_tools[k]);
	}
	if (server)
		dovecot_stop(server);
	server = NULL;
	if (server_mb)
		dovecot_stop(server_mb);
	server_mb = NULL;
	bench_spawner_stop();
	for (int k = 0; k <= TOOL_RAW_FETCH; k++)
		if (k != TOOL_TWINBOX_POP3 && k != TOOL_MPOP)
			bench_tool_free(&tools[k]);
	if (getenv("BENCH_KEEP"))
		printf("Scratch directory kept: %s\n", bench_dir);
	else if (dv_rmtree(bench_dir, &err) < 0)
		fprintf(stderr, "bench: %s\n", err.text);
	buf_free(&report);
	return missed ? 1 : 0;
}
