#include "sync_harness.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/state/folder.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

struct sync_harness sh;

/* Account `name` of the harness's server over `kind` ("imap", "pop3")
 * on `port`, delivering into `maildir`: its lines (fresh). */
static char *server_account(const char *name, const char *kind, unsigned port, const char *maildir)
{
	return xasprintf("  %s:\n"
	                 "    %s:\n"
	                 "      host: 127.0.0.1\n"
	                 "      port: %u\n"
	                 "      user: %s\n"
	                 "      password: \"%s\"\n"
	                 "      ca_file: \"%s\"\n"
	                 "      timeout: 20s\n"
	                 "    maildir:\n"
	                 "      path: %s\n",
	                 name, kind, port, sh.d->user, sh.d->password, sh.d->ca_file, maildir);
}

char *account_config(const char *name, const char *maildir)
{
	return server_account(name, "imap", sh.d->imaps_port, maildir);
}

void write_config(const char *sync_section)
{
	char *account = account_config("t", sh.mail);
	char *text = xasprintf("state_dir: %s/state\n"
	                       "accounts:\n"
	                       "%s%s",
	                       sh.dir, account, sync_section ? sync_section : "");
	struct error err;

	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
	free(account);
}

void write_pop3_config(void)
{
	char *account = server_account("p", "pop3", sh.d->pop3s_port, sh.mail);
	char *text = xasprintf("state_dir: %s/state\naccounts:\n%s", sh.dir, account);
	struct error err;

	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
	free(account);
}

void sync_harness_setup(void)
{
	sync_harness_setup_with(NULL);
}

void sync_harness_setup_with(const char *extra_conf)
{
	sh.d = dovecot_start_with(extra_conf);
	snprintf(sh.dir, sizeof(sh.dir), "/tmp/twinbox-sync-XXXXXX");
	cr_assert_not_null(mkdtemp(sh.dir));
	sh.cfg = xasprintf("%s/config.yaml", sh.dir);
	sh.mail = xasprintf("%s/mail", sh.dir);
	sh.db = xasprintf("%s/state/t.db", sh.dir);
	write_config("    sync:\n      expunge: both\n");
}

void sync_harness_teardown(void)
{
	run_result_free(&sh.r);
	dovecot_stop(sh.d);
	test_rmtree(sh.dir);
	free(sh.cfg);
	free(sh.mail);
	free(sh.db);
	unsetenv("TWINBOX_TEST_CRASH_AT");
}

void restart_world(void)
{
	char *cmd = xasprintf("rm -rf '%s/mail' '%s/state'", sh.dir, sh.dir);

	dovecot_stop(sh.d);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
	sh.d = dovecot_start();
	write_config("    sync:\n      expunge: both\n");
}

int sync_run_args(const char *extra)
{
	run_result_free(&sh.r);
	if (extra)
		run_twinbox(ARGS("--config", sh.cfg, "sync", extra), 120, &sh.r);
	else
		run_twinbox(ARGS("--config", sh.cfg, "sync"), 120, &sh.r);
	return sh.r.status;
}

void sync_ok(void)
{
	cr_assert_eq(sync_run_args(NULL), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
}

/* ---- the local side ---- */

char *folder_dir(const char *folder)
{
	if (strcmp(folder, "INBOX") == 0)
		return xstrdup(sh.mail);
	char *dotted = xstrdup(folder);
	for (char *p = dotted; *p; p++)
		if (*p == '/')
			*p = '.';
	char *path = xasprintf("%s/.%s", sh.mail, dotted);
	free(dotted);
	return path;
}

size_t local_list(const char *folder, struct local_msg **msgs_r)
{
	static const char *subs[] = {"new", "cur"};
	char *base = folder_dir(folder);
	struct local_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	struct error err;

	for (int s = 0; s < 2; s++) {
		char *sub = xasprintf("%s/%s", base, subs[s]);
		DIR *dh = opendir(sub);
		struct dirent *e;
		while (dh && (e = readdir(dh)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			msgs = xgrow(msgs, &cap, n + 1, sizeof(*msgs));
			msgs[n].path = xasprintf("%s/%s", sub, e->d_name);
			const char *info = strstr(e->d_name, ":2,");
			msgs[n].flags = xstrdup(info ? info + 3 : "");
			cr_assert_eq(fs_read_file(msgs[n].path, 64 << 20, &msgs[n].data, &msgs[n].len, &err),
			             0);
			n++;
		}
		if (dh)
			closedir(dh);
		free(sub);
	}
	free(base);
	*msgs_r = msgs;
	return n;
}

void local_free(struct local_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].path);
		free(m[i].flags);
		free(m[i].data);
	}
	free(m);
}

