/*
 * The config as the commands take it: the file loaded (its warnings
 * told), an account found, the log's lines on standard error; and from
 * an account's config to what the lower layers take: TLS mode,
 * connection, IMAP session and POP3 client options, sync rules. The
 * config layer sits above the protocol and sync layers, so the
 * translation lives here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "twinbox/config/password.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/store/maildir_store.h"
#include "twinbox/store/pop3_store.h"
#include "twinbox/util/xmalloc.h"

char *cli_config_path(const struct cli_options *opts)
{
	return opts->config_path ? xstrdup(opts->config_path) : config_default_path();
}

struct config *cli_load_config(const struct cli_options *opts, char **path_r)
{
	struct config *cfg;
	struct error err;
	char *path = cli_config_path(opts);

	*path_r = path;
	if (!path) {
		fprintf(stderr,
		        "twinbox: no config file: set HOME or XDG_CONFIG_HOME, or use --config FILE\n");
		return NULL;
	}
	error_clear(&err);
	cfg = config_load(path, &err);
	if (!cfg) {
		log_error("%s", err.text);
		return NULL;
	}
	for (size_t i = 0; i < cfg->warning_count; i++)
		log_warn("%s", cfg->warnings[i]);
	return cfg;
}

int cli_account_command(struct cli_options *opts, const char *usage, enum config_store store,
                        const char *wrong_store,
                        int (*run)(const struct config *cfg, const struct config_account *a))
{
	const struct config_account *a;
	struct config *cfg;
	char *path;
	int rc;

	if (opts->argc != 1 || opts->argv[0][0] == '-') {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	cfg = cli_load_config(opts, &path);
	if (!cfg) {
		free(path);
		return EXIT_CONFIG;
	}
	a = config_find_account(cfg, opts->argv[0]);
	if (!a) {
		log_error("%s: no account named \"%s\"", path, opts->argv[0]);
		rc = EXIT_USAGE;
	} else if (a->side[SIDE_A].store != store) {
		log_error("%s: %s", a->name, wrong_store);
		rc = EXIT_USAGE;
	} else {
		rc = run(cfg, a);
	}
	config_free(cfg);
	free(path);
	return rc;
}

void cli_log_sink(enum log_level level, const char *line, void *ctx)
{
	char stamp[LOG_STAMP_MAX];

	(void)ctx;
	if (level == LOG_ERROR)
		fprintf(stderr, "%stwinbox: error: %s\n", log_stamp(stamp), line);
	else if (level == LOG_WARN)
		fprintf(stderr, "%stwinbox: warning: %s\n", log_stamp(stamp), line);
	else
		fprintf(stderr, "%s%s\n", log_stamp(stamp), line);
}

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
	o->no_compress = !c->compress;
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

struct store *cli_side_store(const struct config_account *a, enum side s,
                             const struct imap_session_options *io, struct error *err)
{
	const struct config_side *side = &a->side[s];

	struct pop3_options po;

	if (side->store == CONFIG_STORE_MAILDIR)
		return maildir_store_open(side->maildir.path,
		                          side->maildir.layout == CONFIG_LAYOUT_NESTED
		                              ? MAILDIR_LAYOUT_NESTED
		                              : MAILDIR_LAYOUT_MAILDIRPP,
		                          err);
	if (side->store == CONFIG_STORE_IMAP)
		return imap_store_open(io, err);
	cli_pop3_options(&side->conn, io->password, &po);
	po.max_message_size = 0; /* max_size skips by LIST size; nothing is cut */
	return pop3_store_open(&po, err);
}

struct store *cli_open_side(const struct config_account *a, enum side s, struct error *err)
{
	const struct config_side *side = &a->side[s];
	struct imap_session_options o;
	struct store *st;
	char *password;

	if (side->store == CONFIG_STORE_MAILDIR)
		return cli_side_store(a, s, NULL, err);
	if (!(password = config_side_password(a, s, err)))
		return NULL;
	cli_imap_options(&side->conn, password, &o);
	st = cli_side_store(a, s, &o, err);
	password_free(password);
	return st;
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

void cli_folder_options(const struct config_account *a, struct cli_folders *m, struct sync_options *o)
{
	const struct config_folders *f = &a->folders;

	memset(m, 0, sizeof(*m));
	o->include = (const char *const *)f->include;
	o->include_count = f->include_count;
	o->exclude = (const char *const *)f->exclude;
	o->exclude_count = f->exclude_count;
	if (!f->special_use && !f->rename_count)
		return;
	m->renames = xcalloc(f->rename_count + 1, sizeof(*m->renames));
	for (size_t i = 0; i < f->rename_count; i++)
		m->renames[i] = (struct store_rename){f->rename_from[i], f->rename_to[i]};
	m->rules = (struct folder_map_rules){f->special_use, m->renames, f->rename_count, {NULL, NULL}};
	if (!a->two_servers) {
		m->rules.words[SIDE_A] = "the server";
		m->rules.words[SIDE_B] = "the Maildir";
	}
	o->mapping = &m->rules;
}

void cli_folders_free(struct cli_folders *m)
{
	free(m->renames);
	memset(m, 0, sizeof(*m));
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

int cli_parse_accounts(const struct cli_options *opts, const char *command, const char *usage,
                       const char *const *options, bool *given, struct cli_accounts *r)
{
	r->names = xcalloc((size_t)opts->argc + 1, sizeof(*r->names));
	r->count = 0;
	for (int i = 0; i < opts->argc; i++) {
		const char *a = opts->argv[i];
		size_t k = 0;

		if (a[0] != '-') {
			r->names[r->count++] = a;
			continue;
		}
		while (options[k] && strcmp(options[k], a) != 0)
			k++;
		if (!options[k]) {
			fprintf(stderr, "twinbox: %s: unknown option %s\n%s", command, a, usage);
			return -1;
		}
		given[k] = true;
	}
	return 0;
}

int cli_check_accounts(const struct config *cfg, const char *path, const struct cli_accounts *r)
{
	int rc = EXIT_OK;

	for (size_t i = 0; i < r->count; i++) {
		if (!config_find_account(cfg, r->names[i])) {
			log_error("%s: no account named \"%s\"", path, r->names[i]);
			rc = EXIT_USAGE;
		}
	}
	return rc;
}

bool cli_account_wanted(const struct cli_accounts *r, const struct config_account *a)
{
	for (size_t i = 0; i < r->count; i++)
		if (strcmp(r->names[i], a->name) == 0)
			return true;
	return r->count == 0;
}

void cli_accounts_free(struct cli_accounts *r)
{
	free(r->names);
	memset(r, 0, sizeof(*r));
}
