/* The maildir store, used only through the store interface, as the sync
 * engine uses it. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twinbox/store/content_key.h"
#include "twinbox/store/maildir_store.h"
#include "twinbox/store/store.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

static char dir[64];
static char *root;
static struct store *st;

static void setup(void)
{
	struct error err;

	strcpy(dir, "/tmp/twinbox-mstore-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	root = xasprintf("%s/mail", dir);
	st = maildir_store_open(root, MAILDIR_LAYOUT_MAILDIRPP, &err);
	cr_assert_not_null(st, "%s", err.text);
}

static void teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	if (st)
		st->ops->close(st);
	free(root);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

TestSuite(store_maildir, .init = setup, .fini = teardown, .timeout = 120);

/* --- helpers -------------------------------------------------------------- */

static struct store_folder *open_inbox(void)
{
	struct store_folder_info info;
	struct store_folder *f;
	struct error err;
	bool missing;

	cr_assert_eq(st->ops->create_folder(st, "INBOX", &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->open_folder(st, "INBOX", &f, &info, &missing, &err), 0, "%s", err.text);
	return f;
}

struct mem_src {
	const char *data;
	size_t len, pos;
	size_t max_read; /* 0: as much as asked */
};

static long long mem_read(void *ctx, void *data, size_t len, struct error *err)
{
	struct mem_src *s = ctx;
	size_t n = s->len - s->pos;

	(void)err;
	if (n > len)
		n = len;
	if (s->max_read && n > s->max_read)
		n = s->max_read;
	memcpy(data, s->data + s->pos, n);
	s->pos += n;
	return (long long)n;
}

/* Add one message from memory; returns its name (caller frees). */
static char *add_msg(struct store_folder *f, const char *data, unsigned flags, const char *keywords,
                     time_t date, char *reserved)
{
	struct mem_src src = {data, strlen(data), 0, 1}; /* CR and LF in separate reads */
	struct store_new_msg m = {flags, keywords, date,    STORE_ZONE_UNKNOWN, strlen(data), &src, mem_read,
	                          NULL,  0,        reserved};
	struct error err, errs[1];

	cr_assert_eq(st->ops->add(f, &m, 1, errs, &err), 0, "%s", err.text);
	cr_assert_eq(errs[0].scope, ERR_NONE, "%s", errs[0].text);
	cr_assert_not_null(m.name_r);
	return m.name_r;
}

/* The path of the file with this id in new/ or cur/ of `folder_rel`, or NULL. */
static char *find_file(const char *folder_rel, const char *id)
{
	static const char *subs[] = {"new", "cur"};

	for (int i = 0; i < 2; i++) {
		char *d = xasprintf("%s/%s/%s", root, folder_rel, subs[i]);
		DIR *dh = opendir(d);
		struct dirent *de;
		char *found = NULL;

		cr_assert_not_null(dh, "%s", d);
		while ((de = readdir(dh)))
			if (strncmp(de->d_name, id, strlen(id)) == 0 &&
			    (de->d_name[strlen(id)] == '\0' || de->d_name[strlen(id)] == ':'))
				found = xasprintf("%s/%s", d, de->d_name);
		closedir(dh);
		free(d);
		if (found)
			return found;
	}
	return NULL;
}

static char *read_file(const char *path, size_t *len_r)
{
	struct error err;
	char *data;
	size_t len;

	cr_assert_eq(fs_read_file(path, 1 << 26, &data, &len, &err), 0, "%s", err.text);
	if (len_r)
		*len_r = len;
	return data;
}

static void write_file(const char *path, const char *content)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp, "%s", path);
	fputs(content, fp);
	cr_assert_eq(fclose(fp), 0);
}

/* A sink that keeps everything it is given. */
struct collect {
	struct buf data; /* bytes of all messages */
	size_t begins, ends;
	struct store_msg last; /* the last begin's msg (strings not kept) */
	char names[8][256];
};

