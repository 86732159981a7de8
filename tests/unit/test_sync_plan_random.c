/*
 * Random small worlds (seeded, so a failure repeats): after a synced
 * past, each side changes flags, deletes, renumbers and receives mail at
 * random. The plan must keep the invariants of plan.h, and carrying it
 * out in a tiny simulated executor must leave nothing to do: planning
 * again gives an empty plan. Also: how long 100,000 messages take.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"
#include "unit/test_sync_plan.h"

#define SIM_MAX 96

struct sim_msg {
	bool alive;
	uint32_t uid;
	char id[16];
	unsigned flags;
	char kw[64]; /* canonical; "" = none */
	uint64_t size;
	char key[8]; /* "" = none */
};

struct sim_pair {
	bool alive;
	int64_t id;
	uint32_t uid;
	char local[16]; /* "" = none */
	unsigned flags;
	char kw[64];
	uint64_t size;
	char key[8];
};

struct sim {
	struct sim_msg remote[SIM_MAX], local[SIM_MAX];
	size_t nr, nl;
	struct sim_pair pairs[SIM_MAX];
	size_t np;
	uint32_t uidnext;
	unsigned localnext;
	int64_t pairnext;
	/* the input handed to the planner */
	struct plan_remote_msg in_r[SIM_MAX];
	struct plan_local_msg in_l[SIM_MAX];
	struct state_pair in_p[SIM_MAX];
	struct plan_input in;
};

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static const char *nz(const char *s)
{
	return *s ? s : NULL;
}

static void build_input(struct sim *s)
{
	size_t nr = 0, nl = 0, np = 0;

	for (size_t i = 0; i < s->nr; i++)
		if (s->remote[i].alive)
			s->in_r[nr++] = (struct plan_remote_msg){s->remote[i].uid,     s->remote[i].flags,
			                                         nz(s->remote[i].kw),  s->remote[i].size,
			                                         nz(s->remote[i].key), 1};
	for (size_t i = 0; i < s->nl; i++)
		if (s->local[i].alive)
			s->in_l[nl++] =
			    (struct plan_local_msg){s->local[i].id,   s->local[i].flags,   nz(s->local[i].kw),
			                            s->local[i].size, nz(s->local[i].key), 2};
	for (size_t i = 0; i < s->np; i++)
		if (s->pairs[i].alive)
			s->in_p[np++] = (struct state_pair){s->pairs[i].id,
			                                    1,
			                                    s->pairs[i].uid,
			                                    s->pairs[i].flags,
			                                    nz(s->pairs[i].local),
			                                    nz(s->pairs[i].kw),
			                                    s->pairs[i].size,
			                                    nz(s->pairs[i].key),
			                                    false};
	s->in = (struct plan_input){s->in_p, np, s->in_r, nr, s->in_l, nl};
}

static struct sim_msg *find_remote(struct sim *s, uint32_t uid)
{
	for (size_t i = 0; i < s->nr; i++)
		if (s->remote[i].alive && s->remote[i].uid == uid)
			return &s->remote[i];
	return NULL;
}

static struct sim_msg *find_local(struct sim *s, const char *id)
{
	for (size_t i = 0; i < s->nl; i++)
		if (s->local[i].alive && strcmp(s->local[i].id, id) == 0)
			return &s->local[i];
	return NULL;
}

static struct sim_pair *find_pair(struct sim *s, int64_t id, uint32_t uid)
{
	for (size_t i = 0; i < s->np; i++)
		if (s->pairs[i].alive && (id ? s->pairs[i].id == id : s->pairs[i].uid == uid))
			return &s->pairs[i];
	return NULL;
}

static void set_text(char *dst, size_t cap, const char *src)
{
	cr_assert_lt(strlen(src ? src : ""), cap);
	strcpy(dst, src ? src : "");
}

static struct sim_msg *new_msg(struct sim *s, bool remote)
{
	struct sim_msg *m;

	cr_assert_lt(remote ? s->nr : s->nl, SIM_MAX);
	m = remote ? &s->remote[s->nr++] : &s->local[s->nl++];
	memset(m, 0, sizeof(*m));
	m->alive = true;
	if (remote)
		m->uid = s->uidnext++;
	else
		snprintf(m->id, sizeof(m->id), "m%u", s->localnext++);
	return m;
}

static struct sim_pair *new_pair(struct sim *s)
{
	struct sim_pair *p;

