/* Plain TCP transport. */
#ifndef TWINBOX_NET_TCP_H
#define TWINBOX_NET_TCP_H

#include "twinbox/net/transport.h"

struct net_timeouts {
	int connect_ms; /* per address tried; <= 0 means 30 s */
	int io_ms;      /* for each read or write to make progress; <= 0 means 30 s */
	/* A descriptor (an eventfd, a pipe's read end) that another thread
	 * makes readable to cut the connection's waits short: from then on
	 * every wait to connect, read or write fails at once (ERR_ACCOUNT,
	 * "... was cancelled"), and so does a connect in progress. The
	 * owner keeps it open while the connection lives and never reads
	 * it while a wait must end. <= 0: none (descriptor 0 is never
	 * one). Name resolution is not cut short. */
	int cancel_fd;
};

/* Resolve `host` and connect to `port`, trying each address in turn
 * within the connect timeout. The message of a failure names the host and
 * port and says whether resolution, refusal or a timeout was the cause.
 * Returns a transport owned by the caller, or NULL (ERR_ACCOUNT; when
 * every address refused or timed out, ERR_RETRY_LOST; when `to`'s
 * cancel_fd cut it short, "connecting to HOST:PORT was cancelled"). */
struct transport *tcp_connect(const char *host, unsigned port, const struct net_timeouts *to,
                              struct error *err);

/* Wrap an already connected socket (tests); takes ownership of `fd`. */
struct transport *tcp_from_fd(int fd, const struct net_timeouts *to);

#endif
