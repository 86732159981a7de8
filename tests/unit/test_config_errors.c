/*
 * config: every malformed config is refused with a message that says what
 * is wrong and exactly where (file:line:column).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/config/config.h"

struct bad_case {
	const char *name;
	const char *yaml;
	unsigned line, column;
	const char *message; /* substring of the error after the position */
};

/* Connection and maildir lines that are valid, to build cases around. */
#define CONN "{host: h, user: u, password_command: pw}"

static struct bad_case bad_cases[] = {
    {"typo in key", "accounts:\n  work:\n    imap:\n      hots: imap.example.com\n", 4, 7,
     "unknown key \"hots\" in imap (did you mean \"host\"?)"},
    {"boolean",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    sync:\n      flags: yes please\n",
     6, 14, "expected a boolean (true/false) for \"flags\", got \"yes please\""},
    {"duplicate key",
     "accounts:\n  work:\n    imap:\n      host: a\n      user: u\n      password: p\n      host: b\n", 7, 7,
     "duplicate key \"host\" (first at line 4)"},
    {"missing host",
     "accounts:\n  work:\n    imap:\n      user: u\n      password: p\n    maildir: {path: /m}\n", 3, 5,
     "missing required key \"host\" in imap"},
    {"missing user", "accounts:\n  work:\n    imap: {host: h, password: p}\n    maildir: {path: /m}\n", 3, 5,
     "missing required key \"user\" in imap"},
    {"missing maildir", "accounts:\n  work:\n    imap: " CONN "\n", 2, 3,
     "missing required key \"maildir\" in account \"work\""},
    {"missing maildir path", "accounts:\n  work:\n    imap: " CONN "\n    maildir:\n      layout: nested\n",
     4, 5, "missing required key \"path\" in maildir of account \"work\""},
    {"missing accounts", "state_dir: /var/tmp/s\n", 1, 1,
     "missing required key \"accounts\" at the top level"},
    {"unknown top-level key", "acounts:\n  work: {}\n", 1, 1,
     "unknown key \"acounts\" at the top level (did you mean \"accounts\"?)"},
    {"account at top level", "work:\n  imap: {}\n", 1, 1,
     "unknown key \"work\" at the top level (accounts are listed under \"accounts:\")"},
    {"yaml syntax: unclosed flow list", "accounts:\n  work:\n    folders: [a, b\n", 4, 1,
     "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence started at line 3, "
     "column 14)"},
    {"yaml syntax: bad indentation", "accounts: 1\n  work: 2\n", 2, 7,
     "YAML syntax error: mapping values are not allowed in this context"},
    {"empty file", "", 1, 1, "the config is empty"},
    {"only comments", "# nothing yet\n\n", 1, 1, "the config is empty"},
    {"anchor", "accounts:\n  work:\n    imap: &conn " CONN "\n", 3, 11,
     "YAML anchors (&conn) are not supported"},
    {"alias", "accounts: *everything\n", 1, 11, "YAML aliases (*everything) are not supported"},
    {"tag", "accounts: !!map {}\n", 1, 11, "YAML tags (tag:yaml.org,2002:map) are not supported"},
    {"tab indentation", "accounts:\n\twork:\n", 2, 1, "tab character in indentation"},
    {"second document", "accounts: {}\n---\naccounts: {}\n", 2, 1, "a second YAML document"},
    {"top level is a list", "- accounts\n", 1, 1,
     "expected a mapping with an \"accounts:\" key at the top level, got a list"},
    {"scalar where mapping expected", "accounts:\n  work:\n    imap: imap.example.com\n", 3, 11,
     "expected a mapping for \"imap\", got a string"},
    {"mapping where scalar expected", "accounts:\n  work:\n    imap:\n      host: {name: h}\n", 4, 13,
     "expected a single value for \"host\", got a mapping"},
    {"key without value", "accounts:\n  work:\n    imap:\n      host:\n      user: u\n", 4, 12,
     "no value given for \"host\""},
    {"empty accounts", "accounts: {}\n", 1, 11, "\"accounts\" is empty"},
    {"both imap and pop3",
     "accounts:\n  work:\n    imap: " CONN "\n    pop3: " CONN "\n    maildir: {path: /m}\n", 4, 5,
     "account \"work\" has both imap: and pop3:"},
    {"no remote side", "accounts:\n  work:\n    maildir: {path: /m}\n", 2, 3,
     "account \"work\" has no remote side; add imap: or pop3:"},
    {"account name with space", "accounts:\n  \"my work\":\n    imap: " CONN "\n", 2, 3,
     "invalid account name \"my work\""},
    {"account name with slash", "accounts:\n  a/b:\n    imap: " CONN "\n", 2, 3,
     "invalid account name \"a/b\""},
    {"connection key at account level", "accounts:\n  work:\n    host: h\n", 3, 5,
     "unknown key \"host\" in account \"work\" (connection keys go under imap: or pop3:)"},
    {"password and password_command",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      "
     "password_command: echo p\n",
     7, 7, "both \"password\" and \"password_command\" in imap; keep one"},
    {"no password", "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n    maildir: {path: /m}\n",
     3, 5, "missing \"password_command\" (or \"password\") in imap"},
    {"empty password", "accounts:\n  work:\n    imap: {host: h, user: u, password: \"\"}\n", 3, 40,
     "\"password\" is empty"},
    {"unknown tls", "accounts:\n  work:\n    imap:\n      tls: ssl\n", 4, 12,
     "expected one of implicit, starttls, none for \"tls\", got \"ssl\""},
    {"port too large", "accounts:\n  work:\n    imap:\n      port: 70000\n", 4, 13,
     "\"port\" must be between 1 and 65535, got 70000"},
    {"port zero", "accounts:\n  work:\n    imap:\n      port: 0\n", 4, 13,
     "\"port\" must be between 1 and 65535, got 0"},
    {"port not a number", "accounts:\n  work:\n    imap:\n      port: imaps\n", 4, 13,
     "expected a whole number for \"port\", got \"imaps\""},
    {"host with a space", "accounts:\n  work:\n    imap: {host: imap example.com, user: u, password: p}\n", 3,
     18, "\"host\" must be a host name or an address"},
    {"timeout too long",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      timeout: 2h\n", 7,
     16, "\"timeout\" must be between 1s and 1h, got \"2h\""},
    {"timeout zero",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      timeout: 0\n", 7,
     16, "\"timeout\" must be between 1s and 1h, got \"0\""},
    {"timeout bad unit",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      timeout: 5x\n", 7,
     16, "invalid duration for \"timeout\": unknown unit in the duration \"5x\""},
    {"negative size",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    sync: {max_size: -5MB}\n", 5, 22,
     "invalid size for \"max_size\": a size cannot be negative"},
    {"size overflow",
     "accounts:\n  work:\n    imap: " CONN
     "\n    maildir: {path: /m}\n    sync: {max_size: 99999999999999999999}\n",
     5, 22, "the size \"99999999999999999999\" is too large"},
    {"unknown auth mechanism",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      auth: [plain, "
     "cram-md5]\n",
     7, 21, "unknown mechanism \"cram-md5\" in \"auth\"; expected plain, login, xoauth2 or oauthbearer"},
    {"apop for imap",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      auth: [apop]\n",
     7, 14, "\"apop\" in \"auth\" is a POP3 mechanism"},
    {"auth listed twice",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      auth: [plain, "
     "PLAIN]\n",
     7, 21, "\"PLAIN\" is listed twice in \"auth\""},
    {"pop3 key in imap", "accounts:\n  work:\n    imap:\n      leave_on_server: true\n", 4, 7,
     "unknown key \"leave_on_server\" in imap (it applies to pop3: accounts only)"},
    {"compress not a boolean",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      compress: "
     "deflate\n",
     7, 17, "expected a boolean (true/false) for \"compress\", got \"deflate\""},
    {"compress of a target not a boolean",
     "accounts:\n  move:\n    source: {imap: " CONN "}\n    target:\n      imap:\n        host: h\n"
     "        user: u\n        password: p\n        compress: 0\n",
     9, 19, "expected a boolean (true/false) for \"compress\", got \"0\""},
    {"compress for pop3", "accounts:\n  old:\n    pop3:\n      compress: true\n", 4, 7,
     "unknown key \"compress\" in pop3 (it applies to imap: only; POP3 has no compression)"},
    {"folders for pop3",
     "accounts:\n  old:\n    pop3: " CONN "\n    maildir: {path: /m}\n    folders: {include: [INBOX]}\n", 5,
     5, "\"folders\" is not used for POP3 accounts: POP3 has one folder; set \"folder:\" under pop3:"},
    {"sync direction for pop3",
     "accounts:\n  old:\n    pop3: " CONN "\n    maildir: {path: /m}\n    sync:\n      direction: pull\n", 6,
     7, "\"direction\" in sync is not used for POP3 accounts: POP3 has one folder"},
    {"delete_after_download with leave_on_server",
     "accounts:\n  old:\n    pop3:\n      host: h\n      user: u\n      password: p\n      leave_on_server: "
     "true\n"
     "      delete_after_download: true\n",
     8, 7, "\"leave_on_server: true\" contradicts \"delete_after_download: true\""},
    {"delete_after_days without leaving mail",
     "accounts:\n  old:\n    pop3:\n      host: h\n      user: u\n      password: p\n      leave_on_server: "
     "false\n"
     "      delete_after_days: 7\n",
     8, 26, "\"delete_after_days\" needs mail left on the server, but \"leave_on_server: false\" deletes it"},
    {"negative delete_after_days",
     "accounts:\n  old:\n    pop3:\n      host: h\n      user: u\n      password: p\n      "
     "delete_after_days: -1\n",
     7, 26, "\"delete_after_days\" cannot be negative, got \"-1\""},
    {"pop3 folder escaping the maildir",
     "accounts:\n  old:\n    pop3:\n      host: h\n      user: u\n      password: p\n      folder: ../x\n", 7,
     15, "\"folder\" must be a folder name such as INBOX"},
    {"missing ca_file",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      ca_file: "
     "/nonexistent/ca.pem\n",
     7, 16, "cannot read \"ca_file\" /nonexistent/ca.pem: No such file or directory"},
    {"ca_file with tls none",
     "accounts:\n  work:\n    imap:\n      host: h\n      tls: none\n      user: u\n      password: p\n      "
     "ca_file: /etc/hostname\n",
     8, 7, "\"ca_file\" has no effect with \"tls: none\""},
    {"bad fingerprint",
     "accounts:\n  work:\n    imap:\n      host: h\n      user: u\n      password: p\n      fingerprint: "
     "\"sha256:AB:CD\"\n",
     7, 20, "4 hex digits, not 64"},
    {"relative maildir path", "accounts:\n  work:\n    imap: " CONN "\n    maildir:\n      path: Mail/work\n",
     5, 13, "\"path\" must be an absolute path or start with \"~/\", got \"Mail/work\""},
    {"tilde user path", "accounts:\n  work:\n    imap: " CONN "\n    maildir:\n      path: ~bob/Mail\n", 5,
     13, "\"~user\" paths are not supported"},
    {"unknown layout", "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m, layout: flat}\n", 4,
     33, "expected one of maildir++, nested for \"layout\", got \"flat\""},
    {"unknown expunge",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    sync: {expunge: yes}\n", 5, 21,
     "expected one of none, remote, local, both for \"expunge\", got \"yes\""},
    {"unknown direction",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    sync: {direction: sideways}\n", 5,
     23, "expected one of both, pull, push for \"direction\", got \"sideways\""},
    {"empty include",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    folders: {include: []}\n", 5, 24,
     "\"include\" is empty, so nothing would be synced"},
    {"folder pattern not a string",
     "accounts:\n  work:\n    imap: " CONN
     "\n    maildir: {path: /m}\n    folders:\n      exclude: [{a: b}]\n",
     6, 17, "expected a string in the list \"exclude\", got a mapping"},
    {"same maildir twice",
     "accounts:\n  a:\n    imap: " CONN "\n    maildir: {path: /m/x}\n  b:\n    imap: " CONN
     "\n    maildir: {path: /m/x/}\n",
     7, 21, "maildir path /m/x is also used by account \"a\" (line 4)"},
    {"maildir inside another",
     "accounts:\n  a:\n    imap: " CONN "\n    maildir: {path: /m}\n  b:\n    imap: " CONN
     "\n    maildir: {path: /m/b}\n",
     7, 21, "maildir path /m/b overlaps the Maildir /m of account \"a\""},
    {"password_command_timeout without command",
     "accounts:\n  work:\n    imap: {host: h, user: u, password: p, password_command_timeout: 5s}\n", 3, 69,
     "\"password_command_timeout\" has no effect without \"password_command\""},
    {"invalid utf-8", "accounts:\n  w\xff: 1\n", 2, 4,
     "the file is not valid YAML text: invalid leading UTF-8 octet"},
    {"list item is a mapping key", "accounts:\n  ? [a]\n  : 1\n", 2, 5,
     "a key must be a plain name, not a list"},
    {"source without target", "accounts:\n  move:\n    source:\n      imap: " CONN "\n", 2, 3,
     "account \"move\" has source: but no target:"},
    {"target without source", "accounts:\n  move:\n    target:\n      imap: " CONN "\n", 2, 3,
     "account \"move\" has target: but no source:"},
    {"source and imap",
     "accounts:\n  move:\n    source: {imap: " CONN "}\n    target: {imap: " CONN "}\n    imap: " CONN "\n",
     5, 5, "account \"move\" has source:/target: and imap:; an account is either"},
    {"source and maildir",
     "accounts:\n  move:\n    maildir: {path: /m}\n    source: {imap: " CONN "}\n    target: {imap: " CONN
     "}\n",
     3, 5, "has source:/target: and maildir:"},
    {"pop3 target", "accounts:\n  move:\n    source: {imap: " CONN "}\n    target: {pop3: " CONN "}\n", 4, 14,
     "target: takes imap: only (a POP3 server as target is not supported yet"},
    {"pop3 source with deletions",
     "accounts:\n  move:\n    source: {pop3: {host: h, user: u, password: p, delete_after_days: 3}}\n"
     "    target: {imap: " CONN "}\n",
     3, 52, "\"delete_after_days\" is not used for a POP3 source"},
    {"imap and pop3 source",
     "accounts:\n  move:\n    source: {imap: " CONN ", pop3: " CONN "}\n    target: {imap: " CONN "}\n", 3,
     62, "source: has more than one of imap:, pop3: and maildir:"},
    {"maildir target",
     "accounts:\n  move:\n    source: {imap: " CONN "}\n    target: {maildir: {path: /m}}\n", 4, 14,
     "target: takes imap: only"},
    {"empty target", "accounts:\n  move:\n    source: {imap: " CONN "}\n    target: {}\n", 4, 5,
     "missing required key \"imap\" in target of account \"move\""},
    {"unknown key in source",
     "accounts:\n  move:\n    source: {imap: " CONN ", host: h}\n    target: {imap: " CONN "}\n", 3, 62,
     "unknown key \"host\" in source of account \"move\""},
    {"target missing user",
     "accounts:\n  move:\n    source: {imap: " CONN "}\n    target: {imap: {host: h, password: p}}\n", 4, 14,
     "missing required key \"user\" in imap of target"},
    {"rename not a mapping",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    folders: {rename: [a, b]}\n", 5,
     23, "expected a mapping for \"rename\" (source folder: target folder), got a list"},
    {"rename of INBOX",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    folders: {rename: {inbox: In}}\n",
     5, 24, "INBOX cannot be renamed"},
    {"rename to a bad name",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    folders: {rename: {a: b//c}}\n", 5,
     27, "\"b//c\" is not a folder name; write levels separated by one '/'"},
    {"two folders renamed to one",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    folders: {rename: {a: c, b: c}}\n",
     5, 33, "\"c\" is named twice as a new name in `rename:`; two folders cannot become one"},
    {"special_use not a boolean",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    folders: {special_use: maybe}\n",
     5, 28, "special_use"},
    {"hooks: unknown key",
     "hooks:\n  after_sync: x\n  new_mial: y\naccounts:\n  work:\n    imap: " CONN
     "\n    maildir: {path: /m}\n",
     3, 3, "unknown key \"new_mial\" in hooks (did you mean \"new_mail\"?)"},
    {"hooks: bad timeout",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    hooks:\n      timeout: soon\n", 6,
     16, "invalid duration for \"timeout\""},
    {"hooks: timeout out of range",
     "hooks: {after_sync: x, timeout: 2h}\naccounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n",
     1, 33, "\"timeout\" must be between"},
    {"hooks: new_mail_max out of range",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    hooks: {new_mail_max: 5000}\n", 5,
     27, "\"new_mail_max\" must be between 0 and 1000"},
    {"hooks: a command that is a list",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    hooks: {after_sync: [a, b]}\n", 5,
     25, "expected a single value for \"after_sync\", got a list"},
    {"hooks: not a mapping",
     "hooks: notmuch new\naccounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n", 1, 8, "hooks"},
    {"watch: unknown key",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    watch: {conections: 2}\n", 5, 13,
     "unknown key \"conections\" in watch of account \"work\" (did you mean \"connections\"?)"},
    {"watch: too many connections",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    watch: {connections: 500}\n", 5,
     26, "\"connections\" must be between 0 and 20"},
    {"watch: poll too short",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    watch: {poll: 1s}\n", 5, 19,
     "\"poll\" must be between 10s and 1d"},
    {"watch: folders for POP3",
     "accounts:\n  old:\n    pop3: " CONN "\n    maildir: {path: /m}\n    watch: {folders: [INBOX]}\n", 5, 13,
     "\"folders\" in watch is not used for POP3 accounts"},
    {"watch: a key written in the account",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    poll: 5m\n", 5, 5,
     "it goes under watch:"},
    {"hooks: a hook written in the account",
     "accounts:\n  work:\n    imap: " CONN "\n    maildir: {path: /m}\n    after_sync: x\n", 5, 5,
     "it goes under hooks:"},
    {"hooks: new_mail of two servers",
     "accounts:\n  move:\n    source: {imap: " CONN "}\n    target: {imap: " CONN "}\n"
     "    hooks:\n      new_mail: notify-send x\n",
     6, 7, "\"new_mail\" is not used for account \"move\""},
};

#define BAD_CASE_COUNT (sizeof(bad_cases) / sizeof(bad_cases[0]))

/* The parameters are indices: Criterion runs each case in a fresh process
 * where pointers into this one's data would not be valid. */
ParameterizedTestParameters(config, rejects_bad_config)
{
	static size_t indices[BAD_CASE_COUNT];

	for (size_t i = 0; i < BAD_CASE_COUNT; i++)
		indices[i] = i;
	return cr_make_param_array(size_t, indices, BAD_CASE_COUNT);
}

ParameterizedTest(size_t *index, config, rejects_bad_config)
{
	const struct bad_case *c = &bad_cases[*index];
	struct error err;
	struct config *cfg;
	char prefix[64];

	setenv("HOME", "/home/tester", 1);
	error_clear(&err);
	cfg = config_load_buffer("config.yaml", c->yaml, strlen(c->yaml), &err);
	cr_assert_null(cfg, "[%s] loaded although it should fail", c->name);
	cr_assert_eq(err.scope, ERR_FATAL, "[%s] scope %d", c->name, err.scope);
	snprintf(prefix, sizeof(prefix), "config.yaml:%u:%u: ", c->line, c->column);
	cr_expect(strncmp(err.text, prefix, strlen(prefix)) == 0, "[%s] expected position %s, got: %s",
	          c->name, prefix, err.text);
	cr_expect(strstr(err.text, c->message) != NULL, "[%s] expected \"%s\" in: %s", c->name, c->message,
	          err.text);
}

Test(config, nesting_is_bounded)
{
	char yaml[512] = "accounts: ";
	struct error err;

	for (int i = 0; i < 40; i++)
		strcat(yaml, "[");
	error_clear(&err);
	cr_assert_null(config_load_buffer("deep.yaml", yaml, strlen(yaml), &err));
	cr_assert(strstr(err.text, "nesting deeper than") != NULL, "%s", err.text);
}

Test(config, mapping_size_is_bounded)
{
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);
	struct error err;

	fputs("accounts:\n", f);
	for (int i = 0; i < CONFIG_ITEMS_MAX + 1; i++)
		fprintf(f, "  a%d: {}\n", i);
	fclose(f);
	error_clear(&err);
	cr_assert_null(config_load_buffer("big.yaml", yaml, len, &err));
	cr_assert(strstr(err.text, "big.yaml:1002:3: more than 1000 entries in one mapping") != NULL, "%s",
	          err.text);
	free(yaml);
}

Test(config, missing_file_is_fatal)
{
	struct error err;

	error_clear(&err);
	cr_assert_null(config_load("/nonexistent/twinbox.yaml", &err));
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "/nonexistent/twinbox.yaml") != NULL, "%s", err.text);
}
