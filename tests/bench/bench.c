/*
 * make bench: twinbox against mbsync (IMAP) and mpop (POP3) on the same
 * throwaway Dovecot in the same run (issue 6, first part).
 *
 * The server gets deterministic mail of realistic sizes (2 KB text to
 * multi-MB attachments, nested folders, some flags). Each scenario runs
 * every tool BENCH_REPS times, alternating which goes first, and reports
 * the median wall time, the twinbox/other ratio and the peak RSS (from
 * wait4). A run counts only when the tool exited 0 and its Maildir holds
 * what the server holds (message count, \Flagged count): a fast wrong
 * answer cannot win. The table goes to stdout and to BENCH_OUT; the exit
 * status is 1 when a target of issue 6 (the table `targets` below) is
 * missed or a run FAILED, 2 when the bench itself could not run.
 *
 * Environment: BENCH_N (messages, default 1000), BENCH_REPS (default 3),
 * TWINBOX_BIN (default build/twinbox), BENCH_OUT (default
 * build/bench.md), BENCH_KEEP=1 keeps the scratch directory.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static struct dovecot *server;
static char bench_dir[] = "/tmp/twinbox-bench-XXXXXX";
static unsigned n_messages = 1000, reps = 3;

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
	exit(2);
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
} batches[] = {
    {"INBOX", 300, 0},
    {"INBOX", 200, 300000},
    {"Work/Projects", 200, 400000},
    {"Work/Projects/2023", 100, 50000},
    {"Archive/2024", 190, 150000},
    {"Archive/Large", 10, 5000000},
};

static const char *const mailboxes[] = {"INBOX", "Work/Projects", "Work/Projects/2023", "Archive/2024",
                                        "Archive/Large"};

struct expect {
	size_t messages, flagged;
	unsigned long long bytes;
};

static void seed_server(void)
{
	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		unsigned count = n_messages * batches[i].per_mille / 1000;

		dovecot_seed(server, batches[i].mailbox, count ? count : 1, (unsigned)(i + 1) * 10000000u,
		             batches[i].attach);
	}
	/* Some flags, as a mailbox in use has them. */
	for (unsigned uid = 1; uid <= 20; uid++)
		dovecot_flags(server, "INBOX", uid, "add", "\\Seen");
	for (unsigned uid = 1; uid <= 5; uid++)
		dovecot_flags(server, "Work/Projects", uid, "add", "\\Flagged");
}

/* What the server holds: all mailboxes, or INBOX only (POP3). */
static struct expect server_holds(bool inbox_only)
{
	struct expect e = {0, 0, 0};

