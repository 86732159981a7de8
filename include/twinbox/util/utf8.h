/*
 * UTF-8 validation for names that come from servers and files.
 */
#ifndef TWINBOX_UTIL_UTF8_H
#define TWINBOX_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether `len` bytes at `s` are well-formed UTF-8 (RFC 3629): no
 * overlong forms, no surrogates, nothing above U+10FFFF, no truncated
 * sequence. NUL bytes are valid UTF-8; callers refuse them themselves. */
bool utf8_valid(const char *s, size_t len);

#endif
