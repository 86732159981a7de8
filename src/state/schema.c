/*
 * The schema and its forward migrations. Step N turns a version N-1 file
 * into version N; a new file runs every step. A step is never edited
 * once released: a change is a new step (and STATE_SCHEMA_VERSION + 1).
 * All steps run in the one transaction state_open() holds, so a crash
 * mid-way leaves the file at its old version.
 */
#include <stdio.h>

#include "state_p.h"

struct migration {
	int version; /* the version this step produces */
	const char *sql;
};

/* STRICT tables: a value of the wrong type is an error, not a silent
 * conversion. uid 0 and empty strings are never stored; "absent" is NULL,
 * so that the unique indexes ignore it. */
static const char schema_v1[] =
    "PRAGMA application_id = 1415004760;" /* STATE_APPLICATION_ID */

    "CREATE TABLE folder ("
    " id INTEGER PRIMARY KEY,"
    " remote_name TEXT NOT NULL UNIQUE CHECK (remote_name <> ''),"
    " local_path TEXT NOT NULL UNIQUE CHECK (local_path <> ''),"
    " uidvalidity INTEGER NOT NULL DEFAULT 0 CHECK (uidvalidity BETWEEN 0 AND 4294967295),"
    " uidnext INTEGER NOT NULL DEFAULT 0 CHECK (uidnext BETWEEN 0 AND 4294967295),"
    " highestmodseq INTEGER NOT NULL DEFAULT 0 CHECK (highestmodseq >= 0),"
    " cur_mtime_sec INTEGER NOT NULL DEFAULT 0,"
    " cur_mtime_nsec INTEGER NOT NULL DEFAULT 0 CHECK (cur_mtime_nsec BETWEEN 0 AND 999999999),"
    " new_mtime_sec INTEGER NOT NULL DEFAULT 0,"
    " new_mtime_nsec INTEGER NOT NULL DEFAULT 0 CHECK (new_mtime_nsec BETWEEN 0 AND 999999999),"
    " last_sync INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"

    "CREATE TABLE pair ("
    " id INTEGER PRIMARY KEY,"
    " folder_id INTEGER NOT NULL REFERENCES folder(id) ON DELETE CASCADE,"
    " uid INTEGER CHECK (uid BETWEEN 1 AND 4294967295),"
    " local_id TEXT CHECK (local_id <> ''),"
    " flags INTEGER NOT NULL DEFAULT 0 CHECK (flags >= 0),"
    " keywords TEXT CHECK (keywords <> ''),"
    " size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),"
    " content_key TEXT CHECK (content_key <> ''),"
    " CHECK (uid IS NOT NULL OR local_id IS NOT NULL)"
    ") STRICT;"
    "CREATE UNIQUE INDEX pair_uid ON pair (folder_id, uid);"
    "CREATE UNIQUE INDEX pair_local ON pair (folder_id, local_id);"
    /* Re-matching by content, in one folder or across folders. */
    "CREATE INDEX pair_content ON pair (content_key, folder_id) WHERE content_key IS NOT NULL;"

    /* folder_id RESTRICT: a folder is not forgotten while work on it is
     * in flight. */
    "CREATE TABLE intent ("
    " id INTEGER PRIMARY KEY,"
    " folder_id INTEGER REFERENCES folder(id) ON DELETE RESTRICT,"
    " kind TEXT NOT NULL CHECK (kind IN ('append-remote', 'deliver-local', 'pop3-download',"
    "  'delete-remote', 'delete-local', 'pop3-delete')),"
    " pair_id INTEGER REFERENCES pair(id) ON DELETE SET NULL,"
    " uid INTEGER CHECK (uid BETWEEN 1 AND 4294967295),"
    " local_id TEXT,"
    " remote TEXT,"
    " content_key TEXT,"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX intent_folder ON intent (folder_id);"
    "CREATE INDEX intent_pair ON intent (pair_id) WHERE pair_id IS NOT NULL;"

    "CREATE TABLE pop3_uidl ("
    " uidl TEXT PRIMARY KEY NOT NULL CHECK (uidl <> ''),"
    " downloaded INTEGER NOT NULL,"
    " local_id TEXT,"
    " deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))"
    ") STRICT, WITHOUT ROWID;";

