/*
 * A store seen under other folder names: folders of an inner store
 * renamed (with everything under them) and some left out, so that the
 * engine, which names a folder the same on both sides, syncs "Sent" on
 * one server with "Sent Items" on the other (sync/folder_map.h decides
 * which). Only folder names change; messages, folder handles and
 * everything else are the inner store's.
 *
 * Names: `outer` is the engine's name of a folder, `inner` the inner
 * store's. A rename applies to the folder and to the folders under it
 * ("Sent/2019" is "Sent Items/2019"); the longest matching rename wins.
 * The inner store's own folder named like a rename's `outer` (or under
 * it) is left out of the list and cannot be opened: the engine's name
 * means the renamed one. Hidden inner names (exactly those) are left
 * out likewise. And an engine's name that is a rename's `inner` (the
 * other side has a folder of that name too) reaches no inner folder:
 * the inner one of that name is the renamed folder's, and two folders
 * never become one.
 */
#ifndef TWINBOX_STORE_MAPPED_STORE_H
#define TWINBOX_STORE_MAPPED_STORE_H

#include <stddef.h>

#include "twinbox/store/store.h"

struct store_rename {
	char *outer;
	char *inner;
};

struct store_name_map {
	const struct store_rename *renames;
	size_t rename_count;
	const char *const *hidden; /* inner names left out */
	size_t hidden_count;
};

/* `inner` under the names of `map`. Both are borrowed: they must outlive
 * the result, which mapped_store_free() (or its ops->close) releases
 * without closing `inner`. */
struct store *mapped_store_new(struct store *inner, const struct store_name_map *map);
void mapped_store_free(struct store *st);

/* The inner store's name of folder `outer` (fresh), or NULL when the
 * map leaves it as it is. */
char *store_map_inner(const struct store_name_map *map, const char *outer);
/* The engine's name of the inner store's folder `inner` (fresh): renamed,
 * the same, or NULL when the map leaves it out. */
char *store_map_outer(const struct store_name_map *map, const char *inner);
/* A NULL-terminated array of the inner store's folder names (as its
 * list_folders gives them) turned in place into the engine's: renamed,
 * those the map leaves out freed and dropped, sorted again. */
void store_map_names(const struct store_name_map *map, char **names);

#endif
