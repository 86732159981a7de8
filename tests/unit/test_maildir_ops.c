/* Operations on messages: flag changes, deletion, reading. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_maildir.h"
#include "twinbox/maildir/flags.h"
#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"

static struct maildir *md;
static struct maildir_folder *f;

static void setup(void)
{
	tm_box_open(&md, &f);
}

static void teardown(void)
{
	tm_box_close(md, f);
}

TestSuite(maildir_ops, .init = setup, .fini = teardown);

#define F(s) maildir_flags_parse(s, strlen(s))

static void scan(void)
{
	struct error err;

	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0, "%s", err.text);
}

static void set_flags(const char *id, const char *add, const char *remove, const char *expect)
{
	struct error err;
	uint64_t result;
	char out[MAILDIR_FLAGS_MAX + 1];

	cr_assert_eq(maildir_folder_set_flags(f, id, F(add), F(remove), &result, &err), 0, "%s", err.text);
	maildir_flags_format(result, out);
	cr_expect_str_eq(out, expect);
}

static void external_rename(const char *from, const char *to)
{
	char *a = tm_path(from), *b = tm_path(to);

	cr_assert_eq(rename(a, b), 0, "%s -> %s", a, b);
	free(a);
	free(b);
}

Test(maildir_ops, flags_change_by_renaming_within_cur)
{
	char *body;

	tm_write("mail/Box/cur/m1:2,S", "body");
	scan();
	set_flags("m1", "F", "", "FS");
	cr_expect_not(tm_exists("mail/Box/cur/m1:2,S"));
	body = tm_read("mail/Box/cur/m1:2,FS");
	cr_expect_str_eq(body, "body");
	free(body);
	set_flags("m1", "R", "S", "FR");
	cr_expect(tm_exists("mail/Box/cur/m1:2,FR"));
	set_flags("m1", "S", "S", "FR"); /* remove wins over add */
	set_flags("m1", "", "FR", "");
	cr_expect(tm_exists("mail/Box/cur/m1:2,"));
	cr_expect_eq(tm_count("mail/Box/cur"), 1);
}

Test(maildir_ops, flags_move_new_messages_to_cur)
{
	struct maildir_msg m;
	size_t i;

	tm_write("mail/Box/new/m2", "body");
	scan();
	set_flags("m2", "", "S", ""); /* nothing changes: it stays new */
	cr_expect(tm_exists("mail/Box/new/m2"));
	set_flags("m2", "S", "", "S");
	cr_expect_not(tm_exists("mail/Box/new/m2"));
	cr_expect(tm_exists("mail/Box/cur/m2:2,S"));
	cr_assert(maildir_folder_find(f, "m2", &i));
	maildir_folder_msg(f, i, &m);
	cr_expect_eq(m.subdir, MAILDIR_CUR);
	cr_expect_eq(m.flags, MAILDIR_FLAG_SEEN);
}

Test(maildir_ops, unknown_letters_and_characters_survive)
{
	tm_write("mail/Box/cur/m3:2,Sab", "x");
	tm_write("mail/Box/cur/m4:2,1QS", "x");
	scan();
	set_flags("m3", "F", "", "FSab");
	cr_expect(tm_exists("mail/Box/cur/m3:2,FSab"));
	set_flags("m4", "R", "S", "QR");
	cr_expect(tm_exists("mail/Box/cur/m4:2,1QR"));
}

Test(maildir_ops, a_file_renamed_meanwhile_is_found_again)
{
	tm_write("mail/Box/cur/m5:2,S", "x");
	scan();
	/* mutt marks it replied after our scan */
	external_rename("mail/Box/cur/m5:2,S", "mail/Box/cur/m5:2,RS");
	set_flags("m5", "F", "", "FRS"); /* their change is kept */
	cr_expect(tm_exists("mail/Box/cur/m5:2,FRS"));
	cr_expect_eq(tm_count("mail/Box/cur"), 1);
	/* moved from new/ to cur/ meanwhile */
	tm_write("mail/Box/new/m6", "x");
	scan();
	external_rename("mail/Box/new/m6", "mail/Box/cur/m6:2,");
	set_flags("m6", "S", "", "S");
	cr_expect(tm_exists("mail/Box/cur/m6:2,S"));
}

