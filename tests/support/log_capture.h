/*
 * The log of a test, kept in memory: every line the code under test logs
 * at `level` or above, each followed by "\n", until log_capture_stop().
 */
#ifndef TWINBOX_TESTS_LOG_CAPTURE_H
#define TWINBOX_TESTS_LOG_CAPTURE_H

#include "twinbox/util/log.h"

/* Set the log level and install the capturing sink; what an earlier
 * capture kept is dropped. */
void log_capture_start(enum log_level level);
/* The lines so far ("" when none); valid until the next log line or
 * log_capture_stop(). */
const char *log_capture_text(void);
/* Restore the default sink and level (LOG_INFO) and free the lines. */
void log_capture_stop(void);

#endif
