/*
 * twinbox watch [--interval DURATION] [--json] [ACCOUNT...]
 *
 * A full sync of the accounts, then the loop: each IMAP + Maildir
 * account's INBOX is watched with IDLE (watch_idle.c) and its Maildir
 * with inotify (watch_inotify.c); a change leads to a sync of just that
 * folder, debounced: a burst is one sync, and the first change waits
 * at most WATCH_DEBOUNCE_MAX_MS. Every --interval (default 30 min)
 * everything is synced again as a safety net, and accounts that have
 * neither source are synced only then. SIGTERM or SIGINT ends the loop
 * after the sync in flight (exit 0); SIGUSR1 syncs everything now.
 *
 * Under systemd (Type=notify, contrib/systemd) it says READY=1 once the
 * first sync is done and the sources run, STOPPING=1 when it stops.
 *
 * Each sync is `twinbox sync ACCOUNT:FOLDER` run in this process
 * (cli_sync_accounts): its own connection, lock and state, so a killed
 * watcher leaves nothing a later run cannot carry on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "render.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"
#include "watch.h"

#define WATCH_DEBOUNCE_MS     250  /* quiet time that ends a burst */
#define WATCH_DEBOUNCE_MAX_MS 1000 /* the longest a first change waits */
#define WATCH_INTERVAL_S      (30 * 60)

static const char watch_usage[] = "Usage: twinbox watch [--interval DURATION] [--json] [ACCOUNT...]\n";

static volatile sig_atomic_t stop_signal, sync_all_signal;
/* What the IDLE threads read until the process ends (volatile: held
 * for them, though nothing here reads it again). */
static struct config *volatile kept_config;
static const struct config_account **volatile kept_accounts;
static struct watch_idle **volatile kept_idles;
static size_t n_kept_idles;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		sync_all_signal = 1;
	else
		stop_signal = sig;
}

void watch_notify(int fd, size_t account, const char *folder)
{
	char line[PIPE_BUF];
	int n = snprintf(line, sizeof(line), "%zu\t%s\n", account, folder ? folder : "");

	/* A folder name too long for one note: the whole account. */
	if (n < 0 || (size_t)n >= sizeof(line))
		n = snprintf(line, sizeof(line), "%zu\t\n", account);
	if (write(fd, line, (size_t)n) < 0 && errno != EAGAIN)
		log_debug("watch: cannot note a change: %s", strerror(errno));
}

/* Tell systemd (Type=notify) how the service is, when it started us:
 * a datagram to $NOTIFY_SOCKET ("@..." an abstract socket). */
