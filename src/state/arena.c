/*
 * A string arena for loaded sets: 100,000 pairs with three strings each
 * would otherwise be 300,000 allocations to make and to free. Strings are
 * copied into blocks that never move, so pointers stay valid until the
 * arena is freed.
 */
#include <stdlib.h>
#include <string.h>

#include "state_p.h"
#include "twinbox/util/xmalloc.h"

#define BLOCK_SIZE (64 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t used;
	size_t cap;
	char data[];
};

struct state_arena {
	struct arena_block *head;
};

char *state_arena_strndup(struct state_arena **arena_r, const char *s, size_t len)
{
	struct state_arena *arena = *arena_r;
	struct arena_block *b;
	char *copy;

	if (!arena)
		arena = *arena_r = xcalloc(1, sizeof(*arena));
	b = arena->head;
	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > BLOCK_SIZE ? len + 1 : BLOCK_SIZE;
		b = xmalloc(sizeof(*b) + cap);
		b->cap = cap;
		b->used = 0;
		b->next = arena->head;
		arena->head = b;
	}
	copy = b->data + b->used;
	memcpy(copy, s, len);
	copy[len] = '\0';
	b->used += len + 1;
	return copy;
}

const char *state_arena_column(struct state_arena **arena_r, sqlite3_stmt *stmt, int col)
{
	const unsigned char *text;

	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return NULL;
	text = sqlite3_column_text(stmt, col);
	if (!text) /* only when SQLite runs out of memory */
		return state_arena_strndup(arena_r, "", 0);
	return state_arena_strndup(arena_r, (const char *)text, (size_t)sqlite3_column_bytes(stmt, col));
}

void state_arena_free(struct state_arena *arena)
{
	if (!arena)
		return;
	while (arena->head) {
		struct arena_block *next = arena->head->next;
		free(arena->head);
		arena->head = next;
	}
	free(arena);
}
