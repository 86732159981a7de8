#include "twinbox/store/maildir_store.h"
#include "maildir_store_p.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twinbox/maildir/delivery.h"
#include "twinbox/maildir/flags.h"
#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"
#include "twinbox/maildir/name.h"
#include "twinbox/util/clock.h"
#include "twinbox/util/log.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

/* --- flags ---------------------------------------------------------------- */

unsigned mds_flags_of(uint64_t letters)
{
	unsigned flags = 0;

	for (const struct mail_flag_def *d = mail_flag_defs; d->imap; d++)
		if (d->bit && (letters & maildir_flag_bit(d->letter)))
			flags |= d->bit;
	return flags;
}

/* What a Maildir folder keeps (mds_kw_keeps): the engine neither reads
 * a keyword's absence here as its removal nor sets one here unless the
 * folder has a letter for it, or room for one. */
static void keeps(struct store_folder *f, struct store_keep *keep_r)
{
	mds_kw_keeps(f, keep_r);
}

/* --- folders -------------------------------------------------------------- */

static int list_folders(struct store *base, char ***names_r, struct error *err)
{
	struct maildir_store *st = (struct maildir_store *)base;
	struct maildir_folder_list list;
	char **names;

	*names_r = NULL;
	if (maildir_list(st->md, &list, err) < 0)
		return -1;
	if (list.root_missing)
		return error_set(
		    err, ERR_ACCOUNT,
		    "the Maildir root %s does not exist (is the disk mounted?); create it if this "
		    "account is new",
		    maildir_root(st->md));
	names = xcalloc(list.count + 1, sizeof(*names));
	for (size_t i = 0; i < list.count; i++) {
		names[i] = list.items[i].name;
		list.items[i].name = NULL;
	}
	maildir_folder_list_free(&list);
	*names_r = names;
	return 0;
}

static int create_folder(struct store *base, const char *name, struct error *err)
{
	struct maildir_store *st = (struct maildir_store *)base;

	return maildir_folder_create(st->md, name, err);
}

static int delete_folder(struct store *base, const char *name, struct error *err)
{
	struct maildir_store *st = (struct maildir_store *)base;

	return maildir_folder_remove(st->md, name, err);
}

static void set_marks(struct store_folder_info *info_r, const struct maildir_times *t)
{
	info_r->marks[0] = t->new_mtime;
	info_r->marks[1] = t->cur_mtime;
	info_r->marks_settled = t->settled != 0;
}

/* The times of new/ and cur/; a folder that cannot be opened is "not
 * known" here: opening it for the sync then says why. */
static int folder_status(struct store *base, const char *name, struct store_folder_info *info_r,
                         struct error *err)
{
	struct maildir_store *st = (struct maildir_store *)base;
	enum maildir_presence presence;
	struct maildir_folder *mf;
	struct maildir_times times;
	struct error ignored;
	int rc;

	(void)err;
	memset(info_r, 0, sizeof(*info_r));
	if (maildir_folder_open(st->md, name, &presence, &mf, &ignored) < 0)
		return 0;
	rc = maildir_folder_times(mf, &times, &ignored);
	maildir_folder_close(mf);
	if (rc < 0)
		return 0;
	set_marks(info_r, &times);
	return 1;
}

static void close_folder(struct store_folder *f)
{
	if (!f)
		return;
	mdc_stop(f);
	mds_kw_close(f);
	maildir_folder_close(f->mf);
	free(f);
}

static int open_folder(struct store *base, const char *name, struct store_folder **f_r,
                       struct store_folder_info *info_r, bool *missing_r, struct error *err)
{
	struct maildir_store *st = (struct maildir_store *)base;
	enum maildir_presence presence;
	struct maildir_folder *mf;
	struct maildir_times times;
	struct store_folder *f;

