/* test_gateway_cloud.c: the gateway against the Cloud API simulator. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starts dunning-simulator and dunning-gateway on the local stack (Redis,
 * local broker), produces send commands on whatsapp.send and reads
 * whatsapp.events, and checks the simulator's counters: every command is
 * sent exactly once, refusals and API errors become failed events with a
 * reason, statuses and replies come back keyed to the customer and the
 * command, webhooks without a valid signature are refused, and a token
 * that expires in the middle of a run loses and duplicates nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../gateway/webhook.h"
#include "clock.h"
#include "config.h"
#include "kafka.h"
#include "spawn.h"
#include "store.h"
#include "testenv.h"

#include "dunning/v1/deadletter.pb-c.h"
#include "dunning/v1/whatsapp.pb-c.h"

#define APP_SECRET   "test-app-secret"
#define VERIFY_TOKEN "test-verify-token"
#define SENDER	     "PN1"
#define EVENTS_MAX   20000

static struct spawn_child simulator, gateway;
static struct config *cfg;
static struct kafka_producer *producer;
static struct kafka_consumer *consumer;
static Dunning__V1__MessageEvent *events[EVENTS_MAX];
static size_t event_count;
static char token_path[512];
static char run_id[64];

/* ---------------------------------------------------------------------- */
/* Processes                                                               */

static void write_token(const char *token)
{
	char tmp[600];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", token_path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", token);
	fclose(f);
	assert_int_equal(rename(tmp, token_path), 0);
}

/* Settings of the gateway, kept for restarts. */
static char gw_port[16], sim_base[128], templates[4096];

static void start_gateway(void)
{
	/* clang-format off */
	const char *const env[] = {
		"DUNNING_WA_BASE_URL", sim_base,
		"DUNNING_WA_TOKEN_FILE", token_path,
		"DUNNING_WA_APP_SECRET", APP_SECRET,
		"DUNNING_WA_VERIFY_TOKEN", VERIFY_TOKEN,
		"DUNNING_WA_SENDERS", "*=" SENDER,
		"DUNNING_GATEWAY_HTTP_PORT", gw_port,
		"DUNNING_GATEWAY_TEMPLATES", templates,
		"DUNNING_GATEWAY_HALT_RECHECK_MS", "300",
		"DUNNING_GATEWAY_RETRY_BASE_MS", "50",
		NULL, NULL,
	};
	/* clang-format on */

	spawn_start(&gateway, "dunning-gateway", env, NULL, SPAWN_TIMEOUT_MS);
}

static void start_programs(void)
{
	char webhook_url[128];
	int port = testenv_free_port();

	snprintf(gw_port, sizeof(gw_port), "%d", port);
	snprintf(webhook_url, sizeof(webhook_url),
		 "http://127.0.0.1:%d/webhook", port);
	snprintf(templates, sizeof(templates),
		 "%s/deploy/whatsapp-templates.json", getenv("DUNNING_ROOT"));
	{
		/* clang-format off */
		const char *const env[] = {
			"DUNNING_SIM_HTTP_PORT", "0",
			"DUNNING_SIM_TOKEN", "token-one",
			"DUNNING_SIM_APP_SECRET", APP_SECRET,
			"DUNNING_SIM_WEBHOOK_URL", webhook_url,
			"DUNNING_SIM_TEMPLATES", templates,
			"DUNNING_SIM_CUSTOMERS", "false",
			"DUNNING_SIM_FAIL_RECIPIENTS",
			"+34611000001=131026,+34611000002=131009:sync",
			"DUNNING_SIM_DUPLICATE_PERMILLE", "200",
			NULL, NULL,
		};
		/* clang-format on */

		spawn_start(&simulator, "dunning-simulator", env, NULL,
			    SPAWN_TIMEOUT_MS);
	}
	snprintf(sim_base, sizeof(sim_base), "http://127.0.0.1:%d",
		 simulator.port);
	snprintf(token_path, sizeof(token_path), "%s/wa-token-%ld",
		 getenv("DUNNING_STACK_DIR") ? getenv("DUNNING_STACK_DIR")
					     : "/tmp",
		 (long)getpid());
	write_token("token-one");
	start_gateway();
}

/* ---------------------------------------------------------------------- */
/* HTTP                                                                    */

struct answer {
	char *body;
	size_t len;
};

static size_t on_body(char *data, size_t size, size_t count, void *userp)
{
	struct answer *a = userp;
	char *grown = realloc(a->body, a->len + size * count + 1);

	assert_non_null(grown);
	memcpy(grown + a->len, data, size * count);
	a->body = grown;
	a->len += size * count;
	a->body[a->len] = '\0';
	return size * count;
}

