/* test_simulator_wire.c: what the simulator puts on the wire. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error bodies have the Graph API shape and statuses; webhook signatures
 * are the HMAC-SHA256 Meta sends; wa_ids follow WhatsApp's quirks for
 * Brazil, Mexico and Argentina; webhook bodies have the documented
 * nesting; rate limits and fixed failures behave as configured.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../simulator/api.h"
#include "../../simulator/payload.h"
#include "../../simulator/ratelimit.h"
#include "../../simulator/recipient.h"
#include "../../simulator/signature.h"
#include "../../simulator/waerror.h"

static json_t *parse(const char *text)
{
	json_t *root = json_loads(text, 0, NULL);

	assert_non_null(root);
	return root;
}

static void test_error_body_has_graph_api_shape(void **state)
{
	char *text = waerror_render(WAERROR_TEMPLATE_PARAMETERS, "newline",
				    "TRACE", 0);
	json_t *root = parse(text), *error = json_object_get(root, "error");

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(error, "code")),
			 132018);
	assert_string_equal(json_string_value(json_object_get(error, "type")),
			    "OAuthException");
	assert_non_null(
		strstr(json_string_value(json_object_get(error, "message")),
		       "(#132018)"));
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(error, "error_data"), "details")),
		"newline");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(error, "error_data"),
				    "messaging_product")),
			    "whatsapp");
	assert_string_equal(
		json_string_value(json_object_get(error, "fbtrace_id")),
		"TRACE");
	json_decref(root);
	free(text);
}

static void test_expired_token_is_190_with_subcode_and_401(void **state)
{
	char *text = waerror_render(WAERROR_ACCESS_TOKEN, NULL, "T", 1);
	json_t *root = parse(text), *error = json_object_get(root, "error");

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(error, "code")),
			 190);
	assert_int_equal(
		json_integer_value(json_object_get(error, "error_subcode")),
		463);
	assert_null(json_object_get(error, "error_data"));
	assert_int_equal(waerror_http_status(WAERROR_ACCESS_TOKEN), 401);
	json_decref(root);
	free(text);
}

static void test_http_status_per_code(void **state)
{
	(void)state;
	assert_int_equal(waerror_http_status(WAERROR_RATE_LIMIT), 400);
	assert_int_equal(waerror_http_status(WAERROR_PAIR_RATE_LIMIT), 400);
	assert_int_equal(waerror_http_status(WAERROR_UNDELIVERABLE), 400);
	assert_int_equal(waerror_http_status(WAERROR_REENGAGEMENT), 400);
	assert_int_equal(waerror_http_status(WAERROR_PARAMETER_COUNT), 400);
	assert_int_equal(waerror_http_status(WAERROR_TEMPLATE_MISSING), 404);
	assert_int_equal(waerror_http_status(WAERROR_GENERIC), 500);
	assert_int_equal(waerror_http_status(WAERROR_SERVICE_UNAVAILABLE), 503);
}

static void test_signature_matches_rfc4231_vector(void **state)
{
	const char *body = "what do ya want for nothing?";
	char header[SIGNATURE_HEADER_LEN];

	(void)state;
	assert_int_equal(signature_header("Jefe", body, strlen(body), header,
					  sizeof(header)),
			 0);
	assert_string_equal(header, "sha256=5bdcc146bf60754e6a042426089575c7"
				    "5a003f089d2739839dec58b964ec3843");
	assert_true(signature_verify("Jefe", body, strlen(body), header));
	assert_false(signature_verify("jefe", body, strlen(body), header));
	assert_false(signature_verify("Jefe", body, strlen(body) - 1, header));
}

static const char *wa_id_of(const char *to)
{
	static char wa_id[20];
	char digits[16];

	assert_int_equal(recipient_digits(to, digits, sizeof(digits)), 0);
	assert_int_equal(recipient_wa_id(digits, wa_id, sizeof(wa_id)), 0);
	return wa_id;
}

static void test_brazilian_mobile_loses_ninth_digit(void **state)
{
	(void)state;
	assert_string_equal(wa_id_of("+55 11 91234-5678"), "551112345678");
	assert_string_equal(wa_id_of("+551112345678"), "551112345678");
}

static void test_mexican_and_argentine_ids_gain_mobile_prefix(void **state)
{
	(void)state;
	assert_string_equal(wa_id_of("+52 55 1234 5678"), "5215512345678");
	assert_string_equal(wa_id_of("+5215512345678"), "5215512345678");
	assert_string_equal(wa_id_of("+54 11 1234 5678"), "5491112345678");
	assert_string_equal(wa_id_of("+5491112345678"), "5491112345678");
}

static void test_other_numbers_keep_their_digits(void **state)
{
	char digits[16];

	(void)state;
	assert_string_equal(wa_id_of("+34 600 12 34 56"), "34600123456");
	assert_string_equal(wa_id_of("+1 (415) 555-0100"), "14155550100");
	assert_int_not_equal(
		recipient_digits("+0123456789", digits, sizeof(digits)), 0);
	assert_int_not_equal(
		recipient_digits("+3460012345678901", digits, sizeof(digits)),
		0);
	assert_int_not_equal(
		recipient_digits("+34 600 x", digits, sizeof(digits)), 0);
}

static void test_status_webhook_shape(void **state)
{
	struct payload_sender sender = { "106540352242922", "15550000000" };
	struct payload_status st[2];
	json_t *root, *value, *statuses;
	char *text;

	(void)state;
	memset(st, 0, sizeof(st));
	snprintf(st[0].wamid, sizeof(st[0].wamid), "wamid.A");
	st[0].kind = PAYLOAD_DELIVERED;
	st[0].at_ms = 1767225600123;
	snprintf(st[0].recipient_id, sizeof(st[0].recipient_id), "34600");
	snprintf(st[0].callback_data, sizeof(st[0].callback_data), "cmd");
	st[1] = st[0];
	st[1].kind = PAYLOAD_FAILED;
	st[1].error_code = WAERROR_UNDELIVERABLE;
	text = payload_statuses("waba", &sender, st, 2);
	root = parse(text);
	value = json_object_get(
		json_array_get(
			json_object_get(
				json_array_get(json_object_get(root, "entry"),
					       0),
				"changes"),
			0),
		"value");
	statuses = json_object_get(value, "statuses");
	assert_int_equal(json_array_size(statuses), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(statuses, 0), "timestamp")),
			    "1767225600");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(statuses, 0),
						  "biz_opaque_callback_data")),
		"cmd");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_array_get(
				json_object_get(json_array_get(statuses, 1),
						"errors"),
				0),
			"code")),
		131026);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(value, "metadata"), "phone_number_id")),
		"106540352242922");
	json_decref(root);
	free(text);
}

static void test_button_reply_webhook_shape(void **state)
{
	struct payload_sender sender = { "1065", "15550000000" };
	struct payload_inbound msg;
	json_t *root, *value, *message;
	char *text;

	(void)state;
	memset(&msg, 0, sizeof(msg));
	snprintf(msg.wamid, sizeof(msg.wamid), "wamid.IN");
	msg.kind = PAYLOAD_BUTTON;
	snprintf(msg.from, sizeof(msg.from), "551112345678");
	snprintf(msg.name, sizeof(msg.name), "Ana");
	snprintf(msg.context_id, sizeof(msg.context_id), "wamid.OUT");
	snprintf(msg.payload, sizeof(msg.payload), "paid");
	snprintf(msg.text, sizeof(msg.text), "Already paid");
	text = payload_inbound("waba", &sender, &msg);
	root = parse(text);
	value = json_object_get(
		json_array_get(
			json_object_get(
				json_array_get(json_object_get(root, "entry"),
					       0),
				"changes"),
			0),
		"value");
	message = json_array_get(json_object_get(value, "messages"), 0);
	assert_string_equal(json_string_value(json_object_get(message, "type")),
			    "button");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(message, "button"), "payload")),
		"paid");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(message, "context"), "id")),
			    "wamid.OUT");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(value, "contacts"), 0),
			"wa_id")),
		"551112345678");
	json_decref(root);
	free(text);
}

static void test_rate_limit_refuses_past_burst_then_refills(void **state)
{
	struct ratelimit *rl = ratelimit_new(3, 3, 1000);
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_true(ratelimit_take(rl, "n1", 1000));
	assert_false(ratelimit_take(rl, "n1", 1000));
	assert_true(ratelimit_take(rl, "n2", 1000));
	assert_false(ratelimit_take(rl, "n1", 1300));
	assert_true(ratelimit_take(rl, "n1", 1334));
	ratelimit_free(rl);
}

struct collected {
	char digits[4][16];
	int code[4], sync[4], n;
};

static int collect(void *ctx, const char *digits, int code, int sync)
{
	struct collected *c = ctx;

	snprintf(c->digits[c->n], sizeof(c->digits[0]), "%s", digits);
	c->code[c->n] = code;
	c->sync[c->n++] = sync;
	return 0;
}

static void test_fail_recipients_parse_with_meta_defaults(void **state)
{
	struct collected c;
	char err[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(api_parse_fail_recipients(
				 "+34600000001=131026,+34600000002=131047,"
				 "+34600000003=130429,+34600000004=131026:sync",
				 collect, &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.digits[0], "34600000001");
	assert_int_equal(c.code[1], 131047);
	assert_false(c.sync[0]);
	assert_false(c.sync[1]);
	assert_true(c.sync[2]);
	assert_true(c.sync[3]);
	assert_int_not_equal(api_parse_fail_recipients("+34600000001=42",
						       collect, &c, err,
						       sizeof(err)),
			     0);
	assert_non_null(strstr(err, "+34600000001=42"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_body_has_graph_api_shape),
		cmocka_unit_test(
			test_expired_token_is_190_with_subcode_and_401),
		cmocka_unit_test(test_http_status_per_code),
		cmocka_unit_test(test_signature_matches_rfc4231_vector),
		cmocka_unit_test(test_brazilian_mobile_loses_ninth_digit),
		cmocka_unit_test(
			test_mexican_and_argentine_ids_gain_mobile_prefix),
		cmocka_unit_test(test_other_numbers_keep_their_digits),
		cmocka_unit_test(test_status_webhook_shape),
		cmocka_unit_test(test_button_reply_webhook_shape),
		cmocka_unit_test(
			test_rate_limit_refuses_past_burst_then_refills),
		cmocka_unit_test(test_fail_recipients_parse_with_meta_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
