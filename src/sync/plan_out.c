/*
 * The plan as a result: appending actions and notes while planning,
 * putting the actions into execution order, and reading them back.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "plan_p.h"
#include "twinbox/util/xmalloc.h"

static const char *const kind_names[PLAN_KIND_COUNT][SIDES] = {
    [PLAN_PAIR_EXISTING] = {"pair-existing", "pair-existing"},
    [PLAN_SET_FLAGS] = {"set-flags-remote", "set-flags-local"},
    [PLAN_UPDATE_PAIR] = {"update-pair", "update-pair"},
    [PLAN_COPY] = {"copy-to-remote", "copy-to-local"},
    [PLAN_DELETE] = {"delete-remote", "delete-local"},
    [PLAN_FORGET] = {"forget", "forget"},
    [PLAN_SKIP_TOO_BIG] = {"skip-too-big", "skip-too-big"},
};

const char *plan_kind_name(enum plan_kind kind, enum side side)
{
	return (unsigned)kind < PLAN_KIND_COUNT && (unsigned)side < SIDES ? kind_names[kind][side]
	                                                                  : "unknown";
}

struct plan_action *plan_add_action(struct plan_ctx *ctx, enum plan_kind kind)
{
	struct plan *plan = ctx->plan;
	struct plan_action *a;

	plan->actions =
	    xgrow(plan->actions, &ctx->action_cap, plan->action_count + 1, sizeof(*plan->actions));
	a = &plan->actions[plan->action_count++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

void plan_reserve_actions(struct plan_ctx *ctx, size_t more)
{
	struct plan *plan = ctx->plan;
	size_t need = plan->action_count + more;

	if (need <= ctx->action_cap)
		return;
	plan->actions = xrealloc(plan->actions, need * sizeof(*plan->actions));
	ctx->action_cap = need;
}

void plan_add_note(struct plan_ctx *ctx, enum plan_note_kind kind, int64_t pair_id,
                   const struct store_id id[SIDES], const char *fmt, ...)
{
	struct plan *plan = ctx->plan;
	struct plan_note *n;
	va_list ap;
	char *text;

	plan->notes = xgrow(plan->notes, &ctx->note_cap, plan->note_count + 1, sizeof(*plan->notes));
	n = &plan->notes[plan->note_count++];
	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->pair_id = pair_id;
	for (int s = 0; id && s < SIDES; s++)
		n->id[s] = (struct store_id){id[s].uid, plan_pool_dup(plan->pool, id[s].name)};
	n->text = plan_pool_dup(plan->pool, text);
	free(text);
}

const char *plan_id_text(struct plan_ctx *ctx, enum side side, struct store_id id)
{
	const char *noun = ctx->rules->words[side].noun;

	if (id.name)
		return plan_pool_printf(ctx->plan->pool, "%s %s", noun, id.name);
	return plan_pool_printf(ctx->plan->pool, "%s %" PRIu32, noun, id.uid);
}

static int str_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return a ? 1 : b ? -1 : 0;
	return strcmp(a, b);
}

static int change_cmp(const struct plan_flag_change *a, const struct plan_flag_change *b)
{
	int c;

	if (a->add != b->add)
		return a->add < b->add ? -1 : 1;
	if (a->remove != b->remove)
		return a->remove < b->remove ? -1 : 1;
	if ((c = str_cmp(a->add_keywords, b->add_keywords)))
		return c;
	return str_cmp(a->remove_keywords, b->remove_keywords);
}

static int action_cmp(const void *pa, const void *pb)
{
	const struct plan_action *a = pa, *b = pb;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->side != b->side)
		return a->side < b->side ? -1 : 1;
	if (a->kind == PLAN_SET_FLAGS)
		if ((c = change_cmp(&a->change, &b->change)))
			return c;
	for (int s = 0; s < SIDES; s++)
		if ((c = store_id_cmp(a->id[s], b->id[s])))
			return c;
	if (a->pair_id != b->pair_id)
		return a->pair_id < b->pair_id ? -1 : 1;
	return 0;
}

static size_t slot_of(const struct plan_action *a)
{
	return PLAN_SLOT(a->kind, a->side);
}

void plan_sort(struct plan *plan)
{
	size_t i = 0;

	if (plan->action_count)
		qsort(plan->actions, plan->action_count, sizeof(*plan->actions), action_cmp);
	for (size_t k = 0; k < PLAN_SLOTS; k++) {
		plan->slot_start[k] = i;
		while (i < plan->action_count && slot_of(&plan->actions[i]) == k)
			i++;
	}
	plan->slot_start[PLAN_SLOTS] = i;
}

const struct plan_action *plan_actions(const struct plan *plan, enum plan_kind kind, enum side side,
                                       size_t *count_r)
{
	size_t k = PLAN_SLOT(kind, side);

	if ((unsigned)kind >= PLAN_KIND_COUNT || (unsigned)side >= SIDES || !plan->actions) {
		*count_r = 0;
		return NULL;
	}
	*count_r = plan->slot_start[k + 1] - plan->slot_start[k];
	return plan->actions + plan->slot_start[k];
}

size_t plan_count(const struct plan *plan, enum plan_kind kind)
{
	size_t a, b;

	plan_actions(plan, kind, SIDE_A, &a);
	plan_actions(plan, kind, SIDE_B, &b);
	return a + b;
}

size_t plan_flag_groups(const struct plan *plan, enum side side, struct plan_flag_group **groups_r)
{
	struct plan_flag_group *groups = NULL;
	size_t n = 0, cap = 0, count;
	const struct plan_action *a = plan_actions(plan, PLAN_SET_FLAGS, side, &count);

	*groups_r = NULL;
	for (size_t i = 0; i < count;) {
		size_t j = i + 1;

		while (j < count && change_cmp(&a[i].change, &a[j].change) == 0)
			j++;
		groups = xgrow(groups, &cap, n + 1, sizeof(*groups));
		groups[n++] = (struct plan_flag_group){&a[i].change, &a[i], j - i};
		i = j;
	}
	*groups_r = groups;
	return n;
}

void plan_free(struct plan *plan)
{
	if (!plan)
		return;
	free(plan->actions);
	free(plan->notes);
	plan_pool_free(plan->pool);
	memset(plan, 0, sizeof(*plan));
}