/* Calls url; returns the HTTP status, the body in *body (caller frees). */
static long http(const char *method, const char *url, const char *body,
		 const char *signature, char **answer)
{
	struct curl_slist *headers = NULL;
	struct answer a = { NULL, 0 };
	CURL *curl = curl_easy_init();
	char sig_header[128];
	long status = 0;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	if (signature) {
		snprintf(sig_header, sizeof(sig_header),
			 "X-Hub-Signature-256: %s", signature);
		headers = curl_slist_append(headers, sig_header);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (answer)
		*answer = a.body ? a.body : strdup("");
	else
		free(a.body);
	return status;
}

static long sim_call(const char *method, const char *path, const char *body,
		     char **answer)
{
	char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", simulator.port,
		 path);
	return http(method, url, body, NULL, answer);
}

static json_int_t sim_stat(const char *name)
{
	char *answer = NULL;
	json_t *root;
	json_int_t value;

	assert_int_equal(sim_call("GET", "/sim/stats", NULL, &answer), 200);
	root = json_loads(answer, 0, NULL);
	assert_non_null(root);
	value = json_integer_value(json_object_get(root, name));
	json_decref(root);
	free(answer);
	return value;
}

/* A counter from the gateway's /metrics, 0 when absent. */
static long long gateway_metric(const char *series)
{
	char url[128], line[512], *answer = NULL, *at;
	long long value = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", gateway.port);
	assert_int_equal(http("GET", url, NULL, NULL, &answer), 200);
	snprintf(line, sizeof(line), "\n%s ", series);
	at = strstr(answer, line);
	if (at)
		value = strtoll(at + strlen(line), NULL, 10);
	free(answer);
	return value;
}

/* Posts body to the webhook of the gateway on port, signed as Meta signs
 * it. */
static long post_signed_to(int port, const char *body)
{
	char url[128], signature[80];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhook", port);
	webhook_signature_make(APP_SECRET, body, strlen(body), signature,
			       sizeof(signature));
	return http("POST", url, body, signature, NULL);
}

static long post_signed(const char *body)
{
	return post_signed_to(gateway.port, body);
}

/* ---------------------------------------------------------------------- */
/* Kafka                                                                   */

static void produce_command(const Dunning__V1__SendCommand *cmd)
{
	char key[256], err[256];
	size_t len = dunning__v1__send_command__get_packed_size(cmd);
	uint8_t *buf = malloc(len + 1);

	dunning__v1__send_command__pack(cmd, buf);
	kafka_key_format(key, sizeof(key), cmd->tenant, cmd->customer_id);
	assert_int_equal(kafka_producer_send(producer, "whatsapp.send", key,
					     strlen(key), buf, len, NULL, err,
					     sizeof(err)),
			 0);
	free(buf);
}

/* A template command from this run to phone, id "<run>/<name>", about
 * invoice (NULL: none named). */
static void send_template_for(const char *name, const char *customer_name,
			      const char *phone, int64_t deadline_ms,
			      const char *invoice)
{
	Dunning__V1__SendCommand cmd = DUNNING__V1__SEND_COMMAND__INIT;
	Dunning__V1__TemplateParameter params[5], *list[5];
	static const char *const texts[] = { "Núria \"N\" Puig 😀", "F-1",
					     "10,00 €", "5/1/2027",
					     "https://pay.example/F-1" };
	char id[256], customer[128];
	size_t i;

	for (i = 0; i < 5; i++) {
		dunning__v1__template_parameter__init(&params[i]);
		params[i].text = (char *)texts[i];
		list[i] = &params[i];
	}
	snprintf(id, sizeof(id), "%s/%s", run_id, name);
	snprintf(customer, sizeof(customer), "cust-%s", customer_name);
	cmd.command_id = id;
	cmd.tenant = "demo";
	cmd.customer_id = customer;
	cmd.step = "due";
	cmd.phone_e164 = (char *)phone;
	cmd.kind = DUNNING__V1__SEND_KIND__SEND_KIND_TEMPLATE;
	cmd.template_name = "payment_due";
	cmd.language = "es";
	cmd.parameters = list;
	cmd.n_parameters = 5;
	cmd.created_at_ms = clock_now_ms();
	cmd.deadline_ms = deadline_ms;
	cmd.invoice_ids = (char **)&invoice;
	cmd.n_invoice_ids = invoice ? 1 : 0;
	produce_command(&cmd);
}

static void send_template(const char *name, const char *phone,
			  int64_t deadline_ms)
{
	send_template_for(name, name, phone, deadline_ms, NULL);
}

static void send_text(const char *name, const char *customer_name,
		      const char *phone, const char *text)
{
	Dunning__V1__SendCommand cmd = DUNNING__V1__SEND_COMMAND__INIT;
	char id[256], customer[128];

	snprintf(id, sizeof(id), "%s/%s", run_id, name);
	snprintf(customer, sizeof(customer), "cust-%s", customer_name);
	cmd.command_id = id;
	cmd.tenant = "demo";
	cmd.customer_id = customer;
	cmd.phone_e164 = (char *)phone;
	cmd.kind = DUNNING__V1__SEND_KIND__SEND_KIND_TEXT;
	cmd.text = (char *)text;
	produce_command(&cmd);
}

