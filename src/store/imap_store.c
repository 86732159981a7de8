/*
 * The `imap` store (imap_store.h): the session, folder names between the
 * store's '/' form and the server's namespace, opening and closing the
 * selected folder, snapshots and flush. The message operations are in
 * imap_store_msgs.c.
 */
#include "twinbox/store/imap_store.h"
#include "imap_store_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/imap/commands.h"
#include "twinbox/imap/mailbox_name.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

/* --- helpers shared with imap_store_msgs.c -------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int istore_collect_uids(const struct store_msg *msgs, size_t count, uint32_t **uids_r, size_t *count_r,
                        struct error *err)
{
	uint32_t *v = xcalloc(count ? count : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < count; i++) {
		if (msgs[i].uid == 0) {
			free(v);
			return error_set(
			    err, ERR_MAILBOX,
			    "a message without a UID%s%s%s was passed to the IMAP store; this is a "
			    "bug in twinbox, please report it",
			    msgs[i].name ? " (\"" : "", msgs[i].name ? msgs[i].name : "",
			    msgs[i].name ? "\")" : "");
		}
		v[n++] = msgs[i].uid;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_u32);
	size_t out = 0;
	for (size_t i = 0; i < n; i++)
		if (out == 0 || v[out - 1] != v[i])
			v[out++] = v[i];
	*uids_r = v;
	*count_r = out;
	return 0;
}

void istore_keywords(const char *keywords, char **canon_r)
{
	struct buf ok = BUF_INIT;
	struct error err;
	char *copy, *save = NULL;
	size_t kept = 0;

	*canon_r = NULL;
	if (!keywords || !keywords[0])
		return;
	if (mail_keywords_canon(keywords, canon_r, &err) == 0)
		return;
	/* Some keyword breaks the state's rules (too long, too many): keep
	 * the good ones rather than losing every keyword of the message. */
	log_debug("imap store: %s; keeping the valid keywords only", err.text);
	copy = xstrdup(keywords);
	for (char *w = strtok_r(copy, " ", &save); w && kept < MAIL_KEYWORDS_MAX;
	     w = strtok_r(NULL, " ", &save)) {
		char *one = NULL;
		if (mail_keywords_canon(w, &one, &err) == 0 && one) {
			buf_printf(&ok, "%s%s", ok.len ? " " : "", one);
			kept++;
		}
		free(one);
	}
	free(copy);
	if (ok.len && mail_keywords_canon(buf_cstr(&ok), canon_r, &err) < 0)
		*canon_r = NULL;
	buf_free(&ok);
}

/* --- folder names --------------------------------------------------------- */

/* Learn the personal namespace prefix and the hierarchy delimiter once:
 * from NAMESPACE when the server sent it, else LIST "" "". */
static int learn_names(struct imap_store *st, struct error *err)
{
	if (st->names_known)
		return 0;
	free(st->prefix);
	st->prefix = xstrdup(imap_namespace_prefix(st->s));
	st->delim = imap_delimiter(st->s);
	if (st->delim == 0) {
		struct imap_folder *v;
		size_t n;
		if (imap_list(st->s, "", 0, &v, &n, err) < 0)
			return -1;
		if (n > 0)
			st->delim = v[0].delimiter;
		imap_folders_free(v, n);
	}
	st->names_known = true;
	log_debug("imap store: %s: namespace prefix \"%s\", delimiter '%c'", st->peer, st->prefix,
	          st->delim ? st->delim : ' ');
	return 0;
}

static bool is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* The server's name (UTF-8) for the store's `name`, fresh; NULL with
 * ERR_MAILBOX for a name the server cannot have. */
static char *to_wire(struct imap_store *st, const char *name, struct error *err)
{
	size_t len = strlen(name);
	char *wire, *p;

	if (is_inbox(name))
		return xstrdup("INBOX");
	if (len == 0 || name[0] == '/' || name[len - 1] == '/' || strstr(name, "//")) {
		error_set(err, ERR_MAILBOX,
		          "the folder name \"%s\" has an empty level; folder names are "
		          "levels separated by single '/'",
		          name);
		return NULL;
	}
	if (st->delim && st->delim != '/' && strchr(name, st->delim)) {
		error_set(err, ERR_MAILBOX,
		          "the folder name \"%s\" contains '%c', which %s uses to separate folder levels; "
		          "rename the folder, or use '/' for levels",
		          name, st->delim, st->peer);
		return NULL;
	}
	wire = xasprintf("%s%s", st->prefix, name);
	if (st->delim)
		for (p = wire + strlen(st->prefix); *p; p++)
			if (*p == '/')
				*p = st->delim;
	return wire;
}

