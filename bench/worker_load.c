/* worker_load.c: load for bench/worker.sh (events in Kafka, state in Redis). */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker_load customers N
 *     produces N CustomerUpserted events of tenant "bench" (opted in,
 *     Europe/Madrid, es-ES) to invoice.events;
 * worker_load invoices COUNT CUSTOMERS
 *     produces COUNT InvoiceUpserted events spread over CUSTOMERS
 *     customers, due on 2026-03-20;
 * worker_load seed COUNT PARTITIONS DUE_MS
 *     writes, as Redis protocol on standard output (for redis-cli --pipe),
 *     COUNT customers with one open invoice each, due on 2026-03-09 and
 *     queued at DUE_MS, in the worker's own layout (docs/redis-keys.md):
 *     a million reminders due at the same instant without a million
 *     Kafka messages, which the local broker would not keep.
 *
 * Environment: the stack's DUNNING_KAFKA_BROKERS.
 */
#include "config.h"
#include "kafka.h"
#include "shard.h"

#include "dunning/v1/ledger.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct kafka_producer *producer;
static struct config *cfg;

static void produce(const char *customer, Dunning__V1__LedgerEvent *e)
{
	uint8_t buf[1024];
	char key[128], err[256];
	size_t len;

	e->tenant = "bench";
	e->customer_id = (char *)customer;
	len = dunning__v1__ledger_event__pack(e, buf);
	kafka_key_format(key, sizeof(key), "bench", customer);
	if (kafka_producer_send(
		    producer, config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS"),
		    key, strlen(key), buf, len, NULL, err, sizeof(err))) {
		fprintf(stderr, "worker_load: %s\n", err);
		exit(1);
	}
}

static void customers(long n)
{
	Dunning__V1__CustomerUpserted c = DUNNING__V1__CUSTOMER_UPSERTED__INIT;
	Dunning__V1__LedgerEvent e = DUNNING__V1__LEDGER_EVENT__INIT;
	char id[32], event[48];
	long i;

	c.name = "Ana Ruiz";
	c.phone_e164 = "+34600123456";
	c.locale = "es-ES";
	c.time_zone = "Europe/Madrid";
	c.opt_in = DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN;
	c.version = 1;
	e.body_case = DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED;
	e.customer_upserted = &c;
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "c%ld", i);
		snprintf(event, sizeof(event), "cust/%ld", i);
		e.event_id = event;
		produce(id, &e);
	}
}

static void invoices(long count, long n_customers)
{
	Dunning__V1__InvoiceUpserted u = DUNNING__V1__INVOICE_UPSERTED__INIT;
	Dunning__V1__LedgerEvent e = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__Money amount = DUNNING__V1__MONEY__INIT;
	Dunning__V1__Date due = DUNNING__V1__DATE__INIT;
	char id[32], customer[32], event[48];
	long i;

	amount.currency = "EUR";
	due.year = 2026;
	due.month = 3;
	due.day = 20;
	u.kind = DUNNING__V1__DOCUMENT_KIND__DOCUMENT_KIND_INVOICE;
	u.due_date = &due;
	u.due_date_source =
		DUNNING__V1__DUE_DATE_SOURCE__DUE_DATE_SOURCE_EXPLICIT;
	u.amount = &amount;
	u.version = 1;
	e.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED;
	e.invoice_upserted = &u;
	for (i = 0; i < count; i++) {
		snprintf(id, sizeof(id), "F%07ld", i);
		snprintf(customer, sizeof(customer), "c%ld", i % n_customers);
		snprintf(event, sizeof(event), "inv/%ld", i);
		amount.minor_units = 10000 + i % 90000;
		u.invoice_id = id;
		e.event_id = event;
		produce(customer, &e);
	}
}

/* One command as Redis protocol. */
static void resp(int argc, const char *const *argv)
{
	int i;

	printf("*%d\r\n", argc);
	for (i = 0; i < argc; i++)
		printf("$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

static void seed(long count, int partitions, const char *due_ms)
{
	char key[64], field[32], member[64], queue[32];
	char customer[24], invoice[24];
	long i;

	for (i = 0; i < count; i++) {
		int p = (int)(i % partitions);
		const char *hset[] = {
			"HSET", key,
			"cv",	"1",
			"nm",	"Ana Ruiz",
			"ph",	"+34600123456",
			"lc",	"es-ES",
			"tz",	"Europe/Madrid",
			"oi",	"1",
			field,	"o|1|1|20260309|50000|EUR|0|0|0|",
		};
		const char *zadd[] = { "ZADD", queue, due_ms, member };

		snprintf(customer, sizeof(customer), "s%ld", i);
		snprintf(invoice, sizeof(invoice), "S%07ld", i);
		shard_customer_key(key, sizeof(key), p, "bench", customer);
		shard_invoice_field(field, sizeof(field), invoice);
		shard_key(queue, sizeof(queue), p, "q");
		snprintf(member, sizeof(member), "bench/%s\x1f%s", customer,
			 invoice);
		resp(sizeof(hset) / sizeof(*hset), hset);
		resp(4, zadd);
	}
}

int main(int argc, char **argv)
{
	const struct config_key *const tables[] = { config_common_keys, NULL };
	char err[256];

	if (argc >= 5 && strcmp(argv[1], "seed") == 0) {
		seed(strtol(argv[2], NULL, 10), (int)strtol(argv[3], NULL, 10),
		     argv[4]);
		return 0;
	}
	cfg = config_load(tables, err, sizeof(err));
	producer = cfg ? kafka_producer_new(cfg, "worker-bench", NULL, err,
					    sizeof(err))
		       : NULL;
	if (!producer) {
		fprintf(stderr, "worker_load: %s\n", err);
		return 1;
	}
	if (argc >= 3 && strcmp(argv[1], "customers") == 0)
		customers(strtol(argv[2], NULL, 10));
	else if (argc >= 4 && strcmp(argv[1], "invoices") == 0)
		invoices(strtol(argv[2], NULL, 10), strtol(argv[3], NULL, 10));
	else {
		fprintf(stderr,
			"usage: worker_load customers N | invoices "
			"COUNT CUSTOMERS | seed COUNT PARTITIONS DUE_MS\n");
		return 2;
	}
	if (kafka_producer_flush(producer, 60000)) {
		fprintf(stderr, "worker_load: not every event acknowledged\n");
		return 1;
	}
	kafka_producer_free(producer);
	config_free(cfg);
	return 0;
}
