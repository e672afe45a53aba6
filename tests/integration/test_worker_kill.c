/* test_worker_kill.c: two workers share the partitions; one is killed
 * with SIGKILL while reminders are falling due around the world. Its
 * partitions and the entries it had claimed move to the other worker,
 * every reminder is still emitted, and no reminder is emitted under two
 * different command ids. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker_harness.h"

/* Half a simulated hour per real second. The due-day alert is at 10:00
 * local on Wednesday 4 March: from 21:00 UTC on the 3rd (Auckland) to
 * 20:00 UTC on the 4th (Honolulu); a command may leave up to 12 hours
 * late (24 real seconds), more than a failover takes. */
#define START	 "2026-03-03T18:00:00Z"
#define SPEED	 1800
#define LAST_AT	 "2026-03-04T20:00:00Z"
#define PER_ZONE 10

static const char *const zones[] = {
	"Pacific/Auckland",    "Australia/Sydney",
	"Asia/Tokyo",	       "Asia/Kolkata",
	"Asia/Dubai",	       "Europe/Helsinki",
	"Europe/Madrid",       "UTC",
	"America/Sao_Paulo",   "America/New_York",
	"America/Los_Angeles", "Pacific/Honolulu",
};
#define ZONES (sizeof(zones) / sizeof(*zones))

static char tenant[64];

static void customer_name(size_t zone, size_t n, char *out, size_t len)
{
	snprintf(out, len, "k-%zu-%zu", zone, n);
}

static void produce_customers(struct wh_run *run)
{
	char customer[32];
	size_t z, n;

	for (z = 0; z < ZONES; z++)
		for (n = 0; n < PER_ZONE; n++) {
			customer_name(z, n, customer, sizeof(customer));
			wh_customer(
				run, tenant, customer, zones[z], "en-US",
				DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN);
			wh_invoice(run, tenant, customer, "INV-1", 1, 2026, 3,
				   4, 9900);
		}
	wh_flush(run);
}

/* Customers of sends that got at least one command. */
static size_t customers_reached(const struct wh_sends *s)
{
	char customer[32];
	size_t z, n, reached = 0;

	for (z = 0; z < ZONES; z++)
		for (n = 0; n < PER_ZONE; n++) {
			customer_name(z, n, customer, sizeof(customer));
			reached += wh_count_for(s, customer) > 0;
		}
	return reached;
}

static void test_killed_worker_loses_no_reminder_and_none_twice(void **state)
{
	struct wh_worker a, b;
	struct wh_sends *sends = calloc(1, sizeof(*sends));
	struct wh_reader reader;
	struct wh_run run;
	size_t i, k, duplicates = 0, before_kill;
	int64_t until;

	(void)state;
	assert_non_null(sends);
	testenv_unique("wk", tenant, sizeof(tenant));
	wh_run_init(&run, START, SPEED, 7, 2000);
	wh_worker_start(&run, &a);
	wh_worker_start(&run, &b);
	produce_customers(&run);
	until = clock_real_now_ms() + wh_real_until("2026-03-04T06:00:00Z");

	/* Kill one mid-run: both own partitions, some reminders are out. */
	wh_reader_open(&run, &reader, "DUNNING_TOPIC_WHATSAPP_SEND");
	while (sends->n < 10 && clock_real_now_ms() < until)
		wh_collect(&reader, tenant, sends, 10, 200);
	while ((wh_metric(&a, "dunning_worker_partitions_owned") != 3 ||
		wh_metric(&b, "dunning_worker_partitions_owned") != 3) &&
	       clock_real_now_ms() < until)
		wh_collect(&reader, tenant, sends, 0, 200);
	before_kill = sends->n;
	wh_worker_stop(&a, SIGKILL);
	wh_collect(&reader, tenant, sends, 0, wh_real_until(LAST_AT) + 20000);
	wh_reader_close(&reader);
	wh_worker_stop(&b, SIGTERM);

	/* Some reminders went out before the kill, and the rest after it. */
	assert_true(before_kill > 0);
	assert_true(before_kill < ZONES * PER_ZONE);
	assert_int_equal(customers_reached(sends), ZONES * PER_ZONE);

	/* One reminder, one id: a repeat carries the same id, which the
	 * gateway drops; two different ids would be two messages. */
	for (i = 0; i < sends->n; i++)
		for (k = i + 1; k < sends->n; k++) {
			const Dunning__V1__SendCommand *x = sends->cmd[i];
			const Dunning__V1__SendCommand *y = sends->cmd[k];

			if (strcmp(x->customer_id, y->customer_id) != 0 ||
			    strcmp(x->step, y->step) != 0)
				continue;
			assert_string_equal(x->command_id, y->command_id);
			duplicates++;
		}
	print_message("# %zu commands, %zu repeated ids, %zu before the kill\n",
		      sends->n, duplicates, before_kill);
	wh_sends_release(sends);
	free(sends);
	wh_run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_killed_worker_loses_no_reminder_and_none_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
