/*
 * twinbox — entry point: global options, sub-command dispatch, logging.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "twinbox/config/config.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static const char usage_text[] =
    "Usage: twinbox [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Two-way IMAP <-> Maildir (or IMAP <-> IMAP) synchronization, and POP3 import.\n"
    "\n"
    "Commands:\n"
    "  check-config [--connect] [ACCOUNT...]\n"
    "                       validate the configuration; with --connect, also\n"
    "                       resolve passwords, open each account's connection,\n"
    "                       verify its TLS certificate, show the server's\n"
    "                       greeting and capabilities, log in, show the\n"
    "                       quota of INBOX, and check that the Maildir and\n"
    "                       state directories can be used\n"
    "  list-folders ACCOUNT log in to an IMAP account and list its folders\n"
    "                       with special use and message count, by the\n"
    "                       names sync ACCOUNT:FOLDER takes (levels joined\n"
    "                       by '/'), INBOX first\n"
    "  sync [--dry-run] [--allow-mass-delete] [--mark-seen] [--jobs N]\n"
    "       [--wait] [--json] [ACCOUNT[:FOLDER]...]\n"
    "                       two-way sync of IMAP accounts with their Maildir\n"
    "                       (or of an account's source and target servers),\n"
    "                       import of POP3 accounts (no argument: every\n"
    "                       account; FOLDER as list-folders shows it, or\n"
    "                       the server's spelling, e.g. Lists.dev; one that\n"
    "                       names no folder is an error naming the near\n"
    "                       matches); --dry-run creates and changes nothing\n"
    "                       and prints per folder what a run would do (-v:\n"
    "                       per message); a run that would delete over 25% and\n"
    "                       over 20 messages of a folder, or carry its\n"
    "                       emptying over (not \\Trash, \\Junk), stops for it\n"
    "                       unless --allow-mass-delete is given; --mark-seen records\n"
    "                       a POP3 account's current mail as downloaded\n"
    "                       without fetching it; --jobs N (-j, default 4):\n"
    "                       up to N folders at once, each over its own\n"
    "                       connection, and up to N accounts at once;\n"
    "                       a line per folder where something happened (one\n"
    "                       per account when nothing did), and on a terminal\n"
    "                       a progress line (messages, bytes, rate, time\n"
    "                       left); --json: one JSON object per line on\n"
    "                       stdout for every event, errors included\n"
    "                       (docs/json.md), same exit codes; an account\n"
    "                       another run holds is left (exit 75, naming it),\n"
    "                       or handed to its `twinbox watch` (SIGUSR1, exit\n"
    "                       0); --wait waits for that run to finish instead\n"
    "  migrate --from imaps://USER@HOST --to imaps://USER@HOST\n"
    "          --from-password-command CMD --to-password-command CMD\n"
    "          [--from-ca-file F] [--to-ca-file F] [--from-fingerprint PIN]\n"
    "          [--to-fingerprint PIN] [--state-dir DIR] [--dry-run] [--jobs N] [--json]\n"
    "          [--no-verify]\n"
    "                       copy every folder of one IMAP server to another\n"
    "                       without a config file (imap:// for STARTTLS), one\n"
    "                       way, nothing deleted; the state is kept by the two\n"
    "                       URLs, so the same command resumes a cut run and\n"
    "                       later copies only what is new and flag changes,\n"
    "                       then verifies the target by content;\n"
    "                       a target whose quota cannot take it all stops the\n"
    "                       run before anything is copied (as for sync of an\n"
    "                       account of two servers), saying what to free;\n"
    "                       Sent, Drafts, Trash, Junk, Archive matched by\n"
    "                       special use or well-known name, as logged\n"
    "  migrate --fleet FILE.csv --index N | --list\n"
    "                       row N of a CSV file of migrations (columns from,\n"
    "                       to, from-password-command, to-password-command,\n"
    "                       ...), one job of a scheduler; docs/fleet.md\n"
    "  watch [--interval DURATION] [--json] [ACCOUNT...]\n"
    "                       sync, then stay running: each server followed with\n"
    "                       NOTIFY, or IDLE and STATUS (watch: in the account),\n"
    "                       the Maildir with inotify, a changed folder synced\n"
    "                       within about a second; everything again every\n"
    "                       --interval (30m), after a suspend and after a\n"
    "                       network change; SIGUSR1 syncs now, SIGHUP reads\n"
    "                       the config again, SIGTERM stops at the next\n"
    "                       durable step\n"
    "  status [--connect] [--json] [ACCOUNT...]\n"
    "                       from the state, offline: each account's last run\n"
    "                       (when, how it ended, why it failed), a run or\n"
    "                       watcher running now, and per folder the last\n"
    "                       sync, the messages each side held then, steps a\n"
    "                       killed run left pending, failed messages and the\n"
    "                       last error; --connect adds each IMAP server's\n"
    "                       count per folder now and its quota (warning at\n"
    "                       90%); exit 1 when a last run did not go through\n"
    "  verify ACCOUNT       compare each folder of the account's server (its\n"
    "                       source) with the other side by content, copying\n"
    "                       nothing: counts, sizes, matched and missing per\n"
    "                       folder and in all; exit 0 when nothing is missing\n"
    "  preview ACCOUNT      a POP3 account's messages not yet downloaded:\n"
    "                       From, Subject, Date and size (headers only)\n"
    "  help                 show this text\n"
    "  version              show the version\n"
    "\n"
    "Options (before or after the command):\n"
    "  -c, --config FILE    config file (default: $XDG_CONFIG_HOME/twinbox/config.yaml,\n"
    "                       else ~/.config/twinbox/config.yaml)\n"
    "  -v, --verbose        more detail (e.g. a line per message where a run\n"
    "                       sums several up); -vv adds a protocol trace (passwords\n"
    "                       are shown as ***)\n"
    "  -q, --quiet          only errors\n"
    "  -h, --help           show this text\n"
    "  -V, --version        show the version\n"
    "\n"
    "Exit codes:\n"
    "  0   everything done\n"
    "  1   some accounts or folders failed, or a run stopped part-way; what\n"
    "      was done is kept and the error says how much\n"
    "  2   nothing could be done (no account reachable, nothing stored)\n"
    "  64  bad command line\n"
    "  75  sync: an account was being synced by another run; the others were\n"
    "      synced (1 and 2 come first when something else failed)\n"
    "  78  the config file is missing or invalid\n"
    "\n"
    "See twinbox(1) and config.example.yaml for the configuration.\n";

static void usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "twinbox: %s \"%s\"\nTry 'twinbox --help'.\n", what, arg);
}

/*
 * Split argv into global options (anywhere) and the command with its own
 * arguments. Unknown options starting with '-' are left for the command
 * to judge. "--" ends option processing.
 */
