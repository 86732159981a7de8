/*
 * make bench-watch (issue 16): what `twinbox watch` costs while it waits
 * and how fast it carries a change, against what users run today: mbsync
 * on a 60 s timer and OfflineIMAP in its IDLE mode. Each tool syncs a
 * Dovecot of its own, started by the bench in its scratch directory and
 * seeded alike: 20 folders (make bench-scale's names) of
 * WATCH_PER_FOLDER small plain-text messages. Everything is on loopback.
 *
 * The parts (scenario keys; make bench-watch runs them all, make bench
 * none, as they take over an hour at the sizes):
 *   watch-delivery     BENCH_WATCH_N APPENDs to INBOX from the bench's own
 *                      connection, spaced by a random 0.2-2 s (seeded:
 *                      BENCH_WATCH_SEED, printed), each timed from its
 *                      tagged OK to the moment a file with its Message-ID
 *                      shows in the Maildir's INBOX (inotify on new/ and
 *                      cur/); one watcher, started and settled first;
 *   watch-local        BENCH_WATCH_N local changes to INBOX, the same
 *                      spacing, in turn a new file in new/, a \Flagged
 *                      rename, a deletion, each timed from the syscall to
 *                      the moment the server shows it (the bench's own
 *                      connection polling, bench_watch_probe.c); the same
 *                      watcher;
 *   watch-idle         a fresh watcher, settled, then left alone for
 *                      BENCH_WATCH_IDLE_S: its CPU time (/proc/PID/stat),
 *                      its context switches (every thread's), its peak RSS;
 *   watch-soak         a fresh watcher for BENCH_WATCH_SOAK_S with a change
 *                      every 1-5 s (server deliveries, flag changes and
 *                      deletions in INBOX; local new files in INBOX and two
 *                      other folders, flag changes and deletions in those
 *                      two): VmRSS after the first minute and at the end,
 *                      then the Maildir and the server must be twins;
 *   watch-mbsync       mbsync run every 60 s by the bench, BENCH_WATCH_PEER_N
 *                      rounds of one delivery and one local change made at
 *                      the same moment, each round awaited before the next;
 *   watch-offlineimap  OfflineIMAP (autorefresh 1 min, quick 10, IDLE on
 *                      INBOX), BENCH_WATCH_PEER_N delivery rounds, then as
 *                      many local-change rounds (apart: its IDLE sync of
 *                      INBOX would carry a local change along).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_watch.h"
#include "support/dovecot_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

#define WATCH_PER_FOLDER   100 /* messages seeded into each of the 20 folders */
#define WATCH_TIMER_S      60  /* mbsync's timer; OfflineIMAP's autorefresh */
#define WATCH_SETTLE_S     5   /* after a watcher says READY=1, before measuring */
#define WATCH_READY_S      300 /* the longest a first sync may take */
#define WATCH_LATE_S       30  /* twinbox: a change not seen by then is lost */
#define WATCH_PEER_LATE_S  (3 * WATCH_TIMER_S)
#define WATCH_TWINS_WAIT_S 60 /* after the soak's last change */
#define WATCH_STOP_S       30 /* SIGTERM to exit */

enum tool { T_TWINBOX, T_MBSYNC, T_OFFLINEIMAP, T_COUNT };
static const char *const tool_names[T_COUNT] = {"twinbox", "mbsync", "offlineimap"};

/* What each tool syncs: its server, its files, INBOX's directory. */
static struct side {
	struct dovecot *d;
	struct bench_tool t;
	char *inbox;
	size_t seeded;
} sides[T_COUNT];

static const char *bench_dir, *twinbox_bin;
static unsigned n_probes, idle_s, soak_s, peer_n;
static unsigned long long seed;
static bool knobs_read;
static struct watch_rng rng;

/* A long-running child: a watcher, OfflineIMAP. */
struct proc {
	pid_t pid;
	char *log;
	int notify_fd; /* the watcher's $NOTIFY_SOCKET, bound by the bench */
	char *notify_path;
};
static struct proc watcher, offlineimap;
static bool watcher_settled; /* the latency parts' watcher is up */

/* mbsync's timer (a thread of the bench). */
static pthread_t timer_thread;
static volatile bool timer_stop;
static bool timer_running;
static struct {
	unsigned runs, failed;
	double cpu;
	long rss_kb;
} mbsync_runs;

/* ---- results ------------------------------------------------------------ */

static struct latency lat[T_COUNT][2]; /* [tool][0: delivery, 1: local change] */
static struct latency lat_kind[3];     /* twinbox's local changes: new file, flag, deletion */
static struct latency lat_one[2];      /* twinbox's changes one at a time, as the peers' */
static struct {
	bool run, ok;
	double window, cpu, wakeups_per_min;
	long hwm_kb, rss_kb;
	unsigned threads;
} idle_r;
static struct {
	bool run, ok, twins;
	double window, first_at, cpu;
	long rss_first_kb, rss_end_kb, hwm_kb;
	size_t changes;
	char why[512];
} soak_r;
static long latency_hwm_kb; /* the latency parts' watcher's VmHWM */
static bool latency_watcher_ok = true;
static struct {
	double window, cpu;
	long hwm_kb;
} oi_r;

/* ---- /proc ---------------------------------------------------------------- */

struct proc_figures {
	double cpu;                  /* utime + stime, s */
	unsigned long long switches; /* voluntary + nonvoluntary, every thread */
	long rss_kb, hwm_kb;
	unsigned threads;
};