static void events_poll(int timeout_ms)
{
	rd_kafka_message_t *msg;
	const void *payload;
	size_t len;

	kafka_producer_poll(producer, 0);
	msg = kafka_consumer_poll(consumer, timeout_ms);
	while (msg) {
		payload = kafka_message_payload(msg, &len);
		if (event_count < EVENTS_MAX)
			events[event_count] =
				dunning__v1__message_event__unpack(NULL, len,
								   payload);
		assert_non_null(events[event_count]);
		event_count++;
		kafka_message_free(msg);
		msg = kafka_consumer_poll(consumer, 0);
	}
}

/* Events whose id is exactly event_id. */
static size_t events_with_id(const char *event_id)
{
	size_t i, n = 0;

	for (i = 0; i < event_count; i++)
		if (strcmp(events[i]->event_id, event_id) == 0)
			n++;
	return n;
}

/* The first event of command "<run>/<name>" with status, or NULL. */
static Dunning__V1__MessageEvent *event_of(const char *name,
					   Dunning__V1__DeliveryStatus status)
{
	char id[256];
	size_t i;

	snprintf(id, sizeof(id), "%s/%s", run_id, name);
	for (i = 0; i < event_count; i++)
		if (strcmp(events[i]->command_id, id) == 0 &&
		    events[i]->body_case ==
			    DUNNING__V1__MESSAGE_EVENT__BODY_STATUS &&
		    events[i]->status->status == status)
			return events[i];
	return NULL;
}

