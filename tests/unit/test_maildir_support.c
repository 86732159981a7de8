#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_maildir.h"
#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

char tm_dir[64];

void tm_setup(void)
{
	strcpy(tm_dir, "/tmp/twinbox-maildir-XXXXXX");
	cr_assert_not_null(mkdtemp(tm_dir));
}

void tm_teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", tm_dir);

	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

char *tm_path(const char *rel)
{
	return xasprintf("%s/%s", tm_dir, rel);
}

void tm_write(const char *rel, const char *content)
{
	char *p = tm_path(rel);
	FILE *fp = fopen(p, "w");

	cr_assert_not_null(fp, "cannot write %s", p);
	fputs(content, fp);
	cr_assert_eq(fclose(fp), 0);
	free(p);
}

char *tm_read(const char *rel)
{
	char *p = tm_path(rel), *data;
	struct error err;
	size_t len;

	cr_assert_eq(fs_read_file(p, 1 << 26, &data, &len, &err), 0, "%s", err.text);
	free(p);
	return data;
}

int tm_exists(const char *rel)
{
	char *p = tm_path(rel);
	struct stat st;
	int rc = lstat(p, &st) == 0;

	free(p);
	return rc;
}

void tm_mkdir(const char *rel)
{
	char *p = tm_path(rel);
	struct error err;

	cr_assert_eq(fs_mkdir_p(p, 0700, &err), 0, "%s", err.text);
	free(p);
}

void tm_maildir(const char *rel)
{
	static const char *subs[] = {"tmp", "new", "cur"};

	for (int i = 0; i < 3; i++) {
		char *sub = rel[0] ? xasprintf("%s/%s", rel, subs[i]) : xstrdup(subs[i]);
		tm_mkdir(sub);
		free(sub);
	}
}

size_t tm_count(const char *rel)
{
	char *p = tm_path(rel);
	DIR *d = opendir(p);
	struct dirent *de;
	size_t n = 0;

	cr_assert_not_null(d, "cannot read %s", p);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	free(p);
	return n;
}

void tm_box_open(struct maildir **md_r, struct maildir_folder **f_r)
{
	char *root;
	struct error err;

	tm_setup();
	root = tm_path("mail");
	*md_r = maildir_new(root, MAILDIR_LAYOUT_NESTED, '/');
	free(root);
	cr_assert_eq(maildir_folder_create(*md_r, "Box", &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_open(*md_r, "Box", NULL, f_r, &err), 0, "%s", err.text);
}

void tm_box_close(struct maildir *md, struct maildir_folder *f)
{
	maildir_folder_close(f);
	maildir_free(md);
	tm_teardown();
}
