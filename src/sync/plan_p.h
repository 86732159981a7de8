/* Private to the planner (src/sync/plan*.c). */
#ifndef TWINBOX_SYNC_PLAN_P_H
#define TWINBOX_SYNC_PLAN_P_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/sync/plan.h"

#define PLAN_NONE UINT32_MAX

/* ---- string pool (plan_pool.c): strings that live as long as a plan ---- */

struct plan_pool *plan_pool_new(void);
void plan_pool_free(struct plan_pool *pool);
/* NULL stays NULL. */
const char *plan_pool_dup(struct plan_pool *pool, const char *s);
const char *plan_pool_dupn(struct plan_pool *pool, const char *s, size_t len);
const char *plan_pool_printf(struct plan_pool *pool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- flags (plan_flags.c) ---- */

struct plan_flags {
	unsigned bits;
	const char *keywords; /* canonical, NULL = none */
};

/* The outcome of merging one message's flags. */
struct plan_merge {
	struct plan_flag_change to_remote, to_local; /* empty when nothing to do */
	struct plan_flags record;                    /* no base: what to record with the pair now */
	struct plan_flags synced;                    /* the last-synced flags once both changes are done */
	bool differed;                               /* the two sides did not have the same flags */
};

/* Merge remote `r` and local `l` against `base` (NULL: no base; see
 * plan.h). `allow_remote` / `allow_local`: whether flags may change on
 * that side. Strings in the result live in `pool` (or are the inputs'). */
void plan_merge_flags(struct plan_pool *pool, const struct plan_flags *r, const struct plan_flags *l,
                      const struct plan_flags *base, bool allow_remote, bool allow_local,
                      struct plan_merge *m_r);

bool plan_change_empty(const struct plan_flag_change *c);
bool plan_flags_equal(const struct plan_flags *a, const struct plan_flags *b);

/* Whether `cur` counts as changed since `base` for a deletion decision:
 * any difference except \Deleted being newly set. */
bool plan_flags_changed(const struct plan_flags *cur, const struct plan_flags *base);

/* "\Seen \Flagged $Junk" or "(none)"; lives in the pool. */
const char *plan_flags_text(struct plan_pool *pool, const struct plan_flags *f);

/* ---- the build context (plan.c, plan_match.c) ---- */

struct plan_ctx {
	const struct plan_input *in;
	const struct plan_rules *rules;
	struct plan *plan;
	size_t action_cap, note_cap;

	/* Indexes into the inputs, 32 bits (a folder's messages are in
	 * memory) to halve these per-message arrays. */
	uint32_t *pair_r;      /* per pair: index of its remote message, PLAN_NONE = absent */
	uint32_t *pair_l;      /* per pair: its local message */
	uint32_t *remote_pair; /* per remote message: its pair, PLAN_NONE = none */
	uint32_t *local_pair;  /* per local message */

	/* Content-key matching (plan_match.c). */
	uint32_t *attach_r;     /* per pair: a new remote message re-attached to it */
	uint32_t *attach_l;     /* per pair: a new local message re-attached to it */
	uint32_t *remote_match; /* per remote message: the new local message it pairs with */
	bool *local_matched;    /* per local message: taken by a match */
};

/* Fill attach_* and remote_match/local_matched (plan_match.c). */
void plan_match(struct plan_ctx *ctx);

/* A zeroed action of `kind` appended to the plan. */
struct plan_action *plan_add_action(struct plan_ctx *ctx, enum plan_kind kind);
/* Room for `more` actions at once (a first sync of a large folder adds
 * one per message: grown by doubling they would take up to twice that). */
void plan_reserve_actions(struct plan_ctx *ctx, size_t more);
/* Sort the actions into execution order and fill plan->kind_start. */
void plan_sort(struct plan *plan);

void plan_add_note(struct plan_ctx *ctx, enum plan_note_kind kind, int64_t pair_id, uint32_t uid,
                   const char *local_id, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
