/*
 * The human rendering of a sync's events: one line per folder where
 * something happened ("ACCOUNT: FOLDER: N pulled, ..."; for an account
 * of two servers "N copied to the target, ..."), one line for an
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
#include "twinbox/util/mailflags.h"

/* The messages a folder's run changed in any way. */
static size_t changed(const struct sync_folder_report *r)
{
	return r->to_local + r->to_remote + r->flags_local + r->flags_remote + r->deleted_local +
	       r->deleted_remote + r->paired;
}

/* Whether a folder's line has anything to say. */
static bool eventful(const struct sync_folder_report *r)
{
	return changed(r) || r->reuploaded || r->too_big || r->message_failures ||
	       r->not_kept[SIDE_A].messages || r->not_kept[SIDE_B].messages;
}

/* How the lines speak of the two sides: a server and its Maildir, or
 * an account's source and target servers. */
struct words {
	const char *copied[SIDES];  /* copies to side A, to side B */
	const char *side[SIDES];    /* "remote", "local" */
	const char *changed[SIDES]; /* "with flags changed on the server" */
	const char *deleted[SIDES];
	const char *where[SIDES];
	const char *store[SIDES]; /* "the server", "the Maildir" */
};

static const struct words *words_of(const struct sync_cli *c)
{
	static const struct words maildir = {
	    {"pushed", "pulled"},
	    {"remote", "local"},
	    {"with flags changed on the server", "with flags changed locally"},
	    {"deleted on the server", "deleted locally"},
	    {"on the server", "locally"},
	    {"the server", "the Maildir"},
	};
	static const struct words servers = {
	    {"copied to the source", "copied to the target"},
	    {"source", "target"},
	    {"with flags changed on the source", "with flags changed on the target"},
	    {"deleted on the source", "deleted on the target"},
	    {"on the source", "on the target"},
	    {"the source", "the target"},
	};

	return c->two_servers ? &servers : &maildir;
}

/* "200 of 305 messages pulled, 3 of 3 pushed" for a folder that failed
 * part-way: each kind of change its plan held, done of planned. */
static void print_done(const struct sync_cli *c, struct buf *b, const struct sync_folder_report *r)
{
	const struct words *w = words_of(c);
	const struct {
		size_t done, planned;
		const char *what;
	} kinds[] = {
	    {r->to_local, r->planned.to_local, w->copied[SIDE_B]},
	    {r->to_remote, r->planned.to_remote, w->copied[SIDE_A]},
	    {r->flags_local, r->planned.flags_local, w->changed[SIDE_B]},
	    {r->flags_remote, r->planned.flags_remote, w->changed[SIDE_A]},
	    {r->deleted_local, r->planned.deleted_local, w->deleted[SIDE_B]},
	    {r->deleted_remote, r->planned.deleted_remote, w->deleted[SIDE_A]},
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
	const struct words *w = words_of(c);

	printf("%s: %s: ", c->account, r->name);
	if (r->created_local || r->created_remote)
		printf("would be created %s; ", w->where[r->created_local ? SIDE_B : SIDE_A]);
	printf(c->two_servers ? "would copy %zu to the target, %zu to the source"
	                      : "would pull %zu, push %zu",
	       p->to_local, p->to_remote);
	printf(", change flags of %zu %s / %zu %s, delete %zu %s / %zu %s", p->flags_local, w->side[SIDE_B],
	       p->flags_remote, w->side[SIDE_A], p->deleted_local, w->side[SIDE_B], p->deleted_remote,
	       w->side[SIDE_A]);
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
	const struct words *w = words_of(c);

	printf("%s: ", c->account);
	if (r->name)
		printf("%s: ", r->name);
	printf("%zu %s, %zu %s, flags %zu %s / %zu %s, deleted %zu %s / %zu %s", r->to_local,
	       w->copied[SIDE_B], r->to_remote, w->copied[SIDE_A], r->flags_local, w->side[SIDE_B],
	       r->flags_remote, w->side[SIDE_A], r->deleted_local, w->side[SIDE_B], r->deleted_remote,
	       w->side[SIDE_A]);
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

/* "\\Flagged, $Label7" of `flags` and space separated `keywords` into b. */
static void list_flags(struct buf *b, unsigned flags, const char *keywords)
{
	char *text = mail_flags_format(flags, keywords);

	for (const char *p = text; *p; p++)
		if (*p == ' ')
			buf_append(b, ", ", 2);
		else
			buf_append_byte(b, *p);
	free(text);
}

/* "3 messages lost keywords the target cannot keep: $Label7, Project-X;
 * the target keeps only: \\Seen, \\Deleted": for each side copies went
 * to without some of their flags. */
static void print_not_kept(const struct sync_cli *c, const struct sync_folder_report *r)
{
	const struct words *w = words_of(c);

	for (int s = 0; s < SIDES; s++) {
		const struct sync_not_kept *nk = &r->not_kept[s];
		struct buf b = BUF_INIT;
		if (!nk->messages)
			continue;
		buf_printf(&b, "%zu message%s lost %s %s cannot keep: ", nk->messages,
		           nk->messages == 1 ? "" : "s", nk->flags ? "flags" : "keywords", w->store[s]);
		list_flags(&b, nk->flags, nk->keywords[0] ? nk->keywords : NULL);
		buf_printf(&b, "; %s keeps only: ", w->store[s]);
		if (nk->kept_flags || nk->kept_keywords[0])
			list_flags(&b, nk->kept_flags, nk->kept_keywords[0] ? nk->kept_keywords : NULL);
		if (nk->kept_any_keyword)
			buf_printf(&b, "%sany keyword",
			           nk->kept_flags || nk->kept_keywords[0] ? " and " : "");
		else if (!nk->kept_flags && !nk->kept_keywords[0])
			buf_printf(&b, "no flags");
		printf("%s: %s%s%s\n", c->account, r->name ? r->name : "", r->name ? ": " : "", buf_cstr(&b));
		buf_free(&b);
	}
}

static void report(struct sync_cli *c, const struct sync_folder_report *r)
{
	if (r->failed) {
		struct buf b = BUF_INIT;
		if (changed(r)) {
			buf_printf(&b, " (before that, ");
			print_done(c, &b, r);
			buf_printf(&b, "; what was done is kept, the next run does the rest)");
		}
		/* Stopped on request: nothing went wrong. */
		log_msg(r->err.cause == ERR_CAUSE_STOPPED ? LOG_INFO : LOG_ERROR, "%s: %s: %s%s", c->account,
		        r->name, r->err.text, b.len ? b.data : "");
		buf_free(&b);
		return;
	}
	/* A folder where nothing happened goes unsaid (a dry run says what
	 * it would do everywhere). */
	if (c->quiet || c->json || (!r->dry_run && !eventful(r)))
		return;
	progress_pause();
	flockfile(stdout); /* one line, whatever the other threads print */
	if (r->dry_run) {
		print_planned(c, r);
	} else {
		print_counts(c, r);
		print_not_kept(c, r);
	}
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
