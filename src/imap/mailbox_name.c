/*
 * Mailbox names between UTF-8 and the wire.
 */
#include "twinbox/imap/mailbox_name.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/imap/utf7.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/utf8.h"
#include "twinbox/util/xmalloc.h"

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
		if (!utf8_valid(name, len)) {
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
		if (!utf8_valid(wire, len)) {
			char *q = shown(wire, len);
			error_set(err, ERR_MAILBOX, "the server's mailbox name %s is not valid UTF-8", q);
			free(q);
			return -1;
		}
		*name_r = xstrndup(wire, len);
		return 0;
	}
	/* Its message names the name already. */
	return imap_utf7_decode(wire, len, name_r, err);
}
