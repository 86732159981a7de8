/*
 * The `imap` store's message operations (imap_store.h): bodies and
 * headers streamed to a sink, APPEND streamed from a source, flag
 * changes and deletions as pipelined UID STOREs over UID sets.
 */
#include "imap_store_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/imap/commands.h"
#include "twinbox/imap/pipeline.h"
#include "twinbox/util/log.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

#define FETCH_WINDOW    32             /* UID FETCH commands in flight */
#define FETCH_PER_CMD   16             /* messages per UID FETCH of bodies */
#define HEADERS_PER_CMD 128            /* messages per UID FETCH of headers */
#define APPEND_WINDOW   32             /* APPEND commands in flight */
#define APPEND_GROUP    32             /* messages per MULTIAPPEND command */
#define STORE_WINDOW    64             /* UID STORE commands in flight */
#define RANGES_PER_CMD  300            /* UID ranges in one command: lines stay below 8 KB (RFC 7162, 4) */
#define APPEND_DATE_MAX 253402300799LL /* 9999-12-31 23:59:59 UTC */

/* --- UID sets ------------------------------------------------------------- */

/* `uids` (sorted) cut into sets of at most RANGES_PER_CMD ranges. */
static struct imap_uidset *chunk_uids(const uint32_t *uids, size_t n, size_t *chunks_r)
{
	struct imap_uidset *v = NULL;
	size_t count = 0, cap = 0;

	for (size_t i = 0; i < n; i++) {
		if (count == 0 || v[count - 1].count >= RANGES_PER_CMD) {
			v = xgrow(v, &cap, count + 1, sizeof(*v));
			memset(&v[count++], 0, sizeof(*v));
		}
		imap_uidset_add(&v[count - 1], uids[i]);
	}
	*chunks_r = count;
	return v;
}

static void chunks_free(struct imap_uidset *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		imap_uidset_free(&v[i]);
	free(v);
}

struct store_job {
	const struct imap_uidset *uids;
	enum imap_store_op op;
	const char *flags;
	uint64_t unchangedsince; /* 0: unconditional */
};

struct jobs_run {
	const struct store_job *jobs;
	size_t n, next;
	struct imap_uidset *modified;
};

static int job_next(void *ctx, struct imap_window_cmd *wc, struct error *err)
{
	struct jobs_run *r = ctx;
	const struct store_job *j;

	if (r->next >= r->n)
		return 0;
	wc->first = r->next;
	wc->count = 1;
	j = &r->jobs[r->next++];
	return imap_cmd_uid_store(&wc->cmd, j->uids, j->op, j->flags, j->unchangedsince, err) < 0 ? -1 : 1;
}

static int job_done(void *ctx, struct imap_window_cmd *wc, int rc, const struct error *err)
{
	struct jobs_run *r = ctx;
	const struct imap_cmd_code *code = &wc->cmd.code;

	(void)err;
	if (rc < 0)
		return -1;
	if (r->modified && code->type == IMAP_CODE_MODIFIED)
		for (size_t i = 0; i < code->src.count; i++)
			imap_uidset_add_range(r->modified, code->src.v[i].first, code->src.v[i].last);
	return 0;
}

/* Run the UID STOREs of `jobs` in order, STORE_WINDOW in flight. UIDs a
 * server did not change because of UNCHANGEDSINCE are added to
 * `modified`. Every command is waited for; -1 with the first failure. */
static int run_jobs(struct imap_session *s, const struct store_job *jobs, size_t n,
                    struct imap_uidset *modified, struct error *err)
{
	struct jobs_run r = {.jobs = jobs, .n = n, .modified = modified};
	struct imap_window_ops ops = {.ctx = &r, .next = job_next, .done = job_done};

	return imap_window_run(s, STORE_WINDOW, &ops, err);
}

/* --- fetch ---------------------------------------------------------------- */

struct want {
	uint32_t uid;
	size_t idx; /* into the caller's msgs */
	bool done;  /* begin was called: a repeated body is not passed on */
};

struct fetch_run {
	struct store_folder *f;
	const struct store_sink *sink;
	const struct store_msg *msgs;
	struct want *want;
	size_t count;
	bool headers;
	bool active;    /* the current body goes to the sink */
	char *keywords; /* of the message being passed on */
};

