/* test_worker_flow.c: one worker, the default workflow and a simulated
 * Monday morning in Madrid: what reaches whatsapp.send when the 10:00
 * notice falls due, after payments, disputes, cancellations, updates,
 * partial payments, opt-out keywords, several invoices of one customer,
 * a frequency cap and an undecodable message on the way. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker_harness.h"

/* 08:55 UTC is 09:55 in Madrid; the notice of an invoice due on 9 March
 * is planned for 10:00 local on 2 March, 5 real seconds after start. */
#define START	  "2026-03-02T08:55:00Z"
#define NOTICE_AT "2026-03-02T09:00:00Z"
#define SPEED	  60

static struct wh_run run;
static struct wh_worker worker;
static struct wh_sends sends;
static char tenant[64];

static void due_mar9(const char *customer, const char *invoice)
{
	wh_invoice(&run, tenant, customer, invoice, 1, 2026, 3, 9, 50000);
}

static void opted_in(const char *customer)
{
	wh_customer(&run, tenant, customer, "Europe/Madrid", "ca-ES",
		    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN);
}

static void produce_garbage(void)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x07, 0x01 };
	char key[128], err[256];

	snprintf(key, sizeof(key), "%s/c-control", tenant);
	if (kafka_producer_send(
		    run.producer,
		    config_str(run.cfg, "DUNNING_TOPIC_INVOICE_EVENTS"), key,
		    strlen(key), junk, sizeof(junk), NULL, err, sizeof(err)))
		fail_msg("produce: %s", err);
}

static void produce_scenarios(void)
{
	static const char *const stoppers[][2] = {
		{ "c-stop", "STOP" },
		{ "c-prou", "Prou!" },
		{ "c-arret", "Arrêt" },
		{ "c-baja", "baja" },
	};
	size_t i;

	produce_garbage();
	opted_in("c-control");
	due_mar9("c-control", "K1");
	opted_in("c-paid");
	due_mar9("c-paid", "P1");
	wh_payment(&run, tenant, "c-paid", "P1", "P1/settled", 50000);
	opted_in("c-disp");
	due_mar9("c-disp", "D1");
	wh_close(&run, tenant, "c-disp", "D1", 1);
	opted_in("c-canc");
	due_mar9("c-canc", "X1");
	wh_close(&run, tenant, "c-canc", "X1", 0);
	opted_in("c-part");
	due_mar9("c-part", "Q1");
	wh_payment(&run, tenant, "c-part", "Q1", "Q1/partial/1", 20000);
	wh_payment(&run, tenant, "c-part", "Q1", "Q1/partial/1", 20000);
	opted_in("c-upd");
	due_mar9("c-upd", "U1");
	wh_invoice(&run, tenant, "c-upd", "U1", 2, 2026, 3, 20, 50000);
	wh_invoice(&run, tenant, "c-upd", "U1", 1, 2026, 3, 9, 50000);
	opted_in("c-cons");
	due_mar9("c-cons", "C3");
	due_mar9("c-cons", "C1");
	due_mar9("c-cons", "C2");
	wh_customer(&run, tenant, "c-noopt", "Europe/Madrid", "es-ES",
		    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_UNSPECIFIED);
	due_mar9("c-noopt", "O1");
	for (i = 0; i < sizeof(stoppers) / sizeof(*stoppers); i++) {
		char id[128];

		opted_in(stoppers[i][0]);
		due_mar9(stoppers[i][0], "S1");
		snprintf(id, sizeof(id), "wamid.%s.%zu", tenant, i);
		wh_reply(&run, tenant, stoppers[i][0], id, stoppers[i][1]);
	}
	opted_in("c-button");
	due_mar9("c-button", "S1");
	wh_button(&run, tenant, "c-button", "wamid.button", "stop");
	opted_in("c-late");
	due_mar9("c-late", "L1");
	due_mar9("c-late", "L2");
	/* Due Thursday 26 February: its notice and due-day alert passed
	 * before any worker ran; its first reminder is Monday at 10:00. */
	opted_in("c-stale");
	wh_invoice(&run, tenant, "c-stale", "Z1", 1, 2026, 2, 26, 50000);
	opted_in("c-chat");
	due_mar9("c-chat", "T1");
	wh_reply(&run, tenant, "c-chat", "wamid.chat", "D'acord, gràcies");

	/* Tenant "nocons": one message per invoice, one a day at most. */
	wh_customer(&run, "nocons", "n-cap", "Europe/Madrid", "en-GB",
		    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN);
	wh_invoice(&run, "nocons", "n-cap", "N1", 1, 2026, 3, 9, 1000);
	wh_invoice(&run, "nocons", "n-cap", "N2", 1, 2026, 3, 9, 2000);
	wh_flush(&run);
}

