/*
 * twinbox check-config [--connect] [ACCOUNT...]
 *
 * Without --connect: the config is read and each account described. With
 * it, each account is tried as a sync would use it: its password
 * resolved, its server reached (TLS verified), the login made, and its
 * Maildir and state directory found usable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "twinbox/config/config.h"
#include "twinbox/config/password.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/probe.h"
#include "twinbox/imap/session.h"
#include "twinbox/pop3/client.h"
#include "twinbox/pop3/probe.h"
#include "twinbox/util/buf.h"
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

/* "imap host:port as user (TLS, pinned)" of a server side. */
static void describe_server(const struct config_side *side)
{
	const struct config_conn *c = &side->conn;

	printf("%s %s:%u as %s (%s%s)", config_store_name(side->store), c->host, c->port, c->user,
	       security_label(c->tls),
	       c->fingerprint ? ", pinned"
	       : c->ca_file   ? ", own CA"
	                      : "");
}

static void describe_side(const struct config_side *side)
{
	if (side->store == CONFIG_STORE_MAILDIR)
		printf("%s (%s)", side->maildir.path,
		       side->maildir.layout == CONFIG_LAYOUT_NESTED ? "nested" : "maildir++");
	else
		describe_server(side);
}

/* "NAME: SOURCE -> TARGET" (a Maildir source first, as written). */
static void describe_account(const struct config_account *a)
{
	enum side first = a->maildir_source ? SIDE_B : SIDE_A;

	printf("%s: ", a->name);
	describe_side(&a->side[first]);
	printf(" -> ");
	describe_side(&a->side[first == SIDE_A ? SIDE_B : SIDE_A]);
	printf("\n");
}

/*
 * Whether directory `path` can be used: it is a directory this process
 * may write in, or it does not exist yet and its nearest existing parent
 * is one (the first sync makes it). 0 with *exists_r, or -1 with why.
 */
static int check_dir(const char *what, const char *path, bool *exists_r, struct error *err)
{
	struct stat sb;
	char *p;
	int rc = 0;

	*exists_r = stat(path, &sb) == 0;
	if (*exists_r) {
		if (!S_ISDIR(sb.st_mode))
			return error_set(err, ERR_ACCOUNT,
			                 "%s %s is not a directory; change the path or move it away", what,
			                 path);
		if (access(path, W_OK | X_OK) != 0)
			return error_errno(err, ERR_ACCOUNT, errno, "%s %s cannot be written to", what, path);
		return 0;
	}
	if (errno != ENOENT && errno != ENOTDIR) /* ENOTDIR: a parent is a file, said below */
		return error_errno(err, ERR_ACCOUNT, errno, "%s %s cannot be used", what, path);
	p = xstrdup(path);
	for (;;) {
		char *slash = strrchr(p, '/');
		if (!slash)
			break;
		slash[slash == p] = '\0'; /* "/a" -> "/" */
		if (stat(p, &sb) != 0) {
			if ((errno == ENOENT || errno == ENOTDIR) && strcmp(p, "/") != 0)
				continue;
			rc = error_errno(err, ERR_ACCOUNT, errno, "%s %s cannot be created: %s", what, path,
			                 p);
		} else if (!S_ISDIR(sb.st_mode)) {
			rc = error_set(err, ERR_ACCOUNT, "%s %s cannot be created: %s is not a directory",
			               what, path, p);
		} else if (access(p, W_OK | X_OK) != 0) {
			rc = error_errno(err, ERR_ACCOUNT, errno, "%s %s cannot be created in %s", what, path,
			                 p);
		}
		break;
	}
	free(p);
	return rc;
}

/* The account's Maildir (if it has one) and state can be used. 0 or -1
 * (said why). */
static int check_paths(const struct config *cfg, const struct config_account *a)
{
	const char *maildir =
	    a->side[SIDE_B].store == CONFIG_STORE_MAILDIR ? a->side[SIDE_B].maildir.path : NULL;
	char *db = config_state_path(cfg, a);
	struct error err;
	bool maildir_exists = false, state_exists;
	int rc = -1;

	error_clear(&err);
	if ((maildir && check_dir("the Maildir", maildir, &maildir_exists, &err) < 0) ||
	    check_dir("the state directory", cfg->state_dir, &state_exists, &err) < 0)
		goto out;
	if (access(db, F_OK) == 0 && access(db, R_OK | W_OK) != 0) {
		error_errno(&err, ERR_ACCOUNT, errno, "the state database %s cannot be written to", db);
		goto out;
	}
	if (maildir)
		printf("  maildir: %s%s\n", maildir,
		       maildir_exists ? "" : " (does not exist yet; the first sync makes it)");
	printf("  state: %s%s\n", db,
	       state_exists ? "" : " (its directory does not exist yet; the first sync makes it)");
	rc = 0;
out:
	if (rc < 0)
		log_error("%s: %s", a->name, err.text);
	free(db);
	return rc;
}

/* INBOX's quota as an IMAP server tells it (GETQUOTAROOT), one line
 * into `out`; nothing when the server does not offer QUOTA. STORAGE
 * counts KiB, which the config writes KB. */
