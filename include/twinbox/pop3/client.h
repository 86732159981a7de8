/*
 * The POP3 client (RFC 1939, 2449 CAPA and response codes, 2595 STLS,
 * 5034 AUTH, 3206 SYS and AUTH codes): one connection to one maildrop.
 *
 * States (transitions traced at log_debug):
 *
 *   AUTHORIZATION --login--> TRANSACTION --QUIT--> DONE
 *        '---- an I/O or protocol error, or close ----> DONE
 *
 * A client that met an I/O or protocol error is finished: every later call
 * fails with the error that ended it (ERR_ACCOUNT); only pop3_close()
 * remains. A -ERR reply does not finish it.
 *
 * Security rules kept by pop3_client_open():
 *  - with tls STARTTLS, STLS is required: a server whose CAPA lacks STLS
 *    (or that refuses it) is an error, never skipped; bytes received after
 *    the STLS +OK and before the handshake are discarded, never parsed
 *    (their count: pop3_stls_discarded()); CAPA is asked again over TLS;
 *  - no password, token or APOP digest is sent on a connection without
 *    TLS unless tls is TLS_NONE (the config's explicit `tls: none`);
 *  - a user name or password containing CR, LF or NUL is refused (it
 *    would let one command smuggle in another).
 *
 * Deletion: DELE only marks; the server deletes at a successful QUIT.
 * pop3_quit() returns 0 only if the server confirmed QUIT with +OK;
 * pop3_close() without pop3_quit() drops the connection, and the server
 * deletes nothing.
 *
 * Protocol trace: at log_trace every command ("C: ...") and every status
 * and list line ("S: ...") is logged; PASS, APOP digests and AUTH payloads
 * appear as "***" (the only place they are kept out of the log: the log
 * rewrites nothing), message content appears as "S: {N bytes}".
 *
 * Error scopes: login, connection, protocol violations and refusals of
 * whole-maildrop commands (STAT, LIST, UIDL, QUIT) are ERR_ACCOUNT; a
 * refusal about one message (RETR, TOP, DELE of a message the server does
 * not have, a message over the size cap) is ERR_MESSAGE.
 */
#ifndef TWINBOX_POP3_CLIENT_H
#define TWINBOX_POP3_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/net/conn.h"
#include "twinbox/util/error.h"

enum pop3_state {
	POP3_STATE_AUTHORIZATION = 0,
	POP3_STATE_TRANSACTION,
	POP3_STATE_DONE,
};

/* How to log in (config `auth:`). USER is the USER/PASS pair, APOP the
 * MD5 digest of the greeting's timestamp and the password; the SASL
 * mechanisms use AUTH (RFC 5034); the OAuth ones take the access token as
 * the password. */
enum pop3_mech {
	POP3_MECH_USER = 1,
	POP3_MECH_APOP,
	POP3_MECH_PLAIN,
	POP3_MECH_LOGIN,
	POP3_MECH_XOAUTH2,
	POP3_MECH_OAUTHBEARER,
};

#define POP3_MECH_MAX 8

/* Limits on what the server may claim. */
#define POP3_DEFAULT_MAX_MESSAGES 1000000u /* messages in the maildrop */
#define POP3_UIDL_MAX             70       /* bytes of a UIDL (RFC 1939) */
#define POP3_CAPA_MAX             200      /* CAPA lines */

struct pop3_options {
	/* How to connect (pop3_connect passes it to conn_open); the client
	 * also takes host and port for messages, tls as the connection was
	 * opened, and ca_file and fingerprint for STLS. */
	struct conn_options conn;
	const char *user;     /* NULL: do not log in */
	const char *password; /* password, or the OAuth2 access token */
	/* Mechanisms in order of preference; the first one the server offers
	 * is used, and a refusal is final (no fallback: every failed login
	 * counts against lockouts and LOGIN-DELAY). mech_count 0: the best
	 * the server offers: AUTH PLAIN, then USER; APOP first on a
	 * connection without TLS (it keeps the password off the wire). */
	enum pop3_mech mechs[POP3_MECH_MAX];
	size_t mech_count;
	/* Messages larger than this are refused (ERR_MESSAGE) before RETR
	 * when LIST says so, else while streaming; 0 = no limit. */
	uint64_t max_message_size;
	/* Upper bound on message numbers and list lengths; 0 = the default. */
	uint32_t max_messages;
};

