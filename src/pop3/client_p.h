/* The POP3 client's private state, shared by src/pop3/ client files. */
#ifndef TWINBOX_POP3_CLIENT_P_H
#define TWINBOX_POP3_CLIENT_P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3_p.h"
#include "twinbox/net/conn.h"
#include "twinbox/pop3/client.h"
#include "twinbox/pop3/reply.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/error.h"

#define POP3_READ_CHUNK    (64 * 1024)
#define POP3_COMMAND_MAX   255 /* octets of a command line with CRLF (RFC 2449) */
#define POP3_TIMESTAMP_MAX 512 /* bytes of the APOP timestamp */

struct pop3_client {
	struct conn *conn;
	struct pop3_options opts; /* strings owned (copied) */
	char *peer;               /* "host:port" for messages */
	enum pop3_state state;
	bool failed;          /* an I/O or protocol error ended the session */
	struct error failure; /* ... this one */
	struct pop3_parser *parser;
	unsigned char *rbuf;
	bool careful; /* read one byte at a time (the STLS reply) */
	char *greeting;
	char *timestamp; /* APOP "<...>" from the greeting, or NULL */
	bool capa_known;
	char **capa; /* CAPA lines */
	size_t capa_count;
	struct buf capa_text; /* joined by ", " */
	size_t discarded;     /* bytes dropped at STLS */
	uint64_t *sizes;      /* from LIST: sizes[msgno - 1], 0 = unknown */
	size_t sizes_count;
	uint64_t data_bytes; /* content bytes of the DATA reply being read */
};

/* client.c: the I/O core. */

/* Fail the session with `err` (scope raised to ERR_ACCOUNT): it is DONE
 * and every later call returns this error. Returns -1. */
int pop3_fail(struct pop3_client *p, struct error *err);
/* 0 when commands may be sent; else -1 with the reason. */
int pop3_usable(struct pop3_client *p, struct error *err);
/* Write `line` + CRLF; the trace shows `trace` instead when not NULL. */
int pop3_send(struct pop3_client *p, const char *line, const char *trace, struct error *err);
/* Tell the parser the kind of the next reply. */
void pop3_expect(struct pop3_client *p, enum pop3_reply_kind kind);
/* The next event of the reply being read, reading as needed; the event
 * is traced. -1 fails the session. */
int pop3_next(struct pop3_client *p, struct pop3_event *ev, struct error *err);
/* Send `line`, read a status: 0 on +OK, 1 on -ERR (*ev holds it, valid
 * until the next read), -1 on failure. `kind` is the reply's kind; on
 * +OK for LINES/DATA the caller reads the rest. */
int pop3_command(struct pop3_client *p, const char *line, const char *trace, enum pop3_reply_kind kind,
                 struct pop3_event *ev, struct error *err);
/* Read the rest of a multi-line reply and drop it. */
int pop3_drain(struct pop3_client *p, struct error *err);
void pop3_set_state(struct pop3_client *p, enum pop3_state state);
/* The server's words for messages: the status text, or its line. */
const char *pop3_said(const struct pop3_event *ev);
/* A decimal number of at most `max`; the rest after it in *end_r. */
int pop3_parse_number(const char *s, uint64_t max, uint64_t *n_r, const char **end_r);

/* auth.c */
int pop3_login(struct pop3_client *p, struct error *err);

#endif
