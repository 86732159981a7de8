/* Private to src/maildir: the structures behind maildir.h and folder.h. */
#ifndef TWINBOX_MAILDIR_FOLDER_P_H
#define TWINBOX_MAILDIR_FOLDER_P_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/layout.h"
#include "twinbox/maildir/name.h"
#include "twinbox/util/error.h"

struct maildir {
	char *root;
	enum maildir_layout layout;
	char delim;
};

#define ENTRY_HAS_INFO 0x1 /* the file name has ":<info>" (stored after the id's NUL) */
#define ENTRY_GONE     0x2

/* 32 bytes per message plus its name in the arena; 100,000 messages take
 * about 10 MB in all. */
struct maildir_entry {
	uint64_t flags;
	uint64_t size; /* MAILDIR_SIZE_UNKNOWN until known */
	char *id;      /* arena: "<id>\0" or "<id>\0<info>\0" */
	uint16_t id_len;
	uint8_t subdir;
	uint8_t bits;
};

/* Names live in chunks that never move, so `id` pointers stay valid
 * while entries are added; all chunks are dropped at the next scan. */
struct maildir_chunk {
	struct maildir_chunk *next;
	size_t used;
	char data[];
};

struct maildir_folder {
	char *name;
	char *path;
	int dir_fd;
	int sub_fd[3]; /* MAILDIR_NEW, MAILDIR_CUR, SUB_TMP */

	struct maildir_entry *entries;
	size_t count, cap;
	struct maildir_chunk *arena;
	uint32_t *slots; /* open addressing: entry index + 1, 0 = free */
	size_t nslots;   /* a power of two, at least twice `count` */

	struct maildir_times scan_times;
	/* A scan passed: the index is the folder's snapshot, and deliveries
	 * are added to it. Before that they are not, so a handle that only
	 * delivers (a POP3 import) holds nothing per message. */
	bool scanned;
	size_t duplicates;
	int dirty[2]; /* new/, cur/ changed since the last maildir_folder_sync() */
	/* CLOCK_MONOTONIC_COARSE ms of the last passed maildir_folder_check(),
	 * 0 after a failed one; the committer thread checks too. */
	atomic_llong checked_ms;
	/* maildir_folder_listing(): kept through the handle's own changes
	 * while `listing_known`. */
	struct maildir_listing listing;
	bool listing_known;
};

#define SUB_TMP  2
#define NO_ENTRY SIZE_MAX

extern const char *const maildir_subdir_names[3];

/* ERR_FATAL for a full disk or a read-only filesystem, else `scope`. */
enum err_scope maildir_errno_scope(int errnum, enum err_scope scope);

/* Forget all entries and names. */
void maildir_index_reset(struct maildir_folder *f);
/* Add an entry for file `fname` (parsed as `pn`) in `subdir`; returns its
 * index. Does not check for an existing entry with the same id. */
size_t maildir_index_add(struct maildir_folder *f, const char *fname, const struct maildir_name *pn,
                         enum maildir_subdir subdir);
/* Point entry i at a new file name (same id) in `subdir`. */
void maildir_index_rename(struct maildir_folder *f, size_t i, const char *fname,
                          const struct maildir_name *pn, enum maildir_subdir subdir);
/* The entry with id (`len` bytes), gone ones skipped, or NO_ENTRY. */
size_t maildir_index_find(const struct maildir_folder *f, const char *id, size_t len);
/* The file name of entry i into out. */
void maildir_entry_name(const struct maildir_entry *e, char out[MAILDIR_NAME_MAX + 1]);

/* Count file `name` of `sd` into the folder's listing (`sign` +1) or
 * out of it (-1), while the listing is known. */
void maildir_listing_count(struct maildir_folder *f, enum maildir_subdir sd, const char *name, int sign);
/* Add file `name` of `sd` to listing `l`. */
void maildir_listing_add(struct maildir_listing *l, enum maildir_subdir sd, const char *name);

/* Fail (ERR_MAILBOX) unless the folder's path still leads to the very
 * directories the handle has open (six stat calls). Any thread. */
int maildir_folder_check(struct maildir_folder *f, struct error *err);
/* The same, or 0 at once when a check passed less than
 * MAILDIR_CHECK_FRESH_MS ago and none failed since: for a check that
 * only makes a failure come early, such as at the start of a delivery
 * (the check before a message is published is never skipped). */
#define MAILDIR_CHECK_FRESH_MS 1000
int maildir_folder_check_recent(struct maildir_folder *f, struct error *err);

/* Find `id` in the snapshot, else on disk (maildir_folder_locate); fails
 * with ERR_MESSAGE when there is no such message. */
int maildir_lookup(struct maildir_folder *f, const char *id, size_t *i_r, struct error *err);

/* Move without ever replacing an existing target: renameat2(NOREPLACE),
 * else link + unlink, else (no hard links either) rename after checking
 * the target is absent. Returns 0 or -1 with errno (EEXIST: target exists). */
int maildir_move_noreplace(int from_fd, const char *from, int to_fd, const char *to);

#endif
