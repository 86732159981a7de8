/*
 * Copies of a folder's plan, from any side to any side, in batches of
 * COPY_BATCH: pushed from the source's fetch into the target's writer
 * where the target has one, else pulled by the target's add from a
 * source of each message (store/source.h). Each batch is announced by
 * durable intents first and recorded as pairs (or as the caller's
 * records: folder_run.record_copy) once the target made it durable.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "events_p.h"
#include "twinbox/state/intent.h"
#include "twinbox/store/content_key.h"
#include "twinbox/store/source.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define COPY_BATCH 200 /* messages per batch of intents, copies and records */

/* One message being copied. */
struct copy {
	const struct plan_action *a;
	int64_t intent;
	struct store_id src; /* the message on the source side */
	uint32_t dst_uid;    /* the copy: its UID on a UID store, once told */
	char *dst_name;      /* or its name on a name store (reserved ahead, then final) */
	char *key;           /* content key as copied */
	uint64_t size;       /* canonical size */
	bool done;
};

/* The two sides of a batch of copies. */
struct copy_run {
	struct folder_run *r;
	enum side from, to;
	struct store *src, *dst;
	struct store_folder *sf, *df;
};

static void free_copies(struct copy *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].dst_name);
		free(c[i].key);
	}
	free(c);
}

/* Write the intents of a batch durably: before any store is touched. */
static int add_intents(const struct copy_run *cr, struct copy *c, size_t n, struct error *err)
{
	struct folder_run *r = cr->r;

	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* The flags the copy is made with: the pair's base if the
		 * run is killed before it records the pair. */
		char *delivered = state_intent_flags_format(c[i].a->flags, c[i].a->keywords);
		struct state_intent in = {
		    .folder_id = r->folder_id,
		    .kind = STATE_INTENT_COPY,
		    .side = cr->to,
		    .pair_id = c[i].a->pair_id,
		    .remote = delivered,
		    .content_key = c[i].a->content_key ? c[i].a->content_key : c[i].key,
		};
		in.msg[cr->from] = c[i].src;
		in.msg[cr->to] = (struct store_id){0, c[i].dst_name};
		int rc = state_intent_add(r->st, &in, &c[i].intent, err);
		free(delivered);
		if (rc < 0) {
			state_rollback(r->st);
			return -1;
		}
	}
	return engine_commit(r, true, "copy intents recorded", err);
}

/* After the target made a batch durable: record its pairs, drop the
 * intents of what failed. */
static int resolve_copies(const struct copy_run *cr, struct copy *c, size_t n, struct error *err)
{
	struct folder_run *r = cr->r;

	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int rc;
		if (r->record_copy) {
			struct store_id to = {c[i].dst_uid, c[i].dst_name};
			rc = r->record_copy(r->record_ctx, c[i].intent, c[i].src,
			                    c[i].done ? to : (struct store_id){0}, err);
		} else if (c[i].done && (c[i].dst_uid || c[i].dst_name)) {
			struct state_pair p = {.id = c[i].a->pair_id,
			                       .folder_id = r->folder_id,
			                       .flags = c[i].a->flags,
			                       .keywords = c[i].a->keywords,
			                       .size = c[i].size,
			                       .content_key = c[i].key};
			p.side[cr->from] = c[i].src;
			p.side[cr->to] = (struct store_id){c[i].dst_uid, c[i].dst_name};
			rc = state_intent_resolve_pair(r->st, c[i].intent, &p, err);
		} else {
			/* Failed, gone, or added without its id (IMAP without
			 * UIDPLUS): the next run matches it by content key. */
			rc = state_intent_resolve(r->st, c[i].intent, err);
		}
		if (rc < 0) {
			state_rollback(r->st);
			return -1;
		}
	}
	/* A caller's own records (the POP3 import's) are durable at once:
	 * it deletes from the source what they record. */
	return engine_commit(r, r->record_copy != NULL, "copies recorded", err);
}

