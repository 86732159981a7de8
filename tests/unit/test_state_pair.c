#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_state.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/mailflags.h"

TestSuite(state_pair, .init = state_test_setup, .fini = state_test_teardown, .timeout = 120);

Test(state_pair, insert_load_and_find)
{
	struct state *st = state_test_open("work.db");
	int64_t folder = state_test_folder(st, "INBOX", "INBOX");
	struct state_pair pairs[] = {
	    {.folder_id = folder, .side = {{30, NULL}, {0, "c"}}, .flags = MAIL_FLAG_SEEN, .size = 300},
	    {.folder_id = folder, .side = {{0, NULL}, {0, "local-only"}}, .keywords = "$Junk", .size = 5},
	    {.folder_id = folder, .side = {{10, NULL}, {0, "a"}}, .content_key = "100 h1 <a@x>"},
	    {.folder_id = folder,
	     .side = {{20, NULL}, {0, NULL}},
	     .flags = MAIL_FLAG_FLAGGED | MAIL_FLAG_DRAFT},
	};
	const struct state_pair *p;
	struct state_pairs set;
	struct error err;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		cr_assert_eq(state_pair_insert(st, &pairs[i], &err), 0, "%s", err.text);
		cr_assert_gt(pairs[i].id, 0);
	}
	state_close(st);
	st = state_test_open("work.db");
	cr_assert_eq(state_pairs_load(st, folder, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 4);
	cr_assert_eq(set.pairs[0].side[SIDE_A].uid, 0, "pairs without a remote side first");
	cr_assert_eq(set.pairs[1].side[SIDE_A].uid, 10);
	cr_assert_eq(set.pairs[2].side[SIDE_A].uid, 20);
	cr_assert_eq(set.pairs[3].side[SIDE_A].uid, 30);

	p = state_pairs_find(&set, SIDE_A, (struct store_id){20, NULL});
	cr_assert_not_null(p);
	cr_assert_eq(p->id, pairs[3].id);
	cr_assert_null(p->side[SIDE_B].name);
	cr_assert_eq(p->flags, MAIL_FLAG_FLAGGED | MAIL_FLAG_DRAFT);
	cr_assert_eq(p->folder_id, folder);

	p = state_pairs_find(&set, SIDE_B, (struct store_id){0, "local-only"});
	cr_assert_not_null(p);
	cr_assert_eq(p->side[SIDE_A].uid, 0);
	cr_assert_str_eq(p->keywords, "$Junk");
	cr_assert_eq(p->size, 5);

	p = state_pairs_find(&set, SIDE_B, (struct store_id){0, "a"});
	cr_assert_not_null(p);
	cr_assert_eq(p->side[SIDE_A].uid, 10);
	cr_assert_str_eq(p->content_key, "100 h1 <a@x>");
	cr_assert_null(p->keywords);

	cr_assert_null(state_pairs_find(&set, SIDE_A, (struct store_id){0, NULL}));
	cr_assert_null(state_pairs_find(&set, SIDE_A, (struct store_id){15, NULL}));
	cr_assert_null(state_pairs_find(&set, SIDE_A, (struct store_id){31, NULL}));
	cr_assert_null(state_pairs_find(&set, SIDE_B, (struct store_id){0, "b"}));
	cr_assert_null(state_pairs_find(&set, SIDE_B, (struct store_id){0, NULL}));
	state_pairs_free(&set);
	cr_assert_eq(set.count, 0);
	state_pairs_free(&set); /* twice is fine */
	state_close(st);
}

