/* Maildir roots and folders: presence, creation, listing, opening. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_maildir.h"
#include "twinbox/maildir/delivery.h"
#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

TestSuite(maildir_folder, .init = tm_setup, .fini = tm_teardown);

static struct maildir *md_at(const char *rel, enum maildir_layout layout)
{
	char *root = tm_path(rel);
	struct maildir *md = maildir_new(root, layout, '/');

	free(root);
	return md;
}

static int warnings;

static void count_warnings(enum log_level level, const char *line, void *ctx)
{
	(void)ctx;
	if (level == LOG_WARN && strstr(line, "skipping a folder"))
		warnings++;
}

static enum maildir_presence presence(struct maildir *md, const char *name)
{
	enum maildir_presence p;
	struct error err;

	cr_assert_eq(maildir_presence(md, name, &p, &err), 0, "%s", err.text);
	return p;
}

Test(maildir_folder, missing_root_missing_folder_and_empty_folder_differ)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_MAILDIRPP);
	struct maildir_folder_list list;
	struct maildir_folder *f;
	enum maildir_presence p;
	struct error err;

	/* no root */
	cr_expect_eq(presence(md, "INBOX"), MAILDIR_ROOT_MISSING);
	cr_expect_eq(presence(md, "Work"), MAILDIR_ROOT_MISSING);
	cr_expect_eq(maildir_folder_open(md, "Work", &p, &f, &err), -1);
	cr_expect_eq(p, MAILDIR_ROOT_MISSING);
	cr_expect_null(f);
	cr_expect(strstr(err.text, "root") && strstr(err.text, "does not exist"), "%s", err.text);
	cr_expect_eq(maildir_list(md, &list, &err), 0);
	cr_expect_eq(list.root_missing, 1);
	cr_expect_eq(list.count, 0);
	maildir_folder_list_free(&list);

	/* an empty root (an unmounted mount point looks like this) */
	tm_mkdir("mail");
	cr_expect_eq(presence(md, "INBOX"), MAILDIR_FOLDER_MISSING);
	cr_expect_eq(presence(md, "Work"), MAILDIR_FOLDER_MISSING);
	cr_expect_eq(maildir_folder_open(md, "Work", &p, &f, &err), -1);
	cr_expect_eq(p, MAILDIR_FOLDER_MISSING);
	cr_expect(strstr(err.text, "\"Work\" does not exist"), "%s", err.text);
	cr_expect_eq(maildir_list(md, &list, &err), 0);
	cr_expect_eq(list.root_missing, 0);
	cr_expect_eq(list.count, 0);
	maildir_folder_list_free(&list);

	/* a directory without cur/ is not a folder */
	tm_mkdir("mail/.Work/new");
	cr_expect_eq(presence(md, "Work"), MAILDIR_FOLDER_MISSING);
	cr_expect_eq(maildir_folder_open(md, "Work", &p, &f, &err), -1);
	cr_expect_eq(p, MAILDIR_FOLDER_MISSING);

	/* an empty folder is present, with no messages */
	tm_maildir("mail/.Work");
	cr_expect_eq(presence(md, "Work"), MAILDIR_PRESENT);
	cr_assert_eq(maildir_folder_open(md, "Work", &p, &f, &err), 0, "%s", err.text);
	cr_expect_eq(p, MAILDIR_PRESENT);
	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0, "%s", err.text);
	cr_expect_eq(maildir_folder_count(f), 0);
	maildir_folder_close(f);
	maildir_free(md);
}

Test(maildir_folder, unmappable_names_are_errors_not_missing)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_NESTED);
	enum maildir_presence p;
	struct maildir_folder *f;
	struct error err;

	tm_mkdir("mail");
	cr_expect_eq(maildir_presence(md, "", &p, &err), -1);
	cr_expect_eq(p, MAILDIR_PRESENCE_ERROR);
	cr_expect_eq(maildir_folder_open(md, "bad\xff", &p, &f, &err), -1);
	cr_expect_eq(p, MAILDIR_PRESENCE_ERROR);
	maildir_free(md);
}

