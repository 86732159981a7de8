/* Scanning a folder: what counts as a message, ids, flags, sizes, speed. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_maildir.h"
#include "twinbox/maildir/flags.h"
#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"
#include "twinbox/util/log.h"
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

TestSuite(maildir_scan, .init = setup, .fini = teardown, .timeout = 120);

static void scan(unsigned flags)
{
	struct error err;

	cr_assert_eq(maildir_folder_scan(f, flags, &err), 0, "%s", err.text);
}

static void get(const char *id, struct maildir_msg *m)
{
	size_t i;

	cr_assert(maildir_folder_find(f, id, &i), "no message %s", id);
	maildir_folder_msg(f, i, m);
	cr_assert_str_eq(m->id, id);
}

static const char *letters(uint64_t flags)
{
	static char out[MAILDIR_FLAGS_MAX + 1];

	maildir_flags_format(flags, out);
	return out;
}

Test(maildir_scan, reads_what_other_programs_write)
{
	static const struct {
		const char *file, *id, *flags;
		enum maildir_subdir sub;
		uint64_t size; /* without a stat */
	} cases[] = {
	    {"cur/1700000000.M1P2.host,S=5,W=7:2,S", "1700000000.M1P2.host,S=5,W=7", "S", MAILDIR_CUR, 5},
	    {"cur/1700000001.M3P4.host,S=5:2,FSab", "1700000001.M3P4.host,S=5", "FSab", MAILDIR_CUR, 5},
	    {"cur/1700000002.12345_1.laptop:2,RS", "1700000002.12345_1.laptop", "RS", MAILDIR_CUR,
	     MAILDIR_SIZE_UNKNOWN},
	    {"cur/1700000003.1234_1.host,U=12:2,", "1700000003.1234_1.host,U=12", "", MAILDIR_CUR,
	     MAILDIR_SIZE_UNKNOWN},
	    {"cur/no-info-at-all", "no-info-at-all", "", MAILDIR_CUR, MAILDIR_SIZE_UNKNOWN},
	    {"new/1700000004.M5P6.host", "1700000004.M5P6.host", "", MAILDIR_NEW, MAILDIR_SIZE_UNKNOWN},
	    {"new/1700000005.M5P6.host:2,S", "1700000005.M5P6.host", "S", MAILDIR_NEW, MAILDIR_SIZE_UNKNOWN},
	    {"cur/1700000006.M7P8.host:1,experimental", "1700000006.M7P8.host", "", MAILDIR_CUR,
	     MAILDIR_SIZE_UNKNOWN},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < n; i++) {
		char *rel = xasprintf("mail/%s", cases[i].file);
		tm_write(rel, "hello");
		free(rel);
	}
	scan(0);
	cr_assert_eq(maildir_folder_count(f), n);
	for (size_t i = 0; i < n; i++) {
		struct maildir_msg m;
		char name[MAILDIR_NAME_MAX + 1];
		size_t idx;

		get(cases[i].id, &m);
		cr_expect_str_eq(letters(m.flags), cases[i].flags, "%s", cases[i].file);
		cr_expect_eq(m.subdir, cases[i].sub, "%s", cases[i].file);
		cr_expect_eq(m.size, cases[i].size, "%s", cases[i].file);
		cr_expect_not(m.gone);
		cr_assert(maildir_folder_find(f, cases[i].id, &idx));
		maildir_folder_file_name(f, idx, name);
		cr_expect_str_eq(name, strchr(cases[i].file, '/') + 1);
	}
}