/* Waits up to timeout_ms for the status event of command name. */
static Dunning__V1__MessageEvent *
wait_event(const char *name, Dunning__V1__DeliveryStatus status, int timeout_ms)
{
	int64_t until = clock_real_now_ms() + timeout_ms;
	Dunning__V1__MessageEvent *ev;

	while (!(ev = event_of(name, status)) && clock_real_now_ms() < until)
		events_poll(100);
	return ev;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

#define ACCEPTED  DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_ACCEPTED
#define SENT	  DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT
#define DELIVERED DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_DELIVERED
#define READ	  DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_READ
#define FAILED	  DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_FAILED

/*
 * Waits up to timeout_ms until commands "<run>/<prefix>-000" to count - 1
 * all have an ACCEPTED event; returns how many are still missing.
 */
static int wait_accepted(const char *prefix, int count, int timeout_ms)
{
	int64_t until = clock_real_now_ms() + timeout_ms;
	char name[64];
	int i, missing;

	for (;;) {
		for (i = 0, missing = 0; i < count; i++) {
			snprintf(name, sizeof(name), "%s-%03d", prefix, i);
			if (!event_of(name, ACCEPTED))
				missing++;
		}
		if (missing == 0 || clock_real_now_ms() >= until)
			return missing;
		events_poll(200);
	}
}

static void test_command_sent_once_and_statuses_come_back(void **state)
{
	Dunning__V1__MessageEvent *accepted, *read;
	json_int_t before = sim_stat("messages_accepted");
	char id[1100];
	int64_t until;

	(void)state;
	send_template("once", "+34600100001", 0);
	send_template("once", "+34600100001", 0); /* delivered twice */
	accepted = wait_event("once", ACCEPTED, 15000);
	assert_non_null(accepted);
	assert_string_equal(accepted->tenant, "demo");
	assert_string_equal(accepted->customer_id, "cust-once");
	assert_string_equal(accepted->wa_id, "34600100001");
	assert_true(strncmp(accepted->wa_message_id, "wamid.", 6) == 0);
	assert_non_null(wait_event("once", SENT, 15000));
	read = wait_event("once", READ, 15000);
	assert_non_null(read);
	assert_string_equal(read->status->origin, "webhook");
	assert_string_equal(read->customer_id, "cust-once");

	/* Duplicated webhooks and the second command changed nothing. */
	events_poll(1500);
	snprintf(id, sizeof(id), "%s/read", accepted->wa_message_id);
	assert_int_equal(events_with_id(id), 1);
	assert_int_equal(sim_stat("messages_accepted") - before, 1);
	assert_int_equal(sim_stat("duplicates_received"), 0);

	/* The copy waits out the spacing to that person, then is found to
	 * be sent already. */
	until = clock_real_now_ms() + 15000;
	while (gateway_metric("dunning_gateway_commands_total{result="
			      "\"duplicate\"}") < 1 &&
	       clock_real_now_ms() < until)
		usleep(100000);
	assert_int_equal(gateway_metric("dunning_gateway_commands_total{"
					"result=\"duplicate\"}"),
			 1);
	assert_int_equal(sim_stat("messages_accepted") - before, 1);
}

static void test_brazilian_number_keeps_whatsapps_own_id(void **state)
{
	Dunning__V1__MessageEvent *accepted;

	(void)state;
	send_template("br", "+5511912345678", 0);
	accepted = wait_event("br", ACCEPTED, 15000);
	assert_non_null(accepted);
	assert_string_equal(accepted->wa_id, "551112345678");
	assert_non_null(wait_event("br", DELIVERED, 15000));
}

static void test_permanent_errors_become_failed_events(void **state)
{
	Dunning__V1__MessageEvent *sync_fail, *async_fail;

	(void)state;
	send_template("sync-fail", "+34611000002", 0);
	send_template("async-fail", "+34611000001", 0);
	sync_fail = wait_event("sync-fail", FAILED, 15000);
	assert_non_null(sync_fail);
	assert_int_equal(sync_fail->status->error_code, 131009);
	assert_string_equal(sync_fail->status->origin, "api");
	async_fail = wait_event("async-fail", FAILED, 15000);
	assert_non_null(async_fail);
	assert_int_equal(async_fail->status->error_code, 131026);
	assert_string_equal(async_fail->status->origin, "webhook");
	assert_true(gateway_metric("dunning_gateway_failed_total{code="
				   "\"131009\"}") >= 1);
}

static void test_expired_command_is_dropped_with_a_reason(void **state)
{
	Dunning__V1__MessageEvent *failed;
	json_int_t before = sim_stat("messages_accepted");

	(void)state;
	send_template("late", "+34600100002", clock_now_ms() - 1000);
	failed = wait_event("late", FAILED, 15000);
	assert_non_null(failed);
	assert_non_null(strstr(failed->status->error_title, "deadline"));
	assert_int_equal(sim_stat("messages_accepted"), before);
}

/* Writes the worker's record of customer "cust-<name>" of tenant demo,
 * under every partition's key (the test does not compute the one its
 * key hashes to): opt-in oi and one invoice record. */
static void worker_record(const char *name, const char *oi, const char *invoice,
			  const char *record)
{
	struct store *redis;
	char err[256];

	redis = store_new(getenv("DUNNING_REDIS_URL"), 2000, err, sizeof(err));
	assert_non_null(redis);
	for (int p = 0; p < 64; p++) {
		redisReply *reply = store_commandf(
			redis, "HSET dn:{p%d}:c:demo/cust-%s oi %s i:%s %s", p,
			name, oi, invoice, record);

		assert_non_null(reply);
		assert_int_not_equal(reply->type, REDIS_REPLY_ERROR);
		store_reply_free(reply);
	}
	store_free(redis);
}

static void test_reminder_paid_or_opted_out_meanwhile_is_dropped(void **state)
{
	Dunning__V1__MessageEvent *paid, *stopped, *partial;
	json_int_t before = sim_stat("messages_accepted");

	(void)state;
	worker_record("paid", "1", "F-9", "p|1|1|20270105|1000|EUR|1000|0|0|");
	worker_record("stopped", "2", "F-8", "o|1|1|20270105|1000|EUR|0|0|0|");
	worker_record("partial", "1", "F-7",
		      "o|1|1|20270105|1000|EUR|400|0|0|");
	send_template_for("paid", "paid", "+34600100021", 0, "F-9");
	send_template_for("stopped", "stopped", "+34600100022", 0, "F-8");
	send_template_for("partial", "partial", "+34600100023", 0, "F-7");

	paid = wait_event("paid", FAILED, 15000);
	stopped = wait_event("stopped", FAILED, 15000);
	partial = wait_event("partial", ACCEPTED, 15000);
	assert_non_null(paid);
	assert_non_null(stopped);
	assert_non_null(partial);
	assert_non_null(strstr(paid->status->error_title, "paid or closed"));
	assert_non_null(strstr(stopped->status->error_title, "opted out"));
	assert_int_equal(sim_stat("messages_accepted"), before + 1);
	assert_true(gateway_metric("dunning_gateway_commands_total{result="
				   "\"superseded\"}") >= 2);
	assert_true(gateway_metric("dunning_gateway_superseded_total{reason="
				   "\"opted_out\"}") >= 1);
	assert_true(gateway_metric("dunning_gateway_superseded_total{reason="
				   "\"closed\"}") >= 1);
}

static void test_free_text_only_inside_the_service_window(void **state)
{
	Dunning__V1__MessageEvent *refused, *reply, *accepted;
	char body[256];
	int64_t until;
	size_t i;

	(void)state;
	/* No message from the customer yet: refused before any call. */
	send_text("text-early", "ana", "+34600100003", "Hola!");
	refused = wait_event("text-early", FAILED, 15000);
	assert_non_null(refused);
	assert_non_null(strstr(refused->status->error_title, "24-hour"));

	/* A template makes the customer known; their reply opens the
	 * window and comes back as an event keyed to them. */
	send_template_for("text-tpl", "ana", "+34600100003", 0, NULL);
	assert_non_null(wait_event("text-tpl", ACCEPTED, 15000));
	snprintf(body, sizeof(body),
		 "{\"from\":\"+34600100003\",\"text\":\"hola, ¿cuánto es?\","
		 "\"phone_number_id\":\"%s\"}",
		 SENDER);
	assert_int_equal(sim_call("POST", "/sim/inbound", body, NULL), 200);
	reply = NULL;
	until = clock_real_now_ms() + 15000;
	while (!reply && clock_real_now_ms() < until) {
		events_poll(100);
		for (i = 0; i < event_count; i++)
			if (events[i]->body_case ==
				    DUNNING__V1__MESSAGE_EVENT__BODY_TEXT &&
			    strcmp(events[i]->customer_id, "cust-ana") == 0)
				reply = events[i];
	}
	assert_non_null(reply);
	assert_string_equal(reply->text->body, "hola, ¿cuánto es?");
	assert_string_equal(reply->event_id, reply->wa_message_id);

	/* Now a free-form answer goes out. */
	send_text("text-late", "ana", "+34600100003",
		  "Gracias,\nle contestamos \"hoy\".");
	accepted = wait_event("text-late", ACCEPTED, 15000);
	assert_non_null(accepted);
}

static void test_button_reply_is_matched_to_its_command(void **state)
{
	Dunning__V1__MessageEvent *accepted, *button = NULL;
	char body[512], id[256];
	int64_t until;
	size_t i;

	(void)state;
	send_template("button", "+34600100004", 0);
	accepted = wait_event("button", ACCEPTED, 15000);
	assert_non_null(accepted);
	snprintf(body, sizeof(body),
		 "{\"from\":\"+34600100004\",\"button\":\"paid\","
		 "\"context\":\"%s\",\"phone_number_id\":\"%s\"}",
		 accepted->wa_message_id, SENDER);
	assert_int_equal(sim_call("POST", "/sim/inbound", body, NULL), 200);
	snprintf(id, sizeof(id), "%s/button", run_id);
	until = clock_real_now_ms() + 15000;
	while (!button && clock_real_now_ms() < until) {
		events_poll(100);
		for (i = 0; i < event_count; i++)
			if (events[i]->body_case ==
				    DUNNING__V1__MESSAGE_EVENT__BODY_BUTTON &&
			    strcmp(events[i]->command_id, id) == 0)
				button = events[i];
	}
	assert_non_null(button);
	assert_string_equal(button->button->payload, "paid");
	assert_string_equal(button->customer_id, "cust-button");
	assert_string_equal(button->context_message_id,
			    accepted->wa_message_id);
}

static void test_webhook_without_valid_signature_is_refused(void **state)
{
	static const char body[] =
		"{\"object\":\"whatsapp_business_account\",\"entry\":[]}";
	char url[256], signature[80], *answer = NULL;
	long long before = gateway_metric(
		"dunning_gateway_webhook_signature_failures_total");

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhook", gateway.port);
	assert_int_equal(http("POST", url, body, NULL, NULL), 401);
	assert_int_equal(http("POST", url, body, "sha256=00", NULL), 401);
	webhook_signature_make(APP_SECRET, body, strlen(body), signature,
			       sizeof(signature));
	assert_int_equal(http("POST", url, body, signature, NULL), 200);
	webhook_signature_make(APP_SECRET, "{nope", 5, signature,
			       sizeof(signature));
	assert_int_equal(http("POST", url, "{nope", signature, NULL), 400);
	assert_int_equal(gateway_metric("dunning_gateway_webhook_signature_"
					"failures_total") -
				 before,
			 2);

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%d/webhook?hub.mode=subscribe&"
		 "hub.verify_token=" VERIFY_TOKEN "&hub.challenge=4242",
		 gateway.port);
	assert_int_equal(http("GET", url, NULL, NULL, &answer), 200);
	assert_string_equal(answer, "4242");
	free(answer);
	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%d/webhook?hub.mode=subscribe&"
		 "hub.verify_token=wrong&hub.challenge=4242",
		 gateway.port);
	assert_int_equal(http("GET", url, NULL, NULL, NULL), 403);
}

