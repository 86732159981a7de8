/*
 * The time of day as twinbox sees it. Tests that depend on the date
 * (POP3's delete_after_days) set TWINBOX_TEST_NOW to a Unix time; without
 * it this is time(NULL).
 */
#ifndef TWINBOX_UTIL_CLOCK_H
#define TWINBOX_UTIL_CLOCK_H

#include <stdbool.h>
#include <time.h>

time_t clock_now(void);

/* Whether two times are equal to the nanosecond. */
bool clock_same_time(const struct timespec *a, const struct timespec *b);

/* Unix time `t` for people, in local time: "2026-11-22 03:51:19" ("?"
 * when it cannot be told). */
#define CLOCK_TEXT_SIZE 32
void clock_local_text(time_t t, char out[CLOCK_TEXT_SIZE]);

#endif
