/*
 * twinbox list-folders ACCOUNT: log in and print the remote folders with
 * their special use and message count — the first thing a user runs to
 * see twinbox reach the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "twinbox/config/config.h"
#include "twinbox/config/password.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"

static const char list_usage[] = "Usage: twinbox list-folders ACCOUNT\n";

static void print_folders(const struct imap_folder *f, size_t n)
{
	printf("%-40s %-12s %s\n", "FOLDER", "SPECIAL-USE", "MESSAGES");
	for (size_t i = 0; i < n; i++) {
		/* escaped here too: stdout keeps LF (util/log.h) */
		char *name = log_escape(f[i].name ? f[i].name : f[i].raw);
		char count[32];

		if (f[i].attrs & IMAP_FOLDER_NOSELECT)
			snprintf(count, sizeof(count), "-");
		else if (f[i].status.have & IMAP_STATUS_MESSAGES)
			snprintf(count, sizeof(count), "%u", f[i].status.messages);
		else
			snprintf(count, sizeof(count), "?");
		printf("%-40s %-12s %s%s\n", name, imap_special_use_name(f[i].special_use), count,
		       f[i].name ? "" : "  (name not valid modified UTF-7; shown as sent)");
		free(name);
	}
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
	cli_imap_options(a, password, &o);
	s = imap_connect(&o, &err);
	password_free(password);
	if (!s) {
		log_error("%s: %s", a->name, err.text);
		return EXIT_FAILED;
	}
	log_info("%s: logged in to %s:%u as %s (%s)", a->name, a->conn.host, a->conn.port, a->conn.user,
	         conn_security(imap_session_conn(s)));
	if (imap_list(s, "*", IMAP_LIST_STATUS, &folders, &count, &err) < 0) {
		log_error("%s: %s", a->name, err.text);
		imap_session_free(s);
		return EXIT_FAILED;
	}
	print_folders(folders, count);
	imap_folders_free(folders, count);
	imap_session_close(s);
	return EXIT_OK;
}

int cmd_list_folders(struct cli_options *opts)
{
	return cli_account_command(opts, list_usage, CONFIG_STORE_IMAP,
	                           "this is a POP3 account; POP3 has no folders to list", list_account);
}
