/*
 * Running `twinbox watch` from the end-to-end tests (test_watch*.c), on
 * the harness of support/sync_harness.h: the watcher is started with
 * the harness's config, its output goes to files in the test's
 * directory, and the helpers read them while it runs.
 */
#ifndef TWINBOX_TESTS_WATCH_RUN_H
#define TWINBOX_TESTS_WATCH_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Start `twinbox --config CFG watch --interval 1h [args...]` (`args`
 * NULL-terminated, at most 8; NULL: none) with this process's
 * environment, NOTIFY_SOCKET set to `notify` when not NULL; standard
 * output and error go to watch.out and watch.err in sh.dir (emptied). */
pid_t watch_start(const char *notify, const char *const *args);

/* Everything the watcher logged so far (watch.err; caller frees). */
char *watch_log(void);
/* How often `text` occurs in it. */
size_t watch_log_count(const char *text);

long long watch_now_ms(void);
/* Wait up to `ms` until check() holds; the time it took, or -1. */
long long watch_wait_for(bool (*check)(void), long long ms);
/* Wait up to `ms` until the log holds `text` at least `times` times;
 * whether it did. */
bool watch_wait_log(const char *text, size_t times, long long ms);

/* Write the harness's config: account "t" of its Dovecot over TLS with
 * `login` (a `password:` or `password_command:` line; NULL: the
 * fixture's password) and `timeout:` `timeout`, `expunge: both`, then
 * `more` (lines of the account, indented by four, or further accounts
 * indented by two; NULL: none). */
void watch_write_config(const char *login, const char *timeout, const char *more);

/* Wait up to `ms` until the Maildir's `folder` holds `n` messages; the
 * time it took (logged with `what`), or the test fails with the count,
 * `what` and the watcher's log. */
long long watch_wait_local(const char *folder, size_t n, long long ms, const char *what);

/* SIGTERM to `pid` and its exit waited for (at most `ms`, then SIGKILL
 * and the test fails); its wait status. */
int watch_stop(pid_t pid, long long ms);

#endif
