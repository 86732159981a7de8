#include "twinbox/util/xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *out_of_memory(size_t size)
{
	fprintf(stderr, "twinbox: out of memory (allocating %zu bytes)\n", size);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	return p ? p : out_of_memory(size);
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	return p ? p : out_of_memory(count * size);
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	return p ? p : out_of_memory(size);
}

void *xgrow(void *ptr, size_t *cap_r, size_t need, size_t size)
{
	size_t cap = *cap_r;

	if (need <= cap)
		return ptr;
	if (cap < 8)
		cap = 8;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return out_of_memory(SIZE_MAX);
		cap *= 2;
	}
	if (size && cap > SIZE_MAX / size)
		return out_of_memory(SIZE_MAX);
	ptr = xrealloc(ptr, cap * size);
	*cap_r = cap;
	return ptr;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char small[256];
	va_list ap2;
	int n;
	char *p;

	/* Most strings fit the stack buffer: one formatting pass. */
	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		abort(); /* only a bad format string gets here */
	if ((size_t)n < sizeof(small))
		return xstrndup(small, (size_t)n);
	p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}
