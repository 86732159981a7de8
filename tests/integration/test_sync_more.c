/*
 * End-to-end `twinbox sync` scenarios against a real Dovecot, checked as a
 * user would (the Maildir files, the server's messages and flags, the
 * state rows): a large initial pull, a 30 MB push, every flag both ways,
 * conflicts, a message moved by a mail program, folders created on either
 * side, adopting a Maildir left by mbsync, two runs at once.
 * The harness is support/sync_harness.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

/* AddressSanitizer's shadow memory and quarantine make peak memory say
 * nothing about what the program holds. */
#if defined(__SANITIZE_ADDRESS__)
#define PEAK_MEMORY_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PEAK_MEMORY_MEANINGFUL 0
#endif
#endif
#ifndef PEAK_MEMORY_MEANINGFUL
#define PEAK_MEMORY_MEANINGFUL 1
#endif

TestSuite(sync_more, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void assert_summary(const char *folder, const char *expect)
{
	char *s = summary_of(folder);

	cr_assert_str_eq(s, expect, "%s: the summary is \"%s\", expected \"%s\"; stderr: %s", folder, s,
	                 expect, sh.r.err);
	free(s);
}

static void make_local_folder(const char *folder)
{
	static const char *subs[] = {"", "/cur", "/new", "/tmp"};
	char *base = folder_dir(folder);

	for (int i = 0; i < 4; i++) {
		char *p = xasprintf("%s%s", base, subs[i]);
		cr_assert_eq(mkdir(p, 0700), 0, "cannot create %s", p);
		free(p);
	}
	free(base);
}

Test(sync_more, initial_pull_of_2000_messages_then_nothing_to_do)
{
	static const struct {
		const char *name;
		unsigned count, seed;
		size_t attach;
	} f[] = {
	    {"INBOX", 1000, 10000, 20000},
	    {"Work/Projects", 600, 20000, 5000},
	    {"Work/Archive/2024", 400, 30000, 0},
	};
	struct timespec t0;
	double first, second;
	char *path, *id;

	for (size_t i = 0; i < 3; i++)
		dovecot_seed(sh.d, f[i].name, f[i].count, f[i].seed, f[i].attach);
	dovecot_flags(sh.d, "Work/Projects", 8, "add", "\\Seen \\Answered");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sync_ok();
	first = seconds_since(&t0);
	for (size_t i = 0; i < 3; i++) {
		char *expect = xasprintf(
		    "%u pulled, 0 pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote", f[i].count);
		assert_summary(f[i].name, expect);
		free(expect);
		/* mbsync's copies carry its X-TUID field; otherwise the bytes
		 * are the server's. */
		assert_twins_ignoring(f[i].name, f[i].count, "X-TUID");
		cr_assert_eq(state_pair_count(f[i].name), f[i].count);
	}
	id = seeded_id(20000, 7);
	path = local_find("Work/Projects", id);
	cr_assert(strstr(path, "/cur/") && strcmp(strstr(path, ":2,"), ":2,RS") == 0,
	          "the \\Seen \\Answered message should be cur/...:2,RS: %s", path);
	free(path);
	free(id);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	sync_ok();
	second = seconds_since(&t0);
	assert_nothing_done();
	for (size_t i = 0; i < 3; i++) {
		struct local_msg *lm;
		size_t n = local_list(f[i].name, &lm);
		local_free(lm, n);
		cr_assert_eq(n, f[i].count, "%s: the second run changed the Maildir", f[i].name);
		cr_assert_eq(server_count(f[i].name), f[i].count, "%s: the second run changed the server",
		             f[i].name);
		cr_assert_eq(state_pair_count(f[i].name), f[i].count);
	}
	cr_log_info("2000 messages in 3 folders: initial pull %.2f s, run with no changes %.2f s", first,
	            second);
}

/* A message of about `size` bytes with LF line ends. */
static char *big_message(size_t size)
{
	struct buf b = BUF_INIT;
	unsigned line = 0;

	buf_printf(&b, "Message-ID: <big@twinbox.test>\n"
	               "From: Big Sender <big@twinbox.test>\n"
	               "Subject: a large attachment\n"
	               "MIME-Version: 1.0\n"
	               "Content-Type: application/octet-stream\n"
	               "Content-Transfer-Encoding: base64\n\n");
	while (b.len < size) {
		/* 76 characters that vary with the line, like base64 does. */
		char text[80];
		for (int i = 0; i < 76; i++)
			text[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			    [(line * 7 + i * 13) % 64];
		text[76] = '\n';
		buf_append(&b, text, 77);
		line++;
	}
	return buf_detach(&b, NULL);
}

Test(sync_more, push_of_new_local_messages_with_a_30_mb_one)
{
	const size_t big_size = 30u << 20;
	char *big = big_message(big_size), *crlf;
	size_t crlf_len, n;
	struct dovecot_msg *sm;
	struct run_result r = {0};
	long maxrss_kb;
	bool found = false;
	pid_t pid;

	dovecot_seed(sh.d, "INBOX", 3, 40000, 0);
	sync_ok();
	write_local("INBOX", "1700000100.M1P1.laptop", big);
	/* Linux keeps a process's peak memory across exec, so the forked
	 * child must not inherit the message from this process. */
	free(big);
	write_local("INBOX", "1700000101.M1P1.laptop",
	            "Message-ID: <small-1@twinbox.test>\nSubject: one\n\nfirst\n");
	write_local("INBOX", "1700000102.M1P1.laptop",
	            "Message-ID: <small-2@twinbox.test>\nSubject: two\n\nsecond\n");
	pid = sync_spawn("push");
	sync_wait(pid, "push", 120, &r, &maxrss_kb);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "t: INBOX: 0 pulled, 3 pushed"), "%s", r.out);
	cr_log_info("pushing a 30 MB message: peak memory of twinbox %ld kB", maxrss_kb);
	/* Streamed, the message never sits in memory whole: the peak stays
	 * far below its size. */
	if (PEAK_MEMORY_MEANINGFUL)
		cr_assert_lt(maxrss_kb, (long)(big_size >> 11),
		             "twinbox held the message in memory: peak %ld kB", maxrss_kb);
	run_result_free(&r);

	big = big_message(big_size);
	crlf = crlf_of(big, &crlf_len);
	sm = dovecot_list(sh.d, "INBOX", true, &n);
	cr_assert_eq(n, 6);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(sm[i].body, "Message-ID: <big@twinbox.test>", 30) != 0)
			continue;
		cr_assert(!found, "the big message is twice on the server");
		found = true;
		cr_assert_eq(sm[i].body_len, crlf_len, "the server has %zu bytes, expected %zu",
		             sm[i].body_len, crlf_len);
		cr_assert(memcmp(sm[i].body, crlf, crlf_len) == 0, "the server's copy differs");
		cr_assert_eq(sm[i].size, crlf_len);
	}
	cr_assert(found, "the big message is not on the server");
	dovecot_msgs_free(sm, n);
	free(crlf);
	free(big);
	assert_twins("INBOX", 6);
	cr_assert_eq(state_pair_count("INBOX"), 6);
	sync_ok();
	assert_nothing_done();
}