Test(maildir_scan, skips_what_is_not_a_message)
{
	char *p;

	tm_write("mail/cur/.hidden:2,S", "x");
	tm_write("mail/new/.nfs000123", "x");
	tm_write("mail/cur/:2,S", "no id");
	tm_mkdir("mail/cur/a-directory");
	tm_write("mail/cur/real:2,S", "x");
	p = tm_path("mail/cur/a-link:2,S");
	cr_assert_eq(symlink("real:2,S", p), 0);
	free(p);
	p = tm_path("mail/new/a-fifo");
	cr_assert_eq(mkfifo(p, 0600), 0);
	free(p);
	tm_write("mail/dovecot-uidlist", "x");
	scan(0);
	cr_assert_eq(maildir_folder_count(f), 1);
	cr_expect(maildir_folder_find(f, "real", &(size_t){0}));
}

Test(maildir_scan, a_move_by_another_program_keeps_the_id)
{
	struct maildir_msg m;
	char *from, *to;

	tm_write("mail/new/1700000000.M1P1.h", "x");
	scan(0);
	get("1700000000.M1P1.h", &m);
	cr_expect_eq(m.subdir, MAILDIR_NEW);
	/* mutt reads it: new/ -> cur/ with S */
	from = tm_path("mail/new/1700000000.M1P1.h");
	to = tm_path("mail/cur/1700000000.M1P1.h:2,S");
	cr_assert_eq(rename(from, to), 0);
	scan(0);
	cr_assert_eq(maildir_folder_count(f), 1);
	get("1700000000.M1P1.h", &m);
	cr_expect_eq(m.subdir, MAILDIR_CUR);
	cr_expect_eq(m.flags, MAILDIR_FLAG_SEEN);
	cr_expect_str_eq(m.info, "2,S");
	free(from);
	free(to);
}

static int dup_warnings;

static void count_dup(enum log_level level, const char *line, void *ctx)
{
	(void)ctx;
	if (level == LOG_WARN && strstr(line, "repeat the id"))
		dup_warnings++;
}

Test(maildir_scan, a_repeated_id_is_reported_once_and_cur_wins)
{
	struct maildir_msg m;

	log_set_sink(count_dup, NULL);
	tm_write("mail/new/dup", "a");
	tm_write("mail/cur/dup:2,F", "b");
	tm_write("mail/cur/twice:2,S", "c");
	tm_write("mail/cur/twice:2,RS", "d");
	scan(0);
	cr_assert_eq(maildir_folder_count(f), 2);
	cr_expect_eq(maildir_folder_duplicates(f), 2);
	cr_expect_eq(dup_warnings, 1);
	get("dup", &m);
	cr_expect_eq(m.subdir, MAILDIR_CUR);
	cr_expect_eq(m.flags, MAILDIR_FLAG_FLAGGED);
}

