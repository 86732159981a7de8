/*
 * The strings of a plan live in chunks freed all at once: a plan of
 * 100,000 copies holds 100,000 local ids, and one allocation each would
 * cost more than the planning itself.
 */
#include <stdlib.h>
#include <string.h>

#include "plan_p.h"
#include "twinbox/util/xmalloc.h"

#define CHUNK_SIZE 65536

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct plan_pool {
	struct chunk *head;
};

struct plan_pool *plan_pool_new(void)
{
	return xcalloc(1, sizeof(struct plan_pool));
}

void plan_pool_free(struct plan_pool *pool)
{
	if (!pool)
		return;
	for (struct chunk *c = pool->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(pool);
}

static char *pool_alloc(struct plan_pool *pool, size_t len)
{
	struct chunk *c = pool->head;

	if (!c || c->cap - c->used < len) {
		/* A string larger than a chunk gets a chunk of its own, put
		 * behind the current one so that its free space is not lost. */
		size_t cap = len > CHUNK_SIZE / 4 ? len : CHUNK_SIZE;
		struct chunk *n = xmalloc(sizeof(*n) + cap);

		n->used = 0;
		n->cap = cap;
		if (c && cap != CHUNK_SIZE) {
			n->next = c->next;
			c->next = n;
		} else {
			n->next = c;
			pool->head = n;
		}
		c = n;
	}
	c->used += len;
	return c->data + c->used - len;
}

const char *plan_pool_dupn(struct plan_pool *pool, const char *s, size_t len)
{
	char *p = pool_alloc(pool, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

const char *plan_pool_dup(struct plan_pool *pool, const char *s)
{
	return s ? plan_pool_dupn(pool, s, strlen(s)) : NULL;
}

const char *plan_pool_printf(struct plan_pool *pool, const char *fmt, ...)
{
	va_list ap;
	char *tmp;
	const char *s;

	va_start(ap, fmt);
	tmp = xvasprintf(fmt, ap);
	va_end(ap);
	s = plan_pool_dup(pool, tmp);
	free(tmp);
	return s;
}
