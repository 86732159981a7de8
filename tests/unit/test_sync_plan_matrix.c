/*
 * Every combination, checked against the rules of plan.h written out
 * once more as a small per-message oracle:
 *
 *  - each flag (five system flags and a keyword) x last-synced / remote /
 *    local value x direction x flags on/off, with and without a base;
 *  - one message: state (none, both sides, remote only, local only) x
 *    each side (absent, unchanged, changed, only \Deleted set, new with
 *    the same / another / no content key) x direction x expunge x flags.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"
#include "unit/test_sync_plan.h"

static const char *const dirs[] = {"both", "pull", "push"};
static const char *const wheres[] = {"none", "remote", "local", "both"};

struct expect {
	char *v[16];
	size_t n;
};

static void expect_add(struct expect *e, char *s)
{
	cr_assert_lt(e->n, 16);
	e->v[e->n++] = s;
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *expect_text(struct expect *e)
{
	struct buf b = BUF_INIT;

	qsort(e->v, e->n, sizeof(e->v[0]), str_ptr_cmp);
	for (size_t i = 0; i < e->n; i++) {
		buf_printf(&b, "%s%s", i ? "; " : "", e->v[i]);
		free(e->v[i]);
	}
	e->n = 0;
	return buf_detach(&b, NULL);
}

static void check(const char *state, const char *remote, const char *local, const char *rules,
                  struct expect *e)
{
	char *want = expect_text(e);
	char *got = plan_world(state, remote, local, rules, NULL);

	cr_expect_str_eq(got, want, "state [%s] remote [%s] local [%s] rules [%s]\n   got: %s\nwanted: %s",
	                 state, remote, local, rules, got, want);
	free(got);
	free(want);
}

/* ---- the flag oracle ---- */

/* One flag of the matrix: a bit, or the keyword "$x" when bit is 0. */
static char *one(unsigned bit, bool on)
{
	if (!on)
		return xstrdup("");
	return bit ? flags_text(bit, NULL) : xstrdup("+$x");
}

static char *change(unsigned bit, bool add)
{
	char *f = one(bit, true), *s;

	s = bit ? xasprintf("%c%s", add ? '+' : '-', f) : xasprintf("%c$x", add ? '+' : '-');
	free(f);
	return s;
}

/*
 * The rule for one flag: with a base, the side that changed wins; without,
 * the set wins except for \Deleted. The direction keeps a side as it is.
 * Adds the expected flag actions and pair update to `e`; `pair` names the
 * pair in the text ("p1", "9/b").
 */
static void flag_oracle(struct expect *e, unsigned bit, bool r, bool l, const bool *base, const char *dir,
                        const char *uid, const char *local, const char *pair)
{
	bool clear_wins = bit == MAIL_FLAG_DELETED;
	bool want = base ? (r != *base ? r : l) : clear_wins ? r && l : r || l;
	bool record = base ? *base : clear_wins ? r || l : r && l;
	bool tr = strcmp(dir, "pull") ? want : r;
	bool tl = strcmp(dir, "push") ? want : l;
	bool synced = tr == tl ? tr : record;

	if (tr != r) {
		char *c = change(bit, tr);
		expect_add(e, xasprintf("setR %s %s", uid, c));
		free(c);
	}
	if (tl != l) {
		char *c = change(bit, tl);
		expect_add(e, xasprintf("setL %s %s", local, c));
		free(c);
	}
	if (synced != record) {
		char *f = one(bit, synced);
		expect_add(e, xasprintf("upd %s :%s", pair, f));
		free(f);
	}
}

static const unsigned matrix_flags[] = {MAIL_FLAG_SEEN,    MAIL_FLAG_ANSWERED, MAIL_FLAG_FLAGGED,
                                        MAIL_FLAG_DELETED, MAIL_FLAG_DRAFT,    0};

Test(sync_plan_matrix, every_flag_three_way_with_a_base)
{
	struct expect e = {.n = 0};

	for (size_t f = 0; f < sizeof(matrix_flags) / sizeof(matrix_flags[0]); f++)
		for (unsigned v = 0; v < 8; v++)
			for (size_t d = 0; d < 3; d++)
				for (int flags_on = 0; flags_on < 2; flags_on++) {
					unsigned bit = matrix_flags[f];
					bool b = v & 1, r = v & 2, l = v & 4;
					char *fb = one(bit, b), *fr = one(bit, r), *fl = one(bit, l);
					char *state = xasprintf("5/a:%s", fb),
					     *remote = xasprintf("5:%s", fr);
					char *local = xasprintf("a:%s", fl);
					char *rules =
					    xasprintf("dir=%s flags=%s", dirs[d], flags_on ? "on" : "off");

					if (flags_on)
						flag_oracle(&e, bit, r, l, &b, dirs[d], "5", "a", "p1");
					check(state, remote, local, rules, &e);
					free(fb), free(fr), free(fl), free(state), free(remote), free(local),
					    free(rules);
				}
}

