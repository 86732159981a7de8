#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "test_state.h"
#include "twinbox/state/folder.h"
#include "twinbox/util/xmalloc.h"

char state_test_dir[64];

void state_test_setup(void)
{
	strcpy(state_test_dir, "/tmp/twinbox-state-XXXXXX");
	cr_assert_not_null(mkdtemp(state_test_dir));
}

void state_test_teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", state_test_dir);

	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

char *state_test_path(const char *name)
{
	return xasprintf("%s/%s", state_test_dir, name);
}

struct state *state_test_open(const char *name)
{
	char *path = state_test_path(name);
	struct state *st;
	struct error err;

	error_clear(&err);
	cr_assert_eq(state_open(path, STATE_OPEN_CREATE, &st, &err), 0, "open %s: %s", path, err.text);
	free(path);
	return st;
}

int64_t state_test_folder(struct state *st, const char *remote_name, const char *local_path)
{
	struct error err;
	int64_t id;

	cr_assert_eq(state_folder_add(st, remote_name, local_path, &id, &err), 0, "%s", err.text);
	cr_assert_gt(id, 0);
	return id;
}

void state_test_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

int64_t state_test_sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int64_t v;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW, "%s", sql);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}
