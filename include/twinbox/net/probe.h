/*
 * What a connection check found: used by `twinbox check-config --connect`
 * through imap_probe() and pop3_probe().
 */
#ifndef TWINBOX_NET_PROBE_H
#define TWINBOX_NET_PROBE_H

#include <stddef.h>

struct server_probe {
	char *greeting;     /* the greeting line as the server sent it */
	char *capabilities; /* as reported last (after TLS): IMAP atoms separated
	                     * by spaces, POP3 CAPA lines separated by ", " */
	char *security;     /* e.g. "TLS1.3, AES-256-GCM", or "plain" */
	size_t discarded;   /* bytes dropped at the STARTTLS upgrade */
};

void server_probe_free(struct server_probe *p);

#endif