static int setup(void **state)
{
	struct wh_reader reader;

	(void)state;
	testenv_unique("wf", tenant, sizeof(tenant));
	wh_run_init(&run, START, SPEED, 1, 5000);
	produce_scenarios();
	wh_worker_start(&run, &worker);

	/* Reminders due: control, partial, consolidated, chat and one of
	 * "nocons"; then wait a little more so that anything sent by
	 * mistake shows up too. */
	wh_reader_open(&run, &reader, "DUNNING_TOPIC_WHATSAPP_SEND");
	wh_collect(&reader, NULL, &sends, 6, wh_real_until(NOTICE_AT) + 15000);
	wh_collect(&reader, NULL, &sends, 0, 2000);
	wh_reader_close(&reader);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	wh_worker_stop(&worker, SIGTERM);
	wh_sends_release(&sends);
	wh_run_release(&run);
	return 0;
}

static const char *param(const Dunning__V1__SendCommand *cmd, size_t i)
{
	assert_true(cmd->n_parameters > i);
	return cmd->parameters[i]->text;
}

static void test_open_invoice_gets_localised_notice_at_ten(void **state)
{
	const Dunning__V1__SendCommand *cmd = wh_first_for(&sends, "c-control");

	(void)state;
	assert_non_null(cmd);
	assert_int_equal(wh_count_for(&sends, "c-control"), 1);
	assert_string_equal(cmd->step, "notice");
	assert_string_equal(cmd->template_name, "payment_notice");
	assert_string_equal(cmd->language, "ca");
	assert_int_equal(cmd->n_parameters, 5);
	assert_string_equal(param(cmd, 0), "Joan Garcia");
	assert_string_equal(param(cmd, 1), "K1");
	assert_string_equal(param(cmd, 2), "500,00\xc2\xa0\xe2\x82\xac");
	assert_string_equal(param(cmd, 3), "9 de març");
	assert_non_null(strstr(param(cmd, 4), "https://pay.example/i"));
	assert_true(cmd->created_at_ms >= wh_instant(NOTICE_AT));
	assert_true(cmd->deadline_ms > cmd->created_at_ms);
	assert_true(strlen(cmd->command_id) > 0 &&
		    strlen(cmd->command_id) <= 200);
}

static void test_metrics_list_every_step_and_reason_from_the_start(void **state)
{
	(void)state;
	/* Present, even where nothing happened yet (no final was sent). */
	assert_int_equal(wh_metric(&worker,
				   "dunning_worker_reminders_emitted_total"
				   "{step=\"final\"}"),
			 0);
	assert_true(wh_metric(&worker,
			      "dunning_worker_reminders_suppressed_total"
			      "{reason=\"frequency_cap\"}") >= 0);
	assert_true(wh_metric(&worker,
			      "dunning_worker_reminders_suppressed_total"
			      "{reason=\"escalated\"}") >= 0);
	/* Postponing is not suppressing. */
	assert_int_equal(wh_metric(&worker,
				   "dunning_worker_reminders_suppressed_total"
				   "{reason=\"too_early\"}"),
			 -1);
}

static void test_paid_invoice_is_never_reminded(void **state)
{
	(void)state;
	assert_int_equal(wh_count_for(&sends, "c-paid"), 0);
	assert_true(wh_stat(&run, "invoices_paid") >= 1);
	assert_int_equal(wh_stat(&run, "sent_after_paid"), 0);
}

static void test_dispute_and_cancellation_remove_the_reminder(void **state)
{
	(void)state;
	assert_int_equal(wh_count_for(&sends, "c-disp"), 0);
	assert_int_equal(wh_count_for(&sends, "c-canc"), 0);
	assert_int_equal(wh_queue_score(&run, tenant, "c-disp", "D1"), -1);
	assert_int_equal(wh_queue_score(&run, tenant, "c-canc", "X1"), -1);
}

