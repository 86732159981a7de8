/*
 * The migration scenario: every message of a Dovecot (the source,
 * seeded with the bench's usual mix) copied into a fresh, empty Dovecot
 * (the target), over TLS, by
 *   - twinbox migrate --no-verify (TOOL_TWINBOX_MIGRATE), the command a
 *     user runs, its closing verification left out of the timed run as
 *     the other tools verify nothing;
 *   - mbsync, an IMAP-to-IMAP channel (Far the source, Near the target,
 *     Sync Pull, Create Near, Expunge None, CopyArrivalDate yes);
 *   - interimap, its [remote] the source and its [local] the target,
 *     both over IMAPS (it syncs both ways; with an empty target and an
 *     empty database that is a copy to the target);
 *   - the raw bound (bench_copy.c);
 *   - on the limited line, twinbox's config form (an account with
 *     `source:` and `target:`, pull, expunge none, create on the
 *     target) with `compress: true` and with `compress: false`, against
 *     Dovecots that offer COMPRESS=DEFLATE.
 * Each run gets a target of its own, started for it and stopped after
 * it, and each tool a fresh directory (no state). The tools reach the
 * two servers straight (loopback), each through a proxy with
 * BENCH_PROXY_DELAY_MS each way (latency), or each through a proxy on
 * one shared line of BENCH_LINK_MBIT Mbit/s each way (link).
 *
 * A run counts only when the tool exited 0 and the target then holds
 * what the source holds (message and \Flagged counts in the source's
 * mailboxes). After each twinbox migrate run, the same command runs
 * twice more, timed apart: without verification (it must copy nothing:
 * its `--json` account_end says `"pulled":0`), then with it (its
 * verify_end must say nothing is missing), so the verification's cost
 * is reported on its own (bench_migrate_describe). The config form's
 * runs are checked for a second run that copies nothing likewise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "bench_scenario.h"
#include "support/dovecot_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

/* Dovecot 2.3 offers COMPRESS=DEFLATE with these plugins. */
#define ZLIB_CONF                                                                                            \
	"mail_plugins = $mail_plugins zlib\n"                                                                \
	"protocol imap {\n"                                                                                  \
	"  mail_plugins = $mail_plugins imap_zlib\n"                                                         \
	"}\n"

#define MAX_AGAIN MAX_REPS

static const char *const net_names[BENCH_NET_COUNT] = {"on loopback", "at 25 ms each way",
                                                       "on the limited line"};

/* The sources: [0] plain, for loopback and latency; [1] with
 * COMPRESS=DEFLATE, for the line (seeded when first needed). */
static struct source {
	struct dovecot *d;
	struct bench_expect holds;
	double seed_seconds;
} sources[2];

/* The run in progress: its target and proxies (for bench_fail). */
static struct dovecot *target;
static pid_t proxies[2];
static struct bench_link *the_line;

/* The CPU time (user + system) of each tool's last timed run, per
 * network, with its wall time: where a tool's time goes, waiting or
 * working. */
static struct bench_sample last[BENCH_NET_COUNT][TOOL_TWINBOX_PLAIN + 1];

/* twinbox migrate's runs after its timed one, per network. */
static struct again {
	double nothing[MAX_AGAIN], verify[MAX_AGAIN];
	size_t n;
} again[BENCH_NET_COUNT];

static struct source *source_begin(bool zlib, unsigned n)
{
	struct source *s = &sources[zlib];
	double start = bench_now();

	if (s->d)
		return s;
	printf("  seeding the migration's source%s with %u messages...", zlib ? " (COMPRESS=DEFLATE)" : "",
	       n);
	fflush(stdout);
	s->d = dovecot_start_with(zlib ? ZLIB_CONF : NULL);
	bench_seed(s->d, n);
	s->holds = bench_server_holds(s->d, false);
	s->seed_seconds = bench_now() - start;
	printf(" %.0f MB in %.0f s\n", (double)s->holds.bytes / 1e6, s->seed_seconds);
	return s;
}

/* ---- the tools' commands and configurations ------------------------------- */

struct run {
	enum bench_tool_kind kind;
	char *dir, *log, *log_again, *config, *state; /* log_again: twinbox's runs after the timed one */
	char *from_url, *to_url, *pw_cmd;
	char *from_port, *to_port, *expect, *config_opt; /* as arguments */
	struct dovecot from, to;                         /* copies: the ports the tools reach */
};

