#include "twinbox/maildir/layout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/maildir/name.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/utf8.h"
#include "twinbox/util/xmalloc.h"

static const char hex[] = "0123456789ABCDEF";

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Remote names arrive decoded from modified UTF-7 and are valid; a local
 * directory in Latin-1 is not, and has no remote name. */
static int is_reserved_subdir(const char *c, size_t len)
{
	return len == 3 && (memcmp(c, "cur", 3) == 0 || memcmp(c, "new", 3) == 0 || memcmp(c, "tmp", 3) == 0);
}

static void escape_component(struct buf *out, enum maildir_layout layout, const char *c, size_t len)
{
	int reserved = layout == MAILDIR_LAYOUT_NESTED && is_reserved_subdir(c, len);

	if (len == 0) {
		buf_append_byte(out, '%');
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)c[i];
		int esc = b == '%' || b < 0x20 || b == 0x7f || b == '/' || (b == '.' && i == 0) ||
		          (b == '.' && layout == MAILDIR_LAYOUT_MAILDIRPP) || (i == 0 && reserved);

		if (esc) {
			char e[3] = {'%', hex[b >> 4], hex[b & 0xf]};
			buf_append(out, e, 3);
		} else {
			buf_append_byte(out, (char)b);
		}
	}
}

static int is_inbox(const char *c, size_t len)
{
	return len == 5 && strncasecmp(c, "INBOX", 5) == 0;
}

int maildir_layout_to_local(enum maildir_layout layout, const char *name, char delim, char **rel_r,
                            struct error *err)
{
	size_t len = strnlen(name, MAILDIR_FOLDER_NAME_MAX + 1);
	char sep = layout == MAILDIR_LAYOUT_MAILDIRPP ? '.' : '/';
	struct buf out = BUF_INIT;
	const char *p = name;
	size_t comp_start = 0; /* maildir++: the whole ".A.B" is one directory name */

