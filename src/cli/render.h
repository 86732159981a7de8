/*
 * Private to cli/: rendering a sync's events (sync/events.h) three ways:
 * the human summary on standard output (render.c), one JSON object per
 * line for --json (json_events.c, docs/json.md), and a live progress
 * line on a terminal's standard error (progress.c).
 */
#ifndef TWINBOX_CLI_RENDER_H
#define TWINBOX_CLI_RENDER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "twinbox/sync/engine.h"
#include "twinbox/sync/pop3_import.h"
#include "twinbox/util/log.h"

#define JSON_SCHEMA 1

/* An account's place on the progress line. */
struct progress_account {
	char *name; /* escaped */
	struct sync_progress p;
	struct timespec start;
	bool active;
	struct progress_account *next;
};

/* One account's run as the command line sees it. */
struct sync_cli {
	bool dry_run, allow_mass_delete, mark_seen;
	bool wait; /* --wait: an account another run holds is waited for */
	bool quiet, verbose, json;
	bool two_servers; /* the account's sides are its source and target servers */
	unsigned jobs;
	/* `watch`: set by its signal handler, the run stops at its next
	 * durable step (sync_options.stop); NULL: never. */
	const volatile sig_atomic_t *stop;
	const char *account; /* for report lines */
	size_t done;         /* messages changed in the account's folders, failed ones too */
	bool printed;        /* a folder's line was printed */
	struct progress_account progress;
};

/* The observer of an account's sync (ctx: its struct sync_cli). */
void render_event(void *ctx, const struct sync_event *ev);

/* Where the run's output goes: JSON lines (errors and warnings become
 * events too), and/or a progress line on standard error. Installs the
 * log sink; render_end() restores the default. */
void render_start(bool json, bool progress);
void render_end(void);

/* JSON lines (json_events.c): each written whole, under stdout's lock. */
void json_event(const char *account, const struct sync_event *ev);
void json_log(enum log_level level, const char *line);
void json_import(const char *account, const char *folder, const struct pop3_import_report *r, bool dry_run);
/* A verification's folder (r->name set: "verify_folder") or its totals
 * (r->name NULL: "verify_end", with the folders and whether some could
 * not be read). */
void json_verify(const char *account, const struct sync_verify_report *r, size_t folders, bool failed);

/* `twinbox status` as JSON lines (status.c, docs/json.md). Times are
 * Unix seconds, 0 = never; counts -1 = not known (left out). */
struct state_run;
struct state_process;
struct store_quota;
struct status_account_view {
	const char *account;
	bool two_servers;
	bool never_synced;                   /* no state yet */
	const char *error;                   /* why the state could not be read, or NULL */
	const struct state_run *run;         /* NULL: no run recorded */
	const struct state_process *running; /* a run holding the lock now, or NULL */
	const struct state_process *watcher; /* a watcher registered and running, or NULL */
	int64_t pending, failed_messages;    /* of every folder (pending: also of none) */
	int64_t downloaded;                  /* a POP3 import's messages, or -1 */
};
struct status_folder_view {
	const char *account, *folder;
	int64_t last_sync;
	int64_t seen[SIDES]; /* messages each side held after the last sync */
	int64_t now[SIDES];  /* --connect: what the server holds now */
	int64_t pending, failed_messages;
	const char *error;
	int64_t error_time;
};
void json_status_account(const struct status_account_view *v);
void json_status_folder(const struct status_folder_view *v);
/* A quota root of side `side`: `percent` used (the larger of bytes and
 * messages), `nearly_full` at or past the warning. */
void json_status_quota(const char *account, enum side side, const struct store_quota *q, unsigned percent,
                       bool nearly_full);

/* The progress line (progress.c): on standard error, one line for every
 * account in progress, redrawn at most 10 times a second. Off until
 * progress_enable(). pause/resume bracket other output to the terminal
 * (the line is erased, and drawn again at the next update). */
void progress_enable(void);
void progress_begin(struct progress_account *a, const char *account);
void progress_update(struct progress_account *a, const struct sync_progress *p);
void progress_end(struct progress_account *a);
void progress_pause(void);
void progress_resume(void);

#endif