Test(maildir_folder, create_makes_a_complete_private_maildir)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_MAILDIRPP);
	static const char *subs[] = {"tmp", "new", "cur"};
	struct error err;

	cr_assert_eq(maildir_folder_create(md, "Work/Projects", &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0, "%s", err.text);
	for (int i = 0; i < 3; i++) {
		char *rel = xasprintf("mail/.Work.Projects/%s", subs[i]);
		char *p = tm_path(rel);
		struct stat st;

		cr_assert_eq(stat(p, &st), 0, "%s", p);
		cr_expect(S_ISDIR(st.st_mode));
		cr_expect_eq(st.st_mode & 0777, 0700);
		free(p);
		free(rel);
		rel = xasprintf("mail/%s", subs[i]);
		cr_expect(tm_exists(rel), "INBOX is the root: %s", rel);
		free(rel);
	}
	cr_expect(tm_exists("mail/.Work.Projects/maildirfolder"), "maildir++ marker file");
	cr_expect_not(tm_exists("mail/maildirfolder"), "the root is no sub-folder");
	cr_expect_not(tm_exists("mail/.Work"), "no parent folder is invented in maildir++");
	cr_expect_eq(presence(md, "Work/Projects"), MAILDIR_PRESENT);
	/* again: nothing to do, no error */
	cr_expect_eq(maildir_folder_create(md, "Work/Projects", &err), 0, "%s", err.text);
	maildir_free(md);
}

Test(maildir_folder, create_nested_and_complete_half_made_folders)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_NESTED);
	struct error err;

	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_create(md, "Work/cur", &err), 0, "%s", err.text);
	cr_expect(tm_exists("mail/INBOX/cur"));
	cr_expect(tm_exists("mail/Work/%63ur/cur"));
	cr_expect_not(tm_exists("mail/Work/cur"), "\"Work\" stays a plain directory");
	cr_expect_not(tm_exists("mail/Work/maildirfolder"));
	/* a folder that lost new/ and tmp/ (a git checkout does that) */
	tm_mkdir("mail/Old/cur");
	cr_expect_eq(presence(md, "Old"), MAILDIR_PRESENT);
	cr_assert_eq(maildir_folder_create(md, "Old", &err), 0, "%s", err.text);
	cr_expect(tm_exists("mail/Old/new") && tm_exists("mail/Old/tmp"));
	/* a file where a directory should be */
	tm_mkdir("mail/Bad");
	tm_write("mail/Bad/cur", "not a directory");
	cr_expect_eq(maildir_folder_create(md, "Bad", &err), -1);
	cr_expect(strstr(err.text, "not a directory"), "%s", err.text);
	maildir_free(md);
}

Test(maildir_folder, open_restores_missing_new_and_tmp)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_NESTED);
	struct maildir_folder *f;
	struct error err;

	tm_mkdir("mail/Old/cur");
	cr_assert_eq(maildir_folder_open(md, "Old", NULL, &f, &err), 0, "%s", err.text);
	cr_expect(tm_exists("mail/Old/new") && tm_exists("mail/Old/tmp"));
	cr_expect_str_eq(maildir_folder_name(f), "Old");
	cr_expect(strstr(maildir_folder_path(f), "/mail/Old"));
	maildir_folder_close(f);
	maildir_free(md);
}

static void expect_list(struct maildir_folder_list *l, const char *const *names, const char *const *rels,
                        size_t n)
{
	cr_assert_eq(l->count, n, "listed %zu folders", l->count);
	for (size_t i = 0; i < n; i++) {
		cr_expect_str_eq(l->items[i].name, names[i]);
		cr_expect_str_eq(l->items[i].rel, rels[i]);
	}
}

Test(maildir_folder, list_maildirpp_returns_remote_names)
{
	static const char *const names[] = {"A.B", "INBOX", "INBOX/Sub", "Work", "Work/Projects", "a\nb"};
	static const char *const rels[] = {".A%2EB", "", ".INBOX.Sub", ".Work", ".Work.Projects", ".a%0Ab"};
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_MAILDIRPP);
	struct maildir_folder_list l;
	struct error err;
	char *target, *link_path;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_eq(maildir_folder_create(md, names[i], &err), 0, "%s", err.text);
	tm_mkdir("mail/.NoCur/new"); /* not a folder */
	tm_maildir("mail/.inbox");   /* no remote name of its own: skipped */
	tm_maildir("mail/.50%");     /* not the escaping twinbox writes: skipped */
	tm_maildir("mail/plain");    /* not a maildir++ folder name */
	tm_write("mail/.file", "x");
	tm_write("mail/dovecot-uidlist", "x");
	log_set_sink(count_warnings, NULL);
	cr_assert_eq(maildir_list(md, &l, &err), 0, "%s", err.text);
	expect_list(&l, names, rels, sizeof(names) / sizeof(names[0]));
	cr_expect_eq(l.skipped, 2);
	cr_expect_eq(warnings, 2, "each skipped folder is warned about");
	maildir_folder_list_free(&l);

	/* a symbolic link to a folder elsewhere counts (the layout is flat) */
	tm_maildir("elsewhere");
	target = tm_path("elsewhere");
	link_path = tm_path("mail/.Linked");
	cr_assert_eq(symlink(target, link_path), 0);
	cr_assert_eq(maildir_list(md, &l, &err), 0, "%s", err.text);
	cr_expect_eq(l.count, sizeof(names) / sizeof(names[0]) + 1);
	cr_expect_str_eq(l.items[3].name, "Linked");
	maildir_folder_list_free(&l);
	free(target);
	free(link_path);
	maildir_free(md);
}

