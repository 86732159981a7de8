/*
 * Helpers for the IMAP parser tests: run input through a parser and
 * render the events as text, so tables can compare whole event sequences.
 */
#ifndef TWINBOX_TESTS_IMAP_DUMP_H
#define TWINBOX_TESTS_IMAP_DUMP_H

#include <stddef.h>

#include "twinbox/imap/parser.h"

/* Feed `input` in pieces of `piece` bytes (0: all at once), each piece in
 * its own heap copy that is freed once the parser has consumed it (so
 * ASan catches a parser that keeps pointers into input). With `lazy`,
 * call imap_parser_next() only once per piece and drain at the end
 * (exercises feeding before everything was consumed). Returns the event
 * dump (caller frees): one line per event, consecutive body chunks
 * merged, "ERROR: <text>" on failure, "INCOMPLETE" when the input ends
 * inside a response. */
char *imap_test_run(const char *input, size_t len, size_t piece, int lazy,
                    const struct imap_parser_limits *limits);

/* Run whole, one byte at a time and lazily in 7-byte pieces; assert the
 * three dumps are identical and return it (caller frees). */
char *imap_test_parse(const char *input, size_t len, const struct imap_parser_limits *limits);

/* Same, for a NUL-terminated input with default limits. */
char *imap_test_parse_str(const char *input);

/* The error text of a dump ("" if none): a pointer into `dump`. */
const char *imap_test_error(const char *dump);

#endif
