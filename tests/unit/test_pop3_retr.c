/*
 * RETR and TOP against a scripted server: streaming with dot-unstuffing
 * byte at a time, refusals, cut messages, the size cap, pipelining.
 */
#include "test_pop3_support.h"

TestSuite(pop3_retr, .fini = stop_client);

static struct got g;

Test(pop3_retr, retr_streams_unstuffed_content_byte_at_a_time)
{
	struct pop3_sink sink = got_sink(&g);
	const char *want = "Subject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nend.\r\n";

	login_with_capa(CAPA_BASIC);
	script_set_chunk(sc, 1);
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK 48 octets\r\nSubject: dots\r\n\r\n..\r\n...two\r\n..leading\r\nend.\r\n.\r\n");
	cr_assert_eq(pop3_retr(pc, 1, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(g.content.len, strlen(want));
	cr_assert_str_eq(buf_cstr(&g.content), want);
	cr_assert_eq(g.begins, 1);
	cr_assert_eq(g.ends, 1);
	cr_assert_eq(g.fails, 0);
	cr_assert_eq(g.size, 48, "the +OK octet count is the size hint without LIST");
	cr_assert(strstr(trace.data, "S: {43 bytes}"), "%s", trace.data);
	cr_assert_null(strstr(trace.data, "leading"), "content stays out of the trace: %s", trace.data);
	assert_played();
}

Test(pop3_retr, begin_gets_the_list_size)
{
	struct pop3_sink sink = got_sink(&g);
	struct pop3_list_entry *list;
	size_t n;

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK\r\n1 7\r\n.\r\n");
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK message follows\r\nhi\r\n\r\n.\r\n");
	cr_assert_eq(pop3_list(pc, &list, &n, &err), 0, "%s", err.text);
	free(list);
	cr_assert_eq(pop3_retr(pc, 1, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(g.size, 7);
	cr_assert_str_eq(buf_cstr(&g.content), "hi\r\n\r\n");
}

Test(pop3_retr, no_such_message_is_a_message_error)
{
	struct pop3_sink sink = got_sink(&g);

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "RETR 3\r\n");
	script_send(sc, "-ERR Message no longer exists\r\n");
	script_expect(sc, "NOOP\r\n");
	script_send(sc, "+OK\r\n");
	cr_assert_eq(pop3_retr(pc, 3, &sink, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert(strstr(err.text, "refused RETR 3"), "%s", err.text);
	cr_assert(strstr(err.text, "no longer exists"), "%s", err.text);
	cr_assert_eq(g.begins, 0);
	cr_assert_eq(g.fails, 1);
	cr_assert_eq(pop3_noop(pc, &err), 0, "the session goes on: %s", err.text);
	assert_played();
}

Test(pop3_retr, retr_cut_before_the_final_dot_is_never_complete)
{
	struct pop3_sink sink = got_sink(&g);

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\nSubject: cut\r\n\r\nfirst half\r\n");
	script_close(sc);
	cr_assert_eq(pop3_retr(pc, 1, &sink, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "RETR 1 broke off after 28 bytes, nothing of it is kept: pop.test:110 "
	                           "closed the connection in the middle of a POP3 reply"),
	          "%s", err.text);
	cr_assert_eq(g.begins, 1);
	cr_assert_eq(g.ends, 0, "a cut message never reaches end()");
	cr_assert_eq(g.fails, 1);
	cr_assert_eq(pop3_client_state(pc), POP3_STATE_DONE);
}

Test(pop3_retr, retr_cut_after_a_lone_dot_without_line_end)
{
	struct pop3_sink sink = got_sink(&g);

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\nbody\r\n.");
	script_close(sc);
	cr_assert_eq(pop3_retr(pc, 1, &sink, &err), -1);
	cr_assert_eq(g.ends, 0);
	cr_assert_eq(g.fails, 1);
}

Test(pop3_retr, message_over_the_cap_by_list_is_not_fetched)
{
	struct pop3_options o = test_options();
	struct pop3_sink sink = got_sink(&g);
	struct pop3_list_entry *list;
	size_t n;

	o.max_message_size = 100;
	o.mechs[0] = POP3_MECH_USER;
	o.mech_count = 1;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "-ERR\r\n");
	script_expect(sc, "USER tbuser\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "PASS secret\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "-ERR\r\n");
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK\r\n1 50\r\n2 5000\r\n.\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_list(pc, &list, &n, &err), 0, "%s", err.text);
	free(list);
	cr_assert_eq(pop3_retr(pc, 2, &sink, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert(
	    strstr(err.text, "message 2 on pop.test:110 is 5000 bytes, more than the size limit of 100"),
	    "%s", err.text);
	cr_assert_eq(g.begins, 0);
	cr_assert_eq(g.fails, 1);
	assert_played(); /* no RETR went out */
}

Test(pop3_retr, message_over_the_cap_while_streaming_is_dropped)
{
	struct pop3_options o = test_options();
	struct pop3_sink sink = got_sink(&g);

	o.max_message_size = 10;
	o.user = NULL;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, "-ERR\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\n0123456789\r\nmore\r\n.\r\n");
	script_expect(sc, "NOOP\r\n");
	script_send(sc, "+OK\r\n");
	cr_assert_eq(pop3_retr(pc, 1, &sink, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert(strstr(err.text, "larger than the size limit of 10 bytes"), "%s", err.text);
	cr_assert_eq(g.ends, 0);
	cr_assert_eq(g.fails, 1);
	cr_assert_leq(g.content.len, 10, "nothing beyond the cap reached the sink");
	cr_assert_eq(pop3_noop(pc, &err), 0, "the rest was read, the session goes on: %s", err.text);
	assert_played();
}

Test(pop3_retr, top_gives_the_headers)
{
	struct pop3_sink sink = got_sink(&g);

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "TOP 2 0\r\n");
	script_send(sc, "+OK\r\nFrom: a@b\r\nSubject: s\r\n\r\n.\r\n");
	cr_assert_eq(pop3_top(pc, 2, 0, &sink, &err), 0, "%s", err.text);
	cr_assert_str_eq(buf_cstr(&g.content), "From: a@b\r\nSubject: s\r\n\r\n");
	cr_assert_eq(g.ends, 1);
	cr_assert_eq(g.msgnos[0], 2);
}

Test(pop3_retr, sink_error_keeps_the_session_in_step)
{
	struct pop3_sink sink = got_sink(&g);

	g.fail_on = 1;
	g.fail_scope = ERR_MESSAGE;
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\nabc\r\n.\r\n");
	script_expect(sc, "RETR 2\r\n");
	script_send(sc, "+OK\r\nxyz\r\n.\r\n");
	cr_assert_eq(pop3_retr(pc, 1, &sink, &err), -1);
	cr_assert(strstr(err.text, "disk full"), "%s", err.text);
	cr_assert_eq(g.fails, 1);
	cr_assert_eq(pop3_retr(pc, 2, &sink, &err), 0, "%s", err.text);
	cr_assert_str_eq(buf_cstr(&g.content), "xyz\r\n");
	assert_played();
}

Test(pop3_retr, retr_many_is_pipelined_when_offered)
{
	struct pop3_sink sink = got_sink(&g);
	uint32_t msgnos[] = {1, 2, 3};

	login_with_capa(CAPA_PIPE);
	/* All three commands go out before any reply is read. */
	script_expect(sc, "RETR 1\r\nRETR 2\r\nRETR 3\r\n");
	script_send(sc, "+OK\r\none\r\n.\r\n-ERR no such message\r\n+OK\r\nthree\r\n.\r\n");
	cr_assert_eq(pop3_retr_many(pc, msgnos, 3, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(g.ends, 2);
	cr_assert_eq(g.msgnos[0], 1);
	cr_assert_eq(g.msgnos[1], 3);
	cr_assert_eq(g.fails, 1);
	cr_assert_eq(g.failed_msgnos[0], 2);
	cr_assert_eq(g.failed_scope, ERR_MESSAGE);
	cr_assert_str_eq(buf_cstr(&g.content), "one\r\nthree\r\n");
	assert_played();
}

Test(pop3_retr, retr_many_is_sequential_without_pipelining)
{
	struct pop3_sink sink = got_sink(&g);
	uint32_t msgnos[] = {1, 2};

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\none\r\n.\r\n");
	script_expect(sc, "RETR 2\r\n");
	script_send(sc, "+OK\r\ntwo\r\n.\r\n");
	cr_assert_eq(pop3_retr_many(pc, msgnos, 2, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(g.ends, 2);
	assert_played();
}

Test(pop3_retr, retr_many_stops_at_a_fatal_sink_error_but_stays_in_step)
{
	struct pop3_sink sink = got_sink(&g);
	uint32_t msgnos[] = {1, 2, 3};

	g.fail_on = 2;
	g.fail_scope = ERR_FATAL;
	login_with_capa(CAPA_PIPE);
	script_expect(sc, "RETR 1\r\nRETR 2\r\nRETR 3\r\n");
	script_send(sc, "+OK\r\none\r\n.\r\n+OK\r\ntwo\r\n.\r\n+OK\r\nthree\r\n.\r\n");
	script_expect(sc, "NOOP\r\n");
	script_send(sc, "+OK\r\n");
	cr_assert_eq(pop3_retr_many(pc, msgnos, 3, &sink, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "disk full"), "%s", err.text);
	cr_assert_eq(g.ends, 1, "message 3 is not delivered after the stop");
	cr_assert_eq(pop3_noop(pc, &err), 0, "%s", err.text);
	assert_played();
}

Test(pop3_retr, retr_many_skips_messages_over_the_cap_without_asking)
{
	struct pop3_options o = test_options();
	struct pop3_sink sink = got_sink(&g);
	struct pop3_list_entry *list;
	uint32_t msgnos[] = {1, 2, 3};
	size_t n;

	o.max_message_size = 100;
	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_PIPE);
	script_expect(sc, "AUTH PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "+OK\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, CAPA_PIPE);
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK\r\n1 5\r\n2 500\r\n3 5\r\n.\r\n");
	script_expect(sc, "RETR 1\r\nRETR 3\r\n");
	script_send(sc, "+OK\r\none\r\n.\r\n+OK\r\nthr\r\n.\r\n");
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_list(pc, &list, &n, &err), 0, "%s", err.text);
	free(list);
	cr_assert_eq(pop3_retr_many(pc, msgnos, 3, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(g.ends, 2);
	cr_assert_eq(g.fails, 1);
	cr_assert_eq(g.failed_msgnos[0], 2);
	cr_assert(strstr(g.failed_text, "size limit"), "%s", g.failed_text);
	assert_played();
}

/* With PIPELINING, the first 128 RETRs go out at once, then one more as
 * each answer ends: never more than 128 in flight. */
Test(pop3_retr, many_pipelined_messages_use_a_bounded_window)
{
	enum { WINDOW = 128, N = WINDOW + 8 };
	struct pop3_sink sink = got_sink(&g);
	uint32_t msgnos[N];
	struct buf first = BUF_INIT;

	for (uint32_t i = 0; i < N; i++)
		msgnos[i] = i + 1;
	login_with_capa(CAPA_PIPE);
	for (uint32_t i = 1; i <= WINDOW; i++)
		buf_printf(&first, "RETR %u\r\n", i);
	script_expect(sc, buf_cstr(&first));
	for (uint32_t i = 1; i <= N; i++) {
		script_sendf(sc, "+OK\r\nm%u\r\n.\r\n", i);
		if (i <= N - WINDOW)
			script_expectf(sc, "RETR %u\r\n", WINDOW + i);
	}
	cr_assert_eq(pop3_retr_many(pc, msgnos, N, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(g.ends, N);
	buf_free(&first);
	assert_played();
}

Test(pop3_retr, a_200_mb_message_streams_in_flat_memory)
{
	/* Not through a script (it would hold the bytes): the parser is fed
	 * a repeating block, as a socket would deliver it. */
	struct pop3_parser *p = pop3_parser_new(NULL);
	static char block[64 * 1024];
	uint64_t total = 200ull * 1024 * 1024, fed = 0, got = 0;
	struct pop3_event ev;
	int r;

	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (i % 64 == 62) ? '\r' : (i % 64 == 63) ? '\n' : (i % 64 == 0) ? '.' : 'x';
	pop3_parser_expect(p, POP3_REPLY_DATA);
	pop3_parser_feed(p, "+OK\r\n", 5);
	cr_assert_eq(pop3_parser_next(p, &ev, &err), 1);
	while (fed < total) {
		pop3_parser_feed(p, block, sizeof(block));
		fed += sizeof(block);
		while ((r = pop3_parser_next(p, &ev, &err)) == 1)
			got += ev.len;
		cr_assert_eq(r, 0, "%s", err.text);
	}
	pop3_parser_feed(p, ".\r\n", 3);
	cr_assert_eq(pop3_parser_next(p, &ev, &err), 1);
	cr_assert_eq(ev.type, POP3_EV_END);
	/* Every line starts with a stuffing dot that is removed. */
	cr_assert_eq(got, total - total / 64);
	pop3_parser_free(p);
}

/* A server that stalls in the middle of a message did not answer; it
 * did not cut the message short. */
Test(pop3_retr, retr_stalled_says_the_server_did_not_answer)
{
	struct pop3_sink sink = got_sink(&g);

	login_with_capa(CAPA_BASIC);
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\nSubject: slow\r\n\r\nfirst half\r\n");
	script_fail(sc,
	            "pop.test:110 did not answer within 30 s; if the server is just slow, raise `timeout:`");
	cr_assert_eq(pop3_retr(pc, 1, &sink, &err), -1);
	cr_assert(strstr(err.text, "RETR 1 broke off after 29 bytes, nothing of it is kept: pop.test:110 did "
	                           "not answer within 30 s"),
	          "%s", err.text);
	cr_assert_null(strstr(err.text, "cut short"), "%s", err.text);
	cr_assert_eq(g.ends, 0);
	cr_assert_eq(g.fails, 1);
}