Test(state_pair, update_set_flags_and_delete)
{
	struct state *st = state_test_open("work.db");
	int64_t folder = state_test_folder(st, "INBOX", "INBOX");
	struct state_pair p = {.folder_id = folder, .side = {{5, NULL}, {0, NULL}}};
	const struct state_pair *q;
	struct state_pairs set;
	struct error err;

	cr_assert_eq(state_pair_insert(st, &p, &err), 0);
	p.side[SIDE_B].name = "1732243879.M1P2.host";
	p.size = 1234;
	p.content_key = "k";
	cr_assert_eq(state_pair_update(st, &p, &err), 0, "%s", err.text);
	cr_assert_eq(state_pair_set_flags(st, p.id, MAIL_FLAG_SEEN | MAIL_FLAG_ANSWERED, "$Forwarded", &err),
	             0, "%s", err.text);
	cr_assert_eq(state_pairs_load(st, folder, &set, &err), 0);
	q = state_pairs_find(&set, SIDE_A, (struct store_id){5, NULL});
	cr_assert_not_null(q);
	cr_assert_str_eq(q->side[SIDE_B].name, "1732243879.M1P2.host");
	cr_assert_eq(q->size, 1234);
	cr_assert_eq(q->flags, MAIL_FLAG_SEEN | MAIL_FLAG_ANSWERED);
	cr_assert_str_eq(q->keywords, "$Forwarded");
	state_pairs_free(&set);

	cr_assert_eq(state_pair_set_flags(st, p.id, 0, "", &err), 0, "\"\" means no keywords");
	cr_assert_eq(state_pairs_load(st, folder, &set, &err), 0);
	cr_assert_null(set.pairs[0].keywords);
	cr_assert_eq(set.pairs[0].flags, 0);
	state_pairs_free(&set);

	cr_assert_eq(state_pair_delete(st, p.id, &err), 0, "%s", err.text);
	cr_assert_eq(state_pairs_load(st, folder, &set, &err), 0);
	cr_assert_eq(set.count, 0);
	state_pairs_free(&set);
	cr_assert_eq(state_pair_delete(st, p.id, &err), -1, "a second delete means the caller lost track");
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(state_pair_update(st, &p, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	state_close(st);
}

Test(state_pair, invalid_pairs_are_refused)
{
	struct state *st = state_test_open("work.db");
	int64_t folder = state_test_folder(st, "INBOX", "INBOX");
	struct state_pair none = {.folder_id = folder};
	struct state_pair slash = {.folder_id = folder, .side = {{0, NULL}, {0, "../../etc/passwd"}}};
	struct state_pair bits = {.folder_id = folder, .side = {{1, NULL}, {0, NULL}}, .flags = 0x100};
	struct state_pair nofolder = {.folder_id = 999, .side = {{1, NULL}, {0, NULL}}};
	struct state_pair dup_local_a = {.folder_id = folder, .side = {{1, NULL}, {0, "same"}}};
	struct state_pair dup_local_b = {.folder_id = folder, .side = {{2, NULL}, {0, "same"}}};
	char long_id[STATE_LOCAL_ID_MAX + 2];
	struct state_pair too_long = {.folder_id = folder, .side = {{0, NULL}, {0, long_id}}};
	struct error err;

	cr_assert_eq(state_pair_insert(st, &none, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(state_pair_insert(st, &slash, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert(strstr(err.text, "'/'"), "%s", err.text);
	cr_assert_eq(state_pair_insert(st, &bits, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(state_pair_insert(st, &nofolder, &err), -1, "foreign keys are enforced");
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "FOREIGN KEY"), "%s", err.text);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	cr_assert_eq(state_pair_insert(st, &too_long, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert_eq(state_pair_insert(st, &dup_local_a, &err), 0);
	cr_assert_eq(state_pair_insert(st, &dup_local_b, &err), -1);
	cr_assert(strstr(err.text, "UNIQUE"), "%s", err.text);
	state_close(st);
}

Test(state_pair, lookup_by_content_key)
{
	struct state *st = state_test_open("work.db");
	int64_t a = state_test_folder(st, "A", "A");
	int64_t b = state_test_folder(st, "B", "B");
	char *key = state_content_key("<m1@example.com>", 2048, "ab12");
	struct state_pair p1 = {.folder_id = a, .side = {{1, NULL}, {0, NULL}}, .content_key = key};
	struct state_pair p2 = {.folder_id = a, .side = {{2, NULL}, {0, NULL}}, .content_key = "other"};
	struct state_pair p3 = {.folder_id = b, .side = {{0, NULL}, {0, "dup"}}, .content_key = key};
	struct state_pairs set;
	struct error err;

	cr_assert_eq(state_pair_insert(st, &p1, &err), 0);
	cr_assert_eq(state_pair_insert(st, &p2, &err), 0);
	cr_assert_eq(state_pair_insert(st, &p3, &err), 0);

	cr_assert_eq(state_pairs_find_key(st, a, key, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 1);
	cr_assert_eq(set.pairs[0].id, p1.id);
	state_pairs_free(&set);

	cr_assert_eq(state_pairs_find_key(st, 0, key, &set, &err), 0);
	cr_assert_eq(set.count, 2, "across folders");
	cr_assert_not_null(state_pairs_find(&set, SIDE_B, (struct store_id){0, "dup"}));
	state_pairs_free(&set);

	cr_assert_eq(state_pairs_find_key(st, b, "nothing", &set, &err), 0);
	cr_assert_eq(set.count, 0);
	state_pairs_free(&set);
	free(key);
	state_close(st);
}

Test(state_pair, content_key_format_and_bounds)
{
	char *k = state_content_key("  <abc@example.com>\r\n", 1234, "deadbeef");
	char *long_id = malloc(5000);
	char *no_id, *cut;

	cr_assert_str_eq(k, "1234 deadbeef <abc@example.com>");
	free(k);
	no_id = state_content_key(NULL, 7, NULL);
	cr_assert_str_eq(no_id, "7 - ");
	free(no_id);
	k = state_content_key("<a\tb\x01@x>", 1, "h");
	cr_assert_str_eq(k, "1 h <a?b?@x>", "control characters cannot reach the database");
	free(k);

	memset(long_id, 'y', 4999);
	long_id[4999] = '\0';
	cut = state_content_key(long_id, 1, "h");
	cr_assert_eq(strlen(cut), STATE_CONTENT_KEY_MAX);
	cr_assert_eq(strncmp(cut, "1 h yyy", 7), 0);
	free(cut);
	free(long_id);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Prints the times; asserts only what was stored. */
Test(state_pair, hundred_thousand_pairs_insert_and_load)
{
	enum { N = 100000 };
	struct state *st = state_test_open("work.db");
	int64_t folder = state_test_folder(st, "INBOX", "INBOX");
	struct state_pairs set;
	struct timespec t0;
	struct error err;
	char local[64], key[128];
	double insert_s, load_s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(state_begin(st, &err), 0);
	/* Inserted in an order that is not uid order. */
	for (uint32_t i = 0; i < N; i++) {
		uint32_t uid = (i * 7919u) % N + 1;
		struct state_pair p = {.folder_id = folder,
		                       .side = {{uid, NULL}, {0, local}},
		                       .content_key = key,
		                       .flags = uid & MAIL_FLAGS_ALL,
		                       .size = 1000 + uid};
		snprintf(local, sizeof(local), "1732243879.M%uP4242Q%u.host.example.com", uid, i);
		snprintf(key, sizeof(key), "%u 0123456789abcdef0123456789abcdef <%u@example.com>", 1000 + uid,
		         uid);
		cr_assert_eq(state_pair_insert(st, &p, &err), 0, "%s", err.text);
	}
	cr_assert_eq(state_commit_durable(st, &err), 0, "%s", err.text);
	insert_s = seconds_since(&t0);
	state_close(st);

	st = state_test_open("work.db");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(state_pairs_load(st, folder, &set, &err), 0, "%s", err.text);
	load_s = seconds_since(&t0);
	fprintf(stderr, "state: %d pairs: insert %.3f s (one transaction), load %.3f s\n", N, insert_s,
	        load_s);

	cr_assert_eq(set.count, N);
	for (size_t i = 0; i < set.count; i++)
		cr_assert_eq(set.pairs[i].side[SIDE_A].uid, i + 1, "sorted by uid");
	cr_assert_eq(set.pairs[41].size, 1042);
	cr_assert_eq(set.pairs[41].flags, 42u & MAIL_FLAGS_ALL);
	for (uint32_t uid = 1; uid <= N; uid += 997) {
		const struct state_pair *p = state_pairs_find(&set, SIDE_A, (struct store_id){uid, NULL});
		cr_assert_not_null(p);
		cr_assert_eq(state_pairs_find(&set, SIDE_B, (struct store_id){0, p->side[SIDE_B].name}), p);
	}
	state_pairs_free(&set);
	state_close(st);
}
