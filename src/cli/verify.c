/*
 * twinbox verify ACCOUNT
 *
 * Each folder of the account's server (its source, for an account of two
 * servers) compared by content with the folder of that name on the other
 * side, copying nothing and reading no state (sync_verify): a line per
 * folder with both sides' counts and sizes, how many of the server's
 * messages the other side holds and how many it lacks, and a total. Exit
 * 0 when nothing is missing, 1 when something is (or a folder could not
 * be read), 2 when nothing could be checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render.h"
#include "twinbox/sync/engine.h"
#include "twinbox/util/log.h"

static const char verify_usage[] = "Usage: twinbox verify ACCOUNT\n";

struct verify_run {
	const struct config_account *a;
	const char *words[SIDES];
	bool json, quiet;
	struct sync_verify_report total;
	size_t folders, failed;
};

static void print_folder(void *ctx, const struct sync_verify_report *r)
{
	struct verify_run *v = ctx;
	char *name = log_escape(r->name);

	v->folders++;
	if (v->json)
		json_verify(v->a->name, r, 0, false);
	if (r->failed) {
		v->failed++;
		if (!v->json)
			log_error("%s: %s: not verified: %s", v->a->name, name, r->err.text);
		free(name);
		return;
	}
	if (!v->json && (!v->quiet || r->missing))
		printf("%s: %s: %s %zu (%llu bytes), %s %zu%s, matched %zu, missing %zu (%llu bytes)\n",
		       v->a->name, name, v->words[SIDE_A], r->count[SIDE_A],
		       (unsigned long long)r->bytes[SIDE_A], v->words[SIDE_B], r->count[SIDE_B],
		       r->absent ? " (no such folder)" : "", r->matched, r->missing,
		       (unsigned long long)r->missing_bytes);
	fflush(stdout);
	for (int s = 0; s < SIDES; s++) {
		v->total.count[s] += r->count[s];
		v->total.bytes[s] += r->bytes[s];
	}
	v->total.matched += r->matched;
	v->total.missing += r->missing;
	v->total.missing_bytes += r->missing_bytes;
	free(name);
}

int cli_verify_account(const struct config_account *a, bool json, bool quiet)
{
	struct verify_run v = {
	    .a = a,
	    .words = {a->two_servers ? "source" : "server", a->two_servers ? "target" : "local"},
	    .json = json,
	    .quiet = quiet};
	struct sync_options o = {0};
	struct cli_folders folders;
	struct store *st[SIDES] = {NULL, NULL};
	struct error err;
	int rc = EXIT_FAILED;

	error_clear(&err);
	cli_folder_options(a, &folders, &o);
	for (int s = 0; s < SIDES; s++)
		if (!(st[s] = cli_open_side(a, s, &err)))
			goto out;
	if (sync_verify(st[SIDE_A], st[SIDE_B], &o, print_folder, &v, &err) < 0)
		goto out;
	if (json)
		json_verify(a->name, &v.total, v.folders, v.failed > 0);
	else if (!quiet || v.total.missing)
		printf("%s: %zu folder%s: %s %zu (%llu bytes), %s %zu, matched %zu, missing %zu (%llu "
		       "bytes)%s\n",
		       a->name, v.folders, v.folders == 1 ? "" : "s", v.words[SIDE_A], v.total.count[SIDE_A],
		       (unsigned long long)v.total.bytes[SIDE_A], v.words[SIDE_B], v.total.count[SIDE_B],
		       v.total.matched, v.total.missing, (unsigned long long)v.total.missing_bytes,
		       v.failed ? ", some folders not verified" : "");
	rc = v.total.missing || v.failed ? EXIT_PARTIAL : EXIT_OK;
out:
	if (rc == EXIT_FAILED)
		log_error("%s: %s", a->name, err.text);
	for (int s = 0; s < SIDES; s++)
		if (st[s])
			st[s]->ops->close(st[s]);
	cli_folders_free(&folders);
	return rc;
}

static int verify_account(const struct config *cfg, const struct config_account *a)
{
	(void)cfg;
	return cli_verify_account(a, false, false);
}

int cmd_verify(struct cli_options *opts)
{
	return cli_account_command(opts, verify_usage, CONFIG_STORE_IMAP,
	                           "verify compares an IMAP server with the other side; a POP3 account "
	                           "has no folders to compare",
	                           verify_account);
}
