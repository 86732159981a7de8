/*
 * An account's last run, for people (`twinbox status`): when it started
 * and ended, how it ended and why it failed, and when a run last went
 * through. One row per state; nothing decides anything by it.
 *
 * A run records its start (state_run_begin) once it holds the
 * account's lock and its end (state_run_end) before it lets go: a row
 * whose run started but did not end is a run that was killed, or one
 * that is running now (the lock tells which).
 *
 * What these write may be lost with a power cut (a commit, not a
 * durable one, and not a reason for state_close() to flush the log);
 * never with a killed process.
 *
 * Errors as in state.h.
 */
#ifndef TWINBOX_STATE_RUN_H
#define TWINBOX_STATE_RUN_H

#include <stdint.h>

#include "twinbox/state/state.h"

enum state_run_result {
	STATE_RUN_NONE = 0, /* no run has ended yet */
	STATE_RUN_OK,       /* it went through (messages may have failed: see the folders) */
	STATE_RUN_PARTIAL,  /* folders failed, or it stopped, after something was done */
	STATE_RUN_FAILED,   /* nothing could be done */
};

struct state_run {
	int64_t started; /* Unix time the last run started; 0 = no run recorded */
	int64_t ended;   /* ... and ended; 0 = it did not (killed, or running) */
	/* How the last run that ended, ended (the one before a run that
	 * did not end), and why it failed (fresh, NULL when it did not). */
	enum state_run_result result;
	char *error;
	int64_t last_ok; /* when a run last ended STATE_RUN_OK; 0 = never */
};

/* A run starts at `now`: started = now, ended = 0; the rest is kept. */
int state_run_begin(struct state *st, int64_t now, struct error *err);

/* The run ends at `now` with `result` (not STATE_RUN_NONE) and `error`
 * (NULL or "" when none; kept as given, up to STATE_RUN_ERROR_MAX
 * bytes); last_ok becomes `now` when the result is STATE_RUN_OK. */
#define STATE_RUN_ERROR_MAX 4096
int state_run_end(struct state *st, int64_t now, enum state_run_result result, const char *error,
                  struct error *err);

/* 1 and *run_r filled (state_run_clear it), 0 when no run was recorded
 * (*run_r zeroed), -1 on error. */
int state_run_get(struct state *st, struct state_run *run_r, struct error *err);
void state_run_clear(struct state_run *run);

/* "ok", "partial", "failed"; NULL for STATE_RUN_NONE. */
const char *state_run_result_name(enum state_run_result result);

#endif
