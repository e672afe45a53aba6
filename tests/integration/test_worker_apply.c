/* test_worker_apply.c: the consumer's batches through apply_add,
 * apply_send and apply_flush on a real Redis: the events of many
 * customers in one flush, new invoices planned each by its own steps'
 * conditions, more events of one partition than one call takes,
 * duplicates within a flush, a bad event amid good ones, a call that fails
 * as a whole, a server that lost the script, and a batch in flight while
 * the next is queued: reported applied only once it is, and neither lost
 * nor applied twice when the connection drops under it; new invoices
 * written by apply.lua's short way as by its general one, and events seeing
 * the entries of new invoices before them in their call. Each test reads
 * back what it produced from the broker, so that it controls exactly
 * which events share a batch. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker_harness.h"

#include "apply.h"
#include "metrics.h"
#include "schedule.h"
#include "workflow.h"

/* Real speed: the notice of an invoice due on 9 March is planned for
 * 10:00 Madrid on 2 March (09:00 UTC), of one due on 20 March for 13
 * March; both are in the future. */
#define START	     "2026-03-02T08:00:00Z"
#define NOTICE_MAR9  "2026-03-02T09:00:00Z"
#define NOTICE_MAR20 "2026-03-13T09:00:00Z"
#define MESSAGES_MAX 512

/* A tenant whose notice is only for invoices of 1,000.00 EUR or more. */
static const char big_notice[] =
	"\n  bignotice:\n"
	"    steps:\n"
	"      - name: notice\n"
	"        offset_days: -7\n"
	"        send_time: \"10:00\"\n"
	"        conditions:\n"
	"          min_amount: {minor_units: 100000, currency: EUR}\n"
	"        fallback_locale: en\n"
	"        templates:\n"
	"          en: {template: payment_notice, language: en}\n"
	"      - name: due\n"
	"        offset_days: 0\n"
	"        send_time: \"10:00\"\n"
	"        fallback_locale: en\n"
	"        templates:\n"
	"          en: {template: payment_due, language: en}\n";

static struct wh_run run;
static struct store *store;
static struct metrics *metrics;
static struct workflow *wf;
static struct apply *apply;
static struct kafka_consumer *consumer;

/* What one flush read and what it counted. One for the whole program:
 * the consumer cannot close while a message is held, so a failed test's
 * messages are freed by the next test or the teardown. */
struct batch {
	rd_kafka_message_t *msgs[MESSAGES_MAX];
	size_t n;
	int64_t applied, duplicates, failed;
};

static struct batch b, b2;

static void batch_release(struct batch *batch)
{
	size_t i;

	for (i = 0; i < batch->n; i++)
		kafka_message_free(batch->msgs[i]);
	batch->n = 0;
}

