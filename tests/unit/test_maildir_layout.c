/* Remote folder names <-> local paths, both layouts. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/maildir/layout.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct mapping {
	char delim;
	const char *remote;
	const char *local;
};

static const struct mapping pp[] = {
    {'/', "INBOX", ""},
    {'/', "Work", ".Work"},
    {'/', "Work/Projects", ".Work.Projects"},
    {'/', "A.B", ".A%2EB"},
    {'/', "INBOX/Sub", ".INBOX.Sub"},
    {'/', "../../etc", ".%2E%2E.%2E%2E.etc"},
    {'/', "a/../b", ".a.%2E%2E.b"},
    {'/', "a\nb", ".a%0Ab"},
    {'/', "tab\there\x7f", ".tab%09here%7F"},
    {'/', "100%", ".100%25"},
    {'/', "/abs", ".%.abs"},
    {'/', "a//b", ".a.%.b"},
    {'/', "a/", ".a.%"},
    {'/', ".hidden", ".%2Ehidden"},
    {'/', "Entw\xc3\xbcrfe", ".Entw\xc3\xbcrfe"},
    {'/', "[Gmail]/Sent Mail", ".[Gmail].Sent Mail"},
    {'/', "cur", ".cur"},
    {'/', "\xf0\x9f\x98\x80/x", ".\xf0\x9f\x98\x80.x"},
    {'.', "INBOX.Sent", ".INBOX.Sent"},
    {'.', "A/B", ".A%2FB"},
    {'.', "Work.Projects", ".Work.Projects"},
    {'.', "a..b", ".a.%.b"},
    {'\0', "A/B.C", ".A%2FB%2EC"},
    {'\\', "A\\B.C", ".A.B%2EC"},
};

static const struct mapping nested[] = {
    {'/', "INBOX", "INBOX"},
    {'/', "Work/Projects", "Work/Projects"},
    {'/', "A.B", "A.B"},
    {'/', "INBOX/Sub", "INBOX/Sub"},
    {'/', "../../etc", "%2E./%2E./etc"},
    {'/', "a/../b", "a/%2E./b"},
    {'/', ".", "%2E"},
    {'/', "a/./b", "a/%2E/b"},
    {'/', "..x", "%2E.x"},
    {'/', "cur", "%63ur"},
    {'/', "Work/new", "Work/%6Eew"},
    {'/', "tmp/x", "%74mp/x"},
    {'/', "curry", "curry"},
    {'/', "CUR", "CUR"},
    {'/', ".hidden/x", "%2Ehidden/x"},
    {'/', "a\x7f", "a%7F"},
    {'/', "/abs", "%/abs"},
    {'/', "100%/50%25", "100%25/50%2525"},
    {'/', "Entw\xc3\xbcrfe/\xe6\x97\xa5\xe6\x9c\xac", "Entw\xc3\xbcrfe/\xe6\x97\xa5\xe6\x9c\xac"},
    {'.', "A/B", "A%2FB"},
    {'.', "INBOX.Sent", "INBOX/Sent"},
    {'.', "a..b", "a/%/b"},
    {'\0', "A/B.C", "A%2FB.C"},
};

static void check_table(enum maildir_layout layout, const struct mapping *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct error err;
		char *rel, *back;

		cr_assert_eq(maildir_layout_to_local(layout, t[i].remote, t[i].delim, &rel, &err), 0,
		             "%s: %s", t[i].remote, err.text);
		cr_expect_str_eq(rel, t[i].local, "remote \"%s\"", t[i].remote);
		cr_assert_eq(maildir_layout_to_remote(layout, t[i].local, t[i].delim, &back, &err), 0,
		             "%s: %s", t[i].local, err.text);
		cr_expect_str_eq(back, t[i].remote, "local \"%s\"", t[i].local);
		free(rel);
		free(back);
	}
}

Test(maildir_layout, maildirpp_table_both_ways)
{
	check_table(MAILDIR_LAYOUT_MAILDIRPP, pp, N(pp));
}

Test(maildir_layout, nested_table_both_ways)
{
	check_table(MAILDIR_LAYOUT_NESTED, nested, N(nested));
}

Test(maildir_layout, inbox_in_any_case_is_the_inbox)
{
	static const struct {
		enum maildir_layout layout;
		const char *remote, *local;
	} cases[] = {
	    {MAILDIR_LAYOUT_MAILDIRPP, "inbox", ""},
	    {MAILDIR_LAYOUT_MAILDIRPP, "InBoX", ""},
	    {MAILDIR_LAYOUT_MAILDIRPP, "inbox/Sub", ".INBOX.Sub"},
	    {MAILDIR_LAYOUT_NESTED, "inbox", "INBOX"},
	    {MAILDIR_LAYOUT_NESTED, "Inbox/Sub", "INBOX/Sub"},
	    /* only the first component is special */
	    {MAILDIR_LAYOUT_NESTED, "Work/inbox", "Work/inbox"},
	    {MAILDIR_LAYOUT_MAILDIRPP, "INBOXES", ".INBOXES"},
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct error err;
		char *rel;

		cr_assert_eq(maildir_layout_to_local(cases[i].layout, cases[i].remote, '/', &rel, &err), 0);
		cr_expect_str_eq(rel, cases[i].local, "%s", cases[i].remote);
		free(rel);
	}
}

