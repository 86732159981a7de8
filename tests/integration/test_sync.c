/*
 * End-to-end: `twinbox sync` against a real Dovecot (one private instance
 * per test), checked as a user would: the files in the Maildir, the
 * messages and flags on the server, the rows in the state.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/lock.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct dovecot *d;
static char dir[] = "/tmp/twinbox-sync-XXXXXX";
static char *cfg, *mail, *db;
static struct run_result r;

static void write_config(const char *sync_section)
{
	char *text = xasprintf("state_dir: %s/state\n"
	                       "accounts:\n"
	                       "  t:\n"
	                       "    imap:\n"
	                       "      host: 127.0.0.1\n"
	                       "      port: %u\n"
	                       "      user: %s\n"
	                       "      password: \"%s\"\n"
	                       "      ca_file: \"%s\"\n"
	                       "      timeout: 20s\n"
	                       "    maildir:\n"
	                       "      path: %s\n"
	                       "%s",
	                       dir, d->imaps_port, d->user, d->password, d->ca_file, mail,
	                       sync_section ? sync_section : "");
	struct error err;

	cr_assert_eq(fs_write_atomic(cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
}

static void setup(void)
{
	d = dovecot_start();
	cr_assert_not_null(mkdtemp(dir));
	cfg = xasprintf("%s/config.yaml", dir);
	mail = xasprintf("%s/mail", dir);
	db = xasprintf("%s/state/t.db", dir);
	write_config("    sync:\n      expunge: both\n");
}

static void teardown(void)
{
	run_result_free(&r);
	dovecot_stop(d);
	test_rmtree(dir);
	free(cfg);
	free(mail);
	free(db);
	unsetenv("TWINBOX_TEST_CRASH_AT");
}

TestSuite(sync, .init = setup, .fini = teardown, .timeout = 300);

static int sync_run_args(const char *extra)
{
	run_result_free(&r);
	if (extra)
		run_twinbox(ARGS("--config", cfg, "sync", extra), 120, &r);
	else
		run_twinbox(ARGS("--config", cfg, "sync"), 120, &r);
	return r.status;
}

static void sync_ok(void)
{
	cr_assert_eq(sync_run_args(NULL), 0, "stdout: %s\nstderr: %s", r.out, r.err);
}

/* ---- the local side ---- */

struct local_msg {
	char *path;
	char *flags; /* letters after ":2,", "" when none */
	char *data;
	size_t len;
};

static char *folder_dir(const char *folder)
{
	if (strcmp(folder, "INBOX") == 0)
		return xstrdup(mail);
	char *dotted = xstrdup(folder);
	for (char *p = dotted; *p; p++)
		if (*p == '/')
			*p = '.';
	char *path = xasprintf("%s/.%s", mail, dotted);
	free(dotted);
	return path;
}

static size_t local_list(const char *folder, struct local_msg **msgs_r)
{
	static const char *subs[] = {"new", "cur"};
	char *base = folder_dir(folder);
	struct local_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	struct error err;

	for (int s = 0; s < 2; s++) {
		char *sub = xasprintf("%s/%s", base, subs[s]);
		DIR *dh = opendir(sub);
		struct dirent *e;
		while (dh && (e = readdir(dh)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			msgs = xgrow(msgs, &cap, n + 1, sizeof(*msgs));
			msgs[n].path = xasprintf("%s/%s", sub, e->d_name);
			const char *info = strstr(e->d_name, ":2,");
			msgs[n].flags = xstrdup(info ? info + 3 : "");
			cr_assert_eq(fs_read_file(msgs[n].path, 64 << 20, &msgs[n].data, &msgs[n].len, &err),
			             0);
			n++;
		}
		if (dh)
			closedir(dh);
		free(sub);
	}
	free(base);
	*msgs_r = msgs;
	return n;
}

static void local_free(struct local_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].path);
		free(m[i].flags);
		free(m[i].data);
	}
	free(m);
}

/* The Message-ID of a raw message (fresh), or "" */
static char *message_id(const char *data)
{
	const char *p = strstr(data, "Message-ID: ");
	const char *e = p ? strpbrk(p, "\r\n") : NULL;

	return p && e ? xstrndup(p + 12, (size_t)(e - p - 12)) : xstrdup("");
}

/* CRLF -> LF copy of a server body. */
static char *lf_of(const char *crlf, size_t len)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < len; i++)
		if (!(crlf[i] == '\r' && i + 1 < len && crlf[i + 1] == '\n'))
			buf_append_byte(&b, crlf[i]);
	return buf_detach(&b, NULL);
}

static size_t server_count(const char *mailbox)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(d, mailbox, false, &n);

	dovecot_msgs_free(m, n);
	return n;
}