/* The store's name for the server's `wire` name, fresh; NULL when the
 * mailbox is not one of the store's folders (outside the personal
 * namespace, or a name that would not come back the same way). */
static char *from_wire(struct imap_store *st, const char *wire)
{
	size_t plen = strlen(st->prefix), len;
	const char *rest = wire;
	char *name;

	if (is_inbox(wire))
		return xstrdup("INBOX");
	if (plen) {
		if (strncmp(wire, st->prefix, plen) != 0)
			return NULL; /* another namespace: not ours to sync */
		rest = wire + plen;
	}
	len = strlen(rest);
	if (len == 0)
		return NULL;
	if (st->delim && st->delim != '/' && strchr(rest, '/')) {
		log_warn(
		    "the mailbox \"%s\" on %s has '/' inside a level name, which twinbox uses to separate "
		    "levels; it is left out (rename it on the server to sync it)",
		    wire, st->peer);
		return NULL;
	}
	if (st->delim) {
		char d[3] = {st->delim, st->delim, 0};
		const char *where = rest[0] == st->delim         ? "starts with"
		                    : rest[len - 1] == st->delim ? "ends with"
		                    : strstr(rest, d)            ? "has"
		                                                 : NULL;
		if (where) {
			log_warn(
			    "the mailbox \"%s\" on %s is left out: %s%s%s it %s the level separator "
			    "'%c'%s, so one of its levels has no name (a Maildir folder cannot have one)",
			    wire, st->peer, plen ? "after the namespace prefix \"" : "", st->prefix,
			    plen ? "\"" : "", where, st->delim, where[0] == 'h' ? " twice in a row" : "");
			return NULL;
		}
	}
	name = xstrdup(rest);
	if (st->delim)
		for (char *p = name; *p; p++)
			if (*p == st->delim)
				*p = '/';
	/* "INBOX.INBOX" on a server with prefix "INBOX." would also read as
	 * "INBOX"; the real INBOX wins. */
	if (is_inbox(name)) {
		free(name);
		return NULL;
	}
	return name;
}

/* --- folders -------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_status(const void *a, const void *b)
{
	return strcmp(((const struct istore_status *)a)->name, ((const struct istore_status *)b)->name);
}

static void forget_status(struct imap_store *st)
{
	for (size_t i = 0; i < st->status_count; i++)
		free(st->status[i].name);
	free(st->status);
	st->status = NULL;
	st->status_count = 0;
}

static enum store_special_use store_use_of(enum imap_special_use u)
{
	switch (u) {
	case IMAP_SPECIAL_ALL:
		return STORE_USE_ALL;
	case IMAP_SPECIAL_ARCHIVE:
		return STORE_USE_ARCHIVE;
	case IMAP_SPECIAL_DRAFTS:
		return STORE_USE_DRAFTS;
	case IMAP_SPECIAL_FLAGGED:
		return STORE_USE_FLAGGED;
	case IMAP_SPECIAL_JUNK:
		return STORE_USE_JUNK;
	case IMAP_SPECIAL_SENT:
		return STORE_USE_SENT;
	case IMAP_SPECIAL_TRASH:
		return STORE_USE_TRASH;
	case IMAP_SPECIAL_NONE:
		break;
	}
	return STORE_USE_NONE;
}

/* Keep what LIST said of `name`: its special use, and its STATUS when
 * that says enough to tell a change (UIDVALIDITY, UIDNEXT, MESSAGES and
 * HIGHESTMODSEQ). */
