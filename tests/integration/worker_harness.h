/* worker_harness.h: what the worker's integration tests share. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starts real dunning-worker processes from $DUNNING_BIN against the stack
 * of the test (Redis and the local broker), each with a simulated clock, a
 * consumer group and a Redis database of its own so that tests in one
 * program do not see each other's state. Produces ledger and message
 * events as the producer and the gateway would, and reads back what the
 * worker emits. Every helper fails the test on error.
 *
 * Times: START is a simulated UTC instant; the worker and the test agree
 * on the clock because both are given the same START, ANCHOR and SPEED.
 */
#ifndef DUNNING_WORKER_HARNESS_H
#define DUNNING_WORKER_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock.h"
#include "config.h"
#include "error.h"
#include "kafka.h"
#include "spawn.h"
#include "store.h"
#include "testenv.h"

#include "dunning/v1/collections.pb-c.h"
#include "dunning/v1/deadletter.pb-c.h"
#include "dunning/v1/ledger.pb-c.h"
#include "dunning/v1/whatsapp.pb-c.h"

#include <hiredis/hiredis.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WH_SENDS_MAX 4096

struct wh_worker {
	struct spawn_child child; /* pid and port */
};

/* The clock and Redis database shared by the workers of one test. */
struct wh_run {
	char start[32];
	char anchor[40];
	int64_t speed;
	int db;
	char group[64];
	char workflow[512];
	char lease_ms[16];
	struct config *cfg;
	struct kafka_producer *producer;
	struct store *redis;
};

static inline void wh_sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline void wh_iso(int64_t ms, char *out, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static inline int64_t wh_instant(const char *iso)
{
	int64_t ms = 0;

	assert_int_equal(config_parse_instant(iso, &ms), 0);
	return ms;
}

/* The default workflow plus a tenant "nocons" that sends one message per
 * invoice, at most one per customer and day. */
static inline void wh_write_workflow(struct wh_run *run)
{
	const char *root = getenv("DUNNING_ROOT");
	const char *dir = getenv("DUNNING_STACK_DIR");
	char src[512];
	size_t len = 0;
	char *text;
	FILE *out;

	snprintf(src, sizeof(src), "%s/deploy/workflow.yaml",
		 root ? root : ".");
	text = testenv_read_file(src, &len);
	assert_non_null(text);
	snprintf(run->workflow, sizeof(run->workflow), "%s/workflow-%d.yaml",
		 dir ? dir : "/tmp", (int)getpid());
	out = fopen(run->workflow, "w");
	assert_non_null(out);
	fwrite(text, 1, len, out);
	fputs("\n  nocons:\n    consolidation: false\n"
	      "    frequency_cap:\n      max_messages: 1\n      per_days: 1\n",
	      out);
	fclose(out);
	free(text);
}

static inline void wh_redis_select(struct wh_run *run)
{
	char url[256];
	const char *base = getenv("DUNNING_REDIS_URL");
	char err[256];
	redisReply *r;

	snprintf(url, sizeof(url), "%s/%d", base, run->db);
	run->redis = store_new(url, 2000, err, sizeof(err));
	if (!run->redis)
		fail_msg("redis: %s", err);
	r = store_commandf(run->redis, "FLUSHDB");
	store_reply_free(r);
}

/*
 * Prepares a run: simulated clock from start_iso at speed, anchored now,
 * Redis database db (1..15), a fresh consumer group, leases of lease_ms.
 */
static inline void wh_run_init(struct wh_run *run, const char *start_iso,
			       int64_t speed, int db, int64_t lease_ms)
{
	char err[256];
	int64_t anchor = clock_real_now_ms();

	memset(run, 0, sizeof(*run));
	snprintf(run->start, sizeof(run->start), "%s", start_iso);
	wh_iso(anchor, run->anchor, sizeof(run->anchor));
	run->speed = speed;
	run->db = db;
	snprintf(run->lease_ms, sizeof(run->lease_ms), "%" PRId64, lease_ms);
	testenv_unique("wg", run->group, sizeof(run->group));
	clock_use_simulated(wh_instant(start_iso), anchor, speed);
	run->cfg = testenv_config(NULL);
	run->producer = kafka_producer_new(run->cfg, "worker-test", NULL, err,
					   sizeof(err));
	if (!run->producer)
		fail_msg("producer: %s", err);
	wh_write_workflow(run);
	wh_redis_select(run);
}

static inline void wh_run_release(struct wh_run *run)
{
	kafka_producer_free(run->producer);
	store_free(run->redis);
	config_free(run->cfg);
	unlink(run->workflow);
}

/* Starts a worker of run; waits for its "listening=" line. Its output
 * goes to one log per run in the stack's directory. */
static inline void wh_worker_start(struct wh_run *run, struct wh_worker *w)
{
	const char *dir = getenv("DUNNING_STACK_DIR");
	char url[256], log[512], speed[24];
	/* clang-format off */
	const char *const env[] = {
		"DUNNING_REDIS_URL", url,
		"DUNNING_CLOCK", "simulated",
		"DUNNING_CLOCK_START", run->start,
		"DUNNING_CLOCK_ANCHOR", run->anchor,
		"DUNNING_CLOCK_SPEED", speed,
		"DUNNING_WORKER_GROUP", run->group,
		"DUNNING_WORKER_WORKFLOW", run->workflow,
		"DUNNING_WORKER_HTTP_PORT", "0",
		"DUNNING_WORKER_LEASE_MS", run->lease_ms,
		NULL, NULL,
	};
	/* clang-format on */

	snprintf(url, sizeof(url), "%s/%d", getenv("DUNNING_REDIS_URL"),
		 run->db);
	snprintf(log, sizeof(log), "%s/worker-%s-%d.log", dir ? dir : "/tmp",
		 run->group, (int)getpid());
	snprintf(speed, sizeof(speed), "%" PRId64, run->speed);
	spawn_start(&w->child, "dunning-worker", env, log, SPAWN_TIMEOUT_MS);
}

static inline void wh_worker_stop(struct wh_worker *w, int sig)
{
	spawn_stop(&w->child, sig);
}

/* The value of a metric series (exact name with labels) of a worker's
 * /metrics, or -1 when absent or unreachable. */
static inline int64_t wh_metric(const struct wh_worker *w, const char *series)
{
	char request[128], reply[65536], *at;
	struct sockaddr_in addr = { 0 };
	size_t used = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)w->child.port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(request, sizeof(request),
		 "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    write(fd, request, strlen(request)) < 0) {
		close(fd);
		return -1;
	}
	while (used + 1 < sizeof(reply) &&
	       (n = read(fd, reply + used, sizeof(reply) - used - 1)) > 0)
		used += (size_t)n;
	close(fd);
	reply[used] = '\0';
	for (at = strstr(reply, series); at; at = strstr(at + 1, series))
		if (at[-1] == '\n' && at[strlen(series)] == ' ')
			return strtoll(at + strlen(series) + 1, NULL, 10);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Events in                                                                */

static inline void wh_send(struct wh_run *run, const char *topic_key,
			   const char *tenant, const char *customer,
			   const ProtobufCMessage *msg)
{
	char key[256], err[256];
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len + 1);

	assert_non_null(buf);
	protobuf_c_message_pack(msg, buf);
	assert_int_equal(kafka_key_format(key, sizeof(key), tenant, customer),
			 0);
	if (kafka_producer_send(run->producer, config_str(run->cfg, topic_key),
				key, strlen(key), buf, len, NULL, err,
				sizeof(err)))
		fail_msg("produce: %s", err);
	free(buf);
}