	for (size_t i = 0; i < (inbox_only ? 1 : sizeof(mailboxes) / sizeof(mailboxes[0])); i++) {
		size_t count;
		struct dovecot_msg *m = dovecot_list(server, mailboxes[i], false, &count);

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
static void change_flags(unsigned rep)
{
	for (unsigned uid = 1; uid <= FLAG_CHANGES; uid++)
		dovecot_flags(server, "INBOX", uid, rep % 2 == 0 ? "add" : "remove", "\\Flagged");
}

static void change_new_mail(unsigned rep)
{
	dovecot_seed(server, "INBOX", NEW_MESSAGES, 90000000u + rep * NEW_MESSAGES, 60000);
}

/* ---- scenarios ------------------------------------------------------- */

enum scenario_id { SC_PULL, SC_RAW, SC_NOCHANGE, SC_FLAGS, SC_NEW, SC_POP3, SC_COUNT };

static const struct scenario {
	const char *name;
	enum bench_tool_kind tool[2];
	size_t tool_count;
	bool fresh;                   /* each run starts from nothing */
	void (*change)(unsigned rep); /* on the server before each repetition */
	bool pop3;                    /* INBOX only, no flags check */
} scenarios[SC_COUNT] = {
    [SC_PULL] = {"initial pull", {TOOL_TWINBOX_IMAP, TOOL_MBSYNC}, 2, true, NULL, false},
    [SC_RAW] = {"raw-fetch bound (one UID FETCH 1:* per folder, no Maildir)",
                {TOOL_RAW_FETCH},
                1,
                false,
                NULL,
                false},
    [SC_NOCHANGE] = {"no-change resync", {TOOL_TWINBOX_IMAP, TOOL_MBSYNC}, 2, false, NULL, false},
    [SC_FLAGS] = {"resync after 100 server flag changes",
                  {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                  2,
                  false,
                  change_flags,
                  false},
    [SC_NEW] = {"resync after 100 new server messages",
                {TOOL_TWINBOX_IMAP, TOOL_MBSYNC},
                2,
                false,
                change_new_mail,
                false},
    [SC_POP3] = {"POP3 import of INBOX (vs mpop)", {TOOL_TWINBOX_POP3, TOOL_MPOP}, 2, true, NULL, true},
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
    {SC_POP3, SC_COUNT, 1.0, "POP3 import <= 1.0 x mpop"},
};
/* And in every two-tool scenario: twinbox's peak RSS <= the other's. */

struct result {
	bool ok[2];
	double median[2];
	long rss_kb[2]; /* the highest of the repetitions */
};

static struct bench_tool tools[TOOL_RAW_FETCH + 1];
static struct result results[SC_COUNT];

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static bool complete(const struct bench_tool *t, const struct expect *e, bool pop3)
{
	size_t messages, flagged;

	if (t->kind == TOOL_RAW_FETCH)
		return true; /* checked in the child */
	bench_maildir_count(t->maildir, pop3 ? 0 : 'F', &messages, &flagged);
	if (messages == e->messages && (pop3 || flagged == e->flagged))
		return true;
	fprintf(stderr, "  %s: incomplete: %zu messages (%zu flagged), the server holds %zu (%zu flagged)\n",
	        t->name, messages, flagged, e->messages, pop3 ? (size_t)0 : e->flagged);
	return false;
}

static void run_scenario(enum scenario_id id)
{
	const struct scenario *sc = &scenarios[id];
	struct result *r = &results[id];
	double secs[2][MAX_REPS];

	printf("== %s\n", sc->name);
	r->ok[0] = r->ok[1] = true;
	for (unsigned rep = 0; rep < reps; rep++) {
		struct expect e;

		if (sc->change)
			sc->change(rep);
		e = server_holds(sc->pop3);
		tools[TOOL_RAW_FETCH].expect_messages = e.messages;
		printf("  rep %u/%u:", rep + 1, reps);
		for (size_t k = 0; k < sc->tool_count; k++) {
			/* Alternate the order, so neither tool always meets
			 * the warmer cache. */
			size_t i = rep % 2 == 0 ? k : sc->tool_count - 1 - k;
			struct bench_tool *t = &tools[sc->tool[i]];
			struct bench_sample s;

			if (sc->fresh)
				bench_tool_reset(t);
			bench_tool_run(t, &s);
			if (s.ok && !complete(t, &e, sc->pop3))
				s.ok = false;
			r->ok[i] &= s.ok;
			secs[i][rep] = s.seconds;
			if (s.rss_kb > r->rss_kb[i])
				r->rss_kb[i] = s.rss_kb;
			printf(" %s %.2f s%s", t->name, s.seconds, s.ok ? "" : " FAILED");
			fflush(stdout);
		}
		printf("\n");
	}
	for (size_t i = 0; i < sc->tool_count; i++) {
		qsort(secs[i], reps, sizeof(double), cmp_double);
		r->median[i] = secs[i][reps / 2];
	}
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

/* Appends the targets with their verdicts; returns how many were missed. */
static unsigned check_targets(struct buf *b)
{
	unsigned missed = 0;

	buf_printf(b, "\n| target (issue 6) | measured | verdict |\n|---|---:|---|\n");
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		const struct target *t = &targets[i];
		const struct result *r = &results[t->scenario];
		bool have_ref = t->ref == SC_COUNT ? r->ok[1] : results[t->ref].ok[0];
		double ref = t->ref == SC_COUNT ? r->median[1] : results[t->ref].median[0];

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
	for (size_t id = 0; id < SC_COUNT; id++) {
		const struct result *r = &results[id];

		if (scenarios[id].tool_count < 2)
			continue;
		bool met = r->rss_kb[0] <= r->rss_kb[1];
		buf_printf(b, "| %s: peak RSS <= %s's | %.1f / %.1f MB | %s |\n", scenarios[id].name,
		           tools[scenarios[id].tool[1]].name, r->rss_kb[0] / 1024.0, r->rss_kb[1] / 1024.0,
		           met ? "met" : "MISSED");
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

static void describe(struct buf *b, const struct expect *e)
{
	const char *true_argv[] = {"true", NULL};
	char *true_log = xasprintf("%s/true.log", bench_dir);
	struct bench_sample floor;
	struct utsname u;

	uname(&u);
	buf_printf(b, "# twinbox bench\n\n");
	buf_printf(b,
	           "%zu messages (%.1f MB, %.0f KB average) in %zu folders on a local Dovecot over TLS; "
	           "median of %u runs per tool, alternating.\n",
	           e->messages, (double)e->bytes / 1e6, (double)e->bytes / 1024.0 / (double)e->messages,
	           sizeof(mailboxes) / sizeof(mailboxes[0]), reps);
	buf_printf(b, "Machine: %s %s, %ld CPUs. Tools: ", u.sysname, u.release,
	           sysconf(_SC_NPROCESSORS_ONLN));
	tool_version(b, "mbsync --version 2>&1");
	buf_printf(b, "; ");
	tool_version(b, "mpop --version 2>&1");
	/* What the measurement itself adds to every RSS figure. */
	bench_run(true_argv, true_log, &floor);
	buf_printf(b, ".\nPeak RSS of /bin/true measured the same way: %.1f MB.\n\n", floor.rss_kb / 1024.0);
	free(true_log);
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
	const char *out = getenv("BENCH_OUT") ? getenv("BENCH_OUT") : "build/bench.md";
	char self[PATH_MAX];
	ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct buf report = BUF_INIT;
	struct expect initial;
	struct error err;
	unsigned missed;

	if (argc > 1 && strcmp(argv[1], BENCH_RAW_FETCH_ARG) == 0)
		return bench_raw_fetch_main(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_spawner_start();
	n_messages = env_number("BENCH_N", 1000, 200, 200000);
	reps = env_number("BENCH_REPS", 3, 1, MAX_REPS);
	dv_fail_handler = fixture_fail;
	if (self_len <= 0)
		bench_fail("cannot find this program's path in /proc/self/exe");
	self[self_len] = '\0';
	if (access(bin, X_OK) != 0)
		bench_fail("cannot run %s (set TWINBOX_BIN)", bin);
	if (!mkdtemp(bench_dir))
		bench_fail("cannot create a scratch directory in /tmp");
	server = dovecot_start();
	printf("Seeding %u messages...\n", n_messages);
	seed_server();
	initial = server_holds(false);
	for (int k = 0; k <= TOOL_RAW_FETCH; k++)
		bench_tool_init(&tools[k], (enum bench_tool_kind)k, bench_dir, server, bin, self);

	for (int id = 0; id < SC_COUNT; id++)
		run_scenario((enum scenario_id)id);

	describe(&report, &initial);
	build_table(&report);
	missed = check_targets(&report);
	buf_printf(&report, "\n%u target(s) missed.\n", missed);
	printf("\n%s", buf_cstr(&report));
	if (fs_write_atomic(out, report.data, report.len, 0644, &err) < 0)
		fprintf(stderr, "bench: %s\n", err.text);
	else
		printf("Written to %s\n", out);

	dovecot_stop(server);
	server = NULL;
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