static const char flag_letters[] = "SRFTDP";
static const char *const flag_names[] = {"\\Seen",    "\\Answered", "\\Flagged",
                                         "\\Deleted", "\\Draft",    "$Forwarded"};
#define N_FLAGS 6

/* Message i has exactly the flag `only` (or none when only < 0) on the
 * server, for every flag twinbox maps to a letter. */
static void assert_server_flags(unsigned seed, int i, int only)
{
	char *id = seeded_id(seed, (unsigned)i), *flags = NULL;

	server_find("INBOX", id, &flags);
	for (int j = 0; j < N_FLAGS; j++)
		cr_assert_eq(has_flag(flags, flag_names[j]), j == only,
		             "message %d: %s should be %s on the server, flags are \"%s\"", i, flag_names[j],
		             j == only ? "set" : "clear", flags);
	free(flags);
	free(id);
}

static void assert_local_flags(unsigned seed, int i, const char *letters)
{
	char *id = seeded_id(seed, (unsigned)i), *path = local_find("INBOX", id);
	const char *info = strstr(path, ":2,");

	cr_assert_str_eq(info ? info + 3 : "", letters, "message %d: local flags of %s", i, path);
	free(path);
	free(id);
}

Test(sync_more, each_flag_both_ways_set_and_cleared)
{
	const unsigned seed = 50000;
	char *paths[N_FLAGS];

	dovecot_seed(sh.d, "INBOX", N_FLAGS + 1, seed, 0);
	sync_ok();

	/* Message i gets flag i locally, by a rename as mail readers do. */
	for (int i = 0; i < N_FLAGS; i++) {
		char *id = seeded_id(seed, (unsigned)i), *path = local_find("INBOX", id);
		char letter[2] = {flag_letters[i], 0};
		paths[i] = local_set_flags(path, letter);
		free(path);
		free(id);
	}
	sync_ok();
	assert_summary("INBOX", "0 pulled, 0 pushed, flags 0 local / 6 remote, deleted 0 local / 0 remote");
	for (int i = 0; i < N_FLAGS; i++) {
		char letter[2] = {flag_letters[i], 0};
		assert_server_flags(seed, i, i);
		assert_local_flags(seed, i, letter);
	}
	assert_server_flags(seed, N_FLAGS, -1);

	/* Cleared locally. */
	for (int i = 0; i < N_FLAGS; i++) {
		char *to = local_set_flags(paths[i], "");
		free(paths[i]);
		paths[i] = to;
	}
	sync_ok();
	assert_summary("INBOX", "0 pulled, 0 pushed, flags 0 local / 6 remote, deleted 0 local / 0 remote");
	for (int i = 0; i <= N_FLAGS; i++)
		assert_server_flags(seed, i, -1);

	/* Set on the server (UIDs follow the seed order). */
	for (int i = 0; i < N_FLAGS; i++)
		dovecot_flags(sh.d, "INBOX", (unsigned)i + 1, "add", flag_names[i]);
	sync_ok();
	assert_summary("INBOX", "0 pulled, 0 pushed, flags 6 local / 0 remote, deleted 0 local / 0 remote");
	for (int i = 0; i < N_FLAGS; i++) {
		char letter[2] = {flag_letters[i], 0};
		assert_local_flags(seed, i, letter);
		assert_server_flags(seed, i, i);
	}
	assert_local_flags(seed, N_FLAGS, "");

	/* Cleared on the server. */
	for (int i = 0; i < N_FLAGS; i++)
		dovecot_flags(sh.d, "INBOX", (unsigned)i + 1, "remove", flag_names[i]);
	sync_ok();
	assert_summary("INBOX", "0 pulled, 0 pushed, flags 6 local / 0 remote, deleted 0 local / 0 remote");
	for (int i = 0; i <= N_FLAGS; i++)
		assert_local_flags(seed, i, "");

	/* \Deleted went both ways, yet nothing was expunged. */
	assert_twins("INBOX", N_FLAGS + 1);
	cr_assert_eq(state_pair_count("INBOX"), N_FLAGS + 1);
	sync_ok();
	assert_nothing_done();
	for (int i = 0; i < N_FLAGS; i++)
		free(paths[i]);
}

