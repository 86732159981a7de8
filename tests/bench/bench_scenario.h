/*
 * make bench's scenarios, targets and results: shared between bench.c
 * (the tables, running the scenarios) and bench_report.c (the report).
 */
#ifndef TWINBOX_TESTS_BENCH_SCENARIO_H
#define TWINBOX_TESTS_BENCH_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"

#define MAX_REPS 9

/* In the order they run and are reported. */
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
	SC_AFTER_SYNC,
	SC_NOCOND,
	SC_INBOX_FRESH,
	SC_INBOX_NOCHANGE,
	SC_INBOX_FLAGS,
	SC_INBOX_NEW,
	SC_INBOX_LFLAGS,
	SC_INBOX_LNEW,
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
	SC_MIG_RAW,
	SC_MIG,
	SC_MIG_INTERIMAP,
	SC_LAT_MIG_RAW,
	SC_LAT_MIG,
	SC_LAT_MIG_INTERIMAP,
	SC_LINE_MIG_RAW,
	SC_LINE_MIG,
	SC_WATCH_DELIVERY,
	SC_WATCH_LOCAL,
	SC_WATCH_IDLE,
	SC_WATCH_SOAK,
	SC_WATCH_MBSYNC,
	SC_WATCH_OFFLINEIMAP,
	SC_COUNT
};

/* A scenario's bit in struct mode's `scenarios` (more than 32 of them). */
#define SC_BIT(id) (UINT64_C(1) << (id))

/* An untimed run of each tool right before its timed one (checked
 * complete on the Maildir only, so nothing slow comes between them). */
enum scenario_prep {
	PREP_NONE,
	PREP_SYNC, /* a sync of what `change` made (a sync that changed something) */
	PREP_PULL, /* from an empty Maildir and no state: the initial pull */
};

struct scenario {
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
	bool migrate; /* bench_migrate_run() over `net`, BENCH_MIGRATE_REPS times */
	enum bench_net net;
	bool variants; /* the two tools are twinbox twice: no peak-RSS target */
	/* A part of make bench-watch (bench_watch_run()), run only when
	 * BENCH_ONLY names it; reported by bench_watch.c. */
	bool watch;
	enum bench_watch_part part;
	enum bench_set set; /* on a set of servers of its own (bench_set.c) */
	enum scenario_prep prep;
	/* Before the first repetition: the set pulled, and settled (its
	 * Maildirs' times older than any tool's safety margin, then one
	 * untimed sync). */
	bool settled;
};

/* `ref` SC_COUNT: against the other tool of the same scenario; else
 * against that scenario's first tool (the raw bound). A `max_ratio` of 0
 * sets no target: the ratio is reported (a FAILED run still counts as
 * a miss). */
struct target {
	enum scenario_id scenario;
	enum scenario_id ref;
	double max_ratio;
	const char *text;
};

/* twinbox's peak RSS below `max_kb` in that scenario. */
struct rss_target {
	enum scenario_id scenario;
	long max_kb;
	const char *text;
};

/* What a run of the bench measures: make bench, or make bench-scale
 * (--scale). */
struct mode {
	const char *title;
	bool small_mail;    /* bench_mail_choose */
	uint64_t scenarios; /* bit SC_BIT(id) per scenario it can run */
	bool pull_once;     /* initial pulls once per tool, not BENCH_REPS times */
	const struct target *targets;
	size_t target_count;
	unsigned default_n, min_n;
	unsigned default_inbox_n; /* the one-folder set (BENCH_INBOX_N) */
	const char *default_out;
};

struct result {
	bool run;
	bool ok[2];
	double median[2];
	long rss_kb[2]; /* the highest of the repetitions */
	unsigned reps;
	double seconds[2][MAX_REPS]; /* each repetition's, in order */
};

extern const struct scenario scenarios[SC_COUNT];
/* Besides the mode's targets: the one-folder set's (either mode). */
extern const struct target inbox_targets[];
extern const size_t inbox_target_count;
extern const struct rss_target rss_targets[];
extern const size_t rss_target_count;
extern const struct mode normal_mode, scale_mode;
extern const struct mode *mode;
extern struct result results[SC_COUNT];

/* The scenario's name for the report, with its set's size. */
const char *scenario_name(enum scenario_id id);

/* The report (bench_report.c): the setting (`e`: what the main servers
 * hold; `reps` runs per tool; a scratch file in `bench_dir`), the table
 * of results, every run in order, and the targets with their verdicts
 * (returns how many were missed). */
void report_describe(struct buf *b, const struct bench_expect *e, unsigned reps, const char *bench_dir);
void report_table(struct buf *b);
void report_runs(struct buf *b);
unsigned report_targets(struct buf *b);

#endif
