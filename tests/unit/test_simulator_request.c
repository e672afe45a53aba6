/* test_simulator_request.c: the simulator refuses requests as WhatsApp does. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each rule of request.h, with the code WhatsApp answers: unknown
 * templates and languages (132001), parameter counts (132000), parameter
 * text rules (132018), missing fields (131008), malformed envelopes and
 * recipients (100); and that a valid request is read completely.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../simulator/catalogue.h"
#include "../../simulator/request.h"
#include "../../simulator/waerror.h"

static const char catalogue_json[] =
	"{\"templates\": ["
	"{\"name\": \"payment_due\", \"parameters\": 3,"
	" \"buttons\": [{\"payload\": \"paid\", \"text\": \"Paid\"}],"
	" \"languages\": {\"en\": \"x\", \"pt_BR\": \"y\"}}]}";

static struct catalogue *cat;

static int setup(void **state)
{
	char err[256];

	(void)state;
	cat = catalogue_parse(catalogue_json, "test", err, sizeof(err));
	return cat ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	catalogue_free(cat);
	return 0;
}

/* Builds a template request with the given to, name, language and
 * parameters JSON array, parses it and returns the WhatsApp code (0 when
 * accepted). */
static int check(const char *to, const char *name, const char *lang,
		 const char *params, struct request *out)
{
	char body[2048], details[256];
	struct request rq;
	int code = 0;

	snprintf(body, sizeof(body),
		 "{\"messaging_product\":\"whatsapp\",\"to\":\"%s\","
		 "\"type\":\"template\",\"biz_opaque_callback_data\":\"cmd-7\","
		 "\"template\":{\"name\":\"%s\",\"language\":{\"code\":\"%s\"},"
		 "\"components\":[{\"type\":\"body\",\"parameters\":%s}]}}",
		 to, name, lang, params);
	if (request_parse(body, strlen(body), cat, &rq, &code, details,
			  sizeof(details)) == 0) {
		if (out)
			*out = rq;
		else
			request_release(&rq);
		return 0;
	}
	assert_true(details[0] != '\0');
	return code;
}

#define P1 "{\"type\":\"text\",\"text\":\"Ana\"}"
#define P2 "{\"type\":\"text\",\"text\":\"F-1, F-2\"}"
#define P3 "{\"type\":\"text\",\"text\":\"10,00 EUR\"}"

static void test_valid_template_request_is_read_whole(void **state)
{
	struct request rq;

	(void)state;
	assert_int_equal(check("+34 600-12 34 56", "payment_due", "en",
			       "[" P1 "," P2 "," P3 "]", &rq),
			 0);
	assert_int_equal(rq.type, REQUEST_TEMPLATE);
	assert_string_equal(rq.to, "+34 600-12 34 56");
	assert_string_equal(rq.digits, "34600123456");
	assert_string_equal(rq.wa_id, "34600123456");
	assert_int_equal(rq.param_count, 3);
	assert_string_equal(rq.params[1], "F-1, F-2");
	assert_string_equal(rq.callback_data, "cmd-7");
	request_release(&rq);
}

static void test_unknown_template_is_132001(void **state)
{
	(void)state;
	assert_int_equal(check("+34600123456", "payment_later", "en",
			       "[" P1 "," P2 "," P3 "]", NULL),
			 WAERROR_TEMPLATE_MISSING);
	assert_int_equal(waerror_http_status(WAERROR_TEMPLATE_MISSING), 404);
}

static void test_template_in_other_language_is_132001(void **state)
{
	(void)state;
	assert_int_equal(check("+34600123456", "payment_due", "pt_PT",
			       "[" P1 "," P2 "," P3 "]", NULL),
			 WAERROR_TEMPLATE_MISSING);
	assert_int_equal(check("+34600123456", "payment_due", "pt_BR",
			       "[" P1 "," P2 "," P3 "]", NULL),
			 0);
}

static void test_wrong_parameter_count_is_132000(void **state)
{
	(void)state;
	assert_int_equal(check("+34600123456", "payment_due", "en",
			       "[" P1 "," P2 "]", NULL),
			 WAERROR_PARAMETER_COUNT);
	assert_int_equal(check("+34600123456", "payment_due", "en",
			       "[" P1 "," P2 "," P3 "," P3 "]", NULL),
			 WAERROR_PARAMETER_COUNT);
}