static inline void wh_ledger(struct wh_run *run, Dunning__V1__LedgerEvent *e,
			     const char *tenant, const char *customer,
			     const char *event_id)
{
	e->tenant = (char *)tenant;
	e->customer_id = (char *)customer;
	e->event_id = (char *)event_id;
	e->occurred_at_ms = clock_now_ms();
	e->published_at_ms = e->occurred_at_ms;
	wh_send(run, "DUNNING_TOPIC_INVOICE_EVENTS", tenant, customer,
		&e->base);
}

static inline void wh_customer(struct wh_run *run, const char *tenant,
			       const char *customer, const char *zone,
			       const char *locale,
			       Dunning__V1__OptInStatus opt_in)
{
	Dunning__V1__CustomerUpserted c = DUNNING__V1__CUSTOMER_UPSERTED__INIT;
	Dunning__V1__LedgerEvent e = DUNNING__V1__LEDGER_EVENT__INIT;
	char id[256];

	c.name = "Joan Garcia";
	c.phone_e164 = "+34600111222";
	c.locale = (char *)locale;
	c.time_zone = (char *)zone;
	c.opt_in = opt_in;
	c.opt_in_at_ms = 1;
	c.version = 1;
	e.body_case = DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED;
	e.customer_upserted = &c;
	snprintf(id, sizeof(id), "%s/%s/customer/1", tenant, customer);
	wh_ledger(run, &e, tenant, customer, id);
}

