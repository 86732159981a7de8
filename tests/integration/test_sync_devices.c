/*
 * Several devices on one server account, end to end against a real
 * Dovecot: each device is its own Maildir and state (its own config file
 * naming the same server account "t"), as two laptops syncing one
 * mailbox are. The harness's sh.cfg / sh.mail / sh.db point at the
 * device in use, so its helpers (local_find, assert_twins, sync_ok) look
 * at that device.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define DEVICES 3

struct device {
	char *cfg, *mail, *db;
};

/* Device 0 is the harness's own; the others are made by devices_init(). */
static struct device dev[DEVICES];

static void devices_init(void)
{
	sync_harness_setup();
	dev[0] = (struct device){sh.cfg, sh.mail, sh.db};
	for (int n = 1; n < DEVICES; n++) {
		struct device *d = &dev[n];
		char *account;
		char *text;
		struct error err;

		d->cfg = xasprintf("%s/config%d.yaml", sh.dir, n);
		d->mail = xasprintf("%s/mail%d", sh.dir, n);
		d->db = xasprintf("%s/state%d/t.db", sh.dir, n);
		account = account_config("t", d->mail);
		text = xasprintf("state_dir: %s/state%d\naccounts:\n%s    sync:\n      expunge: both\n",
		                 sh.dir, n, account);
		cr_assert_eq(fs_write_atomic(d->cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
		free(text);
		free(account);
	}
}

static void devices_fini(void)
{
	sh.cfg = dev[0].cfg;
	sh.mail = dev[0].mail;
	sh.db = dev[0].db;
	for (int n = 1; n < DEVICES; n++) {
		free(dev[n].cfg);
		free(dev[n].mail);
		free(dev[n].db);
	}
	sync_harness_teardown();
}

/* Make device `n` the one the harness's helpers look at. */
static void use_device(int n)
{
	sh.cfg = dev[n].cfg;
	sh.mail = dev[n].mail;
	sh.db = dev[n].db;
}

static void sync_device(int n)
{
	use_device(n);
	sync_ok();
}

TestSuite(sync_devices, .init = devices_init, .fini = devices_fini, .timeout = 300);

/* The Maildir flag letters of the one copy of `id` in `folder` of the
 * device in use (fresh). */
static char *local_flags_of(const char *folder, const char *id)
{
	char *path = local_find(folder, id);
	const char *info = strstr(strrchr(path, '/'), ":2,");
	char *letters = xstrdup(info ? info + 3 : "");

	free(path);
	return letters;
}

/* Device 1 flags X, X leaves the server's INBOX (deleted, or moved to
 * Archive when `moved_to` is given), device 2 (not synced since) changes
 * X's flags too. Device 1 copies X back (its copy changed), then device 2
 * syncs: it must find device 1's copy by content instead of copying its
 * own back as well. */
static void put_back_by_two_devices(const char *moved_to)
{
	const unsigned seed = 91000;
	char *x = seeded_id(seed, 1);
	char *path, *flags = NULL, *letters;
	unsigned uid;

	dovecot_seed(sh.d, "INBOX", 3, seed, 0);
	uid = server_find("INBOX", x, NULL);
	dovecot_flags(sh.d, "INBOX", uid, "add", "\\Seen");
	for (int n = 0; n < 2; n++)
		sync_device(n);

	/* Device 1 flags X; device 2 marks it unread and answered. */
	use_device(0);
	path = local_find("INBOX", x);
	free(local_set_flags(path, "FS"));
	free(path);
	use_device(1);
	path = local_find("INBOX", x);
	free(local_set_flags(path, "R"));
	free(path);

	if (moved_to) {
		size_t n;
		struct dovecot_msg *m = dovecot_list(sh.d, "INBOX", true, &n);
		for (size_t i = 0; i < n; i++)
			if (m[i].uid == uid)
				dovecot_append(sh.d, moved_to, m[i].body, m[i].body_len, "\\Seen");
		dovecot_msgs_free(m, n);
	}
	dovecot_expunge(sh.d, "INBOX", uid);

	sync_device(0);
	cr_assert_neq(server_find("INBOX", x, NULL), uid, "device 1 copies X back under a new UID");
	sync_device(1);
	cr_assert(!strstr(sh.r.out, "1 pushed"), "device 2 must not copy X back again:\n%s", sh.r.out);
	/* Both devices settle; a third one starting now gets the same. */
	for (int n = 0; n < DEVICES; n++)
		sync_device(n);

	server_find("INBOX", x, &flags); /* exactly once */
	cr_assert(has_flag(flags, "\\Flagged") && has_flag(flags, "\\Answered"),
	          "both devices' flag changes reach the server: %s", flags);
	cr_assert(!has_flag(flags, "\\Seen"), "device 2 marked X unread after the last sync: %s", flags);
	for (int n = 0; n < DEVICES; n++) {
		use_device(n);
		assert_twins("INBOX", 3);
		letters = local_flags_of("INBOX", x);
		cr_assert_str_eq(letters, "FR", "device %d has X with flags \"%s\"", n + 1, letters);
		free(letters);
		if (moved_to)
			assert_twins(moved_to, 1);
		cr_assert_eq(state_pair_count("INBOX"), 3, "device %d", n + 1);
	}
	for (int n = 0; n < DEVICES; n++) {
		sync_device(n);
		assert_nothing_done();
	}
	free(flags);
	free(x);
}

Test(sync_devices, a_message_put_back_by_one_device_is_not_put_back_again_by_another)
{
	put_back_by_two_devices(NULL);
}

Test(sync_devices, a_message_moved_away_and_put_back_is_not_duplicated_in_its_first_folder)
{
	put_back_by_two_devices("Archive");
}
