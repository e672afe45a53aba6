/* test_producer_civil.c: dates parse strictly, impossible ones are named. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../producer/civil.h"
#include "error.h"

static int parse(const char *text, enum civil_format format,
		 struct civil_date *out, char *why, size_t len)
{
	return civil_parse(text, strlen(text), format, out, why, len);
}

static void test_us_month_day_year(void **state)
{
	struct civil_date d;

	(void)state;
	assert_int_equal(parse("1/15/2013", CIVIL_US, &d, NULL, 0), 0);
	assert_int_equal(d.year, 2013);
	assert_int_equal(d.month, 1);
	assert_int_equal(d.day, 15);
	assert_int_equal(parse("02/01/2013", CIVIL_US, &d, NULL, 0), 0);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 1);
}

static void test_impossible_date_is_rejected_with_reason(void **state)
{
	struct civil_date d;
	char why[128];

	(void)state;
	assert_int_equal(parse("2/30/2013", CIVIL_US, &d, why, sizeof(why)),
			 DN_ERR_INVALID);
	assert_string_equal(why,
			    "'2/30/2013': day 30 does not exist in February "
			    "2013");
	assert_int_equal(parse("13/1/2013", CIVIL_US, &d, why, sizeof(why)),
			 DN_ERR_INVALID);
	assert_non_null(strstr(why, "no month 13"));
}

static void test_leap_day_only_in_leap_years(void **state)
{
	struct civil_date d;

	(void)state;
	assert_int_equal(parse("2/29/2012", CIVIL_US, &d, NULL, 0), 0);
	assert_int_equal(parse("2/29/2013", CIVIL_US, &d, NULL, 0),
			 DN_ERR_INVALID);
	assert_int_equal(parse("2000-02-29", CIVIL_ISO, &d, NULL, 0), 0);
	assert_int_equal(parse("1900-02-29", CIVIL_ISO, &d, NULL, 0),
			 DN_ERR_INVALID);
}

static void test_day_first_and_dotted_formats(void **state)
{
	struct civil_date d;

	(void)state;
	assert_int_equal(parse("15/01/2013", CIVIL_EU, &d, NULL, 0), 0);
	assert_int_equal(d.month, 1);
	assert_int_equal(parse("31.12.2025", CIVIL_DOTS, &d, NULL, 0), 0);
	assert_int_equal(d.day, 31);
	assert_int_equal(civil_format_parse("m/d/y"), CIVIL_US);
	assert_int_equal(civil_format_parse("yyyy"), -1);
}

static void test_malformed_dates_are_rejected(void **state)
{
	static const char *const bad[] = {
		"",	 "2013-1",	"2013-01-15x", "2013/01/15",
		"a-b-c", "2013-001-15", " 2013-01-15"
	};
	struct civil_date d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], CIVIL_ISO, &d, NULL, 0),
				 DN_ERR_INVALID);
}

static void test_day_arithmetic_round_trips(void **state)
{
	struct civil_date d = { 2013, 1, 2 }, later;
	char text[16];

	(void)state;
	assert_int_equal(civil_to_days((struct civil_date){ 1970, 1, 1 }), 0);
	later = civil_add_days(d, 30);
	assert_string_equal(civil_format_iso(later, text, sizeof(text)),
			    "2013-02-01");
	later = civil_add_days((struct civil_date){ 2012, 2, 28 }, 1);
	assert_int_equal(later.day, 29);
	/* 2013-01-15 12:00:00Z */
	assert_int_equal(civil_noon_ms((struct civil_date){ 2013, 1, 15 }),
			 INT64_C(1358251200000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_us_month_day_year),
		cmocka_unit_test(test_impossible_date_is_rejected_with_reason),
		cmocka_unit_test(test_leap_day_only_in_leap_years),
		cmocka_unit_test(test_day_first_and_dotted_formats),
		cmocka_unit_test(test_malformed_dates_are_rejected),
		cmocka_unit_test(test_day_arithmetic_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
