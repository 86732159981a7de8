/*
 * Carrying a folder's plan out, in the planner's kind order: records,
 * flags, pair updates, copies (in batches, each behind durable intents),
 * deletions, forgetting. Every step that must survive a crash ends in a
 * state commit or a store flush followed by crash_point().
 */
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "events_p.h"
#include "twinbox/state/intent.h"
#include "twinbox/store/content_key.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define COPY_BATCH 200 /* messages per batch of intents, copies and records */

/* Pair ids that PAIR_EXISTING actions with pair_id 0 created, by uid, for
 * the flag and update actions that refer to "the pair of this uid". */
struct new_pairs {
	uint32_t *uids;
	int64_t *ids;
	size_t count;
};

static int64_t pair_of(const struct new_pairs *np, const struct plan_action *a)
{
	if (a->pair_id)
		return a->pair_id;
	for (size_t i = 0; i < np->count; i++)
		if (np->uids[i] == a->id[SIDE_A].uid)
			return np->ids[i];
	return 0;
}

/* The pair action `a` describes, as row `id` of r's folder. */
static struct state_pair action_pair(const struct folder_run *r, const struct plan_action *a, int64_t id)
{
	return (struct state_pair){.id = id,
	                           .folder_id = r->folder_id,
	                           .side = {a->id[SIDE_A], a->id[SIDE_B]},
	                           .flags = a->flags,
	                           .keywords = a->keywords,
	                           .size = a->size,
	                           .content_key = a->content_key};
}

static int commit(struct folder_run *r, bool durable, const char *what, struct error *err)
{
	int rc = durable ? state_commit_durable(r->st, err) : state_commit(r->st, err);

	if (rc < 0) {
		state_rollback(r->st);
		return -1;
	}
	crash_point(what);
	return 0;
}

static int record_pairs(struct folder_run *r, const struct plan *plan, struct new_pairs *np,
                        struct error *err)
{
	size_t n;
	const struct plan_action *a = plan_actions(plan, PLAN_PAIR_EXISTING, SIDE_A, &n);

	if (n == 0)
		return 0;
	np->uids = xcalloc(n, sizeof(*np->uids));
	np->ids = xcalloc(n, sizeof(*np->ids));
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct state_pair p = action_pair(r, &a[i], a[i].pair_id);
		int rc = p.id ? state_pair_update(r->st, &p, err) : state_pair_insert(r->st, &p, err);
		if (rc < 0) {
			state_rollback(r->st);
			return -1;
		}
		np->uids[np->count] = a[i].id[SIDE_A].uid;
		np->ids[np->count++] = p.id;
	}
	r->rep->paired += n;
	if (commit(r, false, "pairs matched by content recorded", err) < 0)
		return -1;
	engine_actions_done(r->o, r->rep, a, n);
	return 0;
}

/* ---- flags ---------------------------------------------------------- */

/* Pairs whose flag change failed: their last-synced flags must stay. */
struct failed_pairs {
	int64_t *ids;
	size_t count, cap;
};

static void fail_pair(struct failed_pairs *fp, int64_t id)
{
	fp->ids = xgrow(fp->ids, &fp->cap, fp->count + 1, sizeof(*fp->ids));
	fp->ids[fp->count++] = id;
}

static bool pair_failed(const struct failed_pairs *fp, int64_t id)
{
	for (size_t i = 0; i < fp->count; i++)
		if (fp->ids[i] == id)
			return true;
	return false;
}

