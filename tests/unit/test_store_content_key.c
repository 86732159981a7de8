/* Content keys: the same message gives the same key whatever its line
 * endings and however it is fed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/store/content_key.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* The key of `len` bytes fed in chunks of `chunk` bytes (0: all at once). */
static char *key_of(const char *data, size_t len, size_t chunk, uint64_t size)
{
	struct content_key_builder b;
	char *key;

	content_key_init(&b);
	if (!chunk)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk)
		content_key_feed(&b, data + off, len - off < chunk ? len - off : chunk);
	key = content_key_finish(&b, size);
	content_key_free(&b);
	return key;
}

static char *key_str(const char *s)
{
	return key_of(s, strlen(s), 0, strlen(s));
}

/* The Message-ID part of a key: what follows the second space. */
static const char *msgid_part(const char *key)
{
	const char *p = strchr(key, ' ');

	cr_assert_not_null(p);
	p = strchr(p + 1, ' ');
	cr_assert_not_null(p);
	return p + 1;
}

static const char crlf_msg[] = "From: a@example.com\r\n"
                               "To: b@example.com\r\n"
                               "Subject: hello\r\n"
                               "Message-ID: <one@example.com>\r\n"
                               "\r\n"
                               "body\r\n";
static const char lf_msg[] = "From: a@example.com\n"
                             "To: b@example.com\n"
                             "Subject: hello\n"
                             "Message-ID: <one@example.com>\n"
                             "\n"
                             "body\n";

Test(store_content_key, format_is_size_hash_and_message_id)
{
	char *key = key_of(crlf_msg, strlen(crlf_msg), 0, 1234);
	const char *p = key;

	cr_assert_eq(strncmp(p, "1234 ", 5), 0, "%s", key);
	p += 5;
	for (int i = 0; i < 16; i++)
		cr_assert(strchr("0123456789abcdef", p[i]) && p[i], "hash digits in %s", key);
	cr_expect_str_eq(p + 16, " <one@example.com>");
	free(key);
}

Test(store_content_key, hash_is_fnv1a_64)
{
	/* Published FNV-1a 64 test vector: "a" -> af63dc4c8601ec8c. A header
	 * block without line ending is hashed as it is. */
	char *key = key_of("a", 1, 0, 1);

	cr_expect_str_eq(key, "1 af63dc4c8601ec8c ");
	free(key);
}

Test(store_content_key, lf_and_crlf_give_the_same_key)
{
	char *a = key_of(crlf_msg, strlen(crlf_msg), 0, 99);
	char *b = key_of(lf_msg, strlen(lf_msg), 0, 99);

	cr_expect_str_eq(a, b);
	free(a);
	free(b);
}

Test(store_content_key, a_mix_of_lf_and_crlf_counts_as_crlf)
{
	char *a = key_str("A: 1\r\nB: 2\nC: 3\r\n\r\n");
	char *b = key_str("A: 1\r\nB: 2\r\nC: 3\r\n\r\n");

	/* Sizes differ by one; compare the hash and Message-ID parts. */
	cr_expect_str_eq(strchr(a, ' '), strchr(b, ' '));
	free(a);
	free(b);
}

Test(store_content_key, a_lone_cr_is_not_a_line_ending)
{
	char *a = key_of("A: x\ry\r\n\r\n", 10, 0, 1);
	char *b = key_of("A: x\r\ny\r\n\r\n", 11, 0, 1);

	cr_expect_str_neq(a, b);
	free(a);
	free(b);
}

Test(store_content_key, any_chunking_gives_the_same_key)
{
	const char *msgs[] = {crlf_msg, lf_msg};
	char *whole = key_of(crlf_msg, strlen(crlf_msg), 0, 7);

	for (int m = 0; m < 2; m++) {
		size_t len = strlen(msgs[m]);

		for (size_t chunk = 1; chunk <= len; chunk++) {
			char *k = key_of(msgs[m], len, chunk, 7);
			cr_expect_str_eq(k, whole, "message %d, chunks of %zu", m, chunk);
			free(k);
		}
		/* Every split into two pieces, so each CR LF pair is split once. */
		for (size_t cut = 0; cut <= len; cut++) {
			struct content_key_builder b;
			char *k;

			content_key_init(&b);
			content_key_feed(&b, msgs[m], cut);
			content_key_feed(&b, msgs[m] + cut, len - cut);
			k = content_key_finish(&b, 7);
			content_key_free(&b);
			cr_expect_str_eq(k, whole, "message %d cut at %zu", m, cut);
			free(k);
		}
	}
	free(whole);
}