Test(maildir_layout, refuses_names_it_cannot_map)
{
	char big[1100], comp[300];
	static const char *bad[] = {"", "\xff", "a\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xe2\x82"};
	struct error err;
	char *rel;

	for (size_t i = 0; i < N(bad); i++) {
		for (int layout = 0; layout < 2; layout++) {
			error_clear(&err);
			cr_expect_eq(maildir_layout_to_local(layout, bad[i], '/', &rel, &err), -1, "\"%s\"",
			             bad[i]);
			cr_expect_null(rel);
			cr_expect_eq(err.scope, ERR_MAILBOX);
		}
	}
	memset(big, 'a', 1001);
	big[1001] = '\0';
	cr_expect_eq(maildir_layout_to_local(MAILDIR_LAYOUT_NESTED, big, '/', &rel, &err), -1);
	memset(comp, 'a', 256);
	comp[256] = '\0';
	cr_expect_eq(maildir_layout_to_local(MAILDIR_LAYOUT_NESTED, comp, '/', &rel, &err), -1);
	cr_expect(strstr(err.text, "too long"), "%s", err.text);
	comp[255] = '\0';
	cr_expect_eq(maildir_layout_to_local(MAILDIR_LAYOUT_NESTED, comp, '/', &rel, &err), 0);
	free(rel);
	/* in maildir++ the whole path is one directory name */
	memset(comp, 'a', 261);
	comp[130] = '/';
	comp[261] = '\0';
	cr_expect_eq(maildir_layout_to_local(MAILDIR_LAYOUT_NESTED, comp, '/', &rel, &err), 0);
	free(rel);
	cr_expect_eq(maildir_layout_to_local(MAILDIR_LAYOUT_MAILDIRPP, comp, '/', &rel, &err), -1);
	cr_expect_eq(maildir_layout_to_local(MAILDIR_LAYOUT_NESTED, "a", (char)0xc3, &rel, &err), -1,
	             "a delimiter outside ASCII");
}