	cr_assert_lt(s->np, SIM_MAX);
	p = &s->pairs[s->np++];
	memset(p, 0, sizeof(*p));
	p->alive = true;
	p->id = s->pairnext++;
	return p;
}

/* Keyword set arithmetic on canonical texts. */
static void apply_keywords(char *kw, size_t cap, const char *add, const char *del)
{
	char *joined = xasprintf("%s %s", kw, add ? add : ""), *canon, *out = xstrdup(""), *save = NULL;
	struct error err;

	cr_assert_eq(mail_keywords_canon(joined, &canon, &err), 0);
	for (char *t = canon ? strtok_r(canon, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save)) {
		if (del && mail_keywords_has(del, t))
			continue;
		char *next = xasprintf("%s%s%s", out, *out ? " " : "", t);
		free(out);
		out = next;
	}
	set_text(kw, cap, out);
	free(joined);
	free(canon);
	free(out);
}

static void apply_change(struct sim_msg *m, const struct plan_flag_change *c)
{
	cr_assert(m, "a flag change for a message that is not there");
	cr_assert_eq(c->add & c->remove, 0);
	m->flags = (m->flags | c->add) & ~c->remove;
	apply_keywords(m->kw, sizeof(m->kw), c->add_keywords, c->remove_keywords);
}

/* The executor, in plan order, with every step succeeding. */
static void apply(struct sim *s, const struct plan *plan)
{
	for (size_t i = 0; i < plan->action_count; i++) {
		const struct plan_action *a = &plan->actions[i];
		struct sim_pair *p = a->pair_id ? find_pair(s, a->pair_id, 0) : NULL;
		struct sim_msg *m;

		if (a->pair_id)
			cr_assert(p, "%s names pair %" PRId64 ", which is not there", plan_kind_name(a->kind),
			          a->pair_id);
		switch (a->kind) {
		case PLAN_PAIR_EXISTING:
			cr_assert(find_remote(s, a->uid) && find_local(s, a->local_id));
			if (!p)
				p = new_pair(s);
			p->uid = a->uid;
			set_text(p->local, sizeof(p->local), a->local_id);
			p->flags = a->flags;
			set_text(p->kw, sizeof(p->kw), a->keywords);
			set_text(p->key, sizeof(p->key), a->content_key);
			p->size = a->size;
			break;
		case PLAN_SET_FLAGS_REMOTE:
			apply_change(find_remote(s, a->uid), &a->change);
			break;
		case PLAN_SET_FLAGS_LOCAL:
			apply_change(find_local(s, a->local_id), &a->change);
			break;
		case PLAN_UPDATE_PAIR:
			if (!p)
				p = find_pair(s, 0, a->uid);
			cr_assert(p, "update of a pair that is not there");
			if (a->update & PLAN_UPDATE_FLAGS) {
				p->flags = a->flags;
				set_text(p->kw, sizeof(p->kw), a->keywords);
			}
			if (a->update & PLAN_UPDATE_DROP_REMOTE)
				p->uid = 0;
			if (a->update & PLAN_UPDATE_DROP_LOCAL)
				p->local[0] = '\0';
			cr_assert(p->uid || p->local[0], "an update left a pair with no side");
			break;
		case PLAN_COPY_TO_LOCAL: {
			struct sim_msg *src = find_remote(s, a->uid);
			cr_assert(src);
			m = new_msg(s, false);
			m->flags = a->flags;
			set_text(m->kw, sizeof(m->kw), a->keywords);
			m->size = src->size;
			memcpy(m->key, src->key, sizeof(m->key));
			if (!p) {
				p = new_pair(s);
				p->uid = a->uid;
			}
			set_text(p->local, sizeof(p->local), m->id);
			p->flags = a->flags;
			set_text(p->kw, sizeof(p->kw), a->keywords);
			break;
		}
		case PLAN_COPY_TO_REMOTE: {
			struct sim_msg *src = find_local(s, a->local_id);
			cr_assert(src);
			m = new_msg(s, true);
			m->flags = a->flags;
			set_text(m->kw, sizeof(m->kw), a->keywords);
			m->size = src->size;
			memcpy(m->key, src->key, sizeof(m->key));
			if (!p) {
				p = new_pair(s);
				set_text(p->local, sizeof(p->local), a->local_id);
			}
			p->uid = m->uid;
			p->flags = a->flags;
			set_text(p->kw, sizeof(p->kw), a->keywords);
			break;
		}
		case PLAN_DELETE_REMOTE:
			m = find_remote(s, a->uid);
			cr_assert(m);
			m->alive = false;
			p->alive = false;
			break;
		case PLAN_DELETE_LOCAL:
			m = find_local(s, a->local_id);
			cr_assert(m);
			m->alive = false;
			p->alive = false;
			break;
		case PLAN_FORGET:
			p->alive = false;
			break;
		case PLAN_SKIP_TOO_BIG:
		case PLAN_KIND_COUNT:
			break;
		}
	}
}

