/*
 * The plan as a result: appending actions and notes while planning,
 * putting the actions into execution order, and reading them back.
 */
#include <stdlib.h>
#include <string.h>

#include "plan_p.h"
#include "twinbox/util/xmalloc.h"

static const char *const kind_names[PLAN_KIND_COUNT] = {
    [PLAN_PAIR_EXISTING] = "pair-existing",
    [PLAN_SET_FLAGS_REMOTE] = "set-flags-remote",
    [PLAN_SET_FLAGS_LOCAL] = "set-flags-local",
    [PLAN_UPDATE_PAIR] = "update-pair",
    [PLAN_COPY_TO_LOCAL] = "copy-to-local",
    [PLAN_COPY_TO_REMOTE] = "copy-to-remote",
    [PLAN_DELETE_REMOTE] = "delete-remote",
    [PLAN_DELETE_LOCAL] = "delete-local",
    [PLAN_FORGET] = "forget",
    [PLAN_SKIP_TOO_BIG] = "skip-too-big",
};

const char *plan_kind_name(enum plan_kind kind)
{
	return (unsigned)kind < PLAN_KIND_COUNT ? kind_names[kind] : "unknown";
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

void plan_add_note(struct plan_ctx *ctx, enum plan_note_kind kind, int64_t pair_id, uint32_t uid,
                   const char *local_id, const char *fmt, ...)
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
	*n = (struct plan_note){kind, pair_id, uid, plan_pool_dup(plan->pool, local_id),
	                        plan_pool_dup(plan->pool, text)};
	free(text);
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
	if (a->kind == PLAN_SET_FLAGS_REMOTE || a->kind == PLAN_SET_FLAGS_LOCAL)
		if ((c = change_cmp(&a->change, &b->change)))
			return c;
	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	if ((c = str_cmp(a->local_id, b->local_id)))
		return c;
	if (a->pair_id != b->pair_id)
		return a->pair_id < b->pair_id ? -1 : 1;
	return 0;
}

void plan_sort(struct plan *plan)
{
	size_t i = 0;

	if (plan->action_count)
		qsort(plan->actions, plan->action_count, sizeof(*plan->actions), action_cmp);
	for (int k = 0; k < PLAN_KIND_COUNT; k++) {
		plan->kind_start[k] = i;
		while (i < plan->action_count && plan->actions[i].kind == (enum plan_kind)k)
			i++;
	}
	plan->kind_start[PLAN_KIND_COUNT] = i;
}

const struct plan_action *plan_actions(const struct plan *plan, enum plan_kind kind, size_t *count_r)
{
	if ((unsigned)kind >= PLAN_KIND_COUNT || !plan->actions) {
		*count_r = 0;
		return NULL;
	}
	*count_r = plan->kind_start[kind + 1] - plan->kind_start[kind];
	return plan->actions + plan->kind_start[kind];
}

size_t plan_flag_groups(const struct plan *plan, enum plan_kind kind, struct plan_flag_group **groups_r)
{
	struct plan_flag_group *groups = NULL;
	size_t n = 0, cap = 0, count;
	const struct plan_action *a = plan_actions(plan, kind, &count);

	*groups_r = NULL;
	if (kind != PLAN_SET_FLAGS_REMOTE && kind != PLAN_SET_FLAGS_LOCAL)
		return 0;
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
