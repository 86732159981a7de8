#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_state.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/state/pair.h"
#include "twinbox/state/server.h"
#include "twinbox/state/state.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(state_db, .init = state_test_setup, .fini = state_test_teardown);

static mode_t mode_of(const char *path)
{
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0, "stat %s", path);
	return sb.st_mode & 07777;
}

static void write_file(const char *path, const void *data, size_t len)
{
	struct error err;

	cr_assert_eq(fs_write_atomic(path, data, len, 0600, &err), 0, "%s", err.text);
}

Test(state_db, creates_file_0600_in_new_directory_0700)
{
	char *dir = state_test_path("state/twinbox");
	char *path = state_test_path("state/twinbox/work.db");
	char *wal = state_test_path("state/twinbox/work.db-wal");
	struct state *st;
	struct error err;

	umask(022);
	cr_assert_eq(state_open(path, STATE_OPEN_CREATE, &st, &err), 0, "%s", err.text);
	cr_assert(state_is_new(st));
	cr_assert_str_eq(state_path(st), path);
	state_test_folder(st, "INBOX", "INBOX");
	cr_assert_eq(mode_of(dir), 0700);
	cr_assert_eq(mode_of(path), 0600);
	cr_assert_eq(mode_of(wal), 0600, "the write-ahead log holds the same data");
	state_close(st);
	free(dir);
	free(path);
	free(wal);
}

Test(state_db, missing_file_without_create_is_refused)
{
	char *path = state_test_path("work.db");
	struct state *st;
	struct error err;

	cr_assert_eq(state_open(path, 0, &st, &err), -1);
	cr_assert_null(st);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, path), "names the file: %s", err.text);
	cr_assert(strstr(err.text, "run a sync"), "says what to do: %s", err.text);
	cr_assert_eq(access(path, F_OK), -1, "nothing was created");
	free(path);
}

Test(state_db, reopen_keeps_data)
{
	struct state *st = state_test_open("work.db");
	struct state_folder f;
	struct error err;
	int64_t id = state_test_folder(st, "Archive/2024", ".Archive.2024");

	state_close(st);
	st = state_test_open("work.db");
	cr_assert_not(state_is_new(st), "a reopened state has history");
	cr_assert_eq(state_folder_get(st, id, &f, &err), 1, "%s", err.text);
	cr_assert_str_eq(f.remote_name, "Archive/2024");
	cr_assert_str_eq(f.local_path, ".Archive.2024");
	state_folder_clear(&f);
	state_close(st);
}