	*rel_r = NULL;
	if (len == 0)
		return error_set(err, ERR_MAILBOX,
		                 "a folder with an empty name cannot be stored in a Maildir");
	if (len > MAILDIR_FOLDER_NAME_MAX)
		return error_set(err, ERR_MAILBOX, "folder name \"%.60s...\" is longer than %d bytes", name,
		                 MAILDIR_FOLDER_NAME_MAX);
	if ((unsigned char)delim >= 0x80)
		return error_set(err, ERR_MAILBOX, "hierarchy delimiter 0x%02x is not ASCII",
		                 (unsigned char)delim);
	if (!utf8_valid(name, len))
		return error_set(err, ERR_MAILBOX, "folder name \"%s\" is not valid UTF-8", name);
	if (layout == MAILDIR_LAYOUT_MAILDIRPP) {
		if (is_inbox(name, len)) {
			*rel_r = xstrdup("");
			return 0;
		}
		buf_append_byte(&out, '.');
	}
	for (int first = 1;; first = 0) {
		const char *end = delim ? strchr(p, delim) : NULL;
		size_t clen = end ? (size_t)(end - p) : strlen(p);

		if (!first)
			buf_append_byte(&out, sep);
		if (layout == MAILDIR_LAYOUT_NESTED)
			comp_start = out.len;
		if (first && is_inbox(p, clen))
			buf_append_str(&out, "INBOX");
		else
			escape_component(&out, layout, p, clen);
		if (out.len - comp_start > MAILDIR_NAME_MAX) {
			buf_free(&out);
			return error_set(err, ERR_MAILBOX,
			                 "folder name \"%s\" is too long for a Maildir: a directory name "
			                 "would pass %d bytes",
			                 name, MAILDIR_NAME_MAX);
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (out.len > MAILDIR_FOLDER_PATH_MAX) {
		buf_free(&out);
		return error_set(err, ERR_MAILBOX, "folder name \"%s\" is too deep for a Maildir", name);
	}
	*rel_r = buf_detach(&out, NULL);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one component into `out`; 0, or -1 for a malformed escape. */
static int unescape_component(struct buf *out, const char *c, size_t len)
{
	if (len == 1 && c[0] == '%')
		return 0;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (c[i] != '%') {
			buf_append_byte(out, c[i]);
			continue;
		}
		if (len - i < 3 || (hi = hexval(c[i + 1])) < 0 || (lo = hexval(c[i + 2])) < 0 ||
		    (hi == 0 && lo == 0))
			return -1;
		buf_append_byte(out, (char)(hi << 4 | lo));
		i += 2;
	}
	return 0;
}

int maildir_layout_to_remote(enum maildir_layout layout, const char *rel, char delim, char **name_r,
                             struct error *err)
{
	char sep = layout == MAILDIR_LAYOUT_MAILDIRPP ? '.' : '/';
	struct buf out = BUF_INIT;
	const char *p = rel;
	char *check = NULL;
	struct error ignored;
	int ok;

	*name_r = NULL;
	if (layout == MAILDIR_LAYOUT_MAILDIRPP) {
		if (rel[0] == '\0') {
			*name_r = xstrdup("INBOX");
			return 0;
		}
		if (rel[0] != '.')
			goto refuse;
		p++;
	} else if (rel[0] == '\0') {
		goto refuse;
	}
	if (strlen(rel) > MAILDIR_FOLDER_PATH_MAX)
		goto refuse;
	for (int first = 1;; first = 0) {
		const char *end = strchr(p, sep);
		size_t clen = end ? (size_t)(end - p) : strlen(p);

		if (!first) {
			if (delim == '\0')
				goto refuse;
			buf_append_byte(&out, delim);
		}
		if (unescape_component(&out, p, clen) < 0)
			goto refuse;
		if (!end)
			break;
		p = end + 1;
	}
	/* Only the path this name maps to is its path: that keeps the mapping
	 * one-to-one, whatever other programs put below the root. */
	ok = maildir_layout_to_local(layout, buf_cstr(&out), delim, &check, &ignored) == 0 &&
	     strcmp(check, rel) == 0;
	free(check);
	if (!ok)
		goto refuse;
	*name_r = buf_detach(&out, NULL);
	return 0;
refuse:
	buf_free(&out);
	return error_set(err, ERR_MAILBOX,
	                 "the local folder directory \"%s\" is not a name twinbox gives a folder (see the "
	                 "folder name escaping rules), so it has no remote name; rename it to sync it",
	                 rel);
}

struct mapped {
	char *rel;
	size_t index;
};

static int cmp_mapped(const void *a, const void *b)
{
	const struct mapped *x = a, *y = b;
	int c = strcmp(x->rel, y->rel);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

int maildir_layout_check_collisions(enum maildir_layout layout, const char *const *names, size_t count,
                                    char delim, size_t *a_r, size_t *b_r, struct error *err)
{
	struct mapped *m = xcalloc(count ? count : 1, sizeof(*m));
	size_t done = 0;
	int rc = 0;

	for (; done < count; done++) {
		m[done].index = done;
		if (maildir_layout_to_local(layout, names[done], delim, &m[done].rel, err) < 0) {
			if (a_r)
				*a_r = done;
			if (b_r)
				*b_r = done;
			rc = -1;
			goto out;
		}
	}
	qsort(m, count, sizeof(*m), cmp_mapped);
	for (size_t i = 1; i < count; i++) {
		if (strcmp(m[i - 1].rel, m[i].rel) != 0)
			continue;
		if (a_r)
			*a_r = m[i - 1].index;
		if (b_r)
			*b_r = m[i].index;
		rc = error_set(err, ERR_ACCOUNT,
		               "remote folders \"%s\" and \"%s\" would both be stored in the local folder "
		               "\"%s\"; twinbox does not merge folders: rename or exclude one of them",
		               names[m[i - 1].index], names[m[i].index], m[i].rel[0] ? m[i].rel : "(root)");
		break;
	}
out:
	for (size_t i = 0; i < done; i++)
		free(m[i].rel);
	free(m);
	return rc;
}