Test(maildir_folder, list_nested_returns_remote_names)
{
	static const char *const names[] = {
	    "..", "INBOX", "INBOX/Sub", "Work/Projects", "Work/Projects/Deep", "Work/cur", "x.y"};
	static const char *const rels[] = {
	    "%2E.", "INBOX", "INBOX/Sub", "Work/Projects", "Work/Projects/Deep", "Work/%63ur", "x.y"};
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_NESTED);
	struct maildir_folder_list l;
	struct error err;
	char *target, *link_path;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_eq(maildir_folder_create(md, names[i], &err), 0, "%s", err.text);
	tm_maildir("mail/.hidden");           /* dot directories are not looked at */
	tm_maildir("mail/INBOX/cur/strange"); /* nor what is inside cur/ */
	tm_maildir("mail/inbox");             /* the INBOX is "INBOX": skipped */
	tm_maildir("mail/50% off");           /* skipped */
	/* a link back up the tree must not loop */
	target = tm_path("mail");
	link_path = tm_path("mail/Work/loop");
	cr_assert_eq(symlink(target, link_path), 0);
	log_set_sink(count_warnings, NULL);
	cr_assert_eq(maildir_list(md, &l, &err), 0, "%s", err.text);
	expect_list(&l, names, rels, sizeof(names) / sizeof(names[0]));
	cr_expect_eq(l.skipped, 2);
	cr_expect_eq(warnings, 2);
	maildir_folder_list_free(&l);
	free(target);
	free(link_path);
	maildir_free(md);
}

Test(maildir_folder, hostile_remote_names_stay_below_the_root)
{
	static const char *const hostile[] = {"../../etc", "a/../../b", "/etc/passwd",      "..",
	                                      ".",         "a\n/b",     "x/../../../../tmp"};
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_NESTED);
	struct maildir *pp = md_at("mail2", MAILDIR_LAYOUT_MAILDIRPP);
	struct maildir_folder_list l;
	struct error err;

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		char *dir;

		cr_assert_eq(maildir_folder_create(md, hostile[i], &err), 0, "%s", err.text);
		cr_assert_eq(maildir_folder_create(pp, hostile[i], &err), 0, "%s", err.text);
		cr_assert_eq(maildir_folder_dir(md, hostile[i], &dir, &err), 0);
		cr_expect_eq(strncmp(dir, tm_dir, strlen(tm_dir)), 0);
		cr_expect_null(strstr(dir, "/../"), "%s", dir);
		free(dir);
	}
	/* only the two roots were written to */
	cr_expect_eq(tm_count(""), 2);
	cr_assert_eq(maildir_list(md, &l, &err), 0);
	cr_expect_eq(l.count, sizeof(hostile) / sizeof(hostile[0]));
	maildir_folder_list_free(&l);
	cr_assert_eq(maildir_list(pp, &l, &err), 0);
	cr_expect_eq(l.count, sizeof(hostile) / sizeof(hostile[0]));
	maildir_folder_list_free(&l);
	maildir_free(md);
	maildir_free(pp);
}

Test(maildir_folder, root_path_with_trailing_slash)
{
	char *root = xasprintf("%s/mail///", tm_dir);
	struct maildir *md = maildir_new(root, MAILDIR_LAYOUT_MAILDIRPP, '.');
	char *dir;
	struct error err;

	cr_expect_eq(maildir_root(md)[strlen(maildir_root(md)) - 1], 'l');
	cr_expect_eq(maildir_delim(md), '.');
	cr_expect_eq(maildir_layout(md), MAILDIR_LAYOUT_MAILDIRPP);
	cr_assert_eq(maildir_folder_dir(md, "INBOX", &dir, &err), 0);
	cr_expect_str_eq(dir, maildir_root(md));
	free(dir);
	free(root);
	maildir_free(md);
}