static void keep_status(struct imap_store *st, const char *name, const struct imap_folder *f)
{
	unsigned need =
	    IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_UIDNEXT | IMAP_STATUS_MESSAGES | IMAP_STATUS_HIGHESTMODSEQ;
	const struct imap_status_info *si = &f->status;
	enum store_special_use use = store_use_of(f->special_use);
	bool has_info = (si->have & need) == need && si->uidvalidity && si->uidnext && si->highestmodseq;
	struct istore_status *e;

	if (!has_info && use == STORE_USE_NONE)
		return;
	st->status = xrealloc(st->status, (st->status_count + 1) * sizeof(*st->status));
	e = &st->status[st->status_count++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	e->use = use;
	e->has_info = has_info;
	if (!has_info)
		return;
	e->info.uidvalidity = si->uidvalidity;
	e->info.uidnext = si->uidnext;
	e->info.highestmodseq = si->highestmodseq;
	e->info.exists = si->messages;
}

static void list_markers(struct store *base, bool want)
{
	((struct imap_store *)base)->no_markers = !want;
}

static int list_folders(struct store *base, char ***names_r, struct error *err)
{
	struct imap_store *st = (struct imap_store *)base;
	/* HIGHESTMODSEQ is what makes a folder's STATUS tell "unchanged". */
	unsigned flags = imap_has_cap(st->s, "CONDSTORE") && !st->no_markers ? IMAP_LIST_STATUS : 0;
	struct imap_folder *v;
	size_t n, out = 0;
	char **names;

	*names_r = NULL;
	forget_status(st);
	if (learn_names(st, err) < 0 || imap_list(st->s, "*", flags, &v, &n, err) < 0)
		return -1;
	names = xcalloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		if (v[i].attrs & IMAP_FOLDER_NOSELECT)
			continue;
		if (!v[i].name) {
			log_warn("%s sent a mailbox name that cannot be used, so it is left out: %s",
			         st->peer, v[i].why ? v[i].why : "it cannot be decoded");
			continue;
		}
		char *name = from_wire(st, v[i].name);
		if (name) {
			names[out++] = name;
			keep_status(st, name, &v[i]);
		}
	}
	imap_folders_free(v, n);
	if (out)
		qsort(names, out, sizeof(*names), cmp_str);
	if (st->status_count)
		qsort(st->status, st->status_count, sizeof(*st->status), cmp_status);
	size_t uniq = 0;
	for (size_t i = 0; i < out; i++) {
		if (uniq && strcmp(names[uniq - 1], names[i]) == 0)
			free(names[i]);
		else
			names[uniq++] = names[i];
	}
	names[uniq] = NULL;
	*names_r = names;
	return 0;
}

/* What the last list_folders kept of `name`, or NULL. */
static const struct istore_status *kept_status(const struct imap_store *st, const char *name)
{
	struct istore_status key = {.name = (char *)name};

	return st->status_count ? bsearch(&key, st->status, st->status_count, sizeof(*st->status), cmp_status)
	                        : NULL;
}

static int folder_status(struct store *base, const char *name, struct store_folder_info *info_r,
                         struct error *err)
{
	const struct istore_status *e = kept_status((struct imap_store *)base, name);

	(void)err;
	memset(info_r, 0, sizeof(*info_r));
	if (!e || !e->has_info)
		return 0;
	*info_r = e->info;
	return 1;
}

static enum store_special_use special_use(struct store *base, const char *name)
{
	const struct istore_status *e = kept_status((struct imap_store *)base, name);

	return e ? e->use : STORE_USE_NONE;
}

/* --- quota --------------------------------------------------------------- */

static uint64_t kib_to_bytes(uint64_t kib)
{
	return kib > UINT64_MAX / 1024 ? UINT64_MAX : kib * 1024;
}

/* The roots of `wire` that have a limit, as the store tells them. */
static int quota_of(struct imap_store *st, const char *wire, struct store_quota **roots_r, size_t *count_r,
                    struct error *err)
{
	struct imap_quota_root *v;
	size_t n, out = 0;

	if (imap_getquotaroot(st->s, wire, &v, &n, err) < 0)
		return -1;
	*roots_r = xcalloc(n + 1, sizeof(**roots_r));
	for (size_t i = 0; i < n; i++) {
		struct store_quota *q = &(*roots_r)[out];
		q->has_bytes = (v[i].have & IMAP_QUOTA_STORAGE) && v[i].storage_limit;
		q->has_messages = (v[i].have & IMAP_QUOTA_MESSAGE) && v[i].message_limit;
		if (!q->has_bytes && !q->has_messages)
			continue;
		q->used_bytes = kib_to_bytes(v[i].storage_used);
		q->limit_bytes = kib_to_bytes(v[i].storage_limit);
		q->used_messages = v[i].message_used;
		q->limit_messages = v[i].message_limit;
		q->root = xstrdup(v[i].name);
		q->where = xstrdup(st->peer);
		out++;
	}
	imap_quota_roots_free(v, n);
	*count_r = out;
	return 0;
}