	*f_r = NULL;
	if (missing_r)
		*missing_r = false;
	if (info_r)
		memset(info_r, 0, sizeof(*info_r));
	if (maildir_folder_open(st->md, name, &presence, &mf, err) < 0) {
		if (presence == MAILDIR_FOLDER_MISSING && missing_r)
			*missing_r = true;
		/* Every folder of the account would be "missing": that is not
		 * one folder's problem, and never a deletion. */
		if (presence == MAILDIR_ROOT_MISSING)
			error_escalate(err, ERR_ACCOUNT);
		return -1;
	}
	if (maildir_folder_times(mf, &times, err) < 0) {
		maildir_folder_close(mf);
		return -1;
	}
	if (info_r)
		set_marks(info_r, &times);
	f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->mf = mf;
	if (mds_kw_open(f, err) < 0) {
		close_folder(f);
		return -1;
	}
	*f_r = f;
	return 0;
}

/* --- snapshots ------------------------------------------------------------ */

/* Dovecot's ",W=<n>" in a name is the size with CRLF line endings: the
 * canonical size, for free. 0 when the id has none (or a bad one). */
static uint64_t id_vsize(const char *id)
{
	const char *p = strstr(id, ",W=");
	uint64_t v = 0;

	if (!p)
		return 0;
	p += 3;
	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > MAILDIR_SIZE_LIMIT)
			return 0;
	}
	return *p == '\0' || *p == ',' ? v : 0;
}

static int cmp_msg(const void *a, const void *b)
{
	return strcmp(((const struct store_msg *)a)->name, ((const struct store_msg *)b)->name);
}

/* The names point into the folder's index (maildir_folder_msg), which
 * stays until the folder's next scan or its close: no copy of them. */
static int snapshot(struct store_folder *f, struct store_snapshot *snap_r, struct error *err)
{
	size_t n, k = 0;

	memset(snap_r, 0, sizeof(*snap_r));
	if (mds_kw_reread(f, err) < 0 || maildir_folder_scan(f->mf, 0, err) < 0)
		return -1;
	n = maildir_folder_count(f->mf);
	snap_r->msgs = xcalloc(n ? n : 1, sizeof(*snap_r->msgs));
	for (size_t i = 0; i < n; i++) {
		struct maildir_msg m;
		struct store_msg *sm = &snap_r->msgs[k];

		maildir_folder_msg(f->mf, i, &m);
		if (m.gone)
			continue;
		sm->name = m.id;
		sm->flags = mds_flags_of(m.flags);
		sm->keywords = mds_keywords_of(f, m.flags);
		sm->size = id_vsize(m.id);
		k++;
	}
	snap_r->count = k;
	if (k > 1)
		qsort(snap_r->msgs, k, sizeof(*snap_r->msgs), cmp_msg);
	return 0;
}

static int find_msgs(struct store_folder *f, struct store_msg *msgs, size_t count, struct error *err)
{
	if (mds_kw_reread(f, err) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		struct maildir_msg m;
		uint64_t hint;
		size_t at;
		int found;

		if (mds_letters_of(f, msgs[i].flags, msgs[i].keywords, false, &hint, err) < 0)
			return -1;
		found = maildir_folder_adopt(f->mf, msgs[i].name, hint, &at, err);
		if (found <= 0)
			return found;
		maildir_folder_msg(f->mf, at, &m);
		msgs[i].flags = mds_flags_of(m.flags);
		msgs[i].keywords = mds_keywords_of(f, m.flags);
	}
	return 1;
}

static int count_msgs(struct store_folder *f, size_t *count_r, struct error *err)
{
	return maildir_folder_count_files(f->mf, count_r, err);
}

static int read_listing(struct store_folder *f, struct store_listing *l_r, struct error *err)
{
	struct maildir_listing l;
	int rc = maildir_folder_read_listing(f->mf, &l, err);

	*l_r = (struct store_listing){l.digest, l.files};
	return rc;
}

static void assume_listing(struct store_folder *f, const struct store_listing *l)
{
	maildir_folder_assume_listing(f->mf, &(struct maildir_listing){l->digest, l->files});
}