static void write_file(const char *path, const char *text)
{
	struct error err;

	if (fs_write_atomic(path, text, strlen(text), 0600, &err) < 0)
		bench_fail("%s", err.text);
}

static char *mbsync_config(const struct run *r)
{
	return xasprintf("IMAPAccount source\nHost localhost\nPort %u\nUser %s\nPass \"%s\"\n"
	                 "SSLType IMAPS\nCertificateFile %s\n\n"
	                 "IMAPStore source\nAccount source\n\n"
	                 "IMAPAccount target\nHost localhost\nPort %u\nUser %s\nPass \"%s\"\n"
	                 "SSLType IMAPS\nCertificateFile %s\n\n"
	                 "IMAPStore target\nAccount target\n\n"
	                 "Channel migrate\nFar :source:\nNear :target:\nPatterns *\n"
	                 "Sync Pull\nCreate Near\nExpunge None\nCopyArrivalDate yes\n"
	                 "SyncState %s/\n",
	                 r->from.imaps_port, r->from.user, r->from.password, r->from.ca_file,
	                 r->to.imaps_port, r->to.user, r->to.password, r->to.ca_file, r->state);
}

static char *interimap_config(const struct run *r)
{
	return xasprintf("database = %s/interimap.db\n\n"
	                 "[local]\ntype = imaps\nhost = localhost\nport = %u\nusername = %s\n"
	                 "password = %s\nSSL_CAfile = %s\n\n"
	                 "[remote]\ntype = imaps\nhost = localhost\nport = %u\nusername = %s\n"
	                 "password = %s\nSSL_CAfile = %s\n",
	                 r->state, r->to.imaps_port, r->to.user, r->to.password, r->to.ca_file,
	                 r->from.imaps_port, r->from.user, r->from.password, r->from.ca_file);
}

static void twinbox_side(struct buf *b, const char *side, const struct dovecot *d, bool compress)
{
	buf_printf(b,
	           "    %s:\n      imap:\n        host: localhost\n        port: %u\n"
	           "        tls: implicit\n        user: %s\n        password: \"%s\"\n"
	           "        ca_file: \"%s\"\n        compress: %s\n",
	           side, d->imaps_port, d->user, d->password, d->ca_file, compress ? "true" : "false");
}

/* The config form of the same migration, compressed or not. */
static char *twinbox_config(const struct run *r, bool compress)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "state_dir: %s\naccounts:\n  bench:\n", r->state);
	twinbox_side(&b, "source", &r->from, compress);
	twinbox_side(&b, "target", &r->to, compress);
	buf_printf(&b, "    sync:\n      direction: pull\n      expunge: none\n      create: local\n");
	return buf_detach(&b, NULL);
}

/* The command of `r`'s tool into `argv` (pointers into `r`); twinbox's
 * with `--json` and with its verification as asked. */
static void tool_argv(const struct run *r, bool json, bool verify, const char *twinbox_bin,
                      const char *bench_bin, const char *argv[32])
{
	/* BENCH_MIGRATE_TRACE=1: twinbox's protocol trace in each run's log
	 * (kept with BENCH_KEEP=1), to see where its time goes. */
	const char *quiet = getenv("BENCH_MIGRATE_TRACE") && !json ? "-vv" : "--quiet";
	size_t n = 0;

	switch (r->kind) {
	case TOOL_TWINBOX_MIGRATE: {
		const char *const a[] = {twinbox_bin,     quiet,
		                         "migrate",       "--from",
		                         r->from_url,     "--to",
		                         r->to_url,       "--from-password-command",
		                         r->pw_cmd,       "--to-password-command",
		                         r->pw_cmd,       "--from-ca-file",
		                         r->from.ca_file, "--to-ca-file",
		                         r->to.ca_file,   "--state-dir",
		                         r->state};
		for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
			argv[n++] = a[i];
		if (!verify)
			argv[n++] = "--no-verify";
		if (json)
			argv[n++] = "--json";
		break;
	}
	case TOOL_TWINBOX_DEFLATE:
	case TOOL_TWINBOX_PLAIN:
		argv[n++] = twinbox_bin;
		argv[n++] = quiet;
		argv[n++] = "--config";
		argv[n++] = r->config;
		argv[n++] = "sync";
		if (json)
			argv[n++] = "--json";
		argv[n++] = "bench";
		break;
	case TOOL_MBSYNC_MIGRATE:
		argv[n++] = "mbsync";
		argv[n++] = "--quiet";
		argv[n++] = "-c";
		argv[n++] = r->config;
		argv[n++] = "migrate";
		break;
	case TOOL_INTERIMAP:
		argv[n++] = "interimap";
		argv[n++] = "--quiet";
		argv[n++] = r->config_opt;
		break;
	case TOOL_RAW_COPY: {
		/* The fixture's throwaway password on a command line is
		 * harmless. */
		const char *const a[] = {bench_bin,       BENCH_RAW_COPY_ARG, r->from_port,
		                         r->from.ca_file, r->to_port,         r->to.ca_file,
		                         r->from.user,    r->from.password,   r->expect};
		for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
			argv[n++] = a[i];
		break;
	}
	default:
		bench_fail("%s is not a migration tool", bench_tool_name(r->kind));
	}
	argv[n] = NULL;
}