static const char *const keys[] = {"", "k0", "k1", "k2", "k3"};
static const char *const kws[] = {"", "", "", "$x", "$x $y", "$Y"};

static void random_flags(unsigned *flags, char *kw, size_t cap)
{
	*flags = rnd(32);
	set_text(kw, cap, kws[rnd(6)]);
}

/* A synced past, then random changes on each side. */
static void random_world(struct sim *s, struct plan_rules *rules)
{
	size_t n = rnd(7);

	memset(s, 0, sizeof(*s));
	s->uidnext = 1;
	s->pairnext = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned flags;
		char kw[64];
		const char *key = keys[rnd(5)];
		uint64_t size = 1 + rnd(200);
		unsigned form = rnd(8); /* 0-3 paired, 4 remote-only pair, 5 local-only pair, 6-7 unpaired */
		struct sim_msg *r = NULL, *l = NULL;

		random_flags(&flags, kw, sizeof(kw));
		if (form <= 4 || (form >= 6 && rnd(3)))
			r = new_msg(s, true);
		if (form <= 3 || form == 5 || (form >= 6 && rnd(3)))
			l = new_msg(s, false);
		for (int side = 0; side < 2; side++) {
			struct sim_msg *m = side ? l : r;
			if (!m)
				continue;
			m->flags = flags;
			set_text(m->kw, sizeof(m->kw), kw);
			m->size = size;
			set_text(m->key, sizeof(m->key), key);
		}
		if (form <= 5) {
			struct sim_pair *p = new_pair(s);
			p->uid = r ? r->uid : 0;
			set_text(p->local, sizeof(p->local), l ? l->id : "");
			p->flags = flags;
			set_text(p->kw, sizeof(p->kw), kw);
			p->size = size;
			set_text(p->key, sizeof(p->key), key);
		}
		/* What happened since: each side on its own. */
		for (int side = 0; side < 2; side++) {
			struct sim_msg *m = side ? l : r;
			if (!m)
				continue;
			switch (rnd(8)) {
			case 0:
			case 1:
				random_flags(&m->flags, m->kw, sizeof(m->kw));
				break;
			case 2:
				m->alive = false;
				break;
			case 3:
				m->flags |= MAIL_FLAG_DELETED;
				break;
			case 4:
				if (!side) { /* renumbered: UIDVALIDITY, a MOVE back */
					struct sim_msg copy = *m;
					m->alive = false;
					struct sim_msg *again = new_msg(s, true);
					copy.uid = again->uid;
					*again = copy;
				} else { /* a mail reader renamed the file */
					struct sim_msg copy = *m;
					m->alive = false;
					struct sim_msg *again = new_msg(s, false);
					memcpy(copy.id, again->id, sizeof(copy.id));
					*again = copy;
				}
				break;
			default:
				break;
			}
		}
	}
	/* Sometimes one side was emptied (on purpose, or by accident). */
	if (rnd(8) == 0) {
		bool remote = rnd(2);
		for (size_t i = 0; i < (remote ? s->nr : s->nl); i++)
			(remote ? s->remote : s->local)[i].alive = false;
	}
	/* New mail on either side, sometimes the same message on both. */
	for (size_t i = rnd(4); i > 0; i--) {
		struct sim_msg *m = new_msg(s, rnd(2));
		random_flags(&m->flags, m->kw, sizeof(m->kw));
		m->size = 1 + rnd(200);
		set_text(m->key, sizeof(m->key), keys[rnd(5)]);
	}

	plan_rules_init(rules);
	rules->direction = (enum plan_direction)rnd(3);
	rules->expunge = (enum plan_where)rnd(4);
	rules->flags = rnd(4) != 0;
	rules->max_size = rnd(3) ? 0 : 50 + rnd(150);
	rules->allow_mass_delete = rnd(2);
	rules->mass_delete_min = rnd(3);
	rules->mass_delete_percent = rnd(2) ? 25 : 60;
	rules->first_sync = rnd(10) == 0;
	rules->use = rnd(4) == 0 ? PLAN_USE_TRASH : PLAN_USE_NONE;
}

