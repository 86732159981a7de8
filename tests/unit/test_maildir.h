/* Helpers shared by the maildir tests: a fresh directory per test. */
#ifndef TWINBOX_TEST_MAILDIR_H
#define TWINBOX_TEST_MAILDIR_H

#include <stddef.h>

/* The test's directory, "/tmp/twinbox-maildir-XXXXXX", made by tm_setup()
 * and removed by tm_teardown(). */
extern char tm_dir[];

void tm_setup(void);
void tm_teardown(void);

/* tm_dir + "/" + rel into a fresh string (caller frees). */
char *tm_path(const char *rel);
/* Write `content` to tm_dir/rel, creating nothing else. */
void tm_write(const char *rel, const char *content);
/* Read tm_dir/rel into a fresh string. */
char *tm_read(const char *rel);
int tm_exists(const char *rel);
void tm_mkdir(const char *rel);
/* Make tm_dir/rel a Maildir (rel/tmp, rel/new, rel/cur). */
void tm_maildir(const char *rel);
/* Entries of tm_dir/rel that are not "." or "..". */
size_t tm_count(const char *rel);

/* A suite's fixture: tm_setup(), then a nested-layout Maildir at
 * tm_dir/mail whose folder "Box" is created and opened. tm_box_close()
 * closes both and runs tm_teardown(). */
struct maildir;
struct maildir_folder;
void tm_box_open(struct maildir **md_r, struct maildir_folder **f_r);
void tm_box_close(struct maildir *md, struct maildir_folder *f);

#endif