/* An invoice of minor units EUR due on yyyy-mm-dd, at version. */
static inline void wh_invoice(struct wh_run *run, const char *tenant,
			      const char *customer, const char *invoice,
			      int64_t version, int y, int m, int d,
			      int64_t minor)
{
	Dunning__V1__InvoiceUpserted u = DUNNING__V1__INVOICE_UPSERTED__INIT;
	Dunning__V1__LedgerEvent e = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__Money amount = DUNNING__V1__MONEY__INIT;
	Dunning__V1__Date due = DUNNING__V1__DATE__INIT;
	char id[256];

	amount.minor_units = minor;
	amount.currency = "EUR";
	due.year = y;
	due.month = m;
	due.day = d;
	u.invoice_id = (char *)invoice;
	u.kind = DUNNING__V1__DOCUMENT_KIND__DOCUMENT_KIND_INVOICE;
	u.due_date = &due;
	u.due_date_source =
		DUNNING__V1__DUE_DATE_SOURCE__DUE_DATE_SOURCE_EXPLICIT;
	u.amount = &amount;
	u.version = version;
	u.payment_link = "https://pay.example/i";
	e.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED;
	e.invoice_upserted = &u;
	snprintf(id, sizeof(id), "%s/%s/%s/v%" PRId64, tenant, customer,
		 invoice, version);
	wh_ledger(run, &e, tenant, customer, id);
}

static inline void wh_payment(struct wh_run *run, const char *tenant,
			      const char *customer, const char *invoice,
			      const char *payment_id, int64_t minor)
{
	Dunning__V1__PaymentReceived p = DUNNING__V1__PAYMENT_RECEIVED__INIT;
	Dunning__V1__LedgerEvent e = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__Money amount = DUNNING__V1__MONEY__INIT;
	char id[256];

	amount.minor_units = minor;
	amount.currency = "EUR";
	p.invoice_id = (char *)invoice;
	p.amount = &amount;
	p.payment_id = (char *)payment_id;
	e.body_case = DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED;
	e.payment_received = &p;
	snprintf(id, sizeof(id), "pay/%s", payment_id);
	wh_ledger(run, &e, tenant, customer, id);
}

/* A cancellation (disputed false) or a dispute (true). */
static inline void wh_close(struct wh_run *run, const char *tenant,
			    const char *customer, const char *invoice,
			    int disputed)
{
	Dunning__V1__InvoiceCancelled c = DUNNING__V1__INVOICE_CANCELLED__INIT;
	Dunning__V1__InvoiceDisputed d = DUNNING__V1__INVOICE_DISPUTED__INIT;
	Dunning__V1__LedgerEvent e = DUNNING__V1__LEDGER_EVENT__INIT;
	char id[256];

	c.invoice_id = d.invoice_id = (char *)invoice;
	if (disputed) {
		e.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_DISPUTED;
		e.invoice_disputed = &d;
	} else {
		e.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_CANCELLED;
		e.invoice_cancelled = &c;
	}
	snprintf(id, sizeof(id), "%s/%s/%s/%s", tenant, customer, invoice,
		 disputed ? "dispute" : "cancel");
	wh_ledger(run, &e, tenant, customer, id);
}

/* A text typed by the customer, as the gateway reports it. */
static inline void wh_reply(struct wh_run *run, const char *tenant,
			    const char *customer, const char *message_id,
			    const char *text)
{
	Dunning__V1__MessageEvent e = DUNNING__V1__MESSAGE_EVENT__INIT;
	Dunning__V1__InboundText t = DUNNING__V1__INBOUND_TEXT__INIT;

	t.body = (char *)text;
	e.event_id = (char *)message_id;
	e.tenant = (char *)tenant;
	e.customer_id = (char *)customer;
	e.wa_message_id = (char *)message_id;
	e.wa_id = "34600111222";
	e.occurred_at_ms = clock_now_ms();
	e.body_case = DUNNING__V1__MESSAGE_EVENT__BODY_TEXT;
	e.text = &t;
	wh_send(run, "DUNNING_TOPIC_WHATSAPP_EVENTS", tenant, customer,
		&e.base);
}

/* A tap on a quick-reply button with payload. */
static inline void wh_button(struct wh_run *run, const char *tenant,
			     const char *customer, const char *message_id,
			     const char *payload)
{
	Dunning__V1__MessageEvent e = DUNNING__V1__MESSAGE_EVENT__INIT;
	Dunning__V1__ButtonReply b = DUNNING__V1__BUTTON_REPLY__INIT;

	b.payload = (char *)payload;
	b.text = "Stop reminders";
	e.event_id = (char *)message_id;
	e.tenant = (char *)tenant;
	e.customer_id = (char *)customer;
	e.wa_message_id = (char *)message_id;
	e.occurred_at_ms = clock_now_ms();
	e.body_case = DUNNING__V1__MESSAGE_EVENT__BODY_BUTTON;
	e.button = &b;
	wh_send(run, "DUNNING_TOPIC_WHATSAPP_EVENTS", tenant, customer,
		&e.base);
}

static inline void wh_flush(struct wh_run *run)
{
	assert_int_equal(kafka_producer_flush(run->producer, 10000), 0);
}

