/*
 * twinbox status [--connect] [--json] [ACCOUNT...]
 *
 * What each account's state says, without touching the network: its
 * last run (when, how it ended, why it failed), whether a run or a
 * watcher runs for it now, and per folder the last sync that went
 * through, the messages each side held after it, what a killed run left
 * pending and what failed, with the reason. With --connect, each IMAP
 * server's current count per folder (one LIST-STATUS, or pipelined
 * STATUS) and its quota, with a warning for a nearly full one.
 *
 * Nothing is written: no lock is taken (a run starting meanwhile must
 * not be refused because of a look at it), no state is made. A state of
 * an older twinbox is upgraded on opening, as any command does.
 *
 * Exit 0 when every account's last run went through (or none has run
 * yet), 1 when one's did not (it failed, stopped part-way or was
 * killed), its state cannot be read, or with --connect a server cannot
 * be reached.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "render.h"
#include "twinbox/imap/commands.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/state/lock.h"
#include "twinbox/state/pair.h"
#include "twinbox/state/pop3.h"
#include "twinbox/state/run.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/sync/folder_map.h"
#include "twinbox/util/clock.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* A quota this full (percent) is warned about. */
#define STATUS_QUOTA_WARN_PERCENT 90

static const char status_usage[] = "Usage: twinbox status [--connect] [--json] [ACCOUNT...]\n";

/* A folder by the name the state uses, and its message count on a
 * server now (-1: not told). */
struct named_count {
	char *name;
	int64_t count;
};

/* What --connect learnt of one server side. */
struct server_now {
	bool asked, failed;
	struct named_count *folders; /* sorted by name */
	size_t count;
	/* The store's listing with each folder's special use, for an
	 * account of two servers whose folders are mapped. */
	char **listed;
	enum store_special_use *uses;
	size_t listed_count;
	struct store_quota *roots;
	size_t root_count;
};

/* One account as the state (and --connect) shows it. */
struct account_status {
	const struct config_account *a;
	const char *words[SIDES]; /* "server", "local" / "source", "target" */
	bool never_synced;
	char *error; /* the state could not be read */
	struct state_run run;
	int has_run; /* state_run_get(): 1 when a run is recorded */
	struct state_process running, watcher;
	struct state_folder *folders;
	size_t folder_count;
	int64_t pending, failed_messages;
	int64_t downloaded; /* POP3 import, else -1 */
	struct server_now now[SIDES];
	char **map_inner; /* side B's name of each folder (two servers mapped), or NULL */
};

static void server_now_free(struct server_now *n)
{
	for (size_t i = 0; i < n->count; i++)
		free(n->folders[i].name);
	free(n->folders);
	store_names_free(n->listed);
	free(n->uses);
	store_quota_free(n->roots, n->root_count);
	memset(n, 0, sizeof(*n));
}

static void account_status_free(struct account_status *s)
{
	free(s->error);
	state_run_clear(&s->run);
	for (size_t i = 0; s->map_inner && i < s->folder_count; i++)
		free(s->map_inner[i]);
	free(s->map_inner);
	state_folder_list_free(s->folders, s->folder_count);
	for (int side = 0; side < SIDES; side++)
		server_now_free(&s->now[side]);
}

/* ---- from the state ---- */

/* The counts of a folder synced before the state kept them (a state
 * of an older twinbox): its pairs, which are what the two sides had in
 * common then. */
static void counts_from_pairs(struct state *st, struct state_folder *f)
{
	size_t with[SIDES];
	struct error err;

	if (f->seen[SIDE_A] >= 0 || !f->last_sync || state_pairs_count(st, f->id, with, &err) < 0)
		return;
	for (int s = 0; s < SIDES; s++)
		f->seen[s] = (int64_t)with[s];
}

/* What the state of account `a` at `db` says into *s; -1 after keeping
 * why it cannot be read in s->error. */
