/*
 * twinbox sync [--dry-run] [--allow-mass-delete] [--mark-seen] [--jobs N]
 *              [--wait] [--json] [ACCOUNT[:FOLDER]...]
 *
 * Every account is opened first, one after the other (lock, state,
 * Maildir, password: a password_command may ask the user), then the
 * accounts sync in parallel, up to --jobs at a time, each with up to
 * --jobs folders at a time over as many connections.
 *
 * An account another run holds (its lock) is not synced: a watcher
 * that runs for it is asked to sync now, and the run counts that as
 * done; else it exits EXIT_BUSY (75) unless something else failed. With
 * --wait it is waited for instead, in its own turn, after the accounts
 * that are free.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli.h"
#include "hooks.h"
#include "render.h"
#include "twinbox/config/password.h"
#include "twinbox/state/lock.h"
#include "twinbox/state/run.h"
#include "twinbox/state/state.h"
#include "twinbox/store/pop3_store.h"
#include "twinbox/sync/engine.h"
#include "twinbox/sync/pop3_import.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/clock.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static const char sync_usage[] = "Usage: twinbox sync [--dry-run] [--allow-mass-delete] [--mark-seen] "
                                 "[--jobs N] [--wait] [--json] [ACCOUNT[:FOLDER]...]\n";

/* A dry run's plan of a folder: one line per message with -v (the
 * folder's counts come with its report). */
static void show_plan(void *ctx, const char *folder, const struct plan *plan)
{
	struct sync_cli *c = ctx;

	if (c->json)
		return; /* its planned events say it */
	flockfile(stdout);
	for (size_t i = 0; i < plan->action_count && c->verbose; i++) {
		const struct plan_action *a = &plan->actions[i];
		printf("%s: %s: %s", c->account, folder, plan_kind_name(a->kind, a->side));
		for (int s = 0; s < SIDES; s++) {
			if (a->id[s].uid)
				printf(" uid %u", a->id[s].uid);
			if (a->id[s].name) {
				/* A file name may hold any byte but '/' (util/log.h). */
				char *name = log_escape(a->id[s].name);
				printf(" file %s", name);
				free(name);
			}
		}
		if (a->kind == PLAN_SET_FLAGS)
			printf(" +%#x -%#x", a->change.add, a->change.remove);
		printf("\n");
	}
	if (plan->status == PLAN_MASS_DELETE_BLOCKED)
		printf("%s: %s: deletions held back by a safety valve, the folder would not be synced "
		       "(see the note above; --allow-mass-delete)\n",
		       c->account, folder);
	funlockfile(stdout);
}

static void print_import(const struct sync_cli *c, const struct config_account *a,
                         const struct pop3_import_report *r)
{
	if (c->json) {
		json_import(a->name, a->pop3.folder, r, c->dry_run);
		return;
	}
	if (c->quiet)
		return;
	flockfile(stdout);
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
	for (size_t i = 0; i < r->too_big_count; i++) {
		char *uidl = log_escape(r->too_big[i].uidl);
		printf("%s: %s: not downloaded, over max_size: message %u (%llu bytes, UIDL %s)\n", a->name,
		       a->pop3.folder, r->too_big[i].msgno, (unsigned long long)r->too_big[i].size, uidl);
		free(uidl);
	}
	fflush(stdout);
	funlockfile(stdout);
}

/* One account of the run: what it needs (lock, state, Maildir,
 * password), opened before any account syncs, and how it ended. */
struct account_job {
	const struct config *cfg;
	const struct config_account *a;
	const char **only; /* folders named on the command line */
	size_t only_count;
	struct sync_cli c;
	char *db;
	char *scratch; /* a dry run's temporary state directory, or NULL */
	struct state_lock *lock;
	struct state *st;
	struct store *local; /* side B when it is a Maildir (opened first) */
	char *password[SIDES];
	struct imap_session_options io[SIDES]; /* of each IMAP side */
	struct hooks *hooks;                   /* NULL: none (or a dry run) */
	int rc;         /* EXIT_OK, EXIT_PARTIAL, EXIT_FAILED, EXIT_USAGE or EXIT_BUSY */
	bool busy;      /* another run holds the account */
	bool wait_lock; /* ... and it is waited for in the account's turn (--wait) */
	bool handed;    /* ... and its watcher was asked to sync instead */
	struct state_process holder;
	/* For the state's record of the run: the first folder that failed
	 * ("FOLDER: why"), and how many did. */
	char *failed_folder;
	size_t folders_failed;
};

