/*
 * The huge-message scenario (issue 6: "peak RSS under 30 MB while syncing
 * a 200 MB message"): one message of a short text part and a 150 MB
 * attachment in base64, about 205 MB, pulled from and pushed to fresh
 * Dovecots of its own, so the other scenarios' servers never see it.
 *
 * The message is generated once (test_message) into a file of the
 * bench's directory; every run gets it by a hard link, into the server's
 * INBOX (delivered the Maildir way, as dovecot_seed does) or into the
 * tool's Maildir (a copy if Dovecot's directory is on another
 * filesystem): no run pays for writing 205 MB before it starts, and
 * every run reads the same cached pages. Tools and Dovecot only rename
 * message files, never write into them, so the shared inode stays as
 * written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "support/dovecot_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define HUGE_SEED 88000000u

/* The message file (NULL until the first run), its size and its line
 * count (each line ends in CRLF: a copy with LF ends is `lines` bytes
 * shorter). */
static char *msg_path;
static size_t msg_len, msg_lines;
/* The fresh server of the run in progress. */
static struct dovecot *huge_server;

/* Cleared first: a failing dovecot_stop() ends in bench_fail(), which
 * comes back here. */
static void stop_server(void)
{
	struct dovecot *d = huge_server;

	huge_server = NULL;
	if (d)
		dovecot_stop(d);
}

static void write_message(const char *bench_dir)
{
	double start = bench_now();
	size_t len;
	char *text = test_message(HUGE_SEED, BENCH_HUGE_ATTACH, &len);
	struct error err;
	int fd;

	msg_path = xasprintf("%s/huge.eml", bench_dir);
	msg_len = len;
	msg_lines = 0;
	for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + len - p))) != NULL; p++)
		msg_lines++;
	fd = open(msg_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		bench_fail("cannot create %s: %s", msg_path, strerror(errno));
	/* On disk before the first run, so its write-back does not land in
	 * that run's time. */
	if (fs_write_all(fd, text, len, msg_path, &err) < 0 || fs_fsync_fd(fd, msg_path, &err) < 0)
		bench_fail("%s", err.text);
	close(fd);
	free(text);
	printf(" (%.0f MB message written in %.1f s)", (double)len / 1e6, bench_now() - start);
	fflush(stdout);
}

static void link_message(const char *to)
{
	int in, out;
	size_t left = msg_len;
	ssize_t n = 0;

	if (link(msg_path, to) == 0)
		return;
	if (errno != EXDEV)
		bench_fail("cannot link %s to %s: %s", msg_path, to, strerror(errno));
	/* Dovecot's directory on another filesystem (TMPDIR): a copy. */
	in = open(msg_path, O_RDONLY | O_CLOEXEC);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	while (in >= 0 && out >= 0 && left > 0 && (n = copy_file_range(in, NULL, out, NULL, left, 0)) > 0)
		left -= (size_t)n;
	if (in < 0 || out < 0 || left > 0)
		bench_fail("cannot copy %s to %s: %s", msg_path, to, n < 0 ? strerror(errno) : "short copy");
	close(in);
	close(out);
}

/* The single message of `d`'s INBOX: its RFC822.SIZE, or 0 when INBOX
 * does not hold exactly one (*count_r of them). Also makes Dovecot index
 * what was delivered. */
static size_t server_size(struct dovecot *d, size_t *count_r)
{
	size_t size;
	struct dovecot_msg *m = dovecot_list(d, "INBOX", false, count_r);

	size = *count_r == 1 ? m[0].size : 0;
	dovecot_msgs_free(m, *count_r);
	return size;
}

/* The huge message delivered into `d`'s empty INBOX, as dovecot_seed
 * does: into new/ with its size in the name, then indexed (size.virtual
 * computed now, not in the timed run). */
static void seed_server(struct dovecot *d)
{
	char *new_dir = xasprintf("%s/" DV_HOME "/Maildir/new", d->dir);
	char *to =
	    xasprintf("%s/%lld.M1P%d.huge,S=%zu", new_dir, (long long)time(NULL), (int)getpid(), msg_len);
	size_t count;

	/* Dovecot creates INBOX's Maildir on first use. */
	if (server_size(d, &count) != 0 || count != 0 || access(new_dir, W_OK) != 0)
		bench_fail("huge: no empty INBOX at %s", new_dir);
	link_message(to);
	/* As root, Dovecot reads mail as the mail user. */
	if (geteuid() == 0 && chown(to, d->mail_uid, d->mail_gid) != 0)
		bench_fail("cannot chown %s: %s", to, strerror(errno));
	if (server_size(d, &count) != msg_len)
		bench_fail("huge: the server does not hold the %zu-byte message", msg_len);
	free(new_dir);
	free(to);
}

