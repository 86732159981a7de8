/*
 * POP3 connection check: the import's client, opened without a login, so
 * the check meets the same rules and bounds as an import.
 */
#include "twinbox/pop3/probe.h"

#include <string.h>

#include "twinbox/pop3/client.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

int pop3_probe_conn(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                    struct error *err)
{
	struct pop3_options o = {.conn = *opts};
	struct pop3_client *p = pop3_client_new(c, &o);
	struct error ignored;

	memset(probe_r, 0, sizeof(*probe_r));
	if (pop3_client_open(p, err) < 0) {
		pop3_close(p);
		return -1;
	}
	probe_r->greeting = xstrdup(pop3_greeting(p));
	probe_r->capabilities = xstrdup(pop3_capabilities(p));
	probe_r->security = xstrdup(conn_security(pop3_client_conn(p)));
	probe_r->discarded = pop3_stls_discarded(p);
	/* QUIT is a courtesy (nothing was marked); its failure changes
	 * nothing. */
	if (pop3_quit(p, &ignored) < 0)
		log_debug("pop3: %s", ignored.text);
	pop3_close(p);
	return 0;
}

int pop3_probe(const struct conn_options *opts, struct server_probe *probe_r, struct error *err)
{
	return server_probe_run(opts, pop3_probe_conn, probe_r, err);
}
