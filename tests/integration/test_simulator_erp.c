/* test_simulator_erp.c: the simulator's customers and ERP over Kafka. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishes a small ledger (a customer, open invoices, one paid invoice)
 * on the stack's invoice.events, starts dunning-simulator with customers
 * on a fast simulated clock, sends it reminders, and verifies that: the
 * ERP mirror consumed the ledger; a reminder for the paid invoice counts
 * as sent_after_paid; customers answer with signed inbound webhooks
 * quoting the reminder; and payments come back on invoice.events as
 * PaymentReceived "<invoice_id>/settled" for the outstanding amount,
 * keyed "tenant/customer_id", as an ERP would send them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "httpd.h"
#include "kafka.h"
#include "spawn.h"
#include "testenv.h"

#include "dunning/v1/ledger.pb-c.h"

#include "../../simulator/signature.h"

#define SECRET	 "erp-secret"
#define TOKEN	 "erp-token"
#define INVOICES 10
#define DAY_MS	 (24 * 3600 * 1000LL)

static struct config *cfg;
static struct spawn_child sim;
static struct httpd *receiver;
static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *inbound; /* messages[] of inbound webhooks */
static int bad_signatures;
static char wamids[INVOICES + 1][80];

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Runs on the receiver's thread: keeps inbound messages. */
static void on_webhook(void *ctx, const struct http_request *req,
		       struct http_response *resp)
{
	json_t *root = json_loads(req->body, 0, NULL), *value;

	(void)ctx;
	value = json_object_get(
		json_array_get(
			json_object_get(
				json_array_get(json_object_get(root, "entry"),
					       0),
				"changes"),
			0),
		"value");
	pthread_mutex_lock(&rx_lock);
	if (!signature_verify(SECRET, req->body, req->body_len,
			      http_request_header(req, "X-Hub-Signature-256")))
		bad_signatures++;
	if (json_object_get(value, "messages"))
		json_array_extend(inbound, json_object_get(value, "messages"));
	pthread_mutex_unlock(&rx_lock);
	json_decref(root);
	http_respond_text(resp, 200, "text/plain", "ok");
}

/* ---------------------------------------------------------------------- */
/* The ledger                                                              */

static void publish(struct kafka_producer *p, Dunning__V1__LedgerEvent *ev)
{
	uint8_t buf[1024];
	size_t len = dunning__v1__ledger_event__get_packed_size(ev);
	char err[256];

	assert_true(len <= sizeof(buf));
	dunning__v1__ledger_event__pack(ev, buf);
	assert_int_equal(kafka_producer_send(p, "invoice.events", "demo/C-1", 8,
					     buf, len, NULL, err, sizeof(err)),
			 0);
}

static void publish_customer(struct kafka_producer *p)
{
	Dunning__V1__LedgerEvent ev = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__CustomerUpserted cu = DUNNING__V1__CUSTOMER_UPSERTED__INIT;

	cu.name = "Ana Puig";
	cu.phone_e164 = "+34600100001";
	cu.locale = "es-ES";
	cu.time_zone = "Europe/Madrid";
	cu.opt_in = DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN;
	cu.segment = "prompt";
	ev.event_id = "cust-1";
	ev.tenant = "demo";
	ev.customer_id = "C-1";
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED;
	ev.customer_upserted = &cu;
	publish(p, &ev);
}

static void publish_invoice(struct kafka_producer *p, const char *id)
{
	Dunning__V1__LedgerEvent ev = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__InvoiceUpserted inv = DUNNING__V1__INVOICE_UPSERTED__INIT;
	Dunning__V1__Money money = DUNNING__V1__MONEY__INIT;

	money.minor_units = 12345;
	money.currency = "EUR";
	inv.invoice_id = (char *)id;
	inv.amount = &money;
	inv.version = 1;
	ev.event_id = (char *)id;
	ev.tenant = "demo";
	ev.customer_id = "C-1";
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED;
	ev.invoice_upserted = &inv;
	publish(p, &ev);
}

static void publish_paid(struct kafka_producer *p, const char *id,
			 int64_t at_ms)
{
	Dunning__V1__LedgerEvent ev = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__PaymentReceived pay = DUNNING__V1__PAYMENT_RECEIVED__INIT;
	Dunning__V1__Money money = DUNNING__V1__MONEY__INIT;
	char payment_id[64];

	snprintf(payment_id, sizeof(payment_id), "%s/settled", id);
	money.minor_units = 12345;
	money.currency = "EUR";
	pay.invoice_id = (char *)id;
	pay.payment_id = payment_id;
	pay.amount = &money;
	ev.event_id = payment_id;
	ev.tenant = "demo";
	ev.customer_id = "C-1";
	ev.occurred_at_ms = at_ms;
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED;
	ev.payment_received = &pay;
	publish(p, &ev);
}