/* Copy file `from` (if it exists) to a new file `to`. */
static int copy_file(const char *from, const char *to, struct error *err)
{
	char block[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n = 0;

	if (in < 0)
		return errno == ENOENT ? 0 : error_errno(err, ERR_ACCOUNT, errno, "cannot read %s", from);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		error_errno(err, ERR_ACCOUNT, errno, "cannot create %s", to);
		close(in);
		return -1;
	}
	while ((n = read(in, block, sizeof(block))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && fs_write_all(out, block, (size_t)n, to, err) < 0)
			break;
	if (n < 0)
		error_errno(err, ERR_ACCOUNT, errno, "cannot read %s", from);
	close(in);
	close(out);
	return n == 0 ? 0 : -1;
}

/*
 * A dry run writes nothing where the account lives, not even a lock or
 * SQLite's journal files beside the state: it works on a copy of the
 * state (with its write-ahead log, if a run left one) in a fresh
 * temporary directory (j->scratch), or on an empty state there when the
 * account has none yet; account_close() removes it.
 */
static int open_dry_run_state(struct account_job *j, int wait_ms, struct error *err)
{
	const char *tmp = getenv("TMPDIR");
	char *real;
	/* The copy is taken under a shared hold of the lock, which writes
	 * nothing: a run in progress could leave a torn copy. */
	struct state_lock *shared = NULL;
	int rc = state_lock_try_shared(j->db, wait_ms, &shared, &j->holder, err);

	if (rc != 0) {
		j->busy = rc == 1;
		return -1;
	}
	rc = -1;
	j->scratch = xasprintf("%s/twinbox-dry-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(j->scratch)) {
		error_errno(err, ERR_ACCOUNT, errno, "cannot make a temporary directory %s for the dry run",
		            j->scratch);
		free(j->scratch);
		j->scratch = NULL;
		goto out;
	}
	real = j->db;
	j->db = xasprintf("%s/state.db", j->scratch);
	rc = copy_file(real, j->db, err);
	if (rc == 0) {
		char *from = xasprintf("%s-wal", real), *to = xasprintf("%s-wal", j->db);
		rc = copy_file(from, to, err);
		free(from);
		free(to);
	}
	free(real);
out:
	state_lock_release(shared);
	return rc < 0 ? -1 : state_open(j->db, STATE_OPEN_CREATE, &j->st, err);
}

/* The temporary state of a dry run, gone. */
static void remove_scratch(struct account_job *j)
{
	static const char *const files[] = {"", "-wal", "-shm", "-journal"};

	if (!j->scratch)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *f = xasprintf("%s%s", j->db, files[i]);
		unlink(f);
		free(f);
	}
	rmdir(j->scratch);
	free(j->scratch);
	j->scratch = NULL;
}

/* Lock the account and open its state; -1 with j->busy set when
 * another run holds it (err says who). */
static int open_state(struct account_job *j, int wait_ms, struct error *err)
{
	int rc;

	if (j->c.dry_run)
		return open_dry_run_state(j, wait_ms, err);
	rc = state_lock_try(j->db, wait_ms, &j->lock, &j->holder, err);
	if (rc != 0) {
		j->busy = rc == 1;
		return -1;
	}
	return state_open(j->db, STATE_OPEN_CREATE, &j->st, err);
}

/* Lock the account (a second run exits naming the first, or with
 * --wait waits for it later: j->wait_lock), open its state and
 * Maildir, resolve its passwords. -1 with err on failure; account_close()
 * in every case. */
