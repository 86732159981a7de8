/*
 * Shared setup of the IMAP session protocol tests: a session over a
 * scripted server, logged in with AUTHENTICATE PLAIN + SASL-IR.
 */
#ifndef TWINBOX_TEST_IMAP_SESSION_SUPPORT_H
#define TWINBOX_TEST_IMAP_SESSION_SUPPORT_H

#include <criterion/criterion.h>
#include <string.h>

#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/net/script.h"
#include "twinbox/util/log.h"

/* base64("\0tbuser\0secret") */
#define PLAIN_IR "AHRidXNlcgBzZWNyZXQ="

static struct script *sc;
static struct imap_session *s;
static struct error err;

static inline struct imap_session_options test_options(void)
{
	struct imap_session_options o = {
	    .conn.host = "mail.test",
	    .conn.port = 143,
	    .conn.tls = TLS_NONE,
	    .user = "tbuser",
	    .password = "secret",
	};
	return o;
}

static inline void start_session(const struct imap_session_options *o)
{
	sc = script_new();
	s = imap_session_new(conn_from_transport(script_transport(sc)), o);
	error_clear(&err);
}

static inline void stop_session(void)
{
	imap_session_free(s);
	s = NULL;
	script_free(sc);
	sc = NULL;
}

static inline void assert_played(void)
{
	const char *why;

	cr_assert(script_check(sc, &why), "script: %s", why);
}

/* Greeting with `caps`, AUTHENTICATE PLAIN with SASL-IR (A1), login OK
 * carrying the same caps. `caps` must contain AUTH=PLAIN SASL-IR and no
 * ENABLE/ID/NAMESPACE unless the test scripts them. */
static inline void login_with_caps(const char *caps)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_sendf(sc, "* OK [CAPABILITY %s] ready\r\n", caps);
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_sendf(sc, "A1 OK [CAPABILITY %s] Logged in\r\n", caps);
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED);
}

#define BASIC_CAPS "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ UIDPLUS MOVE IDLE"

static inline void login_basic(void)
{
	login_with_caps(BASIC_CAPS);
}

/* SELECT "name" (A2) answered with `n` messages whose UIDs are 1..n. */
static inline void select_basic(const char *name, unsigned n)
{
	script_expectf(sc, "A2 SELECT \"%s\"\r\n", name);
	script_sendf(sc, "* %u EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT %u] ok\r\n", n, n + 1);
	script_send(sc, "A2 OK [READ-WRITE] Select completed\r\n");
	cr_assert_eq(imap_select(s, name, false, NULL, &err), 0, "%s", err.text);
}

#endif
