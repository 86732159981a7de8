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
 *
 * twinbox migrate --fleet FILE.csv --index N | --list
 *
 * Row N of a fleet file (config/fleet.h) as that one migration: many
 * accounts run as independent jobs of a scheduler, each with its own
 * state and lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "render.h"
#include "twinbox/config/fleet.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static const char migrate_usage[] =
    "Usage: twinbox migrate --from imaps://USER@HOST[:PORT] --to imaps://USER@HOST[:PORT]\n"
    "                       (--from may be pop3s:// or pop3://; imap:// is STARTTLS)\n"
    "                       --from-password-command CMD --to-password-command CMD\n"
    "                       [--from-ca-file FILE] [--to-ca-file FILE]\n"
    "                       [--from-fingerprint PIN] [--to-fingerprint PIN]\n"
    "                       [--state-dir DIR] [--dry-run] [--jobs N] [--json] [--no-verify]\n"
    "       twinbox migrate --fleet FILE.csv --index N [--state-dir DIR] [--dry-run] [--jobs N]\n"
    "                       [--json]\n"
    "       twinbox migrate --fleet FILE.csv --list\n";

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

/* One migration; `row` names its row of a fleet file in messages. */
static int migrate_one(const struct config_migration *m, const struct sync_cli *c, bool verify,
                       const char *row)
{
	struct config *cfg;
	struct error err;
	int rc;

	error_clear(&err);
	cfg = config_for_migration(m, &err);
	if (!cfg) {
		fprintf(stderr, "twinbox: migrate: %s%s\n%s", row ? row : "", err.text,
		        row ? "" : migrate_usage);
		return row ? EXIT_CONFIG : EXIT_USAGE;
	}
	render_start(c->json, !c->json && !c->quiet && isatty(STDERR_FILENO));
	log_info("%s: %s%s -> %s, state %s/%s.db", cfg->accounts[0].name, row ? row : "", m->url[SIDE_A],
	         m->url[SIDE_B], cfg->state_dir, cfg->accounts[0].name);
	rc = cli_sync_accounts(cfg, cfg->file, c, NULL, 0);
	render_end();
	/* The figure to check before switching: each folder compared by
	 * content, independently of the state. */
	if (verify && !c->dry_run && (rc == EXIT_OK || rc == EXIT_PARTIAL)) {
		int vrc;
		log_info("%s: verifying: each folder of the source looked for on the target by content",
		         cfg->accounts[0].name);
		vrc = cli_verify_account(&cfg->accounts[0], c->json, c->quiet);
		if (rc == EXIT_OK && vrc != EXIT_OK)
			rc = EXIT_PARTIAL;
	}
	config_free(cfg);
	return rc;
}

/* `--fleet FILE --index N` (that row's migration) or `--list` (the
 * rows' indexes, one a line, for a scheduler). The servers come from
 * the file only; --state-dir applies to rows that name none. */
static int fleet_job(const char *path, const char *index, bool list, const struct config_migration *given,
                     const struct sync_cli *c, bool verify)
{
	struct config_migration m;
	struct config_fleet *f;
	struct error err;
	unsigned long long n = 0;
	char *end = NULL, *row;
	int rc;

	if (!path || list == (index != NULL)) {
		fprintf(stderr, "twinbox: migrate: --fleet FILE takes either --index N or --list\n%s",
		        migrate_usage);
		return EXIT_USAGE;
	}
	for (int s = 0; s < SIDES; s++)
		if (given->url[s] || given->password_command[s] || given->ca_file[s] ||
		    given->fingerprint[s]) {
			fprintf(stderr,
			        "twinbox: migrate: with --fleet the servers, passwords and TLS settings come "
			        "from "
			        "the file's columns; leave out --from, --to and their options\n%s",
			        migrate_usage);
			return EXIT_USAGE;
		}
	error_clear(&err);
	if (!(f = config_fleet_load(path, &err))) {
		fprintf(stderr, "twinbox: migrate: %s\n", err.text);
		return EXIT_CONFIG;
	}
	if (list) {
		for (size_t i = 0; i < config_fleet_count(f); i++)
			printf("%zu\n", i);
		config_fleet_free(f);
		return EXIT_OK;
	}
	errno = 0;
	if (index[0] >= '0' && index[0] <= '9')
		n = strtoull(index, &end, 10);
	if (!end || *end || errno || n >= config_fleet_count(f)) {
		fprintf(stderr, "twinbox: migrate: --index %s: expected a row of %s, 0 to %zu\n", index, path,
		        config_fleet_count(f) ? config_fleet_count(f) - 1 : 0);
		config_fleet_free(f);
		return EXIT_USAGE;
	}
	config_fleet_row(f, (size_t)n, &m);
	if (!m.state_dir)
		m.state_dir = given->state_dir;
	row = xasprintf("%s:%u (row %llu): ", path, config_fleet_line(f, (size_t)n), n);
	rc = migrate_one(&m, c, verify, row);
	free(row);
	config_fleet_free(f);
	return rc;
}

int cmd_migrate(struct cli_options *opts)
{
	struct sync_cli c = {
	    .quiet = (opts->verbosity < 0), .verbose = (opts->verbosity > 0), .jobs = CLI_DEFAULT_JOBS};
	struct config_migration m = {0};
	const char *jobs = NULL, *fleet = NULL, *index = NULL;
	bool list = false, verify = true;
	const char **slots[] = {&m.url[SIDE_A],
	                        &m.url[SIDE_B],
	                        &m.password_command[SIDE_A],
	                        &m.password_command[SIDE_B],
	                        &m.ca_file[SIDE_A],
	                        &m.ca_file[SIDE_B],
	                        &m.fingerprint[SIDE_A],
	                        &m.fingerprint[SIDE_B],
	                        &m.state_dir,
	                        &jobs,
	                        &fleet,
	                        &index};
	static const char *const names[] = {"--from",
	                                    "--to",
	                                    "--from-password-command",
	                                    "--to-password-command",
	                                    "--from-ca-file",
	                                    "--to-ca-file",
	                                    "--from-fingerprint",
	                                    "--to-fingerprint",
	                                    "--state-dir",
	                                    "--jobs",
	                                    "--fleet",
	                                    "--index"};

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
		if (strcmp(a, "--list") == 0) {
			list = true;
			continue;
		}
		if (strcmp(a, "--no-verify") == 0) {
			verify = false;
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
	if (fleet || list || index)
		return fleet_job(fleet, index, list, &m, &c, verify);
	return migrate_one(&m, &c, verify, NULL);
}
