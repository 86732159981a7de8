/*
 * make bench: twinbox against mbsync (IMAP) and mpop (POP3) on throwaway
 * Dovecots in the same run (issue 6, first part).
 *
 * The server gets N messages of deterministic mail of realistic sizes
 * (bench_mail.c: 2 KB text to multi-MB attachments, nested folders, some
 * flags). The initial pull and the raw-fetch bound run again on the
 * large set (bench_large.c, keys "pull-large" and "raw-large"):
 * BENCH_LARGE_N messages of the same mix on servers of their own, where
 * issue 6 sets the initial pull's targets (N = 10,000). The POP3 import
 * (key "pop3") runs on a Dovecot of its own whose INBOX holds N messages
 * of the same mix, all left on the server. Each scenario runs
 * every tool BENCH_REPS times, alternating which goes first, and reports
 * the median wall time, the twinbox/other ratio and the peak RSS (from
 * wait4). A run counts only when the tool exited 0 and its Maildir holds
 * what the server holds (message count, \Flagged count): a fast wrong
 * answer cannot win. The table goes to stdout and to BENCH_OUT; the exit
 * status is 1 when a target of issue 6 (the table `targets` below) is
 * missed or a run FAILED, 2 when the bench itself could not run.
 *
 * With the argument --scale (make bench-scale), the scale scenario of
 * issue 6 instead: N small plain-text messages over 20 folders, the
 * initial pull once per tool, then the no-change and the flag-change
 * resyncs against mbsync, with the scale targets (`scale_mode`).
 *
 * Environment: BENCH_N (messages, default 1000; 100000 with --scale),
 * BENCH_LARGE_N (the large set, default 10000), BENCH_REPS (default
 * 5), TWINBOX_BIN (default build/twinbox), BENCH_OUT (default
 * build/bench.md; build/bench-scale.md with --scale), BENCH_KEEP=1 keeps
 * the scratch directory, BENCH_ONLY (comma-separated scenario keys, see
 * `scenarios`) runs only those.
 *
 * The huge-message scenarios (bench_huge.c, key "huge") sync one 205 MB
 * message each way on fresh Dovecots of their own, once per tool
 * whatever BENCH_REPS says: they are about peak RSS.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "support/dovecot_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define MAX_REPS 9

/* twinbox's (and the raw bound's) server, and mbsync's: two instances
 * seeded alike, so a tool that pushes changes is checked on a server no
 * other tool has touched; push_server is the fresh one of one
 * initial-push run, which its tool reaches as push_via_proxy: a copy,
 * with the port of push_proxy in the latency scenario. */
static struct dovecot *server, *server_mb, *push_server;
static struct dovecot push_via_proxy;
static pid_t push_proxy;
static char bench_dir[] = "/tmp/twinbox-bench-XXXXXX";
static unsigned n_messages = 1000, n_large = 10000, reps = 5;
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
	bench_large_end();
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

enum scenario_id {
	SC_PULL,
	SC_RAW,
	SC_LARGE_PULL,
	SC_LARGE_RAW,
	SC_NOCHANGE,
	SC_FLAGS,
	SC_NEW,
	SC_LFLAGS,
	SC_LNEW,
	SC_PUSH,
	SC_POP3,
	SC_LAT_PULL,
	SC_LAT_NOCHANGE,
	SC_LAT_FLAGS,
	SC_LAT_NEW,
	SC_LAT_LFLAGS,
	SC_LAT_LNEW,
	SC_LAT_PUSH,
	SC_LAT_POP3,
	SC_HUGE_PULL,
	SC_HUGE_PUSH,
	SC_COUNT
};

/* The scenarios' tools. */
#define IMAP_PAIR {TOOL_TWINBOX_IMAP, TOOL_MBSYNC}, 2
#define POP3_PAIR {TOOL_TWINBOX_POP3, TOOL_MPOP}, 2

/* The order matters: the resyncs build on the initial pull's Maildirs,
 * and the local-flag scenario needs INBOX messages in cur/. */
