/*
 * The large set (issue 6: "initial pull (N = 1,000 and 10,000)", its
 * initial-pull targets at 10,000): BENCH_LARGE_N messages of the normal
 * mix in the same folders, on two Dovecots of their own, seeded alike:
 * twinbox and the raw-fetch bound pull from one, mbsync from the other.
 * The servers are started and seeded when the first large scenario
 * runs, and stopped at the end of the bench (or by bench_fail).
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

static struct dovecot *large_server, *large_server_mb;
static struct bench_tool large_tools[TOOL_RAW_FETCH + 1];
static struct bench_expect holds;
static bool begun;

void bench_large_begin(unsigned n, const char *bench_dir, const char *twinbox_bin, const char *bench_bin)
{
	static const enum bench_tool_kind kinds[] = {TOOL_TWINBOX_IMAP, TOOL_MBSYNC, TOOL_RAW_FETCH};
	double start = bench_now();
	char *dir;

	if (begun)
		return;
	begun = true;
	printf("  seeding %u messages (twice: one server for twinbox, one for mbsync)...", n);
	fflush(stdout);
	large_server = dovecot_start();
	large_server_mb = dovecot_start();
	bench_seed(large_server, n);
	bench_seed(large_server_mb, n);
	holds = bench_server_holds(large_server, false);
	printf(" %.0f MB each in %.0f s\n", (double)holds.bytes / 1e6, bench_now() - start);
	dir = xasprintf("%s/large", bench_dir);
	if (mkdir(dir, 0700) != 0)
		bench_fail("cannot create %s: %s", dir, strerror(errno));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		bench_tool_init(&large_tools[kinds[i]], kinds[i], dir,
		                kinds[i] == TOOL_MBSYNC ? large_server_mb : large_server, twinbox_bin,
		                bench_bin);
	free(dir);
}

struct bench_tool *bench_large_tool(enum bench_tool_kind kind)
{
	return &large_tools[kind];
}

void bench_large_describe(struct buf *b)
{
	if (!begun)
		return;
	buf_printf(b,
	           "The large set: %zu messages (%.1f MB) of the same mix in the same folders, on two "
	           "Dovecots of their own seeded alike (twinbox and the raw-fetch bound pull from one, "
	           "mbsync from the other); issue 6's initial-pull targets are checked on it.\n",
	           holds.messages, (double)holds.bytes / 1e6);
}

/* The servers, each cleared before it is stopped: a failing dovecot_stop() ends in
 * bench_fail(), which comes back here. */
void bench_large_end(void)
{
	struct dovecot *d = large_server, *d_mb = large_server_mb;

	large_server = large_server_mb = NULL;
	if (d)
		dovecot_stop(d);
	if (d_mb)
		dovecot_stop(d_mb);
	for (size_t k = 0; k <= TOOL_RAW_FETCH; k++)
		if (large_tools[k].dir) {
			bench_tool_free(&large_tools[k]);
			memset(&large_tools[k], 0, sizeof(large_tools[k]));
		}
}
