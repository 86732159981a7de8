/*
 * An in-memory scripted peer for protocol tests. A script is a list of
 * steps played strictly in order:
 *   script_expect(s, "A1 LOGIN ...\r\n")  the client must write these bytes
 *   script_expect_any(s)                  the client writes once, anything
 *                                         (e.g. a TLS ClientHello)
 *   script_send(s, "* OK ...\r\n")        the client's reads receive these
 *   script_close(s)                       reads return 0 (peer closed)
 *   script_fail(s, "reset")               reads/writes fail with that text
 *
 * Writes may split an expected step or cover several consecutive ones; a
 * read returns bytes of one send step only (at most the chunk size set by
 * script_set_chunk(s, n), e.g. 1 for byte-at-a-time tests; 0 = whole
 * step). A close or fail step, once reached, stays: every later read
 * sees it again.
 *
 * Out-of-order use fails the operation (ERR_ACCOUNT, "script: ...") and is
 * recorded so script_check() can report it; all later operations fail
 * the same way. Such uses are: a write that differs from the expected
 * bytes (the message shows both, escaped like C strings), a write while
 * the script wants the client to read, a read or a non-zero wait while it
 * wants the client to write, anything after the last step.
 */
#ifndef TWINBOX_NET_SCRIPT_H
#define TWINBOX_NET_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "twinbox/net/transport.h"

struct script;

struct script *script_new(void);
void script_expect(struct script *s, const char *client_bytes);
void script_expectf(struct script *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes that may hold NULs (compressed data). */
void script_expect_bytes(struct script *s, const void *data, size_t len);
void script_expect_any(struct script *s);
void script_send(struct script *s, const char *server_bytes);
void script_sendf(struct script *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void script_send_bytes(struct script *s, const void *data, size_t len);
void script_close(struct script *s);
void script_fail(struct script *s, const char *message);
void script_set_chunk(struct script *s, size_t max_read);

/* A transport that plays the script. Its poll reports data ready when the
 * next step is a send, close or fail. The transport and the test share
 * the script: script_free() and transport_close() may come in either
 * order, the last one frees it. */
struct transport *script_transport(struct script *s);

/* True when every step was played and nothing went out of order; else
 * false and *why_r (owned by the script, valid until the next
 * script_check or script_free) says what went wrong, e.g.
 * `step 3 of 4 (expects the client to write "a LOGOUT\r\n") was never
 * played, nor the 1 after it`. */
bool script_check(struct script *s, const char **why_r);
void script_free(struct script *s);

#endif