static void test_status_for_unknown_message_is_skipped(void **state)
{
	static const char body[] =
		"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":"
		"\"W\",\"changes\":[{\"field\":\"messages\",\"value\":{"
		"\"metadata\":{\"phone_number_id\":\"PN1\"},\"statuses\":["
		"{\"id\":\"wamid.NOBODY\",\"status\":\"read\",\"timestamp\":"
		"\"1767225600\",\"recipient_id\":\"1\"}]}}]}]}";
	char url[256], signature[80];
	long long before = gateway_metric(
		"dunning_gateway_webhook_items_total{result=\"unknown\"}");
	int64_t until = clock_real_now_ms() + 5000;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhook", gateway.port);
	webhook_signature_make(APP_SECRET, body, strlen(body), signature,
			       sizeof(signature));
	assert_int_equal(http("POST", url, body, signature, NULL), 200);
	while (gateway_metric("dunning_gateway_webhook_items_total{result="
			      "\"unknown\"}") == before &&
	       clock_real_now_ms() < until)
		usleep(50000);
	assert_int_equal(gateway_metric("dunning_gateway_webhook_items_total"
					"{result=\"unknown\"}") -
				 before,
			 1);
	events_poll(200);
	assert_int_equal(events_with_id("wamid.NOBODY/read"), 0);
}

