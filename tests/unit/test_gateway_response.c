/* test_gateway_response.c: Cloud API answers are read and classified by code. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies that accepted answers yield the message id and the recipient's
 * wa_id (which may differ from the number sent to), that error objects
 * yield their code even when it is a string, and that every documented
 * code lands in the right class: retry, throttle, pair limit, permanent or
 * halt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/wa_response.h"

static enum wa_outcome classify(long status, const char *body)
{
	struct wa_response resp;

	wa_response_parse(status, body, body ? strlen(body) : 0, &resp);
	return wa_response_classify(&resp);
}

static void test_accepted_answer_gives_message_id_and_wa_id(void **state)
{
	static const char body[] =
		"{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":"
		"\"+5511987654321\",\"wa_id\":\"551187654321\"}],\"messages\":"
		"[{\"id\":\"wamid.HBgM\",\"message_status\":\"accepted\"}]}";
	struct wa_response resp;

	(void)state;
	wa_response_parse(200, body, strlen(body), &resp);
	assert_string_equal(resp.message_id, "wamid.HBgM");
	assert_string_equal(resp.wa_id, "551187654321");
	assert_int_equal(wa_response_classify(&resp), WA_OUTCOME_ACCEPTED);
}

static void test_error_object_gives_code_title_and_details(void **state)
{
	static const char body[] =
		"{\"error\":{\"message\":\"(#131056) pair rate limit hit\","
		"\"type\":\"OAuthException\",\"code\":\"131056\","
		"\"error_data\":{\"messaging_product\":\"whatsapp\","
		"\"details\":\"too many messages to one number\"},"
		"\"fbtrace_id\":\"Az8\"}}";
	struct wa_response resp;

	(void)state;
	wa_response_parse(400, body, strlen(body), &resp);
	assert_int_equal(resp.error_code, 131056);
	assert_string_equal(resp.error_details,
			    "too many messages to one number");
	assert_int_equal(wa_response_classify(&resp), WA_OUTCOME_PAIR_LIMIT);
}

static void test_permanent_codes_fail_without_retry(void **state)
{
	static const int codes[] = { 131026, 131047, 131008, 131009, 100,
				     132000, 132001, 132005, 132007, 132012,
				     132015, 132016, 132018, 131051, 131021 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(*codes); i++)
		assert_int_equal(wa_error_classify(codes[i]),
				 WA_OUTCOME_PERMANENT);
}

static void test_token_account_and_sender_trouble_halts(void **state)
{
	static const int codes[] = { 190, 0,	  10,	  200,	 299,
				     368, 131031, 131045, 133010 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(*codes); i++)
		assert_int_equal(wa_error_classify(codes[i]), WA_OUTCOME_HALT);
	assert_int_equal(classify(401,
				  "{\"error\":{\"message\":\"Error validating "
				  "access token\",\"type\":\"OAuthException\","
				  "\"code\":190,\"error_subcode\":463}}"),
			 WA_OUTCOME_HALT);
	assert_int_equal(classify(401, "not json"), WA_OUTCOME_HALT);
}

static void test_throughput_errors_throttle(void **state)
{
	(void)state;
	assert_int_equal(wa_error_classify(130429), WA_OUTCOME_THROTTLED);
	assert_int_equal(wa_error_classify(131048), WA_OUTCOME_THROTTLED);
	assert_int_equal(wa_error_classify(80007), WA_OUTCOME_THROTTLED);
	assert_int_equal(classify(429, ""), WA_OUTCOME_THROTTLED);
}

static void test_server_errors_and_timeouts_retry(void **state)
{
	(void)state;
	assert_int_equal(classify(500, "<html>oops</html>"), WA_OUTCOME_RETRY);
	assert_int_equal(classify(503, NULL), WA_OUTCOME_RETRY);
	assert_int_equal(classify(0, NULL), WA_OUTCOME_RETRY);
	assert_int_equal(wa_error_classify(131000), WA_OUTCOME_RETRY);
	assert_int_equal(wa_error_classify(131016), WA_OUTCOME_RETRY);
	assert_int_equal(classify(200, "{\"messages\":[]}"), WA_OUTCOME_RETRY);
}

static void test_unknown_client_error_is_permanent(void **state)
{
	(void)state;
	assert_int_equal(classify(400, "{}"), WA_OUTCOME_PERMANENT);
	assert_int_equal(wa_error_classify(999999), WA_OUTCOME_PERMANENT);
}

static void test_oversized_answer_is_not_read(void **state)
{
	static char body[WA_RESPONSE_MAX + 2];
	struct wa_response resp;

	(void)state;
	memset(body, ' ', sizeof(body) - 1);
	wa_response_parse(200, body, sizeof(body) - 1, &resp);
	assert_string_equal(resp.message_id, "");
	assert_int_equal(wa_response_classify(&resp), WA_OUTCOME_RETRY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_accepted_answer_gives_message_id_and_wa_id),
		cmocka_unit_test(
			test_error_object_gives_code_title_and_details),
		cmocka_unit_test(test_permanent_codes_fail_without_retry),
		cmocka_unit_test(test_token_account_and_sender_trouble_halts),
		cmocka_unit_test(test_throughput_errors_throttle),
		cmocka_unit_test(test_server_errors_and_timeouts_retry),
		cmocka_unit_test(test_unknown_client_error_is_permanent),
		cmocka_unit_test(test_oversized_answer_is_not_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
