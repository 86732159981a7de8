/*
 * The tools the bench runs, each configured as its users would for the
 * fixture Dovecot (implicit TLS to localhost, the fixture CA, Maildir++
 * with INBOX at the root); how a run is timed (wall time around
 * fork..wait4 and the child's peak RSS from the kernel's rusage, the same
 * for every tool); the raw-fetch bound; and the Maildir counts that
 * check a run was complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "support/dovecot_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

/* ---- configurations ------------------------------------------------------ */

static const char *const tool_names[] = {
    [TOOL_TWINBOX_IMAP] = "twinbox",
    [TOOL_MBSYNC] = "mbsync",
    [TOOL_TWINBOX_POP3] = "twinbox-pop3",
    [TOOL_MPOP] = "mpop",
    [TOOL_RAW_FETCH] = "raw-fetch",
    [TOOL_TWINBOX_MIGRATE] = "twinbox",
    [TOOL_MBSYNC_MIGRATE] = "mbsync",
    [TOOL_INTERIMAP] = "interimap",
    [TOOL_RAW_COPY] = "raw-copy",
    [TOOL_TWINBOX_DEFLATE] = "twinbox",
    [TOOL_TWINBOX_PLAIN] = "twinbox-uncompressed",
};

static void write_config(const char *path, const char *text)
{
	struct error err;

	if (fs_write_atomic(path, text, strlen(text), 0600, &err) < 0)
		bench_fail("%s", err.text);
}

static char *twinbox_imap_config(const struct bench_tool *t)
{
	return xasprintf("state_dir: %s/state\n"
	                 "accounts:\n"
	                 "  bench:\n"
	                 "    imap:\n"
	                 "      host: localhost\n"
	                 "      port: %u\n"
	                 "      tls: implicit\n"
	                 "      user: %s\n"
	                 "      password: \"%s\"\n"
	                 "      ca_file: \"%s\"\n"
	                 "    maildir:\n"
	                 "      path: %s\n",
	                 t->dir, t->server->imaps_port, t->server->user, t->server->password,
	                 t->server->ca_file, t->maildir);
}

static char *twinbox_pop3_config(const struct bench_tool *t)
{
	return xasprintf("state_dir: %s/state\n"
	                 "accounts:\n"
	                 "  bench:\n"
	                 "    pop3:\n"
	                 "      host: localhost\n"
	                 "      port: %u\n"
	                 "      tls: implicit\n"
	                 "      user: %s\n"
	                 "      password: \"%s\"\n"
	                 "      ca_file: \"%s\"\n"
	                 "      leave_on_server: true\n"
	                 "    maildir:\n"
	                 "      path: %s\n",
	                 t->dir, t->server->pop3s_port, t->server->user, t->server->password,
	                 t->server->ca_file, t->maildir);
}

/* Far side the server, near side the Maildir; SyncState in each folder,
 * so a fresh Maildir is a fresh mbsync state. */
static char *mbsync_config(const struct bench_tool *t)
{
	return xasprintf("IMAPAccount bench\n"
	                 "Host localhost\n"
	                 "Port %u\n"
	                 "User %s\n"
	                 "Pass \"%s\"\n"
	                 "SSLType IMAPS\n"
	                 "CertificateFile %s\n"
	                 "\n"
	                 "IMAPStore bench-remote\n"
	                 "Account bench\n"
	                 "\n"
	                 "MaildirStore bench-local\n"
	                 "Inbox %s\n"
	                 "SubFolders Maildir++\n"
	                 "\n"
	                 "Channel bench\n"
	                 "Far :bench-remote:\n"
	                 "Near :bench-local:\n"
	                 "Patterns *\n"
	                 "Create Near\n"
	                 "SyncState *\n",
	                 t->server->imaps_port, t->server->user, t->server->password, t->server->ca_file,
	                 t->maildir);
}

