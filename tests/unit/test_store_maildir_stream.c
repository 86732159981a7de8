/* The maildir store's writer (download sink) and source (upload). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/store/maildir_store.h"
#include "twinbox/store/store.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

static char dir[64];
static struct store *st;
static struct store_folder *f;

static void setup(void)
{
	struct store_folder_info info;
	struct error err;
	char *root;
	bool missing;

	strcpy(dir, "/tmp/twinbox-mstream-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	root = xasprintf("%s/mail", dir);
	st = maildir_store_open(root, MAILDIR_LAYOUT_MAILDIRPP, &err);
	free(root);
	cr_assert_not_null(st, "%s", err.text);
	cr_assert_eq(st->ops->create_folder(st, "INBOX", &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->open_folder(st, "INBOX", &f, &info, &missing, &err), 0, "%s", err.text);
}

static void teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	st->ops->close_folder(f);
	st->ops->close(st);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

TestSuite(store_maildir_stream, .init = setup, .fini = teardown);

static const char crlf_msg[] = "Message-ID: <a@b>\r\nSubject: hi\r\n\r\nline one\r\nline two\r\n";
static const char lf_msg[] = "Message-ID: <a@b>\nSubject: hi\n\nline one\nline two\n";

/* The one file in cur/ or new/, read whole. */
static char *only_file(const char *sub, char **name_r)
{
	char *path = xasprintf("%s/mail/%s", dir, sub);
	DIR *d = opendir(path);
	struct dirent *e;
	char *data = NULL, *file;
	size_t len;
	struct error err;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		cr_assert_null(data, "more than one file in %s", sub);
		file = xasprintf("%s/%s", path, e->d_name);
		cr_assert_eq(fs_read_file(file, 1 << 20, &data, &len, &err), 0);
		if (name_r)
			*name_r = xstrdup(e->d_name);
		free(file);
	}
	closedir(d);
	free(path);
	return data;
}

static void write_in_pieces(size_t piece, char **name_r)
{
	struct store_new_msg meta = {.flags = 0};
	struct error err;
	void *w;
	uint32_t uid;

	cr_assert_eq(st->ops->write_begin(f, &meta, &w, &err), 0, "%s", err.text);
	for (size_t i = 0; i < sizeof(crlf_msg) - 1; i += piece) {
		size_t n = sizeof(crlf_msg) - 1 - i < piece ? sizeof(crlf_msg) - 1 - i : piece;
		cr_assert_eq(st->ops->write_chunk(w, crlf_msg + i, n, &err), 0, "%s", err.text);
	}
	cr_assert_eq(st->ops->write_end(w, true, name_r, &uid, &err), 0, "%s", err.text);
	cr_assert_eq(uid, 0);
	/* The message is linked in by flush at the latest. */
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
}

Test(store_maildir_stream, writer_stores_lf_whatever_the_chunking)
{
	for (size_t piece = 1; piece <= 7; piece++) {
		char *name = NULL, *file_name = NULL, *data;
		write_in_pieces(piece, &name);
		cr_assert_not_null(name);
		data = only_file("new", &file_name);
		cr_assert_str_eq(data, lf_msg, "piece %zu", piece);
		cr_assert(strncmp(file_name, name, strlen(name)) == 0, "%s vs %s", file_name, name);
		free(data);
		free(file_name);
		cr_assert_eq(st->ops->delete (f, &(struct store_msg){.name = name}, 1, &(struct error){0}),
		             0);
		free(name);
	}
}

