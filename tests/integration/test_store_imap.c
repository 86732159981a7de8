/*
 * The `imap` store against the fixture Dovecot, only through the store
 * interface: folders (nested, UTF-8, missing), snapshots, fetch of
 * bodies and headers, add with flags/date/keywords, flag changes,
 * deletion of exactly the given messages, 500 messages in one add and a
 * 20 MB message there and back with flat memory. Every test has its own
 * mailboxes ("IStore..."): the Dovecot instance is shared.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "twinbox/imap/commands.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/store/source.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

TestSuite(store_imap, .timeout = 120);

static struct error err;

static struct imap_session_options opts_for(struct dovecot *d)
{
	return dovecot_imap_options(d);
}

static struct store *open_store(struct dovecot *d)
{
	struct imap_session_options o = opts_for(d);
	struct store *st = imap_store_open(&o, &err);

	cr_assert_not_null(st, "imap_store_open: %s", err.text);
	return st;
}

static struct store_folder *open_folder(struct store *st, const char *name, struct store_folder_info *info)
{
	struct store_folder *f = NULL;
	struct store_folder_info dummy;
	bool missing = true;

	cr_assert_eq(st->ops->open_folder(st, name, &f, info ? info : &dummy, &missing, &err), 0,
	             "open %s: %s", name, err.text);
	cr_assert(!missing);
	return f;
}

static bool listed(char **names, const char *name)
{
	for (char **p = names; *p; p++)
		if (strcmp(*p, name) == 0)
			return true;
	return false;
}

/* ---- folders -------------------------------------------------------- */

Test(store_imap, kind_key_and_caps)
{
	struct store *st = open_store(dovecot_shared());

	cr_assert_str_eq(st->ops->kind, "imap");
	cr_assert_eq(st->ops->key, STORE_KEY_UID);
	cr_assert(st->ops->caps & STORE_CAP_WRITE);
	cr_assert(st->ops->caps & STORE_CAP_KEYWORDS);
	cr_assert(st->ops->caps & STORE_CAP_MODSEQ, "Dovecot offers CONDSTORE");
	cr_assert_not_null(imap_store_session(st));
	st->ops->close(st);
}

