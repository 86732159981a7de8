/*
 * Helpers for the state tests: a fresh temporary directory per test
 * (Criterion runs each test in its own process) and short-hands that
 * assert success.
 */
#ifndef TWINBOX_TEST_STATE_H
#define TWINBOX_TEST_STATE_H

#include <stdint.h>

#include "twinbox/state/state.h"

/* The test's directory, "/tmp/twinbox-state-XXXXXX" once set up. */
extern char state_test_dir[];

/* Suite hooks: create / remove the directory. */
void state_test_setup(void);
void state_test_teardown(void);

/* "<dir>/<name>" (caller frees). */
char *state_test_path(const char *name);

/* Open (creating) "<dir>/<name>", asserting success. */
struct state *state_test_open(const char *name);

/* Add a folder, asserting success; returns its id. */
int64_t state_test_folder(struct state *st, const char *remote_name, const char *local_path);

/* Run SQL on the file with a separate raw SQLite connection (to tamper
 * with it as another program would), asserting success. */
void state_test_sql(const char *path, const char *sql);

/* The first column of the first row of `sql` on the file, as an integer. */
int64_t state_test_sql_int(const char *path, const char *sql);

#endif
