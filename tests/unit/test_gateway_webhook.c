/* test_gateway_webhook.c: webhooks are authenticated and read item by item. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies the X-Hub-Signature-256 check (valid, wrong, missing, body
 * changed by one byte, malformed header), the GET handshake, and the
 * reading of every status and message kind, of batches with several
 * entries and changes, of \u escapes with surrogate pairs, of numbers sent
 * as strings, and that unreadable items are counted without stopping the
 * batch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/webhook.h"
#include "error.h"

static const char secret[] = "app-secret-for-tests";

static void test_valid_signature_is_accepted(void **state)
{
	static const char body[] = "{\"object\":\"whatsapp_business_account\"}";
	char header[80];

	(void)state;
	webhook_signature_make(secret, body, strlen(body), header,
			       sizeof(header));
	assert_int_equal(strncmp(header, "sha256=", 7), 0);
	assert_int_equal(
		webhook_signature_check(secret, body, strlen(body), header),
		DN_OK);
}

static void test_known_hmac_value_matches(void **state)
{
	/* HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"). */
	static const char body[] =
		"The quick brown fox jumps over the lazy dog";
	static const char header[] =
		"sha256="
		"f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc"
		"2d1a3cd8";

	(void)state;
	assert_int_equal(
		webhook_signature_check("key", body, strlen(body), header),
		DN_OK);
}

static void test_wrong_or_missing_signature_is_refused(void **state)
{
	static const char body[] = "{\"entry\":[]}";
	char header[80];

	(void)state;
	webhook_signature_make("another-secret", body, strlen(body), header,
			       sizeof(header));
	assert_int_equal(
		webhook_signature_check(secret, body, strlen(body), header),
		DN_ERR_INVALID);
	assert_int_equal(
		webhook_signature_check(secret, body, strlen(body), NULL),
		DN_ERR_INVALID);
	assert_int_equal(
		webhook_signature_check(secret, body, strlen(body), "sha256="),
		DN_ERR_INVALID);
	assert_int_equal(webhook_signature_check(secret, body, strlen(body),
						 "sha1=abcdef"),
			 DN_ERR_INVALID);
}

static void test_body_changed_by_one_byte_is_refused(void **state)
{
	char body[] = "{\"entry\":[{\"id\":\"1\"}]}";
	char header[80];

	(void)state;
	webhook_signature_make(secret, body, strlen(body), header,
			       sizeof(header));
	body[12] ^= 1;
	assert_int_equal(
		webhook_signature_check(secret, body, strlen(body), header),
		DN_ERR_INVALID);
}

static void test_upper_case_hex_signature_is_accepted(void **state)
{
	static const char body[] = "x";
	char header[80];
	size_t i;

	(void)state;
	webhook_signature_make(secret, body, 1, header, sizeof(header));
	for (i = 7; header[i]; i++)
		if (header[i] >= 'a' && header[i] <= 'f')
			header[i] = (char)(header[i] - 'a' + 'A');
	assert_int_equal(webhook_signature_check(secret, body, 1, header),
			 DN_OK);
}

static void test_handshake_echoes_challenge_only_with_right_token(void **state)
{
	const char *out = NULL;

	(void)state;
	assert_int_equal(webhook_handshake("subscribe", "tok", "1158201444",
					   "tok", &out),
			 200);
	assert_string_equal(out, "1158201444");
	assert_int_equal(
		webhook_handshake("subscribe", "nope", "1", "tok", &out), 403);
	assert_null(out);
	assert_int_equal(
		webhook_handshake("unsubscribe", "tok", "1", "tok", &out), 403);
	assert_int_equal(webhook_handshake(NULL, "tok", "1", "tok", &out), 403);
	assert_int_equal(webhook_handshake("subscribe", "", "1", "", &out),
			 403);
}