/* Every Message-ID once on each side, and the same set on both. */
static void assert_twins(const char *folder, size_t expect)
{
	struct local_msg *lm;
	size_t nl = local_list(folder, &lm), ns;
	struct dovecot_msg *sm = dovecot_list(d, folder, true, &ns);

	cr_assert_eq(nl, expect, "%s: %zu local messages, expected %zu", folder, nl, expect);
	cr_assert_eq(ns, expect, "%s: %zu server messages, expected %zu", folder, ns, expect);
	for (size_t i = 0; i < ns; i++) {
		char *id = message_id(sm[i].body);
		size_t found = 0;
		for (size_t j = 0; j < nl; j++) {
			char *lid = message_id(lm[j].data);
			if (strcmp(id, lid) == 0) {
				char *lf = lf_of(sm[i].body, sm[i].body_len);
				found++;
				cr_assert_str_eq(lm[j].data, lf, "%s: %s differs between the sides", folder,
				                 id);
				free(lf);
			}
			free(lid);
		}
		cr_assert_eq(found, 1, "%s: %s is %zu times in the Maildir", folder, id, found);
		for (size_t k = i + 1; k < ns; k++) {
			char *other = message_id(sm[k].body);
			cr_assert_str_neq(id, other, "%s: %s is twice on the server", folder, id);
			free(other);
		}
		free(id);
	}
	dovecot_msgs_free(sm, ns);
	local_free(lm, nl);
}

static size_t state_pair_count(const char *folder)
{
	struct state *st;
	struct state_folder sf;
	struct state_pairs pairs = {0};
	struct error err;
	size_t n;

	cr_assert_eq(state_open(db, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_find_remote(st, folder, &sf, &err), 1, "folder %s not in the state",
	             folder);
	cr_assert_eq(state_pairs_load(st, sf.id, &pairs, &err), 0, "%s", err.text);
	n = pairs.count;
	for (size_t i = 0; i < n; i++) {
		cr_assert_neq(pairs.pairs[i].uid, 0, "pair without a server side");
		cr_assert_not_null(pairs.pairs[i].local_id, "pair without a local side");
	}
	state_pairs_free(&pairs);
	state_folder_clear(&sf);
	state_close(st);
	return n;
}

/* Every folder's summary line says nothing was done. */
static void assert_nothing_done(void)
{
	static const char nothing[] =
	    ": 0 pulled, 0 pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote\n";
	char *copy = xstrdup(r.out), *save = NULL;
	size_t lines = 0;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *with_nl = xasprintf("%s\n", line);
		size_t len = strlen(with_nl);
		cr_assert(len > sizeof(nothing) - 1 &&
		              strcmp(with_nl + len - (sizeof(nothing) - 1), nothing) == 0,
		          "a further run changed something: %s", line);
		free(with_nl);
		lines++;
	}
	cr_assert_gt(lines, 0, "no summary printed");
	free(copy);
}