static int set_flags(struct folder_run *r, const struct plan *plan, enum side side,
                     const struct new_pairs *np, struct failed_pairs *fp, struct error *err)
{
	bool remote = side == SIDE_A;
	struct store *s = remote ? r->rs : r->ls;
	struct store_folder *f = remote ? r->rf : r->lf;
	struct plan_flag_group *groups;
	size_t ng = plan_flag_groups(plan, side, &groups);
	int rc = 0;

	for (size_t g = 0; g < ng && rc == 0; g++) {
		struct store_msg *msgs = xcalloc(groups[g].count, sizeof(*msgs));
		const struct plan_flag_change *c = groups[g].change;
		struct error ferr;

		for (size_t i = 0; i < groups[g].count; i++) {
			msgs[i].uid = remote ? groups[g].actions[i].id[SIDE_A].uid : 0;
			msgs[i].name = remote ? NULL : groups[g].actions[i].id[SIDE_B].name;
		}
		error_clear(&ferr);
		if (s->ops->set_flags(f, msgs, groups[g].count, c->add, c->add_keywords, c->remove,
		                      c->remove_keywords, &ferr) < 0) {
			for (size_t i = 0; i < groups[g].count; i++)
				fail_pair(fp, pair_of(np, &groups[g].actions[i]));
			if (ferr.scope > ERR_MESSAGE) {
				*err = ferr;
				rc = -1;
			} else {
				log_warn("%s: %s", r->rep->name, ferr.text);
				r->rep->message_failures += groups[g].count;
				engine_actions_failed(r->o, r->rep, groups[g].actions, groups[g].count,
				                      ferr.text);
			}
		} else {
			*(remote ? &r->rep->flags_remote : &r->rep->flags_local) += groups[g].count;
			engine_actions_done(r->o, r->rep, groups[g].actions, groups[g].count);
		}
		free(msgs);
	}
	free(groups);
	return rc;
}

/* Whether record_pairs() wrote pair `id` in this run. */
static bool pair_recorded(const struct new_pairs *np, int64_t id)
{
	for (size_t i = 0; i < np->count; i++)
		if (np->ids[i] == id)
			return true;
	return false;
}

static const struct state_pair *loaded_pair(const struct folder_run *r, int64_t id)
{
	for (size_t i = 0; i < r->pairs.count; i++)
		if (r->pairs.pairs[i].id == id)
			return &r->pairs.pairs[i];
	return NULL;
}

static int update_pairs(struct folder_run *r, const struct plan *plan, const struct new_pairs *np,
                        const struct failed_pairs *fp, struct error *err)
{
	size_t n;
	const struct plan_action *a = plan_actions(plan, PLAN_UPDATE_PAIR, SIDE_A, &n);

	if (n == 0)
		return 0;
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int64_t id = pair_of(np, &a[i]);
		const struct state_pair *old = loaded_pair(r, id);
		struct state_pair p;

		if (!id || pair_failed(fp, id))
			continue;
		if (old) {
			p = *old;
			/* A pair this plan re-attached by content (PAIR_EXISTING
			 * with its id) has its new ids in the action: keep them. */
			if (pair_recorded(np, id))
				for (int s = 0; s < SIDES; s++)
					p.side[s] = a[i].id[s];
		} else {
			/* A pair recorded by this plan: its fields are in the action. */
			p = action_pair(r, &a[i], id);
		}
		if (a[i].update & PLAN_UPDATE_FLAGS) {
			p.flags = a[i].flags;
			p.keywords = a[i].keywords;
		}
		for (int s = 0; s < SIDES; s++)
			if (a[i].update & plan_update_drop((enum side)s))
				p.side[s] = (struct store_id){0, NULL};
		if (state_pair_update(r->st, &p, err) < 0) {
			state_rollback(r->st);
			return -1;
		}
	}
	return commit(r, false, "pair updates recorded", err);
}

/* ---- copies --------------------------------------------------------- */

/* One message being copied. */
struct copy {
	const struct plan_action *a;
	int64_t intent;
	char *name;    /* local name (reserved, then final) */
	uint32_t uid;  /* remote uid (source or new) */
	char *key;     /* content key as copied */
	uint64_t size; /* canonical size */
	bool done;
};

static void free_copies(struct copy *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		free(c[i].key);
	}
	free(c);
}

