/*
 * twinbox watch [--interval DURATION] [--json] [ACCOUNT...]
 *
 * A full sync of the accounts, then the loop. Each side of each account
 * is followed as what it is: an IMAP server with NOTIFY, or IDLE on the
 * folders within `watch: connections` and STATUS of the others every
 * `watch: poll` (watch_server.c, watch_idle.c); a Maildir with inotify
 * (watch_inotify.c); a POP3 server is looked at every `watch: poll`. A
 * change leads to a sync of just that folder, debounced: a burst is one
 * sync, and the first change waits at most WATCH_DEBOUNCE_MAX_MS. Every
 * --interval (default 30 min) everything is synced again as a safety
 * net.
 *
 * Signals: SIGTERM or SIGINT ends the loop, a sync in flight stopping
 * at its next durable step (exit 0; the next run carries on); SIGUSR1
 * syncs everything now; SIGHUP reads the config again: a config with an
 * error is reported (file:line) and the old one keeps running; a good
 * one replaces it, the sources start again and everything is synced.
 *
 * The machine waking from suspend (CLOCK_BOOTTIME ran ahead of
 * CLOCK_MONOTONIC, checked at least every WATCH_CLOCK_CHECK_MS) and a
 * network change (an address or a link that came or went, told by
 * netlink) make every IDLE connection connect again at once, and
 * everything is synced.
 *
 * Log lines carry a time stamp when standard error is not a terminal
 * (a service's log). Under systemd (Type=notify, contrib/systemd) it
 * says READY=1 once the first sync is done and the sources run,
 * RELOADING=1 while it reads the config again, STOPPING=1 when it stops.
 *
 * Each sync is `twinbox sync ACCOUNT:FOLDER` run in this process
 * (cli_sync_accounts): its own connection, lock and state, so a killed
 * watcher leaves nothing a later run cannot carry on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
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
#define WATCH_CLOCK_CHECK_MS  5000 /* how often a suspend is looked for */
#define WATCH_SLEPT_MS        2000 /* a suspend shorter than this goes unnoticed */
#define WATCH_NET_SETTLE_MS   2000 /* a network change acts this long after it began */

static const char watch_usage[] = "Usage: twinbox watch [--interval DURATION] [--json] [ACCOUNT...]\n";

static volatile sig_atomic_t stop_signal, sync_all_signal, reload_signal;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		sync_all_signal = 1;
	else if (sig == SIGHUP)
		reload_signal = 1;
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

static long long clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* A folder (or, name NULL, a whole account) waiting to be synced. */
struct pending {
	size_t account;
	char *folder;
	long long first, last;
};

