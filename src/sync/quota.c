/*
 * The sides' quotas (store_ops.quota). Before a run copies anything
 * (sync_options.quota_check): every folder of the run planned once in a
 * dry run's pass, what it would copy to each side summed per quota root,
 * and the run stopped (or, in a dry run, warned about) where that does
 * not fit. While it copies: a side that refused a copy as over its quota
 * takes no more copies in this run (copy.c asks here), and the folders
 * say so with what to do.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "events_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* ---- sizes for people ---------------------------------------------- */

/* `bytes` in 1024-based units as the config writes sizes ("1.3 MB"),
 * rounded up with `up` (an amount to free must suffice), else to the
 * nearest. */
static void size_text(uint64_t bytes, bool up, char out[32])
{
	static const char *const units[] = {"KB", "MB", "GB", "TB"};
	double v = (double)bytes / 1024;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(out, 32, "%" PRIu64 " bytes", bytes);
		return;
	}
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (up)
		v = (double)(uint64_t)(v * 10 + 0.999999) / 10;
	snprintf(out, 32, "%.1f %s", v, units[u]);
}

/* ---- over quota while copying -------------------------------------- */

struct quota_run {
	pthread_mutex_t lock;
	bool full[SIDES];
	char why[SIDES][ERROR_TEXT_MAX]; /* the refusal that said so */
};

struct quota_run *engine_quota_run_new(void)
{
	struct quota_run *q = xcalloc(1, sizeof(*q));

	pthread_mutex_init(&q->lock, NULL);
	return q;
}

void engine_quota_run_free(struct quota_run *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q);
}

bool engine_side_full(const struct sync_options *o, enum side s, char why[ERROR_TEXT_MAX])
{
	struct quota_run *q = o->quota_run;
	bool full;

	if (!q)
		return false;
	pthread_mutex_lock(&q->lock);
	full = q->full[s];
	if (full)
		memcpy(why, q->why[s], ERROR_TEXT_MAX);
	pthread_mutex_unlock(&q->lock);
	return full;
}

