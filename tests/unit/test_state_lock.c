#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_state.h"
#include "twinbox/state/lock.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(state_lock, .init = state_test_setup, .fini = state_test_teardown);

static struct state_lock *acquire(const char *db, int wait_ms)
{
	struct state_lock *lock;
	struct error err;

	error_clear(&err);
	cr_assert_eq(state_lock_acquire(db, wait_ms, &lock, &err), 0, "%s", err.text);
	cr_assert_not_null(lock);
	return lock;
}

/* Fork a child that takes the lock, tells us, then waits for `hold_ms`
 * (forever if 0) before releasing it and exiting. */
static pid_t holder(const char *db, int hold_ms)
{
	int ready[2];
	pid_t pid;
	char c;

	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct state_lock *lock;
		struct error err;
		close(ready[0]);
		if (state_lock_acquire(db, STATE_LOCK_NOWAIT, &lock, &err) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		if (hold_ms == 0)
			for (;;)
				pause();
		usleep((useconds_t)hold_ms * 1000);
		state_lock_release(lock);
		_exit(0);
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the child took the lock");
	close(ready[0]);
	return pid;
}

Test(state_lock, path_next_to_the_database)
{
	char *p = state_lock_path("/home/a/.local/state/twinbox/work.db");

	cr_assert_str_eq(p, "/home/a/.local/state/twinbox/work.lock");
	free(p);
	p = state_lock_path("/x/state");
	cr_assert_str_eq(p, "/x/state.lock");
	free(p);
}

Test(state_lock, creates_private_file_with_our_pid)
{
	char *db = state_test_path("sub/work.db");
	char *path = state_test_path("sub/work.lock");
	char *dir = state_test_path("sub");
	struct state_lock *lock = acquire(db, STATE_LOCK_NOWAIT);
	char expect[32];
	struct error err;
	struct stat sb;
	char *data;
	size_t len;

	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0600);
	cr_assert_eq(stat(dir, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0700);
	cr_assert_eq(fs_read_file(path, 4096, &data, &len, &err), 0);
	snprintf(expect, sizeof(expect), "%ld ", (long)getpid());
	cr_assert_eq(strncmp(data, expect, strlen(expect)), 0, "holds \"%s\"", data);
	free(data);

	state_lock_release(lock);
	cr_assert_eq(stat(path, &sb), 0, "the file stays (removing it would race)");
	cr_assert_eq(sb.st_size, 0, "and names no process once released");
	lock = acquire(db, STATE_LOCK_NOWAIT);
	state_lock_release(lock);
	state_lock_release(NULL);
	free(db);
	free(path);
	free(dir);
}

Test(state_lock, second_process_is_refused_with_the_holders_pid)
{
	char *db = state_test_path("work.db");
	struct state_lock *lock = acquire(db, STATE_LOCK_NOWAIT);
	int status;
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct state_lock *mine;
		struct error err;
		char want[64];
		if (state_lock_acquire(db, STATE_LOCK_NOWAIT, &mine, &err) == 0)
			_exit(1);
		snprintf(want, sizeof(want), "process %ld on host ", (long)getppid());
		if (err.scope != ERR_ACCOUNT || mine)
			_exit(2);
		if (!strstr(err.text, "account \"work\" is being synced by") || !strstr(err.text, want))
			_exit(3);
		if (!strstr(err.text, "wait for it to finish or stop it"))
			_exit(4);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "child check %d failed", WEXITSTATUS(status));
	state_lock_release(lock);
	free(db);
}

Test(state_lock, killed_holder_leaves_no_stale_lock)
{
	char *db = state_test_path("work.db");
	pid_t pid = holder(db, 0);
	struct state_lock *lock;
	struct error err;
	char want[32];
	int status;

	cr_assert_eq(state_lock_acquire(db, STATE_LOCK_NOWAIT, &lock, &err), -1);
	snprintf(want, sizeof(want), "process %ld ", (long)pid);
	cr_assert(strstr(err.text, want), "names the child: %s", err.text);
	cr_assert(strstr(err.text, "work.lock"), "names the lock file: %s", err.text);

	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	lock = acquire(db, STATE_LOCK_NOWAIT);
	state_lock_release(lock);
	free(db);
}