static int account_open(struct account_job *j, struct error *err)
{
	const struct config_account *a = j->a;
	const struct config_side *b = &a->side[SIDE_B];
	char who[512];

	j->db = config_state_path(j->cfg, a);
	if (open_state(j, STATE_LOCK_NOWAIT, err) < 0) {
		if (!j->busy || !j->c.wait)
			return -1;
		cli_process_text(&j->holder, who, sizeof(who));
		log_info("%s: waiting for %s to finish its sync of the account", a->name, who);
		j->busy = false;
		j->wait_lock = true;
		error_clear(err);
	}
	if (b->store == CONFIG_STORE_MAILDIR && !(j->local = cli_side_store(a, SIDE_B, NULL, err)))
		return -1;
	for (int s = 0; s < SIDES; s++) {
		if (a->side[s].store == CONFIG_STORE_MAILDIR)
			continue;
		if (!(j->password[s] = config_side_password(a, s, err)))
			return -1;
		if (a->side[s].store == CONFIG_STORE_IMAP)
			cli_imap_options(&a->side[s].conn, j->password[s], &j->io[s]);
		else
			j->io[s].password = j->password[s];
	}
	return 0;
}

static void account_close(struct account_job *j)
{
	if (j->local)
		j->local->ops->close(j->local);
	for (int s = 0; s < SIDES; s++)
		password_free(j->password[s]);
	state_close(j->st);
	state_lock_release(j->lock);
	remove_scratch(j);
	free(j->db);
	free(j->only);
	hooks_free(j->hooks);
	free(j->failed_folder);
}

/* The observer of an account's sync: the renderer, and the hooks. */
static void observe(void *ctx, const struct sync_event *ev)
{
	struct account_job *j = ctx;

	render_event(&j->c, ev);
	hooks_event(j->hooks, ev);
	if (ev->kind == SYNC_EVENT_FOLDER_END && ev->report->failed && j->folders_failed++ == 0)
		j->failed_folder = xasprintf("%s: %s", ev->folder, ev->report->err.text);
}

/* The run in the state, for `twinbox status` (state/run.h): its start,
 * and how it ended (`rc`) and why (`error`: what stopped it, else the
 * first folder that failed). Best effort: a state that cannot take it
 * has its own say in the run. */
static void run_begins(struct account_job *j)
{
	struct error err;

	if (!j->c.dry_run && state_run_begin(j->st, (int64_t)time(NULL), &err) < 0)
		log_debug("%s: the start of the run was not recorded: %s", j->a->name, err.text);
}

static void run_ends(struct account_job *j, int rc, const char *error)
{
	enum state_run_result result = rc == EXIT_OK        ? STATE_RUN_OK
	                               : rc == EXIT_PARTIAL ? STATE_RUN_PARTIAL
	                                                    : STATE_RUN_FAILED;
	char *text = NULL;
	struct error err;

	if (j->c.dry_run)
		return;
	if ((!error || !*error) && j->folders_failed > 1)
		text = xasprintf("%zu folders failed, the first %s", j->folders_failed, j->failed_folder);
	else if (!error || !*error)
		error = j->failed_folder;
	if (state_run_end(j->st, (int64_t)time(NULL), result, text ? text : error, &err) < 0)
		log_debug("%s: the end of the run was not recorded: %s", j->a->name, err.text);
	free(text);
}

/* The observer of a POP3 import: its downloads, for the hooks (the
 * import's report is rendered whole). */
static void observe_import(void *ctx, const struct sync_event *ev)
{
	hooks_event(ctx, ev);
}

/* How an account's failure is logged: a stop on request (watch's
 * SIGTERM) is no error. */
static enum log_level stopped(const struct error *err)
{
	return err->cause == ERR_CAUSE_STOPPED ? LOG_INFO : LOG_ERROR;
}

/* Import a POP3 account; EXIT_OK, EXIT_PARTIAL (stopped after some
 * messages were downloaded) or EXIT_FAILED. */