/* Count the batch in the folder's report. */
static void count_copies(const struct copy_run *cr, const struct copy *c, size_t n)
{
	struct sync_folder_report *rep = cr->r->rep;

	for (size_t i = 0; i < n; i++) {
		if (!c[i].done) {
			rep->message_failures++;
			continue;
		}
		if (cr->to == SIDE_B)
			rep->to_local++;
		else
			rep->to_remote++;
		rep->reuploaded += c[i].a->reupload;
		engine_not_kept_copy(&rep->not_kept[cr->to], c[i].a);
		engine_copy_done(cr->r->o, rep, c[i].a, c[i].dst_uid, c[i].dst_name, c[i].size);
	}
}

/* The target made the batch durable: the crash point that says so. */
static void copies_durable(const struct copy_run *cr)
{
	crash_point(cr->to == SIDE_B ? "messages delivered locally" : "messages appended to the server");
}

/* The sink of the source's fetch: each message into the target's writer. */
struct download {
	const struct copy_run *cr;
	struct copy *c;
	size_t n;
	struct copy *cur;
	void *writer;
	struct content_key_builder kb;
	struct error failure; /* the first message-level failure */
};

static struct copy *find_copy(struct download *d, const struct store_msg *msg)
{
	struct store_id id = {msg->uid, msg->name};

	for (size_t i = 0; i < d->n; i++)
		if (!d->c[i].done && store_id_cmp(d->c[i].src, id) == 0)
			return &d->c[i];
	return NULL;
}

static int dl_begin(void *ctx, const struct store_msg *msg, struct error *err)
{
	struct download *d = ctx;
	struct store_new_msg meta = {0};

	d->cur = find_copy(d, msg);
	d->writer = NULL;
	if (!d->cur)
		return 0; /* not asked for: ignore its bytes */
	meta.flags = d->cur->a->flags;
	meta.keywords = d->cur->a->keywords;
	meta.date = msg->date ? msg->date : (time_t)d->cur->a->time;
	meta.date_zone = (int16_t)(msg->date ? msg->date_zone : d->cur->a->zone);
	meta.name_r = d->cur->dst_name;
	d->cur->size = msg->size;
	content_key_init(&d->kb);
	if (d->cr->dst->ops->write_begin(d->cr->df, &meta, &d->writer, err) < 0) {
		d->writer = NULL;
		content_key_free(&d->kb);
		return err->scope > ERR_MESSAGE ? -1 : (d->failure = *err, d->cur = NULL, 0);
	}
	return 0;
}

static int dl_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct download *d = ctx;

	if (!d->writer)
		return 0;
	content_key_feed(&d->kb, data, len);
	if (d->cr->dst->ops->write_chunk(d->writer, data, len, err) < 0) {
		struct error ignored;
		d->cr->dst->ops->write_end(d->writer, false, NULL, NULL, &ignored);
		d->writer = NULL;
		content_key_free(&d->kb);
		if (err->scope > ERR_MESSAGE)
			return -1;
		d->failure = *err;
		d->cur = NULL;
	}
	return 0;
}

static int dl_end(void *ctx, struct error *err)
{
	struct download *d = ctx;
	char *name = NULL;
	uint32_t uid = 0;

	if (!d->writer)
		return 0;
	if (d->cr->dst->ops->write_end(d->writer, true, &name, &uid, err) < 0) {
		d->writer = NULL;
		content_key_free(&d->kb);
		if (err->scope > ERR_MESSAGE)
			return -1;
		d->failure = *err;
		return 0;
	}
	d->writer = NULL;
	free(d->cur->dst_name);
	d->cur->dst_name = name;
	d->cur->dst_uid = uid;
	d->cur->key = content_key_finish(&d->kb, d->cur->size);
	content_key_free(&d->kb);
	d->cur->done = true;
	engine_progress(d->cr->r->o, d->cr->r->rep, 1, d->cur->size);
	return 0;
}