/* ---- one run ------------------------------------------------------------- */

/* The run's target, proxies and files; `src` is what the tool copies. */
static void run_begin(struct run *r, enum bench_tool_kind kind, enum bench_net net, const struct source *src,
                      const char *bench_dir)
{
	char *text = NULL, *pw_file;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->dir = xasprintf("%s/migrate", bench_dir);
	if (mkdir(r->dir, 0700) != 0)
		bench_fail("cannot create %s: %s", r->dir, strerror(errno));
	r->log = xasprintf("%s/run.log", r->dir);
	r->log_again = xasprintf("%s/again.log", r->dir);
	r->state = xasprintf("%s/state", r->dir);
	if (mkdir(r->state, 0700) != 0)
		bench_fail("cannot create %s: %s", r->state, strerror(errno));
	target = dovecot_start_with(net == BENCH_NET_LINE ? ZLIB_CONF : NULL);
	r->from = *src->d;
	r->to = *target;
	if (net != BENCH_NET_LOOPBACK) {
		unsigned delay = net == BENCH_NET_LATENCY ? BENCH_PROXY_DELAY_MS : 0;
		struct bench_link *l = net == BENCH_NET_LINE ? the_line : NULL;

		proxies[0] = bench_proxy_start_link(src->d->imaps_port, delay, l, &r->from.imaps_port);
		proxies[1] = bench_proxy_start_link(target->imaps_port, delay, l, &r->to.imaps_port);
	}
	r->from_url = xasprintf("imaps://%s@localhost:%u", r->from.user, r->from.imaps_port);
	r->to_url = xasprintf("imaps://%s@localhost:%u", r->to.user, r->to.imaps_port);
	r->from_port = xasprintf("%u", r->from.imaps_port);
	r->to_port = xasprintf("%u", r->to.imaps_port);
	r->expect = xasprintf("%zu", src->holds.messages);
	/* Both servers have the fixture's password. */
	pw_file = xasprintf("%s/password", r->dir);
	write_file(pw_file, r->from.password);
	r->pw_cmd = xasprintf("cat %s", pw_file);
	free(pw_file);
	switch (kind) {
	case TOOL_MBSYNC_MIGRATE:
		r->config = xasprintf("%s/mbsyncrc", r->dir);
		text = mbsync_config(r);
		break;
	case TOOL_INTERIMAP:
		r->config = xasprintf("%s/interimap.conf", r->dir);
		text = interimap_config(r);
		r->config_opt = xasprintf("--config=%s", r->config);
		break;
	case TOOL_TWINBOX_DEFLATE:
	case TOOL_TWINBOX_PLAIN:
		r->config = xasprintf("%s/config.yaml", r->dir);
		text = twinbox_config(r, kind == TOOL_TWINBOX_DEFLATE);
		break;
	default:
		break;
	}
	if (text)
		write_file(r->config, text);
	free(text);
}

/* Stop what run_begin started; the target's mail and the run's files go
 * to the trash (see bench_discard). */
