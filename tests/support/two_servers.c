/* Two Dovecots as an account's two sides (two_servers.h). */
#include "support/two_servers.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/xmalloc.h"

static int line_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

char *two_contents(struct dovecot *d, const char *mailbox)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(d, mailbox, true, &n);
	char **lines = xcalloc(n + 1, sizeof(*lines));
	size_t total = 1;
	char *out;

	for (size_t i = 0; i < n; i++) {
		const char *id = strstr(m[i].body, "Message-ID: ");
		size_t len = id ? strcspn(id, "\r\n") : 0;
		lines[i] = xasprintf("%.*s [%s]", (int)len, id ? id : "", m[i].flags);
		total += strlen(lines[i]) + 1;
	}
	qsort(lines, n, sizeof(*lines), line_cmp);
	out = xcalloc(total, 1);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(lines);
	dovecot_msgs_free(m, n);
	return out;
}

size_t two_count(struct dovecot *d, const char *mailbox)
{
	size_t n;
	struct dovecot_msg *m = dovecot_list(d, mailbox, false, &n);

	dovecot_msgs_free(m, n);
	return n;
}

void two_assert_twins(struct dovecot *a, const char *ma, struct dovecot *b, const char *mb, size_t expect)
{
	char *ca = two_contents(a, ma), *cb = two_contents(b, mb);

	cr_assert_eq(two_count(a, ma), expect, "%s on A:\n%s", ma, ca);
	cr_assert_str_eq(ca, cb, "%s (B: %s) differs:\nA:\n%s\nB:\n%s", ma, mb, ca, cb);
	free(ca);
	free(cb);
}

void two_assert_same_bytes(struct dovecot *from, const char *mf, struct dovecot *to, const char *mt)
{
	size_t nf, nt;
	struct dovecot_msg *f = dovecot_list(from, mf, true, &nf), *t = dovecot_list(to, mt, true, &nt);

	for (size_t i = 0; i < nf; i++) {
		bool found = false;
		for (size_t j = 0; j < nt && !found; j++)
			found = t[j].body_len == f[i].body_len &&
			        memcmp(t[j].body, f[i].body, f[i].body_len) == 0;
		cr_assert(found, "%s: message %u (%zu bytes) is not in %s on the target byte for byte", mf,
		          f[i].uid, f[i].body_len, mt);
	}
	dovecot_msgs_free(f, nf);
	dovecot_msgs_free(t, nt);
}

/* The `imap:` lines of server d, indented under source: or target:. */
static char *imap_lines(const struct dovecot *d)
{
	return xasprintf("      imap:\n"
	                 "        host: 127.0.0.1\n"
	                 "        port: %u\n"
	                 "        user: %s\n"
	                 "        password: \"%s\"\n"
	                 "        ca_file: \"%s\"\n"
	                 "        timeout: 20s\n",
	                 d->imaps_port, d->user, d->password, d->ca_file);
}

char *two_config(const struct dovecot *a, const struct dovecot *b, const char *state_dir,
                 const char *account_extra)
{
	char *la = imap_lines(a), *lb = imap_lines(b);
	char *text = xasprintf("state_dir: %s\n"
	                       "accounts:\n"
	                       "  move:\n"
	                       "    source:\n%s"
	                       "    target:\n%s%s",
	                       state_dir, la, lb, account_extra ? account_extra : "");
	char *path = test_write_temp("config.yaml", text, 0600);

	free(text);
	free(la);
	free(lb);
	return path;
}

int two_migrate(const struct dovecot *a, const struct dovecot *b, const char *state, const char *extra,
                struct run_result *r)
{
	char *from = xasprintf("imaps://%s@127.0.0.1:%u", a->user, a->imaps_port);
	char *to = xasprintf("imaps://%s@127.0.0.1:%u/", b->user, b->imaps_port);
	char *pa = xasprintf("printf %%s '%s'", a->password), *pb = xasprintf("printf %%s '%s'", b->password);
	const char *args[] = {"migrate",  "--from",
	                      from,       "--to",
	                      to,         "--from-password-command",
	                      pa,         "--to-password-command",
	                      pb,         "--from-ca-file",
	                      a->ca_file, "--to-ca-file",
	                      b->ca_file, "--state-dir",
	                      state,      extra,
	                      NULL};

	run_result_free(r);
	run_twinbox(args, 120, r);
	free(from);
	free(to);
	free(pa);
	free(pb);
	return r->status;
}
