/* test_worker_takeover.c: a worker that gets partitions reads their
 * backlog of events to the end before it fires any of their reminders, so
 * a payment still waiting in the backlog stops a reminder whose time came
 * while no worker ran. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker_harness.h"

/* At speed 60 the 10:00 Madrid notice (09:00 UTC) falls due 20 real
 * seconds after the start. */
#define START	  "2026-03-02T08:40:00Z"
#define NOTICE_AT "2026-03-02T09:00:00Z"
#define SPEED	  60
#define FILLER	  60000 /* events queued ahead of the payment */

static char tenant[64];

static void opted_in(struct wh_run *run, const char *customer)
{
	wh_customer(run, tenant, customer, "Europe/Madrid", "es-ES",
		    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN);
}

/* Waits until the invoice is planned (queued at its notice). */
static void wait_planned(struct wh_run *run, const char *customer,
			 const char *invoice)
{
	int64_t until = clock_real_now_ms() + 20000;

	while (wh_queue_score(run, tenant, customer, invoice) !=
	       wh_instant(NOTICE_AT)) {
		if (clock_real_now_ms() > until)
			fail_msg("invoice %s was not planned", invoice);
		wh_sleep_ms(50);
	}
}

static void test_backlog_is_applied_before_its_partition_fires(void **state)
{
	struct wh_sends sends = { 0 };
	struct wh_reader reader;
	struct wh_worker worker;
	struct wh_run run;
	char customer[32];

	(void)state;
	testenv_unique("wt", tenant, sizeof(tenant));
	wh_run_init(&run, START, SPEED, 6, 5000);

	/* A first worker plans both notices, then stops before they fall
	 * due. */
	opted_in(&run, "c-paid");
	wh_invoice(&run, tenant, "c-paid", "P1", 1, 2026, 3, 9, 50000);
	opted_in(&run, "c-open");
	wh_invoice(&run, tenant, "c-open", "O1", 1, 2026, 3, 9, 50000);
	wh_flush(&run);
	wh_worker_start(&run, &worker);
	wait_planned(&run, "c-paid", "P1");
	wait_planned(&run, "c-open", "O1");
	wh_worker_stop(&worker, SIGTERM);

	/* With no worker running, a backlog builds up with the payment
	 * last, and the notices fall due. */
	for (int i = 0; i < FILLER; i++) {
		snprintf(customer, sizeof(customer), "filler-%d", i);
		opted_in(&run, customer);
	}
	wh_payment(&run, tenant, "c-paid", "P1", "P1/1", 50000);
	wh_flush(&run);
	wh_sleep_ms(wh_real_until(NOTICE_AT) + 1000);

	/* The next worker, applying one event per call so that the backlog
	 * takes seconds, sends the open invoice's notice, not the paid
	 * one's. */
	setenv("DUNNING_WORKER_APPLY_BATCH", "1", 1);
	wh_worker_start(&run, &worker);
	unsetenv("DUNNING_WORKER_APPLY_BATCH");
	wh_reader_open(&run, &reader, "DUNNING_TOPIC_WHATSAPP_SEND");
	wh_collect(&reader, tenant, &sends, 1, 60000);
	wh_collect(&reader, tenant, &sends, 0, 2000);
	wh_reader_close(&reader);
	wh_worker_stop(&worker, SIGTERM);

	assert_int_equal(wh_count_for(&sends, "c-open"), 1);
	assert_int_equal(wh_count_for(&sends, "c-paid"), 0);
	assert_int_equal(wh_queue_score(&run, tenant, "c-paid", "P1"), -1);
	wh_sends_release(&sends);
	wh_run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_backlog_is_applied_before_its_partition_fires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
