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
	struct plan_flag_change to[SIDES]; /* per side; empty when nothing to do */
	struct plan_flags record;          /* no base: what to record with the pair now */
	struct plan_flags synced;          /* the last-synced flags once both changes are done */
	bool differed;                     /* the two sides did not have the same flags */
};

/* Merge side A's flags `f[SIDE_A]` and side B's `f[SIDE_B]` against
 * `base` (NULL: no base; see plan.h). `allow[s]`: whether flags may
 * change on side s; `keep[s]`: what side s keeps (rules.keep). Strings
 * in the result live in `pool` (or are the inputs'). */
void plan_merge_flags(struct plan_pool *pool, const struct plan_flags f[SIDES], const struct plan_flags *base,
                      const bool allow[SIDES], const struct store_keep keep[SIDES], struct plan_merge *m_r);

/* Of `f`, what `keep` keeps (*kept_r) and what it does not (*lost_r;
 * keywords NULL and bits 0 when nothing is lost). Strings in `pool`. */
void plan_flags_keep(struct plan_pool *pool, const struct plan_flags *f, const struct store_keep *keep,
                     struct plan_flags *kept_r, struct plan_flags *lost_r);

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
	uint32_t *pair_msg[SIDES]; /* per pair: index of its message on a side, PLAN_NONE = absent */
	uint32_t *msg_pair[SIDES]; /* per message of a side: its pair, PLAN_NONE = none */

	/* Content-key matching (plan_match.c). */
	uint32_t *attach[SIDES]; /* per pair: a new message of a side re-attached to it */
	uint32_t *match[SIDES];  /* per message of a side: the new message of the other side it
	                                 pairs with */
};

/* Fill attach and match (plan_match.c). */
void plan_match(struct plan_ctx *ctx);

/* A zeroed action of `kind` appended to the plan. */
struct plan_action *plan_add_action(struct plan_ctx *ctx, enum plan_kind kind);
/* Room for `more` actions at once (a first sync of a large folder adds
 * one per message: grown by doubling they would take up to twice that). */
void plan_reserve_actions(struct plan_ctx *ctx, size_t more);
/* Sort the actions into execution order and fill plan->kind_start. */
void plan_sort(struct plan *plan);

/* A note about pair `pair_id` (0: none) and the message `id` (NULL:
 * none). */
void plan_add_note(struct plan_ctx *ctx, enum plan_note_kind kind, int64_t pair_id,
                   const struct store_id id[SIDES], const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "UID 5", "local message a": message `id` of `side` for a note; lives
 * in the pool. */
const char *plan_id_text(struct plan_ctx *ctx, enum side side, struct store_id id);

#endif
