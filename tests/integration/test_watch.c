/*
 * `twinbox watch` against a real Dovecot: after its first full sync,
 * mail delivered on the server reaches the Maildir, and a message
 * dropped into the Maildir reaches the server, each within a few
 * seconds (the latency figures belong to the benchmark; these bounds
 * only say that IDLE and inotify, not the full-sync interval, did it);
 * SIGTERM ends it with status 0.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/sync_harness.h"
#include "support/watch_run.h"
#include "twinbox/util/xmalloc.h"

TestSuite(watch, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 120);

static char notify_path[108];

/* A datagram socket standing in for systemd's $NOTIFY_SOCKET. */
static int notify_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(notify_path, sizeof(notify_path), "%s/notify", sh.dir);
	memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* What the watcher told "systemd" within `ms`, or "". */
static void told(int fd, char *buf, size_t size, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	ssize_t n = 0;

	buf[0] = '\0';
	if (poll(&p, 1, ms) == 1 && (n = recv(fd, buf, size - 1, 0)) > 0)
		buf[n] = '\0';
}

static size_t want;
static bool local_has_want(void)
{
	return local_message_count("INBOX") == want;
}
static bool server_has_want(void)
{
	return dovecot_message_count(sh.d, "INBOX") == want;
}
static bool started(void)
{
	char *log = watch_log();
	bool ok = strstr(log, "watching 1 account") != NULL;

	free(log);
	return ok;
}

Test(watch, changes_on_either_side_arrive_while_watching)
{
	pid_t pid;
	int status;
	long long t;
	char *log, *path;
	size_t len;
	char *msg;
	FILE *f;
	int nfd = notify_socket();
	char note[256];

	dovecot_seed(sh.d, "INBOX", 3, 900, 0);
	pid = watch_start(notify_path, NULL);
	log = NULL;
	told(nfd, note, sizeof(note), 20000);
	cr_assert_str_eq(note, "READY=1", "systemd is told it is ready once the first sync is done");
	cr_assert_geq(watch_wait_for(started, 20000), 0, "the watcher did not start:\n%s",
	              (log = watch_log()));
	want = 3;
	cr_assert_geq(watch_wait_for(local_has_want, 1000), 0, "the first full sync pulled the 3");

	/* Delivered on the server: IDLE says so, INBOX is synced. */
	usleep(300 * 1000); /* IDLE is up */
	dovecot_seed(sh.d, "INBOX", 1, 910, 0);
	want = 4;
	t = watch_wait_for(local_has_want, 5000);
	cr_assert_geq(t, 0, "a delivery did not reach the Maildir:\n%s", (log = watch_log()));
	cr_log_info("watch: server to Maildir in %lld ms", t);

	/* Dropped into the Maildir: inotify says so, INBOX is synced. */
	msg = test_message(920, 0, &len);
	path = xasprintf("%s/new/1700000920.M1P1.watchtest", sh.mail);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	for (size_t i = 0; i < len; i++)
		if (msg[i] != '\r')
			fputc(msg[i], f);
	fclose(f);
	want = 5;
	t = watch_wait_for(server_has_want, 5000);
	cr_assert_geq(t, 0, "a local message did not reach the server:\n%s", (log = watch_log()));
	cr_log_info("watch: Maildir to server in %lld ms", t);

	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "watch ended with %d:\n%s", status,
	          (log = watch_log()));
	told(nfd, note, sizeof(note), 1000);
	cr_assert_str_eq(note, "STOPPING=1");
	close(nfd);
	assert_twins("INBOX", 5);
	free(log);
	free(path);
	free(msg);
}
