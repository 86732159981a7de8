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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "twinbox/config/config.h"

/* Tell the loop on `fd` that `folder` (NULL: everything) of account
 * `account` may have changed. */
void watch_notify(int fd, size_t account, const char *folder);

/* Where a source's notes go: the loop's pipe, the account's index,
 * and whether the server's folder names are the account's (side A, or
 * a side B whose folders are not mapped to other names) or the whole
 * account is noted instead. */
struct watch_target {
	int fd;
	size_t account;
	bool whole;
};

/* A note of `folder` (NULL: everything) for `t`. */
void watch_target_note(const struct watch_target *t, const char *folder);

/*
 * One IMAP side of an account (watch_server.c), followed by a thread of
 * its own. It connects (running password_command each time), lists the
 * folders the account syncs with their STATUS (LIST-STATUS, else
 * pipelined STATUS commands), and then:
 *  - where the server offers NOTIFY (RFC 5465) and `watch: notify`
 *    allows it: NOTIFY SET (personal (MessageNew MessageExpunge
 *    FlagChange MailboxName)) on that one connection, idling; a STATUS
 *    the server sends notes its folder, a LIST (a folder created,
 *    renamed or deleted) the whole account;
 *  - else: IDLE on up to `watch: connections` folders (INBOX, then
 *    those `watch: folders` names, in that order), each over a
 *    connection of its own (watch_idle below); the other folders are
 *    listed with their STATUS again every `watch: poll` (a connection
 *    opened for it), and a folder whose MESSAGES, UIDNEXT, UIDVALIDITY,
 *    UNSEEN or HIGHESTMODSEQ moved is noted (a folder that came or
 *    went: the whole account).
 * After a connection ends it connects again with the back-off below,
 * noting the whole account once connected (what came meanwhile).
 * NULL when the thread cannot start.
 */
struct watch_server;
struct watch_server *watch_server_start(const struct config_account *a, enum side side,
                                        const struct watch_target *t);
/* Every connection of it anew, now, without the back-off. */
void watch_server_reconnect(struct watch_server *w);
/* Stop it and its IDLE threads (every wait of theirs is cut short),
 * join them, free `w`. `a` may be freed after. NULL is fine. */
void watch_server_stop(struct watch_server *w);

/*
 * IMAP IDLE on one folder (the account's name for it) of side `side`
 * of an account (watch_idle.c), in a thread of its own that connects
 * (running password_command each time), EXAMINEs the folder, idles,
 * notes the folder when it changes (EXISTS, EXPUNGE, VANISHED, FETCH;
 * not a server's "still here"), and renews IDLE every
 * WATCH_IDLE_RENEW_S, within the server's 29 minutes. After any failure
 * it connects again with a back-off (1 s doubling to
 * WATCH_IDLE_BACKOFF_MAX_S, with up to a quarter more as jitter),
 * noting the folder after each connection (what came meanwhile).
 *
 * A dead connection is noticed within a bounded time: a reset or a BYE
 * at once; one that says nothing at all (a server frozen, a path gone
 * without a reset) at the next renewal, whose DONE must be answered
 * within the account's `timeout:`. So the bound is WATCH_IDLE_RENEW_S
 * plus `timeout:` (5 min 30 s by default). The same holds for NOTIFY
 * (watch_server above). A suspended machine and a network change are
 * noticed sooner by the loop, which then has every connection made
 * again.
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
struct watch_idle *watch_idle_start(const struct config_account *a, enum side side, const char *folder,
                                    const struct watch_target *t);
/* Drop the connection and connect again now, without the back-off. */
void watch_idle_reconnect(struct watch_idle *w);
/* Stop the thread (every wait of it is cut short), join it, free `w`.
 * `a` may be freed after. NULL is fine. */
void watch_idle_stop(struct watch_idle *w);

/* ---- shared by the sources' threads (watch_conn.c) ---- */

/* A thread's wake-up: an eventfd that cuts its waits short (the
 * network's too: net_timeouts.cancel_fd), and whether that means stop. */
struct watch_wake {
	int fd;
	atomic_bool stopping;
};
int watch_wake_init(struct watch_wake *w); /* -1: no eventfd */
void watch_wake_fire(struct watch_wake *w);
void watch_wake_stop(struct watch_wake *w); /* stopping, and fired */
bool watch_stopping(struct watch_wake *w);
void watch_wake_close(struct watch_wake *w);
/* Whether it was fired since the last look (and forget that). */
bool watch_woken(struct watch_wake *w);
/* Wait `ms`, or less when fired: whether it was. */
bool watch_pause(struct watch_wake *w, long long ms);

/* The back-off between connections: 1 s (TWINBOX_TEST_BACKOFF_MS)
 * doubling to WATCH_IDLE_BACKOFF_MAX_S times that. */
struct watch_backoff {
	long long first, max, wait;
	unsigned seed;
};
void watch_backoff_init(struct watch_backoff *b, unsigned seed);
static inline void watch_backoff_reset(struct watch_backoff *b)
{
	b->wait = b->first;
}
/* Say "WHO: WHY; connecting again in N s" and wait that long (plus
 * jitter), or less when `w` is fired (then true). */
bool watch_backoff_pause(struct watch_backoff *b, struct watch_wake *w, const char *who, const char *why);

/* Side `side` of `a` connected and logged in as an IMAP store, its
 * waits cut short by `cancel_fd`; password_command runs now. NULL with
 * err. */
struct store;
struct store *watch_open_imap(const struct config_account *a, enum side side, int cancel_fd, struct error *err);
/* Whether the account syncs folder `name` (folders: include, exclude). */
bool watch_synced_folder(const struct config_account *a, const char *name);
/* IDLE on `s` renewed every WATCH_IDLE_RENEW_S, news(ctx) called
 * after each wait (it returns -1 with err to end); returns -1 with err
 * when the session fails. */
struct imap_session;
int watch_idle_loop(struct imap_session *s, int (*news)(void *ctx, struct error *err), void *ctx,
                    struct error *err);
long long watch_now_ms(void);
/* A test setting in milliseconds (1 to `max`), or `dflt`. */
long long watch_test_ms(const char *name, long long dflt, long long max);

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