static int import_account(struct account_job *j)
{
	const struct config_account *a = j->a;
	struct pop3_import_options io = {
	    .folder = a->pop3.folder,
	    .leave_on_server = a->pop3.leave_on_server,
	    .delete_after_days = a->pop3.delete_after_days,
	    .delete_after_download = a->pop3.delete_after_download,
	    .max_size = a->sync.max_size,
	    .mark_seen = j->c.mark_seen,
	    .dry_run = j->c.dry_run,
	    .now = clock_now(),
	    .observer = {observe_import, j->hooks},
	    .stop = j->c.stop,
	};
	struct pop3_import_report rep = {0};
	struct pop3_options po;
	struct store *server = NULL;
	struct error err;
	const char *why = NULL; /* what stopped the import */
	int rc = EXIT_FAILED;

	error_clear(&err);
	run_begins(j);
	cli_pop3_options(&a->side[SIDE_A].conn, j->password[SIDE_A], &po);
	po.max_message_size = 0; /* max_size skips by LIST size; nothing is cut */
	server = pop3_store_open(&po, &err);
	if (!server || pop3_import(server, j->local, j->st, &io, &rep, &err) < 0)
		goto fail;
	print_import(&j->c, a, &rep);
	rc = EXIT_OK;
	goto out;
fail:
	why = err.text;
	if (rep.downloaded && !j->c.dry_run) {
		log_msg(stopped(&err),
		        "%s: %s (before that, %zu message%s downloaded; they are kept, the next "
		        "run downloads the rest)",
		        a->name, err.text, rep.downloaded, rep.downloaded == 1 ? " was" : "s were");
		print_import(&j->c, a, &rep);
		rc = EXIT_PARTIAL;
	} else {
		log_msg(stopped(&err), "%s: %s", a->name, err.text);
	}
out:
	run_ends(j, rc, why);
	hooks_import(j->hooks, a->pop3.folder, &rep);
	pop3_import_report_free(&rep);
	if (server)
		server->ops->close(server); /* QUIT */
	hooks_run(j->hooks);
	return rc;
}

static void close_worker(void *ctx, struct sync_worker *w)
{
	(void)ctx;
	if (w->remote)
		w->remote->ops->close(w->remote);
	if (w->local)
		w->local->ops->close(w->local);
	state_close(w->st);
	memset(w, 0, sizeof(*w));
}

/* What a parallel folder's worker opens: the account again. */
static int open_worker(void *ctx, struct sync_worker *w, struct error *err)
{
	const struct account_job *j = ctx;

	memset(w, 0, sizeof(*w));
	if ((w->remote = cli_side_store(j->a, SIDE_A, &j->io[SIDE_A], err)) != NULL &&
	    (w->local = cli_side_store(j->a, SIDE_B, &j->io[SIDE_B], err)) != NULL &&
	    state_open(j->db, 0, &w->st, err) == 0)
		return 0;
	close_worker(ctx, w);
	return -1;
}

/* The back-off's bounds (sync/backoff.h): the defaults, or for tests
 * TWINBOX_TEST_BACKOFF_MS, the first wait in milliseconds (1 to 60000),
 * every other bound scaled alike. */
static struct sync_backoff_policy backoff_policy(void)
{
	struct sync_backoff_policy p = {SYNC_BACKOFF_ATTEMPTS, SYNC_BACKOFF_FIRST_MS, SYNC_BACKOFF_MAX_MS};
	const char *v = getenv("TWINBOX_TEST_BACKOFF_MS");
	char *end;
	unsigned long ms;

	if (!v || !*v)
		return p;
	errno = 0;
	ms = strtoul(v, &end, 10);
	if (*end || errno || ms < 1 || ms > SYNC_BACKOFF_MAX_MS)
		return p;
	p.first_ms = (unsigned)ms;
	p.max_ms = (unsigned)ms * (SYNC_BACKOFF_MAX_MS / SYNC_BACKOFF_FIRST_MS);
	return p;
}

/* Open side s's store. A server that answers "not now" ([UNAVAILABLE],
 * [LIMIT], [INUSE], or BYE at the greeting or at login) is waited for
 * as `b` says; a connection refused or lost is not: at a first
 * connection a wrong host or port is likelier than a restart. */
