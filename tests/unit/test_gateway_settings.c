/* test_gateway_settings.c: sender numbers per tenant are read and looked up. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

/* The gateway's settings with name set to value, or NULL if refused. */
static struct config *with(const char *name, const char *value)
{
	const struct config_key *const tables[] = { config_common_keys,
						    gateway_config_keys, NULL };
	char err[256];

	unsetenv("DUNNING_CONFIG_FILE");
	setenv("DUNNING_WA_APP_SECRET", "s", 1);
	setenv("DUNNING_WA_VERIFY_TOKEN", "v", 1);
	setenv("DUNNING_WA_SENDERS", "*=1", 1);
	setenv(name, value, 1);
	return config_load(tables, err, sizeof(err));
}

/* settings_check's verdict on name=value; its message in err. */
static int check(const char *name, const char *value, char *err, size_t errlen)
{
	struct config *cfg = with(name, value);
	int rc;

	assert_non_null(cfg);
	rc = settings_check(cfg, err, errlen);
	config_free(cfg);
	unsetenv(name);
	return rc;
}

static void test_base_url_version_and_retries_are_checked(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(check("DUNNING_WA_BASE_URL", "http://127.0.0.1:9000",
			       err, sizeof(err)),
			 DN_OK);
	assert_int_equal(
		check("DUNNING_WA_BASE_URL", "ftp://x", err, sizeof(err)),
		DN_ERR_CONFIG);
	assert_non_null(strstr(err, "DUNNING_WA_BASE_URL=\"ftp://x\""));
	assert_int_equal(
		check("DUNNING_WA_BASE_URL", "127.0.0.1:9", err, sizeof(err)),
		DN_ERR_CONFIG);
	assert_int_equal(
		check("DUNNING_WA_BASE_URL", "https://", err, sizeof(err)),
		DN_ERR_CONFIG);
	assert_int_equal(
		check("DUNNING_WA_API_VERSION", "v22.0", err, sizeof(err)),
		DN_OK);
	assert_int_equal(
		check("DUNNING_WA_API_VERSION", "21", err, sizeof(err)),
		DN_ERR_CONFIG);
	assert_non_null(strstr(err, "DUNNING_WA_API_VERSION=\"21\""));
	assert_int_equal(
		check("DUNNING_WA_API_VERSION", "v21.", err, sizeof(err)),
		DN_ERR_CONFIG);
	assert_int_equal(check("DUNNING_GATEWAY_RETRY_BASE_MS", "100000", err,
			       sizeof(err)),
			 DN_ERR_CONFIG);
	assert_non_null(strstr(err, "DUNNING_GATEWAY_RETRY_MAX_MS=60000"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_url_version_and_retries_are_checked),
		cmocka_unit_test(
			test_tenant_gets_its_own_number_else_the_default),
		cmocka_unit_test(
			test_without_default_an_unknown_tenant_has_no_number),
		cmocka_unit_test(
			test_malformed_items_are_refused_with_the_item),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
