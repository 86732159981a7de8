/*
 * TLS (GnuTLS) over another transport. Verification is always on:
 *  - the chain must lead to `ca_file` if given, else to the system trust
 *    store, and every certificate must be within its validity period;
 *  - the certificate must match `host` (DNS name, or IP address SAN when
 *    `host` is an address literal);
 *  - with `fingerprint`, the SHA-256 of the server certificate (DER) or of
 *    its public key (SubjectPublicKeyInfo DER) must equal it; a matching
 *    pin replaces the CA and host name checks (the usual meaning of
 *    pinning a self-signed certificate); expiry is still checked.
 * TLS 1.2 is the minimum. Every failure message names the check that
 * failed and the config key that fixes it (ca_file, host, fingerprint).
 */
#ifndef TWINBOX_NET_TLS_H
#define TWINBOX_NET_TLS_H

#include "twinbox/net/transport.h"

struct tls_options {
	const char *host;        /* name to verify; also sent as SNI unless an address */
	unsigned port;           /* only for messages ("host:port"); 0 = leave out */
	const char *ca_file;     /* PEM bundle; NULL = system trust store */
	const char *fingerprint; /* NULL, or "sha256:" + 64 hex digits, colons optional */
	int timeout_ms;          /* whole handshake; <= 0 means 30 s */
};

/* Run the handshake over `inner` and verify the peer. Takes ownership of
 * `inner` in every case (closed on failure). Returns the TLS transport or
 * NULL (ERR_ACCOUNT). After the handshake, each read and write is bounded
 * by the inner transport's I/O timeout. A peer that closes without a TLS
 * close_notify reads as a plain EOF (IMAP and POP3 frame their data, so a
 * truncation cannot go unnoticed). */
struct transport *tls_wrap(struct transport *inner, const struct tls_options *opts, struct error *err);

/* "TLS1.3, AES-256-GCM" etc. for a transport made by tls_wrap (static
 * storage in the transport; valid until it is closed), NULL otherwise. */
const char *tls_describe(struct transport *t);

/* Parse "sha256:AB:CD:..." (colons and case free) into 32 bytes.
 * Returns 0, or -1 (ERR_ACCOUNT) with a message that quotes the text and
 * says what form is expected. */
int tls_parse_fingerprint(const char *text, unsigned char out[32], struct error *err);

/* Format 32 bytes as "sha256:AB:CD:..." (upper case, colons) into `out`,
 * the form tls_parse_fingerprint reads and error messages show. */
#define TLS_FINGERPRINT_TEXT_SIZE (7 + 32 * 3)
void tls_format_fingerprint(const unsigned char fp[32], char out[TLS_FINGERPRINT_TEXT_SIZE]);

#endif
