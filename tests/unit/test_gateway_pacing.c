/* test_gateway_pacing.c: the arithmetic of rates, spacing and back-off. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drives the pacing rules with instants chosen by the test: the token
 * bucket holds the configured rate over ten seconds within its small
 * burst, a throughput error halves it and it recovers, one recipient gets
 * at most one message per spacing, and retry delays double, are capped and
 * stay within their jitter range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../gateway/pacing.h"

/* Sends as fast as allowed from t0 for duration_ms to distinct people. */
static int send_for(struct pacing *p, int64_t t0, int64_t duration_ms)
{
	char who[32];
	int sent = 0;
	int64_t t;

	for (t = t0; t < t0 + duration_ms; t++) {
		for (;;) {
			snprintf(who, sizeof(who), "+3460%07d", sent);
			if (pacing_reserve(p, "PN1", who, t) != 0)
				break;
			sent++;
		}
	}
	return sent;
}

static void test_bucket_holds_the_configured_rate(void **state)
{
	struct pacing *p = pacing_new(80, true, 6000);
	int sent;

	(void)state;
	sent = send_for(p, 1000000, 10000);
	/* 800 in ten seconds plus at most the initial burst of 4. */
	assert_in_range(sent, 800, 804);
	pacing_free(p);
}

static void test_wait_says_when_the_next_token_comes(void **state)
{
	struct pacing *p = pacing_new(100, true, 0);
	int64_t wait;

	(void)state;
	while (pacing_reserve(p, "PN1", "+1", 0) == 0)
		;
	wait = pacing_sender_wait(p, "PN1", 0);
	assert_in_range(wait, 1, 10);
	assert_int_equal(pacing_reserve(p, "PN1", "+1", wait), 0);
	pacing_free(p);
}

static void test_senders_have_separate_buckets(void **state)
{
	struct pacing *p = pacing_new(20, true, 0);

	(void)state;
	assert_int_equal(pacing_reserve(p, "PN1", "+1", 0), 0);
	assert_true(pacing_reserve(p, "PN1", "+2", 0) > 0);
	assert_int_equal(pacing_reserve(p, "PN2", "+3", 0), 0);
	pacing_free(p);
}

static void test_throughput_error_halves_the_rate_then_it_recovers(void **state)
{
	struct pacing *p = pacing_new(80, true, 0);

	(void)state;
	assert_int_equal(pacing_reserve(p, "PN1", "+1", 0), 0);
	pacing_throttled(p, "PN1", 0);
	assert_int_equal(pacing_rate(p, "PN1"), 40);
	pacing_throttled(p, "PN1", 10);
	assert_int_equal(pacing_rate(p, "PN1"), 20);
	pacing_sender_wait(p, "PN1", 10 + 3000);
	assert_int_equal(pacing_rate(p, "PN1"), 44);
	pacing_sender_wait(p, "PN1", 10 + 60000);
	assert_int_equal(pacing_rate(p, "PN1"), 80);
	pacing_free(p);
}

static void test_one_recipient_gets_one_message_per_spacing(void **state)
{
	struct pacing *p = pacing_new(80, false, 6000);

	(void)state;
	assert_int_equal(pacing_reserve(p, "PN1", "+34600000001", 0), 0);
	assert_int_equal(pacing_reserve(p, "PN1", "+34600000001", 1000), 5000);
	assert_int_equal(pacing_reserve(p, "PN1", "+34600000002", 1000), 0);
	assert_int_equal(pacing_reserve(p, "PN1", "+34600000001", 6000), 0);
	pacing_pair_limited(p, "+34600000002", 7000);
	assert_int_equal(pacing_reserve(p, "PN1", "+34600000002", 7000), 6000);
	pacing_free(p);
}

static void test_waiting_for_a_person_spends_no_token(void **state)
{
	struct pacing *p = pacing_new(20, true, 6000);

	(void)state;
	assert_int_equal(pacing_reserve(p, "PN1", "+1", 0), 0);
	assert_true(pacing_reserve(p, "PN1", "+1", 50) > 0);
	assert_int_equal(pacing_reserve(p, "PN1", "+2", 50), 0);
	pacing_free(p);
}

static void test_pacing_off_sends_without_limit(void **state)
{
	struct pacing *p = pacing_new(80, false, 0);
	int i;

	(void)state;
	for (i = 0; i < 10000; i++)
		assert_int_equal(pacing_reserve(p, "PN1", "+1", 0), 0);
	pacing_free(p);
}

static void test_backoff_doubles_is_capped_and_jittered(void **state)
{
	(void)state;
	assert_int_equal(pacing_backoff_ms(1, 500, 60000, 1023), 500);
	assert_int_equal(pacing_backoff_ms(1, 500, 60000, 0), 250);
	assert_int_equal(pacing_backoff_ms(2, 500, 60000, 1023), 1000);
	assert_int_equal(pacing_backoff_ms(4, 500, 60000, 1023), 4000);
	assert_int_equal(pacing_backoff_ms(30, 500, 60000, 1023), 60000);
	assert_int_equal(pacing_backoff_ms(30, 500, 60000, 0), 30000);
	assert_in_range(pacing_backoff_ms(3, 500, 60000, 511), 1000, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_holds_the_configured_rate),
		cmocka_unit_test(test_wait_says_when_the_next_token_comes),
		cmocka_unit_test(test_senders_have_separate_buckets),
		cmocka_unit_test(
			test_throughput_error_halves_the_rate_then_it_recovers),
		cmocka_unit_test(
			test_one_recipient_gets_one_message_per_spacing),
		cmocka_unit_test(test_waiting_for_a_person_spends_no_token),
		cmocka_unit_test(test_pacing_off_sends_without_limit),
		cmocka_unit_test(test_backoff_doubles_is_capped_and_jittered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