static int quota(struct store *base, const char *name, struct store_quota **roots_r, size_t *count_r,
                 struct error *err)
{
	struct imap_store *st = (struct imap_store *)base;
	char *wire;
	int rc;

	*roots_r = NULL;
	*count_r = 0;
	if (!imap_has_cap(st->s, "QUOTA"))
		return 0;
	if (learn_names(st, err) < 0 || !(wire = to_wire(st, name, err)))
		return -1;
	rc = quota_of(st, wire, roots_r, count_r, err);
	/* Some servers answer only for mailboxes that exist: a folder yet
	 * to be created goes where INBOX's roots say. */
	if (rc < 0 && err->scope == ERR_MAILBOX && !is_inbox(wire))
		rc = quota_of(st, "INBOX", roots_r, count_r, err);
	free(wire);
	if (rc < 0)
		error_prefix(err, "asking the quota of \"%s\" on %s", name, st->peer);
	return rc;
}

/* Whether the server lists `wire` as a selectable mailbox. */
static int wire_exists(struct imap_store *st, const char *wire, bool *exists_r, struct error *err)
{
	struct imap_folder *v;
	size_t n;

	*exists_r = false;
	if (imap_list(st->s, wire, 0, &v, &n, err) < 0)
		return -1;
	/* The name may hold '*' or '%': only an exact match counts. */
	for (size_t i = 0; i < n; i++)
		if (v[i].name && !(v[i].attrs & IMAP_FOLDER_NOSELECT) &&
		    (strcmp(v[i].name, wire) == 0 || (is_inbox(wire) && is_inbox(v[i].name))))
			*exists_r = true;
	imap_folders_free(v, n);
	return 0;
}

static int create_folder(struct store *base, const char *name, struct error *err)
{
	struct imap_store *st = (struct imap_store *)base;
	bool exists;
	char *wire;
	int rc;

	if (learn_names(st, err) < 0 || !(wire = to_wire(st, name, err)))
		return -1;
	rc = imap_create(st->s, wire, err);
	/* Already there (created meanwhile, or INBOX) is what was asked for;
	 * otherwise CREATE's own error says more than LIST's. */
	if (rc < 0 && imap_session_state(st->s) != IMAP_STATE_LOGOUT) {
		struct error e;
		if (wire_exists(st, wire, &exists, &e) == 0 && exists)
			rc = 0;
		else if (imap_session_state(st->s) == IMAP_STATE_LOGOUT)
			*err = e;
	}
	free(wire);
	return rc;
}

static int delete_folder(struct store *base, const char *name, struct error *err)
{
	struct imap_store *st = (struct imap_store *)base;
	bool exists;
	char *wire;
	int rc;

	if (strcasecmp(name, "INBOX") == 0)
		return error_set(err, ERR_MAILBOX, "INBOX is never removed");
	if (learn_names(st, err) < 0 || !(wire = to_wire(st, name, err)))
		return -1;
	if (st->lingering && strcmp(st->lingering, wire) == 0) {
		/* Some servers refuse to delete the selected mailbox. */
		if (imap_unselect(st->s, err) < 0) {
			free(wire);
			return -1;
		}
		free(st->lingering);
		st->lingering = NULL;
	}
	rc = imap_delete(st->s, wire, err);
	/* Gone already is what was asked for. */
	if (rc < 0 && imap_session_state(st->s) != IMAP_STATE_LOGOUT) {
		struct error e;
		if (wire_exists(st, wire, &exists, &e) == 0 && !exists)
			rc = 0;
	}
	free(wire);
	return rc;
}

static void folder_free(struct store_folder *f)
{
	if (!f)
		return;
	free(f->name);
	free(f->wire);
	free(f->keep_keywords);
	free(f);
}

/* What the selected mailbox keeps: its PERMANENTFLAGS, if it sent one. */
static void learn_keep(struct store_folder *f, const struct imap_mailbox_info *mb)
{
	if (!mb->permanent_known)
		return;
	f->keep.limited = true;
	f->keep.flags = mb->permanent_flags;
	f->keep.new_keywords = mb->keywords_allowed;
	istore_keywords(mb->permanent_keywords, &f->keep_keywords);
	f->keep.keywords = f->keep_keywords;
}

