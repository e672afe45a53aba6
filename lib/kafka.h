/* kafka.h: the product's Kafka producer and consumer. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thin wrappers over librdkafka that fix the product's invariants in one
 * place:
 *
 * - producers are idempotent, use the murmur2_random partitioner (the Java
 *   clients' default, so other producers of the same keys agree), and count
 *   every delivery report; kafka_producer_flush waits for all of them;
 * - consumers use the range assignor (co-partitioned topics go to the same
 *   member), never store an offset by themselves: the caller stores a
 *   message's offset after the state derived from it is durable, and stored
 *   offsets are committed periodically and before a partition is revoked;
 * - consumer lag per partition, from librdkafka statistics, is published
 *   into a metrics registry as dunning_consumer_lag{topic,partition}; a
 *   partition this member gave up reads 0, so lags summed over the members
 *   count each partition once.
 *
 * Messages are librdkafka's rd_kafka_message_t, borrowed by the caller
 * until kafka_message_free.
 */
#ifndef DUNNING_KAFKA_H
#define DUNNING_KAFKA_H

#include <stddef.h>
#include <stdint.h>

typedef struct rd_kafka_message_s rd_kafka_message_t;

struct config;
struct metrics;
struct kafka_producer;
struct kafka_consumer;

/* Message keys: "tenant/customer_id". Returns DN_ERR_TOO_LARGE if it does
 * not fit in buf. */
int kafka_key_format(char *buf, size_t len, const char *tenant,
		     const char *customer_id);

/* ---------------------------------------------------------------------- */
/* Producer                                                                */

/*
 * Called once per message from kafka_producer_send, _poll, _flush or
 * _free (always on the caller's thread) with the opaque given to
 * kafka_producer_send and the delivery result: err 0 when acknowledged,
 * else DN_ERR_KAFKA and errstr (borrowed for the call).
 */
typedef void (*kafka_delivery_fn)(void *ctx, void *opaque, int err,
				  const char *errstr);

/*
 * Connects to DUNNING_KAFKA_BROKERS as client_id. extra is a NULL-ended
 * list of librdkafka "name", "value" pairs that override the defaults (may
 * be NULL). Returns NULL with the reason in err.
 */
struct kafka_producer *kafka_producer_new(const struct config *cfg,
					  const char *client_id,
					  const char *const *extra, char *err,
					  size_t errlen);

/* Flushes for up to 10 s, then frees. Accepts NULL. */
void kafka_producer_free(struct kafka_producer *p);

/* Sets the delivery callback (NULL for counting only). */
void kafka_producer_on_delivery(struct kafka_producer *p, kafka_delivery_fn fn,
				void *ctx);

/*
 * Queues a copy of payload for topic under key; waits while the local queue
 * is full. Returns 0, or DN_ERR_KAFKA with the reason in err.
 */
int kafka_producer_send(struct kafka_producer *p, const char *topic,
			const void *key, size_t key_len, const void *payload,
			size_t len, void *opaque, char *err, size_t errlen);

/* Serves delivery reports for up to timeout_ms. */
void kafka_producer_poll(struct kafka_producer *p, int timeout_ms);

/*
 * Waits up to timeout_ms until every queued message has its delivery
 * report. Returns 0 when all are in, DN_ERR_TIMEOUT otherwise.
 */
int kafka_producer_flush(struct kafka_producer *p, int timeout_ms);

/* Messages acknowledged and failed since the producer was created. */
uint64_t kafka_producer_delivered(const struct kafka_producer *p);
uint64_t kafka_producer_failed(const struct kafka_producer *p);

/*
 * Wraps msg in a DeadLetter with reason and component and produces it to
 * DUNNING_TOPIC_DEADLETTER under the original key. Returns 0 or an error.
 */
int kafka_dead_letter(struct kafka_producer *p, const struct config *cfg,
		      const rd_kafka_message_t *msg, const char *component,
		      const char *reason);

/* ---------------------------------------------------------------------- */
/* Consumer                                                                */

struct kafka_partition {
	const char *topic;
	int32_t partition;
};

/*
 * Rebalance hooks, called on the thread that calls kafka_consumer_poll (or
 * kafka_consumer_free), with every partition concerned; parts is borrowed
 * for the call. assigned runs once the partitions are assigned, before any
 * of their messages is returned. revoked runs while the partitions are
 * still owned: the caller finishes all work on them and stores the offsets
 * of what is durable (kafka_consumer_store) before returning; those offsets
 * are then committed, and only then are the partitions given up. When the
 * partitions were lost instead (session timeout) nothing is committed, as
 * another member may own them already. Either hook may be NULL.
 */
struct kafka_rebalance_hooks {
	void (*assigned)(void *ctx, const struct kafka_partition *parts,
			 size_t count);
	void (*revoked)(void *ctx, const struct kafka_partition *parts,
			size_t count);
	void *ctx;
};

/*
 * Joins consumer group group_id and subscribes to the count topics.
 * hooks and metrics may be NULL; both are borrowed for the consumer's life.
 */
struct kafka_consumer *
kafka_consumer_new(const struct config *cfg, const char *group_id,
		   const char *const *topics, size_t count,
		   const struct kafka_rebalance_hooks *hooks,
		   struct metrics *metrics, const char *const *extra, char *err,
		   size_t errlen);

/* Commits stored offsets, leaves the group and frees. Accepts NULL. */
void kafka_consumer_free(struct kafka_consumer *c);

/*
 * Returns the next message within timeout_ms, or NULL when there is none
 * (or only an error event, which is logged). The caller frees it with
 * kafka_message_free.
 */
rd_kafka_message_t *kafka_consumer_poll(struct kafka_consumer *c,
					int timeout_ms);

/*
 * Marks msg as processed: the offset after it will be committed. Call it on
 * the polling thread once the state derived from msg is durable, while its
 * partition is still assigned (from the revoked hook at the latest); an
 * offset of a partition already given up is not stored, and is logged.
 */
void kafka_consumer_store(struct kafka_consumer *c,
			  const rd_kafka_message_t *msg);

/* Commits stored offsets now and waits for the answer. Returns 0, also
 * when nothing was stored since the last commit, or DN_ERR_KAFKA. */
int kafka_consumer_commit(struct kafka_consumer *c);

/*
 * The backlog of one partition of the group: *from is the offset the group
 * resumes at (its committed offset, or the partition's first offset when
 * none is committed or the committed one is gone) and *end the offset the
 * next message written will get. Everything written before the call lies in [*from, *end). Asks the
 * broker, waiting up to timeout_ms; may be called from any thread. Returns
 * 0, or DN_ERR_KAFKA with the reason in err.
 */
int kafka_consumer_backlog(struct kafka_consumer *c, const char *topic,
			   int32_t partition, int timeout_ms, int64_t *from,
			   int64_t *end, char *err, size_t errlen);

/* Frees a message from kafka_consumer_poll; accepts NULL. */
void kafka_message_free(rd_kafka_message_t *msg);

/* Accessors, so callers need not include rdkafka.h. */
const void *kafka_message_payload(const rd_kafka_message_t *msg, size_t *len);
const void *kafka_message_key(const rd_kafka_message_t *msg, size_t *len);
const char *kafka_message_topic(const rd_kafka_message_t *msg);
int32_t kafka_message_partition(const rd_kafka_message_t *msg);
int64_t kafka_message_offset(const rd_kafka_message_t *msg);

#endif