static void describe_quota(struct imap_session *s, struct buf *out)
{
	struct imap_quota_root *v;
	size_t n;
	struct error err;

	if (!imap_has_cap(s, "QUOTA"))
		return;
	if (imap_getquotaroot(s, "INBOX", &v, &n, &err) < 0) {
		buf_printf(out, "  quota: not told (%s)\n", err.text);
		return;
	}
	buf_printf(out, "  quota of INBOX:%s", n ? "" : " no limit");
	for (size_t i = 0; i < n; i++) {
		buf_printf(out, "%s \"%s\"", i ? ";" : "", v[i].name);
		if (v[i].have & IMAP_QUOTA_STORAGE)
			buf_printf(out, ", %" PRIu64 " KB of %" PRIu64 " KB used", v[i].storage_used,
			           v[i].storage_limit);
		if (v[i].have & IMAP_QUOTA_MESSAGE)
			buf_printf(out, ", %" PRIu64 " of %" PRIu64 " messages", v[i].message_used,
			           v[i].message_limit);
		if (!(v[i].have & (IMAP_QUOTA_STORAGE | IMAP_QUOTA_MESSAGE)))
			buf_printf(out, ", no limit");
	}
	buf_printf(out, "\n");
	imap_quota_roots_free(v, n);
}

/* Log in to server side `side` with `password` and leave again, with
 * what there is to say of the account's quota in `quota`. 0, or -1 with
 * err. */
static int login(const struct config_side *side, const char *password, struct buf *quota, struct error *err)
{
	if (side->store == CONFIG_STORE_IMAP) {
		struct imap_session_options o;
		struct imap_session *s;

		cli_imap_options(&side->conn, password, &o);
		s = imap_connect(&o, err);
		if (!s)
			return -1;
		describe_quota(s, quota);
		imap_session_close(s);
	} else {
		struct pop3_options o;
		struct pop3_client *p;
		struct error ignored;

		cli_pop3_options(&side->conn, password, &o);
		p = pop3_connect(&o, err);
		if (!p)
			return -1;
		pop3_quit(p, &ignored);
		pop3_close(p);
	}
	return 0;
}

/* Resolve the password of server side `s`, run the connection check,
 * log in. 0 or -1. */
static int connect_side(const struct config_account *a, enum side s)
{
	const struct config_side *side = &a->side[s];
	const struct config_conn *c = &side->conn;
	const char *label = !a->two_servers ? "" : s == SIDE_A ? " (source)" : " (target)";
	struct conn_options opts = cli_conn_options(c);
	struct server_probe probe;
	struct buf quota = BUF_INIT;
	struct error err;
	char *password;
	int rc;

	error_clear(&err);
	password = config_side_password(a, s, &err);
	if (!password) {
		log_error("%s: %s", a->name, err.text);
		return -1;
	}
	if (side->store == CONFIG_STORE_IMAP)
		rc = imap_probe(&opts, &probe, &err);
	else
		rc = pop3_probe(&opts, &probe, &err);
	if (rc < 0) {
		password_free(password);
		log_error("%s%s: %s", a->name, label, err.text);
		return -1;
	}
	printf("%s%s: connected to %s:%u, %s%s\n", a->name, label, c->host, c->port, probe.security,
	       opts.tls == TLS_NONE ? "" : ", certificate verified");
	printf("  greeting: %s\n", probe.greeting);
	printf("  capabilities: %s\n", probe.capabilities[0] ? probe.capabilities : "(none)");
	server_probe_free(&probe);
	fflush(stdout);
	rc = login(side, password, &quota, &err);
	password_free(password);
	if (rc < 0) {
		buf_free(&quota);
		log_error("%s%s: %s", a->name, label, err.text);
		return -1;
	}
	printf("  login: accepted for %s\n%s", c->user, buf_cstr(&quota));
	buf_free(&quota);
	return 0;
}

/* Each server side connected to and logged in to, the paths checked.
 * 0 or -1. */
static int connect_account(const struct config *cfg, const struct config_account *a)
{
	for (int s = 0; s < SIDES; s++)
		if (a->side[s].store != CONFIG_STORE_MAILDIR && connect_side(a, s) < 0)
			return -1;
	return check_paths(cfg, a);
}

int cmd_check_config(struct cli_options *opts)
{
	static const char *const options[] = {"--connect", NULL};
	bool do_connect = false;
	struct cli_accounts names;
	size_t failed = 0, checked = 0;
	struct config *cfg;
	char *path;
	int rc;

	if (cli_parse_accounts(opts, "check-config", check_usage, options, &do_connect, &names) < 0) {
		cli_accounts_free(&names);
		return EXIT_USAGE;
	}
	cfg = cli_load_config(opts, &path);
	if (!cfg) {
		free(path);
		cli_accounts_free(&names);
		return EXIT_CONFIG;
	}
	rc = cli_check_accounts(cfg, path, &names);
	if (rc == EXIT_OK) {
		printf("%s: valid, %zu account%s\n", path, cfg->account_count,
		       cfg->account_count == 1 ? "" : "s");
		for (size_t i = 0; i < cfg->account_count; i++) {
			const struct config_account *a = &cfg->accounts[i];
			if (!cli_account_wanted(&names, a))
				continue;
			describe_account(a);
			if (do_connect) {
				checked++;
				if (connect_account(cfg, a) < 0)
					failed++;
			}
		}
		if (failed)
			rc = failed == checked ? EXIT_FAILED : EXIT_PARTIAL;
	}
	config_free(cfg);
	free(path);
	cli_accounts_free(&names);
	return rc;
}
