/* test_worker_escalation.c: a month of the default workflow at one
 * simulated day per real second. A customer who never answers gets the
 * due-day alert, three weekly reminders and then the final message with
 * the collector's note, and a collector task with the customer, invoice,
 * amount, reminder history and reason; a customer who replies after the
 * second reminder starts counting again and is not escalated; and a
 * customer whose final message is refused by the frequency cap (tenant
 * "nocons": one message a day, no consolidation) still reaches the
 * collector. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker_harness.h"

#define START "2026-02-27T12:00:00Z"
#define SPEED 86400
/* Due Thursday 5 March: alert 5 March, reminders 9 (the 8th is a
 * Sunday), 16 and 23 March, final 30 March at 10:00 Madrid. */
#define FINAL_AT    "2026-03-30T08:00:00Z"
#define WATCH_UNTIL "2026-04-04T12:00:00Z"

static struct wh_run run;
static struct wh_worker worker;
static struct wh_sends sends;
static Dunning__V1__CollectorTask *task, *capped_task;
static char tenant[64];

static void status_delivered(const char *customer, const char *command_id)
{
	Dunning__V1__MessageEvent e = DUNNING__V1__MESSAGE_EVENT__INIT;
	Dunning__V1__StatusUpdate s = DUNNING__V1__STATUS_UPDATE__INIT;
	char id[300];

	snprintf(id, sizeof(id), "wamid.%s/delivered", customer);
	s.status = DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_DELIVERED;
	s.origin = "webhook";
	e.event_id = id;
	e.tenant = tenant;
	e.customer_id = (char *)customer;
	e.command_id = (char *)command_id;
	e.wa_message_id = id;
	e.wa_id = "34600111222";
	e.body_case = DUNNING__V1__MESSAGE_EVENT__BODY_STATUS;
	e.status = &s;
	wh_send(&run, "DUNNING_TOPIC_WHATSAPP_EVENTS", tenant, customer,
		&e.base);
	wh_flush(&run);
}

/* Watches whatsapp.send until WATCH_UNTIL, answering for "c-replies"
 * after its second reminder and reporting the first delivery. */
static void watch(void)
{
	struct wh_reader reader;
	int64_t until = clock_real_now_ms() + wh_real_until(WATCH_UNTIL);
	int replied = 0, delivered = 0;

	wh_reader_open(&run, &reader, "DUNNING_TOPIC_WHATSAPP_SEND");
	while (clock_real_now_ms() < until) {
		wh_collect(&reader, tenant, &sends, 0, 100);
		if (!delivered && wh_first_for(&sends, "c-silent")) {
			status_delivered(
				"c-silent",
				wh_first_for(&sends, "c-silent")->command_id);
			delivered = 1;
		}
		if (!replied && wh_count_for(&sends, "c-replies") >= 3) {
			wh_reply(&run, tenant, "c-replies", "wamid.r1",
				 "Pagaré la setmana que ve");
			wh_flush(&run);
			replied = 1;
		}
	}
	wh_reader_close(&reader);
}

static void read_task(void)
{
	struct wh_reader reader;
	int64_t until = clock_real_now_ms() + 8000;

	wh_reader_open(&run, &reader, "DUNNING_TOPIC_COLLECTIONS_TASKS");
	while ((!task || !capped_task) && clock_real_now_ms() < until) {
		rd_kafka_message_t *m =
			kafka_consumer_poll(reader.consumer, 100);
		Dunning__V1__CollectorTask *t;
		const uint8_t *data;
		size_t len;

		if (!m)
			continue;
		data = kafka_message_payload(m, &len);
		t = dunning__v1__collector_task__unpack(NULL, len, data);
		kafka_message_free(m);
		if (t && !task && strcmp(t->tenant, tenant) == 0)
			task = t;
		else if (t && !capped_task &&
			 strcmp(t->tenant, "nocons") == 0 &&
			 strcmp(t->customer_id, "c-capped") == 0)
			capped_task = t;
		else if (t)
			dunning__v1__collector_task__free_unpacked(t, NULL);
	}
	wh_reader_close(&reader);
}

