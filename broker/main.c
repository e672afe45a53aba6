/* main.c: dunning-broker, a local Kafka broker on librdkafka's mock cluster. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * For tests, the demo and trying the product: it creates the product's
 * topics with DUNNING_KAFKA_PARTITIONS partitions each, prints
 * "bootstrap=HOST:PORT,..." on standard output and serves Kafka protocol
 * over TCP on loopback until SIGTERM or SIGINT. Everything is kept in
 * memory; like a broker with short retention it drops the oldest messages
 * of a partition past about 100,000 messages.
 */
#include "config.h"
#include "logger.h"
#include "shutdown.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct config_key broker_keys[] = {
	{ "DUNNING_BROKER_COUNT", CONFIG_INT, "1", 1, 9, NULL, false, false,
	  "local broker: number of mock brokers" },
	CONFIG_KEY_END,
};

static const char *const topic_keys[] = {
	"DUNNING_TOPIC_INVOICE_EVENTS",	 "DUNNING_TOPIC_WHATSAPP_SEND",
	"DUNNING_TOPIC_WHATSAPP_EVENTS", "DUNNING_TOPIC_COLLECTIONS_TASKS",
	"DUNNING_TOPIC_DEADLETTER",
};

static int create_topics(rd_kafka_mock_cluster_t *cluster,
			 const struct config *cfg)
{
	int partitions = (int)config_int(cfg, "DUNNING_KAFKA_PARTITIONS");
	size_t i;

	for (i = 0; i < sizeof(topic_keys) / sizeof(*topic_keys); i++) {
		const char *topic = config_str(cfg, topic_keys[i]);
		rd_kafka_resp_err_t rc;

		rc = rd_kafka_mock_topic_create(cluster, topic, partitions, 1);
		if (rc) {
			log_error("KAFKA", "cannot create topic %s: %s", topic,
				  rd_kafka_err2str(rc));
			return -1;
		}
		log_info("KAFKA", "topic created topic=%s partitions=%d", topic,
			 partitions);
	}
	return 0;
}

/* The mock cluster's client logs, on librdkafka's threads, through ours. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf)
{
	(void)rk;
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	if (logger_enabled((enum log_level)level))
		logger_write((enum log_level)level, "KAFKA",
			     "librdkafka %s: %s", fac, buf);
}

int main(int argc, char **argv)
{
	const struct config_key *const tables[] = { config_common_keys,
						    broker_keys, NULL };
	static const char about[] = "A local Kafka broker (librdkafka's mock "
				    "cluster) for demos and "
				    "tests; prints bootstrap=HOST:PORT.";
	int args;
	struct timespec tick = { 0, 100 * 1000000L };
	rd_kafka_mock_cluster_t *cluster = NULL;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct config *cfg;
	rd_kafka_t *rk;
	char err[512];
	int status = 1;

	if ((args = config_args(argc, argv, tables, about, stdout, stderr)) >=
	    0) {
		rd_kafka_conf_destroy(conf);
		return args;
	}
	logger_init("broker", LOG_LEVEL_INFO);
	cfg = config_load(tables, err, sizeof(err));
	if (!cfg) {
		log_error("CONF", "%s", err);
		rd_kafka_conf_destroy(conf);
		return 2;
	}
	logger_init("broker", (enum log_level)logger_level_parse(
				      config_str(cfg, "DUNNING_LOG_LEVEL")));
	shutdown_install();

	/* The mock cluster lives inside a client handle it is attached to. */
	rd_kafka_conf_set_log_cb(conf, on_log);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		log_error("KAFKA", "cannot create client: %s", err);
		rd_kafka_conf_destroy(conf);
		goto out;
	}
	cluster = rd_kafka_mock_cluster_new(
		rk, (int)config_int(cfg, "DUNNING_BROKER_COUNT"));
	if (!cluster) {
		log_error("KAFKA", "cannot start the mock cluster");
		goto out;
	}
	if (create_topics(cluster, cfg))
		goto out;

	printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
	fflush(stdout);
	while (!shutdown_requested())
		nanosleep(&tick, NULL);
	log_info("KAFKA", "local broker stopping");
	status = 0;

out:
	if (cluster)
		rd_kafka_mock_cluster_destroy(cluster);
	if (rk)
		rd_kafka_destroy(rk);
	config_free(cfg);
	return status;
}
