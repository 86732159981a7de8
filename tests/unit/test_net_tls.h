/* Helpers of the net_tls tests (test_net_tls_support.c): a TLS server,
 * GnuTLS's server side on 127.0.0.1 with a certificate for 127.0.0.1
 * from a fresh test CA (dv_certs_create); servers in threads that send
 * what the tests read; the client; a spy between TLS and TCP. What the
 * server threads call (tls_peer_accept and the tls_peer_link functions)
 * reports failure by return value, never with cr_assert, which only
 * works in the test's own thread. */
#ifndef TWINBOX_TEST_NET_TLS_H
#define TWINBOX_TEST_NET_TLS_H

#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/net/conn.h"
#include "twinbox/net/transport.h"

/* A listening socket with the server's certificate. */
struct tls_peer {
	int lfd;
	unsigned port;
	char dir[64];  /* the certificates; "" once removed */
	char *ca_file; /* dir/ca.pem, for the client's ca_file */
	gnutls_certificate_credentials_t cred;
};

/* Make the certificates, load them, listen (cr_assert on failure). */
void tls_peer_init(struct tls_peer *p);
/* Remove the certificate files: the server holds them in memory, the
 * client only reads ca_file while it connects. */
void tls_peer_forget_files(struct tls_peer *p);
void tls_peer_fini(struct tls_peer *p);

/* One accepted connection, after the handshake (TLS 1.3 unless the client
 * asks for less; no session tickets, so nothing but what the test sends
 * follows the handshake). */
struct tls_peer_link {
	int fd;
	gnutls_session_t session;
	bool sealing;          /* records go to `sealed`, not to the socket */
	unsigned char *sealed; /* wire bytes made by tls_peer_seal() */
	size_t sealed_len, sealed_cap;
};

/* Accept and handshake; 0, or -1 (nothing to free). Every wait of the
 * server is bounded (10 s), so that a client that failed cannot leave
 * the thread hanging. */
int tls_peer_accept(struct tls_peer *p, struct tls_peer_link *l);
/* Send `len` bytes as records of at most 16 KB, each written at once.
 * 0 or -1. */
int tls_peer_send(struct tls_peer_link *l, const void *data, size_t len);
/* Encrypt `len` (<= 16 KB) bytes as one record without sending it; its
 * wire bytes are appended to l->sealed. 0 or -1. */
int tls_peer_seal(struct tls_peer_link *l, const void *data, size_t len);
/* Write wire bytes as they are. 0 or -1. */
int tls_peer_write_wire(struct tls_peer_link *l, const void *data, size_t len);
/* Wait for one byte of plaintext from the client: 0, or -1 at EOF or on
 * error. */
int tls_peer_recv_byte(struct tls_peer_link *l);
/* Read until the client hangs up. */
void tls_peer_drain(struct tls_peer_link *l);
void tls_peer_close(struct tls_peer_link *l);

/* The TLS form of test_net_tcp.c's trickler: a thread that accepts one
 * client, encrypts `data` into records (`sends` gives the plaintext bytes
 * of each gnutls_record_send, in turn; more than 16 KB makes several
 * records), then writes the records' wire bytes in pieces (`pieces` wire
 * bytes each, in turn; NULL: the records of one send per piece) with a
 * pause before each. After the piece that ends the records of the first
 * `stop_after` plaintext bytes (a send boundary; 0: never stops) it waits
 * for one byte from the client. Then it reads until the client hangs
 * up. */
struct tls_trickler {
	struct tls_peer *peer;
	const unsigned char *data;
	size_t len;
	const size_t *sends;
	size_t nsends;
	const size_t *pieces;
	size_t npieces;
	int pause_us;
	size_t stop_after;

	/* Filled in by the thread; read after tls_trickler_join(). */
	size_t nrec;
	size_t *rec_plain_end; /* plaintext bytes through record i */
	size_t *rec_wire_end;  /* wire bytes through record i */
	bool ok;               /* everything sent as asked */
	pthread_t th;
};

void tls_trickler_start(struct tls_trickler *tr);
/* After the client closed: join the thread, check it did its part. */
void tls_trickler_join(struct tls_trickler *tr);
void tls_trickler_free(struct tls_trickler *tr);
/* Wire bytes through the record that holds plaintext byte `plain` - 1:
 * what the client must receive to have the first `plain` bytes. */
size_t tls_trickler_wire_through(const struct tls_trickler *tr, size_t plain);
/* Plaintext bytes of the records wholly within the first `wire` wire
 * bytes. */
size_t tls_trickler_plain_within(const struct tls_trickler *tr, size_t wire);

/* A test_net_tcp.c fetcher over TLS: a thread that accepts one client
 * and serves `count` FETCH responses, each with a literal of `len` bytes
 * (`len` > 1000), one each time the client sends a byte: a record of the
 * header with the literal's first 1000 bytes, and after a pause of 5 ms
 * a record of the rest and one of the closing ")". */
struct tls_fetcher {
	struct tls_peer *peer;
	int count;
	size_t len;
	const unsigned char *body;

	bool ok; /* every response sent */
	pthread_t th;
};

void tls_fetcher_start(struct tls_fetcher *fe);
/* After the client closed: join the thread, check it did its part. */
void tls_fetcher_join(struct tls_fetcher *fe);

/* A transport between TLS and TCP that notes each hint TLS passes down,
 * with the bytes TLS had read through it by then (counted from the end
 * of the handshake). Closing it closes TCP but keeps the notes. */
#define TLS_SPY_HINTS 4096

struct tls_spy {
	struct transport base;
	struct transport *inner;
	uint64_t read;
	size_t nhints;
	struct {
		uint64_t bytes, read;
	} hints[TLS_SPY_HINTS];
};

/* The client: a TLS connection to `p` on 127.0.0.1 with `io_ms` as the
 * I/O timeout, verified with p->ca_file, opened with conn_open. Removes
 * the certificate files (cr_assert on failure). */
struct conn *tls_peer_connect(struct tls_peer *p, int io_ms);
/* The same as a bare TLS transport (what conn_open wraps), with `spy`
 * between TLS and TCP. */
struct transport *tls_peer_connect_spied(struct tls_peer *p, int io_ms, struct tls_spy *spy);

#endif