static void test_partial_payment_keeps_reminder_with_remainder(void **state)
{
	const Dunning__V1__SendCommand *cmd = wh_first_for(&sends, "c-part");
	const Dunning__V1__TemplateParameter *amount;

	(void)state;
	assert_non_null(cmd);
	assert_int_equal(wh_count_for(&sends, "c-part"), 1);
	amount = cmd->parameters[2];
	assert_int_equal(amount->value_case,
			 DUNNING__V1__TEMPLATE_PARAMETER__VALUE_MONEY);
	/* The same partial payment delivered twice counts once. */
	assert_int_equal(amount->money->minor_units, 30000);
	assert_string_equal(amount->text, "300,00\xc2\xa0\xe2\x82\xac");
}

static void test_update_reschedules_to_the_new_due_date(void **state)
{
	(void)state;
	assert_int_equal(wh_count_for(&sends, "c-upd"), 0);
	/* Notice of the new due date, 20 March: 13 March 10:00 Madrid. */
	assert_int_equal(wh_queue_score(&run, tenant, "c-upd", "U1"),
			 wh_instant("2026-03-13T09:00:00Z"));
}

static void test_same_day_invoices_are_consolidated(void **state)
{
	const Dunning__V1__SendCommand *cmd = wh_first_for(&sends, "c-cons");

	(void)state;
	assert_non_null(cmd);
	assert_int_equal(wh_count_for(&sends, "c-cons"), 1);
	assert_int_equal(cmd->n_invoice_ids, 3);
	assert_string_equal(param(cmd, 1), "C1, C2, C3");
	assert_int_equal(cmd->parameters[2]->money->minor_units, 150000);
}

static void test_opt_out_keywords_stop_every_reminder(void **state)
{
	static const char *const customers[] = { "c-stop", "c-prou", "c-arret",
						 "c-baja", "c-button" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(customers) / sizeof(*customers); i++) {
		assert_int_equal(wh_count_for(&sends, customers[i]), 0);
		assert_int_equal(
			wh_queue_score(&run, tenant, customers[i], "S1"), -1);
	}
	assert_true(wh_stat(&run, "opted_out") >= 5);
	/* An ordinary reply is no opt-out. */
	assert_int_equal(wh_count_for(&sends, "c-chat"), 1);
	assert_true(wh_stat(&run, "replied") >= 6);
}

static void test_customer_without_opt_in_is_suppressed(void **state)
{
	(void)state;
	assert_int_equal(wh_count_for(&sends, "c-noopt"), 0);
	assert_true(wh_stat(&run, "suppressed:no_opt_in") >= 1);
}

static void test_frequency_cap_holds_across_invoices(void **state)
{
	const Dunning__V1__SendCommand *cmd = wh_first_for(&sends, "n-cap");

	(void)state;
	assert_non_null(cmd);
	assert_int_equal(wh_count_for(&sends, "n-cap"), 1);
	assert_int_equal(cmd->n_invoice_ids, 1);
	assert_true(wh_stat(&run, "suppressed:frequency_cap") >= 1);
}

static void test_undecodable_message_is_dead_lettered(void **state)
{
	struct wh_reader reader;
	int64_t until = clock_real_now_ms() + 5000;
	int found = 0;

	(void)state;
	wh_reader_open(&run, &reader, "DUNNING_TOPIC_DEADLETTER");
	while (!found && clock_real_now_ms() < until) {
		rd_kafka_message_t *m =
			kafka_consumer_poll(reader.consumer, 100);
		Dunning__V1__DeadLetter *d;
		const uint8_t *data;
		size_t len;

		if (!m)
			continue;
		data = kafka_message_payload(m, &len);
		d = dunning__v1__dead_letter__unpack(NULL, len, data);
		kafka_message_free(m);
		if (d && strcmp(d->component, "worker") == 0 &&
		    d->payload.len == 5 && d->payload.data[0] == 0xff) {
			assert_non_null(strstr(d->reason, "decode"));
			found = 1;
		}
		if (d)
			dunning__v1__dead_letter__free_unpacked(d, NULL);
	}
	wh_reader_close(&reader);
	assert_true(found);
	/* The consumer went on: the next message was applied and sent. */
	assert_int_equal(wh_count_for(&sends, "c-control"), 1);
}