/* Version 2: what skipping an unchanged folder needs besides the
 * markers of version 1: the remote message count (an expunge and an
 * append together leave UIDNEXT and, without QRESYNC, HIGHESTMODSEQ
 * telling nothing) and the rules the markers were taken under. */
static const char schema_v2[] = "ALTER TABLE folder ADD COLUMN messages INTEGER NOT NULL DEFAULT 0"
                                " CHECK (messages BETWEEN 0 AND 4294967295);"
                                "ALTER TABLE folder ADD COLUMN rules TEXT CHECK (rules <> '');";

/* Version 3: the server the state describes (an account's host, port
 * and user: a different one is not the server whose UIDs the pairs
 * hold), and per pair whether its UID was forgotten because the server
 * renumbered the folder (UIDVALIDITY) or was replaced: such a message is
 * matched by content again or, when the server no longer has it,
 * uploaded again; a pair that lost its UID because the message was
 * deleted on the server is not. */
static const char schema_v3[] =
    "CREATE TABLE server ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " host TEXT NOT NULL,"
    " port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),"
    " user TEXT NOT NULL"
    ") STRICT;"
    "ALTER TABLE pair ADD COLUMN renumbered INTEGER NOT NULL DEFAULT 0 CHECK (renumbered IN (0, 1));";

/* Version 4: the Maildir folder's listing as the last sync left it
 * (store_listing: a digest of its file names and their count; -1 files:
 * not known), which proves it unchanged where its directory times, just
 * changed by that sync, cannot. */
static const char schema_v4[] = "ALTER TABLE folder ADD COLUMN local_digest INTEGER NOT NULL DEFAULT 0;"
                                "ALTER TABLE folder ADD COLUMN local_files INTEGER NOT NULL DEFAULT -1"
                                " CHECK (local_files >= -1);";

/* Version 5: the state written once for two sides, A and B. A
 * message's id on each side as that side's store names it,
 * a UID or a name on either side (two IMAP sides, a POP3 side), where
 * version 1 had a remote UID and a local name. The table is rebuilt: its
 * check that a pair has a side named the old columns. Dropping the old
 * table lets go of the intents' pairs (ON DELETE SET NULL), so they are
 * put back from a copy. The indexes of the kinds of id version 4 had
 * hold every row (loading walks side A's in order, NULLs first); those
 * of the new kinds only the rows that use them, so that an account of
 * today's kind writes no more than before. */