size_t local_message_count(const char *folder)
{
	struct local_msg *lm;
	size_t n = local_list(folder, &lm);

	local_free(lm, n);
	return n;
}

bool local_has_id(const char *folder, const char *id)
{
	struct local_msg *lm;
	size_t n = local_list(folder, &lm);
	bool found = false;

	for (size_t i = 0; i < n && !found; i++) {
		char *mid = message_id(lm[i].data);
		found = strcmp(mid, id) == 0;
		free(mid);
	}
	local_free(lm, n);
	return found;
}

bool server_has_id(const char *mailbox, const char *id)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(sh.d, mailbox, true, &n);
	bool found = false;

	for (size_t i = 0; i < n && !found; i++) {
		char *mid = message_id(m[i].body);
		found = strcmp(mid, id) == 0;
		free(mid);
	}
	dovecot_msgs_free(m, n);
	return found;
}

void write_local(const char *folder, const char *name, const char *text)
{
	char *base = folder_dir(folder);
	char *path = xasprintf("%s/new/%s", base, name);
	struct error err;

	cr_assert_eq(fs_write_atomic(path, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(path);
	free(base);
}

char *local_find(const char *folder, const char *id)
{
	struct local_msg *lm;
	size_t n = local_list(folder, &lm), found = 0;
	char *path = NULL;

	for (size_t i = 0; i < n; i++) {
		char *lid = message_id(lm[i].data);
		if (strcmp(lid, id) == 0) {
			found++;
			free(path);
			path = xstrdup(lm[i].path);
		}
		free(lid);
	}
	local_free(lm, n);
	cr_assert_eq(found, 1, "%s: %s is %zu times in the Maildir", folder, id, found);
	return path;
}

char *local_set_flags(const char *path, const char *letters)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash + 1;
	size_t base_len = strcspn(name, ":");
	/* path = <folder>/<new|cur>/<name> */
	char *folder = xstrndup(path, (size_t)(slash - path) - 4);
	char *to = xasprintf("%s/cur/%.*s:2,%s", folder, (int)base_len, name, letters);

	cr_assert_eq(rename(path, to), 0, "cannot rename %s to %s", path, to);
	free(folder);
	return to;
}

size_t tmp_count(const char *folder)
{
	char *base = folder_dir(folder);
	char *tmp = xasprintf("%s/tmp", base);
	DIR *d = opendir(tmp);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			if (n < 5)
				cr_log_info("left in %s: %s", tmp, de->d_name);
			n++;
		}
	if (d)
		closedir(d);
	free(tmp);
	free(base);
	return n;
}

/* ---- both sides ---- */

char *seeded_id(unsigned seed, unsigned i)
{
	return xasprintf("<seed.%u@twinbox.test>", seed + i);
}

bool has_flag(const char *flags, const char *flag)
{
	struct dovecot_msg m = {.flags = xstrdup(flags)};
	bool has = dovecot_msg_has_flag(&m, flag);

	free(m.flags);
	return has;
}

char *message_id(const char *data)
{
	const char *p = strstr(data, "Message-ID: ");
	const char *e = p ? strpbrk(p, "\r\n") : NULL;

	return p && e ? xstrndup(p + 12, (size_t)(e - p - 12)) : xstrdup("");
}

char *lf_of(const char *crlf, size_t len)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < len; i++)
		if (!(crlf[i] == '\r' && i + 1 < len && crlf[i + 1] == '\n'))
			buf_append_byte(&b, crlf[i]);
	return buf_detach(&b, NULL);
}

char *crlf_of(const char *lf, size_t *len_r)
{
	struct buf b = BUF_INIT;

	for (const char *p = lf; *p; p++) {
		if (*p == '\n')
			buf_append_byte(&b, '\r');
		buf_append_byte(&b, *p);
	}
	return buf_detach(&b, len_r);
}

