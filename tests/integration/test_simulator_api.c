/* test_simulator_api.c: dunning-simulator as the gateway sees it. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starts the built simulator ($DUNNING_BIN/dunning-simulator) on a free
 * port, calls it with libcurl like the gateway does, and receives its
 * webhooks on a small lib/httpd.h server, checking every signature with
 * OpenSSL independently of the simulator's own code. Verifies: accepted
 * templates get the documented answer and signed sent, delivered and
 * read statuses carrying the callback data; a replaced token expires
 * (190, HTTP 401); fixed recipient failures arrive as failed statuses;
 * the messages-per-second limit answers 130429; a webhook refused by the
 * receiver is retried until it gets through; a command sent twice is
 * counted.
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
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "spawn.h"
#include "testenv.h"

#define SECRET	     "test-app-secret"
#define TOKEN	     "test-token"
#define RECEIVED_MAX 256

/* ---------------------------------------------------------------------- */
/* The webhook receiver                                                    */

struct receiver {
	pthread_mutex_t lock;
	json_t *bodies[RECEIVED_MAX];
	int count;
	int bad_signatures;
	int refuse_first; /* answer 503 to this many calls first */
	int calls;
	struct httpd *httpd;
};

static struct receiver rx;

static int signed_correctly(const struct http_request *req)
{
	const char *header = http_request_header(req, "X-Hub-Signature-256");
	unsigned char mac[32];
	unsigned int len = 0;
	char expected[80];
	unsigned int i;

	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	     (const unsigned char *)req->body, req->body_len, mac, &len);
	memcpy(expected, "sha256=", 8);
	for (i = 0; i < len; i++)
		snprintf(expected + 7 + 2 * i, 3, "%02x", mac[i]);
	return header && strcmp(header, expected) == 0;
}

/* Runs on the receiver's HTTP thread. */
static void on_webhook(void *ctx, const struct http_request *req,
		       struct http_response *resp)
{
	int refuse;

	(void)ctx;
	pthread_mutex_lock(&rx.lock);
	refuse = rx.calls++ < rx.refuse_first;
	if (!refuse) {
		if (!signed_correctly(req))
			rx.bad_signatures++;
		if (rx.count < RECEIVED_MAX)
			rx.bodies[rx.count++] = json_loads(req->body, 0, NULL);
	}
	pthread_mutex_unlock(&rx.lock);
	http_respond_text(resp, refuse ? 503 : 200, "text/plain", "ok");
}

/* Statuses received for wamid, as "sent,delivered,..." in arrival order;
 * counts failed statuses with error code in *failed_code. */
