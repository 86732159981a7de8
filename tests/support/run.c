#include "run.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

static const char *binary_path(void)
{
	const char *bin = getenv("TWINBOX_BIN");

	return bin && *bin ? bin : "build/twinbox";
}

static void drain(int fd, struct buf *b, int *open_r)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n > 0)
		buf_append(b, chunk, (size_t)n);
	else
		*open_r = 0;
}

void run_twinbox(const char *const *args, int timeout_s, struct run_result *r)
{
	int out[2], err[2];
	size_t n = 0;
	const char **argv;
	struct buf ob = BUF_INIT, eb = BUF_INIT;
	int out_open = 1, err_open = 1, status;
	time_t deadline = time(NULL) + timeout_s;
	pid_t pid;

	while (args[n])
		n++;
	argv = xcalloc(n + 2, sizeof(*argv));
	argv[0] = binary_path();
	memcpy(argv + 1, args, n * sizeof(*argv));
	cr_assert_eq(pipe(out), 0);
	cr_assert_eq(pipe(err), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s\n", argv[0]);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	while (out_open || err_open) {
		struct pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0},
		                      {err_open ? err[0] : -1, POLLIN, 0}};
		int left = (int)(deadline - time(NULL));
		if (left <= 0 || poll(p, 2, left * 1000) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			cr_assert_fail("twinbox did not finish within %d s; stderr so far:\n%s", timeout_s,
			               buf_cstr(&eb));
		}
		if (p[0].revents)
			drain(out[0], &ob, &out_open);
		if (p[1].revents)
			drain(err[0], &eb, &err_open);
	}
	close(out[0]);
	close(err[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = buf_detach(&ob, NULL);
	r->err = buf_detach(&eb, NULL);
	free(argv);
}

void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

char *test_write_temp(const char *name, const char *text, unsigned mode)
{
	char dir[] = "/tmp/twinbox-test-XXXXXX";
	char *path;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	path = xasprintf("%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
	return path;
}

char *test_account_config(const struct test_account *a)
{
	char *path = test_write_temp("config.yaml", "", 0600);
	char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	bool auth = a->auth && *a->auth;
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fprintf(f,
	        "state_dir: %s/state\n"
	        "accounts:\n"
	        "  %s:\n"
	        "    %s:\n"
	        "      host: \"127.0.0.1\"\n"
	        "      port: %u\n"
	        "      tls: %s\n"
	        "      user: %s\n"
	        "      password: \"%s\"\n"
	        "      timeout: 10s\n",
	        dir, a->name, a->kind, a->port, a->tls, a->user, a->password);
	if (a->ca_file)
		fprintf(f, "      ca_file: \"%s\"\n", a->ca_file);
	if (auth)
		fprintf(f, "      auth: [%s]\n", a->auth);
	fprintf(f, "    maildir:\n      path: %s/%s\n", dir, a->name);
	cr_assert_eq(fclose(f), 0);
	free(dir);
	return path;
}

void test_forget_temp(char **path)
{
	char *slash;

	if (!*path)
		return;
	slash = strrchr(*path, '/');
	if (slash) {
		*slash = '\0';
		test_rmtree(*path);
	}
	free(*path);
	*path = NULL;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

void test_rmtree(const char *dir)
{
	/* Only trees the tests made under /tmp. */
	cr_assert(strncmp(dir, "/tmp/twinbox-", 13) == 0, "refusing to remove %s", dir);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
