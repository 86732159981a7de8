/*
 * The maildir store's streaming ops: a writer that delivers a message
 * pushed in chunks (the sink of a remote fetch: socket to tmp/ with flat
 * memory), and a source that reads a file as the canonical CRLF stream
 * (for a remote APPEND, file to socket).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir_store_p.h"
#include "twinbox/maildir/delivery.h"
#include "twinbox/maildir/flags.h"
#include "twinbox/util/xmalloc.h"

struct mds_writer {
	struct store_folder *f;
	struct maildir_delivery *d;
	char *id;
	bool pending_cr;
};

int mds_write_begin(struct store_folder *f, const struct store_new_msg *meta, void **writer_r,
                    struct error *err)
{
	struct maildir_delivery_opts opts = {
	    .id = meta->name_r,
	    .size = MAILDIR_SIZE_UNKNOWN,
	    .has_mtime = meta->date != 0,
	    .mtime = meta->date,
	    .defer_dir_sync = 1,
	};
	struct mds_writer *w = xmalloc(sizeof(*w));

	w->f = f;
	w->pending_cr = false;
	if (mds_letters_of(f, meta->flags, meta->keywords, true, &opts.flags, err) < 0 ||
	    maildir_delivery_begin(f->mf, &opts, &w->d, err) < 0) {
		free(w);
		*writer_r = NULL;
		return -1;
	}
	w->id = xstrdup(maildir_delivery_id(w->d));
	*writer_r = w;
	return 0;
}

/* The bytes come converted straight into the delivery's write buffer:
 * n bytes of CRLF text make at most n + 1 (a CR held over from the last
 * chunk), so n is one less than the room. */
int mds_write_chunk(void *writer, const void *data, size_t len, struct error *err)
{
	struct mds_writer *w = writer;
	const char *p = data;

	while (len > 0) {
		size_t room, n, o;
		char *out = (char *)maildir_delivery_room(w->d, &room);
		int rc;

		if (room >= 2) {
			n = len < room - 1 ? len : room - 1;
			o = mds_crlf_to_lf(p, n, out, &w->pending_cr);
			rc = maildir_delivery_advance(w->d, o, err);
		} else {
			/* One byte of room (or a failed delivery): a byte. */
			char small[2];

			n = 1;
			o = mds_crlf_to_lf(p, n, small, &w->pending_cr);
			rc = maildir_delivery_write(w->d, small, o, err);
		}
		if (rc < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int mds_write_end(void *writer, bool commit, char **name_r, uint32_t *uid_r, struct error *err)
{
	struct mds_writer *w = writer;
	int rc = 0;

	if (uid_r)
		*uid_r = 0;
	if (name_r)
		*name_r = NULL;
	if (commit && w->pending_cr && maildir_delivery_write(w->d, "\r", 1, err) < 0) {
		commit = false; /* after a failed write only abort is allowed */
		rc = -1;
	}
	if (!commit) {
		maildir_delivery_abort(w->d);
	} else if (mdc_commit(w->f, w->d, err) < 0) {
		rc = -1; /* commit frees the delivery either way */
	} else if (name_r) {
		*name_r = w->id;
		w->id = NULL;
	}
	free(w->id);
	free(w);
	return rc;
}

/* A message file read as the canonical stream. Many are open at once (a
 * batch of uploads); the buffers exist only while one is being read, so
 * memory stays that of one message in flight however many are open. */
struct mds_source {
	struct store_folder *f;
	char *name; /* for rewind: the file is opened again */
	int fd;     /* -1 once the whole file was read */
	char prev;  /* the last byte read from the file */
	size_t pos, len;
	char *in;  /* IO_CHUNK / 2, from the first read to the end of the file */
	char *out; /* IO_CHUNK: `in` with lone LFs made CRLF */
};

static void source_done(struct mds_source *s)
{
	free(s->in);
	free(s->out);
	s->in = s->out = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Refill `out` from the file with lone LFs made CRLF; `in` is half of
 * `out`, so the result always fits. */
static long long source_read(void *ctx, void *data, size_t len, struct error *err)
{
	struct mds_source *s = ctx;
	size_t take;

	if (s->pos == s->len) {
		ssize_t n;
		size_t o = 0;

		if (s->fd < 0)
			return 0;
		if (!s->in) {
			s->in = xmalloc(IO_CHUNK / 2);
			s->out = xmalloc(IO_CHUNK);
		}
		n = mds_read_some(s->fd, s->in, IO_CHUNK / 2);
		if (n < 0) {
			error_errno(err, ERR_MESSAGE, errno, "cannot read a message file");
			return -1;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (s->in[i] == '\n' && s->prev != '\r')
				s->out[o++] = '\r';
			s->out[o++] = s->in[i];
			s->prev = s->in[i];
		}
		s->pos = 0;
		s->len = o;
		if (o == 0) {
			source_done(s);
			return 0;
		}
	}
	take = s->len - s->pos < len ? s->len - s->pos : len;
	memcpy(data, s->out + s->pos, take);
	s->pos += take;
	return (long long)take;
}

static int source_rewind(void *ctx, struct error *err)
{
	struct mds_source *s = ctx;

	source_done(s);
	s->prev = '\0';
	s->pos = s->len = 0;
	return maildir_folder_open_msg(s->f->mf, s->name, &s->fd, NULL, NULL, err);
}

int mds_open_source(struct store_folder *f, const struct store_msg *msg, struct store_new_msg *src_r,
                    struct error *err)
{
	struct mds_source *s;
	char *scratch;
	time_t mtime;
	int fd, rc;

	memset(src_r, 0, sizeof(*src_r));
	if (maildir_folder_open_msg(f->mf, msg->name, &fd, NULL, &mtime, err) < 0)
		return -1;
	/* The first pass counts the size APPEND must announce. */
	scratch = xmalloc(IO_CHUNK);
	rc = mds_canonical_size(f, msg->name, fd, scratch, &src_r->size, err);
	free(scratch);
	if (rc < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		if (err && err->scope == ERR_NONE)
			mds_read_failed(f, msg->name, err);
		close(fd);
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->f = f;
	s->name = xstrdup(msg->name);
	s->fd = fd;
	src_r->flags = msg->flags;
	src_r->keywords = msg->keywords;
	src_r->date = mtime;
	src_r->date_zone = STORE_ZONE_UNKNOWN;
	src_r->ctx = s;
	src_r->read = source_read;
	src_r->rewind = source_rewind;
	return 0;
}

void mds_close_source(struct store_new_msg *src)
{
	struct mds_source *s = src->ctx;

	if (!s)
		return;
	source_done(s);
	free(s->name);
	free(s);
	src->ctx = NULL;
}