static int parse_global(int argc, char **argv, struct cli_options *opts, const char **command_r)
{
	char **rest = xcalloc((size_t)argc + 1, sizeof(*rest));
	int n = 0;
	bool dashdash = false;

	*command_r = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (!*command_r && !dashdash)
				*command_r = a;
			else
				rest[n++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				usage_error("a file name must follow", a);
				free(rest);
				return -1;
			}
			opts->config_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			opts->config_path = a + 9;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			opts->verbosity = opts->verbosity < 0 ? 1 : opts->verbosity + 1;
		} else if (strcmp(a, "-vv") == 0) {
			opts->verbosity = 2;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			opts->verbosity = -1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			*command_r = "help";
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			*command_r = "version";
		} else {
			rest[n++] = argv[i];
		}
	}
	opts->argc = n;
	opts->argv = rest;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_options opts = {0};
	const char *command;
	int rc;

	if (parse_global(argc, argv, &opts, &command) < 0)
		return EXIT_USAGE;
	cli_escape_stdout();
	log_set_sink(cli_log_sink, NULL);
	log_set_level(opts.verbosity < 0    ? LOG_ERROR
	              : opts.verbosity == 0 ? LOG_INFO
	              : opts.verbosity == 1 ? LOG_DEBUG
	                                    : LOG_TRACE);

	if (!command) {
		fputs(usage_text, stderr);
		rc = EXIT_USAGE;
	} else if (strcmp(command, "help") == 0) {
		fputs(usage_text, stdout);
		rc = EXIT_OK;
	} else if (strcmp(command, "version") == 0) {
		printf("twinbox %s\n", TWINBOX_VERSION);
		rc = EXIT_OK;
	} else if (strcmp(command, "check-config") == 0) {
		rc = cmd_check_config(&opts);
	} else if (strcmp(command, "list-folders") == 0) {
		rc = cmd_list_folders(&opts);
	} else if (strcmp(command, "sync") == 0) {
		rc = cmd_sync(&opts);
	} else if (strcmp(command, "migrate") == 0) {
		rc = cmd_migrate(&opts);
	} else if (strcmp(command, "verify") == 0) {
		rc = cmd_verify(&opts);
	} else if (strcmp(command, "watch") == 0) {
		rc = cmd_watch(&opts);
	} else if (strcmp(command, "preview") == 0) {
		rc = cmd_preview(&opts);
	} else if (strcmp(command, "status") == 0) {
		rc = cmd_status(&opts);
	} else {
		usage_error("unknown command", command);
		rc = EXIT_USAGE;
	}
	free(opts.argv);
	return rc;
}
