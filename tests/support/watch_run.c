#include "watch_run.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/sync_harness.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

pid_t watch_start(const char *notify, const char *const *args)
{
	char *out = xasprintf("%s/watch.out", sh.dir), *err = xasprintf("%s/watch.err", sh.dir);
	const char *argv[16] = {"twinbox", "--config", sh.cfg, "watch", "--interval", "1h"};
	size_t n = 6;
	pid_t pid;

	for (; args && *args; args++) {
		cr_assert_lt(n, sizeof(argv) / sizeof(argv[0]) - 1);
		argv[n++] = *args;
	}
	argv[n] = NULL;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600),
		    e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (notify)
			setenv("NOTIFY_SOCKET", notify, 1);
		dup2(o, 1);
		dup2(e, 2);
		execv(getenv("TWINBOX_BIN"), (char *const *)argv);
		_exit(127);
	}
	free(out);
	free(err);
	return pid;
}

char *watch_log(void)
{
	char *path = xasprintf("%s/watch.err", sh.dir), *text = NULL;
	FILE *f = fopen(path, "r");
	size_t cap = 0;

	/* An empty file (nothing logged yet) reads as -1, the buffer
	 * then holding nothing valid. */
	if (f && getdelim(&text, &cap, '\0', f) < 0 && text)
		text[0] = '\0';
	if (f)
		fclose(f);
	free(path);
	return text ? text : xstrdup("");
}

size_t watch_log_count(const char *text)
{
	char *log = watch_log();
	size_t n = 0;

	for (const char *p = log; (p = strstr(p, text)) != NULL; p += strlen(text))
		n++;
	free(log);
	return n;
}

long long watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long watch_wait_for(bool (*check)(void), long long ms)
{
	long long start = watch_now_ms();

	while (watch_now_ms() - start < ms) {
		if (check())
			return watch_now_ms() - start;
		usleep(20 * 1000);
	}
	return -1;
}

bool watch_wait_log(const char *text, size_t times, long long ms)
{
	long long start = watch_now_ms();

	while (watch_now_ms() - start < ms) {
		if (watch_log_count(text) >= times)
			return true;
		usleep(20 * 1000);
	}
	return false;
}

void watch_write_config(const char *login, const char *timeout, const char *more)
{
	char *pw = login ? NULL : xasprintf("password: \"%s\"", sh.d->password);
	char *text = xasprintf("state_dir: %s/state\n"
	                       "accounts:\n"
	                       "  t:\n"
	                       "    imap:\n"
	                       "      host: 127.0.0.1\n"
	                       "      port: %u\n"
	                       "      user: %s\n"
	                       "      %s\n"
	                       "      ca_file: \"%s\"\n"
	                       "      timeout: %s\n"
	                       "    maildir:\n"
	                       "      path: %s\n"
	                       "    sync:\n"
	                       "      expunge: both\n"
	                       "%s",
	                       sh.dir, sh.d->imaps_port, sh.d->user, login ? login : pw, sh.d->ca_file,
	                       timeout, sh.mail, more ? more : "");
	struct error err;

	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
	free(pw);
}

static const char *want_folder;
static size_t want;

static bool local_has_want(void)
{
	return local_message_count(want_folder) == want;
}

long long watch_wait_local(const char *folder, size_t n, long long ms, const char *what)
{
	long long t;

	want_folder = folder;
	want = n;
	t = watch_wait_for(local_has_want, ms);
	if (t < 0) {
		char *log = watch_log();
		cr_assert_fail("%s: the Maildir's %s holds %zu messages, not %zu, after %lld ms; the "
		               "watcher logged:\n%s",
		               what, folder, local_message_count(folder), n, ms, log);
	}
	cr_log_info("%s in %lld ms", what, t);
	return t;
}

int watch_stop(pid_t pid, long long ms)
{
	long long start = watch_now_ms();
	int status;

	cr_assert_eq(kill(pid, SIGTERM), 0);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (watch_now_ms() - start > ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			cr_assert_fail("the watcher did not stop within %lld ms of SIGTERM", ms);
		}
		usleep(10 * 1000);
	}
	return status;
}
