/*
 * The `imap` store and a server's quota (Dovecot's quota plugin, count
 * backend): the roots a folder is under with their figures, a folder
 * not created yet, a rule changed while the server runs, no quota at
 * all, and an add the quota refuses part-way.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/util/xmalloc.h"

TestSuite(store_imap_quota, .timeout = 120);

static struct error err;

static struct store *open_store(struct dovecot *d)
{
	struct imap_session_options o = dovecot_imap_options(d);
	struct store *st = imap_store_open(&o, &err);

	cr_assert_not_null(st, "imap_store_open: %s", err.text);
	return st;
}

/* The roots of `folder` on a fresh connection (Dovecot reads its rules
 * at login). */
static struct store_quota *roots_of(struct dovecot *d, const char *folder, size_t *n_r)
{
	struct store *st = open_store(d);
	struct store_quota *q = NULL;

	cr_assert_not_null(st->ops->quota);
	cr_assert_eq(st->ops->quota(st, folder, &q, n_r, &err), 0, "%s", err.text);
	st->ops->close(st);
	return q;
}

Test(store_imap_quota, roots_and_their_figures)
{
	struct dovecot *d = dovecot_start_with(DOVECOT_QUOTA_CONF("*:storage=100K"));
	char *where = xasprintf("127.0.0.1:%u", d->imaps_port);
	struct store_quota *q;
	size_t n;

	dovecot_seed(d, "INBOX", 3, 4100, 0);
	q = roots_of(d, "INBOX", &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(q[0].root, "User quota");
	cr_assert_str_eq(q[0].where, where);
	cr_assert(q[0].has_bytes && !q[0].has_messages);
	cr_assert_eq(q[0].limit_bytes, 100 * 1024, "STORAGE counts KiB");
	cr_assert(q[0].used_bytes > 0 && q[0].used_bytes < 10 * 1024, "%llu",
	          (unsigned long long)q[0].used_bytes);
	store_quota_free(q, n);

	/* A folder to be created is under a root all the same. */
	q = roots_of(d, "Not/Yet", &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(q[0].root, "User quota");
	store_quota_free(q, n);

	dovecot_reconfigure(d, DOVECOT_QUOTA_CONF("*:messages=10"));
	q = roots_of(d, "INBOX", &n);
	cr_assert_eq(n, 1);
	cr_assert(q[0].has_messages && !q[0].has_bytes);
	cr_assert_eq(q[0].used_messages, 3);
	cr_assert_eq(q[0].limit_messages, 10);
	store_quota_free(q, n);

	/* No limit: no root to tell of. */
	dovecot_reconfigure(d, DOVECOT_QUOTA_CONF("*:storage=0"));
	q = roots_of(d, "INBOX", &n);
	cr_assert_eq(n, 0);
	store_quota_free(q, n);
	free(where);
	dovecot_stop(d);
}

Test(store_imap_quota, a_server_without_quota_has_none)
{
	size_t n = 99;
	struct store_quota *q = roots_of(dovecot_shared(), "INBOX", &n);

	cr_assert_eq(n, 0);
	store_quota_free(q, n);
}

struct reader {
	const char *data;
	size_t len, off;
};

static long long read_mem(void *ctx, void *data, size_t len, struct error *e)
{
	struct reader *r = ctx;
	size_t n = r->len - r->off < len ? r->len - r->off : len;

	(void)e;
	memcpy(data, r->data + r->off, n);
	r->off += n;
	return (long long)n;
}

/* Messages of 30 KB against a quota of 100 KB: the fourth and those after
 * it are refused as over quota, the store says so, and what was stored
 * has its UID. */
Test(store_imap_quota, an_add_over_quota_says_so)
{
	struct dovecot *d = dovecot_start_with(DOVECOT_QUOTA_CONF("*:storage=100K"));
	enum { N = 6 };
	char *text = xcalloc(1, 30 * 1024 + 1);
	struct reader r[N];
	struct store_new_msg m[N];
	struct error errs[N];
	struct store_folder_info info;
	struct store_folder *f;
	struct store *st = open_store(d);
	bool missing;

	memset(text, 'x', 30 * 1024);
	memcpy(text, "Subject: big\r\n\r\n", 16);
	cr_assert_eq(st->ops->open_folder(st, "INBOX", &f, &info, &missing, &err), 0, "%s", err.text);
	for (int i = 0; i < N; i++) {
		r[i] = (struct reader){text, strlen(text), 0};
		m[i] = (struct store_new_msg){.size = strlen(text), .ctx = &r[i], .read = read_mem};
	}
	cr_assert_eq(st->ops->add(f, m, N, errs, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert_eq(err.cause, ERR_CAUSE_OVER_QUOTA, "%s", err.text);
	cr_assert(strstr(err.text, "[OVERQUOTA]"), "%s", err.text);
	for (int i = 0; i < N; i++) {
		if (i < 3) {
			cr_assert_eq(errs[i].scope, ERR_NONE, "message %d: %s", i, errs[i].text);
			cr_assert_neq(m[i].uid_r, 0);
		} else {
			cr_assert_eq(errs[i].cause, ERR_CAUSE_OVER_QUOTA, "message %d: %s", i, errs[i].text);
		}
	}
	cr_assert_eq(st->ops->flush(f, &err), 0, "the session goes on: %s", err.text);
	st->ops->close_folder(f);
	st->ops->close(st);
	free(text);
	dovecot_stop(d);
}
