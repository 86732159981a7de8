#include "twinbox/net/probe.h"

#include <stdlib.h>

void server_probe_free(struct server_probe *p)
{
	free(p->greeting);
	free(p->capabilities);
	free(p->security);
	p->greeting = p->capabilities = p->security = NULL;
}