struct pop3_client;

/* Wrap a connection (takes ownership; the options are copied). Nothing
 * is sent or read yet. */
struct pop3_client *pop3_client_new(struct conn *c, const struct pop3_options *opts);

/* Read the greeting, CAPA, STLS (tls STARTTLS), CAPA again, log in (when
 * opts->user is set), CAPA once more (what a server offers may change
 * after login). Returns 0, or -1 (ERR_ACCOUNT) with a message that tells
 * a locked maildrop, a login delay, wrong credentials and server
 * trouble apart. */
int pop3_client_open(struct pop3_client *p, struct error *err);

/* conn_open + pop3_client_new + pop3_client_open; NULL on failure. */
struct pop3_client *pop3_connect(const struct pop3_options *opts, struct error *err);

/* Close the connection and free everything, without QUIT: messages marked
 * with DELE stay on the server. NULL is fine. */
void pop3_close(struct pop3_client *p);

enum pop3_state pop3_client_state(const struct pop3_client *p);
struct conn *pop3_client_conn(struct pop3_client *p);
/* The greeting line as sent ("" before it came). */
const char *pop3_greeting(const struct pop3_client *p);
/* Bytes dropped at the STLS upgrade (an injection attempt when > 0). */
size_t pop3_stls_discarded(const struct pop3_client *p);

/* ---- capabilities (RFC 2449) ---------------------------------------- */

/* Ask CAPA now (done by pop3_client_open). A server without CAPA (-ERR)
 * is not an error: capabilities are then unknown. */
int pop3_capa(struct pop3_client *p, struct error *err);
/* Whether the server answered CAPA. */
bool pop3_capa_known(const struct pop3_client *p);
/* Whether a CAPA line's first word is `name` (case-insensitive). */
bool pop3_has_capa(const struct pop3_client *p, const char *name);
/* The rest of that line after the name and a space ("" if nothing), or
 * NULL; valid until the next pop3_capa(). "SASL" gives "PLAIN LOGIN". */
const char *pop3_capa_arg(const struct pop3_client *p, const char *name);
/* The CAPA lines joined by ", " ("" when unknown), for messages. */
const char *pop3_capabilities(const struct pop3_client *p);

/* ---- the maildrop -------------------------------------------------- */

/* STAT: message count and total size. */
int pop3_stat(struct pop3_client *p, uint32_t *count_r, uint64_t *size_r, struct error *err);

struct pop3_list_entry {
	uint32_t msgno;
	uint64_t size; /* octets as the server counts them (with CRLF) */
};

/* LIST: every message, in increasing msgno order (anything else from the
 * server is an error). *list_r is one allocation (free() it); NULL when
 * *n_r is 0. The size is also remembered for RETR's begin(). */
int pop3_list(struct pop3_client *p, struct pop3_list_entry **list_r, size_t *n_r, struct error *err);

struct pop3_uidl_entry {
	uint32_t msgno;
	const char *uidl;    /* as sent (first 128 bytes when longer); NUL-terminated */
	const char *invalid; /* NULL, or why this UIDL cannot be used (static text) */
	bool duplicate;      /* another message has the same UIDL */
};

/* UIDL: every message's unique id, in increasing msgno order. Values that
 * break the rules of pop3_uidl_invalid() are kept (their first 128 bytes)
 * with `invalid` set, and duplicates are flagged, so the caller can skip
 * them one by one or refuse the whole list (pop3_uidl_check). A listing
 * line that is not "msgno SP uidl" with increasing numbers ends the
 * session (ERR_ACCOUNT). *list_r is one allocation holding the strings
 * too (free() it); NULL when *n_r is 0.
 * A server without UIDL: -1, ERR_ACCOUNT, with a message saying that
 * keeping mail on the server needs it (see pop3_require_uidl). */
