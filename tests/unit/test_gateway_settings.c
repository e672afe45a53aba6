/* test_gateway_settings.c: sender numbers per tenant are read and looked up. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/settings.h"
#include "error.h"

static void test_tenant_gets_its_own_number_else_the_default(void **state)
{
	struct settings_senders senders;
	char err[256];

	(void)state;
	assert_int_equal(settings_senders_parse(" acme = 111 ,*=999,beta=222",
						&senders, err, sizeof(err)),
			 DN_OK);
	assert_int_equal(senders.count, 3);
	assert_string_equal(settings_sender_for(&senders, "acme"), "111");
	assert_string_equal(settings_sender_for(&senders, "beta"), "222");
	assert_string_equal(settings_sender_for(&senders, "other"), "999");
}

static void test_without_default_an_unknown_tenant_has_no_number(void **state)
{
	struct settings_senders senders;
	char err[256];

	(void)state;
	assert_int_equal(
		settings_senders_parse("acme=111", &senders, err, sizeof(err)),
		DN_OK);
	assert_null(settings_sender_for(&senders, "beta"));
}

static void test_malformed_items_are_refused_with_the_item(void **state)
{
	struct settings_senders senders;
	char err[256];

	(void)state;
	assert_int_equal(settings_senders_parse("acme=111,broken", &senders,
						err, sizeof(err)),
			 DN_ERR_CONFIG);
	assert_non_null(strstr(err, "broken"));
	assert_int_equal(
		settings_senders_parse("acme=", &senders, err, sizeof(err)),
		DN_ERR_CONFIG);
	assert_int_equal(settings_senders_parse("", &senders, err, sizeof(err)),
			 DN_ERR_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_tenant_gets_its_own_number_else_the_default),
		cmocka_unit_test(
			test_without_default_an_unknown_tenant_has_no_number),
		cmocka_unit_test(
			test_malformed_items_are_refused_with_the_item),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