Test(state_lock, same_process_twice_is_refused)
{
	char *db = state_test_path("work.db");
	struct state_lock *lock = acquire(db, STATE_LOCK_NOWAIT), *again;
	struct error err;

	cr_assert_eq(state_lock_acquire(db, STATE_LOCK_NOWAIT, &again, &err), -1);
	cr_assert_null(again);
	state_lock_release(lock);
	free(db);
}

Test(state_lock, wait_until_the_holder_releases)
{
	char *db = state_test_path("work.db");
	pid_t pid = holder(db, 300);
	struct state_lock *lock = acquire(db, 10000);
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	state_lock_release(lock);
	free(db);
}

Test(state_lock, wait_gives_up_after_the_timeout)
{
	char *db = state_test_path("work.db");
	pid_t pid = holder(db, 0);
	struct state_lock *lock;
	struct error err;
	int status;

	cr_assert_eq(state_lock_acquire(db, 400, &lock, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "after waiting"), "%s", err.text);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	free(db);
}

/* state_lock_try tells a held lock apart and names its holder. */
Test(state_lock, try_names_the_holder_on_this_host)
{
	char *db = state_test_path("work.db");
	pid_t pid = holder(db, 0);
	struct state_lock *lock;
	struct state_process h;
	struct error err;
	int status;

	cr_assert_eq(state_lock_try(db, STATE_LOCK_NOWAIT, &lock, &h, &err), 1, "%s", err.text);
	cr_assert_null(lock);
	cr_assert(h.known);
	cr_assert_eq(h.pid, (long)pid);
	cr_assert(h.here);
	cr_assert(h.since > 0);
	cr_assert(strstr(err.text, " on host "), "%s", err.text);
	cr_assert(strstr(err.text, " since "), "%s", err.text);
	cr_assert_eq(state_lock_holder(db, &h), 1, "the file names a running process");
	cr_assert_eq(h.pid, (long)pid);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_eq(state_lock_holder(db, &h), 0, "a killed holder runs no more");
	cr_assert_eq(state_lock_try(db, STATE_LOCK_NOWAIT, &lock, &h, &err), 0, "%s", err.text);
	state_lock_release(lock);
	cr_assert_eq(state_lock_holder(db, &h), 0, "a released lock names nobody");
	free(db);
}

/* STATE_LOCK_FOREVER blocks until the holder lets go. */
Test(state_lock, forever_waits_for_the_holder)
{
	char *db = state_test_path("work.db");
	pid_t pid = holder(db, 300);
	struct state_lock *lock = acquire(db, STATE_LOCK_FOREVER);
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the holder ended on its own");
	state_lock_release(lock);
	free(db);
}