static void keeps(struct store_folder *f, struct store_keep *keep_r)
{
	*keep_r = f->keep;
}

static int open_folder(struct store *base, const char *name, struct store_folder **f_r,
                       struct store_folder_info *info_r, bool *missing_r, struct error *err)
{
	struct imap_store *st = (struct imap_store *)base;
	const struct imap_mailbox_info *mb;
	struct store_folder *f;
	bool exists = true;
	char *wire;

	*f_r = NULL;
	*missing_r = false;
	memset(info_r, 0, sizeof(*info_r));
	if (st->open)
		return error_set(err, ERR_FATAL,
		                 "the IMAP store already has the folder \"%s\" open; twinbox must close it "
		                 "before opening \"%s\" (a bug, please report it)",
		                 st->open->name, name);
	if (learn_names(st, err) < 0 || !(wire = to_wire(st, name, err)))
		return -1;
	/* SELECT replaces the mailbox left selected (or, failing, leaves
	 * none selected). */
	free(st->lingering);
	st->lingering = NULL;
	if (imap_select(st->s, wire, false, NULL, err) < 0) {
		struct error e;
		if (imap_session_state(st->s) == IMAP_STATE_LOGOUT)
			goto fail;
		/* Servers word "no such mailbox" differently; LIST knows. */
		if (wire_exists(st, wire, &exists, &e) < 0) {
			*err = e;
			goto fail;
		}
		if (!exists) {
			*missing_r = true;
			error_set(err, ERR_MAILBOX, "the folder \"%s\" does not exist on %s", name, st->peer);
		}
		goto fail;
	}
	mb = imap_selected(st->s);
	if (mb->uidvalidity == 0) {
		error_set(
		    err, ERR_MAILBOX,
		    "%s sent no UIDVALIDITY for the folder \"%s\"; without it twinbox cannot keep track "
		    "of its messages",
		    st->peer, name);
		imap_unselect(st->s, &(struct error){0});
		goto fail;
	}
	f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->name = xstrdup(name);
	f->wire = wire;
	f->uidvalidity = mb->uidvalidity;
	learn_keep(f, mb);
	info_r->uidvalidity = mb->uidvalidity;
	info_r->uidnext = mb->uidnext;
	info_r->highestmodseq = mb->nomodseq ? 0 : mb->highestmodseq;
	info_r->exists = mb->exists;
	st->open = f;
	*f_r = f;
	return 0;
fail:
	free(wire);
	return -1;
}

static void close_folder(struct store_folder *f)
{
	if (!f)
		return;
	if (f->st->open == f) {
		/* Stay selected: the next SELECT leaves it without expunging,
		 * and LOGOUT expunges nothing either. */
		free(f->st->lingering);
		f->st->lingering = f->wire;
		f->wire = NULL;
		f->st->open = NULL;
	}
	folder_free(f);
}

/* --- snapshot ------------------------------------------------------------- */

struct snap_strings {
	char **v;
	size_t count, cap;
};

static void snap_strings_free(void *priv)
{
	struct snap_strings *p = priv;

	if (!p)
		return;
	for (size_t i = 0; i < p->count; i++)
		free(p->v[i]);
	free(p->v);
	free(p);
}

/* Messages as imap_fetch_info gives them, as a snapshot (keywords
 * canonical, \Recent dropped). `info` is freed. */
static void to_snapshot(struct imap_msg_info *info, size_t n, struct store_snapshot *snap_r)
{
	struct snap_strings *strs = xcalloc(1, sizeof(*strs));

	snap_r->msgs = xcalloc(n ? n : 1, sizeof(*snap_r->msgs));
	snap_r->count = n;
	snap_r->priv = strs;
	snap_r->free_priv = snap_strings_free;
	for (size_t i = 0; i < n; i++) {
		struct store_msg *m = &snap_r->msgs[i];
		char *kw = NULL;
		m->uid = info[i].uid;
		m->flags = info[i].flags & MAIL_FLAGS_ALL; /* \Recent is the server's business */
		istore_keywords(info[i].keywords, &kw);
		if (kw) {
			strs->v = xgrow(strs->v, &strs->cap, strs->count + 1, sizeof(*strs->v));
			strs->v[strs->count++] = kw;
			m->keywords = kw;
		}
		m->size = (info[i].have & IMAP_FETCH_SIZE) ? info[i].size : 0;
		m->date = (info[i].have & IMAP_FETCH_INTERNALDATE) ? info[i].internaldate : 0;
		m->date_zone = (int16_t)((info[i].have & IMAP_FETCH_INTERNALDATE) ? info[i].tz_minutes
		                                                                  : STORE_ZONE_UNKNOWN);
		m->modseq = (info[i].have & IMAP_FETCH_MODSEQ) ? info[i].modseq : 0;
	}
	imap_msg_info_free(info, n);
}

