/*
 * A small text language for planner tests (test_sync_plan_support.c).
 *
 * Worlds. Each side is a space-separated list of messages:
 *   state   "<uid>/<local>[:flags][@key][#size]"  uid 0 or "-" = no remote
 *           side, "?" = none because the server renumbered the folder;
 *           local "-" = no local side; pair ids are 1, 2, ... in order
 *   remote  "<uid>[:flags][@key][#size]"
 *   local   "<local id>[:flags][@key][#size]"
 * Flags are Maildir letters D F R S T (\Draft \Flagged \Answered \Seen
 * \Deleted) then "+keyword" for each keyword: "SF+$Junk+work". No "@"
 * means no content key; no "#" means size 100.
 *
 * Rules: "dir=both|pull|push exp=none|remote|local|both flags=on|off
 * max=N allow first pct=N min=N create=none|remote|local|both rmfolders
 * use=trash|junk|none keepR=<flags> keepL=<flags>" (what a side keeps, in
 * the flags notation below; "+*": any keyword);
 * defaults are plan_rules_init() with expunge both.
 *
 * Plans print as their actions, one string each, sorted and joined by
 * "; " (p<N> = pair N; a pair not stored yet is "<uid>/<local>"):
 *   pair [pN ]<uid>/<local>:<recorded flags>
 *   setR <uid> <change>      setL <local> <change>     change: +DF-S +kw -kw
 *   upd pN :<flags> | upd pN -R | upd pN -L
 *   copyL <uid>:<flags>[ pN]   copyR <local>:<flags>[ pN][ again]  (again: reupload)
 *                            [ lost:<flags>] (flags the side cannot keep, left out)
 *   delR <uid> pN   delL <local> pN   forget pN   big R <uid> | big L <local>
 */
#ifndef TEST_SYNC_PLAN_H
#define TEST_SYNC_PLAN_H

#include <stddef.h>

#include "twinbox/sync/plan.h"

struct world {
	struct state_pair *pairs;
	size_t pair_count;
	struct plan_msg *remote; /* side A: ids are UIDs */
	size_t remote_count;
	struct plan_msg *local; /* side B: ids are names */
	size_t local_count;
	char **strings; /* every string the world owns */
	size_t string_count, string_cap;
};

void world_parse(struct world *w, const char *state, const char *remote, const char *local);
void world_free(struct world *w);
struct plan_input world_input(const struct world *w);
/* Keep `s` alive as long as the world; returns it. */
char *world_keep(struct world *w, char *s);

void rules_parse(struct plan_rules *rules, const char *text);

/* "DFS+$Junk" (letters in ASCII order), "" for none. Fresh string. */
char *flags_text(unsigned bits, const char *keywords);

/* The plan as described above. Fresh string. */
char *plan_text(const struct plan *plan);

/* Plan the world and return plan_text(); the plan goes to *plan_r when
 * given (plan_free() it), else it is freed. Fails the test if the
 * planner refuses the input. */
char *plan_world(const char *state, const char *remote, const char *local, const char *rules,
                 struct plan *plan_r);

/* One table row. */
struct plan_row {
	const char *name;
	const char *state, *remote, *local, *rules;
	const char *expect;
};

/* Check every row: the plan text must equal `expect`. */
void check_rows(const struct plan_row *rows, size_t n);

#endif