static const struct scenario {
	const char *key; /* for BENCH_ONLY */
	const char *name;
	enum bench_tool_kind tool[2];
	size_t tool_count;
	bool fresh; /* each run starts from nothing */
	/* On every tool's server before each repetition. */
	void (*change)(struct dovecot *d, unsigned rep);
	/* In the tool's Maildir before each run; adjusts what its server
	 * must hold afterwards. */
	void (*local)(struct bench_tool *t, unsigned rep, struct bench_expect *e);
	bool push;    /* each run: N local messages into a fresh, empty server */
	bool pop3;    /* on the POP3 server (bench_pop3.c), no flags check */
	bool latency; /* through the proxies (lat_tools) */
	bool huge;    /* bench_huge_run() once per tool (pull, or push) */
	bool large;   /* on the large set (bench_large.c) */
} scenarios[SC_COUNT] = {
    [SC_PULL] = {"pull", "initial pull", IMAP_PAIR, .fresh = true},
    [SC_RAW] = {"raw", "raw-fetch bound (one UID FETCH 1:* per folder, no Maildir)", {TOOL_RAW_FETCH}, 1},
    [SC_LARGE_PULL] = {"pull-large", "initial pull, large set", IMAP_PAIR, .fresh = true, .large = true},
    [SC_LARGE_RAW] = {"raw-large", "raw-fetch bound, large set", {TOOL_RAW_FETCH}, 1, .large = true},
    [SC_NOCHANGE] = {"nochange", "no-change resync", IMAP_PAIR},
    [SC_FLAGS] = {"flags", "resync after 100 server flag changes", IMAP_PAIR, .change = bench_change_flags},
    [SC_NEW] = {"new", "resync after 100 new server messages", IMAP_PAIR, .change = bench_change_new_mail},
    [SC_LFLAGS] = {"lflags", "resync after 100 local flag changes", IMAP_PAIR, .local = bench_local_flags},
    [SC_LNEW] = {"lnew", "resync after 100 new local messages", IMAP_PAIR, .local = bench_local_new_mail},
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
};

/* Issue 6's targets. `ref` SC_COUNT: against the other tool of the same
 * scenario; else against that scenario's first tool (the raw bound). */
static const struct target {
	enum scenario_id scenario;
	enum scenario_id ref;
	double max_ratio;
	const char *text;
} targets[] = {
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
};
/* And in every two-tool scenario: twinbox's peak RSS <= the other's; in
 * these (of the mode's scenarios), twinbox's below `max_kb`. */
static const struct rss_target {
	enum scenario_id scenario;
	long max_kb;
	const char *text;
} rss_targets[] = {
    {SC_HUGE_PULL, 30 * 1024, "huge message pull: twinbox peak RSS < 30 MB"},
    {SC_HUGE_PUSH, 30 * 1024, "huge message push: twinbox peak RSS < 30 MB"},
};

/* Issue 6's scale targets ("every resync scenario <= 1.0 x mbsync": the
 * no-change one has the stricter 0.2). No target on the initial pull's
 * time. */
static const struct target scale_targets[] = {
    {SC_NOCHANGE, SC_COUNT, 0.2, "no-change resync <= 0.2 x mbsync"},
    {SC_FLAGS, SC_COUNT, 1.0, "flag-change resync <= 1.0 x mbsync"},
};

/* What a run of the bench measures: make bench, or make bench-scale
 * (--scale). */
struct mode {
	const char *title;
	bool small_mail;    /* bench_mail_choose */
	unsigned scenarios; /* bit (1u << id) per scenario it can run */
	bool pull_once;     /* the initial pull once per tool, not BENCH_REPS times */
	const struct target *targets;
	size_t target_count;
	unsigned default_n, min_n;
	const char *default_out;
};

static const struct mode normal_mode = {
    .title = "twinbox bench",
    .scenarios = (1u << SC_COUNT) - 1,
    .targets = targets,
    .target_count = sizeof(targets) / sizeof(targets[0]),
    .default_n = 1000,
    .min_n = 200,
    .default_out = "build/bench.md",
};

