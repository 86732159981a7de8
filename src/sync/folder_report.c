/*
 * What the engine says of a folder: its plan's notes, logged (several of
 * one kind about single messages summed up in one line), its counts for
 * the folder's report, and the report itself (an event, and the
 * caller's report function), also of a folder that failed.
 */
#include <string.h>

#include "twinbox/util/log.h"

#include "engine_p.h"
#include "events_p.h"

/* The notes about one message each, summed up per kind in one line
 * where there are several. */
static const struct {
	enum plan_note_kind kind;
	const char *summary;
} note_summaries[] = {
    {PLAN_NOTE_REATTACHED, "messages have the same content as ones the state knew under another id "
                           "(a renumbered server folder, a moved file); they stay paired, nothing is "
                           "copied or deleted"},
    {PLAN_NOTE_FLAGS_MERGED, "messages had different flags on the two sides and no earlier sync to "
                             "compare with; merged them: set flags win, except \\Deleted, which stays "
                             "only where both sides have it"},
    {PLAN_NOTE_CHANGED_WINS, "messages deleted on one side but changed on the other are copied back "
                             "instead of deleted"},
    {PLAN_NOTE_NOT_DELETED, "messages deleted on one side are kept on the other (the expunge and "
                            "direction rules)"},
};

#define N_SUMMARIES (sizeof(note_summaries) / sizeof(note_summaries[0]))

void engine_log_notes(const char *name, const struct plan *plan, bool dry_run)
{
	size_t count[N_SUMMARIES] = {0};

	for (size_t i = 0; i < plan->note_count; i++)
		for (size_t k = 0; k < N_SUMMARIES; k++)
			count[k] += plan->notes[i].kind == note_summaries[k].kind;
	for (size_t i = 0; i < plan->note_count; i++) {
		size_t k = 0;
		/* A held-back deletion stops the folder: its note is the
		 * folder's error then, printed once (but for a dry run). */
		if (!dry_run && plan->notes[i].kind == PLAN_NOTE_MASS_DELETE)
			continue;
		while (k < N_SUMMARIES && plan->notes[i].kind != note_summaries[k].kind)
			k++;
		if (k < N_SUMMARIES && count[k] > 1)
			log_debug("%s: %s", name, plan->notes[i].text);
		else
			log_info("%s: %s", name, plan->notes[i].text);
	}
	for (size_t k = 0; k < N_SUMMARIES; k++)
		if (count[k] > 1)
			log_info("%s: %zu %s (-v lists them)", name, count[k], note_summaries[k].summary);
}

void engine_planned_counts(const struct plan *plan, struct sync_counts *c)
{
	const struct plan_action *a;

	c->bytes_to_local = c->bytes_to_remote = 0;
	a = plan_actions(plan, PLAN_COPY, SIDE_B, &c->to_local);
	for (size_t i = 0; i < c->to_local; i++)
		c->bytes_to_local += a[i].size;
	a = plan_actions(plan, PLAN_COPY, SIDE_A, &c->to_remote);
	for (size_t i = 0; i < c->to_remote; i++)
		c->bytes_to_remote += a[i].size;
	plan_actions(plan, PLAN_SET_FLAGS, SIDE_B, &c->flags_local);
	plan_actions(plan, PLAN_SET_FLAGS, SIDE_A, &c->flags_remote);
	plan_actions(plan, PLAN_DELETE, SIDE_B, &c->deleted_local);
	plan_actions(plan, PLAN_DELETE, SIDE_A, &c->deleted_remote);
	plan_actions(plan, PLAN_PAIR_EXISTING, SIDE_A, &c->paired);
	c->too_big = plan_count(plan, PLAN_SKIP_TOO_BIG);
}

static const char *note_name(enum plan_note_kind kind)
{
	switch (kind) {
	case PLAN_NOTE_FLAGS_MERGED:
		return "flags-merged";
	case PLAN_NOTE_CHANGED_WINS:
		return "changed-wins";
	case PLAN_NOTE_NOT_DELETED:
		return "not-deleted";
	case PLAN_NOTE_REATTACHED:
		return "reattached";
	case PLAN_NOTE_NO_KEY:
		return "no-key";
	case PLAN_NOTE_MASS_DELETE:
		return "mass-delete";
	}
	return "unknown";
}

