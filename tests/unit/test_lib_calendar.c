/* test_lib_calendar.c: civil dates and day numbers agree in both ways. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "calendar.h"

#include <time.h>

static void test_known_days_around_the_epoch_and_leap_days(void **state)
{
	(void)state;
	assert_int_equal(calendar_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(calendar_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(calendar_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(calendar_days_from_civil(2024, 2, 29), 19782);
	assert_int_equal(calendar_days_from_civil(2024, 3, 1) -
				 calendar_days_from_civil(2024, 2, 28),
			 2);
	assert_int_equal(calendar_days_from_civil(2023, 3, 1) -
				 calendar_days_from_civil(2023, 2, 28),
			 1);
}

static void test_every_day_of_four_centuries_matches_the_c_library(void **s)
{
	int64_t days;
	int year, month, day;

	(void)s;
	/* 1900 to 2300 crosses 1900 and 2100 (not leap) and 2000 (leap). */
	for (days = -25567; days < 120000; days++) {
		time_t t = (time_t)(days * 86400);
		struct tm tm;

		gmtime_r(&t, &tm);
		calendar_civil_from_days(days, &year, &month, &day);
		assert_int_equal(year, tm.tm_year + 1900);
		assert_int_equal(month, tm.tm_mon + 1);
		assert_int_equal(day, tm.tm_mday);
		assert_int_equal(calendar_days_from_civil(year, month, day),
				 days);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_known_days_around_the_epoch_and_leap_days),
		cmocka_unit_test(
			test_every_day_of_four_centuries_matches_the_c_library),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