static const struct mode scale_mode = {
    .title = "twinbox bench: scale",
    .small_mail = true,
    .scenarios = 1u << SC_PULL | 1u << SC_NOCHANGE | 1u << SC_FLAGS,
    .pull_once = true,
    .targets = scale_targets,
    .target_count = sizeof(scale_targets) / sizeof(scale_targets[0]),
    .default_n = 100000,
    .min_n = 20 * BENCH_FLAG_CHANGES, /* INBOX, a twentieth, must hold BENCH_FLAG_CHANGES */
    .default_out = "build/bench-scale.md",
};

static const struct mode *mode = &normal_mode;

struct result {
	bool run;
	bool ok[2];
	double median[2];
	long rss_kb[2]; /* the highest of the repetitions */
	unsigned reps;
	double seconds[2][MAX_REPS]; /* each repetition's, in order */
};

static struct bench_tool tools[TOOL_RAW_FETCH + 1];
/* twinbox and mbsync again, with their own Maildirs, connecting through
 * the latency proxies: `lat_server`s are copies of the servers' structs
 * with the proxies' ports (never stopped through these). */
static struct bench_tool lat_tools[TOOL_MBSYNC + 1];
static struct dovecot lat_server[TOOL_MBSYNC + 1];
static pid_t proxy_pid[TOOL_MBSYNC + 1];

static struct bench_tool *scenario_tool(const struct scenario *sc, size_t i)
{
	if (sc->large)
		return bench_large_tool(sc->tool[i]);
	if (sc->pop3)
		return bench_pop3_tool(sc->tool[i]);
	return sc->latency ? &lat_tools[sc->tool[i]] : &tools[sc->tool[i]];
}
/* The scenario's name for the report, with the large set's size. */
static const char *scenario_name(enum scenario_id id)
{
	static char name[128];

	if (!scenarios[id].large)
		return scenarios[id].name;
	snprintf(name, sizeof(name), "%s (%u messages)", scenarios[id].name, n_large);
	return name;
}

static struct result results[SC_COUNT];

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