static const struct state_pair *pair_by_id(const struct plan_input *in, int64_t id)
{
	for (size_t i = 0; i < in->pair_count; i++)
		if (in->pairs[i].id == id)
			return &in->pairs[i];
	return NULL;
}

static const struct plan_remote_msg *in_remote(const struct plan_input *in, uint32_t uid)
{
	for (size_t i = 0; i < in->remote_count; i++)
		if (in->remote[i].uid == uid)
			return &in->remote[i];
	return NULL;
}

static const struct plan_local_msg *in_local(const struct plan_input *in, const char *id)
{
	for (size_t i = 0; i < in->local_count; i++)
		if (id && strcmp(in->local[i].local_id, id) == 0)
			return &in->local[i];
	return NULL;
}

/* Changed since the last sync, as a deletion sees it. */
static bool changed(unsigned flags, const char *kw, const struct state_pair *p)
{
	unsigned diff = flags ^ p->flags;

	return !mail_keywords_equal(kw, p->keywords) ||
	       (diff && !(diff == MAIL_FLAG_DELETED && (flags & MAIL_FLAG_DELETED)));
}

static void check_invariants(const struct plan_input *in, const struct plan_rules *rules,
                             const struct plan *plan, unsigned world)
{
	unsigned uid_uses[SIM_MAX * 2] = {0};
	bool pull = rules->direction == PLAN_DIRECTION_PULL, push = rules->direction == PLAN_DIRECTION_PUSH;

	for (size_t i = 0; i < plan->action_count; i++) {
		const struct plan_action *a = &plan->actions[i];
		const struct state_pair *p = a->pair_id ? pair_by_id(in, a->pair_id) : NULL;

		cr_assert(!a->pair_id || p, "world %u: action on an unknown pair", world);
		switch (a->kind) {
		case PLAN_COPY_TO_LOCAL:
		case PLAN_PAIR_EXISTING:
		case PLAN_DELETE_REMOTE:
			cr_assert_lt(a->uid, SIM_MAX * 2);
			cr_assert_eq(uid_uses[a->uid]++, 0,
			             "world %u: UID %u copied, paired or deleted twice", world, a->uid);
			break;
		default:
			break;
		}
		for (size_t j = 0; j < i; j++) {
			const struct plan_action *b = &plan->actions[j];
			bool a_local = a->kind == PLAN_COPY_TO_REMOTE || a->kind == PLAN_PAIR_EXISTING ||
			               a->kind == PLAN_DELETE_LOCAL;
			bool b_local = b->kind == PLAN_COPY_TO_REMOTE || b->kind == PLAN_PAIR_EXISTING ||
			               b->kind == PLAN_DELETE_LOCAL;
			cr_assert(!(a_local && b_local && strcmp(a->local_id, b->local_id) == 0),
			          "world %u: local %s copied, paired or deleted twice", world, a->local_id);
		}
		if (a->kind == PLAN_DELETE_LOCAL || a->kind == PLAN_DELETE_REMOTE) {
			bool local = a->kind == PLAN_DELETE_LOCAL;
			cr_assert(p && p->uid && p->local_id, "world %u: a deletion the state cannot justify",
			          world);
			cr_assert(!rules->first_sync, "world %u: a deletion without a base", world);
			cr_assert(rules->expunge & (local ? PLAN_WHERE_LOCAL : PLAN_WHERE_REMOTE));
			cr_assert(local ? !push : !pull, "world %u: deletion against the direction", world);
			if (local) {
				const struct plan_local_msg *m = in_local(in, a->local_id);
				cr_assert(m && strcmp(p->local_id, a->local_id) == 0);
				cr_assert_null(in_remote(in, p->uid),
				               "world %u: deleting a message the server has", world);
				cr_assert(!rules->flags || !changed(m->flags, m->keywords, p),
				          "world %u: deleting local %s, which changed", world, m->local_id);
				cr_assert(!plan->local.blocked);
				cr_assert(rules->allow_mass_delete || rules->use == PLAN_USE_TRASH ||
				              plan->local.deletions < 2 ||
				              (plan->local.deletions < plan->local.total && in->remote_count),
				          "world %u: a folder emptied on the server emptied locally", world);
			} else {
				const struct plan_remote_msg *m = in_remote(in, a->uid);
				cr_assert(m && p->uid == a->uid);
				cr_assert_null(in_local(in, p->local_id),
				               "world %u: deleting a message kept locally", world);
				cr_assert(!rules->flags || !changed(m->flags, m->keywords, p),
				          "world %u: deleting UID %u, which changed", world, m->uid);
				cr_assert(!plan->remote.blocked);
				cr_assert(
				    rules->allow_mass_delete || rules->use == PLAN_USE_TRASH ||
				        plan->remote.deletions < 2 ||
				        (plan->remote.deletions < plan->remote.total && in->local_count),
				    "world %u: a folder emptied locally emptied on the server", world);
			}
		}
		if (a->kind == PLAN_COPY_TO_LOCAL) {
			cr_assert(!push);
			cr_assert(!p || (p->uid == a->uid && p->local_id && !in_local(in, p->local_id)),
			          "world %u: copying UID %u, which the state pairs with a present message",
			          world, a->uid);
			for (size_t k = 0; !p && k < in->pair_count; k++)
				cr_assert_neq(in->pairs[k].uid, a->uid,
				              "world %u: copying a paired UID as new", world);
		}
		if (a->kind == PLAN_COPY_TO_REMOTE) {
			cr_assert(!pull);
			cr_assert(!p || (p->local_id && strcmp(p->local_id, a->local_id) == 0 && p->uid &&
			                 !in_remote(in, p->uid)),
			          "world %u: copying local %s, which the state pairs with a present message",
			          world, a->local_id);
			for (size_t k = 0; !p && k < in->pair_count; k++)
				cr_assert(!in->pairs[k].local_id ||
				              strcmp(in->pairs[k].local_id, a->local_id),
				          "world %u: copying a paired local message as new", world);
		}
		if (a->kind == PLAN_COPY_TO_LOCAL || a->kind == PLAN_COPY_TO_REMOTE)
			cr_assert(!rules->max_size || a->size <= rules->max_size);
		if (a->kind == PLAN_SET_FLAGS_REMOTE || a->kind == PLAN_SET_FLAGS_LOCAL) {
			cr_assert(rules->flags, "world %u: flag change with flags off", world);
			cr_assert(a->kind == PLAN_SET_FLAGS_REMOTE ? !pull : !push);
		}
		if (a->kind == PLAN_UPDATE_PAIR && (a->update & PLAN_UPDATE_FLAGS))
			cr_assert(rules->flags);
	}
}