static const char schema_v5[] =
    "CREATE TABLE pair_v5 ("
    " id INTEGER PRIMARY KEY,"
    " folder_id INTEGER NOT NULL REFERENCES folder(id) ON DELETE CASCADE,"
    " a_uid INTEGER CHECK (a_uid BETWEEN 1 AND 4294967295),"
    " a_name TEXT CHECK (a_name <> ''),"
    " b_uid INTEGER CHECK (b_uid BETWEEN 1 AND 4294967295),"
    " b_name TEXT CHECK (b_name <> ''),"
    " flags INTEGER NOT NULL DEFAULT 0 CHECK (flags >= 0),"
    " keywords TEXT CHECK (keywords <> ''),"
    " size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),"
    " content_key TEXT CHECK (content_key <> ''),"
    " renumbered INTEGER NOT NULL DEFAULT 0 CHECK (renumbered IN (0, 1)),"
    " CHECK (a_uid IS NULL OR a_name IS NULL),"
    " CHECK (b_uid IS NULL OR b_name IS NULL),"
    " CHECK (coalesce(a_uid, a_name, b_uid, b_name) IS NOT NULL)"
    ") STRICT;"
    "INSERT INTO pair_v5 (id, folder_id, a_uid, b_name, flags, keywords, size, content_key, renumbered)"
    " SELECT id, folder_id, uid, local_id, flags, keywords, size, content_key, renumbered FROM pair;"
    "CREATE TEMP TABLE intent_pair AS SELECT id, pair_id FROM intent WHERE pair_id IS NOT NULL;"
    "DROP TABLE pair;"
    "ALTER TABLE pair_v5 RENAME TO pair;"
    "UPDATE intent SET pair_id = (SELECT t.pair_id FROM temp.intent_pair t WHERE t.id = intent.id)"
    " WHERE id IN (SELECT id FROM temp.intent_pair);"
    "DROP TABLE temp.intent_pair;"
    "CREATE UNIQUE INDEX pair_a_uid ON pair (folder_id, a_uid);"
    "CREATE UNIQUE INDEX pair_a_name ON pair (folder_id, a_name) WHERE a_name IS NOT NULL;"
    "CREATE UNIQUE INDEX pair_b_uid ON pair (folder_id, b_uid) WHERE b_uid IS NOT NULL;"
    "CREATE UNIQUE INDEX pair_b_name ON pair (folder_id, b_name);"
    "CREATE INDEX pair_content ON pair (content_key, folder_id) WHERE content_key IS NOT NULL;"

    /* Each side's folder markers, whatever its store: those version 1
     * kept for the remote side become side A's, those of the Maildir
     * side B's (its new/ and cur/ times in the order of
     * store_folder_info.marks), and each side gets the kind it lacked. */
    "ALTER TABLE folder RENAME COLUMN uidvalidity TO a_uidvalidity;"
    "ALTER TABLE folder RENAME COLUMN uidnext TO a_uidnext;"
    "ALTER TABLE folder RENAME COLUMN highestmodseq TO a_highestmodseq;"
    "ALTER TABLE folder RENAME COLUMN messages TO a_messages;"
    "ALTER TABLE folder RENAME COLUMN new_mtime_sec TO b_mark0_sec;"
    "ALTER TABLE folder RENAME COLUMN new_mtime_nsec TO b_mark0_nsec;"
    "ALTER TABLE folder RENAME COLUMN cur_mtime_sec TO b_mark1_sec;"
    "ALTER TABLE folder RENAME COLUMN cur_mtime_nsec TO b_mark1_nsec;"
    "ALTER TABLE folder RENAME COLUMN local_digest TO b_digest;"
    "ALTER TABLE folder RENAME COLUMN local_files TO b_files;"
    "ALTER TABLE folder ADD COLUMN a_mark0_sec INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE folder ADD COLUMN a_mark0_nsec INTEGER NOT NULL DEFAULT 0"
    " CHECK (a_mark0_nsec BETWEEN 0 AND 999999999);"
    "ALTER TABLE folder ADD COLUMN a_mark1_sec INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE folder ADD COLUMN a_mark1_nsec INTEGER NOT NULL DEFAULT 0"
    " CHECK (a_mark1_nsec BETWEEN 0 AND 999999999);"
    "ALTER TABLE folder ADD COLUMN a_digest INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE folder ADD COLUMN a_files INTEGER NOT NULL DEFAULT -1 CHECK (a_files >= -1);"
    "ALTER TABLE folder ADD COLUMN b_uidvalidity INTEGER NOT NULL DEFAULT 0"
    " CHECK (b_uidvalidity BETWEEN 0 AND 4294967295);"
    "ALTER TABLE folder ADD COLUMN b_uidnext INTEGER NOT NULL DEFAULT 0"
    " CHECK (b_uidnext BETWEEN 0 AND 4294967295);"
    "ALTER TABLE folder ADD COLUMN b_highestmodseq INTEGER NOT NULL DEFAULT 0"
    " CHECK (b_highestmodseq >= 0);"
    "ALTER TABLE folder ADD COLUMN b_messages INTEGER NOT NULL DEFAULT 0"
    " CHECK (b_messages BETWEEN 0 AND 4294967295);"

    /* Intents name the side they act on and the message's id per side:
     * append-remote and deliver-local are copies to side A and to side
     * B, delete-remote and delete-local deletions on either; the remote
     * UID was side A's id, the local name side B's. Rebuilt after the
     * pairs, whose ids they keep. */
    "CREATE TABLE intent_v5 ("
    " id INTEGER PRIMARY KEY,"
    " folder_id INTEGER REFERENCES folder(id) ON DELETE RESTRICT,"
    " kind TEXT NOT NULL CHECK (kind IN ('copy', 'delete', 'pop3-download', 'pop3-delete')),"
    " side INTEGER NOT NULL CHECK (side IN (0, 1)),"
    " pair_id INTEGER REFERENCES pair(id) ON DELETE SET NULL,"
    " a_uid INTEGER CHECK (a_uid BETWEEN 1 AND 4294967295),"
    " a_name TEXT,"
    " b_uid INTEGER CHECK (b_uid BETWEEN 1 AND 4294967295),"
    " b_name TEXT,"
    " remote TEXT,"
    " content_key TEXT,"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "INSERT INTO intent_v5 (id, folder_id, kind, side, pair_id, a_uid, b_name, remote, content_key,"
    " created)"
    " SELECT id, folder_id,"
    "  CASE kind WHEN 'append-remote' THEN 'copy' WHEN 'deliver-local' THEN 'copy'"
    "   WHEN 'delete-remote' THEN 'delete' WHEN 'delete-local' THEN 'delete' ELSE kind END,"
    "  CASE kind WHEN 'append-remote' THEN 0 WHEN 'delete-remote' THEN 0 WHEN 'pop3-delete' THEN 0"
    "   ELSE 1 END,"
    "  pair_id, uid, local_id, remote, content_key, created FROM intent;"
    "DROP TABLE intent;"
    "ALTER TABLE intent_v5 RENAME TO intent;"
    "CREATE INDEX intent_folder ON intent (folder_id);"
    "CREATE INDEX intent_pair ON intent (pair_id) WHERE pair_id IS NOT NULL;";