void engine_over_quota(const struct sync_options *o, enum side to, const char *why, size_t messages,
                       uint64_t bytes, struct error *err)
{
	struct quota_run *q = o->quota_run;
	const char *the_side = o->rules.words[to].the_side ? o->rules.words[to].the_side : "the target";
	char size[32], text[ERROR_TEXT_MAX];
	size_t len;

	/* `why` may be err's own text; it ends a sentence of ours. */
	snprintf(text, sizeof(text), "%s", why);
	len = strlen(text);
	while (len && (text[len - 1] == '.' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (q) {
		pthread_mutex_lock(&q->lock);
		if (!q->full[to]) {
			q->full[to] = true;
			snprintf(q->why[to], sizeof(q->why[to]), "%s", text);
		}
		pthread_mutex_unlock(&q->lock);
	}
	size_text(bytes, false, size);
	error_set(err, ERR_MAILBOX,
	          "%s is over its quota: %s. %zu message%s%s%s%s %s not copied there; free space on %s "
	          "(delete or move mail there) or raise its quota, then run again: what was copied is "
	          "recorded, and the rest is copied then, once",
	          the_side, text, messages, messages == 1 ? "" : "s", bytes ? " (" : "", bytes ? size : "",
	          bytes ? ")" : "", messages == 1 ? "was" : "were", the_side);
	err->cause = ERR_CAUSE_OVER_QUOTA;
}

/* ---- the check before the run -------------------------------------- */

/* A quota root of one side, and what the run would put under it. */
struct root_need {
	enum side side;
	struct store_quota q;
	uint64_t bytes;
	size_t messages;
};

struct need {
	struct root_need *v;
	size_t count, cap;
};

static void need_free(struct need *n)
{
	for (size_t i = 0; i < n->count; i++) {
		free(n->v[i].q.root);
		free(n->v[i].q.where);
	}
	free(n->v);
}

/* Add what folder `name` would take on side s to each of its roots. */
static int add_need(struct need *n, struct store *st, enum side s, const char *name, uint64_t bytes,
                    size_t messages, struct error *err)
{
	struct store_quota *roots;
	size_t count;

	if (st->ops->quota(st, name, &roots, &count, err) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		struct root_need *r = NULL;
		for (size_t k = 0; k < n->count && !r; k++)
			if (n->v[k].side == s && strcmp(n->v[k].q.root, roots[i].root) == 0)
				r = &n->v[k];
		if (!r) {
			n->v = xgrow(n->v, &n->cap, n->count + 1, sizeof(*n->v));
			r = &n->v[n->count++];
			*r = (struct root_need){.side = s, .q = roots[i]};
			roots[i].root = roots[i].where = NULL; /* moved */
		}
		r->bytes += bytes;
		r->messages += messages;
	}
	store_quota_free(roots, count);
	return 0;
}

/* Whether side s's store has a quota with a limit (asked of INBOX). */
static bool side_limited(struct store *st, const struct sync_options *o, enum side s)
{
	struct store_quota *roots;
	size_t count = 0;
	struct error err;

	if (!st->ops->quota || !plan_may_change(&o->rules, s))
		return false;
	if (st->ops->quota(st, "INBOX", &roots, &count, &err) < 0) {
		log_debug("quota check: %s", err.text);
		return false;
	}
	store_quota_free(roots, count);
	return count > 0;
}

/* The sentence for root `r` that the run's copies do not fit in, into
 * `err` (ERR_ACCOUNT); false when they fit. */
static bool does_not_fit(const struct sync_options *o, const struct root_need *r, struct error *err)
{
	const char *done = o->dry_run ? "" : "; nothing was copied";
	const struct store_quota *q = &r->q;
	const char *the_side = o->rules.words[r->side].the_side;
	char need[32], freed[32], used[32], limit[32], more[32];
	uint64_t free_bytes = q->used_bytes < q->limit_bytes ? q->limit_bytes - q->used_bytes : 0;
	uint64_t free_msgs = q->used_messages < q->limit_messages ? q->limit_messages - q->used_messages : 0;

	if (q->has_bytes && r->bytes > free_bytes) {
		size_text(r->bytes, false, need);
		size_text(free_bytes, false, freed);
		size_text(q->used_bytes, false, used);
		size_text(q->limit_bytes, false, limit);
		size_text(r->bytes - free_bytes, true, more);
		error_set(err, ERR_ACCOUNT,
		          "%s (%s) has not enough room for this run: it would copy %zu message%s (%s) there, "
		          "but its quota \"%s\" leaves %s free (%s of %s used)%s. Free %s on %s or raise its "
		          "quota, then run again",
		          the_side, q->where, r->messages, r->messages == 1 ? "" : "s", need, q->root, freed,
		          used, limit, done, more, the_side);
		return true;
	}
	if (q->has_messages && r->messages > free_msgs) {
		error_set(err, ERR_ACCOUNT,
		          "%s (%s) has not enough room for this run: it would copy %zu message%s there, but "
		          "its quota \"%s\" allows %" PRIu64 " more (%" PRIu64 " of %" PRIu64
		          " messages)%s. Remove %" PRIu64 " message%s from %s or raise its quota, then "
		          "run again",
		          the_side, q->where, r->messages, r->messages == 1 ? "" : "s", q->root, free_msgs,
		          q->used_messages, q->limit_messages, done, (uint64_t)r->messages - free_msgs,
		          r->messages - free_msgs == 1 ? "" : "s", the_side);
		return true;
	}
	return false;
}

/* Plan folder `f` in the check's dry run and add what it would copy to
 * each limited side to that side's roots. A folder that cannot be
 * planned is left to the run, which reports it; only a failure that
 * would stop the run stops the check. */
static int plan_folder(struct store *stores[SIDES], struct state *st, const struct sync_options *po,
                       const bool limited[SIDES], const struct quota_folder *f, struct need *n,
                       struct error *err)
{
	struct sync_folder_report rep = {.name = f->name,
	                                 .dry_run = true,
	                                 .created_remote = f->absent[SIDE_A],
	                                 .created_local = f->absent[SIDE_B]};
	const struct sync_counts *c = &rep.planned;

	error_clear(&rep.err);
	if (sync_folder(stores[SIDE_A], stores[SIDE_B], st, po,
	                &(struct sync_folder_job){f->name, f->use, NULL, NULL, false}, &rep, &rep.err) < 0) {
		if (rep.err.scope >= ERR_ACCOUNT) {
			*err = rep.err;
			return -1;
		}
		log_debug("%s: quota check: %s", f->name, rep.err.text);
		return 0;
	}
	if (limited[SIDE_A] && c->to_remote &&
	    add_need(n, stores[SIDE_A], SIDE_A, f->name, c->bytes_to_remote, c->to_remote, err) < 0)
		return -1;
	if (limited[SIDE_B] && c->to_local &&
	    add_need(n, stores[SIDE_B], SIDE_B, f->name, c->bytes_to_local, c->to_local, err) < 0)
		return -1;
	return 0;
}

int engine_quota_check(struct store *a, struct store *b, struct state *st, const struct sync_options *o,
                       const struct quota_folder *folders, size_t count, struct error *err)
{
	struct store *stores[SIDES] = {a, b};
	bool limited[SIDES];
	struct sync_options po = *o;
	struct need n = {0};
	struct error over;
	int rc = 0;

	for (int s = 0; s < SIDES; s++)
		limited[s] = side_limited(stores[s], o, (enum side)s);
	if (!limited[SIDE_A] && !limited[SIDE_B])
		return 0;
	/* A dry run's pass that nobody hears of. */
	po.dry_run = true;
	po.quiet = true;
	po.observer.fn = NULL;
	po.report = NULL;
	po.show_plan = NULL;
	po.prefetch = NULL;
	log_debug("quota check: planning %zu folder%s before copying", count, count == 1 ? "" : "s");
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = plan_folder(stores, st, &po, limited, &folders[i], &n, err);
	for (size_t i = 0; i < n.count && rc == 0; i++) {
		if (!does_not_fit(o, &n.v[i], &over))
			continue;
		if (!o->dry_run) {
			*err = over;
			rc = -1;
			break;
		}
		log_warn("a real run would stop before copying anything: %s", over.text);
		engine_event_note(o, NULL, "over-quota", over.text);
	}
	need_free(&n);
	return rc;
}
