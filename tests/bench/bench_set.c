/*
 * Sets of servers of their own, each two Dovecots seeded alike: twinbox
 * (and the raw-fetch bound) sync with one, mbsync with the other. A
 * set's servers are started and seeded when its first scenario runs, and
 * stopped at the end of the bench (or by bench_fail).
 * - The large set (issue 6: "initial pull (N = 1,000 and 10,000)", its
 *   initial-pull targets at 10,000): BENCH_LARGE_N messages of the normal
 *   mix in the same folders.
 * - The set without CONDSTORE (issue 13: "a run with nothing to do"): N
 *   messages of the normal mix on Dovecots that offer neither CONDSTORE
 *   nor QRESYNC, as Courier and some hosted servers do.
 * - The one-folder set (issue 13: "a resync costs what changed"):
 *   BENCH_INBOX_N small plain-text messages, all in INBOX.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "support/dovecot_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* Dovecot's default capabilities without CONDSTORE and QRESYNC (nor the
 * extensions that build on them). */
#define NO_CONDSTORE_CONF                                                                                    \
	"imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS "                     \
	"LIST-EXTENDED SPECIAL-USE MOVE CHILDREN UNSELECT"

static const struct set_kind {
	const char *dir;   /* under the bench's directory */
	const char *extra; /* dovecot_start_with() */
	bool raw_fetch;    /* also set up TOOL_RAW_FETCH */
	bool inbox_only;
	/* For the report: "<label>: N messages (M MB)<text>". */
	const char *label, *text;
} kinds[BENCH_SET_COUNT] = {
    [BENCH_SET_LARGE] = {"large", NULL, true, false, "The large set",
                         " of the same mix in the same folders, on two Dovecots of their own seeded alike "
                         "(twinbox and the raw-fetch bound pull from one, mbsync from the other); issue "
                         "6's initial-pull targets are checked on it."},
    [BENCH_SET_NOCOND] = {"nocondstore", NO_CONDSTORE_CONF, false, false, "Without CONDSTORE",
                          " of the same mix on two Dovecots of their own that offer neither CONDSTORE "
                          "nor QRESYNC (imap_capability), pulled once and settled (3.1 s, then one "
                          "untimed sync) before the timed runs; twinbox's trace is checked for the "
                          "capabilities' absence."},
    [BENCH_SET_INBOX] = {"inbox", NULL, false, true, "One folder",
                         ", small and plain-text, all in INBOX, on two Dovecots of their own seeded "
                         "alike. The no-change resync right after the pull follows an untimed pull "
                         "from nothing at once (in each repetition; once in the scale run); the other "
                         "resyncs run once the set has settled (3.1 s after the last run, then one "
                         "untimed sync)."},
};

static struct set {
	struct dovecot *server, *server_mb;
	struct bench_tool tools[TOOL_RAW_FETCH + 1];
	struct bench_expect holds;
	bool begun;
} sets[BENCH_SET_COUNT];

static void seed(enum bench_set s, struct dovecot *d, unsigned n)
{
	if (kinds[s].inbox_only)
		bench_seed_inbox(d, n);
	else
		bench_seed(d, n);
}

void bench_set_begin(enum bench_set s, unsigned n, const char *bench_dir, const char *twinbox_bin,
                     const char *bench_bin)
{
	struct set *set = &sets[s];
	double start = bench_now();
	char *dir;

	if (s == BENCH_SET_MAIN || set->begun)
		return;
	set->begun = true;
	printf("  seeding %u messages (twice: one server for twinbox, one for mbsync)...", n);
	fflush(stdout);
	set->server = dovecot_start_with(kinds[s].extra);
	set->server_mb = dovecot_start_with(kinds[s].extra);
	seed(s, set->server, n);
	seed(s, set->server_mb, n);
	set->holds = bench_server_holds(set->server, kinds[s].inbox_only);
	printf(" %.0f MB each in %.0f s\n", (double)set->holds.bytes / 1e6, bench_now() - start);
	dir = xasprintf("%s/%s", bench_dir, kinds[s].dir);
	if (mkdir(dir, 0700) != 0)
		bench_fail("cannot create %s: %s", dir, strerror(errno));
	for (int k = TOOL_TWINBOX_IMAP; k <= TOOL_RAW_FETCH; k++)
		if (k == TOOL_TWINBOX_IMAP || k == TOOL_MBSYNC || (k == TOOL_RAW_FETCH && kinds[s].raw_fetch))
			bench_tool_init(&set->tools[k], (enum bench_tool_kind)k, dir,
			                k == TOOL_MBSYNC ? set->server_mb : set->server, twinbox_bin,
			                bench_bin);
	free(dir);
}

struct bench_tool *bench_set_tool(enum bench_set s, enum bench_tool_kind kind)
{
	return &sets[s].tools[kind];
}

bool bench_set_inbox_only(enum bench_set s)
{
	return kinds[s].inbox_only;
}

bool bench_set_hides_condstore(enum bench_set s)
{
	return s == BENCH_SET_NOCOND;
}

void bench_set_describe(struct buf *b)
{
	for (size_t s = 0; s < BENCH_SET_COUNT; s++)
		if (sets[s].begun)
			buf_printf(b, "%s: %zu messages (%.1f MB)%s\n", kinds[s].label,
			           sets[s].holds.messages, (double)sets[s].holds.bytes / 1e6, kinds[s].text);
}

/* The servers, each cleared before it is stopped: a failing dovecot_stop() ends in
 * bench_fail(), which comes back here. */
void bench_set_end(void)
{
	for (size_t s = 0; s < BENCH_SET_COUNT; s++) {
		struct set *set = &sets[s];
		struct dovecot *d = set->server, *d_mb = set->server_mb;

		set->server = set->server_mb = NULL;
		if (d)
			dovecot_stop(d);
		if (d_mb)
			dovecot_stop(d_mb);
		for (size_t k = 0; k <= TOOL_RAW_FETCH; k++)
			if (set->tools[k].dir) {
				bench_tool_free(&set->tools[k]);
				memset(&set->tools[k], 0, sizeof(set->tools[k]));
			}
	}
}