/* Version 6: what `twinbox status` tells without connecting. Per
 * folder, the messages each side held when its last sync ended (-1: not
 * known, as for a folder not synced since the upgrade), and how its
 * last sync ended: the messages that failed in it, and the error that
 * stopped it or the last failed message's reason, with its time. Per
 * account, its last run (one row): when it started and when it ended
 * (0: it did not, it was killed or is still running), how it ended, why
 * it failed, and when a run last went through. */
static const char schema_v6[] =
    "ALTER TABLE folder ADD COLUMN a_seen INTEGER NOT NULL DEFAULT -1 CHECK (a_seen >= -1);"
    "ALTER TABLE folder ADD COLUMN b_seen INTEGER NOT NULL DEFAULT -1 CHECK (b_seen >= -1);"
    "ALTER TABLE folder ADD COLUMN failed_messages INTEGER NOT NULL DEFAULT 0"
    " CHECK (failed_messages >= 0);"
    "ALTER TABLE folder ADD COLUMN error TEXT CHECK (error <> '');"
    "ALTER TABLE folder ADD COLUMN error_time INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE run ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " started INTEGER NOT NULL DEFAULT 0,"
    " ended INTEGER NOT NULL DEFAULT 0,"
    " result TEXT CHECK (result IN ('ok', 'partial', 'failed')),"
    " error TEXT CHECK (error <> ''),"
    " last_ok INTEGER NOT NULL DEFAULT 0"
    ") STRICT;";

static const struct migration migrations[] = {
    {1, schema_v1}, {2, schema_v2}, {3, schema_v3}, {4, schema_v4}, {5, schema_v5}, {6, schema_v6},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STATE_SCHEMA_VERSION,
               "one migration step per schema version");
_Static_assert(STATE_APPLICATION_ID == 1415004760, "schema_v1 spells the application id in decimal");

/* Run the steps after `from` up to and including `to` on `db`, then
 * record `to` as its version. An SQLite result code. */
static int migrate(sqlite3 *db, int from, int to, int *failed_r)
{
	char sql[64];
	int rc;

	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		if (migrations[i].version <= from || migrations[i].version > to)
			continue;
		rc = sqlite3_exec(db, migrations[i].sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			*failed_r = migrations[i].version;
			return rc;
		}
	}
	/* user_version lives in the file header and is written by this
	 * transaction, so the version and the tables change together. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", to);
	*failed_r = 0;
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int state_migrate(struct state *st, int from, struct error *err)
{
	int failed;
	int rc = migrate(st->db, from, STATE_SCHEMA_VERSION, &failed);

	if (rc == SQLITE_OK)
		return 0;
	if (failed)
		return state_fail(st, rc, err, "upgrade the schema to version %d", failed);
	return state_fail(st, rc, err, "record the schema version");
}

int state_create_version(const char *path, int version, struct error *err)
{
	sqlite3 *db = NULL;
	int failed = 0, rc;

	if (version < 1 || version > STATE_SCHEMA_VERSION)
		return error_set(err, ERR_FATAL, "state database %s: there is no schema version %d", path,
		                 version);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = migrate(db, 0, version, &failed);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		error_set(err, ERR_FATAL, "state database %s: could not create schema version %d: %s", path,
		          version, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}
