/*
 * What the engine says of a folder's plan: its notes, logged (several of
 * one kind about single messages summed up in one line), and its counts
 * for the folder's report.
 */
#include "twinbox/util/log.h"

#include "engine_p.h"

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
	plan_actions(plan, PLAN_COPY, SIDE_B, &c->to_local);
	plan_actions(plan, PLAN_COPY, SIDE_A, &c->to_remote);
	plan_actions(plan, PLAN_SET_FLAGS, SIDE_B, &c->flags_local);
	plan_actions(plan, PLAN_SET_FLAGS, SIDE_A, &c->flags_remote);
	plan_actions(plan, PLAN_DELETE, SIDE_B, &c->deleted_local);
	plan_actions(plan, PLAN_DELETE, SIDE_A, &c->deleted_remote);
	plan_actions(plan, PLAN_PAIR_EXISTING, SIDE_A, &c->paired);
	c->too_big = plan_count(plan, PLAN_SKIP_TOO_BIG);
}
