/*
 * What a connection check found: used by `twinbox check-config --connect`
 * through imap_probe() and pop3_probe().
 */
#ifndef TWINBOX_NET_PROBE_H
#define TWINBOX_NET_PROBE_H

#include <stddef.h>

#include "twinbox/util/error.h"

struct server_probe {
	char *greeting;     /* the greeting line as the server sent it */
	char *capabilities; /* as reported last (after TLS): IMAP atoms separated
	                     * by spaces, POP3 CAPA lines separated by ", " */
	char *security;     /* e.g. "TLS1.3, AES-256-GCM", or "plain" */
	size_t discarded;   /* bytes dropped at the STARTTLS upgrade */
};

void server_probe_free(struct server_probe *p);

struct conn;
struct conn_options;

/* The check of one protocol over an open connection, which it takes
 * over (closed when it returns). */
typedef int (*server_probe_fn)(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                               struct error *err);

/* Connect with `opts` and run `fn`. *probe_r is zeroed on failure. */
int server_probe_run(const struct conn_options *opts, server_probe_fn fn, struct server_probe *probe_r,
                     struct error *err);

#endif
