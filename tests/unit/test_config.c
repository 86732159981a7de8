/*
 * config: what a valid config loads to — defaults, paths, warnings, the
 * example file shipped at the top of the repository.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/run.h"
#include "twinbox/config/config.h"
#include "twinbox/config/fleet.h"

static struct config *load_ok(const char *yaml)
{
	struct error err;
	struct config *cfg;

	error_clear(&err);
	cfg = config_load_buffer("t.yaml", yaml, strlen(yaml), &err);
	cr_assert_not_null(cfg, "config should load: %s", err.text);
	return cfg;
}

/* Write `yaml` to a fresh file with `mode`; returns its path (free it). */
static char *write_file(const char *yaml, mode_t mode)
{
	char *path = strdup("/tmp/twinbox-config-XXXXXX");
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static bool has_warning(const struct config *cfg, const char *needle)
{
	for (size_t i = 0; i < cfg->warning_count; i++)
		if (strstr(cfg->warnings[i], needle) != NULL)
			return true;
	return false;
}

#define MINIMAL_IMAP                                                                                         \
	"accounts:\n"                                                                                        \
	"  work:\n"                                                                                          \
	"    imap:\n"                                                                                        \
	"      host: imap.example.com\n"                                                                     \
	"      user: alice\n"                                                                                \
	"      password_command: pass show work\n"                                                           \
	"    maildir:\n"                                                                                     \
	"      path: /srv/mail/work\n"

Test(config, imap_defaults)
{
	struct config *cfg;
	const struct config_account *a;

	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	cfg = load_ok(MINIMAL_IMAP);
	cr_assert_eq(cfg->account_count, 1);
	cr_assert_eq(cfg->warning_count, 0);
	cr_assert_str_eq(cfg->state_dir, "/xdg/state/twinbox");
	a = config_find_account(cfg, "work");
	cr_assert_not_null(a);
	cr_assert_null(config_find_account(cfg, "home"));
	cr_assert_str_eq(a->name, "work");
	cr_assert_eq(a->pos.line, 2);
	cr_assert_eq(a->pos.column, 3);
	cr_assert_eq(a->side[SIDE_A].store, CONFIG_STORE_IMAP);
	cr_assert_str_eq(a->side[SIDE_A].conn.host, "imap.example.com");
	cr_assert_eq(a->side[SIDE_A].conn.port, 993);
	cr_assert_eq(a->side[SIDE_A].conn.tls, CONFIG_TLS_IMPLICIT);
	cr_assert_str_eq(a->side[SIDE_A].conn.user, "alice");
	cr_assert_null(a->side[SIDE_A].conn.password);
	cr_assert_str_eq(a->side[SIDE_A].conn.password_command, "pass show work");
	cr_assert_eq(a->side[SIDE_A].conn.password_command_timeout_ms, 30000);
	cr_assert_eq(a->side[SIDE_A].conn.auth_count, 0);
	cr_assert_null(a->side[SIDE_A].conn.ca_file);
	cr_assert_null(a->side[SIDE_A].conn.fingerprint);
	cr_assert_eq(a->side[SIDE_A].conn.timeout_ms, 30000);
	cr_assert(a->side[SIDE_A].conn.compress, "COMPRESS=DEFLATE is on unless turned off");
	cr_assert_str_eq(a->side[SIDE_B].maildir.path, "/srv/mail/work");
	cr_assert_eq(a->side[SIDE_B].maildir.layout, CONFIG_LAYOUT_MAILDIRPP);
	cr_assert_eq(a->folders.include_count, 1);
	cr_assert_str_eq(a->folders.include[0], "*");
	cr_assert_eq(a->folders.exclude_count, 0);
	cr_assert_eq(a->sync.direction, CONFIG_DIRECTION_BOTH);
	cr_assert(a->sync.flags);
	cr_assert_eq(a->sync.expunge, CONFIG_WHERE_BOTH, "a deletion on one device reaches the others");
	cr_assert_eq(a->sync.create, CONFIG_WHERE_BOTH);
	cr_assert_eq(a->sync.max_size, 0);
	config_free(cfg);
}

/* Two servers: source: and target:, each with an imap: section, are the
 * account's sides A and B; the sync defaults are those of an IMAP
 * account. */
/* Folder mapping: by special use by default between two servers, not
 * between a server and a Maildir; renames in the order written. */
Test(config, folder_mapping)
{
	struct config *cfg = load_ok("accounts:\n"
	                             "  move:\n"
	                             "    source: {imap: {host: a, user: u, password: p}}\n"
	                             "    target: {imap: {host: b, user: u, password: p}}\n"
	                             "    folders:\n"
	                             "      rename:\n"
	                             "        \"Old/Stuff\": Archive/Old\n"
	                             "        Sent Items: Sent\n"
	                             "  plain:\n"
	                             "    imap: {host: a, user: u, password: p}\n"
	                             "    maildir: {path: /m}\n"
	                             "  nouse:\n"
	                             "    source: {imap: {host: a, user: u, password: p}}\n"
	                             "    target: {imap: {host: c, user: u, password: p}}\n"
	                             "    folders: {special_use: false}\n");
	const struct config_account *a = config_find_account(cfg, "move");

	cr_assert(a->folders.special_use);
	cr_assert_eq(a->folders.rename_count, 2);
	cr_assert_str_eq(a->folders.rename_from[0], "Old/Stuff");
	cr_assert_str_eq(a->folders.rename_to[0], "Archive/Old");
	cr_assert_str_eq(a->folders.rename_from[1], "Sent Items");
	cr_assert_str_eq(a->folders.rename_to[1], "Sent");
	cr_assert(!config_find_account(cfg, "plain")->folders.special_use);
	cr_assert_eq(config_find_account(cfg, "plain")->folders.rename_count, 0);
	cr_assert(!config_find_account(cfg, "nouse")->folders.special_use);
	config_free(cfg);
}

Test(config, two_servers_are_the_two_sides)
{
	struct config *cfg = load_ok("accounts:\n"
	                             "  move:\n"
	                             "    source:\n"
	                             "      imap:\n"
	                             "        host: old.example\n"
	                             "        user: alice\n"
	                             "        password_command: pass old\n"
	                             "    target:\n"
	                             "      imap:\n"
	                             "        host: new.example\n"
	                             "        port: 143\n"
	                             "        tls: starttls\n"
	                             "        user: alice@new.example\n"
	                             "        password: secret\n"
	                             "        compress: false\n"
	                             "    sync:\n"
	                             "      direction: pull\n");
	const struct config_account *a = config_find_account(cfg, "move");

	cr_assert_not_null(a);
	cr_assert(a->two_servers);
	cr_assert_eq(a->side[SIDE_A].store, CONFIG_STORE_IMAP);
	cr_assert_str_eq(a->side[SIDE_A].conn.host, "old.example");
	cr_assert_eq(a->side[SIDE_A].conn.port, 993);
	cr_assert_str_eq(a->side[SIDE_A].conn.password_command, "pass old");
	cr_assert_eq(a->side[SIDE_B].store, CONFIG_STORE_IMAP);
	cr_assert_str_eq(a->side[SIDE_B].conn.host, "new.example");
	cr_assert_eq(a->side[SIDE_B].conn.port, 143);
	cr_assert_eq(a->side[SIDE_B].conn.tls, CONFIG_TLS_STARTTLS);
	cr_assert_str_eq(a->side[SIDE_B].conn.user, "alice@new.example");
	cr_assert_str_eq(a->side[SIDE_B].conn.password, "secret");
	cr_assert(a->side[SIDE_A].conn.compress);
	cr_assert_not(a->side[SIDE_B].conn.compress, "each side has its own compress:");
	cr_assert_null(a->side[SIDE_B].maildir.path);
	cr_assert_eq(a->sync.direction, CONFIG_DIRECTION_PULL);
	cr_assert(a->sync.flags);
	cr_assert_eq(a->sync.expunge, CONFIG_WHERE_BOTH);
	cr_assert_eq(a->folders.include_count, 1);
	config_free(cfg);

	/* The classic forms say which store each side is. */
	cfg = load_ok(MINIMAL_IMAP);
	cr_assert(!cfg->accounts[0].two_servers);
	cr_assert_eq(cfg->accounts[0].side[SIDE_B].store, CONFIG_STORE_MAILDIR);
	config_free(cfg);
}

Test(config, expunge_defaults_to_both_and_none_stays_available)
{
	struct config *cfg = load_ok("accounts:\n"
	                             "  a:\n"
	                             "    imap: {host: h, user: u, password: p}\n"
	                             "    maildir: {path: /a}\n"
	                             "    sync: {direction: pull}\n"
	                             "  b:\n"
	                             "    imap: {host: h, user: u, password: p}\n"
	                             "    maildir: {path: /b}\n"
	                             "    sync: {expunge: none}\n");

	cr_assert_eq(cfg->accounts[0].sync.expunge, CONFIG_WHERE_BOTH, "a sync: section without expunge");
	cr_assert_eq(cfg->accounts[1].sync.expunge, CONFIG_WHERE_NONE);
	config_free(cfg);
}

Test(config, default_ports_follow_tls)
{
	static const struct {
		const char *store, *tls;
		unsigned port;
	} cases[] = {
	    {"imap", "implicit", 993}, {"imap", "starttls", 143}, {"imap", "none", 143},
	    {"pop3", "implicit", 995}, {"pop3", "starttls", 110}, {"pop3", "none", 110},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[256];
		struct config *cfg;

		snprintf(yaml, sizeof(yaml),
		         "accounts:\n  a:\n    %s: {host: h, user: u, password: p, tls: %s}\n    maildir: "
		         "{path: /m}\n",
		         cases[i].store, cases[i].tls);
		cfg = load_ok(yaml);
		cr_expect_eq(cfg->accounts[0].side[SIDE_A].conn.port, cases[i].port, "%s %s: port %u",
		             cases[i].store, cases[i].tls, cfg->accounts[0].side[SIDE_A].conn.port);
		config_free(cfg);
	}
}

Test(config, explicit_values)
{
	struct config *cfg = load_ok(
	    "state_dir: /var/lib/tb/\n"
	    "accounts:\n"
	    "  a.b-c_1:\n"
	    "    imap:\n"
	    "      host: 127.0.0.1\n"
	    "      port: 10143\n"
	    "      tls: starttls\n"
	    "      user: bob\n"
	    "      password: \"s3cret: yes\"\n"
	    "      auth: [XOAUTH2, plain]\n"
	    "      fingerprint: \"sha256:" /* 64 hex digits */
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n"
	    "      timeout: 2m\n"
	    "      compress: false\n"
	    "    maildir: {path: /m, layout: nested}\n"
	    "    folders:\n"
	    "      include: INBOX\n"
	    "      exclude: [Junk, \"Trash/*\"]\n"
	    "    sync: {direction: pull, flags: false, expunge: remote, create: local, max_size: 50MB}\n");
	const struct config_account *a = &cfg->accounts[0];

	cr_assert_str_eq(cfg->state_dir, "/var/lib/tb");
	cr_assert_str_eq(a->name, "a.b-c_1");
	cr_assert_eq(a->side[SIDE_A].conn.port, 10143);
	cr_assert_eq(a->side[SIDE_A].conn.tls, CONFIG_TLS_STARTTLS);
	cr_assert_str_eq(a->side[SIDE_A].conn.password, "s3cret: yes");
	cr_assert_eq(a->side[SIDE_A].conn.password_pos.line, 9);
	cr_assert_eq(a->side[SIDE_A].conn.password_pos.column, 7);
	cr_assert_eq(a->side[SIDE_A].conn.auth_count, 2);
	cr_assert_eq(a->side[SIDE_A].conn.auth[0], CONFIG_AUTH_XOAUTH2);
	cr_assert_eq(a->side[SIDE_A].conn.auth[1], CONFIG_AUTH_PLAIN);
	cr_assert_not_null(a->side[SIDE_A].conn.fingerprint);
	cr_assert_eq(a->side[SIDE_A].conn.timeout_ms, 120000);
	cr_assert_not(a->side[SIDE_A].conn.compress);
	cr_assert_eq(a->side[SIDE_B].maildir.layout, CONFIG_LAYOUT_NESTED);
	cr_assert_eq(a->folders.include_count, 1);
	cr_assert_str_eq(a->folders.include[0], "INBOX");
	cr_assert_eq(a->folders.exclude_count, 2);
	cr_assert_str_eq(a->folders.exclude[1], "Trash/*");
	cr_assert_eq(a->sync.direction, CONFIG_DIRECTION_PULL);
	cr_assert_not(a->sync.flags);
	cr_assert_eq(a->sync.expunge, CONFIG_WHERE_REMOTE);
	cr_assert_eq(a->sync.create, CONFIG_WHERE_LOCAL);
	cr_assert_eq(a->sync.max_size, 50ULL * 1024 * 1024);
	config_free(cfg);
}

Test(config, pop3_defaults_and_rules)
{
	struct config *cfg =
	    load_ok("accounts:\n"
	            "  old:\n"
	            "    pop3: {host: pop.example.net, user: u, password_command: pw, auth: [apop, user]}\n"
	            "    maildir: {path: /m}\n"
	            "    sync: {max_size: 1GB}\n");
	const struct config_account *a = &cfg->accounts[0];

	cr_assert_eq(a->side[SIDE_A].store, CONFIG_STORE_POP3);
	cr_assert_eq(a->side[SIDE_A].conn.port, 995);
	cr_assert_eq(a->side[SIDE_A].conn.auth[0], CONFIG_AUTH_APOP);
	cr_assert_eq(a->side[SIDE_A].conn.auth[1], CONFIG_AUTH_USER);
	cr_assert_not(a->side[SIDE_A].conn.compress, "POP3 has no compression");
	cr_assert(a->pop3.leave_on_server);
	cr_assert_not(a->pop3.delete_after_download);
	cr_assert_eq(a->pop3.delete_after_days, 0);
	cr_assert_str_eq(a->pop3.folder, "INBOX");
	cr_assert_eq(a->sync.direction, CONFIG_DIRECTION_PULL);
	cr_assert_not(a->sync.flags);
	cr_assert_eq(a->sync.expunge, CONFIG_WHERE_NONE);
	cr_assert_eq(a->sync.max_size, 1ULL << 30);
	config_free(cfg);
}

Test(config, pop3_delete_after_download_means_not_leaving_mail)
{
	struct config *cfg = load_ok(
	    "accounts:\n"
	    "  old:\n"
	    "    pop3: {host: h, user: u, password: p, delete_after_download: true, folder: Old/Pop}\n"
	    "    maildir: {path: /m}\n"
	    "  kept:\n"
	    "    pop3: {host: h, user: u, password: p, delete_after_days: 30}\n"
	    "    maildir: {path: /n}\n");

	cr_assert(cfg->accounts[0].pop3.delete_after_download);
	cr_assert_not(cfg->accounts[0].pop3.leave_on_server);
	cr_assert_str_eq(cfg->accounts[0].pop3.folder, "Old/Pop");
	cr_assert(cfg->accounts[1].pop3.leave_on_server);
	cr_assert_eq(cfg->accounts[1].pop3.delete_after_days, 30);
	config_free(cfg);
}

Test(config, accounts_keep_file_order)
{
	struct config *cfg =
	    load_ok("accounts:\n"
	            "  zeta: {imap: {host: h, user: u, password: p}, maildir: {path: /z}}\n"
	            "  alpha: {imap: {host: h, user: u, password: p}, maildir: {path: /a}}\n");

	cr_assert_eq(cfg->account_count, 2);
	cr_assert_str_eq(cfg->accounts[0].name, "zeta");
	cr_assert_str_eq(cfg->accounts[1].name, "alpha");
	config_free(cfg);
}

Test(config, pop3_may_deliver_into_an_imap_maildir)
{
	struct config *cfg =
	    load_ok("accounts:\n"
	            "  work: {imap: {host: h, user: u, password: p}, maildir: {path: /m/work}}\n"
	            "  old: {pop3: {host: h, user: u, password: p}, maildir: {path: /m/work}}\n");

	cr_assert_eq(cfg->account_count, 2);
	cr_assert_str_eq(cfg->accounts[1].side[SIDE_B].maildir.path,
	                 cfg->accounts[0].side[SIDE_B].maildir.path);
	config_free(cfg);
}

Test(config, tilde_is_expanded)
{
	struct config *cfg;

	setenv("HOME", "/home/tester", 1);
	cfg = load_ok("state_dir: ~/state\n"
	              "accounts:\n"
	              "  work:\n"
	              "    imap: {host: h, user: u, password: p}\n"
	              "    maildir: {path: ~/Mail/work/}\n"
	              "  home:\n"
	              "    imap: {host: h, user: u, password: p}\n"
	              "    maildir: {path: \"~/Mail/home\"}\n");
	cr_assert_str_eq(cfg->state_dir, "/home/tester/state");
	cr_assert_str_eq(cfg->accounts[0].side[SIDE_B].maildir.path, "/home/tester/Mail/work");
	cr_assert_str_eq(cfg->accounts[1].side[SIDE_B].maildir.path, "/home/tester/Mail/home");
	config_free(cfg);
}

Test(config, tilde_without_home_is_an_error)
{
	const char *yaml =
	    "state_dir: /var/lib/twinbox\n"
	    "accounts:\n  w:\n    imap: {host: h, user: u, password: p}\n    maildir: {path: ~/Mail}\n";
	struct error err;

	unsetenv("HOME");
	error_clear(&err);
	cr_assert_null(config_load_buffer("c.yaml", yaml, strlen(yaml), &err));
	cr_assert(strstr(err.text, "c.yaml:5:21: cannot expand \"~\" in \"path\"") != NULL, "%s", err.text);
}

Test(config, state_dir_default_without_xdg)
{
	struct config *cfg;

	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/tester", 1);
	cfg = load_ok(MINIMAL_IMAP);
	cr_assert_str_eq(cfg->state_dir, "/home/tester/.local/state/twinbox");
	config_free(cfg);

	/* A relative XDG_STATE_HOME is ignored, as the XDG spec says. */
	setenv("XDG_STATE_HOME", "relative/state", 1);
	cfg = load_ok(MINIMAL_IMAP);
	cr_assert_str_eq(cfg->state_dir, "/home/tester/.local/state/twinbox");
	{
		char *p = config_state_path(cfg, &cfg->accounts[0]);
		cr_assert_str_eq(p, "/home/tester/.local/state/twinbox/work.db");
		free(p);
	}
	config_free(cfg);
}

Test(config, default_config_path)
{
	char *p;

	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	p = config_default_path();
	cr_assert_str_eq(p, "/xdg/config/twinbox/config.yaml");
	free(p);
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", "/home/tester", 1);
	p = config_default_path();
	cr_assert_str_eq(p, "/home/tester/.config/twinbox/config.yaml");
	free(p);
}

Test(config, password_in_readable_file_warns)
{
	const char *yaml =
	    "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: hunter22\n"
	    "    maildir: {path: /m}\n";
	char *path = write_file(yaml, 0644);
	char expect[128];
	struct error err;
	struct config *cfg;

	error_clear(&err);
	cfg = config_load(path, &err);
	cr_assert_not_null(cfg, "%s", err.text);
	cr_assert_eq(cfg->warning_count, 1);
	snprintf(expect, sizeof(expect), "%s:6:7: \"password\" of account \"work\"", path);
	cr_assert(strncmp(cfg->warnings[0], expect, strlen(expect)) == 0, "%s", cfg->warnings[0]);
	cr_assert(has_warning(cfg, "group or others can read (mode 0644)"), "%s", cfg->warnings[0]);
	cr_assert(!has_warning(cfg, "hunter22"), "the warning must not quote the password");
	config_free(cfg);

	/* Private file: no warning. */
	cr_assert_eq(chmod(path, 0600), 0);
	cfg = config_load(path, &err);
	cr_assert_not_null(cfg, "%s", err.text);
	cr_assert_eq(cfg->warning_count, 0);
	config_free(cfg);
	unlink(path);
	free(path);
}

Test(config, password_command_in_readable_file_does_not_warn)
{
	char *path = write_file(MINIMAL_IMAP, 0644);
	struct error err;
	struct config *cfg;

	error_clear(&err);
	cfg = config_load(path, &err);
	cr_assert_not_null(cfg, "%s", err.text);
	cr_assert_eq(cfg->warning_count, 0);
	config_free(cfg);
	unlink(path);
	free(path);
}

Test(config, tls_none_is_accepted_with_a_warning)
{
	struct config *cfg =
	    load_ok("accounts:\n  lan:\n    imap:\n      host: h\n      tls: none\n      user: u\n"
	            "      password: p\n    maildir: {path: /m}\n");

	cr_assert_eq(cfg->accounts[0].side[SIDE_A].conn.tls, CONFIG_TLS_NONE);
	cr_assert_eq(cfg->warning_count, 1);
	cr_assert(has_warning(cfg, "t.yaml:5:12: \"tls: none\""), "%s", cfg->warnings[0]);
	cr_assert(has_warning(cfg, "unencrypted"));
	config_free(cfg);
}

Test(config, readable_ca_file_is_accepted)
{
	char *ca = write_file("-----BEGIN CERTIFICATE-----\n", 0600);
	char yaml[512];
	struct config *cfg;

	snprintf(yaml, sizeof(yaml),
	         "accounts:\n  w:\n    imap: {host: h, user: u, password: p, ca_file: %s}\n    maildir: "
	         "{path: /m}\n",
	         ca);
	cfg = load_ok(yaml);
	cr_assert_str_eq(cfg->accounts[0].side[SIDE_A].conn.ca_file, ca);
	config_free(cfg);
	unlink(ca);
	free(ca);
}

Test(config, directory_as_ca_file_is_an_error)
{
	const char *yaml = "accounts:\n  w:\n    imap: {host: h, user: u, password: p, ca_file: /tmp}\n";
	struct error err;

	error_clear(&err);
	cr_assert_null(config_load_buffer("c.yaml", yaml, strlen(yaml), &err));
	cr_assert(strstr(err.text, "c.yaml:3:52: \"ca_file\" /tmp is not a regular file") != NULL, "%s",
	          err.text);
}

Test(config, example_file_loads)
{
	const char *srcdir = getenv("TWINBOX_SRCDIR");
	char path[4096];
	struct error err;
	struct config *cfg;
	const struct config_account *work, *old, *two;

	setenv("HOME", "/home/tester", 1);
	snprintf(path, sizeof(path), "%s/config.example.yaml", srcdir != NULL ? srcdir : ".");
	error_clear(&err);
	cfg = config_load(path, &err);
	cr_assert_not_null(cfg, "the example config must load: %s", err.text);
	cr_assert_eq(cfg->warning_count, 0, "unexpected warning: %s",
	             cfg->warning_count ? cfg->warnings[0] : "");
	cr_assert_eq(cfg->account_count, 5); /* work, old-isp, two-servers, pop3-to-imap, archive-upload */
	work = config_find_account(cfg, "work");
	old = config_find_account(cfg, "old-isp");
	cr_assert_not_null(work);
	cr_assert_not_null(old);
	cr_assert_eq(work->side[SIDE_A].store, CONFIG_STORE_IMAP);
	cr_assert_str_eq(work->side[SIDE_B].maildir.path, "/home/tester/Mail/work");
	cr_assert_eq(work->folders.exclude_count, 2);
	cr_assert(work->side[SIDE_A].conn.compress);
	cr_assert_eq(old->side[SIDE_A].store, CONFIG_STORE_POP3);
	cr_assert(old->pop3.leave_on_server);
	cr_assert_eq(old->sync.max_size, 20ULL << 20);
	two = config_find_account(cfg, "two-servers");
	cr_assert_not_null(two);
	cr_assert(two->two_servers);
	cr_assert_str_eq(two->side[SIDE_B].conn.host, "imap.new.example");
	two = config_find_account(cfg, "pop3-to-imap");
	cr_assert(two->two_servers);
	cr_assert_eq(two->side[SIDE_A].store, CONFIG_STORE_POP3);
	cr_assert_eq(two->sync.direction, CONFIG_DIRECTION_PULL);
	two = config_find_account(cfg, "archive-upload");
	cr_assert(!two->two_servers && two->maildir_source);
	cr_assert_eq(two->side[SIDE_A].store, CONFIG_STORE_IMAP);
	cr_assert_eq(two->side[SIDE_B].store, CONFIG_STORE_MAILDIR);
	cr_assert_str_eq(two->side[SIDE_B].maildir.path, "/home/tester/Mail/archive-2010");
	cr_assert_eq(two->sync.direction, CONFIG_DIRECTION_PUSH, "from the Maildir to the server");
	cr_assert_eq(two->sync.expunge, CONFIG_WHERE_NONE);
	cr_assert(two->folders.special_use);
	cr_assert_null(two->hooks.new_mail, "no Maildir receives mail");
	cr_assert_str_eq(two->hooks.after_sync, "notmuch new --quiet");
	cr_assert_null(work->hooks.after_sync, "turned off in the account");
	cr_assert_str_eq(work->hooks.new_mail, "notify-send -- \"$TWINBOX_FROM\" \"$TWINBOX_SUBJECT\"");
	cr_assert_eq(work->hooks.timeout_ms, 60000);
	cr_assert_eq(old->hooks.new_mail_max, 10);
	cr_assert_eq(work->watch.folder_count, 1);
	cr_assert_eq(work->watch.connections, 3);
	cr_assert_eq(old->watch.poll_s, 300);
	config_free(cfg);
}

/* `twinbox migrate`'s options as a config: URLs read as users write
 * them, one way from source to target, and one account name for one
 * pair of servers however the URLs are spelled. */
Test(config, migration_urls_and_rules)
{
	struct config_migration m = {
	    .url = {"imaps://alice@old.example@imap.old.example", "imap://bob%40new.example@10.0.0.1:1143/"},
	    .password_command = {"pass old", "pass new"},
	    .state_dir = "/srv/state",
	};
	struct config_migration same = m;
	struct error err;
	struct config *cfg, *again;
	const struct config_account *a;

	error_clear(&err);
	cfg = config_for_migration(&m, &err);
	cr_assert_not_null(cfg, "%s", err.text);
	a = &cfg->accounts[0];
	cr_assert(a->two_servers);
	cr_assert_str_eq(a->side[SIDE_A].conn.user, "alice@old.example");
	cr_assert_str_eq(a->side[SIDE_A].conn.host, "imap.old.example");
	cr_assert_eq(a->side[SIDE_A].conn.port, 993);
	cr_assert_eq(a->side[SIDE_A].conn.tls, CONFIG_TLS_IMPLICIT);
	cr_assert_str_eq(a->side[SIDE_B].conn.user, "bob@new.example");
	cr_assert_str_eq(a->side[SIDE_B].conn.host, "10.0.0.1");
	cr_assert_eq(a->side[SIDE_B].conn.port, 1143);
	cr_assert_eq(a->side[SIDE_B].conn.tls, CONFIG_TLS_STARTTLS);
	cr_assert_str_eq(a->side[SIDE_B].conn.password_command, "pass new");
	cr_assert(a->side[SIDE_A].conn.compress && a->side[SIDE_B].conn.compress);
	cr_assert_eq(a->sync.direction, CONFIG_DIRECTION_PULL);
	cr_assert_eq(a->sync.expunge, CONFIG_WHERE_NONE);
	cr_assert_eq(a->sync.create, CONFIG_WHERE_LOCAL);
	cr_assert_str_eq(cfg->state_dir, "/srv/state");
	cr_assert(config_account_name_valid(a->name), "%s", a->name);

	same.url[SIDE_A] = "imaps://alice%40old.example@imap.old.example:993/";
	same.url[SIDE_B] = "imap://bob@new.example@10.0.0.1:1143";
	again = config_for_migration(&same, &err);
	cr_assert_not_null(again, "%s", err.text);
	cr_assert_str_eq(again->accounts[0].name, a->name);
	config_free(again);
	same.url[SIDE_B] = "imap://carol@new.example@10.0.0.1:1143";
	again = config_for_migration(&same, &err);
	cr_assert_not_null(again, "%s", err.text);
	cr_assert_str_neq(again->accounts[0].name, a->name);
	config_free(again);
	config_free(cfg);

	same = m;
	same.url[SIDE_A] = "imaps://alice%4@h";
	cr_assert_null(config_for_migration(&same, &err));
	cr_assert(strstr(err.text, "--from: the user in") != NULL, "%s", err.text);
	same = m;
	same.url[SIDE_B] = "imaps://u@h/INBOX";
	cr_assert_null(config_for_migration(&same, &err));
	cr_assert(strstr(err.text, "--to: ") != NULL && strstr(err.text, "path") != NULL, "%s", err.text);
	same = m;
	same.state_dir = "relative";
	cr_assert_null(config_for_migration(&same, &err));
	cr_assert(strstr(err.text, "--state-dir") != NULL, "%s", err.text);
}

/* A fleet file: columns in any order, quoted cells with commas and
 * quotes, CRLF and LF, a BOM, comments and blank lines, empty optional
 * cells. */
Test(config, fleet_file_rows)
{
	char *path =
	    test_write_temp("fleet.csv",
	                    "\xef\xbb\xbfto,from,to-password-command,from-password-command,state-dir\r\n"
	                    "# first the staff\r\n"
	                    "imaps://a@new,imaps://a@old,\"pass \"\"new\"\", a\",pass old/a,\r\n"
	                    "\n"
	                    "imaps://b@new,imaps://b@old,\"multi\nline\",x,/srv/state\n",
	                    0600);
	struct error err;
	struct config_fleet *f;
	struct config_migration m;

	error_clear(&err);
	f = config_fleet_load(path, &err);
	cr_assert_not_null(f, "%s", err.text);
	cr_assert_eq(config_fleet_count(f), 2);
	config_fleet_row(f, 0, &m);
	cr_assert_str_eq(m.url[SIDE_A], "imaps://a@old");
	cr_assert_str_eq(m.url[SIDE_B], "imaps://a@new");
	cr_assert_str_eq(m.password_command[SIDE_B], "pass \"new\", a");
	cr_assert_str_eq(m.password_command[SIDE_A], "pass old/a");
	cr_assert_null(m.state_dir, "an empty cell is not given");
	cr_assert_null(m.ca_file[SIDE_A]);
	cr_assert_eq(config_fleet_line(f, 0), 3);
	config_fleet_row(f, 1, &m);
	cr_assert_str_eq(m.password_command[SIDE_B], "multi\nline");
	cr_assert_str_eq(m.state_dir, "/srv/state");
	cr_assert_eq(config_fleet_line(f, 1), 5);
	config_fleet_free(f);
	test_forget_temp(&path);
}

/* `watch:`: the defaults with no key at all, each key, and a POP3
 * account's own poll interval. */
Test(config, watch_defaults_and_values)
{
	struct config *cfg = load_ok("accounts:\n"
	                             "  plain:\n"
	                             "    imap: {host: h, user: u, password_command: pw}\n"
	                             "    maildir: {path: /m/plain}\n"
	                             "  busy:\n"
	                             "    imap: {host: h, user: u, password_command: pw}\n"
	                             "    maildir: {path: /m/busy}\n"
	                             "    watch:\n"
	                             "      folders: [\"Lists/*\", Sent]\n"
	                             "      connections: 5\n"
	                             "      notify: false\n"
	                             "      poll: 2m\n"
	                             "  old:\n"
	                             "    pop3: {host: h, user: u, password_command: pw}\n"
	                             "    maildir: {path: /m/old}\n"
	                             "    watch: {poll: 1m}\n");
	const struct config_account *plain = config_find_account(cfg, "plain"),
	                            *busy = config_find_account(cfg, "busy"),
	                            *old = config_find_account(cfg, "old");

	cr_assert_eq(plain->watch.folder_count, 0);
	cr_assert_eq(plain->watch.connections, CONFIG_WATCH_CONNECTIONS_DEFAULT);
	cr_assert(plain->watch.notify);
	cr_assert_eq(plain->watch.poll_s, CONFIG_WATCH_POLL_DEFAULT_S);
	cr_assert_eq(busy->watch.folder_count, 2);
	cr_assert_str_eq(busy->watch.folders[0], "Lists/*");
	cr_assert_str_eq(busy->watch.folders[1], "Sent");
	cr_assert_eq(busy->watch.connections, 5);
	cr_assert(!busy->watch.notify);
	cr_assert_eq(busy->watch.poll_s, 120);
	cr_assert_eq(old->watch.poll_s, 60);
	config_free(cfg);
}

/* `hooks:` at the top level, replaced key by key in an account, turned
 * off there with "", and not applied where no mail reaches a Maildir. */
Test(config, hooks_merge_top_level_and_account)
{
	struct config *cfg = load_ok("hooks:\n"
	                             "  after_sync: notmuch new\n"
	                             "  new_mail: notify-send \"$TWINBOX_SUBJECT\"\n"
	                             "  timeout: 5s\n"
	                             "accounts:\n"
	                             "  plain:\n"
	                             "    imap: {host: h, user: u, password_command: pw}\n"
	                             "    maildir: {path: /m/plain}\n"
	                             "  own:\n"
	                             "    imap: {host: h, user: u, password_command: pw}\n"
	                             "    maildir: {path: /m/own}\n"
	                             "    hooks: {after_sync: \"\", new_mail_max: 0, timeout: 2m}\n"
	                             "  move:\n"
	                             "    source: {imap: {host: a, user: u, password_command: pw}}\n"
	                             "    target: {imap: {host: b, user: u, password_command: pw}}\n");
	const struct config_account *plain = config_find_account(cfg, "plain"),
	                            *own = config_find_account(cfg, "own"),
	                            *move = config_find_account(cfg, "move");

	cr_assert_str_eq(cfg->hooks.after_sync, "notmuch new");
	cr_assert_str_eq(plain->hooks.after_sync, "notmuch new");
	cr_assert_str_eq(plain->hooks.new_mail, "notify-send \"$TWINBOX_SUBJECT\"");
	cr_assert_eq(plain->hooks.timeout_ms, 5000);
	cr_assert_eq(plain->hooks.new_mail_max, CONFIG_NEW_MAIL_MAX_DEFAULT);
	cr_assert_null(own->hooks.after_sync);
	cr_assert_str_eq(own->hooks.new_mail, "notify-send \"$TWINBOX_SUBJECT\"");
	cr_assert_eq(own->hooks.timeout_ms, 120000);
	cr_assert_eq(own->hooks.new_mail_max, 0);
	cr_assert_eq(own->hooks.pos.line, 12);
	cr_assert_str_eq(move->hooks.after_sync, "notmuch new");
	cr_assert_null(move->hooks.new_mail, "no Maildir receives mail");
	config_free(cfg);
	cfg = load_ok(MINIMAL_IMAP);
	cr_assert_null(cfg->accounts[0].hooks.after_sync);
	cr_assert_null(cfg->accounts[0].hooks.new_mail);
	cr_assert_eq(cfg->accounts[0].hooks.timeout_ms, CONFIG_HOOKS_TIMEOUT_DEFAULT_S * 1000);
	config_free(cfg);
}
