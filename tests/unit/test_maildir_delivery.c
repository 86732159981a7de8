/* Delivering messages: tmp/ -> new/ or cur/, complete or not at all. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_maildir.h"
#include "twinbox/maildir/delivery.h"
#include "twinbox/maildir/flags.h"
#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"
#include "twinbox/util/xmalloc.h"

static struct maildir *md;
static struct maildir_folder *f;

static void setup(void)
{
	char *root;
	struct error err;

	tm_setup();
	root = tm_path("mail");
	md = maildir_new(root, MAILDIR_LAYOUT_MAILDIRPP, '/');
	free(root);
	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_open(md, "INBOX", NULL, &f, &err), 0, "%s", err.text);
}

static void teardown(void)
{
	maildir_folder_close(f);
	maildir_free(md);
	tm_teardown();
}

TestSuite(maildir_delivery, .init = setup, .fini = teardown);

static const struct maildir_delivery_opts plain = {NULL, MAILDIR_SIZE_UNKNOWN, 0, 0, 0, 0, 0};

static struct maildir_delivery *begin(const struct maildir_delivery_opts *o)
{
	struct maildir_delivery *d;
	struct error err;

	cr_assert_eq(maildir_delivery_begin(f, o, &d, &err), 0, "%s", err.text);
	return d;
}

static void write_str(struct maildir_delivery *d, const char *s)
{
	struct error err;

	cr_assert_eq(maildir_delivery_write(d, s, strlen(s), &err), 0, "%s", err.text);
}

static void commit(struct maildir_delivery *d)
{
	struct error err;

	cr_assert_eq(maildir_delivery_commit(d, &err), 0, "%s", err.text);
}

Test(maildir_delivery, appears_in_new_only_when_complete)
{
	struct maildir_delivery *d = begin(&plain);
	char *id = xstrdup(maildir_delivery_id(d)), *rel, *body;
	struct maildir_msg m;
	struct stat st;
	size_t i;

	cr_expect_str_eq(maildir_delivery_name(d), id, "no flags: a plain name in new/");
	cr_expect_eq(maildir_delivery_subdir(d), MAILDIR_NEW);
	write_str(d, "Subject: one\n\n");
	cr_expect_eq(tm_count("mail/new") + tm_count("mail/cur"), 0, "nothing visible while writing");
	cr_expect_eq(tm_count("mail/tmp"), 1);
	write_str(d, "body\n");
	cr_expect_eq(tm_count("mail/new") + tm_count("mail/cur"), 0);
	commit(d);
	cr_expect_eq(tm_count("mail/tmp"), 0, "tmp/ is empty after the commit");
	rel = xasprintf("mail/new/%s", id);
	body = tm_read(rel);
	cr_expect_str_eq(body, "Subject: one\n\nbody\n");
	free(body);
	body = tm_path(rel);
	cr_assert_eq(lstat(body, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_assert(maildir_folder_find(f, id, &i), "the snapshot knows it");
	maildir_folder_msg(f, i, &m);
	cr_expect_eq(m.size, 19);
	cr_expect_eq(m.subdir, MAILDIR_NEW);
	free(body);
	free(rel);
	free(id);
}

Test(maildir_delivery, flags_put_it_in_cur)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	char *rel;

	o.flags = MAILDIR_FLAG_SEEN | MAILDIR_FLAG_FLAGGED;
	o.id = "1700000000.M1P2Q3.host";
	d = begin(&o);
	cr_expect_str_eq(maildir_delivery_name(d), "1700000000.M1P2Q3.host:2,FS");
	cr_expect_eq(maildir_delivery_subdir(d), MAILDIR_CUR);
	write_str(d, "x");
	commit(d);
	cr_expect(tm_exists("mail/cur/1700000000.M1P2Q3.host:2,FS"));

	o = plain;
	o.to_cur = 1;
	d = begin(&o);
	rel = xasprintf("mail/cur/%s:2,", maildir_delivery_id(d));
	commit(d);
	cr_expect(tm_exists(rel), "unseen, not new: cur/ with an empty info");
	free(rel);
}

Test(maildir_delivery, the_name_is_known_before_writing)
{
	struct maildir_delivery_opts o = plain;
	char *id = maildir_unique_id(4);
	struct maildir_delivery *d;
	struct error err;

	cr_expect(strstr(id, ",S=4"), "%s", id);
	o.id = id;
	o.flags = MAILDIR_FLAG_SEEN;
	d = begin(&o);
	cr_expect_str_eq(maildir_delivery_id(d), id);
	write_str(d, "abcd");
	commit(d);
	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0);
	cr_expect(maildir_folder_find(f, id, &(size_t){0}));
	free(id);
}

Test(maildir_delivery, abort_leaves_nothing)
{
	struct maildir_delivery *d = begin(&plain);

	write_str(d, "half a mess");
	maildir_delivery_abort(d);
	cr_expect_eq(tm_count("mail/tmp") + tm_count("mail/new") + tm_count("mail/cur"), 0);
	maildir_delivery_abort(NULL);
}

Test(maildir_delivery, never_overwrites_an_existing_file)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	struct error err;
	char *body;

	tm_write("mail/cur/taken:2,S", "the original");
	o.id = "taken";
	o.flags = MAILDIR_FLAG_SEEN;
	d = begin(&o); /* not scanned, so begin cannot know yet */
	write_str(d, "an impostor");
	cr_expect_eq(maildir_delivery_commit(d, &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect(strstr(err.text, "already exists"), "%s", err.text);
	body = tm_read("mail/cur/taken:2,S");
	cr_expect_str_eq(body, "the original");
	free(body);
	cr_expect_eq(tm_count("mail/tmp"), 0);
	/* once scanned, begin refuses the id at once */
	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0);
	cr_expect_eq(maildir_delivery_begin(f, &o, &d, &err), -1);
	cr_expect_null(d);
	cr_expect_eq(err.scope, ERR_MESSAGE);
}

