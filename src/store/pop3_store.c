/*
 * The `pop3` store: see store/pop3_store.h. The maildrop's listing
 * (UIDL joined with LIST) is kept sorted by UIDL, so that names find
 * their message numbers by binary search.
 */
#include "twinbox/store/pop3_store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/util/xmalloc.h"

#define POP3_FOLDER "INBOX"

struct p3_msg {
	const char *name; /* the store's id (into names) */
	const char *uidl; /* into the UIDL list */
	uint32_t msgno;
	uint64_t size;
};

struct pop3_store {
	struct store base;
	struct pop3_options opts;
	bool can_connect; /* opts hold what connects (pop3_store_open) */
	struct pop3_client *p;
	struct store_folder *open; /* the one folder, when open */
	bool dele_sent;            /* DELE sent since the last QUIT (the folder may be closed since) */
};

struct store_folder {
	struct pop3_store *st;
	struct pop3_uidl_entry *uidls; /* owns the UIDL strings */
	size_t uidl_count;
	char **names;        /* parallel to uidls: the store's id (the UIDL, '/' and '%' escaped), or NULL */
	struct p3_msg *msgs; /* the usable ones, by UIDL */
	size_t count, unusable;
	bool stale; /* QUIT sent: connect and list again before use */
};

static int p3_cmp(const void *a, const void *b)
{
	return strcmp(((const struct p3_msg *)a)->name, ((const struct p3_msg *)b)->name);
}

/* The store's id of `uidl`: '%' as "%25" and '/' as "%2F" (fresh). */
static char *name_of(const char *uidl)
{
	size_t n = strlen(uidl), extra = 0;
	char *out, *o;

	for (size_t i = 0; i < n; i++)
		extra += uidl[i] == '/' || uidl[i] == '%';
	o = out = xmalloc(n + 2 * extra + 1);
	for (size_t i = 0; i < n; i++) {
		if (uidl[i] == '/' || uidl[i] == '%') {
			*o++ = '%';
			*o++ = '2';
			*o++ = uidl[i] == '/' ? 'F' : '5';
		} else {
			*o++ = uidl[i];
		}
	}
	*o = '\0';
	return out;
}