#define SNAPSHOT_ITEMS (IMAP_FETCH_SIZE | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_MODSEQ)

static int snapshot(struct store_folder *f, struct store_snapshot *snap_r, struct error *err)
{
	struct imap_session *s = f->st->s;
	struct imap_msg_info *info = NULL;
	size_t n = 0;

	memset(snap_r, 0, sizeof(*snap_r));
	/* "UID FETCH 1:*" of an empty mailbox is an error on some servers. */
	if (imap_selected(s)->exists > 0 && imap_fetch_info(s, 1, 0, SNAPSHOT_ITEMS, 0, &info, &n, err) < 0) {
		error_prefix(err, "reading the messages of \"%s\"", f->name);
		return -1;
	}
	to_snapshot(info, n, snap_r);
	return 0;
}

/* The server's VANISHED set, sorted and merged (it need not be either). */
static void to_ranges(struct imap_uidset *set, struct store_changes *c)
{
	imap_uidset_normalize(set);
	c->gone = xcalloc(set->count + 1, sizeof(*c->gone));
	for (size_t i = 0; i < set->count; i++)
		c->gone[i] = (struct store_uid_range){set->v[i].first, set->v[i].last};
	c->gone_count = set->count;
}

/*
 * QRESYNC (RFC 7162 3.2.6): UID FETCH 1:* (...) (CHANGEDSINCE modseq
 * VANISHED) gives the messages changed or added since `modseq` and the
 * UIDs expunged since. Nothing is asked when the HIGHESTMODSEQ of SELECT
 * is `modseq`: no flag changed and no message came since (each raises
 * it); an expunge alone shows in the count (the engine checks it).
 */
static int changes(struct store_folder *f, uint64_t modseq, struct store_changes *c, struct error *err)
{
	struct imap_session *s = f->st->s;
	const struct imap_mailbox_info *mb = imap_selected(s);
	struct imap_uidset gone = IMAP_UIDSET_INIT;
	struct imap_msg_info *info = NULL;
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	if (!modseq || !(imap_session_enabled(s) & IMAP_ENABLED_QRESYNC) || mb->nomodseq ||
	    mb->highestmodseq < modseq)
		return 0;
	if (mb->exists == 0)
		imap_uidset_add_range(&gone, 1, UINT32_MAX);
	else if (mb->highestmodseq > modseq &&
	         imap_fetch_changes(s, modseq, SNAPSHOT_ITEMS, &info, &n, &gone, err) < 0) {
		imap_uidset_free(&gone);
		error_prefix(err, "reading what changed in \"%s\"", f->name);
		return -1;
	}
	to_snapshot(info, n, &c->changed);
	to_ranges(&gone, c);
	imap_uidset_free(&gone);
	c->exists = imap_selected(s)->exists;
	return 1;
}

/* --- flush and close ------------------------------------------------------ */

static int flush(struct store_folder *f, struct error *err)
{
	struct imap_session *s = f->st->s;

	if (imap_drain(s, err) < 0)
		return -1;
	/* A session that ended by itself (BYE) has nothing running, yet
	 * cannot promise anything: NOOP tells. */
	if (imap_session_state(s) == IMAP_STATE_LOGOUT)
		return imap_noop(s, err);
	return 0;
}

static int reconnect(struct store *base, struct error *err);

static void store_close(struct store *base)
{
	struct imap_store *st = (struct imap_store *)base;

	if (!st)
		return;
	if (st->open) {
		/* The engine forgot close_folder. LOGOUT expunges nothing, so
		 * just free the handle (the engine must not use it again). */
		folder_free(st->open);
		st->open = NULL;
	}
	imap_session_close(st->s);
	forget_status(st);
	free(st->lingering);
	free(st->prefix);
	free(st->peer);
	free(st);
}