Test(store_imap, create_and_list_nested_and_utf8_folders)
{
	struct dovecot *d = dovecot_shared();
	struct store *st = open_store(d);
	const char *unicode = "IStoreList/\xc3\x9cn\xc3\xaf"
	                      "code";
	char **names, **boxes;

	cr_assert_eq(st->ops->create_folder(st, "IStoreList/Work/Projects", &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->create_folder(st, unicode, &err), 0, "%s", err.text);
	/* Creating what exists is what was asked for. */
	cr_assert_eq(st->ops->create_folder(st, "IStoreList/Work/Projects", &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->create_folder(st, "INBOX", &err), 0, "%s", err.text);

	boxes = dovecot_mailboxes(d);
	cr_assert(listed(boxes, "IStoreList/Work/Projects"));
	cr_assert(listed(boxes, unicode), "the UTF-8 name reached the server as itself");
	dovecot_strv_free(boxes);

	cr_assert_eq(st->ops->list_folders(st, &names, &err), 0, "%s", err.text);
	cr_assert(listed(names, "INBOX"));
	cr_assert(listed(names, "IStoreList/Work/Projects"));
	cr_assert(listed(names, unicode));
	cr_assert(!listed(names, "IStoreList"), "a hierarchy-only parent is not a folder");
	cr_assert(!listed(names, "IStoreList/Work"), "a hierarchy-only parent is not a folder");
	for (size_t i = 0; names[i] && names[i + 1]; i++)
		cr_assert_lt(strcmp(names[i], names[i + 1]), 0, "not sorted: %s, %s", names[i], names[i + 1]);
	store_names_free(names);
	st->ops->close(st);
}

Test(store_imap, bad_folder_names_are_refused)
{
	struct store *st = open_store(dovecot_shared());

	cr_assert_eq(st->ops->create_folder(st, "IStoreBad//x", &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "empty level"), "%s", err.text);
	cr_assert_eq(st->ops->create_folder(st, "/IStoreBad", &err), -1);
	cr_assert_eq(st->ops->create_folder(st, "IStoreBad\r\nx", &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	st->ops->close(st);
}

Test(store_imap, missing_folder_is_missing_not_empty)
{
	struct dovecot *d = dovecot_shared();
	struct store *st = open_store(d);
	struct store_folder *f = NULL;
	struct store_folder_info info;
	bool missing = false;

	cr_assert_eq(st->ops->open_folder(st, "IStoreMissing/Nowhere", &f, &info, &missing, &err), -1);
	cr_assert(missing);
	cr_assert_null(f);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "IStoreMissing/Nowhere"), "%s", err.text);

	/* A hierarchy-only parent is no folder either. */
	dovecot_create_mailbox(d, "IStoreMissing/Child");
	missing = false;
	cr_assert_eq(st->ops->open_folder(st, "IStoreMissing", &f, &info, &missing, &err), -1);
	cr_assert(missing, "%s", err.text);

	/* The session goes on: the child opens. */
	f = open_folder(st, "IStoreMissing/Child", &info);
	cr_assert_neq(info.uidvalidity, 0);
	cr_assert_eq(info.exists, 0);
	st->ops->close_folder(f);
	st->ops->close(st);
}

/* ---- snapshot and fetch --------------------------------------------- */

static const char *plain_msg = "From: a@example.org\r\n"
                               "To: b@example.org\r\n"
                               "Subject: flags\r\n"
                               "Message-ID: <flags@twinbox.test>\r\n"
                               "\r\n"
                               "Body line\r\n";

Test(store_imap, snapshot_matches_the_server)
{
	struct dovecot *d = dovecot_shared();
	struct store *st;
	struct store_folder *f;
	struct store_folder_info info;
	struct store_snapshot snap;
	struct dovecot_msg *dm;
	size_t n;

	dovecot_seed(d, "IStoreSnap", 12, 500, 3000);
	dovecot_append(d, "IStoreSnap", plain_msg, strlen(plain_msg), "\\Seen \\Flagged $Label1 Work");
	dovecot_append(d, "IStoreSnap", plain_msg, strlen(plain_msg), "\\Answered \\Draft \\Deleted");
	st = open_store(d);
	f = open_folder(st, "IStoreSnap", &info);
	cr_assert_eq(info.exists, 14);
	cr_assert_eq(info.uidnext, 15);
	cr_assert_neq(info.highestmodseq, 0);

	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	dm = dovecot_list(d, "IStoreSnap", false, &n);
	cr_assert_eq(snap.count, n);
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &snap.msgs[i];
		cr_assert_eq(m->uid, dm[i].uid);
		cr_assert_null(m->name);
		cr_assert_eq(m->size, dm[i].size, "uid %u", m->uid);
		cr_assert_neq(m->date, 0);
		cr_assert_neq(m->modseq, 0);
		cr_assert_eq((m->flags & MAIL_FLAG_SEEN) != 0, dovecot_msg_has_flag(&dm[i], "\\Seen"));
		cr_assert_eq((m->flags & MAIL_FLAG_FLAGGED) != 0, dovecot_msg_has_flag(&dm[i], "\\Flagged"));
		cr_assert_eq((m->flags & MAIL_FLAG_ANSWERED) != 0,
		             dovecot_msg_has_flag(&dm[i], "\\Answered"));
		cr_assert_eq((m->flags & MAIL_FLAG_DRAFT) != 0, dovecot_msg_has_flag(&dm[i], "\\Draft"));
		cr_assert_eq((m->flags & MAIL_FLAG_DELETED) != 0, dovecot_msg_has_flag(&dm[i], "\\Deleted"));
		cr_assert_eq(m->flags & ~MAIL_FLAGS_ALL, 0, "\\Recent and the like are not flags");
		if (i < 12)
			cr_assert_null(m->keywords);
	}
	cr_assert_eq(snap.msgs[12].flags, MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED);
	cr_assert_str_eq(snap.msgs[12].keywords, "$Label1 Work", "canonical keyword text");
	cr_assert_eq(snap.msgs[13].flags, MAIL_FLAG_ANSWERED | MAIL_FLAG_DRAFT | MAIL_FLAG_DELETED);
	dovecot_msgs_free(dm, n);
	store_snapshot_free(&snap);
	cr_assert_eq(snap.count, 0);
	st->ops->close_folder(f);

	/* An empty folder has an empty, valid snapshot. */
	cr_assert_eq(st->ops->create_folder(st, "IStoreSnapEmpty", &err), 0, "%s", err.text);
	f = open_folder(st, "IStoreSnapEmpty", &info);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 0);
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
	st->ops->close(st);
}

/* A sink that keeps every message it gets. */
struct got {
	uint32_t uid;
	struct store_msg msg; /* as begin saw it (keywords copied) */
	char *keywords;
	struct buf data;
	bool ended;
};

struct collect {
	struct got v[64];
	size_t count;
	bool in_msg;
};

static int col_begin(void *ctx, const struct store_msg *msg, struct error *e)
{
	struct collect *c = ctx;
	struct got *g;

	(void)e;
	cr_assert(!c->in_msg, "begin inside a message");
	cr_assert_lt(c->count, 64);
	g = &c->v[c->count++];
	memset(g, 0, sizeof(*g));
	g->uid = msg->uid;
	g->msg = *msg;
	g->keywords = msg->keywords ? xstrdup(msg->keywords) : NULL;
	g->msg.keywords = g->keywords;
	buf_init(&g->data, 0);
	c->in_msg = true;
	return 0;
}

static int col_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	struct collect *c = ctx;

	(void)e;
	cr_assert(c->in_msg, "chunk outside a message");
	buf_append(&c->v[c->count - 1].data, data, len);
	return 0;
}

