/*
 * The POP3 reply parser on its own: every reply kind, response codes,
 * dot-unstuffing, limits, and every input fed whole and one byte at a
 * time (and in other splits) with the same result.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/pop3/reply.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* Feed `in` in pieces of `chunk` bytes (0 = whole) to a parser that
 * expects `kinds` one after the other, and describe the events:
 * "STATUS+ [code] text", "STATUS- ...", "CONT text", "LINE text",
 * "DATA <all consecutive chunks joined>", "END". Returns -1 on a parser
 * error (err filled), else 0; *out_r gets the description. */
static int run(const enum pop3_reply_kind *kinds, size_t nkinds, const char *in, size_t len, size_t chunk,
               const struct pop3_parser_limits *limits, char **out_r, struct error *err)
{
	struct pop3_parser *p = pop3_parser_new(limits);
	struct buf out = BUF_INIT;
	size_t k = 0, pos = 0;
	bool in_data = false;
	int rc = 0;

	pop3_parser_expect(p, kinds[k++]);
	while (pos < len && rc == 0) {
		size_t n = chunk && chunk < len - pos ? chunk : len - pos;
		/* A copy per piece: events must not point into old pieces. */
		char *piece = xmalloc(n);
		struct pop3_event ev;
		int r;
		memcpy(piece, in + pos, n);
		pos += n;
		pop3_parser_feed(p, piece, n);
		while ((r = pop3_parser_next(p, &ev, err)) == 1) {
			if (ev.type != POP3_EV_DATA && in_data) {
				buf_append_str(&out, "|");
				in_data = false;
			}
			switch (ev.type) {
			case POP3_EV_STATUS:
				buf_printf(&out, "STATUS%c %s%s%s%s|", ev.ok ? '+' : '-',
				           ev.code_name[0] ? "[" : "", ev.code_name,
				           ev.code_name[0] ? "] " : "", ev.text);
				break;
			case POP3_EV_CONTINUE:
				buf_printf(&out, "CONT %s|", ev.text);
				break;
			case POP3_EV_LINE:
				cr_assert_eq(ev.len, strlen(ev.text));
				buf_printf(&out, "LINE %s|", ev.text);
				break;
			case POP3_EV_DATA:
				cr_assert_gt(ev.len, 0, "no empty DATA chunks");
				if (!in_data)
					buf_append_str(&out, "DATA ");
				in_data = true;
				buf_append(&out, ev.data, ev.len);
				break;
			case POP3_EV_END:
				buf_append_str(&out, "END|");
				break;
			}
			if (ev.last && k < nkinds)
				pop3_parser_expect(p, kinds[k++]);
		}
		free(piece);
		if (r < 0)
			rc = -1;
	}
	if (in_data)
		buf_append_str(&out, "|");
	if (rc == 0 && !pop3_parser_idle(p))
		buf_append_str(&out, "(incomplete)");
	pop3_parser_free(p);
	*out_r = buf_detach(&out, NULL);
	return rc;
}

/* The same result for every split: whole, 1, 2, 3, 7 bytes. */
static void expect_events(const enum pop3_reply_kind *kinds, size_t nkinds, const char *in, size_t len,
                          const char *want)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct error err;
		char *got;
		cr_assert_eq(run(kinds, nkinds, in, len, chunks[i], NULL, &got, &err), 0, "chunk %zu: %s",
		             chunks[i], err.text);
		cr_assert_str_eq(got, want, "chunk %zu", chunks[i]);
		free(got);
	}
}

#define ONE(kind, in, want)                                                                                  \
	do {                                                                                                 \
		enum pop3_reply_kind k_[] = {kind};                                                          \
		expect_events(k_, 1, in, strlen(in), want);                                                  \
	} while (0)

static void expect_error(enum pop3_reply_kind kind, const char *in, size_t len,
                         const struct pop3_parser_limits *limits, const char *needle)
{
	static const size_t chunks[] = {0, 1};

	for (size_t i = 0; i < 2; i++) {
		struct error err;
		char *got;
		error_clear(&err);
		cr_assert_eq(run(&kind, 1, in, len, chunks[i], limits, &got, &err), -1,
		             "chunk %zu: parsed as %s", chunks[i], got);
		cr_assert_eq(err.scope, ERR_ACCOUNT);
		cr_assert(strstr(err.text, needle), "chunk %zu: %s", chunks[i], err.text);
		free(got);
	}
}

