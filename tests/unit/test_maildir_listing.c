/* A folder's listing (maildir_folder_read_listing and friends): the
 * names of its message files as a digest and a count, equal only for the
 * same names; kept by the handle through its own changes, so that what
 * it tells at the end equals a fresh read unless somebody else changed
 * the folder. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_maildir.h"
#include "twinbox/maildir/delivery.h"
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

TestSuite(maildir_listing, .init = setup, .fini = teardown);

#define F(s) maildir_flags_parse(s, strlen(s))

/* The folder's listing as read now, through a handle of its own. */
static struct maildir_listing fresh(void)
{
	struct maildir_folder *g;
	struct maildir_listing l;
	struct error err;

	cr_assert_eq(maildir_folder_open(md, "Box", NULL, &g, &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_read_listing(g, &l, &err), 1, "%s", err.text);
	maildir_folder_close(g);
	return l;
}

/* The listing `f` keeps. */
static struct maildir_listing kept(void)
{
	struct maildir_listing l;

	cr_assert_eq(maildir_folder_listing(f, &l), 1, "the handle lost its listing");
	return l;
}

static bool same(struct maildir_listing a, struct maildir_listing b)
{
	return a.digest == b.digest && a.files == b.files;
}

static void rm(const char *rel)
{
	char *p = tm_path(rel);

	cr_assert_eq(unlink(p), 0, "%s", p);
	free(p);
}

static void scan(void)
{
	struct error err;

	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0, "%s", err.text);
}

static void three_messages(void)
{
	tm_write("mail/Box/cur/a:2,S", "a");
	tm_write("mail/Box/cur/b:2,FS", "b");
	tm_write("mail/Box/new/c", "c");
	tm_write("mail/Box/cur/.hidden", "not a message");
}

Test(maildir_listing, a_scan_and_a_read_tell_the_same_listing)
{
	struct maildir_listing l;

	three_messages();
	cr_assert_eq(maildir_folder_listing(f, &l), 0, "known before any read");
	scan();
	cr_assert(same(kept(), fresh()));
	cr_assert_eq(kept().files, 3);
}

/* Every change another program can make moves it: a flag (rename in
 * cur/), new/ to cur/ under the same name, a new file, a deletion, and
 * putting everything back restores it. */
Test(maildir_listing, any_change_of_names_changes_it)
{
	struct maildir_listing before;
	char *a = tm_path("mail/Box/cur/a:2,S"), *a2 = tm_path("mail/Box/cur/a:2,RS");
	char *c = tm_path("mail/Box/new/c"), *c2 = tm_path("mail/Box/cur/c");

	three_messages();
	before = fresh();
	cr_assert_eq(rename(a, a2), 0);
	cr_assert(!same(before, fresh()), "a flag change left the listing alone");
	cr_assert_eq(rename(a2, a), 0);
	cr_assert(same(before, fresh()));
	cr_assert_eq(rename(c, c2), 0);
	cr_assert(!same(before, fresh()), "new/ to cur/ left the listing alone");
	cr_assert_eq(rename(c2, c), 0);
	tm_write("mail/Box/new/d", "d");
	cr_assert(!same(before, fresh()), "a new file left the listing alone");
	rm("mail/Box/new/d");
	cr_assert(same(before, fresh()));
	cr_assert_eq(unlink(c), 0);
	cr_assert(!same(before, fresh()), "a deletion left the listing alone");
	free(a);
	free(a2);
	free(c);
	free(c2);
}

/* The handle's own flag changes, deletions and deliveries keep its
 * listing equal to what a fresh read finds. */
Test(maildir_listing, the_handles_own_changes_keep_it_true)
{
	struct maildir_delivery *d;
	struct error err;

	three_messages();
	scan();
	cr_assert_eq(maildir_folder_set_flags(f, "c", F("S"), 0, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_set_flags(f, "b", 0, F("F"), NULL, &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_delete(f, "a", &err), 0, "%s", err.text);
	cr_assert_eq(maildir_delivery_begin(f, &(struct maildir_delivery_opts){.size = 1}, &d, &err), 0, "%s",
	             err.text);
	cr_assert_eq(maildir_delivery_write(d, "x", 1, &err), 0, "%s", err.text);
	cr_assert_eq(maildir_delivery_commit(d, &err), 0, "%s", err.text);
	cr_assert(same(kept(), fresh()));
	cr_assert_eq(kept().files, 3);
}

/* Without a scan: a listing taken as true (assume) is kept the same way,
 * and a message not where the handle expected it (another program moved
 * it) makes the listing unknown. */
Test(maildir_listing, an_assumed_listing_is_kept_until_another_programs_change_shows)
{
	struct maildir_listing l;
	struct error err;
	size_t i;

	three_messages();
	l = fresh();
	maildir_folder_assume_listing(f, &l);
	cr_assert_eq(maildir_folder_adopt(f, "b", F("FS"), &i, &err), 1, "%s", err.text);
	cr_assert_eq(maildir_folder_set_flags(f, "b", F("R"), 0, NULL, &err), 0, "%s", err.text);
	cr_assert(same(kept(), fresh()));

	tm_write("mail/Box/cur/a:2,RS", "a");
	rm("mail/Box/cur/a:2,S");
	cr_assert_eq(maildir_folder_adopt(f, "a", F("S"), &i, &err), 1, "%s", err.text);
	cr_assert_eq(maildir_folder_listing(f, &l), 0, "another program's rename went unnoticed");
}
