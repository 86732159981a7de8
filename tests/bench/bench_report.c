/*
 * make bench's report: the setting, the table of results (median times,
 * ratios, peak RSS), every run in order (the scale run), and the
 * targets with their verdicts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench_scenario.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

static void cell_time(struct buf *b, const struct result *r, size_t i)
{
	if (!r->ok[i])
		buf_printf(b, " FAILED |");
	else
		buf_printf(b, " %.2f |", r->median[i]);
}

void report_table(struct buf *b)
{
	bool header = false;

	for (size_t id = 0; id < SC_COUNT; id++) {
		const struct scenario *sc = &scenarios[id];
		const struct result *r = &results[id];

		/* make bench-watch's parts have a table of their own. */
		if (!r->run || sc->watch)
			continue;
		if (!header) {
			buf_printf(
			    b,
			    "| scenario | twinbox s | mbsync s | ratio | twinbox RSS MB | mbsync RSS MB |\n");
			buf_printf(b, "|---|---:|---:|---:|---:|---:|\n");
			header = true;
		}
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
	bench_watch_table(b);
}

/* Every repetition's time, in the order run (the scale report: a median
 * hides twinbox's first, full no-change resync). */
void report_runs(struct buf *b)
{
	buf_printf(b, "\nRuns in order (s):\n\n");
	for (size_t id = 0; id < SC_COUNT; id++) {
		const struct scenario *sc = &scenarios[id];
		const struct result *r = &results[id];

		if (!r->run || sc->watch)
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
/* Appends one time target with its verdict; returns 1 if missed. */
static unsigned check_target(struct buf *b, const struct target *t)
{
	const struct result *r = &results[t->scenario];
	bool have_ref = t->ref == SC_COUNT ? r->ok[1] : results[t->ref].ok[0];
	double ref = t->ref == SC_COUNT ? r->median[1] : results[t->ref].median[0];
	double ratio;

	if (!r->run || (t->ref != SC_COUNT && !results[t->ref].run)) {
		buf_printf(b, "| %s | - | not run (BENCH_ONLY) |\n", t->text);
		return 0;
	}
	if (!r->ok[0] || !have_ref || ref <= 0) {
		buf_printf(b, "| %s | - | MISSED (a run FAILED) |\n", t->text);
		return 1;
	}
	ratio = r->median[0] / ref;
	if (t->max_ratio <= 0) {
		buf_printf(b, "| %s | %.2f x | no target |\n", t->text, ratio);
		return 0;
	}
	buf_printf(b, "| %s | %.2f x | %s |\n", t->text, ratio, ratio <= t->max_ratio ? "met" : "MISSED");
	return ratio > t->max_ratio;
}

unsigned report_targets(struct buf *b)
{
	unsigned missed = 0;

	buf_printf(
	    b, "\n| target (issues 6, 13 and 16, the migration's) | measured | verdict |\n|---|---:|---|\n");
	for (size_t i = 0; i < mode->target_count; i++)
		missed += check_target(b, &mode->targets[i]);
	for (size_t i = 0; i < inbox_target_count; i++)
		if (mode->scenarios & SC_BIT(inbox_targets[i].scenario))
			missed += check_target(b, &inbox_targets[i]);
	for (size_t i = 0; i < rss_target_count; i++) {
		const struct rss_target *t = &rss_targets[i];
		const struct result *r = &results[t->scenario];
		bool met = r->ok[0] && r->rss_kb[0] < t->max_kb;

		if (!(mode->scenarios & SC_BIT(t->scenario)))
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

		if (scenarios[id].tool_count < 2 || scenarios[id].variants || !r->run)
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
	return missed + bench_watch_targets(b);
}

/* The scale run's setting, and why twinbox's first no-change resync
 * differs from its later ones. */
static void describe_scale(struct buf *b, const struct bench_expect *e, unsigned reps)
{
	buf_printf(b,
	           "%zu small plain-text messages (%.1f MB, %.1f KB average) in %zu folders, some "
	           "nested, on a local Dovecot over TLS. The initial pull runs once per tool, to build "
	           "the Maildirs (its time has no target); each resync is the median of %u runs per "
	           "tool, alternating. mbsync syncs with its own Dovecot, seeded alike; before each "
	           "flag-change run, \\Flagged is toggled on %u INBOX messages on both servers. twinbox "
	           "records a folder's markers only after a sync that changed nothing there and found "
	           "the folder's new/ and cur/ old enough (100 ms where the filesystem keeps sub-second "
	           "times, 3 s where it keeps whole seconds), so its first no-change resync after the "
	           "pull may scan everything and later ones skip the unchanged folders (see the runs "
	           "below the table).\n",
	           e->messages, (double)e->bytes / 1e6, (double)e->bytes / 1024.0 / (double)e->messages,
	           bench_mailbox_count(), reps, BENCH_FLAG_CHANGES);
}

void report_describe(struct buf *b, const struct bench_expect *e, unsigned reps, const char *bench_dir)
{
	const char *true_argv[] = {"true", NULL};
	char *true_log = xasprintf("%s/true.log", bench_dir);
	struct bench_sample floor;
	struct utsname u;

	uname(&u);
	buf_printf(b, "# %s\n\n", mode->title);
	if (mode == &scale_mode && e->messages)
		describe_scale(b, e, reps);
	else if (e->messages)
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
	bench_set_describe(b);
	bench_migrate_describe(b);
	bench_watch_describe(b);
	if (results[SC_AFTER_SYNC].run)
		buf_printf(b,
		           "Right after a sync: before each repetition, \\Answered is toggled on %d INBOX "
		           "messages on both servers; each tool syncs that untimed, then at once runs the "
		           "timed no-change resync. mbsync sleeps when a Maildir directory changed in the "
		           "current second, and that wait is part of its time.\n",
		           BENCH_ANSWERED_CHANGES);
	buf_printf(b, "Machine: %s %s, %ld CPUs. Tools: ", u.sysname, u.release,
	           sysconf(_SC_NPROCESSORS_ONLN));
	bench_tool_version(b, "mbsync --version 2>&1");
	if (mode->scenarios & SC_BIT(SC_POP3)) {
		buf_printf(b, "; ");
		bench_tool_version(b, "mpop --version 2>&1");
	}
	if (results[SC_MIG_INTERIMAP].run || results[SC_LAT_MIG_INTERIMAP].run) {
		buf_printf(b, "; ");
		bench_tool_version(b, "interimap --version 2>&1");
	}
	if (results[SC_WATCH_OFFLINEIMAP].run) {
		buf_printf(b, "; OfflineIMAP ");
		bench_tool_version(b, "offlineimap --version 2>&1");
	}
	/* What the measurement itself adds to every RSS figure. */
	bench_run(true_argv, true_log, &floor);
	buf_printf(b,
	           ".\nEach timed run starts after sync(), with nothing left to write back.\n"
	           "Peak RSS of /bin/true measured the same way: %.1f MB.\n\n",
	           floor.rss_kb / 1024.0);
	free(true_log);
}
