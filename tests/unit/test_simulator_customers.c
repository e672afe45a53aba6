/* test_simulator_customers.c: the simulated customers and their ERP. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The behaviour model is reproducible by seed and follows its segments;
 * the pay effect switches payments off; opt-outs use the customer's
 * language. The ERP mirror applies ledger events idempotently and judges
 * messages about paid invoices, also when the payment is learnt late.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dunning/v1/ledger.pb-c.h"

#include "../../simulator/behaviour.h"
#include "../../simulator/catalogue.h"
#include "../../simulator/customers.h"
#include "../../simulator/mirror.h"

#define HOUR (3600 * 1000LL)
#define DAY  (24 * HOUR)

static const char catalogue_json[] =
	"{\"templates\": [{\"name\": \"payment_reminder\", \"parameters\": 5,"
	" \"buttons\": [{\"payload\": \"paid\", \"text\": \"Already paid\"},"
	" {\"payload\": \"more_time\", \"text\": \"More time\"},"
	" {\"payload\": \"stop\", \"text\": \"Stop\"}],"
	" \"languages\": {\"en\": \"x\"}}]}";

static void decide(uint64_t seed, const char *segment, const char *locale,
		   const char *message, int64_t effect, int64_t reply,
		   const struct catalogue_template *tpl,
		   struct behaviour_decision *d)
{
	struct behaviour_params p = { seed, effect, reply, 60 };
	struct behaviour_input in = { "demo/C-1", segment, locale, message,
				      tpl };

	behaviour_decide(&p, &in, d);
}

static void test_same_seed_same_decisions(void **state)
{
	struct behaviour_decision a, b;
	char key[32];
	int i, differ = 0;

	(void)state;
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "cmd-%d", i);
		decide(7, "slow", "es-ES", key, 1000, -1, NULL, &a);
		decide(7, "slow", "es-ES", key, 1000, -1, NULL, &b);
		assert_memory_equal(&a, &b, sizeof(a));
		decide(8, "slow", "es-ES", key, 1000, -1, NULL, &b);
		differ += memcmp(&a, &b, sizeof(a)) != 0;
	}
	assert_true(differ > 50);
}

/* Reads and payments out of 1000 messages for a segment. */
static void tally(const char *segment, int64_t effect, int *reads,
		  int *payments)
{
	struct behaviour_decision d;
	char key[32];
	int i;

	*reads = *payments = 0;
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "cmd-%d", i);
		decide(1, segment, "en", key, effect, 0, NULL, &d);
		*reads += d.read;
		*payments += d.pays;
		if (d.pays)
			assert_true(d.read && d.pay_after_ms > 0);
	}
}

static void test_prompt_payers_read_and_pay_more_than_chronic(void **state)
{
	int prompt_reads, prompt_pays, chronic_reads, chronic_pays;

	(void)state;
	tally("prompt", 1000, &prompt_reads, &prompt_pays);
	tally("chronic", 1000, &chronic_reads, &chronic_pays);
	assert_true(prompt_reads > chronic_reads + 200);
	assert_true(prompt_pays > 2 * chronic_pays);
	assert_true(chronic_pays > 0);
}

static void test_no_pay_effect_means_no_payment(void **state)
{
	int reads, payments;

	(void)state;
	tally("prompt", 0, &reads, &payments);
	assert_true(reads > 800);
	assert_int_equal(payments, 0);
}

static void test_replies_use_buttons_and_local_opt_out_words(void **state)
{
	struct catalogue *cat;
	const struct catalogue_template *tpl;
	struct behaviour_decision d;
	char key[32], err[128];
	int i, buttons = 0, opt_outs = 0;

	(void)state;
	cat = catalogue_parse(catalogue_json, "test", err, sizeof(err));
	assert_non_null(cat);
	tpl = catalogue_find(cat, "payment_reminder");
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "cmd-%d", i);
		decide(3, "prompt", "pt-BR", key, 1000, 1000, tpl, &d);
		if (!d.read)
			continue;
		assert_int_not_equal(d.reply, BEHAVIOUR_NO_REPLY);
		buttons += d.reply == BEHAVIOUR_BUTTON;
		if (d.opt_out) {
			opt_outs++;
			assert_true(d.reply == BEHAVIOUR_BUTTON
					    ? strcmp(d.payload, "stop") == 0
					    : strcmp(d.text, "PARAR") == 0);
		} else if (d.reply == BEHAVIOUR_BUTTON) {
			assert_string_not_equal(d.payload, "stop");
		}
	}
	assert_true(buttons > 500);
	assert_true(opt_outs > 20 && opt_outs < 300);
	assert_true(behaviour_is_opt_out_text("baixa"));
	assert_false(behaviour_is_opt_out_text("stop it"));
	catalogue_free(cat);
}