Test(sync_plan_matrix, every_flag_without_a_base)
{
	struct expect e = {.n = 0};

	for (size_t f = 0; f < sizeof(matrix_flags) / sizeof(matrix_flags[0]); f++)
		for (unsigned v = 0; v < 4; v++)
			for (size_t d = 0; d < 3; d++)
				for (int flags_on = 0; flags_on < 2; flags_on++) {
					unsigned bit = matrix_flags[f];
					bool r = v & 1, l = v & 2;
					bool record = bit == MAIL_FLAG_DELETED ? r || l : r && l;
					char *fr = one(bit, r), *fl = one(bit, l), *fp = one(bit, record);
					char *remote = xasprintf("9:%s@k", fr),
					     *local = xasprintf("b:%s@k", fl);
					char *rules = xasprintf("first dir=%s flags=%s", dirs[d],
					                        flags_on ? "on" : "off");

					expect_add(&e, xasprintf("pair 9/b:%s", fp));
					if (flags_on)
						flag_oracle(&e, bit, r, l, NULL, dirs[d], "9", "b", "9/b");
					check("", remote, local, rules, &e);
					free(fr), free(fl), free(fp), free(remote), free(local), free(rules);
				}
}

/* ---- the one-message oracle ---- */

enum state_kind { ST_NONE, ST_BOTH, ST_RONLY, ST_LONLY };
enum side_kind { SD_ABSENT, SD_SAME, SD_CHANGED, SD_TRASHED, SD_NEW_K, SD_NEW_J, SD_NEW_NOKEY, SD_COUNT };

/* The known message is uid 5 / "a", last synced as \Seen with key k; a
 * new one is uid 9 / "b". A change is \Flagged set on the server,
 * \Answered set locally. */
static const char *const remote_text[] = {"", "5:S@k", "5:FS@k", "5:ST@k", "9:S@k", "9:S@j", "9:S"};
static const char *const local_text[] = {"", "a:S@k", "a:RS@k", "a:ST@k", "b:S@k", "b:S@j", "b:S"};
static const unsigned remote_bits[] = {0,
                                       MAIL_FLAG_SEEN,
                                       MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED,
                                       MAIL_FLAG_SEEN | MAIL_FLAG_DELETED,
                                       MAIL_FLAG_SEEN,
                                       MAIL_FLAG_SEEN,
                                       MAIL_FLAG_SEEN};
static const unsigned local_bits[] = {0,
                                      MAIL_FLAG_SEEN,
                                      MAIL_FLAG_SEEN | MAIL_FLAG_ANSWERED,
                                      MAIL_FLAG_SEEN | MAIL_FLAG_DELETED,
                                      MAIL_FLAG_SEEN,
                                      MAIL_FLAG_SEEN,
                                      MAIL_FLAG_SEEN};

static bool known(enum side_kind k)
{
	return k == SD_SAME || k == SD_CHANGED || k == SD_TRASHED;
}

static bool is_new(enum side_kind k)
{
	return k >= SD_NEW_K;
}

static const char *key_of(enum side_kind k)
{
	return k == SD_NEW_NOKEY ? NULL : k == SD_NEW_J ? "j" : "k";
}

/* Flags of a whole message: every bit through flag_oracle. */
static void merge_oracle(struct expect *e, unsigned r, unsigned l, const unsigned *base, const char *dir,
                         const char *uid, const char *local, const char *pair)
{
	unsigned add_r = 0, del_r = 0, add_l = 0, del_l = 0, synced = 0, record = 0;

	/* Per bit, then merged into one action per side, as the planner does. */
	for (unsigned bit = 1; bit & MAIL_FLAGS_ALL; bit <<= 1) {
		bool b = base && (*base & bit), rr = r & bit, ll = l & bit,
		     clear_wins = bit == MAIL_FLAG_DELETED;
		bool want = base ? (rr != b ? rr : ll) : clear_wins ? rr && ll : rr || ll;
		bool rec = base ? b : clear_wins ? rr || ll : rr && ll;
		bool tr = strcmp(dir, "pull") ? want : rr, tl = strcmp(dir, "push") ? want : ll;

		add_r |= tr && !rr ? bit : 0;
		del_r |= !tr && rr ? bit : 0;
		add_l |= tl && !ll ? bit : 0;
		del_l |= !tl && ll ? bit : 0;
		synced |= (tr == tl ? tr : rec) ? bit : 0;
		record |= rec ? bit : 0;
	}
	if (add_r || del_r) {
		char *a = flags_text(add_r, NULL), *d = flags_text(del_r, NULL);
		expect_add(e, xasprintf("setR %s %s%s%s%s", uid, *a ? "+" : "", a, *d ? "-" : "", d));
		free(a), free(d);
	}
	if (add_l || del_l) {
		char *a = flags_text(add_l, NULL), *d = flags_text(del_l, NULL);
		expect_add(e, xasprintf("setL %s %s%s%s%s", local, *a ? "+" : "", a, *d ? "-" : "", d));
		free(a), free(d);
	}
	if (synced != record) {
		char *s = flags_text(synced, NULL);
		expect_add(e, xasprintf("upd %s :%s", pair, s));
		free(s);
	}
}