static char *mpop_config(const struct bench_tool *t)
{
	return xasprintf("account bench\n"
	                 "host localhost\n"
	                 "port %u\n"
	                 "tls on\n"
	                 "tls_starttls off\n"
	                 "tls_trust_file %s\n"
	                 "user %s\n"
	                 "password %s\n"
	                 "delivery maildir %s\n"
	                 "keep on\n"
	                 "uidls_file %s/uidls\n"
	                 "\n"
	                 "account default : bench\n",
	                 t->server->pop3s_port, t->server->ca_file, t->server->user, t->server->password,
	                 t->maildir, t->dir);
}

const char *bench_tool_name(enum bench_tool_kind kind)
{
	return tool_names[kind];
}

void bench_tool_init(struct bench_tool *t, enum bench_tool_kind kind, const char *bench_dir,
                     struct dovecot *server, const char *twinbox_bin, const char *bench_bin)
{
	static const char *const config_names[] = {
	    [TOOL_TWINBOX_IMAP] = "config.yaml", [TOOL_MBSYNC] = "mbsyncrc",
	    [TOOL_TWINBOX_POP3] = "config.yaml", [TOOL_MPOP] = "mpoprc",
	    [TOOL_RAW_FETCH] = "none",
	};
	char *text = NULL;

	/* The migration's tools have two servers (bench_migrate.c). */
	if (kind > TOOL_RAW_FETCH)
		bench_fail("%s is run by bench_migrate_run()", tool_names[kind]);
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->name = tool_names[kind];
	t->dir = xasprintf("%s/%s", bench_dir, tool_names[kind]);
	t->maildir = xasprintf("%s/Mail", t->dir);
	t->config = xasprintf("%s/%s", t->dir, config_names[kind]);
	t->log = xasprintf("%s/run.log", t->dir);
	t->twinbox_bin = twinbox_bin;
	t->bench_bin = bench_bin;
	t->server = server;
	if (mkdir(t->dir, 0700) != 0)
		bench_fail("cannot create %s: %s", t->dir, strerror(errno));
	switch (kind) {
	case TOOL_TWINBOX_IMAP:
		text = twinbox_imap_config(t);
		break;
	case TOOL_MBSYNC:
		text = mbsync_config(t);
		break;
	case TOOL_TWINBOX_POP3:
		text = twinbox_pop3_config(t);
		break;
	case TOOL_MPOP:
		text = mpop_config(t);
		break;
	case TOOL_RAW_FETCH:
		break;
	default:
		break;
	}
	if (text)
		write_config(t->config, text);
	free(text);
}

void bench_tool_free(struct bench_tool *t)
{
	free(t->dir);
	free(t->maildir);
	free(t->config);
	free(t->log);
}

void bench_tool_reset(struct bench_tool *t)
{
	char *state = xasprintf("%s/state", t->dir);
	char *uidls = xasprintf("%s/uidls", t->dir);

	bench_discard(t->maildir);
	bench_discard(state);
	if (unlink(uidls) != 0 && errno != ENOENT)
		bench_fail("cannot remove %s: %s", uidls, strerror(errno));
	/* mpop delivers only into an existing Maildir; the others create
	 * theirs. */
	if (t->kind == TOOL_MPOP) {
		static const char *const subs[] = {"", "/cur", "/new", "/tmp"};
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			char *p = xasprintf("%s%s", t->maildir, subs[i]);
			if (mkdir(p, 0700) != 0)
				bench_fail("cannot create %s: %s", p, strerror(errno));
			free(p);
		}
	}
	free(state);
	free(uidls);
}