static void run_end(struct run *r)
{
	struct dovecot *d = target;

	for (int i = 0; i < 2; i++)
		if (proxies[i])
			bench_proxy_stop(proxies[i]);
	proxies[0] = proxies[1] = 0;
	/* Cleared first: a failing dovecot_stop() ends in bench_fail(),
	 * which comes back to bench_migrate_end(). */
	target = NULL;
	bench_discard_mail(d);
	dovecot_stop(d);
	bench_discard(r->dir);
	free(r->dir);
	free(r->log);
	free(r->log_again);
	free(r->config);
	free(r->state);
	free(r->from_url);
	free(r->to_url);
	free(r->pw_cmd);
	free(r->from_port);
	free(r->to_port);
	free(r->expect);
	free(r->config_opt);
}

/* Whether the target holds what the source holds; says what differs. */
static bool target_complete(const struct run *r, const struct source *src)
{
	struct bench_expect got = bench_server_holds_present(target);
	const struct bench_expect *e = &src->holds;

	if (got.messages == e->messages && got.flagged == e->flagged)
		return true;
	fprintf(stderr,
	        "  %s: incomplete: the target holds %zu messages (%zu flagged, %.1f MB), the source %zu "
	        "(%zu flagged, %.1f MB)\n",
	        bench_tool_name(r->kind), got.messages, got.flagged, (double)got.bytes / 1e6, e->messages,
	        e->flagged, (double)e->bytes / 1e6);
	return false;
}

/* The line of `r`'s log_again (a --json run's) with event `event`, holding
 * `field`; says what it found otherwise. */
static bool json_says(const struct run *r, const char *event, const char *field)
{
	char *log = NULL, *line, *pat = xasprintf("\"event\":\"%s\"", event);
	size_t len;
	struct error err;
	bool found = false;

	if (fs_read_file(r->log_again, 64u << 20, &log, &len, &err) < 0)
		bench_fail("%s", err.text);
	for (line = log; line && *line && !found;) {
		char *end = strchr(line, '\n');

		if (end)
			*end = '\0';
		found = strstr(line, pat) && strstr(line, field);
		line = end ? end + 1 : NULL;
	}
	free(log);
	free(pat);
	if (!found) {
		fprintf(stderr, "  %s: no %s event with %s in its --json output:\n", bench_tool_name(r->kind),
		        event, field);
		bench_print_tail(r->log_again, 2000);
	}
	return found;
}

/* twinbox again, at once: must copy nothing; for the migrate command,
 * then again with its verification. */
static bool twinbox_again(const struct run *r, enum bench_net net, const char *twinbox_bin)
{
	const char *argv[32];
	struct bench_sample nothing, verify = {true, 0, 0, 0};
	bool ok;

	tool_argv(r, true, false, twinbox_bin, NULL, argv);
	bench_run(argv, r->log_again, &nothing);
	ok = nothing.ok && json_says(r, "account_end", "\"pulled\":0,");
	if (ok && r->kind == TOOL_TWINBOX_MIGRATE) {
		tool_argv(r, true, true, twinbox_bin, NULL, argv);
		bench_run(argv, r->log_again, &verify);
		ok = verify.ok && json_says(r, "verify_end", "\"missing\":0,");
	}
	if (!ok) {
		fprintf(stderr, "  %s: the run right after the timed one FAILED\n", bench_tool_name(r->kind));
		return false;
	}
	if (r->kind == TOOL_TWINBOX_MIGRATE && again[net].n < MAX_AGAIN) {
		again[net].nothing[again[net].n] = nothing.seconds;
		again[net].verify[again[net].n] = verify.seconds;
		again[net].n++;
	}
	return true;
}