Test(sync_more, both_sides_change_the_same_message)
{
	const unsigned seed = 60000;
	char *id[4], *path, *flags = NULL;

	dovecot_seed(sh.d, "INBOX", 6, seed, 0);
	sync_ok();
	for (unsigned i = 0; i < 4; i++)
		id[i] = seeded_id(seed, i);

	/* 0: read here, flagged there. 1: flagged on both sides. */
	path = local_find("INBOX", id[0]);
	free(local_set_flags(path, "S"));
	free(path);
	dovecot_flags(sh.d, "INBOX", 1, "add", "\\Flagged");
	path = local_find("INBOX", id[1]);
	free(local_set_flags(path, "F"));
	free(path);
	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Flagged");
	sync_ok();
	assert_summary("INBOX", "0 pulled, 0 pushed, flags 1 local / 1 remote, deleted 0 local / 0 remote");
	assert_local_flags(seed, 0, "FS");
	server_find("INBOX", id[0], &flags);
	cr_assert(has_flag(flags, "\\Seen") && has_flag(flags, "\\Flagged"), "server flags: %s", flags);
	assert_local_flags(seed, 1, "F");
	server_find("INBOX", id[1], &flags);
	cr_assert(has_flag(flags, "\\Flagged") && !has_flag(flags, "\\Seen"), "server flags: %s", flags);

	/* 2: deleted here, flagged there. 3: expunged there, answered here.
	 * With expunge both, the changed side wins: both are kept. */
	path = local_find("INBOX", id[2]);
	cr_assert_eq(unlink(path), 0);
	free(path);
	dovecot_flags(sh.d, "INBOX", 3, "add", "\\Flagged");
	path = local_find("INBOX", id[3]);
	free(local_set_flags(path, "R"));
	free(path);
	dovecot_expunge(sh.d, "INBOX", 4);
	sync_ok();
	assert_summary("INBOX", "1 pulled, 1 pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote");
	assert_twins("INBOX", 6);
	assert_local_flags(seed, 2, "F");
	server_find("INBOX", id[2], &flags);
	cr_assert(has_flag(flags, "\\Flagged"), "server flags: %s", flags);
	assert_local_flags(seed, 3, "R");
	server_find("INBOX", id[3], &flags);
	cr_assert(has_flag(flags, "\\Answered"), "server flags: %s", flags);
	cr_assert_eq(state_pair_count("INBOX"), 6);
	sync_ok();
	assert_nothing_done();
	free(flags);
	for (unsigned i = 0; i < 4; i++)
		free(id[i]);
}