static void tool_run(struct bench_tool *t, bool traced, struct bench_sample *s_r)
{
	char *file_opt = xasprintf("--file=%s", t->config);
	char *port = xasprintf("%u", t->server->imaps_port);
	char *expect = xasprintf("%zu", t->expect_messages);
	const char *twinbox_argv[] = {
	    t->twinbox_bin, traced ? "-vv" : "--quiet", "--config", t->config, "sync", "bench", NULL};
	const char *mbsync_argv[] = {"mbsync", "--quiet", "-c", t->config, "--all", NULL};
	const char *mpop_argv[] = {"mpop", "--quiet", file_opt, "--all-accounts", NULL};
	/* The fixture's throwaway password on a command line is harmless. */
	const char *raw_argv[] = {t->bench_bin,    BENCH_RAW_FETCH_ARG, port,   t->server->ca_file,
	                          t->server->user, t->server->password, expect, NULL};
	const char *const *argv[] = {
	    [TOOL_TWINBOX_IMAP] = twinbox_argv, [TOOL_MBSYNC] = mbsync_argv,
	    [TOOL_TWINBOX_POP3] = twinbox_argv, [TOOL_MPOP] = mpop_argv,
	    [TOOL_RAW_FETCH] = raw_argv,
	};

	if (t->kind > TOOL_RAW_FETCH)
		bench_fail("%s is run by bench_migrate_run()", t->name);
	bench_run(argv[t->kind], t->log, s_r);
	free(file_opt);
	free(port);
	free(expect);
}

void bench_tool_run(struct bench_tool *t, struct bench_sample *s_r)
{
	tool_run(t, false, s_r);
}

void bench_tool_run_traced(struct bench_tool *t, struct bench_sample *s_r)
{
	tool_run(t, true, s_r);
}

/* Files in `dir` (one of cur/ new/); with `flag`, those whose info part
 * (after ":2,") holds that letter go to *flagged_r. */
static void count_files(const char *dir, char flag, size_t *messages_r, size_t *flagged_r)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		const char *info;

		if (e->d_name[0] == '.')
			continue;
		(*messages_r)++;
		info = strstr(e->d_name, ":2,");
		if (flag && info && strchr(info + 3, flag))
			(*flagged_r)++;
	}
	closedir(d);
}

static void count_folder(const char *folder, char flag, size_t *messages_r, size_t *flagged_r)
{
	char *cur = xasprintf("%s/cur", folder), *new = xasprintf("%s/new", folder);

	count_files(cur, flag, messages_r, flagged_r);
	count_files(new, flag, messages_r, flagged_r);
	free(cur);
	free(new);
}

void bench_maildir_count(const char *root, char flag, size_t *messages_r, size_t *flagged_r)
{
	DIR *d = opendir(root);
	struct dirent *e;

	*messages_r = 0;
	*flagged_r = 0;
	if (!d)
		return;
	count_folder(root, flag, messages_r, flagged_r);
	while ((e = readdir(d)) != NULL) {
		char *sub;

		/* Maildir++ folders are ".A.B" directories of the root. */
		if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", root, e->d_name);
		count_folder(sub, flag, messages_r, flagged_r);
		free(sub);
	}
	closedir(d);
}

/* ---- timed child processes ------------------------------------------------
 * ru_maxrss of a child is at least the resident memory of the process
 * that forked it (Linux carries the pre-exec high-water mark over the
 * exec), so the bench, holding server listings, cannot fork the tools
 * itself: a spawner forked at start-up, while the bench is still small,
 * forks them on request over a socket pair and sends back the figures. */

struct spawn_reply {
	int status; /* wait status; -1 when fork failed */
	double seconds;
	long rss_kb;
	double cpu;
};

static int spawner_fd = -1;
static pid_t spawner_pid;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* In the child: stdin from /dev/null, stdout and stderr to the log. */
static void child_io(const char *log_path)
{
	int in = open("/dev/null", O_RDONLY);
	int out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
	close(in);
	close(out);
}