Test(maildir_delivery, refuses_ids_it_must_not_write)
{
	static const char *bad[] = {"", ".hidden", "a/b", "../x", "a:2,S", "a\nb"};
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	struct error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.id = bad[i];
		cr_expect_eq(maildir_delivery_begin(f, &o, &d, &err), -1, "\"%s\"", bad[i]);
		cr_expect_null(d);
	}
	cr_expect_eq(tm_count("mail/tmp"), 0);
}

Test(maildir_delivery, a_promised_size_is_kept)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	struct error err;

	o.size = 5;
	d = begin(&o);
	cr_expect(strstr(maildir_delivery_id(d), ",S=5"), "%s", maildir_delivery_id(d));
	write_str(d, "abc");
	cr_expect_eq(maildir_delivery_write(d, "def", 3, &err), -1, "past the promised size");
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect_eq(maildir_delivery_commit(d, &err), -1);
	cr_expect_eq(tm_count("mail/tmp") + tm_count("mail/new"), 0);

	d = begin(&o);
	write_str(d, "abcd");
	cr_expect_eq(maildir_delivery_commit(d, &err), -1, "short of the promised size");
	cr_expect(strstr(err.text, "4 bytes"), "%s", err.text);
	cr_expect_eq(tm_count("mail/tmp") + tm_count("mail/new"), 0);

	/* an id naming another size than the caller announces */
	o.id = "x,S=9";
	cr_expect_eq(maildir_delivery_begin(f, &o, &d, &err), -1);
	/* an id with a size and no announcement: the id's size is the promise */
	o.id = "y,S=2";
	o.size = MAILDIR_SIZE_UNKNOWN;
	d = begin(&o);
	cr_expect_eq(maildir_delivery_write(d, "abc", 3, &err), -1);
	cr_expect_eq(maildir_delivery_commit(d, &err), -1);
	cr_expect_eq(tm_count("mail/tmp") + tm_count("mail/new"), 0);
}

Test(maildir_delivery, sets_the_internal_date_as_mtime)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	struct error err;
	time_t mtime;
	char *id;

	o.has_mtime = 1;
	o.mtime = 1234567890;
	d = begin(&o);
	id = xstrdup(maildir_delivery_id(d));
	write_str(d, "x");
	commit(d);
	cr_assert_eq(maildir_folder_stat(f, id, NULL, &mtime, &err), 0, "%s", err.text);
	cr_expect_eq(mtime, 1234567890);
	free(id);
}

