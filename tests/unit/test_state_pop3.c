#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "test_state.h"
#include "twinbox/state/pop3.h"

TestSuite(state_pop3, .init = state_test_setup, .fini = state_test_teardown);

Test(state_pop3, record_load_and_find)
{
	struct state *st = state_test_open("work.db");
	const struct state_pop3_msg *m;
	struct state_pop3_set set;
	struct error err;

	cr_assert_eq(state_pop3_record(st, "zzz-3", "1732243879.M3.host", 1700000003, &err), 0, "%s",
	             err.text);
	cr_assert_eq(state_pop3_record(st, "AAA-1", "1732243879.M1.host", 1700000001, &err), 0);
	cr_assert_eq(state_pop3_record(st, "mmm-2", NULL, 1700000002, &err), 0);
	state_close(st);

	st = state_test_open("work.db");
	cr_assert_eq(state_pop3_load(st, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 3);
	cr_assert_str_eq(set.msgs[0].uidl, "AAA-1", "byte order");
	cr_assert_str_eq(set.msgs[2].uidl, "zzz-3");
	m = state_pop3_set_find(&set, "zzz-3");
	cr_assert_not_null(m);
	cr_assert_str_eq(m->local_id, "1732243879.M3.host");
	cr_assert_eq(m->downloaded, 1700000003);
	cr_assert_not(m->deleted);
	m = state_pop3_set_find(&set, "mmm-2");
	cr_assert_not_null(m);
	cr_assert_null(m->local_id);
	cr_assert_null(state_pop3_set_find(&set, "aaa-1"), "UIDLs are case-sensitive");
	cr_assert_null(state_pop3_set_find(&set, "nope"));
	state_pop3_set_free(&set);
	state_close(st);
}

Test(state_pop3, deleted_flag_and_forget)
{
	struct state *st = state_test_open("work.db");
	struct state_pop3_set set;
	struct error err;

	cr_assert_eq(state_pop3_record(st, "u1", "f1", 1, &err), 0);
	cr_assert_eq(state_pop3_set_deleted(st, "u1", &err), 0, "%s", err.text);
	cr_assert_eq(state_pop3_load(st, &set, &err), 0);
	cr_assert(state_pop3_set_find(&set, "u1")->deleted);
	state_pop3_set_free(&set);

	cr_assert_eq(state_pop3_set_deleted(st, "never-seen", &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(state_pop3_forget(st, "u1", &err), 1);
	cr_assert_eq(state_pop3_forget(st, "u1", &err), 0, "already forgotten");
	cr_assert_eq(state_pop3_load(st, &set, &err), 0);
	cr_assert_eq(set.count, 0);
	state_pop3_set_free(&set);
	state_close(st);
}

Test(state_pop3, bad_uidls_are_refused)
{
	struct state *st = state_test_open("work.db");
	char long_uidl[STATE_UIDL_MAX + 2];
	struct error err;

	memset(long_uidl, 'u', sizeof(long_uidl) - 1);
	long_uidl[sizeof(long_uidl) - 1] = '\0';
	cr_assert_eq(state_pop3_record(st, "", NULL, 1, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert_eq(state_pop3_record(st, "has space", NULL, 1, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert_eq(state_pop3_record(st, "ctl\r\n", NULL, 1, &err), -1);
	cr_assert_eq(state_pop3_record(st, long_uidl, NULL, 1, &err), -1);
	cr_assert(strstr(err.text, "longer than"), "%s", err.text);
	long_uidl[STATE_UIDL_MAX] = '\0';
	cr_assert_eq(state_pop3_record(st, long_uidl, NULL, 1, &err), 0, "the bound itself is fine");

	cr_assert_eq(state_pop3_record(st, "dup", NULL, 1, &err), 0);
	cr_assert_eq(state_pop3_record(st, "dup", NULL, 2, &err), -1, "downloaded twice means a bug");
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "dup"), "%s", err.text);
	state_close(st);
}