/* In the spawner: run one request (log path, then argv, NUL-separated). */
static void spawn_one(char *req, size_t len, struct spawn_reply *r)
{
	char *argv[64];
	size_t argc = 0;
	const char *log_path = req;
	struct rusage ru;
	double start;
	pid_t pid, got;
	int status = 0;

	for (char *p = req + strlen(req) + 1; p < req + len && argc < 63; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	memset(r, 0, sizeof(*r));
	timed_out = 0;
	/* Every timed run starts with nothing left to write back: the
	 * servers (mail_fsync = never), the seeding and the other tool's
	 * run leave dirty pages on this one file system, and a tool that
	 * makes its files durable with syncfs() (twinbox) would otherwise
	 * pay for writing them, one that fsyncs each file (mbsync) not. With
	 * a real server they are on another machine. */
	sync();
	start = bench_now();
	pid = fork();
	if (pid < 0) {
		r->status = -1;
		return;
	}
	if (pid == 0) {
		close(spawner_fd);
		child_io(log_path);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	alarm(BENCH_RUN_TIMEOUT_S);
	while ((got = wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR)
		if (timed_out)
			kill(pid, SIGKILL);
	alarm(0);
	r->seconds = bench_now() - start;
	r->status = got == pid ? status : -1;
	r->rss_kb = got == pid ? ru.ru_maxrss : 0;
	r->cpu = got == pid ? (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	                          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6
	                    : 0;
}

static void spawner_loop(void)
{
	/* Without SA_RESTART, the alarm interrupts wait4. */
	struct sigaction sa = {.sa_handler = on_alarm};
	static char req[65536];
	ssize_t n;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	while ((n = recv(spawner_fd, req, sizeof(req) - 1, 0)) > 0) {
		struct spawn_reply r;

		req[n] = '\0';
		spawn_one(req, (size_t)n, &r);
		if (send(spawner_fd, &r, sizeof(r), 0) != (ssize_t)sizeof(r))
			break;
	}
	_exit(0);
}

void bench_spawner_start(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		bench_fail("cannot create a socket pair: %s", strerror(errno));
	fflush(NULL);
	spawner_pid = fork();
	if (spawner_pid < 0)
		bench_fail("cannot fork: %s", strerror(errno));
	if (spawner_pid == 0) {
		close(sv[0]);
		spawner_fd = sv[1];
		spawner_loop();
	}
	close(sv[1]);
	spawner_fd = sv[0];
}

void bench_spawner_stop(void)
{
	if (spawner_fd < 0)
		return;
	close(spawner_fd);
	spawner_fd = -1;
	waitpid(spawner_pid, NULL, 0);
}

void bench_run(const char *const *argv, const char *log_path, struct bench_sample *s_r)
{
	struct buf req = BUF_INIT;
	struct spawn_reply r;
	int status;

	buf_append(&req, log_path, strlen(log_path) + 1);
	for (size_t i = 0; argv[i]; i++)
		buf_append(&req, argv[i], strlen(argv[i]) + 1);
	if (send(spawner_fd, req.data, req.len, 0) != (ssize_t)req.len ||
	    recv(spawner_fd, &r, sizeof(r), 0) != (ssize_t)sizeof(r))
		bench_fail("the spawner process is gone");
	buf_free(&req);
	if (r.status < 0)
		bench_fail("cannot run %s", argv[0]);
	status = r.status;
	s_r->seconds = r.seconds;
	s_r->rss_kb = r.rss_kb;
	s_r->cpu = r.cpu;
	s_r->ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (s_r->ok)
		return;
	if (WIFEXITED(status))
		fprintf(stderr, "  %s: exit status %d\n", argv[0], WEXITSTATUS(status));
	else
		fprintf(stderr, "  %s: killed by signal %d%s\n", argv[0], WTERMSIG(status),
		        WTERMSIG(status) == SIGKILL ? " (timeout?)" : "");
	bench_print_tail(log_path, 2000);
}

void bench_print_tail(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	char line[512];
	long size;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	if (size > (long)max)
		fseek(f, size - (long)max, SEEK_SET);
	else
		rewind(f);
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "    | %s", line);
	fclose(f);
}

/* ---- the raw-fetch bound ------------------------------------------------
 * What the wire alone costs: twinbox's own IMAP session logs in over
 * implicit TLS and, per folder, EXAMINEs it and sends one
 * `UID FETCH 1:* BODY.PEEK[]`, dropping every body as it streams in. No
 * Maildir, no state: a sync over one connection cannot be faster. */

struct raw_count {
	size_t bodies;
	unsigned long long bytes;
};

static int on_fetch(struct imap_cmd *cmd, const struct imap_event *ev, struct error *err)
{
	struct raw_count *n = cmd->ctx;

	(void)err;
	if (ev->type == IMAP_EV_BODY_CHUNK)
		n->bytes += ev->chunk_len;
	else if (ev->type == IMAP_EV_BODY_END)
		n->bodies++;
	return 0;
}

static int fetch_folder(struct imap_session *s, const char *name, struct raw_count *n, struct error *err)
{
	static const struct imap_cmd_ops ops = {.fetch = on_fetch};
	struct imap_cmd cmd;
	int rc;

	if (imap_select(s, name, true, NULL, err) < 0)
		return -1;
	if (imap_selected(s)->exists == 0)
		return 0;
	imap_cmd_init(&cmd, "UID FETCH");
	imap_cmd_add(&cmd, " 1:* BODY.PEEK[]");
	cmd.ops = &ops;
	cmd.ctx = n;
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

int bench_raw_fetch_main(int argc, char **argv)
{
	struct imap_session_options o = {
	    .conn.host = "localhost",
	    .conn.tls = TLS_IMPLICIT,
	    .conn.timeouts = {.connect_ms = 10000, .io_ms = 60000},
	};
	size_t expect;
	struct raw_count n = {0, 0};
	struct imap_folder *folders = NULL;
	size_t count = 0;
	struct error err;
	struct imap_session *s;
	int rc = 0;

	if (argc != 7) {
		fprintf(stderr, "usage: %s %s PORT CA_FILE USER PASSWORD EXPECTED\n", argv[0],
		        BENCH_RAW_FETCH_ARG);
		return 2;
	}
	o.conn.port = (unsigned)strtoul(argv[2], NULL, 10);
	o.conn.ca_file = argv[3];
	o.user = argv[4];
	o.password = argv[5];
	expect = (size_t)strtoull(argv[6], NULL, 10);
	s = imap_connect(&o, &err);
	if (!s || imap_list(s, "*", 0, &folders, &count, &err) < 0) {
		fprintf(stderr, "raw fetch: %s\n", err.text);
		imap_session_free(s);
		return 2;
	}
	for (size_t i = 0; i < count && rc == 0; i++) {
		if ((folders[i].attrs & IMAP_FOLDER_NOSELECT) || !folders[i].name)
			continue;
		rc = fetch_folder(s, folders[i].name, &n, &err);
	}
	imap_folders_free(folders, count);
	if (rc < 0) {
		fprintf(stderr, "raw fetch: %s\n", err.text);
		imap_session_free(s);
		return 2;
	}
	imap_session_close(s);
	printf("raw fetch: %zu bodies, %llu bytes\n", n.bodies, n.bytes);
	if (n.bodies != expect) {
		fprintf(stderr, "raw fetch: %zu bodies, the server holds %zu messages\n", n.bodies, expect);
		return 3;
	}
	return 0;
}

void bench_tool_version(struct buf *b, const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char line[200] = "";

	if (p) {
		if (!fgets(line, sizeof(line), p))
			line[0] = '\0';
		pclose(p);
	}
	line[strcspn(line, "\n")] = '\0';
	buf_printf(b, "%s%s", line[0] ? line : "?", "");
}

unsigned bench_env_number(const char *name, unsigned def, unsigned min, unsigned max)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	n = strtoul(v, &end, 10);
	if (*end || n < min || n > max)
		bench_fail("%s=%s: expected a number from %u to %u", name, v, min, max);
	return (unsigned)n;
}
