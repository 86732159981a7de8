/*
 * The `pop3` store against a Dovecot of its own, only through the store
 * interface: one folder, messages keyed by UIDL with LIST's sizes,
 * fetch of whole messages and of headers, deletion that takes effect at
 * the flush and not before, and a POP3 message copied into an IMAP
 * folder through a store source (store/source.h).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/store/pop3_store.h"
#include "twinbox/store/source.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

TestSuite(store_pop3, .timeout = 120);

static struct error err;

/* How many messages the server holds in INBOX (doveadm, not POP3). */
static size_t server_count(struct dovecot *d)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(d, "INBOX", false, &n);

	dovecot_msgs_free(m, n);
	return n;
}

static struct store *open_store(struct dovecot *d, struct pop3_options *o)
{
	struct store *st;

	*o = dovecot_pop3_options(d);
	st = pop3_store_open(o, &err);
	cr_assert_not_null(st, "pop3_store_open: %s", err.text);
	return st;
}

static struct store_folder *open_inbox(struct store *st, struct store_folder_info *info)
{
	struct store_folder *f = NULL;
	struct store_folder_info dummy;
	bool missing = true;

	cr_assert_eq(st->ops->open_folder(st, "INBOX", &f, info ? info : &dummy, &missing, &err), 0, "%s",
	             err.text);
	cr_assert(!missing);
	return f;
}

/* Each fetched message whole, by name. */
struct got {
	char *name;
	uint64_t size;
	struct buf data;
	bool ended;
};

struct collect {
	struct got v[16];
	size_t n;
};

static int col_begin(void *ctx, const struct store_msg *msg, struct error *e)
{
	struct collect *c = ctx;

	(void)e;
	cr_assert_lt(c->n, 16);
	c->v[c->n].name = msg->name ? xstrdup(msg->name) : xasprintf("UID %u", (unsigned)msg->uid);
	c->v[c->n].size = msg->size;
	buf_init(&c->v[c->n].data, 0);
	c->n++;
	return 0;
}

static int col_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	struct collect *c = ctx;

	(void)e;
	buf_append(&c->v[c->n - 1].data, data, len);
	return 0;
}

static int col_end(void *ctx, struct error *e)
{
	struct collect *c = ctx;

	(void)e;
	c->v[c->n - 1].ended = true;
	return 0;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].name);
		buf_free(&c->v[i].data);
	}
	c->n = 0;
}