struct watch_loop {
	struct config *cfg;
	char *path;
	char **names; /* the accounts named on the command line */
	int n_names;
	struct sync_cli cli;
	const struct config_account **accounts;
	size_t count;
	struct pending *pending;
	size_t n_pending;
	int pipe[2];
	/* The sources, while they run. */
	struct watch_server **servers;
	size_t n_servers;
	struct watch_inotify *inotify;
	long long *poll_at;    /* per account: its POP3 server's next look (0: none) */
	int netlink;           /* -1: network changes are not noticed */
	long long boot_offset; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC when last looked */
	long long next_clock;  /* when to look again */
	long long net_at;      /* when a network change acts (0: none pending) */
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

static void drop_pending(struct watch_loop *w)
{
	for (size_t i = 0; i < w->n_pending; i++)
		free(w->pending[i].folder);
	w->n_pending = 0;
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

/* When the loop must next act (ms from now): a pending sync, the full
 * sync, a network change, the look at the clocks. */
static int due_in(const struct watch_loop *w)
{
	long long now = now_ms(), due = w->next_full;

	for (size_t i = 0; i < w->n_pending; i++) {
		const struct pending *p = &w->pending[i];
		long long t = p->last + WATCH_DEBOUNCE_MS;
		if (t > p->first + WATCH_DEBOUNCE_MAX_MS)
			t = p->first + WATCH_DEBOUNCE_MAX_MS;
		if (t < due)
			due = t;
	}
	if (w->net_at && w->net_at < due)
		due = w->net_at;
	for (size_t i = 0; w->poll_at && i < w->count; i++)
		if (w->poll_at[i] && w->poll_at[i] < due)
			due = w->poll_at[i];
	if (w->next_clock < due)
		due = w->next_clock;
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

	for (size_t a = 0; a < w->count && !stop_signal; a++) {
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
				/* Its folders may have come or gone: watched anew. */
				if (w->inotify && w->accounts[a]->side[SIDE_B].store == CONFIG_STORE_MAILDIR)
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
	drop_pending(w);
	w->next_full = now_ms() + (long long)w->interval_s * 1000;
}

void watch_target_note(const struct watch_target *t, const char *folder)
{
	watch_notify(t->fd, t->account, t->whole ? NULL : folder);
}

/* Whether the account gives side B's folders other names than side A's
 * (folders: special_use, rename): then a change there is the whole
 * account's. */
static bool mapped(const struct config_account *a)
{
	return a->folders.special_use || a->folders.rename_count > 0;
}

/* The event sources of each side of each account. */
static void start_sources(struct watch_loop *w)
{
	w->inotify = watch_inotify_new();
	w->servers = xcalloc(2 * w->count + 1, sizeof(*w->servers));
	w->poll_at = xcalloc(w->count + 1, sizeof(*w->poll_at));
	for (size_t i = 0; i < w->count; i++) {
		const struct config_account *a = w->accounts[i];
		for (int s = 0; s < SIDES; s++) {
			struct watch_target t = {w->pipe[1], i, s == SIDE_B && mapped(a)};
			switch (a->side[s].store) {
			case CONFIG_STORE_IMAP:
				if ((w->servers[w->n_servers] = watch_server_start(a, (enum side)s, &t)))
					w->n_servers++;
				else
					log_warn(
					    "%s: cannot start watching the server; it is synced every %u s",
					    a->name, w->interval_s);
				break;
			case CONFIG_STORE_MAILDIR:
				watch_inotify_account(w->inotify, a, i);
				break;
			case CONFIG_STORE_POP3:
				log_debug("%s: the POP3 server is looked at every %u s", a->name,
				          a->watch.poll_s);
				w->poll_at[i] = now_ms() + (long long)a->watch.poll_s * 1000;
				break;
			}
		}
	}
}

/* Every source stopped (their threads joined: nothing reads the
 * accounts any longer), and what they noted forgotten. */
static void stop_sources(struct watch_loop *w)
{
	for (size_t i = 0; i < w->n_servers; i++)
		watch_server_stop(w->servers[i]);
	free(w->servers);
	w->servers = NULL;
	w->n_servers = 0;
	free(w->poll_at);
	w->poll_at = NULL;
	watch_inotify_free(w->inotify);
	w->inotify = NULL;
	read_notes(w);
	drop_pending(w);
}

/* The POP3 servers whose time to be looked at came. */
static void poll_due(struct watch_loop *w)
{
	long long now = now_ms();

	for (size_t i = 0; w->poll_at && i < w->count; i++) {
		if (!w->poll_at[i] || now < w->poll_at[i])
			continue;
		add_pending(w, i, NULL);
		w->poll_at[i] = now + (long long)w->accounts[i]->watch.poll_s * 1000;
	}
}

/* The accounts named (all when none), or NULL with *missing_r the
 * first name that is not in the config. */
static const struct config_account **pick(const struct config *cfg, char **names, int n, size_t *count_r,
                                          const char **missing_r)
{
	const struct config_account **v = xcalloc(cfg->account_count + (size_t)n + 1, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; n == 0 && i < cfg->account_count; i++)
		v[k++] = &cfg->accounts[i];
	for (int i = 0; i < n; i++) {
		const struct config_account *a = config_find_account(cfg, names[i]);
		if (!a) {
			*missing_r = names[i];
			free(v);
			return NULL;
		}
		v[k++] = a;
	}
	*count_r = k;
	return v;
}

/* SIGHUP: the config read again. One with an error changes nothing
 * (the old one runs on, and the log says why); a good one replaces it:
 * the sources stop (no thread reads the old one after), the new
 * accounts are watched, everything is synced. */
static void reload(struct watch_loop *w)
{
	const struct config_account **accounts = NULL;
	const char *missing = NULL;
	struct config *cfg;
	struct error err;
	size_t count = 0;
	char state[64];

	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%lld", now_ms() * 1000);
	tell_systemd(state);
	error_clear(&err);
	cfg = config_load(w->path, &err);
	if (cfg && !(accounts = pick(cfg, w->names, w->n_names, &count, &missing)))
		error_set(&err, ERR_FATAL, "%s: no account \"%s\" in the config", w->path, missing);
	if (!accounts) {
		log_error("watch: the config was not read again: %s; watching on with the one read before",
		          err.text);
		config_free(cfg);
		tell_systemd("READY=1");
		return;
	}
	for (size_t i = 0; i < cfg->warning_count; i++)
		log_warn("%s", cfg->warnings[i]);
	stop_sources(w);
	free(w->accounts);
	config_free(w->cfg);
	w->cfg = cfg;
	w->accounts = accounts;
	w->count = count;
	/* The accounts watched now are the ones registered. */
	cli_watch_unregister();
	cli_watch_register(w->cfg, w->accounts, w->count);
	log_info("watch: %s read again; watching %zu account%s", w->path, count, count == 1 ? "" : "s");
	start_sources(w);
	tell_systemd("READY=1");
	sync_everything(w);
}

/* ---- suspend and network changes ---------------------------------- */

/* Whether the machine slept since the last look: CLOCK_MONOTONIC stops
 * during a suspend, CLOCK_BOOTTIME does not. */
static long long slept_ms(struct watch_loop *w)
{
	long long offset = clock_ms(CLOCK_BOOTTIME) - clock_ms(CLOCK_MONOTONIC);
	long long slept = offset - w->boot_offset;

	w->boot_offset = offset;
	w->next_clock = now_ms() + WATCH_CLOCK_CHECK_MS;
	return slept;
}

/* A socket told of links and addresses that change (rtnetlink), or -1:
 * then network changes go unnoticed (the IDLE renewal still finds a
 * dead connection). */
static int netlink_open(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
	                         .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_debug("watch: network changes go unnoticed (netlink: %s)", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Whether what netlink says is a change worth connecting again for: an
 * address added or removed, a link gone, up or down. */
static bool netlink_read(int fd)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool changed = false;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0 || (n < 0 && errno == ENOBUFS)) {
		if (n < 0) { /* the kernel dropped some: assume the worst */
			changed = true;
			continue;
		}
		size_t len = (size_t)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			const struct ifinfomsg *ifi = NLMSG_DATA(h);
			if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR ||
			    h->nlmsg_type == RTM_DELLINK)
				changed = true;
			else if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)) &&
			         (ifi->ifi_change & (IFF_UP | IFF_RUNNING)))
				changed = true;
		}
	}
	return changed;
}