/* One run of the scenario's tool `i` (repetition `rep`), checked. */
static void run_tool(const struct scenario *sc, size_t i, unsigned rep, struct bench_sample *s_r)
{
	struct bench_tool *t = scenario_tool(sc, i);
	struct bench_expect e;

	if (sc->huge) {
		bench_huge_run(sc->tool[i], sc->push, bench_dir, twinbox_bin, self, s_r);
		return;
	}
	if (sc->push) {
		t = push_begin(sc->tool[i], sc->latency, &e);
	} else {
		if (sc->fresh)
			bench_tool_reset(t);
		e = bench_server_holds(t->server, sc->pop3);
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
	bench_tool_run(t, s_r);
	if (s_r->ok && !bench_complete(t, &e, sc->pop3 || sc->push, sc->pop3)) {
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
	unsigned n = (mode->pull_once && id == SC_PULL) || sc->huge ? 1 : reps;
	double secs[2][MAX_REPS];

	printf("== %s\n", scenario_name(id));
	if (sc->pop3) {
		char *dir = sc->latency ? xasprintf("%s/latency", bench_dir) : xstrdup(bench_dir);
		bench_pop3_begin(n_messages, dir, sc->latency, twinbox_bin, self);
		free(dir);
	}
	if (sc->large)
		bench_large_begin(n_large, bench_dir, twinbox_bin, self);
	r->run = true;
	r->ok[0] = r->ok[1] = true;
	r->reps = n;
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

/* ---- report ---------------------------------------------------------- */

static void cell_time(struct buf *b, const struct result *r, size_t i)
{
	if (!r->ok[i])
		buf_printf(b, " FAILED |");
	else
		buf_printf(b, " %.2f |", r->median[i]);
}

static void build_table(struct buf *b)
{
	buf_printf(b, "| scenario | twinbox s | mbsync s | ratio | twinbox RSS MB | mbsync RSS MB |\n");
	buf_printf(b, "|---|---:|---:|---:|---:|---:|\n");
	for (size_t id = 0; id < SC_COUNT; id++) {
		const struct scenario *sc = &scenarios[id];
		const struct result *r = &results[id];

		if (!r->run)
			continue;
		buf_printf(b, "| %s |", scenario_name(id));
		cell_time(b, r, 0);
		if (sc->tool_count == 2) {
			cell_time(b, r, 1);
			if (r->ok[0] && r->ok[1] && r->median[1] > 0)
				buf_printf(b, " %.2f |", r->median[0] / r->median[1]);
			else
				buf_printf(b, " - |");
			buf_printf(b, " %.1f | %.1f |\n", r->rss_kb[0] / 1024.0, r->rss_kb[1] / 1024.0);
		} else {
			buf_printf(b, " - | - | %.1f | - |\n", r->rss_kb[0] / 1024.0);
		}
	}
}

/* Every repetition's time, in the order run (the scale report: a median
 * hides twinbox's first, full no-change resync). */
static void list_runs(struct buf *b)
{
	buf_printf(b, "\nRuns in order (s):\n\n");
	for (size_t id = 0; id < SC_COUNT; id++) {
		const struct scenario *sc = &scenarios[id];
		const struct result *r = &results[id];

		if (!r->run)
			continue;
		buf_printf(b, "- %s:", scenario_name(id));
		for (size_t i = 0; i < sc->tool_count; i++) {
			buf_printf(b, "%s %s", i ? ";" : "", bench_tool_name(sc->tool[i]));
			for (unsigned rep = 0; rep < r->reps; rep++)
				buf_printf(b, "%s %.2f", rep ? "," : "", r->seconds[i][rep]);
		}
		buf_printf(b, "\n");
	}
}

/* Appends the targets with their verdicts; returns how many were missed. */
static unsigned check_targets(struct buf *b)
{
	unsigned missed = 0;

	buf_printf(b, "\n| target (issue 6) | measured | verdict |\n|---|---:|---|\n");
	for (size_t i = 0; i < mode->target_count; i++) {
		const struct target *t = &mode->targets[i];
		const struct result *r = &results[t->scenario];
		bool have_ref = t->ref == SC_COUNT ? r->ok[1] : results[t->ref].ok[0];
		double ref = t->ref == SC_COUNT ? r->median[1] : results[t->ref].median[0];

		if (!r->run || (t->ref != SC_COUNT && !results[t->ref].run)) {
			buf_printf(b, "| %s | - | not run (BENCH_ONLY) |\n", t->text);
			continue;
		}
		if (!r->ok[0] || !have_ref || ref <= 0) {
			buf_printf(b, "| %s | - | MISSED (a run FAILED) |\n", t->text);
			missed++;
			continue;
		}
		double ratio = r->median[0] / ref;
		bool met = ratio <= t->max_ratio;
		buf_printf(b, "| %s | %.2f x | %s |\n", t->text, ratio, met ? "met" : "MISSED");
		missed += !met;
	}
	for (size_t i = 0; i < sizeof(rss_targets) / sizeof(rss_targets[0]); i++) {
		const struct rss_target *t = &rss_targets[i];
		const struct result *r = &results[t->scenario];
		bool met = r->ok[0] && r->rss_kb[0] < t->max_kb;

		if (!(mode->scenarios & (1u << t->scenario)))
			continue;
		if (!r->run)
			buf_printf(b, "| %s | - | not run (BENCH_ONLY) |\n", t->text);
		else if (!r->ok[0])
			buf_printf(b, "| %s | - | MISSED (a run FAILED) |\n", t->text);
		else
			buf_printf(b, "| %s | %.1f MB | %s |\n", t->text, r->rss_kb[0] / 1024.0,
			           met ? "met" : "MISSED");
		missed += r->run && !met;
	}
	for (size_t id = 0; id < SC_COUNT; id++) {
		const struct result *r = &results[id];

		if (scenarios[id].tool_count < 2 || !r->run)
			continue;
		/* A FAILED run's peak says nothing (the huge scenarios have
		 * no time target to catch it). */
		bool met = r->ok[0] && r->ok[1] && r->rss_kb[0] <= r->rss_kb[1];
		buf_printf(b, "| %s: peak RSS <= %s's | %.1f / %.1f MB | %s |\n", scenario_name(id),
		           bench_tool_name(scenarios[id].tool[1]), r->rss_kb[0] / 1024.0,
		           r->rss_kb[1] / 1024.0,
		           met                    ? "met"
		           : r->ok[0] && r->ok[1] ? "MISSED"
		                                  : "MISSED (a run FAILED)");
		missed += !met;
	}
	return missed;
}

/* The scale run's setting, and why twinbox's first no-change resync
 * differs from its later ones. */
static void describe_scale(struct buf *b, const struct bench_expect *e)
{
	buf_printf(b,
	           "%zu small plain-text messages (%.1f MB, %.1f KB average) in %zu folders, some "
	           "nested, on a local Dovecot over TLS. The initial pull runs once per tool, to build "
	           "the Maildirs (its time has no target); each resync is the median of %u runs per "
	           "tool, alternating. mbsync syncs with its own Dovecot, seeded alike; before each "
	           "flag-change run, \\Flagged is toggled on %u INBOX messages on both servers. twinbox "
	           "records a folder's markers only after a sync that changed nothing there and found "
	           "the folder's new/ and cur/ at least ~3 s old, so its first no-change resync after "
	           "the pull scans everything and later ones skip the unchanged folders (see the runs "
	           "below the table).\n",
	           e->messages, (double)e->bytes / 1e6, (double)e->bytes / 1024.0 / (double)e->messages,
	           bench_mailbox_count(), reps, BENCH_FLAG_CHANGES);
}

static void describe(struct buf *b, const struct bench_expect *e)
{
	const char *true_argv[] = {"true", NULL};
	char *true_log = xasprintf("%s/true.log", bench_dir);
	struct bench_sample floor;
	struct utsname u;

	uname(&u);
	buf_printf(b, "# %s\n\n", mode->title);
	if (mode == &scale_mode)
		describe_scale(b, e);
	else
		buf_printf(b,
		           "%zu messages (%.1f MB, %.0f KB average) in %zu folders on a local Dovecot over "
		           "TLS; median of %u runs per tool, alternating. mbsync syncs with its own "
		           "Dovecot, seeded alike, so what each tool pushes is checked on a server only it "
		           "changed; each initial-push run gets a fresh, empty Dovecot.\n",
		           e->messages, (double)e->bytes / 1e6,
		           (double)e->bytes / 1024.0 / (double)e->messages, bench_mailbox_count(), reps);
	bench_pop3_describe(b);
	if (results[SC_HUGE_PULL].run || results[SC_HUGE_PUSH].run)
		bench_huge_describe(b);
	bench_large_describe(b);
	buf_printf(b, "Machine: %s %s, %ld CPUs. Tools: ", u.sysname, u.release,
	           sysconf(_SC_NPROCESSORS_ONLN));
	bench_tool_version(b, "mbsync --version 2>&1");
	if (mode->scenarios & (1u << SC_POP3)) {
		buf_printf(b, "; ");
		bench_tool_version(b, "mpop --version 2>&1");
	}
	/* What the measurement itself adds to every RSS figure. */
	bench_run(true_argv, true_log, &floor);
	buf_printf(b,
	           ".\nEach timed run starts after sync(), with nothing left to write back.\n"
	           "Peak RSS of /bin/true measured the same way: %.1f MB.\n\n",
	           floor.rss_kb / 1024.0);
	free(true_log);
}

/* BENCH_ONLY=key,key...: run those scenarios of the mode (and the
 * initial pull a resync builds on); unset: all of them. */
static bool wanted(enum scenario_id id, const char *only)
{
	size_t len = strlen(scenarios[id].key);

	if (!(mode->scenarios & (1u << id)))
		return false;
	if (!only || !*only)
		return true;
	for (const char *p = only; *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && strncmp(p, scenarios[id].key, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	if (id == SC_PULL)
		for (int k = SC_NOCHANGE; k <= SC_LNEW; k++)
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
			known |= (mode->scenarios & (1u << id)) && strlen(scenarios[id].key) == n &&
			         strncmp(p, scenarios[id].key, n) == 0;
		if (!known) {
			struct buf keys = BUF_INIT;

			for (int id = 0; id < SC_COUNT; id++)
				if ((mode->scenarios & (1u << id)) &&
				    (id == 0 || strcmp(scenarios[id - 1].key, scenarios[id].key) != 0))
					buf_printf(&keys, "%s%s", keys.len ? ", " : "", scenarios[id].key);
			bench_fail("BENCH_ONLY: no scenario \"%.*s\" (%s)", (int)n, p, buf_cstr(&keys));
		}
		p += n + (p[n] == ',');
	}
}

int main(int argc, char **argv)
{
	const char *bin = getenv("TWINBOX_BIN") ? getenv("TWINBOX_BIN") : "build/twinbox";
	const char *out = getenv("BENCH_OUT");
	bool latency;
	double start;
	ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct buf report = BUF_INIT;
	struct bench_expect initial;
	struct error err;
	unsigned missed;

	if (argc > 1 && strcmp(argv[1], BENCH_RAW_FETCH_ARG) == 0)
		return bench_raw_fetch_main(argc, argv);
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
	latency = mode->scenarios & (1u << SC_LAT_PULL);
	n_messages = bench_env_number("BENCH_N", mode->default_n, mode->min_n, 200000);
	n_large = bench_env_number("BENCH_LARGE_N", 10000, mode->min_n, 200000);
	reps = bench_env_number("BENCH_REPS", 5, 1, MAX_REPS);
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
	server = dovecot_start();
	server_mb = dovecot_start();
	printf("Seeding %u messages (twice: one server for twinbox, one for mbsync)...\n", n_messages);
	bench_seed(server, n_messages);
	if (mode == &scale_mode)
		printf("  twinbox's server seeded (%.0f s)\n", bench_now() - start);
	bench_seed(server_mb, n_messages);
	if (mode == &scale_mode)
		printf("  mbsync's server seeded (%.0f s)\n", bench_now() - start);
	initial = bench_server_holds(server, false);
	/* The POP3 tools are set up with their server (bench_pop3_begin). */
	for (int k = 0; k <= TOOL_RAW_FETCH; k++)
		if (k != TOOL_TWINBOX_POP3 && k != TOOL_MPOP)
			bench_tool_init(&tools[k], (enum bench_tool_kind)k, bench_dir,
			                k == TOOL_MBSYNC ? server_mb : server, bin, self);
	if (latency) {
		char *lat_dir = xasprintf("%s/latency", bench_dir);

		if (mkdir(lat_dir, 0700) != 0)
			bench_fail("cannot create %s: %s", lat_dir, strerror(errno));
		for (int k = TOOL_TWINBOX_IMAP; k <= TOOL_MBSYNC; k++) {
			lat_server[k] = *tools[k].server;
			proxy_pid[k] = bench_proxy_start(tools[k].server->imaps_port, BENCH_PROXY_DELAY_MS,
			                                 &lat_server[k].imaps_port);
			bench_tool_init(&lat_tools[k], (enum bench_tool_kind)k, lat_dir, &lat_server[k], bin,
			                self);
		}
		free(lat_dir);
	}

	for (int id = 0; id < SC_COUNT; id++)
		if (wanted((enum scenario_id)id, getenv("BENCH_ONLY")))
			run_scenario((enum scenario_id)id);
	bench_huge_end();
	bench_large_end();

	describe(&report, &initial);
	build_table(&report);
	if (mode == &scale_mode)
		list_runs(&report);
	missed = check_targets(&report);
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
	dovecot_stop(server);
	server = NULL;
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
