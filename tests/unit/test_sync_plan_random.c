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

/* How a side names its messages: by UID (IMAP) or by name (Maildir,
 * POP3). The worlds run for each pairing the state can hold. */
enum sim_key { KEY_UID, KEY_NAME };

struct sim_id {
	uint32_t uid;  /* KEY_UID sides */
	char name[16]; /* KEY_NAME sides; "" = none */
};

struct sim_msg {
	bool alive;
	struct sim_id id;
	unsigned flags;
	char kw[64]; /* canonical; "" = none */
	uint64_t size;
	char key[8]; /* "" = none */
};

struct sim_pair {
	bool alive;
	int64_t id;
	struct sim_id side[SIDES]; /* uid 0 / "" = none */
	unsigned flags;
	char kw[64];
	uint64_t size;
	char key[8];
};

struct sim {
	enum sim_key key[SIDES];
	struct sim_msg msg[SIDES][SIM_MAX];
	size_t n[SIDES];
	struct sim_pair pairs[SIM_MAX];
	size_t np;
	uint32_t next[SIDES]; /* the next UID or name number of each side */
	int64_t pairnext;
	/* the input handed to the planner */
	struct plan_msg in_m[SIDES][SIM_MAX];
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

static struct store_id store_id_of(const struct sim_id *id)
{
	return (struct store_id){id->uid, nz(id->name)};
}

static bool sim_id_known(const struct sim_id *id)
{
	return id->uid || id->name[0];
}

static bool sim_id_is(const struct sim_id *id, struct store_id want)
{
	return store_id_known(want) && store_id_cmp(store_id_of(id), want) == 0;
}

/* "UID 5" or "m3", for failure messages. */
static const char *id_text(struct store_id id, char *buf, size_t cap)
{
	if (id.name)
		snprintf(buf, cap, "%s", id.name);
	else
		snprintf(buf, cap, "UID %" PRIu32, id.uid);
	return buf;
}

static void build_input(struct sim *s)
{
	size_t np = 0, n[SIDES] = {0, 0};

	for (int d = 0; d < SIDES; d++)
		for (size_t i = 0; i < s->n[d]; i++) {
			const struct sim_msg *m = &s->msg[d][i];
			if (m->alive)
				s->in_m[d][n[d]++] = (struct plan_msg){
				    store_id_of(&m->id), m->flags, nz(m->kw), m->size, nz(m->key), 1 + d, 0};
		}
	for (size_t i = 0; i < s->np; i++)
		if (s->pairs[i].alive)
			s->in_p[np++] = (struct state_pair){
			    s->pairs[i].id,
			    1,
			    {store_id_of(&s->pairs[i].side[SIDE_A]), store_id_of(&s->pairs[i].side[SIDE_B])},
			    s->pairs[i].flags,
			    nz(s->pairs[i].kw),
			    s->pairs[i].size,
			    nz(s->pairs[i].key),
			    false};
	s->in = (struct plan_input){s->in_p, np, {s->in_m[SIDE_A], s->in_m[SIDE_B]}, {n[SIDE_A], n[SIDE_B]}};
}

static struct sim_msg *find_msg(struct sim *s, enum side d, struct store_id id)
{
	for (size_t i = 0; i < s->n[d]; i++)
		if (s->msg[d][i].alive && sim_id_is(&s->msg[d][i].id, id))
			return &s->msg[d][i];
	return NULL;
}

static struct sim_pair *find_pair(struct sim *s, int64_t id, enum side d, struct store_id side_id)
{
	for (size_t i = 0; i < s->np; i++)
		if (s->pairs[i].alive &&
		    (id ? s->pairs[i].id == id : sim_id_is(&s->pairs[i].side[d], side_id)))
			return &s->pairs[i];
	return NULL;
}

static void set_text(char *dst, size_t cap, const char *src)
{
	cr_assert_lt(strlen(src ? src : ""), cap);
	strcpy(dst, src ? src : "");
}

static void set_id(struct sim_id *dst, struct store_id id)
{
	dst->uid = id.uid;
	set_text(dst->name, sizeof(dst->name), id.name);
}

static struct sim_msg *new_msg(struct sim *s, enum side d)
{
	struct sim_msg *m;

