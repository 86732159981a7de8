#include "twinbox/state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state_p.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;

static const char corrupt_advice[] =
    "the file is damaged; restore it from a backup, or move it aside so that twinbox starts a new state "
    "(the next sync then pairs the messages of both sides again by content)";

int state_fail(struct state *st, int rc, struct error *err, const char *what_fmt, ...)
{
	/* The connection's message is more precise, but only if it is about
	 * this failure (rc may come from a direct VFS call). */
	const char *detail =
	    st->db && sqlite3_extended_errcode(st->db) == rc ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	char what[512];
	va_list ap;

	va_start(ap, what_fmt);
	vsnprintf(what, sizeof(what), what_fmt, ap);
	va_end(ap);

	switch (rc & 0xff) {
	case SQLITE_FULL:
		return error_set(
		    err, ERR_FATAL,
		    "state database %s: cannot %s: the disk is full (%s); free some space and run "
		    "twinbox again",
		    st->path, what, detail);
	case SQLITE_IOERR:
		return error_set(
		    err, ERR_FATAL,
		    "state database %s: cannot %s: input/output error (%s); check the disk and the "
		    "file system",
		    st->path, what, detail);
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_READONLY:
		return error_set(
		    err, ERR_FATAL,
		    "state database %s: cannot %s: %s; check that the file, its directory and the "
		    "files next to it ending in -wal and -shm are writable by you",
		    st->path, what, detail);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return error_set(err, ERR_FATAL, "state database %s: cannot %s: %s; %s", st->path, what,
		                 detail, corrupt_advice);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return error_set(
		    err, ERR_ACCOUNT,
		    "state database %s: cannot %s: the file is still in use by another program after "
		    "%d s (%s); is an sqlite3 shell or a backup tool holding it open?",
		    st->path, what, STATE_BUSY_TIMEOUT_MS / 1000, detail);
	case SQLITE_CONSTRAINT:
		return error_set(
		    err, ERR_FATAL,
		    "state database %s: cannot %s: %s; this is a bug in twinbox, please report it "
		    "(the state file was not changed by this step)",
		    st->path, what, detail);
	default:
		return error_set(err, ERR_FATAL, "state database %s: cannot %s: %s (SQLite error %d)",
		                 st->path, what, detail, rc);
	}
}

int state_bug(struct state *st, struct error *err, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return error_set(err, ERR_FATAL, "state database %s: %s; this is a bug in twinbox, please report it",
	                 st->path, text);
}

sqlite3_stmt *state_stmt(struct state *st, enum state_stmt id, const char *sql, struct error *err)
{
	sqlite3_stmt *stmt = st->stmts[id];

	if (!stmt) {
		int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
		if (rc != SQLITE_OK) {
			state_fail(st, rc, err, "prepare a query");
			return NULL;
		}
		st->stmts[id] = stmt;
		return stmt;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return stmt;
}

void state_writer_take(struct state *st)
{
	st->wrote = true;
	if (!st->writer) {
		pthread_mutex_lock(&writer_lock);
		st->writer = true;
	}
}

void state_writer_settle(struct state *st)
{
	if (st->writer && sqlite3_get_autocommit(st->db)) {
		st->writer = false;
		pthread_mutex_unlock(&writer_lock);
	}
}

int state_count_of(struct state *st, enum state_stmt stmt_id, const char *sql, int64_t id, const char *what,
                   int64_t *count_r, struct error *err)
{
	sqlite3_stmt *stmt = state_stmt(st, stmt_id, sql, err);
	int rc;

	if (!stmt)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	*count_r = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW)
		return state_fail(st, rc, err, "%s", what);
	return 0;
}

int state_step_done(struct state *st, sqlite3_stmt *stmt, const char *what, struct error *err)
{
	int rc;

	if (!sqlite3_stmt_readonly(stmt))
		state_writer_take(st);
	rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE; /* PRAGMAs answer with their new value */
	if (rc != SQLITE_DONE) {
		state_fail(st, rc, err, "%s", what);
		sqlite3_reset(stmt);
		state_writer_settle(st);
		return -1;
	}
	sqlite3_reset(stmt);
	state_writer_settle(st);
	return 0;
}

int state_bind_text(sqlite3_stmt *stmt, int col, const char *text)
{
	if (!text)
		return sqlite3_bind_null(stmt, col);
	return sqlite3_bind_text(stmt, col, text, -1, SQLITE_STATIC);
}

int state_bind_id(sqlite3_stmt *stmt, int col, int64_t id)
{
	if (id == 0)
		return sqlite3_bind_null(stmt, col);
	return sqlite3_bind_int64(stmt, col, id);
}

int state_check_text(struct state *st, const char *what, const char *text, size_t max, bool no_slash,
                     struct error *err)
{
	size_t len;

