/*
 * The engine between two IMAP servers (two Dovecots), through sync_run
 * with an IMAP store on each side: the side-neutral core syncs new
 * messages both ways, flags, deletions and folders, and a run with
 * nothing to do changes nothing. (The config form for such an account
 * comes with the CLI; this drives the engine directly.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "twinbox/state/state.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/sync/engine.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_imap_imap, .timeout = 300);

static struct error err;

static struct store *open_imap(struct dovecot *d)
{
	struct imap_session_options o = dovecot_imap_options(d);
	struct store *st = imap_store_open(&o, &err);

	cr_assert_not_null(st, "imap_store_open: %s", err.text);
	return st;
}

/* The counts of every folder of the run, summed. */
struct totals {
	size_t to_a, to_b, flags_a, flags_b, deleted_a, deleted_b, paired, failed;
};

static void report(void *ctx, const struct sync_folder_report *r)
{
	struct totals *t = ctx;

	t->to_a += r->to_remote;
	t->to_b += r->to_local;
	t->flags_a += r->flags_remote;
	t->flags_b += r->flags_local;
	t->deleted_a += r->deleted_remote;
	t->deleted_b += r->deleted_local;
	t->paired += r->paired;
	t->failed += r->failed || r->message_failures;
	cr_assert(!r->failed, "folder %s failed: %s", r->name, r->err.text);
}

static struct totals sync_once(struct dovecot *a, struct dovecot *b, const char *db)
{
	struct totals t = {0};
	struct store *sa = open_imap(a), *sb = open_imap(b);
	struct sync_options o = {.report = report, .ctx = &t};
	struct sync_result res;
	struct state *st;

	plan_rules_init(&o.rules);
	cr_assert_eq(state_open(db, STATE_OPEN_CREATE, &st, &err), 0, "%s", err.text);
	cr_assert_eq(sync_run(sa, sb, st, &o, &res, &err), 0, "sync_run: %s", err.text);
	cr_assert_eq(res.folders_failed, 0);
	state_close(st);
	sa->ops->close(sa);
	sb->ops->close(sb);
	return t;
}

static int line_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The Message-IDs of `mailbox` with their flags, sorted, as one text. */
static char *contents(struct dovecot *d, const char *mailbox)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(d, mailbox, true, &n);
	char **lines = xcalloc(n + 1, sizeof(*lines));
	size_t total = 1;
	char *out;

	for (size_t i = 0; i < n; i++) {
		const char *id = strstr(m[i].body, "Message-ID: ");
		size_t len = id ? strcspn(id, "\r\n") : 0;
		lines[i] = xasprintf("%.*s [%s]", (int)len, id ? id : "", m[i].flags);
		total += strlen(lines[i]) + 1;
	}
	qsort(lines, n, sizeof(*lines), line_cmp);
	out = xcalloc(total, 1);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(lines);
	dovecot_msgs_free(m, n);
	return out;
}

static size_t count(struct dovecot *d, const char *mailbox)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(d, mailbox, false, &n);

	dovecot_msgs_free(m, n);
	return n;
}

static void assert_twins(struct dovecot *a, struct dovecot *b, const char *mailbox, size_t expect)
{
	char *ca = contents(a, mailbox), *cb = contents(b, mailbox);

	cr_assert_eq(count(a, mailbox), expect, "%s on A:\n%s", mailbox, ca);
	cr_assert_str_eq(ca, cb, "%s differs:\nA:\n%s\nB:\n%s", mailbox, ca, cb);
	free(ca);
	free(cb);
}

Test(sync_imap_imap, two_servers_become_twins_both_ways)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *db = xasprintf("%s/state.db", a->dir);
	struct totals t;

	dovecot_seed(a, "INBOX", 6, 800, 0);
	dovecot_create_mailbox(a, "Work");
	dovecot_seed(a, "Work", 3, 810, 0);
	dovecot_seed(b, "INBOX", 2, 900, 0);
	dovecot_create_mailbox(b, "Home");
	dovecot_seed(b, "Home", 2, 910, 0);
	dovecot_flags(a, "INBOX", 2, "add", "\\Seen \\Flagged");

	t = sync_once(a, b, db);
	cr_assert_eq(t.to_b, 9, "A's 9 messages copied to B");
	cr_assert_eq(t.to_a, 4, "B's 4 messages copied to A");
	assert_twins(a, b, "INBOX", 8);
	assert_twins(a, b, "Work", 3);
	assert_twins(a, b, "Home", 2);

	/* Flags both ways, a deletion on each side, new mail on each. */
	dovecot_flags(a, "INBOX", 1, "add", "\\Answered");
	dovecot_flags(b, "Work", 1, "add", "$Label1");
	dovecot_expunge(a, "INBOX", 3);
	dovecot_expunge(b, "Home", 1);
	dovecot_seed(a, "Work", 1, 820, 0);
	dovecot_seed(b, "INBOX", 1, 920, 0);
	t = sync_once(a, b, db);
	cr_assert_eq(t.flags_b, 1);
	cr_assert_eq(t.flags_a, 1);
	cr_assert_eq(t.deleted_b, 1);
	cr_assert_eq(t.deleted_a, 1);
	cr_assert_eq(t.to_a, 1);
	cr_assert_eq(t.to_b, 1);
	assert_twins(a, b, "INBOX", 8);
	assert_twins(a, b, "Work", 4);
	assert_twins(a, b, "Home", 1);

	/* Nothing to do: nothing done. */
	t = sync_once(a, b, db);
	cr_assert_eq(t.to_a + t.to_b + t.flags_a + t.flags_b + t.deleted_a + t.deleted_b + t.paired, 0);
	assert_twins(a, b, "INBOX", 8);

	free(db);
	dovecot_stop(a);
	dovecot_stop(b);
}
