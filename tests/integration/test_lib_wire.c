/* test_lib_wire.c: every message type of the wire format is encoded,
 * produced by one process, consumed by another and decoded identically;
 * an undecodable message is dead-lettered with its reason and the
 * consumer goes on; a consumer resumes after the last stored offset. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "kafka.h"
#include "testenv.h"

#include "dunning/v1/collections.pb-c.h"
#include "dunning/v1/deadletter.pb-c.h"
#include "dunning/v1/ledger.pb-c.h"
#include "dunning/v1/whatsapp.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SAMPLE_MAX 16

/* One encoded sample: its topic setting, key and bytes. */
struct sample {
	const char *topic_key;
	char key[64];
	uint8_t bytes[2048];
	size_t len;
};

static struct sample samples[SAMPLE_MAX];
static size_t sample_count;
static char tenant[64];

static void add_sample(const char *topic_key, const ProtobufCMessage *msg)
{
	struct sample *s = &samples[sample_count];

	assert_true(sample_count < SAMPLE_MAX);
	assert_true(protobuf_c_message_get_packed_size(msg) <=
		    sizeof(s->bytes));
	s->topic_key = topic_key;
	snprintf(s->key, sizeof(s->key), "%.40s/customer-%zu", tenant,
		 sample_count);
	s->len = protobuf_c_message_pack(msg, s->bytes);
	sample_count++;
}

static void add_ledger_samples(void)
{
	Dunning__V1__Money money = DUNNING__V1__MONEY__INIT;
	Dunning__V1__Date due = DUNNING__V1__DATE__INIT;
	Dunning__V1__PaymentMeans means = DUNNING__V1__PAYMENT_MEANS__INIT;
	Dunning__V1__InvoiceUpserted inv = DUNNING__V1__INVOICE_UPSERTED__INIT;
	Dunning__V1__PaymentReceived pay = DUNNING__V1__PAYMENT_RECEIVED__INIT;
	Dunning__V1__InvoiceCancelled can =
		DUNNING__V1__INVOICE_CANCELLED__INIT;
	Dunning__V1__InvoiceDisputed dis = DUNNING__V1__INVOICE_DISPUTED__INIT;
	Dunning__V1__DisputeResolved res = DUNNING__V1__DISPUTE_RESOLVED__INIT;
	Dunning__V1__CustomerUpserted cus =
		DUNNING__V1__CUSTOMER_UPSERTED__INIT;
	Dunning__V1__LedgerEvent ev = DUNNING__V1__LEDGER_EVENT__INIT;

	money.minor_units = 150000;
	money.currency = "KWD";
	due.year = 2024;
	due.month = 2;
	due.day = 29;
	means.iban = "ES9121000418450200051332";
	means.payment_id = "RF18539007547034";
	inv.invoice_id = "F-2024-0001";
	inv.kind = DUNNING__V1__DOCUMENT_KIND__DOCUMENT_KIND_INVOICE;
	inv.due_date = &due;
	inv.due_date_source =
		DUNNING__V1__DUE_DATE_SOURCE__DUE_DATE_SOURCE_PAYMENT_TERMS;
	inv.amount = &money;
	inv.version = 3;
	inv.payment_means = &means;
	ev.event_id = "ev-1";
	ev.tenant = tenant;
	ev.customer_id = "C-1";
	ev.occurred_at_ms = 1709164800000LL;
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED;
	ev.invoice_upserted = &inv;
	add_sample("DUNNING_TOPIC_INVOICE_EVENTS", &ev.base);

	pay.invoice_id = "F-2024-0001";
	pay.amount = &money;
	pay.payment_id = "F-2024-0001/settled";
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED;
	ev.payment_received = &pay;
	add_sample("DUNNING_TOPIC_INVOICE_EVENTS", &ev.base);

	can.invoice_id = "F-2";
	can.reason = "duplicate";
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_CANCELLED;
	ev.invoice_cancelled = &can;
	add_sample("DUNNING_TOPIC_INVOICE_EVENTS", &ev.base);

	dis.invoice_id = "F-3";
	dis.reason = "goods damaged «transit»";
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_DISPUTED;
	ev.invoice_disputed = &dis;
	add_sample("DUNNING_TOPIC_INVOICE_EVENTS", &ev.base);

	res.invoice_id = "F-3";
	res.invoice_upheld = 1;
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_DISPUTE_RESOLVED;
	ev.dispute_resolved = &res;
	add_sample("DUNNING_TOPIC_INVOICE_EVENTS", &ev.base);

	cus.name = "Núria Puig i Ferrer 🌻";
	cus.phone_e164 = "+34600123456";
	cus.locale = "ca-ES";
	cus.time_zone = "Europe/Madrid";
	cus.opt_in = DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN;
	cus.opt_in_at_ms = 1700000000000LL;
	cus.opt_in_source = "web-form";
	cus.segment = "prompt";
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED;
	ev.customer_upserted = &cus;
	add_sample("DUNNING_TOPIC_INVOICE_EVENTS", &ev.base);
}