Test(maildir_delivery, streams_a_large_message_in_chunks)
{
	enum { CHUNK = 65536, CHUNKS = 160 };
	struct maildir_delivery_opts o = plain;
	char *chunk = xmalloc(CHUNK);
	struct maildir_delivery *d;
	struct error err;
	uint64_t size;
	char *id;

	memset(chunk, 'm', CHUNK);
	o.size = (uint64_t)CHUNK * CHUNKS;
	o.defer_dir_sync = 1;
	d = begin(&o);
	id = xstrdup(maildir_delivery_id(d));
	for (int i = 0; i < CHUNKS; i++)
		cr_assert_eq(maildir_delivery_write(d, chunk, CHUNK, &err), 0, "%s", err.text);
	commit(d);
	cr_assert_eq(maildir_folder_sync(f, &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_stat(f, id, &size, NULL, &err), 0);
	cr_expect_eq(size, (uint64_t)CHUNK * CHUNKS);
	free(chunk);
	free(id);
}

Test(maildir_delivery, a_leftover_of_the_same_id_is_replaced)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	char *body;

	tm_write("mail/tmp/retry.M1P1Q1.host", "from the killed attempt, half");
	o.id = "retry.M1P1Q1.host";
	d = begin(&o);
	write_str(d, "complete");
	commit(d);
	body = tm_read("mail/new/retry.M1P1Q1.host");
	cr_expect_str_eq(body, "complete");
	free(body);
	cr_expect_eq(tm_count("mail/tmp"), 0);
}

Test(maildir_delivery, a_kill_midway_leaves_only_a_tmp_leftover)
{
	struct error err;
	size_t removed;
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct maildir_delivery *d;
		if (maildir_delivery_begin(f, &plain, &d, &err) < 0 ||
		    maildir_delivery_write(d, "Subject: cut\n", 13, &err) < 0)
			_exit(2);
		_exit(0); /* killed before commit */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_expect_eq(tm_count("mail/new") + tm_count("mail/cur"), 0, "no partial message is visible");
	cr_expect_eq(tm_count("mail/tmp"), 1);
	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0);
	cr_expect_eq(maildir_folder_count(f), 0);
	cr_assert_eq(maildir_folder_clean_tmp(f, time(NULL) + MAILDIR_TMP_MAX_AGE + 1, &removed, &err), 0);
	cr_expect_eq(removed, 1);
	cr_expect_eq(tm_count("mail/tmp"), 0);
}

Test(maildir_delivery, refuses_a_folder_removed_meanwhile)
{
	struct maildir_delivery *d = begin(&plain);
	char *cmd = xasprintf("rm -rf '%s/mail/new' '%s/mail/cur'", tm_dir, tm_dir);
	struct error err;

	write_str(d, "x");
	cr_assert_eq(system(cmd), 0);
	cr_expect_eq(maildir_delivery_commit(d, &err), -1, "the message would vanish with the directory");
	cr_expect_eq(err.scope, ERR_MAILBOX);
	cr_expect_eq(tm_count("mail/tmp"), 0);
	cr_expect_eq(maildir_delivery_begin(f, &plain, &d, &err), -1);
	free(cmd);
}

/* A group made durable together (one sync of the file system): every
 * message lands complete in new/, and one that cannot be linked fails
 * alone, naming itself, with nothing overwritten. */
Test(maildir_delivery, a_group_is_made_durable_together_and_fails_one_by_one)
{
	struct maildir_delivery *ds[4];
	int rcs[4];
	struct error errs[4], err;
	char *ids[4];
	char *body;

	tm_write("mail/new/taken", "the original");
	for (size_t i = 0; i < 4; i++) {
		struct maildir_delivery_opts o = plain;
		char *text = xasprintf("Subject: %zu\n\nbody %zu\n", i, i);

		o.id = i == 2 ? "taken" : NULL;
		ds[i] = begin(&o);
		ids[i] = xstrdup(maildir_delivery_id(ds[i]));
		write_str(ds[i], text);
		cr_assert_eq(maildir_delivery_seal(ds[i], &err), 0, "%s", err.text);
		free(text);
	}
	maildir_delivery_persist_group(ds, 4, rcs, errs);
	for (size_t i = 0; i < 4; i++) {
		if (i == 2) {
			cr_expect_eq(rcs[i], -1);
			cr_expect_eq(errs[i].scope, ERR_MESSAGE);
			cr_expect(strstr(errs[i].text, "taken") && strstr(errs[i].text, "already exists"),
			          "%s", errs[i].text);
			maildir_delivery_abort(ds[i]);
			continue;
		}
		cr_assert_eq(rcs[i], 0, "%s", errs[i].text);
		maildir_delivery_finish(ds[i]);
		char *rel = xasprintf("mail/new/%s", ids[i]);
		char *want = xasprintf("Subject: %zu\n\nbody %zu\n", i, i);
		body = tm_read(rel);
		cr_expect_str_eq(body, want);
		free(body);
		free(want);
		free(rel);
	}
	body = tm_read("mail/new/taken");
	cr_expect_str_eq(body, "the original");
	free(body);
	cr_expect_eq(tm_count("mail/tmp"), 0);
	cr_expect_eq(tm_count("mail/new"), 4);
	for (size_t i = 0; i < 4; i++)
		free(ids[i]);
}
