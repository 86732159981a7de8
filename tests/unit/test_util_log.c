#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

Test(util_log, very_long_line_is_cut_between_characters)
{
	size_t n = 100 * 1024;
	char *big = malloc(n + 1);

	/* two-byte characters from an odd offset: a cut at a fixed byte
	 * count would land inside one */
	big[0] = 'x';
	for (size_t i = 1; i + 1 < n; i += 2) {
		big[i] = '\xc3';
		big[i + 1] = '\xa9';
	}
	big[n - 1] = 'x';
	big[n] = '\0';
	log_info("%s", big);
	cr_assert_leq(captured.len, 64 * 1024 + 4);
	cr_assert(strstr(buf_cstr(&captured), "\xc3\xa9...\n"), "cut inside a character");
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

Test(util_log, time_stamps_are_iso_8601_local_time)
{
	char stamp[LOG_STAMP_MAX];
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	cr_assert_str_eq(log_stamp(stamp), "", "off by default");
	setenv("TZ", "UTC-05:30", 1); /* POSIX: 5 h 30 min east of UTC */
	tzset();
	log_set_timestamps(true);
	log_stamp(stamp);
	log_set_timestamps(false);
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
	/* "2024-05-01T09:30:00.250+05:30 " */
	cr_assert_eq(strlen(stamp), 30, "%s", stamp);
	cr_assert_eq(stamp[4], '-');
	cr_assert_eq(stamp[10], 'T');
	cr_assert_eq(stamp[19], '.');
	cr_assert_str_eq(stamp + 23, "+05:30 ", "%s", stamp);
}