static void add_whatsapp_samples(void)
{
	Dunning__V1__Money money = DUNNING__V1__MONEY__INIT;
	Dunning__V1__TemplateParameter p1 =
		DUNNING__V1__TEMPLATE_PARAMETER__INIT;
	Dunning__V1__TemplateParameter *params[] = { &p1 };
	char *invoices[] = { "F-1", "F-2" };
	Dunning__V1__SendCommand cmd = DUNNING__V1__SEND_COMMAND__INIT;
	Dunning__V1__StatusUpdate st = DUNNING__V1__STATUS_UPDATE__INIT;
	Dunning__V1__InboundText text = DUNNING__V1__INBOUND_TEXT__INIT;
	Dunning__V1__ButtonReply button = DUNNING__V1__BUTTON_REPLY__INIT;
	Dunning__V1__InteractiveReply inter =
		DUNNING__V1__INTERACTIVE_REPLY__INIT;
	Dunning__V1__MessageEvent ev = DUNNING__V1__MESSAGE_EVENT__INIT;

	money.minor_units = 50000;
	money.currency = "EUR";
	p1.name = "amount";
	p1.text = "500,00 €";
	p1.value_case = DUNNING__V1__TEMPLATE_PARAMETER__VALUE_MONEY;
	p1.money = &money;
	cmd.command_id = "demo/F-1+F-2/reminder/2";
	cmd.tenant = tenant;
	cmd.customer_id = "C-1";
	cmd.n_invoice_ids = 2;
	cmd.invoice_ids = invoices;
	cmd.step = "reminder";
	cmd.kind = DUNNING__V1__SEND_KIND__SEND_KIND_TEMPLATE;
	cmd.template_name = "payment_reminder";
	cmd.language = "ca";
	cmd.n_parameters = 1;
	cmd.parameters = params;
	cmd.deadline_ms = 1709200000000LL;
	add_sample("DUNNING_TOPIC_WHATSAPP_SEND", &cmd.base);

	ev.event_id = "wamid.X/read";
	ev.tenant = tenant;
	ev.customer_id = "C-1";
	ev.wa_message_id = "wamid.X";
	st.status = DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_FAILED;
	st.error_code = 131026;
	st.error_title = "Message undeliverable";
	ev.body_case = DUNNING__V1__MESSAGE_EVENT__BODY_STATUS;
	ev.status = &st;
	add_sample("DUNNING_TOPIC_WHATSAPP_EVENTS", &ev.base);

	text.body = "Pagaré demà \"segur\" \\ 👍";
	ev.body_case = DUNNING__V1__MESSAGE_EVENT__BODY_TEXT;
	ev.text = &text;
	add_sample("DUNNING_TOPIC_WHATSAPP_EVENTS", &ev.base);

	button.payload = "paid";
	button.text = "Already paid";
	ev.context_message_id = "wamid.ctx";
	ev.body_case = DUNNING__V1__MESSAGE_EVENT__BODY_BUTTON;
	ev.button = &button;
	add_sample("DUNNING_TOPIC_WHATSAPP_EVENTS", &ev.base);

	inter.id = "more_time";
	inter.title = "I need more time";
	ev.body_case = DUNNING__V1__MESSAGE_EVENT__BODY_INTERACTIVE;
	ev.interactive = &inter;
	add_sample("DUNNING_TOPIC_WHATSAPP_EVENTS", &ev.base);
}