static void tell_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = path ? strlen(path) : 0;
	int fd;

	if (n == 0 || n >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		log_debug("watch: cannot tell systemd \"%s\": %s", state, strerror(errno));
	close(fd);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A folder (or, name NULL, a whole account) waiting to be synced. */
struct pending {
	size_t account;
	char *folder;
	long long first, last;
};

struct watch_loop {
	const struct config *cfg;
	const char *path;
	struct sync_cli cli;
	const struct config_account **accounts;
	size_t count;
	struct pending *pending;
	size_t n_pending;
	int pipe[2];
	struct watch_inotify *inotify;
	long long next_full;
	unsigned interval_s;
};

static void add_pending(struct watch_loop *w, size_t account, const char *folder)
{
	long long now = now_ms();

	for (size_t i = 0; i < w->n_pending; i++) {
		struct pending *p = &w->pending[i];
		if (p->account != account)
			continue;
		if (!p->folder || (folder && strcmp(p->folder, folder) == 0)) {
			p->last = now;
			return;
		}
		if (!folder) { /* the whole account covers its folders */
			free(p->folder);
			p->folder = NULL;
			p->last = now;
			return;
		}
	}
	w->pending = xrealloc(w->pending, (w->n_pending + 1) * sizeof(*w->pending));
	w->pending[w->n_pending++] = (struct pending){account, folder ? xstrdup(folder) : NULL, now, now};
}

/* Read the notes on the pipe into the pending set. */
static void read_notes(struct watch_loop *w)
{
	static char buf[4 * PIPE_BUF];
	static size_t have;
	ssize_t n;

	while ((n = read(w->pipe[0], buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *line = buf, *nl;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
			char *tab = strchr(line, '\t');
			*nl = '\0';
			if (tab && tab < nl) {
				size_t account = strtoul(line, NULL, 10);
				*tab = '\0';
				if (account < w->count)
					add_pending(w, account, tab[1] ? tab + 1 : NULL);
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
	}
}

/* When the next pending sync is due (ms from now, -1: none). */
static int due_in(const struct watch_loop *w)
{
	long long now = now_ms(), due = -1;

	for (size_t i = 0; i < w->n_pending; i++) {
		const struct pending *p = &w->pending[i];
		long long t = p->last + WATCH_DEBOUNCE_MS;
		if (t > p->first + WATCH_DEBOUNCE_MAX_MS)
			t = p->first + WATCH_DEBOUNCE_MAX_MS;
		if (due < 0 || t < due)
			due = t;
	}
	if (due < 0 || w->next_full < due)
		due = w->next_full;
	return due <= now ? 0 : due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

/* Sync `targets` (ACCOUNT or ACCOUNT:FOLDER) as `twinbox sync` would. */
static void run_sync(struct watch_loop *w, const char **targets, size_t n)
{
	struct sync_cli c = w->cli;

	if (cli_sync_accounts(w->cfg, w->path, &c, targets, n) == EXIT_USAGE)
		log_debug("watch: a folder went away before its sync");
}

/* Sync what is due: each account's pending folders in one run. */
static void sync_due(struct watch_loop *w)
{
	long long now = now_ms();

	for (size_t a = 0; a < w->count; a++) {
		const char **targets = xcalloc(w->n_pending + 1, sizeof(*targets));
		char **fresh = xcalloc(w->n_pending + 1, sizeof(*fresh));
		size_t n = 0, k = 0;
		bool due = false, whole = false;

		for (size_t i = 0; i < w->n_pending; i++) {
			const struct pending *p = &w->pending[i];
			if (p->account == a &&
			    (now >= p->last + WATCH_DEBOUNCE_MS || now >= p->first + WATCH_DEBOUNCE_MAX_MS))
				due = true;
		}
		for (size_t i = 0; i < w->n_pending && due; i++) {
			struct pending *p = &w->pending[i];
			if (p->account != a)
				continue;
			whole |= !p->folder;
			if (p->folder) {
				fresh[n] = xasprintf("%s:%s", w->accounts[a]->name, p->folder);
				targets[n] = fresh[n];
				n++;
			}
		}
		if (due) {
			if (whole) {
				n = 1;
				targets[0] = w->accounts[a]->name;
				if (w->inotify)
					watch_inotify_account(w->inotify, w->accounts[a], a);
			}
			run_sync(w, targets, n);
			for (size_t i = 0; i < w->n_pending; i++) {
				if (w->pending[i].account == a) {
					free(w->pending[i].folder);
					continue;
				}
				w->pending[k++] = w->pending[i];
			}
			w->n_pending = k;
		}
		for (size_t i = 0; fresh[i]; i++)
			free(fresh[i]);
		free(fresh);
		free(targets);
	}
}

static void sync_everything(struct watch_loop *w)
{
	const char **targets = xcalloc(w->count + 1, sizeof(*targets));

	for (size_t i = 0; i < w->count; i++)
		targets[i] = w->accounts[i]->name;
	run_sync(w, targets, w->count);
	free(targets);
	for (size_t i = 0; i < w->n_pending; i++)
		free(w->pending[i].folder);
	w->n_pending = 0;
	w->next_full = now_ms() + (long long)w->interval_s * 1000;
}

/* The event sources of each account that has them. */
static void start_sources(struct watch_loop *w)
{
	w->inotify = watch_inotify_new();
	for (size_t i = 0; i < w->count; i++) {
		const struct config_account *a = w->accounts[i];
		if (a->side[SIDE_A].store != CONFIG_STORE_IMAP ||
		    a->side[SIDE_B].store != CONFIG_STORE_MAILDIR) {
			log_info("%s: no IDLE or inotify for this kind of account: synced every %u s",
			         a->name, w->interval_s);
			continue;
		}
		struct watch_idle *idle = watch_idle_start(a, i, "INBOX", w->pipe[1]);
		if (idle) {
			kept_idles = xrealloc(kept_idles, (n_kept_idles + 1) * sizeof(*kept_idles));
			kept_idles[n_kept_idles++] = idle;
		} else {
			log_warn("%s: cannot start watching INBOX; it is synced every %u s", a->name,
			         w->interval_s);
		}
		watch_inotify_account(w->inotify, a, i);
	}
}

static void loop(struct watch_loop *w)
{
	while (!stop_signal) {
		struct pollfd fds[2] = {{w->pipe[0], POLLIN, 0}, {watch_inotify_fd(w->inotify), POLLIN, 0}};
		int r = poll(fds, fds[1].fd >= 0 ? 2 : 1, due_in(w));

		if (r < 0 && errno != EINTR) {
			log_error("watch: %s", strerror(errno));
			return;
		}
		if (stop_signal)
			break;
		if (r > 0 && (fds[0].revents & POLLIN))
			read_notes(w);
		if (r > 0 && fds[1].fd >= 0 && (fds[1].revents & POLLIN))
			watch_inotify_read(w->inotify, w->pipe[1]);
		if (sync_all_signal || now_ms() >= w->next_full) {
			sync_all_signal = 0;
			sync_everything(w);
			continue;
		}
		sync_due(w);
	}
}

/* The accounts named (all when none). NULL after saying which is not
 * in the config. */
static const struct config_account **pick(const struct config *cfg, char **names, int n, size_t *count_r)
{
	const struct config_account **v = xcalloc(cfg->account_count + (size_t)n + 1, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; n == 0 && i < cfg->account_count; i++)
		v[k++] = &cfg->accounts[i];
	for (int i = 0; i < n; i++) {
		const struct config_account *a = config_find_account(cfg, names[i]);
		if (!a) {
			fprintf(stderr, "twinbox: watch: no account \"%s\" in the config\n", names[i]);
			free(v);
			return NULL;
		}
		v[k++] = a;
	}
	*count_r = k;
	return v;
}

int cmd_watch(struct cli_options *opts)
{
	struct watch_loop w = {.interval_s = WATCH_INTERVAL_S};
	char **names = xcalloc((size_t)opts->argc + 1, sizeof(*names));
	int n = 0, rc = EXIT_OK;
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	char *path = NULL;
	struct config *cfg;

	w.cli = (struct sync_cli){
	    .quiet = (opts->verbosity < 0), .verbose = (opts->verbosity > 0), .jobs = CLI_DEFAULT_JOBS};
	for (int i = 0; i < opts->argc; i++) {
		const char *a = opts->argv[i];
		if (strcmp(a, "--json") == 0) {
			w.cli.json = true;
		} else if (strcmp(a, "--interval") == 0 && i + 1 < opts->argc) {
			uint64_t s;
			struct error err;
			if (config_parse_duration(opts->argv[++i], &s, &err) < 0 || s < 1 || s > 24 * 3600) {
				fprintf(stderr,
				        "twinbox: watch: --interval wants a duration from 1s to 24h\n%s",
				        watch_usage);
				free(names);
				return EXIT_USAGE;
			}
			w.interval_s = (unsigned)s;
		} else if (a[0] == '-') {
			fprintf(stderr, "twinbox: watch: unknown option %s\n%s", a, watch_usage);
			free(names);
			return EXIT_USAGE;
		} else {
			names[n++] = opts->argv[i];
		}
	}
	render_start(w.cli.json, false);
	cfg = cli_load_config(opts, &path);
	if (!cfg || !(w.accounts = pick(cfg, names, n, &w.count))) {
		rc = cfg ? EXIT_USAGE : EXIT_CONFIG;
		goto out;
	}
	w.cfg = cfg;
	w.path = path;
	if (pipe2(w.pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("watch: %s", strerror(errno));
		rc = EXIT_FAILED;
		goto out;
	}
	/* SA_RESTART: a signal during a sync does not cut its reads and
	 * writes short; the loop's poll() returns at once all the same. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	cli_watch_register(cfg, w.accounts, w.count);
	sync_everything(&w);
	start_sources(&w);
	log_info("watching %zu account%s; a full sync every %u s", w.count, w.count == 1 ? "" : "s",
	         w.interval_s);
	tell_systemd("READY=1");
	loop(&w);
	tell_systemd("STOPPING=1");
	log_info("watch: stopped by signal %d", (int)stop_signal);
out:
	cli_watch_unregister();
	watch_inotify_free(w.inotify);
	for (size_t i = 0; i < w.n_pending; i++)
		free(w.pending[i].folder);
	free(w.pending);
	if (w.inotify) {
		/* The IDLE threads listen until the process ends, reading the
		 * accounts: those stay, held here. */
		kept_config = cfg;
		kept_accounts = w.accounts;
	} else {
		free(w.accounts);
		config_free(cfg);
	}
	free(path);
	free(names);
	render_end();
	return rc;
}
