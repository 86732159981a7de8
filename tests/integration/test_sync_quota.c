/*
 * Runs against a server's quota (Dovecot's quota plugin): a migration
 * that would not fit stops before copying anything and says what to do
 * (a dry run warns); a target that fills up while the run copies (mail
 * arriving there meanwhile) stops the copies cleanly, and once the quota
 * is raised the next run copies the rest, each message once; a Maildir
 * account's uploads refused as over quota exit non-zero and resume the
 * same way.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "support/two_servers.h"
#include "twinbox/state/state.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/sync/engine.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_quota, .timeout = 300);

static struct error err;

/* No Message-ID twice in `mailbox` (two_contents() sorts its lines:
 * "Message-ID: <id> [flags]"). */
static void assert_no_duplicates(struct dovecot *d, const char *mailbox)
{
	char *c = two_contents(d, mailbox), *save = NULL;
	const char *prev = NULL;
	size_t prev_len = 0;

	for (char *line = strtok_r(c, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *flags = strstr(line, " [");
		size_t len = flags ? (size_t)(flags - line) : strlen(line);
		cr_assert(!prev || prev_len != len || strncmp(prev, line, len) != 0, "%s holds %.*s twice",
		          mailbox, (int)len, line);
		prev = line;
		prev_len = len;
	}
	free(c);
}

Test(sync_quota, a_migration_that_does_not_fit_stops_before_copying_anything)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start_with(DOVECOT_QUOTA_CONF("*:storage=100K"));
	char *state = xasprintf("%s/state", a->dir);
	char *where = xasprintf("the target server (127.0.0.1:%u)", b->imaps_port);
	struct run_result r = {0};
	char **boxes;

	/* About 250 KB: four messages with 40 KB attachments. */
	dovecot_seed(a, "INBOX", 20, 600, 40000);
	dovecot_create_mailbox(a, "Work");
	dovecot_seed(a, "Work", 2, 650, 0);

	/* A dry run says it, and goes on. */
	cr_assert_eq(two_migrate(a, b, state, "--dry-run", &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "a real run would stop before copying anything: ") &&
	              strstr(r.err, "has not enough room for this run: it would copy 22 messages"),
	          "stderr: %s", r.err);

	cr_assert_neq(two_migrate(a, b, state, NULL, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, where), "the server is named: %s", r.err);
	cr_assert(strstr(r.err, "has not enough room for this run: it would copy 22 messages ("), "%s",
	          r.err);
	cr_assert(strstr(r.err, "but its quota \"User quota\" leaves "), "%s", r.err);
	cr_assert(strstr(r.err, " of 100.0 KB used); nothing was copied. Free "), "%s", r.err);
	cr_assert(strstr(r.err, " on the target server or raise its quota, then run again"), "%s", r.err);
	cr_assert_eq(two_count(b, "INBOX"), 0, "nothing was appended");
	boxes = dovecot_mailboxes(b);
	for (char **p = boxes; *p; p++)
		cr_assert(strcmp(*p, "Work") != 0, "no folder was created either");
	dovecot_strv_free(boxes);

	/* Room made: the same command copies everything. */
	dovecot_reconfigure(b, DOVECOT_QUOTA_CONF("*:storage=10M"));
	cr_assert_eq(two_migrate(a, b, state, NULL, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	two_assert_twins(a, "INBOX", b, "INBOX", 20);
	two_assert_twins(a, "Work", b, "Work", 2);

	run_result_free(&r);
	free(where);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

Test(sync_quota, a_message_limit_is_checked_too)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start_with(DOVECOT_QUOTA_CONF("*:messages=10"));
	char *state = xasprintf("%s/state", a->dir);
	struct run_result r = {0};

	dovecot_seed(a, "INBOX", 8, 700, 0);
	dovecot_seed(b, "INBOX", 4, 710, 0);
	cr_assert_neq(two_migrate(a, b, state, NULL, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "it would copy 8 messages there, but its quota \"User quota\" allows 6 more "
	                        "(4 of 10 messages); nothing was copied. Remove 2 messages from the "
	                        "target server or raise its quota, then run again"),
	          "%s", r.err);
	cr_assert_eq(two_count(b, "INBOX"), 4);
	run_result_free(&r);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* ---- filling up while the run copies ---- */

struct filler {
	struct dovecot *b;
	bool done;
	size_t failed_folders, over_quota, copied, failures;
};

/* Once the run starts on its folders (after the quota check), mail
 * arrives at the target from elsewhere. */
static void observe(void *ctx, const struct sync_event *ev)
{
	struct filler *f = ctx;

	if (ev->kind == SYNC_EVENT_FOLDER_BEGIN && !f->done) {
		f->done = true;
		dovecot_create_mailbox(f->b, "Elsewhere");
		dovecot_seed(f->b, "Elsewhere", 10, 900, 0);
	}
}

static void report(void *ctx, const struct sync_folder_report *r)
{
	struct filler *f = ctx;

	f->copied += r->to_local;
	f->failures += r->message_failures;
	if (!r->failed)
		return;
	f->failed_folders++;
	cr_assert_eq(r->err.cause, ERR_CAUSE_OVER_QUOTA, "%s: %s", r->name, r->err.text);
	f->over_quota += strstr(r->err.text, "the target server is over its quota: ") &&
	                 strstr(r->err.text, "refused to store more messages in \"") &&
	                 strstr(r->err.text, " not copied there; free space on the target server (delete or "
	                                     "move mail there) or raise its quota, then run again") != NULL;
}

static struct filler migrate_once(struct dovecot *a, struct dovecot *b, const char *db)
{
	struct imap_session_options oa = dovecot_imap_options(a), ob = dovecot_imap_options(b);
	struct store *sa = imap_store_open(&oa, &err), *sb;
	struct filler f = {.b = b};
	struct sync_options o = {.report = report, .ctx = &f, .observer = {observe, &f}, .quota_check = true};
	struct sync_result res;
	struct state *st;

	cr_assert_not_null(sa, "%s", err.text);
	sb = imap_store_open(&ob, &err);
	cr_assert_not_null(sb, "%s", err.text);
	plan_rules_init(&o.rules);
	o.rules.direction = PLAN_DIRECTION_PULL; /* A to B */
	o.rules.words[SIDE_B].the_side = "the target server";
	cr_assert_eq(state_open(db, STATE_OPEN_CREATE, &st, &err), 0, "%s", err.text);
	cr_assert_eq(sync_run(sa, sb, st, &o, &res, &err), 0, "sync_run: %s", err.text);
	cr_assert_eq(res.folders_failed, f.failed_folders);
	state_close(st);
	sa->ops->close(sa);
	sb->ops->close(sb);
	return f;
}

/* The quota check passes (22 messages, 25 allowed), then 10 messages
 * arrive at the target: 15 fit. The run stops copying there, records
 * what it copied, and the folders that could not copy say why; with the
 * quota raised, the next run copies the 7 others, and nothing twice. */
Test(sync_quota, a_target_that_fills_up_meanwhile_stops_the_copies_and_the_next_run_resumes)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start_with(DOVECOT_QUOTA_CONF("*:messages=25"));
	char *db = xasprintf("%s/state.db", a->dir);
	struct filler f;

	dovecot_seed(a, "INBOX", 20, 800, 0);
	dovecot_create_mailbox(a, "Work");
	dovecot_seed(a, "Work", 2, 850, 0);

	f = migrate_once(a, b, db);
	cr_assert_eq(f.copied, 15, "as many as fit: %zu", f.copied);
	cr_assert_eq(f.failures, 7, "the others failed: %zu", f.failures);
	cr_assert_geq(f.failed_folders, 1);
	cr_assert_eq(f.over_quota, f.failed_folders, "each failed folder says why and what to do");
	cr_assert_eq(two_count(b, "INBOX") + two_count(b, "Work"), 15);
	assert_no_duplicates(b, "INBOX");

	dovecot_reconfigure(b, DOVECOT_QUOTA_CONF("*:messages=100"));
	f = migrate_once(a, b, db);
	cr_assert_eq(f.failed_folders, 0);
	cr_assert_eq(f.copied, 7, "the rest, once: %zu", f.copied);
	two_assert_twins(a, "INBOX", b, "INBOX", 20);
	two_assert_twins(a, "Work", b, "Work", 2);

	free(db);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* A Maildir account (no check before the run): the server refuses the
 * uploads part-way as over quota (the second MULTIAPPEND group of 32;
 * sent again one by one, 3 of its 8 still fit). The run exits non-zero
 * saying so; after the quota is raised the next run uploads the rest,
 * once. */
Test(sync_quota, uploads_refused_as_over_quota_exit_non_zero_and_resume, .init = sync_harness_setup,
     .fini = sync_harness_teardown)
{
	char name[32], text[256];

	sync_ok(); /* the Maildir made */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "1700000000.%d.host", i);
		snprintf(text, sizeof(text), "Subject: up %d\nMessage-ID: <up.%d@twinbox.test>\n\nbody %d\n",
		         i, i, i);
		write_local("INBOX", name, text);
	}
	dovecot_reconfigure(sh.d, DOVECOT_QUOTA_CONF("*:messages=35"));
	cr_assert_neq(sync_run_args(NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert(strstr(sh.r.err, "t: INBOX: the server is over its quota: 127.0.0.1:"), "%s", sh.r.err);
	cr_assert(strstr(sh.r.err,
	                 " refused to store more messages in \"INBOX\": NO [OVERQUOTA] Quota exceeded "
	                 "(mailbox for user is full)"),
	          "the server's words: %s", sh.r.err);
	cr_assert(strstr(sh.r.err, "5 messages were not copied there; free space on the server"), "%s",
	          sh.r.err);
	cr_assert(strstr(sh.r.err, "(before that, 35 of 40 messages pushed"), "%s", sh.r.err);
	cr_assert_eq(two_count(sh.d, "INBOX"), 35);

	dovecot_reconfigure(sh.d, DOVECOT_QUOTA_CONF("*:messages=100"));
	sync_ok();
	cr_assert_eq(two_count(sh.d, "INBOX"), 40);
	assert_no_duplicates(sh.d, "INBOX");
	cr_assert_eq(local_message_count("INBOX"), 40, "nothing came back twice");
}

/* check-config --connect tells each server's quota of INBOX, where the
 * server offers QUOTA. */
Test(sync_quota, check_config_shows_the_quota)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start_with(DOVECOT_QUOTA_CONF("*:storage=100K"));
	char *state = xasprintf("%s/state", a->dir);
	char *cfg = two_config(a, b, state, NULL);
	struct run_result r = {0};
	const char *target;

	dovecot_seed(b, "INBOX", 3, 990, 0);
	run_twinbox(ARGS("check-config", "--connect", "--config", cfg), 30, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	target = strstr(r.out, "(target)");
	cr_assert_not_null(target, "%s", r.out);
	cr_assert(strstr(target, "  quota of INBOX: \"User quota\", ") &&
	              strstr(target, " KB of 100 KB used\n"),
	          "%s", r.out);
	cr_assert(!strstr(r.out, "quota of INBOX") || strstr(r.out, "quota of INBOX") > target,
	          "the source offers no QUOTA: %s", r.out);
	run_result_free(&r);
	test_forget_temp(&cfg);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}