#define ISTORE_OPS(caps_)                                                                                    \
	{                                                                                                    \
		.kind = "imap", .key = STORE_KEY_UID, .caps = (caps_), .list_folders = list_folders,         \
		.create_folder = create_folder, .delete_folder = delete_folder, .open_folder = open_folder,  \
		.snapshot = snapshot, .changes = changes, .fetch = istore_fetch,                             \
		.fetch_headers = istore_fetch_headers, .reserve_name = NULL, .add = istore_add,              \
		.set_flags = istore_set_flags, .delete = istore_delete, .flush = flush,                      \
		.close_folder = close_folder, .close = store_close, .folder_status = folder_status,          \
		.special_use = special_use, .list_markers = list_markers, .reconnect = reconnect,            \
		.keeps = keeps, .quota = quota,                                                              \
	}

static const struct store_ops imap_store_ops = ISTORE_OPS(STORE_CAP_WRITE | STORE_CAP_KEYWORDS);
static const struct store_ops imap_store_ops_modseq =
    ISTORE_OPS(STORE_CAP_WRITE | STORE_CAP_KEYWORDS | STORE_CAP_MODSEQ);

/* The ops for a store over session `s`: with MODSEQ where it has CONDSTORE. */
static const struct store_ops *ops_for(struct imap_session *s)
{
	return imap_has_cap(s, "CONDSTORE") ? &imap_store_ops_modseq : &imap_store_ops;
}

static int reconnect(struct store *base, struct error *err)
{
	struct imap_store *st = (struct imap_store *)base;
	struct imap_session *s;

	if (imap_session_state(st->s) != IMAP_STATE_LOGOUT)
		return 0;
	if (st->open)
		return error_set(err, ERR_FATAL,
		                 "the IMAP store must close the folder \"%s\" before it reconnects (a bug, "
		                 "please report it)",
		                 st->open->name);
	if (!(s = imap_reconnect(st->s, err)))
		return -1;
	imap_session_free(st->s);
	st->s = s;
	/* Nothing is selected on the new session. The folder list, the
	 * namespace and the delimiter are the same server's. */
	free(st->lingering);
	st->lingering = NULL;
	st->base.ops = ops_for(s);
	log_debug("imap store: %s: connected again", st->peer);
	return 0;
}

static struct store *wrap(struct imap_session *s, const char *peer)
{
	struct imap_store *st = xcalloc(1, sizeof(*st));

	st->base.ops = ops_for(s);
	st->s = s;
	st->peer = xstrdup(peer);
	st->prefix = xstrdup("");
	return &st->base;
}

struct store *imap_store_open(const struct imap_session_options *opts, struct error *err)
{
	struct imap_session *s = imap_connect(opts, err);
	char *peer;
	struct store *st;

	if (!s)
		return NULL;
	peer = opts->conn.port ? xasprintf("%s:%u", opts->conn.host ? opts->conn.host : "the IMAP server",
	                                   opts->conn.port)
	                       : xstrdup(opts->conn.host ? opts->conn.host : "the IMAP server");
	st = wrap(s, peer);
	free(peer);
	return st;
}

struct store *imap_store_from_session(struct imap_session *s)
{
	return wrap(s, "the IMAP server");
}

struct imap_session *imap_store_session(struct store *st)
{
	if (!st || (st->ops != &imap_store_ops && st->ops != &imap_store_ops_modseq))
		return NULL;
	return ((struct imap_store *)st)->s;
}

char *imap_store_server_name(struct store *base, const char *name, struct error *err)
{
	struct imap_store *st = (struct imap_store *)base;

	if (learn_names(st, err) < 0)
		return NULL;
	return to_wire(st, name, err);
}

char *imap_store_folder_name(struct store *base, const char *raw, size_t len)
{
	struct imap_store *st = (struct imap_store *)base;
	bool utf8 = imap_session_enabled(st->s) & IMAP_ENABLED_UTF8;
	char *wire = NULL, *name;
	struct error err;

	if (!st->names_known || imap_mailbox_decode(raw, len, utf8, &wire, &err) < 0)
		return NULL;
	name = from_wire(st, wire);
	free(wire);
	return name;
}
