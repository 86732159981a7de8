/*
 * Allocation that never fails: on exhaustion the process prints one line to
 * stderr and aborts. Error paths in twinbox therefore carry real failures
 * only (network, disk, malformed input), never "out of memory".
 */
#ifndef TWINBOX_UTIL_XMALLOC_H
#define TWINBOX_UTIL_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grow an array of `*cap_r` elements of `size` bytes to hold at least
 * `need` elements (doubling); returns the possibly moved array. */
void *xgrow(void *ptr, size_t *cap_r, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation owned by the caller. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