static void statuses_of(const char *wamid, char *out, size_t len,
			int *failed_code)
{
	json_t *entry, *change, *status;
	size_t i, j, k;
	int b;

	out[0] = '\0';
	pthread_mutex_lock(&rx.lock);
	for (b = 0; b < rx.count; b++)
		json_array_foreach(json_object_get(rx.bodies[b], "entry"), i,
				   entry)
			json_array_foreach(json_object_get(entry, "changes"), j,
					   change)
				json_array_foreach(
					json_object_get(
						json_object_get(change,
								"value"),
						"statuses"),
					k, status)
		{
			const char *id = json_string_value(
				json_object_get(status, "id"));

			if (!id || strcmp(id, wamid) != 0)
				continue;
			if (out[0])
				strncat(out, ",", len - strlen(out) - 1);
			strncat(out,
				json_string_value(
					json_object_get(status, "status")),
				len - strlen(out) - 1);
			if (failed_code && json_object_get(status, "errors"))
				*failed_code =
					(int)json_integer_value(json_object_get(
						json_array_get(
							json_object_get(
								status,
								"errors"),
							0),
						"code"));
		}
	pthread_mutex_unlock(&rx.lock);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits up to 10 s until wamid has a status containing want. */
static int wait_status(const char *wamid, const char *want, char *seen,
		       size_t len, int *failed_code)
{
	int i;

	for (i = 0; i < 200; i++) {
		statuses_of(wamid, seen, len, failed_code);
		if (strstr(seen, want))
			return 1;
		sleep_ms(50);
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The simulator process                                                   */

static struct spawn_child sim;

static void start_simulator(void)
{
	char url[128], templates[1024];
	const char *root = getenv("DUNNING_ROOT");
	/* clang-format off */
	const char *const env[] = {
		"DUNNING_SIM_WEBHOOK_URL", url,
		"DUNNING_SIM_HTTP_PORT", "0",
		"DUNNING_SIM_TEMPLATES", templates,
		"DUNNING_SIM_TOKEN", TOKEN,
		"DUNNING_SIM_APP_SECRET", SECRET,
		"DUNNING_SIM_MPS", "20",
		"DUNNING_SIM_FAIL_RECIPIENTS",
		"+34600000001=131026,+34600000002=131047",
		"DUNNING_SIM_DUPLICATE_PERMILLE", "0",
		"DUNNING_SIM_REORDER_PERMILLE", "0",
		"DUNNING_SIM_SENT_DELAY_MS", "50",
		"DUNNING_SIM_DELIVERED_DELAY_MS", "100",
		"DUNNING_SIM_READ_DELAY_MS", "150",
		NULL, NULL,
	};
	/* clang-format on */

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhook",
		 httpd_port(rx.httpd));
	snprintf(templates, sizeof(templates),
		 "%s/deploy/whatsapp-templates.json", root ? root : ".");

	spawn_start(&sim, "dunning-simulator", env, NULL, SPAWN_TIMEOUT_MS);
}

static int setup(void **state)
{
	struct http_route route = { "POST", "/webhook", on_webhook, NULL };
	char err[256];

	(void)state;
	pthread_mutex_init(&rx.lock, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rx.httpd = httpd_new("127.0.0.1", 0, &route, 1, 1 << 20, NULL, NULL,
			     NULL, err, sizeof(err));
	if (!rx.httpd)
		return -1;
	start_simulator();
	return 0;
}

static int teardown(void **state)
{
	int status, i;

	(void)state;
	status = spawn_stop(&sim, SIGTERM);
	httpd_free(rx.httpd);
	for (i = 0; i < rx.count; i++)
		json_decref(rx.bodies[i]);
	curl_global_cleanup();
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Calling it                                                              */

struct answer {
	long status;
	json_t *body;
};

static size_t collect_body(char *ptr, size_t size, size_t n, void *ctx)
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

static struct answer call(const char *path, const char *token, const char *body)
{
	struct curl_slist *headers = NULL;
	struct answer a = { 0, NULL };
	char url[256], auth[128];
	char *text = NULL;
	CURL *curl = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sim.port, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, auth);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &text);
	assert_int_equal(curl_easy_perform(curl), CURLE_OK);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
	a.body = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return a;
}

static struct answer send_template(const char *token, const char *to,
				   const char *callback)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"messaging_product\":\"whatsapp\",\"to\":\"%s\","
		 "\"type\":\"template\",\"biz_opaque_callback_data\":\"%s\","
		 "\"template\":{\"name\":\"payment_due\",\"language\":"
		 "{\"code\":\"es\"},\"components\":[{\"type\":\"body\","
		 "\"parameters\":[{\"type\":\"text\",\"text\":\"Ana\"},"
		 "{\"type\":\"text\",\"text\":\"F-1\"},{\"type\":\"text\","
		 "\"text\":\"10,00 EUR\"},{\"type\":\"text\",\"text\":"
		 "\"5/1/2027\"},{\"type\":\"text\",\"text\":\"IBAN\"}]}]}}",
		 to, callback);
	return call("/v21.0/106540352242922/messages", token, body);
}

static const char *wamid_of(const struct answer *a)
{
	return json_string_value(json_object_get(
		json_array_get(json_object_get(a->body, "messages"), 0), "id"));
}

static int error_code_of(const struct answer *a)
{
	return (int)json_integer_value(
		json_object_get(json_object_get(a->body, "error"), "code"));
}

