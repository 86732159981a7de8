/*
 * What `twinbox migrate` keeps of each message between two Dovecots:
 * the INTERNALDATE in the source's time zone, and the flags a target
 * cannot keep, left out once and reported.
 *
 * Dovecot stores an INTERNALDATE as an instant and shows every one in
 * the zone of its own processes, so the source is started in a zone
 * with summer time (Newfoundland: -0330, -0230 in summer) to hand out
 * dates in two zones, and the target cannot show what zone it was
 * given: its protocol log (rawlog_dir) shows the APPEND as it came.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "support/run.h"
#include "support/two_servers.h"
#include "twinbox/imap/commands.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

TestSuite(migrate_fidelity, .timeout = 300);

#define RAWLOG_CONF       "rawlog_dir = %h/rawlog\n"
#define NEWFOUNDLAND_CONF "import_environment = TZ=NST+3:30NDT,M3.2.0,M11.1.0\n" RAWLOG_CONF

static struct error err;

/* From now on, every IMAP session of d's user is logged (the directory
 * must be there before the login). */
static void rawlog_on(struct dovecot *d)
{
	char *dir = xasprintf("%s/home/rawlog", d->dir);

	cr_assert(mkdir(dir, 0755) == 0, "mkdir %s", dir);
	cr_assert(chown(dir, d->mail_uid, d->mail_gid) == 0 || geteuid() != 0);
	free(dir);
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The distinct date-times (quoted "dd-Mon-yyyy hh:mm:ss +zzzz") on the
 * lines of d's protocol logs ending in `suffix` (".in": what clients
 * sent, ".out": what Dovecot answered) that hold `marker`, sorted; *n_r
 * of them. */