/* ---------------------------------------------------------------------- */
/* The simulator                                                           */

static void start_simulator(void)
{
	char url[128], templates[1024];
	const char *root = getenv("DUNNING_ROOT");
	/* clang-format off */
	const char *const env[] = {
		"DUNNING_SIM_WEBHOOK_URL", url,
		"DUNNING_SIM_TEMPLATES", templates,
		"DUNNING_SIM_TOKEN", TOKEN,
		"DUNNING_SIM_APP_SECRET", SECRET,
		"DUNNING_SIM_CUSTOMERS", "true",
		"DUNNING_SIM_REPLY_PERMILLE", "1000",
		"DUNNING_SIM_OPT_OUT_PERMILLE", "0",
		"DUNNING_SIM_PAID_GRACE_MS", "0",
		"DUNNING_CLOCK", "simulated",
		"DUNNING_CLOCK_START", "2026-10-01T00:00:00Z",
		"DUNNING_CLOCK_SPEED", "100000",
		NULL, NULL,
	};
	/* clang-format on */

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhook",
		 httpd_port(receiver));
	snprintf(templates, sizeof(templates),
		 "%s/deploy/whatsapp-templates.json", root ? root : ".");

	spawn_start(&sim, "dunning-simulator", env, NULL, SPAWN_TIMEOUT_MS);
}

static int setup(void **state)
{
	struct http_route route = { "POST", "/webhook", on_webhook, NULL };
	struct kafka_producer *p;
	char err[256], id[32];
	int64_t paid_at;
	int i;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	inbound = json_array();
	cfg = testenv_config(NULL);
	receiver = httpd_new("127.0.0.1", 0, &route, 1, 1 << 20, NULL, NULL,
			     NULL, err, sizeof(err));
	p = kafka_producer_new(cfg, "test-erp", NULL, err, sizeof(err));
	if (!receiver || !p)
		return -1;
	publish_customer(p);
	for (i = 0; i < INVOICES; i++) {
		snprintf(id, sizeof(id), "INV-%d", i);
		publish_invoice(p, id);
	}
	publish_invoice(p, "INV-PAID");
	assert_int_equal(config_parse_instant("2026-09-20T00:00:00Z", &paid_at),
			 0);
	publish_paid(p, "INV-PAID", paid_at);
	assert_int_equal(kafka_producer_flush(p, 10000), 0);
	kafka_producer_free(p);
	start_simulator();
	return 0;
}

static int teardown(void **state)
{
	int status;

	(void)state;
	status = spawn_stop(&sim, SIGTERM);
	httpd_free(receiver);
	json_decref(inbound);
	config_free(cfg);
	curl_global_cleanup();
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static size_t collect(char *ptr, size_t size, size_t n, void *ctx)
{
	char **buf = ctx;
	size_t old = *buf ? strlen(*buf) : 0;
	char *grown = realloc(*buf, old + size * n + 1);

	assert_non_null(grown);
	memcpy(grown + old, ptr, size * n);
	grown[old + size * n] = '\0';
	*buf = grown;
	return size * n;
}

static json_t *call(const char *path, const char *body)
{
	struct curl_slist *headers = NULL;
	char url[256], *text = NULL;
	CURL *curl = curl_easy_init();
	json_t *root;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sim.port, path);
	headers = curl_slist_append(headers, "Authorization: Bearer " TOKEN);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &text);
	assert_int_equal(curl_easy_perform(curl), CURLE_OK);
	root = json_loads(text ? text : "", 0, NULL);
	free(text);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return root;
}

static long stat_of(const char *name)
{
	json_t *root = call("/sim/stats", NULL);
	long v = (long)json_integer_value(json_object_get(root, name));

	json_decref(root);
	return v;
}

