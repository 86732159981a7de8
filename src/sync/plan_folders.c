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

static const char *const folder_kind_names[] = {
    [PLAN_FOLDER_CREATE_REMOTE] = "create-remote",
    [PLAN_FOLDER_CREATE_LOCAL] = "create-local",
    [PLAN_FOLDER_SYNC] = "sync",
    [PLAN_FOLDER_DELETE_REMOTE] = "delete-remote",
    [PLAN_FOLDER_DELETE_LOCAL] = "delete-local",
    [PLAN_FOLDER_FORGET] = "forget",
};

const char *plan_folder_kind_name(enum plan_folder_kind kind)
{
	return (unsigned)kind <= PLAN_FOLDER_FORGET ? folder_kind_names[kind] : "unknown";
}

enum { ON_REMOTE = 1, ON_LOCAL = 2, KNOWN = 4 };

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

static void action(struct builder *b, enum plan_folder_kind kind, const char *name, bool first_sync)
{
	struct plan_folders *plan = b->plan;

	plan->actions = xgrow(plan->actions, &b->action_cap, plan->action_count + 1, sizeof(*plan->actions));
	plan->actions[plan->action_count++] =
	    (struct plan_folder_action){kind, plan_pool_dup(plan->pool, name), first_sync};
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

/* A folder on one side only that the state does not know: new there. */
static void new_folder(struct builder *b, const struct plan_rules *rules, const char *name, bool on_remote)
{
	enum plan_where target = on_remote ? PLAN_WHERE_LOCAL : PLAN_WHERE_REMOTE;
	bool may =
	    on_remote ? rules->direction != PLAN_DIRECTION_PUSH : rules->direction != PLAN_DIRECTION_PULL;

	if ((rules->create & target) && may) {
		action(b, on_remote ? PLAN_FOLDER_CREATE_LOCAL : PLAN_FOLDER_CREATE_REMOTE, name, false);
		action(b, PLAN_FOLDER_SYNC, name, true);
		return;
	}
	note(b, "folder \"%s\" exists only %s; not creating it %s (%s)", name,
	     on_remote ? "on the server" : "locally", on_remote ? "locally" : "on the server",
	     !may ? (on_remote ? "direction push" : "direction pull")
	          : (on_remote ? "create does not include local" : "create does not include remote"));
}

/* A folder synced before that is gone from one side: `gone_remote` says
 * which. */
static void lost_folder(struct builder *b, const struct plan_rules *rules, const struct entry *e,
                        bool gone_remote)
{
	const char *gone = gone_remote ? "on the server" : "locally";
	const char *other = gone_remote ? "locally" : "on the server";
	bool unchanged = gone_remote ? e->known->local_unchanged : e->known->remote_unchanged;
	bool may =
	    gone_remote ? rules->direction != PLAN_DIRECTION_PUSH : rules->direction != PLAN_DIRECTION_PULL;

	if (rules->remove_folders && unchanged && may) {
		action(b, gone_remote ? PLAN_FOLDER_DELETE_LOCAL : PLAN_FOLDER_DELETE_REMOTE, e->name, false);
		return;
	}
	if (rules->remove_folders && !may)
		note(
		    b,
		    "folder \"%s\" was synced before but is gone %s; direction %s does not allow deleting it "
		    "%s, so it is not synced",
		    e->name, gone, gone_remote ? "push" : "pull", other);
	else if (rules->remove_folders)
		note(b,
		     "folder \"%s\" was synced before but is gone %s, and it changed %s since the last sync; "
		     "not deleting it %s and not syncing it. Delete it %s yourself if you do not need it",
		     e->name, gone, other, other, other);
	else
		note(b,
		     "folder \"%s\" was synced before but is gone %s; not syncing it, so that nothing in it "
		     "is deleted %s. Delete it %s as well if that is what you want, or set remove_folders: "
		     "true to let twinbox do so when that copy is unchanged",
		     e->name, gone, other, other);
}

void plan_folders_build(const struct plan_folders_input *in, const struct plan_rules *rules,
                        struct plan_folders *plan_r)
{
	struct builder b = {plan_r, 0, 0};
	struct entry *v = NULL;
	size_t n = 0, cap = 0;

	memset(plan_r, 0, sizeof(*plan_r));
	plan_r->pool = plan_pool_new();
	for (size_t i = 0; i < in->remote_count; i++)
		add(&v, &n, &cap, in->remote[i], ON_REMOTE, NULL);
	for (size_t i = 0; i < in->local_count; i++)
		add(&v, &n, &cap, in->local[i], ON_LOCAL, NULL);
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

		bool r = e.where & ON_REMOTE, l = e.where & ON_LOCAL;
		if (r && l)
			action(&b, PLAN_FOLDER_SYNC, e.name, !e.known);
		else if (!e.known)
			new_folder(&b, rules, e.name, r);
		else if (!r && !l)
			action(&b, PLAN_FOLDER_FORGET, e.name, false);
		else
			lost_folder(&b, rules, &e, !r);
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