	cr_assert_lt(s->n[d], SIM_MAX);
	m = &s->msg[d][s->n[d]++];
	memset(m, 0, sizeof(*m));
	m->alive = true;
	if (s->key[d] == KEY_UID)
		m->id.uid = s->next[d]++;
	else
		snprintf(m->id.name, sizeof(m->id.name), "m%u", s->next[d]++);
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
		struct sim_pair *p = a->pair_id ? find_pair(s, a->pair_id, SIDE_A, a->id[SIDE_A]) : NULL;
		enum side d = a->side, o = side_other(a->side);
		struct sim_msg *m;

		if (a->pair_id)
			cr_assert(p, "%s names pair %" PRId64 ", which is not there",
			          plan_kind_name(a->kind, a->side), a->pair_id);
		switch (a->kind) {
		case PLAN_PAIR_EXISTING:
			cr_assert(find_msg(s, SIDE_A, a->id[SIDE_A]) && find_msg(s, SIDE_B, a->id[SIDE_B]));
			if (!p)
				p = new_pair(s);
			for (int k = 0; k < SIDES; k++)
				set_id(&p->side[k], a->id[k]);
			p->flags = a->flags;
			set_text(p->kw, sizeof(p->kw), a->keywords);
			set_text(p->key, sizeof(p->key), a->content_key);
			p->size = a->size;
			break;
		case PLAN_SET_FLAGS:
			apply_change(find_msg(s, d, a->id[d]), &a->change);
			break;
		case PLAN_UPDATE_PAIR:
			if (!p)
				p = find_pair(s, 0, SIDE_A, a->id[SIDE_A]);
			cr_assert(p, "update of a pair that is not there");
			if (a->update & PLAN_UPDATE_FLAGS) {
				p->flags = a->flags;
				set_text(p->kw, sizeof(p->kw), a->keywords);
			}
			for (int k = 0; k < SIDES; k++)
				if (a->update & plan_update_drop((enum side)k))
					memset(&p->side[k], 0, sizeof(p->side[k]));
			cr_assert(sim_id_known(&p->side[SIDE_A]) || sim_id_known(&p->side[SIDE_B]),
			          "an update left a pair with no side");
			break;
		case PLAN_COPY: {
			struct sim_msg *src = find_msg(s, o, a->id[o]);
			cr_assert(src);
			m = new_msg(s, d);
			m->flags = a->flags;
			set_text(m->kw, sizeof(m->kw), a->keywords);
			m->size = src->size;
			memcpy(m->key, src->key, sizeof(m->key));
			if (!p) {
				p = new_pair(s);
				set_id(&p->side[o], a->id[o]);
			}
			p->side[d] = m->id;
			p->flags = a->flags;
			set_text(p->kw, sizeof(p->kw), a->keywords);
			break;
		}
		case PLAN_DELETE:
			m = find_msg(s, d, a->id[d]);
			cr_assert(m && p);
			m->alive = false;
			p->alive = false;
			break;
		case PLAN_FORGET:
			cr_assert(p);
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

/* A synced past, then random changes on each side, for sides keyed as
 * `key` says. */
static void random_world(struct sim *s, const enum sim_key key[SIDES], struct plan_rules *rules)
{
	size_t n = rnd(7);

	memset(s, 0, sizeof(*s));
	for (int d = 0; d < SIDES; d++) {
		s->key[d] = key[d];
		s->next[d] = 1;
	}
	s->pairnext = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned flags;
		char kw[64];
		const char *key_text = keys[rnd(5)];
		uint64_t size = 1 + rnd(200);
		unsigned form = rnd(8); /* 0-3 paired, 4 A-only pair, 5 B-only pair, 6-7 unpaired */
		struct sim_msg *m[SIDES] = {NULL, NULL};

		random_flags(&flags, kw, sizeof(kw));
		if (form <= 4 || (form >= 6 && rnd(3)))
			m[SIDE_A] = new_msg(s, SIDE_A);
		if (form <= 3 || form == 5 || (form >= 6 && rnd(3)))
			m[SIDE_B] = new_msg(s, SIDE_B);
		for (int d = 0; d < SIDES; d++) {
			if (!m[d])
				continue;
			m[d]->flags = flags;
			set_text(m[d]->kw, sizeof(m[d]->kw), kw);
			m[d]->size = size;
			set_text(m[d]->key, sizeof(m[d]->key), key_text);
		}
		if (form <= 5) {
			struct sim_pair *p = new_pair(s);
			for (int d = 0; d < SIDES; d++)
				if (m[d])
					p->side[d] = m[d]->id;
			p->flags = flags;
			set_text(p->kw, sizeof(p->kw), kw);
			p->size = size;
			set_text(p->key, sizeof(p->key), key_text);
		}
		/* What happened since: each side on its own. */
		for (int d = 0; d < SIDES; d++) {
			if (!m[d])
				continue;
			switch (rnd(8)) {
			case 0:
			case 1:
				random_flags(&m[d]->flags, m[d]->kw, sizeof(m[d]->kw));
				break;
			case 2:
				m[d]->alive = false;
				break;
			case 3:
				m[d]->flags |= MAIL_FLAG_DELETED;
				break;
			case 4: {
				/* A new id for the same message: UIDVALIDITY, a MOVE
				 * back, a mail reader that renamed the file. */
				struct sim_msg copy = *m[d];
				m[d]->alive = false;
				struct sim_msg *again = new_msg(s, (enum side)d);
				copy.id = again->id;
				*again = copy;
				break;
			}
			default:
				break;
			}
		}
	}
	/* Sometimes one side was emptied (on purpose, or by accident). */
	if (rnd(8) == 0) {
		enum side d = rnd(2) ? SIDE_A : SIDE_B;
		for (size_t i = 0; i < s->n[d]; i++)
			s->msg[d][i].alive = false;
	}
	/* New mail on either side, sometimes the same message on both. */
	for (size_t i = rnd(4); i > 0; i--) {
		struct sim_msg *m = new_msg(s, rnd(2) ? SIDE_A : SIDE_B);
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

static const struct plan_msg *in_msg(const struct plan_input *in, enum side d, struct store_id id)
{
	for (size_t i = 0; store_id_known(id) && i < in->count[d]; i++)
		if (store_id_cmp(in->msgs[d][i].id, id) == 0)
			return &in->msgs[d][i];
	return NULL;
}

/* Changed since the last sync, as a deletion sees it. */
static bool changed(unsigned flags, const char *kw, const struct state_pair *p)
{
	unsigned diff = flags ^ p->flags;

	return !mail_keywords_equal(kw, p->keywords) ||
	       (diff && !(diff == MAIL_FLAG_DELETED && (flags & MAIL_FLAG_DELETED)));
}

/* Whether action `a` takes message id[d] of side d: copies it, pairs it
 * or deletes it. */
static bool takes(const struct plan_action *a, enum side d)
{
	return a->kind == PLAN_PAIR_EXISTING || (a->kind == PLAN_COPY && a->side != d) ||
	       (a->kind == PLAN_DELETE && a->side == d);
}

static void check_invariants(const struct plan_input *in, const struct plan_rules *rules,
                             const struct plan *plan, unsigned world)
{
	static const char *const where[SIDES] = {"on the server", "locally"};
	char t1[32], t2[32];

	for (size_t i = 0; i < plan->action_count; i++) {
		const struct plan_action *a = &plan->actions[i];
		const struct state_pair *p = a->pair_id ? pair_by_id(in, a->pair_id) : NULL;
		enum side d = a->side, o = side_other(a->side);

		cr_assert(!a->pair_id || p, "world %u: action on an unknown pair", world);
		for (size_t j = 0; j < i; j++) {
			const struct plan_action *b = &plan->actions[j];
			for (int k = 0; k < SIDES; k++)
				cr_assert(!(takes(a, (enum side)k) && takes(b, (enum side)k) &&
				            store_id_cmp(a->id[k], b->id[k]) == 0),
				          "world %u: %s copied, paired or deleted twice", world,
				          id_text(a->id[k], t1, sizeof(t1)));
		}
		if (a->kind == PLAN_DELETE) {
			struct store_id pd = p ? p->side[d] : (struct store_id){0, NULL};
			struct store_id po = p ? p->side[o] : (struct store_id){0, NULL};
			cr_assert(p && store_id_known(pd) && store_id_known(po),
			          "world %u: a deletion the state cannot justify", world);
			cr_assert(!rules->first_sync, "world %u: a deletion without a base", world);
			cr_assert(rules->expunge & (1u << d));
			cr_assert(plan_may_change(rules, d), "world %u: deletion against the direction",
			          world);
			const struct plan_msg *m = in_msg(in, d, a->id[d]);
			cr_assert(m && store_id_cmp(pd, a->id[d]) == 0);
			cr_assert_null(in_msg(in, o, po), "world %u: deleting a message kept %s", world,
			               where[o]);
			cr_assert(!rules->flags || !changed(m->flags, m->keywords, p),
			          "world %u: deleting %s, which changed", world,
			          id_text(m->id, t1, sizeof(t1)));
			cr_assert(!plan->side[d].blocked);
			cr_assert(rules->allow_mass_delete || rules->use == PLAN_USE_TRASH ||
			              plan->side[d].deletions < 2 ||
			              (plan->side[d].deletions < plan->side[d].total && in->count[o]),
			          "world %u: a folder emptied %s emptied %s", world, where[o], where[d]);
		}
		if (a->kind == PLAN_COPY) {
			struct store_id pd = p ? p->side[d] : (struct store_id){0, NULL};
			struct store_id po = p ? p->side[o] : (struct store_id){0, NULL};
			cr_assert(plan_may_change(rules, d));
			cr_assert(!p || (store_id_cmp(po, a->id[o]) == 0 && store_id_known(pd) &&
			                 !in_msg(in, d, pd)),
			          "world %u: copying %s, which the state pairs with a present message", world,
			          id_text(a->id[o], t1, sizeof(t1)));
			for (size_t k = 0; !p && k < in->pair_count; k++)
				cr_assert(store_id_cmp(in->pairs[k].side[o], a->id[o]) != 0,
				          "world %u: copying a paired message (%s) as new", world,
				          id_text(a->id[o], t2, sizeof(t2)));
			cr_assert(!rules->max_size || a->size <= rules->max_size);
		}
		if (a->kind == PLAN_SET_FLAGS) {
			cr_assert(rules->flags, "world %u: flag change with flags off", world);
			cr_assert(plan_may_change(rules, d));
		}
		if (a->kind == PLAN_UPDATE_PAIR && (a->update & PLAN_UPDATE_FLAGS))
			cr_assert(rules->flags);
	}
}

/* Copies of content key `key` alive on each side, and pairs that know it. */
static void key_counts(const struct sim *s, const char *key, size_t had[3])
{
	had[0] = had[1] = had[2] = 0;
	for (size_t i = 0; i < s->np; i++)
		had[2] += s->pairs[i].alive && strcmp(s->pairs[i].key, key) == 0;
	for (int d = 0; d < SIDES; d++)
		for (size_t i = 0; i < s->n[d]; i++)
			had[d] += s->msg[d][i].alive && strcmp(s->msg[d][i].key, key) == 0;
}

static void id_out(struct buf *b, struct store_id id)
{
	if (id.name)
		buf_append_str(b, id.name);
	else if (id.uid)
		buf_printf(b, "%" PRIu32, id.uid);
	else
		buf_append_str(b, "-");
}

/* The world in the notation of test_sync_plan.h, for failure messages. */
static char *world_text(const struct plan_input *in, const struct plan_rules *r)
{
	static const char *const names[SIDES] = {" ] remote [", " ] local ["};
	struct buf b = BUF_INIT;

	buf_append_str(&b, "state [");
	for (size_t i = 0; i < in->pair_count; i++) {
		const struct state_pair *p = &in->pairs[i];
		char *f = flags_text(p->flags, p->keywords);
		buf_append_byte(&b, ' ');
		id_out(&b, p->side[SIDE_A]);
		buf_append_byte(&b, '/');
		id_out(&b, p->side[SIDE_B]);
		buf_printf(&b, ":%s@%s#%" PRIu64, f, p->content_key ? p->content_key : "", p->size);
		free(f);
	}
	for (int d = 0; d < SIDES; d++) {
		buf_append_str(&b, names[d]);
		for (size_t i = 0; i < in->count[d]; i++) {
			const struct plan_msg *m = &in->msgs[d][i];
			char *f = flags_text(m->flags, m->keywords);
			buf_append_byte(&b, ' ');
			id_out(&b, m->id);
			buf_printf(&b, ":%s@%s#%" PRIu64, f, m->content_key ? m->content_key : "", m->size);
			free(f);
		}
	}
	buf_printf(
	    &b, " ] rules [dir=%d exp=%d flags=%d max=%" PRIu64 " allow=%d min=%zu pct=%u first=%d use=%d]",
	    r->direction, r->expunge, r->flags, r->max_size, r->allow_mass_delete, r->mass_delete_min,
	    r->mass_delete_percent, r->first_sync, (int)r->use);
	return buf_detach(&b, NULL);
}

/* Ten thousand worlds whose sides are keyed as `key` says. */
static void run_worlds(const enum sim_key key[SIDES])
{
	struct sim *s = xmalloc(sizeof(*s));
	struct plan_rules rules;
	struct error err;
	size_t actions = 0, blocked = 0, kinds[PLAN_KIND_COUNT] = {0};

	rng_state = 0x9e3779b97f4a7c15ull;
	for (unsigned world = 0; world < 10000; world++) {
		struct plan plan;

		random_world(s, key, &rules);
		build_input(s);
		char *before = world_text(&s->in, &rules);
		size_t had[5][3];
		for (size_t k = 1; k < 5; k++)
			key_counts(s, keys[k], had[k]);
		cr_assert_eq(plan_build(&s->in, &rules, &plan, &err), 0, "world %u: %s", world, err.text);
		char *first = plan_text(&plan);
		check_invariants(&s->in, &rules, &plan, world);
		actions += plan.action_count;
		for (size_t i = 0; i < plan.action_count; i++)
			kinds[plan.actions[i].kind]++;
		bool was_blocked = plan.status == PLAN_MASS_DELETE_BLOCKED;
		bool blocked_side[SIDES] = {plan.side[SIDE_A].blocked, plan.side[SIDE_B].blocked};
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
				const struct plan_action *a = &plan.actions[i];
				cr_assert(a->kind == PLAN_SKIP_TOO_BIG ||
				              (a->kind == PLAN_DELETE && blocked_side[a->side]),
				          "world %u: after a blocked plan, %s is left", world,
				          plan_kind_name(a->kind, a->side));
			}
			apply(s, &plan);
			plan_free(&plan);
		}

		/* Everything done: nothing left to do but report big ones. */
		build_input(s);
		cr_assert_eq(plan_build(&s->in, &rules, &plan, &err), 0, "world %u, again: %s", world,
		             err.text);
		size_t skipped = plan_count(&plan, PLAN_SKIP_TOO_BIG);
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
			size_t now[3], most = had[k][0] > had[k][1] ? had[k][0] : had[k][1];
			most = had[k][2] > most ? had[k][2] : most;
			key_counts(s, keys[k], now);
			cr_assert(now[0] <= most && now[1] <= most,
			          "world %u: key %s was %zu/%zu, now %zu/%zu copies\nbefore: %s\nplan: %s",
			          world, keys[k], had[k][0], had[k][1], now[0], now[1], before, first);
		}
		free(before);
		free(first);
	}
	free(s);
	cr_assert_gt(actions, 20000, "the worlds give the planner work (%zu actions)", actions);
	cr_assert_gt(blocked, 10, "some worlds trip the valve (%zu)", blocked);
	for (int k = 0; k < PLAN_KIND_COUNT; k++)
		cr_assert_gt(kinds[k], 10, "the worlds produce %s actions (%zu)",
		             plan_kind_name((enum plan_kind)k, SIDE_A), kinds[k]);
}

Test(sync_plan_random, ten_thousand_worlds_keep_the_invariants_and_converge)
{
	/* IMAP <-> Maildir */
	run_worlds((enum sim_key[SIDES]){KEY_UID, KEY_NAME});
}

/* The same worlds between the other pairings of stores: IMAP <-> IMAP
 * (provider migration), POP3 or Maildir <-> Maildir (names on both
 * sides), and a store keyed by name against an IMAP side B. */
Test(sync_plan_random, the_worlds_converge_for_every_pairing_of_stores)
{
	run_worlds((enum sim_key[SIDES]){KEY_UID, KEY_UID});
	run_worlds((enum sim_key[SIDES]){KEY_NAME, KEY_NAME});
	run_worlds((enum sim_key[SIDES]){KEY_NAME, KEY_UID});
}