static void test_newline_tab_or_five_spaces_is_132018(void **state)
{
	(void)state;
	assert_int_equal(
		check("+34600123456", "payment_due", "en",
		      "[" P1 ",{\"type\":\"text\",\"text\":\"a\\nb\"}," P3 "]",
		      NULL),
		WAERROR_TEMPLATE_PARAMETERS);
	assert_int_equal(
		check("+34600123456", "payment_due", "en",
		      "[" P1 ",{\"type\":\"text\",\"text\":\"a\\tb\"}," P3 "]",
		      NULL),
		WAERROR_TEMPLATE_PARAMETERS);
	assert_int_equal(check("+34600123456", "payment_due", "en",
			       "[" P1
			       ",{\"type\":\"text\",\"text\":\"a     b\"}," P3
			       "]",
			       NULL),
			 WAERROR_TEMPLATE_PARAMETERS);
}

static void test_four_spaces_are_still_allowed(void **state)
{
	(void)state;
	assert_false(request_param_text_invalid("a    b"));
	assert_true(request_param_text_invalid("a     b"));
	assert_true(request_param_text_invalid("line\r\n"));
}

static void test_empty_parameter_text_is_131008(void **state)
{
	(void)state;
	assert_int_equal(check("+34600123456", "payment_due", "en",
			       "[" P1 ",{\"type\":\"text\",\"text\":\"\"}," P3
			       "]",
			       NULL),
			 WAERROR_PARAMETER_MISSING);
}

static void test_non_text_parameter_is_132012(void **state)
{
	(void)state;
	assert_int_equal(check("+34600123456", "payment_due", "en",
			       "[" P1 ",{\"type\":\"image\"}," P3 "]", NULL),
			 WAERROR_PARAMETER_FORMAT);
}

static void test_bad_recipient_is_100(void **state)
{
	(void)state;
	assert_int_equal(check("call me", "payment_due", "en",
			       "[" P1 "," P2 "," P3 "]", NULL),
			 WAERROR_INVALID_PARAMETER);
	assert_int_equal(check("+1234", "payment_due", "en",
			       "[" P1 "," P2 "," P3 "]", NULL),
			 WAERROR_INVALID_PARAMETER);
}

static int parse_text(const char *body)
{
	char details[256];
	struct request rq;
	int code = 0;

	if (request_parse(body, strlen(body), cat, &rq, &code, details,
			  sizeof(details)) == 0) {
		request_release(&rq);
		return 0;
	}
	return code;
}

static void test_envelope_errors(void **state)
{
	(void)state;
	assert_int_equal(parse_text("not json"), WAERROR_INVALID_PARAMETER);
	assert_int_equal(parse_text("{\"messaging_product\":\"sms\","
				    "\"to\":\"34600123456\",\"type\":\"text\","
				    "\"text\":{\"body\":\"x\"}}"),
			 WAERROR_INVALID_PARAMETER);
	assert_int_equal(
		parse_text("{\"messaging_product\":\"whatsapp\","
			   "\"type\":\"text\",\"text\":{\"body\":\"x\"}}"),
		WAERROR_INVALID_PARAMETER);
	assert_int_equal(
		parse_text("{\"messaging_product\":\"whatsapp\","
			   "\"to\":\"34600123456\",\"type\":\"template\","
			   "\"template\":{\"language\":{\"code\":\"en\"}}}"),
		WAERROR_PARAMETER_MISSING);
	assert_int_equal(parse_text("{\"messaging_product\":\"whatsapp\","
				    "\"to\":\"34600123456\",\"type\":\"text\","
				    "\"text\":{\"body\":\"hola\"}}"),
			 0);
}

static void test_real_catalogue_loads(void **state)
{
	const char *root = getenv("DUNNING_ROOT");
	char path[1024], err[256];
	const struct catalogue_template *tpl;
	struct catalogue *real;

	(void)state;
	snprintf(path, sizeof(path), "%s/deploy/whatsapp-templates.json",
		 root ? root : ".");
	real = catalogue_load(path, err, sizeof(err));
	assert_non_null(real);
	tpl = catalogue_find(real, "payment_final");
	assert_non_null(tpl);
	assert_int_equal(tpl->parameter_count, 6);
	assert_true(catalogue_has_language(tpl, "pt_BR"));
	assert_string_equal(tpl->buttons[1].payload, "call_me");
	catalogue_free(real);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_template_request_is_read_whole),
		cmocka_unit_test(test_unknown_template_is_132001),
		cmocka_unit_test(test_template_in_other_language_is_132001),
		cmocka_unit_test(test_wrong_parameter_count_is_132000),
		cmocka_unit_test(test_newline_tab_or_five_spaces_is_132018),
		cmocka_unit_test(test_four_spaces_are_still_allowed),
		cmocka_unit_test(test_empty_parameter_text_is_131008),
		cmocka_unit_test(test_non_text_parameter_is_132012),
		cmocka_unit_test(test_bad_recipient_is_100),
		cmocka_unit_test(test_envelope_errors),
		cmocka_unit_test(test_real_catalogue_loads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