int pop3_uidl(struct pop3_client *p, struct pop3_uidl_entry **list_r, size_t *n_r, struct error *err);

/* Is this list sane? 0 if every UIDL is valid and unique; else -1
 * (ERR_ACCOUNT) naming the first offending message(s), the UIDL (escaped)
 * and the rule broken, and whether more are affected. Leave-on-server
 * mode needs a sane list. */
int pop3_uidl_check(const struct pop3_uidl_entry *list, size_t n, struct error *err);

/* Why `uidl` (`len` bytes) is not usable as a message id, or NULL. The
 * rules: RFC 1939's 1..70 bytes in 0x21..0x7E, and no value made of dots
 * only. '/' is allowed (RFC 1939 allows it and base64-style UIDLs use
 * it): twinbox never makes a path from a UIDL; local file names are its
 * own. */
const char *pop3_uidl_invalid(const char *uidl, size_t len);

/* 0 when the server supports UIDL as far as can be told without asking
 * for the list (CAPA lists UIDL, or CAPA is unknown), else -1
 * (ERR_ACCOUNT) saying that leave_on_server needs UIDL. */
int pop3_require_uidl(struct pop3_client *p, struct error *err);

/* Receives one message (RETR) or its head (TOP). Content is dot-unstuffed
 * with CRLF kept. begin() comes first with the size LIST reported (0 if
 * unknown: a hint, not a promise), then chunk()s, then end() only when
 * the terminating line arrived: a message cut short never reaches end().
 * failed() is called instead whenever a message is not delivered whole,
 * whether begin() came or not (RETR refused, cut, over the cap, a sink
 * error); `err` says why. A callback returning -1 with `err` set stops
 * delivery of that message (the rest is read and dropped, the session
 * stays usable) and makes the command fail with that error. Any callback
 * but chunk may be NULL. */
struct pop3_sink {
	void *ctx;
	int (*begin)(void *ctx, uint32_t msgno, uint64_t size, struct error *err);
	int (*chunk)(void *ctx, const void *data, size_t len, struct error *err);
	int (*end)(void *ctx, uint32_t msgno, struct error *err);
	void (*failed)(void *ctx, uint32_t msgno, const struct error *err);
};

/* RETR one message into `sink`. -1 with ERR_MESSAGE when only this
 * message failed (refused, over the cap, a sink's ERR_MESSAGE), with a
 * larger scope when the session or the run must stop. */
int pop3_retr(struct pop3_client *p, uint32_t msgno, const struct pop3_sink *sink, struct error *err);

/* RETR each of msgnos[0..n-1] in order, pipelined when the server offers
 * PIPELINING. A message that fails alone (ERR_MESSAGE) goes to
 * sink->failed() and the others continue. Returns 0 when the session is
 * still usable (even if some messages failed), -1 when the session broke
 * or a sink failed with a scope above ERR_MESSAGE (the messages not yet
 * delivered are then not reported). */
int pop3_retr_many(struct pop3_client *p, const uint32_t *msgnos, size_t n, const struct pop3_sink *sink,
                   struct error *err);

/* TOP: the header and the first `lines` body lines, into `sink`. */
int pop3_top(struct pop3_client *p, uint32_t msgno, unsigned lines, const struct pop3_sink *sink,
             struct error *err);

/* Mark for deletion at QUIT. -ERR (no such message) is ERR_MESSAGE. */
int pop3_dele(struct pop3_client *p, uint32_t msgno, struct error *err);
/* Unmark every DELE of this session. */
int pop3_rset(struct pop3_client *p, struct error *err);
int pop3_noop(struct pop3_client *p, struct error *err);

/* QUIT; the server now deletes what DELE marked. 0 only when it answered
 * +OK (the deletions are done); -1 (ERR_ACCOUNT) when it answered -ERR
 * (it could not delete: messages stay) or the connection broke first
 * (unknown whether they were deleted). The client is DONE either way. */
int pop3_quit(struct pop3_client *p, struct error *err);

#endif
