#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

static char tmpdir[] = "/tmp/twinbox-fs-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

TestSuite(util_fs, .init = setup, .fini = teardown);

Test(util_fs, join_accepts_relative_names)
{
	struct error err;
	char *p;

	cr_assert_eq(fs_join("/mail", "Work/Projects", &p, &err), 0);
	cr_assert_str_eq(p, "/mail/Work/Projects");
	free(p);
	cr_assert_eq(fs_join("/mail/", ".Work.Projects", &p, &err), 0);
	cr_assert_str_eq(p, "/mail/.Work.Projects");
	free(p);
	cr_assert_eq(fs_join("/mail", "..hidden", &p, &err), 0, "only exact '..' is refused");
	free(p);
}

Test(util_fs, join_refuses_names_that_escape)
{
	static const char *bad[] = {
	    "",   "/etc/passwd", "..",    "../x", "a/../../x", "a/..",      "a//b",
	    "a/", "./a",         "a/./b", "a\nb", "a\rb",      "tab\there", "del\x7f",
	};
	struct error err;
	char *p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error_clear(&err);
		cr_assert_eq(fs_join("/mail", bad[i], &p, &err), -1, "accepted \"%s\"", bad[i]);
		cr_assert_null(p);
		cr_assert_eq(err.scope, ERR_MAILBOX);
		cr_assert(strstr(err.text, "refusing"), "message: %s", err.text);
	}
}

Test(util_fs, mkdir_p_creates_parents_with_mode)
{
	struct error err;
	struct stat st;
	char *p = xasprintf("%s/a/b/c", tmpdir);

	cr_assert_eq(fs_mkdir_p(p, 0700, &err), 0, "%s", err.text);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(fs_mkdir_p(p, 0700, &err), 0, "existing directory is fine");
	free(p);
}

Test(util_fs, mkdir_p_over_a_file_fails)
{
	struct error err;
	char *p = xasprintf("%s/file", tmpdir);

	cr_assert_eq(fs_write_atomic(p, "x", 1, 0600, &err), 0);
	cr_assert_eq(fs_mkdir_p(p, 0700, &err), -1);
	cr_assert(strstr(err.text, "not a directory"), "%s", err.text);
	free(p);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

Test(util_fs, atomic_write_replaces_and_sets_mode)
{
	struct error err;
	struct stat st;
	char *p = xasprintf("%s/state", tmpdir);
	char *data;
	size_t len;

	cr_assert_eq(fs_write_atomic(p, "first", 5, 0600, &err), 0, "%s", err.text);
	cr_assert_eq(fs_write_atomic(p, "second", 6, 0600, &err), 0, "%s", err.text);
	cr_assert_eq(fs_read_file(p, 100, &data, &len, &err), 0);
	cr_assert_eq(len, 6);
	cr_assert_str_eq(data, "second");
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(count_entries(tmpdir), 1, "no temporary file left behind");
	free(data);
	free(p);
}

Test(util_fs, atomic_write_failure_leaves_target_untouched)
{
	struct error err;
	char *p = xasprintf("%s/missing-dir/file", tmpdir);

	cr_assert_eq(fs_write_atomic(p, "x", 1, 0600, &err), -1);
	cr_assert(strstr(err.text, "missing-dir"), "%s", err.text);
	free(p);
}

Test(util_fs, read_file_is_bounded)
{
	struct error err;
	char *p = xasprintf("%s/big", tmpdir);
	char *data;
	size_t len;

	cr_assert_eq(fs_write_atomic(p, "0123456789", 10, 0600, &err), 0);
	cr_assert_eq(fs_read_file(p, 9, &data, &len, &err), -1);
	cr_assert_null(data);
	cr_assert(strstr(err.text, "larger than 9 bytes"), "%s", err.text);
	cr_assert_eq(fs_read_file(p, 10, &data, &len, &err), 0);
	free(data);
	free(p);
}

Test(util_fs, expand_home)
{
	char *p;

	setenv("HOME", "/home/alice", 1);
	p = fs_expand_home("~/Mail");
	cr_assert_str_eq(p, "/home/alice/Mail");
	free(p);
	p = fs_expand_home("~");
	cr_assert_str_eq(p, "/home/alice");
	free(p);
	p = fs_expand_home("~bob/Mail");
	cr_assert_str_eq(p, "~bob/Mail");
	free(p);
	p = fs_expand_home("/abs");
	cr_assert_str_eq(p, "/abs");
	free(p);
}

Test(util_fs, fsync_dir_reports_missing_directory)
{
	struct error err;

	cr_assert_eq(fs_fsync_dir("/nonexistent/twinbox", &err), -1);
	cr_assert(strstr(err.text, "/nonexistent/twinbox"));
}