/* After a suspend or a network change: every IDLE connection anew at
 * once (the old ones are likely dead, unnoticed yet), and everything
 * synced (what changed meanwhile). */
static void connect_again(struct watch_loop *w, const char *why)
{
	log_info("watch: %s; connecting again and syncing everything", why);
	for (size_t i = 0; i < w->n_servers; i++)
		watch_server_reconnect(w->servers[i]);
	sync_everything(w);
}

static void loop(struct watch_loop *w)
{
	while (!stop_signal) {
		struct pollfd fds[3] = {{w->pipe[0], POLLIN, 0},
		                        {watch_inotify_fd(w->inotify), POLLIN, 0},
		                        {w->netlink, POLLIN, 0}};
		/* poll() passes over a negative descriptor. */
		int r = poll(fds, 3, due_in(w));
		long long slept;

		if (r < 0 && errno != EINTR) {
			log_error("watch: %s", strerror(errno));
			return;
		}
		if (stop_signal)
			break;
		if (reload_signal) {
			reload_signal = 0;
			reload(w);
			continue;
		}
		if (r > 0 && (fds[0].revents & POLLIN))
			read_notes(w);
		if (r > 0 && (fds[1].revents & POLLIN))
			watch_inotify_read(w->inotify, w->pipe[1]);
		if (r > 0 && (fds[2].revents & POLLIN) && netlink_read(w->netlink) && !w->net_at)
			w->net_at = now_ms() + WATCH_NET_SETTLE_MS;
		if (now_ms() >= w->next_clock && (slept = slept_ms(w)) >= WATCH_SLEPT_MS) {
			char why[64];
			snprintf(why, sizeof(why), "the machine slept for %lld s", slept / 1000);
			w->net_at = 0;
			connect_again(w, why);
			continue;
		}
		if (w->net_at && now_ms() >= w->net_at) {
			w->net_at = 0;
			connect_again(w, "the network changed");
			continue;
		}
		if (sync_all_signal || now_ms() >= w->next_full) {
			sync_all_signal = 0;
			sync_everything(w);
			continue;
		}
		poll_due(w);
		sync_due(w);
	}
}

