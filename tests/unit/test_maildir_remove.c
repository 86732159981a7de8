/* Removing a Maildir folder (sync.remove_folders). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_maildir.h"
#include "twinbox/maildir/maildir.h"

TestSuite(maildir_remove, .init = tm_setup, .fini = tm_teardown);

static struct maildir *open_md(enum maildir_layout layout)
{
	char *root = tm_path("mail");
	struct maildir *md = maildir_new(root, layout, '/');

	free(root);
	return md;
}

Test(maildir_remove, removes_messages_and_directories_in_maildirpp)
{
	struct maildir *md = open_md(MAILDIR_LAYOUT_MAILDIRPP);
	struct error err;

	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_create(md, "Old", &err), 0, "%s", err.text);
	tm_write("mail/.Old/cur/1.M1P1.h:2,S", "a\n");
	tm_write("mail/.Old/new/2.M1P1.h", "b\n");
	tm_write("mail/.Old/dovecot.index", "x");
	cr_assert_eq(maildir_folder_remove(md, "Old", &err), 0, "%s", err.text);
	cr_assert_not(tm_exists("mail/.Old"));
	cr_assert(tm_exists("mail/cur"), "the root stays");
	maildir_free(md);
}

Test(maildir_remove, keeps_subfolders_in_nested_layout)
{
	struct maildir *md = open_md(MAILDIR_LAYOUT_NESTED);
	struct error err;

	cr_assert_eq(maildir_folder_create(md, "Work", &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_create(md, "Work/Projects", &err), 0, "%s", err.text);
	tm_write("mail/Work/cur/1.M1P1.h:2,", "a\n");
	tm_write("mail/Work/Projects/cur/2.M1P1.h:2,", "b\n");
	cr_assert_eq(maildir_folder_remove(md, "Work", &err), 0, "%s", err.text);
	cr_assert_not(tm_exists("mail/Work/cur"));
	cr_assert(tm_exists("mail/Work/Projects/cur/2.M1P1.h:2,"), "a sub-folder's mail must stay");
	maildir_free(md);
}

Test(maildir_remove, never_follows_links_and_refuses_the_root)
{
	struct maildir *md = open_md(MAILDIR_LAYOUT_MAILDIRPP);
	struct error err;
	char *target = tm_path("precious");
	char *link_path = tm_path("mail/.Old/cur/link");

	tm_write("precious", "keep me\n");
	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0);
	cr_assert_eq(maildir_folder_create(md, "Old", &err), 0);
	cr_assert_eq(symlink(target, link_path), 0);
	/* cur/ cannot be removed while the link is in it, and the file
	 * the link points to is untouched. */
	cr_assert_eq(maildir_folder_remove(md, "Old", &err), -1);
	cr_assert(tm_exists("precious"));
	cr_assert_eq(maildir_folder_remove(md, "INBOX", &err), -1);
	cr_assert(strstr(err.text, "root"), "%s", err.text);
	cr_assert(tm_exists("mail/cur"));
	free(target);
	free(link_path);
	maildir_free(md);
}

Test(maildir_remove, missing_folder_is_fine)
{
	struct maildir *md = open_md(MAILDIR_LAYOUT_MAILDIRPP);
	struct error err;

	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0);
	cr_assert_eq(maildir_folder_remove(md, "Nowhere", &err), 0, "%s", err.text);
	maildir_free(md);
}
