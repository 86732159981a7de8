/*
 * The verdict of the randomized test, after every device synced twice:
 * each device is the server's twin, and the server keeps every promise
 * the oracle can check. See rw_check() in random_world.h.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/random_world.h"
#include "support/sync_harness.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* One copy of a message on one side, text with LF line ends. */
struct copy {
	char *id;
	unsigned flags;
	char *text;
};

static int copy_cmp(const void *a, const void *b)
{
	const struct copy *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (!c)
		c = strcmp(x->text, y->text);
	return c ? c : (x->flags > y->flags) - (x->flags < y->flags);
}

static void copies_free(struct copy *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].id);
		free(c[i].text);
	}
	free(c);
}

static struct copy *server_copies(const char *folder, size_t *n_r)
{
	size_t n;
	struct dovecot_msg *sm = dovecot_list(sh.d, folder, true, &n);
	struct copy *c = xcalloc(n + 1, sizeof(*c));

	for (size_t i = 0; i < n; i++)
		c[i] = (struct copy){message_id(sm[i].body), rw_flags_of_imap(sm[i].flags),
		                     lf_of(sm[i].body, sm[i].body_len)};
	dovecot_msgs_free(sm, n);
	qsort(c, n, sizeof(*c), copy_cmp);
	*n_r = n;
	return c;
}

/* The current device's copies; fails on a flag letter the test never
 * sets (twinbox must not invent flags). */
static struct copy *device_copies(struct rw_world *w, unsigned dev, const char *folder, size_t *n_r)
{
	struct local_msg *lm;
	size_t n = local_list(folder, &lm);
	struct copy *c = xcalloc(n + 1, sizeof(*c));

	for (size_t i = 0; i < n; i++) {
		if (strspn(lm[i].flags, rw_flag_letters) != strlen(lm[i].flags))
			rw_fail(w, "dev%u %s: %s has flags \"%s\"", dev + 1, folder, lm[i].path, lm[i].flags);
		c[i] = (struct copy){message_id(lm[i].data), rw_flags_of_letters(lm[i].flags),
		                     xstrdup(lm[i].data)};
	}
	local_free(lm, n);
	qsort(c, n, sizeof(*c), copy_cmp);
	*n_r = n;
	return c;
}

/* The device has the server's messages, no other: else fail naming
 * every message on one side only. */
static void compare_sets(struct rw_world *w, unsigned dev, const char *folder, const struct copy *s,
                         size_t ns, const struct copy *l, size_t nl)
{
	struct buf only_s = BUF_INIT, only_l = BUF_INIT;
	size_t i = 0, j = 0;

	while (i < ns || j < nl) {
		int c = i == ns ? 1 : j == nl ? -1 : strcmp(s[i].id, l[j].id);
		if (c < 0)
			buf_printf(&only_s, " %s", s[i++].id);
		else if (c > 0)
			buf_printf(&only_l, " %s", l[j++].id);
		else
			i++, j++;
	}
	if (only_s.len || only_l.len)
		rw_fail(w,
		        "%s: dev%u differs from the server (%zu messages there, %zu on the server); only on "
		        "the server:%s; only on dev%u:%s",
		        folder, dev + 1, nl, ns, only_s.len ? only_s.data : " -", dev + 1,
		        only_l.len ? only_l.data : " -");
	buf_free(&only_s);
	buf_free(&only_l);
}

/* Every copy of `id` with its flags on both sides, for a failure (in a
 * static buffer). */
static const char *copies_text(const struct copy *s, const struct copy *l, size_t n, const char *id)
{
	static char text[256];
	size_t used = 0;

	text[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(text); i++)
		if (strcmp(s[i].id, id) == 0) {
			char fs[RW_FLAGS + 1], fl[RW_FLAGS + 1];
			rw_letters(s[i].flags, fs);
			rw_letters(l[i].flags, fl);
			used += (size_t)snprintf(text + used, sizeof(text) - used,
			                         "%sserver \"%s\" / device \"%s\"", used ? ", " : "", fs, fl);
		}
	return text;
}

/* The device's copies equal the server's, message by message. */
static void compare(struct rw_world *w, unsigned dev, const char *folder, const struct copy *s, size_t ns,
                    const struct copy *l, size_t nl)
{
	compare_sets(w, dev, folder, s, ns, l, nl);
	for (size_t i = 0; i < ns; i++) {
		char fs[RW_FLAGS + 1], fl[RW_FLAGS + 1];
		if (strcmp(s[i].text, l[i].text) != 0)
			rw_fail(w, "%s: %s differs between the server and dev%u", folder, s[i].id, dev + 1);
		rw_letters(s[i].flags, fs);
		rw_letters(l[i].flags, fl);
		if (s[i].flags != l[i].flags)
			rw_fail(w,
			        "%s: %s has flags \"%s\" on the server, \"%s\" on dev%u (copies there: %s)",
			        folder, s[i].id, fs, fl, dev + 1, copies_text(s, l, ns, s[i].id));
	}
}