static int cmp_want(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int fetch_begin(void *ctx, const struct imap_fetch *fetch, uint32_t uid, uint64_t size,
                       struct error *err)
{
	struct fetch_run *r = ctx;
	struct want *w;
	struct store_msg m;

	r->active = false;
	if (uid == 0)
		return error_set(
		    err, ERR_MAILBOX,
		    "%s sent the body of message %u of \"%s\" before its UID; twinbox cannot tell "
		    "which message it is",
		    r->f->st->peer, fetch->seq, r->f->name);
	/* The UID's first entry (a UID the caller gave twice gets one begin). */
	size_t lo = 0, hi = r->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->want[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	w = lo < r->count && r->want[lo].uid == uid ? &r->want[lo] : NULL;
	if (!w || w->done)
		return 0; /* not asked for, or sent twice */
	w->done = true;
	m = r->msgs[w->idx];
	if (fetch->have & IMAP_FETCH_FLAGS) {
		char *kw = NULL;
		m.flags = imap_flags_parse(&fetch->flags, &kw) & MAIL_FLAGS_ALL;
		free(r->keywords);
		istore_keywords(kw, &r->keywords);
		free(kw);
		m.keywords = r->keywords;
	}
	if (fetch->have & IMAP_FETCH_MODSEQ)
		m.modseq = fetch->modseq;
	if (!r->headers)
		m.size = size;
	else if (fetch->have & IMAP_FETCH_SIZE)
		m.size = fetch->size;
	r->active = true;
	return r->sink->begin ? r->sink->begin(r->sink->ctx, &m, err) : 0;
}

static int fetch_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct fetch_run *r = ctx;

	return r->active && r->sink->chunk ? r->sink->chunk(r->sink->ctx, data, len, err) : 0;
}

static int fetch_end(void *ctx, const struct imap_fetch *fetch, struct error *err)
{
	struct fetch_run *r = ctx;

	(void)fetch;
	if (!r->active)
		return 0;
	r->active = false;
	return r->sink->end ? r->sink->end(r->sink->ctx, err) : 0;
}

static int fetch_common(struct store_folder *f, const struct store_msg *msgs, size_t count, bool headers,
                        const struct store_sink *sink, struct error *err)
{
	struct fetch_run r = {.f = f, .sink = sink, .msgs = msgs, .headers = headers};
	struct imap_body_handler h = {
	    .ctx = &r,
	    .begin_fetch = fetch_begin,
	    .chunk = fetch_chunk,
	    .end = fetch_end,
	    .section = headers ? "HEADER" : "",
	    .items = headers ? IMAP_FETCH_SIZE : 0,
	};
	struct imap_pipeline p = {.window = FETCH_WINDOW,
	                          .per_command = headers ? HEADERS_PER_CMD : FETCH_PER_CMD};
	uint32_t *uids;
	size_t n = 0;
	int rc;

	if (count == 0)
		return 0;
	r.want = xcalloc(count, sizeof(*r.want));
	for (size_t i = 0; i < count; i++) {
		if (msgs[i].uid == 0) {
			free(r.want);
			return error_set(
			    err, ERR_MAILBOX,
			    "a message without a UID was passed to the IMAP store's fetch; this is a "
			    "bug in twinbox, please report it");
		}
		r.want[i].uid = msgs[i].uid;
		r.want[i].idx = i;
	}
	qsort(r.want, count, sizeof(*r.want), cmp_want);
	r.count = count;
	uids = xcalloc(count, sizeof(*uids));
	for (size_t i = 0; i < count; i++)
		if (n == 0 || uids[n - 1] != r.want[i].uid)
			uids[n++] = r.want[i].uid;
	rc = imap_fetch_bodies(f->st->s, uids, n, &h, &p, err);
	if (rc < 0)
		error_prefix(err, "fetching %s from \"%s\"", headers ? "message headers" : "messages",
		             f->name);
	free(uids);
	free(r.want);
	free(r.keywords);
	return rc;
}

int istore_fetch(struct store_folder *f, const struct store_msg *msgs, size_t count,
                 const struct store_sink *sink, struct error *err)
{
	return fetch_common(f, msgs, count, false, sink, err);
}

int istore_fetch_headers(struct store_folder *f, const struct store_msg *msgs, size_t count,
                         const struct store_sink *sink, struct error *err)
{
	return fetch_common(f, msgs, count, true, sink, err);
}

/* --- add ------------------------------------------------------------------ */

struct add_source {
	struct store_new_msg *m;
	uint64_t done;
	struct imap_literal_source lit;
};

/* The literal's bytes from the caller's reader. The literal is announced
 * with m->size: a reader that ends early or goes on longer cannot be
 * mended on the wire, so both end the session (the server then drops
 * the unfinished APPEND: no truncated copy is stored). */
static int source_read(void *ctx, void *data, size_t len, size_t *got_r, struct error *err)
{
	struct add_source *a = ctx;
	long long n = a->m->read(a->m->ctx, data, len, err);

	if (n < 0) {
		if (err->scope == ERR_NONE)
			error_set(err, ERR_ACCOUNT, "reading the message to upload failed");
		return -1;
	}
	if (n == 0 || (unsigned long long)n > len)
		return error_set(err, ERR_ACCOUNT,
		                 "the message to upload gave %llu bytes, but its size was given as %llu; the "
		                 "upload was stopped",
		                 (unsigned long long)a->done + (n > 0 ? (unsigned long long)n : 0),
		                 (unsigned long long)a->lit.size);
	a->done += (uint64_t)n;
	if (a->done == a->lit.size) {
		char extra;
		long long more = a->m->read(a->m->ctx, &extra, 1, err);
		if (more < 0)
			return -1;
		if (more > 0)
			return error_set(
			    err, ERR_ACCOUNT,
			    "the message to upload is longer than its given size of %llu bytes; the "
			    "upload was stopped so that no truncated copy is stored",
			    (unsigned long long)a->lit.size);
	}
	*got_r = (size_t)n;
	return 0;
}

/*
 * A MULTIAPPEND command stores all its messages or none (RFC 3502): after
 * a refusal, the messages of refused groups are sent again one per
 * command, so that one bad message fails alone, and a target near its
 * quota takes as many as fit. Returns with am[]
 * updated.
 */
static void append_again_singly(struct imap_session *s, const char *wire, struct store_new_msg *msgs,
                                struct imap_append_msg *am, size_t count)
{
	struct imap_pipeline p = {.window = APPEND_WINDOW, .per_command = 1};
	struct imap_append_msg *again = xcalloc(count, sizeof(*again));
	size_t *idx = xcalloc(count, sizeof(*idx));
	size_t n = 0;
	struct error e;

	for (size_t i = 0; i < count; i++) {
		/* Over quota, a smaller command may still fit. */
		if (!am[i].failed ||
		    (am[i].err.scope != ERR_MESSAGE && am[i].err.cause != ERR_CAUSE_OVER_QUOTA))
			continue;
		if (msgs[i].rewind(msgs[i].ctx, &e) < 0) {
			am[i].err = e;
			continue;
		}
		again[n] = am[i];
		idx[n++] = i;
	}
	if (n) {
		log_debug("imap: the server refused a group of messages; sending %zu of them one by one", n);
		error_clear(&e);
		imap_append_many(s, wire, again, n, &p, &e);
		for (size_t j = 0; j < n; j++)
			am[idx[j]] = again[j];
	}
	free(again);
	free(idx);
}

int istore_add(struct store_folder *f, struct store_new_msg *msgs, size_t count, struct error *errs,
               struct error *err)
{
	struct imap_session *s = f->st->s;
	struct imap_append_msg *am;
	struct add_source *src;
	char **flags;
	struct imap_pipeline p = {.window = APPEND_WINDOW, .per_command = APPEND_GROUP};
	struct error e;
	bool lost, folder_failed = false;

	if (count == 0)
		return 0;
	am = xcalloc(count, sizeof(*am));
	src = xcalloc(count, sizeof(*src));
	flags = xcalloc(count, sizeof(*flags));
	for (size_t i = 0; i < count; i++) {
		struct store_new_msg *m = &msgs[i];
		m->uid_r = 0;
		src[i].m = m;
		src[i].lit.size = m->size;
		src[i].lit.read = source_read;
		src[i].lit.ctx = &src[i];
		am[i].source = &src[i].lit;
		flags[i] = mail_flags_format(m->flags & MAIL_FLAGS_ALL, m->keywords);
		am[i].flags = flags[i];
		am[i].has_date = m->date > 0 && m->date <= APPEND_DATE_MAX;
		am[i].internaldate = m->date;
		/* In the zone the source had it (a migration keeps "+0100"),
		 * else UTC, as before zones were carried. */
		am[i].tz_minutes = store_zone_known(m->date_zone) ? m->date_zone : 0;
	}
	/* Several messages per command where the server takes them
	 * (MULTIAPPEND: one transaction for many, far cheaper for it) and
	 * every message can be sent again after a refused group. */
	for (size_t i = 0; i < count; i++)
		p.per_command = msgs[i].rewind ? p.per_command : 1;
	error_clear(&e);
	imap_append_many(s, f->wire, am, count, &p, &e);
	lost = imap_session_state(s) == IMAP_STATE_LOGOUT;
	if (!lost && p.per_command > 1 && imap_has_cap(s, "MULTIAPPEND"))
		append_again_singly(s, f->wire, msgs, am, count);
	lost = imap_session_state(s) == IMAP_STATE_LOGOUT;
	for (size_t i = 0; i < count; i++) {
		struct error *mine = errs ? &errs[i] : &(struct error){0};
		if (!am[i].failed) {
			error_clear(mine);
			if (am[i].uid && am[i].uidvalidity == f->uidvalidity)
				msgs[i].uid_r = am[i].uid;
			continue;
		}
		*mine = am[i].err;
		if (mine->scope == ERR_NONE)
			error_set(mine, ERR_MESSAGE, "the message was not stored");
		if (mine->scope >= ERR_MAILBOX && !folder_failed && !lost) {
			folder_failed = true;
			*err = *mine;
		}
	}
	if (lost) {
		*err = e;
		if (err->scope < ERR_ACCOUNT)
			error_escalate(err, ERR_ACCOUNT);
	}
	for (size_t i = 0; i < count; i++)
		free(flags[i]);
	free(flags);
	free(src);
	free(am);
	if (lost || folder_failed) {
		/* An over-quota refusal names the server and mailbox already. */
		if (err->cause != ERR_CAUSE_OVER_QUOTA)
			error_prefix(err, "adding messages to \"%s\" on %s", f->name, f->st->peer);
		return -1;
	}
	return 0;
}

/* --- flags and deletion --------------------------------------------------- */

int istore_set_flags(struct store_folder *f, const struct store_msg *msgs, size_t count, unsigned add,
                     const char *add_keywords, unsigned remove, const char *remove_keywords,
                     struct error *err)
{
	char *addf = mail_flags_format(add & MAIL_FLAGS_ALL, add_keywords);
	char *remf = mail_flags_format(remove & MAIL_FLAGS_ALL, remove_keywords);
	struct imap_uidset *chunks = NULL;
	struct store_job *jobs;
	size_t n, nchunks = 0, njobs = 0;
	uint32_t *uids;
	int rc = 0;

	if (istore_collect_uids(msgs, count, &uids, &n, err) < 0) {
		free(addf);
		free(remf);
		return -1;
	}
	if (n > 0 && (addf[0] || remf[0])) {
		chunks = chunk_uids(uids, n, &nchunks);
		jobs = xcalloc(nchunks * 2, sizeof(*jobs));
		for (size_t i = 0; i < nchunks; i++) {
			if (remf[0])
				jobs[njobs++] = (struct store_job){&chunks[i], IMAP_STORE_REMOVE, remf, 0};
			if (addf[0])
				jobs[njobs++] = (struct store_job){&chunks[i], IMAP_STORE_ADD, addf, 0};
		}
		rc = run_jobs(f->st->s, jobs, njobs, NULL, err);
		if (rc < 0)
			error_prefix(err, "changing flags in \"%s\"", f->name);
		free(jobs);
	}
	chunks_free(chunks, nchunks);
	free(uids);
	free(addf);
	free(remf);
	return rc;
}

struct uid_modseq {
	uint32_t uid;
	uint64_t modseq;
};

static int cmp_by_modseq(const void *a, const void *b)
{
	const struct uid_modseq *x = a, *y = b;

	if (x->modseq != y->modseq)
		return x->modseq < y->modseq ? -1 : 1;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

int istore_delete(struct store_folder *f, const struct store_msg *msgs, size_t count, struct error *err)
{
	struct imap_session *s = f->st->s;
	bool conditional = imap_has_cap(s, "CONDSTORE") && !imap_selected(s)->nomodseq;
	struct imap_uidset kept = IMAP_UIDSET_INIT;
	struct uid_modseq *um;
	struct store_job *jobs = NULL;
	struct imap_uidset **groups = NULL;
	size_t *group_n = NULL, ngroups = 0, njobs = 0, jobs_cap = 0;
	uint32_t *uids, *gone;
	size_t n, ngone = 0;
	int rc = 0;

	if (istore_collect_uids(msgs, count, &uids, &n, err) < 0)
		return -1;
	if (n == 0) {
		free(uids);
		return 0;
	}
	/* Messages with the same modseq share one UID STORE (UNCHANGEDSINCE
	 * that modseq); modseq 0 (not known) stores unconditionally. */
	um = xcalloc(count, sizeof(*um));
	for (size_t i = 0; i < count; i++)
		um[i] = (struct uid_modseq){msgs[i].uid, conditional ? msgs[i].modseq : 0};
	qsort(um, count, sizeof(*um), cmp_by_modseq);
	for (size_t i = 0; i < count;) {
		size_t j = i, m = 0, nchunks;
		uint32_t *g = xcalloc(count - i, sizeof(*g));
		for (; j < count && um[j].modseq == um[i].modseq; j++)
			if (m == 0 || g[m - 1] != um[j].uid)
				g[m++] = um[j].uid;
		groups = xrealloc(groups, (ngroups + 1) * sizeof(*groups));
		group_n = xrealloc(group_n, (ngroups + 1) * sizeof(*group_n));
		groups[ngroups] = chunk_uids(g, m, &nchunks);
		group_n[ngroups] = nchunks;
		for (size_t k = 0; k < nchunks; k++) {
			jobs = xgrow(jobs, &jobs_cap, njobs + 1, sizeof(*jobs));
			jobs[njobs++] = (struct store_job){&groups[ngroups][k], IMAP_STORE_ADD, "\\Deleted",
			                                   um[i].modseq};
		}
		ngroups++;
		free(g);
		i = j;
	}
	rc = run_jobs(s, jobs, njobs, &kept, err);
	/* Expunge exactly the UIDs marked here; those changed meanwhile
	 * kept their place (and have no \Deleted from us). */
	gone = xcalloc(n, sizeof(*gone));
	for (size_t i = 0; i < n; i++)
		if (!imap_uidset_contains(&kept, uids[i]))
			gone[ngone++] = uids[i];
	if (rc == 0 && ngone) {
		size_t nchunks;
		struct imap_uidset *chunks = chunk_uids(gone, ngone, &nchunks);
		for (size_t k = 0; k < nchunks && rc == 0; k++)
			rc = imap_expunge_uids(s, &chunks[k], err);
		chunks_free(chunks, nchunks);
	}
	if (rc == 0 && ngone < n) {
		uint64_t nk = n - ngone;
		rc =
		    error_set(err, ERR_MESSAGE,
		              "%llu message%s changed on the server since twinbox looked, so %s not deleted; "
		              "the change is synced first",
		              (unsigned long long)nk, nk == 1 ? "" : "s", nk == 1 ? "it was" : "they were");
	}
	if (rc < 0)
		error_prefix(err, "deleting messages in \"%s\"", f->name);
	for (size_t i = 0; i < ngroups; i++)
		chunks_free(groups[i], group_n[i]);
	free(groups);
	free(group_n);
	free(jobs);
	free(gone);
	free(um);
	free(uids);
	imap_uidset_free(&kept);
	return rc;
}