static unsigned long long status_field(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t len = strlen(name);
	unsigned long long v = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			v = strtoull(line + len + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static bool proc_read(pid_t pid, struct proc_figures *f)
{
	char path[64], buf[1024];
	FILE *st;
	size_t n;
	char *p;
	unsigned long long utime = 0, stime = 0;
	DIR *tasks;
	struct dirent *e;

	memset(f, 0, sizeof(*f));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(st = fopen(path, "r")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, st);
	fclose(st);
	buf[n] = '\0';
	/* After the name in parentheses: state (3) ... utime (14), stime (15). */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return false;
	f->cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f->rss_kb = (long)status_field(path, "VmRSS");
	f->hwm_kb = (long)status_field(path, "VmHWM");
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	tasks = opendir(path);
	while (tasks && (e = readdir(tasks)) != NULL) {
		char tpath[320];

		if (e->d_name[0] == '.')
			continue;
		snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/status", (int)pid, e->d_name);
		f->switches += status_field(tpath, "voluntary_ctxt_switches") +
		               status_field(tpath, "nonvoluntary_ctxt_switches");
		f->threads++;
	}
	if (tasks)
		closedir(tasks);
	return true;
}

/* ---- child processes ------------------------------------------------------ */

/* Start `argv` with stdin from /dev/null and stdout and stderr to `log`;
 * with `notify`, $NOTIFY_SOCKET set to a datagram socket of the bench's
 * (as systemd does for a Type=notify service). */
static void proc_start(struct proc *pr, const char *const *argv, const char *log, bool notify)
{
	posix_spawn_file_actions_t fa;
	size_t n_env = 0;
	char **env;
	int rc;

	memset(pr, 0, sizeof(*pr));
	pr->notify_fd = -1;
	pr->log = xstrdup(log);
	while (environ[n_env])
		n_env++;
	env = xcalloc(n_env + 2, sizeof(*env));
	memcpy(env, environ, n_env * sizeof(*env));
	if (notify) {
		static unsigned k;
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		pr->notify_path = xasprintf("%s/notify-%u", bench_dir, k++);
		if (strlen(pr->notify_path) >= sizeof(sa.sun_path))
			bench_fail("%s: too long for a socket", pr->notify_path);
		strcpy(sa.sun_path, pr->notify_path);
		pr->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (pr->notify_fd < 0 || bind(pr->notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			bench_fail("cannot bind %s: %s", pr->notify_path, strerror(errno));
		env[n_env] = xasprintf("NOTIFY_SOCKET=%s", pr->notify_path);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pr->pid, argv[0], &fa, NULL, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		bench_fail("cannot run %s: %s", argv[0], strerror(rc));
	if (notify)
		free(env[n_env]);
	free(env);
}

static bool proc_alive(struct proc *pr)
{
	int status;

	if (!pr->pid)
		return false;
	if (waitpid(pr->pid, &status, WNOHANG) == pr->pid) {
		fprintf(stderr, "  %s ended by itself (%s %d)\n", pr->log,
		        WIFEXITED(status) ? "exit status" : "signal",
		        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		bench_print_tail(pr->log, 2000);
		pr->pid = 0;
		return false;
	}
	return true;
}

/* Wait for READY=1 on the notify socket; false if the child ended or
 * took longer than WATCH_READY_S. */
static bool proc_ready(struct proc *pr)
{
	double deadline = bench_now() + WATCH_READY_S;

	while (bench_now() < deadline && proc_alive(pr)) {
		struct pollfd pfd = {pr->notify_fd, POLLIN, 0};
		char msg[512];
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		n = recv(pr->notify_fd, msg, sizeof(msg) - 1, 0);
		if (n > 0) {
			msg[n] = '\0';
			if (strstr(msg, "READY=1"))
				return true;
		}
	}
	fprintf(stderr, "  no READY=1 from the watcher in %d s\n", WATCH_READY_S);
	return false;
}

/* Stop with `sig`, SIGKILL after WATCH_STOP_S; true when it exited 0. */
static bool proc_stop(struct proc *pr, int sig)
{
	double deadline = bench_now() + WATCH_STOP_S;
	int status = 0;
	bool ok = false;

	if (pr->pid && kill(pr->pid, sig) == 0) {
		pid_t got;

		while ((got = waitpid(pr->pid, &status, WNOHANG)) == 0 && bench_now() < deadline)
			nanosleep(&(struct timespec){0, 20000000}, NULL);
		if (got == 0) {
			fprintf(stderr, "  %s: still running %d s after signal %d: killed\n", pr->log,
			        WATCH_STOP_S, sig);
			kill(pr->pid, SIGKILL);
			waitpid(pr->pid, &status, 0);
		} else {
			ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
			if (!ok && sig == SIGTERM)
				fprintf(stderr, "  %s: did not exit 0 on SIGTERM (%s %d)\n", pr->log,
				        WIFEXITED(status) ? "exit status" : "signal",
				        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
	}
	pr->pid = 0;
	if (pr->notify_fd >= 0) {
		close(pr->notify_fd);
		unlink(pr->notify_path);
	}
	free(pr->notify_path);
	free(pr->log);
	memset(pr, 0, sizeof(*pr));
	pr->notify_fd = -1;
	return ok;
}

/* ---- the sides ------------------------------------------------------------ */

static void knobs(void)
{
	const char *s = getenv("BENCH_WATCH_SEED");

	if (knobs_read)
		return;
	knobs_read = true;
	n_probes = bench_env_number("BENCH_WATCH_N", 200, 3, 100000);
	idle_s = bench_env_number("BENCH_WATCH_IDLE_S", 600, 10, 86400);
	soak_s = bench_env_number("BENCH_WATCH_SOAK_S", 3600, 30, 7 * 86400);
	peer_n = bench_env_number("BENCH_WATCH_PEER_N", 20, 1, 1000);
	seed = s && *s ? strtoull(s, NULL, 10) : (unsigned long long)time(NULL) % 1000000;
	watch_rng_seed(&rng, seed);
	printf("  watch: seed %llu (BENCH_WATCH_SEED=%llu replays the spacings and choices)\n", seed, seed);
}

static void write_file(const char *path, const char *text)
{
	struct error err;

	if (fs_write_atomic(path, text, strlen(text), 0600, &err) < 0)
		bench_fail("%s", err.text);
}

/* OfflineIMAP as its documentation describes its IDLE mode: autorefresh
 * (minutes) with quick syncs in between, IDLE on INBOX (which holds the
 * connection open). */
static void offlineimap_init(struct side *sd)
{
	struct bench_tool *t = &sd->t;
	char *text;

	t->kind = TOOL_MBSYNC; /* not run through bench_tool_run */
	t->name = tool_names[T_OFFLINEIMAP];
	t->dir = xasprintf("%s/watch-offlineimap", bench_dir);
	t->maildir = xasprintf("%s/Mail", t->dir);
	t->config = xasprintf("%s/offlineimaprc", t->dir);
	t->log = xasprintf("%s/run.log", t->dir);
	t->server = sd->d;
	if (mkdir(t->dir, 0700) != 0 || mkdir(t->maildir, 0700) != 0)
		bench_fail("cannot create %s: %s", t->maildir, strerror(errno));
	text = xasprintf("[general]\naccounts = bench\nmetadata = %s/metadata\n\n"
	                 "[Account bench]\nlocalrepository = bench-local\nremoterepository = bench-remote\n"
	                 "autorefresh = %g\nquick = 10\n\n"
	                 "[Repository bench-local]\ntype = Maildir\nlocalfolders = %s\n\n"
	                 "[Repository bench-remote]\ntype = IMAP\nremotehost = localhost\nremoteport = %u\n"
	                 "ssl = yes\nsslcacertfile = %s\nremoteuser = %s\nremotepass = %s\n"
	                 "idlefolders = ['INBOX']\n",
	                 t->dir, WATCH_TIMER_S / 60.0, t->maildir, sd->d->imaps_port, sd->d->ca_file,
	                 sd->d->user, sd->d->password);
	write_file(t->config, text);
	free(text);
}

static struct side *side_begin(enum tool k)
{
	struct side *sd = &sides[k];
	const char *const *names;
	size_t n = bench_scale_folders(&names);
	char *dir;

	if (sd->d)
		return sd;
	printf("  %s's Dovecot: %zu folders of %d messages\n", tool_names[k], n, WATCH_PER_FOLDER);
	sd->d = dovecot_start();
	bench_seed_scale_folders(sd->d, WATCH_PER_FOLDER);
	sd->seeded = n * WATCH_PER_FOLDER;
	if (k == T_OFFLINEIMAP) {
		offlineimap_init(sd);
		sd->inbox = watch_folder_dir(sd->t.maildir, "INBOX", true);
		return sd;
	}
	dir = xasprintf("%s/watch-%s", bench_dir, tool_names[k]);
	if (mkdir(dir, 0700) != 0)
		bench_fail("cannot create %s: %s", dir, strerror(errno));
	bench_tool_init(&sd->t, k == T_TWINBOX ? TOOL_TWINBOX_IMAP : TOOL_MBSYNC, dir, sd->d, twinbox_bin,
	                NULL);
	sd->inbox = watch_folder_dir(sd->t.maildir, "INBOX", false);
	free(dir);
	return sd;
}

/* Files in every cur/ and new/ under `root`. */
static size_t count_tree(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *e;
	size_t n = 0;
	bool leaf = strlen(root) > 4 && (strcmp(root + strlen(root) - 4, "/cur") == 0 ||
	                                 strcmp(root + strlen(root) - 4, "/new") == 0);

	while (d && (e = readdir(d)) != NULL) {
		char *sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (leaf) {
			n += e->d_name[0] != '.';
			continue;
		}
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		sub = xasprintf("%s/%s", root, e->d_name);
		n += count_tree(sub);
		free(sub);
	}
	if (d)
		closedir(d);
	return n;
}

/* ---- the twinbox watcher -------------------------------------------------- */

static bool watcher_start(void)
{
	struct side *sd = side_begin(T_TWINBOX);
	const char *argv[] = {twinbox_bin, "--config", sd->t.config, "watch", "bench", NULL};
	char *log = xasprintf("%s/watch-%d.log", sd->t.dir, (int)(bench_now() * 10) % 100000);
	bool ok;

	proc_start(&watcher, argv, log, true);
	free(log);
	ok = proc_ready(&watcher);
	/* The IDLE thread connects after READY, and syncs INBOX then. */
	if (ok)
		nanosleep(&(struct timespec){WATCH_SETTLE_S, 0}, NULL);
	return ok && proc_alive(&watcher);
}

/* ---- latencies ------------------------------------------------------------ */

/* One change of `kind` on `sd`'s side (delivery: over `s`), a probe of
 * `p`; false when none could be made (no message to change). */
static bool make_change(struct side *sd, enum probe_kind kind, struct probes *p, struct imap_session *s)
{
	struct probe pr = {.kind = kind};
	char *path = NULL;
	size_t k;
	bool made = true;

	if (kind == PROBE_DELIVERY || kind == PROBE_LOCAL_NEW) {
		/* Numbered across the parts: a Message-ID is never made twice. */
		static unsigned serial;
		snprintf(pr.msgid, sizeof(pr.msgid), "watch.%s.%s%u.%llu@bench.test", sd->t.name,
		         kind == PROBE_DELIVERY ? "d" : "l", serial++, seed);
		k = probes_add(p, &pr);
		if (kind == PROBE_DELIVERY)
			watch_deliver(s, pr.msgid);
		else
			watch_local_new(sd->inbox, pr.msgid);
		probes_sent(p, k);
		return true;
	}
	if (!watch_local_pick(sd->inbox, &rng, p, true, &path, pr.msgid))
		return false;
	pr.uid = probes_uid_of(p, pr.msgid);
	if (kind == PROBE_LOCAL_FLAG) {
		const char *info = strstr(strrchr(path, '/'), ":2,");
		bool now;

		pr.flagged = !(info && strchr(info, 'F'));
		k = probes_add(p, &pr);
		made = watch_toggle_flagged(path, &now);
	} else {
		k = probes_add(p, &pr);
		made = unlink(path) == 0;
		if (!made && errno != ENOENT)
			bench_fail("cannot remove %s: %s", path, strerror(errno));
	}
	if (made)
		probes_sent(p, k);
	else
		probes_cancel(p, k);
	free(path);
	return made;
}

/* `n` rounds on `sd`'s side, each a delivery and/or a local change (in
 * turn a new file, a flag, a deletion), spaced by a random 0.2-`max_gap`
 * s (a timer's whole period for a tool on a timer: a round awaited ends
 * right after a run, and the next must not always wait a whole period);
 * `overlap`: each spacing from the last round's changes (changes in
 * flight overlap, as mail comes), else from the moment the last round's
 * changes were seen (or `late` s went by). At the end, what was not
 * seen within `late` s is lost. Figures into ld (deliveries), ll (local
 * changes), per_kind (the local changes by kind; NULL: not wanted). */
static void rounds(struct side *sd, bool deliver, bool local, unsigned n, bool overlap, double max_gap,
                   double late, struct latency *ld, struct latency *ll, struct latency *per_kind)
{
	struct probes p;
	struct maildir_observer *mo = NULL;
	struct server_observer *so = NULL;
	struct imap_session *s = deliver ? watch_session(sd->d, NULL, false) : NULL;
	double next = bench_now();
	unsigned skipped = 0;

	probes_init(&p);
	if (deliver)
		mo = maildir_observer_start(sd->inbox, &p);
	if (local)
		so = server_observer_start(sd->d, &p);
	for (unsigned i = 0; i < n; i++) {
		size_t from = p.n;

		next += watch_rng_uniform(&rng, 0.2, max_gap);
		watch_sleep_until(next);
		if (deliver)
			make_change(sd, PROBE_DELIVERY, &p, s);
		if (local && !make_change(sd, (enum probe_kind)(PROBE_LOCAL_NEW + i % 3), &p, s))
			skipped++;
		if (!overlap) {
			if (probes_wait(&p, from, bench_now() + late) > 0)
				fprintf(stderr, "  %s: round %u not seen in %.0f s\n", sd->t.name, i + 1,
				        late);
			next = bench_now();
		}
		if ((i + 1) % 20 == 0 || i + 1 == n) {
			printf("    %u/%u\n", i + 1, n);
		}
	}
	probes_wait(&p, 0, bench_now() + late);
	if (skipped)
		fprintf(stderr, "  %s: %u local changes found no message to change\n", sd->t.name, skipped);
	maildir_observer_stop(mo);
	server_observer_stop(so);
	if (s) {
		imap_session_close(s);
	}
	if (deliver)
		probes_latency(&p, 0, p.n, PROBE_BIT(PROBE_DELIVERY), ld);
	if (local)
		probes_latency(&p, 0, p.n, PROBES_LOCAL, ll);
	for (int k = 0; per_kind && k < 3; k++)
		probes_latency(&p, 0, p.n, PROBE_BIT(PROBE_LOCAL_NEW + k), &per_kind[k]);
	probes_free(&p);
}

static void say_latency(const char *what, const struct latency *l)
{
	printf("  %s: median %.3f s, p90 %.3f s, p99 %.3f s, max %.3f s (%zu seen, %zu lost)\n", what,
	       l->median, l->p90, l->p99, l->max, l->n, l->lost);
}

static bool run_twinbox_latency(bool local)
{
	if (!watcher_settled) {
		if (!watcher_start()) {
			latency_watcher_ok = false;
			return false;
		}
		watcher_settled = true;
	}
	if (local)
		rounds(&sides[T_TWINBOX], false, true, n_probes, true, 2.0, WATCH_LATE_S, NULL,
		       &lat[T_TWINBOX][1], lat_kind);
	else
		rounds(&sides[T_TWINBOX], true, false, n_probes, true, 2.0, WATCH_LATE_S, &lat[T_TWINBOX][0],
		       NULL, NULL);
	say_latency(local ? "local change -> server" : "delivery -> Maildir", &lat[T_TWINBOX][local]);
	/* Then as the peers are measured: each change awaited before the
	 * next, so no debouncing of one by another. */
	printf("  then %u one at a time, as the peers'\n", peer_n);
	rounds(&sides[T_TWINBOX], !local, local, peer_n, false, 2.0, WATCH_LATE_S, &lat_one[0], &lat_one[1],
	       NULL);
	say_latency("one at a time", &lat_one[local]);
	return proc_alive(&watcher) && lat[T_TWINBOX][local].lost == 0 && lat_one[local].lost == 0;
}

/* The latency parts' watcher, once they are over. */
static void latency_watcher_end(void)
{
	struct proc_figures f;

	if (!watcher_settled)
		return;
	watcher_settled = false;
	if (proc_read(watcher.pid, &f))
		latency_hwm_kb = f.hwm_kb;
	latency_watcher_ok &= proc_stop(&watcher, SIGTERM);
}

/* ---- idle and soak -------------------------------------------------------- */

static bool run_idle(void)
{
	struct proc_figures a, b;

	latency_watcher_end();
	idle_r.run = true;
	if (!watcher_start() || !proc_read(watcher.pid, &a)) {
		proc_stop(&watcher, SIGKILL);
		return false;
	}
	printf("  idle for %u s\n", idle_s);
	nanosleep(&(struct timespec){idle_s, 0}, NULL);
	if (!proc_alive(&watcher) || !proc_read(watcher.pid, &b))
		return false;
	idle_r.window = idle_s;
	idle_r.cpu = b.cpu - a.cpu;
	idle_r.wakeups_per_min = (double)(b.switches - a.switches) * 60.0 / idle_s;
	idle_r.hwm_kb = b.hwm_kb;
	idle_r.rss_kb = b.rss_kb;
	idle_r.threads = b.threads;
	printf("  CPU %.2f s, %.1f context switches a minute over %u threads, VmHWM %.1f MB\n", idle_r.cpu,
	       idle_r.wakeups_per_min, idle_r.threads, idle_r.hwm_kb / 1024.0);
	idle_r.ok = proc_stop(&watcher, SIGTERM);
	return idle_r.ok;
}

/* The soak's folders with local changes (besides INBOX's new files). */
static const char *const soak_local[] = {"Archive", "Lists/l03"};

/* A server change to INBOX over `s` (INBOX selected): a delivery, a
 * \Flagged toggle or a deletion; *delta_r the change in its count. */
static bool soak_server(struct imap_session *s, int what, unsigned i, int *delta_r)
{
	struct imap_msg_info *msgs = NULL;
	struct imap_uidset set = IMAP_UIDSET_INIT;
	size_t count = 0;
	struct error err;
	int rc = 0;

	*delta_r = 0;
	if (what == 0) {
		char msgid[PROBE_MSGID_MAX];

		snprintf(msgid, sizeof(msgid), "soak.s%u.%llu@bench.test", i, seed);
		watch_deliver(s, msgid);
		*delta_r = 1;
		return true;
	}
	if (imap_fetch_info(s, 1, 0, 0, 0, &msgs, &count, &err) < 0)
		bench_fail("the soak: %s", err.text);
	if (count > 0) {
		const struct imap_msg_info *m = &msgs[watch_rng_below(&rng, count)];

		imap_uidset_add(&set, m->uid);
		if (what == 1)
			rc = imap_store(s, &set,
			                (m->flags & MAIL_FLAG_FLAGGED) ? IMAP_STORE_REMOVE : IMAP_STORE_ADD,
			                "\\Flagged", 0, NULL, &err);
		else
			rc = imap_store(s, &set, IMAP_STORE_ADD, "\\Deleted", 0, NULL, &err) < 0
			         ? -1
			         : imap_expunge_uids(s, &set, &err);
		if (rc < 0)
			bench_fail("the soak: %s", err.text);
		*delta_r = what == 2 ? -1 : 0;
	}
	imap_uidset_free(&set);
	imap_msg_info_free(msgs, count);
	return count > 0;
}

/* A local change: a new file (into INBOX or one of soak_local), a
 * \Flagged toggle or a deletion (in one of soak_local); the folder's
 * index among the 20 in *folder_r, the change in its count in *delta_r. */
static bool soak_local_change(struct side *sd, const char *const *names, size_t n_names, int what, unsigned i,
                              size_t *folder_r, int *delta_r)
{
	const char *name = what == 0 && i % 3 == 0 ? "INBOX" : soak_local[(i / 3) % 2];
	char *dir = watch_folder_dir(sd->t.maildir, name, false), *path = NULL;
	char msgid[PROBE_MSGID_MAX];
	bool made = true, now;

	*folder_r = 0;
	while (*folder_r < n_names && strcmp(names[*folder_r], name) != 0)
		(*folder_r)++;
	*delta_r = 0;
	if (what == 0) {
		snprintf(msgid, sizeof(msgid), "soak.l%u.%llu@bench.test", i, seed);
		watch_local_new(dir, msgid);
		*delta_r = 1;
	} else if (!watch_local_pick(dir, &rng, NULL, false, &path, msgid)) {
		made = false;
	} else if (what == 1) {
		made = watch_toggle_flagged(path, &now);
	} else {
		made = unlink(path) == 0;
		*delta_r = made ? -1 : 0;
	}
	free(path);
	free(dir);
	return made;
}

/* How many messages each folder holds on the server now. */
static void server_counts(struct dovecot *d, const char *const *names, size_t n, size_t *counts)
{
	struct imap_session *s = watch_session(d, NULL, false);

	for (size_t i = 0; i < n; i++) {
		struct error err;

		if (imap_select(s, names[i], true, NULL, &err) < 0)
			bench_fail("the soak: %s", err.text);
		counts[i] = imap_selected(s)->exists;
	}
	imap_session_close(s);
}

static bool run_soak(void)
{
	struct side *sd = side_begin(T_TWINBOX);
	const char *const *names;
	size_t n_names = bench_scale_folders(&names);
	size_t *expect = xcalloc(n_names, sizeof(*expect));
	struct proc_figures a, f;
	struct imap_session *s;
	double start, end, next;
	bool first_taken = false;
	unsigned made[6] = {0};

	latency_watcher_end();
	soak_r.run = true;
	if (!watcher_start() || !proc_read(watcher.pid, &a)) {
		proc_stop(&watcher, SIGKILL);
		free(expect);
		return false;
	}
	server_counts(sd->d, names, n_names, expect);
	s = watch_session(sd->d, "INBOX", false);
	start = next = bench_now();
	end = start + soak_s;
	soak_r.first_at = soak_s >= 120 ? 60 : soak_s / 2.0;
	printf("  soak for %u s, a change every 1-5 s\n", soak_s);
	for (unsigned i = 0;; i++) {
		int what = (int)(i % 6), delta = 0;
		size_t folder = 0;
		bool ok;

		next += watch_rng_uniform(&rng, 1.0, 5.0);
		if (!first_taken && next >= start + soak_r.first_at) {
			watch_sleep_until(start + soak_r.first_at);
			if (!proc_read(watcher.pid, &f))
				break;
			soak_r.rss_first_kb = f.rss_kb;
			first_taken = true;
		}
		if (next >= end)
			break;
		watch_sleep_until(next);
		if (!proc_alive(&watcher))
			break;
		/* In turn: server delivery, local new file, server flag,
		 * local flag, server deletion, local deletion. */
		if (what % 2 == 0)
			ok = soak_server(s, what / 2, i, &delta);
		else
			ok = soak_local_change(sd, names, n_names, what / 2, i / 6, &folder, &delta);
		if (ok) {
			made[what]++;
			soak_r.changes++;
			expect[folder] += (size_t)delta;
		}
		if (i % 100 == 99)
			printf("    %.0f s, %zu changes\n", bench_now() - start, soak_r.changes);
	}
	watch_sleep_until(end);
	imap_session_close(s);
	if (!proc_alive(&watcher) || !proc_read(watcher.pid, &f)) {
		snprintf(soak_r.why, sizeof(soak_r.why), "the watcher ended during the soak");
		free(expect);
		return false;
	}
	soak_r.window = bench_now() - start;
	soak_r.rss_end_kb = f.rss_kb;
	soak_r.hwm_kb = f.hwm_kb;
	soak_r.cpu = f.cpu - a.cpu;
	printf("  %zu changes (%u deliveries, %u local new, %u server flags, %u local flags, %u server "
	       "deletions, %u local deletions); VmRSS %.2f MB after %.0f s, %.2f MB at the end\n",
	       soak_r.changes, made[0], made[1], made[2], made[3], made[4], made[5],
	       soak_r.rss_first_kb / 1024.0, soak_r.first_at, soak_r.rss_end_kb / 1024.0);
	/* Twins once the last change has gone through. */
	for (double deadline = bench_now() + WATCH_TWINS_WAIT_S;;) {
		nanosleep(&(struct timespec){2, 0}, NULL);
		soak_r.twins =
		    watch_twins(sd->d, sd->t.maildir, names, n_names, expect, soak_r.why, sizeof(soak_r.why));
		if (soak_r.twins || bench_now() > deadline)
			break;
	}
	printf("  Maildir and server %s%s\n",
	       soak_r.twins ? "are twins" : "differ: ", soak_r.twins ? "" : soak_r.why);
	soak_r.ok = proc_stop(&watcher, SIGTERM) && soak_r.twins;
	free(expect);
	return soak_r.ok;
}

/* ---- the peers ------------------------------------------------------------ */

/* mbsync every WATCH_TIMER_S from the timer's start, as a systemd timer
 * with OnUnitActiveSec=60 runs it (a run longer than that delays the
 * next). */
static void *timer_main(void *arg)
{
	struct side *sd = arg;
	const char *argv[] = {"mbsync", "--quiet", "-c", sd->t.config, "--all", NULL};
	double start = bench_now();

	for (unsigned k = 0; !timer_stop; k++) {
		posix_spawn_file_actions_t fa;
		struct rusage ru;
		pid_t pid;
		int status;

		while (!timer_stop && bench_now() < start + (double)k * WATCH_TIMER_S)
			nanosleep(&(struct timespec){0, 50000000}, NULL);
		if (timer_stop)
			break;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, sd->t.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
		if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0)
			bench_fail("cannot run mbsync");
		posix_spawn_file_actions_destroy(&fa);
		if (wait4(pid, &status, 0, &ru) != pid)
			bench_fail("cannot wait for mbsync: %s", strerror(errno));
		mbsync_runs.runs++;
		mbsync_runs.failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		mbsync_runs.cpu += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
		if (ru.ru_maxrss > mbsync_runs.rss_kb)
			mbsync_runs.rss_kb = ru.ru_maxrss;
	}
	return NULL;
}

static bool run_mbsync(void)
{
	struct side *sd = side_begin(T_MBSYNC);
	struct bench_sample smp;
	unsigned failed;

	printf("  mbsync: initial pull (untimed), then a run every %d s\n", WATCH_TIMER_S);
	bench_tool_run(&sd->t, &smp);
	if (!smp.ok)
		return false;
	timer_stop = false;
	if (pthread_create(&timer_thread, NULL, timer_main, sd) != 0)
		bench_fail("cannot start mbsync's timer");
	timer_running = true;
	rounds(sd, true, true, peer_n, false, WATCH_TIMER_S, WATCH_PEER_LATE_S, &lat[T_MBSYNC][0],
	       &lat[T_MBSYNC][1], NULL);
	timer_stop = true;
	pthread_join(timer_thread, NULL);
	timer_running = false;
	say_latency("mbsync: delivery -> Maildir", &lat[T_MBSYNC][0]);
	say_latency("mbsync: local change -> server", &lat[T_MBSYNC][1]);
	failed = mbsync_runs.failed;
	if (failed)
		bench_print_tail(sd->t.log, 2000);
	return failed == 0 && lat[T_MBSYNC][0].lost == 0 && lat[T_MBSYNC][1].lost == 0;
}

static bool run_offlineimap(void)
{
	struct side *sd = side_begin(T_OFFLINEIMAP);
	const char *argv[] = {"offlineimap", "-c", sd->t.config, "-u", "quiet", NULL};
	double deadline = bench_now() + WATCH_READY_S;
	struct proc_figures a, b;
	double start;

	printf("  OfflineIMAP: its first sync, then IDLE on INBOX and a sync every %d s\n", WATCH_TIMER_S);
	proc_start(&offlineimap, argv, sd->t.log, false);
	while (count_tree(sd->t.maildir) < sd->seeded && bench_now() < deadline && proc_alive(&offlineimap))
		nanosleep(&(struct timespec){0, 200000000}, NULL);
	if (count_tree(sd->t.maildir) < sd->seeded || !proc_alive(&offlineimap)) {
		fprintf(stderr, "  OfflineIMAP: its first sync did not bring the %zu messages\n", sd->seeded);
		bench_print_tail(sd->t.log, 2000);
		proc_stop(&offlineimap, SIGKILL);
		return false;
	}
	nanosleep(&(struct timespec){WATCH_SETTLE_S, 0}, NULL);
	proc_read(offlineimap.pid, &a);
	start = bench_now();
	rounds(sd, true, false, peer_n, false, 2.0, WATCH_PEER_LATE_S, &lat[T_OFFLINEIMAP][0], NULL, NULL);
	rounds(sd, false, true, peer_n, false, WATCH_TIMER_S, WATCH_PEER_LATE_S, NULL, &lat[T_OFFLINEIMAP][1],
	       NULL);
	if (proc_alive(&offlineimap) && proc_read(offlineimap.pid, &b)) {
		oi_r.window = bench_now() - start;
		oi_r.cpu = b.cpu - a.cpu;
		oi_r.hwm_kb = b.hwm_kb;
	}
	say_latency("OfflineIMAP: delivery -> Maildir", &lat[T_OFFLINEIMAP][0]);
	say_latency("OfflineIMAP: local change -> server", &lat[T_OFFLINEIMAP][1]);
	proc_stop(&offlineimap, SIGTERM);
	return lat[T_OFFLINEIMAP][0].lost == 0 && lat[T_OFFLINEIMAP][1].lost == 0;
}

bool bench_watch_run(enum bench_watch_part part, const char *dir, const char *bin)
{
	bench_dir = dir;
	twinbox_bin = bin;
	knobs();
	switch (part) {
	case WATCH_DELIVERY:
		return run_twinbox_latency(false);
	case WATCH_LOCAL:
		return run_twinbox_latency(true);
	case WATCH_IDLE:
		return run_idle();
	case WATCH_SOAK:
		return run_soak();
	case WATCH_MBSYNC:
		latency_watcher_end();
		return run_mbsync();
	case WATCH_OFFLINEIMAP:
		latency_watcher_end();
		return run_offlineimap();
	default:
		return false;
	}
}

/* ---- the report ----------------------------------------------------------- */

static bool any_run(void)
{
	for (int k = 0; k < T_COUNT; k++)
		if (lat[k][0].run || lat[k][1].run)
			return true;
	return idle_r.run || soak_r.run;
}

void bench_watch_describe(struct buf *b)
{
	if (!any_run())
		return;
	buf_printf(
	    b,
	    "Watch (issue 16): each tool syncs a Dovecot of its own on loopback, seeded with %d small "
	    "plain-text messages in each of 20 folders; seed %llu. twinbox runs `twinbox watch` (its "
	    "systemd READY=1 awaited, then %d s). A delivery is an APPEND to INBOX from the bench's own "
	    "connection, timed from its tagged OK to the inotify event (new/ or cur/) of a file holding "
	    "its Message-ID; a local change (in turn a new file in new/, a \\Flagged rename, a deletion, in "
	    "INBOX) is timed from the syscall to the moment the server shows it to the bench's own "
	    "connection on INBOX, which sends a NOOP every 20 ms while a change is awaited and checks on "
	    "any news (resolution: 20 ms and a round trip; not IDLE, which Dovecot answers 0.5 s late). "
	    "Dovecot tells an IDLE client (twinbox, OfflineIMAP) of a delivery 0.5 s after it, and that "
	    "is part of their delivery figures. twinbox's %u deliveries, "
	    "then %u local changes, come a random 0.2-2 s apart whether or not the previous one arrived; "
	    "a change not seen in %d s is lost, and fails the part. mbsync runs every %d s from a timer "
	    "of the bench; OfflineIMAP (offlineimap3) runs with autorefresh = 1 (minute), quick = 10 "
	    "and idlefolders = ['INBOX']; each gets %u rounds (BENCH_WATCH_PEER_N, fewer: a round waits "
	    "for the next timer run), each round awaited before the next (at most %d s) after a random "
	    "0.2-2 s (0.2-60 s where a timer runs the tool, so a change meets its timer at a random point); "
	    "mbsync's rounds make a delivery and a local change at once (the timer is blind to "
	    "them), OfflineIMAP's make the deliveries first, then the local changes (a sync its IDLE "
	    "starts would carry a local change of INBOX along).\n",
	    WATCH_PER_FOLDER, seed, WATCH_SETTLE_S, n_probes, n_probes, WATCH_LATE_S, WATCH_TIMER_S, peer_n,
	    WATCH_PEER_LATE_S);
	if (lat_kind[0].run)
		buf_printf(
		    b,
		    "twinbox's local changes by kind, median / p99: new file %.3f / %.3f s, flag %.3f / "
		    "%.3f s, deletion %.3f / %.3f s.\n",
		    lat_kind[0].median, lat_kind[0].p99, lat_kind[1].median, lat_kind[1].p99,
		    lat_kind[2].median, lat_kind[2].p99);
	for (int d = 0; d < 2; d++)
		if (lat_one[d].run)
			buf_printf(b,
			           "twinbox's %s one at a time as the peers' are measured (%zu, each "
			           "awaited): median "
			           "%.3f s, p99 %.3f s, max %.3f s%s.\n",
			           d ? "local changes" : "deliveries", lat_one[d].n, lat_one[d].median,
			           lat_one[d].p99, lat_one[d].max, lat_one[d].lost ? ", some LOST" : "");
	if (idle_r.run)
		buf_printf(b,
		           "Idle: a fresh watcher, settled, then %u s with nothing changing: CPU from "
		           "/proc/PID/stat (utime + stime) at the window's start and end, wake-ups as the "
		           "context switches (voluntary + nonvoluntary) of its %u threads, peak RSS VmHWM "
		           "(VmRSS at the end %.1f MB).\n",
		           idle_s, idle_r.threads, idle_r.rss_kb / 1024.0);
	if (soak_r.run)
		buf_printf(b,
		           "Soak: a fresh watcher for %u s, a change every 1-5 s in turn: a delivery, a "
		           "local new file (INBOX, Archive or Lists/l03), a server \\Flagged toggle, a local "
		           "one (Archive or Lists/l03), a server deletion (INBOX: STORE \\Deleted, UID "
		           "EXPUNGE), a local one (Archive or Lists/l03); %zu changes, %.1f s of CPU. VmRSS "
		           "after %.0f s and at the end; then every folder must hold the same messages (by "
		           "Message-ID, none twice) with the same flags on both sides, and as many as the "
		           "changes leave, within %d s: %s%s.\n",
		           soak_s, soak_r.changes, soak_r.cpu, soak_r.first_at, WATCH_TWINS_WAIT_S,
		           soak_r.twins ? "twins" : "NOT twins: ", soak_r.twins ? "" : soak_r.why);
	if (mbsync_runs.runs)
		buf_printf(b, "mbsync: %u timer runs, %.2f s of CPU each on average, %u failed.\n",
		           mbsync_runs.runs, mbsync_runs.cpu / mbsync_runs.runs, mbsync_runs.failed);
	if (oi_r.window > 0)
		buf_printf(b,
		           "OfflineIMAP: %.1f s of CPU over its %.0f s of rounds (after its first sync).\n",
		           oi_r.cpu, oi_r.window);
}

static void cell_latency(struct buf *b, const struct latency *l)
{
	if (!l->run)
		buf_printf(b, " - |");
	else if (l->lost)
		buf_printf(b, " FAILED: %zu of %zu lost |", l->lost, l->n + l->lost);
	else
		buf_printf(b, " %.3f / %.3f / %.3f / %.3f (%zu) |", l->median, l->p90, l->p99, l->max, l->n);
}

void bench_watch_table(struct buf *b)
{
	long twinbox_hwm = latency_hwm_kb;

	if (!any_run())
		return;
	buf_printf(b,
	           "\n| watch | twinbox | mbsync, %d s timer | OfflineIMAP, IDLE |\n|---|---:|---:|---:|\n",
	           WATCH_TIMER_S);
	for (int d = 0; d < 2; d++) {
		buf_printf(b, "| %s, s: median / p90 / p99 / max (n) |",
		           d ? "local change -> server" : "server delivery -> Maildir");
		for (int k = 0; k < T_COUNT; k++)
			cell_latency(b, &lat[k][d]);
		buf_printf(b, "\n");
	}
	if (idle_r.run) {
		if (idle_r.window > 0)
			buf_printf(b,
			           "| idle %u s, 20 folders: CPU s / wake-ups a minute / peak RSS MB | %.3f "
			           "/ %.1f / "
			           "%.1f | - | - |\n",
			           idle_s, idle_r.cpu, idle_r.wakeups_per_min, idle_r.hwm_kb / 1024.0);
		else
			buf_printf(b, "| idle %u s, 20 folders | FAILED | - | - |\n", idle_s);
	}
	if (soak_r.run) {
		if (soak_r.window > 0)
			buf_printf(b,
			           "| soak %u s: VmRSS after %.0f s -> at the end, MB (changes) | %.2f -> "
			           "%.2f (%zu)%s "
			           "| - | - |\n",
			           soak_s, soak_r.first_at, soak_r.rss_first_kb / 1024.0,
			           soak_r.rss_end_kb / 1024.0, soak_r.changes,
			           soak_r.twins ? "" : ", NOT twins");
		else
			buf_printf(b, "| soak %u s | FAILED | - | - |\n", soak_s);
	}
	if (idle_r.hwm_kb > twinbox_hwm)
		twinbox_hwm = idle_r.hwm_kb;
	if (soak_r.hwm_kb > twinbox_hwm)
		twinbox_hwm = soak_r.hwm_kb;
	buf_printf(b,
	           "| peak RSS MB (twinbox: its watchers' VmHWM; mbsync: its runs') | %.1f | %.1f | %.1f |\n",
	           twinbox_hwm / 1024.0, mbsync_runs.rss_kb / 1024.0, oi_r.hwm_kb / 1024.0);
}

/* A latency target row: p99 <= max_s. */
static unsigned latency_target(struct buf *b, const struct latency *l, double max_s, const char *text)
{
	if (!l->run) {
		buf_printf(b, "| %s | - | not run (BENCH_ONLY) |\n", text);
		return 0;
	}
	if (l->lost || l->n == 0) {
		buf_printf(b, "| %s | - | MISSED (%zu changes lost) |\n", text, l->lost);
		return 1;
	}
	buf_printf(b, "| %s | %.3f s | %s |\n", text, l->p99, l->p99 <= max_s ? "met" : "MISSED");
	return l->p99 > max_s;
}

/* twinbox's median over a peer's, no target. */
static void ratio_row(struct buf *b, int d, enum tool peer)
{
	const struct latency *t = &lat[T_TWINBOX][d], *o = &lat[peer][d];

	if (!t->run || !o->run)
		return;
	buf_printf(b, "| watch: %s median, twinbox / %s | ",
	           d ? "local change -> server" : "delivery -> Maildir",
	           peer == T_MBSYNC ? "mbsync on a 60 s timer" : "OfflineIMAP in IDLE mode");
	if (t->lost || o->lost || !t->n || !o->n || o->median <= 0)
		buf_printf(b, "- | no target (a part FAILED) |\n");
	else
		buf_printf(b, "%.3f x | no target |\n", t->median / o->median);
}

unsigned bench_watch_targets(struct buf *b)
{
	unsigned missed = 0;

	if (!any_run())
		return 0;
	missed +=
	    latency_target(b, &lat[T_TWINBOX][0], 1.0, "watch: delivery -> Maildir p99 <= 1 s on loopback");
	missed += latency_target(b, &lat[T_TWINBOX][1], 1.5, "watch: local change -> server p99 <= 1.5 s");
	if (!idle_r.run) {
		buf_printf(
		    b, "| watch: idle CPU < 0.5 s over 10 min, 20 folders | - | not run (BENCH_ONLY) |\n");
	} else if (idle_r.window <= 0 || !idle_r.ok) {
		buf_printf(
		    b,
		    "| watch: idle CPU < 0.5 s over 10 min, 20 folders | - | MISSED (the part FAILED) |\n");
		missed++;
	} else {
		/* A shorter window (a trial) is held to the same rate. */
		double per10 = idle_r.cpu * 600.0 / idle_r.window;
		buf_printf(b, "| watch: idle CPU < 0.5 s over 10 min, 20 folders | %.3f s%s | %s |\n", per10,
		           idle_s == 600 ? "" : " (scaled to 10 min)", per10 < 0.5 ? "met" : "MISSED");
		missed += per10 >= 0.5;
	}
	if (!soak_r.run) {
		buf_printf(b,
		           "| watch: soak RSS growth <= 1 MB, no mail lost | - | not run (BENCH_ONLY) |\n");
	} else if (!soak_r.ok || soak_r.window <= 0) {
		buf_printf(
		    b, "| watch: soak RSS growth <= 1 MB, no mail lost | %s | MISSED (the soak FAILED) |\n",
		    soak_r.twins ? "-" : "not twins");
		missed++;
	} else {
		long growth = soak_r.rss_end_kb - soak_r.rss_first_kb;
		buf_printf(b, "| watch: soak RSS growth <= 1 MB over %u s, no mail lost | %+.2f MB | %s |\n",
		           soak_s, growth / 1024.0, growth <= 1024 ? "met" : "MISSED");
		missed += growth > 1024;
	}
	for (int d = 0; d < 2; d++) {
		ratio_row(b, d, T_MBSYNC);
		ratio_row(b, d, T_OFFLINEIMAP);
	}
	return missed;
}

void bench_watch_end(void)
{
	latency_watcher_end();
	if (timer_running) {
		timer_stop = true;
		pthread_join(timer_thread, NULL);
		timer_running = false;
	}
	if (watcher.pid)
		proc_stop(&watcher, SIGKILL);
	if (offlineimap.pid)
		proc_stop(&offlineimap, SIGKILL);
	for (int k = 0; k < T_COUNT; k++) {
		struct dovecot *d = sides[k].d;

		sides[k].d = NULL;
		if (d)
			dovecot_stop(d);
		if (sides[k].t.dir)
			bench_tool_free(&sides[k].t);
		free(sides[k].inbox);
		memset(&sides[k], 0, sizeof(sides[k]));
	}
}
