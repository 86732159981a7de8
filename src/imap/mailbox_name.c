/*
 * Mailbox names between UTF-8 and the wire.
 */
#include "twinbox/imap/mailbox_name.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/imap/utf7.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

bool imap_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false; /* truncated sequence */
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* The name for a message: quoted, control bytes escaped, shortened. */
static char *shown(const char *name, size_t len)
{
	struct buf b = BUF_INIT;
	size_t n = len > 100 ? 100 : len;

	buf_append_byte(&b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			buf_printf(&b, "\\x%02x", c);
		else
			buf_append_byte(&b, (char)c);
	}
	buf_append_str(&b, n < len ? "...\"" : "\"");
	return buf_detach(&b, NULL);
}

static int check_controls(const char *name, size_t len, const char *what, struct error *err)
{
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '\r' || name[i] == '\n' || name[i] == '\0') {
			char *q = shown(name, len);
			error_set(err, ERR_MAILBOX,
			          "%s mailbox name %s contains a %s, which IMAP cannot carry", what, q,
			          name[i] == '\0' ? "NUL byte" : "line break");
			free(q);
			return -1;
		}
	}
	return 0;
}

int imap_mailbox_encode(const char *name, bool utf8, char **wire_r, struct error *err)
{
	size_t len = strlen(name);

	*wire_r = NULL;
	if (check_controls(name, len, "the", err) < 0)
		return -1;
	if (utf8) {
		if (!imap_utf8_valid(name, len)) {
			char *q = shown(name, len);
			error_set(err, ERR_MAILBOX, "the mailbox name %s is not valid UTF-8", q);
			free(q);
			return -1;
		}
		*wire_r = xstrdup(name);
		return 0;
	}
	if (imap_utf7_encode(name, len, wire_r, err) < 0) {
		char *q = shown(name, len);
		error_prefix(err, "mailbox name %s", q);
		free(q);
		return -1;
	}
	return 0;
}

int imap_mailbox_decode(const char *wire, size_t len, bool utf8, char **name_r, struct error *err)
{
	*name_r = NULL;
	if (check_controls(wire, len, "the server's", err) < 0)
		return -1;
	if (utf8) {
		if (!imap_utf8_valid(wire, len)) {
			char *q = shown(wire, len);
			error_set(err, ERR_MAILBOX, "the server's mailbox name %s is not valid UTF-8", q);
			free(q);
			return -1;
		}
		*name_r = xstrndup(wire, len);
		return 0;
	}
	if (imap_utf7_decode(wire, len, name_r, err) < 0) {
		char *q = shown(wire, len);
		error_prefix(err, "the server's mailbox name %s", q);
		free(q);
		return -1;
	}
	return 0;
}