void bench_migrate_run(enum bench_tool_kind kind, enum bench_net net, unsigned n, const char *bench_dir,
                       const char *twinbox_bin, const char *bench_bin, struct bench_sample *s_r)
{
	const struct source *src = source_begin(net == BENCH_NET_LINE, n);
	const char *argv[32];
	struct run r;

	if (net == BENCH_NET_LINE && !the_line)
		the_line = bench_link_new(BENCH_LINK_MBIT);
	run_begin(&r, kind, net, src, bench_dir);
	tool_argv(&r, false, false, twinbox_bin, bench_bin, argv);
	bench_run(argv, r.log, s_r);
	last[net][kind] = *s_r;
	if (s_r->ok && !target_complete(&r, src)) {
		s_r->ok = false;
		bench_print_tail(r.log, 2000);
	}
	if (s_r->ok &&
	    (kind == TOOL_TWINBOX_MIGRATE || kind == TOOL_TWINBOX_DEFLATE || kind == TOOL_TWINBOX_PLAIN))
		s_r->ok = twinbox_again(&r, net, twinbox_bin);
	run_end(&r);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* The CPU figures of `net`'s runs, if any. */
static void describe_cpu(struct buf *b, enum bench_net net)
{
	static const enum bench_tool_kind kinds[] = {TOOL_TWINBOX_MIGRATE, TOOL_TWINBOX_DEFLATE,
	                                             TOOL_TWINBOX_PLAIN,   TOOL_MBSYNC_MIGRATE,
	                                             TOOL_INTERIMAP,       TOOL_RAW_COPY};
	bool any = false;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct bench_sample *s = &last[net][kinds[i]];

		if (s->seconds <= 0)
			continue;
		if (!any)
			buf_printf(
			    b, "CPU time (user + system) of each tool's last run %s, Dovecot's not counted: ",
			    net_names[net]);
		buf_printf(b, "%s%s %.1f s in %.1f s", any ? ", " : "",
		           kinds[i] == TOOL_TWINBOX_PLAIN     ? "twinbox (compress: false)"
		           : kinds[i] == TOOL_TWINBOX_DEFLATE ? "twinbox (COMPRESS)"
		                                              : bench_tool_name(kinds[i]),
		           s->cpu, s->seconds);
		any = true;
	}
	if (any)
		buf_printf(b, ".\n");
}

void bench_migrate_describe(struct buf *b)
{
	for (int s = 0; s < 2; s++)
		if (sources[s].d)
			buf_printf(
			    b,
			    "Migration%s: %zu messages (%.1f MB) of the same mix in the same folders on a "
			    "Dovecot of its own (seeded in %.0f s), copied over TLS into a fresh, empty "
			    "Dovecot for each run%s; a run counts when the target then holds as many "
			    "messages, and as many flagged, as the source. twinbox runs `twinbox migrate "
			    "--no-verify` (the others verify nothing), then at once twice more, untimed "
			    "in the table: without verification (it must copy nothing) and with it.\n",
			    s ? " on the limited line" : "", sources[s].holds.messages,
			    (double)sources[s].holds.bytes / 1e6, sources[s].seed_seconds,
			    s ? ", both servers offering COMPRESS=DEFLATE; both servers behind proxies on "
			        "one line of " BENCH_LINK_MBIT_TEXT " Mbit/s each way (a token bucket per "
			        "direction, shared by every connection of both proxies)"
			      : "; the raw bound is one connection per server, folders one after the "
			        "other, each one UID FETCH of every body streamed into one MULTIAPPEND "
			        "(bench_copy.c, twinbox's IMAP session layer)");
	if (sources[1].d) {
		double mb = (double)sources[1].holds.bytes / 1e6;
		buf_printf(
		    b,
		    "The line carries %.1f MB (the source's mail, uncompressed) in %.1f s at best, each "
		    "way.\n",
		    mb, mb * 8.0 / BENCH_LINK_MBIT);
	}
	for (int net = 0; net < BENCH_NET_COUNT; net++) {
		struct again *a = &again[net];

		describe_cpu(b, (enum bench_net)net);
		if (!a->n)
			continue;
		buf_printf(
		    b,
		    "twinbox migrate %s, right after the timed run: nothing to copy %.2f s; the same "
		    "with its verification %.2f s (medians of %zu), so verifying costs about %.2f s.\n",
		    net_names[net], median(a->nothing, a->n), median(a->verify, a->n), a->n,
		    median(a->verify, a->n) - median(a->nothing, a->n));
	}
}

void bench_migrate_end(void)
{
	struct dovecot *d = target;

	for (int i = 0; i < 2; i++)
		if (proxies[i])
			bench_proxy_stop(proxies[i]);
	proxies[0] = proxies[1] = 0;
	target = NULL;
	if (d)
		dovecot_stop(d);
	for (int s = 0; s < 2; s++) {
		d = sources[s].d;
		sources[s].d = NULL;
		if (d)
			dovecot_stop(d);
	}
	bench_link_free(the_line);
	the_line = NULL;
}