Test(sync_more, message_moved_between_folders_by_a_mail_program)
{
	char *id = seeded_id(70000, 2), *from, *to, *work = folder_dir("Work"), *flags = NULL;
	const char *name;

	dovecot_seed(sh.d, "INBOX", 5, 70000, 0);
	dovecot_seed(sh.d, "Work", 3, 71000, 0);
	sync_ok();
	/* As mutt's save-message does: the file moves, marked read. */
	from = local_find("INBOX", id);
	name = strrchr(from, '/') + 1;
	to = xasprintf("%s/cur/%.*s:2,S", work, (int)strcspn(name, ":"), name);
	cr_assert_eq(rename(from, to), 0);
	sync_ok();
	assert_summary("INBOX", "0 pulled, 0 pushed, flags 0 local / 0 remote, deleted 0 local / 1 remote");
	assert_summary("Work", "0 pulled, 1 pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote");
	assert_twins("INBOX", 4);
	assert_twins("Work", 4);
	server_find("Work", id, &flags);
	cr_assert(has_flag(flags, "\\Seen"), "the moved message lost \\Seen: %s", flags);
	cr_assert_eq(state_pair_count("INBOX"), 4);
	cr_assert_eq(state_pair_count("Work"), 4);
	sync_ok();
	assert_nothing_done();
	free(flags);
	free(from);
	free(to);
	free(work);
	free(id);
}