Test(store_maildir_stream, writer_uses_the_reserved_name_and_flags)
{
	struct store_new_msg meta = {.flags = 1 /* \Seen */};
	struct error err;
	char *name, *file_name, *data;
	void *w;

	meta.name_r = st->ops->reserve_name(f, 0);
	cr_assert_eq(st->ops->write_begin(f, &meta, &w, &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->write_chunk(w, crlf_msg, sizeof(crlf_msg) - 1, &err), 0);
	cr_assert_eq(st->ops->write_end(w, true, &name, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	cr_assert_str_eq(name, meta.name_r);
	data = only_file("cur", &file_name);
	cr_assert_str_eq(data, lf_msg);
	cr_assert(strstr(file_name, ":2,S"), "%s", file_name);
	free(data);
	free(file_name);
	free(name);
	free(meta.name_r);
}

Test(store_maildir_stream, writer_abort_leaves_nothing)
{
	struct store_new_msg meta = {0};
	struct error err;
	char *tmp = xasprintf("%s/mail/tmp", dir);
	void *w;
	DIR *d;
	struct dirent *e;

	cr_assert_eq(st->ops->write_begin(f, &meta, &w, &err), 0);
	cr_assert_eq(st->ops->write_chunk(w, crlf_msg, 10, &err), 0);
	cr_assert_eq(st->ops->write_end(w, false, NULL, NULL, &err), 0);
	d = opendir(tmp);
	while ((e = readdir(d)) != NULL)
		cr_assert(e->d_name[0] == '.', "left in tmp/: %s", e->d_name);
	closedir(d);
	free(tmp);
}

/* Downloads are linked in by a thread of their own; one that cannot be
 * (a file of its name appeared in new/ meanwhile) fails the flush,
 * which names it, overwrites nothing, and leaves no tmp/ file; the
 * messages queued with it are stored. */
Test(store_maildir_stream, a_download_that_cannot_be_linked_fails_the_flush)
{
	struct store_new_msg meta = {.flags = 0};
	struct error err;
	char *names[3], *clash = NULL, *data = NULL;
	size_t len;
	void *w;

	for (int i = 0; i < 3; i++) {
		meta.name_r = st->ops->reserve_name(f, 0);
		cr_assert_eq(st->ops->write_begin(f, &meta, &w, &err), 0, "%s", err.text);
		cr_assert_eq(st->ops->write_chunk(w, crlf_msg, sizeof(crlf_msg) - 1, &err), 0);
		if (i == 1) {
			/* Someone else's file, under the very name. */
			clash = xasprintf("%s/mail/new/%s", dir, meta.name_r);
			cr_assert_eq(fs_write_atomic(clash, "theirs\n", 7, 0600, &err), 0, "%s", err.text);
		}
		cr_assert_eq(st->ops->write_end(w, true, &names[i], NULL, &err), 0, "%s", err.text);
		free(meta.name_r);
	}
	cr_assert_eq(st->ops->flush(f, &err), -1);
	cr_assert_geq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, names[1]) && strstr(err.text, "already exists"), "%s", err.text);
	cr_assert_eq(fs_read_file(clash, 100, &data, &len, &err), 0);
	cr_assert_str_eq(data, "theirs\n");
	free(data);
	for (int i = 0; i < 3; i += 2) {
		char *p = xasprintf("%s/mail/new/%s", dir, names[i]);
		cr_assert_eq(fs_read_file(p, 1000, &data, &len, &err), 0, "%s", err.text);
		cr_assert_str_eq(data, lf_msg);
		free(data);
		free(p);
	}
	{
		char *tmp = xasprintf("%s/mail/tmp", dir);
		DIR *d = opendir(tmp);
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			cr_assert_eq(e->d_name[0], '.', "left in tmp/: %s", e->d_name);
		closedir(d);
		free(tmp);
	}
	/* A later flush has nothing left to report. */
	cr_assert_eq(st->ops->flush(f, &err), 0, "%s", err.text);
	for (int i = 0; i < 3; i++)
		free(names[i]);
	free(clash);
}

Test(store_maildir_stream, source_gives_crlf_with_exact_size)
{
	struct store_new_msg src;
	struct error err;
	struct buf got = BUF_INIT;
	char *name;
	char byte;
	long long n;

	write_in_pieces(4096, &name);
	cr_assert_eq(st->ops->open_source(f, &(struct store_msg){.name = name}, &src, &err), 0, "%s",
	             err.text);
	cr_assert_eq(src.size, sizeof(crlf_msg) - 1);
	while ((n = src.read(src.ctx, &byte, 1, &err)) > 0)
		buf_append(&got, &byte, 1);
	cr_assert_eq(n, 0);
	cr_assert_str_eq(buf_cstr(&got), crlf_msg);
	st->ops->close_source(&src);
	buf_free(&got);
	free(name);
}

Test(store_maildir_stream, source_of_a_missing_message_is_an_error)
{
	struct store_new_msg src;
	struct error err;

	error_clear(&err);
	cr_assert_eq(st->ops->open_source(f, &(struct store_msg){.name = "1.M1P1.nowhere"}, &src, &err), -1);
	cr_assert_neq(err.scope, ERR_NONE);
}