/* Sends a payment_reminder about invoice; returns its wamid in out. */
static void remind(const char *invoice, const char *command, char *out,
		   size_t len)
{
	char body[1024];
	json_t *root;

	snprintf(body, sizeof(body),
		 "{\"messaging_product\":\"whatsapp\",\"to\":\"+34600100001\","
		 "\"type\":\"template\",\"biz_opaque_callback_data\":\"%s\","
		 "\"template\":{\"name\":\"payment_reminder\",\"language\":"
		 "{\"code\":\"es\"},\"components\":[{\"type\":\"body\","
		 "\"parameters\":[{\"type\":\"text\",\"text\":\"Ana\"},"
		 "{\"type\":\"text\",\"text\":\"%s\"},{\"type\":\"text\","
		 "\"text\":\"123,45 EUR\"},{\"type\":\"text\",\"text\":"
		 "\"1/10/2026\"},{\"type\":\"text\",\"text\":\"IBAN\"}]}]}}",
		 command, invoice);
	root = call("/v21.0/1065/messages", body);
	snprintf(out, len, "%s",
		 json_string_value(json_object_get(
			 json_array_get(json_object_get(root, "messages"), 0),
			 "id")));
	json_decref(root);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_mirror_consumes_the_ledger(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 200 && stat_of("ledger_events") < INVOICES + 3; i++)
		sleep_ms(100);
	assert_int_equal(stat_of("ledger_events"), INVOICES + 3);
}

static void test_reminder_for_paid_invoice_is_counted(void **state)
{
	char command[32], id[32];
	int i;

	(void)state;
	assert_int_equal(stat_of("sent_after_paid"), 0);
	for (i = 0; i < INVOICES; i++) {
		snprintf(id, sizeof(id), "INV-%d", i);
		snprintf(command, sizeof(command), "cmd-%d", i);
		remind(id, command, wamids[i], sizeof(wamids[i]));
	}
	assert_int_equal(stat_of("sent_after_paid"), 0);
	remind("INV-PAID", "cmd-paid", wamids[INVOICES],
	       sizeof(wamids[INVOICES]));
	assert_int_equal(stat_of("sent_after_paid"), 1);
}

static void test_customers_answer_quoting_the_reminder(void **state)
{
	json_t *msg;
	size_t i;
	int tries, quoted = 0, j;

	(void)state;
	for (tries = 0; tries < 200 && json_array_size(inbound) < 5; tries++)
		sleep_ms(100);
	pthread_mutex_lock(&rx_lock);
	json_array_foreach(inbound, i, msg)
	{
		const char *ctx = json_string_value(
			json_object_get(json_object_get(msg, "context"), "id"));

		assert_string_equal(
			json_string_value(json_object_get(msg, "from")),
			"34600100001");
		for (j = 0; ctx && j <= INVOICES; j++)
			quoted += strcmp(ctx, wamids[j]) == 0;
	}
	assert_true(json_array_size(inbound) >= 5);
	assert_int_equal((size_t)quoted, json_array_size(inbound));
	assert_int_equal(bad_signatures, 0);
	pthread_mutex_unlock(&rx_lock);
	assert_true(stat_of("replies_sent") >= 5);
}

/* Reads invoice.events from the start until a simulator payment shows. */
static void test_payments_come_back_as_erp_events(void **state)
{
	const char *topics[] = { "invoice.events" };
	struct kafka_consumer *c;
	rd_kafka_message_t *msg;
	char group[64], err[256];
	int found = 0, tries;

	(void)state;
	c = kafka_consumer_new(
		cfg, testenv_unique("erp-check", group, sizeof(group)), topics,
		1, NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(c);
	for (tries = 0; tries < 300 && !found; tries++) {
		Dunning__V1__LedgerEvent *ev;
		const void *payload, *key;
		size_t len, key_len;

		msg = kafka_consumer_poll(c, 100);
		if (!msg)
			continue;
		payload = kafka_message_payload(msg, &len);
		key = kafka_message_key(msg, &key_len);
		ev = dunning__v1__ledger_event__unpack(NULL, len, payload);
		if (ev && ev->payment_received && ev->source &&
		    strcmp(ev->source->component, "simulator") == 0) {
			char expected[64];

			snprintf(expected, sizeof(expected), "%s/settled",
				 ev->payment_received->invoice_id);
			assert_string_equal(ev->payment_received->payment_id,
					    expected);
			assert_int_equal(
				ev->payment_received->amount->minor_units,
				12345);
			assert_int_equal(key_len, 8);
			assert_memory_equal(key, "demo/C-1", 8);
			assert_string_not_equal(
				ev->payment_received->invoice_id, "INV-PAID");
			found = 1;
		}
		if (ev)
			dunning__v1__ledger_event__free_unpacked(ev, NULL);
		kafka_message_free(msg);
	}
	kafka_consumer_free(c);
	assert_true(found);
	assert_true(stat_of("payments_made") >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_consumes_the_ledger),
		cmocka_unit_test(test_reminder_for_paid_invoice_is_counted),
		cmocka_unit_test(test_customers_answer_quoting_the_reminder),
		cmocka_unit_test(test_payments_come_back_as_erp_events),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
