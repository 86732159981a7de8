#include "twinbox/state/intent.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state_p.h"
#include "twinbox/state/folder.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

/* Stored as text so that the file reads plainly in an sqlite3 shell and
 * the enum's numbering is free to change. */
static const char *const kind_names[] = {
    [STATE_INTENT_COPY] = "copy",
    [STATE_INTENT_DELETE] = "delete",
    [STATE_INTENT_POP3_DOWNLOAD] = "pop3-download",
    [STATE_INTENT_POP3_DELETE] = "pop3-delete",
};

#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* The names people know them by, per side. */
static const char *const people_names[][SIDES] = {
    [STATE_INTENT_COPY] = {"append-remote", "deliver-local"},
    [STATE_INTENT_DELETE] = {"delete-remote", "delete-local"},
    [STATE_INTENT_POP3_DOWNLOAD] = {"pop3-download", "pop3-download"},
    [STATE_INTENT_POP3_DELETE] = {"pop3-delete", "pop3-delete"},
};

const char *state_intent_kind_name(enum state_intent_kind kind, enum side side)
{
	if ((size_t)kind >= N_KINDS || kind == 0 || (unsigned)side >= SIDES)
		return NULL;
	return people_names[kind][side];
}

static enum state_intent_kind kind_from_name(const char *name)
{
	for (size_t i = 1; i < N_KINDS; i++)
		if (name && strcmp(kind_names[i], name) == 0)
			return (enum state_intent_kind)i;
	return 0;
}

static void bind_id(sqlite3_stmt *stmt, int col, struct store_id id)
{
	state_bind_id(stmt, col, id.uid);
	state_bind_text(stmt, col + 1, id.name);
}

static int check_intent(struct state *st, const struct state_intent *in, struct error *err)
{
	if (!state_intent_kind_name(in->kind, in->side))
		return state_bug(st, err, "an intent of unknown kind %d was to be recorded", (int)in->kind);
	for (int s = 0; s < SIDES; s++)
		if (state_check_text(st, "local message id", in->msg[s].name, STATE_LOCAL_ID_MAX, true, err) <
		    0)
			return -1;
	if (state_check_text(st, "remote message detail", in->remote, STATE_NAME_MAX, false, err) < 0 ||
	    state_check_text(st, "content key", in->content_key, STATE_CONTENT_KEY_MAX, false, err) < 0)
		return -1;
	return 0;
}