static int read_state(const char *db, struct account_status *s)
{
	struct state *st = NULL;
	struct state_intents intents = {0};
	struct error err;
	int rc = -1;

	if (access(db, F_OK) < 0 && errno == ENOENT) {
		s->never_synced = true;
		return 0;
	}
	if (state_open(db, 0, &st, &err) < 0 || (s->has_run = state_run_get(st, &s->run, &err)) < 0 ||
	    state_folder_list(st, &s->folders, &s->folder_count, &err) < 0 ||
	    state_intent_list(st, 0, &intents, &err) < 0)
		goto out;
	s->pending = (int64_t)intents.count;
	for (size_t i = 0; i < s->folder_count; i++) {
		counts_from_pairs(st, &s->folders[i]);
		s->failed_messages += s->folders[i].failed_messages;
	}
	if (s->downloaded >= 0) {
		struct state_pop3_set set = {0};
		if (state_pop3_load(st, &set, &err) < 0)
			goto out;
		s->downloaded = (int64_t)set.count;
		state_pop3_set_free(&set);
	}
	rc = 0;
out:
	if (rc < 0)
		s->error = xstrdup(err.text);
	state_intents_free(&intents);
	state_close(st);
	return rc;
}

/* ---- --connect ---- */

static int cmp_named(const void *x, const void *y)
{
	return strcmp(((const struct named_count *)x)->name, ((const struct named_count *)y)->name);
}

/* The count of folder `name` on a side, -1 when not known. */
static int64_t count_of(const struct server_now *n, const char *name)
{
	struct named_count key = {(char *)name, 0};
	const struct named_count *at;

	if (!n->asked || n->failed || !n->count)
		return -1;
	at = bsearch(&key, n->folders, n->count, sizeof(*n->folders), cmp_named);
	return at ? at->count : -1;
}

/* Each folder's MESSAGES (LIST-STATUS, else pipelined STATUS) by the
 * names sync uses, sorted. */
static int count_folders(struct imap_session *s, struct server_now *n, struct error *err)
{
	struct imap_folder *v;
	struct named_count *nc;
	size_t count, k = 0;

	if (imap_list(s, "*", IMAP_LIST_STATUS, &v, &count, err) < 0)
		return -1;
	nc = xcalloc(count + 1, sizeof(*nc));
	for (size_t i = 0; i < count; i++) {
		const char *note;
		if ((v[i].attrs & IMAP_FOLDER_NOSELECT) || !v[i].name)
			continue;
		nc[k].name = cli_imap_sync_name(&v[i], imap_namespace_prefix(s), &note);
		if (*note) { /* not one sync takes */
			free(nc[k].name);
			continue;
		}
		nc[k++].count = v[i].status.have & IMAP_STATUS_MESSAGES ? (int64_t)v[i].status.messages : -1;
	}
	imap_folders_free(v, count);
	qsort(nc, k, sizeof(*nc), cmp_named);
	n->folders = nc;
	n->count = k;
	return 0;
}

/* Ask server side `s` of account `a` for its folders' counts, their
 * special uses and its quota (INBOX's roots). -1 after saying why. */
static int ask_server(const struct config_account *a, enum side s, const char *label, struct server_now *n)
{
	struct error err;
	struct store *st;
	char **listed = NULL;

	n->asked = true;
	error_clear(&err);
	if (!(st = cli_open_side(a, s, &err)))
		goto fail;
	if (count_folders(imap_store_session(st), n, &err) < 0 ||
	    st->ops->list_folders(st, &listed, &err) < 0)
		goto fail;
	n->listed = listed;
	while (listed[n->listed_count])
		n->listed_count++;
	n->uses = xcalloc(n->listed_count + 1, sizeof(*n->uses));
	for (size_t i = 0; st->ops->special_use && i < n->listed_count; i++)
		n->uses[i] = st->ops->special_use(st, listed[i]);
	if (st->ops->quota && st->ops->quota(st, "INBOX", &n->roots, &n->root_count, &err) < 0) {
		log_warn("%s%s: the quota is not known: %s", a->name, label, err.text);
		n->roots = NULL;
		n->root_count = 0;
	}
	st->ops->close(st);
	return 0;
fail:
	if (st)
		st->ops->close(st);
	log_error("%s%s: %s", a->name, label, err.text);
	n->failed = true;
	return -1;
}

