/*
 * inotify on the Maildirs of `twinbox watch` (watch.h): new/ and cur/
 * of every folder, and each Maildir's root for folders that come or go.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "twinbox/maildir/maildir.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"
#include "watch.h"

#define FILE_EVENTS (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE)
#define ROOT_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR)

struct watch_dir {
	int wd;
	size_t account;
	char *folder; /* NULL: the account's root (folders come and go) */
};

struct watch_inotify {
	int fd;
	struct watch_dir *dirs;
	size_t count;
};

struct watch_inotify *watch_inotify_new(void)
{
	struct watch_inotify *w = xcalloc(1, sizeof(*w));

	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		log_error(
		    "cannot watch the Maildirs (inotify): %s; changes there are synced at the next full sync",
		    strerror(errno));
	}
	return w;
}

int watch_inotify_fd(const struct watch_inotify *w)
{
	return w->fd;
}

static void add(struct watch_inotify *w, const char *path, uint32_t mask, size_t account, const char *folder)
{
	int wd = inotify_add_watch(w->fd, path, mask);

	if (wd < 0) {
		log_warn("cannot watch %s: %s", path, strerror(errno));
		return;
	}
	for (size_t i = 0; i < w->count; i++)
		if (w->dirs[i].wd == wd)
			return; /* the same directory again */
	w->dirs = xrealloc(w->dirs, (w->count + 1) * sizeof(*w->dirs));
	w->dirs[w->count++] = (struct watch_dir){wd, account, folder ? xstrdup(folder) : NULL};
}

static void forget(struct watch_inotify *w, size_t account)
{
	size_t n = 0;

	for (size_t i = 0; i < w->count; i++) {
		if (w->dirs[i].account == account) {
			inotify_rm_watch(w->fd, w->dirs[i].wd);
			free(w->dirs[i].folder);
			continue;
		}
		w->dirs[n++] = w->dirs[i];
	}
	w->count = n;
}

int watch_inotify_account(struct watch_inotify *w, const struct config_account *a, size_t account)
{
	const struct config_maildir *m = &a->side[SIDE_B].maildir;
	struct maildir *md;
	struct maildir_folder_list list;
	struct error err;

	if (w->fd < 0)
		return -1;
	forget(w, account);
	md = maildir_new(m->path,
	                 m->layout == CONFIG_LAYOUT_NESTED ? MAILDIR_LAYOUT_NESTED : MAILDIR_LAYOUT_MAILDIRPP,
	                 '/');
	error_clear(&err);
	if (maildir_list(md, &list, &err) < 0) {
		log_warn("%s: cannot list the Maildir's folders to watch them: %s", a->name, err.text);
		maildir_free(md);
		return -1;
	}
	add(w, m->path, ROOT_EVENTS, account, NULL);
	for (size_t i = 0; i < list.count; i++) {
		char *dir = NULL;
		if (maildir_folder_dir(md, list.items[i].name, &dir, &err) < 0)
			continue;
		for (size_t k = 0; k < 2; k++) {
			char *sub = xasprintf("%s/%s", dir, k ? "cur" : "new");
			add(w, sub, FILE_EVENTS, account, list.items[i].name);
			free(sub);
		}
		/* Nested layout: a folder's directory holds its subfolders. */
		if (m->layout == CONFIG_LAYOUT_NESTED && strcmp(dir, m->path) != 0)
			add(w, dir, ROOT_EVENTS, account, NULL);
		free(dir);
	}
	maildir_folder_list_free(&list);
	maildir_free(md);
	return 0;
}

void watch_inotify_read(struct watch_inotify *w, int fd)
{
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)] __attribute__((aligned(8)));
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			/* tmp/ files and dot files are not messages (yet). */
			if (ev->len && ev->name[0] == '.' && !(ev->mask & IN_ISDIR))
				continue;
			if (ev->mask & IN_Q_OVERFLOW) {
				for (size_t i = 0; i < w->count; i++)
					if (!w->dirs[i].folder)
						watch_notify(fd, w->dirs[i].account, NULL);
				continue;
			}
			for (size_t i = 0; i < w->count; i++) {
				if (w->dirs[i].wd != ev->wd)
					continue;
				/* At a root only folders matter: a directory. */
				if (!w->dirs[i].folder && !(ev->mask & IN_ISDIR))
					break;
				watch_notify(fd, w->dirs[i].account, w->dirs[i].folder);
				break;
			}
		}
	}
}

void watch_inotify_free(struct watch_inotify *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->count; i++)
		free(w->dirs[i].folder);
	free(w->dirs);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}
