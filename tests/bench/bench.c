/*
 * make bench: twinbox against mbsync (IMAP) and mpop (POP3) on throwaway
 * Dovecots in the same run (issue 6, first part).
 *
 * The server gets deterministic mail of realistic sizes (2 KB text to
 * multi-MB attachments, nested folders, some flags). The POP3 import
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
 * BENCH_REPS (default 3), TWINBOX_BIN (default build/twinbox), BENCH_OUT
 * (default build/bench.md; build/bench-scale.md with --scale),
 * BENCH_KEEP=1 keeps the scratch directory, BENCH_ONLY (comma-separated
 * scenario keys, see `scenarios`) runs only those.
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

#define MAX_REPS     9
#define FLAG_CHANGES 100
#define NEW_MESSAGES 100

/* twinbox's (and the raw bound's) server, and mbsync's: two instances
 * seeded alike, so a tool that pushes changes is checked on a server no
 * other tool has touched; push_server is the fresh one of one
 * initial-push run; pop3_server the POP3 import's, up while that
 * scenario runs (pop3_begin). */
static struct dovecot *server, *server_mb, *push_server, *pop3_server;
/* What pop3_server's INBOX holds (for describe()). */
static unsigned long long pop3_bytes;
static char bench_dir[] = "/tmp/twinbox-bench-XXXXXX";
static unsigned n_messages = 1000, reps = 3;
static const char *twinbox_bin;
static char self[PATH_MAX];

/* Cleared first: a failing dovecot_stop() ends in bench_fail(), which
 * comes back here. */
static void stop_pop3_server(void)
{
	struct dovecot *d = pop3_server;

	pop3_server = NULL;
	if (d)
		dovecot_stop(d);
}

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
	stop_pop3_server();
	bench_huge_end();
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

static void fixture_fail(const char *msg)
{
	bench_fail("%s", msg);
}

/* ---- the mail -------------------------------------------------------- */

/* Share of N (per mille) seeded into a mailbox; every fifth message of a
 * batch carries an attachment of `attach` bytes (dovecot_seed), the rest
 * are plain text: about 60 KB per message on average, 62 MB for
 * N = 1000. */
static const struct batch {
	const char *mailbox;
	unsigned per_mille;
	size_t attach;
} batches_normal[] = {
    {"INBOX", 300, 0},
    {"INBOX", 200, 300000},
    {"Work/Projects", 200, 400000},
    {"Work/Projects/2023", 100, 50000},
    {"Archive/2024", 190, 150000},
    {"Archive/Large", 10, 5000000},
};

/* The scale scenario's mail: N small plain-text messages (about 2 KB)
 * spread evenly over 20 folders, some nested, as a long-used account
 * has them. */
static const struct batch scale_batches[] = {
    {"INBOX", 50, 0},
    {"Sent", 50, 0},
    {"Drafts", 50, 0},
    {"Archive", 50, 0},
    {"Archive/2021", 50, 0},
    {"Archive/2022", 50, 0},
    {"Archive/2023", 50, 0},
    {"Archive/2024", 50, 0},
    {"Work", 50, 0},
    {"Work/Projects", 50, 0},
    {"Work/Projects/2024", 50, 0},
    {"Lists/l01", 50, 0},
    {"Lists/l02", 50, 0},
    {"Lists/l03", 50, 0},
    {"Lists/l04", 50, 0},
    {"Lists/l05", 50, 0},
    {"Lists/l06", 50, 0},
    {"Lists/l07", 50, 0},
    {"Lists/l08", 50, 0},
    {"Lists/l09", 50, 0},
};

/* The mode's batches (set in main) and their mailboxes, each once, in
 * batch order: INBOX first. */
static const struct batch *batches;
static size_t batch_count;
#define MAX_MAILBOXES 32
static const char *mailboxes[MAX_MAILBOXES];
static size_t mailbox_count;

