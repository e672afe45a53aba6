/* test_lib_shard.c: worker keys and packed invoice records read the same
 * in the worker and the gateway. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "shard.h"

/* The record of docs/redis-keys.md, as apply.lua writes it. */
#define DOC_RECORD                                                             \
	"o|3|2|20260315|50000|EUR|0|1|0|1.1772442800000,1.1773050000000"

static int parse(const char *text, struct shard_invoice_record *out)
{
	memset(out, 0x5a, sizeof(*out));
	return shard_record_parse(text, strlen(text), out);
}

static void test_keys_carry_the_partition_hash_tag(void **state)
{
	char key[64];

	(void)state;
	assert_int_equal(shard_key(key, sizeof(key), 7, "q"), DN_OK);
	assert_string_equal(key, "dn:{p7}:q");
	assert_int_equal(shard_key(key, sizeof(key), 0, "lease"), DN_OK);
	assert_string_equal(key, "dn:{p0}:lease");
	assert_int_equal(
		shard_customer_key(key, sizeof(key), 12, "acme", "cust-1"),
		DN_OK);
	assert_string_equal(key, "dn:{p12}:c:acme/cust-1");
}

static void test_joined_customer_key_names_the_same_hash(void **state)
{
	char split[64], joined[64];

	(void)state;
	assert_int_equal(shard_customer_key(split, sizeof(split), 3, "t", "c9"),
			 DN_OK);
	assert_int_equal(
		shard_customer_key_joined(joined, sizeof(joined), 3, "t/c9"),
		DN_OK);
	assert_string_equal(split, joined);
}

static void test_key_that_does_not_fit_is_refused(void **state)
{
	char key[16];

	(void)state;
	/* "dn:{p1}:c:ab/cd" is 15 bytes: fits exactly with its NUL. */
	assert_int_equal(shard_customer_key(key, sizeof(key), 1, "ab", "cd"),
			 DN_OK);
	assert_int_equal(shard_customer_key(key, sizeof(key), 1, "ab", "cde"),
			 DN_ERR_TOO_LARGE);
	assert_int_equal(
		shard_customer_key_joined(key, sizeof(key), 1, "ab/cde"),
		DN_ERR_TOO_LARGE);
	assert_int_equal(shard_key(key, sizeof(key), 123456, "stats"),
			 DN_ERR_TOO_LARGE);
	assert_int_equal(shard_invoice_field(key, 4, "abc"), DN_ERR_TOO_LARGE);
}

static void test_invoice_field_round_trips(void **state)
{
	char field[32];
	const char *id = NULL;
	size_t id_len = 0;

	(void)state;
	assert_int_equal(shard_invoice_field(field, sizeof(field), "INV-42"),
			 DN_OK);
	assert_string_equal(field, "i:INV-42");
	assert_true(shard_invoice_field_id(field, strlen(field), &id, &id_len));
	assert_int_equal(id_len, 6);
	assert_memory_equal(id, "INV-42", 6);
}

static void test_other_fields_are_not_invoices(void **state)
{
	const char *id = NULL;
	size_t id_len = 0;

	(void)state;
	assert_false(shard_invoice_field_id("m:INV-42", 8, &id, &id_len));
	assert_false(shard_invoice_field_id("h:INV-42", 8, &id, &id_len));
	assert_false(shard_invoice_field_id("i:", 2, &id, &id_len));
	assert_false(shard_invoice_field_id("oi", 2, &id, &id_len));
	assert_false(
		shard_invoice_field_id(SHARD_FIELD_OPT_IN, 2, &id, &id_len));
	assert_null(id);
}

static void test_documented_record_reads_field_by_field(void **state)
{
	struct shard_invoice_record r;

	(void)state;
	assert_int_equal(parse(DOC_RECORD, &r), DN_OK);
	assert_int_equal(r.status, SHARD_OPEN);
	assert_string_equal(r.version, "3");
	assert_string_equal(r.schedule_version, "2");
	assert_int_equal(r.due, 20260315);
	assert_int_equal(r.amount_minor, 50000);
	assert_string_equal(r.currency, "EUR");
	assert_int_equal(r.paid_minor, 0);
	assert_int_equal(r.unanswered, 1);
	assert_false(r.escalated);
	assert_string_equal(r.steps, "1.1772442800000,1.1773050000000");
}

