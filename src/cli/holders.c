/*
 * Who else runs for an account: the run that holds its lock, and a
 * `twinbox watch` registered for it (state/lock.h). A sync that finds
 * the account locked while a watcher runs for it asks the watcher to
 * sync now (SIGUSR1, as a user would) instead of failing: a cron job
 * beside a watcher then costs nothing and loses nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "twinbox/state/lock.h"
#include "twinbox/util/clock.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

void cli_process_text(const struct state_process *p, char *out, size_t size)
{
	char when[CLOCK_TEXT_SIZE];

	if (!p->known) {
		snprintf(out, size, "another process");
		return;
	}
	clock_local_text((time_t)p->since, when);
	snprintf(out, size, "process %ld on host %s since %s", p->pid, p->host, when);
}

bool cli_ask_watcher(const struct config_account *a, const char *db)
{
	struct state_process w;

	if (state_watch_find(db, &w) != 1 || !w.here || w.pid == (long)getpid())
		return false;
	if (kill((pid_t)w.pid, SIGUSR1) < 0) {
		log_debug("%s: the watcher (pid %ld) could not be asked to sync: %s", a->name, w.pid,
		          strerror(errno));
		return false;
	}
	log_info("a watcher (pid %ld) runs for %s; it was asked to sync now", w.pid, a->name);
	return true;
}

/* The registrations of this process (one `twinbox watch` per process). */
static struct state_watch **registered;
static size_t n_registered;

void cli_watch_register(const struct config *cfg, const struct config_account *const *accounts, size_t count)
{
	registered = xcalloc(count + 1, sizeof(*registered));
	for (size_t i = 0; i < count; i++) {
		char *db = config_state_path(cfg, accounts[i]);
		struct state_watch *w = NULL;
		struct error err;

		if (state_watch_register(db, &w, NULL, &err) != 0)
			log_warn("%s: %s", accounts[i]->name, err.text);
		else
			registered[n_registered++] = w;
		free(db);
	}
}

void cli_watch_unregister(void)
{
	for (size_t i = 0; i < n_registered; i++)
		state_watch_unregister(registered[i]);
	free(registered);
	registered = NULL;
	n_registered = 0;
}