/* The size of the only file in `maildir`'s cur/ and new/, or -1. */
static off_t maildir_single_size(const char *maildir)
{
	static const char *const subs[] = {"cur", "new"};
	off_t size = -1;
	size_t files = 0;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *dir = xasprintf("%s/%s", maildir, subs[i]);
		DIR *d = opendir(dir);
		struct dirent *e;

		while (d && (e = readdir(d)) != NULL) {
			char *path;
			struct stat st;

			if (e->d_name[0] == '.')
				continue;
			path = xasprintf("%s/%s", dir, e->d_name);
			files++;
			size = stat(path, &st) == 0 ? st.st_size : -1;
			free(path);
		}
		if (d)
			closedir(d);
		free(dir);
	}
	return files == 1 ? size : -1;
}

/* mbsync adds a header "X-TUID: " plus 12 characters to what it stores,
 * on either side. */
#define TUID_LINE (sizeof("X-TUID: 0123456789ab\r\n") - 1)

/* Whether `size` is the message's, with CRLF line ends or (`lf`) with LF
 * ones, possibly with mbsync's X-TUID line. */
static bool size_matches(long long size, bool lf)
{
	long long crlf = (long long)msg_len, lf_only = (long long)(msg_len - msg_lines);

	return size == crlf || size == crlf + (long long)TUID_LINE ||
	       (lf && (size == lf_only || size == lf_only + (long long)TUID_LINE - 1));
}

/* Whether both sides hold exactly the message: one in the Maildir, one
 * on the server, each of its size. */
static bool complete(const struct bench_tool *t)
{
	size_t messages, flagged, srv_count;
	size_t srv = server_size(t->server, &srv_count);
	off_t local = maildir_single_size(t->maildir);

	bench_maildir_count(t->maildir, 0, &messages, &flagged);
	if (messages == 1 && srv_count == 1 && size_matches((long long)srv, false) &&
	    size_matches((long long)local, true))
		return true;
	fprintf(stderr,
	        "  %s: incomplete: %zu messages in the Maildir (size %lld), %zu on the server (size "
	        "%zu), expected one of %zu bytes (%zu with LF line ends in the Maildir)\n",
	        t->name, messages, (long long)local, srv_count, srv, msg_len, msg_len - msg_lines);
	return false;
}

void bench_huge_run(enum bench_tool_kind kind, bool push, const char *bench_dir, const char *twinbox_bin,
                    const char *bench_bin, struct bench_sample *s_r)
{
	char *dir = xasprintf("%s/huge", bench_dir);
	struct bench_tool t;
	struct error err;

	if (!msg_path)
		write_message(bench_dir);
	if (mkdir(dir, 0700) != 0)
		bench_fail("cannot create %s: %s", dir, strerror(errno));
	huge_server = dovecot_start();
	bench_tool_init(&t, kind, dir, huge_server, twinbox_bin, bench_bin);
	if (push) {
		char *to = xasprintf("%s/cur/1700000000.Bhuge.bench:2,S", t.maildir);

		/* No messages: cur/ new/ tmp/. Seen, as the initial
		 * push's messages. */
		bench_maildir_add(t.maildir, 0, 0, 0, 1);
		link_message(to);
		free(to);
		/* See the initial push in bench.c: mbsync waits out a
		 * directory changed in the current second. */
		nanosleep(&(struct timespec){1, 100000000}, NULL);
	} else {
		seed_server(huge_server);
	}
	bench_tool_run(&t, s_r);
	if (s_r->ok && !complete(&t)) {
		s_r->ok = false;
		bench_print_tail(t.log, 2000);
	}
	/* Few, big files: removed at once (see bench_discard for why many
	 * small ones are not). */
	stop_server();
	bench_tool_free(&t);
	if (dv_rmtree(dir, &err) < 0)
		bench_fail("%s", err.text);
	free(dir);
}

void bench_huge_describe(struct buf *b)
{
	buf_printf(b,
	           "Huge message: one message of %.0f MB (a text part and a %.0f MB attachment in "
	           "base64), one run per tool and direction, each on a fresh Dovecot of its own.\n",
	           (double)msg_len / 1e6, BENCH_HUGE_ATTACH / 1e6);
}

void bench_huge_end(void)
{
	stop_server();
	if (msg_path && unlink(msg_path) != 0 && errno != ENOENT)
		fprintf(stderr, "bench: cannot remove %s: %s\n", msg_path, strerror(errno));
	free(msg_path);
	msg_path = NULL;
}
