/* test_lib_config.c: settings load from file and environment, and bad
 * values stop start-up with a message naming key, value and expectation. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct config_key test_keys[] = {
	{ "DUNNING_TEST_COUNT", CONFIG_INT, "5", 1, 10, NULL, false, false,
	  "a bounded number" },
	{ "DUNNING_TEST_FLAG", CONFIG_BOOL, "false", 0, 0, NULL, false, false,
	  "a switch" },
	{ "DUNNING_TEST_MODE", CONFIG_CHOICE, "fast", 0, 0, "fast|safe", false,
	  false, "a choice" },
	{ "DUNNING_TEST_TOKEN", CONFIG_STRING, "", 0, 0, NULL, true, false,
	  "a secret" },
	{ "DUNNING_TEST_AT", CONFIG_INSTANT, "2026-01-31T09:00:00Z", 0, 0, NULL,
	  false, false, "an instant" },
	CONFIG_KEY_END,
};

static const struct config_key required_keys[] = {
	{ "DUNNING_TEST_NEEDED", CONFIG_STRING, NULL, 0, 0, NULL, false, true,
	  "something that must be set" },
	CONFIG_KEY_END,
};

static const struct config_key *const tables[] = { config_common_keys,
						   test_keys, NULL };

static int clear_env(void **state)
{
	const char *names[] = {
		"DUNNING_TEST_COUNT",	   "DUNNING_TEST_FLAG",
		"DUNNING_TEST_MODE",	   "DUNNING_TEST_TOKEN",
		"DUNNING_TEST_TOKEN_FILE", "DUNNING_TEST_AT",
		"DUNNING_CONFIG_FILE",	   "DUNNING_TEST_NEEDED",
		"DUNNING_TEST_PORT",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		unsetenv(names[i]);
	return 0;
}

static const char *write_temp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/dunning-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults_apply_when_nothing_is_set(void **state)
{
	char err[256];
	struct config *cfg = config_load(tables, err, sizeof(err));

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(config_int(cfg, "DUNNING_TEST_COUNT"), 5);
	assert_false(config_bool(cfg, "DUNNING_TEST_FLAG"));
	assert_string_equal(config_str(cfg, "DUNNING_TEST_MODE"), "fast");
	assert_int_equal(config_instant_ms(cfg, "DUNNING_TEST_AT"),
			 1769850000000LL);
	config_free(cfg);
}

static void test_environment_overrides_file(void **state)
{
	char err[256];
	struct config *cfg;

	(void)state;
	setenv("DUNNING_CONFIG_FILE",
	       write_temp("# comment\n\nDUNNING_TEST_COUNT = 7\n"
			  "DUNNING_TEST_MODE=safe\n"),
	       1);
	setenv("DUNNING_TEST_COUNT", "9", 1);
	cfg = config_load(tables, err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(config_int(cfg, "DUNNING_TEST_COUNT"), 9);
	assert_string_equal(config_str(cfg, "DUNNING_TEST_MODE"), "safe");
	unlink(getenv("DUNNING_CONFIG_FILE"));
	config_free(cfg);
}

static void test_out_of_range_number_names_key_value_and_bounds(void **state)
{
	char err[256];

	(void)state;
	setenv("DUNNING_TEST_COUNT", "11", 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_string_equal(err, "DUNNING_TEST_COUNT=\"11\": expected a whole "
				 "number from 1 to 10");
}

static void test_number_with_trailing_text_is_rejected(void **state)
{
	char err[256];

	(void)state;
	setenv("DUNNING_TEST_COUNT", "5x", 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_non_null(strstr(err, "DUNNING_TEST_COUNT=\"5x\""));
}

static void test_bad_choice_lists_the_allowed_words(void **state)
{
	char err[256];

	(void)state;
	setenv("DUNNING_TEST_MODE", "turbo", 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_string_equal(err, "DUNNING_TEST_MODE=\"turbo\": expected one of "
				 "fast|safe");
}

static void test_bad_bool_and_bad_instant_are_rejected(void **state)
{
	char err[256];

	(void)state;
	setenv("DUNNING_TEST_FLAG", "maybe", 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_non_null(strstr(err, "expected true or false"));
	unsetenv("DUNNING_TEST_FLAG");
	setenv("DUNNING_TEST_AT", "2026-02-30", 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_non_null(strstr(err, "DUNNING_TEST_AT=\"2026-02-30\""));
}

static void test_unknown_key_in_file_is_an_error_with_line(void **state)
{
	char err[256];
	const char *path;

	(void)state;
	path = write_temp("DUNNING_TEST_COUNT=2\nDUNNING_TEST_CUONT=3\n");
	setenv("DUNNING_CONFIG_FILE", path, 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_non_null(strstr(err, ":2: unknown setting DUNNING_TEST_CUONT"));
	unlink(path);
}

static void test_secret_comes_from_file_and_is_never_echoed(void **state)
{
	char err[256];
	struct config *cfg;
	const char *path = write_temp("s3cr3t-token\n");

	(void)state;
	setenv("DUNNING_TEST_TOKEN_FILE", path, 1);
	cfg = config_load(tables, err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(config_str(cfg, "DUNNING_TEST_TOKEN"),
			    "s3cr3t-token");
	assert_int_equal(
		config_set(cfg, "DUNNING_TEST_TOKEN",
			   "0123456789ABCDEF0123456789ABCDEF0123456789"
			   "ABCDEF0123456789ABCDEF0123456789ABCDEF01234"
			   "56789ABCDEF0123456789ABCDEF0123456789ABCDE"
			   "F0123456789ABCDEF",
			   err, sizeof(err)),
		DN_OK);
	config_free(cfg);
	unlink(path);
}

static void test_secret_in_bad_value_error_is_hidden(void **state)
{
	static const struct config_key secret_int[] = {
		{ "DUNNING_TEST_PIN", CONFIG_INT, "1", 1, 9, NULL, true, false,
		  "a secret number" },
		CONFIG_KEY_END,
	};
	const struct config_key *const t[] = { secret_int, NULL };
	char err[256];

	(void)state;
	setenv("DUNNING_TEST_PIN", "424242", 1);
	assert_null(config_load(t, err, sizeof(err)));
	assert_null(strstr(err, "424242"));
	assert_non_null(strstr(err, "(secret)"));
	unsetenv("DUNNING_TEST_PIN");
}

static void test_required_key_missing_says_which(void **state)
{
	const struct config_key *const t[] = { required_keys, NULL };
	char err[256];

	(void)state;
	assert_null(config_load(t, err, sizeof(err)));
	assert_non_null(strstr(err, "DUNNING_TEST_NEEDED is required"));
}

static void test_missing_config_file_names_the_path(void **state)
{
	char err[256];

	(void)state;
	setenv("DUNNING_CONFIG_FILE", "/nonexistent/dunning.conf", 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dunning.conf"));
}

static void test_instant_parses_fraction_and_requires_utc(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(config_parse_instant("2024-02-29T23:59:59.5Z", &ms),
			 DN_OK);
	assert_int_equal(ms, 1709251199500LL);
	assert_int_equal(config_parse_instant("2024-02-29T23:59:59+01:00", &ms),
			 DN_ERR_INVALID);
	assert_int_equal(config_parse_instant("2026-02-30T10:00:00Z", &ms),
			 DN_ERR_INVALID);
	assert_int_equal(config_parse_instant("2026-13-01T10:00:00Z", &ms),
			 DN_ERR_INVALID);
}

static void test_unset_number_without_default_reads_as_empty(void **state)
{
	static const struct config_key no_default[] = {
		{ "DUNNING_TEST_PORT", CONFIG_INT, NULL, 1, 65535, NULL, false,
		  false, "a port with no default" },
		{ "DUNNING_TEST_NEEDED", CONFIG_INT, NULL, 1, 9, NULL, false,
		  true, "a number that must be set" },
		CONFIG_KEY_END,
	};
	const struct config_key *const t[] = { no_default, NULL };
	char err[256];
	struct config *cfg;

	(void)state;
	/* Required and unset: an error naming it, not a crash. */
	assert_null(config_load(t, err, sizeof(err)));
	assert_non_null(strstr(err, "DUNNING_TEST_NEEDED is required"));

	/* Optional and unset: empty, as the header promises. */
	setenv("DUNNING_TEST_NEEDED", "3", 1);
	cfg = config_load(t, err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(config_str(cfg, "DUNNING_TEST_PORT"), "");
	assert_int_equal(config_int(cfg, "DUNNING_TEST_PORT"), 0);
	config_free(cfg);
}