/* Nothing left in the folder's tmp/ (a killed delivery must be cleaned
 * up by the next run). */
static void tmp_is_empty(struct rw_world *w, unsigned dev, const char *folder)
{
	char *dir = folder_dir(folder);
	char *tmp = xasprintf("%s/tmp", dir);
	DIR *dh = opendir(tmp);
	struct dirent *e;
	size_t left = 0;
	char first[256] = "";

	while (dh && (e = readdir(dh)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!left++)
			snprintf(first, sizeof(first), "%s", e->d_name);
	}
	if (dh)
		closedir(dh);
	if (left)
		rw_fail(w, "dev%u %s: %zu files left in tmp/ (%s, ...)", dev + 1, folder, left, first);
	free(tmp);
	free(dir);
}

/* What the oracle knows about the server's copies of one folder:
 * `counts[k * RW_FOLDERS + f]` copies of w->msgs[k] in folder f,
 * `flags[k]` the flags of one of them. */
static void check_against_oracle(struct rw_world *w, unsigned f, const struct copy *s, size_t ns,
                                 unsigned *counts, unsigned *flags)
{
	for (size_t i = 0; i < ns; i++) {
		struct rw_msg *m = rw_msg_find(w, s[i].id);
		size_t k;
		if (!m)
			rw_fail(w, "%s: the server has a message nobody added: %s", rw_folder_names[f],
			        s[i].id);
		k = (size_t)(m - w->msgs);
		if (++counts[k * RW_FOLDERS + f] > 1 && !m->doubled)
			rw_fail(w, "%s: %s is twice on the server and on every device (duplicated)",
			        rw_folder_names[f], m->id);
		if (!(m->placed & (1u << f)))
			rw_fail(w, "%s: %s is there, but nobody put it there", rw_folder_names[f], m->id);
		if (f == m->home)
			flags[k] = s[i].flags;
	}
}

/* Nothing lost that nobody deleted; flags as their only changer left
 * them, where one actor alone changed a flag of a message that stayed
 * where it was added. */
static void check_messages(struct rw_world *w, const unsigned *counts, const unsigned *flags)
{
	for (size_t k = 0; k < w->count; k++) {
		const struct rw_msg *m = &w->msgs[k];
		unsigned total = 0;
		for (unsigned f = 0; f < RW_FOLDERS; f++)
			total += counts[k * RW_FOLDERS + f];
		if (m->deleted)
			continue; /* gone, or back where it was changed */
		if (total == 0)
			rw_fail(w, "%s was lost: nobody deleted it (added to %s%s)", m->id,
			        rw_folder_names[m->home], m->moved ? ", moved since" : "");
		if (m->moved)
			continue;
		for (unsigned fl = 0; fl < RW_FLAGS; fl++) {
			unsigned who = m->changers[fl];
			bool want = who ? m->value[fl] : (m->initial & (1u << fl)) != 0;
			bool have = (flags[k] & (1u << fl)) != 0;
			if ((who & (who - 1)) == 0 && want != have)
				rw_fail(w, "%s: %s has %c %s, but %s", rw_folder_names[m->home], m->id,
				        rw_flag_letters[fl], have ? "set" : "clear",
				        who ? "its only changer left it otherwise" : "nobody changed it");
		}
	}
}

void rw_check(struct rw_world *w)
{
	unsigned *counts = xcalloc(w->count * RW_FOLDERS + 1, sizeof(*counts));
	unsigned *flags = xcalloc(w->count + 1, sizeof(*flags));

	for (unsigned f = 0; f < RW_FOLDERS; f++) {
		const char *folder = rw_folder_names[f];
		size_t ns, nl;
		struct copy *s = server_copies(folder, &ns);
		check_against_oracle(w, f, s, ns, counts, flags);
		for (unsigned dev = 0; dev < RW_DEVICES; dev++) {
			struct copy *l;
			size_t pairs;
			rw_use_device(w, dev);
			l = device_copies(w, dev, folder, &nl);
			compare(w, dev, folder, s, ns, l, nl);
			pairs = state_pair_count(folder);
			if (pairs != ns)
				rw_fail(w, "dev%u %s: %zu pairs in the state for %zu messages", dev + 1,
				        folder, pairs, ns);
			copies_free(l, nl);
		}
		copies_free(s, ns);
	}
	check_messages(w, counts, flags);
	/* Last, so that a leftover does not hide a worse failure. */
	for (unsigned dev = 0; dev < RW_DEVICES; dev++) {
		rw_use_device(w, dev);
		for (unsigned f = 0; f < RW_FOLDERS; f++)
			tmp_is_empty(w, dev, rw_folder_names[f]);
	}
	free(counts);
	free(flags);
}
