/* Finding messages by id without a scan (maildir_folder_adopt): where a
 * sync leaves them, else by reading the directories; the rest of the
 * folder stays out of the index. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

TestSuite(maildir_adopt, .init = setup, .fini = teardown);

#define F(s) maildir_flags_parse(s, strlen(s))

/* Adopt `id` with the hint `hint`: its entry's flags, as letters. */
static void adopt(const char *id, const char *hint, const char *expect)
{
	struct error err;
	struct maildir_msg m;
	char out[MAILDIR_FLAGS_MAX + 1];
	size_t i;

	cr_assert_eq(maildir_folder_adopt(f, id, F(hint), &i, &err), 1, "%s", id);
	maildir_folder_msg(f, i, &m);
	cr_assert_str_eq(m.id, id);
	maildir_flags_format(m.flags, out);
	cr_assert_str_eq(out, expect, "%s: %s", id, out);
}

Test(maildir_adopt, finds_messages_by_id_without_a_scan)
{
	struct error err;
	size_t i;

	tm_write("mail/Box/cur/a:2,FS", "a");
	tm_write("mail/Box/new/b", "b");
	tm_write("mail/Box/cur/c:2,RS", "c"); /* flags changed since the hint */
	tm_write("mail/Box/cur/other:2,S", "not asked for");

	adopt("a", "FS", "FS");
	adopt("b", "", "");
	adopt("c", "S", "RS");
	adopt("a", "", "FS"); /* already in the index */
	cr_assert_eq(maildir_folder_adopt(f, "missing", 0, &i, &err), 0);
	cr_assert_eq(maildir_folder_count(f), 3, "only what was asked for is in the index");
	cr_assert_not(maildir_folder_find(f, "other", &i));

	/* Operations by id work on what was adopted. */
	cr_assert_eq(maildir_folder_set_flags(f, "b", F("F"), 0, NULL, &err), 0, "%s", err.text);
	cr_assert(tm_exists("mail/Box/cur/b:2,F"));
	cr_assert_eq(maildir_folder_delete(f, "a", &err), 0, "%s", err.text);
	cr_assert_not(tm_exists("mail/Box/cur/a:2,FS"));
	cr_assert(tm_exists("mail/Box/cur/other:2,S"));
}

Test(maildir_adopt, counts_message_files_without_an_index)
{
	struct error err;
	size_t n;

	tm_write("mail/Box/cur/a:2,S", "a");
	tm_write("mail/Box/new/b", "b");
	tm_write("mail/Box/new/.hidden", "not a message");
	tm_mkdir("mail/Box/cur/subdir");
	cr_assert_eq(maildir_folder_count_files(f, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 2);
	cr_assert_eq(maildir_folder_count(f), 0, "nothing entered in the index");
}