Test(store_content_key, stops_at_the_empty_line)
{
	char *a = key_str("Subject: x\r\n\r\nbody one\r\n");
	char *b = key_of("Subject: x\r\n\r\nanother body entirely\r\n", 24, 0, 24);
	char *c = key_str("Subject: y\r\n\r\nbody one\r\n");

	cr_expect_str_eq(a, b, "the body does not count");
	cr_expect_str_neq(a, c, "the header does");
	free(a);
	free(b);
	free(c);
}

Test(store_content_key, folded_message_id)
{
	char *a = key_str("Subject: x\r\nMessage-ID:\r\n <fold@example.com>\r\nTo: y\r\n\r\n");
	char *b = key_str("Subject: x\nMessage-Id:\n\t<fold@example.com\n >\nTo: y\n\n");
	char *c = key_str("message-id : <fold@example.com> (a comment)\r\n\r\n");

	cr_expect_str_eq(msgid_part(a), "<fold@example.com>");
	cr_expect_str_eq(msgid_part(b), "<fold@example.com>", "folded inside the brackets");
	cr_expect_str_eq(msgid_part(c), "<fold@example.com>", "case, space before ':' and comment");
	free(a);
	free(b);
	free(c);
}

Test(store_content_key, only_the_header_field_named_message_id)
{
	char *a = key_str("X-Message-ID: <not@this>\r\nSubject: Message-ID: <nor@this>\r\n\r\n"
	                  "Message-ID: <body@only>\r\n");
	char *b = key_str("Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n");

	cr_expect_str_eq(msgid_part(a), "", "%s", a);
	cr_expect_str_eq(msgid_part(b), "<first@x>");
	free(a);
	free(b);
}

Test(store_content_key, no_message_id)
{
	char *k = key_str("Subject: none\r\n\r\n");

	cr_expect_str_eq(msgid_part(k), "");
	cr_expect_eq(k[strlen(k) - 1], ' ');
	free(k);
}

Test(store_content_key, message_id_is_bounded)
{
	struct buf b = BUF_INIT;
	char *k;

	buf_append_str(&b, "Message-ID: <");
	for (int i = 0; i < 5000; i++)
		buf_append_byte(&b, 'a');
	buf_append_str(&b, ">\r\n\r\n");
	k = key_of(b.data, b.len, 0, b.len);
	cr_expect_eq(strlen(msgid_part(k)), CONTENT_KEY_MSGID_MAX);
	free(k);
	buf_free(&b);
}

/* A header block of more than CONTENT_KEY_HEADER_MAX bytes (normal form)
 * followed by `tail`; `nl` is the line ending. */
static struct buf huge_header(const char *nl, const char *tail)
{
	struct buf b = BUF_INIT;

	buf_append_str(&b, "Message-ID: <huge@example.com>");
	buf_append_str(&b, nl);
	while (b.len < CONTENT_KEY_HEADER_MAX + 1000) {
		buf_append_str(&b, "X-Filler: 0123456789012345678901234567890123456789012345678901234567");
		buf_append_str(&b, nl);
	}
	buf_append_str(&b, tail);
	return b;
}

