/*
 * Shared setup of the POP3 client protocol tests: a client over a
 * scripted server, a sink that records what it received, and a log sink
 * that keeps the protocol trace.
 */
#ifndef TWINBOX_TEST_POP3_SUPPORT_H
#define TWINBOX_TEST_POP3_SUPPORT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/net/script.h"
#include "twinbox/pop3/client.h"
#include "twinbox/pop3/reply.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"

/* base64("\0tbuser\0secret") */
#define PLAIN_IR "AHRidXNlcgBzZWNyZXQ="

#define GREETING   "+OK Dovecot ready.\r\n"
#define CAPA_BASIC "+OK\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"
#define CAPA_PIPE                                                                                            \
	"+OK\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN\r\n.\r\n"

static struct script *sc;
static struct pop3_client *pc;
static struct error err;
static struct buf trace;

static inline void keep_trace(enum log_level level, const char *line, void *ctx)
{
	(void)level, (void)ctx;
	buf_printf(&trace, "%s\n", line);
}

static inline struct pop3_options test_options(void)
{
	struct pop3_options o = {
	    .conn.host = "pop.test",
	    .conn.port = 110,
	    .conn.tls = TLS_NONE,
	    .user = "tbuser",
	    .password = "secret",
	};
	return o;
}

static inline void start_client(const struct pop3_options *o)
{
	sc = script_new();
	pc = pop3_client_new(conn_from_transport(script_transport(sc)), o);
	error_clear(&err);
	buf_reset(&trace);
	log_set_level(LOG_TRACE);
	log_set_sink(keep_trace, NULL);
}

static inline void stop_client(void)
{
	pop3_close(pc);
	pc = NULL;
	script_free(sc);
	sc = NULL;
	log_set_sink(NULL, NULL);
	buf_free(&trace);
}

static inline void assert_played(void)
{
	const char *why;

	cr_assert(script_check(sc, &why), "script: %s", why);
}

/* Greeting, CAPA `capa`, AUTH PLAIN with an initial response, CAPA again. */
static inline void login_with_capa(const char *capa)
{
	struct pop3_options o = test_options();

	start_client(&o);
	script_send(sc, GREETING);
	script_expect(sc, "CAPA\r\n");
	script_send(sc, capa);
	script_expect(sc, "AUTH PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "+OK Logged in.\r\n");
	script_expect(sc, "CAPA\r\n");
	script_send(sc, capa);
	cr_assert_eq(pop3_client_open(pc, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_client_state(pc), POP3_STATE_TRANSACTION);
}

/* What a sink saw. */
struct got {
	struct buf content;
	uint64_t size; /* from begin() */
	unsigned begins, ends, fails;
	uint32_t msgnos[16]; /* in order of end() */
	uint32_t failed_msgnos[16];
	char failed_text[ERROR_TEXT_MAX];
	enum err_scope failed_scope;
	/* Make the sink itself fail at message fail_on (0 = never). */
	uint32_t fail_on;
	enum err_scope fail_scope;
	uint32_t current;
};

static inline int got_begin(void *ctx, uint32_t msgno, uint64_t size, struct error *e)
{
	struct got *g = ctx;

	(void)e;
	g->begins++;
	g->size = size;
	g->current = msgno;
	return 0;
}

static inline int got_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	struct got *g = ctx;

	if (g->fail_on && g->current == g->fail_on)
		return error_set(e, g->fail_scope, "disk full while writing message %u", g->current);
	buf_append(&g->content, data, len);
	return 0;
}

static inline int got_end(void *ctx, uint32_t msgno, struct error *e)
{
	struct got *g = ctx;

	(void)e;
	if (g->ends < 16)
		g->msgnos[g->ends] = msgno;
	g->ends++;
	return 0;
}

static inline void got_failed(void *ctx, uint32_t msgno, const struct error *e)
{
	struct got *g = ctx;

	if (g->fails < 16)
		g->failed_msgnos[g->fails] = msgno;
	g->fails++;
	snprintf(g->failed_text, sizeof(g->failed_text), "%s", e->text);
	g->failed_scope = e->scope;
}

static inline struct pop3_sink got_sink(struct got *g)
{
	struct pop3_sink s = {
	    .ctx = g, .begin = got_begin, .chunk = got_chunk, .end = got_end, .failed = got_failed};
	return s;
}

#endif
