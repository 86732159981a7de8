/*
 * The human rendering of a sync's events: one line per folder where
 * something happened ("ACCOUNT: FOLDER: N pulled, ..."), one line for an
 * account where nothing did, a failed folder's error; and the dispatch
 * of every event to --json or the progress line. Also the log sink of a
 * run with either (errors become JSON events; log lines erase the
 * progress line first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render.h"
#include "twinbox/util/buf.h"

/* The messages a folder's run changed in any way. */
static size_t changed(const struct sync_folder_report *r)
{
	return r->to_local + r->to_remote + r->flags_local + r->flags_remote + r->deleted_local +
	       r->deleted_remote + r->paired;
}

/* Whether a folder's line has anything to say. */
static bool eventful(const struct sync_folder_report *r)
{
	return changed(r) || r->reuploaded || r->too_big || r->message_failures;
}

/* "200 of 305 messages pulled, 3 of 3 pushed" for a folder that failed
 * part-way: each kind of change its plan held, done of planned. */
static void print_done(struct buf *b, const struct sync_folder_report *r)
{
	const struct {
		size_t done, planned;
		const char *what;
	} kinds[] = {
	    {r->to_local, r->planned.to_local, "pulled"},
	    {r->to_remote, r->planned.to_remote, "pushed"},
	    {r->flags_local, r->planned.flags_local, "with flags changed locally"},
	    {r->flags_remote, r->planned.flags_remote, "with flags changed on the server"},
	    {r->deleted_local, r->planned.deleted_local, "deleted locally"},
	    {r->deleted_remote, r->planned.deleted_remote, "deleted on the server"},
	    {r->paired, r->planned.paired, "matched by content"},
	};
	const char *sep = "";

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!kinds[i].planned && !kinds[i].done)
			continue;
		buf_printf(b, "%s%zu of %zu%s %s", sep, kinds[i].done, kinds[i].planned,
		           *sep ? "" : " messages", kinds[i].what);
		sep = ", ";
	}
}

/* A dry run's line for a folder: what the run would do. */
static void print_planned(const struct sync_cli *c, const struct sync_folder_report *r)
{
	const struct sync_counts *p = &r->planned;

	printf("%s: %s: ", c->account, r->name);
	if (r->created_local || r->created_remote)
		printf("would be created %s; ", r->created_local ? "locally" : "on the server");
	printf("would pull %zu, push %zu, change flags of %zu local / %zu remote, delete %zu local / %zu "
	       "remote",
	       p->to_local, p->to_remote, p->flags_local, p->flags_remote, p->deleted_local,
	       p->deleted_remote);
	if (p->paired)
		printf(", match %zu by content", p->paired);
	if (p->too_big)
		printf(", skip %zu over max_size", p->too_big);
	printf("\n");
}

/* "N pulled, N pushed, ..." of a folder's report, or of an account's
 * (without a folder name). */
static void print_counts(const struct sync_cli *c, const struct sync_folder_report *r)
{
	printf("%s: ", c->account);
	if (r->name)
		printf("%s: ", r->name);
	printf("%zu pulled, %zu pushed, flags %zu local / %zu remote, deleted %zu local / %zu remote",
	       r->to_local, r->to_remote, r->flags_local, r->flags_remote, r->deleted_local,
	       r->deleted_remote);
	if (r->paired)
		printf(", %zu matched", r->paired);
	if (r->reuploaded)
		printf(", %zu re-uploaded", r->reuploaded);
	if (r->too_big)
		printf(", %zu over max_size", r->too_big);
	if (r->message_failures)
		printf(", %zu failed (retried next run)", r->message_failures);
	printf("\n");
}

static void report(struct sync_cli *c, const struct sync_folder_report *r)
{
	if (r->failed) {
		struct buf b = BUF_INIT;
		if (changed(r)) {
			buf_printf(&b, " (before that, ");
			print_done(&b, r);
			buf_printf(&b, "; what was done is kept, the next run does the rest)");
		}
		log_error("%s: %s: %s%s", c->account, r->name, r->err.text, b.len ? b.data : "");
		buf_free(&b);
		return;
	}
	/* A folder where nothing happened goes unsaid (a dry run says what
	 * it would do everywhere). */
	if (c->quiet || c->json || (!r->dry_run && !eventful(r)))
		return;
	progress_pause();
	flockfile(stdout); /* one line, whatever the other threads print */
	if (r->dry_run)
		print_planned(c, r);
	else
		print_counts(c, r);
	fflush(stdout);
	funlockfile(stdout);
	progress_resume();
	c->printed = true;
}

/* The end of an account: with nothing to say of any folder, one line
 * that says so. */
static void account_end(struct sync_cli *c, const struct sync_event *ev)
{
	struct sync_folder_report none = {0};

	progress_end(&c->progress);
	if (c->quiet || c->json || c->printed || c->dry_run || ev->folders_failed || ev->text)
		return;
	flockfile(stdout);
	print_counts(c, ev->totals ? ev->totals : &none);
	fflush(stdout);
	funlockfile(stdout);
}

void render_event(void *ctx, const struct sync_event *ev)
{
	struct sync_cli *c = ctx;

	if (ev->kind == SYNC_EVENT_FOLDER_END)
		c->done += changed(ev->report);
	if (c->json)
		json_event(c->account, ev);
	switch (ev->kind) {
	case SYNC_EVENT_ACCOUNT_BEGIN:
		if (!c->json && !c->quiet)
			progress_begin(&c->progress, c->account);
		break;
	case SYNC_EVENT_PROGRESS:
		progress_update(&c->progress, &ev->account_progress);
		break;
	case SYNC_EVENT_FOLDER_END:
		report(c, ev->report);
		break;
	case SYNC_EVENT_ACCOUNT_END:
		account_end(c, ev);
		break;
	default:
		break;
	}
}

static bool json_on;

static void sink(enum log_level level, const char *line, void *ctx)
{
	(void)ctx;
	progress_pause();
	cli_log_sink(level, line, NULL);
	progress_resume();
	if (json_on && level <= LOG_WARN)
		json_log(level, line);
}

void render_start(bool json, bool progress)
{
	json_on = json;
	if (progress)
		progress_enable();
	if (json || progress)
		log_set_sink(sink, NULL);
}

void render_end(void)
{
	log_set_sink(cli_log_sink, NULL);
	json_on = false;
}