/* Copies of content key `key` alive on each side, and pairs that know it. */
static void key_counts(const struct sim *s, const char *key, size_t *r_r, size_t *l_r, size_t *p_r)
{
	*r_r = *l_r = *p_r = 0;
	for (size_t i = 0; i < s->np; i++)
		*p_r += s->pairs[i].alive && strcmp(s->pairs[i].key, key) == 0;
	for (size_t i = 0; i < s->nr; i++)
		*r_r += s->remote[i].alive && strcmp(s->remote[i].key, key) == 0;
	for (size_t i = 0; i < s->nl; i++)
		*l_r += s->local[i].alive && strcmp(s->local[i].key, key) == 0;
}

/* The world in the notation of test_sync_plan.h, for failure messages. */
static char *world_text(const struct plan_input *in, const struct plan_rules *r)
{
	struct buf b = BUF_INIT;

	buf_append_str(&b, "state [");
	for (size_t i = 0; i < in->pair_count; i++) {
		const struct state_pair *p = &in->pairs[i];
		char *f = flags_text(p->flags, p->keywords);
		buf_printf(&b, " %" PRIu32 "/%s:%s@%s#%" PRIu64, p->uid, p->local_id ? p->local_id : "-", f,
		           p->content_key ? p->content_key : "", p->size);
		free(f);
	}
	buf_append_str(&b, " ] remote [");
	for (size_t i = 0; i < in->remote_count; i++) {
		const struct plan_remote_msg *m = &in->remote[i];
		char *f = flags_text(m->flags, m->keywords);
		buf_printf(&b, " %" PRIu32 ":%s@%s#%" PRIu64, m->uid, f, m->content_key ? m->content_key : "",
		           m->size);
		free(f);
	}
	buf_append_str(&b, " ] local [");
	for (size_t i = 0; i < in->local_count; i++) {
		const struct plan_local_msg *m = &in->local[i];
		char *f = flags_text(m->flags, m->keywords);
		buf_printf(&b, " %s:%s@%s#%" PRIu64, m->local_id, f, m->content_key ? m->content_key : "",
		           m->size);
		free(f);
	}
	buf_printf(
	    &b, " ] rules [dir=%d exp=%d flags=%d max=%" PRIu64 " allow=%d min=%zu pct=%u first=%d use=%d]",
	    r->direction, r->expunge, r->flags, r->max_size, r->allow_mass_delete, r->mass_delete_min,
	    r->mass_delete_percent, r->first_sync, (int)r->use);
	return buf_detach(&b, NULL);
}

