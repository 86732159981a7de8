/*
 * SASL client payloads shared by IMAP AUTHENTICATE and POP3 AUTH:
 * PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), XOAUTH2
 * (Google's), OAUTHBEARER (RFC 7628). Only the strings are built here;
 * each protocol runs its own exchange.
 *
 * Every payload carries a secret: the protocols never log it (their
 * traces show "***" in its place); the plain payload never outlives the
 * call. Free results with sasl_free(), which wipes them first.
 */
#ifndef TWINBOX_NET_SASL_H
#define TWINBOX_NET_SASL_H

#include <stddef.h>

enum sasl_mech {
	SASL_PLAIN = 1,
	SASL_LOGIN,
	SASL_XOAUTH2,
	SASL_OAUTHBEARER,
};

/* "PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER" (static). */
const char *sasl_mech_name(enum sasl_mech mech);

/* Standard base64 with padding of `len` bytes (caller frees). Not
 * registered as a secret. */
char *sasl_base64(const void *data, size_t len);

/* The client's first message, base64: for PLAIN "\0user\0secret" (empty
 * authorization identity), for XOAUTH2 and OAUTHBEARER the bearer token
 * message (`secret` is the access token; `host` and `port` go into
 * OAUTHBEARER), for LOGIN the user name. */
char *sasl_initial_response(enum sasl_mech mech, const char *user, const char *secret, const char *host,
                            unsigned port);

/* base64 of `secret` alone (LOGIN's second step). */
char *sasl_secret_base64(const char *secret);

/* Wipe and free a string from this module (NULL is fine). */
void sasl_free(char *s);

#endif
