/*
 * The POP3 import against scripted servers: what a real server won't
 * produce (hostile UIDLs, a message cut before its final dot).
 */
#include "test_pop3_support.h"

#include <dirent.h>

#include "twinbox/state/intent.h"
#include "twinbox/state/pop3.h"
#include "twinbox/state/state.h"
#include "twinbox/store/maildir_store.h"
#include "twinbox/store/pop3_store.h"
#include "twinbox/sync/pop3_import.h"
#include "twinbox/util/xmalloc.h"

static char dir[] = "/tmp/twinbox-pop3imp-XXXXXX";
static struct store *local;
static struct state *st;
static struct pop3_import_report rep;

static void setup(void)
{
	char *root, *db;

	cr_assert_not_null(mkdtemp(dir));
	root = xasprintf("%s/mail", dir);
	db = xasprintf("%s/state/t.db", dir);
	local = maildir_store_open(root, MAILDIR_LAYOUT_MAILDIRPP, &err);
	cr_assert_not_null(local);
	cr_assert_eq(state_open(db, STATE_OPEN_CREATE, &st, &err), 0, "%s", err.text);
	free(root);
	free(db);
}

static void teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	pop3_import_report_free(&rep);
	stop_client();
	local->ops->close(local);
	state_close(st);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

TestSuite(pop3_import_scripted, .init = setup, .fini = teardown);

static const struct pop3_import_options opts = {
    .folder = "INBOX", .leave_on_server = true, .now = 1800000000};

static size_t local_files(void)
{
	size_t n = 0;
	const char *subs[] = {"new", "cur"};

	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("%s/mail/%s", dir, subs[i]);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL)
			n += e->d_name[0] != '.';
		if (d)
			closedir(d);
		free(path);
	}
	return n;
}

static size_t known_uidls(const char *want)
{
	struct state_pop3_set set = {0};
	size_t n;

	cr_assert_eq(state_pop3_load(st, &set, &err), 0, "%s", err.text);
	n = set.count;
	if (want)
		cr_assert_not_null(state_pop3_set_find(&set, want), "UIDL %s not recorded", want);
	state_pop3_set_free(&set);
	return n;
}

/* pop3_import() over the scripted client, which the store takes over
 * and ends (QUIT) when it is closed. */
static int import(const struct pop3_import_options *o)
{
	struct store *server = pop3_store_from_client(pc);
	int rc = pop3_import(server, local, st, o, &rep, &err);

	server->ops->close(server);
	pc = NULL;
	return rc;
}

#define MSG "Subject: hi\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n"

Test(pop3_import_scripted, unusable_uidls_are_skipped_the_rest_imported)
{
	char long_uidl[201];

	memset(long_uidl, 'u', 200);
	long_uidl[200] = '\0';
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "UIDL\r\n");
	script_sendf(sc, "+OK\r\n1 good1\r\n2 a/b\r\n3 ..\r\n4 %s\r\n5 twin\r\n6 twin\r\n.\r\n", long_uidl);
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK\r\n1 40\r\n2 40\r\n3 40\r\n4 40\r\n5 40\r\n6 40\r\n.\r\n");
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\n" MSG ".\r\n");
	script_expect(sc, "RETR 2\r\n");
	script_send(sc, "+OK\r\n" MSG ".\r\n");
	script_expect(sc, "QUIT\r\n");
	script_send(sc, "+OK bye\r\n");
	cr_assert_eq(import(&opts), 0, "%s", err.text);
	assert_played();
	cr_assert_eq(rep.downloaded, 2);
	cr_assert_eq(rep.unusable, 4, "\"..\", 200 bytes and both duplicates are skipped");
	cr_assert_eq(local_files(), 2);
	cr_assert_eq(known_uidls("a/b"), 2, "a '/' in a UIDL is data, never a path");
	cr_assert(strstr(buf_cstr(&trace), "used by another message"), "%s", buf_cstr(&trace));
}

Test(pop3_import_scripted, a_message_cut_before_its_dot_is_never_delivered)
{
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "UIDL\r\n");
	script_send(sc, "+OK\r\n1 only\r\n.\r\n");
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK\r\n1 40\r\n.\r\n");
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\nSubject: hi\r\n\r\nhalf a bo");
	script_close(sc);
	cr_assert_eq(import(&opts), -1);
	cr_assert_geq(err.scope, ERR_ACCOUNT);
	cr_assert_eq(local_files(), 0, "no truncated message in the Maildir");
	cr_assert_eq(known_uidls(NULL), 0, "nothing recorded as downloaded");

	/* The next run downloads it whole. */
	stop_client();
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "UIDL\r\n");
	script_send(sc, "+OK\r\n1 only\r\n.\r\n");
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK\r\n1 40\r\n.\r\n");
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\n" MSG ".\r\n");
	script_expect(sc, "QUIT\r\n");
	script_send(sc, "+OK bye\r\n");
	pop3_import_report_free(&rep);
	cr_assert_eq(import(&opts), 0, "%s", err.text);
	cr_assert_eq(local_files(), 1);
	cr_assert_eq(known_uidls("only"), 1);
	{
		struct state_intents set = {0};
		cr_assert_eq(state_intent_list(st, 0, &set, &err), 0);
		cr_assert_eq(set.count, 0, "the interrupted run's intent is resolved");
		state_intents_free(&set);
	}
}

Test(pop3_import_scripted, failed_quit_means_nothing_was_deleted)
{
	struct pop3_import_options o = opts;

	o.leave_on_server = false;
	o.delete_after_download = true;
	login_with_capa(CAPA_BASIC);
	script_expect(sc, "UIDL\r\n");
	script_send(sc, "+OK\r\n1 k1\r\n.\r\n");
	script_expect(sc, "LIST\r\n");
	script_send(sc, "+OK\r\n1 40\r\n.\r\n");
	script_expect(sc, "RETR 1\r\n");
	script_send(sc, "+OK\r\n" MSG ".\r\n");
	script_expect(sc, "DELE 1\r\n");
	script_send(sc, "+OK marked\r\n");
	script_expect(sc, "QUIT\r\n");
	script_send(sc, "-ERR [SYS/TEMP] could not delete\r\n");
	cr_assert_eq(import(&o), -1);
	cr_assert(strstr(err.text, "stay on the server"), "%s", err.text);
	cr_assert_eq(local_files(), 1, "the download itself stands");
	{
		struct state_pop3_set set = {0};
		cr_assert_eq(state_pop3_load(st, &set, &err), 0);
		cr_assert_not(state_pop3_set_find(&set, "k1")->deleted,
		              "not marked deleted: retried next run");
		state_pop3_set_free(&set);
	}
}
