/*
 * Folder mapping: which folder of side B is side A's "Sent", "Drafts",
 * "Trash", "Junk" and "Archive" when the two stores name them
 * differently (two providers: "Sent" and "Sent Items",
 * "[Gmail]/Sent Mail", "Gesendete Objekte"), and which folders are views
 * of other folders' mail. Pure: no I/O; the engine feeds it both
 * sides' folder lists with their special uses and wraps side B's store
 * in the result (store/mapped_store.h), so side A's names are the
 * engine's names and the state's.
 *
 * Order, for each of those uses:
 *   1. explicit renames (the account's `folders: rename:`), always;
 *   2. the folder whose LIST attributes say the use (RFC 6154);
 *   3. where a side has no folder with that attribute (a server without
 *      SPECIAL-USE, a Maildir), the first folder of that side whose name
 *      is a well-known name of the use (English and a few common
 *      localised names, Gmail's "[Gmail]/..."; case-insensitive).
 * Side A's folder for a use is renamed to side B's when both have one
 * and their names differ, unless side B's name is also a folder of side
 * A's (two folders would become one: both are kept as they are) or is
 * already taken by another rename. Delimiters and namespace prefixes
 * need nothing here: the stores give '/'-separated names without their
 * personal namespace's prefix.
 *
 * Views (`\All`, `\Flagged`, or Gmail's names for them where no
 * attribute says): they show mail that other folders hold, so copying
 * them would copy it twice. A view of side A is skipped (not synced; a
 * note says so, and for \All that what is only there, such as Gmail's
 * archived mail, is not copied); one of side B is hidden from the
 * engine (nothing is written to it). A view the renames name is synced
 * as they say (to copy Gmail's "All Mail" into "Archive" whole).
 */
#ifndef TWINBOX_SYNC_FOLDER_MAP_H
#define TWINBOX_SYNC_FOLDER_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "twinbox/state/side.h"
#include "twinbox/store/mapped_store.h"
#include "twinbox/store/store.h"

struct folder_map_rules {
	bool by_use;                        /* steps 2 and 3, and the views */
	const struct store_rename *renames; /* outer: side A's name, inner: side B's */
	size_t rename_count;
	const char *words[SIDES]; /* "the source", "the target" (the defaults) */
};

/* One side's folders: names as its store lists them, uses parallel. */
struct folder_map_side {
	const char *const *names;
	const enum store_special_use *uses;
	size_t count;
};

struct folder_map {
	struct store_rename *renames; /* side A's name -> side B's; fresh */
	size_t rename_count;
	char **hidden; /* side B's folders left out (views) */
	size_t hidden_count;
	char **skipped; /* side A's folders not synced (views) */
	size_t skipped_count;
	char **notes; /* one line per rename or view, for the log and a dry run */
	size_t note_count;
};

void folder_map_build(const struct folder_map_side *a, const struct folder_map_side *b,
                      const struct folder_map_rules *rules, struct folder_map *m_r);
void folder_map_free(struct folder_map *m);

/* `m` as a store_name_map (borrowing from it) for mapped_store_new(). */
struct store_name_map folder_map_names(const struct folder_map *m);

/* The RFC 6154 attribute of a use ("\\Sent"), "" for none. */
const char *folder_map_use_name(enum store_special_use use);

#endif
