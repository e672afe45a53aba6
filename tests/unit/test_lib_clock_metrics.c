/* test_lib_clock_metrics.c: the simulated clock agrees across processes
 * given the same settings, and metrics render as Prometheus text. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_simulated_clock_runs_at_its_speed_from_the_anchor(void **s)
{
	int64_t real = clock_real_now_ms();
	int64_t start = 1700000000000LL;
	int64_t now;

	(void)s;
	/* Anchored ten real seconds ago at speed 60: ten minutes later. */
	clock_use_simulated(start, real - 10000, 60);
	now = clock_now_ms();
	assert_true(now >= start + 600000);
	assert_true(now < start + 600000 + 60 * 1000);
	clock_use_real();
}

static void test_real_delay_is_rounded_up_and_never_negative(void **s)
{
	int64_t real = clock_real_now_ms();
	int64_t delay;

	(void)s;
	clock_use_simulated(1700000000000LL, real, 1000);
	/* 1,500 simulated ms at speed 1000 need 2 real ms, never 1. */
	delay = clock_real_delay_ms(clock_now_ms() + 1500);
	assert_true(delay == 2 || delay == 1);
	assert_int_equal(clock_real_delay_ms(clock_now_ms() - 5000), 0);
	assert_int_equal(clock_speed(), 1000);
	clock_use_real();
	assert_int_equal(clock_speed(), 1);
}

static void test_real_clock_matches_wall_time(void **s)
{
	int64_t a, b;

	(void)s;
	clock_use_real();
	a = clock_real_now_ms();
	b = clock_now_ms();
	assert_true(b - a >= 0 && b - a < 1000);
}

static void test_metrics_group_series_under_one_header(void **s)
{
	struct metrics *m = metrics_new();
	char *text;

	(void)s;
	metrics_inc(m, "dunning_reminders_suppressed_total", "suppressed",
		    "reason=\"paid\"", 2);
	metrics_set(m, "dunning_redis_rtt_us", "round trip", NULL, 250);
	metrics_inc(m, "dunning_reminders_suppressed_total", "suppressed",
		    "reason=\"opted_out\"", 1);
	metrics_inc(m, "dunning_reminders_suppressed_total", "suppressed",
		    "reason=\"paid\"", 3);
	text = metrics_render(m, NULL);
	assert_non_null(text);
	assert_string_equal(
		text,
		"# HELP dunning_reminders_suppressed_total suppressed\n"
		"# TYPE dunning_reminders_suppressed_total counter\n"
		"dunning_reminders_suppressed_total{reason=\"paid\"} 5\n"
		"dunning_reminders_suppressed_total{reason=\"opted_out\"} 1\n"
		"# HELP dunning_redis_rtt_us round trip\n"
		"# TYPE dunning_redis_rtt_us gauge\n"
		"dunning_redis_rtt_us 250\n");
	free(text);
	metrics_free(m);
}

static void test_full_registry_returns_null_and_updates_are_harmless(void **s)
{
	struct metrics *m = metrics_new();
	char labels[32];
	int i;

	(void)s;
	for (i = 0; i < METRICS_MAX; i++) {
		snprintf(labels, sizeof(labels), "n=\"%d\"", i);
		assert_non_null(
			metrics_series(m, METRIC_COUNTER, "x", "x", labels));
	}
	assert_null(metrics_series(m, METRIC_COUNTER, "x", "x", "n=\"new\""));
	metric_add(NULL, 1);
	metrics_free(m);
}

static void test_registry_holds_the_lag_of_every_partition_and_more(void **s)
{
	struct metrics *m = metrics_new();
	char labels[64];
	int topic, partition, i;

	(void)s;
	/* A worker reads two topics of up to 1024 partitions and keeps the
	 * lag series of every partition it ever owned; its own counters
	 * must still find room after a day of rebalances. */
	for (topic = 0; topic < 2; topic++)
		for (partition = 0; partition < 1024; partition++) {
			snprintf(labels, sizeof(labels),
				 "topic=\"t%d\",partition=\"%d\"", topic,
				 partition);
			assert_non_null(metrics_series(m, METRIC_GAUGE,
						       "dunning_consumer_lag",
						       "lag", labels));
		}
	for (i = 0; i < 512; i++) {
		snprintf(labels, sizeof(labels), "reason=\"r%d\"", i);
		assert_non_null(metrics_series(m, METRIC_COUNTER,
					       "dunning_reminders_total", "x",
					       labels));
	}
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_simulated_clock_runs_at_its_speed_from_the_anchor),
		cmocka_unit_test(
			test_real_delay_is_rounded_up_and_never_negative),
		cmocka_unit_test(test_real_clock_matches_wall_time),
		cmocka_unit_test(test_metrics_group_series_under_one_header),
		cmocka_unit_test(
			test_full_registry_returns_null_and_updates_are_harmless),
		cmocka_unit_test(
			test_registry_holds_the_lag_of_every_partition_and_more),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