/* Push: the source's fetch streams each message into the target's
 * writer, under names reserved ahead (in the intents). */
static int copy_push(const struct copy_run *cr, struct copy *c, size_t n, struct error *err)
{
	struct folder_run *r = cr->r;
	struct store_msg *msgs = xcalloc(n, sizeof(*msgs));
	struct download d = {.cr = cr, .c = c, .n = n};
	int rc = -1;

	error_clear(&d.failure);
	for (size_t i = 0; i < n; i++) {
		if (cr->dst->ops->reserve_name)
			c[i].dst_name = cr->dst->ops->reserve_name(cr->df, c[i].a->size);
		msgs[i].uid = c[i].src.uid;
		msgs[i].name = c[i].src.name;
	}
	if (add_intents(cr, c, n, err) < 0)
		goto out;
	if (cr->src->ops->fetch(cr->sf, msgs, n, &(struct store_sink){&d, dl_begin, dl_chunk, dl_end}, err) <
	    0) {
		if (d.writer) {
			struct error ignored;
			cr->dst->ops->write_end(d.writer, false, NULL, NULL, &ignored);
			content_key_free(&d.kb);
		}
		goto out;
	}
	if (cr->dst->ops->flush(cr->df, err) < 0)
		goto out;
	copies_durable(cr);
	if (d.failure.scope != ERR_NONE)
		log_warn("%s: %s", r->rep->name, d.failure.text);
	if (resolve_copies(cr, c, n, err) < 0)
		goto out;
	count_copies(cr, c, n);
	for (size_t i = 0; i < n; i++)
		if (!c[i].done)
			engine_actions_failed(r->o, r->rep, c[i].a, 1,
			                      d.failure.scope != ERR_NONE ? d.failure.text
			                                                  : "not copied: gone from its side");
	rc = 0;
out:
	free(msgs);
	return rc;
}

/* A source read that also feeds the content key of the copy. */
struct upload_src {
	struct store_new_msg src;
	struct content_key_builder kb;
};

static long long up_read(void *ctx, void *data, size_t len, struct error *err)
{
	struct upload_src *u = ctx;
	long long n = u->src.read(u->src.ctx, data, len, err);

	if (n > 0)
		content_key_feed(&u->kb, data, (size_t)n);
	return n;
}

static int up_rewind(void *ctx, struct error *err)
{
	struct upload_src *u = ctx;

	content_key_free(&u->kb);
	content_key_init(&u->kb);
	return u->src.rewind(u->src.ctx, err);
}

struct ordered {
	struct store_id id;
	size_t ix;
};

static int ordered_cmp(const void *x, const void *y)
{
	return store_id_cmp(((const struct ordered *)x)->id, ((const struct ordered *)y)->id);
}

/* The content keys of the batch's sources whose action has none, into
 * c[i].key: a copy intent carries one, so that a run killed after the
 * copy finds the target's copy even if the source is gone by then. A
 * message that cannot be read goes without. */
static void source_keys(const struct copy_run *cr, struct copy *c, size_t n)
{
	struct ordered *order = xcalloc(n + 1, sizeof(*order));
	struct store_msg *msgs;
	size_t m = 0, *want;
	char **keys = NULL;
	struct error err;

	for (size_t i = 0; i < n; i++)
		if (!c[i].a->content_key)
			order[m++] = (struct ordered){c[i].src, i};
	if (m == 0) {
		free(order);
		return;
	}
	qsort(order, m, sizeof(*order), ordered_cmp);
	msgs = xcalloc(m, sizeof(*msgs));
	want = xcalloc(m, sizeof(*want));
	for (size_t j = 0; j < m; j++) {
		msgs[j].uid = order[j].id.uid;
		msgs[j].name = order[j].id.name;
		want[j] = j;
	}
	if (engine_keys_of(cr->src, cr->sf, &(struct store_snapshot){msgs, m, NULL, NULL}, want, m, &keys,
	                   &err) < 0)
		log_debug("%s: %s", cr->r->rep->name, err.text);
	for (size_t j = 0; keys && j < m; j++)
		c[order[j].ix].key = keys[j];
	free(keys);
	free(want);
	free(msgs);
	free(order);
}

