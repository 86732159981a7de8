/* Helpers shared by the files of the pop3 layer only. */
#ifndef TWINBOX_POP3_POP3_P_H
#define TWINBOX_POP3_POP3_P_H

#include <stddef.h>

/* Escape `len` bytes like a C string literal (\r, \n, \xNN) into `out`,
 * cut with "..." when it does not fit; always NUL-terminated. For
 * quoting server bytes in error messages. */
void pop3_escape(const void *data, size_t len, char *out, size_t outsz);

#endif