/* Shared holds keep a run out but not each other; no file, no lock. */
Test(state_lock, shared_holds_keep_runs_out)
{
	char *db = state_test_path("work.db");
	struct state_lock *a, *b, *x;
	struct state_process h;
	struct error err;
	pid_t pid;
	int status;

	cr_assert_eq(state_lock_try_shared(db, STATE_LOCK_NOWAIT, &a, &h, &err), 0, "%s", err.text);
	cr_assert_null(a, "no run ever locked: nothing to hold");
	x = acquire(db, STATE_LOCK_NOWAIT);
	state_lock_release(x);
	cr_assert_eq(state_lock_try_shared(db, STATE_LOCK_NOWAIT, &a, &h, &err), 0, "%s", err.text);
	cr_assert_not_null(a);
	cr_assert_eq(state_lock_try_shared(db, STATE_LOCK_NOWAIT, &b, &h, &err), 0, "%s", err.text);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* The child's own descriptor: the parent's holds keep it out. */
		struct state_lock *mine;
		struct error e;
		_exit(state_lock_try(db, STATE_LOCK_NOWAIT, &mine, NULL, &e) == 1 ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(WEXITSTATUS(status), 0, "a run is kept out while shared holds are held");
	state_lock_release(a);
	state_lock_release(b);
	x = acquire(db, STATE_LOCK_NOWAIT);
	cr_assert_eq(state_lock_try_shared(db, STATE_LOCK_NOWAIT, &a, &h, &err), 1, "a run keeps them out");
	cr_assert_eq(h.pid, (long)getpid());
	state_lock_release(x);
	free(db);
}

/* ---- the watcher's registration ---- */

Test(state_lock, a_watcher_registers_and_unregisters)
{
	char *db = state_test_path("work.db");
	char *path = state_test_path("work.watch");
	struct state_watch *w, *again;
	struct state_process p;
	struct error err;
	struct stat sb;

	cr_assert_eq(state_watch_find(db, &p), 0);
	cr_assert_eq(state_watch_register(db, &w, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0600);
	cr_assert_eq(state_watch_find(db, &p), 1);
	cr_assert_eq(p.pid, (long)getpid());
	cr_assert(p.here);
	/* This process again: its own registration is no other watcher. */
	cr_assert_eq(state_watch_register(db, &again, NULL, &err), 0, "%s", err.text);
	state_watch_unregister(again);
	cr_assert_neq(stat(path, &sb), 0, "removed at the end");
	state_watch_unregister(w);
	state_watch_unregister(NULL);
	cr_assert_eq(state_watch_find(db, &p), 0);
	free(path);
	free(db);
}

/* A second watcher is refused while the first runs; once it is gone its
 * file is stale and ignored. */
Test(state_lock, a_registration_of_a_process_that_is_gone_is_not_believed)
{
	char *db = state_test_path("work.db");
	struct state_watch *w;
	struct state_process p;
	struct error err;
	int ready[2], status;
	char c;
	pid_t pid;

	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct state_watch *mine;
		struct error e;
		close(ready[0]);
		if (state_watch_register(db, &mine, NULL, &e) != 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	cr_assert_eq(state_watch_find(db, &p), 1);
	cr_assert_eq(p.pid, (long)pid);
	cr_assert_eq(state_watch_register(db, &w, &p, &err), 1, "one runs already");
	cr_assert(strstr(err.text, "already watched by process"), "%s", err.text);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_eq(state_watch_find(db, &p), 0, "its process is gone");
	cr_assert_eq(state_watch_register(db, &w, NULL, &err), 0, "%s", err.text);
	state_watch_unregister(w);
	free(db);
}

/* A pid that a later process got: the file says the watcher registered
 * long before this process started. */
Test(state_lock, a_pid_taken_over_by_a_later_process_is_not_the_watcher)
{
	char *db = state_test_path("work.db");
	char *path = state_test_path("work.watch");
	char host[256], *line;
	struct state_process p;
	struct error err;

	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	line = xasprintf("%ld 1000000000 %s\n", (long)getpid(), host);
	cr_assert_eq(fs_write_atomic(path, line, strlen(line), 0600, &err), 0, "%s", err.text);
	cr_assert_eq(state_watch_find(db, &p), 0, "this process started after 2001");
	free(line);
	line = xasprintf("%ld %lld other-host.example\n", (long)getpid(), (long long)time(NULL));
	cr_assert_eq(fs_write_atomic(path, line, strlen(line), 0600, &err), 0, "%s", err.text);
	cr_assert_eq(state_watch_find(db, &p), 1, "another host's process cannot be asked");
	cr_assert(!p.here);
	cr_assert_str_eq(p.host, "other-host.example");
	free(line);
	free(path);
	free(db);
}