Test(maildir_layout, to_remote_refuses_paths_it_would_not_produce)
{
	static const struct {
		enum maildir_layout layout;
		char delim;
		const char *local;
	} cases[] = {
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', "Work"},   /* no leading dot */
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".INBOX"}, /* INBOX is the root */
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".inbox"},
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".a%2eb"}, /* lowercase hex */
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".%41"},   /* needless escape */
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".a%"},
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".a%2"},
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".a%zz"},
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".%00"},
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".\xff"},
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".a%2Fb"}, /* decodes to the delimiter */
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', "."},
	    {MAILDIR_LAYOUT_MAILDIRPP, '/', ".%"},    /* would be the empty name */
	    {MAILDIR_LAYOUT_MAILDIRPP, '\0', ".a.b"}, /* no hierarchy without delimiter */
	    {MAILDIR_LAYOUT_NESTED, '/', ""},
	    {MAILDIR_LAYOUT_NESTED, '/', "inbox"},
	    {MAILDIR_LAYOUT_NESTED, '/', "Inbox/Sub"},
	    {MAILDIR_LAYOUT_NESTED, '/', "cur"},
	    {MAILDIR_LAYOUT_NESTED, '/', "a/tmp"},
	    {MAILDIR_LAYOUT_NESTED, '/', "50% off"},
	    {MAILDIR_LAYOUT_NESTED, '/', "a%2Fb"},
	    {MAILDIR_LAYOUT_NESTED, '/', "%2Fa"},
	    {MAILDIR_LAYOUT_NESTED, '.', "a.b"}, /* '.' is the remote delimiter */
	    {MAILDIR_LAYOUT_NESTED, '\0', "a/b"},
	    {MAILDIR_LAYOUT_NESTED, '/', "Latin1-\xe9t\xe9"},
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct error err;
		char *name;

		error_clear(&err);
		cr_expect_eq(
		    maildir_layout_to_remote(cases[i].layout, cases[i].local, cases[i].delim, &name, &err),
		    -1, "accepted \"%s\" as \"%s\"", cases[i].local, name ? name : "");
		cr_expect_null(name);
		cr_expect_eq(err.scope, ERR_MAILBOX);
	}
}

/* The first component, when it is INBOX in any case, becomes "INBOX". */
static char *canonical(const char *name, char delim)
{
	const char *end = delim ? strchr(name, delim) : NULL;
	size_t len = end ? (size_t)(end - name) : strlen(name);
	struct buf b = BUF_INIT;

	if (len == 5 && strncasecmp(name, "INBOX", 5) == 0) {
		buf_append_str(&b, "INBOX");
		buf_append_str(&b, name + 5);
	} else {
		buf_append_str(&b, name);
	}
	return buf_detach(&b, NULL);
}

static const char *const pieces[] = {
    "a",  "B",     ".",     "..",  "/",   "%",   "%2E",      "\n",           "\x7f",
    " ",  "INBOX", "inbox", "cur", "new", "tmp", "\xc3\xbc", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
    "\\", "&",     "~",     "-",   ":",
};

static void check_path_is_safe(enum maildir_layout layout, const char *name, const char *rel)
{
	struct error err;
	char *joined, *copy, *save = NULL;

	if (rel[0] == '\0') {
		cr_assert_eq(layout, MAILDIR_LAYOUT_MAILDIRPP);
		return;
	}
	cr_assert_eq(fs_join("/root", rel, &joined, &err), 0, "\"%s\" -> \"%s\": %s", name, rel, err.text);
	free(joined);
	if (layout == MAILDIR_LAYOUT_MAILDIRPP) {
		cr_assert_eq(rel[0], '.');
		cr_assert_null(strchr(rel, '/'), "\"%s\" -> \"%s\"", name, rel);
		cr_assert(strlen(rel) > 1 && strcmp(rel, "..") != 0);
		return;
	}
	copy = strdup(rel);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		cr_assert_neq(c[0], '.', "\"%s\" -> \"%s\"", name, rel);
		cr_assert(strcmp(c, "cur") && strcmp(c, "new") && strcmp(c, "tmp"), "\"%s\" -> \"%s\"", name,
		          rel);
	}
	free(copy);
}

