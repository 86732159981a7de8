/* Writing message pairs, and the content key. Loading is in pairs.c. */
#include "twinbox/state/pair.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "state_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

/* "" means "none" for the optional texts, like NULL. */
static const char *none_if_empty(const char *s)
{
	return s && *s ? s : NULL;
}

/* One side's id for a message: "UID 5" or the name. */
static void id_text(struct store_id id, char *out, size_t size)
{
	if (id.name)
		snprintf(out, size, "%.50s", id.name);
	else
		snprintf(out, size, "UID %" PRIu32, id.uid);
}

/* Which message a failure is about, for error prefixes. */
static void describe(const struct state_pair *p, char *out, size_t size)
{
	char a[56], b[56];

	id_text(p->side[SIDE_A], a, sizeof(a));
	id_text(p->side[SIDE_B], b, sizeof(b));
	if (store_id_known(p->side[SIDE_A]) && store_id_known(p->side[SIDE_B]))
		snprintf(out, size, "message %s / %s", a, b);
	else if (store_id_known(p->side[SIDE_A]))
		snprintf(out, size, "message %s", a);
	else if (store_id_known(p->side[SIDE_B]))
		snprintf(out, size, "message %s", b);
	else
		snprintf(out, size, "message (none)");
}

static int check_pair(struct state *st, const struct state_pair *p, struct error *err)
{
	if (!store_id_known(p->side[SIDE_A]) && !store_id_known(p->side[SIDE_B]))
		return state_bug(st, err, "a message pair with no id on either side was to be stored");
	for (int s = 0; s < SIDES; s++)
		if (p->side[s].uid && p->side[s].name)
			return state_bug(st, err, "a message pair with both a UID and a name on one side");
	if (p->flags & ~MAIL_FLAGS_ALL)
		return state_bug(st, err, "unknown flag bits 0x%x in a message pair",
		                 p->flags & ~MAIL_FLAGS_ALL);
	if (p->size > INT64_MAX)
		return error_set(err, ERR_MESSAGE,
		                 "state database %s: refusing a message size of %" PRIu64 " bytes", st->path,
		                 p->size);
	for (int s = 0; s < SIDES; s++)
		if (state_check_text(st, "local message id", p->side[s].name, STATE_LOCAL_ID_MAX, true, err) <
		    0)
			return -1;
	if (state_check_text(st, "keyword list", none_if_empty(p->keywords), STATE_KEYWORD_TEXT_MAX, false,
	                     err) < 0 ||
	    state_check_text(st, "content key", none_if_empty(p->content_key), STATE_CONTENT_KEY_MAX, false,
	                     err) < 0)
		return -1;
	return 0;
}

static void bind_id(sqlite3_stmt *stmt, int col, struct store_id id)
{
	if (id.uid)
		sqlite3_bind_int64(stmt, col, id.uid);
	else
		sqlite3_bind_null(stmt, col);
	state_bind_text(stmt, col + 1, id.name);
}

/* Bind a_uid, a_name, b_uid, b_name, flags, keywords, size, content_key,
 * renumbered (kept only while a side has no id) from column `first`
 * on. */
static void bind_fields(sqlite3_stmt *stmt, int first, const struct state_pair *p)
{
	bind_id(stmt, first, p->side[SIDE_A]);
	bind_id(stmt, first + 2, p->side[SIDE_B]);
	sqlite3_bind_int64(stmt, first + 4, p->flags);
	state_bind_text(stmt, first + 5, none_if_empty(p->keywords));
	sqlite3_bind_int64(stmt, first + 6, (sqlite3_int64)p->size);
	state_bind_text(stmt, first + 7, none_if_empty(p->content_key));
	sqlite3_bind_int64(stmt, first + 8,
	                   p->renumbered &&
	                       !(store_id_known(p->side[SIDE_A]) && store_id_known(p->side[SIDE_B])));
}

static int failed(const struct state_pair *p, struct error *err)
{
	char what[128];

	describe(p, what, sizeof(what));
	error_prefix(err, "%s in folder %" PRId64, what, p->folder_id);
	return -1;
}

