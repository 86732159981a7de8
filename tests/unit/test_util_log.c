#include <criterion/criterion.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"

static struct buf captured = BUF_INIT;

static void capture(enum log_level level, const char *line, void *ctx)
{
	(void)ctx;
	buf_printf(&captured, "%d:%s\n", (int)level, line);
}

static void setup(void)
{
	buf_reset(&captured);
	log_set_sink(capture, NULL);
	log_set_level(LOG_INFO);
}

static void teardown(void)
{
	log_forget_secrets();
	log_set_sink(NULL, NULL);
	buf_free(&captured);
}

TestSuite(util_log, .init = setup, .fini = teardown);

Test(util_log, levels_filter_lines)
{
	log_info("shown %d", 1);
	log_debug("hidden");
	log_trace("hidden too");
	log_error("boom");
	cr_assert_str_eq(buf_cstr(&captured), "2:shown 1\n0:boom\n");
	log_set_level(LOG_TRACE);
	log_trace("now shown");
	cr_assert(strstr(buf_cstr(&captured), "4:now shown\n"));
}

Test(util_log, secrets_are_redacted_everywhere)
{
	log_add_secret("hunter2");
	log_add_secret("dG9rZW4=");
	log_set_level(LOG_TRACE);
	log_trace("C: a1 LOGIN alice hunter2");
	log_info("token dG9rZW4= and hunter2hunter2 end");
	cr_assert_str_eq(buf_cstr(&captured), "4:C: a1 LOGIN alice ***\n2:token *** and ****** end\n");
	cr_assert_null(strstr(buf_cstr(&captured), "hunter2"));
}

Test(util_log, overlapping_secrets_redact_the_longest)
{
	char *s;

	log_add_secret("pass");
	log_add_secret("password123");
	s = log_redact("x password123 y pass");
	cr_assert_str_eq(s, "x *** y ***");
	free(s);
}

Test(util_log, short_secrets_are_ignored)
{
	char *s;

	log_add_secret("ab");
	log_add_secret("");
	log_add_secret(NULL);
	s = log_redact("a b ab abc");
	cr_assert_str_eq(s, "a b ab abc");
	free(s);
}

Test(util_log, forget_secrets_stops_redaction)
{
	char *s;

	log_add_secret("secret");
	log_forget_secrets();
	s = log_redact("secret");
	cr_assert_str_eq(s, "secret");
	free(s);
}

Test(util_log, very_long_line_is_cut_after_redaction)
{
	size_t n = 100 * 1024;
	char *big = malloc(n + 1);

	memset(big, 'x', n);
	memcpy(big + 64 * 1024 - 5, "topsecret", 9);
	big[n] = '\0';
	log_add_secret("topsecret");
	log_info("%s", big);
	cr_assert_null(strstr(buf_cstr(&captured), "tops"));
	cr_assert_leq(captured.len, 64 * 1024 + 4);
	free(big);
}

Test(util_log, every_line_is_escaped_for_the_terminal)
{
	log_info("name \"a\x1b[31mb\r\nc\td\x7f\"");
	cr_assert_str_eq(buf_cstr(&captured), "2:name \"a\\x1b[31mb\\x0d\\x0ac\\x09d\\x7f\"\n");
}

Test(util_log, escape_keeps_utf8_but_not_c1_controls)
{
	char *s;

	/* valid UTF-8 kept; U+009B (C2 9B) and a lone 0x9b escaped; an
	 * invalid lead byte and a truncated sequence escaped byte by byte */
	s = log_escape("Gr\xc3\xbc\xc3\x9f"
	               "e \xe2\x82\xac \xc2\x9b"
	               "1m \x9b"
	               "2J \xff \xe2\x82");
	cr_assert_str_eq(s, "Gr\xc3\xbc\xc3\x9f"
	                    "e \xe2\x82\xac \\xc2\\x9b1m \\x9b2J \\xff \\xe2\\x82");
	free(s);
}

Test(util_log, escape_stream_keeps_a_character_cut_in_two)
{
	struct buf out = BUF_INIT;
	const char *text = "a\xe2\x82";
	size_t used;

	used = log_escape_append(&out, text, 3, LOG_ESCAPE_KEEP_LF);
	cr_assert_eq(used, 1);
	used = log_escape_append(&out, "\xe2\x82\xac\n\r", 5, LOG_ESCAPE_KEEP_LF);
	cr_assert_eq(used, 5);
	cr_assert_str_eq(buf_cstr(&out), "a\xe2\x82\xac\n\\x0d");
	buf_reset(&out);
	used = log_escape_append(&out, "\xe2\x82", 2, LOG_ESCAPE_FINAL);
	cr_assert_eq(used, 2);
	cr_assert_str_eq(buf_cstr(&out), "\\xe2\\x82");
	buf_free(&out);
}