static struct store *open_patiently(const struct account_job *j, enum side s, struct sync_backoff *b,
                                    struct error *err)
{
	unsigned tries = 0;
	struct store *st;

	while (!(st = cli_side_store(j->a, s, &j->io[s], err)))
		if (err->retry != ERR_RETRY_BUSY || !sync_backoff_wait(b, j->a->name, &tries, err))
			return NULL;
	sync_backoff_success(b);
	return st;
}

/* Sync one account; EXIT_OK, EXIT_PARTIAL (folders failed, or the run
 * stopped, after something was done), EXIT_FAILED (nothing done) or
 * EXIT_USAGE (a folder argument names no folder). */
static int sync_account(struct account_job *j)
{
	const struct config_account *a = j->a;
	const struct config_conn *ac = &a->side[SIDE_A].conn;
	struct sync_options o = {0};
	struct cli_folders folders;
	struct state_server server;
	struct store *remote = NULL, *local = j->local;
	struct sync_result res = {0};
	struct sync_backoff_policy policy = backoff_policy();
	struct error err;
	const char *why = NULL; /* what stopped the run */
	int rc = EXIT_FAILED;

	error_clear(&err);
	o.backoff = sync_backoff_new(&policy);
	cli_plan_rules(a, &o.rules);
	o.rules.allow_mass_delete = j->c.allow_mass_delete;
	o.dry_run = j->c.dry_run;
	/* Between two servers much is copied to a server: worth knowing
	 * before the first message that it fits. */
	o.quota_check = a->two_servers;
	cli_folder_options(a, &folders, &o);
	o.only = j->only;
	o.only_count = j->only_count;
	o.observer = (struct sync_observer){observe, j};
	o.show_plan = show_plan;
	o.ctx = &j->c;
	o.jobs = j->c.jobs;
	o.open_worker = open_worker;
	o.close_worker = close_worker;
	o.worker_ctx = j;
	o.stop = j->c.stop;
	server = (struct state_server){ac->host, ac->port, ac->user};
	o.server = &server;
	/* A local Maildir is read while the server is connected to, logged
	 * in to and listed. */
	if (local)
		o.prefetch = sync_prefetch_start(local, j->db, &o);
	/* After the read-ahead started: it reads while this is written. */
	run_begins(j);
	remote = open_patiently(j, SIDE_A, o.backoff, &err);
	if (!remote || (!local && !(local = open_patiently(j, SIDE_B, o.backoff, &err))))
		goto fail;
	if (sync_run(remote, local, j->st, &o, &res, &err) < 0)
		goto fail;
	rc = res.folders_failed == 0 ? EXIT_OK : EXIT_PARTIAL;
	goto out;
fail:
	why = err.text;
	if (!res.stop_reported) /* else the failing folder's report said it */
		log_msg(stopped(&err), "%s: %s", a->name, err.text);
	rc = res.unknown_folder ? EXIT_USAGE : EXIT_PARTIAL;
out:
	/* "Nothing could be done" only when nothing was. */
	if (rc == EXIT_PARTIAL && !res.folders_synced && !j->c.done)
		rc = EXIT_FAILED;
	run_ends(j, rc, why);
	sync_prefetch_stop(o.prefetch);
	if (remote)
		remote->ops->close(remote);
	if (local && local != j->local)
		local->ops->close(local);
	cli_folders_free(&folders);
	sync_backoff_free(o.backoff);
	/* After the stores are closed: a hook may take its time. */
	hooks_run(j->hooks);
	return rc;
}

/* The accounts of the run, taken in turn by up to --jobs threads: those
 * that are free first, then those waited for (--wait). */
struct account_queue {
	pthread_mutex_t lock;
	struct account_job *jobs;
	size_t count, next;
	bool waited; /* the second pass: the accounts waited for */
};

/* An account waited for (--wait), once its run is done: locked and its
 * state opened, or j->rc says why not. */