static int col_end(void *ctx, struct error *e)
{
	struct collect *c = ctx;

	(void)e;
	cr_assert(c->in_msg, "end outside a message");
	c->v[c->count - 1].ended = true;
	c->in_msg = false;
	return 0;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->count; i++) {
		buf_free(&c->v[i].data);
		free(c->v[i].keywords);
	}
}

static const struct got *got_uid(const struct collect *c, uint32_t uid)
{
	for (size_t i = 0; i < c->count; i++)
		if (c->v[i].uid == uid)
			return &c->v[i];
	return NULL;
}

Test(store_imap, fetch_gives_the_bytes_the_server_has)
{
	struct dovecot *d = dovecot_shared();
	struct collect c = {0};
	struct store_sink sink = {.ctx = &c, .begin = col_begin, .chunk = col_chunk, .end = col_end};
	struct store_snapshot snap;
	struct store_msg want[8];
	struct store_folder *f;
	struct dovecot_msg *dm;
	struct store *st;
	size_t n, k = 0;

	dovecot_seed(d, "IStoreFetch", 10, 700, 20000);
	dovecot_append(d, "IStoreFetch", plain_msg, strlen(plain_msg), "\\Seen $Label2");
	st = open_store(d);
	f = open_folder(st, "IStoreFetch", NULL);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 11);
	/* Out of order, one twice, one that does not exist. */
	want[k++] = snap.msgs[10];
	want[k++] = snap.msgs[4];
	want[k++] = snap.msgs[0];
	want[k++] = snap.msgs[4];
	want[k++] = snap.msgs[9];
	want[k] = snap.msgs[9];
	want[k++].uid = 9999;
	cr_assert_eq(st->ops->fetch(f, want, k, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(c.count, 4, "one begin per existing message");

	dm = dovecot_list(d, "IStoreFetch", true, &n);
	for (size_t i = 0; i < n; i++) {
		const struct got *g = got_uid(&c, dm[i].uid);
		if (i != 10 && i != 4 && i != 0 && i != 9) {
			cr_assert_null(g, "uid %u was not asked for", dm[i].uid);
			continue;
		}
		cr_assert_not_null(g, "uid %u missing", dm[i].uid);
		cr_assert(g->ended);
		cr_assert_eq(g->msg.size, dm[i].size);
		cr_assert_eq(g->data.len, dm[i].body_len, "uid %u", dm[i].uid);
		cr_assert(memcmp(g->data.data, dm[i].body, dm[i].body_len) == 0, "uid %u differs", dm[i].uid);
	}
	const struct got *last = got_uid(&c, dm[10].uid);
	cr_assert_not_null(last);
	if (last) {
		cr_assert_eq(last->msg.flags, MAIL_FLAG_SEEN, "begin carries the server's flags");
		cr_assert_str_eq(last->msg.keywords, "$Label2");
	}
	dovecot_msgs_free(dm, n);

	/* Fetching does not mark anything \Seen. */
	dm = dovecot_list(d, "IStoreFetch", false, &n);
	cr_assert(!dovecot_msg_has_flag(&dm[0], "\\Seen"));
	dovecot_msgs_free(dm, n);
	collect_free(&c);
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
	st->ops->close(st);
}

Test(store_imap, fetch_headers_gives_exactly_the_header_block)
{
	struct dovecot *d = dovecot_shared();
	struct collect c = {0};
	struct store_sink sink = {.ctx = &c, .begin = col_begin, .chunk = col_chunk, .end = col_end};
	struct store_snapshot snap;
	struct store_folder *f;
	struct dovecot_msg *dm;
	struct store *st;
	size_t n;

	dovecot_seed(d, "IStoreHdr", 6, 900, 5000);
	st = open_store(d);
	f = open_folder(st, "IStoreHdr", NULL);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->fetch_headers(f, snap.msgs, snap.count, &sink, &err), 0, "%s", err.text);
	dm = dovecot_list(d, "IStoreHdr", true, &n);
	cr_assert_eq(c.count, n);
	for (size_t i = 0; i < n; i++) {
		const struct got *g = got_uid(&c, dm[i].uid);
		const char *blank = strstr(dm[i].body, "\r\n\r\n");
		size_t hlen;
		cr_assert_not_null(g);
		cr_assert_not_null(blank);
		hlen = (size_t)(blank - dm[i].body) + 4;
		cr_assert(g->ended);
		cr_assert_eq(g->msg.size, dm[i].size, "begin's size is the whole message's");
		cr_assert_eq(g->data.len, hlen, "uid %u: %zu header bytes, expected %zu", dm[i].uid,
		             g->data.len, hlen);
		cr_assert(memcmp(g->data.data, dm[i].body, hlen) == 0);
	}
	dovecot_msgs_free(dm, n);
	collect_free(&c);
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
	st->ops->close(st);
}

/* ---- add ------------------------------------------------------------- */

struct mem_reader {
	const char *data;
	size_t len, off;
};