size_t server_count(const char *mailbox)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(sh.d, mailbox, false, &n);

	dovecot_msgs_free(m, n);
	return n;
}

unsigned server_find(const char *mailbox, const char *id, char **flags_r)
{
	size_t n, found = 0;
	struct dovecot_msg *sm = dovecot_list(sh.d, mailbox, true, &n);
	unsigned uid = 0;

	for (size_t i = 0; i < n; i++) {
		char *sid = message_id(sm[i].body);
		if (strcmp(sid, id) == 0) {
			found++;
			uid = sm[i].uid;
			if (flags_r) {
				free(*flags_r);
				*flags_r = xstrdup(sm[i].flags);
			}
		}
		free(sid);
	}
	dovecot_msgs_free(sm, n);
	cr_assert_eq(found, 1, "%s: %s is %zu times on the server", mailbox, id, found);
	return uid;
}

/* A message of one side, by Message-ID, for sorting. */
struct keyed {
	char *id;
	size_t index;
};

static int keyed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->id, ((const struct keyed *)b)->id);
}

static void keyed_free(struct keyed *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(k[i].id);
	free(k);
}

/* `data` without the header fields named `field` (fresh). */
static char *without_field(const char *data, const char *field)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(field);
	bool skipping = false;

	for (const char *p = data; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
		if (len <= 2 && (p[0] == '\n' || (p[0] == '\r' && p[1] == '\n'))) {
			buf_append(&b, p, strlen(p)); /* the body */
			break;
		}
		if (p[0] != ' ' && p[0] != '\t')
			skipping = strncasecmp(p, field, n) == 0 && p[n] == ':';
		if (!skipping)
			buf_append(&b, p, len);
		p += len;
	}
	return buf_detach(&b, NULL);
}

void assert_twins(const char *folder, size_t expect)
{
	assert_twins_ignoring(folder, expect, NULL);
}

/* Sorted by Message-ID, so thousands of messages compare quickly. */
void assert_twins_ignoring(const char *folder, size_t expect, const char *field)
{
	struct local_msg *lm;
	size_t nl = local_list(folder, &lm), ns;
	struct dovecot_msg *sm = dovecot_list(sh.d, folder, true, &ns);
	struct keyed *lk, *sk;

	cr_assert_eq(nl, expect, "%s: %zu local messages, expected %zu", folder, nl, expect);
	cr_assert_eq(ns, expect, "%s: %zu server messages, expected %zu", folder, ns, expect);
	lk = xcalloc(nl + 1, sizeof(*lk));
	sk = xcalloc(ns + 1, sizeof(*sk));
	for (size_t i = 0; i < nl; i++)
		lk[i] = (struct keyed){message_id(lm[i].data), i};
	for (size_t i = 0; i < ns; i++)
		sk[i] = (struct keyed){message_id(sm[i].body), i};
	qsort(lk, nl, sizeof(*lk), keyed_cmp);
	qsort(sk, ns, sizeof(*sk), keyed_cmp);
	for (size_t i = 0; i < ns; i++) {
		if (i + 1 < ns)
			cr_assert_str_neq(sk[i].id, sk[i + 1].id, "%s: %s is twice on the server", folder,
			                  sk[i].id);
		if (i + 1 < nl)
			cr_assert_str_neq(lk[i].id, lk[i + 1].id, "%s: %s is twice in the Maildir", folder,
			                  lk[i].id);
		cr_assert_str_eq(lk[i].id, sk[i].id, "%s: %s is on one side only", folder,
		                 strcmp(lk[i].id, sk[i].id) < 0 ? lk[i].id : sk[i].id);
		{
			const struct dovecot_msg *s = &sm[sk[i].index];
			char *lf = lf_of(s->body, s->body_len);
			char *local = field ? without_field(lm[lk[i].index].data, field)
			                    : xstrdup(lm[lk[i].index].data);
			cr_assert(strcmp(local, lf) == 0, "%s: %s differs between the sides", folder,
			          sk[i].id);
			free(local);
			free(lf);
		}
	}
	keyed_free(lk, nl);
	keyed_free(sk, ns);
	dovecot_msgs_free(sm, ns);
	local_free(lm, nl);
}