int state_pair_insert(struct state *st, struct state_pair *p, struct error *err)
{
	sqlite3_stmt *stmt;

	if (check_pair(st, p, err) < 0)
		return failed(p, err);
	stmt = state_stmt(st, ST_PAIR_INSERT,
	                  "INSERT INTO pair (folder_id, a_uid, a_name, b_uid, b_name, flags, keywords, size, "
	                  "content_key, renumbered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                  err);
	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, p->folder_id);
	bind_fields(stmt, 2, p);
	if (state_step_done(st, stmt, "record a message", err) < 0)
		return failed(p, err);
	p->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int state_pair_update(struct state *st, const struct state_pair *p, struct error *err)
{
	sqlite3_stmt *stmt;

	if (check_pair(st, p, err) < 0)
		return failed(p, err);
	stmt = state_stmt(
	    st, ST_PAIR_UPDATE,
	    "UPDATE pair SET a_uid = ?, a_name = ?, b_uid = ?, b_name = ?, flags = ?, keywords = ?, "
	    "size = ?, content_key = ?, renumbered = ? WHERE id = ?",
	    err);
	if (!stmt)
		return -1;
	bind_fields(stmt, 1, p);
	sqlite3_bind_int64(stmt, 10, p->id);
	if (state_step_done(st, stmt, "update a message", err) < 0)
		return failed(p, err);
	if (sqlite3_changes(st->db) != 1) {
		state_bug(st, err, "message pair %" PRId64 " was updated but is not stored", p->id);
		return failed(p, err);
	}
	return 0;
}

int state_pair_set_flags(struct state *st, int64_t id, unsigned flags, const char *keywords,
                         struct error *err)
{
	sqlite3_stmt *stmt;

	if (flags & ~MAIL_FLAGS_ALL)
		return state_bug(st, err, "unknown flag bits 0x%x for message pair %" PRId64,
		                 flags & ~MAIL_FLAGS_ALL, id);
	if (state_check_text(st, "keyword list", none_if_empty(keywords), STATE_KEYWORD_TEXT_MAX, false,
	                     err) < 0)
		return -1;
	stmt = state_stmt(st, ST_PAIR_SET_FLAGS, "UPDATE pair SET flags = ?, keywords = ? WHERE id = ?", err);
	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, flags);
	state_bind_text(stmt, 2, none_if_empty(keywords));
	sqlite3_bind_int64(stmt, 3, id);
	if (state_step_done(st, stmt, "record the flags of a message", err) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return state_bug(st, err, "message pair %" PRId64 " got new flags but is not stored", id);
	return 0;
}

int state_pair_drop_side(struct state *st, int64_t id, enum side side, struct error *err)
{
	sqlite3_stmt *stmt = side == SIDE_A
	                         ? state_stmt(st, ST_PAIR_DROP_A,
	                                      "UPDATE pair SET a_uid = NULL, a_name = NULL WHERE id = ? AND "
	                                      "(b_uid IS NOT NULL OR b_name IS NOT NULL)",
	                                      err)
	                         : state_stmt(st, ST_PAIR_DROP_B,
	                                      "UPDATE pair SET b_uid = NULL, b_name = NULL WHERE id = ? AND "
	                                      "(a_uid IS NOT NULL OR a_name IS NOT NULL)",
	                                      err);

	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	return state_step_done(st, stmt, "forget one side of a message", err);
}

int state_pair_delete(struct state *st, int64_t id, struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(st, ST_PAIR_DELETE, "DELETE FROM pair WHERE id = ?", err);

	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	if (state_step_done(st, stmt, "forget a message", err) < 0)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return state_bug(st, err, "message pair %" PRId64 " was to be forgotten but is not stored",
		                 id);
	return 0;
}

char *state_content_key(const char *message_id, uint64_t size, const char *header_hash)
{
	struct buf out = BUF_INIT;
	const char *id = message_id ? message_id : "";
	size_t len;

	buf_printf(&out, "%" PRIu64 " %s ", size, header_hash && *header_hash ? header_hash : "-");
	/* Folding whitespace around the header value is not part of the id. */
	while (*id == ' ' || *id == '\t' || *id == '\r' || *id == '\n')
		id++;
	len = strlen(id);
	while (len > 0 &&
	       (id[len - 1] == ' ' || id[len - 1] == '\t' || id[len - 1] == '\r' || id[len - 1] == '\n'))
		len--;
	for (size_t i = 0; i < len && out.len < STATE_CONTENT_KEY_MAX; i++) {
		unsigned char c = (unsigned char)id[i];
		buf_append_byte(&out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	/* A key cut in the middle of a very long hash stays a valid key. */
	if (out.len > STATE_CONTENT_KEY_MAX)
		buf_truncate(&out, STATE_CONTENT_KEY_MAX);
	return buf_detach(&out, NULL);
}