/* For an account of two servers whose folders are mapped (special use,
 * renames: sync/folder_map.h), side B's name of each folder, as a run
 * would map them with the two listings. */
static void map_folders(struct account_status *s)
{
	struct cli_folders m;
	struct sync_options o = {0};
	struct folder_map map;
	struct store_name_map names;
	struct folder_map_side side[SIDES];

	cli_folder_options(s->a, &m, &o);
	if (!o.mapping || s->now[SIDE_A].failed || s->now[SIDE_B].failed) {
		cli_folders_free(&m);
		return;
	}
	for (int i = 0; i < SIDES; i++)
		side[i] = (struct folder_map_side){(const char *const *)s->now[i].listed, s->now[i].uses,
		                                   s->now[i].listed_count};
	folder_map_build(&side[SIDE_A], &side[SIDE_B], o.mapping, &map);
	names = folder_map_names(&map);
	s->map_inner = xcalloc(s->folder_count + 1, sizeof(*s->map_inner));
	for (size_t i = 0; i < s->folder_count; i++)
		s->map_inner[i] = store_map_inner(&names, s->folders[i].remote_name);
	folder_map_free(&map);
	cli_folders_free(&m);
}

/* Each server side asked; false when one could not be. */
static bool connect_account(struct account_status *s)
{
	const struct config_account *a = s->a;
	bool ok = true;

	for (int side = 0; side < SIDES; side++) {
		const char *label = !a->two_servers ? "" : side == SIDE_A ? " (source)" : " (target)";
		if (a->side[side].store != CONFIG_STORE_IMAP)
			continue; /* a Maildir is read by sync; POP3 has no folders */
		if (ask_server(a, (enum side)side, label, &s->now[side]) < 0)
			ok = false;
	}
	if (a->two_servers)
		map_folders(s);
	return ok;
}

/* What server side `side` holds now of state folder `i`, -1 when not
 * known. */
static int64_t now_of(const struct account_status *s, enum side side, size_t i)
{
	const char *name = s->folders[i].remote_name;

	if (side == SIDE_B && s->map_inner && s->map_inner[i])
		name = s->map_inner[i];
	return count_of(&s->now[side], name);
}

/* ---- quota ---- */