static bool open_waited(struct account_job *j)
{
	struct error err;

	error_clear(&err);
	if (open_state(j, STATE_LOCK_FOREVER, &err) == 0)
		return true;
	log_error("%s: %s", j->a->name, err.text);
	j->rc = EXIT_FAILED;
	return false;
}

static void *take_accounts(void *arg)
{
	struct account_queue *q = arg;

	for (;;) {
		struct account_job *j = NULL;

		pthread_mutex_lock(&q->lock);
		while (!j && (q->next < q->count || !q->waited)) {
			if (q->next == q->count) {
				q->waited = true;
				q->next = 0;
				continue;
			}
			j = &q->jobs[q->next++];
			if (j->rc != EXIT_OK || j->handed || j->wait_lock != q->waited)
				j = NULL; /* not to be synced here, or not in this pass */
		}
		pthread_mutex_unlock(&q->lock);
		if (!j)
			return NULL;
		if (j->wait_lock && !open_waited(j))
			continue;
		/* A POP3 source of two servers goes through the engine like an
		 * IMAP one; pop3: + maildir: is the import (leave on server,
		 * deletions after days). */
		j->rc = j->a->side[SIDE_A].store == CONFIG_STORE_POP3 && !j->a->two_servers
		            ? import_account(j)
		            : sync_account(j);
	}
}

static void run_accounts(struct account_job *jobs, size_t count, unsigned max_threads)
{
	struct account_queue q = {PTHREAD_MUTEX_INITIALIZER, jobs, count, 0, false};
	size_t n = count < max_threads ? count : max_threads;
	pthread_t *threads = xcalloc(n + 1, sizeof(*threads));
	size_t started = 0;

	while (started + 1 < n && pthread_create(&threads[started], NULL, take_accounts, &q) == 0)
		started++;
	take_accounts(&q);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
}

/* Open account `a` for the run (see account_job); its rc says whether
 * it can run. */
static void prepare_account(struct account_job *j)
{
	struct error err;

	error_clear(&err);
	j->c.account = j->a->name;
	j->c.two_servers = j->a->two_servers;
	j->hooks = hooks_new(j->a, j->c.dry_run);
	j->rc = EXIT_OK;
	if (j->a->side[SIDE_A].store != CONFIG_STORE_POP3 && j->c.mark_seen) {
		log_error(
		    "%s: --mark-seen is for POP3 accounts (IMAP accounts match existing mail by content)",
		    j->a->name);
		j->rc = EXIT_FAILED;
	} else if (account_open(j, &err) < 0) {
		/* Another run of the account goes on: a watcher's does what
		 * this one was to do. */
		j->handed = j->busy && !j->c.dry_run && cli_ask_watcher(j->a, j->db);
		if (!j->handed)
			log_error("%s: %s", j->a->name, err.text);
		j->rc = j->handed ? EXIT_OK : j->busy ? EXIT_BUSY : EXIT_FAILED;
	}
}

int cli_parse_jobs(const char *command, const char *usage, const char *v, unsigned *jobs_r)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = v && *v ? strtoul(v, &end, 10) : 0;
	if (!v || !*v || *end || errno || n < 1 || n > CLI_MAX_JOBS) {
		fprintf(stderr, "twinbox: %s: --jobs wants a number from 1 to %d, not \"%s\"\n%s", command,
		        CLI_MAX_JOBS, v ? v : "", usage);
		return -1;
	}
	*jobs_r = (unsigned)n;
	return 0;
}