static void test_repeated_reply_and_late_status_change_nothing(void **state)
{
	Dunning__V1__MessageEvent *accepted;
	char body[2048], id[1100], delivered_id[1100];
	size_t before, delivered_before;

	(void)state;
	send_template("direct", "+34600100005", 0);
	accepted = wait_event("direct", ACCEPTED, 15000);
	assert_non_null(accepted);
	assert_non_null(wait_event("direct", READ, 15000));
	events_poll(1500);
	snprintf(delivered_id, sizeof(delivered_id), "%s/delivered",
		 accepted->wa_message_id);
	delivered_before = events_with_id(delivered_id);

	/* A reply delivered twice, in a batch of two entries. */
	snprintf(body, sizeof(body),
		 "{\"object\":\"whatsapp_business_account\",\"entry\":["
		 "{\"id\":\"W\",\"changes\":[{\"field\":\"messages\","
		 "\"value\":{\"metadata\":{\"phone_number_id\":\"%s\"},"
		 "\"messages\":[{\"from\":\"34600100005\",\"id\":"
		 "\"wamid.%s.in\",\"timestamp\":\"1767225600\",\"type\":"
		 "\"interactive\",\"context\":{\"id\":\"%s\"},"
		 "\"interactive\":{\"type\":\"button_reply\","
		 "\"button_reply\":{\"id\":\"more_time\",\"title\":"
		 "\"Necesito m\\u00e1s tiempo \\ud83d\\ude4f\"}}}]}}]},"
		 "{\"id\":\"W\",\"changes\":[{\"field\":\"messages\","
		 "\"value\":{\"metadata\":{\"phone_number_id\":\"%s\"},"
		 "\"statuses\":[{\"id\":\"%s\",\"status\":\"delivered\","
		 "\"timestamp\":\"1767225601\",\"recipient_id\":"
		 "\"34600100005\"}]}}]}]}",
		 SENDER, run_id, accepted->wa_message_id, SENDER,
		 accepted->wa_message_id);
	assert_int_equal(post_signed(body), 200);
	assert_int_equal(post_signed(body), 200);
	snprintf(id, sizeof(id), "wamid.%s.in", run_id);
	before = event_count;
	{
		int64_t until = clock_real_now_ms() + 10000;

		while (events_with_id(id) == 0 && clock_real_now_ms() < until)
			events_poll(100);
	}
	events_poll(1500);
	assert_int_equal(events_with_id(id), 1);
	{
		size_t i;

		for (i = before; i < event_count; i++)
			if (strcmp(events[i]->event_id, id) == 0) {
				assert_string_equal(
					events[i]->interactive->title,
					"Necesito más tiempo 🙏");
				assert_string_equal(events[i]->command_id,
						    accepted->command_id);
			}
	}
	/* delivered after read: read stays read, no second event. */
	assert_int_equal(events_with_id(delivered_id), delivered_before);
	assert_true(gateway_metric("dunning_gateway_webhook_items_total"
				   "{result=\"duplicate\"}") >= 1);
	assert_true(gateway_metric("dunning_gateway_webhook_items_total"
				   "{result=\"stale\"}") >= 1);
}

/* A gateway like the test's, but whose Kafka cannot be reached. */
static void start_cut_off_gateway(struct spawn_child *c)
{
	char brokers[64], port[16];

	snprintf(brokers, sizeof(brokers), "127.0.0.1:%d", testenv_free_port());
	snprintf(port, sizeof(port), "%d", testenv_free_port());
	{
		/* clang-format off */
		const char *const env[] = {
			"DUNNING_KAFKA_BROKERS", brokers,
			"DUNNING_WA_BASE_URL", sim_base,
			"DUNNING_WA_TOKEN_FILE", token_path,
			"DUNNING_WA_APP_SECRET", APP_SECRET,
			"DUNNING_WA_VERIFY_TOKEN", VERIFY_TOKEN,
			"DUNNING_WA_SENDERS", "*=" SENDER,
			"DUNNING_GATEWAY_HTTP_PORT", port,
			"DUNNING_GATEWAY_TEMPLATES", templates,
			"DUNNING_GATEWAY_WEBHOOK_ACK_MS", "2000",
			NULL, NULL,
		};
		/* clang-format on */

		spawn_start(c, "dunning-gateway", env, NULL, SPAWN_TIMEOUT_MS);
	}
}