static int listing(struct store_folder *f, struct store_listing *l_r)
{
	struct maildir_listing l;

	if (!maildir_folder_listing(f->mf, &l))
		return 0;
	*l_r = (struct store_listing){l.digest, l.files};
	return 1;
}

/* --- reading: LF on disk -> CRLF ------------------------------------------ */

ssize_t mds_read_some(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

int mds_read_failed(struct store_folder *f, const char *name, struct error *err)
{
	return error_errno(err, ERR_MESSAGE, errno, "cannot read message %s in %s", name,
	                   maildir_folder_path(f->mf));
}

/* The size fetch will send: the file size plus a CR for each LF that has
 * none before it. */
int mds_canonical_size(struct store_folder *f, const char *name, int fd, char *in, uint64_t *size_r,
                       struct error *err)
{
	uint64_t size = 0;
	char prev = '\0';
	ssize_t n;

	while ((n = mds_read_some(fd, in, IO_CHUNK)) > 0) {
		const char *p = in, *end = in + n, *q;

		size += (uint64_t)n;
		while ((q = memchr(p, '\n', (size_t)(end - p)))) {
			if ((q > in ? q[-1] : prev) != '\r')
				size++;
			p = q + 1;
		}
		prev = end[-1];
	}
	if (n < 0)
		return mds_read_failed(f, name, err);
	*size_r = size;
	return 0;
}

/* Stream the file from its start to the sink with every lone LF made
 * CRLF; with `headers_only`, stop after the first empty line. Each sink
 * chunk is one read's worth, at most 2 * IO_CHUNK bytes. */
static int stream_msg(struct store_folder *f, const char *name, int fd, bool headers_only, uint64_t expect,
                      const struct store_sink *sink, char *in, char *out, struct error *err)
{
	uint64_t sent = 0;
	size_t col = 0; /* bytes since the last LF, counted up to 2 */
	char prev = '\0';
	bool done = false;
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return mds_read_failed(f, name, err);
	while (!done && (n = mds_read_some(fd, in, IO_CHUNK)) != 0) {
		const char *p = in, *end;
		size_t o = 0;

		if (n < 0)
			return mds_read_failed(f, name, err);
		end = in + n;
		while (p < end) {
			const char *q = memchr(p, '\n', (size_t)(end - p));
			size_t len = (size_t)((q ? q : end) - p);
			bool empty;

			memcpy(out + o, p, len);
			o += len;
			if (len) {
				prev = p[len - 1];
				col = col + len > 2 ? 2 : col + len;
			}
			if (!q)
				break;
			if (prev != '\r')
				out[o++] = '\r';
			out[o++] = '\n';
			empty = col == 0 || (col == 1 && prev == '\r');
			col = 0;
			prev = '\n';
			p = q + 1;
			if (headers_only && empty) {
				done = true;
				break;
			}
		}
		if (o && sink->chunk(sink->ctx, out, o, err) < 0)
			return -1;
		sent += o;
	}
	/* Maildir files never change once delivered; one that did between
	 * the two passes must not go out with a wrong size. */
	if (!headers_only && sent != expect)
		return error_set(err, ERR_MESSAGE,
		                 "message %s in %s changed while it was being read; it will be tried again "
		                 "next time",
		                 name, maildir_folder_path(f->mf));
	return 0;
}

static int fetch_one(struct store_folder *f, const struct store_msg *want, bool headers_only,
                     const struct store_sink *sink, char *in, char *out, struct error *err)
{
	struct store_msg m = *want;
	struct error lerr;
	time_t mtime;
	size_t i;
	int fd, rc;

	if (maildir_folder_open_msg(f->mf, want->name, &fd, NULL, &mtime, err) < 0) {
		if (err && err->scope > ERR_MESSAGE)
			return -1;
		/* Gone meanwhile (a mail reader deleted it) is no failure;
		 * anything else that stops a read is. */
		if (maildir_folder_locate(f->mf, want->name, &lerr) == 0) {
			log_debug("maildir: %s: message %s is gone; not fetching it",
			          maildir_folder_path(f->mf), want->name);
			return 0;
		}
		return -1;
	}
	rc = mds_canonical_size(f, want->name, fd, in, &m.size, err);
	if (rc == 0) {
		struct maildir_msg mm;

		m.date = mtime;
		m.date_zone = STORE_ZONE_UNKNOWN;
		m.uid = 0;
		m.modseq = 0;
		if (maildir_folder_find(f->mf, want->name, &i)) {
			maildir_folder_msg(f->mf, i, &mm);
			m.flags = mds_flags_of(mm.flags);
			m.keywords = mds_keywords_of(f, mm.flags);
		}
		rc = sink->begin(sink->ctx, &m, err);
	}
	if (rc == 0)
		rc = stream_msg(f, want->name, fd, headers_only, m.size, sink, in, out, err);
	if (rc == 0)
		rc = sink->end(sink->ctx, err);
	close(fd);
	return rc;
}

static int fetch_common(struct store_folder *f, const struct store_msg *msgs, size_t count, bool headers_only,
                        const struct store_sink *sink, struct error *err)
{
	char *in = xmalloc(IO_CHUNK), *out = xmalloc(2 * IO_CHUNK);
	int rc = 0;

	for (size_t i = 0; i < count && rc == 0; i++) {
		if (!msgs[i].name)
			rc = error_set(err, ERR_MESSAGE, "a message of %s to fetch has no name",
			               maildir_folder_path(f->mf));
		else
			rc = fetch_one(f, &msgs[i], headers_only, sink, in, out, err);
	}
	free(in);
	free(out);
	return rc;
}

static int fetch(struct store_folder *f, const struct store_msg *msgs, size_t count,
                 const struct store_sink *sink, struct error *err)
{
	return fetch_common(f, msgs, count, false, sink, err);
}

static int fetch_headers(struct store_folder *f, const struct store_msg *msgs, size_t count,
                         const struct store_sink *sink, struct error *err)
{
	return fetch_common(f, msgs, count, true, sink, err);
}

/* --- adding: CRLF -> LF on disk ------------------------------------------- */

static char *reserve_name(struct store_folder *f, uint64_t size)
{
	(void)f;
	(void)size; /* no ",S=": the file will not have the canonical size */
	return maildir_unique_id(MAILDIR_SIZE_UNKNOWN);
}

static int clean_leftovers(struct store_folder *f, const char *reserved, struct error *err)
{
	if (reserved)
		return maildir_folder_drop_tmp(f->mf, reserved, err);
	return maildir_folder_clean_tmp(f->mf, clock_now(), NULL, err);
}

/* Turn CRLF into LF in `len` bytes of `in` into `out` (room for len + 1),
 * carrying a CR at the end of one chunk over to the next. */
size_t mds_crlf_to_lf(const char *in, size_t len, char *out, bool *pending_cr)
{
	const char *p = in, *end = in + len;
	size_t o = 0;

	if (*pending_cr && p < end) {
		*pending_cr = false;
		if (*p == '\n') {
			out[o++] = '\n';
			p++;
		} else {
			out[o++] = '\r';
		}
	}
	while (p < end) {
		const char *q = memchr(p, '\r', (size_t)(end - p));
		size_t seg = (size_t)((q ? q : end) - p);

		memcpy(out + o, p, seg);
		o += seg;
		if (!q)
			break;
		if (q + 1 == end) {
			*pending_cr = true;
			break;
		}
		if (q[1] == '\n') {
			out[o++] = '\n';
			p = q + 2;
		} else {
			out[o++] = '\r';
			p = q + 1;
		}
	}
	return o;
}

/* Deliver one message. Returns 0, or -1 with err: ERR_MESSAGE for this
 * message only, more for the folder or the source. */
static int add_one(struct store_folder *f, struct store_new_msg *m, char *in, char *out, struct error *err)
{
	struct maildir_delivery_opts opts = {
	    .id = m->name_r,
	    .size = MAILDIR_SIZE_UNKNOWN,
	    .has_mtime = m->date != 0,
	    .mtime = m->date,
	    .defer_dir_sync = 1,
	};
	struct maildir_delivery *d;
	uint64_t total = 0;
	bool pending_cr = false;
	long long n;
	char *id;

	m->uid_r = 0;
	if (mds_letters_of(f, m->flags, m->keywords, true, &opts.flags, err) < 0 ||
	    maildir_delivery_begin(f->mf, &opts, &d, err) < 0)
		return -1;
	id = xstrdup(maildir_delivery_id(d));
	for (;;) {
		size_t o;

		error_clear(err);
		n = m->read(m->ctx, in, IO_CHUNK, err);
		if (n <= 0)
			break;
		if ((unsigned long long)n > IO_CHUNK) {
			error_set(err, ERR_FATAL, "a message source returned more bytes than asked for");
			goto fail;
		}
		total += (uint64_t)n;
		o = mds_crlf_to_lf(in, (size_t)n, out, &pending_cr);
		if (maildir_delivery_write(d, out, o, err) < 0)
			goto fail;
	}
	if (n < 0) {
		if (err && err->scope == ERR_NONE)
			error_set(err, ERR_MESSAGE, "reading the message failed");
		error_prefix(err, "cannot add a message to %s", maildir_folder_path(f->mf));
		goto fail;
	}
	if (pending_cr && maildir_delivery_write(d, "\r", 1, err) < 0)
		goto fail;
	if (total != m->size) {
		error_set(err, ERR_MESSAGE,
		          "cannot add a message to %s: it has %" PRIu64 " bytes, not the %" PRIu64
		          " announced",
		          maildir_folder_path(f->mf), total, m->size);
		goto fail;
	}
	if (maildir_delivery_commit(d, err) < 0) {
		free(id);
		return -1;
	}
	if (m->name_r)
		free(id);
	else
		m->name_r = id;
	return 0;
fail:
	maildir_delivery_abort(d);
	free(id);
	return -1;
}

static int add(struct store_folder *f, struct store_new_msg *msgs, size_t count, struct error *errs,
               struct error *err)
{
	char *in = xmalloc(IO_CHUNK), *out = xmalloc(IO_CHUNK + 1);
	size_t i;
	int rc = 0;

	for (i = 0; i < count; i++)
		error_clear(&errs[i]);
	for (i = 0; i < count; i++) {
		if (add_one(f, &msgs[i], in, out, &errs[i]) == 0 || errs[i].scope <= ERR_MESSAGE)
			continue;
		/* The folder, the disk or the source is lost: the rest would
		 * fail the same way. */
		if (err)
			*err = errs[i];
		for (size_t j = i + 1; j < count; j++)
			error_set(&errs[j], ERR_MESSAGE,
			          "not added: an earlier message stopped the batch (%s)", errs[i].text);
		rc = -1;
		break;
	}
	free(in);
	free(out);
	return rc;
}

/* --- flags, deletion, durability ------------------------------------------ */

/* After an operation on `name` failed with `e`: 1 when the message is
 * simply gone (which these operations accept), 0 when the failure
 * stands. */
static int failure_is_gone(struct store_folder *f, const char *name, const struct error *e)
{
	struct error lerr;

	return e->scope <= ERR_MESSAGE && maildir_folder_locate(f->mf, name, &lerr) == 0;
}

/* Record a per-message failure; the first one is reported. */
static void note_failure(const struct error *e, bool *failed, struct error *err)
{
	if (!*failed && err)
		*err = *e;
	*failed = true;
}

static int set_flags(struct store_folder *f, const struct store_msg *msgs, size_t count, unsigned add_flags,
                     const char *add_keywords, unsigned remove_flags, const char *remove_keywords,
                     struct error *err)
{
	uint64_t plus, minus;
	bool failed = false;

	/* Letters are given before any file is renamed: a keyword that
	 * cannot have one fails the whole change, not half of it. */
	if (mds_letters_of(f, add_flags, add_keywords, true, &plus, err) < 0 ||
	    mds_letters_of(f, remove_flags, remove_keywords, false, &minus, err) < 0)
		return -1;

	for (size_t i = 0; i < count; i++) {
		struct error e;

		error_clear(&e);
		if (!msgs[i].name) {
			error_set(&e, ERR_MESSAGE, "a message of %s to change has no name",
			          maildir_folder_path(f->mf));
			note_failure(&e, &failed, err);
			continue;
		}
		if (maildir_folder_set_flags(f->mf, msgs[i].name, plus, minus, NULL, &e) == 0)
			continue;
		if (e.scope > ERR_MESSAGE) {
			if (err)
				*err = e;
			return -1;
		}
		if (failure_is_gone(f, msgs[i].name, &e))
			log_debug("maildir: %s: message %s is gone; its flags stay unchanged",
			          maildir_folder_path(f->mf), msgs[i].name);
		else
			note_failure(&e, &failed, err);
	}
	return failed ? -1 : 0;
}

static int delete_msgs(struct store_folder *f, const struct store_msg *msgs, size_t count, struct error *err)
{
	bool failed = false;

	for (size_t i = 0; i < count; i++) {
		struct error e;

		error_clear(&e);
		if (!msgs[i].name) {
			error_set(&e, ERR_MESSAGE, "a message of %s to delete has no name",
			          maildir_folder_path(f->mf));
			note_failure(&e, &failed, err);
			continue;
		}
		if (maildir_folder_delete(f->mf, msgs[i].name, &e) == 0)
			continue;
		if (e.scope > ERR_MESSAGE) {
			if (err)
				*err = e;
			return -1;
		}
		note_failure(&e, &failed, err);
	}
	return failed ? -1 : 0;
}

static int flush(struct store_folder *f, struct error *err)
{
	if (mdc_drain(f, err) < 0)
		return -1;
	return maildir_folder_sync(f->mf, err);
}

static void close_store(struct store *base)
{
	struct maildir_store *st = (struct maildir_store *)base;

	if (!st)
		return;
	maildir_free(st->md);
	free(st);
}

static const struct store_ops maildir_store_ops = {
    .kind = "maildir",
    .key = STORE_KEY_NAME,
    .caps = STORE_CAP_WRITE | STORE_CAP_NAME_AHEAD,
    .keeps = keeps,
    .list_folders = list_folders,
    .create_folder = create_folder,
    .delete_folder = delete_folder,
    .open_folder = open_folder,
    .snapshot = snapshot,
    .find = find_msgs,
    .count = count_msgs,
    .read_listing = read_listing,
    .assume_listing = assume_listing,
    .listing = listing,
    .fetch = fetch,
    .fetch_headers = fetch_headers,
    .reserve_name = reserve_name,
    .clean_leftovers = clean_leftovers,
    .add = add,
    .write_begin = mds_write_begin,
    .write_chunk = mds_write_chunk,
    .write_end = mds_write_end,
    .open_source = mds_open_source,
    .close_source = mds_close_source,
    .set_flags = set_flags,
    .delete = delete_msgs,
    .flush = flush,
    .close_folder = close_folder,
    .close = close_store,
    .folder_status = folder_status,
};

struct store *maildir_store_open(const char *root, enum maildir_layout layout, struct error *err)
{
	struct maildir_store *st;

	if (!root || root[0] != '/') {
		error_set(err, ERR_ACCOUNT, "the Maildir path \"%s\" is not absolute; give a full path",
		          root ? root : "");
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->base.ops = &maildir_store_ops;
	st->md = maildir_new(root, layout, '/');
	return &st->base;
}