TestSuite(pop3_reply);

Test(pop3_reply, status_ok_and_err)
{
	ONE(POP3_REPLY_STATUS, "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n",
	    "STATUS+ POP3 ready <1896.697170952@dbc.mtview.ca.us>|");
	ONE(POP3_REPLY_STATUS, "-ERR no such message\r\n", "STATUS- no such message|");
	ONE(POP3_REPLY_STATUS, "+OK\r\n", "STATUS+ |");
	ONE(POP3_REPLY_STATUS, "-ERR\r\n", "STATUS- |");
}

Test(pop3_reply, response_codes)
{
	ONE(POP3_REPLY_STATUS, "-ERR [IN-USE] Mailbox locked\r\n", "STATUS- [IN-USE] Mailbox locked|");
	ONE(POP3_REPLY_STATUS, "-ERR [SYS/TEMP] try later\r\n", "STATUS- [SYS/TEMP] try later|");
	ONE(POP3_REPLY_STATUS, "-ERR [SYS/PERM] gone\r\n", "STATUS- [SYS/PERM] gone|");
	ONE(POP3_REPLY_STATUS, "-ERR [AUTH] Authentication failed.\r\n",
	    "STATUS- [AUTH] Authentication failed.|");
	ONE(POP3_REPLY_STATUS, "-ERR [LOGIN-DELAY] wait\r\n", "STATUS- [LOGIN-DELAY] wait|");
	/* Not codes: no closing bracket, a space inside, empty. */
	ONE(POP3_REPLY_STATUS, "-ERR [oops\r\n", "STATUS- [oops|");
	ONE(POP3_REPLY_STATUS, "-ERR [a b] x\r\n", "STATUS- [a b] x|");
	ONE(POP3_REPLY_STATUS, "-ERR [] x\r\n", "STATUS- [] x|");
}

