/* Value syntax of the config: durations, sizes, names. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config_p.h"
#include "twinbox/config/config.h"

void config_quote(char *out, const char *text, size_t len)
{
	size_t o = 0;
	size_t n = len < CONFIG_QUOTE_MAX ? len : CONFIG_QUOTE_MAX;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c != 0x7f) {
			/* UTF-8 bytes pass: libyaml already checked the encoding. */
			out[o++] = (char)c;
		} else {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		}
	}
	if (n < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Leading decimal digits of `s` into *value_r; returns the number of
 * digits (0 if none), or -1 when the number does not fit 64 bits. */
static int parse_digits(const char *s, uint64_t *value_r)
{
	uint64_t v = 0;
	int n = 0;

	for (; s[n] >= '0' && s[n] <= '9'; n++) {
		unsigned d = (unsigned)(s[n] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value_r = v;
	return n;
}

int config_parse_duration(const char *text, uint64_t *seconds_r, struct error *err)
{
	static const struct {
		const char *unit;
		uint64_t seconds;
	} units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
	char q[CONFIG_QUOTE_SIZE];
	uint64_t v;
	int n;

	config_quote(q, text, strlen(text));
	if (text[0] == '-')
		return error_set(err, ERR_FATAL, "a duration cannot be negative, got \"%s\"", q);
	n = parse_digits(text, &v);
	if (n < 0)
		return error_set(err, ERR_FATAL, "the duration \"%s\" is too large", q);
	if (n == 0)
		return error_set(
		    err, ERR_FATAL,
		    "expected a duration: a whole number with a unit s, m, h or d (30s, 5m, 2h, 30d), "
		    "got \"%s\"",
		    q);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(text + n, units[i].unit) != 0)
			continue;
		if (v > UINT64_MAX / units[i].seconds)
			return error_set(err, ERR_FATAL, "the duration \"%s\" is too large", q);
		*seconds_r = v * units[i].seconds;
		return 0;
	}
	return error_set(err, ERR_FATAL,
	                 "unknown unit in the duration \"%s\": use s, m, h or d (30s, 5m, 2h, 30d); "
	                 "a bare number is seconds",
	                 q);
}

int config_parse_size(const char *text, uint64_t *bytes_r, struct error *err)
{
	/* 1024-based whatever the spelling: "50MB" in a mail client means
	 * 50 MiB, and a limit that is 5% larger than written surprises less
	 * than one that is smaller. */
	static const struct {
		const char *unit;
		uint64_t bytes;
	} units[] = {
	    {"", 1},
	    {"b", 1},
	    {"k", 1ULL << 10},
	    {"kb", 1ULL << 10},
	    {"kib", 1ULL << 10},
	    {"m", 1ULL << 20},
	    {"mb", 1ULL << 20},
	    {"mib", 1ULL << 20},
	    {"g", 1ULL << 30},
	    {"gb", 1ULL << 30},
	    {"gib", 1ULL << 30},
	    {"t", 1ULL << 40},
	    {"tb", 1ULL << 40},
	    {"tib", 1ULL << 40},
	};
	char q[CONFIG_QUOTE_SIZE];
	const char *unit;
	uint64_t v;
	int n;

	config_quote(q, text, strlen(text));
	if (text[0] == '-')
		return error_set(err, ERR_FATAL, "a size cannot be negative, got \"%s\"", q);
	n = parse_digits(text, &v);
	if (n < 0)
		return error_set(err, ERR_FATAL, "the size \"%s\" is too large", q);
	if (n == 0)
		return error_set(err, ERR_FATAL,
		                 "expected a size: a whole number with an optional unit B, KB, MB, GB or TB "
		                 "(512, 10KB, 50MB, 1GB), got \"%s\"",
		                 q);
	unit = text + n;
	if (*unit == ' ')
		unit++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(unit, units[i].unit) != 0 || (unit != text + n && *unit == '\0'))
			continue;
		if (v > UINT64_MAX / units[i].bytes)
			return error_set(err, ERR_FATAL, "the size \"%s\" is too large", q);
		*bytes_r = v * units[i].bytes;
		return 0;
	}
	return error_set(err, ERR_FATAL,
	                 "unknown unit in the size \"%s\": use B, KB, MB, GB or TB (1024-based; KiB, MiB, "
	                 "GiB, TiB also accepted); a bare number is bytes",
	                 q);
}

bool config_account_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CONFIG_NAME_MAX)
		return false;
	/* "." and ".." would make "<state_dir>/..db"-style names that look
	 * like directory references in messages and shells. */
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		/* ASCII only, whatever the locale: the name becomes a file name. */
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '_' || c == '.' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

const char *config_store_name(enum config_store store)
{
	return store == CONFIG_STORE_POP3 ? "pop3" : "imap";
}

const char *config_tls_name(enum config_tls tls)
{
	switch (tls) {
	case CONFIG_TLS_IMPLICIT:
		return "implicit";
	case CONFIG_TLS_STARTTLS:
		return "starttls";
	case CONFIG_TLS_NONE:
		return "none";
	}
	return "?";
}

const char *config_auth_name(enum config_auth auth)
{
	switch (auth) {
	case CONFIG_AUTH_PLAIN:
		return "plain";
	case CONFIG_AUTH_LOGIN:
		return "login";
	case CONFIG_AUTH_XOAUTH2:
		return "xoauth2";
	case CONFIG_AUTH_OAUTHBEARER:
		return "oauthbearer";
	case CONFIG_AUTH_APOP:
		return "apop";
	case CONFIG_AUTH_USER:
		return "user";
	case CONFIG_AUTH_COUNT:
		break;
	}
	return "?";
}