static int c_begin(void *ctx, const struct store_msg *msg, struct error *err)
{
	struct collect *c = ctx;

	(void)err;
	if (c->begins < 8)
		snprintf(c->names[c->begins], sizeof(c->names[0]), "%s", msg->name ? msg->name : "");
	c->begins++;
	c->last = *msg;
	c->last.name = NULL;
	c->last.keywords = NULL;
	return 0;
}

static int c_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct collect *c = ctx;

	(void)err;
	cr_assert_eq(buf_append(&c->data, data, len), 0);
	return 0;
}

static int c_end(void *ctx, struct error *err)
{
	struct collect *c = ctx;

	(void)err;
	c->ends++;
	return 0;
}

static void fetch_into(struct store_folder *f, const char *name, bool headers, struct collect *c)
{
	struct store_sink sink = {c, c_begin, c_chunk, c_end};
	struct store_msg m = {0};
	struct error err;

	memset(c, 0, sizeof(*c));
	m.name = name;
	if (headers)
		cr_assert_eq(st->ops->fetch_headers(f, &m, 1, &sink, &err), 0, "%s", err.text);
	else
		cr_assert_eq(st->ops->fetch(f, &m, 1, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(c->begins, 1);
	cr_assert_eq(c->ends, 1);
}

static const char msg1[] = "From: a@example.com\r\n"
                           "Subject: one\r\n"
                           "Message-ID: <one@example.com>\r\n"
                           "\r\n"
                           "Hello,\r\n"
                           "\r\n"
                           "a line with a lone \r in it\r\n"
                           "last line without ending";
static const char msg1_lf[] = "From: a@example.com\n"
                              "Subject: one\n"
                              "Message-ID: <one@example.com>\n"
                              "\n"
                              "Hello,\n"
                              "\n"
                              "a line with a lone \r in it\n"
                              "last line without ending";

/* --- bytes ---------------------------------------------------------------- */

Test(store_maildir, added_file_is_lf_and_fetch_gives_the_crlf_original)
{
	struct store_folder *f = open_inbox();
	char *name = add_msg(f, msg1, 0, NULL, 0, NULL);
	char *path = find_file("", name), *disk;
	struct collect c;
	size_t len;

	cr_assert_not_null(path, "the message is on disk");
	cr_expect(strstr(path, "/new/"), "no flags: new/");
	disk = read_file(path, &len);
	cr_expect_eq(len, strlen(msg1_lf));
	cr_expect_str_eq(disk, msg1_lf);
	fetch_into(f, name, false, &c);
	cr_expect_eq(c.data.len, strlen(msg1));
	cr_expect_str_eq(buf_cstr(&c.data), msg1, "byte-identical round trip");
	cr_expect_eq(c.last.size, strlen(msg1), "begin announces the canonical size");
	cr_expect_str_eq(c.names[0], name);
	buf_free(&c.data);
	free(disk);
	free(path);
	free(name);
	st->ops->close_folder(f);
}

Test(store_maildir, crlf_files_of_other_programs_are_sent_unchanged)
{
	struct store_folder *f = open_inbox();
	const char *mixed = "Subject: mixed\r\n\nline one\r\nline two\n";
	char *path = xasprintf("%s/cur/1700000000.1_1.other:2,S", root);
	struct collect c;

	write_file(path, mixed);
	fetch_into(f, "1700000000.1_1.other", false, &c);
	cr_expect_str_eq(buf_cstr(&c.data), "Subject: mixed\r\n\r\nline one\r\nline two\r\n",
	                 "no CR CR LF, every LF with a CR");
	cr_expect_eq(c.last.size, c.data.len);
	cr_expect_eq(c.last.flags, MAIL_FLAG_SEEN, "begin reports the file's flags");
	buf_free(&c.data);
	free(path);
	st->ops->close_folder(f);
}

Test(store_maildir, fetch_headers_gives_the_header_block_and_the_full_size)
{
	struct store_folder *f = open_inbox();
	char *name = add_msg(f, msg1, 0, NULL, 0, NULL);
	const char *end = strstr(msg1, "\r\n\r\n") + 4;
	struct collect c;

	fetch_into(f, name, true, &c);
	cr_expect_eq(c.data.len, (size_t)(end - msg1));
	cr_expect_eq(memcmp(c.data.data, msg1, c.data.len), 0);
	cr_expect_eq(c.last.size, strlen(msg1));
	buf_free(&c.data);
	free(name);
	st->ops->close_folder(f);
}

Test(store_maildir, content_key_agrees_between_original_and_stored_file)
{
	struct store_folder *f = open_inbox();
	char *name = add_msg(f, msg1, MAIL_FLAG_SEEN, NULL, 0, NULL);
	struct content_key_builder b;
	struct collect c;
	char *k_orig, *k_stored;

	content_key_init(&b);
	content_key_feed(&b, msg1, strlen(msg1));
	k_orig = content_key_finish(&b, strlen(msg1));
	content_key_free(&b);

	fetch_into(f, name, true, &c);
	content_key_init(&b);
	content_key_feed(&b, c.data.data, c.data.len);
	k_stored = content_key_finish(&b, c.last.size);
	content_key_free(&b);

	cr_expect_str_eq(k_stored, k_orig);
	cr_expect(strstr(k_orig, "<one@example.com>"));
	free(k_orig);
	free(k_stored);
	buf_free(&c.data);
	free(name);
	st->ops->close_folder(f);
}

Test(store_maildir, add_refuses_a_message_of_another_size_and_goes_on)
{
	struct store_folder *f = open_inbox();
	struct mem_src s1 = {"Subject: a\r\n\r\nx\r\n", 17, 0, 0}, s2 = {"Subject: b\r\n\r\ny\r\n", 17, 0, 0};
	struct store_new_msg m[2] = {
	    {0, NULL, 0, 0, 99, &s1, mem_read, NULL, 0, NULL},
	    {0, NULL, 0, 0, 17, &s2, mem_read, NULL, 0, NULL},
	};
	struct store_snapshot snap;
	struct error err, errs[2];

	cr_assert_eq(st->ops->add(f, m, 2, errs, &err), 0, "a message failing is not the folder failing");
	cr_expect_eq(errs[0].scope, ERR_MESSAGE);
	cr_expect(strstr(errs[0].text, "99"), "%s", errs[0].text);
	cr_expect_eq(errs[1].scope, ERR_NONE);
	cr_expect_not_null(m[1].name_r);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_expect_eq(snap.count, 1);
	cr_expect_str_eq(snap.msgs[0].name, m[1].name_r);
	store_snapshot_free(&snap);
	free(m[0].name_r);
	free(m[1].name_r);
	st->ops->close_folder(f);
}

static long long failing_read(void *ctx, void *data, size_t len, struct error *err)
{
	(void)ctx;
	(void)data;
	(void)len;
	return error_set(err, ERR_ACCOUNT, "the connection to the server was lost");
}

Test(store_maildir, a_lost_source_stops_the_batch)
{
	struct store_folder *f = open_inbox();
	struct mem_src s2 = {"S: b\r\n\r\n", 8, 0, 0};
	struct store_new_msg m[2] = {
	    {0, NULL, 0, 0, 10, NULL, failing_read, NULL, 0, NULL},
	    {0, NULL, 0, 0, 8, &s2, mem_read, NULL, 0, NULL},
	};
	struct store_snapshot snap;
	struct error err, errs[2];

	cr_assert_eq(st->ops->add(f, m, 2, errs, &err), -1);
	cr_expect_eq(err.scope, ERR_ACCOUNT, "%s", err.text);
	cr_expect(strstr(err.text, "connection"), "%s", err.text);
	cr_expect_eq(errs[1].scope, ERR_MESSAGE, "the rest is marked as not added");
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_expect_eq(snap.count, 0, "nothing half-written is visible");
	store_snapshot_free(&snap);
	free(m[0].name_r);
	free(m[1].name_r);
	st->ops->close_folder(f);
}

/* --- names and flags ------------------------------------------------------ */

Test(store_maildir, reserved_name_is_the_final_name)
{
	struct store_folder *f = open_inbox();
	char *reserved, *name, *path;
	struct store_snapshot snap;
	struct error err;

	cr_assert(st->ops->caps & STORE_CAP_NAME_AHEAD);
	cr_assert_eq(st->ops->key, STORE_KEY_NAME);
	reserved = st->ops->reserve_name(f, strlen(msg1));
	cr_assert_not_null(reserved);
	cr_expect_null(strstr(reserved, ",S="), "no size in the name: the file is not canonical");
	name = add_msg(f, msg1, 0, NULL, 0, reserved);
	cr_expect_eq(name, reserved, "the reserved name is kept");
	path = find_file("", reserved);
	cr_expect_not_null(path);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_expect_eq(snap.count, 1);
	cr_expect_str_eq(snap.msgs[0].name, reserved);
	store_snapshot_free(&snap);
	free(path);
	free(name);
	st->ops->close_folder(f);
}

Test(store_maildir, flags_round_trip)
{
	struct store_folder *f = open_inbox();
	char *name = add_msg(f, msg1, MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED, "$Forwarded $Junk", 0, NULL);
	char *path = find_file("", name), *kwfile, *text;
	struct store_snapshot snap;
	struct store_msg m = {0};
	struct error err;

	cr_assert_not_null(path);
	cr_expect(strstr(path, "/cur/") && strcmp(strrchr(path, ':'), ":2,FPSa") == 0, "%s", path);
	kwfile = xasprintf("%s/dovecot-keywords", root);
	text = read_file(kwfile, NULL);
	cr_expect_str_eq(text, "0 $Junk\n", "$Junk got the first keyword letter");
	free(text);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 1);
	cr_expect_eq(snap.msgs[0].flags, MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED);
	cr_expect_str_eq(snap.msgs[0].keywords, "$Forwarded $Junk");
	store_snapshot_free(&snap);

	m.name = name;
	cr_assert_eq(st->ops->set_flags(f, &m, 1, MAIL_FLAG_ANSWERED | MAIL_FLAG_DRAFT | MAIL_FLAG_DELETED,
	                                NULL, MAIL_FLAG_SEEN, "$Forwarded", &err),
	             0, "%s", err.text);
	free(path);
	path = find_file("", name);
	cr_expect_str_eq(strrchr(path, ':'), ":2,DFRTa");
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_expect_eq(snap.msgs[0].flags,
	             MAIL_FLAG_ANSWERED | MAIL_FLAG_DRAFT | MAIL_FLAG_DELETED | MAIL_FLAG_FLAGGED);
	cr_expect_str_eq(snap.msgs[0].keywords, "$Junk");
	store_snapshot_free(&snap);

	cr_assert_eq(st->ops->set_flags(f, &m, 1, 0, NULL, 0, "$JUNK", &err), 0, "%s", err.text);
	free(path);
	path = find_file("", name);
	cr_expect_str_eq(strrchr(path, ':'), ":2,DFRT", "removed in any spelling");
	text = read_file(kwfile, NULL);
	cr_expect_str_eq(text, "0 $Junk\n", "the letter stays $Junk's, as in Dovecot");
	free(text);
	free(kwfile);
	free(path);
	free(name);
	st->ops->close_folder(f);
}

Test(store_maildir, unknown_letters_are_not_flags_but_stay_on_disk)
{
	struct store_folder *f = open_inbox();
	char *path = xasprintf("%s/cur/1700000000.2_1.other:2,Sab", root), *now;
	struct store_snapshot snap;
	struct store_msg m = {0};
	struct error err;

	write_file(path, "Subject: x\n\nbody\n");
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 1);
	cr_expect_eq(snap.msgs[0].flags, MAIL_FLAG_SEEN);
	cr_expect_null(snap.msgs[0].keywords);
	store_snapshot_free(&snap);
	m.name = "1700000000.2_1.other";
	cr_assert_eq(st->ops->set_flags(f, &m, 1, MAIL_FLAG_FLAGGED, NULL, 0, NULL, &err), 0, "%s", err.text);
	now = find_file("", m.name);
	cr_expect_str_eq(strrchr(now, ':'), ":2,FSab");
	free(now);
	free(path);
	st->ops->close_folder(f);
}

