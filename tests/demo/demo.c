/*
 * make demo: twinbox's main job on a built-in default. Starts a
 * throwaway Dovecot (IMAP over TLS on 127.0.0.1, its own CA) with sample
 * mail, syncs it into a local Maildir with the real twinbox binary,
 * changes flags and adds and deletes messages on both sides, syncs again,
 * shows what changed, and stops the server. The Maildir is kept for a
 * look with a mail reader.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/dovecot_p.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

static struct dovecot *server;

static void demo_fail(const char *msg)
{
	fprintf(stderr, "demo: %s\n", msg);
	if (server)
		dovecot_stop(server);
	exit(1);
}

static void step(const char *text)
{
	printf("\n== %s\n", text);
	fflush(stdout);
}

/* Run the twinbox binary with its output on our terminal. */
static int twinbox(const char *bin, const char *cfg, const char *arg)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl(bin, bin, "--config", cfg, "sync", arg, (char *)NULL);
		perror(bin);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		demo_fail("cannot run twinbox");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static size_t count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static size_t local_count(const char *mail, const char *sub)
{
	char *cur = xasprintf("%s/%s/cur", mail, sub), *new = xasprintf("%s/%s/new", mail, sub);
	size_t n = count_dir(cur) + count_dir(new);

	free(cur);
	free(new);
	return n;
}

static size_t server_count(const char *mailbox)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(server, mailbox, false, &n);

	dovecot_msgs_free(m, n);
	return n;
}

static void compare(const char *mail)
{
	static const struct {
		const char *mailbox, *dir;
	} folders[] = {{"INBOX", "."}, {"Work/Projects", ".Work.Projects"}, {"Archive", ".Archive"}};

	printf("  %-16s %8s %8s\n", "folder", "server", "Maildir");
	for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++)
		printf("  %-16s %8zu %8zu\n", folders[i].mailbox, server_count(folders[i].mailbox),
		       local_count(mail, folders[i].dir));
}

/* The first file of INBOX's cur/ (or new/), for a local change. */
static char *some_local_file(const char *mail, const char *sub)
{
	char *path = xasprintf("%s/%s", mail, sub);
	DIR *d = opendir(path);
	struct dirent *e;
	char *found = NULL;

	while (d && !found && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			found = xasprintf("%s/%s", path, e->d_name);
	if (d)
		closedir(d);
	free(path);
	return found;
}

int main(void)
{
	const char *bin = getenv("TWINBOX_BIN") ? getenv("TWINBOX_BIN") : "build/twinbox";
	char dir[] = "/tmp/twinbox-demo-XXXXXX";
	char *cfg, *mail, *text, *file, *renamed;
	struct error err;
	int rc;

	dv_fail_handler = demo_fail;
	if (!mkdtemp(dir))
		demo_fail("cannot make a temporary directory");
	step("Starting a throwaway Dovecot with sample mail");
	server = dovecot_start();
	printf("  IMAP over TLS on 127.0.0.1:%u, certificate from its own CA (%s)\n", server->imaps_port,
	       server->ca_file);
	dovecot_seed(server, "INBOX", 25, 1, 40000);
	dovecot_seed(server, "Work/Projects", 8, 100, 0);
	dovecot_seed(server, "Archive", 5, 200, 0);
	dovecot_flags(server, "INBOX", 1, "add", "\\Seen");
	dovecot_flags(server, "INBOX", 2, "add", "\\Seen \\Flagged");

	cfg = xasprintf("%s/config.yaml", dir);
	mail = xasprintf("%s/Mail", dir);
	text = xasprintf("state_dir: %s/state\n"
	                 "accounts:\n"
	                 "  demo:\n"
	                 "    imap:\n"
	                 "      host: 127.0.0.1\n"
	                 "      port: %u\n"
	                 "      user: %s\n"
	                 "      password: \"%s\"\n"
	                 "      ca_file: \"%s\"\n"
	                 "    maildir:\n"
	                 "      path: %s\n"
	                 "    sync:\n"
	                 "      expunge: both\n",
	                 dir, server->imaps_port, server->user, server->password, server->ca_file, mail);
	if (fs_write_atomic(cfg, text, strlen(text), 0600, &err) < 0)
		demo_fail(err.text);
	step("The configuration");
	fputs(text, stdout);

	step("First sync: everything comes down");
	rc = twinbox(bin, cfg, NULL);
	compare(mail);

	step("Changing both sides");
	printf("  server: flag message 3, delete message 4, deliver a new message\n");
	dovecot_flags(server, "INBOX", 3, "add", "\\Flagged");
	dovecot_expunge(server, "INBOX", 4);
	{
		size_t len;
		char *msg = test_message(5000, 0, &len);
		dovecot_append(server, "INBOX", msg, len, NULL);
		free(msg);
	}
	printf("  Maildir: mark a message read, delete one, write a new one\n");
	file = some_local_file(mail, "new");
	if (file) {
		char *cur = xstrdup(file);
		memcpy(strstr(cur, "/new/"), "/cur/", 5);
		renamed = xasprintf("%s:2,S", cur);
		if (rename(file, renamed) != 0)
			demo_fail("cannot rename a local message");
		free(cur);
		free(renamed);
		free(file);
	}
	file = some_local_file(mail, ".Archive/cur");
	if (!file)
		file = some_local_file(mail, ".Archive/new");
	if (file && unlink(file) != 0)
		demo_fail("cannot delete a local message");
	free(file);
	{
		char *path = xasprintf("%s/new/1700000000.M1P1.demo", mail);
		const char *msg = "From: you@example.org\nTo: demo@example.org\nSubject: written offline\n"
		                  "Message-ID: <offline-1@twinbox.demo>\n\nThis was written on the laptop.\n";
		if (fs_write_atomic(path, msg, strlen(msg), 0600, &err) < 0)
			demo_fail(err.text);
		free(path);
	}

	step("Second sync: the changes cross over");
	rc |= twinbox(bin, cfg, NULL);
	compare(mail);

	step("Third sync: nothing left to do");
	rc |= twinbox(bin, cfg, NULL);

	step("Stopping the server");
	dovecot_stop(server);
	server = NULL;
	printf("  The synced Maildir stays at %s (open it with e.g. mutt -f %s/);\n"
	       "  remove %s when done.\n",
	       mail, mail, dir);
	free(cfg);
	free(mail);
	free(text);
	return rc ? 1 : 0;
}