Test(maildir_folder, directory_times_follow_changes)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_MAILDIRPP);
	struct maildir_times t0, t1;
	struct maildir_folder *f;
	struct error err;
	struct timespec old[2] = {{1000000000, 5}, {1000000000, 5}};
	char *cur = tm_path("mail/cur"), *newdir = tm_path("mail/new");

	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0);
	cr_assert_eq(utimensat(AT_FDCWD, cur, old, 0), 0);
	cr_assert_eq(utimensat(AT_FDCWD, newdir, old, 0), 0);
	cr_assert_eq(maildir_folder_open(md, "INBOX", NULL, &f, &err), 0);
	cr_assert_eq(maildir_folder_times(f, &t0, &err), 0);
	cr_expect_eq(t0.cur_mtime.tv_sec, 1000000000);
	cr_expect_eq(t0.cur_mtime.tv_nsec, 5, "nanoseconds are kept");
	cr_expect_eq(t0.settled, 1, "old times are settled");
	cr_assert_eq(maildir_folder_times(f, &t1, &err), 0);
	cr_expect(maildir_times_equal(&t0, &t1));
	tm_write("mail/cur/1.M1P1.h:2,S", "x");
	cr_assert_eq(maildir_folder_times(f, &t1, &err), 0);
	cr_expect_not(maildir_times_equal(&t0, &t1));
	cr_expect_eq(t1.settled, 0, "a change just now is not settled");
	maildir_folder_close(f);
	free(cur);
	free(newdir);
	maildir_free(md);
}

/* Set both directory times of INBOX to `age_ns` before now, with the
 * sub-second part zeroed when `whole_seconds`, and read them back. */
static struct maildir_times times_aged(struct maildir *md, long long age_ns, bool whole_seconds)
{
	struct maildir_times t;
	struct maildir_folder *f;
	struct error err;
	struct timespec when[2];
	char *cur = tm_path("mail/cur"), *newdir = tm_path("mail/new");
	long long ns;

	clock_gettime(CLOCK_REALTIME, &when[0]);
	ns = (long long)when[0].tv_sec * 1000000000LL + when[0].tv_nsec - age_ns;
	when[0].tv_sec = (time_t)(ns / 1000000000LL);
	when[0].tv_nsec = whole_seconds ? 0 : (long)(ns % 1000000000LL);
	if (!whole_seconds && when[0].tv_nsec == 0)
		when[0].tv_nsec = 1;
	when[1] = when[0];
	cr_assert_eq(utimensat(AT_FDCWD, cur, when, 0), 0);
	cr_assert_eq(utimensat(AT_FDCWD, newdir, when, 0), 0);
	cr_assert_eq(maildir_folder_open(md, "INBOX", NULL, &f, &err), 0);
	cr_assert_eq(maildir_folder_times(f, &t, &err), 0);
	maildir_folder_close(f);
	free(cur);
	free(newdir);
	return t;
}

/* A run right after a sync may trust the times a fraction of a second
 * old where the filesystem keeps sub-second times; where it keeps whole
 * seconds only, a change within the same second would not show. */
Test(maildir_folder, sub_second_times_settle_sooner)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_MAILDIRPP);
	struct error err;

	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0);
	cr_expect_eq(times_aged(md, 300000000LL, false).settled, 1, "0.3 s old, nanoseconds kept");
	cr_expect_eq(times_aged(md, 2000000LL, false).settled, 0, "2 ms old: within a clock tick");
	cr_expect_eq(times_aged(md, 1000000000LL, true).settled, 0, "whole seconds, 1 s old");
	cr_expect_eq(times_aged(md, 5000000000LL, true).settled, 1, "whole seconds, 5 s old");
	maildir_free(md);
}

