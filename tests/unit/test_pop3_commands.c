/*
 * The POP3 maildrop commands against a scripted server: STAT, LIST,
 * UIDL and its sanity rules, DELE, RSET, NOOP, QUIT.
 */
#include "test_pop3_support.h"

TestSuite(pop3_commands, .fini = stop_client);

Test(pop3_commands, stat)
{
	uint32_t count;
	uint64_t size;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "STAT\r\n");
	script_send(sc, "+OK 2 320\r\n");
	cr_assert_eq(pop3_stat(pc, &count, &size, &err), 0, "%s", err.text);
	cr_assert_eq(count, 2);
	cr_assert_eq(size, 320);
	assert_played();
}

Test(pop3_commands, stat_garbage_ends_the_session)
{
	uint32_t count;
	uint64_t size;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "STAT\r\n");
	script_send(sc, "+OK lots\r\n");
	cr_assert_eq(pop3_stat(pc, &count, &size, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "answered STAT with \"+OK lots\""), "%s", err.text);
	cr_assert_eq(pop3_client_state(pc), POP3_STATE_DONE);
}

Test(pop3_commands, stat_count_is_bounded)
{
	struct pop3_options o = test_options();
	uint32_t count;
	uint64_t size;

	o.user = NULL;
	o.max_messages = 100;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "-ERR\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	script_expect(sc, "STAT\r\n");
	script_send(sc, "+OK 101 5000\r\n");
	cr_assert_eq(pop3_stat(pc, &count, &size, &err), -1);
	cr_assert(strstr(err.text, "within bounds"), "%s", err.text);
}

Test(pop3_commands, list)
{
	struct pop3_list_entry *list;
	size_t n;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK 3 messages:\r\n1 120\r\n2 200\r\n4 5\r\n.\r\n");
	cr_assert_eq(pop3_list(pc, &list, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 3);
	cr_assert_eq(list[0].msgno, 1);
	cr_assert_eq(list[0].size, 120);
	cr_assert_eq(list[1].msgno, 2);
	cr_assert_eq(list[2].msgno, 4);
	cr_assert_eq(list[2].size, 5);
	free(list);
	assert_played();
}

Test(pop3_commands, empty_list)
{
	struct pop3_list_entry *list = (void *)1;
	size_t n = 99;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK 0 messages:\r\n.\r\n");
	cr_assert_eq(pop3_list(pc, &list, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 0);
	cr_assert_null(list);
}

static void list_refused(const char *body, const char *needle)
{
	struct pop3_list_entry *list;
	size_t n;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "LIST\r\n");
	script_sendf(sc, "+OK\r\n%s.\r\n", body);
	cr_assert_eq(pop3_list(pc, &list, &n, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, needle), "%s", err.text);
	cr_assert_null(list);
	stop_client();
}

Test(pop3_commands, malformed_lists_are_refused)
{
	list_refused("0 120\r\n", "\"0 120\"");
	list_refused("2 10\r\n1 10\r\n", "\"1 10\"");     /* not increasing */
	list_refused("1 10\r\n1 10\r\n", "\"1 10\"");     /* duplicate number */
	list_refused("1 x\r\n", "\"1 x\"");               /* no size */
	list_refused("1000001 10\r\n", "\"1000001 10\""); /* beyond max_messages */
	list_refused("1 99999999999999999999\r\n", "within bounds");
}

Test(pop3_commands, uidl)
{
	struct pop3_uidl_entry *list;
	size_t n;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "UIDL\r\n");
	script_send(sc, "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n");
	cr_assert_eq(pop3_uidl(pc, &list, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 2);
	cr_assert_eq(list[0].msgno, 1);
	cr_assert_str_eq(list[0].uidl, "whqtswO00WBw418f9t5JxYwZ");
	cr_assert_str_eq(list[1].uidl, "QhdPYR:00WBw1Ph7x7");
	cr_assert_null(list[0].invalid);
	cr_assert(!list[0].duplicate && !list[1].duplicate);
	cr_assert_eq(pop3_uidl_check(list, n, &err), 0, "%s", err.text);
	free(list);
	assert_played();
}

Test(pop3_commands, bad_uidl_values_are_refused_and_named)
{
	struct pop3_uidl_entry *list;
	char long_uidl[201];
	size_t n;

	memset(long_uidl, 'u', 200);
	long_uidl[200] = '\0';
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "UIDL\r\n");
	script_sendf(
	    sc, "+OK\r\n1 good\r\n2 a/b\r\n3 ..\r\n4 %s\r\n5 has space\r\n6 caf\xc3\xa9\r\n7 %.70s\r\n.\r\n",
	    long_uidl, long_uidl);
	cr_assert_eq(pop3_uidl(pc, &list, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 7);
	cr_assert_null(list[0].invalid);
	cr_assert_null(list[1].invalid, "'/' is allowed: a UIDL never becomes a path");
	cr_assert_str_eq(list[1].uidl, "a/b");
	cr_assert(list[2].invalid && strstr(list[2].invalid, "dots only"));
	cr_assert(list[3].invalid && strstr(list[3].invalid, "longer than 70 characters"));
	cr_assert(list[4].invalid && strstr(list[4].invalid, "outside 0x21-0x7E"));
	cr_assert(list[5].invalid && strstr(list[5].invalid, "outside 0x21-0x7E"));
	cr_assert_null(list[6].invalid, "70 bytes are allowed");
	cr_assert_eq(pop3_uidl_check(list, n, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "message 3 the UIDL \"..\""), "%s", err.text);
	cr_assert(strstr(err.text, "and more messages"), "%s", err.text);
	free(list);
	/* The session goes on: bad values are data, not a broken stream. */
	script_expect(sc, "NOOP\r\n");
	script_send(sc, "+OK\r\n");
	cr_assert_eq(pop3_noop(pc, &err), 0, "%s", err.text);
}

Test(pop3_commands, duplicate_uidls_are_detected)
{
	struct pop3_uidl_entry *list;
	size_t n;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "UIDL\r\n");
	script_send(sc, "+OK\r\n1 aaa\r\n2 bbb\r\n3 aaa\r\n4 ccc\r\n.\r\n");
	cr_assert_eq(pop3_uidl(pc, &list, &n, &err), 0, "%s", err.text);
	cr_assert(list[0].duplicate && list[2].duplicate);
	cr_assert(!list[1].duplicate && !list[3].duplicate);
	cr_assert_eq(pop3_uidl_check(list, n, &err), -1);
	cr_assert(strstr(err.text, "messages 1 and 3 the same UIDL \"aaa\""), "%s", err.text);
	free(list);
}