int state_intent_add(struct state *st, const struct state_intent *in, int64_t *id_r, struct error *err)
{
	sqlite3_stmt *stmt;

	*id_r = 0;
	if (check_intent(st, in, err) < 0)
		return -1;
	stmt = state_stmt(
	    st, ST_INTENT_INSERT,
	    "INSERT INTO intent (folder_id, kind, side, pair_id, a_uid, a_name, b_uid, b_name, remote, "
	    "content_key, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    err);
	if (!stmt)
		return -1;
	state_bind_id(stmt, 1, in->folder_id);
	state_bind_text(stmt, 2, kind_names[in->kind]);
	sqlite3_bind_int64(stmt, 3, in->side);
	state_bind_id(stmt, 4, in->pair_id);
	bind_id(stmt, 5, in->msg[SIDE_A]);
	bind_id(stmt, 7, in->msg[SIDE_B]);
	state_bind_text(stmt, 9, in->remote);
	state_bind_text(stmt, 10, in->content_key);
	sqlite3_bind_int64(stmt, 11, (sqlite3_int64)time(NULL));
	if (state_step_done(st, stmt, "record an intent", err) < 0) {
		error_prefix(err, "%s intent in folder %" PRId64, state_intent_kind_name(in->kind, in->side),
		             in->folder_id);
		return -1;
	}
	*id_r = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int state_intent_resolve(struct state *st, int64_t id, struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(st, ST_INTENT_DELETE, "DELETE FROM intent WHERE id = ?", err);

	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	if (state_step_done(st, stmt, "resolve an intent", err) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return state_bug(st, err, "intent %" PRId64 " was resolved but is not pending", id);
	return 0;
}

static int resolve_pair(struct state *st, int64_t id, struct state_pair *pair, struct error *err)
{
	if (state_intent_resolve(st, id, err) < 0)
		return -1;
	return pair->id ? state_pair_update(st, pair, err) : state_pair_insert(st, pair, err);
}

int state_intent_resolve_pair(struct state *st, int64_t id, struct state_pair *pair, struct error *err)
{
	int64_t old_id = pair->id;
	int rc;

	if (state_savepoint(st, err) < 0)
		return -1;
	rc = state_release_savepoint(st, resolve_pair(st, id, pair, err), err);
	if (rc < 0)
		pair->id = old_id; /* the insert, if any, was undone */
	return rc;
}

static int resolve_delete(struct state *st, int64_t id, int64_t pair_id, struct error *err)
{
	if (state_intent_resolve(st, id, err) < 0)
		return -1;
	return state_pair_delete(st, pair_id, err);
}

int state_intent_resolve_delete(struct state *st, int64_t id, int64_t pair_id, struct error *err)
{
	if (state_savepoint(st, err) < 0)
		return -1;
	return state_release_savepoint(st, resolve_delete(st, id, pair_id, err), err);
}

int state_intent_list(struct state *st, int64_t folder_id, struct state_intents *set_r, struct error *err)
{
	static const char cols[] =
	    "id, folder_id, kind, side, pair_id, a_uid, a_name, b_uid, b_name, remote, "
	    "content_key, created";
	struct state_intents set = {0};
	sqlite3_stmt *stmt;
	size_t cap = 0;
	char sql[256];
	int rc;

	memset(set_r, 0, sizeof(*set_r));
	if (folder_id) {
		snprintf(sql, sizeof(sql), "SELECT %s FROM intent WHERE folder_id = ? ORDER BY id", cols);
		stmt = state_stmt(st, ST_INTENT_LIST, sql, err);
		if (stmt)
			sqlite3_bind_int64(stmt, 1, folder_id);
	} else {
		snprintf(sql, sizeof(sql), "SELECT %s FROM intent ORDER BY id", cols);
		stmt = state_stmt(st, ST_INTENT_LIST_ALL, sql, err);
	}
	if (!stmt)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct state_intent *in;

		set.intents = xgrow(set.intents, &cap, set.count + 1, sizeof(*set.intents));
		in = &set.intents[set.count++];
		in->id = sqlite3_column_int64(stmt, 0);
		in->folder_id = sqlite3_column_int64(stmt, 1);
		in->kind = kind_from_name((const char *)sqlite3_column_text(stmt, 2));
		in->side = sqlite3_column_int64(stmt, 3) ? SIDE_B : SIDE_A;
		in->pair_id = sqlite3_column_int64(stmt, 4);
		for (int s = 0; s < SIDES; s++)
			in->msg[s] = (struct store_id){(uint32_t)sqlite3_column_int64(stmt, 5 + 2 * s),
			                               state_arena_column(&set.arena, stmt, 6 + 2 * s)};
		in->remote = state_arena_column(&set.arena, stmt, 9);
		in->content_key = state_arena_column(&set.arena, stmt, 10);
		in->created = sqlite3_column_int64(stmt, 11);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		state_intents_free(&set);
		return state_fail(st, rc, err, "list the pending intents");
	}
	*set_r = set;
	return 0;
}

void state_intents_free(struct state_intents *set)
{
	free(set->intents);
	state_arena_free(set->arena);
	memset(set, 0, sizeof(*set));
}

char *state_intent_flags_format(unsigned bits, const char *keywords)
{
	char *list = mail_flags_format(bits, keywords);
	char *text = strlen(list) + 2 <= STATE_NAME_MAX ? xasprintf("(%s)", list) : NULL;

	free(list);
	return text;
}

bool state_intent_flags_parse(const char *remote, unsigned *bits_r, char **keywords_r)
{
	size_t len = remote ? strlen(remote) : 0;
	unsigned bits;
	char *keywords = NULL, *list;
	struct error err;
	int rc;

	if (len < 2 || remote[0] != '(' || remote[len - 1] != ')')
		return false;
	list = xstrndup(remote + 1, len - 2);
	rc = mail_flags_parse(list, &bits, &keywords, &err);
	free(list);
	if (rc < 0)
		return false;
	*bits_r = bits;
	*keywords_r = keywords;
	return true;
}