/* Write the intents of a batch durably: before any store is touched. */
static int add_intents(struct folder_run *r, struct copy *c, size_t n, enum state_intent_kind kind,
                       struct error *err)
{
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* The flags the copy is made with: the pair's base if the
		 * run is killed before it records the pair. */
		char *delivered = state_intent_flags_format(c[i].a->flags, c[i].a->keywords);
		struct state_intent in = {
		    .folder_id = r->folder_id,
		    .kind = kind,
		    .pair_id = c[i].a->pair_id,
		    .uid = c[i].uid,
		    .local_id = c[i].name,
		    .remote = delivered,
		    .content_key = c[i].a->content_key ? c[i].a->content_key : c[i].key,
		};
		int rc = state_intent_add(r->st, &in, &c[i].intent, err);
		free(delivered);
		if (rc < 0) {
			state_rollback(r->st);
			return -1;
		}
	}
	return commit(r, true, "copy intents recorded", err);
}

/* After the stores made a batch durable: record its pairs, drop the
 * intents of what failed. */
static int resolve_copies(struct folder_run *r, struct copy *c, size_t n, struct error *err)
{
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int rc;
		if (c[i].done && c[i].uid && c[i].name) {
			struct state_pair p = {.id = c[i].a->pair_id,
			                       .folder_id = r->folder_id,
			                       .side = {{c[i].uid, NULL}, {0, c[i].name}},
			                       .flags = c[i].a->flags,
			                       .keywords = c[i].a->keywords,
			                       .size = c[i].size,
			                       .content_key = c[i].key};
			rc = state_intent_resolve_pair(r->st, c[i].intent, &p, err);
		} else {
			/* Failed, gone, or appended without a UID (no UIDPLUS):
			 * the next run matches it by content key. */
			rc = state_intent_resolve(r->st, c[i].intent, err);
		}
		if (rc < 0) {
			state_rollback(r->st);
			return -1;
		}
	}
	return commit(r, false, "copies recorded", err);
}

/* The sink of a remote fetch: each message into the local writer. */
struct download {
	struct folder_run *r;
	struct copy *c;
	size_t n;
	struct copy *cur;
	void *writer;
	struct content_key_builder kb;
	struct error failure; /* the first message-level failure */
};

static struct copy *find_copy(struct download *d, uint32_t uid)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->c[i].uid == uid && !d->c[i].done)
			return &d->c[i];
	return NULL;
}