Test(sync_plan_random, ten_thousand_worlds_keep_the_invariants_and_converge)
{
	struct sim *s = xmalloc(sizeof(*s));
	struct plan_rules rules;
	struct error err;
	size_t actions = 0, blocked = 0, kinds[PLAN_KIND_COUNT] = {0};

	rng_state = 0x9e3779b97f4a7c15ull;
	for (unsigned world = 0; world < 10000; world++) {
		struct plan plan;

		random_world(s, &rules);
		build_input(s);
		char *before = world_text(&s->in, &rules);
		size_t had[5][3];
		for (size_t k = 1; k < 5; k++)
			key_counts(s, keys[k], &had[k][0], &had[k][1], &had[k][2]);
		cr_assert_eq(plan_build(&s->in, &rules, &plan, &err), 0, "world %u: %s", world, err.text);
		char *first = plan_text(&plan);
		check_invariants(&s->in, &rules, &plan, world);
		actions += plan.action_count;
		for (size_t i = 0; i < plan.action_count; i++)
			kinds[plan.actions[i].kind]++;
		bool was_blocked = plan.status == PLAN_MASS_DELETE_BLOCKED;
		bool blocked_r = plan.remote.blocked, blocked_l = plan.local.blocked;
		blocked += was_blocked;
		apply(s, &plan);
		plan_free(&plan);
		rules.first_sync = false;

		/* Deletions the valve held back are all that may be left; the
		 * user then runs again with --allow-mass-delete. */
		if (was_blocked) {
			rules.allow_mass_delete = true;
			build_input(s);
			cr_assert_eq(plan_build(&s->in, &rules, &plan, &err), 0, "world %u: %s", world,
			             err.text);
			for (size_t i = 0; i < plan.action_count; i++) {
				enum plan_kind k = plan.actions[i].kind;
				cr_assert(k == PLAN_SKIP_TOO_BIG || (k == PLAN_DELETE_REMOTE && blocked_r) ||
				              (k == PLAN_DELETE_LOCAL && blocked_l),
				          "world %u: after a blocked plan, %s is left", world,
				          plan_kind_name(k));
			}
			apply(s, &plan);
			plan_free(&plan);
		}

		/* Everything done: nothing left to do but report big ones. */
		build_input(s);
		cr_assert_eq(plan_build(&s->in, &rules, &plan, &err), 0, "world %u, again: %s", world,
		             err.text);
		size_t skipped;
		plan_actions(&plan, PLAN_SKIP_TOO_BIG, &skipped);
		if (plan.action_count != skipped) {
			char *text = plan_text(&plan);
			char *after = world_text(&s->in, &rules);
			cr_assert_fail(
			    "world %u: planning again is not empty: %s\nbefore: %s\nplan: %s\nafter: %s",
			    world, text, before, first, after);
		}
		plan_free(&plan);

		/* Never duplicated: the same content ends up on a side at most
		 * as often as one side had it or the state knew it (two pairs
		 * are two messages, even with equal content). */
		for (size_t k = 1; k < 5; k++) {
			size_t r, l, p, most = had[k][0] > had[k][1] ? had[k][0] : had[k][1];
			most = had[k][2] > most ? had[k][2] : most;
			key_counts(s, keys[k], &r, &l, &p);
			cr_assert(r <= most && l <= most,
			          "world %u: key %s was %zu/%zu, now %zu/%zu copies\nbefore: %s\nplan: %s",
			          world, keys[k], had[k][0], had[k][1], r, l, before, first);
		}
		free(before);
		free(first);
	}
	free(s);
	cr_assert_gt(actions, 20000, "the worlds give the planner work (%zu actions)", actions);
	cr_assert_gt(blocked, 10, "some worlds trip the valve (%zu)", blocked);
	for (int k = 0; k < PLAN_KIND_COUNT; k++)
		cr_assert_gt(kinds[k], 10, "the worlds produce %s actions (%zu)", plan_kind_name(k),
		             kinds[k]);
}