static int setup(void **state)
{
	static const char *const customers[] = { "c-silent", "c-replies" };
	size_t i;

	(void)state;
	testenv_unique("we", tenant, sizeof(tenant));
	wh_run_init(&run, START, SPEED, 2, 5000);
	for (i = 0; i < 2; i++) {
		wh_customer(&run, tenant, customers[i], "Europe/Madrid",
			    "ca-ES",
			    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN);
		wh_invoice(&run, tenant, customers[i], "F-100", 1, 2026, 3, 5,
			   123456);
	}
	/* On Monday 30 March Z-1's final step and A-1's first reminder
	 * (due Friday 27 March) fall due together: A-1 goes first and the
	 * cap of one message a day refuses Z-1's final message. */
	wh_customer(&run, "nocons", "c-capped", "Europe/Madrid", "ca-ES",
		    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN);
	wh_invoice(&run, "nocons", "c-capped", "Z-1", 1, 2026, 3, 5, 5000);
	wh_invoice(&run, "nocons", "c-capped", "A-1", 1, 2026, 3, 27, 7000);
	wh_flush(&run);
	wh_worker_start(&run, &worker);
	watch();
	read_task();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	wh_worker_stop(&worker, SIGTERM);
	wh_sends_release(&sends);
	if (task)
		dunning__v1__collector_task__free_unpacked(task, NULL);
	if (capped_task)
		dunning__v1__collector_task__free_unpacked(capped_task, NULL);
	wh_run_release(&run);
	return 0;
}

/* The steps sent to customer, in order, joined by spaces. */
static void steps_of(const char *customer, char *out, size_t len)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < sends.n && used < len; i++)
		if (strcmp(sends.cmd[i]->customer_id, customer) == 0)
			used += (size_t)snprintf(out + used, len - used, "%s%s",
						 used ? " " : "",
						 sends.cmd[i]->step);
}

static void test_three_unanswered_reminders_escalate(void **state)
{
	const Dunning__V1__SendCommand *final = NULL;
	char steps[256];
	size_t i;

	(void)state;
	steps_of("c-silent", steps, sizeof(steps));
	assert_string_equal(steps, "due reminder reminder reminder final");
	for (i = 0; i < sends.n; i++)
		if (strcmp(sends.cmd[i]->step, "final") == 0)
			final = sends.cmd[i];
	assert_non_null(final);
	assert_string_equal(final->template_name, "payment_final");
	assert_int_equal(final->n_parameters, 6);
	assert_non_null(strstr(final->parameters[5]->text, "Marta Puig"));
	assert_true(final->created_at_ms >= wh_instant(FINAL_AT));
	assert_true(wh_stat(&run, "escalations") >= 1);
}

static void test_collector_task_carries_the_whole_story(void **state)
{
	(void)state;
	assert_non_null(task);
	assert_string_equal(task->customer_id, "c-silent");
	assert_string_equal(task->collector, "Marta Puig");
	assert_non_null(strstr(task->reason, "3 reminders unanswered"));
	assert_int_equal(task->n_invoices, 1);
	assert_string_equal(task->invoices[0]->invoice_id, "F-100");
	assert_int_equal(task->invoices[0]->outstanding->minor_units, 123456);
	assert_true(task->invoices[0]->days_overdue >= 25);
	assert_true(task->n_history >= 4);
	/* The delivery reported for the first message is in the history. */
	assert_int_equal(
		task->history[0]->last_status,
		DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_DELIVERED);
	assert_true(wh_stat(&run, "delivered") >= 1);
}

static void test_reply_resets_the_unanswered_count(void **state)
{
	char steps[256];

	(void)state;
	steps_of("c-replies", steps, sizeof(steps));
	/* Reminders go on after the reply, but no final message yet. */
	assert_string_equal(steps, "due reminder reminder reminder reminder");
	assert_true(wh_stat(&run, "replied") >= 1);
}

static void test_command_ids_are_unique_per_reminder(void **state)
{
	size_t i, k;

	(void)state;
	assert_true(sends.n >= 10);
	for (i = 0; i < sends.n; i++)
		for (k = i + 1; k < sends.n; k++)
			assert_string_not_equal(sends.cmd[i]->command_id,
						sends.cmd[k]->command_id);
}

static void
test_final_refused_by_the_cap_still_reaches_the_collector(void **state)
{
	(void)state;
	assert_non_null(capped_task);
	assert_string_equal(capped_task->collector, "Marta Puig");
	assert_int_equal(capped_task->n_invoices, 1);
	assert_string_equal(capped_task->invoices[0]->invoice_id, "Z-1");
	assert_non_null(strstr(capped_task->reason, "3 reminders unanswered"));
	assert_true(wh_stat(&run, "suppressed:frequency_cap") >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_unanswered_reminders_escalate),
		cmocka_unit_test(test_collector_task_carries_the_whole_story),
		cmocka_unit_test(test_reply_resets_the_unanswered_count),
		cmocka_unit_test(test_command_ids_are_unique_per_reminder),
		cmocka_unit_test(
			test_final_refused_by_the_cap_still_reaches_the_collector),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