static long long mem_read(void *ctx, void *data, size_t len, struct error *e)
{
	struct mem_reader *r = ctx;
	size_t n = r->len - r->off < len ? r->len - r->off : len;

	(void)e;
	memcpy(data, r->data + r->off, n);
	r->off += n;
	return (long long)n;
}

static int mem_rewind(void *ctx, struct error *e)
{
	struct mem_reader *r = ctx;

	(void)e;
	r->off = 0;
	return 0;
}

static struct store_new_msg new_msg(struct mem_reader *r, const char *text, unsigned flags, const char *kw,
                                    time_t date)
{
	struct store_new_msg m = {.flags = flags, .keywords = kw, .date = date, .size = strlen(text)};

	r->data = text;
	r->len = strlen(text);
	r->off = 0;
	m.ctx = r;
	m.read = mem_read;
	return m;
}

Test(store_imap, add_stores_bytes_flags_keywords_and_date)
{
	struct dovecot *d = dovecot_shared();
	const char *texts[3] = {
	    "Subject: one\r\nMessage-ID: <add1@twinbox.test>\r\n\r\nfirst\r\n",
	    "Subject: two\r\nMessage-ID: <add2@twinbox.test>\r\n\r\nsecond\r\nwith two lines\r\n",
	    "Subject: three\r\n\r\n",
	};
	struct mem_reader r[3];
	struct store_new_msg m[3];
	struct error errs[3];
	struct store_snapshot snap;
	struct store_folder *f;
	struct dovecot_msg *dm;
	struct store *st;
	size_t n;

	st = open_store(d);
	cr_assert_eq(st->ops->create_folder(st, "IStoreAdd", &err), 0, "%s", err.text);
	f = open_folder(st, "IStoreAdd", NULL);
	m[0] = new_msg(&r[0], texts[0], MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED, "$Label1 Work", 1700000000);
	m[1] = new_msg(&r[1], texts[1], 0, NULL, 1500000000);
	m[2] = new_msg(&r[2], texts[2], MAIL_FLAG_ANSWERED | MAIL_FLAG_DRAFT, "$Forwarded", 0);
	cr_assert_eq(st->ops->add(f, m, 3, errs, &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(errs[i].scope, ERR_NONE, "%s", errs[i].text);
		cr_assert_eq(m[i].uid_r, (uint32_t)i + 1, "APPENDUID gives the new UID");
	}

	dm = dovecot_list(d, "IStoreAdd", true, &n);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(dm[i].uid, m[i].uid_r);
		cr_assert_eq(dm[i].body_len, strlen(texts[i]));
		cr_assert(memcmp(dm[i].body, texts[i], dm[i].body_len) == 0);
	}
	cr_assert(dovecot_msg_has_flag(&dm[0], "\\Seen"));
	cr_assert(dovecot_msg_has_flag(&dm[0], "\\Flagged"));
	cr_assert(dovecot_msg_has_flag(&dm[0], "$Label1"));
	cr_assert(dovecot_msg_has_flag(&dm[0], "Work"));
	cr_assert(!dovecot_msg_has_flag(&dm[1], "\\Seen"));
	cr_assert(dovecot_msg_has_flag(&dm[2], "\\Answered"));
	cr_assert(dovecot_msg_has_flag(&dm[2], "\\Draft"));
	cr_assert(dovecot_msg_has_flag(&dm[2], "$Forwarded"));
	dovecot_msgs_free(dm, n);

	/* The dates come back as internal dates. */
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 3);
	cr_assert_eq(snap.msgs[0].date, 1700000000);
	cr_assert_eq(snap.msgs[1].date, 1500000000);
	cr_assert_neq(snap.msgs[2].date, 0, "no date given: the server's clock");
	cr_assert_eq(snap.msgs[0].size, strlen(texts[0]));
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
	st->ops->close(st);
}

Test(store_imap, a_refused_message_fails_alone)
{
	struct dovecot *d = dovecot_shared();
	const char *text = "Subject: ok\r\n\r\nbody\r\n";
	struct mem_reader r[3];
	struct store_new_msg m[3];
	struct error errs[3];
	struct store_folder *f;
	struct dovecot_msg *dm;
	struct store *st;
	size_t n;

	st = open_store(d);
	cr_assert_eq(st->ops->create_folder(st, "IStoreAddBad", &err), 0, "%s", err.text);
	f = open_folder(st, "IStoreAddBad", NULL);
	m[0] = new_msg(&r[0], text, 0, NULL, 0);
	m[1] = new_msg(&r[1], text, 0, "bad(keyword", 0);
	m[2] = new_msg(&r[2], text, MAIL_FLAG_SEEN, NULL, 0);
	cr_assert_eq(st->ops->add(f, m, 3, errs, &err), 0, "only a message failed: %s", err.text);
	cr_assert_eq(errs[0].scope, ERR_NONE);
	cr_assert_eq(errs[1].scope, ERR_MESSAGE);
	cr_assert(strstr(errs[1].text, "bad(keyword"), "%s", errs[1].text);
	cr_assert_eq(m[1].uid_r, 0);
	cr_assert_eq(errs[2].scope, ERR_NONE);
	cr_assert_neq(m[2].uid_r, 0);
	dm = dovecot_list(d, "IStoreAddBad", false, &n);
	cr_assert_eq(n, 2);
	dovecot_msgs_free(dm, n);
	st->ops->close_folder(f);
	st->ops->close(st);
}

