#include "twinbox/state/pop3.h"

#include <stdlib.h>
#include <string.h>

#include "state_p.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/xmalloc.h"

/* RFC 1939: a UIDL is 1..70 characters in 0x21..0x7E. The length bound
 * is looser (some servers send longer ones); the characters are not: a
 * space or a control character would mean the reply was misparsed. */
static int check_uidl(struct state *st, const char *uidl, struct error *err)
{
	size_t len = uidl ? strnlen(uidl, STATE_UIDL_MAX + 1) : 0;

	if (len == 0)
		return error_set(err, ERR_MESSAGE, "state database %s: refusing an empty POP3 UIDL",
		                 st->path);
	if (len > STATE_UIDL_MAX)
		return error_set(err, ERR_MESSAGE,
		                 "state database %s: refusing a POP3 UIDL longer than %d bytes", st->path,
		                 STATE_UIDL_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)uidl[i] < 0x21 || (unsigned char)uidl[i] > 0x7e)
			return error_set(
			    err, ERR_MESSAGE,
			    "state database %s: refusing POP3 UIDL \"%.70s\": it holds a character "
			    "outside 0x21..0x7E",
			    st->path, uidl);
	return 0;
}

int state_pop3_record(struct state *st, const char *uidl, const char *local_id, int64_t downloaded,
                      struct error *err)
{
	sqlite3_stmt *stmt;

	if (check_uidl(st, uidl, err) < 0 ||
	    state_check_text(st, "local message id", local_id, STATE_LOCAL_ID_MAX, true, err) < 0)
		return -1;
	stmt = state_stmt(st, ST_POP3_INSERT,
	                  "INSERT INTO pop3_uidl (uidl, downloaded, local_id, deleted) VALUES (?, ?, ?, 0)",
	                  err);
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, uidl);
	sqlite3_bind_int64(stmt, 2, downloaded);
	state_bind_text(stmt, 3, local_id);
	if (state_step_done(st, stmt, "record a downloaded POP3 message", err) < 0) {
		error_prefix(err, "UIDL %s", uidl);
		return -1;
	}
	return 0;
}

int state_pop3_set_deleted(struct state *st, const char *uidl, struct error *err)
{
	sqlite3_stmt *stmt;

	if (check_uidl(st, uidl, err) < 0)
		return -1;
	stmt = state_stmt(st, ST_POP3_SET_DELETED, "UPDATE pop3_uidl SET deleted = 1 WHERE uidl = ?", err);
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, uidl);
	if (state_step_done(st, stmt, "record a POP3 deletion", err) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return state_bug(st, err, "POP3 UIDL %s was marked deleted but was never downloaded", uidl);
	return 0;
}

int state_pop3_forget(struct state *st, const char *uidl, struct error *err)
{
	sqlite3_stmt *stmt;

	if (check_uidl(st, uidl, err) < 0)
		return -1;
	stmt = state_stmt(st, ST_POP3_DELETE, "DELETE FROM pop3_uidl WHERE uidl = ?", err);
	if (!stmt)
		return -1;
	state_bind_text(stmt, 1, uidl);
	if (state_step_done(st, stmt, "forget a POP3 message", err) < 0)
		return -1;
	return sqlite3_changes(st->db) == 1;
}

int state_pop3_load(struct state *st, struct state_pop3_set *set_r, struct error *err)
{
	/* The primary key's order is byte order (BINARY collation), the
	 * order state_pop3_set_find() searches in. */
	sqlite3_stmt *stmt = state_stmt(
	    st, ST_POP3_LOAD, "SELECT uidl, local_id, downloaded, deleted FROM pop3_uidl ORDER BY uidl", err);
	struct state_pop3_set set = {0};
	size_t cap = 0;
	int rc;

	memset(set_r, 0, sizeof(*set_r));
	if (!stmt)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct state_pop3_msg *m;

		set.msgs = xgrow(set.msgs, &cap, set.count + 1, sizeof(*set.msgs));
		m = &set.msgs[set.count++];
		m->uidl = state_arena_column(&set.arena, stmt, 0);
		if (!m->uidl)
			m->uidl = state_arena_strndup(&set.arena, "", 0);
		m->local_id = state_arena_column(&set.arena, stmt, 1);
		m->downloaded = sqlite3_column_int64(stmt, 2);
		m->deleted = sqlite3_column_int64(stmt, 3) != 0;
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		state_pop3_set_free(&set);
		return state_fail(st, rc, err, "load the POP3 message list");
	}
	*set_r = set;
	return 0;
}

const struct state_pop3_msg *state_pop3_set_find(const struct state_pop3_set *set, const char *uidl)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(set->msgs[mid].uidl, uidl);
		if (c == 0)
			return &set->msgs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void state_pop3_set_free(struct state_pop3_set *set)
{
	free(set->msgs);
	state_arena_free(set->arena);
	memset(set, 0, sizeof(*set));
}
