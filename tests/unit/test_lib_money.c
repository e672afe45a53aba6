/* test_lib_money.c: amounts become exact minor units, never floats. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "money.h"

static int64_t parse(const char *text, const char *currency,
		     enum money_rounding rule, int *err)
{
	int64_t out = -999;

	*err = money_parse(text, strlen(text), currency, rule, &out, NULL, 0);
	return out;
}

static void test_exponents_follow_iso_4217(void **state)
{
	(void)state;
	assert_int_equal(money_exponent("EUR"), 2);
	assert_int_equal(money_exponent("JPY"), 0);
	assert_int_equal(money_exponent("CLP"), 0);
	assert_int_equal(money_exponent("KWD"), 3);
	assert_int_equal(money_exponent("CLF"), 4);
	assert_int_equal(money_exponent("XAU"), -1);
	assert_int_equal(money_exponent("eur"), -1);
	assert_int_equal(money_exponent("EURO"), -1);
	assert_int_equal(money_exponent(NULL), -1);
}

static void test_two_decimal_amount_is_exact(void **state)
{
	int err;

	(void)state;
	/* 0.29 * 100 is 28.999... in binary floating point. */
	assert_int_equal(parse("0.29", "EUR", MONEY_ROUND_REJECT, &err), 29);
	assert_int_equal(err, 0);
	assert_int_equal(parse("1234.5", "EUR", MONEY_ROUND_REJECT, &err),
			 123450);
	assert_int_equal(parse("-12.30", "USD", MONEY_ROUND_REJECT, &err),
			 -1230);
	assert_int_equal(parse("7", "USD", MONEY_ROUND_REJECT, &err), 700);
	assert_int_equal(parse(".5", "USD", MONEY_ROUND_REJECT, &err), 50);
}

static void test_three_decimal_currency_keeps_fils(void **state)
{
	int err;

	(void)state;
	assert_int_equal(parse("1.500", "KWD", MONEY_ROUND_REJECT, &err), 1500);
	assert_int_equal(parse("0.005", "KWD", MONEY_ROUND_REJECT, &err), 5);
	assert_int_equal(err, 0);
}

static void test_too_many_decimals_is_rejected_with_reason(void **state)
{
	char reason[128];
	int64_t out;

	(void)state;
	assert_int_equal(money_parse("10.125", 6, "EUR", MONEY_ROUND_REJECT,
				     &out, reason, sizeof(reason)),
			 DN_ERR_INVALID);
	assert_non_null(strstr(reason, "3 decimals but EUR has 2"));
	assert_int_equal(money_parse("500.5", 5, "JPY", MONEY_ROUND_REJECT,
				     &out, reason, sizeof(reason)),
			 DN_ERR_INVALID);
}

static void test_trailing_zeros_beyond_exponent_are_accepted(void **state)
{
	int err;

	(void)state;
	assert_int_equal(parse("500.00", "JPY", MONEY_ROUND_REJECT, &err), 500);
	assert_int_equal(err, 0);
}

static void test_rounding_rules_when_configured(void **state)
{
	int err;

	(void)state;
	assert_int_equal(parse("0.125", "EUR", MONEY_ROUND_HALF_EVEN, &err),
			 12);
	assert_int_equal(parse("0.135", "EUR", MONEY_ROUND_HALF_EVEN, &err),
			 14);
	assert_int_equal(parse("0.1251", "EUR", MONEY_ROUND_HALF_EVEN, &err),
			 13);
	assert_int_equal(parse("0.125", "EUR", MONEY_ROUND_HALF_UP, &err), 13);
	assert_int_equal(parse("-0.125", "EUR", MONEY_ROUND_HALF_UP, &err),
			 -13);
	assert_int_equal(parse("0.129", "EUR", MONEY_ROUND_TRUNCATE, &err), 12);
	assert_int_equal(money_rounding_parse("half-even"),
			 MONEY_ROUND_HALF_EVEN);
	assert_int_equal(money_rounding_parse("nearest"), -1);
}

static void test_malformed_amounts_are_rejected(void **state)
{
	static const char *const bad[] = {
		"",	  "-",	 ".",	"1,234.00", "1e3",
		"12.3.4", " 12", "12 ", "abc",	    "99999999999999999999"
	};
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i], "EUR", MONEY_ROUND_REJECT, &err);
		assert_int_equal(err, DN_ERR_INVALID);
	}
	parse("1.00", "ZZZ", MONEY_ROUND_REJECT, &err);
	assert_int_equal(err, DN_ERR_INVALID);
}

static void test_format_writes_the_currency_decimals(void **state)
{
	char buf[MONEY_TEXT_MAX];

	(void)state;
	assert_int_equal(money_format(-1230, "EUR", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "-12.30");
	assert_int_equal(money_format(500, "JPY", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "500");
	assert_int_equal(money_format(1500, "KWD", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1.500");
	assert_int_equal(money_format(5, "EUR", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0.05");
	assert_int_equal(money_format(INT64_MIN, "EUR", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "-92233720368547758.08");
	assert_int_equal(money_format(5, "EUR", buf, 3), DN_ERR_TOO_LARGE);
	assert_int_equal(money_format(5, "XYZ", buf, sizeof(buf)),
			 DN_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exponents_follow_iso_4217),
		cmocka_unit_test(test_two_decimal_amount_is_exact),
		cmocka_unit_test(test_three_decimal_currency_keeps_fils),
		cmocka_unit_test(
			test_too_many_decimals_is_rejected_with_reason),
		cmocka_unit_test(
			test_trailing_zeros_beyond_exponent_are_accepted),
		cmocka_unit_test(test_rounding_rules_when_configured),
		cmocka_unit_test(test_malformed_amounts_are_rejected),
		cmocka_unit_test(test_format_writes_the_currency_decimals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
