/*
 * config: the value syntax — durations, sizes, account names.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "twinbox/config/config.h"

Test(config, durations)
{
	static const struct {
		const char *text;
		uint64_t seconds;
	} ok[] = {
	    {"0", 0},     {"45", 45},       {"30s", 30}, {"5m", 300},
	    {"2h", 7200}, {"30d", 2592000}, {"007s", 7}, {"86400", 86400},
	};
	static const struct {
		const char *text, *message;
	} bad[] = {
	    {"", "expected a duration"},
	    {"s", "expected a duration"},
	    {"-5s", "cannot be negative"},
	    {"5x", "unknown unit in the duration \"5x\""},
	    {"5 s", "unknown unit"},
	    {"1.5h", "unknown unit"},
	    {"5S", "unknown unit"},
	    {"30sec", "unknown unit"},
	    {"99999999999999999999", "too large"},
	    {"300000000000000000d", "too large"},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct error err;
		uint64_t v = 12345;

		error_clear(&err);
		cr_expect_eq(config_parse_duration(ok[i].text, &v, &err), 0, "\"%s\": %s", ok[i].text,
		             err.text);
		cr_expect_eq(v, ok[i].seconds, "\"%s\" gave %llu", ok[i].text, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error err;
		uint64_t v = 12345;

		error_clear(&err);
		cr_expect_eq(config_parse_duration(bad[i].text, &v, &err), -1, "\"%s\" accepted",
		             bad[i].text);
		cr_expect(strstr(err.text, bad[i].message) != NULL, "\"%s\": %s", bad[i].text, err.text);
		cr_expect_eq(v, 12345, "output changed on error");
	}
}

Test(config, sizes)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
	    {"0", 0},
	    {"512", 512},
	    {"512B", 512},
	    {"10KB", 10240},
	    {"10k", 10240},
	    {"10KiB", 10240},
	    {"50MB", 52428800},
	    {"50 MB", 52428800},
	    {"50mib", 52428800},
	    {"1GB", 1073741824},
	    {"1G", 1073741824},
	    {"2TB", 2199023255552ULL},
	    {"18446744073709551615", 18446744073709551615ULL},
	};
	static const struct {
		const char *text, *message;
	} bad[] = {
	    {"", "expected a size"},
	    {"MB", "expected a size"},
	    {"-1", "cannot be negative"},
	    {"-5MB", "cannot be negative"},
	    {"10XB", "unknown unit in the size \"10XB\""},
	    {"1.5MB", "unknown unit"},
	    {"50 ", "unknown unit"},
	    {"50  MB", "unknown unit"},
	    {"18446744073709551616", "too large"},
	    {"17179869184GB", "too large"},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct error err;
		uint64_t v = 12345;

		error_clear(&err);
		cr_expect_eq(config_parse_size(ok[i].text, &v, &err), 0, "\"%s\": %s", ok[i].text, err.text);
		cr_expect_eq(v, ok[i].bytes, "\"%s\" gave %llu", ok[i].text, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error err;
		uint64_t v = 12345;

		error_clear(&err);
		cr_expect_eq(config_parse_size(bad[i].text, &v, &err), -1, "\"%s\" accepted", bad[i].text);
		cr_expect(strstr(err.text, bad[i].message) != NULL, "\"%s\": %s", bad[i].text, err.text);
		cr_expect_eq(v, 12345, "output changed on error");
	}
}

Test(config, account_names)
{
	static const char *const valid[] = {
	    "work", "old-isp", "a.b_c",
	    "A9",   "x",       "a234567890123456789012345678901234567890123456789012345678901234"};
	static const char *const invalid[] = {
	    "",          "my work", "a/b",
	    ".",         "..",      "caf\xc3\xa9",
	    "tab\there", "a:b",     "a2345678901234567890123456789012345678901234567890123456789012345"};

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		cr_expect(config_account_name_valid(valid[i]), "\"%s\" should be valid", valid[i]);
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		cr_expect_not(config_account_name_valid(invalid[i]), "\"%s\" should be invalid", invalid[i]);
}

Test(config, enum_names)
{
	cr_expect_str_eq(config_store_name(CONFIG_STORE_POP3), "pop3");
	cr_expect_str_eq(config_tls_name(CONFIG_TLS_STARTTLS), "starttls");
	cr_expect_str_eq(config_auth_name(CONFIG_AUTH_OAUTHBEARER), "oauthbearer");
	cr_expect_str_eq(config_auth_name(CONFIG_AUTH_APOP), "apop");
}