void engine_plan_events(const struct sync_options *o, struct sync_folder_report *rep, const struct plan *plan)
{
	size_t n;
	const struct plan_action *a;

	/* A dry run copies nothing: no progress to tell. */
	for (int s = 0; s < SIDES && !o->dry_run; s++) {
		a = plan_actions(plan, PLAN_COPY, (enum side)s, &n);
		rep->progress.messages_total += n;
		for (size_t i = 0; i < n; i++)
			rep->progress.bytes_total += a[i].size;
	}
	if (!o->observer.fn)
		return;
	for (size_t i = 0; i < plan->note_count; i++) {
		const struct plan_note *pn = &plan->notes[i];
		struct sync_event ev = {.kind = SYNC_EVENT_NOTE,
		                        .folder = rep->name,
		                        .note = note_name(pn->kind),
		                        .id = {pn->id[SIDE_A], pn->id[SIDE_B]},
		                        .text = pn->text};
		engine_emit(o, &ev);
	}
	for (size_t i = 0; i < plan->action_count; i++) {
		struct sync_event ev = engine_action_event(SYNC_EVENT_PLANNED, rep, &plan->actions[i]);
		engine_emit(o, &ev);
	}
	if (rep->progress.messages_total)
		engine_emit(o, &(struct sync_event){.kind = SYNC_EVENT_PROGRESS,
		                                    .folder = rep->name,
		                                    .progress = rep->progress});
}

void engine_report(const struct sync_options *o, const struct sync_folder_report *rep)
{
	engine_emit(o,
	            &(struct sync_event){.kind = SYNC_EVENT_FOLDER_END, .folder = rep->name, .report = rep});
	if (o->report)
		o->report(o->ctx, rep);
}

bool engine_stopping(const struct sync_options *o, struct error *err)
{
	if (!o->stop || !*o->stop)
		return false;
	error_set(err, ERR_ACCOUNT, "stopped on request; the next run carries on");
	err->cause = ERR_CAUSE_STOPPED;
	return true;
}

int engine_folder_failed(const struct sync_options *o, struct sync_result *res,
                         struct sync_folder_report *rep, struct error *err)
{
	rep->failed = true;
	res->folders_failed++;
	engine_report(o, rep);
	if (rep->err.scope < ERR_ACCOUNT)
		return 0;
	*err = rep->err;
	res->stop_reported = true;
	return -1;
}

/* Add the keywords of `add` (space separated) that `to` (`cap` bytes)
 * does not hold yet, as many as fit. */
static void keywords_union(char *to, size_t cap, const char *add)
{
	const struct store_keep have = {.limited = true, .keywords = to};
	const char *p = add;

	while (p && *p) {
		size_t n = strcspn(p, " "), len = strlen(to);
		if (!store_keeps_keyword(&have, p, n) && len + (len > 0) + n < cap) {
			if (len)
				to[len++] = ' ';
			memcpy(to + len, p, n);
			to[len + n] = '\0';
		}
		p += n;
		p += *p == ' ';
	}
}

void engine_not_kept_keep(struct sync_not_kept *nk, const struct store_keep *keep)
{
	nk->kept_flags = keep->flags;
	nk->kept_any_keyword = keep->new_keywords;
	nk->unreported = keep->unreported;
	nk->kept_keywords[0] = '\0';
	keywords_union(nk->kept_keywords, sizeof(nk->kept_keywords), keep->keywords);
}

void engine_not_kept_copy(struct sync_not_kept *nk, const struct plan_action *a)
{
	if ((!a->lost_flags && !a->lost_keywords) || nk->unreported)
		return;
	nk->messages++;
	nk->flags |= a->lost_flags;
	keywords_union(nk->keywords, sizeof(nk->keywords), a->lost_keywords);
}

void engine_not_kept_add(struct sync_not_kept *to, const struct sync_not_kept *from)
{
	if (!from->messages)
		return;
	/* Folders of one server mostly keep the same; the first one says. */
	if (!to->messages) {
		to->kept_flags = from->kept_flags;
		to->kept_any_keyword = from->kept_any_keyword;
		memcpy(to->kept_keywords, from->kept_keywords, sizeof(to->kept_keywords));
	}
	to->messages += from->messages;
	to->flags |= from->flags;
	keywords_union(to->keywords, sizeof(to->keywords), from->keywords);
}
