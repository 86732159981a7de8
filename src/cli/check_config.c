/*
 * twinbox check-config [--connect] [ACCOUNT...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "twinbox/config/config.h"
#include "twinbox/config/password.h"
#include "twinbox/imap/probe.h"
#include "twinbox/pop3/probe.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static const char check_usage[] = "Usage: twinbox check-config [--connect] [ACCOUNT...]\n";

static const char *security_label(enum config_tls tls)
{
	switch (tls) {
	case CONFIG_TLS_STARTTLS:
		return "STARTTLS";
	case CONFIG_TLS_NONE:
		return "no TLS";
	case CONFIG_TLS_IMPLICIT:
		break;
	}
	return "TLS";
}

static void describe_account(const struct config_account *a)
{
	const struct config_conn *c = &a->conn;

	printf("%s: %s %s:%u as %s (%s%s) -> %s (%s)\n", a->name, config_store_name(a->store), c->host,
	       c->port, c->user, security_label(c->tls),
	       c->fingerprint ? ", pinned"
	       : c->ca_file   ? ", own CA"
	                      : "",
	       a->maildir.path, a->maildir.layout == CONFIG_LAYOUT_NESTED ? "nested" : "maildir++");
}

/* Resolve the password and run the connection check. 0 or -1. */
static int connect_account(const struct config_account *a)
{
	const struct config_conn *c = &a->conn;
	struct conn_options opts = {
	    .host = c->host,
	    .port = c->port,
	    .tls = cli_tls_mode(c->tls),
	    .timeouts = {.connect_ms = c->timeout_ms, .io_ms = c->timeout_ms},
	    .ca_file = c->ca_file,
	    .fingerprint = c->fingerprint,
	};
	struct server_probe probe;
	struct error err;
	char *password;
	int rc;

	error_clear(&err);
	password = config_resolve_password(a, &err);
	if (!password) {
		log_error("%s: %s", a->name, err.text);
		return -1;
	}
	password_free(password); /* only resolved to prove it can be; no login yet */
	if (a->store == CONFIG_STORE_IMAP)
		rc = imap_probe(&opts, &probe, &err);
	else
		rc = pop3_probe(&opts, &probe, &err);
	if (rc < 0) {
		log_error("%s: %s", a->name, err.text);
		return -1;
	}
	printf("%s: connected to %s:%u, %s%s\n", a->name, c->host, c->port, probe.security,
	       opts.tls == TLS_NONE ? "" : ", certificate verified");
	printf("  greeting: %s\n", probe.greeting);
	printf("  capabilities: %s\n", probe.capabilities[0] ? probe.capabilities : "(none)");
	server_probe_free(&probe);
	return 0;
}

int cmd_check_config(struct cli_options *opts)
{
	bool do_connect = false;
	const char **names = xcalloc((size_t)opts->argc + 1, sizeof(*names));
	size_t n_names = 0, failed = 0, checked = 0;
	struct config *cfg;
	char *path;
	int rc = EXIT_OK;

	for (int i = 0; i < opts->argc; i++) {
		const char *a = opts->argv[i];
		if (strcmp(a, "--connect") == 0) {
			do_connect = true;
		} else if (a[0] == '-') {
			fprintf(stderr, "twinbox: check-config: unknown option %s\n%s", a, check_usage);
			free(names);
			return EXIT_USAGE;
		} else {
			names[n_names++] = a;
		}
	}

	cfg = cli_load_config(opts, &path);
	if (!cfg) {
		free(path);
		free(names);
		return EXIT_CONFIG;
	}
	for (size_t i = 0; i < n_names; i++) {
		if (!config_find_account(cfg, names[i])) {
			log_error("%s: no account named \"%s\"", path, names[i]);
			rc = EXIT_USAGE;
		}
	}
	if (rc == EXIT_OK) {
		printf("%s: valid, %zu account%s\n", path, cfg->account_count,
		       cfg->account_count == 1 ? "" : "s");
		for (size_t i = 0; i < cfg->account_count; i++) {
			const struct config_account *a = &cfg->accounts[i];
			bool wanted = n_names == 0;
			for (size_t j = 0; j < n_names && !wanted; j++)
				wanted = strcmp(names[j], a->name) == 0;
			if (!wanted)
				continue;
			describe_account(a);
			if (do_connect) {
				checked++;
				if (connect_account(a) < 0)
					failed++;
			}
		}
		if (failed)
			rc = failed == checked ? EXIT_FAILED : EXIT_PARTIAL;
	}
	config_free(cfg);
	free(path);
	free(names);
	return rc;
}