Test(store_maildir, dovecot_virtual_size_is_the_snapshot_size)
{
	struct store_folder *f = open_inbox();
	char *p1 = xasprintf("%s/cur/1700000000.M1P1.host,S=17,W=20:2,S", root);
	char *p2 = xasprintf("%s/new/1700000000.M2P1.host", root);
	struct store_snapshot snap;
	struct error err;

	write_file(p1, "Subject: x\n\nbody\n");
	write_file(p2, "Subject: y\n\nbody\n");
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 2);
	cr_expect_str_eq(snap.msgs[0].name, "1700000000.M1P1.host,S=17,W=20", "sorted by name");
	cr_expect_eq(snap.msgs[0].size, 20);
	cr_expect_eq(snap.msgs[1].size, 0, "not known without reading the file");
	store_snapshot_free(&snap);
	free(p1);
	free(p2);
	st->ops->close_folder(f);
}

Test(store_maildir, date_becomes_the_mtime)
{
	struct store_folder *f = open_inbox();
	char *name = add_msg(f, msg1, 0, NULL, 1600000000, NULL);
	char *path = find_file("", name);
	struct collect c;
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_mtime, 1600000000);
	fetch_into(f, name, false, &c);
	cr_expect_eq(c.last.date, 1600000000);
	buf_free(&c.data);
	free(path);
	free(name);
	st->ops->close_folder(f);
}

