/*
 * A test-only hook for crash-safety tests. Code calls crash_point() right
 * after each durable step (a state commit, a store flush, a delivered
 * file). When the environment has TWINBOX_TEST_CRASH_AT=N, the N-th call
 * ends the process at once with _exit(CRASH_EXIT_CODE): no cleanup, no
 * buffered output, no atexit handlers, as close to a kill as a process
 * can do to itself. TWINBOX_TEST_CRASH_AT=<text> (not a number) ends it
 * the same way at the first step whose `what` is exactly that text.
 * Without the variable it only counts.
 */
#ifndef TWINBOX_UTIL_CRASH_H
#define TWINBOX_UTIL_CRASH_H

#define CRASH_EXIT_CODE 86

/* `what` names the step in the debug log ("state commit: 12 pairs"). */
void crash_point(const char *what);

/* Durable steps counted so far in this process. */
unsigned long crash_points_passed(void);

#endif
