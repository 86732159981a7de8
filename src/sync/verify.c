/*
 * Verification (engine.h, sync_verify): side A's messages looked for on
 * side B by content, folder by folder, nothing copied or recorded. The
 * figure an admin checks before switching a domain's MX to the new
 * provider; it does not read the state, so it also checks what another
 * tool copied.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "twinbox/store/mapped_store.h"
#include "twinbox/util/xmalloc.h"

static int key_cmp(const void *x, const void *y)
{
	const char *a = *(const char *const *)x, *b = *(const char *const *)y;

	return strcmp(a ? a : "", b ? b : "");
}

/* Side s of folder `name` read: its snapshot and every message's content
 * key (parallel to it; NULL for a message gone meanwhile). A folder
 * missing on side B is empty (*absent_r). */
static int read_side(struct store *st, const char *name, enum side s, struct store_snapshot *snap,
                     char ***keys_r, bool *absent_r, struct error *err)
{
	struct store_folder *f = NULL;
	struct store_folder_info info;
	bool missing = false;
	size_t *want;
	int rc;

	*keys_r = NULL;
	if (st->ops->open_folder(st, name, &f, &info, &missing, err) < 0) {
		if (missing && s == SIDE_B) {
			*absent_r = true;
			return 0;
		}
		return -1;
	}
	rc = st->ops->snapshot(f, snap, err);
	if (rc == 0 && snap->count) {
		want = xmalloc(snap->count * sizeof(*want));
		for (size_t i = 0; i < snap->count; i++)
			want[i] = i;
		rc = engine_keys_of(st, f, snap, want, snap->count, keys_r, err);
		free(want);
	}
	st->ops->close_folder(f);
	return rc;
}

static void free_keys(char **keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
}

/* Count side A's messages whose key side B holds, one B message for one
 * A message (a duplicate on A needs a duplicate on B). */
static void compare(struct sync_verify_report *r, const struct store_snapshot snap[SIDES], char **keys[SIDES])
{
	size_t nb = snap[SIDE_B].count, lo;
	char **b = xcalloc(nb + 1, sizeof(*b));
	bool *used = xcalloc(nb + 1, sizeof(*used));

	for (int s = 0; s < SIDES; s++) {
		r->count[s] = snap[s].count;
		for (size_t i = 0; i < snap[s].count; i++)
			r->bytes[s] += snap[s].msgs[i].size;
	}
	for (size_t i = 0; i < nb; i++)
		b[i] = keys[SIDE_B] ? keys[SIDE_B][i] : NULL;
	qsort(b, nb, sizeof(*b), key_cmp);
	for (size_t i = 0; i < snap[SIDE_A].count; i++) {
		const char *k = keys[SIDE_A] ? keys[SIDE_A][i] : NULL;
		size_t hi = nb;
		bool found = false;

		lo = 0;
		while (k && lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (key_cmp(&b[mid], &k) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; k && lo < nb && b[lo] && strcmp(b[lo], k) == 0 && !found; lo++)
			if (!used[lo])
				found = used[lo] = true;
		if (found) {
			r->matched++;
		} else {
			r->missing++;
			r->missing_bytes += snap[SIDE_A].msgs[i].size;
		}
	}
	free(used);
	free(b);
}

int sync_verify(struct store *a, struct store *b, const struct sync_options *o,
                void (*report)(void *ctx, const struct sync_verify_report *r), void *ctx, struct error *err)
{
	struct sync_options oo = *o;
	struct folder_map map = {0};
	struct store_name_map names_b;
	struct store *mapped = NULL;
	char **names = NULL, **b_names = NULL;

	if (a->ops->list_folders(a, &names, err) < 0) {
		error_prefix(err, "listing the folders to verify");
		return -1;
	}
	if (o->mapping) {
		if (b->ops->list_folders(b, &b_names, err) < 0) {
			store_names_free(names);
			error_prefix(err, "listing the folders to verify");
			return -1;
		}
		engine_build_map(a, names, b, b_names, o, &map);
		store_names_free(b_names);
		oo.skip = (const char *const *)map.skipped;
		oo.skip_count = map.skipped_count;
		names_b = folder_map_names(&map);
		b = mapped = mapped_store_new(b, &names_b);
		o = &oo;
	}
	for (size_t i = 0; names[i]; i++) {
		struct store *st[SIDES] = {a, b};
		struct store_snapshot snap[SIDES] = {{0}};
		char **keys[SIDES] = {NULL, NULL};
		struct sync_verify_report r = {.name = names[i]};

		if (!engine_folder_selected(o, names[i]))
			continue;
		error_clear(&r.err);
		for (int s = 0; s < SIDES && !r.failed && !r.absent; s++)
			r.failed = read_side(st[s], names[i], s, &snap[s], &keys[s], &r.absent, &r.err) < 0;
		if (!r.failed)
			compare(&r, snap, keys);
		report(ctx, &r);
		for (int s = 0; s < SIDES; s++) {
			free_keys(keys[s], snap[s].count);
			store_snapshot_free(&snap[s]);
		}
	}
	store_names_free(names);
	if (mapped)
		mapped_store_free(mapped);
	folder_map_free(&map);
	return 0;
}