int cli_sync_accounts(const struct config *cfg, const char *path, const struct sync_cli *cli,
                      const char *const *targets, size_t n_targets)
{
	struct sync_cli c = *cli;
	struct account_job *jobs;
	size_t n_jobs = 0, ok = 0, failed = 0, partial = 0, usage = 0, busy = 0;
	int rc = EXIT_OK;

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
	jobs = xcalloc(cfg->account_count + 1, sizeof(*jobs));
	for (size_t i = 0; rc == EXIT_OK && i < cfg->account_count; i++) {
		const struct config_account *a = &cfg->accounts[i];
		struct account_job *j = &jobs[n_jobs];
		bool wanted = n_targets == 0, whole = n_targets == 0;

		j->only = xcalloc(n_targets + 1, sizeof(*j->only));
		for (size_t t = 0; t < n_targets; t++) {
			size_t len = strlen(a->name);
			if (strncmp(targets[t], a->name, len) != 0)
				continue;
			if (targets[t][len] == '\0') {
				wanted = whole = true;
			} else if (targets[t][len] == ':') {
				wanted = true;
				j->only[j->only_count++] = targets[t] + len + 1;
			}
		}
		if (!wanted) {
			free(j->only);
			memset(j, 0, sizeof(*j));
			continue;
		}
		if (whole)
			j->only_count = 0;
		j->cfg = cfg;
		j->a = a;
		j->c = c;
		prepare_account(j);
		n_jobs++;
	}
	run_accounts(jobs, n_jobs, c.jobs);
	for (size_t i = 0; i < n_jobs; i++) {
		if (jobs[i].rc == EXIT_USAGE)
			usage++;
		if (jobs[i].rc == EXIT_OK)
			ok++;
		else if (jobs[i].rc == EXIT_PARTIAL)
			partial++;
		else if (jobs[i].rc == EXIT_BUSY)
			busy++;
		else
			failed++;
		account_close(&jobs[i]);
	}
	free(jobs);
	/* Precedence: a bad argument, then a failure (a busy account counts
	 * as not done), then "busy, try again later" (docs/twinbox.1). */
	if (rc == EXIT_OK && usage) /* a folder argument named no folder */
		rc = EXIT_USAGE;
	else if (rc == EXIT_OK && (failed || partial))
		rc = ok == 0 && partial == 0 ? EXIT_FAILED : EXIT_PARTIAL;
	else if (rc == EXIT_OK && busy)
		rc = EXIT_BUSY;
	return rc;
}

int cmd_sync(struct cli_options *opts)
{
	struct sync_cli c = {
	    .quiet = (opts->verbosity < 0), .verbose = (opts->verbosity > 0), .jobs = CLI_DEFAULT_JOBS};
	const char **targets = xcalloc((size_t)opts->argc + 1, sizeof(*targets));
	size_t n_targets = 0;
	struct config *cfg;
	char *path;
	int rc;

	for (int i = 0; i < opts->argc; i++) {
		const char *a = opts->argv[i];
		if (strcmp(a, "--dry-run") == 0 || strcmp(a, "-n") == 0) {
			c.dry_run = true;
		} else if (strcmp(a, "--allow-mass-delete") == 0) {
			c.allow_mass_delete = true;
		} else if (strcmp(a, "--mark-seen") == 0) {
			c.mark_seen = true;
		} else if (strcmp(a, "--json") == 0) {
			c.json = true;
		} else if (strcmp(a, "--wait") == 0) {
			c.wait = true;
		} else if (strcmp(a, "--jobs") == 0 || strcmp(a, "-j") == 0 ||
		           strncmp(a, "--jobs=", 7) == 0) {
			const char *v = a[1] == '-' && a[6] == '=' ? a + 7
			                : i + 1 < opts->argc       ? opts->argv[++i]
			                                           : NULL;
			if (cli_parse_jobs("sync", sync_usage, v, &c.jobs) < 0) {
				free(targets);
				return EXIT_USAGE;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "twinbox: sync: unknown option %s\n%s", a, sync_usage);
			free(targets);
			return EXIT_USAGE;
		} else {
			targets[n_targets++] = a;
		}
	}
	render_start(c.json, !c.json && !c.quiet && isatty(STDERR_FILENO));
	cfg = cli_load_config(opts, &path);
	if (!cfg) {
		render_end();
		free(path);
		free(targets);
		return EXIT_CONFIG;
	}
	rc = cli_sync_accounts(cfg, path, &c, targets, n_targets);
	config_free(cfg);
	free(path);
	free(targets);
	render_end();
	return rc;
}
