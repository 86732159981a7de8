/*
 * The event sources of `twinbox watch` (watch.c): each tells the loop
 * which folder of which account may have changed, through one pipe, so
 * that the loop waits on one descriptor for all of them.
 *
 * A note on the pipe is a line "ACCOUNT-INDEX TAB FOLDER NEWLINE"
 * (FOLDER empty: the whole account), written whole (PIPE_BUF).
 */
#ifndef TWINBOX_CLI_WATCH_H
#define TWINBOX_CLI_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "twinbox/config/config.h"

/* Tell the loop on `fd` that `folder` (NULL: everything) of account
 * `account` may have changed. */
void watch_notify(int fd, size_t account, const char *folder);

/* IMAP IDLE on one folder of an account's server (watch_idle.c), in a
 * thread of its own that connects (running password_command each time),
 * EXAMINEs the folder, idles, notifies `fd` on every untagged response,
 * renews IDLE every WATCH_IDLE_RENEW_S (within the server's 29 minutes;
 * the DONE's answer also shows the connection alive, so a dead one is
 * noticed within that and the I/O timeout), and reconnects after any
 * failure with a back-off (1 s doubling to WATCH_IDLE_BACKOFF_MAX_S,
 * with jitter), notifying the whole folder after each reconnect (what
 * came meanwhile). Runs until the process ends. NULL when the thread
 * cannot start. */
#define WATCH_IDLE_RENEW_S       (5 * 60)
#define WATCH_IDLE_BACKOFF_MAX_S 300
struct watch_idle;
struct watch_idle *watch_idle_start(const struct config_account *a, size_t account, const char *folder, int fd);

/* inotify on every folder of a Maildir (watch_inotify.c): new/ and cur/
 * of each folder (a file added, renamed or removed) and the root (a
 * folder added or removed: the whole account). */
struct watch_inotify;
struct watch_inotify *watch_inotify_new(void);
/* Watch account `account`'s Maildir (`a`'s side B) again from scratch:
 * its folders as they are now. 0, or -1 after logging why. */
int watch_inotify_account(struct watch_inotify *w, const struct config_account *a, size_t account);
/* The descriptor to poll; watch_inotify_read() when it is readable:
 * notifies `fd` of each folder touched. */
int watch_inotify_fd(const struct watch_inotify *w);
void watch_inotify_read(struct watch_inotify *w, int fd);
void watch_inotify_free(struct watch_inotify *w);

#endif
