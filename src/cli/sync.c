/*
 * twinbox sync [--dry-run] [--allow-mass-delete] [ACCOUNT[:FOLDER]...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "twinbox/config/password.h"
#include "twinbox/state/lock.h"
#include "twinbox/state/state.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/store/maildir_store.h"
#include "twinbox/sync/engine.h"
#include "twinbox/sync/pop3_import.h"
#include "twinbox/util/clock.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static const char sync_usage[] =
    "Usage: twinbox sync [--dry-run] [--allow-mass-delete] [ACCOUNT[:FOLDER]...]\n";

struct sync_cli {
	bool dry_run, allow_mass_delete, mark_seen;
	bool quiet;
	const char *account; /* for report lines */
};

static void print_report(void *ctx, const struct sync_folder_report *r)
{
	struct sync_cli *c = ctx;

	if (r->failed) {
		log_error("%s: %s: %s", c->account, r->name, r->err.text);
		return;
	}
	if (c->quiet)
		return;
	printf("%s: %s: %zu pulled, %zu pushed, flags %zu local / %zu remote, deleted %zu local / %zu remote",
	       c->account, r->name, r->to_local, r->to_remote, r->flags_local, r->flags_remote,
	       r->deleted_local, r->deleted_remote);
	if (r->paired)
		printf(", %zu matched", r->paired);
	if (r->too_big)
		printf(", %zu over max_size", r->too_big);
	if (r->message_failures)
		printf(", %zu failed (retried next run)", r->message_failures);
	printf("\n");
	fflush(stdout);
}

static void show_plan(void *ctx, const char *folder, const struct plan *plan)
{
	struct sync_cli *c = ctx;

	if (plan->action_count == 0)
		printf("%s: %s: nothing to do\n", c->account, folder);
	for (size_t i = 0; i < plan->action_count; i++) {
		const struct plan_action *a = &plan->actions[i];
		printf("%s: %s: %s", c->account, folder, plan_kind_name(a->kind));
		if (a->uid)
			printf(" uid %u", a->uid);
		if (a->local_id)
			printf(" file %s", a->local_id);
		if (a->kind == PLAN_SET_FLAGS_LOCAL || a->kind == PLAN_SET_FLAGS_REMOTE)
			printf(" +%#x -%#x", a->change.add, a->change.remove);
		printf("\n");
	}
	if (plan->status == PLAN_MASS_DELETE_BLOCKED)
		printf("%s: %s: deletions blocked by the mass-delete limit (--allow-mass-delete)\n",
		       c->account, folder);
}

static void print_import(const struct sync_cli *c, const struct config_account *a,
                         const struct pop3_import_report *r)
{
	if (c->quiet)
		return;
	printf("%s: %s: %zu %s, %zu deleted from the server", a->name, a->pop3.folder, r->downloaded,
	       c->dry_run ? "to download" : "downloaded", r->deleted);
	if (r->marked)
		printf(", %zu marked as already downloaded", r->marked);
	if (r->failed)
		printf(", %zu failed (retried next run)", r->failed);
	if (r->unusable)
		printf(", %zu skipped (unusable UIDL)", r->unusable);
	if (r->too_big_count)
		printf(", %zu over max_size (left on the server)", r->too_big_count);
	printf("\n");
	for (size_t i = 0; i < r->too_big_count; i++)
		printf("%s: %s: not downloaded, over max_size: message %u (%llu bytes, UIDL %s)\n", a->name,
		       a->pop3.folder, r->too_big[i].msgno, (unsigned long long)r->too_big[i].size,
		       r->too_big[i].uidl);
	fflush(stdout);
}

/* What every account's run holds: its lock, state, Maildir, password. */
struct account_run {
	struct state_lock *lock;
	struct state *st;
	struct store *local;
	char *password;
};

/* Lock the account (a second run exits naming the first), open its
 * state and Maildir, resolve its password. -1 with err on failure;
 * account_close() in every case. */
static int account_open(const struct config *cfg, const struct config_account *a, struct account_run *r,
                        struct error *err)
{
	char *db = config_state_path(cfg, a);
	enum maildir_layout layout =
	    a->maildir.layout == CONFIG_LAYOUT_NESTED ? MAILDIR_LAYOUT_NESTED : MAILDIR_LAYOUT_MAILDIRPP;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (state_lock_acquire(db, STATE_LOCK_NOWAIT, &r->lock, err) == 0 &&
	    state_open(db, STATE_OPEN_CREATE, &r->st, err) == 0 &&
	    (r->local = maildir_store_open(a->maildir.path, layout, err)) != NULL &&
	    (r->password = config_resolve_password(a, err)) != NULL)
		rc = 0;
	free(db);
	return rc;
}

static void account_close(struct account_run *r)
{
	if (r->local)
		r->local->ops->close(r->local);
	password_free(r->password);
	state_close(r->st);
	state_lock_release(r->lock);
}

/* Import a POP3 account; EXIT_OK or EXIT_FAILED. */
static int import_account(const struct config *cfg, const struct config_account *a, struct sync_cli *c)
{
	struct pop3_import_options io = {
	    .folder = a->pop3.folder,
	    .leave_on_server = a->pop3.leave_on_server,
	    .delete_after_days = a->pop3.delete_after_days,
	    .delete_after_download = a->pop3.delete_after_download,
	    .max_size = a->sync.max_size,
	    .mark_seen = c->mark_seen,
	    .dry_run = c->dry_run,
	    .now = clock_now(),
	};
	struct pop3_import_report rep = {0};
	struct account_run run;
	struct pop3_options po;
	struct pop3_client *p = NULL;
	struct error err;
	int rc = EXIT_FAILED;

	error_clear(&err);
	if (account_open(cfg, a, &run, &err) < 0)
		goto fail;
	cli_pop3_options(a, run.password, &po);
	po.max_message_size = 0; /* max_size skips by LIST size; nothing is cut */
	p = pop3_connect(&po, &err);
	if (!p || pop3_import(p, run.local, run.st, &io, &rep, &err) < 0)
		goto fail;
	print_import(c, a, &rep);
	rc = EXIT_OK;
	goto out;
fail:
	log_error("%s: %s", a->name, err.text);
	if (rep.downloaded)
		print_import(c, a, &rep);
out:
	pop3_import_report_free(&rep);
	pop3_close(p);
	account_close(&run);
	return rc;
}