static long stat_of(const char *name)
{
	struct answer a = call("/sim/stats", TOKEN, NULL);
	long value = (long)json_integer_value(json_object_get(a.body, name));

	json_decref(a.body);
	return value;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_accepted_template_gets_signed_statuses(void **state)
{
	struct answer a = send_template(TOKEN, "+52 55 1234 5678", "cmd-a");
	char seen[256];
	json_t *contact;

	(void)state;
	assert_int_equal(a.status, 200);
	contact = json_array_get(json_object_get(a.body, "contacts"), 0);
	assert_string_equal(
		json_string_value(json_object_get(contact, "input")),
		"+52 55 1234 5678");
	assert_string_equal(
		json_string_value(json_object_get(contact, "wa_id")),
		"5215512345678");
	assert_non_null(wamid_of(&a));
	assert_true(
		wait_status(wamid_of(&a), "read", seen, sizeof(seen), NULL));
	assert_string_equal(seen, "sent,delivered,read");
	assert_int_equal(rx.bad_signatures, 0);
	json_decref(a.body);
}

static void test_replaced_token_expires_at_once(void **state)
{
	struct answer a;

	(void)state;
	a = call("/sim/token", TOKEN, "{\"token\":\"second-token\"}");
	assert_int_equal(a.status, 200);
	json_decref(a.body);
	a = send_template(TOKEN, "+34600123456", "cmd-b");
	assert_int_equal(a.status, 401);
	assert_int_equal(error_code_of(&a), 190);
	json_decref(a.body);
	a = send_template("second-token", "+34600123456", "cmd-b");
	assert_int_equal(a.status, 200);
	json_decref(a.body);
	a = call("/sim/token", TOKEN, "{\"token\":\"" TOKEN "\"}");
	json_decref(a.body);
}

static void test_undeliverable_recipient_gets_failed_status(void **state)
{
	struct answer a = send_template(TOKEN, "+34600000001", "cmd-c");
	char seen[256];
	int code = 0;

	(void)state;
	assert_int_equal(a.status, 200);
	assert_true(
		wait_status(wamid_of(&a), "failed", seen, sizeof(seen), &code));
	assert_int_equal(code, 131026);
	assert_null(strstr(seen, "delivered"));
	json_decref(a.body);
}

static void test_bad_template_gets_documented_error(void **state)
{
	struct answer a = call("/v21.0/1065/messages", TOKEN,
			       "{\"messaging_product\":\"whatsapp\",\"to\":"
			       "\"+34600123456\",\"type\":\"template\","
			       "\"template\":{\"name\":\"payment_due\","
			       "\"language\":{\"code\":\"es\"},\"components\":"
			       "[{\"type\":\"body\",\"parameters\":[{\"type\":"
			       "\"text\",\"text\":\"Ana\"}]}]}}");

	(void)state;
	assert_int_equal(a.status, 400);
	assert_int_equal(error_code_of(&a), 132000);
	assert_non_null(json_object_get(json_object_get(a.body, "error"),
					"fbtrace_id"));
	json_decref(a.body);
}

static void test_messages_per_second_limit_answers_130429(void **state)
{
	int i, limited = 0, accepted = 0;
	char callback[32];

	(void)state;
	for (i = 0; i < 40; i++) {
		struct answer a;

		snprintf(callback, sizeof(callback), "burst-%d", i);
		a = send_template(TOKEN, "+34600555000", callback);
		if (a.status == 200)
			accepted++;
		else if (error_code_of(&a) == 130429)
			limited++;
		json_decref(a.body);
	}
	assert_true(limited > 0);
	assert_true(accepted >= 10);
	assert_true(stat_of("rate_limited") >= limited);
}

static void test_refused_webhook_is_retried_until_delivered(void **state)
{
	struct answer a;
	char seen[256];

	(void)state;
	sleep_ms(1200); /* let the rate limit bucket refill */
	pthread_mutex_lock(&rx.lock);
	rx.refuse_first = rx.calls + 3;
	pthread_mutex_unlock(&rx.lock);
	a = send_template(TOKEN, "+34600777000", "cmd-retry");
	assert_int_equal(a.status, 200);
	assert_true(
		wait_status(wamid_of(&a), "read", seen, sizeof(seen), NULL));
	assert_non_null(strstr(seen, "delivered"));
	assert_true(stat_of("webhooks_failed") >= 3);
	json_decref(a.body);
}

static void test_same_callback_twice_is_counted(void **state)
{
	struct answer a;
	long before = stat_of("duplicates_received");

	(void)state;
	a = send_template(TOKEN, "+34600888000", "cmd-twice");
	json_decref(a.body);
	a = send_template(TOKEN, "+34600888000", "cmd-twice");
	assert_int_equal(a.status, 200);
	json_decref(a.body);
	assert_int_equal(stat_of("duplicates_received"), before + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted_template_gets_signed_statuses),
		cmocka_unit_test(test_replaced_token_expires_at_once),
		cmocka_unit_test(
			test_undeliverable_recipient_gets_failed_status),
		cmocka_unit_test(test_bad_template_gets_documented_error),
		cmocka_unit_test(test_messages_per_second_limit_answers_130429),
		cmocka_unit_test(
			test_refused_webhook_is_retried_until_delivered),
		cmocka_unit_test(test_same_callback_twice_is_counted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