static void add_other_samples(void)
{
	Dunning__V1__Money money = DUNNING__V1__MONEY__INIT;
	Dunning__V1__TaskInvoice ti = DUNNING__V1__TASK_INVOICE__INIT;
	Dunning__V1__TaskInvoice *tis[] = { &ti };
	Dunning__V1__ReminderRecord rr = DUNNING__V1__REMINDER_RECORD__INIT;
	Dunning__V1__ReminderRecord *rrs[] = { &rr };
	Dunning__V1__CollectorTask task = DUNNING__V1__COLLECTOR_TASK__INIT;
	Dunning__V1__DeadLetter dl = DUNNING__V1__DEAD_LETTER__INIT;
	static uint8_t junk[] = { 0xff, 0x00, 0x13 };

	money.minor_units = 1000;
	money.currency = "JPY";
	ti.invoice_id = "F-9";
	ti.outstanding = &money;
	ti.days_overdue = 24;
	rr.command_id = "demo/F-9/reminder/1";
	rr.step = "reminder";
	rr.last_status = DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_READ;
	task.task_id = "demo/C-9/1";
	task.tenant = tenant;
	task.customer_id = "C-9";
	task.collector = "Marta";
	task.reason = "3 reminders unanswered";
	task.n_invoices = 1;
	task.invoices = tis;
	task.n_history = 1;
	task.history = rrs;
	add_sample("DUNNING_TOPIC_COLLECTIONS_TASKS", &task.base);

	dl.source_topic = "invoice.events";
	dl.source_offset = 42;
	dl.payload.data = junk;
	dl.payload.len = sizeof(junk);
	dl.reason = "protobuf decode failed";
	add_sample("DUNNING_TOPIC_DEADLETTER", &dl.base);
}

static void build_samples(void)
{
	sample_count = 0;
	add_ledger_samples();
	add_whatsapp_samples();
	add_other_samples();
}

/* The producing side, run as a separate process. */
static int produce_all(void)
{
	char err[512];
	struct config *cfg = testenv_config(NULL);
	struct kafka_producer *p;
	size_t i;
	int rc = 0;

	p = kafka_producer_new(cfg, "wire-test-producer", NULL, err,
			       sizeof(err));
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (i = 0; i < sample_count && !rc; i++)
		rc = kafka_producer_send(p,
					 config_str(cfg, samples[i].topic_key),
					 samples[i].key, strlen(samples[i].key),
					 samples[i].bytes, samples[i].len, NULL,
					 err, sizeof(err));
	if (!rc)
		rc = kafka_producer_flush(p, 30000);
	if (!rc && kafka_producer_failed(p))
		rc = 1;
	kafka_producer_free(p);
	config_free(cfg);
	return rc;
}

