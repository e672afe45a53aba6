/* test_lib_phone.c: phone numbers become E.164 or are refused with why. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "phone.h"

static void test_national_format_uses_default_region(void **state)
{
	char out[PHONE_E164_MAX];

	(void)state;
	assert_int_equal(phone_normalize("612 34 56 78", "ES", out, sizeof(out),
					 NULL, 0),
			 0);
	assert_string_equal(out, "+34612345678");
	assert_int_equal(phone_normalize("(11) 96123-4567", "BR", out,
					 sizeof(out), NULL, 0),
			 0);
	assert_string_equal(out, "+5511961234567");
}

/* libphonenumber reads letters as keypad digits ("612ABC678" is
 * +34612222678): a typo would send reminders to a stranger. */
static void test_letters_are_refused_not_read_as_keypad_digits(void **state)
{
	char out[PHONE_E164_MAX], reason[128];

	(void)state;
	assert_int_equal(phone_normalize("612ABC678", "ES", out, sizeof(out),
					 reason, sizeof(reason)),
			 DN_ERR_INVALID);
	assert_string_equal(reason, "phone has letters");
	assert_int_equal(phone_normalize("+1 800 FLOWERS", "US", out,
					 sizeof(out), reason, sizeof(reason)),
			 DN_ERR_INVALID);
	assert_int_equal(phone_normalize("+34 612 34 56 78", "ES", out,
					 sizeof(out), reason, sizeof(reason)),
			 0);
}

static void test_international_format_ignores_default_region(void **state)
{
	char out[PHONE_E164_MAX];

	(void)state;
	assert_int_equal(phone_normalize("+44 7400 123456", "ES", out,
					 sizeof(out), NULL, 0),
			 0);
	assert_string_equal(out, "+447400123456");
	assert_int_equal(phone_normalize("+33 6 12 34 56 78", NULL, out,
					 sizeof(out), NULL, 0),
			 0);
	assert_string_equal(out, "+33612345678");
}

static void test_invalid_number_is_rejected_with_reason(void **state)
{
	char out[PHONE_E164_MAX], reason[128];

	(void)state;
	assert_int_equal(phone_normalize("12", "ES", out, sizeof(out), reason,
					 sizeof(reason)),
			 DN_ERR_INVALID);
	assert_non_null(strstr(reason, "phone"));
	assert_int_equal(phone_normalize("not a phone", "ES", out, sizeof(out),
					 reason, sizeof(reason)),
			 DN_ERR_INVALID);
	assert_string_equal(reason, "phone not a phone number");
	/* Right length for Spain, but no Spanish number starts with 0. */
	assert_int_equal(phone_normalize("012 34 56 78", "ES", out, sizeof(out),
					 reason, sizeof(reason)),
			 DN_ERR_INVALID);
}

static void test_national_number_without_region_is_rejected(void **state)
{
	char out[PHONE_E164_MAX], reason[128];

	(void)state;
	assert_int_equal(phone_normalize("612345678", "", out, sizeof(out),
					 reason, sizeof(reason)),
			 DN_ERR_INVALID);
	assert_non_null(strstr(reason, "country code"));
}

static void test_oversized_input_is_refused(void **state)
{
	char out[PHONE_E164_MAX], input[200];

	(void)state;
	memset(input, '1', sizeof(input) - 1);
	input[sizeof(input) - 1] = '\0';
	assert_int_equal(
		phone_normalize(input, "ES", out, sizeof(out), NULL, 0),
		DN_ERR_INVALID);
	assert_int_equal(phone_normalize("612345678", "ES", out, 5, NULL, 0),
			 DN_ERR_TOO_LARGE);
}

static void test_example_mobile_is_valid_for_its_region(void **state)
{
	static const char *const regions[] = { "ES", "BR", "PT", "FR", "DE",
					       "MX", "US", "GB", "JP", "KW" };
	char example[PHONE_E164_MAX], again[PHONE_E164_MAX], region[4];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		assert_int_equal(phone_example_mobile(regions[i], example,
						      sizeof(example)),
				 0);
		assert_int_equal(phone_normalize(example, NULL, again,
						 sizeof(again), NULL, 0),
				 0);
		assert_string_equal(example, again);
		assert_int_equal(phone_region(example, region, sizeof(region)),
				 0);
		assert_string_equal(region, regions[i]);
	}
	assert_int_equal(phone_example_mobile("XX", example, sizeof(example)),
			 DN_ERR_INVALID);
}

/* A default region must be one libphonenumber knows: "XX" or "es" would
 * make every national number fail (or, mistyped as another real region,
 * be read in the wrong country), so the importer checks it at start. */
static void test_only_known_regions_are_supported(void **state)
{
	(void)state;
	assert_true(phone_region_supported("ES"));
	assert_true(phone_region_supported("BR"));
	assert_false(phone_region_supported("XX"));
	assert_false(phone_region_supported("es"));
	assert_false(phone_region_supported("ESP"));
	assert_false(phone_region_supported(""));
	assert_false(phone_region_supported(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_national_format_uses_default_region),
		cmocka_unit_test(
			test_letters_are_refused_not_read_as_keypad_digits),
		cmocka_unit_test(
			test_international_format_ignores_default_region),
		cmocka_unit_test(test_invalid_number_is_rejected_with_reason),
		cmocka_unit_test(
			test_national_number_without_region_is_rejected),
		cmocka_unit_test(test_oversized_input_is_refused),
		cmocka_unit_test(test_example_mobile_is_valid_for_its_region),
		cmocka_unit_test(test_only_known_regions_are_supported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