	if (!text)
		return 0;
	len = strnlen(text, max + 1);
	if (len == 0)
		return error_set(err, ERR_MESSAGE, "state database %s: refusing an empty %s", st->path, what);
	if (len > max)
		return error_set(err, ERR_MESSAGE, "state database %s: refusing a %s longer than %zu bytes",
		                 st->path, what, max);
	for (size_t i = 0; no_slash && i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return error_set(
			    err, ERR_MESSAGE,
			    "state database %s: refusing %s \"%.64s\": it holds '/' or a control "
			    "character",
			    st->path, what, text);
	}
	return 0;
}

/* Run one statement that returns nothing we need; for setup only. */
static int exec_sql(struct state *st, const char *sql, const char *what, struct error *err)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return state_fail(st, rc, err, "%s", what);
	return 0;
}

static int query_int(struct state *st, const char *sql, const char *what, int64_t *value_r, struct error *err)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return state_fail(st, rc, err, "%s", what);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*value_r = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		state_fail(st, rc, err, "%s", what);
	sqlite3_finalize(stmt);
	return rc == SQLITE_OK ? 0 : -1;
}

static int query_text(struct state *st, const char *sql, const char *what, char *out, size_t size,
                      struct error *err)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return state_fail(st, rc, err, "%s", what);
	out[0] = '\0';
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const unsigned char *text = sqlite3_column_text(stmt, 0);
		snprintf(out, size, "%s", text ? (const char *)text : "");
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		state_fail(st, rc, err, "%s", what);
	sqlite3_finalize(stmt);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Create the file ourselves so that it gets mode 0600 from the start;
 * SQLite gives its -wal and -shm files the mode of the database file. */
static int create_file(struct state *st, unsigned flags, bool *created_r, struct error *err)
{
	static const char *const leftovers[] = {"-wal", "-shm", "-journal"};
	char *dir, *slash;
	struct stat sb;
	int fd;

	*created_r = false;
	if (stat(st->path, &sb) == 0) {
		if (!S_ISREG(sb.st_mode))
			return error_set(err, ERR_FATAL,
			                 "state database %s: it is not a regular file; move it away",
			                 st->path);
		return 0;
	}
	if (errno != ENOENT)
		return error_errno(err, ERR_FATAL, errno, "state database %s: cannot use it", st->path);
	if (!(flags & STATE_OPEN_CREATE))
		return error_set(
		    err, ERR_ACCOUNT,
		    "state database %s does not exist: this account has not been synced yet (or its "
		    "state was moved away); run a sync to create it",
		    st->path);

	/* A log left beside a file that was deleted (a run leaves its last
	 * commits in the log: state_close) belongs to that file; it must
	 * never be taken for the new one's. */
	for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
		char *side = xasprintf("%s%s", st->path, leftovers[i]);
		int rc = unlink(side);
		int e = errno;
		free(side);
		if (rc < 0 && e != ENOENT)
			return error_errno(
			    err, ERR_FATAL, e,
			    "state database %s: cannot remove the %s file a deleted state left", st->path,
			    leftovers[i]);
	}
	dir = xstrdup(st->path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (fs_mkdir_p(dir, 0700, err) < 0) {
			error_escalate(err, ERR_FATAL);
			error_prefix(err, "state database %s", st->path);
			free(dir);
			return -1;
		}
	}
	fd = open(st->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno != EEXIST) {
		int e = errno;
		free(dir);
		return error_errno(err, ERR_FATAL, e, "state database %s: cannot create it", st->path);
	}
	if (fd >= 0) {
		close(fd);
		*created_r = true;
		/* The directory entry must survive a power loss along with the
		 * first commits, or the next run would find no state at all. */
		if (slash && slash != dir && fs_fsync_dir(dir, err) < 0) {
			error_escalate(err, ERR_FATAL);
			free(dir);
			return -1;
		}
	}
	free(dir);
	return 0;
}

/* Read the schema version and decide whether this file is ours. */
static int check_identity(struct state *st, int64_t *version_r, struct error *err)
{
	int64_t app_id, tables;

	/* The first read of the file: garbage shows up here as NOTADB. */
	if (query_int(st, "PRAGMA user_version", "read the schema version", version_r, err) < 0 ||
	    query_int(st, "PRAGMA application_id", "read the application id", &app_id, err) < 0)
		return -1;
	if (app_id != 0 && app_id != STATE_APPLICATION_ID)
		return error_set(
		    err, ERR_FATAL,
		    "state database %s is an SQLite file of another program (application id 0x%08llx), "
		    "not a twinbox state; check `state_dir:` in the config and move the file away",
		    st->path, (unsigned long long)(uint32_t)app_id);
	if (*version_r > STATE_SCHEMA_VERSION)
		return error_set(
		    err, ERR_FATAL,
		    "state database %s was written by a newer twinbox (schema version %lld; this "
		    "twinbox knows up to %d); upgrade twinbox to sync this account, and keep the file: "
		    "it records which messages are already synced",
		    st->path, (long long)*version_r, STATE_SCHEMA_VERSION);
	if (*version_r < 0)
		return error_set(err, ERR_FATAL, "state database %s has an invalid schema version %lld; %s",
		                 st->path, (long long)*version_r, corrupt_advice);
	if (*version_r == 0) {
		if (query_int(st, "SELECT count(*) FROM sqlite_schema", "read the schema", &tables, err) < 0)
			return -1;
		if (tables != 0)
			return error_set(
			    err, ERR_FATAL,
			    "state database %s holds tables but no twinbox schema: it is not a "
			    "twinbox state; check `state_dir:` in the config and move the file away",
			    st->path);
	}
	return 0;
}

