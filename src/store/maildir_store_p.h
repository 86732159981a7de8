/* Private to the maildir store: shared by maildir_store.c and
 * maildir_stream.c. */
#ifndef TWINBOX_STORE_MAILDIR_STORE_P_H
#define TWINBOX_STORE_MAILDIR_STORE_P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"
#include "twinbox/store/store.h"

/* Bytes read or written per step; conversion needs at most twice that. */
#define IO_CHUNK 65536

struct maildir_store {
	struct store base; /* first: a struct store * is a struct maildir_store * */
	struct maildir *md;
};

struct mds_committer;
struct mds_kw;

struct store_folder {
	struct maildir_store *st;
	struct maildir_folder *mf;
	struct mds_committer *committer; /* maildir_commit.c; NULL until a download */
	struct mds_kw *kw;               /* maildir_store_kw.c */
};

/* Maildir flag letters -> MAIL_FLAG_* bits, by the table of
 * util/mailflags.h. */
unsigned mds_flags_of(uint64_t letters);

/* maildir_store_kw.c: the folder's keywords. mds_kw_open reads its
 * Dovecot keyword table (maildir/keywords.h) when the folder opens
 * (-1: ERR_MAILBOX), mds_kw_close frees it all, mds_kw_reread reads it
 * again (before a snapshot). */
int mds_kw_open(struct store_folder *f, struct error *err);
void mds_kw_close(struct store_folder *f);
int mds_kw_reread(struct store_folder *f, struct error *err);
/* The keywords of flag letters: $Forwarded for 'P', the table's names
 * for 'a'..'z' (a letter without a name: none). Canonical text or NULL,
 * valid until the folder closes. */
const char *mds_keywords_of(struct store_folder *f, uint64_t letters);
/* The letters of `flags` and canonical `keywords`: the vocabulary's
 * and the table's. A keyword without a letter gets one when `give`
 * (written to the table; ERR_MESSAGE when none is free, worse when the
 * table cannot be written), else is left out (a removal, a hint). */
int mds_letters_of(struct store_folder *f, unsigned flags, const char *keywords, bool give,
                   uint64_t *letters_r, struct error *err);
/* store_ops.keeps: the system flags, $Forwarded, the table's keywords,
 * and room for as many new ones as letters are free. */
void mds_kw_keeps(struct store_folder *f, struct store_keep *keep_r);

/* read() retried on EINTR. */
ssize_t mds_read_some(int fd, void *buf, size_t len);
/* ERR_MESSAGE naming the message, from errno. */
int mds_read_failed(struct store_folder *f, const char *name, struct error *err);
/* The canonical (CRLF) size of the file at fd, read from its current
 * offset with the IO_CHUNK buffer `in`. */
int mds_canonical_size(struct store_folder *f, const char *name, int fd, char *in, uint64_t *size_r,
                       struct error *err);
/* CRLF -> LF of `len` bytes into `out` (room for len + 1); a CR at the
 * end is carried in *pending_cr to the next call. */
size_t mds_crlf_to_lf(const char *in, size_t len, char *out, bool *pending_cr);

/* maildir_stream.c: the writer and source ops of store.h. */
int mds_write_begin(struct store_folder *f, const struct store_new_msg *meta, void **writer_r,
                    struct error *err);
int mds_write_chunk(void *writer, const void *data, size_t len, struct error *err);
int mds_write_end(void *writer, bool commit, char **name_r, uint32_t *uid_r, struct error *err);
int mds_open_source(struct store_folder *f, const struct store_msg *msg, struct store_new_msg *src_r,
                    struct error *err);
void mds_close_source(struct store_new_msg *src);

/* maildir_commit.c: downloads made durable in a thread of their own.
 * mdc_commit: seal `d` here and queue it (may wait for room); it fails
 * only on the seal, which aborts `d`. mdc_drain: wait until every queued
 * message is linked and enter them in the folder's snapshot; -1 when one
 * could not be stored (ERR_MAILBOX or worse). mdc_stop: drain, end the
 * thread (for close_folder). */
struct maildir_delivery;
int mdc_commit(struct store_folder *f, struct maildir_delivery *d, struct error *err);
int mdc_drain(struct store_folder *f, struct error *err);
void mdc_stop(struct store_folder *f);

#endif
