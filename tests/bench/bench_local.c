/*
 * Local changes for the bench: what a mail client does to a Maildir
 * between two syncs (flags changed by renaming, new messages written),
 * done the same way to every tool's Maildir so the tools push the same
 * amount of work.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "support/dovecot_p.h"
#include "twinbox/util/xmalloc.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in `dir` that do not start with '.', sorted so every run picks the
 * same files; caller frees each and the array. */
static char **list_names(const char *dir, size_t *count_r)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*count_r = 0;
	if (!d)
		bench_fail("cannot open %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*count_r = n;
	return v;
}

/* The info part with `flag` added or removed, letters kept in ASCII order
 * as the Maildir convention asks. */
static void edit_info(const char *info, char flag, bool set, char *out, size_t out_size)
{
	size_t o = 0;
	bool placed = !set;

	for (const char *p = info; *p && o + 2 < out_size; p++) {
		if (*p == flag)
			continue;
		if (!placed && *p > flag) {
			out[o++] = flag;
			placed = true;
		}
		out[o++] = *p;
	}
	if (!placed && o + 1 < out_size)
		out[o++] = flag;
	out[o] = '\0';
}

size_t bench_maildir_toggle_flag(const char *folder, char flag, bool set, size_t max)
{
	char *cur = xasprintf("%s/cur", folder), *new = xasprintf("%s/new", folder);
	size_t count, changed = 0;
	char **names = list_names(cur, &count);

	for (size_t i = 0; i < count; i++) {
		const char *info = strstr(names[i], ":2,");
		char edited[64];
		char *from, *to;

		if (changed < max && info && (strchr(info + 3, flag) != NULL) != set &&
		    strlen(info + 3) < 32) {
			edit_info(info + 3, flag, set, edited, sizeof(edited));
			from = xasprintf("%s/%s", cur, names[i]);
			to = xasprintf("%s/%.*s:2,%s", cur, (int)(info - names[i]), names[i], edited);
			if (rename(from, to) != 0)
				bench_fail("cannot rename %s: %s", from, strerror(errno));
			free(from);
			free(to);
			changed++;
		}
		free(names[i]);
	}
	free(names);
	/* Unseen mail in new/ has no flags: a client flagging it moves it
	 * to cur/ with the flag, as a reader does. */
	names = set && changed < max ? list_names(new, &count) : NULL;
	for (size_t i = 0; names && i < count; i++) {
		const char *info = strstr(names[i], ":2,");
		char edited[64];

		/* Some tools (mbsync) keep an empty info part in new/. */
		if (changed < max && (!info || (!strchr(info + 3, flag) && strlen(info + 3) < 32))) {
			char *from = xasprintf("%s/%s", new, names[i]);
			char *to;

			edit_info(info ? info + 3 : "", flag, true, edited, sizeof(edited));
			to = xasprintf("%s/%.*s:2,%s", cur,
			               info ? (int)(info - names[i]) : (int)strlen(names[i]), names[i],
			               edited);

			if (rename(from, to) != 0)
				bench_fail("cannot rename %s: %s", from, strerror(errno));
			free(from);
			free(to);
			changed++;
		}
		free(names[i]);
	}
	free(names);
	free(cur);
	free(new);
	return changed;
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		bench_fail("cannot create %s: %s", path, strerror(errno));
}

void bench_maildir_add(const char *folder, unsigned count, unsigned seed, size_t attach, unsigned flag_every)
{
	static unsigned serial;
	const char *subs[] = {"cur", "new", "tmp"};
	struct error err;

	make_dir(folder);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *p = xasprintf("%s/%s", folder, subs[i]);
		make_dir(p);
		free(p);
	}
	for (unsigned i = 0; i < count; i++) {
		size_t len;
		char *text = test_message(seed + i, i % 5 == 4 ? attach : 0, &len);
		char *path;

		/* Delivered mail sits in new/ without flags; mail a client
		 * has seen sits in cur/ with its flags. */
		if (flag_every)
			path = xasprintf("%s/cur/1700000000.B%u.bench:2,%s", folder, serial++,
			                 i % flag_every == 0 ? "FS" : "S");
		else
			path = xasprintf("%s/new/1700000000.B%u.bench", folder, serial++);
		if (dv_write_file(path, text, len, 0600, &err) < 0)
			bench_fail("%s", err.text);
		free(path);
		free(text);
	}
}