/* ---------------------------------------------------------------------- */
/* Messages out                                                             */

struct wh_reader {
	struct kafka_consumer *consumer;
};

static inline void wh_reader_open(struct wh_run *run, struct wh_reader *r,
				  const char *topic_key)
{
	char group[64], err[256];
	const char *topic = config_str(run->cfg, topic_key);

	testenv_unique("wr", group, sizeof(group));
	r->consumer = kafka_consumer_new(run->cfg, group, &topic, 1, NULL, NULL,
					 NULL, err, sizeof(err));
	if (!r->consumer)
		fail_msg("consumer: %s", err);
}

static inline void wh_reader_close(struct wh_reader *r)
{
	kafka_consumer_free(r->consumer);
}

/* Send commands of tenant collected so far. */
struct wh_sends {
	Dunning__V1__SendCommand *cmd[WH_SENDS_MAX];
	size_t n;
};

static inline void wh_sends_release(struct wh_sends *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		dunning__v1__send_command__free_unpacked(s->cmd[i], NULL);
	s->n = 0;
}

/*
 * Reads whatsapp.send for up to wait_ms real ms, keeping the commands of
 * tenant (NULL: of any tenant), and returns early once want (> 0) of them are in.
 */
static inline void wh_collect(struct wh_reader *r, const char *tenant,
			      struct wh_sends *s, size_t want, int64_t wait_ms)
{
	int64_t until = clock_real_now_ms() + wait_ms;

	while (clock_real_now_ms() < until && (want == 0 || s->n < want)) {
		rd_kafka_message_t *m = kafka_consumer_poll(r->consumer, 100);
		Dunning__V1__SendCommand *cmd;
		const uint8_t *data;
		size_t len;

		if (!m)
			continue;
		data = kafka_message_payload(m, &len);
		cmd = dunning__v1__send_command__unpack(NULL, len, data);
		kafka_message_free(m);
		if (!cmd)
			continue;
		if ((tenant && strcmp(cmd->tenant, tenant) != 0) ||
		    s->n >= WH_SENDS_MAX) {
			dunning__v1__send_command__free_unpacked(cmd, NULL);
			continue;
		}
		s->cmd[s->n++] = cmd;
	}
}

/* Commands of s addressed to customer. */
static inline size_t wh_count_for(const struct wh_sends *s,
				  const char *customer)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		n += strcmp(s->cmd[i]->customer_id, customer) == 0;
	return n;
}

static inline const Dunning__V1__SendCommand *
wh_first_for(const struct wh_sends *s, const char *customer)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->cmd[i]->customer_id, customer) == 0)
			return s->cmd[i];
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Redis                                                                    */

/* Sum of a stats field over every partition. */
static inline int64_t wh_stat(struct wh_run *run, const char *field)
{
	int64_t total = 0;
	int p, parts = (int)config_int(run->cfg, "DUNNING_KAFKA_PARTITIONS");

	for (p = 0; p < parts; p++) {
		redisReply *r = store_commandf(
			run->redis, "HGET dn:{p%d}:stats %s", p, field);

		if (r && r->type == REDIS_REPLY_STRING)
			total += strtoll(r->str, NULL, 10);
		store_reply_free(r);
	}
	return total;
}

/* Score of an invoice's queue entry (-1 when not queued). */
static inline int64_t wh_queue_score(struct wh_run *run, const char *tenant,
				     const char *customer, const char *invoice)
{
	int p, parts = (int)config_int(run->cfg, "DUNNING_KAFKA_PARTITIONS");
	char member[512];
	int64_t score = -1;

	snprintf(member, sizeof(member), "%s/%s\x1f%s", tenant, customer,
		 invoice);
	for (p = 0; p < parts && score < 0; p++) {
		char key[64];
		const char *argv[3] = { "ZSCORE", key, member };
		redisReply *r;

		snprintf(key, sizeof(key), "dn:{p%d}:q", p);
		r = store_command(run->redis, 3, argv, NULL);
		if (r && r->type == REDIS_REPLY_STRING)
			score = (int64_t)strtod(r->str, NULL);
		store_reply_free(r);
	}
	return score;
}

/* Waits up to wait_ms real ms until a stats field reaches at least want. */
static inline int64_t wh_wait_stat(struct wh_run *run, const char *field,
				   int64_t want, int64_t wait_ms)
{
	int64_t until = clock_real_now_ms() + wait_ms, v;

	while ((v = wh_stat(run, field)) < want && clock_real_now_ms() < until)
		wh_sleep_ms(50);
	return v;
}

/* Real ms until the simulated instant iso. */
static inline int64_t wh_real_until(const char *iso)
{
	return clock_real_delay_ms(wh_instant(iso));
}

#endif