Test(store_content_key, header_larger_than_the_bound)
{
	struct buf a = huge_header("\r\n", "X-Late: one\r\n\r\n");
	struct buf b = huge_header("\r\n", "X-Late: two\r\n\r\n");
	struct buf c = huge_header("\n", "X-Late: one\n\n");
	char *ka = key_of(a.data, a.len, 4096, 1);
	char *kb = key_of(b.data, b.len, 1, 1);
	char *kc = key_of(c.data, c.len, 777, 1);
	char *kd;

	cr_expect_str_eq(ka, kb, "bytes past the bound do not count");
	cr_expect_str_eq(ka, kc, "LF and CRLF agree on where the bound cuts");
	cr_expect_str_eq(msgid_part(ka), "<huge@example.com>");
	/* A change before the bound does count. */
	a.data[20] = 'X';
	kd = key_of(a.data, a.len, 0, 1);
	cr_expect_str_neq(ka, kd);
	free(ka);
	free(kb);
	free(kc);
	free(kd);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

Test(store_content_key, message_id_past_the_bound_is_not_seen)
{
	struct buf a = huge_header("\n", "Message-ID: <late@x>\n\n");
	char *k;

	/* Drop the early Message-ID so only the late one could count. */
	memcpy(a.data, "X-Nothing-", 10);
	k = key_of(a.data, a.len, 0, 1);
	cr_expect_str_eq(msgid_part(k), "");
	free(k);
	buf_free(&a);
}

Test(store_content_key, header_without_empty_line)
{
	char *a = key_str("Subject: x\r\nMessage-ID: <end@x>");
	char *b = key_str("Subject: x\nMessage-ID: <end@x>");

	cr_expect_str_eq(msgid_part(a), "<end@x>");
	cr_expect_str_eq(strchr(a, ' '), strchr(b, ' '));
	free(a);
	free(b);
}

/* mbsync adds "X-TUID: <12 chars>" to each copy it stores: the copy in
 * an mbsync Maildir must match the server's original. */
Test(store_content_key, mbsync_x_tuid_field_is_left_out)
{
	static const char copy[] = "From: a@example.com\n"
	                           "To: b@example.com\n"
	                           "Subject: hello\n"
	                           "Message-ID: <one@example.com>\n"
	                           "X-TUID: tqUgZMR7v9jr\n"
	                           "\n"
	                           "body\n";
	static const char folded[] = "From: a@example.com\r\n"
	                             "x-tuid : tqUgZMR7v9jr\r\n"
	                             "\tmore\r\n"
	                             "To: b@example.com\r\n"
	                             "Subject: hello\r\n"
	                             "Message-ID: <one@example.com>\r\n"
	                             "\r\n"
	                             "body\r\n";
	/* The size the stores report: CRLF counted, the X-TUID line in it. */
	const uint64_t copy_size = strlen(crlf_msg) + strlen("X-TUID: tqUgZMR7v9jr\r\n");
	char *want = key_str(crlf_msg);

	for (size_t chunk = 0; chunk < 9; chunk++) {
		char *k = key_of(copy, strlen(copy), chunk, copy_size);
		cr_assert_str_eq(k, want, "chunk %zu", chunk);
		free(k);
		k = key_of(folded, strlen(folded), chunk, strlen(folded));
		cr_assert_str_eq(k, want, "folded, chunk %zu", chunk);
		free(k);
	}
	free(want);
}

Test(store_content_key, only_the_field_named_x_tuid_is_left_out)
{
	static const char other[] = "From: a@example.com\r\n"
	                            "X-TUIDS: tqUgZMR7v9jr\r\n"
	                            "To: b@example.com\r\n"
	                            "Subject: hello\r\n"
	                            "Message-ID: <one@example.com>\r\n"
	                            "\r\n"
	                            "body\r\n";
	static const char in_body[] = "From: a@example.com\r\n"
	                              "To: b@example.com\r\n"
	                              "Subject: hello\r\n"
	                              "Message-ID: <one@example.com>\r\n"
	                              "\r\n"
	                              "X-TUID: tqUgZMR7v9jr\r\n"
	                              "body\r\n";
	char *want = key_str(crlf_msg), *k = key_of(other, strlen(other), 0, strlen(crlf_msg));
	const char *hash_want = strchr(want, ' '), *hash_k = strchr(k, ' ');

	cr_assert_str_neq(hash_k, hash_want, "an X-TUIDS field is part of the header");
	free(k);
	/* In the body it is text like any other: the size keeps it. */
	k = key_str(in_body);
	cr_assert(strchr(k, ' ') && strcmp(strchr(k, ' '), hash_want) == 0, "%s vs %s", k, want);
	cr_assert_neq(strcmp(k, want), 0);
	free(k);
	free(want);
}