Test(store_pop3, one_folder_keyed_by_uidl_with_list_sizes_and_whole_messages)
{
	struct dovecot *d = dovecot_start();
	struct pop3_options o;
	struct store *st;
	struct store_folder *f, *none = NULL;
	struct store_folder_info info;
	struct store_snapshot snap = {0};
	struct collect c = {0};
	struct store_sink sink = {.ctx = &c, .begin = col_begin, .chunk = col_chunk, .end = col_end};
	char **names = NULL;
	bool missing = false;

	dovecot_seed(d, "INBOX", 5, 300, 40000); /* the 5th has a 40 KB attachment */
	st = open_store(d, &o);
	cr_assert_str_eq(st->ops->kind, "pop3");
	cr_assert_eq(st->ops->key, STORE_KEY_NAME);
	cr_assert_eq(st->ops->caps, STORE_CAP_DELETE, "read-only but for deletion");
	cr_assert_eq(st->ops->list_folders(st, &names, &err), 0, "%s", err.text);
	cr_assert_str_eq(names[0], "INBOX");
	cr_assert_null(names[1], "a maildrop is one folder");
	store_names_free(names);
	cr_assert_eq(st->ops->open_folder(st, "Archive", &none, &info, &missing, &err), -1);
	cr_assert(missing, "another folder is missing, not empty");
	cr_assert_eq(st->ops->create_folder(st, "Archive", &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);

	f = open_inbox(st, &info);
	cr_assert_eq(info.exists, 5);
	cr_assert_eq(pop3_store_unusable(f), 0);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 5);
	for (size_t i = 0; i < snap.count; i++) {
		cr_assert_not_null(snap.msgs[i].name);
		cr_assert_eq(snap.msgs[i].uid, 0);
		cr_assert_gt(snap.msgs[i].size, 0);
		if (i)
			cr_assert_lt(strcmp(snap.msgs[i - 1].name, snap.msgs[i].name), 0, "sorted by name");
	}
	cr_assert_eq(st->ops->fetch(f, snap.msgs, snap.count, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(c.n, 5);
	for (size_t i = 0; i < c.n; i++) {
		const char *data = buf_cstr(&c.v[i].data);
		cr_assert(c.v[i].ended);
		cr_assert_eq(c.v[i].data.len, c.v[i].size, "%s: %zu bytes, LIST said %llu", c.v[i].name,
		             c.v[i].data.len, (unsigned long long)c.v[i].size);
		cr_assert_not_null(strstr(data, "Message-ID: "), "%s", c.v[i].name);
		cr_assert_not_null(strstr(data, "\r\n\r\n"), "CRLF line ends");
		cr_assert_null(strstr(data, "\n.."), "dot-unstuffed");
	}
	collect_free(&c);

	/* Headers: the header block alone, the whole size in begin. */
	cr_assert_eq(st->ops->fetch_headers(f, &snap.msgs[4], 1, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(c.v[0].size, snap.msgs[4].size);
	cr_assert_lt(c.v[0].data.len, 4000, "the 40 KB body is not in it");
	cr_assert(c.v[0].data.len >= 4 && memcmp(c.v[0].data.data + c.v[0].data.len - 4, "\r\n\r\n", 4) == 0);
	collect_free(&c);

	/* A name the server does not list gets no begin. */
	struct store_msg gone = {.name = "no-such-uidl"};
	cr_assert_eq(st->ops->fetch(f, &gone, 1, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(c.n, 0);
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
	st->ops->close(st);
	dovecot_stop(d);
}

/* Deletions are made at the flush (QUIT); without it they never happen. */
Test(store_pop3, deletions_take_effect_at_the_flush_only)
{
	struct dovecot *d = dovecot_start();
	struct pop3_options o;
	struct store *st;
	struct store_folder *f;
	struct store_snapshot snap = {0}, after = {0};
	char *kept[5];

	dovecot_seed(d, "INBOX", 5, 400, 0);
	st = open_store(d, &o);
	f = open_inbox(st, NULL);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	for (size_t i = 0; i < 5; i++)
		kept[i] = xstrdup(snap.msgs[i].name);
	cr_assert_eq(st->ops->delete (f, &snap.msgs[1], 2, &err), 0, "%s", err.text);
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
	st->ops->close(st); /* no flush: nothing deleted */
	cr_assert_eq(server_count(d), 5, "deleted without a flush");

	st = open_store(d, &o);
	f = open_inbox(st, NULL);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->delete (f, &snap.msgs[1], 2, &err), 0, "%s", err.text);
	struct store_msg gone = {.name = "no-such-uidl"};
	cr_assert_eq(st->ops->delete (f, &gone, 1, &err), 0, "a name not listed is not an error: %s",
	             err.text);
	store_snapshot_free(&snap);
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	cr_assert_eq(server_count(d), 3, "the flush made the deletions");
	/* The folder is usable after the flush, with the new listing. */
	cr_assert_eq(st->ops->snapshot(f, &after, &err), 0, "%s", err.text);
	cr_assert_eq(after.count, 3);
	cr_assert_str_eq(after.msgs[0].name, kept[0]);
	cr_assert_str_eq(after.msgs[1].name, kept[3]);
	cr_assert_str_eq(after.msgs[2].name, kept[4]);
	store_snapshot_free(&after);
	for (size_t i = 0; i < 5; i++)
		free(kept[i]);
	st->ops->close_folder(f);
	st->ops->close(st);
	dovecot_stop(d);
}

/* POP3 to IMAP through a store source: the POP3 store has no source of
 * its own, so its RETR is bridged into the IMAP APPEND. */
Test(store_pop3, a_message_is_copied_pop3_to_imap_through_a_source)
{
	struct dovecot *d = dovecot_start();
	struct pop3_options o;
	struct imap_session_options io = dovecot_imap_options(d);
	struct store *p, *im;
	struct store_folder *pf, *imf = NULL;
	struct store_folder_info info;
	struct store_snapshot snap = {0}, copied = {0};
	struct store_new_msg src;
	struct collect a = {0}, b = {0};
	struct store_sink sa = {.ctx = &a, .begin = col_begin, .chunk = col_chunk, .end = col_end};
	struct store_sink sb = {.ctx = &b, .begin = col_begin, .chunk = col_chunk, .end = col_end};
	struct error errs[1];
	bool missing;

	dovecot_seed(d, "INBOX", 5, 500, 30000);
	p = open_store(d, &o);
	im = imap_store_open(&io, &err);
	cr_assert_not_null(im, "%s", err.text);
	cr_assert_eq(im->ops->create_folder(im, "FromPop", &err), 0, "%s", err.text);
	cr_assert_eq(im->ops->open_folder(im, "FromPop", &imf, &info, &missing, &err), 0, "%s", err.text);
	pf = open_inbox(p, NULL);
	cr_assert_eq(p->ops->snapshot(pf, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(store_source_open(p, pf, &snap.msgs[4], &src, &err), 0, "%s", err.text);
	cr_assert_eq(src.size, snap.msgs[4].size);
	cr_assert_eq(im->ops->add(imf, &src, 1, errs, &err), 0, "%s", err.text);
	cr_assert_eq(errs[0].scope, ERR_NONE, "%s", errs[0].text);
	store_source_close(p, &src);

	cr_assert_eq(p->ops->fetch(pf, &snap.msgs[4], 1, &sa, &err), 0, "%s", err.text);
	cr_assert_eq(im->ops->snapshot(imf, &copied, &err), 0, "%s", err.text);
	cr_assert_eq(copied.count, 1);
	cr_assert_eq(im->ops->fetch(imf, copied.msgs, 1, &sb, &err), 0, "%s", err.text);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(b.n, 1);
	cr_assert_eq(a.v[0].data.len, b.v[0].data.len);
	cr_assert(memcmp(a.v[0].data.data, b.v[0].data.data, a.v[0].data.len) == 0,
	          "the IMAP copy differs from the POP3 message");
	collect_free(&a);
	collect_free(&b);
	store_snapshot_free(&snap);
	store_snapshot_free(&copied);
	p->ops->close_folder(pf);
	p->ops->close(p);
	im->ops->close_folder(imf);
	im->ops->close(im);
	dovecot_stop(d);
}