Test(maildir_layout, random_names_round_trip_and_stay_below_the_root)
{
	static const char delims[] = {'/', '.', '\0'};
	unsigned seed = 12345;

	for (int round = 0; round < 20000; round++) {
		struct buf b = BUF_INIT;
		int n = 1 + (int)(rand_r(&seed) % 8);
		enum maildir_layout layout = (enum maildir_layout)(round % 2);
		char delim = delims[(round / 2) % 3];
		struct error err;
		char *rel, *back, *canon;

		for (int k = 0; k < n; k++)
			buf_append_str(&b, pieces[rand_r(&seed) % N(pieces)]);
		cr_assert_eq(maildir_layout_to_local(layout, buf_cstr(&b), delim, &rel, &err), 0,
		             "\"%s\": %s", buf_cstr(&b), err.text);
		check_path_is_safe(layout, buf_cstr(&b), rel);
		cr_assert_eq(maildir_layout_to_remote(layout, rel, delim, &back, &err), 0,
		             "\"%s\" -> \"%s\": %s", buf_cstr(&b), rel, err.text);
		canon = canonical(buf_cstr(&b), delim);
		cr_assert_str_eq(back, canon, "layout %d delim '%c': \"%s\" -> \"%s\"", layout,
		                 delim ? delim : '0', buf_cstr(&b), rel);
		free(canon);
		free(back);
		free(rel);
		buf_free(&b);
	}
}

Test(maildir_layout, random_paths_are_refused_or_round_trip)
{
	static const char *const local_pieces[] = {".", "/",   "%",     "%2E",   "%2e",  "%25",      "%00",
	                                           "a", "cur", "INBOX", "inbox", "\xff", "\xc3\xbc", "%63"};
	unsigned seed = 777;
	int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		struct buf b = BUF_INIT;
		int n = (int)(rand_r(&seed) % 7);
		enum maildir_layout layout = (enum maildir_layout)(round % 2);
		struct error err;
		char *name, *rel;

		for (int k = 0; k < n; k++)
			buf_append_str(&b, local_pieces[rand_r(&seed) % N(local_pieces)]);
		if (maildir_layout_to_remote(layout, buf_cstr(&b), '/', &name, &err) < 0)
			goto next;
		/* Accepted: then it is exactly the path of that name. */
		cr_assert_eq(maildir_layout_to_local(layout, name, '/', &rel, &err), 0);
		cr_assert_str_eq(rel, buf_cstr(&b));
		accepted++;
		free(rel);
		free(name);
	next:
		buf_free(&b);
	}
	cr_expect_gt(accepted, 1000, "the generator should also produce valid paths");
}

Test(maildir_layout, collisions_are_found)
{
	static const char *const none[] = {"INBOX", "A.B", "A/B", "a/b", "Work", "work", "A%2EB", ".A"};
	static const char *const inbox[] = {"Work", "INBOX", "x", "inbox"};
	static const char *const sub[] = {"INBOX/x", "Inbox/x"};
	static const char *const broken[] = {"ok", ""};
	struct error err;
	size_t a = 99, b = 99;

	cr_expect_eq(
	    maildir_layout_check_collisions(MAILDIR_LAYOUT_MAILDIRPP, none, N(none), '/', &a, &b, &err), 0,
	    "%s", err.text);
	cr_expect_eq(maildir_layout_check_collisions(MAILDIR_LAYOUT_NESTED, none, N(none), '/', &a, &b, &err),
	             0, "%s", err.text);
	cr_expect_eq(
	    maildir_layout_check_collisions(MAILDIR_LAYOUT_MAILDIRPP, inbox, N(inbox), '/', &a, &b, &err),
	    -1);
	cr_expect_eq(a, 1);
	cr_expect_eq(b, 3);
	cr_expect_eq(err.scope, ERR_ACCOUNT);
	cr_expect(strstr(err.text, "\"INBOX\"") && strstr(err.text, "\"inbox\""), "%s", err.text);
	cr_expect_eq(maildir_layout_check_collisions(MAILDIR_LAYOUT_NESTED, sub, N(sub), '/', &a, &b, &err),
	             -1);
	cr_expect_eq(a, 0);
	cr_expect_eq(b, 1);
	cr_expect(strstr(err.text, "INBOX/x"), "%s", err.text);
	cr_expect_eq(
	    maildir_layout_check_collisions(MAILDIR_LAYOUT_NESTED, broken, N(broken), '/', &a, &b, &err), -1);
	cr_expect_eq(a, 1);
	cr_expect_eq(b, 1);
	cr_expect_eq(maildir_layout_check_collisions(MAILDIR_LAYOUT_NESTED, NULL, 0, '/', &a, &b, &err), 0);
}
