/* test_lib_logger.c: personal data is masked before it reaches a log. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "logger.h"

static void test_phone_keeps_country_and_last_two_digits(void **state)
{
	char out[32];

	(void)state;
	assert_string_equal(log_mask_phone("+34600123478", out, sizeof(out)),
			    "+34*******78");
}

static void test_short_or_missing_phone_is_fully_masked(void **state)
{
	char out[32];

	(void)state;
	assert_string_equal(log_mask_phone("123", out, sizeof(out)), "***");
	assert_string_equal(log_mask_phone(NULL, out, sizeof(out)), "***");
}

static void test_phone_too_long_for_buffer_is_fully_masked(void **state)
{
	char out[8];

	(void)state;
	assert_string_equal(log_mask_phone("+34600123478", out, sizeof(out)),
			    "***");
}

static void test_name_becomes_initials_with_multibyte_letters(void **state)
{
	char out[32];

	(void)state;
	assert_string_equal(log_mask_name("Joan Àlvarez", out, sizeof(out)),
			    "J. À.");
	assert_string_equal(log_mask_name("", out, sizeof(out)), "***");
}

static void test_level_names_parse(void **state)
{
	(void)state;
	assert_int_equal(logger_level_parse("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(logger_level_parse("error"), LOG_LEVEL_ERROR);
	assert_int_equal(logger_level_parse("verbose"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phone_keeps_country_and_last_two_digits),
		cmocka_unit_test(test_short_or_missing_phone_is_fully_masked),
		cmocka_unit_test(
			test_phone_too_long_for_buffer_is_fully_masked),
		cmocka_unit_test(
			test_name_becomes_initials_with_multibyte_letters),
		cmocka_unit_test(test_level_names_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