/* Several messages per APPEND (MULTIAPPEND) when every source can be
 * read again: the server stores a refused group's messages none at all
 * (RFC 3502), so they are sent again one by one and only the bad one
 * fails; nothing is stored twice. */
Test(store_imap, a_message_refused_in_a_group_fails_alone)
{
	struct dovecot *d = dovecot_shared();
	enum { N = 40, BAD = 5 };
	/* Dovecot refuses keywords over mail_max_keyword_length (50). */
	const char *long_kw = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
	char *texts[N];
	struct mem_reader r[N];
	struct store_new_msg m[N];
	struct error errs[N];
	struct store_folder *f;
	struct dovecot_msg *dm;
	struct store *st;
	size_t n;

	st = open_store(d);
	cr_assert_eq(st->ops->create_folder(st, "IStoreAddGroup", &err), 0, "%s", err.text);
	f = open_folder(st, "IStoreAddGroup", NULL);
	for (int i = 0; i < N; i++) {
		texts[i] = xasprintf("Subject: %d\r\nMessage-ID: <group.%d@twinbox.test>\r\n\r\nbody %d\r\n",
		                     i, i, i);
		m[i] = new_msg(&r[i], texts[i], 0, i == BAD ? long_kw : NULL, 0);
		m[i].rewind = mem_rewind;
	}
	cr_assert_eq(st->ops->add(f, m, N, errs, &err), 0, "only a message failed: %s", err.text);
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	for (int i = 0; i < N; i++) {
		if (i == BAD) {
			cr_assert_eq(errs[i].scope, ERR_MESSAGE, "%s", errs[i].text);
			cr_assert_eq(m[i].uid_r, 0);
			continue;
		}
		cr_assert_eq(errs[i].scope, ERR_NONE, "message %d: %s", i, errs[i].text);
		cr_assert_neq(m[i].uid_r, 0, "message %d has its UID", i);
	}
	dm = dovecot_list(d, "IStoreAddGroup", true, &n);
	cr_assert_eq(n, N - 1, "%zu messages stored", n);
	for (size_t i = 0; i < n; i++) {
		int k = -1;
		for (int j = 0; j < N; j++)
			if (m[j].uid_r == dm[i].uid)
				k = j;
		cr_assert_geq(k, 0, "uid %u belongs to no message", dm[i].uid);
		cr_assert_eq(dm[i].body_len, strlen(texts[k]));
		cr_assert(memcmp(dm[i].body, texts[k], dm[i].body_len) == 0, "uid %u", dm[i].uid);
	}
	dovecot_msgs_free(dm, n);
	for (int i = 0; i < N; i++)
		free(texts[i]);
	st->ops->close_folder(f);
	st->ops->close(st);
}