Test(sync_more, folders_created_on_either_side)
{
	static const char remote_msg[] = "Message-ID: <from-server@twinbox.test>\r\n"
	                                 "Subject: made on the server\r\n\r\nhello\r\n";
	char **boxes;
	bool found = false;
	struct stat st;
	char *lists;

	dovecot_seed(sh.d, "INBOX", 2, 80000, 0);
	sync_ok();
	make_local_folder("NewLocal");
	write_local("NewLocal", "1700000200.M1P1.laptop",
	            "Message-ID: <from-laptop@twinbox.test>\nSubject: made here\n\nhi\n");
	dovecot_create_mailbox(sh.d, "Lists/FromServer");
	dovecot_append(sh.d, "Lists/FromServer", remote_msg, sizeof(remote_msg) - 1, "\\Seen");
	sync_ok();
	boxes = dovecot_mailboxes(sh.d);
	for (char **b = boxes; *b; b++)
		found |= strcmp(*b, "NewLocal") == 0;
	dovecot_strv_free(boxes);
	cr_assert(found, "NewLocal was not created on the server");
	assert_twins("NewLocal", 1);
	assert_twins("Lists/FromServer", 1);
	{
		char *path = local_find("Lists/FromServer", "<from-server@twinbox.test>");
		cr_assert(strstr(path, "/cur/") && strstr(path, ":2,S"), "%s", path);
		free(path);
	}
	lists = folder_dir("Lists/FromServer");
	cr_assert_eq(stat(lists, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(state_pair_count("NewLocal"), 1);
	cr_assert_eq(state_pair_count("Lists/FromServer"), 1);
	assert_twins("INBOX", 2);
	sync_ok();
	assert_nothing_done();
	free(lists);
}

/* Run mbsync (isync) once over the harness's Maildir, Maildir++ with
 * INBOX at the root, as its users configure it. */
static void run_mbsync(void)
{
	char *rc = xasprintf("%s/mbsyncrc", sh.dir);
	char *log = xasprintf("%s/mbsync.log", sh.dir);
	char *text = xasprintf("IMAPAccount t\n"
	                       "Host localhost\n"
	                       "Port %u\n"
	                       "User %s\n"
	                       "Pass \"%s\"\n"
	                       "SSLType IMAPS\n"
	                       "CertificateFile %s\n"
	                       "\n"
	                       "IMAPStore t-remote\n"
	                       "Account t\n"
	                       "\n"
	                       "MaildirStore t-local\n"
	                       "Inbox %s\n"
	                       "SubFolders Maildir++\n"
	                       "\n"
	                       "Channel t\n"
	                       "Far :t-remote:\n"
	                       "Near :t-local:\n"
	                       "Patterns *\n"
	                       "Create Both\n"
	                       "SyncState *\n",
	                       sh.d->imaps_port, sh.d->user, sh.d->password, sh.d->ca_file, sh.mail);
	char *cmd = xasprintf("mbsync -c '%s' -a >'%s' 2>&1", rc, log);
	struct error err;
	int status;

	cr_assert_eq(fs_write_atomic(rc, text, strlen(text), 0600, &err), 0, "%s", err.text);
	status = system(cmd);
	if (status != 0) {
		char *out = NULL;
		size_t len;
		if (fs_read_file(log, 1 << 20, &out, &len, &err) < 0)
			out = xstrdup(err.text);
		cr_assert_fail("mbsync failed (status %d):\n%s", status, out);
	}
	free(cmd);
	free(text);
	free(log);
	free(rc);
}

Test(sync_more, maildir_left_by_mbsync_is_adopted_without_copies)
{
	static const struct {
		const char *name;
		unsigned count, seed;
		size_t attach;
	} f[] = {
	    {"INBOX", 20, 90000, 3000},
	    {"Work/Projects", 8, 91000, 0},
	};

	for (size_t i = 0; i < 2; i++)
		dovecot_seed(sh.d, f[i].name, f[i].count, f[i].seed, f[i].attach);
	dovecot_flags(sh.d, "INBOX", 2, "add", "\\Seen \\Flagged");
	dovecot_flags(sh.d, "INBOX", 3, "add", "\\Seen \\Answered");
	run_mbsync();
	for (size_t i = 0; i < 2; i++) {
		struct local_msg *lm;
		size_t n = local_list(f[i].name, &lm);
		local_free(lm, n);
		cr_assert_eq(n, f[i].count, "%s: mbsync left %zu messages, expected %u", f[i].name, n,
		             f[i].count);
	}
	assert_local_flags(90000, 1, "FS");
	sync_ok();
	for (size_t i = 0; i < 2; i++) {
		char *expect =
		    xasprintf("0 pulled, 0 pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote, "
		              "%u matched",
		              f[i].count);
		assert_summary(f[i].name, expect);
		free(expect);
		/* mbsync's copies carry its X-TUID field; otherwise the bytes
		 * are the server's. */
		assert_twins_ignoring(f[i].name, f[i].count, "X-TUID");
		cr_assert_eq(state_pair_count(f[i].name), f[i].count);
	}
	assert_local_flags(90000, 1, "FS");
	assert_local_flags(90000, 2, "RS");
	sync_ok();
	assert_nothing_done();
}

Test(sync_more, two_runs_at_once_one_syncs_the_other_says_so)
{
	struct run_result r[2] = {{0}};
	pid_t pid[2];
	int ok = 0;

	dovecot_seed(sh.d, "INBOX", 300, 100000, 2000);
	dovecot_seed(sh.d, "Work", 100, 101000, 0);
	pid[0] = sync_spawn("first");
	pid[1] = sync_spawn("second");
	sync_wait(pid[0], "first", 120, &r[0], NULL);
	sync_wait(pid[1], "second", 120, &r[1], NULL);
	for (int i = 0; i < 2; i++) {
		if (r[i].status == 0) {
			ok++;
			continue;
		}
		cr_assert_eq(r[i].status, 75, "run %d: exit %d\nstdout: %s\nstderr: %s", i, r[i].status,
		             r[i].out, r[i].err);
		cr_assert(strstr(r[i].err, "is being synced by"), "run %d should name the lock: %s", i,
		          r[i].err);
	}
	cr_assert_geq(ok, 1, "neither run synced:\n%s\n%s", r[0].err, r[1].err);
	cr_log_info("two runs at once: %d succeeded", ok);
	assert_twins("INBOX", 300);
	assert_twins("Work", 100);
	cr_assert_eq(state_pair_count("INBOX"), 300);
	cr_assert_eq(state_pair_count("Work"), 100);
	sync_ok();
	assert_nothing_done();
	for (int i = 0; i < 2; i++)
		run_result_free(&r[i]);
}