/* ---------------------------------------------------------------------- */
/* The ERP mirror                                                          */

static void apply_invoice(struct mirror *m, const char *id, int64_t amount,
			  int64_t at)
{
	Dunning__V1__LedgerEvent ev = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__InvoiceUpserted inv = DUNNING__V1__INVOICE_UPSERTED__INIT;
	Dunning__V1__Money money = DUNNING__V1__MONEY__INIT;

	money.minor_units = amount;
	money.currency = "EUR";
	inv.invoice_id = (char *)id;
	inv.amount = &money;
	inv.version = 1;
	ev.tenant = "demo";
	ev.customer_id = "C-1";
	ev.occurred_at_ms = at;
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED;
	ev.invoice_upserted = &inv;
	assert_int_equal(mirror_apply(m, &ev, NULL), 0);
}

static int apply_payment(struct mirror *m, const char *invoice,
			 const char *payment_id, int64_t amount, int64_t at)
{
	Dunning__V1__LedgerEvent ev = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__PaymentReceived pay = DUNNING__V1__PAYMENT_RECEIVED__INIT;
	Dunning__V1__Money money = DUNNING__V1__MONEY__INIT;
	int late = -1;

	money.minor_units = amount;
	money.currency = "EUR";
	pay.invoice_id = (char *)invoice;
	pay.payment_id = (char *)payment_id;
	pay.amount = &money;
	ev.tenant = "demo";
	ev.customer_id = "C-1";
	ev.occurred_at_ms = at;
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED;
	ev.payment_received = &pay;
	assert_int_equal(mirror_apply(m, &ev, &late), 0);
	return late;
}

static void test_partial_payments_settle_once_each(void **state)
{
	struct mirror *m = mirror_new(HOUR);
	struct mirror_invoice inv;

	(void)state;
	apply_invoice(m, "F-1", 10000, 0);
	apply_payment(m, "F-1", "F-1/partial/1", 4000, 10 * DAY);
	apply_payment(m, "F-1", "F-1/partial/1", 4000, 10 * DAY);
	assert_int_equal(mirror_invoice(m, "demo", "F-1", &inv), 0);
	assert_int_equal(inv.paid, 4000);
	assert_int_equal(inv.paid_at_ms, 0);
	apply_payment(m, "F-1", "F-1/partial/2", 6000, 12 * DAY);
	assert_int_equal(mirror_invoice(m, "demo", "F-1", &inv), 0);
	assert_int_equal(inv.paid_at_ms, 12 * DAY);
	mirror_free(m);
}

static void test_message_after_paid_plus_grace_is_judged_late(void **state)
{
	struct mirror *m = mirror_new(HOUR);

	(void)state;
	apply_invoice(m, "F-2", 5000, 0);
	assert_int_equal(mirror_note_message(m, "demo", "F-2", DAY), 0);
	apply_payment(m, "F-2", "F-2/settled", 5000, 2 * DAY);
	assert_int_equal(
		mirror_note_message(m, "demo", "F-2", 2 * DAY + HOUR / 2), 0);
	assert_int_equal(mirror_note_message(m, "demo", "F-2", 2 * DAY + HOUR),
			 1);
	assert_int_equal(mirror_note_message(m, "demo", "F-404", DAY), -1);
	mirror_free(m);
}

static void test_payment_learnt_late_still_judges_message(void **state)
{
	struct mirror *m = mirror_new(HOUR);

	(void)state;
	apply_invoice(m, "F-3", 5000, 0);
	assert_int_equal(mirror_note_message(m, "demo", "F-3", 5 * DAY), 0);
	assert_int_equal(apply_payment(m, "F-3", "F-3/settled", 5000, DAY), 1);
	mirror_free(m);
}

static void test_invoice_numbers_split_on_commas(void **state)
{
	char ids[4][96];

	(void)state;
	assert_int_equal(customers_split_invoices("F-1, F-2,F-3 ", ids, 4), 3);
	assert_string_equal(ids[0], "F-1");
	assert_string_equal(ids[1], "F-2");
	assert_string_equal(ids[2], "F-3");
	assert_int_equal(customers_split_invoices("A,B,C,D,E", ids, 4), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seed_same_decisions),
		cmocka_unit_test(
			test_prompt_payers_read_and_pay_more_than_chronic),
		cmocka_unit_test(test_no_pay_effect_means_no_payment),
		cmocka_unit_test(
			test_replies_use_buttons_and_local_opt_out_words),
		cmocka_unit_test(test_partial_payments_settle_once_each),
		cmocka_unit_test(
			test_message_after_paid_plus_grace_is_judged_late),
		cmocka_unit_test(test_payment_learnt_late_still_judges_message),
		cmocka_unit_test(test_invoice_numbers_split_on_commas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
