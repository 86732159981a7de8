/*
 * twinbox list-folders ACCOUNT: log in and print the remote folders with
 * their special use and message count — the first thing a user runs to
 * see twinbox reach the server. The names are those `twinbox sync
 * ACCOUNT:FOLDER` takes (levels joined by '/', without the namespace
 * prefix), INBOX first, then sorted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "twinbox/config/config.h"
#include "twinbox/config/password.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static const char list_usage[] = "Usage: twinbox list-folders ACCOUNT\n";

/* One line of the list. */
struct row {
	char *name;       /* as `twinbox sync ACCOUNT:NAME` takes it, or as sent */
	const char *note; /* why sync leaves it out, or "" */
	const struct imap_folder *f;
};

char *cli_imap_sync_name(const struct imap_folder *f, const char *prefix, const char **note_r)
{
	const char *wire = f->name, *rest;
	size_t plen = strlen(prefix);
	char *name;

	*note_r = "";
	if (!wire) {
		*note_r = "  (name not valid modified UTF-7; shown as sent, not synced)";
		return xstrdup(f->raw);
	}
	if (strcasecmp(wire, "INBOX") == 0)
		return xstrdup("INBOX");
	rest = wire;
	if (plen && strncmp(wire, prefix, plen) == 0 && wire[plen])
		rest = wire + plen;
	else if (plen)
		*note_r = "  (another namespace, not synced)";
	if (f->delimiter && f->delimiter != '/' && strchr(rest, '/'))
		*note_r = "  (a '/' inside a level name, not synced)";
	name = xstrdup(*note_r[0] ? wire : rest);
	if (!*note_r[0] && f->delimiter)
		for (char *p = name; *p; p++)
			if (*p == f->delimiter)
				*p = '/';
	return name;
}

/* INBOX first, then by name. */
static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void print_folders(const struct imap_folder *f, size_t n, const char *prefix)
{
	struct row *rows = xcalloc(n + 1, sizeof(*rows));

	for (size_t i = 0; i < n; i++) {
		rows[i].name = cli_imap_sync_name(&f[i], prefix, &rows[i].note);
		rows[i].f = &f[i];
	}
	qsort(rows, n, sizeof(*rows), cmp_row);
	printf("%-40s %-12s %s\n", "FOLDER", "SPECIAL-USE", "MESSAGES");
	for (size_t i = 0; i < n; i++) {
		const struct imap_folder *fi = rows[i].f;
		/* escaped here too: stdout keeps LF (util/log.h) */
		char *name = log_escape(rows[i].name);
		char count[32];

		if (fi->attrs & IMAP_FOLDER_NOSELECT)
			snprintf(count, sizeof(count), "-");
		else if (fi->status.have & IMAP_STATUS_MESSAGES)
			snprintf(count, sizeof(count), "%u", fi->status.messages);
		else
			snprintf(count, sizeof(count), "?");
		printf("%-40s %-12s %s%s\n", name, imap_special_use_name(fi->special_use), count,
		       rows[i].note);
		free(name);
		free(rows[i].name);
	}
	free(rows);
}

static int list_account(const struct config *cfg, const struct config_account *a)
{
	struct imap_session_options o;
	struct imap_session *s;
	struct imap_folder *folders;
	size_t count;
	struct error err;
	char *password;

	(void)cfg;
	error_clear(&err);
	password = config_resolve_password(a, &err);
	if (!password) {
		log_error("%s: %s", a->name, err.text);
		return EXIT_FAILED;
	}
	cli_imap_options(&a->side[SIDE_A].conn, password, &o);
	s = imap_connect(&o, &err);
	password_free(password);
	if (!s) {
		log_error("%s: %s", a->name, err.text);
		return EXIT_FAILED;
	}
	log_info("%s: logged in to %s:%u as %s (%s)", a->name, a->side[SIDE_A].conn.host,
	         a->side[SIDE_A].conn.port, a->side[SIDE_A].conn.user, conn_security(imap_session_conn(s)));
	if (imap_list(s, "*", IMAP_LIST_STATUS, &folders, &count, &err) < 0) {
		log_error("%s: %s", a->name, err.text);
		imap_session_free(s);
		return EXIT_FAILED;
	}
	print_folders(folders, count, imap_namespace_prefix(s));
	imap_folders_free(folders, count);
	imap_session_close(s);
	return EXIT_OK;
}

int cmd_list_folders(struct cli_options *opts)
{
	return cli_account_command(opts, list_usage, CONFIG_STORE_IMAP,
	                           "this is a POP3 account; POP3 has no folders to list", list_account);
}
