/*
 * DESIGN.md's layer picture, checked on the source tree: a file of one
 * layer (src/<layer>/ and include/twinbox/<layer>/) includes headers of
 * its own layer and of the layers below it only; and the sync engine
 * sees the stores through store/ alone (no skip to a protocol or to the
 * Maildir code).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"

/* Bottom up, as DESIGN.md numbers them; imap and pop3 share a rank but
 * do not use each other. */
static const struct {
	const char *name;
	int rank;
} layers[] = {
    {"util", 1},  {"net", 2},   {"imap", 3}, {"pop3", 3},   {"maildir", 4},
    {"store", 5}, {"state", 6}, {"sync", 7}, {"config", 8}, {"cli", 9},
};

#define N_LAYERS (sizeof(layers) / sizeof(layers[0]))

static int rank_of(const char *name, size_t len)
{
	for (size_t i = 0; i < N_LAYERS; i++)
		if (strlen(layers[i].name) == len && strncmp(layers[i].name, name, len) == 0)
			return layers[i].rank;
	return -1;
}

static const char *srcdir(void)
{
	const char *d = getenv("TWINBOX_SRCDIR");

	return d ? d : ".";
}

/* Layers a layer may not include although they are below it: the
 * skips DESIGN.md rules out. */
static bool skip_refused(const char *layer, const char *other, size_t len)
{
	static const struct {
		const char *layer, *other;
	} refused[] = {
	    {"sync", "net"},
	    {"sync", "imap"},
	    {"sync", "pop3"},
	    {"sync", "maildir"},
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcmp(layer, refused[i].layer) == 0 && strlen(refused[i].other) == len &&
		    strncmp(other, refused[i].other, len) == 0)
			return true;
	return false;
}

/* Every `#include "twinbox/<other>/` of `path` (a file of `layer`) that
 * points up or sideways, or skips down where refused, appended to
 * `bad`. */
static void check_file(const char *path, const char *layer, struct buf *bad)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int own = rank_of(layer, strlen(layer));

	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "#include \"twinbox/");
		const char *other, *slash;

		if (!p)
			continue;
		other = p + strlen("#include \"twinbox/");
		slash = strchr(other, '/');
		if (!slash)
			continue;
		if ((size_t)(slash - other) == strlen(layer) && strncmp(other, layer, strlen(layer)) == 0)
			continue;
		if (rank_of(other, (size_t)(slash - other)) < own &&
		    !skip_refused(layer, other, (size_t)(slash - other)))
			continue;
		buf_printf(bad, "%s: %s", path, p);
	}
	fclose(f);
}

static size_t check_dir(const char *dir, const char *layer, struct buf *bad)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0; /* a layer without public headers */
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char path[4096];

		if (len < 3 || e->d_name[len - 2] != '.' ||
		    (e->d_name[len - 1] != 'c' && e->d_name[len - 1] != 'h'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		check_file(path, layer, bad);
		n++;
	}
	closedir(d);
	return n;
}

Test(layers, includes_point_down_only)
{
	struct buf bad = BUF_INIT;
	size_t files = 0;

	for (size_t i = 0; i < N_LAYERS; i++) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/src/%s", srcdir(), layers[i].name);
		files += check_dir(dir, layers[i].name, &bad);
		snprintf(dir, sizeof(dir), "%s/include/twinbox/%s", srcdir(), layers[i].name);
		files += check_dir(dir, layers[i].name, &bad);
	}
	cr_assert_gt(files, 100, "found only %zu source files under %s (set TWINBOX_SRCDIR)", files,
	             srcdir());
	cr_expect_eq(bad.len, 0, "includes that point up or sideways, or skip a layer:\n%s",
	             bad.len ? buf_cstr(&bad) : "");
	buf_free(&bad);
}
