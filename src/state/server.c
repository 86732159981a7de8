/* The server the state describes (see twinbox/state/server.h). */
#include "twinbox/state/server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "state_p.h"
#include "twinbox/util/xmalloc.h"

int state_server_get(struct state *st, struct state_server *s_r, struct error *err)
{
	sqlite3_stmt *stmt =
	    state_stmt(st, ST_SERVER_GET, "SELECT host, port, user FROM server WHERE id = 1", err);
	int rc;

	memset(s_r, 0, sizeof(*s_r));
	if (!stmt)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		s_r->host = xstrdup((const char *)sqlite3_column_text(stmt, 0));
		s_r->port = (unsigned)sqlite3_column_int64(stmt, 1);
		s_r->user = xstrdup((const char *)sqlite3_column_text(stmt, 2));
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return state_fail(st, rc, err, "read which server the state describes");
}

int state_server_set(struct state *st, const struct state_server *s, struct error *err)
{
	sqlite3_stmt *stmt;

	if (!s->host || !s->user || s->port > 65535)
		return state_bug(st, err, "a server needs a host, a port and a user");
	if (state_check_text(st, "server host", s->host, 4096, false, err) < 0 ||
	    state_check_text(st, "server user", s->user, 4096, false, err) < 0)
		return -1;
	stmt = state_stmt(st, ST_SERVER_SET,
	                  "INSERT OR REPLACE INTO server (id, host, port, user) VALUES (1, ?, ?, ?)", err);
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, s->host);
	sqlite3_bind_int64(stmt, 2, s->port);
	state_bind_text(stmt, 3, s->user);
	return state_step_done(st, stmt, "record which server the state describes", err);
}

static int forget_uids(struct state *st, const struct state_server *s, struct error *err)
{
	static const char sql[] =
	    "DELETE FROM pair WHERE b_uid IS NULL AND b_name IS NULL;"
	    "UPDATE pair SET a_uid = NULL, a_name = NULL, renumbered = 1"
	    " WHERE a_uid IS NOT NULL OR a_name IS NOT NULL;"
	    "UPDATE intent SET a_uid = NULL, a_name = NULL WHERE a_uid IS NOT NULL OR a_name IS NOT NULL;"
	    "UPDATE folder SET a_uidvalidity = 0, a_uidnext = 0, a_highestmodseq = 0, a_messages = 0;";
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return state_fail(st, rc, err, "forget the UIDs of the server the state described");
	return state_server_set(st, s, err);
}

int state_server_replace(struct state *st, const struct state_server *s, struct error *err)
{
	if (state_savepoint(st, err) < 0)
		return -1;
	return state_release_savepoint(st, forget_uids(st, s, err), err);
}

bool state_server_same(const struct state_server *a, const struct state_server *b)
{
	return a->port == b->port && strcasecmp(a->host, b->host) == 0 && strcmp(a->user, b->user) == 0;
}

void state_server_clear(struct state_server *s)
{
	free((char *)s->host);
	free((char *)s->user);
	memset(s, 0, sizeof(*s));
}
