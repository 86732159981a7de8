/*
 * Private to the Dovecot fixture (dovecot.c, dovecot_admin.c,
 * dovecot_certs.c, dovecot_run.c, test_message.c).
 */
#ifndef TWINBOX_TESTS_DOVECOT_P_H
#define TWINBOX_TESTS_DOVECOT_P_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "dovecot.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/error.h"

/* Files in the instance directory. */
#define DV_CONF      "dovecot.conf"
#define DV_LOG       "dovecot.log"
#define DV_START_OUT "start.out" /* what `dovecot -c` printed */
#define DV_PASSWD    "passwd"
#define DV_INFO      "info"  /* ports etc. of a started instance, for other processes */
#define DV_LOCK      "lock"  /* flock()ed while the shared instance is started */
#define DV_OWNER     "owner" /* pid of the test runner that owns the shared instance */
#define DV_SSL       "ssl"   /* certificates, see dv_certs_create() */
#define DV_RUN       "run"   /* Dovecot's base_dir */
#define DV_HOME      "home"  /* the mail user's home; the Maildir is home/Maildir */
#define DV_PID_FILE  "run/master.pid"

/* Longest run of doveadm we wait for; seeding huge mailboxes stays far
 * below. */
#define DV_TOOL_TIMEOUT_MS 120000

/* Run `argv` (argv[0] a path) with `in_len` bytes of `in` on its stdin,
 * collecting stdout into `out` (up to `out_limit` bytes; more is an
 * error) and stderr into `errout` (truncated quietly at 64 KiB). Both
 * buffers must be initialised; they are appended to. Returns the exit
 * status (0-255, or 128 + signal), or -1 with `err` filled if it could
 * not run or ran longer than `timeout_ms` (then it is killed). */
int dv_run(const char *const *argv, const void *in, size_t in_len, int timeout_ms, size_t out_limit,
           struct buf *out, struct buf *errout, struct error *err);

/* Run a program that daemonizes (dovecot): stdout and stderr go to
 * `out_path` (the daemon may keep them open, so no pipe would ever see
 * EOF); waits only for the foreground process. Returns its exit status,
 * or -1 with `err` filled. */
int dv_run_daemon(const char *const *argv, const char *out_path, int timeout_ms, struct error *err);

/* Absolute path of a Dovecot program ("dovecot", "doveadm") into
 * `path_r`: looked up in the usual sbin/bin directories, since /usr/sbin
 * is often not in a normal user's PATH. */
#define DV_TOOL_PATH_MAX 64
void dv_tool(const char *name, char path_r[DV_TOOL_PATH_MAX]);

/* How long a SIGKILLed instance may take to be gone. */
#define DV_STOP_TIMEOUT_MS 5000

/* Whether `pid` runs a Dovecot master with the config `conf`: checked
 * before every kill, against a pid reused after a crash. */
bool dv_is_master(pid_t pid, const char *conf);
/* Whether `pid` runs (a zombie does not). */
bool dv_pid_running(pid_t pid);
/* The master pid from dir/run/master.pid, or 0. */
pid_t dv_read_pid_file(const char *dir);
/* If `pid` is the master for `conf`, SIGKILL its process group and wait
 * until none of it runs (its ports are closed then). 0 also when there
 * was nothing to kill; -1 with `err` on timeout. */
int dv_kill_master(pid_t pid, const char *conf, struct error *err);

/* Watchdog of an instance directory (see dovecot.c): a /bin/sh process
 * in its own session; `*fd_r` is the pipe only the owner holds. */
int dv_watchdog_spawn(const char *dir, pid_t *pid_r, int *fd_r, struct error *err);
/* The owner stops the instance itself: let the watchdog exit, reap it. */
void dv_watchdog_dismiss(pid_t pid, int fd);

/* Create (O_EXCL) a file with exactly these bytes and mode. */
int dv_write_file(const char *path, const void *data, size_t len, mode_t mode, struct error *err);

/* Remove a directory tree without following symlinks or crossing mount
 * points. Returns 0, or -1 with `err` filled if something stayed. */
int dv_rmtree(const char *dir, struct error *err);

/* Write into `ssl_dir`: ca.pem, other-ca.pem, server.{pem,key} (localhost
 * and 127.0.0.1), wrong-name.{pem,key} (wrong.example),
 * expired.{pem,key} (127.0.0.3, expired a month ago). */
int dv_certs_create(const char *ssl_dir, struct error *err);

/* `fmt` followed by the tail of d's log, for cr_assert_fail("%s", ...).
 * In a static buffer, valid until the next call: a failing assertion
 * does not return, so nothing allocated may be pending then. */
const char *dv_fail_text(const struct dovecot *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* End the running test with `msg` (cr_assert_fail), or, when
 * dv_fail_handler is set, call that instead: a test that drives the
 * fixture in a forked child, where Criterion must not be called, sets it
 * to a function that reports and _exit()s. */
extern void (*dv_fail_handler)(const char *msg);
void dv_abort(const char *msg) __attribute__((noreturn));

#endif
