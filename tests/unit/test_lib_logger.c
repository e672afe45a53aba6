/* test_lib_logger.c: personal data is masked before it reaches a log. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "logger.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Writes one line at info through the logger and returns what reached
 * standard error, in a static buffer. */
static const char *logged(const char *text)
{
	static char out[4096];
	char path[] = "/tmp/dunning-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	log_info("WA", "reply received text=\"%s\"", text);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	out[n] = '\0';
	return out;
}

static void test_text_from_outside_cannot_start_a_new_line(void **state)
{
	const char *line;

	(void)state;
	/* A customer's reply forging a line of its own. */
	line = logged("ok\n2026-12-04T15:00:00.000Z error gateway WA "
		      "forged\r\x1b[2J");
	assert_non_null(strstr(line, "reply received"));
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	assert_null(strchr(line, '\r'));
	assert_null(strchr(line, '\x1b'));
	assert_non_null(strstr(line, "forged"));
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
		cmocka_unit_test(
			test_text_from_outside_cannot_start_a_new_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