Test(store_imap, a_source_shorter_than_its_size_stores_nothing)
{
	struct dovecot *d = dovecot_shared();
	const char *text = "Subject: short\r\n\r\nbody\r\n";
	struct mem_reader r;
	struct store_new_msg m;
	struct error errs[1];
	struct store_folder *f;
	struct dovecot_msg *dm;
	struct store *st;
	size_t n;

	st = open_store(d);
	cr_assert_eq(st->ops->create_folder(st, "IStoreShort", &err), 0, "%s", err.text);
	f = open_folder(st, "IStoreShort", NULL);
	m = new_msg(&r, text, 0, NULL, 0);
	m.size += 10;
	cr_assert_eq(st->ops->add(f, &m, 1, errs, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT, "the announced literal broke the session: %s", err.text);
	cr_assert_neq(errs[0].scope, ERR_NONE);
	cr_assert(strstr(err.text, "upload"), "%s", err.text);
	st->ops->close_folder(f);
	st->ops->close(st);

	/* Longer than announced: stopped too, so no truncated copy. */
	st = open_store(d);
	f = open_folder(st, "IStoreShort", NULL);
	m = new_msg(&r, text, 0, NULL, 0);
	m.size -= 3;
	cr_assert_eq(st->ops->add(f, &m, 1, errs, &err), -1);
	cr_assert(strstr(err.text, "longer than its given size"), "%s", err.text);
	st->ops->close_folder(f);
	st->ops->close(st);

	dm = dovecot_list(d, "IStoreShort", false, &n);
	cr_assert_eq(n, 0, "nothing was stored");
	dovecot_msgs_free(dm, n);
}

/* ---- flags and deletion --------------------------------------------- */

static struct store_msg uid_msg(uint32_t uid)
{
	struct store_msg m = {.uid = uid};

	return m;
}

Test(store_imap, set_flags_adds_and_removes_on_the_server)
{
	struct dovecot *d = dovecot_shared();
	struct store_msg some[3] = {uid_msg(2), uid_msg(4), uid_msg(5)};
	struct store_folder *f;
	struct dovecot_msg *dm;
	struct store *st;
	size_t n;

	dovecot_seed(d, "IStoreFlags", 6, 1100, 0);
	st = open_store(d);
	f = open_folder(st, "IStoreFlags", NULL);
	cr_assert_eq(
	    st->ops->set_flags(f, some, 3, MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED, "$Label1 Todo", 0, NULL, &err),
	    0, "%s", err.text);
	cr_assert_eq(
	    st->ops->set_flags(f, some + 1, 1, MAIL_FLAG_ANSWERED, NULL, MAIL_FLAG_FLAGGED, "Todo", &err), 0,
	    "%s", err.text);
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	dm = dovecot_list(d, "IStoreFlags", false, &n);
	cr_assert_eq(n, 6);
	for (size_t i = 0; i < n; i++) {
		bool in = dm[i].uid == 2 || dm[i].uid == 4 || dm[i].uid == 5;
		bool four = dm[i].uid == 4;
		cr_assert_eq(dovecot_msg_has_flag(&dm[i], "\\Seen"), in, "uid %u: %s", dm[i].uid,
		             dm[i].flags);
		cr_assert_eq(dovecot_msg_has_flag(&dm[i], "\\Flagged"), in && !four, "uid %u: %s", dm[i].uid,
		             dm[i].flags);
		cr_assert_eq(dovecot_msg_has_flag(&dm[i], "$Label1"), in, "uid %u: %s", dm[i].uid,
		             dm[i].flags);
		cr_assert_eq(dovecot_msg_has_flag(&dm[i], "Todo"), in && !four, "uid %u: %s", dm[i].uid,
		             dm[i].flags);
		cr_assert_eq(dovecot_msg_has_flag(&dm[i], "\\Answered"), four, "uid %u: %s", dm[i].uid,
		             dm[i].flags);
	}
	dovecot_msgs_free(dm, n);
	st->ops->close_folder(f);
	st->ops->close(st);
}

Test(store_imap, delete_removes_exactly_those_messages)
{
	struct dovecot *d = dovecot_shared();
	struct store_msg other = uid_msg(5), doomed[3] = {uid_msg(1), uid_msg(3), uid_msg(77)};
	struct store *st, *st2;
	struct store_folder *f, *f2;
	struct dovecot_msg *dm;
	size_t n;

	dovecot_seed(d, "IStoreDel", 6, 1300, 0);
	/* Another client marks 5 \Deleted and leaves it there. */
	st2 = open_store(d);
	f2 = open_folder(st2, "IStoreDel", NULL);
	cr_assert_eq(st2->ops->set_flags(f2, &other, 1, MAIL_FLAG_DELETED, NULL, 0, NULL, &err), 0, "%s",
	             err.text);

	st = open_store(d);
	f = open_folder(st, "IStoreDel", NULL);
	cr_assert_eq(st->ops->delete (f, doomed, 3, &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	/* Gone already is no error. */
	cr_assert_eq(st->ops->delete (f, doomed, 1, &err), 0, "%s", err.text);

	dm = dovecot_list(d, "IStoreDel", false, &n);
	cr_assert_eq(n, 4);
	cr_assert_eq(dm[0].uid, 2);
	cr_assert_eq(dm[1].uid, 4);
	cr_assert_eq(dm[2].uid, 5);
	cr_assert(dovecot_msg_has_flag(&dm[2], "\\Deleted"), "the other client's mark stays");
	cr_assert_eq(dm[3].uid, 6);
	dovecot_msgs_free(dm, n);
	st2->ops->close_folder(f2);
	st2->ops->close(st2);
	st->ops->close_folder(f);
	st->ops->close(st);
}

Test(store_imap, delete_keeps_a_message_changed_since_the_snapshot)
{
	struct dovecot *d = dovecot_shared();
	struct store_snapshot snap;
	struct store *st, *st2;
	struct store_folder *f, *f2;
	struct dovecot_msg *dm;
	size_t n;

	dovecot_seed(d, "IStoreDelChanged", 3, 1500, 0);
	st = open_store(d);
	f = open_folder(st, "IStoreDelChanged", NULL);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 3);

	/* Meanwhile another client flags message 2. */
	st2 = open_store(d);
	f2 = open_folder(st2, "IStoreDelChanged", NULL);
	cr_assert_eq(st2->ops->set_flags(f2, &snap.msgs[1], 1, MAIL_FLAG_FLAGGED, NULL, 0, NULL, &err), 0,
	             "%s", err.text);
	st2->ops->close_folder(f2);
	st2->ops->close(st2);

	cr_assert_eq(st->ops->delete (f, snap.msgs, 2, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE, "%s", err.text);
	cr_assert(strstr(err.text, "1 message changed"), "%s", err.text);
	dm = dovecot_list(d, "IStoreDelChanged", false, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(dm[0].uid, 2, "the changed message is kept");
	cr_assert(dovecot_msg_has_flag(&dm[0], "\\Flagged"));
	cr_assert(!dovecot_msg_has_flag(&dm[0], "\\Deleted"));
	cr_assert_eq(dm[1].uid, 3);
	dovecot_msgs_free(dm, n);
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
	st->ops->close(st);
}

/* ---- volume ---------------------------------------------------------- */

Test(store_imap, add_500_messages_in_one_call)
{
	struct dovecot *d = dovecot_shared();
	enum { N = 500 };
	struct mem_reader *r = xcalloc(N, sizeof(*r));
	struct store_new_msg *m = xcalloc(N, sizeof(*m));
	struct error *errs = xcalloc(N, sizeof(*errs));
	char **texts = xcalloc(N, sizeof(*texts));
	struct store_snapshot snap;
	struct store_folder *f;
	struct dovecot_msg *dm;
	struct timespec t0, t1;
	struct store *st;
	size_t n, len;

	for (unsigned i = 0; i < N; i++) {
		texts[i] = test_message(2000 + i, 0, &len);
		m[i] = new_msg(&r[i], texts[i], i % 3 ? 0 : MAIL_FLAG_SEEN, i % 7 ? NULL : "$Label3", 0);
	}
	st = open_store(d);
	cr_assert_eq(st->ops->create_folder(st, "IStoreMany", &err), 0, "%s", err.text);
	f = open_folder(st, "IStoreMany", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(st->ops->add(f, m, N, errs, &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_log_info("500 messages added in %.3f s",
	            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (unsigned i = 0; i < N; i++) {
		cr_assert_eq(errs[i].scope, ERR_NONE, "%u: %s", i, errs[i].text);
		cr_assert_eq(m[i].uid_r, i + 1);
	}
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, N);
	dm = dovecot_list(d, "IStoreMany", true, &n);
	cr_assert_eq(n, N);
	for (unsigned i = 0; i < N; i++) {
		cr_assert_eq(dm[i].body_len, strlen(texts[i]));
		cr_assert(memcmp(dm[i].body, texts[i], dm[i].body_len) == 0, "message %u differs", i);
		cr_assert_eq(dovecot_msg_has_flag(&dm[i], "\\Seen"), i % 3 == 0);
		cr_assert_eq(snap.msgs[i].keywords != NULL, i % 7 == 0);
		free(texts[i]);
	}
	dovecot_msgs_free(dm, n);
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
	st->ops->close(st);
	free(texts);
	free(errs);
	free(m);
	free(r);
}

/* A 20 MB message made on the fly, so the test itself holds none of it. */
#define BIG_SIZE (20u * 1024 * 1024)
static const char big_header[] = "Subject: big\r\nMessage-ID: <big@twinbox.test>\r\n\r\n";

static char big_byte(uint64_t off)
{
	uint64_t hl = sizeof(big_header) - 1, body;

	if (off < hl)
		return big_header[off];
	body = off - hl;
	if (body % 78 == 76)
		return '\r';
	if (body % 78 == 77)
		return '\n';
	return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(body * 7 + body / 78) %
	                                                                          64];
}

struct big_reader {
	uint64_t off;
	uint64_t size; /* 0: BIG_SIZE */
};

static long long big_read(void *ctx, void *data, size_t len, struct error *e)
{
	struct big_reader *r = ctx;
	uint64_t size = r->size ? r->size : BIG_SIZE;
	char *out = data;
	size_t n = 0;

	(void)e;
	while (n < len && r->off < size)
		out[n++] = big_byte(r->off++);
	return (long long)n;
}

struct big_check {
	uint64_t off, begun_size;
	bool same;
	int begins, ends;
};

static int big_begin(void *ctx, const struct store_msg *msg, struct error *e)
{
	struct big_check *c = ctx;

	(void)e;
	c->begins++;
	c->begun_size = msg->size;
	return 0;
}

static int big_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	struct big_check *c = ctx;
	const char *p = data;

	(void)e;
	for (size_t i = 0; i < len && c->same; i++)
		c->same = p[i] == big_byte(c->off + i);
	c->off += len;
	return 0;
}

static int big_end(void *ctx, struct error *e)
{
	struct big_check *c = ctx;

	(void)e;
	c->ends++;
	return 0;
}

static long vm_hwm_kb(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	cr_assert_not_null(fp);
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

Test(store_imap, add_and_fetch_20_mb_with_flat_memory)
{
	struct dovecot *d = dovecot_shared();
	struct big_reader r = {0};
	struct store_new_msg m = {.flags = MAIL_FLAG_SEEN, .size = BIG_SIZE, .ctx = &r, .read = big_read};
	struct big_check c = {.same = true};
	struct store_sink sink = {.ctx = &c, .begin = big_begin, .chunk = big_chunk, .end = big_end};
	struct store_msg want = {0};
	struct error errs[1];
	struct store_folder *f;
	struct store *st;
	long before, after;

	st = open_store(d);
	cr_assert_eq(st->ops->create_folder(st, "IStoreBig", &err), 0, "%s", err.text);
	f = open_folder(st, "IStoreBig", NULL);
	before = vm_hwm_kb();
	cr_assert_eq(st->ops->add(f, &m, 1, errs, &err), 0, "%s", err.text);
	cr_assert_eq(errs[0].scope, ERR_NONE, "%s", errs[0].text);
	cr_assert_neq(m.uid_r, 0);
	want.uid = m.uid_r;
	cr_assert_eq(st->ops->fetch(f, &want, 1, &sink, &err), 0, "%s", err.text);
	after = vm_hwm_kb();
	cr_assert_eq(c.begins, 1);
	cr_assert_eq(c.ends, 1);
	cr_assert_eq(c.begun_size, BIG_SIZE);
	cr_assert_eq(c.off, BIG_SIZE);
	cr_assert(c.same, "the fetched message differs from the added one");
	cr_log_info("20 MB add+fetch through the store: peak RSS grew by %ld kB", after - before);
#if defined(__SANITIZE_ADDRESS__)
	(void)before; /* ASan's quarantine keeps freed buffers resident */
#else
	cr_assert_lt(after - before, 8 * 1024, "peak RSS grew by %ld kB", after - before);
#endif
	st->ops->close_folder(f);
	st->ops->close(st);
}

/* IMAP to IMAP (store/source.h): a 200 MB message goes from one
 * server's FETCH into another server's APPEND through a bounded buffer,
 * never held whole, and arrives byte for byte. */
#define HUGE_SIZE (200u * 1024 * 1024)

Test(store_imap, a_200_mb_message_is_copied_imap_to_imap_with_flat_memory, .timeout = 600)
{
	struct dovecot *d1 = dovecot_shared(), *d2 = dovecot_start();
	struct big_reader r = {.size = HUGE_SIZE};
	struct store_new_msg m = {.flags = MAIL_FLAG_FLAGGED, .size = HUGE_SIZE, .ctx = &r, .read = big_read};
	struct big_check c = {.same = true};
	struct store_sink sink = {.ctx = &c, .begin = big_begin, .chunk = big_chunk, .end = big_end};
	struct store_snapshot snap = {0};
	struct store_new_msg src;
	struct store_msg want = {0};
	struct error errs[1];
	struct store *a = open_store(d1), *b = open_store(d2);
	struct store_folder *fa, *fb;
	long before, after;

	cr_assert_eq(a->ops->create_folder(a, "IStoreHuge", &err), 0, "%s", err.text);
	cr_assert_eq(b->ops->create_folder(b, "IStoreHugeCopy", &err), 0, "%s", err.text);
	fa = open_folder(a, "IStoreHuge", NULL);
	fb = open_folder(b, "IStoreHugeCopy", NULL);
	cr_assert_eq(a->ops->add(fa, &m, 1, errs, &err), 0, "%s", err.text);
	cr_assert_eq(errs[0].scope, ERR_NONE, "%s", errs[0].text);
	cr_assert_eq(a->ops->snapshot(fa, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 1);

	before = vm_hwm_kb();
	cr_assert_eq(store_source_open(a, fa, &snap.msgs[0], &src, &err), 0, "%s", err.text);
	cr_assert_eq(src.size, HUGE_SIZE, "the size the fetch announced");
	cr_assert_null(src.rewind, "a fetched message cannot start again");
	cr_assert_eq(b->ops->add(fb, &src, 1, errs, &err), 0, "%s", err.text);
	cr_assert_eq(errs[0].scope, ERR_NONE, "%s", errs[0].text);
	cr_assert_neq(src.uid_r, 0, "the target said the new UID");
	want.uid = src.uid_r;
	store_source_close(a, &src);
	after = vm_hwm_kb();

	cr_assert_eq(b->ops->fetch(fb, &want, 1, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(c.begins, 1);
	cr_assert_eq(c.begun_size, HUGE_SIZE);
	cr_assert_eq(c.off, HUGE_SIZE);
	cr_assert(c.same, "the copy differs from the original");
	cr_log_info("200 MB IMAP to IMAP through the store: peak RSS grew by %ld kB", after - before);
#if defined(__SANITIZE_ADDRESS__)
	(void)before;
#else
	cr_assert_lt(after - before, 16 * 1024, "peak RSS grew by %ld kB", after - before);
#endif
	/* A message gone meanwhile is a message failure, before any byte. */
	struct store_msg gone = snap.msgs[0];
	gone.uid = snap.msgs[0].uid + 1000;
	cr_assert_eq(store_source_open(a, fa, &gone, &src, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE, "%s", err.text);
	store_snapshot_free(&snap);
	a->ops->close_folder(fa);
	b->ops->close_folder(fb);
	a->ops->close(a);
	b->ops->close(b);
	dovecot_stop(d2);
}