static char **rawlog_dates(struct dovecot *d, const char *suffix, const char *marker, size_t *n_r)
{
	char *dir = xasprintf("%s/home/rawlog", d->dir);
	DIR *dh = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0, u = 0;

	cr_assert_not_null(dh, "%s", dir);
	while ((de = readdir(dh)) != NULL) {
		size_t len = strlen(de->d_name);
		char *path, *line = NULL;
		size_t lcap = 0;
		FILE *f;

		if (len < strlen(suffix) || strcmp(de->d_name + len - strlen(suffix), suffix) != 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		cr_assert_not_null(f, "%s", path);
		while (getline(&line, &lcap, f) > 0) {
			if (!strstr(line, marker))
				continue;
			/* a quoted string of 26 characters with ':' at 14 */
			for (char *q = strchr(line, '"'); q; q = strchr(q + 1, '"')) {
				if (strlen(q) > 27 && q[27] == '"' && q[15] == ':') {
					v = xgrow(v, &cap, n + 1, sizeof(*v));
					v[n++] = xstrndup(q + 1, 26);
					q += 27;
				}
			}
		}
		free(line);
		fclose(f);
		free(path);
	}
	closedir(dh);
	free(dir);
	if (n)
		qsort(v, n, sizeof(*v), str_cmp);
	for (size_t i = 0; i < n; i++) {
		if (u && strcmp(v[u - 1], v[i]) == 0)
			free(v[i]);
		else
			v[u++] = v[i];
	}
	*n_r = u;
	return v;
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static struct imap_session *connect_to(struct dovecot *d)
{
	struct imap_session_options o = dovecot_imap_options(d);
	struct imap_session *s = imap_connect(&o, &err);

	cr_assert_not_null(s, "%s", err.text);
	return s;
}

/* The INTERNALDATEs of `mailbox`, as instants, sorted. */
static time_t *instants(struct dovecot *d, const char *mailbox, size_t *n_r)
{
	struct imap_session *s = connect_to(d);
	struct imap_msg_info *m;
	time_t *t;

	cr_assert_eq(imap_select(s, mailbox, true, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(imap_fetch_info(s, 1, 0, IMAP_FETCH_INTERNALDATE, 0, &m, n_r, &err), 0, "%s", err.text);
	t = xcalloc(*n_r + 1, sizeof(*t));
	for (size_t i = 0; i < *n_r; i++) {
		cr_assert(m[i].have & IMAP_FETCH_INTERNALDATE);
		t[i] = m[i].internaldate;
	}
	imap_msg_info_free(m, *n_r);
	imap_session_close(s);
	for (size_t i = 1; i < *n_r; i++)
		for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
			time_t x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t;
}

/* One date of a message: the instant, and the zone it is given in. */
struct dated {
	time_t t;
	int zone;
};

/* APPEND `count` small messages to `mailbox` with these dates. */
static void append_dated(struct dovecot *d, const char *mailbox, const struct dated *dates, size_t count)
{
	struct imap_session *s = connect_to(d);

	for (size_t i = 0; i < count; i++) {
		char *text = xasprintf(
		    "Message-ID: <dated.%zu@twinbox.test>\r\nSubject: dated %zu\r\n\r\nx\r\n", i, i);
		struct imap_append_msg m = {.data = text,
		                            .len = strlen(text),
		                            .flags = "\\Seen",
		                            .has_date = true,
		                            .internaldate = dates[i].t,
		                            .tz_minutes = dates[i].zone};
		cr_assert_eq(imap_append(s, mailbox, &m, &err), 0, "%s", err.text);
		free(text);
	}
	imap_session_close(s);
}

Test(migrate_fidelity, internaldate_keeps_its_zone)
{
	struct dovecot *a = dovecot_start_with(NEWFOUNDLAND_CONF), *b = dovecot_start_with(RAWLOG_CONF);
	char *state = xasprintf("%s/state", a->dir);
	struct run_result r = {0};
	/* 2026-11-17 08:15 UTC, 2026-07-17 08:15 UTC, 2026-03-01 07:59:59 UTC (none
	 * in the future: Dovecot would take the time of the APPEND instead) */
	static const struct dated dates[] = {{1794903300, 60}, {1784276100, 60}, {1772351999, -480}};
	size_t n_src, n_dst, n_ta, n_tb;
	char **src, **dst;
	time_t *ta, *tb;

	dovecot_create_mailbox(a, "Archive");
	append_dated(a, "Archive", dates, 3);
	rawlog_on(a);
	rawlog_on(b);
	cr_assert_eq(two_migrate(a, b, state, NULL, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);

	/* Every date as the source told it is what the target was given;
	 * the logs are complete once the server processes are done. */
	for (int tries = 0;; tries++) {
		src = rawlog_dates(a, ".out", "INTERNALDATE ", &n_src);
		/* every line: a MULTIAPPEND gives the dates after the first
		 * on the lines after each message */
		dst = rawlog_dates(b, ".in", "", &n_dst);
		if ((n_src == 3 && n_dst == 3) || tries == 50)
			break;
		strings_free(src, n_src);
		strings_free(dst, n_dst);
		usleep(100 * 1000);
	}
	cr_assert_eq(n_src, 3);
	cr_assert_eq(n_dst, 3);
	cr_assert_str_eq(src[0], "01-Mar-2026 04:29:59 -0330", "the source shows its own zone");
	cr_assert_str_eq(src[1], "17-Jul-2026 05:45:00 -0230");
	cr_assert_str_eq(src[2], "17-Nov-2026 04:45:00 -0330");
	for (size_t i = 0; i < 3; i++)
		cr_assert_str_eq(dst[i], src[i], "APPENDed as %s, the source said %s", dst[i], src[i]);

	/* And the same instants on the target (which shows them in UTC). */
	ta = instants(a, "Archive", &n_ta);
	tb = instants(b, "Archive", &n_tb);
	cr_assert_eq(n_ta, 3);
	cr_assert_eq(n_tb, 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(ta[i], tb[i]);

	free(ta);
	free(tb);
	strings_free(src, n_src);
	strings_free(dst, n_dst);
	run_result_free(&r);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* A target whose user lacks the ACL right to write flags other than
 * \\Seen and \\Deleted ("w"): PERMANENTFLAGS (\\Deleted \\Seen), no "\\*",
 * and Dovecot drops the other flags of an APPEND or STORE silently. */
static struct dovecot *start_flagless(char **acl_r)
{
	char *dir, *conf;
	struct dovecot *d;

	*acl_r = test_write_temp("dovecot-acl", "* owner lrstipekxa\n", 0644);
	dir = xstrdup(*acl_r);
	cr_assert_eq(chmod(dirname(dir), 0755), 0); /* Dovecot's mail processes read it */
	free(dir);
	conf = xasprintf("mail_plugins = $mail_plugins acl\n"
	                 "protocol imap {\n  mail_plugins = $mail_plugins acl imap_acl\n}\n"
	                 "plugin {\n  acl = vfile:%s\n}\n",
	                 *acl_r);
	d = dovecot_start_with(conf);
	free(conf);
	return d;
}

/* The flags of the message with Message-ID <seed.N@twinbox.test> in
 * `mailbox` (fresh). */
static char *flags_of(struct dovecot *d, const char *mailbox, unsigned seed)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(d, mailbox, true, &n);
	char *id = xasprintf("<seed.%u@twinbox.test>", seed), *flags = NULL;

	for (size_t i = 0; i < n; i++)
		if (strstr(m[i].body, id))
			flags = xstrdup(m[i].flags);
	cr_assert_not_null(flags, "%s is not in %s", id, mailbox);
	dovecot_msgs_free(m, n);
	free(id);
	return flags;
}

Test(migrate_fidelity, flags_the_target_cannot_keep_are_reported_once)
{
	char *acl;
	struct dovecot *a = dovecot_start(), *b = start_flagless(&acl);
	char *state = xasprintf("%s/state", a->dir), *f;
	struct run_result r = {0};

	dovecot_seed(a, "INBOX", 4, 600, 0);
	dovecot_flags(a, "INBOX", 1, "add", "\\Seen $Label7 Project-X");
	dovecot_flags(a, "INBOX", 2, "add", "\\Flagged $Label7");
	dovecot_flags(a, "INBOX", 3, "add", "$Label7");
	dovecot_flags(a, "INBOX", 4, "add", "\\Seen");
	cr_assert_eq(two_migrate(a, b, state, NULL, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(two_count(b, "INBOX"), 4, "every message copied");
	cr_assert(strstr(r.out, "INBOX: 4 copied to the target"), "%s", r.out);
	cr_assert(strstr(r.out, "INBOX: 3 messages lost flags the target cannot keep: \\Flagged, $Label7, "
	                        "Project-X; the target keeps only: \\Seen, \\Deleted\n"),
	          "%s", r.out);
	f = flags_of(b, "INBOX", 600);
	cr_assert_str_eq(f, "\\Seen", "what the target keeps is there");
	free(f);

	/* Nothing tried again, nothing reported again. */
	cr_assert_eq(two_migrate(a, b, state, "--json", &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_null(strstr(r.out, "not_kept"), "%s", r.out);
	cr_assert(strstr(r.out, "\"event\":\"account_end\""), "%s", r.out);
	cr_assert(strstr(r.out, "\"flags_local\":0,\"flags_remote\":0"), "%s", r.out);

	/* New mail with a keyword: said in --json too, per copy and per folder. */
	dovecot_seed(a, "INBOX", 1, 610, 0);
	dovecot_flags(a, "INBOX", 5, "add", "\\Seen Project-X");
	cr_assert_eq(two_migrate(a, b, state, "--json", &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "\"action\":\"copy-to-local\"") &&
	              strstr(r.out, "\"flags\":\"\\\\Seen\",\"not_kept\":\"Project-X\""),
	          "%s", r.out);
	cr_assert(strstr(r.out, "\"not_kept\":{\"local\":{\"messages\":1,\"flags\":\"Project-X\","
	                        "\"kept\":\"\\\\Seen \\\\Deleted\"}}"),
	          "%s", r.out);

	run_result_free(&r);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
	test_forget_temp(&acl);
}

static int run_sync(const char *cfg, struct run_result *r)
{
	run_result_free(r);
	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, r);
	return r->status;
}

/* Both ways: a keyword the target could not keep was once recorded as
 * synced, so its absence there read as the user clearing it, and the
 * next sync that looked at the message cleared it on the source. */
Test(migrate_fidelity, a_two_way_sync_never_clears_what_the_target_cannot_keep)
{
	char *acl;
	struct dovecot *a = dovecot_start(), *b = start_flagless(&acl);
	char *state = xasprintf("%s/state", a->dir), *cfg = two_config(a, b, state, NULL), *f;
	struct run_result r = {0};

	dovecot_seed(a, "INBOX", 1, 620, 0);
	dovecot_flags(a, "INBOX", 1, "add", "$Label7");
	cr_assert_eq(run_sync(cfg, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "1 message lost keywords the target cannot keep: $Label7"), "%s", r.out);

	/* The message changes on the source: it is looked at again. */
	dovecot_flags(a, "INBOX", 1, "add", "\\Seen");
	cr_assert_eq(run_sync(cfg, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	f = flags_of(a, "INBOX", 620);
	cr_assert_str_eq(f, "\\Seen $Label7", "the source keeps its keyword");
	free(f);
	f = flags_of(b, "INBOX", 620);
	cr_assert_str_eq(f, "\\Seen", "the change it can keep reached the target");
	free(f);
	cr_assert_null(strstr(r.out, "lost"), "%s", r.out);

	run_result_free(&r);
	test_forget_temp(&cfg);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
	test_forget_temp(&acl);
}