int cmd_watch(struct cli_options *opts)
{
	struct watch_loop w = {.interval_s = WATCH_INTERVAL_S, .pipe = {-1, -1}, .netlink = -1};
	const char *missing = NULL;
	int rc = EXIT_OK;
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};

	w.names = xcalloc((size_t)opts->argc + 1, sizeof(*w.names));
	w.cli = (struct sync_cli){.quiet = (opts->verbosity < 0),
	                          .verbose = (opts->verbosity > 0),
	                          .jobs = CLI_DEFAULT_JOBS,
	                          .stop = &stop_signal};
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
				free(w.names);
				return EXIT_USAGE;
			}
			w.interval_s = (unsigned)s;
		} else if (a[0] == '-') {
			fprintf(stderr, "twinbox: watch: unknown option %s\n%s", a, watch_usage);
			free(w.names);
			return EXIT_USAGE;
		} else {
			w.names[w.n_names++] = opts->argv[i];
		}
	}
	/* A service's log (journald, a file) wants to know when. */
	log_set_timestamps(!isatty(STDERR_FILENO));
	render_start(w.cli.json, false);
	w.cfg = cli_load_config(opts, &w.path);
	if (!w.cfg) {
		rc = EXIT_CONFIG;
		goto out;
	}
	if (!(w.accounts = pick(w.cfg, w.names, w.n_names, &w.count, &missing))) {
		fprintf(stderr, "twinbox: watch: no account \"%s\" in the config\n", missing);
		rc = EXIT_USAGE;
		goto out;
	}
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
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	cli_watch_register(w.cfg, w.accounts, w.count);
	w.netlink = netlink_open();
	slept_ms(&w);
	sync_everything(&w);
	if (!stop_signal) {
		start_sources(&w);
		log_info("watching %zu account%s; a full sync every %u s", w.count, w.count == 1 ? "" : "s",
		         w.interval_s);
		tell_systemd("READY=1");
		loop(&w);
	}
	tell_systemd("STOPPING=1");
	log_info("watch: stopped by signal %d", (int)stop_signal);
out:
	cli_watch_unregister();
	stop_sources(&w);
	free(w.pending);
	free(w.accounts);
	config_free(w.cfg);
	for (int i = 0; i < 2; i++)
		if (w.pipe[i] >= 0)
			close(w.pipe[i]);
	if (w.netlink >= 0)
		close(w.netlink);
	free(w.path);
	free(w.names);
	render_end();
	log_set_timestamps(false);
	return rc;
}