static bool one_ok(struct expect *e, enum state_kind st, enum side_kind rk, enum side_kind lk,
                   const char *dir, const char *exp, bool flags_on)
{
	bool had_r = st == ST_BOTH || st == ST_RONLY, had_l = st == ST_BOTH || st == ST_LONLY;
	bool may_r = strcmp(dir, "pull") != 0, may_l = strcmp(dir, "push") != 0;
	bool exp_r = !strcmp(exp, "remote") || !strcmp(exp, "both");
	bool exp_l = !strcmp(exp, "local") || !strcmp(exp, "both");
	bool r_here = known(rk), l_here = known(lk);
	bool r_new = is_new(rk), l_new = is_new(lk);
	unsigned rb = remote_bits[rk], lb = local_bits[lk], base = MAIL_FLAG_SEEN;
	bool attached = false;

	if ((known(rk) && !had_r) || (known(lk) && !had_l))
		return false; /* no such world */

	/* Content-key matching: a half pair first, then new with new. */
	if (st != ST_NONE && r_new && !r_here && l_here && key_of(rk) && !strcmp(key_of(rk), "k")) {
		attached = true, r_here = true, r_new = false;
	} else if (st != ST_NONE && l_new && !l_here && r_here && key_of(lk) && !strcmp(key_of(lk), "k")) {
		attached = true, l_here = true, l_new = false;
	} else if (r_new && l_new && key_of(rk) && key_of(lk) && !strcmp(key_of(rk), key_of(lk))) {
		unsigned rec = rb & lb;
		char *f = flags_text(rec, NULL);
		expect_add(e, xasprintf("pair 9/b:%s", f));
		free(f);
		if (flags_on)
			merge_oracle(e, rb, lb, NULL, dir, "9", "b", "9/b");
		r_new = l_new = false;
	}
	const char *uid = rk >= SD_NEW_K ? "9" : "5", *lid = lk >= SD_NEW_K ? "b" : "a";

	if (attached) {
		/* The pair's last-synced flags still hold: recorded as they
		 * were, then a three-way merge like any pair. */
		char *f = flags_text(base, NULL);
		expect_add(e, xasprintf("pair p1 %s/%s:%s", uid, lid, f));
		free(f);
		if (flags_on)
			merge_oracle(e, rb, lb, &base, dir, uid, lid, "p1");
	} else if (st != ST_NONE) {
		if (r_here && l_here) {
			if (flags_on)
				merge_oracle(e, rb, lb, &base, dir, uid, lid, "p1");
		} else if (!r_here && !l_here) {
			expect_add(e, xasprintf("forget p1"));
		} else if (r_here && had_l) {
			bool changed = flags_on && rk == SD_CHANGED;
			if (exp_r && !changed && may_r)
				expect_add(e, xasprintf("delR 5 p1"));
			else if (exp_r && changed && may_l)
				expect_add(e, xasprintf("copyL 5:FS p1"));
			else
				expect_add(e, xasprintf("upd p1 -L"));
		} else if (l_here && had_r) {
			bool changed = flags_on && lk == SD_CHANGED;
			if (exp_l && !changed && may_l)
				expect_add(e, xasprintf("delL a p1"));
			else if (exp_l && changed && may_r)
				expect_add(e, xasprintf("copyR a:RS p1"));
			else
				expect_add(e, xasprintf("upd p1 -R"));
		}
	}
	if (r_new && may_l)
		expect_add(e, xasprintf("copyL 9:S"));
	if (l_new && may_r)
		expect_add(e, xasprintf("copyR b:S"));
	return true;
}

static void one_message_matrix(enum state_kind st)
{
	static const char *const state_text[] = {"", "5/a:S@k", "5/-:S@k", "0/a:S@k"};
	struct expect e = {.n = 0};
	size_t worlds = 0;

	for (int rk = 0; rk < SD_COUNT; rk++)
		for (int lk = 0; lk < SD_COUNT; lk++)
			for (size_t d = 0; d < 3; d++)
				for (size_t x = 0; x < 4; x++)
					for (int flags_on = 0; flags_on < 2; flags_on++) {
						if (!one_ok(&e, st, rk, lk, dirs[d], wheres[x], flags_on)) {
							free(expect_text(&e)); /* no such world */
							continue;
						}
						char *rules = xasprintf("dir=%s exp=%s flags=%s", dirs[d],
						                        wheres[x], flags_on ? "on" : "off");
						check(state_text[st], remote_text[rk], local_text[lk], rules,
						      &e);
						free(rules);
						worlds++;
					}
	cr_assert_gt(worlds, 0);
}

Test(sync_plan_matrix, one_message_without_state)
{
	one_message_matrix(ST_NONE);
}

Test(sync_plan_matrix, one_message_paired_on_both_sides)
{
	one_message_matrix(ST_BOTH);
}

Test(sync_plan_matrix, one_message_known_on_the_server_only)
{
	one_message_matrix(ST_RONLY);
}

Test(sync_plan_matrix, one_message_known_locally_only)
{
	one_message_matrix(ST_LONLY);
}
