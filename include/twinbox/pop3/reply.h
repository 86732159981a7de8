/*
 * The POP3 reply parser (RFC 1939, 2449, 5034): a pure, incremental state
 * machine. It is fed the bytes a server sent and yields parsed replies as
 * events; it never touches a socket and never prints.
 *
 * POP3 replies do not say whether a body follows: that depends on the
 * command. So before each reply the caller says what it expects with
 * pop3_parser_expect(); bytes that arrive while nothing is expected are an
 * error (a POP3 server never speaks unasked).
 *
 * Use:
 *
 *	p = pop3_parser_new(NULL);
 *	pop3_parser_expect(p, POP3_REPLY_STATUS);        // the greeting
 *	for (;;) {
 *		n = read(fd, buf, sizeof(buf));
 *		pop3_parser_feed(p, buf, n);
 *		while ((r = pop3_parser_next(p, &ev, &err)) == 1) {
 *			handle(&ev);
 *			if (ev.last)
 *				pop3_parser_expect(p, <next reply's kind>);
 *		}
 *		if (r < 0)
 *			drop the connection: err says why;
 *		// r == 0: every fed byte is consumed, buf may be reused
 *	}
 *
 * Events per reply kind (the contract):
 *
 *   STATUS  STATUS(last)                        "+OK ..." or "-ERR ..."
 *   SASL    STATUS(last) | CONTINUE(last)       "+ <base64>" is CONTINUE
 *   LINES   STATUS(last)                        on -ERR
 *           STATUS  LINE*  END(last)            on +OK (CAPA, LIST, UIDL)
 *   DATA    STATUS(last)                        on -ERR
 *           STATUS  DATA*  END(last)            on +OK (RETR, TOP)
 *
 * LINE and DATA are dot-unstuffed (a leading "." is removed; the line
 * "." alone ends the reply and is not content). A LINE has no line end;
 * DATA keeps the line ends as sent (CRLF), so the DATA chunks of a reply
 * concatenate to the message: "+OK\r\na\r\n..b\r\n.\r\n" gives
 * "a\r\n.b\r\n". DATA is streamed: chunks point into the fed bytes;
 * nothing of a message body is buffered, whatever its size.
 *
 * Lifetime: every pointer in an event stays valid until the next call of
 * pop3_parser_next(), pop3_parser_feed() or pop3_parser_free().
 *
 * Errors (-1 from pop3_parser_next, `err` filled, scope ERR_ACCOUNT): a
 * status line that is neither +OK nor -ERR, a line longer than max_line
 * (status and LINE lines; DATA lines are not limited, only their total),
 * a NUL byte in a status or LINE line, content beyond max_data, bytes
 * while nothing is expected. The stream cannot be resynchronised after an
 * error: the parser stays failed, returns the same error on every later
 * call, and the caller must drop the connection.
 *
 * Strictness: line ends are CRLF; a bare LF is accepted as a line end
 * (some servers), a bare CR is an ordinary byte. "+OK" and "-ERR" must be
 * followed by a space or the line end. In DATA, a line with a single
 * leading "." followed by other bytes (a server that forgot to stuff) is
 * taken as stuffed: its dot is removed.
 */
#ifndef TWINBOX_POP3_REPLY_H
#define TWINBOX_POP3_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/util/error.h"

/* Bounds; zero fields take the defaults. */
struct pop3_parser_limits {
	/* Bytes of a status line or a LINE line, CRLF included. RFC 2449
	 * allows 512; some servers send more. */
	size_t max_line;
	/* Bytes of DATA content in one reply (after unstuffing): a sanity
	 * bound on one message. The configured size cap is the client's. */
	uint64_t max_data;
};

#define POP3_PARSER_DEFAULT_MAX_LINE (8 * 1024)
#define POP3_PARSER_DEFAULT_MAX_DATA ((uint64_t)4 * 1024 * 1024 * 1024)

enum pop3_reply_kind {
	POP3_REPLY_NONE = 0, /* nothing expected (the state after each reply) */
	POP3_REPLY_STATUS,   /* a single status line */
	POP3_REPLY_SASL,     /* a status line or a "+ " continuation */
	POP3_REPLY_LINES,    /* status, then on +OK a dot-terminated list of lines */
	POP3_REPLY_DATA,     /* status, then on +OK dot-terminated content, streamed */
};

enum pop3_event_type {
	POP3_EV_STATUS = 1,
	POP3_EV_CONTINUE, /* "+ text": text is the (base64) challenge, maybe "" */
	POP3_EV_LINE,
	POP3_EV_DATA,
	POP3_EV_END,
};

/* Extended response codes (RFC 2449 section 8, RFC 3206). */
enum pop3_code {
	POP3_CODE_NONE = 0,
	POP3_CODE_IN_USE,      /* [IN-USE]: the maildrop is locked by another session */
	POP3_CODE_LOGIN_DELAY, /* [LOGIN-DELAY]: logged in too recently */
	POP3_CODE_SYS_TEMP,    /* [SYS/TEMP]: temporary server problem */
	POP3_CODE_SYS_PERM,    /* [SYS/PERM]: permanent server problem */
	POP3_CODE_AUTH,        /* [AUTH]: the credentials are wrong */
	POP3_CODE_OTHER,       /* any other code; see `code_name` */
};

struct pop3_event {
	enum pop3_event_type type;
	bool last; /* this event ends the reply; the parser expects nothing now */
	/* STATUS */
	bool ok;
	enum pop3_code code;
	const char *code_name; /* as sent, e.g. "SYS/TEMP"; "" when none */
	/* STATUS: the text after the indicator and any code, leading spaces
	 * removed ("" when none). CONTINUE: the challenge. LINE: the line.
	 * NUL-terminated; no NUL inside. */
	const char *text;
	/* STATUS: the whole status line as sent, without line end (for
	 * messages and traces). */
	const char *line;
	/* LINE: strlen(text). DATA: `data` and `len`. */
	const char *data;
	size_t len;
};

struct pop3_parser;

/* NULL limits = all defaults. */
struct pop3_parser *pop3_parser_new(const struct pop3_parser_limits *limits);
void pop3_parser_free(struct pop3_parser *p);

/* Say what the next reply is. Only between replies (after an event with
 * `last`, or before the first); calling it mid-reply is a bug (abort). */
void pop3_parser_expect(struct pop3_parser *p, enum pop3_reply_kind kind);

/* Hand over `len` bytes. The parser keeps a pointer to them (DATA events
 * point into them) until pop3_parser_next() has returned 0; only then
 * may they be reused and may feed be called again. */
void pop3_parser_feed(struct pop3_parser *p, const void *data, size_t len);

/* The next event: 1 with *ev filled, 0 when every fed byte is consumed
 * (feed more), -1 on an error (see above). */
int pop3_parser_next(struct pop3_parser *p, struct pop3_event *ev, struct error *err);

/* True between replies with no partial line held and no fed byte left
 * unconsumed. */
bool pop3_parser_idle(const struct pop3_parser *p);

/* Content bytes (after unstuffing) of the current or last DATA reply. */
uint64_t pop3_parser_data_size(const struct pop3_parser *p);

/* "IN-USE" etc. for a code; "" for NONE and OTHER (use code_name). */
const char *pop3_code_name(enum pop3_code code);

#endif