static const char statuses_body[] =
	"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"WABA\","
	"\"changes\":[{\"field\":\"messages\",\"value\":{"
	"\"messaging_product\":\"whatsapp\",\"metadata\":{"
	"\"display_phone_number\":\"15550001111\",\"phone_number_id\":\"PN1\"},"
	"\"statuses\":["
	"{\"id\":\"wamid.A\",\"status\":\"sent\",\"timestamp\":\"1767225600\","
	"\"recipient_id\":\"5511987654321\",\"biz_opaque_callback_data\":"
	"\"demo/INV-1/due/v1\"},"
	"{\"id\":\"wamid.A\",\"status\":\"delivered\",\"timestamp\":1767225601,"
	"\"recipient_id\":\"5511987654321\"},"
	"{\"id\":\"wamid.A\",\"status\":\"read\",\"timestamp\":\"1767225602\","
	"\"recipient_id\":\"5511987654321\"},"
	"{\"id\":\"wamid.B\",\"status\":\"failed\",\"timestamp\":"
	"\"1767225603\","
	"\"recipient_id\":\"34600000001\",\"errors\":[{\"code\":131026,"
	"\"title\":\"Message undeliverable\"}]},"
	"{\"id\":\"wamid.C\",\"status\":\"warped\",\"timestamp\":\"1\"},"
	"{\"status\":\"sent\"}"
	"]}}]}]}";

static void test_every_status_kind_is_read(void **state)
{
	struct webhook_batch batch;
	char err[256];

	(void)state;
	assert_int_equal(webhook_parse(statuses_body, strlen(statuses_body),
				       &batch, err, sizeof(err)),
			 DN_OK);
	assert_int_equal(batch.count, 4);
	assert_int_equal(batch.unreadable, 2);
	assert_int_equal(batch.items[0].kind, WEBHOOK_STATUS);
	assert_int_equal(batch.items[0].status, WEBHOOK_STATUS_SENT);
	assert_string_equal(batch.items[0].callback_data, "demo/INV-1/due/v1");
	assert_string_equal(batch.items[0].phone_number_id, "PN1");
	assert_string_equal(batch.items[0].wa_id, "5511987654321");
	assert_int_equal(batch.items[0].occurred_at_ms, 1767225600000LL);
	assert_int_equal(batch.items[1].status, WEBHOOK_STATUS_DELIVERED);
	assert_int_equal(batch.items[1].occurred_at_ms, 1767225601000LL);
	assert_int_equal(batch.items[2].status, WEBHOOK_STATUS_READ);
	assert_int_equal(batch.items[3].status, WEBHOOK_STATUS_FAILED);
	assert_int_equal(batch.items[3].error_code, 131026);
	assert_string_equal(batch.items[3].error_title,
			    "Message undeliverable");
	webhook_batch_release(&batch);
}

static const char messages_body[] =
	"{\"object\":\"whatsapp_business_account\",\"entry\":["
	"{\"id\":\"W1\",\"changes\":[{\"field\":\"messages\",\"value\":{"
	"\"metadata\":{\"phone_number_id\":\"PN1\"},"
	"\"contacts\":[{\"profile\":{\"name\":\"Ana\"},\"wa_id\":\"5511\"}],"
	"\"messages\":["
	"{\"from\":\"5511\",\"id\":\"wamid.T\",\"timestamp\":\"1767225600\","
	"\"type\":\"text\",\"text\":{\"body\":\"Ol\\u00e1 \\ud83d\\ude00 "
	"\\\"ok\\\"\"}},"
	"{\"from\":\"5511\",\"id\":\"wamid.B\",\"timestamp\":\"1767225601\","
	"\"type\":\"button\",\"context\":{\"from\":\"15550001111\","
	"\"id\":\"wamid.SENT\"},\"button\":{\"payload\":\"paid\","
	"\"text\":\"Already paid\"}}"
	"]}}]},"
	"{\"id\":\"W2\",\"changes\":["
	"{\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":"
	"\"PN2\"},\"messages\":["
	"{\"from\":\"3460\",\"id\":\"wamid.I\",\"timestamp\":\"1767225602\","
	"\"type\":\"interactive\",\"context\":{\"id\":\"wamid.SENT2\"},"
	"\"interactive\":{\"type\":\"button_reply\",\"button_reply\":{"
	"\"id\":\"more_time\",\"title\":\"I need more time\"}}},"
	"{\"from\":\"3460\",\"id\":\"wamid.L\",\"timestamp\":\"1767225603\","
	"\"type\":\"interactive\",\"interactive\":{\"type\":\"list_reply\","
	"\"list_reply\":{\"id\":\"call_me\",\"title\":\"Call me\","
	"\"description\":\"x\"}}}]}},"
	"{\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":"
	"\"PN2\"},\"messages\":["
	"{\"from\":\"3460\",\"id\":\"wamid.IMG\",\"timestamp\":\"1767225604\","
	"\"type\":\"image\",\"image\":{\"caption\":\"receipt\",\"id\":\"m1\"}},"
	"{\"from\":\"3460\",\"id\":\"wamid.R\",\"timestamp\":\"1767225605\","
	"\"type\":\"reaction\",\"reaction\":{\"message_id\":\"wamid.SENT3\","
	"\"emoji\":\"\\ud83d\\udc4d\"}},"
	"{\"id\":\"wamid.NOFROM\",\"type\":\"text\",\"text\":{\"body\":\"x\"}}"
	"]}}]}]}";

