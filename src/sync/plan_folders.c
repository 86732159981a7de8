/*
 * The folder-level planner: which folders to create, sync, delete or
 * forget. Like the message planner it never reads a missing folder as
 * "every message in it was deleted": a folder synced before that is gone
 * on one side is not synced at all unless the rules allow removing the
 * other copy too.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plan_p.h"
#include "twinbox/util/xmalloc.h"

static const char *const folder_kind_names[][SIDES] = {
    [PLAN_FOLDER_CREATE] = {"create-remote", "create-local"},
    [PLAN_FOLDER_SYNC] = {"sync", "sync"},
    [PLAN_FOLDER_DELETE] = {"delete-remote", "delete-local"},
    [PLAN_FOLDER_FORGET] = {"forget", "forget"},
};

const char *plan_folder_kind_name(enum plan_folder_kind kind, enum side side)
{
	return (unsigned)kind <= PLAN_FOLDER_FORGET && (unsigned)side < SIDES ? folder_kind_names[kind][side]
	                                                                      : "unknown";
}

/* Where a name was found: ON(s) on side s, or in the state. */
#define ON(s) (1u << (s))
enum { KNOWN = 4 };

struct entry {
	const char *name;
	unsigned where;
	const struct plan_known_folder *known;
};

struct builder {
	struct plan_folders *plan;
	size_t action_cap, note_cap;
};

/* IMAP makes INBOX case-insensitive (RFC 3501 5.1); every other name is
 * compared as the server spells it. */
static const char *norm(const char *name)
{
	return strcasecmp(name, "INBOX") == 0 ? "INBOX" : name;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void add(struct entry **v, size_t *n, size_t *cap, const char *name, unsigned where,
                const struct plan_known_folder *known)
{
	if (!name)
		return;
	*v = xgrow(*v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = (struct entry){norm(name), where, known};
}

static void action(struct builder *b, enum plan_folder_kind kind, enum side side, const char *name,
                   bool first_sync)
{
	struct plan_folders *plan = b->plan;

	plan->actions = xgrow(plan->actions, &b->action_cap, plan->action_count + 1, sizeof(*plan->actions));
	plan->actions[plan->action_count++] =
	    (struct plan_folder_action){kind, side, plan_pool_dup(plan->pool, name), first_sync};
}

static void note(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct builder *b, const char *fmt, ...)
{
	struct plan_folders *plan = b->plan;
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	plan->notes = xgrow(plan->notes, &b->note_cap, plan->note_count + 1, sizeof(*plan->notes));
	plan->notes[plan->note_count++] = plan_pool_dup(plan->pool, text);
	free(text);
}

/* A folder only on side `on` that the state does not know: new there. */
static void new_folder(struct builder *b, const struct plan_rules *rules, const char *name, enum side on)
{
	enum side to = side_other(on);
	bool may = plan_may_change(rules, to);

	if ((rules->create & (1u << to)) && may) {
		action(b, PLAN_FOLDER_CREATE, to, name, false);
		action(b, PLAN_FOLDER_SYNC, SIDE_A, name, true);
		return;
	}
	if (!may)
		note(b, "folder \"%s\" exists only %s; not creating it %s (direction %s)", name,
		     rules->words[on].where, rules->words[to].where, to == SIDE_A ? "pull" : "push");
	else
		note(b, "folder \"%s\" exists only %s; not creating it %s (create does not include %s)", name,
		     rules->words[on].where, rules->words[to].where, rules->words[to].config);
}

/* A folder synced before that is gone from side `gone`. */
static void lost_folder(struct builder *b, const struct plan_rules *rules, const struct entry *e,
                        enum side gone)
{
	enum side kept = side_other(gone);
	const char *there = rules->words[gone].where, *other = rules->words[kept].where;
	bool may = plan_may_change(rules, kept);

	if (rules->remove_folders && e->known->unchanged[kept] && may) {
		action(b, PLAN_FOLDER_DELETE, kept, e->name, false);
		return;
	}
	if (rules->remove_folders && !may)
		note(
		    b,
		    "folder \"%s\" was synced before but is gone %s; direction %s does not allow deleting it "
		    "%s, so it is not synced",
		    e->name, there, kept == SIDE_A ? "pull" : "push", other);
	else if (rules->remove_folders)
		note(b,
		     "folder \"%s\" was synced before but is gone %s, and it changed %s since the last sync; "
		     "not deleting it %s and not syncing it. Delete it %s yourself if you do not need it",
		     e->name, there, other, other, other);
	else
		note(b,
		     "folder \"%s\" was synced before but is gone %s; not syncing it, so that nothing in it "
		     "is deleted %s. Delete it %s as well if that is what you want, or set remove_folders: "
		     "true to let twinbox do so when that copy is unchanged",
		     e->name, there, other, other);
}

void plan_folders_build(const struct plan_folders_input *in, const struct plan_rules *rules,
                        struct plan_folders *plan_r)
{
	struct builder b = {plan_r, 0, 0};
	struct entry *v = NULL;
	size_t n = 0, cap = 0;

	memset(plan_r, 0, sizeof(*plan_r));
	plan_r->pool = plan_pool_new();
	for (int s = 0; s < SIDES; s++)
		for (size_t i = 0; i < in->count[s]; i++)
			add(&v, &n, &cap, in->names[s][i], ON(s), NULL);
	for (size_t i = 0; i < in->known_count; i++)
		add(&v, &n, &cap, in->known[i].name, KNOWN, &in->known[i]);
	if (n)
		qsort(v, n, sizeof(*v), entry_cmp);

	for (size_t i = 0; i < n;) {
		struct entry e = v[i];
		size_t j = i + 1;

		for (; j < n && strcmp(v[j].name, e.name) == 0; j++) {
			e.where |= v[j].where;
			if (v[j].known)
				e.known = v[j].known;
		}
		i = j;

		bool on_a = e.where & ON(SIDE_A), on_b = e.where & ON(SIDE_B);
		if (on_a && on_b)
			action(&b, PLAN_FOLDER_SYNC, SIDE_A, e.name, !e.known);
		else if (!e.known)
			new_folder(&b, rules, e.name, on_a ? SIDE_A : SIDE_B);
		else if (!on_a && !on_b)
			action(&b, PLAN_FOLDER_FORGET, SIDE_A, e.name, false);
		else
			lost_folder(&b, rules, &e, on_a ? SIDE_B : SIDE_A);
	}
	free(v);
}

void plan_folders_free(struct plan_folders *plan)
{
	if (!plan)
		return;
	free(plan->actions);
	free(plan->notes);
	plan_pool_free(plan->pool);
	memset(plan, 0, sizeof(*plan));
}