static void list_mailboxes(void)
{
	for (size_t i = 0; i < batch_count; i++) {
		size_t j = 0;

		while (j < mailbox_count && strcmp(mailboxes[j], batches[i].mailbox) != 0)
			j++;
		if (j == mailbox_count && mailbox_count == MAX_MAILBOXES)
			bench_fail("more than %d mailboxes", MAX_MAILBOXES);
		if (j == mailbox_count)
			mailboxes[mailbox_count++] = batches[i].mailbox;
	}
	if (mailbox_count < 2 || strcmp(mailboxes[0], "INBOX") != 0)
		bench_fail("the first batch must be INBOX's, and two mailboxes at least");
}

struct expect {
	size_t messages, flagged;
	unsigned long long bytes;
};

static void seed_server(struct dovecot *d)
{
	for (size_t i = 0; i < batch_count; i++) {
		unsigned count = n_messages * batches[i].per_mille / 1000;

		dovecot_seed(d, batches[i].mailbox, count ? count : 1, (unsigned)(i + 1) * 10000000u,
		             batches[i].attach);
	}
	/* Some flags, as a mailbox in use has them. */
	for (unsigned uid = 1; uid <= 20; uid++)
		dovecot_flags(d, "INBOX", uid, "add", "\\Seen");
	for (unsigned uid = 1; uid <= 5; uid++)
		dovecot_flags(d, mailboxes[1], uid, "add", "\\Flagged");
}

/* The POP3 import's mail: N messages into `d`'s INBOX, batches_normal's
 * batches with their shares, seeds and attachments; the first (plain
 * text) takes what rounding the others' shares leaves, so exactly N. */
static void seed_pop3(struct dovecot *d)
{
	const size_t n = sizeof(batches_normal) / sizeof(batches_normal[0]);
	unsigned first = n_messages;

	for (size_t i = 1; i < n; i++)
		first -= n_messages * batches_normal[i].per_mille / 1000;
	for (size_t i = 0; i < n; i++) {
		unsigned count = i ? n_messages * batches_normal[i].per_mille / 1000 : first;

		if (count)
			dovecot_seed(d, "INBOX", count, (unsigned)(i + 1) * 10000000u,
			             batches_normal[i].attach);
	}
}

/* What `d` holds: all mailboxes, or INBOX only (POP3, initial push). */
static struct expect server_holds(struct dovecot *d, bool inbox_only)
{
	struct expect e = {0, 0, 0};

	for (size_t i = 0; i < (inbox_only ? 1 : mailbox_count); i++) {
		size_t count;
		struct dovecot_msg *m = dovecot_list(d, mailboxes[i], false, &count);

		e.messages += count;
		for (size_t j = 0; j < count; j++) {
			e.flagged += dovecot_msg_has_flag(&m[j], "\\Flagged");
			e.bytes += m[j].size;
		}
		dovecot_msgs_free(m, count);
	}
	return e;
}

/* Server-side changes between resyncs: 100 \Flagged toggles in INBOX
 * (set on even repetitions, cleared on odd ones), or 100 new messages. */
static void change_flags(struct dovecot *d, unsigned rep)
{
	for (unsigned uid = 1; uid <= FLAG_CHANGES; uid++)
		dovecot_flags(d, "INBOX", uid, rep % 2 == 0 ? "add" : "remove", "\\Flagged");
}

static void change_new_mail(struct dovecot *d, unsigned rep)
{
	dovecot_seed(d, "INBOX", NEW_MESSAGES, 90000000u + rep * NEW_MESSAGES, 60000);
}

/* Local changes in a tool's Maildir between resyncs, and what its server
 * must hold afterwards: 100 \\Flagged toggles in INBOX (set on even
 * repetitions, cleared on odd ones), or 100 new messages in INBOX's new/. */
static void local_flags(struct bench_tool *t, unsigned rep, struct expect *e)
{
	bool set = rep % 2 == 0;
	size_t n = bench_maildir_toggle_flag(t->maildir, 'F', set, FLAG_CHANGES);

	if (n != FLAG_CHANGES)
		bench_fail("%s: only %zu messages in %s/cur to change", t->name, n, t->maildir);
	e->flagged = set ? e->flagged + n : e->flagged - n;
}