/* `bytes` in 1024-based units as the config writes sizes ("1.2 GB"). */
static void size_text(uint64_t bytes, char out[32])
{
	static const char *const units[] = {"KB", "MB", "GB", "TB", "PB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(out, 32, "%" PRIu64 " bytes", bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, 32, "%.1f %s", v, units[u]);
}

/* How full root `q` is, in whole percent (the fuller of its limits). */
static unsigned quota_percent(const struct store_quota *q)
{
	uint64_t p = 0;

	if (q->has_bytes && q->limit_bytes)
		p = (uint64_t)((long double)q->used_bytes * 100 / q->limit_bytes);
	if (q->has_messages && q->limit_messages) {
		uint64_t m = (uint64_t)((long double)q->used_messages * 100 / q->limit_messages);
		p = m > p ? m : p;
	}
	return p > 999 ? 999 : (unsigned)p;
}

/* "1.2 GB of 5.0 GB used, 24%" (and the messages, where limited). */
static void quota_text(const struct store_quota *q, char *out, size_t size)
{
	char used[32], limit[32];
	size_t len = 0;

	out[0] = '\0';
	if (q->has_bytes) {
		size_text(q->used_bytes, used);
		size_text(q->limit_bytes, limit);
		len += (size_t)snprintf(out, size, "%s of %s used, ", used, limit);
	}
	if (q->has_messages && len < size)
		len += (size_t)snprintf(out + len, size - len, "%" PRIu64 " of %" PRIu64 " messages, ",
		                        q->used_messages, q->limit_messages);
	if (len < size)
		snprintf(out + len, size - len, "%u%%", quota_percent(q));
}

/* Each quota root of each side: told (text or JSON), and warned about
 * when nearly full. */
static void show_quotas(const struct account_status *s, bool json)
{
	for (int side = 0; side < SIDES; side++) {
		const struct server_now *n = &s->now[side];
		for (size_t i = 0; i < n->root_count; i++) {
			const struct store_quota *q = &n->roots[i];
			unsigned percent = quota_percent(q);
			bool full = percent >= STATUS_QUOTA_WARN_PERCENT;
			char text[160], *root = log_escape(q->root), *where = log_escape(q->where);

			quota_text(q, text, sizeof(text));
			if (json)
				json_status_quota(s->a->name, (enum side)side, q, percent, full);
			else
				printf("  %-13s \"%s\" on %s: %s\n", "quota:", root, where, text);
			if (full)
				log_warn("%s: the mailbox on %s is nearly full (quota \"%s\": %s); delete or "
				         "archive "
				         "mail there, or the next copies to it will be refused",
				         s->a->name, where, root, text);
			free(root);
			free(where);
		}
	}
}

/* ---- text ---- */

/* "(5 min ago)" for a time `t` before now. */
static void ago_text(int64_t t, char out[32])
{
	int64_t d = (int64_t)time(NULL) - t;

	if (d < 0)
		d = 0;
	if (d < 60)
		snprintf(out, 32, "(%" PRId64 " s ago)", d);
	else if (d < 3600)
		snprintf(out, 32, "(%" PRId64 " min ago)", d / 60);
	else if (d < 2 * 86400)
		snprintf(out, 32, "(%" PRId64 " h ago)", d / 3600);
	else
		snprintf(out, 32, "(%" PRId64 " days ago)", d / 86400);
}

/* "pid 12 since 2026-11-22 03:51:19" (and the host, when not this one). */
static void process_line(const char *label, const struct state_process *p)
{
	char when[CLOCK_TEXT_SIZE];
	char *host = log_escape(p->host);

	clock_local_text((time_t)p->since, when);
	printf("  %-13s pid %ld since %s%s%s\n", label, p->pid, when, p->here ? "" : " on host ",
	       p->here ? "" : host);
	free(host);
}

static void print_run(const struct account_status *s)
{
	const struct state_run *r = &s->run;
	char when[CLOCK_TEXT_SIZE], ago[32];
	char *error = r->error ? log_escape(r->error) : NULL;

	if (!s->has_run || !r->started) {
		printf("  %-13s none recorded yet\n", "last run:");
	} else if (!r->ended) {
		clock_local_text((time_t)r->started, when);
		ago_text(r->started, ago);
		printf("  %-13s started %s %s, %s\n", "last run:", when, ago,
		       s->running.known ? "still running"
		                        : "did not finish (killed, or the machine stopped)");
	} else {
		clock_local_text((time_t)r->ended, when);
		ago_text(r->ended, ago);
		printf("  %-13s %s %s, %s%s%s\n", "last run:", when, ago,
		       r->result == STATE_RUN_OK        ? "went through"
		       : r->result == STATE_RUN_PARTIAL ? "stopped part-way or some folders failed"
		                                        : "failed",
		       error ? ": " : "", error ? error : "");
	}
	if (s->has_run && r->result != STATE_RUN_OK && r->started) {
		if (r->last_ok) {
			clock_local_text((time_t)r->last_ok, when);
			ago_text(r->last_ok, ago);
			printf("  %-13s %s %s\n", "last success:", when, ago);
		} else {
			printf("  %-13s never\n", "last success:");
		}
	}
	free(error);
}

/* The width of the widest of `header` and the counts in `v`. */
static int column_width(const char *header, const int64_t *v, size_t n)
{
	int w = (int)strlen(header);

	for (size_t i = 0; i < n; i++) {
		char num[32];
		int len = snprintf(num, sizeof(num), "%" PRId64, v[i]);
		if (len > w)
			w = len;
	}
	return w;
}

static void put_count(int width, int64_t v)
{
	if (v < 0)
		printf("  %*s", width, "-");
	else
		printf("  %*" PRId64, width, v);
}

/* The folders' table: last sync, each side's count (and with --connect
 * each server's now), pending and failed, the name last (it may be of
 * any length). Then each folder's error on a line of its own. */
static void print_folders(const struct account_status *s)
{
	enum { SEEN_A, NOW_A, SEEN_B, NOW_B, PENDING, FAILED, COLUMNS };
	size_t n = s->folder_count;
	int64_t *v[COLUMNS];
	char header[COLUMNS][32];
	bool shown[COLUMNS];
	int width[COLUMNS];

	for (int c = 0; c < COLUMNS; c++)
		v[c] = xcalloc(n + 1, sizeof(*v[c]));
	for (size_t i = 0; i < n; i++) {
		const struct state_folder *f = &s->folders[i];
		v[SEEN_A][i] = f->seen[SIDE_A];
		v[SEEN_B][i] = f->seen[SIDE_B];
		v[NOW_A][i] = now_of(s, SIDE_A, i);
		v[NOW_B][i] = now_of(s, SIDE_B, i);
		v[PENDING][i] = f->pending;
		v[FAILED][i] = f->failed_messages;
	}
	for (int side = 0; side < SIDES; side++) {
		char *up = xstrdup(s->words[side]);
		for (char *p = up; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		snprintf(header[side == SIDE_A ? SEEN_A : SEEN_B], 32, "%s", up);
		snprintf(header[side == SIDE_A ? NOW_A : NOW_B], 32, "%s-NOW", up);
		shown[side == SIDE_A ? NOW_A : NOW_B] = s->now[side].asked;
		free(up);
	}
	snprintf(header[PENDING], 32, "PENDING");
	snprintf(header[FAILED], 32, "FAILED");
	shown[SEEN_A] = shown[SEEN_B] = shown[PENDING] = shown[FAILED] = true;
	printf("  %-19s", "LAST SYNC");
	for (int c = 0; c < COLUMNS; c++) {
		width[c] = column_width(header[c], v[c], n);
		if (shown[c])
			printf("  %*s", width[c], header[c]);
	}
	printf("  FOLDER\n");
	for (size_t i = 0; i < n; i++) {
		const struct state_folder *f = &s->folders[i];
		char when[CLOCK_TEXT_SIZE] = "never", *name = log_escape(f->remote_name);

		if (f->last_sync)
			clock_local_text((time_t)f->last_sync, when);
		printf("  %-19s", when);
		for (int c = 0; c < COLUMNS; c++)
			if (shown[c])
				put_count(width[c], v[c][i]);
		printf("  %s\n", name);
		free(name);
	}
	for (size_t i = 0; i < n; i++) {
		const struct state_folder *f = &s->folders[i];
		char when[CLOCK_TEXT_SIZE];
		char *name, *error;

		if (!f->error)
			continue;
		name = log_escape(f->remote_name);
		error = log_escape(f->error);
		clock_local_text((time_t)f->error_time, when);
		/* A sync that went through with failed messages has their last
		 * reason at its own time; a failed sync came after it. */
		if (f->failed_messages && f->last_sync == f->error_time)
			printf("  %s: %" PRId64 " message%s failed (%s), the last: %s\n", name,
			       f->failed_messages, f->failed_messages == 1 ? "" : "s", when, error);
		else
			printf("  %s: failed (%s): %s\n", name, when, error);
		free(name);
		free(error);
	}
	for (int c = 0; c < COLUMNS; c++)
		free(v[c]);
}

static void print_text(const struct account_status *s)
{
	printf("%s%s\n", s->a->name,
	       s->never_synced ? ": never synced (no state yet)"
	       : s->error      ? ": the state cannot be read"
	                       : "");
	if (s->running.known)
		process_line("syncing now:", &s->running);
	if (s->watcher.known)
		process_line("watched by", &s->watcher);
	if (s->never_synced)
		show_quotas(s, false); /* --connect: the server has a say all the same */
	if (s->never_synced || s->error)
		return;
	print_run(s);
	if (s->pending && !s->running.known)
		printf("  %-13s %" PRId64 " step%s a stopped run left; the next run finishes %s\n",
		       "pending:", s->pending, s->pending == 1 ? "" : "s", s->pending == 1 ? "it" : "them");
	if (s->downloaded >= 0)
		printf("  %-13s %" PRId64 " message%s\n", "downloaded:", s->downloaded,
		       s->downloaded == 1 ? "" : "s");
	show_quotas(s, false);
	if (s->folder_count)
		print_folders(s);
}

static void print_json(const struct account_status *s)
{
	struct status_account_view v = {
	    .account = s->a->name,
	    .two_servers = s->a->two_servers,
	    .never_synced = s->never_synced,
	    .error = s->error,
	    .run = s->has_run ? &s->run : NULL,
	    .running = s->running.known ? &s->running : NULL,
	    .watcher = s->watcher.known ? &s->watcher : NULL,
	    .pending = s->pending,
	    .failed_messages = s->failed_messages,
	    .downloaded = s->downloaded,
	};

	json_status_account(&v);
	for (size_t i = 0; i < s->folder_count; i++) {
		const struct state_folder *f = &s->folders[i];
		struct status_folder_view fv = {
		    .account = s->a->name,
		    .folder = f->remote_name,
		    .last_sync = f->last_sync,
		    .seen = {f->seen[SIDE_A], f->seen[SIDE_B]},
		    .now = {now_of(s, SIDE_A, i), now_of(s, SIDE_B, i)},
		    .pending = f->pending,
		    .failed_messages = f->failed_messages,
		    .error = f->error,
		    .error_time = f->error_time,
		};
		json_status_folder(&fv);
	}
	show_quotas(s, true);
}

/* Whether the account's last run calls for a look: it did not go
 * through, or was killed. */
static bool needs_attention(const struct account_status *s)
{
	const struct state_run *r = &s->run;

	if (s->error)
		return true;
	if (!s->has_run || !r->started)
		return false;
	if (!r->ended)
		return !s->running.known;
	return r->result != STATE_RUN_OK;
}

/* Status of account `a`; EXIT_OK, or EXIT_PARTIAL when it needs a look. */
static int status_account(const struct config *cfg, const struct config_account *a, bool do_connect,
                          bool json)
{
	struct account_status s = {
	    .a = a,
	    .words = {a->two_servers ? "source" : "server", a->two_servers ? "target" : "local"},
	    .downloaded = a->side[SIDE_A].store == CONFIG_STORE_POP3 && !a->two_servers ? 0 : -1,
	};
	char *db = config_state_path(cfg, a);
	bool reached = true;
	int rc;

	state_lock_holder(db, &s.running);
	state_watch_find(db, &s.watcher);
	if (read_state(db, &s) < 0)
		log_error("%s: %s", a->name, s.error);
	if (do_connect && !s.error)
		reached = connect_account(&s);
	if (json)
		print_json(&s);
	else
		print_text(&s);
	fflush(stdout);
	rc = needs_attention(&s) || !reached ? EXIT_PARTIAL : EXIT_OK;
	account_status_free(&s);
	free(db);
	return rc;
}

int cmd_status(struct cli_options *opts)
{
	static const char *const options[] = {"--connect", "--json", NULL};
	bool given[2] = {false, false};
	struct cli_accounts names;
	struct config *cfg;
	char *path;
	int rc;

	if (cli_parse_accounts(opts, "status", status_usage, options, given, &names) < 0) {
		cli_accounts_free(&names);
		return EXIT_USAGE;
	}
	render_start(given[1], false);
	cfg = cli_load_config(opts, &path);
	if (!cfg) {
		render_end();
		free(path);
		cli_accounts_free(&names);
		return EXIT_CONFIG;
	}
	rc = cli_check_accounts(cfg, path, &names);
	for (size_t i = 0; rc != EXIT_USAGE && i < cfg->account_count; i++) {
		const struct config_account *a = &cfg->accounts[i];
		if (cli_account_wanted(&names, a) && status_account(cfg, a, given[0], given[1]) != EXIT_OK)
			rc = EXIT_PARTIAL;
	}
	config_free(cfg);
	render_end();
	free(path);
	cli_accounts_free(&names);
	return rc;
}
