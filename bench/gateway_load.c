/* gateway_load.c: queues send commands on whatsapp.send for bench/gateway.sh. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Usage: gateway_load COUNT PREFIX
 *
 * Produces COUNT template commands with ids PREFIX/<n>, each to its own
 * recipient (so the pair limit never applies), through lib/kafka.h with
 * the stack's environment, and waits until Kafka has acknowledged them.
 * Compiled by bench/gateway.sh against the release libdunning.a.
 */
#include "clock.h"
#include "config.h"
#include "kafka.h"

#include "dunning/v1/whatsapp.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int produce_one(struct kafka_producer *p, const char *topic,
		       const char *prefix, long n)
{
	static const char *const texts[] = { "Ana Puig", "F-2027-001",
					     "1.234,56 €", "5/1/2027",
					     "https://pay.example/F" };
	Dunning__V1__SendCommand cmd = DUNNING__V1__SEND_COMMAND__INIT;
	Dunning__V1__TemplateParameter params[5], *list[5];
	char id[128], customer[64], phone[32], key[128], err[256];
	uint8_t buf[2048];
	size_t i, len;

	for (i = 0; i < 5; i++) {
		dunning__v1__template_parameter__init(&params[i]);
		params[i].text = (char *)texts[i];
		list[i] = &params[i];
	}
	snprintf(id, sizeof(id), "%s/%ld", prefix, n);
	snprintf(customer, sizeof(customer), "C%ld", n);
	snprintf(phone, sizeof(phone), "+3471%07ld", n);
	cmd.command_id = id;
	cmd.tenant = "bench";
	cmd.customer_id = customer;
	cmd.step = "due";
	cmd.phone_e164 = phone;
	cmd.kind = DUNNING__V1__SEND_KIND__SEND_KIND_TEMPLATE;
	cmd.template_name = "payment_due";
	cmd.language = "es";
	cmd.parameters = list;
	cmd.n_parameters = 5;
	cmd.created_at_ms = clock_now_ms();
	len = dunning__v1__send_command__pack(&cmd, buf);
	kafka_key_format(key, sizeof(key), cmd.tenant, cmd.customer_id);
	if (kafka_producer_send(p, topic, key, strlen(key), buf, len, NULL, err,
				sizeof(err))) {
		fprintf(stderr, "gateway_load: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct config_key *const tables[] = { config_common_keys, NULL };
	struct kafka_producer *p;
	struct config *cfg;
	char err[512];
	long count, n;
	int rc = 0;

	if (argc != 3 || (count = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: gateway_load COUNT PREFIX\n");
		return 2;
	}
	cfg = config_load(tables, err, sizeof(err));
	if (!cfg || !(p = kafka_producer_new(cfg, "gateway-load", NULL, err,
					     sizeof(err)))) {
		fprintf(stderr, "gateway_load: %s\n", err);
		return 1;
	}
	for (n = 0; n < count && rc == 0; n++)
		rc = produce_one(p,
				 config_str(cfg, "DUNNING_TOPIC_WHATSAPP_SEND"),
				 argv[2], n);
	if (kafka_producer_flush(p, 60000) ||
	    kafka_producer_delivered(p) != (uint64_t)count)
		rc = -1;
	kafka_producer_free(p);
	config_free(cfg);
	return rc ? 1 : 0;
}