static void local_new_mail(struct bench_tool *t, unsigned rep, struct expect *e)
{
	bench_maildir_add(t->maildir, NEW_MESSAGES, 95000000u + rep * NEW_MESSAGES, 60000, 0);
	e->messages += NEW_MESSAGES;
}

/* ---- scenarios ------------------------------------------------------- */

enum scenario_id {
	SC_PULL,
	SC_RAW,
	SC_NOCHANGE,
	SC_FLAGS,
	SC_NEW,
	SC_LFLAGS,
	SC_LNEW,
	SC_PUSH,
	SC_POP3,
	SC_LAT_PULL,
	SC_LAT_NOCHANGE,
	SC_HUGE_PULL,
	SC_HUGE_PUSH,
	SC_COUNT
};

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
	void (*local)(struct bench_tool *t, unsigned rep, struct expect *e);
	bool push;    /* each run: N local messages into a fresh, empty server */
	bool pop3;    /* on pop3_server (N messages in INBOX), no flags check */
	bool latency; /* through the proxies (lat_tools) */
	bool huge;    /* bench_huge_run() once per tool (pull, or push) */
} scenarios[SC_COUNT] = {
    [SC_PULL] = {"pull", "initial pull", {TOOL_TWINBOX_IMAP, TOOL_MBSYNC}, 2, true, NULL, NULL, false, false},
    [SC_RAW] = {"raw",
                "raw-fetch bound (one UID FETCH 1:* per folder, no Maildir)",
                {TOOL_RAW_FETCH},
                1,
                false,
                NULL,
                NULL,
                false,
                false},
    [SC_NOCHANGE] = {"nochange",
                     "no-change resync",
                     {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                     2,
                     false,
                     NULL,
                     NULL,
                     false,
                     false},
    [SC_FLAGS] = {"flags",
                  "resync after 100 server flag changes",
                  {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                  2,
                  false,
                  change_flags,
                  NULL,
                  false,
                  false},
    [SC_NEW] = {"new",
                "resync after 100 new server messages",
                {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                2,
                false,
                change_new_mail,
                NULL,
                false,
                false},
    [SC_LFLAGS] = {"lflags",
                   "resync after 100 local flag changes",
                   {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                   2,
                   false,
                   NULL,
                   local_flags,
                   false,
                   false},
    [SC_LNEW] = {"lnew",
                 "resync after 100 new local messages",
                 {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                 2,
                 false,
                 NULL,
                 local_new_mail,
                 false,
                 false},
    [SC_PUSH] = {"push",
                 "initial push of N local messages to an empty server",
                 {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                 2,
                 true,
                 NULL,
                 NULL,
                 true,
                 false},
    [SC_POP3] = {"pop3",
                 "POP3 import of N messages (vs mpop)",
                 {TOOL_TWINBOX_POP3, TOOL_MPOP},
                 2,
                 true,
                 NULL,
                 NULL,
                 false,
                 true},
    [SC_LAT_PULL] = {"lat-pull",
                     "initial pull, 25 ms each way",
                     {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                     2,
                     true,
                     NULL,
                     NULL,
                     false,
                     false,
                     true},
    [SC_LAT_NOCHANGE] = {"lat-nochange",
                         "no-change resync, 25 ms each way",
                         {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                         2,
                         false,
                         NULL,
                         NULL,
                         false,
                         false,
                         true},
    [SC_HUGE_PULL] = {"huge",
                      "huge message pull (one 205 MB message)",
                      {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                      2,
                      true,
                      .huge = true},
    [SC_HUGE_PUSH] = {"huge",
                      "huge message push (one 205 MB message)",
                      {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                      2,
                      true,
                      .push = true,
                      .huge = true},
};

/* Issue 6's targets. `ref` SC_COUNT: against the other tool of the same
 * scenario; else against that scenario's first tool (the raw bound). */
static const struct target {
	enum scenario_id scenario;
	enum scenario_id ref;
	double max_ratio;
	const char *text;
} targets[] = {
    {SC_PULL, SC_COUNT, 0.5, "initial pull <= 0.5 x mbsync"},
    {SC_PULL, SC_RAW, 1.5, "initial pull <= 1.5 x the raw-fetch bound"},
    {SC_NOCHANGE, SC_COUNT, 1.0, "no-change resync <= 1.0 x mbsync"},
    {SC_FLAGS, SC_COUNT, 1.0, "flag-change resync <= 1.0 x mbsync"},
    {SC_NEW, SC_COUNT, 1.0, "new-mail resync <= 1.0 x mbsync"},
    {SC_LFLAGS, SC_COUNT, 1.0, "local-flag-change resync <= 1.0 x mbsync"},
    {SC_LNEW, SC_COUNT, 1.0, "new-local-mail resync (push) <= 1.0 x mbsync"},
    {SC_PUSH, SC_COUNT, 0.7, "initial push <= 0.7 x mbsync"},
    {SC_POP3, SC_COUNT, 1.0, "POP3 import <= 1.0 x mpop"},
    {SC_LAT_PULL, SC_COUNT, 0.7, "initial pull at 50 ms round trip <= 0.7 x mbsync"},
    {SC_LAT_NOCHANGE, SC_COUNT, 0.7, "no-change resync at 50 ms round trip <= 0.7 x mbsync"},
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
	const struct batch *batches;
	size_t batch_count;
	unsigned scenarios; /* bit (1u << id) per scenario it can run */
	bool pull_once;     /* the initial pull once per tool, not BENCH_REPS times */
	const struct target *targets;
	size_t target_count;
	unsigned default_n, min_n;
	const char *default_out;
};

static const struct mode normal_mode = {
    .title = "twinbox bench",
    .batches = batches_normal,
    .batch_count = sizeof(batches_normal) / sizeof(batches_normal[0]),
    .scenarios = (1u << SC_COUNT) - 1,
    .targets = targets,
    .target_count = sizeof(targets) / sizeof(targets[0]),
    .default_n = 1000,
    .min_n = 200,
    .default_out = "build/bench.md",
};

static const struct mode scale_mode = {
    .title = "twinbox bench: scale",
    .batches = scale_batches,
    .batch_count = sizeof(scale_batches) / sizeof(scale_batches[0]),
    .scenarios = 1u << SC_PULL | 1u << SC_NOCHANGE | 1u << SC_FLAGS,
    .pull_once = true,
    .targets = scale_targets,
    .target_count = sizeof(scale_targets) / sizeof(scale_targets[0]),
    .default_n = 100000,
    .min_n = 20 * FLAG_CHANGES, /* INBOX, a twentieth, must hold FLAG_CHANGES */
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
	return sc->latency ? &lat_tools[sc->tool[i]] : &tools[sc->tool[i]];
}
static struct result results[SC_COUNT];

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Whether the tool's Maildir, and its server, hold exactly `e` (message
 * count, \\Flagged count): a sync that skipped work cannot pass. */
static bool complete(const struct bench_tool *t, const struct expect *e, bool inbox_only, bool pop3)
{
	size_t messages, flagged;
	struct expect srv;

	if (t->kind == TOOL_RAW_FETCH)
		return true; /* checked in the child */
	bench_maildir_count(t->maildir, pop3 ? 0 : 'F', &messages, &flagged);
	srv = server_holds(t->server, inbox_only);
	if (messages == e->messages && (pop3 || flagged == e->flagged) && srv.messages == e->messages &&
	    (pop3 || srv.flagged == e->flagged))
		return true;
	fprintf(stderr,
	        "  %s: incomplete: %zu messages (%zu flagged) in the Maildir, %zu (%zu flagged) on the "
	        "server, expected %zu (%zu flagged)\n",
	        t->name, messages, flagged, srv.messages, srv.flagged, e->messages,
	        pop3 ? (size_t)0 : e->flagged);
	return false;
}

/* An initial push: a fresh Dovecot with an empty INBOX, the tool's
 * Maildir holding N messages of realistic sizes (all seen, every tenth
 * flagged) and no state. Returns the tool (free with push_end()). */
static struct bench_tool *push_begin(enum bench_tool_kind kind, struct expect *e_r)
{
	struct bench_tool *t = xcalloc(1, sizeof(*t));
	char *dir = xasprintf("%s/push", bench_dir);

	if (mkdir(dir, 0700) != 0)
		bench_fail("cannot create %s: %s", dir, strerror(errno));
	push_server = dovecot_start();
	bench_tool_init(t, kind, dir, push_server, twinbox_bin, self);
	bench_maildir_add(t->maildir, n_messages, 70000000u, 250000, 10);
	e_r->messages = n_messages;
	e_r->flagged = (n_messages + 9) / 10;
	e_r->bytes = 0;
	free(dir);
	return t;
}

/* The POP3 import's server, seeded, and its two tools set up for it. */
static void pop3_begin(void)
{
	double start = bench_now();
	struct expect e;

	printf("  seeding %u messages into the POP3 server's INBOX...", n_messages);
	fflush(stdout);
	pop3_server = dovecot_start();
	seed_pop3(pop3_server);
	e = server_holds(pop3_server, true);
	if (e.messages != n_messages)
		bench_fail("the POP3 server holds %zu messages, not %u", e.messages, n_messages);
	pop3_bytes = e.bytes;
	printf(" %.0f MB in %.0f s\n", (double)e.bytes / 1e6, bench_now() - start);
	for (int k = TOOL_TWINBOX_POP3; k <= TOOL_MPOP; k++)
		bench_tool_init(&tools[k], (enum bench_tool_kind)k, bench_dir, pop3_server, twinbox_bin,
		                self);
}

static void pop3_end(void)
{
	/* Its mail into the trash (see bench_discard); the tools' Maildirs
	 * stay in the bench's directory until it is removed. */
	char *home = xasprintf("%s/" DV_HOME, pop3_server->dir);

	bench_discard(home);
	free(home);
	stop_pop3_server();
	for (int k = TOOL_TWINBOX_POP3; k <= TOOL_MPOP; k++)
		tools[k].server = NULL;
}

static void push_end(struct bench_tool *t)
{
	char *dir = xasprintf("%s/push", bench_dir);

	{
		/* Its mail into the trash too (see bench_discard). */
		char *home = xasprintf("%s/" DV_HOME, push_server->dir);
		bench_discard(home);
		free(home);
	}
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
	struct expect e;

	if (sc->huge) {
		bench_huge_run(sc->tool[i], sc->push, bench_dir, twinbox_bin, self, s_r);
		return;
	}
	if (sc->push) {
		t = push_begin(sc->tool[i], &e);
	} else {
		if (sc->fresh)
			bench_tool_reset(t);
		e = server_holds(t->server, sc->pop3);
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
	if (s_r->ok && !complete(t, &e, sc->pop3 || sc->push, sc->pop3)) {
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

	printf("== %s\n", sc->name);
	if (sc->pop3)
		pop3_begin();
	r->run = true;
	r->ok[0] = r->ok[1] = true;
	r->reps = n;
	for (unsigned rep = 0; rep < n; rep++) {
		if (sc->change) {
			/* Each IMAP tool has its own server (see server_mb). */
			for (size_t k = 0; k < sc->tool_count; k++)
				sc->change(scenario_tool(sc, k)->server, rep);
		}
		if (sc->tool[0] == TOOL_RAW_FETCH)
			tools[TOOL_RAW_FETCH].expect_messages = server_holds(server, false).messages;
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
			printf(" %s %.2f s%s", tools[sc->tool[i]].name, s.seconds, s.ok ? "" : " FAILED");
			fflush(stdout);
		}
		printf("\n");
	}
	for (size_t i = 0; i < sc->tool_count; i++) {
		qsort(secs[i], n, sizeof(double), cmp_double);
		r->median[i] = secs[i][n / 2];
	}
	if (sc->pop3)
		pop3_end();
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
		buf_printf(b, "| %s |", sc->name);
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
		buf_printf(b, "- %s:", sc->name);
		for (size_t i = 0; i < sc->tool_count; i++) {
			buf_printf(b, "%s %s", i ? ";" : "", tools[sc->tool[i]].name);
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
		buf_printf(b, "| %s: peak RSS <= %s's | %.1f / %.1f MB | %s |\n", scenarios[id].name,
		           tools[scenarios[id].tool[1]].name, r->rss_kb[0] / 1024.0, r->rss_kb[1] / 1024.0,
		           met                    ? "met"
		           : r->ok[0] && r->ok[1] ? "MISSED"
		                                  : "MISSED (a run FAILED)");
		missed += !met;
	}
	return missed;
}

static void tool_version(struct buf *b, const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char line[200] = "";

	if (p) {
		if (!fgets(line, sizeof(line), p))
			line[0] = '\0';
		pclose(p);
	}
	line[strcspn(line, "\n")] = '\0';
	buf_printf(b, "%s%s", line[0] ? line : "?", "");
}

/* The scale run's setting, and why twinbox's first no-change resync
 * differs from its later ones. */
static void describe_scale(struct buf *b, const struct expect *e)
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
	           mailbox_count, reps, FLAG_CHANGES);
}

static void describe(struct buf *b, const struct expect *e)
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
		           (double)e->bytes / 1024.0 / (double)e->messages, mailbox_count, reps);
	if (results[SC_POP3].run)
		buf_printf(b,
		           "POP3 import: %u messages of the same mix (%.1f MB) all in the INBOX of a "
		           "Dovecot of its own, left on the server; each run starts from an empty Maildir "
		           "and no state (no UIDL list).\n",
		           n_messages, (double)pop3_bytes / 1e6);
	if (results[SC_HUGE_PULL].run || results[SC_HUGE_PUSH].run)
		bench_huge_describe(b);
	buf_printf(b, "Machine: %s %s, %ld CPUs. Tools: ", u.sysname, u.release,
	           sysconf(_SC_NPROCESSORS_ONLN));
	tool_version(b, "mbsync --version 2>&1");
	if (mode->scenarios & (1u << SC_POP3)) {
		buf_printf(b, "; ");
		tool_version(b, "mpop --version 2>&1");
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
	return id == SC_LAT_PULL && wanted(SC_LAT_NOCHANGE, only);
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

static unsigned env_number(const char *name, unsigned def, unsigned min, unsigned max)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	n = strtoul(v, &end, 10);
	if (*end || n < min || n > max)
		bench_fail("%s=%s: expected a number from %u to %u", name, v, min, max);
	return (unsigned)n;
}

int main(int argc, char **argv)
{
	const char *bin = getenv("TWINBOX_BIN") ? getenv("TWINBOX_BIN") : "build/twinbox";
	const char *out = getenv("BENCH_OUT");
	bool latency;
	double start;
	ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct buf report = BUF_INIT;
	struct expect initial;
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
	batches = mode->batches;
	batch_count = mode->batch_count;
	list_mailboxes();
	latency = mode->scenarios & (1u << SC_LAT_PULL);
	n_messages = env_number("BENCH_N", mode->default_n, mode->min_n, 200000);
	reps = env_number("BENCH_REPS", 3, 1, MAX_REPS);
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
	seed_server(server);
	if (mode == &scale_mode)
		printf("  twinbox's server seeded (%.0f s)\n", bench_now() - start);
	seed_server(server_mb);
	if (mode == &scale_mode)
		printf("  mbsync's server seeded (%.0f s)\n", bench_now() - start);
	initial = server_holds(server, false);
	/* The POP3 tools are set up with their server (pop3_begin). */
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
		bench_tool_free(&tools[k]);
	if (getenv("BENCH_KEEP"))
		printf("Scratch directory kept: %s\n", bench_dir);
	else if (dv_rmtree(bench_dir, &err) < 0)
		fprintf(stderr, "bench: %s\n", err.text);
	buf_free(&report);
	return missed ? 1 : 0;
}