/* The history lines of invoice of customer (caller frees), or NULL. */
static char *invoice_history(const char *customer, const char *invoice)
{
	int p, parts = (int)config_int(run.cfg, "DUNNING_KAFKA_PARTITIONS");
	char *text = NULL;

	for (p = 0; p < parts && !text; p++) {
		char key[256], field[128];
		const char *argv[3] = { "HGET", key, field };
		redisReply *r;

		snprintf(key, sizeof(key), "dn:{p%d}:c:%s/%s", p, tenant,
			 customer);
		snprintf(field, sizeof(field), "h:%s", invoice);
		r = store_command(run.redis, 3, argv, NULL);
		if (r && r->type == REDIS_REPLY_STRING)
			text = strdup(r->str);
		store_reply_free(r);
	}
	return text;
}

static void
test_due_alert_missed_before_any_worker_ran_is_recorded(void **state)
{
	char *history = invoice_history("c-stale", "Z1");

	(void)state;
	assert_non_null(history);
	assert_non_null(strstr(history, "suppressed expired notice"));
	assert_non_null(strstr(history, "suppressed expired due"));
	/* Recorded once each, and the reminders go on. */
	assert_null(strstr(strstr(history, "suppressed expired due") + 1,
			   "suppressed expired due"));
	assert_true(wh_stat(&run, "suppressed:expired") >= 2);
	assert_int_equal(wh_count_for(&sends, "c-stale"), 1);
	assert_string_equal(wh_first_for(&sends, "c-stale")->step, "reminder");
	free(history);
}

/* A settling payment of invoice at occurred_ms, as the ERP dates it. */
static void pay_at(const char *customer, const char *invoice,
		   int64_t occurred_ms)
{
	Dunning__V1__PaymentReceived p = DUNNING__V1__PAYMENT_RECEIVED__INIT;
	Dunning__V1__LedgerEvent e = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__Money amount = DUNNING__V1__MONEY__INIT;
	char payment[64], event[96];

	snprintf(payment, sizeof(payment), "%s/settled", invoice);
	snprintf(event, sizeof(event), "pay/%s", payment);
	amount.minor_units = 50000;
	amount.currency = "EUR";
	p.invoice_id = (char *)invoice;
	p.amount = &amount;
	p.payment_id = payment;
	e.body_case = DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED;
	e.payment_received = &p;
	e.tenant = tenant;
	e.customer_id = (char *)customer;
	e.event_id = event;
	e.occurred_at_ms = occurred_ms;
	wh_send(&run, "DUNNING_TOPIC_INVOICE_EVENTS", tenant, customer,
		&e.base);
}

/* A payment made after the reminder counts as paid after reminder; one
 * the ERP dates before a reminder that still went out is what
 * sent_after_paid counts. */
static void test_payments_after_a_reminder_are_counted(void **state)
{
	int64_t paid = wh_stat(&run, "invoices_paid");
	int64_t after = wh_stat(&run, "paid_after_reminder");

	(void)state;
	assert_int_equal(wh_count_for(&sends, "c-late"), 1);
	assert_int_equal(wh_stat(&run, "sent_after_paid"), 0);
	pay_at("c-late", "L1", clock_now_ms());
	pay_at("c-late", "L2", wh_instant(NOTICE_AT) - 3600000);
	wh_flush(&run);
	assert_int_equal(wh_wait_stat(&run, "invoices_paid", paid + 2, 5000),
			 paid + 2);
	assert_int_equal(wh_stat(&run, "paid_after_reminder"), after + 2);
	assert_int_equal(wh_stat(&run, "sent_after_paid"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_open_invoice_gets_localised_notice_at_ten),
		cmocka_unit_test(
			test_metrics_list_every_step_and_reason_from_the_start),
		cmocka_unit_test(test_paid_invoice_is_never_reminded),
		cmocka_unit_test(
			test_dispute_and_cancellation_remove_the_reminder),
		cmocka_unit_test(
			test_partial_payment_keeps_reminder_with_remainder),
		cmocka_unit_test(test_update_reschedules_to_the_new_due_date),
		cmocka_unit_test(test_same_day_invoices_are_consolidated),
		cmocka_unit_test(test_opt_out_keywords_stop_every_reminder),
		cmocka_unit_test(test_customer_without_opt_in_is_suppressed),
		cmocka_unit_test(test_frequency_cap_holds_across_invoices),
		cmocka_unit_test(test_undecodable_message_is_dead_lettered),
		cmocka_unit_test(
			test_due_alert_missed_before_any_worker_ran_is_recorded),
		cmocka_unit_test(test_payments_after_a_reminder_are_counted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
