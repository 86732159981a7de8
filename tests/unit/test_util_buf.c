#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "twinbox/util/buf.h"

Test(util_buf, empty_buffer_is_an_empty_string)
{
	struct buf b = BUF_INIT;

	cr_assert_str_eq(buf_cstr(&b), "");
	cr_assert_eq(b.len, 0);
	buf_free(&b);
}

Test(util_buf, append_keeps_a_trailing_nul_and_grows)
{
	struct buf b = BUF_INIT;

	for (int i = 0; i < 1000; i++)
		cr_assert_eq(buf_append_str(&b, "abc"), 0);
	cr_assert_eq(b.len, 3000);
	cr_assert_eq(b.data[3000], '\0');
	cr_assert_eq(strncmp(b.data + 2997, "abc", 3), 0);
	buf_free(&b);
}

Test(util_buf, binary_data_with_nul_bytes)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(buf_append(&b, "a\0b", 3), 0);
	cr_assert_eq(b.len, 3);
	cr_assert_eq(memcmp(b.data, "a\0b", 3), 0);
	buf_free(&b);
}

Test(util_buf, limit_refuses_and_leaves_buffer_unchanged)
{
	struct buf b;

	buf_init(&b, 5);
	cr_assert_eq(buf_append_str(&b, "1234"), 0);
	cr_assert_eq(buf_append_str(&b, "56"), -1);
	cr_assert_str_eq(buf_cstr(&b), "1234");
	cr_assert_eq(buf_append_byte(&b, '5'), 0);
	cr_assert_eq(buf_append_byte(&b, '6'), -1);
	cr_assert_eq(buf_printf(&b, "%d", 7), -1);
	cr_assert_str_eq(buf_cstr(&b), "12345");
	buf_free(&b);
}

Test(util_buf, huge_length_is_refused_not_wrapped)
{
	struct buf b = BUF_INIT;

	buf_append_str(&b, "x");
	cr_assert_eq(buf_append(&b, "y", SIZE_MAX), -1);
	cr_assert_str_eq(buf_cstr(&b), "x");
	buf_free(&b);
}

Test(util_buf, printf_consume_truncate_detach)
{
	struct buf b = BUF_INIT;
	size_t len;
	char *s;

	cr_assert_eq(buf_printf(&b, "%s-%04d", "uid", 42), 0);
	cr_assert_str_eq(buf_cstr(&b), "uid-0042");
	buf_consume(&b, 4);
	cr_assert_str_eq(buf_cstr(&b), "0042");
	buf_truncate(&b, 2);
	cr_assert_str_eq(buf_cstr(&b), "00");
	s = buf_detach(&b, &len);
	cr_assert_str_eq(s, "00");
	cr_assert_eq(len, 2);
	cr_assert_eq(b.len, 0);
	cr_assert_null(b.data);
	free(s);
	s = buf_detach(&b, &len);
	cr_assert_str_eq(s, "");
	free(s);
}

Test(util_buf, reset_keeps_limit)
{
	struct buf b;

	buf_init(&b, 3);
	buf_append_str(&b, "abc");
	buf_reset(&b);
	cr_assert_str_eq(buf_cstr(&b), "");
	cr_assert_eq(buf_append_str(&b, "abcd"), -1);
	buf_free(&b);
}