Test(pop3_reply, code_types)
{
	static const struct {
		const char *line;
		enum pop3_code code;
	} cases[] = {
	    {"-ERR [IN-USE] x\r\n", POP3_CODE_IN_USE},
	    {"-ERR [login-delay] x\r\n", POP3_CODE_LOGIN_DELAY},
	    {"-ERR [SYS/TEMP] x\r\n", POP3_CODE_SYS_TEMP},
	    {"-ERR [SYS/PERM] x\r\n", POP3_CODE_SYS_PERM},
	    {"-ERR [AUTH] x\r\n", POP3_CODE_AUTH},
	    {"-ERR [UTF8] x\r\n", POP3_CODE_OTHER},
	    {"-ERR x\r\n", POP3_CODE_NONE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pop3_parser *p = pop3_parser_new(NULL);
		struct pop3_event ev;
		struct error err;
		pop3_parser_expect(p, POP3_REPLY_STATUS);
		pop3_parser_feed(p, cases[i].line, strlen(cases[i].line));
		cr_assert_eq(pop3_parser_next(p, &ev, &err), 1);
		cr_assert_eq(ev.code, cases[i].code, "%s", cases[i].line);
		cr_assert(ev.last);
		cr_assert_str_eq(ev.text, "x");
		pop3_parser_free(p);
	}
}

Test(pop3_reply, multi_line_list)
{
	ONE(POP3_REPLY_LINES, "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n",
	    "STATUS+ 2 messages|LINE 1 120|LINE 2 200|END|");
	ONE(POP3_REPLY_LINES, "+OK\r\n.\r\n", "STATUS+ |END|");
	/* -ERR ends a multi-line reply at once. */
	ONE(POP3_REPLY_LINES, "-ERR no CAPA\r\n", "STATUS- no CAPA|");
	/* Stuffed lines lose their first dot. */
	ONE(POP3_REPLY_LINES, "+OK\r\n..odd\r\n...\r\n.\r\n", "STATUS+ |LINE .odd|LINE ..|END|");
}

Test(pop3_reply, data_is_unstuffed_and_keeps_crlf)
{
	ONE(POP3_REPLY_DATA, "+OK 12 octets\r\nSubject: x\r\n\r\nbody\r\n.\r\n",
	    "STATUS+ 12 octets|DATA Subject: x\r\n\r\nbody\r\n|END|");
	ONE(POP3_REPLY_DATA, "+OK\r\n..\r\n..leading\r\nmid.dle\r\n...two\r\n.\r\n",
	    "STATUS+ |DATA .\r\n.leading\r\nmid.dle\r\n..two\r\n|END|");
	/* An empty message. */
	ONE(POP3_REPLY_DATA, "+OK\r\n.\r\n", "STATUS+ |END|");
	/* A line of "." + CR + text stays "\r" + text. */
	ONE(POP3_REPLY_DATA, "+OK\r\n.\rx\r\n.\r\n", "STATUS+ |DATA \rx\r\n|END|");
	/* Bare LF line ends (some servers). */
	ONE(POP3_REPLY_DATA, "+OK\na\n..b\n.\n", "STATUS+ |DATA a\n.b\n|END|");
	/* Content that looks like a terminator mid-line is content. */
	ONE(POP3_REPLY_DATA, "+OK\r\nx.\r\n.y\r\n.\r\n", "STATUS+ |DATA x.\r\ny\r\n|END|");
}

Test(pop3_reply, data_error_has_no_body)
{
	ONE(POP3_REPLY_DATA, "-ERR no such message\r\n", "STATUS- no such message|");
}

Test(pop3_reply, sasl_continuation)
{
	ONE(POP3_REPLY_SASL, "+ VXNlcm5hbWU6\r\n", "CONT VXNlcm5hbWU6|");
	ONE(POP3_REPLY_SASL, "+ \r\n", "CONT |");
	ONE(POP3_REPLY_SASL, "+\r\n", "CONT |");
	ONE(POP3_REPLY_SASL, "+OK logged in\r\n", "STATUS+ logged in|");
	ONE(POP3_REPLY_SASL, "-ERR [AUTH] no\r\n", "STATUS- [AUTH] no|");
}

Test(pop3_reply, pipelined_replies_in_one_read)
{
	enum pop3_reply_kind kinds[] = {POP3_REPLY_DATA, POP3_REPLY_DATA, POP3_REPLY_STATUS};
	const char *in = "+OK\r\na\r\n.\r\n-ERR no such message\r\n+OK bye\r\n";

	expect_events(kinds, 3, in, strlen(in),
	              "STATUS+ |DATA a\r\n|END|STATUS- no such message|STATUS+ bye|");
}

Test(pop3_reply, greeting_garbage_is_an_error)
{
	const char *in = "* OK [CAPABILITY IMAP4rev1] IMAP ready\r\n";

	expect_error(POP3_REPLY_STATUS, in, strlen(in), NULL, "where a POP3 status");
	expect_error(POP3_REPLY_STATUS, "+OKAY\r\n", 7, NULL, "where a POP3 status");
	expect_error(POP3_REPLY_STATUS, "+ go on\r\n", 9, NULL, "where a POP3 status");
}

Test(pop3_reply, unasked_bytes_are_an_error)
{
	enum pop3_reply_kind k = POP3_REPLY_STATUS;
	struct error err;
	char *got;

	cr_assert_eq(run(&k, 1, "+OK\r\n+OK more\r\n", 15, 0, NULL, &got, &err), -1, "%s", got);
	cr_assert(strstr(err.text, "without being asked"), "%s", err.text);
	free(got);
}

Test(pop3_reply, long_line_is_an_error)
{
	struct pop3_parser_limits lim = {.max_line = 64};
	char line[200];

	memset(line, 'a', sizeof(line));
	memcpy(line, "+OK ", 4);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	expect_error(POP3_REPLY_STATUS, line, sizeof(line), &lim, "longer than 64 bytes");
	/* A status of exactly the limit passes (CRLF included). */
	{
		enum pop3_reply_kind k = POP3_REPLY_STATUS;
		struct error err;
		char *got;
		memcpy(line + 62, "\r\n", 2);
		cr_assert_eq(run(&k, 1, line, 64, 1, &lim, &got, &err), 0, "%s", err.text);
		free(got);
	}
}

Test(pop3_reply, default_line_limit_is_8k_for_lists)
{
	struct buf in = BUF_INIT;

	buf_append_str(&in, "+OK\r\n1 ");
	for (int i = 0; i < 9000; i++)
		buf_append_byte(&in, 'x');
	buf_append_str(&in, "\r\n.\r\n");
	expect_error(POP3_REPLY_LINES, in.data, in.len, NULL, "longer than 8192 bytes");
	buf_free(&in);
}

Test(pop3_reply, nul_in_a_line_is_an_error)
{
	expect_error(POP3_REPLY_LINES, "+OK\r\n1 a\0b\r\n.\r\n", 14, NULL, "NUL");
}

Test(pop3_reply, data_lines_are_not_line_limited)
{
	struct pop3_parser_limits lim = {.max_line = 64};
	enum pop3_reply_kind k = POP3_REPLY_DATA;
	struct buf in = BUF_INIT;
	struct error err;
	char *got;

	buf_append_str(&in, "+OK\r\n");
	for (int i = 0; i < 1000; i++)
		buf_append_byte(&in, 'y');
	buf_append_str(&in, "\r\n.\r\n");
	cr_assert_eq(run(&k, 1, in.data, in.len, 5, &lim, &got, &err), 0, "%s", err.text);
	cr_assert_eq(strlen(got), strlen("STATUS+ |DATA ") + 1002 + strlen("|END|"));
	free(got);
	buf_free(&in);
}

Test(pop3_reply, message_larger_than_the_cap_is_refused)
{
	struct pop3_parser_limits lim = {.max_data = 10};
	const char *fits = "+OK\r\n12345678\r\n.\r\n"; /* 10 bytes with CRLF */
	const char *big = "+OK\r\n123456789\r\n.\r\n";
	enum pop3_reply_kind k = POP3_REPLY_DATA;
	struct error err;
	char *got;

	cr_assert_eq(run(&k, 1, fits, strlen(fits), 1, &lim, &got, &err), 0, "%s", err.text);
	free(got);
	expect_error(POP3_REPLY_DATA, big, strlen(big), &lim, "larger than 10 bytes");
}

Test(pop3_reply, a_failed_parser_stays_failed)
{
	struct pop3_parser *p = pop3_parser_new(NULL);
	struct pop3_event ev;
	struct error err;

	pop3_parser_expect(p, POP3_REPLY_STATUS);
	pop3_parser_feed(p, "HELLO\r\n", 7);
	cr_assert_eq(pop3_parser_next(p, &ev, &err), -1);
	pop3_parser_feed(p, "+OK\r\n", 5);
	cr_assert_eq(pop3_parser_next(p, &ev, &err), -1);
	cr_assert(strstr(err.text, "HELLO"), "%s", err.text);
	pop3_parser_free(p);
}

Test(pop3_reply, data_chunks_point_into_fed_bytes_and_count)
{
	/* Streaming: a 1 MB body yields chunks without the parser buffering
	 * it; the content size is counted. */
	struct pop3_parser *p = pop3_parser_new(NULL);
	size_t body = 1000 * 1000; /* whole lines of 100 bytes */
	char *in = xmalloc(body + 32);
	struct pop3_event ev;
	struct error err;
	size_t n = 0, got = 0, events = 0;
	int r;

	n += (size_t)sprintf(in, "+OK\r\n");
	for (size_t i = 0; i < body; i++)
		in[n++] = (i % 100 == 98) ? '\r' : (i % 100 == 99) ? '\n' : 'a';
	memcpy(in + n, ".\r\n", 3);
	n += 3;
	pop3_parser_expect(p, POP3_REPLY_DATA);
	pop3_parser_feed(p, in, n);
	while ((r = pop3_parser_next(p, &ev, &err)) == 1) {
		if (ev.type == POP3_EV_DATA) {
			cr_assert(ev.data >= in && ev.data + ev.len <= in + n);
			got += ev.len;
			events++;
		}
	}
	cr_assert_eq(r, 0, "%s", err.text);
	cr_assert_eq(got, body);
	cr_assert_eq(pop3_parser_data_size(p), body);
	cr_assert_lt(events, 10, "lines without leading dots are one chunk, got %zu", events);
	cr_assert(pop3_parser_idle(p));
	pop3_parser_free(p);
	free(in);
}