char *pop3_store_uidl(const char *name)
{
	char *out = xstrdup(name), *o = out;

	for (const char *p = name; *p; p++) {
		if (p[0] == '%' && p[1] == '2' && (p[2] == 'F' || p[2] == '5')) {
			*o++ = p[2] == 'F' ? '/' : '%';
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static void listing_free(struct store_folder *f)
{
	for (size_t i = 0; f->names && i < f->uidl_count; i++)
		free(f->names[i]);
	free(f->names);
	f->names = NULL;
	free(f->uidls);
	free(f->msgs);
	f->uidls = NULL;
	f->msgs = NULL;
	f->count = f->unusable = f->uidl_count = 0;
}

/* UIDL and LIST into f's listing. */
static int read_listing(struct store_folder *f, struct error *err)
{
	struct pop3_client *p = f->st->p;
	struct pop3_list_entry *list = NULL;
	size_t nu = 0, nl = 0, j = 0;

	listing_free(f);
	if (pop3_uidl(p, &f->uidls, &nu, err) < 0 || pop3_list(p, &list, &nl, err) < 0)
		return -1;
	f->uidl_count = nu;
	f->names = xcalloc(nu + 1, sizeof(*f->names));
	f->msgs = xcalloc(nu + 1, sizeof(*f->msgs));
	for (size_t i = 0; i < nu; i++) {
		const struct pop3_uidl_entry *u = &f->uidls[i];

		while (j < nl && list[j].msgno < u->msgno)
			j++;
		if (u->invalid || u->duplicate || j == nl || list[j].msgno != u->msgno) {
			f->unusable++;
			continue;
		}
		f->names[i] = name_of(u->uidl);
		f->msgs[f->count++] = (struct p3_msg){f->names[i], u->uidl, u->msgno, list[j].size};
	}
	free(list);
	if (f->count > 1)
		qsort(f->msgs, f->count, sizeof(*f->msgs), p3_cmp);
	return 0;
}

/* After a flush's QUIT: a new session and a new listing (the message
 * numbers of the old one are gone), made when next needed. */
static int fresh(struct store_folder *f, struct error *err)
{
	struct pop3_store *s = f->st;

	if (!f->stale)
		return 0;
	if (!s->p && !s->can_connect)
		return error_set(err, ERR_ACCOUNT,
		                 "the POP3 session ended at QUIT and cannot be opened again");
	if (!s->p && !(s->p = pop3_connect(&s->opts, err)))
		return -1;
	if (read_listing(f, err) < 0)
		return -1;
	f->stale = false;
	return 0;
}

static const struct p3_msg *find(const struct store_folder *f, const char *name)
{
	struct p3_msg key = {name, NULL, 0, 0};

	if (!name)
		return NULL;
	return bsearch(&key, f->msgs, f->count, sizeof(*f->msgs), p3_cmp);
}

static struct pop3_store *of(struct store *st)
{
	return (struct pop3_store *)st;
}

static int refuse(struct error *err, const char *what)
{
	return error_set(err, ERR_MAILBOX, "a POP3 server cannot %s: it has one folder and keeps no flags",
	                 what);
}

static int p3_list_folders(struct store *st, char ***names_r, struct error *err)
{
	char **names = xcalloc(2, sizeof(*names));

	(void)st;
	(void)err;
	names[0] = xstrdup(POP3_FOLDER);
	*names_r = names;
	return 0;
}

static int p3_create_folder(struct store *st, const char *name, struct error *err)
{
	(void)st;
	(void)name;
	return refuse(err, "create folders");
}

static int p3_delete_folder(struct store *st, const char *name, struct error *err)
{
	(void)st;
	(void)name;
	return refuse(err, "remove folders");
}

static int p3_open_folder(struct store *st, const char *name, struct store_folder **f_r,
                          struct store_folder_info *info_r, bool *missing_r, struct error *err)
{
	struct pop3_store *s = of(st);
	struct store_folder *f;

	*f_r = NULL;
	*missing_r = false;
	memset(info_r, 0, sizeof(*info_r));
	if (strcasecmp(name, POP3_FOLDER) != 0) {
		*missing_r = true;
		return error_set(err, ERR_MAILBOX,
		                 "folder \"%s\" does not exist: a POP3 server has only " POP3_FOLDER, name);
	}
	if (s->open)
		return error_set(err, ERR_FATAL, "the POP3 folder is open already (a bug)");
	f = xcalloc(1, sizeof(*f));
	f->st = s;
	if (read_listing(f, err) < 0) {
		listing_free(f);
		free(f);
		return -1;
	}
	s->open = f;
	info_r->exists = (uint32_t)f->count;
	*f_r = f;
	return 0;
}

static int p3_snapshot(struct store_folder *f, struct store_snapshot *snap_r, struct error *err)
{
	struct store_msg *m;

	if (fresh(f, err) < 0)
		return -1;
	m = xcalloc(f->count + 1, sizeof(*m));
	for (size_t i = 0; i < f->count; i++)
		m[i] = (struct store_msg){.name = f->msgs[i].name, .size = f->msgs[i].size};
	*snap_r = (struct store_snapshot){m, f->count, NULL, NULL};
	return 0;
}

static int p3_count(struct store_folder *f, size_t *count_r, struct error *err)
{
	if (fresh(f, err) < 0)
		return -1;
	*count_r = f->count;
	return 0;
}

/* A store sink fed by the POP3 client's sink, one message at a time. */
struct relay {
	const struct store_sink *sink;
	const struct store_msg *msgs;
	const uint32_t *msgnos; /* parallel to msgs */
	size_t count;
	bool headers;
	bool begun;        /* a message begun and not yet ended */
	struct error fail; /* a message cut short after its begin */
};

static const struct store_msg *relay_msg(const struct relay *r, uint32_t msgno)
{
	for (size_t i = 0; i < r->count; i++)
		if (r->msgnos[i] == msgno)
			return &r->msgs[i];
	return NULL;
}

static int relay_begin(void *ctx, uint32_t msgno, uint64_t size, struct error *err)
{
	struct relay *r = ctx;
	const struct store_msg *m = relay_msg(r, msgno);
	struct store_msg now;

	if (!m)
		return error_set(err, ERR_ACCOUNT, "the POP3 server sent message %u, which was not asked for",
		                 (unsigned)msgno);
	now = *m;
	if (!r->headers && size)
		now.size = size;
	r->begun = true;
	return r->sink->begin(r->sink->ctx, &now, err);
}

static int relay_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct relay *r = ctx;

	return r->sink->chunk(r->sink->ctx, data, len, err);
}

static int relay_end(void *ctx, uint32_t msgno, struct error *err)
{
	struct relay *r = ctx;

	(void)msgno;
	r->begun = false;
	return r->sink->end(r->sink->ctx, err);
}

/* A message that failed after its begin cannot be taken back from the
 * sink: the fetch fails (one that failed before its begin is skipped,
 * as a message gone). */
static void relay_failed(void *ctx, uint32_t msgno, const struct error *err)
{
	struct relay *r = ctx;

	(void)msgno;
	if (r->begun && r->fail.scope == ERR_NONE)
		r->fail = *err;
	r->begun = false;
}

static int fetch_common(struct store_folder *f, const struct store_msg *msgs, size_t count,
                        const struct store_sink *sink, bool headers, struct error *err)
{
	struct store_msg *want = xcalloc(count + 1, sizeof(*want));
	uint32_t *msgnos = xcalloc(count + 1, sizeof(*msgnos));
	struct relay r = {sink, want, msgnos, 0, headers, false, {0}};
	struct pop3_sink ps = {&r, relay_begin, relay_chunk, relay_end, relay_failed};
	int rc = 0;

	if (fresh(f, err) < 0) {
		free(want);
		free(msgnos);
		return -1;
	}
	/* Names no longer listed get no begin, as the store contract says. */
	for (size_t i = 0; i < count; i++) {
		const struct p3_msg *m = find(f, msgs[i].name);

		if (!m)
			continue;
		want[r.count] = msgs[i];
		want[r.count].size = m->size;
		msgnos[r.count++] = m->msgno;
	}
	if (!headers) {
		rc = pop3_retr_many(f->st->p, msgnos, r.count, &ps, err);
	} else {
		for (size_t i = 0; i < r.count && rc == 0; i++)
			if (pop3_top(f->st->p, msgnos[i], 0, &ps, err) < 0 && err->scope > ERR_MESSAGE)
				rc = -1;
	}
	if (rc == 0 && r.fail.scope != ERR_NONE) {
		*err = r.fail;
		rc = -1;
	}
	free(want);
	free(msgnos);
	return rc;
}

static int p3_fetch(struct store_folder *f, const struct store_msg *msgs, size_t count,
                    const struct store_sink *sink, struct error *err)
{
	return fetch_common(f, msgs, count, sink, false, err);
}

static int p3_fetch_headers(struct store_folder *f, const struct store_msg *msgs, size_t count,
                            const struct store_sink *sink, struct error *err)
{
	return fetch_common(f, msgs, count, sink, true, err);
}

static int p3_add(struct store_folder *f, struct store_new_msg *msgs, size_t count, struct error *errs,
                  struct error *err)
{
	(void)f;
	for (size_t i = 0; errs && i < count; i++)
		refuse(&errs[i], "store messages");
	(void)msgs;
	return count ? refuse(err, "store messages") : 0;
}

static int p3_set_flags(struct store_folder *f, const struct store_msg *msgs, size_t count, unsigned add,
                        const char *add_keywords, unsigned remove, const char *remove_keywords,
                        struct error *err)
{
	(void)f, (void)msgs, (void)add, (void)add_keywords, (void)remove, (void)remove_keywords;
	return count ? refuse(err, "keep flags") : 0;
}

static int p3_delete(struct store_folder *f, const struct store_msg *msgs, size_t count, struct error *err)
{
	if (count && fresh(f, err) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		const struct p3_msg *m = find(f, msgs[i].name);
		struct error e;

		if (!m)
			continue;
		error_clear(&e);
		if (pop3_dele(f->st->p, m->msgno, &e) < 0) {
			if (e.scope == ERR_MESSAGE)
				continue; /* gone already */
			*err = e;
			return -1;
		}
		f->st->dele_sent = true;
	}
	return 0;
}

/* QUIT makes the DELEs real; what comes next connects again. */
static int p3_flush(struct store_folder *f, struct error *err)
{
	struct pop3_store *s = f->st;
	int rc;

	if (!s->dele_sent)
		return 0;
	s->dele_sent = false;
	f->stale = true;
	rc = pop3_quit(s->p, err);
	pop3_close(s->p);
	s->p = NULL;
	if (rc < 0)
		error_prefix(err, "the POP3 server did not confirm the deletions");
	return rc;
}

static void p3_close_folder(struct store_folder *f)
{
	if (!f)
		return;
	f->st->open = NULL;
	listing_free(f);
	free(f);
}

static void p3_close(struct store *st)
{
	struct pop3_store *s = of(st);

	if (!s)
		return;
	/* QUIT ends the session politely, unless deletions are pending:
	 * what was marked and not flushed stays on the server. */
	if (s->p && !s->dele_sent) {
		struct error ignored;
		pop3_quit(s->p, &ignored);
	}
	p3_close_folder(s->open);
	pop3_close(s->p);
	free(s);
}

static const struct store_ops pop3_store_ops = {
    .kind = "pop3",
    .key = STORE_KEY_NAME,
    .caps = STORE_CAP_DELETE,
    .list_folders = p3_list_folders,
    .create_folder = p3_create_folder,
    .delete_folder = p3_delete_folder,
    .open_folder = p3_open_folder,
    .snapshot = p3_snapshot,
    .count = p3_count,
    .fetch = p3_fetch,
    .fetch_headers = p3_fetch_headers,
    .add = p3_add,
    .set_flags = p3_set_flags,
    .delete = p3_delete,
    .flush = p3_flush,
    .close_folder = p3_close_folder,
    .close = p3_close,
};

struct store *pop3_store_open(const struct pop3_options *opts, struct error *err)
{
	struct pop3_store *s = xcalloc(1, sizeof(*s));

	s->base.ops = &pop3_store_ops;
	s->opts = *opts;
	s->can_connect = true;
	s->p = pop3_connect(opts, err);
	if (!s->p) {
		free(s);
		return NULL;
	}
	return &s->base;
}

struct store *pop3_store_from_client(struct pop3_client *p)
{
	struct pop3_store *s = xcalloc(1, sizeof(*s));

	s->base.ops = &pop3_store_ops;
	s->p = p;
	return &s->base;
}

size_t pop3_store_unusable(const struct store_folder *f)
{
	return f->unusable;
}

size_t pop3_store_messages(const struct store_folder *f, struct pop3_store_msg **msgs_r)
{
	struct pop3_store_msg *m = xcalloc(f->uidl_count + 1, sizeof(*m));
	size_t n = 0;

	for (size_t i = 0; !f->stale && i < f->uidl_count; i++) {
		const struct pop3_uidl_entry *u = &f->uidls[i];
		const struct p3_msg *usable = f->names[i] ? find(f, f->names[i]) : NULL;

		m[n++] = (struct pop3_store_msg){
		    .msgno = u->msgno,
		    .uidl = u->uidl,
		    .name = f->names[i],
		    .size = usable ? usable->size : 0,
		    .invalid = u->invalid,
		    .duplicate = u->duplicate,
		    .unusable = usable == NULL,
		};
	}
	*msgs_r = m;
	return n;
}