Test(maildir_scan, sizes_are_read_lazily_or_on_request)
{
	struct maildir_msg m;
	struct error err;
	uint64_t size;
	time_t mtime;
	struct timespec t[2] = {{1600000000, 0}, {1600000000, 0}};
	char *p;

	tm_write("mail/cur/a:2,S", "12345678");
	tm_write("mail/cur/b,S=3:2,S", "abc");
	p = tm_path("mail/cur/a:2,S");
	cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	free(p);
	scan(0);
	get("a", &m);
	cr_expect_eq(m.size, MAILDIR_SIZE_UNKNOWN, "no stat during the scan");
	get("b,S=3", &m);
	cr_expect_eq(m.size, 3);
	cr_assert_eq(maildir_folder_stat(f, "a", &size, &mtime, &err), 0, "%s", err.text);
	cr_expect_eq(size, 8);
	cr_expect_eq(mtime, 1600000000);
	get("a", &m);
	cr_expect_eq(m.size, 8, "remembered");
	scan(MAILDIR_SCAN_SIZES);
	get("a", &m);
	cr_expect_eq(m.size, 8);
	cr_expect_eq(maildir_folder_stat(f, "nope", &size, NULL, &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
}

Test(maildir_scan, records_the_directory_times_it_saw)
{
	struct maildir_times now;
	struct error err;

	tm_write("mail/cur/a:2,S", "x");
	scan(0);
	cr_assert_eq(maildir_folder_times(f, &now, &err), 0);
	cr_expect(maildir_times_equal(maildir_folder_scan_times(f), &now));
	tm_write("mail/new/b", "x");
	cr_assert_eq(maildir_folder_times(f, &now, &err), 0);
	cr_expect_not(maildir_times_equal(maildir_folder_scan_times(f), &now));
}

Test(maildir_scan, a_folder_removed_under_it_is_an_error)
{
	struct error err;

	char *cmd = xasprintf("rm -rf '%s/mail/cur'", tm_dir);
	char *from = tm_path("mail/.Old"), *to = tm_path("mail/.New");

	tm_write("mail/cur/a:2,S", "x");
	cr_assert_eq(system(cmd), 0);
	cr_expect_eq(maildir_folder_scan(f, 0, &err), -1, "an empty scan would read as \"all deleted\"");
	cr_expect_eq(err.scope, ERR_MAILBOX);
	cr_expect(strstr(err.text, "removed or replaced"), "%s", err.text);
	cr_expect_eq(maildir_folder_count(f), 0);
	free(cmd);

	/* the whole folder moved away and an empty one put in its place */
	cr_assert_eq(maildir_folder_create(md, "Old", &err), 0);
	maildir_folder_close(f);
	cr_assert_eq(maildir_folder_open(md, "Old", NULL, &f, &err), 0);
	tm_write("mail/.Old/cur/b:2,S", "x");
	scan(0);
	cr_assert_eq(maildir_folder_count(f), 1);
	cr_assert_eq(rename(from, to), 0);
	cr_assert_eq(maildir_folder_create(md, "Old", &err), 0);
	cr_expect_eq(maildir_folder_scan(f, 0, &err), -1);
	free(from);
	free(to);
}

Test(maildir_scan, twenty_thousand_files_scan_quickly)
{
	enum { COUNT = 20000 };
	struct timespec t0, t1;
	char name[128];
	double ms, ms_sizes;
	int newfd, curfd;
	char *p;

	p = tm_path("mail/new");
	newfd = open(p, O_RDONLY | O_DIRECTORY);
	free(p);
	p = tm_path("mail/cur");
	curfd = open(p, O_RDONLY | O_DIRECTORY);
	free(p);
	for (int i = 0; i < COUNT; i++) {
		int fd;

		/* Every fifth message without a ",S=" size, as mutt writes them. */
		if (i % 10 == 0)
			snprintf(name, sizeof(name), "17000%05d.M%dP1Q1.host,S=1", i, i);
		else if (i % 5 == 0)
			snprintf(name, sizeof(name), "17000%05d.%d_1.laptop:2,S", i, i);
		else
			snprintf(name, sizeof(name), "17000%05d.M%dP1Q1.host,S=1:2,FS", i, i);
		fd = openat(i % 10 == 0 ? newfd : curfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, "x", 1), 1);
		close(fd);
	}
	close(newfd);
	close(curfd);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	scan(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert_eq(maildir_folder_count(f), COUNT);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	scan(MAILDIR_SCAN_SIZES);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms_sizes = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;

	for (int i = 0; i < COUNT; i++) {
		struct maildir_msg m;

		if (i % 10 == 0)
			snprintf(name, sizeof(name), "17000%05d.M%dP1Q1.host,S=1", i, i);
		else if (i % 5 == 0)
			snprintf(name, sizeof(name), "17000%05d.%d_1.laptop", i, i);
		else
			snprintf(name, sizeof(name), "17000%05d.M%dP1Q1.host,S=1", i, i);
		get(name, &m);
		cr_assert_eq(m.size, 1);
	}
	cr_log_info("maildir scan of %d files: %.1f ms without stat, %.1f ms with stat for the %d unsized",
	            COUNT, ms, ms_sizes, COUNT / 10);
	fprintf(stderr,
	        "maildir scan of %d files: %.1f ms without stat, %.1f ms with stat for the %d unsized\n",
	        COUNT, ms, ms_sizes, COUNT / 10);
}
