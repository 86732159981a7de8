/*
 * A growable byte buffer with a size cap.
 *
 * The buffer owns `data`; it is always NUL-terminated (the NUL is not
 * counted in `len`), so text can be used as a C string. `limit` bounds
 * `len`: an append that would pass it fails and leaves the buffer as it
 * was, so bytes from the network can never grow it without bound.
 * A zero-initialised buffer (BUF_INIT) is valid and empty, with no limit.
 */
#ifndef TWINBOX_UTIL_BUF_H
#define TWINBOX_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;   /* NULL until the first append; see buf_cstr() */
	size_t len;   /* bytes used, not counting the trailing NUL */
	size_t cap;   /* bytes allocated */
	size_t limit; /* 0 = no limit */
};

#define BUF_INIT                                                                                             \
	{                                                                                                    \
		NULL, 0, 0, 0                                                                                \
	}

void buf_init(struct buf *b, size_t limit);
/* Release the memory; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Empty the buffer, keeping its memory and limit. */
void buf_reset(struct buf *b);

/* Append; return 0, or -1 if the result would pass the limit (buffer
 * unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Drop the first `n` bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Shorten to `len` bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);

/* The contents as a C string; "" for an empty buffer. Valid until the
 * next change to the buffer. */
const char *buf_cstr(const struct buf *b);

/* Hand the contents to the caller (free() it); the buffer becomes empty.
 * Never returns NULL. */
char *buf_detach(struct buf *b, size_t *len_r);

#endif