Test(pop3_commands, server_without_uidl)
{
	struct pop3_uidl_entry *list;
	size_t n;

	login_with_capa("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n");
	cr_assert_eq(pop3_require_uidl(pc, &err), -1);
	cr_assert(strstr(err.text, "leave_on_server"), "%s", err.text);
	script_expect(sc, "UIDL\r\n");
	script_send(sc, "-ERR Unknown command: UIDL\r\n");
	cr_assert_eq(pop3_uidl(pc, &list, &n, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "does not support UIDL"), "%s", err.text);
	cr_assert(strstr(err.text, "delete_after_download"), "%s", err.text);
	assert_played();
}

Test(pop3_commands, require_uidl_passes_when_offered)
{
	login_with_capa(CAPA_BASIC);
	cr_assert_eq(pop3_require_uidl(pc, &err), 0, "%s", err.text);
}

Test(pop3_commands, dele_rset_noop)
{
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "DELE 1\r\n");
	script_send(sc, "+OK Marked to be deleted.\r\n");
	script_expect(sc, "DELE 9\r\n");
	script_send(sc, "-ERR There's no message 9.\r\n");
	script_expect(sc, "RSET\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "NOOP\r\n");
	script_send(sc, "+OK\r\n");
	cr_assert_eq(pop3_dele(pc, 1, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_dele(pc, 9, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert(strstr(err.text, "message 9"), "%s", err.text);
	cr_assert_eq(pop3_rset(pc, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_noop(pc, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_dele(pc, 0, &err), -1, "message 0 does not exist");
	assert_played();
}

Test(pop3_commands, quit_ok_means_deleted)
{
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "QUIT\r\n");
	script_send(sc, "+OK Logging out, messages deleted.\r\n");
	cr_assert_eq(pop3_quit(pc, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_client_state(pc), POP3_STATE_DONE);
	cr_assert_eq(pop3_noop(pc, &err), -1);
	cr_assert(strstr(err.text, "already ended"), "%s", err.text);
	assert_played();
}

Test(pop3_commands, quit_err_means_not_deleted)
{
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "QUIT\r\n");
	script_send(sc, "-ERR [SYS/TEMP] Couldn't expunge\r\n");
	cr_assert_eq(pop3_quit(pc, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "still on the server"), "%s", err.text);
}

Test(pop3_commands, quit_without_reply_is_unknown)
{
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "QUIT\r\n");
	script_close(sc);
	cr_assert_eq(pop3_quit(pc, &err), -1);
	cr_assert(strstr(err.text, "before the server confirmed QUIT"), "%s", err.text);
	cr_assert(strstr(err.text, "unknown"), "%s", err.text);
}

Test(pop3_commands, connection_loss_fails_every_later_call)
{
	uint32_t count;
	uint64_t size;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "STAT\r\n");
	script_close(sc);
	cr_assert_eq(pop3_stat(pc, &count, &size, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "closed"), "%s", err.text);
	cr_assert_eq(pop3_noop(pc, &err), -1);
	cr_assert(strstr(err.text, "closed"), "%s", err.text);
	cr_assert_eq(pop3_quit(pc, &err), -1);
	cr_assert_null(strstr(err.text, "unknown"), "nothing was marked in a lost session: %s", err.text);
}

Test(pop3_commands, extra_reply_lines_are_never_taken_for_the_next_reply)
{
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "NOOP\r\n");
	script_send(sc, "+OK\r\n+OK 1 message deleted\r\n");
	cr_assert_eq(pop3_noop(pc, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_dele(pc, 1, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "without being asked"), "%s", err.text);
	assert_played(); /* DELE never went out */
}
