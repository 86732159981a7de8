/*
 * IMAP connection check: the session itself, opened without a login, so
 * the check meets the same rules and bounds as a sync (greeting, STARTTLS
 * and its injection guard, PREAUTH, [ALERT]s, line and response limits).
 */
#include "twinbox/imap/probe.h"

#include <string.h>

#include "twinbox/imap/session.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* No response to the few commands of a check is longer. */
#define PROBE_LINE_MAX (64 * 1024)

int imap_probe_conn(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                    struct error *err)
{
	struct imap_session_options o = {
	    .conn = *opts,
	    /* In a trace of `check-config --connect` the check's commands
	     * (T1, T2...) stand apart from the login's (A1, A2...). */
	    .tag_prefix = "T",
	    /* Report the server's answer to CAPABILITY, not a greeting's list. */
	    .ask_capability = true,
	    .limits = {.max_line = PROBE_LINE_MAX},
	};
	struct imap_session *s = imap_session_new(c, &o);
	struct imap_cmd logout;
	struct error ignored;

	memset(probe_r, 0, sizeof(*probe_r));
	if (imap_session_open(s, err) < 0) {
		imap_session_free(s);
		return -1;
	}
	probe_r->greeting = xasprintf("* %s", imap_greeting(s));
	probe_r->capabilities = xstrdup(imap_capabilities(s));
	probe_r->security = xstrdup(conn_security(imap_session_conn(s)));
	probe_r->discarded = imap_starttls_discarded(s);
	if (probe_r->discarded)
		log_warn("%s:%u sent %zu bytes after accepting STARTTLS; they were discarded", opts->host,
		         opts->port, probe_r->discarded);
	/* LOGOUT, waiting for the answer, is a courtesy; its failure changes
	 * nothing. */
	imap_cmd_init(&logout, "LOGOUT");
	if (imap_run(s, &logout, &ignored) < 0)
		log_debug("imap: %s", ignored.text);
	imap_cmd_free(&logout);
	imap_session_free(s);
	return 0;
}

int imap_probe(const struct conn_options *opts, struct server_probe *probe_r, struct error *err)
{
	return server_probe_run(opts, imap_probe_conn, probe_r, err);
}