static int dl_begin(void *ctx, const struct store_msg *msg, struct error *err)
{
	struct download *d = ctx;
	struct store_new_msg meta = {0};

	d->cur = find_copy(d, msg->uid);
	d->writer = NULL;
	if (!d->cur)
		return 0; /* not asked for: ignore its bytes */
	meta.flags = d->cur->a->flags;
	meta.keywords = d->cur->a->keywords;
	meta.date = msg->date ? msg->date : (time_t)d->cur->a->time;
	meta.name_r = d->cur->name;
	d->cur->size = msg->size;
	content_key_init(&d->kb);
	if (d->r->ls->ops->write_begin(d->r->lf, &meta, &d->writer, err) < 0) {
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
	if (d->r->ls->ops->write_chunk(d->writer, data, len, err) < 0) {
		struct error ignored;
		d->r->ls->ops->write_end(d->writer, false, NULL, NULL, &ignored);
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

	if (!d->writer)
		return 0;
	if (d->r->ls->ops->write_end(d->writer, true, &name, NULL, err) < 0) {
		d->writer = NULL;
		content_key_free(&d->kb);
		if (err->scope > ERR_MESSAGE)
			return -1;
		d->failure = *err;
		return 0;
	}
	d->writer = NULL;
	free(d->cur->name);
	d->cur->name = name;
	d->cur->key = content_key_finish(&d->kb, d->cur->size);
	content_key_free(&d->kb);
	d->cur->done = true;
	engine_progress(d->r->o, d->r->rep, 1, d->cur->size);
	return 0;
}

static int copy_to_local(struct folder_run *r, const struct plan_action *a, size_t n, struct error *err)
{
	struct copy *c = xcalloc(n, sizeof(*c));
	struct store_msg *msgs = xcalloc(n, sizeof(*msgs));
	struct download d = {.r = r, .c = c, .n = n};
	int rc = -1;

	error_clear(&d.failure);
	for (size_t i = 0; i < n; i++) {
		c[i].a = &a[i];
		c[i].uid = a[i].id[SIDE_A].uid;
		c[i].name = r->ls->ops->reserve_name(r->lf, a[i].size);
		msgs[i].uid = a[i].id[SIDE_A].uid;
	}
	if (add_intents(r, c, n, STATE_INTENT_DELIVER_LOCAL, err) < 0)
		goto out;
	if (r->rs->ops->fetch(r->rf, msgs, n, &(struct store_sink){&d, dl_begin, dl_chunk, dl_end}, err) <
	    0) {
		if (d.writer) {
			struct error ignored;
			r->ls->ops->write_end(d.writer, false, NULL, NULL, &ignored);
			content_key_free(&d.kb);
		}
		goto out;
	}
	if (r->ls->ops->flush(r->lf, err) < 0)
		goto out;
	crash_point("messages delivered locally");
	if (d.failure.scope != ERR_NONE)
		log_warn("%s: %s", r->rep->name, d.failure.text);
	if (resolve_copies(r, c, n, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (c[i].done) {
			r->rep->to_local++;
			engine_copy_done(r->o, r->rep, c[i].a, 0, c[i].name, c[i].size);
		} else {
			r->rep->message_failures++;
			engine_actions_failed(r->o, r->rep, c[i].a, 1,
			                      d.failure.scope != ERR_NONE
			                          ? d.failure.text
			                          : "not copied: gone from the server");
		}
	}
	rc = 0;
out:
	free(msgs);
	free_copies(c, n);
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

struct named {
	const char *name;
	size_t ix;
};

static int named_cmp(const void *x, const void *y)
{
	return strcmp(((const struct named *)x)->name, ((const struct named *)y)->name);
}

/* The content keys of the batch's local files whose action has none,
 * into c[i].key: an append-remote intent carries one, so that a run
 * killed after the APPEND finds the server's copy even if the local
 * file is gone by then. A file that cannot be read goes without. */
static void upload_keys(struct folder_run *r, struct copy *c, size_t n)
{
	struct named *order = xcalloc(n + 1, sizeof(*order));
	struct store_msg *msgs;
	size_t m = 0, *want;
	char **keys = NULL;
	struct error err;

	for (size_t i = 0; i < n; i++)
		if (!c[i].a->content_key)
			order[m++] = (struct named){c[i].a->id[SIDE_B].name, i};
	if (m == 0) {
		free(order);
		return;
	}
	qsort(order, m, sizeof(*order), named_cmp);
	msgs = xcalloc(m, sizeof(*msgs));
	want = xcalloc(m, sizeof(*want));
	for (size_t j = 0; j < m; j++) {
		msgs[j].name = order[j].name;
		want[j] = j;
	}
	if (engine_keys_of(r->ls, r->lf, &(struct store_snapshot){msgs, m, NULL, NULL}, want, m, &keys,
	                   &err) < 0)
		log_debug("%s: %s", r->rep->name, err.text);
	for (size_t j = 0; keys && j < m; j++)
		c[order[j].ix].key = keys[j];
	free(keys);
	free(want);
	free(msgs);
	free(order);
}

static int copy_to_remote(struct folder_run *r, const struct plan_action *a, size_t n, struct error *err)
{
	struct copy *c = xcalloc(n, sizeof(*c));
	struct upload_src *u = xcalloc(n, sizeof(*u));
	struct store_new_msg *m = xcalloc(n, sizeof(*m));
	struct error *errs = xcalloc(n, sizeof(*errs));
	size_t *idx = xcalloc(n, sizeof(*idx));
	size_t nm = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		c[i].a = &a[i];
		c[i].name = xstrdup(a[i].id[SIDE_B].name);
	}
	upload_keys(r, c, n);
	if (add_intents(r, c, n, STATE_INTENT_APPEND_REMOTE, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct store_msg want = {
		    .name = a[i].id[SIDE_B].name, .flags = a[i].flags, .keywords = a[i].keywords};
		struct error serr;
		if (r->ls->ops->open_source(r->lf, &want, &u[i].src, &serr) < 0) {
			if (serr.scope > ERR_MESSAGE) {
				*err = serr;
				goto close;
			}
			log_warn("%s: %s", r->rep->name, serr.text);
			engine_actions_failed(r->o, r->rep, &a[i], 1, serr.text);
			continue;
		}
		content_key_init(&u[i].kb);
		m[nm] = u[i].src;
		m[nm].flags = a[i].flags;
		m[nm].keywords = a[i].keywords;
		m[nm].ctx = &u[i];
		m[nm].read = up_read;
		m[nm].rewind = u[i].src.rewind ? up_rewind : NULL;
		idx[nm++] = i;
	}
	if (nm && r->rs->ops->add(r->rf, m, nm, errs, err) < 0)
		goto close;
	if (r->rs->ops->flush(r->rf, err) < 0)
		goto close;
	crash_point("messages appended to the server");
	for (size_t j = 0; j < nm; j++) {
		struct copy *cp = &c[idx[j]];
		if (errs[j].scope != ERR_NONE) {
			log_warn("%s: %s", r->rep->name, errs[j].text);
			engine_actions_failed(r->o, r->rep, cp->a, 1, errs[j].text);
			continue;
		}
		cp->uid = m[j].uid_r;
		cp->size = m[j].size;
		free(cp->key); /* the one read ahead for the intent */
		cp->key = content_key_finish(&u[idx[j]].kb, m[j].size);
		cp->done = true;
		engine_progress(r->o, r->rep, 1, cp->size);
	}
	if (resolve_copies(r, c, n, err) < 0)
		goto close;
	for (size_t i = 0; i < n; i++) {
		if (c[i].done) {
			r->rep->to_remote++;
			r->rep->reuploaded += c[i].a->reupload;
			engine_copy_done(r->o, r->rep, c[i].a, c[i].uid, NULL, c[i].size);
		} else {
			r->rep->message_failures++;
		}
	}
	rc = 0;
close:
	for (size_t j = 0; j < nm; j++) {
		r->ls->ops->close_source(&u[idx[j]].src);
		content_key_free(&u[idx[j]].kb);
		free(m[j].name_r);
	}
out:
	free_copies(c, n);
	free(u);
	free(m);
	free(errs);
	free(idx);
	return rc;
}

static int copies(struct folder_run *r, const struct plan *plan, enum side to, struct error *err)
{
	size_t n;
	const struct plan_action *a = plan_actions(plan, PLAN_COPY, to, &n);

	for (size_t i = 0; i < n; i += COPY_BATCH) {
		size_t b = n - i < COPY_BATCH ? n - i : COPY_BATCH;
		int rc = to == SIDE_B ? copy_to_local(r, a + i, b, err) : copy_to_remote(r, a + i, b, err);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- deletions and forgetting -------------------------------------- */

/* In one transaction: resolve the intents `ids` (NULL: none) of the
 * actions' deletions, and with `forget` delete the actions' pairs (gone
 * from both sides). Without `forget` the pairs stay, and the next run
 * tries again. */
static int forget_pairs(struct folder_run *r, const struct plan_action *a, size_t n, const int64_t *ids,
                        bool forget, const char *what, struct error *err)
{
	if (n == 0)
		return 0;
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((ids && state_intent_resolve(r->st, ids[i], err) < 0) ||
		    (forget && a[i].pair_id && state_pair_delete(r->st, a[i].pair_id, err) < 0)) {
			state_rollback(r->st);
			return -1;
		}
	return commit(r, false, what, err);
}

/* Before a local deletion is carried to the server: a delete-remote
 * intent per message, durably. A run killed after the server deleted
 * its copies, before the pairs are forgotten, would otherwise leave
 * pairs that still name the files: a file put back under its name
 * meanwhile would pass for the pair's, unchanged, whose server copy
 * went, and be deleted too. The next run reconciles the intents first
 * (engine.c, recover_intents). */
static int add_delete_intents(struct folder_run *r, const struct plan_action *a, size_t n, int64_t *ids,
                              struct error *err)
{
	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct state_intent in = {.folder_id = r->folder_id,
		                          .kind = STATE_INTENT_DELETE_REMOTE,
		                          .pair_id = a[i].pair_id,
		                          .uid = a[i].id[SIDE_A].uid};
		if (state_intent_add(r->st, &in, &ids[i], err) < 0) {
			state_rollback(r->st);
			return -1;
		}
	}
	return commit(r, true, "deletion intents recorded", err);
}

static int deletions(struct folder_run *r, const struct plan *plan, enum side side, struct error *err)
{
	bool remote = side == SIDE_A;
	struct store *s = remote ? r->rs : r->ls;
	struct store_folder *f = remote ? r->rf : r->lf;
	size_t n;
	const struct plan_action *a = plan_actions(plan, PLAN_DELETE, side, &n);
	struct store_msg *msgs;
	struct error derr;
	int64_t *ids = NULL;
	int rc;

	if (n == 0)
		return 0;
	if (remote) {
		ids = xcalloc(n, sizeof(*ids));
		if (add_delete_intents(r, a, n, ids, err) < 0) {
			free(ids);
			return -1;
		}
	}
	msgs = xcalloc(n, sizeof(*msgs));
	for (size_t i = 0; i < n; i++) {
		msgs[i].uid = remote ? a[i].id[SIDE_A].uid : 0;
		msgs[i].name = remote ? NULL : a[i].id[SIDE_B].name;
	}
	error_clear(&derr);
	if (s->ops->delete (f, msgs, n, &derr) < 0 || s->ops->flush(f, &derr) < 0) {
		free(msgs);
		/* A run stopped by the error leaves its intents to the next
		 * one: which messages went is not known. A refusal drops them,
		 * and the pairs stay: the next run tries again. */
		rc = ids && derr.scope <= ERR_MESSAGE
		         ? forget_pairs(r, a, n, ids, false, "deletion intents dropped", err)
		         : 0;
		free(ids);
		if (rc < 0)
			return -1;
		if (derr.scope > ERR_MESSAGE) {
			*err = derr;
			return -1;
		}
		log_warn("%s: %s", r->rep->name, derr.text);
		r->rep->message_failures += n;
		engine_actions_failed(r->o, r->rep, a, n, derr.text);
		return 0;
	}
	free(msgs);
	crash_point(remote ? "messages deleted on the server" : "messages deleted locally");
	if (remote)
		r->rep->deleted_remote += n;
	else
		r->rep->deleted_local += n;
	rc = forget_pairs(r, a, n, ids, true, "deletions recorded", err);
	free(ids);
	if (rc == 0)
		engine_actions_done(r->o, r->rep, a, n);
	return rc;
}

int exec_plan(struct folder_run *r, const struct plan *plan, struct error *err)
{
	struct new_pairs np = {0};
	struct failed_pairs fp = {0};
	size_t n;
	const struct plan_action *a;
	int rc = -1;

	if (record_pairs(r, plan, &np, err) < 0 || set_flags(r, plan, SIDE_A, &np, &fp, err) < 0 ||
	    set_flags(r, plan, SIDE_B, &np, &fp, err) < 0)
		goto out;
	if ((plan_actions(plan, PLAN_SET_FLAGS, SIDE_A, &n), n) && r->rs->ops->flush(r->rf, err) < 0)
		goto out;
	if ((plan_actions(plan, PLAN_SET_FLAGS, SIDE_B, &n), n) && r->ls->ops->flush(r->lf, err) < 0)
		goto out;
	if (update_pairs(r, plan, &np, &fp, err) < 0 || copies(r, plan, SIDE_B, err) < 0 ||
	    copies(r, plan, SIDE_A, err) < 0 || deletions(r, plan, SIDE_A, err) < 0 ||
	    deletions(r, plan, SIDE_B, err) < 0)
		goto out;
	a = plan_actions(plan, PLAN_FORGET, SIDE_A, &n);
	if (forget_pairs(r, a, n, NULL, true, "forgotten pairs recorded", err) < 0)
		goto out;
	engine_actions_done(r->o, r->rep, a, n);
	n = plan_count(plan, PLAN_SKIP_TOO_BIG);
	r->rep->too_big = n;
	rc = 0;
out:
	free(np.uids);
	free(np.ids);
	free(fp.ids);
	return rc;
}