Test(maildir_folder, drop_tmp_removes_only_that_leftover)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_MAILDIRPP);
	struct maildir_folder *f;
	struct error err;

	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0);
	tm_write("mail/tmp/1700000000.M1P1.host", "half a message");
	tm_write("mail/tmp/1700000001.M1P1.host", "another delivery");
	tm_write("mail/new/1700000000.M1P1.host", "the whole message");
	cr_assert_eq(maildir_folder_open(md, "INBOX", NULL, &f, &err), 0);
	cr_assert_eq(maildir_folder_drop_tmp(f, "1700000000.M1P1.host", &err), 0, "%s", err.text);
	cr_expect_not(tm_exists("mail/tmp/1700000000.M1P1.host"));
	cr_expect(tm_exists("mail/new/1700000000.M1P1.host"), "a delivered message stays");
	cr_expect(tm_exists("mail/tmp/1700000001.M1P1.host"), "other ids are not touched");
	cr_assert_eq(maildir_folder_drop_tmp(f, "1700000000.M1P1.host", &err), 0, "gone is no error");
	cr_assert_eq(maildir_folder_drop_tmp(f, "../new/1700000000.M1P1.host", &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect(tm_exists("mail/new/1700000000.M1P1.host"));
	maildir_folder_close(f);
	maildir_free(md);
}

Test(maildir_folder, clean_tmp_removes_only_old_leftovers)
{
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_MAILDIRPP);
	struct maildir_folder *f;
	struct error err;
	size_t removed;
	time_t now = time(NULL);

	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0);
	tm_write("mail/tmp/leftover", "half a message");
	tm_mkdir("mail/tmp/adir");
	cr_assert_eq(maildir_folder_open(md, "INBOX", NULL, &f, &err), 0);
	cr_assert_eq(maildir_folder_clean_tmp(f, now, &removed, &err), 0, "%s", err.text);
	cr_expect_eq(removed, 0, "a fresh file is being written by someone");
	cr_expect(tm_exists("mail/tmp/leftover"));
	cr_assert_eq(maildir_folder_clean_tmp(f, now + MAILDIR_TMP_MAX_AGE - 60, &removed, &err), 0);
	cr_expect_eq(removed, 0, "35 hours is not enough");
	cr_assert_eq(maildir_folder_clean_tmp(f, now + MAILDIR_TMP_MAX_AGE + 60, &removed, &err), 0);
	cr_expect_eq(removed, 1);
	cr_expect_not(tm_exists("mail/tmp/leftover"));
	cr_expect(tm_exists("mail/tmp/adir"), "directories are not touched");
	maildir_folder_close(f);
	maildir_free(md);
}

/* A folder handle whose directory, or whose cur/ alone, was replaced
 * (renamed away and made anew at the same path) no longer reads as the
 * folder: a scan (the full check, which is never skipped) fails even
 * right after a passed check, and so does the start of a delivery, which
 * may otherwise rely on a check less than a second old. */
Test(maildir_folder, a_replaced_directory_is_not_the_folder_any_more)
{
	static const struct {
		const char *folder, *dir, *moved;
		int is_maildir; /* dir is the folder's, not one of its subdirectories */
	} cases[] = {
	    {"Work", "mail/.Work", "mail/.Work.away", 1},
	    {"Other", "mail/.Other/cur", "mail/.Other/cur.away", 0},
	};
	struct maildir *md = md_at("mail", MAILDIR_LAYOUT_MAILDIRPP);
	struct maildir_delivery_opts o = {NULL, MAILDIR_SIZE_UNKNOWN, 0, 0, 0, 0, 0};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char *from = tm_path(cases[k].dir), *to = tm_path(cases[k].moved);
		struct maildir_delivery *d;
		struct maildir_folder *f;
		struct error err;

		cr_assert_eq(maildir_folder_create(md, cases[k].folder, &err), 0, "%s", err.text);
		cr_assert_eq(maildir_folder_open(md, cases[k].folder, NULL, &f, &err), 0, "%s", err.text);
		cr_assert_eq(maildir_folder_scan(f, 0, &err), 0, "%s", err.text);
		cr_assert_eq(maildir_delivery_begin(f, &o, &d, &err), 0, "%s", err.text);
		cr_assert_eq(maildir_delivery_commit(d, &err), 0, "%s", err.text);
		cr_assert_eq(maildir_folder_scan(f, 0, &err), 0, "%s", err.text);
		cr_assert_eq(maildir_folder_count(f), 1);

		cr_assert_eq(rename(from, to), 0);
		if (cases[k].is_maildir)
			tm_maildir(cases[k].dir);
		else
			tm_mkdir(cases[k].dir);
		cr_expect_eq(maildir_folder_scan(f, 0, &err), -1,
		             "%s: the new directory is empty, not the folder", cases[k].dir);
		cr_expect_eq(err.scope, ERR_MAILBOX);
		cr_expect(strstr(err.text, "removed or replaced"), "%s", err.text);
		cr_expect_eq(maildir_folder_count(f), 0, "no stale snapshot either");
		cr_expect_eq(maildir_delivery_begin(f, &o, &d, &err), -1,
		             "%s: a failed check is not skipped over", cases[k].dir);
		cr_expect_null(d);
		cr_expect_eq(err.scope, ERR_MAILBOX);
		maildir_folder_close(f);
		free(from);
		free(to);
	}
	maildir_free(md);
}