static void test_paid_escalated_record_without_steps(void **state)
{
	struct shard_invoice_record r;

	(void)state;
	assert_int_equal(parse("p|9|4|0|1999|JPY|1999|0|1", &r), DN_OK);
	assert_int_equal(r.status, SHARD_PAID);
	assert_int_equal(r.due, 0);
	assert_int_equal(r.amount_minor, 1999);
	assert_int_equal(r.paid_minor, 1999);
	assert_string_equal(r.currency, "JPY");
	assert_true(r.escalated);
	assert_string_equal(r.steps, "");
}

static void test_record_is_read_only_up_to_its_length(void **state)
{
	const char text[] = "c|1|1|20260101|700|USD|0|0|0|IGNORED";
	struct shard_invoice_record r;

	(void)state;
	/* Redis replies are counted strings: stop before "|IGNORED". */
	assert_int_equal(shard_record_parse(text, strlen(text) - 8, &r), DN_OK);
	assert_int_equal(r.status, SHARD_CANCELLED);
	assert_string_equal(r.steps, "");
}

static void test_malformed_records_are_refused(void **state)
{
	struct shard_invoice_record r;

	(void)state;
	assert_int_equal(parse("", &r), DN_ERR_DECODE);
	assert_int_equal(parse("o", &r), DN_ERR_DECODE);
	assert_int_equal(parse("p|1|1|20260101", &r), DN_ERR_DECODE);
	assert_int_equal(parse("o|1|1|20260101|500|EUR|0|0", &r),
			 DN_ERR_DECODE);
	assert_int_equal(parse("op|1|1|20260101|500|EUR|0|0|0|", &r),
			 DN_ERR_DECODE);
	assert_int_equal(parse("|1|1|20260101|500|EUR|0|0|0|", &r),
			 DN_ERR_DECODE);
}

static void test_oversized_record_is_refused(void **state)
{
	char text[SHARD_RECORD_MAX + 1];
	struct shard_invoice_record r;
	size_t n = strlen(DOC_RECORD);
	size_t before_steps = strlen("o|3|2|20260315|50000|EUR|0|1|0|");

	(void)state;
	memset(text, '1', sizeof(text));
	memcpy(text, DOC_RECORD, n);
	assert_int_equal(shard_record_parse(text, SHARD_RECORD_MAX - 1, &r),
			 DN_OK);
	assert_int_equal(strlen(r.steps), SHARD_RECORD_MAX - 1 - before_steps);
	assert_int_equal(shard_record_parse(text, SHARD_RECORD_MAX, &r),
			 DN_ERR_TOO_LARGE);
	assert_int_equal(shard_record_parse(text, sizeof(text), &r),
			 DN_ERR_TOO_LARGE);
}

static void test_long_text_fields_are_cut_to_their_buffer(void **state)
{
	struct shard_invoice_record r;

	(void)state;
	assert_int_equal(
		parse("o|123456789012345678901234567890|1|0|1|EURO|0|0|0", &r),
		DN_OK);
	assert_string_equal(r.version, "12345678901234567890123");
	assert_string_equal(r.currency, "EUR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_carry_the_partition_hash_tag),
		cmocka_unit_test(test_joined_customer_key_names_the_same_hash),
		cmocka_unit_test(test_key_that_does_not_fit_is_refused),
		cmocka_unit_test(test_invoice_field_round_trips),
		cmocka_unit_test(test_other_fields_are_not_invoices),
		cmocka_unit_test(test_documented_record_reads_field_by_field),
		cmocka_unit_test(test_paid_escalated_record_without_steps),
		cmocka_unit_test(test_record_is_read_only_up_to_its_length),
		cmocka_unit_test(test_malformed_records_are_refused),
		cmocka_unit_test(test_oversized_record_is_refused),
		cmocka_unit_test(test_long_text_fields_are_cut_to_their_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
