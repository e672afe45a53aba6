/* kafka.c: producer and consumer wrappers over librdkafka. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kafka.h"

#include "clock.h"
#include "config.h"
#include "error.h"
#include "logger.h"
#include "metrics.h"

#include "dunning/v1/deadletter.pb-c.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kafka_producer {
	rd_kafka_t *rk;
	kafka_delivery_fn on_delivery;
	void *ctx;
	_Atomic uint64_t delivered;
	_Atomic uint64_t failed;
};

struct kafka_consumer {
	rd_kafka_t *rk;
	struct kafka_rebalance_hooks hooks;
	struct metrics *metrics;
};

int kafka_key_format(char *buf, size_t len, const char *tenant,
		     const char *customer_id)
{
	int n = snprintf(buf, len, "%s/%s", tenant, customer_id);

	return n < 0 || (size_t)n >= len ? DN_ERR_TOO_LARGE : DN_OK;
}

/* librdkafka's own log lines, on its threads, go to our logger. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf)
{
	(void)rk;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	logger_write((enum log_level)level, "KAFKA", "librdkafka %s: %s", fac,
		     buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
		    char *err, size_t errlen)
{
	char why[256];

	if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK)
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "kafka setting %s=\"%s\": %s", name, value, why);
	return DN_OK;
}

/* Applies name/value pairs; the list may be NULL. */
static int conf_apply(rd_kafka_conf_t *conf, const char *const *pairs,
		      char *err, size_t errlen)
{
	int rc;

	for (; pairs && pairs[0] && pairs[1]; pairs += 2)
		if ((rc = conf_set(conf, pairs[0], pairs[1], err, errlen)))
			return rc;
	return DN_OK;
}

