/*
 * twinbox migrate --from URL --to URL --from-password-command CMD
 *                 --to-password-command CMD [--from-ca-file FILE]
 *                 [--to-ca-file FILE] [--from-fingerprint PIN]
 *                 [--to-fingerprint PIN] [--state-dir DIR] [--dry-run]
 *                 [--jobs N] [--json]
 *
 * A one-off move from one IMAP server to another without a config file:
 * the options make an account of two servers (config_for_migration),
 * which is synced as `twinbox sync` syncs one, one way from the source
 * to the target. Its state is kept under the state directory by a name
 * made from the two URLs, so the same command resumes a run that was
 * cut, and later copies only what is new.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "render.h"
#include "twinbox/util/log.h"

static const char migrate_usage[] =
    "Usage: twinbox migrate --from imaps://USER@HOST[:PORT] --to imaps://USER@HOST[:PORT]\n"
    "                       --from-password-command CMD --to-password-command CMD\n"
    "                       [--from-ca-file FILE] [--to-ca-file FILE]\n"
    "                       [--from-fingerprint PIN] [--to-fingerprint PIN]\n"
    "                       [--state-dir DIR] [--dry-run] [--jobs N] [--json]\n";

/* The option `name` with its value (`--name VALUE` or `--name=VALUE`)
 * at argv[*i]: the value, *i moved past it; NULL when argv[*i] is not
 * that option. *missing set when it is, without a value. */
static const char *value_of(const struct cli_options *opts, int *i, const char *name, bool *missing)
{
	const char *a = opts->argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= opts->argc) {
		*missing = true;
		return NULL;
	}
	return opts->argv[++*i];
}

int cmd_migrate(struct cli_options *opts)
{
	struct sync_cli c = {
	    .quiet = (opts->verbosity < 0), .verbose = (opts->verbosity > 0), .jobs = CLI_DEFAULT_JOBS};
	struct config_migration m = {0};
	const char *jobs = NULL;
	const char **slots[] = {&m.url[SIDE_A],
	                        &m.url[SIDE_B],
	                        &m.password_command[SIDE_A],
	                        &m.password_command[SIDE_B],
	                        &m.ca_file[SIDE_A],
	                        &m.ca_file[SIDE_B],
	                        &m.fingerprint[SIDE_A],
	                        &m.fingerprint[SIDE_B],
	                        &m.state_dir,
	                        &jobs};
	static const char *const names[] = {
	    "--from",         "--to",         "--from-password-command", "--to-password-command",
	    "--from-ca-file", "--to-ca-file", "--from-fingerprint",      "--to-fingerprint",
	    "--state-dir",    "--jobs"};
	struct config *cfg;
	struct error err;
	int rc;

	for (int i = 0; i < opts->argc; i++) {
		const char *a = opts->argv[i];
		bool taken = false, missing = false;

		if (strcmp(a, "--dry-run") == 0 || strcmp(a, "-n") == 0) {
			c.dry_run = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			c.json = true;
			continue;
		}
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !taken && !missing; k++) {
			const char *v = value_of(opts, &i, names[k], &missing);
			if (v) {
				*slots[k] = v;
				taken = true;
			} else if (missing) {
				fprintf(stderr, "twinbox: migrate: %s wants a value\n%s", names[k],
				        migrate_usage);
			}
		}
		if (missing)
			return EXIT_USAGE;
		if (!taken) {
			fprintf(stderr, "twinbox: migrate: unknown argument %s\n%s", a, migrate_usage);
			return EXIT_USAGE;
		}
	}
	if (jobs && cli_parse_jobs("migrate", migrate_usage, jobs, &c.jobs) < 0)
		return EXIT_USAGE;
	error_clear(&err);
	cfg = config_for_migration(&m, &err);
	if (!cfg) {
		fprintf(stderr, "twinbox: migrate: %s\n%s", err.text, migrate_usage);
		return EXIT_USAGE;
	}
	render_start(c.json, !c.json && !c.quiet && isatty(STDERR_FILENO));
	log_info("%s: %s -> %s, state %s/%s.db", cfg->accounts[0].name, m.url[SIDE_A], m.url[SIDE_B],
	         cfg->state_dir, cfg->accounts[0].name);
	rc = cli_sync_accounts(cfg, cfg->file, &c, NULL, 0);
	render_end();
	config_free(cfg);
	return rc;
}
