/*
 * The POP3 import's server (issue 6: "POP3 import of N messages against
 * mpop"): a Dovecot of its own whose INBOX holds exactly N messages of
 * the normal mix, all left on the server, up while that scenario runs;
 * twinbox's POP3 import and mpop each run against it from an empty
 * Maildir and no UIDL list. In the latency scenario the tools reach it
 * through a proxy of their own (bench_proxy.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "support/dovecot_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

static struct dovecot *pop3_server;
static struct dovecot via_proxy; /* what the tools reach: a copy */
static pid_t proxy;
static struct bench_tool pop3_tools[TOOL_MPOP + 1];
static unsigned seeded;
static unsigned long long seeded_bytes;

void bench_pop3_begin(unsigned n, const char *dir, bool latency, const char *twinbox_bin,
                      const char *bench_bin)
{
	double start = bench_now();
	struct bench_expect e;

	printf("  seeding %u messages into the POP3 server's INBOX...", n);
	fflush(stdout);
	pop3_server = dovecot_start();
	bench_seed_pop3(pop3_server, n);
	e = bench_server_holds(pop3_server, true);
	if (e.messages != n)
		bench_fail("the POP3 server holds %zu messages, not %u", e.messages, n);
	seeded = n;
	seeded_bytes = e.bytes;
	printf(" %.0f MB in %.0f s\n", (double)e.bytes / 1e6, bench_now() - start);
	via_proxy = *pop3_server;
	if (latency)
		proxy =
		    bench_proxy_start(pop3_server->pop3s_port, BENCH_PROXY_DELAY_MS, &via_proxy.pop3s_port);
	for (int k = TOOL_TWINBOX_POP3; k <= TOOL_MPOP; k++)
		bench_tool_init(&pop3_tools[k], (enum bench_tool_kind)k, dir, &via_proxy, twinbox_bin,
		                bench_bin);
}

struct bench_tool *bench_pop3_tool(enum bench_tool_kind kind)
{
	return &pop3_tools[kind];
}

void bench_pop3_describe(struct buf *b)
{
	if (!seeded)
		return;
	buf_printf(b,
	           "POP3 import: %u messages of the same mix (%.1f MB) all in the INBOX of a Dovecot of "
	           "its own, left on the server; each run starts from an empty Maildir and no state (no "
	           "UIDL list).\n",
	           seeded, (double)seeded_bytes / 1e6);
}

void bench_pop3_stop(void)
{
	struct dovecot *d = pop3_server;

	/* Cleared first: a failing dovecot_stop() ends in bench_fail(),
	 * which comes back here. */
	pop3_server = NULL;
	if (d)
		dovecot_stop(d);
}

void bench_pop3_end(void)
{
	/* The tools' Maildirs stay in the bench's directory until it is
	 * removed. */
	bench_discard_mail(pop3_server);
	if (proxy)
		bench_proxy_stop(proxy);
	proxy = 0;
	bench_pop3_stop();
	for (int k = TOOL_TWINBOX_POP3; k <= TOOL_MPOP; k++) {
		pop3_tools[k].server = NULL;
		bench_tool_free(&pop3_tools[k]);
	}
}