/* Folders in the database file as it is on disk, without its log. */
static int64_t folders_in_file(const char *path)
{
	char *uri = xasprintf("file:%s?immutable=1", path);
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int64_t n;

	cr_assert_eq(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM folder", -1, &stmt, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(uri);
	return n;
}

/* Closing leaves what was written in the log (synced, not copied into
 * the file: a run does not wait for the copy); a connection sees it all
 * the same, and state_checkpoint() copies it into the file. */
Test(state_db, close_leaves_the_log_for_a_checkpoint)
{
	char *path = state_test_path("work.db");
	struct state *st = state_test_open("work.db");

	state_test_folder(st, "INBOX", "INBOX");
	state_checkpoint(st);
	cr_assert_eq(folders_in_file(path), 1);
	state_test_folder(st, "Work", ".Work");
	state_close(st);
	cr_assert_eq(folders_in_file(path), 1, "the close copied the log into the file");

	st = state_test_open("work.db");
	cr_assert_eq(state_test_sql_int(path, "SELECT count(*) FROM folder"), 2);
	state_checkpoint(st);
	cr_assert_eq(folders_in_file(path), 2, "the checkpoint left the log uncopied");
	state_close(st);
	free(path);
}

/* Deleting the state is safe (README) though a run leaves its last
 * commits in the log beside it: a new state does not take them up. */
Test(state_db, a_deleted_state_starts_afresh_whatever_it_left_beside_it)
{
	char *path = state_test_path("work.db");
	struct state *st = state_test_open("work.db");
	struct state_folder *list;
	struct error err;
	size_t n;

	state_test_folder(st, "INBOX", "INBOX");
	state_checkpoint(st);
	state_test_folder(st, "Work", ".Work");
	state_close(st);
	cr_assert_eq(unlink(path), 0);

	st = state_test_open("work.db");
	cr_assert(state_is_new(st));
	state_test_folder(st, "Lists", ".Lists");
	state_close(st);
	st = state_test_open("work.db");
	cr_assert_eq(state_folder_list(st, &list, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 1, "%zu folders", n);
	cr_assert_str_eq(list[0].remote_name, "Lists");
	state_folder_list_free(list, n);
	state_close(st);
	free(path);
}

Test(state_db, uses_wal_mode_and_records_version)
{
	char *path = state_test_path("work.db");

	state_close(state_test_open("work.db"));
	/* journal_mode=WAL is stored in the file: another connection sees it. */
	cr_assert_eq(state_test_sql_int(path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	cr_assert_eq(state_test_sql_int(path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	cr_assert_eq(state_test_sql_int(path, "PRAGMA application_id"), 0x54574258);
	free(path);
}

Test(state_db, empty_file_is_initialised)
{
	char *path = state_test_path("work.db");
	struct state *st;

	write_file(path, "", 0);
	st = state_test_open("work.db");
	cr_assert(state_is_new(st));
	state_test_folder(st, "INBOX", "INBOX");
	state_close(st);
	free(path);
}

Test(state_db, version_1_file_is_upgraded_keeping_its_folders)
{
	char *path = state_test_path("work.db");
	struct state *st;
	struct state_folder f;
	struct error err;

	/* A version-1 file: no messages or rules columns (nor what later
	 * versions added). */
	cr_assert_eq(state_create_version(path, 1, &err), 0, "%s", err.text);
	state_test_sql(path, "INSERT INTO folder (remote_name, local_path, uidvalidity, highestmodseq)"
	                     " VALUES ('Archive', '.Archive', 7, 9)");

	st = state_test_open("work.db");
	cr_assert_eq(state_test_sql_int(path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	cr_assert_eq(state_folder_find_remote(st, "Archive", &f, &err), 1, "%s", err.text);
	cr_assert_eq(f.side[SIDE_A].uidvalidity, 7);
	cr_assert_eq(f.side[SIDE_A].highestmodseq, 9);
	cr_assert_eq(f.side[SIDE_A].messages, 0);
	cr_assert_null(f.rules);
	f.side[SIDE_A].messages = 12;
	f.rules = xstrdup("both");
	cr_assert_eq(state_folder_update(st, &f, &err), 0, "%s", err.text);
	state_folder_clear(&f);
	cr_assert_eq(state_folder_find_remote(st, "Archive", &f, &err), 1, "%s", err.text);
	cr_assert_eq(f.side[SIDE_A].messages, 12);
	cr_assert_str_eq(f.rules, "both");
	state_folder_clear(&f);
	state_close(st);
	free(path);
}

/* Version 3 (issue 13): the server the state describes, and renumbered
 * pairs. A version-2 file keeps its pairs, none of them renumbered, and
 * records no server until a sync does. */
Test(state_db, version_2_file_is_upgraded_keeping_its_pairs)
{
	char *path = state_test_path("work.db");
	struct state *st;
	int64_t folder;
	struct state_pairs set;
	struct state_server srv;
	struct error err;

	cr_assert_eq(state_create_version(path, 2, &err), 0, "%s", err.text);
	state_test_sql(path,
	               "INSERT INTO folder (remote_name, local_path) VALUES ('INBOX', 'INBOX');"
	               "INSERT INTO pair (folder_id, uid, local_id, content_key) VALUES (1, 4, 'a', 'k')");
	folder = state_test_sql_int(path, "SELECT id FROM folder WHERE remote_name = 'INBOX'");

	st = state_test_open("work.db");
	cr_assert_eq(state_test_sql_int(path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	cr_assert_eq(state_server_get(st, &srv, &err), 0, "no server recorded yet");
	cr_assert_eq(state_pairs_load(st, folder, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 1);
	cr_assert_eq(set.pairs[0].side[SIDE_A].uid, 4);
	cr_assert(!set.pairs[0].renumbered);
	state_pairs_free(&set);
	state_close(st);
	free(path);
}

/* Version 5 (issue 14): each side's id as its store names it. A
 * version-4 file keeps its folders' markers, now per side, every pair,
 * its UID on side A and its local name on side B, and an intent of a
 * killed run keeps its pair. */
Test(state_db, version_4_file_is_upgraded_keeping_pairs_and_intents)
{
	char *path = state_test_path("work.db");
	struct state *st;
	struct state_folder f;
	struct state_pairs set;
	struct state_intents intents;
	struct error err;

	cr_assert_eq(state_create_version(path, 4, &err), 0, "%s", err.text);
	state_test_sql(
	    path,
	    "INSERT INTO folder (remote_name, local_path, uidvalidity, uidnext, highestmodseq, messages,"
	    " cur_mtime_sec, cur_mtime_nsec, new_mtime_sec, new_mtime_nsec, local_digest, local_files)"
	    " VALUES ('INBOX', 'INBOX', 3, 11, 40, 3, 1700000001, 2, 1700000003, 4, 99, 3);"
	    "INSERT INTO pair (id, folder_id, uid, local_id, flags, keywords, size, content_key)"
	    " VALUES (5, 1, 4, 'a', 1, '$Junk', 120, 'k4'),"
	    " (6, 1, NULL, 'only-local', 0, NULL, 7, NULL),"
	    " (7, 1, 9, NULL, 4, NULL, 8, 'k9');"
	    "UPDATE pair SET renumbered = 1 WHERE id = 6;"
	    "INSERT INTO intent (folder_id, kind, pair_id, local_id, created)"
	    " VALUES (1, 'delete-local', 5, 'a', 1), (1, 'deliver-local', NULL, 'b', 2),"
	    " (1, 'append-remote', NULL, 'c', 3), (1, 'delete-remote', 7, NULL, 4);"
	    "UPDATE intent SET uid = 9 WHERE kind IN ('deliver-local', 'delete-remote')");

	st = state_test_open("work.db");
	cr_assert_eq(state_test_sql_int(path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	/* The remote side's markers are side A's, the Maildir's side B's. */
	cr_assert_eq(state_folder_find_remote(st, "INBOX", &f, &err), 1, "%s", err.text);
	cr_assert_eq(f.side[SIDE_A].uidvalidity, 3);
	cr_assert_eq(f.side[SIDE_A].uidnext, 11);
	cr_assert_eq(f.side[SIDE_A].highestmodseq, 40);
	cr_assert_eq(f.side[SIDE_A].messages, 3);
	cr_assert_eq(f.side[SIDE_A].files, -1, "side A had no listing");
	cr_assert_eq(f.side[SIDE_B].marks[0].tv_sec, 1700000003, "new/ first, as the store gives it");
	cr_assert_eq(f.side[SIDE_B].marks[0].tv_nsec, 4);
	cr_assert_eq(f.side[SIDE_B].marks[1].tv_sec, 1700000001);
	cr_assert_eq(f.side[SIDE_B].marks[1].tv_nsec, 2);
	cr_assert_eq(f.side[SIDE_B].digest, 99);
	cr_assert_eq(f.side[SIDE_B].files, 3);
	cr_assert_eq(f.side[SIDE_B].uidvalidity, 0);
	state_folder_clear(&f);
	cr_assert_eq(state_pairs_load(st, 1, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 3);
	cr_assert_eq(set.pairs[0].id, 6, "the pair without a UID first");
	cr_assert(!store_id_known(set.pairs[0].side[SIDE_A]));
	cr_assert_str_eq(set.pairs[0].side[SIDE_B].name, "only-local");
	cr_assert(set.pairs[0].renumbered);
	cr_assert_eq(set.pairs[1].side[SIDE_A].uid, 4);
	cr_assert_null(set.pairs[1].side[SIDE_A].name);
	cr_assert_str_eq(set.pairs[1].side[SIDE_B].name, "a");
	cr_assert_eq(set.pairs[1].side[SIDE_B].uid, 0);
	cr_assert_eq(set.pairs[1].flags, 1);
	cr_assert_str_eq(set.pairs[1].keywords, "$Junk");
	cr_assert_eq(set.pairs[1].size, 120);
	cr_assert_str_eq(set.pairs[1].content_key, "k4");
	cr_assert_eq(set.pairs[2].side[SIDE_A].uid, 9);
	cr_assert(!store_id_known(set.pairs[2].side[SIDE_B]));
	state_pairs_free(&set);
	cr_assert_eq(state_intent_list(st, 1, &intents, &err), 0, "%s", err.text);
	cr_assert_eq(intents.count, 4);
	cr_assert_eq(intents.intents[0].pair_id, 5, "the intent keeps its pair");
	cr_assert(state_intent_is(&intents.intents[0], STATE_INTENT_DELETE, SIDE_B), "delete-local");
	cr_assert_str_eq(intents.intents[0].msg[SIDE_B].name, "a");
	cr_assert_eq(intents.intents[0].msg[SIDE_A].uid, 0);
	cr_assert(state_intent_is(&intents.intents[1], STATE_INTENT_COPY, SIDE_B), "deliver-local");
	cr_assert_eq(intents.intents[1].msg[SIDE_A].uid, 9, "the UID it copies from");
	cr_assert_str_eq(intents.intents[1].msg[SIDE_B].name, "b", "the name chosen for the copy");
	cr_assert(state_intent_is(&intents.intents[2], STATE_INTENT_COPY, SIDE_A), "append-remote");
	cr_assert_str_eq(intents.intents[2].msg[SIDE_B].name, "c");
	cr_assert(state_intent_is(&intents.intents[3], STATE_INTENT_DELETE, SIDE_A), "delete-remote");
	cr_assert_eq(intents.intents[3].msg[SIDE_A].uid, 9);
	cr_assert_eq(intents.intents[3].pair_id, 7);
	state_intents_free(&intents);
	state_close(st);
	free(path);
}

Test(state_db, newer_schema_is_refused_and_left_alone)
{
	char *path = state_test_path("work.db");
	struct state *st = state_test_open("work.db");
	struct error err;

	state_test_folder(st, "INBOX", "INBOX");
	state_close(st);
	state_test_sql(path, "PRAGMA user_version = 99");

	cr_assert_eq(state_open(path, STATE_OPEN_CREATE, &st, &err), -1);
	cr_assert_null(st);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, path), "names the file: %s", err.text);
	cr_assert(strstr(err.text, "newer twinbox"), "%s", err.text);
	cr_assert(strstr(err.text, "99"), "%s", err.text);
	cr_assert(strstr(err.text, "upgrade twinbox"), "%s", err.text);
	cr_assert_eq(state_test_sql_int(path, "PRAGMA user_version"), 99);
	cr_assert_eq(state_test_sql_int(path, "SELECT count(*) FROM folder"), 1, "data untouched");
	free(path);
}

Test(state_db, garbage_file_is_refused_not_recreated)
{
	static const char garbage[] = "From alice Mon Jan  1 00:00:00 2024\nthis is an mbox, not SQLite\n";
	char big[8192];
	char *path = state_test_path("work.db");
	struct state *st;
	struct error err;
	char *data;
	size_t len;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = garbage[i % (sizeof(garbage) - 1)];
	write_file(path, big, sizeof(big));
	cr_assert_eq(state_open(path, STATE_OPEN_CREATE, &st, &err), -1);
	cr_assert_null(st);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, path), "names the file: %s", err.text);
	cr_assert(strstr(err.text, "damaged"), "%s", err.text);
	cr_assert(strstr(err.text, "backup") && strstr(err.text, "move it aside"), "says what to do: %s",
	          err.text);
	cr_assert_eq(fs_read_file(path, 1 << 20, &data, &len, &err), 0);
	cr_assert_eq(len, sizeof(big));
	cr_assert_eq(memcmp(data, big, len), 0, "the file was not touched");
	free(data);
	free(path);
}

Test(state_db, other_sqlite_database_is_refused)
{
	char *path = state_test_path("work.db");
	char *path2 = state_test_path("other.db");
	struct state *st;
	struct error err;

	state_test_sql(path, "CREATE TABLE messages (id INTEGER)");
	cr_assert_eq(state_open(path, STATE_OPEN_CREATE, &st, &err), -1);
	cr_assert(strstr(err.text, "not a twinbox state"), "%s", err.text);
	cr_assert(strstr(err.text, path), "%s", err.text);

	state_test_sql(path2, "PRAGMA application_id = 1234");
	cr_assert_eq(state_open(path2, STATE_OPEN_CREATE, &st, &err), -1);
	cr_assert(strstr(err.text, "another program"), "%s", err.text);
	free(path);
	free(path2);
}

Test(state_db, transactions_commit_and_roll_back)
{
	struct state *st = state_test_open("work.db");
	struct state_folder f;
	struct error err;
	int64_t a, b;

	cr_assert_not(state_in_transaction(st));
	cr_assert_eq(state_begin(st, &err), 0, "%s", err.text);
	cr_assert(state_in_transaction(st));
	a = state_test_folder(st, "A", "A");
	cr_assert_eq(state_commit(st, &err), 0, "%s", err.text);
	cr_assert_not(state_in_transaction(st));

	cr_assert_eq(state_begin(st, &err), 0, "%s", err.text);
	b = state_test_folder(st, "B", "B");
	state_rollback(st);
	cr_assert_not(state_in_transaction(st));
	state_rollback(st); /* none open: harmless */

	cr_assert_eq(state_folder_get(st, a, &f, &err), 1);
	state_folder_clear(&f);
	cr_assert_eq(state_folder_get(st, b, &f, &err), 0, "rolled back");

	cr_assert_eq(state_begin(st, &err), 0, "%s", err.text);
	state_test_folder(st, "C", "C");
	cr_assert_eq(state_commit_durable(st, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_find_remote(st, "C", &f, &err), 1);
	state_folder_clear(&f);
	state_close(st);
}

Test(state_db, misuse_of_transactions_is_a_bug)
{
	struct state *st = state_test_open("work.db");
	struct error err;

	cr_assert_eq(state_commit(st, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "bug"), "%s", err.text);
	cr_assert_eq(state_begin(st, &err), 0);
	cr_assert_eq(state_begin(st, &err), -1);
	cr_assert(strstr(err.text, "inside another"), "%s", err.text);
	cr_assert(state_in_transaction(st), "the outer transaction is still open");
	state_close(st);
}

Test(state_db, close_with_open_transaction_rolls_back)
{
	struct state *st = state_test_open("work.db");
	struct state_folder f;
	struct error err;

	cr_assert_eq(state_begin(st, &err), 0);
	state_test_folder(st, "INBOX", "INBOX");
	state_close(st);
	st = state_test_open("work.db");
	cr_assert_eq(state_folder_find_remote(st, "INBOX", &f, &err), 0);
	state_close(st);
}

/* Without a busy timeout the second writer would fail at once. */
Test(state_db, writer_waits_for_another_connection)
{
	struct state *st = state_test_open("work.db");
	struct error err;
	int ready[2];
	pid_t pid;
	char c;
	int status;

	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct state *child = state_test_open("work.db");
		if (state_begin(child, &err) < 0)
			_exit(1);
		state_test_folder(child, "child", "child");
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		usleep(300 * 1000);
		_exit(state_commit(child, &err) == 0 ? 0 : 3);
	}
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_assert_eq(state_begin(st, &err), 0, "waited for the other writer: %s", err.text);
	state_test_folder(st, "parent", "parent");
	cr_assert_eq(state_commit(st, &err), 0, "%s", err.text);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	state_close(st);
}

Test(state_db, constraint_violation_is_a_fatal_bug_with_context)
{
	struct state *st = state_test_open("work.db");
	int64_t folder = state_test_folder(st, "INBOX", "INBOX");
	struct state_pair a = {.folder_id = folder, .side = {{7, NULL}, {0, "one"}}};
	struct state_pair b = {.folder_id = folder, .side = {{7, NULL}, {0, "two"}}};
	struct error err;

	cr_assert_eq(state_pair_insert(st, &a, &err), 0, "%s", err.text);
	cr_assert_eq(state_pair_insert(st, &b, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "UID 7"), "which message: %s", err.text);
	cr_assert(strstr(err.text, "UNIQUE"), "what SQLite said: %s", err.text);
	cr_assert(strstr(err.text, "bug"), "%s", err.text);
	cr_assert(strstr(err.text, state_path(st)), "%s", err.text);
	state_close(st);
}

/* A file size limit makes writes fail the way a full disk does. */
Test(state_db, write_failure_is_fatal_and_names_the_file)
{
	struct state *st = state_test_open("work.db");
	int64_t folder = state_test_folder(st, "INBOX", "INBOX");
	struct rlimit lim = {256 * 1024, 256 * 1024};
	struct error err;
	char id[32];
	int rc = 0;

	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(state_begin(st, &err), 0);
	for (uint32_t uid = 1; uid <= 100000 && rc == 0; uid++) {
		struct state_pair p = {.folder_id = folder, .side = {{uid, NULL}, {0, id}}};
		snprintf(id, sizeof(id), "%u.M1P2.host", uid);
		rc = state_pair_insert(st, &p, &err);
	}
	if (rc == 0)
		rc = state_commit(st, &err);
	cr_assert_eq(rc, -1, "the writes cannot all fit in 256 KiB");
	cr_assert_eq(err.scope, ERR_FATAL, "%s", err.text);
	cr_assert(strstr(err.text, state_path(st)), "%s", err.text);
	cr_assert(strstr(err.text, "disk"), "says where to look: %s", err.text);
	state_rollback(st);
	state_close(st);
}

Test(state_db, check_passes_on_a_sound_file)
{
	struct state *st = state_test_open("work.db");
	struct error err;

	state_test_folder(st, "INBOX", "INBOX");
	cr_assert_eq(state_check(st, &err), 0, "%s", err.text);
	state_close(st);
}

Test(state_db, directory_in_place_of_file_is_refused)
{
	char *path = state_test_path("work.db");
	struct state *st;
	struct error err;

	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(state_open(path, STATE_OPEN_CREATE, &st, &err), -1);
	cr_assert(strstr(err.text, "not a regular file"), "%s", err.text);
	free(path);
}

/* A file whose header is fine but whose pages are not: open works (it
 * reads little), the first query that meets the damage fails clearly, and
 * state_check() finds it without needing that query. */
Test(state_db, damaged_pages_are_reported_with_advice)
{
	char *path = state_test_path("work.db");
	struct state *st = state_test_open("work.db");
	int64_t folder = state_test_folder(st, "INBOX", "INBOX");
	struct state_pairs set;
	struct error err;
	char junk[4096];
	char id[32];
	int fd;

	cr_assert_eq(state_begin(st, &err), 0);
	for (uint32_t uid = 1; uid <= 2000; uid++) {
		struct state_pair p = {.folder_id = folder, .side = {{uid, NULL}, {0, id}}};
		snprintf(id, sizeof(id), "%u.M1P2.host", uid);
		cr_assert_eq(state_pair_insert(st, &p, &err), 0, "%s", err.text);
	}
	cr_assert_eq(state_commit(st, &err), 0);
	state_close(st);
	/* Another program folds the log into the file (and removes it). */
	state_test_sql(path, "PRAGMA wal_checkpoint(TRUNCATE)");

	memset(junk, 0x5a, sizeof(junk));
	fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	for (off_t page = 2; page < 12; page++)
		cr_assert_eq(pwrite(fd, junk, sizeof(junk), page * 4096), (ssize_t)sizeof(junk));
	close(fd);

	cr_assert_eq(state_open(path, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_check(st, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, path) && strstr(err.text, "damaged"), "%s", err.text);
	cr_assert_eq(state_pairs_load(st, folder, &set, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "damaged") && strstr(err.text, "backup"), "%s", err.text);
	state_close(st);
	free(path);
}