Test(maildir_ops, a_file_removed_meanwhile_is_a_message_error)
{
	struct error err;
	char *p;

	tm_write("mail/Box/cur/m7:2,S", "x");
	scan();
	p = tm_path("mail/Box/cur/m7:2,S");
	cr_assert_eq(unlink(p), 0);
	free(p);
	cr_expect_eq(maildir_folder_set_flags(f, "m7", MAILDIR_FLAG_FLAGGED, 0, NULL, &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect(strstr(err.text, "m7"), "%s", err.text);
	cr_expect_eq(maildir_folder_set_flags(f, "never-was", MAILDIR_FLAG_FLAGGED, 0, NULL, &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect(strstr(err.text, "no message"), "%s", err.text);
}

Test(maildir_ops, a_flag_change_never_overwrites)
{
	struct error err;
	char *body;

	tm_write("mail/Box/cur/m8:2,S", "mine");
	scan();
	tm_write("mail/Box/cur/m8:2,FS", "another file with the same id");
	cr_expect_eq(maildir_folder_set_flags(f, "m8", MAILDIR_FLAG_FLAGGED, 0, NULL, &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect(strstr(err.text, "not overwriting"), "%s", err.text);
	body = tm_read("mail/Box/cur/m8:2,FS");
	cr_expect_str_eq(body, "another file with the same id");
	free(body);
	body = tm_read("mail/Box/cur/m8:2,S");
	cr_expect_str_eq(body, "mine");
	free(body);
}

Test(maildir_ops, operations_work_without_a_scan)
{
	struct error err;
	uint64_t size;

	tm_write("mail/Box/cur/m9:2,S", "12345");
	set_flags("m9", "F", "", "FS");
	cr_assert_eq(maildir_folder_stat(f, "m9", &size, NULL, &err), 0, "%s", err.text);
	cr_expect_eq(size, 5);
	cr_assert_eq(maildir_folder_delete(f, "m9", &err), 0, "%s", err.text);
	cr_expect_eq(tm_count("mail/Box/cur"), 0);
}

Test(maildir_ops, delete_a_batch_then_make_it_durable)
{
	struct maildir_msg m;
	struct error err;
	size_t i;

	tm_write("mail/Box/cur/d1:2,S", "x");
	tm_write("mail/Box/cur/d2:2,S", "x");
	tm_write("mail/Box/new/d3", "x");
	tm_write("mail/Box/cur/keep:2,S", "x");
	scan();
	cr_assert(maildir_folder_find(f, "d1", &i));
	for (int k = 1; k <= 3; k++) {
		char id[16];
		snprintf(id, sizeof(id), "d%d", k);
		cr_assert_eq(maildir_folder_delete(f, id, &err), 0, "%s", err.text);
	}
	cr_assert_eq(maildir_folder_sync(f, &err), 0, "%s", err.text);
	cr_expect_eq(tm_count("mail/Box/cur"), 1);
	cr_expect_eq(tm_count("mail/Box/new"), 0);
	maildir_folder_msg(f, i, &m);
	cr_expect(m.gone);
	cr_expect_not(maildir_folder_find(f, "d1", &i));
	cr_expect_eq(maildir_folder_count(f), 4, "entries stay until the next scan");
	/* deleting again (a retry after a crash): already gone counts as done */
	cr_expect_eq(maildir_folder_delete(f, "d1", &err), 0, "%s", err.text);
	cr_expect_eq(maildir_folder_delete(f, "never-was", &err), 0, "%s", err.text);
	cr_expect_eq(tm_count("mail/Box/cur"), 1);
}

Test(maildir_ops, delete_follows_moves_but_not_flag_changes)
{
	struct error err;
	char *p;

	tm_write("mail/Box/new/n1", "x");
	tm_write("mail/Box/cur/c1:2,S", "x");
	tm_write("mail/Box/cur/g1:2,S", "x");
	scan();
	/* mutt opened the folder: new/ -> cur/, flags unchanged */
	external_rename("mail/Box/new/n1", "mail/Box/cur/n1:2,");
	cr_assert_eq(maildir_folder_delete(f, "n1", &err), 0, "%s", err.text);
	cr_expect_not(tm_exists("mail/Box/cur/n1:2,"));
	/* the user flagged it after our scan: the flag must be synced, not lost */
	external_rename("mail/Box/cur/c1:2,S", "mail/Box/cur/c1:2,FS");
	cr_expect_eq(maildir_folder_delete(f, "c1", &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect(tm_exists("mail/Box/cur/c1:2,FS"));
	/* someone else deleted it already */
	p = tm_path("mail/Box/cur/g1:2,S");
	cr_assert_eq(unlink(p), 0);
	free(p);
	cr_expect_eq(maildir_folder_delete(f, "g1", &err), 0, "%s", err.text);
}

Test(maildir_ops, open_reads_the_message_and_follows_renames)
{
	struct error err;
	char buf[64];
	uint64_t size;
	time_t mtime;
	ssize_t n;
	int fd;

	tm_write("mail/Box/new/r1", "Subject: hi\n\nbody\n");
	scan();
	external_rename("mail/Box/new/r1", "mail/Box/cur/r1:2,S");
	cr_assert_eq(maildir_folder_open_msg(f, "r1", &fd, &size, &mtime, &err), 0, "%s", err.text);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	cr_assert_eq(n, 18);
	cr_expect_eq(size, 18);
	cr_expect_gt(mtime, 0);
	cr_expect_eq(memcmp(buf, "Subject: hi\n\nbody\n", 18), 0);
	cr_expect_eq(maildir_folder_open_msg(f, "missing", &fd, NULL, NULL, &err), -1);
	cr_expect_eq(fd, -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
}

Test(maildir_ops, locate_confirms_a_disappearance)
{
	struct error err;
	char *p;

	tm_write("mail/Box/cur/l1:2,S", "x");
	scan();
	external_rename("mail/Box/cur/l1:2,S", "mail/Box/cur/l1:2,T");
	cr_expect_eq(maildir_folder_locate(f, "l1", &err), 1);
	p = tm_path("mail/Box/cur/l1:2,T");
	cr_assert_eq(unlink(p), 0);
	free(p);
	cr_expect_eq(maildir_folder_locate(f, "l1", &err), 0);
	cr_expect_eq(maildir_folder_locate(f, "../etc", &err), 0);
	cr_expect_eq(maildir_folder_locate(f, "", &err), 0);
}