static void run_producer_process(void)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_lib_wire", "produce", tenant,
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static struct kafka_consumer *consumer_of(struct config *cfg, const char *group,
					  size_t topic_count)
{
	const char *topics[] = {
		config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS"),
		config_str(cfg, "DUNNING_TOPIC_WHATSAPP_SEND"),
		config_str(cfg, "DUNNING_TOPIC_WHATSAPP_EVENTS"),
		config_str(cfg, "DUNNING_TOPIC_COLLECTIONS_TASKS"),
		config_str(cfg, "DUNNING_TOPIC_DEADLETTER"),
	};
	char err[512];
	struct kafka_consumer *c;

	c = kafka_consumer_new(cfg, group, topics, topic_count, NULL, NULL,
			       NULL, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	return c;
}

/* A consumer of every product topic. */
static struct kafka_consumer *consumer_for(struct config *cfg,
					   const char *group)
{
	return consumer_of(cfg, group, 5);
}

/* Decodes bytes as the message type of its topic and packs it again. */
static size_t decode_and_repack(const struct config *cfg, const char *topic,
				const void *bytes, size_t len, uint8_t *out)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *msg;
	size_t n;

	if (strcmp(topic, config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS")) == 0)
		desc = &dunning__v1__ledger_event__descriptor;
	else if (strcmp(topic,
			config_str(cfg, "DUNNING_TOPIC_WHATSAPP_SEND")) == 0)
		desc = &dunning__v1__send_command__descriptor;
	else if (strcmp(topic,
			config_str(cfg, "DUNNING_TOPIC_WHATSAPP_EVENTS")) == 0)
		desc = &dunning__v1__message_event__descriptor;
	else if (strcmp(topic,
			config_str(cfg, "DUNNING_TOPIC_COLLECTIONS_TASKS")) ==
		 0)
		desc = &dunning__v1__collector_task__descriptor;
	else
		desc = &dunning__v1__dead_letter__descriptor;
	msg = protobuf_c_message_unpack(desc, NULL, len, bytes);
	assert_non_null(msg);
	n = protobuf_c_message_pack(msg, out);
	protobuf_c_message_free_unpacked(msg, NULL);
	return n;
}

static void
test_every_message_type_survives_kafka_between_processes(void **state)
{
	struct config *cfg = testenv_config(NULL);
	char group[64];
	struct kafka_consumer *c;
	int seen[SAMPLE_MAX] = { 0 };
	size_t received = 0, i;
	int polls;

	(void)state;
	run_producer_process();
	c = consumer_for(cfg, testenv_unique("wire", group, sizeof(group)));
	for (polls = 0; polls < 300 && received < sample_count; polls++) {
		rd_kafka_message_t *m = kafka_consumer_poll(c, 100);
		const void *key, *payload;
		size_t key_len, len, n;
		uint8_t again[2048];

		if (!m)
			continue;
		key = kafka_message_key(m, &key_len);
		payload = kafka_message_payload(m, &len);
		for (i = 0; i < sample_count; i++) {
			if (strlen(samples[i].key) != key_len ||
			    memcmp(samples[i].key, key, key_len) != 0)
				continue;
			assert_string_equal(
				kafka_message_topic(m),
				config_str(cfg, samples[i].topic_key));
			assert_int_equal(len, samples[i].len);
			assert_memory_equal(payload, samples[i].bytes, len);
			n = decode_and_repack(cfg, kafka_message_topic(m),
					      payload, len, again);
			assert_int_equal(n, len);
			assert_memory_equal(again, samples[i].bytes, n);
			if (!seen[i]++)
				received++;
		}
		kafka_message_free(m);
	}
	assert_int_equal(received, sample_count);
	kafka_consumer_free(c);
	config_free(cfg);
}

static void test_decoded_values_keep_money_dates_and_unicode(void **state)
{
	Dunning__V1__LedgerEvent *ev;
	Dunning__V1__MessageEvent *msg;

	(void)state;
	ev = dunning__v1__ledger_event__unpack(NULL, samples[0].len,
					       samples[0].bytes);
	assert_non_null(ev);
	assert_int_equal(ev->invoice_upserted->amount->minor_units, 150000);
	assert_string_equal(ev->invoice_upserted->amount->currency, "KWD");
	assert_int_equal(ev->invoice_upserted->due_date->day, 29);
	dunning__v1__ledger_event__free_unpacked(ev, NULL);

	msg = dunning__v1__message_event__unpack(NULL, samples[8].len,
						 samples[8].bytes);
	assert_non_null(msg);
	assert_int_equal(msg->body_case, DUNNING__V1__MESSAGE_EVENT__BODY_TEXT);
	assert_string_equal(msg->text->body, "Pagaré demà \"segur\" \\ 👍");
	dunning__v1__message_event__free_unpacked(msg, NULL);
}

/* A consumer loop of the shape every program uses: decode or dead-letter,
 * then store the offset. Returns how many valid events it decoded. */
static int consume_or_dead_letter(struct config *cfg, struct kafka_consumer *c,
				  struct kafka_producer *p, int want)
{
	int decoded = 0, handled = 0, polls;

	for (polls = 0; polls < 300 && handled < want; polls++) {
		rd_kafka_message_t *m = kafka_consumer_poll(c, 100);
		Dunning__V1__LedgerEvent *ev;
		const void *payload;
		size_t len;

		if (!m)
			continue;
		payload = kafka_message_payload(m, &len);
		ev = dunning__v1__ledger_event__unpack(NULL, len, payload);
		if (ev) {
			decoded++;
			dunning__v1__ledger_event__free_unpacked(ev, NULL);
		} else {
			assert_int_equal(kafka_dead_letter(p, cfg, m, "test",
							   "protobuf decode "
							   "failed"),
					 DN_OK);
		}
		kafka_consumer_store(c, m);
		kafka_message_free(m);
		handled++;
	}
	return decoded;
}

static void
test_undecodable_message_is_dead_lettered_and_flow_goes_on(void **state)
{
	struct config *cfg = testenv_config(NULL);
	const char *topic = config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS");
	static const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0x7f };
	char group[64], err[256];
	struct kafka_producer *p;
	struct kafka_consumer *c, *dead;
	int found = 0, polls;

	(void)state;
	p = kafka_producer_new(cfg, "dl-test", NULL, err, sizeof(err));
	assert_non_null(p);
	/* The wire samples are already on the topic; add garbage after. */
	assert_int_equal(kafka_producer_send(p, topic, "bad/1", 5, garbage,
					     sizeof(garbage), NULL, err,
					     sizeof(err)),
			 DN_OK);
	assert_int_equal(kafka_producer_send(p, topic, samples[0].key,
					     strlen(samples[0].key),
					     samples[0].bytes, samples[0].len,
					     NULL, err, sizeof(err)),
			 DN_OK);
	assert_int_equal(kafka_producer_flush(p, 10000), DN_OK);

	c = consumer_of(cfg, testenv_unique("dl", group, sizeof(group)), 1);
	/* 6 ledger samples from the first test, then garbage, then one. */
	assert_int_equal(consume_or_dead_letter(cfg, c, p, 8), 7);
	assert_int_equal(kafka_producer_flush(p, 10000), DN_OK);

	dead = consumer_for(cfg,
			    testenv_unique("dl-read", group, sizeof(group)));
	for (polls = 0; polls < 200 && !found; polls++) {
		rd_kafka_message_t *m = kafka_consumer_poll(dead, 100);
		Dunning__V1__DeadLetter *dl;
		const void *payload;
		size_t len;

		if (!m)
			continue;
		payload = kafka_message_payload(m, &len);
		dl = dunning__v1__dead_letter__unpack(NULL, len, payload);
		if (dl && dl->payload.len == sizeof(garbage) &&
		    memcmp(dl->payload.data, garbage, sizeof(garbage)) == 0 &&
		    strcmp(dl->component, "test") == 0) {
			assert_string_equal(dl->source_topic, topic);
			assert_string_equal(dl->reason,
					    "protobuf decode failed");
			found = 1;
		}
		if (dl)
			dunning__v1__dead_letter__free_unpacked(dl, NULL);
		kafka_message_free(m);
	}
	assert_true(found);
	kafka_consumer_free(dead);
	kafka_consumer_free(c);
	kafka_producer_free(p);
	config_free(cfg);
}

static void test_consumer_resumes_after_last_stored_offset(void **state)
{
	struct config *cfg = testenv_config(NULL);
	char group[64];
	struct kafka_consumer *c;
	int polls, handled = 0, again = 0, others = 0;

	(void)state;
	testenv_unique("resume", group, sizeof(group));

	/* Read and store only the collector task, commit, leave. */
	c = consumer_for(cfg, group);
	for (polls = 0; polls < 300 && !handled; polls++) {
		rd_kafka_message_t *m = kafka_consumer_poll(c, 100);

		if (!m)
			continue;
		if (strcmp(kafka_message_topic(m),
			   config_str(cfg,
				      "DUNNING_TOPIC_COLLECTIONS_TASKS")) ==
		    0) {
			kafka_consumer_store(c, m);
			handled = 1;
		}
		kafka_message_free(m);
	}
	assert_true(handled);
	assert_int_equal(kafka_consumer_commit(c), DN_OK);
	kafka_consumer_free(c);

	/* The same group sees every message again except the stored one. */
	c = consumer_for(cfg, group);
	for (polls = 0; polls < 300 && others < (int)sample_count + 2;
	     polls++) {
		rd_kafka_message_t *m = kafka_consumer_poll(c, 100);

		if (!m)
			continue;
		if (strcmp(kafka_message_topic(m),
			   config_str(cfg,
				      "DUNNING_TOPIC_COLLECTIONS_TASKS")) == 0)
			again++;
		else
			others++;
		kafka_message_free(m);
	}
	/* All samples but the task, plus the garbage, the extra event and
	 * the dead letters of the test before. */
	assert_true(others >= (int)sample_count - 1);
	assert_int_equal(again, 0);
	kafka_consumer_free(c);
	config_free(cfg);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_every_message_type_survives_kafka_between_processes),
		cmocka_unit_test(
			test_decoded_values_keep_money_dates_and_unicode),
		cmocka_unit_test(
			test_undecodable_message_is_dead_lettered_and_flow_goes_on),
		cmocka_unit_test(
			test_consumer_resumes_after_last_stored_offset),
	};

	if (argc == 3 && strcmp(argv[1], "produce") == 0) {
		snprintf(tenant, sizeof(tenant), "%s", argv[2]);
		build_samples();
		return produce_all();
	}
	testenv_unique("wire", tenant, sizeof(tenant));
	build_samples();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
