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
