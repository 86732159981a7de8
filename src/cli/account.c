/*
 * From an account's config to what the lower layers take: TLS mode,
 * connection, IMAP session and POP3 client options. The config layer sits above the protocol and
 * sync layers, so the translation lives here.
 */
#include <string.h>

#include "cli.h"

enum tls_mode cli_tls_mode(enum config_tls tls)
{
	switch (tls) {
	case CONFIG_TLS_STARTTLS:
		return TLS_STARTTLS;
	case CONFIG_TLS_NONE:
		return TLS_NONE;
	case CONFIG_TLS_IMPLICIT:
		break;
	}
	return TLS_IMPLICIT;
}

struct conn_options cli_conn_options(const struct config_conn *c)
{
	struct conn_options o = {
	    .host = c->host,
	    .port = c->port,
	    .tls = cli_tls_mode(c->tls),
	    .timeouts = {.connect_ms = c->timeout_ms, .io_ms = c->timeout_ms},
	    .ca_file = c->ca_file,
	    .fingerprint = c->fingerprint,
	};

	return o;
}

void cli_imap_options(const struct config_conn *c, const char *password, struct imap_session_options *o)
{
	memset(o, 0, sizeof(*o));
	o->conn = cli_conn_options(c);
	o->user = c->user;
	o->password = password;
	for (size_t i = 0; i < c->auth_count && o->mech_count < IMAP_MECH_MAX; i++) {
		switch (c->auth[i]) {
		case CONFIG_AUTH_PLAIN:
			o->mechs[o->mech_count++] = IMAP_MECH_PLAIN;
			break;
		case CONFIG_AUTH_LOGIN:
			o->mechs[o->mech_count++] = IMAP_MECH_LOGIN;
			break;
		case CONFIG_AUTH_XOAUTH2:
			o->mechs[o->mech_count++] = IMAP_MECH_XOAUTH2;
			break;
		case CONFIG_AUTH_OAUTHBEARER:
			o->mechs[o->mech_count++] = IMAP_MECH_OAUTHBEARER;
			break;
		default: /* POP3-only mechanisms; the config refuses them for IMAP */
			break;
		}
	}
}

static enum plan_where where_of(enum config_where w)
{
	return (w & CONFIG_WHERE_REMOTE ? PLAN_WHERE_REMOTE : 0) |
	       (w & CONFIG_WHERE_LOCAL ? PLAN_WHERE_LOCAL : 0);
}

void cli_plan_rules(const struct config_account *a, struct plan_rules *rules)
{
	const struct config_sync *s = &a->sync;

	plan_rules_init(rules);
	rules->direction = s->direction == CONFIG_DIRECTION_PULL   ? PLAN_DIRECTION_PULL
	                   : s->direction == CONFIG_DIRECTION_PUSH ? PLAN_DIRECTION_PUSH
	                                                           : PLAN_DIRECTION_BOTH;
	rules->flags = s->flags;
	rules->expunge = where_of(s->expunge);
	rules->create = where_of(s->create);
	rules->max_size = s->max_size;
	rules->remove_folders = s->remove_folders;
	if (a->two_servers) {
		static const struct plan_side_words servers[SIDES] = {
		    [SIDE_A] = {"source UID", "on the source server", "the source server",
		                "messages on the source server",
		                "the folder is now empty on the source server", "", "remote"},
		    [SIDE_B] = {"target UID", "on the target server", "the target server",
		                "messages on the target server",
		                "the folder is now empty on the target server", "", "local"},
		};
		rules->words[SIDE_A] = servers[SIDE_A];
		rules->words[SIDE_B] = servers[SIDE_B];
	}
}

void cli_pop3_options(const struct config_conn *c, const char *password, struct pop3_options *o)
{
	memset(o, 0, sizeof(*o));
	o->conn = cli_conn_options(c);
	o->user = c->user;
	o->password = password;
	for (size_t i = 0; i < c->auth_count && o->mech_count < POP3_MECH_MAX; i++) {
		static const struct {
			enum config_auth from;
			enum pop3_mech to;
		} map[] = {
		    {CONFIG_AUTH_USER, POP3_MECH_USER},
		    {CONFIG_AUTH_APOP, POP3_MECH_APOP},
		    {CONFIG_AUTH_PLAIN, POP3_MECH_PLAIN},
		    {CONFIG_AUTH_LOGIN, POP3_MECH_LOGIN},
		    {CONFIG_AUTH_XOAUTH2, POP3_MECH_XOAUTH2},
		    {CONFIG_AUTH_OAUTHBEARER, POP3_MECH_OAUTHBEARER},
		};
		for (size_t m = 0; m < sizeof(map) / sizeof(map[0]); m++)
			if (map[m].from == c->auth[i])
				o->mechs[o->mech_count++] = map[m].to;
	}
}