static void
test_every_message_kind_of_every_entry_and_change_is_read(void **state)
{
	struct webhook_batch batch;
	char err[256];

	(void)state;
	assert_int_equal(webhook_parse(messages_body, strlen(messages_body),
				       &batch, err, sizeof(err)),
			 DN_OK);
	assert_int_equal(batch.count, 6);
	assert_int_equal(batch.unreadable, 1);

	assert_int_equal(batch.items[0].kind, WEBHOOK_TEXT);
	assert_string_equal(batch.items[0].text, "Olá 😀 \"ok\"");
	assert_string_equal(batch.items[0].wa_id, "5511");
	assert_string_equal(batch.items[0].context_id, "");

	assert_int_equal(batch.items[1].kind, WEBHOOK_BUTTON);
	assert_string_equal(batch.items[1].reply_id, "paid");
	assert_string_equal(batch.items[1].text, "Already paid");
	assert_string_equal(batch.items[1].context_id, "wamid.SENT");

	assert_int_equal(batch.items[2].kind, WEBHOOK_INTERACTIVE);
	assert_string_equal(batch.items[2].reply_id, "more_time");
	assert_string_equal(batch.items[2].context_id, "wamid.SENT2");
	assert_string_equal(batch.items[2].phone_number_id, "PN2");

	assert_int_equal(batch.items[3].kind, WEBHOOK_INTERACTIVE);
	assert_string_equal(batch.items[3].reply_id, "call_me");
	assert_string_equal(batch.items[3].text, "Call me");

	assert_int_equal(batch.items[4].kind, WEBHOOK_OTHER);
	assert_string_equal(batch.items[4].message_type, "image");
	assert_string_equal(batch.items[4].text, "receipt");

	assert_int_equal(batch.items[5].kind, WEBHOOK_OTHER);
	assert_string_equal(batch.items[5].context_id, "wamid.SENT3");
	assert_int_equal(batch.items[5].occurred_at_ms, 1767225605000LL);
	webhook_batch_release(&batch);
}

static void test_malformed_json_is_a_decode_error(void **state)
{
	static const char *const bodies[] = { "{\"entry\": [", "", "[1,2]",
					      "{\"a\":1,\"a\":2}" };
	struct webhook_batch batch;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
		assert_int_equal(webhook_parse(bodies[i], strlen(bodies[i]),
					       &batch, err, sizeof(err)),
				 DN_ERR_DECODE);
		webhook_batch_release(&batch);
	}
}

static void test_body_without_entries_reads_nothing(void **state)
{
	static const char body[] = "{\"object\":\"page\",\"entry\":[{\"id\":"
				   "\"1\",\"changes\":[{\"value\":{}}]}]}";
	struct webhook_batch batch;
	char err[256];

	(void)state;
	assert_int_equal(
		webhook_parse(body, strlen(body), &batch, err, sizeof(err)),
		DN_OK);
	assert_int_equal(batch.count, 0);
	assert_int_equal(batch.unreadable, 0);
	webhook_batch_release(&batch);
}

static void test_status_names_follow_the_api(void **state)
{
	(void)state;
	assert_string_equal(webhook_status_name(WEBHOOK_STATUS_SENT), "sent");
	assert_string_equal(webhook_status_name(WEBHOOK_STATUS_READ), "read");
	assert_null(webhook_status_name((enum webhook_status)0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_signature_is_accepted),
		cmocka_unit_test(test_known_hmac_value_matches),
		cmocka_unit_test(test_wrong_or_missing_signature_is_refused),
		cmocka_unit_test(test_body_changed_by_one_byte_is_refused),
		cmocka_unit_test(test_upper_case_hex_signature_is_accepted),
		cmocka_unit_test(
			test_handshake_echoes_challenge_only_with_right_token),
		cmocka_unit_test(test_every_status_kind_is_read),
		cmocka_unit_test(
			test_every_message_kind_of_every_entry_and_change_is_read),
		cmocka_unit_test(test_malformed_json_is_a_decode_error),
		cmocka_unit_test(test_body_without_entries_reads_nothing),
		cmocka_unit_test(test_status_names_follow_the_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