static int setup(void **state)
{
	const char *topics[2];
	char url[256], err[512], group[64];
	FILE *out;

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as the worker: a write to a closed
				     connection is an error, not death */
	wh_run_init(&run, START, 1, 8, 5000);
	snprintf(url, sizeof(url), "%s/%d", getenv("DUNNING_REDIS_URL"),
		 run.db);
	store = store_new(url, 2000, err, sizeof(err));
	if (!store)
		fail_msg("redis: %s", err);
	metrics = metrics_new();
	assert_non_null(metrics);
	out = fopen(run.workflow, "a");
	assert_non_null(out);
	fputs(big_notice, out);
	fclose(out);
	if (workflow_load_file(run.workflow, &wf, err, sizeof(err)))
		fail_msg("workflow: %s", err);
	apply = apply_new(run.cfg, store, run.producer, wf, metrics, err,
			  sizeof(err));
	if (!apply)
		fail_msg("apply: %s", err);
	topics[0] = config_str(run.cfg, "DUNNING_TOPIC_INVOICE_EVENTS");
	topics[1] = config_str(run.cfg, "DUNNING_TOPIC_WHATSAPP_EVENTS");
	testenv_unique("wa", group, sizeof(group));
	consumer = kafka_consumer_new(run.cfg, group, topics, 2, NULL, NULL,
				      NULL, err, sizeof(err));
	if (!consumer)
		fail_msg("consumer: %s", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	batch_release(&b);
	batch_release(&b2);
	kafka_consumer_free(consumer);
	apply_free(apply);
	workflow_free(wf);
	metrics_free(metrics);
	store_free(store);
	schedule_thread_release();
	wh_run_release(&run);
	return 0;
}

static int64_t counter(const char *name)
{
	return metric_value(
		metrics_series(metrics, METRIC_COUNTER, name, "", NULL));
}

/* Reads the next n messages of tenant into batch, skipping other tenants'. */
static void batch_read(struct batch *batch, const char *tenant, size_t n)
{
	int64_t until = clock_real_now_ms() + 30000;
	size_t prefix = strlen(tenant);

	assert_true(n <= MESSAGES_MAX);
	batch_release(batch);
	memset(batch, 0, sizeof(*batch));
	wh_flush(&run);
	while (batch->n < n && clock_real_now_ms() < until) {
		rd_kafka_message_t *m = kafka_consumer_poll(consumer, 100);
		const char *key;
		size_t len;

		if (!m)
			continue;
		key = kafka_message_key(m, &len);
		if (key && len > prefix && memcmp(key, tenant, prefix) == 0 &&
		    key[prefix] == '/')
			batch->msgs[batch->n++] = m;
		else
			kafka_message_free(m);
	}
	assert_int_equal(batch->n, n);
}

/* Gives every message of batch to apply_add of to. */
static void batch_add_to(struct apply *to, const struct batch *batch)
{
	size_t i;

	for (i = 0; i < batch->n; i++)
		assert_int_equal(apply_add(to, batch->msgs[i]), 0);
}

/* Applies every message of batch in one flush and counts what it did. */
static void batch_apply(struct batch *batch)
{
	int64_t applied = counter("dunning_worker_events_applied_total");
	int64_t duplicates = counter("dunning_worker_events_duplicate_total");
	int64_t failed = counter("dunning_worker_apply_errors_total");
	char err[512];
	size_t i;

	for (i = 0; i < batch->n; i++)
		assert_int_equal(apply_add(apply, batch->msgs[i]), 0);
	assert_int_equal(apply_pending(apply), batch->n);
	if (apply_flush(apply, err, sizeof(err)))
		fail_msg("flush: %s", err);
	assert_int_equal(apply_pending(apply), 0);
	batch->applied =
		counter("dunning_worker_events_applied_total") - applied;
	batch->duplicates =
		counter("dunning_worker_events_duplicate_total") - duplicates;
	batch->failed = counter("dunning_worker_apply_errors_total") - failed;
}

/* The partition of the first message of batch whose key is tenant/customer. */
static int32_t partition_of(const struct batch *batch, const char *tenant,
			    const char *customer)
{
	char want[256];
	size_t i, len;

	snprintf(want, sizeof(want), "%s/%s", tenant, customer);
	for (i = 0; i < batch->n; i++) {
		const char *key = kafka_message_key(batch->msgs[i], &len);

		if (len == strlen(want) && memcmp(key, want, len) == 0)
			return kafka_message_partition(batch->msgs[i]);
	}
	fail_msg("no message of %s", want);
	return -1;
}

/* A field of a customer's hash (caller frees), or NULL. */
static char *customer_field(const char *tenant, const char *customer,
			    const char *field)
{
	int p, parts = (int)config_int(run.cfg, "DUNNING_KAFKA_PARTITIONS");
	char *text = NULL;

	for (p = 0; p < parts && !text; p++) {
		char key[256];
		const char *argv[3] = { "HGET", key, field };
		redisReply *r;

		snprintf(key, sizeof(key), "dn:{p%d}:c:%s/%s", p, tenant,
			 customer);
		r = store_command(run.redis, 3, argv, NULL);
		if (r && r->type == REDIS_REPLY_STRING)
			text = strdup(r->str);
		store_reply_free(r);
	}
	return text;
}

/* Field n (0-based) of an invoice's packed record, or "" when absent. */
static const char *record_field(const char *tenant, const char *customer,
				const char *invoice, int n)
{
	static char out[64];
	char field[128], *record, *at;

	snprintf(field, sizeof(field), "i:%s", invoice);
	record = customer_field(tenant, customer, field);
	out[0] = '\0';
	for (at = record; at && n > 0; n--) {
		at = strchr(at, '|');
		at = at ? at + 1 : NULL;
	}
	if (at)
		snprintf(out, sizeof(out), "%.*s", (int)strcspn(at, "|"), at);
	free(record);
	return out;
}

static void redis_run(const char *fmt, const char *arg)
{
	redisReply *r = store_commandf(run.redis, fmt, arg);

	assert_non_null(r);
	assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
	store_reply_free(r);
}

static void opted_in(const char *tenant, const char *customer)
{
	wh_customer(&run, tenant, customer, "Europe/Madrid", "es-ES",
		    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                    */

/*
 * 40 known customers, two new invoices each with different due dates, in
 * one flush with ten invoice events delivered twice and a payment
 * delivered twice: each event gets its own result and its own plan.
 */
static void test_flush_applies_each_event_of_many_customers(void **state)
{
	char tenant[64], customer[32];
	int i;

	(void)state;
	testenv_unique("many", tenant, sizeof(tenant));
	for (i = 0; i < 40; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		opted_in(tenant, customer);
	}
	batch_read(&b, tenant, 40);
	batch_apply(&b);
	assert_int_equal(b.applied, 40);
	batch_release(&b);

	for (i = 0; i < 40; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		wh_invoice(&run, tenant, customer, "A", 1, 2026, 3, 9, 50000);
		wh_invoice(&run, tenant, customer, "B", 1, 2026, 3, 20,
			   10000 + i);
	}
	for (i = 0; i < 10; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		wh_invoice(&run, tenant, customer, "A", 1, 2026, 3, 9, 50000);
	}
	wh_payment(&run, tenant, "c0", "A", "A/partial/1", 20000);
	wh_payment(&run, tenant, "c0", "A", "A/partial/1", 20000);
	batch_read(&b, tenant, 80 + 10 + 2);
	batch_apply(&b);
	assert_int_equal(b.failed, 0);
	assert_int_equal(b.applied, 80 + 1);
	assert_int_equal(b.duplicates, 10 + 1);
	batch_release(&b);

	for (i = 0; i < 40; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		assert_int_equal(wh_queue_score(&run, tenant, customer, "A"),
				 wh_instant(NOTICE_MAR9));
		assert_int_equal(wh_queue_score(&run, tenant, customer, "B"),
				 wh_instant(NOTICE_MAR20));
		assert_int_equal(strtoll(record_field(tenant, customer, "B", 4),
					 NULL, 10),
				 10000 + i);
	}
	/* The payment counted once: 200.00 of 500.00 paid. */
	assert_string_equal(record_field(tenant, "c0", "A", 6), "20000");
	assert_string_equal(record_field(tenant, "c1", "A", 6), "0");
}

/*
 * Invoices of one customer and due date in one flush whose amounts put
 * them on either side of a step's condition: each is planned by its own
 * steps, the small ones for the due day, the large ones for the notice.
 */
static void test_plans_follow_each_invoices_conditions(void **state)
{
	static const int64_t amounts[] = { 50000, 200000, 60000, 300000 };
	char customer[64], invoice[16];
	size_t i;

	(void)state;
	testenv_unique("c", customer, sizeof(customer));
	opted_in("bignotice", customer);
	batch_read(&b, "bignotice", 1);
	batch_apply(&b);
	for (i = 0; i < 4; i++) {
		snprintf(invoice, sizeof(invoice), "I%zu", i);
		wh_invoice(&run, "bignotice", customer, invoice, 1, 2026, 3, 9,
			   amounts[i]);
	}
	batch_read(&b, "bignotice", 4);
	batch_apply(&b);
	assert_int_equal(b.applied, 4);
	for (i = 0; i < 4; i++) {
		snprintf(invoice, sizeof(invoice), "I%zu", i);
		assert_int_equal(
			wh_queue_score(&run, "bignotice", customer, invoice),
			wh_instant(amounts[i] >= 100000
					   ? NOTICE_MAR9
					   : "2026-03-09T09:00:00Z"));
	}
}

/* 300 invoices of one customer: more than one call of its partition. */
static void test_events_of_one_partition_span_several_calls(void **state)
{
	char tenant[64], invoice[32];
	int i;

	(void)state;
	testenv_unique("one", tenant, sizeof(tenant));
	for (i = 0; i < 300; i++) {
		snprintf(invoice, sizeof(invoice), "F%03d", i);
		wh_invoice(&run, tenant, "c", invoice, 1, 2026, 3, 9, 100 + i);
	}
	batch_read(&b, tenant, 300);
	batch_apply(&b);
	assert_int_equal(b.failed, 0);
	assert_int_equal(b.applied, 300);
	batch_release(&b);
	for (i = 0; i < 300; i++) {
		snprintf(invoice, sizeof(invoice), "F%03d", i);
		assert_int_equal(strtoll(record_field(tenant, "c", invoice, 4),
					 NULL, 10),
				 100 + i);
		/* Unknown customer: queued at once for the timer to plan. */
		assert_true(wh_queue_score(&run, tenant, "c", invoice) > 0);
	}
}

/*
 * A customer whose hash is not a hash makes its event fail inside the
 * call; the events before and after it, of the same partition too, are
 * applied all the same and the failure is counted once.
 */
static void test_bad_event_costs_only_itself(void **state)
{
	char tenant[64], customer[32], key[256];
	int p, i, same = 0;
	int parts = (int)config_int(run.cfg, "DUNNING_KAFKA_PARTITIONS");
	int32_t bad;

	(void)state;
	testenv_unique("bad", tenant, sizeof(tenant));
	for (p = 0; p < parts; p++) {
		snprintf(key, sizeof(key), "dn:{p%d}:c:%s/c-bad", p, tenant);
		redis_run("SET %s not-a-hash", key);
	}
	for (i = 0; i < 30; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		if (i == 15)
			wh_invoice(&run, tenant, "c-bad", "X", 1, 2026, 3, 9,
				   500);
		wh_invoice(&run, tenant, customer, "A", 1, 2026, 3, 9, 500);
	}
	batch_read(&b, tenant, 31);
	bad = partition_of(&b, tenant, "c-bad");
	for (i = 0; i < 30; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		same += partition_of(&b, tenant, customer) == bad;
	}
	/* With 6 partitions, 30 customers share the bad one's. */
	assert_true(same > 0);
	batch_apply(&b);
	assert_int_equal(b.failed, 1);
	assert_int_equal(b.applied, 30);
	batch_release(&b);
	for (i = 0; i < 30; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		assert_string_equal(record_field(tenant, customer, "A", 0),
				    "o");
	}
}

/*
 * A call that fails after its events (here: the partition's stats are not
 * a hash, so the counters cannot be written) is made again one event per
 * call: every event's state is there, none is reported as failed, and the
 * failed call is counted once.
 */
static void test_call_failing_as_a_whole_is_retried_event_by_event(void **state)
{
	char tenant[64], customer[32], key[64];
	char *name;
	int i;

	(void)state;
	testenv_unique("whole", tenant, sizeof(tenant));
	for (i = 0; i < 12; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		opted_in(tenant, customer);
	}
	wh_invoice(&run, tenant, "c0", "A", 1, 2026, 3, 9, 500);
	batch_read(&b, tenant, 13);
	snprintf(key, sizeof(key), "dn:{p%d}:stats",
		 (int)partition_of(&b, tenant, "c0"));
	redis_run("SET %s not-a-hash", key);
	batch_apply(&b);
	redis_run("DEL %s", key);
	assert_int_equal(b.failed, 1);
	assert_int_equal(b.applied + b.duplicates, 13);
	batch_release(&b);
	for (i = 0; i < 12; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		name = customer_field(tenant, customer, "nm");
		assert_non_null(name);
		free(name);
	}
	assert_string_equal(record_field(tenant, "c0", "A", 0), "o");
}

/* Redis restarted or flushed its scripts: the calls load it again. */
static void test_script_lost_by_the_server_is_loaded_again(void **state)
{
	char tenant[64], customer[32];
	int i;

	(void)state;
	testenv_unique("noscript", tenant, sizeof(tenant));
	for (i = 0; i < 20; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		wh_invoice(&run, tenant, customer, "A", 1, 2026, 3, 9, 500);
	}
	batch_read(&b, tenant, 20);
	redis_run("SCRIPT %s", "FLUSH");
	batch_apply(&b);
	assert_int_equal(b.failed, 0);
	assert_int_equal(b.applied, 20);
	batch_release(&b);
}

/* Known, opted-in customers c0 .. c<n - 1> of tenant, applied. */
static void customers_known(const char *tenant, int n)
{
	char customer[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		opted_in(tenant, customer);
	}
	batch_read(&b, tenant, (size_t)n);
	batch_apply(&b);
	assert_int_equal(b.applied, n);
	batch_release(&b);
}

/* One new invoice named invoice, due on 9 March, per customer c0 .. c<n - 1>. */
static void invoices_of(const char *tenant, const char *invoice, int n)
{
	char customer[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		wh_invoice(&run, tenant, customer, invoice, 1, 2026, 3, 9,
			   50000);
	}
}

/*
 * A batch sent is reported applied only by the next send, once its
 * results are in: then every event of it is in Redis, planned, while the
 * batch sent after it is not reported.
 */
static void test_send_reports_a_batch_once_applied(void **state)
{
	int64_t applied = counter("dunning_worker_events_applied_total");
	char tenant[64], customer[32], err[512];
	size_t done = 99;
	int i;

	(void)state;
	testenv_unique("send", tenant, sizeof(tenant));
	customers_known(tenant, 20);
	invoices_of(tenant, "A", 20);
	batch_read(&b, tenant, 20);
	invoices_of(tenant, "B", 20);
	batch_read(&b2, tenant, 20);

	batch_add_to(apply, &b);
	assert_int_equal(apply_send(apply, &done, err, sizeof(err)), 0);
	assert_int_equal(done, 0);
	assert_int_equal(apply_pending(apply), 0);
	batch_add_to(apply, &b2);
	assert_int_equal(apply_pending(apply), 20);
	assert_int_equal(apply_send(apply, &done, err, sizeof(err)), 0);
	assert_int_equal(done, 20);
	for (i = 0; i < 20; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		assert_string_equal(record_field(tenant, customer, "A", 0),
				    "o");
		assert_int_equal(wh_queue_score(&run, tenant, customer, "A"),
				 wh_instant(NOTICE_MAR9));
	}
	if (apply_flush(apply, err, sizeof(err)))
		fail_msg("flush: %s", err);
	assert_int_equal(counter("dunning_worker_events_applied_total") -
				 applied,
			 20 + 40);
	for (i = 0; i < 20; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		assert_int_equal(wh_queue_score(&run, tenant, customer, "B"),
				 wh_instant(NOTICE_MAR9));
	}
}

/* The id of the connection apply uses, from Redis. */
static long long apply_client_id(void)
{
	redisReply *r = store_commandf(store, "CLIENT ID");
	long long id;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	id = r->integer;
	store_reply_free(r);
	return id;
}

/* Applies batch through an apply of its own, as if an earlier attempt
 * had applied it in Redis and lost the replies. */
static void batch_apply_elsewhere(const struct batch *batch)
{
	struct apply *other;
	char err[512];

	other = apply_new(run.cfg, store, run.producer, wf, metrics, err,
			  sizeof(err));
	assert_non_null(other);
	batch_add_to(other, batch);
	if (apply_flush(other, err, sizeof(err)))
		fail_msg("flush: %s", err);
	apply_free(other);
}

/*
 * The connection is closed while a batch (invoices and partial payments,
 * already applied in Redis by an earlier attempt whose replies were lost)
 * is in flight and the next one (more payments, new invoices) is sent:
 * nothing is reported applied, and once Redis answers again every event
 * is applied exactly once: the batch in flight again, as duplicates, each
 * payment counted once, each new invoice there.
 */
static void test_redis_failure_in_flight_loses_and_repeats_nothing(void **state)
{
	char tenant[64], customer[32], pay[48], id[32], err[512];
	int64_t applied, duplicates, failed;
	size_t done = 99;
	int i, tries = 0;

	(void)state;
	testenv_unique("drop", tenant, sizeof(tenant));
	customers_known(tenant, 10);
	for (i = 0; i < 10; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		wh_invoice(&run, tenant, customer, "A", 1, 2026, 3, 9, 50000);
		snprintf(pay, sizeof(pay), "%s/1", customer);
		wh_payment(&run, tenant, customer, "A", pay, 20000);
	}
	batch_read(&b, tenant, 20);
	for (i = 0; i < 10; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		snprintf(pay, sizeof(pay), "%s/2", customer);
		wh_payment(&run, tenant, customer, "A", pay, 10000);
		wh_invoice(&run, tenant, customer, "B", 1, 2026, 3, 9, 70000);
	}
	batch_read(&b2, tenant, 20);
	batch_apply_elsewhere(&b);
	applied = counter("dunning_worker_events_applied_total");
	duplicates = counter("dunning_worker_events_duplicate_total");
	failed = counter("dunning_worker_apply_errors_total");

	/* Redis may apply the batch in flight before the connection goes,
	 * or not: either way it is applied again, as duplicates. */
	snprintf(id, sizeof(id), "%lld", apply_client_id());
	batch_add_to(apply, &b);
	assert_int_equal(apply_send(apply, &done, err, sizeof(err)), 0);
	assert_int_equal(done, 0);
	redis_run("CLIENT KILL ID %s", id);
	batch_add_to(apply, &b2);
	assert_int_not_equal(apply_send(apply, &done, err, sizeof(err)), 0);
	assert_int_equal(done, 0);
	while (apply_flush(apply, err, sizeof(err)))
		assert_true(++tries < 3);
	assert_int_equal(apply_pending(apply), 0);

	assert_int_equal(counter("dunning_worker_apply_errors_total"), failed);
	assert_int_equal(
		counter("dunning_worker_events_applied_total") - applied, 20);
	assert_int_equal(counter("dunning_worker_events_duplicate_total") -
				 duplicates,
			 20);
	for (i = 0; i < 10; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		assert_string_equal(record_field(tenant, customer, "A", 6),
				    "30000");
		assert_string_equal(record_field(tenant, customer, "B", 4),
				    "70000");
	}
}

/*
 * The server lost the script under a batch in flight whose customers the
 * next batch's new invoices belong to: the first batch is applied once
 * the script is loaded again, and the next batch's invoices are planned
 * from the customers it created, not queued for the timer as unknown.
 */
static void test_lookups_follow_a_batch_applied_again(void **state)
{
	char tenant[64], customer[32], err[512];
	size_t done = 99;
	int i;

	(void)state;
	testenv_unique("again", tenant, sizeof(tenant));
	for (i = 0; i < 10; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		opted_in(tenant, customer);
	}
	batch_read(&b, tenant, 10);
	invoices_of(tenant, "A", 10);
	batch_read(&b2, tenant, 10);

	redis_run("SCRIPT %s", "FLUSH");
	batch_add_to(apply, &b);
	assert_int_equal(apply_send(apply, &done, err, sizeof(err)), 0);
	batch_add_to(apply, &b2);
	assert_int_equal(apply_send(apply, &done, err, sizeof(err)), 0);
	assert_int_equal(done, 10);
	if (apply_flush(apply, err, sizeof(err)))
		fail_msg("flush: %s", err);
	for (i = 0; i < 10; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		assert_int_equal(wh_queue_score(&run, tenant, customer, "A"),
				 wh_instant(NOTICE_MAR9));
	}
}

/*
 * A new invoice of a customer opted in takes apply.lua's short way, one of
 * a customer opted out the general one: both write the same record.
 */
static void test_new_invoice_record_is_the_same_either_way(void **state)
{
	char tenant[64], *in, *out;

	(void)state;
	testenv_unique("rec", tenant, sizeof(tenant));
	opted_in(tenant, "in");
	wh_customer(&run, tenant, "out", "Europe/Madrid", "es-ES",
		    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_OUT);
	batch_read(&b, tenant, 2);
	batch_apply(&b);
	wh_invoice(&run, tenant, "in", "A", 3, 2026, 3, 9, 50000);
	wh_invoice(&run, tenant, "out", "A", 3, 2026, 3, 9, 50000);
	batch_read(&b, tenant, 2);
	batch_apply(&b);
	assert_int_equal(b.applied, 2);
	in = customer_field(tenant, "in", "i:A");
	out = customer_field(tenant, "out", "i:A");
	assert_non_null(in);
	assert_non_null(out);
	assert_string_equal(in, "o|3|1|20260309|50000|EUR|0|0|0|");
	assert_string_equal(in, out);
	free(in);
	free(out);
	assert_int_equal(wh_queue_score(&run, tenant, "in", "A"),
			 wh_instant(NOTICE_MAR9));
}

/*
 * New invoices' entries are added to the queue at the end of their call,
 * or before an event after them in the call uses the queue: a new invoice
 * cancelled in the same call leaves no entry, and the others of the call
 * keep their planned ones.
 */
static void test_events_after_a_new_invoice_see_its_entry(void **state)
{
	char tenant[64];

	(void)state;
	testenv_unique("seq", tenant, sizeof(tenant));
	opted_in(tenant, "c");
	batch_read(&b, tenant, 1);
	batch_apply(&b);
	wh_invoice(&run, tenant, "c", "A", 1, 2026, 3, 9, 50000);
	wh_invoice(&run, tenant, "c", "B", 1, 2026, 3, 9, 50000);
	wh_close(&run, tenant, "c", "A", 0);
	wh_invoice(&run, tenant, "c", "C", 1, 2026, 3, 20, 50000);
	batch_read(&b, tenant, 4);
	batch_apply(&b);
	assert_int_equal(b.applied, 4);
	assert_int_equal(wh_queue_score(&run, tenant, "c", "A"), -1);
	assert_string_equal(record_field(tenant, "c", "A", 0), "c");
	assert_int_equal(wh_queue_score(&run, tenant, "c", "B"),
			 wh_instant(NOTICE_MAR9));
	assert_int_equal(wh_queue_score(&run, tenant, "c", "C"),
			 wh_instant(NOTICE_MAR20));
}

/*
 * The connection is closed under a batch that plans nothing (customers
 * only): applying it again, with no lookup to send first, connects again
 * all the same.
 */
static void test_batch_without_plans_is_applied_after_a_failure(void **state)
{
	char tenant[64], customer[32], id[32], err[512], *name;
	size_t done = 99;
	int i, tries = 0;

	(void)state;
	testenv_unique("noplan", tenant, sizeof(tenant));
	for (i = 0; i < 10; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		opted_in(tenant, customer);
	}
	batch_read(&b, tenant, 10);
	snprintf(id, sizeof(id), "%lld", apply_client_id());
	redis_run("CLIENT KILL ID %s", id);
	batch_add_to(apply, &b);
	/* Written onto the closed connection, or refused at once: either
	 * way the flush applies it, on a new connection. */
	(void)apply_send(apply, &done, err, sizeof(err));
	while (apply_flush(apply, err, sizeof(err)))
		assert_true(++tries < 3);
	assert_int_equal(apply_pending(apply), 0);
	for (i = 0; i < 10; i++) {
		snprintf(customer, sizeof(customer), "c%d", i);
		name = customer_field(tenant, customer, "nm");
		assert_non_null(name);
		free(name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_flush_applies_each_event_of_many_customers),
		cmocka_unit_test(test_plans_follow_each_invoices_conditions),
		cmocka_unit_test(
			test_events_of_one_partition_span_several_calls),
		cmocka_unit_test(test_bad_event_costs_only_itself),
		cmocka_unit_test(
			test_call_failing_as_a_whole_is_retried_event_by_event),
		cmocka_unit_test(
			test_script_lost_by_the_server_is_loaded_again),
		cmocka_unit_test(test_send_reports_a_batch_once_applied),
		cmocka_unit_test(
			test_redis_failure_in_flight_loses_and_repeats_nothing),
		cmocka_unit_test(test_lookups_follow_a_batch_applied_again),
		cmocka_unit_test(
			test_new_invoice_record_is_the_same_either_way),
		cmocka_unit_test(test_events_after_a_new_invoice_see_its_entry),
		cmocka_unit_test(
			test_batch_without_plans_is_applied_after_a_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