static void test_webhook_is_answered_once_its_events_are_stored(void **state)
{
	Dunning__V1__MessageEvent *accepted;
	struct spawn_child cut_off = { 0 };
	char body[2048], id[1100];
	int64_t until;

	(void)state;
	send_template("stored", "+34600100007", 0);
	accepted = wait_event("stored", ACCEPTED, 15000);
	assert_non_null(accepted);
	snprintf(id, sizeof(id), "wamid.%s.stored", run_id);
	snprintf(body, sizeof(body),
		 "{\"object\":\"whatsapp_business_account\",\"entry\":["
		 "{\"id\":\"W\",\"changes\":[{\"field\":\"messages\","
		 "\"value\":{\"metadata\":{\"phone_number_id\":\"%s\"},"
		 "\"messages\":[{\"from\":\"34600100007\",\"id\":\"%s\","
		 "\"timestamp\":\"1767225600\",\"type\":\"text\","
		 "\"context\":{\"id\":\"%s\"},"
		 "\"text\":{\"body\":\"Ja he pagat\"}}]}}]}]}",
		 SENDER, id, accepted->wa_message_id);

	/* A gateway that cannot store the reply does not say it has it,
	 * and does not remember it as handled... */
	start_cut_off_gateway(&cut_off);
	assert_int_equal(post_signed_to(cut_off.port, body), 503);
	spawn_stop(&cut_off, SIGKILL);

	/* ...so Meta's next try, to a gateway that can, is stored, and is
	 * in Kafka as soon as it is answered. */
	assert_int_equal(post_signed(body), 200);
	until = clock_real_now_ms() + 3000;
	while (events_with_id(id) == 0 && clock_real_now_ms() < until)
		events_poll(100);
	events_poll(1000);
	assert_int_equal(events_with_id(id), 1);
}

static void test_undecodable_command_goes_to_dead_letter(void **state)
{
	const char *topics[] = { "dunning.deadletter" };
	struct kafka_consumer *letters;
	rd_kafka_message_t *msg = NULL;
	char err[256], group[64];
	int64_t until;

	(void)state;
	letters = kafka_consumer_new(
		cfg, testenv_unique("gwtest-dl", group, sizeof(group)), topics,
		1, NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(letters);
	assert_int_equal(kafka_producer_send(producer, "whatsapp.send",
					     "demo/x", 6, "\xff\xff garbage",
					     10, NULL, err, sizeof(err)),
			 0);
	until = clock_real_now_ms() + 20000;
	while (!msg && clock_real_now_ms() < until)
		msg = kafka_consumer_poll(letters, 200);
	assert_non_null(msg);
	{
		size_t len;
		const void *payload = kafka_message_payload(msg, &len);
		Dunning__V1__DeadLetter *letter =
			dunning__v1__dead_letter__unpack(NULL, len, payload);

		assert_non_null(letter);
		assert_string_equal(letter->component, "gateway");
		assert_string_equal(letter->source_topic, "whatsapp.send");
		assert_int_equal(letter->payload.len, 10);
		dunning__v1__dead_letter__free_unpacked(letter, NULL);
	}
	kafka_message_free(msg);
	kafka_consumer_free(letters);
}

static void test_redis_pause_mid_run_loses_and_repeats_nothing(void **state)
{
	json_int_t before = sim_stat("messages_accepted");
	char name[64], phone[32], err[256];
	struct store *redis;
	redisReply *reply;
	int i, missing;

	(void)state;
	redis = store_new(getenv("DUNNING_REDIS_URL"), 2000, err, sizeof(err));
	assert_non_null(redis);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "rds-%03d", i);
		snprintf(phone, sizeof(phone), "+3464%07d", i);
		send_template(name, phone, 0);
	}
	kafka_producer_flush(producer, 5000);
	while (sim_stat("messages_accepted") - before < 40)
		usleep(20000);

	/* Redis answers nobody for longer than the gateway's timeout. */
	reply = store_commandf(redis, "CLIENT PAUSE 5000 ALL");
	assert_non_null(reply);
	store_reply_free(reply);
	missing = wait_accepted("rds", 200, 60000);
	assert_int_equal(missing, 0);
	assert_int_equal(sim_stat("messages_accepted") - before, 200);
	assert_int_equal(sim_stat("duplicates_received"), 0);
	store_free(redis);
}