/* Pull: sources of the messages for the target's add, as they come
 * (store/source.h). A store with sources of its own opens the whole
 * batch for one add (grouped where the target can). A fetched source
 * gives whatever came while the add before ran, so the source's fetch
 * and the target's add keep both connections busy; a message too big to
 * hold goes alone. A target over its quota takes no more of the batch:
 * what it took is recorded, then -1 with its refusal. */
static int copy_pull(const struct copy_run *cr, struct copy *c, size_t n, struct error *err)
{
	struct folder_run *r = cr->r;
	struct upload_src *u = xcalloc(n, sizeof(*u));
	struct store_new_msg *m = xcalloc(n, sizeof(*m));
	struct store_msg *want = xcalloc(n, sizeof(*want));
	struct error *errs = xcalloc(n, sizeof(*errs));
	size_t *idx = xcalloc(n, sizeof(*idx));
	bool *tried = xcalloc(n, sizeof(*tried));
	struct store_sources *ss = NULL;
	struct error full = {0};
	int rc = -1;

	source_keys(cr, c, n);
	if (add_intents(cr, c, n, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		want[i] = (struct store_msg){.uid = c[i].src.uid,
		                             .name = c[i].src.name,
		                             .flags = c[i].a->flags,
		                             .keywords = c[i].a->keywords,
		                             .date = (time_t)c[i].a->time,
		                             .date_zone = (int16_t)c[i].a->zone,
		                             .size = c[i].a->size};
	ss = store_sources_open(cr->src, cr->sf, want, n);
	for (;;) {
		size_t nm = 0, ix;
		struct error serr;
		int arc = 0, got;

		/* The first waited for, then what is ready. */
		while ((got = store_sources_next(ss, nm == 0, &u[nm].src, &ix, &serr)) != 0) {
			if (got < 0 && serr.scope > ERR_MESSAGE) {
				*err = serr;
				arc = -1;
				break;
			}
			tried[ix] = true;
			if (got < 0) {
				log_warn("%s: %s", r->rep->name, serr.text);
				engine_actions_failed(r->o, r->rep, c[ix].a, 1, serr.text);
				continue;
			}
			content_key_init(&u[nm].kb);
			m[nm] = u[nm].src;
			m[nm].flags = c[ix].a->flags;
			m[nm].keywords = c[ix].a->keywords;
			m[nm].ctx = &u[nm];
			m[nm].read = up_read;
			m[nm].rewind = u[nm].src.rewind ? up_rewind : NULL;
			m[nm].name_r = NULL;
			idx[nm++] = ix;
			if (!m[nm - 1].rewind)
				break; /* it goes alone */
		}
		if (arc == 0 && nm == 0)
			break; /* every message was given */
		if (arc == 0 && cr->dst->ops->add(cr->df, m, nm, errs, err) < 0)
			arc = -1;
		/* The target is full: what it took goes on the record as
		 * usual, and nothing more is sent to it. */
		if (arc < 0 && err->cause == ERR_CAUSE_OVER_QUOTA && err->scope == ERR_MAILBOX) {
			full = *err;
			arc = 0;
		}
		for (size_t j = 0; j < nm; j++) {
			struct copy *cp = &c[idx[j]];
			if (arc == 0 && errs[j].scope != ERR_NONE) {
				if (errs[j].cause != ERR_CAUSE_OVER_QUOTA) /* the folder's error says it */
					log_warn("%s: %s", r->rep->name, errs[j].text);
				engine_actions_failed(r->o, r->rep, cp->a, 1, errs[j].text);
			} else if (arc == 0) {
				cp->dst_uid = m[j].uid_r;
				free(cp->dst_name);
				cp->dst_name = m[j].name_r;
				m[j].name_r = NULL;
				cp->size = m[j].size;
				free(cp->key); /* the one read ahead for the intent */
				cp->key = content_key_finish(&u[j].kb, m[j].size);
				cp->done = true;
				engine_progress(r->o, r->rep, 1, cp->size);
			}
			store_sources_done(ss, &u[j].src);
			content_key_free(&u[j].kb);
			free(m[j].name_r);
		}
		if (arc < 0)
			goto out;
		if (full.scope != ERR_NONE) {
			for (size_t i = 0; i < n; i++)
				if (!tried[i])
					engine_actions_failed(r->o, r->rep, c[i].a, 1, full.text);
			break;
		}
	}
	store_sources_close(ss);
	ss = NULL;
	if (cr->dst->ops->flush(cr->df, err) < 0)
		goto out;
	copies_durable(cr);
	if (resolve_copies(cr, c, n, err) < 0)
		goto out;
	count_copies(cr, c, n);
	rc = 0;
	if (full.scope != ERR_NONE) {
		*err = full;
		rc = -1;
	}
out:
	store_sources_close(ss);
	free(u);
	free(m);
	free(want);
	free(errs);
	free(idx);
	free(tried);
	return rc;
}

/* Copies to a side over its quota (`why`: its refusal): the `n`
 * actions `a` not tried are failures of the folder, besides `left`
 * copies of `bytes` that were tried; -1 with the folder's error. */
static int not_copied(const struct copy_run *cr, const struct plan_action *a, size_t n, size_t left,
                      uint64_t bytes, const char *why, struct error *err)
{
	struct folder_run *r = cr->r;
	struct error e;

	for (size_t i = 0; i < n; i++)
		bytes += a[i].size;
	engine_over_quota(r->o, cr->to, why, left + n, bytes, &e);
	r->rep->message_failures += n;
	engine_actions_failed(r->o, r->rep, a, n, e.text);
	*err = e;
	return -1;
}

int engine_copies(struct folder_run *r, const struct plan *plan, enum side to, struct error *err)
{
	size_t n;
	const struct plan_action *a = plan_actions(plan, PLAN_COPY, to, &n);

	return engine_copy_actions(r, a, n, to, err);
}

int engine_copy_actions(struct folder_run *r, const struct plan_action *a, size_t n, enum side to,
                        struct error *err)
{
	struct copy_run cr = {r,
	                      side_other(to),
	                      to,
	                      run_store(r, side_other(to)),
	                      run_store(r, to),
	                      run_folder(r, side_other(to)),
	                      run_folder(r, to)};
	char why[ERROR_TEXT_MAX];

	for (size_t i = 0; i < n; i += COPY_BATCH) {
		size_t b = n - i < COPY_BATCH ? n - i : COPY_BATCH, left = 0;
		struct copy *c;
		uint64_t bytes = 0;
		int rc;

		if (engine_side_full(r->o, to, why))
			return not_copied(&cr, a + i, n - i, 0, 0, why, err);
		/* Between batches: what came before is recorded. */
		if (engine_stopping(r->o, err))
			return -1;
		c = xcalloc(b, sizeof(*c));
		for (size_t k = 0; k < b; k++) {
			c[k].a = &a[i + k];
			c[k].src = a[i + k].id[cr.from];
		}
		rc = cr.dst->ops->write_begin ? copy_push(&cr, c, b, err) : copy_pull(&cr, c, b, err);
		for (size_t k = 0; k < b; k++) {
			left += !c[k].done;
			bytes += c[k].done ? 0 : c[k].a->size;
		}
		free_copies(c, b);
		if (rc < 0 && err->cause == ERR_CAUSE_OVER_QUOTA && err->scope == ERR_MAILBOX)
			return not_copied(&cr, a + i + b, n - i - b, left, bytes, err->text, err);
		if (rc < 0)
			return -1;
	}
	return 0;
}
