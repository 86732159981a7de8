/*
 * 100,000 messages in one folder: the planner must stay far from
 * quadratic. The times are printed, not asserted (machines differ); the
 * plans are checked so that a fast wrong answer does not pass.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "twinbox/sync/plan.h"
#include "twinbox/util/xmalloc.h"

#define N 100000

struct big {
	struct state_pair *pairs;
	struct plan_msg *remote;
	struct plan_msg *local;
	char **ids, **keys;
	size_t np, nr, nl;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `paired`: the state knows every message (a steady folder with a few
 * changes); else nothing is known yet and every message has a twin by
 * content key (adopting an existing Maildir). Inputs are shuffled so that
 * no order is given for free. */
static void make(struct big *b, bool paired)
{
	b->pairs = xcalloc(N, sizeof(*b->pairs));
	b->remote = xcalloc(N + N / 100, sizeof(*b->remote));
	b->local = xcalloc(N + N / 100, sizeof(*b->local));
	b->ids = xcalloc(N + N / 100, sizeof(char *));
	b->keys = xcalloc(N + N / 100, sizeof(char *));
	b->np = b->nr = b->nl = 0;
	for (size_t i = 0; i < N + N / 100; i++) {
		b->ids[i] = xasprintf("17%08zu.M%zuP4242Q%zu.host.example", i, i * 7, i % 13);
		b->keys[i] = xasprintf("%zu %064zx <msg%zu@example.com>", 1000 + i, i * 2654435761u, i);
	}
	for (size_t i = 0; i < N; i++) {
		uint32_t uid = (uint32_t)(i + 1);
		unsigned flags = i % 3 ? MAIL_FLAG_SEEN : 0;

		if (paired)
			b->pairs[b->np++] = (struct state_pair){
			    (int64_t)i + 1, 1,    {{uid, NULL}, {0, b->ids[i]}}, flags, NULL, 1000 + i,
			    b->keys[i],     false};
		/* 0.5% deleted on each side, 1% flags changed on each side. */
		if (i % 200 != 1)
			b->remote[b->nr++] =
			    (struct plan_msg){{uid, NULL},
			                      i % 100 == 3 ? flags | MAIL_FLAG_FLAGGED : flags,
			                      NULL,
			                      1000 + i,
			                      b->keys[i],
			                      0,
			                      0};
		if (i % 200 != 2)
			b->local[b->nl++] = (struct plan_msg){{0, b->ids[i]},
			                                      i % 100 == 4 ? flags ^ MAIL_FLAG_SEEN : flags,
			                                      NULL,
			                                      1000 + i,
			                                      b->keys[i],
			                                      0,
			                                      0};
	}
	/* 1% new on each side. */
	for (size_t i = N; i < N + N / 100; i++) {
		b->remote[b->nr++] =
		    (struct plan_msg){{(uint32_t)(i + 1), NULL}, 0, NULL, 1000 + i, b->keys[i], 0, 0};
		b->local[b->nl++] = (struct plan_msg){{0, b->ids[i]}, 0, NULL, 1000 + i, NULL, 0, 0};
	}
	srand(7);
	for (size_t i = b->nr - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		struct plan_msg t = b->remote[i];
		b->remote[i] = b->remote[j];
		b->remote[j] = t;
	}
	for (size_t i = b->nl - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		struct plan_msg t = b->local[i];
		b->local[i] = b->local[j];
		b->local[j] = t;
	}
}

static void unmake(struct big *b)
{
	for (size_t i = 0; i < N + N / 100; i++) {
		free(b->ids[i]);
		free(b->keys[i]);
	}
	free(b->ids);
	free(b->keys);
	free(b->pairs);
	free(b->remote);
	free(b->local);
}

static size_t count(const struct plan *plan, enum plan_kind kind, enum side side)
{
	size_t n;

	plan_actions(plan, kind, side, &n);
	return n;
}

Test(sync_plan_perf, one_hundred_thousand_messages_in_a_synced_folder)
{
	struct big b;
	struct plan_rules rules;
	struct plan plan;
	struct error err;
	double t;

	make(&b, true);
	plan_rules_init(&rules);
	rules.expunge = PLAN_WHERE_BOTH;
	struct plan_input in = {b.pairs, b.np, {b.remote, b.local}, {b.nr, b.nl}};
	t = now();
	cr_assert_eq(plan_build(&in, &rules, &plan, &err), 0, "%s", err.text);
	t = now() - t;
	fprintf(
	    stderr,
	    "sync_plan_perf: %zu pairs, %zu remote, %zu local messages: planned in %.3f s (%zu actions)\n",
	    b.np, b.nr, b.nl, t, plan.action_count);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_B), N / 200);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_A), N / 200);
	cr_assert_eq(count(&plan, PLAN_SET_FLAGS, SIDE_B), N / 100);
	cr_assert_eq(count(&plan, PLAN_SET_FLAGS, SIDE_A), N / 100);
	cr_assert_eq(count(&plan, PLAN_COPY, SIDE_B), N / 100);
	cr_assert_eq(count(&plan, PLAN_COPY, SIDE_A), N / 100);
	plan_free(&plan);
	unmake(&b);
}

Test(sync_plan_perf, one_hundred_thousand_messages_matched_by_content_on_a_first_sync)
{
	struct big b;
	struct plan_rules rules;
	struct plan plan;
	struct error err;
	double t;

	make(&b, false);
	plan_rules_init(&rules);
	rules.first_sync = true;
	struct plan_input in = {NULL, 0, {b.remote, b.local}, {b.nr, b.nl}};
	t = now();
	cr_assert_eq(plan_build(&in, &rules, &plan, &err), 0, "%s", err.text);
	t = now() - t;
	fprintf(stderr,
	        "sync_plan_perf: first sync of %zu remote and %zu local messages: planned in %.3f s "
	        "(%zu pairs by content key)\n",
	        b.nr, b.nl, t, count(&plan, PLAN_PAIR_EXISTING, SIDE_A));
	/* Both sides have the message except the 0.5% missing on either. */
	cr_assert_eq(count(&plan, PLAN_PAIR_EXISTING, SIDE_A), N - N / 100);
	cr_assert_eq(count(&plan, PLAN_COPY, SIDE_B), N / 200 + N / 100);
	cr_assert_eq(count(&plan, PLAN_COPY, SIDE_A), N / 200 + N / 100);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_B) + count(&plan, PLAN_DELETE, SIDE_A), 0);
	plan_free(&plan);
	unmake(&b);
}