static void test_secret_file_over_the_maximum_is_refused(void **state)
{
	char *big = malloc(5001);
	char err[256];
	const char *path;

	(void)state;
	assert_non_null(big);
	memset(big, 'k', 5000);
	big[5000] = '\0';
	path = write_temp(big);
	free(big);
	/* Cut to 4096 bytes it would be a wrong secret, silently. */
	setenv("DUNNING_TEST_TOKEN_FILE", path, 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_non_null(strstr(err, "DUNNING_TEST_TOKEN"));
	assert_non_null(strstr(err, "longer than"));
	assert_null(strstr(err, "kkkk"));
	unlink(path);
}

static void test_overlong_line_in_file_is_an_error_not_two_lines(void **state)
{
	const char key[] = "DUNNING_TEST_COUNT=3\n";
	char *text = malloc(8191 + sizeof(key));
	char err[256];
	const char *path;

	(void)state;
	assert_non_null(text);
	/* A comment exactly as long as the line buffer, then a setting on
	 * the same line: the setting is part of the comment. */
	text[0] = '#';
	memset(text + 1, ' ', 8190);
	memcpy(text + 8191, key, sizeof(key));
	path = write_temp(text);
	free(text);
	setenv("DUNNING_CONFIG_FILE", path, 1);
	assert_null(config_load(tables, err, sizeof(err)));
	assert_non_null(strstr(err, ":1: line longer than"));
	unlink(path);
}

#define T(f) cmocka_unit_test_setup_teardown(f, clear_env, clear_env)

static void test_file_lines_may_start_with_export(void **state)
{
	char err[256];
	struct config *cfg;

	(void)state;
	setenv("DUNNING_CONFIG_FILE",
	       write_temp("export DUNNING_TEST_COUNT=8\n"
			  "  export   DUNNING_TEST_MODE = safe\n"),
	       1);
	cfg = config_load(tables, err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(config_int(cfg, "DUNNING_TEST_COUNT"), 8);
	assert_string_equal(config_str(cfg, "DUNNING_TEST_MODE"), "safe");
	unlink(getenv("DUNNING_CONFIG_FILE"));
	config_free(cfg);
}

/* Runs config_args on argv; out and errout receive what it wrote. */
static int args_run(int argc, char **argv, char **out, char **errout)
{
	size_t out_len = 0, err_len = 0;
	FILE *o = open_memstream(out, &out_len);
	FILE *e = open_memstream(errout, &err_len);
	int rc = config_args(argc, argv, tables, "Does a test thing.", o, e);

	fclose(o);
	fclose(e);
	return rc;
}

static void test_help_lists_every_setting_and_exits_0(void **state)
{
	char *argv[] = { "dunning-test", "--help", NULL };
	char *out = NULL, *errout = NULL;

	(void)state;
	assert_int_equal(args_run(2, argv, &out, &errout), 0);
	assert_non_null(strstr(out, "usage: dunning-test\nDoes a test thing."));
	assert_non_null(strstr(out, "DUNNING_REDIS_URL, default redis://"));
	assert_non_null(strstr(out, "DUNNING_TEST_COUNT (1 to 10), default 5"));
	assert_non_null(strstr(out, "DUNNING_TEST_MODE (fast|safe)"));
	assert_non_null(strstr(out, "a secret (secret: may be given as"));
	assert_string_equal(errout, "");
	free(out);
	free(errout);
}

static void test_any_other_argument_is_refused_with_status_2(void **state)
{
	char *bogus[] = { "dunning-test", "--bogus-flag", "foo", NULL };
	char *one[] = { "dunning-test", "-x", NULL };
	char *none[] = { "dunning-test", NULL };
	char *out = NULL, *errout = NULL;

	(void)state;
	assert_int_equal(args_run(3, bogus, &out, &errout), 2);
	assert_non_null(strstr(errout, "\"--bogus-flag\""));
	assert_string_equal(out, "");
	free(out);
	free(errout);
	assert_int_equal(args_run(2, one, &out, &errout), 2);
	assert_non_null(strstr(errout, "\"-x\""));
	free(out);
	free(errout);
	assert_int_equal(args_run(1, none, &out, &errout), -1);
	assert_string_equal(out, "");
	free(out);
	free(errout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults_apply_when_nothing_is_set),
		T(test_environment_overrides_file),
		T(test_out_of_range_number_names_key_value_and_bounds),
		T(test_number_with_trailing_text_is_rejected),
		T(test_bad_choice_lists_the_allowed_words),
		T(test_bad_bool_and_bad_instant_are_rejected),
		T(test_unknown_key_in_file_is_an_error_with_line),
		T(test_secret_comes_from_file_and_is_never_echoed),
		T(test_secret_in_bad_value_error_is_hidden),
		T(test_required_key_missing_says_which),
		T(test_missing_config_file_names_the_path),
		T(test_instant_parses_fraction_and_requires_utc),
		T(test_unset_number_without_default_reads_as_empty),
		T(test_secret_file_over_the_maximum_is_refused),
		T(test_overlong_line_in_file_is_an_error_not_two_lines),
		T(test_file_lines_may_start_with_export),
		T(test_help_lists_every_setting_and_exits_0),
		T(test_any_other_argument_is_refused_with_status_2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