/* --- deletion, gone messages, missing folders ----------------------------- */

Test(store_maildir, delete_removes_and_is_idempotent)
{
	struct store_folder *f = open_inbox();
	char *a = add_msg(f, msg1, 0, NULL, 0, NULL), *b = add_msg(f, msg1, MAIL_FLAG_SEEN, NULL, 0, NULL);
	struct store_msg m = {0};
	struct store_snapshot snap;
	struct error err;
	char *pa;

	m.name = a;
	cr_assert_eq(st->ops->delete (f, &m, 1, &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	pa = find_file("", a);
	cr_expect_null(pa);
	cr_expect_eq(st->ops->delete (f, &m, 1, &err), 0, "already gone is not an error");
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_expect_eq(snap.count, 1);
	cr_expect_str_eq(snap.msgs[0].name, b);
	store_snapshot_free(&snap);
	free(a);
	free(b);
	st->ops->close_folder(f);
}

Test(store_maildir, messages_gone_meanwhile_are_skipped)
{
	struct store_folder *f = open_inbox();
	char *a = add_msg(f, msg1, 0, NULL, 0, NULL), *b = add_msg(f, msg1, 0, NULL, 0, NULL);
	char *pa = find_file("", a);
	struct store_msg m[2] = {{0}, {0}};
	struct collect c = {0};
	struct store_sink sink = {&c, c_begin, c_chunk, c_end};
	struct error err;

	cr_assert_eq(unlink(pa), 0); /* a mail reader deleted it */
	m[0].name = a;
	m[1].name = b;
	cr_assert_eq(st->ops->fetch(f, m, 2, &sink, &err), 0, "%s", err.text);
	cr_expect_eq(c.begins, 1, "no begin for the gone message");
	cr_expect_str_eq(c.names[0], b);
	cr_expect_eq(st->ops->set_flags(f, m, 1, MAIL_FLAG_SEEN, NULL, 0, NULL, &err), 0, "%s", err.text);
	buf_free(&c.data);
	free(pa);
	free(a);
	free(b);
	st->ops->close_folder(f);
}

Test(store_maildir, missing_folder_is_not_an_empty_folder)
{
	struct store_folder_info info;
	struct store_snapshot snap;
	struct store_folder *f = NULL;
	struct error err;
	bool missing = false;

	cr_assert_eq(st->ops->create_folder(st, "INBOX", &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->open_folder(st, "Nope", &f, &info, &missing, &err), -1);
	cr_expect_null(f);
	cr_expect(missing);
	cr_expect_eq(err.scope, ERR_MAILBOX);

	cr_assert_eq(st->ops->create_folder(st, "Empty", &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->open_folder(st, "Empty", &f, &info, &missing, &err), 0, "%s", err.text);
	cr_expect_not(missing);
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_expect_eq(snap.count, 0);
	store_snapshot_free(&snap);
	st->ops->close_folder(f);
}

Test(store_maildir, missing_root_is_an_account_error)
{
	struct store_folder_info info;
	struct store_folder *f = NULL;
	struct error err;
	bool missing = true;
	char **names = NULL;

	cr_assert_eq(st->ops->open_folder(st, "INBOX", &f, &info, &missing, &err), -1);
	cr_expect_not(missing, "not a missing folder: every folder would be");
	cr_expect_eq(err.scope, ERR_ACCOUNT, "%s", err.text);
	cr_expect(strstr(err.text, root), "%s", err.text);
	cr_assert_eq(st->ops->list_folders(st, &names, &err), -1);
	cr_expect_null(names);
	cr_expect_eq(err.scope, ERR_ACCOUNT);
	cr_expect(strstr(err.text, "does not exist"), "%s", err.text);
}

Test(store_maildir, relative_root_is_refused)
{
	struct error err;

	cr_expect_null(maildir_store_open("Mail", MAILDIR_LAYOUT_MAILDIRPP, &err));
	cr_expect_eq(err.scope, ERR_ACCOUNT);
}

Test(store_maildir, open_reports_directory_times)
{
	struct store_folder *f = open_inbox();
	struct store_folder_info info;
	struct store_folder *g;
	struct error err;
	bool missing;
	struct stat sn, sc;
	char *pn = xasprintf("%s/new", root), *pc = xasprintf("%s/cur", root);

	cr_assert_eq(st->ops->open_folder(st, "INBOX", &g, &info, &missing, &err), 0, "%s", err.text);
	cr_assert_eq(stat(pn, &sn), 0);
	cr_assert_eq(stat(pc, &sc), 0);
	cr_expect_eq(info.marks[0].tv_sec, sn.st_mtim.tv_sec);
	cr_expect_eq(info.marks[0].tv_nsec, sn.st_mtim.tv_nsec);
	cr_expect_eq(info.marks[1].tv_nsec, sc.st_mtim.tv_nsec);
	cr_expect_not(info.marks_settled, "just created: not settled yet");
	st->ops->close_folder(g);
	st->ops->close_folder(f);
	free(pn);
	free(pc);
}

/* --- folders in both layouts ---------------------------------------------- */

static void check_folders(const char *const *want_paths)
{
	static const char *names[] = {"Archive", "INBOX", "Work/Projects"};
	struct error err;
	char **list;
	size_t n;

	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(st->ops->create_folder(st, names[i], &err), 0, "%s", err.text);
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s/cur", root, want_paths[i]);
		struct stat sb;

		cr_expect_eq(stat(p, &sb), 0, "%s exists", p);
		free(p);
	}
	cr_assert_eq(st->ops->list_folders(st, &list, &err), 0, "%s", err.text);
	for (n = 0; list[n]; n++)
		;
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < 3; i++)
		cr_expect_str_eq(list[i], names[i]);
	store_names_free(list);
}

Test(store_maildir, folders_in_maildirpp)
{
	static const char *paths[] = {".Archive", ".", ".Work.Projects"};

	check_folders(paths);
}

/* Runs after the suite's setup: the same directory, the other layout. */
static void setup_nested(void)
{
	struct error err;

	st->ops->close(st);
	st = maildir_store_open(root, MAILDIR_LAYOUT_NESTED, &err);
	cr_assert_not_null(st, "%s", err.text);
}

Test(store_maildir, folders_in_nested, .init = setup_nested)
{
	static const char *paths[] = {"Archive", "INBOX", "Work/Projects"};

	check_folders(paths);
}

/* --- a big message, flat memory ------------------------------------------- */

#define BIG_LINES 400000 /* lines of 78 bytes + CRLF: about 32 MB */

/* A 30 MB message made up as it is read, so only the store's memory
 * shows. */
struct gen {
	char line[96];
	size_t line_len, line_pos;
	size_t index; /* line being produced; 0 is the header block */
	uint64_t produced;
};

static const char big_header[] = "Subject: big\r\nMessage-ID: <big@example.com>\r\n\r\n";

static void gen_line(struct gen *g)
{
	if (g->index == 0) {
		strcpy(g->line, big_header);
		g->line_len = strlen(big_header);
	} else {
		g->line_len = (size_t)snprintf(g->line, sizeof(g->line), "%078zu\r\n", g->index * 7919);
	}
	g->line_pos = 0;
}

static long long gen_read(void *ctx, void *data, size_t len, struct error *err)
{
	struct gen *g = ctx;
	char *out = data;
	size_t o = 0;

	(void)err;
	while (o < len && g->index <= BIG_LINES) {
		size_t n = g->line_len - g->line_pos;

		if (n > len - o)
			n = len - o;
		memcpy(out + o, g->line + g->line_pos, n);
		o += n;
		g->line_pos += n;
		if (g->line_pos == g->line_len) {
			g->index++;
			if (g->index <= BIG_LINES)
				gen_line(g);
		}
	}
	g->produced += o;
	return (long long)o;
}

static uint64_t big_size(void)
{
	return strlen(big_header) + (uint64_t)BIG_LINES * 80;
}

/* A sink comparing what it gets with a second generator. */
struct verify {
	struct gen expect;
	uint64_t got, size;
	int mismatch;
};

static int v_begin(void *ctx, const struct store_msg *msg, struct error *err)
{
	struct verify *v = ctx;

	(void)err;
	v->size = msg->size;
	return 0;
}

static int v_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct verify *v = ctx;
	char want[4096];

	(void)err;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < sizeof(want) ? len - off : sizeof(want);
		long long r = gen_read(&v->expect, want, n, NULL);

		if ((size_t)r != n || memcmp(want, (const char *)data + off, n) != 0)
			v->mismatch = 1;
		off += n;
	}
	v->got += len;
	return 0;
}