static int configure(struct state *st, struct error *err)
{
	char mode[32];

	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STATE_BUSY_TIMEOUT_MS);
	/* A damaged or hostile file must not be able to run code through
	 * triggers or views, nor be written past what SQL allows. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, (int *)NULL);
	/* The last connection to close would copy the log into the file and
	 * sync both (8-10 ms at the end of every run, most of a quick
	 * resync's local time); state_close syncs the log alone, and the
	 * copy is made by the next run while it waits on the server
	 * (state_checkpoint), or by SQLite once the log is 1,000 pages. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);

	if (query_text(st, "PRAGMA journal_mode=WAL", "switch to WAL mode", mode, sizeof(mode), err) < 0)
		return -1;
	if (strcmp(mode, "wal") != 0)
		return error_set(
		    err, ERR_FATAL,
		    "state database %s: cannot switch to WAL mode (the file system gave \"%s\"); put "
		    "`state_dir:` on a local file system",
		    st->path, mode);
	/* A small page cache (128 KB): pairs are read once per folder and
	 * run, the kernel keeps the file anyway, and every parallel folder
	 * has a connection of its own (32 MB each made 100,000 messages cost
	 * more memory than mbsync; 1 MB was still 0.5 MB of a 10 MB peak). */
	return exec_sql(st,
	                "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA "
	                "cache_size=-128; PRAGMA journal_size_limit=4194304",
	                "configure the connection", err);
}

static int upgrade(struct state *st, int64_t version, struct error *err)
{
	if (version == STATE_SCHEMA_VERSION)
		return 0;
	state_writer_take(st);
	if (exec_sql(st, "BEGIN IMMEDIATE", "start the schema upgrade", err) < 0) {
		state_writer_settle(st);
		return -1;
	}
	/* Another connection may have upgraded while we waited for the lock. */
	if (check_identity(st, &version, err) < 0 || state_migrate(st, (int)version, err) < 0 ||
	    exec_sql(st, "COMMIT", "commit the schema upgrade", err) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		state_writer_settle(st);
		return -1;
	}
	state_writer_settle(st);
	/* A new file's tables, or an upgrade that rebuilt some, fill the
	 * log with pages the next writes would carry along: they go into
	 * the database file now, and the log starts empty. Only a busy
	 * reader can keep them in the log; then the next checkpoint will. */
	sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	if (version == 0)
		st->is_new = true;
	else
		log_debug("state database %s: schema upgraded from version %lld to %d", st->path,
		          (long long)version, STATE_SCHEMA_VERSION);
	return 0;
}

int state_open(const char *path, unsigned flags, struct state **st_r, struct error *err)
{
	struct state *st = xcalloc(1, sizeof(*st));
	int64_t version = 0;
	bool created;
	int rc;

	*st_r = NULL;
	st->path = xstrdup(path);
	if (create_file(st, flags, &created, err) < 0)
		goto fail;
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		state_fail(st, rc, err, "open it");
		goto fail;
	}
	if (check_identity(st, &version, err) < 0 || configure(st, err) < 0 || upgrade(st, version, err) < 0)
		goto fail;
	log_debug("state database %s: opened (schema version %d%s)", path, STATE_SCHEMA_VERSION,
	          st->is_new ? ", new" : "");
	*st_r = st;
	return 0;
fail:
	state_close(st);
	return -1;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	if (st->db && !sqlite3_get_autocommit(st->db)) {
		log_debug("state database %s: closing with an open transaction; rolling it back", st->path);
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (st->db)
		state_writer_settle(st);
	if (st->db && st->wrote) {
		struct error err;
		if (state_sync_log(st, &err) < 0)
			log_warn("%s", err.text);
	}
	for (size_t i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		log_warn("state database %s: cannot close it cleanly: %s", st->path, sqlite3_errmsg(st->db));
	free(st->path);
	free(st);
}

void state_checkpoint(struct state *st)
{
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_debug("state database %s: checkpoint not made: %s", st->path, sqlite3_errmsg(st->db));
}

const char *state_path(const struct state *st)
{
	return st->path;
}

bool state_is_new(const struct state *st)
{
	return st->is_new;
}

bool state_in_transaction(const struct state *st)
{
	return !sqlite3_get_autocommit(st->db);
}
