/*
 * The event sources of `twinbox watch` (watch.c): each tells the loop
 * which folder of which account may have changed, through one pipe, so
 * that the loop waits on one descriptor for all of them. The loop
 * starts them, and stops them (a reload of the config, the end): every
 * source can be stopped, its thread joined, within moments.
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

/*
 * IMAP IDLE on one folder of side `side` of an account (watch_idle.c),
 * in a thread of its own that connects (running password_command each
 * time), EXAMINEs the folder, idles, notifies `fd` when the folder
 * changes (EXISTS, EXPUNGE, VANISHED, FETCH; not a server's "still
 * here"), and renews IDLE every WATCH_IDLE_RENEW_S, within the server's
 * 29 minutes. After any failure it connects again with a back-off (1 s
 * doubling to WATCH_IDLE_BACKOFF_MAX_S, with up to a quarter more as
 * jitter), notifying the whole folder after each connection (what came
 * meanwhile).
 *
 * A dead connection is noticed within a bounded time: a reset or a BYE
 * at once; one that says nothing at all (a server frozen, a path gone
 * without a reset) at the next renewal, whose DONE must be answered
 * within the account's `timeout:`. So the bound is WATCH_IDLE_RENEW_S
 * plus `timeout:` (5 min 30 s by default). A suspended machine and a
 * network change are noticed sooner by the loop, which then calls
 * watch_idle_reconnect().
 *
 * For tests only: TWINBOX_TEST_IDLE_RENEW_MS (1 ms to the default)
 * renews that often instead; TWINBOX_TEST_BACKOFF_MS makes the first
 * back-off wait that many milliseconds (the cap scaled alike).
 *
 * NULL when the thread cannot start.
 */
#define WATCH_IDLE_RENEW_S       (5 * 60)
#define WATCH_IDLE_BACKOFF_MAX_S 300
struct watch_idle;
struct watch_idle *watch_idle_start(const struct config_account *a, enum side side, size_t account,
                                    const char *folder, int fd);
/* Drop the connection and connect again now, without the back-off. */
void watch_idle_reconnect(struct watch_idle *w);
/* Stop the thread (every wait of it is cut short), join it, free `w`.
 * `a` may be freed after. NULL is fine. */
void watch_idle_stop(struct watch_idle *w);

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