size_t state_pair_count(const char *folder)
{
	struct state *st;
	struct state_folder sf;
	struct state_pairs pairs = {0};
	struct error err;
	size_t n;

	cr_assert_eq(state_open(sh.db, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_find_remote(st, folder, &sf, &err), 1, "folder %s not in the state",
	             folder);
	cr_assert_eq(state_pairs_load(st, sf.id, &pairs, &err), 0, "%s", err.text);
	n = pairs.count;
	for (size_t i = 0; i < n; i++) {
		cr_assert_neq(pairs.pairs[i].side[SIDE_A].uid, 0, "pair without a server side");
		cr_assert_not_null(pairs.pairs[i].side[SIDE_B].name, "pair without a local side");
	}
	state_pairs_free(&pairs);
	state_folder_clear(&sf);
	state_close(st);
	return n;
}

void assert_nothing_done(void)
{
	static const char nothing[] =
	    ": 0 pulled, 0 pushed, flags 0 local / 0 remote, deleted 0 local / 0 remote\n";
	char *copy = xstrdup(sh.r.out), *save = NULL;
	size_t lines = 0;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *with_nl = xasprintf("%s\n", line);
		size_t len = strlen(with_nl);
		cr_assert(len > sizeof(nothing) - 1 &&
		              strcmp(with_nl + len - (sizeof(nothing) - 1), nothing) == 0,
		          "a further run changed something: %s", line);
		free(with_nl);
		lines++;
	}
	cr_assert_gt(lines, 0, "no summary printed");
	free(copy);
}

char *summary_of(const char *folder)
{
	char *prefix = xasprintf("t: %s: ", folder);
	const char *p = strstr(sh.r.out, prefix);

	cr_assert_not_null(p, "no summary for %s in:\n%s", folder, sh.r.out);
	p += strlen(prefix);
	free(prefix);
	return xstrndup(p, strcspn(p, "\n"));
}

/* ---- processes ---- */

pid_t sync_spawn(const char *tag)
{
	return sync_spawn_args(tag, ARGS("--config", sh.cfg, "sync"));
}

pid_t sync_spawn_args(const char *tag, const char *const *args)
{
	const char *bin = getenv("TWINBOX_BIN");
	char *out = xasprintf("%s/%s.out", sh.dir, tag);
	char *errf = xasprintf("%s/%s.err", sh.dir, tag);
	const char *argv[16];
	size_t argc = 0;
	pid_t pid;

	if (!bin || !*bin)
		bin = "build/twinbox";
	argv[argc++] = bin;
	while (*args && argc + 1 < sizeof(argv) / sizeof(*argv))
		argv[argc++] = *args++;
	cr_assert_null(*args, "too many arguments for sync_spawn_args");
	argv[argc] = NULL;
	/* The output files exist before the child does: a run killed at
	 * once, before it could open them, has empty ones. */
	for (int k = 0; k < 2; k++) {
		int fd = open(k ? errf : out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		cr_assert_geq(fd, 0, "cannot create %s", k ? errf : out);
		close(fd);
	}
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_TRUNC);
		int e = open(errf, O_WRONLY | O_TRUNC);
		if (in < 0 || o < 0 || e < 0)
			_exit(127);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	free(out);
	free(errf);
	return pid;
}

static char *read_output(const char *tag, const char *ext)
{
	char *path = xasprintf("%s/%s.%s", sh.dir, tag, ext);
	char *data;
	size_t len;
	struct error err;

	cr_assert_eq(fs_read_file(path, 16 << 20, &data, &len, &err), 0, "%s", err.text);
	free(path);
	return data;
}

void sync_wait(pid_t pid, const char *tag, int timeout_s, struct run_result *r, long *maxrss_kb_r)
{
	struct timespec pause = {0, 20 * 1000 * 1000};
	time_t deadline = time(NULL) + timeout_s;
	struct rusage ru;
	int status;
	pid_t got;

	while ((got = wait4(pid, &status, WNOHANG, &ru)) == 0) {
		if (time(NULL) > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			cr_assert_fail("twinbox (%s) did not finish within %d s", tag, timeout_s);
		}
		nanosleep(&pause, NULL);
	}
	cr_assert_eq(got, pid);
	cr_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 127), "cannot run twinbox (%s)", tag);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = read_output(tag, "out");
	r->err = read_output(tag, "err");
	if (maxrss_kb_r)
		*maxrss_kb_r = ru.ru_maxrss;
}