static int v_end(void *ctx, struct error *err)
{
	(void)ctx;
	(void)err;
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

Test(store_maildir, big_message_with_flat_memory)
{
	struct store_folder *f = open_inbox();
	struct gen src = {0};
	struct store_new_msg m = {0, NULL, 0, 0, big_size(), &src, gen_read, NULL, 0, NULL};
	struct verify v = {0};
	struct store_sink sink = {&v, v_begin, v_chunk, v_end};
	struct store_msg want = {0};
	struct error err, errs[1];
	long before, after;
	char *path;
	struct stat sb;

	gen_line(&src);
	gen_line(&v.expect);
	before = vm_hwm_kb();
	cr_assert_eq(st->ops->add(f, &m, 1, errs, &err), 0, "%s", err.text);
	cr_assert_eq(errs[0].scope, ERR_NONE, "%s", errs[0].text);
	cr_expect_eq(src.produced, big_size());
	path = find_file("", m.name_r);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq((uint64_t)sb.st_size, big_size() - (BIG_LINES + 3), "one CR fewer per line");
	want.name = m.name_r;
	cr_assert_eq(st->ops->fetch(f, &want, 1, &sink, &err), 0, "%s", err.text);
	after = vm_hwm_kb();
	cr_expect_eq(v.size, big_size());
	cr_expect_eq(v.got, big_size());
	cr_expect_not(v.mismatch, "fetched bytes equal the original");
	cr_expect_lt(after - before, 8 * 1024, "peak memory grew by %ld kB", after - before);
	free(path);
	free(m.name_r);
	st->ops->close_folder(f);
}

/* Keywords a Maildir client wrote the way Dovecot does (a line in
 * dovecot-keywords, the letter in the file name) are read; a letter
 * without a line is no keyword and stays on disk. */
Test(store_maildir, keyword_letters_are_read_through_dovecot_keywords)
{
	struct store_folder *f = open_inbox();
	char *path = xasprintf("%s/cur/1700000000.3_1.other:2,Sac", root), *kwfile, *now;
	struct store_snapshot snap;
	struct store_keep keep;
	struct store_msg m = {0};
	struct error err;

	kwfile = xasprintf("%s/dovecot-keywords", root);
	write_file(kwfile, "0 Project-X\n1 $Label2\n");
	write_file(path, "Subject: x\n\nbody\n");
	cr_assert_eq(st->ops->snapshot(f, &snap, &err), 0, "%s", err.text);
	cr_assert_eq(snap.count, 1);
	cr_expect_str_eq(snap.msgs[0].keywords, "Project-X", "'c' has no line: no keyword");
	store_snapshot_free(&snap);
	st->ops->keeps(f, &keep);
	cr_expect(keep.limited);
	cr_expect_not(keep.new_keywords);
	cr_expect_str_eq(keep.keywords, "$Forwarded $Label2 Project-X");
	cr_expect_eq(keep.new_keywords_room, 24);
	cr_expect_not(keep.unreported, "a keyword that cannot be kept is reported");

	m.name = "1700000000.3_1.other";
	cr_assert_eq(st->ops->set_flags(f, &m, 1, 0, "$label2", 0, "project-x", &err), 0, "%s", err.text);
	now = find_file("", m.name);
	cr_expect_str_eq(strrchr(now, ':'), ":2,Sbc", "the letter without a line is left alone");
	free(now);
	free(path);
	free(kwfile);
	st->ops->close_folder(f);
}

/* Every letter taken: a 27th keyword cannot be written, and says so. */
Test(store_maildir, a_keyword_without_a_free_letter_fails_the_message)
{
	struct store_folder *f = open_inbox();
	char *kwfile = xasprintf("%s/dovecot-keywords", root), *name;
	struct store_new_msg m;
	struct mem_src src = {msg1, strlen(msg1), 0, 0};
	struct store_keep keep;
	struct error err, errs[1];
	struct buf b = BUF_INIT;

	for (int i = 0; i < 26; i++)
		buf_printf(&b, "%d K%02d\n", i, i);
	write_file(kwfile, b.data);
	st->ops->close_folder(f);
	f = open_inbox();
	st->ops->keeps(f, &keep);
	cr_expect_eq(keep.new_keywords_room, 0);
	cr_expect_not(store_keeps_keyword(&keep, "K26", 3));
	cr_expect(store_keeps_keyword(&keep, "k25", 3));

	m = (struct store_new_msg){0,    "K00 K26", 0,   STORE_ZONE_UNKNOWN, strlen(msg1), &src, mem_read,
	                           NULL, 0,         NULL};
	cr_assert_eq(st->ops->add(f, &m, 1, errs, &err), 0);
	cr_expect_eq(errs[0].scope, ERR_MESSAGE);
	cr_expect(strstr(errs[0].text, "K26") && strstr(errs[0].text, "26 keyword letters"), "%s",
	          errs[0].text);
	name = read_file(kwfile, NULL);
	cr_expect_str_eq(name, b.data, "the table is unchanged");
	free(name);
	buf_free(&b);
	free(m.name_r);
	free(kwfile);
	st->ops->close_folder(f);
}