static void write_local(const char *folder, const char *name, const char *text)
{
	char *base = folder_dir(folder);
	char *path = xasprintf("%s/new/%s", base, name);
	struct error err;

	cr_assert_eq(fs_write_atomic(path, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(path);
	free(base);
}

/* ---- tests ---- */

Test(sync, initial_pull_of_nested_folders_then_nothing_to_do)
{
	dovecot_seed(d, "INBOX", 30, 100, 3000);
	dovecot_seed(d, "Work/Projects", 10, 200, 0);
	dovecot_flags(d, "INBOX", 3, "add", "\\Flagged \\Seen");
	sync_ok();
	assert_twins("INBOX", 30);
	assert_twins("Work/Projects", 10);
	cr_assert_eq(state_pair_count("INBOX"), 30);
	cr_assert_eq(state_pair_count("Work/Projects"), 10);
	{
		struct local_msg *lm;
		size_t n = local_list("INBOX", &lm), flagged = 0;
		for (size_t i = 0; i < n; i++)
			if (strcmp(lm[i].flags, "FS") == 0)
				flagged++;
		cr_assert_eq(flagged, 1, "the \\Flagged \\Seen message should be :2,FS");
		local_free(lm, n);
	}
	sync_ok();
	assert_nothing_done();
	assert_twins("INBOX", 30);
}

Test(sync, push_new_local_messages_and_flags_both_ways)
{
	struct local_msg *lm;
	size_t n;
	struct dovecot_msg *sm;

	dovecot_seed(d, "INBOX", 5, 300, 0);
	sync_ok();
	/* Mark one message read locally, as a mail reader would: rename. */
	n = local_list("INBOX", &lm);
	cr_assert_eq(n, 5);
	{
		char *to = xasprintf("%.*s:2,S", (int)(strcspn(lm[0].path, ":")), lm[0].path);
		if (strstr(to, "/new/"))
			memcpy(strstr(to, "/new/"), "/cur/", 5);
		cr_assert_eq(rename(lm[0].path, to), 0);
		free(to);
	}
	char *read_id = message_id(lm[0].data);
	local_free(lm, n);
	write_local("INBOX", "1700000000.M1P1.laptop",
	            "Message-ID: <local-1@twinbox.test>\nSubject: written here\n\nhello\n");
	/* Flag another on the server. */
	dovecot_flags(d, "INBOX", 5, "add", "\\Flagged");
	sync_ok();
	cr_assert(strstr(r.out, "1 pushed"), "%s", r.out);
	assert_twins("INBOX", 6);
	sm = dovecot_list(d, "INBOX", true, &n);
	for (size_t i = 0; i < n; i++) {
		char *id = message_id(sm[i].body);
		if (strcmp(id, read_id) == 0)
			cr_assert(dovecot_msg_has_flag(&sm[i], "\\Seen"),
			          "local \\Seen did not reach the server");
		if (strcmp(id, "<local-1@twinbox.test>") == 0)
			cr_assert_str_eq(
			    sm[i].body,
			    "Message-ID: <local-1@twinbox.test>\r\nSubject: written here\r\n\r\nhello\r\n");
		free(id);
	}
	dovecot_msgs_free(sm, n);
	n = local_list("INBOX", &lm);
	{
		size_t flagged = 0;
		for (size_t i = 0; i < n; i++)
			flagged += strchr(lm[i].flags, 'F') != NULL;
		cr_assert_eq(flagged, 1, "server \\Flagged did not reach the Maildir");
	}
	local_free(lm, n);
	free(read_id);
	sync_ok();
	assert_nothing_done();
}

Test(sync, deletions_both_ways_with_expunge)
{
	struct local_msg *lm;
	size_t n;

	dovecot_seed(d, "INBOX", 8, 400, 0);
	sync_ok();
	n = local_list("INBOX", &lm);
	cr_assert_eq(unlink(lm[0].path), 0);
	local_free(lm, n);
	dovecot_expunge(d, "INBOX", 8);
	sync_ok();
	cr_assert(strstr(r.out, "deleted 1 local / 1 remote"), "%s", r.out);
	assert_twins("INBOX", 6);
	cr_assert_eq(state_pair_count("INBOX"), 6);
}

Test(sync, no_expunge_keeps_both_copies_and_copies_nothing_back)
{
	struct local_msg *lm;
	size_t n;

	write_config(NULL); /* expunge: none, the default */
	dovecot_seed(d, "INBOX", 6, 500, 0);
	sync_ok();
	n = local_list("INBOX", &lm);
	cr_assert_eq(unlink(lm[0].path), 0);
	local_free(lm, n);
	dovecot_expunge(d, "INBOX", 6);
	sync_ok();
	sync_ok();
	cr_assert_eq(server_count("INBOX"), 5, "local deletion reached the server without expunge");
	n = local_list("INBOX", &lm);
	cr_assert_eq(n, 5, "server deletion reached the Maildir without expunge");
	local_free(lm, n);
	assert_nothing_done();
}

Test(sync, mass_deletion_is_stopped_until_allowed)
{
	struct local_msg *lm;
	size_t n;

	dovecot_seed(d, "INBOX", 40, 600, 0);
	sync_ok();
	n = local_list("INBOX", &lm);
	for (size_t i = 0; i < 30; i++)
		cr_assert_eq(unlink(lm[i].path), 0);
	local_free(lm, n);
	cr_assert_neq(sync_run_args(NULL), 0);
	cr_assert(strstr(r.err, "--allow-mass-delete"), "%s", r.err);
	cr_assert_eq(server_count("INBOX"), 40);
	cr_assert_eq(sync_run_args("--allow-mass-delete"), 0, "%s", r.err);
	cr_assert_eq(server_count("INBOX"), 10);
}

Test(sync, uidvalidity_change_rematches_without_duplicates)
{
	dovecot_seed(d, "INBOX", 10, 700, 0);
	sync_ok();
	dovecot_set_uidvalidity(d, "INBOX", 4242);
	sync_ok();
	cr_assert(strstr(r.err, "UIDVALIDITY"), "the change should be reported: %s", r.err);
	cr_assert(strstr(r.out, "0 pulled, 0 pushed"), "%s", r.out);
	assert_twins("INBOX", 10);
	cr_assert_eq(state_pair_count("INBOX"), 10);
	sync_ok();
	assert_nothing_done();
}

Test(sync, deleted_local_folder_deletes_nothing_on_the_server)
{
	char *work;

	dovecot_seed(d, "INBOX", 3, 800, 0);
	dovecot_seed(d, "Work", 7, 900, 0);
	sync_ok();
	work = folder_dir("Work");
	cr_assert(strncmp(work, "/tmp/twinbox-", 13) == 0);
	{
		char *cmd = xasprintf("rm -rf '%s'", work);
		cr_assert_eq(system(cmd), 0);
		free(cmd);
	}
	sync_run_args(NULL);
	cr_assert_eq(server_count("Work"), 7, "a missing local folder must not delete server mail");
	cr_assert(strstr(r.err, "Work"), "the missing folder should be reported: %s", r.err);
	free(work);
}

Test(sync, second_run_waits_for_the_first)
{
	struct state_lock *lock;
	struct error err;
	char *pid = xasprintf("process %d", (int)getpid());

	dovecot_seed(d, "INBOX", 2, 1000, 0);
	cr_assert_eq(state_lock_acquire(db, STATE_LOCK_NOWAIT, &lock, &err), 0, "%s", err.text);
	cr_assert_eq(sync_run_args(NULL), 2, "%s", r.err);
	cr_assert(strstr(r.err, pid), "the message should name the holder: %s", r.err);
	state_lock_release(lock);
	sync_ok();
	assert_twins("INBOX", 2);
	free(pid);
}

Test(sync, dry_run_changes_nothing)
{
	struct local_msg *lm;

	dovecot_seed(d, "INBOX", 4, 1100, 0);
	cr_assert_eq(sync_run_args("--dry-run"), 0, "%s", r.err);
	cr_assert(strstr(r.out, "copy-to-local"), "%s", r.out);
	cr_assert_eq(local_list("INBOX", &lm), 0);
	local_free(lm, 0);
}

/* The crash scenario: a synced base, then new mail on both sides, a
 * flag change on each side and a deletion on each side. */
static void crash_scenario(void)
{
	struct local_msg *lm;
	size_t n;

	dovecot_seed(d, "INBOX", 12, 1200, 2000);
	dovecot_seed(d, "Archive", 4, 1300, 0);
	sync_ok();
	for (int i = 0; i < 3; i++) {
		char name[64], text[128];
		snprintf(name, sizeof(name), "1700000%03d.M1P1.laptop", i);
		snprintf(text, sizeof(text), "Message-ID: <crash-%d@twinbox.test>\nSubject: %d\n\nbody %d\n",
		         i, i, i);
		write_local("INBOX", name, text);
	}
	dovecot_seed(d, "INBOX", 5, 1400, 0);
	dovecot_flags(d, "INBOX", 1, "add", "\\Flagged");
	dovecot_expunge(d, "INBOX", 2);
	n = local_list("Archive", &lm);
	cr_assert_eq(unlink(lm[0].path), 0);
	local_free(lm, n);
}

/* Fresh server, Maildir and state for the next round. */
static void restart_world(void)
{
	char *cmd = xasprintf("rm -rf '%s/mail' '%s/state'", dir, dir);

	dovecot_stop(d);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
	d = dovecot_start();
	write_config("    sync:\n      expunge: both\n");
}

/*
 * For N = 1, 2, ...: run the scenario, kill the run at its N-th durable
 * step, resume; after every resume nothing may be lost or doubled and a
 * further run must change nothing. Ends when step N is never reached.
 */
Test(sync, crash_at_every_step_loses_and_duplicates_nothing)
{
	unsigned step;

	for (step = 1; step < 100; step++) {
		char n[16];
		int status;

		if (step > 1)
			restart_world();
		crash_scenario();
		snprintf(n, sizeof(n), "%u", step);
		setenv("TWINBOX_TEST_CRASH_AT", n, 1);
		status = sync_run_args(NULL);
		unsetenv("TWINBOX_TEST_CRASH_AT");
		if (status == 0)
			break;
		cr_assert_eq(status, 86, "step %u: exit %d: %s", step, status, r.err);
		cr_assert_eq(sync_run_args(NULL), 0, "resume after step %u: %s", step, r.err);
		assert_twins("INBOX", 19);
		assert_twins("Archive", 3);
		cr_assert_eq(state_pair_count("INBOX"), 19, "after a crash at step %u", step);
		sync_ok();
		assert_nothing_done();
	}
	cr_log_info("crash test: killed at each of %u durable steps", step - 1);
	cr_assert_gt(step, 8, "the hook fired at only %u steps", step - 1);
	cr_assert_lt(step, 100);
	assert_twins("INBOX", 19);
	assert_twins("Archive", 3);
	sync_ok();
	assert_nothing_done();
}
