#include "twinbox/net/probe.h"

#include <stdlib.h>
#include <string.h>

#include "twinbox/net/conn.h"

void server_probe_free(struct server_probe *p)
{
	free(p->greeting);
	free(p->capabilities);
	free(p->security);
	p->greeting = p->capabilities = p->security = NULL;
}

int server_probe_run(const struct conn_options *opts, server_probe_fn fn, struct server_probe *probe_r,
                     struct error *err)
{
	struct conn *c = conn_open(opts, err);

	if (!c) {
		memset(probe_r, 0, sizeof(*probe_r));
		return -1;
	}
	return fn(c, opts, probe_r, err);
}