uint32_t sync_test_seed(void)
{
	const char *v = getenv("TWINBOX_TEST_SEED");
	uint32_t seed = v && *v ? (uint32_t)strtoul(v, NULL, 10) : (uint32_t)time(NULL) ^ (uint32_t)getpid();

	if (seed == 0)
		seed = 1; /* xorshift stays at 0 */
	cr_log_info("seed %u (TWINBOX_TEST_SEED=%u replays it)", seed, seed);
	fprintf(stderr, "seed %u\n", seed);
	return seed;
}

static uint32_t next_random(uint32_t *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 17;
	*seed ^= *seed << 5;
	return *seed;
}

/* Files in new/ and cur/ of `folder`, without reading them. */
static size_t local_files(const char *folder)
{
	static const char *subs[] = {"new", "cur"};
	char *base = folder_dir(folder);
	size_t n = 0;

	for (size_t s = 0; s < 2; s++) {
		char *dir = xasprintf("%s/%s", base, subs[s]);
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d && (de = readdir(d)))
			n += de->d_name[0] != '.';
		if (d)
			closedir(d);
		free(dir);
	}
	free(base);
	return n;
}

unsigned sync_kill_randomly(uint32_t *seed, unsigned kills, const char *folder, size_t total)
{
	unsigned killed = 0;

	for (unsigned i = 0; i < kills; i++) {
		size_t have = local_files(folder);
		size_t target = have + (total > have ? next_random(seed) % (total - have) : 0);
		long ms = (long)(next_random(seed) % 21);
		struct run_result r = {0};
		char tag[32];
		pid_t pid;
		siginfo_t info;

		snprintf(tag, sizeof(tag), "killed-%u", i);
		pid = sync_spawn(tag);
		/* until it ends (not reaped: sync_wait does that) or gets there */
		while ((info.si_pid = 0, waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT)) == 0 &&
		       info.si_pid == 0 && local_files(folder) < target)
			nanosleep(&(struct timespec){0, 1000000L}, NULL);
		nanosleep(&(struct timespec){0, ms * 1000000L}, NULL);
		kill(pid, SIGKILL);
		sync_wait(pid, tag, 60, &r, NULL);
		killed += r.status == 128 + SIGKILL;
		cr_log_info("run %u: killed at %zu messages + %ld ms (exit %d)", i, target, ms, r.status);
		cr_assert(r.status == 0 || r.status == 128 + SIGKILL, "run %u: exit %d: %s", i, r.status,
		          r.err);
		run_result_free(&r);
	}
	return killed;
}

char *json_read_with(const char *script, const char *stream)
{
	char *in = xasprintf("%s/events.json", sh.dir);
	char *py = xasprintf("%s/reader.py", sh.dir);
	char *cmd = xasprintf("/usr/bin/python3 %s %s 2>&1", py, in);
	struct buf out = BUF_INIT;
	struct error err;
	char block[4096];
	size_t n;
	FILE *f;
	int status;

	cr_assert_eq(fs_write_atomic(in, stream, strlen(stream), 0600, &err), 0, "%s", err.text);
	cr_assert_eq(fs_write_atomic(py, script, strlen(script), 0600, &err), 0, "%s", err.text);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while ((n = fread(block, 1, sizeof(block), f)) > 0)
		buf_append(&out, block, n);
	status = pclose(f);
	buf_append_byte(&out, '\0');
	cr_assert_eq(status, 0, "Python could not read the stream: %s\nstream:\n%s", out.data, stream);
	free(cmd);
	free(py);
	free(in);
	return buf_detach(&out, NULL);
}

long json_value_of(const char *text, const char *key)
{
	char *needle = xasprintf("\n%s ", key);
	char *with_nl = xasprintf("\n%s", text);
	const char *p = strstr(with_nl, needle);
	long v;

	cr_assert_not_null(p, "no \"%s\" in:\n%s", key, text);
	v = strtol(p + strlen(needle), NULL, 10);
	free(needle);
	free(with_nl);
	return v;
}