static rd_kafka_conf_t *conf_common(const struct config *cfg,
				    const char *client_id, char *err,
				    size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* clang-format off */
	const char *const pairs[] = {
		"bootstrap.servers", config_str(cfg, "DUNNING_KAFKA_BROKERS"),
		"client.id", client_id,
		"log.connection.close", "false",
		NULL, NULL,
	};
	/* clang-format on */

	rd_kafka_conf_set_log_cb(conf, on_log);
	if (conf_apply(conf, pairs, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

/* ---------------------------------------------------------------------- */
/* Producer                                                                */

/* Runs on the thread calling rd_kafka_poll/flush. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
			void *opaque)
{
	struct kafka_producer *p = opaque;

	(void)rk;
	if (msg->err) {
		atomic_fetch_add(&p->failed, 1);
		log_warn("KAFKA", "delivery failed topic=%s error=\"%s\"",
			 rd_kafka_topic_name(msg->rkt),
			 rd_kafka_err2str(msg->err));
	} else {
		atomic_fetch_add(&p->delivered, 1);
	}
	if (p->on_delivery)
		p->on_delivery(p->ctx, msg->_private,
			       msg->err ? DN_ERR_KAFKA : DN_OK,
			       msg->err ? rd_kafka_err2str(msg->err) : NULL);
}

struct kafka_producer *kafka_producer_new(const struct config *cfg,
					  const char *client_id,
					  const char *const *extra, char *err,
					  size_t errlen)
{
	/* clang-format off */
	static const char *const defaults[] = {
		"enable.idempotence", "true",
		"acks", "all",
		"partitioner", "murmur2_random",
		"linger.ms", "5",
		"queue.buffering.max.messages", "1000000",
		"message.timeout.ms", "60000",
		NULL, NULL,
	};
	/* clang-format on */
	struct kafka_producer *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *conf;
	char why[512];

	if (!p) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	conf = conf_common(cfg, client_id, err, errlen);
	if (!conf || conf_apply(conf, defaults, err, errlen) ||
	    conf_apply(conf, extra, err, errlen))
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, p);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (!p->rk) {
		dn_fail(DN_ERR_KAFKA, err, errlen,
			"cannot create kafka producer: %s", why);
		goto fail;
	}
	return p;

fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	free(p);
	return NULL;
}

void kafka_producer_free(struct kafka_producer *p)
{
	if (!p)
		return;
	if (rd_kafka_flush(p->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn("KAFKA",
			 "producer closed with %d messages undelivered",
			 rd_kafka_outq_len(p->rk));
	rd_kafka_destroy(p->rk);
	free(p);
}

void kafka_producer_on_delivery(struct kafka_producer *p, kafka_delivery_fn fn,
				void *ctx)
{
	p->on_delivery = fn;
	p->ctx = ctx;
}

int kafka_producer_send(struct kafka_producer *p, const char *topic,
			const void *key, size_t key_len, const void *payload,
			size_t len, void *opaque, char *err, size_t errlen)
{
	rd_kafka_resp_err_t rc;

	for (;;) {
		rc = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
				       RD_KAFKA_V_KEY((void *)key, key_len),
				       RD_KAFKA_V_VALUE((void *)payload, len),
				       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				       RD_KAFKA_V_OPAQUE(opaque),
				       RD_KAFKA_V_END);
		if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		/* Back-pressure: serve delivery reports until there is room. */
		rd_kafka_poll(p->rk, 100);
	}
	if (rc)
		return dn_fail(DN_ERR_KAFKA, err, errlen,
			       "cannot produce to %s: %s", topic,
			       rd_kafka_err2str(rc));
	rd_kafka_poll(p->rk, 0);
	return DN_OK;
}

void kafka_producer_poll(struct kafka_producer *p, int timeout_ms)
{
	rd_kafka_poll(p->rk, timeout_ms);
}

int kafka_producer_flush(struct kafka_producer *p, int timeout_ms)
{
	if (rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return DN_ERR_TIMEOUT;
	return DN_OK;
}

uint64_t kafka_producer_delivered(const struct kafka_producer *p)
{
	return atomic_load(&((struct kafka_producer *)p)->delivered);
}

uint64_t kafka_producer_failed(const struct kafka_producer *p)
{
	return atomic_load(&((struct kafka_producer *)p)->failed);
}

int kafka_dead_letter(struct kafka_producer *p, const struct config *cfg,
		      const rd_kafka_message_t *msg, const char *component,
		      const char *reason)
{
	Dunning__V1__DeadLetter letter = DUNNING__V1__DEAD_LETTER__INIT;
	char err[256];
	uint8_t *buf;
	size_t len;
	int rc;

	letter.source_topic = (char *)rd_kafka_topic_name(msg->rkt);
	letter.source_partition = msg->partition;
	letter.source_offset = msg->offset;
	letter.key.data = msg->key;
	letter.key.len = msg->key_len;
	letter.payload.data = msg->payload;
	letter.payload.len = msg->len;
	letter.reason = (char *)reason;
	letter.component = (char *)component;
	letter.failed_at_ms = clock_now_ms();

	len = dunning__v1__dead_letter__get_packed_size(&letter);
	buf = malloc(len ? len : 1);
	if (!buf)
		return DN_ERR_NOMEM;
	dunning__v1__dead_letter__pack(&letter, buf);
	rc = kafka_producer_send(p, config_str(cfg, "DUNNING_TOPIC_DEADLETTER"),
				 msg->key, msg->key_len, buf, len, NULL, err,
				 sizeof(err));
	free(buf);
	if (rc)
		log_error("KAFKA", "cannot dead-letter %s[%d]@%lld: %s",
			  letter.source_topic, (int)msg->partition,
			  (long long)msg->offset, err);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Consumer                                                                */

/* Every partition of list, in an array the caller frees; count in *n. A
 * hook told of fewer partitions than there are would leave work behind. */
static struct kafka_partition *
partitions_copy(const rd_kafka_topic_partition_list_t *list, size_t *n)
{
	struct kafka_partition *out;
	size_t i;

	*n = 0;
	out = calloc((size_t)list->cnt + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < (size_t)list->cnt; i++) {
		out[i].topic = list->elems[i].topic;
		out[i].partition = list->elems[i].partition;
	}
	*n = (size_t)list->cnt;
	return out;
}

static void lag_set(struct metrics *m, const char *topic, const char *partition,
		    int64_t lag)
{
	char labels[512];

	snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%s\"", topic,
		 partition);
	metrics_set(m, "dunning_consumer_lag",
		    "messages behind the end of the partition", labels, lag);
}

static void lag_from_partition(struct metrics *m, const char *topic,
			       const char *partition, json_t *stats)
{
	json_t *lag = json_object_get(stats, "consumer_lag");

	if (strcmp(partition, "-1") == 0 || !json_is_integer(lag) ||
	    json_integer_value(lag) < 0)
		return;
	lag_set(m, topic, partition, json_integer_value(lag));
}

/* A partition given up is no longer behind here: its last lag, left in
 * place, would be counted again with its new owner's and keep asking for
 * more workers. */
static void lag_forget(struct metrics *m, const struct kafka_partition *parts,
		       size_t count)
{
	char partition[16];
	size_t i;

	for (i = 0; m && i < count; i++) {
		snprintf(partition, sizeof(partition), "%d",
			 (int)parts[i].partition);
		lag_set(m, parts[i].topic, partition, 0);
	}
}

/* Commits what the revoked hook stored. Lost partitions (session timed
 * out) may already belong to another member: their commit would be
 * refused, so it is not tried. */
static void commit_before_revoke(rd_kafka_t *rk)
{
	rd_kafka_resp_err_t rc;

	if (rd_kafka_assignment_lost(rk)) {
		log_warn("KAFKA", "partitions lost; their next owner repeats "
				  "work since the last commit");
		return;
	}
	rc = rd_kafka_commit(rk, NULL, 0);
	if (rc && rc != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("KAFKA",
			 "cannot commit before giving partitions up: %s; "
			 "their next owner repeats that work",
			 rd_kafka_err2str(rc));
}

/* Runs on the thread calling kafka_consumer_poll. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *list, void *opaque)
{
	struct kafka_consumer *c = opaque;
	struct kafka_partition *parts;
	size_t n;

	parts = partitions_copy(list, &n);
	if (!parts)
		log_error("KAFKA",
			  "out of memory: rebalance hooks not told of "
			  "%d partitions",
			  list->cnt);

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		log_info("KAFKA", "partitions assigned count=%zu", n);
		rd_kafka_assign(rk, list);
		if (c->hooks.assigned)
			c->hooks.assigned(c->hooks.ctx, parts, n);
		free(parts);
		return;
	}

	/* Revoked or lost: the hook finishes the work and stores its
	 * offsets, then they are committed before the partitions go. */
	log_info("KAFKA", "partitions revoked count=%zu", n);
	if (c->hooks.revoked)
		c->hooks.revoked(c->hooks.ctx, parts, n);
	lag_forget(c->metrics, parts, n);
	free(parts);
	if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
		commit_before_revoke(rk);
	rd_kafka_assign(rk, NULL);
}

/* Every statistics.interval.ms; librdkafka queues it for the thread that
 * calls kafka_consumer_poll, as the consumer's queue is its main queue. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct kafka_consumer *c = opaque;
	const char *topic, *partition;
	json_t *root, *topics, *t, *p;

	(void)rk;
	if (!c->metrics)
		return 0;
	root = json_loadb(json, len, 0, NULL);
	if (!root)
		return 0;
	topics = json_object_get(root, "topics");
	json_object_foreach(topics, topic, t)
	{
		json_object_foreach(json_object_get(t, "partitions"), partition,
				    p)
			lag_from_partition(c->metrics, topic, partition, p);
	}
	json_decref(root);
	return 0; /* librdkafka frees json */
}

static int consumer_subscribe(struct kafka_consumer *c,
			      const char *const *topics, size_t count,
			      char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t rc;
	size_t i;

	list = rd_kafka_topic_partition_list_new((int)count);
	for (i = 0; i < count; i++)
		rd_kafka_topic_partition_list_add(list, topics[i],
						  RD_KAFKA_PARTITION_UA);
	rc = rd_kafka_subscribe(c->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (rc)
		return dn_fail(DN_ERR_KAFKA, err, errlen,
			       "cannot subscribe: %s", rd_kafka_err2str(rc));
	return DN_OK;
}

struct kafka_consumer *
kafka_consumer_new(const struct config *cfg, const char *group_id,
		   const char *const *topics, size_t count,
		   const struct kafka_rebalance_hooks *hooks,
		   struct metrics *metrics, const char *const *extra, char *err,
		   size_t errlen)
{
	/* clang-format off */
	const char *const defaults[] = {
		"group.id", group_id,
		"partition.assignment.strategy", "range",
		"enable.auto.commit", "true",
		"auto.commit.interval.ms", "1000",
		"enable.auto.offset.store", "false",
		"auto.offset.reset", "earliest",
		"statistics.interval.ms", metrics ? "5000" : "0",
		"session.timeout.ms", "10000",
		"heartbeat.interval.ms", "1000",
		NULL, NULL,
	};
	/* clang-format on */
	struct kafka_consumer *c = calloc(1, sizeof(*c));
	rd_kafka_conf_t *conf;
	char why[512];

	if (!c) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	if (hooks)
		c->hooks = *hooks;
	c->metrics = metrics;
	conf = conf_common(cfg, group_id, err, errlen);
	if (!conf || conf_apply(conf, defaults, err, errlen) ||
	    conf_apply(conf, extra, err, errlen))
		goto fail;
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_stats_cb(conf, on_stats);
	rd_kafka_conf_set_opaque(conf, c);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (!c->rk) {
		dn_fail(DN_ERR_KAFKA, err, errlen,
			"cannot create kafka consumer: %s", why);
		goto fail;
	}
	conf = NULL; /* owned by rk now */
	rd_kafka_poll_set_consumer(c->rk);
	if (consumer_subscribe(c, topics, count, err, errlen)) {
		rd_kafka_destroy(c->rk);
		goto fail;
	}
	return c;

fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	free(c);
	return NULL;
}

void kafka_consumer_free(struct kafka_consumer *c)
{
	if (!c)
		return;
	rd_kafka_consumer_close(c->rk);
	rd_kafka_destroy(c->rk);
	free(c);
}

rd_kafka_message_t *kafka_consumer_poll(struct kafka_consumer *c,
					int timeout_ms)
{
	rd_kafka_message_t *msg = rd_kafka_consumer_poll(c->rk, timeout_ms);

	if (!msg)
		return NULL;
	if (msg->err) {
		if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			log_warn("KAFKA", "consumer error: %s",
				 rd_kafka_message_errstr(msg));
		rd_kafka_message_destroy(msg);
		return NULL;
	}
	return msg;
}

void kafka_consumer_store(struct kafka_consumer *c,
			  const rd_kafka_message_t *msg)
{
	rd_kafka_resp_err_t rc;

	(void)c;
	/* Stores offset + 1, the next message to read. */
	rc = rd_kafka_offset_store(msg->rkt, msg->partition, msg->offset);
	if (rc)
		log_warn("KAFKA",
			 "offset not stored topic=%s partition=%d offset=%lld: "
			 "%s; the partition's next owner repeats it",
			 rd_kafka_topic_name(msg->rkt), (int)msg->partition,
			 (long long)msg->offset, rd_kafka_err2str(rc));
}

int kafka_consumer_commit(struct kafka_consumer *c)
{
	rd_kafka_resp_err_t rc = rd_kafka_commit(c->rk, NULL, 0);

	if (rc && rc != RD_KAFKA_RESP_ERR__NO_OFFSET)
		return DN_ERR_KAFKA;
	return DN_OK;
}

int kafka_consumer_backlog(struct kafka_consumer *c, const char *topic,
			   int32_t partition, int timeout_ms, int64_t *from,
			   int64_t *end, char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *list =
		rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_t *tp =
		rd_kafka_topic_partition_list_add(list, topic, partition);
	rd_kafka_resp_err_t rc;
	int64_t committed, low = 0, high = 0;

	/* Without a commit, the offset is RD_KAFKA_OFFSET_INVALID (< 0). */
	rc = rd_kafka_committed(c->rk, list, timeout_ms);
	if (!rc)
		rc = tp->err;
	committed = tp->offset;
	rd_kafka_topic_partition_list_destroy(list);
	if (!rc)
		rc = rd_kafka_query_watermark_offsets(c->rk, topic, partition,
						      &low, &high, timeout_ms);
	if (rc) {
		snprintf(err, errlen,
			 "backlog of topic=%s partition=%d unknown: %s", topic,
			 (int)partition, rd_kafka_err2str(rc));
		return DN_ERR_KAFKA;
	}
	/* Where the group resumes; messages before low are gone. */
	*from = committed > low ? committed : low;
	*end = high;
	return DN_OK;
}

void kafka_message_free(rd_kafka_message_t *msg)
{
	if (msg)
		rd_kafka_message_destroy(msg);
}

const void *kafka_message_payload(const rd_kafka_message_t *msg, size_t *len)
{
	*len = msg->len;
	return msg->payload;
}

const void *kafka_message_key(const rd_kafka_message_t *msg, size_t *len)
{
	*len = msg->key_len;
	return msg->key;
}

const char *kafka_message_topic(const rd_kafka_message_t *msg)
{
	return rd_kafka_topic_name(msg->rkt);
}

int32_t kafka_message_partition(const rd_kafka_message_t *msg)
{
	return msg->partition;
}

int64_t kafka_message_offset(const rd_kafka_message_t *msg)
{
	return msg->offset;
}