/* Sync one account; returns EXIT_OK, EXIT_PARTIAL (folders failed) or
 * EXIT_FAILED (nothing done). */
static int sync_account(const struct config *cfg, const struct config_account *a, const char *const *only,
                        size_t only_count, struct sync_cli *c)
{
	struct sync_options o = {0};
	struct imap_session_options io;
	struct account_run run = {0};
	struct store *remote = NULL;
	struct sync_result res;
	struct error err;
	int rc = EXIT_FAILED;

	error_clear(&err);
	c->account = a->name;
	if (a->store == CONFIG_STORE_POP3)
		return import_account(cfg, a, c);
	if (c->mark_seen) {
		log_error(
		    "%s: --mark-seen is for POP3 accounts (IMAP accounts match existing mail by content)",
		    a->name);
		return EXIT_FAILED;
	}
	if (account_open(cfg, a, &run, &err) < 0)
		goto fail;
	cli_imap_options(a, run.password, &io);
	remote = imap_store_open(&io, &err);
	if (!remote)
		goto fail;
	cli_plan_rules(a, &o.rules);
	o.rules.allow_mass_delete = c->allow_mass_delete;
	o.dry_run = c->dry_run;
	o.include = (const char *const *)a->folders.include;
	o.include_count = a->folders.include_count;
	o.exclude = (const char *const *)a->folders.exclude;
	o.exclude_count = a->folders.exclude_count;
	o.only = only;
	o.only_count = only_count;
	o.report = print_report;
	o.show_plan = show_plan;
	o.ctx = c;
	if (sync_run(remote, run.local, run.st, &o, &res, &err) < 0)
		goto fail;
	rc = res.folders_failed == 0 ? EXIT_OK : res.folders_synced ? EXIT_PARTIAL : EXIT_FAILED;
	goto out;
fail:
	log_error("%s: %s", a->name, err.text);
out:
	if (remote)
		remote->ops->close(remote);
	account_close(&run);
	return rc;
}

int cmd_sync(struct cli_options *opts)
{
	struct sync_cli c = {.quiet = opts->verbosity < 0};
	const char **targets = xcalloc((size_t)opts->argc + 1, sizeof(*targets));
	size_t n_targets = 0, ok = 0, failed = 0, partial = 0;
	struct config *cfg;
	char *path;
	int rc = EXIT_OK;

	for (int i = 0; i < opts->argc; i++) {
		const char *a = opts->argv[i];
		if (strcmp(a, "--dry-run") == 0 || strcmp(a, "-n") == 0) {
			c.dry_run = true;
		} else if (strcmp(a, "--allow-mass-delete") == 0) {
			c.allow_mass_delete = true;
		} else if (strcmp(a, "--mark-seen") == 0) {
			c.mark_seen = true;
		} else if (a[0] == '-') {
			fprintf(stderr, "twinbox: sync: unknown option %s\n%s", a, sync_usage);
			free(targets);
			return EXIT_USAGE;
		} else {
			targets[n_targets++] = a;
		}
	}
	cfg = cli_load_config(opts, &path);
	if (!cfg) {
		free(path);
		free(targets);
		return EXIT_CONFIG;
	}
	/* ACCOUNT or ACCOUNT:FOLDER; several folders of one account gather. */
	for (size_t i = 0; i < n_targets; i++) {
		const char *colon = strchr(targets[i], ':');
		char *name = colon ? xstrndup(targets[i], (size_t)(colon - targets[i])) : xstrdup(targets[i]);
		if (!config_find_account(cfg, name)) {
			log_error("%s: no account named \"%s\"", path, name);
			rc = EXIT_USAGE;
		}
		free(name);
	}
	for (size_t i = 0; rc == EXIT_OK && i < cfg->account_count; i++) {
		const struct config_account *a = &cfg->accounts[i];
		const char **only = xcalloc(n_targets + 1, sizeof(*only));
		size_t n_only = 0;
		bool wanted = n_targets == 0, whole = n_targets == 0;
		int arc;

		for (size_t t = 0; t < n_targets; t++) {
			size_t len = strlen(a->name);
			if (strncmp(targets[t], a->name, len) != 0)
				continue;
			if (targets[t][len] == '\0') {
				wanted = whole = true;
			} else if (targets[t][len] == ':') {
				wanted = true;
				only[n_only++] = targets[t] + len + 1;
			}
		}
		if (wanted)
			arc = sync_account(cfg, a, only, whole ? 0 : n_only, &c);
		free(only);
		if (!wanted)
			continue;
		if (arc == EXIT_OK)
			ok++;
		else if (arc == EXIT_PARTIAL)
			partial++;
		else
			failed++;
	}
	if (rc == EXIT_OK && (failed || partial))
		rc = ok == 0 && partial == 0 ? EXIT_FAILED : EXIT_PARTIAL;
	config_free(cfg);
	free(path);
	free(targets);
	return rc;
}