static void test_restart_mid_run_loses_and_repeats_nothing(void **state)
{
	json_int_t before = sim_stat("messages_accepted");
	char name[64], phone[32];
	int i, missing;

	(void)state;
	for (i = 0; i < 240; i++) {
		snprintf(name, sizeof(name), "rst-%03d", i);
		snprintf(phone, sizeof(phone), "+3463%07d", i);
		send_template(name, phone, 0);
	}
	kafka_producer_flush(producer, 5000);
	while (sim_stat("messages_accepted") - before < 60)
		usleep(20000);

	/* A clean stop half way, then a new process takes over. */
	spawn_stop(&gateway, SIGTERM);
	assert_true(sim_stat("messages_accepted") - before < 240);
	start_gateway();
	missing = wait_accepted("rst", 240, 60000);
	assert_int_equal(missing, 0);
	assert_int_equal(sim_stat("messages_accepted") - before, 240);
	assert_int_equal(sim_stat("duplicates_received"), 0);
}

static void test_token_expiry_mid_run_loses_and_repeats_nothing(void **state)
{
	json_int_t before = sim_stat("messages_accepted");
	char name[64], phone[32];
	int i, missing;

	(void)state;
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "tok-%03d", i);
		snprintf(phone, sizeof(phone), "+3462%07d", i);
		send_template(name, phone, 0);
	}
	kafka_producer_flush(producer, 5000);

	/* Wait until sending is under way, then expire the token. */
	while (sim_stat("messages_accepted") - before < 40)
		usleep(20000);
	assert_int_equal(sim_call("POST", "/sim/token",
				  "{\"token\":\"token-two\"}", NULL),
			 200);
	usleep(1500 * 1000);
	assert_true(sim_stat("token_rejected") > 0);
	assert_true(gateway_metric("dunning_gateway_halted") == 1);
	{
		char url[128];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz",
			 gateway.port);
		assert_int_equal(http("GET", url, NULL, NULL, NULL), 503);
	}
	assert_true(sim_stat("messages_accepted") - before < 300);

	/* The operator writes the new token; the gateway picks it up. */
	write_token("token-two");
	missing = wait_accepted("tok", 300, 60000);
	assert_int_equal(missing, 0);
	print_message("# accepted %lld rejected-by-token %lld duplicates "
		      "%lld\n",
		      (long long)(sim_stat("messages_accepted") - before),
		      (long long)sim_stat("token_rejected"),
		      (long long)sim_stat("duplicates_received"));
	assert_int_equal(sim_stat("messages_accepted") - before, 300);
	assert_int_equal(sim_stat("duplicates_received"), 0);
	assert_int_equal(gateway_metric("dunning_gateway_halted"), 0);
}

/* ---------------------------------------------------------------------- */

/* Leaves no program behind, even when setup fails half way. */
static void stop_all(void)
{
	spawn_stop(&gateway, SIGTERM);
	spawn_stop(&simulator, SIGTERM);
}

static int setup(void **state)
{
	const char *topics[] = { "whatsapp.events" };
	char err[256], group[64];

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atexit(stop_all);
	cfg = testenv_config(NULL);
	testenv_unique("gwtest", run_id, sizeof(run_id));
	producer =
		kafka_producer_new(cfg, "gateway-test", NULL, err, sizeof(err));
	assert_non_null(producer);
	consumer = kafka_consumer_new(
		cfg, testenv_unique("gwtest-events", group, sizeof(group)),
		topics, 1, NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(consumer);
	start_programs();
	return 0;
}

static int teardown(void **state)
{
	size_t i;

	(void)state;
	spawn_stop(&gateway, SIGTERM);
	spawn_stop(&simulator, SIGTERM);
	for (i = 0; i < event_count && i < EVENTS_MAX; i++)
		dunning__v1__message_event__free_unpacked(events[i], NULL);
	kafka_consumer_free(consumer);
	kafka_producer_free(producer);
	config_free(cfg);
	unlink(token_path);
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_sent_once_and_statuses_come_back),
		cmocka_unit_test(test_brazilian_number_keeps_whatsapps_own_id),
		cmocka_unit_test(test_permanent_errors_become_failed_events),
		cmocka_unit_test(test_expired_command_is_dropped_with_a_reason),
		cmocka_unit_test(
			test_reminder_paid_or_opted_out_meanwhile_is_dropped),
		cmocka_unit_test(test_free_text_only_inside_the_service_window),
		cmocka_unit_test(test_button_reply_is_matched_to_its_command),
		cmocka_unit_test(
			test_webhook_without_valid_signature_is_refused),
		cmocka_unit_test(test_status_for_unknown_message_is_skipped),
		cmocka_unit_test(
			test_repeated_reply_and_late_status_change_nothing),
		cmocka_unit_test(
			test_webhook_is_answered_once_its_events_are_stored),
		cmocka_unit_test(test_undecodable_command_goes_to_dead_letter),
		cmocka_unit_test(
			test_redis_pause_mid_run_loses_and_repeats_nothing),
		cmocka_unit_test(
			test_restart_mid_run_loses_and_repeats_nothing),
		cmocka_unit_test(
			test_token_expiry_mid_run_loses_and_repeats_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
