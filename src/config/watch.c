/* Loading an account's `watch:` (config.h). */
#include <stdio.h>
#include <string.h>

#include "config_p.h"
#include "schema_p.h"
#include "twinbox/config/config.h"

static const char *const watch_keys[] = {"folders", "connections", "notify", "poll", NULL};

#define POLL_MIN_S 10
#define POLL_MAX_S (24 * 3600)

int config_load_watch(struct loader *ld, const struct section *s, struct config_account *acct)
{
	const struct ynode *key = NULL, *v = ld_find(s, "watch", &key);
	struct config_watch *w = &acct->watch;
	char where[CONFIG_NAME_MAX + 32];
	struct section ws;
	uint64_t n;
	int rc;

	w->connections = CONFIG_WATCH_CONNECTIONS_DEFAULT;
	w->notify = true;
	w->poll_s = CONFIG_WATCH_POLL_DEFAULT_S;
	if (!v)
		return 0;
	snprintf(where, sizeof(where), "in watch of account \"%s\"", acct->name);
	if (ld_section(ld, key, v, where, &ws) < 0 || ld_check_keys(ld, &ws, watch_keys, NULL) < 0)
		return -1;
	/* A POP3 server has one folder and no IDLE: it is only polled. */
	if (acct->side[SIDE_A].store == CONFIG_STORE_POP3 && !acct->two_servers) {
		for (size_t i = 0; i < ws.map->count; i++) {
			const struct ynode *k = ws.map->items[2 * i];
			if (strcmp(k->text, "poll") != 0)
				return ld_fail(ld, k,
				               "\"%s\" in watch is not used for POP3 accounts: POP3 has one "
				               "folder and no IDLE; only \"poll\" (how often to look for new "
				               "mail) applies",
				               k->text);
		}
	}
	if (ld_string_list(ld, &ws, "folders", &w->folders, &w->folder_count) < 0 ||
	    ld_bool(ld, &ws, "notify", &w->notify) < 0)
		return -1;
	rc = ld_uint(ld, &ws, "connections", 0, CONFIG_WATCH_CONNECTIONS_MAX, &n);
	if (rc == 1)
		w->connections = (unsigned)n;
	if (rc >= 0)
		rc = ld_duration(ld, &ws, "poll", POLL_MIN_S, POLL_MAX_S, &n);
	if (rc == 1)
		w->poll_s = (unsigned)n;
	return rc < 0 ? -1 : 0;
}
